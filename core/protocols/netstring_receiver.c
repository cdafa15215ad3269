/* SPDX-License-Identifier: MIT */
/*
 * Netstrings (Twisted's NetstringReceiver, D. J. Bernstein's format):
 * "<len>:<bytes>,". The length matches (0|[1-9][0-9]*) and must not exceed
 * max_length; a violation is reported as soon as the offending byte
 * arrives, then the connection is lost and nothing more is parsed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <coil/log.h>

#include "receiver.h"

static void fail(coil_netstring_receiver *r, int err)
{
    coil__receiver *rx = &r->priv;
    rx->error = err;
    rx->broken = true; /* the feed drops the buffered bytes */
    if (r->ops->netstring_error)
        r->ops->netstring_error(r, err);
    else
        coil_log(COIL_LOG_INFO, COIL__BASIC_LOG, "%s netstring received: closing the connection",
                 err == -EMSGSIZE ? "too long a" : "malformed");
    coil__rx_lose(rx);
}

/* Parse the "<len>:" header at p[0, n): its size (digits and colon), 0 if
 * more bytes are needed, or a negative error. */
static long parse_header(const char *p, size_t n, size_t max, size_t *length)
{
    if (p[0] == '0') {
        if (n < 2)
            return 0;
        if (p[1] != ':')
            return -EBADMSG; /* leading zero */
        *length = 0;
        return 2;
    }
    if (p[0] < '1' || p[0] > '9')
        return -EBADMSG;
    size_t v = 0, i = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        unsigned dig = (unsigned)(p[i] - '0');
        if (dig > max || v > (max - dig) / 10)
            return -EMSGSIZE; /* v*10 + dig > max */
        v = v * 10 + dig;
    }
    if (i == n)
        return 0;
    if (p[i] != ':')
        return -EBADMSG;
    *length = v;
    return (long)i + 1;
}

static void drain(coil__receiver *rx)
{
    coil_netstring_receiver *r = COIL_CONTAINER_OF(rx, coil_netstring_receiver, priv);
    while (!coil__rx_stopped(rx)) {
        size_t n, length = 0;
        const char *p = coil__rx_peek(rx, &n);
        if (n == 0)
            return;
        long hdr = parse_header(p, n, r->max_length, &length);
        if (hdr < 0) {
            fail(r, (int)hdr);
            return;
        }
        if (hdr == 0 || n - (size_t)hdr <= length)
            return; /* header, string or comma incomplete */
        if (p[(size_t)hdr + length] != ',') {
            fail(r, -EBADMSG);
            return;
        }
        coil__rx_consume(rx, (size_t)hdr + length + 1);
        if (r->ops->string_received)
            r->ops->string_received(r, p + hdr, length);
        coil__rx_after_callback(rx);
    }
}

void coil_netstring_receiver_data_received(coil_netstring_receiver *r, const void *data, size_t len)
{
    coil__rx_feed(&r->priv, data, len);
}

COIL__RECEIVER_GLUE(coil_netstring_receiver, coil_netstring_receiver_data_received)

void coil_netstring_receiver_init(coil_netstring_receiver *r,
                                  const coil_netstring_receiver_ops *ops)
{
    static const coil_netstring_receiver_ops no_ops;
    memset(r, 0, sizeof(*r));
    r->ops = ops ? ops : &no_ops;
    r->base.ops = coil_netstring_receiver_proto_ops_for(r->ops);
    r->max_length = COIL_STRING_MAX_LENGTH_DEFAULT;
    coil__rx_init(&r->priv, &r->base, drain);
}

int coil_netstring_receiver_send_string(coil_netstring_receiver *r, const void *data, size_t len)
{
    if (r->priv.released || !r->base.transport)
        return -ENOTCONN;
    char hdr[24];
    int h = snprintf(hdr, sizeof(hdr), "%zu:", len);
    struct iovec iov[3] = {
        {.iov_base = hdr, .iov_len = (size_t)h},
        {.iov_base = (void *)data, .iov_len = len},
        {.iov_base = ",", .iov_len = 1},
    };
    return coil_transport_writev(r->base.transport, iov, 3);
}

void coil_netstring_receiver_pause_producing(coil_netstring_receiver *r)
{
    coil__rx_pause(&r->priv);
}

void coil_netstring_receiver_resume_producing(coil_netstring_receiver *r)
{
    coil__rx_resume(&r->priv);
}

size_t coil_netstring_receiver_buffered(const coil_netstring_receiver *r)
{
    return coil__rx_buffered(&r->priv);
}

int coil_netstring_receiver_error(const coil_netstring_receiver *r)
{
    return r->priv.error;
}

void coil_netstring_receiver_release(coil_netstring_receiver *r)
{
    coil__rx_release(&r->priv);
}
