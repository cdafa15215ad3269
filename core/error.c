/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include <coil/error.h>

const char *coil_strerror(int err)
{
    switch (err) {
    case 0:
        return "Connection was closed cleanly";
#define COIL__ERR_MSG(name, value, msg)                                                            \
    case value:                                                                                    \
        return msg;
        COIL_ERRNO_MAP(COIL__ERR_MSG)
#undef COIL__ERR_MSG
    }
    if (err < 0 && err > -4000)
        return strerror(-err); /* glibc returns static strings for known codes */
    return "Unknown error";
}

#ifndef __GLIBC__
/* Elsewhere (musl): the names of the codes a network program meets. */
static const char *errno_name(int e)
{
    switch (e) {
#define N(x)                                                                                       \
    case x:                                                                                        \
        return #x;
        N(EPERM) N(ENOENT) N(ESRCH) N(EINTR) N(EIO) N(ENXIO) N(E2BIG) N(EBADF) N(ECHILD)
        N(EAGAIN) N(ENOMEM) N(EACCES) N(EFAULT) N(EBUSY) N(EEXIST) N(ENODEV) N(ENOTDIR)
        N(EISDIR) N(EINVAL) N(ENFILE) N(EMFILE) N(ENOSPC) N(ESPIPE) N(EROFS) N(EPIPE)
        N(ERANGE) N(ENAMETOOLONG) N(ENOSYS) N(ENOTEMPTY) N(ELOOP) N(EBADR) N(ETIME)
        N(EOVERFLOW) N(ENOTSOCK) N(EDESTADDRREQ) N(EMSGSIZE) N(EPROTOTYPE) N(ENOPROTOOPT)
        N(EPROTONOSUPPORT) N(EOPNOTSUPP) N(EAFNOSUPPORT) N(EADDRINUSE) N(EADDRNOTAVAIL)
        N(ENETDOWN) N(ENETUNREACH) N(ENETRESET) N(ECONNABORTED) N(ECONNRESET) N(ENOBUFS)
        N(EISCONN) N(ENOTCONN) N(ESHUTDOWN) N(ETIMEDOUT) N(ECONNREFUSED) N(EHOSTDOWN)
        N(EHOSTUNREACH) N(EALREADY) N(EINPROGRESS) N(ECANCELED)
#undef N
    }
    return NULL;
}
#define strerrorname_np errno_name
#endif

const char *coil_err_name(int err)
{
    switch (err) {
    case 0:
        return "OK";
#define COIL__ERR_NAME(name, value, msg)                                                           \
    case value:                                                                                    \
        return #name;
        COIL_ERRNO_MAP(COIL__ERR_NAME)
#undef COIL__ERR_NAME
    }
    if (err < 0 && err > -4000) {
        const char *name = strerrorname_np(-err);
        if (name)
            return name;
    }
    return "UNKNOWN";
}
