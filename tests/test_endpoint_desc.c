/* SPDX-License-Identifier: MIT */
/*
 * Endpoint description strings: the grammar (Twisted's _parse vectors from
 * the shared reference, section 1.2), quoting, every built-in type's
 * positional order, defaults and errors, case rules, the bare port, haproxy
 * nesting, and registered types. Pure parsing: no reactor, no sockets.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <coil/endpoint.h>
#include <coil/endpoint_desc.h>
#include <coil/error.h>

/* Test functions without the unused `state` parameter. */
#define TEST(name)                                                                                 \
    static void name##_body(void);                                                                 \
    static void name(void **state)                                                                 \
    {                                                                                              \
        (void)state;                                                                               \
        name##_body();                                                                             \
    }                                                                                              \
    static void name##_body(void)

#define STRS(...) ((const char *[]){__VA_ARGS__, NULL})
#define NONE ((const char *[]){NULL})

/* ---- helpers ------------------------------------------------------------- */

/* Parse `desc` and compare with the expected positional arguments and
 * key/value pairs (flattened, in order of first appearance). */
static void check_parse(const char *desc, const char *const *args, const char *const *kv)
{
    char err[256] = "";
    coil_endpoint_args *a = NULL;
    int rc = coil_endpoint_parse(desc, &a, err, sizeof(err));
    if (rc != 0)
        fail_msg("parse('%s') failed: %d %s", desc, rc, err);
    size_t n = 0;
    for (; args[n]; n++) {
        assert_true(n < a->nargs);
        assert_string_equal(a->args[n], args[n]);
    }
    assert_int_equal(a->nargs, n);
    size_t k = 0;
    for (; kv[2 * k]; k++) {
        assert_true(k < a->nkw);
        assert_string_equal(a->kw[k].key, kv[2 * k]);
        assert_string_equal(a->kw[k].value, kv[2 * k + 1]);
    }
    assert_int_equal(a->nkw, k);
    coil_endpoint_args_free(a);
}

static coil_server_desc *server_ok(const char *desc)
{
    char err[256] = "";
    coil_server_desc *d = NULL;
    int rc = coil_server_desc_parse(desc, &d, err, sizeof(err));
    if (rc != 0)
        fail_msg("server '%s' failed: %d %s", desc, rc, err);
    assert_non_null(d);
    return d;
}

static void server_fails(const char *desc, const char *message)
{
    char err[256] = "";
    coil_server_desc *d = (coil_server_desc *)&err;
    int rc = coil_server_desc_parse(desc, &d, err, sizeof(err));
    if (rc != COIL_EBADDESC)
        fail_msg("server '%s' gave %d, expected COIL_EBADDESC", desc, rc);
    assert_null(d);
    assert_string_equal(err, message);
}

static coil_client_desc *client_ok(const char *desc)
{
    char err[256] = "";
    coil_client_desc *d = NULL;
    int rc = coil_client_desc_parse(desc, &d, err, sizeof(err));
    if (rc != 0)
        fail_msg("client '%s' failed: %d %s", desc, rc, err);
    assert_non_null(d);
    return d;
}

static void client_fails(const char *desc, const char *message)
{
    char err[256] = "";
    coil_client_desc *d = (coil_client_desc *)&err;
    int rc = coil_client_desc_parse(desc, &d, err, sizeof(err));
    if (rc != COIL_EBADDESC)
        fail_msg("client '%s' gave %d, expected COIL_EBADDESC", desc, rc);
    assert_null(d);
    assert_string_equal(err, message);
}

static void check_tcp(const char *desc, coil_server_kind kind, uint16_t port, const char *iface,
                      int backlog)
{
    coil_server_desc *d = server_ok(desc);
    assert_int_equal(d->kind, kind);
    assert_string_equal(d->type, kind == COIL_SERVER_TCP ? "tcp" : "tcp6");
    assert_int_equal(d->u.tcp.port, port);
    assert_string_equal(d->u.tcp.interface, iface);
    assert_int_equal(d->u.tcp.backlog, backlog);
    coil_server_desc_free(d);
}

/* ---- 1. grammar: the reference's _parse vectors (section 1.2) ------------ */

TEST(parse_positional_and_keyword)
{
    check_parse("a:b:d=1:c", STRS("a", "b", "c"), STRS("d", "1"));
}

TEST(parse_tcp_port)
{
    check_parse("tcp:80", STRS("tcp", "80"), NONE);
}

TEST(parse_escaped_equals_in_key)
{
    check_parse("hello:greet\\=ing=world", STRS("hello"), STRS("greet=ing", "world"));
}

TEST(parse_escaped_colons_in_value)
{
    check_parse("tcp:80:interface=\\:\\:1", STRS("tcp", "80"), STRS("interface", "::1"));
}

TEST(parse_empty_middle_segment)
{
    check_parse("a::b", STRS("a", "", "b"), NONE);
}

TEST(parse_trailing_colon)
{
    check_parse("a:", STRS("a", ""), NONE);
}

TEST(parse_empty_description)
{
    check_parse("", STRS(""), NONE);
}

TEST(parse_equals_after_equals_is_literal)
{
    check_parse("k=v=w", NONE, STRS("k", "v=w"));
    check_parse("unix:address=foo=bar", STRS("unix"), STRS("address", "foo=bar"));
}

TEST(parse_empty_value)
{
    check_parse("a:b=:c", STRS("a", "c"), STRS("b", ""));
}

TEST(parse_duplicate_key_last_wins)
{
    check_parse("tcp:80:a=1:a=2", STRS("tcp", "80"), STRS("a", "2"));
    /* The key keeps the place of its first appearance (a Python dict). */
    check_parse("a=1:b=2:a=3", NONE, STRS("a", "3", "b", "2"));
}

TEST(parse_empty_key)
{
    check_parse("=v", NONE, STRS("", "v"));
}

TEST(parse_escapes_in_positional)
{
    check_parse("unix:foo\\:bar\\=baz\\:qux\\\\", STRS("unix", "foo:bar=baz:qux\\"), NONE);
}

TEST(parse_keyword_then_positional)
{
    check_parse("tcp:80:interface=a:b", STRS("tcp", "80", "b"), STRS("interface", "a"));
}

/* ---- grammar: further cases, checked against Twisted 22.4 ---------------- */

TEST(parse_operators_only)
{
    check_parse(":", STRS("", ""), NONE);
    check_parse("=", NONE, STRS("", ""));
    check_parse("==", NONE, STRS("", "="));
    check_parse(":=:", STRS("", ""), STRS("", ""));
}

TEST(parse_backslash_escapes_any_char)
{
    check_parse("a\\b", STRS("ab"), NONE);
    check_parse("x\\\\y", STRS("x\\y"), NONE);
    check_parse("a=b\\=c", NONE, STRS("a", "b=c"));
    check_parse("a=\\:", NONE, STRS("a", ":"));
}

TEST(parse_trailing_backslash_is_an_error)
{
    char err[128] = "";
    coil_endpoint_args *a = (coil_endpoint_args *)err;
    assert_int_equal(coil_endpoint_parse("tcp:80\\", &a, err, sizeof(err)), COIL_EBADDESC);
    assert_null(a);
    assert_string_equal(err, "invalid description: it ends with a lone backslash");
    /* An escaped backslash at the end is fine. */
    check_parse("a\\\\", STRS("a\\"), NONE);
    server_fails("tcp:80:interface=\\", "invalid description: it ends with a lone backslash");
}

TEST(parse_no_whitespace_trimming)
{
    check_parse(" tcp : 80 ", STRS(" tcp ", " 80 "), NONE);
}

TEST(parse_args_get)
{
    coil_endpoint_args *a;
    assert_int_equal(coil_endpoint_parse("x:a=1:b=2:a=3", &a, NULL, 0), 0);
    assert_string_equal(coil_endpoint_args_get(a, "a"), "3");
    assert_string_equal(coil_endpoint_args_get(a, "b"), "2");
    assert_null(coil_endpoint_args_get(a, "c"));
    assert_null(coil_endpoint_args_get(a, "x"));
    coil_endpoint_args_free(a);
    coil_endpoint_args_free(NULL);
}

TEST(parse_invalid_arguments)
{
    coil_endpoint_args *a = (coil_endpoint_args *)&a;
    assert_int_equal(coil_endpoint_parse(NULL, &a, NULL, 0), -EINVAL);
    assert_null(a);
    assert_int_equal(coil_endpoint_parse("tcp:80", NULL, NULL, 0), -EINVAL);
    coil_server_desc *s;
    assert_int_equal(coil_server_desc_parse(NULL, &s, NULL, 0), -EINVAL);
    assert_int_equal(coil_server_desc_from_args(NULL, &s, NULL, 0), -EINVAL);
    coil_client_desc *c;
    assert_int_equal(coil_client_desc_parse(NULL, &c, NULL, 0), -EINVAL);
}

