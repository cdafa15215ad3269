/* SPDX-License-Identifier: MIT */
/*
 * coild: run a coil service in the foreground (modelled on Twisted's `twist`
 * runner): `coild [--reactor=uring|poll] [--log-level=info]
 * [--log-format=text|json] PLUGIN [plugin options]`. SIGINT/SIGTERM stop it
 * cleanly; the exit status is 0 after a clean stop, 1 if the service could
 * not start (with the reason on stderr), 2 for usage errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "plugin.h"

static const coild_plugin *const plugins[] = {&coild_echo_plugin, &coild_qotd_plugin,
                                              &coild_web_plugin};
#define NPLUGINS (sizeof(plugins) / sizeof(plugins[0]))

static void usage(FILE *out)
{
    fprintf(out, "Usage: coild [options] PLUGIN [plugin options]\n\n"
                 "Options:\n"
                 "  --reactor=NAME      uring, poll or auto (default: auto, or $COIL_REACTOR)\n"
                 "  --log-level=LEVEL   debug, info, warn, error (default: info)\n"
                 "  --log-format=FMT    text or json (default: text)\n"
                 "  --help, --version\n\nPlugins:\n");
    for (size_t i = 0; i < NPLUGINS; i++)
        fprintf(out, "  %-8s %s\n", plugins[i]->name, plugins[i]->description);
    fprintf(out, "\n`coild PLUGIN --help` shows a plugin's options.\n");
}

static int parse_reactor(const char *name, coil_backend_kind *kind)
{
    if (strcmp(name, "uring") == 0 || strcmp(name, "io_uring") == 0)
        *kind = COIL_BACKEND_URING;
    else if (strcmp(name, "poll") == 0)
        *kind = COIL_BACKEND_POLL;
    else if (strcmp(name, "auto") == 0)
        *kind = COIL_BACKEND_AUTO;
    else
        return -EINVAL;
    return 0;
}

int main(int argc, char **argv)
{
    const char *reactor = NULL, *level = "info", *format = "text";
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("coild %s\n", coil_version_string());
            return 0;
        }
        int m = coild_opt(argc, argv, &i, "reactor", &reactor);
        if (m == 0)
            m = coild_opt(argc, argv, &i, "log-level", &level);
        if (m == 0)
            m = coild_opt(argc, argv, &i, "log-format", &format);
        if (m <= 0) {
            if (m == 0)
                fprintf(stderr, "coild: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const coild_plugin *plugin = NULL;
    for (size_t k = 0; k < NPLUGINS; k++)
        if (strcmp(argv[i], plugins[k]->name) == 0)
            plugin = plugins[k];
    if (!plugin) {
        fprintf(stderr, "coild: unknown plugin '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }
    for (int k = i + 1; k < argc; k++) {
        if (strcmp(argv[k], "--help") == 0) {
            plugin->usage(stdout);
            return 0;
        }
    }
    if (coild_log_setup(format, level) < 0)
        return 2;
    coil_reactor_options opts;
    coil_reactor_options_init(&opts);
    if (reactor && parse_reactor(reactor, &opts.backend) < 0) {
        fprintf(stderr, "coild: unknown reactor '%s' (uring, poll or auto)\n", reactor);
        return 2;
    }
    coil_reactor *r;
    int rc = coil_reactor_new(&r, &opts);
    if (rc < 0) {
        fprintf(stderr, "coild: cannot start the reactor: %s\n", coil_strerror(rc));
        return 1;
    }
    coil_log(COIL_LOG_INFO, "coild", "coild %s (pid %ld) starting %s on %s", coil_version_string(),
             (long)getpid(), plugin->name, coil_reactor_backend_name(r));
    rc = plugin->start(r, argc - i, argv + i);
    if (rc < 0) {
        coil_reactor_free(r);
        coild_listen_cleanup();
        return rc == -EINVAL ? 2 : 1; /* -EINVAL: a usage error (see plugin.h) */
    }
    rc = coil_reactor_run(r);
    coil_reactor_free(r);
    coild_listen_cleanup();
    coil_log(COIL_LOG_INFO, "coild", "Server Shut Down.");
    if (rc < 0) {
        fprintf(stderr, "coild: reactor failed: %s\n", coil_strerror(rc));
        return 1;
    }
    return 0;
}
