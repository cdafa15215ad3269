/* SPDX-License-Identifier: MIT */
/*
 * Int32/Int16/Int8 length-prefixed strings (Twisted's IntNStringReceiver):
 * an unsigned big-endian length of prefix_length bytes, then the string.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <coil/log.h>

#include "receiver.h"

static size_t decode(const unsigned char *p, unsigned prefix)
{
    size_t v = 0;
    for (unsigned i = 0; i < prefix; i++)
        v = v << 8 | p[i];
    return v;
}

static void drain(coil__receiver *rx)
{
    coil_intn_receiver *r = COIL_CONTAINER_OF(rx, coil_intn_receiver, priv);
    unsigned prefix = r->prefix_length;
    while (!coil__rx_stopped(rx)) {
        size_t n;
        const char *p = coil__rx_peek(rx, &n);
        if (n < prefix)
            return;
        size_t length = decode((const unsigned char *)p, prefix);
        if (length > r->max_length) {
            /* The payload is never delivered and the framing is lost:
             * ignore everything from here on. */
            rx->error = -EMSGSIZE;
            rx->broken = true;
            coil__rx_consume(rx, n);
            if (r->ops->length_limit_exceeded) {
                r->ops->length_limit_exceeded(r, length);
            } else {
                coil_log(COIL_LOG_INFO, COIL__BASIC_LOG,
                         "string of %zu bytes announced (limit %zu): closing the connection",
                         length, r->max_length);
                coil__rx_lose(rx);
            }
            return;
        }
        if (n - prefix < length)
            return; /* wait for the whole string */
        coil__rx_consume(rx, prefix + length);
        if (r->ops->string_received)
            r->ops->string_received(r, p + prefix, length);
        coil__rx_after_callback(rx);
    }
}

void coil_intn_receiver_data_received(coil_intn_receiver *r, const void *data, size_t len)
{
    coil__rx_feed(&r->priv, data, len);
}

COIL__RECEIVER_GLUE(coil_intn_receiver, coil_intn_receiver_data_received)

int coil_intn_receiver_init(coil_intn_receiver *r, const coil_intn_receiver_ops *ops,
                            unsigned prefix_length)
{
    static const coil_intn_receiver_ops no_ops;
    if (prefix_length != 1 && prefix_length != 2 && prefix_length != 4)
        return -EINVAL;
    memset(r, 0, sizeof(*r));
    r->ops = ops ? ops : &no_ops;
    r->base.ops = coil_intn_receiver_proto_ops_for(r->ops);
    r->max_length = COIL_STRING_MAX_LENGTH_DEFAULT;
    r->prefix_length = prefix_length;
    coil__rx_init(&r->priv, &r->base, drain);
    return 0;
}

void coil_int32_receiver_init(coil_intn_receiver *r, const coil_intn_receiver_ops *ops)
{
    coil_intn_receiver_init(r, ops, 4);
}

void coil_int16_receiver_init(coil_intn_receiver *r, const coil_intn_receiver_ops *ops)
{
    coil_intn_receiver_init(r, ops, 2);
}

void coil_int8_receiver_init(coil_intn_receiver *r, const coil_intn_receiver_ops *ops)
{
    coil_intn_receiver_init(r, ops, 1);
}

int coil_intn_receiver_send_string(coil_intn_receiver *r, const void *data, size_t len)
{
    unsigned prefix = r->prefix_length;
    if (prefix < sizeof(size_t) && len >> (8 * prefix) != 0)
        return -EMSGSIZE; /* Twisted's StringTooLongError */
    if (r->priv.released || !r->base.transport)
        return -ENOTCONN;
    unsigned char hdr[4];
    for (unsigned i = 0; i < prefix; i++)
        hdr[i] = (unsigned char)(len >> (8 * (prefix - 1 - i)));
    struct iovec iov[2] = {
        {.iov_base = hdr, .iov_len = prefix},
        {.iov_base = (void *)data, .iov_len = len},
    };
    return coil_transport_writev(r->base.transport, iov, 2);
}

void coil_intn_receiver_pause_producing(coil_intn_receiver *r)
{
    coil__rx_pause(&r->priv);
}

void coil_intn_receiver_resume_producing(coil_intn_receiver *r)
{
    coil__rx_resume(&r->priv);
}

void coil_intn_receiver_stop_producing(coil_intn_receiver *r)
{
    coil__rx_stop(&r->priv);
}

coil_producer *coil_intn_receiver_producer(coil_intn_receiver *r)
{
    return &r->priv.producer;
}

size_t coil_intn_receiver_buffered(const coil_intn_receiver *r)
{
    return coil__rx_buffered(&r->priv);
}

int coil_intn_receiver_error(const coil_intn_receiver *r)
{
    return r->priv.error;
}

void coil_intn_receiver_release(coil_intn_receiver *r)
{
    coil__rx_release(&r->priv);
}
