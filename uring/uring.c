/* SPDX-License-Identifier: MIT */
/*
 * The io_uring backend.
 *
 * One ring per reactor (SINGLE_ISSUER|DEFER_TASKRUN where the kernel has
 * them). Every SQE queued during a loop turn goes to the kernel in the one
 * io_uring_submit_and_wait_timeout() call that also waits, with the next
 * timer deadline as its timeout. Listening sockets use multishot accept.
 * Connected sockets have one receive in flight at a time, into one
 * provided-buffer ring shared by the whole reactor, so an idle connection
 * owns no receive memory. Where the kernel can cap a multishot recv (Linux
 * 6.17), that receive is a multishot recv ending after half a buffer of
 * data, so a paused connection still holds at most one buffer that was
 * already on its way; elsewhere it is a one-shot recv. data_received()
 * reads straight from the ring buffer, which goes back to the ring when the
 * callback returns. When a receive (or a multishot accept) ends, the
 * backend reports it and the core decides whether to start another. Sends
 * come from the transport's queue, one in flight per socket.
 *
 * user_data = slot (32 bits) | generation (24) | op (8): a completion for a
 * handle that has been released (its slot's generation moved on) is
 * dropped, never delivered to whatever reuses the fd. A handle is released
 * only after its last operation completed (inflight == 0).
 *
 * No operation is ever dropped: one that finds the SQ full (and a submit
 * that cannot make room) is remembered on its handle (sq_wait bits) and
 * issued at the start of the next wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "udp_int.h"

#define SYS "coil.uring"
#define BGID 0
#define MAX_IOV 64
#define CQE_BATCH 64
#define MAX_RING_ENTRIES 32768u /* IORING_MAX_ENTRIES */
#define MAX_CQ_ENTRIES 65536u   /* IORING_MAX_CQ_ENTRIES */

enum op {
    OP_RECV = 1,
    OP_SEND,
    OP_SEND_ZC,
    OP_ACCEPT,
    OP_CONNECT,
    OP_LINK_TIMEOUT,
    OP_CANCEL,
    OP_POLL,
    OP_RECVMSG, /* datagram ports */
    OP_SPLICE_IN,  /* file -> the transport's pipe */
    OP_SPLICE_OUT, /* the pipe -> the socket */
};

/* Operations waiting for room in the SQ (a handle's sq_wait bits). */
enum {
    W_RECV = 1u << 0,
    W_CANCEL_RECV = 1u << 1,
    W_SEND = 1u << 2,
    W_CONNECT = 1u << 3,
    W_CANCEL_ALL = 1u << 4,
    W_ACCEPT = 1u << 5,
    W_CANCEL_ACCEPT = 1u << 6,
    W_POLL = 1u << 7,
};
/* Datagram ports never have a poll watch: the same bit asks to arm their
 * multishot recvmsg. */
#define W_RECVMSG W_POLL

typedef struct uring_state {
    struct io_uring ring;
    struct io_uring_buf_ring *br;
    size_t br_bytes;
    char *bufs;
    unsigned nbufs, bufsz;
    int mask;
    size_t zc_threshold;
    bool overflow_logged;
    /* Datagram ports: their own buffer group, made with the first one. */
    struct io_uring_buf_ring *dbr;
    char *dbufs;
    int dmask;
    bool in_overflow; /* the kernel's overflow flag was seen set, not yet clear */
    /* Handles with sq_wait bits, by completion tag (a handle may be
     * released meanwhile: its tag then no longer matches). */
    uint64_t *waiting;
    size_t nwaiting, waiting_cap;
    bool have_splice;
    /* Bytes a multishot recv may take before it ends (0: one-shot recvs). */
    unsigned mshot_cap;
    uint64_t mshot_arms, oneshot_arms; /* receives armed, for the tests */
} uring_state;

/* File segments (coil_transport_write_file) go file -> pipe -> socket with
 * two linked IORING_OP_SPLICE requests, so the bytes never enter user
 * space. The pipe is the transport's, made on its first file segment. If
 * the socket takes fewer bytes than the pipe holds, the rest stays there and
 * the next send drains the pipe first. Where splice does not work for a
 * file, pieces are read into `buf` and sent. */
#define FILE_BUF 65536
typedef struct file_ctx {
    int rd, wr;       /* the pipe */
    size_t cap;       /* pipe capacity: bytes per splice pair */
    size_t in_pipe;   /* spliced in, not yet out */
    int in_err;       /* the failed SPLICE_IN's result, if any */
    bool busy;        /* a splice is in flight */
    bool no_splice;   /* splice refused this file: read and send instead */
    char *buf;
} file_ctx;

typedef struct connect_ctx {
    coil_address addr;
    int64_t timeout_ns;
    bool standin; /* a no-op was submitted in its place (see issue_connect) */
    struct __kernel_timespec ts;
} connect_ctx;

/* Test hook (tests/test_uring_pressure.c): when > 0, every n-th SQE
 * request fails as if the SQ were full and could not be flushed. */
unsigned coil__uring_sqe_fault_every;
static unsigned sqe_fault_count;
/* Test hook: the next wait behaves as if the kernel returned -EBADR. */
bool coil__uring_fake_ebadr;
/* Test hooks (internal.h): one-shot receives only; a multishot cap. */
bool coil__uring_no_mshot_recv;
unsigned coil__uring_recv_arm_cap;

static uring_state *state(coil_reactor *r)
{
    return r->be_data;
}

static uint64_t tag(const coil__handle *h, enum op op)
{
    return ((uint64_t)h->slot << 32) | ((uint64_t)(h->gen & 0xffffff) << 8) | op;
}

static void check_overflow(coil_reactor *r, uring_state *s);

static struct io_uring_sqe *get_sqe(coil_reactor *r)
{
    uring_state *s = state(r);
    if (coil__uring_sqe_fault_every && ++sqe_fault_count % coil__uring_sqe_fault_every == 0)
        return NULL;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
    if (!sqe) {
        /* SQ full: hand what we have to the kernel and take a fresh slot. */
        io_uring_submit(&s->ring);
        r->stats.submits++;
        check_overflow(r, s); /* completions posted by that submit may not fit */
        sqe = io_uring_get_sqe(&s->ring);
    }
    return sqe;
}

