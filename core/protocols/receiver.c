/* SPDX-License-Identifier: MIT */
/* The buffering engine of the framing receivers (see receiver.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <coil/log.h>

#include "receiver.h"

static void producer_pause(coil_producer *p)
{
    coil__rx_pause(COIL_CONTAINER_OF(p, coil__receiver, producer));
}

static void producer_resume(coil_producer *p)
{
    coil__rx_resume(COIL_CONTAINER_OF(p, coil__receiver, producer));
}

static void producer_stop(coil_producer *p)
{
    coil__rx_stop(COIL_CONTAINER_OF(p, coil__receiver, producer));
}

static const coil_producer_ops rx_producer_ops = {
    .pause_producing = producer_pause,
    .resume_producing = producer_resume,
    .stop_producing = producer_stop,
};

void coil__rx_init(coil__receiver *rx, coil_protocol *proto, void (*drain)(coil__receiver *rx))
{
    memset(rx, 0, sizeof(*rx));
    rx->proto = proto;
    rx->drain = drain;
    rx->producer.ops = &rx_producer_ops;
    memcpy(rx->delim, "\r\n", 2);
    rx->delim_len = 2;
}

static int grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    char *b = realloc(*buf, n);
    if (!b)
        return -ENOMEM;
    *buf = b;
    *cap = n;
    return 0;
}

/* Append to the owned region. Only called when no user callback holds a
 * pointer into buf (it may move). */
static int region_append(coil__receiver *rx, const void *data, size_t len)
{
    if (len == 0)
        return 0; /* nothing to add (and buf may still be NULL) */
    if (rx->len == 0)
        rx->off = 0;
    else if (rx->off && rx->off + rx->len + len > rx->cap) {
        memmove(rx->buf, rx->buf + rx->off, rx->len);
        rx->off = 0;
    }
    if (len > SIZE_MAX - rx->off - rx->len)
        return -ENOMEM;
    if (grow(&rx->buf, &rx->cap, rx->off + rx->len + len) < 0)
        return -ENOMEM;
    memcpy(rx->buf + rx->off + rx->len, data, len);
    rx->len += len;
    return 0;
}

/* Move a chunk parsed in place into the owned buffer (its caller is about
 * to take it back). */
static int adopt_ext(coil__receiver *rx)
{
    const char *e = rx->ext;
    size_t n = rx->ext_len;
    rx->ext = NULL;
    rx->ext_len = 0;
    return n ? region_append(rx, e, n) : 0;
}

static void free_all(coil__receiver *rx)
{
    free(rx->buf);
    free(rx->pend);
    rx->buf = rx->pend = NULL;
    rx->off = rx->len = rx->cap = rx->pend_len = rx->pend_cap = 0;
    rx->ext = NULL;
    rx->ext_len = 0;
    rx->scanned = 0;
}

/* Forget the unparsed bytes. Inside a feed the memory stays until it ends:
 * a callback may still hold a pointer into it. */
static void drop(coil__receiver *rx)
{
    if (!rx->busy) {
        free_all(rx);
        return;
    }
    rx->ext_len = 0;
    rx->len = 0;
    rx->pend_len = 0;
    rx->scanned = 0;
}

/* End of a feed: keep the rest of the caller's chunk, compact, and hold no
 * memory when nothing is left (an idle connection owns no buffer). */
static void finish(coil__receiver *rx)
{
    if (rx->released || rx->broken) {
        free_all(rx);
        return;
    }
    if (adopt_ext(rx) < 0 || (rx->pend_len && region_append(rx, rx->pend, rx->pend_len) < 0)) {
        rx->busy = false;
        coil__rx_break(rx, -ENOMEM);
        return;
    }
    rx->pend_len = 0;
    free(rx->pend);
    rx->pend = NULL;
    rx->pend_cap = 0;
    if (rx->len == 0) {
        free(rx->buf);
        rx->buf = NULL;
        rx->cap = rx->off = 0;
    } else if (rx->off) {
        memmove(rx->buf, rx->buf + rx->off, rx->len);
        rx->off = 0;
    }
}

void coil__rx_feed(coil__receiver *rx, const void *data, size_t len)
{
    if (rx->released || rx->broken)
        return;
    if (rx->busy) {
        /* A callback is running (re-entrant feed, set_line_mode(extra),
         * resume): queue; the parser picks it up when the callback returns. */
        if (len == 0)
            return;
        if (grow(&rx->pend, &rx->pend_cap, rx->pend_len + len) < 0) {
            coil__rx_break(rx, -ENOMEM);
            return;
        }
        memcpy(rx->pend + rx->pend_len, data, len);
        rx->pend_len += len;
        return;
    }
    if (len) {
        if (rx->len == 0) {
            rx->ext = data; /* parse in place: no copy */
            rx->ext_len = len;
        } else if (region_append(rx, data, len) < 0) {
            coil__rx_break(rx, -ENOMEM);
            return;
        }
    }
    rx->busy = true;
    rx->drain(rx);
    finish(rx);
    rx->busy = false;
}

void coil__rx_consume(coil__receiver *rx, size_t n)
{
    if (rx->ext) {
        rx->ext += n;
        rx->ext_len -= n;
    } else {
        rx->off += n;
        rx->len -= n;
    }
    rx->scanned = 0;
}

