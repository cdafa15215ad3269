/* SPDX-License-Identifier: MIT */
/*
 * The readiness backend: readiness turned into the same completions the
 * io_uring backend produces. Which descriptors are ready comes from a
 * notifier (notify.h): poll(2), the portable backend "poll", or epoll, the
 * Linux fallback "epoll"; everything else is shared. Sends requested by the
 * core are attempted at the start of the next wait (so they batch, and
 * never call back into the core from inside a user's write); only a send
 * that would block arms POLLOUT. Each readable socket gets one recv per
 * turn, for fairness.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "notify.h"
#include "udp_int.h"

#define RBUF_SIZE 65536 /* as Twisted's read size */
#define ACCEPTS_PER_TURN 64
#define MAX_IOV 64

typedef struct poll_state {
    const coil__notifier *nt;
    void *nt_data;
    coil__ready_set ready;
    coil_transport *pending; /* sends to attempt and connect results to report */
} poll_state;

static poll_state *state(coil_reactor *r)
{
    return r->be_data;
}

static coil__rd_reg *reg_of(coil__handle *h)
{
    switch (h->type) {
    case COIL__H_TRANSPORT:
        return &((coil_transport *)h)->be.poll.reg;
    case COIL__H_PORT:
        return &((coil_port *)h)->be.poll.reg;
    default:
        return &((coil__watch *)h)->be.poll.reg;
    }
}

/* Set the events watched for `fd` on behalf of `h`; 0 stops watching. */
static int set_events(coil__handle *h, int fd, short events)
{
    poll_state *s = state(h->r);
    return s->nt->set(s->nt_data, h, fd, reg_of(h), events);
}

static short transport_events(const coil_transport *t)
{
    short ev = 0;
    if (t->be.poll.want_read)
        ev |= POLLIN;
    if (t->be.poll.want_write || t->be.poll.connecting)
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

static int init_with(coil_reactor *r, const coil__notifier *nt)
{
    poll_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->nt = nt;
    int rc = nt->init(r, &s->nt_data);
    if (rc < 0) {
        free(s);
        return rc;
    }
    r->rbuf = malloc(RBUF_SIZE);
    if (!r->rbuf) {
        nt->fini(s->nt_data);
        free(s);
        return -ENOMEM;
    }
    r->be_data = s;
    return 0;
}

static int poll_init(coil_reactor *r, const coil_reactor_options *o)
{
    (void)o;
    return init_with(r, &coil__notify_poll);
}

#ifdef COIL_HAVE_EPOLL
static int epoll_init(coil_reactor *r, const coil_reactor_options *o)
{
    (void)o;
    return init_with(r, &coil__notify_epoll);
}
#endif

static void poll_fini(coil_reactor *r)
{
    poll_state *s = state(r);
    s->nt->fini(s->nt_data);
    free(s->ready.v);
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
    int err = sent < 0 ? -errno : 0;
    if (t->be.poll.want_write) {
        t->be.poll.want_write = false;
        update_transport(t);
    }
    t->be.poll.want_send = false; /* the core may ask again from on_sent */
    coil__transport_on_sent(t, sent < 0 ? err : sent);
}

static void poll_send(coil_transport *t)
{
    t->be.poll.want_send = true;
    add_pending(t);
}

/* Report a connect's outcome (err: 0, or a negative errno known already;
 * 0 asks the socket). */
static void report_connect(coil_transport *t, int err)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (err == 0 && getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (err == 0)
        err = -soerr;
    if (t->be.poll.connect_timer) {
        coil_delayed_call_cancel(t->be.poll.connect_timer);
        t->be.poll.connect_timer = NULL;
    }
    t->be.poll.connecting = false;
    update_transport(t);
    coil__transport_on_connected(t, err);
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
        if (t->be.poll.connecting) {
            int err = t->be.poll.connect_err; /* connect() finished or failed at once */
            t->be.poll.connect_err = 0;
            report_connect(t, err);
        } else if (t->be.poll.want_send && !t->be.poll.want_write) {
            do_send(t);
        }
    }
}

/* ---- reading and accepting ----------------------------------------------- */

/* Readiness is level-triggered: once started, a receive goes on until
 * stopped, the peer's EOF or an error, so it never "ends" by itself. */
static void poll_read_start(coil_transport *t)
{
    t->be.poll.want_read = true;
    update_transport(t);
}

static void poll_read_stop(coil_transport *t)
{
    t->be.poll.want_read = false;
    update_transport(t);
}

