/* SPDX-License-Identifier: MIT */
/*
 * TimerService on a fake clock: the first call at start, calls aligned to
 * the start time (missed intervals skipped), a Deferred-returning call
 * delaying the next, stop cancelling the loop or waiting for the pending
 * Deferred, a failed Deferred ending the loop with a log line, restart,
 * bad steps, and the reactor's own clock.
 */
#include "helpers.h"

#include <errno.h>
#include <math.h>
#include <string.h>

typedef struct rec {
    int calls;
    double at[16];         /* fake-clock time of each call */
    coil_clock *clock;
    bool defer;            /* return a pending Deferred */
    bool fail;             /* return a failed Deferred */
    coil_deferred *pending; /* our reference to the last pending Deferred */
    coil_service *stop_from_inside;
} rec;

static coil_deferred *tick(void *arg)
{
    rec *r = arg;
    if (r->calls < 16)
        r->at[r->calls] = coil_clock_seconds(r->clock);
    r->calls++;
    if (r->stop_from_inside) {
        coil_deferred_unref(coil_service_stop(r->stop_from_inside));
        return NULL;
    }
    if (r->fail)
        return coil_fail(coil_failure_new("test", -EIO, "tick failed"));
    if (r->defer) {
        coil_deferred *d = coil_deferred_new(NULL, NULL);
        r->pending = coil_deferred_ref(d);
        return d;
    }
    return NULL;
}

typedef struct fixture {
    coil_reactor *r;
    coil_clock *fc;
    coil_timer_service ts;
    rec rec;
} fixture;

static void setup(fixture *f, double step)
{
    memset(f, 0, sizeof(*f));
    f->r = t_reactor();
    f->fc = coil_fake_clock_new();
    f->rec.clock = f->fc;
    coil_timer_service_init(&f->ts, f->r, step, tick, &f->rec);
    assert_ptr_equal(f->ts.clock, coil_reactor_clock(f->r));
    f->ts.clock = f->fc;
}

static void teardown(fixture *f)
{
    coil_timer_service_fini(&f->ts);
    t_teardown(f->r);
    coil_fake_clock_free(f->fc);
}

static void fire_fixed(coil_deferred **d)
{
    coil_deferred_callback(*d, coil_result_none());
    coil_deferred_unref(*d);
    *d = NULL;
}

static void calls_at_start_then_every_step(void **state)
{
    fixture f;
    setup(&f, 10);
    coil_fake_clock_advance(f.fc, 3); /* start at t=3 */
    assert_int_equal(coil_service_start(&f.ts.service), 0);
    assert_int_equal(f.rec.calls, 1);
    assert_true(f.rec.at[0] == 3);
    coil_fake_clock_advance(f.fc, 9.9);
    assert_int_equal(f.rec.calls, 1);
    coil_fake_clock_advance(f.fc, 0.1);
    assert_int_equal(f.rec.calls, 2);
    assert_true(f.rec.at[1] == 13);
    /* A late call (the clock jumped from 13 to 38, as when the loop was
     * busy) runs once; the intervals it missed are skipped and the next
     * call keeps to the start's grid (LoopingCall). */
    coil_fake_clock_advance(f.fc, 25);
    assert_int_equal(f.rec.calls, 3);
    assert_true(f.rec.at[2] == 38);
    coil_fake_clock_advance(f.fc, 4.9);
    assert_int_equal(f.rec.calls, 3);
    coil_fake_clock_advance(f.fc, 0.1);
    assert_int_equal(f.rec.calls, 4);
    assert_true(f.rec.at[3] > 42.99 && f.rec.at[3] < 43.01);
    assert_int_equal(f.ts.calls, 4);
    t_outcome s;
    t_watch(coil_service_stop(&f.ts.service), &s);
    assert_true(s.fired && !s.failed);
    assert_int_equal(coil_clock_pending(f.fc), 0);
    coil_fake_clock_advance(f.fc, 100);
    assert_int_equal(f.rec.calls, 4);
    /* A restart calls at once and aligns to the new start. */
    assert_int_equal(coil_service_start(&f.ts.service), 0);
    assert_int_equal(f.rec.calls, 5);
    assert_true(f.rec.at[4] > 142.99 && f.rec.at[4] < 143.01);
    coil_fake_clock_advance(f.fc, 10);
    assert_int_equal(f.rec.calls, 6);
    t_watch(coil_service_stop(&f.ts.service), &s);
    assert_true(s.fired);
    teardown(&f);
}

static void a_deferred_delays_the_next_call(void **state)
{
    fixture f;
    setup(&f, 10);
    f.rec.defer = true;
    assert_int_equal(coil_service_start(&f.ts.service), 0);
    assert_int_equal(f.rec.calls, 1);
    coil_fake_clock_advance(f.fc, 35);
    assert_int_equal(f.rec.calls, 1); /* still waiting for the first Deferred */
    assert_int_equal(coil_clock_pending(f.fc), 0);
    fire_fixed(&f.rec.pending); /* fires at 35: next at 40, the next multiple of 10 */
    coil_fake_clock_advance(f.fc, 4.9);
    assert_int_equal(f.rec.calls, 1);
    coil_fake_clock_advance(f.fc, 0.1);
    assert_int_equal(f.rec.calls, 2);
    assert_true(f.rec.at[1] == 40);
    /* Fired exactly on a multiple: the next is a full step later. */
    coil_fake_clock_advance(f.fc, 10);
    fire_fixed(&f.rec.pending);
    coil_fake_clock_advance(f.fc, 9.9);
    assert_int_equal(f.rec.calls, 2);
    coil_fake_clock_advance(f.fc, 0.1);
    assert_int_equal(f.rec.calls, 3);
    assert_true(f.rec.at[2] == 60);
    /* An already fired Deferred schedules the next call at once. */
    f.rec.defer = false;
    fire_fixed(&f.rec.pending);
    coil_fake_clock_advance(f.fc, 10);
    assert_int_equal(f.rec.calls, 4);
    t_outcome s;
    t_watch(coil_service_stop(&f.ts.service), &s);
    assert_true(s.fired);
    teardown(&f);
}

