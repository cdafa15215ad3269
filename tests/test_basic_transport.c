/* SPDX-License-Identifier: MIT */
/*
 * The framing receivers of <coil/basic.h> over real loopback connections
 * (run on every backend): sending lines and strings, closing and aborting
 * from inside line_received (the lines after are not delivered), the
 * default line_length_exceeded closing the connection, pausing that stops
 * both delivery and reading, and protocols freed by their connection_lost
 * (AddressSanitizer watches every test).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <coil/coil.h>

#include "helpers.h"

/* ---- a line server whose behaviour each test picks ----------------------- */

typedef struct line_factory {
    coil_factory base;
    const coil_line_receiver_ops *ops;
    t_buf lines; /* every line received, each followed by '\n' */
    int built, lost, lost_reason, nlines;
    struct line_srv *last;
} line_factory;

typedef struct line_srv {
    coil_line_receiver lr; /* first */
    line_factory *f;
} line_srv;

static void srv_record(coil_line_receiver *lr, const char *line, size_t len)
{
    line_factory *f = ((line_srv *)lr)->f;
    if (len)
        t_buf_append(&f->lines, line, len);
    t_buf_append(&f->lines, "\n", 1);
    f->nlines++;
}

static void srv_lost(coil_line_receiver *lr, int reason)
{
    line_srv *s = (line_srv *)lr;
    s->f->lost++;
    s->f->lost_reason = reason;
    if (s->f->last == s)
        s->f->last = NULL;
    free(s); /* the receiver must not touch lr after this */
}

static coil_protocol *srv_build(coil_factory *base, const coil_address *addr)
{
    line_factory *f = (line_factory *)base;
    line_srv *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    coil_line_receiver_init(&s->lr, f->ops);
    s->f = f;
    f->built++;
    f->last = s;
    return &s->lr.base;
}

static const coil_factory_ops srv_factory_ops = {.build_protocol = srv_build};

typedef struct fixture {
    coil_reactor *r;
    line_factory f;
    t_factory cli;
    coil_port *lp;
    t_conn *c;
} fixture;

static void open_fixture(fixture *x, const coil_line_receiver_ops *ops)
{
    memset(x, 0, sizeof(*x));
    x->r = t_reactor();
    x->f.base.ops = &srv_factory_ops;
    x->f.ops = ops;
    t_factory_init(&x->cli);
    x->cli.keep = true;
    uint16_t port;
    x->lp = t_listen_tcp(x->r, &x->f.base, &port);
    int err = -1;
    x->c = (t_conn *)t_connect_tcp(x->r, &x->cli.base, port, &err);
    assert_int_equal(err, 0);
    T_RUN_UNTIL(x->r, x->f.built == 1 && x->f.last, 10);
}

static void client_send(fixture *x, const char *s)
{
    assert_int_equal(coil_transport_write(x->c->base.transport, s, strlen(s)), 0);
}

static bool lines_are(fixture *x, const char *want);

/* Wait until both sides are gone, check the server's lines, tear down. */
static void close_fixture(fixture *x, int want_srv_reason, const char *want_lines)
{
    T_RUN_UNTIL(x->r, x->f.lost == 1 && x->c->lost_count == 1, 10);
    assert_int_equal(x->f.lost_reason, want_srv_reason);
    if (!lines_are(x, want_lines))
        fail_msg("lines: \"%.*s\", want \"%s\"", (int)x->f.lines.len, (const char *)x->f.lines.data,
                 want_lines);
    t_conn_free(x->c);
    t_stop_listening(x->r, x->lp);
    t_teardown(x->r);
    t_buf_free(&x->f.lines);
}

static bool lines_are(fixture *x, const char *want)
{
    if (!want)
        return true;
    return x->f.lines.len == strlen(want) && memcmp(x->f.lines.data, want, x->f.lines.len) == 0;
}

