/* SPDX-License-Identifier: MIT */
#include "range.h"

#include <stdbool.h>
#include <strings.h>

static void skip_ows(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
}

/* 1*DIGIT without overflow; false if none or too large. */
static bool digits(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        unsigned d = (unsigned)(**p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        (*p)++;
    }
    *out = v;
    return *p > s;
}

web_range_result web_range_parse(const char *value, size_t len, uint64_t size, uint64_t *first,
                                 uint64_t *last)
{
    if (!value)
        return WEB_RANGE_NONE;
    const char *p = value, *end = value + len;
    skip_ows(&p, end);
    if (end - p < 6 || strncasecmp(p, "bytes=", 6) != 0)
        return WEB_RANGE_NONE;
    p += 6;
    skip_ows(&p, end);
    uint64_t a = 0, b = 0;
    bool has_a = digits(&p, end, &a);
    if (p >= end || *p != '-')
        return WEB_RANGE_NONE;
    p++;
    bool has_b = digits(&p, end, &b);
    skip_ows(&p, end);
    if (p != end) /* a second range (',') or junk */
        return WEB_RANGE_NONE;
    if (!has_a && !has_b)
        return WEB_RANGE_NONE;
    if (!has_a) { /* suffix: the last b bytes */
        if (b == 0 || size == 0)
            return WEB_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return WEB_RANGE_OK;
    }
    if (has_b && b < a)
        return WEB_RANGE_NONE; /* invalid: ignored */
    if (a >= size)
        return WEB_RANGE_UNSATISFIABLE;
    *first = a;
    *last = has_b && b < size - 1 ? b : size - 1;
    return WEB_RANGE_OK;
}
