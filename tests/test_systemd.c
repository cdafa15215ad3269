/* SPDX-License-Identifier: MIT */
/*
 * The systemd: server endpoint. The environment parser with Twisted's test
 * vectors (python/test/test_systemd.py, test_endpoints.py); then real
 * socket activation in forked children (the environment is read once per
 * process): listening sockets placed at descriptors 3.. with LISTEN_PID,
 * LISTEN_FDS and LISTEN_FDNAMES set, listened on through description
 * strings, echo round trips, stop and listen again, and every error. A
 * child reports through its exit status (77: io_uring unavailable).
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../endpoints/systemd_int.h"

/* ---- the parser ------------------------------------------------------------ */

static void parse_ok(const char *pid, const char *fds, const char *names, pid_t self,
                     coil__systemd_fds *out)
{
    assert_int_equal(coil__systemd_parse(pid, fds, names, self, out), 0);
    assert_int_equal(out->first, 3);
}

static void expect_none(const char *pid, const char *fds, const char *names, pid_t self)
{
    coil__systemd_fds f;
    parse_ok(pid, fds, names, self, &f);
    assert_int_equal(f.count, 0);
    assert_null(f.names);
    coil__systemd_fds_free(&f);
}

/* LISTEN_FDS=N, LISTEN_FDNAMES="0.socket:1.socket:...", LISTEN_PID=self:
 * descriptors 3..3+N-1 with those names. */
static void parse_passes_descriptors_and_names(void **state)
{
    (void)state;
    for (int n = 1; n <= 5; n++) {
        char fds[16], names[128] = "";
        snprintf(fds, sizeof(fds), "%d", n);
        for (int i = 0; i < n; i++)
            snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%d.socket",
                     i ? ":" : "", i);
        coil__systemd_fds f;
        parse_ok("4242", fds, names, 4242, &f);
        assert_int_equal(f.count, n);
        assert_non_null(f.names);
        for (int i = 0; i < n; i++) {
            char want[16];
            snprintf(want, sizeof(want), "%d.socket", i);
            assert_string_equal(f.names[i], want);
        }
        coil__systemd_fds_free(&f);
        assert_null(f.names);
        assert_int_equal(f.count, 0);
    }
}

/* Twisted's endpoint vector: names 5.socket, 6.socket, foo, ... -> "foo" is
 * the third descriptor. Empty names keep their place. */
static void parse_name_lookup(void **state)
{
    (void)state;
    coil__systemd_fds f;
    parse_ok("7", "5", "5.socket:6.socket:foo:8.socket:9.socket", 7, &f);
    assert_int_equal(f.count, 5);
    int found = -1;
    for (int i = 0; i < f.count; i++)
        if (strcmp(f.names[i], "foo") == 0)
            found = i;
    assert_int_equal(found, 2);
    assert_int_equal(f.first + found, 5);
    coil__systemd_fds_free(&f);

    parse_ok("7", "3", "a::b", 7, &f);
    assert_int_equal(f.count, 3);
    assert_string_equal(f.names[0], "a");
    assert_string_equal(f.names[1], "");
    assert_string_equal(f.names[2], "b");
    coil__systemd_fds_free(&f);
}

static void parse_pid_must_be_ours(void **state)
{
    (void)state;
    expect_none("4243", "2", "a:b", 4242);         /* another process's */
    expect_none(NULL, "2", "a:b", 4242);           /* missing */
    expect_none("hello, world", "2", "a:b", 4242); /* not an integer */
    expect_none("", "2", "a:b", 4242);
    expect_none("-4242", "2", "a:b", 4242);
    expect_none("0", "2", "a:b", 0);
    /* Python's int(): surrounding whitespace and a sign are fine. */
    coil__systemd_fds f;
    parse_ok(" +4242\n", "2", "a:b", 4242, &f);
    assert_int_equal(f.count, 2);
    coil__systemd_fds_free(&f);
}

static void parse_fds_must_be_an_integer(void **state)
{
    (void)state;
    expect_none("4242", NULL, "a:b", 4242);           /* missing */
    expect_none("4242", "hello, world", "a:b", 4242); /* not an integer */
    expect_none("4242", "", NULL, 4242);
    expect_none("4242", "-1", NULL, 4242);
    expect_none("4242", "0", "", 4242);
    expect_none("4242", "99999999999999999999", NULL, 4242);
}

