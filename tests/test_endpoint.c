/* SPDX-License-Identifier: MIT */
/*
 * Endpoints built from description strings: listen and connect on tcp,
 * tcp6, a bare port, unix (mode, lockfile, checkPID); errors (address in
 * use, refused, timeout, cancel, ssl/tls without TLS, unknown types);
 * connect_protocol; registered types; the endpoint service.
 */
#include "helpers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static coil_server_endpoint *server(coil_reactor *r, const char *desc)
{
    coil_server_endpoint *ep = NULL;
    char err[256] = "";
    int rc = coil_server_from_string(r, desc, &ep, err, sizeof(err));
    if (rc < 0)
        fail_msg("%s: %s", desc, err);
    return ep;
}

static coil_client_endpoint *client(coil_reactor *r, const char *desc)
{
    coil_client_endpoint *ep = NULL;
    char err[256] = "";
    int rc = coil_client_from_string(r, desc, &ep, err, sizeof(err));
    if (rc < 0)
        fail_msg("%s: %s", desc, err);
    return ep;
}

/* Listen on `desc` and return the port (the listen Deferred fired). */
static coil_port *listen_on(coil_reactor *r, const char *desc, coil_factory *f)
{
    coil_server_endpoint *ep = server(r, desc);
    t_outcome o;
    t_watch(coil_server_endpoint_listen(ep, f), &o);
    coil_server_endpoint_free(ep); /* the port does not need it */
    assert_true(o.fired);
    if (o.failed)
        fail_msg("%s: %s", desc, o.message);
    return o.ptr;
}

static void stop(coil_reactor *r, coil_port *p)
{
    t_outcome o;
    t_watch(coil_port_stop_listening_deferred(p), &o);
    assert_false(o.fired); /* fires only once the socket is closed */
    t_run_until_flag(r, &o.fired, 5);
    assert_false(o.failed);
}

static uint16_t port_of(coil_port *p)
{
    coil_address a;
    assert_int_equal(coil_port_get_host(p, &a), 0);
    return coil_address_port(&a);
}

/* Connect with a client description, exchange bytes with an echoing
 * server, and close. */
static void round_trip(coil_reactor *r, const char *desc, t_factory *srv)
{
    t_factory cli;
    t_factory_init(&cli);
    coil_client_endpoint *ep = client(r, desc);
    t_outcome o;
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    coil_client_endpoint_free(ep); /* a pending connect does not need it */
    t_run_until_flag(r, &o.fired, 5);
    if (o.failed)
        fail_msg("%s: %s", desc, o.message);
    t_conn *c = o.ptr;
    assert_ptr_equal(c, cli.last);
    assert_int_equal(c->made, 1);
    coil_transport_write(c->base.transport, "ping", 4);
    T_RUN_UNTIL(r, c->rx.len == 4, 5);
    assert_memory_equal(c->rx.data, "ping", 4);
    int lost_before = srv->lost;
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(r, cli.lost == 1 && srv->lost == lost_before + 1, 5);
    assert_int_equal(cli.started, 1);
    assert_int_equal(cli.stopped, 1);
}

static void tcp_listen_connect_and_stop(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.echo = true;
    coil_port *p = listen_on(r, "tcp:0:interface=127.0.0.1", &srv.base);
    assert_int_equal(srv.started, 1);
    char desc[64];
    snprintf(desc, sizeof(desc), "tcp:127.0.0.1:%u", port_of(p));
    round_trip(r, desc, &srv);
    snprintf(desc, sizeof(desc), "tcp:host=127.0.0.1:port=%u:timeout=5", port_of(p));
    round_trip(r, desc, &srv);
    stop(r, p);
    assert_int_equal(srv.stopped, 1);
    t_teardown(r);
}

/* The natural "print the error and stop" errback of a listen that fails
 * before the reactor runs: the stop is kept, so run() returns at once
 * instead of waiting forever. */
typedef struct stop_on_error {
    coil_reactor *r;
    int errbacks;
    bool watchdog_fired;
} stop_on_error;

static coil_result print_and_stop(coil_result res, void *arg)
{
    stop_on_error *s = arg;
    s->errbacks++;
    coil_result_release(res); /* "printed" */
    coil_reactor_stop(s->r);
    return coil_result_none(); /* handled */
}

