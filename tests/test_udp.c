/* SPDX-License-Identifier: MIT */
/*
 * Datagram ports on every backend: UDP echo of datagrams from 0 bytes to
 * the largest IPv4 payload, a burst of many datagrams, connected UDP with an
 * ICMP refusal, write errors, multicast on loopback, UNIX datagram sockets
 * (server and connected client), and the exactly-once stop callbacks.
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEED 0x0d6au
#define BURST 400
#define BURST_LEN 64
#define MAX_IPV4_PAYLOAD 65507

typedef struct u_proto {
    coil_datagram_protocol base;
    bool echo;
    int started, stopped, refused;
    size_t count; /* datagrams received */
    t_buf last;   /* the last one */
    coil_address last_from;
    bool seen[BURST]; /* burst sequence numbers received */
    int done_calls;
    bool hello_at_start; /* write "hello" (no address) from start_protocol */
} u_proto;

static void u_started(coil_datagram_protocol *p)
{
    u_proto *u = (u_proto *)p;
    assert_non_null(p->transport);
    u->started++;
    if (u->hello_at_start)
        assert_int_equal(coil_datagram_write(p->transport, "hello", 5, NULL), 0);
}

static void u_received(coil_datagram_protocol *p, const void *data, size_t len,
                       const coil_address *from)
{
    u_proto *u = (u_proto *)p;
    u->count++;
    u->last.len = 0;
    if (len)
        t_buf_append(&u->last, data, len);
    u->last_from = *from;
    if (len == BURST_LEN) {
        uint32_t seq;
        memcpy(&seq, data, sizeof(seq));
        if (seq < BURST)
            u->seen[seq] = true;
    }
    if (u->echo)
        assert_int_equal(coil_datagram_write(p->transport, data, len, from), 0);
}

static void u_refused(coil_datagram_protocol *p)
{
    ((u_proto *)p)->refused++;
}

static void u_stopped(coil_datagram_protocol *p)
{
    u_proto *u = (u_proto *)p;
    u->stopped++;
    assert_int_equal(u->stopped, u->started); /* once per port */
}

static const coil_datagram_protocol_ops u_ops = {
    .start_protocol = u_started,
    .datagram_received = u_received,
    .connection_refused = u_refused,
    .stop_protocol = u_stopped,
};

static void u_init(u_proto *u, bool echo)
{
    memset(u, 0, sizeof(*u));
    u->base.ops = &u_ops;
    u->echo = echo;
}

static void on_done(void *arg)
{
    ((u_proto *)arg)->done_calls++;
}

/* Stop, wait for stop_protocol and done, and check each ran once. */
static void stop_port(coil_reactor *r, u_proto *u)
{
    coil_datagram_port *port = u->base.transport;
    coil_datagram_stop_listening(port, on_done, u);
    coil_datagram_stop_listening(port, on_done, u); /* idempotent */
    T_RUN_UNTIL(r, u->done_calls == 1, 10);
    assert_int_equal(u->stopped, 1);
    t_buf_free(&u->last);
}

static coil_datagram_port *listen_loopback(coil_reactor *r, u_proto *u, coil_address *where)
{
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", 0);
    coil_datagram_port *port = NULL;
    assert_int_equal(coil_listen_udp(r, &a, &u->base, &port), 0);
    assert_non_null(port);
    assert_int_equal(u->started, 1);
    assert_ptr_equal(u->base.transport, port);
    assert_int_equal(coil_datagram_get_host(port, where), 0);
    assert_int_not_equal(coil_address_port(where), 0);
    return port;
}

