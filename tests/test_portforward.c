/* SPDX-License-Identifier: MIT */
/*
 * The TCP port forwarder behind `coild proxy` (apps/coild/forward.c), on
 * every backend, with a client, the forwarder and an upstream server on one
 * reactor: 8 MiB both ways at once verified by hash, a half-closing client
 * that still receives the whole reply, slow readers on either side with the
 * forwarder's buffered bytes (write queues and held data, the reactor's own
 * accounting) bounded, a target that refuses, a target that never answers
 * (the client leaves during the connect), and losses passed on.
 */
#include "helpers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../apps/coild/forward.h"
#include "internal.h"

#define KIB 1024u
#define MIB (1024u * 1024u)
#define CHUNK (64 * KIB)
#define SEED_UP 0x5eed0001u
#define SEED_DOWN 0x5eed0002u
/* The slow-reader tests stream SLOW_TOTAL through a reader that takes
 * 128 KiB every 2 ms behind a 32 KiB receive buffer: without back-pressure
 * the forwarder would end up holding most of it. With it, each transport
 * holds at most its high-water mark (64 KiB) plus one delivery slice in its
 * write queue, and what the backend completed before a pause took effect
 * (io_uring's multishot recv fills up to 32 ring buffers of 16 KiB per
 * wake-up before the cancel lands; poll reads 64 KiB at most). */
#define SLOW_TOTAL (24 * MIB)
#define BOUND (3 * MIB)

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t pattern_hash(uint32_t seed, size_t total)
{
    static unsigned char buf[CHUNK];
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t off = 0; off < total; off += CHUNK) {
        size_t n = total - off < CHUNK ? total - off : CHUNK;
        t_fill_pattern(buf, n, seed, off);
        h = fnv(h, buf, n);
    }
    return h;
}

/* Both ends of the test: a client and an upstream server. */
typedef struct peer {
    coil_protocol base;
    coil_producer producer; /* pull producer feeding the stream */
    uint32_t send_seed;
    size_t send_total, sent;
    bool send_after_eof; /* reply only once the other side finished */
    bool sending_done;
    size_t received;
    uint64_t hash;
    bool slow; /* pause after every 128 KiB for 2 ms */
    size_t since_pause;
    coil_delayed_call *resume;
    int small_rcvbuf; /* set SO_RCVBUF to this at connection_made */
    bool eof, made, lost;
    int reason;
} peer;

static peer *peer_of_producer(coil_producer *p)
{
    return (peer *)((char *)p - offsetof(peer, producer));
}

static void maybe_close(peer *p)
{
    if (p->eof && p->sending_done)
        coil_transport_lose_connection(p->base.transport);
}

static void produce(coil_producer *prod)
{
    peer *p = peer_of_producer(prod);
    static unsigned char buf[CHUNK];
    size_t n = p->send_total - p->sent < CHUNK ? p->send_total - p->sent : CHUNK;
    t_fill_pattern(buf, n, p->send_seed, p->sent);
    assert_int_equal(coil_transport_write(p->base.transport, buf, n), 0);
    p->sent += n;
    if (p->sent == p->send_total) {
        coil_transport_unregister_producer(p->base.transport);
        coil_transport_lose_write_connection(p->base.transport);
        p->sending_done = true;
        maybe_close(p);
    }
}

static void no_pause(coil_producer *prod)
{
}
static void stop_producing(coil_producer *prod)
{
}
static const coil_producer_ops produce_ops = {no_pause, produce, stop_producing};

static void start_sending(peer *p)
{
    if (p->send_total == 0) {
        p->sending_done = true;
        maybe_close(p);
        return;
    }
    p->producer.ops = &produce_ops;
    assert_int_equal(coil_transport_register_producer(p->base.transport, &p->producer, false), 0);
}

static void peer_made(coil_protocol *proto)
{
    peer *p = (peer *)proto;
    p->made = true;
    p->hash = 0xcbf29ce484222325ull;
    if (p->small_rcvbuf) {
        int fd = coil_transport_fileno(proto->transport);
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &p->small_rcvbuf, sizeof(p->small_rcvbuf));
    }
    if (!p->send_after_eof)
        start_sending(p);
}

static void resume_later(void *arg)
{
    peer *p = arg;
    p->resume = NULL;
    coil_transport_resume_reading(p->base.transport);
}

static void peer_data(coil_protocol *proto, const void *data, size_t len)
{
    peer *p = (peer *)proto;
    p->hash = fnv(p->hash, data, len);
    p->received += len;
    p->since_pause += len;
    if (p->slow && p->since_pause >= 128 * KIB && !p->resume) {
        p->since_pause = 0;
        coil_transport_pause_reading(proto->transport);
        p->resume = coil_reactor_call_later(coil_transport_reactor(proto->transport), 0.002,
                                            resume_later, p);
    }
}

