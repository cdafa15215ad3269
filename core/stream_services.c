/* SPDX-License-Identifier: MIT */
/*
 * Service forms of listen/connect calls. Servers build on
 * coil_endpoint_service (its start and stop do the listening); clients are
 * client services in "once" mode with a description parsed at start.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/endpoint_desc.h>
#include <coil/log.h>
#include <coil/stream_services.h>

#include "client_service_int.h"

/* ---- servers ------------------------------------------------------------- */

struct coil_listen_service {
    coil_endpoint_service es; /* first: its service is ours */
    const coil_service_ops *inner; /* coil_endpoint_service's start/stop */
    coil_reactor *reactor;
    char *desc;
    coil_server_endpoint *ep; /* owned; built at start when NULL */
    char error[256];
};

static int listen_start(coil_service *s)
{
    coil_listen_service *ls = (coil_listen_service *)s;
    ls->error[0] = '\0';
    if (!ls->ep) {
        int rc = coil_server_from_string(ls->reactor, ls->desc, &ls->ep, ls->error,
                                         sizeof(ls->error));
        if (rc < 0) {
            coil_log(COIL_LOG_ERROR, "coil.service", "cannot listen on %s: %s", ls->desc,
                     ls->error);
            return rc;
        }
        ls->es.endpoint = ls->ep;
    }
    int rc = ls->inner->start(s);
    if (rc < 0 && ls->es.failure)
        snprintf(ls->error, sizeof(ls->error), "%s", coil_failure_message(ls->es.failure));
    return rc;
}

static coil_deferred *listen_stop(coil_service *s)
{
    coil_listen_service *ls = (coil_listen_service *)s;
    return ls->inner->stop(s);
}

static const coil_service_ops listen_ops = {
    .start = listen_start,
    .stop = listen_stop,
};

static coil_listen_service *listen_new(coil_reactor *r, char *desc, coil_factory *factory)
{
    coil_listen_service *ls = calloc(1, sizeof(*ls));
    if (!ls) {
        free(desc);
        return NULL;
    }
    coil_endpoint_service_init(&ls->es, NULL, factory);
    ls->inner = ls->es.service.ops;
    ls->es.service.ops = &listen_ops;
    ls->reactor = r;
    ls->desc = desc;
    return ls;
}

int coil_strports_service_new(coil_reactor *r, const char *desc, coil_factory *factory,
                              coil_listen_service **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (!r || !desc || !factory || !out)
        return -EINVAL;
    coil_server_endpoint *ep = NULL;
    int rc = coil_server_from_string(r, desc, &ep, err, errlen);
    if (rc < 0)
        return rc;
    char *copy = strdup(desc);
    coil_listen_service *ls = copy ? listen_new(r, copy, factory) : NULL;
    if (!ls) {
        coil_server_endpoint_free(ep);
        return -ENOMEM;
    }
    ls->ep = ep;
    ls->es.endpoint = ep;
    *out = ls;
    return 0;
}

/* Append "sep" and the quoted `value` (Twisted's quoteStringArgument). */
static int append_quoted(char **buf, const char *prefix, const char *value)
{
    size_t need = strlen(value) * 2 + 1;
    char *q = malloc(need);
    if (!q)
        return -ENOMEM;
    int rc = coil_endpoint_quote(value, q, need);
    if (rc < 0) {
        free(q);
        return rc;
    }
    char *joined = NULL;
    if (asprintf(&joined, "%s%s%s", *buf, prefix, q) < 0)
        joined = NULL;
    free(q);
    if (!joined)
        return -ENOMEM;
    free(*buf);
    *buf = joined;
    return 0;
}

int coil_ssl_server_service_new(coil_reactor *r, uint16_t port, const char *private_key,
                                const char *cert_key, const char *interface,
                                coil_factory *factory, coil_listen_service **out)
{
    if (out)
        *out = NULL;
    if (!r || !private_key || !factory || !out)
        return -EINVAL;
    char *desc = NULL;
    if (asprintf(&desc, "ssl:%u", (unsigned)port) < 0)
        return -ENOMEM;
    int rc = append_quoted(&desc, ":privateKey=", private_key);
    if (rc == 0 && cert_key)
        rc = append_quoted(&desc, ":certKey=", cert_key);
    if (rc == 0 && interface && interface[0])
        rc = append_quoted(&desc, ":interface=", interface);
    if (rc < 0) {
        free(desc);
        return rc;
    }
    coil_listen_service *ls = listen_new(r, desc, factory);
    if (!ls)
        return -ENOMEM;
    *out = ls;
    return 0;
}

coil_service *coil_listen_service_service(coil_listen_service *s)
{
    return &s->es.service;
}

coil_port *coil_listen_service_port(const coil_listen_service *s)
{
    return s->es.port;
}

const char *coil_listen_service_description(const coil_listen_service *s)
{
    return s->desc;
}

const char *coil_listen_service_error(const coil_listen_service *s)
{
    return s->error;
}

void coil_listen_service_free(coil_listen_service *s)
{
    if (!s)
        return;
    coil_endpoint_service_fini(&s->es);
    coil_server_endpoint_free(s->ep);
    free(s->desc);
    free(s);
}

/* ---- clients ------------------------------------------------------------------ */

int coil_connect_service_new(coil_reactor *r, const char *desc, coil_factory *factory,
                             coil_client_service **out)
{
    if (out)
        *out = NULL;
    if (!out)
        return -EINVAL;
    return coil__client_service_new_deferred_desc(r, desc, factory, true, out);
}

static int client_from_parts(coil_reactor *r, const char *type, const char *key,
                             const char *value, int port, const char *options,
                             coil_factory *factory, coil_client_service **out)
{
    if (out)
        *out = NULL;
    if (!r || !value || !factory || !out)
        return -EINVAL;
    char *desc = strdup(type);
    if (!desc)
        return -ENOMEM;
    int rc = append_quoted(&desc, key, value);
    if (rc == 0 && port >= 0) {
        char p[16];
        snprintf(p, sizeof(p), "%d", port);
        rc = append_quoted(&desc, ":port=", p);
    }
    if (rc == 0 && options && options[0]) {
        char *joined = NULL;
        if (asprintf(&joined, "%s:%s", desc, options) < 0)
            rc = -ENOMEM;
        else {
            free(desc);
            desc = joined;
        }
    }
    if (rc == 0)
        rc = coil__client_service_new_deferred_desc(r, desc, factory, true, out);
    free(desc);
    return rc;
}

int coil_tcp_client_service_new(coil_reactor *r, const char *host, uint16_t port,
                                coil_factory *factory, coil_client_service **out)
{
    return client_from_parts(r, "tcp", ":host=", host, port, NULL, factory, out);
}

int coil_unix_client_service_new(coil_reactor *r, const char *path, coil_factory *factory,
                                 coil_client_service **out)
{
    return client_from_parts(r, "unix", ":path=", path, -1, NULL, factory, out);
}

int coil_ssl_client_service_new(coil_reactor *r, const char *host, uint16_t port,
                                const char *options, coil_factory *factory,
                                coil_client_service **out)
{
    return client_from_parts(r, "ssl", ":host=", host, port, options, factory, out);
}
