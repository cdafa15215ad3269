/* SPDX-License-Identifier: MIT */
/*
 * Readiness notifiers: how the readiness backend (poll.c) learns which
 * descriptors are ready. As in Redis ae.c, one backend and interchangeable
 * wait mechanisms: poll(2) everywhere (notify_poll.c), epoll on Linux
 * (notify_epoll.c). Both are level-triggered, so the backend behaves the
 * same on either: a descriptor that is still ready is reported again on the
 * next wait. Events use poll(2)'s bits: POLLIN, POLLOUT, POLLHUP, POLLERR.
 */
#ifndef COIL_NOTIFY_H
#define COIL_NOTIFY_H

#include <stddef.h>

#include "internal.h"

/* One ready handle and what it is ready for. */
typedef struct coil__ready {
    coil__handle *h;
    short revents;
} coil__ready;

typedef struct coil__ready_set {
    coil__ready *v;
    size_t n, cap;
} coil__ready_set;

typedef struct coil__notifier {
    const char *name;
    /* Allocate the notifier's state into *data. 0 or a negative errno (an
     * epoll refused by seccomp, say, makes the reactor try the next). */
    int (*init)(coil_reactor *r, void **data);
    void (*fini)(void *data);
    /* Watch `fd` for `events` on behalf of `h` (whose registration record
     * is `reg`); events 0 stops watching. Must be called with 0 before the
     * descriptor is closed. 0 or a negative errno. */
    int (*set)(void *data, coil__handle *h, int fd, coil__rd_reg *reg, short events);
    /* Wait up to timeout_ms (-1: forever) and fill `out` (n = 0 first) with
     * the ready handles. 0 or a negative errno (EINTR is not an error). */
    int (*wait)(void *data, coil_reactor *r, int timeout_ms, coil__ready_set *out);
} coil__notifier;

extern const coil__notifier coil__notify_poll;
#ifdef COIL_HAVE_EPOLL
extern const coil__notifier coil__notify_epoll;
#endif

/* Make room for `n` entries in `s`. 0 or -ENOMEM. */
int coil__ready_reserve(coil__ready_set *s, size_t n);

#endif
