/* SPDX-License-Identifier: MIT */
/* TimerService: Twisted's TimerService over LoopingCall(now=True). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <coil/log.h>
#include <coil/timer_service.h>

static void run_call(coil_timer_service *ts);

static void tick(void *arg)
{
    coil_timer_service *ts = arg;
    ts->next = NULL;
    run_call(ts);
}

static void tick_dropped(void *arg)
{
    ((coil_timer_service *)arg)->next = NULL; /* the clock was freed */
}

/* LoopingCall._scheduleFrom: the next multiple of `step` after the start. */
static void schedule_from(coil_timer_service *ts, double when)
{
    double delay = 0;
    if (ts->step > 0) {
        double running_for = when - ts->start_time;
        delay = ts->step - fmod(running_for, ts->step);
        if (running_for < 0) /* Python's % keeps the divisor's sign */
            delay = -fmod(running_for, ts->step);
        if (when == when + delay) /* too small to move time: next interval */
            delay = ts->step;
    }
    ts->next = coil_call_later_full(ts->clock, delay, tick, ts, tick_dropped);
    if (!ts->next) {
        ts->looping = false;
        coil_log(COIL_LOG_ERROR, "coil.timer_service", "cannot schedule the next call: %s",
                 "out of memory");
    }
}

/* The loop ended while a stop was waiting for the last call. */
static void finish_stop(coil_timer_service *ts)
{
    coil_deferred *d = ts->stopping;
    ts->stopping = NULL;
    if (d) {
        coil_deferred_callback(d, coil_result_none());
        coil_deferred_unref(d);
    }
}

static coil_result call_done(coil_result r, void *arg)
{
    coil_timer_service *ts = arg;
    coil_deferred_unref(ts->in_flight);
    ts->in_flight = NULL;
    if (coil_result_is_failure(r)) {
        ts->looping = false;
        char *text = coil_failure_format(r.failure);
        coil_log(COIL_LOG_ERROR, "coil.timer_service",
                 "the periodic call failed; no further calls until restarted:\n%s",
                 text ? text : coil_failure_message(r.failure));
        free(text);
    }
    coil_result_release(r);
    if (ts->looping)
        schedule_from(ts, coil_clock_seconds(ts->clock));
    else
        finish_stop(ts); /* may free ts: nothing after this */
    return coil_result_none();
}

static void run_call(coil_timer_service *ts)
{
    ts->calls++;
    coil_deferred *d = ts->fn(ts->arg);
    if (!d) {
        if (ts->looping)
            schedule_from(ts, coil_clock_seconds(ts->clock));
        else
            finish_stop(ts);
        return;
    }
    ts->in_flight = d;
    if (coil_deferred_add_both(d, call_done, ts) < 0) {
        ts->in_flight = NULL;
        coil_deferred_unref(d);
        ts->looping = false;
        finish_stop(ts);
    }
}

static int timer_start(coil_service *s)
{
    coil_timer_service *ts = (coil_timer_service *)s;
    if (!(ts->step >= 0) || !isfinite(ts->step) || !ts->fn)
        return -EINVAL;
    if (ts->in_flight) /* a restart while the last call of a stop is pending */
        return -EBUSY;
    ts->looping = true;
    ts->start_time = coil_clock_seconds(ts->clock);
    run_call(ts);
    return 0;
}

static coil_deferred *timer_stop(coil_service *s)
{
    coil_timer_service *ts = (coil_timer_service *)s;
    ts->looping = false;
    if (ts->next) {
        coil_delayed_call_cancel(ts->next);
        ts->next = NULL;
    }
    if (!ts->in_flight)
        return NULL; /* stopped at once */
    if (!ts->stopping)
        ts->stopping = coil_deferred_new(NULL, NULL);
    return ts->stopping ? coil_deferred_ref(ts->stopping) : NULL;
}

static const coil_service_ops timer_ops = {
    .start = timer_start,
    .stop = timer_stop,
};

void coil_timer_service_init(coil_timer_service *ts, coil_reactor *r, double step,
                             coil_timer_fn fn, void *arg)
{
    *ts = (coil_timer_service){0};
    ts->service.ops = &timer_ops;
    ts->step = step;
    ts->fn = fn;
    ts->arg = arg;
    ts->clock = coil_reactor_clock(r);
}

void coil_timer_service_fini(coil_timer_service *ts)
{
    coil_service_fini(&ts->service);
}
