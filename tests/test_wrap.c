/* SPDX-License-Identifier: MIT */
/*
 * The wrapping API (coil/wrap.h): a toy wrapper that XORs every byte in
 * both directions sits under a recording protocol on both ends of a TCP
 * connection. The application protocols must see plaintext, the wire
 * ciphertext, and every transport call (close, abort, half-close, pause,
 * producers, addresses, borrowed writes) must behave as on a socket.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <coil/coil.h>
#include <coil/wrap.h>

#include "helpers.h"

#define KEY 0x5a

typedef struct xw {
    coil_wrap w;
    t_factory *app;
    t_buf wire; /* what the inner transport received */
    bool override;
    bool plain; /* no transformation, no coil_wrap_ops (pass-through) */
} xw;

typedef struct xw_factory {
    coil_factory base;
    t_factory *app;
    bool override;
    bool plain;
    xw *last;
    int freed;
} xw_factory;

static int xw_write(coil_wrap *w, const struct iovec *iov, int iovcnt)
{
    for (int i = 0; i < iovcnt; i++) {
        unsigned char *c = malloc(iov[i].iov_len ? iov[i].iov_len : 1);
        const unsigned char *p = iov[i].iov_base;
        for (size_t k = 0; k < iov[i].iov_len; k++)
            c[k] = p[k] ^ KEY;
        int rc = coil_transport_write(coil_wrap_inner(w), c, iov[i].iov_len);
        free(c);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static const coil_wrap_ops xw_ops = {.write = xw_write};

static void xw_made(coil_protocol *p)
{
    xw *x = (xw *)p;
    if (x->override) {
        coil_address peer, host;
        coil_address_from_ip(&peer, "10.1.2.3", 9);
        coil_address_from_ip(&host, "10.9.8.7", 7);
        assert_int_equal(coil_wrap_set_addresses(&x->w, &peer, &host), 0);
    }
    coil_protocol *app = x->app->base.ops->build_protocol(&x->app->base, NULL);
    assert_non_null(app);
    assert_int_equal(coil_wrap_attach(&x->w, app, &x->app->base), 0);
    assert_ptr_equal(coil_wrap_app(&x->w), app);
}

static void xw_data(coil_protocol *p, const void *data, size_t len)
{
    xw *x = (xw *)p;
    t_buf_append(&x->wire, data, len);
    if (x->plain) {
        coil_wrap_deliver(&x->w, data, len);
        return;
    }
    unsigned char *c = malloc(len);
    for (size_t k = 0; k < len; k++)
        c[k] = ((const unsigned char *)data)[k] ^ KEY;
    coil_wrap_deliver(&x->w, c, len);
    free(c);
}

static void xw_read_lost(coil_protocol *p)
{
    coil_wrap_deliver_eof((coil_wrap *)p);
}

static void xw_write_lost(coil_protocol *p)
{
    coil_wrap_deliver_write_eof((coil_wrap *)p);
}

static xw_factory *g_factories[2];

static void xw_lost(coil_protocol *p, int reason)
{
    xw *x = (xw *)p;
    coil_wrap_lost(&x->w, reason);
    assert_null(x->w.outer);
    for (int i = 0; i < 2; i++)
        if (g_factories[i] && g_factories[i]->last == x) {
            g_factories[i]->last = NULL;
            g_factories[i]->freed++;
        }
    t_buf_free(&x->wire);
    free(x);
}

static const coil_protocol_ops xw_inner_ops = {
    .connection_made = xw_made,
    .data_received = xw_data,
    .read_connection_lost = xw_read_lost,
    .write_connection_lost = xw_write_lost,
    .connection_lost = xw_lost,
};

static coil_protocol *xw_build(coil_factory *f, const coil_address *addr)
{
    xw_factory *xf = (xw_factory *)f;
    xw *x = calloc(1, sizeof(*x));
    coil_wrap_init(&x->w, &xw_inner_ops, xf->plain ? NULL : &xw_ops);
    x->plain = xf->plain;
    x->app = xf->app;
    x->override = xf->override;
    xf->last = x;
    return &x->w.proto;
}

static const coil_factory_ops xw_factory_ops = {.build_protocol = xw_build};

typedef struct fixture {
    coil_reactor *r;
    t_factory srv_app, cli_app;
    xw_factory srv, cli;
    coil_port *lp;
    t_conn *s, *c;
    xw *sx, *cx;
} fixture;

static bool g_half_close; /* the server's protocol is half-closeable */
static bool g_plain;      /* pass-through wrappers */

static void open_pair(fixture *fx, bool srv_echo, bool override)
{
    memset(fx, 0, sizeof(*fx));
    fx->r = t_reactor();
    t_factory_init(&fx->srv_app);
    t_factory_init(&fx->cli_app);
    fx->srv_app.keep = fx->cli_app.keep = true;
    fx->srv_app.echo = srv_echo;
    fx->srv_app.half_close = fx->cli_app.half_close = g_half_close;
    fx->srv = (xw_factory){
        .base.ops = &xw_factory_ops, .app = &fx->srv_app, .override = override, .plain = g_plain};
    fx->cli = (xw_factory){.base.ops = &xw_factory_ops, .app = &fx->cli_app, .plain = g_plain};
    g_factories[0] = &fx->srv;
    g_factories[1] = &fx->cli;
    uint16_t port;
    fx->lp = t_listen_tcp(fx->r, &fx->srv.base, &port);
    int err = -1;
    coil_protocol *inner = t_connect_tcp(fx->r, &fx->cli.base, port, &err);
    assert_int_equal(err, 0);
    fx->cx = (xw *)inner;
    fx->c = fx->cli_app.last;
    assert_non_null(fx->c);
    assert_int_equal(fx->c->made, 1);
    T_RUN_UNTIL(fx->r, fx->srv_app.last && fx->srv_app.last->made, 10);
    fx->s = fx->srv_app.last;
    fx->sx = fx->srv.last;
}

static void close_pair(fixture *fx, int srv_reason, int cli_reason)
{
    T_RUN_UNTIL(fx->r, fx->srv.freed == 1 && fx->cli.freed == 1, 10);
    assert_int_equal(fx->s->lost_count, 1);
    assert_int_equal(fx->c->lost_count, 1);
    if (srv_reason != 1)
        assert_int_equal(fx->s->lost_reason, srv_reason);
    if (cli_reason != 1)
        assert_int_equal(fx->c->lost_reason, cli_reason);
    t_conn_free(fx->s);
    t_conn_free(fx->c);
    t_stop_listening(fx->r, fx->lp);
    g_factories[0] = g_factories[1] = NULL;
    t_teardown(fx->r);
}

static void echo_through_the_wrapper(void **state)
{
    fixture fx;
    open_pair(&fx, true, false);
    coil_transport *t = fx.c->base.transport;
    assert_ptr_not_equal(t, coil_wrap_inner(&fx.cx->w));
    assert_ptr_equal(coil_transport_protocol(t), &fx.c->base);
    assert_ptr_equal(coil_transport_reactor(t), fx.r);
    assert_true(coil_transport_fileno(t) >= 0);
    assert_int_equal(coil_transport_set_tcp_nodelay(t, true), 0);
    assert_int_equal(coil_transport_write(t, "hello, ", 7), 0);
    struct iovec iov[2] = {{"wrapped ", 8}, {"world", 5}};
    assert_int_equal(coil_transport_writev(t, iov, 2), 0);
    T_RUN_UNTIL(fx.r, fx.c->rx.len == 20, 10);
    assert_memory_equal(fx.c->rx.data, "hello, wrapped world", 20);
    /* The wire carried the transformed bytes. */
    assert_int_equal(fx.sx->wire.len, 20);
    assert_int_equal(fx.sx->wire.data[0], 'h' ^ KEY);
    assert_false(coil_transport_is_disconnecting(t));
    coil_transport_lose_connection(t);
    assert_true(coil_transport_is_disconnecting(t));
    coil_transport_lose_connection(t); /* idempotent */
    close_pair(&fx, 0, 0);
}

static void abort_reaches_both_sides(void **state)
{
    fixture fx;
    open_pair(&fx, false, false);
    coil_transport_abort_connection(fx.c->base.transport);
    coil_transport_abort_connection(fx.c->base.transport);
    assert_int_equal(coil_transport_write(fx.c->base.transport, "x", 1), -ENOTCONN);
    close_pair(&fx, 1, COIL_EABORTED);
}

static void addresses_can_be_overridden(void **state)
{
    fixture fx;
    open_pair(&fx, false, true);
    coil_address a;
    char buf[COIL_ADDRESS_STRLEN];
    assert_int_equal(coil_transport_get_peer(fx.s->base.transport, &a), 0);
    coil_address_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, "10.1.2.3:9");
    assert_int_equal(coil_transport_get_host(fx.s->base.transport, &a), 0);
    coil_address_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, "10.9.8.7:7");
    /* Not overridden: the socket's. */
    assert_int_equal(coil_transport_get_peer(fx.c->base.transport, &a), 0);
    coil_address_format(&a, buf, sizeof(buf));
    assert_true(strncmp(buf, "127.0.0.1:", 10) == 0);
    coil_transport_lose_connection(fx.s->base.transport);
    close_pair(&fx, 0, 0);
}

