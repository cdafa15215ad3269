/* SPDX-License-Identifier: MIT */
/*
 * Closing, on both backends: lose_connection flushes every queued byte
 * before the FIN (also bytes written after it), abort_connection drops the
 * queue and resets the peer, and connection_lost runs exactly once, from the
 * loop, on every path: peer FIN, peer RST, local lose/abort on either side,
 * lose then abort, abort inside data_received, lose inside connection_made,
 * and reactor stop. Also: calls on a closed transport are safe no-ops, and
 * a borrowed buffer still queued is released once when the connection is
 * aborted or its send fails.
 */
#include "helpers.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define KIB 1024u
#define MIB (1024u * 1024u)

static void write_pattern(coil_transport *t, size_t n, uint32_t seed, size_t offset)
{
    unsigned char *b = malloc(n);
    assert_non_null(b);
    t_fill_pattern(b, n, seed, offset);
    assert_int_equal(coil_transport_write(t, b, n), 0);
    free(b);
}

static void assert_pattern(const unsigned char *data, size_t n, uint32_t seed)
{
    unsigned char want[4096];
    for (size_t i = 0; i < n; i += sizeof(want)) {
        size_t k = n - i < sizeof(want) ? n - i : sizeof(want);
        t_fill_pattern(want, k, seed, i);
        if (memcmp(data + i, want, k) != 0)
            fail_msg("pattern mismatch in the %zu bytes at offset %zu", k, i);
    }
}

/* ---- a blocking peer that reads to EOF --------------------------------------- */

typedef struct reader_job {
    uint16_t port;
    bool wait_go;   /* connect, then read only once the test sets `go` */
    atomic_int go;
    t_buf got;
    int rc;
    atomic_int done;
} reader_job;

static void *reader_main(void *arg)
{
    reader_job *j = arg;
    int fd = t_peer_connect_tcp(j->port);
    if (fd < 0) {
        j->rc = fd;
    } else {
        /* A hand-shake, not a sleep: the test says when the interesting
         * state (a full queue, a reset) exists. Bounded by 60 s. */
        for (int i = 0; j->wait_go && !atomic_load(&j->go) && i < 60000; i++)
            usleep(1000);
        j->rc = t_peer_read_to_eof(fd, &j->got);
        close(fd);
    }
    atomic_store(&j->done, 1);
    return NULL;
}

#define SEED 0xc105e000u

/* The loopback kernel buffers absorb about 4 MiB even when the peer does
 * not read, so a queue that must outlive a few turns is made bigger. */
#define BIG (16 * MIB)

static void write_then_lose(t_conn *c)
{
    coil_transport *t = c->base.transport;
    size_t n = c->user ? BIG : 4 * MIB;
    write_pattern(t, n, SEED, 0);
    coil_transport_lose_connection(t);
    assert_int_equal(coil_transport_write_buffer_size(t), n);
    if (c->user) /* also write after lose_connection: still delivered */
        write_pattern(t, 1000, SEED, n);
    assert_int_equal(c->lost_count, 0);
}

static reader_job *late_reader;

static void late_write(void *arg)
{
    t_conn *c = arg;
    assert_int_equal(c->lost_count, 0);
    assert_true(coil_transport_is_disconnecting(c->base.transport));
    assert_true(coil_transport_write_buffer_size(c->base.transport) > 0);
    write_pattern(c->base.transport, 2000, SEED, BIG + 1000);
    atomic_store(&late_reader->go, 1); /* only now may the peer drain the queue */
}

