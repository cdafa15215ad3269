/* SPDX-License-Identifier: MIT */
/*
 * Deferred: Twisted's promise of one result with two callback chains
 * (twisted.internet.defer, Twisted 22.4 semantics; divergences are listed in
 * docs/DEFERRED.md).
 *
 * A Deferred starts unfired. Callback pairs (callback, errback) are appended
 * with coil_deferred_add_callbacks() and friends. coil_deferred_callback() or
 * coil_deferred_errback() fires it once; from then on every pair runs in
 * order, the callback half if the current result is a value and the errback
 * half if it is a failure. Whatever a half returns becomes the current
 * result: a value continues on the callback chain, a failure switches to the
 * errback chain, and a Deferred makes this Deferred wait until that inner
 * Deferred has a result, which then becomes the current result. Pairs added
 * after the Deferred fired run immediately (or, when added from inside a
 * running callback, right after it returns).
 *
 * ---------------------------------------------------------------------------
 * Ownership rules
 *
 * 1. A coil_result owns its payload: a value's destructor (if any) must run
 *    exactly once, a failure or Deferred payload is one reference.
 *    coil_result_release() gives the payload up.
 * 2. Results move. coil_deferred_callback()/errback() take over the result
 *    even when they return an error. A callback receives the current result
 *    and owns it; what it returns is owned by the Deferred. To pass a result
 *    on, return it unchanged; to replace it, release it (or keep it
 *    elsewhere) and return the new one. A callback may steal a value's
 *    pointer simply by not calling its destructor.
 * 3. At the end of the chain the Deferred keeps the last result until it is
 *    destroyed (or until a pair added later consumes it), then releases it.
 * 4. Returning a Deferred from a callback hands one reference to the chain
 *    (use coil_result_deferred(coil_deferred_ref(d)) to keep your own).
 *    If that Deferred already has a result and is not paused, the result is
 *    taken from it at once and it is left with a "none" value (Twisted's
 *    result stealing).
 * 5. Deferreds are reference counted. coil_deferred_new() returns one
 *    reference owned by the caller. A Deferred is kept alive while:
 *    someone holds a reference; its callbacks run; another Deferred waits on
 *    it (the waiting one holds it) or it waits on another (the inner one
 *    holds it through its continuation); it was passed to
 *    coil_deferred_chain(), coil_deferred_list() or coil_deferred_add_timeout()
 *    and has not fired (see those functions). Because of the last two
 *    points, a wait is a reference cycle that firing (or cancelling) the
 *    inner Deferred breaks: the same object graph Twisted leaves to the
 *    garbage collector. Rule: every Deferred that something waits on must
 *    eventually be fired or cancelled, or the waiting chain leaks.
 *    A producer keeps a reference until it fires; a consumer may drop its
 *    reference right after adding callbacks (they still run).
 * 6. `arg` of a callback pair is borrowed. If `arg_destroy` is given
 *    (coil_deferred_add_callbacks_full()), it is called exactly once when
 *    the pair leaves the chain: right after one of its halves ran, or when
 *    the Deferred is destroyed before reaching it. A callback may drop the
 *    last reference to any Deferred, including its own (the chain holds one
 *    while running).
 * 7. The canceller's `arg` is borrowed until the Deferred first fires or is
 *    destroyed; `canceller_destroy` (coil_deferred_new_full()) is called
 *    then (after the canceller returned, if it fired the Deferred itself).
 *
 * Unhandled failures: when the last reference goes away and the current
 * result is a failure, "Unhandled error in Deferred:" followed by the
 * failure chain is logged at COIL_LOG_CRITICAL, system "coil.deferred"
 * (Twisted logs it when the garbage collector frees the Deferred). A
 * Deferred that is still alive is never reported implicitly; call
 * coil_deferred_log_unhandled() (the reactor does at shutdown) to report
 * every live Deferred whose callback chain ended in a failure.
 *
 * Threads: a Deferred, and everything chained to it, belongs to one thread
 * (normally the reactor's). Bookkeeping lists are thread-local.
 * Recursion: chains of waiting Deferreds are processed iteratively, and
 * destroying a long chain does not recurse either (Twisted's
 * test_boundedStackDepth).
 */
