/* SPDX-License-Identifier: MIT */
/*
 * An application for `coild -y` (the C counterpart of Twisted's echo.tac):
 *
 *   coild -n -y ./echo_app.so [--port DESC]... [--name NAME] [--daily-log FILE]
 *                             [--uid N] [--gid N]
 *
 * It builds an echo service for every --port (default tcp:8000) onto the
 * application coild gives it. With --daily-log it sets its own log observer
 * (as `application.setComponent(ILogObserver, textFileLogObserver(
 * DailyLogFile(...)))`); --uid/--gid set the application's uid/gid
 * (Twisted's Application(name, uid, gid)), which coild switches to after
 * binding the ports unless -u/-g say otherwise. Build: a shared object, not
 * linked with libcoil.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/coil.h>

static void echo_data(coil_protocol *p, const void *data, size_t len)
{
    coil_transport_write(p->transport, data, len);
}

static void echo_lost(coil_protocol *p, int reason)
{
    free(p);
}

static const coil_protocol_ops echo_ops = {.data_received = echo_data,
                                           .connection_lost = echo_lost};

static coil_protocol *echo_build(coil_factory *f, const coil_address *peer)
{
    coil_protocol *p = calloc(1, sizeof(*p));
    if (p)
        p->ops = &echo_ops;
    return p;
}

static const coil_factory_ops echo_factory_ops = {.build_protocol = echo_build};
static coil_factory echo_factory = {.ops = &echo_factory_ops};

#define MAX_PORTS 8

/* Everything the entry point builds lives here until coild calls destroy. */
static struct {
    coil_listen_service *services[MAX_PORTS];
    size_t n;
    coil_logfile *log;
} app_state;

static void destroy(coil_application *app)
{
    for (size_t i = 0; i < app_state.n; i++)
        coil_listen_service_free(app_state.services[i]);
    app_state.n = 0;
    coil_logfile_close(app_state.log);
    app_state.log = NULL;
}

static int add_port(coil_reactor *r, coil_application *app, const char *desc)
{
    if (app_state.n == MAX_PORTS) {
        coil_log(COIL_LOG_ERROR, "echo_app", "too many --port options");
        return -EINVAL;
    }
    /* Twisted's strports.service(description, factory). */
    char err[256];
    coil_listen_service *ls;
    int rc = coil_strports_service_new(r, desc, &echo_factory, &ls, err, sizeof(err));
    if (rc < 0) {
        coil_log(COIL_LOG_ERROR, "echo_app", "invalid --port '%s': %s", desc, err);
        fprintf(stderr, "echo_app: invalid --port '%s': %s\n", desc, err);
        return rc == -ENOMEM ? rc : -EINVAL;
    }
    app_state.services[app_state.n++] = ls;
    return coil_service_add(&app->service, coil_listen_service_service(ls));
}

COIL_MODULE_EXPORT int coil_application_main(coil_reactor *r, coil_application *app, int argc,
                                             char **argv)
{
    app->destroy = destroy;
    const char *daily_log = NULL;
    int nports = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && strcmp(a, "--port") == 0) {
            int rc = add_port(r, app, argv[++i]);
            if (rc < 0)
                return rc;
            nports++;
        } else if (i + 1 < argc && strcmp(a, "--name") == 0) {
            app->service.name = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--daily-log") == 0) {
            daily_log = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--uid") == 0) {
            app->uid = strtol(argv[++i], NULL, 10);
        } else if (i + 1 < argc && strcmp(a, "--gid") == 0) {
            app->gid = strtol(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "echo_app: unknown argument '%s' (--port DESC, --name NAME, "
                            "--daily-log FILE, --uid N, --gid N)\n",
                    a);
            return -EINVAL;
        }
    }
    if (nports == 0) {
        int rc = add_port(r, app, "tcp:8000");
        if (rc < 0)
            return rc;
    }
    if (daily_log) {
        coil_logfile_options o;
        coil_logfile_options_init(&o);
        o.daily = true;
        int rc = coil_logfile_open(&app_state.log, daily_log, &o);
        if (rc < 0) {
            fprintf(stderr, "echo_app: cannot open %s: %s\n", daily_log, coil_strerror(rc));
            return rc;
        }
        coil_application_set_log_observer(app, coil_log_text_observer, app_state.log);
    }
    coil_log(COIL_LOG_INFO, "echo_app", "application '%s' built with %zu port(s)",
             app->service.name, app_state.n);
    return 0;
}
