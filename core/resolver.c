/* SPDX-License-Identifier: MIT */
/*
 * Name resolution (resolver.h): IP literals at once, names through
 * getaddrinfo(3) on a small pool of worker threads whose results come back
 * to the loop with coil_reactor_call_from_thread(), or through a resolver
 * installed with coil_reactor_set_resolver().
 *
 * Threads: a job is written by the reactor thread until it is queued, by
 * its worker while the lookup runs, and by the reactor thread again once
 * delivered (the queue's mutex and call_from_thread's order the hand-overs).
 * `d` and `cancelled` are only ever touched on the reactor thread.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <coil/net_deferred.h>
#include <coil/resolver.h>

#include "internal.h"

#define MAX_WORKERS 4

typedef struct job {
    struct job *next; /* in the pool's queue, or its undelivered list */
    coil_reactor *r;
    coil_deferred *d; /* one reference until fired (reactor thread) */
    bool cancelled;   /* d already errbacked: discard the result */
    bool started;     /* a worker took it (under the pool's lock) */
    bool abandoned;   /* never ran: the reactor is being freed */
    uint16_t port;
    int gai_rc;              /* getaddrinfo's result */
    int sys_errno;           /* errno for EAI_SYSTEM */
    coil_address_list *list; /* the result (gai_rc == 0) */
    char host[];
} job;

struct coil__resolver {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    job *head, *tail; /* queued, not started */
    size_t queued;    /* jobs between head and tail */
    job *undelivered; /* finished, call_from_thread failed (no memory) */
    pthread_t threads[MAX_WORKERS];
    int nthreads, idle;
    bool stop;
};

coil_address_list *coil_address_list_new(size_t count)
{
    coil_address_list *l = calloc(1, sizeof(*l) + count * sizeof(coil_address));
    if (l)
        l->count = count;
    return l;
}

/* Twisted's DNSLookupError messages. */
static coil_failure *dns_failure(const char *host, const char *why)
{
    return coil_failure_new(COIL_NET_DOMAIN, COIL_EDNS, "Couldn't find the hostname '%s': %s", host,
                            why);
}

static coil_failure *no_results(const char *host)
{
    return coil_failure_new(COIL_NET_DOMAIN, COIL_EDNS, "no results for hostname lookup: %s", host);
}

/* ---- the lookup (worker thread) ------------------------------------------ */

static bool listed(const coil_address_list *l, const coil_address *a)
{
    for (size_t i = 0; i < l->count; i++)
        if (coil_address_equal(&l->addrs[i], a))
            return true;
    return false;
}

static void lookup(job *j)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    j->gai_rc = getaddrinfo(j->host, NULL, &hints, &res);
    j->sys_errno = errno;
    if (j->gai_rc != 0)
        return;
    size_t n = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        n++;
    j->list = coil_address_list_new(n);
    if (!j->list) {
        j->gai_rc = EAI_MEMORY;
        freeaddrinfo(res);
        return;
    }
    j->list->count = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        coil_address a;
        if (coil_address_from_sockaddr(&a, ai->ai_addr, ai->ai_addrlen) < 0)
            continue;
        if (ai->ai_family == AF_INET)
            a.u.in4.sin_port = htons(j->port);
        else
            a.u.in6.sin6_port = htons(j->port);
        if (!listed(j->list, &a))
            j->list->addrs[j->list->count++] = a;
    }
    freeaddrinfo(res);
}

/* ---- delivery (reactor thread) ------------------------------------------- */

static void job_free(job *j)
{
    free(j->list);
    free(j);
}

static void deliver_one(job *j)
{
    coil_deferred *d = j->d;
    j->d = NULL;
    if (j->cancelled || !d) {
        job_free(j);
        return;
    }
    if (j->abandoned) {
        coil_deferred_errback(d, coil_failure_new(COIL_NET_DOMAIN, COIL_ESHUTDOWN,
                                                  "Couldn't find the hostname '%s': the reactor "
                                                  "was freed before the lookup ran",
                                                  j->host));
    } else if (j->gai_rc != 0) {
        const char *why =
            j->gai_rc == EAI_SYSTEM ? strerror(j->sys_errno) : gai_strerror(j->gai_rc);
        coil_deferred_errback(d, dns_failure(j->host, why));
    } else if (j->list->count == 0) {
        coil_deferred_errback(d, no_results(j->host));
    } else {
        coil_address_list *l = j->list;
        j->list = NULL;
        coil_deferred_callback(d, coil_result_value(l, free));
    }
    coil_deferred_unref(d);
    job_free(j);
}

/* Finished jobs whose call_from_thread failed (out of memory). */
static void deliver_undelivered(coil_reactor *r)
{
    struct coil__resolver *p = r->resolver;
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    job *list = p->undelivered;
    p->undelivered = NULL;
    pthread_mutex_unlock(&p->lock);
    while (list) {
        job *j = list;
        list = j->next;
        deliver_one(j);
    }
}

static void deliver(void *arg)
{
    job *j = arg;
    coil_reactor *r = j->r;
    deliver_one(j);
    deliver_undelivered(r);
}

/* ---- the pool ------------------------------------------------------------ */

