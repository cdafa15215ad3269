/* SPDX-License-Identifier: MIT */
/* A tiny "--name VALUE" / "--name=VALUE" reader for plugin options. */
#ifndef COILD_OPTIONS_H
#define COILD_OPTIONS_H

#include <stdio.h>
#include <string.h>

#include "plugin.h"

/* If argv[*i] is --name (with the value next or after '='), store the value,
 * advance *i past it and return 1; return -1 when the value is missing, 0
 * when argv[*i] is another option. */
static inline int coild_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0)
        return 0;
    if (a[2 + n] == '=') {
        *value = a + 3 + n;
        return 1;
    }
    if (a[2 + n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "coild: option --%s needs a value\n", name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

/* --port, repeatable: each one is appended to `ports` (see coild_listen_all
 * in plugin.h). Same return values as coild_opt(). */
static inline int coild_opt_port(int argc, char **argv, int *i, coild_ports *ports)
{
    const char *v;
    int m = coild_opt(argc, argv, i, "port", &v);
    if (m == 1) {
        if (ports->n == COILD_MAX_PORTS) {
            fprintf(stderr, "coild: too many --port options (at most %d)\n", COILD_MAX_PORTS);
            return -1;
        }
        ports->desc[ports->n++] = v;
    }
    return m;
}

#endif
