/* SPDX-License-Identifier: MIT */
/*
 * A fake coil_transport for the fuzz targets of the framing receivers: it
 * records what a protocol does to it (writes, lose, pause) so the real
 * parser code runs without a reactor. Only the functions the receivers call
 * exist.
 */
#ifndef COIL_FUZZ_FAKE_TRANSPORT_H
#define COIL_FUZZ_FAKE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <coil/transport.h>

struct coil_transport {
    bool disconnecting; /* lose_connection was called */
    bool paused;        /* pause_reading without resume_reading */
    int loses;
    size_t written; /* bytes queued by write/writev */
};

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A growable record of events: kind byte, 8-byte length, bytes. Consecutive
 * events of a kind listed in `merge` are joined (raw data may arrive in any
 * chunking). */
typedef struct fz_log {
    unsigned char *data;
    size_t len, cap;
    size_t last_hdr; /* offset of the last event's header */
    char last_kind;
} fz_log;

void fz_log_event(fz_log *l, char kind, const void *data, size_t len, bool merge);
void fz_log_free(fz_log *l);
bool fz_log_equal(const fz_log *a, const fz_log *b);

/* A small deterministic PRNG for chunk sizes. */
static inline unsigned fz_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

#endif
