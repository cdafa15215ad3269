/* SPDX-License-Identifier: MIT */
#include "request.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const kept_names[WEB_H_COUNT] = {
    [WEB_H_HOST] = "host",
    [WEB_H_RANGE] = "range",
    [WEB_H_IF_RANGE] = "if-range",
    [WEB_H_IF_MODIFIED_SINCE] = "if-modified-since",
    [WEB_H_REFERER] = "referer",
    [WEB_H_USER_AGENT] = "user-agent",
};

static web_parser *of(llhttp_t *p)
{
    return (web_parser *)p; /* ll is the first member */
}

static int fail(web_parser *wp, int status, const char *reason)
{
    wp->status = status;
    wp->reason = reason;
    return HPE_USER;
}

/* Append to buf; it never holds more than the head limit allows. */
static int append(web_parser *wp, const char *at, size_t len)
{
    if (wp->used + len + 1 > wp->cap) {
        size_t cap = wp->cap ? wp->cap : 512;
        size_t limit = wp->lim.max_head + WEB_H_COUNT + 4;
        while (cap < wp->used + len + 1)
            cap *= 2;
        if (cap > limit)
            cap = limit;
        if (wp->used + len + 1 > cap)
            return fail(wp, 431, "request header fields too large");
        char *b = realloc(wp->buf, cap);
        if (!b)
            return fail(wp, 500, "out of memory");
        wp->buf = b;
        wp->cap = cap;
    }
    memcpy(wp->buf + wp->used, at, len);
    wp->used += len;
    return 0;
}

static int span(web_parser *wp, const char *at, size_t len)
{
    if (!wp->in_span) {
        wp->in_span = true;
        wp->span_start = wp->used;
    }
    return append(wp, at, len);
}

/* Close the current span with a NUL; its offset goes to *off. */
static int end_span(web_parser *wp, size_t *off)
{
    if (!wp->in_span) {
        wp->in_span = true; /* an empty value */
        wp->span_start = wp->used;
    }
    int rc = append(wp, "", 1);
    if (rc)
        return rc;
    *off = wp->span_start;
    wp->in_span = false;
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    web_parser *wp = of(p);
    wp->used = 0;
    wp->nheaders = 0;
    wp->body_bytes = 0;
    wp->name_len = 0;
    wp->cur = -1;
    wp->in_span = false;
    wp->has_method = wp->has_url = false;
    memset(wp->has_h, 0, sizeof(wp->has_h));
    wp->range_repeated = false;
    return 0;
}

static int on_method(llhttp_t *p, const char *at, size_t len)
{
    return span(of(p), at, len);
}

static int on_method_complete(llhttp_t *p)
{
    web_parser *wp = of(p);
    wp->has_method = true;
    return end_span(wp, &wp->method_off);
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    return span(of(p), at, len);
}

static int on_url_complete(llhttp_t *p)
{
    web_parser *wp = of(p);
    wp->has_url = true;
    return end_span(wp, &wp->url_off);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    web_parser *wp = of(p);
    if (wp->name_len + len < sizeof(wp->name))
        memcpy(wp->name + wp->name_len, at, len);
    wp->name_len += len; /* too long for `name`: kept no header */
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    web_parser *wp = of(p);
    if (++wp->nheaders > wp->lim.max_headers)
        return fail(wp, 431, "too many header fields");
    wp->cur = -1;
    if (wp->name_len < sizeof(wp->name)) {
        for (int i = 0; i < WEB_H_COUNT; i++) {
            if (strlen(kept_names[i]) == wp->name_len &&
                strncasecmp(kept_names[i], wp->name, wp->name_len) == 0) {
                wp->cur = i;
                break;
            }
        }
    }
    wp->name_len = 0;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    web_parser *wp = of(p);
    return wp->cur >= 0 ? span(wp, at, len) : 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    web_parser *wp = of(p);
    int k = wp->cur;
    wp->cur = -1;
    if (k < 0)
        return 0;
    /* llhttp leaves trailing whitespace in the value: drop it. */
    while (wp->in_span && wp->used > wp->span_start &&
           (wp->buf[wp->used - 1] == ' ' || wp->buf[wp->used - 1] == '\t'))
        wp->used--;
    size_t off;
    int rc = end_span(wp, &off);
    if (rc)
        return rc;
    if (k == WEB_H_RANGE && wp->has_h[k])
        wp->range_repeated = true; /* a list of ranges: answered with 200 */
    if (!wp->has_h[k]) {
        wp->has_h[k] = true;
        wp->h_off[k] = off;
    }
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    web_parser *wp = of(p);
    if (p->http_major != 1)
        return fail(wp, 505, "HTTP version not supported");
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > wp->lim.max_body)
        return fail(wp, 413, "request body too large");
    wp->headers_done = true;
    /* Pause so web_parser_feed() learns where the head ended (the header
     * size limit counts bytes up to here). */
    return HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    web_parser *wp = of(p);
    wp->body_bytes += len;
    if (wp->body_bytes > wp->lim.max_body)
        return fail(wp, 413, "request body too large");
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    web_parser *wp = of(p);
    web_request *r = &wp->req;
    r->method = p->method;
    r->major = p->http_major;
    r->minor = p->http_minor;
    r->keep_alive = llhttp_should_keep_alive(p);
    r->upgrade = p->upgrade;
    r->method_name = wp->has_method ? wp->buf + wp->method_off : "";
    r->method_len = strlen(r->method_name);
    r->url = wp->has_url ? wp->buf + wp->url_off : "";
    r->url_len = strlen(r->url);
    for (int i = 0; i < WEB_H_COUNT; i++) {
        r->h[i] = wp->has_h[i] ? wp->buf + wp->h_off[i] : NULL;
        r->h_len[i] = r->h[i] ? strlen(r->h[i]) : 0;
    }
    if (wp->range_repeated) {
        r->h[WEB_H_RANGE] = NULL;
        r->h_len[WEB_H_RANGE] = 0;
    }
    wp->complete = true;
    return HPE_PAUSED; /* one request at a time: pipelined ones wait */
}