static void lose_connection(bool write_after, size_t expect)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.keep = true;
    srv.on_made = write_then_lose;
    srv.user = write_after ? &srv : NULL;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv.base, &port);
    /* The peer reads only after the late write (hand-shake), so the queue
     * is surely still full when it happens. */
    reader_job j = {.port = port, .wait_go = write_after};
    late_reader = &j;
    t_thread *th = t_thread_start(reader_main, &j);
    T_RUN_UNTIL(r, srv.last && srv.last->made, 10);
    if (write_after)
        coil_reactor_call_soon(r, late_write, srv.last);
    T_RUN_UNTIL(r, atomic_load(&j.done) && srv.lost == 1, 30);
    t_thread_join(th);
    assert_int_equal(j.rc, 0); /* EOF, not a reset */
    assert_int_equal(j.got.len, expect);
    assert_pattern(j.got.data, expect, SEED);
    assert_int_equal(srv.last->lost_count, 1);
    assert_int_equal(srv.last->lost_reason, 0);
    t_conn_free(srv.last);
    t_buf_free(&j.got);
    t_stop_listening(r, lp);
    t_teardown(r);
}

static void lose_connection_flushes_4m_before_fin(void **state)
{
    lose_connection(false, 4 * MIB);
}

static void write_after_lose_connection_is_delivered(void **state)
{
    lose_connection(true, BIG + 3000);
}

static void abort_drops_queue_and_peer_sees_reset(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.keep = true;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv.base, &port);
    /* The peer reads only once the reset happened (hand-shake below), so
     * it cannot drain the queue while the abort is on its way. */
    reader_job j = {.port = port, .wait_go = true};
    t_thread *th = t_thread_start(reader_main, &j);
    T_RUN_UNTIL(r, srv.last && srv.last->made, 10);
    t_conn *s = srv.last;
    coil_transport *t = s->base.transport;
    write_pattern(t, 8 * MIB, SEED, 0);
    coil_transport_abort_connection(t);
    assert_int_equal(s->lost_count, 0); /* not synchronous */
    assert_int_equal(coil_transport_write(t, "x", 1), -ENOTCONN);
    coil_transport_abort_connection(t); /* idempotent */
    coil_transport_lose_connection(t);  /* allowed, no effect */
    T_RUN_UNTIL(r, s->lost_count, 20);  /* closed: the reset was sent */
    atomic_store(&j.go, 1);
    T_RUN_UNTIL(r, atomic_load(&j.done), 20);
    t_thread_join(th);
    t_run_for(r, 0.05);
    assert_int_equal(s->lost_count, 1);
    assert_int_equal(s->lost_reason, COIL_EABORTED);
    assert_true(j.got.len < 8 * MIB);
    assert_int_equal(j.rc, -ECONNRESET);
    t_conn_free(s);
    t_buf_free(&j.got);
    t_stop_listening(r, lp);
    t_teardown(r);
}

/* ---- connection_lost exactly once, coil on both ends ------------------------- */

static void lost_once_peer_fin(void **state)
{
    t_pair pr;
    t_pair_open(&pr);
    coil_transport_lose_connection(pr.c->base.transport);
    coil_transport_lose_connection(pr.c->base.transport); /* idempotent */
    assert_int_equal(pr.c->lost_count, 0);
    t_pair_expect(&pr, 0, 0);
}

static void lost_once_local_lose_server_side(void **state)
{
    t_pair pr;
    t_pair_open(&pr);
    coil_transport_lose_connection(pr.s->base.transport);
    assert_int_equal(pr.s->lost_count, 0);
    t_pair_expect(&pr, 0, 0);
}

static void lost_once_local_abort_server_side(void **state)
{
    t_pair pr;
    t_pair_open(&pr);
    coil_transport_abort_connection(pr.s->base.transport);
    assert_int_equal(pr.s->lost_count, 0);
    t_pair_expect(&pr, COIL_EABORTED, -ECONNRESET);
}

static void lost_once_local_abort_client_side(void **state)
{
    t_pair pr;
    t_pair_open(&pr);
    coil_transport_abort_connection(pr.c->base.transport);
    assert_int_equal(pr.c->lost_count, 0);
    t_pair_expect(&pr, -ECONNRESET, COIL_EABORTED);
}

static void lost_once_both_sides_close_at_once(void **state)
{
    t_pair pr;
    t_pair_open(&pr);
    coil_transport_lose_connection(pr.c->base.transport);
    coil_transport_lose_connection(pr.s->base.transport);
    t_pair_expect(&pr, 0, 0);
}