/* Room for a burst in both sockets' receive queues (SO_RCVBUFFORCE as root). */
static void big_rcvbuf(coil_datagram_port *port)
{
    int fd = coil_datagram_fileno(port), size = 8 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

static void udp_echo_sizes(void **state)
{
    coil_reactor *r = t_reactor();
    u_proto srv, cli;
    u_init(&srv, true);
    u_init(&cli, false);
    coil_address saddr, caddr;
    coil_datagram_port *sp = listen_loopback(r, &srv, &saddr);
    coil_datagram_port *cp = listen_loopback(r, &cli, &caddr);
    static const size_t sizes[] = {0, 1, 100, 1472, 8192, 16384, 16385, 40000, MAX_IPV4_PAYLOAD};
    unsigned char *buf = malloc(MAX_IPV4_PAYLOAD);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        t_fill_pattern(buf, n, SEED + (uint32_t)i, 0);
        size_t before = cli.count;
        assert_int_equal(coil_datagram_write(cp, buf, n, &saddr), 0);
        T_RUN_UNTIL(r, cli.count == before + 1, 10);
        assert_int_equal(cli.last.len, n);
        if (n)
            assert_memory_equal(cli.last.data, buf, n);
        assert_true(coil_address_equal(&cli.last_from, &saddr));
        assert_true(coil_address_equal(&srv.last_from, &caddr));
    }
    assert_int_equal(srv.count, sizeof(sizes) / sizeof(sizes[0]));
    /* Too long for UDP. */
    unsigned char *huge = calloc(1, 70000);
    assert_int_equal(coil_datagram_write(cp, huge, 70000, &saddr), -EMSGSIZE);
    free(huge);
    free(buf);
    stop_port(r, &cli);
    stop_port(r, &srv);
    (void)sp;
    t_teardown(r);
}

static void udp_burst(void **state)
{
    coil_reactor *r = t_reactor();
    u_proto srv, cli;
    u_init(&srv, true);
    u_init(&cli, false);
    coil_address saddr, caddr;
    coil_datagram_port *sp = listen_loopback(r, &srv, &saddr);
    coil_datagram_port *cp = listen_loopback(r, &cli, &caddr);
    big_rcvbuf(sp);
    big_rcvbuf(cp);
    unsigned char d[BURST_LEN];
    memset(d, 0xab, sizeof(d));
    coil_reactor_stats before;
    coil_reactor_get_stats(r, &before);
    for (uint32_t i = 0; i < BURST; i++) {
        memcpy(d, &i, sizeof(i));
        assert_int_equal(coil_datagram_write(cp, d, sizeof(d), &saddr), 0);
    }
    T_RUN_UNTIL(r, cli.count == BURST, 20);
    assert_int_equal(srv.count, BURST);
    if (strcmp(coil_reactor_backend_name(r), "io_uring") == 0) {
        /* Multishot recvmsg: one request receives many datagrams. */
        coil_reactor_stats after;
        coil_reactor_get_stats(r, &after);
        print_message("%llu SQEs for %d datagrams each way\n",
                      (unsigned long long)(after.sqes - before.sqes), BURST);
        assert_true(after.sqes - before.sqes < BURST / 4);
    }
    for (int i = 0; i < BURST; i++)
        assert_true(cli.seen[i]);
    stop_port(r, &cli);
    stop_port(r, &srv);
    t_teardown(r);
}

/* A UDP port nobody listens on (bound and closed again). */
static uint16_t closed_udp_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

static void udp_connected_refused(void **state)
{
    coil_reactor *r = t_reactor();
    u_proto cli;
    u_init(&cli, false);
    coil_address caddr, peer, other;
    coil_datagram_port *cp = listen_loopback(r, &cli, &caddr);
    assert_int_equal(coil_datagram_write(cp, "x", 1, NULL), -EDESTADDRREQ);
    assert_int_equal(coil_datagram_get_peer(cp, &peer), -ENOTCONN);
    coil_address_from_ip(&peer, "127.0.0.1", closed_udp_port());
    assert_int_equal(coil_datagram_connect(cp, &peer), 0);
    assert_int_equal(coil_datagram_connect(cp, &peer), -EISCONN);
    coil_address got;
    assert_int_equal(coil_datagram_get_peer(cp, &got), 0);
    assert_true(coil_address_equal(&got, &peer));
    coil_address_from_ip(&other, "127.0.0.1", 9);
    assert_int_equal(coil_datagram_write(cp, "x", 1, &other), -EISCONN);
    /* The port is closed: the ICMP error comes back as a refusal. */
    assert_int_equal(coil_datagram_write(cp, "ping", 4, NULL), 0);
    T_RUN_UNTIL(r, cli.refused >= 1, 10);
    assert_int_equal(cli.count, 0);
    /* Still usable: a peer that appears on that port is heard. */
    stop_port(r, &cli);
    t_teardown(r);
}

