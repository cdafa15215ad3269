/* SPDX-License-Identifier: MIT */
/*
 * Flow control on both backends: streaming producers are paused above the
 * high-water mark and resumed once the queue drains, so memory stays bounded
 * against a peer that stops reading; the transport registered as its own
 * producer (as `coild echo`) stops reading while its echo is backed up; pull
 * producers are asked for more each time the queue drains; pause_reading /
 * resume_reading hold data back without losing any.
 */
#include "helpers.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define KIB 1024u
#define MIB (1024u * 1024u)
#define SEED 0xbac4u
#define CHUNK (16 * KIB)

static bool is_pattern(const unsigned char *data, size_t n, uint32_t seed, size_t offset)
{
    unsigned char want[4096];
    for (size_t i = 0; i < n; i += sizeof(want)) {
        size_t k = n - i < sizeof(want) ? n - i : sizeof(want);
        t_fill_pattern(want, k, seed, offset + i);
        if (memcmp(data + i, want, k) != 0)
            return false;
    }
    return true;
}

static void write_pattern(coil_transport *t, size_t n, uint32_t seed, size_t offset)
{
    unsigned char *b = malloc(n);
    assert_non_null(b);
    t_fill_pattern(b, n, seed, offset);
    assert_int_equal(coil_transport_write(t, b, n), 0);
    free(b);
}

static double now(coil_reactor *r)
{
    return coil_clock_seconds(coil_reactor_clock(r));
}

/* Iterate until `*progress` stops moving for 0.3 s. */
static void run_until_stalled(coil_reactor *r, const size_t *progress, double timeout)
{
    double end = now(r) + timeout;
    for (;;) {
        size_t before = *progress;
        t_run_for(r, 0.3);
        if (*progress == before)
            return;
        if (now(r) > end)
            fail_msg("still moving after %.0f s", timeout);
    }
}

/* ---- a blocking peer that reads only when told to ------------------------------ */

typedef struct reader_job {
    int fd;
    size_t want;
    int rc;
    size_t got;
    atomic_int go, done;
} reader_job;

/* Read (and check) the pattern until EOF once `go` is set. */
static void *reader_main(void *arg)
{
    reader_job *j = arg;
    for (int i = 0; i < 20000 && !atomic_load(&j->go); i++)
        usleep(1000);
    static unsigned char buf[64 * KIB];
    int rc = 0;
    for (;;) {
        ssize_t n = recv(j->fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : 0;
            break;
        }
        if (!is_pattern(buf, (size_t)n, SEED, j->got)) {
            rc = -EBADMSG;
            break;
        }
        j->got += (size_t)n;
    }
    j->rc = rc != 0 ? rc : j->got != j->want ? -EPROTO : 0;
    atomic_store(&j->done, 1);
    return NULL;
}

/* ---- streaming producer ------------------------------------------------------- */

typedef struct sp {
    coil_producer prod;
    coil_transport *t;
    size_t total, written, max_q, high, low;
    int paused_calls, resumed_calls, stopped_calls;
    bool paused, finished;
} sp;

static sp *sp_of(coil_producer *p)
{
    return (sp *)((char *)p - offsetof(sp, prod));
}

static void sp_produce(sp *s)
{
    unsigned char buf[CHUNK];
    while (!s->paused && s->written < s->total) {
        size_t n = s->total - s->written < CHUNK ? s->total - s->written : CHUNK;
        t_fill_pattern(buf, n, SEED, s->written);
        assert_int_equal(coil_transport_write(s->t, buf, n), 0);
        s->written += n;
        size_t q = coil_transport_write_buffer_size(s->t);
        if (q > s->max_q)
            s->max_q = q;
    }
    if (s->written == s->total && !s->finished) {
        s->finished = true;
        coil_transport_unregister_producer(s->t);
        coil_transport_lose_connection(s->t);
    }
}

static void sp_pause(coil_producer *p)
{
    sp *s = sp_of(p);
    assert_false(s->paused);
    assert_true(coil_transport_write_buffer_size(s->t) > s->high);
    s->paused = true;
    s->paused_calls++;
}

static void sp_resume(coil_producer *p)
{
    sp *s = sp_of(p);
    assert_true(s->paused);
    assert_true(coil_transport_write_buffer_size(s->t) <= s->low);
    s->paused = false;
    s->resumed_calls++;
    sp_produce(s);
}

static void sp_stop(coil_producer *p)
{
    sp_of(p)->stopped_calls++;
}

static const coil_producer_ops sp_prod_ops = {sp_pause, sp_resume, sp_stop};

