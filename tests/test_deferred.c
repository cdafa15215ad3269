/* SPDX-License-Identifier: MIT */
/*
 * Deferred tests, following twisted/test/test_defer.py (Twisted 22.4):
 * test names mirror the Python ones where there is one. Every test must
 * leave no Deferred, failure or value behind (LeakSanitizer checks), and no
 * unexpected error may be logged (the teardown checks the captured log).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <coil/clock.h>
#include <coil/deferred.h>
#include <coil/error.h>
#include <coil/failure.h>
#include <coil/log.h>

/* ---- Log capture ---------------------------------------------------------- */

#define MAX_LOGS 32

static struct {
    coil_log_level level;
    char msg[1100];
} logs[MAX_LOGS];
static int nlogs;

static void capture_log(void *arg, coil_log_level level, const char *system, const char *msg)
{
    (void)arg;
    assert_string_equal(system, "coil.deferred");
    if (nlogs < MAX_LOGS) {
        logs[nlogs].level = level;
        snprintf(logs[nlogs].msg, sizeof(logs[nlogs].msg), "%s", msg);
    }
    nlogs++;
}

/* Remove the captured messages starting with `prefix`; return how many. */
static int flush_logs(const char *prefix)
{
    int kept = 0, flushed = 0;
    for (int i = 0; i < nlogs && i < MAX_LOGS; i++) {
        if (strncmp(logs[i].msg, prefix, strlen(prefix)) == 0)
            flushed++;
        else
            logs[kept++] = logs[i];
    }
    nlogs = kept;
    return flushed;
}

/* ---- Trace of callback invocations ---------------------------------------- */

static char trace[8192];

static void tr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tr(const char *fmt, ...)
{
    size_t len = strlen(trace);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(trace + len, sizeof(trace) - len, fmt, ap);
    va_end(ap);
}

static int destroyed; /* calls of count_destroy() */

static void count_destroy(void *p)
{
    (void)p;
    destroyed++;
}

static int setup(void **state)
{
    (void)state;
    nlogs = 0;
    trace[0] = '\0';
    destroyed = 0;
    coil_log_set_handler(capture_log, NULL);
    coil_log_set_level(COIL_LOG_WARN);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* Nothing may stay unreported (like trial's flushLoggedErrors). */
    coil_deferred_log_unhandled();
    coil_log_set_handler(NULL, NULL);
    for (int i = 0; i < nlogs && i < MAX_LOGS; i++)
        fprintf(stderr, "unexpected log: %s\n", logs[i].msg);
    return nlogs == 0 ? 0 : -1;
}

/* ---- Callbacks used by many tests ------------------------------------------ */

static coil_failure *boom(int code)
{
    return coil_failure_new("test", code, "boom %d", code);
}

/* Records "label=value" or "label=F<code>" and passes the result on. */
static coil_result cb_trace(coil_result r, void *label)
{
    if (coil_result_is_failure(r))
        tr("%s=F%d ", (const char *)label, coil_failure_code(r.failure));
    else
        tr("%s=%ld ", (const char *)label, (long)coil_result_as_int(r));
    return r;
}

/* Records what it saw (like Python's `l.append`, which returns None). */
struct seen {
    int calls;
    bool failure;
    intptr_t value;
    void *ptr;
    int code;
    char domain[32];
    coil_failure *f; /* kept reference when keep_failure */
    bool keep_failure;
};

static void seen_record(struct seen *s, coil_result r)
{
    s->calls++;
    s->failure = coil_result_is_failure(r);
    if (s->failure) {
        s->code = coil_failure_code(r.failure);
        snprintf(s->domain, sizeof(s->domain), "%s", coil_failure_domain(r.failure));
        if (s->keep_failure) {
            coil_failure_unref(s->f);
            s->f = coil_failure_ref(r.failure);
        }
    } else {
        s->value = coil_result_as_int(r);
        s->ptr = coil_result_ptr(r);
    }
}

static coil_result cb_append(coil_result r, void *arg)
{
    seen_record(arg, r);
    coil_result_release(r);
    return coil_result_none();
}

/* Like cb_append but passes the result on. */
static coil_result cb_peek(coil_result r, void *arg)
{
    seen_record(arg, r);
    return r;
}

static coil_result cb_add(coil_result r, void *amount)
{
    return coil_result_int(coil_result_as_int(r) + (intptr_t)amount);
}

static coil_result cb_double(coil_result r, void *arg)
{
    return coil_result_int(coil_result_as_int(r) * 2);
}

static coil_result cb_fail(coil_result r, void *code)
{
    coil_result_release(r);
    return coil_result_failure(boom((int)(intptr_t)code));
}

/* Handles a failure by returning `value`. */
static coil_result cb_recover(coil_result r, void *value)
{
    coil_result_release(r);
    return coil_result_int((intptr_t)value);
}

static coil_result cb_return_deferred(coil_result r, void *d)
{
    coil_result_release(r);
    return coil_result_deferred(coil_deferred_ref(d));
}

static coil_result cb_return_none(coil_result r, void *arg)
{
    coil_result_release(r);
    return coil_result_none();
}

/* The current result of a fired Deferred as an int (fails if a failure). */
static intptr_t result_int(coil_deferred *d)
{
    const coil_result *r = coil_deferred_peek(d);
    assert_non_null(r);
    assert_int_equal(r->kind, COIL_RESULT_VALUE);
    return (intptr_t)r->value.ptr;
}

/* Twisted's failureResultOf: the current failure must match; handles it. */
static void assert_failure_result(coil_deferred *d, const char *domain, int code)
{
    struct seen s = {0};
    coil_deferred_add_errback(d, cb_append, &s);
    assert_int_equal(s.calls, 1);
    assert_true(s.failure);
    assert_string_equal(s.domain, domain);
    assert_int_equal(s.code, code);
}

static void assert_no_result(coil_deferred *d)
{
    const coil_result *r = coil_deferred_peek(d);
    assert_true(r == NULL || coil_deferred_paused(d) > 0);
}

/* ======================================================================== */
/* Basic callback chains (DeferredTests)                                     */
/* ======================================================================== */

static void test_callback_without_args(void **state)
{
    struct seen s = {0}, e = {0};
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    assert_int_equal(coil_deferred_add_callbacks(d, cb_peek, cb_append, &s), 0);
    assert_false(coil_deferred_called(d));
    assert_int_equal(coil_deferred_callback(d, coil_result_int(7)), 0);
    assert_true(coil_deferred_called(d));
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.value, 7);
    assert_int_equal(e.calls, 0);
    assert_int_equal(result_int(d), 7);
    coil_deferred_unref(d);
}

static void test_callback_with_args(void **state)
{
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(d, cb_add, (void *)(intptr_t)10);
    coil_deferred_add_callback(d, cb_trace, "got");
    coil_deferred_callback(d, coil_result_int(5));
    assert_string_equal(trace, "got=15 ");
    coil_deferred_unref(d);
}

static void test_two_callbacks(void **state)
{
    struct seen s1 = {0}, s2 = {0};
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(d, cb_peek, &s1);
    coil_deferred_add_callback(d, cb_append, &s2);
    coil_deferred_callback(d, coil_result_int(3));
    assert_int_equal(s1.calls, 1);
    assert_int_equal(s1.value, 3);
    assert_int_equal(s2.calls, 1);
    assert_int_equal(s2.value, 3);
    /* The last callback returned None. */
    assert_int_equal(result_int(d), 0);
    coil_deferred_unref(d);
}

static void test_add_callbacks_null_errback(void **state)
{
    struct seen cb = {0}, eb = {0};
    coil_failure *f = boom(-EIO);
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callbacks(d, cb_append, NULL, &cb);
    coil_deferred_errback(d, coil_failure_ref(f));
    eb.keep_failure = true;
    coil_deferred_add_errback(d, cb_append, &eb);
    assert_int_equal(cb.calls, 0);
    assert_int_equal(eb.calls, 1);
    assert_ptr_equal(eb.f, f); /* the very same failure passed through */
    coil_failure_unref(eb.f);
    coil_failure_unref(f);
    coil_deferred_unref(d);
}

static void test_order_and_switching(void **state)
{
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callbacks(d, cb_trace, cb_trace, "a");
    coil_deferred_add_callback(d, cb_fail, (void *)(intptr_t)-5);
    coil_deferred_add_callback(d, cb_trace, "skipped-cb");
    coil_deferred_add_errback(d, cb_trace, "e1");
    coil_deferred_add_errback(d, cb_recover, (void *)(intptr_t)42);
    coil_deferred_add_errback(d, cb_trace, "skipped-eb");
    coil_deferred_add_both(d, cb_trace, "both");
    coil_deferred_callback(d, coil_result_int(1));
    assert_string_equal(trace, "a=1 e1=F-5 both=42 ");
    assert_int_equal(result_int(d), 42);
    coil_deferred_unref(d);
}

static void test_callback_errors(void **state)
{
    /* testCallbackErrors: a callback returning a failure switches chains. */
    struct seen s = {0};
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(d, cb_fail, (void *)(intptr_t)-EDOM);
    coil_deferred_add_errback(d, cb_append, &s);
    coil_deferred_callback(d, coil_result_int(1));
    assert_int_equal(s.calls, 1);
    assert_true(s.failure);
    assert_int_equal(s.code, -EDOM);
    coil_deferred_unref(d);
}

static void test_callback_with_failure_is_errback(void **state)
{
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callbacks(d, cb_trace, cb_recover, "cb");
    coil_deferred_callback(d, coil_result_failure(boom(-1)));
    assert_string_equal(trace, "");
    assert_int_equal(result_int(d), (intptr_t) "cb");
    coil_deferred_unref(d);
}

static void test_callback_with_deferred_rejected(void **state)
{
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred *other = coil_deferred_new(NULL, NULL);
    assert_int_equal(coil_deferred_callback(d, coil_result_deferred(coil_deferred_ref(other))),
                     -EINVAL);
    assert_false(coil_deferred_called(d));
    assert_int_equal(flush_logs("Deferred at"), 1);
    assert_int_equal(coil_deferred_errback(d, NULL), -EINVAL);
    coil_deferred_unref(other);
    coil_deferred_unref(d);
}

static void test_immediate_success(void **state)
{
    struct seen s = {0};
    coil_deferred *d = coil_succeed(coil_result_int(99));
    assert_true(coil_deferred_called(d));
    coil_deferred_add_callback(d, cb_append, &s);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.value, 99);
    coil_deferred_unref(d);
}

static void test_immediate_failure(void **state)
{
    struct seen s = {0};
    coil_deferred *d = coil_fail(boom(-3));
    coil_deferred_add_errback(d, cb_append, &s);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.code, -3);
    coil_deferred_unref(d);
}

static void test_paused_failure(void **state)
{
    struct seen s = {0};
    coil_deferred *d = coil_fail(boom(-3));
    coil_deferred_pause(d);
    coil_deferred_add_errback(d, cb_append, &s);
    assert_int_equal(s.calls, 0);
    coil_deferred_unpause(d);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.code, -3);
    coil_deferred_unref(d);
}

static void test_unpause_before_callback(void **state)
{
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_pause(d);
    coil_deferred_add_callback(d, cb_trace, "x");
    coil_deferred_unpause(d);
    assert_string_equal(trace, "");
    coil_deferred_callback(d, coil_result_int(1));
    assert_string_equal(trace, "x=1 ");
    coil_deferred_unref(d);
}

