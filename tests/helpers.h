/* SPDX-License-Identifier: MIT */
/*
 * Test harness shared by the cmocka suites: reactors from $COIL_REACTOR,
 * bounded waits, a recording protocol/factory, blocking peer sockets run
 * in threads, and a teardown that fails when anything is left alive.
 */
#ifndef COIL_TEST_HELPERS_H
#define COIL_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <coil/coil.h>

/* Skipped cases show as skipped: skip() is counted, and a suite in which a
 * case was skipped (and none failed) exits 77, which ctest reports as
 * "Skipped" (SKIP_RETURN_CODE) instead of "Passed". */
void t_note_skip(const char *file, int line);
int t_exit_status(int failed);
#undef skip
#define skip()                                                                                     \
    do {                                                                                           \
        t_note_skip(__FILE__, __LINE__);                                                           \
        _skip(__FILE__, __LINE__);                                                                 \
    } while (0)
#undef cmocka_run_group_tests
#define cmocka_run_group_tests(group_tests, group_setup, group_teardown)                           \
    t_exit_status(_cmocka_run_group_tests(#group_tests, group_tests,                               \
                                          sizeof(group_tests) / sizeof((group_tests)[0]),          \
                                          group_setup, group_teardown))
#undef cmocka_run_group_tests_name
#define cmocka_run_group_tests_name(group_name, group_tests, group_setup, group_teardown)          \
    t_exit_status(_cmocka_run_group_tests(group_name, group_tests,                                 \
                                          sizeof(group_tests) / sizeof((group_tests)[0]),          \
                                          group_setup, group_teardown))

/* A reactor for the backend named by $COIL_REACTOR (uring|poll). Exits 77
 * (skip) when io_uring was asked for but this kernel refuses it. */
coil_reactor *t_reactor(void);
/* Exit 77 (skip) unless $COIL_REACTOR is uring: for io_uring-only suites. */
void t_require_uring(void);
/* Fail if any handle is still alive or any completion was stale, then
 * free the reactor. */
void t_teardown(coil_reactor *r);

/* Iterate until cond(arg) is true; fail the test after `timeout` seconds. */
void t_run_until(coil_reactor *r, bool (*cond)(void *arg), void *arg, double timeout);
/* Iterate until *flag becomes true. */
void t_run_until_flag(coil_reactor *r, const bool *flag, double timeout);
/* Iterate for `seconds` (to let things settle or to prove nothing happens). */
void t_run_for(coil_reactor *r, double seconds);

/* A growable byte buffer. */
typedef struct t_buf {
    unsigned char *data;
    size_t len, cap;
} t_buf;
void t_buf_append(t_buf *b, const void *data, size_t len);
void t_buf_free(t_buf *b);
/* Deterministic pattern bytes for payloads: byte i of stream `seed`. */
void t_fill_pattern(void *dst, size_t len, uint32_t seed, size_t offset);

/* A protocol that records everything that happens to it. */
typedef struct t_conn t_conn;
struct t_conn {
    coil_protocol base;
    struct t_factory *factory;
    t_buf rx;
    int made;
    int lost_count;
    int lost_reason;
    int read_eof;
    int write_lost;
    bool echo;          /* write back what arrives */
    bool half_close;    /* provide read_connection_lost */
    bool keep;          /* do not free at connection_lost (the test frees) */
    void (*on_made)(t_conn *c);
    void (*on_data)(t_conn *c, const void *data, size_t len);
    void (*on_lost)(t_conn *c, int reason);
    void *user;
};

typedef struct t_factory {
    coil_factory base;
    bool echo, half_close, keep;
    bool refuse;        /* build_protocol returns NULL */
    int built, started, stopped, lost, open;
    int lost_reasons[8]; /* histogram of the first distinct reasons */
    t_conn *last;       /* last protocol built */
    void (*on_made)(t_conn *c);
    void (*on_data)(t_conn *c, const void *data, size_t len);
    void (*on_lost)(t_conn *c, int reason);
    void *user;
} t_factory;

void t_factory_init(t_factory *f);
/* Frees a t_conn built with keep=true. */
void t_conn_free(t_conn *c);

/* Listen on 127.0.0.1 with an ephemeral port. */
coil_port *t_listen_tcp(coil_reactor *r, coil_factory *f, uint16_t *port);
/* Listen on a fresh UNIX path under /tmp (written to path, >= 108 bytes). */
coil_port *t_listen_unix(coil_reactor *r, coil_factory *f, char *path);
/* Stop listening and wait until the port is really closed. */
void t_stop_listening(coil_reactor *r, coil_port *p);

