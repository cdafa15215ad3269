/* SPDX-License-Identifier: MIT */
/*
 * Stopping on SIGTERM/SIGINT and the system event triggers.
 *
 * The reactors here are made with coil_reactor_new() WITHOUT
 * COIL_REACTOR_NO_SIGNALS (backend from $COIL_REACTOR), and the test sends
 * the signal to its own process, from a reactor timer or from a helper
 * thread (which blocks the signals itself, so the process-directed signal
 * can only reach the reactor). Every signal test runs twice: with the
 * signalfd (Linux default) and with COIL_SIGNALS=selfpipe, the handler +
 * self-pipe path used on other systems.
 */
#include "helpers.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static coil_reactor *sig_reactor(void)
{
    coil_reactor *r = NULL;
    coil_reactor_options o;
    coil_reactor_options_init(&o); /* flags 0: signals handled */
    int rc = coil_reactor_new(&r, &o);
    if (rc < 0) {
        const char *want = getenv("COIL_REACTOR");
        if (want && strcmp(want, "uring") == 0) {
            fprintf(stderr, "skip: io_uring unavailable here (%s)\n", coil_strerror(rc));
            exit(77);
        }
        fail_msg("coil_reactor_new: %s", coil_strerror(rc));
    }
    return r;
}

static bool selfpipe_mode(void)
{
    const char *e = getenv("COIL_SIGNALS");
    return e && strcmp(e, "selfpipe") == 0;
}

static int use_signalfd(void **state)
{
    unsetenv("COIL_SIGNALS");
    return 0;
}

static int use_selfpipe(void **state)
{
    setenv("COIL_SIGNALS", "selfpipe", 1);
    return 0;
}

static int reset_env(void **state)
{
    unsetenv("COIL_SIGNALS");
    coil_log_set_handler(NULL, NULL);
    coil_log_set_level(COIL_LOG_WARN);
    return 0;
}

/* ---- sending signals ------------------------------------------------------ */

static void block_stop_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

typedef struct sender {
    int sig;
    int running; /* set (atomically) from inside coil_reactor_run */
    t_thread *thread;
} sender;

static void kill_self(void *arg)
{
    sender *s = arg;
    kill(getpid(), s->sig);
}

static void mark_running(void *arg)
{
    __atomic_store_n(&((sender *)arg)->running, 1, __ATOMIC_RELEASE);
}

static void *sender_thread(void *arg)
{
    sender *s = arg;
    block_stop_signals(); /* only the reactor may receive them */
    double end = now_s() + 20;
    while (!__atomic_load_n(&s->running, __ATOMIC_ACQUIRE) && now_s() < end)
        usleep(1000);
    usleep(20000); /* let the loop block in its wait */
    kill(getpid(), s->sig);
    return NULL;
}

/* Send `sig` once the reactor runs: from a timer, or from a thread. */
static void arrange_signal(coil_reactor *r, sender *s, int sig, bool from_thread)
{
    *s = (sender){.sig = sig};
    if (from_thread) {
        coil_reactor_call_soon(r, mark_running, s);
        s->thread = t_thread_start(sender_thread, s);
    } else {
        coil_reactor_call_later(r, 0.05, kill_self, s);
    }
}

static void finish_signal(sender *s)
{
    if (s->thread)
        t_thread_join(s->thread);
    s->thread = NULL;
}

/* A watchdog: if the reactor does not stop by itself, stop it and fail. */
typedef struct watchdog {
    coil_reactor *r;
    coil_delayed_call *call;
    bool fired;
} watchdog;

static void watchdog_bark(void *arg)
{
    watchdog *w = arg;
    w->fired = true;
    w->call = NULL;
    coil_reactor_stop(w->r);
}

static void watchdog_arm(watchdog *w, coil_reactor *r, double secs)
{
    *w = (watchdog){.r = r};
    w->call = coil_reactor_call_later(r, secs, watchdog_bark, w);
}

