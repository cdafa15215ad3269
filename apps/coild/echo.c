/* SPDX-License-Identifier: MIT */
/*
 * `coild echo`: echoes every byte back (RFC 862 over TCP or UNIX).
 * The transport is registered as its own producer, so a client that sends
 * without reading stops being read once 64 KiB of echo are queued: memory
 * stays bounded. Half-close: the echo protocol is not half-closeable, so on
 * the client's FIN coil sends what is still queued, then closes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "plugin.h"

static void echo_made(coil_protocol *p)
{
    coil_transport_register_producer(p->transport, coil_transport_producer(p->transport), true);
}

static void echo_data(coil_protocol *p, const void *data, size_t len)
{
    coil_transport_write(p->transport, data, len);
}

static void echo_lost(coil_protocol *p, int reason)
{
    free(p);
}

static const coil_protocol_ops echo_ops = {
    .connection_made = echo_made,
    .data_received = echo_data,
    .connection_lost = echo_lost,
};

static coil_protocol *echo_build(coil_factory *f, const coil_address *addr)
{
    coil_protocol *p = calloc(1, sizeof(*p));
    if (p)
        p->ops = &echo_ops;
    return p;
}

static const coil_factory_ops echo_factory_ops = {.build_protocol = echo_build};
static coil_factory echo_factory = {.ops = &echo_factory_ops};

static void echo_usage(FILE *out)
{
    fprintf(out, "Usage: coild [options] echo --port PORT\n"
                 "  --port PORT   where to listen, a server endpoint description (default\n"
                 "                8000: TCP, all interfaces): tcp:8000:interface=127.0.0.1,\n"
                 "                unix:/run/echo.sock:mode=600, haproxy:tcp:9000,\n"
                 "                systemd:domain=INET:index=0 (see docs/ENDPOINTS.md);\n"
                 "                repeat --port to listen on several\n");
}

static int echo_start(coil_reactor *r, int argc, char **argv)
{
    coild_ports ports = {0};
    for (int i = 1; i < argc; i++) {
        int m = coild_opt_port(argc, argv, &i, &ports);
        if (m < 0)
            return -EINVAL;
        if (m == 0) {
            fprintf(stderr, "coild echo: unknown option '%s'\n", argv[i]);
            echo_usage(stderr);
            return -EINVAL;
        }
    }
    return coild_listen_all(r, &ports, "8000", &echo_factory);
}

const coild_plugin coild_echo_plugin = {
    .name = "echo",
    .description = "echo every byte back",
    .usage = echo_usage,
    .start = echo_start,
};