#define EXPECT_LINES(x, want)                                                                      \
    do {                                                                                           \
        if (!lines_are(x, want))                                                                   \
            fail_msg("lines: \"%.*s\", want \"%s\"", (int)(x)->f.lines.len,                        \
                     (const char *)(x)->f.lines.data, want);                                       \
    } while (0)

/* ---- echo with a count, via send_line and send_linef ---------------------- */

static void echo_line(coil_line_receiver *lr, const char *line, size_t len)
{
    srv_record(lr, line, len);
    if (len == 3 && memcmp(line, "bye", 3) == 0) {
        coil_line_receiver_send_line(lr, "ciao", 4);
        coil_transport_lose_connection(lr->base.transport);
        return;
    }
    assert_int_equal(coil_line_receiver_send_linef(lr, "%zu:%.*s", len, (int)len, line), 0);
}

static const coil_line_receiver_ops echo_ops = {.line_received = echo_line,
                                                .connection_lost = srv_lost};

static void test_lines_roundtrip(void **state)
{
    fixture x;
    open_fixture(&x, &echo_ops);
    client_send(&x, "hello\r\nwor");
    T_RUN_UNTIL(x.r, x.f.nlines == 1, 10);
    client_send(&x, "ld\r\n\r\n");
    /* A formatted line longer than send_linef's stack buffer. */
    char big[2001];
    memset(big, 'b', 2000);
    big[2000] = '\0';
    client_send(&x, big);
    client_send(&x, "\r\nbye\r\nnever\r\n");
    T_RUN_UNTIL(x.r, x.c->lost_count == 1, 10);
    char want[2100];
    snprintf(want, sizeof(want), "5:hello\r\n5:world\r\n0:\r\n2000:%s\r\nciao\r\n", big);
    assert_int_equal(x.c->rx.len, strlen(want));
    assert_memory_equal(x.c->rx.data, want, strlen(want));
    snprintf(want, sizeof(want), "hello\nworld\n\n%s\nbye\n", big);
    close_fixture(&x, 0, want);
}

/* ---- close and abort from inside line_received ----------------------------- */

static void quit_line(coil_line_receiver *lr, const char *line, size_t len)
{
    srv_record(lr, line, len);
    if (len == 4 && memcmp(line, "quit", 4) == 0)
        coil_transport_lose_connection(lr->base.transport);
    else if (len == 5 && memcmp(line, "abort", 5) == 0)
        coil_transport_abort_connection(lr->base.transport);
}

static const coil_line_receiver_ops quit_ops = {.line_received = quit_line,
                                                .connection_lost = srv_lost};

static void test_lose_connection_in_line_received(void **state)
{
    fixture x;
    open_fixture(&x, &quit_ops);
    client_send(&x, "a\r\nquit\r\nb\r\nc\r\n");
    /* The lines after "quit" are dropped, even from the same chunk. */
    close_fixture(&x, 0, "a\nquit\n");
}

static void test_abort_in_line_received(void **state)
{
    fixture x;
    open_fixture(&x, &quit_ops);
    client_send(&x, "a\r\nabort\r\nb\r\nc\r\n");
    close_fixture(&x, COIL_EABORTED, "a\nabort\n");
}

/* Closing from raw_data_received too: no more raw data afterwards. */
static void raw_line(coil_line_receiver *lr, const char *line, size_t len)
{
    srv_record(lr, line, len);
    coil_line_receiver_set_raw_mode(lr);
}

static void raw_data(coil_line_receiver *lr, const void *data, size_t len)
{
    srv_record(lr, data, len);
    coil_transport_lose_connection(lr->base.transport);
    coil_line_receiver_set_line_mode(lr, "ignored\r\n", 9);
}

static const coil_line_receiver_ops raw_ops = {
    .line_received = raw_line, .raw_data_received = raw_data, .connection_lost = srv_lost};