static void do_read(coil_transport *t)
{
    ssize_t n = recv(t->fd, t->h.r->rbuf, RBUF_SIZE, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    int err = n < 0 ? -errno : 0;
    if (n <= 0) { /* no more reads: EOF or error */
        t->be.poll.want_read = false;
        update_transport(t);
    }
    coil__transport_on_read(t, t->h.r->rbuf, n < 0 ? err : n);
}

/* Whether a blocking (adopted, shared) listener has a connection waiting:
 * accept4() on it must not block the loop. */
static bool blocking_port_ready(coil_port *p)
{
    struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
    return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

static void do_accept(coil_port *p)
{
    /* A blocking descriptor we may not make non-blocking (its description
     * is shared) gets one accept per readiness report, checked right
     * before: another process sharing it may have taken the connection. */
    int max = p->blocking ? 1 : ACCEPTS_PER_TURN;
    for (int i = 0; i < max && p->be.poll.on && !p->h.closing; i++) {
        if (p->blocking && !blocking_port_ready(p))
            return;
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
    p->be.poll.on = true;
    return set_events(&p->h, p->fd, POLLIN);
}

static void poll_port_pause(coil_port *p)
{
    p->be.poll.on = false;
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
    t->be.poll.connecting = false;
    update_transport(t);
    coil__transport_on_connected(t, -ETIMEDOUT);
}

static int poll_connect(coil_transport *t, const coil_address *addr, int64_t timeout_ns)
{
    t->be.poll.connecting = true;
    int rc = connect(t->fd, &addr->u.sa, addr->len);
    if (rc == 0 || errno != EINPROGRESS) {
        /* Done (typical for UNIX sockets) or failed at once: either way the
         * result is reported from the loop. */
        t->be.poll.connect_err = rc == 0 ? 0 : -errno;
        add_pending(t);
        return 0;
    }
    if (timeout_ns >= 0) {
        t->be.poll.connect_timer =
            coil_reactor_call_later(t->h.r, (double)timeout_ns / 1e9, connect_timed_out, t);
        if (!t->be.poll.connect_timer) {
            t->be.poll.connecting = false;
            return -ENOMEM;
        }
    }
    int err = set_events(&t->h, t->fd, transport_events(t));
    if (err < 0) {
        t->be.poll.connecting = false;
        if (t->be.poll.connect_timer) {
            coil_delayed_call_cancel(t->be.poll.connect_timer);
            t->be.poll.connect_timer = NULL;
        }
    }
    return err;
}

static void poll_close(coil_transport *t, bool abort)
{
    if (abort)
        coil__sock_set_abortive(t->fd);
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

/* ---- datagram ports ------------------------------------------------------- */

/* Datagrams read per readiness event before other sockets get a turn. */
#define DGRAM_READS_PER_TURN 64

/* The socket is readable (or has an error pending): receive until empty. */
static void dgram_readable(coil__watch *w)
{
    coil_datagram_port *u = (coil_datagram_port *)w;
    for (int i = 0; i < DGRAM_READS_PER_TURN && !u->w.h.closing; i++) {
        struct sockaddr_storage from;
        struct iovec iov = {.iov_base = u->rbuf, .iov_len = COIL_DATAGRAM_MAX};
        struct msghdr msg = {
            .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n = recvmsg(u->w.fd, &msg, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno != EINTR)
                coil__dgram_on_error(u, -errno);
            continue;
        }
        coil__dgram_on_datagram(u, u->rbuf, (size_t)n, &from, msg.msg_namelen);
    }
}

static int poll_dgram_start(coil_datagram_port *u)
{
    u->rbuf = malloc(COIL_DATAGRAM_MAX);
    if (!u->rbuf)
        return -ENOMEM;
    u->w.cb = dgram_readable;
    return set_events(&u->w.h, u->w.fd, POLLIN);
}

static void poll_dgram_close(coil_datagram_port *u)
{
    set_events(&u->w.h, u->w.fd, 0);
    close(u->w.fd);
    free(u->rbuf);
    u->rbuf = NULL;
    coil__handle_closed(&u->w.h);
}

/* ---- the wait ------------------------------------------------------------ */

static void dispatch(coil__handle *h, short rev)
{
    if (h->closing)
        return;
    switch (h->type) {
    case COIL__H_TRANSPORT: {
        coil_transport *t = (coil_transport *)h;
        if (t->be.poll.connecting) {
            report_connect(t, 0);
            return;
        }
        if ((rev & (POLLIN | POLLHUP | POLLERR)) && t->be.poll.want_read)
            do_read(t);
        if (!h->closing && (rev & (POLLOUT | POLLHUP | POLLERR)) && t->be.poll.want_write)
            do_send(t);
        break;
    }
    case COIL__H_PORT:
        do_accept((coil_port *)h);
        break;
    case COIL__H_DGRAM: /* a datagram port is a watch with its own callback */
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
    s->ready.n = 0;
    int rc = s->nt->wait(s->nt_data, r, ms, &s->ready);
    if (rc < 0)
        return rc;
    /* Dispatch from the snapshot: callbacks add and remove watches, but no
     * handle is freed before the endgame, after this wait. */
    r->stats.completions += s->ready.n;
    for (size_t i = 0; i < s->ready.n; i++)
        dispatch(s->ready.v[i].h, s->ready.v[i].revents);
    return 0;
}

/* The two backends differ only in their notifier (chosen by init). */
#define READINESS_BACKEND(NAME, INIT)                                                              \
    {                                                                                              \
        .name = NAME, .init = INIT, .fini = poll_fini, .wait = poll_wait,                          \
        .port_start = poll_port_start, .port_pause = poll_port_pause,                              \
        .port_close = poll_port_close, .read_start = poll_read_start,                              \
        .read_stop = poll_read_stop, .send = poll_send, .connect = poll_connect,                   \
        .close = poll_close, .watch_start = poll_watch_start, .watch_close = poll_watch_close,     \
        .setsockopt = coil__sock_setsockopt, .shutdown = coil__sock_shutdown,                      \
        .sockname = coil__sock_name, .listen_socket = coil__sock_listen,                           \
        .adopt_socket = coil__sock_adopt, .connect_socket = coil__sock_connecting,                 \
        .discard = coil__sock_discard, .dgram_socket = coil__sock_dgram,                           \
        .dgram_start = poll_dgram_start, .dgram_close = poll_dgram_close,                          \
        .dgram_send = coil__sock_dgram_send, .dgram_connect = coil__sock_dgram_connect,            \
        .dgram_option = coil__sock_dgram_option,                                                   \
    }

const coil__backend_ops coil__poll_backend = READINESS_BACKEND("poll", poll_init);
#ifdef COIL_HAVE_EPOLL
const coil__backend_ops coil__epoll_backend = READINESS_BACKEND("epoll", epoll_init);
#endif
