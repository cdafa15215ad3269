/* SPDX-License-Identifier: MIT */
/* Response heads and the small HTML bodies of error pages. */
#ifndef COILD_WEB_RESPONSE_H
#define COILD_WEB_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "escape.h"

typedef enum web_conn_header {
    WEB_CONN_NONE,       /* HTTP/1.1 keep-alive: nothing to say */
    WEB_CONN_KEEP_ALIVE, /* HTTP/1.0 keep-alive: "Connection: keep-alive" */
    WEB_CONN_CLOSE,      /* "Connection: close" */
} web_conn_header;

typedef struct web_head {
    int status;
    const char *server;       /* "coil/0.1.0" */
    const char *date;         /* IMF-fixdate */
    const char *content_type; /* or NULL */
    int64_t content_length;   /* or -1 */
    time_t last_modified;     /* or -1 */
    const char *content_range; /* value, or NULL */
    const char *location;     /* or NULL */
    const char *allow;        /* or NULL */
    bool accept_ranges;
    web_conn_header connection;
} web_head;

/* "Not Found" for 404, ...; "Unknown" for codes coil never sends. */
const char *web_status_text(int status);

/* Append "HTTP/1.1 ..." through the blank line to `b`. */
void web_response_head(web_buf *b, const web_head *h);

/* A small HTML page for an error status. */
void web_error_body(web_buf *b, int status);

#endif