static void test_extra_unpause_ignored(void **state)
{
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_unpause(d); /* ignored, does not go negative */
    coil_deferred_pause(d);
    coil_deferred_callback(d, coil_result_int(1));
    coil_deferred_add_callback(d, cb_trace, "x");
    assert_int_equal(coil_deferred_paused(d), 1);
    assert_string_equal(trace, "");
    coil_deferred_unpause(d);
    assert_string_equal(trace, "x=1 ");
    coil_deferred_unref(d);
}

static void test_return_deferred(void **state)
{
    struct seen s = {0};
    coil_deferred *d1 = coil_deferred_new(NULL, NULL);
    coil_deferred *d2 = coil_deferred_new(NULL, NULL);
    coil_deferred_pause(d2);
    coil_deferred_add_callback(d1, cb_return_deferred, d2);
    coil_deferred_add_callback(d1, cb_append, &s);
    coil_deferred_callback(d1, coil_result_int(1));
    assert_int_equal(s.calls, 0);
    coil_deferred_callback(d2, coil_result_int(2));
    assert_int_equal(s.calls, 0);
    coil_deferred_unpause(d2);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.value, 2);
    coil_deferred_unref(d1);
    coil_deferred_unref(d2);
}

static void test_chained_paused_deferred_with_result(void **state)
{
    struct seen s = {0};
    coil_deferred *paused = coil_deferred_new(NULL, NULL);
    coil_deferred_callback(paused, coil_result_int(17));
    coil_deferred_pause(paused);
    coil_deferred *chained = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(chained, cb_return_deferred, paused);
    coil_deferred_callback(chained, coil_result_none());
    coil_deferred_add_callback(chained, cb_append, &s);
    assert_int_equal(s.calls, 0);
    coil_deferred_unpause(paused);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.value, 17);
    coil_deferred_unref(paused);
    coil_deferred_unref(chained);
}

static void test_paused_deferred_chained(void **state)
{
    struct seen s = {0};
    coil_deferred *first = coil_deferred_new(NULL, NULL);
    coil_deferred *second = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(first, cb_return_deferred, second);
    coil_deferred_callback(first, coil_result_none());
    coil_deferred_pause(first);
    coil_deferred_callback(second, coil_result_int(5));
    coil_deferred_add_callback(second, cb_append, &s);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.value, 0); /* second's result went to first */
    assert_int_equal(coil_deferred_paused(first), 1);
    coil_deferred_unpause(first);
    assert_int_equal(result_int(first), 5);
    coil_deferred_unref(first);
    coil_deferred_unref(second);
}

/* ======================================================================== */
/* Already called (AlreadyCalledTests)                                        */
/* ======================================================================== */

static void check_already_called(bool first_ok, bool second_ok)
{
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callbacks(d, cb_return_none, cb_return_none, NULL);
    if (first_ok)
        assert_int_equal(coil_deferred_callback(d, coil_result_int(1)), 0);
    else
        assert_int_equal(coil_deferred_errback(d, boom(-1)), 0);
    /* The rejected result is released: LeakSanitizer checks the failure. */
    int rc = second_ok ? coil_deferred_callback(d, coil_result_value(malloc(8), free))
                       : coil_deferred_errback(d, boom(-2));
    assert_int_equal(rc, COIL_EALREADYCALLED);
    assert_int_equal(flush_logs("AlreadyCalledError"), 1);
    coil_deferred_unref(d);
}

static void test_already_called_cc(void **state)
{
    check_already_called(true, true);
}

static void test_already_called_ce(void **state)
{
    check_already_called(true, false);
}

static void test_already_called_ee(void **state)
{
    check_already_called(false, false);
}

static void test_already_called_ec(void **state)
{
    check_already_called(false, true);
}

/* ======================================================================== */
/* Re-entrancy                                                               */
/* ======================================================================== */

static coil_deferred *reentrant_d;

static coil_result cb_reentrant1(coil_result r, void *arg)
{
    tr("1 ");
    coil_deferred_add_callback(reentrant_d, cb_trace, "3");
    /* test_nonReentrantCallbacks: not run before we return. */
    assert_string_equal(trace, "1 ");
    return r;
}

static void test_reentrant_run_callbacks(void **state)
{
    reentrant_d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(reentrant_d, cb_reentrant1, NULL);
    coil_deferred_add_callback(reentrant_d, cb_trace, "2");
    coil_deferred_callback(reentrant_d, coil_result_int(0));
    assert_string_equal(trace, "1 2=0 3=0 ");
    coil_deferred_unref(reentrant_d);
}

static coil_result cb_add_failing(coil_result r, void *arg)
{
    coil_deferred_add_callback(reentrant_d, cb_fail, (void *)(intptr_t)-77);
    return r;
}

static void test_reentrant_run_callbacks_with_failure(void **state)
{
    reentrant_d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(reentrant_d, cb_add_failing, NULL);
    coil_deferred_callback(reentrant_d, coil_result_none());
    assert_failure_result(reentrant_d, "test", -77);
    coil_deferred_unref(reentrant_d);
}

static coil_result cb_unref_self(coil_result r, void *d)
{
    coil_deferred_unref(d); /* drops the creator's last reference */
    tr("unref ");
    return r;
}

static void test_callback_may_drop_last_reference(void **state)
{
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(d, cb_unref_self, d);
    coil_deferred_add_callback(d, cb_trace, "after");
    coil_deferred_callback(d, coil_result_int(4));
    assert_string_equal(trace, "unref after=4 ");
}

/* ======================================================================== */
/* Implicit chaining (nested Deferreds)                                       */
/* ======================================================================== */

static void test_synchronous_implicit_chain(void **state)
{
    struct seen s1 = {0}, s2 = {0};
    int *value = malloc(sizeof(*value));
    coil_deferred *first = coil_succeed(coil_result_value(value, free));
    coil_deferred *second = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(second, cb_return_deferred, first);
    coil_deferred_callback(second, coil_result_none());
    coil_deferred_add_callback(first, cb_peek, &s1);
    assert_int_equal(s1.calls, 1);
    assert_null(s1.ptr); /* stolen: first was left with None */
    coil_deferred_add_callback(second, cb_peek, &s2);
    assert_ptr_equal(s2.ptr, value);
    coil_deferred_unref(first);
    coil_deferred_unref(second); /* frees value */
}

static void test_asynchronous_implicit_chain(void **state)
{
    struct seen s1 = {0}, s2 = {0};
    coil_deferred *first = coil_deferred_new(NULL, NULL);
    coil_deferred *second = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(second, cb_return_deferred, first);
    coil_deferred_callback(second, coil_result_none());
    coil_deferred_add_callback(first, cb_append, &s1);
    coil_deferred_add_callback(second, cb_append, &s2);
    assert_int_equal(s1.calls + s2.calls, 0);
    coil_deferred_callback(first, coil_result_int(1234));
    /* The continuation was queued on first before first's own callback, so
     * second gets the result and first's callback sees None. */
    assert_int_equal(s1.calls, 1);
    assert_int_equal(s1.value, 0);
    assert_int_equal(s2.calls, 1);
    assert_int_equal(s2.value, 1234);
    coil_deferred_unref(first);
    coil_deferred_unref(second);
}

static void test_asynchronous_implicit_chain_inner_callbacks_first(void **state)
{
    /* Callbacks already on the inner Deferred run before the outer gets
     * the (transformed) result. */
    struct seen s2 = {0};
    coil_deferred *first = coil_deferred_new(NULL, NULL);
    coil_deferred *second = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(first, cb_add, (void *)(intptr_t)1);
    coil_deferred_add_callback(second, cb_return_deferred, first);
    coil_deferred_add_callback(second, cb_append, &s2);
    coil_deferred_callback(second, coil_result_none());
    coil_deferred_callback(first, coil_result_int(1234));
    assert_int_equal(s2.value, 1235);
    assert_int_equal(result_int(first), 0); /* transferred: first keeps None */
    coil_deferred_unref(first);
    coil_deferred_unref(second);
}

static void test_synchronous_implicit_error_chain(void **state)
{
    struct seen s1 = {0};
    coil_deferred *first = coil_fail(boom(-9));
    coil_deferred *second = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(second, cb_return_deferred, first);
    coil_deferred_callback(second, coil_result_none());
    coil_deferred_add_callback(first, cb_append, &s1);
    assert_int_equal(s1.calls, 1);
    assert_false(s1.failure);
    assert_failure_result(second, "test", -9);
    coil_deferred_unref(first);
    coil_deferred_unref(second);
    assert_int_equal(nlogs, 0); /* first does not report the moved failure */
}

static void test_asynchronous_implicit_error_chain(void **state)
{
    struct seen err = {0}, s1 = {0}, s2 = {0};
    coil_deferred *first = coil_deferred_new(NULL, NULL);
    coil_deferred *second = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(second, cb_return_deferred, first);
    coil_deferred_callback(second, coil_result_none());
    coil_deferred_add_errback(second, cb_append, &err);
    coil_deferred_add_callback(first, cb_append, &s1);
    coil_deferred_add_callback(second, cb_append, &s2);
    coil_deferred_errback(first, boom(-11));
    assert_int_equal(err.calls, 1);
    assert_int_equal(err.code, -11);
    assert_int_equal(s1.calls, 1);
    assert_false(s1.failure);
    assert_int_equal(s2.calls, 1);
    coil_deferred_unref(first);
    coil_deferred_unref(second);
}

static void test_double_asynchronous_implicit_chaining(void **state)
{
    struct seen s = {0};
    coil_deferred *first = coil_deferred_new(NULL, NULL);
    coil_deferred *second = coil_deferred_new(NULL, NULL);
    coil_deferred *third = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(second, cb_return_deferred, first);
    coil_deferred_add_callback(third, cb_return_deferred, second);
    coil_deferred_add_callback(third, cb_append, &s);
    coil_deferred_callback(second, coil_result_none());
    coil_deferred_callback(third, coil_result_none());
    assert_int_equal(s.calls, 0);
    coil_deferred_callback(first, coil_result_int(31));
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.value, 31);
    coil_deferred_unref(first);
    coil_deferred_unref(second);
    coil_deferred_unref(third);
}

/* test_nestedAsynchronousChainedDeferreds and test_innerCallbacksPreserved:
 * cb on `outer` returns d = succeed(1) whose first callback returns the
 * unfired `inner` and whose second callback doubles. */
static coil_deferred *nested_inner;
static bool nested_extra; /* ...WithExtraCallbacks: inner.addCallback(+100) */

static coil_result nested_first(coil_result r, void *arg)
{
    tr("first(%ld) ", (long)coil_result_as_int(r));
    coil_result_release(r);
    if (nested_extra)
        coil_deferred_add_callback(nested_inner, cb_add, (void *)(intptr_t)100);
    return coil_result_deferred(coil_deferred_ref(nested_inner));
}

static coil_result nested_second(coil_result r, void *arg)
{
    tr("second(%ld) ", (long)coil_result_as_int(r));
    return cb_double(r, NULL);
}

static coil_result nested_cb(coil_result r, void *failures)
{
    tr("start(%ld) ", (long)coil_result_as_int(r));
    coil_result_release(r);
    coil_deferred *d = coil_succeed(coil_result_int(1));
    coil_deferred_add_callback(d, nested_first, NULL);
    coil_deferred_add_callback(d, nested_second, NULL);
    coil_deferred_add_errback(d, cb_append, failures);
    return coil_result_deferred(d); /* our reference goes to the chain */
}

