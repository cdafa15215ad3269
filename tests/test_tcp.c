/* SPDX-License-Identifier: MIT */
/*
 * TCP transports on both backends: echo round trips (coil on both ends, and
 * a blocking peer thread against a coil server), 500 concurrent clients,
 * addresses (IPv4, IPv6), the order of mixed write/writev/write_borrowed,
 * and write_borrowed's release (once after sending; never on error). Its
 * release on abort or failed send, and calls on a closed transport, are in
 * test_close.c.
 */
#include "helpers.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define KIB 1024u
#define MIB (1024u * 1024u)

static unsigned char *pattern(size_t n, uint32_t seed)
{
    unsigned char *b = malloc(n ? n : 1);
    assert_non_null(b);
    t_fill_pattern(b, n, seed, 0);
    return b;
}

static void assert_pattern(const unsigned char *data, size_t n, uint32_t seed, size_t offset)
{
    unsigned char want[4096];
    for (size_t i = 0; i < n; i += sizeof(want)) {
        size_t k = n - i < sizeof(want) ? n - i : sizeof(want);
        t_fill_pattern(want, k, seed, offset + i);
        if (memcmp(data + i, want, k) != 0)
            fail_msg("pattern mismatch in the %zu bytes at offset %zu", k, offset + i);
    }
}

/* ---- echo with coil on both ends ------------------------------------------ */

typedef struct echo_ctx {
    size_t n;
    uint32_t seed;
} echo_ctx;

static void send_pattern_on_made(t_conn *c)
{
    echo_ctx *e = c->user;
    unsigned char *buf = pattern(e->n, e->seed);
    assert_int_equal(coil_transport_write(c->base.transport, buf, e->n), 0);
    free(buf);
}

static void echo_in_one_reactor(size_t n)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.echo = srv.keep = cli.keep = true;
    echo_ctx e = {n, 0x5eed0000u + (uint32_t)n};
    cli.user = &e;
    cli.on_made = send_pattern_on_made;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv.base, &port);
    int err = -1;
    t_conn *c = (t_conn *)t_connect_tcp(r, &cli.base, port, &err);
    assert_int_equal(err, 0);
    assert_non_null(c);
    assert_int_equal(c->made, 1);
    T_RUN_UNTIL(r, c->rx.len >= n, 60);
    assert_int_equal(c->rx.len, n);
    assert_pattern(c->rx.data, n, e.seed, 0);
    t_conn *s = srv.last;
    assert_int_equal(s->rx.len, n);

    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(r, c->lost_count && s->lost_count, 10);
    t_run_for(r, 0.02);
    assert_int_equal(c->lost_count, 1);
    assert_int_equal(s->lost_count, 1);
    assert_int_equal(c->lost_reason, 0);
    assert_int_equal(s->lost_reason, 0); /* peer FIN on a non-half-closeable protocol */
    t_conn_free(c);
    t_conn_free(s);
    t_stop_listening(r, lp);
    assert_int_equal(srv.started, 1);
    assert_int_equal(srv.stopped, 1);
    assert_int_equal(cli.started, 1);
    assert_int_equal(cli.stopped, 1);
    t_teardown(r);
}

static void echo_1_byte_coil_client_and_server(void **state)
{
    echo_in_one_reactor(1);
}

static void echo_64k_coil_client_and_server(void **state)
{
    echo_in_one_reactor(64 * KIB);
}

static void echo_8m_coil_client_and_server(void **state)
{
    echo_in_one_reactor(8 * MIB);
}

/* ---- echo against a blocking peer thread ---------------------------------- */

typedef struct peer_job {
    uint16_t port;
    size_t n;
    uint32_t seed;
    int rc;
    atomic_int done;
} peer_job;

static void *peer_echo_main(void *arg)
{
    peer_job *j = arg;
    int fd = t_peer_connect_tcp(j->port);
    if (fd < 0) {
        j->rc = fd;
        atomic_store(&j->done, 1);
        return NULL;
    }
    unsigned char *out = pattern(j->n, j->seed), *in = malloc(j->n);
    int rc = t_peer_write_all(fd, out, j->n);
    if (rc == 0) {
        ssize_t got = t_peer_read_n(fd, in, j->n);
        rc = got < 0                 ? (int)got
             : (size_t)got != j->n   ? -EPROTO
             : memcmp(in, out, j->n) ? -EBADMSG
                                     : 0;
    }
    if (rc == 0) { /* half-close: the echo server flushes and closes */
        shutdown(fd, SHUT_WR);
        t_buf rest = {0};
        rc = t_peer_read_to_eof(fd, &rest);
        if (rc == 0 && rest.len)
            rc = -EPROTO;
        t_buf_free(&rest);
    }
    close(fd);
    free(out);
    free(in);
    j->rc = rc;
    atomic_store(&j->done, 1);
    return NULL;
}

