/* SPDX-License-Identifier: MIT */
/* Opening a path strictly beneath the served root. */
#ifndef COILD_WEB_FS_H
#define COILD_WEB_FS_H

/* Open `rel` (relative, as web_path_sanitize() makes it; "" is the root
 * itself) beneath the directory `rootfd`, read-only, non-blocking (a FIFO
 * must not block the server), close-on-exec. Symlinks are followed only
 * while they stay inside the root: with openat2(RESOLVE_BENEATH) where the
 * kernel has it (5.6+), else by checking the opened file's real path
 * against `root_real` (the root's realpath()). Returns the fd, or -ENOENT,
 * -ENOTDIR, -EACCES, -EXDEV (the path leaves the root), -ELOOP, ... */
int web_open_beneath(int rootfd, const char *root_real, const char *rel);

#endif
