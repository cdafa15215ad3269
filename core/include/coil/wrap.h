/* SPDX-License-Identifier: MIT */
/*
 * Wrapping protocols (Twisted's ProtocolWrapper / WrappingFactory, the base
 * of its TLSMemoryBIOProtocol and HAProxyProtocolWrapper).
 *
 * A wrapper is a protocol on an *inner* transport (a TCP or UNIX connection,
 * or another wrapper's outer transport) that presents an *outer* transport
 * to the application's protocol. The application uses the ordinary
 * coil_transport_* functions on the outer transport; coil forwards each
 * call to the wrapper's coil_wrap_ops (write, close, half-close), or, where
 * the wrapper leaves an operation NULL, straight to the inner transport.
 * Pausing, producers, write limits, socket options and the file descriptor
 * always pass through to the inner transport. The wrapper hands what it
 * reads to the application with coil_wrap_deliver() and friends.
 *
 *     application protocol  <-- coil_wrap_deliver() --   wrapper
 *            |                                            ^  |
 *   coil_transport_write(outer) -- coil_wrap_ops.write --/   | coil_transport_write(inner)
 *                                                            v
 *                                                      inner transport
 *
 * Usage: embed coil_wrap first in your struct, point w->proto.ops at the
 * protocol callbacks the inner transport calls (your connection_made,
 * data_received, ...) and w->ops at your coil_wrap_ops, and return
 * &w->proto from your factory's build_protocol (or attach it to a
 * connection some other way). When the wrapper is ready (a PROXY header was
 * read, a TLS handshake finished), coil_wrap_attach() gives the application
 * its outer transport and runs its connection_made(). From the inner
 * connection_lost(), call coil_wrap_lost(): the application's
 * connection_lost() runs there, exactly once, and the outer transport is
 * freed. Then free your wrapper.
 *
 * Reading: coil_wrap_deliver() calls the application's data_received(),
 * unless the application paused reading (coil_transport_pause_reading() on
 * the outer transport, which also pauses the inner one) or is closing: then
 * the bytes are held (paused) or dropped (closing), exactly as a socket
 * transport does; held bytes are delivered from the loop after
 * resume_reading(). So at most what the wrapper produced from one inner
 * read is held while paused: the inner transport stops reading.
 *
 * Threading and reentrancy: as for every transport, reactor thread only.
 * The coil_wrap_* functions may run application callbacks synchronously
 * (that is their purpose): call them from your inner protocol callbacks or
 * from the loop, never from inside a coil_wrap_ops operation.
 */
#ifndef COIL_WRAP_H
#define COIL_WRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "address.h"
#include "export.h"
#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct coil_wrap coil_wrap;

/* What the application's calls on the outer transport do. Every member is
 * optional: NULL passes the call to the inner transport unchanged. None
 * may call the application's protocol callbacks synchronously. */
typedef struct coil_wrap_ops {
    /* coil_transport_write/writev/write_borrowed on the outer transport
     * (borrowed buffers are handed over as a copy and released from the
     * loop; without this operation they go to the inner transport as they
     * are, still without a copy).
     * Return 0, -ENOTCONN or -ENOMEM as coil_transport_write() does. */
    int (*write)(coil_wrap *w, const struct iovec *iov, int iovcnt);
    /* coil_transport_lose_connection(outer): flush, then close the inner
     * transport (e.g. after a TLS close_notify). Called at most once. */
    void (*lose_connection)(coil_wrap *w);
    /* coil_transport_abort_connection(outer). Called at most once. */
    void (*abort_connection)(coil_wrap *w);
    /* coil_transport_lose_write_connection(outer). Called at most once. */
    void (*lose_write_connection)(coil_wrap *w);
    /* Bytes the wrapper holds that are not yet in the inner transport's
     * queue; added to coil_transport_write_buffer_size(outer). */
    size_t (*buffered)(const coil_wrap *w);
} coil_wrap_ops;

struct coil_wrap {
    /* The protocol the inner transport calls: set proto.ops. coil sets
     * proto.transport (the inner transport) as for any protocol. */
    coil_protocol proto;
    const coil_wrap_ops *ops;
    /* The outer transport, made by coil_wrap_attach() (or earlier by
     * coil_wrap_set_addresses()) and freed by coil_wrap_lost(). Read-only. */
    coil_transport *outer;
};

/* Prepare `w` (zeroes the coil part): proto.ops = inner, ops = ops. */
COIL_API void coil_wrap_init(coil_wrap *w, const coil_protocol_ops *inner, const coil_wrap_ops *ops);

/* The inner transport (w->proto.transport): write the wrapped bytes here. */
COIL_API coil_transport *coil_wrap_inner(const coil_wrap *w);
/* The application's protocol once attached, else NULL. */
COIL_API coil_protocol *coil_wrap_app(const coil_wrap *w);

/* Report `peer` and/or `host` (NULL: keep the inner transport's) from
 * coil_transport_get_peer()/get_host() on the outer transport, as the
 * PROXY wrapper does with the header's addresses. May be called before
 * coil_wrap_attach() (build_protocol's address is the caller's choice).
 * 0 or -ENOMEM. The addresses are copied. */
COIL_API int coil_wrap_set_addresses(coil_wrap *w, const coil_address *peer,
                                     const coil_address *host);

/* Create the outer transport, set app->transport and app->factory, and run
 * app's connection_made() now. The application's protocol is then coil's
 * until its connection_lost() (as any protocol). Call once, while the inner
 * transport is connected. 0, -EALREADY, or -ENOMEM (then nothing changed
 * and `app` is still the caller's). */
COIL_API int coil_wrap_attach(coil_wrap *w, coil_protocol *app, coil_factory *factory);

/* Hand `len` bytes to the application's data_received() (held while it is
 * paused, dropped once it is closing or before attach). `data` is only
 * read during the call. */
COIL_API void coil_wrap_deliver(coil_wrap *w, const void *data, size_t len);
/* The peer will send no more (e.g. TLS close_notify, or the inner
 * read_connection_lost): the application's read_connection_lost() runs
 * (after any held bytes), or, if it has none, the outer connection is lost
 * orderly (coil_transport_lose_connection). */
COIL_API void coil_wrap_deliver_eof(coil_wrap *w);
/* Our write side is shut down: the application's write_connection_lost(). */
COIL_API void coil_wrap_deliver_write_eof(coil_wrap *w);

/* The connection is gone: run the application's connection_lost(reason)
 * (if it was attached and this is the first call) and free the outer
 * transport. Call from the inner protocol's connection_lost(); afterwards
 * the wrapper may free itself. */
COIL_API void coil_wrap_lost(coil_wrap *w, int reason);

/* The wrapper whose outer transport `t` is, or NULL for a socket transport
 * (e.g. to check w->ops against your own table before casting). */
COIL_API coil_wrap *coil_wrap_of(const coil_transport *t);

/* Whether the application asked to close the outer transport
 * (lose_connection or abort_connection). */
COIL_API bool coil_wrap_closing(const coil_wrap *w);

#ifdef __cplusplus
}
#endif
#endif
