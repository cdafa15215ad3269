/* SPDX-License-Identifier: MIT */
/*
 * SIGHUP reopens the log file (what logrotate's postrotate expects) and
 * SIGUSR1 rotates it (twistd), instead of ending coild. Both are blocked
 * in every thread; one thread takes them with sigwait() and hands the work
 * to the reactor's thread with coil_reactor_call_from_thread(), the one
 * coil call that is safe from another thread.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "runner.h"

static pthread_t thread;
static bool started;
static atomic_bool stopping;

static sigset_t handled(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    return set;
}

void coild_signals_block(void)
{
    /* SIGINT/SIGTERM too: one that arrives after the ports are bound but
     * before the reactor runs stays pending for the reactor's signalfd
     * (a clean stop) instead of killing coild with the default action. */
    sigset_t set = handled();
    struct sigaction cur;
    /* An ignored SIGINT (a background job) stays ignored, as the reactor
     * leaves it: blocked, it would be kept pending instead of dropped. */
    if (sigaction(SIGINT, NULL, &cur) == 0 && cur.sa_handler != SIG_IGN)
        sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void reopen(void *arg)
{
    coild_log_reopen();
}

static void rotate(void *arg)
{
    coild_log_rotate();
}

static void *wait_signals(void *arg)
{
    coil_reactor *r = arg;
    sigset_t set = handled();
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (atomic_load(&stopping))
            return NULL;
        coil_reactor_call_from_thread(r, sig == SIGHUP ? reopen : rotate, NULL);
    }
}

int coild_signals_start(coil_reactor *r)
{
    /* Created with SIGINT/SIGTERM blocked too: those belong to the
     * reactor's signalfd, and a thread that could take them with the
     * default action would end the process. */
    sigset_t all = handled(), saved;
    sigaddset(&all, SIGINT);
    sigaddset(&all, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &all, &saved);
    int rc = pthread_create(&thread, NULL, wait_signals, r);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc != 0)
        return -rc;
    started = true;
    return 0;
}

void coild_signals_stop(void)
{
    if (!started)
        return;
    atomic_store(&stopping, true);
    pthread_kill(thread, SIGUSR1); /* wakes its sigwait() */
    pthread_join(thread, NULL);
    started = false;
}
