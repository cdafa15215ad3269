/* SPDX-License-Identifier: MIT */
/* Clock internals shared with the reactor. */
#ifndef COIL_CLOCK_INT_H
#define COIL_CLOCK_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <coil/clock.h>

#include "heap.h"

struct coil_clock {
    coil__heap heap;
    uint64_t seq;     /* next insertion number */
    bool fake;
    int64_t fake_now; /* ns, fake clocks only */
};

int64_t coil__monotonic_ns(void);
int64_t coil__clock_now_ns(const coil_clock *c);
void coil__clock_init(coil_clock *c, bool fake);
/* Frees pending calls without running them. */
void coil__clock_fini(coil_clock *c);
/* Deadline of the earliest pending call, INT64_MAX if none. */
int64_t coil__clock_next_ns(const coil_clock *c);
/* Run calls due at `now` whose seq is below `seq_limit` (the reactor passes
 * the seq at the start of the turn so a call rescheduling itself at 0 delay
 * waits for the next turn). Returns how many ran. */
size_t coil__clock_run_due(coil_clock *c, int64_t now, uint64_t seq_limit);

#endif
