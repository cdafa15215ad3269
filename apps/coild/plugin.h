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
extern const coild_plugin coild_proxy_plugin;
extern const coild_plugin coild_udpecho_plugin;
extern const coild_plugin coild_chat_plugin;
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

/* The application coild_listen() adds its listeners to (set by the runner
 * before a plugin starts; without one they run under the reactor alone). */
void coild_listen_set_application(coil_application *app);

/* Plugins' --port: every occurrence adds a listener (as twistd's repeated
 * strports options). coild_ports_add() is called by coild_opt_port(). */
#define COILD_MAX_PORTS 32
typedef struct coild_ports {
    const char *desc[COILD_MAX_PORTS];
    size_t n;
} coild_ports;
/* Listen on every description in `ports`, or on `fallback` if none was
 * given. 0 or the first error (as coild_listen). */
int coild_listen_all(coil_reactor *r, const coild_ports *ports, const char *fallback,
                     coil_factory *f);

/* Set for --log-format=json (no plain "coild: listening on" lines then). */
extern bool coild_json_output;

#endif
