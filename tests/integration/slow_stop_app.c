/* SPDX-License-Identifier: MIT */
/* An application with one service whose stop never completes, and one
 * open connection: coild --shutdown-timeout must give up waiting for it
 * and still close the connection and exit. */
#include <stdlib.h>

#include <coil/coil.h>

static coil_deferred *never; /* the stop Deferred that never fires by itself */

static coil_deferred *stuck_stop(coil_service *s)
{
    never = coil_deferred_new(NULL, NULL);
    return coil_deferred_ref(never);
}

static const coil_service_ops stuck_ops = {.stop = stuck_stop};
static coil_service stuck = {.ops = &stuck_ops, .name = "stuck"};

static void data(coil_protocol *p, const void *d, size_t n)
{
    coil_transport_write(p->transport, d, n);
}
static void lost(coil_protocol *p, int reason)
{
    coil_log(COIL_LOG_INFO, "slow_stop_app", "connection lost: %s",
             reason == COIL_ESHUTDOWN ? "shutdown" : coil_strerror(reason));
    free(p);
}
static const coil_protocol_ops proto_ops = {.data_received = data, .connection_lost = lost};
static coil_protocol *build(coil_factory *f, const coil_address *a)
{
    coil_protocol *p = calloc(1, sizeof(*p));
    if (p)
        p->ops = &proto_ops;
    return p;
}
static const coil_factory_ops fops = {.build_protocol = build};
static coil_factory factory = {.ops = &fops};
static coil_endpoint_service listener;
static coil_server_endpoint *endpoint;

static void destroy(coil_application *app)
{
    coil_endpoint_service_fini(&listener);
    coil_server_endpoint_free(endpoint);
    coil_deferred_unref(never);
    never = NULL;
}

COIL_MODULE_EXPORT int coil_application_main(coil_reactor *r, coil_application *app, int argc,
                                             char **argv)
{
    char err[256];
    if (argc < 2 || coil_server_from_string(r, argv[1], &endpoint, err, sizeof(err)) < 0)
        return -22;
    coil_endpoint_service_init(&listener, endpoint, &factory);
    app->destroy = destroy;
    coil_service_add(&app->service, &listener.service);
    return coil_service_add(&app->service, &stuck);
}
