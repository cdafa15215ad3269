/* SPDX-License-Identifier: MIT */
/*
 * ClientService: Twisted's back-off vectors; a service on a fake clock
 * against a real loopback server that refuses, accepts, drops and refuses
 * again, with every retry delay checked exactly; when_connected with and
 * without fail_after_failures and several waiters; stop in each state
 * (connecting, waiting, connected, disconnecting, restarting) with nothing
 * happening afterwards; prepare_connection succeeding, failing, pending
 * while the connection drops, pending at stop; hostname (fake resolver) and
 * UNIX endpoints; freeing a running service and freeing from callbacks.
 */
#include "helpers.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- back-off ------------------------------------------------------------------ */

static double jitter_one(void *arg)
{
    return 1.0;
}

static void backoff_matches_twisted_vectors(void **state)
{
    /* test_application.py BackoffPolicyTests, jitter = lambda: 1 */
    coil_backoff_policy p = COIL_BACKOFF_POLICY_INIT;
    p.jitter = jitter_one;
    assert_true(coil_backoff_policy_delay(&p, 0) == 2.0);
    assert_true(coil_backoff_policy_delay(&p, 1) == 2.5);
    assert_true(coil_backoff_policy_delay(&p, 10) == 58.6650390625);
    assert_true(coil_backoff_policy_delay(&p, 20) == 61.0);
    assert_true(coil_backoff_policy_delay(&p, 100) == 61.0);
    assert_true(coil_backoff_policy_delay(&p, 1751) == 61.0);
    assert_true(coil_backoff_policy_delay(&p, 1000000) == 61.0);
    coil_backoff_policy big = {1.0, 60.0, 1e10, jitter_one, NULL};
    assert_true(coil_backoff_policy_delay(&big, 1751) == 61.0); /* overflow -> max */
    assert_true(coil_backoff_retry_policy(&big, 1751) == 61.0);
}

static double jitter_zero(void *arg)
{
    ++*(int *)arg;
    return 0.0;
}

static void default_delays_grow_by_one_and_a_half(void **state)
{
    int calls = 0;
    coil_backoff_policy p = COIL_BACKOFF_POLICY_INIT;
    p.jitter = jitter_zero;
    p.jitter_arg = &calls;
    const double want[] = {1.5,        2.25,        3.375,         5.0625,
                           7.59375,    11.390625,   17.0859375,    25.62890625,
                           38.443359375, 57.6650390625, 60.0,      60.0};
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_true(coil_backoff_policy_delay(&p, i + 1) == want[i]);
    assert_int_equal(calls, 12);
    /* Nonsense parameters never give a negative or NaN delay. */
    coil_backoff_policy bad = {-5.0, 60.0, 1.5, jitter_zero, &calls};
    assert_true(coil_backoff_policy_delay(&bad, 1) == 0.0);
    coil_backoff_policy nan_p = {NAN, NAN, NAN, jitter_zero, &calls};
    assert_true(coil_backoff_policy_delay(&nan_p, 1) == 0.0);
}

static void default_jitter_is_in_the_unit_interval(void **state)
{
    double lo = 1, hi = 0;
    for (int i = 0; i < 10000; i++) {
        double u = coil_random_unit(NULL);
        assert_true(u >= 0.0 && u < 1.0);
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
    }
    assert_true(lo < 0.05 && hi > 0.95); /* not a constant */
    coil_backoff_policy p = COIL_BACKOFF_POLICY_INIT; /* jitter NULL: coil_random_unit */
    for (unsigned a = 1; a < 20; a++) {
        double d = coil_backoff_policy_delay(&p, a);
        double base = fmin(pow(1.5, a), 60.0);
        assert_true(d >= base && d < base + 1.0);
    }
}

/* ---- the environment -------------------------------------------------------------- */

typedef struct env {
    coil_reactor *r;
    coil_clock *fc;
    t_factory srv, cli;
    coil_port *lp; /* while the server listens */
    uint16_t port;
    coil_backoff_policy policy;
    int jitters;
    coil_client_service *cs;
    char desc[64];
    int last_reason; /* of the client's last connection_lost */
} env;

static void rec_lost(t_conn *c, int reason)
{
    *(int *)c->user = reason;
}

static double jitter_half(void *arg)
{
    ++*(int *)arg;
    return 0.5;
}

static void env_listen(env *e)
{
    coil_address a;
    assert_int_equal(coil_address_from_ip(&a, "127.0.0.1", e->port), 0);
    int rc = coil_listen_tcp(e->r, &a, NULL, &e->srv.base, &e->lp);
    if (rc < 0)
        fail_msg("listen on %u: %s", e->port, coil_strerror(rc));
}

static void env_unlisten(env *e)
{
    t_stop_listening(e->r, e->lp);
    e->lp = NULL;
}

/* A reactor, a fake clock, a server factory, a refused port, and a service
 * (not started) to 127.0.0.1:port with jitter 0.5. */
