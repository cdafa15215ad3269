/* SPDX-License-Identifier: MIT */
/*
 * When a backend operation fails, on every backend: the core turns each
 * failure into an error return or a callback from the loop (never both,
 * never neither), balances the factory's do_start/do_stop, and leaves no
 * descriptor, socket file or lock behind; datagram ports too. The failures are injected by
 * replacing single operations of the reactor's backend table with ones
 * that fail (the rest of the table is the real backend).
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "udp_int.h"

/* The real table, and the faulty copy the reactor uses during a case. */
static const coil__backend_ops *real;
static coil__backend_ops faulty;
static int connect_fd = -1; /* the descriptor the failed connect was given */

static int connect_fails(coil_transport *t, const coil_address *addr, int64_t timeout_ns)
{
    (void)addr;
    (void)timeout_ns;
    connect_fd = t->fd;
    return -ENOMEM;
}

static int connect_socket_fails(int family, const coil_address *bind_to)
{
    (void)family;
    (void)bind_to;
    return -EMFILE;
}

static int listen_socket_fails(const coil_address *addr, const coil__listen_params *lp,
                               coil_address *bound)
{
    (void)addr;
    (void)lp;
    (void)bound;
    return -EACCES;
}

static int port_start_fails(coil_port *p)
{
    (void)p;
    return -ENOMEM;
}

/* port_start fails only when resuming (the first start works). */
static int starts;
static int port_restart_fails(coil_port *p)
{
    if (starts++ == 0 || starts > 3)
        return real->port_start(p);
    return -ENOMEM;
}

static int dgram_socket_fails(const coil__dgram_params *dp, coil_address *bound)
{
    (void)dp;
    (void)bound;
    return -EADDRNOTAVAIL;
}

static int dgram_start_fails(coil_datagram_port *u)
{
    (void)u;
    return -ENOMEM;
}

static int dgram_calls;
static void dgram_received(coil_datagram_protocol *p, const void *data, size_t len,
                           const coil_address *from)
{
    (void)p;
    (void)data;
    (void)len;
    (void)from;
    dgram_calls++;
}

static void dgram_started(coil_datagram_protocol *p)
{
    (void)p;
    dgram_calls++;
}

static void set_flag(void *arg)
{
    *(bool *)arg = true;
}

static const coil_datagram_protocol_ops dgram_ops = {.start_protocol = dgram_started,
                                                     .datagram_received = dgram_received};

static coil_reactor *faulty_reactor(void)
{
    coil_reactor *r = t_reactor();
    real = r->be;
    faulty = *real;
    r->be = &faulty;
    connect_fd = -1;
    starts = 0;
    return r;
}

static void teardown(coil_reactor *r)
{
    r->be = real; /* the real fini */
    t_teardown(r);
}

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/* The backend cannot start the connect: the callback still comes, from the
 * loop, with the error, and the descriptor is closed. */
static void failed_connect_reports_from_the_loop(void **state)
{
    (void)state;
    coil_reactor *r = faulty_reactor();
    faulty.connect = connect_fails;
    t_factory f;
    t_factory_init(&f);
    coil_address a;
    assert_int_equal(coil_address_from_ip(&a, "127.0.0.1", 9), 0);
    t_connect_result res = {0};
    assert_int_equal(coil_connect_tcp(r, &a, NULL, &f.base, t_on_connect, &res, NULL), 0);
    assert_int_equal(res.calls, 0); /* never synchronous */
    assert_true(connect_fd >= 0);
    T_RUN_UNTIL(r, res.calls == 1, 10);
    t_run_for(r, 0.02);
    assert_int_equal(res.calls, 1);
    assert_int_equal(res.err, -ENOMEM);
    assert_null(res.p);
    assert_int_equal(f.built, 0);
    assert_int_equal(f.started, 1);
    assert_int_equal(f.stopped, 1);
    assert_false(fd_open(connect_fd));
    teardown(r);
}