static void stop_watchdog(void *arg)
{
    stop_on_error *s = arg;
    s->watchdog_fired = true;
    coil_reactor_stop(s->r);
}

static void listen_errback_stops_before_run(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    coil_port *busy = listen_on(r, "tcp:0:interface=127.0.0.1", &srv.base);
    char desc[64];
    snprintf(desc, sizeof(desc), "tcp:%u:interface=127.0.0.1", port_of(busy));
    coil_server_endpoint *ep = server(r, desc);
    stop_on_error s = {.r = r};
    t_factory second;
    t_factory_init(&second);
    coil_deferred *d = coil_server_endpoint_listen(ep, &second.base);
    assert_non_null(d);
    assert_int_equal(coil_deferred_add_errback(d, print_and_stop, &s), 0);
    coil_deferred_unref(d);
    coil_server_endpoint_free(ep);
    assert_int_equal(s.errbacks, 1); /* fired before run() */

    coil_delayed_call *dog = coil_reactor_call_later(r, 30, stop_watchdog, &s);
    assert_int_equal(coil_reactor_run(r), 0);
    assert_false(s.watchdog_fired);
    coil_delayed_call_cancel(dog);
    assert_int_equal(srv.stopped, 1); /* the reactor shut down: the busy port closed */

    /* The kept request was used up: the next run waits for its own stop. */
    s.watchdog_fired = false;
    coil_reactor_call_later(r, 0.05, stop_watchdog, &s);
    assert_int_equal(coil_reactor_run(r), 0);
    assert_true(s.watchdog_fired);
    t_teardown(r);
}

static void bare_port_is_tcp(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.echo = true;
    coil_port *p = listen_on(r, "0:127.0.0.1:5", &srv.base); /* port:interface:backlog */
    coil_address a;
    coil_port_get_host(p, &a);
    char host[64];
    coil_address_host(&a, host, sizeof(host));
    assert_string_equal(host, "127.0.0.1");
    char desc[64];
    snprintf(desc, sizeof(desc), "tcp:127.0.0.1:%u", port_of(p));
    round_trip(r, desc, &srv);
    stop(r, p);
    t_teardown(r);
}

static void tcp6_listen_connect(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.echo = true;
    coil_server_endpoint *ep = server(r, "tcp6:0:interface=\\:\\:1");
    t_outcome o;
    t_watch(coil_server_endpoint_listen(ep, &srv.base), &o);
    coil_server_endpoint_free(ep);
    if (o.failed && o.code == -EADDRNOTAVAIL) {
        t_teardown(r);
        skip(); /* no IPv6 loopback here */
    }
    assert_false(o.failed);
    coil_port *p = o.ptr;
    char desc[64];
    snprintf(desc, sizeof(desc), "tcp:\\:\\:1:%u", port_of(p));
    round_trip(r, desc, &srv);
    stop(r, p);
    t_teardown(r);
}

static void address_in_use_names_the_address(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    coil_port *p = listen_on(r, "tcp:0:interface=127.0.0.1", &srv.base);
    char desc[64], want[128];
    snprintf(desc, sizeof(desc), "tcp:%u:interface=127.0.0.1", port_of(p));
    coil_server_endpoint *ep = server(r, desc);
    t_outcome o;
    t_watch(coil_server_endpoint_listen(ep, &srv.base), &o);
    coil_server_endpoint_free(ep);
    assert_true(o.fired && o.failed);
    assert_int_equal(o.code, -EADDRINUSE);
    snprintf(want, sizeof(want), "Couldn't listen on 127.0.0.1:%u: Address already in use.",
             port_of(p));
    assert_string_equal(o.message, want);
    assert_int_equal(srv.started, 1); /* the failed listen left no count behind */
    stop(r, p);
    assert_int_equal(srv.stopped, 1);
    t_teardown(r);
}

static void connect_refused_errbacks(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    coil_port *p = listen_on(r, "tcp:0:interface=127.0.0.1", &srv.base);
    uint16_t port = port_of(p);
    stop(r, p); /* nobody listens there now */
    char desc[64];
    snprintf(desc, sizeof(desc), "tcp:127.0.0.1:%u", port);
    coil_client_endpoint *ep = client(r, desc);
    t_outcome o;
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_true(o.failed);
    assert_int_equal(o.code, -ECONNREFUSED);
    assert_int_equal(cli.built, 0);
    assert_int_equal(cli.started, cli.stopped);
    coil_client_endpoint_free(ep);
    t_teardown(r);
}