static void env_init(env *e, coil_prepare_connection_fn prep, void *prep_arg)
{
    memset(e, 0, sizeof(*e));
    e->r = t_reactor();
    e->fc = coil_fake_clock_new();
    t_factory_init(&e->srv);
    t_factory_init(&e->cli);
    e->last_reason = 1;
    e->cli.on_lost = rec_lost;
    e->cli.user = &e->last_reason;
    e->lp = t_listen_tcp(e->r, &e->srv.base, &e->port);
    env_unlisten(e); /* refused until listened on again */
    e->policy = (coil_backoff_policy)COIL_BACKOFF_POLICY_INIT;
    e->policy.jitter = jitter_half;
    e->policy.jitter_arg = &e->jitters;
    coil_client_service_options o = {
        .clock = e->fc,
        .retry_policy = coil_backoff_retry_policy,
        .retry_arg = &e->policy,
        .prepare_connection = prep,
        .prepare_arg = prep_arg,
    };
    snprintf(e->desc, sizeof(e->desc), "tcp:127.0.0.1:%u", e->port);
    char err[256] = "";
    assert_int_equal(
        coil_client_service_new_from_string(e->r, e->desc, &e->cli.base, &o, &e->cs, err,
                                            sizeof(err)),
        0);
}

static void env_fini(env *e)
{
    if (e->lp)
        env_unlisten(e);
    coil_client_service_free(e->cs);
    t_teardown(e->r);
    coil_fake_clock_free(e->fc);
    assert_int_equal(e->cli.open, 0);
}

static coil_client_service_state st(env *e)
{
    return coil_client_service_get_state(e->cs);
}

#define RUN_UNTIL_STATE(e, s) T_RUN_UNTIL((e)->r, st(e) == (s), 10)

static void start(env *e)
{
    assert_int_equal(coil_service_start(coil_client_service_service(e->cs)), 0);
}

static coil_deferred *stop(env *e)
{
    coil_deferred *d = coil_service_stop(coil_client_service_service(e->cs));
    assert_non_null(d);
    return d;
}

static void expect_retry(env *e, unsigned failed, double at)
{
    assert_int_equal(coil_client_service_failed_attempts(e->cs), failed);
    double when = coil_client_service_retry_time(e->cs);
    if (when != at)
        fail_msg("retry at %.17g, expected %.17g", when, at);
}

static void expect_log(env *e, unsigned n, const char *secs, int count)
{
    char line[160];
    snprintf(line, sizeof(line), "Scheduling retry %u to connect %s in %s seconds.", n, e->desc,
             secs);
    if (t_log_count(line) != count)
        fail_msg("log line \"%s\" seen %d times, expected %d", line, t_log_count(line), count);
}

/* Run the reactor for a while and move the fake clock far ahead: proves
 * nothing is scheduled or pending. */
static void nothing_happens(env *e)
{
    t_run_for(e->r, 0.05);
    coil_fake_clock_advance(e->fc, 1000);
    t_run_for(e->r, 0.05);
}

/* ---- refuse, accept, drop, refuse ------------------------------------------------------- */

