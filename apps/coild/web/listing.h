/* SPDX-License-Identifier: MIT */
/* The HTML page listing a directory (Twisted's DirectoryLister). */
#ifndef COILD_WEB_LISTING_H
#define COILD_WEB_LISTING_H

#include "escape.h"

/* List the directory open as `dirfd` (the fd stays the caller's) into `b`:
 * entries sorted by name, "." and ".." left out, subdirectories with a
 * trailing '/'; names are HTML-escaped in the text and percent-encoded in
 * the links. `title_path` is the decoded request path shown as the title.
 * 0 or a negative errno. */
int web_listing(web_buf *b, int dirfd, const char *title_path);

#endif
