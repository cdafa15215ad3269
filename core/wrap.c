/* SPDX-License-Identifier: MIT */
/*
 * Outer transports of wrapping protocols (coil/wrap.h).
 *
 * An outer transport is a struct coil_transport that owns no socket and is
 * not a reactor handle: `wrap` points at its wrapper, and every public
 * coil_transport_* function that touches the connection starts with
 * `if (t->wrap) return coil__wrap_...(t, ...)` (transport.c), landing here.
 * Only the protocol-visible state lives in it: the application's protocol,
 * the close/pause flags, bytes held while paused, address overrides and the
 * transport's own producer. Queues, producers and write limits are the
 * inner transport's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define T_HAS(t, f) (((t)->flags & (f)) != 0)
/* Held bytes are handed over at most this much per data_received. */

typedef struct outer {
    struct coil_transport t;    /* first: a coil_transport * is an outer * */
    coil_delayed_call *later;   /* delivery of held bytes from the loop */
} outer;


static outer *get_outer(coil_wrap *w)
{
    if (w->outer)
        return (outer *)w->outer;
    coil_transport *inner = w->proto.transport;
    if (!inner)
        return NULL;
    outer *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->t.h.r = coil_transport_reactor(inner);
    o->t.fd = -1;
    o->t.wrap = w;
    /* The transport as a producer: its ops call the public functions, which
     * reach the wrapper on their own. */
    o->t.self_producer.ops = &coil__transport_self_producer_ops;
    w->outer = &o->t;
    return o;
}

void coil_wrap_init(coil_wrap *w, const coil_protocol_ops *inner, const coil_wrap_ops *ops)
{
    memset(w, 0, sizeof(*w));
    w->proto.ops = inner;
    w->ops = ops;
}

coil_transport *coil_wrap_inner(const coil_wrap *w)
{
    return w->proto.transport;
}

coil_protocol *coil_wrap_app(const coil_wrap *w)
{
    return w->outer && T_HAS(w->outer, COIL__T_CONNECTED) ? w->outer->proto : NULL;
}

int coil_wrap_set_addresses(coil_wrap *w, const coil_address *peer, const coil_address *host)
{
    outer *o = get_outer(w);
    if (!o)
        return -ENOMEM;
    return coil__transport_override_addresses(&o->t, peer, host);
}

int coil_wrap_attach(coil_wrap *w, coil_protocol *app, coil_factory *factory)
{
    if (w->outer && T_HAS(w->outer, COIL__T_CONNECTED))
        return -EALREADY;
    outer *o = get_outer(w);
    if (!o)
        return -ENOMEM;
    o->t.proto = app;
    o->t.flags |= COIL__T_CONNECTED;
    app->transport = &o->t;
    app->factory = factory;
    if (app->ops->connection_made)
        app->ops->connection_made(app);
    return 0;
}

coil_wrap *coil_wrap_of(const coil_transport *t)
{
    return t ? t->wrap : NULL;
}

bool coil_wrap_closing(const coil_wrap *w)
{
    return w->outer && (w->outer->h.closing || T_HAS(w->outer, COIL__T_DISCONNECTING));
}

/* ---- reading ------------------------------------------------------------- */

static bool attached(const coil_transport *t)
{
    return t && T_HAS(t, COIL__T_CONNECTED) && !T_HAS(t, COIL__T_LOST);
}

static bool closing(const coil_transport *t)
{
    return t->h.closing || T_HAS(t, COIL__T_DISCONNECTING);
}

static void on_eof(coil_transport *t)
{
    coil_protocol *app = t->proto;
    if (app->ops->read_connection_lost)
        app->ops->read_connection_lost(app);
    else
        coil_transport_lose_connection(t);
}

