/* SPDX-License-Identifier: MIT */
/*
 * Endpoints (Twisted's IStreamServerEndpoint / IStreamClientEndpoint): where
 * to listen and where to connect, chosen by a description string
 * ("tcp:8080:interface=127.0.0.1", "unix:address=/run/e.sock:mode=600",
 * "haproxy:tcp:9000", "systemd:domain=INET:index=0", "tcp:example.com:80")
 * or built in code. docs/ENDPOINTS.md describes every type.
 *
 * A server endpoint listens: coil_server_endpoint_listen() returns a
 * Deferred that fires with the coil_port * (stop it with
 * coil_port_stop_listening_deferred(), which fires once the socket is really
 * closed) or errbacks with a failure naming the address ("Couldn't listen on
 * 127.0.0.1:80: Address already in use.").
 *
 * A client endpoint connects: coil_client_endpoint_connect() returns a
 * Deferred that fires with the protocol the factory built, after its
 * connection_made() ran, or errbacks (ECONNREFUSED, ETIMEDOUT, COIL_EDNS,
 * ...). coil_deferred_cancel() on it abandons the attempt: the Deferred
 * errbacks with -ECANCELED and everything the attempt held is freed.
 *
 * Failures use COIL_NET_DOMAIN ("coil.net"), the negative errno or COIL_E*
 * code, and a message for the log.
 *
 * Lifetimes: an endpoint is a small value owned by its creator, released
 * with coil_*_endpoint_free(). It may be freed at any time, also while
 * Deferreds it returned are pending: a listening port or a connect in
 * progress holds what it needs. The factory passed to listen/connect must
 * stay valid until the port has stopped (listen) or the Deferred has fired
 * and the connection is lost (connect). Every function must be called on the
 * reactor's thread.
 */
#ifndef COIL_ENDPOINT_H
#define COIL_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "deferred.h"
#include "endpoint_desc.h"
#include "export.h"
#include "protocol.h"
#include "reactor.h"
#include "service.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct coil_server_endpoint coil_server_endpoint;
typedef struct coil_client_endpoint coil_client_endpoint;

/* ------------------------------------------------------------------------
 * Implementing an endpoint type (built-in and registered types alike).
 * Embed the struct first in your own and point `ops` at a static table.
 */
typedef struct coil_server_endpoint_ops {
    /* Listen for `factory`: return a new Deferred (one reference for the
     * caller) firing with a coil_port * or a failure; NULL only when out of
     * memory. The port calls coil_factory_do_start()/do_stop() on the
     * factory (or on a wrapping factory that passes them through). */
    coil_deferred *(*listen)(coil_server_endpoint *ep, coil_factory *factory);
    /* Release the endpoint (not ports it started). */
    void (*free)(coil_server_endpoint *ep);
} coil_server_endpoint_ops;

struct coil_server_endpoint {
    const coil_server_endpoint_ops *ops;
    coil_reactor *reactor;
};

typedef struct coil_client_endpoint_ops {
    /* Connect for `factory`: return a new Deferred firing with the
     * protocol (after connection_made) or a failure, cancellable. An
     * implementation that keeps `factory` beyond the call brackets that use
     * with coil_factory_do_start() (before returning) and
     * coil_factory_do_stop() (when it no longer touches the factory, e.g.
     * after the connection is lost), as coil_connect_tcp() does; factories
     * may free themselves in stop_factory (coil_connect_protocol's does). */
    coil_deferred *(*connect)(coil_client_endpoint *ep, coil_factory *factory);
    void (*free)(coil_client_endpoint *ep);
} coil_client_endpoint_ops;

struct coil_client_endpoint {
    const coil_client_endpoint_ops *ops;
    coil_reactor *reactor;
};

/* ------------------------------------------------------------------------
 * Using endpoints
 */

/* Listen; see the top of this file. Returns a new Deferred (the caller
 * unrefs it), or NULL only when out of memory. The Deferred may fire before
 * coil_reactor_run() is called (a port in use errbacks at once); a
 * coil_reactor_stop() from that errback is kept, so run() returns at once
 * instead of waiting forever. */
