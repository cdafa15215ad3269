/* SPDX-License-Identifier: MIT */
/*
 * The helpers that keep user code short: coil_protocol_factory (Twisted's
 * Factory.forProtocol), coil_transport_writef, COIL_CONTAINER_OF,
 * coil_result_failure_of, coil_listen_string and coil_connect_string;
 * coil_react (Twisted's task.react), coil_protocol_when_lost, and the call
 * sites that failures record.
 */
#include "helpers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A greeter: says hello with its connection number, then echoes. Its
 * protocol struct has a member before the coil_protocol, to exercise
 * COIL_CONTAINER_OF. */
typedef struct room {
    int connections;
    int lost;
    int refused;
} room;

typedef struct greeter {
    int number;
    coil_protocol proto; /* not first: reached with COIL_CONTAINER_OF */
} greeter;

/* A hand-written factory whose coil_factory is not first either. */
typedef struct greeter_factory {
    room *rm;
    coil_factory base;
} greeter_factory;

static room *room_of(coil_protocol *p)
{
    return COIL_CONTAINER_OF(p->factory, greeter_factory, base)->rm;
}

static void greeter_made(coil_protocol *p)
{
    greeter *g = COIL_CONTAINER_OF(p, greeter, proto);
    room *rm = room_of(p);
    g->number = ++rm->connections;
    assert_int_equal(coil_transport_writef(p->transport, "hello #%d, %s\n", g->number, "friend"),
                     0);
}

static void greeter_data(coil_protocol *p, const void *data, size_t len)
{
    coil_transport_write(p->transport, data, len);
}

static void greeter_lost(coil_protocol *p, int reason)
{
    room_of(p)->lost++;
    free(COIL_CONTAINER_OF(p, greeter, proto));
}

static const coil_protocol_ops greeter_ops = {
    .connection_made = greeter_made,
    .data_received = greeter_data,
    .connection_lost = greeter_lost,
};

/* The plain case: a protocol struct with coil_protocol first. */
typedef struct echo {
    coil_protocol proto;
    size_t seen;
} echo;

static void echo_made(coil_protocol *p)
{
    room *rm = coil_protocol_factory_user(p);
    rm->connections++;
    coil_transport_writef(p->transport, "%s", ""); /* empty: ignored */
}

static void echo_data(coil_protocol *p, const void *data, size_t len)
{
    ((echo *)p)->seen += len;
    coil_transport_write(p->transport, data, len);
}

static void echo_lost(coil_protocol *p, int reason)
{
    room *rm = coil_protocol_factory_user(p);
    rm->lost++;
    free(p);
}

static const coil_protocol_ops echo_ops = {
    .connection_made = echo_made,
    .data_received = echo_data,
    .connection_lost = echo_lost,
};

static bool refuse_odd(coil_protocol *p, const coil_address *peer, void *user)
{
    room *rm = user;
    assert_non_null(peer);
    if ((rm->connections + rm->refused) % 2 == 1) {
        rm->refused++;
        return false;
    }
    return true;
}

static uint16_t port_of(coil_port *p)
{
    coil_address a;
    assert_int_equal(coil_port_get_host(p, &a), 0);
    return coil_address_port(&a);
}

static coil_port *listen_string(coil_reactor *r, const char *desc, coil_factory *f)
{
    t_outcome o;
    t_watch(coil_listen_string(r, desc, f), &o);
    t_run_until_flag(r, &o.fired, 5);
    if (o.failed)
        fail_msg("%s: %s", desc, o.message);
    return o.ptr;
}

