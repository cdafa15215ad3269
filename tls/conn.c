/* SPDX-License-Identifier: MIT */
/*
 * One TLS connection: a wrapping protocol (coil/wrap.h) on the inner
 * transport, with wolfSSL reading and writing memory through our I/O
 * callbacks (Twisted's TLSMemoryBIOProtocol).
 *
 *   inner data_received(ciphertext) -> recv callback -> wolfSSL_accept/
 *   connect, then wolfSSL_read -> coil_wrap_deliver(plaintext)
 *   coil_transport_write(outer, plaintext) -> wolfSSL_write -> send
 *   callback -> coil_transport_write(inner, ciphertext)
 *
 * The recv callback reads straight from the inner transport's receive
 * buffer while data_received runs; only bytes wolfSSL has not consumed when
 * it returns (part of a record) are copied aside. The send callback queues
 * on the inner transport, which never blocks, so wolfSSL never sees
 * WANT_WRITE and the inner queue (with its producers and water marks) is
 * the only output buffer.
 *
 * The application's protocol is built and attached once the handshake has
 * succeeded (server: from the endpoint's factory; client: then the connect
 * Deferred fires). Until then the connection belongs to this file alone: a
 * failed or slow handshake is closed here and the application never sees it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/error.h>
#include <coil/log.h>
#include <coil/wrap.h>

#include "tls_conn.h"

#define READ_CHUNK 16384

static const coil_protocol_ops inner_ops;
static const coil_wrap_ops outer_ops;

/* ---- wolfSSL's I/O: memory ------------------------------------------------ */

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    coil__tls_conn *c = arg;
    if (c->in_len == 0)
        return c->inner_eof ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_WANT_READ;
    size_t n = (size_t)sz < c->in_len ? (size_t)sz : c->in_len;
    memcpy(buf, c->in, n);
    c->in += n;
    c->in_len -= n;
    return (int)n;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    coil__tls_conn *c = arg;
    if (coil_transport_write(coil_wrap_inner(&c->w), buf, (size_t)sz) < 0)
        return WOLFSSL_CBIO_ERR_CONN_CLOSE;
    return sz;
}

/* ---- verification ------------------------------------------------------- */

static int verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
    WOLFSSL *ssl = wolfSSL_X509_STORE_CTX_get_ex_data(store,
                                                      wolfSSL_get_ex_data_X509_STORE_CTX_idx());
    coil__tls_conn *c = ssl ? wolfSSL_GetIOReadCtx(ssl) : NULL;
    if (!preverify) {
        if (c && !c->verify_err)
            c->verify_err = wolfSSL_X509_STORE_CTX_get_error(store);
        return 0;
    }
    /* wolfSSL checks DNS names (wolfSSL_check_domain_name); IP addresses
     * are checked here against the leaf's subjectAltName. */
    if (c && c->ip_host && wolfSSL_X509_STORE_CTX_get_error_depth(store) == 0) {
        WOLFSSL_X509 *x = wolfSSL_X509_STORE_CTX_get_current_cert(store);
        if (!x || !coil__tls_cert_has_ip(x, c->host)) {
            c->verify_err = IPADDR_MISMATCH;
            return 0;
        }
    }
    return 1;
}

/* ---- set-up -------------------------------------------------------------- */

