/* SPDX-License-Identifier: MIT */
/*
 * The static file server: a factory of HTTP connections serving one
 * directory. Shared by every connection of every port it listens on.
 */
#ifndef COILD_WEB_SERVER_H
#define COILD_WEB_SERVER_H

#include <stdbool.h>
#include <time.h>

#include <coil/coil.h>

#include "cache.h"
#include "http_date.h"
#include "request.h"

typedef struct web_options {
    const char *root;      /* the directory served */
    web_limits limits;
    double idle_timeout;   /* seconds without a request before closing; 0: never */
    web_cache_options cache;
    bool zero_copy;        /* file bodies through coil_transport_write_file() */
} web_options;

void web_options_init(web_options *o);

typedef struct web_server {
    coil_factory factory; /* first: build_protocol's `f` is the server */
    coil_reactor *r;
    web_options o;
    int rootfd;
    char *root_real;
    web_cache *cache;
    char server_name[32]; /* "coil/0.1.0" */
    time_t date_sec;      /* the second `date` was formatted for */
    char date[WEB_HTTP_DATE_LEN + 1];
    unsigned long long requests; /* answered, for the shutdown summary */
} web_server;

/* Open the root directory and set up the cache. 0, or a negative errno
 * (-ENOENT, -ENOTDIR, -EACCES for the root). */
int web_server_init(web_server *s, coil_reactor *r, const web_options *o);
void web_server_fini(web_server *s);

/* The current Date header value (formatted at most once a second). */
const char *web_server_date(web_server *s, time_t now);

#endif
