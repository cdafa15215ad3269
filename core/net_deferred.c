/* SPDX-License-Identifier: MIT */
/* Deferred wrappers over the callback API of net.h. */
#include <errno.h>
#include <stdlib.h>

#include <coil/net_deferred.h>

#include "internal.h"

static coil_deferred *listened(int rc, coil_port *port, const char *where)
{
    if (rc < 0)
        return coil_fail(coil_failure_new(COIL_NET_DOMAIN, rc, "Couldn't listen on %s: %s.",
                                          where, coil_strerror(rc)));
    return coil_succeed(coil_result_value(port, NULL));
}

coil_deferred *coil_listen_tcp_deferred(coil_reactor *r, const coil_address *addr,
                                        const coil_listen_options *opts, coil_factory *f)
{
    char where[COIL_ADDRESS_STRLEN];
    coil_address_format(addr, where, sizeof(where));
    coil_port *port = NULL;
    int rc = coil_listen_tcp(r, addr, opts, f, &port);
    return listened(rc, port, where);
}

coil_deferred *coil_listen_unix_deferred(coil_reactor *r, const char *path,
                                         const coil_listen_options *opts, coil_factory *f)
{
    coil_port *port = NULL;
    int rc = coil_listen_unix(r, path, opts, f, &port);
    return listened(rc, port, path);
}

static void stopped(void *arg)
{
    coil_deferred *d = arg;
    coil_deferred_callback(d, coil_result_none());
    coil_deferred_unref(d); /* the port's reference */
}

coil_deferred *coil_port_stop_listening_deferred(coil_port *port)
{
    if (port->h.closing)
        return coil_succeed(coil_result_none());
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    if (!d)
        return NULL;
    coil_port_stop_listening(port, stopped, coil_deferred_ref(d));
    return d;
}

/* ---- connecting ---------------------------------------------------------- */

typedef struct connect_ctx {
    coil_deferred *d; /* one reference until the connect callback runs */
    coil_connector *connector;
    coil_address addr;
} connect_ctx;

coil_failure *coil_connect_failure(const coil_address *addr, int err)
{
    char where[COIL_ADDRESS_STRLEN];
    coil_address_format(addr, where, sizeof(where));
    return coil_failure_new(COIL_NET_DOMAIN, err, "Connecting to %s failed: %s", where,
                            coil_strerror(err));
}

static void connected(void *arg, coil_protocol *p, int err)
{
    connect_ctx *c = arg;
    coil_deferred *d = c->d;
    if (d && !coil_deferred_called(d)) {
        if (err < 0)
            coil_deferred_errback(d, coil_connect_failure(&c->addr, err));
        else
            coil_deferred_callback(d, coil_result_value(p, NULL));
    }
    coil_deferred_unref(d);
    free(c);
}

/* Fire at once (Twisted's ConnectingCancelledError), then stop the attempt;
 * the connect callback that follows only drops its reference. */
static void cancel_connect(coil_deferred *d, void *arg)
{
    connect_ctx *c = arg;
    char where[COIL_ADDRESS_STRLEN];
    coil_address_format(&c->addr, where, sizeof(where));
    coil_deferred_errback(d, coil_failure_new(COIL_NET_DOMAIN, -ECANCELED,
                                              "Connecting to %s was cancelled", where));
    coil_connector_cancel(c->connector);
}

static coil_deferred *connect_common(coil_reactor *r, const coil_address *addr,
                                     const coil_connect_options *opts, coil_factory *f)
{
    connect_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->addr = *addr;
    coil_deferred *d = coil_deferred_new(cancel_connect, c);
    if (!d) {
        free(c);
        return NULL;
    }
    c->d = coil_deferred_ref(d);
    int rc;
    if (coil_address_family(addr) == AF_UNIX) {
        char path[sizeof(addr->u.un.sun_path) + 1];
        rc = coil_address_host(addr, path, sizeof(path));
        if (rc >= 0)
            rc = coil_connect_unix(r, path, opts, f, connected, c, &c->connector);
    } else {
        rc = coil_connect_tcp(r, addr, opts, f, connected, c, &c->connector);
    }
    if (rc < 0) {
        /* The callback will never run (libuv's rule): fail here. */
        coil_deferred_unref(c->d);
        c->d = NULL;
        coil_deferred_errback(d, coil_connect_failure(addr, rc));
        free(c);
    }
    return d;
}

coil_deferred *coil_connect_tcp_deferred(coil_reactor *r, const coil_address *addr,
                                         const coil_connect_options *opts, coil_factory *f)
{
    return connect_common(r, addr, opts, f);
}

coil_deferred *coil_connect_unix_deferred(coil_reactor *r, const char *path,
                                          const coil_connect_options *opts, coil_factory *f)
{
    coil_address addr;
    int rc = coil_address_from_unix(&addr, path);
    if (rc < 0)
        return coil_fail(coil_failure_new(COIL_NET_DOMAIN, rc, "Invalid UNIX path %s", path));
    return connect_common(r, &addr, opts, f);
}
