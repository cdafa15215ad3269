/* SPDX-License-Identifier: MIT */
/*
 * The endpoint description grammar: Twisted's _tokenize/_parse,
 * quoteStringArgument and unparseEndpoint, plus the helpers every endpoint
 * type uses to bind and convert its arguments. No I/O. See
 * docs/ENDPOINTS.md.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/endpoint_desc.h>
#include <coil/error.h>

/* ---- error messages ---------------------------------------------------- */

static void sanitize(char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            *s = '?';
    }
}

int coil_endpoint_errorf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        sanitize(err);
    }
    return COIL_EBADDESC;
}

static int out_of_memory(char *err, size_t errlen)
{
    coil_endpoint_errorf(err, errlen, "out of memory");
    return -ENOMEM;
}

/* ---- parsing (_tokenize and _parse) -------------------------------------- */

/* The arguments, their arrays and their text live in one allocation. */
typedef struct args_block {
    coil_endpoint_args pub;
    char **args;
    coil_endpoint_kw *kw;
} args_block;

/* An upper bound on the number of segments: one more than the colons. */
static size_t count_segments(const char *desc, size_t len)
{
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += desc[i] == ':';
    return n;
}

/* Allocate room for `nseg` segments and `text` bytes of unescaped text
 * (each input byte gives at most one output byte or NUL, plus the last
 * NUL, so len + 1 is enough). */
static args_block *block_new(size_t nseg, size_t text, char **textp)
{
    size_t arrays = nseg * (sizeof(char *) + sizeof(coil_endpoint_kw));
    if (nseg > SIZE_MAX / 32 || text > SIZE_MAX / 2)
        return NULL;
    args_block *b = malloc(sizeof(*b) + arrays + text);
    if (!b)
        return NULL;
    b->kw = (coil_endpoint_kw *)(b + 1);
    b->args = (char **)(b->kw + nseg);
    *textp = (char *)(b->args + nseg);
    b->pub.args = (const char *const *)b->args;
    b->pub.nargs = 0;
    b->pub.kw = b->kw;
    b->pub.nkw = 0;
    return b;
}

/* The keys seen so far, hashed (open addressing, slots hold a kw index
 * plus one) so that a description with thousands of keywords stays linear. */
typedef struct key_index {
    size_t *slots;
    size_t mask;
} key_index;

static int key_index_init(key_index *ki, size_t nseg)
{
    size_t cap = 8;
    while (cap < 2 * nseg)
        cap *= 2;
    ki->slots = calloc(cap, sizeof(*ki->slots));
    ki->mask = cap - 1;
    return ki->slots ? 0 : -1;
}

/* FNV-1a. */
static size_t hash_key(const char *s)
{
    uint64_t h = 14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)h;
}

/* _parse's add(): a segment is positional, or a keyword that replaces the
 * value of an earlier one with the same key (keeping its place). */
static void add_segment(args_block *b, key_index *ki, const char *key, char *value)
{
    if (!key) {
        b->args[b->pub.nargs++] = value;
        return;
    }
    size_t i = hash_key(key) & ki->mask;
    for (; ki->slots[i]; i = (i + 1) & ki->mask) {
        coil_endpoint_kw *kw = &b->kw[ki->slots[i] - 1];
        if (strcmp(kw->key, key) == 0) {
            kw->value = value;
            return;
        }
    }
    b->kw[b->pub.nkw].key = key;
    b->kw[b->pub.nkw].value = value;
    ki->slots[i] = ++b->pub.nkw;
}

/* _tokenize: ':' always ends a segment; the first '=' of a segment ends
 * its key (after it, only ':' is an operator); '\' takes the next byte
 * literally. Returns -1 on a trailing lone backslash. */
static int tokenize(args_block *b, key_index *ki, const char *desc, size_t len, char *text)
{
    char *w = text, *start = text;
    const char *key = NULL;
    for (size_t i = 0; i < len; i++) {
        char c = desc[i];
        if (c == ':') {
            *w++ = '\0';
            add_segment(b, ki, key, start);
            start = w;
            key = NULL;
        } else if (c == '=' && !key) {
            *w++ = '\0';
            key = start;
            start = w;
        } else if (c == '\\') {
            if (++i == len)
                return -1;
            *w++ = desc[i];
        } else {
            *w++ = c;
        }
    }
    *w = '\0';
    add_segment(b, ki, key, start);
    return 0;
}

