/* SPDX-License-Identifier: MIT */
/*
 * TLS (Twisted's TLSMemoryBIOProtocol, CertificateOptions, optionsForClientTLS
 * and the ssl:/tls: endpoints), on wolfSSL. Available when coil was built
 * with COIL_WITH_TLS=ON; without it these functions are absent and "ssl:" /
 * "tls:" descriptions fail with COIL_ENOTLS. docs/TLS.md has the details.
 *
 * TLS is a wrapping protocol (coil/wrap.h): wolfSSL reads and writes memory,
 * never the socket, so TLS runs over any inner transport (TCP, UNIX, a
 * PROXY-wrapped connection) on every backend. The application's protocol is
 * attached once the handshake has succeeded: its connection_made() runs
 * then, it reads and writes plaintext, lose_connection() sends close_notify
 * and flushes before closing, abort_connection() does not. A connection
 * whose peer closes without close_notify is lost with COIL_ETLS.
 *
 * Secure defaults: TLS 1.2 and 1.3 only, AEAD cipher suites with forward
 * secrecy only (Mozilla's "intermediate" profile), no compression, no
 * renegotiation; clients verify the server's certificate chain against the
 * system trust store (/etc/ssl/certs) and its name (DNS or IP address) and
 * send SNI.
 *
 * Lifetimes: a context is reference counted; endpoints and connections hold
 * references, so the creator may unref it at once after handing it over.
 * Contexts are not thread-safe to change; use them on the reactor thread.
 */
#ifndef COIL_TLS_H
#define COIL_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "endpoint.h"
#include "export.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct coil_tls_context coil_tls_context;

/* Minimum protocol versions (the maximum is always TLS 1.3). */
typedef enum coil_tls_version {
    COIL_TLS_DEFAULT = 0, /* TLS 1.2 */
    COIL_TLS_1_2 = 12,
    COIL_TLS_1_3 = 13,
} coil_tls_version;

/* Server SNI callback: `name` is the server name the client asked for (NULL
 * when it sent none). Return a context to use for this connection (a
 * borrowed pointer that must stay valid until the handshake ends: keep the
 * contexts alive as long as the endpoint), or NULL to keep the default. A
 * context made with coil_tls_server_context_new() is expected. Return
 * `reject` = true to refuse the handshake (unrecognized_name alert). */
typedef coil_tls_context *(*coil_tls_sni_fn)(void *arg, const char *name, bool *reject);

/* Server ALPN callback: `offered` is the client's list (each entry a
 * length byte then the name, as on the wire, `len` bytes in all). Return
 * the index of the chosen entry (0-based), or -1 to continue without ALPN.
 * When NULL, the first of `alpn` (below) that the client offers is used. */
typedef int (*coil_tls_alpn_fn)(void *arg, const unsigned char *offered, size_t len);

typedef struct coil_tls_server_options {
    const char *certificate;  /* PEM file: the certificate, optionally followed by its chain */
    const char *private_key;  /* PEM file of its key; NULL: the certificate file */
    const char *extra_chain;  /* PEM file of intermediate certificates, or NULL */
    const char *dh_params;    /* PEM DH parameters for DHE suites, or NULL (ECDHE only) */
    coil_tls_version min_version;
    double handshake_timeout; /* seconds; 0: 30; < 0: none */
    const char *const *alpn;  /* protocols we speak, preferred first, NULL-terminated; or NULL */
    coil_tls_alpn_fn alpn_select; /* or NULL */
    coil_tls_sni_fn sni;      /* or NULL */
    void *arg;                /* for alpn_select and sni */
    bool no_session_tickets;  /* session tickets (resumption) are on by default */
    const char *client_ca;    /* dir or PEM file: require a client certificate signed by it */
} coil_tls_server_options;

typedef struct coil_tls_client_options {
    const char *trust_roots;  /* dir of PEM CAs (hashed or not) or a PEM file; NULL: system */
    bool insecure_no_verify;  /* do not verify the server at all (tests, Twisted's ssl:) */
    const char *certificate;  /* client certificate (PEM), or NULL */
    const char *private_key;  /* its key; NULL: the certificate file */
    coil_tls_version min_version;
    double handshake_timeout; /* seconds; 0: 30; < 0: none */
    const char *const *alpn;  /* protocols to offer, NULL-terminated; or NULL */
} coil_tls_client_options;

/* Make a context. 0 and *out (one reference), or a negative error
 * (COIL_ETLS for unreadable or invalid files, -ENOMEM) with a message
 * naming the file in err. `o` is only read (strings are copied or loaded). */
COIL_API int coil_tls_server_context_new(const coil_tls_server_options *o,
                                         coil_tls_context **out, char *err, size_t errlen);
COIL_API int coil_tls_client_context_new(const coil_tls_client_options *o,
                                         coil_tls_context **out, char *err, size_t errlen);
COIL_API coil_tls_context *coil_tls_context_ref(coil_tls_context *c);
/* NULL is allowed. */
COIL_API void coil_tls_context_unref(coil_tls_context *c);

/* TLS server on top of `inner` (taken over, also on failure): listen()
 * listens on inner with a factory that runs a TLS handshake on every
 * accepted connection and only then builds the application's protocol
 * (with the inner connection's peer address). A failed or timed-out
 * handshake closes that connection with a log line saying why; the
 * application never sees it. Takes a reference to ctx. NULL when out of
 * memory. */
COIL_API coil_server_endpoint *coil_tls_server_endpoint_new(coil_server_endpoint *inner,
                                                            coil_tls_context *ctx);

/* TLS client on top of `inner` (taken over, also on failure): connect()
 * connects inner, runs the handshake with SNI `hostname` and checks the
 * server's certificate against it (a DNS name or an IP address; NULL: no
 * name check and no SNI), and fires with the application's protocol after
 * its connection_made(), or errbacks with COIL_ETLSVERIFY and a message
 * naming the reason ("certificate has expired", "hostname mismatch",
 * "unknown CA") or COIL_ETLS for other handshake failures. Takes a
 * reference to ctx. */
COIL_API coil_client_endpoint *coil_tls_client_endpoint_new(coil_client_endpoint *inner,
                                                            coil_tls_context *ctx,
                                                            const char *hostname);

/* About an established TLS connection, given the application's transport:
 * the ALPN protocol agreed ("h2", or NULL), the version ("TLSv1.3") and
 * cipher suite names (static or valid for the connection's life; NULL if
 * `t` is not a TLS transport), and the server name the client sent (server
 * side; NULL if none). */
COIL_API bool coil_tls_is_tls(const coil_transport *t);
COIL_API const char *coil_tls_alpn_protocol(const coil_transport *t);
COIL_API const char *coil_tls_version_name(const coil_transport *t);
COIL_API const char *coil_tls_cipher_name(const coil_transport *t);
COIL_API const char *coil_tls_server_name(const coil_transport *t);
/* Whether the session was resumed (ticket or cache). */
COIL_API bool coil_tls_session_reused(const coil_transport *t);

#ifdef __cplusplus
}
#endif
#endif
