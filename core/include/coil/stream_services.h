/* SPDX-License-Identifier: MIT */
/*
 * Ready-made stream services: the service forms of listen and connect calls
 * (Twisted's TCPServer/TCPClient, UNIXServer/UNIXClient, SSLServer/SSLClient
 * and strports.service).
 *
 * Servers listen while they run:
 *   - TCPServer / UNIXServer: coil_port_service_init_tcp() /
 *     coil_port_service_init_unix() in service.h;
 *   - any server description (Twisted's strports.service):
 *     coil_strports_service_new();
 *   - SSLServer: coil_ssl_server_service_new(), which builds an "ssl:"
 *     description, so it works wherever that endpoint type is available.
 *
 * Clients connect once when started and disconnect when stopped (no
 * reconnection; use ClientService, client_service.h, for that). They are
 * coil_client_service objects in "once" mode: when_connected() gives the
 * protocol, coil_client_service_free() releases them. After a failed
 * attempt or a lost connection they stay running and idle, and
 * when_connected() fails with the attempt's failure (or CancelledError
 * after a loss) until the service is stopped and started again. Their
 * description is parsed when the service starts: a description that cannot
 * be built (e.g. "ssl:" without TLS: COIL_ENOTLS) makes the start fail.
 */
#ifndef COIL_STREAM_SERVICES_H
#define COIL_STREAM_SERVICES_H

#include <stddef.h>
#include <stdint.h>

#include "client_service.h"
#include "endpoint.h"
#include "export.h"
#include "net.h"
#include "protocol.h"
#include "reactor.h"
#include "service.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- servers --------------------------------------------------------------- */

typedef struct coil_listen_service coil_listen_service;

/* Twisted's strports.service(description, factory): the description is
 * parsed and the endpoint built now (errors as coil_server_from_string(),
 * `err` says why); starting the service listens (as coil_endpoint_service:
 * start returns the listen error, e.g. -EADDRINUSE), stopping fires once
 * the port is closed. `factory` is borrowed and must outlive the port. */
COIL_API int coil_strports_service_new(coil_reactor *r, const char *desc, coil_factory *factory,
                                       coil_listen_service **out, char *err, size_t errlen);

/* Twisted's SSLServer: TLS on `port` of `interface` (NULL or "": every IPv4
 * address) with the PEM files `private_key` and `cert_key` (NULL: the
 * private key's file, which then holds both). The "ssl:" description is
 * built now and parsed when the service starts, so a build without TLS
 * fails at start with COIL_ENOTLS (coil_listen_service_error() says why).
 * -EINVAL for a NULL key; -ENOMEM. */
COIL_API int coil_ssl_server_service_new(coil_reactor *r, uint16_t port, const char *private_key,
                                         const char *cert_key, const char *interface,
                                         coil_factory *factory, coil_listen_service **out);

COIL_API coil_service *coil_listen_service_service(coil_listen_service *s);
/* The listening port while the service runs and listens, else NULL. */
COIL_API coil_port *coil_listen_service_port(const coil_listen_service *s);
/* The description the service listens on (as given or as built). */
COIL_API const char *coil_listen_service_description(const coil_listen_service *s);
/* Why the last start failed ("" if it did not). */
COIL_API const char *coil_listen_service_error(const coil_listen_service *s);
/* Release a stopped service (its port must be closed: wait for the stop
 * Deferred). NULL is allowed. */
COIL_API void coil_listen_service_free(coil_listen_service *s);

/* ---- clients ----------------------------------------------------------------- */

/* A client connecting once per start to a client description
 * ("tcp:host=example.com:port=80", "unix:path=/run/x.sock", "ssl:...",
 * registered types), parsed at start. -EINVAL, -ENOMEM. */
COIL_API int coil_connect_service_new(coil_reactor *r, const char *desc, coil_factory *factory,
                                      coil_client_service **out);
/* TCPClient: `host` is an IP literal or a name (resolved at each start). */
COIL_API int coil_tcp_client_service_new(coil_reactor *r, const char *host, uint16_t port,
                                         coil_factory *factory, coil_client_service **out);
/* UNIXClient. */
COIL_API int coil_unix_client_service_new(coil_reactor *r, const char *path,
                                          coil_factory *factory, coil_client_service **out);
/* SSLClient: an "ssl:" client to host:port; `options` (may be NULL) are
 * more "key=value" pairs of that type, joined with ':' ("caCertsDir=/etc/
 * ssl/certs:hostname=example.com"), added as given. */
COIL_API int coil_ssl_client_service_new(coil_reactor *r, const char *host, uint16_t port,
                                         const char *options, coil_factory *factory,
                                         coil_client_service **out);

#ifdef __cplusplus
}
#endif
#endif
