/* SPDX-License-Identifier: MIT */
/* coild plugins: each is a subcommand that sets up services on the reactor
 * (the analogue of twistd's IServiceMaker plugins). */
#ifndef COILD_PLUGIN_H
#define COILD_PLUGIN_H

#include <stdbool.h>
#include <stdio.h>

#include <coil/coil.h>

typedef struct coild_plugin {
    const char *name;
    const char *description;
    /* Print the plugin's options. */
    void (*usage)(FILE *out);
    /* Parse argv (argv[0] is the plugin name) and start listening.
     * Returns 0, or a negative errno after printing why to stderr;
     * -EINVAL means a usage error (bad option or port description: coild
     * exits 2), anything else a failure to start (exit 1). */
    int (*start)(coil_reactor *r, int argc, char **argv);
} coild_plugin;

extern const coild_plugin coild_echo_plugin;
extern const coild_plugin coild_qotd_plugin;
extern const coild_plugin coild_web_plugin;

/* Listen on a server endpoint description ("8000", "tcp:8000:interface=
 * 127.0.0.1", "unix:/run/e.sock:mode=600", "haproxy:tcp:9000",
 * "systemd:domain=INET:index=0", ...) while the reactor runs. Prints
 * "coild: listening on ADDR" to stdout once listening (text logs), errors to
 * stderr. Returns 0, -EINVAL for an invalid description (usage error), or
 * the listen error. */
int coild_listen(coil_reactor *r, const char *desc, coil_factory *f);

/* Free what coild_listen() made (after the reactor is gone). */
void coild_listen_cleanup(void);

/* Set by coild_log_setup() for --log-format=json. */
extern bool coild_json_output;

/* Log output for the runner: Twisted-style text or JSON lines on stdout. */
int coild_log_setup(const char *format, const char *level);

#endif
