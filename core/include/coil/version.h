/* SPDX-License-Identifier: MIT */
#ifndef COIL_VERSION_H
#define COIL_VERSION_H

#include "export.h"

#define COIL_VERSION_MAJOR 0
#define COIL_VERSION_MINOR 1
#define COIL_VERSION_PATCH 0
#define COIL_VERSION_HEX                                                                           \
    ((COIL_VERSION_MAJOR << 16) | (COIL_VERSION_MINOR << 8) | COIL_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* COIL_VERSION_HEX of the library actually linked (may differ from the header). */
COIL_API unsigned coil_version(void);
/* "MAJOR.MINOR.PATCH"; static storage, never freed. */
COIL_API const char *coil_version_string(void);

#ifdef __cplusplus
}
#endif
#endif
