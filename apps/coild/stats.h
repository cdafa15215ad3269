/* SPDX-License-Identifier: MIT */
/* coild --stats-interval SECONDS: the reactor's counters in the log. */
#ifndef COILD_STATS_H
#define COILD_STATS_H

#include <coil/coil.h>

/* Parse `seconds` (a number > 0) and log the reactor's counters every that
 * many seconds at INFO (system "coild.stats") until shutdown begins, and
 * once more then. 0, or -EINVAL (with a message on stderr) for a bad value,
 * or -ENOMEM. */
int coild_stats_start(coil_reactor *r, const char *seconds);

#endif
