/* SPDX-License-Identifier: MIT */
/*
 * Helper protocols that frame a byte stream (Twisted's
 * twisted.protocols.basic): LineReceiver, LineOnlyReceiver, NetstringReceiver
 * and the Int32/Int16/Int8 length-prefixed string receivers.
 *
 * Use by composition: put the receiver FIRST in your own protocol struct,
 * call its init function from your factory's build_protocol() and return the
 * receiver's `base`. The receiver owns `base.ops` (it forwards
 * connection_made, half-close and connection_lost to your ops table) and
 * calls you back with whole frames:
 *
 *     typedef struct { coil_line_receiver lr; int count; } my_proto;
 *     static void on_line(coil_line_receiver *lr, const char *line, size_t len)
 *     {
 *         coil_line_receiver_send_linef(lr, "you said: %.*s", (int)len, line);
 *     }
 *     static void on_lost(coil_line_receiver *lr, int reason) { free(lr); }
 *     static const coil_line_receiver_ops ops = {.line_received = on_line,
 *                                                .connection_lost = on_lost};
 *     ... build_protocol: my_proto *m = calloc(1, sizeof(*m));
 *                         coil_line_receiver_init(&m->lr, &ops);
 *                         return &m->lr.base;
 *
 * Lifetime and re-entrancy (the same rules for every receiver here):
 * - Frame pointers passed to your callbacks (line, string, raw data) point
 *   into coil's receive buffer or the receiver's own buffer and are valid
 *   only during the call; copy what you keep. They are not NUL-terminated.
 * - From inside any callback you may write, send, lose or abort the
 *   connection, pause, switch modes, clear the buffer, change the delimiter
 *   or max_length, and feed more data (it is queued and parsed after the
 *   current frame: nothing is delivered re-entrantly).
 * - Once the transport is disconnecting (lose_connection, abort_connection,
 *   or the peer went away), no further frame is delivered.
 * - connection_lost is never called from inside another callback (coil
 *   calls it from the reactor loop). The receiver frees its buffers BEFORE
 *   calling your connection_lost and never touches the struct after it, so
 *   connection_lost may free the struct that embeds the receiver. Do not
 *   free it anywhere else while it is connected.
 * - A receiver may also be driven without a transport (base.transport
 *   NULL): feed it with *_data_received() and free its buffers with
 *   *_release(); sends then fail with -ENOTCONN.
 *
 * Violations (a line or string longer than max_length, a malformed
 * netstring) are recorded as -EMSGSIZE (too long) or -EBADMSG (malformed),
 * readable with the *_error() accessors. Unless your ops handle them
 * (line_length_exceeded, length_limit_exceeded), the connection is then
 * lost (lose_connection, as Twisted does) after an INFO log line under the
 * system "coil.basic"; a malformed netstring always loses it.
 *
 * Fields marked private are coil's; do not read or write them.
 */
#ifndef COIL_BASIC_H
#define COIL_BASIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Twisted's defaults. */
#define COIL_LINE_MAX_LENGTH_DEFAULT 16384u
#define COIL_STRING_MAX_LENGTH_DEFAULT 99999u
/* Longest delimiter a line receiver accepts, in bytes. */
#define COIL_LINE_DELIMITER_MAX 16

/* Private state shared by the receivers. */
typedef struct coil__receiver {
    char *buf; /* unparsed bytes the receiver owns: buf[off, off+len) */
    size_t off, len, cap;
    char *pend; /* bytes fed while a callback runs */
    size_t pend_len, pend_cap;
    const char *ext; /* a caller's chunk parsed in place (when buf is empty) */
    size_t ext_len;
    size_t scanned; /* leading bytes already searched for a delimiter */
    int error;      /* 0, -EMSGSIZE, -EBADMSG or -ENOMEM */
    bool busy, paused, raw, broken, released;
    coil_protocol *proto;                     /* the receiver's base */
    void (*drain)(struct coil__receiver *rx); /* parse what is buffered */
    coil_producer producer;                   /* the receiver as a push producer */
    unsigned char delim_len;
    char delim[COIL_LINE_DELIMITER_MAX];
} coil__receiver;

/* ======================================================================
 * LineReceiver: lines, with a raw mode (Twisted's LineReceiver)
 * ====================================================================== */

typedef struct coil_line_receiver coil_line_receiver;

