/* SPDX-License-Identifier: MIT */
/*
 * Endpoint objects: the generic calls (listen, connect, free), building an
 * endpoint from a description (Twisted's serverFromString/clientFromString
 * dispatch), connect_protocol, and constructors of registered types. The
 * types themselves live in server_client.c (tcp, tcp6, unix), systemd.c,
 * haproxy.c and hostname.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <coil/error.h>
#include <coil/log.h>

#include "endpoint_int.h"

coil_deferred *coil__endpoint_fail(int err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    coil_failure *f = coil_failure_new(COIL_NET_DOMAIN, err, "%s", msg);
    return f ? coil_fail(f) : NULL;
}

/* ---- generic calls ------------------------------------------------------- */

coil_deferred *coil_server_endpoint_listen(coil_server_endpoint *ep, coil_factory *factory)
{
    if (!ep || !factory)
        return coil__endpoint_fail(-EINVAL, "listen: no endpoint or no factory");
    return ep->ops->listen(ep, factory);
}

void coil_server_endpoint_free(coil_server_endpoint *ep)
{
    if (ep)
        ep->ops->free(ep);
}

coil_deferred *coil_client_endpoint_connect(coil_client_endpoint *ep, coil_factory *factory)
{
    if (!ep || !factory)
        return coil__endpoint_fail(-EINVAL, "connect: no endpoint or no factory");
    return ep->ops->connect(ep, factory);
}

coil_deferred *coil_server_endpoint_listen_at(coil_server_endpoint *ep, coil_factory *factory,
                                              const char *file, int line, const char *func)
{
    return coil_deferred_set_call_site(coil_server_endpoint_listen(ep, factory), file, line,
                                       func);
}

coil_deferred *coil_client_endpoint_connect_at(coil_client_endpoint *ep, coil_factory *factory,
                                               const char *file, int line, const char *func)
{
    return coil_deferred_set_call_site(coil_client_endpoint_connect(ep, factory), file, line,
                                       func);
}

coil_deferred *coil_connect_protocol_at(coil_client_endpoint *ep, coil_protocol *p,
                                        const char *file, int line, const char *func)
{
    return coil_deferred_set_call_site(coil_connect_protocol(ep, p), file, line, func);
}

void coil_client_endpoint_free(coil_client_endpoint *ep)
{
    if (ep)
        ep->ops->free(ep);
}

/* ---- connect_protocol: a one-shot factory -------------------------------- */

/* The factory is referenced by the attempt and then by the connected
 * transport until connection_lost; every user brackets its use with
 * do_start/do_stop (the endpoint contract), so it frees itself in
 * stop_factory. */
typedef struct one_shot {
    coil_factory base;
    coil_protocol *p; /* handed out once */
} one_shot;

static coil_protocol *one_shot_build(coil_factory *f, const coil_address *addr)
{
    one_shot *o = (one_shot *)f;
    coil_protocol *p = o->p;
    o->p = NULL;
    return p;
}

static void one_shot_stop(coil_factory *f)
{
    free(f);
}

static const coil_factory_ops one_shot_ops = {
    .build_protocol = one_shot_build,
    .stop_factory = one_shot_stop,
};

coil_deferred *coil_connect_protocol(coil_client_endpoint *ep, coil_protocol *p)
{
    one_shot *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->base.ops = &one_shot_ops;
    o->p = p;
    /* Hold one count ourselves so the factory cannot go while connect()
     * runs, then drop it: if the endpoint kept no reference, this frees. */
    coil_factory_do_start(&o->base);
    coil_deferred *d = coil_client_endpoint_connect(ep, &o->base);
    coil_factory_do_stop(&o->base);
    return d;
}

/* ---- from descriptions --------------------------------------------------- */

/* Without an error buffer the reason is logged, so that a program that
 * passes NULL still tells its user what is wrong with the description. */
static int log_bad_description(int rc, const char *err)
{
    coil_log(COIL_LOG_ERROR, "coil.endpoint", "%s", err[0] ? err : coil_strerror(rc));
    return rc;
}

#ifndef COIL_HAVE_TLS
static int no_tls(const char *type, char *err, size_t errlen)
{
    coil_endpoint_errorf(err, errlen, "%s: %s (rebuild with -DCOIL_WITH_TLS=ON)", type,
                         coil_strerror(COIL_ENOTLS));
    return COIL_ENOTLS;
}
#endif

static int out_of_memory(char *err, size_t errlen)
{
    coil_endpoint_errorf(err, errlen, "out of memory");
    return -ENOMEM;
}

static int built(void *ep, char *err, size_t errlen)
{
    return ep ? 0 : out_of_memory(err, errlen);
}

