/* SPDX-License-Identifier: MIT */
/*
 * Backend choice: COIL_REACTOR=poll|epoll|uring|auto|<bogus>, the backend
 * option, and the fallback order io_uring, then epoll, then poll(2) when the
 * kernel refuses one.
 *
 * The refusal is real: a forked child installs a seccomp BPF filter (hand
 * written, no libseccomp) that makes io_uring_setup(2) fail with EPERM, as
 * container runtimes and kernel.io_uring_disabled do (and, in the second
 * run, epoll_create/epoll_create1 too), then re-executes this program with
 * --seccomp-child to run the second group of tests under the filter. The
 * parent waits for it with a deadline and kills it on timeout.
 */
#include "helpers.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#if defined(__x86_64__)
#define T_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define T_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define T_AUDIT_ARCH AUDIT_ARCH_I386
#endif

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425 /* the same number on every architecture */
#endif

/* The child's filter: io_uring refused, or io_uring and epoll refused. */
static bool child_no_epoll;

#ifdef COIL_HAVE_URING
#define URING_REFUSED (-EPERM)
#else
#define URING_REFUSED COIL_ENOURING /* built without io_uring */
#endif

/* ---- log capture with levels ---------------------------------------------- */

#define MAX_LINES 64
static struct line {
    coil_log_level level;
    char text[512];
} lines[MAX_LINES];
static int nlines;

static void capture(void *arg, coil_log_level level, const char *system, const char *msg)
{
    if (nlines < MAX_LINES) {
        lines[nlines].level = level;
        snprintf(lines[nlines].text, sizeof(lines[nlines].text), "%s", msg);
        nlines++;
    }
}

static void capture_start(void)
{
    nlines = 0;
    coil_log_set_handler(capture, NULL);
    coil_log_set_level(COIL_LOG_DEBUG);
}

static void capture_stop(void)
{
    coil_log_set_handler(NULL, NULL);
    coil_log_set_level(COIL_LOG_WARN);
}

/* Lines containing `needle` at `level` (or any level if level < 0). */
static int count_lines(const char *needle, int level)
{
    int n = 0;
    for (int i = 0; i < nlines; i++)
        if (strstr(lines[i].text, needle) && (level < 0 || (int)lines[i].level == level))
            n++;
    return n;
}

static void dump_lines(void)
{
    for (int i = 0; i < nlines; i++)
        fprintf(stderr, "  log[%d] %s: %s\n", i, coil_log_level_name(lines[i].level),
                lines[i].text);
}

static int new_reactor(coil_backend_kind kind, coil_reactor **out)
{
    coil_reactor_options o;
    coil_reactor_options_init(&o);
    o.flags = COIL_REACTOR_NO_SIGNALS;
    o.backend = kind;
    *out = NULL;
    return coil_reactor_new(out, &o);
}

static bool uring_allowed(void)
{
    coil_reactor *r;
    const char *saved = getenv("COIL_REACTOR");
    char *copy = saved ? strdup(saved) : NULL;
    unsetenv("COIL_REACTOR");
    int rc = new_reactor(COIL_BACKEND_URING, &r);
    if (copy) {
        setenv("COIL_REACTOR", copy, 1);
        free(copy);
    }
    if (rc == 0)
        coil_reactor_free(r);
    return rc == 0;
}

/* ---- an echo round trip on whatever backend a reactor has --------------- */

enum { ECHO_BYTES = 256 * 1024 };

static void send_payload(t_conn *c)
{
    unsigned char *buf = malloc(ECHO_BYTES);
    assert_non_null(buf);
    t_fill_pattern(buf, ECHO_BYTES, 7, 0);
    assert_int_equal(coil_transport_write(c->base.transport, buf, ECHO_BYTES), 0);
    free(buf);
}

static bool echoed(void *arg)
{
    return ((t_conn *)arg)->rx.len >= ECHO_BYTES;
}

static bool both_lost(void *arg)
{
    t_factory **f = arg;
    return f[0]->lost == 1 && f[1]->lost == 1;
}

static void echo_round_trip(coil_reactor *r)
{
    t_factory server, client;
    t_factory_init(&server);
    server.echo = true;
    t_factory_init(&client);
    client.keep = true;
    client.on_made = send_payload;
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &server.base, &port);
    int err = 0;
    t_conn *c = (t_conn *)t_connect_tcp(r, &client.base, port, &err);
    assert_int_equal(err, 0);
    assert_non_null(c);
    t_run_until(r, echoed, c, 30);
    assert_int_equal(c->rx.len, ECHO_BYTES);
    unsigned char *want = malloc(ECHO_BYTES);
    assert_non_null(want);
    t_fill_pattern(want, ECHO_BYTES, 7, 0);
    assert_memory_equal(c->rx.data, want, ECHO_BYTES);
    free(want);
    coil_transport_lose_connection(c->base.transport);
    t_factory *fs[2] = {&server, &client};
    t_run_until(r, both_lost, fs, 10);
    assert_int_equal(c->lost_reason, 0);
    t_conn_free(c);
    t_stop_listening(r, p);
}

