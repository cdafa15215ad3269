/* SPDX-License-Identifier: MIT */
/*
 * LineReceiver (Twisted's protocols.basic.LineReceiver): lines split on an
 * exact delimiter, a raw mode, a maximum line length, pausing. The loop is
 * Twisted's dataReceived: deliver lines while something is buffered and we
 * are not paused, stop once the transport is disconnecting.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <coil/log.h>

#include "receiver.h"

static void line_length_exceeded(coil_line_receiver *lr, const char *data, size_t len)
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
    coil_line_receiver *lr = COIL_CONTAINER_OF(rx, coil_line_receiver, priv);
    while (!coil__rx_stopped(rx)) {
        size_t n;
        const char *p = coil__rx_peek(rx, &n);
        if (n == 0)
            return;
        if (rx->raw) {
            coil__rx_consume(rx, n);
            if (lr->ops->raw_data_received)
                lr->ops->raw_data_received(lr, p, n);
            coil__rx_after_callback(rx);
            continue;
        }
        size_t dl = rx->delim_len;
        const char *d = coil__rx_find_delim(rx, p, n);
        if (!d) {
            /* Wait for the delimiter, unless even a delimiter split at the
             * end could not make this a line of max_length bytes. */
            if (n >= dl && n - dl >= lr->max_length) {
                coil__rx_consume(rx, n);
                line_length_exceeded(lr, p, n);
                coil__rx_after_callback(rx);
            }
            return;
        }
        size_t linelen = (size_t)(d - p);
        if (linelen > lr->max_length) {
            /* Twisted hands over the long line and everything after it. */
            coil__rx_consume(rx, n);
            line_length_exceeded(lr, p, n);
            coil__rx_after_callback(rx);
            return;
        }
        coil__rx_consume(rx, linelen + dl);
        if (lr->ops->line_received)
            lr->ops->line_received(lr, p, linelen);
        coil__rx_after_callback(rx);
    }
}

void coil_line_receiver_data_received(coil_line_receiver *lr, const void *data, size_t len)
{
    coil__rx_feed(&lr->priv, data, len);
}

COIL__RECEIVER_GLUE(coil_line_receiver, coil_line_receiver_data_received)

void coil_line_receiver_init(coil_line_receiver *lr, const coil_line_receiver_ops *ops)
{
    static const coil_line_receiver_ops no_ops;
    memset(lr, 0, sizeof(*lr));
    lr->ops = ops ? ops : &no_ops;
    lr->base.ops = coil_line_receiver_proto_ops_for(lr->ops);
    lr->max_length = COIL_LINE_MAX_LENGTH_DEFAULT;
    coil__rx_init(&lr->priv, &lr->base, drain);
}

int coil_line_receiver_set_delimiter(coil_line_receiver *lr, const void *delim, size_t len)
{
    return coil__rx_set_delimiter(&lr->priv, delim, len);
}

int coil_line_receiver_send_line(coil_line_receiver *lr, const void *line, size_t len)
{
    return coil__rx_send_line(&lr->priv, line, len);
}

int coil_line_receiver_send_linef(coil_line_receiver *lr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = coil__rx_send_linev(&lr->priv, fmt, ap);
    va_end(ap);
    return rc;
}

void coil_line_receiver_set_raw_mode(coil_line_receiver *lr)
{
    lr->priv.raw = true;
}

void coil_line_receiver_set_line_mode(coil_line_receiver *lr, const void *extra, size_t len)
{
    lr->priv.raw = false;
    if (extra && len)
        coil__rx_feed(&lr->priv, extra, len);
}

int coil_line_receiver_clear_line_buffer(coil_line_receiver *lr, char **data, size_t *len)
{
    return coil__rx_clear(&lr->priv, data, len);
}

void coil_line_receiver_pause_producing(coil_line_receiver *lr)
{
    coil__rx_pause(&lr->priv);
}

void coil_line_receiver_resume_producing(coil_line_receiver *lr)
{
    coil__rx_resume(&lr->priv);
}

void coil_line_receiver_stop_producing(coil_line_receiver *lr)
{
    coil__rx_stop(&lr->priv);
}

coil_producer *coil_line_receiver_producer(coil_line_receiver *lr)
{
    return &lr->priv.producer;
}

size_t coil_line_receiver_buffered(const coil_line_receiver *lr)
{
    return coil__rx_buffered(&lr->priv);
}

int coil_line_receiver_error(const coil_line_receiver *lr)
{
    return lr->priv.error;
}

void coil_line_receiver_release(coil_line_receiver *lr)
{
    coil__rx_release(&lr->priv);
}
