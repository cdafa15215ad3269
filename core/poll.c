/* SPDX-License-Identifier: MIT */
/*
 * The portable backend: poll(2) readiness turned into the same completions
 * the io_uring backend produces. Sends requested by the core are attempted
 * at the start of the next wait (so they batch, and never call back into
 * the core from inside a user's write); only a send that would block arms
 * POLLOUT. Each readable socket gets one recv per turn, for fairness.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

#define RBUF_SIZE 65536 /* as Twisted's read size */
#define ACCEPTS_PER_TURN 64
#define MAX_IOV 64

typedef struct poll_state {
    struct pollfd *fds;
    coil__handle **owners;
    size_t n, cap;
    struct ready {
        coil__handle *h;
        short revents;
    } *ready;
    size_t ready_cap;
    coil_transport *pending; /* sends to attempt and connect results to report */
} poll_state;

static poll_state *state(coil_reactor *r)
{
    return r->be_data;
}

static int *index_of(coil__handle *h)
{
    switch (h->type) {
    case COIL__H_TRANSPORT:
        return &((coil_transport *)h)->be.poll.index;
    case COIL__H_PORT:
        return &((coil_port *)h)->be.poll.index;
    default:
        return &((coil__watch *)h)->be.poll.index;
    }
}

/* Set the events polled for `fd` on behalf of `h`; 0 removes the entry.
 * A handle's index is its pollfd position + 1, so 0 (calloc) means none. */
static int set_events(coil__handle *h, int fd, short events)
{
    poll_state *s = state(h->r);
    int *idx = index_of(h);
    if (events == 0) {
        if (*idx == 0)
            return 0;
        size_t i = (size_t)*idx - 1, last = s->n - 1;
        if (i != last) {
            s->fds[i] = s->fds[last];
            s->owners[i] = s->owners[last];
            *index_of(s->owners[i]) = (int)i + 1;
        }
        s->n--;
        *idx = 0;
        return 0;
    }
    if (*idx == 0) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 64;
            struct pollfd *fds = realloc(s->fds, cap * sizeof(*fds));
            if (!fds)
                return -ENOMEM;
            s->fds = fds;
            coil__handle **owners = realloc(s->owners, cap * sizeof(*owners));
            if (!owners)
                return -ENOMEM;
            s->owners = owners;
            s->cap = cap;
        }
        s->owners[s->n] = h;
        *idx = (int)++s->n;
    }
    s->fds[*idx - 1] = (struct pollfd){.fd = fd, .events = events};
    return 0;
}

static short transport_events(const coil_transport *t)
{
    short ev = 0;
    if (coil__transport_wants_read(t))
        ev |= POLLIN;
    if (t->be.poll.want_write || (t->flags & COIL__T_CONNECTING))
        ev |= POLLOUT;
    return ev;
}

static void update_transport(coil_transport *t)
{
    if (!t->h.closing)
        set_events(&t->h, t->fd, transport_events(t));
}

static void add_pending(coil_transport *t)
{
    if (t->be.poll.in_pending)
        return;
    t->be.poll.in_pending = true;
    t->be.poll.pending_next = state(t->h.r)->pending;
    state(t->h.r)->pending = t;
}

static void remove_pending(coil_transport *t)
{
    if (!t->be.poll.in_pending)
        return;
    coil_transport **pp = &state(t->h.r)->pending;
    while (*pp != t)
        pp = &(*pp)->be.poll.pending_next;
    *pp = t->be.poll.pending_next;
    t->be.poll.in_pending = false;
}

/* ---- lifecycle ----------------------------------------------------------- */

static int poll_init(coil_reactor *r, const coil_reactor_options *o)
{
    (void)o;
    poll_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    r->rbuf = malloc(RBUF_SIZE);
    if (!r->rbuf) {
        free(s);
        return -ENOMEM;
    }
    r->be_data = s;
    return 0;
}

static void poll_fini(coil_reactor *r)
{
    poll_state *s = state(r);
    free(s->fds);
    free(s->owners);
    free(s->ready);
    free(s);
    r->be_data = NULL;
}

/* ---- sending ------------------------------------------------------------- */

/* A file segment at the head of the queue goes alone, by sendfile. */
static ssize_t send_head(coil_transport *t)
{
    int fd;
    int64_t off;
    size_t len;
    if (coil__outq_head_file(&t->outq, &fd, &off, &len)) {
        ssize_t n = coil__send_file(t->fd, fd, off, len, t->h.r->rbuf, RBUF_SIZE);
        if (n < 0)
            errno = (int)-n;
        return n < 0 ? -1 : n;
    }
    struct iovec iov[MAX_IOV];
    size_t total;
    int n = coil__outq_peek(&t->outq, iov, MAX_IOV, &total);
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    return sendmsg(t->fd, &msg, MSG_NOSIGNAL);
}

static void do_send(coil_transport *t)
{
    ssize_t sent = send_head(t);
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        t->be.poll.want_write = true;
        update_transport(t);
        return;
    }
    if (t->be.poll.want_write) {
        t->be.poll.want_write = false;
        update_transport(t);
    }
    coil__transport_on_sent(t, sent < 0 ? -errno : sent);
}

static void poll_send(coil_transport *t)
{
    add_pending(t);
}

