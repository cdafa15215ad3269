/* SPDX-License-Identifier: MIT */
/*
 * HostnameEndpoint: connecting by IP literal (no resolver) and by
 * "localhost"; with an installed fake resolver: the staggered second
 * attempt winning over a black hole, two good addresses (one protocol
 * built, the loser closed), every address refused (the last failure), no
 * results, the whole-connect timeout (connecting and resolving), cancel
 * while resolving and while connecting, bind addresses, a refusing
 * factory, connect_protocol, and freeing the endpoint while connecting.
 * Only loopback addresses are used.
 */
#include "helpers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a fake resolver ---------------------------------------------------------- */

typedef struct fake {
    coil_address addrs[4];
    size_t n;
    bool hang; /* return a Deferred that only a cancel fires */
    int calls, cancelled;
} fake;

static void fake_cancel(coil_deferred *d, void *arg)
{
    ((fake *)arg)->cancelled++; /* coil errbacks with CancelledError */
}

static coil_deferred *fake_resolve(void *arg, coil_reactor *r, const char *host, uint16_t port)
{
    fake *f = arg;
    f->calls++;
    if (f->hang)
        return coil_deferred_new(fake_cancel, f);
    coil_address_list *l = coil_address_list_new(f->n);
    for (size_t i = 0; i < f->n; i++) {
        l->addrs[i] = f->addrs[i];
        if (port && coil_address_family(&l->addrs[i]) == AF_INET)
            l->addrs[i].u.in4.sin_port = htons(port);
        else if (port && coil_address_family(&l->addrs[i]) == AF_INET6)
            l->addrs[i].u.in6.sin6_port = htons(port);
    }
    return coil_succeed(coil_result_value(l, free));
}

/* Addresses carry their own ports; the endpoint's port is then 0 and the
 * fake keeps them. */
static void fake_add(fake *f, const char *ip, uint16_t port)
{
    assert_int_equal(coil_address_from_ip(&f->addrs[f->n++], ip, port), 0);
}

static void install(coil_reactor *r, fake *f)
{
    coil_reactor_set_resolver(r, fake_resolve, f);
}

/* ---- helpers -------------------------------------------------------------------- */

static double now(coil_reactor *r)
{
    return coil_clock_seconds(coil_reactor_clock(r));
}

static coil_client_endpoint *endpoint(coil_reactor *r, const char *host, uint16_t port,
                                      double timeout, double delay)
{
    coil_hostname_options o = {.timeout = timeout, .attempt_delay = delay};
    coil_client_endpoint *ep = coil_hostname_endpoint_new(r, host, port, &o);
    assert_non_null(ep);
    return ep;
}

/* A refused port: listen, note the port, stop. */
static uint16_t refused_port(coil_reactor *r)
{
    t_factory f;
    t_factory_init(&f);
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &f.base, &port);
    t_stop_listening(r, p);
    return port;
}

/* The connect in `o` succeeded: exchange bytes with the echo server, close
 * and check both factories' counts. */
static void echo_and_close(coil_reactor *r, t_outcome *o, t_factory *cli, t_factory *srv)
{
    if (o->failed)
        fail_msg("connect failed: %s", o->message);
    t_conn *c = o->ptr;
    assert_ptr_equal(c, cli->last);
    assert_int_equal(c->made, 1);
    assert_ptr_equal(c->base.factory, &cli->base); /* the user's factory */
    coil_transport_write(c->base.transport, "ping", 4);
    T_RUN_UNTIL(r, c->rx.len == 4, 5);
    assert_memory_equal(c->rx.data, "ping", 4);
    int lost = srv->lost;
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(r, cli->lost == 1 && srv->lost == lost + 1, 5);
    assert_int_equal(cli->built, 1);
    assert_int_equal(cli->started, 1);
    assert_int_equal(cli->stopped, 1);
}

/* ---- connecting ---------------------------------------------------------------- */

static void connects_to_an_ip_literal_without_resolving(void **state)
{
    coil_reactor *r = t_reactor();
    fake f = {0};
    install(r, &f);
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.echo = true;
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &srv.base, &port);
    coil_client_endpoint *ep = endpoint(r, "127.0.0.1", port, 5, 0);
    t_outcome o;
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    echo_and_close(r, &o, &cli, &srv);
    assert_int_equal(f.calls, 0);
    coil_client_endpoint_free(ep);
    t_stop_listening(r, p);
    t_teardown(r);
}

