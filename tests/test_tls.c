/* SPDX-License-Identifier: MIT */
/*
 * TLS (coil/tls.h) between a coil server and a coil client on one reactor,
 * on every backend: echo, 8 MiB, ALPN/SNI/version information, certificate
 * verification failures naming their reason, a bad peer (plaintext,
 * garbage, truncated or never finished handshake) that never reaches the
 * application nor disturbs another connection, close_notify, backpressure
 * through TLS, TLS over UNIX sockets, and the ssl:/tls: descriptions.
 * Certificates are made per run by tests/tls/make_certs.sh (openssl CLI).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <coil/coil.h>
#include <coil/tls.h>
#include <coil/wrap.h>

#include "helpers.h"

static char certdir[64];

static const char *cert(const char *name)
{
    static char bufs[8][128];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 128, "%s/%s", certdir, name);
    return b;
}

static int make_certs(void **state)
{
    snprintf(certdir, sizeof(certdir), "/tmp/coil-tls-XXXXXX");
    if (!mkdtemp(certdir))
        return -1;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "bash %s %s", COIL_TLS_CERTS_SCRIPT, certdir);
    int rc = system(cmd);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
        printf("openssl is missing: skipping\n");
        exit(77);
    }
    return WIFEXITED(rc) && WEXITSTATUS(rc) == 0 ? 0 : -1;
}

static int remove_certs(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", certdir);
    return system(cmd) == 0 ? 0 : -1;
}

static coil_tls_context *server_ctx(const char *name, double timeout)
{
    char certf[32], keyf[32];
    snprintf(certf, sizeof(certf), "%s.pem", name);
    snprintf(keyf, sizeof(keyf), "%s.key", name);
    static const char *const alpn[] = {"h2", "http/1.1", NULL};
    coil_tls_server_options o = {.certificate = cert(certf),
                                 .private_key = cert(keyf),
                                 .handshake_timeout = timeout,
                                 .alpn = alpn};
    coil_tls_context *c = NULL;
    char err[256] = "";
    int rc = coil_tls_server_context_new(&o, &c, err, sizeof(err));
    if (rc < 0)
        fail_msg("server context: %s (%s)", err, coil_strerror(rc));
    return c;
}

static coil_tls_context *client_ctx(const char *roots)
{
    static const char *const alpn[] = {"http/1.1", NULL};
    coil_tls_client_options o = {.trust_roots = roots ? cert(roots) : NULL, .alpn = alpn};
    coil_tls_context *c = NULL;
    char err[256] = "";
    int rc = coil_tls_client_context_new(&o, &c, err, sizeof(err));
    if (rc < 0)
        fail_msg("client context: %s", err);
    return c;
}

/* Listen with TLS on 127.0.0.1 (or a UNIX path) and return the port. */
static coil_port *tls_listen(coil_reactor *r, coil_tls_context *ctx, coil_factory *f,
                             const char *unix_path, uint16_t *port)
{
    coil_server_endpoint *inner =
        unix_path ? coil_unix_server_endpoint_new(r, unix_path, 0600, 50, false)
                  : coil_tcp_server_endpoint_new(r, 0, "127.0.0.1", 50);
    coil_server_endpoint *ep = coil_tls_server_endpoint_new(inner, ctx);
    assert_non_null(ep);
    t_outcome o;
    t_watch(coil_server_endpoint_listen(ep, f), &o);
    T_RUN_UNTIL(r, o.fired, 10);
    if (o.failed)
        fail_msg("listen: %s", o.message);
    coil_server_endpoint_free(ep);
    coil_port *p = o.ptr;
    coil_address host;
    coil_port_get_host(p, &host);
    *port = unix_path ? 0 : coil_address_port(&host);
    return p;
}

static void tls_connect(coil_reactor *r, coil_tls_context *ctx, const char *host, uint16_t port,
                        const char *unix_path, coil_factory *f, t_outcome *o)
{
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", port);
    coil_client_endpoint *inner = unix_path ? coil_unix_client_endpoint_new(r, unix_path, 5, false)
                                            : coil_tcp_client_endpoint_new(r, &a, 5, NULL);
    coil_client_endpoint *ep = coil_tls_client_endpoint_new(inner, ctx, host);
    assert_non_null(ep);
    t_watch(coil_client_endpoint_connect(ep, f), o);
    coil_client_endpoint_free(ep);
    T_RUN_UNTIL(r, o->fired, 10);
}

typedef struct fx {
    coil_reactor *r;
    t_factory srv, cli;
    coil_tls_context *sctx, *cctx;
    coil_port *lp;
    uint16_t port;
    char path[108];
} fx;

