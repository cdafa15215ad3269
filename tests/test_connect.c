/* SPDX-License-Identifier: MIT */
/*
 * Connecting and listening on both backends: a successful connect (callback
 * after connection_made, bind_address), ECONNREFUSED, a timeout against a
 * black hole made on loopback (a listener whose backlog is full drops SYNs),
 * cancelling a pending connect, a pending connect at reactor stop,
 * EADDRINUSE with its log line, and factories that refuse a connection.
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static double now(coil_reactor *r)
{
    return coil_clock_seconds(coil_reactor_clock(r));
}

static void connect_ip(coil_reactor *r, const char *ip, uint16_t port, double timeout, t_factory *f,
                       t_connect_result *res, coil_connector **out)
{
    coil_address a;
    assert_int_equal(coil_address_from_ip(&a, ip, port), 0);
    coil_connect_options o = {.timeout = timeout};
    *res = (t_connect_result){0};
    assert_int_equal(coil_connect_tcp(r, &a, &o, &f->base, t_on_connect, res, out), 0);
    assert_int_equal(res->calls, 0); /* never synchronous */
}

/* ---- tests ------------------------------------------------------------------------- */

static void connect_succeeds_after_connection_made(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.keep = cli.keep = true;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv.base, &port);
    t_connect_result res;
    coil_connector *conn = NULL;
    coil_address bind_to;
    assert_int_equal(coil_address_from_ip(&bind_to, "127.0.0.2", 0), 0);
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", port);
    coil_connect_options o = {.bind_address = &bind_to};
    res = (t_connect_result){0};
    assert_int_equal(coil_connect_tcp(r, &a, &o, &cli.base, t_on_connect, &res, &conn), 0);
    assert_non_null(conn);
    assert_int_equal(res.calls, 0);
    assert_int_equal(cli.started, 1);
    T_RUN_UNTIL(r, res.calls == 1 && srv.last && srv.last->made, 10);
    assert_int_equal(res.err, 0);
    assert_non_null(res.p);
    assert_int_equal(res.made_before, 1); /* connection_made ran first */
    t_conn *c = (t_conn *)res.p, *s = srv.last;
    assert_ptr_equal(c->base.factory, &cli.base);
    coil_address h, peer;
    char ip[64];
    assert_int_equal(coil_transport_get_host(c->base.transport, &h), 0);
    assert_true(coil_address_host(&h, ip, sizeof(ip)) > 0);
    assert_string_equal(ip, "127.0.0.2");
    assert_int_equal(coil_transport_get_peer(s->base.transport, &peer), 0);
    assert_true(coil_address_equal(&h, &peer));
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(r, c->lost_count && s->lost_count, 10);
    assert_int_equal(res.calls, 1);
    assert_int_equal(cli.stopped, 1);
    t_conn_free(c);
    t_conn_free(s);
    t_stop_listening(r, lp);
    t_teardown(r);
}

static void connect_refused(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    /* A port that is bound but not listening refuses connections. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    t_connect_result res;
    connect_ip(r, "127.0.0.1", ntohs(sin.sin_port), 0, &f, &res, NULL);
    T_RUN_UNTIL(r, res.calls == 1, 10);
    t_run_for(r, 0.02);
    assert_int_equal(res.calls, 1);
    assert_int_equal(res.err, -ECONNREFUSED);
    assert_null(res.p);
    assert_int_equal(f.built, 0);
    assert_int_equal(f.started, 1); /* do_start/do_stop bracket the attempt */
    assert_int_equal(f.stopped, 1);
    close(fd);
    t_teardown(r);
}

static void connect_times_out_against_black_hole(void **state)
{
    t_black_hole bh;
    T_NEED_BLACK_HOLE(&bh);
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    t_connect_result res;
    double start = now(r);
    connect_ip(r, "127.0.0.1", bh.port, 0.5, &f, &res, NULL);
    T_RUN_UNTIL(r, res.calls == 1, 10);
    double took = now(r) - start;
    assert_int_equal(res.err, -ETIMEDOUT);
    assert_null(res.p);
    if (took < 0.45 || took > 3.0)
        fail_msg("timeout of 0.5 s took %.3f s", took);
    assert_int_equal(f.started, 1);
    assert_int_equal(f.stopped, 1);
    t_black_hole_close(&bh);
    t_teardown(r);
}

