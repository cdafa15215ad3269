/* SPDX-License-Identifier: MIT */
/*
 * baseline_common.h - the boilerplate shared by the hand-written baseline
 * echo servers (baseline_epoll_echo.c, baseline_uring_echo.c): argument
 * parsing (--port P [--host H]), the listening socket, the "listening on"
 * line, RLIMIT_NOFILE, and a signalfd for SIGINT/SIGTERM so that shutdown
 * is race-free in either event loop.
 */
#ifndef COIL_BENCH_BASELINE_COMMON_H
#define COIL_BENCH_BASELINE_COMMON_H

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

static void baseline_die(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(errno));
    exit(1);
}

/* Parses --port P [--host H] and returns a listening socket (flags are
 * socket(2) type flags, e.g. SOCK_NONBLOCK). Prints "listening on H:P". */
static int baseline_listen(int argc, char **argv, int flags)
{
    const char *host = "127.0.0.1", *port = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--port"))
            port = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--host"))
            host = argv[++i];
        else
            port = NULL, i = argc;
    }
    if (!port) {
        fprintf(stderr, "usage: %s --port P [--host 127.0.0.1]\n", argv[0]);
        exit(2);
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc) {
        fprintf(stderr, "%s:%s: %s\n", host, port, gai_strerror(rc));
        exit(1);
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | flags, 0), one = 1;
    if (fd < 0)
        baseline_die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        baseline_die("bind");
    if (listen(fd, SOMAXCONN) < 0)
        baseline_die("listen");
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    int p = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    printf("listening on %s:%d\n", host, p);
    fflush(stdout);

    struct rlimit rl; /* allow as many connections as the hard limit */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return fd;
}

/* Blocks SIGINT/SIGTERM (ignores SIGPIPE) and returns a signalfd for them. */
static int baseline_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0)
        baseline_die("signalfd");
    return fd;
}

#endif
