/* SPDX-License-Identifier: MIT */
/*
 * `coild web` building blocks: Range parsing, request-target sanitizing,
 * Content-Type lookup, HTTP dates, escaping, the llhttp-based request reader
 * (pipelining, every split point, limits) and the open-file cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cache.h"
#include "escape.h"
#include "fs.h"
#include "http_date.h"
#include "mime.h"
#include "path.h"
#include "range.h"
#include "request.h"

/* ---- Range ----------------------------------------------------------------- */

static web_range_result range(const char *v, uint64_t size, uint64_t *a, uint64_t *b)
{
    *a = *b = 12345;
    return web_range_parse(v, strlen(v), size, a, b);
}

static void test_range(void **state)
{
    uint64_t a, b;
    assert_int_equal(range("bytes=0-0", 10, &a, &b), WEB_RANGE_OK);
    assert_true(a == 0 && b == 0);
    assert_int_equal(range("bytes=2-4", 10, &a, &b), WEB_RANGE_OK);
    assert_true(a == 2 && b == 4);
    assert_int_equal(range("bytes=5-", 10, &a, &b), WEB_RANGE_OK);
    assert_true(a == 5 && b == 9);
    assert_int_equal(range("bytes=5-100", 10, &a, &b), WEB_RANGE_OK); /* clamped */
    assert_true(a == 5 && b == 9);
    assert_int_equal(range("bytes=-3", 10, &a, &b), WEB_RANGE_OK); /* suffix */
    assert_true(a == 7 && b == 9);
    assert_int_equal(range("bytes=-30", 10, &a, &b), WEB_RANGE_OK);
    assert_true(a == 0 && b == 9);
    assert_int_equal(range(" Bytes=1-2 ", 10, &a, &b), WEB_RANGE_OK);
    assert_true(a == 1 && b == 2);
    /* Unsatisfiable: 416. */
    assert_int_equal(range("bytes=10-", 10, &a, &b), WEB_RANGE_UNSATISFIABLE);
    assert_int_equal(range("bytes=10-20", 10, &a, &b), WEB_RANGE_UNSATISFIABLE);
    assert_int_equal(range("bytes=-0", 10, &a, &b), WEB_RANGE_UNSATISFIABLE);
    assert_int_equal(range("bytes=0-", 0, &a, &b), WEB_RANGE_UNSATISFIABLE);
    assert_int_equal(range("bytes=-5", 0, &a, &b), WEB_RANGE_UNSATISFIABLE);
    /* Ignored (200 with everything): invalid, multiple, other units. */
    const char *ignored[] = {"", "bytes=", "bytes=-", "bytes=4-2", "bytes=a-b", "items=0-1",
                             "bytes=0-1,3-4", "bytes=1-2 x", "bytes 0-1", "bytes=0x1-2",
                             "bytes=99999999999999999999999-", "bytes=--1", "bytes=1--2"};
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        assert_int_equal(range(ignored[i], 10, &a, &b), WEB_RANGE_NONE);
    assert_int_equal(web_range_parse(NULL, 0, 10, &a, &b), WEB_RANGE_NONE);
    /* The largest values do not overflow. */
    assert_int_equal(range("bytes=18446744073709551615-", UINT64_MAX, &a, &b),
                     WEB_RANGE_UNSATISFIABLE);
    assert_int_equal(range("bytes=0-18446744073709551615", 100, &a, &b), WEB_RANGE_OK);
    assert_true(a == 0 && b == 99);
}

/* ---- Paths ----------------------------------------------------------------- */

static int sanitize(const char *url, char *out, bool *slash)
{
    return web_path_sanitize(url, strlen(url), out, 256, slash);
}

static void expect_path(const char *url, const char *want, bool want_slash)
{
    char out[256];
    bool slash = !want_slash;
    int n = sanitize(url, out, &slash);
    if (n < 0)
        fail_msg("%s: %d", url, n);
    assert_string_equal(out, want);
    assert_int_equal(n, (int)strlen(want));
    assert_int_equal(slash, want_slash);
}

static void expect_refused(const char *url, int err)
{
    char out[256];
    bool slash;
    int n = sanitize(url, out, &slash);
    if (n != err)
        fail_msg("%s: %d, expected %d", url, n, err);
}

