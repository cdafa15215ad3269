/* SPDX-License-Identifier: MIT */
/*
 * Transport state machine, shared by both backends: the write queue, orderly
 * and abortive close, half-close, pausing, producers, and the final
 * connection_lost. Backends report completions through coil__transport_on_*;
 * user callbacks run from those (i.e. from the loop) or from the endgame.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

#define T_HAS(t, f) (((t)->flags & (f)) != 0)
/* Held data (arrived while paused) is handed over at most this much per
 * data_received call (Twisted's read size). */


coil_transport *coil__transport_new(coil_reactor *r, int fd, bool tcp)
{
    coil_transport *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (coil__handle_init(r, &t->h, COIL__H_TRANSPORT) < 0) {
        free(t);
        return NULL;
    }
    t->fd = fd;
    r->transports++;
    t->flags = tcp ? COIL__T_TCP : 0;
    t->high_water = 65536; /* Twisted's bufferSize */
    t->low_water = 0;
    t->self_producer.ops = &coil__transport_self_producer_ops;
    return t;
}

/* Deferred per-transport work (held data, held EOF, a pending half-close,
 * a pull producer's first request) runs from the loop, not from the call
 * that caused it. */
static void schedule(coil_transport *t)
{
    if (T_HAS(t, COIL__T_IN_HELDQ))
        return;
    t->flags |= COIL__T_IN_HELDQ;
    t->heldq_next = t->h.r->heldq;
    t->h.r->heldq = t;
}

static void start_reading(coil_transport *t)
{
    if (t->h.closing || T_HAS(t, COIL__T_READING | COIL__T_PAUSED | COIL__T_READ_EOF |
                                     COIL__T_DISCONNECTING) ||
        !T_HAS(t, COIL__T_CONNECTED))
        return;
    t->flags |= COIL__T_READING;
    t->h.r->be->read_start(t);
}

static void stop_reading(coil_transport *t)
{
    if (!T_HAS(t, COIL__T_READING))
        return;
    t->flags &= ~COIL__T_READING;
    t->h.r->be->read_stop(t);
}

void coil__transport_read_ended(coil_transport *t, int why)
{
    (void)why; /* every reason means the same here: start again if wanted */
    if (!T_HAS(t, COIL__T_READING))
        return; /* stopped (paused, EOF, closing): stays stopped */
    t->flags &= ~COIL__T_READING;
    start_reading(t);
}

void coil__transport_attach(coil_transport *t, coil_protocol *p)
{
    t->proto = p;
    p->transport = t;
    t->flags |= COIL__T_CONNECTED;
    if (p->ops->connection_made)
        p->ops->connection_made(p);
    start_reading(t);
}

void coil__transport_close(coil_transport *t, int reason, bool abort)
{
    if (t->h.closing)
        return;
    t->h.closing = true;
    t->reason = reason;
    t->flags |= COIL__T_DISCONNECTING;
    t->flags &= ~COIL__T_READING;
    if (!abort && T_HAS(t, COIL__T_CONNECTED)) {
        /* Orderly: send the FIN now, as Twisted's shutdown(SHUT_RDWR)
         * before close. Without it, close() on a socket holding bytes we
         * never read sends only a RST, and the peer loses the clean EOF
         * (e.g. a QOTD client that spoke first got ECONNRESET). */
        t->h.r->be->shutdown(t, SHUT_RDWR);
    }
    /* The queue is dropped in the endgame: a send may still be in flight
     * and the kernel may still read its bytes until it completes. An
     * abortive close resets the connection (SO_LINGER {1, 0}). */
    t->h.r->be->close(t, abort);
}

/* ---- writing ------------------------------------------------------------- */

static bool writable(const coil_transport *t)
{
    return T_HAS(t, COIL__T_CONNECTED) && !t->h.closing &&
           !T_HAS(t, COIL__T_SHUT_WR | COIL__T_SHUT_WR_PENDING);
}

static void kick_send(coil_transport *t)
{
    if (T_HAS(t, COIL__T_SENDING) || t->outq.bytes == 0 || t->h.closing)
        return;
    t->flags |= COIL__T_SENDING;
    t->h.r->be->send(t);
}

static void after_queue(coil_transport *t)
{
    kick_send(t);
    if (t->producer && t->producer_streaming && !t->producer_paused &&
        t->outq.bytes > t->high_water) {
        t->producer_paused = true;
        t->producer->ops->pause_producing(t->producer);
    }
}

int coil_transport_write(coil_transport *t, const void *data, size_t len)
{
    if (t->wrap)
        return coil__wrap_write(t, data, len);
    if (!writable(t))
        return -ENOTCONN;
    if (len == 0)
        return 0;
    size_t before = t->outq.bytes;
    int rc = coil__outq_write(&t->outq, &t->h.r->pool, data, len);
    t->h.r->stats.queued_bytes += t->outq.bytes - before;
    after_queue(t);
    return rc;
}

int coil_transport_writev(coil_transport *t, const struct iovec *iov, int iovcnt)
{
    if (t->wrap)
        return coil__wrap_writev(t, iov, iovcnt);
    if (!writable(t))
        return -ENOTCONN;
    int rc = 0;
    size_t before = t->outq.bytes;
    for (int i = 0; i < iovcnt && rc == 0; i++)
        if (iov[i].iov_len)
            rc = coil__outq_write(&t->outq, &t->h.r->pool, iov[i].iov_base, iov[i].iov_len);
    t->h.r->stats.queued_bytes += t->outq.bytes - before;
    after_queue(t);
    return rc;
}

int coil_transport_write_borrowed(coil_transport *t, const void *data, size_t len,
                                  coil_release_fn release, void *arg)
{
    if (t->wrap)
        return coil__wrap_write_borrowed(t, data, len, release, arg);
    if (!writable(t))
        return -ENOTCONN;
    if (len == 0 || !release)
        return -EINVAL;
    int rc = coil__outq_borrow(&t->outq, data, len, release, arg);
    if (rc == 0) {
        t->h.r->stats.queued_bytes += len;
        after_queue(t);
    }
    return rc;
}

int coil_transport_write_file(coil_transport *t, int fd, int64_t offset, size_t len,
                              coil_release_fn release, void *arg)
{
    if (!writable(t))
        return -ENOTCONN;
    if (len == 0 || !release || fd < 0 || offset < 0)
        return -EINVAL;
    int rc = coil__outq_file(&t->outq, fd, offset, len, release, arg);
    if (rc == 0)
        after_queue(t);
    return rc;
}

size_t coil_transport_write_buffer_size(const coil_transport *t)
{
    if (t->wrap)
        return coil__wrap_write_buffer_size(t);
    return t->outq.bytes;
}

void coil_transport_set_write_limits(coil_transport *t, size_t high, size_t low)
{
    if (t->wrap) {
        coil__wrap_set_write_limits(t, high, low);
        return;
    }
    t->high_water = high;
    t->low_water = low < high ? low : high;
}

/* ---- closing ------------------------------------------------------------- */

/* The queue is empty and nothing is in flight: finish what was asked. */
static void drained(coil_transport *t)
{
    if (T_HAS(t, COIL__T_SHUT_WR_PENDING)) {
        t->flags = (t->flags & ~COIL__T_SHUT_WR_PENDING) | COIL__T_SHUT_WR;
        t->h.r->be->shutdown(t, SHUT_WR);
        if (t->proto->ops->write_connection_lost)
            t->proto->ops->write_connection_lost(t->proto);
        if (t->h.closing)
            return;
    }
    if (!T_HAS(t, COIL__T_DISCONNECTING))
        return;
    /* As Twisted: a pull producer, or a paused streaming one, is asked for
     * more instead of closing; the close happens once it unregisters. The
     * transport registered as its own producer is the exception: resuming
     * it would only resume reading, which a disconnecting transport never
     * does, so the connection would never close. */
    if (t->producer && t->producer != &t->self_producer &&
        (!t->producer_streaming || t->producer_paused)) {
        t->producer_paused = false;
        t->producer->ops->resume_producing(t->producer);
        return;
    }
    coil__transport_close(t, 0, false);
}

static bool idle_writer(const coil_transport *t)
{
    return !T_HAS(t, COIL__T_SENDING) && t->outq.bytes == 0;
}

void coil_transport_lose_connection(coil_transport *t)
{
    if (t->wrap) {
        coil__wrap_lose_connection(t);
        return;
    }
    if (t->h.closing || T_HAS(t, COIL__T_DISCONNECTING) || !T_HAS(t, COIL__T_CONNECTED))
        return;
    t->flags |= COIL__T_DISCONNECTING;
    stop_reading(t);
    if (idle_writer(t))
        schedule(t);
}

void coil_transport_abort_connection(coil_transport *t)
{
    if (t->wrap) {
        coil__wrap_abort_connection(t);
        return;
    }
    if (!T_HAS(t, COIL__T_CONNECTED))
        return;
    coil__transport_close(t, COIL_EABORTED, true);
}

void coil_transport_lose_write_connection(coil_transport *t)
{
    if (t->wrap) {
        coil__wrap_lose_write_connection(t);
        return;
    }
    if (!writable(t))
        return;
    t->flags |= COIL__T_SHUT_WR_PENDING;
    if (idle_writer(t))
        schedule(t);
}

bool coil_transport_is_disconnecting(const coil_transport *t)
{
    if (t->wrap)
        return coil__wrap_is_disconnecting(t);
    return t->h.closing || T_HAS(t, COIL__T_DISCONNECTING);
}

/* ---- reading ------------------------------------------------------------- */

static void on_eof(coil_transport *t)
{
    t->flags |= COIL__T_READ_EOF;
    stop_reading(t);
    if (t->proto->ops->read_connection_lost) {
        t->proto->ops->read_connection_lost(t->proto);
        return;
    }
    /* Not half-closeable: flush what is queued, then close cleanly. Twisted
     * drops the queue here; see docs/DIVERGENCES.md. */
    if (T_HAS(t, COIL__T_SHUT_WR) && idle_writer(t)) {
        coil__transport_close(t, 0, false);
        return;
    }
    coil_transport_lose_connection(t);
}

void coil__transport_on_read(coil_transport *t, const void *data, ssize_t n)
{
    if (n > 0)
        t->h.r->stats.bytes_in += (uint64_t)n;
    if (t->h.closing || T_HAS(t, COIL__T_DISCONNECTING))
        return; /* we stopped reading: late data is dropped, as Twisted */
    if (n > 0) {
        int held = coil__held_data(t, data, (size_t)n);
        if (held < 0)
            coil__transport_close(t, held, true);
        else if (!held)
            t->proto->ops->data_received(t->proto, data, (size_t)n);
    } else if (n == 0) {
        t->flags &= ~COIL__T_READING;
        if (!coil__held_eof(t))
            on_eof(t);
    } else {
        t->flags &= ~COIL__T_READING;
        coil__transport_close(t, (int)n, false);
    }
}

void coil_transport_pause_reading(coil_transport *t)
{
    if (t->wrap) {
        coil__wrap_pause_reading(t);
        return;
    }
    if (t->h.closing)
        return;
    t->flags |= COIL__T_PAUSED;
    stop_reading(t);
}

void coil_transport_resume_reading(coil_transport *t)
{
    if (t->wrap) {
        coil__wrap_resume_reading(t);
        return;
    }
    if (t->h.closing || !T_HAS(t, COIL__T_PAUSED))
        return;
    t->flags &= ~COIL__T_PAUSED;
    if (coil__held_pending(t))
        schedule(t);
    else
        start_reading(t);
}