static void fx_open(fx *x, const char *server_cert, double timeout, bool use_unix)
{
    memset(x, 0, sizeof(*x));
    coil_log_set_ratelimit(10, 10); /* each case starts with the default budget */
    x->r = t_reactor();
    t_factory_init(&x->srv);
    t_factory_init(&x->cli);
    x->srv.echo = true;
    x->cli.keep = true;
    x->sctx = server_ctx(server_cert, timeout);
    x->cctx = client_ctx("ca.pem");
    if (use_unix)
        snprintf(x->path, sizeof(x->path), "/tmp/coil-tls-%d.sock", (int)getpid());
    x->lp = tls_listen(x->r, x->sctx, &x->srv.base, use_unix ? x->path : NULL, &x->port);
}

static void fx_close(fx *x)
{
    T_RUN_UNTIL(x->r, x->srv.open == 0 && x->cli.open == 0, 10);
    t_stop_listening(x->r, x->lp);
    coil_tls_context_unref(x->sctx);
    coil_tls_context_unref(x->cctx);
    t_teardown(x->r);
}

/* ---- the happy path --------------------------------------------------------- */

static void echo_with_alpn_and_sni(void **state)
{
    fx x;
    fx_open(&x, "server", 0, false);
    t_outcome o;
    tls_connect(x.r, x.cctx, "localhost", x.port, NULL, &x.cli.base, &o);
    if (o.failed)
        fail_msg("connect: %s", o.message);
    t_conn *c = o.ptr;
    assert_int_equal(c->made, 1);
    coil_transport *t = c->base.transport;
    assert_true(coil_tls_is_tls(t));
    assert_string_equal(coil_tls_version_name(t), "TLSv1.3");
    assert_non_null(coil_tls_cipher_name(t));
    assert_string_equal(coil_tls_alpn_protocol(t), "http/1.1");
    assert_int_equal(coil_transport_write(t, "hello, tls", 10), 0);
    T_RUN_UNTIL(x.r, c->rx.len == 10, 10);
    assert_memory_equal(c->rx.data, "hello, tls", 10);
    t_conn *s = x.srv.last;
    assert_non_null(s);
    assert_string_equal(coil_tls_server_name(s->base.transport), "localhost");
    assert_string_equal(coil_tls_alpn_protocol(s->base.transport), "http/1.1");
    coil_address peer;
    assert_int_equal(coil_transport_get_peer(s->base.transport, &peer), 0);
    assert_true(coil_transport_fileno(s->base.transport) >= 0);
    /* lose_connection: close_notify first, so both sides end cleanly. */
    coil_transport_lose_connection(t);
    T_RUN_UNTIL(x.r, c->lost_count == 1 && x.srv.lost == 1, 10);
    assert_int_equal(c->lost_reason, 0);
    t_conn_free(c);
    fx_close(&x);
}

static void eight_mib_echo(void **state)
{
    fx x;
    fx_open(&x, "server", 0, false);
    t_outcome o;
    tls_connect(x.r, x.cctx, "localhost", x.port, NULL, &x.cli.base, &o);
    assert_false(o.failed);
    t_conn *c = o.ptr;
    size_t n = 8u << 20;
    unsigned char *msg = malloc(n);
    t_fill_pattern(msg, n, 3, 0);
    for (size_t off = 0; off < n; off += 100000)
        assert_int_equal(
            coil_transport_write(c->base.transport, msg + off, n - off < 100000 ? n - off : 100000),
            0);
    T_RUN_UNTIL(x.r, c->rx.len == n, 60);
    assert_memory_equal(c->rx.data, msg, n);
    free(msg);
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(x.r, c->lost_count == 1, 10);
    assert_int_equal(c->lost_reason, 0);
    t_conn_free(c);
    fx_close(&x);
}

static void tls_over_unix(void **state)
{
    fx x;
    fx_open(&x, "server", 0, true);
    t_outcome o;
    tls_connect(x.r, x.cctx, "localhost", 0, x.path, &x.cli.base, &o);
    if (o.failed)
        fail_msg("connect: %s", o.message);
    t_conn *c = o.ptr;
    assert_int_equal(coil_transport_write(c->base.transport, "over unix", 9), 0);
    T_RUN_UNTIL(x.r, c->rx.len == 9, 10);
    assert_int_equal(coil_transport_set_tcp_nodelay(c->base.transport, true), -EOPNOTSUPP);
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(x.r, c->lost_count == 1, 10);
    t_conn_free(c);
    fx_close(&x);
    unlink(x.path);
}

/* ---- verification ------------------------------------------------------------ */

static void expect_rejected(const char *server_cert, const char *host, int code, const char *why)
{
    fx x;
    t_log_capture();
    fx_open(&x, server_cert, 0, false);
    t_outcome o;
    tls_connect(x.r, x.cctx, host, x.port, NULL, &x.cli.base, &o);
    assert_true(o.failed);
    if (o.code != code || !strstr(o.message, why))
        fail_msg("got %s '%s', want %s '%s'", coil_err_name(o.code), o.message,
                 coil_err_name(code), why);
    assert_int_equal(x.cli.built, 0); /* the application never saw it */
    T_RUN_UNTIL(x.r, t_log_count("TLS handshake with") >= 1, 10);
    assert_int_equal(x.srv.built, 0);
    fx_close(&x);
}

