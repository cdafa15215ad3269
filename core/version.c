/* SPDX-License-Identifier: MIT */
#include <coil/version.h>

#define COIL__STR2(x) #x
#define COIL__STR(x) COIL__STR2(x)

unsigned coil_version(void)
{
    return COIL_VERSION_HEX;
}

const char *coil_version_string(void)
{
    return COIL__STR(COIL_VERSION_MAJOR) "." COIL__STR(COIL_VERSION_MINOR) "." COIL__STR(
        COIL_VERSION_PATCH);
}