static void echo_with_peer_thread(size_t n)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.echo = srv.keep = true;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv.base, &port);
    peer_job j = {.port = port, .n = n, .seed = 0xabc00000u + (uint32_t)n};
    t_thread *th = t_thread_start(peer_echo_main, &j);
    T_RUN_UNTIL(r, atomic_load(&j.done) && srv.lost == 1, 60);
    t_thread_join(th);
    if (j.rc != 0)
        fail_msg("peer: %s", coil_strerror(j.rc));
    t_conn *s = srv.last;
    assert_int_equal(s->rx.len, n);
    assert_pattern(s->rx.data, n, j.seed, 0);
    assert_int_equal(s->lost_count, 1);
    assert_int_equal(s->lost_reason, 0);
    t_conn_free(s);
    t_stop_listening(r, lp);
    t_teardown(r);
}

static void echo_1_byte_peer_thread(void **state)
{
    echo_with_peer_thread(1);
}

static void echo_64k_peer_thread(void **state)
{
    echo_with_peer_thread(64 * KIB);
}

static void echo_8m_peer_thread(void **state)
{
    echo_with_peer_thread(8 * MIB);
}

/* ---- 500 concurrent clients ------------------------------------------------ */

#define NCLIENTS 500

typedef struct mc_conn {
    coil_protocol base;
    struct mc *m;
    uint32_t seed;
    size_t len, got;
    int lost, reason;
} mc_conn;

typedef struct mc {
    coil_factory base;
    mc_conn conns[NCLIENTS];
    int built, verified, lost, connect_ok, connect_err, last_err;
} mc;

static void mc_made(coil_protocol *p)
{
    mc_conn *c = (mc_conn *)p;
    unsigned char *buf = pattern(c->len, c->seed);
    assert_int_equal(coil_transport_write(p->transport, buf, c->len), 0);
    free(buf);
}

static void mc_data(coil_protocol *p, const void *data, size_t len)
{
    mc_conn *c = (mc_conn *)p;
    assert_true(c->got + len <= c->len);
    assert_pattern(data, len, c->seed, c->got);
    c->got += len;
    if (c->got == c->len) {
        c->m->verified++;
        coil_transport_lose_connection(p->transport);
    }
}

static void mc_lost(coil_protocol *p, int reason)
{
    mc_conn *c = (mc_conn *)p;
    c->lost++;
    c->reason = reason;
    c->m->lost++;
}

static const coil_protocol_ops mc_ops = {
    .connection_made = mc_made, .data_received = mc_data, .connection_lost = mc_lost};

static coil_protocol *mc_build(coil_factory *f, const coil_address *addr)
{
    mc *m = (mc *)f;
    assert_true(m->built < NCLIENTS);
    int i = m->built++;
    mc_conn *c = &m->conns[i];
    c->base.ops = &mc_ops;
    c->m = m;
    c->seed = 0x10000u + (uint32_t)i * 7919u;
    c->len = 100 + ((size_t)i * 131) % 6000;
    return &c->base;
}

static const coil_factory_ops mc_factory_ops = {.build_protocol = mc_build};

static void mc_connected(void *arg, coil_protocol *p, int err)
{
    mc *m = arg;
    if (err == 0)
        m->connect_ok++;
    else {
        m->connect_err++;
        m->last_err = err;
    }
}

static int srv_bad_reasons;
static void count_bad_reason(t_conn *c, int reason)
{
    if (reason != 0)
        srv_bad_reasons++;
}