void coil__rx_after_callback(coil__receiver *rx)
{
    if (!rx->pend_len || rx->released || rx->broken)
        return;
    /* The callback returned: nobody points into the region any more, so it
     * may move. The queued bytes go after what is still unparsed. */
    if (adopt_ext(rx) < 0 || region_append(rx, rx->pend, rx->pend_len) < 0) {
        coil__rx_break(rx, -ENOMEM);
        return;
    }
    rx->pend_len = 0;
}

size_t coil__rx_buffered(const coil__receiver *rx)
{
    size_t n;
    coil__rx_peek(rx, &n);
    return n + rx->pend_len;
}

int coil__rx_clear(coil__receiver *rx, char **data, size_t *len)
{
    size_t n;
    const char *p = coil__rx_peek(rx, &n);
    size_t total = n + rx->pend_len;
    if (data) {
        *data = NULL;
        if (total) {
            char *c = malloc(total + 1);
            if (!c)
                return -ENOMEM;
            memcpy(c, p, n);
            if (rx->pend_len)
                memcpy(c + n, rx->pend, rx->pend_len);
            c[total] = '\0';
            *data = c;
        }
    }
    if (len)
        *len = total;
    drop(rx);
    return 0;
}

void coil__rx_release(coil__receiver *rx)
{
    rx->released = true;
    drop(rx);
}

void coil__rx_lose(coil__receiver *rx)
{
    if (!rx->released && rx->proto->transport)
        coil_transport_lose_connection(rx->proto->transport);
}

void coil__rx_break(coil__receiver *rx, int err)
{
    if (!rx->error)
        rx->error = err;
    rx->broken = true;
    drop(rx);
    if (err == -ENOMEM)
        coil_log(COIL_LOG_ERROR, COIL__BASIC_LOG, "out of memory buffering a frame: closing");
    coil__rx_lose(rx);
}

void coil__rx_pause(coil__receiver *rx)
{
    rx->paused = true;
    if (!rx->released && rx->proto->transport)
        coil_transport_pause_reading(rx->proto->transport);
}

void coil__rx_resume(coil__receiver *rx)
{
    rx->paused = false;
    if (rx->released)
        return;
    if (rx->proto->transport)
        coil_transport_resume_reading(rx->proto->transport);
    coil__rx_feed(rx, NULL, 0); /* deliver what was held (Twisted: dataReceived(b"")) */
}

void coil__rx_stop(coil__receiver *rx)
{
    rx->paused = true;
    coil__rx_lose(rx);
}

int coil__rx_set_delimiter(coil__receiver *rx, const void *delim, size_t len)
{
    if (!delim || len == 0 || len > COIL_LINE_DELIMITER_MAX)
        return -EINVAL;
    memcpy(rx->delim, delim, len);
    rx->delim_len = (unsigned char)len;
    rx->scanned = 0;
    return 0;
}

/* First occurrence of `d` (dl >= 1 bytes) in p[0, n). memchr on the
 * delimiter's LAST byte is the fast path (the first match by end is the
 * first match by start); the rest of the delimiter is compared backwards. */
static const char *search(const char *p, size_t n, const char *d, size_t dl)
{
    if (n < dl)
        return NULL;
    const char last = d[dl - 1];
    const char *s = p + dl - 1;
    const char *end = p + n;
    while (s < end) {
        const char *hit = memchr(s, last, (size_t)(end - s));
        if (!hit)
            return NULL;
        const char *start = hit - (dl - 1);
        if (dl == 1 || memcmp(start, d, dl - 1) == 0)
            return start;
        s = hit + 1;
    }
    return NULL;
}

const char *coil__rx_find_delim(coil__receiver *rx, const char *p, size_t n)
{
    size_t dl = rx->delim_len;
    /* Bytes before `scanned` were searched already; a delimiter may still
     * start in its last dl-1 bytes and end in the new ones. */
    size_t from = rx->scanned > dl - 1 ? rx->scanned - (dl - 1) : 0;
    if (from > n)
        from = 0;
    const char *hit = search(p + from, n - from, rx->delim, dl);
    if (!hit)
        rx->scanned = n;
    return hit;
}

const char *coil__rx_search(const char *p, size_t n, const char *d, size_t dl)
{
    return search(p, n, d, dl);
}

int coil__rx_send_line(coil__receiver *rx, const void *line, size_t len)
{
    if (rx->released || !rx->proto->transport)
        return -ENOTCONN;
    struct iovec iov[2] = {
        {.iov_base = (void *)line, .iov_len = len},
        {.iov_base = rx->delim, .iov_len = rx->delim_len},
    };
    return coil_transport_writev(rx->proto->transport, iov, 2);
}

int coil__rx_send_linev(coil__receiver *rx, const char *fmt, va_list ap)
{
    if (rx->released || !rx->proto->transport)
        return -ENOTCONN;
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -EINVAL;
    size_t dl = rx->delim_len;
    char *out = small;
    if ((size_t)n + dl > sizeof(small)) {
        out = malloc((size_t)n + dl + 1);
        if (!out)
            return -ENOMEM;
        vsnprintf(out, (size_t)n + 1, fmt, ap);
    }
    memcpy(out + n, rx->delim, dl);
    int rc = coil_transport_write(rx->proto->transport, out, (size_t)n + dl);
    if (out != small)
        free(out);
    return rc;
}