static void watchdog_disarm(watchdog *w)
{
    if (w->call)
        coil_delayed_call_cancel(w->call);
    w->call = NULL;
    if (w->fired)
        fail_msg("the reactor did not stop by itself (watchdog)");
}

/* ---- a reactor with open connections ---------------------------------------- */

enum { MAX_CONNS = 8 };

typedef struct world {
    coil_reactor *r;
    t_factory server, client;
    coil_port *port;
    uint16_t portno;
    t_conn *server_conns[MAX_CONNS];
    int nserver;
    t_conn *client_conn;
    int peer_fd;
} world;

static void remember_server_conn(t_conn *c)
{
    world *w = c->user;
    assert_true(w->nserver < MAX_CONNS);
    w->server_conns[w->nserver++] = c;
}

static bool two_server_conns(void *arg)
{
    return ((world *)arg)->server.open == 2;
}

/* A listening port, a coil client connected to it, and a blocking peer
 * socket connected to it: three open connections (two server-side). */
static void world_open(world *w, coil_reactor *r)
{
    memset(w, 0, sizeof(*w));
    w->r = r;
    t_factory_init(&w->server);
    w->server.echo = true;
    w->server.keep = true;
    w->server.on_made = remember_server_conn;
    w->server.user = w;
    t_factory_init(&w->client);
    w->client.keep = true;
    w->port = t_listen_tcp(r, &w->server.base, &w->portno);
    int err = 0;
    w->client_conn = (t_conn *)t_connect_tcp(r, &w->client.base, w->portno, &err);
    assert_int_equal(err, 0);
    assert_non_null(w->client_conn);
    w->peer_fd = t_peer_connect_tcp(w->portno);
    assert_true(w->peer_fd >= 0);
    t_run_until(r, two_server_conns, w, 10);
    assert_int_equal(w->server.started, 1);
}

/* After a shutdown: every connection was lost exactly once with
 * COIL_ESHUTDOWN, the port is closed, the peer saw an orderly close. */
static void world_check_shut_down(world *w)
{
    assert_int_equal(w->nserver, 2);
    for (int i = 0; i < w->nserver; i++) {
        assert_int_equal(w->server_conns[i]->lost_count, 1);
        assert_int_equal(w->server_conns[i]->lost_reason, COIL_ESHUTDOWN);
    }
    assert_int_equal(w->client_conn->lost_count, 1);
    assert_int_equal(w->client_conn->lost_reason, COIL_ESHUTDOWN);
    assert_int_equal(w->server.stopped, 1);
    assert_int_equal(w->client.stopped, 1);
    assert_int_equal(w->server.open, 0);
    assert_int_equal(coil_reactor_live_handles(w->r), 0);
    char buf[16];
    assert_int_equal(recv(w->peer_fd, buf, sizeof(buf), 0), 0); /* EOF */
    int fd = t_peer_connect_tcp(w->portno);
    if (fd >= 0)
        close(fd);
    assert_int_equal(fd, -ECONNREFUSED); /* the listening port is gone */
    /* Nothing more happens on later turns. */
    for (int i = 0; i < 3; i++)
        coil_reactor_iterate(w->r, 0);
    for (int i = 0; i < w->nserver; i++)
        assert_int_equal(w->server_conns[i]->lost_count, 1);
    assert_int_equal(w->client_conn->lost_count, 1);
}

static void world_free(world *w)
{
    for (int i = 0; i < w->nserver; i++)
        t_conn_free(w->server_conns[i]);
    t_conn_free(w->client_conn);
    close(w->peer_fd);
}

/* ---- mask and disposition ------------------------------------------------- */

typedef struct sigstate {
    sigset_t mask;
    struct sigaction term, intr;
} sigstate;

static void sigstate_get(sigstate *s)
{
    pthread_sigmask(SIG_SETMASK, NULL, &s->mask);
    sigaction(SIGTERM, NULL, &s->term);
    sigaction(SIGINT, NULL, &s->intr);
}