static void lost_once_lose_then_abort(void **state)
{
    t_pair pr;
    t_pair_open(&pr);
    write_pattern(pr.s->base.transport, 4 * MIB, SEED, 0);
    coil_transport_lose_connection(pr.s->base.transport);
    coil_transport_abort_connection(pr.s->base.transport);
    assert_int_equal(pr.s->lost_count, 0);
    t_pair_expect(&pr, COIL_EABORTED, -ECONNRESET);
}

/* Abort while lose_connection is still flushing to a peer that is not
 * reading; the peer learns of the reset once it reads again. */
static void lost_once_abort_during_flush(void **state)
{
    t_pair pr;
    t_pair_open(&pr);
    coil_transport_pause_reading(pr.c->base.transport);
    write_pattern(pr.s->base.transport, BIG, SEED, 0);
    coil_transport_lose_connection(pr.s->base.transport);
    t_run_for(pr.r, 0.1);
    assert_int_equal(pr.s->lost_count, 0);
    assert_true(coil_transport_write_buffer_size(pr.s->base.transport) > 0);
    coil_transport_abort_connection(pr.s->base.transport);
    T_RUN_UNTIL(pr.r, pr.s->lost_count == 1, 10);
    assert_int_equal(pr.c->rx.len, 0);
    coil_transport_resume_reading(pr.c->base.transport);
    T_RUN_UNTIL(pr.r, pr.c->lost_count == 1, 10);
    assert_true(pr.c->rx.len < BIG);
    assert_pattern(pr.c->rx.data, pr.c->rx.len, SEED);
    t_pair_expect(&pr, COIL_EABORTED, -ECONNRESET);
}

static void abort_in_data(t_conn *c, const void *data, size_t len)
{
    coil_transport_abort_connection(c->base.transport);
    assert_int_equal(c->lost_count, 0);
    assert_int_equal(coil_transport_write(c->base.transport, "x", 1), -ENOTCONN);
}

static void lost_once_abort_inside_data_received(void **state)
{
    t_pair pr;
    t_pair_init(&pr);
    pr.srv.on_data = abort_in_data;
    t_pair_connect(&pr);
    /* Several writes so more data completions may already be queued. */
    for (int i = 0; i < 8; i++)
        write_pattern(pr.c->base.transport, 64 * KIB, SEED, (size_t)i * 64 * KIB);
    t_pair_expect(&pr, COIL_EABORTED, -ECONNRESET);
}

static void lose_in_made(t_conn *c)
{
    coil_transport_lose_connection(c->base.transport);
    assert_true(coil_transport_is_disconnecting(c->base.transport));
    assert_int_equal(c->lost_count, 0);
}

static void lost_once_lose_inside_connection_made_server(void **state)
{
    t_pair pr;
    t_pair_init(&pr);
    pr.srv.on_made = lose_in_made;
    t_pair_connect(&pr);
    t_pair_expect(&pr, 0, 0);
    assert_int_equal(pr.srv.built, 1);
}

static void lost_once_lose_inside_connection_made_client(void **state)
{
    t_pair pr;
    t_pair_init(&pr);
    pr.cli.on_made = lose_in_made;
    t_pair_connect(&pr);
    t_pair_expect(&pr, 0, 0);
}

/* ---- a raw peer's RST, and reactor stop ------------------------------------- */

static void lost_once_peer_rst(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.keep = true;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv.base, &port);
    int fd = t_peer_connect_tcp(port); /* the kernel completes the handshake */
    assert_true(fd >= 0);
    T_RUN_UNTIL(r, srv.last && srv.last->made, 10);
    assert_int_equal(t_peer_write_all(fd, "hello", 5), 0);
    T_RUN_UNTIL(r, srv.last->rx.len == 5, 10);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    close(fd); /* RST */
    T_RUN_UNTIL(r, srv.lost == 1, 10);
    t_run_for(r, 0.05);
    t_conn *s = srv.last;
    assert_int_equal(s->lost_count, 1);
    if (s->lost_reason != -ECONNRESET)
        fail_msg("reason %s, want ECONNRESET", coil_err_name(s->lost_reason));
    t_conn_free(s);
    t_stop_listening(r, lp);
    t_teardown(r);
}

