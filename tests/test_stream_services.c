/* SPDX-License-Identifier: MIT */
/*
 * Stream services: strports-style server services from descriptions, the
 * SSL server and client forms (COIL_ENOTLS at start without TLS), TCP and
 * UNIX client services that connect once and disconnect at stop, the UNIX
 * port service, and removing a running child from a service tree.
 */
#include "helpers.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool built_without_tls(coil_reactor *r)
{
    coil_server_endpoint *ep = NULL;
    char err[256];
    int rc = coil_server_from_string(r, "ssl:0:privateKey=/nonexistent.pem", &ep, err,
                                     sizeof(err));
    coil_server_endpoint_free(ep);
    return rc == COIL_ENOTLS;
}

/* ---- servers -------------------------------------------------------------- */

static void strports_service_listens_while_running(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.echo = true;
    coil_listen_service *ls = NULL;
    char err[256] = "";
    assert_int_equal(coil_strports_service_new(r, "tcp:0:interface=127.0.0.1", &srv.base, &ls,
                                               err, sizeof(err)),
                     0);
    assert_string_equal(coil_listen_service_description(ls), "tcp:0:interface=127.0.0.1");
    coil_service *svc = coil_listen_service_service(ls);
    assert_null(coil_listen_service_port(ls));
    assert_int_equal(coil_service_start(svc), 0);
    coil_port *p = coil_listen_service_port(ls);
    assert_non_null(p);
    assert_int_equal(srv.started, 1);
    coil_address host;
    assert_int_equal(coil_port_get_host(p, &host), 0);
    uint16_t port = coil_address_port(&host);
    int fd = t_peer_connect_tcp(port);
    assert_true(fd >= 0);
    T_RUN_UNTIL(r, srv.open == 1, 5);
    close(fd);
    T_RUN_UNTIL(r, srv.open == 0, 5);
    t_outcome s;
    t_watch(coil_service_stop(svc), &s);
    T_RUN_UNTIL(r, s.fired, 5);
    assert_int_equal(srv.stopped, 1);
    assert_null(coil_listen_service_port(ls));
    assert_true(t_peer_connect_tcp(port) == -ECONNREFUSED);
    coil_listen_service_free(ls);
    t_teardown(r);
}

static void strports_service_reports_errors(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    coil_listen_service *ls = (void *)1;
    char err[256] = "";
    /* Parse errors come at once, as strports.service raises. */
    assert_int_equal(coil_strports_service_new(r, "tcp:notaport", &srv.base, &ls, err,
                                               sizeof(err)),
                     COIL_EBADDESC);
    assert_null(ls);
    assert_non_null(strstr(err, "notaport"));
    /* A listen error comes from start. */
    uint16_t port;
    coil_port *busy = t_listen_tcp(r, &srv.base, &port);
    char desc[64];
    snprintf(desc, sizeof(desc), "tcp:%u:interface=127.0.0.1", port);
    assert_int_equal(coil_strports_service_new(r, desc, &srv.base, &ls, err, sizeof(err)), 0);
    assert_int_equal(coil_service_start(coil_listen_service_service(ls)), -EADDRINUSE);
    assert_false(coil_listen_service_service(ls)->running);
    assert_non_null(strstr(coil_listen_service_error(ls), "Address already in use"));
    coil_listen_service_free(ls);
    t_stop_listening(r, busy);
    t_teardown(r);
}

static void ssl_server_service_goes_through_the_description(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    coil_listen_service *ls = NULL;
    assert_int_equal(coil_ssl_server_service_new(r, 0, NULL, NULL, NULL, &srv.base, &ls),
                     -EINVAL);
    assert_int_equal(coil_ssl_server_service_new(r, 8443, "/etc/keys/a:b.pem", NULL,
                                                 "127.0.0.1", &srv.base, &ls),
                     0);
    /* The path's ':' is quoted so the description reads back the same. */
    assert_string_equal(coil_listen_service_description(ls),
                        "ssl:8443:privateKey=/etc/keys/a\\:b.pem:interface=127.0.0.1");
    coil_listen_service_free(ls);

    assert_int_equal(coil_ssl_server_service_new(r, 0, "/nonexistent/key.pem",
                                                 "/nonexistent/cert.pem", NULL, &srv.base, &ls),
                     0);
    assert_string_equal(coil_listen_service_description(ls),
                        "ssl:0:privateKey=/nonexistent/key.pem:certKey=/nonexistent/cert.pem");
    int rc = coil_service_start(coil_listen_service_service(ls));
    if (built_without_tls(r)) {
        assert_int_equal(rc, COIL_ENOTLS);
        assert_non_null(strstr(coil_listen_service_error(ls), "without TLS"));
    } else {
        assert_true(rc < 0); /* the key files do not exist */
        assert_true(strlen(coil_listen_service_error(ls)) > 0);
    }
    assert_false(coil_listen_service_service(ls)->running);
    assert_null(coil_listen_service_port(ls));
    assert_int_equal(srv.started, 0);
    coil_listen_service_free(ls);
    t_teardown(r);
}

