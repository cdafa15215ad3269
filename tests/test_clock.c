/* SPDX-License-Identifier: MIT */
/* Delayed calls on the fake clock (Twisted's task.Clock) and on a reactor. */
#include "helpers.h"

#include <stdlib.h>
#include <string.h>

typedef struct rec {
    char log[64];
    int n;
    coil_clock *clock;
    coil_delayed_call *self;
    int self_cancel_rc;
} rec;

typedef struct tagged {
    rec *r;
    char tag;
} tagged;

static void note(void *arg)
{
    tagged *t = arg;
    t->r->log[t->r->n++] = t->tag;
}

static void order_by_time_then_fifo(void **state)
{
    coil_clock *c = coil_fake_clock_new();
    rec r = {0};
    tagged a = {&r, 'a'}, b = {&r, 'b'}, c1 = {&r, 'c'}, d = {&r, 'd'};
    coil_call_later(c, 2.0, note, &a);
    coil_call_later(c, 1.0, note, &b);
    coil_call_later(c, 1.0, note, &c1); /* same time as b: runs after b */
    coil_call_later(c, 0.5, note, &d);
    assert_int_equal(coil_clock_pending(c), 4);
    coil_fake_clock_advance(c, 0.4);
    assert_int_equal(r.n, 0);
    coil_fake_clock_advance(c, 0.6);
    assert_string_equal(r.log, "dbc");
    coil_fake_clock_advance(c, 1.0);
    assert_string_equal(r.log, "dbca");
    assert_int_equal(coil_clock_pending(c), 0);
    coil_fake_clock_free(c);
}

static void cancel_prevents_call(void **state)
{
    coil_clock *c = coil_fake_clock_new();
    rec r = {0};
    tagged a = {&r, 'a'}, b = {&r, 'b'};
    coil_delayed_call *da = coil_call_later(c, 1.0, note, &a);
    coil_call_later(c, 1.0, note, &b);
    assert_true(coil_delayed_call_active(da));
    assert_int_equal(coil_delayed_call_cancel(da), 0);
    coil_fake_clock_advance(c, 5);
    assert_string_equal(r.log, "b");
    coil_fake_clock_free(c);
}

static void reset_and_delay(void **state)
{
    coil_clock *c = coil_fake_clock_new();
    rec r = {0};
    tagged a = {&r, 'a'}, b = {&r, 'b'};
    coil_delayed_call *da = coil_call_later(c, 1.0, note, &a);
    coil_delayed_call *db = coil_call_later(c, 2.0, note, &b);
    coil_fake_clock_advance(c, 0.5);
    assert_int_equal(coil_delayed_call_reset(da, 3.0), 0); /* now due at 3.5 */
    assert_true(coil_delayed_call_time(da) > 3.49 && coil_delayed_call_time(da) < 3.51);
    assert_int_equal(coil_delayed_call_delay(db, 0.25), 0); /* now due at 2.25 */
    coil_fake_clock_advance(c, 1.7);                       /* t = 2.2 */
    assert_int_equal(r.n, 0);
    coil_fake_clock_advance(c, 0.1); /* 2.3 */
    assert_string_equal(r.log, "b");
    coil_fake_clock_advance(c, 1.0); /* 3.3 */
    assert_string_equal(r.log, "b");
    coil_fake_clock_advance(c, 0.3); /* 3.6 */
    assert_string_equal(r.log, "ba");
    coil_fake_clock_free(c);
}

static void in_own_callback(void *arg)
{
    rec *r = arg;
    assert_false(coil_delayed_call_active(r->self));
    r->self_cancel_rc = coil_delayed_call_cancel(r->self);
    assert_int_equal(coil_delayed_call_reset(r->self, 1), COIL_EALREADYCALLED);
    r->n++;
}

static void cancel_inside_own_callback_is_already_called(void **state)
{
    coil_clock *c = coil_fake_clock_new();
    rec r = {0};
    r.self = coil_call_later(c, 1, in_own_callback, &r);
    coil_fake_clock_advance(c, 1);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.self_cancel_rc, COIL_EALREADYCALLED);
    coil_fake_clock_free(c);
}