static void cancel_abandons_a_pending_connect(void **state)
{
    t_black_hole bh;
    T_NEED_BLACK_HOLE(&bh);
    coil_reactor *r = t_reactor();
    t_factory cli;
    t_factory_init(&cli);
    char desc[64];
    snprintf(desc, sizeof(desc), "tcp:127.0.0.1:%u", bh.port);
    coil_client_endpoint *ep = client(r, desc);
    coil_deferred *d = coil_client_endpoint_connect(ep, &cli.base);
    coil_client_endpoint_free(ep);
    t_outcome o;
    t_watch(coil_deferred_ref(d), &o);
    t_run_for(r, 0.2);
    assert_false(o.fired); /* really pending */
    coil_deferred_cancel(d);
    coil_deferred_unref(d);
    assert_true(o.fired && o.failed);
    assert_int_equal(o.code, -ECANCELED);
    assert_non_null(strstr(o.message, "was cancelled"));
    T_RUN_UNTIL(r, coil_reactor_live_handles(r) == 0, 5);
    assert_int_equal(cli.built, 0);
    assert_int_equal(cli.started, cli.stopped);
    t_teardown(r);
    t_black_hole_close(&bh);
}

static void timeout_keyword_bounds_a_connect(void **state)
{
    t_black_hole bh;
    T_NEED_BLACK_HOLE(&bh);
    coil_reactor *r = t_reactor();
    t_factory cli;
    t_factory_init(&cli);
    char desc[64];
    snprintf(desc, sizeof(desc), "tcp:127.0.0.1:%u:timeout=1", bh.port);
    coil_client_endpoint *ep = client(r, desc);
    double t0 = coil_clock_seconds(coil_reactor_clock(r));
    t_outcome o;
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    t_run_until_flag(r, &o.fired, 10);
    double took = coil_clock_seconds(coil_reactor_clock(r)) - t0;
    assert_true(o.failed);
    assert_int_equal(o.code, -ETIMEDOUT);
    char want[96];
    snprintf(want, sizeof(want), "Connecting to 127.0.0.1:%u failed: Connection timed out", bh.port);
    assert_string_equal(o.message, want); /* as for a host name (test_hostname) */
    assert_true(took > 0.8 && took < 5);
    coil_client_endpoint_free(ep);
    t_teardown(r);
    t_black_hole_close(&bh);
}

static void bind_address_is_used(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.keep = true;
    coil_port *p = listen_on(r, "tcp:0:interface=127.0.0.1", &srv.base);
    char desc[96];
    snprintf(desc, sizeof(desc), "tcp:127.0.0.1:%u:bindAddress=127.0.0.2", port_of(p));
    coil_client_endpoint *ep = client(r, desc);
    t_outcome o;
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_false(o.failed);
    T_RUN_UNTIL(r, srv.last && srv.last->made, 5);
    coil_address peer;
    char host[64];
    assert_int_equal(coil_transport_get_peer(srv.last->base.transport, &peer), 0);
    coil_address_host(&peer, host, sizeof(host));
    assert_string_equal(host, "127.0.0.2");
    coil_transport_lose_connection(((t_conn *)o.ptr)->base.transport);
    T_RUN_UNTIL(r, cli.lost == 1 && srv.lost == 1, 5);
    t_conn_free(srv.last);
    coil_client_endpoint_free(ep);
    stop(r, p);
    t_teardown(r);
}

static void tmp_path(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "/tmp/coil-ep-%s-%ld.sock", tag, (long)getpid());
    unlink(buf);
}

