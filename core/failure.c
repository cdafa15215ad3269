/* SPDX-License-Identifier: MIT */
/* Reference-counted, immutable failures with a cause chain. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/error.h>
#include <coil/failure.h>

/* Reference count of the static out-of-memory failure: never changes. */
#define IMMORTAL UINT_MAX

struct coil_failure {
    unsigned refs;
    int code;
    int line;
    const char *file; /* static strings from __FILE__ / __func__ */
    const char *func;
    /* The user's call that led here (coil_failure_set_call_site), or 0. */
    int site_line;
    const char *site_file;
    const char *site_func;
    coil_failure *cause;
    void *data;
    coil_destroy_fn data_destroy;
    const char *domain; /* both point into text[] (or static strings) */
    const char *message;
    char text[]; /* "domain\0message\0" */
};

static coil_failure oom_failure = {
    .refs = IMMORTAL,
    .code = -ENOMEM,
    .file = "?",
    .func = "?",
    .domain = "coil",
    .message = "Out of memory",
};

static const char *base_name(const char *path)
{
    if (!path)
        return "?";
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

coil_failure *coil_failure_wrapv_at(const char *file, int line, const char *func,
                                    coil_failure *cause, const char *domain, int code,
                                    const char *fmt, va_list ap)
{
    if (!domain)
        domain = "";
    /* Constant messages (the common case, e.g. CancelledError) skip the
     * two vsnprintf passes. */
    bool literal = strchr(fmt, '%') == NULL;
    int mlen;
    if (literal) {
        mlen = (int)strlen(fmt);
    } else {
        va_list ap2;
        va_copy(ap2, ap);
        mlen = vsnprintf(NULL, 0, fmt, ap2);
        va_end(ap2);
        if (mlen < 0)
            mlen = 0;
    }
    size_t dlen = strlen(domain);
    coil_failure *f = malloc(sizeof(*f) + dlen + 1 + (size_t)mlen + 1);
    if (!f) {
        coil_failure_unref(cause);
        return &oom_failure;
    }
    *f = (coil_failure){
        .refs = 1,
        .code = code,
        .line = line,
        .file = base_name(file),
        .func = func ? func : "?",
        .cause = cause,
    };
    memcpy(f->text, domain, dlen + 1);
    char *msg = f->text + dlen + 1;
    if (literal)
        memcpy(msg, fmt, (size_t)mlen + 1);
    else
        vsnprintf(msg, (size_t)mlen + 1, fmt, ap);
    f->domain = f->text;
    f->message = msg;
    return f;
}

coil_failure *coil_failure_wrap_at(const char *file, int line, const char *func,
                                   coil_failure *cause, const char *domain, int code,
                                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    coil_failure *f = coil_failure_wrapv_at(file, line, func, cause, domain, code, fmt, ap);
    va_end(ap);
    return f;
}

coil_failure *coil_failure_new_at(const char *file, int line, const char *func, const char *domain,
                                  int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    coil_failure *f = coil_failure_wrapv_at(file, line, func, NULL, domain, code, fmt, ap);
    va_end(ap);
    return f;
}

coil_failure *coil_failure_ref(coil_failure *f)
{
    if (f && f->refs != IMMORTAL)
        f->refs++;
    return f;
}

/* Iterative so that a long cause chain cannot exhaust the stack. */
void coil_failure_unref(coil_failure *f)
{
    while (f && f->refs != IMMORTAL && --f->refs == 0) {
        coil_failure *cause = f->cause;
        if (f->data_destroy)
            f->data_destroy(f->data);
        free(f);
        f = cause;
    }
}

const char *coil_failure_domain(const coil_failure *f)
{
    return f->domain;
}

int coil_failure_code(const coil_failure *f)
{
    return f->code;
}

const char *coil_failure_message(const coil_failure *f)
{
    return f->message;
}

coil_failure *coil_failure_cause(const coil_failure *f)
{
    return f->cause;
}

const char *coil_failure_file(const coil_failure *f)
{
    return f->file;
}

int coil_failure_line(const coil_failure *f)
{
    return f->line;
}

void coil_failure_set_call_site(coil_failure *f, const char *file, int line, const char *func)
{
    /* The first call site recorded is the one nearest the failure; the
     * static out-of-memory failure is shared and records nothing. */
    if (!f || f->refs == IMMORTAL || f->site_line > 0 || line <= 0)
        return;
    f->site_file = base_name(file);
    f->site_line = line;
    f->site_func = func ? func : "?";
}

bool coil_failure_call_site(const coil_failure *f, const char **file, int *line,
                            const char **func)
{
    if (!f || f->site_line <= 0)
        return false;
    if (file)
        *file = f->site_file;
    if (line)
        *line = f->site_line;
    if (func)
        *func = f->site_func;
    return true;
}

bool coil_failure_check(const coil_failure *f, const char *domain, int code)
{
    return f && f->code == code && strcmp(f->domain, domain ? domain : "") == 0;
}

bool coil_failure_check_chain(const coil_failure *f, const char *domain, int code)
{
    for (; f; f = f->cause) {
        if (coil_failure_check(f, domain, code))
            return true;
    }
    return false;
}

void coil_failure_set_data(coil_failure *f, void *data, coil_destroy_fn destroy)
{
    if (f->refs == IMMORTAL) {
        if (destroy)
            destroy(data);
        return;
    }
    if (f->data_destroy)
        f->data_destroy(f->data);
    f->data = data;
    f->data_destroy = destroy;
}

void *coil_failure_data(const coil_failure *f)
{
    return f->refs == IMMORTAL ? NULL : f->data;
}

/* Appends to a snprintf-style buffer while counting the full length. */
struct sink {
    char *buf;
    size_t size;
    size_t len;
};

static void sink_printf(struct sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sink_printf(struct sink *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *dst = s->len < s->size ? s->buf + s->len : NULL;
    size_t room = s->len < s->size ? s->size - s->len : 0;
    int n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        s->len += (size_t)n;
}

/* "ECONNREFUSED (-111)" for known negative codes, else "(code)". */
static void print_code(struct sink *s, int code)
{
    const char *name = code < 0 ? coil_err_name(code) : NULL;
    if (name && strcmp(name, "UNKNOWN") != 0)
        sink_printf(s, "%s (%d)", name, code);
    else
        sink_printf(s, "(%d)", code);
}

size_t coil_failure_snprint(const coil_failure *f, char *buf, size_t size)
{
    struct sink s = {.buf = buf, .size = size};
    if (size)
        buf[0] = '\0';
    for (const coil_failure *cur = f; cur; cur = cur->cause) {
        if (cur != f)
            sink_printf(&s, "\ncaused by: ");
        sink_printf(&s, "%s ", cur->domain);
        print_code(&s, cur->code);
        sink_printf(&s, ": %s", cur->message);
        if (cur->site_line > 0)
            sink_printf(&s, "\n    called from %s:%d in %s", cur->site_file, cur->site_line,
                        cur->site_func);
        if (cur->line > 0)
            sink_printf(&s, "\n    at %s:%d in %s", cur->file, cur->line, cur->func);
    }
    return s.len;
}

char *coil_failure_format(const coil_failure *f)
{
    size_t n = coil_failure_snprint(f, NULL, 0);
    char *out = malloc(n + 1);
    if (out)
        coil_failure_snprint(f, out, n + 1);
    return out;
}
