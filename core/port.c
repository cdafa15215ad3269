/* SPDX-License-Identifier: MIT */
/* Listening ports: socket set-up, accepted connections, closing. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

/* A port for the listening descriptor `fd` bound to `bound`; on failure
 * the descriptor is closed. */
static int port_new(coil_reactor *r, int fd, const coil_address *bound, coil_factory *f,
                    coil_port **out)
{
    coil_port *p = calloc(1, sizeof(*p));
    int rc = p ? coil__handle_init(r, &p->h, COIL__H_PORT) : -ENOMEM;
    if (rc < 0) {
        free(p);
        r->be->discard(fd);
        return rc;
    }
    p->fd = fd;
    p->factory = f;
    p->addr = *bound;
    *out = p;
    return 0;
}

/* Start accepting on a new port; *out is set only on success. A port
 * whose backend cannot watch it is released at once, without callbacks
 * (its endgame still unlinks the socket file and the lock). */
static int port_start(coil_port *p, coil_port **out)
{
    char where[COIL_ADDRESS_STRLEN];
    coil_address_format(&p->addr, where, sizeof(where));
    int rc = p->h.r->be->port_start(p);
    if (rc < 0) {
        log_cannot_listen(where, rc);
        p->h.closing = true;
        p->h.r->be->port_close(p);
        return rc;
    }
    coil_factory_do_start(p->factory);
    p->accepting = true;
    coil_log(COIL_LOG_INFO, SYS_TCP, "listening on %s", where);
    *out = p;
    return 0;
}

static coil__listen_params listen_params(const coil_listen_options *opts)
{
    coil_listen_options o = opts ? *opts : (coil_listen_options){0};
    return (coil__listen_params){.backlog = o.backlog > 0 ? o.backlog : 50,
                                 .reuse_port = o.reuse_port,
                                 .ipv6_only = o.ipv6_only,
                                 .unix_mode = o.mode ? o.mode : 0666};
}

int coil_listen_tcp(coil_reactor *r, const coil_address *addr, const coil_listen_options *opts,
                    coil_factory *f, coil_port **out)
{
    char where[COIL_ADDRESS_STRLEN];
    coil_address_format(addr, where, sizeof(where));
    int family = coil_address_family(addr);
    if (family != AF_INET && family != AF_INET6)
        return -EAFNOSUPPORT;
    coil__listen_params lp = listen_params(opts);
    coil_address bound;
    int fd = r->be->listen_socket(addr, &lp, &bound);
    coil_port *p = NULL;
    int rc = fd < 0 ? fd : port_new(r, fd, &bound, f, &p);
    if (rc < 0) {
        log_cannot_listen(where, rc);
        return rc;
    }
    return port_start(p, out);
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
    coil__listen_params lp = listen_params(opts);
    lp.unix_path = filesystem ? path : NULL;
    coil_address bound;
    int fd = r->be->listen_socket(&addr, &lp, &bound);
    coil_port *p = NULL;
    rc = fd < 0 ? fd : port_new(r, fd, &bound, f, &p);
    if (rc == 0 && filesystem && !(p->unix_path = strdup(path))) {
        rc = -ENOMEM;
        /* Not started yet: release the handle (and the socket) without
         * callbacks; its endgame unlinks nothing (no unix_path). */
        p->h.closing = true;
        p->factory = NULL;
        p->h.r->be->port_close(p);
    }
    if (rc < 0) {
        if (fd >= 0 && filesystem)
            unlink(path); /* the socket file our listen_socket() made */
        if (lock) {
            unlink(lock);
            free(lock);
        }
        log_cannot_listen(where, rc);
        return rc;
    }
    p->lock_path = lock;
    return port_start(p, out);
}

int coil_listen_adopt(coil_reactor *r, int fd, coil_factory *f, coil_port **out)
{
    bool blocking = false;
    coil_address bound;
    fd = r->be->adopt_socket(fd, &blocking, &bound);
    coil_port *p = NULL;
    int rc = fd < 0 ? fd : port_new(r, fd, &bound, f, &p);
    if (rc < 0)
        return rc;
    p->adopted = true;
    p->blocking = blocking;
    return port_start(p, out);
}

int coil_port_get_host(const coil_port *p, coil_address *out)
{
    *out = p->addr;
    return 0;
}

/* ---- accepting ----------------------------------------------------------- */

static void resume_accepting(void *arg);

/* Accept again after a pause; when the backend cannot (out of memory for
 * its watch or its queue), say so and try again shortly, as after EMFILE. */
static void restart_accepting(coil_port *p)
{
    int rc = p->h.r->be->port_start(p);
    if (rc < 0 && !p->backoff) {
        coil_log_ratelimited(COIL_LOG_ERROR, SYS_TCP, "accept restart",
                             "cannot resume accepting: %s; retrying in 100 ms",
                             coil_strerror(rc));
        p->backoff = coil_reactor_call_later(p->h.r, 0.1, resume_accepting, p);
    }
}

static void resume_accepting(void *arg)
{
    coil_port *p = arg;
    p->backoff = NULL;
    if (!p->h.closing)
        restart_accepting(p);
}

void coil__port_accept_ended(coil_port *p, int why)
{
    (void)why; /* logged by the backend where it matters */
    if (p->accepting && !p->backoff && !p->h.closing)
        restart_accepting(p);
}

void coil__port_on_accept(coil_port *p, int fd)
{
    if (p->h.closing) {
        if (fd >= 0)
            p->h.r->be->discard(fd);
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
        p->h.r->be->discard(fd);
        return;
    }
    /* Accepted TCP sockets inherit TCP_NODELAY from a listener coil set
     * up; an adopted listener keeps its owner's options, so set it here. */
    if (tcp && p->adopted)
        p->h.r->be->setsockopt(t, IPPROTO_TCP, TCP_NODELAY, 1);
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
