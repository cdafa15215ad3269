/* SPDX-License-Identifier: MIT */
/*
 * io_uring under pressure: a tiny provided-buffer ring (ENOBUFS ends the
 * multishot recvs again and again), a tiny completion queue (overflow) and
 * SEND_ZC for every send. All data must still arrive intact, in order,
 * without stalling. Skipped on the poll backend.
 */
#include "helpers.h"

#include <errno.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { CLIENTS = 64, MSG = 48 * 1024 };

static bool all_lost(void *arg)
{
    t_factory *f = arg;
    return f->lost == CLIENTS;
}

static coil_reactor *pressured_reactor(unsigned ring_entries, unsigned nbufs, size_t zc)
{
    t_require_uring();
    coil_reactor_options o;
    coil_reactor_options_init(&o);
    o.flags = COIL_REACTOR_NO_SIGNALS;
    o.backend = COIL_BACKEND_URING;
    o.ring_entries = ring_entries;
    o.recv_buffers = nbufs;
    o.recv_buffer_size = 4096;
    o.send_zc_threshold = zc;
    coil_reactor *r;
    int rc = coil_reactor_new(&r, &o);
    if (rc < 0) {
        fprintf(stderr, "skip: io_uring unavailable (%s)\n", coil_strerror(rc));
        exit(77);
    }
    return r;
}

/* Many clients send a distinct 48 KiB message each to an echo server and
 * verify every echoed byte. */
static void echo_many(coil_reactor *r, coil_reactor_stats *st)
{
    t_factory server, clients;
    t_factory_init(&server);
    server.echo = true;
    t_factory_init(&clients);
    clients.keep = true;
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &server.base, &port);
    t_conn *conns[CLIENTS];
    unsigned char *msg = malloc(MSG);
    for (int i = 0; i < CLIENTS; i++) {
        int err = 0;
        conns[i] = (t_conn *)t_connect_tcp(r, &clients.base, port, &err);
        assert_int_equal(err, 0);
        assert_non_null(conns[i]);
        t_fill_pattern(msg, MSG, (uint32_t)i, 0);
        assert_int_equal(coil_transport_write(conns[i]->base.transport, msg, MSG), 0);
    }
    double deadline = coil_clock_seconds(coil_reactor_clock(r)) + 30;
    bool complete = false;
    while (!complete) {
        complete = true;
        for (int i = 0; i < CLIENTS; i++)
            if (conns[i]->rx.len < MSG)
                complete = false;
        if (!complete)
            assert_int_equal(coil_reactor_iterate(r, 0.05), 0);
        if (coil_clock_seconds(coil_reactor_clock(r)) > deadline)
            fail_msg("echo did not complete in time");
    }
    for (int i = 0; i < CLIENTS; i++) {
        t_fill_pattern(msg, MSG, (uint32_t)i, 0);
        assert_int_equal(conns[i]->rx.len, MSG);
        assert_memory_equal(conns[i]->rx.data, msg, MSG);
        coil_transport_lose_connection(conns[i]->base.transport);
    }
    t_run_until(r, all_lost, &clients, 20);
    t_run_until(r, all_lost, &server, 20);
    for (int i = 0; i < CLIENTS; i++) {
        assert_int_equal(conns[i]->lost_count, 1);
        assert_int_equal(conns[i]->lost_reason, 0);
        t_conn_free(conns[i]);
    }
    free(msg);
    t_stop_listening(r, p);
    coil_reactor_get_stats(r, st);
}

static void enobufs_recovers_without_loss(void **state)
{
    coil_reactor *r = pressured_reactor(8, 4, 0); /* 4 receive buffers for 128 sockets */
    coil_reactor_stats st;
    echo_many(r, &st);
    assert_true(st.enobufs > 0); /* the scenario really ran dry */
    t_teardown(r);
}

/* tiny_completion_queue: many receives complete at once into a 64-entry
 * CQ. The server pauses every connection at connection_made while each
 * client sends a message, then resumes all of them in one go: every
 * receive is issued with its data already waiting, completes during the
 * submit, and the CQ overflows before the loop reaps it. */
enum { OVERFLOW_CONNS = 160, OVERFLOW_MSG = 100 };

typedef struct paused_server {
    t_factory f;
    coil_transport *t[OVERFLOW_CONNS];
    int n;
} paused_server;

static void pause_at_made(t_conn *c)
{
    paused_server *ps = c->factory->user;
    coil_transport_pause_reading(c->base.transport);
    if (ps->n < OVERFLOW_CONNS)
        ps->t[ps->n++] = c->base.transport;
}

static void resume_all(void *arg)
{
    paused_server *ps = arg;
    for (int i = 0; i < ps->n; i++)
        coil_transport_resume_reading(ps->t[i]);
}

static bool all_received(void *arg)
{
    paused_server *ps = arg;
    size_t total = 0;
    for (int i = 0; i < ps->n; i++)
        total += ((t_conn *)coil_transport_protocol(ps->t[i]))->rx.len;
    return total == (size_t)OVERFLOW_CONNS * OVERFLOW_MSG;
}

