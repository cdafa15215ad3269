/* SPDX-License-Identifier: MIT */
/* Tutorial, chapter 6: an application for coild (the C version of a .tac
 * file). Build it as a shared object, run it with
 *   coild -n -y ./echo_app.so tcp:8000:interface=127.0.0.1 */
#include <coil/coil.h>
#include <errno.h>
#include <stdlib.h>

static void echo_data(coil_protocol *p, const void *data, size_t len)
{
    coil_transport_write(p->transport, data, len);
}

static void echo_lost(coil_protocol *p, int reason COIL_UNUSED)
{
    free(p);
}

static const coil_protocol_ops echo_ops = {.data_received = echo_data,
                                           .connection_lost = echo_lost};
static coil_protocol_factory factory;
static coil_listen_service *listener;

static void destroy(coil_application *app COIL_UNUSED) /* after the services stopped */
{
    coil_listen_service_free(listener);
}

COIL_MODULE_EXPORT int coil_application_main(coil_reactor *r, coil_application *app, int argc,
                                             char **argv)
{
    char err[256];
    coil_protocol_factory_init(&factory, sizeof(coil_protocol), &echo_ops, NULL);
    if (coil_strports_service_new(r, argc > 1 ? argv[1] : "tcp:8000", &factory.base, &listener,
                                  err, sizeof(err)) < 0) {
        coil_log(COIL_LOG_ERROR, "echo_app", "%s", err);
        return -EINVAL;
    }
    app->destroy = destroy;
    return coil_service_add(&app->service, coil_listen_service_service(listener));
}