/* strnlen() without needing POSIX. */
static size_t bounded_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

int coil_endpoint_parse(const char *desc, coil_endpoint_args **out, char *err, size_t errlen)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!desc)
        return -EINVAL;
    size_t len = bounded_len(desc, (size_t)COIL_ENDPOINT_DESC_MAX + 1);
    if (len > COIL_ENDPOINT_DESC_MAX)
        return coil_endpoint_errorf(err, errlen, "invalid description: longer than %d bytes",
                                    COIL_ENDPOINT_DESC_MAX);
    char *text;
    key_index ki;
    size_t nseg = count_segments(desc, len);
    args_block *b = block_new(nseg, len + 1, &text);
    if (!b || key_index_init(&ki, nseg) < 0) {
        free(b);
        return out_of_memory(err, errlen);
    }
    int rc = tokenize(b, &ki, desc, len, text);
    free(ki.slots);
    if (rc < 0) {
        free(b);
        return coil_endpoint_errorf(err, errlen,
                                    "invalid description: it ends with a lone backslash");
    }
    *out = &b->pub;
    return 0;
}

void coil_endpoint_args_free(coil_endpoint_args *args)
{
    /* pub is the first member: the pointer is the allocation. */
    free(args);
}

const char *coil_endpoint_args_get(const coil_endpoint_args *args, const char *key)
{
    if (!args || !key)
        return NULL;
    for (size_t i = 0; i < args->nkw; i++) {
        if (strcmp(args->kw[i].key, key) == 0)
            return args->kw[i].value;
    }
    return NULL;
}

/* ---- quoting and unparsing ----------------------------------------------- */

/* Copy s escaping '\', ':' and, if `equals`, '='. Writes nothing when w is
 * NULL. Returns the length of the result. */
static size_t escape(const char *s, bool equals, char *w)
{
    size_t n = 0;
    for (; *s; s++) {
        bool special = *s == '\\' || *s == ':' || (equals && *s == '=');
        if (special && w)
            w[n] = '\\';
        n += special;
        if (w)
            w[n] = *s;
        n++;
    }
    return n;
}

int coil_endpoint_quote(const char *s, char *buf, size_t size)
{
    if (!s || (!buf && size))
        return -EINVAL;
    size_t n = escape(s, false, NULL);
    if (n >= size || n > INT_MAX)
        return -ENOSPC;
    escape(s, false, buf);
    buf[n] = '\0';
    return (int)n;
}

static int compare_kw(const void *a, const void *b)
{
    const coil_endpoint_kw *const *x = a, *const *y = b;
    return strcmp((*x)->key, (*y)->key);
}

/* Quote every piece into w (or only measure when w is NULL). */
static size_t unparse_into(const coil_endpoint_args *a, const coil_endpoint_kw **sorted, char *w)
{
    size_t n = 0;
    for (size_t i = 0; i < a->nargs + a->nkw; i++) {
        if (i > 0) {
            if (w)
                w[n] = ':';
            n++;
        }
        if (i < a->nargs) {
            n += escape(a->args[i], true, w ? w + n : NULL);
            continue;
        }
        const coil_endpoint_kw *kw = sorted[i - a->nargs];
        n += escape(kw->key, true, w ? w + n : NULL);
        if (w)
            w[n] = '=';
        n++;
        n += escape(kw->value, false, w ? w + n : NULL);
    }
    return n;
}

char *coil_endpoint_unparse(const coil_endpoint_args *a)
{
    if (!a)
        return NULL;
    const coil_endpoint_kw **sorted = malloc((a->nkw + 1) * sizeof(*sorted));
    if (!sorted)
        return NULL;
    for (size_t i = 0; i < a->nkw; i++)
        sorted[i] = &a->kw[i];
    if (a->nkw > 1)
        qsort(sorted, a->nkw, sizeof(*sorted), compare_kw);
    size_t n = unparse_into(a, sorted, NULL);
    char *s = malloc(n + 1);
    if (s) {
        unparse_into(a, sorted, s);
        s[n] = '\0';
    }
    free(sorted);
    return s;
}

