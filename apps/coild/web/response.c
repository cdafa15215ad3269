/* SPDX-License-Identifier: MIT */
#include "response.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http_date.h"

const char *web_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static void header(web_buf *b, const char *name, const char *value)
{
    web_buf_puts(b, name);
    web_buf_append(b, ": ", 2);
    web_buf_puts(b, value);
    web_buf_append(b, "\r\n", 2);
}

void web_response_head(web_buf *b, const web_head *h)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", h->status,
                     web_status_text(h->status));
    web_buf_append(b, line, (size_t)n);
    header(b, "Server", h->server);
    header(b, "Date", h->date);
    if (h->content_type)
        header(b, "Content-Type", h->content_type);
    if (h->content_length >= 0) {
        n = snprintf(line, sizeof(line), "Content-Length: %" PRId64 "\r\n", h->content_length);
        web_buf_append(b, line, (size_t)n);
    }
    if (h->last_modified >= 0) {
        char d[WEB_HTTP_DATE_LEN + 1];
        web_http_date(h->last_modified, d);
        header(b, "Last-Modified", d);
    }
    if (h->content_range)
        header(b, "Content-Range", h->content_range);
    if (h->accept_ranges)
        web_buf_puts(b, "Accept-Ranges: bytes\r\n");
    if (h->location)
        header(b, "Location", h->location);
    if (h->allow)
        header(b, "Allow", h->allow);
    if (h->connection == WEB_CONN_KEEP_ALIVE)
        web_buf_puts(b, "Connection: keep-alive\r\n");
    else if (h->connection == WEB_CONN_CLOSE)
        web_buf_puts(b, "Connection: close\r\n");
    web_buf_append(b, "\r\n", 2);
}

void web_error_body(web_buf *b, int status)
{
    char page[256];
    const char *text = web_status_text(status);
    int n = snprintf(page, sizeof(page),
                     "<html>\n<head><title>%d %s</title></head>\n"
                     "<body>\n<h1>%d %s</h1>\n</body>\n</html>\n",
                     status, text, status, text);
    web_buf_append(b, page, (size_t)n);
}
