/* SPDX-License-Identifier: MIT */
/*
 * coild: the runner (Twisted's twistd). `coild [options] PLUGIN [plugin
 * options]` runs a built-in plugin or one added with --plugin; `coild
 * [options] -y APP.so [args]` runs the application a shared object builds.
 * By default it daemonizes (-n: stays in the foreground), writes a pid file,
 * logs to a file, and may drop privileges once its ports are bound.
 *
 * Start-up order (as twistd's UnixApplicationRunner): options, load the
 * shared objects, check the pid file, start logging, umask, daemonize,
 * write the pid file, chroot, chdir, make the reactor, build the
 * application, bind its ports (privileged start), drop privileges, start
 * the application, tell the waiting parent, run. SIGTERM/SIGINT stop the
 * application through its services' Deferreds; SIGHUP reopens the log file.
 *
 * Exit status: 0 after a clean stop, 1 if coild could not start (the reason
 * on stderr), 2 for usage errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin.h"
#include "runner.h"
#include "stats.h"

static const coild_plugin *const plugins[] = {&coild_echo_plugin, &coild_qotd_plugin,
                                              &coild_proxy_plugin,
                                              &coild_udpecho_plugin,
                                              &coild_chat_plugin,
                                              &coild_web_plugin,
};
#define NPLUGINS (sizeof(plugins) / sizeof(plugins[0]))

/* Plugins from --plugin files. */
static const coil_plugin_descriptor *loaded[COILD_MAX_PLUGIN_FILES];
static size_t nloaded;

/* What to run: a built-in plugin, a loaded one, or an application. */
typedef struct command {
    const char *name;
    const coild_plugin *builtin;
    const coil_plugin_descriptor *module;
    coil_application_main_fn *app_main;
    int argc;
    char **argv;
} command;

static void usage(FILE *out)
{
    coild_options_usage(out);
    fprintf(out, "\nPlugins:\n");
    for (size_t i = 0; i < NPLUGINS; i++)
        fprintf(out, "  %-8s %s\n", plugins[i]->name, plugins[i]->description);
    for (size_t i = 0; i < nloaded; i++)
        fprintf(out, "  %-8s %s\n", loaded[i]->name,
                loaded[i]->description ? loaded[i]->description : "");
    fprintf(out, "\n`coild PLUGIN --help` shows a plugin's options.\n");
}

static bool plugin_named(const char *name)
{
    for (size_t k = 0; k < NPLUGINS; k++)
        if (strcmp(name, plugins[k]->name) == 0)
            return true;
    for (size_t k = 0; k < nloaded; k++)
        if (strcmp(name, loaded[k]->name) == 0)
            return true;
    return false;
}

static int find_command(const coild_config *c, int argc, char **argv, command *cmd)
{
    const char *name = argv[c->cmd];
    for (size_t k = 0; k < NPLUGINS; k++)
        if (strcmp(name, plugins[k]->name) == 0)
            cmd->builtin = plugins[k];
    for (size_t k = 0; k < nloaded && !cmd->builtin; k++)
        if (strcmp(name, loaded[k]->name) == 0)
            cmd->module = loaded[k];
    if (!cmd->builtin && !cmd->module) {
        fprintf(stderr, "coild: unknown plugin '%s'\n", name);
        return -EINVAL;
    }
    cmd->name = name;
    cmd->argc = argc - c->cmd;
    cmd->argv = argv + c->cmd;
    return 0;
}

static bool wants_help(const command *cmd)
{
    for (int k = 1; k < cmd->argc; k++)
        if (strcmp(cmd->argv[k], "--help") == 0)
            return true;
    return false;
}

static void command_usage(const command *cmd)
{
    if (cmd->builtin)
        cmd->builtin->usage(stdout);
    else if (cmd->module->usage)
        fputs(cmd->module->usage, stdout);
    else
        printf("coild %s: %s\n", cmd->name, cmd->module->description ? cmd->module->description
                                                                     : "(no usage text)");
}

static char *absolute(const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    char cwd[4096];
    char *out;
    if (!getcwd(cwd, sizeof(cwd)) || asprintf(&out, "%s/%s", cwd, path) < 0)
        return NULL;
    return out;
}