static void test_lose_connection_in_raw_data(void **state)
{
    fixture x;
    open_fixture(&x, &raw_ops);
    client_send(&x, "go\r\nRAW");
    close_fixture(&x, 0, "go\nRAW\n");
}

/* ---- the default line_length_exceeded closes the connection ---------------- */

static void test_line_too_long_closes(void **state)
{
    coil_log_level old = coil_log_get_level();
    coil_log_set_level(COIL_LOG_INFO);
    t_log_capture();
    fixture x;
    open_fixture(&x, &quit_ops);
    char *s = malloc(16386 + 1);
    memset(s, 'x', 16385);
    memcpy(s + 16385, "\n", 2); /* no CRLF: 16386 bytes trigger it */
    client_send(&x, "ok\r\n");
    client_send(&x, s);
    free(s);
    T_RUN_UNTIL(x.r, x.f.lost == 1, 10);
    close_fixture(&x, 0, "ok\n");
    assert_int_equal(t_log_count("line longer than 16384 bytes"), 1);
    coil_log_set_level(old);
    coil_log_set_handler(NULL, NULL);
}

/* ---- pausing stops delivery and reading; resume drains ------------------- */

static void pause_line(coil_line_receiver *lr, const char *line, size_t len)
{
    srv_record(lr, line, len);
    if (len == 5 && memcmp(line, "pause", 5) == 0)
        coil_line_receiver_pause_producing(lr);
    if (len == 4 && memcmp(line, "done", 4) == 0)
        coil_transport_lose_connection(lr->base.transport);
}

static const coil_line_receiver_ops pause_ops = {.line_received = pause_line,
                                                 .connection_lost = srv_lost};

static void test_pause_stops_delivery(void **state)
{
    fixture x;
    open_fixture(&x, &pause_ops);
    client_send(&x, "a\r\npause\r\nb\r\nc\r\n");
    T_RUN_UNTIL(x.r, x.f.nlines == 2, 10);
    client_send(&x, "d\r\n");
    t_run_for(x.r, 0.2);
    EXPECT_LINES(&x, "a\npause\n");
    /* What arrived meanwhile is in the receiver (same chunk) or in the
     * socket (reading is paused): never delivered while paused. */
    coil_line_receiver_resume_producing(&x.f.last->lr);
    T_RUN_UNTIL(x.r, x.f.nlines == 5, 10);
    EXPECT_LINES(&x, "a\npause\nb\nc\nd\n");
    client_send(&x, "done\r\n");
    close_fixture(&x, 0, "a\npause\nb\nc\nd\ndone\n");
}

/* A paused receiver buffers no more than one read: the transport really
 * stops reading (the peer's writes back up in the kernel). */
static void test_pause_applies_backpressure(void **state)
{
    fixture x;
    open_fixture(&x, &pause_ops);
    client_send(&x, "pause\r\n");
    T_RUN_UNTIL(x.r, x.f.nlines == 1, 10);
    char *chunk = malloc(65536);
    for (size_t i = 0; i < 65536; i += 8)
        memcpy(chunk + i, "line67\r\n", 8);
    /* 16 MiB: more than the kernel's socket buffers on both sides can hold,
     * so some of it must stay queued in the client. */
    for (int i = 0; i < 256; i++)
        assert_int_equal(coil_transport_write(x.c->base.transport, chunk, 65536), 0);
    free(chunk);
    t_run_for(x.r, 0.3);
    assert_int_equal(x.f.nlines, 1);
    size_t held = coil_line_receiver_buffered(&x.f.last->lr);
    assert_true(held <= 1024 * 1024);
    assert_true(coil_transport_write_buffer_size(x.c->base.transport) > 0);
    coil_line_receiver_resume_producing(&x.f.last->lr);
    T_RUN_UNTIL(x.r, x.f.nlines == 1 + 256 * 8192, 60);
    client_send(&x, "done\r\n");
    close_fixture(&x, 0, NULL);
}

/* ---- strings over the wire ------------------------------------------------ */

