/* SPDX-License-Identifier: MIT */
/*
 * baseline_epoll_echo - the minimal, but good, epoll echo server a user
 * would write by hand; the yardstick for coil's poll/epoll backends.
 *
 * Level-triggered epoll, accept4(SOCK_NONBLOCK) until EAGAIN, TCP_NODELAY,
 * one read into a shared 64 KiB buffer and an immediate write back. Only if
 * that write is short is the remainder copied into a per-connection buffer
 * and the interest switched to EPOLLOUT (which also stops reading: back-
 * pressure); no epoll_ctl happens per event otherwise. Idle connections own
 * no userspace memory.
 *
 * usage: baseline_epoll_echo --port P [--host 127.0.0.1]   (SIGINT/SIGTERM exit)
 */
#include <netinet/tcp.h>
#include <sys/epoll.h>

#include "baseline_common.h"

struct pending {
    size_t len, off;
    char data[];
};

static struct pending **pend; /* indexed by fd; NULL while nothing is queued */
static size_t npend;
static int ep;
static char buf[64 * 1024];

static void watch(int fd, int op, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(ep, op, fd, &ev) < 0)
        baseline_die("epoll_ctl");
}

static void drop(int fd)
{
    free(pend[fd]);
    pend[fd] = NULL;
    close(fd); /* also removes it from the epoll set */
}

static void echo(int fd)
{
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            drop(fd);
        return;
    }
    ssize_t w = send(fd, buf, (size_t)n, MSG_NOSIGNAL);
    if (w == n)
        return;
    if (w < 0) {
        if (errno != EAGAIN) {
            drop(fd);
            return;
        }
        w = 0;
    }
    struct pending *p = malloc(sizeof(*p) + (size_t)(n - w));
    if (!p) {
        drop(fd);
        return;
    }
    p->len = (size_t)(n - w);
    p->off = 0;
    memcpy(p->data, buf + w, p->len);
    pend[fd] = p;
    watch(fd, EPOLL_CTL_MOD, EPOLLOUT);
}

static void flush(int fd)
{
    struct pending *p = pend[fd];
    ssize_t w = send(fd, p->data + p->off, p->len - p->off, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno != EAGAIN)
            drop(fd);
        return;
    }
    p->off += (size_t)w;
    if (p->off == p->len) {
        free(p);
        pend[fd] = NULL;
        watch(fd, EPOLL_CTL_MOD, EPOLLIN);
    }
}

static void accept_all(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                perror("accept4");
            return;
        }
        if ((size_t)fd >= npend) {
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        watch(fd, EPOLL_CTL_ADD, EPOLLIN);
    }
}

int main(int argc, char **argv)
{
    int lfd = baseline_listen(argc, argv, SOCK_NONBLOCK);
    int sfd = baseline_signalfd();
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    npend = rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : (size_t)rl.rlim_cur;
    pend = calloc(npend, sizeof(*pend));
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!pend || ep < 0)
        baseline_die("setup");
    watch(lfd, EPOLL_CTL_ADD, EPOLLIN);
    watch(sfd, EPOLL_CTL_ADD, EPOLLIN);

    struct epoll_event evs[512];
    for (;;) {
        int n = epoll_wait(ep, evs, 512, -1);
        if (n < 0 && errno != EINTR)
            baseline_die("epoll_wait");
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd)
                accept_all(lfd);
            else if (fd == sfd)
                goto out;
            else if (pend[fd])
                flush(fd);
            else
                echo(fd);
        }
    }
out:
    for (size_t fd = 0; fd < npend; fd++)
        free(pend[fd]);
    free(pend);
    return 0;
}
