/* SPDX-License-Identifier: MIT */
/*
 * hist.h - a tiny log-linear latency histogram (HdrHistogram-style buckets).
 *
 * Values (e.g. nanoseconds) below 64 are counted exactly. Above that, a
 * value lands in the bucket given by its most significant bit plus the next
 * 5 bits (32 sub-buckets per power of two), so a bucket is at most 1/32 of
 * its value wide: reported values (bucket midpoints) are within ~1.6%, and
 * always within 3%. 1920 counters cover the whole uint64_t range; recording
 * is a handful of instructions and never allocates.
 */
#ifndef COIL_BENCH_HIST_H
#define COIL_BENCH_HIST_H

#include <stdint.h>
#include <string.h>

#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)                /* 32 */
#define HIST_BUCKETS ((64 - HIST_SUB_BITS) * HIST_SUB) /* 1920 */

struct hist {
    uint64_t count, min, max;
    double sum;
    uint64_t b[HIST_BUCKETS];
};

static inline void hist_reset(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

static inline unsigned hist_index(uint64_t v)
{
    if (v < 2 * HIST_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HIST_SUB_BITS;
    return (shift + 1) * HIST_SUB + (unsigned)(v >> shift) - HIST_SUB;
}

/* Lowest value that maps to bucket i, and the bucket's width. */
static inline uint64_t hist_low(unsigned i, uint64_t *width)
{
    if (i < 2 * HIST_SUB) {
        *width = 1;
        return i;
    }
    unsigned shift = i / HIST_SUB - 1;
    *width = (uint64_t)1 << shift;
    return (uint64_t)(i % HIST_SUB + HIST_SUB) << shift;
}

static inline void hist_record(struct hist *h, uint64_t v)
{
    h->b[hist_index(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

static inline void hist_merge(struct hist *dst, const struct hist *src)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

/* Value at quantile q (0..1): midpoint of the bucket holding the
 * ceil(q * count)-th smallest value, clamped to [min, max]. 0 if empty. */
static inline double hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t w, lo = hist_low(i, &w);
            double mid = (double)lo + (double)(w - 1) / 2.0;
            if (mid < (double)h->min)
                mid = (double)h->min;
            if (mid > (double)h->max)
                mid = (double)h->max;
            return mid;
        }
    }
    return (double)h->max;
}

static inline double hist_mean(const struct hist *h)
{
    return h->count ? h->sum / (double)h->count : 0;
}

#endif