static void refuses_accepts_drops_refuses(void **state)
{
    env e;
    env_init(&e, NULL, NULL);
    t_log_capture();
    t_outcome any, two, three, later;
    t_watch(coil_client_service_when_connected(e.cs, 0), &any);
    t_watch(coil_client_service_when_connected(e.cs, 2), &two);
    t_watch(coil_client_service_when_connected(e.cs, 3), &three);
    assert_int_equal(st(&e), COIL_CLIENT_INIT);
    start(&e);
    assert_int_equal(e.cli.started, 1);
    assert_int_equal(st(&e), COIL_CLIENT_CONNECTING);
    start(&e); /* a running service: nothing happens */

    /* Refused: retry 1 after 1.5 + 0.5. */
    RUN_UNTIL_STATE(&e, COIL_CLIENT_WAITING);
    expect_retry(&e, 1, 2.0);
    expect_log(&e, 1, "2.0", 1);
    assert_false(two.fired); /* one failure of two */
    coil_fake_clock_advance(e.fc, 1.999);
    assert_int_equal(st(&e), COIL_CLIENT_WAITING);
    coil_fake_clock_advance(e.fc, 0.001);
    assert_int_equal(st(&e), COIL_CLIENT_CONNECTING);

    /* Refused again: retry 2 after 2.25 + 0.5; the two-failure waiter fails. */
    RUN_UNTIL_STATE(&e, COIL_CLIENT_WAITING);
    expect_retry(&e, 2, 2.0 + 2.75);
    expect_log(&e, 2, "2.75", 1);
    assert_true(two.fired && two.failed);
    assert_int_equal(two.code, -ECONNREFUSED);
    assert_false(any.fired);
    assert_false(three.fired); /* two failures of three */

    /* Accepts. */
    env_listen(&e);
    t_watch(coil_client_service_when_connected(e.cs, 1), &later);
    coil_fake_clock_advance(e.fc, 2.75);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_CONNECTED);
    assert_int_equal(coil_client_service_failed_attempts(e.cs), 0);
    assert_true(coil_client_service_retry_time(e.cs) < 0);
    assert_true(any.fired && !any.failed);
    assert_true(later.fired && !later.failed);
    assert_true(three.fired && !three.failed);
    t_conn *c = e.cli.last;
    assert_ptr_equal(three.ptr, c);
    assert_ptr_equal(any.ptr, c);
    assert_ptr_equal(later.ptr, c);
    assert_ptr_equal(coil_client_service_protocol(e.cs), &c->base);
    assert_int_equal(c->made, 1);
    assert_ptr_equal(c->base.factory, &e.cli.base); /* the user's factory */
    t_outcome now;
    t_watch(coil_client_service_when_connected(e.cs, 0), &now);
    assert_true(now.fired && now.ptr == c); /* at once */

    /* Data flows through the proxy both ways. */
    T_RUN_UNTIL(e.r, e.srv.last && e.srv.last->made, 5);
    t_conn *s = e.srv.last;
    coil_transport_write(c->base.transport, "ping", 4);
    T_RUN_UNTIL(e.r, s->rx.len == 4, 5);
    coil_transport_write(s->base.transport, "pong", 4);
    T_RUN_UNTIL(e.r, c->rx.len == 4, 5);
    assert_memory_equal(c->rx.data, "pong", 4);

    /* Drops: the attempt count starts again at 1. */
    double dropped_at = coil_clock_seconds(e.fc);
    coil_transport_lose_connection(s->base.transport);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_WAITING);
    assert_int_equal(e.cli.lost, 1);
    assert_int_equal(e.last_reason, 0);
    expect_retry(&e, 1, dropped_at + 2.0);
    expect_log(&e, 1, "2.0", 2);
    assert_null(coil_client_service_protocol(e.cs));

    /* Refuses again. */
    env_unlisten(&e);
    coil_fake_clock_advance(e.fc, 2.0);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_WAITING);
    expect_retry(&e, 2, dropped_at + 2.0 + 2.75);
    coil_fake_clock_advance(e.fc, 2.75);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_WAITING);
    expect_retry(&e, 3, dropped_at + 2.0 + 2.75 + 3.875);
    expect_log(&e, 3, "3.875", 1);
    assert_int_equal(e.jitters, 5);

    /* Stop while waiting: at once, the retry is dropped. */
    t_outcome pending, stopped;
    t_watch(coil_client_service_when_connected(e.cs, 0), &pending);
    t_watch(stop(&e), &stopped);
    assert_true(stopped.fired && !stopped.failed);
    assert_true(pending.fired && pending.failed);
    assert_int_equal(pending.code, COIL_DEFER_CANCELLED);
    assert_int_equal(st(&e), COIL_CLIENT_STOPPED);
    assert_int_equal(coil_clock_pending(e.fc), 0);
    assert_int_equal(e.cli.stopped, 1);
    t_outcome after;
    t_watch(coil_client_service_when_connected(e.cs, 0), &after);
    assert_true(after.fired && after.failed && after.code == COIL_DEFER_CANCELLED);
    int built = e.cli.built;
    nothing_happens(&e);
    assert_int_equal(e.cli.built, built);
    assert_int_equal(st(&e), COIL_CLIENT_STOPPED);
    coil_log_set_handler(NULL, NULL);
    coil_log_set_level(COIL_LOG_WARN);
    env_fini(&e);
}

/* ---- stop in each state --------------------------------------------------------------------- */

static void stop_while_connecting_cancels_the_attempt(void **state)
{
    env e;
    env_init(&e, NULL, NULL);
    env_listen(&e);
    t_outcome w, w3, stopped;
    t_watch(coil_client_service_when_connected(e.cs, 0), &w);
    t_watch(coil_client_service_when_connected(e.cs, 3), &w3);
    start(&e);
    assert_int_equal(st(&e), COIL_CLIENT_CONNECTING); /* the connect is in flight */
    t_watch(stop(&e), &stopped);
    assert_true(stopped.fired && !stopped.failed);
    assert_int_equal(st(&e), COIL_CLIENT_STOPPED);
    assert_true(w.fired && w.code == COIL_DEFER_CANCELLED);
    assert_true(w3.fired && w3.code == COIL_DEFER_CANCELLED);
    assert_int_equal(e.cli.started, 1);
    assert_int_equal(e.cli.stopped, 1);
    nothing_happens(&e);
    assert_int_equal(e.cli.built, 0);
    assert_int_equal(coil_client_service_failed_attempts(e.cs), 0);
    env_fini(&e);
}

