/* SPDX-License-Identifier: MIT */
/* The Range request header (RFC 9110 section 14), single byte ranges. */
#ifndef COILD_WEB_RANGE_H
#define COILD_WEB_RANGE_H

#include <stddef.h>
#include <stdint.h>

typedef enum web_range_result {
    WEB_RANGE_NONE,          /* serve the whole representation (200) */
    WEB_RANGE_OK,            /* serve [*first, *last] (206) */
    WEB_RANGE_UNSATISFIABLE, /* 416 with Content-Range: bytes * / size */
} web_range_result;

/* Interpret a Range header value for a representation of `size` bytes.
 * A missing, malformed or non-"bytes" header, and a header with several
 * ranges, give WEB_RANGE_NONE: the server may ignore them (RFC 9110 14.2);
 * coil then answers 200 with the whole body. */
web_range_result web_range_parse(const char *value, size_t len, uint64_t size, uint64_t *first,
                                 uint64_t *last);

#endif