TEST(parse_too_long)
{
    size_t n = COIL_ENDPOINT_DESC_MAX + 1;
    char *s = malloc(n + 1);
    memset(s, 'a', n);
    s[n] = '\0';
    char err[128];
    coil_endpoint_args *a;
    assert_int_equal(coil_endpoint_parse(s, &a, err, sizeof(err)), COIL_EBADDESC);
    assert_string_equal(err, "invalid description: longer than 65536 bytes");
    s[n - 1] = '\0'; /* exactly the maximum is accepted */
    assert_int_equal(coil_endpoint_parse(s, &a, err, sizeof(err)), 0);
    assert_int_equal(strlen(a->args[0]), COIL_ENDPOINT_DESC_MAX);
    coil_endpoint_args_free(a);
    free(s);
}

TEST(error_buffer_is_optional_and_truncated)
{
    coil_server_desc *d;
    assert_int_equal(coil_server_desc_parse("tcp:abc", &d, NULL, 0), COIL_EBADDESC);
    char err[8];
    assert_int_equal(coil_server_desc_parse("tcp:abc", &d, err, sizeof(err)), COIL_EBADDESC);
    assert_string_equal(err, "tcp: in");
}

TEST(error_messages_have_no_control_characters)
{
    server_fails("tcp:8\n0", "tcp: invalid port '8?0' (must be an integer 0-65535)");
    server_fails("tcp:80:\x1b[31m=1", "tcp: unknown argument '?[31m'");
}

/* ---- quoting and unparsing ----------------------------------------------- */