/* Unlike Twisted trunk (quirk 13), a missing or mismatched LISTEN_FDNAMES
 * leaves the descriptors usable by index; only names are unavailable. */
static void parse_names_mismatch_keeps_indexes(void **state)
{
    (void)state;
    const char *bad[] = {NULL, "only", "a:b:c", "", "a:b:"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        coil__systemd_fds f;
        parse_ok("4242", "2", bad[i], 4242, &f);
        assert_int_equal(f.count, 2);
        assert_null(f.names);
        coil__systemd_fds_free(&f);
    }
    /* An empty LISTEN_FDNAMES is zero names, not one empty name. */
    coil__systemd_fds f;
    parse_ok("4242", "1", "", 4242, &f);
    assert_int_equal(f.count, 1);
    assert_null(f.names);
    coil__systemd_fds_free(&f);
}

/* ---- forked children ------------------------------------------------------- */

/* The child's UNIX socket path, removed when a check fails too. */
static char unix_path[108];

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "child %s:%d: failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            if (unix_path[0])                                                                      \
                unlink(unix_path);                                                                 \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)

/* Run fn in a child process; the test passes when it exits 0. */
static void in_child(void (*fn)(void))
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(60); /* never outlive the test */
        fn();
        exit(0);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        assert_int_equal(errno, EINTR);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
        printf("io_uring unavailable here: skipping\n");
        skip();
    }
    if (WIFSIGNALED(st))
        fail_msg("child killed by signal %d", WTERMSIG(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static coil_reactor *child_reactor(void)
{
    coil_reactor *r = NULL;
    coil_reactor_options o;
    coil_reactor_options_init(&o);
    o.flags = COIL_REACTOR_NO_SIGNALS;
    int rc = coil_reactor_new(&r, &o);
    if (rc < 0) {
        const char *want = getenv("COIL_REACTOR");
        if (want && strcmp(want, "uring") == 0)
            _exit(77);
        CHECK(0, "coil_reactor_new: %s", coil_strerror(rc));
    }
    return r;
}

/* t_teardown() for a child: no cmocka assertions (they would unwind into the
 * child's copy of the test runner), a failed CHECK exits instead. */
static void child_teardown(coil_reactor *r)
{
    for (int i = 0; i < 5; i++)
        coil_reactor_iterate(r, 0);
    size_t live = coil_reactor_live_handles(r);
    CHECK(live == 0, "%zu handle(s) still alive", live);
    coil_reactor_stats st;
    coil_reactor_get_stats(r, &st);
    CHECK(st.stale == 0, "%llu stale completion(s)", (unsigned long long)st.stale);
    coil_reactor_free(r);
}

/* Iterate until cond holds (10 s at most). */
#define RUN_UNTIL(r, cond)                                                                         \
    do {                                                                                           \
        double end_ = coil_clock_seconds(coil_reactor_clock(r)) + 10;                              \
        while (!(cond)) {                                                                          \
            CHECK(coil_clock_seconds(coil_reactor_clock(r)) < end_, "timed out");                  \
            int rc_ = coil_reactor_iterate((r), 0.02);                                             \
            CHECK(rc_ >= 0, "iterate: %s", coil_strerror(rc_));                                    \
        }                                                                                          \
    } while (0)

static coil_server_endpoint *endpoint(coil_reactor *r, const char *desc)
{
    coil_server_endpoint *ep = NULL;
    char err[256] = "";
    int rc = coil_server_from_string(r, desc, &ep, err, sizeof(err));
    CHECK(rc == 0 && ep, "%s: %s", desc, err);
    return ep;
}

/* Listen on an endpoint; the Deferred has fired when listen returns. */
static coil_port *listen_ok(coil_server_endpoint *ep, t_factory *f, const char *what)
{
    t_outcome o;
    t_watch(coil_server_endpoint_listen(ep, &f->base), &o);
    CHECK(o.fired && !o.failed, "listen on %s: %s", what, o.message);
    CHECK(o.ptr != NULL, "listen on %s: no port", what);
    return o.ptr;
}

/* Listening on `desc` fails with `code` and exactly `message`. */
static void listen_fails(coil_reactor *r, const char *desc, int code, const char *message)
{
    t_factory f;
    t_factory_init(&f);
    coil_server_endpoint *ep = endpoint(r, desc);
    t_outcome o;
    t_watch(coil_server_endpoint_listen(ep, &f.base), &o);
    coil_server_endpoint_free(ep);
    CHECK(o.fired && o.failed, "%s: listen did not fail", desc);
    CHECK(o.code == code, "%s: code %s, want %s (%s)", desc, coil_err_name(o.code),
          coil_err_name(code), o.message);
    CHECK(strcmp(o.message, message) == 0, "%s: message\n  '%s'\nwant\n  '%s'", desc, o.message,
          message);
    CHECK(f.started == 0 && f.stopped == 0, "%s: factory touched", desc);
}

static void stop(coil_reactor *r, coil_port *p)
{
    t_outcome o;
    t_watch(coil_port_stop_listening_deferred(p), &o);
    RUN_UNTIL(r, o.fired);
    CHECK(!o.failed, "stop: %s", o.message);
}

/* A peer (connected, blocking socket) sends bytes; the echo server sends
 * them back while the reactor runs; the peer closes and the server sees it. */
static void echo_round_trip(coil_reactor *r, t_factory *srv, int peer, const char *msg)
{
    size_t n = strlen(msg);
    int lost = srv->lost;
    CHECK(t_peer_write_all(peer, msg, n) == 0, "peer write");
    char buf[64] = "";
    size_t got = 0;
    double end = coil_clock_seconds(coil_reactor_clock(r)) + 10;
    while (got < n) {
        CHECK(coil_clock_seconds(coil_reactor_clock(r)) < end, "no echo of '%s'", msg);
        coil_reactor_iterate(r, 0.02);
        ssize_t k = recv(peer, buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT);
        CHECK(k > 0 || (k < 0 && errno == EAGAIN), "peer recv: %zd %s", k, strerror(errno));
        if (k > 0)
            got += (size_t)k;
    }
    CHECK(got == n && memcmp(buf, msg, n) == 0, "echo '%.*s', want '%s'", (int)got, buf, msg);
    close(peer);
    RUN_UNTIL(r, srv->lost == lost + 1);
}

static uint16_t port_of(coil_port *p)
{
    coil_address a;
    CHECK(coil_port_get_host(p, &a) == 0, "get_host");
    return coil_address_port(&a);
}

/* Put `fd` at descriptor `at` (without FD_CLOEXEC, as systemd passes it). */
static void place(int fd, int at)
{
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 64);
    CHECK(high >= 0, "dup: %s", strerror(errno));
    close(fd);
    CHECK(dup2(high, at) == at, "dup2: %s", strerror(errno));
    close(high);
}

static void set_env(const char *fds, const char *names)
{
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDS", fds, 1);
    if (names)
        setenv("LISTEN_FDNAMES", names, 1);
    else
        unsetenv("LISTEN_FDNAMES");
}

static bool env_cleared(void)
{
    return !getenv("LISTEN_PID") && !getenv("LISTEN_FDS") && !getenv("LISTEN_FDNAMES");
}

static int tcp_listener(uint16_t *port, bool listening)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0, "bind: %s", strerror(errno));
    CHECK(!listening || listen(fd, 16) == 0, "listen: %s", strerror(errno));
    socklen_t len = sizeof(sin);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    if (port)
        *port = ntohs(sin.sin_port);
    return fd;
}

