/* SPDX-License-Identifier: MIT */
#include "listing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct entry {
    char *name;
    bool dir;
    long long size;
} entry;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

static void free_entries(entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].name);
    free(e);
}

/* Read every entry (fdopendir takes the descriptor: give it a copy). */
static int read_dir(int dirfd, entry **out, size_t *count)
{
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = -errno;
        close(fd);
        return e;
    }
    rewinddir(d);
    entry *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            entry *nv = realloc(v, cap * sizeof(*nv));
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
        }
        struct stat st;
        /* Not following symlinks: a link out of the root reveals nothing. */
        bool have = fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0;
        v[n].name = strdup(de->d_name);
        if (!v[n].name) {
            rc = -ENOMEM;
            break;
        }
        v[n].dir = have ? S_ISDIR(st.st_mode) : de->d_type == DT_DIR;
        v[n].size = have && S_ISREG(st.st_mode) ? (long long)st.st_size : -1;
        n++;
    }
    closedir(d);
    if (rc < 0) {
        free_entries(v, n);
        return rc;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), by_name);
    *out = v;
    *count = n;
    return 0;
}

int web_listing(web_buf *b, int dirfd, const char *title_path)
{
    entry *v = NULL;
    size_t n = 0;
    int rc = read_dir(dirfd, &v, &n);
    if (rc < 0)
        return rc;
    size_t tl = strlen(title_path);
    const char *slash = tl ? "/" : "";
    web_buf_puts(b, "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
                    "<title>Directory listing for /");
    web_html_escape(b, title_path, tl);
    web_buf_puts(b, slash);
    web_buf_puts(b, "</title>\n</head>\n<body>\n<h1>Directory listing for /");
    web_html_escape(b, title_path, tl);
    web_buf_puts(b, slash);
    web_buf_puts(b, "</h1>\n<table>\n<tr><th>Filename</th><th>Size</th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(v[i].name);
        web_buf_puts(b, "<tr><td><a href=\"");
        web_url_encode(b, v[i].name, len);
        if (v[i].dir)
            web_buf_append(b, "/", 1);
        web_buf_puts(b, "\">");
        web_html_escape(b, v[i].name, len);
        if (v[i].dir)
            web_buf_append(b, "/", 1);
        web_buf_puts(b, "</a></td><td>");
        if (v[i].size >= 0) {
            char num[32];
            int k = snprintf(num, sizeof(num), "%lld", v[i].size);
            web_buf_append(b, num, (size_t)k);
        }
        web_buf_puts(b, "</td></tr>\n");
    }
    web_buf_puts(b, "</table>\n</body>\n</html>\n");
    free_entries(v, n);
    return b->error;
}