coil__tls_conn *coil__tls_conn_new(coil_tls_context *ctx, bool server, const char *host)
{
    size_t hlen = host ? strlen(host) + 1 : 0;
    coil__tls_conn *c = calloc(1, sizeof(*c) + hlen + 1); /* host is "" without one */
    if (!c)
        return NULL;
    coil_wrap_init(&c->w, &inner_ops, &outer_ops);
    c->server = server;
    c->ssl = wolfSSL_new(ctx->ctx);
    if (!c->ssl) {
        free(c);
        return NULL;
    }
    c->ctx = coil_tls_context_ref(ctx);
    wolfSSL_SSLSetIORecv(c->ssl, io_recv);
    wolfSSL_SSLSetIOSend(c->ssl, io_send);
    wolfSSL_SetIOReadCtx(c->ssl, c);
    wolfSSL_SetIOWriteCtx(c->ssl, c);
    if (server)
        return c;
    if (host) {
        memcpy(c->host, host, hlen);
        coil_address probe;
        c->ip_host = coil_address_from_ip(&probe, host, 0) == 0;
        if (!c->ip_host)
            wolfSSL_UseSNI(c->ssl, WOLFSSL_SNI_HOST_NAME, host, (unsigned short)(hlen - 1));
        if (ctx->verify && !c->ip_host)
            wolfSSL_check_domain_name(c->ssl, host);
    }
    wolfSSL_set_verify(c->ssl, ctx->verify ? WOLFSSL_VERIFY_PEER : WOLFSSL_VERIFY_NONE,
                       ctx->verify ? verify_cb : NULL);
    if (ctx->alpn)
        wolfSSL_UseALPN(c->ssl, (char *)ctx->alpn, ctx->alpn_len,
                        WOLFSSL_ALPN_CONTINUE_ON_MISMATCH);
    return c;
}

static void conn_free(coil__tls_conn *c)
{
    if (c->timer)
        coil_delayed_call_cancel(c->timer);
    wolfSSL_free(c->ssl);
    coil_tls_context_unref(c->ctx);
    free(c->saved);
    free(c);
}

/* ---- the handshake -------------------------------------------------------- */

void coil__tls_describe_peer(coil__tls_conn *c, char *buf, size_t size)
{
    if (c->host[0]) {
        snprintf(buf, size, "%s", c->host);
        return;
    }
    if (c->peer.len && coil_address_format(&c->peer, buf, size) >= 0)
        return;
    snprintf(buf, size, "<unknown>");
}

/* The handshake failed: say why (server) or errback the connect (client),
 * then flush any alert wolfSSL queued and close. */
static void handshake_failed(coil__tls_conn *c, int err, const char *why)
{
    if (c->failed || c->handshake_done)
        return;
    c->failed = true;
    if (c->timer) {
        coil_delayed_call_cancel(c->timer);
        c->timer = NULL;
    }
    int code = err;
    if (!why) {
        int e = c->verify_err ? c->verify_err : err;
        /* wolfSSL's own code is the more precise when it names the problem
         * (ASN_AFTER_DATE_E rather than an X509_V_ERR field error). */
        if (coil__tls_is_verify_error(err) && err != VERIFY_CERT_ERROR)
            e = err;
        why = coil__tls_reason(e);
        code = coil__tls_is_verify_error(e) ? COIL_ETLSVERIFY : COIL_ETLS;
    }
    snprintf(c->why, sizeof(c->why), "%s", why);
    c->fail_code = code;
    if (c->server)
        coil__tls_server_failed(c);
    else
        coil__tls_client_failed(c);
    coil_transport_lose_connection(coil_wrap_inner(&c->w));
}

static void on_timeout(void *arg)
{
    coil__tls_conn *c = arg;
    c->timer = NULL;
    char why[96];
    snprintf(why, sizeof(why), "no complete handshake within %g seconds",
             c->ctx->handshake_timeout);
    handshake_failed(c, -ETIMEDOUT, why);
    coil_transport_abort_connection(coil_wrap_inner(&c->w));
}

/* Decrypt what arrived and hand it to the application; the peer's
 * close_notify becomes an EOF. */
static void read_records(coil__tls_conn *c)
{
    char buf[READ_CHUNK];
    while (coil_wrap_app(&c->w) && !coil_wrap_closing(&c->w)) {
        int n = wolfSSL_read(c->ssl, buf, sizeof(buf));
        if (n > 0) {
            coil_wrap_deliver(&c->w, buf, (size_t)n);
            continue;
        }
        int e = wolfSSL_get_error(c->ssl, n);
        if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
            return;
        if (e == WOLFSSL_ERROR_ZERO_RETURN) {
            c->got_close_notify = true;
            coil_wrap_deliver_eof(&c->w);
            return;
        }
        char who[96];
        coil__tls_describe_peer(c, who, sizeof(who));
        coil_log_ratelimited(COIL_LOG_INFO, COIL__TLS_SYS, "TLS connection failed",
                             "TLS connection with %s: %s; closing it", who, coil__tls_reason(e));
        c->lost_reason = COIL_ETLS;
        coil_transport_abort_connection(coil_wrap_inner(&c->w));
        return;
    }
}

