/* SPDX-License-Identifier: MIT */
/* Content-Type by file name extension (case-insensitive). */
#ifndef COILD_WEB_MIME_H
#define COILD_WEB_MIME_H

#include <stddef.h>

#define WEB_MIME_DEFAULT "application/octet-stream"

/* The media type for `name` (a path or a file name): the entry of its last
 * extension in a built-in table (the common web types), else
 * WEB_MIME_DEFAULT. Never NULL; the string is static. */
const char *web_mime_type(const char *name, size_t len);

#endif