#ifndef COIL_DEFERRED_H
#define COIL_DEFERRED_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "error.h"
#include "export.h"
#include "failure.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct coil_deferred coil_deferred;

/* Error domain of failures created by this module. */
#define COIL_DEFER_DOMAIN "coil.defer"
/* CancelledError: a cancelled Deferred errbacks with (COIL_DEFER_DOMAIN,
 * -ECANCELED) unless its canceller fired it. */
#define COIL_DEFER_CANCELLED (-ECANCELED)
/* TimeoutError from coil_deferred_add_timeout(): (COIL_DEFER_DOMAIN, -ETIMEDOUT). */
#define COIL_DEFER_TIMEOUT (-ETIMEDOUT)
/* FirstError from coil_deferred_list()/coil_gather_results(): the index is
 * coil_first_error_index(), the failure of that Deferred is the cause. */
#define COIL_DEFER_FIRST_ERROR COIL_EFIRSTERROR

/* ---- Results ------------------------------------------------------------ */

typedef struct coil_value {
    void *ptr;
    coil_destroy_fn destroy; /* NULL: nothing to free (borrowed or plain data) */
} coil_value;

typedef enum coil_result_kind {
    COIL_RESULT_VALUE = 0,
    COIL_RESULT_FAILURE = 1,
    COIL_RESULT_DEFERRED = 2, /* only as a callback's return value */
} coil_result_kind;

typedef struct coil_result {
    coil_result_kind kind;
    union {
        coil_value value;        /* COIL_RESULT_VALUE */
        coil_failure *failure;   /* COIL_RESULT_FAILURE: one reference */
        coil_deferred *deferred; /* COIL_RESULT_DEFERRED: one reference */
    };
} coil_result;

/* A value; `destroy(ptr)` runs when the owner releases it. */
static inline coil_result coil_result_value(void *ptr, coil_destroy_fn destroy)
{
    coil_result r;
    r.kind = COIL_RESULT_VALUE;
    r.value.ptr = ptr;
    r.value.destroy = destroy;
    return r;
}
/* Python's None. */
static inline coil_result coil_result_none(void)
{
    return coil_result_value(NULL, NULL);
}
/* A small integer stored in the pointer (no destructor). */
static inline coil_result coil_result_int(intptr_t v)
{
    return coil_result_value((void *)v, NULL);
}
/* Takes over the caller's reference to `f`. */
static inline coil_result coil_result_failure(coil_failure *f)
{
    coil_result r;
    r.kind = COIL_RESULT_FAILURE;
    r.failure = f;
    return r;
}
/* Takes over the caller's reference to `d`. */
static inline coil_result coil_result_deferred(coil_deferred *d)
{
    coil_result r;
    r.kind = COIL_RESULT_DEFERRED;
    r.deferred = d;
    return r;
}
static inline bool coil_result_is_failure(coil_result r)
{
    return r.kind == COIL_RESULT_FAILURE;
}
static inline intptr_t coil_result_as_int(coil_result r)
{
    return r.kind == COIL_RESULT_VALUE ? (intptr_t)r.value.ptr : 0;
}
/* The value pointer (NULL for non-values). Does not transfer ownership. */
static inline void *coil_result_ptr(coil_result r)
{
    return r.kind == COIL_RESULT_VALUE ? r.value.ptr : NULL;
}
/* The failure a result holds, borrowed (NULL for any other result): an
 * errback reads it without reaching into the union. */
static inline coil_failure *coil_result_failure_of(coil_result r)
{
    return r.kind == COIL_RESULT_FAILURE ? r.failure : NULL;
}
/* A value holding a malloc'ed copy of `len` bytes of `data` followed by a
 * NUL (so text can be printed as a string), freed with free() by whoever
 * releases the result: a line or message handed to a Deferred. Out of
 * memory gives a failure (domain "coil", -ENOMEM) instead. */
COIL_API coil_result coil_result_copy(const void *data, size_t len);
/* Release what `r` owns (destructor, failure or Deferred reference). */
COIL_API void coil_result_release(coil_result r);

/* ---- Deferred ----------------------------------------------------------- */