TEST(quote_twisted_vector)
{
    char buf[64];
    assert_int_equal(coil_endpoint_quote("some : stuff \\", buf, sizeof(buf)), 16);
    assert_string_equal(buf, "some \\: stuff \\\\");
    assert_int_equal(coil_endpoint_quote("a=b", buf, sizeof(buf)), 3);
    assert_string_equal(buf, "a=b");
    assert_int_equal(coil_endpoint_quote("", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
}

TEST(quote_buffer_size)
{
    char buf[5];
    assert_int_equal(coil_endpoint_quote("a:b", buf, 4), -ENOSPC);
    assert_int_equal(coil_endpoint_quote("a:b", buf, 5), 4);
    assert_string_equal(buf, "a\\:b");
    assert_int_equal(coil_endpoint_quote("x", NULL, 0), -ENOSPC);
    assert_int_equal(coil_endpoint_quote(NULL, buf, 5), -EINVAL);
}

TEST(quote_round_trips_as_a_value)
{
    const char *paths[] = {"C:/key.pem", "a\\b:c", "x=y:z", "::1", "\\", ""};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char q[64], desc[128];
        assert_true(coil_endpoint_quote(paths[i], q, sizeof(q)) >= 0);
        snprintf(desc, sizeof(desc), "ssl:443:privateKey=%s", q);
        coil_server_desc *d = server_ok(desc);
        assert_string_equal(d->u.ssl.private_key, paths[i]);
        coil_server_desc_free(d);
    }
}

TEST(unparse_sorts_keywords_and_round_trips)
{
    coil_endpoint_args *a, *b;
    const char *desc = "unix:foo\\=bar:z=1:mode=6\\:0=0:a\\=b=c";
    assert_int_equal(coil_endpoint_parse(desc, &a, NULL, 0), 0);
    char *s = coil_endpoint_unparse(a);
    /* Unlike Twisted's unparseEndpoint, '=' is escaped in positionals and keys. */
    assert_string_equal(s, "unix:foo\\=bar:a\\=b=c:mode=6\\:0=0:z=1");
    assert_int_equal(coil_endpoint_parse(s, &b, NULL, 0), 0);
    assert_int_equal(b->nargs, 2);
    assert_string_equal(b->args[1], "foo=bar");
    assert_int_equal(b->nkw, 3);
    assert_string_equal(coil_endpoint_args_get(b, "a=b"), "c");
    assert_string_equal(coil_endpoint_args_get(b, "mode"), "6:0=0");
    free(s);
    coil_endpoint_args_free(a);
    coil_endpoint_args_free(b);
}

TEST(unparse_empty)
{
    coil_endpoint_args none = {0};
    char *s = coil_endpoint_unparse(&none);
    assert_string_equal(s, "");
    free(s);
    assert_null(coil_endpoint_unparse(NULL));
}

/* ---- helpers for types: int() and bind ---------------------------------- */

TEST(int_accepts_python_syntax)
{
    long long v;
    assert_int_equal(coil_endpoint_int(" 8_0 ", 10, 0, 100, &v), 0);
    assert_int_equal(v, 80);
    assert_int_equal(coil_endpoint_int("+80", 10, 0, 100, &v), 0);
    assert_int_equal(v, 80);
    assert_int_equal(coil_endpoint_int("-0", 10, 0, 100, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(coil_endpoint_int("007", 10, 0, 100, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(coil_endpoint_int("0o_17", 8, 0, 100, &v), 0);
    assert_int_equal(v, 15);
    assert_int_equal(coil_endpoint_int("0O17", 8, 0, 100, &v), 0);
    assert_int_equal(v, 15);
    assert_int_equal(coil_endpoint_int("-0o7", 8, -100, 100, &v), 0);
    assert_int_equal(v, -7);
    assert_int_equal(coil_endpoint_int("0x_1f", 16, 0, 100, &v), 0);
    assert_int_equal(v, 31);
    assert_int_equal(coil_endpoint_int("-9223372036854775808", 10, INT64_MIN, 0, &v), 0);
    assert_true(v == INT64_MIN);
}

TEST(int_rejects_what_python_rejects)
{
    const char *bad[] = {"8__0", "_80", "80_", "0x50", "",   " ",   "1.5", "- 5",
                         "+_5",  "0b1", "1e3", "٣",    "0o", "5 5", "+",   "--1"};
    long long v;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (coil_endpoint_int(bad[i], 10, INT64_MIN, INT64_MAX, &v) != -EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
    }
    assert_int_equal(coil_endpoint_int("8", 8, 0, 100, &v), -EINVAL);
    assert_int_equal(coil_endpoint_int("1", 7, 0, 100, &v), -EINVAL);
}

TEST(int_range_and_overflow)
{
    long long v = 42;
    assert_int_equal(coil_endpoint_int("101", 10, 0, 100, &v), -ERANGE);
    assert_int_equal(coil_endpoint_int("-1", 10, 0, 100, &v), -ERANGE);
    assert_int_equal(coil_endpoint_int("99999999999999999999", 10, 0, 100, &v), -ERANGE);
    assert_int_equal(coil_endpoint_int("9223372036854775808", 10, INT64_MIN, INT64_MAX, &v),
                     -ERANGE);
    assert_int_equal(v, 42); /* untouched on error */
}

TEST(bind_maps_like_a_python_call)
{
    static const char *const names[] = {"port", "interface", "backlog"};
    const char *v[3];
    char err[128];
    coil_endpoint_args *a;
    assert_int_equal(coil_endpoint_parse("80:backlog=5", &a, NULL, 0), 0);
    assert_int_equal(coil_endpoint_bind(a, "t", names, 3, 3, v, err, sizeof(err)), 0);
    assert_string_equal(v[0], "80");
    assert_null(v[1]);
    assert_string_equal(v[2], "5");
    assert_int_equal(coil_endpoint_bind(a, "t", names, 3, 0, v, err, sizeof(err)), COIL_EBADDESC);
    assert_string_equal(err, "t: takes no positional arguments");
    coil_endpoint_args_free(a);
    assert_int_equal(coil_endpoint_bind(NULL, "t", names, 3, 3, v, err, sizeof(err)), -EINVAL);
}

/* ---- server tcp ---------------------------------------------------------- */

TEST(server_tcp_defaults)
{
    check_tcp("tcp:80", COIL_SERVER_TCP, 80, "", 50);
}

TEST(server_tcp_positional_order)
{
    check_tcp("tcp:80:127.0.0.1:10", COIL_SERVER_TCP, 80, "127.0.0.1", 10);
}

TEST(server_tcp_keywords)
{
    check_tcp("tcp:port=8080:backlog=7:interface=10.0.0.1", COIL_SERVER_TCP, 8080, "10.0.0.1", 7);
    check_tcp("tcp:backlog=7:port=1", COIL_SERVER_TCP, 1, "", 7);
}

TEST(server_tcp_escaped_ipv6_interface)
{
    check_tcp("tcp:80:interface=\\:\\:1", COIL_SERVER_TCP, 80, "::1", 50);
}

TEST(server_tcp_port_range)
{
    check_tcp("tcp:0", COIL_SERVER_TCP, 0, "", 50);
    check_tcp("tcp:65535", COIL_SERVER_TCP, 65535, "", 50);
    server_fails("tcp:65536", "tcp: invalid port '65536' (must be an integer 0-65535)");
    server_fails("tcp:-1", "tcp: invalid port '-1' (must be an integer 0-65535)");
}

TEST(server_tcp_invalid_port)
{
    server_fails("tcp:abc", "tcp: invalid port 'abc' (must be an integer 0-65535)");
    server_fails("tcp:80.5", "tcp: invalid port '80.5' (must be an integer 0-65535)");
    server_fails("tcp:", "tcp: invalid port '' (must be an integer 0-65535)");
}

TEST(server_tcp_missing_port)
{
    server_fails("tcp", "tcp: missing port");
    server_fails("tcp:interface=127.0.0.1", "tcp: missing port");
}

TEST(server_tcp_unknown_argument)
{
    server_fails("tcp:80:bogus=1", "tcp: unknown argument 'bogus'");
    server_fails("tcp:80:=1", "tcp: unknown argument ''");
}

TEST(server_tcp_argument_given_twice)
{
    server_fails("tcp:80:port=81", "tcp: argument 'port' given twice");
    /* Twisted's `tcp:80:interface=a:b`: b is the interface positionally. */
    server_fails("tcp:80:interface=a:b", "tcp: argument 'interface' given twice");
    /* The same keyword twice is not an error: the last one wins. */
    check_tcp("tcp:port=1:port=2", COIL_SERVER_TCP, 2, "", 50);
}

TEST(server_tcp_too_many_positional)
{
    server_fails("tcp:80:127.0.0.1:5:x", "tcp: too many positional arguments (at most 3)");
}

TEST(server_tcp_invalid_backlog)
{
    server_fails("tcp:80:backlog=0", "tcp: invalid backlog '0' (must be a positive integer)");
    server_fails("tcp:80:backlog=-5", "tcp: invalid backlog '-5' (must be a positive integer)");
    server_fails("tcp:80:backlog=x", "tcp: invalid backlog 'x' (must be a positive integer)");
}

TEST(server_tcp_integers_as_python_reads_them)
{
    check_tcp("tcp: 80 ", COIL_SERVER_TCP, 80, "", 50);
    check_tcp("tcp:8_0:backlog=+1_0", COIL_SERVER_TCP, 80, "", 10);
}

/* ---- server tcp6 --------------------------------------------------------- */

TEST(server_tcp6_defaults)
{
    check_tcp("tcp6:80", COIL_SERVER_TCP6, 80, "::", 50);
}

TEST(server_tcp6_positional_order_is_port_backlog_interface)
{
    check_tcp("tcp6:80:5:\\:\\:1", COIL_SERVER_TCP6, 80, "::1", 5);
    server_fails("tcp6:80:\\:\\:1", "tcp6: invalid backlog '::1' (must be a positive integer)");
}

TEST(server_tcp6_keywords)
{
    check_tcp("tcp6:port=443:interface=fe80\\:\\:1%lo", COIL_SERVER_TCP6, 443, "fe80::1%lo", 50);
    check_tcp("tcp6:443:interface=\\:\\:", COIL_SERVER_TCP6, 443, "::", 50);
}

TEST(server_tcp6_unescaped_colons_are_separators)
{
#define COLON_HINT                                                                                 \
    " (a ':' inside a value, as in an IPv6 address, must be escaped as '\\:', e.g. "                \
    "interface=\\:\\:1)"
    server_fails("tcp6:80:5:::1", "tcp6: too many positional arguments (at most 3)" COLON_HINT);
    /* "interface=" gets "", then "" and "1" fill backlog and interface; the
     * message says what went wrong. */
    server_fails("tcp6:80:interface=::1", "tcp6: argument 'interface' given twice" COLON_HINT);
    server_fails("tcp:1234:interface=::1", "tcp: argument 'interface' given twice" COLON_HINT);
    /* No empty argument, no hint. */
    server_fails("tcp:80:interface=a:b", "tcp: argument 'interface' given twice");
}

/* ---- server unix --------------------------------------------------------- */

TEST(server_unix_defaults)
{
    coil_server_desc *d = server_ok("unix:/run/coil/e.sock");
    assert_int_equal(d->kind, COIL_SERVER_UNIX);
    assert_string_equal(d->type, "unix");
    assert_string_equal(d->u.un.address, "/run/coil/e.sock");
    assert_int_equal(d->u.un.mode, 0666);
    assert_int_equal(d->u.un.backlog, 50);
    assert_true(d->u.un.lockfile);
    coil_server_desc_free(d);
}

TEST(server_unix_positional_order)
{
    coil_server_desc *d = server_ok("unix:/x:600:7:0");
    assert_string_equal(d->u.un.address, "/x");
    assert_int_equal(d->u.un.mode, 0600);
    assert_int_equal(d->u.un.backlog, 7);
    assert_false(d->u.un.lockfile);
    coil_server_desc_free(d);
}

TEST(server_unix_keywords)
{
    coil_server_desc *d = server_ok("unix:address=/run/coil/e.sock:mode=0o640:lockfile=0");
    assert_string_equal(d->u.un.address, "/run/coil/e.sock");
    assert_int_equal(d->u.un.mode, 0640);
    assert_false(d->u.un.lockfile);
    coil_server_desc_free(d);
    d = server_ok("unix:address=foo=bar");
    assert_string_equal(d->u.un.address, "foo=bar");
    coil_server_desc_free(d);
    d = server_ok("unix:@abstract:lockfile=2");
    assert_string_equal(d->u.un.address, "@abstract");
    assert_true(d->u.un.lockfile);
    coil_server_desc_free(d);
}

TEST(server_unix_escaped_path)
{
    coil_server_desc *d = server_ok("unix:foo\\:bar\\=baz\\:qux\\\\");
    assert_string_equal(d->u.un.address, "foo:bar=baz:qux\\");
    coil_server_desc_free(d);
}

TEST(server_unix_invalid_mode)
{
    server_fails("unix:/x:mode=999", "unix: invalid mode '999' (must be an octal number 0-7777)");
    server_fails("unix:/x:mode=rw", "unix: invalid mode 'rw' (must be an octal number 0-7777)");
    server_fails("unix:/x:mode=17777",
                 "unix: invalid mode '17777' (must be an octal number 0-7777)");
}

TEST(server_unix_invalid_lockfile)
{
    server_fails("unix:/x:lockfile=yes", "unix: invalid lockfile 'yes' (must be 0 or 1)");
}

TEST(server_unix_missing_address)
{
    server_fails("unix", "unix: missing address");
    server_fails("unix:", "unix: missing address");
    server_fails("unix:mode=600", "unix: missing address");
    server_fails("unix:path=/x", "unix: unknown argument 'path'");
}

TEST(server_unix_address_too_long)
{
    char desc[200] = "unix:/";
    memset(desc + 6, 'a', 106); /* 107 bytes of path: the most sun_path holds */
    coil_server_desc_free(server_ok(desc));
    strcat(desc, "b");
    server_fails(desc, "unix: address too long (108 bytes, at most 107)");
}

/* ---- server ssl ---------------------------------------------------------- */

TEST(server_ssl_defaults)
{
    coil_server_desc *d = server_ok("ssl:443");
    assert_int_equal(d->kind, COIL_SERVER_SSL);
    assert_int_equal(d->u.ssl.port, 443);
    assert_string_equal(d->u.ssl.private_key, "server.pem");
    assert_string_equal(d->u.ssl.cert_key, "server.pem");
    assert_null(d->u.ssl.method);
    assert_string_equal(d->u.ssl.interface, "");
    assert_int_equal(d->u.ssl.backlog, 50);
    assert_null(d->u.ssl.extra_cert_chain);
    assert_null(d->u.ssl.dh_parameters);
    coil_server_desc_free(d);
}

TEST(server_ssl_cert_key_defaults_to_private_key)
{
    coil_server_desc *d = server_ok("ssl:443:privateKey=k.pem");
    assert_string_equal(d->u.ssl.private_key, "k.pem");
    assert_string_equal(d->u.ssl.cert_key, "k.pem");
    coil_server_desc_free(d);
}

TEST(server_ssl_positional_order)
{
    coil_server_desc *d = server_ok("ssl:443:k.pem:c.pem:TLSv1_2_METHOD:127.0.0.1:9:ch.pem:dh.pem");
    assert_int_equal(d->u.ssl.port, 443);
    assert_string_equal(d->u.ssl.private_key, "k.pem");
    assert_string_equal(d->u.ssl.cert_key, "c.pem");
    assert_string_equal(d->u.ssl.method, "TLSv1_2_METHOD");
    assert_string_equal(d->u.ssl.interface, "127.0.0.1");
    assert_int_equal(d->u.ssl.backlog, 9);
    assert_string_equal(d->u.ssl.extra_cert_chain, "ch.pem");
    assert_string_equal(d->u.ssl.dh_parameters, "dh.pem");
    coil_server_desc_free(d);
}

TEST(server_ssl_escaped_windows_paths)
{
    /* The example from Twisted's serverFromString docstring. */
    coil_server_desc *d = server_ok("ssl:443:privateKey=C\\:/key.pem:certKey=C\\:/cert.pem");
    assert_string_equal(d->u.ssl.private_key, "C:/key.pem");
    assert_string_equal(d->u.ssl.cert_key, "C:/cert.pem");
    coil_server_desc_free(d);
}

TEST(server_ssl_errors)
{
    server_fails("ssl", "ssl: missing port");
    server_fails("ssl:privateKey=k.pem", "ssl: missing port");
    server_fails("ssl:443:caCertsDir=/etc", "ssl: unknown argument 'caCertsDir'");
    server_fails("ssl:443:backlog=0", "ssl: invalid backlog '0' (must be a positive integer)");
}

/* ---- server systemd ------------------------------------------------------ */

TEST(server_systemd_index)
{
    coil_server_desc *d = server_ok("systemd:domain=INET:index=3");
    assert_int_equal(d->kind, COIL_SERVER_SYSTEMD);
    assert_int_equal(d->u.systemd.family, AF_INET);
    assert_int_equal(d->u.systemd.index, 3);
    assert_null(d->u.systemd.name);
    coil_server_desc_free(d);
    d = server_ok("systemd:INET6:0");
    assert_int_equal(d->u.systemd.family, AF_INET6);
    assert_int_equal(d->u.systemd.index, 0);
    coil_server_desc_free(d);
}

TEST(server_systemd_name)
{
    coil_server_desc *d = server_ok("systemd:domain=UNIX:name=foo");
    assert_int_equal(d->u.systemd.family, AF_UNIX);
    assert_int_equal(d->u.systemd.index, -1);
    assert_string_equal(d->u.systemd.name, "foo");
    coil_server_desc_free(d);
}

TEST(server_systemd_exactly_one_of_index_or_name)
{
    server_fails("systemd:domain=INET", "systemd: specify exactly one of index or name");
    server_fails("systemd:domain=INET:index=0:name=foo",
                 "systemd: specify exactly one of index or name");
    server_fails("systemd:INET:0:foo", "systemd: specify exactly one of index or name");
}

TEST(server_systemd_errors)
{
    server_fails("systemd:index=0", "systemd: missing domain (INET, INET6 or UNIX)");
    server_fails("systemd:domain=PACKET:index=0",
                 "systemd: invalid domain 'PACKET' (must be INET, INET6 or UNIX)");
    server_fails("systemd:domain=inet:index=0",
                 "systemd: invalid domain 'inet' (must be INET, INET6 or UNIX)");
    server_fails("systemd:domain=INET:index=-1",
                 "systemd: invalid index '-1' (must be a non-negative integer)");
    server_fails("systemd:domain=INET:index=x",
                 "systemd: invalid index 'x' (must be a non-negative integer)");
    server_fails("systemd:domain=INET:name=", "systemd: invalid name '' (must not be empty)");
}

/* ---- server haproxy ------------------------------------------------------ */

TEST(server_haproxy_tcp)
{
    coil_server_desc *d = server_ok("haproxy:tcp:80");
    assert_int_equal(d->kind, COIL_SERVER_HAPROXY);
    assert_string_equal(d->type, "haproxy");
    assert_string_equal(d->u.haproxy.description, "tcp:80");
    coil_server_desc *in = d->u.haproxy.inner;
    assert_int_equal(in->kind, COIL_SERVER_TCP);
    assert_int_equal(in->u.tcp.port, 80);
    assert_string_equal(in->u.tcp.interface, "");
    coil_server_desc_free(d);
}

TEST(server_haproxy_unix)
{
    coil_server_desc *d = server_ok("haproxy:unix:address=/x");
    assert_string_equal(d->u.haproxy.description, "unix:address=/x");
    assert_int_equal(d->u.haproxy.inner->kind, COIL_SERVER_UNIX);
    assert_string_equal(d->u.haproxy.inner->u.un.address, "/x");
    coil_server_desc_free(d);
}

TEST(server_haproxy_keywords_go_to_the_inner_endpoint)
{
    coil_server_desc *d = server_ok("haproxy:tcp:9000:interface=\\:\\:1:backlog=3");
    assert_string_equal(d->u.haproxy.description, "tcp:9000:backlog=3:interface=\\:\\:1");
    assert_string_equal(d->u.haproxy.inner->u.tcp.interface, "::1");
    assert_int_equal(d->u.haproxy.inner->u.tcp.backlog, 3);
    coil_server_desc_free(d);
}

TEST(server_haproxy_keeps_escaped_equals)
{
    /* Twisted's unparseEndpoint would turn this into address keyword "foo". */
    coil_server_desc *d = server_ok("haproxy:unix:foo\\=bar");
    assert_string_equal(d->u.haproxy.inner->u.un.address, "foo=bar");
    assert_string_equal(d->u.haproxy.description, "unix:foo\\=bar");
    coil_server_desc_free(d);
}

TEST(server_haproxy_errors)
{
    server_fails("haproxy", "haproxy: missing the wrapped endpoint (e.g. haproxy:tcp:80)");
    server_fails("haproxy:port=80", "haproxy: missing the wrapped endpoint (e.g. haproxy:tcp:80)");
    server_fails("haproxy:", "haproxy: Unknown endpoint type: ''");
    server_fails("haproxy:tcp:abc",
                 "haproxy: tcp: invalid port 'abc' (must be an integer 0-65535)");
    server_fails("haproxy:bogus:1", "haproxy: Unknown endpoint type: 'bogus'");
}

TEST(server_haproxy_nesting)
{
    coil_server_desc *d = server_ok("haproxy:haproxy:tcp:1");
    assert_int_equal(d->u.haproxy.inner->kind, COIL_SERVER_HAPROXY);
    assert_int_equal(d->u.haproxy.inner->u.haproxy.inner->u.tcp.port, 1);
    coil_server_desc_free(d);
    char desc[256] = "";
    for (int i = 0; i < COIL_ENDPOINT_MAX_DEPTH - 1; i++)
        strcat(desc, "haproxy:");
    strcat(desc, "tcp:1");
    coil_server_desc_free(server_ok(desc)); /* the deepest allowed */
    char deeper[300], err[512];
    snprintf(deeper, sizeof(deeper), "haproxy:%s", desc);
    coil_server_desc *s;
    assert_int_equal(coil_server_desc_parse(deeper, &s, err, sizeof(err)), COIL_EBADDESC);
    assert_non_null(strstr(err, "haproxy: invalid description: nested more than 8 deep"));
}

TEST(server_haproxy_bare_port_inside)
{
    coil_server_desc *d = server_ok("haproxy:9000");
    assert_int_equal(d->u.haproxy.inner->kind, COIL_SERVER_TCP);
    assert_int_equal(d->u.haproxy.inner->u.tcp.port, 9000);
    coil_server_desc_free(d);
}

/* ---- the bare port number ------------------------------------------------ */

TEST(bare_port_is_tcp)
{
    check_tcp("8080", COIL_SERVER_TCP, 8080, "", 50);
    check_tcp("0", COIL_SERVER_TCP, 0, "", 50);
}

TEST(bare_port_takes_tcp_arguments)
{
    check_tcp("8080:interface=127.0.0.1:backlog=5", COIL_SERVER_TCP, 8080, "127.0.0.1", 5);
    check_tcp("8080:127.0.0.1", COIL_SERVER_TCP, 8080, "127.0.0.1", 50);
}

TEST(bare_port_errors)
{
    server_fails("99999", "tcp: invalid port '99999' (must be an integer 0-65535)");
    server_fails("-1", "Unknown endpoint type: '-1'");
    server_fails(" 80", "Unknown endpoint type: ' 80'");
    server_fails("80:bogus=1", "tcp: unknown argument 'bogus'");
    client_fails("80", "Unknown endpoint type: '80'");
}

/* ---- case rules ---------------------------------------------------------- */

TEST(types_are_case_insensitive)
{
    check_tcp("TCP:80", COIL_SERVER_TCP, 80, "", 50);
    check_tcp("Tcp6:80", COIL_SERVER_TCP6, 80, "::", 50);
    const char *servers[] = {"UNIX:/x", "SSL:443", "SystemD:domain=INET:index=0", "HAPROXY:TCP:80"};
    for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++)
        coil_server_desc_free(server_ok(servers[i]));
    coil_server_desc *d = server_ok("HaProxy:Unix:/x");
    assert_string_equal(d->type, "haproxy");
    assert_string_equal(d->u.haproxy.inner->type, "unix");
    coil_server_desc_free(d);
    coil_client_desc *c = client_ok("TCP:example.com:80");
    assert_string_equal(c->type, "tcp");
    coil_client_desc_free(c);
    coil_client_desc_free(client_ok("Tls:example.com:443"));
    coil_client_desc_free(client_ok("UNIX:/x"));
}

TEST(keywords_are_case_sensitive)
{
    server_fails("tcp:80:Interface=::1", "tcp: unknown argument 'Interface'" COLON_HINT);
    client_fails("tcp:h:80:bindaddress=x", "tcp: unknown argument 'bindaddress'");
}

/* ---- unknown types ------------------------------------------------------- */

TEST(unknown_type)
{
    server_fails("foo:1", "Unknown endpoint type: 'foo'");
    server_fails("FOO:1", "Unknown endpoint type: 'foo'");
    client_fails("foo:1", "Unknown endpoint type: 'foo'");
    server_fails("", "Unknown endpoint type: ''");
    client_fails("", "Unknown endpoint type: ''");
    server_fails("stdio", "Unknown endpoint type: 'stdio'");
}

TEST(missing_type)
{
    server_fails("port=80", "invalid description: no endpoint type");
    client_fails("host=x:port=1", "invalid description: no endpoint type");
}

TEST(type_of_the_other_side)
{
    client_fails("tcp6:h:80", "Unknown endpoint type: 'tcp6' (tcp6 is a server endpoint type)");
    client_fails("haproxy:tcp:h:1",
                 "Unknown endpoint type: 'haproxy' (haproxy is a server endpoint type)");
    client_fails("SYSTEMD:INET:0",
                 "Unknown endpoint type: 'systemd' (systemd is a server endpoint type)");
    server_fails("tls:h:443", "Unknown endpoint type: 'tls' (tls is a client endpoint type)");
}

TEST(unknown_type_long_name_is_shortened)
{
    char desc[200];
    memset(desc, 'X', 100);
    desc[100] = '\0';
    char expect[120];
    memset(expect, 'x', 64);
    strcpy(expect + 64, "...");
    char msg[160];
    snprintf(msg, sizeof(msg), "Unknown endpoint type: '%s'", expect);
    server_fails(desc, msg);
}

/* ---- client tcp ---------------------------------------------------------- */

static void check_client_tcp(const char *desc, const char *host, uint16_t port, int timeout,
                             const char *bind)
{
    coil_client_desc *d = client_ok(desc);
    assert_int_equal(d->kind, COIL_CLIENT_TCP);
    assert_string_equal(d->type, "tcp");
    assert_string_equal(d->u.tcp.host, host);
    assert_int_equal(d->u.tcp.port, port);
    assert_int_equal(d->u.tcp.timeout, timeout);
    if (bind)
        assert_string_equal(d->u.tcp.bind_address, bind);
    else
        assert_null(d->u.tcp.bind_address);
    coil_client_desc_free(d);
}

TEST(client_tcp_defaults)
{
    check_client_tcp("tcp:example.com:80", "example.com", 80, 30, NULL);
}

TEST(client_tcp_host_and_port_forms)
{
    /* The four forms of Twisted's clientFromString docstring. */
    check_client_tcp("tcp:host=www.example.com:port=80", "www.example.com", 80, 30, NULL);
    check_client_tcp("tcp:host=www.example.com:80", "www.example.com", 80, 30, NULL);
    check_client_tcp("tcp:www.example.com:port=80", "www.example.com", 80, 30, NULL);
    check_client_tcp("tcp:port=80:host=h", "h", 80, 30, NULL);
}

TEST(client_tcp_timeout_and_bind_address)
{
    check_client_tcp("tcp:h:80:timeout=9:bindAddress=192.0.2.100", "h", 80, 9, "192.0.2.100");
    check_client_tcp("tcp:\\:\\:1:80", "::1", 80, 30, NULL);
}

TEST(client_tcp_invalid_timeout)
{
    /* int("1.5") fails in Twisted too. */
    client_fails("tcp:h:80:timeout=1.5",
                 "tcp: invalid timeout '1.5' (must be a positive whole number of seconds)");
    client_fails("tcp:h:80:timeout=0",
                 "tcp: invalid timeout '0' (must be a positive whole number of seconds)");
}

TEST(client_tcp_errors)
{
    client_fails("tcp:h", "tcp: missing port");
    client_fails("tcp:port=80", "tcp: missing host");
    client_fails("tcp::80", "tcp: missing host");
    client_fails("tcp:h:0", "tcp: invalid port '0' (must be an integer 1-65535)");
    client_fails("tcp:h:http", "tcp: invalid port 'http' (must be an integer 1-65535)");
    client_fails("tcp:h:80:5", "tcp: too many positional arguments (at most 2)");
    client_fails("tcp:h:80:host=g", "tcp: argument 'host' given twice");
    client_fails("tcp:80:host=h:port=81", "tcp: argument 'port' given twice");
    client_fails("tcp:h:80:interface=x", "tcp: unknown argument 'interface'");
}

/* ---- client unix --------------------------------------------------------- */

TEST(client_unix_defaults)
{
    coil_client_desc *d = client_ok("unix:/var/foo/bar");
    assert_int_equal(d->kind, COIL_CLIENT_UNIX);
    assert_string_equal(d->u.un.path, "/var/foo/bar");
    assert_int_equal(d->u.un.timeout, 30);
    assert_false(d->u.un.check_pid);
    coil_client_desc_free(d);
}

TEST(client_unix_keywords)
{
    coil_client_desc *d = client_ok("unix:path=/var/foo/bar:lockfile=1:timeout=9");
    assert_string_equal(d->u.un.path, "/var/foo/bar");
    assert_int_equal(d->u.un.timeout, 9);
    assert_true(d->u.un.check_pid);
    coil_client_desc_free(d);
}

TEST(client_unix_check_pid_alias)
{
    coil_client_desc *d = client_ok("unix:/x:checkPID=1");
    assert_true(d->u.un.check_pid);
    coil_client_desc_free(d);
    /* Twisted passes the string '0' through, which is true; we convert it. */
    d = client_ok("unix:/x:checkPID=0");
    assert_false(d->u.un.check_pid);
    coil_client_desc_free(d);
    client_fails("unix:/x:checkPID=1:lockfile=0",
                 "unix: argument 'lockfile' given twice (checkPID is its alias)");
    client_fails("unix:/x:checkPID=yes", "unix: invalid checkPID 'yes' (must be 0 or 1)");
}

TEST(client_unix_errors)
{
    client_fails("unix", "unix: missing path");
    client_fails("unix:/x:9", "unix: too many positional arguments (at most 1)");
    client_fails("unix:/x:mode=600", "unix: unknown argument 'mode'");
    client_fails("unix:/x:timeout=-1",
                 "unix: invalid timeout '-1' (must be a positive whole number of seconds)");
}

/* ---- client ssl ---------------------------------------------------------- */

TEST(client_ssl)
{
    coil_client_desc *d = client_ok("ssl:web.example.com:443:privateKey=foo.pem:certKey=foo.pem:"
                                    "caCertsDir=/etc/ssl/certs:hostname=web.example.com");
    assert_int_equal(d->kind, COIL_CLIENT_SSL);
    assert_string_equal(d->u.ssl.host, "web.example.com");
    assert_int_equal(d->u.ssl.port, 443);
    assert_int_equal(d->u.ssl.timeout, 30);
    assert_null(d->u.ssl.bind_address);
    assert_string_equal(d->u.ssl.private_key, "foo.pem");
    assert_string_equal(d->u.ssl.cert_key, "foo.pem");
    assert_string_equal(d->u.ssl.ca_certs_dir, "/etc/ssl/certs");
    assert_string_equal(d->u.ssl.hostname, "web.example.com");
    coil_client_desc_free(d);
    d = client_ok("ssl:h:1");
    assert_null(d->u.ssl.cert_key);
    assert_null(d->u.ssl.hostname);
    coil_client_desc_free(d);
    client_fails("ssl:h:443:trustRoots=/x", "ssl: unknown argument 'trustRoots'");
}

/* ---- client tls ---------------------------------------------------------- */

TEST(client_tls_defaults)
{
    coil_client_desc *d = client_ok("tls:example.com:443");
    assert_int_equal(d->kind, COIL_CLIENT_TLS);
    assert_string_equal(d->type, "tls");
    assert_string_equal(d->u.tls.host, "example.com");
    assert_int_equal(d->u.tls.port, 443);
    assert_int_equal(d->u.tls.timeout, 30);
    assert_null(d->u.tls.bind_address);
    assert_null(d->u.tls.certificate);
    assert_null(d->u.tls.private_key);
    assert_null(d->u.tls.trust_roots);
    assert_null(d->u.tls.endpoint);
    assert_null(d->u.tls.inner);
    coil_client_desc_free(d);
}

TEST(client_tls_positional_order)
{
    coil_client_desc *d = client_ok("tls:h:443:7:10.0.0.1:c.pem:k.pem:/ca:tcp\\:10.0.0.2\\:443");
    assert_int_equal(d->u.tls.timeout, 7);
    assert_string_equal(d->u.tls.bind_address, "10.0.0.1");
    assert_string_equal(d->u.tls.certificate, "c.pem");
    assert_string_equal(d->u.tls.private_key, "k.pem");
    assert_string_equal(d->u.tls.trust_roots, "/ca");
    assert_string_equal(d->u.tls.endpoint, "tcp:10.0.0.2:443");
    assert_int_equal(d->u.tls.inner->kind, COIL_CLIENT_TCP);
    assert_string_equal(d->u.tls.inner->u.tcp.host, "10.0.0.2");
    coil_client_desc_free(d);
}

TEST(client_tls_endpoint_keyword)
{
    coil_client_desc *d = client_ok("tls:example.com:443:endpoint=unix\\:/run/x.sock");
    assert_int_equal(d->u.tls.inner->kind, COIL_CLIENT_UNIX);
    assert_string_equal(d->u.tls.inner->u.un.path, "/run/x.sock");
    coil_client_desc_free(d);
    client_fails("tls:h:443:endpoint=tcp\\:h", "tls: endpoint: tcp: missing port");
    client_fails("tls:h:443:endpoint=", "tls: endpoint: Unknown endpoint type: ''");
}

TEST(client_tls_errors)
{
    client_fails("tls:h", "tls: missing port");
    client_fails("tls:port=443", "tls: missing host");
    client_fails("tls:h:443:bogus=1", "tls: unknown argument 'bogus'");
    client_fails("tls:h:443:timeout=x",
                 "tls: invalid timeout 'x' (must be a positive whole number of seconds)");
    client_fails("tls:h:443:1:2:3:4:5:6:7", "tls: too many positional arguments (at most 8)");
}

/* ---- registered types ---------------------------------------------------- */

typedef struct echo_data {
    char path[64];
    int level;
} echo_data;

static int freed;

static void echo_free(void *arg, void *data)
{
    assert_ptr_equal(arg, &freed);
    freed++;
    free(data);
}

/* "echo:<path>:level=<n>" with the shared helpers. */
static int echo_parse(void *arg, const coil_endpoint_args *args, void **data, char *err,
                      size_t errlen)
{
    static const char *const names[] = {"path", "level"};
    const char *v[2];
    long long level = 1;
    assert_ptr_equal(arg, &freed);
    int rc = coil_endpoint_bind(args, "echo", names, 2, 1, v, err, errlen);
    if (rc < 0)
        return rc;
    if (!v[0])
        return coil_endpoint_errorf(err, errlen, "echo: missing path");
    if (v[1] && coil_endpoint_int(v[1], 10, 0, 9, &level) < 0)
        return coil_endpoint_errorf(err, errlen, "echo: invalid level '%s'", v[1]);
    echo_data *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    snprintf(e->path, sizeof(e->path), "%s", v[0]);
    e->level = (int)level;
    *data = e;
    return 0;
}

static int silent_failure(void *arg, const coil_endpoint_args *args, void **data, char *err,
                          size_t errlen)
{
    (void)arg, (void)args, (void)data, (void)err, (void)errlen;
    return -EPERM;
}

static const coil_endpoint_type echo_type = {
    .prefix = "Echo",
    .parse_server = echo_parse,
    .parse_client = echo_parse,
    .free_data = echo_free,
    .arg = &freed,
};

TEST(registered_type_parses)
{
    assert_int_equal(coil_endpoint_register(&echo_type), 0);
    freed = 0;
    coil_server_desc *d = server_ok("echo:/tmp/e:level=3");
    assert_int_equal(d->kind, COIL_SERVER_PLUGIN);
    assert_string_equal(d->type, "Echo");
    echo_data *e = d->u.plugin.data;
    assert_string_equal(e->path, "/tmp/e");
    assert_int_equal(e->level, 3);
    coil_server_desc_free(d);
    assert_int_equal(freed, 1);
    coil_client_desc *c = client_ok("ECHO:path=/x");
    assert_int_equal(c->kind, COIL_CLIENT_PLUGIN);
    assert_int_equal(((echo_data *)c->u.plugin.data)->level, 1);
    coil_client_desc_free(c);
    assert_int_equal(freed, 2);
    assert_int_equal(coil_endpoint_unregister("echo"), 0);
}

TEST(registered_type_errors)
{
    assert_int_equal(coil_endpoint_register(&echo_type), 0);
    server_fails("echo", "echo: missing path");
    server_fails("echo:/x:level=10", "echo: invalid level '10'");
    client_fails("echo:/x:/y", "echo: too many positional arguments (at most 1)");
    client_fails("echo:/x:bogus=1", "echo: unknown argument 'bogus'");
    assert_int_equal(coil_endpoint_unregister("echo"), 0);
    coil_endpoint_type silent = {.prefix = "silent", .parse_server = silent_failure};
    assert_int_equal(coil_endpoint_register(&silent), 0);
    char err[128];
    coil_server_desc *d;
    assert_int_equal(coil_server_desc_parse("silent:1", &d, err, sizeof(err)), -EPERM);
    assert_string_equal(err, "silent: invalid description (-1)");
    assert_int_equal(coil_endpoint_unregister("silent"), 0);
}

TEST(registered_type_inside_haproxy)
{
    assert_int_equal(coil_endpoint_register(&echo_type), 0);
    freed = 0;
    coil_server_desc *d = server_ok("haproxy:echo:/e:level=2");
    assert_int_equal(d->u.haproxy.inner->kind, COIL_SERVER_PLUGIN);
    assert_string_equal(d->u.haproxy.description, "echo:/e:level=2");
    coil_server_desc_free(d);
    assert_int_equal(freed, 1);
    server_fails("haproxy:echo", "haproxy: echo: missing path");
    assert_int_equal(coil_endpoint_unregister("echo"), 0);
}

/* A wrapper type, as a library would write one: the rest is a server. */
static int wrap_parse(void *arg, const coil_endpoint_args *args, void **data, char *err,
                      size_t errlen)
{
    (void)arg;
    coil_server_desc *inner;
    int rc = coil_server_desc_from_args(args, &inner, err, errlen);
    if (rc == 0)
        *data = inner;
    return rc;
}

static void wrap_free(void *arg, void *data)
{
    (void)arg;
    coil_server_desc_free(data);
}

TEST(registered_wrapper_type_nests)
{
    coil_endpoint_type wrap = {
        .prefix = "wrap", .parse_server = wrap_parse, .free_data = wrap_free};
    assert_int_equal(coil_endpoint_register(&wrap), 0);
    coil_server_desc *d = server_ok("wrap:haproxy:wrap:unix:/x");
    coil_server_desc *in = d->u.plugin.data;
    assert_int_equal(in->kind, COIL_SERVER_HAPROXY);
    coil_server_desc_free(d);
    /* Recursion through a registered type is bounded too. */
    char desc[512] = "";
    for (int i = 0; i < 20; i++)
        strcat(desc, "wrap:");
    strcat(desc, "tcp:1");
    server_fails(desc, "invalid description: nested more than 8 deep");
    assert_int_equal(coil_endpoint_unregister("wrap"), 0);
}

TEST(register_conflicts)
{
    coil_endpoint_type t = {
        .prefix = "TCP", .parse_server = echo_parse, .free_data = echo_free, .arg = &freed};
    assert_int_equal(coil_endpoint_register(&t), -EEXIST);
    t.prefix = "tls"; /* tls has a client type only: a server one may be added */
    assert_int_equal(coil_endpoint_register(&t), 0);
    coil_server_desc_free(server_ok("tls:/x"));
    assert_int_equal(coil_endpoint_register(&t), -EEXIST);
    t.parse_server = NULL;
    t.parse_client = echo_parse;
    assert_int_equal(coil_endpoint_register(&t), -EEXIST); /* the built-in client */
    t.prefix = "tcp6"; /* tcp6 has no client type in Twisted either */
    assert_int_equal(coil_endpoint_register(&t), 0);
    coil_client_desc_free(client_ok("tcp6:/x"));
    assert_int_equal(coil_endpoint_unregister("TLS"), 0);
    assert_int_equal(coil_endpoint_unregister("tcp6"), 0);
    server_fails("tls:/x", "Unknown endpoint type: 'tls' (tls is a client endpoint type)");
}

TEST(register_rejects_invalid_types)
{
    const char *bad[] = {"",     "80",  "a:b",  "a=b",
                         "a\\b", "a b", "a\tb", "abcdefghijklmnopqrstuvwxyz0123456"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        coil_endpoint_type t = {.prefix = bad[i], .parse_server = echo_parse};
        if (coil_endpoint_register(&t) != -EINVAL)
            fail_msg("prefix '%s' was accepted", bad[i]);
    }
    coil_endpoint_type none = {.prefix = "nothing"};
    assert_int_equal(coil_endpoint_register(&none), -EINVAL);
    assert_int_equal(coil_endpoint_register(NULL), -EINVAL);
    coil_endpoint_type longest = {.prefix = "abcdefghijklmnopqrstuvwxyz01234",
                                  .parse_server = echo_parse};
    assert_int_equal(coil_endpoint_register(&longest), 0);
    assert_int_equal(coil_endpoint_unregister(longest.prefix), 0);
}

TEST(unregister)
{
    assert_int_equal(coil_endpoint_register(&echo_type), 0);
    assert_int_equal(coil_endpoint_unregister("ECHO"), 0);
    server_fails("echo:/x", "Unknown endpoint type: 'echo'");
    assert_int_equal(coil_endpoint_unregister("echo"), -ENOENT);
    assert_int_equal(coil_endpoint_unregister("tcp"), -ENOENT);
    assert_int_equal(coil_endpoint_unregister(NULL), -EINVAL);
}

TEST(parsed_description_outlives_unregister)
{
    assert_int_equal(coil_endpoint_register(&echo_type), 0);
    freed = 0;
    coil_server_desc *d = server_ok("echo:/x");
    assert_int_equal(coil_endpoint_unregister("echo"), 0);
    assert_string_equal(d->type, "Echo");
    coil_server_desc_free(d);
    assert_int_equal(freed, 1);
}

TEST(lookup)
{
    coil_endpoint_type t;
    assert_int_equal(coil_endpoint_lookup("TCP6", COIL_ENDPOINT_SERVER, &t), COIL_ENDPOINT_BUILTIN);
    assert_string_equal(t.prefix, "tcp6");
    assert_null(t.parse_server);
    assert_int_equal(coil_endpoint_lookup("tcp6", COIL_ENDPOINT_CLIENT, &t), -ENOENT);
    assert_int_equal(coil_endpoint_lookup("tls", COIL_ENDPOINT_CLIENT, NULL),
                     COIL_ENDPOINT_BUILTIN);
    assert_int_equal(coil_endpoint_lookup("echo", COIL_ENDPOINT_SERVER, &t), -ENOENT);
    assert_int_equal(coil_endpoint_register(&echo_type), 0);
    assert_int_equal(coil_endpoint_lookup("echo", COIL_ENDPOINT_CLIENT, &t), 0);
    assert_string_equal(t.prefix, "Echo");
    assert_ptr_equal(t.parse_client, echo_parse);
    assert_ptr_equal(t.arg, &freed);
    assert_int_equal(coil_endpoint_unregister("echo"), 0);
    assert_int_equal(coil_endpoint_lookup(NULL, COIL_ENDPOINT_SERVER, &t), -EINVAL);
}

/* ---- server udp (coil's datagram type) ------------------------------------ */

static void check_udp(const char *desc, uint16_t port, const char *iface)
{
    char err[256] = "";
    coil_server_desc *d = NULL;
    int rc = coil_server_desc_parse(desc, &d, err, sizeof(err));
    if (rc != 0)
        fail_msg("server '%s' failed: %d %s", desc, rc, err);
    assert_int_equal(d->kind, COIL_SERVER_UDP);
    assert_string_equal(d->type, "udp");
    assert_int_equal(d->u.udp.port, port);
    assert_string_equal(d->u.udp.interface, iface);
    coil_server_desc_free(d);
}

TEST(server_udp)
{
    check_udp("udp:9999", 9999, "");
    check_udp("UDP:0", 0, "");
    check_udp("udp:53:interface=127.0.0.1", 53, "127.0.0.1");
    check_udp("udp:53:\\:\\:1", 53, "::1");
    check_udp("udp:interface=\\:\\::port=5353", 5353, "::");
    server_fails("udp", "udp: missing port");
    server_fails("udp:65536", "udp: invalid port '65536' (must be an integer 0-65535)");
    server_fails("udp:53:backlog=5", "udp: unknown argument 'backlog'");
    server_fails("udp:53:lo:x", "udp: too many positional arguments (at most 2)");
    server_fails("udp:53:port=54", "udp: argument 'port' given twice");
    char err[256] = "";
    coil_client_desc *c = NULL;
    assert_int_equal(coil_client_desc_parse("udp:127.0.0.1:53", &c, err, sizeof(err)),
                     COIL_EBADDESC);
    assert_string_equal(err, "Unknown endpoint type: 'udp' (udp is a server endpoint type)");
    assert_int_equal(coil_endpoint_lookup("udp", COIL_ENDPOINT_SERVER, NULL),
                     COIL_ENDPOINT_BUILTIN);
}

/* Whether a value was written or left to its default. */
static void given_records_explicit_values(void **state)
{
    coil_server_desc *d = NULL;
    char err[256];
    assert_int_equal(coil_server_desc_parse("tcp:8080:backlog=50", &d, err, sizeof(err)), 0);
    assert_true(coil_server_desc_given(d, "port"));
    assert_true(coil_server_desc_given(d, "backlog")); /* even when equal to the default */
    assert_false(coil_server_desc_given(d, "interface"));
    assert_false(coil_server_desc_given(d, "bogus"));
    coil_server_desc_free(d);
    assert_int_equal(coil_server_desc_parse("8080", &d, err, sizeof(err)), 0);
    assert_true(coil_server_desc_given(d, "port"));
    assert_false(coil_server_desc_given(d, "backlog"));
    coil_server_desc_free(d);
    assert_int_equal(coil_server_desc_parse("tcp6:80:7", &d, err, sizeof(err)), 0);
    assert_true(coil_server_desc_given(d, "backlog")); /* tcp6's second positional */
    assert_false(coil_server_desc_given(d, "interface"));
    coil_server_desc_free(d);
    assert_int_equal(coil_server_desc_parse("haproxy:unix:/tmp/x:backlog=9", &d, err, sizeof(err)),
                     0);
    assert_true(coil_server_desc_given(d, "backlog"));
    assert_false(coil_server_desc_given(d, "mode"));
    coil_server_desc_free(d);
    assert_int_equal(coil_server_desc_parse("ssl:443:privateKey=k.pem", &d, err, sizeof(err)), 0);
    assert_true(coil_server_desc_given(d, "privateKey"));
    assert_false(coil_server_desc_given(d, "certKey"));
    assert_false(coil_server_desc_given(d, "handshakeTimeout"));
    assert_int_equal(d->u.ssl.handshake_timeout, 0);
    coil_server_desc_free(d);
    assert_int_equal(coil_server_desc_parse("ssl:443:handshakeTimeout=5", &d, err, sizeof(err)), 0);
    assert_true(coil_server_desc_given(d, "handshakeTimeout"));
    assert_int_equal(d->u.ssl.handshake_timeout, 5);
    coil_server_desc_free(d);
    assert_int_equal(coil_server_desc_parse("ssl:443:handshakeTimeout=0", &d, err, sizeof(err)),
                     COIL_EBADDESC);
    assert_non_null(strstr(err, "ssl: invalid handshakeTimeout '0'"));
    assert_false(coil_server_desc_given(NULL, "port"));

    coil_client_desc *c = NULL;
    assert_int_equal(coil_client_desc_parse("tcp:port=80:host=h", &c, err, sizeof(err)), 0);
    assert_true(coil_client_desc_given(c, "host"));
    assert_true(coil_client_desc_given(c, "port"));
    assert_false(coil_client_desc_given(c, "timeout"));
    coil_client_desc_free(c);
    assert_int_equal(coil_client_desc_parse("tls:h:443:trustRoots=/x", &c, err, sizeof(err)), 0);
    assert_true(coil_client_desc_given(c, "trustRoots"));
    assert_false(coil_client_desc_given(c, "timeout"));
    coil_client_desc_free(c);
}

/* Parsers and constructors live in one registry row: constructors set on a
 * type go away with it, and every lookup folds case the same way. */
static int ctor_server(void *arg, coil_reactor *r, const void *data, coil_server_endpoint **out,
                       char *err, size_t errlen)
{
    return -ENOSYS;
}

static void registry_rows_hold_constructors(void **state)
{
    coil_endpoint_type t = {.prefix = "RowType", .parse_server = echo_parse};
    assert_int_equal(coil_endpoint_register(&t), 0);
    assert_int_equal(coil_endpoint_type_set_constructors("rowtype", ctor_server, NULL, NULL), 0);
    assert_int_equal(coil_endpoint_type_set_constructors("ROWTYPE", ctor_server, NULL, NULL), 0);
    assert_int_equal(coil_endpoint_type_set_constructors("tcp", ctor_server, NULL, NULL), -EINVAL);
    assert_int_equal(coil_endpoint_type_set_constructors("nosuch", ctor_server, NULL, NULL),
                     -ENOENT);
    assert_int_equal(coil_endpoint_lookup("rOwTyPe", COIL_ENDPOINT_SERVER, NULL), 0);
    assert_int_equal(coil_endpoint_unregister("ROWTYPE"), 0);
    assert_int_equal(coil_endpoint_type_set_constructors("rowtype", ctor_server, NULL, NULL),
                     -ENOENT);
    assert_int_equal(coil_endpoint_unregister("tcp"), -ENOENT);
    assert_int_equal(coil_endpoint_lookup("TCP", COIL_ENDPOINT_SERVER, NULL),
                     COIL_ENDPOINT_BUILTIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_positional_and_keyword),
        cmocka_unit_test(parse_tcp_port),
        cmocka_unit_test(parse_escaped_equals_in_key),
        cmocka_unit_test(parse_escaped_colons_in_value),
        cmocka_unit_test(parse_empty_middle_segment),
        cmocka_unit_test(parse_trailing_colon),
        cmocka_unit_test(parse_empty_description),
        cmocka_unit_test(parse_equals_after_equals_is_literal),
        cmocka_unit_test(parse_empty_value),
        cmocka_unit_test(parse_duplicate_key_last_wins),
        cmocka_unit_test(parse_empty_key),
        cmocka_unit_test(parse_escapes_in_positional),
        cmocka_unit_test(parse_keyword_then_positional),
        cmocka_unit_test(parse_operators_only),
        cmocka_unit_test(parse_backslash_escapes_any_char),
        cmocka_unit_test(parse_trailing_backslash_is_an_error),
        cmocka_unit_test(parse_no_whitespace_trimming),
        cmocka_unit_test(parse_args_get),
        cmocka_unit_test(parse_invalid_arguments),
        cmocka_unit_test(parse_too_long),
        cmocka_unit_test(error_buffer_is_optional_and_truncated),
        cmocka_unit_test(error_messages_have_no_control_characters),
        cmocka_unit_test(quote_twisted_vector),
        cmocka_unit_test(quote_buffer_size),
        cmocka_unit_test(quote_round_trips_as_a_value),
        cmocka_unit_test(unparse_sorts_keywords_and_round_trips),
        cmocka_unit_test(unparse_empty),
        cmocka_unit_test(int_accepts_python_syntax),
        cmocka_unit_test(int_rejects_what_python_rejects),
        cmocka_unit_test(int_range_and_overflow),
        cmocka_unit_test(bind_maps_like_a_python_call),
        cmocka_unit_test(server_tcp_defaults),
        cmocka_unit_test(server_tcp_positional_order),
        cmocka_unit_test(server_tcp_keywords),
        cmocka_unit_test(server_tcp_escaped_ipv6_interface),
        cmocka_unit_test(server_tcp_port_range),
        cmocka_unit_test(server_tcp_invalid_port),
        cmocka_unit_test(server_tcp_missing_port),
        cmocka_unit_test(server_tcp_unknown_argument),
        cmocka_unit_test(server_tcp_argument_given_twice),
        cmocka_unit_test(server_tcp_too_many_positional),
        cmocka_unit_test(server_tcp_invalid_backlog),
        cmocka_unit_test(server_tcp_integers_as_python_reads_them),
        cmocka_unit_test(server_tcp6_defaults),
        cmocka_unit_test(server_tcp6_positional_order_is_port_backlog_interface),
        cmocka_unit_test(server_tcp6_keywords),
        cmocka_unit_test(server_tcp6_unescaped_colons_are_separators),
        cmocka_unit_test(server_unix_defaults),
        cmocka_unit_test(server_unix_positional_order),
        cmocka_unit_test(server_unix_keywords),
        cmocka_unit_test(server_unix_escaped_path),
        cmocka_unit_test(server_unix_invalid_mode),
        cmocka_unit_test(server_unix_invalid_lockfile),
        cmocka_unit_test(server_unix_missing_address),
        cmocka_unit_test(server_unix_address_too_long),
        cmocka_unit_test(server_ssl_defaults),
        cmocka_unit_test(server_ssl_cert_key_defaults_to_private_key),
        cmocka_unit_test(server_ssl_positional_order),
        cmocka_unit_test(server_ssl_escaped_windows_paths),
        cmocka_unit_test(server_ssl_errors),
        cmocka_unit_test(server_systemd_index),
        cmocka_unit_test(server_systemd_name),
        cmocka_unit_test(server_systemd_exactly_one_of_index_or_name),
        cmocka_unit_test(server_systemd_errors),
        cmocka_unit_test(server_haproxy_tcp),
        cmocka_unit_test(server_haproxy_unix),
        cmocka_unit_test(server_haproxy_keywords_go_to_the_inner_endpoint),
        cmocka_unit_test(server_haproxy_keeps_escaped_equals),
        cmocka_unit_test(server_haproxy_errors),
        cmocka_unit_test(server_haproxy_nesting),
        cmocka_unit_test(server_haproxy_bare_port_inside),
        cmocka_unit_test(bare_port_is_tcp),
        cmocka_unit_test(bare_port_takes_tcp_arguments),
        cmocka_unit_test(bare_port_errors),
        cmocka_unit_test(types_are_case_insensitive),
        cmocka_unit_test(keywords_are_case_sensitive),
        cmocka_unit_test(unknown_type),
        cmocka_unit_test(missing_type),
        cmocka_unit_test(type_of_the_other_side),
        cmocka_unit_test(unknown_type_long_name_is_shortened),
        cmocka_unit_test(client_tcp_defaults),
        cmocka_unit_test(client_tcp_host_and_port_forms),
        cmocka_unit_test(client_tcp_timeout_and_bind_address),
        cmocka_unit_test(client_tcp_invalid_timeout),
        cmocka_unit_test(client_tcp_errors),
        cmocka_unit_test(client_unix_defaults),
        cmocka_unit_test(client_unix_keywords),
        cmocka_unit_test(client_unix_check_pid_alias),
        cmocka_unit_test(client_unix_errors),
        cmocka_unit_test(client_ssl),
        cmocka_unit_test(client_tls_defaults),
        cmocka_unit_test(client_tls_positional_order),
        cmocka_unit_test(client_tls_endpoint_keyword),
        cmocka_unit_test(client_tls_errors),
        cmocka_unit_test(registered_type_parses),
        cmocka_unit_test(registered_type_errors),
        cmocka_unit_test(registered_type_inside_haproxy),
        cmocka_unit_test(registered_wrapper_type_nests),
        cmocka_unit_test(register_conflicts),
        cmocka_unit_test(register_rejects_invalid_types),
        cmocka_unit_test(unregister),
        cmocka_unit_test(parsed_description_outlives_unregister),
        cmocka_unit_test(lookup),
        cmocka_unit_test(server_udp),
        cmocka_unit_test(given_records_explicit_values),
        cmocka_unit_test(registry_rows_hold_constructors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
