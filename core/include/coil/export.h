/* SPDX-License-Identifier: MIT */
/* Symbol visibility: the library is built with -fvisibility=hidden and only
 * declarations marked COIL_API are exported from libcoil.so. */
#ifndef COIL_EXPORT_H
#define COIL_EXPORT_H

#if defined(COIL_BUILDING) && defined(__GNUC__)
#define COIL_API __attribute__((visibility("default")))
#else
#define COIL_API
#endif

#endif
