/* SPDX-License-Identifier: MIT */
/*
 * io_uring under pressure: a tiny provided-buffer ring (ENOBUFS ends the
 * multishot recvs again and again), a tiny completion queue (overflow) and
 * SEND_ZC for every send. All data must still arrive intact, in order,
 * without stalling. Skipped on the poll backend.
 */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CLIENTS = 64, MSG = 48 * 1024 };

static bool all_lost(void *arg)
{
    t_factory *f = arg;
    return f->lost == CLIENTS;
}

static coil_reactor *pressured_reactor(unsigned ring_entries, unsigned nbufs, size_t zc)
{
    const char *want = getenv("COIL_REACTOR");
    if (!want || strcmp(want, "uring") != 0) {
        fprintf(stderr, "skip: io_uring-only test\n");
        exit(77);
    }
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

static void tiny_completion_queue(void **state)
{
    coil_reactor *r = pressured_reactor(2, 1024, 0); /* CQ of 64 entries */
    coil_reactor_stats st;
    echo_many(r, &st);
    fprintf(stderr, "cq overflows seen: %llu\n", (unsigned long long)st.cq_overflows);
    t_teardown(r);
}

static void send_zc_for_every_send(void **state)
{
    coil_reactor *r = pressured_reactor(64, 256, 1); /* SEND_ZC from 1 byte up */
    coil_reactor_stats st;
    echo_many(r, &st);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(enobufs_recovers_without_loss),
        cmocka_unit_test(tiny_completion_queue),
        cmocka_unit_test(send_zc_for_every_send),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
