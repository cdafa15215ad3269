/* SPDX-License-Identifier: MIT */
/*
 * The reactor loop and the small value APIs around it: call_soon order,
 * call_later on the reactor clock, non-blocking iterate, run/stop/run again,
 * stats, error names and messages, versions, addresses and log levels.
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bump(void *arg)
{
    (*(int *)arg)++;
}

static void stop_reactor(void *arg)
{
    coil_reactor_stop(arg);
}

/* ---- call_soon ----------------------------------------------------------- */

typedef struct trace {
    char log[64];
    int n;
    coil_reactor *r;
} trace;

typedef struct step {
    trace *t;
    char tag;
    struct step *then; /* queued from inside this call */
} step;

static void run_step(void *arg)
{
    step *s = arg;
    s->t->log[s->t->n++] = s->tag;
    if (s->then)
        assert_int_equal(coil_reactor_call_soon(s->t->r, run_step, s->then), 0);
}

static void call_soon_fifo_and_later_turn(void **state)
{
    coil_reactor *r = t_reactor();
    trace t = {.r = r};
    step d = {&t, 'd', NULL}, e = {&t, 'e', NULL};
    step a = {&t, 'a', NULL}, b = {&t, 'b', &d}, c = {&t, 'c', &e};
    assert_int_equal(coil_reactor_call_soon(r, run_step, &a), 0);
    assert_int_equal(coil_reactor_call_soon(r, run_step, &b), 0);
    assert_int_equal(coil_reactor_call_soon(r, run_step, &c), 0);
    assert_int_equal(t.n, 0); /* never synchronous */
    assert_int_equal(coil_reactor_iterate(r, 0), 0);
    assert_string_equal(t.log, "abc"); /* d and e were queued during the turn */
    assert_int_equal(coil_reactor_iterate(r, 0), 0);
    assert_string_equal(t.log, "abcde");
    assert_int_equal(coil_reactor_iterate(r, 0), 0);
    assert_string_equal(t.log, "abcde");
    t_teardown(r);
}

/* FIFO across growth of the queue, with its head offset so the ring wraps. */
typedef struct idx_call {
    int *out;
    int *pos;
    int i;
} idx_call;

static void record_index(void *arg)
{
    idx_call *c = arg;
    c->out[(*c->pos)++] = c->i;
}

