/* SPDX-License-Identifier: MIT */
/* Small helpers for code that embeds coil structs in its own. */
#ifndef COIL_UTIL_H
#define COIL_UTIL_H

#include <stddef.h>

/* The struct that contains `ptr` as its member `member`, as the Linux
 * kernel's container_of: from the coil_protocol * a callback receives to
 * the user's struct around it, wherever the member sits:
 *
 *     struct chatter { int id; coil_line_receiver lines; };
 *     struct chatter *c = COIL_CONTAINER_OF(p, struct chatter, lines);
 */
#define COIL_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Marks a callback parameter the function does not use, so that code built
 * with -Wall -Wextra stays quiet without a (void) cast:
 *     static void lost(coil_protocol *p, int reason COIL_UNUSED) { free(p); } */
#if defined(__GNUC__) || defined(__clang__)
#define COIL_UNUSED __attribute__((unused))
#else
#define COIL_UNUSED
#endif

#endif