static void wrong_hostname_is_rejected(void **state)
{
    expect_rejected("wronghost", "localhost", COIL_ETLSVERIFY, "hostname mismatch");
}

static void untrusted_ca_is_rejected(void **state)
{
    expect_rejected("untrusted", "localhost", COIL_ETLSVERIFY, "unknown CA");
}

static void expired_certificate_is_rejected(void **state)
{
    expect_rejected("expired", "localhost", COIL_ETLSVERIFY, "expired");
}

static void ip_addresses_are_checked(void **state)
{
    expect_rejected("wronghost", "127.0.0.1", COIL_ETLSVERIFY, "IP address");
    fx x;
    fx_open(&x, "server", 0, false);
    t_outcome o;
    tls_connect(x.r, x.cctx, "127.0.0.1", x.port, NULL, &x.cli.base, &o);
    if (o.failed)
        fail_msg("connect to 127.0.0.1: %s", o.message);
    t_conn *c = o.ptr;
    coil_transport_abort_connection(c->base.transport);
    T_RUN_UNTIL(x.r, c->lost_count == 1, 10);
    assert_int_equal(c->lost_reason, COIL_EABORTED);
    t_conn_free(c);
    fx_close(&x);
}

/* ---- bad peers ---------------------------------------------------------------- */

/* A raw TCP peer that sends `bytes` (then closes if `close_after`), while a
 * good TLS client connects at the same time. */
static void bad_peer(const void *bytes, size_t len, bool close_after, double timeout,
                     const char *logged)
{
    fx x;
    t_log_capture();
    fx_open(&x, "server", timeout, false);
    int fd = t_peer_connect_tcp(x.port);
    assert_true(fd >= 0);
    if (len)
        assert_int_equal(t_peer_write_all(fd, bytes, len), 0);
    if (close_after)
        shutdown(fd, SHUT_WR);
    t_outcome o;
    tls_connect(x.r, x.cctx, "localhost", x.port, NULL, &x.cli.base, &o);
    if (o.failed)
        fail_msg("the good client failed: %s", o.message);
    t_conn *c = o.ptr;
    assert_int_equal(coil_transport_write(c->base.transport, "still fine", 10), 0);
    T_RUN_UNTIL(x.r, c->rx.len == 10, 10);
    /* The bad peer is closed by the server. */
    fcntl(fd, F_SETFL, O_NONBLOCK);
    bool closed = false;
    double end = coil_clock_seconds(coil_reactor_clock(x.r)) + 20;
    while (!closed && coil_clock_seconds(coil_reactor_clock(x.r)) < end) {
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN))
            closed = true;
        else
            coil_reactor_iterate(x.r, 0.02);
    }
    assert_true(closed);
    close(fd);
    T_RUN_UNTIL(x.r, t_log_count(logged) >= 1, 10);
    assert_int_equal(x.srv.built, 1); /* only the good client's */
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(x.r, c->lost_count == 1, 10);
    t_conn_free(c);
    fx_close(&x);
}

static void plaintext_client_is_closed(void **state)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    bad_peer(req, sizeof(req) - 1, false, 0, "TLS handshake with");
}

static void garbage_is_closed(void **state)
{
    unsigned char junk[3000];
    t_fill_pattern(junk, sizeof(junk), 9, 0);
    bad_peer(junk, sizeof(junk), false, 0, "TLS handshake with");
}

static void truncated_handshake_is_closed(void **state)
{
    /* The start of a TLS record carrying a ClientHello, then EOF. */
    static const unsigned char hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc};
    bad_peer(hello, sizeof(hello), true, 0, "TLS handshake with");
}

static void unfinished_handshake_times_out(void **state)
{
    bad_peer(NULL, 0, false, 0.3, "no complete handshake within 0.3 seconds");
}

/* Many peers failing their handshakes write a bounded number of lines. */
static void failed_handshakes_are_rate_limited(void **state)
{
    enum { PEERS = 8 };
    fx x;
    fx_open(&x, "server", 0, false);
    coil_log_set_ratelimit(60, 3);
    t_log_capture();
    int fds[PEERS];
    for (int i = 0; i < PEERS; i++) {
        fds[i] = t_peer_connect_tcp(x.port);
        assert_true(fds[i] >= 0);
        assert_int_equal(t_peer_write_all(fds[i], "GET / HTTP/1.1\r\n\r\n", 18), 0);
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
    }
    /* Wait until the server has closed every one of them. */
    int closed = 0;
    double end = coil_clock_seconds(coil_reactor_clock(x.r)) + 20;
    while (closed < PEERS && coil_clock_seconds(coil_reactor_clock(x.r)) < end) {
        coil_reactor_iterate(x.r, 0.02);
        for (int i = 0; i < PEERS; i++) {
            char buf[256];
            ssize_t n = fds[i] >= 0 ? recv(fds[i], buf, sizeof(buf), 0) : 1;
            if (n == 0 || (n < 0 && errno != EAGAIN)) {
                close(fds[i]);
                fds[i] = -1;
                closed++;
            }
        }
    }
    assert_int_equal(closed, PEERS);
    t_run_for(x.r, 0.05);
    assert_int_equal(t_log_count("TLS handshake with"), 3);
    assert_int_equal(x.srv.built, 0);
    coil_log_set_ratelimit(10, 10);
    fx_close(&x);
}