static void stop_while_connected_closes_and_waits(void **state)
{
    env e;
    env_init(&e, NULL, NULL);
    env_listen(&e);
    start(&e);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_CONNECTED);
    t_outcome s1, s2;
    t_watch(stop(&e), &s1);
    assert_int_equal(st(&e), COIL_CLIENT_DISCONNECTING);
    assert_false(s1.fired);
    /* A second stop (disconnecting) and a waiter. */
    t_outcome w;
    t_watch(coil_client_service_when_connected(e.cs, 0), &w);
    /* coil_service_stop() calls a service once; a second stopService as
     * Twisted allows goes to the service itself. */
    t_watch(coil_client_service_service(e.cs)->ops->stop(coil_client_service_service(e.cs)), &s2);
    T_RUN_UNTIL(e.r, s1.fired, 5);
    assert_true(s2.fired);
    assert_int_equal(st(&e), COIL_CLIENT_STOPPED);
    assert_int_equal(e.cli.lost, 1);
    assert_int_equal(e.last_reason, 0); /* lose_connection: clean */
    assert_true(w.fired && w.code == COIL_DEFER_CANCELLED);
    assert_int_equal(e.cli.stopped, 1);
    nothing_happens(&e);
    assert_int_equal(e.cli.built, 1);
    env_fini(&e);
}

static void start_while_disconnecting_restarts(void **state)
{
    env e;
    env_init(&e, NULL, NULL);
    env_listen(&e);
    coil_service *svc = coil_client_service_service(e.cs);
    start(&e);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_CONNECTED);
    t_outcome s1, w;
    t_watch(stop(&e), &s1);
    start(&e);
    assert_int_equal(st(&e), COIL_CLIENT_RESTARTING);
    assert_true(svc->running);
    t_watch(coil_client_service_when_connected(e.cs, 0), &w);
    /* The old connection closes: the stop fires, a new connection follows. */
    T_RUN_UNTIL(e.r, s1.fired, 5);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_CONNECTED);
    assert_true(w.fired && !w.failed);
    assert_ptr_equal(w.ptr, e.cli.last);
    assert_int_equal(e.cli.built, 2);
    assert_int_equal(e.cli.started, 1); /* never stopped in between */
    assert_int_equal(e.cli.stopped, 0);

    /* restarting -> stop -> disconnecting -> stopped */
    t_outcome s2, s3;
    t_watch(stop(&e), &s2);
    start(&e);
    assert_int_equal(st(&e), COIL_CLIENT_RESTARTING);
    t_watch(stop(&e), &s3);
    assert_int_equal(st(&e), COIL_CLIENT_DISCONNECTING);
    T_RUN_UNTIL(e.r, s2.fired && s3.fired, 5);
    assert_int_equal(st(&e), COIL_CLIENT_STOPPED);
    nothing_happens(&e);
    assert_int_equal(e.cli.built, 2);
    assert_int_equal(e.cli.stopped, 1);

    /* A stopped service starts again. */
    start(&e);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_CONNECTED);
    assert_int_equal(e.cli.started, 2);
    t_outcome s4;
    t_watch(stop(&e), &s4);
    T_RUN_UNTIL(e.r, s4.fired, 5);
    env_fini(&e);
}

static void stop_before_start_fires_at_once(void **state)
{
    env e;
    env_init(&e, NULL, NULL);
    t_outcome w, s;
    t_watch(coil_client_service_when_connected(e.cs, 0), &w);
    assert_false(w.fired);
    /* Not running: coil_service_stop does not call the service; the state
     * machine's own stop from init goes to stopped. */
    t_watch(coil_client_service_service(e.cs)->ops->stop(coil_client_service_service(e.cs)), &s);
    assert_true(s.fired && !s.failed);
    assert_int_equal(st(&e), COIL_CLIENT_STOPPED);
    assert_false(w.fired); /* as Twisted: init -> stopped leaves waiters queued */
    t_outcome w2;
    t_watch(coil_client_service_when_connected(e.cs, 0), &w2);
    assert_true(w2.fired && w2.code == COIL_DEFER_CANCELLED);
    env_listen(&e);
    start(&e);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_CONNECTED);
    assert_true(w.fired && !w.failed);
    t_outcome s2;
    t_watch(stop(&e), &s2);
    T_RUN_UNTIL(e.r, s2.fired, 5);
    env_fini(&e);
}

static coil_result cancel_other(coil_result r, void *arg)
{
    coil_deferred_cancel(arg);
    return r;
}