/* Every SQE counts as in flight for its handle until its final CQE. */
static struct io_uring_sqe *op_sqe(coil__handle *h, enum op op)
{
    struct io_uring_sqe *sqe = get_sqe(h->r);
    if (!sqe)
        return NULL;
    io_uring_sqe_set_data64(sqe, tag(h, op));
    h->inflight++;
    h->r->stats.sqes++;
    return sqe;
}

static uint8_t *sq_wait_of(coil__handle *h)
{
    switch (h->type) {
    case COIL__H_TRANSPORT:
        return &((coil_transport *)h)->be.uring.sq_wait;
    case COIL__H_PORT:
        return &((coil_port *)h)->be.uring.sq_wait;
    default:
        return &((coil__watch *)h)->be.uring.sq_wait;
    }
}

/* Remember that `h` needs operation `w` once the SQ has room. */
static void defer_op(coil__handle *h, unsigned w)
{
    uring_state *s = state(h->r);
    uint8_t *bits = sq_wait_of(h);
    h->r->stats.sq_waits++;
    if (*bits == 0) {
        if (s->nwaiting == s->waiting_cap) {
            size_t cap = s->waiting_cap ? s->waiting_cap * 2 : 64;
            uint64_t *v = realloc(s->waiting, cap * sizeof(*v));
            if (!v) {
                /* Cannot even remember it: this is the one place where an
                 * operation could be lost, so say so loudly. */
                coil_log(COIL_LOG_CRITICAL, SYS, "out of memory queueing an operation");
                return;
            }
            s->waiting = v;
            s->waiting_cap = cap;
        }
        s->waiting[s->nwaiting++] = tag(h, 0);
    }
    *bits |= (uint8_t)w;
}

/* ---- provided buffers ---------------------------------------------------- */

/* A completion carried ring buffer: it is out of the ring until recycled. */
static void lend(coil_reactor *r)
{
    if (++r->stats.recv_buffers_in_use > r->stats.recv_buffers_peak)
        r->stats.recv_buffers_peak = r->stats.recv_buffers_in_use;
}

/* Put buffer `bid` back in the ring for the kernel to fill again. */
static void give_back(uring_state *s, unsigned bid)
{
    io_uring_buf_ring_add(s->br, s->bufs + (size_t)bid * s->bufsz, s->bufsz, (unsigned short)bid,
                          s->mask, 0);
    io_uring_buf_ring_advance(s->br, 1);
}

static void recycle(coil_reactor *r, uring_state *s, unsigned bid)
{
    give_back(s, bid);
    r->stats.recv_buffers_in_use--;
}

/* liburing 2.3 has no io_uring_setup_buf_ring(): map and register by hand. */
static int setup_buf_ring(uring_state *s, unsigned nbufs, unsigned bufsz)
{
    if (nbufs == 0 || nbufs > 32768 || (nbufs & (nbufs - 1)))
        return -EINVAL;
    s->nbufs = nbufs;
    s->bufsz = bufsz;
    s->br_bytes = nbufs * sizeof(struct io_uring_buf);
    void *ring = mmap(NULL, s->br_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1,
                      0);
    if (ring == MAP_FAILED)
        return -errno;
    s->br = ring;
    s->bufs = mmap(NULL, (size_t)nbufs * bufsz, PROT_READ | PROT_WRITE,
                   MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (s->bufs == MAP_FAILED) {
        s->bufs = NULL;
        return -errno;
    }
    struct io_uring_buf_reg reg = {.ring_addr = (uintptr_t)ring, .ring_entries = nbufs,
                                   .bgid = BGID};
    int rc = io_uring_register_buf_ring(&s->ring, &reg, 0);
    if (rc < 0)
        return rc;
    io_uring_buf_ring_init(s->br);
    s->mask = io_uring_buf_ring_mask(nbufs);
    for (unsigned i = 0; i < nbufs; i++)
        io_uring_buf_ring_add(s->br, s->bufs + (size_t)i * bufsz, bufsz, (unsigned short)i,
                              s->mask, (int)i);
    io_uring_buf_ring_advance(s->br, (int)nbufs);
    return 0;
}

/* ---- capped multishot receive ---------------------------------------------- */

/* A multishot recv that ends (a completion without IORING_CQE_F_MORE) once
 * it has received `cap` bytes in all; each completion carries at most
 * `cap`, so one such receive takes at most 2 * cap - 1 bytes. The total is
 * the kernel's `optlen` for recv (Linux 6.17), the 32-bit SQE field at byte
 * offset 44, which liburing 2.3's struct knows only as `file_index`. Older
 * kernels refuse a non-zero value there with -EINVAL. */
_Static_assert(offsetof(struct io_uring_sqe, file_index) == 44, "recv optlen is at offset 44");

static void prep_capped_recv(struct io_uring_sqe *sqe, int fd, unsigned cap)
{
    io_uring_prep_recv_multishot(sqe, fd, NULL, cap, 0);
    sqe->file_index = cap; /* optlen: end after this many bytes */
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
}

/* The probe's user_data: no handle's tag (slot 0xffffffff), and not
 * liburing's own timeout tag (UINT64_MAX) either. */
#define PROBE_TAG (UINT64_MAX - 1)
#define PROBE_CAP 64u

/* The probe's next completion (up to a second); its buffer goes straight
 * back to the ring. 0 or -ETIME. */
static int probe_cqe(uring_state *s, int *res, unsigned *flags)
{
    for (;;) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {.tv_sec = 1};
        int rc = io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts);
        if (rc < 0)
            return rc;
        uint64_t data = cqe->user_data;
        *res = cqe->res;
        *flags = cqe->flags;
        io_uring_cqe_seen(&s->ring, cqe);
        if (*flags & IORING_CQE_F_BUFFER)
            give_back(s, *flags >> IORING_CQE_BUFFER_SHIFT);
        if (data == PROBE_TAG)
            return 0;
    }
}

static bool probe_send(int fd, size_t n)
{
    static const char bytes[PROBE_CAP];
    return send(fd, bytes, n, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)n;
}

/* Does this kernel cap a multishot recv? On a socketpair, with a cap of
 * PROBE_CAP: 1 byte must come with F_MORE (the receive goes on), then
 * PROBE_CAP more bytes as one completion of PROBE_CAP bytes without F_MORE
 * (the cap ended it). Anything else (-EINVAL from a kernel without the cap,
 * a receive that goes on) means one-shot receives. Either way the probe's
 * receive has ended when this returns: none of its completions reaches the
 * loop. */
