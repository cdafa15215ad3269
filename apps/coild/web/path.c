/* SPDX-License-Identifier: MIT */
#include "path.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t web_path_raw_len(const char *url, size_t len)
{
    size_t i = 0;
    while (i < len && url[i] != '?' && url[i] != '#')
        i++;
    return i;
}

int web_path_sanitize(const char *url, size_t len, char *out, size_t cap, bool *dir_slash)
{
    /* Absolute form (a request to a proxy, also valid to an origin server):
     * skip the scheme and authority. */
    if (len >= 7 && (strncasecmp(url, "http://", 7) == 0 ||
                     (len >= 8 && strncasecmp(url, "https://", 8) == 0))) {
        size_t skip = url[4] == ':' ? 7 : 8;
        url += skip;
        len -= skip;
        size_t i = 0;
        while (i < len && url[i] != '/' && url[i] != '?' && url[i] != '#')
            i++;
        if (i == len || url[i] != '/') {
            url = "/"; /* "http://host" or "http://host?q": the root */
            len = 1;
        } else {
            url += i;
            len -= i;
        }
    }
    len = web_path_raw_len(url, len);
    if (len == 0 || url[0] != '/' || cap == 0)
        return -EINVAL;
    *dir_slash = url[len - 1] == '/';
    size_t o = 0; /* out length */
    size_t i = 1;
    while (i <= len) {
        /* One segment: url[i, j). */
        size_t j = i;
        while (j < len && url[j] != '/')
            j++;
        size_t seg_start = o > 0 ? o + 1 : 0; /* after the separator */
        size_t w = seg_start;
        for (size_t k = i; k < j; k++) {
            char c = url[k];
            if (c == '%') {
                int hi = k + 2 < j ? hexval(url[k + 1]) : -1;
                int lo = hi >= 0 ? hexval(url[k + 2]) : -1;
                if (lo < 0)
                    return -EINVAL;
                c = (char)(hi * 16 + lo);
                k += 2;
                if (c == '/')
                    return -EINVAL; /* an encoded slash */
            }
            if (c == '\0')
                return -EINVAL;
            if (w + 1 >= cap)
                return -ENAMETOOLONG;
            out[w++] = c;
        }
        size_t seg_len = w - seg_start;
        if (seg_len == 0 || (seg_len == 1 && out[seg_start] == '.')) {
            /* empty or ".": nothing */
        } else if (seg_len == 2 && out[seg_start] == '.' && out[seg_start + 1] == '.') {
            if (o == 0)
                return -EINVAL; /* above the root */
            /* Drop the previous segment. */
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--; /* its separator */
        } else {
            if (seg_start > 0)
                out[o] = '/';
            o = w;
        }
        i = j + 1;
    }
    out[o] = '\0';
    return (int)o;
}
