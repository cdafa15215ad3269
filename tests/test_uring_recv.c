/* SPDX-License-Identifier: MIT */
/*
 * io_uring receives on both paths a kernel may give: the capped multishot
 * recv (one SQE serves many small messages; it ends after `cap` bytes) and
 * the one-shot recv coil falls back to where the kernel cannot cap one
 * (forced here with a test hook, so both run on any kernel that has the
 * cap). Every case checks the exact bytes, in order: small messages, a
 * bulk stream that fills the cap (one-shot receives follow, then multishot
 * again), pausing and resuming in the middle of a stream (from inside
 * data_received and from outside it; what arrives while paused stays under
 * one receive buffer), closing while a receive is armed, and re-arming
 * after the buffer ring ran dry (ENOBUFS). Skipped on the other backends.
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

#ifndef COIL_HAVE_URING
int main(void)
{
    fprintf(stderr, "skip: built without io_uring\n");
    return 77;
}
#else

typedef struct mode {
    bool mshot; /* the capped multishot path, else the one-shot fallback */
} mode;
static mode mshot_mode = {true}, oneshot_mode = {false};

/* An io_uring reactor on the path of `m` (nbufs, bufsz, cap: 0 = default). */
static coil_reactor *recv_reactor(const mode *m, unsigned nbufs, unsigned bufsz, unsigned cap)
{
    t_require_uring();
    coil_reactor_options o;
    coil_reactor_options_init(&o);
    o.flags = COIL_REACTOR_NO_SIGNALS;
    o.backend = COIL_BACKEND_URING;
    if (nbufs)
        o.recv_buffers = nbufs;
    if (bufsz)
        o.recv_buffer_size = bufsz;
    coil__uring_no_mshot_recv = !m->mshot;
    coil__uring_recv_arm_cap = cap;
    coil_reactor *r;
    int rc = coil_reactor_new(&r, &o);
    coil__uring_no_mshot_recv = false;
    coil__uring_recv_arm_cap = 0;
    if (rc < 0) {
        fprintf(stderr, "skip: io_uring unavailable (%s)\n", coil_strerror(rc));
        exit(77);
    }
    if (m->mshot && coil__uring_recv_cap(r) == 0) {
        printf("this kernel cannot cap a multishot recv: one-shot receives only\n");
        coil_reactor_free(r);
        skip();
    }
    if (!m->mshot)
        assert_int_equal(coil__uring_recv_cap(r), 0);
    return r;
}

static void arms(coil_reactor *r, uint64_t *mshot, uint64_t *oneshot)
{
    coil__uring_recv_arms(r, mshot, oneshot);
}

/* A coil server and one plain client socket connected to it. */
typedef struct rig {
    coil_reactor *r;
    t_factory srv;
    coil_port *lp;
    int fd;     /* the client */
    t_conn *s;  /* the server's protocol */
} rig;

static void rig_open(rig *g, coil_reactor *r)
{
    g->r = r;
    t_factory_init(&g->srv);
    g->srv.keep = true;
    uint16_t port;
    g->lp = t_listen_tcp(r, &g->srv.base, &port);
    g->fd = t_peer_connect_tcp(port);
    assert_true(g->fd >= 0);
    T_RUN_UNTIL(r, g->srv.last && g->srv.last->made, 10);
    g->s = g->srv.last;
}

static void rig_close(rig *g)
{
    if (g->fd >= 0)
        close(g->fd);
    T_RUN_UNTIL(g->r, g->s->lost_count > 0, 10);
    assert_int_equal(g->s->lost_count, 1);
    t_conn_free(g->s);
    t_stop_listening(g->r, g->lp);
    t_teardown(g->r);
}

static void check_pattern(const t_buf *b, size_t len, uint32_t seed)
{
    assert_int_equal(b->len, len);
    unsigned char *want = malloc(len);
    assert_non_null(want);
    t_fill_pattern(want, len, seed, 0);
    assert_memory_equal(b->data, want, len);
    free(want);
}

/* Send as much of pattern `seed` from `*off` up to `total` as the socket
 * takes now, in sends of at most `piece` bytes (the client socket is
 * non-blocking). */
