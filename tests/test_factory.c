/* SPDX-License-Identifier: MIT */
/*
 * Factories on both backends: start_factory/stop_factory once per first and
 * last user (ports and connectors alike, Twisted's doStart/doStop),
 * build_protocol's arguments, and Twisted's "Welcome! There are currently
 * %d open connections." example: a factory counting its open connections.
 */
#include "helpers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void stop_reactor(void *arg)
{
    coil_reactor_stop(arg);
}

static void start_stop_once_for_two_ports(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    uint16_t p1, p2;
    coil_port *a = t_listen_tcp(r, &f.base, &p1);
    assert_int_equal(f.started, 1);
    coil_port *b = t_listen_tcp(r, &f.base, &p2);
    assert_int_equal(f.started, 1);
    assert_int_equal(f.base.num_ports, 2);
    t_stop_listening(r, a);
    assert_int_equal(f.stopped, 0);
    t_stop_listening(r, b);
    assert_int_equal(f.stopped, 1);
    assert_int_equal(f.base.num_ports, 0);
    /* Used again: started again. */
    coil_port *c = t_listen_tcp(r, &f.base, &p1);
    assert_int_equal(f.started, 2);
    t_stop_listening(r, c);
    assert_int_equal(f.stopped, 2);
    t_teardown(r);
}

static void count_done(void *arg)
{
    (*(int *)arg)++;
}

static void stop_listening_is_idempotent(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &f.base, &port);
    int done1 = 0, done2 = 0;
    coil_port_stop_listening(p, count_done, &done1);
    coil_port_stop_listening(p, count_done, &done2); /* later calls do nothing */
    assert_int_equal(done1, 0);                      /* done runs from the loop */
    T_RUN_UNTIL(r, done1 == 1, 5);
    assert_int_equal(f.stopped, 1); /* do_stop ran before done */
    t_run_for(r, 0.02);
    assert_int_equal(done1, 1);
    assert_int_equal(done2, 0);
    assert_int_equal(f.stopped, 1);
    t_teardown(r);
}

static void ports_closed_by_reactor_stop_stop_the_factory(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    uint16_t p1, p2;
    t_listen_tcp(r, &f.base, &p1);
    t_listen_tcp(r, &f.base, &p2);
    coil_reactor_call_later(r, 0.02, stop_reactor, r);
    alarm(30); /* run() has no timeout of its own: bound it */
    assert_int_equal(coil_reactor_run(r), 0);
    alarm(0);
    assert_int_equal(f.started, 1);
    assert_int_equal(f.stopped, 1);
    t_teardown(r);
}

static void connectors_start_and_stop_their_factory(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    cli.keep = true;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv.base, &port);
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", port);
    t_connect_result r1 = {0}, r2 = {0};
    assert_int_equal(coil_connect_tcp(r, &a, NULL, &cli.base, t_on_connect, &r1, NULL), 0);
    assert_int_equal(cli.started, 1);
    assert_int_equal(coil_connect_tcp(r, &a, NULL, &cli.base, t_on_connect, &r2, NULL), 0);
    assert_int_equal(cli.started, 1);
    T_RUN_UNTIL(r, r1.calls && r2.calls && srv.open == 2, 10);
    assert_int_equal(r1.err, 0);
    assert_int_equal(r2.err, 0);
    t_conn *c1 = (t_conn *)r1.p, *c2 = (t_conn *)r2.p;
    /* A connected connector keeps its factory started until the end. */
    assert_int_equal(cli.stopped, 0);
    coil_transport_lose_connection(c1->base.transport);
    T_RUN_UNTIL(r, c1->lost_count == 1, 10);
    assert_int_equal(cli.stopped, 0);
    coil_transport_lose_connection(c2->base.transport);
    T_RUN_UNTIL(r, c2->lost_count == 1 && srv.open == 0, 10);
    assert_int_equal(cli.started, 1);
    assert_int_equal(cli.stopped, 1);
    t_conn_free(c1);
    t_conn_free(c2);
    t_stop_listening(r, lp);
    assert_int_equal(srv.stopped, 1);
    t_teardown(r);
}

static void shared_factory_for_port_and_connector(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    f.echo = true;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &f.base, &port);
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", port);
    t_connect_result res = {0};
    assert_int_equal(coil_connect_tcp(r, &a, NULL, &f.base, t_on_connect, &res, NULL), 0);
    T_RUN_UNTIL(r, res.calls == 1 && f.open == 2, 10);
    assert_int_equal(f.started, 1);
    t_stop_listening(r, lp);
    assert_int_equal(f.stopped, 0); /* the connection still uses it */
    coil_transport_lose_connection(res.p->transport);
    T_RUN_UNTIL(r, f.lost == 2, 10);
    assert_int_equal(f.started, 1);
    assert_int_equal(f.stopped, 1);
    t_teardown(r);
}

/* ---- build_protocol's arguments ------------------------------------------------- */

typedef struct addr_factory {
    coil_factory base;
    t_factory inner;
    coil_address seen;
    int calls;
} addr_factory;

static coil_protocol *addr_build(coil_factory *f, const coil_address *addr)
{
    addr_factory *af = (addr_factory *)f;
    af->seen = *addr;
    af->calls++;
    coil_protocol *p = af->inner.base.ops->build_protocol(&af->inner.base, addr);
    p->factory = NULL; /* coil sets it to the building factory */
    return p;
}