static void peer_eof(coil_protocol *proto)
{
    peer *p = (peer *)proto;
    p->eof = true;
    if (p->send_after_eof)
        start_sending(p);
    else
        maybe_close(p);
}

static void peer_lost(coil_protocol *proto, int reason)
{
    peer *p = (peer *)proto;
    assert_false(p->lost);
    p->lost = true;
    p->reason = reason;
    if (p->resume)
        coil_delayed_call_cancel(p->resume);
    p->resume = NULL;
}

static const coil_protocol_ops peer_ops = {
    .connection_made = peer_made,
    .data_received = peer_data,
    .read_connection_lost = peer_eof,
    .connection_lost = peer_lost,
};

/* A factory that hands out one prepared peer. */
typedef struct one_factory {
    coil_factory base;
    peer *p;
    int built;
} one_factory;

static coil_protocol *build_one(coil_factory *f, const coil_address *addr)
{
    one_factory *o = (one_factory *)f;
    o->built++;
    return o->built == 1 ? &o->p->base : NULL;
}

static const coil_factory_ops one_ops = {.build_protocol = build_one};

typedef struct rig {
    coil_reactor *r;
    peer client, upstream;
    one_factory cf, uf;
    coild_forward fwd;
    coil_client_endpoint *target;
    coil_port *up_port, *fwd_port;
    uint16_t fwd_port_no;
    size_t max_buffered;
} rig;

static void peer_init(peer *p, uint32_t seed, size_t total)
{
    memset(p, 0, sizeof(*p));
    p->base.ops = &peer_ops;
    p->send_seed = seed;
    p->send_total = total;
}

static void rig_init(rig *g, size_t up_bytes, size_t down_bytes)
{
    memset(g, 0, sizeof(*g));
    g->r = t_reactor();
    peer_init(&g->client, SEED_UP, up_bytes);
    peer_init(&g->upstream, SEED_DOWN, down_bytes);
    g->cf = (one_factory){.base.ops = &one_ops, .p = &g->client};
    g->uf = (one_factory){.base.ops = &one_ops, .p = &g->upstream};
}

/* Listen upstream on `target` (NULL: a fresh port of ours) and forward
 * (through g->target when the test made one). */
static void rig_listen(rig *g, const coil_address *target)
{
    coil_address up;
    if (g->target) {
        coild_forward_init(&g->fwd, g->target);
        g->fwd_port = t_listen_tcp(g->r, &g->fwd.base, &g->fwd_port_no);
        return;
    }
    if (target) {
        up = *target;
    } else {
        uint16_t port;
        g->up_port = t_listen_tcp(g->r, &g->uf.base, &port);
        coil_address_from_ip(&up, "127.0.0.1", port);
    }
    g->target = coil_tcp_client_endpoint_new(g->r, &up, 0, NULL);
    assert_non_null(g->target);
    coild_forward_init(&g->fwd, g->target);
    g->fwd_port = t_listen_tcp(g->r, &g->fwd.base, &g->fwd_port_no);
}

static void rig_connect(rig *g)
{
    t_connect_result res = {0};
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", g->fwd_port_no);
    assert_int_equal(coil_connect_tcp(g->r, &a, NULL, &g->cf.base, t_on_connect, &res, NULL), 0);
    T_RUN_UNTIL(g->r, res.done, 10);
    assert_int_equal(res.err, 0);
}

/* Bytes the forwarder holds: its transports' write queues and data read
 * while paused. */
static size_t buffered(rig *g)
{
    coil_transport *ts[8];
    size_t n = coild_forward_transports(&g->fwd, ts, 8), total = 0;
    for (size_t i = 0; i < n && i < 8; i++)
        total += coil_transport_write_buffer_size(ts[i]) + ts[i]->held_len;
    return total + coild_forward_pending_bytes(&g->fwd);
}

static bool both_lost(rig *g)
{
    return g->client.lost && (g->upstream.lost || g->uf.built == 0);
}

/* Turn until both peers are gone, sampling the forwarder's memory. */
static void rig_run(rig *g, double secs)
{
    double end = coil_clock_seconds(coil_reactor_clock(g->r)) + secs;
    while (!both_lost(g) || g->fwd.live > 0) {
        if (coil_clock_seconds(coil_reactor_clock(g->r)) > end)
            fail_msg("not finished within %.0f s: client %zu/%zu up %zu/%zu, lost %d/%d, "
                     "pairs %zu",
                     secs, g->client.received, g->upstream.send_total, g->upstream.received,
                     g->client.send_total, g->client.lost, g->upstream.lost, g->fwd.live);
        assert_int_equal(coil_reactor_iterate(g->r, 0.02), 0);
        size_t b = buffered(g);
        if (b > g->max_buffered)
            g->max_buffered = b;
    }
}

