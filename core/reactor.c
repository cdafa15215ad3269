/* SPDX-License-Identifier: MIT */
/* The reactor loop: backend choice, loop turns, call_soon, handle
 * bookkeeping, final (endgame) callbacks, system event triggers. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#include "internal.h"
#include "udp_int.h"

void coil_reactor_options_init(coil_reactor_options *o)
{
    *o = (coil_reactor_options){
        .backend = COIL_BACKEND_AUTO,
        .ring_entries = 256,
        .recv_buffers = 1024,
        .recv_buffer_size = 16384,
    };
}

/* ---- handles and completion tags ---------------------------------------- */

static int slots_grow(coil_reactor *r)
{
    uint32_t n = r->nslots ? r->nslots * 2 : 256;
    struct coil__slot *s = realloc(r->slots, n * sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (uint32_t i = r->nslots; i < n; i++)
        s[i] = (struct coil__slot){.h = NULL, .gen = 0, .next_free = i + 1 < n ? i + 1 : UINT32_MAX};
    r->free_slot = r->nslots;
    r->slots = s;
    r->nslots = n;
    return 0;
}

int coil__handle_init(coil_reactor *r, coil__handle *h, uint8_t type)
{
    if (r->free_slot == UINT32_MAX || r->nslots == 0) {
        int rc = slots_grow(r);
        if (rc < 0)
            return rc;
    }
    uint32_t i = r->free_slot;
    struct coil__slot *s = &r->slots[i];
    r->free_slot = s->next_free;
    s->h = h;
    s->gen = (s->gen + 1) & 0xffffff; /* 24 bits travel in user_data */
    *h = (coil__handle){.r = r, .slot = i, .gen = s->gen, .type = type};
    h->next = r->handles;
    if (r->handles)
        r->handles->prev = h;
    r->handles = h;
    if (type != COIL__H_WATCH)
        r->live++;
    return 0;
}

coil__handle *coil__handle_lookup(coil_reactor *r, uint32_t slot, uint32_t gen)
{
    if (slot < r->nslots && r->slots[slot].h && r->slots[slot].gen == gen)
        return r->slots[slot].h;
    r->stats.stale++;
    return NULL;
}

void coil__handle_forget(coil__handle *h)
{
    coil_reactor *r = h->r;
    if (h->prev)
        h->prev->next = h->next;
    else
        r->handles = h->next;
    if (h->next)
        h->next->prev = h->prev;
    struct coil__slot *s = &r->slots[h->slot];
    s->h = NULL;
    s->next_free = r->free_slot;
    r->free_slot = h->slot;
    if (h->type != COIL__H_WATCH)
        r->live--;
}

void coil__handle_closed(coil__handle *h)
{
    coil_reactor *r = h->r;
    if (h->in_endgame)
        return;
    h->in_endgame = true;
    h->endgame_next = NULL;
    if (r->endgame_tail)
        r->endgame_tail->endgame_next = h;
    else
        r->endgame_head = h;
    r->endgame_tail = h;
}

/* Final callbacks run here, from the loop, never from inside a user call. */
static void run_endgame(coil_reactor *r)
{
    while (r->endgame_head) {
        coil__handle *h = r->endgame_head;
        r->endgame_head = h->endgame_next;
        if (!r->endgame_head)
            r->endgame_tail = NULL;
        coil__handle_forget(h);
        switch (h->type) {
        case COIL__H_TRANSPORT:
            coil__transport_endgame((coil_transport *)h);
            break;
        case COIL__H_PORT:
            coil__port_endgame((coil_port *)h);
            break;
        case COIL__H_DGRAM:
            coil__dgram_endgame((coil_datagram_port *)h);
            break;
        default:
            free(h);
        }
    }
}

size_t coil_reactor_live_handles(const coil_reactor *r)
{
    return r->live;
}

void coil_reactor_get_stats(const coil_reactor *r, coil_reactor_stats *out)
{
    *out = r->stats;
    out->live_handles = r->live;
    out->pool_bytes = (uint64_t)r->pool.nfree * COIL__BLOCK_SIZE;
}

/* ---- calls from other threads ------------------------------------------- */

/* The queue of coil_reactor_call_from_thread(): a FIFO under a mutex, and a
 * wakeup descriptor (eventfd; a pipe elsewhere) the loop watches. A caller
 * writes the descriptor only when the queue was not already signalled; the
 * loop reads it (resetting the signal) before taking the queue, so a call
 * queued after the loop took the queue signals again: no wakeup is lost. */
struct coil__xthread {
    pthread_mutex_t lock;
    coil__call *calls; /* ring buffer */
    size_t head, len, cap;
    bool signalled;       /* a wakeup is pending for the queued calls */
    int fd[2];            /* read end, write end (the same eventfd on Linux) */
    coil__watch *watch;   /* the loop's watch on fd[0] (reactor thread only) */
};

static struct coil__xthread *xthread_new(void)
{
    struct coil__xthread *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    if (pthread_mutex_init(&x->lock, NULL) != 0) {
        free(x);
        return NULL;
    }
    x->fd[0] = x->fd[1] = -1;
    return x;
}

/* The wakeup descriptor, made with the reactor. */
static int xthread_open_fd(struct coil__xthread *x)
{
#ifdef __linux__
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    x->fd[0] = x->fd[1] = fd;
#else
    int p[2];
    if (pipe(p) < 0)
        return -errno;
    coil__set_nonblock_cloexec(p[0]);
    coil__set_nonblock_cloexec(p[1]);
    x->fd[0] = p[0];
    x->fd[1] = p[1];
#endif
    return 0;
}

static void xthread_signal(struct coil__xthread *x)
{
#ifdef __linux__
    uint64_t one = 1;
    ssize_t n = write(x->fd[1], &one, sizeof(one));
#else
    unsigned char one = 1;
    ssize_t n = write(x->fd[1], &one, 1);
#endif
    (void)n; /* EAGAIN: the counter (pipe) is full, the loop wakes anyway */
}

static void xthread_reset(struct coil__xthread *x)
{
#ifdef __linux__
    uint64_t v;
    ssize_t n = read(x->fd[0], &v, sizeof(v));
    (void)n;
#else
    unsigned char buf[64];
    while (read(x->fd[0], buf, sizeof(buf)) > 0) {
    }
#endif
}

int coil_reactor_call_from_thread(coil_reactor *r, void (*fn)(void *arg), void *arg)
{
    struct coil__xthread *x = r->xthread;
    int rc = 0;
    bool wake = false;
    pthread_mutex_lock(&x->lock);
    if (x->len == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        coil__call *c = malloc(cap * sizeof(*c));
        if (c) {
            for (size_t i = 0; i < x->len; i++)
                c[i] = x->calls[(x->head + i) % x->cap];
            free(x->calls);
            x->calls = c;
            x->cap = cap;
            x->head = 0;
        } else {
            rc = -ENOMEM;
        }
    }
    if (rc == 0) {
        x->calls[(x->head + x->len) % x->cap] = (coil__call){fn, arg};
        x->len++;
        wake = !x->signalled;
        x->signalled = true;
    }
    /* Written under the lock: the reactor may be freed as soon as the call
     * can run, and it closes the descriptor under the same lock. */
    if (wake)
        xthread_signal(x);
    pthread_mutex_unlock(&x->lock);
    return rc;
}

/* Run the calls queued so far (calls they queue wait for the next
 * wakeup). Returns how many ran. */
static size_t xthread_run(coil_reactor *r)
{
    struct coil__xthread *x = r->xthread;
    size_t ran = 0;
    pthread_mutex_lock(&x->lock);
    if (x->fd[0] >= 0)
        xthread_reset(x);
    x->signalled = false;
    size_t n = x->len;
    while (n-- > 0) {
        coil__call c = x->calls[x->head];
        x->head = (x->head + 1) % x->cap;
        x->len--;
        pthread_mutex_unlock(&x->lock);
        c.fn(c.arg);
        ran++;
        pthread_mutex_lock(&x->lock);
    }
    pthread_mutex_unlock(&x->lock);
    return ran;
}

static void on_xthread_readable(coil__watch *w)
{
    xthread_run(w->h.r);
}

/* Before the first wait: watch the wakeup descriptor (made with the
 * reactor; the backend is ready only once the loop runs). */
static void xthread_watch(coil_reactor *r)
{
    struct coil__xthread *x = r->xthread;
    if (x->watch)
        return;
    coil__watch *w = calloc(1, sizeof(*w));
    if (!w)
        return; /* retried before the next wait */
    if (coil__handle_init(r, &w->h, COIL__H_WATCH) < 0) {
        free(w);
        return;
    }
    w->fd = x->fd[0];
    w->cb = on_xthread_readable;
    x->watch = w;
    r->be->watch_start(w);
}

/* At reactor free, after the backend is gone (the queue was run before
 * it went; a call queued by those calls themselves is dropped). */
static void xthread_free(coil_reactor *r)
{
    struct coil__xthread *x = r->xthread;
    if (!x)
        return;
    if (x->watch) {
        coil__handle_forget(&x->watch->h);
        free(x->watch);
    }
    if (x->fd[0] >= 0)
        close(x->fd[0]);
    if (x->fd[1] >= 0 && x->fd[1] != x->fd[0])
        close(x->fd[1]);
    pthread_mutex_destroy(&x->lock);
    free(x->calls);
    free(x);
    r->xthread = NULL;
}

/* ---- creation ------------------------------------------------------------ */

static const struct backend_name {
    const char *name;
    coil_backend_kind kind;
} backend_names[] = {
    {"uring", COIL_BACKEND_URING},
    {"io_uring", COIL_BACKEND_URING},
    {"epoll", COIL_BACKEND_EPOLL},
    {"poll", COIL_BACKEND_POLL},
};

static int choose_backend(const coil_reactor_options *o, coil_backend_kind *kind)
{
    *kind = o->backend;
    const char *env = getenv("COIL_REACTOR");
    if (*kind != COIL_BACKEND_AUTO || !env || !*env || strcmp(env, "auto") == 0)
        return 0;
    for (size_t i = 0; i < sizeof(backend_names) / sizeof(backend_names[0]); i++) {
        if (strcmp(env, backend_names[i].name) == 0) {
            *kind = backend_names[i].kind;
            return 0;
        }
    }
    coil_log(COIL_LOG_ERROR, COIL__SYS, "COIL_REACTOR=%s: expected uring, epoll, poll or auto", env);
    return -EINVAL;
}

/* The backends in the order AUTO tries them; absent ones are NULL. */
static const struct candidate {
    coil_backend_kind kind;
    const char *name;
    const coil__backend_ops *ops;
} candidates[] = {
#ifdef COIL_HAVE_URING
    {COIL_BACKEND_URING, "io_uring", &coil__uring_backend},
#else
    {COIL_BACKEND_URING, "io_uring", NULL},
#endif
#ifdef COIL_HAVE_EPOLL
    {COIL_BACKEND_EPOLL, "epoll", &coil__epoll_backend},
#else
    {COIL_BACKEND_EPOLL, "epoll", NULL},
#endif
    {COIL_BACKEND_POLL, "poll", &coil__poll_backend},
};
#define NCANDIDATES (sizeof(candidates) / sizeof(candidates[0]))

static int start_backend(coil_reactor *r, coil_backend_kind kind)
{
    if ((unsigned)kind > COIL_BACKEND_EPOLL) {
        coil_log(COIL_LOG_ERROR, COIL__SYS, "unknown reactor backend %d", (int)kind);
        return -EINVAL;
    }
    if (kind != COIL_BACKEND_AUTO) {
        const struct candidate *c = NULL;
        for (size_t i = 0; i < NCANDIDATES; i++)
            if (candidates[i].kind == kind)
                c = &candidates[i];
        if (!c->ops) {
            coil_log(COIL_LOG_ERROR, COIL__SYS, "%s backend requested but coil was built "
                                                "without it", c->name);
            return kind == COIL_BACKEND_URING ? COIL_ENOURING : -ENOSYS;
        }
        r->be = c->ops;
        int rc = r->be->init(r, &r->opts);
        if (rc < 0)
            coil_log(COIL_LOG_ERROR, COIL__SYS, "%s backend requested but unavailable: %s",
                     c->name, coil_strerror(rc));
        return rc;
    }
    int rc = -ENOSYS;
    const char *failed = NULL;
    for (size_t i = 0; i < NCANDIDATES; i++) {
        if (!candidates[i].ops)
            continue;
        if (failed)
            coil_log(COIL_LOG_INFO, COIL__SYS, "%s unavailable (%s): falling back to %s", failed,
                     coil_strerror(rc), candidates[i].name);
        r->be = candidates[i].ops;
        rc = r->be->init(r, &r->opts);
        if (rc == 0)
            return 0;
        failed = candidates[i].name;
    }
    coil_log(COIL_LOG_ERROR, COIL__SYS, "no reactor backend could start: %s", coil_strerror(rc));
    return rc;
}

int coil_reactor_new(coil_reactor **out, const coil_reactor_options *opts)
{
    coil_reactor *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    if (opts)
        r->opts = *opts;
    else
        coil_reactor_options_init(&r->opts);
    coil_reactor_options defaults;
    coil_reactor_options_init(&defaults);
    if (!r->opts.ring_entries)
        r->opts.ring_entries = defaults.ring_entries;
    if (!r->opts.recv_buffers)
        r->opts.recv_buffers = defaults.recv_buffers;
    if (!r->opts.recv_buffer_size)
        r->opts.recv_buffer_size = defaults.recv_buffer_size;
    /* Checked here so that no backend mistakes a bad size for a missing
     * kernel feature (io_uring answers both with -EINVAL). */
    unsigned nb = r->opts.recv_buffers;
    if (r->opts.ring_entries > 32768 || nb > 32768 || (nb & (nb - 1))) {
        coil_log(COIL_LOG_ERROR, COIL__SYS, "invalid reactor options: ring_entries %u (1..32768), "
                 "recv_buffers %u (a power of two up to 32768)", r->opts.ring_entries, nb);
        free(r);
        return -EINVAL;
    }
    /* The wakeup descriptor exists from the start, so that a first call
     * from another thread can wake a loop that is already waiting. */
    r->xthread = xthread_new();
    int xrc = r->xthread ? xthread_open_fd(r->xthread) : -ENOMEM;
    if (xrc < 0) {
        xthread_free(r);
        free(r);
        return xrc;
    }
    coil__clock_init(&r->clock, false);
    r->pool.max_free = 256;
    r->free_slot = UINT32_MAX;
    r->sig_pipe[0] = r->sig_pipe[1] = -1;
    r->next_trigger_id = 1;
    coil_backend_kind kind;
    int rc = choose_backend(&r->opts, &kind);
    if (rc == 0)
        rc = start_backend(r, kind);
    if (rc < 0) {
        coil__clock_fini(&r->clock);
        xthread_free(r);
        free(r->slots);
        free(r);
        return rc;
    }
    coil_log(COIL_LOG_INFO, COIL__SYS, "reactor backend: %s", r->be->name);
    *out = r;
    return 0;
}

const char *coil_reactor_backend_name(const coil_reactor *r)
{
    return r->be->name;
}

/* ---- call_soon ----------------------------------------------------------- */

int coil_reactor_call_soon(coil_reactor *r, void (*fn)(void *arg), void *arg)
{
    if (r->calls_len == r->calls_cap) {
        size_t cap = r->calls_cap ? r->calls_cap * 2 : 64;
        coil__call *c = malloc(cap * sizeof(*c));
        if (!c)
            return -ENOMEM;
        for (size_t i = 0; i < r->calls_len; i++)
            c[i] = r->calls[(r->calls_head + i) % r->calls_cap];
        free(r->calls);
        r->calls = c;
        r->calls_cap = cap;
        r->calls_head = 0;
    }
    r->calls[(r->calls_head + r->calls_len) % r->calls_cap] = (coil__call){fn, arg};
    r->calls_len++;
    return 0;
}

/* Run the calls queued before this turn; calls they queue wait a turn. */
static void run_calls(coil_reactor *r)
{
    size_t n = r->calls_len;
    while (n-- > 0) {
        coil__call c = r->calls[r->calls_head];
        r->calls_head = (r->calls_head + 1) % r->calls_cap;
        r->calls_len--;
        c.fn(c.arg);
    }
}

coil_clock *coil_reactor_clock(coil_reactor *r)
{
    return &r->clock;
}

coil_delayed_call *coil_reactor_call_later(coil_reactor *r, double delay, coil_delayed_fn fn,
                                           void *arg)
{
    return coil_call_later(&r->clock, delay, fn, arg);
}

/* ---- loop ---------------------------------------------------------------- */

bool coil__reactor_has_work(const coil_reactor *r)
{
    /* A stop request, or a shutdown with nothing left to drain, must not
     * wait for I/O either. */
    return r->calls_len || r->endgame_head || r->heldq || (r->running && r->stop_requested) ||
           (r->shutting_down && r->live == 0) || (r->awaiting_triggers && !r->trigger_waits);
}

/* One turn: due calls and timers, final callbacks, then wait for the
 * backend (not at all when work is already pending) and dispatch. */
static int turn(coil_reactor *r, int64_t max_wait_ns)
{
    r->stats.loop_turns++;
    run_calls(r);
    coil__clock_run_due(&r->clock, coil__monotonic_ns(), r->clock.seq);
    run_endgame(r);
    coil__deliver_held(r);

    xthread_watch(r);
    int64_t timeout = max_wait_ns;
    if (coil__reactor_has_work(r)) {
        timeout = 0;
    } else {
        int64_t next = coil__clock_next_ns(&r->clock);
        if (next != INT64_MAX) {
            int64_t until = next - coil__monotonic_ns();
            if (until < 0)
                until = 0;
            if (timeout < 0 || until < timeout)
                timeout = until;
        }
    }
    int rc = r->be->wait(r, timeout);
    run_endgame(r);
    return rc;
}

int coil_reactor_iterate(coil_reactor *r, double timeout)
{
    int64_t ns = timeout < 0 ? -1 : (int64_t)(timeout * 1e9);
    uint64_t seq = r->clock.seq;
    int rc = turn(r, ns);
    /* Timers that fell due during the wait run before returning (as libuv's
     * UV_RUN_ONCE does): otherwise the wait ends for a timer, and the next
     * iterate runs it and then blocks for its whole timeout. Calls
     * scheduled during this turn wait for the next one. */
    if (coil__clock_run_due(&r->clock, coil__monotonic_ns(), seq) > 0)
        run_endgame(r);
    return rc;
}

void coil_reactor_set_shutdown_abort(coil_reactor *r, bool abort)
{
    r->shutdown_abort = abort;
}

void coil_reactor_stop(coil_reactor *r)
{
    r->stop_requested = true;
}

/* ---- system event triggers ---------------------------------------------- */

static long add_trigger(coil_reactor *r, coil__trigger t)
{
    if ((unsigned)t.phase > COIL_PHASE_AFTER || (unsigned)t.event > COIL_EVENT_SHUTDOWN ||
        (!t.fn && !t.dfn))
        return -EINVAL;
    coil__trigger *ts = realloc(r->triggers, (r->ntriggers + 1) * sizeof(*ts));
    if (!ts)
        return -ENOMEM;
    r->triggers = ts;
    t.id = r->next_trigger_id++;
    ts[r->ntriggers++] = t;
    return t.id;
}

long coil_reactor_add_trigger(coil_reactor *r, coil_phase phase, coil_event event,
                              void (*fn)(void *arg), void *arg)
{
    return add_trigger(r, (coil__trigger){.phase = phase, .event = event, .fn = fn, .arg = arg});
}

long coil_reactor_add_trigger_deferred(coil_reactor *r, coil_phase phase, coil_event event,
                                       coil_deferred *(*fn)(void *arg), void *arg)
{
    return add_trigger(r, (coil__trigger){.phase = phase, .event = event, .dfn = fn, .arg = arg});
}

int coil_reactor_remove_trigger(coil_reactor *r, long id)
{
    for (size_t i = 0; i < r->ntriggers; i++) {
        if (r->triggers[i].id == id) {
            memmove(&r->triggers[i], &r->triggers[i + 1],
                    (r->ntriggers - i - 1) * sizeof(*r->triggers));
            r->ntriggers--;
            return 0;
        }
    }
    return -ENOENT;
}

static coil_result trigger_fired(coil_result res, void *arg)
{
    coil_reactor *r = arg;
    r->trigger_waits--;
    if (coil_result_is_failure(res)) {
        char *text = coil_failure_format(res.failure);
        coil_log(COIL_LOG_ERROR, COIL__SYS, "Error in a system event trigger:\n%s",
                 text ? text : "?");
        free(text);
    }
    coil_result_release(res);
    return coil_result_none();
}

/* Each trigger fires once; triggers added while firing a phase of the same
 * event also run (they are appended and found by the same scan). Then the
 * loop keeps turning until every Deferred a trigger returned has fired. */
static void fire_triggers(coil_reactor *r, coil_event event, coil_phase phase)
{
    size_t i = 0;
    while (i < r->ntriggers) {
        coil__trigger t = r->triggers[i];
        if (t.event != event || t.phase != phase) {
            i++;
            continue;
        }
        memmove(&r->triggers[i], &r->triggers[i + 1], (r->ntriggers - i - 1) * sizeof(t));
        r->ntriggers--;
        if (t.fn) {
            t.fn(t.arg);
            continue;
        }
        coil_deferred *d = t.dfn(t.arg);
        if (!d)
            continue;
        r->trigger_waits++;
        coil_deferred_add_both(d, trigger_fired, r);
        coil_deferred_unref(d);
    }
    r->awaiting_triggers = true;
    while (r->trigger_waits > 0 && turn(r, -1) >= 0) {
    }
    r->awaiting_triggers = false;
}

/* Close every port and connection ("during shutdown"); their callbacks run
 * with COIL_ESHUTDOWN as the loop drains them. */
static void disconnect_all(coil_reactor *r)
{
    for (coil__handle *h = r->handles; h; h = h->next) {
        if (h->closing)
            continue;
        if (h->type == COIL__H_TRANSPORT)
            coil__transport_close((coil_transport *)h, COIL_ESHUTDOWN, r->shutdown_abort);
        else if (h->type == COIL__H_PORT)
            coil_port_stop_listening((coil_port *)h, NULL, NULL);
        else if (h->type == COIL__H_DGRAM)
            coil_datagram_stop_listening((coil_datagram_port *)h, NULL, NULL);
    }
}

static int drain_handles(coil_reactor *r)
{
    int rc = 0;
    while (r->live > 0 && rc >= 0) {
        disconnect_all(r); /* also catches handles created by callbacks meanwhile */
        rc = turn(r, -1);
    }
    return rc;
}

int coil_reactor_run(coil_reactor *r)
{
    if (r->running)
        return -EBUSY;
    r->running = true;
    /* A stop requested before run() (say, from a listen errback that fired
     * at once) is kept: run() starts up, then shuts down at once. Clearing
     * it would make "print the error and stop" hang forever. */
    if (!(r->opts.flags & COIL_REACTOR_NO_SIGNALS))
        coil__signals_install(r);
    if (!r->started) {
        r->started = true;
        for (int p = COIL_PHASE_BEFORE; p <= COIL_PHASE_AFTER; p++)
            fire_triggers(r, COIL_EVENT_STARTUP, (coil_phase)p);
    }
    int rc = 0;
    while (!r->stop_requested && rc >= 0)
        rc = turn(r, -1);
    r->stop_requested = false; /* shutting down now: turns may block again */
    fire_triggers(r, COIL_EVENT_SHUTDOWN, COIL_PHASE_BEFORE);
    fire_triggers(r, COIL_EVENT_SHUTDOWN, COIL_PHASE_DURING);
    r->shutting_down = true;
    int drc = drain_handles(r);
    r->shutting_down = false;
    fire_triggers(r, COIL_EVENT_SHUTDOWN, COIL_PHASE_AFTER);
    /* Twisted reports unhandled Deferred failures when they are collected;
     * a stopping reactor reports those still alive (once each). */
    coil_deferred_log_unhandled();
    coil__signals_remove(r);
    /* Not running any more: a pending stop request must not count as work
     * in the loop below (it would spin forever). */
    r->running = false;
    r->shutdown_abort = false; /* for this run only */
    r->stop_requested = false;
    /* Calls queued by shutdown callbacks still run once. */
    while (coil__reactor_has_work(r) && drc >= 0)
        drc = turn(r, 0);
    return rc < 0 ? rc : drc < 0 ? drc : 0;
}

void coil_reactor_free(coil_reactor *r)
{
    if (!r)
        return;
    /* The resolver's workers first: lookups still running are waited for
     * and delivered (calls from other threads queued so far run too), so
     * that whatever their callbacks open is closed by the drain below. */
    if (r->resolver_fini)
        r->resolver_fini(r);
    xthread_run(r);
    /* As in run(): once the last handle is gone the turn must not block
     * (a backend that closes at once, e.g. poll, leaves nothing to wait for). */
    r->shutting_down = true;
    drain_handles(r);
    r->shutting_down = false;
    run_calls(r);
    if (r->resolver_fini) /* a lookup started by a callback since */
        r->resolver_fini(r);
    xthread_run(r);
    r->be->fini(r);
    run_endgame(r);
    coil__signals_fini(r);
    xthread_free(r);
    coil__clock_fini(&r->clock);
    coil__pool_fini(&r->pool);
    free(r->calls);
    free(r->slots);
    free(r->triggers);
    free(r->rbuf);
    free(r);
}
