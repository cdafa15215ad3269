/* SPDX-License-Identifier: MIT */
/* Deferred internals shared by deferred.c and deferred_list.c. */
#ifndef COIL_DEFERRED_INT_H
#define COIL_DEFERRED_INT_H

#include <coil/deferred.h>

/* Mark `d` as a DeferredList result holder (see deferred.c). */
void coil__deferred_init_list(coil_deferred *d);

#endif
