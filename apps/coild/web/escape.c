/* SPDX-License-Identifier: MIT */
#include "escape.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool grow(web_buf *b, size_t extra)
{
    if (b->error)
        return false;
    if (b->len + extra <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->error = -ENOMEM;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void web_buf_append(web_buf *b, const char *s, size_t len)
{
    if (len == 0 || !grow(b, len))
        return;
    memcpy(b->data + b->len, s, len);
    b->len += len;
}

void web_buf_puts(web_buf *b, const char *s)
{
    web_buf_append(b, s, strlen(s));
}

void web_buf_free(web_buf *b)
{
    free(b->data);
    *b = (web_buf){0};
}

void web_html_escape(web_buf *b, const char *s, size_t len)
{
    size_t run = 0; /* unescaped bytes waiting to be copied */
    for (size_t i = 0; i < len; i++) {
        const char *ent = NULL;
        switch (s[i]) {
        case '&': ent = "&amp;"; break;
        case '<': ent = "&lt;"; break;
        case '>': ent = "&gt;"; break;
        case '"': ent = "&quot;"; break;
        case '\'': ent = "&#39;"; break;
        default: run++; continue;
        }
        web_buf_append(b, s + i - run, run);
        run = 0;
        web_buf_puts(b, ent);
    }
    web_buf_append(b, s + len - run, run);
}

static const char hex[] = "0123456789ABCDEF";

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
}

void web_url_encode(web_buf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c)) {
            web_buf_append(b, (const char *)&c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            web_buf_append(b, e, 3);
        }
    }
}

void web_log_escape(web_buf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            web_buf_append(b, e, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            web_buf_append(b, e, 4);
        } else {
            web_buf_append(b, (const char *)&c, 1);
        }
    }
}