static int no_ctor(const char *type, const char *side, char *err, size_t errlen)
{
    return coil_endpoint_errorf(err, errlen, "%s: no %s endpoint constructor registered", type,
                                side);
}

/* After a registered constructor ran: success must have made an endpoint. */
static int plugin_built(int rc, bool made, const char *type, char *err, size_t errlen)
{
    if (rc < 0)
        return rc;
    if (!made)
        return coil_endpoint_errorf(err, errlen, "%s: the constructor made no endpoint", type);
    return 0;
}

int coil_server_endpoint_from_desc(coil_reactor *r, const coil_server_desc *d,
                                   coil_server_endpoint **out, char *err, size_t errlen)
{
    if (!r || !d || !out)
        return -EINVAL;
    *out = NULL;
    switch (d->kind) {
    case COIL_SERVER_TCP:
    case COIL_SERVER_TCP6: {
        coil_address a;
        if (coil_address_from_ip(&a, d->u.tcp.interface, 0) < 0)
            return coil_endpoint_errorf(err, errlen,
                                        "%s: invalid interface '%s' (must be an IP address)",
                                        d->type, d->u.tcp.interface);
        *out = coil_tcp_server_endpoint_new(r, d->u.tcp.port, d->u.tcp.interface,
                                            d->u.tcp.backlog);
        return built(*out, err, errlen);
    }
    case COIL_SERVER_UNIX:
        *out = coil_unix_server_endpoint_new(r, d->u.un.address, d->u.un.mode, d->u.un.backlog,
                                             d->u.un.lockfile);
        return built(*out, err, errlen);
    case COIL_SERVER_SSL:
#ifdef COIL_HAVE_TLS
        return coil__tls_server_from_desc(
            d, coil_tcp_server_endpoint_new(r, d->u.ssl.port, d->u.ssl.interface, d->u.ssl.backlog),
            out, err, errlen);
#else
        return no_tls("ssl", err, errlen);
#endif
    case COIL_SERVER_SYSTEMD:
        *out = coil_systemd_server_endpoint_new(r, d->u.systemd.family, d->u.systemd.index,
                                                d->u.systemd.name);
        return built(*out, err, errlen);
    case COIL_SERVER_HAPROXY: {
        coil_server_endpoint *inner = NULL;
        char sub[256] = "";
#ifdef COIL_HAVE_TLS
        /* haproxy:ssl:...: the PROXY header comes first, in the clear (haproxy
         * passes TLS through), so TLS wraps the PROXY endpoint. */
        const coil_server_desc *in = d->u.haproxy.inner;
        if (in->kind == COIL_SERVER_SSL) {
            coil_server_endpoint *tcp =
                coil_tcp_server_endpoint_new(r, in->u.ssl.port, in->u.ssl.interface,
                                             in->u.ssl.backlog);
            int rc = coil__tls_server_from_desc(in, coil_haproxy_server_endpoint_new(tcp), out,
                                                sub, sizeof(sub));
            if (rc < 0)
                coil_endpoint_errorf(err, errlen, "haproxy: %s", sub);
            return rc;
        }
#endif
        int rc = coil_server_endpoint_from_desc(r, d->u.haproxy.inner, &inner, sub, sizeof(sub));
        if (rc < 0) {
            coil_endpoint_errorf(err, errlen, "haproxy: %s", sub);
            return rc;
        }
        *out = coil_haproxy_server_endpoint_new(inner);
        return built(*out, err, errlen);
    }
    case COIL_SERVER_PLUGIN: {
        coil__endpoint_ctors c;
        if (!coil__endpoint_type_ctors(d->type, &c) || !c.new_server)
            return no_ctor(d->type, "server", err, errlen);
        int rc = c.new_server(c.arg, r, d->u.plugin.data, out, err, errlen);
        if (rc < 0)
            *out = NULL;
        return plugin_built(rc, *out != NULL, d->type, err, errlen);
    }
    case COIL_SERVER_UDP:
        return coil_endpoint_errorf(err, errlen,
                                    "udp: a datagram endpoint cannot serve a stream protocol "
                                    "(use coil_datagram_listen_desc(), as coild udpecho does)");
    }
    return coil_endpoint_errorf(err, errlen, "invalid server description");
}

static int server_from_string(coil_reactor *r, const char *desc, coil_server_endpoint **out,
                            char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (!r || !desc || !out)
        return -EINVAL;
    coil_server_desc *d = NULL;
    int rc = coil_server_desc_parse(desc, &d, err, errlen);
    if (rc < 0)
        return rc;
    rc = coil_server_endpoint_from_desc(r, d, out, err, errlen);
    coil_server_desc_free(d);
    return rc;
}

