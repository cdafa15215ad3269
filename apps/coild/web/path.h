/* SPDX-License-Identifier: MIT */
/* From a request target to a path relative to the served root. */
#ifndef COILD_WEB_PATH_H
#define COILD_WEB_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* Turn the request target `url` (origin form "/a/b%20c?q", or absolute form
 * "http://host/a") into a relative path "a/b c" in out[cap] (NUL-terminated;
 * "" for the root): the query and fragment are dropped, percent escapes are
 * decoded, empty and "." segments removed and ".." segments applied.
 * Refused with -EINVAL (400): a target not starting with '/', a bad escape,
 * a decoded NUL or '/' (an encoded slash never separates segments), a ".."
 * that would climb above the root. -ENAMETOOLONG when it does not fit.
 * *dir_slash tells whether the target's path ended with '/'.
 * Returns the length of the result. Symlinks are not this function's
 * business: the file is opened beneath the root (see fs.h). */
int web_path_sanitize(const char *url, size_t len, char *out, size_t cap, bool *dir_slash);

/* The path part of a request target (before '?' or '#'), raw. */
size_t web_path_raw_len(const char *url, size_t len);

#endif