/* ======================= tests run under the filter ======================= */

static void child_filter_is_active(void **state)
{
    char params[120] = {0}; /* struct io_uring_params; its content is irrelevant */
    errno = 0;
    long rc = syscall(__NR_io_uring_setup, 4, params);
    assert_int_equal(rc, -1);
    assert_int_equal(errno, EPERM);
}

/* What AUTO must choose under the filter, and the fallback lines it logs
 * at info on the way ("X unavailable (why): falling back to Y"). */
static const char *expected_backend(void)
{
    return child_no_epoll ? "poll" : "epoll";
}

static void check_fallback_lines(void)
{
    int want_uring = 0, want_epoll = 0;
#ifdef COIL_HAVE_URING
    want_uring = 1; /* a build without io_uring never tries it */
#endif
    if (child_no_epoll)
        want_epoll = 1;
    if (count_lines("io_uring unavailable (Operation not permitted): falling back to epoll",
                    COIL_LOG_INFO) != want_uring ||
        count_lines("epoll unavailable (Operation not permitted): falling back to poll",
                    COIL_LOG_INFO) != want_epoll ||
        count_lines("falling back", -1) != want_uring + want_epoll) {
        dump_lines();
        fail_msg("expected %d io_uring and %d epoll fallback lines at info", want_uring,
                 want_epoll);
    }
}

static void child_auto_falls_back(void **state)
{
    const char *modes[] = {NULL, "auto", ""};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (modes[i])
            setenv("COIL_REACTOR", modes[i], 1);
        else
            unsetenv("COIL_REACTOR");
        capture_start();
        coil_reactor *r;
        int rc = new_reactor(COIL_BACKEND_AUTO, &r);
        if (rc != 0)
            dump_lines();
        assert_int_equal(rc, 0);
        assert_string_equal(coil_reactor_backend_name(r), expected_backend());
        /* Why, and the choice, at info. */
        char choice[64];
        snprintf(choice, sizeof(choice), "reactor backend: %s", expected_backend());
        if (count_lines(choice, COIL_LOG_INFO) != 1) {
            dump_lines();
            fail_msg("expected the backend choice logged at info");
        }
        check_fallback_lines();
        assert_int_equal(count_lines("", COIL_LOG_ERROR), 0);
        capture_stop();
        echo_round_trip(r);
        t_teardown(r);
    }
    unsetenv("COIL_REACTOR");
}

static void child_forced_epoll(void **state)
{
    setenv("COIL_REACTOR", "epoll", 1);
    capture_start();
    coil_reactor *r = NULL;
    int rc = new_reactor(COIL_BACKEND_AUTO, &r);
    capture_stop();
    if (child_no_epoll) {
        assert_int_equal(rc, -EPERM);
        assert_null(r);
        assert_int_equal(count_lines("epoll backend requested but unavailable", COIL_LOG_ERROR),
                         1);
        assert_int_equal(count_lines("falling back", -1), 0);
    } else {
        assert_int_equal(rc, 0);
        assert_string_equal(coil_reactor_backend_name(r), "epoll");
        assert_int_equal(count_lines("falling back", -1), 0);
        echo_round_trip(r);
        t_teardown(r);
    }
    unsetenv("COIL_REACTOR");
}

static void child_forced_uring_fails(void **state)
{
    /* By option. */
    unsetenv("COIL_REACTOR");
    capture_start();
    coil_reactor *r;
    int rc = new_reactor(COIL_BACKEND_URING, &r);
    capture_stop();
    assert_int_equal(rc, URING_REFUSED);
    if (count_lines("io_uring backend requested but", COIL_LOG_ERROR) != 1) {
        dump_lines();
        fail_msg("expected the refusal logged at error");
    }
#ifdef COIL_HAVE_URING
    assert_int_equal(count_lines("Operation not permitted", COIL_LOG_ERROR), 1);
#endif
    assert_int_equal(count_lines("reactor backend:", -1), 0);

    /* By environment, both spellings. */
    const char *names[] = {"uring", "io_uring"};
    for (size_t i = 0; i < 2; i++) {
        setenv("COIL_REACTOR", names[i], 1);
        capture_start();
        rc = new_reactor(COIL_BACKEND_AUTO, &r);
        assert_int_equal(rc, URING_REFUSED);
        assert_int_equal(count_lines("io_uring backend requested but", COIL_LOG_ERROR), 1);
        assert_int_equal(count_lines("reactor backend:", -1), 0);
        /* NULL options behave as AUTO. */
        rc = coil_reactor_new(&r, NULL);
        capture_stop();
        assert_int_equal(rc, URING_REFUSED);
        assert_int_equal(count_lines("io_uring backend requested but", COIL_LOG_ERROR), 2);
    }
    unsetenv("COIL_REACTOR");
}

