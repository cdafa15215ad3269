/* SPDX-License-Identifier: MIT */
/*
 * The framing receivers of <coil/basic.h>, driven without a transport: the
 * vectors of Twisted 22.4's protocols/test/test_basic.py (LineTester,
 * FlippingLineTester, clearLineBuffer, MAX_LENGTH boundaries, netstrings,
 * Int32/16/8), a sample stream cut at every split point, mode switches in
 * the middle of a buffer, re-entrant feeding and pausing.
 *
 * Every chunk is handed over in an exact-size heap copy freed right after
 * the call, so AddressSanitizer reports a receiver that reads past a chunk
 * or keeps a pointer into it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <coil/basic.h>
#include <coil/error.h>

#define L(s) (sizeof(s) - 1)

/* ---- a list of byte strings (Twisted's `received`) ------------------------ */

typedef struct strlist {
    char *s[512];
    size_t n[512];
    size_t count;
} strlist;

static void sl_push(strlist *l, const void *data, size_t len)
{
    assert_true(l->count < 512);
    l->s[l->count] = malloc(len + 1);
    assert_non_null(l->s[l->count]);
    if (len)
        memcpy(l->s[l->count], data, len);
    l->s[l->count][len] = '\0';
    l->n[l->count++] = len;
}

static void sl_append_last(strlist *l, const void *data, size_t len)
{
    assert_true(l->count > 0);
    size_t i = l->count - 1;
    l->s[i] = realloc(l->s[i], l->n[i] + len + 1);
    assert_non_null(l->s[i]);
    memcpy(l->s[i] + l->n[i], data, len);
    l->n[i] += len;
    l->s[i][l->n[i]] = '\0';
}

static void sl_free(strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->s[i]);
    l->count = 0;
}

/* Compare with a NULL-terminated list of C strings. */
static void sl_expect(const strlist *l, const char *const *want)
{
    size_t i = 0;
    for (; want[i]; i++) {
        if (i >= l->count)
            fail_msg("only %zu strings received, want \"%s\" next", l->count, want[i]);
        if (l->n[i] != strlen(want[i]) || memcmp(l->s[i], want[i], l->n[i]) != 0)
            fail_msg("string %zu: got \"%.*s\", want \"%s\"", i, (int)l->n[i], l->s[i], want[i]);
    }
    if (l->count != i)
        fail_msg("%zu strings received, want %zu (extra: \"%s\")", l->count, i, l->s[i]);
}

/* Feed `len` bytes in chunks of `size`, each in an exact-size heap copy. */
typedef void (*feed_fn)(void *r, const void *data, size_t len);
static void feed_chunks(feed_fn fn, void *r, const void *data, size_t len, size_t size)
{
    const char *p = data;
    for (size_t off = 0; off < len; off += size) {
        size_t n = len - off < size ? len - off : size;
        char *c = malloc(n);
        assert_non_null(c);
        memcpy(c, p + off, n);
        fn(r, c, n);
        free(c);
    }
}

static void feed_lr(void *r, const void *data, size_t len)
{
    coil_line_receiver_data_received(r, data, len);
}

static void feed_lo(void *r, const void *data, size_t len)
{
    coil_line_only_receiver_data_received(r, data, len);
}

static void feed_ns(void *r, const void *data, size_t len)
{
    coil_netstring_receiver_data_received(r, data, len);
}

static void feed_in(void *r, const void *data, size_t len)
{
    coil_intn_receiver_data_received(r, data, len);
}

/* ---- Twisted's LineTester ---------------------------------------------- */

typedef struct tester {
    coil_line_receiver lr;
    strlist received;
    size_t length;
    bool resume_pending;
} tester;

static bool is(const char *line, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(line, word, len) == 0;
}

static void tester_line(coil_line_receiver *lr, const char *line, size_t len)
{
    tester *t = (tester *)lr;
    sl_push(&t->received, line, len);
    if (len == 0) {
        coil_line_receiver_set_raw_mode(lr);
    } else if (is(line, len, "pause")) {
        coil_line_receiver_pause_producing(lr);
        t->resume_pending = true; /* Twisted: callLater(0, resumeProducing) */
    } else if (is(line, len, "rawpause")) {
        coil_line_receiver_pause_producing(lr);
        coil_line_receiver_set_raw_mode(lr);
        sl_push(&t->received, "", 0);
        t->resume_pending = true;
    } else if (is(line, len, "stop")) {
        coil_line_receiver_stop_producing(lr);
    } else if (len >= 4 && memcmp(line, "len ", 4) == 0) {
        char num[32] = {0};
        memcpy(num, line + 4, len - 4 < 31 ? len - 4 : 31);
        t->length = (size_t)strtoul(num, NULL, 10);
    }
}

static void tester_raw(coil_line_receiver *lr, const void *data, size_t len)
{
    tester *t = (tester *)lr;
    size_t take = len < t->length ? len : t->length;
    sl_append_last(&t->received, data, take);
    t->length -= take;
    if (t->length == 0)
        coil_line_receiver_set_line_mode(lr, (const char *)data + take, len - take);
}

static void tester_exceeded(coil_line_receiver *lr, const char *data, size_t len)
{
    if (len > lr->max_length + 1)
        coil_line_receiver_set_line_mode(lr, data + lr->max_length + 1, len - lr->max_length - 1);
}

static const coil_line_receiver_ops tester_ops = {
    .line_received = tester_line,
    .raw_data_received = tester_raw,
    .line_length_exceeded = tester_exceeded,
};

static void tester_init(tester *t)
{
    memset(t, 0, sizeof(*t));
    coil_line_receiver_init(&t->lr, &tester_ops);
    assert_int_equal(coil_line_receiver_set_delimiter(&t->lr, "\n", 1), 0);
    t->lr.max_length = 64;
}

static void tester_free(tester *t)
{
    coil_line_receiver_release(&t->lr);
    sl_free(&t->received);
}

static const char tester_buffer[] =
    "len 10\n"
    "\n"
    "0123456789len 5\n"
    "\n"
    "1234\n"
    "len 20\n"
    "foo 123\n"
    "\n"
    "0123456789\n"
    "012345678len 0\n"
    "foo 5\n"
    "\n"
    "1234567890123456789012345678901234567890123456789012345678901234567890\n"
    "len 1\n"
    "\n"
    "a";

