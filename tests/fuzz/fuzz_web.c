/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the request path of `coild web`: the llhttp-based
 * request reader, request-target sanitizing, Range and HTTP-date parsing.
 *
 * Besides memory safety, it checks:
 * - the requests read (their targets, methods, versions, kept headers) and
 *   the final error status do not depend on how the bytes were split;
 * - an error status is one the server sends (400, 413, 431, 500, 505);
 * - a sanitized path is relative, has no empty, "." or ".." segment and no
 *   NUL, so it cannot name anything above the served root;
 * - a satisfiable range lies inside the file; dates survive a round trip.
 * The input is split at a position taken from its first two bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_date.h"
#include "path.h"
#include "range.h"
#include "request.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_REQ 16

typedef struct outcome {
    int n, status;
    uint32_t digest[MAX_REQ]; /* of each request's fields */
} outcome;

static uint32_t mix(uint32_t h, const void *p, size_t len)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static void check_path(const web_request *r)
{
    char out[512];
    bool slash;
    int n = web_path_sanitize(r->url, r->url_len, out, sizeof(out), &slash);
    if (n < 0) {
        CHECK(n == -EINVAL || n == -ENAMETOOLONG);
        return;
    }
    CHECK((size_t)n == strlen(out));
    if (n == 0)
        return;
    CHECK(out[0] != '/' && out[n - 1] != '/');
    const char *seg = out;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        CHECK(len > 0);
        CHECK(!(len == 1 && seg[0] == '.'));
        CHECK(!(len == 2 && seg[0] == '.' && seg[1] == '.'));
        if (!end)
            break;
        seg = end + 1;
    }
}

static void check_headers(const web_request *r, uint64_t size)
{
    uint64_t a, b;
    web_range_result rr = web_range_parse(r->h[WEB_H_RANGE], r->h_len[WEB_H_RANGE], size, &a, &b);
    if (rr == WEB_RANGE_OK)
        CHECK(a <= b && b < size);
    time_t t;
    const char *ims = r->h[WEB_H_IF_MODIFIED_SINCE];
    if (ims && web_http_date_parse(ims, r->h_len[WEB_H_IF_MODIFIED_SINCE], &t) == 0 && t >= 0 &&
        t < 253402300800) { /* years 1970..9999 format back */
        char d[WEB_HTTP_DATE_LEN + 1];
        time_t u;
        web_http_date(t, d);
        CHECK(web_http_date_parse(d, strlen(d), &u) == 0 && u == t);
    }
}

static void run(const uint8_t *data, size_t len, size_t split, outcome *o, uint64_t size)
{
    web_limits lim = {512, 8, 256};
    web_parser wp;
    web_parser_init(&wp, &lim);
    memset(o, 0, sizeof(*o));
    size_t cuts[3] = {0, split, len};
    for (int piece = 0; piece < 2 && !o->status; piece++) {
        size_t n = cuts[piece + 1] - cuts[piece];
        char *copy = malloc(n ? n : 1); /* exact size: ASan sees over-reads */
        memcpy(copy, data + cuts[piece], n);
        size_t used = 0;
        while (used < n && !o->status) {
            ssize_t k = web_parser_feed(&wp, copy + used, n - used);
            if (k < 0) {
                o->status = wp.status;
                break;
            }
            CHECK((size_t)k <= n - used);
            /* Short of a complete request, everything was taken. */
            CHECK(wp.complete || (size_t)k == n - used);
            used += (size_t)k;
            if (wp.complete) {
                const web_request *r = &wp.req;
                check_path(r);
                check_headers(r, size);
                uint32_t h = 2166136261u;
                h = mix(h, r->url, r->url_len);
                h = mix(h, &r->method, sizeof(r->method));
                h = mix(h, &r->major, sizeof(r->major));
                h = mix(h, &r->minor, sizeof(r->minor));
                for (int i = 0; i < WEB_H_COUNT; i++)
                    if (r->h[i])
                        h = mix(h, r->h[i], r->h_len[i] + 1);
                if (o->n < MAX_REQ)
                    o->digest[o->n] = h;
                o->n++;
                bool upgrade = r->upgrade;
                web_parser_next(&wp);
                if (upgrade) { /* the server closes after such a request */
                    used = n;
                    piece = 2;
                }
            }
        }
        free(copy);
    }
    if (o->status)
        CHECK(o->status == 400 || o->status == 413 || o->status == 431 || o->status == 500 ||
              o->status == 505);
    web_parser_fini(&wp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 2)
        return 0;
    size_t split = ((size_t)data[0] << 8 | data[1]) % (len - 1);
    uint64_t size = (uint64_t)data[0] * 977 + data[1];
    data += 2;
    len -= 2;
    split = split <= len ? split : len;
    outcome whole, parts;
    run(data, len, len, &whole, size);
    run(data, len, split, &parts, size);
    /* The head-size limit counts bytes as they arrive, so a split can only
     * make a difference in where an over-long head is cut: the same status. */
    CHECK(whole.status == parts.status);
    CHECK(whole.n == parts.n);
    for (int i = 0; i < whole.n && i < MAX_REQ; i++)
        CHECK(whole.digest[i] == parts.digest[i]);
    return 0;
}
