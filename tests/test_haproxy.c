/* SPDX-License-Identifier: MIT */
/*
 * The "haproxy:" server endpoint: PROXY v1/v2 headers from blocking peer
 * threads (in one write and byte by byte), the addresses the application
 * sees, the bytes after the header, malformed and truncated headers, a
 * refusing factory, the header timeout, stopping the port while a header is
 * being read, nested wrappers, an application that pauses or closes in
 * connection_made, and a real haproxy (send-proxy and send-proxy-v2) in
 * front of coil when /usr/sbin/haproxy is installed.
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <coil/proxy_protocol.h>

/* endpoints/haproxy.c: seconds a header may take (tests shorten it). */
extern double coil__haproxy_header_timeout;

#define SIG12 COIL_PROXY_V2_SIGNATURE

/* ---- what the application saw ------------------------------------------- */

typedef struct rec {
    t_conn *c;
    int peer_rc, host_rc;
    coil_address peer, host;
} rec;

#define MAXREC 64
static rec recs[MAXREC];
static int nrecs;

static void rec_made(t_conn *c)
{
    assert_true(nrecs < MAXREC);
    rec *x = &recs[nrecs++];
    x->c = c;
    x->peer_rc = coil_transport_get_peer(c->base.transport, &x->peer);
    x->host_rc = coil_transport_get_host(c->base.transport, &x->host);
    c->user = x;
}

static void recs_free(void)
{
    for (int i = 0; i < nrecs; i++)
        t_conn_free(recs[i].c);
    nrecs = 0;
}

static void fmt(const coil_address *a, char *buf, size_t n)
{
    if (coil_address_format(a, buf, n) < 0)
        snprintf(buf, n, "<?>");
}

static void assert_addr(const coil_address *a, const char *want)
{
    char got[COIL_ADDRESS_STRLEN];
    fmt(a, got, sizeof(got));
    if (strcmp(got, want) != 0)
        fail_msg("address %s, want %s", got, want);
}

/* ---- the server side ------------------------------------------------------ */

typedef struct srv {
    coil_reactor *r;
    t_factory f;
    coil_port *port;
    uint16_t portno;
} srv;

static void srv_open(srv *s, const char *desc)
{
    memset(s, 0, sizeof(*s));
    nrecs = 0;
    t_log_capture();
    s->r = t_reactor();
    t_factory_init(&s->f);
    s->f.keep = true;
    s->f.echo = true;
    s->f.on_made = rec_made;
    coil_server_endpoint *ep = NULL;
    char err[256] = "";
    if (coil_server_from_string(s->r, desc, &ep, err, sizeof(err)) < 0)
        fail_msg("%s: %s", desc, err);
    t_outcome o;
    t_watch(coil_server_endpoint_listen(ep, &s->f.base), &o);
    coil_server_endpoint_free(ep); /* the port does not need it */
    assert_true(o.fired);
    if (o.failed)
        fail_msg("%s: %s", desc, o.message);
    s->port = o.ptr;
    coil_address a;
    assert_int_equal(coil_port_get_host(s->port, &a), 0);
    s->portno = coil_address_port(&a);
    assert_int_equal(s->f.started, 1);
}

static bool no_handles_but_port(void *arg)
{
    srv *s = arg;
    return coil_reactor_live_handles(s->r) == (s->port ? 1u : 0u);
}

static void srv_stop_port(srv *s)
{
    t_outcome o;
    t_watch(coil_port_stop_listening_deferred(s->port), &o);
    t_run_until_flag(s->r, &o.fired, 5);
    assert_false(o.failed);
    s->port = NULL;
    assert_int_equal(s->f.started, 1);
    assert_int_equal(s->f.stopped, 1);
}

static void srv_close(srv *s)
{
    if (s->port)
        srv_stop_port(s);
    t_run_until(s->r, no_handles_but_port, s, 5);
    assert_int_equal(s->f.open, 0);
    assert_int_equal(s->f.lost, s->f.built);
    recs_free();
    t_teardown(s->r);
    coil_log_set_handler(NULL, NULL);
    coil_log_set_level(COIL_LOG_WARN);
}

/* ---- blocking peers --------------------------------------------------------- */

