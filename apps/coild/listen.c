/* SPDX-License-Identifier: MIT */
/*
 * --port: any server endpoint description (as twistd's strports), run as a
 * StreamServerEndpointService, a child of the application, so shutdown
 * stops the port (and waits for it to close) before connections are
 * closed. The port is bound at once (before privileges are dropped: the
 * privileged start); every --port adds one listener.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "plugin.h"

typedef struct listener {
    coil_endpoint_service service;
    coil_server_endpoint *endpoint;
} listener;

/* Listeners live until coild exits. */
static listener *listeners[64];
static size_t nlisteners;
static coil_application *application;

void coild_listen_set_application(coil_application *app)
{
    application = app;
}

void coild_listen_cleanup(void)
{
    for (size_t i = 0; i < nlisteners; i++) {
        coil_endpoint_service_fini(&listeners[i]->service);
        coil_server_endpoint_free(listeners[i]->endpoint);
        free(listeners[i]);
    }
    nlisteners = 0;
}

static void announce(coil_endpoint_service *s, coil_port *p)
{
    coil_address a;
    char where[COIL_ADDRESS_STRLEN] = "?";
    if (coil_port_get_host(p, &a) == 0)
        coil_address_format(&a, where, sizeof(where));
    /* A plain line for people and scripts; JSON output stays pure JSON. */
    if (!coild_json_output) {
        printf("coild: listening on %s\n", where);
        fflush(stdout);
    }
}

/* A server's default backlog is SOMAXCONN (as nginx's 511 or more), not
 * Twisted's 50: with 50, a burst of connects overflows the queue and
 * clients wait for SYN retransmits (seconds). */
static void default_backlog(coil_server_desc *d)
{
    if (d->kind == COIL_SERVER_HAPROXY)
        default_backlog(d->u.haproxy.inner);
    else if (d->kind == COIL_SERVER_TCP || d->kind == COIL_SERVER_TCP6)
        d->u.tcp.backlog = SOMAXCONN;
    else if (d->kind == COIL_SERVER_UNIX)
        d->u.un.backlog = SOMAXCONN;
    else if (d->kind == COIL_SERVER_SSL)
        d->u.ssl.backlog = SOMAXCONN;
}

static int make_endpoint(coil_reactor *r, const char *desc, coil_server_endpoint **out)
{
    char err[512] = "";
    coil_server_desc *d = NULL;
    int rc = coil_server_desc_parse(desc, &d, err, sizeof(err));
    /* Given by keyword or by position; for haproxy: the wrapped one's. */
    if (rc == 0 && !coil_server_desc_given(d, "backlog"))
        default_backlog(d);
    if (rc == 0)
        rc = coil_server_endpoint_from_desc(r, d, out, err, sizeof(err));
    coil_server_desc_free(d);
    if (rc < 0)
        fprintf(stderr, "coild: invalid --port '%s': %s\n", desc, err);
    return rc;
}

int coild_listen(coil_reactor *r, const char *desc, coil_factory *f)
{
    if (nlisteners == sizeof(listeners) / sizeof(listeners[0])) {
        fprintf(stderr, "coild: too many ports\n");
        return -EINVAL;
    }
    listener *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    int rc = make_endpoint(r, desc, &l->endpoint);
    if (rc < 0) {
        free(l);
        /* A description that cannot work is a usage error (exit 2);
         * ENOTLS too: the build cannot serve ssl: at all. */
        return rc == -ENOMEM ? rc : -EINVAL;
    }
    coil_endpoint_service_init(&l->service, l->endpoint, f);
    l->service.on_listening = announce;
    listeners[nlisteners++] = l; /* freed by coild_listen_cleanup() */
    if (application) {
        rc = coil_service_start(&l->service.service);
        if (rc == 0 || l->service.service.running)
            coil_service_add(&application->service, &l->service.service); /* -ENOMEM aside */
    } else {
        rc = coil_service_run_under(&l->service.service, r);
    }
    if (rc < 0)
        fprintf(stderr, "coild: %s\n",
                l->service.failure ? coil_failure_message(l->service.failure)
                                   : coil_strerror(rc));
    return rc == -EINVAL ? -EIO : rc; /* not a usage error: exit 1 */
}

int coild_listen_all(coil_reactor *r, const coild_ports *ports, const char *fallback,
                     coil_factory *f)
{
    if (ports->n == 0)
        return coild_listen(r, fallback, f);
    for (size_t i = 0; i < ports->n; i++) {
        int rc = coild_listen(r, ports->desc[i], f);
        if (rc < 0)
            return rc;
    }
    return 0;
}
