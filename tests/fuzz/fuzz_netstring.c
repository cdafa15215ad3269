/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for NetstringReceiver (<coil/basic.h>), the real parser
 * over a fake transport (fake_transport.c).
 *
 * Input: byte 0 picks max_length, byte 1 seeds the chunk sizes, the rest is
 * the stream. Strings starting with 'P' pause the receiver (the driver
 * resumes it), 'Q' lose the connection.
 *
 * Checks: the strings and the error do not depend on how the stream was
 * split (one chunk, bytes, random chunks); re-encoding the strings gives
 * exactly the bytes consumed from the input; an error always loses the
 * connection and nothing is delivered after it; without an error the
 * unconsumed rest is a valid netstring prefix, so the receiver never holds
 * more than a header, max_length bytes and a comma.
 *
 *   clang -g -fsanitize=fuzzer,address,undefined -Icore/include -Icore \
 *     core/protocols/[a-z]*.c tests/fuzz/fake_transport.c \
 *     tests/fuzz/fuzz_netstring.c -o fuzz_netstring
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <coil/basic.h>

#include "fake_transport.h"

static const size_t maxes[] = {0, 1, 2, 9, 10, 11, 99, 99999};

typedef struct fz_ns {
    coil_netstring_receiver r;
    coil_transport t;
    fz_log log;
    fz_log wire; /* the strings re-encoded */
    int errors;
} fz_ns;

static void on_string(coil_netstring_receiver *r, const void *data, size_t len)
{
    fz_ns *f = (fz_ns *)r;
    CHECK(len <= r->max_length && !f->t.disconnecting && !r->priv.paused && f->errors == 0);
    fz_log_event(&f->log, 'S', data, len, false);
    char hdr[32];
    int h = snprintf(hdr, sizeof(hdr), "%zu:", len);
    fz_log_event(&f->wire, 'w', hdr, (size_t)h, true);
    fz_log_event(&f->wire, 'w', data, len, true);
    fz_log_event(&f->wire, 'w', ",", 1, true);
    if (len && ((const char *)data)[0] == 'P')
        coil_netstring_receiver_pause_producing(r);
    if (len && ((const char *)data)[0] == 'Q')
        coil_transport_lose_connection(&f->t);
}

static void on_error(coil_netstring_receiver *r, int err)
{
    fz_ns *f = (fz_ns *)r;
    CHECK(err == -EBADMSG || err == -EMSGSIZE);
    f->errors++;
    char e = (char)-err;
    fz_log_event(&f->log, 'E', &e, 1, false);
}

static const coil_netstring_receiver_ops ops = {.string_received = on_string,
                                                .netstring_error = on_error};

static size_t run(fz_ns *f, unsigned cfg, const uint8_t *data, size_t len, unsigned split,
                  unsigned seed)
{
    memset(f, 0, sizeof(*f));
    coil_netstring_receiver_init(&f->r, &ops);
    f->r.base.transport = &f->t;
    f->r.max_length = maxes[cfg & 7];
    size_t off = 0;
    while (off < len && !f->t.disconnecting) {
        size_t n = split == 0 ? len : split == 1 ? 1 : 1 + fz_rand(&seed) % 32;
        if (n > len - off)
            n = len - off;
        uint8_t *chunk = malloc(n);
        CHECK(chunk != NULL);
        memcpy(chunk, data + off, n);
        coil_netstring_receiver_data_received(&f->r, chunk, n);
        free(chunk);
        off += n;
        while (f->r.priv.paused && !f->t.disconnecting)
            coil_netstring_receiver_resume_producing(&f->r);
        if (!f->t.disconnecting) /* header (<= 21 bytes) + string + comma */
            CHECK(coil_netstring_receiver_buffered(&f->r) <= 22 + f->r.max_length);
    }
    if (f->errors)
        CHECK(f->t.loses >= 1 && coil_netstring_receiver_error(&f->r) != 0);
    return off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned cfg = data[0], seed = data[1];
    data += 2;
    size -= 2;
    fz_ns ref, o;
    size_t fed = run(&ref, cfg, data, size, 0, seed);
    /* The strings re-encode to a prefix of what was fed. */
    size_t wire_len = 0;
    if (ref.wire.len) {
        uint64_t n;
        memcpy(&n, ref.wire.data + 1, 8);
        wire_len = (size_t)n;
        CHECK(wire_len <= fed && memcmp(ref.wire.data + 9, data, wire_len) == 0);
    }
    if (!ref.errors && !ref.t.disconnecting)
        CHECK(wire_len + coil_netstring_receiver_buffered(&ref.r) == size);
    for (unsigned split = 1; split <= 2; split++) {
        run(&o, cfg, data, size, split, seed);
        CHECK(fz_log_equal(&ref.log, &o.log));
        coil_netstring_receiver_release(&o.r);
        fz_log_free(&o.log);
        fz_log_free(&o.wire);
    }
    coil_netstring_receiver_release(&ref.r);
    fz_log_free(&ref.log);
    fz_log_free(&ref.wire);
    return 0;
}
