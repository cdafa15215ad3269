/* SPDX-License-Identifier: MIT */
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

void t_require_uring(void)
{
    const char *want = getenv("COIL_REACTOR");
    if (!want || strcmp(want, "uring") != 0) {
        fprintf(stderr, "skip: io_uring-only test\n");
        exit(77);
    }
}

coil_reactor *t_reactor(void)
{
    coil_reactor *r = NULL;
    coil_reactor_options o;
    coil_reactor_options_init(&o);
    o.flags = COIL_REACTOR_NO_SIGNALS;
    int rc = coil_reactor_new(&r, &o);
    if (rc < 0) {
        const char *want = getenv("COIL_REACTOR");
        if (want && strcmp(want, "uring") == 0) {
            fprintf(stderr, "skip: io_uring unavailable here (%s)\n", coil_strerror(rc));
            exit(77);
        }
        fail_msg("coil_reactor_new: %s", coil_strerror(rc));
    }
    return r;
}

void t_teardown(coil_reactor *r)
{
    /* Give final callbacks queued by the test a turn to run. */
    for (int i = 0; i < 5; i++)
        coil_reactor_iterate(r, 0);
    size_t live = coil_reactor_live_handles(r);
    coil_reactor_stats st;
    coil_reactor_get_stats(r, &st);
    if (live != 0)
        fail_msg("%zu handle(s) still alive at teardown", live);
    assert_int_equal(st.stale, 0);
    coil_reactor_free(r);
}

void t_run_until(coil_reactor *r, bool (*cond)(void *), void *arg, double timeout)
{
    double end = coil_clock_seconds(coil_reactor_clock(r)) + timeout;
    while (!cond(arg)) {
        double left = end - coil_clock_seconds(coil_reactor_clock(r));
        if (left <= 0)
            fail_msg("condition not reached within %.1f s", timeout);
        int rc = coil_reactor_iterate(r, left < 0.05 ? left : 0.05);
        if (rc < 0)
            fail_msg("iterate: %s", coil_strerror(rc));
    }
}

static bool flag_set(void *arg)
{
    return *(const bool *)arg;
}

void t_run_until_flag(coil_reactor *r, const bool *flag, double timeout)
{
    t_run_until(r, flag_set, (void *)flag, timeout);
}

void t_run_for(coil_reactor *r, double seconds)
{
    double end = coil_clock_seconds(coil_reactor_clock(r)) + seconds;
    double left;
    while ((left = end - coil_clock_seconds(coil_reactor_clock(r))) > 0)
        coil_reactor_iterate(r, left);
}