typedef struct job {
    uint16_t port;
    const unsigned char *head; /* written first (byte by byte if bytewise) */
    size_t head_len;
    const unsigned char *body; /* then this */
    size_t body_len;
    bool bytewise;
    size_t expect; /* bytes to read back (the echo) before closing */
    bool to_eof;   /* then read until EOF (rejections) */
    bool hold;     /* after the head: wait for `go` before writing the body */
    bool shut;     /* shut down the write side after writing */
    volatile int sent_head, go;
    /* results */
    coil_address local;
    t_buf got;
    int rc; /* 0, or -errno of the read that failed (a reset is fine) */
    volatile int done;
} job;

/* Runs in a thread: no cmocka assertions here (they cannot fail a test
 * from another thread); problems end up in j->rc. */
static void *peer_main(void *arg)
{
    job *j = arg;
    int fd = t_peer_connect_tcp(j->port);
    if (fd < 0) {
        j->rc = fd;
        __atomic_store_n(&j->sent_head, 1, __ATOMIC_SEQ_CST);
        __atomic_store_n(&j->done, 1, __ATOMIC_SEQ_CST);
        return NULL;
    }
    socklen_t len = sizeof(j->local.u);
    if (getsockname(fd, &j->local.u.sa, &len) == 0)
        j->local.len = len;
    if (j->bytewise) {
        for (size_t i = 0; i < j->head_len; i++) {
            if (t_peer_write_all(fd, j->head + i, 1) < 0)
                break;
            usleep(1500); /* a read per byte, mostly */
        }
    } else if (!j->hold && j->head_len + j->body_len > 0) {
        /* One write: header and data arrive together. */
        unsigned char *all = malloc(j->head_len + j->body_len);
        if (all) {
            memcpy(all, j->head, j->head_len);
            if (j->body_len)
                memcpy(all + j->head_len, j->body, j->body_len);
            t_peer_write_all(fd, all, j->head_len + j->body_len);
            free(all);
        }
        __atomic_store_n(&j->sent_head, 1, __ATOMIC_SEQ_CST);
        goto written;
    } else if (j->head_len) {
        t_peer_write_all(fd, j->head, j->head_len);
    }
    __atomic_store_n(&j->sent_head, 1, __ATOMIC_SEQ_CST);
    if (j->hold)
        while (!__atomic_load_n(&j->go, __ATOMIC_SEQ_CST))
            usleep(1000);
    if (j->body_len)
        t_peer_write_all(fd, j->body, j->body_len);
written:
    if (j->shut)
        shutdown(fd, SHUT_WR);
    if (j->expect) {
        unsigned char *b = malloc(j->expect);
        ssize_t n = b ? t_peer_read_n(fd, b, j->expect) : -ENOMEM;
        if (n > 0)
            t_buf_append(&j->got, b, (size_t)n);
        else
            j->rc = n < 0 ? (int)n : -EPIPE;
        free(b);
    }
    if (j->to_eof)
        j->rc = t_peer_read_to_eof(fd, &j->got);
    close(fd);
    __atomic_store_n(&j->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static bool job_done(void *arg)
{
    return __atomic_load_n(&((job *)arg)->done, __ATOMIC_SEQ_CST) != 0;
}

static void run_job(srv *s, job *j)
{
    j->port = s->portno;
    t_thread *th = t_thread_start(peer_main, j);
    t_run_until(s->r, job_done, j, 30);
    t_thread_join(th);
}

static bool all_lost(void *arg)
{
    srv *s = arg;
    return s->f.lost == s->f.built && s->f.open == 0;
}

/* ---- headers ------------------------------------------------------------------ */

static size_t v2_begin(unsigned char *o, unsigned char vercmd, unsigned char fam, size_t len)
{
    memcpy(o, SIG12, 12);
    o[12] = vercmd;
    o[13] = fam;
    o[14] = (unsigned char)(len >> 8);
    o[15] = (unsigned char)len;
    return 16;
}

static void put16(unsigned char *o, uint16_t v)
{
    o[0] = (unsigned char)(v >> 8);
    o[1] = (unsigned char)v;
}

static size_t v2_tcp4(unsigned char *o, const char *src, uint16_t sp, const char *dst, uint16_t dp)
{
    size_t n = v2_begin(o, 0x21, 0x11, 12);
    assert_int_equal(inet_pton(AF_INET, src, o + n), 1);
    assert_int_equal(inet_pton(AF_INET, dst, o + n + 4), 1);
    put16(o + n + 8, sp);
    put16(o + n + 10, dp);
    return n + 12;
}

static size_t v2_tcp6(unsigned char *o, const char *src, uint16_t sp, const char *dst, uint16_t dp)
{
    size_t n = v2_begin(o, 0x21, 0x21, 36);
    assert_int_equal(inet_pton(AF_INET6, src, o + n), 1);
    assert_int_equal(inet_pton(AF_INET6, dst, o + n + 16), 1);
    put16(o + n + 32, sp);
    put16(o + n + 34, dp);
    return n + 36;
}

static size_t v2_unix(unsigned char *o, const char *src, const char *dst)
{
    size_t n = v2_begin(o, 0x21, 0x31, 216);
    memset(o + n, 0, 216);
    memcpy(o + n, src, strlen(src));
    memcpy(o + n + 108, dst, strlen(dst));
    return n + 216;
}

static size_t v2_local(unsigned char *o)
{
    return v2_begin(o, 0x20, 0x00, 0);
}

/* LOCAL with an INET block and a NOOP TLV, as haproxy's health checks. */
static size_t v2_local_tlv(unsigned char *o)
{
    size_t n = v2_begin(o, 0x20, 0x11, 15);
    memset(o + n, 0x7f, 12);
    o[n + 12] = COIL_PROXY_TLV_NOOP;
    o[n + 13] = 0;
    o[n + 14] = 0;
    return n + 15;
}

/* ---- valid headers ------------------------------------------------------------ */

/* Send head + body (one write or the head byte by byte) and check what the
 * application saw: peer and host (NULL: the socket's), the body echoed and
 * received intact, one connection_made and one connection_lost. */
static void check_header(const char *desc, const void *head, size_t head_len, const char *peer,
                         const char *host, bool bytewise, size_t body_len)
{
    srv s;
    srv_open(&s, desc);
    unsigned char *body = malloc(body_len ? body_len : 1);
    assert_non_null(body);
    t_fill_pattern(body, body_len, (uint32_t)head_len, 0);
    job j = {.head = head,
             .head_len = head_len,
             .body = body,
             .body_len = body_len,
             .bytewise = bytewise,
             .expect = body_len,
             .shut = body_len == 0,
             .to_eof = body_len == 0};
    run_job(&s, &j);
    t_run_until(s.r, all_lost, &s, 5);
    assert_int_equal(s.f.built, 1);
    assert_int_equal(nrecs, 1);
    rec *x = &recs[0];
    assert_int_equal(x->c->made, 1);
    assert_int_equal(x->c->lost_count, 1);
    assert_int_equal(x->peer_rc, 0);
    assert_int_equal(x->host_rc, 0);
    if (peer) {
        assert_addr(&x->peer, peer);
    } else {
        assert_true(coil_address_equal(&x->peer, &j.local));
    }
    if (host) {
        assert_addr(&x->host, host);
    } else {
        char want[64];
        snprintf(want, sizeof(want), "127.0.0.1:%u", (unsigned)s.portno);
        assert_addr(&x->host, want);
    }
    assert_int_equal(x->c->rx.len, body_len);
    if (body_len)
        assert_memory_equal(x->c->rx.data, body, body_len);
    assert_int_equal(j.got.len, body_len);
    if (body_len)
        assert_memory_equal(j.got.data, body, body_len);
    assert_int_equal(t_log_count("PROXY header from"), 0);
    t_buf_free(&j.got);
    free(body);
    srv_close(&s);
}

static const char *DESC = "haproxy:tcp:0:interface=127.0.0.1";

static void each_split(const char *desc, const void *head, size_t len, const char *peer,
                       const char *host)
{
    check_header(desc, head, len, peer, host, false, 3000);
    check_header(desc, head, len, peer, host, true, 3000);
    check_header(desc, head, len, peer, host, false, 0);
}

static void test_v1_tcp4(void **state)
{
    const char *h = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
    each_split(DESC, h, strlen(h), "192.0.2.1:56324", "198.51.100.2:443");
}

static void test_v1_tcp6(void **state)
{
    const char *h = "PROXY TCP6 2001:db8::1 2001:db8::2 4000 80\r\n";
    each_split(DESC, h, strlen(h), "[2001:db8::1]:4000", "[2001:db8::2]:80");
}

static void test_v1_unknown(void **state)
{
    const char *h = "PROXY UNKNOWN\r\n";
    each_split(DESC, h, strlen(h), NULL, NULL);
    const char *h2 = "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n";
    check_header(DESC, h2, strlen(h2), NULL, NULL, false, 100);
}

static void test_v2_tcp4(void **state)
{
    unsigned char h[64];
    size_t n = v2_tcp4(h, "203.0.113.7", 40000, "10.1.2.3", 8443);
    each_split(DESC, h, n, "203.0.113.7:40000", "10.1.2.3:8443");
}

static void test_v2_tcp6(void **state)
{
    unsigned char h[64];
    size_t n = v2_tcp6(h, "2001:db8::7", 1234, "::1", 5678);
    each_split(DESC, h, n, "[2001:db8::7]:1234", "[::1]:5678");
}

static void test_v2_unix(void **state)
{
    unsigned char h[256];
    size_t n = v2_unix(h, "/tmp/client.sock", "/run/haproxy.sock");
    each_split(DESC, h, n, "unix:/tmp/client.sock", "unix:/run/haproxy.sock");
}

static void test_v2_local(void **state)
{
    unsigned char h[64];
    size_t n = v2_local(h);
    each_split(DESC, h, n, NULL, NULL);
    n = v2_local_tlv(h);
    each_split(DESC, h, n, NULL, NULL);
}

/* The data after the header may look like another header: it is the
 * application's, untouched. A large body arrives in many reads. */
static void test_data_after_header(void **state)
{
    const char *h1 = "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\n";
    const char *h2 = "PROXY TCP4 9.9.9.9 9.9.9.9 9 9\r\n";
    char h[128];
    snprintf(h, sizeof(h), "%s%s", h1, h2);
    size_t n1 = strlen(h1), n2 = strlen(h2);
    srv s;
    srv_open(&s, DESC);
    job j = {.head = (const unsigned char *)h, .head_len = n1 + n2, .expect = n2};
    run_job(&s, &j);
    t_run_until(s.r, all_lost, &s, 5);
    assert_int_equal(nrecs, 1);
    assert_addr(&recs[0].peer, "192.0.2.1:1");
    assert_int_equal(recs[0].c->rx.len, n2);
    assert_memory_equal(recs[0].c->rx.data, h2, n2);
    assert_int_equal(j.got.len, n2);
    t_buf_free(&j.got);
    srv_close(&s);

    check_header(DESC, h1, n1, "192.0.2.1:1", "198.51.100.2:2", false, 300000);
    check_header(DESC, h1, n1, "192.0.2.1:1", "198.51.100.2:2", true, 300000);
}

/* ---- invalid headers ---------------------------------------------------------- */

/* Send `bytes`; the connection must be closed without the factory
 * building anything, and one line must say why, naming the peer. */
static void check_rejected(const void *bytes, size_t len, bool bytewise, const char *why)
{
    srv s;
    srv_open(&s, DESC);
    job j = {.head = bytes, .head_len = len, .bytewise = bytewise, .shut = true, .to_eof = true};
    run_job(&s, &j);
    assert_true(j.rc == 0 || j.rc == -ECONNRESET);
    assert_int_equal(j.got.len, 0);
    t_run_for(s.r, 0.05);
    assert_int_equal(s.f.built, 0);
    assert_int_equal(nrecs, 0);
    char who[COIL_ADDRESS_STRLEN], line[COIL_ADDRESS_STRLEN + 32];
    fmt(&j.local, who, sizeof(who));
    snprintf(line, sizeof(line), "PROXY header from %s: ", who);
    if (t_log_count(line) != 1)
        fail_msg("want one line with '%s'", line);
    assert_int_equal(t_log_count("PROXY header from"), 1);
    if (why && t_log_count(why) != 1)
        fail_msg("want one line with '%s'", why);
    t_buf_free(&j.got);
    srv_close(&s);
}

static void test_invalid(void **state)
{
    const char *get = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    check_rejected(get, strlen(get), false, "closing the connection");
    check_rejected(get, strlen(get), true, "closing the connection");
    unsigned char garbage[2000];
    t_fill_pattern(garbage, sizeof(garbage), 7, 0);
    garbage[0] = 0x16; /* a TLS ClientHello, say */
    check_rejected(garbage, sizeof(garbage), false, "closing the connection");
}

static void test_v1_too_long(void **state)
{
    char longline[200];
    memset(longline, 'x', sizeof(longline));
    memcpy(longline, "PROXY UNKNOWN ", 14);
    check_rejected(longline, 107, false, "closing the connection");
    check_rejected(longline, sizeof(longline), false, "closing the connection");
    check_rejected(longline, 110, true, "closing the connection");
}

static void test_v2_invalid(void **state)
{
    unsigned char h[64];
    /* Length above the limit: refused once the length bytes arrive. */
    v2_begin(h, 0x21, 0x11, 0xffff);
    check_rejected(h, 16, false, "closing the connection");
    check_rejected(h, 16, true, "closing the connection");
    /* Version 1 in the version nibble. */
    size_t n = v2_tcp4(h, "1.2.3.4", 1, "5.6.7.8", 2);
    h[12] = 0x11;
    check_rejected(h, n, false, "closing the connection");
    check_rejected(h, n, true, "closing the connection");
    /* Command 3. */
    h[12] = 0x23;
    check_rejected(h, n, false, "closing the connection");
    /* An address block too short for the family. */
    v2_begin(h, 0x21, 0x21, 12);
    memset(h + 16, 0, 12);
    check_rejected(h, 28, false, "closing the connection");
}

/* ---- closing early, refusing, timing out --------------------------------------------- */

static void test_peer_closes_mid_header(void **state)
{
    const char *h = "PROXY TCP4 192.0.2.1 198.51";
    check_rejected(h, strlen(h), false, "after 27 bytes of an incomplete header");
    check_rejected(h, strlen(h), true, "after 27 bytes of an incomplete header");
    unsigned char v2[64];
    size_t n = v2_tcp6(v2, "::1", 1, "::2", 2);
    check_rejected(v2, n - 1, false, "incomplete header");
    /* Nothing at all: a TCP health check. Said at INFO. */
    check_rejected("", 0, false, "without sending one");
}

static void test_factory_refuses(void **state)
{
    srv s;
    srv_open(&s, DESC);
    s.f.refuse = true;
    const char *h = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nhello";
    job j = {.head = (const unsigned char *)h, .head_len = strlen(h), .to_eof = true};
    run_job(&s, &j);
    assert_true(j.rc == 0 || j.rc == -ECONNRESET);
    assert_int_equal(j.got.len, 0);
    assert_int_equal(s.f.built, 0);
    assert_int_equal(t_log_count("refused by the factory"), 1);
    assert_int_equal(t_log_count("PROXY header from"), 0);
    t_buf_free(&j.got);
    srv_close(&s);
}

static void test_header_timeout(void **state)
{
    double saved = coil__haproxy_header_timeout;
    coil__haproxy_header_timeout = 0.3;
    const char *h = "PROXY TCP4 192.0.2.1";
    srv s;
    srv_open(&s, DESC);
    job j = {.head = (const unsigned char *)h, .head_len = strlen(h), .to_eof = true};
    double t0 = coil_clock_seconds(coil_reactor_clock(s.r));
    run_job(&s, &j);
    double took = coil_clock_seconds(coil_reactor_clock(s.r)) - t0;
    coil__haproxy_header_timeout = saved;
    assert_true(took >= 0.25);
    assert_true(j.rc == 0 || j.rc == -ECONNRESET);
    assert_int_equal(s.f.built, 0);
    assert_int_equal(t_log_count("no complete header within 0.3 seconds"), 1);
    assert_int_equal(t_log_count("PROXY header from"), 1);
    t_buf_free(&j.got);
    srv_close(&s);
}

/* stop_listening while a connection is in the middle of its header: the
 * application's factory stops at once (started == stopped), the connection
 * is closed with a line saying why, whether its peer then completes the
 * header or closes; nothing is built, nothing leaks. */
static void stop_mid_header(bool complete)
{
    srv s;
    srv_open(&s, DESC);
    const char *h = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nhello";
    job j = {.head = (const unsigned char *)h,
             .head_len = 20,
             .body = (const unsigned char *)h + 20,
             .body_len = complete ? strlen(h) - 20 : 0,
             .hold = true,
             .to_eof = true};
    j.port = s.portno;
    t_thread *th = t_thread_start(peer_main, &j);
    while (!__atomic_load_n(&j.sent_head, __ATOMIC_SEQ_CST))
        t_run_for(s.r, 0.01);
    t_run_for(s.r, 0.1); /* the 20 bytes were read */
    srv_stop_port(&s);   /* started == stopped == 1 */
    __atomic_store_n(&j.go, 1, __ATOMIC_SEQ_CST);
    t_run_until(s.r, job_done, &j, 10);
    t_thread_join(th);
    assert_true(j.rc == 0 || j.rc == -ECONNRESET);
    assert_int_equal(j.got.len, 0);
    assert_int_equal(s.f.built, 0);
    assert_int_equal(s.f.stopped, 1);
    assert_int_equal(t_log_count("the port stopped listening before the header was complete"), 1);
    t_buf_free(&j.got);
    srv_close(&s);
}

static void test_stop_mid_header(void **state)
{
    stop_mid_header(true);
    stop_mid_header(false);
}

/* The reactor is freed while the port listens and a connection is in the
 * middle of its header: everything is released, the factory stopped. */
static void test_reactor_freed_mid_header(void **state)
{
    srv s;
    srv_open(&s, DESC);
    const char *h = "PROXY TCP4 192.0.2.1 198.51.100.2 ";
    job j = {.head = (const unsigned char *)h, .head_len = strlen(h), .to_eof = true};
    j.port = s.portno;
    t_thread *th = t_thread_start(peer_main, &j);
    while (!__atomic_load_n(&j.sent_head, __ATOMIC_SEQ_CST))
        t_run_for(s.r, 0.01);
    t_run_for(s.r, 0.1);
    coil_reactor_free(s.r);
    t_thread_join(th);
    assert_true(j.rc == 0 || j.rc == -ECONNRESET);
    assert_int_equal(s.f.built, 0);
    assert_int_equal(s.f.started, 1);
    assert_int_equal(s.f.stopped, 1);
    t_buf_free(&j.got);
    recs_free();
    coil_log_set_handler(NULL, NULL);
    coil_log_set_level(COIL_LOG_WARN);
}

/* Connections that completed their header stay up when the port stops. */
static void test_stop_after_header(void **state)
{
    srv s;
    srv_open(&s, DESC);
    const char *h = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nhello";
    job j = {.head = (const unsigned char *)h,
             .head_len = strlen(h),
             .body = (const unsigned char *)" again",
             .body_len = 6,
             .hold = true,
             .expect = 11};
    j.port = s.portno;
    t_thread *th = t_thread_start(peer_main, &j);
    T_RUN_UNTIL(s.r, nrecs == 1 && recs[0].c->rx.len == 5, 10);
    srv_stop_port(&s);
    __atomic_store_n(&j.go, 1, __ATOMIC_SEQ_CST);
    t_run_until(s.r, job_done, &j, 10);
    t_thread_join(th);
    assert_int_equal(j.got.len, 11);
    assert_memory_equal(j.got.data, "hello again", 11);
    t_run_until(s.r, all_lost, &s, 5);
    assert_int_equal(recs[0].c->lost_count, 1);
    t_buf_free(&j.got);
    srv_close(&s);
}

/* ---- the application in connection_made ---------------------------------------- */

static void pause_in_made(t_conn *c)
{
    rec_made(c);
    coil_transport_pause_reading(c->base.transport);
}

static void close_in_made(t_conn *c)
{
    rec_made(c);
    coil_transport_lose_connection(c->base.transport);
}

static void test_pause_in_connection_made(void **state)
{
    srv s;
    srv_open(&s, DESC);
    s.f.on_made = pause_in_made;
    const char *h = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nafter the header";
    job j = {.head = (const unsigned char *)h, .head_len = strlen(h), .expect = 16};
    j.port = s.portno;
    t_thread *th = t_thread_start(peer_main, &j);
    T_RUN_UNTIL(s.r, nrecs == 1, 10);
    t_run_for(s.r, 0.2);
    assert_int_equal(recs[0].c->rx.len, 0); /* held while paused */
    coil_transport_resume_reading(recs[0].c->base.transport);
    t_run_until(s.r, job_done, &j, 10);
    t_thread_join(th);
    assert_int_equal(recs[0].c->rx.len, 16);
    assert_memory_equal(recs[0].c->rx.data, "after the header", 16);
    t_run_until(s.r, all_lost, &s, 5);
    t_buf_free(&j.got);
    srv_close(&s);
}

static void test_close_in_connection_made(void **state)
{
    srv s;
    srv_open(&s, DESC);
    s.f.on_made = close_in_made;
    const char *h = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nafter the header";
    job j = {.head = (const unsigned char *)h, .head_len = strlen(h), .to_eof = true};
    run_job(&s, &j);
    t_run_until(s.r, all_lost, &s, 5);
    assert_int_equal(nrecs, 1);
    assert_int_equal(recs[0].c->rx.len, 0); /* nothing after a close */
    assert_int_equal(recs[0].c->lost_count, 1);
    assert_int_equal(recs[0].c->lost_reason, 0);
    assert_int_equal(j.got.len, 0);
    t_buf_free(&j.got);
    srv_close(&s);
}

/* ---- nesting ------------------------------------------------------------------------ */

static void test_nested(void **state)
{
    const char *desc = "haproxy:haproxy:tcp:0:interface=127.0.0.1";
    unsigned char h[256];
    size_t n = v2_tcp4(h, "10.0.0.1", 1000, "10.0.0.2", 2000);
    const char *v1 = "PROXY TCP6 2001:db8::5 2001:db8::6 5555 6666\r\n";
    memcpy(h + n, v1, strlen(v1));
    n += strlen(v1);
    each_split(desc, h, n, "[2001:db8::5]:5555", "[2001:db8::6]:6666");

    /* The second header is LOCAL: the first header's addresses stay. */
    n = v2_tcp4(h, "10.0.0.1", 1000, "10.0.0.2", 2000);
    n += v2_local(h + n);
    check_header(desc, h, n, "10.0.0.1:1000", "10.0.0.2:2000", false, 500);
    check_header(desc, h, n, "10.0.0.1:1000", "10.0.0.2:2000", true, 500);

    /* One header only: the second wrapper rejects the data, naming the
     * first header's source as the peer. */
    n = v2_tcp4(h, "10.0.0.1", 1000, "10.0.0.2", 2000);
    memcpy(h + n, "GET / HTTP/1.0\r\n\r\n", 18);
    n += 18;
    srv s;
    srv_open(&s, desc);
    job j = {.head = h, .head_len = n, .to_eof = true};
    run_job(&s, &j);
    t_run_for(s.r, 0.05);
    assert_int_equal(s.f.built, 0);
    assert_int_equal(t_log_count("PROXY header from 10.0.0.1:1000: "), 1);
    t_buf_free(&j.got);
    srv_close(&s);
}

/* ---- a real haproxy ---------------------------------------------------------- */

static const char *haproxy_path(void)
{
    static const char *cands[] = {"/usr/sbin/haproxy", "/usr/local/sbin/haproxy",
                                  "/usr/bin/haproxy"};
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
        if (access(cands[i], X_OK) == 0)
            return cands[i];
    return NULL;
}

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static pid_t hap_pid = -1;

static void hap_kill(void)
{
    if (hap_pid <= 0)
        return;
    kill(hap_pid, SIGTERM);
    for (int i = 0; i < 300; i++) { /* 3 s, then SIGKILL */
        if (waitpid(hap_pid, NULL, WNOHANG) == hap_pid) {
            hap_pid = -1;
            return;
        }
        usleep(10000);
    }
    kill(hap_pid, SIGKILL);
    waitpid(hap_pid, NULL, 0);
    hap_pid = -1;
}

static void print_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f))
        fprintf(stderr, "haproxy: %s", line);
    fclose(f);
}