static void concurrent_500_clients_echo(void **state)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4 * NCLIENTS) {
        rl.rlim_cur = rl.rlim_max < 4 * NCLIENTS ? rl.rlim_max : 4 * NCLIENTS;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.echo = true;
    srv_bad_reasons = 0;
    srv.on_lost = count_bad_reason;
    coil_address a;
    assert_int_equal(coil_address_from_ip(&a, "127.0.0.1", 0), 0);
    coil_listen_options lo = {.backlog = 1024}; /* all SYNs land in the queue at once */
    coil_port *lp = NULL;
    assert_int_equal(coil_listen_tcp(r, &a, &lo, &srv.base, &lp), 0);
    coil_address host;
    coil_port_get_host(lp, &host);
    mc *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->base.ops = &mc_factory_ops;
    for (int i = 0; i < NCLIENTS; i++)
        assert_int_equal(coil_connect_tcp(r, &host, NULL, &m->base, mc_connected, m, NULL), 0);
    T_RUN_UNTIL(r, m->connect_ok + m->connect_err == NCLIENTS, 30);
    if (m->connect_err)
        fail_msg("%d connects failed, last: %s", m->connect_err, coil_strerror(m->last_err));
    T_RUN_UNTIL(r, m->lost == NCLIENTS && srv.lost == NCLIENTS, 60);
    assert_int_equal(m->verified, NCLIENTS);
    for (int i = 0; i < NCLIENTS; i++) {
        assert_int_equal(m->conns[i].lost, 1);
        assert_int_equal(m->conns[i].reason, 0);
    }
    assert_int_equal(srv.built, NCLIENTS);
    assert_int_equal(srv_bad_reasons, 0);
    assert_int_equal(srv.open, 0);
    free(m);
    t_stop_listening(r, lp);
    t_teardown(r);
}

/* ---- addresses -------------------------------------------------------------- */

