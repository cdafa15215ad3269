/* SPDX-License-Identifier: MIT */
/*
 * Listening and connecting over TCP and UNIX sockets (Twisted's
 * reactor.listenTCP/connectTCP/listenUNIX/connectUNIX). Endpoints build on
 * these.
 */
#ifndef COIL_NET_H
#define COIL_NET_H

#include <stdbool.h>

#include "address.h"
#include "export.h"
#include "protocol.h"
#include "reactor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct coil_port coil_port;
typedef struct coil_connector coil_connector;

typedef struct coil_listen_options {
    int backlog;      /* 0: 50, Twisted's default */
    bool reuse_port;  /* SO_REUSEPORT (several processes on one port) */
    bool ipv6_only;   /* IPV6_V6ONLY on an IPv6 port (default: dual stack, as Linux) */
    unsigned mode;    /* UNIX: chmod the socket file to this mode; 0: 0666 */
    bool lockfile;    /* UNIX: hold "<path>.lock" (symlink to our pid) while listening,
                         removing a stale socket file first, as Twisted's wantPID */
} coil_listen_options;

/* Listen on `addr` (coil_address_from_ip(); port 0 picks a free one) and
 * accept connections for `factory` (whose do_start runs now). `opts` may be
 * NULL. The factory must outlive the port. On error nothing is left open and
 * the error says why, e.g. -EADDRINUSE; coil also logs
 * "Couldn't listen on 127.0.0.1:80: Address already in use." at WARN. On
 * success *out is the port, owned by coil until stop_listening completes. */
COIL_API int coil_listen_tcp(coil_reactor *r, const coil_address *addr,
                             const coil_listen_options *opts, coil_factory *factory,
                             coil_port **out);
/* Listen on a UNIX socket path (or "@abstract"). */
COIL_API int coil_listen_unix(coil_reactor *r, const char *path, const coil_listen_options *opts,
                              coil_factory *factory, coil_port **out);
/* Take over an already listening socket (systemd activation). The port owns
 * `fd` from now on, also on error. */
COIL_API int coil_listen_adopt(coil_reactor *r, int fd, coil_factory *factory, coil_port **out);

/* The bound address (with the real port when 0 was asked for). */
COIL_API int coil_port_get_host(const coil_port *port, coil_address *out);

/* Stop accepting and close the socket; connections already accepted are
 * not affected. `done(arg)` (may be NULL) runs from the loop once the socket
 * is really closed, after the factory's do_stop. The port handle is invalid
 * after done runs. Idempotent: later calls do nothing (their `done` is
 * not called). */
COIL_API void coil_port_stop_listening(coil_port *port, void (*done)(void *arg), void *arg);

typedef struct coil_connect_options {
    double timeout;                    /* seconds; 0: 30 (Twisted's default); <0: none */
    const coil_address *bind_address;  /* local address to bind first, or NULL */
} coil_connect_options;

/* The outcome of a connect: on success `p` is the connected protocol and its
 * connection_made() has already run; on failure `p` is NULL and `err` says
 * why (-ECONNREFUSED, -ETIMEDOUT, -ECANCELED, COIL_ENOPROTOCOL, ...). Runs
 * exactly once, from the loop; the connector handle is invalid after. */
typedef void (*coil_connect_cb)(void *arg, coil_protocol *p, int err);

/* Connect to `addr`; on success the factory builds the protocol (do_start
 * and do_stop bracket the attempt, as Twisted's connectors do). `opts` may
 * be NULL; `out` may be NULL. */
COIL_API int coil_connect_tcp(coil_reactor *r, const coil_address *addr,
                              const coil_connect_options *opts, coil_factory *factory,
                              coil_connect_cb cb, void *arg, coil_connector **out);
COIL_API int coil_connect_unix(coil_reactor *r, const char *path, const coil_connect_options *opts,
                               coil_factory *factory, coil_connect_cb cb, void *arg,
                               coil_connector **out);
/* Abandon a pending connect: cb runs with -ECANCELED from the loop and the
 * socket is closed. No-op if the connect already completed. */
COIL_API void coil_connector_cancel(coil_connector *c);
/* Hand the connection to another factory (for endpoints that connect with
 * a factory of their own, as the hostname endpoint's attempts do): the
 * protocol's `factory` is `f`, and after connection_lost the transport
 * calls coil_factory_do_stop(f) instead of on the factory it was started
 * with. Call from the connecting factory's build_protocol(), after
 * coil_factory_do_start(f). The transport no longer uses the original
 * factory: its do_start is never matched by a do_stop from coil (the
 * caller settles that count itself). */
COIL_API void coil_connector_set_factory(coil_connector *c, coil_factory *f);

#ifdef __cplusplus
}
#endif
#endif
