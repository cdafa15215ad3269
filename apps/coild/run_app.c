/* SPDX-License-Identifier: MIT */
/*
 * Running the application under the reactor (twistd's startApplication):
 * start it now, and stop it in the "before shutdown" phase through its
 * services' Deferreds, which the reactor waits for. The wait is bounded
 * (--shutdown-timeout): after that the stop is given up and the reactor's
 * "during shutdown" phase aborts the connections that are left (RST).
 */
#include <errno.h>

#include "runner.h"

typedef struct run_ctx {
    coil_application *app;
    coil_reactor *r;
    double timeout;
} run_ctx;

static run_ctx ctx;

static coil_result stop_timed_out(coil_result result, double timeout, void *arg)
{
    coil_result_release(result);
    coil_log(COIL_LOG_WARN, "coild",
             "The services did not stop within %g s (--shutdown-timeout); aborting the remaining "
             "connections.",
             timeout);
    coil_reactor_set_shutdown_abort(ctx.r, true);
    return coil_result_none();
}

static coil_deferred *stop_application(void *arg)
{
    run_ctx *c = arg;
    coil_deferred *d = coil_service_stop(&c->app->service);
    if (d && c->timeout > 0 && !coil_deferred_called(d))
        coil_deferred_add_timeout_full(d, coil_reactor_clock(c->r), c->timeout, stop_timed_out,
                                       NULL, NULL);
    return d;
}

/* Listening services: coil_endpoint_service, coil_port_service and
 * coil_listen_service (strports.service), recognised by their ops tables
 * (learnt once from a sample of each, which never listens). */
static const coil_service_ops *listening_ops[3];

static void learn_listening_ops(coil_reactor *r)
{
    if (listening_ops[0])
        return;
    coil_endpoint_service es;
    coil_endpoint_service_init(&es, NULL, NULL);
    listening_ops[0] = es.service.ops;
    coil_endpoint_service_fini(&es);
    coil_port_service ps;
    coil_address any = {0};
    coil_port_service_init_tcp(&ps, NULL, &any, NULL, NULL);
    listening_ops[1] = ps.service.ops;
    static const coil_factory_ops no_ops = {0};
    coil_factory none = {.ops = &no_ops};
    coil_listen_service *ls;
    char err[64];
    if (coil_strports_service_new(r, "tcp:0:interface=127.0.0.1", &none, &ls, err,
                                  sizeof(err)) == 0) {
        listening_ops[2] = coil_listen_service_service(ls)->ops;
        coil_listen_service_free(ls);
    }
}

static bool binds_a_port(const coil_service *s)
{
    for (size_t i = 0; i < 3; i++)
        if (listening_ops[i] && s->ops == listening_ops[i])
            return true;
    return false;
}

static int start_listeners(coil_service *s)
{
    for (size_t i = 0; i < s->nchildren; i++) {
        coil_service *child = s->children[i];
        int rc = binds_a_port(child) ? coil_service_start(child) : start_listeners(child);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int coild_privileged_start(coil_reactor *r, coil_service *s)
{
    learn_listening_ops(r);
    return start_listeners(s);
}

int coild_stop_started(coil_reactor *r, coil_service *s)
{
    int rc = 0;
    for (size_t i = s->nchildren; i-- > 0;) {
        coil_service *child = s->children[i];
        if (!child->running) {
            coild_stop_started(r, child);
            continue;
        }
        coil_deferred *d = coil_service_stop(child);
        while (d && !coil_deferred_called(d) && rc >= 0)
            rc = coil_reactor_iterate(r, -1);
        coil_deferred_unref(d);
    }
    return rc;
}

int coild_run_application(coil_reactor *r, coil_application *app, double timeout)
{
    ctx = (run_ctx){.app = app, .r = r, .timeout = timeout};
    long id = coil_reactor_add_trigger_deferred(r, COIL_PHASE_BEFORE, COIL_EVENT_SHUTDOWN,
                                                stop_application, &ctx);
    if (id < 0)
        return (int)id;
    int rc = coil_service_start(&app->service);
    if (rc < 0 && !app->service.running)
        coil_reactor_remove_trigger(r, id);
    return rc;
}
