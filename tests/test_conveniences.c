/* SPDX-License-Identifier: MIT */
/*
 * The helpers that keep user code short: coil_protocol_factory (Twisted's
 * Factory.forProtocol), coil_transport_writef, COIL_CONTAINER_OF,
 * coil_result_failure_of, coil_listen_string and coil_connect_string.
 */
#include "helpers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(protocol_factory_and_strings),
        cmocka_unit_test(user_of_other_factories_is_null),
        cmocka_unit_test(container_of_finds_the_struct),
        cmocka_unit_test(result_failure_of),
        cmocka_unit_test(bad_descriptions_fail_the_deferred),
    };
    return cmocka_run_group_tests_name("conveniences", tests, NULL, NULL);
}