static void call_soon_order_survives_growth(void **state)
{
    coil_reactor *r = t_reactor();
    enum { N = 777 };
    idx_call *calls = calloc(N, sizeof(*calls));
    int *out = calloc(N, sizeof(*out));
    assert_non_null(calls);
    assert_non_null(out);
    int pos = 0, dummy = 0;
    for (int i = 0; i < 40; i++)
        coil_reactor_call_soon(r, bump, &dummy);
    assert_int_equal(coil_reactor_iterate(r, 0), 0);
    assert_int_equal(dummy, 40);
    for (int i = 0; i < 50; i++) /* the head is at 40 of 64: these wrap */
        coil_reactor_call_soon(r, bump, &dummy);
    for (int i = 0; i < N; i++) {
        calls[i] = (idx_call){out, &pos, i};
        assert_int_equal(coil_reactor_call_soon(r, record_index, &calls[i]), 0);
    }
    assert_int_equal(coil_reactor_iterate(r, 0), 0);
    assert_int_equal(dummy, 90);
    assert_int_equal(pos, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(out[i], i);
    free(calls);
    free(out);
    t_teardown(r);
}

/* ---- call_later and iterate ------------------------------------------------ */

typedef struct stamp {
    coil_reactor *r;
    double at;
    int fired;
} stamp;

static void take_stamp(void *arg)
{
    stamp *s = arg;
    s->at = coil_clock_seconds(coil_reactor_clock(s->r));
    s->fired++;
}

static void call_later_uses_reactor_clock(void **state)
{
    coil_reactor *r = t_reactor();
    coil_clock *clock = coil_reactor_clock(r);
    /* The reactor clock is CLOCK_MONOTONIC in seconds. */
    double c0 = coil_clock_seconds(clock), m0 = now_s();
    assert_true(c0 - m0 < 0.05 && m0 - c0 < 0.05);

    stamp s = {.r = r};
    double start = coil_clock_seconds(clock);
    coil_delayed_call *dc = coil_reactor_call_later(r, 0.08, take_stamp, &s);
    assert_non_null(dc);
    double due = coil_delayed_call_time(dc);
    assert_true(due >= start + 0.079 && due <= start + 0.2);
    assert_int_equal(coil_clock_pending(clock), 1);
    /* A blocking iterate wakes up for the timer and runs it before it
     * returns: one call is enough. (A guard timer bounds the test if it
     * does not: the iterate would then block until the guard.) */
    int guard = 0;
    coil_delayed_call *g = coil_reactor_call_later(r, 3, bump, &guard);
    double w0 = now_s();
    int turns = 0;
    while (!s.fired && !guard) {
        assert_int_equal(coil_reactor_iterate(r, -1), 0);
        turns++;
    }
    assert_int_equal(guard, 0);
    assert_int_equal(turns, 1);
    assert_true(now_s() - w0 < 1.5);
    assert_int_equal(coil_delayed_call_cancel(g), 0);
    assert_int_equal(s.fired, 1);
    assert_true(s.at >= due);
    assert_true(s.at - start < 2.0);
    assert_int_equal(coil_clock_pending(clock), 0);

    /* coil_call_later on the reactor clock is the same thing; a call
     * cancelled before it is due never runs; reset moves one later. */
    stamp s2 = {.r = r}, s3 = {.r = r};
    double t0 = coil_clock_seconds(clock);
    coil_delayed_call *c2 = coil_call_later(clock, 0.02, take_stamp, &s2);
    coil_delayed_call *c3 = coil_call_later(clock, 0.01, take_stamp, &s3);
    assert_int_equal(coil_delayed_call_cancel(c3), 0);
    assert_int_equal(coil_delayed_call_reset(c2, 0.06), 0);
    while (!s2.fired) {
        assert_int_equal(coil_reactor_iterate(r, 1), 0);
        assert_true(now_s() - w0 < 5);
    }
    /* A bounded iterate that waits for a timer also runs it (and does not
     * go on waiting for the rest of its timeout on the next call). */
    stamp s4 = {.r = r};
    coil_reactor_call_later(r, 0.03, take_stamp, &s4);
    double i0 = now_s();
    assert_int_equal(coil_reactor_iterate(r, 2.0), 0);
    assert_int_equal(s4.fired, 1);
    assert_true(now_s() - i0 < 1.0);
    assert_true(s2.at - t0 >= 0.059);
    assert_int_equal(s3.fired, 0);
    t_teardown(r);
}

static bool factory_open_is_1(void *arg)
{
    return ((t_factory *)arg)->open == 1;
}

static bool factory_open_is_0(void *arg)
{
    return ((t_factory *)arg)->open == 0 && ((t_factory *)arg)->lost > 0;
}

static void iterate_zero_does_not_block(void **state)
{
    coil_reactor *r = t_reactor();
    int fired = 0;
    coil_delayed_call *far = coil_reactor_call_later(r, 10, bump, &fired);
    /* A listening port and an idle connection: fds to wait on, none ready. */
    t_factory f;
    t_factory_init(&f);
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &f.base, &port);
    int fd = t_peer_connect_tcp(port);
    assert_true(fd >= 0);
    t_run_until(r, factory_open_is_1, &f, 10);

    double t0 = now_s();
    for (int i = 0; i < 100; i++) {
        double s = now_s();
        assert_int_equal(coil_reactor_iterate(r, 0), 0);
        assert_true(now_s() - s < 0.5);
    }
    assert_true(now_s() - t0 < 2.0);
    /* A bounded wait returns after about its timeout when nothing happens. */
    t0 = now_s();
    assert_int_equal(coil_reactor_iterate(r, 0.05), 0);
    double waited = now_s() - t0;
    assert_true(waited >= 0.04);
    assert_true(waited < 1.5);
    assert_int_equal(fired, 0);

    assert_int_equal(coil_delayed_call_cancel(far), 0);
    close(fd);
    t_run_until(r, factory_open_is_0, &f, 10);
    assert_int_equal(f.lost, 1);
    t_stop_listening(r, p);
    t_teardown(r);
}

/* ---- run / stop ------------------------------------------------------------- */

typedef struct nested {
    coil_reactor *r;
    int rc;
} nested;

