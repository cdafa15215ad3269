/* SPDX-License-Identifier: MIT */
/*
 * ClientService: keep one outgoing connection up (Twisted's
 * twisted.application.internet.ClientService), and the exponential
 * back-off policy it retries with (Twisted's backoffPolicy).
 *
 * A client service is a coil_service (service.h): starting it connects
 * through a client endpoint (endpoint.h) with the user's factory; after a
 * failed attempt, or when the connection is lost, it waits for the delay
 * the retry policy gives and connects again, until it is stopped.
 *
 *     coil_client_service *cs;
 *     coil_client_service_new_from_string(r, "tcp:db.example:5432", &factory,
 *                                         NULL, &cs, err, sizeof(err));
 *     coil_service_add(&app, coil_client_service_service(cs));
 *     coil_deferred *d = coil_client_service_when_connected(cs, 0);
 *     ... d fires with the user's coil_protocol * once connected ...
 *
 * Connection loss is noticed without the user's help: the service wraps
 * each protocol the factory builds in a small proxy whose
 * connection_lost() first calls the user's connection_lost() (which may
 * free the protocol, as everywhere in coil) and then tells the service.
 * The user's protocol sees its own `transport` and `factory` as usual
 * (coil_transport_protocol() of that transport returns the proxy).
 *
 * States and transitions are Twisted's (docs/SERVICES.md has the table):
 * init, connecting, waiting, connected, disconnecting, restarting,
 * stopped.
 *
 * Threads: everything runs on the reactor's thread.
 */
#ifndef COIL_CLIENT_SERVICE_H
#define COIL_CLIENT_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "clock.h"
#include "deferred.h"
#include "endpoint.h"
#include "export.h"
#include "protocol.h"
#include "reactor.h"
#include "service.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- back-off ------------------------------------------------------------ */

/* A source of uniformly distributed numbers in [0, 1). */
typedef double (*coil_random_fn)(void *arg);

/* coil's default random source: uniform in [0, 1), seeded per thread from
 * the kernel (getrandom). `arg` is ignored. Not for cryptography. */
COIL_API double coil_random_unit(void *arg);

/* Twisted's backoffPolicy(initialDelay, maxDelay, factor, jitter). */
typedef struct coil_backoff_policy {
    double initial_delay;  /* seconds; Twisted's default 1.0 */
    double max_delay;      /* seconds, before jitter; default 60.0 */
    double factor;         /* growth per failed attempt; default 1.5 */
    coil_random_fn jitter; /* added to every delay; NULL: coil_random_unit */
    void *jitter_arg;
} coil_backoff_policy;

/* The defaults: {1.0, 60.0, 1.5, NULL, NULL}. */
#define COIL_BACKOFF_POLICY_INIT {1.0, 60.0, 1.5, NULL, NULL}

/* Twisted's formula:
 *     min(initial_delay * factor ^ min(100, attempt), max_delay) + jitter()
 * where an overflow gives max_delay + jitter(). A result that is not a
 * number or negative (nonsensical parameters) counts as 0. */
COIL_API double coil_backoff_policy_delay(const coil_backoff_policy *p, unsigned attempt);

/* A retry policy: the number of consecutive failed attempts so far (1 at
 * the first retry) -> seconds to wait before the next attempt (a negative
 * or NaN result counts as 0, more than 1e9 as 1e9). */
typedef double (*coil_retry_policy_fn)(void *arg, unsigned failed_attempts);

/* coil_backoff_policy_delay() as a retry policy; `arg` is a
 * const coil_backoff_policy * that must outlive the service. */
COIL_API double coil_backoff_retry_policy(void *arg, unsigned failed_attempts);

/* ---- the service ----------------------------------------------------------- */

typedef struct coil_client_service coil_client_service;

/* Run on each new connection before when_connected() waiters fire (Twisted's
 * prepareConnection): `p` is the user's protocol, connected. Return a
 * Deferred (one reference, passed to coil) whose success lets the
 * connection be used (the value is ignored) and whose failure rejects it,
 * or NULL when the connection is ready at once. A rejected connection is
 * closed (lose_connection) and counts as a failed attempt: the retry
 * policy is asked and waiters with fail_after_failures see the failure. If
 * the connection is lost while the Deferred is pending, coil cancels it and
 * the attempt fails with the loss. */
typedef coil_deferred *(*coil_prepare_connection_fn)(void *arg, coil_protocol *p);

