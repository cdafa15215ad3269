/* SPDX-License-Identifier: MIT */
/*
 * SIGINT/SIGTERM stop a running reactor. On Linux the signals are blocked
 * while the reactor runs and read from a signalfd; elsewhere (or with
 * COIL_SIGNALS=selfpipe, which the tests use to cover that path) a handler
 * writes the signal number into a self-pipe. Either fd is watched by the
 * backend like any other readable descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/signalfd.h>
#endif

#include "internal.h"

static int selfpipe_write_fd = -1;
static struct sigaction saved_int, saved_term;

static void selfpipe_handler(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(selfpipe_write_fd, &b, 1) < 0) {
        /* pipe full: a stop is already pending */
    }
    errno = saved;
}

static bool use_selfpipe(void)
{
#ifdef __linux__
    const char *e = getenv("COIL_SIGNALS");
    return e && strcmp(e, "selfpipe") == 0;
#else
    return true;
#endif
}

static void on_signal_readable(coil__watch *w)
{
    coil_reactor *r = w->h.r;
    int sig = 0;
#ifdef __linux__
    if (r->sig_pipe[1] < 0) {
        struct signalfd_siginfo si;
        if (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            sig = (int)si.ssi_signo;
    } else
#endif
    {
        unsigned char b;
        if (read(w->fd, &b, 1) == 1)
            sig = b;
    }
    if (sig == 0)
        return;
    coil_log(COIL_LOG_INFO, COIL__SYS, "Received %s, shutting down.",
             sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal");
    coil_reactor_stop(r);
}

static int open_source(coil_reactor *r, sigset_t *set)
{
    if (use_selfpipe()) {
        if (pipe(r->sig_pipe) < 0)
            return -errno;
        coil__set_nonblock_cloexec(r->sig_pipe[0]);
        coil__set_nonblock_cloexec(r->sig_pipe[1]);
        return r->sig_pipe[0];
    }
#ifdef __linux__
    int fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
#else
    return -ENOSYS;
#endif
}

int coil__signals_install(coil_reactor *r)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    struct sigaction cur;
    r->sigint_ignored = sigaction(SIGINT, NULL, &cur) == 0 && cur.sa_handler == SIG_IGN;
    if (!r->sigwatch) {
        coil__watch *w = calloc(1, sizeof(*w));
        if (!w)
            return -ENOMEM;
        int fd = open_source(r, &set);
        if (fd < 0 || coil__handle_init(r, &w->h, COIL__H_WATCH) < 0) {
            if (fd >= 0)
                close(fd);
            free(w);
            return fd < 0 ? fd : -ENOMEM;
        }
        w->fd = fd;
        w->cb = on_signal_readable;
        r->be->watch_start(w);
        r->sigwatch = w;
    }
    if (r->sig_pipe[1] >= 0) {
        selfpipe_write_fd = r->sig_pipe[1];
        struct sigaction sa = {0};
        sa.sa_handler = selfpipe_handler;
        sigemptyset(&sa.sa_mask);
        if (!r->sigint_ignored)
            sigaction(SIGINT, &sa, &saved_int);
        sigaction(SIGTERM, &sa, &saved_term);
    } else {
        if (r->sigint_ignored)
            sigdelset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, &r->saved_mask);
    }
    return 0;
}

void coil__signals_remove(coil_reactor *r)
{
    if (!r->sigwatch || !r->running)
        return;
    if (r->sig_pipe[1] >= 0) {
        if (!r->sigint_ignored)
            sigaction(SIGINT, &saved_int, NULL);
        sigaction(SIGTERM, &saved_term, NULL);
        selfpipe_write_fd = -1;
    } else {
        pthread_sigmask(SIG_SETMASK, &r->saved_mask, NULL);
    }
}

/* At reactor free, after the backend is gone. */
void coil__signals_fini(coil_reactor *r)
{
    coil__watch *w = r->sigwatch;
    if (!w)
        return;
    r->sigwatch = NULL;
    close(w->fd);
    if (r->sig_pipe[1] >= 0)
        close(r->sig_pipe[1]);
    r->sig_pipe[0] = r->sig_pipe[1] = -1;
    coil__handle_forget(&w->h);
    free(w);
}
