/* SPDX-License-Identifier: MIT */
/*
 * A logger module for `coild --logger ./line_logger.so` (twistd's
 * --logger): every event becomes one "LEVEL system: text" line in the file
 * named by $COIL_LINE_LOGGER_FILE (standard error if unset).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <coil/coil.h>

static void observe(void *arg, coil_log_level level, const char *system, const char *msg)
{
    FILE *f = arg;
    fprintf(f, "%s %s: %s\n", coil_log_level_name(level), system, msg);
    fflush(f);
}

static FILE *out; /* open until coild exits */

COIL_MODULE_EXPORT int coil_logger_factory(coil_log_fn *fn, void **arg)
{
    const char *path = getenv("COIL_LINE_LOGGER_FILE");
    out = path ? fopen(path, "ae") : stderr;
    if (!out)
        return -errno;
    *fn = observe;
    *arg = out;
    return 0;
}