static void stop_reactor(void *arg)
{
    coil_reactor_stop(arg);
}

static void lost_once_on_reactor_stop(void **state)
{
    t_pair pr;
    t_pair_open(&pr);
    /* A second server connection from a raw peer, with data queued toward
     * the coil client. */
    uint16_t port;
    coil_address host;
    coil_port_get_host(pr.lp, &host);
    port = coil_address_port(&host);
    int fd = t_peer_connect_tcp(port);
    assert_true(fd >= 0);
    T_RUN_UNTIL(pr.r, pr.srv.built == 2 && pr.srv.last->made, 10);
    t_conn *s2 = pr.srv.last;
    write_pattern(pr.s->base.transport, 64 * KIB, SEED, 0);
    coil_reactor_call_later(pr.r, 0.05, stop_reactor, pr.r);
    alarm(30); /* run() has no timeout of its own: bound it */
    assert_int_equal(coil_reactor_run(pr.r), 0);
    alarm(0);
    /* run() returned: every handle is closed, each got COIL_ESHUTDOWN once. */
    assert_int_equal(coil_reactor_live_handles(pr.r), 0);
    t_conn *conns[] = {pr.s, pr.c, s2};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(conns[i]->lost_count, 1);
        if (conns[i]->lost_reason != COIL_ESHUTDOWN)
            fail_msg("conn %d: reason %s", i, coil_err_name(conns[i]->lost_reason));
        t_conn_free(conns[i]);
    }
    assert_int_equal(pr.srv.stopped, 1); /* the port was closed too */
    assert_int_equal(pr.cli.stopped, 1);
    char b;
    assert_int_equal(recv(fd, &b, 1, 0), 0); /* the raw peer sees an orderly FIN */
    close(fd);
    t_teardown(pr.r);
}

/* ---- calls on a closed transport ----------------------------------------------- */

typedef struct rel_count {
    int calls;
    const void *data;
    size_t len;
} rel_count;

static void count_release(void *arg, const void *data, size_t len)
{
    rel_count *rc = arg;
    rc->calls++;
    rc->data = data;
    rc->len = len;
}

static void nop_producer(coil_producer *p)
{
}
static const coil_producer_ops nop_producer_ops = {nop_producer, nop_producer, nop_producer};

static rel_count closed_rel;

static void assert_closed_calls_are_noops(coil_transport *t)
{
    char b = 'x';
    struct iovec iov = {&b, 1};
    coil_producer prod = {&nop_producer_ops};
    coil_address a;
    assert_true(coil_transport_is_disconnecting(t));
    assert_int_equal(coil_transport_write(t, &b, 1), -ENOTCONN);
    assert_int_equal(coil_transport_writev(t, &iov, 1), -ENOTCONN);
    assert_int_equal(coil_transport_write_borrowed(t, &b, 1, count_release, &closed_rel),
                     -ENOTCONN);
    assert_int_equal(coil_transport_register_producer(t, &prod, true), -ENOTCONN);
    assert_int_equal(coil_transport_get_peer(t, &a), -ENOTCONN);
    assert_int_equal(coil_transport_get_host(t, &a), -ENOTCONN);
    assert_int_equal(coil_transport_fileno(t), -EBADF);
    assert_int_equal(coil_transport_set_tcp_nodelay(t, true), -ENOTCONN);
    coil_transport_lose_connection(t);
    coil_transport_abort_connection(t);
    coil_transport_lose_write_connection(t);
    coil_transport_pause_reading(t);
    coil_transport_resume_reading(t);
    coil_transport_unregister_producer(t);
    assert_true(coil_transport_is_disconnecting(t));
}

static void closed_calls_in_lost(t_conn *c, int reason)
{
    assert_closed_calls_are_noops(c->base.transport);
}