static const coil_factory_ops addr_factory_ops = {.build_protocol = addr_build};

static void build_protocol_gets_peer_address(void **state)
{
    coil_reactor *r = t_reactor();
    addr_factory af = {.base.ops = &addr_factory_ops};
    t_factory_init(&af.inner);
    af.inner.keep = true;
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &af.base, &port);
    t_factory cli;
    t_factory_init(&cli);
    cli.keep = true;
    t_conn *c = (t_conn *)t_connect_tcp(r, &cli.base, port, NULL);
    assert_non_null(c);
    T_RUN_UNTIL(r, af.inner.open == 1, 10);
    t_conn *s = af.inner.last;
    assert_int_equal(af.calls, 1);
    assert_ptr_equal(s->base.factory, &af.base);
    assert_ptr_equal(c->base.factory, &cli.base);
    coil_address host;
    assert_int_equal(coil_transport_get_host(c->base.transport, &host), 0);
    assert_true(coil_address_equal(&af.seen, &host)); /* the client's address */
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(r, c->lost_count && s->lost_count, 10);
    t_conn_free(c);
    t_conn_free(s);
    t_stop_listening(r, lp);
    t_teardown(r);
}

/* ---- Twisted's "Welcome!" example ------------------------------------------------- */

typedef struct welcome_factory {
    coil_factory base;
    int num_protocols;
    int built, lost;
} welcome_factory;

static void welcome_made(coil_protocol *p)
{
    welcome_factory *f = (welcome_factory *)p->factory;
    f->num_protocols++;
    char msg[96];
    int n = snprintf(msg, sizeof(msg), "Welcome! There are currently %d open connections.\n",
                     f->num_protocols);
    assert_int_equal(coil_transport_write(p->transport, msg, (size_t)n), 0);
}

static void welcome_data(coil_protocol *p, const void *data, size_t len)
{
}

static void welcome_lost(coil_protocol *p, int reason)
{
    welcome_factory *f = (welcome_factory *)p->factory;
    f->num_protocols--;
    f->lost++;
    free(p);
}

static const coil_protocol_ops welcome_ops = {.connection_made = welcome_made,
                                              .data_received = welcome_data,
                                              .connection_lost = welcome_lost};

static coil_protocol *welcome_build(coil_factory *f, const coil_address *addr)
{
    coil_protocol *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    p->ops = &welcome_ops;
    ((welcome_factory *)f)->built++;
    return p;
}

static const coil_factory_ops welcome_factory_ops = {.build_protocol = welcome_build};

static t_conn *welcome_client(coil_reactor *r, t_factory *cli, uint16_t port, int expect)
{
    t_conn *c = (t_conn *)t_connect_tcp(r, &cli->base, port, NULL);
    assert_non_null(c);
    T_RUN_UNTIL(r, c->rx.len && c->rx.data[c->rx.len - 1] == '\n', 10);
    char want[96];
    snprintf(want, sizeof(want), "Welcome! There are currently %d open connections.\n", expect);
    t_buf_append(&c->rx, "", 1);
    assert_string_equal((const char *)c->rx.data, want);
    return c;
}

static void welcome_counts_open_connections(void **state)
{
    coil_reactor *r = t_reactor();
    welcome_factory wf = {.base.ops = &welcome_factory_ops};
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &wf.base, &port);
    t_factory cli;
    t_factory_init(&cli);
    cli.keep = true;
    t_conn *c1 = welcome_client(r, &cli, port, 1);
    t_conn *c2 = welcome_client(r, &cli, port, 2);
    t_conn *c3 = welcome_client(r, &cli, port, 3);
    assert_int_equal(wf.num_protocols, 3);
    /* The count drops as connections close. */
    coil_transport_lose_connection(c1->base.transport);
    T_RUN_UNTIL(r, wf.num_protocols == 2 && c1->lost_count == 1, 10);
    t_conn *c4 = welcome_client(r, &cli, port, 3);
    coil_transport_lose_connection(c2->base.transport);
    coil_transport_lose_connection(c3->base.transport);
    T_RUN_UNTIL(r, wf.num_protocols == 1, 10);
    coil_transport_lose_connection(c4->base.transport);
    T_RUN_UNTIL(r, wf.num_protocols == 0 && cli.lost == 4, 10);
    assert_int_equal(wf.built, 4);
    assert_int_equal(wf.lost, 4);
    t_conn *all[] = {c1, c2, c3, c4};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(all[i]->lost_count, 1);
        assert_int_equal(all[i]->lost_reason, 0);
        t_conn_free(all[i]);
    }
    t_stop_listening(r, lp);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(start_stop_once_for_two_ports),
        cmocka_unit_test(stop_listening_is_idempotent),
        cmocka_unit_test(ports_closed_by_reactor_stop_stop_the_factory),
        cmocka_unit_test(connectors_start_and_stop_their_factory),
        cmocka_unit_test(shared_factory_for_port_and_connector),
        cmocka_unit_test(build_protocol_gets_peer_address),
        cmocka_unit_test(welcome_counts_open_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