/* The same through an endpoint: the Deferred fails with the error. */
static void failed_connect_fails_the_deferred(void **state)
{
    (void)state;
    coil_reactor *r = faulty_reactor();
    faulty.connect = connect_fails;
    t_factory f;
    t_factory_init(&f);
    t_outcome o = {0};
    t_watch(coil_connect_string(r, "tcp:127.0.0.1:9", &f.base), &o);
    T_RUN_UNTIL(r, o.fired, 10);
    assert_true(o.failed);
    assert_int_equal(o.code, -ENOMEM);
    assert_int_equal(f.built, 0);
    teardown(r);
}

/* No socket for the connect (out of descriptors): an error return, and
 * neither the callback nor the factory ever hears of it. */
static void no_connect_socket_is_an_error_return(void **state)
{
    (void)state;
    coil_reactor *r = faulty_reactor();
    faulty.connect_socket = connect_socket_fails;
    t_factory f;
    t_factory_init(&f);
    coil_address a;
    assert_int_equal(coil_address_from_ip(&a, "127.0.0.1", 9), 0);
    t_connect_result res = {0};
    coil_connector *c = NULL;
    assert_int_equal(coil_connect_tcp(r, &a, NULL, &f.base, t_on_connect, &res, &c), -EMFILE);
    assert_null(c);
    t_run_for(r, 0.02);
    assert_int_equal(res.calls, 0);
    assert_int_equal(f.started, 0);
    assert_int_equal(f.stopped, 0);
    /* Through an endpoint, the Deferred fails with it. */
    t_outcome o = {0};
    t_watch(coil_connect_string(r, "tcp:127.0.0.1:9", &f.base), &o);
    T_RUN_UNTIL(r, o.fired, 10);
    assert_true(o.failed);
    assert_int_equal(o.code, -EMFILE);
    teardown(r);
}

/* No listening socket: an error return with its log line, no port. */
static void no_listen_socket_is_an_error_return(void **state)
{
    (void)state;
    coil_reactor *r = faulty_reactor();
    faulty.listen_socket = listen_socket_fails;
    t_factory f;
    t_factory_init(&f);
    coil_address a;
    assert_int_equal(coil_address_from_ip(&a, "127.0.0.1", 0), 0);
    coil_port *p = NULL;
    t_log_capture();
    assert_int_equal(coil_listen_tcp(r, &a, NULL, &f.base, &p), -EACCES);
    assert_null(p);
    assert_int_equal(t_log_count("Couldn't listen on 127.0.0.1:0: Permission denied."), 1);
    assert_int_equal(f.started, 0);
    /* A UNIX path with a lock file: neither is left behind. */
    char path[128];
    snprintf(path, sizeof(path), "/tmp/coil-faults-%ld.sock", (long)getpid());
    char lock[160];
    snprintf(lock, sizeof(lock), "%s.lock", path);
    coil_listen_options lo = {.lockfile = true};
    assert_int_equal(coil_listen_unix(r, path, &lo, &f.base, &p), -EACCES);
    assert_null(p);
    struct stat st;
    assert_int_equal(lstat(path, &st), -1);
    assert_int_equal(lstat(lock, &st), -1);
    teardown(r);
}

/* The backend cannot watch the new port: an error return, the socket is
 * closed, the socket file and the lock are removed, the factory never
 * started, and the address is free again. */
static void unwatchable_port_is_released(void **state)
{
    (void)state;
    coil_reactor *r = faulty_reactor();
    faulty.port_start = port_start_fails;
    t_factory f;
    t_factory_init(&f);
    char path[128];
    snprintf(path, sizeof(path), "/tmp/coil-faults-w-%ld.sock", (long)getpid());
    char lock[160];
    snprintf(lock, sizeof(lock), "%s.lock", path);
    coil_listen_options lo = {.lockfile = true};
    coil_port *p = NULL;
    t_log_capture();
    assert_int_equal(coil_listen_unix(r, path, &lo, &f.base, &p), -ENOMEM);
    assert_null(p);
    assert_int_equal(t_log_count("Couldn't listen on"), 1);
    t_run_for(r, 0.02); /* the endgame of the released port */
    struct stat st;
    assert_int_equal(lstat(path, &st), -1);
    assert_int_equal(lstat(lock, &st), -1);
    assert_int_equal(f.started, 0);
    assert_int_equal(f.stopped, 0);
    /* With the real backend the same path listens at once. */
    faulty.port_start = real->port_start;
    assert_int_equal(coil_listen_unix(r, path, &lo, &f.base, &p), 0);
    t_stop_listening(r, p);
    teardown(r);
}