static void run_inside_run(void *arg)
{
    nested *n = arg;
    n->rc = coil_reactor_run(n->r);
    coil_reactor_stop(n->r);
}

static void stop_later_via_call_soon(void *arg)
{
    coil_reactor *r = arg;
    coil_reactor_call_soon(r, stop_reactor, r);
}

typedef struct timed_stop {
    coil_reactor *r;
    int *soon;
    int soon_seen; /* what the call_soon counter was when the timer fired */
    double at;     /* reactor clock when it fired */
} timed_stop;

static void stop_stamped(void *arg)
{
    timed_stop *ts = arg;
    ts->soon_seen = *ts->soon;
    ts->at = coil_clock_seconds(coil_reactor_clock(ts->r));
    coil_reactor_stop(ts->r);
}

/* Order and counts, and "never early" from the reactor's own clock: no
 * wall-clock bound (a loaded machine may run anything late). */
static void run_stop_run_again(void **state)
{
    coil_reactor *r = t_reactor();
    int soon = 0;

    /* 1: stopped by a call queued before run; the call before it ran. */
    coil_reactor_call_soon(r, bump, &soon);
    coil_reactor_call_soon(r, stop_reactor, r);
    assert_int_equal(coil_reactor_run(r), 0);
    assert_int_equal(soon, 1);

    /* 2: stopped by a timer, not before it was due; a call queued
     * meanwhile ran first. */
    timed_stop ts = {.r = r, .soon = &soon, .soon_seen = -1};
    coil_delayed_call *dc = coil_reactor_call_later(r, 0.05, stop_stamped, &ts);
    double due = coil_delayed_call_time(dc);
    coil_reactor_call_soon(r, bump, &soon);
    assert_int_equal(coil_reactor_run(r), 0);
    assert_true(ts.at >= due);
    assert_int_equal(ts.soon_seen, 2);
    assert_int_equal(soon, 2);

    /* 3: a timer queues the stop through call_soon; run inside run is
     * refused with -EBUSY. */
    nested n = {.r = r, .rc = 1};
    coil_reactor_call_soon(r, run_inside_run, &n);
    assert_int_equal(coil_reactor_run(r), 0);
    assert_int_equal(n.rc, -EBUSY);
    coil_reactor_call_later(r, 0.02, stop_later_via_call_soon, r);
    assert_int_equal(coil_reactor_run(r), 0);

    /* coil_reactor_stop is idempotent. */
    coil_reactor_call_soon(r, stop_reactor, r);
    coil_reactor_call_soon(r, stop_reactor, r);
    assert_int_equal(coil_reactor_run(r), 0);
    t_teardown(r);
}

/* ---- stats -------------------------------------------------------------- */

static void say_ping(t_conn *c)
{
    coil_transport_write(c->base.transport, "ping", 4);
}

static bool got_pong(void *arg)
{
    t_conn *c = arg;
    return c->rx.len == 4;
}

static bool both_lost(void *arg)
{
    t_factory **f = arg;
    return f[0]->lost == 1 && f[1]->lost == 1;
}

static void stats_counters_move(void **state)
{
    coil_reactor *r = t_reactor();
    coil_reactor_stats s0, s1, s2;
    coil_reactor_get_stats(r, &s0);
    assert_int_equal(s0.live_handles, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(coil_reactor_iterate(r, 0), 0);
    coil_reactor_get_stats(r, &s1);
    assert_int_equal(s1.loop_turns, s0.loop_turns + 3);
    assert_true(s1.submits >= s0.submits + 3); /* one wait per turn */

    t_factory server, client;
    t_factory_init(&server);
    server.echo = true;
    t_factory_init(&client);
    client.keep = true;
    client.on_made = say_ping;
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &server.base, &port);
    int err = 0;
    t_conn *c = (t_conn *)t_connect_tcp(r, &client.base, port, &err);
    assert_int_equal(err, 0);
    assert_non_null(c);
    t_run_until(r, got_pong, c, 10);
    assert_memory_equal(c->rx.data, "ping", 4);
    coil_reactor_get_stats(r, &s2);
    assert_true(s2.loop_turns > s1.loop_turns);
    assert_true(s2.completions > s1.completions); /* accept, connect, reads */
    assert_int_equal(s2.live_handles, 3);          /* port + two transports */
    assert_int_equal(coil_reactor_live_handles(r), 3);
    if (strcmp(coil_reactor_backend_name(r), "io_uring") == 0)
        assert_true(s2.sqes > s1.sqes);
    assert_int_equal(s2.stale, 0);
    assert_int_equal(s2.accept_backoffs, 0);

    coil_transport_lose_connection(c->base.transport);
    t_factory *fs[2] = {&server, &client};
    t_run_until(r, both_lost, fs, 10);
    assert_int_equal(c->lost_reason, 0);
    t_conn_free(c);
    t_stop_listening(r, p);
    coil_reactor_get_stats(r, &s2);
    assert_int_equal(s2.live_handles, 0);
    t_teardown(r);
}