COIL_API coil_deferred *coil_server_endpoint_listen(coil_server_endpoint *ep,
                                                    coil_factory *factory);
/* Release an endpoint. NULL is allowed. Ports it started keep running. */
COIL_API void coil_server_endpoint_free(coil_server_endpoint *ep);

/* Connect; see the top of this file. Returns a new Deferred, or NULL only
 * when out of memory. */
COIL_API coil_deferred *coil_client_endpoint_connect(coil_client_endpoint *ep,
                                                     coil_factory *factory);
/* Twisted's connectProtocol: connect and attach `p` (the factory that
 * "builds" it returns p once). p is the caller's until the Deferred fires
 * with it; if the connect fails or is cancelled, p was never used and stays
 * the caller's (free it from the errback if you like). */
COIL_API coil_deferred *coil_connect_protocol(coil_client_endpoint *ep, coil_protocol *p);
COIL_API void coil_client_endpoint_free(coil_client_endpoint *ep);

/* ------------------------------------------------------------------------
 * From description strings (endpoint_desc.h has the grammar)
 */

/* One call from a description to a Deferred, for the common case (Twisted's
 * serverFromString(reactor, desc).listen(factory) and
 * clientFromString(reactor, desc).connect(factory)). The endpoint is made,
 * used and released inside. A description that does not parse gives a
 * Deferred that has already failed with COIL_EBADDESC (or COIL_ENOTLS) and
 * the parser's message, so one errback handles every error. Returns a new
 * Deferred (the caller unrefs it), or NULL only when out of memory.
 *   coil_listen_string:  fires with the coil_port *.
 *   coil_connect_string: fires with the protocol `factory` built, after its
 *                        connection_made() ran. */
COIL_API coil_deferred *coil_listen_string(coil_reactor *r, const char *desc,
                                           coil_factory *factory);
COIL_API coil_deferred *coil_connect_string(coil_reactor *r, const char *desc,
                                            coil_factory *factory);

/* Call sites: the five calls above that return a Deferred are macros
 * passing the caller's __FILE__, __LINE__ and __func__ to these *_at
 * functions, so that a failure they deliver (a refused connect, a port in
 * use, a description that does not parse) prints "called from
 * yourfile.c:LINE in yourfunction" (coil_deferred_set_call_site() in
 * deferred.h). The plain functions stay exported. */
COIL_API coil_deferred *coil_server_endpoint_listen_at(coil_server_endpoint *ep,
                                                       coil_factory *factory, const char *file,
                                                       int line, const char *func);
COIL_API coil_deferred *coil_client_endpoint_connect_at(coil_client_endpoint *ep,
                                                        coil_factory *factory, const char *file,
                                                        int line, const char *func);
COIL_API coil_deferred *coil_connect_protocol_at(coil_client_endpoint *ep, coil_protocol *p,
                                                 const char *file, int line, const char *func);
COIL_API coil_deferred *coil_listen_string_at(coil_reactor *r, const char *desc,
                                              coil_factory *factory, const char *file, int line,
                                              const char *func);
COIL_API coil_deferred *coil_connect_string_at(coil_reactor *r, const char *desc,
                                               coil_factory *factory, const char *file, int line,
                                               const char *func);
#if !defined(COIL_BUILDING) && !defined(COIL_NO_CALL_SITE_MACROS)
#define coil_server_endpoint_listen(ep, factory)                                                   \
    coil_server_endpoint_listen_at((ep), (factory), __FILE__, __LINE__, __func__)
#define coil_client_endpoint_connect(ep, factory)                                                  \
    coil_client_endpoint_connect_at((ep), (factory), __FILE__, __LINE__, __func__)
#define coil_connect_protocol(ep, p) coil_connect_protocol_at((ep), (p), __FILE__, __LINE__, __func__)
#define coil_listen_string(r, desc, factory)                                                       \
    coil_listen_string_at((r), (desc), (factory), __FILE__, __LINE__, __func__)
#define coil_connect_string(r, desc, factory)                                                      \
    coil_connect_string_at((r), (desc), (factory), __FILE__, __LINE__, __func__)
