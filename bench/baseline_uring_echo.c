/* SPDX-License-Identifier: MIT */
/*
 * baseline_uring_echo - the minimal liburing echo server a user would write
 * following current best practice; the yardstick for coil's io_uring backend.
 *
 * - ring with SINGLE_ISSUER|DEFER_TASKRUN (falls back to COOP_TASKRUN, then
 *   to no flags), a registered ring fd, a CQ 16x the SQ;
 * - one multishot accept; per connection one multishot recv that picks
 *   buffers from a shared provided-buffer ring (1024 x 16 KiB, set up by hand
 *   because liburing 2.3 lacks io_uring_setup_buf_ring; the environment
 *   variables BASELINE_URING_BUFS / BASELINE_URING_BUF_SIZE change the
 *   geometry); a recv that ends
 *   (no IORING_CQE_F_MORE, e.g. -ENOBUFS) is simply re-armed;
 * - data is copied out of the ring buffer into a per-connection buffer and
 *   the ring buffer is returned at once; at most one send is in flight per
 *   socket, data arriving meanwhile is appended to a pending buffer, short
 *   sends are resubmitted;
 * - one io_uring_submit_and_wait() per loop, then the whole CQE batch.
 *
 * usage: baseline_uring_echo --port P [--host 127.0.0.1]   (SIGINT/SIGTERM exit)
 */
#include <liburing.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#include "baseline_common.h"

#define SQ_ENTRIES 512
#define CQ_ENTRIES (16 * SQ_ENTRIES)
#define BGID 0

/* user_data: a struct conn pointer (16-byte aligned) | op, or a small constant */
enum { OP_RECV = 1, OP_SEND = 2, UD_ACCEPT = 3, UD_SIGNAL = 4 };

struct obuf {
    char *p;
    size_t len, off, cap;
};

struct conn {
    int fd;
    bool recv_armed, send_busy;
    bool eof;  /* peer closed: finish sending, then close */
    bool dead; /* error: drop everything, close when no op is in flight */
    struct obuf out, pend; /* out: being sent; pend: arrived meanwhile */
};

/* buffer pool geometry; env BASELINE_URING_BUFS (power of two <= 32768) and
 * BASELINE_URING_BUF_SIZE override it for experiments */
static unsigned nbufs = 1024, bufsz = 16 * 1024;
static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static int lfd, sfd;

static struct io_uring_sqe *get_sqe(void)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    if (!sqe) { /* SQ full: flush it and retry */
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
        if (!sqe) {
            fprintf(stderr, "no SQE available\n");
            exit(1);
        }
    }
    return sqe;
}

static void arm_accept(void)
{
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, UD_ACCEPT);
}

static void arm_recv(struct conn *c)
{
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, (uintptr_t)c | OP_RECV);
    c->recv_armed = true;
}

static void send_out(struct conn *c)
{
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_send(sqe, c->fd, c->out.p + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, (uintptr_t)c | OP_SEND);
    c->send_busy = true;
}

static bool append(struct obuf *b, const char *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return false;
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return true;
}

static void fail(struct conn *c)
{
    c->dead = true;
    if (c->recv_armed || c->send_busy)
        shutdown(c->fd, SHUT_RDWR); /* ends the in-flight ops; close() would not */
}

/* Close and free once no operation refers to the connection any more. */
static void maybe_close(struct conn *c)
{
    if (c->recv_armed || c->send_busy || !(c->dead || c->eof))
        return;
    close(c->fd);
    free(c->out.p);
    free(c->pend.p);
    free(c);
}

static void on_recv(struct conn *c, int res, unsigned flags)
{
    if (!(flags & IORING_CQE_F_MORE))
        c->recv_armed = false;
    if (flags & IORING_CQE_F_BUFFER) {
        unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
        char *data = bufs + (size_t)bid * bufsz;
        if (res > 0 && !c->dead) {
            struct obuf *b = c->send_busy ? &c->pend : &c->out;
            if (!append(b, data, (size_t)res))
                fail(c);
            else if (!c->send_busy)
                send_out(c);
        }
        /* give the buffer back to the kernel right after copying */
        io_uring_buf_ring_add(br, data, bufsz, (unsigned short)bid,
                              io_uring_buf_ring_mask(nbufs), 0);
        io_uring_buf_ring_advance(br, 1);
    }
    if (res == 0)
        c->eof = true;
    else if (res < 0 && res != -ENOBUFS)
        fail(c);
    if (!c->recv_armed && !c->eof && !c->dead)
        arm_recv(c); /* multishot ended (e.g. -ENOBUFS): re-arm */
    maybe_close(c);
}