typedef struct coil_client_service_options {
    /* Clock for the retry delays; NULL: the endpoint's reactor's clock. A
     * fake clock (clock.h) makes delays testable. Must outlive the service. */
    coil_clock *clock;
    /* NULL: the default back-off (COIL_BACKOFF_POLICY_INIT, random jitter). */
    coil_retry_policy_fn retry_policy;
    void *retry_arg;
    coil_prepare_connection_fn prepare_connection; /* optional */
    void *prepare_arg;
    /* How the endpoint is named in log lines; NULL: the description string
     * (coil_client_service_new_from_string) or "<client endpoint at 0x..>".
     * Copied. */
    const char *name;
} coil_client_service_options;

/* A client service connecting through `ep` (borrowed: it must outlive the
 * service) with `factory` (borrowed: it must stay valid while the service
 * runs and until the user's protocols are gone). `opts` may be NULL.
 * The factory's start_factory runs when the service starts, its
 * stop_factory when it has stopped. Returns 0 and *out, or -EINVAL /
 * -ENOMEM. */
COIL_API int coil_client_service_new(coil_client_endpoint *ep, coil_factory *factory,
                                     const coil_client_service_options *opts,
                                     coil_client_service **out);

/* The same with an endpoint built from a description string
 * (coil_client_from_string(); the service owns it). Errors as
 * coil_client_from_string(), with `err` saying why. */
COIL_API int coil_client_service_new_from_string(coil_reactor *r, const char *desc,
                                                 coil_factory *factory,
                                                 const coil_client_service_options *opts,
                                                 coil_client_service **out, char *err,
                                                 size_t errlen);

/* The coil_service to start, stop and put in a service tree. Starting a
 * stopped (or stopping) service connects again; stopping returns a
 * Deferred that fires once a pending attempt was cancelled, a scheduled
 * retry dropped, and the current connection (closed with
 * lose_connection()) is lost. Waiters of when_connected() errback with
 * CancelledError (COIL_DEFER_DOMAIN, COIL_DEFER_CANCELLED) when the
 * service stops before a connection is made. */
COIL_API coil_service *coil_client_service_service(coil_client_service *cs);

/* Twisted's whenConnected(failAfterFailures): a new Deferred (one reference
 * for the caller) firing with the user's coil_protocol * (borrowed: valid
 * until its connection_lost) as soon as a connection is ready, at once if
 * one is. fail_after_failures = 0: it fails only when the service stops;
 * N > 0: it errbacks with the failure of the Nth consecutive failed
 * attempt from now. Stopped service: fails at once with CancelledError.
 * Cancelling the returned Deferred withdraws the request. NULL if out of
 * memory. */
COIL_API coil_deferred *coil_client_service_when_connected(coil_client_service *cs,
                                                           unsigned fail_after_failures);

/* Release the service. It should be stopped (its stop Deferred fired) and
 * removed from its parent. If it is still running, everything is dropped
 * now: a pending attempt is cancelled, a connection aborted (its
 * connection_lost still runs later, from the loop), waiters errback with
 * CancelledError, pending stop Deferreds fire. May be called from the
 * service's own callbacks (the memory goes when they return). NULL is
 * allowed. */
COIL_API void coil_client_service_free(coil_client_service *cs);

/* ---- introspection (tests, status pages) ------------------------------------ */

typedef enum coil_client_service_state {
    COIL_CLIENT_INIT = 0,
    COIL_CLIENT_CONNECTING,
    COIL_CLIENT_WAITING,
    COIL_CLIENT_CONNECTED,
    COIL_CLIENT_DISCONNECTING,
    COIL_CLIENT_RESTARTING,
    COIL_CLIENT_STOPPED,
} coil_client_service_state;

COIL_API coil_client_service_state coil_client_service_get_state(const coil_client_service *cs);
/* "init", "connecting", "waiting", "connected", "disconnecting",
 * "restarting", "stopped". */
COIL_API const char *coil_client_service_state_name(coil_client_service_state s);
/* Consecutive failed attempts (reset when a connection is ready). */
COIL_API unsigned coil_client_service_failed_attempts(const coil_client_service *cs);
/* Clock time of the scheduled retry while waiting, else a negative value. */
COIL_API double coil_client_service_retry_time(const coil_client_service *cs);
/* The connected user protocol while connected, else NULL. */
COIL_API coil_protocol *coil_client_service_protocol(const coil_client_service *cs);

#ifdef __cplusplus
}
#endif
#endif
