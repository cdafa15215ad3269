/* SPDX-License-Identifier: MIT */
/*
 * Where coild's log goes (twistd's logging setup): the observer from a
 * --logger object, else syslog (--syslog), else a log file (-l; stdout with
 * -n unless given, coild.log when daemonized) in text or JSON lines. An
 * application's own observer replaces the file/syslog one once it is set.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "runner.h"

bool coild_json_output;

static coil_logfile *logfile;
static bool from_logger; /* --logger: nothing replaces it */
static bool using_syslog;

static void syslog_observer(void *arg, coil_log_level level, const char *system, const char *msg)
{
    static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT};
    int p = (unsigned)level < 5 ? prio[level] : LOG_INFO;
    /* One syslog record per line, as twistd's syslog observer does. */
    const char *line = msg;
    do {
        const char *nl = strchr(line, '\n');
        int len = nl ? (int)(nl - line) : (int)strlen(line);
        syslog(p, "[%s] %.*s", system, len, line);
        line = nl ? nl + 1 : NULL;
    } while (line && *line);
}

/* A relative log path is taken relative to where coild was started (it
 * is reopened after chdir and daemonizing). */
static char *absolute(const char *path)
{
    if (path[0] == '/' || strcmp(path, "-") == 0)
        return strdup(path);
    char cwd[4096];
    if (!getcwd(cwd, sizeof(cwd)))
        return NULL;
    char *out;
    return asprintf(&out, "%s/%s", cwd, path) < 0 ? NULL : out;
}

int coild_log_start(const coild_config *c)
{
    coil_log_level lv;
    if (coil_log_level_parse(c->level, &lv) < 0) {
        fprintf(stderr, "coild: unknown log level '%s'\n", c->level);
        return -EINVAL;
    }
    bool json = strcmp(c->format, "json") == 0;
    if (!json && strcmp(c->format, "text") != 0) {
        fprintf(stderr, "coild: unknown log format '%s' (text or json)\n", c->format);
        return -EINVAL;
    }
    if (c->logger) {
        coil_log_fn fn;
        void *arg;
        if (coild_load_logger(c->logger, &fn, &arg) < 0)
            return -EIO; /* not a usage error: exit 1 */
        coil_log_set_handler(fn, arg);
        from_logger = true;
    } else if (c->syslog) {
        openlog(c->prefix, LOG_PID | LOG_NDELAY, LOG_DAEMON);
        coil_log_set_handler(syslog_observer, NULL);
        using_syslog = true;
    } else {
        const char *path = c->logfile ? c->logfile : c->nodaemon ? "-" : "coild.log";
        if (!c->nodaemon && strcmp(path, "-") == 0) {
            fprintf(stderr, "coild: Daemons cannot log to stdout, exiting!\n");
            return -EINVAL;
        }
        if (!path[0]) {
            fprintf(stderr, "coild: --logfile needs a file name ('-' for stdout)\n");
            return -EINVAL;
        }
        char *abs = absolute(path);
        if (!abs)
            return -ENOMEM;
        coil_logfile_options o;
        coil_logfile_options_init(&o);
        o.rotate_length = c->rotate_length;
        o.max_rotated = c->max_rotated;
        o.daily = c->daily;
        int rc = coil_logfile_open(&logfile, abs, &o);
        if (rc < 0)
            fprintf(stderr, "coild: cannot open log file %s: %s\n", abs, coil_strerror(rc));
        free(abs);
        if (rc < 0)
            return rc == -ENOMEM ? rc : -EIO;
        coil_log_set_handler(json ? coil_log_json_observer : coil_log_text_observer, logfile);
        coild_json_output = json;
    }
    coil_log_set_level(lv);
    return 0;
}

static coil_log_fn runner_fn;
static void *runner_arg;
static bool replaced;

void coild_log_use_observer(coil_log_fn fn, void *arg)
{
    if (from_logger)
        return;
    if (fn && !replaced) {
        coil_log_get_handler(&runner_fn, &runner_arg);
        replaced = true;
        coil_log_set_handler(fn, arg);
    } else if (fn) {
        coil_log_set_handler(fn, arg);
    } else if (replaced) {
        coil_log_set_handler(runner_fn, runner_arg); /* back to the runner's */
        replaced = false;
    }
}

void coild_log_reopen(void)
{
    if (!logfile || strcmp(coil_logfile_path(logfile), "-") == 0)
        return;
    int rc = coil_logfile_reopen(logfile);
    if (rc < 0)
        coil_log(COIL_LOG_ERROR, "coild", "cannot reopen log file %s: %s",
                 coil_logfile_path(logfile), coil_strerror(rc));
    else
        coil_log(COIL_LOG_INFO, "coild", "Received SIGHUP, reopened log file %s",
                 coil_logfile_path(logfile));
}

void coild_log_rotate(void)
{
    if (!logfile)
        return;
    int rc = coil_logfile_rotate(logfile);
    if (rc < 0)
        coil_log(COIL_LOG_ERROR, "coild", "cannot rotate log file %s: %s",
                 coil_logfile_path(logfile), coil_strerror(rc));
}

int coild_log_chown(long uid, long gid)
{
    return logfile ? coil_logfile_chown(logfile, uid, gid) : 0;
}

void coild_log_stop(void)
{
    coil_log_set_handler(NULL, NULL);
    coil_logfile_close(logfile);
    logfile = NULL;
    if (using_syslog)
        closelog();
    using_syslog = false;
    from_logger = false;
    replaced = false;
}
