/* SPDX-License-Identifier: MIT */
/*
 * coil_reactor_call_from_thread() (order per thread, waking a blocked loop,
 * calls queued at reactor free) and name resolution: "localhost", IP
 * literals, a name that does not exist, cancelling a lookup (queued or
 * running), freeing the reactor with lookups in flight, and an installed
 * resolver.
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- call_from_thread ------------------------------------------------------- */

#define THREADS 4
#define CALLS 500

typedef struct record {
    int seen[THREADS]; /* next sequence number expected per thread */
    int total;
    bool out_of_order;
} record;

typedef struct tcall {
    record *rec;
    int thread, seq;
} tcall;

static void tcall_run(void *arg)
{
    tcall *c = arg;
    if (c->seq != c->rec->seen[c->thread])
        c->rec->out_of_order = true;
    c->rec->seen[c->thread] = c->seq + 1;
    c->rec->total++;
    free(c);
}

typedef struct producer {
    coil_reactor *r;
    record *rec;
    int thread;
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    for (int i = 0; i < CALLS; i++) {
        tcall *c = malloc(sizeof(*c));
        *c = (tcall){.rec = p->rec, .thread = p->thread, .seq = i};
        if (coil_reactor_call_from_thread(p->r, tcall_run, c) < 0)
            abort();
        if (i % 50 == 0)
            usleep(100);
    }
    return NULL;
}

static bool all_ran(void *arg)
{
    return ((record *)arg)->total == THREADS * CALLS;
}

static void calls_from_threads_keep_their_order(void **state)
{
    coil_reactor *r = t_reactor();
    record rec = {0};
    producer ps[THREADS];
    t_thread *ts[THREADS];
    for (int i = 0; i < THREADS; i++) {
        ps[i] = (producer){.r = r, .rec = &rec, .thread = i};
        ts[i] = t_thread_start(produce, &ps[i]);
    }
    t_run_until(r, all_ran, &rec, 20);
    for (int i = 0; i < THREADS; i++)
        t_thread_join(ts[i]);
    assert_false(rec.out_of_order);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(rec.seen[i], CALLS);
    assert_int_equal(coil_reactor_live_handles(r), 0); /* the wakeup is no handle */
    t_teardown(r);
}

static void set_flag(void *arg)
{
    *(bool *)arg = true;
}

typedef struct later {
    coil_reactor *r;
    bool *flag;
} later;