/* ---- errors and versions ---------------------------------------------------- */

static void strerror_and_names(void **state)
{
    assert_string_equal(coil_strerror(0), "Connection was closed cleanly");
    assert_string_equal(coil_err_name(0), "OK");
    assert_string_equal(coil_strerror(-ECONNREFUSED), "Connection refused");
    assert_string_equal(coil_err_name(-ECONNREFUSED), "ECONNREFUSED");
    assert_string_equal(coil_strerror(-EADDRINUSE), "Address already in use");
    assert_string_equal(coil_err_name(-EADDRINUSE), "EADDRINUSE");
    assert_string_equal(coil_strerror(-EPERM), "Operation not permitted");
    assert_string_equal(coil_err_name(-EPERM), "EPERM");
    assert_string_equal(coil_err_name(-EMFILE), "EMFILE");
    assert_string_equal(coil_err_name(-ETIMEDOUT), "ETIMEDOUT");

    /* Every coil code: its own name and message, below -4000, distinct. */
    int codes[] = {
#define CODE(name, value, msg) name,
        COIL_ERRNO_MAP(CODE)
#undef CODE
    };
    const char *names[] = {
#define NAME(name, value, msg) #name,
        COIL_ERRNO_MAP(NAME)
#undef NAME
    };
    const char *msgs[] = {
#define MSG(name, value, msg) msg,
        COIL_ERRNO_MAP(MSG)
#undef MSG
    };
    size_t n = sizeof(codes) / sizeof(codes[0]);
    assert_true(n >= 9);
    for (size_t i = 0; i < n; i++) {
        assert_true(codes[i] < -4000);
        assert_string_equal(coil_err_name(codes[i]), names[i]);
        assert_string_equal(coil_strerror(codes[i]), msgs[i]);
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(codes[i], codes[j]);
    }
    assert_string_equal(coil_err_name(COIL_ESHUTDOWN), "COIL_ESHUTDOWN");
    assert_string_equal(coil_strerror(COIL_EABORTED), "Connection was aborted locally");
    assert_string_equal(coil_err_name(COIL_ENOURING), "COIL_ENOURING");

    /* Unknown codes. */
    assert_string_equal(coil_strerror(-4000), "Unknown error");
    assert_string_equal(coil_strerror(-4999), "Unknown error");
    assert_string_equal(coil_strerror(5), "Unknown error");
    assert_string_equal(coil_err_name(-4999), "UNKNOWN");
    assert_string_equal(coil_err_name(-3999), "UNKNOWN");
    assert_string_equal(coil_err_name(7), "UNKNOWN");
    assert_non_null(coil_strerror(-3999));
}

static void version(void **state)
{
    assert_int_equal(coil_version(), COIL_VERSION_HEX);
    assert_int_equal(coil_version() >> 16, COIL_VERSION_MAJOR);
    assert_int_equal((coil_version() >> 8) & 0xff, COIL_VERSION_MINOR);
    assert_int_equal(coil_version() & 0xff, COIL_VERSION_PATCH);
    char want[32];
    snprintf(want, sizeof(want), "%d.%d.%d", COIL_VERSION_MAJOR, COIL_VERSION_MINOR,
             COIL_VERSION_PATCH);
    assert_string_equal(coil_version_string(), want);
    assert_ptr_equal(coil_version_string(), coil_version_string()); /* static */
}

/* ---- addresses ------------------------------------------------------------ */

static void check_format(const coil_address *a, const char *want)
{
    char buf[COIL_ADDRESS_STRLEN];
    int n = coil_address_format(a, buf, sizeof(buf));
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);
}

