/* SPDX-License-Identifier: MIT */
/* A service that listens on a server endpoint while it runs (Twisted's
 * StreamServerEndpointService). */
#include <errno.h>
#include <stdlib.h>

#include <coil/log.h>

#include "endpoint_int.h"

static coil_result listened(coil_result r, void *arg)
{
    coil_endpoint_service *s = arg;
    coil_deferred_unref(s->pending);
    s->pending = NULL;
    if (coil_result_is_failure(r)) {
        coil_failure_unref(s->failure);
        s->failure = coil_failure_ref(r.failure);
        /* start() returns an immediate failure to its caller; stop()
         * cancels on purpose. Anything else would go unnoticed: log it. */
        if (!s->starting && coil_failure_code(s->failure) != -ECANCELED)
            coil_log(COIL_LOG_ERROR, "coil.service", "%s", coil_failure_message(s->failure));
        coil_result_release(r);
        return coil_result_none();
    }
    s->port = coil_result_ptr(r);
    if (s->on_listening)
        s->on_listening(s, s->port);
    return r;
}

static int endpoint_service_start(coil_service *svc)
{
    coil_endpoint_service *s = (coil_endpoint_service *)svc;
    coil_deferred *d = coil_server_endpoint_listen(s->endpoint, s->factory);
    if (!d)
        return -ENOMEM;
    /* `pending` holds the caller's reference until the listen fires. */
    s->pending = d;
    coil_deferred_ref(d);
    s->starting = true;
    int rc = coil_deferred_add_both(d, listened, s);
    s->starting = false;
    if (rc < 0) {
        coil_deferred_cancel(d);
        coil_deferred_unref(d);
        coil_deferred_unref(s->pending);
        s->pending = NULL;
        return rc;
    }
    bool failed_now = !s->port && !s->pending;
    coil_deferred_unref(d);
    if (failed_now && s->failure)
        return coil_failure_code(s->failure) < 0 ? coil_failure_code(s->failure) : -EIO;
    return 0;
}

static coil_deferred *endpoint_service_stop(coil_service *svc)
{
    coil_endpoint_service *s = (coil_endpoint_service *)svc;
    if (s->pending) {
        coil_deferred_cancel(s->pending); /* listened() drops it */
        return NULL;
    }
    coil_port *p = s->port;
    s->port = NULL;
    return p ? coil_port_stop_listening_deferred(p) : NULL;
}

static const coil_service_ops endpoint_service_ops = {
    .start = endpoint_service_start,
    .stop = endpoint_service_stop,
};

void coil_endpoint_service_init(coil_endpoint_service *s, coil_server_endpoint *ep,
                                coil_factory *factory)
{
    *s = (coil_endpoint_service){0};
    s->service.ops = &endpoint_service_ops;
    s->endpoint = ep;
    s->factory = factory;
}

void coil_endpoint_service_fini(coil_endpoint_service *s)
{
    coil_failure_unref(s->failure);
    s->failure = NULL;
    coil_service_fini(&s->service);
}
