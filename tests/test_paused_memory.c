/* SPDX-License-Identifier: MIT */
/*
 * Memory of paused connections, on every backend: hundreds of clients send
 * as fast as they can and never read to an echo server that pauses reading
 * at its high-water mark (the transport registered as its own producer, as
 * `coild echo` does). Once every client is blocked by TCP flow control, the
 * reactor's own accounting must show each connection holding at most its
 * high-water mark plus one receive buffer, and everything received must be
 * accounted for: bytes_in == bytes_out + queued + held. When the clients
 * go, the held and queued bytes, the lent receive buffers and all but a few
 * pooled output blocks are given back. On io_uring it runs on both receive
 * paths: capped multishot receives (where the kernel has them) and the
 * one-shot receives coil falls back to.
 */
#include "helpers.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

enum { CLIENTS = 200, HIGH_WATER = 65536, CHUNK = 32768 };

typedef struct server {
    coil_factory base;
    coil_protocol *conns[CLIENTS];
    int made, lost;
} server;

static void s_made(coil_protocol *p)
{
    /* As coild echo: pause reading while the echo is backed up. */
    coil_transport_set_write_limits(p->transport, HIGH_WATER, 0);
    /* Small kernel buffers: otherwise 200 connections tie up hundreds of
     * MiB of the machine's socket memory before flow control bites. */
    int fd = coil_transport_fileno(p->transport), small = 32768;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    assert_int_equal(coil_transport_register_producer(
                         p->transport, coil_transport_producer(p->transport), true),
                     0);
}

static void s_data(coil_protocol *p, const void *data, size_t len)
{
    coil_transport_write(p->transport, data, len);
}

static void s_lost(coil_protocol *p, int reason)
{
    server *s = (server *)p->factory;
    s->lost++;
    free(p);
}

static const coil_protocol_ops s_ops = {
    .connection_made = s_made, .data_received = s_data, .connection_lost = s_lost};

static coil_protocol *s_build(coil_factory *f, const coil_address *peer)
{
    server *s = (server *)f;
    coil_protocol *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    p->ops = &s_ops;
    if (s->made < CLIENTS)
        s->conns[s->made] = p;
    s->made++;
    return p;
}

static const coil_factory_ops s_factory_ops = {.build_protocol = s_build};

/* The receive buffer one completion can fill on this reactor's backend. */
static size_t recv_buffer(coil_reactor *r)
{
    if (strcmp(coil_reactor_backend_name(r), "io_uring") == 0) {
        coil_reactor_options o;
        coil_reactor_options_init(&o);
        return o.recv_buffer_size;
    }
    return 65536; /* the readiness backend's recv() size */
}

static int client_socket(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int small = 32768; /* keep the kernel's share modest: 200 connections */
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    assert_true(rc == 0 || errno == EINPROGRESS);
    return fd;
}

/* Send until the kernel refuses; returns the bytes sent. */
static size_t push(int fd, const char *buf)
{
    size_t sent = 0;
    for (;;) {
        ssize_t n = send(fd, buf, CHUNK, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        assert_true(n < 0);
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN)
            return sent; /* ENOTCONN: still connecting */
        fail_msg("client send: %s", strerror(errno));
    }
}

static bool all_paused(server *s)
{
    for (int i = 0; i < CLIENTS; i++) {
        coil_transport *t = s->conns[i]->transport;
        if (!(t->flags & COIL__T_PAUSED))
            return false;
    }
    return true;
}

static void check_bound(coil_reactor *r, server *s, const char *when)
{
    coil_reactor_stats st;
    coil_reactor_get_stats(r, &st);
    size_t bound = HIGH_WATER + recv_buffer(r);
    size_t worst = 0;
    for (int i = 0; i < CLIENTS; i++) {
        coil_transport *t = s->conns[i]->transport;
        size_t held = t->held_len + coil_transport_write_buffer_size(t);
        if (held > worst)
            worst = held;
    }
    printf("%s (%s): in %llu out %llu queued %llu held %llu; worst connection %zu B "
           "(bound %zu); ring buffers in use %llu, peak %llu of %llu\n",
           when, coil_reactor_backend_name(r), (unsigned long long)st.bytes_in,
           (unsigned long long)st.bytes_out, (unsigned long long)st.queued_bytes,
           (unsigned long long)st.held_bytes, worst, bound,
           (unsigned long long)st.recv_buffers_in_use, (unsigned long long)st.recv_buffers_peak,
           (unsigned long long)st.recv_buffers);
    assert_true(worst <= bound);
    assert_true(st.held_bytes + st.queued_bytes <= (uint64_t)CLIENTS * bound);
    /* Everything received was echoed, is queued, or is held. */
    assert_true(st.bytes_in == st.bytes_out + st.queued_bytes + st.held_bytes);
    assert_int_equal(st.recv_buffers_in_use, 0); /* all given back between turns */
    assert_true(st.recv_buffers_peak <= st.recv_buffers);
}

