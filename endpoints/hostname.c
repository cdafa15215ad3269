/* SPDX-License-Identifier: MIT */
/*
 * HostnameEndpoint (Twisted's "happy eyeballs lite"): resolve the name with
 * coil_resolve() (IP literals skip the resolver), then connect to its
 * addresses in the resolver's order, one attempt at once and another every
 * attempt_delay seconds while the earlier ones are pending, or at once when
 * one fails. The first connection established wins, the others are
 * cancelled.
 *
 * Each connect is an `hconn`; each attempt connects with its own small
 * factory (`attempt.f`) whose build_protocol decides the winner: the first
 * attempt to get there cancels the others and calls the user's
 * build_protocol, once; a late one would get NULL. The winning transport
 * is then handed to the user's factory (it counts one do_start for it and
 * its do_stop runs after connection_lost), so the protocol's `factory` is
 * the user's, as with the other endpoint types. The connect itself holds
 * one do_start of the user's factory from connect() until it has fired and
 * every attempt is gone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/resolver.h>

#include "endpoint_int.h"

#define DEFAULT_TIMEOUT 30.0
#define DEFAULT_ATTEMPT_DELAY 0.3

typedef struct hostname_ep {
    coil_client_endpoint base;
    double timeout; /* < 0: none */
    double attempt_delay;
    coil_address bind; /* len 0: none */
    uint16_t port;
    char host[];
} hostname_ep;

typedef struct hconn hconn;

typedef struct attempt {
    coil_factory f; /* what the attempt connects with (see the top) */
    hconn *hc;
    struct attempt *next; /* hc->attempts */
    coil_connector *conn; /* until the connect callback ran */
    coil_address addr;
    bool reported; /* the connect callback ran */
    bool released; /* the transport no longer uses `f` */
} attempt;

struct hconn {
    coil_reactor *r;
    coil_factory *user;
    coil_deferred *d;         /* one reference until fired */
    coil_deferred *resolving; /* the lookup, until its callbacks ran (one reference) */
    coil_value addrs;         /* the resolver's coil_address_list and its destructor */
    size_t next;              /* next address to try */
    attempt *attempts;        /* not yet released */
    size_t pending;           /* attempts whose connect callback has not run */
    attempt *winner;
    coil_delayed_call *stagger, *deadline;
    coil_failure *last; /* the last attempt's failure */
    double delay;
    coil_address bind;
    int busy;  /* entry points on the stack: freeing waits */
    bool done; /* d fired */
    uint16_t port;
    char where[COIL_ADDRESS_STRLEN + 8]; /* "host:port" for messages */
    char host[];
};

static void try_next(hconn *hc);

/* ---- lifetime ------------------------------------------------------------ */

static void enter(hconn *hc)
{
    hc->busy++;
}

/* Free once fired, with no lookup and no attempt left, from the outermost
 * entry point. The user's factory is released last: it may free itself. */
static void leave(hconn *hc)
{
    if (--hc->busy > 0 || !hc->done || hc->resolving || hc->attempts)
        return;
    if (hc->addrs.destroy)
        hc->addrs.destroy(hc->addrs.ptr);
    coil_failure_unref(hc->last);
    coil_factory *user = hc->user;
    free(hc);
    coil_factory_do_stop(user);
}

static void attempt_unlink_free(attempt *a)
{
    hconn *hc = a->hc;
    attempt **pp = &hc->attempts;
    while (*pp != a)
        pp = &(*pp)->next;
    *pp = a->next;
    free(a);
}

/* Fire d with `res` (a value: the protocol; or a failure, taken over) and
 * stop everything else: the lookup, the timers, the other attempts. */
