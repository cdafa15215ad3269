/* SPDX-License-Identifier: MIT */
/*
 * The systemd: server endpoint (Twisted's systemd endpoint plugin over
 * ListenFDs and AdoptedStreamServerEndpoint): a listening socket passed by
 * systemd socket activation, chosen by index or by name.
 *
 * The environment is read once per process, on first use, as
 * sd_listen_fds(1) reads it: LISTEN_PID must be this process, LISTEN_FDS
 * counts the descriptors from 3 on, LISTEN_FDNAMES names them; the three
 * variables are then removed (so children do not see them) and FD_CLOEXEC
 * is set on the descriptors.
 *
 * listen() adopts a duplicate of the inherited descriptor: the port owns
 * and closes the duplicate, the inherited one stays open, so the endpoint
 * can listen again after stop_listening (Twisted closes the original and
 * allows one listen per descriptor).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "endpoint_int.h"
#include "systemd_int.h"

/* ---- the environment ----------------------------------------------------- */

int coil__systemd_parse(const char *pid, const char *fds, const char *names, pid_t self,
                        coil__systemd_fds *out)
{
    *out = (coil__systemd_fds){.first = COIL__SYSTEMD_FIRST_FD};
    long long p, n;
    if (!pid || !fds || coil_endpoint_int(pid, 10, 1, INT_MAX, &p) < 0 || p != (long long)self)
        return 0;
    if (coil_endpoint_int(fds, 10, 0, INT_MAX - COIL__SYSTEMD_FIRST_FD, &n) < 0 || n == 0)
        return 0;
    out->count = (int)n;
    /* "" is no names at all (systemd's strv_split, Twisted's trunk). */
    if (!names || !*names)
        return 0;
    size_t len = strlen(names);
    size_t k = 1;
    for (const char *c = names; *c; c++)
        k += *c == ':';
    if (k != (size_t)n)
        return 0;
    /* One block: the pointer array, then the strings with ':' made NULs. */
    char **v = malloc(k * sizeof(char *) + len + 1);
    if (!v)
        return -ENOMEM;
    char *s = (char *)(v + k);
    memcpy(s, names, len + 1);
    for (size_t i = 0; i < k; i++) {
        v[i] = s;
        s += strcspn(s, ":");
        *s++ = '\0';
    }
    out->names = v;
    return 0;
}

void coil__systemd_fds_free(coil__systemd_fds *fds)
{
    free(fds->names);
    fds->names = NULL;
    fds->count = 0;
}

static coil__systemd_fds inherited = {.first = COIL__SYSTEMD_FIRST_FD};
static pthread_once_t inherited_once = PTHREAD_ONCE_INIT;

static void read_environment(void)
{
    (void)coil__systemd_parse(getenv("LISTEN_PID"), getenv("LISTEN_FDS"), getenv("LISTEN_FDNAMES"),
                              getpid(), &inherited);
    /* As sd_listen_fds(1): removed whether or not they were for us. */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    for (int i = 0; i < inherited.count; i++) {
        int fd = inherited.first + i;
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC))
            (void)fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
}

const coil__systemd_fds *coil__systemd_fds_get(void)
{
    pthread_once(&inherited_once, read_environment);
    return &inherited;
}

/* ---- the endpoint -------------------------------------------------------- */

typedef struct systemd_server {
    coil_server_endpoint base;
    int family;
    int index;
    bool by_name;
    char name[];
} systemd_server;

/* "AF_INET", ... or "family N" (buf holds at least 24 bytes). */
static const char *family_name(int family, char *buf, size_t len)
{
    switch (family) {
    case AF_INET:
        return "AF_INET";
    case AF_INET6:
        return "AF_INET6";
    case AF_UNIX:
        return "AF_UNIX";
    default:
        snprintf(buf, len, "family %d", family);
        return buf;
    }
}