static bool probe_capped_recv(uring_state *s)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return false;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring); /* the ring is empty */
    bool ok = false;
    if (sqe) {
        prep_capped_recv(sqe, sv[0], PROBE_CAP);
        io_uring_sqe_set_data64(sqe, PROBE_TAG);
        int res = 0;
        unsigned flags = 0;
        bool more = io_uring_submit(&s->ring) == 1 && probe_send(sv[1], 1) &&
                    probe_cqe(s, &res, &flags) == 0 && (flags & IORING_CQE_F_MORE);
        if (more && res == 1 && probe_send(sv[1], PROBE_CAP) && probe_cqe(s, &res, &flags) == 0) {
            more = flags & IORING_CQE_F_MORE;
            ok = !more && res == (int)PROBE_CAP;
        }
        close(sv[1]); /* EOF ends a receive that goes on */
        while (more && probe_cqe(s, &res, &flags) == 0)
            more = flags & IORING_CQE_F_MORE;
    } else {
        close(sv[1]);
    }
    close(sv[0]);
    return ok;
}

/* ---- lifecycle ----------------------------------------------------------- */

static int init_ring(uring_state *s, unsigned entries)
{
    static const unsigned flag_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL,
        0,
    };
    /* Sizes are checked by coil_reactor_new(), so an -EINVAL below means
     * the kernel does not know a flag, and the next set is tried. */
    unsigned cq = entries * 32 < MAX_CQ_ENTRIES ? entries * 32 : MAX_CQ_ENTRIES;
    int rc = -ENOSYS;
    for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
        struct io_uring_params p = {.flags = flag_sets[i] | IORING_SETUP_CQSIZE,
                                    .cq_entries = cq};
        rc = io_uring_queue_init_params(entries, &s->ring, &p);
        if (rc == 0) {
            coil_log(COIL_LOG_DEBUG, SYS, "ring flags 0x%x features 0x%x", p.flags, p.features);
            return 0;
        }
        if (rc != -EINVAL)
            return rc; /* EPERM/ENOSYS (seccomp, io_uring_disabled) or ENOMEM */
    }
    return rc;
}

/* Buffer rings (5.19) and SEND_ZC (6.0) are required: SEND_ZC stands for
 * a 6.0 kernel, whose net operations wait on O_NONBLOCK sockets too. */
static int probe(uring_state *s)
{
    struct io_uring_probe *pr = io_uring_get_probe_ring(&s->ring);
    if (!pr)
        return -ENOSYS;
    s->have_splice = io_uring_opcode_supported(pr, IORING_OP_SPLICE);
    int ok = io_uring_opcode_supported(pr, IORING_OP_SEND_ZC) &&
             io_uring_opcode_supported(pr, IORING_OP_ACCEPT) &&
             io_uring_opcode_supported(pr, IORING_OP_CONNECT) &&
             io_uring_opcode_supported(pr, IORING_OP_ASYNC_CANCEL);
    io_uring_free_probe(pr);
    return ok ? 0 : COIL_ENOURING;
}

static void free_dgram_ring(uring_state *s);

static void free_state(uring_state *s, bool ring_up)
{
    if (ring_up)
        io_uring_queue_exit(&s->ring);
    if (s->br)
        munmap(s->br, s->br_bytes);
    if (s->bufs)
        munmap(s->bufs, (size_t)s->nbufs * s->bufsz);
    free_dgram_ring(s);
    free(s->waiting);
    free(s);
}

static int uring_init(coil_reactor *r, const coil_reactor_options *o)
{
    uring_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    int rc = init_ring(s, o->ring_entries);
    if (rc < 0) {
        free_state(s, false);
        return rc;
    }
    rc = probe(s);
    if (rc == 0)
        rc = setup_buf_ring(s, o->recv_buffers, o->recv_buffer_size);
    if (rc < 0) {
        free_state(s, true);
        return rc;
    }
    /* Half a buffer: a multishot recv then takes less than one buffer in
     * all, the most a paused connection may hold (see arm_recv). */
    unsigned cap = coil__uring_recv_arm_cap ? coil__uring_recv_arm_cap : s->bufsz / 2;
    if (cap > s->bufsz / 2)
        cap = s->bufsz / 2;
    if (!coil__uring_no_mshot_recv && cap > 0 && probe_capped_recv(s))
        s->mshot_cap = cap;
    coil_log(COIL_LOG_DEBUG, SYS, "receives: %s (cap %u B)",
             s->mshot_cap ? "capped multishot" : "one-shot", s->mshot_cap);
    io_uring_register_ring_fd(&s->ring); /* optional: saves an fd lookup per enter */
    s->zc_threshold = o->send_zc_threshold;
    r->be_data = s;
    r->stats.recv_buffers = s->nbufs;
    return 0;
}

static void uring_fini(coil_reactor *r)
{
    free_state(state(r), true);
    r->be_data = NULL;
}

/* ---- closing ------------------------------------------------------------- */

static void free_file_ctx(coil_transport *t)
{
    file_ctx *f = t->be.uring.file_ctx;
    if (!f)
        return;
    if (f->rd >= 0) {
        close(f->rd);
        close(f->wr);
    }
    free(f->buf);
    free(f);
    t->be.uring.file_ctx = NULL;
}

static void free_transport_extras(coil_transport *t)
{
    free_file_ctx(t);
    free(t->be.uring.iov);
    free(t->be.uring.msg);
    free(t->be.uring.connect_ctx);
    t->be.uring.iov = NULL;
    t->be.uring.msg = NULL;
    t->be.uring.connect_ctx = NULL;
}

/* Called after every completion: a closing handle is finished once nothing
 * of it is in flight any more (close() alone would not cancel requests). */
static void maybe_finish_close(coil__handle *h)
{
    if (!h->closing || h->inflight > 0 || h->in_endgame)
        return;
    if (h->type == COIL__H_TRANSPORT) {
        coil_transport *t = (coil_transport *)h;
        free_transport_extras(t);
        close(t->fd);
    } else if (h->type == COIL__H_PORT) {
        close(((coil_port *)h)->fd);
    } else if (h->type == COIL__H_DGRAM) {
        close(((coil_datagram_port *)h)->w.fd);
    } else {
        return; /* watches are torn down at fini */
    }
    *sq_wait_of(h) = 0; /* nothing left to issue; its tag goes stale */
    coil__handle_closed(h);
}

