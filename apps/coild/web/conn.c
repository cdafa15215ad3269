/* SPDX-License-Identifier: MIT */
/*
 * One HTTP connection: requests are parsed one at a time and answered in
 * order. Answering is synchronous (the file cache opens and stats), except
 * for a large body, which is produced piece by piece as the transport
 * drains. While a body is being produced, or while more than the
 * transport's high-water mark is queued (a client pipelining without
 * reading), parsing stops: the unparsed bytes wait in `stash` and reading
 * is paused, so memory stays bounded whatever the client does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access_log.h"
#include "conn.h"
#include "escape.h"
#include "fs.h"
#include "listing.h"
#include "mime.h"
#include "path.h"
#include "range.h"
#include "response.h"

#define BODY_PIECE 32768 /* bytes read per piece of a large body */
#define SMALL_BODY 4096  /* cached bodies up to this size are copied */
#define PATH_MAX_LEN 4096

typedef struct web_conn {
    coil_protocol proto; /* first: coil hands us this pointer */
    coil_producer producer;
    web_server *srv;
    web_parser parser;
    char *stash; /* bytes received but not parsed yet */
    size_t stash_len;
    bool blocked;        /* the transport is above its high-water mark */
    bool reading_paused; /* we paused the transport's reading */
    bool done;           /* the last response is queued; closing */
    web_file *body;      /* a body being produced */
    uint64_t body_off, body_left;
    bool body_keep_alive;
    double last_active;
    coil_delayed_call *idle;
    coil_delayed_call *linger; /* after finish(): the end of the lingering close */
    char client[COIL_ADDRESS_STRLEN];
} web_conn;

static web_conn *conn_of(coil_protocol *p)
{
    return (web_conn *)p;
}

static web_conn *conn_of_producer(coil_producer *p)
{
    return (web_conn *)((char *)p - offsetof(web_conn, producer));
}

static double now_s(web_conn *c)
{
    return coil_clock_seconds(coil_reactor_clock(c->srv->r));
}

/* ---- ending ---------------------------------------------------------------- */

/* How long a finished connection keeps reading (and dropping) what the
 * client still sends, as nginx's lingering close. */
#define LINGER_SECONDS 5.0

static void linger_over(void *arg)
{
    web_conn *c = arg;
    c->linger = NULL;
    coil_transport_lose_connection(c->proto.transport);
}

/* No more requests on this connection: send what is queued, then close.
 * The write side is shut down first (FIN once the queue is sent) and what
 * the client still sends is read and dropped until it closes, or for
 * LINGER_SECONDS: a client still uploading a request body (a 413) then
 * reads the response instead of a reset that our close with unread bytes
 * would send. */
static void finish(web_conn *c)
{
    if (c->done)
        return;
    c->done = true;
    coil_transport *t = c->proto.transport;
    coil_transport_unregister_producer(t); /* else coil would wait for it */
    free(c->stash); /* requests behind this one are never answered */
    c->stash = NULL;
    c->stash_len = 0;
    if (c->reading_paused) {
        c->reading_paused = false;
        coil_transport_resume_reading(t); /* read to drop */
    }
    coil_transport_lose_write_connection(t);
    c->linger = coil_reactor_call_later(c->srv->r, LINGER_SECONDS, linger_over, c);
}

static void abort_conn(web_conn *c)
{
    c->done = true;
    coil_transport_abort_connection(c->proto.transport);
}

/* ---- writing responses ----------------------------------------------------- */

static web_conn_header conn_header(const web_request *req, bool keep_alive)
{
    if (!keep_alive)
        return WEB_CONN_CLOSE;
    return req && req->major == 1 && req->minor == 0 ? WEB_CONN_KEEP_ALIVE : WEB_CONN_NONE;
}

static void base_head(web_conn *c, web_head *h, int status, const web_request *req,
                      bool keep_alive)
{
    time_t now = time(NULL);
    *h = (web_head){.status = status,
                    .server = c->srv->server_name,
                    .date = web_server_date(c->srv, now),
                    .content_length = -1,
                    .last_modified = -1,
                    .connection = conn_header(req, keep_alive)};
}