static void connects_to_localhost(void **state)
{
    T_NEED_LOCALHOST();
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.echo = true;
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &srv.base, &port);
    /* From a description, as coil_client does. */
    char desc[64], err[256] = "";
    snprintf(desc, sizeof(desc), "tcp:localhost:%u:timeout=10", port);
    coil_client_endpoint *ep = NULL;
    assert_int_equal(coil_client_from_string(r, desc, &ep, err, sizeof(err)), 0);
    t_outcome o;
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    coil_client_endpoint_free(ep); /* a pending connect does not need it */
    t_run_until_flag(r, &o.fired, 15);
    echo_and_close(r, &o, &cli, &srv);
    t_stop_listening(r, p);
    t_teardown(r);
}

static void the_staggered_attempt_wins_over_a_black_hole(void **state)
{
    t_black_hole bh;
    T_NEED_BLACK_HOLE(&bh);
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.echo = true;
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &srv.base, &port);
    fake f = {0};
    fake_add(&f, "127.0.0.1", bh.port);
    fake_add(&f, "127.0.0.1", port);
    install(r, &f);
    coil_client_endpoint *ep = endpoint(r, "eyeballs.test", 0, 10, 0); /* delay 0.3 s */
    double t0 = now(r);
    t_outcome o;
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    t_run_for(r, 0.15);
    assert_false(o.fired);
    assert_int_equal(srv.built, 0); /* the second attempt has not started */
    t_run_until_flag(r, &o.fired, 5);
    double took = now(r) - t0;
    assert_true(took >= 0.25);
    assert_true(took < 3);
    assert_int_equal(f.calls, 1);
    /* The black-hole attempt was cancelled: only the connection and the
     * listening port remain (the server's side, the client's side, the port). */
    T_RUN_UNTIL(r, coil_reactor_live_handles(r) == 3, 5);
    echo_and_close(r, &o, &cli, &srv);
    coil_client_endpoint_free(ep);
    t_stop_listening(r, p);
    t_teardown(r);
    t_black_hole_close(&bh);
}

static void two_good_addresses_build_one_protocol(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv1, srv2, cli;
    t_factory_init(&srv1);
    t_factory_init(&srv2);
    t_factory_init(&cli);
    srv1.echo = srv2.echo = true;
    uint16_t port1, port2;
    coil_port *p1 = t_listen_tcp(r, &srv1.base, &port1);
    coil_port *p2 = t_listen_tcp(r, &srv2.base, &port2);
    for (int round = 0; round < 10; round++) {
        fake f = {0};
        fake_add(&f, "127.0.0.1", port1);
        fake_add(&f, "127.0.0.1", port2);
        install(r, &f);
        t_factory_init(&cli);
        /* A tiny delay: both attempts are usually under way together. */
        coil_client_endpoint *ep = endpoint(r, "twice.test", 0, 10, 1e-6);
        t_outcome o;
        t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
        coil_client_endpoint_free(ep);
        t_run_until_flag(r, &o.fired, 5);
        assert_false(o.failed);
        assert_int_equal(cli.built, 1);
        int lost = srv1.lost + srv2.lost;
        t_conn *c = o.ptr;
        coil_transport_lose_connection(c->base.transport);
        T_RUN_UNTIL(r, cli.lost == 1, 5);
        /* Every server-side connection (the winner's and any the loser
         * made before it was cancelled) goes away. */
        T_RUN_UNTIL(r, srv1.lost + srv2.lost == srv1.built + srv2.built, 5);
        assert_true(srv1.lost + srv2.lost > lost);
        T_RUN_UNTIL(r, coil_reactor_live_handles(r) == 2, 5); /* the two ports */
        assert_int_equal(cli.started, 1);
        assert_int_equal(cli.stopped, 1);
    }
    t_stop_listening(r, p1);
    t_stop_listening(r, p2);
    t_teardown(r);
}