typedef struct coil_line_receiver_ops {
    /* Optional: the connection is up (base.transport is set). */
    void (*connection_made)(coil_line_receiver *lr);
    /* A line without its delimiter (empty lines arrive with len 0). Only the
     * exact delimiter splits: with CRLF, a bare "\n" is part of the line. */
    void (*line_received)(coil_line_receiver *lr, const char *line, size_t len);
    /* Raw mode: bytes as they come (any chunking). Required if you call
     * set_raw_mode(); without it raw bytes are dropped. */
    void (*raw_data_received)(coil_line_receiver *lr, const void *data, size_t len);
    /* Optional: a line longer than max_length arrived, or max_length +
     * len(delimiter) bytes arrived without a delimiter. `data` is the WHOLE
     * unparsed buffer from the start of the long line (Twisted's argument),
     * which the receiver then discards. NULL: log and lose the connection.
     * If you do not close, parsing resumes with the next bytes received. */
    void (*line_length_exceeded)(coil_line_receiver *lr, const char *data, size_t len);
    /* Optional half-close hooks (see coil_protocol_ops). With
     * read_connection_lost NULL the connection closes on the peer's FIN
     * after the queue is flushed. */
    void (*read_connection_lost)(coil_line_receiver *lr);
    void (*write_connection_lost)(coil_line_receiver *lr);
    /* Optional: exactly once, last; may free the struct embedding lr. A
     * partial line still buffered is discarded (as Twisted does). */
    void (*connection_lost)(coil_line_receiver *lr, int reason);
} coil_line_receiver_ops;

struct coil_line_receiver {
    coil_protocol base; /* first: coil sees a protocol */
    const coil_line_receiver_ops *ops;
    size_t max_length;   /* Twisted's MAX_LENGTH; may change any time */
    coil__receiver priv; /* private */
};

/* Prepare a receiver (zeroes it): line mode, CRLF, max_length 16384.
 * Points lr->base.ops at the receiver's protocol table. No allocation. */
COIL_API void coil_line_receiver_init(coil_line_receiver *lr, const coil_line_receiver_ops *ops);
/* Set the delimiter (copied; 1..COIL_LINE_DELIMITER_MAX bytes, else
 * -EINVAL). Takes effect at the next line searched. */
COIL_API int coil_line_receiver_set_delimiter(coil_line_receiver *lr, const void *delim,
                                              size_t len);
/* Write `line` followed by the delimiter (Twisted's sendLine). 0, or the
 * transport's error (-ENOTCONN when closed or without a transport). */