static void chain(void *arg)
{
    rec *r = arg;
    r->log[r->n++] = 'x';
    if (r->n < 3)
        coil_call_later(r->clock, 0, chain, r);
}

static void advance_runs_calls_scheduled_by_callbacks(void **state)
{
    coil_clock *c = coil_fake_clock_new();
    rec r = {.clock = c};
    coil_call_later(c, 1, chain, &r);
    coil_fake_clock_advance(c, 1);
    assert_string_equal(r.log, "xxx"); /* as Twisted's Clock.advance */
    double seconds = coil_clock_seconds(c);
    assert_true(seconds > 0.99 && seconds < 1.01);
    coil_fake_clock_free(c);
}

static void count(void *arg)
{
    (*(int *)arg)++;
}

static void pump_and_many_timers(void **state)
{
    coil_clock *c = coil_fake_clock_new();
    enum { N = 10000 };
    int fired = 0;
    coil_delayed_call **calls = malloc(N * sizeof(*calls));
    for (int i = 0; i < N; i++)
        calls[i] = coil_call_later(c, (double)((i * 7919) % N) / 1000.0, count, &fired);
    for (int i = 0; i < N; i += 2)
        assert_int_equal(coil_delayed_call_cancel(calls[i]), 0);
    assert_int_equal(coil_clock_pending(c), N / 2);
    double steps[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    coil_fake_clock_pump(c, steps, 5);
    assert_true(fired > 0 && fired < N / 2);
    coil_fake_clock_pump(c, steps, 10);
    assert_int_equal(fired, N / 2);
    assert_int_equal(coil_clock_pending(c), 0);
    /* Pending calls are freed, not run, with the clock. */
    for (int i = 0; i < 100; i++)
        coil_call_later(c, 1, count, &fired);
    coil_fake_clock_free(c);
    assert_int_equal(fired, N / 2);
    free(calls);
}

static void drop_hook_runs_only_when_the_clock_goes(void **state)
{
    coil_clock *c = coil_fake_clock_new();
    int ran = 0, dropped = 0;
    coil_call_later_full(c, 1, count, &ran, count);         /* runs: no drop */
    coil_delayed_call *x = coil_call_later_full(c, 5, count, &ran, count);
    coil_call_later_full(c, 9, count, &ran, count);         /* pending at free */
    coil_call_later_full(c, 9, count, &dropped, count);     /* pending at free */
    coil_fake_clock_advance(c, 2);
    assert_int_equal(ran, 1);
    assert_int_equal(coil_delayed_call_cancel(x), 0);       /* cancel: no drop */
    assert_int_equal(ran, 1);
    coil_fake_clock_free(c);
    assert_int_equal(ran, 2);     /* the third call's drop hook */
    assert_int_equal(dropped, 1); /* the fourth's */
}

static void reactor_timers_fire_in_order(void **state)
{
    coil_reactor *r = t_reactor();
    int a = 0, b = 0;
    coil_delayed_call *cb = coil_reactor_call_later(r, 0.05, count, &b);
    coil_reactor_call_later(r, 0.01, count, &a);
    coil_delayed_call *never = coil_reactor_call_later(r, 0.02, count, &b);
    coil_delayed_call_cancel(never);
    double start = coil_clock_seconds(coil_reactor_clock(r));
    while (b == 0)
        coil_reactor_iterate(r, 1);
    double took = coil_clock_seconds(coil_reactor_clock(r)) - start;
    assert_int_equal(a, 1);
    assert_int_equal(b, 1);
    assert_true(took >= 0.049);
    (void)cb;
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(order_by_time_then_fifo),
        cmocka_unit_test(cancel_prevents_call),
        cmocka_unit_test(reset_and_delay),
        cmocka_unit_test(cancel_inside_own_callback_is_already_called),
        cmocka_unit_test(advance_runs_calls_scheduled_by_callbacks),
        cmocka_unit_test(pump_and_many_timers),
        cmocka_unit_test(drop_hook_runs_only_when_the_clock_goes),
        cmocka_unit_test(reactor_timers_fire_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
