/* SPDX-License-Identifier: MIT */
/* Internals shared by the endpoint implementations in endpoints/. */
#ifndef COIL_ENDPOINT_INT_H
#define COIL_ENDPOINT_INT_H

#include <coil/endpoint.h>
#include <coil/net_deferred.h>

/* Called by coil_endpoint_unregister(): drop constructors of `prefix`. */
void coil__endpoint_forget_constructors(const char *prefix);

/* A Deferred that has failed with (COIL_NET_DOMAIN, err, message). */
coil_deferred *coil__endpoint_fail(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