static void progress(coil__tls_conn *c)
{
    if (c->failed)
        return;
    if (!c->handshake_done) {
        int rc = c->server ? wolfSSL_accept(c->ssl) : wolfSSL_connect(c->ssl);
        if (rc != WOLFSSL_SUCCESS) {
            int e = wolfSSL_get_error(c->ssl, rc);
            if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE)
                handshake_failed(c, e, NULL);
            return;
        }
        c->handshake_done = true;
        if (c->timer) {
            coil_delayed_call_cancel(c->timer);
            c->timer = NULL;
        }
        if (c->server)
            coil__tls_server_ready(c);
        else
            coil__tls_client_ready(c);
    }
    read_records(c);
}

/* ---- the inner protocol -------------------------------------------------- */

static void inner_made(coil_protocol *p)
{
    coil__tls_conn *c = (coil__tls_conn *)p;
    coil_reactor *r = coil_transport_reactor(p->transport);
    if (coil_transport_get_peer(p->transport, &c->peer) < 0)
        c->peer.len = 0;
    if (c->ctx->handshake_timeout > 0) {
        c->timer = coil_reactor_call_later(r, c->ctx->handshake_timeout, on_timeout, c);
        if (!c->timer) {
            handshake_failed(c, -ENOMEM, "out of memory");
            return;
        }
    }
    if (!c->server)
        progress(c); /* the ClientHello */
}

static void inner_data(coil_protocol *p, const void *data, size_t len)
{
    coil__tls_conn *c = (coil__tls_conn *)p;
    if (c->failed)
        return;
    if (c->saved_len) {
        unsigned char *b = realloc(c->saved, c->saved_len + len);
        if (!b) {
            coil_transport_abort_connection(p->transport);
            return;
        }
        memcpy(b + c->saved_len, data, len);
        c->saved = b;
        c->saved_len += len;
        c->in = b;
        c->in_len = c->saved_len;
    } else {
        c->in = data; /* borrowed for this call only */
        c->in_len = len;
    }
    progress(c);
    /* Keep what wolfSSL did not consume (part of a record). */
    if (c->in_len == 0) {
        c->saved_len = 0;
    } else if (c->in >= c->saved && c->saved && c->in < c->saved + c->saved_len) {
        memmove(c->saved, c->in, c->in_len);
        c->saved_len = c->in_len;
    } else {
        unsigned char *b = realloc(c->saved, c->in_len);
        if (!b) {
            coil_transport_abort_connection(p->transport);
            return;
        }
        memcpy(b, c->in, c->in_len);
        c->saved = b;
        c->saved_len = c->in_len;
    }
    c->in = NULL;
    c->in_len = 0;
}

static void inner_read_lost(coil_protocol *p)
{
    coil__tls_conn *c = (coil__tls_conn *)p;
    c->inner_eof = true;
    if (!c->handshake_done) {
        handshake_failed(c, SOCKET_PEER_CLOSED_E, NULL);
        return;
    }
    if (c->got_close_notify)
        return; /* the application had its EOF */
    /* Closed without close_notify: possibly truncated by an attacker. */
    if (!coil_wrap_closing(&c->w))
        c->lost_reason = COIL_ETLS;
    coil_transport_lose_connection(p->transport);
}

static void inner_write_lost(coil_protocol *p)
{
    coil_wrap_deliver_write_eof((coil_wrap *)p);
}

static void inner_lost(coil_protocol *p, int reason)
{
    coil__tls_conn *c = (coil__tls_conn *)p;
    if (!c->handshake_done && !c->failed)
        handshake_failed(c, reason ? reason : SOCKET_PEER_CLOSED_E,
                         reason ? coil_strerror(reason) : NULL);
    if (c->lost_reason && (reason == 0 || reason == -ECONNRESET))
        reason = c->lost_reason;
    coil_wrap_lost(&c->w, reason);
    if (c->owner) {
        if (c->server)
            coil__tls_server_detach(c);
        else
            coil__tls_client_detach(c);
    }
    coil_factory *f = c->app_factory;
    conn_free(c);
    if (f)
        coil_factory_do_stop(f); /* last: it may free itself */
}

