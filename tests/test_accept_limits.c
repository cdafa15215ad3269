/* SPDX-License-Identifier: MIT */
/*
 * EMFILE on accept. The soft RLIMIT_NOFILE is lowered so that the server
 * has room for its listening socket, one first connection and exactly two
 * more while six more clients connect (their sockets were created before
 * the limit was lowered, so connecting them needs no descriptor). The server must log the accept error, count
 * accept_backoffs, keep serving the connection it already has, and accept
 * the pending clients once descriptors are freed. The limit is restored on
 * every path (the test's teardown restores it too).
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum { ROOM = 2, PENDING = 6 };

static struct rlimit saved_limit;
static bool limit_lowered;

static void restore_limit(void)
{
    if (limit_lowered) {
        if (setrlimit(RLIMIT_NOFILE, &saved_limit) < 0)
            perror("restore RLIMIT_NOFILE");
        limit_lowered = false;
    }
}

static int teardown_limit(void **state)
{
    restore_limit();
    return 0;
}

/* The smallest soft limit that leaves exactly `room` free descriptor
 * numbers, given the descriptors open now (gaps count as free). */
static rlim_t limit_leaving(int room)
{
    static bool open_fd[65536];
    memset(open_fd, 0, sizeof(open_fd));
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        long fd = strtol(e->d_name, NULL, 10);
        if (fd != self && fd >= 0 && fd < (long)(sizeof(open_fd) / sizeof(open_fd[0])))
            open_fd[fd] = true;
    }
    closedir(d);
    int free_seen = 0;
    for (rlim_t n = 0; n < sizeof(open_fd) / sizeof(open_fd[0]); n++) {
        if (!open_fd[n] && ++free_seen == room)
            return n + 1;
    }
    fail_msg("too many descriptors open");
    return 0;
}

static void lower_limit(int room)
{
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved_limit), 0);
    struct rlimit lim = saved_limit;
    lim.rlim_cur = limit_leaving(room);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
    limit_lowered = true;
}

/* A client socket made now, connected later. */
static int client_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

static void client_connect(int fd, uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        fail_msg("connect: %s", coil_strerror(-errno));
}

/* Send a message and iterate the reactor until its echo is back. */
typedef struct pump {
    int fd;
    t_buf got;
    size_t want;
} pump;