static void *call_later_from_thread(void *arg)
{
    later *l = arg;
    usleep(200 * 1000);
    coil_reactor_call_from_thread(l->r, set_flag, l->flag);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void a_call_wakes_a_blocked_loop(void **state)
{
    coil_reactor *r = t_reactor();
    bool first = false, woke = false;
    /* The first call (from this thread) sets the wakeup up. */
    assert_int_equal(coil_reactor_call_from_thread(r, set_flag, &first), 0);
    assert_false(first); /* never synchronously */
    t_run_until_flag(r, &first, 5);
    later l = {.r = r, .flag = &woke};
    t_thread *t = t_thread_start(call_later_from_thread, &l);
    double t0 = now_s();
    /* Nothing else to do: this blocks until the other thread's call. */
    while (!woke && now_s() - t0 < 10)
        assert_int_equal(coil_reactor_iterate(r, 10), 0);
    double took = now_s() - t0;
    t_thread_join(t);
    assert_true(woke);
    assert_true(took >= 0.15 && took < 5);

    /* Again, with the loop already blocked when the thread calls. */
    woke = false;
    t = t_thread_start(call_later_from_thread, &l);
    t0 = now_s();
    assert_int_equal(coil_reactor_iterate(r, -1), 0);
    t_thread_join(t);
    assert_true(woke);
    t_teardown(r);
}

static void calls_queued_at_free_run(void **state)
{
    coil_reactor *r = t_reactor();
    bool ran = false;
    assert_int_equal(coil_reactor_call_from_thread(r, set_flag, &ran), 0);
    t_teardown(r); /* frees the reactor */
    assert_true(ran);
}

/* ---- resolving ------------------------------------------------------------ */

/* Records a lookup's outcome and keeps a copy of the list. */
typedef struct lookup {
    bool fired, failed;
    int code;
    char message[256];
    coil_address_list *list; /* a copy (the test frees it) */
} lookup;

static coil_result lookup_done(coil_result res, void *arg)
{
    lookup *l = arg;
    l->fired = true;
    if (coil_result_is_failure(res)) {
        l->failed = true;
        l->code = coil_failure_code(res.failure);
        snprintf(l->message, sizeof(l->message), "%s", coil_failure_message(res.failure));
    } else {
        const coil_address_list *in = coil_result_ptr(res);
        l->list = coil_address_list_new(in->count);
        memcpy(l->list->addrs, in->addrs, in->count * sizeof(coil_address));
    }
    coil_result_release(res); /* frees the resolver's list */
    return coil_result_none();
}

static void watch_lookup(coil_deferred *d, lookup *l)
{
    *l = (lookup){0};
    assert_non_null(d);
    assert_int_equal(coil_deferred_add_both(d, lookup_done, l), 0);
    coil_deferred_unref(d);
}

static bool is_loopback(const coil_address *a)
{
    if (coil_address_family(a) == AF_INET)
        return (ntohl(a->u.in4.sin_addr.s_addr) >> 24) == 127;
    if (coil_address_family(a) == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&a->u.in6.sin6_addr);
    return false;
}

static void localhost_resolves_to_loopback(void **state)
{
    T_NEED_LOCALHOST();
    coil_reactor *r = t_reactor();
    lookup l;
    watch_lookup(coil_resolve(r, "localhost", 8080), &l);
    assert_false(l.fired); /* a worker thread looks it up */
    t_run_until_flag(r, &l.fired, 20);
    if (l.failed)
        fail_msg("localhost: %s", l.message);
    assert_true(l.list->count >= 1);
    for (size_t i = 0; i < l.list->count; i++) {
        assert_true(is_loopback(&l.list->addrs[i]));
        assert_int_equal(coil_address_port(&l.list->addrs[i]), 8080);
        for (size_t j = 0; j < i; j++) /* deduplicated */
            assert_false(coil_address_equal(&l.list->addrs[i], &l.list->addrs[j]));
    }
    free(l.list);
    t_teardown(r);
}

static void ip_literals_resolve_at_once(void **state)
{
    coil_reactor *r = t_reactor();
    lookup l;
    watch_lookup(coil_resolve(r, "127.0.0.1", 80), &l);
    assert_true(l.fired && !l.failed);
    assert_int_equal(l.list->count, 1);
    char text[COIL_ADDRESS_STRLEN];
    coil_address_format(&l.list->addrs[0], text, sizeof(text));
    assert_string_equal(text, "127.0.0.1:80");
    free(l.list);

    watch_lookup(coil_resolve(r, "::1", 443), &l);
    assert_true(l.fired && !l.failed);
    assert_int_equal(l.list->count, 1);
    assert_int_equal(coil_address_family(&l.list->addrs[0]), AF_INET6);
    coil_address_format(&l.list->addrs[0], text, sizeof(text));
    assert_string_equal(text, "[::1]:443");
    free(l.list);
    t_teardown(r);
}

static void unknown_names_fail_with_edns(void **state)
{
    coil_reactor *r = t_reactor();
    lookup l;
    watch_lookup(coil_resolve(r, "nonexistent.invalid", 80), &l);
    t_run_until_flag(r, &l.fired, 30);
    assert_true(l.failed);
    assert_int_equal(l.code, COIL_EDNS);
    const char *want = "Couldn't find the hostname 'nonexistent.invalid': ";
    assert_memory_equal(l.message, want, strlen(want));
    assert_true(strlen(l.message) > strlen(want)); /* getaddrinfo's reason */
    t_teardown(r);
}

static void cancel_discards_the_late_result(void **state)
{
    coil_reactor *r = t_reactor();
    lookup l[12];
    coil_deferred *d[12];
    /* More lookups than workers: some are still queued when cancelled. */
    for (int i = 0; i < 12; i++) {
        d[i] = coil_resolve(r, i % 2 ? "localhost" : "nonexistent.invalid", 80);
        watch_lookup(coil_deferred_ref(d[i]), &l[i]);
    }
    for (int i = 0; i < 12; i++) {
        assert_false(l[i].fired);
        coil_deferred_cancel(d[i]);
        assert_true(l[i].fired && l[i].failed); /* at once */
        assert_int_equal(l[i].code, -ECANCELED);
        assert_non_null(strstr(l[i].message, "was cancelled"));
        coil_deferred_unref(d[i]);
    }
    /* The workers finish; their results are dropped (LSan checks). */
    t_run_for(r, 0.3);
    for (int i = 0; i < 12; i++)
        assert_null(l[i].list);
    t_teardown(r);
}

static void free_with_lookups_in_flight(void **state)
{
    coil_reactor *r = t_reactor();
    lookup l[8];
    for (int i = 0; i < 8; i++)
        watch_lookup(coil_resolve(r, i % 2 ? "localhost" : "nonexistent.invalid", 80), &l[i]);
    t_teardown(r); /* waits for running lookups, fails queued ones */
    for (int i = 0; i < 8; i++) {
        assert_true(l[i].fired);
        if (l[i].failed)
            assert_true(l[i].code == COIL_EDNS || l[i].code == COIL_ESHUTDOWN);
        free(l[i].list);
    }
}

/* ---- an installed resolver -------------------------------------------------- */

typedef struct fake {
    int calls;
    char host[64];
} fake;

static coil_deferred *fake_resolve(void *arg, coil_reactor *r, const char *host, uint16_t port)
{
    fake *f = arg;
    f->calls++;
    snprintf(f->host, sizeof(f->host), "%s", host);
    coil_address_list *l = coil_address_list_new(1);
    coil_address_from_ip(&l->addrs[0], "127.0.0.9", port);
    return coil_succeed(coil_result_value(l, free));
}

static void an_installed_resolver_is_used(void **state)
{
    coil_reactor *r = t_reactor();
    fake f = {0};
    coil_reactor_set_resolver(r, fake_resolve, &f);
    lookup l;
    watch_lookup(coil_resolve(r, "example.test", 7), &l);
    assert_true(l.fired && !l.failed);
    assert_int_equal(f.calls, 1);
    assert_string_equal(f.host, "example.test");
    char text[COIL_ADDRESS_STRLEN];
    coil_address_format(&l.list->addrs[0], text, sizeof(text));
    assert_string_equal(text, "127.0.0.9:7");
    free(l.list);

    coil_reactor_set_resolver(r, NULL, NULL); /* the default again */
    watch_lookup(coil_resolve(r, "127.0.0.1", 7), &l);
    assert_true(l.fired && !l.failed);
    assert_int_equal(f.calls, 1);
    free(l.list);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calls_from_threads_keep_their_order),
        cmocka_unit_test(a_call_wakes_a_blocked_loop),
        cmocka_unit_test(calls_queued_at_free_run),
        cmocka_unit_test(localhost_resolves_to_loopback),
        cmocka_unit_test(ip_literals_resolve_at_once),
        cmocka_unit_test(unknown_names_fail_with_edns),
        cmocka_unit_test(cancel_discards_the_late_result),
        cmocka_unit_test(free_with_lookups_in_flight),
        cmocka_unit_test(an_installed_resolver_is_used),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
