/* SPDX-License-Identifier: MIT */
/*
 * Services (Twisted's IService / MultiService / StreamServerEndpointService).
 *
 * A coil_service is user-embedded, like a protocol: put it first in your
 * struct and point `ops` at a static table. Services form a tree: a parent
 * starts its children in the order they were added and stops them in
 * reverse order, waiting for each child's stop Deferred.
 *
 * Ownership: coil never frees a service; the tree only borrows children.
 */
#ifndef COIL_SERVICE_H
#define COIL_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "deferred.h"
#include "export.h"
#include "net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct coil_service coil_service;

typedef struct coil_service_ops {
    /* Optional: begin work (Twisted's startService). 0 or a negative errno;
     * on error the service stays stopped. */
    int (*start)(coil_service *s);
    /* Optional: end work. Return a Deferred (one reference, passed to coil)
     * that fires when the service is stopped, or NULL when it stopped at
     * once. */
    coil_deferred *(*stop)(coil_service *s);
} coil_service_ops;

struct coil_service {
    const coil_service_ops *ops;
    const char *name;  /* optional; unique among siblings */
    coil_service *parent;
    bool running;
    coil_service **children;
    size_t nchildren;
};

/* Start `s` and then its children in order. Starting a running service
 * does nothing. Returns the first error (services started before it keep
 * running). */
COIL_API int coil_service_start(coil_service *s);
/* Stop the children in reverse order, each after the previous one's stop
 * Deferred fired, then `s` itself. The returned Deferred (one reference for
 * the caller) fires when everything stopped; stopping a service that is not
 * running gives a Deferred that has fired already. */
COIL_API coil_deferred *coil_service_stop(coil_service *s);
/* Add a child (started at once if the parent runs). -EEXIST when a sibling
 * has the same name, -EBUSY if the child already has a parent. */
COIL_API int coil_service_add(coil_service *parent, coil_service *child);
/* Remove a child; fires with its stop result if the parent was running. */
COIL_API coil_deferred *coil_service_remove(coil_service *parent, coil_service *child);
/* Release the children array (not the children). */
COIL_API void coil_service_fini(coil_service *s);

/* A service listening on TCP while it runs (StreamServerEndpointService):
 * start listens (errors such as -EADDRINUSE are returned and logged),
 * stop fires once the port is really closed. */
typedef struct coil_port_service {
    coil_service service;
    coil_reactor *reactor;
    coil_address addr;     /* for TCP; unix_path for UNIX */
    const char *unix_path; /* borrowed; NULL for TCP */
    coil_listen_options options;
    coil_factory *factory;
    coil_port *port;       /* while running */
} coil_port_service;

COIL_API void coil_port_service_init_tcp(coil_port_service *ps, coil_reactor *r,
                                         const coil_address *addr,
                                         const coil_listen_options *opts, coil_factory *f);
COIL_API void coil_port_service_init_unix(coil_port_service *ps, coil_reactor *r,
                                          const char *path, const coil_listen_options *opts,
                                          coil_factory *f);

/* Run `s` under the reactor the way twistd does: start it now and add a
 * "before shutdown" trigger that stops it; the reactor's shutdown waits
 * for the stop Deferred. Returns the start result; if `s` did not start, no
 * trigger is left behind. */
COIL_API int coil_service_run_under(coil_service *s, coil_reactor *r);

#ifdef __cplusplus
}
#endif
#endif