/* Which inherited descriptor the endpoint means, or -1 with *why set. */
static int find_fd(const systemd_server *s, const coil__systemd_fds *fds, char *why, size_t whylen)
{
    if (fds->count == 0) {
        snprintf(why, whylen,
                 "no sockets were passed (LISTEN_FDS/LISTEN_PID not set for this process)");
        return -1;
    }
    if (!s->by_name) {
        if (s->index < 0 || s->index >= fds->count) {
            snprintf(why, whylen, "index out of range (%d socket%s passed)", fds->count,
                     fds->count == 1 ? " was" : "s were");
            return -1;
        }
        return fds->first + s->index;
    }
    if (!fds->names) {
        snprintf(why, whylen, "socket names unavailable (LISTEN_FDNAMES not set or not %d name%s)",
                 fds->count, fds->count == 1 ? "" : "s");
        return -1;
    }
    for (int i = 0; i < fds->count; i++)
        if (strcmp(fds->names[i], s->name) == 0)
            return fds->first + i;
    snprintf(why, whylen, "no socket of that name was passed");
    return -1;
}

/* 0 if fd is a listening stream socket of the family, else an error with
 * *why set. */
static int check_fd(const systemd_server *s, int fd, char *why, size_t whylen)
{
    int v = 0;
    socklen_t len = sizeof(v);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0) {
        int err = -errno;
        if (err == -ENOTSOCK)
            snprintf(why, whylen, "descriptor %d is not a socket", fd);
        else
            snprintf(why, whylen, "descriptor %d: %s", fd, coil_strerror(err));
        return err;
    }
    if (v != SOCK_STREAM) {
        snprintf(why, whylen, "descriptor %d is not a stream socket", fd);
        return -EPROTOTYPE;
    }
    len = sizeof(v);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0) {
        int err = -errno;
        snprintf(why, whylen, "descriptor %d: %s", fd, coil_strerror(err));
        return err;
    }
    if (v != s->family) {
        char b1[24], b2[24];
        snprintf(why, whylen, "descriptor %d is %s, not %s", fd, family_name(v, b1, sizeof(b1)),
                 family_name(s->family, b2, sizeof(b2)));
        return -EAFNOSUPPORT;
    }
    len = sizeof(v);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0) {
        int err = -errno;
        snprintf(why, whylen, "descriptor %d: %s", fd, coil_strerror(err));
        return err;
    }
    if (!v) {
        snprintf(why, whylen, "descriptor %d is not listening", fd);
        return -EINVAL;
    }
    return 0;
}

static coil_deferred *systemd_listen(coil_server_endpoint *ep, coil_factory *f)
{
    systemd_server *s = (systemd_server *)ep;
    char what[300];
    if (s->by_name)
        snprintf(what, sizeof(what), "name '%.200s'", s->name);
    else
        snprintf(what, sizeof(what), "index %d", s->index);
    char why[160];
    const coil__systemd_fds *fds = coil__systemd_fds_get();
    int fd = find_fd(s, fds, why, sizeof(why));
    if (fd < 0)
        return coil__endpoint_fail(-ENOENT, "Couldn't listen on systemd socket %s: %s.", what, why);
    int rc = check_fd(s, fd, why, sizeof(why));
    if (rc < 0)
        return coil__endpoint_fail(rc, "Couldn't listen on systemd socket %s: %s.", what, why);
    /* The port owns the duplicate; the inherited descriptor stays open for
     * a later listen. */
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, COIL__SYSTEMD_FIRST_FD);
    if (copy < 0) {
        rc = -errno;
        return coil__endpoint_fail(rc, "Couldn't listen on systemd socket %s: %s.", what,
                                   coil_strerror(rc));
    }
    coil_port *port = NULL;
    rc = coil_listen_adopt(ep->reactor, copy, f, &port);
    if (rc < 0)
        return coil__endpoint_fail(rc, "Couldn't listen on systemd socket %s: %s.", what,
                                   coil_strerror(rc));
    return coil_succeed(coil_result_value(port, NULL));
}

static void systemd_free(coil_server_endpoint *ep)
{
    free(ep);
}

static const coil_server_endpoint_ops systemd_ops = {
    .listen = systemd_listen,
    .free = systemd_free,
};

coil_server_endpoint *coil_systemd_server_endpoint_new(coil_reactor *r, int family, int index,
                                                       const char *name)
{
    size_t n = name ? strlen(name) + 1 : 1;
    systemd_server *s = calloc(1, sizeof(*s) + n);
    if (!s)
        return NULL;
    s->base.ops = &systemd_ops;
    s->base.reactor = r;
    s->family = family;
    s->index = name ? -1 : index;
    s->by_name = name != NULL;
    if (name)
        memcpy(s->name, name, n);
    /* Take the sockets out of the environment now, before anything forks. */
    (void)coil__systemd_fds_get();
    return &s->base;
}