static void sp_made(t_conn *c)
{
    sp *s = c->user;
    s->t = c->base.transport;
    if (s->high)
        coil_transport_set_write_limits(s->t, s->high, s->low);
    else
        s->high = 65536; /* the defaults, as Twisted: 64 KiB high, 0 low */
    assert_int_equal(coil_transport_register_producer(s->t, &s->prod, true), 0);
    assert_int_equal(coil_transport_register_producer(s->t, &s->prod, true), -EBUSY);
    sp_produce(s);
}

/* A server whose connection runs `made` with `user` as its c->user. */
static coil_port *listen_with(coil_reactor *r, t_factory *f, void (*made)(t_conn *), void *user,
                              uint16_t *port)
{
    t_factory_init(f);
    f->keep = true;
    f->on_made = made;
    f->user = user;
    return t_listen_tcp(r, &f->base, port);
}

static void streaming_producer_vs_stalled_reader(size_t high, size_t low)
{
    coil_reactor *r = t_reactor();
    sp s = {.prod.ops = &sp_prod_ops, .total = 32 * MIB, .high = high, .low = low};
    t_factory f;
    uint16_t port;
    coil_port *lp = listen_with(r, &f, sp_made, &s, &port);
    reader_job j = {.fd = t_peer_connect_tcp(port), .want = s.total};
    assert_true(j.fd >= 0);
    t_thread *th = t_thread_start(reader_main, &j);
    T_RUN_UNTIL(r, s.paused_calls >= 1, 10);
    run_until_stalled(r, &s.written, 20);
    /* The peer reads nothing: the producer is paused and the queue bounded. */
    assert_true(s.paused);
    assert_true(s.written < s.total);
    if (s.max_q > s.high + CHUNK)
        fail_msg("queue reached %zu bytes (high water %zu + one write)", s.max_q, s.high);
    assert_true(coil_transport_write_buffer_size(s.t) <= s.high + CHUNK);
    atomic_store(&j.go, 1);
    T_RUN_UNTIL(r, atomic_load(&j.done) && f.lost == 1, 60);
    t_thread_join(th);
    close(j.fd);
    if (j.rc != 0)
        fail_msg("peer: %s after %zu bytes", coil_strerror(j.rc), j.got);
    assert_true(s.resumed_calls >= 1);
    assert_true(s.paused_calls >= s.resumed_calls);
    assert_true(s.max_q <= s.high + CHUNK);
    assert_int_equal(s.stopped_calls, 0); /* unregistered before the close */
    assert_int_equal(f.last->lost_reason, 0);
    t_conn_free(f.last);
    t_stop_listening(r, lp);
    t_teardown(r);
}

static void streaming_producer_paused_at_high_water(void **state)
{
    streaming_producer_vs_stalled_reader(0, 0);
}

static void streaming_producer_custom_write_limits(void **state)
{
    streaming_producer_vs_stalled_reader(4 * KIB, 1 * KIB);
}

/* ---- the transport as its own producer (coild echo) --------------------------- */

typedef struct writer_job {
    int fd;
    size_t total;
    _Atomic size_t sent;
    int rc;
    atomic_int done;
} writer_job;

static void *writer_main(void *arg)
{
    writer_job *j = arg;
    static unsigned char buf[64 * KIB];
    int rc = 0;
    size_t off = 0;
    while (off < j->total && rc == 0) {
        size_t n = j->total - off < sizeof(buf) ? j->total - off : sizeof(buf);
        t_fill_pattern(buf, n, SEED, off);
        rc = t_peer_write_all(j->fd, buf, n);
        off += n;
        atomic_store(&j->sent, off);
    }
    if (rc == 0 && shutdown(j->fd, SHUT_WR) < 0)
        rc = -errno;
    j->rc = rc;
    atomic_store(&j->done, 1);
    return NULL;
}

static size_t echo_max_q, echo_max_chunk, echo_calls;

static void echo_self_producer_made(t_conn *c)
{
    coil_transport *t = c->base.transport;
    assert_int_equal(coil_transport_register_producer(t, coil_transport_producer(t), true), 0);
}

static void echo_record(t_conn *c, const void *data, size_t len)
{
    size_t q = coil_transport_write_buffer_size(c->base.transport);
    echo_max_q = q > echo_max_q ? q : echo_max_q;
    echo_max_chunk = len > echo_max_chunk ? len : echo_max_chunk;
    echo_calls++;
}

