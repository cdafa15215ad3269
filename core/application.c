/* SPDX-License-Identifier: MIT */
/* The application: the root service coild runs (Twisted's Application). */
#include <string.h>

#include <coil/application.h>

void coil_application_init(coil_application *app, const char *name)
{
    memset(app, 0, sizeof(*app));
    app->service.name = name;
    app->uid = -1;
    app->gid = -1;
}

void coil_application_set_log_observer(coil_application *app, coil_log_fn fn, void *arg)
{
    app->log_observer = fn;
    app->log_observer_arg = fn ? arg : NULL;
}

void coil_application_fini(coil_application *app)
{
    coil_service_fini(&app->service);
}
