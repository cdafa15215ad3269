/* SPDX-License-Identifier: MIT */
/*
 * coild --stats-interval SECONDS: every SECONDS, one INFO line with the
 * reactor's counters (coil_reactor_get_stats()), so an operator can watch
 * a receive ring, paused connections or an overflowing completion queue
 * under load. Rates are per second over the interval; "now" figures are
 * current values.
 */
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define SYS "coild.stats"

typedef struct stats_timer {
    coil_reactor *r;
    double interval;
    coil_delayed_call *call;
    coil_reactor_stats last;
    double last_at;
} stats_timer;

static stats_timer timer; /* one reactor per coild */

static unsigned long long u(uint64_t v)
{
    return (unsigned long long)v;
}

static void log_stats(stats_timer *s)
{
    coil_reactor_stats st;
    coil_reactor_get_stats(s->r, &st);
    double now = coil_clock_seconds(coil_reactor_clock(s->r));
    double dt = now - s->last_at > 0 ? now - s->last_at : 1;
    coil_log(COIL_LOG_INFO, SYS,
             "%s: live %llu, in %.0f B/s, out %.0f B/s, %.0f completions/s, %.0f turns/s; "
             "now held %llu B, queued %llu B, pool %llu B, receive ring %llu/%llu in use "
             "(peak %llu); totals: in %llu B, out %llu B, enobufs %llu, cq overflows %llu, "
             "sq waits %llu, stale %llu, accept backoffs %llu",
             coil_reactor_backend_name(s->r), u(st.live_handles),
             (double)(st.bytes_in - s->last.bytes_in) / dt,
             (double)(st.bytes_out - s->last.bytes_out) / dt,
             (double)(st.completions - s->last.completions) / dt,
             (double)(st.loop_turns - s->last.loop_turns) / dt, u(st.held_bytes),
             u(st.queued_bytes), u(st.pool_bytes), u(st.recv_buffers_in_use), u(st.recv_buffers),
             u(st.recv_buffers_peak), u(st.bytes_in), u(st.bytes_out), u(st.enobufs),
             u(st.cq_overflows), u(st.sq_waits), u(st.stale), u(st.accept_backoffs));
    s->last = st;
    s->last_at = now;
}

static void tick(void *arg)
{
    stats_timer *s = arg;
    log_stats(s);
    s->call = coil_reactor_call_later(s->r, s->interval, tick, s);
}

static void at_shutdown(void *arg)
{
    stats_timer *s = arg;
    if (s->call) {
        coil_delayed_call_cancel(s->call);
        s->call = NULL;
    }
    log_stats(s);
}

int coild_stats_start(coil_reactor *r, const char *seconds)
{
    char *end;
    double v = strtod(seconds, &end);
    if (end == seconds || *end != '\0' || !(v > 0) || !isfinite(v)) {
        fprintf(stderr, "coild: --stats-interval needs a number of seconds > 0, not '%s'\n",
                seconds);
        return -EINVAL;
    }
    timer = (stats_timer){.r = r, .interval = v};
    coil_reactor_get_stats(r, &timer.last);
    timer.last_at = coil_clock_seconds(coil_reactor_clock(r));
    timer.call = coil_reactor_call_later(r, v, tick, &timer);
    if (!timer.call)
        return -ENOMEM;
    long id = coil_reactor_add_trigger(r, COIL_PHASE_BEFORE, COIL_EVENT_SHUTDOWN, at_shutdown,
                                       &timer);
    return id < 0 ? (int)id : 0;
}