static const char *const tester_output[] = {
    "len 10", "0123456789", "len 5", "1234\n", "len 20", "foo 123", "0123456789\n012345678",
    "len 0",  "foo 5",      "",      "67890",  "len 1",  "a",       NULL};

/* test_buffer: raw/line switches and an over-long line, chunks of 1..9. */
static void test_twisted_line_tester_buffer(void **state)
{
    for (size_t size = 1; size < 10; size++) {
        tester t;
        tester_init(&t);
        feed_chunks(feed_lr, &t.lr, tester_buffer, L(tester_buffer), size);
        sl_expect(&t.received, tester_output);
        tester_free(&t);
    }
}

/* test_pausing: nothing after "pause" until resume, then the rest. */
static void test_twisted_pausing(void **state)
{
    static const char buf[] = "twiddle1\ntwiddle2\npause\ntwiddle3\n";
    static const char *const out1[] = {"twiddle1", "twiddle2", "pause", NULL};
    static const char *const out2[] = {"twiddle1", "twiddle2", "pause", "twiddle3", NULL};
    for (size_t size = 1; size < 10; size++) {
        tester t;
        tester_init(&t);
        feed_chunks(feed_lr, &t.lr, buf, L(buf), size);
        sl_expect(&t.received, out1);
        assert_true(t.resume_pending);
        coil_line_receiver_resume_producing(&t.lr);
        sl_expect(&t.received, out2);
        tester_free(&t);
    }
}

/* test_rawPausing: pause and switch to raw inside line_received. */
static void test_twisted_raw_pausing(void **state)
{
    static const char buf[] = "twiddle1\ntwiddle2\nlen 5\nrawpause\n12345twiddle3\n";
    static const char *const out1[] = {"twiddle1", "twiddle2", "len 5", "rawpause", "", NULL};
    static const char *const out2[] = {"twiddle1", "twiddle2", "len 5", "rawpause",
                                       "12345",    "twiddle3", NULL};
    for (size_t size = 1; size < 10; size++) {
        tester t;
        tester_init(&t);
        feed_chunks(feed_lr, &t.lr, buf, L(buf), size);
        sl_expect(&t.received, out1);
        coil_line_receiver_resume_producing(&t.lr);
        sl_expect(&t.received, out2);
        tester_free(&t);
    }
}

/* test_stopProducing: nothing after "stop". */
static void test_twisted_stop_producing(void **state)
{
    static const char buf[] = "twiddle1\ntwiddle2\nstop\nmore\nstuff\n";
    static const char *const out[] = {"twiddle1", "twiddle2", "stop", NULL};
    for (size_t size = 1; size < 10; size++) {
        tester t;
        tester_init(&t);
        feed_chunks(feed_lr, &t.lr, buf, L(buf), size);
        sl_expect(&t.received, out);
        tester_free(&t);
    }
}

/* ---- clearLineBuffer ---------------------------------------------------- */

typedef struct clearing {
    coil_line_receiver lr;
    strlist lines, rests;
} clearing;

static void clearing_line(coil_line_receiver *lr, const char *line, size_t len)
{
    clearing *c = (clearing *)lr;
    sl_push(&c->lines, line, len);
    char *rest = NULL;
    size_t n = 99;
    assert_int_equal(coil_line_receiver_clear_line_buffer(lr, &rest, &n), 0);
    sl_push(&c->rests, rest ? rest : "", n);
    if (rest)
        assert_int_equal(rest[n], '\0');
    free(rest);
    /* The line stays readable after the buffer was taken. */
    sl_append_last(&c->lines, line, 0);
    assert_memory_equal(c->lines.s[c->lines.count - 1], line, len);
}

static const coil_line_receiver_ops clearing_ops = {.line_received = clearing_line};

static void test_twisted_clear_line_buffer(void **state)
{
    clearing c = {0};
    coil_line_receiver_init(&c.lr, &clearing_ops);
    feed_chunks(feed_lr, &c.lr, "foo\r\nbar\r\nbaz", 13, 13);
    sl_expect(&c.lines, (const char *const[]){"foo", NULL});
    sl_expect(&c.rests, (const char *const[]){"bar\r\nbaz", NULL});
    assert_int_equal(coil_line_receiver_buffered(&c.lr), 0);
    /* The cleared bytes are really gone. */
    feed_chunks(feed_lr, &c.lr, "quux\r\n", 6, 6);
    sl_expect(&c.lines, (const char *const[]){"foo", "quux", NULL});
    sl_expect(&c.rests, (const char *const[]){"bar\r\nbaz", "", NULL});
    coil_line_receiver_release(&c.lr);
    sl_free(&c.lines);
    sl_free(&c.rests);
}

/* Outside a callback: hands back a partial line. */
static void test_clear_line_buffer_outside(void **state)
{
    coil_line_receiver lr;
    coil_line_receiver_init(&lr, NULL);
    coil_line_receiver_data_received(&lr, "partial", 7);
    assert_int_equal(coil_line_receiver_buffered(&lr), 7);
    char *rest;
    size_t n;
    assert_int_equal(coil_line_receiver_clear_line_buffer(&lr, &rest, &n), 0);
    assert_int_equal(n, 7);
    assert_string_equal(rest, "partial");
    free(rest);
    assert_int_equal(coil_line_receiver_buffered(&lr), 0);
    assert_int_equal(coil_line_receiver_clear_line_buffer(&lr, &rest, &n), 0);
    assert_null(rest);
    assert_int_equal(n, 0);
    coil_line_receiver_release(&lr);
}

/* ---- FlippingLineTester: switching modes on every byte ------------------- */

typedef struct flipper {
    coil_line_receiver lr;
    strlist lines;
} flipper;

static void flipper_line(coil_line_receiver *lr, const char *line, size_t len)
{
    sl_push(&((flipper *)lr)->lines, line, len);
    coil_line_receiver_set_raw_mode(lr);
}

static void flipper_raw(coil_line_receiver *lr, const void *data, size_t len)
{
    coil_line_receiver_set_line_mode(lr, (const char *)data + 1, len - 1);
}

static const coil_line_receiver_ops flipper_ops = {.line_received = flipper_line,
                                                   .raw_data_received = flipper_raw};