/* Everything after daemonizing. Returns the exit status. */
static int serve(const coild_config *c, command *cmd, const char *pidfile, long uid, long gid)
{
    coild_signals_block();
    if (pidfile && coild_pidfile_write(pidfile) < 0)
        return 1;
    int status = 1;
    if (c->chroot_dir && coild_chroot(c->chroot_dir) < 0)
        goto early;
    const char *rundir = c->rundir ? c->rundir : c->nodaemon ? NULL : "/";
    if (rundir && chdir(rundir) < 0) {
        fprintf(stderr, "coild: cannot change to --rundir %s: %s\n", rundir, strerror(errno));
        goto early;
    }
    coil_reactor_options opts;
    coil_reactor_options_init(&opts);
    if (c->reactor)
        coild_parse_reactor(c->reactor, &opts.backend); /* checked before */
    coil_reactor *r;
    int rc = coil_reactor_new(&r, &opts);
    if (rc < 0) {
        fprintf(stderr, "coild: cannot start the reactor: %s\n", coil_strerror(rc));
        goto early;
    }
    coil_log(COIL_LOG_INFO, "coild", "coild %s (pid %ld) starting %s on %s", coil_version_string(),
             (long)getpid(), cmd->name, coil_reactor_backend_name(r));
    coil_log(COIL_LOG_INFO, "coild", "reactor: %s", coil_reactor_backend_name(r));
    if (c->stats_interval && coild_stats_start(r, c->stats_interval) < 0) {
        coil_reactor_free(r);
        goto early;
    }

    coil_application app;
    bool ran = false; /* the reactor ran: its shutdown stopped the services */
    coil_application_init(&app, cmd->name);
    coild_listen_set_application(&app);
    if (cmd->builtin)
        rc = cmd->builtin->start(r, cmd->argc, cmd->argv);
    else if (cmd->module)
        rc = cmd->module->make_service(r, &app, cmd->argc, cmd->argv);
    else
        rc = cmd->app_main(r, &app, cmd->argc, cmd->argv);
    status = 0;
    if (rc < 0) {
        /* -EINVAL: a usage error (see plugin.h and application.h). */
        status = rc == -EINVAL ? 2 : 1;
        if (!cmd->builtin)
            fprintf(stderr, "coild: %s failed to start: %s\n", cmd->name, coil_strerror(rc));
        coil_log(COIL_LOG_ERROR, "coild", "%s failed to start: %s", cmd->name,
                 coil_strerror(rc));
        goto out;
    }
    if (app.log_observer)
        coild_log_use_observer(app.log_observer, app.log_observer_arg);
    /* The command line wins over the application's uid/gid. */
    if (uid < 0 && gid < 0 && (app.uid >= 0 || app.gid >= 0)) {
        uid = app.uid;
        gid = app.gid;
        if (coild_resolve_ids(NULL, NULL, &uid, &gid) < 0) {
            status = 1;
            goto out;
        }
    }
    rc = coild_privileged_start(r, &app.service);
    if (rc < 0) {
        fprintf(stderr, "coild: cannot start %s: %s\n", cmd->name, coil_strerror(rc));
        status = 1;
        goto out;
    }
    if (uid >= 0 || gid >= 0) {
        /* What coild must still remove, reopen or rotate becomes theirs. */
        if (pidfile && (rc = coild_pidfile_chown(uid, gid)) < 0)
            coil_log(COIL_LOG_WARN, "coild", "cannot chown %s: %s", pidfile, coil_strerror(rc));
        coild_log_chown(uid, gid);
        if (coild_drop_privileges(uid, gid) < 0) {
            status = 1;
            goto out;
        }
    }
    rc = coild_run_application(r, &app, c->shutdown_timeout);
    if (rc < 0) {
        coil_log(COIL_LOG_ERROR, "coild", "cannot start %s: %s", cmd->name, coil_strerror(rc));
        fprintf(stderr, "coild: cannot start %s: %s\n", cmd->name, coil_strerror(rc));
        coil_reactor_stop(r); /* runs the shutdown: what started stops */
        coil_reactor_run(r);
        status = 1;
        goto out;
    }
    if (coild_signals_start(r) < 0)
        coil_log(COIL_LOG_WARN, "coild", "no SIGHUP handling: cannot start its thread");
    if (!c->nodaemon)
        coild_daemon_ready();
    rc = coil_reactor_run(r);
    coil_log(COIL_LOG_INFO, "coild", "Main loop terminated.");
    coild_signals_stop();
    if (rc < 0) {
        fprintf(stderr, "coild: reactor failed: %s\n", coil_strerror(rc));
        coil_log(COIL_LOG_ERROR, "coild", "reactor failed: %s", coil_strerror(rc));
        status = 1;
    }
    ran = true;

out:
    if (!ran)
        coild_stop_started(r, &app.service);
    coild_log_use_observer(NULL, NULL);
    if (app.destroy)
        app.destroy(&app);
    coil_reactor_free(r);
    coild_listen_cleanup();
    coil_application_fini(&app);
    if (pidfile)
        coild_pidfile_remove(pidfile);
    if (ran)
        coil_log(COIL_LOG_INFO, "coild", "Server Shut Down.");
    return status;

early: /* before the application existed */
    if (pidfile)
        coild_pidfile_remove(pidfile);
    return status;
}