static void sigstate_assert_same(const sigstate *before)
{
    sigstate now;
    sigstate_get(&now);
    assert_int_equal(sigismember(&now.mask, SIGTERM), sigismember(&before->mask, SIGTERM));
    assert_int_equal(sigismember(&now.mask, SIGINT), sigismember(&before->mask, SIGINT));
    assert_ptr_equal(now.term.sa_handler, before->term.sa_handler);
    assert_ptr_equal(now.intr.sa_handler, before->intr.sa_handler);
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGTERM));
    assert_false(sigismember(&pending, SIGINT));
}

/* ---- signal tests ------------------------------------------------------------ */

static void signal_stops_cleanly(int sig, bool from_thread)
{
    t_log_capture();
    coil_reactor *r = sig_reactor();
    world w;
    world_open(&w, r);
    sigstate before;
    sigstate_get(&before);

    sender s;
    arrange_signal(r, &s, sig, from_thread);
    watchdog dog;
    watchdog_arm(&dog, r, 15);
    double t0 = now_s();
    int rc = coil_reactor_run(r);
    double took = now_s() - t0;
    finish_signal(&s);
    watchdog_disarm(&dog);
    assert_int_equal(rc, 0);
    assert_true(took < 10);

    const char *msg = sig == SIGTERM ? "Received SIGTERM, shutting down."
                                     : "Received SIGINT, shutting down.";
    if (t_log_count(msg) != 1)
        fail_msg("expected one \"%s\" log line (mode %s)", msg,
                 selfpipe_mode() ? "selfpipe" : "signalfd");
    char closed[64];
    snprintf(closed, sizeof(closed), "(TCP Port %u Closed)", w.portno);
    assert_int_equal(t_log_count(closed), 1);
    sigstate_assert_same(&before);
    world_check_shut_down(&w);
    world_free(&w);
    t_teardown(r);
}

static void sigterm_from_timer(void **state)
{
    signal_stops_cleanly(SIGTERM, false);
}

static void sigint_from_timer(void **state)
{
    signal_stops_cleanly(SIGINT, false);
}

static void sigterm_from_thread(void **state)
{
    signal_stops_cleanly(SIGTERM, true);
}

static void sigint_from_thread(void **state)
{
    signal_stops_cleanly(SIGINT, true);
}

static void stop_reactor(void *arg)
{
    coil_reactor_stop(arg);
}

/* Signals work again on a second and third run of the same reactor. */
static void run_again_after_signal(void **state)
{
    t_log_capture();
    coil_reactor *r = sig_reactor();
    sigstate before;
    sigstate_get(&before);
    static const int sigs[] = {SIGTERM, SIGINT, SIGTERM};
    for (int i = 0; i < 3; i++) {
        t_factory f;
        t_factory_init(&f);
        uint16_t port;
        coil_port *p = t_listen_tcp(r, &f.base, &port);
        sender s;
        arrange_signal(r, &s, sigs[i], i == 1);
        watchdog dog;
        watchdog_arm(&dog, r, 15);
        assert_int_equal(coil_reactor_run(r), 0);
        finish_signal(&s);
        watchdog_disarm(&dog);
        assert_int_equal(f.stopped, 1); /* the port closed at shutdown */
        (void)p;
        sigstate_assert_same(&before);
    }
    assert_int_equal(t_log_count("Received SIGTERM, shutting down."), 2);
    assert_int_equal(t_log_count("Received SIGINT, shutting down."), 1);
    /* And a plain stop still works afterwards. */
    coil_reactor_call_soon(r, stop_reactor, r);
    assert_int_equal(coil_reactor_run(r), 0);
    t_teardown(r);
}

