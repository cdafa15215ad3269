/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "udp_int.h"

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

/* The bound address of `fd` into *out (zeroed when unknown). */
static void bound_name(int fd, coil_address *out)
{
    memset(out, 0, sizeof(*out));
    socklen_t len = sizeof(out->u);
    if (getsockname(fd, &out->u.sa, &len) == 0)
        out->len = len;
}

int coil__sock_listen(const coil_address *addr, const coil__listen_params *lp, coil_address *bound)
{
    int family = coil_address_family(addr);
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1, rc = 0;
    if (family != AF_UNIX) {
        /* SO_REUSEADDR as Twisted sets it on POSIX: restart without TIME_WAIT pain. */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (lp->reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
            rc = -errno;
        int v6only = lp->ipv6_only;
        if (rc == 0 && family == AF_INET6 &&
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
            rc = -errno;
    }
    bool bound_file = false;
    if (rc == 0 && bind(fd, &addr->u.sa, addr->len) < 0)
        rc = -errno;
    else if (rc == 0)
        bound_file = lp->unix_path != NULL;
    /* The mode before listen(): no client connects through looser rights. */
    if (rc == 0 && lp->unix_path && chmod(lp->unix_path, lp->unix_mode) < 0)
        rc = -errno;
    if (rc == 0 && listen(fd, lp->backlog) < 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        if (bound_file)
            unlink(lp->unix_path); /* the socket file our bind() made */
        return rc;
    }
    /* TCP_NODELAY by default: Linux accepted sockets inherit it from the
     * listener, so no call per connection. */
    if (family != AF_UNIX)
        coil__set_tcp_defaults(fd);
    bound_name(fd, bound);
    return fd;
}

int coil__sock_adopt(int fd, bool *blocking, coil_address *bound)
{
    /* The file description may be shared with another process (systemd,
     * a parent): its status flags (O_NONBLOCK) and socket options are left
     * as they are. Close-on-exec belongs to this descriptor only. */
    int fl = fcntl(fd, F_GETFL);
    int fdfl = fcntl(fd, F_GETFD);
    if (fl < 0 || fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    *blocking = !(fl & O_NONBLOCK);
    bound_name(fd, bound);
    return fd;
}

int coil__sock_connecting(int family, const coil_address *bind_to)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind_to && bind(fd, &bind_to->u.sa, bind_to->len) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    if (family != AF_UNIX)
        coil__set_tcp_defaults(fd); /* before connecting: one call, kept by the socket */
    return fd;
}

void coil__sock_discard(int fd)
{
    close(fd);
}

/* ---- datagram sockets ----------------------------------------------------- */

int coil__sock_dgram(const coil__dgram_params *dp, coil_address *bound)
{
    int fd = socket(dp->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1, rc = 0;
    if (dp->reuse && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
                      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0))
        rc = -errno;
    bool bound_file = false;
    if (rc == 0 && dp->bind_to) {
        if (bind(fd, &dp->bind_to->u.sa, dp->bind_to->len) < 0)
            rc = -errno;
        else
            bound_file = dp->unix_path != NULL;
    }
    if (rc == 0 && bound_file && chmod(dp->unix_path, dp->unix_mode) < 0)
        rc = -errno;
    if (rc == 0 && dp->peer && connect(fd, &dp->peer->u.sa, dp->peer->len) < 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        if (bound_file)
            unlink(dp->unix_path); /* the socket file our bind() made */
        return rc;
    }
    bound_name(fd, bound);
    return fd;
}

int coil__sock_dgram_send(coil_datagram_port *u, const struct msghdr *msg)
{
    for (;;) {
        /* MSG_DONTWAIT: on io_uring the socket itself is blocking. */
        if (sendmsg(u->w.fd, msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
            return 0;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

int coil__sock_dgram_connect(coil_datagram_port *u, const coil_address *peer)
{
    return connect(u->w.fd, &peer->u.sa, peer->len) < 0 ? -errno : 0;
}

int coil__sock_dgram_option(coil_datagram_port *u, bool set, int level, int name, void *value,
                            socklen_t *len)
{
    int rc = set ? setsockopt(u->w.fd, level, name, value, *len)
                 : getsockopt(u->w.fd, level, name, value, len);
    return rc < 0 ? -errno : 0;
}