/* test_stackRecursion: 100000 switches in one buffer, no recursion. */
static void test_twisted_stack_recursion(void **state)
{
    enum { N = 100000 };
    char *buf = malloc(3 * N);
    assert_non_null(buf);
    for (size_t i = 0; i < N; i++)
        memcpy(buf + 3 * i, "x\nx", 3);
    flipper *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    coil_line_receiver_init(&f->lr, &flipper_ops);
    coil_line_receiver_set_delimiter(&f->lr, "\n", 1);
    /* strlist holds 512 strings: count and check instead. */
    size_t lines = 0, xs = 0;
    for (size_t off = 0; off < 3 * (size_t)N; off += 3 * 256) {
        size_t n = 3 * (size_t)N - off < 3 * 256 ? 3 * (size_t)N - off : 3 * 256;
        feed_chunks(feed_lr, &f->lr, buf + off, n, n);
        for (size_t i = 0; i < f->lines.count; i++) {
            lines++;
            xs += f->lines.n[i];
            assert_true(f->lines.n[i] == 1 && f->lines.s[i][0] == 'x');
        }
        sl_free(&f->lines);
    }
    assert_int_equal(lines, N);
    assert_int_equal(xs, N);
    coil_line_receiver_release(&f->lr);
    free(f);
    free(buf);
}

/* ---- MAX_LENGTH boundaries ---------------------------------------------- */

typedef struct catcher {
    coil_line_receiver lr;
    strlist lines, long_lines;
} catcher;

static void catcher_line(coil_line_receiver *lr, const char *line, size_t len)
{
    sl_push(&((catcher *)lr)->lines, line, len);
}

static void catcher_long(coil_line_receiver *lr, const char *data, size_t len)
{
    sl_push(&((catcher *)lr)->long_lines, data, len);
}

static const coil_line_receiver_ops catcher_ops = {.line_received = catcher_line,
                                                   .line_length_exceeded = catcher_long};
/* Same, with the default (log and lose the connection) for overflow. */
static const coil_line_receiver_ops catcher_default_ops = {.line_received = catcher_line};

static void catcher_init(catcher *c, size_t max, const coil_line_receiver_ops *ops)
{
    memset(c, 0, sizeof(*c));
    coil_line_receiver_init(&c->lr, ops);
    if (max)
        c->lr.max_length = max;
}

static void catcher_free(catcher *c)
{
    coil_line_receiver_release(&c->lr);
    sl_free(&c->lines);
    sl_free(&c->long_lines);
}

static char *xs(size_t n, const char *tail)
{
    size_t t = strlen(tail);
    char *s = malloc(n + t + 1);
    assert_non_null(s);
    memset(s, 'x', n);
    memcpy(s + n, tail, t + 1);
    return s;
}

/* A line of exactly max_length is accepted, max_length + 1 is not (with
 * the default handler: error -EMSGSIZE, which closes a connection). */
static void test_max_length_boundary(void **state)
{
    catcher c;
    catcher_init(&c, 0, &catcher_default_ops);
    assert_int_equal(c.lr.max_length, 16384);
    char *ok = xs(16384, "\r\n");
    feed_chunks(feed_lr, &c.lr, ok, strlen(ok), 4096);
    assert_int_equal(c.lines.count, 1);
    assert_int_equal(c.lines.n[0], 16384);
    assert_int_equal(coil_line_receiver_error(&c.lr), 0);
    free(ok);
    catcher_free(&c);

    /* Twisted's vector: x * 16385 + "\r\nr" -> exceeded with 16388 bytes. */
    catcher_init(&c, 0, &catcher_ops);
    char *bad = xs(16385, "\r\nr");
    feed_chunks(feed_lr, &c.lr, bad, strlen(bad), strlen(bad));
    assert_int_equal(c.lines.count, 0);
    assert_int_equal(c.long_lines.count, 1);
    assert_int_equal(c.long_lines.n[0], 16388);
    assert_memory_equal(c.long_lines.s[0], bad, 16388);
    assert_int_equal(coil_line_receiver_error(&c.lr), -EMSGSIZE);
    assert_int_equal(coil_line_receiver_buffered(&c.lr), 0);
    free(bad);
    catcher_free(&c);

    catcher_init(&c, 0, &catcher_default_ops);
    bad = xs(16385, "\r\nr");
    feed_chunks(feed_lr, &c.lr, bad, strlen(bad), 1000);
    assert_int_equal(coil_line_receiver_error(&c.lr), -EMSGSIZE);
    assert_int_equal(c.lines.count, 0);
    free(bad);
    catcher_free(&c);
}

/* test_notQuiteMaximumLineLengthUnfinished / test_maximumLineLengthRemaining:
 * an unterminated buffer is too long only at max_length + len(delimiter). */
static void test_max_length_unfinished(void **state)
{
    catcher c;
    catcher_init(&c, 0, &catcher_ops);
    char *s = xs(16384, "\r");
    feed_chunks(feed_lr, &c.lr, s, strlen(s), 1);
    assert_int_equal(c.long_lines.count, 0);
    assert_int_equal(coil_line_receiver_buffered(&c.lr), 16385);
    coil_line_receiver_data_received(&c.lr, "x", 1); /* 16386 bytes, no CRLF */
    assert_int_equal(c.long_lines.count, 1);
    assert_int_equal(c.long_lines.n[0], 16386);
    free(s);
    catcher_free(&c);

    catcher_init(&c, 0, &catcher_ops);
    s = xs(16384 + 2, "");
    feed_chunks(feed_lr, &c.lr, s, strlen(s), strlen(s));
    assert_int_equal(c.long_lines.count, 1);
    free(s);
    catcher_free(&c);
}

/* test_maximumLineLengthPartialDelimiter: max_length 4, "xxx", "\n"
 * split... with "\r\n": "xxx" "\r" "\nxxx" gives one line and no error. */
static void test_max_length_partial_delimiter(void **state)
{
    tester t;
    tester_init(&t);
    t.lr.max_length = 4;
    coil_line_receiver_set_delimiter(&t.lr, "\r\n", 2);
    coil_line_receiver_data_received(&t.lr, "xxx", 3);
    coil_line_receiver_data_received(&t.lr, "\r", 1);
    coil_line_receiver_data_received(&t.lr, "\nxxx", 4);
    sl_expect(&t.received, (const char *const[]){"xxx", NULL});
    assert_int_equal(coil_line_receiver_error(&t.lr), 0);
    tester_free(&t);

    /* Exactly max_length then a split delimiter: no error either. */
    catcher c;
    catcher_init(&c, 4, &catcher_default_ops);
    coil_line_receiver_data_received(&c.lr, "xxxx\r", 5);
    assert_int_equal(coil_line_receiver_error(&c.lr), 0);
    coil_line_receiver_data_received(&c.lr, "\n", 1);
    assert_int_equal(c.lines.count, 1);
    assert_int_equal(c.lines.n[0], 4);
    catcher_free(&c);
}

