/* SPDX-License-Identifier: MIT */
/* Escaping for the directory listing and the access log. Each function
 * appends to a growable buffer. */
#ifndef COILD_WEB_ESCAPE_H
#define COILD_WEB_ESCAPE_H

#include <stddef.h>

typedef struct web_buf {
    char *data;
    size_t len, cap;
    int error; /* -ENOMEM once an append failed (later appends do nothing) */
} web_buf;

void web_buf_append(web_buf *b, const char *s, size_t len);
void web_buf_puts(web_buf *b, const char *s);
void web_buf_free(web_buf *b);

/* & < > " ' become entities. */
void web_html_escape(web_buf *b, const char *s, size_t len);
/* Percent-encode every byte outside RFC 3986's unreserved set and '/'
 * (for a path segment in an href). */
void web_url_encode(web_buf *b, const char *s, size_t len);
/* For a quoted access-log field: '"' and '\' get a backslash; control
 * bytes and bytes >= 0x7f become \xHH. */
void web_log_escape(web_buf *b, const char *s, size_t len);

#endif
