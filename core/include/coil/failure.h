/* SPDX-License-Identifier: MIT */
/*
 * Failures: the C analogue of twisted.python.failure.Failure.
 *
 * A coil_failure is an immutable, reference-counted error value: an error
 * domain (a string naming who defines the code, e.g. "coil.defer",
 * "coil.tcp", "myapp.http"), an integer code (by convention a negative errno
 * or COIL_E* value, but a domain may define its own codes), a message, the
 * source location that created it, and an optional cause (another failure),
 * which makes failures chain like Python's "raise ... from ...".
 *
 * coil_failure_format() renders the whole chain, outermost first; it is the
 * analogue of Failure.getTraceback():
 *
 *     coil.defer ECANCELED (-125): Deferred was cancelled
 *         at deferred.c:412 in coil_deferred_cancel
 *     caused by: coil.tcp ECONNREFUSED (-111): Connection refused
 *         called from client.c:21 in main
 *         at tcp.c:88 in on_connect
 *
 * Ownership: every constructor returns one reference owned by the caller.
 * Constructors never return NULL: when memory runs out they return a shared
 * static "Out of memory" failure (domain "coil", code -ENOMEM) whose
 * reference count is ignored, so callers never need a NULL check.
 * Failures are not thread-safe (plain reference count): share them between
 * threads only with external synchronisation.
 */
#ifndef COIL_FAILURE_H
#define COIL_FAILURE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct coil_failure coil_failure;

/* Destructor for user data (values, callback arguments, failure data). */
typedef void (*coil_destroy_fn)(void *ptr);

/* Create a failure. `fmt` is printf-style. The macros record the caller's
 * file, line and function, which coil_failure_format() prints. */
#define coil_failure_new(domain, code, ...)                                                        \
    coil_failure_new_at(__FILE__, __LINE__, __func__, (domain), (code), __VA_ARGS__)
/* Same, with a cause. Takes over the caller's reference to `cause` (which
 * may be NULL for no cause). */
#define coil_failure_wrap(cause, domain, code, ...)                                                \
    coil_failure_wrap_at(__FILE__, __LINE__, __func__, (cause), (domain), (code), __VA_ARGS__)

COIL_API coil_failure *coil_failure_new_at(const char *file, int line, const char *func,
                                           const char *domain, int code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
COIL_API coil_failure *coil_failure_wrap_at(const char *file, int line, const char *func,
                                            coil_failure *cause, const char *domain, int code,
                                            const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
COIL_API coil_failure *coil_failure_wrapv_at(const char *file, int line, const char *func,
                                             coil_failure *cause, const char *domain, int code,
                                             const char *fmt, va_list ap)
    __attribute__((format(printf, 7, 0)));

/* Reference counting. Both accept NULL. Returns `f`. */
COIL_API coil_failure *coil_failure_ref(coil_failure *f);
COIL_API void coil_failure_unref(coil_failure *f);

/* Accessors. Strings live as long as the failure. */
COIL_API const char *coil_failure_domain(const coil_failure *f);
COIL_API int coil_failure_code(const coil_failure *f);
COIL_API const char *coil_failure_message(const coil_failure *f);
/* The cause, borrowed (NULL if none); take a reference to keep it. */
COIL_API coil_failure *coil_failure_cause(const coil_failure *f);
/* Where the failure was created (file is the basename; "?" / 0 if unknown). */
COIL_API const char *coil_failure_file(const coil_failure *f);
COIL_API int coil_failure_line(const coil_failure *f);

/* The user's call that led to a failure created inside coil. The public
 * calls that return a Deferred (coil_connect_string(), coil_listen_string(),
 * coil_client_endpoint_connect(), ...) are macros that pass the caller's
 * __FILE__, __LINE__ and __func__; when their Deferred fails, the failure
 * records that call site, and coil_failure_format() prints it as
 * "called from user.c:42 in main" above the library's "at ..." line.
 * Only the first call site set sticks (the one nearest the failure); the
 * shared out-of-memory failure records none. This is the one mutation a
 * failure allows after it was shared: it only changes what is printed.
 * coil_failure_call_site() returns false when none was recorded; the
 * strings are static (file is the basename). */
COIL_API void coil_failure_set_call_site(coil_failure *f, const char *file, int line,
                                         const char *func);
COIL_API bool coil_failure_call_site(const coil_failure *f, const char **file, int *line,
                                     const char **func);

/* Failure.check(): true if this failure (not its causes) has `domain` and
 * `code`. */
COIL_API bool coil_failure_check(const coil_failure *f, const char *domain, int code);
/* True if this failure or any of its causes matches. */
COIL_API bool coil_failure_check_chain(const coil_failure *f, const char *domain, int code);

/* Optional structured payload (an exception's attributes). Set it right
 * after creating the failure, before sharing it: the failure is otherwise
 * immutable. `destroy` (may be NULL) runs when the failure is freed.
 * Replacing data destroys the previous one. Ignored on the static
 * out-of-memory failure (`destroy(data)` is called right away). */
COIL_API void coil_failure_set_data(coil_failure *f, void *data, coil_destroy_fn destroy);
COIL_API void *coil_failure_data(const coil_failure *f);

/* Render the chain (see the top of this file) into `buf` like snprintf:
 * returns the length the full text needs, writes at most size-1 bytes
 * plus a NUL. No trailing newline. */
COIL_API size_t coil_failure_snprint(const coil_failure *f, char *buf, size_t size);
/* The same in a malloc'ed string the caller frees; NULL if out of memory. */
COIL_API char *coil_failure_format(const coil_failure *f);

#ifdef __cplusplus
}
#endif
#endif