static void run_deferred_work(coil_transport *t)
{
    int eof_due = coil__held_deliver(t);
    if (eof_due < 0)
        coil__transport_close(t, eof_due, true);
    if (t->h.closing)
        return;
    if (eof_due > 0) {
        on_eof(t);
        if (t->h.closing)
            return;
    }
    if (idle_writer(t) && T_HAS(t, COIL__T_SHUT_WR_PENDING | COIL__T_DISCONNECTING)) {
        drained(t);
        if (t->h.closing)
            return;
    }
    if (t->producer && !t->producer_streaming && idle_writer(t) && !T_HAS(t, COIL__T_DISCONNECTING))
        t->producer->ops->resume_producing(t->producer);
    if (!t->h.closing && !t->held_len)
        start_reading(t);
}

void coil__deliver_held(coil_reactor *r)
{
    coil_transport *list = r->heldq;
    r->heldq = NULL;
    while (list) {
        coil_transport *t = list;
        list = t->heldq_next;
        t->flags &= ~COIL__T_IN_HELDQ;
        if (!t->h.closing && T_HAS(t, COIL__T_CONNECTED))
            run_deferred_work(t);
    }
}

/* ---- send completions ---------------------------------------------------- */

void coil__transport_on_sent(coil_transport *t, ssize_t n)
{
    t->flags &= ~COIL__T_SENDING;
    if (t->h.closing)
        return; /* the endgame drops the queue */
    if (n < 0) {
        coil__transport_close(t, (int)n, false);
        return;
    }
    coil__outq_consume(&t->outq, &t->h.r->pool, (size_t)n);
    t->h.r->stats.bytes_out += (uint64_t)n;
    t->h.r->stats.queued_bytes -= (size_t)n;
    if (t->producer && t->outq.bytes <= t->low_water &&
        (!t->producer_streaming || t->producer_paused) && !T_HAS(t, COIL__T_DISCONNECTING)) {
        t->producer_paused = false;
        t->producer->ops->resume_producing(t->producer);
        if (t->h.closing)
            return;
    }
    if (t->outq.bytes)
        kick_send(t);
    else if (!T_HAS(t, COIL__T_SENDING))
        drained(t);
}

/* ---- producers ----------------------------------------------------------- */

int coil_transport_register_producer(coil_transport *t, coil_producer *p, bool streaming)
{
    if (t->wrap)
        return coil__wrap_register_producer(t, p, streaming);
    if (t->producer)
        return -EBUSY;
    if (t->h.closing)
        return -ENOTCONN;
    t->producer = p;
    t->producer_streaming = streaming;
    t->producer_paused = false;
    if (!streaming)
        schedule(t); /* a pull producer is asked for data right away */
    return 0;
}

void coil_transport_unregister_producer(coil_transport *t)
{
    if (t->wrap) {
        coil__wrap_unregister_producer(t);
        return;
    }
    t->producer = NULL;
    if (T_HAS(t, COIL__T_DISCONNECTING) && idle_writer(t) && !t->h.closing)
        schedule(t);
}

static coil_transport *self_of(coil_producer *p)
{
    return (coil_transport *)((char *)p - offsetof(coil_transport, self_producer));
}

static void self_pause(coil_producer *p)
{
    coil_transport_pause_reading(self_of(p));
}

static void self_resume(coil_producer *p)
{
    coil_transport_resume_reading(self_of(p));
}

static void self_stop(coil_producer *p)
{
    coil_transport_lose_connection(self_of(p));
}

/* Shared with wrapped (outer) transports: it only calls public functions. */
const coil_producer_ops coil__transport_self_producer_ops = {self_pause, self_resume, self_stop};

coil_producer *coil_transport_producer(coil_transport *t)
{
    return &t->self_producer;
}

/* ---- endgame ------------------------------------------------------------- */

