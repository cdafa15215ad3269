/* SPDX-License-Identifier: MIT */
/* The Deferred forms of listen, stop_listening and connect. */
#include "helpers.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void listen_fires_with_the_port_and_stop_fires_when_closed(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", 0);
    t_outcome lo = {0};
    t_watch(coil_listen_tcp_deferred(r, &a, NULL, &f.base), &lo);
    assert_true(lo.fired); /* listening is synchronous */
    assert_false(lo.failed);
    coil_port *port = lo.ptr;
    assert_non_null(port);
    assert_int_equal(f.started, 1);

    t_outcome so = {0};
    t_watch(coil_port_stop_listening_deferred(port), &so);
    assert_false(so.fired); /* only once really closed */
    t_run_until_flag(r, &so.fired, 5);
    assert_false(so.failed);
    assert_int_equal(f.stopped, 1);
    t_teardown(r);
}

static void listen_in_use_errbacks_naming_the_address(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &f.base, &port);
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", port);
    t_outcome o = {0};
    t_watch(coil_listen_tcp_deferred(r, &a, NULL, &f.base), &o);
    assert_true(o.fired && o.failed);
    assert_int_equal(o.code, -EADDRINUSE);
    char want[96];
    snprintf(want, sizeof(want), "Couldn't listen on 127.0.0.1:%u: Address already in use.",
             port);
    assert_string_equal(o.message, want);
    t_stop_listening(r, p);
    t_teardown(r);
}

static void connect_fires_with_the_protocol_after_connection_made(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory server, client;
    t_factory_init(&server);
    server.echo = true;
    t_factory_init(&client);
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &server.base, &port);
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", port);
    t_outcome o = {0};
    t_watch(coil_connect_tcp_deferred(r, &a, NULL, &client.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_false(o.failed);
    t_conn *c = o.ptr;
    assert_ptr_equal(c, client.last);
    assert_int_equal(c->made, 1);
    coil_transport_lose_connection(c->base.transport);
    while (client.lost < 1 || server.lost < 1)
        coil_reactor_iterate(r, 0.05);
    t_stop_listening(r, p);
    t_teardown(r);
}

static void connect_refused_errbacks(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory f, client;
    t_factory_init(&f);
    t_factory_init(&client);
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &f.base, &port);
    t_stop_listening(r, p); /* the port is free again: nobody listens */
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", port);
    t_outcome o = {0};
    t_watch(coil_connect_tcp_deferred(r, &a, NULL, &client.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_true(o.failed);
    assert_int_equal(o.code, -ECONNREFUSED);
    assert_non_null(strstr(o.message, "Connection refused"));
    assert_int_equal(client.started, 1);
    assert_int_equal(client.stopped, 1);
    t_teardown(r);
}

static void cancel_abandons_a_pending_connect(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory server, client;
    t_factory_init(&server);
    t_factory_init(&client);
    uint16_t port;
    coil_port *p = t_listen_tcp(r, &server.base, &port);
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", port);
    t_outcome o = {0};
    coil_deferred *d = coil_connect_tcp_deferred(r, &a, NULL, &client.base);
    t_watch(coil_deferred_ref(d), &o);
    coil_deferred_cancel(d); /* before the loop ever ran: surely pending */
    assert_true(o.fired && o.failed);
    assert_int_equal(o.code, -ECANCELED);
    coil_deferred_unref(d);
    t_run_for(r, 0.2);
    assert_int_equal(client.built, 0); /* no protocol was ever built */
    assert_int_equal(client.stopped, 1);
    t_stop_listening(r, p);
    t_teardown(r);
}

static void unix_listen_and_connect(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory server, client;
    t_factory_init(&server);
    t_factory_init(&client);
    char path[108];
    snprintf(path, sizeof(path), "/tmp/coil-netd-%d.sock", (int)getpid());
    unlink(path);
    t_outcome lo = {0}, co = {0}, so = {0};
    t_watch(coil_listen_unix_deferred(r, path, NULL, &server.base), &lo);
    assert_false(lo.failed);
    t_watch(coil_connect_unix_deferred(r, path, NULL, &client.base), &co);
    t_run_until_flag(r, &co.fired, 5);
    assert_false(co.failed);
    coil_transport_abort_connection(((t_conn *)co.ptr)->base.transport);
    while (client.lost < 1 || server.lost < 1)
        coil_reactor_iterate(r, 0.05);
    t_watch(coil_port_stop_listening_deferred(lo.ptr), &so);
    t_run_until_flag(r, &so.fired, 5);
    assert_int_equal(access(path, F_OK), -1); /* the socket file is gone */
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(listen_fires_with_the_port_and_stop_fires_when_closed),
        cmocka_unit_test(listen_in_use_errbacks_naming_the_address),
        cmocka_unit_test(connect_fires_with_the_protocol_after_connection_made),
        cmocka_unit_test(connect_refused_errbacks),
        cmocka_unit_test(cancel_abandons_a_pending_connect),
        cmocka_unit_test(unix_listen_and_connect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
