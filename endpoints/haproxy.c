/* SPDX-License-Identifier: MIT */
/*
 * The "haproxy:" server endpoint (Twisted's HAProxyWrappingFactory behind
 * its haproxy endpoint plugin): every accepted connection starts with a
 * PROXY v1 or v2 header (coil/proxy_protocol.h parses it), which is read
 * before the application's factory sees the connection.
 *
 * Per listen, a wrapping factory stands between the inner endpoint's port
 * and the application's factory. Per connection it builds a small wrapper
 * protocol that reads the header; once the header is complete the wrapper
 * sets the outer transport's peer and host to the header's addresses (the
 * public wrapping API, coil/wrap.h), asks the application's factory for the
 * real protocol, attaches it (its connection_made runs) and passes on the
 * bytes that followed the header. From then on the wrapper only forwards:
 * reads go to the application with coil_wrap_deliver(), and the
 * application's writes, closes and pauses pass straight to the socket
 * transport (the wrapper sets no coil_wrap_ops), one function call per
 * read and per write.
 *
 * Differences from Twisted (docs/PROXY.md has the full table): Twisted runs
 * the application's connectionMade at accept, before the header (quirk 8);
 * coil runs it after the header, so the application sees the client's
 * address from the start and never sees a connection whose header is
 * invalid. Twisted has no limit on how long a header may take; coil closes
 * a connection that has not sent a complete header within 30 seconds.
 *
 * Lifetimes: the wrapping factory is reference counted: one reference while
 * the listen Deferred has not delivered its result, one between the port's
 * start_factory and stop_factory, and one per connection still reading its
 * header. Stopping the port passes stop_factory through to the application
 * at once (its factory may go away then, as for any port) and closes the
 * connections that are still reading a header.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/log.h>
#include <coil/proxy_protocol.h>
#include <coil/transport.h>
#include <coil/wrap.h>

#include "endpoint_int.h"

#define SYS "coil.haproxy"

/* Seconds a connection may take to send its whole PROXY header (nginx's
 * proxy_protocol_timeout defaults to 30 s as well). Not static so that the
 * tests can shorten it; nothing else should touch it. */
double coil__haproxy_header_timeout = 30.0;

typedef struct hp_factory hp_factory;

/* The per-connection wrapper protocol: reads the header, then forwards. */
typedef struct hp_conn {
    coil_wrap base;     /* base.proto is the protocol on the socket transport */
    hp_factory *hf;     /* until the header is read (NULL after) */
    struct hp_conn *prev, *next; /* hf->pending */
    bool linked;
    bool logged; /* why the connection is closed was said */
    coil_delayed_call *timer;
    unsigned char *buf; /* received bytes, only while a header is incomplete */
    size_t len;
    coil_address peer; /* who sent the header (the socket's peer) */
} hp_conn;

struct hp_factory {
    coil_factory base;
    coil_factory *user; /* the application's factory */
    unsigned refs;
    bool stopped;     /* the port stopped: `user` must not be touched again */
    hp_conn *pending; /* connections still reading their header */
};

/* ---- the wrapping factory ------------------------------------------------ */

static void hf_unref(void *arg)
{
    hp_factory *hf = arg;
    if (--hf->refs == 0)
        free(hf);
}

static void unlink_conn(hp_conn *c)
{
    if (!c->linked)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->hf->pending = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->linked = false;
}

static const char *peer_text(const hp_conn *c, char *buf, size_t size)
{
    if (c->peer.len == 0 || coil_address_format(&c->peer, buf, size) < 0)
        snprintf(buf, size, "<unknown>");
    return buf;
}

/* Close a connection whose header will not be read, saying why once. */
static void give_up(hp_conn *c, coil_log_level level, const char *why)
{
    char who[COIL_ADDRESS_STRLEN];
    if (!c->logged)
        coil_log_ratelimited(level, SYS, why, "PROXY header from %s: %s; closing the connection",
                 peer_text(c, who, sizeof(who)), why);
    c->logged = true;
    if (c->timer) {
        coil_delayed_call_cancel(c->timer);
        c->timer = NULL;
    }
    coil_transport_lose_connection(c->base.proto.transport);
}

static const coil_protocol_ops conn_ops;

static coil_protocol *hf_build(coil_factory *f, const coil_address *addr)
{
    hp_factory *hf = (hp_factory *)f;
    if (hf->stopped)
        return NULL;
    hp_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    coil_wrap_init(&c->base, &conn_ops, NULL);
    c->hf = hf;
    if (addr)
        c->peer = *addr;
    c->next = hf->pending;
    if (c->next)
        c->next->prev = c;
    hf->pending = c;
    c->linked = true;
    hf->refs++;
    return &c->base.proto;
}

