/* SPDX-License-Identifier: MIT */
/* ALPN protocol lists in wire form (RFC 7301: a length byte, then the
 * name, repeated), as a client offers them: untrusted bytes. Pure functions,
 * no wolfSSL, fuzzed by tests/fuzz/fuzz_tls_alpn.c. */
#ifndef COIL_TLS_ALPN_H
#define COIL_TLS_ALPN_H

#include <stddef.h>

/* Entry `index` (0-based) of the list: its offset and length, or -1 if the
 * list has fewer entries or is malformed before it. */
int coil__alpn_entry(const unsigned char *list, size_t len, int index, size_t *name_off,
                     size_t *name_len);
/* The first protocol of `ours` (our preference order) that `offered`
 * lists: its offset and length within `offered`, or -1. Stops at the first
 * malformed entry of either list. */
int coil__alpn_pick(const unsigned char *ours, size_t ours_len, const unsigned char *offered,
                    size_t offered_len, size_t *name_off, size_t *name_len);

#endif