/* A signal the application had blocked before run stays blocked after. */
static void mask_restored_when_pre_blocked(void **state)
{
    t_log_capture();
    coil_reactor *r = sig_reactor();
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, &old);
    sigstate before;
    sigstate_get(&before);
    assert_true(sigismember(&before.mask, SIGTERM));
    assert_false(sigismember(&before.mask, SIGINT));

    sender s;
    arrange_signal(r, &s, SIGINT, false);
    watchdog dog;
    watchdog_arm(&dog, r, 15);
    assert_int_equal(coil_reactor_run(r), 0);
    watchdog_disarm(&dog);
    assert_int_equal(t_log_count("Received SIGINT, shutting down."), 1);
    sigstate_assert_same(&before); /* SIGTERM still blocked, SIGINT not */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    t_teardown(r);
}

/* coil_reactor_stop() from call_soon: the loop stops at once, even with
 * descriptors to wait on and no timer to wake it. */
static void queue_stop(void *arg)
{
    coil_reactor *r = arg;
    coil_reactor_call_soon(r, stop_reactor, r);
}

static void stop_from_call_soon_is_prompt(void **state)
{
    coil_reactor *r = sig_reactor();
    world w;
    world_open(&w, r);
    watchdog dog;

    double t0 = now_s();
    coil_reactor_call_soon(r, stop_reactor, r);
    watchdog_arm(&dog, r, 10);
    assert_int_equal(coil_reactor_run(r), 0);
    watchdog_disarm(&dog);
    assert_true(now_s() - t0 < 2.0);
    world_check_shut_down(&w);
    world_free(&w);

    /* Queued from a timer callback while the loop runs. */
    t_factory f;
    t_factory_init(&f);
    uint16_t port;
    t_listen_tcp(r, &f.base, &port);
    coil_reactor_call_later(r, 0.05, queue_stop, r);
    watchdog_arm(&dog, r, 10);
    t0 = now_s();
    assert_int_equal(coil_reactor_run(r), 0);
    watchdog_disarm(&dog);
    assert_true(now_s() - t0 < 2.0);
    assert_int_equal(f.stopped, 1);
    t_teardown(r);
}

/* A SIGINT the parent set to ignored (background jobs, nohup) stays
 * ignored while the reactor runs, and afterwards; SIGTERM still stops it. */
typedef struct ignored_int {
    coil_reactor *r;
    int step;
    bool sigint_pending;
} ignored_int;

static void send_term(void *arg)
{
    ignored_int *g = arg;
    g->step = 2;
    kill(getpid(), SIGTERM);
}

static void send_int_then_term(void *arg)
{
    ignored_int *g = arg;
    g->step = 1;
    kill(getpid(), SIGINT); /* discarded at once: SIGINT is ignored and not blocked */
    sigset_t pending;
    sigpending(&pending);
    g->sigint_pending = sigismember(&pending, SIGINT);
    /* Had SIGINT reached the reactor, its descriptor would already be
     * readable and the loop would stop before this timer runs. */
    coil_reactor_call_later(g->r, 0.05, send_term, g);
}

static void ignored_sigint_stays_ignored(void **state)
{
    t_log_capture();
    struct sigaction ign = {0}, old;
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGINT, &ign, &old);
    coil_reactor *r = sig_reactor();
    sigstate before;
    sigstate_get(&before);
    ignored_int g = {.r = r};
    coil_reactor_call_later(r, 0.01, send_int_then_term, &g);
    watchdog dog;
    watchdog_arm(&dog, r, 15);
    assert_int_equal(coil_reactor_run(r), 0);
    watchdog_disarm(&dog);
    assert_int_equal(g.step, 2);
    assert_false(g.sigint_pending);
    assert_int_equal(t_log_count("Received SIGINT, shutting down."), 0);
    assert_int_equal(t_log_count("Received SIGTERM, shutting down."), 1);
    sigstate_assert_same(&before);
    struct sigaction now;
    sigaction(SIGINT, NULL, &now);
    assert_ptr_equal(now.sa_handler, SIG_IGN);
    sigaction(SIGINT, &old, NULL);
    t_teardown(r);
}

/* A stop asked for before run() is kept: run() starts up (startup triggers
 * fire) and shuts down at once. It is used up by that run. */
