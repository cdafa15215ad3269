/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "plugin.h"

static int parse_uint(const char *s, unsigned long max, int base, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, base);
    if (!*s || *end || errno || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* Port services live until coild exits. */
static coil_port_service *services[16];
static size_t nservices;

void coild_listen_cleanup(void)
{
    for (size_t i = 0; i < nservices; i++) {
        coil_service_fini(&services[i]->service);
        free((char *)services[i]->unix_path);
        free(services[i]);
    }
    nservices = 0;
}

static void announce(coil_port *p)
{
    coil_address a;
    char where[COIL_ADDRESS_STRLEN];
    coil_port_get_host(p, &a);
    coil_address_format(&a, where, sizeof(where));
    /* A plain line for people and scripts; JSON output stays pure JSON. */
    if (!coild_json_output) {
        printf("coild: listening on %s\n", where);
        fflush(stdout);
    }
}

int coild_listen(coil_reactor *r, const char *desc, coil_factory *f, coil_port **out)
{
    char *copy = strdup(desc);
    if (!copy)
        return -ENOMEM;
    const char *type = "tcp", *first = copy, *iface = NULL;
    unsigned long port = 0, mode = 0, backlog = 0;
    char *colon = strchr(copy, ':');
    if (colon) {
        *colon = '\0';
        type = copy;
        first = colon + 1;
    }
    int rc = 0;
    char *rest = strchr(first, ':');
    if (rest)
        *rest++ = '\0';
    const char *path = first;
    while (rest && rc == 0) {
        char *kv = rest;
        rest = strchr(rest, ':');
        if (rest)
            *rest++ = '\0';
        char *eq = strchr(kv, '=');
        if (!eq) {
            rc = -EINVAL;
            break;
        }
        *eq++ = '\0';
        if (strcmp(kv, "interface") == 0)
            iface = eq;
        else if (strcmp(kv, "backlog") == 0)
            rc = parse_uint(eq, 65535, 10, &backlog);
        else if (strcmp(kv, "mode") == 0)
            rc = parse_uint(eq, 07777, 8, &mode);
        else
            rc = -EINVAL;
    }
    if (strncmp(path, "address=", 8) == 0)
        path += 8;
    /* A server's default backlog is SOMAXCONN (as nginx's 511 or more), not
     * the library's Twisted default of 50: with 50, a burst of connects
     * overflows the queue and clients wait for SYN retransmits (seconds). */
    coil_listen_options o = {.backlog = backlog ? (int)backlog : SOMAXCONN,
                             .mode = (unsigned)mode};
    /* The port runs as a service, as twistd runs strports: shutdown stops
     * it (and waits for the port to close) before connections are closed. */
    coil_port_service *ps = nservices < 16 ? calloc(1, sizeof(*ps)) : NULL;
    if (!ps)
        rc = -ENOMEM;
    if (rc == 0 && strcmp(type, "unix") == 0) {
        coil_port_service_init_unix(ps, r, strdup(path), &o, f);
    } else if (rc == 0 && (strcmp(type, "tcp") == 0 || strcmp(type, "tcp6") == 0)) {
        coil_address a;
        rc = parse_uint(first, 65535, 10, &port);
        if (rc == 0)
            rc = coil_address_from_ip(&a, iface ? iface : (type[3] == '6' ? "::" : ""),
                                      (uint16_t)port);
        if (rc == 0)
            coil_port_service_init_tcp(ps, r, &a, &o, f);
    } else if (rc == 0) {
        rc = -EINVAL;
    }
    if (rc == 0)
        rc = coil_service_run_under(&ps->service, r);
    if (rc == 0) {
        *out = ps->port;
        services[nservices++] = ps;
    } else if (ps) {
        free((char *)ps->unix_path);
        free(ps);
    }
    if (rc == -EINVAL)
        fprintf(stderr, "coild: invalid port description '%s'\n", desc);
    else if (rc < 0)
        fprintf(stderr, "coild: cannot listen on '%s': %s\n", desc, coil_strerror(rc));
    else
        announce(*out);
    free(copy);
    return rc;
}