/* Pausing the outer transport holds what the wrapper delivers and pauses
 * the inner one; resuming delivers in order, from the loop. */
static int paused_calls;
static void pause_on_data(t_conn *c, const void *data, size_t len)
{
    if (paused_calls++ == 0)
        coil_transport_pause_reading(c->base.transport);
}

static void pause_holds_and_resume_delivers(void **state)
{
    fixture fx;
    paused_calls = 0;
    open_pair(&fx, false, false);
    fx.s->on_data = pause_on_data;
    enum { N = 300000 };
    unsigned char *msg = malloc(N);
    t_fill_pattern(msg, N, 7, 0);
    assert_int_equal(coil_transport_write(fx.c->base.transport, msg, N), 0);
    T_RUN_UNTIL(fx.r, fx.s->rx.len > 0, 10);
    t_run_for(fx.r, 0.2);
    size_t seen = fx.s->rx.len;
    assert_true(seen < N); /* paused: nothing more was delivered */
    assert_int_equal(paused_calls, 1);
    coil_transport_resume_reading(fx.s->base.transport);
    assert_int_equal(fx.s->rx.len, seen); /* never synchronously */
    T_RUN_UNTIL(fx.r, fx.s->rx.len == N, 10);
    assert_memory_equal(fx.s->rx.data, msg, N);
    free(msg);
    coil_transport_lose_connection(fx.c->base.transport);
    close_pair(&fx, 0, 0);
}