#ifdef COIL_HAVE_URING
static bool *no_mshot_recv = &coil__uring_no_mshot_recv;
#else
static bool no_mshot_fallback; /* built without io_uring: nothing to force */
static bool *no_mshot_recv = &no_mshot_fallback;
#endif

static void paused_clients_bounded(void **state)
{
    /* The prestate, if any, forces io_uring's one-shot receive path. */
    *no_mshot_recv = *state != NULL;
    coil_reactor *r = t_reactor();
    *no_mshot_recv = false;
    if (*state && strcmp(coil_reactor_backend_name(r), "io_uring") != 0) {
        /* Not skip(): that would report the whole suite as skipped. */
        printf("one-shot receives are io_uring's: the case above covered this backend\n");
        t_teardown(r);
        return;
    }
#ifdef COIL_HAVE_URING
    if (strcmp(coil_reactor_backend_name(r), "io_uring") == 0)
        printf("io_uring receives: %s\n",
               coil__uring_recv_cap(r) ? "capped multishot" : "one-shot");
#endif
    server s = {.base.ops = &s_factory_ops};
    coil_address a;
    assert_int_equal(coil_address_from_ip(&a, "127.0.0.1", 0), 0);
    coil_listen_options lo = {.backlog = CLIENTS};
    coil_port *p = NULL;
    assert_int_equal(coil_listen_tcp(r, &a, &lo, &s.base, &p), 0);
    coil_port_get_host(p, &a);
    uint16_t port = coil_address_port(&a);
    int fds[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        fds[i] = client_socket(port);
    T_RUN_UNTIL(r, s.made == CLIENTS, 30);

    /* Push until every server connection is paused and no client can send
     * any more (flow control reached the clients), then until the reactor
     * has taken in everything it is going to: bytes_in stays put across
     * several rounds with nothing sent. */
    char *buf = malloc(CHUNK);
    assert_non_null(buf);
    memset(buf, 'x', CHUNK);
    coil_reactor_stats st;
    uint64_t last_in = UINT64_MAX;
    int quiet = 0;
    double end = coil_clock_seconds(coil_reactor_clock(r)) + 60;
    while (quiet < 5) {
        size_t sent = 0;
        for (int i = 0; i < CLIENTS; i++)
            sent += push(fds[i], buf);
        assert_int_equal(coil_reactor_iterate(r, 0.02), 0);
        coil_reactor_get_stats(r, &st);
        bool settled = sent == 0 && st.bytes_in == last_in && all_paused(&s);
        quiet = settled ? quiet + 1 : 0;
        last_in = st.bytes_in;
        if (coil_clock_seconds(coil_reactor_clock(r)) > end)
            fail_msg("clients never blocked: %zu sent in the last round", sent);
    }
    free(buf);
    check_bound(r, &s, "paused");

    /* The clients go: the memory comes back. */
    for (int i = 0; i < CLIENTS; i++)
        close(fds[i]);
    T_RUN_UNTIL(r, s.lost == CLIENTS, 30);
    coil_reactor_get_stats(r, &st);
    printf("after close: held %llu queued %llu pool %llu B, ring buffers in use %llu\n",
           (unsigned long long)st.held_bytes, (unsigned long long)st.queued_bytes,
           (unsigned long long)st.pool_bytes, (unsigned long long)st.recv_buffers_in_use);
    assert_int_equal(st.held_bytes, 0);
    assert_int_equal(st.queued_bytes, 0);
    assert_int_equal(st.recv_buffers_in_use, 0);
    assert_true(st.pool_bytes <= 8 * COIL__BLOCK_SIZE); /* a few spare blocks at most */
    t_stop_listening(r, p);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(paused_clients_bounded),
        /* io_uring's one-shot receive path (the same on other backends). */
        cmocka_unit_test_prestate(paused_clients_bounded, &no_mshot_recv),
    };
    return cmocka_run_group_tests_name("paused memory", tests, NULL, NULL);
}