static void on_send(struct conn *c, int res)
{
    c->send_busy = false;
    if (res < 0) {
        fail(c);
    } else if (!c->dead) {
        c->out.off += (size_t)res;
        if (c->out.off < c->out.len) { /* short send: send the rest */
            send_out(c);
        } else {
            struct obuf t = c->out; /* swap: pending becomes the next send */
            c->out = c->pend;
            c->pend = t;
            c->pend.len = c->pend.off = 0;
            if (c->out.len)
                send_out(c);
        }
    }
    maybe_close(c);
}

static void on_accept(int res, unsigned flags)
{
    if (res >= 0) {
        int one = 1;
        setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(res);
        } else {
            c->fd = res;
            arm_recv(c);
        }
    } else {
        fprintf(stderr, "accept: %s\n", strerror(-res));
    }
    if (!(flags & IORING_CQE_F_MORE))
        arm_accept();
}

static void setup_ring(void)
{
    static const unsigned tries[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL, 0};
    int ret = -EINVAL;
    for (unsigned i = 0; i < sizeof(tries) / sizeof(tries[0]) && ret == -EINVAL; i++) {
        struct io_uring_params p = {.flags = tries[i] | IORING_SETUP_CQSIZE,
                                    .cq_entries = CQ_ENTRIES};
        ret = io_uring_queue_init_params(SQ_ENTRIES, &ring, &p);
        if (ret == 0 && i > 0)
            fprintf(stderr, "note: ring set up with fallback flags 0x%x\n", tries[i]);
    }
    if (ret < 0) {
        errno = -ret;
        baseline_die("io_uring_queue_init_params");
    }
    io_uring_register_ring_fd(&ring);

    const char *e = getenv("BASELINE_URING_BUFS");
    if (e && atoi(e) > 0 && atoi(e) <= 32768 && !(atoi(e) & (atoi(e) - 1)))
        nbufs = (unsigned)atoi(e);
    if ((e = getenv("BASELINE_URING_BUF_SIZE")) && atoi(e) > 0)
        bufsz = (unsigned)atoi(e);
    if (nbufs * (size_t)bufsz > (1u << 30)) {
        fprintf(stderr, "buffer pool larger than 1 GiB\n");
        exit(2);
    }

    /* provided buffer ring, open-coded (no io_uring_setup_buf_ring in 2.3) */
    size_t rsz = nbufs * sizeof(struct io_uring_buf);
    br = mmap(NULL, rsz, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    bufs = mmap(NULL, (size_t)nbufs * bufsz, PROT_READ | PROT_WRITE,
                MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (br == MAP_FAILED || bufs == MAP_FAILED)
        baseline_die("mmap");
    struct io_uring_buf_reg reg = {.ring_addr = (uintptr_t)br, .ring_entries = nbufs,
                                   .bgid = BGID};
    ret = io_uring_register_buf_ring(&ring, &reg, 0);
    if (ret < 0) {
        errno = -ret;
        baseline_die("io_uring_register_buf_ring");
    }
    io_uring_buf_ring_init(br);
    for (unsigned i = 0; i < nbufs; i++)
        io_uring_buf_ring_add(br, bufs + (size_t)i * bufsz, bufsz, (unsigned short)i,
                              io_uring_buf_ring_mask(nbufs), (int)i);
    io_uring_buf_ring_advance(br, nbufs);
}

int main(int argc, char **argv)
{
    lfd = baseline_listen(argc, argv, 0);
    sfd = baseline_signalfd();
    setup_ring();
    arm_accept();
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_poll_add(sqe, sfd, POLLIN);
    io_uring_sqe_set_data64(sqe, UD_SIGNAL);

    for (bool stop = false; !stop;) {
        int ret = io_uring_submit_and_wait(&ring, 1);
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
            errno = -ret;
            baseline_die("io_uring_submit_and_wait");
        }
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            uint64_t ud = cqe->user_data;
            seen++;
            if (ud == UD_ACCEPT)
                on_accept(cqe->res, cqe->flags);
            else if (ud == UD_SIGNAL)
                stop = true;
            else if ((ud & 15) == OP_RECV)
                on_recv((struct conn *)(uintptr_t)(ud & ~(uint64_t)15), cqe->res, cqe->flags);
            else
                on_send((struct conn *)(uintptr_t)(ud & ~(uint64_t)15), cqe->res);
        }
        io_uring_cq_advance(&ring, seen);
    }
    io_uring_queue_exit(&ring);
    return 0;
}
