/* SPDX-License-Identifier: MIT */
/*
 * TLS contexts: one WOLFSSL_CTX with coil's secure defaults, the server's
 * certificate and key or the client's trust roots, shared by every
 * connection of an endpoint.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <coil/error.h>
#include <coil/log.h>

#include "alpn.h"
#include "tls_int.h"

/* Mozilla's "intermediate" profile: TLS 1.3 suites, then ECDHE/DHE with
 * AES-GCM or ChaCha20-Poly1305 for TLS 1.2. Nothing without forward
 * secrecy, nothing that is not AEAD. ChaCha20-Poly1305 comes first in each
 * group: Debian's wolfSSL has no AES-NI code, and in software ChaCha20 costs
 * less than half of AES-GCM (docs/BENCHMARKS.md). Clients choose among them
 * (no server preference), as the profile says. */
static const char cipher_list[] =
    "TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "DHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void global_init(void)
{
    init_rc = wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : COIL_ETLS;
}

int coil__tls_global_init(void)
{
    pthread_once(&init_once, global_init);
    return init_rc;
}

/* The verify callback reports OpenSSL-style X509_V_ERR codes (> 0). */
static const char *x509_reason(int e)
{
    switch (e) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
        return "certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
        return "certificate is not yet valid";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return "unknown CA (the certificate chain is not trusted)";
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        return "certificate signature is invalid";
    default: {
        const char *s = wolfSSL_X509_verify_cert_error_string(e);
        return s && *s ? s : "certificate verification failed";
    }
    }
}

const char *coil__tls_reason(int e)
{
    if (e > 0)
        return x509_reason(e);
    switch (e) {
    case ASN_AFTER_DATE_E:
        return "certificate has expired";
    case ASN_BEFORE_DATE_E:
        return "certificate is not yet valid";
    case ASN_NO_SIGNER_E:
    case ASN_SELF_SIGNED_E:
        return "unknown CA (the certificate chain is not trusted)";
    case ASN_SIG_CONFIRM_E:
        return "certificate signature is invalid";
    case DOMAIN_NAME_MISMATCH:
        return "hostname mismatch (the certificate is for another name)";
    case IPADDR_MISMATCH:
        return "hostname mismatch (the certificate is not for this IP address)";
    case NO_PEER_CERT:
        return "the peer sent no certificate";
    case VERSION_ERROR:
        return "protocol version not supported (TLS 1.2 or later is required)";
    case MATCH_SUITE_ERROR:
        return "no cipher suite in common";
    case UNKNOWN_SNI_HOST_NAME_E:
        return "unrecognized server name";
    case FATAL_ERROR:
        return "the peer sent a fatal alert";
    case SOCKET_PEER_CLOSED_E:
        return "the connection closed during the handshake";
    case PARSE_ERROR:
    case UNKNOWN_RECORD_TYPE:
        return "not TLS (invalid record)";
    default: {
        const char *s = wolfSSL_ERR_reason_error_string((unsigned long)e);
        return s && *s ? s : "handshake failed";
    }
    }
}