static void cancel_all(coil__handle *h, int fd)
{
    struct io_uring_sqe *sqe = op_sqe(h, OP_CANCEL);
    if (!sqe) {
        defer_op(h, W_CANCEL_ALL);
        return;
    }
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
}

static void uring_close(coil_transport *t, bool abort)
{
    if (abort)
        coil__sock_set_abortive(t->fd);
    t->be.uring.sq_wait &= W_CANCEL_ALL; /* nothing new starts on a closing handle */
    file_ctx *f = t->be.uring.file_ctx;
    /* A splice into the socket runs in a kernel worker and blocks while the
     * peer does not read; a cancel by fd may miss it while it still waits
     * for its linked first half. Shutting the socket down ends it. */
    if (f && f->busy)
        shutdown(t->fd, SHUT_RDWR);
    if (t->h.inflight > 0)
        cancel_all(&t->h, t->fd);
    maybe_finish_close(&t->h);
}

static void uring_port_close(coil_port *p)
{
    p->be.uring.sq_wait &= W_CANCEL_ALL;
    if (p->h.inflight > 0)
        cancel_all(&p->h, p->fd);
    maybe_finish_close(&p->h);
}

/* ---- receiving ----------------------------------------------------------- */

/* One receive in flight per connection. Capped multishot where the kernel
 * has it: one SQE serves many small messages, and since it ends by itself
 * after less than a buffer of data, what arrives between a pause and its
 * cancel is less than one buffer too. One-shot (a whole buffer) elsewhere,
 * and after a receive that filled its cap: a bulk stream does not pay for
 * the cap, and stays one-shot while its receives keep filling a cap. */
static void arm_recv(coil_transport *t)
{
    uring_state *s = state(t->h.r);
    struct io_uring_sqe *sqe = op_sqe(&t->h, OP_RECV);
    if (!sqe) {
        defer_op(&t->h, W_RECV);
        return;
    }
    if (s->mshot_cap && !t->be.uring.recv_bulk) {
        prep_capped_recv(sqe, t->fd, s->mshot_cap);
        s->mshot_arms++;
    } else {
        io_uring_prep_recv(sqe, t->fd, NULL, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = BGID;
        s->oneshot_arms++;
    }
    t->be.uring.recv_armed = true;
}

unsigned coil__uring_recv_cap(const coil_reactor *r)
{
    return r->be == &coil__uring_backend ? ((uring_state *)r->be_data)->mshot_cap : 0;
}

void coil__uring_recv_arms(const coil_reactor *r, uint64_t *mshot, uint64_t *oneshot)
{
    bool uring = r->be == &coil__uring_backend;
    *mshot = uring ? ((uring_state *)r->be_data)->mshot_arms : 0;
    *oneshot = uring ? ((uring_state *)r->be_data)->oneshot_arms : 0;
}

static void cancel_recv(coil_transport *t)
{
    struct io_uring_sqe *sqe = op_sqe(&t->h, OP_CANCEL);
    if (!sqe) {
        defer_op(&t->h, W_CANCEL_RECV);
        return;
    }
    io_uring_prep_cancel64(sqe, tag(&t->h, OP_RECV), 0);
    t->be.uring.recv_cancel = true;
}

static void uring_read_start(coil_transport *t)
{
    t->be.uring.sq_wait &= (uint8_t)~W_CANCEL_RECV;
    /* A receive still in flight (even one being cancelled) reports its
     * end, and the core starts the next one then. */
    if (!t->be.uring.recv_armed && !t->h.closing)
        arm_recv(t);
}

static void uring_read_stop(coil_transport *t)
{
    t->be.uring.sq_wait &= (uint8_t)~W_RECV;
    if (t->be.uring.recv_armed && !t->be.uring.recv_cancel)
        cancel_recv(t);
}

static void on_recv(coil_reactor *r, coil_transport *t, int res, unsigned flags)
{
    uring_state *s = state(r);
    /* A multishot receive goes on after a completion with F_MORE: it stays
     * armed (a pause from data_received cancels it) and nothing ended. */
    bool more = flags & IORING_CQE_F_MORE;
    if (!more) {
        t->be.uring.recv_armed = false;
        t->be.uring.recv_cancel = false;
        if (res > 0)
            t->be.uring.recv_bulk = (unsigned)res >= s->mshot_cap;
    }
    if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
        unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
        coil__transport_on_read(t, s->bufs + (size_t)bid * s->bufsz, res);
        recycle(r, s, bid); /* after the callback: the protocol read it in place */
    } else if (flags & IORING_CQE_F_BUFFER) {
        recycle(r, s, flags >> IORING_CQE_BUFFER_SHIFT); /* no data in it: back at once */
    }
    if (res == 0) {
        coil__transport_on_read(t, NULL, 0);
        return;
    }
    if (res == -ENOBUFS) {
        /* The ring ran dry; the data waits in the socket. Buffers come back
         * as this batch is processed, so starting again is enough. */
        r->stats.enobufs++;
    } else if (res < 0 && res != -ECANCELED && res != -EINTR && res != -EAGAIN) {
        coil__transport_on_read(t, NULL, res);
        return;
    }
    if (!more)
        coil__transport_read_ended(t, res < 0 ? res : 0);
}

/* ---- sending ------------------------------------------------------------- */

static file_ctx *get_file_ctx(coil_transport *t)
{
    file_ctx *f = t->be.uring.file_ctx;
    if (f)
        return f;
    f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    int p[2];
    f->rd = f->wr = -1;
    if (!state(t->h.r)->have_splice || pipe2(p, O_CLOEXEC) < 0) {
        f->no_splice = true;
    } else {
        f->rd = p[0];
        f->wr = p[1];
        int cap = fcntl(f->wr, F_GETPIPE_SZ);
        f->cap = cap > 0 ? (size_t)cap : 65536;
    }
    t->be.uring.file_ctx = f;
    return f;
}

