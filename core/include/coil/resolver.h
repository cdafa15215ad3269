/* SPDX-License-Identifier: MIT */
/*
 * Name resolution without blocking the reactor (Twisted's
 * reactor.nameResolver / IHostnameResolver and installNameResolver).
 *
 * coil_resolve() turns a host name into the IPv4 and IPv6 addresses to
 * connect to. The default resolver runs getaddrinfo(3) (AF_UNSPEC,
 * SOCK_STREAM, without AI_ADDRCONFIG, so "localhost" also gives ::1 on a
 * host without IPv6 routes) on a small pool of worker threads that the
 * reactor starts on the first lookup (at most 4, created with every signal
 * blocked) and stops at coil_reactor_free(). IP literals resolve at once,
 * without a thread.
 *
 * Tests (and programs with their own DNS client) install another resolver
 * with coil_reactor_set_resolver(); coil_resolve() and the hostname endpoint
 * go through it.
 */
#ifndef COIL_RESOLVER_H
#define COIL_RESOLVER_H

#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "deferred.h"
#include "export.h"
#include "reactor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a lookup fires with: `count` addresses (AF_INET or AF_INET6, with
 * the port asked for) in the resolver's order, without duplicates. One
 * malloc'ed block: free(list) releases it. */
typedef struct coil_address_list {
    size_t count;
    coil_address addrs[];
} coil_address_list;

/* Allocate a list with room for `count` addresses (count set, addresses
 * zeroed), for resolvers that build one; free() releases it. NULL when out
 * of memory. */
COIL_API coil_address_list *coil_address_list_new(size_t count);

/* Resolve `host` (a name or an IP literal) for `port`. Returns a new
 * Deferred (one reference for the caller; NULL only when out of memory)
 * that fires with a coil_address_list * as a value whose destructor frees
 * it (take the pointer and the destructor over, or let the result be
 * released), or errbacks in COIL_NET_DOMAIN with COIL_EDNS:
 * "Couldn't find the hostname '<host>': <getaddrinfo's reason>" when the
 * name does not resolve, "no results for hostname lookup: <host>" when it
 * resolves to no IPv4/IPv6 address (Twisted's DNSLookupError messages).
 *
 * coil_deferred_cancel() errbacks with -ECANCELED at once; a lookup already
 * running in a worker finishes there and its result is discarded.
 *
 * At coil_reactor_free() lookups still running are waited for and delivered
 * (their callbacks run from coil_reactor_free(), before the remaining
 * handles are closed); lookups no worker has started fail with
 * COIL_ESHUTDOWN. Must be called on the reactor's thread. */
COIL_API coil_deferred *coil_resolve(coil_reactor *r, const char *host, uint16_t port);

/* A resolver: return a new Deferred firing as coil_resolve() documents (a
 * coil_address_list * value with its destructor, or a failure). Called on
 * the reactor's thread; `host` is only valid during the call. */
typedef coil_deferred *(*coil_resolver_fn)(void *arg, coil_reactor *r, const char *host,
                                           uint16_t port);

/* Install `fn` as the reactor's resolver (Twisted's installNameResolver);
 * NULL restores the default. `arg` is borrowed and must outlive its use.
 * Lookups already started are not affected. */
COIL_API void coil_reactor_set_resolver(coil_reactor *r, coil_resolver_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
