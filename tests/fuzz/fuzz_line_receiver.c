/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for LineReceiver and LineOnlyReceiver (<coil/basic.h>),
 * the real parser code over a fake transport (fake_transport.c).
 *
 * Input: byte 0 picks the delimiter and max_length, byte 1 seeds the chunk
 * sizes, the rest is the stream. Lines steer the receiver by their first
 * byte: 'R' raw mode for a few bytes (then set_line_mode(rest)), 'P' pause
 * (the driver resumes it, as Twisted's tests do with callLater(0)), 'Q'
 * lose the connection; in the chaos run also 'C' clear_line_buffer, 'F'
 * feed the line again re-entrantly, 'D' change the delimiter, 'M' change
 * max_length.
 *
 * Checks:
 * - what is delivered never depends on how the stream was split: the run
 *   with one chunk, one byte at a time and random chunks give the same
 *   lines, raw bytes and overflow events;
 * - a delivered line contains no delimiter, is at most max_length long and
 *   stays readable for the whole callback (even after clear/feed/delimiter
 *   changes: AddressSanitizer), nothing is delivered while paused or once
 *   the transport is disconnecting;
 * - memory stays bounded: an idle receiver holds less than max_length +
 *   len(delimiter) bytes.
 *
 *   clang -g -fsanitize=fuzzer,address,undefined -Icore/include -Icore \
 *     core/protocols/[a-z]*.c tests/fuzz/fake_transport.c \
 *     tests/fuzz/fuzz_line_receiver.c -o fuzz_line_receiver
 */
#include <stdint.h>
#include <string.h>

#include <coil/basic.h>

#include "fake_transport.h"

static const char *const delims[] = {"\r\n", "\n", "aab", "\r\n\r\n"};
static const size_t maxes[] = {1, 2, 3, 5, 8, 16, 64, 16384};

typedef struct fz_line {
    coil_line_receiver lr;
    coil_transport t;
    fz_log log;
    bool chaos;
    size_t raw_budget;
    int depth; /* re-entrant feeds allowed */
} fz_line;

static void check_line(const coil__receiver *rx, size_t max, const coil_transport *t,
                       const char *line, size_t len)
{
    CHECK(len <= max);
    CHECK(!rx->paused && !t->disconnecting);
    for (size_t i = 0; i + rx->delim_len <= len; i++)
        CHECK(memcmp(line + i, rx->delim, rx->delim_len) != 0);
}

static void on_line(coil_line_receiver *lr, const char *line, size_t len)
{
    fz_line *f = (fz_line *)lr;
    check_line(&lr->priv, lr->max_length, &f->t, line, len);
    char op = len ? line[0] : 0;
    if (op == 'R') {
        f->raw_budget = 1 + len % 16;
        coil_line_receiver_set_raw_mode(lr);
    } else if (op == 'P') {
        coil_line_receiver_pause_producing(lr);
    } else if (op == 'Q') {
        coil_transport_lose_connection(&f->t);
    } else if (f->chaos && op == 'C') {
        char *rest;
        size_t n;
        if (coil_line_receiver_clear_line_buffer(lr, &rest, &n) == 0 && rest) {
            CHECK(rest[n] == '\0');
            free(rest);
        }
    } else if (f->chaos && op == 'F' && f->depth < 3) {
        f->depth++;
        coil_line_receiver_data_received(lr, line, len);
        f->depth--;
    } else if (f->chaos && op == 'D') {
        size_t k = len > 1 ? (unsigned char)line[1] % 4 : 0;
        CHECK(coil_line_receiver_set_delimiter(lr, delims[k], strlen(delims[k])) == 0);
    } else if (f->chaos && op == 'M') {
        lr->max_length = len > 1 ? maxes[(unsigned char)line[1] % 8] : 16384;
    } else if (f->chaos && op == 'S') {
        coil_line_receiver_send_linef(lr, "%.*s", (int)len, line);
    }
    /* Still readable after whatever the callback did. */
    fz_log_event(&f->log, 'L', line, len, false);
}

static void on_raw(coil_line_receiver *lr, const void *data, size_t len)
{
    fz_line *f = (fz_line *)lr;
    CHECK(len > 0 && !lr->priv.paused && !f->t.disconnecting);
    size_t take = len < f->raw_budget ? len : f->raw_budget;
    fz_log_event(&f->log, 'R', data, take, true);
    f->raw_budget -= take;
    if (f->raw_budget == 0)
        coil_line_receiver_set_line_mode(lr, (const char *)data + take, len - take);
}

static void on_long(coil_line_receiver *lr, const char *data, size_t len)
{
    fz_line *f = (fz_line *)lr;
    CHECK(len > lr->max_length);
    fz_log_event(&f->log, 'X', NULL, 0, false); /* the bytes depend on the split */
    coil_transport_lose_connection(&f->t);      /* Twisted's default */
}

static const coil_line_receiver_ops line_ops = {
    .line_received = on_line,
    .raw_data_received = on_raw,
    .line_length_exceeded = on_long,
};

/* Feed the stream in chunks: size 0 = one chunk, 1 = bytes, else random. */
static void run_line(fz_line *f, unsigned cfg, const uint8_t *data, size_t len, unsigned split,
                     unsigned seed, bool chaos)
{
    memset(f, 0, sizeof(*f));
    coil_line_receiver_init(&f->lr, &line_ops);
    f->lr.base.transport = &f->t;
    f->chaos = chaos;
    const char *d = delims[cfg & 3];
    CHECK(coil_line_receiver_set_delimiter(&f->lr, d, strlen(d)) == 0);
    f->lr.max_length = maxes[(cfg >> 2) & 7];
    size_t off = 0;
    while (off < len && !f->t.disconnecting) {
        size_t n = split == 0 ? len : split == 1 ? 1 : 1 + fz_rand(&seed) % 64;
        if (n > len - off)
            n = len - off;
        uint8_t *chunk = malloc(n); /* exact size: ASan sees reads past it */
        CHECK(chunk != NULL);
        memcpy(chunk, data + off, n);
        coil_line_receiver_data_received(&f->lr, chunk, n);
        free(chunk);
        off += n;
        while (f->lr.priv.paused && !f->t.disconnecting)
            coil_line_receiver_resume_producing(&f->lr);
        if (!f->t.disconnecting) {
            size_t held = coil_line_receiver_buffered(&f->lr);
            if (f->lr.priv.raw)
                CHECK(held == 0);
            else if (!chaos)
                CHECK(held < f->lr.max_length + f->lr.priv.delim_len);
        }
    }
}

/* ---- LineOnlyReceiver ---------------------------------------------------- */

typedef struct fz_only {
    coil_line_only_receiver lr;
    coil_transport t;
    fz_log log;
} fz_only;

static void only_line(coil_line_only_receiver *lr, const char *line, size_t len)
{
    fz_only *f = (fz_only *)lr;
    check_line(&lr->priv, lr->max_length, &f->t, line, len);
    if (len && line[0] == 'Q')
        coil_transport_lose_connection(&f->t);
    fz_log_event(&f->log, 'L', line, len, false);
}

static void only_long(coil_line_only_receiver *lr, const char *data, size_t len)
{
    fz_only *f = (fz_only *)lr;
    CHECK(len > lr->max_length);
    fz_log_event(&f->log, 'X', NULL, 0, false);
    coil_transport_lose_connection(&f->t);
}

static const coil_line_only_receiver_ops only_ops = {.line_received = only_line,
                                                     .line_length_exceeded = only_long};

static void run_only(fz_only *f, unsigned cfg, const uint8_t *data, size_t len, unsigned split,
                     unsigned seed)
{
    memset(f, 0, sizeof(*f));
    coil_line_only_receiver_init(&f->lr, &only_ops);
    f->lr.base.transport = &f->t;
    const char *d = delims[cfg & 3];
    CHECK(coil_line_only_receiver_set_delimiter(&f->lr, d, strlen(d)) == 0);
    f->lr.max_length = maxes[(cfg >> 2) & 7];
    size_t off = 0;
    while (off < len && !f->t.disconnecting) {
        size_t n = split == 0 ? len : split == 1 ? 1 : 1 + fz_rand(&seed) % 64;
        if (n > len - off)
            n = len - off;
        uint8_t *chunk = malloc(n);
        CHECK(chunk != NULL);
        memcpy(chunk, data + off, n);
        coil_line_only_receiver_data_received(&f->lr, chunk, n);
        free(chunk);
        off += n;
        if (!f->t.disconnecting)
            CHECK(f->lr.priv.len < f->lr.max_length + f->lr.priv.delim_len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned cfg = data[0], seed = data[1];
    data += 2;
    size -= 2;

    fz_line ref, other;
    run_line(&ref, cfg, data, size, 0, seed, false);
    for (unsigned split = 1; split <= 2; split++) {
        run_line(&other, cfg, data, size, split, seed, false);
        CHECK(fz_log_equal(&ref.log, &other.log));
        coil_line_receiver_release(&other.lr);
        fz_log_free(&other.log);
    }
    coil_line_receiver_release(&ref.lr);
    fz_log_free(&ref.log);

    run_line(&other, cfg, data, size, 2, seed ^ 0x5a, true);
    coil_line_receiver_release(&other.lr);
    fz_log_free(&other.log);

    fz_only oref, o;
    run_only(&oref, cfg, data, size, 0, seed);
    for (unsigned split = 1; split <= 2; split++) {
        run_only(&o, cfg, data, size, split, seed);
        CHECK(fz_log_equal(&oref.log, &o.log));
        coil_line_only_receiver_release(&o.lr);
        fz_log_free(&o.log);
    }
    coil_line_only_receiver_release(&oref.lr);
    fz_log_free(&oref.log);
    return 0;
}
