/* SPDX-License-Identifier: MIT */
/* Socket addresses: a value type holding an IPv4, IPv6 or UNIX address. */
#ifndef COIL_ADDRESS_H
#define COIL_ADDRESS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct coil_address {
    socklen_t len; /* 0: no address (e.g. an unbound UNIX client) */
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
        struct sockaddr_storage storage;
    } u;
} coil_address;

/* Longest text coil_address_format() produces, with the NUL. */
#define COIL_ADDRESS_STRLEN 128

/* Build from an IPv4 or IPv6 literal ("127.0.0.1", "::1", "fe80::1%lo";
 * "" means 0.0.0.0) and a port. -EINVAL if `ip` is not a literal. */
COIL_API int coil_address_from_ip(coil_address *addr, const char *ip, uint16_t port);
/* Build a UNIX address; a leading '@' makes a Linux abstract-namespace name.
 * -ENAMETOOLONG if the path does not fit sun_path. */
COIL_API int coil_address_from_unix(coil_address *addr, const char *path);
/* Copy from a sockaddr (len bytes). -EINVAL if too long. */
COIL_API int coil_address_from_sockaddr(coil_address *addr, const struct sockaddr *sa,
                                        socklen_t len);

/* AF_INET, AF_INET6, AF_UNIX, or AF_UNSPEC when empty. */
COIL_API int coil_address_family(const coil_address *addr);
/* Port in host order (0 for UNIX). */
COIL_API uint16_t coil_address_port(const coil_address *addr);
/* Host part as text ("127.0.0.1", "::1", the UNIX path). Returns bytes
 * written without the NUL, or -ENOSPC. */
COIL_API int coil_address_host(const coil_address *addr, char *buf, size_t size);
/* "127.0.0.1:8080", "[::1]:8080", "unix:/run/x.sock", "unix:<unnamed>".
 * Returns bytes written without the NUL, or -ENOSPC. */
COIL_API int coil_address_format(const coil_address *addr, char *buf, size_t size);
/* 1 if both hold the same family, host and port (or path), else 0. */
COIL_API int coil_address_equal(const coil_address *a, const coil_address *b);

#ifdef __cplusplus
}
#endif
#endif
