/* SPDX-License-Identifier: MIT */
/*
 * Datagram ports (Twisted's udp.Port and unix.DatagramPort): what a port
 * is, what it reports, connected UDP, multicast options, closing. Every
 * system call on its socket is a backend operation (dgram_*): io_uring
 * receives with multishot recvmsg, the readiness backends with recvmsg()
 * when the socket is readable; both report through coil__dgram_on_*.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "udp_int.h"

#define SYS_UDP "coil.udp"

/* ---- receiving ----------------------------------------------------------- */

void coil__dgram_on_datagram(coil_datagram_port *u, const void *data, size_t len, const void *name,
                             socklen_t namelen)
{
    if (u->w.h.closing || !u->proto)
        return;
    if (len > COIL_DATAGRAM_MAX)
        len = COIL_DATAGRAM_MAX; /* the same limit on every backend */
    coil_address from;
    if (coil_address_from_sockaddr(&from, name, namelen) < 0)
        memset(&from, 0, sizeof(from));
    u->proto->ops->datagram_received(u->proto, data, len, &from);
}

void coil__dgram_on_error(coil_datagram_port *u, int err)
{
    if (u->w.h.closing || !u->proto)
        return;
    if (err == -ECONNREFUSED && u->connected) {
        if (u->proto->ops->connection_refused)
            u->proto->ops->connection_refused(u->proto);
        return;
    }
    coil_log(COIL_LOG_DEBUG, SYS_UDP, "receive: %s", coil_strerror(err));
}

/* ---- creating ------------------------------------------------------------ */

static void log_cannot_listen(const char *where, int err)
{
    coil_log(COIL_LOG_WARN, SYS_UDP, "Couldn't listen on %s: %s.", where, coil_strerror(err));
}

/* Wrap a bound (and, with `peer`, connected) socket (taken over, also on
 * error), attach `p`, start receiving. */
static int port_start(coil_reactor *r, int fd, const coil_address *bound, coil_datagram_protocol *p,
                      char *unlink_path, char *unlink_path2, const coil_address *peer,
                      coil_datagram_port **out)
{
    coil_datagram_port *u = calloc(1, sizeof(*u));
    int rc = u ? coil__handle_init(r, &u->w.h, COIL__H_DGRAM) : -ENOMEM;
    if (rc < 0) {
        free(u);
        r->be->discard(fd);
        if (unlink_path)
            unlink(unlink_path);
        if (unlink_path2)
            unlink(unlink_path2);
        free(unlink_path);
        free(unlink_path2);
        return rc;
    }
    u->w.fd = fd;
    u->host = *bound;
    u->unlink_path = unlink_path;
    u->unlink_path2 = unlink_path2;
    if (peer) {
        u->connected = true;
        u->peer = *peer;
    }
    rc = r->be->dgram_start(u);
    if (rc < 0) {
        /* Nothing armed yet: release the handle without callbacks (the
         * endgame still removes the socket files). */
        u->w.h.closing = true;
        r->be->dgram_close(u);
        return rc;
    }
    u->proto = p;
    p->transport = u;
    *out = u;
    char where[COIL_ADDRESS_STRLEN];
    coil_address_format(&u->host, where, sizeof(where));
    coil_log(COIL_LOG_INFO, SYS_UDP, "datagram port listening on %s", where);
    if (p->ops->start_protocol)
        p->ops->start_protocol(p);
    return 0;
}

static int listen_ip(coil_reactor *r, const coil_address *addr, coil_datagram_protocol *p,
                     bool reuse, coil_datagram_port **out)
{
    char where[COIL_ADDRESS_STRLEN];
    coil_address_format(addr, where, sizeof(where));
    int family = coil_address_family(addr);
    if (family != AF_INET && family != AF_INET6)
        return -EAFNOSUPPORT;
    if (!p || !p->ops || !p->ops->datagram_received)
        return -EINVAL;
    coil__dgram_params dp = {.family = family, .reuse = reuse, .bind_to = addr};
    coil_address bound;
    int fd = r->be->dgram_socket(&dp, &bound);
    if (fd < 0) {
        log_cannot_listen(where, fd);
        return fd;
    }
    return port_start(r, fd, &bound, p, NULL, NULL, NULL, out);
}

int coil_listen_udp(coil_reactor *r, const coil_address *addr, coil_datagram_protocol *p,
                    coil_datagram_port **out)
{
    return listen_ip(r, addr, p, false, out);
}

int coil_listen_multicast(coil_reactor *r, const coil_address *addr, coil_datagram_protocol *p,
                          bool listen_multiple, coil_datagram_port **out)
{
    return listen_ip(r, addr, p, listen_multiple, out);
}

/* A copy of a filesystem path (the socket file to remove at close), NULL
 * for an abstract one ("@name"). */
static char *dup_filesystem_path(const char *path, int *rc)
{
    if (!path || path[0] == '@')
        return NULL;
    char *c = strdup(path);
    if (!c)
        *rc = -ENOMEM;
    return c;
}