static void waiters_can_be_withdrawn(void **state)
{
    env e;
    env_init(&e, NULL, NULL);
    coil_deferred *w1 = coil_client_service_when_connected(e.cs, 1);
    coil_deferred *w2 = coil_client_service_when_connected(e.cs, 1);
    coil_deferred *w3 = coil_client_service_when_connected(e.cs, 1);
    t_outcome o1, o2, o3;
    /* w1's errback withdraws w2 while the service fires its waiters. */
    coil_deferred_add_errback(w1, cancel_other, w2);
    t_watch(w1, &o1);
    t_watch(coil_deferred_ref(w2), &o2);
    coil_deferred_cancel(w3);
    t_watch(w3, &o3);
    assert_true(o3.fired && o3.code == COIL_DEFER_CANCELLED);
    start(&e);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_WAITING);
    assert_true(o1.fired && o1.code == -ECONNREFUSED);
    assert_true(o2.fired);
    coil_deferred_unref(w2);
    t_outcome s;
    t_watch(stop(&e), &s);
    assert_true(s.fired);
    env_fini(&e);
}

/* ---- prepare_connection ---------------------------------------------------------------- */

typedef struct prep {
    int calls;
    int made_seen;         /* connection_made had run when prepare was called */
    coil_protocol *p;
    coil_deferred *d;      /* our reference while pending */
    int mode;              /* 0: pending Deferred, 1: fail at once, 2: NULL (ready) */
    t_outcome outcome;     /* how d ended */
} prep;

static coil_deferred *prepare(void *arg, coil_protocol *p)
{
    prep *pr = arg;
    pr->calls++;
    pr->p = p;
    pr->made_seen = ((t_conn *)p)->made;
    if (pr->mode == 1)
        return coil_fail(coil_failure_new("test", -EPROTO, "not ready"));
    if (pr->mode == 2)
        return NULL;
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    pr->d = coil_deferred_ref(d);
    t_watch(coil_deferred_ref(d), &pr->outcome);
    return d;
}

static void prepare_success_delays_the_waiters(void **state)
{
    prep pr = {0};
    env e;
    env_init(&e, prepare, &pr);
    env_listen(&e);
    t_outcome w;
    t_watch(coil_client_service_when_connected(e.cs, 0), &w);
    start(&e);
    T_RUN_UNTIL(e.r, pr.calls == 1, 5);
    assert_int_equal(pr.made_seen, 1);
    assert_ptr_equal(pr.p, e.cli.last);
    assert_int_equal(st(&e), COIL_CLIENT_CONNECTING);
    t_run_for(e.r, 0.05);
    assert_false(w.fired);
    coil_deferred_callback(pr.d, coil_result_int(7)); /* the value is ignored */
    coil_deferred_unref(pr.d);
    assert_int_equal(st(&e), COIL_CLIENT_CONNECTED);
    assert_true(w.fired && w.ptr == e.cli.last);
    t_outcome s;
    t_watch(stop(&e), &s);
    T_RUN_UNTIL(e.r, s.fired, 5);
    env_fini(&e);
}

static void prepare_returning_null_is_ready_at_once(void **state)
{
    prep pr = {.mode = 2};
    env e;
    env_init(&e, prepare, &pr);
    env_listen(&e);
    start(&e);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_CONNECTED);
    assert_int_equal(pr.calls, 1);
    t_outcome s;
    t_watch(stop(&e), &s);
    T_RUN_UNTIL(e.r, s.fired, 5);
    env_fini(&e);
}

static void prepare_failure_counts_as_a_failed_attempt(void **state)
{
    prep pr = {.mode = 1};
    env e;
    env_init(&e, prepare, &pr);
    env_listen(&e);
    t_outcome w1, w0;
    t_watch(coil_client_service_when_connected(e.cs, 1), &w1);
    t_watch(coil_client_service_when_connected(e.cs, 0), &w0);
    start(&e);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_WAITING);
    assert_int_equal(pr.calls, 1);
    /* The rejected connection was closed before the attempt counted. */
    assert_int_equal(e.cli.lost, 1);
    expect_retry(&e, 1, 2.0);
    assert_true(w1.fired && w1.failed && w1.code == -EPROTO);
    assert_string_equal(w1.message, "not ready");
    assert_false(w0.fired);
    /* Succeeds on the next attempt. */
    pr.mode = 2;
    coil_fake_clock_advance(e.fc, 2.0);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_CONNECTED);
    assert_true(w0.fired && !w0.failed);
    assert_int_equal(coil_client_service_failed_attempts(e.cs), 0);
    t_outcome s;
    t_watch(stop(&e), &s);
    T_RUN_UNTIL(e.r, s.fired, 5);
    env_fini(&e);
}

static void connection_lost_while_preparing_fails_the_attempt(void **state)
{
    prep pr = {0};
    env e;
    env_init(&e, prepare, &pr);
    env_listen(&e);
    t_outcome w1;
    t_watch(coil_client_service_when_connected(e.cs, 1), &w1);
    start(&e);
    T_RUN_UNTIL(e.r, pr.calls == 1 && e.srv.last && e.srv.last->made, 5);
    coil_transport_lose_connection(e.srv.last->base.transport); /* the server drops it */
    RUN_UNTIL_STATE(&e, COIL_CLIENT_WAITING);
    assert_true(pr.outcome.fired && pr.outcome.code == COIL_DEFER_CANCELLED);
    assert_true(w1.fired && w1.code == -ENOTCONN);
    expect_retry(&e, 1, 2.0);
    coil_deferred_unref(pr.d);
    t_outcome s;
    t_watch(stop(&e), &s);
    assert_true(s.fired);
    env_fini(&e);
}

