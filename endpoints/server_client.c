/* SPDX-License-Identifier: MIT */
/*
 * The plain endpoint types: TCP and UNIX servers (Twisted's
 * TCP4ServerEndpoint, TCP6ServerEndpoint, UNIXServerEndpoint) and clients to
 * a fixed address (TCP4ClientEndpoint/TCP6ClientEndpoint with an IP
 * literal, UNIXClientEndpoint). Each is a thin layer over net_deferred.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "endpoint_int.h"

/* ---- TCP server ---------------------------------------------------------- */

typedef struct tcp_server {
    coil_server_endpoint base;
    uint16_t port;
    int backlog;
    char interface[]; /* "" : every IPv4 address */
} tcp_server;

static coil_deferred *tcp_server_listen(coil_server_endpoint *ep, coil_factory *f)
{
    tcp_server *s = (tcp_server *)ep;
    coil_address addr;
    if (coil_address_from_ip(&addr, s->interface, s->port) < 0)
        return coil__endpoint_fail(-EINVAL,
                                   "Couldn't listen on %s:%u: invalid interface (must be an IP "
                                   "address).",
                                   s->interface, (unsigned)s->port);
    coil_listen_options o = {.backlog = s->backlog};
    return coil_listen_tcp_deferred(ep->reactor, &addr, &o, f);
}

static void free_self(coil_server_endpoint *ep)
{
    free(ep);
}

static const coil_server_endpoint_ops tcp_server_ops = {
    .listen = tcp_server_listen,
    .free = free_self,
};

coil_server_endpoint *coil_tcp_server_endpoint_new(coil_reactor *r, uint16_t port,
                                                   const char *interface, int backlog)
{
    if (!interface)
        interface = "";
    size_t n = strlen(interface) + 1;
    tcp_server *s = calloc(1, sizeof(*s) + n);
    if (!s)
        return NULL;
    s->base.ops = &tcp_server_ops;
    s->base.reactor = r;
    s->port = port;
    s->backlog = backlog > 0 ? backlog : 50;
    memcpy(s->interface, interface, n);
    return &s->base;
}

/* ---- UNIX server --------------------------------------------------------- */

typedef struct unix_server {
    coil_server_endpoint base;
    unsigned mode;
    int backlog;
    bool lockfile;
    char path[];
} unix_server;

static coil_deferred *unix_server_listen(coil_server_endpoint *ep, coil_factory *f)
{
    unix_server *s = (unix_server *)ep;
    coil_listen_options o = {.backlog = s->backlog, .mode = s->mode, .lockfile = s->lockfile};
    return coil_listen_unix_deferred(ep->reactor, s->path, &o, f);
}

static const coil_server_endpoint_ops unix_server_ops = {
    .listen = unix_server_listen,
    .free = free_self,
};

coil_server_endpoint *coil_unix_server_endpoint_new(coil_reactor *r, const char *path,
                                                    unsigned mode, int backlog, bool lockfile)
{
    if (!path)
        return NULL;
    size_t n = strlen(path) + 1;
    unix_server *s = calloc(1, sizeof(*s) + n);
    if (!s)
        return NULL;
    s->base.ops = &unix_server_ops;
    s->base.reactor = r;
    s->mode = mode ? mode : 0666;
    s->backlog = backlog > 0 ? backlog : 50;
    s->lockfile = lockfile;
    memcpy(s->path, path, n);
    return &s->base;
}

/* ---- TCP client to an address -------------------------------------------- */

typedef struct tcp_client {
    coil_client_endpoint base;
    coil_address addr;
    coil_address bind;
    double timeout;
} tcp_client;

static coil_deferred *tcp_client_connect(coil_client_endpoint *ep, coil_factory *f)
{
    tcp_client *c = (tcp_client *)ep;
    coil_connect_options o = {.timeout = c->timeout,
                              .bind_address = c->bind.len ? &c->bind : NULL};
    return coil_connect_tcp_deferred(ep->reactor, &c->addr, &o, f);
}

static void free_client(coil_client_endpoint *ep)
{
    free(ep);
}

static const coil_client_endpoint_ops tcp_client_ops = {
    .connect = tcp_client_connect,
    .free = free_client,
};

coil_client_endpoint *coil_tcp_client_endpoint_new(coil_reactor *r, const coil_address *addr,
                                                   double timeout, const coil_address *bind)
{
    if (!addr)
        return NULL;
    tcp_client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->base.ops = &tcp_client_ops;
    c->base.reactor = r;
    c->addr = *addr;
    if (bind)
        c->bind = *bind;
    c->timeout = timeout;
    return &c->base;
}

/* ---- UNIX client --------------------------------------------------------- */

typedef struct unix_client {
    coil_client_endpoint base;
    double timeout;
    bool check_pid;
    char path[];
} unix_client;

/* Twisted's checkPID: "<path>.lock" is a symlink naming the pid of the
 * process that listens (coil_listen_unix with lockfile writes it). */
static bool lock_is_held(const char *path)
{
    char lock[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
    char target[32];
    snprintf(lock, sizeof(lock), "%s.lock", path);
    ssize_t n = readlink(lock, target, sizeof(target) - 1);
    if (n <= 0)
        return false;
    target[n] = '\0';
    char *end;
    long pid = strtol(target, &end, 10);
    if (*end || pid <= 0)
        return false;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static coil_deferred *unix_client_connect(coil_client_endpoint *ep, coil_factory *f)
{
    unix_client *c = (unix_client *)ep;
    if (c->check_pid && !lock_is_held(c->path))
        return coil__endpoint_fail(-ESRCH,
                                   "Connecting to unix:%s failed: no running process holds "
                                   "%s.lock",
                                   c->path, c->path);
    coil_connect_options o = {.timeout = c->timeout};
    return coil_connect_unix_deferred(ep->reactor, c->path, &o, f);
}

static const coil_client_endpoint_ops unix_client_ops = {
    .connect = unix_client_connect,
    .free = free_client,
};

coil_client_endpoint *coil_unix_client_endpoint_new(coil_reactor *r, const char *path,
                                                    double timeout, bool check_pid)
{
    if (!path)
        return NULL;
    size_t n = strlen(path) + 1;
    unix_client *c = calloc(1, sizeof(*c) + n);
    if (!c)
        return NULL;
    c->base.ops = &unix_client_ops;
    c->base.reactor = r;
    c->timeout = timeout;
    c->check_pid = check_pid;
    memcpy(c->path, path, n);
    return &c->base;
}