static void address_ipv4(void **state)
{
    coil_address a, b;
    char host[COIL_ADDRESS_STRLEN];
    assert_int_equal(coil_address_from_ip(&a, "127.0.0.1", 8080), 0);
    assert_int_equal(coil_address_family(&a), AF_INET);
    assert_int_equal(coil_address_port(&a), 8080);
    assert_int_equal(a.len, sizeof(struct sockaddr_in));
    assert_int_equal(ntohl(a.u.in4.sin_addr.s_addr), INADDR_LOOPBACK);
    assert_int_equal(coil_address_host(&a, host, sizeof(host)), 9);
    assert_string_equal(host, "127.0.0.1");
    check_format(&a, "127.0.0.1:8080");

    assert_int_equal(coil_address_from_ip(&b, "", 0), 0); /* "" is 0.0.0.0 */
    check_format(&b, "0.0.0.0:0");
    assert_int_equal(coil_address_from_ip(&b, NULL, 65535), 0);
    check_format(&b, "0.0.0.0:65535");
    assert_int_equal(coil_address_from_ip(&b, "255.255.255.255", 1), 0);
    check_format(&b, "255.255.255.255:1");

    /* Equality: family, host and port. */
    assert_int_equal(coil_address_from_ip(&b, "127.0.0.1", 8080), 0);
    assert_int_equal(coil_address_equal(&a, &b), 1);
    assert_int_equal(coil_address_from_ip(&b, "127.0.0.1", 8081), 0);
    assert_int_equal(coil_address_equal(&a, &b), 0);
    assert_int_equal(coil_address_from_ip(&b, "127.0.0.2", 8080), 0);
    assert_int_equal(coil_address_equal(&a, &b), 0);
    assert_int_equal(coil_address_from_ip(&b, "::1", 8080), 0);
    assert_int_equal(coil_address_equal(&a, &b), 0);

    /* From a sockaddr. */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
    sin.sin_addr.s_addr = htonl(0x0a000001);
    assert_int_equal(coil_address_from_sockaddr(&b, (struct sockaddr *)&sin, sizeof(sin)), 0);
    check_format(&b, "10.0.0.1:80");
    char big[sizeof(struct sockaddr_storage) + 16] = {0};
    assert_int_equal(coil_address_from_sockaddr(&b, (struct sockaddr *)big, sizeof(big)),
                     -EINVAL);

    /* Too small buffers. */
    char small[8];
    assert_int_equal(coil_address_format(&a, small, sizeof(small)), -ENOSPC);
    assert_int_equal(coil_address_host(&a, small, 5), -ENOSPC);
}

static void address_ipv6_and_scope(void **state)
{
    coil_address a, b;
    char host[COIL_ADDRESS_STRLEN];
    assert_int_equal(coil_address_from_ip(&a, "::1", 443), 0);
    assert_int_equal(coil_address_family(&a), AF_INET6);
    assert_int_equal(coil_address_port(&a), 443);
    assert_int_equal(a.len, sizeof(struct sockaddr_in6));
    assert_int_equal(a.u.in6.sin6_scope_id, 0);
    check_format(&a, "[::1]:443");
    assert_int_equal(coil_address_host(&a, host, sizeof(host)), 3);
    assert_string_equal(host, "::1");

    assert_int_equal(coil_address_from_ip(&b, "::", 0), 0);
    check_format(&b, "[::]:0");
    assert_int_equal(coil_address_from_ip(&b, "2001:DB8::A", 1), 0);
    check_format(&b, "[2001:db8::a]:1"); /* canonical text */
    assert_int_equal(coil_address_from_ip(&b, "::ffff:192.0.2.1", 2), 0);
    check_format(&b, "[::ffff:192.0.2.1]:2");

    /* Scope ids: an interface name or a number. */
    unsigned lo = if_nametoindex("lo");
    if (lo) {
        assert_int_equal(coil_address_from_ip(&a, "fe80::1%lo", 80), 0);
        assert_int_equal(a.u.in6.sin6_scope_id, lo);
        check_format(&a, "[fe80::1%lo]:80");
        assert_int_equal(coil_address_host(&a, host, sizeof(host)), 10);
        assert_string_equal(host, "fe80::1%lo");
        char numeric[32];
        snprintf(numeric, sizeof(numeric), "fe80::1%%%u", lo);
        assert_int_equal(coil_address_from_ip(&b, numeric, 80), 0);
        assert_int_equal(b.u.in6.sin6_scope_id, lo);
        assert_int_equal(coil_address_equal(&a, &b), 1);
        assert_int_equal(coil_address_from_ip(&b, "fe80::1", 80), 0);
        assert_int_equal(coil_address_equal(&a, &b), 0); /* scope differs */
    }
    assert_int_equal(coil_address_from_ip(&a, "fe80::1%no-such-if0", 80), -EINVAL);
    assert_int_equal(coil_address_from_ip(&a, "fe80::1%", 80), -EINVAL);
    assert_int_equal(coil_address_from_ip(&a, "fe80::1%0", 80), -EINVAL);

    /* The longest text fits COIL_ADDRESS_STRLEN. */
    assert_int_equal(coil_address_from_ip(&a, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
                                          65535),
                     0);
    char buf[COIL_ADDRESS_STRLEN];
    assert_true(coil_address_format(&a, buf, sizeof(buf)) > 0);
}

