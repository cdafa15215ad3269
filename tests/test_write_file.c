/* SPDX-License-Identifier: MIT */
/*
 * coil_transport_write_file(): file segments sent in order with memory
 * writes (sendfile on poll, splice on io_uring), a large file, a slow
 * reader, release exactly once (after sending, or at abort), a file
 * shorter than promised, and argument errors. Both ends run in one reactor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define BIG (8u << 20)

static int make_file(size_t size, uint32_t seed)
{
    char path[] = "/tmp/coil-write-file.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    char *buf = malloc(65536);
    for (size_t off = 0; off < size; off += 65536) {
        size_t n = size - off < 65536 ? size - off : 65536;
        t_fill_pattern(buf, n, seed, off);
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
    }
    free(buf);
    return fd;
}

typedef struct releases {
    int count;
    size_t len;
} releases;

static void on_release(void *arg, const void *data, size_t len)
{
    releases *r = arg;
    assert_null(data);
    r->count++;
    r->len += len;
}

/* The server side: what connection_made sends. */
typedef struct plan {
    int fd;
    releases rel;
    bool close_after;
    size_t promised; /* for the short-file case */
    int lost_reason; /* the server side's */
} plan;

static void server_lost_cb(t_conn *c, int reason)
{
    ((plan *)c->factory->user)->lost_reason = reason;
}

static void server_made(t_conn *c)
{
    plan *p = c->factory->user;
    coil_transport *t = c->base.transport;
    c->on_lost = server_lost_cb;
    if (p->promised) {
        assert_int_equal(coil_transport_write(t, "x", 1), 0);
        assert_int_equal(coil_transport_write_file(t, p->fd, 0, p->promised, on_release, &p->rel),
                         0);
        return;
    }
    assert_int_equal(coil_transport_write(t, "HEAD", 4), 0);
    assert_int_equal(coil_transport_write_file(t, p->fd, 0, BIG, on_release, &p->rel), 0);
    assert_int_equal(coil_transport_write(t, "MID", 3), 0);
    assert_int_equal(coil_transport_write_file(t, p->fd, 100, 5000, on_release, &p->rel), 0);
    assert_int_equal(coil_transport_write(t, "TAIL", 4), 0);
    assert_true(coil_transport_write_buffer_size(t) == 4 + BIG + 3 + 5000 + 4);
    if (p->close_after)
        coil_transport_lose_connection(t);
}

typedef struct rig {
    coil_reactor *r;
    t_factory sf, cf;
    coil_port *port;
    t_conn *client;
    plan plan;
} rig;

static void rig_start(rig *g, bool client_paused)
{
    g->r = t_reactor();
    t_factory_init(&g->sf);
    g->sf.on_made = server_made;
    g->sf.user = &g->plan;
    t_factory_init(&g->cf);
    g->cf.keep = true;
    uint16_t port;
    g->port = t_listen_tcp(g->r, &g->sf.base, &port);
    int err = 0;
    g->client = (t_conn *)t_connect_tcp(g->r, &g->cf.base, port, &err);
    assert_int_equal(err, 0);
    assert_non_null(g->client);
    if (client_paused)
        coil_transport_pause_reading(g->client->base.transport);
}

static bool client_lost(void *arg)
{
    return ((rig *)arg)->client->lost_count > 0;
}

static bool server_lost(void *arg)
{
    return ((rig *)arg)->sf.lost > 0;
}

static void rig_stop(rig *g)
{
    t_conn_free(g->client);
    t_stop_listening(g->r, g->port);
    t_teardown(g->r);
    close(g->plan.fd);
}

static void check_stream(const t_buf *rx)
{
    size_t want = 4 + BIG + 3 + 5000 + 4;
    assert_int_equal(rx->len, want);
    assert_memory_equal(rx->data, "HEAD", 4);
    unsigned char *exp = malloc(BIG);
    t_fill_pattern(exp, BIG, 7, 0);
    assert_memory_equal(rx->data + 4, exp, BIG);
    assert_memory_equal(rx->data + 4 + BIG, "MID", 3);
    assert_memory_equal(rx->data + 4 + BIG + 3, exp + 100, 5000);
    assert_memory_equal(rx->data + 4 + BIG + 3 + 5000, "TAIL", 4);
    free(exp);
}

static void test_in_order_with_writes(void **state)
{
    rig g = {0};
    g.plan.fd = make_file(BIG, 7);
    g.plan.close_after = true;
    rig_start(&g, false);
    t_run_until(g.r, client_lost, &g, 60);
    assert_int_equal(g.client->lost_reason, 0);
    check_stream(&g.client->rx);
    assert_int_equal(g.plan.rel.count, 2); /* each segment once */
    assert_int_equal(g.plan.rel.len, BIG + 5000);
    rig_stop(&g);
}