/* LineReceiverLineLengthExceededTests (MAX_LENGTH 6). */
static void test_twisted_line_length_exceeded(void **state)
{
    catcher c;
    char *excessive = xs(14, "");

    catcher_init(&c, 6, &catcher_ops); /* test_longUnendedLine */
    feed_chunks(feed_lr, &c.lr, excessive, 14, 14);
    sl_expect(&c.long_lines, (const char *const[]){excessive, NULL});
    catcher_free(&c);

    catcher_init(&c, 6, &catcher_ops); /* test_longLineAfterShortLine */
    char *s = malloc(64);
    snprintf(s, 64, "x\r\n%s", excessive);
    feed_chunks(feed_lr, &c.lr, s, strlen(s), strlen(s));
    sl_expect(&c.lines, (const char *const[]){"x", NULL});
    sl_expect(&c.long_lines, (const char *const[]){excessive, NULL});
    catcher_free(&c);

    catcher_init(&c, 6, &catcher_ops); /* test_longLineWithDelimiter */
    snprintf(s, 64, "%s\r\n%s", excessive, excessive);
    feed_chunks(feed_lr, &c.lr, s, strlen(s), strlen(s));
    sl_expect(&c.long_lines, (const char *const[]){s, NULL});
    catcher_free(&c);

    catcher_init(&c, 6, &catcher_ops); /* test_multipleLongLines */
    snprintf(s, 64, "%s\r\n%s\r\n", excessive, excessive);
    feed_chunks(feed_lr, &c.lr, s, strlen(s), strlen(s));
    sl_expect(&c.long_lines, (const char *const[]){s, NULL});
    assert_int_equal(c.lines.count, 0);
    catcher_free(&c);
    free(s);
    free(excessive);
}

/* ---- every split point of a sample stream ------------------------------- */

static const char sample[] = "GET / HTTP/1.0\r\n\r\nbare\nLF stays\r\n\r\r\n"
                             "a\r\nbb\r\n\r\n\r\nlast line\r\npartial";
static const char *const sample_lines[] = {
    "GET / HTTP/1.0", "", "bare\nLF stays", "\r", "a", "bb", "", "", "last line", NULL};

static void expect_sample(catcher *c)
{
    sl_expect(&c->lines, sample_lines);
    assert_int_equal(coil_line_receiver_buffered(&c->lr), 7); /* "partial" */
    assert_int_equal(c->long_lines.count, 0);
}

static void test_every_split_point(void **state)
{
    size_t n = L(sample);
    for (size_t i = 0; i <= n; i++) {
        for (size_t j = i; j <= n; j++) {
            catcher c;
            catcher_init(&c, 0, &catcher_ops);
            feed_chunks(feed_lr, &c.lr, sample, i, i ? i : 1);
            feed_chunks(feed_lr, &c.lr, sample + i, j - i, j - i ? j - i : 1);
            feed_chunks(feed_lr, &c.lr, sample + j, n - j, n - j ? n - j : 1);
            expect_sample(&c);
            catcher_free(&c);
        }
    }
    /* One byte at a time. */
    catcher c;
    catcher_init(&c, 0, &catcher_ops);
    feed_chunks(feed_lr, &c.lr, sample, n, 1);
    expect_sample(&c);
    catcher_free(&c);
}

/* A 3-byte delimiter whose prefix repeats ("aab" in "aaab"), at every
 * split point. */
static void test_long_delimiter_split_points(void **state)
{
    static const char s[] = "xaaabyaabzaab";
    static const char *const want[] = {"xa", "y", "z", NULL};
    for (size_t i = 0; i <= L(s); i++) {
        catcher c;
        catcher_init(&c, 0, &catcher_ops);
        assert_int_equal(coil_line_receiver_set_delimiter(&c.lr, "aab", 3), 0);
        feed_chunks(feed_lr, &c.lr, s, i, i ? i : 1);
        feed_chunks(feed_lr, &c.lr, s + i, L(s) - i, L(s) - i ? L(s) - i : 1);
        sl_expect(&c.lines, want);
        catcher_free(&c);
    }
    coil_line_receiver lr;
    coil_line_receiver_init(&lr, NULL);
    assert_int_equal(coil_line_receiver_set_delimiter(&lr, "", 0), -EINVAL);
    assert_int_equal(coil_line_receiver_set_delimiter(&lr, "0123456789abcdefg", 17), -EINVAL);
    assert_int_equal(coil_line_receiver_set_delimiter(&lr, "0123456789abcdef", 16), 0);
    coil_line_receiver_release(&lr);
}

/* ---- raw/line switching in the middle of a buffer ------------------------ */

typedef struct switcher {
    coil_line_receiver lr;
    strlist ev; /* "L:line" or "R:raw" */
    size_t raw_left;
} switcher;

static void switcher_line(coil_line_receiver *lr, const char *line, size_t len)
{
    switcher *s = (switcher *)lr;
    char tmp[256];
    int n = snprintf(tmp, sizeof(tmp), "L:%.*s", (int)len, line);
    sl_push(&s->ev, tmp, (size_t)n);
    if (len > 4 && memcmp(line, "RAW ", 4) == 0) {
        s->raw_left = (size_t)atoi(line + 4);
        coil_line_receiver_set_raw_mode(lr);
    }
}

static void switcher_raw(coil_line_receiver *lr, const void *data, size_t len)
{
    switcher *s = (switcher *)lr;
    size_t take = len < s->raw_left ? len : s->raw_left;
    char tmp[256];
    int n = snprintf(tmp, sizeof(tmp), "R:%.*s", (int)take, (const char *)data);
    sl_push(&s->ev, tmp, (size_t)n);
    s->raw_left -= take;
    if (s->raw_left == 0)
        coil_line_receiver_set_line_mode(lr, (const char *)data + take, len - take);
}

static const coil_line_receiver_ops switcher_ops = {.line_received = switcher_line,
                                                    .raw_data_received = switcher_raw};