static void protocol_factory_and_strings(void **state)
{
    coil_reactor *r = t_reactor();
    room rm = {0};
    coil_protocol_factory f;
    coil_protocol_factory_init(&f, sizeof(echo), &echo_ops, &rm);
    coil_port *port = listen_string(r, "tcp:0:interface=127.0.0.1", &f.base);

    char desc[64];
    snprintf(desc, sizeof(desc), "tcp:127.0.0.1:%u", port_of(port));
    t_factory cli;
    t_factory_init(&cli);
    t_outcome o;
    t_watch(coil_connect_string(r, desc, &cli.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_false(o.failed);
    t_conn *c = o.ptr;
    assert_ptr_equal(c, cli.last);
    assert_int_equal(coil_transport_writef(c->base.transport, "%d-%s", 42, "x"), 0);
    T_RUN_UNTIL(r, c->rx.len == 4, 5);
    assert_memory_equal(c->rx.data, "42-x", 4);
    assert_int_equal(rm.connections, 1);
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(r, rm.lost == 1 && cli.lost == 1, 5);

    /* A long formatted write goes through the heap path intact. */
    t_watch(coil_connect_string(r, desc, &cli.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_false(o.failed);
    c = o.ptr;
    char big[3000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(coil_transport_writef(c->base.transport, "<%s>", big), 0);
    T_RUN_UNTIL(r, c->rx.len == sizeof(big) + 1, 5);
    assert_int_equal(c->rx.data[0], '<');
    assert_int_equal(c->rx.data[sizeof(big)], '>');
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(r, rm.lost == 2 && cli.lost == 2, 5);

    /* init refuses every other connection: the connect fails, nothing leaks. */
    f.init = refuse_odd;
    rm.connections = 1; /* next is odd */
    t_watch(coil_connect_string(r, desc, &cli.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    if (!o.failed) { /* the server closed the refused socket right after accept */
        c = o.ptr;
        T_RUN_UNTIL(r, cli.lost == 3, 5);
    }
    assert_int_equal(rm.refused, 1);
    assert_int_equal(rm.lost, 2); /* a refused protocol never ran */

    t_stop_listening(r, port);
    t_teardown(r);
}

/* The user pointer is NULL for protocols of other factories. */
static void user_of_other_factories_is_null(void **state)
{
    t_conn c = {0};
    t_factory f;
    t_factory_init(&f);
    c.base.factory = &f.base;
    assert_null(coil_protocol_factory_user(&c.base));
    assert_null(coil_protocol_factory_user(NULL));
}

/* COIL_CONTAINER_OF from the coil_protocol and the coil_factory a
 * callback receives to the user's structs around them. */
static coil_protocol *build_greeter(coil_factory *f, const coil_address *peer)
{
    greeter *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->proto.ops = &greeter_ops;
    return &g->proto;
}

static const coil_factory_ops greeter_factory_ops = {.build_protocol = build_greeter};

static void container_of_finds_the_struct(void **state)
{
    coil_reactor *r = t_reactor();
    room rm = {0};
    greeter_factory gf = {.rm = &rm, .base = {.ops = &greeter_factory_ops}};
    uint16_t portno;
    coil_port *port = t_listen_tcp(r, &gf.base, &portno);
    t_factory cli;
    t_factory_init(&cli);
    int err = 0;
    t_conn *c = (t_conn *)t_connect_tcp(r, &cli.base, portno, &err);
    assert_non_null(c);
    static const char want[] = "hello #1, friend\n";
    T_RUN_UNTIL(r, c->rx.len == strlen(want), 5);
    assert_memory_equal(c->rx.data, want, strlen(want));
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(r, rm.lost == 1 && cli.lost == 1, 5);
    t_stop_listening(r, port);
    t_teardown(r);
}

static void result_failure_of(void **state)
{
    coil_failure *f = coil_failure_new("test", -EIO, "disk on fire");
    coil_result res = coil_result_failure(f);
    assert_ptr_equal(coil_result_failure_of(res), f);
    assert_string_equal(coil_failure_message(coil_result_failure_of(res)), "disk on fire");
    assert_null(coil_result_failure_of(coil_result_int(7)));
    coil_result_release(res);
}

/* A description that does not parse gives an already failed Deferred with
 * the parser's message. */
static void bad_descriptions_fail_the_deferred(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    t_outcome o;
    t_watch(coil_listen_string(r, "tcp:1234:interface=::1", &f.base), &o);
    assert_true(o.fired);
    assert_true(o.failed);
    assert_int_equal(o.code, COIL_EBADDESC);
    assert_non_null(strstr(o.message, "must be escaped as '\\:'"));
    t_watch(coil_connect_string(r, "nope:1", &f.base), &o);
    assert_true(o.fired);
    assert_true(o.failed);
    assert_int_equal(o.code, COIL_EBADDESC);
    assert_non_null(strstr(o.message, "nope"));
    assert_int_equal(f.built, 0);
    t_teardown(r);
}


/* ---- coil_react and coil_protocol_when_lost ------------------------------- */

/* One program for coil_react: listen on a free port, connect to it, wait
 * until the connection is lost, stop listening. The server sends a quote
 * and closes (or aborts, to see the errback of when_lost). */
typedef struct quote_run {
    coil_protocol_factory server, client;
    coil_reactor *r;
    coil_port *port;
    bool abort;         /* the server resets instead of closing */
    char got[64];       /* what the client received */
    size_t got_len;
    int client_lost;    /* the client protocol's connection_lost ran */
    int lost_reason;
    int same_deferred;  /* when_lost twice gave the same Deferred */
} quote_run;

static void quote_made(coil_protocol *p)
{
    quote_run *q = coil_protocol_factory_user(p);
    if (!q->abort) {
        coil_transport_writef(p->transport, "quote\r\n");
        coil_transport_lose_connection(p->transport);
    }
}

/* With `abort`: the client's first bytes make the server reset, so the
 * client is surely connected (and watching) when the reset comes. */
static void quote_server_data(coil_protocol *p, const void *data, size_t len)
{
    coil_transport_abort_connection(p->transport);
}

static void quote_server_lost(coil_protocol *p, int reason)
{
    free(p);
}

static const coil_protocol_ops quote_server_ops = {.connection_made = quote_made,
                                                   .data_received = quote_server_data,
                                                   .connection_lost = quote_server_lost};

static void quote_client_data(coil_protocol *p, const void *data, size_t len)
{
    quote_run *q = coil_protocol_factory_user(p);
    size_t room_left = sizeof(q->got) - q->got_len;
    len = len < room_left ? len : room_left;
    memcpy(q->got + q->got_len, data, len);
    q->got_len += len;
}

static void quote_client_lost(coil_protocol *p, int reason)
{
    quote_run *q = coil_protocol_factory_user(p);
    q->client_lost++;
    q->lost_reason = reason;
    free(p);
}

static const coil_protocol_ops quote_client_ops = {.data_received = quote_client_data,
                                                   .connection_lost = quote_client_lost};

static coil_result quote_connect(coil_result listening, void *arg)
{
    quote_run *q = arg;
    q->port = coil_result_ptr(listening);
    coil_result_release(listening);
    char desc[64];
    snprintf(desc, sizeof(desc), "tcp:127.0.0.1:%u", port_of(q->port));
    return coil_result_deferred(
        coil_connect_string(q->r, desc, &q->client.base));
}

static coil_result quote_when_lost(coil_result connected, void *arg)
{
    quote_run *q = arg;
    coil_protocol *p = coil_result_ptr(connected);
    coil_deferred *a = coil_protocol_when_lost(p);
    if (q->abort)
        coil_transport_writef(p->transport, "reset me\r\n");
    coil_deferred *b = coil_protocol_when_lost(p);
    q->same_deferred = a == b;
    coil_deferred_unref(b);
    coil_result_release(connected);
    return coil_result_deferred(a);
}

/* Whatever happened to the connection, the port stops; the outcome goes on. */
static coil_result quote_stop_port(coil_result outcome, void *arg)
{
    quote_run *q = arg;
    if (!q->port)
        return outcome;
    coil_deferred *stopped = coil_port_stop_listening_deferred(q->port);
    q->port = NULL;
    if (coil_result_is_failure(outcome)) {
        coil_deferred_add_errback(stopped, NULL, NULL);
        coil_deferred_unref(stopped);
        return outcome;
    }
    coil_result_release(outcome);
    return coil_result_deferred(stopped);
}

static coil_deferred *quote_main(coil_reactor *r, void *arg)
{
    quote_run *q = arg;
    q->r = r;
    coil_protocol_factory_init(&q->server, sizeof(coil_protocol), &quote_server_ops, q);
    coil_protocol_factory_init(&q->client, sizeof(coil_protocol), &quote_client_ops, q);
    coil_deferred *d = coil_listen_string(r, "tcp:0:interface=127.0.0.1", &q->server.base);
    coil_deferred_add_callback(d, quote_connect, q);
    coil_deferred_add_callback(d, quote_when_lost, q);
    coil_deferred_add_both(d, quote_stop_port, q);
    return d;
}

static void react_runs_until_the_deferred_fires(void **state)
{
    quote_run q = {0};
    t_log_capture();
    assert_int_equal(coil_react(quote_main, &q), 0);
    assert_int_equal(q.got_len, 7);
    assert_memory_equal(q.got, "quote\r\n", 7);
    assert_int_equal(q.client_lost, 1);
    assert_int_equal(q.lost_reason, 0);
    assert_true(q.same_deferred);
    assert_int_equal(t_log_count("main function encountered error"), 0);
    coil_log_set_handler(NULL, NULL);
}

/* A reset connection: when_lost errbacks with the reason, react logs the
 * failure and returns 1. */
static void react_logs_a_failure_and_returns_1(void **state)
{
    quote_run q = {.abort = true};
    t_log_capture();
    int status = coil_react(quote_main, &q);
    if (status != 1)
        fail_msg("status %d, client lost %d (reason %d)", status, q.client_lost, q.lost_reason);
    assert_int_equal(q.client_lost, 1);
    assert_true(q.lost_reason < 0);
    assert_int_equal(t_log_count("main function encountered error"), 1);
    assert_int_equal(t_log_count(coil_strerror(q.lost_reason)), 1);
    coil_log_set_handler(NULL, NULL);
}

static coil_deferred *fail_at_once(coil_reactor *r, void *arg)
{
    return coil_fail(coil_failure_new("test", -EIO, "%s", (const char *)arg));
}

static coil_deferred *succeed_at_once(coil_reactor *r, void *arg)
{
    return coil_succeed(coil_result_value(strdup("a value react releases"), free));
}

static coil_deferred *no_deferred(coil_reactor *r, void *arg)
{
    return NULL;
}

/* Fired before run(): the reactor starts and stops at once. */
static void react_with_a_deferred_fired_before_run(void **state)
{
    t_log_capture();
    assert_int_equal(coil_react(succeed_at_once, NULL), 0);
    assert_int_equal(coil_react(fail_at_once, "the disk is on fire"), 1);
    assert_int_equal(t_log_count("the disk is on fire"), 1);
    assert_int_equal(coil_react(no_deferred, NULL), 1);
    assert_int_equal(t_log_count("main function returned no Deferred"), 1);
    coil_log_set_handler(NULL, NULL);
}

/* Stopped from outside (as SIGINT would) before the Deferred fires: status
 * 0, as in Twisted, and the Deferred is cancelled so nothing is left. */
typedef struct never {
    int cancelled;
    coil_deferred *d;
} never;

static void never_cancel(coil_deferred *d, void *arg)
{
    ((never *)arg)->cancelled++;
}

static void stop_reactor(void *arg)
{
    coil_reactor_stop(arg);
}

static coil_deferred *never_fires(coil_reactor *r, void *arg)
{
    never *n = arg;
    n->d = coil_deferred_new(never_cancel, n);
    coil_reactor_call_later(r, 0.01, stop_reactor, r);
    return coil_deferred_ref(n->d);
}

static void react_stopped_from_outside(void **state)
{
    never n = {0};
    t_log_capture();
    assert_int_equal(coil_react(never_fires, &n), 0);
    assert_int_equal(n.cancelled, 1);
    assert_true(coil_deferred_called(n.d));
    assert_int_equal(t_log_count("main function encountered error"), 0);
    coil_deferred_unref(n.d);
    coil_log_set_handler(NULL, NULL);
}

/* ---- failures name the user's call site ------------------------------------ */

typedef struct formatted {
    bool fired;
    char *text;
    const char *file;
    int line;
} formatted;

static coil_result keep_format(coil_result result, void *arg)
{
    formatted *o = arg;
    o->fired = true;
    coil_failure *f = coil_result_failure_of(result);
    if (f) {
        o->text = coil_failure_format(f);
        assert_true(coil_failure_call_site(f, &o->file, &o->line, NULL) ||
                    coil_failure_line(f) > 0);
        if (!coil_failure_call_site(f, &o->file, &o->line, NULL)) {
            o->file = coil_failure_file(f);
            o->line = coil_failure_line(f);
        }
    }
    coil_result_release(result);
    return coil_result_none();
}

static void watch_format(coil_deferred *d, formatted *o)
{
    *o = (formatted){0};
    coil_deferred_add_both(d, keep_format, o);
    coil_deferred_unref(d);
}

/* The formatted failure names this file and `line`, the line of the call. */
static void assert_names_line(formatted *o, int line)
{
    assert_true(o->fired);
    assert_non_null(o->text);
    char where[64];
    snprintf(where, sizeof(where), "test_conveniences.c:%d in ", line);
    if (!strstr(o->text, where))
        fail_msg("'%s' not in:\n%s", where, o->text);
    assert_string_equal(o->file, "test_conveniences.c");
    assert_int_equal(o->line, line);
    free(o->text);
    o->text = NULL;
}

static void failures_name_the_call_site(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    formatted o;

    /* A refused connect, from a string and from an endpoint. */
    uint16_t portno;
    coil_port *port = t_listen_tcp(r, &f.base, &portno);
    char desc[64], busy[64];
    snprintf(desc, sizeof(desc), "tcp:127.0.0.1:%u", portno);
    snprintf(busy, sizeof(busy), "tcp:%u:interface=127.0.0.1", portno);
    /* The port is in use: the listen error names this line. */
    int line = __LINE__ + 1;
    watch_format(coil_listen_string(r, busy, &f.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_names_line(&o, line);
    t_stop_listening(r, port);

    line = __LINE__ + 1;
    watch_format(coil_connect_string(r, desc, &f.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_non_null(strstr(o.text, "called from test_conveniences.c"));
    assert_non_null(strstr(o.text, "refused"));
    assert_names_line(&o, line);

    coil_client_endpoint *ep = NULL;
    assert_int_equal(coil_client_from_string(r, desc, &ep, NULL, 0), 0);
    line = __LINE__ + 1;
    watch_format(coil_client_endpoint_connect(ep, &f.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_names_line(&o, line);
    t_counter c;
    t_counter_init(&c);
    line = __LINE__ + 1;
    watch_format(coil_connect_protocol(ep, &c.base), &o);
    t_run_until_flag(r, &o.fired, 5);
    assert_names_line(&o, line);
    coil_client_endpoint_free(ep);

    /* A description that does not parse. */
    line = __LINE__ + 1;
    watch_format(coil_connect_string(r, "tcp:nope", &f.base), &o);
    assert_names_line(&o, line);

    /* The plain function (no macro) records no call site. */
    watch_format((coil_connect_string)(r, "tcp:nope", &f.base), &o);
    assert_true(o.fired);
    assert_null(strstr(o.text, "called from"));
    free(o.text);

    /* A timeout and a cancel are created at the user's line. */
    coil_clock *clock = coil_fake_clock_new();
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    line = __LINE__ + 1;
    assert_int_equal(coil_deferred_add_timeout(d, clock, 2), 0);
    watch_format(coil_deferred_ref(d), &o);
    coil_fake_clock_advance(clock, 2);
    assert_non_null(strstr(o.text, "timed out after 2 seconds"));
    assert_names_line(&o, line);
    coil_deferred_unref(d);
    d = coil_deferred_new(NULL, NULL);
    watch_format(coil_deferred_ref(d), &o);
    line = __LINE__ + 1;
    coil_deferred_cancel(d);
    assert_names_line(&o, line);
    coil_deferred_unref(d);
    coil_fake_clock_free(clock);
    assert_int_equal(f.built, 0);
    t_teardown(r);
}

/* The first call site sticks; the shared out-of-memory failure takes none. */
static void call_site_accessors(void **state)
{
    coil_failure *f = coil_failure_new("test", -EIO, "x");
    assert_false(coil_failure_call_site(f, NULL, NULL, NULL));
    coil_failure_set_call_site(f, "/src/app/main.c", 12, "main");
    coil_failure_set_call_site(f, "other.c", 99, "other");
    const char *file, *func;
    int line;
    assert_true(coil_failure_call_site(f, &file, &line, &func));
    assert_string_equal(file, "main.c");
    assert_int_equal(line, 12);
    assert_string_equal(func, "main");
    char *text = coil_failure_format(f);
    assert_non_null(strstr(text, "\n    called from main.c:12 in main\n    at "));
    free(text);
    coil_failure_unref(f);
    coil_failure_set_call_site(NULL, "a.c", 1, "f"); /* ignored */
}

/* ---- the smaller helpers ---------------------------------------------------- */

static void result_copy_and_lost_failure(void **state)
{
    coil_result r = coil_result_copy("line\0tail", 4);
    assert_false(coil_result_is_failure(r));
    assert_string_equal(coil_result_ptr(r), "line");
    coil_result_release(r); /* frees the copy (ASan/valgrind check) */
    r = coil_result_copy(NULL, 0);
    assert_string_equal(coil_result_ptr(r), "");
    coil_result_release(r);

    int line = __LINE__ + 1;
    coil_failure *f = coil_connection_lost_failure(0);
    assert_true(coil_failure_check(f, COIL_NET_DOMAIN, 0));
    assert_string_equal(coil_failure_message(f), "Connection was closed cleanly");
    assert_string_equal(coil_failure_file(f), "test_conveniences.c");
    assert_int_equal(coil_failure_line(f), line);
    coil_failure_unref(f);
    f = coil_connection_lost_failure(-ECONNRESET);
    assert_true(coil_failure_check(f, COIL_NET_DOMAIN, -ECONNRESET));
    assert_string_equal(coil_failure_message(f), coil_strerror(-ECONNRESET));
    coil_failure_unref(f);
}

/* coil_line_receiver_factory_init: line protocols without a build or init
 * function; the factory's user pointer still reaches them. */
typedef struct shouter {
    coil_line_receiver lines;
    int said;
} shouter;

static void shout_line(coil_line_receiver *lr, const char *line, size_t len)
{
    shouter *s = (shouter *)lr;
    room *rm = coil_protocol_factory_user(&lr->base);
    s->said++;
    coil_line_receiver_send_linef(lr, "%d:%d:%.*s", rm->connections, s->said, (int)len, line);
}

static void shout_made(coil_line_receiver *lr)
{
    ((room *)coil_protocol_factory_user(&lr->base))->connections++;
}

static void shout_lost(coil_line_receiver *lr, int reason)
{
    ((room *)coil_protocol_factory_user(&lr->base))->lost++;
    free(lr);
}

static const coil_line_receiver_ops shout_ops = {
    .connection_made = shout_made, .line_received = shout_line, .connection_lost = shout_lost};

static void line_receiver_factory(void **state)
{
    coil_reactor *r = t_reactor();
    room rm = {0};
    coil_protocol_factory f;
    coil_line_receiver_factory_init(&f, sizeof(shouter), &shout_ops, &rm);
    coil_port *port = listen_string(r, "tcp:0:interface=127.0.0.1", &f.base);
    int fd = t_peer_connect_tcp(port_of(port));
    assert_true(fd >= 0);
    assert_int_equal(t_peer_write_all(fd, "a\r\nbc\r\n", 7), 0);
    char got[16] = "";
    static const char want[] = "1:1:a\r\n1:2:bc\r\n";
    size_t have = 0;
    for (int turns = 0; have < strlen(want); turns++) {
        if (turns == 1000)
            fail_msg("only '%s' arrived", got);
        coil_reactor_iterate(r, 0.01);
        ssize_t n = recv(fd, got + have, sizeof(got) - 1 - have, MSG_DONTWAIT);
        if (n > 0)
            have += (size_t)n;
        else if (n == 0)
            fail_msg("closed after %zu bytes", have);
    }
    assert_string_equal(got, want);
    close(fd);
    T_RUN_UNTIL(r, rm.lost == 1, 5);
    t_stop_listening(r, port);
    t_teardown(r);
}

/* when_lost: NULL without a transport; cancelling only stops the wait. */
static void when_lost_cancel_and_misuse(void **state)
{
    coil_protocol bare = {0};
    assert_null(coil_protocol_when_lost(&bare));
    assert_null(coil_protocol_when_lost(NULL));

    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    uint16_t portno;
    coil_port *port = t_listen_tcp(r, &srv.base, &portno);
    int err = 0;
    t_conn *c = (t_conn *)t_connect_tcp(r, &cli.base, portno, &err);
    assert_non_null(c);
    t_outcome o;
    coil_deferred *d = coil_protocol_when_lost(&c->base);
    assert_non_null(d);
    coil_deferred_cancel(d);
    t_watch(d, &o);
    assert_true(o.fired);
    assert_int_equal(o.code, COIL_DEFER_CANCELLED);
    /* The connection is still up and ends normally; the late fire of the
     * cancelled Deferred is swallowed, as in Twisted. */
    coil_transport_write(c->base.transport, "x", 1);
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(r, cli.lost == 1 && srv.lost == 1, 5);
    t_stop_listening(r, port);
    t_teardown(r);
}

/* Without an error buffer, from_string logs why the description is bad. */
static void from_string_without_buffer_logs(void **state)
{
    coil_reactor *r = t_reactor();
    char why[256];
    coil_client_endpoint *cep = NULL;
    coil_server_endpoint *sep = NULL;
    assert_int_equal(coil_client_from_string(r, "tcp:x", &cep, why, sizeof(why)), COIL_EBADDESC);
    t_log_capture();
    assert_int_equal(coil_client_from_string(r, "tcp:x", &cep, NULL, 0), COIL_EBADDESC);
    assert_null(cep);
    assert_int_equal(t_log_count(why), 1);
    assert_int_equal(coil_server_from_string(r, "tcp:1:bogus=1", &sep, why, sizeof(why)),
                     COIL_EBADDESC);
    assert_int_equal(coil_server_from_string(r, "tcp:1:bogus=1", &sep, NULL, 0), COIL_EBADDESC);
    assert_null(sep);
    assert_int_equal(t_log_count(why), 1);
    /* With a buffer nothing is logged. */
    assert_int_equal(coil_client_from_string(r, "tcp:x", &cep, why, sizeof(why)), COIL_EBADDESC);
    assert_int_equal(t_log_count(why), 1);
    coil_log_set_handler(NULL, NULL);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(protocol_factory_and_strings),
        cmocka_unit_test(user_of_other_factories_is_null),
        cmocka_unit_test(container_of_finds_the_struct),
        cmocka_unit_test(result_failure_of),
        cmocka_unit_test(bad_descriptions_fail_the_deferred),
        cmocka_unit_test(react_runs_until_the_deferred_fires),
        cmocka_unit_test(react_logs_a_failure_and_returns_1),
        cmocka_unit_test(react_with_a_deferred_fired_before_run),
        cmocka_unit_test(react_stopped_from_outside),
        cmocka_unit_test(failures_name_the_call_site),
        cmocka_unit_test(call_site_accessors),
        cmocka_unit_test(result_copy_and_lost_failure),
        cmocka_unit_test(line_receiver_factory),
        cmocka_unit_test(when_lost_cancel_and_misuse),
        cmocka_unit_test(from_string_without_buffer_logs),
    };
    return cmocka_run_group_tests_name("conveniences", tests, NULL, NULL);
}
