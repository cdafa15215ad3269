/* SPDX-License-Identifier: MIT */
/*
 * The application: the named root of a service tree that `coild` runs
 * (Twisted's `service.Application(name, uid, gid)`), and the two entry
 * points by which a shared object hands services to `coild`:
 *
 *   coild -y app.so [APP ARGS]       the .so exports coil_application_main()
 *                                    (the C counterpart of a .tac file)
 *   coild --plugin p.so NAME [ARGS]  the .so exports `coil_plugin`, a
 *                                    descriptor adding subcommand NAME
 *
 * The runner creates the reactor and the application, calls the entry
 * point (as the user that started coild, before privileges are dropped, so
 * a service may bind privileged ports from the entry point), then drops
 * privileges, starts the application, runs the reactor, and on SIGTERM or
 * SIGINT stops the application through its services' Deferreds.
 *
 * Building such a module: compile with `pkg-config --cflags coil`, link with
 * `-shared -fPIC` and do NOT link libcoil: the coil functions are resolved
 * from the `coild` executable when it loads the module (as Python extension
 * modules resolve the interpreter's API). Mark the exported symbol with
 * COIL_MODULE_EXPORT if you build with -fvisibility=hidden.
 */
#ifndef COIL_APPLICATION_H
#define COIL_APPLICATION_H

#include "export.h"
#include "log.h"
#include "reactor.h"
#include "service.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define COIL_MODULE_EXPORT __attribute__((visibility("default")))
#else
#define COIL_MODULE_EXPORT
#endif

typedef struct coil_application coil_application;

struct coil_application {
    /* The root service (its name is the application's name). Add services
     * with coil_service_add(&app->service, child); they start in the order
     * added and stop in reverse. */
    coil_service service;
    /* Run as this user / group (Twisted's Application(name, uid, gid));
     * -1: not set. coild's -u/-g win over these. */
    long uid;
    long gid;
    /* Set by coil_application_set_log_observer(); NULL: the runner's. */
    coil_log_fn log_observer;
    void *log_observer_arg;
    /* Optional: called once after the reactor has stopped, before coild
     * exits, to free what the entry point allocated (the services are
     * stopped then). `data` is for the application's own use. */
    void (*destroy)(coil_application *app);
    void *data;
};

/* Prepare an application named `name` (borrowed; must outlive it) with no
 * uid/gid and no observer. */
COIL_API void coil_application_init(coil_application *app, const char *name);

/* Set the log observer the runner installs for this application (as
 * `application.setComponent(ILogObserver, observer)`): once the entry point
 * returns, every log event goes to fn(arg, ...) instead of the observer
 * made from --logfile/--syslog (--logger still wins, as in twistd). `arg`
 * is borrowed; see <coil/logfile.h> for ready-made file observers. */
COIL_API void coil_application_set_log_observer(coil_application *app, coil_log_fn fn,
                                                void *arg);

/* Release the root service's children array (not the children). The
 * application must be stopped. */
COIL_API void coil_application_fini(coil_application *app);

/* ---- `coild -y app.so` ---------------------------------------------------- */

/* The entry point an application module exports under this name:
 *
 *   COIL_MODULE_EXPORT int coil_application_main(coil_reactor *r,
 *       coil_application *app, int argc, char **argv);
 *
 * It adds services to `app` (it may also set app->uid/gid, a log observer,
 * app->destroy). argv[0] is the module's path, argv[1..argc-1] the
 * arguments that followed it on coild's command line. Return 0, or a
 * negative errno after logging why (coil_log at COIL_LOG_ERROR): coild then
 * exits with status 1 (2 for -EINVAL, a usage error) without running the
 * reactor. Everything it builds must stay valid until app->destroy runs. */
#define COIL_APPLICATION_MAIN_SYMBOL "coil_application_main"
typedef int coil_application_main_fn(coil_reactor *r, coil_application *app, int argc,
                                     char **argv);

/* ---- `coild --plugin p.so NAME` ------------------------------------------- */

#define COIL_PLUGIN_ABI 1u
#define COIL_PLUGIN_SYMBOL "coil_plugin"

/* A plugin module exports one descriptor under the name `coil_plugin`:
 *
 *   COIL_MODULE_EXPORT const coil_plugin_descriptor coil_plugin = {
 *       .abi = COIL_PLUGIN_ABI, .name = "hello", .description = "...",
 *       .usage = "Usage: coild [options] hello [--port PORT]\n",
 *       .make_service = hello_main,
 *   };
 *
 * `coild --plugin p.so hello ARGS` then calls make_service (same contract
 * as coil_application_main, with argv[0] = the subcommand name). */
typedef struct coil_plugin_descriptor {
    unsigned abi;              /* COIL_PLUGIN_ABI */
    const char *name;          /* the subcommand; no clash with a built-in one */
    const char *description;   /* one line for `coild --help` */
    const char *usage;         /* printed by `coild NAME --help`; may be NULL */
    coil_application_main_fn *make_service;
} coil_plugin_descriptor;

/* ---- `coild --logger l.so` ------------------------------------------------ */

/* A logger module exports this factory (twistd's --logger): called once
 * at start-up; sets *fn and *arg to the observer every log event goes to and
 * returns 0, or returns a negative errno (coild exits 1). */
#define COIL_LOGGER_SYMBOL "coil_logger_factory"
typedef int coil_logger_factory_fn(coil_log_fn *fn, void **arg);

#ifdef __cplusplus
}
#endif
#endif
