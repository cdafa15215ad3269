/* SPDX-License-Identifier: MIT */
/*
 * `coild web --path DIR`: serve a directory over HTTP/1.1 (Twisted's
 * `twistd web --path DIR`). See docs/WEB.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../options.h"
#include "../plugin.h"
#include "server.h"

static web_server server; /* lives until coild exits */
static bool server_up;

static void web_usage(FILE *out)
{
    fprintf(out,
            "Usage: coild [options] web --path DIR [--port PORT] [options]\n"
            "  --path DIR           the directory to serve (required)\n"
            "  --port PORT          where to listen, a server endpoint description\n"
            "                       (default tcp:8080; see coild echo --help)\n"
            "  --timeout SECONDS    close connections idle this long (default 60, 0: never)\n"
            "  --max-header-bytes N request line and headers, bytes (default 8192; 431 beyond)\n"
            "  --max-headers N      header fields per request (default 100; 431 beyond)\n"
            "  --max-body N         request body bytes (default 65536; 413 beyond)\n"
            "  --cache-entries N    open files kept (default 256, 0: none)\n"
            "  --cache-bytes N      files up to N bytes are kept in memory (default 32768)\n"
            "  --cache-ttl SECONDS  check a cached file again after this (default 1)\n"
            "  --zero-copy on|off   file bodies by sendfile/splice (default on)\n");
}

static int number(const char *name, const char *v, double min, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < min || d != d) {
        fprintf(stderr, "coild web: --%s wants a number >= %g, not '%s'\n", name, min, v);
        return -EINVAL;
    }
    *out = d;
    return 0;
}

static void stop_server(void *arg)
{
    if (server_up) {
        coil_reactor_stats st;
        coil_reactor_get_stats(server.r, &st);
        coil_log(COIL_LOG_INFO, "coil.web",
                 "%llu requests; reactor: %llu turns, %llu waits, %llu SQEs, %llu completions, "
                 "%llu ENOBUFS",
                 server.requests, (unsigned long long)st.loop_turns,
                 (unsigned long long)st.submits, (unsigned long long)st.sqes,
                 (unsigned long long)st.completions, (unsigned long long)st.enobufs);
        web_server_fini(&server);
        server_up = false;
    }
}

static int web_start(coil_reactor *r, int argc, char **argv)
{
    web_options o;
    web_options_init(&o);
    coild_ports ports = {0}; /* every --port adds a listener */
    static const char *const numeric[] = {"timeout", "max-header-bytes", "max-headers",
                                          "max-body", "cache-entries", "cache-bytes",
                                          "cache-ttl"};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m = coild_opt_port(argc, argv, &i, &ports);
        if (m == 0)
            m = coild_opt(argc, argv, &i, "path", &o.root);
        if (m == 0 && (m = coild_opt(argc, argv, &i, "zero-copy", &v)) > 0) {
            if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
                fprintf(stderr, "coild web: --zero-copy is on or off\n");
                return -EINVAL;
            }
            o.zero_copy = strcmp(v, "on") == 0;
        }
        for (size_t k = 0; m == 0 && k < sizeof(numeric) / sizeof(numeric[0]); k++) {
            m = coild_opt(argc, argv, &i, numeric[k], &v);
            double d;
            if (m > 0 && number(numeric[k], v, k == 1 ? 256 : k == 2 ? 1 : 0, &d) < 0)
                return -EINVAL;
            if (m <= 0)
                continue;
            switch (k) {
            case 0: o.idle_timeout = d; break;
            case 1: o.limits.max_head = (size_t)d; break;
            case 2: o.limits.max_headers = (size_t)d; break;
            case 3: o.limits.max_body = (size_t)d; break;
            case 4: o.cache.max_entries = (size_t)d; break;
            case 5: o.cache.max_bytes = (size_t)d; break;
            case 6: o.cache.ttl = d; break;
            }
        }
        if (m < 0)
            return -EINVAL;
        if (m == 0) {
            fprintf(stderr, "coild web: unknown option '%s'\n", argv[i]);
            web_usage(stderr);
            return -EINVAL;
        }
    }
    if (!o.root) {
        fprintf(stderr, "coild web: --path DIR is required\n");
        web_usage(stderr);
        return -EINVAL;
    }
    int rc = web_server_init(&server, r, &o);
    if (rc < 0) {
        fprintf(stderr, "coild web: cannot serve '%s': %s\n", o.root, coil_strerror(rc));
        return -EIO;
    }
    server_up = true;
    /* Cached files close once the reactor has shut every connection. */
    coil_reactor_add_trigger(r, COIL_PHASE_AFTER, COIL_EVENT_SHUTDOWN, stop_server, NULL);
    coil_log(COIL_LOG_INFO, "coil.web", "serving %s", server.root_real);
    rc = coild_listen_all(r, &ports, "tcp:8080", &server.factory);
    if (rc < 0)
        stop_server(NULL);
    return rc;
}

const coild_plugin coild_web_plugin = {
    .name = "web",
    .description = "serve a directory over HTTP (static files)",
    .usage = web_usage,
    .start = web_start,
};