static void test_path(void **state)
{
    expect_path("/", "", true);
    expect_path("/a", "a", false);
    expect_path("/a/b/", "a/b", true);
    expect_path("/a%20b", "a b", false);
    expect_path("/a?x=../../..", "a", false);
    expect_path("/a#frag", "a", false);
    expect_path("//a///b", "a/b", false);
    expect_path("/./a/./b/.", "a/b", false);
    expect_path("/a/../b", "b", false);
    expect_path("/a/b/../../c", "c", false);
    expect_path("/a/%2e%2e/b", "b", false); /* an encoded dot segment is one */
    expect_path("/a/..", "", false);
    expect_path("/%41%62", "Ab", false);
    expect_path("/..a/b..", "..a/b..", false); /* not dot segments */
    expect_path("http://example.com/x/y", "x/y", false);
    expect_path("http://example.com", "", true);
    expect_path("HTTPS://h:8/z?q", "z", false);
    /* Refused with 400. */
    expect_refused("/..", -EINVAL);
    expect_refused("/../etc/passwd", -EINVAL);
    expect_refused("/a/../../etc", -EINVAL);
    expect_refused("/%2e%2e/etc/passwd", -EINVAL);
    expect_refused("/%2E%2E/x", -EINVAL);
    expect_refused("/.%2e/x", -EINVAL);
    expect_refused("/a%2fb", -EINVAL);  /* encoded slash */
    expect_refused("/a%2F..%2F..%2Fetc", -EINVAL);
    expect_refused("/a%00b", -EINVAL);  /* NUL */
    expect_refused("/a%zz", -EINVAL);   /* bad escapes */
    expect_refused("/a%4", -EINVAL);
    expect_refused("/a%", -EINVAL);
    expect_refused("a/b", -EINVAL);     /* not origin form */
    expect_refused("*", -EINVAL);
    expect_refused("", -EINVAL);
    /* Too long for the buffer. */
    char big[600];
    memset(big, 'a', sizeof(big));
    big[0] = '/';
    big[sizeof(big) - 1] = '\0';
    expect_refused(big, -ENAMETOOLONG);
    assert_int_equal(web_path_raw_len("/a/b?c", 6), 4);
}

/* ---- MIME ------------------------------------------------------------------ */

static const char *mime(const char *name)
{
    return web_mime_type(name, strlen(name));
}

static void test_mime(void **state)
{
    assert_string_equal(mime("index.html"), "text/html");
    assert_string_equal(mime("a/b/INDEX.HTM"), "text/html");
    assert_string_equal(mime("x.css"), "text/css");
    assert_string_equal(mime("app.js"), "text/javascript");
    assert_string_equal(mime("p.png"), "image/png");
    assert_string_equal(mime("p.JPG"), "image/jpeg");
    assert_string_equal(mime("d.json"), "application/json");
    assert_string_equal(mime("a.tar.gz"), "application/gzip");
    assert_string_equal(mime("notes.txt"), "text/plain");
    assert_string_equal(mime("f.woff2"), "font/woff2");
    assert_string_equal(mime("README"), WEB_MIME_DEFAULT);
    assert_string_equal(mime(".html"), WEB_MIME_DEFAULT);        /* hidden file */
    assert_string_equal(mime("dir/.txt"), WEB_MIME_DEFAULT);
    assert_string_equal(mime("dir.html/file"), WEB_MIME_DEFAULT); /* dot in a directory */
    assert_string_equal(mime("x."), WEB_MIME_DEFAULT);
    assert_string_equal(mime("x.unknownext"), WEB_MIME_DEFAULT);
    assert_string_equal(mime(""), WEB_MIME_DEFAULT);
}

/* ---- Dates ----------------------------------------------------------------- */