/* A callback or errback: receives (owns) the current result, returns the new
 * one. See the ownership rules above. */
typedef coil_result (*coil_deferred_fn)(coil_result result, void *arg);
/* Stops the operation behind `d` when coil_deferred_cancel() is called on
 * it while unfired; may fire `d` (callback or errback) itself. */
typedef void (*coil_canceller_fn)(coil_deferred *d, void *arg);
/* A computation for coil_defer_later()/coil_maybe_deferred(). */
typedef coil_result (*coil_result_fn)(void *arg);

/* New unfired Deferred (one reference for the caller), NULL if out of
 * memory. `canceller` may be NULL. */
COIL_API coil_deferred *coil_deferred_new(coil_canceller_fn canceller, void *arg);
COIL_API coil_deferred *coil_deferred_new_full(coil_canceller_fn canceller, void *arg,
                                               coil_destroy_fn canceller_destroy);

/* Reference counting; both accept NULL; ref returns `d`. */
COIL_API coil_deferred *coil_deferred_ref(coil_deferred *d);
COIL_API void coil_deferred_unref(coil_deferred *d);

/* Append a pair. NULL halves pass the result through unchanged (Twisted's
 * passthru/_failthru). If `d` already fired and is not paused, the chain runs
 * before this returns (unless called from one of d's own callbacks: then the
 * pair runs right after the current callback returns). Returns 0, or -ENOMEM
 * (the pair is not added and arg_destroy is not called). */
COIL_API int coil_deferred_add_callbacks(coil_deferred *d, coil_deferred_fn cb, coil_deferred_fn eb,
                                         void *arg);
COIL_API int coil_deferred_add_callbacks_full(coil_deferred *d, coil_deferred_fn cb,
                                              coil_deferred_fn eb, void *arg,
                                              coil_destroy_fn arg_destroy);
COIL_API int coil_deferred_add_callback(coil_deferred *d, coil_deferred_fn cb, void *arg);
COIL_API int coil_deferred_add_errback(coil_deferred *d, coil_deferred_fn eb, void *arg);
COIL_API int coil_deferred_add_both(coil_deferred *d, coil_deferred_fn fn, void *arg);

/* Fire with `result` (a value or a failure; a failure behaves as errback).
 * Always takes over `result`. Returns 0; COIL_EALREADYCALLED if `d` already
 * fired (logged at COIL_LOG_ERROR, result released) -- except that the first
 * fire after a cancel() without canceller is silently swallowed and returns
 * 0, as in Twisted; -EINVAL for a COIL_RESULT_DEFERRED result. */
COIL_API int coil_deferred_callback(coil_deferred *d, coil_result result);
/* Fire with a failure (reference taken over). -EINVAL if `f` is NULL. */
COIL_API int coil_deferred_errback(coil_deferred *d, coil_failure *f);

/* Cancel: if unfired, call the canceller (at most once ever); if there is no
 * canceller or it did not fire `d`, errback with a CancelledError. If `d`
 * fired but waits on an inner Deferred, cancel that one instead. Otherwise
 * nothing happens. */
COIL_API void coil_deferred_cancel(coil_deferred *d);
/* The same; the CancelledError it may create is located at file:line in
 * func (the coil_deferred_cancel() macro passes the caller's). */
COIL_API void coil_deferred_cancel_at(coil_deferred *d, const char *file, int line,
                                      const char *func);

/* Stop running callbacks until as many unpause() calls as pause() calls were
 * made (extra unpause() calls are ignored). */
COIL_API void coil_deferred_pause(coil_deferred *d);
COIL_API void coil_deferred_unpause(coil_deferred *d);

/* Twisted's chainDeferred: `d` fires `other` with its result (`d` then
 * continues with none). `d` holds a reference to `other` until then.
 * Returns 0 or -ENOMEM. */
COIL_API int coil_deferred_chain(coil_deferred *d, coil_deferred *other);