typedef struct str_srv {
    coil_netstring_receiver ns;
    int *lost;
} str_srv;

static void ns_echo(coil_netstring_receiver *r, const void *data, size_t len)
{
    coil_netstring_receiver_send_string(r, data, len);
    if (len == 3 && memcmp(data, "end", 3) == 0)
        coil_transport_lose_connection(r->base.transport);
}

static void ns_lost(coil_netstring_receiver *r, int reason)
{
    (*((str_srv *)r)->lost)++;
    free(r);
}

static const coil_netstring_receiver_ops ns_ops = {.string_received = ns_echo,
                                                   .connection_lost = ns_lost};
static int ns_lost_count;

static coil_protocol *ns_build(coil_factory *f, const coil_address *a)
{
    str_srv *s = calloc(1, sizeof(*s));
    coil_netstring_receiver_init(&s->ns, &ns_ops);
    s->lost = &ns_lost_count;
    return &s->ns.base;
}

static const coil_factory_ops ns_factory_ops = {.build_protocol = ns_build};

static void test_netstring_over_tcp(void **state)
{
    coil_reactor *r = t_reactor();
    coil_factory f = {.ops = &ns_factory_ops};
    t_factory cli;
    t_factory_init(&cli);
    cli.keep = true;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &f, &port);
    int err;
    t_conn *c = (t_conn *)t_connect_tcp(r, &cli.base, port, &err);
    assert_int_equal(err, 0);
    ns_lost_count = 0;
    static const char in[] = "5:hello,0:,4:1:a,,3:end,5:never,";
    coil_transport_write(c->base.transport, in, sizeof(in) - 1);
    T_RUN_UNTIL(r, c->lost_count == 1 && ns_lost_count == 1, 10);
    static const char want[] = "5:hello,0:,4:1:a,,3:end,";
    assert_int_equal(c->rx.len, sizeof(want) - 1);
    assert_memory_equal(c->rx.data, want, sizeof(want) - 1);
    t_conn_free(c);
    t_stop_listening(r, lp);
    t_teardown(r);
}

/* Malformed input: the server loses the connection (Twisted's brokenPeer). */
static void test_netstring_bad_input_closes(void **state)
{
    coil_reactor *r = t_reactor();
    coil_factory f = {.ops = &ns_factory_ops};
    t_factory cli;
    t_factory_init(&cli);
    cli.keep = true;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &f, &port);
    int err;
    t_conn *c = (t_conn *)t_connect_tcp(r, &cli.base, port, &err);
    assert_int_equal(err, 0);
    ns_lost_count = 0;
    coil_transport_write(c->base.transport, "2:ok,2:bad,", 11);
    T_RUN_UNTIL(r, c->lost_count == 1 && ns_lost_count == 1, 10);
    assert_int_equal(c->lost_reason, 0);
    assert_int_equal(c->rx.len, 5);
    assert_memory_equal(c->rx.data, "2:ok,", 5);
    t_conn_free(c);
    t_stop_listening(r, lp);
    t_teardown(r);
}

/* Int32 on both ends: a coil client sends, the server echoes. */
typedef struct i32 {
    coil_intn_receiver r;
    t_buf got;
    int strings, lost;
    bool server;
} i32;

static void i32_string(coil_intn_receiver *r, const void *data, size_t len)
{
    i32 *p = (i32 *)r;
    p->strings++;
    if (len) /* t_buf_append: no memcpy to a NULL buffer */
        t_buf_append(&p->got, data, len);
    if (p->server)
        assert_int_equal(coil_intn_receiver_send_string(r, data, len), 0);
}

static void i32_lost(coil_intn_receiver *r, int reason)
{
    i32 *p = (i32 *)r;
    p->lost++;
    if (p->server) {
        t_buf_free(&p->got);
        free(p);
    }
}

static const coil_intn_receiver_ops i32_ops = {.string_received = i32_string,
                                               .connection_lost = i32_lost};