static void run_nested(bool fire_inner_before_final_callback, bool extra)
{
    struct seen failures = {0};
    nested_extra = extra;
    nested_inner = coil_deferred_new(NULL, NULL);
    coil_deferred *outer = coil_succeed(coil_result_int(2));
    coil_deferred_add_callback(outer, nested_cb, &failures);
    if (!fire_inner_before_final_callback) {
        coil_deferred_add_callback(outer, cb_trace, "final");
        assert_string_equal(trace, "start(2) first(1) ");
    }
    coil_deferred_callback(nested_inner, coil_result_int(7));
    if (fire_inner_before_final_callback)
        coil_deferred_add_callback(outer, cb_trace, "final");
    assert_int_equal(failures.calls, 0);
    if (extra)
        assert_string_equal(trace, "start(2) first(1) second(107) final=214 ");
    else
        assert_string_equal(trace, "start(2) first(1) second(7) final=14 ");
    coil_deferred_unref(nested_inner);
    coil_deferred_unref(outer);
}

static void test_nested_asynchronous_chained_deferreds(void **state)
{
    run_nested(false, false);
}

static void test_nested_asynchronous_chained_deferreds_with_extra_callbacks(void **state)
{
    run_nested(false, true);
}

static void test_inner_callbacks_preserved(void **state)
{
    run_nested(true, false);
}

/* test_continueCallbackNotFirst / test_callbackOrderPreserved */
static coil_deferred *order_a;

static coil_result order_first(coil_result r, void *arg)
{
    tr("firstCallback ");
    coil_result_release(r);
    return coil_result_deferred(coil_gather_results(&order_a, 1, false));
}

static coil_result order_second(coil_result r, void *arg)
{
    const coil_deferred_list_result *res = coil_result_ptr(r);
    tr("secondCallback(%zu:%ld) ", res->count, (long)coil_result_as_int(res->items[0].result));
    coil_result_release(r);
    return coil_result_none();
}

static coil_result order_cb(coil_result r, void *failures)
{
    tr("cb(%ld) ", (long)coil_result_as_int(r));
    coil_result_release(r);
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(d, order_first, NULL);
    coil_deferred_add_callback(d, order_second, NULL);
    coil_deferred_add_errback(d, cb_append, failures);
    coil_deferred_callback(d, coil_result_none());
    return coil_result_deferred(d);
}

static void test_continue_callback_not_first(void **state)
{
    struct seen failures = {0};
    order_a = coil_deferred_new(NULL, NULL);
    coil_deferred *outer = coil_succeed(coil_result_int(1));
    coil_deferred_add_callback(outer, order_cb, &failures);
    coil_deferred_add_errback(outer, cb_append, &failures);
    assert_string_equal(trace, "cb(1) firstCallback ");
    coil_deferred_callback(order_a, coil_result_int(5));
    assert_int_equal(failures.calls, 0);
    assert_string_equal(trace, "cb(1) firstCallback secondCallback(1:5) ");
    coil_deferred_unref(order_a);
    coil_deferred_unref(outer);
}

static void test_callback_order_preserved(void **state)
{
    struct seen failures = {0};
    order_a = coil_deferred_new(NULL, NULL);
    coil_deferred *outer = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(outer, order_cb, &failures);
    coil_deferred_add_callback(outer, cb_trace, "final");
    coil_deferred_add_errback(outer, cb_append, &failures);
    coil_deferred_callback(outer, coil_result_int(1));
    assert_string_equal(trace, "cb(1) firstCallback ");
    coil_deferred_callback(order_a, coil_result_int(5));
    assert_int_equal(failures.calls, 0);
    assert_string_equal(trace, "cb(1) firstCallback secondCallback(1:5) final=0 ");
    coil_deferred_unref(order_a);
    coil_deferred_unref(outer);
}

static void test_result_of_deferred_result_of_deferred_of_fired_deferred_called(void **state)
{
    struct seen s = {0};
    coil_deferred *first = coil_deferred_new(NULL, NULL);
    coil_deferred *second = coil_deferred_new(NULL, NULL);
    coil_deferred *third = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(first, cb_return_deferred, second);
    coil_deferred_add_callback(second, cb_return_deferred, third);
    coil_deferred_callback(second, coil_result_none());
    coil_deferred_callback(first, coil_result_none());
    coil_deferred_callback(third, coil_result_none());
    coil_deferred_add_callback(second, cb_append, &s);
    assert_int_equal(s.calls, 1);
    coil_deferred_unref(first);
    coil_deferred_unref(second);
    coil_deferred_unref(third);
}

static coil_result cb_return_self(coil_result r, void *d)
{
    coil_result_release(r);
    return coil_result_deferred(coil_deferred_ref(d));
}

static void test_circular_chain(void **state)
{
    /* Twisted warns and then waits forever (test_circularChainWarning);
     * coil warns and fails (test_circularChainException's outcome). */
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(d, cb_return_self, d);
    coil_deferred_callback(d, coil_result_int(1));
    assert_int_equal(flush_logs("Callback returned the Deferred it was attached to"), 1);
    assert_failure_result(d, COIL_DEFER_DOMAIN, -EINVAL);
    coil_deferred_unref(d);
}

/* ---- chainDeferred and _chainedTo ----------------------------------------- */

static void test_chain_deferred_records_explicit_chain(void **state)
{
    coil_deferred *a = coil_deferred_new(NULL, NULL);
    coil_deferred *b = coil_deferred_new(NULL, NULL);
    assert_int_equal(coil_deferred_chain(b, a), 0);
    assert_ptr_equal(coil_deferred_chained_to(a), b);
    coil_deferred_unref(a);
    coil_deferred_unref(b);
}

static void test_explicit_chain_cleared_when_resolved(void **state)
{
    coil_deferred *a = coil_deferred_new(NULL, NULL);
    coil_deferred *b = coil_deferred_new(NULL, NULL);
    coil_deferred_chain(b, a);
    coil_deferred_callback(b, coil_result_int(8));
    assert_null(coil_deferred_chained_to(a));
    assert_int_equal(result_int(a), 8);
    assert_int_equal(result_int(b), 0); /* b continues with None */
    coil_deferred_unref(a);
    coil_deferred_unref(b);
}

static void test_chain_deferred_records_implicit_chain(void **state)
{
    coil_deferred *a = coil_deferred_new(NULL, NULL);
    coil_deferred *b = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(a, cb_return_deferred, b);
    coil_deferred_callback(a, coil_result_none());
    assert_ptr_equal(coil_deferred_chained_to(a), b);
    assert_int_equal(coil_deferred_paused(a), 1);
    coil_deferred_callback(b, coil_result_none());
    assert_null(coil_deferred_chained_to(a));
    assert_int_equal(coil_deferred_paused(a), 0);
    coil_deferred_unref(a);
    coil_deferred_unref(b);
}

static void test_chain_deferred_errback_and_already_called(void **state)
{
    coil_deferred *a = coil_deferred_new(NULL, NULL);
    coil_deferred *b = coil_deferred_new(NULL, NULL);
    coil_deferred_chain(b, a);
    coil_deferred_errback(b, boom(-4));
    assert_failure_result(a, "test", -4);
    /* Chaining to an already fired Deferred: its AlreadyCalledError becomes
     * the result, as in Twisted. */
    coil_deferred *c = coil_succeed(coil_result_int(1));
    coil_deferred_chain(c, a);
    assert_int_equal(flush_logs("AlreadyCalledError"), 1);
    assert_failure_result(c, COIL_DEFER_DOMAIN, COIL_EALREADYCALLED);
    coil_deferred_unref(a);
    coil_deferred_unref(b);
    coil_deferred_unref(c);
}

static void test_repr(void **state)
{
    char buf[200], expect[200];
    coil_deferred *a = coil_deferred_new(NULL, NULL);
    coil_deferred *b = coil_deferred_new(NULL, NULL);
    coil_deferred_repr(a, buf, sizeof(buf));
    snprintf(expect, sizeof(expect), "<Deferred at %p>", (void *)a);
    assert_string_equal(buf, expect);
    coil_deferred_chain(b, a);
    coil_deferred_repr(a, buf, sizeof(buf));
    snprintf(expect, sizeof(expect), "<Deferred at %p waiting on Deferred at %p>", (void *)a,
             (void *)b);
    assert_string_equal(buf, expect);
    coil_deferred_callback(b, coil_result_int(0x2a));
    coil_deferred_repr(a, buf, sizeof(buf));
    snprintf(expect, sizeof(expect), "<Deferred at %p current result: %p>", (void *)a,
             (void *)0x2a);
    assert_string_equal(buf, expect);
    coil_deferred_unref(a);
    coil_deferred_unref(b);
}

/* ---- Bounded stack depth ----------------------------------------------------- */

static uintptr_t depth_seen;

static coil_result cb_record_depth(coil_result r, void *arg)
{
    depth_seen = (uintptr_t)__builtin_frame_address(0);
    return r;
}

/* test_boundedStackDepth's chainDeferreds(howMany). */
static uintptr_t chain_deferreds(size_t how_many)
{
    depth_seen = 0;
    coil_deferred *top = coil_deferred_new(NULL, NULL);
    coil_deferred *last = coil_deferred_new(NULL, NULL);
    coil_deferred **inners = malloc(how_many * sizeof(*inners));
    for (size_t i = 0; i < how_many; i++)
        inners[i] = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(top, cb_return_deferred, inners[how_many - 1]);
    coil_deferred_add_callback(top, cb_record_depth, NULL);
    for (size_t i = how_many - 1; i > 0; i--)
        coil_deferred_add_callback(inners[i], cb_return_deferred, inners[i - 1]);
    coil_deferred_add_callback(inners[0], cb_return_deferred, last);
    coil_deferred_callback(top, coil_result_none());
    for (size_t i = 0; i < how_many; i++)
        coil_deferred_callback(inners[i], coil_result_none());
    assert_int_equal(depth_seen, 0);
    coil_deferred_callback(last, coil_result_int(6));
    assert_int_equal(result_int(top), 6);
    for (size_t i = 0; i < how_many; i++)
        coil_deferred_unref(inners[i]);
    free(inners);
    coil_deferred_unref(top);
    coil_deferred_unref(last);
    return depth_seen;
}

static void test_bounded_stack_depth(void **state)
{
    uintptr_t one = chain_deferreds(1);
    assert_true(one != 0);
    assert_int_equal(chain_deferreds(2), one);
    /* 100k nested Deferreds: same depth, no stack overflow. */
    assert_int_equal(chain_deferreds(100000), one);
}

static void test_long_chain_destroyed_iteratively(void **state)
{
    /* Each Deferred holds the next through chain(); dropping the head
     * releases 100k Deferreds without recursing. */
    enum { N = 100000 };
    coil_deferred **ds = malloc(N * sizeof(*ds));
    for (size_t i = 0; i < N; i++)
        ds[i] = coil_deferred_new(NULL, NULL);
    for (size_t i = 0; i + 1 < N; i++)
        coil_deferred_chain(ds[i], ds[i + 1]);
    for (size_t i = N - 1; i > 0; i--)
        coil_deferred_unref(ds[i]);
    coil_deferred_unref(ds[0]);
    free(ds);
    /* A long cause chain is released iteratively too. */
    coil_failure *f = NULL;
    for (int i = 0; i < N; i++)
        f = coil_failure_wrap(f, "test", -1, "level %d", i);
    coil_failure_unref(f);
}

/* ======================================================================== */
/* Cancellation (DeferredCancellerTests)                                      */
/* ======================================================================== */

static int canceller_calls;