static void echo_self_producer_bounds_queue(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.echo = srv.keep = true;
    srv.on_made = echo_self_producer_made;
    srv.on_data = echo_record;
    echo_max_q = echo_max_chunk = echo_calls = 0;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv.base, &port);
    int fd = t_peer_connect_tcp(port);
    assert_true(fd >= 0);
    writer_job w = {.fd = fd, .total = 32 * MIB};
    reader_job rd = {.fd = fd, .want = 32 * MIB};
    t_thread *wt = t_thread_start(writer_main, &w);
    t_thread *rt = t_thread_start(reader_main, &rd);
    T_RUN_UNTIL(r, srv.last && srv.last->rx.len > 0, 10);
    /* The client sends without reading: the echo backs up, the server stops
     * reading, and the client's writes stall. */
    run_until_stalled(r, &srv.last->rx.len, 20);
    size_t calls = echo_calls;
    t_run_for(r, 0.2);
    assert_int_equal(echo_calls, calls); /* no data_received while paused */
    assert_true(atomic_load(&w.sent) < w.total);
    printf("stalled after %zu bytes; queue max %zu, largest read %zu\n", atomic_load(&w.sent),
           echo_max_q, echo_max_chunk);
    /* High water (64 KiB) plus one read: coil hands over at most 64 KiB per
     * data_received, also for data that completed after the pause. */
    if (echo_max_q > 65536 + 65536 || echo_max_chunk > 65536)
        fail_msg("echo queue reached %zu bytes (largest read %zu)", echo_max_q, echo_max_chunk);
    atomic_store(&rd.go, 1);
    T_RUN_UNTIL(r, atomic_load(&w.done) && atomic_load(&rd.done) && srv.lost == 1, 60);
    t_thread_join(wt);
    t_thread_join(rt);
    close(fd);
    assert_int_equal(w.rc, 0);
    if (rd.rc != 0)
        fail_msg("reader: %s after %zu bytes", coil_strerror(rd.rc), rd.got);
    assert_int_equal(srv.last->rx.len, 32 * MIB);
    assert_true(echo_max_q <= 65536 + 65536);
    assert_int_equal(srv.last->lost_reason, 0);
    t_conn_free(srv.last);
    t_stop_listening(r, lp);
    t_teardown(r);
}

/* ---- pull producer -------------------------------------------------------------- */

#define PULL_CHUNKS 32
#define PULL_CHUNK (64 * KIB)

typedef struct pp {
    coil_producer prod;
    coil_transport *t;
    int resumes, lose_after; /* lose_after: lose_connection after that chunk */
    bool in_resume;
} pp;

static pp *pp_of(coil_producer *p)
{
    return (pp *)((char *)p - offsetof(pp, prod));
}

static void pp_resume(coil_producer *p)
{
    pp *s = pp_of(p);
    assert_false(s->in_resume);
    assert_int_equal(coil_transport_write_buffer_size(s->t), 0); /* asked when drained */
    assert_true(s->resumes < PULL_CHUNKS);
    s->in_resume = true;
    write_pattern(s->t, PULL_CHUNK, SEED, (size_t)s->resumes * PULL_CHUNK);
    s->resumes++;
    if (s->resumes == s->lose_after)
        coil_transport_lose_connection(s->t); /* closes only once unregistered */
    if (s->resumes == PULL_CHUNKS) {
        coil_transport_unregister_producer(s->t);
        coil_transport_lose_connection(s->t);
    }
    s->in_resume = false;
}

static void pp_unexpected(coil_producer *p)
{
    fail_msg("pause/stop called on a pull producer");
}

static const coil_producer_ops pp_prod_ops = {pp_unexpected, pp_resume, pp_unexpected};

static void pp_made(t_conn *c)
{
    pp *s = c->user;
    s->t = c->base.transport;
    assert_int_equal(coil_transport_register_producer(s->t, &s->prod, false), 0);
    assert_int_equal(s->resumes, 0); /* the first request comes from the loop */
}

static void pull_producer(int lose_after)
{
    coil_reactor *r = t_reactor();
    pp s = {.prod.ops = &pp_prod_ops, .lose_after = lose_after};
    t_factory f;
    uint16_t port;
    coil_port *lp = listen_with(r, &f, pp_made, &s, &port);
    t_factory cli;
    t_factory_init(&cli);
    cli.keep = true;
    t_conn *c = (t_conn *)t_connect_tcp(r, &cli.base, port, NULL);
    assert_non_null(c);
    T_RUN_UNTIL(r, f.lost == 1 && c->lost_count == 1, 30);
    assert_int_equal(s.resumes, PULL_CHUNKS);
    assert_int_equal(f.last->lost_reason, 0);
    t_conn_free(f.last);
    assert_int_equal(c->lost_reason, 0);
    assert_int_equal(c->rx.len, (size_t)PULL_CHUNKS * PULL_CHUNK);
    assert_true(is_pattern(c->rx.data, c->rx.len, SEED, 0));
    t_conn_free(c);
    t_stop_listening(r, lp);
    t_teardown(r);
}

static void pull_producer_resumed_each_time_queue_drains(void **state)
{
    pull_producer(0);
}

static void pull_producer_keeps_connection_until_unregistered(void **state)
{
    pull_producer(3);
}