/* ---- closing -------------------------------------------------------------- */

static void server_close_notify_reaches_client(void **state)
{
    fx x;
    fx_open(&x, "server", 0, false);
    x.srv.echo = false;
    t_outcome o;
    tls_connect(x.r, x.cctx, "localhost", x.port, NULL, &x.cli.base, &o);
    assert_false(o.failed);
    t_conn *c = o.ptr;
    T_RUN_UNTIL(x.r, x.srv.last && x.srv.last->made, 10);
    coil_transport *st = x.srv.last->base.transport;
    assert_int_equal(coil_transport_write(st, "bye", 3), 0);
    coil_transport_lose_connection(st);
    assert_int_equal(coil_transport_write(st, "late", 4), -ENOTCONN);
    T_RUN_UNTIL(x.r, c->lost_count == 1, 10);
    assert_int_equal(c->rx.len, 3);
    assert_int_equal(c->lost_reason, 0);
    t_conn_free(c);
    fx_close(&x);
}

/* Half-close through TLS: the client's close_notify is the server's EOF;
 * the server can still answer, and the client still reads it. */
static void half_close_through_tls(void **state)
{
    fx x;
    fx_open(&x, "server", 0, false);
    x.srv.echo = false;
    x.srv.half_close = true;
    x.cli.half_close = true;
    t_outcome o;
    tls_connect(x.r, x.cctx, "localhost", x.port, NULL, &x.cli.base, &o);
    assert_false(o.failed);
    t_conn *c = o.ptr;
    assert_int_equal(coil_transport_write(c->base.transport, "question", 8), 0);
    coil_transport_lose_write_connection(c->base.transport);
    assert_int_equal(coil_transport_write(c->base.transport, "late", 4), -ENOTCONN);
    T_RUN_UNTIL(x.r, x.srv.last && x.srv.last->read_eof == 1 && c->write_lost == 1, 10);
    t_conn *s = x.srv.last;
    assert_int_equal(s->rx.len, 8);
    assert_int_equal(coil_transport_write(s->base.transport, "answer", 6), 0);
    coil_transport_lose_connection(s->base.transport);
    T_RUN_UNTIL(x.r, c->rx.len == 6 && c->read_eof == 1, 10);
    assert_memory_equal(c->rx.data, "answer", 6);
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(x.r, c->lost_count == 1, 10);
    assert_int_equal(c->lost_reason, 0);
    t_conn_free(c);
    fx_close(&x);
}

/* ---- TLS over another wrapper: a PROXY header, then TLS --------------------- */

/* A client-side wrapper (coil/wrap.h) that sends a PROXY v1 header and
 * then passes everything through: TLS runs on its outer transport. */
typedef struct hdr_wrap {
    coil_wrap w;
    coil_factory *user;
} hdr_wrap;

typedef struct hdr_factory {
    coil_factory base;
    coil_factory *user;
} hdr_factory;

static void hw_made(coil_protocol *p)
{
    hdr_wrap *h = (hdr_wrap *)p;
    static const char hdr[] = "PROXY TCP4 192.0.2.9 127.0.0.1 1234 443\r\n";
    assert_int_equal(coil_transport_write(p->transport, hdr, sizeof(hdr) - 1), 0);
    coil_protocol *app = h->user->ops->build_protocol(h->user, NULL);
    assert_non_null(app);
    assert_int_equal(coil_wrap_attach(&h->w, app, h->user), 0);
}
static void hw_data(coil_protocol *p, const void *d, size_t n)
{
    coil_wrap_deliver((coil_wrap *)p, d, n);
}
static void hw_read_lost(coil_protocol *p)
{
    coil_wrap_deliver_eof((coil_wrap *)p);
}
static void hw_lost(coil_protocol *p, int reason)
{
    coil_wrap_lost((coil_wrap *)p, reason);
    free(p);
}
static const coil_protocol_ops hw_ops = {.connection_made = hw_made,
                                         .data_received = hw_data,
                                         .read_connection_lost = hw_read_lost,
                                         .connection_lost = hw_lost};

