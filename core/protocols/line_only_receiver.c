/* SPDX-License-Identifier: MIT */
/*
 * LineOnlyReceiver (Twisted's protocols.basic.LineOnlyReceiver): lines
 * only. Twisted splits the whole buffer at once; this walks it line by line
 * with the same outcome: a line longer than max_length is reported alone and
 * the complete lines after it in the buffer are dropped; an unterminated
 * rest of max_length + len(delimiter) bytes is reported (and, unlike
 * Twisted, dropped so that memory stays bounded if the callback keeps the
 * connection).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <coil/log.h>

#include "receiver.h"

static void line_length_exceeded(coil_line_only_receiver *lr, const char *data, size_t len)
{
    lr->priv.error = -EMSGSIZE;
    if (lr->ops->line_length_exceeded) {
        lr->ops->line_length_exceeded(lr, data, len);
        return;
    }
    coil_log(COIL_LOG_INFO, COIL__BASIC_LOG,
             "line longer than %zu bytes received: closing the connection", lr->max_length);
    coil__rx_lose(&lr->priv);
}

static void drain(coil__receiver *rx)
{
    coil_line_only_receiver *lr = COIL_CONTAINER_OF(rx, coil_line_only_receiver, priv);
    while (!coil__rx_stopped(rx)) {
        size_t n;
        const char *p = coil__rx_peek(rx, &n);
        if (n == 0)
            return;
        size_t dl = rx->delim_len;
        const char *d = coil__rx_find_delim(rx, p, n);
        if (!d) {
            /* Twisted reports an unterminated buffer at max_length + 1
             * bytes, which rejects a line of exactly max_length whose
             * delimiter is split across reads; wait like LineReceiver. */
            if (n >= dl && n - dl >= lr->max_length) {
                coil__rx_consume(rx, n);
                line_length_exceeded(lr, p, n);
                coil__rx_after_callback(rx);
            }
            return;
        }
        size_t linelen = (size_t)(d - p);
        if (linelen > lr->max_length) {
            /* Drop every complete line of the buffer; keep the rest. */
            const char *rest = d + dl;
            const char *next;
            while ((next = coil__rx_search(rest, (size_t)(p + n - rest), rx->delim, dl)))
                rest = next + dl;
            coil__rx_consume(rx, (size_t)(rest - p));
            line_length_exceeded(lr, p, linelen);
            coil__rx_after_callback(rx);
            return;
        }
        coil__rx_consume(rx, linelen + dl);
        if (lr->ops->line_received)
            lr->ops->line_received(lr, p, linelen);
        coil__rx_after_callback(rx);
    }
}

void coil_line_only_receiver_data_received(coil_line_only_receiver *lr, const void *data,
                                           size_t len)
{
    coil__rx_feed(&lr->priv, data, len);
}

COIL__RECEIVER_GLUE(coil_line_only_receiver, coil_line_only_receiver_data_received)

void coil_line_only_receiver_init(coil_line_only_receiver *lr,
                                  const coil_line_only_receiver_ops *ops)
{
    static const coil_line_only_receiver_ops no_ops;
    memset(lr, 0, sizeof(*lr));
    lr->ops = ops ? ops : &no_ops;
    lr->base.ops = coil_line_only_receiver_proto_ops_for(lr->ops);
    lr->max_length = COIL_LINE_MAX_LENGTH_DEFAULT;
    coil__rx_init(&lr->priv, &lr->base, drain);
}

int coil_line_only_receiver_set_delimiter(coil_line_only_receiver *lr, const void *delim,
                                          size_t len)
{
    return coil__rx_set_delimiter(&lr->priv, delim, len);
}

int coil_line_only_receiver_send_line(coil_line_only_receiver *lr, const void *line, size_t len)
{
    return coil__rx_send_line(&lr->priv, line, len);
}

int coil_line_only_receiver_send_linef(coil_line_only_receiver *lr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = coil__rx_send_linev(&lr->priv, fmt, ap);
    va_end(ap);
    return rc;
}

int coil_line_only_receiver_error(const coil_line_only_receiver *lr)
{
    return lr->priv.error;
}

void coil_line_only_receiver_release(coil_line_only_receiver *lr)
{
    coil__rx_release(&lr->priv);
}