static void log_request(web_conn *c, const web_request *req, int status, uint64_t bytes)
{
    if (web_access_log_enabled())
        web_access_log(c->client, time(NULL), req, status, bytes);
}

/* Queue a complete response whose body is in memory. */
static void send_simple(web_conn *c, const web_request *req, web_head *h, const char *body,
                        size_t len, bool keep_alive)
{
    bool head_only = req && req->method == HTTP_HEAD;
    web_buf b = {0};
    h->content_length = (int64_t)len;
    web_response_head(&b, h);
    if (!head_only)
        web_buf_append(&b, body, len);
    if (b.error) {
        abort_conn(c);
    } else {
        coil_transport_write(c->proto.transport, b.data, b.len);
        log_request(c, req, h->status, head_only ? 0 : len);
    }
    web_buf_free(&b);
    if (!keep_alive)
        finish(c);
}

static void send_error(web_conn *c, const web_request *req, int status, bool keep_alive,
                       const char *allow)
{
    web_head h;
    base_head(c, &h, status, req, keep_alive);
    h.content_type = "text/html";
    h.allow = allow;
    web_buf body = {0};
    web_error_body(&body, status);
    send_simple(c, req, &h, body.data ? body.data : "", body.len, keep_alive);
    web_buf_free(&body);
}

static void release_file(void *arg, const void *data, size_t len)
{
    web_file_unref(arg);
}

static void release_piece(void *arg, const void *data, size_t len)
{
    free((void *)data);
}

/* Produce the rest of a large body, until the transport is full. */
static void produce_body(web_conn *c)
{
    coil_transport *t = c->proto.transport;
    while (c->body_left > 0 && !c->blocked && !c->done) {
        size_t n = c->body_left < BODY_PIECE ? (size_t)c->body_left : BODY_PIECE;
        char *piece = malloc(n);
        ssize_t got = piece ? pread(c->body->fd, piece, n, (off_t)c->body_off) : -1;
        if (got <= 0) {
            /* Read error or the file shrank: the promised length cannot be
             * kept, so the client must see the connection fail. */
            coil_log(COIL_LOG_WARN, "coil.web", "reading a body failed: %s",
                     got < 0 ? strerror(errno) : "file shrank");
            free(piece);
            abort_conn(c);
            break;
        }
        if (coil_transport_write_borrowed(t, piece, (size_t)got, release_piece, NULL) < 0) {
            free(piece);
            abort_conn(c);
            break;
        }
        c->body_off += (uint64_t)got;
        c->body_left -= (uint64_t)got;
    }
    if (c->body_left == 0 || c->done) {
        web_file_unref(c->body);
        c->body = NULL;
        if (!c->body_keep_alive)
            finish(c);
    }
}

/* Queue a file body [first, first + len). */
static void send_file_body(web_conn *c, web_file *f, uint64_t first, uint64_t len,
                           bool keep_alive)
{
    coil_transport *t = c->proto.transport;
    if (len == 0) {
        if (!keep_alive)
            finish(c);
        return;
    }
    if (f->bytes) {
        /* Cached in memory: lend the bytes, the file entry stays alive
         * until they are sent. */
        web_file_ref(f);
        if (coil_transport_write_borrowed(t, f->bytes + first, (size_t)len, release_file, f) <
            0) {
            web_file_unref(f);
            abort_conn(c);
            return;
        }
        if (!keep_alive)
            finish(c);
        return;
    }
    if (c->srv->o.zero_copy) {
        /* Queued as a file segment: the kernel sends it from the page cache
         * (sendfile or splice); the entry keeps the fd open until then. */
        web_file_ref(f);
        if (coil_transport_write_file(t, f->fd, (int64_t)first, (size_t)len, release_file, f) <
            0) {
            web_file_unref(f);
            abort_conn(c);
            return;
        }
        if (!keep_alive)
            finish(c);
        return;
    }
    web_file_ref(f);
    c->body = f;
    c->body_off = first;
    c->body_left = len;
    c->body_keep_alive = keep_alive;
    produce_body(c);
}