static void unix_port_service_and_removal_from_a_running_tree(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    char path[128];
    snprintf(path, sizeof(path), "/tmp/coil-svc-%d.sock", (int)getpid());
    unlink(path);
    coil_port_service ps;
    coil_port_service_init_unix(&ps, r, path, NULL, &srv.base);
    coil_service root = {0};
    assert_int_equal(coil_service_add(&root, &ps.service), 0);
    assert_int_equal(coil_service_start(&root), 0);
    assert_non_null(ps.port);
    int fd = t_peer_connect_unix(path);
    assert_true(fd >= 0);
    T_RUN_UNTIL(r, srv.open == 1, 5);
    close(fd);
    T_RUN_UNTIL(r, srv.open == 0, 5);
    /* Removing a child that is not there fails with -ENOENT. */
    coil_service stranger = {0};
    t_outcome o;
    t_watch(coil_service_remove(&root, &stranger), &o);
    assert_true(o.fired && o.failed && o.code == -ENOENT);
    /* Removing the running child stops it: fires once the port closed. */
    t_watch(coil_service_remove(&root, &ps.service), &o);
    assert_int_equal(root.nchildren, 0);
    assert_null(ps.service.parent);
    T_RUN_UNTIL(r, o.fired, 5);
    assert_false(o.failed);
    assert_int_equal(srv.stopped, 1);
    assert_true(t_peer_connect_unix(path) < 0);
    /* Removing from a stopped parent fires at once and stops nothing. */
    assert_int_equal(coil_service_add(&root, &ps.service), 0); /* started again: running parent */
    assert_non_null(ps.port);
    t_watch(coil_service_stop(&root), &o);
    T_RUN_UNTIL(r, o.fired, 5);
    t_watch(coil_service_remove(&root, &ps.service), &o);
    assert_true(o.fired && !o.failed);
    coil_service_fini(&root);
    unlink(path);
    t_teardown(r);
}

/* ---- clients ------------------------------------------------------------------ */

static coil_client_service_state state_of(coil_client_service *cs)
{
    return coil_client_service_get_state(cs);
}

static void tcp_client_connects_once_and_disconnects_at_stop(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &srv.base, &port);
    coil_client_service *cs = NULL;
    assert_int_equal(coil_tcp_client_service_new(r, "127.0.0.1", port, &cli.base, &cs), 0);
    coil_service *svc = coil_client_service_service(cs);
    t_outcome w;
    t_watch(coil_client_service_when_connected(cs, 0), &w);
    assert_int_equal(coil_service_start(svc), 0);
    T_RUN_UNTIL(r, w.fired, 5);
    assert_false(w.failed);
    assert_ptr_equal(w.ptr, cli.last);
    T_RUN_UNTIL(r, srv.open == 1, 5);
    /* The server drops it: no reconnection. */
    coil_transport_lose_connection(srv.last->base.transport);
    T_RUN_UNTIL(r, cli.lost == 1, 5);
    assert_int_equal(state_of(cs), COIL_CLIENT_WAITING);
    assert_true(coil_client_service_retry_time(cs) < 0);
    t_run_for(r, 0.1);
    assert_int_equal(cli.built, 1);
    t_outcome after;
    t_watch(coil_client_service_when_connected(cs, 0), &after);
    assert_true(after.fired && after.code == COIL_DEFER_CANCELLED);
    t_outcome s;
    t_watch(coil_service_stop(svc), &s);
    assert_true(s.fired);
    /* Start again: a new connection, closed by the stop. */
    assert_int_equal(coil_service_start(svc), 0);
    T_RUN_UNTIL(r, state_of(cs) == COIL_CLIENT_CONNECTED, 5);
    T_RUN_UNTIL(r, srv.open == 1, 5);
    t_watch(coil_service_stop(svc), &s);
    assert_false(s.fired);
    T_RUN_UNTIL(r, s.fired && srv.open == 0, 5);
    assert_int_equal(cli.lost, 2);
    assert_int_equal(cli.started, 2);
    assert_int_equal(cli.stopped, 2);
    coil_client_service_free(cs);
    t_stop_listening(r, lp);
    t_teardown(r);
}

static void tcp_client_refused_fails_its_waiters(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    uint16_t port;
    t_stop_listening(r, t_listen_tcp(r, &srv.base, &port)); /* refused */
    coil_client_service *cs = NULL;
    assert_int_equal(coil_tcp_client_service_new(r, "127.0.0.1", port, &cli.base, &cs), 0);
    t_outcome w0;
    t_watch(coil_client_service_when_connected(cs, 0), &w0);
    assert_int_equal(coil_service_start(coil_client_service_service(cs)), 0);
    T_RUN_UNTIL(r, w0.fired, 5);
    assert_int_equal(w0.code, -ECONNREFUSED); /* no retry follows, so every waiter fails */
    assert_true(coil_client_service_retry_time(cs) < 0);
    t_outcome w1;
    t_watch(coil_client_service_when_connected(cs, 0), &w1);
    assert_true(w1.fired && w1.code == -ECONNREFUSED);
    t_outcome s;
    t_watch(coil_service_stop(coil_client_service_service(cs)), &s);
    assert_true(s.fired);
    coil_client_service_free(cs);
    t_teardown(r);
}

