/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include <coil/log.h>

#include "fake_transport.h"

int coil_transport_write(coil_transport *t, const void *data, size_t len)
{
    CHECK(t != NULL && (data != NULL || len == 0));
    if (t->disconnecting)
        return -107; /* -ENOTCONN */
    t->written += len;
    return 0;
}

int coil_transport_writev(coil_transport *t, const struct iovec *iov, int iovcnt)
{
    for (int i = 0; i < iovcnt; i++) {
        int rc = coil_transport_write(t, iov[i].iov_base, iov[i].iov_len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void coil_transport_lose_connection(coil_transport *t)
{
    t->disconnecting = true;
    t->loses++;
}

void coil_transport_pause_reading(coil_transport *t)
{
    t->paused = true;
}

void coil_transport_resume_reading(coil_transport *t)
{
    t->paused = false;
}

bool coil_transport_is_disconnecting(const coil_transport *t)
{
    return t->disconnecting;
}

void coil_log(coil_log_level level, const char *system, const char *fmt, ...)
{
    (void)level;
    (void)system;
    (void)fmt;
}

void fz_log_event(fz_log *l, char kind, const void *data, size_t len, bool merge)
{
    bool join = merge && l->len && l->last_kind == kind;
    size_t need = l->len + len + (join ? 0 : 9);
    if (need > l->cap) {
        size_t cap = l->cap ? l->cap : 1024;
        while (cap < need)
            cap *= 2;
        l->data = realloc(l->data, cap);
        CHECK(l->data != NULL);
        l->cap = cap;
    }
    if (!join) {
        l->last_hdr = l->len;
        l->data[l->len] = (unsigned char)kind;
        memset(l->data + l->len + 1, 0, 8);
        l->len += 9;
        l->last_kind = kind;
    }
    uint64_t n;
    memcpy(&n, l->data + l->last_hdr + 1, 8);
    n += len;
    memcpy(l->data + l->last_hdr + 1, &n, 8);
    if (len)
        memcpy(l->data + l->len, data, len);
    l->len += len;
}

void fz_log_free(fz_log *l)
{
    free(l->data);
    memset(l, 0, sizeof(*l));
}

bool fz_log_equal(const fz_log *a, const fz_log *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}