/* Every byte is delivered exactly once, in order, whatever the split. */
static void test_mode_switch_every_split(void **state)
{
    static const char s[] = "a\r\nRAW 5\r\n12\r\n4b\r\nRAW 3\r\nxyzRAW 0\r\nc\r\n";
    for (size_t i = 0; i <= L(s); i++) {
        switcher w = {0};
        coil_line_receiver_init(&w.lr, &switcher_ops);
        feed_chunks(feed_lr, &w.lr, s, i, i ? i : 1);
        feed_chunks(feed_lr, &w.lr, s + i, L(s) - i, L(s) - i ? L(s) - i : 1);
        /* Raw bytes may arrive in pieces: join consecutive raw events. */
        char joined[512] = "";
        for (size_t k = 0; k < w.ev.count; k++) {
            bool cont = k > 0 && w.ev.s[k][0] == 'R' && w.ev.s[k - 1][0] == 'R';
            strcat(joined, cont ? w.ev.s[k] + 2 : (k ? "|" : ""));
            if (!cont)
                strcat(joined, w.ev.s[k]);
        }
        if (strcmp(joined, "L:a|L:RAW 5|R:12\r\n4|L:b|L:RAW 3|R:xyz|L:RAW 0|R:|L:c") != 0)
            fail_msg("split %zu: %s", i, joined);
        coil_line_receiver_release(&w.lr);
        sl_free(&w.ev);
    }
}

/* set_line_mode(extra) from outside a callback parses extra at once. */
static void test_set_line_mode_outside(void **state)
{
    catcher c;
    catcher_init(&c, 0, &catcher_ops);
    coil_line_receiver_set_raw_mode(&c.lr);
    coil_line_receiver_set_line_mode(&c.lr, "one\r\ntw", 7);
    sl_expect(&c.lines, (const char *const[]){"one", NULL});
    coil_line_receiver_data_received(&c.lr, "o\r\n", 3);
    sl_expect(&c.lines, (const char *const[]){"one", "two", NULL});
    catcher_free(&c);
}

/* ---- re-entrant feeding: queued, delivered after the current line -------- */

typedef struct feeder {
    coil_line_receiver lr;
    strlist lines;
} feeder;

static void feeder_line(coil_line_receiver *lr, const char *line, size_t len)
{
    feeder *f = (feeder *)lr;
    sl_push(&f->lines, line, len);
    if (is(line, len, "feed")) {
        /* Big enough to move any buffer the receiver might realloc. */
        char *more = xs(5000, "\r\nafter\r\n");
        coil_line_receiver_data_received(lr, more, strlen(more));
        free(more);
        /* The line is still intact. */
        assert_memory_equal(line, "feed", 4);
    }
}

static const coil_line_receiver_ops feeder_ops = {.line_received = feeder_line};

static void test_reentrant_feed(void **state)
{
    /* Fed while "feed" is delivered: after what was already received
     * ("next" in the same chunk), before what comes later. */
    char *x = xs(5000, "");
    for (int whole = 0; whole < 2; whole++) {
        feeder f = {0};
        coil_line_receiver_init(&f.lr, &feeder_ops);
        if (whole) {
            feed_chunks(feed_lr, &f.lr, "feed\r\nnext\r\n", 12, 12);
            sl_expect(&f.lines, (const char *const[]){"feed", "next", x, "after", NULL});
        } else {
            feed_chunks(feed_lr, &f.lr, "feed\r\n", 6, 6);
            feed_chunks(feed_lr, &f.lr, "next\r\n", 6, 6);
            sl_expect(&f.lines, (const char *const[]){"feed", x, "after", "next", NULL});
        }
        coil_line_receiver_release(&f.lr);
        sl_free(&f.lines);
    }
    free(x);
}

/* Pausing from outside: nothing is delivered while paused, even data fed
 * meanwhile; resume delivers everything in order. */
static void test_pause_outside(void **state)
{
    catcher c;
    catcher_init(&c, 0, &catcher_ops);
    coil_line_receiver_pause_producing(&c.lr);
    coil_line_receiver_data_received(&c.lr, "a\r\nb\r\n", 6);
    assert_int_equal(c.lines.count, 0);
    assert_int_equal(coil_line_receiver_buffered(&c.lr), 6);
    coil_line_receiver_data_received(&c.lr, "c\r\n", 3);
    assert_int_equal(c.lines.count, 0);
    coil_producer *p = coil_line_receiver_producer(&c.lr);
    p->ops->resume_producing(p);
    sl_expect(&c.lines, (const char *const[]){"a", "b", "c", NULL});
    p->ops->pause_producing(p);
    coil_line_receiver_data_received(&c.lr, "d\r\n", 3);
    assert_int_equal(c.lines.count, 3);
    coil_line_receiver_resume_producing(&c.lr);
    assert_int_equal(c.lines.count, 4);
    catcher_free(&c);
}

/* After release nothing is delivered or kept. */
static void test_release(void **state)
{
    catcher c;
    catcher_init(&c, 0, &catcher_ops);
    coil_line_receiver_data_received(&c.lr, "abc", 3);
    coil_line_receiver_release(&c.lr);
    coil_line_receiver_data_received(&c.lr, "\r\n", 2);
    assert_int_equal(c.lines.count, 0);
    assert_int_equal(coil_line_receiver_buffered(&c.lr), 0);
    assert_int_equal(coil_line_receiver_send_line(&c.lr, "x", 1), -ENOTCONN);
    assert_int_equal(coil_line_receiver_send_linef(&c.lr, "%d", 1), -ENOTCONN);
    coil_line_receiver_release(&c.lr);
    catcher_free(&c);
}

/* ---- LineOnlyReceiver -------------------------------------------------- */

typedef struct only {
    coil_line_only_receiver lr;
    strlist lines, long_lines;
} only;

static void only_line(coil_line_only_receiver *lr, const char *line, size_t len)
{
    sl_push(&((only *)lr)->lines, line, len);
}

static void only_long(coil_line_only_receiver *lr, const char *data, size_t len)
{
    sl_push(&((only *)lr)->long_lines, data, len);
}

static const coil_line_only_receiver_ops only_ops = {.line_received = only_line,
                                                     .line_length_exceeded = only_long};

