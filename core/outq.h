/* SPDX-License-Identifier: MIT */
/*
 * A transport's output queue: a singly linked list of chunks. Small writes
 * are copied into pooled 16 KiB blocks (appending to the tail block while an
 * earlier part of it is in flight is safe: in-flight bytes never move);
 * large writes get one exact-size block; borrowed buffers are queued
 * without a copy and released when sent or dropped; file segments (fd,
 * offset, length) are queued in order with the rest and sent by the backend
 * with sendfile/splice (the kernel copies from the page cache).
 */
#ifndef COIL_OUTQ_H
#define COIL_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <coil/transport.h>

#define COIL__BLOCK_SIZE 16384

typedef struct coil__chunk {
    struct coil__chunk *next;
    const char *data;
    size_t start, end, cap; /* pending bytes are data[start, end) */
    coil_release_fn release; /* borrowed and file chunks only */
    void *release_arg;
    int fd;                  /* file chunks: data is NULL, bytes are */
    int64_t file_off;        /* the file's [file_off + start, file_off + end) */
    uint8_t kind;            /* COIL__CHUNK_* */
} coil__chunk;

/* Free pooled blocks, shared by every transport of a reactor. */
typedef struct coil__pool {
    coil__chunk *free;
    size_t nfree, max_free;
} coil__pool;

typedef struct coil__outq {
    coil__chunk *head, *tail;
    size_t bytes;
} coil__outq;

int coil__outq_write(coil__outq *q, coil__pool *pool, const void *data, size_t len);
int coil__outq_borrow(coil__outq *q, const void *data, size_t len, coil_release_fn release,
                      void *arg);
/* Queue `len` bytes of file `fd` from `off`; release(arg, NULL, len) runs
 * once when they were sent or dropped. */
int coil__outq_file(coil__outq *q, int fd, int64_t off, size_t len, coil_release_fn release,
                    void *arg);
/* Whether the first pending chunk is a file segment; if so, its fd, the file
 * offset of its next byte and how many bytes are left. */
bool coil__outq_head_file(const coil__outq *q, int *fd, int64_t *off, size_t *len);
/* Fill up to `max` iovecs with the pending bytes from the head, stopping at
 * a file segment; returns the count and stores the byte total in *total. */
int coil__outq_peek(const coil__outq *q, struct iovec *iov, int max, size_t *total);
/* Drop `n` sent bytes from the head, recycling finished chunks. */
void coil__outq_consume(coil__outq *q, coil__pool *pool, size_t n);
/* Drop everything (borrowed buffers are released). */
void coil__outq_clear(coil__outq *q, coil__pool *pool);
void coil__pool_fini(coil__pool *pool);
/* Free pooled blocks beyond `keep`. */
void coil__pool_trim(coil__pool *pool, size_t keep);

#endif