static void report_connect(coil_transport *t)
{
    int err = -t->reason; /* an immediate failure, kept by poll_connect */
    socklen_t len = sizeof(err);
    if (err == 0 && getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    t->reason = 0;
    if (t->be.poll.connect_timer) {
        coil_delayed_call_cancel(t->be.poll.connect_timer);
        t->be.poll.connect_timer = NULL;
    }
    t->flags &= ~COIL__T_CONNECTING;
    update_transport(t);
    coil__transport_on_connected(t, -err);
}

static void run_pending(coil_reactor *r)
{
    poll_state *s = state(r);
    while (s->pending) {
        coil_transport *t = s->pending;
        s->pending = t->be.poll.pending_next;
        t->be.poll.in_pending = false;
        if (t->h.closing)
            continue;
        if (t->flags & COIL__T_CONNECTING)
            report_connect(t); /* connect() finished or failed immediately */
        else if ((t->flags & COIL__T_SENDING) && !t->be.poll.want_write)
            do_send(t);
    }
}

/* ---- reading and accepting ----------------------------------------------- */

static void poll_read_start(coil_transport *t)
{
    update_transport(t);
}

static void poll_read_stop(coil_transport *t)
{
    update_transport(t);
}

static void do_read(coil_transport *t)
{
    ssize_t n = recv(t->fd, t->h.r->rbuf, RBUF_SIZE, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0)
        set_events(&t->h, t->fd, 0); /* no more reads: EOF or error */
    coil__transport_on_read(t, t->h.r->rbuf, n < 0 ? -errno : n);
    if (!t->h.closing && n <= 0)
        update_transport(t);
}

static void do_accept(coil_port *p)
{
    for (int i = 0; i < ACCEPTS_PER_TURN && p->accepting && !p->h.closing; i++) {
        int fd = accept4(p->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                coil__port_on_accept(p, -errno);
            return;
        }
        coil__port_on_accept(p, fd);
    }
}

static int poll_port_start(coil_port *p)
{
    p->accepting = true;
    return set_events(&p->h, p->fd, POLLIN);
}

static void poll_port_pause(coil_port *p)
{
    set_events(&p->h, p->fd, 0);
}

static void poll_port_close(coil_port *p)
{
    set_events(&p->h, p->fd, 0);
    close(p->fd);
    coil__handle_closed(&p->h);
}

/* ---- connecting and closing ---------------------------------------------- */

static void connect_timed_out(void *arg)
{
    coil_transport *t = arg;
    t->be.poll.connect_timer = NULL;
    t->flags &= ~COIL__T_CONNECTING;
    coil__transport_close(t, -ETIMEDOUT, true);
}

static int poll_connect(coil_transport *t, const coil_address *addr, int64_t timeout_ns)
{
    int rc = connect(t->fd, &addr->u.sa, addr->len);
    if (rc == 0 || errno != EINPROGRESS) {
        /* Done (typical for UNIX sockets) or failed at once: either way the
         * result is reported from the loop. */
        t->reason = rc == 0 ? 0 : -errno;
        add_pending(t);
        return 0;
    }
    if (timeout_ns >= 0)
        t->be.poll.connect_timer =
            coil_reactor_call_later(t->h.r, (double)timeout_ns / 1e9, connect_timed_out, t);
    update_transport(t);
    return 0;
}

static void poll_close(coil_transport *t)
{
    remove_pending(t);
    if (t->be.poll.connect_timer) {
        coil_delayed_call_cancel(t->be.poll.connect_timer);
        t->be.poll.connect_timer = NULL;
    }
    set_events(&t->h, t->fd, 0);
    close(t->fd);
    coil__handle_closed(&t->h);
}

static int poll_watch_start(coil__watch *w)
{
    return set_events(&w->h, w->fd, POLLIN);
}

static void poll_watch_close(coil__watch *w)
{
    set_events(&w->h, w->fd, 0);
}

/* ---- the wait ------------------------------------------------------------ */

static void dispatch(coil__handle *h, short rev)
{
    if (h->closing)
        return;
    switch (h->type) {
    case COIL__H_TRANSPORT: {
        coil_transport *t = (coil_transport *)h;
        if (t->flags & COIL__T_CONNECTING) {
            report_connect(t);
            return;
        }
        if ((rev & (POLLIN | POLLHUP | POLLERR)) && coil__transport_wants_read(t))
            do_read(t);
        if (!h->closing && (rev & (POLLOUT | POLLHUP | POLLERR)) && t->be.poll.want_write)
            do_send(t);
        break;
    }
    case COIL__H_PORT:
        do_accept((coil_port *)h);
        break;
    case COIL__H_WATCH:
        ((coil__watch *)h)->cb((coil__watch *)h);
        break;
    }
}

static int poll_wait(coil_reactor *r, int64_t timeout_ns)
{
    poll_state *s = state(r);
    run_pending(r);
    if (coil__reactor_has_work(r) || s->pending)
        timeout_ns = 0;
    /* Round up so a timer due in 0.3 ms does not spin with timeout 0. */
    int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
    r->stats.submits++;
    int n = poll(s->fds, (nfds_t)s->n, ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (n == 0)
        return 0;
    /* Snapshot the ready set: callbacks add and remove entries. */
    if (s->ready_cap < (size_t)n) {
        struct ready *rd = realloc(s->ready, (size_t)n * sizeof(*rd));
        if (!rd)
            return -ENOMEM;
        s->ready = rd;
        s->ready_cap = (size_t)n;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n && k < (size_t)n; i++)
        if (s->fds[i].revents)
            s->ready[k++] = (struct ready){s->owners[i], s->fds[i].revents};
    r->stats.completions += k;
    for (size_t i = 0; i < k; i++)
        dispatch(s->ready[i].h, s->ready[i].revents);
    return 0;
}

const coil__backend_ops coil__poll_backend = {
    .name = "poll",
    .init = poll_init,
    .fini = poll_fini,
    .wait = poll_wait,
    .port_start = poll_port_start,
    .port_pause = poll_port_pause,
    .port_close = poll_port_close,
    .read_start = poll_read_start,
    .read_stop = poll_read_stop,
    .send = poll_send,
    .connect = poll_connect,
    .close = poll_close,
    .watch_start = poll_watch_start,
    .watch_close = poll_watch_close,
};