static void unix_mode_lockfile_and_check_pid(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.echo = true;
    char path[108], lock[120], desc[200];
    tmp_path(path, sizeof(path), "unix");
    snprintf(lock, sizeof(lock), "%s.lock", path);
    snprintf(desc, sizeof(desc), "unix:%s:mode=600", path);
    coil_port *p = listen_on(r, desc, &srv.base);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(lstat(lock, &st), 0); /* lockfile=1 is the default */
    assert_true(S_ISLNK(st.st_mode));

    /* A second server on the same path fails: the lock is held. */
    coil_server_endpoint *ep = server(r, desc);
    t_outcome o;
    t_watch(coil_server_endpoint_listen(ep, &srv.base), &o);
    coil_server_endpoint_free(ep);
    assert_true(o.fired && o.failed);
    assert_non_null(strstr(o.message, path));

    snprintf(desc, sizeof(desc), "unix:%s", path);
    round_trip(r, desc, &srv);
    snprintf(desc, sizeof(desc), "unix:path=%s:lockfile=1:timeout=5", path);
    round_trip(r, desc, &srv); /* checkPID: the lock is held by us */
    stop(r, p);
    assert_int_equal(stat(path, &st), -1); /* removed at close */
    assert_int_equal(lstat(lock, &st), -1);

    /* checkPID with nobody holding the lock fails before connecting. */
    t_factory cli;
    t_factory_init(&cli);
    coil_client_endpoint *cep = client(r, desc);
    t_watch(coil_client_endpoint_connect(cep, &cli.base), &o);
    coil_client_endpoint_free(cep);
    assert_true(o.fired && o.failed);
    assert_int_equal(o.code, -ESRCH);
    assert_int_equal(cli.started, 0);
    t_teardown(r);
}

static void unix_without_lockfile(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.echo = true;
    char path[108], lock[120], desc[200];
    tmp_path(path, sizeof(path), "nolock");
    snprintf(lock, sizeof(lock), "%s.lock", path);
    snprintf(desc, sizeof(desc), "unix:address=%s:lockfile=0:backlog=7", path);
    coil_port *p = listen_on(r, desc, &srv.base);
    struct stat st;
    assert_int_equal(lstat(lock, &st), -1);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0666);
    snprintf(desc, sizeof(desc), "unix:%s", path);
    round_trip(r, desc, &srv);
    stop(r, p);
    t_teardown(r);
}

static void tls_types_fail_clearly_without_tls(void **state)
{
#ifdef COIL_HAVE_TLS
    /* Built with TLS: the files are read when the endpoint is made. */
    coil_reactor *r = t_reactor();
    char err[256];
    coil_server_endpoint *s = (void *)1;
    assert_int_equal(coil_server_from_string(r, "ssl:443:privateKey=k.pem", &s, err, sizeof(err)),
                     COIL_ETLS);
    assert_null(s);
    assert_non_null(strstr(err, "ssl: cannot read certificate 'k.pem'"));
    assert_int_equal(coil_server_from_string(r, "haproxy:ssl:443", &s, err, sizeof(err)),
                     COIL_ETLS);
    assert_non_null(strstr(err, "haproxy: ssl: cannot read certificate 'server.pem'"));
    coil_client_endpoint *c = NULL;
    assert_int_equal(coil_client_from_string(r, "tls:example.com:443", &c, err, sizeof(err)), 0);
    coil_client_endpoint_free(c);
    assert_int_equal(coil_client_from_string(r, "ssl:example.com:443", &c, err, sizeof(err)), 0);
    coil_client_endpoint_free(c);
    t_teardown(r);
}
#else
    coil_reactor *r = t_reactor();
    char err[256];
    coil_server_endpoint *s = (void *)1;
    assert_int_equal(coil_server_from_string(r, "ssl:443:privateKey=k.pem", &s, err, sizeof(err)),
                     COIL_ENOTLS);
    assert_null(s);
    assert_non_null(strstr(err, "ssl: coil was built without TLS"));
    coil_client_endpoint *c = (void *)1;
    assert_int_equal(coil_client_from_string(r, "tls:example.com:443", &c, err, sizeof(err)),
                     COIL_ENOTLS);
    assert_null(c);
    assert_non_null(strstr(err, "tls: coil was built without TLS"));
    assert_int_equal(coil_client_from_string(r, "ssl:example.com:443", &c, err, sizeof(err)),
                     COIL_ENOTLS);
    /* Wrapped ssl fails the same way. */
    assert_int_equal(coil_server_from_string(r, "haproxy:ssl:443", &s, err, sizeof(err)),
                     COIL_ENOTLS);
    assert_non_null(strstr(err, "haproxy: ssl: coil was built without TLS"));
    t_teardown(r);
}
#endif