/* Send from the file segment at the head of the queue. */
static void send_file(coil_transport *t, int fd, int64_t off, size_t len)
{
    uring_state *s = state(t->h.r);
    file_ctx *f = get_file_ctx(t);
    if (!f) {
        coil__transport_on_sent(t, -ENOMEM);
        return;
    }
    if (f->no_splice) {
        if (!f->buf && !(f->buf = malloc(FILE_BUF))) {
            coil__transport_on_sent(t, -ENOMEM);
            return;
        }
        ssize_t got = pread(fd, f->buf, len < FILE_BUF ? len : FILE_BUF, (off_t)off);
        if (got <= 0) {
            coil__transport_on_sent(t, got == 0 ? -EIO : -errno);
            return;
        }
        struct io_uring_sqe *sqe = op_sqe(&t->h, OP_SEND);
        if (!sqe) { /* the SQ is full: the send is issued again later */
            defer_op(&t->h, W_SEND);
            return;
        }
        io_uring_prep_send(sqe, t->fd, f->buf, (size_t)got, MSG_NOSIGNAL);
        return;
    }
    f->busy = true;
    if (f->in_pipe > 0) { /* what the socket did not take last time */
        struct io_uring_sqe *sqe = op_sqe(&t->h, OP_SPLICE_OUT);
        if (!sqe) {
            f->busy = false;
            defer_op(&t->h, W_SEND);
            return;
        }
        io_uring_prep_splice(sqe, f->rd, -1, t->fd, -1, (unsigned)f->in_pipe, 0);
        return;
    }
    size_t n = len < f->cap ? len : f->cap;
    f->in_err = 0;
    if (io_uring_sq_space_left(&s->ring) < 2) { /* keep the link in one submit */
        io_uring_submit(&s->ring);
        t->h.r->stats.submits++;
    }
    struct io_uring_sqe *in = op_sqe(&t->h, OP_SPLICE_IN);
    if (!in) {
        f->busy = false;
        defer_op(&t->h, W_SEND);
        return;
    }
    io_uring_prep_splice(in, fd, off, f->wr, -1, (unsigned)n, 0);
    in->flags |= IOSQE_IO_LINK;
    struct io_uring_sqe *out = op_sqe(&t->h, OP_SPLICE_OUT);
    io_uring_prep_splice(out, f->rd, -1, t->fd, -1, (unsigned)n, 0);
}

static void on_splice_in(coil_transport *t, int res)
{
    file_ctx *f = t->be.uring.file_ctx;
    if (res > 0)
        f->in_pipe += (size_t)res;
    else
        f->in_err = res == 0 ? -EIO : res; /* 0: the file ended early */
}

static void on_splice_out(coil_transport *t, int res)
{
    file_ctx *f = t->be.uring.file_ctx;
    f->busy = false;
    if (res > 0) {
        f->in_pipe -= (size_t)res;
        coil__transport_on_sent(t, res);
        return;
    }
    if (res == -ECANCELED && !t->h.closing) {
        /* The first half was short or failed, which broke the link. */
        int fd;
        int64_t off;
        size_t len;
        if (f->in_err == -EINVAL || f->in_err == -EOPNOTSUPP)
            f->no_splice = true; /* this file cannot be spliced: read it */
        else if (f->in_pipe == 0) {
            coil__transport_on_sent(t, f->in_err ? f->in_err : -EIO);
            return;
        }
        if (coil__outq_head_file(&t->outq, &fd, &off, &len)) {
            send_file(t, fd, off, len);
            return;
        }
    }
    coil__transport_on_sent(t, res == 0 ? -EPIPE : res);
}

static void uring_send(coil_transport *t)
{
    uring_state *s = state(t->h.r);
    int ffd;
    int64_t foff;
    size_t flen;
    if (coil__outq_head_file(&t->outq, &ffd, &foff, &flen)) {
        send_file(t, ffd, foff, flen);
        return;
    }
    struct iovec one;
    size_t total;
    int n = coil__outq_peek(&t->outq, &one, 1, &total);
    if (n == 1 && one.iov_len == t->outq.bytes) {
        bool zc = s->zc_threshold && total >= s->zc_threshold;
        struct io_uring_sqe *sqe = op_sqe(&t->h, zc ? OP_SEND_ZC : OP_SEND);
        if (!sqe) {
            defer_op(&t->h, W_SEND);
            return;
        }
        if (zc)
            io_uring_prep_send_zc(sqe, t->fd, one.iov_base, one.iov_len, MSG_NOSIGNAL, 0);
        else
            io_uring_prep_send(sqe, t->fd, one.iov_base, one.iov_len, MSG_NOSIGNAL);
        return;
    }
    /* Several chunks: gather them with sendmsg. The iovec array must stay
     * put until the completion, so it lives with the transport. */
    if (!t->be.uring.iov) {
        t->be.uring.iov = malloc(MAX_IOV * sizeof(struct iovec));
        t->be.uring.msg = calloc(1, sizeof(struct msghdr));
        if (!t->be.uring.iov || !t->be.uring.msg) {
            coil__transport_on_sent(t, -ENOMEM);
            return;
        }
    }
    struct io_uring_sqe *sqe = op_sqe(&t->h, OP_SEND);
    if (!sqe) {
        defer_op(&t->h, W_SEND);
        return;
    }
    struct msghdr *msg = t->be.uring.msg;
    msg->msg_iov = t->be.uring.iov;
    msg->msg_iovlen = (size_t)coil__outq_peek(&t->outq, t->be.uring.iov, MAX_IOV, &total);
    io_uring_prep_sendmsg(sqe, t->fd, msg, MSG_NOSIGNAL);
}

static void on_send_zc(coil_transport *t, int res, unsigned flags)
{
    /* Two CQEs: the result (F_MORE), then the notification that the kernel
     * no longer reads the buffer. The queue is only advanced after the
     * latter, so the chunk stays alive. */
    if (flags & IORING_CQE_F_NOTIF) {
        t->h.r->stats.send_zc++;
        coil__transport_on_sent(t, t->be.uring.zc_result);
        return;
    }
    if (flags & IORING_CQE_F_MORE)
        t->be.uring.zc_result = res;
    else
        coil__transport_on_sent(t, res);
}

/* ---- accepting ----------------------------------------------------------- */