#endif

/* Twisted's serverFromString: parse `desc` and build the endpoint. On
 * success *out is a new endpoint. On failure *out is NULL, the result is
 * COIL_EBADDESC (invalid description), COIL_ENOTLS ("ssl:" in a build
 * without TLS), -ENOMEM, or what a registered type's constructor returned,
 * and err (if errlen > 0) says why in one line, naming the argument:
 * "tcp: invalid port 'abc' (must be an integer 0-65535)". With `err`
 * NULL that line is logged instead (COIL_LOG_ERROR, system
 * "coil.endpoint"), so a short program still says why. Nothing is
 * opened here: sockets are made by listen(). */
COIL_API int coil_server_from_string(coil_reactor *r, const char *desc,
                                     coil_server_endpoint **out, char *err, size_t errlen);
/* The same from a parsed description (only read; the endpoint copies what
 * it keeps). */
COIL_API int coil_server_endpoint_from_desc(coil_reactor *r, const coil_server_desc *desc,
                                            coil_server_endpoint **out, char *err,
                                            size_t errlen);

/* Twisted's clientFromString; as above. A "tcp:" host that is not an IP
 * literal makes a hostname endpoint (resolved on connect, see below). */
COIL_API int coil_client_from_string(coil_reactor *r, const char *desc,
                                     coil_client_endpoint **out, char *err, size_t errlen);
COIL_API int coil_client_endpoint_from_desc(coil_reactor *r, const coil_client_desc *desc,
                                            coil_client_endpoint **out, char *err,
                                            size_t errlen);

/* Constructors a registered endpoint type provides so that strings of its
 * type build endpoints (coil_endpoint_type_set_constructors()). `data` is
 * what the type's parser returned; it stays the description's (copy what
 * the endpoint keeps). Return 0 and set *out, or a negative error with a
 * message written through coil_endpoint_errorf(). */
typedef int (*coil_server_endpoint_new_fn)(void *arg, coil_reactor *r, const void *data,
                                           coil_server_endpoint **out, char *err,
                                           size_t errlen);
typedef int (*coil_client_endpoint_new_fn)(void *arg, coil_reactor *r, const void *data,
                                           coil_client_endpoint **out, char *err,
                                           size_t errlen);
/* Attach constructors to a type registered with coil_endpoint_register()
 * (either may be NULL). `arg` is passed to both and must outlive their use.
 * -ENOENT if `prefix` is not registered; -EINVAL for a built-in type. A type
 * without a constructor parses, but building an endpoint from it fails with
 * COIL_EBADDESC ("foo: no endpoint constructor registered"). */
COIL_API int coil_endpoint_type_set_constructors(const char *prefix,
                                                 coil_server_endpoint_new_fn new_server,
                                                 coil_client_endpoint_new_fn new_client,
                                                 void *arg);

/* ------------------------------------------------------------------------
 * Built-in endpoint types in code
 */

/* TCP server on `port` (0: any free port) of `interface` (an IP literal;
 * "" or NULL: every IPv4 address, "::" every IPv6 and IPv4 address) with a
 * listen backlog (<= 0: 50). Returns NULL when out of memory; an invalid
 * interface is reported by listen(). */
COIL_API coil_server_endpoint *coil_tcp_server_endpoint_new(coil_reactor *r, uint16_t port,
                                                            const char *interface, int backlog);
/* UNIX server on `path` ("@name": abstract namespace); mode 0: 0666;
 * lockfile: hold "<path>.lock" while listening (Twisted's wantPID). */
COIL_API coil_server_endpoint *coil_unix_server_endpoint_new(coil_reactor *r, const char *path,
                                                             unsigned mode, int backlog,
                                                             bool lockfile);
/* PROXY protocol in front of `inner` (takes it over, also on failure):
 * each accepted connection must start with a PROXY v1 or v2 header, which is
 * read before the factory builds the protocol; the transport's peer and host
 * are then the header's source and destination (for PROXY TCP4/TCP6/UNIX
 * headers; LOCAL and UNKNOWN keep the socket's addresses). A malformed or
 * oversized header, or a connection that closes before a whole header, is
 * closed with a log line saying why, and the factory never sees it. */