static coil_protocol *hf_build(coil_factory *f, const coil_address *a)
{
    hdr_wrap *h = calloc(1, sizeof(*h));
    coil_wrap_init(&h->w, &hw_ops, NULL);
    h->user = ((hdr_factory *)f)->user;
    return &h->w.proto;
}
static void hf_start(coil_factory *f)
{
    coil_factory_do_start(((hdr_factory *)f)->user);
}
static void hf_stop(coil_factory *f)
{
    coil_factory_do_stop(((hdr_factory *)f)->user);
    free(f);
}
static const coil_factory_ops hf_ops = {
    .build_protocol = hf_build, .start_factory = hf_start, .stop_factory = hf_stop};

typedef struct hdr_ep {
    coil_client_endpoint base;
    coil_client_endpoint *inner;
} hdr_ep;

static coil_deferred *he_connect(coil_client_endpoint *ep, coil_factory *f)
{
    hdr_factory *hf = calloc(1, sizeof(*hf));
    hf->base.ops = &hf_ops;
    hf->user = f;
    coil_factory_do_start(&hf->base); /* ours, for the duration of the call */
    coil_deferred *d = coil_client_endpoint_connect(((hdr_ep *)ep)->inner, &hf->base);
    coil_factory_do_stop(&hf->base);
    return d;
}
static void he_free(coil_client_endpoint *ep)
{
    coil_client_endpoint_free(((hdr_ep *)ep)->inner);
    free(ep);
}
static const coil_client_endpoint_ops he_ops = {.connect = he_connect, .free = he_free};

static void tls_behind_a_proxy_header(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.echo = true;
    cli.keep = true;
    coil_tls_context *sctx = server_ctx("server", 0), *cctx = client_ctx("ca.pem");
    coil_server_endpoint *sep = coil_tls_server_endpoint_new(
        coil_haproxy_server_endpoint_new(coil_tcp_server_endpoint_new(r, 0, "127.0.0.1", 50)),
        sctx);
    t_outcome lo;
    t_watch(coil_server_endpoint_listen(sep, &srv.base), &lo);
    coil_server_endpoint_free(sep);
    T_RUN_UNTIL(r, lo.fired, 10);
    assert_false(lo.failed);
    coil_address host, a;
    coil_port_get_host(lo.ptr, &host);
    coil_address_from_ip(&a, "127.0.0.1", coil_address_port(&host));
    hdr_ep *he = calloc(1, sizeof(*he));
    he->base.ops = &he_ops;
    he->base.reactor = r;
    he->inner = coil_tcp_client_endpoint_new(r, &a, 5, NULL);
    coil_client_endpoint *ep = coil_tls_client_endpoint_new(&he->base, cctx, "localhost");
    t_outcome o;
    t_watch(coil_client_endpoint_connect(ep, &cli.base), &o);
    coil_client_endpoint_free(ep);
    T_RUN_UNTIL(r, o.fired, 10);
    if (o.failed)
        fail_msg("connect: %s", o.message);
    t_conn *c = o.ptr;
    assert_int_equal(coil_transport_write(c->base.transport, "proxied", 7), 0);
    T_RUN_UNTIL(r, c->rx.len == 7, 10);
    /* The server's application sees the header's source address. */
    coil_address peer;
    char buf[COIL_ADDRESS_STRLEN];
    assert_int_equal(coil_transport_get_peer(srv.last->base.transport, &peer), 0);
    coil_address_format(&peer, buf, sizeof(buf));
    assert_string_equal(buf, "192.0.2.9:1234");
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(r, c->lost_count == 1 && srv.open == 0, 10);
    assert_int_equal(c->lost_reason, 0);
    t_conn_free(c);
    t_stop_listening(r, lo.ptr);
    coil_tls_context_unref(sctx);
    coil_tls_context_unref(cctx);
    t_teardown(r);
}

/* ---- cancel and client timeout --------------------------------------------- */

/* A TCP server that accepts and never answers: the TLS client waits for
 * the ServerHello. Cancelling then (or before the TCP connect completes)
 * errbacks with -ECANCELED and frees everything; a short handshake timeout
 * errbacks with -ETIMEDOUT. */
static void client_cancel_and_timeout(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory mute, cli;
    t_factory_init(&mute);
    t_factory_init(&cli);
    uint16_t port;
    coil_port *lp = t_listen_tcp(r, &mute.base, &port);
    coil_tls_context *cctx = client_ctx("ca.pem");
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", port);
    for (int when = 0; when < 2; when++) {
        coil_client_endpoint *ep = coil_tls_client_endpoint_new(
            coil_tcp_client_endpoint_new(r, &a, 5, NULL), cctx, "localhost");
        coil_deferred *d = coil_client_endpoint_connect(ep, &cli.base);
        coil_client_endpoint_free(ep);
        t_outcome o;
        coil_deferred_ref(d);
        t_watch(d, &o);
        if (when == 1) /* the TCP connection is up, the handshake is not */
            T_RUN_UNTIL(r, mute.built > 0, 10);
        coil_deferred_cancel(d);
        coil_deferred_unref(d);
        T_RUN_UNTIL(r, o.fired, 10);
        assert_true(o.failed);
        assert_int_equal(o.code, -ECANCELED);
        assert_int_equal(cli.built, 0);
        t_run_for(r, 0.1); /* an accept of the cancelled connect may follow */
        T_RUN_UNTIL(r, mute.open == 0, 10);
        mute.built = 0;
    }
    coil_tls_client_options co = {.trust_roots = cert("ca.pem"), .handshake_timeout = 0.2};
    coil_tls_context *quick = NULL;
    char err[256];
    assert_int_equal(coil_tls_client_context_new(&co, &quick, err, sizeof(err)), 0);
    t_outcome o;
    tls_connect(r, quick, "localhost", port, NULL, &cli.base, &o);
    assert_true(o.failed);
    assert_int_equal(o.code, -ETIMEDOUT);
    assert_non_null(strstr(o.message, "no complete handshake within 0.2 seconds"));
    T_RUN_UNTIL(r, mute.open == 0, 10);
    t_stop_listening(r, lp);
    coil_tls_context_unref(cctx);
    coil_tls_context_unref(quick);
    t_teardown(r);
}