static const coil_protocol_ops inner_ops = {
    .connection_made = inner_made,
    .data_received = inner_data,
    .read_connection_lost = inner_read_lost,
    .write_connection_lost = inner_write_lost,
    .connection_lost = inner_lost,
};

/* ---- the application's transport ------------------------------------------ */

static int outer_write(coil_wrap *w, const struct iovec *iov, int iovcnt)
{
    coil__tls_conn *c = (coil__tls_conn *)w;
    if (!c->handshake_done || c->sent_close_notify)
        return -ENOTCONN;
    for (int i = 0; i < iovcnt; i++) {
        const char *b = iov[i].iov_base;
        size_t len = iov[i].iov_len, off = 0;
        while (off < len) {
            size_t chunk = len - off > (1u << 30) ? (1u << 30) : len - off;
            int n = wolfSSL_write(c->ssl, b + off, (int)chunk);
            if (n <= 0)
                return coil_transport_is_disconnecting(coil_wrap_inner(w)) ? -ENOTCONN : -EIO;
            off += (size_t)n;
        }
    }
    return 0;
}

static void send_close_notify(coil__tls_conn *c)
{
    if (c->sent_close_notify)
        return;
    c->sent_close_notify = true;
    wolfSSL_shutdown(c->ssl); /* queues close_notify on the inner transport */
}

static void outer_lose(coil_wrap *w)
{
    coil__tls_conn *c = (coil__tls_conn *)w;
    send_close_notify(c);
    coil_transport_lose_connection(coil_wrap_inner(w));
}

static void outer_lose_write(coil_wrap *w)
{
    coil__tls_conn *c = (coil__tls_conn *)w;
    send_close_notify(c);
    coil_transport_lose_write_connection(coil_wrap_inner(w));
}

static const coil_wrap_ops outer_ops = {
    .write = outer_write,
    .lose_connection = outer_lose,
    .lose_write_connection = outer_lose_write,
};

/* ---- information ---------------------------------------------------------- */

static coil__tls_conn *tls_of(const coil_transport *t)
{
    coil_wrap *w = t ? coil_wrap_of(t) : NULL;
    return w && w->ops == &outer_ops ? (coil__tls_conn *)w : NULL;
}

bool coil_tls_is_tls(const coil_transport *t)
{
    return tls_of(t) != NULL;
}

const char *coil_tls_alpn_protocol(const coil_transport *t)
{
    coil__tls_conn *c = tls_of(t);
    char *name = NULL;
    unsigned short len = 0;
    if (!c || wolfSSL_ALPN_GetProtocol(c->ssl, &name, &len) != WOLFSSL_SUCCESS || !name)
        return NULL;
    if (!c->alpn[0] && len < sizeof(c->alpn)) {
        memcpy(c->alpn, name, len);
        c->alpn[len] = '\0';
    }
    return c->alpn[0] ? c->alpn : NULL;
}

const char *coil_tls_version_name(const coil_transport *t)
{
    coil__tls_conn *c = tls_of(t);
    return c ? wolfSSL_get_version(c->ssl) : NULL;
}

const char *coil_tls_cipher_name(const coil_transport *t)
{
    coil__tls_conn *c = tls_of(t);
    return c ? wolfSSL_get_cipher_name(c->ssl) : NULL;
}

const char *coil_tls_server_name(const coil_transport *t)
{
    coil__tls_conn *c = tls_of(t);
    if (!c || !c->server)
        return NULL;
    return wolfSSL_get_servername(c->ssl, WOLFSSL_SNI_HOST_NAME);
}

bool coil_tls_session_reused(const coil_transport *t)
{
    coil__tls_conn *c = tls_of(t);
    return c && wolfSSL_session_reused(c->ssl) == 1;
}