/* Half-close passes through: the server sees the client's EOF, can still
 * answer, and the client's write_connection_lost runs. */
static void on_eof_answer(t_conn *c, const void *data, size_t len) {}

static void half_close_passes_through(void **state)
{
    fixture fx;
    g_half_close = true;
    open_pair(&fx, false, false);
    g_half_close = false;
    fx.s->on_data = on_eof_answer;
    coil_transport *ct = fx.c->base.transport;
    assert_int_equal(coil_transport_write(ct, "question", 8), 0);
    coil_transport_lose_write_connection(ct);
    assert_int_equal(coil_transport_write(ct, "late", 4), -ENOTCONN);
    T_RUN_UNTIL(fx.r, fx.s->read_eof == 1 && fx.c->write_lost == 1, 10);
    assert_int_equal(fx.s->rx.len, 8);
    assert_int_equal(coil_transport_write(fx.s->base.transport, "answer", 6), 0);
    coil_transport_lose_connection(fx.s->base.transport);
    T_RUN_UNTIL(fx.r, fx.c->rx.len == 6 && fx.c->read_eof == 1, 10);
    assert_memory_equal(fx.c->rx.data, "answer", 6);
    coil_transport_lose_connection(fx.c->base.transport);
    close_pair(&fx, 0, 0);
}

/* A borrowed buffer is released exactly once, from the loop. */
static int released;
static void release_once(void *arg, const void *data, size_t len)
{
    released++;
}

/* The outer transport as its own producer (as coild echo registers it):
 * the connection still closes when asked. */
static void borrowed_writes_and_self_producer(void **state)
{
    fixture fx;
    released = 0;
    open_pair(&fx, true, false);
    coil_transport *t = fx.c->base.transport;
    static const char text[] = "borrowed bytes";
    assert_int_equal(coil_transport_write_borrowed(t, text, 14, release_once, NULL), 0);
    assert_int_equal(released, 0);
    assert_int_equal(coil_transport_write_borrowed(t, text, 0, release_once, NULL), -EINVAL);
    T_RUN_UNTIL(fx.r, fx.c->rx.len == 14 && released == 1, 10);
    coil_transport *st = fx.s->base.transport;
    assert_int_equal(coil_transport_register_producer(st, coil_transport_producer(st), true), 0);
    assert_int_equal(coil_transport_register_producer(st, coil_transport_producer(st), true),
                     -EBUSY);
    coil_transport_set_write_limits(st, 1024, 0);
    assert_int_equal(coil_transport_write_buffer_size(st), 0);
    coil_transport_lose_connection(st);
    close_pair(&fx, 0, 0);
    assert_int_equal(released, 1);
}

/* Without coil_wrap_ops everything passes through, borrowed writes too. */
static void pass_through_borrows(void **state)
{
    fixture fx;
    released = 0;
    g_plain = true;
    open_pair(&fx, true, false);
    g_plain = false;
    static const char text[] = "passed through";
    assert_int_equal(
        coil_transport_write_borrowed(fx.c->base.transport, text, 14, release_once, NULL), 0);
    T_RUN_UNTIL(fx.r, fx.c->rx.len == 14 && released == 1, 10);
    assert_memory_equal(fx.c->rx.data, text, 14);
    assert_memory_equal(fx.sx->wire.data, text, 14); /* unchanged on the wire */
    coil_transport_lose_connection(fx.c->base.transport);
    close_pair(&fx, 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(echo_through_the_wrapper),
        cmocka_unit_test(abort_reaches_both_sides),
        cmocka_unit_test(addresses_can_be_overridden),
        cmocka_unit_test(pause_holds_and_resume_delivers),
        cmocka_unit_test(half_close_passes_through),
        cmocka_unit_test(borrowed_writes_and_self_producer),
        cmocka_unit_test(pass_through_borrows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