static void send_file(web_conn *c, const web_request *req, web_file *f, const char *name,
                      size_t name_len, bool keep_alive)
{
    uint64_t size = (uint64_t)f->st.st_size;
    time_t mtime = f->st.st_mtim.tv_sec;
    web_head h;
    time_t ims;
    if (req->h[WEB_H_IF_MODIFIED_SINCE] &&
        web_http_date_parse(req->h[WEB_H_IF_MODIFIED_SINCE], req->h_len[WEB_H_IF_MODIFIED_SINCE],
                            &ims) == 0 &&
        mtime <= ims) {
        base_head(c, &h, 304, req, keep_alive);
        h.last_modified = mtime;
        web_buf b = {0};
        web_response_head(&b, &h);
        if (!b.error)
            coil_transport_write(c->proto.transport, b.data, b.len);
        web_buf_free(&b);
        log_request(c, req, 304, 0);
        if (!keep_alive)
            finish(c);
        return;
    }
    uint64_t first = 0, last = size ? size - 1 : 0;
    web_range_result rr = WEB_RANGE_NONE;
    if (req->h[WEB_H_RANGE]) {
        /* If-Range with a date: the range holds only if the file is the one
         * the client has (same Last-Modified); anything else gets it all. */
        time_t ir;
        bool range_ok = !req->h[WEB_H_IF_RANGE] ||
                        (web_http_date_parse(req->h[WEB_H_IF_RANGE], req->h_len[WEB_H_IF_RANGE],
                                             &ir) == 0 &&
                         ir == mtime);
        if (range_ok)
            rr = web_range_parse(req->h[WEB_H_RANGE], req->h_len[WEB_H_RANGE], size, &first,
                                 &last);
    }
    char crange[96];
    if (rr == WEB_RANGE_UNSATISFIABLE) {
        base_head(c, &h, 416, req, keep_alive);
        snprintf(crange, sizeof(crange), "bytes */%" PRIu64, size);
        h.content_range = crange;
        h.content_type = "text/html";
        web_buf body = {0};
        web_error_body(&body, 416);
        send_simple(c, req, &h, body.data ? body.data : "", body.len, keep_alive);
        web_buf_free(&body);
        return;
    }
    uint64_t len = size;
    base_head(c, &h, rr == WEB_RANGE_OK ? 206 : 200, req, keep_alive);
    if (rr == WEB_RANGE_OK) {
        len = last - first + 1;
        snprintf(crange, sizeof(crange), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last,
                 size);
        h.content_range = crange;
    }
    h.content_type = web_mime_type(name, name_len);
    h.content_length = (int64_t)len;
    h.last_modified = mtime;
    h.accept_ranges = true;
    web_buf b = {0};
    web_response_head(&b, &h);
    if (b.error) {
        web_buf_free(&b);
        abort_conn(c);
        return;
    }
    bool head_only = req->method == HTTP_HEAD;
    log_request(c, req, h.status, head_only ? 0 : len);
    if (!head_only && f->bytes && len <= SMALL_BODY) {
        /* A small cached body is copied behind the head in one write, so
         * the response leaves in one send (a second write would follow in a
         * second send once the first completed). */
        struct iovec iov[2] = {{b.data, b.len}, {(void *)(f->bytes + first), (size_t)len}};
        if (coil_transport_writev(c->proto.transport, iov, 2) < 0)
            abort_conn(c);
        else if (!keep_alive)
            finish(c);
        web_buf_free(&b);
        return;
    }
    coil_transport_write(c->proto.transport, b.data, b.len);
    web_buf_free(&b);
    if (head_only) {
        if (!keep_alive)
            finish(c);
        return;
    }
    send_file_body(c, f, first, len, keep_alive);
}

/* "/dir" names a directory: send the client to "/dir/". The location is
 * rebuilt from the sanitized path (never the raw target: "//host/dir" must
 * not become a protocol-relative redirect to another site). */
