/* SPDX-License-Identifier: MIT */
/*
 * TCP port forwarding. Each accepted connection ("inbound") gets a
 * pair that connects to the target ("outbound"); once connected each side
 * writes what the other reads. While the connect is pending, what the
 * client sends is kept (up to PENDING_MAX, then its reading pauses) and so
 * is its FIN; reading goes on so that a client that resets or leaves is
 * noticed and the connect is cancelled.
 *
 * Back-pressure: each transport is registered as the other's streaming
 * producer, so when one side's write queue passes its high-water mark coil
 * pauses reading on the other side (and the kernel's TCP flow control
 * pushes back on that peer); it resumes when the queue drains. Memory per
 * pair stays around two write queues' high-water marks.
 *
 * Half-close: a FIN read on one side becomes lose_write_connection() (a
 * FIN) on the other; once both directions ended, both sides are closed
 * after their queues drain. When either side is lost, or the connect fails,
 * the other side is closed (orderly: what is queued is sent first).
 */
#include <stdlib.h>
#include <string.h>

#include "forward.h"

#define SYS "coild.proxy"
/* Bytes kept from the client before the target is connected. */
#define PENDING_MAX 65536

typedef struct side {
    coil_protocol base;
    coild_forward_pair *pair;
    bool made, lost, eof;
} side;

struct coild_forward_pair {
    side in, out;
    coild_forward *fwd;
    coil_deferred *connecting; /* our reference while the connect is pending */
    char *pending;             /* client bytes read before the target connected */
    size_t pending_len;
    coild_forward_pair *prev, *next;
    int refs; /* the inbound until lost, the outbound (or its connect) until lost/failed */
};

static coil_transport *other_transport(side *s)
{
    coild_forward_pair *p = s->pair;
    side *o = s == &p->in ? &p->out : &p->in;
    return o->made && !o->lost ? o->base.transport : NULL;
}

static void unref(coild_forward_pair *p)
{
    if (--p->refs > 0)
        return;
    coild_forward *f = p->fwd;
    if (p->prev)
        p->prev->next = p->next;
    else
        f->pairs = p->next;
    if (p->next)
        p->next->prev = p->prev;
    f->live--;
    free(p->pending);
    free(p);
}

/* Both transports up: each pauses the other's reading when its own write
 * queue backs up. */
static void join(coild_forward_pair *p)
{
    coil_transport *in = p->in.base.transport, *out = p->out.base.transport;
    if (p->pending_len)
        coil_transport_write(out, p->pending, p->pending_len);
    free(p->pending);
    p->pending = NULL;
    p->pending_len = 0;
    coil_transport_register_producer(in, coil_transport_producer(out), true);
    coil_transport_register_producer(out, coil_transport_producer(in), true);
    if (p->in.eof)
        coil_transport_lose_write_connection(out);
    coil_transport_resume_reading(in);
}

/* Client bytes that arrive before the target is connected. */
static void keep_pending(side *s, const void *data, size_t len)
{
    coild_forward_pair *p = s->pair;
    char *b = realloc(p->pending, p->pending_len + len);
    if (!b) {
        coil_transport_abort_connection(s->base.transport);
        return;
    }
    memcpy(b + p->pending_len, data, len);
    p->pending = b;
    p->pending_len += len;
    if (p->pending_len >= PENDING_MAX)
        coil_transport_pause_reading(s->base.transport);
}

/* Neither side reads any more: drop the producers (a paused producer would
 * otherwise hold a draining transport open) and close both. */
static void finish(coild_forward_pair *p)
{
    coil_transport *in = p->in.base.transport, *out = p->out.base.transport;
    coil_transport_unregister_producer(in);
    coil_transport_unregister_producer(out);
    coil_transport_lose_connection(in);
    coil_transport_lose_connection(out);
}

static void side_data(coil_protocol *proto, const void *data, size_t len)
{
    side *s = (side *)proto;
    coil_transport *o = other_transport(s);
    if (o)
        coil_transport_write(o, data, len);
    else if (s->pair->connecting)
        keep_pending(s, data, len);
}

