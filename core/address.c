/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/address.h>

int coil_address_from_ip(coil_address *a, const char *ip, uint16_t port)
{
    memset(a, 0, sizeof(*a));
    if (ip == NULL || *ip == '\0')
        ip = "0.0.0.0";
    if (inet_pton(AF_INET, ip, &a->u.in4.sin_addr) == 1) {
        a->u.in4.sin_family = AF_INET;
        a->u.in4.sin_port = htons(port);
        a->len = sizeof(a->u.in4);
        return 0;
    }
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    if (strlen(ip) >= sizeof(host))
        return -EINVAL;
    strcpy(host, ip);
    char *scope = strchr(host, '%');
    if (scope)
        *scope++ = '\0';
    if (inet_pton(AF_INET6, host, &a->u.in6.sin6_addr) != 1)
        return -EINVAL;
    if (scope) {
        char *end;
        unsigned long id = strtoul(scope, &end, 10);
        if (*end != '\0' || end == scope)
            id = if_nametoindex(scope);
        if (id == 0)
            return -EINVAL;
        a->u.in6.sin6_scope_id = (uint32_t)id;
    }
    a->u.in6.sin6_family = AF_INET6;
    a->u.in6.sin6_port = htons(port);
    a->len = sizeof(a->u.in6);
    return 0;
}

int coil_address_from_unix(coil_address *a, const char *path)
{
    memset(a, 0, sizeof(*a));
    size_t n = strlen(path);
    if (n == 0)
        return -EINVAL;
    if (n >= sizeof(a->u.un.sun_path))
        return -ENAMETOOLONG;
    a->u.un.sun_family = AF_UNIX;
    memcpy(a->u.un.sun_path, path, n);
    if (path[0] == '@') { /* Linux abstract namespace: leading NUL, no terminator */
        a->u.un.sun_path[0] = '\0';
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

int coil_address_from_sockaddr(coil_address *a, const struct sockaddr *sa, socklen_t len)
{
    memset(a, 0, sizeof(*a));
    if (len > sizeof(a->u))
        return -EINVAL;
    memcpy(&a->u, sa, len);
    a->len = len;
    return 0;
}

int coil_address_family(const coil_address *a)
{
    return a->len >= sizeof(sa_family_t) ? a->u.sa.sa_family : AF_UNSPEC;
}

uint16_t coil_address_port(const coil_address *a)
{
    switch (coil_address_family(a)) {
    case AF_INET:
        return ntohs(a->u.in4.sin_port);
    case AF_INET6:
        return ntohs(a->u.in6.sin6_port);
    default:
        return 0;
    }
}

/* Copies the UNIX path (abstract names as "@name"); "" when unnamed. */
static int unix_path(const coil_address *a, char *buf, size_t size)
{
    size_t off = offsetof(struct sockaddr_un, sun_path);
    size_t n = a->len > off ? a->len - off : 0;
    const char *p = a->u.un.sun_path;
    if (n > 0 && p[0] == '\0') {
        if (n + 1 > size)
            return -ENOSPC;
        buf[0] = '@';
        memcpy(buf + 1, p + 1, n - 1);
        buf[n] = '\0';
        return (int)n;
    }
    n = strnlen(p, n);
    if (n + 1 > size)
        return -ENOSPC;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return (int)n;
}

int coil_address_host(const coil_address *a, char *buf, size_t size)
{
    char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    switch (coil_address_family(a)) {
    case AF_INET:
        inet_ntop(AF_INET, &a->u.in4.sin_addr, tmp, sizeof(tmp));
        break;
    case AF_INET6: {
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, tmp, sizeof(tmp));
        char ifname[IF_NAMESIZE];
        if (a->u.in6.sin6_scope_id && if_indextoname(a->u.in6.sin6_scope_id, ifname)) {
            size_t l = strlen(tmp);
            snprintf(tmp + l, sizeof(tmp) - l, "%%%s", ifname);
        }
        break;
    }
    case AF_UNIX:
        return unix_path(a, buf, size);
    default:
        tmp[0] = '\0';
    }
    int n = snprintf(buf, size, "%s", tmp);
    return (size_t)n < size ? n : -ENOSPC;
}

int coil_address_format(const coil_address *a, char *buf, size_t size)
{
    char host[COIL_ADDRESS_STRLEN];
    int n;
    switch (coil_address_family(a)) {
    case AF_INET:
        coil_address_host(a, host, sizeof(host));
        n = snprintf(buf, size, "%s:%u", host, coil_address_port(a));
        break;
    case AF_INET6:
        coil_address_host(a, host, sizeof(host));
        n = snprintf(buf, size, "[%s]:%u", host, coil_address_port(a));
        break;
    case AF_UNIX:
        if (unix_path(a, host, sizeof(host)) <= 0)
            strcpy(host, "<unnamed>");
        n = snprintf(buf, size, "unix:%s", host);
        break;
    default:
        n = snprintf(buf, size, "<none>");
    }
    return n >= 0 && (size_t)n < size ? n : -ENOSPC;
}

int coil_address_equal(const coil_address *x, const coil_address *y)
{
    int f = coil_address_family(x);
    if (f != coil_address_family(y))
        return 0;
    switch (f) {
    case AF_INET:
        return x->u.in4.sin_port == y->u.in4.sin_port &&
               x->u.in4.sin_addr.s_addr == y->u.in4.sin_addr.s_addr;
    case AF_INET6:
        return x->u.in6.sin6_port == y->u.in6.sin6_port &&
               memcmp(&x->u.in6.sin6_addr, &y->u.in6.sin6_addr, 16) == 0 &&
               x->u.in6.sin6_scope_id == y->u.in6.sin6_scope_id;
    case AF_UNIX: {
        char a[sizeof(x->u.un.sun_path) + 2], b[sizeof(a)];
        return unix_path(x, a, sizeof(a)) >= 0 && unix_path(y, b, sizeof(b)) >= 0 &&
               strcmp(a, b) == 0;
    }
    default:
        return 1;
    }
}
