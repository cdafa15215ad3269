/* SPDX-License-Identifier: MIT */
#include "cache.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"

#define NBUCKETS 1024

struct web_cache {
    int rootfd;
    const char *root_real;
    web_cache_options o;
    web_file *buckets[NBUCKETS];
    web_file *lru_head, *lru_tail; /* head: most recently used */
    size_t n;
};

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int web_cache_new(web_cache **out, int rootfd, const char *root_real, const web_cache_options *o)
{
    web_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->rootfd = rootfd;
    c->root_real = root_real;
    c->o = *o;
    *out = c;
    return 0;
}

static void file_free(web_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free((void *)f->bytes);
    free(f->key);
    free(f);
}

void web_file_ref(web_file *f)
{
    f->refs++;
}

void web_file_unref(web_file *f)
{
    if (--f->refs == 0)
        file_free(f);
}

static void lru_unlink(web_cache *c, web_file *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        c->lru_head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        c->lru_tail = f->prev;
    f->prev = f->next = NULL;
}

static void lru_push(web_cache *c, web_file *f)
{
    f->next = c->lru_head;
    f->prev = NULL;
    if (c->lru_head)
        c->lru_head->prev = f;
    else
        c->lru_tail = f;
    c->lru_head = f;
}

/* Take `f` out of the table; the table's reference goes. */
static void drop(web_cache *c, web_file *f)
{
    web_file **pp = &c->buckets[f->hash % NBUCKETS];
    while (*pp != f)
        pp = &(*pp)->hnext;
    *pp = f->hnext;
    lru_unlink(c, f);
    f->in_table = 0;
    c->n--;
    web_file_unref(f);
}

void web_cache_free(web_cache *c)
{
    if (!c)
        return;
    while (c->lru_head)
        drop(c, c->lru_head);
    free(c);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Open and classify. 0 with *fd and *st for a regular file. */
static int open_file(web_cache *c, const char *rel, int *fd, struct stat *st)
{
    int f = web_open_beneath(c->rootfd, c->root_real, rel);
    if (f < 0)
        return f;
    if (fstat(f, st) < 0) {
        int e = -errno;
        close(f);
        return e;
    }
    if (!S_ISREG(st->st_mode)) {
        close(f);
        return S_ISDIR(st->st_mode) ? -EISDIR : -ENOENT;
    }
    *fd = f;
    return 0;
}

/* Small files are read once into memory; a short read (the file changed
 * meanwhile) just leaves them to be read per response. */
static void load_bytes(web_cache *c, web_file *f)
{
    size_t size = (size_t)f->st.st_size;
    if (size == 0 || size > c->o.max_bytes)
        return;
    char *b = malloc(size);
    if (!b)
        return;
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(f->fd, b + got, size - got, (off_t)got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got == size)
        f->bytes = b;
    else
        free(b);
}

int web_cache_get(web_cache *c, const char *rel, double now, web_file **out)
{
    uint32_t h = fnv1a(rel);
    web_file *f = c->buckets[h % NBUCKETS];
    while (f && !(f->hash == h && strcmp(f->key, rel) == 0))
        f = f->hnext;
    if (f && now - f->checked <= c->o.ttl) {
        lru_unlink(c, f);
        lru_push(c, f);
        web_file_ref(f);
        *out = f;
        return 0;
    }
    int fd = -1;
    struct stat st;
    int rc = open_file(c, rel, &fd, &st);
    if (f && rc == 0 && same_file(&f->st, &st)) {
        close(fd); /* unchanged: keep the entry */
        f->checked = now;
        lru_unlink(c, f);
        lru_push(c, f);
        web_file_ref(f);
        *out = f;
        return 0;
    }
    if (f)
        drop(c, f); /* changed or gone */
    if (rc < 0)
        return rc;
    web_file *n = calloc(1, sizeof(*n));
    char *key = strdup(rel);
    if (!n || !key) {
        free(n);
        free(key);
        close(fd);
        return -ENOMEM;
    }
    n->fd = fd;
    n->st = st;
    n->key = key;
    n->hash = h;
    n->checked = now;
    n->refs = 1; /* the caller's */
    load_bytes(c, n);
    if (c->o.max_entries > 0) {
        while (c->n >= c->o.max_entries)
            drop(c, c->lru_tail);
        n->refs++; /* the table's */
        n->in_table = 1;
        n->hnext = c->buckets[h % NBUCKETS];
        c->buckets[h % NBUCKETS] = n;
        lru_push(c, n);
        c->n++;
    }
    *out = n;
    return 0;
}
