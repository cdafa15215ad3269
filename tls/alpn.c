/* SPDX-License-Identifier: MIT */
/* ALPN lists (see alpn.h). */
#include <string.h>

#include "alpn.h"

int coil__alpn_entry(const unsigned char *list, size_t len, int index, size_t *name_off,
                     size_t *name_len)
{
    size_t off = 0;
    for (int i = 0; index >= 0 && off < len; i++) {
        size_t n = list[off];
        if (n == 0 || n > len - off - 1)
            return -1; /* empty names are not allowed; no reading past the end */
        if (i == index) {
            *name_off = off + 1;
            *name_len = n;
            return 0;
        }
        off += 1 + n;
    }
    return -1;
}

int coil__alpn_pick(const unsigned char *ours, size_t ours_len, const unsigned char *offered,
                    size_t offered_len, size_t *name_off, size_t *name_len)
{
    size_t o_off, o_len;
    for (int i = 0; coil__alpn_entry(ours, ours_len, i, &o_off, &o_len) == 0; i++) {
        size_t off, len;
        for (int k = 0; coil__alpn_entry(offered, offered_len, k, &off, &len) == 0; k++) {
            if (len == o_len && memcmp(offered + off, ours + o_off, len) == 0) {
                *name_off = off;
                *name_len = len;
                return 0;
            }
        }
    }
    return -1;
}