static void finish(hconn *hc, coil_result res)
{
    if (hc->done) {
        coil_result_release(res);
        return;
    }
    hc->done = true;
    if (hc->stagger) {
        coil_delayed_call_cancel(hc->stagger);
        hc->stagger = NULL;
    }
    if (hc->deadline) {
        coil_delayed_call_cancel(hc->deadline);
        hc->deadline = NULL;
    }
    if (hc->resolving) { /* its callbacks run now and let it go */
        coil_deferred *rd = coil_deferred_ref(hc->resolving);
        coil_deferred_cancel(rd);
        coil_deferred_unref(rd);
    }
    for (attempt *a = hc->attempts; a; a = a->next)
        if (a != hc->winner && !a->reported && a->conn)
            coil_connector_cancel(a->conn);
    coil_deferred *d = hc->d;
    hc->d = NULL;
    coil_deferred_callback(d, res);
    coil_deferred_unref(d);
}

static void fail(hconn *hc, coil_failure *f)
{
    finish(hc, coil_result_failure(f));
}

/* ---- attempts ------------------------------------------------------------ */

/* The first attempt that connects wins (see the top). */
static coil_protocol *attempt_build(coil_factory *f, const coil_address *peer)
{
    attempt *a = (attempt *)f;
    hconn *hc = a->hc;
    coil_protocol *p = NULL;
    enter(hc);
    if (!hc->done && !hc->winner) {
        hc->winner = a;
        if (hc->stagger) {
            coil_delayed_call_cancel(hc->stagger);
            hc->stagger = NULL;
        }
        for (attempt *o = hc->attempts; o; o = o->next)
            if (o != a && !o->reported && o->conn)
                coil_connector_cancel(o->conn);
        p = hc->user->ops->build_protocol(hc->user, peer);
        if (p) {
            /* The connection is the user factory's from now on: the
             * transport calls its do_stop after connection_lost and sets
             * p->factory to it before connection_made. */
            coil_factory_do_start(hc->user);
            coil_connector_set_factory(a->conn, hc->user);
            a->released = true;
        }
    }
    leave(hc);
    return p;
}

/* Called after the connect callback (the transport's endgame), unless the
 * winner's transport was handed to the user's factory. */
static void attempt_stopped(coil_factory *f)
{
    attempt *a = (attempt *)f;
    hconn *hc = a->hc;
    enter(hc);
    a->released = true;
    if (a->reported)
        attempt_unlink_free(a);
    leave(hc);
}

static const coil_factory_ops attempt_factory_ops = {
    .build_protocol = attempt_build,
    .stop_factory = attempt_stopped,
};

static void attempt_connected(void *arg, coil_protocol *p, int err)
{
    attempt *a = arg;
    hconn *hc = a->hc;
    enter(hc);
    a->reported = true;
    a->conn = NULL;
    hc->pending--;
    if (p) {
        finish(hc, coil_result_value(p, NULL));
    } else if (!hc->done) {
        coil_failure *f = coil_connect_failure(&a->addr, err);
        if (a == hc->winner || err == COIL_ESHUTDOWN) {
            fail(hc, f); /* the user's factory refused, or the reactor stops */
        } else {
            coil_failure_unref(hc->last);
            hc->last = f;
            try_next(hc);
        }
    }
    if (a->released)
        attempt_unlink_free(a);
    leave(hc);
}

/* Start connecting to `addr`: 0, or the error of a connect that failed at
 * once (recorded as the last failure). */
static int start_attempt(hconn *hc, const coil_address *addr)
{
    attempt *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->f.ops = &attempt_factory_ops;
    a->hc = hc;
    a->addr = *addr;
    a->next = hc->attempts;
    hc->attempts = a;
    /* The deadline covers the whole connect: no timeout per attempt. */
    coil_connect_options o = {.timeout = -1, .bind_address = hc->bind.len ? &hc->bind : NULL};
    int rc = coil_connect_tcp(hc->r, addr, &o, &a->f, attempt_connected, a, &a->conn);
    if (rc < 0) {
        attempt_unlink_free(a);
        coil_failure_unref(hc->last);
        hc->last = coil_connect_failure(addr, rc);
        return rc;
    }
    hc->pending++;
    return 0;
}

static void stagger_fire(void *arg)
{
    hconn *hc = arg;
    hc->stagger = NULL;
    enter(hc);
    try_next(hc);
    leave(hc);
}

