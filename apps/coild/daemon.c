/* SPDX-License-Identifier: MIT */
/*
 * Daemonizing with a status pipe, as twistd does: fork, setsid, fork again
 * (the daemon can never reacquire a terminal); the original process waits
 * until the daemon is serving or has failed, and exits with its status.
 *
 * Two pipes go from the daemon to the waiting parent: the daemon's stderr
 * during start-up (so every error message still reaches the terminal that
 * started coild), and a status pipe carrying one byte, the exit status (0:
 * serving). Once the daemon is serving its stdio is pointed at /dev/null.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"

static int status_fd = -1;
static int null_fd = -1; /* opened before any chroot */

static void wait_for_daemon(int err_rd, int status_rd)
{
    char buf[4096];
    ssize_t n;
    /* Relay the daemon's start-up errors until it closes its stderr end. */
    while ((n = read(err_rd, buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (write(STDERR_FILENO, buf, (size_t)n) < 0)
            break;
    }
    unsigned char st;
    do
        n = read(status_rd, &st, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) {
        fprintf(stderr, "coild: the daemon exited during start-up; see the log file\n");
        _exit(1);
    }
    if (st != 0)
        fprintf(stderr, "coild: the daemon failed to start (exit status %u); see the log file "
                        "for more information\n",
                st);
    _exit(st);
}

int coild_daemonize(void)
{
    int errp[2], statp[2];
    if (pipe2(errp, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(statp, O_CLOEXEC) < 0) {
        int e = errno;
        close(errp[0]);
        close(errp[1]);
        return -e;
    }
    /* Sockets passed by systemd (or systemd-socket-activate) are meant for
     * this process; the daemon inherits them, so it takes LISTEN_PID over. */
    const char *lp = getenv("LISTEN_PID");
    bool activated = lp && strtol(lp, NULL, 10) == (long)getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(errp[0]);
        close(errp[1]);
        close(statp[0]);
        close(statp[1]);
        return -e;
    }
    if (pid > 0) {
        close(errp[1]);
        close(statp[1]);
        waitpid(pid, NULL, 0); /* the intermediate child exits at once */
        wait_for_daemon(errp[0], statp[0]);
    }
    close(errp[0]);
    close(statp[0]);
    setsid();
    pid = fork();
    if (pid < 0)
        _exit(1);
    if (pid > 0)
        _exit(0);
    if (activated) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%ld", (long)getpid());
        setenv("LISTEN_PID", buf, 1);
    }
    /* The daemon: stdin from /dev/null, stderr into the start-up pipe,
     * stdout to /dev/null (the log goes to the log file). */
    null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0) {
        dup2(null_fd, STDIN_FILENO);
        dup2(null_fd, STDOUT_FILENO);
    }
    dup2(errp[1], STDERR_FILENO);
    close(errp[1]);
    status_fd = statp[1];
    return 0;
}

static void report(int status)
{
    if (status_fd < 0)
        return;
    fflush(stderr);
    if (null_fd >= 0) {
        dup2(null_fd, STDERR_FILENO); /* the parent sees EOF on the error pipe */
        close(null_fd);
        null_fd = -1;
    } else {
        close(STDERR_FILENO);
    }
    unsigned char st = (unsigned char)status;
    ssize_t n;
    do
        n = write(status_fd, &st, 1);
    while (n < 0 && errno == EINTR);
    close(status_fd);
    status_fd = -1;
}

void coild_daemon_ready(void)
{
    report(0);
}

void coild_daemon_failed(int status)
{
    report(status ? status : 1);
}