static bool pumped(void *arg)
{
    pump *p = arg;
    char tmp[4096];
    for (;;) {
        ssize_t n = recv(p->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
        if (n > 0) {
            t_buf_append(&p->got, tmp, (size_t)n);
            continue;
        }
        if (n == 0)
            fail_msg("unexpected EOF from the echo server");
        break;
    }
    return p->got.len >= p->want;
}

static void echo_check(coil_reactor *r, int fd, const char *msg)
{
    pump p = {.fd = fd, .want = strlen(msg)};
    assert_int_equal(t_peer_write_all(fd, msg, strlen(msg)), 0);
    t_run_until(r, pumped, &p, 10);
    assert_int_equal(p.got.len, strlen(msg));
    assert_memory_equal(p.got.data, msg, strlen(msg));
    t_buf_free(&p.got);
}

typedef struct waitfor {
    coil_reactor *r;
    t_factory *f;
    int built;
    uint64_t backoffs;
} waitfor;

static bool built_and_backed_off(void *arg)
{
    waitfor *w = arg;
    coil_reactor_stats st;
    coil_reactor_get_stats(w->r, &st);
    return w->f->built >= w->built && st.accept_backoffs >= w->backoffs;
}

static bool all_closed(void *arg)
{
    t_factory *f = arg;
    return f->open == 0;
}

static void emfile_on_accept_backs_off_and_recovers(void **state)
{
    t_log_capture();
    coil_reactor *r = t_reactor();
    t_factory server;
    t_factory_init(&server);
    server.echo = true;

    /* Client sockets first (connected later), then the limit: room for the
     * listening socket, the first connection and ROOM more. The limit is
     * lowered before the port exists because io_uring reads RLIMIT_NOFILE
     * when an accept is submitted, not when it completes. */
    int clients[PENDING];
    for (int i = 0; i < PENDING; i++)
        clients[i] = client_socket();
    int first = client_socket();
    lower_limit(2 + ROOM);

    uint16_t port;
    coil_port *p = t_listen_tcp(r, &server.base, &port);
    /* One connection served before the descriptors run out. */
    client_connect(first, port);
    echo_check(r, first, "before the shortage");
    assert_int_equal(server.built, 1);
    coil_reactor_stats st;
    coil_reactor_get_stats(r, &st);
    assert_int_equal(st.accept_backoffs, 0);

    for (int i = 0; i < PENDING; i++)
        client_connect(clients[i], port); /* complete in the kernel's backlog */

    /* ROOM connections are accepted, then accept fails with EMFILE; the
     * port backs off and retries (at least twice here). */
    waitfor w = {r, &server, 1 + ROOM, 2};
    t_run_until(r, built_and_backed_off, &w, 15);
    t_run_for(r, 0.3);
    assert_int_equal(server.built, 1 + ROOM); /* no more room: no more accepts */
    coil_reactor_get_stats(r, &st);
    assert_true(st.accept_backoffs >= 2);
    if (t_log_count("accept: Too many open files") < 1)
        fail_msg("the EMFILE accept error was not logged");

    /* The existing connection is still served. */
    echo_check(r, first, "still served while out of descriptors");

    /* Free descriptors: the first client and the first ROOM clients (those
     * accepted: the accept queue is FIFO) hang up; the server closes its
     * side too and then accepts every pending client. */
    close(first);
    for (int i = 0; i < ROOM; i++) {
        close(clients[i]);
        clients[i] = -1;
    }
    w = (waitfor){r, &server, 1 + PENDING, 2};
    t_run_until(r, built_and_backed_off, &w, 15);
    assert_int_equal(server.built, 1 + PENDING);
    /* Every client accepted after the shortage works, still under the limit. */
    for (int i = ROOM; i < PENDING; i++) {
        char msg[64];
        snprintf(msg, sizeof(msg), "pending client %d", i);
        echo_check(r, clients[i], msg);
    }
    restore_limit();

    for (int i = ROOM; i < PENDING; i++)
        close(clients[i]);
    t_run_until(r, all_closed, &server, 10);
    assert_int_equal(server.lost, 1 + PENDING);
    t_stop_listening(r, p);
    coil_log_set_handler(NULL, NULL);
    coil_log_set_level(COIL_LOG_WARN);
    t_teardown(r);
}

/* The backoff timer does not keep a closed port alive: stopping a port
 * while it is backing off closes it at once and cancels the retry. */
static void stop_listening_during_backoff(void **state)
{
    t_log_capture();
    coil_reactor *r = t_reactor();
    t_factory server;
    t_factory_init(&server);
    server.echo = true;
    int clients[3];
    for (int i = 0; i < 3; i++)
        clients[i] = client_socket();
    lower_limit(2); /* the listening socket and one connection */
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &server.base, &port);
    for (int i = 0; i < 3; i++)
        client_connect(clients[i], port);
    waitfor w = {r, &server, 1, 1};
    t_run_until(r, built_and_backed_off, &w, 15);
    t_stop_listening(r, p);
    assert_int_equal(server.stopped, 1);
    restore_limit();
    t_run_for(r, 0.25); /* past the 100 ms retry: nothing may fire */
    assert_int_equal(server.built, 1);
    for (int i = 0; i < 3; i++)
        close(clients[i]);
    t_run_until(r, all_closed, &server, 10);
    coil_log_set_handler(NULL, NULL);
    coil_log_set_level(COIL_LOG_WARN);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(emfile_on_accept_backs_off_and_recovers, teardown_limit),
        cmocka_unit_test_teardown(stop_listening_during_backoff, teardown_limit),
    };
    return cmocka_run_group_tests_name("accept_limits", tests, NULL, NULL);
}
