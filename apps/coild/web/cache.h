/* SPDX-License-Identifier: MIT */
/*
 * A small cache of open files: path -> (fd, stat, and for small files their
 * bytes). Bounded in entries (least recently used goes first); an entry
 * older than the TTL is checked again against the file system (a new open
 * beneath the root and fstat: same inode, size and mtime keep it, anything
 * else replaces it), so a changed or removed file is noticed within the TTL.
 * Entries are reference-counted: a response that is still being sent keeps
 * its entry (and fd, and bytes) alive after eviction.
 */
#ifndef COILD_WEB_CACHE_H
#define COILD_WEB_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

typedef struct web_file {
    int fd;
    struct stat st;
    const char *bytes; /* the whole file when small enough, else NULL */
    /* private */
    unsigned refs;
    double checked;
    char *key;
    uint32_t hash;
    struct web_file *hnext, *prev, *next;
    int in_table;
} web_file;

typedef struct web_cache web_cache;

typedef struct web_cache_options {
    size_t max_entries; /* 0: no caching (every lookup opens the file) */
    size_t max_bytes;   /* files up to this size are kept in memory */
    double ttl;         /* seconds before an entry is checked again */
} web_cache_options;

/* `rootfd` and `root_real` (the root's realpath) stay the caller's and must
 * outlive the cache. */
int web_cache_new(web_cache **out, int rootfd, const char *root_real,
                  const web_cache_options *o);
/* Entries still referenced are freed by their last web_file_unref(). */
void web_cache_free(web_cache *c);

/* Look up `rel` at time `now` (seconds, any monotonic clock). 0 and a
 * referenced regular file in *out; -EISDIR for a directory; -ENOENT for
 * anything neither regular nor a directory (FIFOs, devices, sockets); or the
 * error of the open (see fs.h). */
int web_cache_get(web_cache *c, const char *rel, double now, web_file **out);

void web_file_ref(web_file *f);
void web_file_unref(web_file *f);

#endif
