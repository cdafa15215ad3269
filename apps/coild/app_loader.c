/* SPDX-License-Identifier: MIT */
/* Loading the user's shared objects: the application (-y), plugins
 * (--plugin) and loggers (--logger). They are never unloaded: their code
 * runs until coild exits. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "runner.h"

/* dlopen a path ("./x.so" semantics: a name without '/' is taken as a
 * path in the current directory, not searched in the library path). */
static void *open_object(const char *what, const char *path)
{
    char buf[4096];
    const char *p = path;
    if (!strchr(path, '/')) {
        snprintf(buf, sizeof(buf), "./%s", path);
        p = buf;
    }
    void *h = dlopen(p, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        fprintf(stderr, "coild: cannot load %s %s: %s\n", what, path, dlerror());
    return h;
}

static void *lookup(void *h, const char *what, const char *path, const char *symbol)
{
    dlerror();
    void *sym = dlsym(h, symbol);
    if (!sym)
        fprintf(stderr, "coild: %s %s does not export %s (see docs/RUNNER.md)\n", what, path,
                symbol);
    return sym;
}

int coild_load_application(const char *path, coil_application_main_fn **out)
{
    void *h = open_object("application", path);
    if (!h)
        return -EINVAL;
    void *sym = lookup(h, "application", path, COIL_APPLICATION_MAIN_SYMBOL);
    if (!sym)
        return -EINVAL;
    *out = (coil_application_main_fn *)sym;
    return 0;
}

int coild_load_plugin(const char *path, const coil_plugin_descriptor **out)
{
    void *h = open_object("plugin", path);
    if (!h)
        return -EINVAL;
    const coil_plugin_descriptor *d = lookup(h, "plugin", path, COIL_PLUGIN_SYMBOL);
    if (!d)
        return -EINVAL;
    if (d->abi != COIL_PLUGIN_ABI || !d->name || !d->name[0] || !d->make_service) {
        fprintf(stderr, "coild: plugin %s: invalid descriptor (abi %u, want %u; a name and "
                        "make_service are required)\n",
                path, d->abi, COIL_PLUGIN_ABI);
        return -EINVAL;
    }
    *out = d;
    return 0;
}

int coild_load_logger(const char *path, coil_log_fn *fn, void **arg)
{
    void *h = open_object("logger", path);
    if (!h)
        return -EINVAL;
    void *sym = lookup(h, "logger", path, COIL_LOGGER_SYMBOL);
    if (!sym)
        return -EINVAL;
    coil_logger_factory_fn *factory = (coil_logger_factory_fn *)sym;
    *fn = NULL;
    *arg = NULL;
    int rc = factory(fn, arg);
    if (rc < 0 || !*fn) {
        fprintf(stderr, "coild: logger %s: %s() failed: %s\n", path, COIL_LOGGER_SYMBOL,
                rc < 0 ? coil_strerror(rc) : "no observer");
        return rc < 0 ? rc : -EINVAL;
    }
    return 0;
}