static void count_startup(void *arg)
{
    (*(int *)arg)++;
}

static void stop_before_run_is_kept(void **state)
{
    coil_reactor *r = sig_reactor();
    int started = 0;
    assert_true(coil_reactor_add_trigger(r, COIL_PHASE_DURING, COIL_EVENT_STARTUP, count_startup,
                                         &started) > 0);
    t_factory f;
    t_factory_init(&f);
    uint16_t port;
    t_listen_tcp(r, &f.base, &port);
    coil_reactor_stop(r);
    watchdog dog;
    watchdog_arm(&dog, r, 15);
    assert_int_equal(coil_reactor_run(r), 0);
    watchdog_disarm(&dog);
    assert_int_equal(started, 1);
    assert_int_equal(f.stopped, 1);

    /* Used up: this run lasts until its own stop. */
    coil_reactor_call_later(r, 0.05, stop_reactor, r);
    watchdog_arm(&dog, r, 15);
    assert_int_equal(coil_reactor_run(r), 0);
    watchdog_disarm(&dog);
    t_teardown(r);
}

/* coil_reactor_set_shutdown_abort(): the shutdown resets what is still
 * open (the peer reads ECONNRESET), connection_lost still gets
 * COIL_ESHUTDOWN; the next run closes in order again. */
static bool one_open(void *arg)
{
    return ((t_factory *)arg)->open == 1;
}

static int last_lost_reason;

static void record_lost_reason(t_conn *c, int reason)
{
    last_lost_reason = reason;
}

static void shutdown_abort_resets_open_connections(void **state)
{
    coil_reactor *r = sig_reactor();
    for (int round = 0; round < 2; round++) {
        t_factory f;
        t_factory_init(&f);
        f.on_lost = record_lost_reason;
        last_lost_reason = 1;
        uint16_t port;
        t_listen_tcp(r, &f.base, &port);
        int fd = t_peer_connect_tcp(port);
        assert_true(fd >= 0);
        t_run_until(r, one_open, &f, 10);
        if (round == 0)
            coil_reactor_set_shutdown_abort(r, true);
        coil_reactor_call_soon(r, stop_reactor, r);
        watchdog dog;
        watchdog_arm(&dog, r, 15);
        assert_int_equal(coil_reactor_run(r), 0);
        watchdog_disarm(&dog);
        assert_int_equal(f.lost, 1);
        assert_int_equal(last_lost_reason, COIL_ESHUTDOWN);
        char b;
        ssize_t n = recv(fd, &b, 1, 0);
        if (round == 0) {
            assert_int_equal(n, -1);
            assert_int_equal(errno, ECONNRESET);
        } else {
            assert_int_equal(n, 0); /* an orderly FIN: the flag was for one run */
        }
        close(fd);
    }
    t_teardown(r);
}

/* ---- system event triggers -------------------------------------------------- */

typedef struct tlog {
    char s[64];
    int n;
    coil_reactor *r;
    world *w;
    long remove_me;
    int remove_rc;
} tlog;

typedef struct trig {
    tlog *log;
    char tag;
    void (*extra)(struct trig *t);
} trig;

static void fire(void *arg)
{
    trig *t = arg;
    assert_true(t->log->n < 63);
    t->log->s[t->log->n++] = t->tag;
    if (t->extra)
        t->extra(t);
}

static trig added_b2, added_a2;

static void add_more_startup(trig *t)
{
    /* Added while the "before" phase runs: a "before" one runs in this
     * phase, an "after" one in the "after" phase. */
    added_b2 = (trig){t->log, 'b', NULL};
    added_a2 = (trig){t->log, 'z', NULL};
    assert_true(coil_reactor_add_trigger(t->log->r, COIL_PHASE_BEFORE, COIL_EVENT_STARTUP, fire,
                                         &added_b2) > 0);
    assert_true(coil_reactor_add_trigger(t->log->r, COIL_PHASE_AFTER, COIL_EVENT_STARTUP, fire,
                                         &added_a2) > 0);
}

