/* SPDX-License-Identifier: MIT */
/* One process-wide log handler; the default prints Twisted-style lines. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
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

/* ---- rate-limited messages ---------------------------------------------- */

#define RL_CAUSES 64      /* causes tracked at once (the oldest is reused) */
#define RL_CAUSE_LEN 96   /* longer causes are compared by this prefix */
#define RL_TOTAL_FACTOR 5 /* all causes together: 5 x burst per window */

static struct rl_cause {
    char text[RL_CAUSE_LEN];
    int64_t window_ns; /* start of its window; 0: unused */
    unsigned emitted;
    unsigned long suppressed;
} rl_causes[RL_CAUSES];
static struct {
    int64_t window_ns;
    unsigned emitted;
} rl_total;
static int64_t rl_interval_ns = 10000000000; /* 10 s */
static unsigned rl_burst = 10;
static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int coil_log_set_ratelimit(double interval, unsigned burst)
{
    if (!(interval > 0) || burst == 0)
        return -EINVAL;
    pthread_mutex_lock(&rl_lock);
    rl_interval_ns = (int64_t)(interval * 1e9);
    rl_burst = burst;
    memset(rl_causes, 0, sizeof(rl_causes));
    memset(&rl_total, 0, sizeof(rl_total));
    pthread_mutex_unlock(&rl_lock);
    return 0;
}

/* The slot of `cause` (found, free, or the one with the oldest window). */
static struct rl_cause *rl_find(const char *cause)
{
    struct rl_cause *oldest = &rl_causes[0];
    for (size_t i = 0; i < RL_CAUSES; i++) {
        struct rl_cause *c = &rl_causes[i];
        if (c->window_ns && strncmp(c->text, cause, RL_CAUSE_LEN - 1) == 0)
            return c;
        if (c->window_ns < oldest->window_ns)
            oldest = c;
    }
    memset(oldest, 0, sizeof(*oldest));
    snprintf(oldest->text, sizeof(oldest->text), "%s", cause);
    return oldest;
}

bool coil_log_ratelimited(coil_log_level level, const char *system, const char *cause,
                          const char *fmt, ...)
{
    if (level < log_level)
        return false;
    int64_t now = mono_ns();
    unsigned long suppressed = 0;
    pthread_mutex_lock(&rl_lock);
    struct rl_cause *c = rl_find(cause ? cause : "");
    if (c->window_ns == 0 || now - c->window_ns >= rl_interval_ns) {
        c->window_ns = now;
        c->emitted = 0;
    }
    if (rl_total.window_ns == 0 || now - rl_total.window_ns >= rl_interval_ns) {
        rl_total.window_ns = now;
        rl_total.emitted = 0;
    }
    bool pass = c->emitted < rl_burst && rl_total.emitted < rl_burst * RL_TOTAL_FACTOR;
    if (pass) {
        c->emitted++;
        rl_total.emitted++;
        suppressed = c->suppressed;
        c->suppressed = 0;
    } else {
        c->suppressed++;
    }
    pthread_mutex_unlock(&rl_lock);
    if (!pass)
        return false;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log_fn(log_arg, level, system, buf);
    if (suppressed)
        coil_log(level, system, "(%lu similar messages suppressed)", suppressed);
    return true;
}
