/* SPDX-License-Identifier: MIT */
/*
 * ClientService: Twisted's _ClientMachine as a switch over seven states.
 * Every input is one ev_* function; each sets the new state first and then
 * runs its outputs, as automat does, so user callbacks that re-enter the
 * service (stop from a when_connected callback, free from a stop callback)
 * see the state they expect.
 *
 * Lifetimes. The service may be freed from inside its own callbacks, so
 * every entry point brackets its work with enter()/leave() and the memory
 * goes when the outermost one leaves. Objects that can outlive the service
 * (the per-attempt factory wrapper, which the endpoint frees through
 * do_stop, and the protocol proxy, freed in connection_lost) reach it
 * through a small reference-counted `link` whose pointer is cleared when the
 * service is freed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/client_service.h>
#include <coil/error.h>
#include <coil/log.h>
#include <coil/net_deferred.h>
#include <coil/transport.h>

#include "client_service_int.h"

#define LOG_SYSTEM "coil.client_service"

typedef struct link {
    coil_client_service *svc; /* NULL once the service is freed */
    unsigned refs;
} link;

/* Wraps the user's protocol to see connection_lost (Twisted's
 * _ReconnectingProtocolProxy). */
typedef struct proxy {
    coil_protocol base;
    coil_protocol *user;
    coil_factory *user_factory;
    link *link;
} proxy;

/* One per attempt; the endpoint holds it with do_start/do_stop and it frees
 * itself at the last do_stop (Twisted's _DisconnectFactory). */
typedef struct wrap_factory {
    coil_factory base;
    coil_factory *user;
    link *link;
} wrap_factory;

typedef struct waiter {
    struct waiter *next, *prev; /* the service's list */
    struct waiter *chain;       /* a batch taken out of the list to be fired */
    coil_deferred *d;   /* the service's reference */
    unsigned remaining; /* 0: only fails when the service stops */
    bool taken;         /* in a batch: firing is up to the batch */
    bool cancelled;     /* withdrawn while in a batch */
} waiter;

struct coil_client_service {
    coil_service service; /* first: coil_client_service_service() */
    coil_reactor *reactor;
    coil_client_endpoint *ep;
    bool own_ep;
    char *desc; /* deferred description (built at start) */
    coil_factory *factory;
    bool factory_started;
    coil_clock *clock;
    coil_retry_policy_fn retry_policy;
    void *retry_arg;
    coil_backoff_policy default_policy;
    coil_prepare_connection_fn prepare_fn;
    void *prepare_arg;
    char *name;
    bool once;
    char start_error[256];

    coil_client_service_state state;
    unsigned failed;
    coil_deferred *attempt;      /* endpoint connect in flight */
    proxy *pending;              /* connected, not ready: being prepared or rejected */
    coil_deferred *prepare;      /* prepare_connection in flight */
    coil_failure *reject;        /* pending is being closed because of this */
    coil_failure *lost_early;    /* pending was lost while being prepared */
    proxy *conn;                 /* the ready connection */
    coil_delayed_call *retry;
    coil_failure *last_failure;  /* once mode: the last attempt's failure */
    waiter waiters;              /* list head */
    coil_deferred **stop_waiters;
    size_t nstop, capstop;
    link *link;
    unsigned busy;
    bool freeing;
};

/* ---- small helpers ----------------------------------------------------- */

static link *link_ref(link *l)
{
    l->refs++;
    return l;
}

static void link_unref(void *arg)
{
    link *l = arg;
    if (l && --l->refs == 0)
        free(l);
}

static void really_free(coil_client_service *cs);

static void enter(coil_client_service *cs)
{
    cs->busy++;
}

static void leave(coil_client_service *cs)
{
    if (--cs->busy == 0 && cs->freeing)
        really_free(cs);
}

static coil_failure *cancelled(const char *why)
{
    return coil_failure_new(COIL_DEFER_DOMAIN, COIL_DEFER_CANCELLED, "%s", why);
}