static void *worker(void *arg)
{
    struct coil__resolver *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && !p->head) {
            p->idle++;
            pthread_cond_wait(&p->cond, &p->lock);
            p->idle--;
        }
        if (p->stop)
            break;
        job *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        j->next = NULL;
        j->started = true;
        pthread_mutex_unlock(&p->lock);
        lookup(j);
        if (coil_reactor_call_from_thread(j->r, deliver, j) < 0) {
            pthread_mutex_lock(&p->lock);
            j->next = p->undelivered;
            p->undelivered = j;
            continue; /* delivered with the next job, or at reactor free */
        }
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* coil_reactor_free(): stop the workers (a lookup still running is waited
 * for), free the pool, then deliver what finished and fail what never
 * started (a lookup their callbacks start makes a new pool, which
 * coil_reactor_free() stops again). */
static void pool_fini(coil_reactor *r)
{
    struct coil__resolver *p = r->resolver;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    /* Workers are gone: no lock needed from here on. Finished lookups sit
     * in the reactor's call_from_thread queue and are delivered from there
     * (deliver() finds no pool then). */
    job *undelivered = p->undelivered, *queued = p->head;
    for (job *j = queued; j; j = j->next) {
        j->started = true; /* a cancel from a callback below leaves it to us */
        j->abandoned = true;
    }
    r->resolver = NULL;
    r->resolver_fini = NULL;
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
    while (undelivered) {
        job *j = undelivered;
        undelivered = j->next;
        deliver_one(j);
    }
    while (queued) {
        job *j = queued;
        queued = j->next;
        deliver_one(j);
    }
}

static struct coil__resolver *pool_get(coil_reactor *r)
{
    if (r->resolver)
        return r->resolver;
    struct coil__resolver *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->cond, NULL) != 0) {
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    r->resolver = p;
    r->resolver_fini = pool_fini;
    return p;
}

/* Under the pool's lock: start a worker unless an idle one will take each
 * queued job. (A signalled worker counts as idle until it wakes, so
 * comparing with `idle` alone would let a second lookup queued right after
 * the first wait behind it, e.g. for a whole DNS timeout.) */
static void pool_grow(struct coil__resolver *p)
{
    if (p->queued <= (size_t)p->idle || p->nthreads >= MAX_WORKERS)
        return;
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) == 0)
        p->nthreads++;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
}

/* ---- the Deferred -------------------------------------------------------- */

static void cancel_lookup(coil_deferred *d, void *arg)
{
    job *j = arg;
    coil_reactor *r = j->r;
    struct coil__resolver *p = r->resolver;
    bool unqueued = false;
    if (p) { /* NULL while pool_fini() delivers: then it frees the job */
        pthread_mutex_lock(&p->lock);
        if (!j->started) { /* still queued: take it out */
            job **pp = &p->head;
            while (*pp != j)
                pp = &(*pp)->next;
            *pp = j->next;
            if (p->tail == j) {
                p->tail = NULL;
                for (job *k = p->head; k; k = k->next)
                    p->tail = k;
            }
            p->queued--;
            unqueued = true;
        }
        pthread_mutex_unlock(&p->lock);
    }
    j->cancelled = true;
    j->d = NULL;
    coil_deferred_errback(
        d, coil_failure_new(COIL_NET_DOMAIN, -ECANCELED, "Resolving '%s' was cancelled", j->host));
    coil_deferred_unref(d); /* the job's reference; the caller holds one */
    if (unqueued)
        job_free(j);
}

static coil_deferred *resolve_default(coil_reactor *r, const char *host, uint16_t port)
{
    coil_address a;
    if (host[0] && coil_address_from_ip(&a, host, port) == 0) {
        coil_address_list *l = coil_address_list_new(1);
        if (!l)
            return NULL;
        l->addrs[0] = a;
        return coil_succeed(coil_result_value(l, free));
    }
    struct coil__resolver *p = pool_get(r);
    size_t n = strlen(host) + 1;
    job *j = p ? calloc(1, sizeof(*j) + n) : NULL;
    if (!j)
        return NULL;
    j->r = r;
    j->port = port;
    memcpy(j->host, host, n);
    coil_deferred *d = coil_deferred_new(cancel_lookup, j);
    if (!d) {
        free(j);
        return NULL;
    }
    j->d = coil_deferred_ref(d);
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->queued++;
    pool_grow(p);
    if (p->nthreads == 0) { /* no thread could be started */
        p->head = p->tail = NULL;
        p->queued = 0;
        pthread_mutex_unlock(&p->lock);
        j->d = NULL;
        coil_deferred_errback(d, dns_failure(host, "cannot start a resolver thread"));
        coil_deferred_unref(d); /* the job's reference */
        job_free(j);
        return d;
    }
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return d;
}

coil_deferred *coil_resolve(coil_reactor *r, const char *host, uint16_t port)
{
    if (!host)
        host = "";
    if (r->resolver_fn)
        return r->resolver_fn(r->resolver_arg, r, host, port);
    return resolve_default(r, host, port);
}

void coil_reactor_set_resolver(coil_reactor *r, coil_resolver_fn fn, void *arg)
{
    r->resolver_fn = fn;
    r->resolver_arg = arg;
}