static void check_formats(coil_reactor *r, const char *ip, const char *fmt_host)
{
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.keep = cli.keep = true;
    coil_address a;
    assert_int_equal(coil_address_from_ip(&a, ip, 0), 0);
    coil_port *lp = NULL;
    int rc = coil_listen_tcp(r, &a, NULL, &srv.base, &lp);
    if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT) {
        t_teardown(r);
        printf("no %s loopback here (%s): skipping\n", ip, coil_strerror(rc));
        skip();
    }
    assert_int_equal(rc, 0);
    coil_address ph;
    coil_port_get_host(lp, &ph);
    uint16_t port = coil_address_port(&ph);
    assert_true(port != 0);
    coil_connect_options co = {.timeout = 10};
    t_connect_result res = {0};
    assert_int_equal(coil_connect_tcp(r, &ph, &co, &cli.base, t_on_connect, &res, NULL), 0);
    T_RUN_UNTIL(r, res.done && srv.last && srv.last->made, 10);
    assert_int_equal(res.err, 0);
    assert_non_null(res.p);
    t_conn *c = (t_conn *)res.p, *s = srv.last;

    coil_address sh, sp, ch, cpeer;
    assert_int_equal(coil_transport_get_host(s->base.transport, &sh), 0);
    assert_int_equal(coil_transport_get_peer(s->base.transport, &sp), 0);
    assert_int_equal(coil_transport_get_host(c->base.transport, &ch), 0);
    assert_int_equal(coil_transport_get_peer(c->base.transport, &cpeer), 0);
    assert_int_equal(coil_address_family(&sh), coil_address_family(&a));
    assert_true(coil_address_equal(&sh, &ph));
    assert_true(coil_address_equal(&cpeer, &sh));
    assert_true(coil_address_equal(&sp, &ch));
    assert_int_equal(coil_address_port(&sh), port);

    char buf[COIL_ADDRESS_STRLEN], want[COIL_ADDRESS_STRLEN];
    snprintf(want, sizeof(want), fmt_host, (unsigned)port);
    assert_true(coil_address_format(&sh, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, want);
    assert_true(coil_address_format(&ph, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, want);
    snprintf(want, sizeof(want), fmt_host, (unsigned)coil_address_port(&sp));
    assert_true(coil_address_format(&sp, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, want);

    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(r, c->lost_count && s->lost_count, 10);
    assert_int_equal(c->lost_reason, 0);
    assert_int_equal(s->lost_reason, 0);
    t_conn_free(c);
    t_conn_free(s);
    t_stop_listening(r, lp);
    t_teardown(r);
}

static void addresses_ipv4(void **state)
{
    check_formats(t_reactor(), "127.0.0.1", "127.0.0.1:%u");
}

static void addresses_ipv6(void **state)
{
    check_formats(t_reactor(), "::1", "[::1]:%u");
}

/* ---- write variants ----------------------------------------------------------- */

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

static void writev_and_mixed_writes_keep_order(void **state)
{
    t_pair pr;
    t_pair_open(&pr);
    /* Segments of one pattern stream, written with every write variant. */
    static const size_t seg[] = {10, 20000, 0, 5, 70000, 100000, 1, 3, 16384, 16385};
    size_t total = 0;
    for (size_t i = 0; i < sizeof(seg) / sizeof(seg[0]); i++)
        total += seg[i];
    unsigned char *full = pattern(total, 99);
    coil_transport *t = pr.s->base.transport;
    rel_count rel = {0};
    const unsigned char *p = full;
    assert_int_equal(coil_transport_write(t, p, seg[0]), 0);
    p += seg[0];
    struct iovec iov[3] = {{(void *)p, seg[1]},
                           {(void *)(p + seg[1]), seg[2]},
                           {(void *)(p + seg[1] + seg[2]), seg[3]}};
    assert_int_equal(coil_transport_writev(t, iov, 3), 0);
    p += seg[1] + seg[2] + seg[3];
    assert_int_equal(coil_transport_write_borrowed(t, p, seg[4], count_release, &rel), 0);
    p += seg[4];
    struct iovec iov2[2] = {{(void *)p, seg[5]}, {(void *)(p + seg[5]), seg[6]}};
    assert_int_equal(coil_transport_writev(t, iov2, 2), 0);
    p += seg[5] + seg[6];
    assert_int_equal(coil_transport_write(t, p, seg[7]), 0);
    p += seg[7];
    assert_int_equal(coil_transport_write_borrowed(t, p, seg[8], count_release, &rel), 0);
    p += seg[8];
    assert_int_equal(coil_transport_write(t, p, seg[9]), 0);
    assert_int_equal(coil_transport_write_buffer_size(t), total);
    T_RUN_UNTIL(pr.r, pr.c->rx.len >= total && rel.calls == 2, 20);
    assert_int_equal(pr.c->rx.len, total);
    assert_memory_equal(pr.c->rx.data, full, total);
    coil_transport_lose_connection(t);
    t_pair_expect(&pr, 0, 0);
    free(full);
}

static void write_borrowed_released_once_after_send(void **state)
{
    t_pair pr;
    t_pair_open(&pr);
    size_t n = 256 * KIB;
    unsigned char *buf = malloc(n);
    t_fill_pattern(buf, n, 77, 0);
    rel_count rel = {0};
    coil_transport *t = pr.s->base.transport;
    assert_int_equal(coil_transport_write_borrowed(t, buf, n, count_release, &rel), 0);
    assert_int_equal(rel.calls, 0);
    T_RUN_UNTIL(pr.r, pr.c->rx.len == n && rel.calls == 1, 20);
    t_run_for(pr.r, 0.05);
    assert_int_equal(rel.calls, 1);
    assert_ptr_equal(rel.data, buf);
    assert_int_equal(rel.len, n);
    assert_pattern(pr.c->rx.data, n, 77, 0);
    coil_transport_lose_connection(t);
    t_pair_expect(&pr, 0, 0);
    assert_int_equal(rel.calls, 1);
    free(buf);
}

static void write_borrowed_error_never_releases(void **state)
{
    t_pair pr;
    t_pair_open(&pr);
    static const char msg[] = "borrowed";
    rel_count rel = {0};
    coil_transport *t = pr.s->base.transport;
    assert_int_equal(coil_transport_write_borrowed(t, msg, 0, count_release, &rel), -EINVAL);
    assert_int_equal(coil_transport_write_borrowed(t, msg, sizeof(msg), NULL, &rel), -EINVAL);
    coil_transport_lose_write_connection(t);
    assert_int_equal(coil_transport_write_borrowed(t, msg, sizeof(msg), count_release, &rel),
                     -ENOTCONN);
    coil_transport_abort_connection(t);
    assert_int_equal(coil_transport_write_borrowed(t, msg, sizeof(msg), count_release, &rel),
                     -ENOTCONN);
    t_pair_expect(&pr, COIL_EABORTED, -ECONNRESET);
    assert_int_equal(rel.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(echo_1_byte_coil_client_and_server),
        cmocka_unit_test(echo_64k_coil_client_and_server),
        cmocka_unit_test(echo_8m_coil_client_and_server),
        cmocka_unit_test(echo_1_byte_peer_thread),
        cmocka_unit_test(echo_64k_peer_thread),
        cmocka_unit_test(echo_8m_peer_thread),
        cmocka_unit_test(concurrent_500_clients_echo),
        cmocka_unit_test(addresses_ipv4),
        cmocka_unit_test(addresses_ipv6),
        cmocka_unit_test(writev_and_mixed_writes_keep_order),
        cmocka_unit_test(write_borrowed_released_once_after_send),
        cmocka_unit_test(write_borrowed_error_never_releases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