/* Python's repr of a float: the shortest text that reads back the same. */
static void format_seconds(double v, char *buf, size_t size)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".eEni")) /* 2 -> 2.0, as Python prints floats */
        strncat(buf, ".0", size - strlen(buf) - 1);
}

/* ---- the protocol proxy -------------------------------------------------- */

static void ev_lost(coil_client_service *cs, proxy *px, int reason);

static void px_made(coil_protocol *p)
{
    proxy *px = (proxy *)p;
    px->user->transport = p->transport;
    px->user->factory = px->user_factory;
    if (px->user->ops->connection_made)
        px->user->ops->connection_made(px->user);
}

static void px_data(coil_protocol *p, const void *data, size_t len)
{
    proxy *px = (proxy *)p;
    if (px->user->ops->data_received)
        px->user->ops->data_received(px->user, data, len);
}

static void px_read_lost(coil_protocol *p)
{
    proxy *px = (proxy *)p;
    px->user->ops->read_connection_lost(px->user);
}

static void px_write_lost(coil_protocol *p)
{
    proxy *px = (proxy *)p;
    if (px->user->ops->write_connection_lost)
        px->user->ops->write_connection_lost(px->user);
}

static void px_lost(coil_protocol *p, int reason)
{
    proxy *px = (proxy *)p;
    link *l = px->link;
    /* The user's callback first (it may free its protocol), then the
     * service, which may free itself: the link stays ours until the end. */
    if (px->user->ops->connection_lost)
        px->user->ops->connection_lost(px->user, reason);
    px->user = NULL;
    if (l->svc)
        ev_lost(l->svc, px, reason);
    link_unref(l);
    free(px);
}

/* read_connection_lost decides half-close behaviour by being present, so the
 * proxy offers it only when the user's protocol does. */
static const coil_protocol_ops px_ops = {
    .connection_made = px_made,
    .data_received = px_data,
    .write_connection_lost = px_write_lost,
    .connection_lost = px_lost,
};
static const coil_protocol_ops px_ops_half = {
    .connection_made = px_made,
    .data_received = px_data,
    .read_connection_lost = px_read_lost,
    .write_connection_lost = px_write_lost,
    .connection_lost = px_lost,
};

static coil_protocol *wf_build(coil_factory *f, const coil_address *addr)
{
    wrap_factory *wf = (wrap_factory *)f;
    if (!wf->link->svc)
        return NULL; /* the service is gone: refuse */
    proxy *px = calloc(1, sizeof(*px));
    if (!px)
        return NULL;
    coil_protocol *user = wf->user->ops->build_protocol(wf->user, addr);
    if (!user) {
        free(px);
        return NULL;
    }
    px->base.ops = user->ops->read_connection_lost ? &px_ops_half : &px_ops;
    px->user = user;
    px->user_factory = wf->user;
    px->link = link_ref(wf->link);
    return &px->base;
}

static void wf_stop(coil_factory *f)
{
    wrap_factory *wf = (wrap_factory *)f;
    link_unref(wf->link);
    free(wf);
}

static const coil_factory_ops wf_ops = {
    .build_protocol = wf_build,
    .stop_factory = wf_stop,
};

/* ---- waiters ------------------------------------------------------------ */

static void waiter_unlink(waiter *w)
{
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->next = w->prev = w;
}

/* The caller cancelled a when_connected Deferred: forget it (coil then
 * errbacks it with CancelledError). A waiter already taken out to be
 * fired (another waiter's callback cancels it) is only marked. */
static void waiter_cancel(coil_deferred *d, void *arg)
{
    waiter *w = arg;
    if (w->taken) {
        w->cancelled = true;
        return;
    }
    waiter_unlink(w);
    coil_deferred_unref(w->d);
    free(w);
}

static void take(waiter *w, waiter ***tail)
{
    waiter_unlink(w);
    w->taken = true;
    w->chain = NULL;
    **tail = w;
    *tail = &w->chain;
}