static bool connects(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static void through_haproxy(const char *send_proxy)
{
    const char *exe = haproxy_path();
    if (!exe) {
        printf("no haproxy installed: skipping\n");
        skip();
    }
    srv s;
    srv_open(&s, DESC);
    char dir[] = "/tmp/coil-haproxy-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cfg[64], logf[64];
    snprintf(cfg, sizeof(cfg), "%s/haproxy.cfg", dir);
    snprintf(logf, sizeof(logf), "%s/haproxy.log", dir);
    uint16_t fport = free_port();
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "global\n"
            "    maxconn 64\n"
            "defaults\n"
            "    mode tcp\n"
            "    timeout connect 3s\n"
            "    timeout client 10s\n"
            "    timeout server 10s\n"
            "frontend fe\n"
            "    bind 127.0.0.1:%u\n"
            "    default_backend be\n"
            "backend be\n"
            "    server coil 127.0.0.1:%u %s\n",
            (unsigned)fport, (unsigned)s.portno, send_proxy);
    fclose(f);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(exe, "haproxy", "-f", cfg, "-db", (char *)NULL);
        _exit(127);
    }
    hap_pid = pid;

    /* Until the frontend accepts (bounded). The probe makes haproxy open a
     * connection to coil too; it is told apart by its (empty) data. */
    bool up = false;
    for (int i = 0; i < 200 && !up; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            hap_pid = -1;
            print_file(logf);
            fail_msg("haproxy exited");
        }
        up = connects(fport);
        if (!up)
            t_run_for(s.r, 0.05);
    }
    if (!up) {
        hap_kill();
        print_file(logf);
        fail_msg("haproxy did not accept on 127.0.0.1:%u within 10 s", (unsigned)fport);
    }

    char payload[64];
    int plen = snprintf(payload, sizeof(payload), "through haproxy with %s", send_proxy);
    job j = {.port = fport,
             .head = (const unsigned char *)payload,
             .head_len = (size_t)plen,
             .expect = (size_t)plen};
    t_thread *th = t_thread_start(peer_main, &j);
    t_run_until(s.r, job_done, &j, 20);
    t_thread_join(th);
    t_run_until(s.r, all_lost, &s, 10);
    hap_kill();

    if (j.got.len != (size_t)plen || memcmp(j.got.data, payload, (size_t)plen) != 0) {
        print_file(logf);
        fail_msg("the echo through haproxy did not come back (%zu bytes, rc %d)", j.got.len, j.rc);
    }
    rec *x = NULL;
    for (int i = 0; i < nrecs; i++)
        if (recs[i].c->rx.len == (size_t)plen &&
            memcmp(recs[i].c->rx.data, payload, (size_t)plen) == 0)
            x = &recs[i];
    assert_non_null(x);
    assert_int_equal(x->c->made, 1);
    assert_int_equal(x->c->lost_count, 1);
    assert_int_equal(x->peer_rc, 0);
    /* The application sees the client's own socket (address and port),
     * not haproxy's, and the frontend as its host. */
    char got[COIL_ADDRESS_STRLEN], want[COIL_ADDRESS_STRLEN];
    fmt(&x->peer, got, sizeof(got));
    fmt(&j.local, want, sizeof(want));
    if (!coil_address_equal(&x->peer, &j.local))
        fail_msg("peer %s, want the client's %s", got, want);
    snprintf(want, sizeof(want), "127.0.0.1:%u", (unsigned)fport);
    assert_addr(&x->host, want);
    /* Only the probe may have been closed for want of a header. */
    assert_int_equal(t_log_count("closing the connection"), t_log_count("without sending one"));
    t_buf_free(&j.got);
    srv_close(&s);
    unlink(cfg);
    unlink(logf);
    rmdir(dir);
}

static void test_real_haproxy_v1(void **state)
{
    through_haproxy("send-proxy");
}

static void test_real_haproxy_v2(void **state)
{
    through_haproxy("send-proxy-v2");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    atexit(hap_kill);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_tcp4),
        cmocka_unit_test(test_v1_tcp6),
        cmocka_unit_test(test_v1_unknown),
        cmocka_unit_test(test_v2_tcp4),
        cmocka_unit_test(test_v2_tcp6),
        cmocka_unit_test(test_v2_unix),
        cmocka_unit_test(test_v2_local),
        cmocka_unit_test(test_data_after_header),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_v1_too_long),
        cmocka_unit_test(test_v2_invalid),
        cmocka_unit_test(test_peer_closes_mid_header),
        cmocka_unit_test(test_factory_refuses),
        cmocka_unit_test(test_header_timeout),
        cmocka_unit_test(test_stop_mid_header),
        cmocka_unit_test(test_stop_after_header),
        cmocka_unit_test(test_reactor_freed_mid_header),
        cmocka_unit_test(test_pause_in_connection_made),
        cmocka_unit_test(test_close_in_connection_made),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_real_haproxy_v1),
        cmocka_unit_test(test_real_haproxy_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