int coil_listen_unix_datagram(coil_reactor *r, const char *path, unsigned mode,
                              coil_datagram_protocol *p, coil_datagram_port **out)
{
    char where[COIL_ADDRESS_STRLEN + 8];
    snprintf(where, sizeof(where), "unix:%s", path ? path : "");
    if (!path || !p || !p->ops || !p->ops->datagram_received)
        return -EINVAL;
    coil_address a;
    int rc = coil_address_from_unix(&a, path);
    char *keep = rc == 0 ? dup_filesystem_path(path, &rc) : NULL;
    int fd = rc;
    coil_address bound;
    if (rc == 0) {
        coil__dgram_params dp = {
            .family = AF_UNIX, .bind_to = &a, .unix_path = keep, .unix_mode = mode ? mode : 0666};
        fd = r->be->dgram_socket(&dp, &bound);
    }
    if (fd < 0) {
        free(keep);
        log_cannot_listen(where, fd);
        return fd;
    }
    return port_start(r, fd, &bound, p, keep, NULL, NULL, out);
}

int coil_connect_unix_datagram(coil_reactor *r, const char *path, const char *bind_path,
                               coil_datagram_protocol *p, coil_datagram_port **out)
{
    if (!path || !p || !p->ops || !p->ops->datagram_received)
        return -EINVAL;
    coil_address peer, b;
    int rc = coil_address_from_unix(&peer, path);
    if (rc == 0 && bind_path)
        rc = coil_address_from_unix(&b, bind_path);
    char *keep = rc == 0 ? dup_filesystem_path(bind_path, &rc) : NULL;
    if (rc < 0)
        return rc;
    coil__dgram_params dp = {.family = AF_UNIX, .bind_to = bind_path ? &b : NULL, .peer = &peer,
                             .unix_path = keep, .unix_mode = 0666};
    coil_address bound;
    int fd = r->be->dgram_socket(&dp, &bound);
    if (fd < 0) {
        free(keep);
        return fd;
    }
    return port_start(r, fd, &bound, p, NULL, keep, &peer, out);
}

/* ---- sending and connecting ---------------------------------------------- */

static bool stopped(const coil_datagram_port *u)
{
    return u->w.h.closing;
}

int coil_datagram_write(coil_datagram_port *u, const void *data, size_t len, const coil_address *to)
{
    if (stopped(u))
        return -ENOTCONN;
    if (!to && !u->connected)
        return -EDESTADDRREQ;
    if (to && u->connected && !coil_address_equal(to, &u->peer))
        return -EISCONN;
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (!u->connected) {
        msg.msg_name = (void *)&to->u;
        msg.msg_namelen = to->len;
    }
    return u->w.h.r->be->dgram_send(u, &msg);
}

int coil_datagram_connect(coil_datagram_port *u, const coil_address *peer)
{
    if (stopped(u))
        return -ENOTCONN;
    if (u->connected)
        return -EISCONN;
    if (!peer || coil_address_family(peer) != coil_address_family(&u->host))
        return -EAFNOSUPPORT;
    int rc = u->w.h.r->be->dgram_connect(u, peer);
    if (rc < 0)
        return rc;
    u->connected = true;
    u->peer = *peer;
    return 0;
}

/* ---- multicast ----------------------------------------------------------- */

static int family_of(const coil_datagram_port *u)
{
    return coil_address_family(&u->host);
}

static int set_option(coil_datagram_port *u, int level, int name, void *value, socklen_t len)
{
    return u->w.h.r->be->dgram_option(u, true, level, name, value, &len);
}

static int set_int(coil_datagram_port *u, int level, int name, int v)
{
    if (stopped(u))
        return -ENOTCONN;
    return set_option(u, level, name, &v, sizeof(v));
}

static int get_int(coil_datagram_port *u, int level, int name)
{
    if (stopped(u))
        return -ENOTCONN;
    int v = 0;
    socklen_t len = sizeof(v);
    int rc = u->w.h.r->be->dgram_option(u, false, level, name, &v, &len);
    if (rc < 0)
        return rc;
    /* Some options are a single byte. */
    return len == 1 ? *(unsigned char *)&v : v;
}

/* An IPv6 interface: a name ("lo"), an index, or NULL/"" for the default. */
static int ifindex_of(const char *iface, unsigned *out)
{
    *out = 0;
    if (!iface || !*iface)
        return 0;
    char *end;
    unsigned long n = strtoul(iface, &end, 10);
    if (*end == '\0')
        *out = (unsigned)n;
    else if ((*out = if_nametoindex(iface)) == 0)
        return -ENODEV;
    return 0;
}

