/* SPDX-License-Identifier: MIT */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"

void web_options_init(web_options *o)
{
    *o = (web_options){
        .root = NULL,
        .limits = WEB_LIMITS_DEFAULT,
        .idle_timeout = 60,
        .cache = {.max_entries = 256, .max_bytes = 32768, .ttl = 1.0},
        .zero_copy = true,
    };
}

static coil_protocol *build(coil_factory *f, const coil_address *addr)
{
    return web_conn_new((web_server *)f);
}

static const coil_factory_ops factory_ops = {.build_protocol = build};

int web_server_init(web_server *s, coil_reactor *r, const web_options *o)
{
    memset(s, 0, sizeof(*s));
    s->factory.ops = &factory_ops;
    s->r = r;
    s->o = *o;
    s->rootfd = -1;
    s->rootfd = open(o->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->rootfd < 0)
        return -errno;
    s->root_real = realpath(o->root, NULL);
    if (!s->root_real) {
        int e = -errno;
        web_server_fini(s);
        return e;
    }
    int rc = web_cache_new(&s->cache, s->rootfd, s->root_real, &o->cache);
    if (rc < 0) {
        web_server_fini(s);
        return rc;
    }
    snprintf(s->server_name, sizeof(s->server_name), "coil/%s", coil_version_string());
    s->date_sec = -1;
    return 0;
}

void web_server_fini(web_server *s)
{
    web_cache_free(s->cache);
    s->cache = NULL;
    free(s->root_real);
    s->root_real = NULL;
    if (s->rootfd >= 0)
        close(s->rootfd);
    s->rootfd = -1;
}

const char *web_server_date(web_server *s, time_t now)
{
    if (now != s->date_sec) {
        web_http_date(now, s->date);
        s->date_sec = now;
    }
    return s->date;
}
