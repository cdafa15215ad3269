/* SPDX-License-Identifier: MIT */
#include "access_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <coil/log.h>

#include "escape.h"
#include "http_date.h"

bool web_access_log_enabled(void)
{
    return coil_log_get_level() <= COIL_LOG_INFO;
}

static void quoted(web_buf *b, const char *s, size_t len)
{
    web_buf_append(b, "\"", 1);
    if (s && len)
        web_log_escape(b, s, len);
    else
        web_buf_append(b, "-", 1);
    web_buf_append(b, "\"", 1);
}

void web_access_log(const char *client, time_t when, const web_request *req, int status,
                    uint64_t bytes)
{
    if (!web_access_log_enabled())
        return;
    char stamp[32], num[48];
    web_log_date(when, stamp);
    web_buf b = {0};
    quoted(&b, client, strlen(client));
    web_buf_puts(&b, " - - [");
    web_buf_puts(&b, stamp);
    web_buf_puts(&b, "] \"");
    if (req) {
        web_log_escape(&b, req->method_name, req->method_len);
        web_buf_append(&b, " ", 1);
        web_log_escape(&b, req->url, req->url_len);
        int n = snprintf(num, sizeof(num), " HTTP/%u.%u", req->major, req->minor);
        web_buf_append(&b, num, (size_t)n);
    } else {
        web_buf_append(&b, "-", 1);
    }
    int n = bytes ? snprintf(num, sizeof(num), "\" %d %" PRIu64 " ", status, bytes)
                  : snprintf(num, sizeof(num), "\" %d - ", status);
    web_buf_append(&b, num, (size_t)n);
    quoted(&b, req ? req->h[WEB_H_REFERER] : NULL, req ? req->h_len[WEB_H_REFERER] : 0);
    web_buf_append(&b, " ", 1);
    quoted(&b, req ? req->h[WEB_H_USER_AGENT] : NULL, req ? req->h_len[WEB_H_USER_AGENT] : 0);
    web_buf_append(&b, "\0", 1);
    if (!b.error)
        coil_log(COIL_LOG_INFO, "coil.web", "%s", b.data);
    web_buf_free(&b);
}
