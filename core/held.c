/* SPDX-License-Identifier: MIT */
/*
 * Input held while a protocol is paused, for plain and wrapped transports
 * alike (one set of pause rules): bytes that arrive while paused, or while
 * earlier bytes still wait, are kept in order, with an EOF after them; once
 * reading resumes they are handed over from the loop in slices, stopping as
 * soon as the protocol pauses or closes again. A protocol that pauses at its
 * high-water mark thus queues at most one slice past it, however much the
 * kernel had delivered before the pause took effect.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define HELD_SLICE 65536

static bool paused(const coil_transport *t)
{
    return t->flags & COIL__T_PAUSED;
}

static bool stopped(const coil_transport *t)
{
    return paused(t) || t->h.closing || (t->flags & COIL__T_DISCONNECTING);
}

static int append(coil_transport *t, const void *data, size_t n)
{
    char *b = realloc(t->held, t->held_len + n);
    if (!b)
        return -ENOMEM;
    memcpy(b + t->held_len, data, n);
    t->held = b;
    t->held_len += n;
    t->h.r->stats.held_bytes += n;
    return 0;
}

int coil__held_data(coil_transport *t, const void *data, size_t n)
{
    if (!paused(t) && !t->held_len)
        return 0;
    int rc = append(t, data, n);
    return rc < 0 ? rc : 1;
}

bool coil__held_eof(coil_transport *t)
{
    if (!paused(t) && !t->held_len)
        return false;
    t->flags |= COIL__T_HELD_EOF;
    return true;
}

bool coil__held_pending(const coil_transport *t)
{
    return t->held_len || (t->flags & COIL__T_HELD_EOF);
}

int coil__held_deliver(coil_transport *t)
{
    if (t->held_len && !paused(t)) {
        char *data = t->held;
        size_t len = t->held_len, off = 0;
        t->h.r->stats.held_bytes -= len;
        t->held = NULL;
        t->held_len = 0;
        while (off < len && !stopped(t)) {
            size_t n = len - off < HELD_SLICE ? len - off : HELD_SLICE;
            t->proto->ops->data_received(t->proto, data + off, n);
            off += n;
        }
        if (off < len && !t->h.closing && !(t->flags & COIL__T_DISCONNECTING)) {
            /* Paused again: keep the rest, then whatever arrived meanwhile
             * (only if a callback iterated the loop). */
            char *later = t->held;
            size_t later_len = t->held_len;
            t->h.r->stats.held_bytes -= later_len;
            memmove(data, data + off, len - off);
            t->held = data;
            t->held_len = len - off;
            t->h.r->stats.held_bytes += len - off;
            int rc = later ? append(t, later, later_len) : 0;
            free(later);
            if (rc < 0)
                return rc;
        } else {
            free(data);
        }
    }
    if ((t->flags & COIL__T_HELD_EOF) && !t->held_len && !stopped(t)) {
        t->flags &= ~COIL__T_HELD_EOF;
        return 1;
    }
    return 0;
}

void coil__held_drop(coil_transport *t)
{
    t->h.r->stats.held_bytes -= t->held_len;
    free(t->held);
    t->held = NULL;
    t->held_len = 0;
}