static void stop_while_preparing_cancels_and_closes(void **state)
{
    prep pr = {0};
    env e;
    env_init(&e, prepare, &pr);
    env_listen(&e);
    start(&e);
    T_RUN_UNTIL(e.r, pr.calls == 1, 5);
    t_outcome s;
    t_watch(stop(&e), &s);
    assert_true(pr.outcome.fired && pr.outcome.code == COIL_DEFER_CANCELLED);
    assert_int_equal(st(&e), COIL_CLIENT_DISCONNECTING);
    assert_false(s.fired); /* until the connection is closed */
    T_RUN_UNTIL(e.r, s.fired, 5);
    assert_int_equal(st(&e), COIL_CLIENT_STOPPED);
    assert_int_equal(e.cli.lost, 1);
    coil_deferred_unref(pr.d);
    nothing_happens(&e);
    assert_int_equal(pr.calls, 1);
    env_fini(&e);
}

/* ---- other endpoints ----------------------------------------------------------------------- */

typedef struct fake {
    uint16_t port;
    int calls;
} fake;

static coil_deferred *fake_resolve(void *arg, coil_reactor *r, const char *host, uint16_t port)
{
    fake *f = arg;
    f->calls++;
    coil_address_list *l = coil_address_list_new(1);
    coil_address_from_ip(&l->addrs[0], "127.0.0.1", port);
    return coil_succeed(coil_result_value(l, free));
}

static void reconnects_through_a_hostname_endpoint(void **state)
{
    coil_reactor *r = t_reactor();
    coil_clock *fc = coil_fake_clock_new();
    fake f = {0};
    coil_reactor_set_resolver(r, fake_resolve, &f);
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv.base, &port);
    char desc[64], err[256] = "";
    snprintf(desc, sizeof(desc), "tcp:service.test:%u", port);
    coil_backoff_policy pol = {1.0, 60.0, 1.5, jitter_one, NULL};
    coil_client_service_options o = {
        .clock = fc, .retry_policy = coil_backoff_retry_policy, .retry_arg = &pol};
    coil_client_service *cs;
    assert_int_equal(coil_client_service_new_from_string(r, desc, &cli.base, &o, &cs, err,
                                                         sizeof(err)),
                     0);
    coil_service *svc = coil_client_service_service(cs);
    t_outcome w;
    t_watch(coil_client_service_when_connected(cs, 0), &w);
    assert_int_equal(coil_service_start(svc), 0);
    T_RUN_UNTIL(r, w.fired, 10);
    assert_false(w.failed);
    assert_int_equal(f.calls, 1);
    T_RUN_UNTIL(r, srv.last && srv.last->made, 5);
    coil_transport_lose_connection(srv.last->base.transport);
    T_RUN_UNTIL(r, coil_client_service_get_state(cs) == COIL_CLIENT_WAITING, 5);
    assert_true(coil_client_service_retry_time(cs) == 2.5);
    coil_fake_clock_advance(fc, 2.5);
    T_RUN_UNTIL(r, coil_client_service_get_state(cs) == COIL_CLIENT_CONNECTED, 10);
    assert_int_equal(f.calls, 2); /* resolved again */
    t_outcome s;
    t_watch(coil_service_stop(svc), &s);
    T_RUN_UNTIL(r, s.fired, 5);
    assert_int_equal(cli.lost, 2);
    coil_client_service_free(cs);
    t_stop_listening(r, lp);
    t_teardown(r);
    coil_fake_clock_free(fc);
}

static void connects_over_unix_sockets(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    char path[128];
    coil_port *lp = t_listen_unix(r, &srv.base, path);
    char desc[160], err[256] = "";
    snprintf(desc, sizeof(desc), "unix:%s", path);
    coil_client_service *cs;
    /* Default options: the reactor's clock and the default back-off. */
    assert_int_equal(coil_client_service_new_from_string(r, desc, &cli.base, NULL, &cs, err,
                                                         sizeof(err)),
                     0);
    coil_service *svc = coil_client_service_service(cs);
    t_outcome w;
    t_watch(coil_client_service_when_connected(cs, 0), &w);
    assert_int_equal(coil_service_start(svc), 0);
    T_RUN_UNTIL(r, w.fired, 10);
    assert_false(w.failed);
    assert_ptr_equal(w.ptr, cli.last);
    /* The server goes away: the retry uses the reactor's clock, in [1.5, 2.5). */
    double t0 = coil_clock_seconds(coil_reactor_clock(r));
    T_RUN_UNTIL(r, srv.last && srv.last->made, 5);
    coil_transport_lose_connection(srv.last->base.transport);
    T_RUN_UNTIL(r, coil_client_service_get_state(cs) == COIL_CLIENT_WAITING, 5);
    double at = coil_client_service_retry_time(cs) - t0;
    assert_true(at >= 1.5 && at < 2.5 + 5);
    t_outcome s;
    t_watch(coil_service_stop(svc), &s);
    assert_true(s.fired);
    coil_client_service_free(cs);
    t_stop_listening(r, lp);
    t_teardown(r);
}

