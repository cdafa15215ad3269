/* SPDX-License-Identifier: MIT */
/* Pieces the two load clients (echoload, idle_conns) share: fatal errors
 * and resolving the target. Each includer defines BENCH_PROG first. */
#ifndef COIL_BENCH_CLIENT_COMMON_H
#define COIL_BENCH_CLIENT_COMMON_H

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Print "PROG: message" and exit 2 (the clients' "bench failed" status). */
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", BENCH_PROG);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* The server address: a UNIX path when given, else host:port. */
static void resolve_target(const char *host, const char *port, const char *unix_path,
                           struct sockaddr_storage *addr, socklen_t *addrlen)
{
    if (unix_path) {
        struct sockaddr_un *un = (struct sockaddr_un *)addr;
        if (strlen(unix_path) >= sizeof(un->sun_path))
            die("unix path too long");
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, unix_path);
        *addrlen = sizeof(*un);
        return;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc)
        die("%s:%s: %s", host, port, gai_strerror(rc));
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *addrlen = res->ai_addrlen;
    freeaddrinfo(res);
}

#endif
