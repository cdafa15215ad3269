/* SPDX-License-Identifier: MIT */
/* Internals shared by the files of the TLS layer (tls/). Public headers
 * only: TLS is built on coil/wrap.h like any user wrapper. */
#ifndef COIL_TLS_INT_H
#define COIL_TLS_INT_H

#include <stdbool.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <coil/tls.h>

#define COIL__TLS_SYS "coil.tls"

struct coil_tls_context {
    unsigned refs;
    WOLFSSL_CTX *ctx;
    bool server;
    bool verify;              /* client: verify the server's certificate */
    double handshake_timeout; /* seconds; < 0: none */
    unsigned char *alpn;      /* client: comma-separated list for wolfSSL_UseALPN */
    unsigned alpn_len;
    unsigned char *alpn_wire; /* server: length-prefixed list, preferred first */
    unsigned alpn_wire_len;
    coil_tls_alpn_fn alpn_select;
    coil_tls_sni_fn sni;
    void *arg;
};

/* Set up wolfSSL once per process. 0 or COIL_ETLS. */
int coil__tls_global_init(void);

/* What went wrong in a handshake, in words ("certificate has expired"),
 * for a wolfSSL error code (from wolfSSL_get_error or a verify callback). */
const char *coil__tls_reason(int wolfssl_err);
/* Whether a wolfSSL error code is a certificate verification failure. */
bool coil__tls_is_verify_error(int wolfssl_err);

/* The wrapper per connection (conn.c). */
typedef struct coil__tls_conn coil__tls_conn;

#endif
