/* SPDX-License-Identifier: MIT */
/*
 * coil_reactor_call_from_thread() (order per thread, waking a blocked loop,
 * calls queued at reactor free) and name resolution: "localhost", IP
 * literals, a name that does not exist, cancelling a lookup (queued or
 * running), freeing the reactor with lookups in flight, a slow lookup not
 * holding up the next one, and an installed resolver.
 *
 * getaddrinfo() is interposed here (the tests link libcoil.a, so this
 * definition is the one the resolver calls): names ending in ".gate" wait
 * until the test opens the gate, then resolve as 127.0.0.1; ".fast"
 * resolves as 127.0.0.1 at once; other names go to the C library. That
 * makes "a lookup is running in a worker" a state the tests can hold.
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
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

/* ---- a gated getaddrinfo ------------------------------------------------------ */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
    int waiting; /* lookups held at the gate */
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, true, 0};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int getaddrinfo(const char *restrict node, const char *restrict service,
                const struct addrinfo *restrict hints, struct addrinfo **restrict res)
{
    typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    static gai_fn real;
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
    if (node && ends_with(node, ".gate")) {
        pthread_mutex_lock(&gate.lock);
        gate.waiting++;
        pthread_cond_broadcast(&gate.cond);
        while (!gate.open)
            pthread_cond_wait(&gate.cond, &gate.lock);
        gate.waiting--;
        pthread_cond_broadcast(&gate.cond); /* gate_wait_for(0) */
        pthread_mutex_unlock(&gate.lock);
    }
    if (node && (ends_with(node, ".gate") || ends_with(node, ".fast")))
        node = "127.0.0.1";
    return real(node, service, hints, res);
}

static void gate_set(bool open)
{
    pthread_mutex_lock(&gate.lock);
    gate.open = open;
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.lock);
}

/* Wait (up to 10 s) until `n` lookups are held at the gate. */
static void gate_wait_for(int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&gate.lock);
    int rc = 0;
    while (gate.waiting != n && rc == 0)
        rc = pthread_cond_timedwait(&gate.cond, &gate.lock, &until);
    int got = gate.waiting;
    pthread_mutex_unlock(&gate.lock);
    assert_int_equal(got, n);
}

static void *open_gate_later(void *arg)
{
    usleep(200 * 1000);
    gate_set(true);
    return NULL;
}

static void a_slow_lookup_does_not_hold_up_the_next(void **state)
{
    coil_reactor *r = t_reactor();
    lookup l[3];
    /* One worker, idle again after its first lookup. */
    watch_lookup(coil_resolve(r, "warmup.fast", 1), &l[0]);
    t_run_until_flag(r, &l[0].fired, 10);
    free(l[0].list);
    /* Two lookups queued back to back, the first of which hangs: the
     * second gets a worker of its own. */
    gate_set(false);
    watch_lookup(coil_resolve(r, "slow.gate", 2), &l[1]);
    watch_lookup(coil_resolve(r, "quick.fast", 3), &l[2]);
    t_run_until_flag(r, &l[2].fired, 10);
    assert_false(l[2].failed);
    assert_int_equal(coil_address_port(&l[2].list->addrs[0]), 3);
    gate_wait_for(1);
    assert_false(l[1].fired);
    gate_set(true);
    t_run_until_flag(r, &l[1].fired, 10);
    assert_false(l[1].failed);
    free(l[1].list);
    free(l[2].list);
    t_teardown(r);
}

static void cancel_a_running_lookup(void **state)
{
    coil_reactor *r = t_reactor();
    gate_set(false);
    lookup l;
    coil_deferred *d = coil_resolve(r, "running.gate", 80);
    watch_lookup(coil_deferred_ref(d), &l);
    gate_wait_for(1); /* in getaddrinfo, in a worker */
    coil_deferred_cancel(d);
    coil_deferred_unref(d);
    assert_true(l.fired && l.failed); /* at once */
    assert_int_equal(l.code, -ECANCELED);
    assert_string_equal(l.message, "Resolving 'running.gate' was cancelled");
    gate_set(true);
    /* The result arrives and is dropped (LSan checks it is freed). */
    gate_wait_for(0);
    t_run_for(r, 0.1);
    assert_null(l.list);
    t_teardown(r);
}

static void free_waits_for_running_lookups(void **state)
{
    coil_reactor *r = t_reactor();
    gate_set(false);
    lookup l[5];
    for (int i = 0; i < 5; i++)
        watch_lookup(coil_resolve(r, "busy.gate", (uint16_t)(100 + i)), &l[i]);
    gate_wait_for(4); /* four workers at most: the fifth stays queued */
    t_thread *t = t_thread_start(open_gate_later, NULL);
    double t0 = now_s();
    t_teardown(r); /* joins the workers */
    double took = now_s() - t0;
    t_thread_join(t);
    assert_true(took >= 0.15);
    int ok = 0, shut = 0;
    for (int i = 0; i < 5; i++) {
        assert_true(l[i].fired);
        if (!l[i].failed)
            ok++;
        else if (l[i].code == COIL_ESHUTDOWN)
            shut++;
        free(l[i].list);
    }
    assert_int_equal(ok, 4);   /* the running ones were waited for and delivered */
    assert_int_equal(shut, 1); /* the queued one never ran */
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
        cmocka_unit_test(a_slow_lookup_does_not_hold_up_the_next),
        cmocka_unit_test(cancel_a_running_lookup),
        cmocka_unit_test(free_waits_for_running_lookups),
        cmocka_unit_test(an_installed_resolver_is_used),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
