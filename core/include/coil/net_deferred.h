/* SPDX-License-Identifier: MIT */
/*
 * Deferred forms of listening, stopping and connecting (what Twisted's
 * endpoints return). Failures use the domain COIL_NET_DOMAIN ("coil.net")
 * with the negative errno or COIL_E* code and a message naming the address,
 * e.g. "Couldn't listen on 127.0.0.1:80: Address already in use.".
 *
 * Each function returns a new Deferred (one reference for the caller, who
 * must coil_deferred_unref() it) or NULL when out of memory.
 */
#ifndef COIL_NET_DEFERRED_H
#define COIL_NET_DEFERRED_H

#include "deferred.h"
#include "export.h"
#include "net.h"

#ifdef __cplusplus
extern "C" {
#endif

#define COIL_NET_DOMAIN "coil.net"

/* Fires with the coil_port * (a value without destructor: the port stays
 * coil's, see coil_port_stop_listening) or errbacks; listening is
 * synchronous, so the Deferred has fired when this returns. */
COIL_API coil_deferred *coil_listen_tcp_deferred(coil_reactor *r, const coil_address *addr,
                                                 const coil_listen_options *opts,
                                                 coil_factory *factory);
COIL_API coil_deferred *coil_listen_unix_deferred(coil_reactor *r, const char *path,
                                                  const coil_listen_options *opts,
                                                  coil_factory *factory);

/* Stop listening; fires (with no value) once the socket is really closed
 * and the factory's do_stop ran. A port already stopping gives a Deferred
 * that has fired with nothing. */
COIL_API coil_deferred *coil_port_stop_listening_deferred(coil_port *port);

/* Connect; fires with the coil_protocol * after its connection_made() ran
 * (a value without destructor: the protocol is coil's until
 * connection_lost), or errbacks (-ECONNREFUSED, -ETIMEDOUT, ...).
 * coil_deferred_cancel() abandons the attempt: the Deferred errbacks with
 * -ECANCELED ("Connecting to ... was cancelled", Twisted's
 * ConnectingCancelledError) and the socket is closed. */
COIL_API coil_deferred *coil_connect_tcp_deferred(coil_reactor *r, const coil_address *addr,
                                                  const coil_connect_options *opts,
                                                  coil_factory *factory);
COIL_API coil_deferred *coil_connect_unix_deferred(coil_reactor *r, const char *path,
                                                   const coil_connect_options *opts,
                                                   coil_factory *factory);

/* The failure a connect to `addr` errbacks with: (COIL_NET_DOMAIN, err,
 * "Connecting to 127.0.0.1:9 failed: Connection refused"), one reference
 * for the caller, or NULL when out of memory. For endpoints that connect
 * in their own way (hostname attempts). */
COIL_API coil_failure *coil_connect_failure(const coil_address *addr, int err);

#ifdef __cplusplus
}
#endif
#endif