static void child_forced_poll_works(void **state)
{
    setenv("COIL_REACTOR", "poll", 1);
    capture_start();
    coil_reactor *r;
    assert_int_equal(new_reactor(COIL_BACKEND_AUTO, &r), 0);
    capture_stop();
    assert_string_equal(coil_reactor_backend_name(r), "poll");
    /* Forced, so no io_uring attempt and no fallback message. */
    assert_int_equal(count_lines("falling back", -1), 0);
    assert_int_equal(count_lines("reactor backend: poll", COIL_LOG_INFO), 1);
    echo_round_trip(r);
    t_teardown(r);
    unsetenv("COIL_REACTOR");
    assert_int_equal(new_reactor(COIL_BACKEND_POLL, &r), 0);
    assert_string_equal(coil_reactor_backend_name(r), "poll");
    coil_reactor_free(r);
}

static int child_main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(child_filter_is_active),
        cmocka_unit_test(child_auto_falls_back),
        cmocka_unit_test(child_forced_uring_fails),
        cmocka_unit_test(child_forced_epoll),
        cmocka_unit_test(child_forced_poll_works),
    };
    return child_no_epoll
               ? cmocka_run_group_tests_name("fallback (io_uring and epoll refused by seccomp)",
                                             tests, NULL, NULL)
               : cmocka_run_group_tests_name("fallback (io_uring_setup refused by seccomp)", tests,
                                             NULL, NULL);
}

/* ======================= tests in the parent ============================== */

#ifdef T_AUDIT_ARCH
#ifndef __NR_epoll_create
#define __NR_epoll_create __NR_epoll_create1 /* newer architectures have only the latter */
#endif
static int install_filter(bool no_epoll)
{
    /* With no_epoll, epoll_create1 and epoll_create are refused too;
     * otherwise both compare against io_uring_setup again (no effect). */
    unsigned e1 = no_epoll ? __NR_epoll_create1 : __NR_io_uring_setup;
    unsigned e0 = no_epoll ? __NR_epoll_create : __NR_io_uring_setup;
    struct sock_filter filter[] = {
        /* Other architectures (e.g. x32/i386 entry points): allow. */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, T_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, e1, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, e0, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
    };
    struct sock_fprog prog = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
        return -errno;
    return 0;
}
#endif

static char *self_argv0;

static void run_filtered_child(bool no_epoll)
{
#ifndef T_AUDIT_ARCH
    skip(); /* no seccomp arch constant for this CPU here */
#else
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = install_filter(no_epoll);
        if (rc < 0) {
            fprintf(stderr, "cannot install the seccomp filter: %s\n", coil_strerror(rc));
            _exit(rc == -EINVAL || rc == -ENOSYS ? 77 : 3);
        }
        char *args[] = {self_argv0, "--seccomp-child", no_epoll ? "no-epoll" : "epoll", NULL};
        execv("/proc/self/exe", args);
        fprintf(stderr, "exec /proc/self/exe: %s\n", coil_strerror(-errno));
        _exit(4);
    }
    /* Wait with a deadline; kill the child if it hangs. */
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        assert_true(w >= 0);
        if (w == pid)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 90) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("the seccomp child did not finish within 90 s");
        }
        usleep(10000);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        skip();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("seccomp child failed: %s %d", WIFEXITED(status) ? "exit" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
#endif
}

static void fallback_when_io_uring_refused(void **state)
{
    run_filtered_child(false); /* io_uring refused: epoll */
}

static void fallback_when_epoll_refused_too(void **state)
{
    run_filtered_child(true); /* io_uring and epoll refused: poll */
}

static void env_bogus_is_einval(void **state)
{
    static const char *bogus[] = {"bogus", "EPOLL", "URING", "poll ", "epoll2"};
    for (size_t i = 0; i < sizeof(bogus) / sizeof(bogus[0]); i++) {
        setenv("COIL_REACTOR", bogus[i], 1);
        capture_start();
        coil_reactor *r = NULL;
        int rc = new_reactor(COIL_BACKEND_AUTO, &r);
        capture_stop();
        assert_int_equal(rc, -EINVAL);
        assert_null(r);
        assert_int_equal(count_lines("COIL_REACTOR=", COIL_LOG_ERROR), 1);
        assert_int_equal(count_lines("reactor backend:", -1), 0);
    }
    unsetenv("COIL_REACTOR");
}