void coil__transport_endgame(coil_transport *t)
{
    if (T_HAS(t, COIL__T_IN_HELDQ)) { /* closed while deferred work was queued */
        coil_transport **pp = &t->h.r->heldq;
        while (*pp != t)
            pp = &(*pp)->heldq_next;
        *pp = t->heldq_next;
    }
    coil_reactor *r = t->h.r;
    r->stats.queued_bytes -= t->outq.bytes;
    coil__outq_clear(&t->outq, &r->pool);
    coil__held_drop(t);
    /* Give back pooled output blocks the remaining connections do not
     * need (one each, a few spare), so memory returns as connections go. */
    r->transports--;
    coil__pool_trim(&r->pool, r->transports + 8);
    free(t->addr_override);
    t->addr_override = NULL;
    if (T_HAS(t, COIL__T_CONNECTED)) {
        coil_producer *prod = t->producer;
        t->producer = NULL;
        /* The registered producer is told to stop, unless it is the
         * transport itself (which is already gone). */
        if (prod && prod != &t->self_producer)
            prod->ops->stop_producing(prod);
        t->flags |= COIL__T_LOST;
        t->proto->ops->connection_lost(t->proto, t->reason);
    } else if (t->connect_cb) {
        t->connect_cb(t->connect_arg, NULL, t->reason);
    }
    if (t->factory)
        coil_factory_do_stop(t->factory);
    free(t);
}

/* ---- accessors ----------------------------------------------------------- */

int coil__transport_override_addresses(coil_transport *t, const coil_address *peer,
                                       const coil_address *host)
{
    if (!t->addr_override) {
        t->addr_override = calloc(2, sizeof(coil_address));
        if (!t->addr_override)
            return -ENOMEM;
    }
    if (peer)
        t->addr_override[0] = *peer;
    if (host)
        t->addr_override[1] = *host;
    return 0;
}

/* A PROXY header's address, if one replaced the socket's (len 0: none). */
static bool overridden(const coil_transport *t, int which, coil_address *out)
{
    if (!t->addr_override || t->addr_override[which].len == 0 || t->h.closing)
        return false;
    *out = t->addr_override[which];
    return true;
}

int coil_transport_get_peer(coil_transport *t, coil_address *out)
{
    if (t->wrap)
        return coil__wrap_get_address(t, 0, out);
    if (overridden(t, 0, out))
        return 0;
    memset(out, 0, sizeof(*out));
    return t->h.closing ? -ENOTCONN : t->h.r->be->sockname(t, true, out);
}

int coil_transport_get_host(coil_transport *t, coil_address *out)
{
    if (t->wrap)
        return coil__wrap_get_address(t, 1, out);
    if (overridden(t, 1, out))
        return 0;
    memset(out, 0, sizeof(*out));
    return t->h.closing ? -ENOTCONN : t->h.r->be->sockname(t, false, out);
}

coil_reactor *coil_transport_reactor(const coil_transport *t)
{
    return t->h.r;
}

coil_protocol *coil_transport_protocol(const coil_transport *t)
{
    return t->proto;
}

int coil_transport_fileno(const coil_transport *t)
{
    if (t->wrap)
        return coil__wrap_fileno(t);
    return t->h.closing ? -EBADF : t->fd;
}

static int set_opt(coil_transport *t, int level, int name, bool on, bool tcp_only)
{
    if (t->h.closing)
        return -ENOTCONN;
    if (tcp_only && !T_HAS(t, COIL__T_TCP))
        return -EOPNOTSUPP;
    return t->h.r->be->setsockopt(t, level, name, on);
}

int coil_transport_set_tcp_nodelay(coil_transport *t, bool on)
{
    if (t->wrap)
        return coil__wrap_set_option(t, false, on);
    return set_opt(t, IPPROTO_TCP, TCP_NODELAY, on, true);
}

int coil_transport_set_tcp_keepalive(coil_transport *t, bool on)
{
    if (t->wrap)
        return coil__wrap_set_option(t, true, on);
    return set_opt(t, SOL_SOCKET, SO_KEEPALIVE, on, true);
}
