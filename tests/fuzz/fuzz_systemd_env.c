/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the systemd environment (LISTEN_PID, LISTEN_FDS,
 * LISTEN_FDNAMES) as coil__systemd_parse() reads it. The input is split at
 * NUL bytes into the three values (a missing one is "unset"); the pid the
 * process claims to be is 4242. Checks the promises of systemd_int.h: the
 * count is 0 unless LISTEN_PID is exactly our pid, never negative, names
 * are either unavailable or exactly `count` strings without ':', and
 * joined with ':' they give LISTEN_FDNAMES back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "systemd_int.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exact-size heap copies, so ASan sees any read past a value. */
    char *vals[3] = {NULL, NULL, NULL};
    size_t start = 0;
    for (int k = 0; k < 3 && start <= size; k++) {
        const uint8_t *end = memchr(data + start, 0, size - start);
        size_t len = end ? (size_t)(end - (data + start)) : size - start;
        vals[k] = malloc(len + 1);
        CHECK(vals[k]);
        memcpy(vals[k], data + start, len);
        vals[k][len] = '\0';
        start += len + 1;
    }
    coil__systemd_fds fds;
    int rc = coil__systemd_parse(vals[0], vals[1], vals[2], 4242, &fds);
    CHECK(rc == 0);
    CHECK(fds.first == COIL__SYSTEMD_FIRST_FD);
    CHECK(fds.count >= 0);
    if (fds.count > 0)
        CHECK(vals[0] && vals[1]);
    if (fds.names) {
        CHECK(fds.count > 0 && vals[2]);
        size_t total = 0;
        for (int i = 0; i < fds.count; i++) {
            CHECK(fds.names[i]);
            CHECK(!strchr(fds.names[i], ':'));
            total += strlen(fds.names[i]) + (i ? 1 : 0);
        }
        CHECK(total == strlen(vals[2]));
        char *joined = malloc(total + 1), *p = joined;
        CHECK(joined);
        for (int i = 0; i < fds.count; i++) {
            if (i)
                *p++ = ':';
            size_t n = strlen(fds.names[i]);
            memcpy(p, fds.names[i], n);
            p += n;
        }
        *p = '\0';
        CHECK(strcmp(joined, vals[2]) == 0);
        free(joined);
    }
    coil__systemd_fds_free(&fds);
    for (int k = 0; k < 3; k++)
        free(vals[k]);
    return 0;
}
