/* SPDX-License-Identifier: MIT */
#include "heap.h"

#include <errno.h>
#include <stdlib.h>

static int before(const coil__heap_node *a, const coil__heap_node *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void place(coil__heap *h, size_t i, coil__heap_node *n)
{
    h->nodes[i] = n;
    n->index = i;
}

static void sift_up(coil__heap *h, size_t i)
{
    coil__heap_node *n = h->nodes[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(n, h->nodes[parent]))
            break;
        place(h, i, h->nodes[parent]);
        i = parent;
    }
    place(h, i, n);
}

static void sift_down(coil__heap *h, size_t i)
{
    coil__heap_node *n = h->nodes[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len)
            break;
        if (child + 1 < h->len && before(h->nodes[child + 1], h->nodes[child]))
            child++;
        if (!before(h->nodes[child], n))
            break;
        place(h, i, h->nodes[child]);
        i = child;
    }
    place(h, i, n);
}

int coil__heap_push(coil__heap *h, coil__heap_node *n)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        coil__heap_node **nodes = realloc(h->nodes, cap * sizeof(*nodes));
        if (!nodes)
            return -ENOMEM;
        h->nodes = nodes;
        h->cap = cap;
    }
    place(h, h->len++, n);
    sift_up(h, n->index);
    return 0;
}

void coil__heap_remove(coil__heap *h, coil__heap_node *n)
{
    size_t i = n->index;
    coil__heap_node *last = h->nodes[--h->len];
    if (i == h->len)
        return;
    place(h, i, last);
    coil__heap_update(h, last);
}

void coil__heap_update(coil__heap *h, coil__heap_node *n)
{
    size_t i = n->index;
    if (i > 0 && before(n, h->nodes[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

void coil__heap_free(coil__heap *h)
{
    free(h->nodes);
    h->nodes = NULL;
    h->len = h->cap = 0;
}
