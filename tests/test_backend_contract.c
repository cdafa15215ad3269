/* SPDX-License-Identifier: MIT */
/*
 * What every backend promises, on every backend: bad reactor options are
 * an error (never mistaken for a missing kernel feature), an adopted
 * descriptor's shared file description keeps its flags, accepted TCP
 * connections have TCP_NODELAY (inherited from the listener), and the
 * transport accessors (keepalive, protocol) reach the socket.
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int sockopt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);
    assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

static void bad_options_are_einval(void **state)
{
    static const struct {
        unsigned ring_entries, recv_buffers;
    } bad[] = {{40000, 0}, {0, 1000}, {0, 65536}, {65536, 1024}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        coil_reactor_options o;
        coil_reactor_options_init(&o);
        o.flags = COIL_REACTOR_NO_SIGNALS;
        o.ring_entries = bad[i].ring_entries;
        if (bad[i].recv_buffers)
            o.recv_buffers = bad[i].recv_buffers;
        t_log_capture();
        coil_reactor *r = NULL;
        assert_int_equal(coil_reactor_new(&r, &o), -EINVAL);
        assert_null(r);
        assert_int_equal(t_log_count("falling back"), 0);
        assert_int_equal(t_log_count("invalid reactor options"), 1);
    }
    /* The largest valid sizes work where io_uring does (and always elsewhere). */
    coil_reactor_options o;
    coil_reactor_options_init(&o);
    o.flags = COIL_REACTOR_NO_SIGNALS;
    o.ring_entries = 4096;
    o.recv_buffers = 4;
    coil_reactor *r = NULL;
    int rc = coil_reactor_new(&r, &o);
    if (rc == 0)
        coil_reactor_free(r);
    else
        assert_int_not_equal(rc, -EINVAL);
}

/* A listening socket made by "another process": here, by the test. */
static int listener(bool nonblocking, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static void adopted_description_keeps_its_flags(void **state)
{
    for (int nb = 0; nb < 2; nb++) {
        coil_reactor *r = t_reactor();
        t_factory f;
        t_factory_init(&f);
        f.echo = true;
        uint16_t port;
        int orig = listener(nb, &port);
        int before = fcntl(orig, F_GETFL);
        /* The reactor adopts a copy: the same file description, as systemd
         * and a parent process share it. */
        coil_port *p = NULL;
        assert_int_equal(coil_listen_adopt(r, fcntl(orig, F_DUPFD_CLOEXEC, 3), &f.base, &p), 0);
        assert_int_equal(fcntl(orig, F_GETFL), before);
        /* Connections are still accepted and served. */
        int c = t_peer_connect_tcp(port);
        assert_true(c >= 0);
        T_RUN_UNTIL(r, f.built == 1, 10);
        assert_int_equal(t_peer_write_all(c, "ping", 4), 0);
        char buf[4];
        T_RUN_UNTIL(r, f.last && f.last->rx.len == 4 &&
                           coil_transport_write_buffer_size(f.last->base.transport) == 0,
                    10); /* echoed: the kernel has the reply */
        assert_int_equal(t_peer_read_n(c, buf, 4), 4);
        assert_memory_equal(buf, "ping", 4);
        assert_int_equal(fcntl(orig, F_GETFL), before);
        assert_int_equal(!!(fcntl(orig, F_GETFL) & O_NONBLOCK), nb);
        close(c);
        T_RUN_UNTIL(r, f.lost == 1, 10);
        t_stop_listening(r, p);
        t_teardown(r);
        close(orig);
    }
}

static void accepted_tcp_has_nodelay(void **state)
{
    t_pair pr;
    t_pair_open(&pr);
    int sfd = coil_transport_fileno(pr.s->base.transport);
    int cfd = coil_transport_fileno(pr.c->base.transport);
    assert_true(sfd >= 0 && cfd >= 0);
    assert_int_equal(sockopt(sfd, IPPROTO_TCP, TCP_NODELAY) != 0, 1);
    assert_int_equal(sockopt(cfd, IPPROTO_TCP, TCP_NODELAY) != 0, 1);
    /* ... and can be switched off and on through the transport. */
    assert_int_equal(coil_transport_set_tcp_nodelay(pr.s->base.transport, false), 0);
    assert_int_equal(sockopt(sfd, IPPROTO_TCP, TCP_NODELAY), 0);
    coil_transport_lose_connection(pr.c->base.transport);
    t_pair_expect(&pr, 0, 0);
}

static void keepalive_and_protocol(void **state)
{
    t_pair pr;
    t_pair_open(&pr);
    coil_transport *t = pr.s->base.transport;
    int fd = coil_transport_fileno(t);
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
    assert_int_equal(coil_transport_set_tcp_keepalive(t, true), 0);
    assert_int_not_equal(sockopt(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
    assert_int_equal(coil_transport_set_tcp_keepalive(t, false), 0);
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
    /* The transport knows its protocol, on both ends. */
    assert_ptr_equal(coil_transport_protocol(t), &pr.s->base);
    assert_ptr_equal(coil_transport_protocol(pr.c->base.transport), &pr.c->base);
    /* Once closing, the options are refused. */
    coil_transport_abort_connection(t);
    assert_int_equal(coil_transport_set_tcp_keepalive(t, true), -ENOTCONN);
    assert_int_equal(coil_transport_fileno(t), -EBADF);
    t_pair_expect(&pr, COIL_EABORTED, -ECONNRESET);
}

static void unix_transport_refuses_tcp_options(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.keep = cli.keep = true;
    char path[128];
    coil_port *p = t_listen_unix(r, &srv.base, path);
    t_connect_result res = {0};
    assert_int_equal(coil_connect_unix(r, path, NULL, &cli.base, t_on_connect, &res, NULL), 0);
    T_RUN_UNTIL(r, res.done && srv.built == 1, 10);
    assert_int_equal(res.err, 0);
    coil_transport *t = ((t_conn *)res.p)->base.transport;
    assert_int_equal(coil_transport_set_tcp_keepalive(t, true), -EOPNOTSUPP);
    assert_int_equal(coil_transport_set_tcp_nodelay(t, true), -EOPNOTSUPP);
    assert_ptr_equal(coil_transport_protocol(t), res.p);
    coil_transport_lose_connection(t);
    T_RUN_UNTIL(r, cli.lost == 1 && srv.lost == 1, 10);
    t_conn_free((t_conn *)res.p);
    t_conn_free(srv.last);
    t_stop_listening(r, p);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_options_are_einval),
        cmocka_unit_test(adopted_description_keeps_its_flags),
        cmocka_unit_test(accepted_tcp_has_nodelay),
        cmocka_unit_test(keepalive_and_protocol),
        cmocka_unit_test(unix_transport_refuses_tcp_options),
    };
    return cmocka_run_group_tests_name("backend contract", tests, NULL, NULL);
}
