/* SPDX-License-Identifier: MIT */
/* Delayed calls on a min-heap, shared by the reactor clock and fake clocks. */
#include "clock_int.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include <coil/error.h>

struct coil_delayed_call {
    coil__heap_node node; /* first: the heap stores node pointers */
    coil_clock *clock;
    coil_delayed_fn fn;
    coil_delayed_fn drop; /* clock freed while pending */
    void *arg;
    bool running;
};

int64_t coil__monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t seconds_to_ns(double s)
{
    if (!(s > 0)) /* negative or NaN */
        return 0;
    if (s > 9.0e9) /* ~285 years: treat as never, avoid overflow */
        return INT64_MAX / 2;
    return (int64_t)(s * 1e9 + 0.5);
}

int64_t coil__clock_now_ns(const coil_clock *c)
{
    return c->fake ? c->fake_now : coil__monotonic_ns();
}

void coil__clock_init(coil_clock *c, bool fake)
{
    *c = (coil_clock){.fake = fake};
}

void coil__clock_fini(coil_clock *c)
{
    /* Drop hooks may cancel or schedule other calls: take one at a time. */
    coil__heap_node *n;
    while ((n = coil__heap_min(&c->heap))) {
        coil_delayed_call *dc = (coil_delayed_call *)n;
        coil__heap_remove(&c->heap, n);
        if (dc->drop)
            dc->drop(dc->arg);
        free(dc);
    }
    coil__heap_free(&c->heap);
}

double coil_clock_seconds(const coil_clock *c)
{
    return (double)coil__clock_now_ns(c) / 1e9;
}

size_t coil_clock_pending(const coil_clock *c)
{
    return c->heap.len;
}

coil_delayed_call *coil_call_later(coil_clock *c, double delay, coil_delayed_fn fn, void *arg)
{
    return coil_call_later_full(c, delay, fn, arg, NULL);
}

coil_delayed_call *coil_call_later_full(coil_clock *c, double delay, coil_delayed_fn fn, void *arg,
                                        coil_delayed_fn drop)
{
    coil_delayed_call *dc = malloc(sizeof(*dc));
    if (!dc)
        return NULL;
    *dc = (coil_delayed_call){.clock = c, .fn = fn, .drop = drop, .arg = arg};
    dc->node.when = coil__clock_now_ns(c) + seconds_to_ns(delay);
    dc->node.seq = c->seq++;
    if (coil__heap_push(&c->heap, &dc->node) < 0) {
        free(dc);
        return NULL;
    }
    return dc;
}

int coil_delayed_call_cancel(coil_delayed_call *dc)
{
    if (dc->running)
        return COIL_EALREADYCALLED;
    coil__heap_remove(&dc->clock->heap, &dc->node);
    free(dc);
    return 0;
}

int coil_delayed_call_reset(coil_delayed_call *dc, double seconds)
{
    if (dc->running)
        return COIL_EALREADYCALLED;
    dc->node.when = coil__clock_now_ns(dc->clock) + seconds_to_ns(seconds);
    coil__heap_update(&dc->clock->heap, &dc->node);
    return 0;
}

int coil_delayed_call_delay(coil_delayed_call *dc, double seconds)
{
    if (dc->running)
        return COIL_EALREADYCALLED;
    int64_t d = seconds >= 0 ? seconds_to_ns(seconds) : -seconds_to_ns(-seconds);
    dc->node.when += d;
    coil__heap_update(&dc->clock->heap, &dc->node);
    return 0;
}

bool coil_delayed_call_active(const coil_delayed_call *dc)
{
    return !dc->running;
}

double coil_delayed_call_time(const coil_delayed_call *dc)
{
    return (double)dc->node.when / 1e9;
}

int64_t coil__clock_next_ns(const coil_clock *c)
{
    coil__heap_node *n = coil__heap_min(&c->heap);
    return n ? n->when : INT64_MAX;
}

size_t coil__clock_run_due(coil_clock *c, int64_t now, uint64_t seq_limit)
{
    size_t ran = 0;
    coil__heap_node *n;
    while ((n = coil__heap_min(&c->heap)) && n->when <= now && n->seq < seq_limit) {
        coil_delayed_call *dc = (coil_delayed_call *)n;
        coil__heap_remove(&c->heap, n);
        dc->running = true;
        dc->fn(dc->arg);
        free(dc);
        ran++;
    }
    return ran;
}

coil_clock *coil_fake_clock_new(void)
{
    coil_clock *c = malloc(sizeof(*c));
    if (c)
        coil__clock_init(c, true);
    return c;
}

void coil_fake_clock_free(coil_clock *c)
{
    if (!c)
        return;
    coil__clock_fini(c);
    free(c);
}

void coil_fake_clock_advance(coil_clock *c, double seconds)
{
    c->fake_now += seconds_to_ns(seconds);
    coil__clock_run_due(c, c->fake_now, UINT64_MAX);
}

void coil_fake_clock_pump(coil_clock *c, const double *timings, size_t n)
{
    for (size_t i = 0; i < n; i++)
        coil_fake_clock_advance(c, timings[i]);
}
