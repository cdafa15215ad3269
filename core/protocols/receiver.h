/* SPDX-License-Identifier: MIT */
/*
 * The buffering engine shared by the framing receivers of <coil/basic.h>.
 *
 * The unparsed bytes are one contiguous region: either the caller's chunk,
 * parsed in place while the receiver holds nothing (the common case: no
 * copy), or the receiver's own buffer. A parser peeks at the region,
 * consumes a frame and hands the user a pointer into it. Bytes fed while a
 * user callback runs go to a separate pending buffer and are appended to
 * the region only after the callback returned, so the pointer the user
 * holds never moves or dies under it (Twisted's _busyReceiving buffering).
 *
 * Only public coil functions are used here, so the fuzz targets build these
 * files with a fake transport.
 */
#ifndef COIL_PROTOCOLS_RECEIVER_H
#define COIL_PROTOCOLS_RECEIVER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <coil/basic.h>
#include <coil/transport.h>
#include <coil/util.h>

#define COIL__BASIC_LOG "coil.basic"

void coil__rx_init(coil__receiver *rx, coil_protocol *proto, void (*drain)(coil__receiver *rx));
/* Feed bytes: parse them now (drain), or queue them if a callback runs. */
void coil__rx_feed(coil__receiver *rx, const void *data, size_t len);
/* The unparsed region (valid until the next consume/after_callback). */
static inline const char *coil__rx_peek(const coil__receiver *rx, size_t *n)
{
    if (rx->ext) {
        *n = rx->ext_len;
        return rx->ext;
    }
    *n = rx->len;
    return rx->buf ? rx->buf + rx->off : NULL; /* NULL + 0 is undefined */
}
/* Drop n bytes from the front of the region (their memory stays valid
 * until the next after_callback). */
void coil__rx_consume(coil__receiver *rx, size_t n);
/* After a user callback: append what was fed meanwhile. */
void coil__rx_after_callback(coil__receiver *rx);
/* Unparsed bytes held (region and pending). */
size_t coil__rx_buffered(const coil__receiver *rx);
/* Hand the unparsed bytes out as a malloc'd copy (or drop them). */
int coil__rx_clear(coil__receiver *rx, char **data, size_t *len);
/* Free everything; later feeds are ignored. */
void coil__rx_release(coil__receiver *rx);
/* Stop for good: record err, drop the bytes, lose the connection. */
void coil__rx_break(coil__receiver *rx, int err);

/* True when no frame may be delivered any more. */
static inline bool coil__rx_stopped(const coil__receiver *rx)
{
    if (rx->paused || rx->broken || rx->released)
        return true;
    return rx->proto->transport && coil_transport_is_disconnecting(rx->proto->transport);
}

void coil__rx_pause(coil__receiver *rx);
void coil__rx_resume(coil__receiver *rx);
void coil__rx_stop(coil__receiver *rx);

int coil__rx_set_delimiter(coil__receiver *rx, const void *delim, size_t len);
/* First delimiter in p[0, n), searching from rx->scanned (minus an overlap);
 * NULL if none (and rx->scanned is advanced). */
const char *coil__rx_find_delim(coil__receiver *rx, const char *p, size_t n);
/* First occurrence of d[0, dl) in p[0, n), or NULL. */
const char *coil__rx_search(const char *p, size_t n, const char *d, size_t dl);
/* Write data + delimiter in one writev. */
int coil__rx_send_line(coil__receiver *rx, const void *line, size_t len);
int coil__rx_send_linev(coil__receiver *rx, const char *fmt, va_list ap);
/* Lose the connection, if there is one. */
void coil__rx_lose(coil__receiver *rx);

/*
 * The coil_protocol_ops glue of a receiver type T (struct T with `base`,
 * `ops` and `priv`, ops table T##_ops with connection_made,
 * read_connection_lost, write_connection_lost and connection_lost):
 * defines T##_proto_ops (with read_connection_lost) and T##_proto_ops_nohc
 * (without, so coil closes on the peer's FIN), and T##_proto_ops_for(ops).
 * connection_lost frees the receiver's buffers before the user's callback,
 * which may free the receiver: nothing touches it afterwards.
 */
#define COIL__RECEIVER_GLUE(T, feed)                                                               \
    static void T##_made(coil_protocol *p)                                                         \
    {                                                                                              \
        T *r = (T *)p;                                                                             \
        if (r->ops->connection_made)                                                               \
            r->ops->connection_made(r);                                                            \
    }                                                                                              \
    static void T##_data(coil_protocol *p, const void *data, size_t len)                           \
    {                                                                                              \
        feed((T *)p, data, len);                                                                   \
    }                                                                                              \
    static void T##_read_lost(coil_protocol *p)                                                    \
    {                                                                                              \
        T *r = (T *)p;                                                                             \
        if (r->ops->read_connection_lost)                                                          \
            r->ops->read_connection_lost(r);                                                       \
        else /* ops changed after init: coil's default (flush, close) */                           \
            coil_transport_lose_connection(p->transport);                                          \
    }                                                                                              \
    static void T##_write_lost(coil_protocol *p)                                                   \
    {                                                                                              \
        T *r = (T *)p;                                                                             \
        if (r->ops->write_connection_lost)                                                         \
            r->ops->write_connection_lost(r);                                                      \
    }                                                                                              \
    static void T##_lost(coil_protocol *p, int reason)                                             \
    {                                                                                              \
        T *r = (T *)p;                                                                             \
        coil__rx_release(&r->priv);                                                                \
        if (r->ops->connection_lost)                                                               \
            r->ops->connection_lost(r, reason); /* may free r: last use */                         \
    }                                                                                              \
    static const coil_protocol_ops T##_proto_ops = {                                               \
        .connection_made = T##_made,                                                               \
        .data_received = T##_data,                                                                 \
        .read_connection_lost = T##_read_lost,                                                     \
        .write_connection_lost = T##_write_lost,                                                   \
        .connection_lost = T##_lost,                                                               \
    };                                                                                             \
    static const coil_protocol_ops T##_proto_ops_nohc = {                                          \
        .connection_made = T##_made,                                                               \
        .data_received = T##_data,                                                                 \
        .write_connection_lost = T##_write_lost,                                                   \
        .connection_lost = T##_lost,                                                               \
    };                                                                                             \
    static const coil_protocol_ops *T##_proto_ops_for(const T##_ops *ops)                          \
    {                                                                                              \
        return ops && ops->read_connection_lost ? &T##_proto_ops : &T##_proto_ops_nohc;            \
    }

#endif