static void canceller_count(coil_deferred *d, void *arg)
{
    canceller_calls++;
}

static coil_deferred *canceller_saw;

static void canceller_record(coil_deferred *d, void *arg)
{
    canceller_calls++;
    canceller_saw = d;
    assert_ptr_equal(arg, &canceller_saw);
}

static void canceller_errbacks(coil_deferred *d, void *arg)
{
    canceller_calls++;
    coil_deferred_errback(d, boom(-66));
}

static void canceller_callbacks(coil_deferred *d, void *arg)
{
    canceller_calls++;
    coil_deferred_callback(d, coil_result_int((intptr_t)(arg ? arg : "hello!")));
}

static void test_no_canceller(void **state)
{
    struct seen cb = {0}, eb = {0};
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callbacks(d, cb_append, NULL, &cb);
    coil_deferred_add_errback(d, cb_append, &eb);
    coil_deferred_cancel(d);
    assert_int_equal(cb.calls, 0);
    assert_int_equal(eb.calls, 1);
    assert_string_equal(eb.domain, COIL_DEFER_DOMAIN);
    assert_int_equal(eb.code, -ECANCELED);
    coil_deferred_unref(d);
}

static void test_raises_after_cancel_and_callback(void **state)
{
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_errback(d, cb_return_none, NULL);
    coil_deferred_cancel(d);
    /* A single extra callback is swallowed (and its result released). */
    assert_int_equal(coil_deferred_callback(d, coil_result_value(malloc(4), free)), 0);
    assert_int_equal(nlogs, 0);
    assert_int_equal(coil_deferred_callback(d, coil_result_none()), COIL_EALREADYCALLED);
    assert_int_equal(coil_deferred_errback(d, boom(-1)), COIL_EALREADYCALLED);
    assert_int_equal(flush_logs("AlreadyCalledError"), 2);
    coil_deferred_unref(d);
}

static void test_raises_after_cancel_and_errback(void **state)
{
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_errback(d, cb_return_none, NULL);
    coil_deferred_cancel(d);
    assert_int_equal(coil_deferred_errback(d, boom(-1)), 0);
    assert_int_equal(coil_deferred_callback(d, coil_result_none()), COIL_EALREADYCALLED);
    assert_int_equal(coil_deferred_errback(d, boom(-1)), COIL_EALREADYCALLED);
    assert_int_equal(flush_logs("AlreadyCalledError"), 2);
    coil_deferred_unref(d);
}

static void test_no_canceller_multiple_cancels_after_cancel_and_callback(void **state)
{
    struct seen eb = {.keep_failure = true};
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_errback(d, cb_append, &eb);
    coil_deferred_cancel(d);
    coil_failure *current = coil_failure_ref(eb.f);
    coil_deferred_callback(d, coil_result_none()); /* ignored */
    coil_deferred_cancel(d);                       /* no effect */
    assert_int_equal(eb.calls, 1);
    assert_ptr_equal(eb.f, current);
    coil_failure_unref(current);
    coil_failure_unref(eb.f);
    coil_deferred_unref(d);
}

static void test_no_canceller_multiple_cancel(void **state)
{
    struct seen eb = {0};
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_errback(d, cb_append, &eb);
    coil_deferred_cancel(d);
    coil_deferred_cancel(d);
    coil_deferred_cancel(d);
    assert_int_equal(eb.calls, 1);
    assert_int_equal(eb.code, -ECANCELED);
    coil_deferred_unref(d);
}

static void test_canceller_multiple_cancel(void **state)
{
    struct seen eb = {0};
    canceller_calls = 0;
    coil_deferred *d = coil_deferred_new(canceller_count, NULL);
    coil_deferred_add_errback(d, cb_append, &eb);
    coil_deferred_cancel(d);
    coil_deferred_cancel(d);
    assert_int_equal(eb.calls, 1);
    assert_int_equal(eb.code, -ECANCELED);
    assert_int_equal(canceller_calls, 1);
    coil_deferred_unref(d);
}

static void test_simple_canceller(void **state)
{
    struct seen eb = {0};
    canceller_calls = 0;
    coil_deferred *d = coil_deferred_new(canceller_count, NULL);
    coil_deferred_add_errback(d, cb_append, &eb);
    coil_deferred_cancel(d);
    assert_int_equal(canceller_calls, 1);
    assert_int_equal(eb.code, -ECANCELED);
    /* With a canceller, later fires are not swallowed. */
    assert_int_equal(coil_deferred_callback(d, coil_result_none()), COIL_EALREADYCALLED);
    assert_int_equal(coil_deferred_errback(d, boom(-1)), COIL_EALREADYCALLED);
    assert_int_equal(flush_logs("AlreadyCalledError"), 2);
    coil_deferred_unref(d);
}

static void test_canceller_arg(void **state)
{
    canceller_calls = 0;
    canceller_saw = NULL;
    coil_deferred *d = coil_deferred_new(canceller_record, &canceller_saw);
    coil_deferred_add_errback(d, cb_return_none, NULL);
    coil_deferred_cancel(d);
    assert_ptr_equal(canceller_saw, d);
    assert_int_equal(canceller_calls, 1);
    coil_deferred_unref(d);
}

static void test_cancel_after_callback(void **state)
{
    struct seen cb = {0}, eb = {0};
    canceller_calls = 0;
    coil_deferred *d = coil_deferred_new(canceller_errbacks, NULL);
    coil_deferred_add_callbacks(d, cb_peek, cb_append, &cb);
    coil_deferred_callback(d, coil_result_int(5));
    coil_deferred_cancel(d);
    coil_deferred_add_errback(d, cb_append, &eb);
    assert_int_equal(canceller_calls, 0);
    assert_int_equal(cb.calls, 1);
    assert_int_equal(cb.value, 5);
    assert_int_equal(eb.calls, 0);
    coil_deferred_unref(d);
}

static void test_cancel_after_errback(void **state)
{
    struct seen eb = {0};
    canceller_calls = 0;
    coil_deferred *d = coil_deferred_new(canceller_errbacks, NULL);
    coil_deferred_errback(d, boom(-8));
    coil_deferred_cancel(d);
    coil_deferred_add_errback(d, cb_append, &eb);
    assert_int_equal(canceller_calls, 0);
    assert_int_equal(eb.calls, 1);
    assert_int_equal(eb.code, -8);
    coil_deferred_unref(d);
}

static void test_canceller_that_errbacks(void **state)
{
    canceller_calls = 0;
    coil_deferred *d = coil_deferred_new(canceller_errbacks, NULL);
    coil_deferred_cancel(d);
    assert_int_equal(canceller_calls, 1);
    assert_failure_result(d, "test", -66);
    coil_deferred_unref(d);
}

static void test_canceller_that_callbacks(void **state)
{
    struct seen cb = {0}, eb = {0};
    canceller_calls = 0;
    coil_deferred *d = coil_deferred_new(canceller_callbacks, (void *)(intptr_t)12);
    coil_deferred_add_callbacks(d, cb_peek, cb_append, &cb);
    coil_deferred_add_errback(d, cb_append, &eb);
    coil_deferred_cancel(d);
    assert_int_equal(canceller_calls, 1);
    assert_int_equal(cb.value, 12);
    assert_int_equal(eb.calls, 0);
    coil_deferred_unref(d);
}

static void canceller_must_not_run(coil_deferred *d, void *arg)
{
    fail_msg("outer canceller must not be called");
}

static void test_cancel_nested_deferred(void **state)
{
    struct seen eb = {0};
    canceller_calls = 0;
    coil_deferred *b = coil_deferred_new(canceller_count, NULL);
    coil_deferred *a = coil_deferred_new(canceller_must_not_run, NULL);
    coil_deferred_callback(a, coil_result_none());
    coil_deferred_add_callback(a, cb_return_deferred, b);
    coil_deferred_cancel(a);
    coil_deferred_add_errback(a, cb_append, &eb);
    assert_int_equal(canceller_calls, 1);
    assert_int_equal(eb.calls, 1);
    assert_int_equal(eb.code, -ECANCELED);
    coil_deferred_unref(a);
    coil_deferred_unref(b);
}

static void test_cancel_deep_nested_deferred(void **state)
{
    /* a waits on b waits on c: cancelling a cancels c, and the
     * CancelledError flows back up through b to a. */
    struct seen eb = {0};
    coil_deferred *c = coil_deferred_new(NULL, NULL);
    coil_deferred *b = coil_deferred_new(NULL, NULL);
    coil_deferred *a = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(b, cb_return_deferred, c);
    coil_deferred_add_callback(b, cb_trace, "b-after");
    coil_deferred_add_callback(a, cb_return_deferred, b);
    coil_deferred_callback(b, coil_result_none());
    coil_deferred_callback(a, coil_result_none());
    coil_deferred_cancel(a);
    coil_deferred_add_errback(a, cb_append, &eb);
    assert_int_equal(eb.code, -ECANCELED);
    assert_true(coil_deferred_called(c));
    assert_string_equal(trace, ""); /* b's callback half skipped */
    coil_deferred_unref(a);
    coil_deferred_unref(b);
    coil_deferred_unref(c);
}

static void test_cancel_chained_paused_outer(void **state)
{
    /* Cancelling a chained (waiting) Deferred that is also user-paused still
     * cancels the inner; the outer resumes on unpause. */
    struct seen eb = {0};
    coil_deferred *inner = coil_deferred_new(NULL, NULL);
    coil_deferred *outer = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(outer, cb_return_deferred, inner);
    coil_deferred_add_errback(outer, cb_append, &eb);
    coil_deferred_callback(outer, coil_result_none());
    coil_deferred_pause(outer);
    coil_deferred_cancel(outer);
    assert_true(coil_deferred_called(inner));
    assert_int_equal(eb.calls, 0);
    coil_deferred_unpause(outer);
    assert_int_equal(eb.calls, 1);
    assert_int_equal(eb.code, -ECANCELED);
    coil_deferred_unref(inner);
    coil_deferred_unref(outer);
}

static void test_canceller_destroy(void **state)
{
    /* Released at the first fire... */
    coil_deferred *d = coil_deferred_new_full(canceller_count, NULL, count_destroy);
    coil_deferred_callback(d, coil_result_none());
    assert_int_equal(destroyed, 1);
    coil_deferred_unref(d);
    assert_int_equal(destroyed, 1);
    /* ...after the canceller returned when it fires the Deferred itself... */
    d = coil_deferred_new_full(canceller_callbacks, NULL, count_destroy);
    coil_deferred_cancel(d);
    assert_int_equal(destroyed, 2);
    coil_deferred_unref(d);
    /* ...or when an unfired Deferred is destroyed. */
    d = coil_deferred_new_full(canceller_count, NULL, count_destroy);
    coil_deferred_unref(d);
    assert_int_equal(destroyed, 3);
}

/* ======================================================================== */
/* Lifetime, arg_destroy, unhandled errors (LogTests)                        */
/* ======================================================================== */

static void test_arg_destroy(void **state)
{
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callbacks_full(d, cb_trace, NULL, "a", count_destroy);
    coil_deferred_add_callbacks_full(d, NULL, cb_trace, "b", count_destroy); /* eb only */
    coil_deferred_add_callbacks_full(d, cb_trace, NULL, "c", count_destroy);
    assert_int_equal(destroyed, 0);
    coil_deferred_callback(d, coil_result_int(1));
    assert_string_equal(trace, "a=1 c=1 ");
    assert_int_equal(destroyed, 3); /* after running, or after being skipped */
    coil_deferred_unref(d);
    assert_int_equal(destroyed, 3);
}

