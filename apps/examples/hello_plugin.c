/* SPDX-License-Identifier: MIT */
/*
 * A plugin module for `coild --plugin`: adds the subcommand `hello`, which
 * greets every client and closes.
 *
 *   coild -n --plugin ./hello_plugin.so hello [--port DESC] [--greeting TEXT]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/coil.h>

static const char *greeting = "hello";

static void hello_made(coil_protocol *p)
{
    coil_transport_write(p->transport, greeting, strlen(greeting));
    coil_transport_write(p->transport, "\r\n", 2);
    coil_transport_lose_connection(p->transport);
}

static void hello_data(coil_protocol *p, const void *data, size_t len)
{
}

static void hello_lost(coil_protocol *p, int reason)
{
    free(p);
}

static const coil_protocol_ops hello_ops = {
    .connection_made = hello_made, .data_received = hello_data, .connection_lost = hello_lost};

static coil_protocol *hello_build(coil_factory *f, const coil_address *peer)
{
    coil_protocol *p = calloc(1, sizeof(*p));
    if (p)
        p->ops = &hello_ops;
    return p;
}

static const coil_factory_ops hello_factory_ops = {.build_protocol = hello_build};
static coil_factory hello_factory = {.ops = &hello_factory_ops};
static coil_endpoint_service service;
static coil_server_endpoint *endpoint;

static void destroy(coil_application *app)
{
    coil_endpoint_service_fini(&service);
    coil_server_endpoint_free(endpoint);
    endpoint = NULL;
}

static int hello_main(coil_reactor *r, coil_application *app, int argc, char **argv)
{
    const char *port = "tcp:8007";
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--port") == 0) {
            port = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--greeting") == 0) {
            greeting = argv[++i];
        } else {
            fprintf(stderr, "coild hello: unknown option '%s'\n", argv[i]);
            return -EINVAL;
        }
    }
    char err[256];
    if (coil_server_from_string(r, port, &endpoint, err, sizeof(err)) < 0) {
        fprintf(stderr, "coild hello: invalid --port '%s': %s\n", port, err);
        return -EINVAL;
    }
    coil_endpoint_service_init(&service, endpoint, &hello_factory);
    app->destroy = destroy;
    return coil_service_add(&app->service, &service.service);
}

COIL_MODULE_EXPORT const coil_plugin_descriptor coil_plugin = {
    .abi = COIL_PLUGIN_ABI,
    .name = "hello",
    .description = "greet every client, then close (an example plugin module)",
    .usage = "Usage: coild [options] hello [--port DESC] [--greeting TEXT]\n"
             "  --port DESC      where to listen (default tcp:8007)\n"
             "  --greeting TEXT  what to send (default hello)\n",
    .make_service = hello_main,
};
