/* SPDX-License-Identifier: MIT */
/*
 * Logging. The library never writes to stdout; it reports events through one
 * process-wide handler. The default handler writes COIL_LOG_WARN and above to
 * stderr in Twisted's text format; applications (coild) install their own.
 */
#ifndef COIL_LOG_H
#define COIL_LOG_H

#include <stdbool.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum coil_log_level {
    COIL_LOG_DEBUG = 0,
    COIL_LOG_INFO = 1,
    COIL_LOG_WARN = 2,
    COIL_LOG_ERROR = 3,
    COIL_LOG_CRITICAL = 4,
} coil_log_level;

/* `system` names the emitter ("reactor", "coil.tcp", ...); `msg` is one
 * formatted message (may contain newlines). Both are only valid during the
 * call. The handler runs on the thread that logged. */
typedef void (*coil_log_fn)(void *arg, coil_log_level level, const char *system, const char *msg);

/* Install a handler (NULL restores the default) and its argument. */
COIL_API void coil_log_set_handler(coil_log_fn fn, void *arg);
/* The current handler and its argument (to chain to it or restore it). */
COIL_API void coil_log_get_handler(coil_log_fn *fn, void **arg);
/* Messages below `level` are dropped before formatting. Default: COIL_LOG_WARN. */
COIL_API void coil_log_set_level(coil_log_level level);
COIL_API coil_log_level coil_log_get_level(void);
/* Emit a message through the current handler (printf-style). */
COIL_API void coil_log(coil_log_level level, const char *system, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Rate-limited logging, for messages a peer can trigger at will (a bad
 * PROXY header per connection, say): coil_log() unless more than `burst`
 * messages with the same `cause` were emitted in the current window of
 * `interval` seconds, or more than 5 x `burst` rate-limited messages of
 * any cause. What is dropped is counted; the next message of that cause
 * that passes is followed by "(N similar messages suppressed)" at the same
 * level and system. `cause` is compared by content (any short text naming
 * the reason). Returns true if the message was emitted. Thread-safe.
 * Defaults: 10 per cause per 10 s. */
COIL_API bool coil_log_ratelimited(coil_log_level level, const char *system, const char *cause,
                                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Set the window and burst (interval > 0, burst >= 1; else -EINVAL) and
 * forget the counts so far. */
COIL_API int coil_log_set_ratelimit(double interval, unsigned burst);

/* "debug", "info", "warn", "error", "critical"; parse returns -EINVAL if unknown. */
COIL_API const char *coil_log_level_name(coil_log_level level);
COIL_API int coil_log_level_parse(const char *name, coil_log_level *out);

#ifdef __cplusplus
}
#endif
#endif
