/* SPDX-License-Identifier: MIT */
/*
 * Clocks and delayed calls (Twisted's IReactorTime / IDelayedCall).
 *
 * A coil_clock schedules callbacks. Every reactor owns one, driven by the
 * monotonic clock (coil_reactor_clock()); a fake clock (coil_fake_clock_new(),
 * the analogue of twisted.internet.task.Clock) only moves when told to, so
 * timer logic can be tested without sleeping. Code that takes a coil_clock *
 * works with either.
 *
 * Times are seconds as double. Calls due at the same time run in the order
 * they were scheduled. Scheduling is O(log n) (binary min-heap).
 *
 * Lifetime of a coil_delayed_call: the handle returned by coil_call_later()
 * is owned by the clock. It stays valid until its callback has returned or
 * until coil_delayed_call_cancel() succeeds on it; after that the pointer is
 * dangling. While its own callback runs the handle is valid but no longer
 * active (cancel/reset/delay return COIL_EALREADYCALLED there). Code that
 * keeps the pointer must clear it in the callback.
 */
#ifndef COIL_CLOCK_H
#define COIL_CLOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct coil_clock coil_clock;
typedef struct coil_delayed_call coil_delayed_call;
typedef void (*coil_delayed_fn)(void *arg);

/* Current time of the clock in seconds (monotonic for a reactor clock,
 * the advanced value for a fake clock, which starts at 0). */
COIL_API double coil_clock_seconds(const coil_clock *clock);

/* Schedule fn(arg) `delay` seconds from now (negative counts as 0). Returns
 * NULL only when out of memory. A reactor clock runs the call from its loop,
 * never synchronously. */
COIL_API coil_delayed_call *coil_call_later(coil_clock *clock, double delay, coil_delayed_fn fn,
                                            void *arg);

/* As coil_call_later(), plus `drop(arg)` (may be NULL), which runs instead
 * of fn if the clock is freed (coil_fake_clock_free, coil_reactor_free)
 * while the call is still pending, so its owner can release `arg`. It does
 * not run on cancel: whoever cancels owns arg again. */
COIL_API coil_delayed_call *coil_call_later_full(coil_clock *clock, double delay,
                                                 coil_delayed_fn fn, void *arg,
                                                 coil_delayed_fn drop);

/* Cancel a pending call; the handle is freed. Returns 0, or
 * COIL_EALREADYCALLED when called from inside the call's own callback. */
COIL_API int coil_delayed_call_cancel(coil_delayed_call *call);
/* Reschedule to `seconds` from now. 0 or COIL_EALREADYCALLED. */
COIL_API int coil_delayed_call_reset(coil_delayed_call *call, double seconds);
/* Push the scheduled time `seconds` later (negative: earlier). 0 or COIL_EALREADYCALLED. */
COIL_API int coil_delayed_call_delay(coil_delayed_call *call, double seconds);
/* True while pending (false inside its own callback). */
COIL_API bool coil_delayed_call_active(const coil_delayed_call *call);
/* The clock time at which the call is scheduled to run. */
COIL_API double coil_delayed_call_time(const coil_delayed_call *call);

/* Number of pending calls on the clock. */
COIL_API size_t coil_clock_pending(const coil_clock *clock);

/* A fake clock for tests. Free it with coil_fake_clock_free(), which drops
 * (without running) every pending call. */
COIL_API coil_clock *coil_fake_clock_new(void);
COIL_API void coil_fake_clock_free(coil_clock *clock);
/* Move time forward by `seconds` (>= 0) and run every call that is due, in
 * time order, including calls scheduled by those callbacks that fall due
 * before the new time (as Twisted's Clock.advance does). */
COIL_API void coil_fake_clock_advance(coil_clock *clock, double seconds);
/* Advance by each amount in turn (Twisted's Clock.pump). */
COIL_API void coil_fake_clock_pump(coil_clock *clock, const double *timings, size_t n);

#ifdef __cplusplus
}
#endif
#endif
