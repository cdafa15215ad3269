/* SPDX-License-Identifier: MIT */
/*
 * TLS clients: an endpoint that connects an inner endpoint with a factory of
 * its own, runs the handshake on the connection, and only then builds the
 * application's protocol and fires the connect Deferred with it (Twisted's
 * wrapClientTLS, except that Twisted fires before the handshake: see
 * docs/DIVERGENCES.md). A failed verification errbacks with COIL_ETLSVERIFY
 * and the reason.
 *
 * Lifetimes: a connect_op lives while anything refers to it: its Deferred
 * until it fires, the inner endpoint's use of its factory (start_factory to
 * stop_factory), the inner Deferred's callbacks, and the handshaking
 * connection. The application's factory is started at connect and stopped
 * when the Deferred fails, or after the connection's connection_lost.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/error.h>
#include <coil/log.h>
#include <coil/net_deferred.h>

#include "tls_conn.h"

typedef struct connect_op {
    coil_factory f; /* given to the inner endpoint: builds the TLS wrapper */
    unsigned refs;
    coil_deferred *d;       /* ours, until it fires */
    coil_deferred *inner_d; /* the inner connect (one reference) */
    coil_factory *user;     /* started; until handed to the connection */
    coil_tls_context *ctx;
    coil__tls_conn *conn;   /* while handshaking */
    bool done;              /* d fired */
    char host[];
} connect_op;

/* Not inlined: GCC cannot follow the count and reports a use after free. */
__attribute__((noinline)) static void op_unref(void *arg)
{
    connect_op *op = arg;
    if (--op->refs > 0)
        return;
    coil_deferred_unref(op->inner_d);
    coil_tls_context_unref(op->ctx);
    free(op);
}

/* Fire d with `res` (taken over). The application's factory is released
 * unless the connection took it. */
static void finish(connect_op *op, coil_result res)
{
    if (op->done) {
        coil_result_release(res);
        return;
    }
    op->done = true;
    coil_deferred *d = op->d;
    op->d = NULL;
    coil_deferred_callback(d, res);
    coil_deferred_unref(d);
    coil_factory *user = op->user;
    op->user = NULL;
    if (user)
        coil_factory_do_stop(user);
    op_unref(op); /* the unfired Deferred's */
}

static void fail_op(connect_op *op, int code, const char *fmt, const char *a, const char *b)
{
    coil_failure *f = coil_failure_new(COIL_NET_DOMAIN, code, fmt, a, b);
    finish(op, f ? coil_result_failure(f) : coil_result_none());
}

/* ---- the inner factory --------------------------------------------------- */

static coil_protocol *op_build(coil_factory *f, const coil_address *addr)
{
    connect_op *op = (connect_op *)f;
    if (op->done || op->conn)
        return NULL;
    coil__tls_conn *c = coil__tls_conn_new(op->ctx, false, op->host[0] ? op->host : NULL);
    if (!c)
        return NULL;
    c->owner = op;
    op->conn = c;
    op->refs++;
    return &c->w.proto;
}

static void op_start(coil_factory *f)
{
    ((connect_op *)f)->refs++;
}

static void op_stop(coil_factory *f)
{
    op_unref(f);
}

static const coil_factory_ops op_factory_ops = {
    .build_protocol = op_build,
    .start_factory = op_start,
    .stop_factory = op_stop,
};

void coil__tls_client_detach(coil__tls_conn *c)
{
    connect_op *op = c->owner;
    if (!op)
        return;
    c->owner = NULL;
    op->conn = NULL;
    op_unref(op);
}

void coil__tls_client_ready(coil__tls_conn *c)
{
    connect_op *op = c->owner;
    coil_transport *inner = coil_wrap_inner(&c->w);
    if (!op || op->done) {
        coil__tls_client_detach(c);
        coil_transport_abort_connection(inner);
        return;
    }
    op->refs++; /* across the callbacks below */
    coil__tls_client_detach(c);
    coil_address peer, *pp = NULL;
    if (coil_transport_get_peer(inner, &peer) == 0)
        pp = &peer;
    coil_protocol *p = NULL;
    if (coil_wrap_set_addresses(&c->w, NULL, NULL) == 0) /* attach cannot fail after */
        p = op->user->ops->build_protocol(op->user, pp);
    if (!p) {
        c->sent_close_notify = true;
        coil_transport_lose_connection(inner);
        fail_op(op, COIL_ENOPROTOCOL, "TLS connection to %s%s: the factory refused it",
                op->host, "");
        op_unref(op);
        return;
    }
    c->app_factory = op->user; /* stopped after connection_lost */
    op->user = NULL;
    coil_wrap_attach(&c->w, p, c->app_factory);
    finish(op, coil_result_value(p, NULL));
    op_unref(op);
}

