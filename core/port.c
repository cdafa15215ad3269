/* SPDX-License-Identifier: MIT */
/* Listening ports: socket set-up, accepted connections, closing. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define SYS_TCP "coil.tcp"

static void log_cannot_listen(const char *where, int err)
{
    coil_log(COIL_LOG_WARN, SYS_TCP, "Couldn't listen on %s: %s.", where, coil_strerror(err));
}

static int port_new(coil_reactor *r, int fd, coil_factory *f, coil_port **out)
{
    coil_port *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    int rc = coil__handle_init(r, &p->h, COIL__H_PORT);
    if (rc < 0) {
        free(p);
        return rc;
    }
    p->fd = fd;
    p->factory = f;
    socklen_t len = sizeof(p->addr.u);
    if (getsockname(fd, &p->addr.u.sa, &len) == 0)
        p->addr.len = len;
    *out = p;
    return 0;
}

static int port_start(coil_port *p)
{
    coil_factory_do_start(p->factory);
    p->accepting = true;
    int rc = p->h.r->be->port_start(p);
    char where[COIL_ADDRESS_STRLEN];
    coil_address_format(&p->addr, where, sizeof(where));
    coil_log(COIL_LOG_INFO, SYS_TCP, "listening on %s", where);
    return rc;
}

int coil_listen_tcp(coil_reactor *r, const coil_address *addr, const coil_listen_options *opts,
                    coil_factory *f, coil_port **out)
{
    coil_listen_options o = opts ? *opts : (coil_listen_options){0};
    char where[COIL_ADDRESS_STRLEN];
    coil_address_format(addr, where, sizeof(where));
    int family = coil_address_family(addr);
    if (family != AF_INET && family != AF_INET6)
        return -EAFNOSUPPORT;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1, rc = 0;
    /* SO_REUSEADDR as Twisted sets it on POSIX: restart without TIME_WAIT pain. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (o.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        rc = -errno;
    int v6only = o.ipv6_only;
    if (rc == 0 && family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
        rc = -errno;
    if (rc == 0 && bind(fd, &addr->u.sa, addr->len) < 0)
        rc = -errno;
    if (rc == 0 && listen(fd, o.backlog > 0 ? o.backlog : 50) < 0)
        rc = -errno;
    /* TCP_NODELAY by default (coil__set_tcp_defaults): Linux accepted
     * sockets inherit it from the listener, so no call per connection. */
    if (rc == 0)
        coil__set_tcp_defaults(fd);
    coil_port *p = NULL;
    if (rc == 0)
        rc = port_new(r, fd, f, &p);
    if (rc < 0) {
        close(fd);
        log_cannot_listen(where, rc);
        return rc;
    }
    *out = p;
    return port_start(p);
}

/* Twisted's FilesystemLock: "<path>.lock" is a symlink whose target is our
 * pid. A lock left by a dead process is broken. Returns 1 if acquired
 * cleanly, 0 if a stale lock was broken, or a negative errno. */
static int acquire_lock(const char *lock)
{
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    for (int attempt = 0; attempt < 3; attempt++) {
        if (symlink(pid, lock) == 0)
            return attempt == 0 ? 1 : 0;
        if (errno != EEXIST)
            return -errno;
        char target[32];
        ssize_t n = readlink(lock, target, sizeof(target) - 1);
        if (n < 0)
            continue; /* vanished meanwhile: retry */
        target[n] = '\0';
        long owner = strtol(target, NULL, 10);
        if (owner > 0 && (kill((pid_t)owner, 0) == 0 || errno != ESRCH))
            return -EADDRINUSE; /* held by a live process */
        unlink(lock);
    }
    return -EADDRINUSE;
}