COIL_API coil_server_endpoint *coil_haproxy_server_endpoint_new(coil_server_endpoint *inner);

/* TCP client to a fixed address (IPv4 or IPv6). timeout: seconds, 0: 30,
 * < 0: none. bind_address may be NULL (copied). */
COIL_API coil_client_endpoint *coil_tcp_client_endpoint_new(coil_reactor *r,
                                                            const coil_address *addr,
                                                            double timeout,
                                                            const coil_address *bind_address);
/* UNIX client. check_pid: fail unless a live process holds "<path>.lock"
 * (Twisted's checkPID). */
COIL_API coil_client_endpoint *coil_unix_client_endpoint_new(coil_reactor *r, const char *path,
                                                             double timeout, bool check_pid);

/* A listening socket passed by systemd socket activation (LISTEN_PID,
 * LISTEN_FDS, LISTEN_FDNAMES, read once per process and then removed from
 * the environment, as sd_listen_fds(1) does): the one named `name` if not
 * NULL, else the one at `index` (0-based). `family` (AF_INET, AF_INET6 or
 * AF_UNIX) must match the socket's. listen() errbacks with a message when
 * no such socket was passed or it does not match. */
COIL_API coil_server_endpoint *coil_systemd_server_endpoint_new(coil_reactor *r, int family,
                                                                int index, const char *name);

typedef struct coil_hostname_options {
    double timeout;                   /* seconds for the whole connect; 0: 30; < 0: none */
    const coil_address *bind_address; /* local address (port 0) to bind, or NULL; copied */
    double attempt_delay;             /* seconds between staggered attempts; 0: 0.3 */
} coil_hostname_options;

/* Twisted's HostnameEndpoint: resolve `host` (a name or an IP literal)
 * without blocking the reactor (coil_resolve()), then try its addresses in
 * the resolver's order, starting one attempt every attempt_delay seconds
 * while earlier ones are still pending (happy eyeballs); the first
 * connection established wins and the other attempts are cancelled. Fails
 * with COIL_EDNS when the name does not resolve, -ETIMEDOUT when `timeout`
 * (one deadline covering resolution and every attempt) passes first,
 * COIL_ENOPROTOCOL at once if the factory refuses the first connection,
 * else with the last attempt's error. `opts` may be NULL. */
COIL_API coil_client_endpoint *coil_hostname_endpoint_new(coil_reactor *r, const char *host,
                                                          uint16_t port,
                                                          const coil_hostname_options *opts);

/* ------------------------------------------------------------------------
 * A service that listens on an endpoint while it runs (Twisted's
 * StreamServerEndpointService, what twistd makes of --port).
 */
typedef struct coil_endpoint_service {
    coil_service service;
    coil_server_endpoint *endpoint; /* borrowed: must outlive the service */
    coil_factory *factory;          /* borrowed */
    /* Optional: called when the port is listening (e.g. to print where). */
    void (*on_listening)(struct coil_endpoint_service *s, coil_port *port);
    coil_port *port;         /* while listening */
    coil_deferred *pending;  /* a listen that has not fired yet */
    coil_failure *failure;   /* why the last listen failed (one reference), or NULL */
    bool starting;           /* inside start() */
} coil_endpoint_service;

/* Prepare a stopped service. */
COIL_API void coil_endpoint_service_init(coil_endpoint_service *s, coil_server_endpoint *ep,
                                         coil_factory *factory);
/* Release what the service holds (the failure, the children array); the
 * service must be stopped. Does not free the endpoint or the factory. */
COIL_API void coil_endpoint_service_fini(coil_endpoint_service *s);

/* Starting the service listens. When listen fails at once (every built-in
 * type), start returns the failure's code and s->failure says why (as
 * twistd, which exits when a port cannot be opened); a listen that fails
 * later is logged at ERROR. Stopping fires once the port is closed (a
 * pending listen is cancelled). */

#ifdef __cplusplus
}
#endif
#endif