static void rig_finish(rig *g)
{
    assert_int_equal(g->fwd.live, 0);
    if (g->up_port)
        t_stop_listening(g->r, g->up_port);
    t_stop_listening(g->r, g->fwd_port);
    coil_client_endpoint_free(g->target);
    t_teardown(g->r);
}

static void expect_streams(rig *g)
{
    assert_int_equal(g->upstream.received, g->client.send_total);
    assert_true(g->upstream.hash == pattern_hash(SEED_UP, g->client.send_total));
    assert_int_equal(g->client.received, g->upstream.send_total);
    assert_true(g->client.hash == pattern_hash(SEED_DOWN, g->upstream.send_total));
    assert_int_equal(g->client.reason, 0);
    assert_int_equal(g->upstream.reason, 0);
    assert_int_equal(g->fwd.connect_failures, 0);
}

static void forward_8mib_both_ways(void **state)
{
    rig g;
    rig_init(&g, 8 * MIB, 8 * MIB);
    rig_listen(&g, NULL);
    rig_connect(&g);
    rig_run(&g, 60);
    expect_streams(&g);
    rig_finish(&g);
}

/* The client sends, shuts its write side down, and only then does the
 * upstream answer: the FIN reached it through the forwarder while the
 * other direction stayed open for the whole reply. */
static void forward_half_close(void **state)
{
    rig g;
    rig_init(&g, 1 * MIB, 8 * MIB);
    g.upstream.send_after_eof = true;
    rig_listen(&g, NULL);
    rig_connect(&g);
    rig_run(&g, 60);
    assert_true(g.client.sending_done);
    expect_streams(&g);
    rig_finish(&g);
}

static void slow_reader(void **state, bool slow_client)
{
    rig g;
    rig_init(&g, slow_client ? 0 : SLOW_TOTAL, slow_client ? SLOW_TOTAL : 0);
    peer *slow = slow_client ? &g.client : &g.upstream;
    slow->slow = true;
    slow->small_rcvbuf = 32 * KIB;
    rig_listen(&g, NULL);
    rig_connect(&g);
    rig_run(&g, 90);
    expect_streams(&g);
    print_message("max bytes held by the forwarder: %zu\n", g.max_buffered);
    assert_true(g.max_buffered > 0);
    assert_true(g.max_buffered <= BOUND);
    rig_finish(&g);
}

static void forward_slow_client(void **state)
{
    slow_reader(state, true);
}

static void forward_slow_upstream(void **state)
{
    slow_reader(state, false);
}

/* Nobody listens at the target: the accepted connection is closed. */
static void forward_target_refuses(void **state)
{
    rig g;
    rig_init(&g, 0, 0);
    uint16_t port;
    coil_port *tmp = t_listen_tcp(g.r, &g.uf.base, &port);
    t_stop_listening(g.r, tmp);
    coil_address closed;
    coil_address_from_ip(&closed, "127.0.0.1", port);
    t_log_capture();
    rig_listen(&g, &closed);
    g.client.send_after_eof = true; /* send nothing */
    rig_connect(&g);
    rig_run(&g, 20);
    assert_int_equal(g.fwd.connect_failures, 1);
    assert_int_equal(g.client.received, 0);
    assert_true(t_log_count("connecting to the target failed") >= 1);
    rig_finish(&g);
}

static void abort_client(void *arg)
{
    rig *g = arg;
    coil_transport_abort_connection(g->client.base.transport);
}

/* The target never answers; the client leaves meanwhile: the pending
 * connect is cancelled and everything is released. */
static void forward_client_leaves_during_connect(void **state)
{
    t_black_hole bh;
    T_NEED_BLACK_HOLE(&bh);
    rig g;
    rig_init(&g, 0, 0);
    coil_address hole;
    coil_address_from_ip(&hole, "127.0.0.1", bh.port);
    rig_listen(&g, &hole);
    g.client.send_after_eof = true;
    rig_connect(&g);
    T_RUN_UNTIL(g.r, g.fwd.live == 1, 10);
    coil_reactor_call_later(g.r, 0.05, abort_client, &g);
    rig_run(&g, 20);
    assert_int_equal(g.client.reason, COIL_EABORTED);
    assert_int_equal(g.fwd.connect_failures, 1); /* the cancelled attempt */
    rig_finish(&g);
    t_black_hole_close(&bh);
}