int coil_listen_unix(coil_reactor *r, const char *path, const coil_listen_options *opts,
                     coil_factory *f, coil_port **out)
{
    coil_listen_options o = opts ? *opts : (coil_listen_options){0};
    char where[COIL_ADDRESS_STRLEN + 8];
    snprintf(where, sizeof(where), "unix:%s", path);
    coil_address addr;
    int rc = coil_address_from_unix(&addr, path);
    if (rc < 0) {
        log_cannot_listen(where, rc);
        return rc;
    }
    bool filesystem = path[0] != '@';
    char *lock = NULL;
    if (o.lockfile && filesystem) {
        if (asprintf(&lock, "%s.lock", path) < 0)
            return -ENOMEM;
        int got = acquire_lock(lock);
        if (got < 0) {
            /* Only a lock held by a live process is "Cannot acquire lock.";
             * any other error (a missing directory, EACCES) is the reason. */
            if (got == -EADDRINUSE)
                coil_log(COIL_LOG_WARN, SYS_TCP, "Couldn't listen on %s: Cannot acquire lock.",
                         where);
            else
                log_cannot_listen(where, got);
            free(lock);
            return got;
        }
        struct stat st;
        if (got == 0 && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(path); /* left behind by the dead owner of the stale lock */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        rc = -errno;
    if (rc == 0 && bind(fd, &addr.u.sa, addr.len) < 0)
        rc = -errno;
    if (rc == 0 && filesystem && chmod(path, o.mode ? o.mode : 0666) < 0)
        rc = -errno;
    if (rc == 0 && listen(fd, o.backlog > 0 ? o.backlog : 50) < 0)
        rc = -errno;
    coil_port *p = NULL;
    if (rc == 0)
        rc = port_new(r, fd, f, &p);
    if (rc == 0 && filesystem && !(p->unix_path = strdup(path)))
        rc = -ENOMEM;
    if (rc < 0) {
        if (fd >= 0) {
            close(fd);
            if (rc != -EADDRINUSE && filesystem && (!p || !p->unix_path))
                unlink(path);
        }
        if (p) {
            /* Not started yet: release the handle without callbacks. */
            p->h.closing = true;
            free(p->unix_path);
            p->unix_path = NULL;
            p->factory = NULL;
            coil__handle_closed(&p->h);
        }
        if (lock) {
            unlink(lock);
            free(lock);
        }
        log_cannot_listen(where, rc);
        return rc;
    }
    p->lock_path = lock;
    *out = p;
    return port_start(p);
}

int coil_listen_adopt(coil_reactor *r, int fd, coil_factory *f, coil_port **out)
{
    /* The file description may be shared with another process (systemd,
     * a parent): its status flags (O_NONBLOCK) and socket options are left
     * as they are. Close-on-exec belongs to this descriptor only. */
    int fl = fcntl(fd, F_GETFL);
    int fdfl = fcntl(fd, F_GETFD);
    int rc = fl < 0 || fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0 ? -errno : 0;
    coil_port *p = NULL;
    if (rc == 0)
        rc = port_new(r, fd, f, &p);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    p->adopted = true;
    p->blocking = !(fl & O_NONBLOCK);
    *out = p;
    return port_start(p);
}

int coil_port_get_host(const coil_port *p, coil_address *out)
{
    *out = p->addr;
    return 0;
}

/* ---- accepting ----------------------------------------------------------- */

static void resume_accepting(void *arg)
{
    coil_port *p = arg;
    p->backoff = NULL;
    if (!p->h.closing)
        p->h.r->be->port_start(p);
}

void coil__port_accept_ended(coil_port *p, int why)
{
    (void)why; /* logged by the backend where it matters */
    if (p->accepting && !p->backoff && !p->h.closing)
        p->h.r->be->port_start(p);
}

void coil__port_on_accept(coil_port *p, int fd)
{
    if (p->h.closing) {
        if (fd >= 0)
            close(fd);
        return;
    }
    if (fd < 0) {
        if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
            /* Out of descriptors or memory: keep serving the connections we
             * have and retry shortly (nginx disables accept events alike). */
            p->h.r->stats.accept_backoffs++;
            int64_t now = coil__monotonic_ns();
            if (p->backoff_logged_ns == 0 || now - p->backoff_logged_ns > 10000000000) {
                /* Once per 10 s at most: the retries come every 100 ms. */
                p->backoff_logged_ns = now;
                coil_log(COIL_LOG_WARN, SYS_TCP, "accept: %s; pausing accepts for 100 ms",
                         coil_strerror(fd));
            }
            if (!p->backoff) {
                p->h.r->be->port_pause(p);
                p->backoff = coil_reactor_call_later(p->h.r, 0.1, resume_accepting, p);
            }
        } else if (fd != -EAGAIN && fd != -ECONNABORTED && fd != -EINTR) {
            coil_log(COIL_LOG_ERROR, SYS_TCP, "accept: %s", coil_strerror(fd));
        }
        return;
    }
    bool tcp = coil_address_family(&p->addr) != AF_UNIX;
    coil_transport *t = coil__transport_new(p->h.r, fd, tcp);
    if (!t) {
        close(fd);
        return;
    }
    if (tcp && p->adopted)
        coil__set_tcp_defaults(fd); /* the shared listener keeps its own options */
    coil_address peer = {0};
    p->h.r->be->sockname(t, true, &peer);
    coil_protocol *proto = p->factory->ops->build_protocol(p->factory, &peer);
    if (!proto) {
        coil__transport_close(t, COIL_ENOPROTOCOL, false); /* no callbacks: none attached */
        return;
    }
    proto->factory = p->factory;
    coil__transport_attach(t, proto);
}

/* ---- closing ------------------------------------------------------------- */

void coil_port_stop_listening(coil_port *p, void (*done)(void *arg), void *arg)
{
    if (p->h.closing)
        return;
    p->h.closing = true;
    p->done = done;
    p->done_arg = arg;
    if (p->backoff) {
        coil_delayed_call_cancel(p->backoff);
        p->backoff = NULL;
    }
    p->h.r->be->port_close(p);
}

/* Twisted's "(TCP Port 8000 Closed)" / "(UNIX Port /run/x.sock Closed)". */
static void log_closed(const coil_port *p)
{
    int family = coil_address_family(&p->addr);
    if (family == AF_INET || family == AF_INET6) {
        coil_log(COIL_LOG_INFO, SYS_TCP, "(TCP Port %u Closed)", coil_address_port(&p->addr));
        return;
    }
    char where[COIL_ADDRESS_STRLEN];
    coil_address_format(&p->addr, where, sizeof(where));
    coil_log(COIL_LOG_INFO, SYS_TCP, "(UNIX Port %s Closed)",
             strncmp(where, "unix:", 5) == 0 ? where + 5 : where);
}

void coil__port_endgame(coil_port *p)
{
    if (p->unix_path)
        unlink(p->unix_path);
    if (p->lock_path)
        unlink(p->lock_path);
    if (p->accepting)
        log_closed(p);
    if (p->factory && p->accepting)
        coil_factory_do_stop(p->factory);
    if (p->done)
        p->done(p->done_arg);
    free(p->unix_path);
    free(p->lock_path);
    free(p);
}
