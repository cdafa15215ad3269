/* SPDX-License-Identifier: MIT */
/*
 * UNIX stream sockets on both backends: echo (coil on both ends and a
 * blocking peer thread), addresses, abstract names, the socket file's mode,
 * the lock file (exclusion, stale lock from a dead process), and clean-up
 * of the socket file at stop_listening.
 */
#include "helpers.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define KIB 1024u
#define MIB (1024u * 1024u)
#define SEED 0x0417u

static void send_64k(t_conn *c)
{
    unsigned char buf[64 * KIB];
    t_fill_pattern(buf, sizeof(buf), SEED, 0);
    assert_int_equal(coil_transport_write(c->base.transport, buf, sizeof(buf)), 0);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static t_conn *connect_unix(coil_reactor *r, t_factory *f, const char *path)
{
    t_connect_result res = {0};
    assert_int_equal(coil_connect_unix(r, path, NULL, &f->base, t_on_connect, &res, NULL), 0);
    assert_false(res.done);
    T_RUN_UNTIL(r, res.done, 10);
    if (res.err)
        fail_msg("connect %s: %s", path, coil_strerror(res.err));
    return (t_conn *)res.p;
}

/* Echo 64 KiB from a coil client to a coil server on `path`, check the
 * addresses both ends report, then close. */
static void echo_and_addresses(coil_reactor *r, coil_port *lp, t_factory *srv, const char *path)
{
    t_factory cli;
    t_factory_init(&cli);
    cli.keep = true;
    cli.on_made = send_64k;
    t_conn *c = connect_unix(r, &cli, path);
    T_RUN_UNTIL(r, c->rx.len == 64 * KIB && srv->last && srv->last->made, 10);
    t_conn *s = srv->last;
    unsigned char want[64 * KIB];
    t_fill_pattern(want, sizeof(want), SEED, 0);
    assert_memory_equal(c->rx.data, want, sizeof(want));

    char buf[COIL_ADDRESS_STRLEN], expect[COIL_ADDRESS_STRLEN];
    snprintf(expect, sizeof(expect), "unix:%s", path);
    coil_address a;
    assert_int_equal(coil_port_get_host(lp, &a), 0);
    assert_int_equal(coil_address_family(&a), AF_UNIX);
    assert_true(coil_address_format(&a, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, expect);
    assert_int_equal(coil_transport_get_host(s->base.transport, &a), 0);
    assert_true(coil_address_format(&a, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, expect);
    assert_int_equal(coil_transport_get_peer(c->base.transport, &a), 0);
    assert_true(coil_address_format(&a, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, expect);
    assert_int_equal(coil_address_port(&a), 0);
    /* The client socket is not bound: its address has no name. */
    assert_int_equal(coil_transport_get_peer(s->base.transport, &a), 0);
    assert_int_equal(coil_address_family(&a), AF_UNIX);
    assert_true(coil_address_format(&a, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "unix:<unnamed>");
    assert_int_equal(coil_transport_set_tcp_nodelay(s->base.transport, true), -EOPNOTSUPP);

    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(r, c->lost_count && s->lost_count, 10);
    t_run_for(r, 0.02);
    assert_int_equal(c->lost_count, 1);
    assert_int_equal(s->lost_count, 1);
    assert_int_equal(c->lost_reason, 0);
    assert_int_equal(s->lost_reason, 0);
    t_conn_free(c);
    t_conn_free(s);
}

static void unix_echo_coil_client_and_server(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.echo = srv.keep = true;
    char path[108];
    coil_port *lp = t_listen_unix(r, &srv.base, path);
    assert_true(exists(path));
    echo_and_addresses(r, lp, &srv, path);
    t_stop_listening(r, lp);
    assert_false(exists(path)); /* unlinked at stop_listening */
    t_teardown(r);
}

static void unix_abstract_name_echo(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.echo = srv.keep = true;
    char name[64];
    snprintf(name, sizeof(name), "@coil-test-%d-abstract", (int)getpid());
    coil_port *lp = NULL;
    assert_int_equal(coil_listen_unix(r, name, NULL, &srv.base, &lp), 0);
    assert_false(exists(name)); /* nothing in the file system */
    echo_and_addresses(r, lp, &srv, name);
    t_stop_listening(r, lp);
    t_teardown(r);
}

/* ---- a blocking peer thread ------------------------------------------------------ */

typedef struct peer_job {
    const char *path;
    size_t n;
    int rc;
    atomic_int done;
} peer_job;

static void *peer_echo_main(void *arg)
{
    peer_job *j = arg;
    int fd = t_peer_connect_unix(j->path);
    unsigned char *out = malloc(j->n), *in = malloc(j->n);
    t_fill_pattern(out, j->n, SEED, 0);
    int rc = fd < 0 ? fd : t_peer_write_all(fd, out, j->n);
    if (rc == 0) {
        ssize_t got = t_peer_read_n(fd, in, j->n);
        rc = got < 0                 ? (int)got
             : (size_t)got != j->n   ? -EPROTO
             : memcmp(in, out, j->n) ? -EBADMSG
                                     : 0;
    }
    if (fd >= 0)
        close(fd);
    free(out);
    free(in);
    j->rc = rc;
    atomic_store(&j->done, 1);
    return NULL;
}

static void unix_echo_peer_thread(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv;
    t_factory_init(&srv);
    srv.echo = true;
    char path[108];
    coil_port *lp = t_listen_unix(r, &srv.base, path);
    peer_job j = {.path = path, .n = 4 * MIB};
    t_thread *th = t_thread_start(peer_echo_main, &j);
    T_RUN_UNTIL(r, atomic_load(&j.done) && srv.lost == 1, 30);
    t_thread_join(th);
    if (j.rc)
        fail_msg("peer: %s", coil_strerror(j.rc));
    assert_int_equal(srv.built, 1);
    t_stop_listening(r, lp);
    t_teardown(r);
}

/* ---- mode and lock file ------------------------------------------------------------ */

static void unique_path(char *path, size_t size, const char *tag)
{
    snprintf(path, size, "/tmp/coil-test-%d-%s.sock", (int)getpid(), tag);
    unlink(path);
}

static void check_mode(coil_reactor *r, unsigned mode, unsigned want)
{
    t_factory f;
    t_factory_init(&f);
    char path[108];
    unique_path(path, sizeof(path), "mode");
    coil_listen_options o = {.mode = mode};
    coil_port *lp = NULL;
    assert_int_equal(coil_listen_unix(r, path, &o, &f.base, &lp), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, want);
    t_stop_listening(r, lp);
    assert_false(exists(path));
}

static void unix_socket_mode(void **state)
{
    coil_reactor *r = t_reactor();
    check_mode(r, 0600, 0600);
    check_mode(r, 0, 0666); /* the default */
    t_teardown(r);
}

static void unix_lockfile_excludes_second_listener(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    char path[108], lock[120], target[32], pid[32];
    unique_path(path, sizeof(path), "lock");
    snprintf(lock, sizeof(lock), "%s.lock", path);
    unlink(lock);
    coil_listen_options o = {.lockfile = true};
    coil_port *lp = NULL, *lp2 = NULL;
    assert_int_equal(coil_listen_unix(r, path, &o, &f.base, &lp), 0);
    struct stat st;
    assert_int_equal(lstat(lock, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    ssize_t n = readlink(lock, target, sizeof(target) - 1);
    assert_true(n > 0);
    target[n] = '\0';
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    assert_string_equal(target, pid);

    t_log_capture();
    assert_int_equal(coil_listen_unix(r, path, &o, &f.base, &lp2), -EADDRINUSE);
    coil_listen_options nolock = {0};
    assert_int_equal(coil_listen_unix(r, path, &nolock, &f.base, &lp2), -EADDRINUSE);
    coil_log_set_handler(NULL, NULL);
    coil_log_set_level(COIL_LOG_WARN);
    assert_int_equal(t_log_count("Couldn't listen on unix:"), 2);
    /* The failed attempts left the first port's files alone. */
    assert_true(exists(path));
    assert_true(exists(lock));
    int fd = t_peer_connect_unix(path);
    assert_true(fd >= 0);
    T_RUN_UNTIL(r, f.open == 1, 10);
    close(fd);
    T_RUN_UNTIL(r, f.lost == 1, 10);

    t_stop_listening(r, lp);
    assert_false(exists(path));
    assert_false(exists(lock));
    assert_int_equal(f.started, 1);
    assert_int_equal(f.stopped, 1);
    t_teardown(r);
}

static void unix_stale_lock_from_dead_process_is_broken(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    f.echo = true;
    char path[108], lock[120], target[32];
    unique_path(path, sizeof(path), "stale");
    snprintf(lock, sizeof(lock), "%s.lock", path);
    unlink(lock);
    /* A process that held the lock and died, leaving its socket file. */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(0);
    assert_int_equal(waitpid(child, NULL, 0), child);
    snprintf(target, sizeof(target), "%ld", (long)child);
    assert_int_equal(symlink(target, lock), 0);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    assert_int_equal(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(s);
    assert_true(exists(path));

    coil_listen_options o = {.lockfile = true};
    coil_port *lp = NULL;
    assert_int_equal(coil_listen_unix(r, path, &o, &f.base, &lp), 0);
    ssize_t n = readlink(lock, target, sizeof(target) - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_int_equal(strtol(target, NULL, 10), (long)getpid());
    peer_job j = {.path = path, .n = 1000};
    t_thread *th = t_thread_start(peer_echo_main, &j);
    T_RUN_UNTIL(r, atomic_load(&j.done) && f.lost == 1, 10);
    t_thread_join(th);
    assert_int_equal(j.rc, 0);
    t_stop_listening(r, lp);
    assert_false(exists(path));
    assert_false(exists(lock));
    t_teardown(r);
}

/* ---- connect failures -------------------------------------------------------------- */

static void unix_connect_failures(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory f;
    t_factory_init(&f);
    char path[108];
    unique_path(path, sizeof(path), "none");
    t_connect_result res = {0};
    assert_int_equal(coil_connect_unix(r, path, NULL, &f.base, t_on_connect, &res, NULL), 0);
    T_RUN_UNTIL(r, res.done, 10);
    assert_int_equal(res.err, -ENOENT);
    assert_null(res.p);
    /* A socket file nobody listens on. */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    assert_int_equal(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(s);
    res = (t_connect_result){0};
    assert_int_equal(coil_connect_unix(r, path, NULL, &f.base, t_on_connect, &res, NULL), 0);
    T_RUN_UNTIL(r, res.done, 10);
    assert_int_equal(res.err, -ECONNREFUSED);
    unlink(path);
    assert_int_equal(f.built, 0);
    assert_int_equal(f.started, 2);
    assert_int_equal(f.stopped, 2);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unix_echo_coil_client_and_server),
        cmocka_unit_test(unix_abstract_name_echo),
        cmocka_unit_test(unix_echo_peer_thread),
        cmocka_unit_test(unix_socket_mode),
        cmocka_unit_test(unix_lockfile_excludes_second_listener),
        cmocka_unit_test(unix_stale_lock_from_dead_process_is_broken),
        cmocka_unit_test(unix_connect_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