static int membership(coil_datagram_port *u, const char *group, const char *iface, bool join)
{
    if (stopped(u))
        return -ENOTCONN;
    if (!group)
        return -EINVAL;
    if (family_of(u) == AF_INET) {
        struct ip_mreqn m = {0};
        if (inet_pton(AF_INET, group, &m.imr_multiaddr) != 1)
            return -EINVAL;
        if (iface && *iface && inet_pton(AF_INET, iface, &m.imr_address) != 1)
            return -EINVAL;
        int opt = join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP;
        return set_option(u, IPPROTO_IP, opt, &m, sizeof(m));
    }
    if (family_of(u) == AF_INET6) {
        struct ipv6_mreq m = {0};
        if (inet_pton(AF_INET6, group, &m.ipv6mr_multiaddr) != 1)
            return -EINVAL;
        int rc = ifindex_of(iface, &m.ipv6mr_interface);
        if (rc < 0)
            return rc;
        int opt = join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP;
        return set_option(u, IPPROTO_IPV6, opt, &m, sizeof(m));
    }
    return -EAFNOSUPPORT;
}

int coil_datagram_join_group(coil_datagram_port *u, const char *group, const char *iface)
{
    return membership(u, group, iface, true);
}

int coil_datagram_leave_group(coil_datagram_port *u, const char *group, const char *iface)
{
    return membership(u, group, iface, false);
}

int coil_datagram_set_outgoing_interface(coil_datagram_port *u, const char *iface)
{
    if (stopped(u))
        return -ENOTCONN;
    if (family_of(u) == AF_INET) {
        struct ip_mreqn m = {0};
        if (iface && *iface && inet_pton(AF_INET, iface, &m.imr_address) != 1)
            return -EINVAL;
        return set_option(u, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof(m));
    }
    if (family_of(u) == AF_INET6) {
        unsigned idx;
        int rc = ifindex_of(iface, &idx);
        if (rc < 0)
            return rc;
        return set_int(u, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)idx);
    }
    return -EAFNOSUPPORT;
}

int coil_datagram_set_ttl(coil_datagram_port *u, int ttl)
{
    if (ttl < 0 || ttl > 255)
        return -EINVAL;
    if (family_of(u) == AF_INET6)
        return set_int(u, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl);
    return family_of(u) == AF_INET ? set_int(u, IPPROTO_IP, IP_MULTICAST_TTL, ttl) : -EAFNOSUPPORT;
}

int coil_datagram_get_ttl(coil_datagram_port *u)
{
    if (family_of(u) == AF_INET6)
        return get_int(u, IPPROTO_IPV6, IPV6_MULTICAST_HOPS);
    return family_of(u) == AF_INET ? get_int(u, IPPROTO_IP, IP_MULTICAST_TTL) : -EAFNOSUPPORT;
}

int coil_datagram_set_loopback(coil_datagram_port *u, bool on)
{
    if (family_of(u) == AF_INET6)
        return set_int(u, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, on);
    return family_of(u) == AF_INET ? set_int(u, IPPROTO_IP, IP_MULTICAST_LOOP, on) : -EAFNOSUPPORT;
}

int coil_datagram_get_loopback(coil_datagram_port *u)
{
    int v;
    if (family_of(u) == AF_INET6)
        v = get_int(u, IPPROTO_IPV6, IPV6_MULTICAST_LOOP);
    else if (family_of(u) == AF_INET)
        v = get_int(u, IPPROTO_IP, IP_MULTICAST_LOOP);
    else
        return -EAFNOSUPPORT;
    return v < 0 ? v : v != 0;
}

int coil_datagram_set_broadcast(coil_datagram_port *u, bool on)
{
    return set_int(u, SOL_SOCKET, SO_BROADCAST, on);
}

/* ---- accessors ----------------------------------------------------------- */

int coil_datagram_get_host(coil_datagram_port *u, coil_address *out)
{
    *out = u->host;
    return 0;
}

int coil_datagram_get_peer(coil_datagram_port *u, coil_address *out)
{
    if (!u->connected) {
        memset(out, 0, sizeof(*out));
        return -ENOTCONN;
    }
    *out = u->peer;
    return 0;
}

coil_datagram_protocol *coil_datagram_port_protocol(const coil_datagram_port *u)
{
    return u->proto;
}

coil_reactor *coil_datagram_port_reactor(const coil_datagram_port *u)
{
    return u->w.h.r;
}

int coil_datagram_fileno(const coil_datagram_port *u)
{
    return stopped(u) ? -EBADF : u->w.fd;
}

/* ---- closing ------------------------------------------------------------- */

void coil_datagram_stop_listening(coil_datagram_port *u, void (*done)(void *arg), void *arg)
{
    if (u->w.h.closing)
        return;
    u->w.h.closing = true;
    u->done = done;
    u->done_arg = arg;
    u->w.h.r->be->dgram_close(u); /* closes the socket once nothing is in flight */
}

void coil__dgram_endgame(coil_datagram_port *u)
{
    if (u->unlink_path)
        unlink(u->unlink_path);
    if (u->unlink_path2)
        unlink(u->unlink_path2);
    if (u->proto) {
        char where[COIL_ADDRESS_STRLEN];
        coil_address_format(&u->host, where, sizeof(where));
        coil_log(COIL_LOG_INFO, SYS_UDP, "(UDP Port %s Closed)", where);
        if (u->proto->ops->stop_protocol)
            u->proto->ops->stop_protocol(u->proto);
    }
    if (u->done)
        u->done(u->done_arg);
    free(u->unlink_path);
    free(u->unlink_path2);
    free(u);
}