static bool overflow_all_lost(void *arg)
{
    return ((t_factory *)arg)->lost == OVERFLOW_CONNS;
}

static void tiny_completion_queue(void **state)
{
    coil_reactor *r = pressured_reactor(2, 1024, 0); /* SQ 2, CQ 64 entries */
    paused_server ps = {.n = 0};
    t_factory_init(&ps.f);
    ps.f.on_made = pause_at_made;
    ps.f.user = &ps;
    coil_address a;
    assert_int_equal(coil_address_from_ip(&a, "127.0.0.1", 0), 0);
    coil_listen_options lo = {.backlog = OVERFLOW_CONNS};
    coil_port *p = NULL;
    assert_int_equal(coil_listen_tcp(r, &a, &lo, &ps.f.base, &p), 0);
    coil_port_get_host(p, &a);
    int fds[OVERFLOW_CONNS];
    for (int i = 0; i < OVERFLOW_CONNS; i++) {
        fds[i] = t_peer_connect_tcp(coil_address_port(&a));
        assert_true(fds[i] >= 0);
    }
    T_RUN_UNTIL(r, ps.n == OVERFLOW_CONNS, 30);
    /* Every server connection is paused now; the messages wait in the
     * sockets (loopback delivers during send()). */
    char msg[OVERFLOW_MSG];
    memset(msg, 'm', sizeof(msg));
    for (int i = 0; i < OVERFLOW_CONNS; i++)
        assert_int_equal(t_peer_write_all(fds[i], msg, sizeof(msg)), 0);
    coil_reactor_call_soon(r, resume_all, &ps);
    t_run_until(r, all_received, &ps, 30);
    coil_reactor_stats st;
    coil_reactor_get_stats(r, &st);
    fprintf(stderr, "cq overflows seen: %llu\n", (unsigned long long)st.cq_overflows);
    assert_true(st.cq_overflows > 0); /* the overflow path really ran */
    assert_int_equal(st.cq_lost, 0);  /* ... and lost nothing */
    for (int i = 0; i < OVERFLOW_CONNS; i++)
        close(fds[i]);
    t_run_until(r, overflow_all_lost, &ps.f, 30);
    t_stop_listening(r, p);
    t_teardown(r);
}

static void send_zc_for_every_send(void **state)
{
    coil_reactor *r = pressured_reactor(64, 256, 1); /* SEND_ZC from 1 byte up */
    coil_reactor_stats st;
    echo_many(r, &st);
    /* Every send waited for its notification: SEND_ZC was really used. */
    fprintf(stderr, "SEND_ZC sends: %llu\n", (unsigned long long)st.send_zc);
    assert_true(st.send_zc > 0);
    t_teardown(r);
}

#ifdef COIL_HAVE_URING
extern unsigned coil__uring_sqe_fault_every; /* uring.c's test hooks */
extern bool coil__uring_fake_ebadr;
#else
static unsigned coil__uring_sqe_fault_every; /* built without io_uring: never runs */
static bool coil__uring_fake_ebadr;
#endif

static void lost_completions_stop_the_loop(void **state)
{
    /* -EBADR (the kernel dropped completions) is not swallowed: the wait
     * fails with it, it is counted and logged, and run() would return it. */
    coil_reactor *r = pressured_reactor(64, 256, 0);
    t_log_capture();
    coil__uring_fake_ebadr = true;
    assert_int_equal(coil_reactor_iterate(r, 0), -EBADR);
    coil_reactor_stats st;
    coil_reactor_get_stats(r, &st);
    assert_int_equal(st.cq_lost, 1);
    assert_int_equal(t_log_count("the kernel dropped completions"), 1);
    coil_log_set_handler(NULL, NULL);
    coil_log_set_level(COIL_LOG_WARN);
    assert_int_equal(coil_reactor_iterate(r, 0), 0); /* only that wait failed */
    t_teardown(r);
}

static void full_sq_queues_operations(void **state)
{
    /* Every third SQE request fails as if the SQ were full and a submit
     * could not make room: receives, sends, cancels, connects and accepts
     * wait for the next turn instead of being dropped, so all data still
     * arrives and every close completes (t_teardown: nothing left alive). */
    coil_reactor *r = pressured_reactor(64, 256, 0);
    coil__uring_sqe_fault_every = 3;
    coil_reactor_stats st;
    echo_many(r, &st);
    coil__uring_sqe_fault_every = 0;
    fprintf(stderr, "operations that waited for the SQ: %llu\n", (unsigned long long)st.sq_waits);
    assert_true(st.sq_waits > 0);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(enobufs_recovers_without_loss),
        cmocka_unit_test(tiny_completion_queue),
        cmocka_unit_test(send_zc_for_every_send),
        cmocka_unit_test(full_sq_queues_operations),
        cmocka_unit_test(lost_completions_stop_the_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