static bool usable(const hconn *hc, const coil_address *a)
{
    int family = coil_address_family(a);
    if (family != AF_INET && family != AF_INET6)
        return false;
    return !hc->bind.len || coil_address_family(&hc->bind) == family;
}

/* Start the next attempt (skipping addresses that cannot be used and ones
 * whose connect fails at once), and schedule the one after it; fail when
 * nothing is left to try and nothing is pending. */
static void try_next(hconn *hc)
{
    const coil_address_list *l = hc->addrs.ptr;
    while (!hc->done && !hc->winner && hc->next < l->count) {
        const coil_address *addr = &l->addrs[hc->next++];
        if (!usable(hc, addr))
            continue;
        int rc = start_attempt(hc, addr);
        if (rc == -ENOMEM) {
            fail(hc, coil_failure_new(COIL_NET_DOMAIN, -ENOMEM, "Connecting to %s failed: %s",
                                      hc->where, coil_strerror(-ENOMEM)));
            return;
        }
        if (rc < 0)
            continue; /* failed at once: the next one now */
        bool more = false;
        for (size_t i = hc->next; i < l->count && !more; i++)
            more = usable(hc, &l->addrs[i]);
        if (!more)
            break;
        if (hc->stagger) {
            coil_delayed_call_reset(hc->stagger, hc->delay);
        } else {
            hc->stagger = coil_reactor_call_later(hc->r, hc->delay, stagger_fire, hc);
            if (!hc->stagger) /* no timer: try the rest as earlier ones fail */
                break;
        }
        return;
    }
    if (hc->done || hc->winner || hc->pending)
        return;
    if (hc->next < l->count)
        return; /* waiting for the stagger timer */
    if (hc->last) {
        coil_failure *f = hc->last;
        hc->last = NULL;
        fail(hc, f);
        return;
    }
    int family = coil_address_family(&hc->bind);
    fail(hc, coil_failure_new(COIL_NET_DOMAIN, -EAFNOSUPPORT,
                              "Connecting to %s failed: no %s address to connect to from the "
                              "bind address",
                              hc->where, family == AF_INET ? "IPv4" : "IPv6"));
}

/* ---- resolution, deadline, cancel ---------------------------------------- */

static bool has_ip(const coil_address_list *l)
{
    for (size_t i = 0; l && i < l->count; i++) {
        int family = coil_address_family(&l->addrs[i]);
        if (family == AF_INET || family == AF_INET6)
            return true;
    }
    return false;
}

/* The addresses are known (taken over): start connecting. */
static void resolved_with(hconn *hc, coil_value v)
{
    hc->addrs = v;
    if (!has_ip(v.ptr)) {
        fail(hc, coil_failure_new(COIL_NET_DOMAIN, COIL_EDNS, "no results for hostname lookup: %s",
                                  hc->host));
        return;
    }
    if (hc->addrs.ptr)
        try_next(hc);
}

static coil_result on_resolved(coil_result res, void *arg)
{
    hconn *hc = arg;
    enter(hc);
    coil_deferred *rd = hc->resolving;
    hc->resolving = NULL;
    if (hc->done) {
        coil_result_release(res);
    } else if (coil_result_is_failure(res)) {
        fail(hc, res.failure);
    } else if (res.kind == COIL_RESULT_VALUE) {
        resolved_with(hc, res.value);
    } else {
        coil_result_release(res);
        fail(hc, coil_failure_new(COIL_NET_DOMAIN, COIL_EDNS, "no results for hostname lookup: %s",
                                  hc->host));
    }
    coil_deferred_unref(rd);
    leave(hc);
    return coil_result_none();
}

static void deadline_fire(void *arg)
{
    hconn *hc = arg;
    hc->deadline = NULL;
    enter(hc);
    /* Worded as a timeout of a connect to an address, so that the text
     * does not depend on how the endpoint was named. */
    fail(hc, coil_failure_new(COIL_NET_DOMAIN, -ETIMEDOUT, "Connecting to %s failed: %s",
                              hc->where, coil_strerror(-ETIMEDOUT)));
    leave(hc);
}