static void only_init(only *o, const char *delim, size_t max)
{
    memset(o, 0, sizeof(*o));
    coil_line_only_receiver_init(&o->lr, &only_ops);
    if (delim)
        coil_line_only_receiver_set_delimiter(&o->lr, delim, strlen(delim));
    if (max)
        o->lr.max_length = max;
}

static void only_free(only *o)
{
    coil_line_only_receiver_release(&o->lr);
    sl_free(&o->lines);
    sl_free(&o->long_lines);
}

/* LineOnlyReceiverTests.test_buffer: one byte at a time. */
static void test_twisted_line_only_buffer(void **state)
{
    static const char buf[] = "foo\n    bleakness\n    desolation\n    plastic forks\n    ";
    only o;
    only_init(&o, "\n", 64);
    feed_chunks(feed_lo, &o.lr, buf, L(buf), 1);
    sl_expect(&o.lines, (const char *const[]){"foo", "    bleakness", "    desolation",
                                              "    plastic forks", NULL});
    only_free(&o);
}

/* LineOnly's limits: an unterminated buffer is too long at max+len(delim); a long
 * line is reported alone and the complete lines after it are dropped. */
static void test_line_only_limits(void **state)
{
    only o;
    only_init(&o, "\n", 64);
    char *s = xs(64, "");
    feed_chunks(feed_lo, &o.lr, s, 64, 64);
    assert_int_equal(o.long_lines.count, 0);
    coil_line_only_receiver_data_received(&o.lr, "y", 1);
    assert_int_equal(o.long_lines.count, 1);
    assert_int_equal(o.long_lines.n[0], 65);
    assert_int_equal(coil_line_only_receiver_error(&o.lr), -EMSGSIZE);
    free(s);
    only_free(&o);

    only_init(&o, "\n", 4);
    feed_chunks(feed_lo, &o.lr, "ok\nxxxxx\ndropped\nkept", 21, 21);
    sl_expect(&o.lines, (const char *const[]){"ok", NULL});
    sl_expect(&o.long_lines, (const char *const[]){"xxxxx", NULL});
    coil_line_only_receiver_data_received(&o.lr, "\n", 1);
    sl_expect(&o.lines, (const char *const[]){"ok", "kept", NULL});
    only_free(&o);

    /* With CRLF, a line of exactly max_length whose "\r\n" is split across
     * reads is accepted (Twisted would report "xxxx\r"); 6 bytes are not. */
    only_init(&o, NULL, 4);
    coil_line_only_receiver_data_received(&o.lr, "xxxx\r", 5);
    coil_line_only_receiver_data_received(&o.lr, "\n", 1);
    sl_expect(&o.lines, (const char *const[]){"xxxx", NULL});
    coil_line_only_receiver_data_received(&o.lr, "xxxxx\r", 6);
    sl_expect(&o.long_lines, (const char *const[]){"xxxxx\r", NULL});
    only_free(&o);

    /* Twisted's test_greaterThanMaximumLineLength with the default handler. */
    coil_line_only_receiver lo;
    coil_line_only_receiver_init(&lo, NULL);
    s = xs(16384 + 2 + 1, "\r\nr");
    feed_chunks(feed_lo, &lo, s, strlen(s), strlen(s));
    assert_int_equal(coil_line_only_receiver_error(&lo), -EMSGSIZE);
    free(s);
    coil_line_only_receiver_release(&lo);
}

static void test_line_only_split_points(void **state)
{
    size_t n = L(sample);
    for (size_t i = 0; i <= n; i++) {
        only o;
        only_init(&o, NULL, 0);
        feed_chunks(feed_lo, &o.lr, sample, i, i ? i : 1);
        feed_chunks(feed_lo, &o.lr, sample + i, n - i, n - i ? n - i : 1);
        sl_expect(&o.lines, sample_lines);
        only_free(&o);
    }
}

/* ---- NetstringReceiver ------------------------------------------------- */

typedef struct ns {
    coil_netstring_receiver r;
    strlist got;
    int errors, last_error;
} ns;

static void ns_string(coil_netstring_receiver *r, const void *data, size_t len)
{
    sl_push(&((ns *)r)->got, data, len);
}

static void ns_error(coil_netstring_receiver *r, int err)
{
    ((ns *)r)->errors++;
    ((ns *)r)->last_error = err;
}

static const coil_netstring_receiver_ops ns_ops = {.string_received = ns_string,
                                                   .netstring_error = ns_error};

static void ns_init(ns *n, size_t max)
{
    memset(n, 0, sizeof(*n));
    coil_netstring_receiver_init(&n->r, &ns_ops);
    if (max)
        n->r.max_length = max;
}

static void ns_free(ns *n)
{
    coil_netstring_receiver_release(&n->r);
    sl_free(&n->got);
}

/* Feed `s` byte by byte and as a whole: same outcome. */
static void ns_run(const char *s, size_t len, size_t max, const char *const *want, int err)
{
    for (int mode = 0; mode < 2; mode++) {
        ns n;
        ns_init(&n, max);
        feed_chunks(feed_ns, &n.r, s, len, mode ? 1 : (len ? len : 1));
        sl_expect(&n.got, want);
        if (coil_netstring_receiver_error(&n.r) != err)
            fail_msg("\"%.*s\": error %s, want %s", (int)len, s,
                     coil_err_name(coil_netstring_receiver_error(&n.r)), coil_err_name(err));
        assert_int_equal(n.errors, err ? 1 : 0);
        if (err)
            assert_int_equal(n.last_error, err);
        ns_free(&n);
    }
}

#define NONE ((const char *const[]){NULL})