static void abort_upstream(void *arg)
{
    rig *g = arg;
    coil_transport_abort_connection(g->upstream.base.transport);
}

/* The upstream resets the connection: the client's side is closed. */
static void forward_upstream_lost(void **state)
{
    rig g;
    rig_init(&g, 0, 0);
    g.client.send_after_eof = g.upstream.send_after_eof = true;
    rig_listen(&g, NULL);
    rig_connect(&g);
    T_RUN_UNTIL(g.r, g.upstream.made, 10);
    coil_reactor_call_soon(g.r, abort_upstream, &g);
    rig_run(&g, 20);
    assert_int_equal(g.upstream.reason, COIL_EABORTED);
    assert_int_equal(g.client.reason, 0);
    rig_finish(&g);
}

/* ---- a target whose connect waits for the test ---------------------------- */

/* A client endpoint that holds every connect until gate_open(), then
 * connects through `inner`: the test decides when the target answers. */
typedef struct gated {
    coil_client_endpoint base;
    coil_client_endpoint *inner;
    coil_factory *factory;
    coil_deferred *outer;
} gated;

static coil_deferred *gated_connect(coil_client_endpoint *ep, coil_factory *f)
{
    gated *g = (gated *)ep;
    assert_null(g->outer); /* one at a time is enough here */
    coil_factory_do_start(f);
    g->factory = f;
    g->outer = coil_deferred_new(NULL, NULL);
    return coil_deferred_ref(g->outer);
}

static void gated_free(coil_client_endpoint *ep)
{
    gated *g = (gated *)ep;
    coil_client_endpoint_free(g->inner);
    free(g);
}

static const coil_client_endpoint_ops gated_ops = {gated_connect, gated_free};

static void gate_open(gated *g)
{
    coil_deferred *d = coil_client_endpoint_connect(g->inner, g->factory);
    coil_factory_do_stop(g->factory); /* the inner connect holds its own count */
    coil_deferred_chain(d, g->outer);
    coil_deferred_unref(d);
    coil_deferred_unref(g->outer);
    g->outer = NULL;
}

/* The client sends (and half-closes) before the target is connected: what
 * it sent is kept, up to 64 KiB (then reading pauses), and delivered with
 * its FIN once connected. */
static void client_first(size_t up_bytes)
{
    rig g;
    rig_init(&g, up_bytes, 1 * MIB);
    g.upstream.send_after_eof = true;
    uint16_t port;
    g.up_port = t_listen_tcp(g.r, &g.uf.base, &port);
    coil_address up;
    coil_address_from_ip(&up, "127.0.0.1", port);
    gated *gate = calloc(1, sizeof(*gate));
    gate->base = (coil_client_endpoint){.ops = &gated_ops, .reactor = g.r};
    gate->inner = coil_tcp_client_endpoint_new(g.r, &up, 0, NULL);
    g.target = &gate->base;
    rig_listen(&g, NULL);
    rig_connect(&g);
    size_t want = up_bytes < 64 * KIB ? up_bytes : 64 * KIB;
    T_RUN_UNTIL(g.r,
                gate->outer && g.client.sending_done && coild_forward_pending_bytes(&g.fwd) >= want,
                10);
    t_run_for(g.r, 0.05); /* nothing more is taken in meanwhile */
    size_t kept = coild_forward_pending_bytes(&g.fwd);
    print_message("kept %zu bytes while connecting\n", kept);
    assert_true(kept <= 64 * KIB + 64 * KIB); /* the limit plus one read at most */
    if (up_bytes < 64 * KIB)
        assert_int_equal(kept, up_bytes);
    assert_int_equal(g.uf.built, 0);
    gate_open(gate);
    rig_run(&g, 60);
    expect_streams(&g);
    rig_finish(&g);
}

static void forward_client_sends_before_connect(void **state)
{
    client_first(1000); /* the FIN is read while connecting */
}

static void forward_client_sends_much_before_connect(void **state)
{
    client_first(600 * KIB); /* reading pauses at the limit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forward_8mib_both_ways),
        cmocka_unit_test(forward_half_close),
        cmocka_unit_test(forward_slow_client),
        cmocka_unit_test(forward_slow_upstream),
        cmocka_unit_test(forward_target_refuses),
        cmocka_unit_test(forward_client_leaves_during_connect),
        cmocka_unit_test(forward_upstream_lost),
        cmocka_unit_test(forward_client_sends_before_connect),
        cmocka_unit_test(forward_client_sends_much_before_connect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