static void cancel_connect(coil_deferred *d, void *arg)
{
    hconn *hc = arg;
    enter(hc);
    fail(hc, coil_failure_new(COIL_NET_DOMAIN, -ECANCELED, "Connecting to %s was cancelled",
                              hc->where));
    leave(hc);
}

static coil_deferred *hostname_connect(coil_client_endpoint *ep, coil_factory *factory)
{
    hostname_ep *e = (hostname_ep *)ep;
    size_t n = strlen(e->host) + 1;
    hconn *hc = calloc(1, sizeof(*hc) + n);
    if (!hc)
        return NULL;
    coil_deferred *d = coil_deferred_new(cancel_connect, hc);
    if (!d) {
        free(hc);
        return NULL;
    }
    hc->r = ep->reactor;
    hc->user = factory;
    hc->d = coil_deferred_ref(d);
    hc->delay = e->attempt_delay;
    hc->bind = e->bind;
    hc->port = e->port;
    memcpy(hc->host, e->host, n);
    snprintf(hc->where, sizeof(hc->where), strchr(e->host, ':') ? "[%s]:%u" : "%s:%u", e->host,
             (unsigned)e->port);
    coil_factory_do_start(factory);
    enter(hc);
    if (e->timeout >= 0) {
        hc->deadline = coil_reactor_call_later(hc->r, e->timeout, deadline_fire, hc);
        if (!hc->deadline)
            fail(hc, coil_failure_new(COIL_NET_DOMAIN, -ENOMEM, "Connecting to %s failed: %s",
                                      hc->where, coil_strerror(-ENOMEM)));
    }
    coil_address lit;
    if (hc->done) {
        /* failed already */
    } else if (e->host[0] && coil_address_from_ip(&lit, e->host, e->port) == 0) {
        coil_address_list *l = coil_address_list_new(1);
        if (l) {
            l->addrs[0] = lit;
            resolved_with(hc, (coil_value){.ptr = l, .destroy = free});
        } else {
            fail(hc, coil_failure_new(COIL_NET_DOMAIN, -ENOMEM, "Connecting to %s failed: %s",
                                      hc->where, coil_strerror(-ENOMEM)));
        }
    } else {
        coil_deferred *rd = coil_resolve(hc->r, e->host, e->port);
        hc->resolving = rd; /* the caller's reference becomes ours */
        if (!rd || coil_deferred_add_callbacks(rd, on_resolved, on_resolved, hc) < 0) {
            if (rd) {
                coil_deferred_cancel(rd);
                hc->resolving = NULL;
                coil_deferred_unref(rd);
            }
            fail(hc, coil_failure_new(COIL_NET_DOMAIN, -ENOMEM, "Connecting to %s failed: %s",
                                      hc->where, coil_strerror(-ENOMEM)));
        }
    }
    leave(hc);
    return d;
}

/* ---- the endpoint -------------------------------------------------------- */

static void hostname_free(coil_client_endpoint *ep)
{
    free(ep); /* connects in progress keep copies of what they use */
}

static const coil_client_endpoint_ops hostname_ops = {
    .connect = hostname_connect,
    .free = hostname_free,
};

coil_client_endpoint *coil_hostname_endpoint_new(coil_reactor *r, const char *host, uint16_t port,
                                                 const coil_hostname_options *opts)
{
    if (!r || !host)
        return NULL;
    coil_hostname_options o = opts ? *opts : (coil_hostname_options){0};
    size_t n = strlen(host) + 1;
    hostname_ep *e = calloc(1, sizeof(*e) + n);
    if (!e)
        return NULL;
    e->base.ops = &hostname_ops;
    e->base.reactor = r;
    e->timeout = o.timeout == 0 ? DEFAULT_TIMEOUT : o.timeout < 0 ? -1 : o.timeout;
    e->attempt_delay = o.attempt_delay > 0 ? o.attempt_delay : DEFAULT_ATTEMPT_DELAY;
    if (o.bind_address)
        e->bind = *o.bind_address;
    e->port = port;
    memcpy(e->host, host, n);
    return &e->base;
}
