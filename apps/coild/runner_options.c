/* SPDX-License-Identifier: MIT */
/*
 * coild's own options (twistd's names and defaults): long options as
 * `--name=VALUE` or `--name VALUE`, short ones as `-l FILE`, `-lFILE` or
 * grouped (`-ny app.so`). Parsing stops at the first argument that is not
 * an option (the plugin) or after `-y PATH` (the rest goes to the app).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

enum opt_id {
    O_NODAEMON, O_PIDFILE, O_LOGFILE, O_ROTATE_LENGTH, O_MAX_ROTATED, O_DAILY, O_LOGGER,
    O_SYSLOG, O_PREFIX, O_UID, O_GID, O_CHROOT, O_RUNDIR, O_UMASK, O_REACTOR, O_LOG_LEVEL,
    O_LOG_FORMAT, O_SHUTDOWN_TIMEOUT, O_APP, O_PLUGIN, O_HELP, O_VERSION, O_STATS_INTERVAL,
};

typedef struct opt {
    const char *name;
    char short_name;
    bool takes_value;
    enum opt_id id;
} opt;

static const opt opts[] = {
    {"nodaemon", 'n', false, O_NODAEMON},
    {"pidfile", 0, true, O_PIDFILE},
    {"logfile", 'l', true, O_LOGFILE},
    {"logfile-rotate-length", 0, true, O_ROTATE_LENGTH},
    {"logfile-max-rotated", 0, true, O_MAX_ROTATED},
    {"logfile-daily", 0, false, O_DAILY},
    {"logger", 0, true, O_LOGGER},
    {"syslog", 0, false, O_SYSLOG},
    {"prefix", 0, true, O_PREFIX},
    {"uid", 'u', true, O_UID},
    {"gid", 'g', true, O_GID},
    {"chroot", 0, true, O_CHROOT},
    {"rundir", 'd', true, O_RUNDIR},
    {"umask", 0, true, O_UMASK},
    {"reactor", 'r', true, O_REACTOR},
    {"log-level", 0, true, O_LOG_LEVEL},
    {"log-format", 0, true, O_LOG_FORMAT},
    {"shutdown-timeout", 0, true, O_SHUTDOWN_TIMEOUT},
    {"stats-interval", 0, true, O_STATS_INTERVAL},
    {"application", 'y', true, O_APP},
    {"plugin", 0, true, O_PLUGIN},
    {"help", 'h', false, O_HELP},
    {"version", 0, false, O_VERSION},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void coild_options_usage(FILE *out)
{
    fprintf(out,
            "Usage: coild [options] PLUGIN [plugin options]\n"
            "       coild [options] -y APP.so [application arguments]\n\n"
            "Options:\n"
            "  -n, --nodaemon            stay in the foreground (default: daemonize)\n"
            "  -y, --application=SO      run the application built by SO's\n"
            "                            coil_application_main() (docs/RUNNER.md)\n"
            "      --plugin=SO           add the subcommand SO describes (repeatable)\n"
            "      --pidfile=FILE        default coild.pid when daemonized; '' for none\n"
            "  -l, --logfile=FILE        '-' for stdout; default coild.log when\n"
            "                            daemonized, stdout with -n\n"
            "      --logfile-rotate-length=BYTES  rotate at this size (default 1000000,\n"
            "                            0: never)\n"
            "      --logfile-max-rotated=N       keep N rotated files (default: all)\n"
            "      --logfile-daily       rotate once a day (FILE.YYYY_MM_DD) instead\n"
            "      --logger=SO           log to the observer SO's coil_logger_factory()\n"
            "                            makes\n"
            "      --syslog              log to syslog (ident: --prefix, default coild)\n"
            "      --prefix=NAME\n"
            "  -u, --uid=USER            run as USER after the ports are bound\n"
            "  -g, --gid=GROUP           default: USER's primary group\n"
            "      --chroot=DIR          chroot to DIR before starting\n"
            "  -d, --rundir=DIR          change to DIR (default: / when daemonized)\n"
            "      --umask=OCTAL         default 0077 when daemonized\n"
            "  -r, --reactor=NAME        uring, epoll, poll or auto (default: auto, or\n"
            "                            $COIL_REACTOR)\n"
            "      --log-level=LEVEL     debug, info, warn, error (default: info)\n"
            "      --log-format=FMT      text or json (default: text)\n"
            "      --shutdown-timeout=S  seconds the services get to stop on SIGTERM\n"
            "                            before connections are aborted (default 30)\n"
            "      --stats-interval=S    log the reactor's counters every S seconds\n"
            "  -h, --help, --version\n");
}

int coild_parse_reactor(const char *name, coil_backend_kind *kind)
{
    if (strcmp(name, "uring") == 0 || strcmp(name, "io_uring") == 0)
        *kind = COIL_BACKEND_URING;
    else if (strcmp(name, "poll") == 0)
        *kind = COIL_BACKEND_POLL;
    else if (strcmp(name, "epoll") == 0)
        *kind = COIL_BACKEND_EPOLL;
    else if (strcmp(name, "auto") == 0 || strcmp(name, "default") == 0)
        *kind = COIL_BACKEND_AUTO;
    else
        return -EINVAL;
    return 0;
}

static int parse_number(const char *name, const char *v, unsigned long long max,
                        unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (!*v || *end || errno || v[0] == '-' || n > max) {
        fprintf(stderr, "coild: invalid --%s '%s' (a number)\n", name, v);
        return -EINVAL;
    }
    *out = n;
    return 0;
}

static int apply(coild_config *c, const opt *o, const char *v)
{
    unsigned long long n;
    switch (o->id) {
    case O_NODAEMON: c->nodaemon = true; break;
    case O_PIDFILE: c->pidfile = v; break;
    case O_LOGFILE: c->logfile = v; break;
    case O_ROTATE_LENGTH:
        if (parse_number(o->name, v, UINT64_MAX, &n) < 0)
            return -EINVAL;
        c->rotate_length = n;
        break;
    case O_MAX_ROTATED:
        if (parse_number(o->name, v, 1000000, &n) < 0)
            return -EINVAL;
        c->max_rotated = (unsigned)n;
        break;
    case O_DAILY: c->daily = true; break;
    case O_LOGGER: c->logger = v; break;
    case O_SYSLOG: c->syslog = true; break;
    case O_PREFIX: c->prefix = v; break;
    case O_UID: c->uid = v; break;
    case O_GID: c->gid = v; break;
    case O_CHROOT: c->chroot_dir = v; break;
    case O_RUNDIR: c->rundir = v; break;
    case O_UMASK: c->umask_text = v; break;
    case O_REACTOR: c->reactor = v; break;
    case O_LOG_LEVEL: c->level = v; break;
    case O_LOG_FORMAT: c->format = v; break;
    case O_SHUTDOWN_TIMEOUT: {
        char *end;
        double t = strtod(v, &end);
        if (!*v || *end || !(t >= 0) || t > 1e6) {
            fprintf(stderr, "coild: invalid --shutdown-timeout '%s' (seconds)\n", v);
            return -EINVAL;
        }
        c->shutdown_timeout = t;
        break;
    }
    case O_STATS_INTERVAL: {
        char *end;
        double t = strtod(v, &end);
        if (!*v || *end || !(t > 0) || t > 1e6) {
            fprintf(stderr, "coild: invalid --stats-interval '%s' (seconds > 0)\n", v);
            return -EINVAL;
        }
        c->stats_interval = v;
        break;
    }
    case O_APP: c->app_path = v; break;
    case O_PLUGIN:
        if (c->nplugin_files == COILD_MAX_PLUGIN_FILES) {
            fprintf(stderr, "coild: too many --plugin files\n");
            return -EINVAL;
        }
        c->plugin_files[c->nplugin_files++] = v;
        break;
    case O_HELP: return COILD_OPTS_HELP;
    case O_VERSION: return COILD_OPTS_VERSION;
    }
    return 0;
}

static const opt *find_long(const char *a, size_t len)
{
    for (size_t k = 0; k < NOPTS; k++)
        if (strlen(opts[k].name) == len && strncmp(opts[k].name, a, len) == 0)
            return &opts[k];
    return NULL;
}

static const opt *find_short(char ch)
{
    for (size_t k = 0; k < NOPTS; k++)
        if (opts[k].short_name == ch)
            return &opts[k];
    return NULL;
}

int coild_parse_options(int argc, char **argv, coild_config *c)
{
    memset(c, 0, sizeof(*c));
    c->rotate_length = 1000000;
    c->prefix = "coild";
    c->level = "info";
    c->format = "text";
    c->shutdown_timeout = 30;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] && !c->app_path; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        int rc;
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            const opt *o = find_long(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
            if (!o) {
                fprintf(stderr, "coild: unknown option '%s'\n", a);
                return -EINVAL;
            }
            const char *v = NULL;
            if (o->takes_value) {
                if (eq) {
                    v = eq + 1;
                } else if (i + 1 < argc) {
                    v = argv[++i];
                } else {
                    fprintf(stderr, "coild: option --%s needs a value\n", o->name);
                    return -EINVAL;
                }
            } else if (eq) {
                fprintf(stderr, "coild: option --%s takes no value\n", o->name);
                return -EINVAL;
            }
            rc = apply(c, o, v);
        } else {
            rc = 0;
            for (const char *p = a + 1; *p && rc == 0; p++) {
                const opt *o = find_short(*p);
                if (!o) {
                    fprintf(stderr, "coild: unknown option '-%c'\n", *p);
                    return -EINVAL;
                }
                if (!o->takes_value) {
                    rc = apply(c, o, NULL);
                    continue;
                }
                const char *v = p[1] ? p + 1 : i + 1 < argc ? argv[++i] : NULL;
                if (!v) {
                    fprintf(stderr, "coild: option -%c needs a value\n", *p);
                    return -EINVAL;
                }
                rc = apply(c, o, v);
                break;
            }
        }
        if (rc != 0)
            return rc;
    }
    c->cmd = i;
    return COILD_OPTS_RUN;
}
