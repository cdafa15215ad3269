/* SPDX-License-Identifier: MIT */
/*
 * Protocols, factories and producers (Twisted's IProtocol, Factory,
 * IPushProducer/IPullProducer).
 *
 * These are user-embedded structs: put the coil struct first in your own
 * struct (or use container_of) and point `ops` at a static table. This is
 * Twisted's subclassing idiom without a vtable per instance.
 *
 * Lifetime of a protocol: a factory's build_protocol() creates it; coil sets
 * `transport` and `factory` and calls connection_made(). connection_lost() is
 * called exactly once and is the last call coil makes on the protocol: after
 * it returns coil never touches the protocol again, so connection_lost() may
 * free it. The transport pointer is invalid after connection_lost() returns.
 */
#ifndef COIL_PROTOCOL_H
#define COIL_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#include "address.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct coil_transport coil_transport;
typedef struct coil_protocol coil_protocol;
typedef struct coil_factory coil_factory;
typedef struct coil_producer coil_producer;

typedef struct coil_protocol_ops {
    /* The connection is up; protocol->transport is set. May write, close. */
    void (*connection_made)(coil_protocol *p);
    /* Bytes arrived. `data` points into coil's receive buffer and is valid
     * only during the call (copy what you keep). Any chunking is possible.
     * The protocol may write, close or abort the transport from here. */
    void (*data_received)(coil_protocol *p, const void *data, size_t len);
    /* Optional (half-close, Twisted's IHalfCloseableProtocol): the peer shut
     * down its write side; writing is still possible and the protocol must
     * eventually lose the connection. When NULL, coil flushes everything
     * queued and then closes (reason 0). */
    void (*read_connection_lost)(coil_protocol *p);
    /* Optional: our write side was shut down by lose_write_connection() once
     * the queue drained. */
    void (*write_connection_lost)(coil_protocol *p);
    /* Exactly once, last. `reason`: 0 for an orderly close (Twisted's
     * ConnectionDone), COIL_EABORTED after abort_connection(), COIL_ESHUTDOWN
     * when the reactor stopped, or a negative errno (-ECONNRESET, -EPIPE,
     * -ETIMEDOUT, ...) when the connection was lost. */
    void (*connection_lost)(coil_protocol *p, int reason);
} coil_protocol_ops;

struct coil_protocol {
    const coil_protocol_ops *ops;
    coil_transport *transport; /* set by coil before connection_made() */
    coil_factory *factory;     /* set by coil to the factory that built it */
};

typedef struct coil_factory_ops {
    /* Build a protocol for a new connection from/to `addr` (the peer), or
     * return NULL to refuse it (the socket is closed; a connect fails with
     * COIL_ENOPROTOCOL). Ownership of the protocol passes to coil until
     * connection_lost(). */
    coil_protocol *(*build_protocol)(coil_factory *f, const coil_address *addr);
    /* Optional: called when the factory starts being used by its first
     * listening port or connector, and when the last one stops. */
    void (*start_factory)(coil_factory *f);
    void (*stop_factory)(coil_factory *f);
} coil_factory_ops;

struct coil_factory {
    const coil_factory_ops *ops;
    unsigned num_ports; /* managed by coil_factory_do_start/do_stop */
};

/* Count a user of the factory: the first one calls start_factory(). Ports
 * and connectors call these; a user only calls them to share a factory
 * with code outside coil. */
COIL_API void coil_factory_do_start(coil_factory *f);
/* Uncount a user: the last one calls stop_factory(). No-op at 0. */
COIL_API void coil_factory_do_stop(coil_factory *f);

/* Twisted's Factory.forProtocol: a factory that builds every connection's
 * protocol from one type. build_protocol() allocates `size` zeroed bytes
 * with calloc() (your struct, with its coil_protocol first), points its ops
 * at `ops`, and hands it over; your connection_lost() frees it with free().
 * `user` is shared by every connection (a chat room, a configuration);
 * reach it with coil_protocol_factory_user(p). `init`, if set, runs on each
 * new protocol before connection_made(); returning false refuses the
 * connection (the block is freed and no callback runs). The factory must
 * outlive the ports and connectors using it.
 *
 *     static coil_protocol_factory echo;
 *     coil_protocol_factory_init(&echo, sizeof(struct echo), &echo_ops, NULL);
 *     coil_listen_string(r, "tcp:8000", &echo.base);
 */
typedef struct coil_protocol_factory {
    coil_factory base;
    size_t size;
    const coil_protocol_ops *ops;
    void *user;
    bool (*init)(coil_protocol *p, const coil_address *peer, void *user);
} coil_protocol_factory;

/* Fill `f` (size >= sizeof(coil_protocol)); init may be set afterwards. */
COIL_API void coil_protocol_factory_init(coil_protocol_factory *f, size_t size,
                                         const coil_protocol_ops *ops, void *user);
/* The `user` pointer of the coil_protocol_factory that built `p`. */
COIL_API void *coil_protocol_factory_user(const coil_protocol *p);

/* A producer feeds a transport (Twisted's IPushProducer / IPullProducer). */
typedef struct coil_producer_ops {
    /* Streaming (push) producers: stop writing until resume. */
    void (*pause_producing)(coil_producer *p);
    /* Streaming: writing may go on. Pull producers: write the next piece. */
    void (*resume_producing)(coil_producer *p);
    /* The consumer is gone (connection lost): stop for good. */
    void (*stop_producing)(coil_producer *p);
} coil_producer_ops;

struct coil_producer {
    const coil_producer_ops *ops;
};

#ifdef __cplusplus
}
#endif
#endif
