/* SPDX-License-Identifier: MIT */
/*
 * "ssl:" and "tls:" descriptions to endpoints: the options of the parsed
 * description become a context, which wraps the inner endpoint that the
 * endpoint layer built (endpoints/endpoint.c calls these).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <coil/error.h>

#include "../endpoints/endpoint_int.h"
#include "tls_int.h"

/* sslmethod: the minimum version. OpenSSL's and Twisted's spellings. */
static int parse_method(const char *m, coil_tls_version *out)
{
    static const struct {
        const char *name;
        coil_tls_version v;
    } names[] = {
        {"SSLv23_METHOD", COIL_TLS_DEFAULT}, {"TLS_METHOD", COIL_TLS_DEFAULT},
        {"TLSv1_2_METHOD", COIL_TLS_1_2},    {"TLSv1_2", COIL_TLS_1_2},
        {"TLSv1.2", COIL_TLS_1_2},           {"TLS1.2", COIL_TLS_1_2},
        {"TLSv1_3_METHOD", COIL_TLS_1_3},    {"TLSv1_3", COIL_TLS_1_3},
        {"TLSv1.3", COIL_TLS_1_3},           {"TLS1.3", COIL_TLS_1_3},
    };
    *out = COIL_TLS_DEFAULT;
    if (!m)
        return 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(m, names[i].name) == 0) {
            *out = names[i].v;
            return 0;
        }
    return -1;
}

static int prefixed(int rc, const char *type, char *err, size_t errlen)
{
    if (err && errlen) {
        char sub[512];
        snprintf(sub, sizeof(sub), "%s", err);
        snprintf(err, errlen, "%s: %s", type, sub);
    }
    return rc;
}

int coil__tls_server_from_desc(const coil_server_desc *d, coil_server_endpoint *inner,
                               coil_server_endpoint **out, char *err, size_t errlen)
{
    *out = NULL;
    coil_tls_server_options o = {
        .certificate = d->u.ssl.cert_key,
        .private_key = d->u.ssl.private_key,
        .extra_chain = d->u.ssl.extra_cert_chain,
        .dh_params = d->u.ssl.dh_parameters,
        .handshake_timeout = d->u.ssl.handshake_timeout,
    };
    if (parse_method(d->u.ssl.method, &o.min_version) < 0) {
        coil_server_endpoint_free(inner);
        return coil_endpoint_errorf(err, errlen,
                                    "ssl: invalid sslmethod '%s' (TLSv1_2_METHOD or "
                                    "TLSv1_3_METHOD: older versions are insecure)",
                                    d->u.ssl.method);
    }
    coil_tls_context *ctx;
    if (err && errlen)
        err[0] = '\0';
    int rc = coil_tls_server_context_new(&o, &ctx, err, errlen);
    if (rc < 0) {
        coil_server_endpoint_free(inner);
        return prefixed(rc, "ssl", err, errlen);
    }
    *out = coil_tls_server_endpoint_new(inner, ctx);
    coil_tls_context_unref(ctx);
    return *out ? 0 : -ENOMEM;
}

int coil__tls_client_from_desc(const coil_client_desc *d, coil_client_endpoint *inner,
                               coil_client_endpoint **out, char *err, size_t errlen)
{
    *out = NULL;
    coil_tls_client_options o = {0};
    const char *host;
    if (d->kind == COIL_CLIENT_TLS) {
        o.trust_roots = d->u.tls.trust_roots;
        o.certificate = d->u.tls.certificate;
        o.private_key = d->u.tls.private_key;
        host = d->u.tls.host;
    } else { /* Twisted's ssl: verifies only when given CAs to verify with */
        o.trust_roots = d->u.ssl.ca_certs_dir;
        o.insecure_no_verify = !d->u.ssl.ca_certs_dir;
        o.certificate = d->u.ssl.cert_key;
        o.private_key = d->u.ssl.private_key;
        host = d->u.ssl.hostname;
    }
    coil_tls_context *ctx;
    if (err && errlen)
        err[0] = '\0';
    int rc = coil_tls_client_context_new(&o, &ctx, err, errlen);
    if (rc < 0) {
        coil_client_endpoint_free(inner);
        return prefixed(rc, d->type, err, errlen);
    }
    *out = coil_tls_client_endpoint_new(inner, ctx, host);
    coil_tls_context_unref(ctx);
    return *out ? 0 : -ENOMEM;
}