static void send_redirect(web_conn *c, const web_request *req, const char *rel, size_t rel_len,
                          bool keep_alive)
{
    size_t path_len = web_path_raw_len(req->url, req->url_len);
    web_buf loc = {0};
    web_buf_append(&loc, "/", 1);
    web_url_encode(&loc, rel, rel_len);
    web_buf_append(&loc, "/", 1);
    if (path_len < req->url_len && req->url[path_len] == '?')
        web_buf_append(&loc, req->url + path_len, req->url_len - path_len);
    web_buf_append(&loc, "", 1);
    if (loc.error) {
        web_buf_free(&loc);
        abort_conn(c);
        return;
    }
    web_head h;
    base_head(c, &h, 301, req, keep_alive);
    h.location = loc.data;
    h.content_type = "text/html";
    web_buf body = {0};
    web_error_body(&body, 301);
    send_simple(c, req, &h, body.data ? body.data : "", body.len, keep_alive);
    web_buf_free(&body);
    web_buf_free(&loc);
}

static void send_listing(web_conn *c, const web_request *req, const char *rel, bool keep_alive)
{
    web_server *s = c->srv;
    int fd = web_open_beneath(s->rootfd, s->root_real, rel);
    web_buf body = {0};
    int rc = fd < 0 ? fd : web_listing(&body, fd, rel);
    if (fd >= 0)
        close(fd);
    if (rc < 0) {
        web_buf_free(&body);
        send_error(c, req, rc == -EACCES ? 403 : 404, keep_alive, NULL);
        return;
    }
    web_head h;
    base_head(c, &h, 200, req, keep_alive);
    h.content_type = "text/html; charset=utf-8";
    send_simple(c, req, &h, body.data, body.len, keep_alive);
    web_buf_free(&body);
}

static int error_status(int err)
{
    switch (err) {
    case -EACCES:
    case -EPERM:
        return 403;
    case -ENOENT:
    case -ENOTDIR:
    case -ELOOP:
    case -EXDEV: /* leaves the root (a symlink out): as if absent */
    case -ENAMETOOLONG:
        return 404;
    default:
        return 500;
    }
}

static void handle(web_conn *c, const web_request *req)
{
    c->srv->requests++;
    bool keep_alive = req->keep_alive && !req->upgrade;
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        send_error(c, req, 405, keep_alive, "GET, HEAD");
        return;
    }
    char rel[PATH_MAX_LEN];
    bool dir_slash;
    int n = web_path_sanitize(req->url, req->url_len, rel, sizeof(rel), &dir_slash);
    if (n < 0) {
        send_error(c, req, n == -ENAMETOOLONG ? 414 : 400, keep_alive, NULL);
        return;
    }
    web_server *s = c->srv;
    double now = now_s(c);
    web_file *f;
    int rc = web_cache_get(s->cache, rel, now, &f);
    if (rc == 0) {
        send_file(c, req, f, rel, (size_t)n, keep_alive);
        web_file_unref(f);
        return;
    }
    if (rc != -EISDIR) {
        send_error(c, req, error_status(rc), keep_alive, NULL);
        return;
    }
    if (!dir_slash && n > 0) {
        send_redirect(c, req, rel, (size_t)n, keep_alive);
        return;
    }
    char index[PATH_MAX_LEN + 16];
    int k = snprintf(index, sizeof(index), "%s%sindex.html", rel, n ? "/" : "");
    rc = web_cache_get(s->cache, index, now, &f);
    if (rc == 0) {
        send_file(c, req, f, index, (size_t)k, keep_alive);
        web_file_unref(f);
        return;
    }
    send_listing(c, req, rel, keep_alive);
}

/* ---- reading requests ------------------------------------------------------ */

static void pause_reading(web_conn *c)
{
    if (!c->reading_paused) {
        c->reading_paused = true;
        coil_transport_pause_reading(c->proto.transport);
    }
}

static void stash(web_conn *c, const char *data, size_t len)
{
    char *s = realloc(c->stash, c->stash_len + len);
    if (!s) {
        abort_conn(c);
        return;
    }
    memcpy(s + c->stash_len, data, len);
    c->stash = s;
    c->stash_len += len;
    pause_reading(c);
}