static void hf_start(coil_factory *f)
{
    hp_factory *hf = (hp_factory *)f;
    hf->refs++; /* the port's */
    coil_factory_do_start(hf->user);
}

static void hf_stop(coil_factory *f)
{
    hp_factory *hf = (hp_factory *)f;
    /* Connections without a complete header cannot be served any more:
     * the application's factory is stopped and may be freed. Closing
     * calls nothing synchronously, so the list stays as it is. */
    for (hp_conn *c = hf->pending; c; c = c->next)
        give_up(c, COIL_LOG_INFO, "the port stopped listening before the header was complete");
    hf->stopped = true;
    coil_factory_do_stop(hf->user);
    hf_unref(hf);
}

static const coil_factory_ops hf_ops = {
    .build_protocol = hf_build,
    .start_factory = hf_start,
    .stop_factory = hf_stop,
};

/* ---- the wrapper protocol ------------------------------------------------ */

/* Done with the header (read or not): the wrapping factory may go. */
static void release_header(hp_conn *c)
{
    hp_factory *hf = c->hf;
    if (c->timer)
        coil_delayed_call_cancel(c->timer);
    c->timer = NULL;
    free(c->buf);
    c->buf = NULL;
    if (!hf)
        return;
    unlink_conn(c);
    c->hf = NULL;
    hf_unref(hf);
}

static void conn_free(hp_conn *c)
{
    release_header(c);
    free(c);
}

static void on_timeout(void *arg)
{
    hp_conn *c = arg;
    c->timer = NULL;
    char why[96];
    snprintf(why, sizeof(why), "no complete header within %g seconds",
             coil__haproxy_header_timeout);
    give_up(c, COIL_LOG_WARN, why);
}

static void conn_made(coil_protocol *p)
{
    hp_conn *c = (hp_conn *)p;
    coil_reactor *r = coil_transport_reactor(p->transport);
    c->timer = coil_reactor_call_later(r, coil__haproxy_header_timeout, on_timeout, c);
    if (!c->timer)
        give_up(c, COIL_LOG_ERROR, "out of memory");
}

/* After the header: the socket transport's callbacks go to the application. */
static void fwd_data(coil_protocol *p, const void *data, size_t len)
{
    coil_wrap_deliver((coil_wrap *)p, data, len);
}

static void fwd_read_lost(coil_protocol *p)
{
    coil_wrap_deliver_eof((coil_wrap *)p);
}

static void fwd_write_lost(coil_protocol *p)
{
    coil_wrap_deliver_write_eof((coil_wrap *)p);
}

static void fwd_lost(coil_protocol *p, int reason)
{
    coil_wrap_lost((coil_wrap *)p, reason);
    conn_free((hp_conn *)p);
}

static const coil_protocol_ops fwd_ops = {
    .data_received = fwd_data,
    .read_connection_lost = fwd_read_lost,
    .write_connection_lost = fwd_write_lost,
    .connection_lost = fwd_lost,
};

/* A whole header: hand the connection to the application. */
static void header_done(hp_conn *c, const coil_proxy_info *info, const unsigned char *rest,
                        size_t rest_len)
{
    coil_transport *t = c->base.proto.transport;
    hp_factory *hf = c->hf;
    if (c->timer) {
        coil_delayed_call_cancel(c->timer);
        c->timer = NULL;
    }
    if (hf->stopped) { /* not reached: hf_stop() closed us */
        give_up(c, COIL_LOG_INFO, "the port stopped listening before the header was complete");
        return;
    }
    /* The outer transport is made here, so attaching cannot fail later. */
    bool proxied = info->family != AF_UNSPEC;
    const coil_address *addr = proxied ? &info->source : &c->peer;
    if (coil_wrap_set_addresses(&c->base, proxied ? &info->source : NULL,
                                proxied ? &info->destination : NULL) < 0) {
        give_up(c, COIL_LOG_ERROR, "out of memory");
        coil_transport_abort_connection(t);
        return;
    }
    coil_protocol *proto = hf->user->ops->build_protocol(hf->user, addr);
    if (!proto) {
        /* Refused, as a port closes a connection its factory refuses:
         * without a word above DEBUG. */
        char who[COIL_ADDRESS_STRLEN];
        if (coil_address_format(addr, who, sizeof(who)) < 0)
            snprintf(who, sizeof(who), "<unknown>");
        coil_log(COIL_LOG_DEBUG, SYS, "connection from %s (PROXY) refused by the factory", who);
        c->logged = true;
        coil_transport_lose_connection(t);
        return;
    }
    /* From here on the wrapper only forwards. The bytes after the header
     * go to the application's protocol as if they had just been read:
     * dropped if it closed the connection, held if it paused reading. They
     * may live in c->buf, which is released only after. */
    coil_factory *user = hf->user;
    c->base.proto.ops = &fwd_ops;
    coil_wrap_attach(&c->base, proto, user);
    coil_wrap_deliver(&c->base, rest, rest_len);
    release_header(c);
}