static void address_invalid_literals(void **state)
{
    static const char *bad[] = {
        "localhost", "256.1.1.1", "1.2.3", "1.2.3.4.5", "127.0.0.1 ", " 127.0.0.1",
        "127.0.0.1:80", "[::1]", "::g", "1:2:3:4:5:6:7:8:9", "127.0.0.1%lo", "abc",
        "::1%", "0x7f.1", "1..2.3",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        coil_address a;
        int rc = coil_address_from_ip(&a, bad[i], 80);
        if (rc != -EINVAL)
            fail_msg("coil_address_from_ip(\"%s\") = %d, want -EINVAL", bad[i], rc);
    }
    /* A very long string must not overflow anything. */
    char longstr[512];
    memset(longstr, '1', sizeof(longstr) - 1);
    longstr[sizeof(longstr) - 1] = '\0';
    coil_address a;
    assert_int_equal(coil_address_from_ip(&a, longstr, 80), -EINVAL);
}

static void address_unix(void **state)
{
    coil_address a, b;
    char host[COIL_ADDRESS_STRLEN];
    assert_int_equal(coil_address_from_unix(&a, "/tmp/coil.sock"), 0);
    assert_int_equal(coil_address_family(&a), AF_UNIX);
    assert_int_equal(coil_address_port(&a), 0);
    check_format(&a, "unix:/tmp/coil.sock");
    assert_int_equal(coil_address_host(&a, host, sizeof(host)), 14);
    assert_string_equal(host, "/tmp/coil.sock");
    assert_int_equal(coil_address_from_unix(&b, "/tmp/coil.sock"), 0);
    assert_int_equal(coil_address_equal(&a, &b), 1);
    assert_int_equal(coil_address_from_unix(&b, "/tmp/other.sock"), 0);
    assert_int_equal(coil_address_equal(&a, &b), 0);

    /* Abstract namespace: "@name" is a leading NUL and no terminator. */
    assert_int_equal(coil_address_from_unix(&a, "@coil-abstract"), 0);
    assert_int_equal(a.u.un.sun_path[0], '\0');
    assert_memory_equal(a.u.un.sun_path + 1, "coil-abstract", 13);
    assert_int_equal(a.len, offsetof(struct sockaddr_un, sun_path) + 14);
    check_format(&a, "unix:@coil-abstract");
    assert_int_equal(coil_address_host(&a, host, sizeof(host)), 14);
    assert_string_equal(host, "@coil-abstract");
    assert_int_equal(coil_address_from_unix(&b, "/coil-abstract"), 0);
    assert_int_equal(coil_address_equal(&a, &b), 0);

    /* Unnamed (an unbound client socket). */
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    assert_int_equal(
        coil_address_from_sockaddr(&a, (struct sockaddr *)&sun, sizeof(sa_family_t)), 0);
    check_format(&a, "unix:<unnamed>");
    coil_address none = {0};
    assert_int_equal(coil_address_family(&none), AF_UNSPEC);
    check_format(&none, "<none>");

    /* Limits. */
    char longpath[sizeof(sun.sun_path) + 1];
    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(coil_address_from_unix(&a, longpath), -ENAMETOOLONG);
    longpath[sizeof(sun.sun_path) - 1] = '\0'; /* 107 bytes + NUL: fits */
    assert_int_equal(coil_address_from_unix(&a, longpath), 0);
    assert_int_equal(coil_address_from_unix(&a, ""), -EINVAL);
}

