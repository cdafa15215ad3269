/* SPDX-License-Identifier: MIT */
/* The poll(2) notifier: a pollfd array with the owning handle of each
 * entry; the portable choice, whose cost grows with the descriptor count. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "notify.h"

typedef struct pollset {
    struct pollfd *fds;
    coil__handle **owners;
    coil__rd_reg **regs;
    size_t n, cap;
} pollset;

static int pn_init(coil_reactor *r, void **data)
{
    (void)r;
    *data = calloc(1, sizeof(pollset));
    return *data ? 0 : -ENOMEM;
}

static void pn_fini(void *data)
{
    pollset *s = data;
    free(s->fds);
    free(s->owners);
    free(s->regs);
    free(s);
}

static int grow(pollset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64;
    struct pollfd *fds = realloc(s->fds, cap * sizeof(*fds));
    if (!fds)
        return -ENOMEM;
    s->fds = fds;
    coil__handle **owners = realloc(s->owners, cap * sizeof(*owners));
    if (!owners)
        return -ENOMEM;
    s->owners = owners;
    coil__rd_reg **regs = realloc(s->regs, cap * sizeof(*regs));
    if (!regs)
        return -ENOMEM;
    s->regs = regs;
    s->cap = cap;
    return 0;
}

/* A handle's index is its pollfd position + 1, so 0 (calloc) means none. */
static int pn_set(void *data, coil__handle *h, int fd, coil__rd_reg *reg, short events)
{
    pollset *s = data;
    if (events == 0) {
        if (reg->index == 0)
            return 0;
        size_t i = (size_t)reg->index - 1, last = s->n - 1;
        if (i != last) {
            s->fds[i] = s->fds[last];
            s->owners[i] = s->owners[last];
            s->regs[i] = s->regs[last];
            s->regs[i]->index = (int)i + 1;
        }
        s->n--;
        reg->index = 0;
        reg->events = 0;
        return 0;
    }
    if (reg->index == 0) {
        if (s->n == s->cap && grow(s) < 0)
            return -ENOMEM;
        s->owners[s->n] = h;
        s->regs[s->n] = reg;
        reg->index = (int)++s->n;
    }
    s->fds[reg->index - 1] = (struct pollfd){.fd = fd, .events = events};
    reg->events = events;
    return 0;
}

static int pn_wait(void *data, coil_reactor *r, int timeout_ms, coil__ready_set *out)
{
    (void)r;
    pollset *s = data;
    int n = poll(s->fds, (nfds_t)s->n, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (n == 0)
        return 0;
    if (coil__ready_reserve(out, (size_t)n) < 0)
        return -ENOMEM;
    /* Snapshot the ready set: callbacks add and remove entries. */
    for (size_t i = 0; i < s->n && out->n < (size_t)n; i++)
        if (s->fds[i].revents)
            out->v[out->n++] = (coil__ready){s->owners[i], s->fds[i].revents};
    return 0;
}

const coil__notifier coil__notify_poll = {
    .name = "poll",
    .init = pn_init,
    .fini = pn_fini,
    .set = pn_set,
    .wait = pn_wait,
};

int coil__ready_reserve(coil__ready_set *s, size_t n)
{
    if (s->cap >= n)
        return 0;
    coil__ready *v = realloc(s->v, n * sizeof(*v));
    if (!v)
        return -ENOMEM;
    s->v = v;
    s->cap = n;
    return 0;
}
