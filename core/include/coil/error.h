/* SPDX-License-Identifier: MIT */
/*
 * Errors: every fallible coil function returns 0 (or a non-negative value)
 * on success and a negative errno value on failure, as liburing and libuv do.
 * Conditions that have no errno equivalent use coil's own codes below -4000.
 *
 * Rule (from libuv): if a call that takes a callback returns an error, that
 * callback is never called.
 */
#ifndef COIL_ERROR_H
#define COIL_ERROR_H

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message) for coil's own codes. */
#define COIL_ERRNO_MAP(X)                                                                          \
    X(COIL_EABORTED, -4001, "Connection was aborted locally")                                      \
    X(COIL_ESHUTDOWN, -4002, "Connection lost: the reactor shut down")                             \
    X(COIL_ENOPROTOCOL, -4003, "The factory refused to build a protocol")                          \
    X(COIL_EALREADYCALLED, -4004, "Deferred was already called")                                   \
    X(COIL_EBADDESC, -4005, "Invalid endpoint description")                                        \
    X(COIL_ENOTLS, -4006, "coil was built without TLS")                                            \
    X(COIL_EPROXY, -4007, "Invalid PROXY protocol header")                                         \
    X(COIL_EDNS, -4008, "DNS lookup failed")                                                       \
    X(COIL_ENOURING, -4009, "io_uring is not available")                                           \
    X(COIL_EFIRSTERROR, -4010, "A Deferred in the list failed (FirstError)")                     \
    X(COIL_ETLS, -4020, "TLS error")                                                               \
    X(COIL_ETLSVERIFY, -4021, "TLS certificate verification failed")

enum coil_errno {
#define COIL__ERR_ENUM(name, value, msg) name = (value),
    COIL_ERRNO_MAP(COIL__ERR_ENUM)
#undef COIL__ERR_ENUM
};

/* Human-readable message for an error code (negative errno or COIL_E*).
 * 0 gives "Connection was closed cleanly" because 0 is also the
 * connection_lost reason for an orderly close. Static storage. */
COIL_API const char *coil_strerror(int err);
/* Symbolic name, e.g. "ECONNREFUSED" or "COIL_EABORTED". Static storage. */
COIL_API const char *coil_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif
