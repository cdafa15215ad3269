/* SPDX-License-Identifier: MIT */
/* coil_react: Twisted's task.react, a whole program's reactor in one call. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <coil/error.h>
#include <coil/log.h>
#include <coil/util.h>

/* Shared by coil_react() and the pair it adds to main's Deferred, which may
 * outlive the call (a chain a user callback keeps waiting): two owners. */
struct react {
    coil_reactor *reactor;
    int status;
    int refs;
    bool stopping; /* the reactor's shutdown began ("before shutdown") */
    bool returned; /* run() returned: a late result changes nothing */
};

static void react_unref(void *p)
{
    struct react *st = p;
    if (--st->refs == 0)
        free(st);
}

static void log_failure(const coil_failure *f)
{
    char *text = coil_failure_format(f);
    coil_log(COIL_LOG_CRITICAL, "coil.react", "main function encountered error\n%s",
             text ? text : coil_failure_message(f));
    free(text);
}

/* Twisted's cbFinish/stop: a failure is logged and gives status 1; the
 * reactor stops unless its shutdown is what made the Deferred fire. */
static coil_result react_finished(coil_result result, void *p)
{
    struct react *st = p;
    if (st->returned) {
        coil_result_release(result); /* our own cancel after run() */
        return coil_result_none();
    }
    if (coil_result_is_failure(result)) {
        log_failure(coil_result_failure_of(result));
        st->status = 1;
    }
    coil_result_release(result);
    if (!st->stopping)
        coil_reactor_stop(st->reactor); /* kept if run() has not started yet */
    return coil_result_none();
}

static void react_shutdown(void *p)
{
    ((struct react *)p)->stopping = true;
}

int coil_react(coil_main_fn main_fn, void *arg)
{
    coil_reactor *r;
    int rc = coil_reactor_new(&r, NULL);
    if (rc < 0) {
        coil_log(COIL_LOG_CRITICAL, "coil.react", "cannot make a reactor: %s", coil_strerror(rc));
        return 1;
    }
    struct react *st = calloc(1, sizeof(*st));
    if (!st || coil_reactor_add_trigger(r, COIL_PHASE_BEFORE, COIL_EVENT_SHUTDOWN, react_shutdown,
                                        st) < 0) {
        free(st);
        coil_reactor_free(r);
        coil_log(COIL_LOG_CRITICAL, "coil.react", "out of memory");
        return 1;
    }
    *st = (struct react){.reactor = r, .refs = 2};
    coil_deferred *d = main_fn(r, arg);
    if (!d)
        d = coil_fail(coil_failure_new("coil", -ENOMEM, "main function returned no Deferred"));
    if (coil_deferred_add_callbacks_full(d, react_finished, react_finished, st, react_unref) < 0) {
        st->refs--; /* the pair was not added */
        react_finished(coil_result_failure(coil_failure_new("coil", -ENOMEM, "Out of memory")), st);
    }
    rc = coil_reactor_run(r);
    if (rc < 0) {
        coil_log(COIL_LOG_CRITICAL, "coil.react", "the reactor failed: %s", coil_strerror(rc));
        st->status = 1;
    }
    int status = st->status;
    st->returned = true;
    if (!coil_deferred_called(d) || coil_deferred_paused(d))
        coil_deferred_cancel(d);
    coil_deferred_unref(d);
    react_unref(st);
    coil_reactor_free(r);
    return status;
}
