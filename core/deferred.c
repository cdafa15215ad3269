/* SPDX-License-Identifier: MIT */
/*
 * Deferred core: callback chains, firing, chaining, cancellation, unhandled
 * error reporting and the small helpers (succeed, fail, deferLater,
 * addTimeout, maybeDeferred). DeferredList lives in deferred_list.c.
 * The algorithm follows Twisted 22.4's Deferred._runCallbacks; see
 * docs/DEFERRED.md for the ownership model and the divergences.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/deferred.h>
#include <coil/error.h>
#include <coil/log.h>

#include "deferred_int.h"

#define LOG_SYSTEM "coil.deferred"
/* Pairs stored inside the Deferred before the queue moves to the heap:
 * most chains are short, so this saves a malloc per Deferred. */
#define INLINE_ITEMS 4
/* Waiting Deferreds processed without a heap allocation in one run. */
#define INLINE_CHAIN 16

/* Internal, shared with deferred_list.c (no private header on purpose:
 * core/ has none for this module). */

/* One callback pair, or a continuation (cont != NULL): the marker Twisted
 * calls _CONTINUE, which hands this Deferred's result to `cont`, a Deferred
 * waiting on this one. The continuation owns a reference to `cont`. */
struct item {
    coil_deferred_fn cb;
    coil_deferred_fn eb;
    void *arg;
    coil_destroy_fn arg_destroy;
    coil_deferred *cont;
};

struct coil_deferred {
    unsigned refs;
    unsigned paused;              /* user pause() count */
    bool called;                  /* callback()/errback() happened */
    bool running;                 /* one of our callbacks is executing */
    bool suppress_already_called; /* cancelled without canceller */
    bool in_canceller;            /* defer releasing the canceller arg */
    bool list_mode;               /* a DeferredList (see coil__deferred_init_list) */
    bool reported;                /* current failure already logged */
    bool stashed;                 /* on the thread's unhandled list */
    coil_result result;           /* valid once called */
    const coil_deferred *chained_to;
    coil_canceller_fn canceller;
    void *canceller_arg;
    coil_destroy_fn canceller_destroy;
    struct item *items; /* queue: items[head .. head+len) */
    uint32_t head;
    uint32_t len;
    uint32_t cap;
    coil_deferred *stash_prev; /* unhandled list links */
    coil_deferred *stash_next;
    coil_deferred *next_dead; /* destruction queue link */
    struct item inline_items[INLINE_ITEMS];
};

/* Deferreds whose chain ended in a failure (Twisted's DebugInfo.failResult). */
static _Thread_local coil_deferred *stash_head;
/* Deferreds waiting to be finalized; see coil_deferred_unref(). */
static _Thread_local coil_deferred *dead_head;
static _Thread_local bool reaping;

static void run_callbacks(coil_deferred *self);

/* ---- Results -------------------------------------------------------------- */

void coil_result_release(coil_result r)
{
    switch (r.kind) {
    case COIL_RESULT_VALUE:
        if (r.value.destroy)
            r.value.destroy(r.value.ptr);
        break;
    case COIL_RESULT_FAILURE:
        coil_failure_unref(r.failure);
        break;
    case COIL_RESULT_DEFERRED:
        coil_deferred_unref(r.deferred);
        break;
    }
}

static bool is_failure(const coil_deferred *d)
{
    return d->result.kind == COIL_RESULT_FAILURE;
}

/* Fired, but its result is an inner Deferred it waits on. */
static bool is_waiting(const coil_deferred *d)
{
    return d->called && d->result.kind == COIL_RESULT_DEFERRED;
}

static bool is_paused(const coil_deferred *d)
{
    return d->paused > 0 || is_waiting(d);
}

/* ---- Unhandled failure bookkeeping -------------------------------------- */

static void stash_remove(coil_deferred *d)
{
    if (!d->stashed)
        return;
    if (d->stash_prev)
        d->stash_prev->stash_next = d->stash_next;
    else
        stash_head = d->stash_next;
    if (d->stash_next)
        d->stash_next->stash_prev = d->stash_prev;
    d->stash_prev = d->stash_next = NULL;
    d->stashed = false;
}

/* Called whenever a run of the chain is done with `d`: remember whether it
 * now ends in an unhandled failure. */