int main(int argc, char **argv)
{
    coild_config c;
    int rc = coild_parse_options(argc, argv, &c);
    if (rc < 0) {
        fprintf(stderr, "Try `coild --help' for more information.\n");
        return 2;
    }
    for (size_t i = 0; i < c.nplugin_files; i++) {
        const coil_plugin_descriptor *d;
        if (coild_load_plugin(c.plugin_files[i], &d) < 0)
            return 1;
        if (plugin_named(d->name)) {
            fprintf(stderr, "coild: plugin %s: a plugin named '%s' exists already\n",
                    c.plugin_files[i], d->name);
            return 1;
        }
        loaded[nloaded++] = d;
    }
    if (rc == COILD_OPTS_HELP) {
        usage(stdout);
        return 0;
    }
    if (rc == COILD_OPTS_VERSION) {
        printf("coild %s\n", coil_version_string());
        return 0;
    }
    command cmd = {0};
    char **app_argv = NULL;
    if (c.app_path) {
        if (coild_load_application(c.app_path, &cmd.app_main) < 0)
            return 1;
        /* argv[0] = the module's path, then the arguments after it. */
        app_argv = calloc((size_t)(argc - c.cmd) + 2, sizeof(*app_argv));
        if (!app_argv)
            return 1;
        app_argv[0] = (char *)c.app_path;
        for (int k = c.cmd; k < argc; k++)
            app_argv[k - c.cmd + 1] = argv[k];
        cmd.argc = argc - c.cmd + 1;
        cmd.argv = app_argv;
        const char *base = strrchr(c.app_path, '/');
        cmd.name = base ? base + 1 : c.app_path;
    } else {
        if (c.cmd >= argc) {
            usage(stderr);
            return 2;
        }
        if (find_command(&c, argc, argv, &cmd) < 0) {
            usage(stderr);
            return 2;
        }
        if (wants_help(&cmd)) {
            command_usage(&cmd);
            return 0;
        }
    }

    /* Check every option before anything happens. */
    coil_backend_kind kind;
    if (c.reactor && coild_parse_reactor(c.reactor, &kind) < 0) {
        fprintf(stderr, "coild: unknown reactor '%s' (uring, epoll, poll or auto)\n", c.reactor);
        free(app_argv);
        return 2;
    }
    mode_t mask = 077; /* twistd's daemon default */
    if (c.umask_text && coild_parse_umask(c.umask_text, &mask) < 0) {
        free(app_argv);
        return 2;
    }
    long uid = -1, gid = -1;
    if (coild_resolve_ids(c.uid, c.gid, &uid, &gid) < 0) {
        free(app_argv);
        return 2;
    }
    char *pidfile = NULL;
    bool stale = false;
    if (c.pidfile ? c.pidfile[0] != '\0' : !c.nodaemon) {
        pidfile = absolute(c.pidfile ? c.pidfile : "coild.pid");
        if (!pidfile || coild_pidfile_check(pidfile, &stale) < 0) {
            free(pidfile);
            free(app_argv);
            return 1;
        }
    }
    rc = coild_log_start(&c);
    if (rc < 0) {
        free(pidfile);
        free(app_argv);
        return rc == -EINVAL ? 2 : 1;
    }
    if (stale)
        coil_log(COIL_LOG_INFO, "coild", "Removing stale pidfile %s", pidfile);
    if (c.umask_text || !c.nodaemon)
        umask(mask);
    int status;
    if (!c.nodaemon && (rc = coild_daemonize()) < 0) {
        fprintf(stderr, "coild: cannot daemonize: %s\n", coil_strerror(rc));
        status = 1;
    } else {
        status = serve(&c, &cmd, pidfile, uid, gid);
        if (!c.nodaemon && status != 0)
            coild_daemon_failed(status);
    }
    coild_log_stop();
    free(pidfile);
    free(app_argv);
    return status;
}