static void bad_descriptions_and_arguments_fail_cleanly(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory cli;
    t_factory_init(&cli);
    coil_client_service *cs = (void *)1;
    char err[256] = "";
    assert_int_equal(coil_client_service_new_from_string(r, "tcp:", &cli.base, NULL, &cs, err,
                                                         sizeof(err)),
                     COIL_EBADDESC);
    assert_null(cs);
    assert_true(strlen(err) > 0);
    assert_int_equal(coil_client_service_new_from_string(r, "bogus:1", &cli.base, NULL, &cs, err,
                                                         sizeof(err)),
                     COIL_EBADDESC);
    assert_int_equal(coil_client_service_new(NULL, &cli.base, NULL, &cs), -EINVAL);
    assert_int_equal(coil_client_service_new_from_string(r, "tcp:127.0.0.1:1", NULL, NULL, &cs,
                                                         err, sizeof(err)),
                     -EINVAL);
    /* An endpoint object, named in the log. */
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", 1);
    coil_client_endpoint *ep = coil_tcp_client_endpoint_new(r, &a, 5, NULL);
    coil_clock *fc = coil_fake_clock_new();
    coil_client_service_options o = {.clock = fc, .name = "the-database"};
    assert_int_equal(coil_client_service_new(ep, &cli.base, &o, &cs), 0);
    t_log_capture();
    assert_int_equal(coil_service_start(coil_client_service_service(cs)), 0);
    T_RUN_UNTIL(r, coil_client_service_get_state(cs) == COIL_CLIENT_WAITING, 5);
    assert_int_equal(t_log_count("Scheduling retry 1 to connect the-database in "), 1);
    coil_log_set_handler(NULL, NULL);
    coil_log_set_level(COIL_LOG_WARN);
    assert_string_equal(coil_client_service_state_name(COIL_CLIENT_WAITING), "waiting");
    assert_string_equal(coil_client_service_state_name(COIL_CLIENT_RESTARTING), "restarting");
    t_outcome s;
    t_watch(coil_service_stop(coil_client_service_service(cs)), &s);
    assert_true(s.fired);
    coil_client_service_free(cs);
    coil_client_endpoint_free(ep);
    coil_client_service_free(NULL);
    t_teardown(r);
    coil_fake_clock_free(fc);
}

/* ---- freeing -------------------------------------------------------------------------------- */

static void free_while_connected_aborts(void **state)
{
    env e;
    env_init(&e, NULL, NULL);
    env_listen(&e);
    start(&e);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_CONNECTED);
    t_outcome w;
    t_watch(coil_client_service_when_connected(e.cs, 0), &w); /* fired: connected */
    coil_client_service_free(e.cs);
    e.cs = NULL;
    T_RUN_UNTIL(e.r, e.cli.lost == 1, 5);
    assert_int_equal(e.last_reason, COIL_EABORTED);
    assert_int_equal(e.cli.stopped, 1);
    env_fini(&e);
}

static void free_while_connecting_and_waiting(void **state)
{
    env e;
    env_init(&e, NULL, NULL);
    t_outcome w;
    t_watch(coil_client_service_when_connected(e.cs, 0), &w);
    start(&e);
    coil_client_service_free(e.cs); /* connecting */
    assert_true(w.fired && w.code == COIL_DEFER_CANCELLED);
    e.cs = NULL;
    env_fini(&e);

    env_init(&e, NULL, NULL);
    start(&e);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_WAITING);
    assert_int_equal(coil_clock_pending(e.fc), 1);
    coil_client_service_free(e.cs);
    e.cs = NULL;
    assert_int_equal(coil_clock_pending(e.fc), 0);
    env_fini(&e);
}

static coil_result free_service(coil_result r, void *arg)
{
    coil_client_service_free(arg);
    return r;
}

static void free_from_the_stop_callback(void **state)
{
    env e;
    env_init(&e, NULL, NULL);
    env_listen(&e);
    start(&e);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_CONNECTED);
    coil_deferred *d = stop(&e);
    coil_deferred_add_callback(d, free_service, e.cs);
    t_outcome s;
    t_watch(d, &s);
    T_RUN_UNTIL(e.r, s.fired, 5);
    e.cs = NULL;
    env_fini(&e);
}

static coil_result free_in_waiter(coil_result r, void *arg)
{
    env *e = arg;
    coil_client_service_free(e->cs);
    e->cs = NULL;
    return r;
}

