/* SPDX-License-Identifier: MIT */
/*
 * Sending a file segment from a readiness backend (poll): sendfile(2), or
 * pread + send where sendfile does not work for the file. sendfile has no
 * MSG_NOSIGNAL, so SIGPIPE is blocked around it and a SIGPIPE it raised is
 * consumed, leaving -EPIPE as the only trace (as send(MSG_NOSIGNAL) does).
 */
#include <errno.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static ssize_t sendfile_nosigpipe(int sock, int fd, int64_t off, size_t len)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    off_t o = (off_t)off;
    ssize_t n = sendfile(sock, fd, &o, len);
    int err = errno;
    if (n < 0 && err == EPIPE && !sigismember(&old, SIGPIPE)) {
        /* Consume the SIGPIPE this thread just raised, before unblocking. */
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return n;
}

ssize_t coil__send_file(int sock, int fd, int64_t off, size_t len, char *scratch, size_t cap)
{
    ssize_t n = sendfile_nosigpipe(sock, fd, off, len);
    if (n > 0)
        return n;
    if (n == 0)
        return -EIO; /* the file is shorter than promised */
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    /* No sendfile for this file (or socket): read a piece and send it. */
    ssize_t got = pread(fd, scratch, len < cap ? len : cap, (off_t)off);
    if (got <= 0)
        return got == 0 ? -EIO : -errno;
    n = send(sock, scratch, (size_t)got, MSG_NOSIGNAL);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return n;
}
