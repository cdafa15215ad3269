/* SPDX-License-Identifier: MIT */
/* Services: start/stop order, Deferred stops, the listening-port service,
 * and a reactor shutdown that waits for a service to stop. */
#include "helpers.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct rec_service {
    coil_service s;
    char *log;       /* shared journal */
    char tag;
    coil_deferred *pending_stop; /* when set, stop waits for it */
    int start_rc;
} rec_service;

static void journal(char *log, char what, char tag)
{
    size_t n = strlen(log);
    log[n] = what;
    log[n + 1] = tag;
    log[n + 2] = '\0';
}

static int rec_start(coil_service *s)
{
    rec_service *r = (rec_service *)s;
    if (r->start_rc)
        return r->start_rc;
    journal(r->log, '+', r->tag);
    return 0;
}

static coil_deferred *rec_stop(coil_service *s)
{
    rec_service *r = (rec_service *)s;
    journal(r->log, '-', r->tag);
    return r->pending_stop ? coil_deferred_ref(r->pending_stop) : NULL;
}

static const coil_service_ops rec_ops = {.start = rec_start, .stop = rec_stop};

static void rec_init(rec_service *r, char *log, char tag, const char *name)
{
    memset(r, 0, sizeof(*r));
    r->s.ops = &rec_ops;
    r->s.name = name;
    r->log = log;
    r->tag = tag;
}

static coil_result set_flag(coil_result res, void *arg)
{
    *(bool *)arg = true;
    return res;
}

static void children_start_in_order_and_stop_in_reverse(void **state)
{
    char log[64] = "";
    rec_service root, a, b, c;
    rec_init(&root, log, 'R', "root");
    rec_init(&a, log, 'a', "a");
    rec_init(&b, log, 'b', "b");
    rec_init(&c, log, 'c', "c");
    assert_int_equal(coil_service_add(&root.s, &a.s), 0);
    assert_int_equal(coil_service_add(&root.s, &b.s), 0);
    rec_service dup;
    rec_init(&dup, log, 'x', "a");
    assert_int_equal(coil_service_add(&root.s, &dup.s), -EEXIST);
    assert_int_equal(coil_service_start(&root.s), 0);
    assert_string_equal(log, "+R+a+b");
    assert_int_equal(coil_service_add(&root.s, &c.s), 0); /* started at once */
    assert_string_equal(log, "+R+a+b+c");
    log[0] = '\0';
    bool stopped = false;
    coil_deferred *d = coil_service_stop(&root.s);
    coil_deferred_add_both(d, set_flag, &stopped);
    coil_deferred_unref(d);
    assert_true(stopped);
    assert_string_equal(log, "-c-b-a-R");
    assert_false(a.s.running);
    coil_service_fini(&root.s);
}

static void stop_waits_for_a_child_deferred(void **state)
{
    char log[64] = "";
    rec_service root, slow;
    rec_init(&root, log, 'R', NULL);
    rec_init(&slow, log, 's', NULL);
    slow.pending_stop = coil_deferred_new(NULL, NULL);
    coil_service_add(&root.s, &slow.s);
    coil_service_start(&root.s);
    bool stopped = false;
    coil_deferred *d = coil_service_stop(&root.s);
    coil_deferred_add_both(d, set_flag, &stopped);
    assert_false(stopped); /* the child has not finished */
    assert_string_equal(log, "+R+s-s");
    coil_deferred_callback(slow.pending_stop, coil_result_none());
    assert_true(stopped);
    assert_string_equal(log, "+R+s-s-R");
    coil_deferred_unref(slow.pending_stop);
    coil_deferred_unref(d);
    coil_service_fini(&root.s);
}

static void failed_start_leaves_service_stopped(void **state)
{
    char log[64] = "";
    rec_service s;
    rec_init(&s, log, 's', NULL);
    s.start_rc = -EADDRINUSE;
    assert_int_equal(coil_service_start(&s.s), -EADDRINUSE);
    assert_false(s.s.running);
    coil_deferred *d = coil_service_stop(&s.s); /* not running: fired already */
    assert_true(coil_deferred_called(d));
    coil_deferred_unref(d);
}

static void port_service_listens_while_running(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    f.echo = true;
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", 0);
    coil_port_service ps;
    coil_port_service_init_tcp(&ps, r, &a, NULL, &f.base);
    assert_int_equal(coil_service_start(&ps.service), 0);
    assert_non_null(ps.port);
    assert_int_equal(f.started, 1);
    bool stopped = false;
    coil_deferred *d = coil_service_stop(&ps.service);
    coil_deferred_add_both(d, set_flag, &stopped);
    coil_deferred_unref(d);
    assert_false(stopped); /* fires once the port is really closed */
    t_run_until_flag(r, &stopped, 5);
    assert_int_equal(f.stopped, 1);
    coil_service_fini(&ps.service);
    t_teardown(r);
}