static void udp_connected_exchange(void **state)
{
    coil_reactor *r = t_reactor();
    u_proto srv, cli;
    u_init(&srv, true);
    u_init(&cli, false);
    coil_address saddr, caddr;
    listen_loopback(r, &srv, &saddr);
    coil_datagram_port *cp = listen_loopback(r, &cli, &caddr);
    assert_int_equal(coil_datagram_connect(cp, &saddr), 0);
    assert_int_equal(coil_datagram_write(cp, "hello", 5, NULL), 0);
    assert_int_equal(coil_datagram_write(cp, "again", 5, &saddr), 0); /* the peer itself */
    T_RUN_UNTIL(r, cli.count == 2, 10);
    assert_memory_equal(cli.last.data, "again", 5);
    assert_int_equal(cli.refused, 0);
    /* Stopped but not yet closed: the port refuses writes. */
    coil_datagram_stop_listening(cp, on_done, &cli);
    assert_int_equal(coil_datagram_write(cp, "x", 1, NULL), -ENOTCONN);
    assert_int_equal(coil_datagram_fileno(cp), -EBADF);
    stop_port(r, &cli);
    stop_port(r, &srv);
    t_teardown(r);
}

static void udp_multicast_loopback(void **state)
{
    coil_reactor *r = t_reactor();
    u_proto m;
    u_init(&m, false);
    coil_address any;
    coil_address_from_ip(&any, "0.0.0.0", 0);
    coil_datagram_port *mp = NULL;
    assert_int_equal(coil_listen_multicast(r, &any, &m.base, true, &mp), 0);
    coil_address host;
    coil_datagram_get_host(mp, &host);
    assert_int_equal(coil_datagram_get_loopback(mp), 1);
    assert_int_equal(coil_datagram_set_loopback(mp, false), 0);
    assert_int_equal(coil_datagram_get_loopback(mp), 0);
    assert_int_equal(coil_datagram_set_loopback(mp, true), 0);
    assert_int_equal(coil_datagram_get_ttl(mp), 1);
    assert_int_equal(coil_datagram_set_ttl(mp, 2), 0);
    assert_int_equal(coil_datagram_get_ttl(mp), 2);
    assert_int_equal(coil_datagram_set_ttl(mp, 300), -EINVAL);
    assert_int_equal(coil_datagram_join_group(mp, "not-an-ip", NULL), -EINVAL);
    int rc = coil_datagram_join_group(mp, "239.255.42.99", "127.0.0.1");
    if (rc == 0)
        rc = coil_datagram_set_outgoing_interface(mp, "127.0.0.1");
    coil_address group;
    coil_address_from_ip(&group, "239.255.42.99", coil_address_port(&host));
    if (rc == 0)
        rc = coil_datagram_write(mp, "to the group", 12, &group);
    if (rc < 0) {
        printf("multicast on loopback refused here (%s): skipping\n", coil_strerror(rc));
        stop_port(r, &m);
        t_teardown(r);
        skip();
    }
    T_RUN_UNTIL(r, m.count == 1, 10);
    assert_int_equal(m.last.len, 12);
    assert_memory_equal(m.last.data, "to the group", 12);
    /* After leaving, the group's datagrams no longer arrive; a direct one
     * proves the port still works and that nothing else came first. */
    assert_int_equal(coil_datagram_leave_group(mp, "239.255.42.99", "127.0.0.1"), 0);
    assert_int_equal(coil_datagram_write(mp, "lost", 4, &group), 0);
    coil_address direct;
    coil_address_from_ip(&direct, "127.0.0.1", coil_address_port(&host));
    assert_int_equal(coil_datagram_write(mp, "direct", 6, &direct), 0);
    T_RUN_UNTIL(r, m.count >= 2, 10);
    assert_int_equal(m.count, 2);
    assert_memory_equal(m.last.data, "direct", 6);
    stop_port(r, &m);
    t_teardown(r);
}