static void unix_client_service(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    char path[128];
    coil_port *lp = t_listen_unix(r, &srv.base, path);
    coil_client_service *cs = NULL;
    assert_int_equal(coil_unix_client_service_new(r, path, &cli.base, &cs), 0);
    t_outcome w;
    t_watch(coil_client_service_when_connected(cs, 0), &w);
    assert_int_equal(coil_service_start(coil_client_service_service(cs)), 0);
    T_RUN_UNTIL(r, w.fired, 5);
    assert_false(w.failed);
    T_RUN_UNTIL(r, srv.open == 1, 5);
    t_outcome s;
    t_watch(coil_service_stop(coil_client_service_service(cs)), &s);
    T_RUN_UNTIL(r, s.fired && srv.open == 0, 5);
    coil_client_service_free(cs);
    t_stop_listening(r, lp);
    t_teardown(r);
}

static void client_descriptions_are_parsed_at_start(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory cli;
    t_factory_init(&cli);
    coil_client_service *cs = NULL;
    assert_int_equal(coil_connect_service_new(r, "tcp:nohost", &cli.base, &cs), 0);
    t_log_capture();
    assert_int_equal(coil_service_start(coil_client_service_service(cs)), COIL_EBADDESC);
    assert_false(coil_client_service_service(cs)->running);
    assert_int_equal(coil_client_service_get_state(cs), COIL_CLIENT_INIT);
    assert_int_equal(t_log_count("cannot connect to tcp:nohost"), 1);
    assert_int_equal(cli.started, 0);
    coil_client_service_free(cs);

    /* SSL client: COIL_ENOTLS at start when built without TLS. */
    assert_int_equal(coil_ssl_client_service_new(r, "127.0.0.1", 1, "hostname=example.com",
                                                 &cli.base, &cs),
                     0);
    int rc = coil_service_start(coil_client_service_service(cs));
    if (built_without_tls(r)) {
        assert_int_equal(rc, COIL_ENOTLS);
        assert_int_equal(t_log_count("without TLS"), 1);
    } else if (rc == 0) { /* TLS built: the connect to port 1 is refused, no retry */
        T_RUN_UNTIL(r, coil_client_service_get_state(cs) == COIL_CLIENT_WAITING, 10);
        t_outcome s;
        t_watch(coil_service_stop(coil_client_service_service(cs)), &s);
        assert_true(s.fired);
    }
    coil_log_set_handler(NULL, NULL);
    coil_log_set_level(COIL_LOG_WARN);
    coil_client_service_free(cs);

    /* IPv6 literals and paths with ':' are quoted into the description. */
    assert_int_equal(coil_tcp_client_service_new(r, "::1", 1, &cli.base, &cs), 0);
    coil_client_service_free(cs);
    assert_int_equal(coil_tcp_client_service_new(r, NULL, 1, &cli.base, &cs), -EINVAL);
    assert_int_equal(coil_unix_client_service_new(r, "/tmp/x", NULL, &cs), -EINVAL);
    t_teardown(r);
}

static void ipv6_literal_client(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    coil_address a;
    coil_address_from_ip(&a, "::1", 0);
    coil_port *lp = NULL;
    if (coil_listen_tcp(r, &a, NULL, &srv.base, &lp) < 0) {
        t_teardown(r);
        skip(); /* no IPv6 loopback here */
    }
    coil_address host;
    coil_port_get_host(lp, &host);
    coil_client_service *cs = NULL;
    assert_int_equal(
        coil_tcp_client_service_new(r, "::1", coil_address_port(&host), &cli.base, &cs), 0);
    t_outcome w;
    t_watch(coil_client_service_when_connected(cs, 0), &w);
    assert_int_equal(coil_service_start(coil_client_service_service(cs)), 0);
    T_RUN_UNTIL(r, w.fired, 5);
    assert_false(w.failed);
    t_outcome s;
    t_watch(coil_service_stop(coil_client_service_service(cs)), &s);
    T_RUN_UNTIL(r, s.fired, 5);
    coil_client_service_free(cs);
    t_stop_listening(r, lp);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strports_service_listens_while_running),
        cmocka_unit_test(strports_service_reports_errors),
        cmocka_unit_test(ssl_server_service_goes_through_the_description),
        cmocka_unit_test(unix_port_service_and_removal_from_a_running_tree),
        cmocka_unit_test(tcp_client_connects_once_and_disconnects_at_stop),
        cmocka_unit_test(tcp_client_refused_fails_its_waiters),
        cmocka_unit_test(unix_client_service),
        cmocka_unit_test(client_descriptions_are_parsed_at_start),
        cmocka_unit_test(ipv6_literal_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