static i32 *i32_client;

static coil_protocol *i32_build(coil_factory *f, const coil_address *a)
{
    i32 *p = calloc(1, sizeof(*p));
    coil_int32_receiver_init(&p->r, &i32_ops);
    p->server = true;
    return &p->r.base;
}

static coil_protocol *i32_build_client(coil_factory *f, const coil_address *a)
{
    return &i32_client->r.base;
}

static const coil_factory_ops i32_srv_ops = {.build_protocol = i32_build};
static const coil_factory_ops i32_cli_ops = {.build_protocol = i32_build_client};

static void test_int32_over_tcp(void **state)
{
    coil_reactor *r = t_reactor();
    i32_client = calloc(1, sizeof(*i32_client));
    coil_int32_receiver_init(&i32_client->r, &i32_ops);
    coil_factory srv = {.ops = &i32_srv_ops};
    coil_factory cli = {.ops = &i32_cli_ops};
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv, &port);
    int err;
    coil_protocol *p = t_connect_tcp(r, &cli, port, &err);
    assert_int_equal(err, 0);
    assert_ptr_equal(p, &i32_client->r.base);
    /* 300 strings of growing size, up to 70000 bytes (above 2^16). */
    size_t total = 0;
    char *buf = malloc(70000);
    t_fill_pattern(buf, 70000, 7, 0);
    for (size_t i = 0; i < 300; i++) {
        size_t n = i * i % 70001;
        assert_int_equal(coil_intn_receiver_send_string(&i32_client->r, buf, n), 0);
        total += n;
    }
    T_RUN_UNTIL(r, i32_client->strings == 300, 30);
    assert_int_equal(i32_client->got.len, total);
    size_t off = 0;
    for (size_t i = 0; i < 300; i++) {
        size_t n = i * i % 70001;
        assert_memory_equal(i32_client->got.data + off, buf, n);
        off += n;
    }
    free(buf);
    coil_transport_lose_connection(i32_client->r.base.transport);
    T_RUN_UNTIL(r, i32_client->lost == 1, 10);
    t_buf_free(&i32_client->got);
    free(i32_client);
    i32_client = NULL;
    t_stop_listening(r, lp);
    t_teardown(r);
}

/* ---- half-close is forwarded when the user asks for it -------------------- */

static void hc_read_lost(coil_line_receiver *lr)
{
    coil_line_receiver_send_line(lr, "eof seen", 8);
    coil_transport_lose_connection(lr->base.transport);
}

static const coil_line_receiver_ops hc_ops = {
    .line_received = srv_record, .read_connection_lost = hc_read_lost, .connection_lost = srv_lost};

static void test_half_close_forwarded(void **state)
{
    fixture x;
    open_fixture(&x, &hc_ops);
    client_send(&x, "last\r\n");
    coil_transport_lose_write_connection(x.c->base.transport);
    T_RUN_UNTIL(x.r, x.c->lost_count == 1, 10);
    assert_int_equal(x.c->rx.len, 10);
    assert_memory_equal(x.c->rx.data, "eof seen\r\n", 10);
    close_fixture(&x, 0, "last\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_roundtrip),
        cmocka_unit_test(test_lose_connection_in_line_received),
        cmocka_unit_test(test_abort_in_line_received),
        cmocka_unit_test(test_lose_connection_in_raw_data),
        cmocka_unit_test(test_line_too_long_closes),
        cmocka_unit_test(test_pause_stops_delivery),
        cmocka_unit_test(test_pause_applies_backpressure),
        cmocka_unit_test(test_netstring_over_tcp),
        cmocka_unit_test(test_netstring_bad_input_closes),
        cmocka_unit_test(test_int32_over_tcp),
        cmocka_unit_test(test_half_close_forwarded),
    };
    return cmocka_run_group_tests_name("basic_transport", tests, NULL, NULL);
}