static void cancel_pending_connect(void **state)
{
    t_black_hole bh;
    T_NEED_BLACK_HOLE(&bh);
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    t_connect_result res, res2;
    coil_connector *c = NULL, *c2 = NULL;
    connect_ip(r, "127.0.0.1", bh.port, 10, &f, &res, &c);
    connect_ip(r, "127.0.0.1", bh.port, -1, &f, &res2, &c2);
    coil_connector_cancel(c2); /* before the loop ever ran */
    assert_int_equal(res2.calls, 0);
    t_run_for(r, 0.1);
    assert_int_equal(res.calls, 0); /* still pending */
    assert_int_equal(res2.calls, 1);
    assert_int_equal(res2.err, -ECANCELED);
    coil_connector_cancel(c);
    coil_connector_cancel(c); /* idempotent while pending */
    assert_int_equal(res.calls, 0);
    T_RUN_UNTIL(r, res.calls == 1, 5);
    t_run_for(r, 0.05);
    assert_int_equal(res.calls, 1);
    assert_int_equal(res.err, -ECANCELED);
    assert_null(res.p);
    assert_int_equal(f.built, 0);
    assert_int_equal(f.started, 1);
    assert_int_equal(f.stopped, 1);
    t_black_hole_close(&bh);
    t_teardown(r);
}

static void stop_reactor(void *arg)
{
    coil_reactor_stop(arg);
}

static void pending_connect_at_reactor_stop(void **state)
{
    t_black_hole bh;
    T_NEED_BLACK_HOLE(&bh);
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    t_connect_result res;
    connect_ip(r, "127.0.0.1", bh.port, -1, &f, &res, NULL);
    coil_reactor_call_later(r, 0.1, stop_reactor, r);
    alarm(30); /* run() has no timeout of its own: bound it */
    assert_int_equal(coil_reactor_run(r), 0);
    alarm(0);
    assert_int_equal(res.calls, 1);
    assert_int_equal(res.err, COIL_ESHUTDOWN);
    assert_int_equal(f.stopped, 1);
    t_black_hole_close(&bh);
    t_teardown(r);
}

static void listen_eaddrinuse_logs(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory f, f2;
    t_factory_init(&f);
    t_factory_init(&f2);
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &f.base, &port);
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", port);
    coil_port *lp2 = NULL;
    t_log_capture();
    int rc = coil_listen_tcp(r, &a, NULL, &f2.base, &lp2);
    coil_log_set_handler(NULL, NULL);
    coil_log_set_level(COIL_LOG_WARN);
    assert_int_equal(rc, -EADDRINUSE);
    char want[128];
    snprintf(want, sizeof(want), "Couldn't listen on 127.0.0.1:%u: Address already in use.",
             (unsigned)port);
    assert_int_equal(t_log_count(want), 1);
    assert_int_equal(f2.started, 0); /* nothing was started or left open */
    assert_int_equal(coil_reactor_live_handles(r), 1);
    t_stop_listening(r, lp);
    t_teardown(r);
}

static bool peer_sees_eof(int fd)
{
    char b;
    return recv(fd, &b, 1, MSG_DONTWAIT) == 0;
}

static void server_factory_refusing_closes_socket(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.refuse = true;
    srv.echo = true;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv.base, &port);
    int fd = t_peer_connect_tcp(port);
    assert_true(fd >= 0);
    T_RUN_UNTIL(r, peer_sees_eof(fd), 10); /* closed, not reset */
    close(fd);
    assert_int_equal(srv.built, 0);
    assert_int_equal(srv.lost, 0); /* no protocol, no callbacks */
    /* The port goes on accepting. */
    srv.refuse = false;
    fd = t_peer_connect_tcp(port);
    assert_true(fd >= 0);
    assert_int_equal(t_peer_write_all(fd, "ping", 4), 0);
    char buf[4];
    T_RUN_UNTIL(r, recv(fd, buf, 4, MSG_DONTWAIT | MSG_PEEK) == 4, 10);
    assert_int_equal(recv(fd, buf, 4, 0), 4);
    assert_memory_equal(buf, "ping", 4);
    close(fd);
    T_RUN_UNTIL(r, srv.lost == 1, 10);
    assert_int_equal(srv.built, 1);
    t_stop_listening(r, lp);
    t_teardown(r);
}

static void client_factory_refusing_gives_enoprotocol(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.keep = true;
    cli.refuse = true;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv.base, &port);
    t_connect_result res;
    connect_ip(r, "127.0.0.1", port, 0, &cli, &res, NULL);
    T_RUN_UNTIL(r, res.calls == 1, 10);
    assert_int_equal(res.err, COIL_ENOPROTOCOL);
    assert_null(res.p);
    assert_int_equal(cli.started, 1);
    assert_int_equal(cli.stopped, 1);
    /* The server side saw the connection and its orderly close. */
    T_RUN_UNTIL(r, srv.lost == 1, 10);
    assert_int_equal(srv.last->lost_reason, 0);
    t_conn_free(srv.last);
    t_stop_listening(r, lp);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connect_succeeds_after_connection_made),
        cmocka_unit_test(connect_refused),
        cmocka_unit_test(connect_times_out_against_black_hole),
        cmocka_unit_test(cancel_pending_connect),
        cmocka_unit_test(pending_connect_at_reactor_stop),
        cmocka_unit_test(listen_eaddrinuse_logs),
        cmocka_unit_test(server_factory_refusing_closes_socket),
        cmocka_unit_test(client_factory_refusing_gives_enoprotocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