/* A tcp client: an IP literal connects directly, a name goes through the
 * resolver and happy eyeballs. */
static coil_client_endpoint *tcp_client(coil_reactor *r, const char *host, uint16_t port,
                                        int timeout, const char *bind, char *err, size_t errlen,
                                        int *rc)
{
    coil_address bind_addr, *bindp = NULL;
    if (bind) {
        if (coil_address_from_ip(&bind_addr, bind, 0) < 0) {
            *rc = coil_endpoint_errorf(err, errlen,
                                       "tcp: invalid bindAddress '%s' (must be an IP address)",
                                       bind);
            return NULL;
        }
        bindp = &bind_addr;
    }
    coil_client_endpoint *ep;
    coil_address addr;
    if (coil_address_from_ip(&addr, host, port) == 0 && host[0]) {
        ep = coil_tcp_client_endpoint_new(r, &addr, timeout, bindp);
    } else {
        coil_hostname_options o = {.timeout = timeout, .bind_address = bindp};
        ep = coil_hostname_endpoint_new(r, host, port, &o);
    }
    *rc = ep ? 0 : out_of_memory(err, errlen);
    return ep;
}

int coil_client_endpoint_from_desc(coil_reactor *r, const coil_client_desc *d,
                                   coil_client_endpoint **out, char *err, size_t errlen)
{
    if (!r || !d || !out)
        return -EINVAL;
    *out = NULL;
    int rc = 0;
    switch (d->kind) {
    case COIL_CLIENT_TCP:
        *out = tcp_client(r, d->u.tcp.host, d->u.tcp.port, d->u.tcp.timeout,
                          d->u.tcp.bind_address, err, errlen, &rc);
        return rc;
    case COIL_CLIENT_UNIX:
        *out = coil_unix_client_endpoint_new(r, d->u.un.path, d->u.un.timeout, d->u.un.check_pid);
        return built(*out, err, errlen);
    case COIL_CLIENT_SSL:
    case COIL_CLIENT_TLS: {
#ifdef COIL_HAVE_TLS
        coil_client_endpoint *inner = NULL;
        if (d->kind == COIL_CLIENT_SSL) {
            inner = tcp_client(r, d->u.ssl.host, d->u.ssl.port, d->u.ssl.timeout,
                               d->u.ssl.bind_address, err, errlen, &rc);
        } else if (d->u.tls.inner) {
            char sub[256] = "";
            rc = coil_client_endpoint_from_desc(r, d->u.tls.inner, &inner, sub, sizeof(sub));
            if (rc < 0)
                coil_endpoint_errorf(err, errlen, "tls: endpoint: %s", sub);
        } else {
            inner = tcp_client(r, d->u.tls.host, d->u.tls.port, d->u.tls.timeout,
                               d->u.tls.bind_address, err, errlen, &rc);
        }
        if (rc < 0)
            return rc;
        return coil__tls_client_from_desc(d, inner, out, err, errlen);
#else
        return no_tls(d->type, err, errlen);
#endif
    }
    case COIL_CLIENT_PLUGIN: {
        coil__endpoint_ctors c;
        if (!coil__endpoint_type_ctors(d->type, &c) || !c.new_client)
            return no_ctor(d->type, "client", err, errlen);
        rc = c.new_client(c.arg, r, d->u.plugin.data, out, err, errlen);
        if (rc < 0)
            *out = NULL;
        return plugin_built(rc, *out != NULL, d->type, err, errlen);
    }
    }
    return coil_endpoint_errorf(err, errlen, "invalid client description");
}

static int client_from_string(coil_reactor *r, const char *desc, coil_client_endpoint **out,
                            char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (!r || !desc || !out)
        return -EINVAL;
    coil_client_desc *d = NULL;
    int rc = coil_client_desc_parse(desc, &d, err, errlen);
    if (rc < 0)
        return rc;
    rc = coil_client_endpoint_from_desc(r, d, out, err, errlen);
    coil_client_desc_free(d);
    return rc;
}

int coil_server_from_string(coil_reactor *r, const char *desc, coil_server_endpoint **out,
                            char *err, size_t errlen)
{
    if (err)
        return server_from_string(r, desc, out, err, errlen);
    char why[256] = "";
    int rc = server_from_string(r, desc, out, why, sizeof(why));
    return rc < 0 ? log_bad_description(rc, why) : rc;
}

int coil_client_from_string(coil_reactor *r, const char *desc, coil_client_endpoint **out,
                            char *err, size_t errlen)
{
    if (err)
        return client_from_string(r, desc, out, err, errlen);
    char why[256] = "";
    int rc = client_from_string(r, desc, out, why, sizeof(why));
    return rc < 0 ? log_bad_description(rc, why) : rc;
}