static void free_from_a_when_connected_callback(void **state)
{
    env e;
    env_init(&e, NULL, NULL);
    env_listen(&e);
    coil_deferred *d = coil_client_service_when_connected(e.cs, 0);
    coil_deferred_add_callback(d, free_in_waiter, &e);
    t_outcome w, w2;
    t_watch(d, &w);
    t_watch(coil_client_service_when_connected(e.cs, 0), &w2);
    start(&e);
    T_RUN_UNTIL(e.r, w.fired, 5);
    assert_false(w.failed);
    assert_true(w2.fired); /* was already taken off the list: fires with the protocol */
    T_RUN_UNTIL(e.r, e.cli.lost == 1, 5);
    env_fini(&e);
}

/* ---- many cycles -------------------------------------------------------------------------- */

static void drop_at_once(t_conn *c)
{
    coil_transport_lose_connection(c->base.transport);
}

static double no_delay(void *arg, unsigned failed)
{
    ++*(int *)arg;
    return 0;
}

static void survives_a_flapping_server(void **state)
{
    env e;
    env_init(&e, NULL, NULL);
    coil_client_service_free(e.cs);
    int asked = 0;
    coil_client_service_options o = {.clock = e.fc, .retry_policy = no_delay, .retry_arg = &asked};
    char err[256];
    assert_int_equal(coil_client_service_new_from_string(e.r, e.desc, &e.cli.base, &o, &e.cs,
                                                         err, sizeof(err)),
                     0);
    e.srv.on_made = drop_at_once; /* every connection is dropped by the server */
    env_listen(&e);
    start(&e);
    for (int i = 0; i < 30; i++) {
        T_RUN_UNTIL(e.r, e.cli.lost == i + 1 && st(&e) == COIL_CLIENT_WAITING, 10);
        assert_int_equal(asked, i + 1);
        assert_int_equal(coil_client_service_failed_attempts(e.cs), 1);
        coil_fake_clock_advance(e.fc, 0);
    }
    t_outcome s;
    t_watch(stop(&e), &s);
    T_RUN_UNTIL(e.r, s.fired, 5);
    assert_int_equal(e.cli.built, 30);
    assert_int_equal(e.cli.lost, 30); /* each connection_lost exactly once */
    env_fini(&e);
}

static double forever(void *arg, unsigned failed)
{
    return 1e300;
}

static void absurd_delays_are_bounded(void **state)
{
    env e;
    env_init(&e, NULL, NULL);
    coil_client_service_free(e.cs);
    coil_client_service_options o = {.retry_policy = forever}; /* the reactor's clock */
    char err[256];
    assert_int_equal(coil_client_service_new_from_string(e.r, e.desc, &e.cli.base, &o, &e.cs,
                                                         err, sizeof(err)),
                     0);
    double t0 = coil_clock_seconds(coil_reactor_clock(e.r));
    start(&e);
    RUN_UNTIL_STATE(&e, COIL_CLIENT_WAITING);
    double at = coil_client_service_retry_time(e.cs) - t0;
    assert_true(at >= 1e9 - 1 && at <= 1e9 + 60);
    t_run_for(e.r, 0.02); /* the reactor copes with the far deadline */
    t_outcome s;
    t_watch(stop(&e), &s);
    assert_true(s.fired);
    env_fini(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff_matches_twisted_vectors),
        cmocka_unit_test(default_delays_grow_by_one_and_a_half),
        cmocka_unit_test(default_jitter_is_in_the_unit_interval),
        cmocka_unit_test(refuses_accepts_drops_refuses),
        cmocka_unit_test(stop_while_connecting_cancels_the_attempt),
        cmocka_unit_test(stop_while_connected_closes_and_waits),
        cmocka_unit_test(start_while_disconnecting_restarts),
        cmocka_unit_test(stop_before_start_fires_at_once),
        cmocka_unit_test(waiters_can_be_withdrawn),
        cmocka_unit_test(prepare_success_delays_the_waiters),
        cmocka_unit_test(prepare_returning_null_is_ready_at_once),
        cmocka_unit_test(prepare_failure_counts_as_a_failed_attempt),
        cmocka_unit_test(connection_lost_while_preparing_fails_the_attempt),
        cmocka_unit_test(stop_while_preparing_cancels_and_closes),
        cmocka_unit_test(reconnects_through_a_hostname_endpoint),
        cmocka_unit_test(connects_over_unix_sockets),
        cmocka_unit_test(bad_descriptions_and_arguments_fail_cleanly),
        cmocka_unit_test(free_while_connected_aborts),
        cmocka_unit_test(free_while_connecting_and_waiting),
        cmocka_unit_test(free_from_the_stop_callback),
        cmocka_unit_test(free_from_a_when_connected_callback),
        cmocka_unit_test(survives_a_flapping_server),
        cmocka_unit_test(absurd_delays_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