/* Parse and answer as many requests as the transport takes. */
static void process(web_conn *c, const char *data, size_t len)
{
    while (len > 0 && !c->done) {
        if (c->body || c->blocked) {
            stash(c, data, len);
            return;
        }
        ssize_t n = web_parser_feed(&c->parser, data, len);
        if (n < 0) {
            web_parser *p = &c->parser;
            coil_log(COIL_LOG_DEBUG, "coil.web", "bad request from %s: %s", c->client,
                     p->reason ? p->reason : "?");
            send_error(c, NULL, p->status, false, NULL);
            return;
        }
        data += n;
        len -= (size_t)n;
        if (c->parser.complete) {
            handle(c, &c->parser.req);
            web_parser_next(&c->parser);
        }
    }
}

/* The transport drained (or a body finished): go on where we stopped. */
static void pump(web_conn *c)
{
    if (c->body) {
        produce_body(c);
        if (c->body || c->blocked || c->done)
            return;
    }
    if (c->stash) {
        char *data = c->stash;
        size_t len = c->stash_len;
        c->stash = NULL;
        c->stash_len = 0;
        process(c, data, len);
        free(data);
        if (c->body || c->blocked || c->done || c->stash)
            return;
    }
    if (c->reading_paused) {
        c->reading_paused = false;
        coil_transport_resume_reading(c->proto.transport);
    }
}

static void producer_pause(coil_producer *p)
{
    conn_of_producer(p)->blocked = true;
}

static void producer_resume(coil_producer *p)
{
    web_conn *c = conn_of_producer(p);
    c->blocked = false;
    if (!c->done)
        pump(c);
}

static void producer_stop(coil_producer *p)
{
    /* The connection is gone; connection_lost follows and frees. */
}

static const coil_producer_ops producer_ops = {producer_pause, producer_resume, producer_stop};

/* ---- idle timeout ---------------------------------------------------------- */

static void idle_check(void *arg)
{
    web_conn *c = arg;
    c->idle = NULL;
    double timeout = c->srv->o.idle_timeout;
    double idle_for = now_s(c) - c->last_active;
    bool sending = c->body || coil_transport_write_buffer_size(c->proto.transport) > 0;
    if (idle_for >= timeout && !sending) {
        coil_log(COIL_LOG_DEBUG, "coil.web", "closing idle connection from %s", c->client);
        finish(c);
        return;
    }
    double wait = sending ? timeout : timeout - idle_for;
    c->idle = coil_reactor_call_later(c->srv->r, wait, idle_check, c);
}

/* ---- protocol ---------------------------------------------------------------- */

static void conn_made(coil_protocol *p)
{
    web_conn *c = conn_of(p);
    coil_address a;
    if (coil_transport_get_peer(p->transport, &a) < 0 ||
        coil_address_host(&a, c->client, sizeof(c->client)) < 0)
        snprintf(c->client, sizeof(c->client), "-");
    c->producer.ops = &producer_ops;
    coil_transport_register_producer(p->transport, &c->producer, true);
    c->last_active = now_s(c);
    if (c->srv->o.idle_timeout > 0)
        c->idle = coil_reactor_call_later(c->srv->r, c->srv->o.idle_timeout, idle_check, c);
}

static void conn_data(coil_protocol *p, const void *data, size_t len)
{
    web_conn *c = conn_of(p);
    c->last_active = now_s(c);
    if (c->done)
        return;
    if (c->stash) {
        stash(c, data, len); /* keep the order behind what waits */
        return;
    }
    process(c, data, len);
}

static void conn_lost(coil_protocol *p, int reason)
{
    web_conn *c = conn_of(p);
    if (c->idle)
        coil_delayed_call_cancel(c->idle);
    if (c->linger)
        coil_delayed_call_cancel(c->linger);
    if (c->body)
        web_file_unref(c->body);
    free(c->stash);
    web_parser_fini(&c->parser);
    free(c);
}

static const coil_protocol_ops conn_ops = {
    .connection_made = conn_made,
    .data_received = conn_data,
    .connection_lost = conn_lost,
};

coil_protocol *web_conn_new(web_server *s)
{
    web_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->proto.ops = &conn_ops;
    c->srv = s;
    web_parser_init(&c->parser, &s->o.limits);
    return &c->proto;
}
