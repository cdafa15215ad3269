/* SPDX-License-Identifier: MIT */
/*
 * TLS servers: an endpoint that listens on an inner endpoint with a
 * wrapping factory (Twisted's TLSMemoryBIOFactory). Every accepted
 * connection gets a TLS wrapper; once its handshake succeeds the
 * application's factory builds the protocol (with the connection's peer
 * address) and the wrapper attaches it.
 *
 * Lifetimes (as the haproxy endpoint's): the wrapping factory is reference
 * counted: one reference while the listen Deferred has not delivered its
 * result, one between the port's start_factory and stop_factory, and one per
 * connection still handshaking. Stopping the port passes stop_factory
 * through to the application at once and closes the connections that are
 * still handshaking.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <coil/error.h>
#include <coil/log.h>

#include "tls_conn.h"

typedef struct listener {
    coil_factory base;
    coil_factory *user;
    coil_tls_context *ctx;
    unsigned refs;
    bool stopped;
    coil__tls_conn *pending; /* handshaking */
} listener;

static void unref(void *arg)
{
    listener *l = arg;
    if (--l->refs > 0)
        return;
    coil_tls_context_unref(l->ctx);
    free(l);
}

static void unlink_conn(coil__tls_conn *c)
{
    listener *l = c->owner;
    if (!l)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->pending = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->owner = NULL;
    unref(l);
}

void coil__tls_server_detach(coil__tls_conn *c)
{
    unlink_conn(c);
}

static coil_protocol *build(coil_factory *f, const coil_address *addr)
{
    listener *l = (listener *)f;
    if (l->stopped)
        return NULL;
    coil__tls_conn *c = coil__tls_conn_new(l->ctx, true, NULL);
    if (!c) {
        coil_log(COIL_LOG_ERROR, COIL__TLS_SYS, "out of memory for a TLS connection: refused");
        return NULL;
    }
    c->owner = l;
    c->next = l->pending;
    if (c->next)
        c->next->prev = c;
    l->pending = c;
    l->refs++;
    return &c->w.proto;
}

static void start(coil_factory *f)
{
    listener *l = (listener *)f;
    l->refs++; /* the port's */
    coil_factory_do_start(l->user);
}

static void stop(coil_factory *f)
{
    listener *l = (listener *)f;
    /* Handshakes still running cannot be served any more: the
     * application's factory is stopped and may be freed. */
    for (coil__tls_conn *c = l->pending; c; c = c->next)
        coil_transport_abort_connection(coil_wrap_inner(&c->w));
    l->stopped = true;
    coil_factory_do_stop(l->user);
    unref(l);
}

static const coil_factory_ops listener_ops = {
    .build_protocol = build,
    .start_factory = start,
    .stop_factory = stop,
};

void coil__tls_server_ready(coil__tls_conn *c)
{
    listener *l = c->owner;
    coil_transport *inner = coil_wrap_inner(&c->w);
    if (!l || l->stopped) {
        coil_transport_abort_connection(inner);
        return;
    }
    coil_address peer, *pp = NULL;
    if (coil_transport_get_peer(inner, &peer) == 0)
        pp = &peer;
    /* Make the outer transport first, so that attaching cannot fail once
     * the application's protocol exists. */
    if (coil_wrap_set_addresses(&c->w, NULL, NULL) < 0) {
        coil_transport_abort_connection(inner);
        return;
    }
    coil_factory *user = l->user;
    coil_protocol *p = user->ops->build_protocol(user, pp);
    unlink_conn(c); /* l may be gone now */
    if (!p) {
        c->sent_close_notify = true; /* refused: close without a word to the peer */
        coil_transport_lose_connection(inner);
        return;
    }
    coil_wrap_attach(&c->w, p, user);
}

void coil__tls_server_failed(coil__tls_conn *c)
{
    char who[96];
    coil__tls_describe_peer(c, who, sizeof(who));
    /* Our own closes (port stopped, reactor shutting down) are no news. */
    bool ours = c->fail_code == COIL_EABORTED || c->fail_code == COIL_ESHUTDOWN;
    if (ours)
        coil_log(COIL_LOG_DEBUG, COIL__TLS_SYS, "TLS handshake with %s failed: %s", who, c->why);
    else /* a peer can fail handshakes at will: a bounded number of lines */
        coil_log_ratelimited(c->fail_code == -ETIMEDOUT ? COIL_LOG_WARN : COIL_LOG_INFO,
                             COIL__TLS_SYS, "TLS handshake failed",
                             "TLS handshake with %s failed: %s", who, c->why);
    unlink_conn(c);
}

/* ---- the endpoint -------------------------------------------------------- */

typedef struct tls_server_ep {
    coil_server_endpoint base;
    coil_server_endpoint *inner;
    coil_tls_context *ctx;
} tls_server_ep;

static coil_deferred *ep_listen(coil_server_endpoint *ep, coil_factory *f)
{
    tls_server_ep *e = (tls_server_ep *)ep;
    listener *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->base.ops = &listener_ops;
    l->user = f;
    l->ctx = coil_tls_context_ref(e->ctx);
    l->refs = 1; /* until the listen Deferred has delivered its result */
    coil_deferred *d = coil_server_endpoint_listen(e->inner, &l->base);
    if (!d) {
        unref(l);
        return NULL;
    }
    if (coil_deferred_add_callbacks_full(d, NULL, NULL, l, unref) < 0 && coil_deferred_called(d))
        unref(l);
    return d;
}

static void ep_free(coil_server_endpoint *ep)
{
    tls_server_ep *e = (tls_server_ep *)ep;
    coil_server_endpoint_free(e->inner);
    coil_tls_context_unref(e->ctx);
    free(e);
}

static const coil_server_endpoint_ops server_ep_ops = {
    .listen = ep_listen,
    .free = ep_free,
};

coil_server_endpoint *coil_tls_server_endpoint_new(coil_server_endpoint *inner,
                                                   coil_tls_context *ctx)
{
    if (!inner || !ctx) {
        coil_server_endpoint_free(inner);
        return NULL;
    }
    tls_server_ep *e = calloc(1, sizeof(*e));
    if (!e) {
        coil_server_endpoint_free(inner);
        return NULL;
    }
    e->base.ops = &server_ep_ops;
    e->base.reactor = inner->reactor;
    e->inner = inner;
    e->ctx = coil_tls_context_ref(ctx);
    return &e->base;
}