COIL_API int coil_line_receiver_send_line(coil_line_receiver *lr, const void *line, size_t len);
/* printf-style send_line: the formatted text plus the delimiter. */
COIL_API int coil_line_receiver_send_linef(coil_line_receiver *lr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Switch to raw mode: everything still buffered (even the rest of the
 * current chunk) and everything after goes to raw_data_received. */
COIL_API void coil_line_receiver_set_raw_mode(coil_line_receiver *lr);
/* Switch back to line mode and parse `extra` (may be NULL/0) as if it had
 * just been received: synchronously when called from outside a callback,
 * after the current callback returns when called from inside one. */
COIL_API void coil_line_receiver_set_line_mode(coil_line_receiver *lr, const void *extra,
                                               size_t len);
/* Take the unparsed bytes out of the receiver (Twisted's clearLineBuffer):
 * everything after the line being delivered when called from
 * line_received. With `data` non-NULL, *data receives a malloc'd copy
 * (NUL-terminated for convenience; the caller frees it with free()) or NULL
 * when empty, and *len its length; with `data` NULL the bytes are dropped.
 * 0, or -ENOMEM (the buffer is then left as it was). */
COIL_API int coil_line_receiver_clear_line_buffer(coil_line_receiver *lr, char **data, size_t *len);
/* Feed bytes (this is the receiver's data_received; call it yourself when
 * you give the receiver your own protocol ops or no transport). */
COIL_API void coil_line_receiver_data_received(coil_line_receiver *lr, const void *data,
                                               size_t len);
/* Pausing (Twisted's pauseProducing/resumeProducing/stopProducing on the
 * protocol): pause stops line delivery at once (even mid-chunk) and pauses
 * reading on the transport; resume restarts reading and delivers the
 * buffered lines synchronously (or after the current callback); stop
 * pauses and loses the connection. */
COIL_API void coil_line_receiver_pause_producing(coil_line_receiver *lr);
COIL_API void coil_line_receiver_resume_producing(coil_line_receiver *lr);
COIL_API void coil_line_receiver_stop_producing(coil_line_receiver *lr);
/* The receiver as a push producer (register it on another transport). */
COIL_API coil_producer *coil_line_receiver_producer(coil_line_receiver *lr);
/* Unparsed bytes held. */
COIL_API size_t coil_line_receiver_buffered(const coil_line_receiver *lr);
/* 0, or why the receiver stopped: -EMSGSIZE (line too long), -ENOMEM. */
COIL_API int coil_line_receiver_error(const coil_line_receiver *lr);
/* Free the buffers (done automatically before ops->connection_lost); the
 * receiver ignores data afterwards. Idempotent. */
COIL_API void coil_line_receiver_release(coil_line_receiver *lr);

/* ======================================================================
 * LineOnlyReceiver: lines only, slightly faster rules (Twisted's
 * LineOnlyReceiver): no raw mode, no pausing. A line longer than
 * max_length is reported alone (the complete lines after it in the same
 * chunk are dropped); an unterminated buffer is reported once it holds
 * max_length + len(delimiter) bytes, as in LineReceiver (Twisted's
 * LineOnlyReceiver already at max_length + 1, which rejects a line of
 * exactly max_length whose delimiter was split across reads).
 * ====================================================================== */

typedef struct coil_line_only_receiver coil_line_only_receiver;

typedef struct coil_line_only_receiver_ops {
    void (*connection_made)(coil_line_only_receiver *lr);
    void (*line_received)(coil_line_only_receiver *lr, const char *line, size_t len);
    /* Optional: `data` is the long line alone (or the unterminated buffer).
     * NULL: log and lose the connection. */
    void (*line_length_exceeded)(coil_line_only_receiver *lr, const char *data, size_t len);
    void (*read_connection_lost)(coil_line_only_receiver *lr);
    void (*write_connection_lost)(coil_line_only_receiver *lr);
    void (*connection_lost)(coil_line_only_receiver *lr, int reason);
} coil_line_only_receiver_ops;

struct coil_line_only_receiver {
    coil_protocol base;
    const coil_line_only_receiver_ops *ops;
    size_t max_length; /* default 16384 */
    coil__receiver priv;
};

COIL_API void coil_line_only_receiver_init(coil_line_only_receiver *lr,
                                           const coil_line_only_receiver_ops *ops);
COIL_API int coil_line_only_receiver_set_delimiter(coil_line_only_receiver *lr, const void *delim,
                                                   size_t len);
COIL_API int coil_line_only_receiver_send_line(coil_line_only_receiver *lr, const void *line,
                                               size_t len);
COIL_API int coil_line_only_receiver_send_linef(coil_line_only_receiver *lr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
COIL_API void coil_line_only_receiver_data_received(coil_line_only_receiver *lr, const void *data,
                                                    size_t len);
COIL_API int coil_line_only_receiver_error(const coil_line_only_receiver *lr);
COIL_API void coil_line_only_receiver_release(coil_line_only_receiver *lr);

/* ======================================================================
 * Int32/Int16/Int8 length-prefixed strings (Twisted's Int32StringReceiver
 * and friends): an unsigned length in network byte order, then the bytes.
 * ====================================================================== */

typedef struct coil_intn_receiver coil_intn_receiver;

typedef struct coil_intn_receiver_ops {
    void (*connection_made)(coil_intn_receiver *r);
    /* One whole string (any length up to max_length, 0 included). */
    void (*string_received)(coil_intn_receiver *r, const void *data, size_t len);
    /* Optional: a prefix announced `length` > max_length. The payload is
     * never delivered and the receiver ignores all further bytes (the
     * framing is lost). NULL: log and lose the connection. */
    void (*length_limit_exceeded)(coil_intn_receiver *r, size_t length);
    void (*read_connection_lost)(coil_intn_receiver *r);
    void (*write_connection_lost)(coil_intn_receiver *r);
    void (*connection_lost)(coil_intn_receiver *r, int reason);
} coil_intn_receiver_ops;

struct coil_intn_receiver {
    coil_protocol base;
    const coil_intn_receiver_ops *ops;
    size_t max_length;      /* Twisted's MAX_LENGTH, default 99999 */
    unsigned prefix_length; /* 4, 2 or 1 (set by init) */
    coil__receiver priv;
};

/* prefix_length 4, 2 or 1 (else -EINVAL); max_length 99999. */
COIL_API int coil_intn_receiver_init(coil_intn_receiver *r, const coil_intn_receiver_ops *ops,
                                     unsigned prefix_length);
COIL_API void coil_int32_receiver_init(coil_intn_receiver *r, const coil_intn_receiver_ops *ops);
COIL_API void coil_int16_receiver_init(coil_intn_receiver *r, const coil_intn_receiver_ops *ops);
COIL_API void coil_int8_receiver_init(coil_intn_receiver *r, const coil_intn_receiver_ops *ops);
/* Write the prefix and the string. -EMSGSIZE (nothing written) when `len`
 * does not fit the prefix (>= 2^(8*prefix_length): Twisted's
 * StringTooLongError), else 0 or the transport's error. */
COIL_API int coil_intn_receiver_send_string(coil_intn_receiver *r, const void *data, size_t len);
COIL_API void coil_intn_receiver_data_received(coil_intn_receiver *r, const void *data, size_t len);
COIL_API void coil_intn_receiver_pause_producing(coil_intn_receiver *r);
COIL_API void coil_intn_receiver_resume_producing(coil_intn_receiver *r);
COIL_API void coil_intn_receiver_stop_producing(coil_intn_receiver *r);
COIL_API coil_producer *coil_intn_receiver_producer(coil_intn_receiver *r);
COIL_API size_t coil_intn_receiver_buffered(const coil_intn_receiver *r);
/* 0, -EMSGSIZE (length limit exceeded) or -ENOMEM. */
COIL_API int coil_intn_receiver_error(const coil_intn_receiver *r);
COIL_API void coil_intn_receiver_release(coil_intn_receiver *r);

/* ======================================================================
 * Netstrings (Twisted's NetstringReceiver): "<len>:<bytes>,", the length in
 * decimal without sign, spaces or leading zeros.
 * ====================================================================== */

typedef struct coil_netstring_receiver coil_netstring_receiver;

typedef struct coil_netstring_receiver_ops {
    void (*connection_made)(coil_netstring_receiver *r);
    void (*string_received)(coil_netstring_receiver *r, const void *data, size_t len);
    /* Optional notification of a parse error (-EBADMSG: malformed,
     * -EMSGSIZE: longer than max_length), called as soon as the bad byte
     * arrives. Whether or not it is set, the receiver then loses the
     * connection (Twisted) and ignores all further bytes. */
    void (*netstring_error)(coil_netstring_receiver *r, int err);
    void (*read_connection_lost)(coil_netstring_receiver *r);
    void (*write_connection_lost)(coil_netstring_receiver *r);
    void (*connection_lost)(coil_netstring_receiver *r, int reason);
} coil_netstring_receiver_ops;

struct coil_netstring_receiver {
    coil_protocol base;
    const coil_netstring_receiver_ops *ops;
    size_t max_length; /* default 99999 */
    coil__receiver priv;
};

COIL_API void coil_netstring_receiver_init(coil_netstring_receiver *r,
                                           const coil_netstring_receiver_ops *ops);
/* Write "<len>:<data>,". 0 or the transport's error. */
COIL_API int coil_netstring_receiver_send_string(coil_netstring_receiver *r, const void *data,
                                                 size_t len);
COIL_API void coil_netstring_receiver_data_received(coil_netstring_receiver *r, const void *data,
                                                    size_t len);
COIL_API void coil_netstring_receiver_pause_producing(coil_netstring_receiver *r);
COIL_API void coil_netstring_receiver_resume_producing(coil_netstring_receiver *r);
COIL_API size_t coil_netstring_receiver_buffered(const coil_netstring_receiver *r);
/* 0, -EBADMSG, -EMSGSIZE or -ENOMEM: why the receiver stopped parsing
 * (Twisted's brokenPeer). */
COIL_API int coil_netstring_receiver_error(const coil_netstring_receiver *r);
COIL_API void coil_netstring_receiver_release(coil_netstring_receiver *r);

#ifdef __cplusplus
}
#endif
#endif