static int unix_listener(void)
{
    snprintf(unix_path, sizeof(unix_path), "/tmp/coil-systemd-%ld.sock", (long)getpid());
    unlink(unix_path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", unix_path);
    CHECK(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, "bind: %s", strerror(errno));
    CHECK(listen(fd, 16) == 0, "listen: %s", strerror(errno));
    return fd;
}

/* Descriptors 3..7 as systemd would pass them: a TCP listener ("web"), a
 * UNIX listener ("ctl"), a bound TCP socket that does not listen ("idle"),
 * a UDP socket ("dgram") and a pipe ("pipe"). */
static uint16_t tcp_port;

static void pass_sockets(void)
{
    int tcp = tcp_listener(&tcp_port, true);
    int un = unix_listener();
    int idle = tcp_listener(NULL, false);
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(udp >= 0, "udp socket: %s", strerror(errno));
    int pp[2];
    CHECK(pipe2(pp, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
    /* Out of the way of 3..7 first, then into place. */
    int hi[5] = {tcp, un, idle, udp, pp[0]};
    for (int i = 0; i < 5; i++) {
        hi[i] = fcntl(hi[i], F_DUPFD_CLOEXEC, 64);
        CHECK(hi[i] >= 0, "dup: %s", strerror(errno));
    }
    close(tcp);
    close(un);
    close(idle);
    close(udp);
    close(pp[0]);
    close(pp[1]);
    for (int i = 0; i < 5; i++)
        place(hi[i], 3 + i);
    set_env("5", "web:ctl:idle:dgram:pipe");
}

static void child_activation(void)
{
    pass_sockets();
    for (int fd = 3; fd <= 7; fd++)
        CHECK(!(fcntl(fd, F_GETFD) & FD_CLOEXEC), "fd %d starts with FD_CLOEXEC", fd);
    coil_reactor *r = child_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.echo = true;

    /* TCP by index: the environment is read (and removed) on first use. */
    coil_server_endpoint *ep = endpoint(r, "systemd:domain=INET:index=0");
    CHECK(env_cleared(), "LISTEN_* still set after first use");
    for (int fd = 3; fd <= 7; fd++)
        CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "fd %d has no FD_CLOEXEC", fd);
    coil_port *p = listen_ok(ep, &srv, "index 0");
    CHECK(srv.started == 1, "factory not started");
    CHECK(port_of(p) == tcp_port, "port %u, want %u", port_of(p), tcp_port);
    int peer = t_peer_connect_tcp(tcp_port);
    CHECK(peer >= 0, "connect: %s", coil_strerror(peer));
    echo_round_trip(r, &srv, peer, "hello systemd");
    stop(r, p);
    CHECK(srv.stopped == 1, "factory not stopped");
    /* The inherited descriptor stays open and listening: a client that
     * connects now waits in the backlog until the next listen. */
    CHECK(fcntl(3, F_GETFD) >= 0, "fd 3 was closed by stop_listening");
    peer = t_peer_connect_tcp(tcp_port);
    CHECK(peer >= 0, "connect while stopped: %s", coil_strerror(peer));
    p = listen_ok(ep, &srv, "index 0 again");
    coil_server_endpoint_free(ep); /* the port does not need it */
    CHECK(srv.started == 2, "factory not started again");
    echo_round_trip(r, &srv, peer, "again");
    peer = t_peer_connect_tcp(tcp_port);
    CHECK(peer >= 0, "connect: %s", coil_strerror(peer));
    echo_round_trip(r, &srv, peer, "and again");
    stop(r, p);

    /* UNIX by name. */
    t_factory usrv;
    t_factory_init(&usrv);
    usrv.echo = true;
    ep = endpoint(r, "systemd:domain=UNIX:name=ctl");
    p = listen_ok(ep, &usrv, "name ctl");
    coil_server_endpoint_free(ep);
    coil_address a;
    CHECK(coil_port_get_host(p, &a) == 0 && coil_address_family(&a) == AF_UNIX, "not AF_UNIX");
    peer = t_peer_connect_unix(unix_path);
    CHECK(peer >= 0, "connect unix: %s", coil_strerror(peer));
    echo_round_trip(r, &usrv, peer, "over unix");
    stop(r, p);
    CHECK(usrv.stopped == 1, "unix factory not stopped");

    /* A name wins over the index (only from code: the string takes one). */
    t_factory f2;
    t_factory_init(&f2);
    f2.echo = true;
    ep = coil_systemd_server_endpoint_new(r, AF_INET, 1, "web");
    CHECK(ep != NULL, "new");
    p = listen_ok(ep, &f2, "name web, index 1");
    CHECK(port_of(p) == tcp_port, "name did not win over the index");
    coil_server_endpoint_free(ep);
    stop(r, p);

    /* Errors. */
    listen_fails(r, "systemd:domain=INET6:index=0", -EAFNOSUPPORT,
                 "Couldn't listen on systemd socket index 0: descriptor 3 is AF_INET, not "
                 "AF_INET6.");
    listen_fails(r, "systemd:domain=INET:name=ctl", -EAFNOSUPPORT,
                 "Couldn't listen on systemd socket name 'ctl': descriptor 4 is AF_UNIX, not "
                 "AF_INET.");
    listen_fails(r, "systemd:domain=INET:index=5", -ENOENT,
                 "Couldn't listen on systemd socket index 5: index out of range (5 sockets "
                 "were passed).");
    listen_fails(r, "systemd:domain=INET:name=nope", -ENOENT,
                 "Couldn't listen on systemd socket name 'nope': no socket of that name was "
                 "passed.");
    listen_fails(r, "systemd:domain=INET:name=idle", -EINVAL,
                 "Couldn't listen on systemd socket name 'idle': descriptor 5 is not "
                 "listening.");
    listen_fails(r, "systemd:domain=INET:index=3", -EPROTOTYPE,
                 "Couldn't listen on systemd socket index 3: descriptor 6 is not a stream "
                 "socket.");
    listen_fails(r, "systemd:domain=UNIX:name=pipe", -ENOTSOCK,
                 "Couldn't listen on systemd socket name 'pipe': descriptor 7 is not a "
                 "socket.");
    child_teardown(r);
    for (int fd = 3; fd <= 7; fd++)
        CHECK(fcntl(fd, F_GETFD) >= 0, "fd %d was closed", fd);
    unlink(unix_path);
}

static void systemd_endpoint_listens_on_passed_sockets(void **state)
{
    (void)state;
    in_child(child_activation);
}

static void child_names_mismatch(void)
{
    int tcp = tcp_listener(&tcp_port, true);
    int un = unix_listener();
    int hi = fcntl(un, F_DUPFD_CLOEXEC, 64);
    close(un);
    place(tcp, 3);
    place(hi, 4);
    set_env("2", "only-one");
    coil_reactor *r = child_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.echo = true;
    coil_server_endpoint *ep = endpoint(r, "systemd:domain=UNIX:index=1");
    coil_port *p = listen_ok(ep, &srv, "index 1");
    coil_server_endpoint_free(ep);
    int peer = t_peer_connect_unix(unix_path);
    CHECK(peer >= 0, "connect unix: %s", coil_strerror(peer));
    echo_round_trip(r, &srv, peer, "by index");
    stop(r, p);
    listen_fails(r, "systemd:domain=INET:name=only-one", -ENOENT,
                 "Couldn't listen on systemd socket name 'only-one': socket names unavailable "
                 "(LISTEN_FDNAMES not set or not 2 names).");
    child_teardown(r);
    unlink(unix_path);
}

static void names_mismatch_keeps_indexes(void **state)
{
    (void)state;
    in_child(child_names_mismatch);
}

static void child_no_sockets(void)
{
    coil_reactor *r = child_reactor();
    listen_fails(r, "systemd:domain=INET:index=0", -ENOENT,
                 "Couldn't listen on systemd socket index 0: no sockets were passed "
                 "(LISTEN_FDS/LISTEN_PID not set for this process).");
    child_teardown(r);
}

static void child_other_pid(void)
{
    /* Meant for the parent: ignored, and still removed (sd_listen_fds(1)). */
    int tcp = tcp_listener(NULL, true);
    place(tcp, 3);
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getppid());
    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDS", "1", 1);
    setenv("LISTEN_FDNAMES", "web", 1);
    coil_reactor *r = child_reactor();
    listen_fails(r, "systemd:domain=INET:name=web", -ENOENT,
                 "Couldn't listen on systemd socket name 'web': no sockets were passed "
                 "(LISTEN_FDS/LISTEN_PID not set for this process).");
    CHECK(env_cleared(), "LISTEN_* still set after first use");
    CHECK(!(fcntl(3, F_GETFD) & FD_CLOEXEC), "someone else's descriptor touched");
    child_teardown(r);
}

static void child_env_read_once(void)
{
    /* Set after the first use: not seen (Twisted reads it once too). */
    coil_reactor *r = child_reactor();
    coil_server_endpoint_free(endpoint(r, "systemd:domain=INET:index=0"));
    set_env("1", "web");
    listen_fails(r, "systemd:domain=INET:index=0", -ENOENT,
                 "Couldn't listen on systemd socket index 0: no sockets were passed "
                 "(LISTEN_FDS/LISTEN_PID not set for this process).");
    child_teardown(r);
}

static void no_sockets_passed(void **state)
{
    (void)state;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    in_child(child_no_sockets);
    in_child(child_other_pid);
    in_child(child_env_read_once);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_passes_descriptors_and_names),
        cmocka_unit_test(parse_name_lookup),
        cmocka_unit_test(parse_pid_must_be_ours),
        cmocka_unit_test(parse_fds_must_be_an_integer),
        cmocka_unit_test(parse_names_mismatch_keeps_indexes),
        cmocka_unit_test(systemd_endpoint_listens_on_passed_sockets),
        cmocka_unit_test(names_mismatch_keeps_indexes),
        cmocka_unit_test(no_sockets_passed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