static void stop_waits_for_the_pending_deferred(void **state)
{
    fixture f;
    setup(&f, 5);
    f.rec.defer = true;
    assert_int_equal(coil_service_start(&f.ts.service), 0);
    t_outcome s;
    t_watch(coil_service_stop(&f.ts.service), &s);
    assert_false(s.fired);
    assert_false(f.ts.service.running);
    assert_int_equal(coil_service_start(&f.ts.service), -EBUSY); /* last call still pending */
    coil_fake_clock_advance(f.fc, 20);
    assert_false(s.fired);
    fire_fixed(&f.rec.pending);
    assert_true(s.fired && !s.failed);
    coil_fake_clock_advance(f.fc, 20);
    assert_int_equal(f.rec.calls, 1); /* nothing after the stop */
    assert_int_equal(coil_clock_pending(f.fc), 0);
    teardown(&f);
}

static void a_failure_ends_the_loop_and_is_logged(void **state)
{
    fixture f;
    setup(&f, 1);
    t_log_capture();
    assert_int_equal(coil_service_start(&f.ts.service), 0);
    coil_fake_clock_advance(f.fc, 1);
    assert_int_equal(f.rec.calls, 2);
    f.rec.fail = true;
    coil_fake_clock_advance(f.fc, 1);
    assert_int_equal(f.rec.calls, 3);
    assert_int_equal(t_log_count("the periodic call failed"), 1);
    assert_int_equal(t_log_count("tick failed"), 1);
    coil_log_set_handler(NULL, NULL);
    coil_log_set_level(COIL_LOG_WARN);
    coil_fake_clock_advance(f.fc, 10);
    assert_int_equal(f.rec.calls, 3);
    assert_true(f.ts.service.running); /* the service itself still runs */
    t_outcome s;
    t_watch(coil_service_stop(&f.ts.service), &s);
    assert_true(s.fired && !s.failed);
    /* Started again, it calls again. */
    f.rec.fail = false;
    assert_int_equal(coil_service_start(&f.ts.service), 0);
    assert_int_equal(f.rec.calls, 4);
    t_watch(coil_service_stop(&f.ts.service), &s);
    assert_true(s.fired);
    teardown(&f);
}

static void stopping_from_inside_the_call(void **state)
{
    fixture f;
    setup(&f, 2);
    assert_int_equal(coil_service_start(&f.ts.service), 0);
    f.rec.stop_from_inside = &f.ts.service;
    coil_fake_clock_advance(f.fc, 2);
    assert_int_equal(f.rec.calls, 2);
    assert_false(f.ts.service.running);
    coil_fake_clock_advance(f.fc, 20);
    assert_int_equal(f.rec.calls, 2);
    assert_int_equal(coil_clock_pending(f.fc), 0);
    teardown(&f);
}

static void bad_steps_are_refused(void **state)
{
    fixture f;
    setup(&f, -1);
    assert_int_equal(coil_service_start(&f.ts.service), -EINVAL);
    assert_false(f.ts.service.running);
    assert_int_equal(f.rec.calls, 0);
    teardown(&f);
    setup(&f, NAN);
    assert_int_equal(coil_service_start(&f.ts.service), -EINVAL);
    teardown(&f);
    setup(&f, INFINITY);
    assert_int_equal(coil_service_start(&f.ts.service), -EINVAL);
    teardown(&f);
}

static void runs_on_the_reactor_clock(void **state)
{
    coil_reactor *r = t_reactor();
    rec rc = {.clock = coil_reactor_clock(r)};
    coil_timer_service ts;
    coil_timer_service_init(&ts, r, 0.02, tick, &rc);
    /* Under a parent, started with it. */
    coil_service root = {0};
    assert_int_equal(coil_service_add(&root, &ts.service), 0);
    assert_int_equal(coil_service_start(&root), 0);
    assert_int_equal(rc.calls, 1);
    T_RUN_UNTIL(r, rc.calls >= 4, 10);
    for (int i = 1; i < 4; i++) /* never earlier than the schedule */
        assert_true(rc.at[i] - rc.at[0] >= 0.02 * i - 1e-9);
    t_outcome s;
    t_watch(coil_service_stop(&root), &s);
    T_RUN_UNTIL(r, s.fired, 5);
    int calls = rc.calls;
    t_run_for(r, 0.1);
    assert_int_equal(rc.calls, calls);
    coil_service_fini(&root);
    coil_timer_service_fini(&ts);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calls_at_start_then_every_step),
        cmocka_unit_test(a_deferred_delays_the_next_call),
        cmocka_unit_test(stop_waits_for_the_pending_deferred),
        cmocka_unit_test(a_failure_ends_the_loop_and_is_logged),
        cmocka_unit_test(stopping_from_inside_the_call),
        cmocka_unit_test(bad_steps_are_refused),
        cmocka_unit_test(runs_on_the_reactor_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