/* ---- binding arguments to parameters ------------------------------------- */

static size_t find_name(const char *const *names, size_t nnames, const char *key)
{
    for (size_t i = 0; i < nnames; i++) {
        if (strcmp(names[i], key) == 0)
            return i;
    }
    return nnames;
}

/* An empty argument is what an unescaped colon inside a value leaves
 * behind ("interface=::1" reads as interface="", "", "1"): then the error
 * names the likely cause as well. */
static const char *colon_hint(const coil_endpoint_args *a)
{
    bool empty = false;
    for (size_t i = 0; i < a->nargs; i++)
        empty |= a->args[i][0] == '\0';
    for (size_t k = 0; k < a->nkw; k++)
        empty |= a->kw[k].value[0] == '\0';
    return empty ? " (a ':' inside a value, as in an IPv6 address, must be escaped as '\\:', "
                   "e.g. interface=\\:\\:1)"
                 : "";
}

int coil_endpoint_bind(const coil_endpoint_args *a, const char *type, const char *const *names,
                       size_t nnames, size_t npositional, const char **values, char *err,
                       size_t errlen)
{
    if (!a || !type || (!names && nnames) || (!values && nnames) || npositional > nnames)
        return -EINVAL;
    if (a->nargs > npositional) {
        if (npositional == 0)
            return coil_endpoint_errorf(err, errlen, "%s: takes no positional arguments%s", type,
                                        colon_hint(a));
        return coil_endpoint_errorf(err, errlen,
                                    "%s: too many positional arguments (at most %zu)%s", type,
                                    npositional, colon_hint(a));
    }
    for (size_t i = 0; i < nnames; i++)
        values[i] = i < a->nargs ? a->args[i] : NULL;
    for (size_t k = 0; k < a->nkw; k++) {
        size_t i = find_name(names, nnames, a->kw[k].key);
        if (i == nnames)
            return coil_endpoint_errorf(err, errlen, "%s: unknown argument '%s'%s", type,
                                        a->kw[k].key, colon_hint(a));
        if (values[i])
            return coil_endpoint_errorf(err, errlen, "%s: argument '%s' given twice%s", type,
                                        names[i], colon_hint(a));
        values[i] = a->kw[k].value;
    }
    return 0;
}

/* ---- integers as Python's int() reads them ------------------------------- */

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return 99;
}

static const char *skip_space(const char *s)
{
    while (*s && strchr(" \t\n\v\f\r", *s))
        s++;
    return s;
}

/* Skip a "0o" (base 8) or "0x" (base 16) prefix and the one underscore
 * Python allows right after it. */
static const char *skip_prefix(const char *s, int base)
{
    char p = base == 8 ? 'o' : base == 16 ? 'x' : 0;
    if (p && s[0] == '0' && (s[1] == p || s[1] == p - 32)) {
        s += 2;
        if (*s == '_')
            s++;
    }
    return s;
}

/* Digits with single underscores between them. Sets *overflow when the
 * magnitude does not fit. Returns the first byte after them, or NULL. */
static const char *read_digits(const char *s, int base, unsigned long long *mag, bool *overflow)
{
    const char *start = s;
    *mag = 0;
    *overflow = false;
    for (;; s++) {
        if (*s == '_' && s > start && s[-1] != '_')
            continue;
        int d = digit_value(*s);
        if (d >= base)
            break;
        if (*mag > (ULLONG_MAX - (unsigned)d) / (unsigned)base)
            *overflow = true;
        else
            *mag = *mag * (unsigned)base + (unsigned)d;
    }
    if (s == start || s[-1] == '_')
        return NULL;
    return s;
}

int coil_endpoint_int(const char *s, int base, long long min, long long max, long long *out)
{
    if (!s || !out || (base != 8 && base != 10 && base != 16))
        return -EINVAL;
    s = skip_space(s);
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    unsigned long long mag;
    bool overflow;
    s = read_digits(skip_prefix(s, base), base, &mag, &overflow);
    if (!s || *skip_space(s))
        return -EINVAL;
    if (overflow || mag > (unsigned long long)LLONG_MAX + neg)
        return -ERANGE;
    long long v = !neg || mag == 0 ? (long long)mag : -(long long)(mag - 1) - 1;
    if (v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}
