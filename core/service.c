/* SPDX-License-Identifier: MIT */
/* Service trees and the listening-port service (Twisted's
 * application/service.py and StreamServerEndpointService). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <coil/log.h>
#include <coil/net_deferred.h>
#include <coil/service.h>

int coil_service_start(coil_service *s)
{
    if (s->running)
        return 0;
    if (s->ops && s->ops->start) {
        int rc = s->ops->start(s);
        if (rc < 0)
            return rc;
    }
    s->running = true;
    int first = 0;
    for (size_t i = 0; i < s->nchildren; i++) {
        int rc = coil_service_start(s->children[i]);
        if (rc < 0 && first == 0)
            first = rc;
    }
    return first;
}

typedef struct stop_ctx {
    coil_service *s;
} stop_ctx;

/* After the children: stop the service itself; its Deferred (or none)
 * becomes the result of the whole stop. */
static coil_result stop_self(coil_result children, void *arg)
{
    coil_service *s = arg;
    coil_result_release(children);
    coil_deferred *own = s->ops && s->ops->stop ? s->ops->stop(s) : NULL;
    return own ? coil_result_deferred(own) : coil_result_none();
}

coil_deferred *coil_service_stop(coil_service *s)
{
    if (!s->running)
        return coil_succeed(coil_result_none());
    s->running = false;
    /* As MultiService: every child is asked to stop, last added first,
     * and the list fires once all of them did. */
    coil_deferred **ds = calloc(s->nchildren ? s->nchildren : 1, sizeof(*ds));
    if (!ds)
        return NULL;
    size_t n = 0;
    for (size_t i = s->nchildren; i-- > 0;) {
        coil_deferred *d = coil_service_stop(s->children[i]);
        if (d)
            ds[n++] = d;
    }
    coil_deferred *all = coil_deferred_list(ds, n, false, false, true);
    for (size_t i = 0; i < n; i++)
        coil_deferred_unref(ds[i]);
    free(ds);
    if (!all)
        return NULL;
    coil_deferred_add_callback(all, stop_self, s);
    return all;
}

int coil_service_add(coil_service *parent, coil_service *child)
{
    if (child->parent)
        return -EBUSY;
    for (size_t i = 0; child->name && i < parent->nchildren; i++) {
        const char *other = parent->children[i]->name;
        if (other && strcmp(other, child->name) == 0)
            return -EEXIST;
    }
    coil_service **c = realloc(parent->children, (parent->nchildren + 1) * sizeof(*c));
    if (!c)
        return -ENOMEM;
    parent->children = c;
    c[parent->nchildren++] = child;
    child->parent = parent;
    return parent->running ? coil_service_start(child) : 0;
}

coil_deferred *coil_service_remove(coil_service *parent, coil_service *child)
{
    for (size_t i = 0; i < parent->nchildren; i++) {
        if (parent->children[i] != child)
            continue;
        memmove(&parent->children[i], &parent->children[i + 1],
                (parent->nchildren - i - 1) * sizeof(*parent->children));
        parent->nchildren--;
        child->parent = NULL;
        return parent->running ? coil_service_stop(child) : coil_succeed(coil_result_none());
    }
    return coil_fail(coil_failure_new("coil.service", -ENOENT, "not a child of this service"));
}

void coil_service_fini(coil_service *s)
{
    free(s->children);
    s->children = NULL;
    s->nchildren = 0;
}

/* ---- listening-port service ---------------------------------------------- */

static int port_service_start(coil_service *s)
{
    coil_port_service *ps = (coil_port_service *)s;
    if (ps->unix_path)
        return coil_listen_unix(ps->reactor, ps->unix_path, &ps->options, ps->factory, &ps->port);
    return coil_listen_tcp(ps->reactor, &ps->addr, &ps->options, ps->factory, &ps->port);
}

static coil_deferred *port_service_stop(coil_service *s)
{
    coil_port_service *ps = (coil_port_service *)s;
    coil_port *port = ps->port;
    ps->port = NULL;
    return port ? coil_port_stop_listening_deferred(port) : NULL;
}

static const coil_service_ops port_service_ops = {
    .start = port_service_start,
    .stop = port_service_stop,
};

void coil_port_service_init_tcp(coil_port_service *ps, coil_reactor *r, const coil_address *addr,
                                const coil_listen_options *opts, coil_factory *f)
{
    memset(ps, 0, sizeof(*ps));
    ps->service.ops = &port_service_ops;
    ps->reactor = r;
    ps->addr = *addr;
    if (opts)
        ps->options = *opts;
    ps->factory = f;
}

void coil_port_service_init_unix(coil_port_service *ps, coil_reactor *r, const char *path,
                                 const coil_listen_options *opts, coil_factory *f)
{
    memset(ps, 0, sizeof(*ps));
    ps->service.ops = &port_service_ops;
    ps->reactor = r;
    ps->unix_path = path;
    if (opts)
        ps->options = *opts;
    ps->factory = f;
}

/* ---- running under a reactor ----------------------------------------------- */

static coil_deferred *stop_for_shutdown(void *arg)
{
    return coil_service_stop(arg);
}

int coil_service_run_under(coil_service *s, coil_reactor *r)
{
    long id = coil_reactor_add_trigger_deferred(r, COIL_PHASE_BEFORE, COIL_EVENT_SHUTDOWN,
                                                stop_for_shutdown, s);
    if (id < 0)
        return (int)id;
    int rc = coil_service_start(s);
    if (rc < 0 && !s->running)
        coil_reactor_remove_trigger(r, id); /* nothing to stop at shutdown */
    return rc;
}