static void arm_accept(coil_port *p)
{
    struct io_uring_sqe *sqe = op_sqe(&p->h, OP_ACCEPT);
    if (!sqe) {
        defer_op(&p->h, W_ACCEPT);
        return;
    }
    io_uring_prep_multishot_accept(sqe, p->fd, NULL, NULL, SOCK_CLOEXEC);
    p->be.uring.armed = true;
}

static void cancel_accept(coil_port *p)
{
    struct io_uring_sqe *sqe = op_sqe(&p->h, OP_CANCEL);
    if (!sqe) {
        defer_op(&p->h, W_CANCEL_ACCEPT);
        return;
    }
    io_uring_prep_cancel64(sqe, tag(&p->h, OP_ACCEPT), 0);
    p->be.uring.cancel = true;
}

/* The descriptor's flags are left alone (it may be shared with the process
 * that passed it): a 6.0 kernel's accept waits on an O_NONBLOCK socket. */
static int uring_port_start(coil_port *p)
{
    p->be.uring.sq_wait &= (uint8_t)~W_CANCEL_ACCEPT;
    if (!p->be.uring.armed && !p->h.closing)
        arm_accept(p);
    return 0;
}

static void uring_port_pause(coil_port *p)
{
    p->be.uring.sq_wait &= (uint8_t)~W_ACCEPT;
    if (p->be.uring.armed && !p->be.uring.cancel)
        cancel_accept(p);
}

static void on_accept(coil_port *p, int res, unsigned flags)
{
    bool more = flags & IORING_CQE_F_MORE;
    if (!more) {
        p->be.uring.armed = false;
        p->be.uring.cancel = false;
    }
    /* A connection accepted as the cancel took effect is still delivered. */
    if (res != -ECANCELED)
        coil__port_on_accept(p, res);
    if (!more)
        coil__port_accept_ended(p, res < 0 ? res : 0);
}

/* ---- connecting ---------------------------------------------------------- */

static bool issue_connect(coil_transport *t)
{
    uring_state *s = state(t->h.r);
    connect_ctx *c = t->be.uring.connect_ctx;
    bool linked = c->timeout_ns >= 0;
    /* A link must not be split by an SQ-full submit between its SQEs. */
    if (io_uring_sq_space_left(&s->ring) < (linked ? 2u : 1u)) {
        io_uring_submit(&s->ring);
        t->h.r->stats.submits++;
        if (io_uring_sq_space_left(&s->ring) < (linked ? 2u : 1u))
            return false;
    }
    struct io_uring_sqe *sqe = op_sqe(&t->h, OP_CONNECT);
    if (!sqe)
        return false;
    io_uring_prep_connect(sqe, t->fd, &c->addr.u.sa, c->addr.len);
    if (linked) {
        /* Room for both was checked; only the fault hook fails here. */
        struct io_uring_sqe *to = get_sqe(t->h.r);
        if (!to) {
            /* Turn the connect into a no-op that completes at once; its
             * completion issues the connect again (on_connect). */
            io_uring_prep_nop(sqe);
            c->standin = true;
            return true;
        }
        sqe->flags |= IOSQE_IO_LINK;
        c->ts.tv_sec = c->timeout_ns / 1000000000;
        c->ts.tv_nsec = c->timeout_ns % 1000000000;
        io_uring_sqe_set_data64(to, tag(&t->h, OP_LINK_TIMEOUT));
        t->h.inflight++;
        t->h.r->stats.sqes++;
        io_uring_prep_link_timeout(to, &c->ts, 0);
    }
    return true;
}

