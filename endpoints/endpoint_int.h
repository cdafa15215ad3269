/* SPDX-License-Identifier: MIT */
/* Internals shared by the endpoint implementations in endpoints/. */
#ifndef COIL_ENDPOINT_INT_H
#define COIL_ENDPOINT_INT_H

#include <coil/endpoint.h>
#include <coil/net_deferred.h>
#include <stdbool.h>

/* The endpoint constructors of a registered type (desc_types.c keeps them
 * in the type registry). */
typedef struct coil__endpoint_ctors {
    coil_server_endpoint_new_fn new_server;
    coil_client_endpoint_new_fn new_client;
    void *arg;
} coil__endpoint_ctors;

/* Copy out the constructors registered for `prefix` (NULL members when
 * none were set). false if `prefix` is not a registered (non built-in)
 * type. */
bool coil__endpoint_type_ctors(const char *prefix, coil__endpoint_ctors *out);

/* A Deferred that has failed with (COIL_NET_DOMAIN, err, message). */
coil_deferred *coil__endpoint_fail(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The TLS layer (tls/desc.c, only in builds with TLS): wrap `inner`
 * (taken over, also on failure) in TLS configured by an "ssl:" server or an
 * "ssl:"/"tls:" client description. Errors name the file or option. */
int coil__tls_server_from_desc(const coil_server_desc *d, coil_server_endpoint *inner,
                               coil_server_endpoint **out, char *err, size_t errlen);
int coil__tls_client_from_desc(const coil_client_desc *d, coil_client_endpoint *inner,
                               coil_client_endpoint **out, char *err, size_t errlen);

#endif