static void stash_update(coil_deferred *d)
{
    if (!is_failure(d) || d->reported) {
        stash_remove(d);
        return;
    }
    if (d->stashed)
        return;
    d->stash_prev = NULL;
    d->stash_next = stash_head;
    if (stash_head)
        stash_head->stash_prev = d;
    stash_head = d;
    d->stashed = true;
}

static void log_unhandled(const coil_failure *f)
{
    char text[1024];
    coil_failure_snprint(f, text, sizeof(text));
    coil_log(COIL_LOG_CRITICAL, LOG_SYSTEM, "Unhandled error in Deferred:\n%s", text);
}

size_t coil_deferred_log_unhandled(void)
{
    size_t n = 0;
    coil_deferred *d;
    while ((d = stash_head)) {
        stash_remove(d);
        d->reported = true;
        log_unhandled(d->result.failure);
        n++;
    }
    return n;
}

/* ---- Callback queue -------------------------------------------------------- */

static int items_reserve(coil_deferred *d, uint32_t extra)
{
    if (d->head + d->len + extra <= d->cap)
        return 0;
    if (d->len + extra <= d->cap) { /* room at the front: compact */
        memmove(d->items, d->items + d->head, d->len * sizeof(*d->items));
        d->head = 0;
        return 0;
    }
    uint32_t cap = d->cap * 2;
    while (cap < d->len + extra)
        cap *= 2;
    struct item *items = malloc(cap * sizeof(*items));
    if (!items)
        return -ENOMEM;
    memcpy(items, d->items + d->head, d->len * sizeof(*items));
    if (d->items != d->inline_items)
        free(d->items);
    d->items = items;
    d->cap = cap;
    d->head = 0;
    return 0;
}

/* A new slot at the end of the queue, filled in place by the caller
 * (copying a whole item in costs store-forwarding stalls on the hot path). */
static struct item *items_append(coil_deferred *d)
{
    if (items_reserve(d, 1) < 0)
        return NULL;
    return &d->items[d->head + d->len++];
}

/* Copies the item out: the array may move while it runs. */
static struct item items_pop(coil_deferred *d)
{
    struct item it = d->items[d->head++];
    if (--d->len == 0)
        d->head = 0;
    return it;
}

/* A pair leaves the chain without running (its Deferred is destroyed). */
static void item_discard(struct item *it)
{
    if (it->cont)
        coil_deferred_unref(it->cont);
    else if (it->arg_destroy)
        it->arg_destroy(it->arg);
}

/* ---- Lifetime --------------------------------------------------------------- */

coil_deferred *coil_deferred_new_full(coil_canceller_fn canceller, void *arg,
                                      coil_destroy_fn canceller_destroy)
{
    coil_deferred *d = malloc(sizeof(*d));
    if (!d)
        return NULL;
    /* Everything but the inline item storage, which needs no zeroing. */
    memset(d, 0, offsetof(coil_deferred, inline_items));
    d->refs = 1;
    d->canceller = canceller;
    d->canceller_arg = arg;
    d->canceller_destroy = canceller_destroy;
    d->items = d->inline_items;
    d->cap = INLINE_ITEMS;
    return d;
}

coil_deferred *coil_deferred_new(coil_canceller_fn canceller, void *arg)
{
    return coil_deferred_new_full(canceller, arg, NULL);
}

void coil__deferred_init_list(coil_deferred *d)
{
    d->list_mode = true;
}

coil_deferred *coil_deferred_ref(coil_deferred *d)
{
    if (d)
        d->refs++;
    return d;
}

static void release_canceller(coil_deferred *d)
{
    coil_destroy_fn destroy = d->canceller_destroy;
    void *arg = d->canceller_arg;
    d->canceller = NULL;
    d->canceller_arg = NULL;
    d->canceller_destroy = NULL;
    if (destroy)
        destroy(arg);
}

static void finalize(coil_deferred *d)
{
    if (d->called && is_failure(d) && !d->reported)
        log_unhandled(d->result.failure);
    stash_remove(d);
    if (d->called)
        coil_result_release(d->result);
    while (d->len) {
        struct item it = items_pop(d);
        item_discard(&it);
    }
    release_canceller(d);
    if (d->items != d->inline_items)
        free(d->items);
    free(d);
}

/* Dropping a Deferred can drop the Deferreds it holds (its waiting inner
 * one, continuations, chained ones), and so on down a chain of any length.
 * Instead of recursing, dead Deferreds go on a thread-local queue that the
 * outermost unref drains. */
