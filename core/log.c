/* SPDX-License-Identifier: MIT */
/* One process-wide log handler; the default prints Twisted-style lines. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <coil/log.h>

static void default_handler(void *arg, coil_log_level level, const char *system, const char *msg);

static coil_log_fn log_fn = default_handler;
static void *log_arg;
static coil_log_level log_level = COIL_LOG_WARN;

static const char *const level_names[] = {"debug", "info", "warn", "error", "critical"};

const char *coil_log_level_name(coil_log_level level)
{
    return (unsigned)level < 5 ? level_names[level] : "?";
}

int coil_log_level_parse(const char *name, coil_log_level *out)
{
    for (int i = 0; i < 5; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (coil_log_level)i;
            return 0;
        }
    }
    if (strcmp(name, "warning") == 0) {
        *out = COIL_LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

/* "2026-11-28T02:40:17+0000 [system#level] text", continuation lines
 * prefixed with a tab, as twisted.logger's text observer writes them. */
static void default_handler(void *arg, coil_log_level level, const char *system, const char *msg)
{
    (void)arg;
    char stamp[40];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S%z", &tm);
    flockfile(stderr);
    fprintf(stderr, "%s [%s#%s] ", stamp, system, coil_log_level_name(level));
    for (const char *p = msg; *p; p++) {
        fputc(*p, stderr);
        if (*p == '\n' && p[1])
            fputc('\t', stderr);
    }
    fputc('\n', stderr);
    funlockfile(stderr);
}

void coil_log_set_handler(coil_log_fn fn, void *arg)
{
    log_fn = fn ? fn : default_handler;
    log_arg = fn ? arg : NULL;
}

void coil_log_get_handler(coil_log_fn *fn, void **arg)
{
    *fn = log_fn;
    *arg = log_arg;
}

void coil_log_set_level(coil_log_level level)
{
    log_level = level;
}

coil_log_level coil_log_get_level(void)
{
    return log_level;
}

void coil_log(coil_log_level level, const char *system, const char *fmt, ...)
{
    if (level < log_level)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < (int)sizeof(buf)) {
        log_fn(log_arg, level, system, buf);
        return;
    }
    /* Long messages (failure chains) are formatted again at full length. */
    char *big = malloc((size_t)n + 1);
    if (!big) {
        log_fn(log_arg, level, system, buf);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    log_fn(log_arg, level, system, big);
    free(big);
}