static int uring_connect(coil_transport *t, const coil_address *addr, int64_t timeout_ns)
{
    connect_ctx *c = malloc(sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->addr = *addr;
    c->timeout_ns = timeout_ns;
    c->standin = false;
    t->be.uring.connect_ctx = c;
    if (!issue_connect(t))
        defer_op(&t->h, W_CONNECT);
    return 0;
}

static void on_connect(coil_transport *t, int res)
{
    connect_ctx *c = t->be.uring.connect_ctx;
    if (c && c->standin) {
        /* The no-op stand-in: issue the real connect now. */
        c->standin = false;
        if (t->h.closing)
            return; /* cancelled meanwhile: the endgame reports it */
        if (!issue_connect(t))
            defer_op(&t->h, W_CONNECT);
        return;
    }
    /* -ECANCELED without a close request means the linked timeout fired. */
    if (res == -ECANCELED && !t->h.closing)
        res = -ETIMEDOUT;
    coil__transport_on_connected(t, res);
}

/* ---- watches ------------------------------------------------------------- */

static int uring_watch_start(coil__watch *w)
{
    struct io_uring_sqe *sqe = op_sqe(&w->h, OP_POLL);
    if (!sqe) {
        defer_op(&w->h, W_POLL);
        return 0;
    }
    io_uring_prep_poll_multishot(sqe, w->fd, POLLIN);
    return 0;
}

static void uring_watch_close(coil__watch *w)
{
    (void)w; /* the ring's teardown cancels the poll */
}

/* ---- datagrams ----------------------------------------------------------- */

/* Datagram ports receive with multishot recvmsg into a buffer group of
 * their own: each buffer holds the io_uring_recvmsg_out header, the
 * sender's address and a whole datagram of up to COIL_DATAGRAM_MAX bytes
 * (the stream group's 16 KiB buffers would truncate). Made with the first
 * datagram port, so programs without UDP never pay for it. */
#define DGRAM_BGID 1
#define DGRAM_NBUFS 64u
#define DGRAM_BUFSZ (COIL_DATAGRAM_MAX + 1 + 256u)

static size_t dgram_ring_bytes(void)
{
    return DGRAM_NBUFS * sizeof(struct io_uring_buf);
}

static void free_dgram_ring(uring_state *s)
{
    if (s->dbr)
        munmap(s->dbr, dgram_ring_bytes());
    if (s->dbufs)
        munmap(s->dbufs, (size_t)DGRAM_NBUFS * DGRAM_BUFSZ);
    s->dbr = NULL;
    s->dbufs = NULL;
}

static void dgram_recycle(uring_state *s, unsigned bid)
{
    io_uring_buf_ring_add(s->dbr, s->dbufs + (size_t)bid * DGRAM_BUFSZ, DGRAM_BUFSZ,
                          (unsigned short)bid, s->dmask, 0);
    io_uring_buf_ring_advance(s->dbr, 1);
}

static int dgram_ring(uring_state *s)
{
    if (s->dbr)
        return 0;
    void *ring = mmap(NULL, dgram_ring_bytes(), PROT_READ | PROT_WRITE,
                      MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring == MAP_FAILED)
        return -errno;
    char *bufs = mmap(NULL, (size_t)DGRAM_NBUFS * DGRAM_BUFSZ, PROT_READ | PROT_WRITE,
                      MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (bufs == MAP_FAILED) {
        int rc = -errno;
        munmap(ring, dgram_ring_bytes());
        return rc;
    }
    struct io_uring_buf_reg reg = {.ring_addr = (uintptr_t)ring, .ring_entries = DGRAM_NBUFS,
                                   .bgid = DGRAM_BGID};
    int rc = io_uring_register_buf_ring(&s->ring, &reg, 0);
    if (rc < 0) {
        munmap(ring, dgram_ring_bytes());
        munmap(bufs, (size_t)DGRAM_NBUFS * DGRAM_BUFSZ);
        return rc;
    }
    s->dbr = ring;
    s->dbufs = bufs;
    io_uring_buf_ring_init(s->dbr);
    s->dmask = io_uring_buf_ring_mask(DGRAM_NBUFS);
    for (unsigned i = 0; i < DGRAM_NBUFS; i++)
        io_uring_buf_ring_add(s->dbr, s->dbufs + (size_t)i * DGRAM_BUFSZ, DGRAM_BUFSZ,
                              (unsigned short)i, s->dmask, (int)i);
    io_uring_buf_ring_advance(s->dbr, (int)DGRAM_NBUFS);
    return 0;
}

static void arm_recvmsg(coil_datagram_port *u)
{
    struct io_uring_sqe *sqe = op_sqe(&u->w.h, OP_RECVMSG);
    if (!sqe) {
        defer_op(&u->w.h, W_RECVMSG); /* armed once the SQ has room */
        return;
    }
    io_uring_prep_recvmsg_multishot(sqe, u->w.fd, &u->msg, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = DGRAM_BGID;
    u->recv_active = true;
}

static int uring_dgram_start(coil_datagram_port *u)
{
    int rc = dgram_ring(state(u->w.h.r));
    if (rc < 0)
        return rc;
    /* The kernel fills in the name (up to this much) and no control data. */
    u->msg.msg_namelen = sizeof(struct sockaddr_storage);
    u->msg.msg_controllen = 0;
    arm_recvmsg(u);
    return 0;
}

static void uring_dgram_close(coil_datagram_port *u)
{
    if (u->w.h.inflight > 0)
        cancel_all(&u->w.h, u->w.fd);
    maybe_finish_close(&u->w.h);
}

static void on_recvmsg(coil_reactor *r, coil_datagram_port *u, int res, unsigned flags)
{
    uring_state *s = state(r);
    bool more = flags & IORING_CQE_F_MORE;
    if (!more)
        u->recv_active = false;
    if (flags & IORING_CQE_F_BUFFER) {
        unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
        void *buf = s->dbufs + (size_t)bid * DGRAM_BUFSZ;
        struct io_uring_recvmsg_out *out = res >= 0 ? io_uring_recvmsg_validate(buf, res, &u->msg)
                                                    : NULL;
        if (out) {
            socklen_t namelen = out->namelen < u->msg.msg_namelen ? out->namelen
                                                                   : u->msg.msg_namelen;
            coil__dgram_on_datagram(u, io_uring_recvmsg_payload(out, &u->msg),
                                    io_uring_recvmsg_payload_length(out, res, &u->msg),
                                    io_uring_recvmsg_name(out), namelen);
        }
        dgram_recycle(s, bid); /* after the callback: it read the buffer in place */
    } else if (res == -ENOBUFS) {
        r->stats.enobufs++; /* the datagrams wait in the socket; re-armed below */
    } else if (res < 0 && res != -ECANCELED) {
        coil__dgram_on_error(u, res); /* e.g. ICMP refused on a connected port */
    }
    if (!more && !u->recv_active && !u->w.h.closing)
        arm_recvmsg(u);
}

/* ---- operations that waited for room in the SQ ----------------------------- */

/* Issue what waited, in the order it was asked for. An operation that
 * still does not fit is remembered again (defer_op appends). */
static void issue_waiting(coil_reactor *r)
{
    uring_state *s = state(r);
    size_t n = s->nwaiting;
    if (n == 0)
        return;
    uint64_t *list = s->waiting;
    s->waiting = NULL;
    s->nwaiting = s->waiting_cap = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t slot = (uint32_t)(list[i] >> 32), gen = (uint32_t)(list[i] >> 8) & 0xffffff;
        if (slot >= r->nslots || !r->slots[slot].h || r->slots[slot].gen != gen)
            continue; /* released meanwhile */
        coil__handle *h = r->slots[slot].h;
        uint8_t bits = *sq_wait_of(h);
        *sq_wait_of(h) = 0;
        if (h->type == COIL__H_TRANSPORT) {
            coil_transport *t = (coil_transport *)h;
            if (bits & W_CANCEL_ALL)
                cancel_all(h, t->fd);
            if (h->closing)
                continue;
            if (bits & W_CONNECT)
                if (!issue_connect(t))
                    defer_op(h, W_CONNECT);
            if (bits & W_RECV)
                arm_recv(t);
            if (bits & W_CANCEL_RECV)
                cancel_recv(t);
            if (bits & W_SEND)
                uring_send(t);
        } else if (h->type == COIL__H_PORT) {
            coil_port *p = (coil_port *)h;
            if (bits & W_CANCEL_ALL)
                cancel_all(h, p->fd);
            if (h->closing)
                continue;
            if (bits & W_ACCEPT)
                arm_accept(p);
            if (bits & W_CANCEL_ACCEPT)
                cancel_accept(p);
        } else if (h->type == COIL__H_DGRAM) {
            coil_datagram_port *u = (coil_datagram_port *)h;
            if (bits & W_CANCEL_ALL)
                cancel_all(h, u->w.fd);
            if (!h->closing && (bits & W_RECVMSG))
                arm_recvmsg(u);
        } else if (bits & W_POLL) {
            uring_watch_start((coil__watch *)h);
        }
    }
    free(list);
}

/* ---- completions --------------------------------------------------------- */

typedef struct cqe_copy {
    uint64_t user_data;
    int32_t res;
    uint32_t flags;
} cqe_copy;

static void dispatch(coil_reactor *r, const cqe_copy *c)
{
    uint32_t slot = (uint32_t)(c->user_data >> 32);
    uint32_t gen = (uint32_t)(c->user_data >> 8) & 0xffffff;
    enum op op = (enum op)(c->user_data & 0xff);
    coil__handle *h = coil__handle_lookup(r, slot, gen);
    if (!h) {
        if (c->flags & IORING_CQE_F_BUFFER) /* never lose a ring buffer */
            recycle(r, state(r), c->flags >> IORING_CQE_BUFFER_SHIFT);
        return;
    }
    if (!(c->flags & IORING_CQE_F_MORE))
        h->inflight--;
    switch (op) {
    case OP_RECV:
        on_recv(r, (coil_transport *)h, c->res, c->flags);
        break;
    case OP_SEND:
        coil__transport_on_sent((coil_transport *)h, c->res);
        break;
    case OP_SEND_ZC:
        on_send_zc((coil_transport *)h, c->res, c->flags);
        break;
    case OP_ACCEPT:
        on_accept((coil_port *)h, c->res, c->flags);
        break;
    case OP_CONNECT:
        on_connect((coil_transport *)h, c->res);
        break;
    case OP_POLL: {
        coil__watch *w = (coil__watch *)h;
        if (c->res > 0)
            w->cb(w);
        if (!(c->flags & IORING_CQE_F_MORE) && !h->closing)
            uring_watch_start(w);
        break;
    }
    case OP_RECVMSG:
        on_recvmsg(r, (coil_datagram_port *)h, c->res, c->flags);
        break;
    case OP_SPLICE_IN:
        on_splice_in((coil_transport *)h, c->res);
        break;
    case OP_SPLICE_OUT:
        on_splice_out((coil_transport *)h, c->res);
        break;
    case OP_LINK_TIMEOUT:
    case OP_CANCEL:
        break;
    }
    maybe_finish_close(h);
}

/* The kernel keeps completions that did not fit in the CQ on an overflow
 * list (NODROP) and flags the ring until they are flushed; liburing's peek
 * flushes them quietly, so the flag is looked at after every submit and
 * before reaping. Each time it is seen set anew counts as one overflow. */
static void check_overflow(coil_reactor *r, uring_state *s)
{
    if (!io_uring_cq_has_overflow(&s->ring)) {
        s->in_overflow = false;
        return;
    }
    if (s->in_overflow)
        return;
    s->in_overflow = true;
    r->stats.cq_overflows++;
    if (!s->overflow_logged) {
        s->overflow_logged = true;
        coil_log(COIL_LOG_WARN, SYS, "completion queue overflowed; the kernel kept the events "
                                     "(NODROP), but the ring is too small for this load");
    }
}

static int uring_wait(coil_reactor *r, int64_t timeout_ns)
{
    uring_state *s = state(r);
    issue_waiting(r);
    if (s->nwaiting)
        timeout_ns = 0; /* some still wait for room: come back at once */
    int rc;
    check_overflow(r, s);
    r->stats.submits++;
    if (timeout_ns == 0) {
        rc = io_uring_submit_and_get_events(&s->ring);
    } else {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000,
                                       .tv_nsec = timeout_ns % 1000000000};
        rc = io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, timeout_ns < 0 ? NULL : &ts,
                                              NULL);
    }
    if (coil__uring_fake_ebadr) {
        coil__uring_fake_ebadr = false;
        rc = -EBADR;
    }
    bool lost = rc == -EBADR;
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN && !lost)
        return rc;
    /* Copy a batch out and advance the CQ before dispatching, so callbacks
     * that queue more work never find the CQ full of entries already read. */
    for (;;) {
        struct io_uring_cqe *cqes[CQE_BATCH];
        cqe_copy batch[CQE_BATCH];
        check_overflow(r, s);
        unsigned n = io_uring_peek_batch_cqe(&s->ring, cqes, CQE_BATCH);
        if (n == 0) {
            if (io_uring_cq_has_overflow(&s->ring)) {
                io_uring_get_events(&s->ring); /* flush the kernel's overflow list */
                continue;
            }
            break;
        }
        for (unsigned i = 0; i < n; i++) {
            batch[i] = (cqe_copy){cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
            if (cqes[i]->flags & IORING_CQE_F_BUFFER)
                lend(r);
        }
        io_uring_cq_advance(&s->ring, n);
        r->stats.completions += n;
        for (unsigned i = 0; i < n; i++)
            dispatch(r, &batch[i]);
    }
    if (lost) {
        /* -EBADR: the kernel could not keep overflowed completions (out of
         * memory) and dropped some. Handles waiting for them would wait for
         * ever, so the loop stops with the error instead. */
        r->stats.cq_lost++;
        coil_log(COIL_LOG_CRITICAL, SYS, "the kernel dropped completions (-EBADR): stopping");
        return -EBADR;
    }
    return 0;
}

const coil__backend_ops coil__uring_backend = {
    .name = "io_uring",
    .init = uring_init,
    .fini = uring_fini,
    .wait = uring_wait,
    .port_start = uring_port_start,
    .port_pause = uring_port_pause,
    .port_close = uring_port_close,
    .read_start = uring_read_start,
    .read_stop = uring_read_stop,
    .send = uring_send,
    .connect = uring_connect,
    .close = uring_close,
    .watch_start = uring_watch_start,
    .watch_close = uring_watch_close,
    .dgram_start = uring_dgram_start,
    .dgram_close = uring_dgram_close,
    .setsockopt = coil__sock_setsockopt,
    .shutdown = coil__sock_shutdown,
    .sockname = coil__sock_name,
    .listen_socket = coil__sock_listen,
    .adopt_socket = coil__sock_adopt,
    .connect_socket = coil__sock_connecting,
    .discard = coil__sock_discard,
    .dgram_socket = coil__sock_dgram,
    .dgram_send = coil__sock_dgram_send,
    .dgram_connect = coil__sock_dgram_connect,
    .dgram_option = coil__sock_dgram_option,
};