static void test_unfired_deferred_destroyed(void **state)
{
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callbacks_full(d, cb_trace, cb_trace, "never", count_destroy);
    coil_deferred_add_callbacks_full(d, cb_trace, cb_trace, "never", count_destroy);
    coil_deferred_unref(d);
    assert_int_equal(destroyed, 2);
    assert_string_equal(trace, "");
    assert_int_equal(nlogs, 0);
}

static void test_consumer_may_drop_reference(void **state)
{
    /* Fire-and-forget: callbacks run although only the producer holds d. */
    struct seen s = {0};
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred *producer = coil_deferred_ref(d);
    coil_deferred_add_callback(d, cb_append, &s);
    coil_deferred_unref(d);
    coil_deferred_callback(producer, coil_result_int(3));
    coil_deferred_unref(producer);
    assert_int_equal(s.value, 3);
}

static void test_value_destructor_runs_once(void **state)
{
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(d, cb_trace, "x");
    coil_deferred_callback(d, coil_result_value(&destroyed, count_destroy));
    assert_int_equal(destroyed, 0);
    coil_deferred_unref(d);
    assert_int_equal(destroyed, 1);
    /* A callback replacing the value releases the old one itself. */
    d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(d, cb_return_none, NULL);
    coil_deferred_callback(d, coil_result_value(&destroyed, count_destroy));
    assert_int_equal(destroyed, 2);
    coil_deferred_unref(d);
    assert_int_equal(destroyed, 2);
}

static void test_error_log(void **state)
{
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(d, cb_fail, (void *)(intptr_t)-EDOM);
    coil_deferred_callback(d, coil_result_int(1));
    assert_int_equal(nlogs, 0);
    coil_deferred_unref(d);
    assert_int_equal(nlogs, 1);
    assert_int_equal(logs[0].level, COIL_LOG_CRITICAL);
    assert_non_null(strstr(logs[0].msg, "Unhandled error in Deferred:\ntest EDOM ("));
    assert_non_null(strstr(logs[0].msg, "boom"));
    assert_non_null(strstr(logs[0].msg, "at test_deferred.c:"));
    assert_int_equal(flush_logs("Unhandled error in Deferred:"), 1);
}

static void test_error_handled_not_logged(void **state)
{
    coil_deferred *d = coil_fail(boom(-1));
    coil_deferred_add_errback(d, cb_recover, NULL);
    coil_deferred_unref(d);
    assert_int_equal(nlogs, 0);
}

static void test_chained_error_cleanup(void **state)
{
    struct seen eb = {0};
    coil_deferred *inner = coil_fail(boom(-2));
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(d, cb_return_deferred, inner);
    coil_deferred_callback(d, coil_result_none());
    coil_deferred_unref(inner);
    coil_deferred_add_errback(d, cb_append, &eb);
    assert_int_equal(eb.code, -2);
    coil_deferred_unref(d);
    assert_int_equal(nlogs, 0);
}

static void test_error_cleared_by_chaining(void **state)
{
    coil_deferred *bad = coil_fail(boom(-3));
    coil_deferred *good = coil_deferred_new(NULL, NULL);
    coil_deferred_add_errback(bad, cb_return_deferred, good);
    coil_deferred_unref(bad);
    assert_int_equal(coil_deferred_log_unhandled(), 0);
    /* bad now waits on good (a cycle): fire good to release both. */
    coil_deferred_callback(good, coil_result_none());
    coil_deferred_unref(good);
    assert_int_equal(nlogs, 0);
}

static void test_log_unhandled_live(void **state)
{
    coil_deferred *d1 = coil_fail(boom(-1));
    coil_deferred *d2 = coil_fail(boom(-2));
    coil_deferred *ok = coil_fail(boom(-3));
    coil_deferred_add_errback(ok, cb_recover, NULL);
    assert_int_equal(coil_deferred_log_unhandled(), 2);
    assert_int_equal(flush_logs("Unhandled error in Deferred:\ntest"), 2);
    assert_int_equal(coil_deferred_log_unhandled(), 0);
    coil_deferred_unref(d1); /* already reported: not logged again */
    assert_int_equal(nlogs, 0);
    /* Handling the failure after the report, then failing again, reports
     * the new failure. */
    coil_deferred_add_errback(d2, cb_fail, (void *)(intptr_t)4);
    coil_deferred_unref(d2);
    assert_int_equal(flush_logs("Unhandled error in Deferred:\ntest (4): boom 4"), 1);
    coil_deferred_unref(ok);
}

/* ======================================================================== */
/* Failures                                                                  */
/* ======================================================================== */

static void test_failure_format_chain(void **state)
{
    coil_failure *root =
        coil_failure_new("coil.tcp", -ECONNREFUSED, "Connection refused: %s", "127.0.0.1:80");
    coil_failure *f = coil_failure_wrap(root, "myapp", 7, "could not fetch %d items", 3);
    assert_ptr_equal(coil_failure_cause(f), root);
    assert_string_equal(coil_failure_domain(f), "myapp");
    assert_int_equal(coil_failure_code(f), 7);
    assert_string_equal(coil_failure_message(f), "could not fetch 3 items");
    assert_string_equal(coil_failure_file(f), "test_deferred.c");
    char *text = coil_failure_format(f);
    char expect[512];
    snprintf(expect, sizeof(expect),
             "myapp (7): could not fetch 3 items\n"
             "    at test_deferred.c:%d in test_failure_format_chain\n"
             "caused by: coil.tcp ECONNREFUSED (-111): Connection refused: 127.0.0.1:80\n"
             "    at test_deferred.c:%d in test_failure_format_chain",
             coil_failure_line(f), coil_failure_line(root));
    assert_string_equal(text, expect);
    /* snprintf-style truncation reports the full length. */
    char small[10];
    assert_int_equal(coil_failure_snprint(f, small, sizeof(small)), strlen(expect));
    assert_string_equal(small, "myapp (7)");
    free(text);
    coil_failure_unref(f);
}

static void test_failure_check(void **state)
{
    coil_failure *f = coil_failure_wrap(boom(-5), COIL_DEFER_DOMAIN, COIL_DEFER_TIMEOUT, "t/o");
    assert_true(coil_failure_check(f, COIL_DEFER_DOMAIN, -ETIMEDOUT));
    assert_false(coil_failure_check(f, "test", -5));
    assert_true(coil_failure_check_chain(f, "test", -5));
    assert_false(coil_failure_check_chain(f, "test", -6));
    assert_false(coil_failure_check(f, "other", -ETIMEDOUT));
    coil_failure_set_data(f, malloc(16), free);
    coil_failure_set_data(f, &destroyed, count_destroy); /* frees the first */
    assert_ptr_equal(coil_failure_data(f), &destroyed);
    coil_failure_unref(f);
    assert_int_equal(destroyed, 1);
}

/* ======================================================================== */
/* addTimeout (DeferredAddTimeoutTests), with a fake clock                    */
/* ======================================================================== */

static coil_result override_timeout(coil_result r, double timeout, void *arg)
{
    tr("override(%g) ", timeout);
    coil_result_release(r);
    return coil_result_int((intptr_t) "OVERRIDDEN");
}

static void test_timeout_chainable(void **state)
{
    coil_clock *clock = coil_fake_clock_new();
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    assert_int_equal(coil_deferred_add_timeout(d, clock, 5), 0);
    coil_deferred_add_callback(d, cb_add, (void *)(intptr_t)1);
    coil_deferred_callback(d, coil_result_int(1));
    assert_int_equal(result_int(d), 2);
    assert_int_equal(coil_clock_pending(clock), 0);
    coil_deferred_unref(d);
    /* On an already fired Deferred the timer is stopped at once. */
    d = coil_succeed(coil_result_int(3));
    assert_int_equal(coil_deferred_add_timeout(d, clock, 5), 0);
    assert_int_equal(coil_clock_pending(clock), 0);
    assert_int_equal(result_int(d), 3);
    coil_deferred_unref(d);
    coil_fake_clock_free(clock);
}

static void check_result_before_timeout(bool fail, bool custom)
{
    struct seen s = {0};
    coil_clock *clock = coil_fake_clock_new();
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    if (custom)
        coil_deferred_add_timeout_full(d, clock, 10, override_timeout, NULL, NULL);
    else
        coil_deferred_add_timeout(d, clock, 10);
    coil_deferred *inner = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callbacks(d, cb_peek, cb_peek, &s);
    coil_deferred_add_both(d, cb_return_deferred, inner);
    if (fail)
        coil_deferred_errback(d, boom(-22));
    else
        coil_deferred_callback(d, coil_result_int(9));
    assert_int_equal(s.calls, 1);
    assert_int_equal(fail ? s.code : s.value, fail ? -22 : 9);
    coil_fake_clock_advance(clock, 15);
    assert_false(coil_deferred_called(inner)); /* not cancelled */
    assert_string_equal(trace, "");
    coil_deferred_callback(inner, coil_result_none());
    coil_deferred_unref(inner);
    coil_deferred_unref(d);
    coil_fake_clock_free(clock);
}

static void test_success_result_before_timeout(void **state)
{
    check_result_before_timeout(false, false);
    check_result_before_timeout(false, true);
}

static void test_failure_before_timeout(void **state)
{
    check_result_before_timeout(true, false);
    check_result_before_timeout(true, true);
}

static void test_timed_out(void **state)
{
    coil_clock *clock = coil_fake_clock_new();
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_timeout(d, clock, 10);
    coil_fake_clock_advance(clock, 9.5);
    assert_false(coil_deferred_called(d));
    coil_fake_clock_advance(clock, 1);
    const coil_result *r = coil_deferred_peek(d);
    assert_non_null(r);
    assert_true(coil_result_is_failure(*r));
    assert_string_equal(coil_failure_message(r->failure), "Deferred timed out after 10 seconds");
    assert_failure_result(d, COIL_DEFER_DOMAIN, -ETIMEDOUT);
    assert_int_equal(coil_clock_pending(clock), 0);
    coil_deferred_unref(d);
    coil_fake_clock_free(clock);
}

static void test_timed_out_custom(void **state)
{
    coil_clock *clock = coil_fake_clock_new();
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_timeout_full(d, clock, 10, override_timeout, &destroyed, count_destroy);
    coil_fake_clock_advance(clock, 15);
    assert_string_equal(trace, "override(10) ");
    assert_string_equal((const char *)result_int(d), "OVERRIDDEN");
    assert_int_equal(destroyed, 1);
    coil_deferred_unref(d);
    coil_fake_clock_free(clock);
}

static void test_timed_out_provided_cancel_success(void **state)
{
    coil_clock *clock = coil_fake_clock_new();
    coil_deferred *d = coil_deferred_new(canceller_callbacks, (void *)"I was cancelled!");
    coil_deferred_add_timeout(d, clock, 10);
    coil_fake_clock_advance(clock, 15);
    assert_string_equal((const char *)result_int(d), "I was cancelled!");
    coil_deferred_unref(d);
    coil_fake_clock_free(clock);
}

static void test_timed_out_provided_cancel_failure(void **state)
{
    coil_clock *clock = coil_fake_clock_new();
    coil_deferred *d = coil_deferred_new(canceller_errbacks, NULL);
    coil_deferred_add_timeout(d, clock, 10);
    coil_fake_clock_advance(clock, 15);
    assert_failure_result(d, "test", -66); /* only CancelledError converts */
    coil_deferred_unref(d);
    coil_fake_clock_free(clock);
}