/* ---- backpressure ------------------------------------------------------------ */

/* The server echoes with its transport registered as its own producer (as
 * `coild echo` does); the client does not read. The server's queue must
 * stay near the high-water mark instead of growing with the input. */
static size_t max_queued;
static void producer_made(t_conn *c)
{
    coil_transport *t = c->base.transport;
    assert_int_equal(coil_transport_register_producer(t, coil_transport_producer(t), true), 0);
}
static void watch_queue(t_conn *c, const void *data, size_t len)
{
    size_t q = coil_transport_write_buffer_size(c->base.transport);
    if (q > max_queued)
        max_queued = q;
}
static void client_paused(t_conn *c)
{
    coil_transport_pause_reading(c->base.transport);
}

static void slow_reader_bounds_memory(void **state)
{
    fx x;
    fx_open(&x, "server", 0, false);
    x.srv.on_made = producer_made;
    x.srv.on_data = watch_queue;
    x.cli.on_made = client_paused;
    max_queued = 0;
    t_outcome o;
    tls_connect(x.r, x.cctx, "localhost", x.port, NULL, &x.cli.base, &o);
    assert_false(o.failed);
    t_conn *c = o.ptr;
    size_t n = 24u << 20;
    unsigned char *msg = malloc(n);
    t_fill_pattern(msg, n, 5, 0);
    assert_int_equal(coil_transport_write(c->base.transport, msg, n), 0);
    t_run_for(x.r, 1.0);
    assert_int_equal(c->rx.len, 0);
    /* Bounded: the high-water mark plus what one read produced. */
    if (max_queued > (1u << 20))
        fail_msg("the server queued %zu bytes for a paused reader", max_queued);
    coil_transport_resume_reading(c->base.transport);
    T_RUN_UNTIL(x.r, c->rx.len == n, 120);
    assert_memory_equal(c->rx.data, msg, n);
    free(msg);
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(x.r, c->lost_count == 1, 10);
    t_conn_free(c);
    fx_close(&x);
}

/* ---- SNI, client certificates ------------------------------------------------- */

static coil_tls_context *sni_good;
static int sni_calls;
static coil_tls_context *pick_by_name(void *arg, const char *name, bool *reject)
{
    sni_calls++;
    if (name && strcmp(name, "reject.example") == 0)
        *reject = true;
    return name && strcmp(name, "localhost") == 0 ? sni_good : NULL;
}

/* The default certificate is for another name; the SNI callback switches
 * to the right one, or rejects the name. */
static void sni_callback_picks_the_certificate(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.echo = true;
    cli.keep = true;
    sni_good = server_ctx("server", 0);
    sni_calls = 0;
    coil_tls_server_options o = {.certificate = cert("wronghost.pem"),
                                 .private_key = cert("wronghost.key"),
                                 .sni = pick_by_name};
    coil_tls_context *sctx = NULL;
    char err[256];
    assert_int_equal(coil_tls_server_context_new(&o, &sctx, err, sizeof(err)), 0);
    coil_tls_context *cctx = client_ctx("ca.pem");
    uint16_t port;
    coil_port *lp = tls_listen(r, sctx, &srv.base, NULL, &port);
    t_outcome oc;
    tls_connect(r, cctx, "localhost", port, NULL, &cli.base, &oc);
    if (oc.failed)
        fail_msg("connect: %s", oc.message);
    assert_true(sni_calls >= 1);
    t_conn *c = oc.ptr;
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(r, c->lost_count == 1, 10);
    t_conn_free(c);
    tls_connect(r, cctx, "reject.example", port, NULL, &cli.base, &oc);
    assert_true(oc.failed);
    T_RUN_UNTIL(r, srv.open == 0, 10);
    t_stop_listening(r, lp);
    coil_tls_context_unref(sctx);
    coil_tls_context_unref(cctx);
    coil_tls_context_unref(sni_good);
    t_teardown(r);
}