void t_buf_append(t_buf *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        b->data = realloc(b->data, cap);
        assert_non_null(b->data);
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void t_buf_free(t_buf *b)
{
    free(b->data);
    *b = (t_buf){0};
}

void t_fill_pattern(void *dst, size_t len, uint32_t seed, size_t offset)
{
    unsigned char *p = dst;
    for (size_t i = 0; i < len; i++) {
        uint32_t x = (uint32_t)(offset + i) * 2654435761u ^ seed;
        p[i] = (unsigned char)(x >> 13);
    }
}

/* ---- recording protocol ---------------------------------------------- */

static void conn_made(coil_protocol *p)
{
    t_conn *c = (t_conn *)p;
    c->made++;
    c->factory->open++;
    if (c->on_made)
        c->on_made(c);
}

static void conn_data(coil_protocol *p, const void *data, size_t len)
{
    t_conn *c = (t_conn *)p;
    assert_true(len > 0);
    assert_int_equal(c->made, 1);
    assert_int_equal(c->lost_count, 0);
    t_buf_append(&c->rx, data, len);
    if (c->echo)
        coil_transport_write(p->transport, data, len);
    if (c->on_data)
        c->on_data(c, data, len);
}

static void conn_read_lost(coil_protocol *p)
{
    ((t_conn *)p)->read_eof++;
}

static void conn_write_lost(coil_protocol *p)
{
    ((t_conn *)p)->write_lost++;
}

static void conn_lost(coil_protocol *p, int reason)
{
    t_conn *c = (t_conn *)p;
    c->lost_count++;
    c->lost_reason = reason;
    t_factory *f = c->factory;
    f->lost++;
    f->open--;
    if (c->on_lost)
        c->on_lost(c, reason);
    if (!c->keep)
        t_conn_free(c);
}

static const coil_protocol_ops conn_ops = {
    .connection_made = conn_made,
    .data_received = conn_data,
    .connection_lost = conn_lost,
};
static const coil_protocol_ops conn_ops_half = {
    .connection_made = conn_made,
    .data_received = conn_data,
    .read_connection_lost = conn_read_lost,
    .write_connection_lost = conn_write_lost,
    .connection_lost = conn_lost,
};

void t_conn_free(t_conn *c)
{
    t_buf_free(&c->rx);
    free(c);
}

static coil_protocol *factory_build(coil_factory *base, const coil_address *addr)
{
    t_factory *f = (t_factory *)base;
    if (f->refuse)
        return NULL;
    t_conn *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->base.ops = f->half_close ? &conn_ops_half : &conn_ops;
    c->factory = f;
    c->echo = f->echo;
    c->keep = f->keep;
    c->on_made = f->on_made;
    c->on_data = f->on_data;
    c->on_lost = f->on_lost;
    c->user = f->user;
    f->built++;
    f->last = c;
    return &c->base;
}

static void factory_start(coil_factory *base)
{
    ((t_factory *)base)->started++;
}

static void factory_stop(coil_factory *base)
{
    ((t_factory *)base)->stopped++;
}

static const coil_factory_ops factory_ops = {
    .build_protocol = factory_build,
    .start_factory = factory_start,
    .stop_factory = factory_stop,
};

void t_factory_init(t_factory *f)
{
    memset(f, 0, sizeof(*f));
    f->base.ops = &factory_ops;
}

/* ---- listening and connecting ---------------------------------------- */

coil_port *t_listen_tcp(coil_reactor *r, coil_factory *f, uint16_t *port)
{
    coil_address a;
    assert_int_equal(coil_address_from_ip(&a, "127.0.0.1", 0), 0);
    coil_port *p = NULL;
    int rc = coil_listen_tcp(r, &a, NULL, f, &p);
    if (rc < 0)
        fail_msg("listen: %s", coil_strerror(rc));
    coil_address host;
    coil_port_get_host(p, &host);
    *port = coil_address_port(&host);
    assert_true(*port != 0);
    return p;
}

coil_port *t_listen_unix(coil_reactor *r, coil_factory *f, char *path)
{
    static int counter;
    snprintf(path, 108, "/tmp/coil-test-%d-%d.sock", (int)getpid(), counter++);
    unlink(path);
    coil_port *p = NULL;
    int rc = coil_listen_unix(r, path, NULL, f, &p);
    if (rc < 0)
        fail_msg("listen unix: %s", coil_strerror(rc));
    return p;
}

static void set_true(void *arg)
{
    *(bool *)arg = true;
}

void t_stop_listening(coil_reactor *r, coil_port *p)
{
    bool done = false;
    coil_port_stop_listening(p, set_true, &done);
    t_run_until_flag(r, &done, 10);
}

void t_on_connect(void *arg, coil_protocol *p, int err)
{
    t_connect_result *res = arg;
    res->done = true;
    res->calls++;
    res->err = err;
    res->p = p;
    res->made_before = p ? ((t_conn *)p)->made : -1;
}

coil_protocol *t_connect_tcp(coil_reactor *r, coil_factory *f, uint16_t port, int *err)
{
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", port);
    t_connect_result cr = {0};
    int rc = coil_connect_tcp(r, &a, NULL, f, t_on_connect, &cr, NULL);
    if (rc < 0)
        fail_msg("connect: %s", coil_strerror(rc));
    t_run_until_flag(r, &cr.done, 20);
    if (err)
        *err = cr.err;
    return cr.p;
}

/* ---- blocking peers ---------------------------------------------------- */

static void peer_timeouts(int fd)
{
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int t_peer_connect_tcp(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    peer_timeouts(fd);
    return fd;
}

int t_peer_connect_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    peer_timeouts(fd);
    return fd;
}

int t_peer_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t t_peer_read_n(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = recv(fd, (char *)buf + got, n - got, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

int t_peer_read_to_eof(int fd, t_buf *b)
{
    char tmp[65536];
    for (;;) {
        ssize_t k = recv(fd, tmp, sizeof(tmp), 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            return 0;
        t_buf_append(b, tmp, (size_t)k);
    }
}

/* ---- threads ------------------------------------------------------------ */

struct t_thread {
    pthread_t tid;
};

t_thread *t_thread_start(void *(*fn)(void *), void *arg)
{
    t_thread *t = malloc(sizeof(*t));
    assert_non_null(t);
    assert_int_equal(pthread_create(&t->tid, NULL, fn, arg), 0);
    return t;
}

void *t_thread_join(t_thread *t)
{
    void *ret = NULL;
    pthread_join(t->tid, &ret);
    free(t);
    return ret;
}

/* ---- log capture -------------------------------------------------------- */

#define LOG_KEEP 256
static char *log_lines[LOG_KEEP];
static int log_n;

static void capture(void *arg, coil_log_level level, const char *system, const char *msg)
{
    if (log_n < LOG_KEEP)
        log_lines[log_n++] = strdup(msg);
}

void t_log_capture(void)
{
    for (int i = 0; i < log_n; i++)
        free(log_lines[i]);
    log_n = 0;
    coil_log_set_handler(capture, NULL);
    coil_log_set_level(COIL_LOG_DEBUG);
}

int t_log_count(const char *needle)
{
    int n = 0;
    for (int i = 0; i < log_n; i++)
        if (strstr(log_lines[i], needle))
            n++;
    return n;
}

/* ---- connected pairs ------------------------------------------------------ */

void t_pair_init(t_pair *pr)
{
    memset(pr, 0, sizeof(*pr));
    pr->r = t_reactor();
    t_factory_init(&pr->srv);
    t_factory_init(&pr->cli);
    pr->srv.keep = pr->cli.keep = true;
}

void t_pair_connect(t_pair *pr)
{
    uint16_t port;
    pr->lp = t_listen_tcp(pr->r, &pr->srv.base, &port);
    int err = -1;
    pr->c = (t_conn *)t_connect_tcp(pr->r, &pr->cli.base, port, &err);
    assert_int_equal(err, 0);
    assert_non_null(pr->c);
    T_RUN_UNTIL(pr->r, pr->srv.last && pr->srv.last->made, 10);
    pr->s = pr->srv.last;
}

void t_pair_open(t_pair *pr)
{
    t_pair_init(pr);
    t_pair_connect(pr);
}

void t_pair_expect(t_pair *pr, int srv_reason, int cli_reason)
{
    T_RUN_UNTIL(pr->r, pr->c->lost_count && pr->s->lost_count, 10);
    t_run_for(pr->r, 0.05);
    assert_int_equal(pr->s->lost_count, 1);
    assert_int_equal(pr->c->lost_count, 1);
    if (pr->s->lost_reason != srv_reason || pr->c->lost_reason != cli_reason)
        fail_msg("reasons: server %s (want %s), client %s (want %s)",
                 coil_err_name(pr->s->lost_reason), coil_err_name(srv_reason),
                 coil_err_name(pr->c->lost_reason), coil_err_name(cli_reason));
    assert_int_equal(pr->srv.lost, 1);
    assert_int_equal(pr->cli.lost, 1);
    t_conn_free(pr->c);
    t_conn_free(pr->s);
    t_stop_listening(pr->r, pr->lp);
    assert_int_equal(pr->cli.stopped, 1);
    assert_int_equal(pr->srv.stopped, 1);
    t_teardown(pr->r);
}

/* ---- a black hole on loopback --------------------------------------------- */

bool t_black_hole_open(t_black_hole *bh)
{
    *bh = (t_black_hole){.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    assert_int_equal(bind(bh->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(bh->lfd, 0), 0);
    assert_int_equal(getsockname(bh->lfd, (struct sockaddr *)&sin, &len), 0);
    bh->port = ntohs(sin.sin_port);
    while (bh->nfill < 8) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS) {
            close(fd);
            return false;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (poll(&pfd, 1, 300) == 0) {
            close(fd); /* this one hangs: the queue is full */
            return true;
        }
        bh->fill[bh->nfill++] = fd;
    }
    return false;
}

void t_black_hole_close(t_black_hole *bh)
{
    for (int i = 0; i < bh->nfill; i++)
        close(bh->fill[i]);
    close(bh->lfd);
}

/* ---- Deferred outcomes ------------------------------------------------------- */

static coil_result t_record(coil_result res, void *arg)
{
    t_outcome *o = arg;
    o->fired = true;
    if (coil_result_is_failure(res)) {
        o->failed = true;
        o->code = coil_failure_code(res.failure);
        snprintf(o->message, sizeof(o->message), "%s", coil_failure_message(res.failure));
    } else {
        o->ptr = coil_result_ptr(res);
    }
    coil_result_release(res);
    return coil_result_none(); /* handled */
}

void t_watch(coil_deferred *d, t_outcome *o)
{
    *o = (t_outcome){0};
    assert_non_null(d);
    assert_int_equal(coil_deferred_add_both(d, t_record, o), 0);
    coil_deferred_unref(d);
}

/* ---- a counting protocol -------------------------------------------------------- */

static void t_counter_made(coil_protocol *p)
{
    ((t_counter *)p)->made++;
}

static void t_counter_data(coil_protocol *p, const void *d, size_t n)
{
}

static void t_counter_lost(coil_protocol *p, int reason)
{
    ((t_counter *)p)->lost++;
}

static const coil_protocol_ops t_counter_ops = {
    .connection_made = t_counter_made,
    .data_received = t_counter_data,
    .connection_lost = t_counter_lost,
};

void t_counter_init(t_counter *c)
{
    *c = (t_counter){.base.ops = &t_counter_ops};
}

bool t_localhost_resolves(void)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo("localhost", NULL, &hints, &res);
    if (res)
        freeaddrinfo(res);
    return rc == 0;
}

/* ---- skipped cases ---------------------------------------------------------- */

static int t_skipped;

void t_note_skip(const char *file, int line)
{
    t_skipped++;
    printf("skipped at %s:%d\n", file, line);
}

int t_exit_status(int failed)
{
    if (failed || !t_skipped)
        return failed;
    printf("%d case(s) skipped: exit 77 so that the suite shows as skipped\n", t_skipped);
    return 77;
}
