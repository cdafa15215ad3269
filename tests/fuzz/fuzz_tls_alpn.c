/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the ALPN list parsing of the TLS layer (tls/alpn.c):
 * the client's offered list is untrusted. The first byte splits the input
 * into our list and the offered one; results must lie inside the offered
 * list and name a protocol of ours. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tls/alpn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = data[0] < size - 1 ? data[0] : size - 1;
    const unsigned char *ours = data + 1, *offered = data + 1 + split;
    size_t ours_len = split, offered_len = size - 1 - split;
    size_t off, len;
    if (coil__alpn_pick(ours, ours_len, offered, offered_len, &off, &len) == 0) {
        if (off + len > offered_len || len == 0)
            abort();
        int found = 0;
        size_t o, l;
        for (int i = 0; coil__alpn_entry(ours, ours_len, i, &o, &l) == 0; i++)
            found |= l == len && memcmp(ours + o, offered + off, len) == 0;
        if (!found)
            abort();
    }
    for (int i = -1; i < 4; i++)
        if (coil__alpn_entry(offered, offered_len, i, &off, &len) == 0 &&
            (i < 0 || off + len > offered_len || len == 0))
            abort();
    return 0;
}
