/* SPDX-License-Identifier: MIT */
/*
 * The epoll notifier (Linux): level-triggered, so it reports exactly what
 * poll(2) would, at a cost that grows with the ready descriptors instead of
 * the watched ones. Each registration carries the handle's completion tag
 * (slot and generation, as io_uring's user_data does) rather than a
 * pointer, so an event can never reach a handle that was released.
 */
#include "notify.h"

#ifdef COIL_HAVE_EPOLL
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_EVENTS 256 /* per wait; the rest stay ready for the next one */

typedef struct epollset {
    int epfd;
    struct epoll_event ev[MAX_EVENTS];
} epollset;

static int en_init(coil_reactor *r, void **data)
{
    (void)r;
    epollset *s = malloc(sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0) {
        int rc = -errno;
        free(s);
        return rc;
    }
    *data = s;
    return 0;
}

static void en_fini(void *data)
{
    epollset *s = data;
    close(s->epfd);
    free(s);
}

static uint32_t to_epoll(short events)
{
    return ((events & POLLIN) ? EPOLLIN : 0) | ((events & POLLOUT) ? EPOLLOUT : 0);
}

static short from_epoll(uint32_t ev)
{
    return (short)(((ev & EPOLLIN) ? POLLIN : 0) | ((ev & EPOLLOUT) ? POLLOUT : 0) |
                   ((ev & EPOLLHUP) ? POLLHUP : 0) | ((ev & EPOLLERR) ? POLLERR : 0));
}

static int en_set(void *data, coil__handle *h, int fd, coil__rd_reg *reg, short events)
{
    epollset *s = data;
    if (events == reg->events)
        return 0;
    if (events == 0) {
        /* Before close(): a copy of the descriptor elsewhere (a forked
         * child, systemd) would otherwise keep the registration alive. */
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
        reg->events = 0;
        return 0;
    }
    struct epoll_event ev = {.events = to_epoll(events),
                             .data.u64 = ((uint64_t)h->slot << 32) | h->gen};
    int op = reg->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(s->epfd, op, fd, &ev) < 0) {
        if (op == EPOLL_CTL_ADD && errno == EEXIST)
            op = EPOLL_CTL_MOD;
        else if (op == EPOLL_CTL_MOD && errno == ENOENT)
            op = EPOLL_CTL_ADD;
        else
            return -errno;
        if (epoll_ctl(s->epfd, op, fd, &ev) < 0)
            return -errno;
    }
    reg->events = events;
    return 0;
}

static int en_wait(void *data, coil_reactor *r, int timeout_ms, coil__ready_set *out)
{
    epollset *s = data;
    int n = epoll_wait(s->epfd, s->ev, MAX_EVENTS, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (coil__ready_reserve(out, (size_t)n) < 0)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        uint64_t tag = s->ev[i].data.u64;
        coil__handle *h = coil__handle_lookup(r, (uint32_t)(tag >> 32), (uint32_t)tag);
        if (h)
            out->v[out->n++] = (coil__ready){h, from_epoll(s->ev[i].events)};
    }
    return 0;
}

const coil__notifier coil__notify_epoll = {
    .name = "epoll",
    .init = en_init,
    .fini = en_fini,
    .set = en_set,
    .wait = en_wait,
};
#endif