static llhttp_settings_t settings;

void web_parser_init(web_parser *wp, const web_limits *lim)
{
    if (!settings.on_message_complete) {
        llhttp_settings_init(&settings);
        settings.on_message_begin = on_message_begin;
        settings.on_method = on_method;
        settings.on_method_complete = on_method_complete;
        settings.on_url = on_url;
        settings.on_url_complete = on_url_complete;
        settings.on_header_field = on_header_field;
        settings.on_header_field_complete = on_header_field_complete;
        settings.on_header_value = on_header_value;
        settings.on_header_value_complete = on_header_value_complete;
        settings.on_headers_complete = on_headers_complete;
        settings.on_body = on_body;
        settings.on_message_complete = on_message_complete;
    }
    memset(wp, 0, sizeof(*wp));
    llhttp_init(&wp->ll, HTTP_REQUEST, &settings);
    wp->lim = *lim;
    wp->cur = -1;
}

void web_parser_fini(web_parser *wp)
{
    free(wp->buf);
    wp->buf = NULL;
    wp->cap = wp->used = 0;
}

static int status_of(llhttp_errno_t e)
{
    switch (e) {
    case HPE_INVALID_VERSION:
        return 505;
    default:
        return 400;
    }
}

ssize_t web_parser_feed(web_parser *wp, const char *data, size_t len)
{
    size_t off = 0;
    /* Pauses (end of the head, end of a message) return to this loop; after
     * one, execute again even with no bytes left: llhttp finishes a message
     * without a body only when it runs again. */
    while (!wp->complete) {
        const char *start = data + off;
        bool in_head = !wp->headers_done;
        llhttp_errno_t e = llhttp_execute(&wp->ll, start, len - off);
        size_t n = len - off;
        if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
            n = (size_t)(llhttp_get_error_pos(&wp->ll) - start);
            if (e == HPE_PAUSED)
                llhttp_resume(&wp->ll);
            else if (!wp->complete)
                return -1; /* cannot happen: upgrade pauses after completion */
        } else if (e != HPE_OK) {
            const char *at = llhttp_get_error_pos(&wp->ll);
            if (in_head && at && at >= start &&
                wp->head_bytes + (size_t)(at - start) > wp->lim.max_head) {
                /* The head was already too long where the error showed:
                 * the same answer as when the bytes come in pieces. */
                wp->status = 431;
                wp->reason = "request header fields too large";
                return -1;
            }
            if (!wp->status) { /* else one of our callbacks decided */
                wp->status = status_of(e);
                wp->reason = llhttp_get_error_reason(&wp->ll);
            }
            return -1;
        }
        if (in_head) {
            wp->head_bytes += n;
            if (wp->head_bytes > wp->lim.max_head) {
                wp->status = 431;
                wp->reason = "request header fields too large";
                return -1;
            }
        }
        off += n;
        if (e != HPE_PAUSED)
            break; /* all consumed, or an upgrade */
    }
    return (ssize_t)off;
}

void web_parser_next(web_parser *wp)
{
    wp->complete = false;
    wp->headers_done = false;
    wp->head_bytes = 0;
    if (wp->req.upgrade)
        llhttp_init(&wp->ll, HTTP_REQUEST, &settings); /* not used again */
    memset(&wp->req, 0, sizeof(wp->req));
}