void coil_deferred_unref(coil_deferred *d)
{
    if (!d || --d->refs > 0)
        return;
    d->next_dead = dead_head;
    dead_head = d;
    if (reaping)
        return;
    reaping = true;
    while ((d = dead_head)) {
        dead_head = d->next_dead;
        finalize(d);
    }
    reaping = false;
}

/* ---- Running the chain ------------------------------------------------------ */

/* Stack of Deferreds being processed by one run_callbacks(): a Deferred
 * whose result was handed to a waiting one is below that one. */
struct chain {
    coil_deferred **v;
    size_t len;
    size_t cap;
    coil_deferred *inline_v[INLINE_CHAIN];
};

static int chain_push(struct chain *c, coil_deferred *d)
{
    if (c->len == c->cap) {
        size_t cap = c->cap * 2;
        coil_deferred **v = malloc(cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        memcpy(v, c->v, c->len * sizeof(*v));
        if (c->v != c->inline_v)
            free(c->v);
        c->v = v;
        c->cap = cap;
    }
    c->v[c->len++] = d;
    return 0;
}

/* Run one pair on `cur`: the result moves into the callback and its return
 * value becomes the new result. */
static void run_item(coil_deferred *cur, struct item *it)
{
    coil_deferred_fn fn = is_failure(cur) ? it->eb : it->cb;
    if (fn) {
        coil_result in = cur->result;
        cur->result = coil_result_none();
        cur->reported = false;
        cur->running = true;
        coil_result out = fn(in, it->arg);
        cur->running = false;
        if (out.kind == COIL_RESULT_FAILURE && !out.failure)
            out = coil_result_failure(
                coil_failure_new(COIL_DEFER_DOMAIN, -EINVAL, "Callback returned a NULL failure"));
        cur->result = out;
    }
    if (it->arg_destroy)
        it->arg_destroy(it->arg);
}

/* `cur`'s callback returned a Deferred. Take its result if it has one
 * (Twisted steals it, leaving None behind) and return true; otherwise make
 * `cur` wait on it via a continuation and return false. */
static bool chain_or_steal(coil_deferred *cur)
{
    coil_deferred *inner = cur->result.deferred;
    if (!inner || inner == cur) {
        /* Twisted only warns about a Deferred returned from its own callback
         * and then waits forever; in C that would be a reference cycle, so
         * we turn it into a failure (Twisted's behaviour when warnings are
         * errors). */
        const char *msg = inner ? "Callback returned the Deferred it was attached to"
                                : "Callback returned a NULL Deferred";
        coil_log(COIL_LOG_WARN, LOG_SYSTEM, "%s; this breaks the callback chain", msg);
        coil_deferred_unref(inner);
        cur->result = coil_result_failure(coil_failure_new(COIL_DEFER_DOMAIN, -EINVAL, "%s", msg));
        return true;
    }
    if (!inner->called || is_paused(inner)) {
        struct item *cont = items_append(inner);
        if (!cont) {
            coil_deferred_unref(inner);
            cur->result = coil_result_failure(
                coil_failure_new("coil", -ENOMEM, "Out of memory while chaining Deferreds"));
            return true;
        }
        *cont = (struct item){.cont = coil_deferred_ref(cur)};
        cur->chained_to = inner;
        return false;
    }
    cur->result = inner->result;
    inner->result = coil_result_none();
    stash_remove(inner);
    coil_deferred_unref(inner);
    return true;
}

/* A continuation popped from `cur`: give `cur`'s result to `waiting`, which
 * currently holds `cur` as its result. Returns `waiting`, whose reference
 * (from the continuation) the caller takes over. */
static coil_deferred *hand_over(coil_deferred *cur, coil_deferred *waiting)
{
    coil_result mine = cur->result;
    cur->result = coil_result_none();
    stash_remove(cur);
    coil_result held = waiting->result; /* == cur: the reference is dropped */
    waiting->result = mine;
    coil_result_release(held);
    return waiting;
}

/* Process `cur`'s queue. Returns a waiting Deferred that must be processed
 * next (pushed on the chain), or NULL when `cur` is done for now (queue
 * empty or waiting on an inner Deferred). */
static coil_deferred *process(coil_deferred *cur)
{
    cur->chained_to = NULL;
    while (cur->len) {
        struct item it = items_pop(cur);
        if (it.cont)
            return hand_over(cur, it.cont);
        run_item(cur, &it);
        if (cur->result.kind == COIL_RESULT_DEFERRED && !chain_or_steal(cur))
            return NULL;
    }
    return NULL;
}

/* Iterative version of Twisted's _runCallbacks: waiting Deferreds are pushed
 * on an explicit stack instead of being run recursively, so the C stack
 * depth does not depend on the length of a chain of Deferreds. */
static void run_callbacks(coil_deferred *self)
{
    if (self->running)
        return; /* the running loop above us picks up new pairs */
    struct chain c = {.cap = INLINE_CHAIN};
    c.v = c.inline_v;
    c.v[c.len++] = coil_deferred_ref(self);
    while (c.len) {
        coil_deferred *cur = c.v[c.len - 1];
        if (is_paused(cur))
            break; /* everything below waits for it */
        coil_deferred *next = process(cur);
        if (next) {
            if (chain_push(&c, next) < 0) {
                /* Out of memory for the stack: recurse instead. */
                run_callbacks(next);
                coil_deferred_unref(next);
            }
            continue;
        }
        stash_update(cur);
        c.len--;
        coil_deferred_unref(cur);
    }
    while (c.len)
        coil_deferred_unref(c.v[--c.len]);
    if (c.v != c.inline_v)
        free(c.v);
}

/* ---- Public chain API ------------------------------------------------------- */

int coil_deferred_add_callbacks_full(coil_deferred *d, coil_deferred_fn cb, coil_deferred_fn eb,
                                     void *arg, coil_destroy_fn arg_destroy)
{
    struct item *it = items_append(d);
    if (!it)
        return -ENOMEM;
    it->cb = cb;
    it->eb = eb;
    it->arg = arg;
    it->arg_destroy = arg_destroy;
    it->cont = NULL;
    if (d->called)
        run_callbacks(d);
    return 0;
}

int coil_deferred_add_callbacks(coil_deferred *d, coil_deferred_fn cb, coil_deferred_fn eb,
                                void *arg)
{
    return coil_deferred_add_callbacks_full(d, cb, eb, arg, NULL);
}

int coil_deferred_add_callback(coil_deferred *d, coil_deferred_fn cb, void *arg)
{
    return coil_deferred_add_callbacks_full(d, cb, NULL, arg, NULL);
}

int coil_deferred_add_errback(coil_deferred *d, coil_deferred_fn eb, void *arg)
{
    return coil_deferred_add_callbacks_full(d, NULL, eb, arg, NULL);
}

int coil_deferred_add_both(coil_deferred *d, coil_deferred_fn fn, void *arg)
{
    return coil_deferred_add_callbacks_full(d, fn, fn, arg, NULL);
}

/* Twisted's _startRunCallbacks. */
static int fire(coil_deferred *d, coil_result result)
{
    if (d->called) {
        coil_result_release(result);
        if (d->suppress_already_called) {
            /* The producer's late fire after a cancel without canceller. */
            d->suppress_already_called = false;
            return 0;
        }
        coil_log(COIL_LOG_ERROR, LOG_SYSTEM,
                 "AlreadyCalledError: Deferred at %p was already called", (void *)d);
        return COIL_EALREADYCALLED;
    }
    d->called = true;
    d->result = result;
    if (!d->in_canceller && !d->list_mode)
        release_canceller(d); /* never needed again; breaks cycles early */
    run_callbacks(d);
    return 0;
}

int coil_deferred_callback(coil_deferred *d, coil_result result)
{
    if (result.kind == COIL_RESULT_DEFERRED) {
        coil_log(COIL_LOG_ERROR, LOG_SYSTEM, "Deferred at %p: callback() with a Deferred result",
                 (void *)d);
        coil_result_release(result);
        return -EINVAL;
    }
    if (result.kind == COIL_RESULT_FAILURE && !result.failure)
        return -EINVAL;
    /* Our own reference: releasing the canceller arg may drop the caller's. */
    coil_deferred_ref(d);
    int rc = fire(d, result);
    coil_deferred_unref(d);
    return rc;
}

int coil_deferred_errback(coil_deferred *d, coil_failure *f)
{
    if (!f)
        return -EINVAL;
    return coil_deferred_callback(d, coil_result_failure(f));
}

/* The CancelledError, located at the user's cancel call when known. */
static coil_failure *cancelled_failure(const char *file, int line, const char *func)
{
    if (line > 0)
        return coil_failure_new_at(file, line, func, COIL_DEFER_DOMAIN, COIL_DEFER_CANCELLED,
                                   "Deferred was cancelled");
    return coil_failure_new(COIL_DEFER_DOMAIN, COIL_DEFER_CANCELLED, "Deferred was cancelled");
}

void(coil_deferred_cancel)(coil_deferred *d)
{
    coil_deferred_cancel_at(d, NULL, 0, NULL);
}

void coil_deferred_cancel_at(coil_deferred *d, const char *file, int line, const char *func)
{
    /* A fired Deferred waiting on another forwards the cancel to it, and so
     * on down the chain: walk to the innermost one instead of recursing. */
    while (is_waiting(d))
        d = d->result.deferred;
    if (d->called)
        return;
    coil_deferred_ref(d);
    if (d->canceller) {
        coil_canceller_fn canceller = d->canceller;
        d->canceller = NULL; /* at most once */
        d->in_canceller = true;
        canceller(d, d->canceller_arg);
        d->in_canceller = false;
    } else if (!d->list_mode) {
        /* Eat the result the producer will eventually deliver. */
        d->suppress_already_called = true;
    }
    if (!d->called && !d->list_mode)
        fire(d, coil_result_failure(cancelled_failure(file, line, func)));
    else if (d->called && !d->list_mode)
        release_canceller(d); /* it fired from inside the canceller */
    coil_deferred_unref(d);
}

void coil_deferred_pause(coil_deferred *d)
{
    d->paused++;
}

void coil_deferred_unpause(coil_deferred *d)
{
    if (d->paused == 0 || --d->paused > 0)
        return;
    if (d->called)
        run_callbacks(d);
}

/* ---- chainDeferred ------------------------------------------------------- */

static coil_result chain_fire(coil_result result, void *arg)
{
    coil_deferred *other = arg;
    int rc = coil_deferred_callback(other, result);
    if (rc < 0) /* Twisted: the AlreadyCalledError becomes our result */
        return coil_result_failure(
            coil_failure_new(COIL_DEFER_DOMAIN, rc, "Chained Deferred was already called"));
    return coil_result_none();
}

static void chain_release(void *arg)
{
    coil_deferred *other = arg;
    if (!other->called)
        other->chained_to = NULL;
    coil_deferred_unref(other);
}

int coil_deferred_chain(coil_deferred *d, coil_deferred *other)
{
    const coil_deferred *old = other->chained_to;
    other->chained_to = d;
    coil_deferred_ref(other);
    int rc = coil_deferred_add_callbacks_full(d, chain_fire, chain_fire, other, chain_release);
    if (rc < 0) {
        other->chained_to = old;
        coil_deferred_unref(other);
    }
    return rc;
}

/* ---- Introspection ---------------------------------------------------------- */

bool coil_deferred_called(const coil_deferred *d)
{
    return d->called;
}

unsigned coil_deferred_paused(const coil_deferred *d)
{
    return d->paused + (is_waiting(d) ? 1u : 0u);
}

const coil_result *coil_deferred_peek(const coil_deferred *d)
{
    return d->called ? &d->result : NULL;
}

const coil_deferred *coil_deferred_chained_to(const coil_deferred *d)
{
    return d->chained_to;
}

size_t coil_deferred_repr(const coil_deferred *d, char *buf, size_t size)
{
    int n;
    if (d->chained_to)
        n = snprintf(buf, size, "<Deferred at %p waiting on Deferred at %p>", (const void *)d,
                     (const void *)d->chained_to);
    else if (!d->called)
        n = snprintf(buf, size, "<Deferred at %p>", (const void *)d);
    else if (is_failure(d))
        n = snprintf(buf, size, "<Deferred at %p current result: <Failure %s %d: %s>>",
                     (const void *)d, coil_failure_domain(d->result.failure),
                     coil_failure_code(d->result.failure), coil_failure_message(d->result.failure));
    else
        n = snprintf(buf, size, "<Deferred at %p current result: %p>", (const void *)d,
                     d->result.value.ptr);
    return n < 0 ? 0 : (size_t)n;
}

/* ---- succeed / fail / maybeDeferred ----------------------------------------- */

coil_deferred *coil_succeed(coil_result result)
{
    if (result.kind == COIL_RESULT_DEFERRED)
        return result.deferred;
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    if (!d) {
        coil_result_release(result);
        return NULL;
    }
    coil_deferred_callback(d, result);
    return d;
}

coil_deferred *coil_fail(coil_failure *f)
{
    return coil_succeed(coil_result_failure(f));
}

coil_deferred *coil_maybe_deferred(coil_result_fn fn, void *arg)
{
    return coil_succeed(fn(arg));
}

/* ---- deferLater -------------------------------------------------------------- */

struct later {
    coil_deferred *d; /* reference held by the pending timer */
    coil_delayed_call *call;
    coil_result_fn fn;
    void *arg;
    coil_destroy_fn arg_destroy;
};

static void later_fire(void *p)
{
    struct later *l = p;
    coil_deferred *d = l->d;
    l->call = NULL; /* the clock frees it after we return */
    l->d = NULL;
    coil_deferred_callback(d, coil_result_none()); /* may free l */
    coil_deferred_unref(d);
}

static void later_cancel(coil_deferred *d, void *p)
{
    struct later *l = p;
    if (!l->call)
        return;
    coil_delayed_call_cancel(l->call);
    l->call = NULL;
    l->d = NULL;
    coil_deferred_unref(d); /* the timer's reference; cancel() holds one */
}

/* The clock went away with the timer pending: give back its reference. */
static void later_drop(void *p)
{
    struct later *l = p;
    coil_deferred *d = l->d;
    l->call = NULL;
    l->d = NULL;
    coil_deferred_unref(d);
}

static coil_result later_run(coil_result ignored, void *p)
{
    struct later *l = p;
    coil_result_release(ignored);
    return l->fn ? l->fn(l->arg) : coil_result_none();
}

static void later_free(void *p)
{
    struct later *l = p;
    if (l->arg_destroy)
        l->arg_destroy(l->arg);
    free(l);
}

coil_deferred *coil_defer_later(coil_clock *clock, double delay, coil_result_fn fn, void *arg,
                                coil_destroy_fn arg_destroy)
{
    struct later *l = malloc(sizeof(*l));
    if (!l)
        return NULL;
    *l = (struct later){.fn = fn, .arg = arg, .arg_destroy = arg_destroy};
    coil_deferred *d = coil_deferred_new(later_cancel, l);
    if (!d) {
        free(l);
        return NULL;
    }
    /* Cannot fail: the first pairs are stored inline. */
    coil_deferred_add_callbacks_full(d, later_run, NULL, l, later_free);
    l->d = coil_deferred_ref(d);
    l->call = coil_call_later_full(clock, delay, later_fire, l, later_drop);
    if (!l->call) {
        l->arg_destroy = NULL; /* on error the caller keeps its arg */
        l->d = NULL;
        coil_deferred_unref(d);
        coil_deferred_unref(d);
        return NULL;
    }
    return d;
}

/* ---- addTimeout ---------------------------------------------------------------- */

struct timeout {
    coil_deferred *d; /* reference held by the pending timer */
    coil_delayed_call *call;
    double seconds;
    bool timed_out;
    coil_timeout_fn on_timeout_cancel;
    void *arg;
    coil_destroy_fn arg_destroy;
    const char *file; /* the user's add_timeout call (line 0: unknown) */
    const char *func;
    int line;
};

static void timeout_fire(void *p)
{
    struct timeout *t = p;
    coil_deferred *d = t->d;
    t->call = NULL;
    t->d = NULL;
    t->timed_out = true;
    coil_deferred_cancel(d); /* may free t */
    coil_deferred_unref(d);
}

static void timeout_drop(void *p)
{
    struct timeout *t = p;
    coil_deferred *d = t->d;
    t->call = NULL;
    t->d = NULL;
    coil_deferred_unref(d);
}

/* Twisted's convertCancelled / _cancelledToTimedOutError. */
static coil_result timeout_convert(coil_result result, void *p)
{
    struct timeout *t = p;
    if (!t->timed_out)
        return result;
    if (t->on_timeout_cancel)
        return t->on_timeout_cancel(result, t->seconds, t->arg);
    if (result.kind != COIL_RESULT_FAILURE ||
        !coil_failure_check(result.failure, COIL_DEFER_DOMAIN, COIL_DEFER_CANCELLED))
        return result;
    coil_result_release(result);
    if (t->line > 0)
        return coil_result_failure(coil_failure_new_at(t->file, t->line, t->func,
                                                       COIL_DEFER_DOMAIN, COIL_DEFER_TIMEOUT,
                                                       "Deferred timed out after %g seconds",
                                                       t->seconds));
    return coil_result_failure(coil_failure_new(COIL_DEFER_DOMAIN, COIL_DEFER_TIMEOUT,
                                                "Deferred timed out after %g seconds", t->seconds));
}

/* Twisted's cancelTimeout: the chain got here, the timer is not needed. */
static coil_result timeout_stop(coil_result result, void *p)
{
    struct timeout *t = p;
    if (t->call) {
        coil_delayed_call_cancel(t->call);
        t->call = NULL;
        coil_deferred *d = t->d;
        t->d = NULL;
        coil_deferred_unref(d); /* the run loop holds its own reference */
    }
    return result;
}

static void timeout_free(void *p)
{
    struct timeout *t = p;
    if (t->arg_destroy)
        t->arg_destroy(t->arg);
    free(t);
}

int(coil_deferred_add_timeout_full)(coil_deferred *d, coil_clock *clock, double seconds,
                                    coil_timeout_fn on_timeout_cancel, void *arg,
                                    coil_destroy_fn arg_destroy)
{
    return coil_deferred_add_timeout_full_at(d, clock, seconds, on_timeout_cancel, arg,
                                             arg_destroy, NULL, 0, NULL);
}

int coil_deferred_add_timeout_full_at(coil_deferred *d, coil_clock *clock, double seconds,
                                      coil_timeout_fn on_timeout_cancel, void *arg,
                                      coil_destroy_fn arg_destroy, const char *file, int line,
                                      const char *func)
{
    struct timeout *t = malloc(sizeof(*t));
    if (!t || items_reserve(d, 2) < 0) {
        free(t);
        return -ENOMEM;
    }
    *t = (struct timeout){
        .d = coil_deferred_ref(d),
        .seconds = seconds,
        .on_timeout_cancel = on_timeout_cancel,
        .arg = arg,
        .file = file,
        .func = func,
        .line = line,
    };
    t->call = coil_call_later_full(clock, seconds, timeout_fire, t, timeout_drop);
    if (!t->call) {
        coil_deferred_unref(d);
        free(t);
        return -ENOMEM;
    }
    t->arg_destroy = arg_destroy;
    /* Both pairs go in before anything runs (room was reserved above, so
     * this cannot fail). If `d` already fired they run now and stop the
     * timer at once. */
    d->items[d->head + d->len++] =
        (struct item){.cb = timeout_convert, .eb = timeout_convert, .arg = t};
    d->items[d->head + d->len++] = (struct item){
        .cb = timeout_stop, .eb = timeout_stop, .arg = t, .arg_destroy = timeout_free};
    if (d->called)
        run_callbacks(d);
    return 0;
}

int(coil_deferred_add_timeout)(coil_deferred *d, coil_clock *clock, double seconds)
{
    return coil_deferred_add_timeout_full_at(d, clock, seconds, NULL, NULL, NULL, NULL, 0, NULL);
}

int coil_deferred_add_timeout_at(coil_deferred *d, coil_clock *clock, double seconds,
                                 const char *file, int line, const char *func)
{
    return coil_deferred_add_timeout_full_at(d, clock, seconds, NULL, NULL, NULL, file, line,
                                             func);
}

/* ---- call sites ----------------------------------------------------------------- */

struct call_site {
    const char *file;
    const char *func;
    int line;
};

static coil_result note_call_site(coil_result result, void *p)
{
    const struct call_site *site = p;
    coil_failure_set_call_site(coil_result_failure_of(result), site->file, site->line,
                               site->func);
    return result;
}

coil_deferred *coil_deferred_set_call_site(coil_deferred *d, const char *file, int line,
                                           const char *func)
{
    if (!d || line <= 0)
        return d;
    struct call_site *site = malloc(sizeof(*site));
    if (!site)
        return d; /* only the message loses its call site */
    *site = (struct call_site){.file = file, .func = func, .line = line};
    if (coil_deferred_add_callbacks_full(d, NULL, note_call_site, site, free) < 0)
        free(site);
    return d;
}

coil_result coil_result_copy(const void *data, size_t len)
{
    char *copy = len < SIZE_MAX ? malloc(len + 1) : NULL;
    if (!copy)
        return coil_result_failure(coil_failure_new("coil", -ENOMEM, "Out of memory"));
    if (len)
        memcpy(copy, data, len);
    copy[len] = '\0';
    return coil_result_value(copy, free);
}