static void test_cancel_before_timeout(void **state)
{
    for (int custom = 0; custom < 2; custom++) {
        struct seen s = {0};
        coil_clock *clock = coil_fake_clock_new();
        coil_deferred *d = coil_deferred_new(NULL, NULL);
        if (custom)
            coil_deferred_add_timeout_full(d, clock, 10, override_timeout, NULL, NULL);
        else
            coil_deferred_add_timeout(d, clock, 10);
        coil_deferred *inner = coil_deferred_new(NULL, NULL);
        coil_deferred_add_errback(d, cb_peek, &s);
        coil_deferred_add_errback(d, cb_return_deferred, inner);
        coil_deferred_cancel(d);
        assert_int_equal(s.code, -ECANCELED); /* not converted */
        coil_fake_clock_advance(clock, 15);
        assert_false(coil_deferred_called(inner));
        assert_string_equal(trace, "");
        coil_deferred_callback(inner, coil_result_none());
        coil_deferred_unref(inner);
        coil_deferred_unref(d);
        coil_fake_clock_free(clock);
    }
}

static void test_provided_cancel_called_before_timeout_custom(void **state)
{
    coil_clock *clock = coil_fake_clock_new();
    coil_deferred *d = coil_deferred_new(canceller_errbacks, NULL);
    coil_deferred_add_timeout_full(d, clock, 10, override_timeout, NULL, NULL);
    coil_fake_clock_advance(clock, 15);
    assert_string_equal((const char *)result_int(d), "OVERRIDDEN");
    coil_deferred_unref(d);
    coil_fake_clock_free(clock);
}

static coil_result cb_trap_cancelled(coil_result r, void *seen)
{
    seen_record(seen, r);
    if (coil_failure_check(r.failure, COIL_DEFER_DOMAIN, -ECANCELED)) {
        coil_result_release(r);
        return coil_result_none();
    }
    return r;
}

static void test_errback_added_before_timeout(void **state)
{
    struct seen s = {0};
    coil_clock *clock = coil_fake_clock_new();
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_errback(d, cb_peek, &s);
    coil_deferred_add_timeout(d, clock, 10);
    coil_fake_clock_advance(clock, 15);
    assert_int_equal(s.code, -ECANCELED);
    assert_failure_result(d, COIL_DEFER_DOMAIN, -ETIMEDOUT);
    coil_deferred_unref(d);
    coil_fake_clock_free(clock);
}

static void test_errback_added_before_timeout_suppresses_cancellation(void **state)
{
    struct seen s = {0};
    coil_clock *clock = coil_fake_clock_new();
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_errback(d, cb_trap_cancelled, &s);
    coil_deferred_add_timeout(d, clock, 10);
    coil_fake_clock_advance(clock, 15);
    assert_int_equal(s.code, -ECANCELED);
    assert_int_equal(result_int(d), 0); /* success */
    coil_deferred_unref(d);
    /* With a custom function it runs even on the suppressed result. */
    d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_errback(d, cb_trap_cancelled, &s);
    coil_deferred_add_timeout_full(d, clock, 10, override_timeout, NULL, NULL);
    coil_fake_clock_advance(clock, 15);
    assert_string_equal((const char *)result_int(d), "OVERRIDDEN");
    coil_deferred_unref(d);
    coil_fake_clock_free(clock);
}

static void test_callback_added_to_canceller_before_timeout(void **state)
{
    struct seen s = {0};
    coil_clock *clock = coil_fake_clock_new();
    coil_deferred *d = coil_deferred_new(canceller_callbacks, (void *)"success");
    coil_deferred_add_callback(d, cb_peek, &s);
    coil_deferred_add_timeout(d, clock, 10);
    coil_fake_clock_advance(clock, 15);
    assert_string_equal((const char *)s.value, "success");
    assert_string_equal((const char *)result_int(d), "success");
    coil_deferred_unref(d);
    coil_fake_clock_free(clock);
}

static void test_timeout_cancels_chained_inner(void **state)
{
    /* The work d waits on is cancelled when d times out. */
    canceller_calls = 0;
    coil_clock *clock = coil_fake_clock_new();
    coil_deferred *work = coil_deferred_new(canceller_count, NULL);
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_callback(d, cb_return_deferred, work);
    coil_deferred_add_timeout(d, clock, 3);
    coil_deferred_callback(d, coil_result_none());
    coil_fake_clock_advance(clock, 3);
    assert_int_equal(canceller_calls, 1);
    assert_failure_result(d, COIL_DEFER_DOMAIN, -ETIMEDOUT);
    coil_deferred_unref(work);
    coil_deferred_unref(d);
    coil_fake_clock_free(clock);
}

/* ======================================================================== */
/* deferLater and maybeDeferred                                              */
/* ======================================================================== */

static coil_result later_fn(void *arg)
{
    tr("later ");
    return coil_result_int((intptr_t)arg);
}

static coil_result later_fail(void *arg)
{
    return coil_result_failure(boom(-12));
}

static void test_defer_later(void **state)
{
    coil_clock *clock = coil_fake_clock_new();
    coil_deferred *d = coil_defer_later(clock, 2, later_fn, (void *)(intptr_t)21, count_destroy);
    coil_deferred_add_callback(d, cb_double, NULL);
    coil_fake_clock_advance(clock, 1.5);
    assert_false(coil_deferred_called(d));
    assert_string_equal(trace, "");
    coil_fake_clock_advance(clock, 0.5);
    assert_string_equal(trace, "later ");
    assert_int_equal(result_int(d), 42);
    assert_int_equal(destroyed, 1);
    coil_deferred_unref(d);
    /* Without a function it fires with None; a failure errbacks. */
    d = coil_defer_later(clock, 1, NULL, NULL, NULL);
    coil_deferred *f = coil_defer_later(clock, 1, later_fail, NULL, NULL);
    coil_fake_clock_advance(clock, 1);
    assert_int_equal(result_int(d), 0);
    assert_failure_result(f, "test", -12);
    coil_deferred_unref(d);
    coil_deferred_unref(f);
    coil_fake_clock_free(clock);
}

static void test_defer_later_cancel(void **state)
{
    coil_clock *clock = coil_fake_clock_new();
    coil_deferred *d = coil_defer_later(clock, 2, later_fn, NULL, count_destroy);
    assert_int_equal(coil_clock_pending(clock), 1);
    coil_deferred_cancel(d);
    assert_int_equal(coil_clock_pending(clock), 0);
    assert_int_equal(destroyed, 1);
    assert_failure_result(d, COIL_DEFER_DOMAIN, -ECANCELED);
    coil_fake_clock_advance(clock, 5);
    assert_string_equal(trace, "");
    coil_deferred_unref(d);
    coil_fake_clock_free(clock);
}

static void test_defer_later_producer_keeps_alive(void **state)
{
    /* The consumer may drop its reference: the timer holds one. */
    coil_clock *clock = coil_fake_clock_new();
    coil_deferred *d = coil_defer_later(clock, 1, later_fn, (void *)(intptr_t)5, NULL);
    coil_deferred_add_callback(d, cb_trace, "got");
    coil_deferred_unref(d);
    coil_fake_clock_advance(clock, 1);
    assert_string_equal(trace, "later got=5 ");
    coil_fake_clock_free(clock);
}

static coil_result maybe_value(void *arg)
{
    return coil_result_int(15);
}

static coil_result maybe_deferred_fn(void *arg)
{
    return coil_result_deferred(coil_deferred_ref(arg));
}

static void test_maybe_deferred(void **state)
{
    coil_deferred *d = coil_maybe_deferred(maybe_value, NULL);
    assert_int_equal(result_int(d), 15);
    coil_deferred_unref(d);
    d = coil_maybe_deferred(later_fail, NULL);
    assert_failure_result(d, "test", -12);
    coil_deferred_unref(d);
    coil_deferred *d1 = coil_deferred_new(NULL, NULL);
    d = coil_maybe_deferred(maybe_deferred_fn, d1);
    assert_ptr_equal(d, d1);
    coil_deferred_callback(d1, coil_result_int(3));
    assert_int_equal(result_int(d), 3);
    coil_deferred_unref(d);
    coil_deferred_unref(d1);
}

/* ======================================================================== */
/* DeferredList and gatherResults                                            */
/* ======================================================================== */

static const coil_deferred_list_result *list_of(coil_deferred *dl)
{
    const coil_result *r = coil_deferred_peek(dl);
    assert_non_null(r);
    assert_int_equal(r->kind, COIL_RESULT_VALUE);
    return r->value.ptr;
}

static void test_deferred_list(void **state)
{
    coil_deferred *ds[3];
    for (int i = 0; i < 3; i++)
        ds[i] = coil_deferred_new(NULL, NULL);
    coil_deferred *dl = coil_deferred_list(ds, 3, false, false, false);
    coil_deferred_callback(ds[0], coil_result_int(1));
    assert_false(coil_deferred_called(dl));
    coil_deferred_add_errback(ds[1], cb_return_none, NULL); /* "catch" */
    coil_deferred_errback(ds[1], boom(-2));
    coil_deferred_callback(ds[2], coil_result_int(3));
    const coil_deferred_list_result *res = list_of(dl);
    assert_int_equal(res->count, 3);
    assert_true(res->items[0].success);
    assert_int_equal(coil_result_as_int(res->items[0].result), 1);
    assert_false(res->items[1].success);
    assert_int_equal(coil_failure_code(res->items[1].result.failure), -2);
    assert_true(res->items[2].success);
    assert_int_equal(coil_result_as_int(res->items[2].result), 3);
    for (int i = 0; i < 3; i++)
        coil_deferred_unref(ds[i]);
    coil_deferred_unref(dl);
}

static void test_empty_deferred_list(void **state)
{
    coil_deferred *dl = coil_deferred_list(NULL, 0, false, false, false);
    assert_int_equal(list_of(dl)->count, 0);
    coil_deferred_unref(dl);
    dl = coil_deferred_list(NULL, 0, true, false, false);
    assert_false(coil_deferred_called(dl)); /* never fires */
    coil_deferred_unref(dl);
}

static void test_deferred_list_fire_on_one_error(void **state)
{
    struct seen s = {.keep_failure = true};
    coil_deferred *ds[3];
    for (int i = 0; i < 3; i++)
        ds[i] = coil_deferred_new(NULL, NULL);
    coil_deferred *dl = coil_deferred_list(ds, 3, false, true, false);
    coil_deferred_add_errback(dl, cb_append, &s);
    coil_deferred_add_errback(ds[1], cb_return_none, NULL);
    coil_deferred_callback(ds[0], coil_result_int(1));
    assert_int_equal(s.calls, 0);
    coil_deferred_errback(ds[1], boom(-2));
    assert_int_equal(s.calls, 1);
    assert_true(coil_failure_is_first_error(s.f));
    assert_int_equal(coil_first_error_index(s.f), 1);
    assert_true(coil_failure_check(coil_failure_cause(s.f), "test", -2));
    assert_string_equal(coil_failure_message(s.f), "FirstError[#1]");
    coil_deferred_callback(ds[2], coil_result_int(3)); /* after: ignored by the list */
    assert_int_equal(result_int(ds[2]), 3);
    coil_failure_unref(s.f);
    for (int i = 0; i < 3; i++)
        coil_deferred_unref(ds[i]);
    coil_deferred_unref(dl);
}