static void test_netstring_vectors(void **state)
{
    ns_run("0:,", 3, 0, (const char *const[]){"", NULL}, 0);
    ns_run("1:a,", 4, 0, (const char *const[]){"a", NULL}, 0);
    ns_run("2:ab,", 5, 0, (const char *const[]){"ab", NULL}, 0);
    ns_run("3:abc,3:def,", 12, 0, (const char *const[]){"abc", "def", NULL}, 0);
    ns_run("4:1:a,,", 7, 0, (const char *const[]){"1:a,", NULL}, 0);
    ns_run("10:0123456789,", 14, 0, (const char *const[]){"0123456789", NULL}, 0);
    ns_run("99999:", 6, 0, NONE, 0); /* waits */
    ns_run("1:a,1", 5, 0, (const char *const[]){"a", NULL}, 0);
    ns_run("0", 1, 0, NONE, 0);
    /* Refused. */
    ns_run("007:abcdefg,", 12, 0, NONE, -EBADMSG);
    ns_run("00", 2, 0, NONE, -EBADMSG);
    ns_run("3:abc;", 6, 0, (const char *const[]){NULL}, -EBADMSG);
    ns_run("100000:", 7, 0, NONE, -EMSGSIZE);
    ns_run("1000000", 7, 0, NONE, -EMSGSIZE);
    ns_run("-1:", 3, 0, NONE, -EBADMSG);
    ns_run(" 3:abc,", 7, 0, NONE, -EBADMSG);
    ns_run(":aaa,", 5, 0, NONE, -EBADMSG);
    ns_run("3aaa,", 5, 0, NONE, -EBADMSG);
    ns_run("aaa", 3, 0, NONE, -EBADMSG);
    ns_run("aaa,", 4, 0, NONE, -EBADMSG);
    ns_run("2:aaa,", 6, 0, NONE, -EBADMSG);
    ns_run("0:a,", 4, 0, NONE, -EBADMSG);
    ns_run("4:abcde", 7, 0, NONE, -EBADMSG);
    ns_run("9999999999999999999999", 22, 0, NONE, -EMSGSIZE);
    ns_run("51:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab,", 55, 50, NONE, -EMSGSIZE);
    /* _consumeLength border cases. */
    ns_run("12:aaaaaaaaaaaa,", 16, 12, (const char *const[]){"aaaaaaaaaaaa", NULL}, 0);
    ns_run("12:", 3, 11, NONE, -EMSGSIZE);
    ns_run("1000:", 5, 11, NONE, -EMSGSIZE);
    /* Good strings before a bad one are delivered; nothing after. */
    ns_run("1:a,x1:b,", 9, 0, (const char *const[]){"a", NULL}, -EBADMSG);
    /* Huge max_length: no overflow in the length arithmetic. */
    ns_run("18446744073709551616:", 21, SIZE_MAX, NONE, -EMSGSIZE);
}

/* test_buffer: the strings Twisted sends, cut in chunks of 1..9, and the
 * wire format of send_string (checked through a receiver round trip). */
static void test_netstring_chunks(void **state)
{
    static const char wire[] = "5:hello,5:world,3:how,3:are,6:you123,6::today,";
    static const char *const want[] = {"hello", "world", "how", "are", "you123", ":today", NULL};
    for (size_t size = 1; size < 10; size++) {
        ns n;
        ns_init(&n, 699);
        feed_chunks(feed_ns, &n.r, wire, L(wire), size);
        sl_expect(&n.got, want);
        ns_free(&n);
    }
    ns n;
    ns_init(&n, 0);
    assert_int_equal(coil_netstring_receiver_send_string(&n.r, "x", 1), -ENOTCONN);
    ns_free(&n);
}

/* The default handler (no netstring_error): error recorded, stream dropped. */
static void test_netstring_default_error(void **state)
{
    coil_netstring_receiver r;
    coil_netstring_receiver_init(&r, NULL);
    coil_netstring_receiver_data_received(&r, "3:ab", 4);
    assert_int_equal(coil_netstring_receiver_buffered(&r), 4);
    coil_netstring_receiver_data_received(&r, "cX3:abc,", 8);
    assert_int_equal(coil_netstring_receiver_error(&r), -EBADMSG);
    assert_int_equal(coil_netstring_receiver_buffered(&r), 0);
    coil_netstring_receiver_data_received(&r, "3:abc,", 6);
    assert_int_equal(coil_netstring_receiver_buffered(&r), 0);
    coil_netstring_receiver_release(&r);
}

/* ---- Int32/Int16/Int8 -------------------------------------------------- */

typedef struct intn {
    coil_intn_receiver r;
    strlist got;
    size_t limit_calls, limit_length;
} intn;

static void intn_string(coil_intn_receiver *r, const void *data, size_t len)
{
    sl_push(&((intn *)r)->got, data, len);
}

static void intn_limit(coil_intn_receiver *r, size_t length)
{
    ((intn *)r)->limit_calls++;
    ((intn *)r)->limit_length = length;
}

static const coil_intn_receiver_ops intn_ops = {.string_received = intn_string,
                                                .length_limit_exceeded = intn_limit};
static const coil_intn_receiver_ops intn_default_ops = {.string_received = intn_string};

static void intn_init(intn *r, unsigned prefix, size_t max, const coil_intn_receiver_ops *ops)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(coil_intn_receiver_init(&r->r, ops, prefix), 0);
    if (max)
        r->r.max_length = max;
}

static void intn_free(intn *r)
{
    coil_intn_receiver_release(&r->r);
    sl_free(&r->got);
}

static size_t pack(unsigned prefix, size_t len, char *out)
{
    for (unsigned i = 0; i < prefix; i++)
        out[i] = (char)(len >> (8 * (prefix - 1 - i)));
    return prefix;
}

