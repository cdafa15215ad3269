/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1.x request reader: llhttp underneath, plus what a static server
 * needs from it: the method, target and version, the handful of headers it
 * acts on or logs, the keep-alive decision, and limits (request line and
 * header bytes, header count, body size) turned into status codes.
 * Request bodies are read and discarded.
 */
#ifndef COILD_WEB_REQUEST_H
#define COILD_WEB_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <llhttp.h>

typedef struct web_limits {
    size_t max_head;    /* request line + headers, bytes (431 beyond) */
    size_t max_headers; /* header fields (431 beyond) */
    size_t max_body;    /* request body, bytes (413 beyond) */
} web_limits;

#define WEB_LIMITS_DEFAULT {8192, 100, 65536}

/* The headers kept (the first occurrence of each; a repeated Range is
 * several ranges, which coil ignores). */
enum web_header {
    WEB_H_HOST,
    WEB_H_RANGE,
    WEB_H_IF_RANGE,
    WEB_H_IF_MODIFIED_SINCE,
    WEB_H_REFERER,
    WEB_H_USER_AGENT,
    WEB_H_COUNT,
};

typedef struct web_request {
    int method;          /* llhttp_method_t */
    unsigned major, minor;
    bool keep_alive;     /* llhttp's verdict from version and Connection */
    bool upgrade;        /* Upgrade/CONNECT: the connection ends after this */
    const char *method_name, *url; /* NUL-terminated, valid until the next feed */
    size_t method_len, url_len;
    const char *h[WEB_H_COUNT]; /* NUL-terminated values, or NULL */
    size_t h_len[WEB_H_COUNT];
} web_request;

typedef struct web_parser {
    llhttp_t ll;
    web_limits lim;
    char *buf;           /* method, target and kept header values */
    size_t used, cap;
    size_t head_bytes, nheaders;
    unsigned long long body_bytes;
    char name[24];       /* the header name being read (if short enough) */
    size_t name_len;
    int cur;             /* kept header being read, or -1 */
    size_t span_start;   /* where the current method/target/value began */
    bool in_span, headers_done, complete, range_repeated;
    size_t method_off, url_off, h_off[WEB_H_COUNT];
    bool has_method, has_url, has_h[WEB_H_COUNT];
    int status;          /* on error: the status to answer */
    const char *reason;  /* on error: why, for the log */
    web_request req;
} web_parser;

void web_parser_init(web_parser *wp, const web_limits *lim);
void web_parser_fini(web_parser *wp);

/* Feed bytes. Returns how many were consumed: all of them, or fewer when a
 * request completed (wp->complete; the rest belongs to the next request:
 * call web_parser_next() and feed it again). -1 on an error: wp->status
 * (400, 413, 431, 500 or 505) and wp->reason say which; the connection
 * cannot continue. */
ssize_t web_parser_feed(web_parser *wp, const char *data, size_t len);

/* After a complete request: forget it and expect the next one. */
void web_parser_next(web_parser *wp);

#endif