static void all_refused_gives_the_last_failure(void **state)
{
    coil_reactor *r = t_reactor();
    uint16_t a = refused_port(r), b = refused_port(r);
    fake f = {0};
    fake_add(&f, "127.0.0.1", a);
    fake_add(&f, "127.0.0.1", b);
    install(r, &f);
    t_factory cli;
    t_factory_init(&cli);
    coil_client_endpoint *ep = endpoint(r, "refused.test", 0, 10, 0);
    double t0 = now(r);
    t_outcome o;
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_true(now(r) - t0 < 0.25); /* a failure starts the next at once */
    assert_true(o.failed);
    assert_int_equal(o.code, -ECONNREFUSED);
    char want[128];
    snprintf(want, sizeof(want), "Connecting to 127.0.0.1:%u failed: Connection refused", b);
    assert_string_equal(o.message, want);
    assert_int_equal(cli.built, 0);
    assert_int_equal(cli.started, cli.stopped);
    coil_client_endpoint_free(ep);
    t_teardown(r);
}

static void no_results_and_unknown_names_fail_with_edns(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory cli;
    t_factory_init(&cli);
    fake f = {0}; /* no addresses */
    install(r, &f);
    coil_client_endpoint *ep = endpoint(r, "empty.test", 80, 10, 0);
    t_outcome o;
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    assert_true(o.fired && o.failed);
    assert_int_equal(o.code, COIL_EDNS);
    assert_string_equal(o.message, "no results for hostname lookup: empty.test");
    coil_client_endpoint_free(ep);

    coil_reactor_set_resolver(r, NULL, NULL); /* the default */
    ep = endpoint(r, "nonexistent.invalid", 80, 30, 0);
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    t_run_until_flag(r, &o.fired, 30);
    assert_true(o.failed);
    assert_int_equal(o.code, COIL_EDNS);
    assert_non_null(strstr(o.message, "Couldn't find the hostname 'nonexistent.invalid'"));
    assert_int_equal(cli.started, cli.stopped);
    coil_client_endpoint_free(ep);
    t_teardown(r);
}

/* ---- timeout and cancel ------------------------------------------------------- */

static void the_timeout_bounds_the_whole_connect(void **state)
{
    t_black_hole bh;
    T_NEED_BLACK_HOLE(&bh);
    coil_reactor *r = t_reactor();
    t_factory cli;
    t_factory_init(&cli);
    fake f = {0};
    fake_add(&f, "127.0.0.1", bh.port);
    install(r, &f);
    coil_client_endpoint *ep = endpoint(r, "hole.test", 0, 0.5, 0);
    double t0 = now(r);
    t_outcome o;
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    double took = now(r) - t0;
    assert_true(o.failed);
    assert_int_equal(o.code, -ETIMEDOUT);
    /* The same words as a timed-out connect to an address (test_endpoint). */
    assert_string_equal(o.message, "Connecting to hole.test:0 failed: Connection timed out");
    assert_true(took >= 0.4 && took < 3);
    T_RUN_UNTIL(r, coil_reactor_live_handles(r) == 0, 5);
    assert_int_equal(cli.started, cli.stopped);

    /* Resolution counts too: a lookup that never answers is cancelled. */
    f.hang = true;
    t0 = now(r);
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_true(o.failed);
    assert_int_equal(o.code, -ETIMEDOUT);
    assert_true(now(r) - t0 >= 0.4);
    assert_int_equal(f.cancelled, 1);
    assert_int_equal(cli.started, cli.stopped);
    coil_client_endpoint_free(ep);
    t_teardown(r);
    t_black_hole_close(&bh);
}

