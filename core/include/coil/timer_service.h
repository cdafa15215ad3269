/* SPDX-License-Identifier: MIT */
/*
 * TimerService: call a function every `step` seconds while the service runs
 * (Twisted's TimerService, built on LoopingCall).
 *
 * The first call happens inside start. The next ones are aligned to the
 * start time: with step 10 started at t=0 they run at 10, 20, 30, ... even
 * when a call ran late, and intervals that were missed entirely are skipped
 * (LoopingCall's schedule). If the function returns a Deferred, the next
 * call is scheduled only once it fired (from the time it fired). A failed
 * Deferred stops the loop: the failure is logged at COIL_LOG_ERROR, system
 * "coil.timer_service", and the service stays running without calling
 * again until it is stopped and started.
 *
 * Stopping cancels the next call; if a Deferred returned by the function
 * is still pending, the stop Deferred fires only once it has fired.
 *
 * The struct is user-embedded like the other services: init it, put it in a
 * service tree (or start it alone), and do not free it while it runs.
 */
#ifndef COIL_TIMER_SERVICE_H
#define COIL_TIMER_SERVICE_H

#include <stdbool.h>

#include "clock.h"
#include "deferred.h"
#include "export.h"
#include "reactor.h"
#include "service.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The periodic function: return NULL when done, or a Deferred (one
 * reference, passed to coil) that the next call waits for. */
typedef coil_deferred *(*coil_timer_fn)(void *arg);

typedef struct coil_timer_service {
    coil_service service;
    double step;       /* seconds between calls (0: every loop turn) */
    coil_timer_fn fn;
    void *arg;
    /* The clock (Twisted's TimerService.clock): the reactor's after init;
     * set another (a fake clock in tests) before starting. */
    coil_clock *clock;
    unsigned long calls; /* how many times fn was called */

    /* private */
    bool looping;
    double start_time;
    coil_delayed_call *next;
    coil_deferred *in_flight; /* the function's pending Deferred */
    coil_deferred *stopping;  /* stop waiting for in_flight */
} coil_timer_service;

/* Prepare a stopped service calling fn(arg) every `step` seconds. */
COIL_API void coil_timer_service_init(coil_timer_service *ts, coil_reactor *r, double step,
                                      coil_timer_fn fn, void *arg);
/* Release what the stopped service holds (its children array). */
COIL_API void coil_timer_service_fini(coil_timer_service *ts);

/* Starting fails with -EINVAL when step is negative, infinite or not a
 * number, with -EBUSY while the Deferred of the call before a stop is
 * still pending, and
 * with -ENOMEM; stopping follows the rules above. */

#ifdef __cplusplus
}
#endif
#endif
