/* SPDX-License-Identifier: MIT */
/* Outgoing connections: a connector is a transport in the CONNECTING state. */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

static int connect_to(coil_reactor *r, const coil_address *addr, const coil_connect_options *opts,
                      coil_factory *f, coil_connect_cb cb, void *arg, coil_connector **out)
{
    coil_connect_options o = opts ? *opts : (coil_connect_options){0};
    int family = coil_address_family(addr);
    if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
        return -EAFNOSUPPORT;
    int fd = r->be->connect_socket(family, o.bind_address);
    if (fd < 0)
        return fd;
    coil_transport *t = coil__transport_new(r, fd, family != AF_UNIX);
    if (!t) {
        r->be->discard(fd);
        return -ENOMEM;
    }
    t->flags |= COIL__T_CONNECTING;
    t->factory = f;
    t->connect_cb = cb;
    t->connect_arg = arg;
    coil_factory_do_start(f);
    double secs = o.timeout == 0 ? 30.0 : o.timeout;
    int64_t timeout_ns = secs < 0 ? -1 : (int64_t)(secs * 1e9);
    /* From here on every outcome, even an immediate failure, reaches cb
     * from the loop: a backend that cannot start the connect (no memory)
     * closes the connector with its error, which the endgame reports. */
    int rc = r->be->connect(t, addr, timeout_ns);
    if (rc < 0) {
        t->flags &= ~COIL__T_CONNECTING;
        coil__transport_close(t, rc, true);
    }
    if (out)
        *out = (coil_connector *)t;
    return 0;
}

int coil_connect_tcp(coil_reactor *r, const coil_address *addr, const coil_connect_options *opts,
                     coil_factory *f, coil_connect_cb cb, void *arg, coil_connector **out)
{
    int family = coil_address_family(addr);
    if (family != AF_INET && family != AF_INET6)
        return -EAFNOSUPPORT;
    return connect_to(r, addr, opts, f, cb, arg, out);
}

int coil_connect_unix(coil_reactor *r, const char *path, const coil_connect_options *opts,
                      coil_factory *f, coil_connect_cb cb, void *arg, coil_connector **out)
{
    coil_address addr;
    int rc = coil_address_from_unix(&addr, path);
    if (rc < 0)
        return rc;
    return connect_to(r, &addr, opts, f, cb, arg, out);
}

void coil__transport_on_connected(coil_transport *t, int err)
{
    t->flags &= ~COIL__T_CONNECTING;
    if (t->h.closing)
        return; /* cancelled: the endgame reports it */
    if (err < 0) {
        coil__transport_close(t, err, false);
        return;
    }
    coil_address peer = {0};
    t->h.r->be->sockname(t, true, &peer);
    coil_protocol *p = t->factory->ops->build_protocol(t->factory, &peer);
    if (!p) {
        coil__transport_close(t, COIL_ENOPROTOCOL, false);
        return;
    }
    p->factory = t->factory;
    coil_connect_cb cb = t->connect_cb;
    t->connect_cb = NULL;
    coil__transport_attach(t, p);
    /* As Twisted's connect Deferred: fires after connection_made. The
     * transport cannot be freed before the loop's endgame, so `p` is valid. */
    cb(t->connect_arg, p, 0);
}

void coil_connector_set_factory(coil_connector *c, coil_factory *f)
{
    c->t.factory = f;
}

void coil_connector_cancel(coil_connector *c)
{
    coil_transport *t = &c->t;
    if (!(t->flags & COIL__T_CONNECTING) || t->h.closing)
        return;
    coil__transport_close(t, -ECANCELED, true);
}