/* The reader stops reading: the server keeps the segment queued (not in
 * memory), then everything arrives once reading resumes. */
static void test_slow_reader(void **state)
{
    rig g = {0};
    g.plan.fd = make_file(BIG, 7);
    g.plan.close_after = true;
    rig_start(&g, true);
    t_run_for(g.r, 0.3);
    assert_int_equal(g.plan.rel.count, 0);
    assert_int_equal(g.sf.lost, 0);
    coil_transport_resume_reading(g.client->base.transport);
    t_run_until(g.r, client_lost, &g, 60);
    check_stream(&g.client->rx);
    assert_int_equal(g.plan.rel.count, 2);
    rig_stop(&g);
}

/* Aborted before the file left: released once, from the endgame. */
static void test_abort_releases(void **state)
{
    rig g = {0};
    g.plan.fd = make_file(BIG, 7);
    rig_start(&g, true);
    t_run_for(g.r, 0.2);
    assert_int_equal(g.plan.rel.count, 0);
    coil_transport_abort_connection(g.sf.last->base.transport);
    t_run_until(g.r, server_lost, &g, 20);
    assert_int_equal(g.plan.lost_reason, COIL_EABORTED);
    assert_int_equal(g.plan.rel.count, 2);
    coil_transport_resume_reading(g.client->base.transport);
    t_run_until(g.r, client_lost, &g, 20);
    rig_stop(&g);
}

/* The reader resets in the middle of the file: the server sees the error
 * (no SIGPIPE kills the process: sendfile has no MSG_NOSIGNAL). */
static void test_peer_reset(void **state)
{
    rig g = {0};
    g.plan.fd = make_file(BIG, 7);
    rig_start(&g, true);
    t_run_for(g.r, 0.2);
    coil_transport_abort_connection(g.client->base.transport);
    t_run_until(g.r, server_lost, &g, 20);
    assert_true(g.plan.lost_reason == -ECONNRESET || g.plan.lost_reason == -EPIPE);
    assert_int_equal(g.plan.rel.count, 2);
    rig_stop(&g);
}

/* Promised more than the file has: the connection fails with -EIO. */
static void test_short_file(void **state)
{
    rig g = {0};
    g.plan.fd = make_file(1000, 3);
    g.plan.promised = 5000;
    g.plan.lost_reason = 1;
    rig_start(&g, false);
    t_run_until(g.r, server_lost, &g, 20);
    assert_int_equal(g.plan.lost_reason, -EIO);
    assert_int_equal(g.plan.rel.count, 1);
    t_run_until(g.r, client_lost, &g, 20);
    /* What did arrive is a prefix of the promised stream. */
    assert_true(g.client->rx.len >= 1 && g.client->rx.len <= 1001);
    rig_stop(&g);
}

static void args_made(t_conn *c)
{
    coil_transport *t = c->base.transport;
    releases rel = {0};
    assert_int_equal(coil_transport_write_file(t, 0, 0, 0, on_release, &rel), -EINVAL);
    assert_int_equal(coil_transport_write_file(t, -1, 0, 1, on_release, &rel), -EINVAL);
    assert_int_equal(coil_transport_write_file(t, 0, -1, 1, on_release, &rel), -EINVAL);
    assert_int_equal(coil_transport_write_file(t, 0, 0, 1, NULL, NULL), -EINVAL);
    coil_transport_lose_write_connection(t);
    assert_int_equal(coil_transport_write_file(t, 0, 0, 1, on_release, &rel), -ENOTCONN);
    assert_int_equal(rel.count, 0);
    coil_transport_lose_connection(t);
}

static void test_errors(void **state)
{
    rig g = {0};
    g.plan.fd = -1;
    g.r = t_reactor();
    t_factory_init(&g.sf);
    g.sf.on_made = args_made;
    t_factory_init(&g.cf);
    g.cf.keep = true;
    uint16_t port;
    g.port = t_listen_tcp(g.r, &g.sf.base, &port);
    int err = 0;
    g.client = (t_conn *)t_connect_tcp(g.r, &g.cf.base, port, &err);
    assert_non_null(g.client);
    t_run_until(g.r, client_lost, &g, 20);
    t_conn_free(g.client);
    t_stop_listening(g.r, g.port);
    t_teardown(g.r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_with_writes),
        cmocka_unit_test(test_slow_reader),
        cmocka_unit_test(test_abort_releases),
        cmocka_unit_test(test_peer_reset),
        cmocka_unit_test(test_short_file),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("write_file", tests, NULL, NULL);
}