static void env_poll_forces_poll(void **state)
{
    setenv("COIL_REACTOR", "poll", 1);
    capture_start();
    coil_reactor *r;
    assert_int_equal(new_reactor(COIL_BACKEND_AUTO, &r), 0);
    capture_stop();
    assert_string_equal(coil_reactor_backend_name(r), "poll");
    assert_int_equal(count_lines("reactor backend: poll", COIL_LOG_INFO), 1);
    echo_round_trip(r);
    t_teardown(r);
    unsetenv("COIL_REACTOR");
}

static void env_epoll_forces_epoll(void **state)
{
    setenv("COIL_REACTOR", "epoll", 1);
    capture_start();
    coil_reactor *r;
    assert_int_equal(new_reactor(COIL_BACKEND_AUTO, &r), 0);
    capture_stop();
    assert_string_equal(coil_reactor_backend_name(r), "epoll");
    assert_int_equal(count_lines("reactor backend: epoll", COIL_LOG_INFO), 1);
    assert_int_equal(count_lines("falling back", -1), 0);
    echo_round_trip(r);
    t_teardown(r);
    unsetenv("COIL_REACTOR");
    assert_int_equal(new_reactor(COIL_BACKEND_EPOLL, &r), 0);
    assert_string_equal(coil_reactor_backend_name(r), "epoll");
    coil_reactor_free(r);
}

/* Without io_uring in the build, AUTO starts epoll first and says nothing
 * about io_uring. */
#ifndef COIL_HAVE_URING
static void auto_without_io_uring_prefers_epoll(void **state)
{
    unsetenv("COIL_REACTOR");
    capture_start();
    coil_reactor *r;
    assert_int_equal(new_reactor(COIL_BACKEND_AUTO, &r), 0);
    capture_stop();
    assert_string_equal(coil_reactor_backend_name(r), "epoll");
    assert_int_equal(count_lines("falling back", -1), 0);
    coil_reactor_free(r);
}
#endif

#ifdef COIL_HAVE_URING
static void auto_prefers_io_uring(void **state)
{
    if (!uring_allowed())
        skip();
    unsetenv("COIL_REACTOR");
    capture_start();
    coil_reactor *r;
    assert_int_equal(new_reactor(COIL_BACKEND_AUTO, &r), 0);
    capture_stop();
    assert_string_equal(coil_reactor_backend_name(r), "io_uring");
    assert_int_equal(count_lines("reactor backend: io_uring", COIL_LOG_INFO), 1);
    assert_int_equal(count_lines("falling back", -1), 0);
    coil_reactor_free(r);
}
#endif

static void option_beats_environment(void **state)
{
    /* An explicit backend option wins over $COIL_REACTOR (even a bogus one). */
    coil_reactor *r;
    setenv("COIL_REACTOR", "bogus", 1);
    assert_int_equal(new_reactor(COIL_BACKEND_POLL, &r), 0);
    assert_string_equal(coil_reactor_backend_name(r), "poll");
    coil_reactor_free(r);
    setenv("COIL_REACTOR", "uring", 1);
    assert_int_equal(new_reactor(COIL_BACKEND_POLL, &r), 0);
    assert_string_equal(coil_reactor_backend_name(r), "poll");
    coil_reactor_free(r);
    if (uring_allowed()) {
        setenv("COIL_REACTOR", "poll", 1);
        assert_int_equal(new_reactor(COIL_BACKEND_URING, &r), 0);
        assert_string_equal(coil_reactor_backend_name(r), "io_uring");
        coil_reactor_free(r);
    }
    unsetenv("COIL_REACTOR");
}

int main(int argc, char **argv)
{
    self_argv0 = argv[0];
    if (argc > 2 && strcmp(argv[1], "--seccomp-child") == 0) {
        child_no_epoll = strcmp(argv[2], "no-epoll") == 0;
        return child_main();
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(env_bogus_is_einval),
        cmocka_unit_test(env_poll_forces_poll),
#ifdef COIL_HAVE_URING
        cmocka_unit_test(auto_prefers_io_uring),
#else
        cmocka_unit_test(auto_without_io_uring_prefers_epoll),
#endif
        cmocka_unit_test(option_beats_environment),
        cmocka_unit_test(fallback_when_io_uring_refused),
        cmocka_unit_test(fallback_when_epoll_refused_too),
        cmocka_unit_test(env_epoll_forces_epoll),
    };
    return cmocka_run_group_tests_name("fallback", tests, NULL, NULL);
}
