/* SPDX-License-Identifier: MIT */
/* Binary min-heap of delayed calls keyed by (when, seq); each node knows its
 * index so cancel and reset are O(log n). Internal to clocks. */
#ifndef COIL_HEAP_H
#define COIL_HEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct coil__heap_node {
    int64_t when; /* nanoseconds on the owning clock */
    uint64_t seq; /* insertion order: ties run first-in first-out */
    size_t index;
} coil__heap_node;

typedef struct coil__heap {
    coil__heap_node **nodes;
    size_t len, cap;
} coil__heap;

int coil__heap_push(coil__heap *h, coil__heap_node *n);
void coil__heap_remove(coil__heap *h, coil__heap_node *n);
/* Restore order after n->when changed. */
void coil__heap_update(coil__heap *h, coil__heap_node *n);
static inline coil__heap_node *coil__heap_min(const coil__heap *h)
{
    return h->len ? h->nodes[0] : NULL;
}
void coil__heap_free(coil__heap *h);

#endif