void coil__tls_client_failed(coil__tls_conn *c)
{
    connect_op *op = c->owner;
    if (!op)
        return;
    char who[96];
    coil__tls_describe_peer(c, who, sizeof(who));
    op->refs++;
    coil__tls_client_detach(c);
    fail_op(op, c->fail_code, "TLS handshake with %s failed: %s", who, c->why);
    op_unref(op);
}

/* ---- the inner connect ----------------------------------------------------- */

static coil_result inner_ok(coil_result res, void *arg)
{
    coil_result_release(res); /* the wrapper protocol: coil's */
    return coil_result_none();
}

static coil_result inner_failed(coil_result res, void *arg)
{
    connect_op *op = arg;
    if (!op->done) {
        finish(op, res);
        return coil_result_none();
    }
    coil_result_release(res);
    return coil_result_none();
}

static void cancel(coil_deferred *d, void *arg)
{
    connect_op *op = arg;
    if (op->done)
        return;
    op->refs++;
    coil__tls_conn *c = op->conn;
    fail_op(op, -ECANCELED, "TLS connection to %s%s was cancelled", op->host, "");
    if (c)
        coil_transport_abort_connection(coil_wrap_inner(&c->w));
    else if (op->inner_d && !coil_deferred_called(op->inner_d))
        coil_deferred_cancel(op->inner_d);
    op_unref(op);
}

/* ---- the endpoint ---------------------------------------------------------- */

typedef struct tls_client_ep {
    coil_client_endpoint base;
    coil_client_endpoint *inner;
    coil_tls_context *ctx;
    char host[];
} tls_client_ep;

static coil_deferred *ep_connect(coil_client_endpoint *ep, coil_factory *factory)
{
    tls_client_ep *e = (tls_client_ep *)ep;
    size_t hlen = strlen(e->host) + 1;
    connect_op *op = calloc(1, sizeof(*op) + hlen);
    if (!op)
        return NULL;
    op->f.ops = &op_factory_ops;
    op->refs = 2; /* the unfired Deferred's, and this function's */
    op->ctx = coil_tls_context_ref(e->ctx);
    memcpy(op->host, e->host, hlen);
    op->d = coil_deferred_new(cancel, op);
    if (!op->d) {
        coil_tls_context_unref(op->ctx);
        free(op);
        return NULL;
    }
    coil_deferred *ret = coil_deferred_ref(op->d);
    op->user = factory;
    coil_factory_do_start(factory);
    op->inner_d = coil_client_endpoint_connect(e->inner, &op->f);
    if (!op->inner_d) {
        fail_op(op, -ENOMEM, "TLS connection to %s%s: out of memory", op->host, "");
    } else {
        op->refs++; /* the callbacks' */
        if (coil_deferred_add_callbacks_full(op->inner_d, inner_ok, inner_failed, op, op_unref) <
            0) {
            fail_op(op, -ENOMEM, "TLS connection to %s%s: out of memory", op->host, "");
            op_unref(op);
        }
    }
    op_unref(op);
    return ret;
}

static void ep_free(coil_client_endpoint *ep)
{
    tls_client_ep *e = (tls_client_ep *)ep;
    coil_client_endpoint_free(e->inner);
    coil_tls_context_unref(e->ctx);
    free(e);
}

static const coil_client_endpoint_ops client_ep_ops = {
    .connect = ep_connect,
    .free = ep_free,
};

coil_client_endpoint *coil_tls_client_endpoint_new(coil_client_endpoint *inner,
                                                   coil_tls_context *ctx, const char *hostname)
{
    const char *h = hostname ? hostname : "";
    size_t hlen = strlen(h) + 1;
    tls_client_ep *e = inner && ctx ? calloc(1, sizeof(*e) + hlen) : NULL;
    if (!e) {
        coil_client_endpoint_free(inner);
        return NULL;
    }
    e->base.ops = &client_ep_ops;
    e->base.reactor = inner->reactor;
    e->inner = inner;
    e->ctx = coil_tls_context_ref(ctx);
    memcpy(e->host, h, hlen);
    return &e->base;
}