/* ---- stop_producing at connection loss ------------------------------------------- */

static int stop_calls, stop_lost_seen;

static void count_stop(coil_producer *p)
{
    stop_calls++;
}

static const coil_producer_ops stop_ops = {count_stop, count_stop, count_stop};
static coil_producer stop_prod = {&stop_ops};

static void register_stop_prod(t_conn *c)
{
    assert_int_equal(coil_transport_register_producer(c->base.transport, &stop_prod, true), 0);
}

static void lost_after_stop(t_conn *c, int reason)
{
    stop_lost_seen = stop_calls; /* stop_producing ran before connection_lost */
}

static void producer_stopped_when_connection_lost(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.on_made = register_stop_prod;
    srv.on_lost = lost_after_stop;
    stop_calls = 0;
    stop_lost_seen = -1;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv.base, &port);
    int fd = t_peer_connect_tcp(port);
    assert_true(fd >= 0);
    T_RUN_UNTIL(r, srv.open == 1, 10);
    close(fd);
    T_RUN_UNTIL(r, srv.lost == 1, 10);
    assert_int_equal(stop_calls, 1);
    assert_int_equal(stop_lost_seen, 1);
    t_stop_listening(r, lp);
    t_teardown(r);
}

/* ---- pause_reading / resume_reading ----------------------------------------------- */

static void pause_in_made(t_conn *c)
{
    coil_transport_pause_reading(c->base.transport);
}

static void send_256k_and_lose(t_conn *c)
{
    write_pattern(c->base.transport, 256 * KIB, SEED, 0);
    coil_transport_lose_connection(c->base.transport);
}

static void paused_reading_holds_data_and_eof(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.keep = true;
    srv.on_made = pause_in_made;
    cli.on_made = send_256k_and_lose;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv.base, &port);
    assert_non_null(t_connect_tcp(r, &cli.base, port, NULL));
    T_RUN_UNTIL(r, srv.last && srv.last->made, 10);
    t_conn *s = srv.last;
    t_run_for(r, 0.3);
    assert_int_equal(s->rx.len, 0); /* nothing delivered while paused */
    assert_int_equal(s->lost_count, 0);
    coil_transport_resume_reading(s->base.transport);
    assert_int_equal(s->rx.len, 0); /* delivered from the loop */
    T_RUN_UNTIL(r, s->lost_count == 1 && cli.lost == 1, 10);
    assert_int_equal(s->rx.len, 256 * KIB);
    assert_true(is_pattern(s->rx.data, s->rx.len, SEED, 0));
    assert_int_equal(s->lost_reason, 0);
    t_conn_free(s);
    t_stop_listening(r, lp);
    t_teardown(r);
}

static bool reading_paused;
static int pause_cycles;

static void resume_later(void *arg)
{
    t_conn *c = arg;
    reading_paused = false;
    coil_transport_resume_reading(c->base.transport);
}

static void pause_each_chunk(t_conn *c, const void *data, size_t len)
{
    assert_false(reading_paused);
    reading_paused = true;
    pause_cycles++;
    coil_transport_pause_reading(c->base.transport);
    coil_reactor_call_later(coil_transport_reactor(c->base.transport), 0.002, resume_later, c);
}

static void send_2m_and_lose(t_conn *c)
{
    write_pattern(c->base.transport, 2 * MIB, SEED, 0);
    coil_transport_lose_connection(c->base.transport);
}

static void pause_resume_in_data_received_keeps_data_intact(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.keep = true;
    srv.on_data = pause_each_chunk;
    cli.on_made = send_2m_and_lose;
    reading_paused = false;
    pause_cycles = 0;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv.base, &port);
    assert_non_null(t_connect_tcp(r, &cli.base, port, NULL));
    T_RUN_UNTIL(r, srv.last && srv.last->lost_count == 1 && cli.lost == 1, 30);
    t_conn *s = srv.last;
    assert_int_equal(s->rx.len, 2 * MIB);
    assert_true(is_pattern(s->rx.data, s->rx.len, SEED, 0));
    assert_true(pause_cycles > 1);
    assert_int_equal(s->lost_reason, 0);
    t_run_for(r, 0.01);
    t_conn_free(s);
    t_stop_listening(r, lp);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(streaming_producer_paused_at_high_water),
        cmocka_unit_test(streaming_producer_custom_write_limits),
        cmocka_unit_test(echo_self_producer_bounds_queue),
        cmocka_unit_test(pull_producer_resumed_each_time_queue_drains),
        cmocka_unit_test(pull_producer_keeps_connection_until_unregistered),
        cmocka_unit_test(producer_stopped_when_connection_lost),
        cmocka_unit_test(paused_reading_holds_data_and_eof),
        cmocka_unit_test(pause_resume_in_data_received_keeps_data_intact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