void coil_wrap_deliver(coil_wrap *w, const void *data, size_t len)
{
    coil_transport *t = w->outer;
    if (!attached(t) || closing(t) || len == 0)
        return;
    int held = coil__held_data(t, data, len);
    if (held < 0)
        coil_transport_abort_connection(t);
    else if (!held)
        t->proto->ops->data_received(t->proto, data, len);
}

void coil_wrap_deliver_eof(coil_wrap *w)
{
    coil_transport *t = w->outer;
    if (!attached(t) || closing(t) || T_HAS(t, COIL__T_READ_EOF))
        return;
    t->flags |= COIL__T_READ_EOF;
    if (!coil__held_eof(t))
        on_eof(t);
}

void coil_wrap_deliver_write_eof(coil_wrap *w)
{
    coil_transport *t = w->outer;
    if (!attached(t) || t->h.closing)
        return;
    t->flags = (t->flags & ~COIL__T_SHUT_WR_PENDING) | COIL__T_SHUT_WR;
    if (t->proto->ops->write_connection_lost)
        t->proto->ops->write_connection_lost(t->proto);
}

/* From the loop: what was held while paused, then a held EOF. */
static void deliver_held(void *arg)
{
    outer *o = arg;
    coil_transport *t = &o->t;
    o->later = NULL;
    int eof_due = coil__held_deliver(t);
    if (eof_due < 0)
        coil_transport_abort_connection(t);
    else if (eof_due > 0)
        on_eof(t);
}

/* ---- the end ------------------------------------------------------------- */

void coil_wrap_lost(coil_wrap *w, int reason)
{
    outer *o = (outer *)w->outer;
    if (!o)
        return;
    coil_transport *t = &o->t;
    if (o->later)
        coil_delayed_call_cancel(o->later);
    o->later = NULL;
    if (attached(t)) {
        t->flags |= COIL__T_LOST;
        t->proto->ops->connection_lost(t->proto, reason);
    }
    coil__held_drop(t);
    free(t->addr_override);
    free(o);
    w->outer = NULL;
}

/* ---- the outer transport's operations (from transport.c) ------------------ */

static coil_transport *inner_of(const coil_transport *t)
{
    return t->wrap->proto.transport;
}

static bool writable(const coil_transport *t)
{
    return attached(t) && !t->h.closing && !T_HAS(t, COIL__T_SHUT_WR | COIL__T_SHUT_WR_PENDING);
}

int coil__wrap_writev(coil_transport *t, const struct iovec *iov, int iovcnt)
{
    if (!writable(t))
        return -ENOTCONN;
    if (t->wrap->ops && t->wrap->ops->write)
        return t->wrap->ops->write(t->wrap, iov, iovcnt);
    return coil_transport_writev(inner_of(t), iov, iovcnt);
}

int coil__wrap_write(coil_transport *t, const void *data, size_t len)
{
    if (len == 0)
        return writable(t) ? 0 : -ENOTCONN;
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    return coil__wrap_writev(t, &iov, 1);
}

typedef struct release_call {
    coil_release_fn release;
    void *arg;
    const void *data;
    size_t len;
} release_call;

static void run_release(void *arg)
{
    release_call *c = arg;
    c->release(c->arg, c->data, c->len);
    free(c);
}

/* A wrapper that transforms the bytes copies them (into its own records);
 * the buffer is then released from the loop, as the borrowed-write contract
 * promises. Without a write operation the inner transport borrows it. */
int coil__wrap_write_borrowed(coil_transport *t, const void *data, size_t len,
                              coil_release_fn release, void *arg)
{
    if (!writable(t))
        return -ENOTCONN;
    if (len == 0 || !release)
        return -EINVAL;
    if (!t->wrap->ops || !t->wrap->ops->write) /* pass-through: still zero copy */
        return coil_transport_write_borrowed(inner_of(t), data, len, release, arg);
    release_call *c = malloc(sizeof(*c));
    if (!c)
        return -ENOMEM;
    *c = (release_call){release, arg, data, len};
    int rc = coil__wrap_write(t, data, len);
    if (rc == 0)
        rc = coil_reactor_call_soon(t->h.r, run_release, c);
    if (rc < 0)
        free(c);
    return rc;
}