static void cancel_while_resolving(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory cli;
    t_factory_init(&cli);
    fake f = {.hang = true};
    install(r, &f);
    coil_client_endpoint *ep = endpoint(r, "slow.test", 443, 10, 0);
    coil_deferred *d = coil_client_endpoint_connect(ep, &cli.base);
    t_outcome o;
    t_watch(coil_deferred_ref(d), &o);
    t_run_for(r, 0.05);
    assert_false(o.fired);
    coil_deferred_cancel(d);
    coil_deferred_unref(d);
    assert_true(o.fired && o.failed);
    assert_int_equal(o.code, -ECANCELED);
    assert_string_equal(o.message, "Connecting to slow.test:443 was cancelled");
    assert_int_equal(f.cancelled, 1);
    assert_int_equal(cli.started, cli.stopped);

    /* The default resolver: its late answer is dropped. */
    coil_reactor_set_resolver(r, NULL, NULL);
    coil_client_endpoint_free(ep);
    ep = endpoint(r, "localhost", 443, 10, 0);
    d = coil_client_endpoint_connect(ep, &cli.base);
    t_watch(coil_deferred_ref(d), &o);
    coil_deferred_cancel(d);
    coil_deferred_unref(d);
    assert_true(o.fired && o.failed);
    assert_int_equal(o.code, -ECANCELED);
    t_run_for(r, 0.3);
    assert_int_equal(cli.built, 0);
    assert_int_equal(cli.started, cli.stopped);
    coil_client_endpoint_free(ep);
    t_teardown(r);
}

static void cancel_while_connecting(void **state)
{
    t_black_hole bh;
    T_NEED_BLACK_HOLE(&bh);
    coil_reactor *r = t_reactor();
    t_factory cli;
    t_factory_init(&cli);
    fake f = {0};
    fake_add(&f, "127.0.0.1", bh.port);
    fake_add(&f, "127.0.0.1", bh.port);
    install(r, &f);
    coil_client_endpoint *ep = endpoint(r, "hole.test", 0, 10, 0.1);
    coil_deferred *d = coil_client_endpoint_connect(ep, &cli.base);
    t_outcome o;
    t_watch(coil_deferred_ref(d), &o);
    t_run_for(r, 0.25); /* both attempts pending */
    assert_false(o.fired);
    assert_int_equal(coil_reactor_live_handles(r), 2);
    coil_deferred_cancel(d);
    coil_deferred_unref(d);
    assert_true(o.fired && o.failed);
    assert_int_equal(o.code, -ECANCELED);
    assert_string_equal(o.message, "Connecting to hole.test:0 was cancelled");
    T_RUN_UNTIL(r, coil_reactor_live_handles(r) == 0, 5);
    assert_int_equal(cli.built, 0);
    assert_int_equal(cli.started, cli.stopped);
    coil_client_endpoint_free(ep);
    t_teardown(r);
    t_black_hole_close(&bh);
}

/* ---- options, factories -------------------------------------------------------- */

static void bind_address_is_used_and_other_families_skipped(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.keep = true;
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &srv.base, &port);
    fake f = {0};
    assert_int_equal(coil_address_from_ip(&f.addrs[f.n++], "::1", port), 0); /* skipped */
    fake_add(&f, "127.0.0.1", port);
    install(r, &f);
    coil_address bind;
    coil_address_from_ip(&bind, "127.0.0.2", 0);
    coil_hostname_options opts = {.timeout = 5, .bind_address = &bind};
    coil_client_endpoint *ep = coil_hostname_endpoint_new(r, "bound.test", 0, &opts);
    memset(&bind, 0, sizeof(bind)); /* copied */
    t_outcome o;
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    if (o.failed)
        fail_msg("%s", o.message);
    T_RUN_UNTIL(r, srv.last && srv.last->made, 5);
    coil_address peer;
    char host[64];
    assert_int_equal(coil_transport_get_peer(srv.last->base.transport, &peer), 0);
    coil_address_host(&peer, host, sizeof(host));
    assert_string_equal(host, "127.0.0.2");
    coil_transport_lose_connection(((t_conn *)o.ptr)->base.transport);
    T_RUN_UNTIL(r, cli.lost == 1 && srv.lost == 1, 5);
    t_conn_free(srv.last);

    /* Only addresses of another family: nothing to try. */
    f.n = 1;
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    assert_true(o.fired && o.failed);
    assert_int_equal(o.code, -EAFNOSUPPORT);
    assert_int_equal(cli.started, cli.stopped);
    coil_client_endpoint_free(ep);
    t_stop_listening(r, p);
    t_teardown(r);
}