/* ---- log levels ----------------------------------------------------------- */

static int seen_calls;
static coil_log_level seen_level;
static char seen_system[64], seen_msg[2048];

static void remember(void *arg, coil_log_level level, const char *system, const char *msg)
{
    (*(int *)arg)++;
    seen_calls++;
    seen_level = level;
    snprintf(seen_system, sizeof(seen_system), "%s", system);
    snprintf(seen_msg, sizeof(seen_msg), "%s", msg);
}

static void log_levels(void **state)
{
    static const struct {
        const char *name;
        coil_log_level level;
    } ok[] = {
        {"debug", COIL_LOG_DEBUG}, {"info", COIL_LOG_INFO},         {"warn", COIL_LOG_WARN},
        {"warning", COIL_LOG_WARN}, {"error", COIL_LOG_ERROR}, {"critical", COIL_LOG_CRITICAL},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        coil_log_level lv = (coil_log_level)-1;
        assert_int_equal(coil_log_level_parse(ok[i].name, &lv), 0);
        assert_int_equal(lv, ok[i].level);
    }
    static const char *bad[] = {"", "bogus", "infoo", "5", "debug "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        coil_log_level lv = COIL_LOG_ERROR;
        assert_int_equal(coil_log_level_parse(bad[i], &lv), -EINVAL);
        assert_int_equal(lv, COIL_LOG_ERROR); /* untouched */
    }
    assert_string_equal(coil_log_level_name(COIL_LOG_DEBUG), "debug");
    assert_string_equal(coil_log_level_name(COIL_LOG_INFO), "info");
    assert_string_equal(coil_log_level_name(COIL_LOG_WARN), "warn");
    assert_string_equal(coil_log_level_name(COIL_LOG_ERROR), "error");
    assert_string_equal(coil_log_level_name(COIL_LOG_CRITICAL), "critical");
    assert_string_equal(coil_log_level_name((coil_log_level)42), "?");

    /* The level filters before the handler; the handler gets system+text. */
    int calls = 0;
    coil_log_level old = coil_log_get_level();
    coil_log_set_handler(remember, &calls);
    coil_log_set_level(COIL_LOG_WARN);
    assert_int_equal(coil_log_get_level(), COIL_LOG_WARN);
    coil_log(COIL_LOG_INFO, "test", "dropped %d", 1);
    assert_int_equal(calls, 0);
    coil_log(COIL_LOG_ERROR, "test.sys", "kept %d %s", 2, "x");
    assert_int_equal(calls, 1);
    assert_int_equal(seen_level, COIL_LOG_ERROR);
    assert_string_equal(seen_system, "test.sys");
    assert_string_equal(seen_msg, "kept 2 x");
    /* A long message is cut, not overflowed. */
    char longmsg[3000];
    memset(longmsg, 'm', sizeof(longmsg) - 1);
    longmsg[sizeof(longmsg) - 1] = '\0';
    coil_log(COIL_LOG_CRITICAL, "test", "%s", longmsg);
    assert_int_equal(calls, 2);
    assert_true(strlen(seen_msg) > 100 && strlen(seen_msg) < sizeof(longmsg));
    coil_log_set_handler(NULL, NULL);
    coil_log_set_level(old);
    coil_log(COIL_LOG_DEBUG, "test", "to the default handler, filtered");
    assert_int_equal(calls, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(call_soon_fifo_and_later_turn),
        cmocka_unit_test(call_soon_order_survives_growth),
        cmocka_unit_test(call_later_uses_reactor_clock),
        cmocka_unit_test(iterate_zero_does_not_block),
        cmocka_unit_test(run_stop_run_again),
        cmocka_unit_test(stats_counters_move),
        cmocka_unit_test(strerror_and_names),
        cmocka_unit_test(version),
        cmocka_unit_test(address_ipv4),
        cmocka_unit_test(address_ipv6_and_scope),
        cmocka_unit_test(address_invalid_literals),
        cmocka_unit_test(address_unix),
        cmocka_unit_test(log_levels),
    };
    return cmocka_run_group_tests_name("reactor", tests, NULL, NULL);
}