static void client_certificates_can_be_required(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.echo = true;
    cli.keep = true;
    t_log_capture();
    coil_tls_server_options so = {.certificate = cert("server.pem"),
                                  .private_key = cert("server.key"),
                                  .client_ca = cert("ca.pem")};
    coil_tls_context *sctx = NULL, *anon = client_ctx("ca.pem"), *with = NULL;
    char err[256];
    assert_int_equal(coil_tls_server_context_new(&so, &sctx, err, sizeof(err)), 0);
    coil_tls_client_options co = {.trust_roots = cert("ca.pem"),
                                  .certificate = cert("client.pem"),
                                  .private_key = cert("client.key")};
    assert_int_equal(coil_tls_client_context_new(&co, &with, err, sizeof(err)), 0);
    uint16_t port;
    coil_port *lp = tls_listen(r, sctx, &srv.base, NULL, &port);
    t_outcome oc;
    tls_connect(r, with, "localhost", port, NULL, &cli.base, &oc);
    if (oc.failed)
        fail_msg("with a client certificate: %s", oc.message);
    t_conn *c = oc.ptr;
    assert_int_equal(coil_transport_write(c->base.transport, "cert", 4), 0);
    T_RUN_UNTIL(r, c->rx.len == 4, 10);
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(r, c->lost_count == 1, 10);
    t_conn_free(c);
    /* Without one: TLS 1.3 clients learn it after their handshake, so the
     * server's refusal may arrive as a failed connect or a lost connection;
     * either way the server's application never sees it. */
    int built = srv.built;
    tls_connect(r, anon, "localhost", port, NULL, &cli.base, &oc);
    if (!oc.failed) {
        c = oc.ptr;
        T_RUN_UNTIL(r, c->lost_count == 1, 10);
        assert_int_not_equal(c->lost_reason, 0);
        t_conn_free(c);
    }
    T_RUN_UNTIL(r, t_log_count("TLS handshake with") >= 1, 10);
    assert_int_equal(srv.built, built);
    T_RUN_UNTIL(r, srv.open == 0, 10);
    t_stop_listening(r, lp);
    coil_tls_context_unref(sctx);
    coil_tls_context_unref(anon);
    coil_tls_context_unref(with);
    t_teardown(r);
}

/* The application's ALPN choice: the last protocol the client offers. */
static int pick_last(void *arg, const unsigned char *offered, size_t len)
{
    int n = 0;
    for (size_t off = 0; off < len; off += 1u + offered[off])
        n++;
    return n - 1;
}

static void alpn_callback_chooses(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.echo = true;
    cli.keep = true;
    coil_tls_server_options so = {.certificate = cert("server.pem"),
                                  .private_key = cert("server.key"),
                                  .alpn_select = pick_last,
                                  .no_session_tickets = true};
    static const char *const offers[] = {"h2", "spdy/3", "http/1.1", NULL};
    coil_tls_client_options co = {.trust_roots = cert("ca.pem"), .alpn = offers};
    coil_tls_context *sctx = NULL, *cctx = NULL;
    char err[256];
    assert_int_equal(coil_tls_server_context_new(&so, &sctx, err, sizeof(err)), 0);
    assert_int_equal(coil_tls_client_context_new(&co, &cctx, err, sizeof(err)), 0);
    uint16_t port;
    coil_port *lp = tls_listen(r, sctx, &srv.base, NULL, &port);
    t_outcome o;
    tls_connect(r, cctx, "localhost", port, NULL, &cli.base, &o);
    if (o.failed)
        fail_msg("connect: %s", o.message);
    t_conn *c = o.ptr;
    assert_string_equal(coil_tls_alpn_protocol(c->base.transport), "http/1.1");
    assert_false(coil_tls_session_reused(c->base.transport));
    assert_false(coil_tls_is_tls(coil_wrap_inner(coil_wrap_of(c->base.transport))));
    coil_transport_lose_connection(c->base.transport);
    T_RUN_UNTIL(r, c->lost_count == 1 && srv.open == 0, 10);
    t_conn_free(c);
    /* Invalid ALPN names are refused when the context is made. */
    static const char *const bad[] = {"", NULL};
    co.alpn = bad;
    coil_tls_context *none = NULL;
    assert_int_equal(coil_tls_client_context_new(&co, &none, err, sizeof(err)), -EINVAL);
    assert_null(none);
    t_stop_listening(r, lp);
    coil_tls_context_unref(sctx);
    coil_tls_context_unref(cctx);
    t_teardown(r);
}

/* ---- descriptions --------------------------------------------------------------- */