static void unix_path(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "/tmp/coil-udp-%ld-%s.sock", (long)getpid(), tag);
    unlink(buf);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void unix_datagram_echo(void **state)
{
    coil_reactor *r = t_reactor();
    char spath[108], cpath[108];
    unix_path(spath, sizeof(spath), "srv");
    unix_path(cpath, sizeof(cpath), "cli");
    u_proto srv, cli;
    u_init(&srv, true);
    u_init(&cli, false);
    coil_datagram_port *sp = NULL, *cp = NULL;
    assert_int_equal(coil_listen_unix_datagram(r, spath, 0600, &srv.base, &sp), 0);
    struct stat st;
    assert_int_equal(stat(spath, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* The file is taken: a second listener fails and leaves it alone. */
    u_proto dup;
    u_init(&dup, false);
    coil_datagram_port *dp = NULL;
    assert_int_equal(coil_listen_unix_datagram(r, spath, 0, &dup.base, &dp), -EADDRINUSE);
    assert_int_equal(dup.started, 0);
    assert_int_equal(coil_connect_unix_datagram(r, spath, cpath, &cli.base, &cp), 0);
    unsigned char big[60000];
    t_fill_pattern(big, sizeof(big), SEED, 0);
    assert_int_equal(coil_datagram_write(cp, big, sizeof(big), NULL), 0);
    T_RUN_UNTIL(r, cli.count == 1, 10);
    assert_int_equal(cli.last.len, sizeof(big));
    assert_memory_equal(cli.last.data, big, sizeof(big));
    assert_int_equal(coil_datagram_write(cp, "", 0, NULL), 0);
    T_RUN_UNTIL(r, cli.count == 2, 10);
    assert_int_equal(cli.last.len, 0);
    /* Longer than COIL_DATAGRAM_MAX (UNIX datagrams may be): truncated to
     * it on every backend, and the echo of that comes back. */
    unsigned char *huge = malloc(70000);
    t_fill_pattern(huge, 70000, SEED + 1, 0);
    assert_int_equal(coil_datagram_write(cp, huge, 70000, NULL), 0);
    T_RUN_UNTIL(r, cli.count == 3, 10);
    assert_int_equal(srv.last.len, COIL_DATAGRAM_MAX);
    assert_int_equal(cli.last.len, COIL_DATAGRAM_MAX);
    assert_memory_equal(cli.last.data, huge, COIL_DATAGRAM_MAX);
    free(huge);
    char host[128];
    assert_true(coil_address_host(&srv.last_from, host, sizeof(host)) > 0);
    assert_string_equal(host, cpath);
    stop_port(r, &cli);
    assert_false(exists(cpath));
    stop_port(r, &srv);
    assert_false(exists(spath));
    t_teardown(r);
}

/* A connected client may write from start_protocol already. */
static void unix_datagram_client_writes_at_start(void **state)
{
    coil_reactor *r = t_reactor();
    char spath[108], cpath[108];
    unix_path(spath, sizeof(spath), "hello-srv");
    unix_path(cpath, sizeof(cpath), "hello-cli");
    u_proto srv, cli;
    u_init(&srv, true);
    u_init(&cli, false);
    cli.hello_at_start = true;
    coil_datagram_port *sp = NULL, *cp = NULL;
    assert_int_equal(coil_listen_unix_datagram(r, spath, 0, &srv.base, &sp), 0);
    assert_int_equal(coil_connect_unix_datagram(r, spath, cpath, &cli.base, &cp), 0);
    T_RUN_UNTIL(r, cli.count == 1, 10);
    assert_int_equal(cli.last.len, 5);
    assert_memory_equal(cli.last.data, "hello", 5);
    coil_address peer;
    assert_int_equal(coil_datagram_get_peer(cp, &peer), 0);
    char host[128];
    coil_address_host(&peer, host, sizeof(host));
    assert_string_equal(host, spath);
    stop_port(r, &cli);
    stop_port(r, &srv);
    t_teardown(r);
}

static void unix_datagram_connect_failure(void **state)
{
    coil_reactor *r = t_reactor();
    u_proto cli;
    u_init(&cli, false);
    coil_datagram_port *cp = NULL;
    char cpath[108];
    unix_path(cpath, sizeof(cpath), "nobody");
    assert_int_equal(coil_connect_unix_datagram(r, "/nonexistent/x.sock", cpath, &cli.base, &cp),
                     -ENOENT);
    assert_false(exists(cpath));
    assert_int_equal(cli.started, 0);
    assert_int_equal(coil_listen_unix_datagram(r, "/nonexistent/dir/x.sock", 0, &cli.base, &cp),
                     -ENOENT);
    t_teardown(r);
}

static void udp_ipv6_echo(void **state)
{
    coil_reactor *r = t_reactor();
    u_proto srv, cli;
    u_init(&srv, true);
    u_init(&cli, false);
    coil_address a, saddr;
    coil_address_from_ip(&a, "::1", 0);
    coil_datagram_port *sp = NULL, *cp = NULL;
    int rc = coil_listen_udp(r, &a, &srv.base, &sp);
    if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT) {
        printf("no IPv6 loopback here (%s): skipping\n", coil_strerror(rc));
        t_teardown(r);
        skip();
    }
    assert_int_equal(rc, 0);
    assert_int_equal(coil_listen_udp(r, &a, &cli.base, &cp), 0);
    coil_datagram_get_host(sp, &saddr);
    assert_int_equal(coil_address_family(&saddr), AF_INET6);
    unsigned char buf[20000];
    t_fill_pattern(buf, sizeof(buf), SEED, 7);
    assert_int_equal(coil_datagram_write(cp, buf, sizeof(buf), &saddr), 0);
    T_RUN_UNTIL(r, cli.count == 1, 10);
    assert_int_equal(cli.last.len, sizeof(buf));
    assert_memory_equal(cli.last.data, buf, sizeof(buf));
    /* A v4 peer for a v6-only connect is refused. */
    coil_address v4;
    coil_address_from_ip(&v4, "127.0.0.1", 9);
    assert_int_equal(coil_datagram_connect(cp, &v4), -EAFNOSUPPORT);
    stop_port(r, &cli);
    stop_port(r, &srv);
    t_teardown(r);
}

/* A protocol that stops its port from inside datagram_received: no
 * datagram is delivered after that, stop_protocol still runs once. */
static void stop_inside(coil_datagram_protocol *p, const void *data, size_t len,
                        const coil_address *from)
{
    u_proto *u = (u_proto *)p;
    u->count++;
    coil_datagram_stop_listening(p->transport, on_done, u);
    assert_int_equal(coil_datagram_write(p->transport, data, len, from), -ENOTCONN);
}

static const coil_datagram_protocol_ops stop_inside_ops = {
    .start_protocol = u_started,
    .datagram_received = stop_inside,
    .stop_protocol = u_stopped,
};

static void udp_stop_from_callback(void **state)
{
    coil_reactor *r = t_reactor();
    u_proto srv, cli;
    u_init(&srv, false);
    srv.base.ops = &stop_inside_ops;
    u_init(&cli, false);
    coil_address saddr, caddr;
    listen_loopback(r, &srv, &saddr);
    coil_datagram_port *cp = listen_loopback(r, &cli, &caddr);
    big_rcvbuf(srv.base.transport);
    for (int i = 0; i < 20; i++)
        assert_int_equal(coil_datagram_write(cp, "x", 1, &saddr), 0);
    T_RUN_UNTIL(r, srv.done_calls == 1, 10);
    assert_int_equal(srv.count, 1);
    assert_int_equal(srv.stopped, 1);
    stop_port(r, &cli);
    t_teardown(r);
}

/* Ports still open when the reactor is freed get stop_protocol too. */
static void udp_closed_by_reactor_free(void **state)
{
    coil_reactor *r = t_reactor();
    u_proto a;
    u_init(&a, false);
    coil_address where;
    listen_loopback(r, &a, &where);
    coil_reactor_free(r);
    assert_int_equal(a.stopped, 1);
    t_buf_free(&a.last);
}

/* ---- services ------------------------------------------------------------ */

static void wait_stopped(coil_reactor *r, coil_service *s)
{
    t_outcome o = {0};
    t_watch(coil_service_stop(s), &o);
    T_RUN_UNTIL(r, o.fired, 10);
    assert_false(o.failed);
    assert_false(s->running);
}

static void udp_service_start_stop(void **state)
{
    coil_reactor *r = t_reactor();
    u_proto srv, cli;
    u_init(&srv, true);
    coil_address a, saddr, caddr;
    coil_address_from_ip(&a, "127.0.0.1", 0);
    coil_datagram_service s;
    coil_udp_service_init(&s, r, &a, &srv.base);
    for (int round = 1; round <= 2; round++) { /* a stopped service starts again */
        assert_int_equal(coil_service_start(&s.service), 0);
        assert_true(s.service.running);
        assert_non_null(s.port);
        assert_int_equal(srv.started, round);
        coil_datagram_get_host(s.port, &saddr);
        u_init(&cli, false);
        coil_datagram_port *cp = listen_loopback(r, &cli, &caddr);
        assert_int_equal(coil_datagram_write(cp, "svc", 3, &saddr), 0);
        T_RUN_UNTIL(r, cli.count == 1, 10);
        assert_int_equal(srv.count, (size_t)round);
        stop_port(r, &cli);
        wait_stopped(r, &s.service);
        assert_null(s.port);
        assert_int_equal(srv.stopped, round);
    }
    coil_service_fini(&s.service);
    t_buf_free(&srv.last);
    t_teardown(r);
}

static void udp_service_start_failure(void **state)
{
    coil_reactor *r = t_reactor();
    u_proto a, b;
    u_init(&a, false);
    u_init(&b, false);
    coil_address where;
    listen_loopback(r, &a, &where);
    coil_datagram_service s;
    coil_udp_service_init(&s, r, &where, &b.base); /* the same port: taken */
    assert_int_equal(coil_service_start(&s.service), -EADDRINUSE);
    assert_false(s.service.running);
    assert_null(s.port);
    assert_int_equal(b.started, 0);
    wait_stopped(r, &s.service); /* stopping a stopped service fires at once */
    coil_service_fini(&s.service);
    stop_port(r, &a);
    t_teardown(r);
}

/* UNIX datagram server and client services under one parent, started in
 * order and stopped in reverse; a multicast service beside them. */
static void datagram_services_tree(void **state)
{
    coil_reactor *r = t_reactor();
    char spath[108], cpath[108];
    unix_path(spath, sizeof(spath), "svc-srv");
    unix_path(cpath, sizeof(cpath), "svc-cli");
    u_proto srv, cli, mc;
    u_init(&srv, true);
    u_init(&cli, false);
    u_init(&mc, false);
    coil_service root = {0};
    coil_datagram_service server, client, multicast;
    coil_unix_datagram_server_init(&server, r, spath, 0600, &srv.base);
    coil_unix_datagram_client_init(&client, r, spath, cpath, &cli.base);
    coil_address any;
    coil_address_from_ip(&any, "0.0.0.0", 0);
    coil_multicast_service_init(&multicast, r, &any, &mc.base, true);
    assert_int_equal(coil_service_add(&root, &server.service), 0);
    assert_int_equal(coil_service_add(&root, &client.service), 0);
    assert_int_equal(coil_service_add(&root, &multicast.service), 0);
    assert_int_equal(coil_service_start(&root), 0);
    assert_true(server.service.running && client.service.running && multicast.service.running);
    assert_true(exists(spath) && exists(cpath));
    assert_int_equal(coil_datagram_write(client.port, "through services", 16, NULL), 0);
    T_RUN_UNTIL(r, cli.count == 1, 10);
    assert_memory_equal(cli.last.data, "through services", 16);
    assert_int_equal(coil_datagram_get_ttl(multicast.port), 1);
    wait_stopped(r, &root);
    assert_int_equal(srv.stopped, 1);
    assert_int_equal(cli.stopped, 1);
    assert_int_equal(mc.stopped, 1);
    assert_false(exists(spath) || exists(cpath));
    coil_service_fini(&root);
    t_buf_free(&srv.last);
    t_buf_free(&cli.last);
    t_teardown(r);
}

/* A service run under the reactor stops at shutdown. */
static void stop_soon(void *arg)
{
    coil_reactor_stop(arg);
}

static void udp_service_run_under(void **state)
{
    coil_reactor *r = t_reactor();
    u_proto srv;
    u_init(&srv, false);
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", 0);
    coil_datagram_service s;
    coil_udp_service_init(&s, r, &a, &srv.base);
    assert_int_equal(coil_service_run_under(&s.service, r), 0);
    coil_reactor_call_soon(r, stop_soon, r);
    assert_int_equal(coil_reactor_run(r), 0);
    assert_false(s.service.running);
    assert_int_equal(srv.stopped, 1);
    coil_service_fini(&s.service);
    t_teardown(r);
}

/* "udp:" descriptions listen; stream types are refused with a reason. */
static void udp_from_description(void **state)
{
    coil_reactor *r = t_reactor();
    u_proto u;
    u_init(&u, true);
    coil_datagram_port *port = NULL;
    char err[256];
    assert_int_equal(coil_datagram_listen_string(r, "udp:0:interface=127.0.0.1", &u.base, &port,
                                                 err, sizeof(err)),
                     0);
    coil_address host;
    coil_datagram_get_host(port, &host);
    char text[COIL_ADDRESS_STRLEN];
    coil_address_host(&host, text, sizeof(text));
    assert_string_equal(text, "127.0.0.1");
    stop_port(r, &u);
    u_proto v;
    u_init(&v, false);
    assert_int_equal(coil_datagram_listen_string(r, "tcp:0", &v.base, &port, err, sizeof(err)),
                     COIL_EBADDESC);
    assert_string_equal(err, "tcp: not a datagram endpoint type (udp or unix)");
    assert_int_equal(
        coil_datagram_listen_string(r, "udp:0:interface=nowhere", &v.base, &port, err, sizeof(err)),
        COIL_EBADDESC);
    assert_string_equal(err, "udp: invalid interface 'nowhere' (must be an IP address)");
    coil_server_endpoint *ep = NULL;
    assert_int_equal(coil_server_from_string(r, "udp:53", &ep, err, sizeof(err)), COIL_EBADDESC);
    assert_null(ep);
    assert_non_null(strstr(err, "datagram"));
    assert_int_equal(v.started, 0);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(udp_echo_sizes),
        cmocka_unit_test(udp_burst),
        cmocka_unit_test(udp_connected_refused),
        cmocka_unit_test(udp_connected_exchange),
        cmocka_unit_test(udp_multicast_loopback),
        cmocka_unit_test(unix_datagram_echo),
        cmocka_unit_test(unix_datagram_connect_failure),
        cmocka_unit_test(unix_datagram_client_writes_at_start),
        cmocka_unit_test(udp_closed_by_reactor_free),
        cmocka_unit_test(udp_ipv6_echo),
        cmocka_unit_test(udp_stop_from_callback),
        cmocka_unit_test(udp_service_start_stop),
        cmocka_unit_test(udp_service_start_failure),
        cmocka_unit_test(datagram_services_tree),
        cmocka_unit_test(udp_service_run_under),
        cmocka_unit_test(udp_from_description),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