/* Fire a batch, each with `f` (a reference each) or the protocol. */
static void fire_batch(waiter *w, coil_protocol *p, coil_failure *f)
{
    while (w) {
        waiter *next = w->chain;
        if (!w->cancelled)
            coil_deferred_callback(w->d, f ? coil_result_failure(coil_failure_ref(f))
                                           : coil_result_value(p, NULL));
        coil_deferred_unref(w->d);
        free(w);
        w = next;
    }
}

/* Twisted's _unawait: fire every waiter with the protocol or a failure
 * (one reference, consumed). */
static void unawait(coil_client_service *cs, coil_protocol *p, coil_failure *f)
{
    waiter *batch = NULL, **tail = &batch;
    while (cs->waiters.next != &cs->waiters)
        take(cs->waiters.next, &tail);
    fire_batch(batch, p, f);
    coil_failure_unref(f);
}

static void cancel_waiters(coil_client_service *cs)
{
    unawait(cs, NULL, cancelled("The client service stopped before a connection was made"));
}

/* Twisted's _deliverConnectionFailure: waiters whose count reaches the
 * threshold get `f`; in once mode no further attempt follows, so all do. */
static void deliver_failure(coil_client_service *cs, coil_failure *f)
{
    waiter *batch = NULL, **tail = &batch;
    for (waiter *w = cs->waiters.next, *next; w != &cs->waiters; w = next) {
        next = w->next;
        if (cs->once || (w->remaining && w->remaining <= 1))
            take(w, &tail);
        else if (w->remaining)
            w->remaining--;
    }
    fire_batch(batch, NULL, f);
}

/* ---- stop waiters ----------------------------------------------------------- */