static void startup_triggers_fire_once_in_order(void **state)
{
    coil_reactor *r = sig_reactor();
    tlog log = {.r = r};
    trig a = {&log, 'A', NULL}, b = {&log, 'B', add_more_startup}, d = {&log, 'D', NULL};
    trig x = {&log, 'X', NULL}, s = {&log, '|', NULL};
    /* Added out of phase order; the phase decides. */
    assert_true(coil_reactor_add_trigger(r, COIL_PHASE_AFTER, COIL_EVENT_STARTUP, fire, &a) > 0);
    assert_true(coil_reactor_add_trigger(r, COIL_PHASE_DURING, COIL_EVENT_STARTUP, fire, &d) > 0);
    assert_true(coil_reactor_add_trigger(r, COIL_PHASE_BEFORE, COIL_EVENT_STARTUP, fire, &b) > 0);
    long xid = coil_reactor_add_trigger(r, COIL_PHASE_BEFORE, COIL_EVENT_STARTUP, fire, &x);
    assert_true(xid > 0);
    assert_int_equal(coil_reactor_remove_trigger(r, xid), 0);
    assert_int_equal(coil_reactor_remove_trigger(r, xid), -ENOENT);
    /* Triggers do not run before the loop starts, nor from iterate(). */
    coil_reactor_iterate(r, 0);
    assert_int_equal(log.n, 0);
    /* The first loop turn runs after the startup triggers. */
    coil_reactor_call_soon(r, fire, &s);
    coil_reactor_call_soon(r, stop_reactor, r);
    assert_int_equal(coil_reactor_run(r), 0);
    assert_string_equal(log.s, "BbDAz|");
    /* Startup triggers fire once: not again on the next run. */
    coil_reactor_call_soon(r, stop_reactor, r);
    assert_int_equal(coil_reactor_run(r), 0);
    assert_string_equal(log.s, "BbDAz|");
    /* Ids of fired triggers are gone. */
    long late = coil_reactor_add_trigger(r, COIL_PHASE_BEFORE, COIL_EVENT_STARTUP, fire, &x);
    assert_true(late > xid);
    coil_reactor_call_soon(r, stop_reactor, r);
    assert_int_equal(coil_reactor_run(r), 0);
    assert_string_equal(log.s, "BbDAz|"); /* startup is over: never fires */
    assert_int_equal(coil_reactor_remove_trigger(r, late), 0);
    t_teardown(r);
}

static void check_open(trig *t)
{
    /* Before and during: connections and port are still up. */
    world *w = t->log->w;
    assert_int_equal(w->server.open, 2);
    assert_int_equal(w->client_conn->lost_count, 0);
    assert_int_equal(w->server.stopped, 0);
    assert_true(coil_reactor_live_handles(t->log->r) >= 4);
}

static void check_closed(trig *t)
{
    /* After: everything was closed with COIL_ESHUTDOWN. */
    world *w = t->log->w;
    assert_int_equal(w->server.open, 0);
    assert_int_equal(w->client_conn->lost_count, 1);
    assert_int_equal(w->client_conn->lost_reason, COIL_ESHUTDOWN);
    assert_int_equal(w->server.stopped, 1);
    assert_int_equal(coil_reactor_live_handles(t->log->r), 0);
}

static trig added_during;

static void before_adds_and_removes(trig *t)
{
    check_open(t);
    added_during = (trig){t->log, 'd', check_open};
    assert_true(coil_reactor_add_trigger(t->log->r, COIL_PHASE_DURING, COIL_EVENT_SHUTDOWN, fire,
                                         &added_during) > 0);
    /* Remove a trigger of this very phase that has not run yet. */
    t->log->remove_rc = coil_reactor_remove_trigger(t->log->r, t->log->remove_me);
}

