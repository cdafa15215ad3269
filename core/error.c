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
