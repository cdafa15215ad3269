/* SPDX-License-Identifier: MIT */
/* One TLS connection (conn.c) and the endpoint sides that own it
 * (server.c, client.c). */
#ifndef COIL_TLS_CONN_H
#define COIL_TLS_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include <coil/wrap.h>

#include "tls_int.h"

struct coil__tls_conn {
    coil_wrap w; /* first: the inner transport's protocol */
    WOLFSSL *ssl;
    coil_tls_context *ctx;
    bool server;
    bool handshake_done, failed;
    bool got_close_notify, sent_close_notify, inner_eof;
    bool ip_host;           /* client: host is an IP literal */
    int verify_err;         /* first certificate error the verify callback saw */
    int lost_reason;        /* replaces a clean reason (truncation, TLS error) */
    int fail_code;          /* COIL_ETLS, COIL_ETLSVERIFY or a negative errno */
    coil_delayed_call *timer; /* handshake deadline */
    const unsigned char *in; /* ciphertext wolfSSL may read now */
    size_t in_len;
    unsigned char *saved;    /* ciphertext kept between reads (part of a record) */
    size_t saved_len;
    void *owner;             /* server listener or client connect, while handshaking */
    coil_factory *app_factory; /* client: do_stop after connection_lost */
    struct coil__tls_conn *prev, *next; /* the listener's handshaking connections */
    coil_address peer;       /* the inner transport's peer, for messages */
    char why[160];           /* why the handshake failed */
    char alpn[64];
    char host[];             /* client: the name to verify and send as SNI */
};

coil__tls_conn *coil__tls_conn_new(coil_tls_context *ctx, bool server, const char *host);
/* "example.com" or "127.0.0.1:4433" for messages. */
void coil__tls_describe_peer(coil__tls_conn *c, char *buf, size_t size);

/* Whether the certificate's subjectAltName lists IP address `ip` (text). */
bool coil__tls_cert_has_ip(WOLFSSL_X509 *x, const char *ip);

/* Called by conn.c; implemented by the side that owns the connection. */
void coil__tls_server_ready(coil__tls_conn *c);
void coil__tls_server_failed(coil__tls_conn *c);
void coil__tls_client_ready(coil__tls_conn *c);
void coil__tls_client_failed(coil__tls_conn *c);
/* The connection is about to be freed: its owner (if it still has one)
 * forgets it. */
void coil__tls_server_detach(coil__tls_conn *c);
void coil__tls_client_detach(coil__tls_conn *c);

#endif
