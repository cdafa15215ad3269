/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the Int32/Int16/Int8 string receivers
 * (<coil/basic.h>), the real parser over a fake transport.
 *
 * Input: byte 0 picks the prefix length and max_length, byte 1 seeds the
 * chunk sizes, the rest is the stream. Strings starting with 'P' pause the
 * receiver (the driver resumes it), 'Q' lose the connection.
 *
 * Checks: strings and the length-limit event do not depend on the split;
 * re-encoding the strings (big-endian prefix + bytes) gives exactly the
 * bytes consumed; nothing is delivered after the limit was exceeded; the
 * receiver never holds more than a prefix and max_length bytes.
 *
 *   clang -g -fsanitize=fuzzer,address,undefined -Icore/include -Icore \
 *     core/protocols/[a-z]*.c tests/fuzz/fake_transport.c \
 *     tests/fuzz/fuzz_intn.c -o fuzz_intn
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <coil/basic.h>

#include "fake_transport.h"

static const unsigned prefixes[] = {1, 2, 4, 4};
static const size_t maxes[] = {0, 1, 3, 16, 255, 256, 4096, 99999};

typedef struct fz_in {
    coil_intn_receiver r;
    coil_transport t;
    fz_log log, wire;
    int limits;
} fz_in;

static void on_string(coil_intn_receiver *r, const void *data, size_t len)
{
    fz_in *f = (fz_in *)r;
    CHECK(len <= r->max_length && !f->t.disconnecting && !r->priv.paused && f->limits == 0);
    fz_log_event(&f->log, 'S', data, len, false);
    unsigned char hdr[4];
    for (unsigned i = 0; i < r->prefix_length; i++)
        hdr[i] = (unsigned char)(len >> (8 * (r->prefix_length - 1 - i)));
    fz_log_event(&f->wire, 'w', hdr, r->prefix_length, true);
    fz_log_event(&f->wire, 'w', data, len, true);
    if (len && ((const char *)data)[0] == 'P')
        coil_intn_receiver_pause_producing(r);
    if (len && ((const char *)data)[0] == 'Q')
        coil_transport_lose_connection(&f->t);
}

static void on_limit(coil_intn_receiver *r, size_t length)
{
    fz_in *f = (fz_in *)r;
    CHECK(length > r->max_length && f->limits == 0);
    f->limits++;
    uint64_t l = length;
    fz_log_event(&f->log, 'X', &l, sizeof(l), false);
}

static const coil_intn_receiver_ops ops = {.string_received = on_string,
                                           .length_limit_exceeded = on_limit};

static size_t run(fz_in *f, unsigned cfg, const uint8_t *data, size_t len, unsigned split,
                  unsigned seed)
{
    memset(f, 0, sizeof(*f));
    CHECK(coil_intn_receiver_init(&f->r, &ops, prefixes[cfg & 3]) == 0);
    f->r.base.transport = &f->t;
    f->r.max_length = maxes[(cfg >> 2) & 7];
    size_t off = 0;
    while (off < len && !f->t.disconnecting) {
        size_t n = split == 0 ? len : split == 1 ? 1 : 1 + fz_rand(&seed) % 32;
        if (n > len - off)
            n = len - off;
        uint8_t *chunk = malloc(n);
        CHECK(chunk != NULL);
        memcpy(chunk, data + off, n);
        coil_intn_receiver_data_received(&f->r, chunk, n);
        free(chunk);
        off += n;
        while (f->r.priv.paused && !f->t.disconnecting)
            coil_intn_receiver_resume_producing(&f->r);
        if (!f->t.disconnecting)
            CHECK(coil_intn_receiver_buffered(&f->r) < f->r.prefix_length + f->r.max_length ||
                  coil_intn_receiver_buffered(&f->r) == 0);
    }
    if (f->limits)
        CHECK(coil_intn_receiver_error(&f->r) == -EMSGSIZE &&
              coil_intn_receiver_buffered(&f->r) == 0);
    return off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned cfg = data[0], seed = data[1];
    data += 2;
    size -= 2;
    fz_in ref, o;
    size_t fed = run(&ref, cfg, data, size, 0, seed);
    size_t wire_len = 0;
    if (ref.wire.len) {
        uint64_t n;
        memcpy(&n, ref.wire.data + 1, 8);
        wire_len = (size_t)n;
        CHECK(wire_len <= fed && memcmp(ref.wire.data + 9, data, wire_len) == 0);
    }
    if (!ref.limits && !ref.t.disconnecting)
        CHECK(wire_len + coil_intn_receiver_buffered(&ref.r) == size);
    for (unsigned split = 1; split <= 2; split++) {
        run(&o, cfg, data, size, split, seed);
        CHECK(fz_log_equal(&ref.log, &o.log));
        coil_intn_receiver_release(&o.r);
        fz_log_free(&o.log);
        fz_log_free(&o.wire);
    }
    coil_intn_receiver_release(&ref.r);
    fz_log_free(&ref.log);
    fz_log_free(&ref.wire);
    return 0;
}
