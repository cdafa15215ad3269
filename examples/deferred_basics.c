/* SPDX-License-Identifier: MIT */
/*
 * Tutorial, chapter 3: Deferreds in C. Four short stories on the reactor's
 * clock: a callback chain, an errback that recovers, a cancelled wait, and
 * a timeout. Run: ./deferred_basics
 */
#include <coil/coil.h>
#include <errno.h>
#include <stdio.h>

/* 1. Callbacks: each one receives the previous result and returns the next. */
static coil_result double_it(coil_result result, void *arg COIL_UNUSED)
{
    return coil_result_int(coil_result_as_int(result) * 2);
}

static coil_result print_number(coil_result result, void *label)
{
    printf("%s: %ld\n", (const char *)label, (long)coil_result_as_int(result));
    return result;
}

static coil_result twenty_one(void *arg COIL_UNUSED)
{
    return coil_result_int(21);
}

/* 2. An errback sees the failure; returning a value recovers the chain. */
static coil_result fail_with_eio(coil_result result, void *arg COIL_UNUSED)
{
    coil_result_release(result);
    return coil_result_failure(coil_failure_new("example", -EIO, "the disk is on fire"));
}

static coil_result recover(coil_result failure, void *arg COIL_UNUSED)
{
    printf("errback: %s\n", coil_failure_message(coil_result_failure_of(failure)));
    coil_result_release(failure);
    return coil_result_int(0); /* handled: the callbacks after this see 0 */
}

/* 3 and 4. What a cancelled or timed-out Deferred errbacks with. */
static coil_result print_failure(coil_result failure, void *label)
{
    printf("%s: %s\n", (const char *)label,
           coil_failure_message(coil_result_failure_of(failure)));
    coil_result_release(failure);
    return coil_result_none();
}

static coil_result stop_reactor(coil_result result, void *reactor)
{
    coil_reactor_stop(reactor);
    return result;
}

int main(void)
{
    coil_reactor *reactor;
    if (coil_reactor_new(&reactor, NULL) < 0)
        return 1;
    coil_clock *clock = coil_reactor_clock(reactor);

    /* 1. A result 0.1 s from now, doubled, then printed: "chain: 42". */
    coil_deferred *d = coil_defer_later(clock, 0.1, twenty_one, NULL, NULL);
    coil_deferred_add_callback(d, double_it, NULL);
    coil_deferred_add_callback(d, print_number, "chain");
    coil_deferred_unref(d);

    /* 2. A callback fails; the errback recovers; the last callback runs. */
    d = coil_defer_later(clock, 0.2, twenty_one, NULL, NULL);
    coil_deferred_add_callback(d, fail_with_eio, NULL);
    coil_deferred_add_callback(d, print_number, "skipped, a failure is travelling");
    coil_deferred_add_errback(d, recover, NULL);
    coil_deferred_add_callback(d, print_number, "after recovery");
    coil_deferred_unref(d);

    /* 3. Cancelling a wait that has not fired: its errback gets a
     * CancelledError and the timer is gone. */
    d = coil_defer_later(clock, 60, twenty_one, NULL, NULL);
    coil_deferred_add_errback(d, print_failure, "cancelled");
    coil_deferred_cancel(d);
    coil_deferred_unref(d);

    /* 4. A Deferred nobody fires, timed out after 0.3 s; then we stop. */
    d = coil_deferred_new(NULL, NULL);
    coil_deferred_add_timeout(d, clock, 0.3);
    coil_deferred_add_errback(d, print_failure, "timeout");
    coil_deferred_add_both(d, stop_reactor, reactor);
    coil_deferred_unref(d);

    coil_reactor_run(reactor);
    coil_reactor_free(reactor);
    return 0;
}