static void test_dates(void **state)
{
    char d[WEB_HTTP_DATE_LEN + 1];
    assert_int_equal(web_http_date(784111777, d), WEB_HTTP_DATE_LEN);
    assert_string_equal(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    web_http_date(0, d);
    assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 GMT");
    web_http_date(951782400, d); /* a leap day */
    assert_string_equal(d, "Tue, 29 Feb 2000 00:00:00 GMT");
    char l[32];
    web_log_date(784111777, l);
    assert_string_equal(l, "06/Nov/1994:08:49:37 +0000");

    time_t t;
    const char *same[] = {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                          "Sun Nov  6 08:49:37 1994", "  Sun, 06 Nov 1994 08:49:37 GMT  "};
    for (size_t i = 0; i < 4; i++) {
        t = 0;
        assert_int_equal(web_http_date_parse(same[i], strlen(same[i]), &t), 0);
        assert_int_equal(t, 784111777);
    }
    /* Round trip over a range of times. */
    for (time_t x = 0; x < 4102444800; x += 86400 * 37 + 3607) {
        web_http_date(x, d);
        assert_int_equal(web_http_date_parse(d, strlen(d), &t), 0);
        assert_int_equal(t, x);
    }
    const char *bad[] = {"", "garbage", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Foo 1994 08:49:37 GMT",
                         "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
                         "Sun, 06 Nov 1994 08:49:37 GMT x", "Sun, 32 Nov 1994 08:49:37 GMT",
                         "Sun Nov  6 08:49:37", "S, 06 Nov 1994 08:49:37 GMT"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (web_http_date_parse(bad[i], strlen(bad[i]), &t) != -EINVAL)
            fail_msg("accepted '%s'", bad[i]);
}

/* ---- Escaping -------------------------------------------------------------- */

static void test_escape(void **state)
{
    web_buf b = {0};
    web_html_escape(&b, "a<b>&\"c'", 8);
    web_buf_append(&b, "", 1);
    assert_string_equal(b.data, "a&lt;b&gt;&amp;&quot;c&#39;");
    web_buf_free(&b);
    web_url_encode(&b, "a b/%?#\xc3\xa9~", 10);
    web_buf_append(&b, "", 1);
    assert_string_equal(b.data, "a%20b/%25%3F%23%C3%A9~");
    web_buf_free(&b);
    web_log_escape(&b, "x\"y\\z\n\x7f", 7);
    web_buf_append(&b, "", 1);
    assert_string_equal(b.data, "x\\\"y\\\\z\\x0A\\x7F");
    web_buf_free(&b);
}

/* ---- Requests -------------------------------------------------------------- */

typedef struct seen {
    int n;
    char urls[8][64];
    int methods[8];
    bool keep_alive[8];
    char ranges[8][32];
    char hosts[8][32];
} seen;

/* Feed `data` in pieces of `step` bytes (0: all at once); record every
 * request. Returns 0, or the error status. */
static int feed_all(const char *data, size_t len, size_t step, const web_limits *lim, seen *s)
{
    web_parser wp;
    web_parser_init(&wp, lim);
    memset(s, 0, sizeof(*s));
    size_t off = 0;
    int status = 0;
    while (off < len) {
        size_t n = step && len - off > step ? step : len - off;
        /* An exact-size copy: ASan sees any read past the end. */
        char *piece = malloc(n);
        memcpy(piece, data + off, n);
        size_t used = 0;
        while (used < n) {
            ssize_t k = web_parser_feed(&wp, piece + used, n - used);
            if (k < 0) {
                status = wp.status;
                break;
            }
            used += (size_t)k;
            if (wp.complete) {
                int i = s->n++;
                snprintf(s->urls[i], sizeof(s->urls[i]), "%s", wp.req.url);
                s->methods[i] = wp.req.method;
                s->keep_alive[i] = wp.req.keep_alive;
                snprintf(s->ranges[i], sizeof(s->ranges[i]), "%s",
                         wp.req.h[WEB_H_RANGE] ? wp.req.h[WEB_H_RANGE] : "");
                snprintf(s->hosts[i], sizeof(s->hosts[i]), "%s",
                         wp.req.h[WEB_H_HOST] ? wp.req.h[WEB_H_HOST] : "");
                web_parser_next(&wp);
            }
        }
        free(piece);
        if (status)
            break;
        off += n;
    }
    web_parser_fini(&wp);
    return status;
}

static const web_limits default_limits = WEB_LIMITS_DEFAULT;

static void test_request_pipelined_every_split(void **state)
{
    const char *req = "GET /a HTTP/1.1\r\nHost: h1\r\nRange: bytes=1-2\r\n\r\n"
                      "HEAD /b%20c HTTP/1.1\r\nhOsT:  h2 \r\nContent-Length: 3\r\n\r\nxyz"
                      "GET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                      "GET /d HTTP/1.0\r\n\r\n";
    size_t len = strlen(req);
    for (size_t step = 0; step <= len; step++) {
        seen s;
        assert_int_equal(feed_all(req, len, step, &default_limits, &s), 0);
        assert_int_equal(s.n, 4);
        assert_string_equal(s.urls[0], "/a");
        assert_string_equal(s.urls[1], "/b%20c");
        assert_string_equal(s.urls[2], "/c");
        assert_string_equal(s.urls[3], "/d");
        assert_int_equal(s.methods[0], HTTP_GET);
        assert_int_equal(s.methods[1], HTTP_HEAD);
        assert_string_equal(s.hosts[0], "h1");
        assert_string_equal(s.hosts[1], "h2");
        assert_string_equal(s.ranges[0], "bytes=1-2");
        assert_string_equal(s.ranges[1], "");
        assert_true(s.keep_alive[0] && s.keep_alive[1] && s.keep_alive[2]);
        assert_false(s.keep_alive[3]); /* HTTP/1.0 without keep-alive */
    }
}

static void test_request_errors(void **state)
{
    seen s;
    const char *garbage = "\x01\x02 nonsense\r\n\r\n";
    assert_int_equal(feed_all(garbage, strlen(garbage), 0, &default_limits, &s), 400);
    const char *v2 = "GET / HTTP/2.0\r\n\r\n";
    assert_int_equal(feed_all(v2, strlen(v2), 0, &default_limits, &s), 505);
    const char *big_body = "GET / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n";
    assert_int_equal(feed_all(big_body, strlen(big_body), 0, &default_limits, &s), 413);
    const char *chunked = "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "20000\r\n";
    char *buf = malloc(200000);
    size_t n = (size_t)sprintf(buf, "%s", chunked);
    memset(buf + n, 'x', 0x20000);
    n += 0x20000;
    assert_int_equal(feed_all(buf, n, 4096, &default_limits, &s), 413);
    /* Smuggling shapes llhttp refuses. */
    const char *cl_te = "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_int_equal(feed_all(cl_te, strlen(cl_te), 0, &default_limits, &s), 400);
    const char *two_cl = "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
    assert_int_equal(feed_all(two_cl, strlen(two_cl), 0, &default_limits, &s), 400);
    const char *lf_in_url = "GET /a\rb HTTP/1.1\r\n\r\n";
    assert_int_equal(feed_all(lf_in_url, strlen(lf_in_url), 0, &default_limits, &s), 400);
    /* 431: too many bytes in the head, in one piece or dribbled. */
    n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nX-Big: ");
    memset(buf + n, 'a', 9000);
    n += 9000;
    memcpy(buf + n, "\r\n\r\n", 4);
    n += 4;
    assert_int_equal(feed_all(buf, n, 0, &default_limits, &s), 431);
    assert_int_equal(feed_all(buf, n, 7, &default_limits, &s), 431);
    /* An error past the limit is still the limit (as when dribbled). */
    buf[8500] = '\x01';
    assert_int_equal(feed_all(buf, n, 0, &default_limits, &s), 431);
    assert_int_equal(feed_all(buf, n, 1000, &default_limits, &s), 431);
    buf[8500] = 'a';
    /* A head without an end is cut at the limit too (no memory growth). */
    assert_int_equal(feed_all(buf, n - 4, 100, &default_limits, &s), 431);
    /* 431: too many fields. */
    n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 101; i++)
        n += (size_t)sprintf(buf + n, "X-%d: 1\r\n", i);
    n += (size_t)sprintf(buf + n, "\r\n");
    assert_int_equal(feed_all(buf, n, 0, &default_limits, &s), 431);
    /* Exactly at the field limit is fine. */
    n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(buf + n, "X-%d: 1\r\n", i);
    n += (size_t)sprintf(buf + n, "\r\n");
    assert_int_equal(feed_all(buf, n, 0, &default_limits, &s), 0);
    assert_int_equal(s.n, 1);
    free(buf);
    /* Methods llhttp does not know: 400 (known ones are the server's 405). */
    const char *foo = "FOO / HTTP/1.1\r\n\r\n";
    assert_int_equal(feed_all(foo, strlen(foo), 0, &default_limits, &s), 400);
    const char *post = "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab";
    assert_int_equal(feed_all(post, strlen(post), 0, &default_limits, &s), 0);
    assert_int_equal(s.methods[0], HTTP_POST);
}

static void test_request_repeated_range(void **state)
{
    seen s;
    const char *r = "GET / HTTP/1.1\r\nRange: bytes=0-1\r\nRange: bytes=3-4\r\n\r\n";
    assert_int_equal(feed_all(r, strlen(r), 0, &default_limits, &s), 0);
    assert_string_equal(s.ranges[0], ""); /* two ranges: ignored */
}

/* ---- Files: opening beneath the root, the cache ------------------------------ */

static char tmpdir[64];
static int rootfd = -1;
static char root_real[PATH_MAX];

static void put(const char *name, const char *content)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static int setup_dir(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/coil-web-test.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    rootfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0 || !realpath(tmpdir, root_real))
        return -1;
    return 0;
}