bool coil__tls_is_verify_error(int e)
{
    if (e > 0)
        return true; /* an X509_V_ERR code */
    switch (e) {
    case ASN_AFTER_DATE_E:
    case ASN_BEFORE_DATE_E:
    case ASN_NO_SIGNER_E:
    case ASN_SELF_SIGNED_E:
    case ASN_SIG_CONFIRM_E:
    case DOMAIN_NAME_MISMATCH:
    case IPADDR_MISMATCH:
    case VERIFY_CERT_ERROR:
        return true;
    default:
        return false;
    }
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, const char *arg)
{
    if (err && errlen) {
        snprintf(err, errlen, fmt, arg ? arg : "");
        for (char *p = err; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = '?';
    }
    return rc;
}

static coil_tls_context *context_new(bool server)
{
    if (coil__tls_global_init() < 0)
        return NULL;
    coil_tls_context *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->refs = 1;
    c->server = server;
    c->ctx = wolfSSL_CTX_new(server ? wolfSSLv23_server_method() : wolfSSLv23_client_method());
    if (!c->ctx) {
        free(c);
        return NULL;
    }
    return c;
}

/* The settings every context shares. */
static int secure_defaults(coil_tls_context *c, coil_tls_version min, double timeout, char *err,
                           size_t errlen)
{
    int v = min == COIL_TLS_1_3 ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2;
    if (min != COIL_TLS_DEFAULT && min != COIL_TLS_1_2 && min != COIL_TLS_1_3)
        return fail(err, errlen, -EINVAL, "invalid minimum TLS version%s", NULL);
    if (wolfSSL_CTX_SetMinVersion(c->ctx, v) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_cipher_list(c->ctx, cipher_list) != WOLFSSL_SUCCESS)
        return fail(err, errlen, COIL_ETLS, "cannot apply the TLS defaults%s", NULL);
    c->handshake_timeout = timeout == 0 ? 30.0 : timeout;
    return 0;
}

/* The whole file, NUL-terminated, or NULL (errno set). */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            char *b = realloc(buf, cap + 65536);
            if (!b) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = b;
            cap += 65536;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int file_error(const char *what, const char *path, char *err, size_t errlen)
{
    char msg[96];
    snprintf(msg, sizeof(msg), "cannot read %s '%%s': %s", what, strerror(errno));
    return fail(err, errlen, COIL_ETLS, msg, path);
}

/* certificate (+ extra chain) and key. */
static int load_identity(coil_tls_context *c, const char *cert, const char *key,
                         const char *extra, char *err, size_t errlen)
{
    size_t len = 0, elen = 0;
    char *pem = read_file(cert, &len);
    if (!pem)
        return file_error("certificate", cert, err, errlen);
    if (extra) {
        char *more = read_file(extra, &elen);
        if (!more) {
            free(pem);
            return file_error("extraCertChain", extra, err, errlen);
        }
        char *both = realloc(pem, len + elen + 2);
        if (!both) {
            free(pem);
            free(more);
            return -ENOMEM;
        }
        pem = both;
        pem[len++] = '\n';
        memcpy(pem + len, more, elen + 1);
        len += elen;
        free(more);
    }
    int ok = wolfSSL_CTX_use_certificate_chain_buffer(c->ctx, (const unsigned char *)pem,
                                                      (long)len);
    free(pem);
    if (ok != WOLFSSL_SUCCESS)
        return fail(err, errlen, COIL_ETLS, "'%s' holds no valid PEM certificate", cert);
    key = key ? key : cert;
    FILE *probe = fopen(key, "rb");
    if (!probe)
        return file_error("privateKey", key, err, errlen);
    fclose(probe);
    if (wolfSSL_CTX_use_PrivateKey_file(c->ctx, key, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
        return fail(err, errlen, COIL_ETLS, "'%s' holds no valid PEM private key", key);
    if (wolfSSL_CTX_check_private_key(c->ctx) != WOLFSSL_SUCCESS)
        return fail(err, errlen, COIL_ETLS,
                    "the private key in '%s' does not match the certificate", key);
    return 0;
}

/* A directory of PEM files or one PEM file of CAs. */
static int load_roots(WOLFSSL_CTX *ctx, const char *roots, const char *what, char *err,
                      size_t errlen)
{
    struct stat st;
    if (stat(roots, &st) < 0) {
        char msg[96];
        snprintf(msg, sizeof(msg), "cannot read %s '%%s': %s", what, strerror(errno));
        return fail(err, errlen, COIL_ETLS, msg, roots);
    }
    int ok;
    if (S_ISDIR(st.st_mode))
        ok = wolfSSL_CTX_load_verify_locations_ex(ctx, NULL, roots, WOLFSSL_LOAD_FLAG_IGNORE_ERR);
    else
        ok = wolfSSL_CTX_load_verify_locations(ctx, roots, NULL);
    if (ok != WOLFSSL_SUCCESS)
        return fail(err, errlen, COIL_ETLS, "no usable CA certificate in '%s'", roots);
    return 0;
}

/* ALPN lists: wire form (length-prefixed) for the server's selection,
 * comma-separated for wolfSSL_UseALPN on the client. */
static int set_alpn(coil_tls_context *c, const char *const *alpn, char *err, size_t errlen)
{
    size_t total = 0;
    for (size_t i = 0; alpn && alpn[i]; i++) {
        size_t n = strlen(alpn[i]);
        if (n == 0 || n > 255 || strchr(alpn[i], ','))
            return fail(err, errlen, -EINVAL, "invalid ALPN protocol name '%s'", alpn[i]);
        total += n + 1;
    }
    if (!total)
        return 0;
    c->alpn_wire = malloc(total);
    c->alpn = malloc(total);
    if (!c->alpn_wire || !c->alpn)
        return -ENOMEM;
    size_t w = 0, k = 0;
    for (size_t i = 0; alpn[i]; i++) {
        size_t n = strlen(alpn[i]);
        c->alpn_wire[w++] = (unsigned char)n;
        memcpy(c->alpn_wire + w, alpn[i], n);
        w += n;
        if (k)
            c->alpn[k++] = ',';
        memcpy(c->alpn + k, alpn[i], n);
        k += n;
    }
    c->alpn[k] = '\0';
    c->alpn_wire_len = (unsigned)w;
    c->alpn_len = (unsigned)k;
    return 0;
}

/* The server picks: the application's callback, else our first protocol
 * the client offers. */
static int alpn_select(WOLFSSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    coil_tls_context *c = arg;
    size_t off, len;
    int rc = c->alpn_select
                 ? coil__alpn_entry(in, inlen, c->alpn_select(c->arg, in, inlen), &off, &len)
                 : coil__alpn_pick(c->alpn_wire, c->alpn_wire_len, in, inlen, &off, &len);
    if (rc < 0)
        return SSL_TLSEXT_ERR_NOACK;
    *out = in + off;
    *outlen = (unsigned char)len;
    return SSL_TLSEXT_ERR_OK;
}

/* SNI: the application may switch this connection to another context. */
static int sni_select(WOLFSSL *ssl, int *ad, void *arg)
{
    coil_tls_context *c = arg;
    const char *name = wolfSSL_get_servername(ssl, WOLFSSL_SNI_HOST_NAME);
    bool reject = false;
    coil_tls_context *use = c->sni(c->arg, name, &reject);
    if (reject) {
        *ad = unrecognized_name;
        return fatal_return;
    }
    if (use && use != c && use->ctx)
        wolfSSL_set_SSL_CTX(ssl, use->ctx);
    return 0;
}

int coil_tls_server_context_new(const coil_tls_server_options *o, coil_tls_context **out,
                                char *err, size_t errlen)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!o || !o->certificate)
        return fail(err, errlen, -EINVAL, "a TLS server needs a certificate%s", NULL);
    coil_tls_context *c = context_new(true);
    if (!c)
        return fail(err, errlen, -ENOMEM, "cannot create a TLS context%s", NULL);
    int rc = secure_defaults(c, o->min_version, o->handshake_timeout, err, errlen);
    if (rc == 0)
        rc = load_identity(c, o->certificate, o->private_key, o->extra_chain, err, errlen);
    if (rc == 0 && o->dh_params) {
        FILE *probe = fopen(o->dh_params, "rb");
        if (!probe)
            rc = file_error("dhParameters", o->dh_params, err, errlen);
        else if (fclose(probe),
                 wolfSSL_CTX_SetTmpDH_file(c->ctx, o->dh_params, WOLFSSL_FILETYPE_PEM) !=
                     WOLFSSL_SUCCESS)
            rc = fail(err, errlen, COIL_ETLS, "'%s' holds no valid PEM DH parameters",
                      o->dh_params);
    }
    if (rc == 0 && o->client_ca) {
        rc = load_roots(c->ctx, o->client_ca, "client CA", err, errlen);
        wolfSSL_CTX_set_verify(c->ctx, WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                               NULL);
    } else if (rc == 0) {
        wolfSSL_CTX_set_verify(c->ctx, WOLFSSL_VERIFY_NONE, NULL);
    }
    if (rc == 0 && o->no_session_tickets) {
        wolfSSL_CTX_NoTicketTLSv12(c->ctx);
        wolfSSL_CTX_no_ticket_TLSv13(c->ctx);
    }
    if (rc == 0)
        rc = set_alpn(c, o->alpn, err, errlen);
    c->alpn_select = o->alpn_select;
    c->sni = o->sni;
    c->arg = o->arg;
    if (rc == 0 && (c->alpn_wire || c->alpn_select))
        wolfSSL_CTX_set_alpn_select_cb(c->ctx, alpn_select, c);
    if (rc == 0 && c->sni) {
        wolfSSL_CTX_set_servername_callback(c->ctx, sni_select);
        wolfSSL_CTX_set_servername_arg(c->ctx, c);
    }
    if (rc < 0) {
        coil_tls_context_unref(c);
        return rc;
    }
    *out = c;
    return 0;
}

int coil_tls_client_context_new(const coil_tls_client_options *o, coil_tls_context **out,
                                char *err, size_t errlen)
{
    static const coil_tls_client_options defaults;
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!o)
        o = &defaults;
    coil_tls_context *c = context_new(false);
    if (!c)
        return fail(err, errlen, -ENOMEM, "cannot create a TLS context%s", NULL);
    int rc = secure_defaults(c, o->min_version, o->handshake_timeout, err, errlen);
    c->verify = !o->insecure_no_verify;
    if (rc == 0 && c->verify) {
        if (o->trust_roots)
            rc = load_roots(c->ctx, o->trust_roots, "trustRoots", err, errlen);
        else if (wolfSSL_CTX_load_system_CA_certs(c->ctx) != WOLFSSL_SUCCESS)
            rc = fail(err, errlen, COIL_ETLS,
                      "cannot load the system's trusted CA certificates%s", NULL);
    }
    if (rc == 0 && o->certificate)
        rc = load_identity(c, o->certificate, o->private_key, NULL, err, errlen);
    if (rc == 0)
        rc = set_alpn(c, o->alpn, err, errlen);
    if (rc < 0) {
        coil_tls_context_unref(c);
        return rc;
    }
    *out = c;
    return 0;
}

coil_tls_context *coil_tls_context_ref(coil_tls_context *c)
{
    if (c)
        c->refs++;
    return c;
}

void coil_tls_context_unref(coil_tls_context *c)
{
    if (!c || --c->refs > 0)
        return;
    wolfSSL_CTX_free(c->ctx);
    free(c->alpn);
    free(c->alpn_wire);
    free(c);
}
