/* SPDX-License-Identifier: MIT */
/*
 * TCP port forwarding (Twisted's portforward): a factory for a listening
 * port whose every connection is joined to a new connection to a target
 * client endpoint. `coild proxy` is a thin plugin around it; the tests use
 * it directly.
 */
#ifndef COILD_FORWARD_H
#define COILD_FORWARD_H

#include <stddef.h>

#include <coil/coil.h>

typedef struct coild_forward_pair coild_forward_pair;

typedef struct coild_forward {
    coil_factory base;            /* give this to a listening port */
    coil_client_endpoint *target; /* borrowed: must outlive every pair */
    coild_forward_pair *pairs;    /* live pairs */
    size_t live;                  /* pairs not yet freed */
    unsigned long connect_failures;
} coild_forward;

/* Prepare a forwarder to `target`. */
void coild_forward_init(coild_forward *f, coil_client_endpoint *target);

/* The transports of the live pairs (inbound, outbound; an outbound not yet
 * connected is left out) into out[0..max); returns how many there are. For
 * the tests' memory accounting. */
size_t coild_forward_transports(const coild_forward *f, coil_transport **out, size_t max);

/* Client bytes kept while connects are pending (at most 64 KiB a pair). */
size_t coild_forward_pending_bytes(const coild_forward *f);

#endif