static void transport_calls_after_close_are_noops(void **state)
{
    t_pair pr;
    t_pair_init(&pr);
    pr.srv.on_lost = pr.cli.on_lost = closed_calls_in_lost; /* inside connection_lost */
    closed_rel = (rel_count){0};
    t_pair_connect(&pr);
    coil_transport *t = pr.s->base.transport;
    /* Still writable while disconnecting (lose_connection), not after abort. */
    coil_transport_lose_connection(t);
    assert_true(coil_transport_is_disconnecting(t));
    assert_int_equal(coil_transport_write(t, "ok", 2), 0);
    coil_transport_abort_connection(t);
    assert_int_equal(pr.s->lost_count, 0); /* delivered from the loop */
    assert_closed_calls_are_noops(t);
    t_pair_expect(&pr, COIL_EABORTED, -ECONNRESET);
    assert_int_equal(closed_rel.calls, 0);
}

/* ---- write_borrowed: release exactly once ---------------------------------------- */

static void write_borrowed_released_when_aborted_before_send(void **state)
{
    t_pair pr;
    t_pair_open(&pr);
    size_t n = 1 * MIB;
    unsigned char *buf = malloc(n);
    t_fill_pattern(buf, n, SEED, 0);
    rel_count rel = {0};
    coil_transport *t = pr.s->base.transport;
    assert_int_equal(coil_transport_write_borrowed(t, buf, n, count_release, &rel), 0);
    coil_transport_abort_connection(t);
    assert_int_equal(rel.calls, 0); /* from the loop, not from abort */
    t_pair_expect(&pr, COIL_EABORTED, -ECONNRESET);
    assert_int_equal(rel.calls, 1);
    assert_ptr_equal(rel.data, buf);
    assert_int_equal(rel.len, n);
    free(buf);
}

/* The send fails under a queued borrowed buffer: it is released all the same. */
static void write_borrowed_released_when_peer_resets(void **state)
{
    t_pair pr;
    t_pair_open(&pr);
    coil_transport_pause_reading(pr.c->base.transport);
    unsigned char *buf = malloc(BIG);
    t_fill_pattern(buf, BIG, SEED, 0);
    rel_count rel = {0};
    coil_transport *t = pr.s->base.transport;
    assert_int_equal(coil_transport_write_borrowed(t, buf, BIG, count_release, &rel), 0);
    t_run_for(pr.r, 0.1);
    assert_int_equal(rel.calls, 0); /* still partly queued */
    coil_transport_abort_connection(pr.c->base.transport);
    T_RUN_UNTIL(pr.r, pr.s->lost_count == 1, 10);
    assert_int_equal(rel.calls, 1);
    /* Lost through the failed send (EPIPE) or the reset seen by recv. */
    if (pr.s->lost_reason == -EPIPE)
        pr.s->lost_reason = -ECONNRESET;
    t_pair_expect(&pr, -ECONNRESET, COIL_EABORTED);
    assert_int_equal(rel.calls, 1);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lose_connection_flushes_4m_before_fin),
        cmocka_unit_test(write_after_lose_connection_is_delivered),
        cmocka_unit_test(abort_drops_queue_and_peer_sees_reset),
        cmocka_unit_test(lost_once_peer_fin),
        cmocka_unit_test(lost_once_peer_rst),
        cmocka_unit_test(lost_once_local_lose_server_side),
        cmocka_unit_test(lost_once_local_abort_server_side),
        cmocka_unit_test(lost_once_local_abort_client_side),
        cmocka_unit_test(lost_once_both_sides_close_at_once),
        cmocka_unit_test(lost_once_lose_then_abort),
        cmocka_unit_test(lost_once_abort_during_flush),
        cmocka_unit_test(lost_once_abort_inside_data_received),
        cmocka_unit_test(lost_once_lose_inside_connection_made_server),
        cmocka_unit_test(lost_once_lose_inside_connection_made_client),
        cmocka_unit_test(lost_once_on_reactor_stop),
        cmocka_unit_test(transport_calls_after_close_are_noops),
        cmocka_unit_test(write_borrowed_released_when_aborted_before_send),
        cmocka_unit_test(write_borrowed_released_when_peer_resets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