static void descriptions_build_tls_endpoints(void **state)
{
    coil_reactor *r = t_reactor();
    t_factory srv, cli;
    t_factory_init(&srv);
    t_factory_init(&cli);
    srv.echo = true;
    cli.keep = true;
    char desc[512], err[256] = "";
    /* Every server option: the CA as an extra chain certificate (sent
     * after the leaf), DH parameters, a minimum version, a timeout. */
    snprintf(desc, sizeof(desc),
             "ssl:0:interface=127.0.0.1:privateKey=%s:certKey=%s:extraCertChain=%s:"
             "dhParameters=%s:sslmethod=TLSv1_2_METHOD:handshakeTimeout=9:backlog=7",
             cert("server.key"), cert("server.pem"), cert("ca.pem"), cert("dh.pem"));
    coil_server_endpoint *sep = NULL;
    int rc = coil_server_from_string(r, desc, &sep, err, sizeof(err));
    if (rc < 0)
        fail_msg("%s: %s", desc, err);
    t_outcome lo;
    t_watch(coil_server_endpoint_listen(sep, &srv.base), &lo);
    coil_server_endpoint_free(sep);
    T_RUN_UNTIL(r, lo.fired, 10);
    assert_false(lo.failed);
    coil_address host;
    coil_port_get_host(lo.ptr, &host);
    uint16_t port = coil_address_port(&host);

    const char *forms[] = {
        "tls:localhost:%u:trustRoots=%s",
        "tls:localhost:%u:trustRoots=%s:endpoint=tcp\\:127.0.0.1\\:%u",
        "ssl:127.0.0.1:%u:caCertsDir=%s:hostname=localhost",
    };
    for (size_t i = 0; i < 3; i++) {
        if (i == 1)
            snprintf(desc, sizeof(desc), forms[i], (unsigned)port, cert("cadir"), (unsigned)port);
        else
            snprintf(desc, sizeof(desc), forms[i], (unsigned)port, cert(i ? "cadir" : "ca.pem"));
        if (i == 0 && !t_localhost_resolves())
            continue;
        coil_client_endpoint *cep = NULL;
        rc = coil_client_from_string(r, desc, &cep, err, sizeof(err));
        if (rc < 0)
            fail_msg("%s: %s", desc, err);
        t_outcome o;
        t_watch(coil_client_endpoint_connect(cep, &cli.base), &o);
        coil_client_endpoint_free(cep);
        T_RUN_UNTIL(r, o.fired, 10);
        if (o.failed)
            fail_msg("%s: %s", desc, o.message);
        t_conn *c = o.ptr;
        assert_int_equal(coil_transport_write(c->base.transport, "desc", 4), 0);
        T_RUN_UNTIL(r, c->rx.len == 4, 10);
        coil_transport_lose_connection(c->base.transport);
        T_RUN_UNTIL(r, c->lost_count == 1, 10);
        t_conn_free(c);
    }
    /* Files are read when the endpoint is built, and errors name them. */
    rc = coil_server_from_string(r, "ssl:0:privateKey=/nonexistent/k.pem", &sep, err,
                                 sizeof(err));
    assert_int_equal(rc, COIL_ETLS);
    assert_non_null(strstr(err, "ssl: cannot read certificate '/nonexistent/k.pem'"));
    rc = coil_server_from_string(r, "ssl:0:privateKey=x.pem:sslmethod=TLSv1_METHOD", &sep, err,
                                 sizeof(err));
    assert_int_equal(rc, COIL_EBADDESC);
    assert_non_null(strstr(err, "insecure"));
    coil_client_endpoint *cep = NULL;
    rc = coil_client_from_string(r, "tls:localhost:443:trustRoots=/nonexistent", &cep, err,
                                 sizeof(err));
    assert_int_equal(rc, COIL_ETLS);
    assert_non_null(strstr(err, "/nonexistent"));
    T_RUN_UNTIL(r, srv.open == 0, 10);
    t_stop_listening(r, lo.ptr);
    t_teardown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(echo_with_alpn_and_sni),
        cmocka_unit_test(eight_mib_echo),
        cmocka_unit_test(tls_over_unix),
        cmocka_unit_test(wrong_hostname_is_rejected),
        cmocka_unit_test(untrusted_ca_is_rejected),
        cmocka_unit_test(expired_certificate_is_rejected),
        cmocka_unit_test(ip_addresses_are_checked),
        cmocka_unit_test(plaintext_client_is_closed),
        cmocka_unit_test(garbage_is_closed),
        cmocka_unit_test(truncated_handshake_is_closed),
        cmocka_unit_test(unfinished_handshake_times_out),
        cmocka_unit_test(failed_handshakes_are_rate_limited),
        cmocka_unit_test(server_close_notify_reaches_client),
        cmocka_unit_test(half_close_through_tls),
        cmocka_unit_test(tls_behind_a_proxy_header),
        cmocka_unit_test(client_cancel_and_timeout),
        cmocka_unit_test(alpn_callback_chooses),
        cmocka_unit_test(slow_reader_bounds_memory),
        cmocka_unit_test(descriptions_build_tls_endpoints),
        cmocka_unit_test(sni_callback_picks_the_certificate),
        cmocka_unit_test(client_certificates_can_be_required),
    };
    return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
