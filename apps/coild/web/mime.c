/* SPDX-License-Identifier: MIT */
#include "mime.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct mime_entry {
    const char *ext;
    const char *type;
} mime_entry;

/* Sorted by extension (lower case) for bsearch. Text types carry no
 * charset, as Twisted and nginx serve them. */
static const mime_entry table[] = {
    {"7z", "application/x-7z-compressed"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"bz2", "application/x-bzip2"},
    {"c", "text/plain"},
    {"css", "text/css"},
    {"csv", "text/csv"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"h", "text/plain"},
    {"htm", "text/html"},
    {"html", "text/html"},
    {"ico", "image/vnd.microsoft.icon"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript"},
    {"json", "application/json"},
    {"md", "text/markdown"},
    {"mjs", "text/javascript"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"py", "text/plain"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml"},
    {"xml", "application/xml"},
    {"xz", "application/x-xz"},
    {"zip", "application/zip"},
};

static int compare(const void *key, const void *elem)
{
    return strcasecmp(key, ((const mime_entry *)elem)->ext);
}

const char *web_mime_type(const char *name, size_t len)
{
    size_t i = len;
    while (i > 0 && name[i - 1] != '.' && name[i - 1] != '/')
        i--;
    if (i == 0 || name[i - 1] != '.' || len - i == 0 || len - i > 8)
        return WEB_MIME_DEFAULT;
    /* A leading dot alone (".profile") is a hidden name, not an extension. */
    if (i == 1 || name[i - 2] == '/')
        return WEB_MIME_DEFAULT;
    char ext[9];
    memcpy(ext, name + i, len - i);
    ext[len - i] = '\0';
    const mime_entry *e = bsearch(ext, table, sizeof(table) / sizeof(table[0]), sizeof(table[0]),
                                  compare);
    return e ? e->type : WEB_MIME_DEFAULT;
}