/* Time `d` out: after `seconds` on `clock`, cancel it. If that cancel ends in
 * a CancelledError at this point of the chain it becomes a TimeoutError
 * ("Deferred timed out after N seconds"); any other result (e.g. one the
 * canceller produced) passes through. Covers only the callbacks added
 * before this call. The timer is cancelled as soon as `d`'s chain reaches
 * this point; until then the clock holds a reference to `d`. Returns 0 or
 * -ENOMEM. */
COIL_API int coil_deferred_add_timeout(coil_deferred *d, coil_clock *clock, double seconds);
/* With Twisted's onTimeoutCancel: called instead of the default conversion,
 * only if the timeout fired, with the result at that point (owned) and the
 * timeout; returns the new result. `arg_destroy` runs when the timeout
 * bookkeeping is released. */
typedef coil_result (*coil_timeout_fn)(coil_result result, double timeout, void *arg);
COIL_API int coil_deferred_add_timeout_full(coil_deferred *d, coil_clock *clock, double seconds,
                                            coil_timeout_fn on_timeout_cancel, void *arg,
                                            coil_destroy_fn arg_destroy);
/* The same; the TimeoutError is located at file:line in func (the macros
 * below pass the caller's, so a timeout names the line that set it). */
COIL_API int coil_deferred_add_timeout_at(coil_deferred *d, coil_clock *clock, double seconds,
                                          const char *file, int line, const char *func);
COIL_API int coil_deferred_add_timeout_full_at(coil_deferred *d, coil_clock *clock,
                                               double seconds, coil_timeout_fn on_timeout_cancel,
                                               void *arg, coil_destroy_fn arg_destroy,
                                               const char *file, int line, const char *func);

/* ---- Call sites ------------------------------------------------------------
 * Failures should point at the user's code, not at the library file that
 * noticed the error. coil_deferred_set_call_site() adds an errback at this
 * point of `d`'s chain that records file:line in func on the failure passing
 * by (coil_failure_set_call_site(): the first site recorded sticks), and
 * returns `d`. The public calls that return Deferreds do this through the
 * macros below, with the caller's __FILE__, __LINE__ and __func__, so
 *
 *     coil.net ECONNREFUSED (-111): Connection refused
 *         called from qotd_client.c:22 in qotd
 *         at connect.c:301 in connect_done
 *
 * Code that wraps coil in its own Deferred-returning API can do the same
 * with its own macros. Out of memory, the site is silently not recorded. */
COIL_API coil_deferred *coil_deferred_set_call_site(coil_deferred *d, const char *file, int line,
                                                    const char *func);

/* The function names stay exported (and callable: (coil_deferred_cancel)(d)
 * or a function pointer); the macros only add the call site. Define
 * COIL_NO_CALL_SITE_MACROS before including coil to do without them. coil's
 * own sources are built without them (COIL_BUILDING). */
#if !defined(COIL_BUILDING) && !defined(COIL_NO_CALL_SITE_MACROS)
#define coil_deferred_cancel(d) coil_deferred_cancel_at((d), __FILE__, __LINE__, __func__)
#define coil_deferred_add_timeout(d, clock, seconds)                                               \
    coil_deferred_add_timeout_at((d), (clock), (seconds), __FILE__, __LINE__, __func__)
#define coil_deferred_add_timeout_full(d, clock, seconds, on_timeout_cancel, arg, arg_destroy)    \
    coil_deferred_add_timeout_full_at((d), (clock), (seconds), (on_timeout_cancel), (arg),         \
                                      (arg_destroy), __FILE__, __LINE__, __func__)
#endif

/* ---- Introspection (tests, debugging, repr) ------------------------------ */

/* callback() or errback() has been called. */
COIL_API bool coil_deferred_called(const coil_deferred *d);
/* Twisted's `paused` counter: pause() calls plus 1 while waiting on an inner
 * Deferred. */
COIL_API unsigned coil_deferred_paused(const coil_deferred *d);
/* The current result, borrowed (NULL if unfired). While `d` waits on an
 * inner Deferred it is that Deferred (kind COIL_RESULT_DEFERRED). */
COIL_API const coil_result *coil_deferred_peek(const coil_deferred *d);
/* The Deferred `d` waits on or was chained to with coil_deferred_chain(),
 * Twisted's _chainedTo; only for display, do not dereference. */