static void test_deferred_list_dont_consume_errors(void **state)
{
    struct seen trap = {0}, lists = {0};
    coil_deferred *d1 = coil_deferred_new(NULL, NULL);
    coil_deferred *dl = coil_deferred_list(&d1, 1, false, false, false);
    coil_deferred_add_errback(d1, cb_append, &trap);
    coil_deferred_add_callback(dl, cb_peek, &lists);
    coil_deferred_errback(d1, boom(-5));
    assert_int_equal(trap.calls, 1);
    assert_int_equal(trap.code, -5);
    assert_int_equal(lists.calls, 1);
    assert_int_equal(coil_failure_code(list_of(dl)->items[0].result.failure), -5);
    coil_deferred_unref(d1);
    coil_deferred_unref(dl);
}

static void test_deferred_list_consume_errors(void **state)
{
    struct seen trap = {0};
    coil_deferred *d1 = coil_deferred_new(NULL, NULL);
    coil_deferred *dl = coil_deferred_list(&d1, 1, false, false, true);
    coil_deferred_add_errback(d1, cb_append, &trap);
    coil_deferred_errback(d1, boom(-5));
    assert_int_equal(trap.calls, 0);
    assert_int_equal(result_int(d1), 0);
    assert_false(list_of(dl)->items[0].success);
    assert_int_equal(coil_failure_code(list_of(dl)->items[0].result.failure), -5);
    coil_deferred_unref(d1);
    coil_deferred_unref(dl); /* the list's failure is not "unhandled" */
    assert_int_equal(nlogs, 0);
}

static void test_deferred_list_fire_on_one_error_with_already_fired(void **state)
{
    struct seen s = {0};
    coil_deferred *ds[2] = {coil_deferred_new(NULL, NULL), coil_deferred_new(NULL, NULL)};
    coil_deferred_errback(ds[0], boom(-1));
    coil_deferred *dl = coil_deferred_list(ds, 2, false, true, false);
    coil_deferred_add_errback(dl, cb_append, &s);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.code, COIL_DEFER_FIRST_ERROR);
    coil_deferred_add_errback(ds[0], cb_return_none, NULL);
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]); /* never fired: released with the list's slot */
    coil_deferred_unref(dl);
}

static void test_deferred_list_with_already_fired(void **state)
{
    coil_deferred *ds[2] = {coil_deferred_new(NULL, NULL), coil_deferred_new(NULL, NULL)};
    coil_deferred_errback(ds[0], boom(-1));
    coil_deferred_callback(ds[1], coil_result_int(2));
    coil_deferred *dl = coil_deferred_list(ds, 2, false, false, false);
    const coil_deferred_list_result *res = list_of(dl);
    assert_int_equal(res->count, 2);
    assert_false(res->items[0].success);
    assert_true(res->items[1].success);
    coil_deferred_add_errback(ds[0], cb_return_none, NULL);
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
    coil_deferred_unref(dl);
}

static void test_deferred_list_fire_on_one_callback(void **state)
{
    coil_deferred *ds[3];
    for (int i = 0; i < 3; i++)
        ds[i] = coil_deferred_new(NULL, NULL);
    coil_deferred *dl = coil_deferred_list(ds, 3, true, false, false);
    coil_deferred_add_errback(ds[0], cb_return_none, NULL);
    coil_deferred_errback(ds[0], boom(-1));
    assert_false(coil_deferred_called(dl));
    int *value = malloc(sizeof(*value));
    *value = 77;
    coil_deferred_callback(ds[2], coil_result_value(value, free));
    const coil_deferred_list_first *first = coil_result_ptr(*coil_deferred_peek(dl));
    assert_int_equal(first->index, 2);
    assert_ptr_equal(coil_result_ptr(first->result), value);
    /* The input keeps a borrowed view of the same value. */
    assert_ptr_equal(coil_result_ptr(*coil_deferred_peek(ds[2])), value);
    coil_deferred_callback(ds[1], coil_result_int(1));
    for (int i = 0; i < 3; i++)
        coil_deferred_unref(ds[i]);
    coil_deferred_unref(dl); /* frees value exactly once */
}

static void test_deferred_list_all_fail_with_fire_on_one_callback(void **state)
{
    coil_deferred *ds[2] = {coil_deferred_new(NULL, NULL), coil_deferred_new(NULL, NULL)};
    coil_deferred *dl = coil_deferred_list(ds, 2, true, false, true);
    coil_deferred_errback(ds[0], boom(-1));
    coil_deferred_errback(ds[1], boom(-2));
    const coil_deferred_list_result *res = list_of(dl);
    assert_false(res->items[0].success);
    assert_false(res->items[1].success);
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
    coil_deferred_unref(dl);
}

static void test_deferred_list_value_ownership(void **state)
{
    /* Values move into the list; inputs see borrowed views. */
    coil_deferred *ds[2] = {coil_deferred_new(NULL, NULL), coil_deferred_new(NULL, NULL)};
    coil_deferred *dl = coil_deferred_list(ds, 2, false, false, false);
    coil_deferred_callback(ds[0], coil_result_value(&destroyed, count_destroy));
    coil_deferred_callback(ds[1], coil_result_value(&destroyed, count_destroy));
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
    assert_int_equal(destroyed, 0);
    /* A consumer steals one value and releases the list. */
    struct seen s = {0};
    coil_deferred_add_callback(dl, cb_append, &s);
    assert_int_equal(destroyed, 2);
    coil_deferred_unref(dl);
    assert_int_equal(destroyed, 2);
}

static void test_deferred_list_fire_and_forget(void **state)
{
    /* Only the producers hold references: the list still fires. */
    coil_deferred *ds[2] = {coil_deferred_new(NULL, NULL), coil_deferred_new(NULL, NULL)};
    coil_deferred *dl = coil_deferred_list(ds, 2, false, false, false);
    coil_deferred_add_callback(dl, cb_return_none, NULL);
    coil_deferred_add_callback(dl, cb_trace, "list");
    coil_deferred_unref(dl);
    coil_deferred_callback(ds[1], coil_result_int(2));
    coil_deferred_callback(ds[0], coil_result_int(1));
    assert_string_equal(trace, "list=0 ");
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
}

static void fake_callback_canceller(coil_deferred *d, void *arg)
{
    coil_deferred_callback(d, coil_result_int((intptr_t) "Callback Result"));
}

static void test_cancel_deferred_list(void **state)
{
    coil_deferred *ds[2] = {coil_deferred_new(NULL, NULL), coil_deferred_new(NULL, NULL)};
    coil_deferred *dl = coil_deferred_list(ds, 2, false, false, false);
    coil_deferred_cancel(dl);
    assert_failure_result(ds[0], COIL_DEFER_DOMAIN, -ECANCELED);
    assert_failure_result(ds[1], COIL_DEFER_DOMAIN, -ECANCELED);
    const coil_deferred_list_result *res = list_of(dl);
    assert_false(res->items[0].success);
    assert_false(res->items[1].success);
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
    coil_deferred_unref(dl);
}

static void test_cancel_deferred_list_callback(void **state)
{
    coil_deferred *ds[2] = {coil_deferred_new(fake_callback_canceller, NULL),
                            coil_deferred_new(NULL, NULL)};
    coil_deferred *dl = coil_deferred_list(ds, 2, false, false, false);
    coil_deferred_cancel(dl);
    assert_failure_result(ds[1], COIL_DEFER_DOMAIN, -ECANCELED);
    const coil_deferred_list_result *res = list_of(dl);
    assert_true(res->items[0].success);
    assert_string_equal((const char *)coil_result_ptr(res->items[0].result), "Callback Result");
    assert_false(res->items[1].success);
    assert_true(coil_failure_check(res->items[1].result.failure, COIL_DEFER_DOMAIN, -ECANCELED));
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
    coil_deferred_unref(dl);
}

static void test_cancel_deferred_list_with_fire_on_one_callback(void **state)
{
    coil_deferred *ds[2] = {coil_deferred_new(NULL, NULL), coil_deferred_new(NULL, NULL)};
    coil_deferred *dl = coil_deferred_list(ds, 2, true, false, false);
    coil_deferred_cancel(dl);
    assert_failure_result(ds[0], COIL_DEFER_DOMAIN, -ECANCELED);
    assert_failure_result(ds[1], COIL_DEFER_DOMAIN, -ECANCELED);
    /* All failed: the list callbacks with the (failure) list. */
    assert_int_equal(list_of(dl)->count, 2);
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
    coil_deferred_unref(dl);
    /* ...and when an input's canceller callbacks, with (result, index). */
    ds[0] = coil_deferred_new(fake_callback_canceller, NULL);
    ds[1] = coil_deferred_new(NULL, NULL);
    dl = coil_deferred_list(ds, 2, true, false, false);
    coil_deferred_cancel(dl);
    assert_failure_result(ds[1], COIL_DEFER_DOMAIN, -ECANCELED);
    const coil_deferred_list_first *first = coil_result_ptr(*coil_deferred_peek(dl));
    assert_int_equal(first->index, 0);
    assert_string_equal((const char *)coil_result_ptr(first->result), "Callback Result");
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
    coil_deferred_unref(dl);
}

static void test_cancel_deferred_list_with_fire_on_one_errback(void **state)
{
    struct seen s = {.keep_failure = true};
    coil_deferred *ds[2] = {coil_deferred_new(NULL, NULL), coil_deferred_new(NULL, NULL)};
    coil_deferred *dl = coil_deferred_list(ds, 2, false, true, false);
    coil_deferred_cancel(dl);
    assert_failure_result(ds[0], COIL_DEFER_DOMAIN, -ECANCELED);
    assert_failure_result(ds[1], COIL_DEFER_DOMAIN, -ECANCELED);
    coil_deferred_add_errback(dl, cb_append, &s);
    assert_true(coil_failure_is_first_error(s.f));
    assert_true(coil_failure_check(coil_failure_cause(s.f), COIL_DEFER_DOMAIN, -ECANCELED));
    coil_failure_unref(s.f);
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
    coil_deferred_unref(dl);
}

static void test_cancel_deferred_list_with_fire_on_one_errback_all_callback(void **state)
{
    coil_deferred *ds[2] = {coil_deferred_new(fake_callback_canceller, NULL),
                            coil_deferred_new(fake_callback_canceller, NULL)};
    coil_deferred *dl = coil_deferred_list(ds, 2, false, true, false);
    coil_deferred_cancel(dl);
    const coil_deferred_list_result *res = list_of(dl);
    assert_true(res->items[0].success);
    assert_true(res->items[1].success);
    assert_string_equal((const char *)coil_result_ptr(res->items[1].result), "Callback Result");
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
    coil_deferred_unref(dl);
}

static void test_cancel_deferred_list_with_original_deferreds(void **state)
{
    /* Only the Deferreds passed in are cancelled. */
    coil_deferred *ds[3] = {coil_deferred_new(NULL, NULL), coil_deferred_new(NULL, NULL),
                            coil_deferred_new(NULL, NULL)};
    coil_deferred *dl = coil_deferred_list(ds, 2, false, false, false);
    coil_deferred_cancel(dl);
    assert_failure_result(ds[0], COIL_DEFER_DOMAIN, -ECANCELED);
    assert_failure_result(ds[1], COIL_DEFER_DOMAIN, -ECANCELED);
    assert_no_result(ds[2]);
    for (int i = 0; i < 3; i++)
        coil_deferred_unref(ds[i]);
    coil_deferred_unref(dl);
}