void coil__wrap_lose_connection(coil_transport *t)
{
    if (!attached(t) || closing(t))
        return;
    t->flags |= COIL__T_DISCONNECTING;
    if (t->wrap->ops && t->wrap->ops->lose_connection)
        t->wrap->ops->lose_connection(t->wrap);
    else
        coil_transport_lose_connection(inner_of(t));
}

void coil__wrap_abort_connection(coil_transport *t)
{
    if (!attached(t) || t->h.closing)
        return;
    t->h.closing = true;
    t->flags |= COIL__T_DISCONNECTING;
    if (t->wrap->ops && t->wrap->ops->abort_connection)
        t->wrap->ops->abort_connection(t->wrap);
    else
        coil_transport_abort_connection(inner_of(t));
}

void coil__wrap_lose_write_connection(coil_transport *t)
{
    if (!writable(t))
        return;
    t->flags |= COIL__T_SHUT_WR_PENDING;
    if (t->wrap->ops && t->wrap->ops->lose_write_connection)
        t->wrap->ops->lose_write_connection(t->wrap);
    else
        coil_transport_lose_write_connection(inner_of(t));
}

bool coil__wrap_is_disconnecting(const coil_transport *t)
{
    return closing(t) || coil_transport_is_disconnecting(inner_of(t));
}

void coil__wrap_pause_reading(coil_transport *t)
{
    if (!attached(t) || t->h.closing)
        return;
    t->flags |= COIL__T_PAUSED;
    coil_transport_pause_reading(inner_of(t));
}

void coil__wrap_resume_reading(coil_transport *t)
{
    outer *o = (outer *)t;
    if (!attached(t) || t->h.closing || !T_HAS(t, COIL__T_PAUSED))
        return;
    t->flags &= ~COIL__T_PAUSED;
    if (coil__held_pending(t) && !o->later) {
        o->later = coil_reactor_call_later(t->h.r, 0, deliver_held, o);
        if (!o->later) {
            coil_transport_abort_connection(t);
            return;
        }
    }
    coil_transport_resume_reading(inner_of(t));
}

int coil__wrap_register_producer(coil_transport *t, coil_producer *p, bool streaming)
{
    /* The outer transport as its own producer: pausing the inner one stops
     * what feeds us, and the inner transport knows not to wait for itself. */
    if (p == &t->self_producer)
        p = coil_transport_producer(inner_of(t));
    return coil_transport_register_producer(inner_of(t), p, streaming);
}

void coil__wrap_unregister_producer(coil_transport *t)
{
    coil_transport_unregister_producer(inner_of(t));
}

void coil__wrap_set_write_limits(coil_transport *t, size_t high, size_t low)
{
    coil_transport_set_write_limits(inner_of(t), high, low);
}

size_t coil__wrap_write_buffer_size(const coil_transport *t)
{
    size_t n = coil_transport_write_buffer_size(inner_of(t));
    if (t->wrap->ops && t->wrap->ops->buffered)
        n += t->wrap->ops->buffered(t->wrap);
    return n;
}

int coil__wrap_get_address(coil_transport *t, int which, coil_address *out)
{
    if (t->addr_override && t->addr_override[which].len) {
        *out = t->addr_override[which];
        return 0;
    }
    return which == 0 ? coil_transport_get_peer(inner_of(t), out)
                      : coil_transport_get_host(inner_of(t), out);
}

int coil__wrap_fileno(const coil_transport *t)
{
    return coil_transport_fileno(inner_of(t));
}

int coil__wrap_set_option(coil_transport *t, bool keepalive, bool on)
{
    return keepalive ? coil_transport_set_tcp_keepalive(inner_of(t), on)
                     : coil_transport_set_tcp_nodelay(inner_of(t), on);
}

