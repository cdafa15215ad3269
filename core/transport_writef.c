/* SPDX-License-Identifier: MIT */
/* printf-style writes: format on the stack when the text is short (the
 * usual reply line), on the heap otherwise. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <coil/transport.h>

int coil_transport_vwritef(coil_transport *t, const char *fmt, va_list ap)
{
    char small[256];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n < 0) {
        va_end(again);
        return -EINVAL;
    }
    if ((size_t)n < sizeof(small)) {
        va_end(again);
        return coil_transport_write(t, small, (size_t)n);
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        va_end(again);
        return -ENOMEM;
    }
    vsnprintf(big, (size_t)n + 1, fmt, again);
    va_end(again);
    int rc = coil_transport_write(t, big, (size_t)n);
    free(big);
    return rc;
}

int coil_transport_writef(coil_transport *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = coil_transport_vwritef(t, fmt, ap);
    va_end(ap);
    return rc;
}