static void a_refusing_factory_fails_the_connect(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    cli.refuse = true;
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &srv.base, &port);
    coil_client_endpoint *ep = endpoint(r, "127.0.0.1", port, 5, 0);
    t_outcome o;
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_true(o.failed);
    assert_int_equal(o.code, COIL_ENOPROTOCOL);
    T_RUN_UNTIL(r, srv.lost == srv.built, 5);
    assert_int_equal(cli.started, cli.stopped);
    coil_client_endpoint_free(ep);
    t_stop_listening(r, p);
    t_teardown(r);
}

static void connect_protocol_through_a_hostname_endpoint(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &srv.base, &port);
    fake good = {0};
    fake_add(&good, "127.0.0.1", port);
    install(r, &good);
    coil_client_endpoint *ep = endpoint(r, "proto.test", 0, 10, 0);
    t_counter mine;
    t_counter_init(&mine);
    t_outcome o;
    t_watch(coil_connect_protocol(ep, &mine.base), &o);
    t_run_until_flag(r, &o.fired, 15);
    if (o.failed)
        fail_msg("%s", o.message);
    assert_ptr_equal(o.ptr, &mine);
    assert_int_equal(mine.made, 1);
    coil_transport_lose_connection(mine.base.transport);
    T_RUN_UNTIL(r, mine.lost == 1 && srv.lost == 1, 5);
    coil_client_endpoint_free(ep);

    /* Failing: the protocol is never used, the one-shot factory is freed
     * (LSan would tell). */
    uint16_t dead = refused_port(r);
    fake f = {0};
    fake_add(&f, "127.0.0.1", dead);
    install(r, &f);
    ep = endpoint(r, "dead.test", 0, 10, 0);
    t_counter unused;
    t_counter_init(&unused);
    t_watch(coil_connect_protocol(ep, &unused.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_true(o.failed);
    assert_int_equal(unused.made + unused.lost, 0);
    coil_client_endpoint_free(ep);
    t_stop_listening(r, p);
    t_teardown(r);
}

static void freeing_the_endpoint_while_connecting_is_safe(void **state)
{
    t_black_hole bh;
    T_NEED_BLACK_HOLE(&bh);
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.echo = true;
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &srv.base, &port);
    fake f = {0};
    fake_add(&f, "127.0.0.1", bh.port);
    fake_add(&f, "127.0.0.1", port);
    install(r, &f);
    coil_client_endpoint *ep = endpoint(r, "gone.test", 0, 10, 0.1);
    t_outcome o;
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    coil_client_endpoint_free(ep);
    t_run_until_flag(r, &o.fired, 5);
    echo_and_close(r, &o, &cli, &srv);

    /* And a connect still pending when the reactor is freed: it fails
     * there, and nothing leaks. */
    fake g = {0};
    fake_add(&g, "127.0.0.1", bh.port);
    install(r, &g);
    t_factory late;
    t_factory_init(&late);
    ep = endpoint(r, "hole.test", 0, 10, 0);
    t_outcome lo;
    t_watch(coil_client_endpoint_connect(ep, &late.base), &lo);
    coil_client_endpoint_free(ep);
    t_run_for(r, 0.05);
    t_stop_listening(r, p);
    coil_reactor_free(r); /* not t_teardown: the attempt is still a handle */
    assert_true(lo.fired && lo.failed);
    assert_int_equal(late.started, late.stopped);
    t_black_hole_close(&bh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connects_to_an_ip_literal_without_resolving),
        cmocka_unit_test(connects_to_localhost),
        cmocka_unit_test(the_staggered_attempt_wins_over_a_black_hole),
        cmocka_unit_test(two_good_addresses_build_one_protocol),
        cmocka_unit_test(all_refused_gives_the_last_failure),
        cmocka_unit_test(no_results_and_unknown_names_fail_with_edns),
        cmocka_unit_test(the_timeout_bounds_the_whole_connect),
        cmocka_unit_test(cancel_while_resolving),
        cmocka_unit_test(cancel_while_connecting),
        cmocka_unit_test(bind_address_is_used_and_other_families_skipped),
        cmocka_unit_test(a_refusing_factory_fails_the_connect),
        cmocka_unit_test(connect_protocol_through_a_hostname_endpoint),
        cmocka_unit_test(freeing_the_endpoint_while_connecting_is_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
