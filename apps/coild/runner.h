/* SPDX-License-Identifier: MIT */
/* The runner's parts (twistd's UnixApplicationRunner), one file each:
 * runner_options.c (command line), pidfile.c, daemon.c (fork and the
 * status pipe), log_output.c (observers, log file, syslog, --logger),
 * privileges.c (uid/gid, chroot, umask), app_loader.c (-y, --plugin,
 * --logger shared objects), signal_thread.c (SIGHUP/SIGUSR1),
 * run_app.c (start, shutdown with a bound). */
#ifndef COILD_RUNNER_H
#define COILD_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <coil/coil.h>

#define COILD_MAX_PLUGIN_FILES 16

typedef struct coild_config {
    bool nodaemon;
    const char *pidfile;   /* NULL: coild.pid when daemonized; "": none */
    const char *logfile;   /* NULL: coild.log when daemonized, else stdout */
    uint64_t rotate_length;
    unsigned max_rotated;
    bool daily;
    const char *logger;    /* --logger PATH.so */
    bool syslog;
    const char *prefix;    /* syslog ident */
    const char *uid, *gid; /* names or numbers */
    const char *chroot_dir;
    const char *rundir;
    const char *umask_text;
    const char *reactor, *level, *format;
    double shutdown_timeout;
    const char *stats_interval; /* --stats-interval SECONDS (checked) */
    const char *app_path;  /* -y */
    const char *plugin_files[COILD_MAX_PLUGIN_FILES];
    size_t nplugin_files;
    int cmd;               /* argv index of the subcommand, or of the first
                            application argument after -y PATH */
} coild_config;

/* ---- runner_options.c ---- */
enum { COILD_OPTS_RUN = 0, COILD_OPTS_HELP = 1, COILD_OPTS_VERSION = 2 };
/* Parse coild's own options (up to the subcommand, or up to and including
 * `-y PATH`). Returns COILD_OPTS_*, or -EINVAL after printing why. */
int coild_parse_options(int argc, char **argv, coild_config *c);
void coild_options_usage(FILE *out);
int coild_parse_reactor(const char *name, coil_backend_kind *kind);

/* ---- pidfile.c ---- */
/* twistd's checkPID: 0 if no live process holds `path` (a stale file is
 * removed and *stale set), else prints why and returns a negative errno. */
int coild_pidfile_check(const char *path, bool *stale);
/* Written by name in its directory, which stays open: removing it and
 * handing it to another user work after chroot too. */
int coild_pidfile_write(const char *path);
int coild_pidfile_chown(long uid, long gid);
void coild_pidfile_remove(const char *path);

/* ---- daemon.c ---- */
/* Fork into the background: the caller's process waits until the daemon
 * reports (coild_daemon_ready/failed), relays what the daemon wrote to
 * stderr meanwhile, and exits with its status; only the daemon returns.
 * Returns 0 in the daemon, or a negative errno (no fork happened). */
int coild_daemonize(void);
/* Started: stdio goes to /dev/null, the waiting parent exits 0. */
void coild_daemon_ready(void);
/* Failed with exit status `status` (the parent exits with it). */
void coild_daemon_failed(int status);

/* ---- log_output.c ---- */
extern bool coild_json_output;
/* Check --log-level/--log-format and route the log (before daemonizing:
 * the log file is opened with the caller's cwd). */
int coild_log_start(const coild_config *c);
/* The application's own observer replaces the runner's (not --logger's);
 * NULL puts the runner's back. */
void coild_log_use_observer(coil_log_fn fn, void *arg);
void coild_log_reopen(void);
void coild_log_rotate(void);
int coild_log_chown(long uid, long gid);
void coild_log_stop(void);

/* ---- privileges.c ---- */
/* Resolve -u/-g (names or numbers; the gid defaults to the user's primary
 * group). -1 stays "not set". Prints why on error. */
int coild_resolve_ids(const char *user, const char *group, long *uid, long *gid);
int coild_parse_umask(const char *text, mode_t *out);
/* setgroups/setgid/setuid, then verify root is really gone. Logs
 * "set uid/gid U/G" or why not. */
int coild_drop_privileges(long uid, long gid);
int coild_chroot(const char *dir);

/* ---- app_loader.c ---- */
int coild_load_application(const char *path, coil_application_main_fn **out);
int coild_load_plugin(const char *path, const coil_plugin_descriptor **out);
int coild_load_logger(const char *path, coil_log_fn *fn, void **arg);

/* ---- signal_thread.c ---- */
/* Block SIGHUP, SIGUSR1, SIGINT and SIGTERM in this thread (and every
 * thread made later); the reactor reads SIGINT/SIGTERM from its signalfd. */
void coild_signals_block(void);
/* A thread waits for them and asks the reactor to reopen (HUP) or rotate
 * (USR1) the log file. */
int coild_signals_start(coil_reactor *r);
void coild_signals_stop(void);

/* ---- run_app.c ---- */
/* Start the application and stop it at shutdown; after `timeout` seconds
 * the stop is abandoned and the reactor closes what is left. */
int coild_run_application(coil_reactor *r, coil_application *app, double timeout);
/* twistd's privilegedStartService: start the services of the tree that
 * listen (endpoint, port and strports services), before privileges are
 * dropped. */
int coild_privileged_start(coil_reactor *r, coil_service *s);
/* Stop what was started when the application cannot run (no reactor run). */
int coild_stop_started(coil_reactor *r, coil_service *s);

#endif