static void shutdown_triggers_in_order(void **state)
{
    coil_reactor *r = sig_reactor();
    world w;
    world_open(&w, r);
    tlog log = {.r = r, .w = &w, .remove_rc = 1};
    trig b = {&log, 'B', before_adds_and_removes}, gone = {&log, 'X', NULL};
    trig d = {&log, 'D', check_open}, a = {&log, 'A', check_closed};
    trig a2 = {&log, 'a', check_closed};
    assert_true(coil_reactor_add_trigger(r, COIL_PHASE_AFTER, COIL_EVENT_SHUTDOWN, fire, &a) > 0);
    assert_true(coil_reactor_add_trigger(r, COIL_PHASE_DURING, COIL_EVENT_SHUTDOWN, fire, &d) > 0);
    assert_true(coil_reactor_add_trigger(r, COIL_PHASE_BEFORE, COIL_EVENT_SHUTDOWN, fire, &b) > 0);
    log.remove_me = coil_reactor_add_trigger(r, COIL_PHASE_BEFORE, COIL_EVENT_SHUTDOWN, fire,
                                             &gone);
    assert_true(log.remove_me > 0);
    assert_true(coil_reactor_add_trigger(r, COIL_PHASE_AFTER, COIL_EVENT_SHUTDOWN, fire, &a2) > 0);

    /* Invalid arguments. */
    assert_int_equal(coil_reactor_add_trigger(r, (coil_phase)3, COIL_EVENT_SHUTDOWN, fire, &a),
                     -EINVAL);
    assert_int_equal(coil_reactor_add_trigger(r, COIL_PHASE_AFTER, (coil_event)2, fire, &a),
                     -EINVAL);
    assert_int_equal(coil_reactor_add_trigger(r, COIL_PHASE_AFTER, COIL_EVENT_SHUTDOWN, NULL, &a),
                     -EINVAL);
    assert_int_equal(coil_reactor_remove_trigger(r, 0), -ENOENT);
    assert_int_equal(coil_reactor_remove_trigger(r, -4), -ENOENT);
    assert_int_equal(coil_reactor_remove_trigger(r, 123456), -ENOENT);

    /* Stop by SIGTERM: the shutdown triggers run as for any stop. */
    sender s;
    arrange_signal(r, &s, SIGTERM, false);
    watchdog dog;
    watchdog_arm(&dog, r, 15);
    assert_int_equal(coil_reactor_run(r), 0);
    watchdog_disarm(&dog);
    assert_string_equal(log.s, "BDdAa");
    assert_int_equal(log.remove_rc, 0);
    world_check_shut_down(&w);

    /* Fired once: a second run does not fire them again. */
    coil_reactor_call_soon(r, stop_reactor, r);
    assert_int_equal(coil_reactor_run(r), 0);
    assert_string_equal(log.s, "BDdAa");
    world_free(&w);
    t_teardown(r);
}

#define BOTH_MODES(fn)                                                                             \
    cmocka_unit_test_prestate_setup_teardown(fn, use_signalfd, reset_env, NULL),                   \
        {"selfpipe:" #fn, fn, use_selfpipe, reset_env, NULL}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH_MODES(sigterm_from_timer),
        BOTH_MODES(sigint_from_timer),
        BOTH_MODES(sigterm_from_thread),
        BOTH_MODES(sigint_from_thread),
        BOTH_MODES(run_again_after_signal),
        BOTH_MODES(mask_restored_when_pre_blocked),
        BOTH_MODES(stop_from_call_soon_is_prompt),
        BOTH_MODES(shutdown_triggers_in_order),
        BOTH_MODES(ignored_sigint_stays_ignored),
        BOTH_MODES(stop_before_run_is_kept),
        cmocka_unit_test_setup_teardown(shutdown_abort_resets_open_connections, use_signalfd,
                                        reset_env),
        cmocka_unit_test_setup_teardown(startup_triggers_fire_once_in_order, use_signalfd,
                                        reset_env),
    };
    return cmocka_run_group_tests_name("signals", tests, NULL, NULL);
}