static void side_eof(coil_protocol *proto)
{
    side *s = (side *)proto;
    coild_forward_pair *p = s->pair;
    s->eof = true;
    if (p->connecting)
        return; /* passed on once connected (join) */
    coil_transport *o = other_transport(s);
    if (!o) {
        coil_transport_lose_connection(proto->transport);
        return;
    }
    coil_transport_lose_write_connection(o);
    if (p->in.eof && p->out.eof)
        finish(p);
}

static void side_lost(coil_protocol *proto, int reason)
{
    side *s = (side *)proto;
    coild_forward_pair *p = s->pair;
    s->lost = true;
    coil_transport *o = other_transport(s);
    if (o) {
        /* The other side held our transport as its producer. */
        coil_transport_unregister_producer(o);
        coil_transport_lose_connection(o);
    }
    if (s == &p->in && p->connecting)
        coil_deferred_cancel(p->connecting); /* its errback drops that reference */
    unref(p);
}

static void out_made(coil_protocol *proto)
{
    ((side *)proto)->made = true;
}

static void in_made(coil_protocol *proto);

static const coil_protocol_ops in_ops = {
    .connection_made = in_made,
    .data_received = side_data,
    .read_connection_lost = side_eof,
    .connection_lost = side_lost,
};

static const coil_protocol_ops out_ops = {
    .connection_made = out_made,
    .data_received = side_data,
    .read_connection_lost = side_eof,
    .connection_lost = side_lost,
};

static coil_result connected(coil_result res, void *arg)
{
    coild_forward_pair *p = arg;
    coil_deferred_unref(p->connecting);
    p->connecting = NULL;
    coil_result_release(res);
    if (p->in.lost)
        coil_transport_lose_connection(p->out.base.transport);
    else
        join(p);
    return coil_result_none();
}

static coil_result connect_failed(coil_result res, void *arg)
{
    coild_forward_pair *p = arg;
    coil_deferred_unref(p->connecting);
    p->connecting = NULL;
    p->fwd->connect_failures++;
    if (!p->in.lost) {
        coil_log(COIL_LOG_WARN, SYS, "connecting to the target failed: %s",
                 coil_failure_message(res.failure));
        coil_transport_lose_connection(p->in.base.transport);
    }
    coil_result_release(res);
    unref(p); /* the outbound never existed */
    return coil_result_none();
}

static void in_made(coil_protocol *proto)
{
    side *s = (side *)proto;
    coild_forward_pair *p = s->pair;
    s->made = true;
    p->refs++;
    coil_deferred *d = coil_connect_protocol(p->fwd->target, &p->out.base);
    if (!d) {
        p->refs--;
        coil_transport_abort_connection(proto->transport);
        return;
    }
    p->connecting = coil_deferred_ref(d);
    coil_deferred_add_callbacks(d, connected, connect_failed, p);
    coil_deferred_unref(d);
}

static coil_protocol *build(coil_factory *base, const coil_address *addr)
{
    coild_forward *f = (coild_forward *)base;
    coild_forward_pair *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->fwd = f;
    p->refs = 1;
    p->in = (side){.base.ops = &in_ops, .pair = p};
    p->out = (side){.base.ops = &out_ops, .pair = p};
    p->next = f->pairs;
    if (f->pairs)
        f->pairs->prev = p;
    f->pairs = p;
    f->live++;
    return &p->in.base;
}

static const coil_factory_ops forward_factory_ops = {.build_protocol = build};

void coild_forward_init(coild_forward *f, coil_client_endpoint *target)
{
    memset(f, 0, sizeof(*f));
    f->base.ops = &forward_factory_ops;
    f->target = target;
}

size_t coild_forward_pending_bytes(const coild_forward *f)
{
    size_t n = 0;
    for (coild_forward_pair *p = f->pairs; p; p = p->next)
        n += p->pending_len;
    return n;
}

size_t coild_forward_transports(const coild_forward *f, coil_transport **out, size_t max)
{
    size_t n = 0;
    for (coild_forward_pair *p = f->pairs; p; p = p->next) {
        side *sides[2] = {&p->in, &p->out};
        for (int i = 0; i < 2; i++) {
            if (sides[i]->made && !sides[i]->lost) {
                if (n < max)
                    out[n] = sides[i]->base.transport;
                n++;
            }
        }
    }
    return n;
}
