/* SPDX-License-Identifier: MIT */
/*
 * Datagram ports inside the core (udp.c) and the backends.
 *
 * A datagram port starts with a coil__watch, so a readiness backend (poll,
 * epoll) watches it like any other descriptor: its callback receives with
 * recvmsg() until the socket is empty. The io_uring backend keeps a
 * multishot recvmsg armed into provided buffers. Both report each datagram
 * through coil__dgram_on_datagram(); the core makes no system call on the
 * socket (see the dgram_* backend operations).
 */
#ifndef COIL_UDP_INT_H
#define COIL_UDP_INT_H

#include <sys/socket.h>

#include "internal.h"

struct coil_datagram_port {
    coil__watch w;                 /* first: h.type COIL__H_DGRAM, fd, readiness callback */
    coil_datagram_protocol *proto; /* NULL when the start failed: no callbacks */
    coil_address host;             /* bound address */
    coil_address peer;             /* connected peer (connected only) */
    bool connected;
    char *unlink_path;  /* UNIX: socket file removed at close */
    char *unlink_path2; /* UNIX client: its bound file */
    void (*done)(void *arg);
    void *done_arg;
    char *rbuf;        /* readiness backends: COIL_DATAGRAM_MAX bytes, theirs */
    struct msghdr msg; /* io_uring: recvmsg template (name room, no control) */
    bool recv_active;  /* io_uring: a multishot recvmsg is armed */
};

/* A datagram arrived (`name`/`namelen`: the sender as recvmsg gave it). */
void coil__dgram_on_datagram(coil_datagram_port *u, const void *data, size_t len, const void *name,
                             socklen_t namelen);
/* Receiving failed with `err` (negative errno): ECONNREFUSED on a connected
 * port reaches connection_refused(); others are logged. Reading goes on. */
void coil__dgram_on_error(coil_datagram_port *u, int err);
/* The final callbacks (from the reactor's endgame). */
void coil__dgram_endgame(coil_datagram_port *u);

#endif