COIL_API const coil_deferred *coil_deferred_chained_to(const coil_deferred *d);
/* "<Deferred at 0x..>", "<Deferred at 0x.. current result: ...>" or
 * "<Deferred at 0x.. waiting on Deferred at 0x..>", snprintf-style. */
COIL_API size_t coil_deferred_repr(const coil_deferred *d, char *buf, size_t size);

/* Log "Unhandled error in Deferred:" for every live Deferred on this thread
 * whose callback chain last ended in a failure that nothing handled yet, and
 * mark them reported so they are not logged again when freed. Returns how
 * many were logged. */
COIL_API size_t coil_deferred_log_unhandled(void);

/* ---- Helpers -------------------------------------------------------------- */

/* An already fired Deferred (NULL if out of memory; the result is released
 * then). succeed() with a failure result behaves like fail(). */
COIL_API coil_deferred *coil_succeed(coil_result result);
COIL_API coil_deferred *coil_fail(coil_failure *f);

/* Call fn(arg) and wrap the outcome: a returned Deferred is returned as is,
 * a failure gives a failed Deferred, a value a succeeded one. */
COIL_API coil_deferred *coil_maybe_deferred(coil_result_fn fn, void *arg);

/* Twisted's task.deferLater: after `delay` seconds on `clock`, fire with the
 * result of fn(arg) (none if `fn` is NULL; fn may return a failure or a
 * Deferred). Cancelling before then cancels the timer and errbacks with
 * CancelledError. `arg_destroy` runs once `fn` is no longer needed. The
 * clock holds a reference to the Deferred until the timer runs or is
 * cancelled. NULL if out of memory. */
COIL_API coil_deferred *coil_defer_later(coil_clock *clock, double delay, coil_result_fn fn,
                                         void *arg, coil_destroy_fn arg_destroy);

/* Result of coil_deferred_list() (and coil_gather_results(): then every
 * item is a success). The list owns the items. */
typedef struct coil_deferred_list_item {
    bool success;
    coil_result result; /* a value, or a failure when !success */
} coil_deferred_list_item;
typedef struct coil_deferred_list_result {
    size_t count;
    coil_deferred_list_item items[];
} coil_deferred_list_result;
/* Result with fire_on_one_callback: Twisted's (result, index). */
typedef struct coil_deferred_list_first {
    size_t index;
    coil_result result;
} coil_deferred_list_first;

/* Twisted's DeferredList over ds[0..n-1]. Fires with a
 * coil_deferred_list_result (value ptr) once all inputs fired, in input
 * order; or, with fire_on_one_callback, with a coil_deferred_list_first on
 * the first success; or, with fire_on_one_errback, errbacks with a FirstError
 * on the first failure. An empty list fires at once with count 0, unless
 * fire_on_one_callback (then it never fires).
 *
 * Ownership: inputs are not consumed (the caller keeps its references; the
 * list holds its own until it fires). Each input's success value moves into
 * the list while the list is unfired; the input's chain continues with a
 * borrowed view (same pointer, no destructor) that is valid as long as the
 * list result (or, for values the list never delivers, the list itself) is
 * alive. Failures are shared (the list and the input each hold a reference);
 * with consume_errors the input's chain continues with none instead, so the
 * input does not report an unhandled error. Cancelling the unfired list
 * cancels every input. NULL if out of memory. */
COIL_API coil_deferred *coil_deferred_list(coil_deferred *const *ds, size_t n,
                                           bool fire_on_one_callback, bool fire_on_one_errback,
                                           bool consume_errors);
/* Twisted's gatherResults: a list with fire_on_one_errback; fires with a
 * coil_deferred_list_result of successes or errbacks with a FirstError. */
COIL_API coil_deferred *coil_gather_results(coil_deferred *const *ds, size_t n,
                                            bool consume_errors);

/* FirstError accessors: true if `f` is a FirstError; index of the failed
 * input (SIZE_MAX if not a FirstError). The input's failure is
 * coil_failure_cause(f). */
COIL_API bool coil_failure_is_first_error(const coil_failure *f);
COIL_API size_t coil_first_error_index(const coil_failure *f);

#ifdef __cplusplus
}
#endif
#endif
