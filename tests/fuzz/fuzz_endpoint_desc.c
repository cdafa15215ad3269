/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for endpoint description strings: the generic grammar
 * (with a parse -> unparse -> parse round trip and a quoting round trip),
 * then typed server and client parsing, including two registered types (a
 * leaf type and a wrapper that recurses). Any crash, leak, sanitizer report
 * or broken invariant (abort) is a bug.
 *
 *   clang -g -fsanitize=fuzzer,address,undefined -Icore/include \
 *       endpoints/desc.c endpoints/desc_types.c tests/fuzz/fuzz_endpoint_desc.c -o fz
 *   ./fz -runs=200000 tests/fuzz/corpus/endpoint_desc
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/endpoint_desc.h>
#include <coil/error.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- registered types ---------------------------------------------------- */

/* "fz:<name>:n=<0..99>": a leaf type using the shared helpers. */
static int fz_parse(void *arg, const coil_endpoint_args *args, void **data, char *err,
                    size_t errlen)
{
    static const char *const names[] = {"name", "n"};
    const char *v[2];
    long long n = 0;
    (void)arg;
    int rc = coil_endpoint_bind(args, "fz", names, 2, 2, v, err, errlen);
    if (rc < 0)
        return rc;
    if (v[1] && coil_endpoint_int(v[1], 10, 0, 99, &n) < 0)
        return coil_endpoint_errorf(err, errlen, "fz: invalid n '%s'", v[1]);
    size_t len = v[0] ? strlen(v[0]) : 0;
    char *copy = malloc(len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, v[0] ? v[0] : "", len + 1);
    *data = copy;
    return 0;
}

/* "fzwrap:<server description>": recursion through a registered type. */
static int fzwrap_parse(void *arg, const coil_endpoint_args *args, void **data, char *err,
                        size_t errlen)
{
    coil_server_desc *inner;
    (void)arg;
    int rc = coil_server_desc_from_args(args, &inner, err, errlen);
    if (rc == 0)
        *data = inner;
    return rc;
}

static void fz_free(void *arg, void *data)
{
    (void)arg;
    free(data);
}

static void fzwrap_free(void *arg, void *data)
{
    (void)arg;
    coil_server_desc_free(data);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    static const coil_endpoint_type fz = {
        .prefix = "fz", .parse_server = fz_parse, .parse_client = fz_parse, .free_data = fz_free};
    static const coil_endpoint_type fzwrap = {
        .prefix = "fzwrap", .parse_server = fzwrap_parse, .free_data = fzwrap_free};
    CHECK(coil_endpoint_register(&fz) == 0);
    CHECK(coil_endpoint_register(&fzwrap) == 0);
    return 0;
}

/* ---- invariants ---------------------------------------------------------- */

static void check_error(int rc, const char *err)
{
    CHECK(rc == COIL_EBADDESC || rc == -ENOMEM);
    CHECK(err[0] != '\0');
    for (const char *p = err; *p; p++)
        CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

static bool same_args(const coil_endpoint_args *a, const coil_endpoint_args *b)
{
    if (a->nargs != b->nargs || a->nkw != b->nkw)
        return false;
    for (size_t i = 0; i < a->nargs; i++) {
        if (strcmp(a->args[i], b->args[i]) != 0)
            return false;
    }
    for (size_t i = 0; i < a->nkw; i++) {
        const char *v = coil_endpoint_args_get(b, a->kw[i].key);
        if (!v || strcmp(v, a->kw[i].value) != 0)
            return false;
    }
    return true;
}

/* parse(unparse(parse(s))) gives the same arguments back. */
static void check_grammar(const char *s)
{
    char err[256] = "";
    coil_endpoint_args *a, *b;
    int rc = coil_endpoint_parse(s, &a, err, sizeof(err));
    if (rc < 0) {
        check_error(rc, err);
        CHECK(a == NULL);
        return;
    }
    CHECK(a->nargs + a->nkw >= 1);
    char *u = coil_endpoint_unparse(a);
    CHECK(u != NULL);
    if (strlen(u) <= COIL_ENDPOINT_DESC_MAX) {
        CHECK(coil_endpoint_parse(u, &b, err, sizeof(err)) == 0);
        CHECK(same_args(a, b));
        coil_endpoint_args_free(b);
    }
    free(u);
    coil_endpoint_args_free(a);
}

/* "k=" + quote(s) parses back to the keyword k with the value s. */
static void check_quote(const char *s)
{
    size_t len = strlen(s);
    if (len > COIL_ENDPOINT_DESC_MAX / 2 - 2)
        return;
    char *q = malloc(2 * len + 3);
    CHECK(q != NULL);
    memcpy(q, "k=", 2);
    int n = coil_endpoint_quote(s, q + 2, 2 * len + 1);
    CHECK(n >= (int)len);
    if (len > 0)
        CHECK(coil_endpoint_quote(s, q + 2, (size_t)n) == -ENOSPC);
    CHECK(coil_endpoint_quote(s, q + 2, (size_t)n + 1) == n);
    coil_endpoint_args *a;
    CHECK(coil_endpoint_parse(q, &a, NULL, 0) == 0);
    CHECK(a->nargs == 0 && a->nkw == 1);
    CHECK(strcmp(a->kw[0].value, s) == 0);
    coil_endpoint_args_free(a);
    free(q);
}

static void check_server(const char *s)
{
    char err[256] = "";
    coil_server_desc *d;
    int rc = coil_server_desc_parse(s, &d, err, sizeof(err));
    if (rc < 0) {
        check_error(rc, err);
        CHECK(d == NULL);
        return;
    }
    CHECK(d->type[0] != '\0');
    if (d->kind == COIL_SERVER_HAPROXY) {
        /* The re-serialised inner description means the same thing. */
        coil_server_desc *again;
        CHECK(coil_server_desc_parse(d->u.haproxy.description, &again, err, sizeof(err)) == 0);
        CHECK(again->kind == d->u.haproxy.inner->kind);
        coil_server_desc_free(again);
    }
    coil_server_desc_free(d);
}

static void check_client(const char *s)
{
    char err[256] = "";
    coil_client_desc *d;
    int rc = coil_client_desc_parse(s, &d, err, sizeof(err));
    if (rc < 0) {
        check_error(rc, err);
        CHECK(d == NULL);
        return;
    }
    CHECK(d->type[0] != '\0');
    CHECK(d->kind != COIL_CLIENT_TLS || (d->u.tls.endpoint == NULL) == (d->u.tls.inner == NULL));
    coil_client_desc_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0'; /* a NUL inside ends the description, as for any C string */
    check_grammar(s);
    check_quote(s);
    check_server(s);
    check_client(s);
    /* No error buffer at all, and a tiny one. */
    coil_server_desc *d;
    char tiny[3];
    if (coil_server_desc_parse(s, &d, NULL, 0) == 0)
        coil_server_desc_free(d);
    if (coil_server_desc_parse(s, &d, tiny, sizeof(tiny)) == 0)
        coil_server_desc_free(d);
    free(s);
    return 0;
}
