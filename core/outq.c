/* SPDX-License-Identifier: MIT */
#include "outq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { COIL__CHUNK_POOLED, COIL__CHUNK_HEAP, COIL__CHUNK_BORROWED, COIL__CHUNK_FILE };

/* Pooled and heap chunks carry their bytes right after the header. */
static char *chunk_bytes(coil__chunk *c)
{
    return (char *)(c + 1);
}

static coil__chunk *chunk_new(coil__pool *pool, size_t need)
{
    coil__chunk *c;
    if (need <= COIL__BLOCK_SIZE && pool->free) {
        c = pool->free;
        pool->free = c->next;
        pool->nfree--;
    } else {
        size_t cap = need <= COIL__BLOCK_SIZE ? COIL__BLOCK_SIZE : need;
        c = malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->kind = cap == COIL__BLOCK_SIZE ? COIL__CHUNK_POOLED : COIL__CHUNK_HEAP;
    }
    c->next = NULL;
    c->data = chunk_bytes(c);
    c->start = c->end = 0;
    c->release = NULL;
    return c;
}

static void chunk_free(coil__pool *pool, coil__chunk *c)
{
    if (c->kind == COIL__CHUNK_BORROWED || c->kind == COIL__CHUNK_FILE) {
        c->release(c->release_arg, c->data, c->cap);
        free(c);
    } else if (c->kind == COIL__CHUNK_POOLED && pool->nfree < pool->max_free) {
        c->next = pool->free;
        pool->free = c;
        pool->nfree++;
    } else {
        free(c);
    }
}

static void append(coil__outq *q, coil__chunk *c)
{
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
}

int coil__outq_write(coil__outq *q, coil__pool *pool, const void *data, size_t len)
{
    const char *p = data;
    size_t total = len;
    coil__chunk *t = q->tail;
    if (t && (t->kind == COIL__CHUNK_POOLED || t->kind == COIL__CHUNK_HEAP) && t->end < t->cap) {
        size_t n = t->cap - t->end < len ? t->cap - t->end : len;
        memcpy(chunk_bytes(t) + t->end, p, n);
        t->end += n;
        p += n;
        len -= n;
    }
    if (len > 0) {
        coil__chunk *c = chunk_new(pool, len);
        if (!c) {
            /* Keep what was appended to the tail: the queue stays consistent
             * and the caller learns the write was short. */
            q->bytes += total - len;
            return -ENOMEM;
        }
        memcpy(chunk_bytes(c), p, len);
        c->end = len;
        append(q, c);
    }
    q->bytes += total;
    return 0;
}

int coil__outq_borrow(coil__outq *q, const void *data, size_t len, coil_release_fn release,
                      void *arg)
{
    coil__chunk *c = malloc(sizeof(*c));
    if (!c)
        return -ENOMEM;
    *c = (coil__chunk){.data = data, .end = len, .cap = len, .release = release,
                       .release_arg = arg, .kind = COIL__CHUNK_BORROWED};
    append(q, c);
    q->bytes += len;
    return 0;
}

int coil__outq_file(coil__outq *q, int fd, int64_t off, size_t len, coil_release_fn release,
                    void *arg)
{
    coil__chunk *c = malloc(sizeof(*c));
    if (!c)
        return -ENOMEM;
    *c = (coil__chunk){.data = NULL, .end = len, .cap = len, .release = release,
                       .release_arg = arg, .fd = fd, .file_off = off, .kind = COIL__CHUNK_FILE};
    append(q, c);
    q->bytes += len;
    return 0;
}

bool coil__outq_head_file(const coil__outq *q, int *fd, int64_t *off, size_t *len)
{
    const coil__chunk *c = q->head;
    while (c && c->end == c->start)
        c = c->next;
    if (!c || c->kind != COIL__CHUNK_FILE)
        return false;
    *fd = c->fd;
    *off = c->file_off + (int64_t)c->start;
    *len = c->end - c->start;
    return true;
}

int coil__outq_peek(const coil__outq *q, struct iovec *iov, int max, size_t *total)
{
    int n = 0;
    size_t sum = 0;
    for (coil__chunk *c = q->head; c && n < max; c = c->next) {
        if (c->end == c->start)
            continue;
        if (c->kind == COIL__CHUNK_FILE)
            break; /* sent on its own, by sendfile/splice */
        iov[n].iov_base = (void *)(c->data + c->start);
        iov[n].iov_len = c->end - c->start;
        sum += iov[n].iov_len;
        n++;
    }
    *total = sum;
    return n;
}

void coil__outq_consume(coil__outq *q, coil__pool *pool, size_t n)
{
    q->bytes -= n;
    while (q->head) {
        coil__chunk *c = q->head;
        size_t avail = c->end - c->start;
        if (n < avail) {
            c->start += n;
            return;
        }
        n -= avail;
        /* Sent blocks go back to the reactor's pool rather than staying with
         * the connection: an idle connection holds no output memory. */
        q->head = c->next;
        if (!q->head)
            q->tail = NULL;
        chunk_free(pool, c);
    }
}

void coil__outq_clear(coil__outq *q, coil__pool *pool)
{
    coil__chunk *c = q->head;
    while (c) {
        coil__chunk *next = c->next;
        chunk_free(pool, c);
        c = next;
    }
    q->head = q->tail = NULL;
    q->bytes = 0;
}

void coil__pool_trim(coil__pool *pool, size_t keep)
{
    while (pool->nfree > keep) {
        coil__chunk *c = pool->free;
        pool->free = c->next;
        pool->nfree--;
        free(c);
    }
}

void coil__pool_fini(coil__pool *pool)
{
    while (pool->free) {
        coil__chunk *c = pool->free;
        pool->free = c->next;
        free(c);
    }
    pool->nfree = 0;
}