static void test_cancel_fired_on_one_callback_deferred_list(void **state)
{
    coil_deferred *ds[2] = {coil_deferred_new(NULL, NULL), coil_deferred_new(NULL, NULL)};
    coil_deferred *dl = coil_deferred_list(ds, 2, true, false, false);
    coil_deferred_callback(ds[0], coil_result_none());
    coil_deferred_cancel(dl);
    assert_no_result(ds[1]);
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
    coil_deferred_unref(dl);
}

static void test_cancel_fired_on_one_errback_deferred_list(void **state)
{
    coil_deferred *ds[2] = {coil_deferred_new(NULL, NULL), coil_deferred_new(NULL, NULL)};
    coil_deferred *dl = coil_deferred_list(ds, 2, false, true, false);
    coil_deferred_errback(ds[0], boom(-1));
    coil_deferred_cancel(dl);
    assert_no_result(ds[1]);
    assert_failure_result(ds[0], "test", -1);
    assert_failure_result(dl, COIL_DEFER_DOMAIN, COIL_DEFER_FIRST_ERROR);
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
    coil_deferred_unref(dl);
}

static void test_cancel_deferred_list_not_fired_when_inputs_do_not_fire(void **state)
{
    /* DeferredList.cancel only cancels the inputs: a paused input keeps the
     * list unfired (no CancelledError on the list itself). */
    coil_deferred *ds[1] = {coil_deferred_new(NULL, NULL)};
    coil_deferred_add_errback(ds[0], cb_return_none, NULL);
    coil_deferred_pause(ds[0]);
    coil_deferred *dl = coil_deferred_list(ds, 1, false, false, false);
    coil_deferred_cancel(dl);
    assert_false(coil_deferred_called(dl));
    coil_deferred_unpause(ds[0]);
    assert_true(list_of(dl)->items[0].success);
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(dl);
}

static void test_gather_results(void **state)
{
    coil_deferred *ds[2] = {coil_succeed(coil_result_int(1)), coil_succeed(coil_result_int(2))};
    coil_deferred *g = coil_gather_results(ds, 2, false);
    const coil_deferred_list_result *res = list_of(g);
    assert_int_equal(res->count, 2);
    assert_int_equal(coil_result_as_int(res->items[0].result), 1);
    assert_int_equal(coil_result_as_int(res->items[1].result), 2);
    coil_deferred_unref(g);
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
    /* A failing list. */
    struct seen s = {0};
    ds[0] = coil_succeed(coil_result_int(1));
    ds[1] = coil_fail(boom(-EINVAL));
    g = coil_gather_results(ds, 2, false);
    coil_deferred_add_errback(g, cb_append, &s);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.code, COIL_DEFER_FIRST_ERROR);
    coil_deferred_add_errback(ds[1], cb_return_none, NULL);
    coil_deferred_unref(g);
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
}

static void test_gather_results_with_consume_errors(void **state)
{
    struct seen unconsumed = {0}, gathered = {.keep_failure = true};
    coil_deferred *ds[2] = {coil_succeed(coil_result_int(1)), coil_fail(boom(-EPERM))};
    coil_deferred *g = coil_gather_results(ds, 2, true);
    coil_deferred_add_errback(ds[1], cb_append, &unconsumed);
    coil_deferred_add_errback(g, cb_append, &gathered);
    assert_int_equal(unconsumed.calls, 0);
    assert_int_equal(gathered.calls, 1);
    assert_true(coil_failure_is_first_error(gathered.f));
    assert_true(coil_failure_check(coil_failure_cause(gathered.f), "test", -EPERM));
    coil_failure_unref(gathered.f);
    coil_deferred_unref(g);
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
}

static void test_cancel_gather_results(void **state)
{
    coil_deferred *ds[2] = {coil_deferred_new(NULL, NULL), coil_deferred_new(NULL, NULL)};
    coil_deferred *g = coil_gather_results(ds, 2, false);
    coil_deferred_cancel(g);
    assert_failure_result(ds[0], COIL_DEFER_DOMAIN, -ECANCELED);
    assert_failure_result(ds[1], COIL_DEFER_DOMAIN, -ECANCELED);
    assert_failure_result(g, COIL_DEFER_DOMAIN, COIL_DEFER_FIRST_ERROR);
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
    coil_deferred_unref(g);
}

static void test_cancel_gather_results_with_all_deferreds_callback(void **state)
{
    coil_deferred *ds[2] = {coil_deferred_new(fake_callback_canceller, NULL),
                            coil_deferred_new(fake_callback_canceller, NULL)};
    coil_deferred *g = coil_gather_results(ds, 2, false);
    coil_deferred_cancel(g);
    const coil_deferred_list_result *res = list_of(g);
    assert_string_equal((const char *)coil_result_ptr(res->items[0].result), "Callback Result");
    assert_string_equal((const char *)coil_result_ptr(res->items[1].result), "Callback Result");
    coil_deferred_unref(ds[0]);
    coil_deferred_unref(ds[1]);
    coil_deferred_unref(g);
}

static void test_first_error_format(void **state)
{
    struct seen s = {.keep_failure = true};
    coil_deferred *ds[4];
    for (int i = 0; i < 4; i++)
        ds[i] = coil_deferred_new(NULL, NULL);
    coil_deferred *g = coil_gather_results(ds, 4, true);
    coil_deferred_errback(ds[3], coil_failure_new("coil.tcp", -ECONNRESET, "reset"));
    coil_deferred_add_errback(g, cb_append, &s);
    assert_int_equal(coil_first_error_index(s.f), 3);
    char buf[512];
    coil_failure_snprint(s.f, buf, sizeof(buf));
    assert_non_null(strstr(buf, "coil.defer COIL_EFIRSTERROR (-4010): FirstError[#3]\n"));
    assert_non_null(strstr(buf, "caused by: coil.tcp ECONNRESET (-104): reset"));
    coil_failure *plain = boom(-1);
    assert_false(coil_failure_is_first_error(plain));
    assert_int_equal(coil_first_error_index(plain), SIZE_MAX);
    coil_failure_unref(plain);
    coil_failure_unref(s.f);
    for (int i = 0; i < 3; i++)
        coil_deferred_cancel(ds[i]); /* release the never-fired inputs */
    for (int i = 0; i < 4; i++) {
        coil_deferred_add_errback(ds[i], cb_return_none, NULL);
        coil_deferred_unref(ds[i]);
    }
    coil_deferred_unref(g);
}

/* ======================================================================== */

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_callback_without_args),
        T(test_callback_with_args),
        T(test_two_callbacks),
        T(test_add_callbacks_null_errback),
        T(test_order_and_switching),
        T(test_callback_errors),
        T(test_callback_with_failure_is_errback),
        T(test_callback_with_deferred_rejected),
        T(test_immediate_success),
        T(test_immediate_failure),
        T(test_paused_failure),
        T(test_unpause_before_callback),
        T(test_extra_unpause_ignored),
        T(test_return_deferred),
        T(test_chained_paused_deferred_with_result),
        T(test_paused_deferred_chained),
        T(test_already_called_cc),
        T(test_already_called_ce),
        T(test_already_called_ee),
        T(test_already_called_ec),
        T(test_reentrant_run_callbacks),
        T(test_reentrant_run_callbacks_with_failure),
        T(test_callback_may_drop_last_reference),
        T(test_synchronous_implicit_chain),
        T(test_asynchronous_implicit_chain),
        T(test_asynchronous_implicit_chain_inner_callbacks_first),
        T(test_synchronous_implicit_error_chain),
        T(test_asynchronous_implicit_error_chain),
        T(test_double_asynchronous_implicit_chaining),
        T(test_nested_asynchronous_chained_deferreds),
        T(test_nested_asynchronous_chained_deferreds_with_extra_callbacks),
        T(test_inner_callbacks_preserved),
        T(test_continue_callback_not_first),
        T(test_callback_order_preserved),
        T(test_result_of_deferred_result_of_deferred_of_fired_deferred_called),
        T(test_circular_chain),
        T(test_chain_deferred_records_explicit_chain),
        T(test_explicit_chain_cleared_when_resolved),
        T(test_chain_deferred_records_implicit_chain),
        T(test_chain_deferred_errback_and_already_called),
        T(test_repr),
        T(test_bounded_stack_depth),
        T(test_long_chain_destroyed_iteratively),
        T(test_no_canceller),
        T(test_raises_after_cancel_and_callback),
        T(test_raises_after_cancel_and_errback),
        T(test_no_canceller_multiple_cancels_after_cancel_and_callback),
        T(test_no_canceller_multiple_cancel),
        T(test_canceller_multiple_cancel),
        T(test_simple_canceller),
        T(test_canceller_arg),
        T(test_cancel_after_callback),
        T(test_cancel_after_errback),
        T(test_canceller_that_errbacks),
        T(test_canceller_that_callbacks),
        T(test_cancel_nested_deferred),
        T(test_cancel_deep_nested_deferred),
        T(test_cancel_chained_paused_outer),
        T(test_canceller_destroy),
        T(test_arg_destroy),
        T(test_unfired_deferred_destroyed),
        T(test_consumer_may_drop_reference),
        T(test_value_destructor_runs_once),
        T(test_error_log),
        T(test_error_handled_not_logged),
        T(test_chained_error_cleanup),
        T(test_error_cleared_by_chaining),
        T(test_log_unhandled_live),
        T(test_failure_format_chain),
        T(test_failure_check),
        T(test_timeout_chainable),
        T(test_success_result_before_timeout),
        T(test_failure_before_timeout),
        T(test_timed_out),
        T(test_timed_out_custom),
        T(test_timed_out_provided_cancel_success),
        T(test_timed_out_provided_cancel_failure),
        T(test_cancel_before_timeout),
        T(test_provided_cancel_called_before_timeout_custom),
        T(test_errback_added_before_timeout),
        T(test_errback_added_before_timeout_suppresses_cancellation),
        T(test_callback_added_to_canceller_before_timeout),
        T(test_timeout_cancels_chained_inner),
        T(test_defer_later),
        T(test_defer_later_cancel),
        T(test_defer_later_producer_keeps_alive),
        T(test_maybe_deferred),
        T(test_deferred_list),
        T(test_empty_deferred_list),
        T(test_deferred_list_fire_on_one_error),
        T(test_deferred_list_dont_consume_errors),
        T(test_deferred_list_consume_errors),
        T(test_deferred_list_fire_on_one_error_with_already_fired),
        T(test_deferred_list_with_already_fired),
        T(test_deferred_list_fire_on_one_callback),
        T(test_deferred_list_all_fail_with_fire_on_one_callback),
        T(test_deferred_list_value_ownership),
        T(test_deferred_list_fire_and_forget),
        T(test_cancel_deferred_list),
        T(test_cancel_deferred_list_callback),
        T(test_cancel_deferred_list_with_fire_on_one_callback),
        T(test_cancel_deferred_list_with_fire_on_one_errback),
        T(test_cancel_deferred_list_with_fire_on_one_errback_all_callback),
        T(test_cancel_deferred_list_with_original_deferreds),
        T(test_cancel_fired_on_one_callback_deferred_list),
        T(test_cancel_fired_on_one_errback_deferred_list),
        T(test_cancel_deferred_list_not_fired_when_inputs_do_not_fire),
        T(test_gather_results),
        T(test_gather_results_with_consume_errors),
        T(test_cancel_gather_results),
        T(test_cancel_gather_results_with_all_deferreds_callback),
        T(test_first_error_format),
    };
    return cmocka_run_group_tests_name("deferred", tests, NULL, NULL);
}