static void pump_pieces(int fd, uint32_t seed, size_t *off, size_t total, size_t piece)
{
    unsigned char chunk[65536];
    if (piece > sizeof(chunk))
        piece = sizeof(chunk);
    while (*off < total) {
        size_t n = total - *off < piece ? total - *off : piece;
        t_fill_pattern(chunk, n, seed, *off);
        ssize_t w = send(fd, chunk, n, MSG_NOSIGNAL);
        if (w < 0) {
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            return;
        }
        *off += (size_t)w;
        if (piece < sizeof(chunk))
            return; /* one small piece per call */
    }
}

static void pump(int fd, uint32_t seed, size_t *off, size_t total)
{
    pump_pieces(fd, seed, off, total, 65536);
}

static void set_nonblocking(int fd)
{
    assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

/* ---- small messages ------------------------------------------------------ */

enum { SMALL = 64, NSMALL = 1000 };

/* One message at a time, each waited for: on the multishot path one
 * receive serves a cap's worth of them, one-shot needs one per message. */
static void small_messages_in_order(void **state)
{
    const mode *m = *state;
    rig g;
    rig_open(&g, recv_reactor(m, 0, 0, 0));
    unsigned cap = coil__uring_recv_cap(g.r);
    unsigned char msg[SMALL];
    for (size_t i = 0; i < NSMALL; i++) {
        t_fill_pattern(msg, SMALL, 7, i * SMALL);
        assert_int_equal(t_peer_write_all(g.fd, msg, SMALL), 0);
        T_RUN_UNTIL(g.r, g.s->rx.len == (i + 1) * SMALL, 10);
    }
    check_pattern(&g.s->rx, NSMALL * SMALL, 7);
    uint64_t ms, os;
    arms(g.r, &ms, &os);
    printf("%s: %llu multishot and %llu one-shot receives for %d messages\n",
           m->mshot ? "multishot" : "one-shot", (unsigned long long)ms, (unsigned long long)os,
           NSMALL);
    if (m->mshot) {
        /* Each multishot receive ends only once it took `cap` bytes. */
        assert_int_equal(os, 0);
        assert_true(ms >= 1 && ms <= (uint64_t)NSMALL * SMALL / cap + 1);
    } else {
        assert_int_equal(ms, 0);
        assert_true(os > NSMALL); /* one per message, and one armed */
    }
    rig_close(&g);
}

/* ---- a bulk stream fills the cap ------------------------------------------- */

enum { BULK = 512 * 1024, SMALL_CAP = 1024 };

static void bulk_fills_cap_then_oneshot(void **state)
{
    const mode *m = *state;
    rig g;
    rig_open(&g, recv_reactor(m, 0, 0, SMALL_CAP));
    set_nonblocking(g.fd);
    size_t off = 0;
    while (g.s->rx.len < BULK) {
        pump(g.fd, 9, &off, BULK);
        assert_int_equal(coil_reactor_iterate(g.r, 0.01), 0);
    }
    check_pattern(&g.s->rx, BULK, 9);
    uint64_t ms, os;
    arms(g.r, &ms, &os);
    printf("bulk: %llu multishot and %llu one-shot receives\n", (unsigned long long)ms,
           (unsigned long long)os);
    if (m->mshot) {
        assert_true(ms >= 1);
        assert_true(os >= 1); /* a receive filled the cap: whole buffers followed */
    } else {
        assert_int_equal(ms, 0);
    }

    /* Small messages again: back to multishot receives. */
    uint64_t ms_before = ms;
    unsigned char msg[SMALL];
    for (size_t i = 0; i < 10; i++) {
        t_fill_pattern(msg, SMALL, 9, BULK + i * SMALL);
        ssize_t w = send(g.fd, msg, SMALL, MSG_NOSIGNAL);
        assert_int_equal(w, SMALL);
        T_RUN_UNTIL(g.r, g.s->rx.len == BULK + (i + 1) * SMALL, 10);
    }
    check_pattern(&g.s->rx, BULK + 10 * SMALL, 9);
    arms(g.r, &ms, &os);
    if (m->mshot)
        assert_true(ms > ms_before);
    rig_close(&g);
}

/* ---- pause and resume in the middle of a stream ---------------------------- */

enum { STREAM = 2 * 1024 * 1024, PAUSE_EVERY = 48 * 1024 };

typedef struct pauser {
    size_t next;      /* pause once this much has arrived */
    bool inside;      /* this pause is made from data_received */
    bool paused;
    int pauses_inside, pauses_outside;
} pauser;

static void pause_inside(t_conn *c, const void *data, size_t len)
{
    (void)data, (void)len;
    pauser *p = c->user;
    if (p->inside && !p->paused && c->rx.len >= p->next) {
        coil_transport_pause_reading(c->base.transport);
        p->paused = true;
        p->pauses_inside++;
    }
}

static void pause_resume_mid_stream(void **state)
{
    const mode *m = *state;
    coil_reactor *r = recv_reactor(m, 0, 0, 0);
    pauser pz = {.next = PAUSE_EVERY, .inside = true};
    rig g;
    g.r = r;
    t_factory_init(&g.srv);
    g.srv.keep = true;
    g.srv.on_data = pause_inside;
    g.srv.user = &pz;
    uint16_t port;
    g.lp = t_listen_tcp(r, &g.srv.base, &port);
    g.fd = t_peer_connect_tcp(port);
    assert_true(g.fd >= 0);
    T_RUN_UNTIL(r, g.srv.last && g.srv.last->made, 10);
    g.s = g.srv.last;
    set_nonblocking(g.fd);

    coil_transport *t = g.s->base.transport;
    coil_reactor_options o;
    coil_reactor_options_init(&o);
    size_t worst = 0, off = 0;
    double end = coil_clock_seconds(coil_reactor_clock(r)) + 60;
    while (g.s->rx.len < STREAM) {
        /* Alternately a bulk stream and pieces smaller than the cap, so
         * pauses find one-shot and multishot receives armed. */
        pump_pieces(g.fd, 11, &off, STREAM, (off / PAUSE_EVERY) % 2 ? 65536 : 3000);
        assert_int_equal(coil_reactor_iterate(r, 0.005), 0);
        if (!pz.inside && !pz.paused && g.s->rx.len >= pz.next) {
            /* From outside data_received: the armed receive is cancelled. */
            coil_transport_pause_reading(t);
            pz.paused = true;
            pz.pauses_outside++;
        }
        if (pz.paused) {
            /* Let whatever was on its way land, then look at what is held. */
            for (int i = 0; i < 3; i++)
                assert_int_equal(coil_reactor_iterate(r, 0), 0);
            if (t->held_len > worst)
                worst = t->held_len;
            pz.paused = false;
            pz.inside = !pz.inside;
            pz.next = g.s->rx.len + t->held_len + PAUSE_EVERY;
            coil_transport_resume_reading(t);
        }
        if (coil_clock_seconds(coil_reactor_clock(r)) > end)
            fail_msg("stream stalled at %zu of %d bytes", g.s->rx.len, STREAM);
    }
    check_pattern(&g.s->rx, STREAM, 11);
    uint64_t ms, os;
    arms(r, &ms, &os);
    printf("%s: %d pauses inside data_received, %d outside; most held while paused %zu B "
           "(receive buffer %u B); %llu multishot and %llu one-shot receives\n",
           m->mshot ? "multishot" : "one-shot", pz.pauses_inside, pz.pauses_outside, worst,
           o.recv_buffer_size, (unsigned long long)ms, (unsigned long long)os);
    assert_true(pz.pauses_inside >= 5 && pz.pauses_outside >= 5);
    assert_true(worst <= o.recv_buffer_size);
    rig_close(&g);
}

/* ---- close while a receive is armed -------------------------------------- */

static void close_while_armed(void **state)
{
    const mode *m = *state;
    coil_reactor *r = recv_reactor(m, 0, 0, 0);

    /* An idle connection: its receive waits in the kernel. */
    rig g;
    rig_open(&g, r);
    t_run_for(r, 0.05);
    coil_transport_lose_connection(g.s->base.transport);
    T_RUN_UNTIL(r, g.s->lost_count > 0, 10);
    assert_int_equal(g.s->lost_reason, 0);
    char c;
    assert_int_equal(recv(g.fd, &c, 1, 0), 0); /* the client sees a clean EOF */
    close(g.fd);
    t_conn_free(g.s);

    /* Paused from outside (its cancel queued), then aborted in the same
     * turn: both the cancel and the close's cancel reach the kernel. */
    coil_address a;
    coil_port_get_host(g.lp, &a);
    uint16_t port = coil_address_port(&a);
    g.srv.last = NULL;
    g.fd = t_peer_connect_tcp(port);
    T_RUN_UNTIL(r, g.srv.last && g.srv.last->made, 10);
    g.s = g.srv.last;
    unsigned char buf[4096];
    t_fill_pattern(buf, sizeof(buf), 3, 0);
    assert_int_equal(t_peer_write_all(g.fd, buf, sizeof(buf)), 0);
    T_RUN_UNTIL(r, g.s->rx.len == sizeof(buf), 10);
    coil_transport_pause_reading(g.s->base.transport);
    coil_transport_abort_connection(g.s->base.transport);
    T_RUN_UNTIL(r, g.s->lost_count > 0, 10);
    close(g.fd);
    t_conn_free(g.s);

    /* Closed from data_received while the peer keeps a stream coming: the
     * receive still delivering is cancelled and its late data dropped. */
    g.srv.last = NULL;
    g.fd = t_peer_connect_tcp(port);
    T_RUN_UNTIL(r, g.srv.last && g.srv.last->made, 10);
    g.s = g.srv.last;
    set_nonblocking(g.fd);
    size_t off = 0;
    pump(g.fd, 5, &off, 256 * 1024);
    T_RUN_UNTIL(r, g.s->rx.len > 0, 10);
    coil_transport_abort_connection(g.s->base.transport);
    T_RUN_UNTIL(r, g.s->lost_count > 0, 10);
    t_run_for(r, 0.05); /* late completions arrive and are dropped */
    assert_int_equal(g.s->lost_count, 1);
    rig_close(&g);
}

/* ---- the buffer ring runs dry ---------------------------------------------- */

enum { DRY_CONNS = 32, DRY_MSG = 48 * 1024 };

static void enobufs_rearms(void **state)
{
    const mode *m = *state;
    /* 4 buffers of 4 KiB for 32 connections that all send at once. */
    coil_reactor *r = recv_reactor(m, 4, 4096, 0);
    t_factory srv;
    t_factory_init(&srv);
    srv.keep = true;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv.base, &port);
    int fds[DRY_CONNS];
    t_conn *conns[DRY_CONNS];
    for (int i = 0; i < DRY_CONNS; i++) {
        fds[i] = t_peer_connect_tcp(port);
        assert_true(fds[i] >= 0);
        T_RUN_UNTIL(r, srv.built == i + 1 && srv.last->made, 10);
        conns[i] = srv.last;
        set_nonblocking(fds[i]);
    }
    size_t off[DRY_CONNS] = {0};
    double end = coil_clock_seconds(coil_reactor_clock(r)) + 60;
    for (;;) {
        bool done = true;
        for (int i = 0; i < DRY_CONNS; i++) {
            pump(fds[i], (uint32_t)i, &off[i], DRY_MSG);
            if (conns[i]->rx.len < DRY_MSG)
                done = false;
        }
        if (done)
            break;
        assert_int_equal(coil_reactor_iterate(r, 0.01), 0);
        if (coil_clock_seconds(coil_reactor_clock(r)) > end)
            fail_msg("receives were not re-armed after ENOBUFS");
    }
    coil_reactor_stats st;
    coil_reactor_get_stats(r, &st);
    printf("%s: %llu ENOBUFS\n", m->mshot ? "multishot" : "one-shot",
           (unsigned long long)st.enobufs);
    assert_true(st.enobufs > 0);
    for (int i = 0; i < DRY_CONNS; i++) {
        check_pattern(&conns[i]->rx, DRY_MSG, (uint32_t)i);
        close(fds[i]);
    }
    T_RUN_UNTIL(r, srv.lost == DRY_CONNS, 10);
    for (int i = 0; i < DRY_CONNS; i++)
        t_conn_free(conns[i]);
    t_stop_listening(r, lp);
    t_teardown(r);
}

#define BOTH(fn)                                                                                   \
    cmocka_unit_test_prestate(fn, &mshot_mode), cmocka_unit_test_prestate(fn, &oneshot_mode)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(small_messages_in_order), BOTH(bulk_fills_cap_then_oneshot),
        BOTH(pause_resume_mid_stream), BOTH(close_while_armed),
        BOTH(enobufs_rearms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