/* A UNIX port service under a parent; removing it from the parent stops it
 * (the Deferred fires once the port is closed and its path unlinked) while
 * an accepted connection lives on until its peer goes. */
static void unix_port_service_removed_from_parent(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    f.echo = true;
    char path[108];
    snprintf(path, sizeof(path), "/tmp/coil-svc-%ld.sock", (long)getpid());
    unlink(path);
    static const coil_service_ops no_ops = {0};
    coil_service root = {.ops = &no_ops, .name = "root"};
    coil_port_service ps;
    coil_port_service_init_unix(&ps, r, path, NULL, &f.base);
    ps.service.name = "unix";
    assert_int_equal(coil_service_add(&root, &ps.service), 0);
    assert_int_equal(coil_service_start(&root), 0);
    assert_true(ps.service.running);
    assert_non_null(ps.port);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    int fd = t_peer_connect_unix(path);
    assert_true(fd >= 0);
    T_RUN_UNTIL(r, f.built == 1, 10);

    bool removed = false;
    coil_deferred *d = coil_service_remove(&root, &ps.service);
    coil_deferred_add_both(d, set_flag, &removed);
    coil_deferred_unref(d);
    t_run_until_flag(r, &removed, 5);
    assert_null(ps.service.parent);
    assert_int_equal(root.nchildren, 0);
    assert_false(ps.service.running);
    assert_int_equal(stat(path, &st), -1); /* unlinked with the port */
    /* The accepted connection is still served. */
    assert_int_equal(t_peer_write_all(fd, "hi", 2), 0);
    T_RUN_UNTIL(r, f.last->rx.len == 2 && coil_transport_write_buffer_size(f.last->base.transport) == 0, 10);
    char buf[2];
    assert_int_equal(t_peer_read_n(fd, buf, 2), 2);
    close(fd);
    T_RUN_UNTIL(r, f.lost == 1, 10);
    /* Removing it again: not a child any more. */
    t_outcome again = {0};
    t_watch(coil_service_remove(&root, &ps.service), &again);
    assert_true(again.fired && again.failed);
    assert_int_equal(again.code, -ENOENT);
    coil_deferred *rd = coil_service_stop(&root);
    coil_deferred_unref(rd);
    coil_service_fini(&ps.service);
    coil_service_fini(&root);
    t_teardown(r);
}

typedef struct shutdown_probe {
    coil_reactor *r;
    coil_deferred *gate;
    char log[32];
} shutdown_probe;

static void release_gate(void *arg)
{
    shutdown_probe *p = arg;
    journal(p->log, '!', 'g');
    coil_deferred_callback(p->gate, coil_result_none());
}

static void during(void *arg)
{
    journal(((shutdown_probe *)arg)->log, 'D', '.');
}

static void stop_now(void *arg)
{
    coil_reactor_stop(arg);
}

static void shutdown_waits_for_the_service_stop(void **state)
{
    coil_reactor *r = t_reactor();
    shutdown_probe probe = {.r = r};
    rec_service svc;
    rec_init(&svc, probe.log, 's', NULL);
    probe.gate = coil_deferred_new(NULL, NULL);
    svc.pending_stop = probe.gate;
    assert_int_equal(coil_service_run_under(&svc.s, r), 0);
    coil_reactor_add_trigger(r, COIL_PHASE_DURING, COIL_EVENT_SHUTDOWN, during, &probe);
    coil_reactor_call_later(r, 0.01, stop_now, r);
    /* The stop's Deferred fires 50 ms into the shutdown, from the loop. */
    coil_deferred_add_both(probe.gate, set_flag, &(bool){false});
    coil_reactor_call_later(r, 0.06, release_gate, &probe);
    assert_int_equal(coil_reactor_run(r), 0);
    assert_string_equal(probe.log, "+s-s!gD."); /* "during" only after the stop fired */
    coil_deferred_unref(probe.gate);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(children_start_in_order_and_stop_in_reverse),
        cmocka_unit_test(stop_waits_for_a_child_deferred),
        cmocka_unit_test(failed_start_leaves_service_stopped),
        cmocka_unit_test(port_service_listens_while_running),
        cmocka_unit_test(unix_port_service_removed_from_parent),
        cmocka_unit_test(shutdown_waits_for_the_service_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
