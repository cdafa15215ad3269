/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

int coil__set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
        return -errno;
    return 0;
}

/* TCP_NODELAY by default (as nginx's tcp_nodelay on): a reply written in
 * one callback goes out at once instead of waiting for the peer's ACK. */
void coil__set_tcp_defaults(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int coil__sock_setsockopt(coil_transport *t, int level, int name, int value)
{
    return setsockopt(t->fd, level, name, &value, sizeof(value)) < 0 ? -errno : 0;
}

int coil__sock_shutdown(coil_transport *t, int how)
{
    return shutdown(t->fd, how) < 0 ? -errno : 0;
}

int coil__sock_name(coil_transport *t, bool peer, coil_address *out)
{
    memset(out, 0, sizeof(*out));
    socklen_t len = sizeof(out->u);
    int rc = peer ? getpeername(t->fd, &out->u.sa, &len) : getsockname(t->fd, &out->u.sa, &len);
    if (rc < 0)
        return -errno;
    out->len = len;
    return 0;
}

void coil__sock_set_abortive(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}
