/* SPDX-License-Identifier: MIT */
/*
 * `coild udpecho`: echoes every datagram back to its sender (RFC 862 over
 * UDP), on `--port udp:PORT:interface=ADDR` or on a UNIX datagram socket
 * (`--port unix:/run/echo.sock`). The port runs as a datagram service, so
 * shutdown closes it the way twistd stops a UDPServer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "plugin.h"

static void echo_datagram(coil_datagram_protocol *p, const void *data, size_t len,
                          const coil_address *from)
{
    if (from->len <= sizeof(sa_family_t))
        return; /* an unbound UNIX sender cannot be answered */
    int rc = coil_datagram_write(p->transport, data, len, from);
    if (rc < 0 && rc != -EAGAIN)
        coil_log(COIL_LOG_DEBUG, "coild.udpecho", "echo: %s", coil_strerror(rc));
}

static void announce(coil_datagram_protocol *p)
{
    coil_address a;
    char where[COIL_ADDRESS_STRLEN] = "?";
    if (coil_datagram_get_host(p->transport, &a) == 0)
        coil_address_format(&a, where, sizeof(where));
    if (!coild_json_output) {
        printf("coild: listening on %s (%s)\n", where,
               coil_address_family(&a) == AF_UNIX ? "UNIX datagrams" : "UDP");
        fflush(stdout);
    }
}

static const coil_datagram_protocol_ops echo_ops = {
    .start_protocol = announce,
    .datagram_received = echo_datagram,
};

/* Live until coild exits. */
static coil_datagram_protocol echo = {.ops = &echo_ops};
static coil_datagram_service service;
static char *unix_path;

static void udpecho_usage(FILE *out)
{
    fprintf(out, "Usage: coild [options] udpecho --port PORT\n"
                 "  --port PORT   where to receive datagrams (default udp:8000):\n"
                 "                udp:PORT:interface=ADDR (ADDR \"\" is every IPv4 address,\n"
                 "                :: every address), or unix:/run/echo.sock:mode=600 for a\n"
                 "                UNIX datagram socket (see docs/UDP.md)\n");
}

static int setup(coil_reactor *r, const char *desc)
{
    char err[512] = "";
    coil_server_desc *d = NULL;
    int rc = coil_server_desc_parse(desc, &d, err, sizeof(err));
    if (rc == 0 && d->kind == COIL_SERVER_UDP) {
        coil_address a;
        if (coil_address_from_ip(&a, d->u.udp.interface, d->u.udp.port) < 0)
            rc = coil_endpoint_errorf(err, sizeof(err),
                                      "udp: invalid interface '%s' (must be an IP address)",
                                      d->u.udp.interface);
        else
            coil_udp_service_init(&service, r, &a, &echo);
    } else if (rc == 0 && d->kind == COIL_SERVER_UNIX) {
        free(unix_path);
        unix_path = strdup(d->u.un.address);
        if (!unix_path)
            rc = -ENOMEM;
        else
            coil_unix_datagram_server_init(&service, r, unix_path, d->u.un.mode, &echo);
    } else if (rc == 0) {
        rc = coil_endpoint_errorf(err, sizeof(err),
                                  "%s: not a datagram endpoint type (udp or unix)", d->type);
    }
    coil_server_desc_free(d);
    if (rc < 0)
        fprintf(stderr, "coild: invalid --port '%s': %s\n", desc, err);
    return rc;
}

static int udpecho_start(coil_reactor *r, int argc, char **argv)
{
    coild_ports ports = {0};
    for (int i = 1; i < argc; i++) {
        int m = coild_opt_port(argc, argv, &i, &ports);
        if (m < 0)
            return -EINVAL;
        if (m == 0) {
            fprintf(stderr, "coild udpecho: unknown option '%s'\n", argv[i]);
            udpecho_usage(stderr);
            return -EINVAL;
        }
    }
    if (ports.n > 1) { /* one datagram socket: refused rather than ignored */
        fprintf(stderr, "coild udpecho: --port given %zu times (udpecho listens on one)\n", ports.n);
        return -EINVAL;
    }
    const char *port = ports.n ? ports.desc[0] : "udp:8000";
    int rc = setup(r, port);
    if (rc < 0)
        return rc == -ENOMEM ? rc : -EINVAL;
    rc = coil_service_run_under(&service.service, r);
    if (rc < 0) {
        fprintf(stderr, "coild: Couldn't listen on %s: %s.\n", port, coil_strerror(rc));
        return rc == -EINVAL ? -EIO : rc;
    }
    return 0;
}

const coild_plugin coild_udpecho_plugin = {
    .name = "udpecho",
    .description = "echo every datagram back (UDP or UNIX datagrams)",
    .usage = udpecho_usage,
    .start = udpecho_start,
};