static coil_deferred *wait_for_stop(coil_client_service *cs)
{
    if (cs->nstop == cs->capstop) {
        size_t cap = cs->capstop ? cs->capstop * 2 : 2;
        coil_deferred **grown = realloc(cs->stop_waiters, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        cs->stop_waiters = grown;
        cs->capstop = cap;
    }
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    if (!d)
        return NULL;
    cs->stop_waiters[cs->nstop++] = coil_deferred_ref(d);
    return d;
}

static void factory_stop(coil_client_service *cs)
{
    if (cs->factory_started) {
        cs->factory_started = false;
        coil_factory_do_stop(cs->factory);
    }
}

/* Twisted's _finishStopping. With `stopped` the machine is now stopped and
 * the factory is told so before anyone learns it. */
static void finish_stopping(coil_client_service *cs, bool stopped)
{
    if (stopped)
        factory_stop(cs);
    coil_deferred **ds = cs->stop_waiters;
    size_t n = cs->nstop;
    cs->stop_waiters = NULL;
    cs->nstop = cs->capstop = 0;
    for (size_t i = 0; i < n; i++) {
        coil_deferred_callback(ds[i], coil_result_none());
        coil_deferred_unref(ds[i]);
    }
    free(ds);
}

/* ---- outputs ------------------------------------------------------------------ */

static coil_result attempt_done(coil_result r, void *arg);
static void retry_fire(void *arg);
static void retry_drop(void *arg);

static void ev_connection_failed(coil_client_service *cs, coil_failure *f);
static void ev_connection_made(coil_client_service *cs, proxy *px);

/* Twisted's _connect. */
static void do_connect(coil_client_service *cs)
{
    wrap_factory *wf = calloc(1, sizeof(*wf));
    if (!wf) {
        ev_connection_failed(cs, coil_failure_new(COIL_NET_DOMAIN, -ENOMEM, "out of memory"));
        return;
    }
    wf->base.ops = &wf_ops;
    wf->user = cs->factory;
    wf->link = link_ref(cs->link);
    /* Our own count keeps the wrapper alive during connect(); an endpoint
     * that keeps it adds its own. */
    coil_factory_do_start(&wf->base);
    coil_deferred *d = coil_client_endpoint_connect(cs->ep, &wf->base);
    coil_factory_do_stop(&wf->base);
    if (!d) {
        ev_connection_failed(cs, coil_failure_new(COIL_NET_DOMAIN, -ENOMEM, "out of memory"));
        return;
    }
    cs->attempt = d; /* the caller's reference; attempt_done drops it */
    int rc = coil_deferred_add_callbacks_full(d, attempt_done, attempt_done, link_ref(cs->link),
                                              link_unref);
    if (rc < 0) {
        link_unref(cs->link);
        cs->attempt = NULL;
        coil_deferred_cancel(d);
        coil_deferred_unref(d);
        ev_connection_failed(cs, coil_failure_new(COIL_NET_DOMAIN, rc, "out of memory"));
    }
}

/* Twisted's _wait / _doWait: count the failure and schedule the retry. */
static void do_wait(coil_client_service *cs)
{
    cs->failed++;
    if (cs->once)
        return; /* a plain client (TCPClient) does not retry */
    double delay = cs->retry_policy(cs->retry_arg, cs->failed);
    if (!(delay >= 0))
        delay = 0;
    else if (delay > 1e9) /* about 31 years: keeps timer arithmetic finite */
        delay = 1e9;
    char secs[40];
    format_seconds(delay, secs, sizeof(secs));
    coil_log(COIL_LOG_INFO, LOG_SYSTEM, "Scheduling retry %u to connect %s in %s seconds.",
             cs->failed, cs->name, secs);
    cs->retry = coil_call_later_full(cs->clock, delay, retry_fire, cs, retry_drop);
    if (!cs->retry)
        coil_log(COIL_LOG_ERROR, LOG_SYSTEM, "cannot schedule a retry to connect %s: %s",
                 cs->name, coil_strerror(-ENOMEM));
}

static void stop_retrying(coil_client_service *cs)
{
    if (cs->retry) {
        coil_delayed_call_cancel(cs->retry);
        cs->retry = NULL;
    }
}

/* Twisted's _stopConnecting: cancel what the attempt is waiting for. The
 * outcome (normally synchronous) arrives as ev_connection_failed. */
static void stop_connecting(coil_client_service *cs)
{
    if (cs->attempt)
        coil_deferred_cancel(cs->attempt);
    else if (cs->prepare)
        coil_deferred_cancel(cs->prepare);
    /* else: a rejected connection is closing; its loss ends the attempt */
}

static void close_proxy(proxy *px, bool abort)
{
    coil_transport *t = px->base.transport;
    if (abort)
        coil_transport_abort_connection(t);
    else
        coil_transport_lose_connection(t);
}

static void remember_failure(coil_client_service *cs, coil_failure *f)
{
    coil_failure_unref(cs->last_failure);
    cs->last_failure = coil_failure_ref(f);
}

/* ---- inputs ---------------------------------------------------------------------- */

static int ev_start(coil_client_service *cs)
{
    switch (cs->state) {
    case COIL_CLIENT_INIT:
    case COIL_CLIENT_STOPPED:
        if (!cs->ep && cs->desc) {
            char err[sizeof(cs->start_error)] = "";
            int rc = coil_client_from_string(cs->reactor, cs->desc, &cs->ep, err, sizeof(err));
            if (rc < 0) {
                snprintf(cs->start_error, sizeof(cs->start_error), "%s", err);
                coil_log(COIL_LOG_ERROR, LOG_SYSTEM, "cannot connect to %s: %s", cs->desc, err);
                return rc;
            }
            cs->own_ep = true;
        }
        cs->start_error[0] = '\0';
        /* As Twisted, the failure count survives a stop and a start. */
        cs->state = COIL_CLIENT_CONNECTING;
        coil_failure_unref(cs->last_failure);
        cs->last_failure = NULL;
        cs->factory_started = true;
        coil_factory_do_start(cs->factory);
        do_connect(cs);
        return 0;
    case COIL_CLIENT_DISCONNECTING:
        cs->state = COIL_CLIENT_RESTARTING;
        cs->failed = 0;
        return 0;
    default:
        return 0;
    }
}

static coil_deferred *ev_stop(coil_client_service *cs)
{
    coil_deferred *d;
    switch (cs->state) {
    case COIL_CLIENT_INIT:
    case COIL_CLIENT_STOPPED:
        cs->state = COIL_CLIENT_STOPPED;
        return coil_succeed(coil_result_none());
    case COIL_CLIENT_CONNECTING:
        cs->state = COIL_CLIENT_DISCONNECTING;
        d = wait_for_stop(cs);
        stop_connecting(cs);
        return d;
    case COIL_CLIENT_WAITING:
        cs->state = COIL_CLIENT_STOPPED;
        d = wait_for_stop(cs);
        cancel_waiters(cs);
        stop_retrying(cs);
        if (!cs->freeing)
            finish_stopping(cs, true);
        return d;
    case COIL_CLIENT_CONNECTED:
        cs->state = COIL_CLIENT_DISCONNECTING;
        d = wait_for_stop(cs);
        close_proxy(cs->conn, false);
        return d;
    case COIL_CLIENT_DISCONNECTING:
        return wait_for_stop(cs);
    case COIL_CLIENT_RESTARTING:
        cs->state = COIL_CLIENT_DISCONNECTING;
        return wait_for_stop(cs);
    }
    return NULL;
}

static void ev_connection_made(coil_client_service *cs, proxy *px)
{
    if (cs->state != COIL_CLIENT_CONNECTING) {
        /* Stopped meanwhile and the cancel was ignored: reject it; its loss
         * finishes the stop. */
        cs->pending = px;
        cs->reject = cancelled("The client service stopped while connecting");
        close_proxy(px, false);
        return;
    }
    cs->state = COIL_CLIENT_CONNECTED;
    cs->failed = 0;
    cs->conn = px;
    unawait(cs, px->user, NULL);
}

/* Consumes `f`. */
static void ev_connection_failed(coil_client_service *cs, coil_failure *f)
{
    switch (cs->state) {
    case COIL_CLIENT_CONNECTING:
        cs->state = COIL_CLIENT_WAITING;
        if (cs->once)
            remember_failure(cs, f);
        do_wait(cs);
        deliver_failure(cs, f);
        break;
    case COIL_CLIENT_DISCONNECTING:
        cs->state = COIL_CLIENT_STOPPED;
        cancel_waiters(cs);
        if (!cs->freeing)
            finish_stopping(cs, true);
        break;
    case COIL_CLIENT_RESTARTING:
        /* Only reachable when a rejected connection closed after a stop and
         * a start: behave as for a lost connection. */
        cs->state = COIL_CLIENT_CONNECTING;
        finish_stopping(cs, false);
        if (!cs->freeing && cs->state == COIL_CLIENT_CONNECTING)
            do_connect(cs);
        break;
    default:
        break;
    }
    coil_failure_unref(f);
}

static void ev_reconnect(coil_client_service *cs)
{
    if (cs->state != COIL_CLIENT_WAITING)
        return;
    cs->state = COIL_CLIENT_CONNECTING;
    do_connect(cs);
}

static void ev_client_disconnected(coil_client_service *cs)
{
    switch (cs->state) {
    case COIL_CLIENT_CONNECTED:
        cs->state = COIL_CLIENT_WAITING;
        cs->conn = NULL;
        do_wait(cs);
        break;
    case COIL_CLIENT_DISCONNECTING:
        cs->state = COIL_CLIENT_STOPPED;
        cs->conn = NULL;
        cancel_waiters(cs);
        if (!cs->freeing)
            finish_stopping(cs, true);
        break;
    case COIL_CLIENT_RESTARTING:
        cs->state = COIL_CLIENT_CONNECTING;
        cs->conn = NULL;
        finish_stopping(cs, false);
        if (!cs->freeing && cs->state == COIL_CLIENT_CONNECTING)
            do_connect(cs);
        break;
    default:
        cs->conn = NULL;
        break;
    }
}

/* A proxy's connection is gone. */
static void ev_lost(coil_client_service *cs, proxy *px, int reason)
{
    enter(cs);
    if (px == cs->conn) {
        ev_client_disconnected(cs);
    } else if (px == cs->pending) {
        cs->pending = NULL;
        if (cs->reject) {
            coil_failure *f = cs->reject;
            cs->reject = NULL;
            ev_connection_failed(cs, f);
        } else if (cs->prepare) {
            coil_failure_unref(cs->lost_early);
            cs->lost_early = coil_failure_new(
                COIL_NET_DOMAIN, reason ? reason : -ENOTCONN,
                "Connection to %s lost before it was prepared: %s", cs->name,
                coil_strerror(reason));
            coil_deferred_cancel(cs->prepare); /* prepare_done reports it */
        }
    }
    leave(cs);
}

/* ---- asynchronous completions ------------------------------------------------------- */

static coil_result prepare_done(coil_result r, void *arg)
{
    link *l = arg;
    coil_client_service *cs = l->svc;
    if (!cs) {
        coil_result_release(r);
        return coil_result_none();
    }
    enter(cs);
    coil_deferred_unref(cs->prepare);
    cs->prepare = NULL;
    proxy *px = cs->pending;
    if (!px) {
        /* The connection was lost while being prepared. */
        coil_result_release(r);
        coil_failure *f = cs->lost_early;
        cs->lost_early = NULL;
        ev_connection_failed(cs, f ? f : cancelled("connection lost while being prepared"));
    } else if (coil_result_is_failure(r)) {
        /* Rejected: close it and count the attempt as failed once it is
         * gone, so no connection outlives the attempt. */
        cs->reject = r.failure;
        close_proxy(px, false);
    } else {
        coil_result_release(r);
        cs->pending = NULL;
        ev_connection_made(cs, px);
    }
    leave(cs);
    return coil_result_none();
}

static void begin_prepare(coil_client_service *cs, proxy *px)
{
    if (!cs->prepare_fn) {
        ev_connection_made(cs, px);
        return;
    }
    cs->pending = px;
    coil_deferred *d = cs->prepare_fn(cs->prepare_arg, px->user);
    if (cs->freeing) { /* freed from inside prepare_connection */
        if (d)
            coil_deferred_cancel(d);
        coil_deferred_unref(d);
        return;
    }
    if (!d) {
        if (cs->pending == px) { /* not lost meanwhile */
            cs->pending = NULL;
            ev_connection_made(cs, px);
        }
        return;
    }
    cs->prepare = d;
    if (coil_deferred_add_callbacks_full(d, prepare_done, prepare_done, link_ref(cs->link),
                                         link_unref) < 0) {
        link_unref(cs->link);
        cs->prepare = NULL;
        coil_deferred_cancel(d);
        coil_deferred_unref(d);
        cs->reject = coil_failure_new(COIL_NET_DOMAIN, -ENOMEM, "out of memory");
        close_proxy(px, false);
    }
}

static coil_result attempt_done(coil_result r, void *arg)
{
    link *l = arg;
    coil_client_service *cs = l->svc;
    if (!cs) {
        /* The service was freed: a connection that still arrives is not
         * wanted (its proxy no longer reaches the service). */
        if (!coil_result_is_failure(r) && coil_result_ptr(r))
            close_proxy(coil_result_ptr(r), true);
        coil_result_release(r);
        return coil_result_none();
    }
    enter(cs);
    coil_deferred_unref(cs->attempt);
    cs->attempt = NULL;
    if (coil_result_is_failure(r)) {
        ev_connection_failed(cs, r.failure);
    } else {
        proxy *px = coil_result_ptr(r);
        coil_result_release(r);
        if (cs->state == COIL_CLIENT_CONNECTING)
            begin_prepare(cs, px);
        else
            ev_connection_made(cs, px); /* rejects it */
    }
    leave(cs);
    return coil_result_none();
}

static void retry_fire(void *arg)
{
    coil_client_service *cs = arg;
    cs->retry = NULL;
    enter(cs);
    ev_reconnect(cs);
    leave(cs);
}

static void retry_drop(void *arg)
{
    ((coil_client_service *)arg)->retry = NULL; /* the clock was freed */
}

/* ---- the coil_service face ---------------------------------------------------------- */

static int svc_start(coil_service *s)
{
    coil_client_service *cs = (coil_client_service *)s;
    enter(cs);
    int rc = ev_start(cs);
    leave(cs);
    return rc;
}

static coil_deferred *svc_stop(coil_service *s)
{
    coil_client_service *cs = (coil_client_service *)s;
    enter(cs);
    coil_deferred *d = ev_stop(cs);
    leave(cs);
    return d;
}

static const coil_service_ops client_service_ops = {
    .start = svc_start,
    .stop = svc_stop,
};

/* ---- public API --------------------------------------------------------------------- */

static int make(coil_reactor *r, coil_client_endpoint *ep, coil_factory *factory,
                const coil_client_service_options *opts, const char *default_name,
                coil_client_service **out)
{
    coil_client_service *cs = calloc(1, sizeof(*cs));
    link *l = calloc(1, sizeof(*l));
    if (!cs || !l) {
        free(cs);
        free(l);
        return -ENOMEM;
    }
    cs->service.ops = &client_service_ops;
    cs->reactor = r;
    cs->ep = ep;
    cs->factory = factory;
    cs->default_policy = (coil_backoff_policy)COIL_BACKOFF_POLICY_INIT;
    coil_client_service_options o = opts ? *opts : (coil_client_service_options){0};
    cs->clock = o.clock ? o.clock : coil_reactor_clock(r);
    cs->retry_policy = o.retry_policy ? o.retry_policy : coil_backoff_retry_policy;
    cs->retry_arg = o.retry_policy ? o.retry_arg : &cs->default_policy;
    cs->prepare_fn = o.prepare_connection;
    cs->prepare_arg = o.prepare_arg;
    char fallback[64];
    if (!o.name && !default_name) {
        snprintf(fallback, sizeof(fallback), "<client endpoint at %p>", (void *)ep);
        default_name = fallback;
    }
    cs->name = strdup(o.name ? o.name : default_name);
    if (!cs->name) {
        free(cs);
        free(l);
        return -ENOMEM;
    }
    cs->state = COIL_CLIENT_INIT;
    cs->waiters.next = cs->waiters.prev = &cs->waiters;
    l->svc = cs;
    l->refs = 1;
    cs->link = l;
    *out = cs;
    return 0;
}

int coil_client_service_new(coil_client_endpoint *ep, coil_factory *factory,
                            const coil_client_service_options *opts, coil_client_service **out)
{
    if (out)
        *out = NULL;
    if (!ep || !factory || !out)
        return -EINVAL;
    return make(ep->reactor, ep, factory, opts, NULL, out);
}

int coil_client_service_new_from_string(coil_reactor *r, const char *desc, coil_factory *factory,
                                        const coil_client_service_options *opts,
                                        coil_client_service **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (!r || !desc || !factory || !out)
        return -EINVAL;
    coil_client_endpoint *ep = NULL;
    int rc = coil_client_from_string(r, desc, &ep, err, errlen);
    if (rc < 0)
        return rc;
    rc = make(r, ep, factory, opts, desc, out);
    if (rc < 0) {
        coil_client_endpoint_free(ep);
        return rc;
    }
    (*out)->own_ep = true;
    return 0;
}

int coil__client_service_new_deferred_desc(coil_reactor *r, const char *desc,
                                           coil_factory *factory, bool once,
                                           coil_client_service **out)
{
    *out = NULL;
    if (!r || !desc || !factory)
        return -EINVAL;
    char *copy = strdup(desc);
    if (!copy)
        return -ENOMEM;
    int rc = make(r, NULL, factory, NULL, desc, out);
    if (rc < 0) {
        free(copy);
        return rc;
    }
    (*out)->desc = copy;
    (*out)->once = once;
    return 0;
}

const char *coil__client_service_start_error(const coil_client_service *cs)
{
    return cs->start_error;
}

coil_service *coil_client_service_service(coil_client_service *cs)
{
    return &cs->service;
}

coil_deferred *coil_client_service_when_connected(coil_client_service *cs,
                                                  unsigned fail_after_failures)
{
    switch (cs->state) {
    case COIL_CLIENT_CONNECTED:
        return coil_succeed(coil_result_value(cs->conn->user, NULL));
    case COIL_CLIENT_STOPPED:
        return coil_fail(cancelled("The client service is stopped"));
    case COIL_CLIENT_WAITING:
        if (cs->once) /* nothing more will come before a restart */
            return coil_fail(cs->last_failure
                                 ? coil_failure_ref(cs->last_failure)
                                 : cancelled("The connection is closed and not retried"));
        break;
    default:
        break;
    }
    waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    coil_deferred *d = coil_deferred_new(waiter_cancel, w);
    if (!d) {
        free(w);
        return NULL;
    }
    w->d = coil_deferred_ref(d);
    w->remaining = fail_after_failures;
    w->prev = cs->waiters.prev;
    w->next = &cs->waiters;
    cs->waiters.prev->next = w;
    cs->waiters.prev = w;
    return d;
}

/* Drop everything at once (free of a running service). */
static void abandon(coil_client_service *cs)
{
    stop_retrying(cs);
    cs->link->svc = NULL; /* late completions only release what they hold */
    if (cs->attempt) {
        coil_deferred *d = cs->attempt;
        cs->attempt = NULL;
        coil_deferred_cancel(d);
        coil_deferred_unref(d);
    }
    if (cs->prepare) {
        coil_deferred *d = cs->prepare;
        cs->prepare = NULL;
        coil_deferred_cancel(d);
        coil_deferred_unref(d);
    }
    if (cs->pending)
        close_proxy(cs->pending, true);
    if (cs->conn)
        close_proxy(cs->conn, true);
    cs->pending = cs->conn = NULL;
    cs->state = COIL_CLIENT_STOPPED;
    cancel_waiters(cs);
    finish_stopping(cs, true);
}

void coil_client_service_free(coil_client_service *cs)
{
    if (!cs || cs->freeing)
        return;
    enter(cs);
    cs->freeing = true;
    abandon(cs);
    leave(cs);
}

static void really_free(coil_client_service *cs)
{
    coil_failure_unref(cs->reject);
    coil_failure_unref(cs->lost_early);
    coil_failure_unref(cs->last_failure);
    free(cs->stop_waiters);
    if (cs->own_ep)
        coil_client_endpoint_free(cs->ep);
    coil_service_fini(&cs->service);
    link_unref(cs->link);
    free(cs->desc);
    free(cs->name);
    free(cs);
}

coil_client_service_state coil_client_service_get_state(const coil_client_service *cs)
{
    return cs->state;
}

const char *coil_client_service_state_name(coil_client_service_state s)
{
    static const char *const names[] = {"init",          "connecting", "waiting", "connected",
                                        "disconnecting", "restarting", "stopped"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

unsigned coil_client_service_failed_attempts(const coil_client_service *cs)
{
    return cs->failed;
}

double coil_client_service_retry_time(const coil_client_service *cs)
{
    return cs->retry ? coil_delayed_call_time(cs->retry) : -1.0;
}

coil_protocol *coil_client_service_protocol(const coil_client_service *cs)
{
    return cs->conn ? cs->conn->user : NULL;
}