static void bad_descriptions_name_the_problem(void **state)
{
    coil_reactor *r = t_reactor();
    char err[256];
    coil_server_endpoint *s;
    coil_client_endpoint *c;
    assert_int_equal(coil_server_from_string(r, "bogus:1", &s, err, sizeof(err)), COIL_EBADDESC);
    assert_string_equal(err, "Unknown endpoint type: 'bogus'");
    assert_int_equal(coil_server_from_string(r, "tcp:http", &s, err, sizeof(err)), COIL_EBADDESC);
    assert_non_null(strstr(err, "tcp: invalid port 'http'"));
    assert_int_equal(coil_server_from_string(r, "tcp:80:interface=localhost", &s, err,
                                             sizeof(err)),
                     COIL_EBADDESC);
    assert_string_equal(err, "tcp: invalid interface 'localhost' (must be an IP address)");
    assert_int_equal(coil_client_from_string(r, "tcp:127.0.0.1:80:bindAddress=nope", &c, err,
                                             sizeof(err)),
                     COIL_EBADDESC);
    assert_non_null(strstr(err, "bindAddress 'nope'"));
    assert_int_equal(coil_client_from_string(r, "unix", &c, err, sizeof(err)), COIL_EBADDESC);
    assert_string_equal(err, "unix: missing path");
    assert_int_equal(coil_server_from_string(NULL, "tcp:80", &s, err, sizeof(err)), -EINVAL);
    t_teardown(r);
}

/* ---- connect_protocol ------------------------------------------------------ */