/* A coil_connect_cb that records its outcome: pass &result as `arg`. */
typedef struct t_connect_result {
    bool done;
    int calls;       /* how often the callback ran (must be once) */
    int err;
    coil_protocol *p;
    int made_before; /* connection_made count seen (protocols of a t_factory only) */
} t_connect_result;
void t_on_connect(void *arg, coil_protocol *p, int err);

/* Connect with coil and wait for the result; returns the protocol (NULL
 * and *err set on failure). */
coil_protocol *t_connect_tcp(coil_reactor *r, coil_factory *f, uint16_t port, int *err);

/* Blocking peer sockets (used from helper threads). */
int t_peer_connect_tcp(uint16_t port);
int t_peer_connect_unix(const char *path);
/* Write all / read exactly n (with a 20 s receive timeout); 0 or -errno. */
int t_peer_write_all(int fd, const void *data, size_t len);
ssize_t t_peer_read_n(int fd, void *buf, size_t n);
/* Read until EOF into b; returns 0 on EOF, -errno on error (e.g. reset). */
int t_peer_read_to_eof(int fd, t_buf *b);

/* A black hole on loopback: a listener with backlog 0 that never accepts.
 * Once its accept queue is full the kernel drops further SYNs, so a connect
 * to 127.0.0.1:port hangs until cancelled or timed out. */
typedef struct t_black_hole {
    int lfd;
    int fill[8];
    int nfill;
    uint16_t port;
} t_black_hole;
/* False if no connect could be made to hang (then close and skip). */
bool t_black_hole_open(t_black_hole *bh);
void t_black_hole_close(t_black_hole *bh);
#define T_NEED_BLACK_HOLE(bh)                                                                      \
    do {                                                                                           \
        if (!t_black_hole_open(bh)) {                                                              \
            t_black_hole_close(bh);                                                                \
            printf("cannot make a loopback connect hang here: skipping\n");                        \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* How a Deferred fired: t_watch(d, &o) adds a callback pair that records
 * it (a failure is handled, so nothing is reported unhandled) and drops the
 * caller's reference to d. */
typedef struct t_outcome {
    bool fired;
    bool failed;
    int code;           /* the failure's code */
    void *ptr;          /* the value's pointer */
    char message[256];  /* the failure's message */
} t_outcome;
void t_watch(coil_deferred *d, t_outcome *o);

/* A protocol that only counts connection_made and connection_lost (for
 * coil_connect_protocol: the test owns it, coil never frees it). */
typedef struct t_counter {
    coil_protocol base;
    int made, lost;
} t_counter;
void t_counter_init(t_counter *c);

/* Whether the system resolver knows "localhost" (a bare debootstrap has no
 * /etc/hosts and no DNS). T_NEED_LOCALHOST() skips the test when not. */
bool t_localhost_resolves(void);
#define T_NEED_LOCALHOST()                                                                         \
    do {                                                                                           \
        if (!t_localhost_resolves()) {                                                             \
            printf("\"localhost\" does not resolve on this machine (no /etc/hosts?): "            \
                   "skipping\n");                                                                 \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* Threads. */
typedef struct t_thread t_thread;
t_thread *t_thread_start(void *(*fn)(void *), void *arg);
void *t_thread_join(t_thread *t);

/* Count of log lines containing `needle` since t_log_capture(). */
void t_log_capture(void);
int t_log_count(const char *needle);

/* Iterate until `cond` (any C expression) holds; fail after `secs` seconds
 * with the text of the condition (transport-suite helper). */
#define T_RUN_UNTIL(r, cond, secs)                                                                 \
    do {                                                                                           \
        double t_end_ = coil_clock_seconds(coil_reactor_clock(r)) + (secs);                      \
        while (!(cond)) {                                                                          \
            if (coil_clock_seconds(coil_reactor_clock(r)) > t_end_)                                \
                fail_msg("not reached within %.1f s: %s", (double)(secs), #cond);                  \
            int t_rc_ = coil_reactor_iterate((r), 0.02);                                           \
            if (t_rc_ < 0)                                                                         \
                fail_msg("iterate: %s", coil_strerror(t_rc_));                                     \
        }                                                                                          \
    } while (0)


/* A coil server and a coil client connected to it on one reactor; both
 * factories keep their protocols (the pair frees them). */
typedef struct t_pair {
    coil_reactor *r;
    t_factory srv, cli;
    coil_port *lp;
    t_conn *s, *c;
} t_pair;
/* New reactor and factories, nothing connected yet (tweak the factories). */
void t_pair_init(t_pair *pr);
/* Listen, connect, and wait until both sides ran connection_made. */
void t_pair_connect(t_pair *pr);
void t_pair_open(t_pair *pr);
/* Wait for both connection_lost calls, check each ran exactly once with the
 * expected reason and each factory stopped, then tear everything down. */
void t_pair_expect(t_pair *pr, int srv_reason, int cli_reason);

#endif