static void conn_data(coil_protocol *p, const void *data, size_t len)
{
    hp_conn *c = (hp_conn *)p;
    const unsigned char *buf = data;
    size_t have = len;
    if (c->len) {
        /* At most COIL_PROXY_V2_MAX_HEADER bytes are buffered before the
         * parser decides, plus this read. */
        unsigned char *b = realloc(c->buf, c->len + len);
        if (!b) {
            give_up(c, COIL_LOG_ERROR, "out of memory");
            coil_transport_abort_connection(p->transport);
            return;
        }
        memcpy(b + c->len, data, len);
        c->buf = b;
        c->len += len;
        buf = c->buf;
        have = c->len;
    }
    coil_proxy_info info;
    int n = coil_proxy_parse(buf, have, &info);
    if (n == COIL_PROXY_INCOMPLETE) {
        if (buf == data) { /* keep what came, wait for the rest */
            c->buf = malloc(len);
            if (!c->buf) {
                give_up(c, COIL_LOG_ERROR, "out of memory");
                coil_transport_abort_connection(p->transport);
                return;
            }
            memcpy(c->buf, data, len);
            c->len = len;
        }
        return;
    }
    if (n < 0) {
        give_up(c, COIL_LOG_WARN, info.error ? info.error : "invalid header");
        return;
    }
    header_done(c, &info, buf + n, have - (size_t)n);
}

static void conn_read_lost(coil_protocol *p)
{
    hp_conn *c = (hp_conn *)p;
    char why[96];
    if (c->len == 0) {
        /* Typically a TCP health check (AWS NLB, haproxy without
         * check-send-proxy): not worth a warning. */
        give_up(c, COIL_LOG_INFO, "the peer closed the connection without sending one");
        return;
    }
    snprintf(why, sizeof(why),
             "the peer closed the connection after %zu bytes of an incomplete header", c->len);
    give_up(c, COIL_LOG_WARN, why);
}

static void conn_lost(coil_protocol *p, int reason)
{
    hp_conn *c = (hp_conn *)p;
    if (!c->logged && reason != COIL_ESHUTDOWN) {
        char who[COIL_ADDRESS_STRLEN];
        coil_log(c->len ? COIL_LOG_WARN : COIL_LOG_INFO, SYS,
                 "PROXY header from %s: connection lost after %zu bytes, before a complete "
                 "header: %s",
                 peer_text(c, who, sizeof(who)), c->len, reason ? coil_strerror(reason) : "closed");
    }
    coil_wrap_lost(&c->base, reason); /* frees an outer transport never attached */
    conn_free(c);
}

static const coil_protocol_ops conn_ops = {
    .connection_made = conn_made,
    .data_received = conn_data,
    .read_connection_lost = conn_read_lost,
    .connection_lost = conn_lost,
};

/* ---- the endpoint -------------------------------------------------------- */

typedef struct hp_endpoint {
    coil_server_endpoint base;
    coil_server_endpoint *inner;
} hp_endpoint;

static coil_deferred *hp_listen(coil_server_endpoint *ep, coil_factory *f)
{
    hp_endpoint *e = (hp_endpoint *)ep;
    hp_factory *hf = calloc(1, sizeof(*hf));
    if (!hf)
        return NULL;
    hf->base.ops = &hf_ops;
    hf->user = f;
    hf->refs = 1; /* until the listen Deferred has delivered its result */
    coil_deferred *d = coil_server_endpoint_listen(e->inner, &hf->base);
    if (!d) {
        hf_unref(hf);
        return NULL;
    }
    /* The port (or the failure) passes through unchanged; the pair only
     * drops the listen's reference once it leaves the chain. */
    if (coil_deferred_add_callbacks_full(d, NULL, NULL, hf, hf_unref) < 0 &&
        coil_deferred_called(d))
        hf_unref(hf); /* else leak it rather than risk a late listen using it */
    return d;
}

static void hp_free(coil_server_endpoint *ep)
{
    hp_endpoint *e = (hp_endpoint *)ep;
    coil_server_endpoint_free(e->inner);
    free(e);
}

static const coil_server_endpoint_ops hp_ops = {
    .listen = hp_listen,
    .free = hp_free,
};

coil_server_endpoint *coil_haproxy_server_endpoint_new(coil_server_endpoint *inner)
{
    if (!inner)
        return NULL;
    hp_endpoint *e = calloc(1, sizeof(*e));
    if (!e) {
        coil_server_endpoint_free(inner);
        return NULL;
    }
    e->base.ops = &hp_ops;
    e->base.reactor = inner->reactor;
    e->inner = inner;
    return &e->base;
}