static void test_intn_vectors(void **state)
{
    static const unsigned prefixes[] = {4, 2, 1};
    for (int k = 0; k < 3; k++) {
        unsigned pl = prefixes[k];
        intn r;
        /* test_receive: "a" and "b"*16, one byte at a time. */
        intn_init(&r, pl, 50, &intn_ops);
        char msg[64];
        size_t m = pack(pl, 1, msg);
        msg[m++] = 'a';
        m += pack(pl, 16, msg + m);
        memset(msg + m, 'b', 16);
        m += 16;
        m += pack(pl, 0, msg + m); /* an empty string too */
        feed_chunks(feed_in, &r.r, msg, m, 1);
        sl_expect(&r.got, (const char *const[]){"a", "bbbbbbbbbbbbbbbb", "", NULL});
        intn_free(&r);

        /* test_partial: nothing from an incomplete prefix or string. */
        intn_init(&r, pl, 50, &intn_ops);
        m = pack(pl, 5, msg);
        memcpy(msg + m, "abcd", 4);
        feed_chunks(feed_in, &r.r, msg, m + 4, 1);
        assert_int_equal(r.got.count, 0);
        assert_int_equal(coil_intn_receiver_buffered(&r.r), m + 4);
        intn_free(&r);

        /* test_lengthLimitExceeded / test_longStringNotDelivered. */
        intn_init(&r, pl, 10, &intn_ops);
        m = pack(pl, 11, msg);
        memset(msg + m, 'x', 11);
        feed_chunks(feed_in, &r.r, msg, m + 11, m + 11);
        assert_int_equal(r.limit_calls, 1);
        assert_int_equal(r.limit_length, 11);
        assert_int_equal(r.got.count, 0);
        assert_int_equal(coil_intn_receiver_error(&r.r), -EMSGSIZE);
        /* The framing is lost: later bytes are ignored. */
        m = pack(pl, 1, msg);
        msg[m++] = 'z';
        coil_intn_receiver_data_received(&r.r, msg, m);
        assert_int_equal(r.got.count, 0);
        assert_int_equal(r.limit_calls, 1);
        intn_free(&r);

        /* A length of exactly max_length is accepted. */
        intn_init(&r, pl, 10, &intn_default_ops);
        m = pack(pl, 10, msg);
        memcpy(msg + m, "0123456789", 10);
        feed_chunks(feed_in, &r.r, msg, m + 10, 3);
        sl_expect(&r.got, (const char *const[]){"0123456789", NULL});
        assert_int_equal(coil_intn_receiver_error(&r.r), 0);
        intn_free(&r);

        /* Sending without a transport; too long for the prefix. */
        intn_init(&r, pl, 0, &intn_ops);
        assert_int_equal(coil_intn_receiver_send_string(&r.r, "foo", 3), -ENOTCONN);
        if (pl < 4) {
            size_t big = (size_t)1 << (8 * pl);
            char *b = calloc(1, big + 1);
            assert_int_equal(coil_intn_receiver_send_string(&r.r, b, big), -EMSGSIZE);
            assert_int_equal(coil_intn_receiver_send_string(&r.r, b, big + 1), -EMSGSIZE);
            assert_int_equal(coil_intn_receiver_send_string(&r.r, b, big - 1), -ENOTCONN);
            free(b);
        }
        intn_free(&r);
    }

    /* Twisted's illegalStrings with MAX_LENGTH 50. */
    intn r;
    intn_init(&r, 4, 50, &intn_default_ops);
    feed_chunks(feed_in, &r.r,
                "\x10\x00\x00\x00"
                "aaaaaa",
                10, 1);
    assert_int_equal(coil_intn_receiver_error(&r.r), -EMSGSIZE);
    intn_free(&r);
    intn_init(&r, 2, 50, &intn_default_ops);
    feed_chunks(feed_in, &r.r,
                "\x10\x00"
                "aaaaaa",
                8, 1);
    assert_int_equal(coil_intn_receiver_error(&r.r), -EMSGSIZE);
    intn_free(&r);
    intn_init(&r, 1, 50, &intn_default_ops);
    feed_chunks(feed_in, &r.r,
                "\x00\x00"
                "aaaaaa",
                8, 1);
    sl_expect(&r.got, (const char *const[]){"", "", NULL});
    assert_int_equal(coil_intn_receiver_error(&r.r), -EMSGSIZE);
    intn_free(&r);
    /* test_data (Int32): "\0\0\0\4ubar". */
    intn_init(&r, 4, 0, &intn_default_ops);
    coil_intn_receiver_data_received(&r.r, "\x00\x00\x00\x04ubar", 8);
    sl_expect(&r.got, (const char *const[]){"ubar", NULL});
    intn_free(&r);

    coil_intn_receiver bad;
    assert_int_equal(coil_intn_receiver_init(&bad, NULL, 3), -EINVAL);
}

/* Pausing an IntN receiver inside string_received stops delivery at once. */
typedef struct intn_pauser {
    coil_intn_receiver r;
    strlist got;
} intn_pauser;

static void pauser_string(coil_intn_receiver *r, const void *data, size_t len)
{
    sl_push(&((intn_pauser *)r)->got, data, len);
    coil_intn_receiver_pause_producing(r);
}

static const coil_intn_receiver_ops pauser_ops = {.string_received = pauser_string};

static void test_intn_pause(void **state)
{
    intn_pauser p = {0};
    coil_int8_receiver_init(&p.r, &pauser_ops);
    coil_intn_receiver_data_received(&p.r,
                                     "\x01"
                                     "a"
                                     "\x01"
                                     "b"
                                     "\x01"
                                     "c",
                                     6);
    sl_expect(&p.got, (const char *const[]){"a", NULL});
    coil_intn_receiver_resume_producing(&p.r);
    sl_expect(&p.got, (const char *const[]){"a", "b", NULL});
    coil_intn_receiver_resume_producing(&p.r);
    coil_intn_receiver_resume_producing(&p.r);
    sl_expect(&p.got, (const char *const[]){"a", "b", "c", NULL});
    assert_int_equal(coil_intn_receiver_buffered(&p.r), 0);
    coil_intn_receiver_release(&p.r);
    sl_free(&p.got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_twisted_line_tester_buffer),
        cmocka_unit_test(test_twisted_pausing),
        cmocka_unit_test(test_twisted_raw_pausing),
        cmocka_unit_test(test_twisted_stop_producing),
        cmocka_unit_test(test_twisted_clear_line_buffer),
        cmocka_unit_test(test_clear_line_buffer_outside),
        cmocka_unit_test(test_twisted_stack_recursion),
        cmocka_unit_test(test_max_length_boundary),
        cmocka_unit_test(test_max_length_unfinished),
        cmocka_unit_test(test_max_length_partial_delimiter),
        cmocka_unit_test(test_twisted_line_length_exceeded),
        cmocka_unit_test(test_every_split_point),
        cmocka_unit_test(test_long_delimiter_split_points),
        cmocka_unit_test(test_mode_switch_every_split),
        cmocka_unit_test(test_set_line_mode_outside),
        cmocka_unit_test(test_reentrant_feed),
        cmocka_unit_test(test_pause_outside),
        cmocka_unit_test(test_release),
        cmocka_unit_test(test_twisted_line_only_buffer),
        cmocka_unit_test(test_line_only_limits),
        cmocka_unit_test(test_line_only_split_points),
        cmocka_unit_test(test_netstring_vectors),
        cmocka_unit_test(test_netstring_chunks),
        cmocka_unit_test(test_netstring_default_error),
        cmocka_unit_test(test_intn_vectors),
        cmocka_unit_test(test_intn_pause),
    };
    return cmocka_run_group_tests_name("basic_parsers", tests, NULL, NULL);
}