/* Accepting cannot resume after an out-of-descriptors pause: the port
 * logs why, retries, and accepts again once the backend can. */
static void failed_resume_retries(void **state)
{
    (void)state;
    coil_reactor *r = faulty_reactor();
    faulty.port_start = port_restart_fails;
    t_factory srv;
    t_factory_init(&srv);
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &srv.base, &port);
    assert_int_equal(starts, 1);
    t_log_capture();
    /* What the backend reports when accept() runs out of descriptors. */
    coil__port_on_accept(p, -EMFILE);
    t_connect_result res = {0};
    t_factory cli;
    t_factory_init(&cli);
    coil_address a;
    assert_int_equal(coil_address_from_ip(&a, "127.0.0.1", port), 0);
    assert_int_equal(coil_connect_tcp(r, &a, NULL, &cli.base, t_on_connect, &res, NULL), 0);
    T_RUN_UNTIL(r, srv.built == 1 && res.calls == 1, 10);
    assert_int_equal(res.err, 0);
    assert_int_equal(starts, 4); /* two refused restarts, then the one that worked */
    assert_true(t_log_count("cannot resume accepting: Cannot allocate memory") >= 1);
    coil_transport_lose_connection(res.p->transport);
    T_RUN_UNTIL(r, srv.lost == 1 && cli.lost == 1, 10);
    t_stop_listening(r, p);
    teardown(r);
}

/* Datagram ports: no socket is an error return with its log line; a
 * socket the backend cannot receive on is closed, its file removed, and
 * the protocol never hears of either. */
static void datagram_failures_are_error_returns(void **state)
{
    (void)state;
    coil_reactor *r = faulty_reactor();
    faulty.dgram_socket = dgram_socket_fails;
    coil_datagram_protocol proto = {.ops = &dgram_ops};
    coil_address a;
    assert_int_equal(coil_address_from_ip(&a, "127.0.0.1", 0), 0);
    coil_datagram_port *u = NULL;
    dgram_calls = 0;
    t_log_capture();
    assert_int_equal(coil_listen_udp(r, &a, &proto, &u), -EADDRNOTAVAIL);
    assert_null(u);
    assert_int_equal(t_log_count("Couldn't listen on 127.0.0.1:0: Cannot assign requested address."),
                     1);
    faulty.dgram_socket = real->dgram_socket;
    faulty.dgram_start = dgram_start_fails;
    char path[128];
    snprintf(path, sizeof(path), "/tmp/coil-faults-d-%ld.sock", (long)getpid());
    assert_int_equal(coil_listen_unix_datagram(r, path, 0600, &proto, &u), -ENOMEM);
    assert_null(u);
    t_run_for(r, 0.02); /* the endgame of the released port */
    struct stat st;
    assert_int_equal(lstat(path, &st), -1);
    assert_int_equal(dgram_calls, 0);
    /* With the real backend the same path works, with its mode. */
    faulty.dgram_start = real->dgram_start;
    assert_int_equal(coil_listen_unix_datagram(r, path, 0600, &proto, &u), 0);
    assert_int_equal(dgram_calls, 1); /* start_protocol */
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    bool done = false;
    coil_datagram_stop_listening(u, set_flag, &done);
    t_run_until_flag(r, &done, 10);
    assert_int_equal(lstat(path, &st), -1);
    teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failed_connect_reports_from_the_loop),
        cmocka_unit_test(failed_connect_fails_the_deferred),
        cmocka_unit_test(no_connect_socket_is_an_error_return),
        cmocka_unit_test(no_listen_socket_is_an_error_return),
        cmocka_unit_test(unwatchable_port_is_released),
        cmocka_unit_test(failed_resume_retries),
        cmocka_unit_test(datagram_failures_are_error_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
