/* SPDX-License-Identifier: MIT */
/*
 * `coild proxy`: a TCP port forwarder (Twisted's portforward):
 * `coild proxy --port tcp:8000 --target tcp:host=127.0.0.1:port=9000`.
 * Every connection accepted on --port is joined to a new connection to
 * --target (any client endpoint description); bytes pass both ways with
 * back-pressure, half-closes pass through (forward.c).
 */
#include <errno.h>
#include <stdlib.h>

#include "forward.h"
#include "options.h"
#include "plugin.h"

/* Live until coild exits (the port's connections use them). */
static coild_forward forwarder;
static coil_client_endpoint *target;

static void proxy_usage(FILE *out)
{
    fprintf(out,
            "Usage: coild [options] proxy --port PORT --target TARGET\n"
            "  --port PORT     where to listen, a server endpoint description (default\n"
            "                  8000: TCP, all interfaces), e.g. tcp:8000:interface=127.0.0.1\n"
            "  --target DESC   where to forward each connection, a client endpoint\n"
            "                  description: tcp:host=127.0.0.1:port=9000, tcp:example.com:80,\n"
            "                  unix:/run/app.sock (see docs/ENDPOINTS.md)\n");
}

static int proxy_start(coil_reactor *r, int argc, char **argv)
{
    coild_ports ports = {0};
    const char *desc = NULL;
    for (int i = 1; i < argc; i++) {
        int m = coild_opt_port(argc, argv, &i, &ports);
        if (m == 0)
            m = coild_opt(argc, argv, &i, "target", &desc);
        if (m < 0)
            return -EINVAL;
        if (m == 0) {
            fprintf(stderr, "coild proxy: unknown option '%s'\n", argv[i]);
            proxy_usage(stderr);
            return -EINVAL;
        }
    }
    if (!desc) {
        fprintf(stderr, "coild proxy: --target is required\n");
        proxy_usage(stderr);
        return -EINVAL;
    }
    char err[512] = "";
    coil_client_endpoint_free(target);
    target = NULL;
    int rc = coil_client_from_string(r, desc, &target, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "coild: invalid --target '%s': %s\n", desc, err);
        return rc == -ENOMEM ? rc : -EINVAL;
    }
    coil_log(COIL_LOG_INFO, "coild.proxy", "forwarding to %s", desc);
    coild_forward_init(&forwarder, target);
    return coild_listen_all(r, &ports, "8000", &forwarder.base);
}

const coild_plugin coild_proxy_plugin = {
    .name = "proxy",
    .description = "forward TCP connections to a target endpoint",
    .usage = proxy_usage,
    .start = proxy_start,
};