static int teardown_dir(void **state)
{
    char cmd[128];
    close(rootfd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_open_beneath(void **state)
{
    char p[PATH_MAX];
    put("f.txt", "x");
    snprintf(p, sizeof(p), "%s/sub", tmpdir);
    mkdir(p, 0755);
    put("sub/g.txt", "y");
    snprintf(p, sizeof(p), "%s/out", tmpdir);
    assert_int_equal(symlink("/etc/passwd", p), 0);
    snprintf(p, sizeof(p), "%s/sub/up", tmpdir);
    assert_int_equal(symlink("../../", p), 0);
    snprintf(p, sizeof(p), "%s/in", tmpdir);
    assert_int_equal(symlink("sub/g.txt", p), 0);

    int fd = web_open_beneath(rootfd, root_real, "f.txt");
    assert_true(fd >= 0);
    close(fd);
    fd = web_open_beneath(rootfd, root_real, "in"); /* a symlink staying inside */
    assert_true(fd >= 0);
    close(fd);
    fd = web_open_beneath(rootfd, root_real, "");
    assert_true(fd >= 0);
    close(fd);
    assert_true(web_open_beneath(rootfd, root_real, "out") < 0);
    assert_true(web_open_beneath(rootfd, root_real, "sub/up/etc/passwd") < 0);
    assert_true(web_open_beneath(rootfd, root_real, "../etc/passwd") < 0);
    assert_int_equal(web_open_beneath(rootfd, root_real, "nope"), -ENOENT);
}

static void test_cache(void **state)
{
    web_cache *c;
    web_cache_options o = {.max_entries = 2, .max_bytes = 4, .ttl = 1.0};
    assert_int_equal(web_cache_new(&c, rootfd, root_real, &o), 0);
    put("a", "abc");
    put("b", "bbbbbbbb"); /* over max_bytes: not kept in memory */
    put("c", "c");
    web_file *f, *g;
    assert_int_equal(web_cache_get(c, "a", 0, &f), 0);
    assert_non_null(f->bytes);
    assert_memory_equal(f->bytes, "abc", 3);
    assert_int_equal(web_cache_get(c, "a", 0.5, &g), 0);
    assert_ptr_equal(f, g); /* a hit */
    web_file_unref(g);
    assert_int_equal(web_cache_get(c, "b", 0.5, &g), 0);
    assert_null(g->bytes);
    assert_int_equal(g->st.st_size, 8);
    web_file_unref(g);
    /* Changed within the TTL: still the old entry; after it: the new file. */
    put("a", "abcdef");
    assert_int_equal(web_cache_get(c, "a", 0.9, &g), 0);
    assert_ptr_equal(f, g);
    web_file_unref(g);
    assert_int_equal(web_cache_get(c, "a", 2.0, &g), 0);
    assert_ptr_not_equal(f, g);
    assert_int_equal(g->st.st_size, 6);
    /* The old entry is still usable by whoever holds it. */
    assert_memory_equal(f->bytes, "abc", 3);
    web_file_unref(f);
    web_file_unref(g);
    /* Eviction beyond max_entries; an unchanged file survives the TTL. */
    assert_int_equal(web_cache_get(c, "c", 2.0, &g), 0);
    web_file_unref(g);
    assert_int_equal(web_cache_get(c, "c", 5.0, &f), 0);
    web_file_unref(f);
    /* Removed: gone after the TTL. */
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/c", tmpdir);
    unlink(p);
    assert_int_equal(web_cache_get(c, "c", 9.0, &g), -ENOENT);
    assert_int_equal(web_cache_get(c, "sub", 9.0, &g), -EISDIR);
    assert_int_equal(web_cache_get(c, "f.txt/x", 9.0, &g), -ENOTDIR);
    snprintf(p, sizeof(p), "%s/fifo", tmpdir);
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_int_equal(web_cache_get(c, "fifo", 9.0, &g), -ENOENT); /* never blocks */
    web_cache_free(c);
    /* No caching at all. */
    o.max_entries = 0;
    assert_int_equal(web_cache_new(&c, rootfd, root_real, &o), 0);
    assert_int_equal(web_cache_get(c, "a", 0, &f), 0);
    assert_int_equal(web_cache_get(c, "a", 0, &g), 0);
    assert_ptr_not_equal(f, g);
    web_file_unref(f);
    web_file_unref(g);
    web_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_mime),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_request_pipelined_every_split),
        cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_request_repeated_range),
        cmocka_unit_test(test_open_beneath),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests_name("web", tests, setup_dir, teardown_dir);
}