static void connect_protocol_attaches_the_given_protocol(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    coil_port *p = listen_on(r, "tcp:0:interface=127.0.0.1", &srv.base);
    char desc[64];
    snprintf(desc, sizeof(desc), "tcp:127.0.0.1:%u", port_of(p));
    coil_client_endpoint *ep = client(r, desc);
    t_counter mine;
    t_counter_init(&mine);
    t_outcome o;
    t_watch(coil_connect_protocol(ep, &mine.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_false(o.failed);
    assert_ptr_equal(o.ptr, &mine);
    assert_int_equal(mine.made, 1);
    coil_transport_lose_connection(mine.base.transport);
    T_RUN_UNTIL(r, mine.lost == 1 && srv.lost == 1, 5);
    stop(r, p);

    /* Failing: the protocol is never used (and the one-shot factory is
     * freed: LSan would tell). */
    t_counter unused;
    t_counter_init(&unused);
    t_watch(coil_connect_protocol(ep, &unused.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_true(o.failed);
    assert_int_equal(unused.made + unused.lost, 0);
    coil_client_endpoint_free(ep);

    /* Failing synchronously (checkPID): nothing kept, nothing leaked. */
    ep = client(r, "unix:/nonexistent/x.sock:lockfile=1");
    t_watch(coil_connect_protocol(ep, &unused.base), &o);
    assert_true(o.fired && o.failed);
    coil_client_endpoint_free(ep);
    t_teardown(r);
}

/* ---- a registered endpoint type --------------------------------------------- */

/* "loop:PORT" listens on 127.0.0.1:PORT and connects to it. */
static int loop_parse(void *arg, const coil_endpoint_args *args, void **data, char *err,
                      size_t errlen)
{
    static const char *const names[] = {"port"};
    const char *v[1];
    int rc = coil_endpoint_bind(args, "loop", names, 1, 1, v, err, errlen);
    if (rc < 0)
        return rc;
    long long port;
    if (!v[0] || coil_endpoint_int(v[0], 10, 0, 65535, &port) < 0)
        return coil_endpoint_errorf(err, errlen, "loop: invalid port");
    *data = (void *)(intptr_t)port;
    return 0;
}

static int loop_server(void *arg, coil_reactor *r, const void *data, coil_server_endpoint **out,
                       char *err, size_t errlen)
{
    *out = coil_tcp_server_endpoint_new(r, (uint16_t)(intptr_t)data, "127.0.0.1", 0);
    return *out ? 0 : -ENOMEM;
}

static int loop_client(void *arg, coil_reactor *r, const void *data, coil_client_endpoint **out,
                       char *err, size_t errlen)
{
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", (uint16_t)(intptr_t)data);
    *out = coil_tcp_client_endpoint_new(r, &a, 5, NULL);
    return *out ? 0 : -ENOMEM;
}

static void registered_types_build_endpoints(void **state)
{
    coil_reactor *r = t_reactor();
    coil_endpoint_type type = {
        .prefix = "loop", .parse_server = loop_parse, .parse_client = loop_parse};
    assert_int_equal(coil_endpoint_register(&type), 0);
    char err[256];
    coil_server_endpoint *s = NULL;
    /* Parsed, but no constructor yet: a clear error. */
    assert_int_equal(coil_server_from_string(r, "loop:0", &s, err, sizeof(err)), COIL_EBADDESC);
    assert_string_equal(err, "loop: no server endpoint constructor registered");
    assert_int_equal(coil_endpoint_type_set_constructors("tcp", loop_server, NULL, NULL), -EINVAL);
    assert_int_equal(coil_endpoint_type_set_constructors("nope", loop_server, NULL, NULL),
                     -ENOENT);
    assert_int_equal(coil_endpoint_type_set_constructors("LOOP", loop_server, loop_client, NULL),
                     0);

    t_factory srv;
    t_factory_init(&srv);
    srv.echo = true;
    coil_port *p = listen_on(r, "loop:0", &srv.base);
    char desc[64];
    snprintf(desc, sizeof(desc), "Loop:%u", port_of(p));
    round_trip(r, desc, &srv);
    stop(r, p);

    assert_int_equal(coil_endpoint_unregister("loop"), 0);
    assert_int_equal(coil_server_from_string(r, "loop:0", &s, err, sizeof(err)), COIL_EBADDESC);
    assert_string_equal(err, "Unknown endpoint type: 'loop'");
    /* Registering again does not bring the old constructors back. */
    assert_int_equal(coil_endpoint_register(&type), 0);
    assert_int_equal(coil_server_from_string(r, "loop:0", &s, err, sizeof(err)), COIL_EBADDESC);
    assert_string_equal(err, "loop: no server endpoint constructor registered");
    assert_int_equal(coil_endpoint_unregister("loop"), 0);
    t_teardown(r);
}

/* ---- the endpoint service ----------------------------------------------------- */

static coil_port *announced;

static void on_listening(coil_endpoint_service *s, coil_port *p)
{
    announced = p;
}

static void endpoint_service_listens_while_running(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.echo = true;
    coil_server_endpoint *ep = server(r, "tcp:0:interface=127.0.0.1");
    coil_endpoint_service s;
    coil_endpoint_service_init(&s, ep, &srv.base);
    s.on_listening = on_listening;
    announced = NULL;
    assert_int_equal(coil_service_start(&s.service), 0);
    assert_non_null(s.port);
    assert_ptr_equal(announced, s.port);
    char desc[64];
    snprintf(desc, sizeof(desc), "tcp:127.0.0.1:%u", port_of(s.port));
    round_trip(r, desc, &srv);

    /* A second service on the same port fails at start with the reason. */
    snprintf(desc, sizeof(desc), "tcp:%u:interface=127.0.0.1", port_of(s.port));
    coil_server_endpoint *ep2 = server(r, desc);
    coil_endpoint_service s2;
    coil_endpoint_service_init(&s2, ep2, &srv.base);
    assert_int_equal(coil_service_start(&s2.service), -EADDRINUSE);
    assert_false(s2.service.running);
    assert_non_null(s2.failure);
    assert_non_null(strstr(coil_failure_message(s2.failure), "Address already in use"));
    coil_endpoint_service_fini(&s2);
    coil_server_endpoint_free(ep2);

    t_outcome o;
    t_watch(coil_service_stop(&s.service), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_false(o.failed);
    assert_null(s.port);
    assert_int_equal(srv.stopped, 1);
    coil_endpoint_service_fini(&s);
    coil_server_endpoint_free(ep);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tcp_listen_connect_and_stop),
        cmocka_unit_test(bare_port_is_tcp),
        cmocka_unit_test(listen_errback_stops_before_run),
        cmocka_unit_test(tcp6_listen_connect),
        cmocka_unit_test(address_in_use_names_the_address),
        cmocka_unit_test(connect_refused_errbacks),
        cmocka_unit_test(cancel_abandons_a_pending_connect),
        cmocka_unit_test(timeout_keyword_bounds_a_connect),
        cmocka_unit_test(bind_address_is_used),
        cmocka_unit_test(unix_mode_lockfile_and_check_pid),
        cmocka_unit_test(unix_without_lockfile),
        cmocka_unit_test(tls_types_fail_clearly_without_tls),
        cmocka_unit_test(bad_descriptions_name_the_problem),
        cmocka_unit_test(connect_protocol_attaches_the_given_protocol),
        cmocka_unit_test(registered_types_build_endpoints),
        cmocka_unit_test(endpoint_service_listens_while_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
