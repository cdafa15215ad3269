/* SPDX-License-Identifier: MIT */
/*
 * Datagrams (Twisted's DatagramProtocol, reactor.listenUDP,
 * listenMulticast, listenUNIXDatagram and connectUNIXDatagram): UDP over
 * IPv4 and IPv6, multicast, and UNIX datagram sockets. docs/UDP.md has a
 * walk-through.
 *
 * A datagram port is at once the listening socket and the protocol's
 * transport (as Twisted's udp.Port): the protocol receives every datagram
 * with its sender's address and writes datagrams to any address, or to the
 * one peer after coil_datagram_connect().
 *
 * Lifetimes: the protocol is the caller's (user-embedded, as
 * coil_protocol). coil calls start_protocol() once listening and
 * stop_protocol() exactly once, last, from the loop after the socket is
 * closed (stop_listening, reactor shutdown, coil_reactor_free); after
 * stop_protocol() returns coil never touches the protocol again, so it may
 * free it there. The port handle is valid until then.
 *
 * Writes are sent at once with one sendmsg (MSG_DONTWAIT): a datagram is
 * never queued, and a socket whose send buffer is full reports -EAGAIN
 * (the datagram is dropped, as UDP allows). Every function must be called on
 * the reactor's thread; none calls a protocol callback synchronously.
 */
#ifndef COIL_UDP_H
#define COIL_UDP_H

#include <stdbool.h>
#include <stddef.h>

#include "address.h"
#include "export.h"
#include "reactor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct coil_datagram_port coil_datagram_port;
typedef struct coil_datagram_protocol coil_datagram_protocol;

/* Largest datagram delivered whole; longer ones are truncated to this
 * (Twisted's maxPacketSize, whose default is 8192). */
#define COIL_DATAGRAM_MAX 65535

typedef struct coil_datagram_protocol_ops {
    /* Optional: the port is listening; protocol->transport is set. */
    void (*start_protocol)(coil_datagram_protocol *p);
    /* A datagram arrived (possibly empty). `data` is valid only during the
     * call; `from` is the sender (for an unbound UNIX datagram sender its
     * length is 0 or only the family). May write, connect or stop. */
    void (*datagram_received)(coil_datagram_protocol *p, const void *data, size_t len,
                              const coil_address *from);
    /* Optional, connected ports only: the peer's host reported that nobody
     * listens (ICMP port unreachable, Twisted's connectionRefused). */
    void (*connection_refused)(coil_datagram_protocol *p);
    /* Optional: exactly once, last; the socket is closed. May free `p`. */
    void (*stop_protocol)(coil_datagram_protocol *p);
} coil_datagram_protocol_ops;

struct coil_datagram_protocol {
    const coil_datagram_protocol_ops *ops;
    coil_datagram_port *transport; /* set by coil before start_protocol() */
};

/* Bind a UDP socket to `addr` (coil_address_from_ip(); port 0 picks a free
 * one; "0.0.0.0" or "::" for every address) and deliver its datagrams to
 * `p`. On error nothing is left open and the error says why (-EADDRINUSE,
 * -EACCES, ...); coil also logs "Couldn't listen on ADDR: REASON." at WARN.
 * On success *out is the port and start_protocol() runs from the loop. */
COIL_API int coil_listen_udp(coil_reactor *r, const coil_address *addr, coil_datagram_protocol *p,
                             coil_datagram_port **out);
/* As coil_listen_udp() for multicast (Twisted's listenMulticast): loopback
 * of sent datagrams is on and the TTL is 1 (Linux defaults); with
 * `listen_multiple`, SO_REUSEADDR and SO_REUSEPORT let several sockets
 * (processes) bind the same group port. Join groups with
 * coil_datagram_join_group(). */
COIL_API int coil_listen_multicast(coil_reactor *r, const coil_address *addr,
                                   coil_datagram_protocol *p, bool listen_multiple,
                                   coil_datagram_port **out);
/* A UNIX datagram socket bound to `path` ("@name": abstract namespace).
 * A file left at `path` by an earlier run is an error (-EADDRINUSE); the
 * file is removed when the port closes. `mode` 0: 0666. */
COIL_API int coil_listen_unix_datagram(coil_reactor *r, const char *path, unsigned mode,
                                       coil_datagram_protocol *p, coil_datagram_port **out);
/* A UNIX datagram socket connected to `path` (Twisted's
 * connectUNIXDatagram): writes go there with a NULL address. Bound to
 * `bind_path` first when not NULL (replies need an address to come back
 * to); that file is removed at close. */
COIL_API int coil_connect_unix_datagram(coil_reactor *r, const char *path, const char *bind_path,
                                        coil_datagram_protocol *p, coil_datagram_port **out);

/* Send one datagram of `len` bytes (0 allowed) to `to`, or to the connected
 * peer when `to` is NULL. Returns 0 once the kernel took it, or -EAGAIN (send
 * buffer full: dropped), -EMSGSIZE (too long), -ECONNREFUSED (connected port:
 * an earlier datagram was refused), -EDESTADDRREQ (NULL `to` on a port that is
 * not connected), -EISCONN (a `to` other than the peer of a connected port),
 * -ENOTCONN (stopped), or another negative errno. */
COIL_API int coil_datagram_write(coil_datagram_port *port, const void *data, size_t len,
                                 const coil_address *to);
/* Connected UDP (Twisted's transport.connect): only `peer`'s datagrams are
 * received from now on, writes may leave the address out, and refusals
 * reach connection_refused(). Once per port: -EISCONN after that. */
COIL_API int coil_datagram_connect(coil_datagram_port *port, const coil_address *peer);

/* Multicast (IPv4 and IPv6). `group` and `iface` are IP literals; `iface`
 * NULL or "" lets the kernel choose (IPv4 "0.0.0.0"). For IPv6 `iface` may
 * also be an interface name ("lo"). 0 or a negative errno. */
COIL_API int coil_datagram_join_group(coil_datagram_port *port, const char *group,
                                      const char *iface);
COIL_API int coil_datagram_leave_group(coil_datagram_port *port, const char *group,
                                       const char *iface);
/* The interface multicast datagrams leave through (an IP literal; IPv6: an
 * interface name or index too). */
COIL_API int coil_datagram_set_outgoing_interface(coil_datagram_port *port, const char *iface);
/* Time to live of outgoing multicast datagrams (0-255). */
COIL_API int coil_datagram_set_ttl(coil_datagram_port *port, int ttl);
COIL_API int coil_datagram_get_ttl(coil_datagram_port *port);
/* Whether this host's own sockets receive our multicast datagrams. */
COIL_API int coil_datagram_set_loopback(coil_datagram_port *port, bool on);
/* 1, 0 or a negative errno. */
COIL_API int coil_datagram_get_loopback(coil_datagram_port *port);
/* SO_BROADCAST (Twisted's setBroadcastAllowed). */
COIL_API int coil_datagram_set_broadcast(coil_datagram_port *port, bool on);

/* The bound address (with the real port when 0 was asked for). */
COIL_API int coil_datagram_get_host(coil_datagram_port *port, coil_address *out);
/* The connected peer; -ENOTCONN if not connected. */
COIL_API int coil_datagram_get_peer(coil_datagram_port *port, coil_address *out);
/* The protocol attached to the port. */
COIL_API coil_datagram_protocol *coil_datagram_port_protocol(const coil_datagram_port *port);
COIL_API coil_reactor *coil_datagram_port_reactor(const coil_datagram_port *port);
/* The socket (setsockopt, e.g. SO_RCVBUF); do not read, write or close it.
 * -EBADF once stopped. */
COIL_API int coil_datagram_fileno(const coil_datagram_port *port);

/* Stop receiving and close the socket (Twisted's stopListening). From the
 * loop: stop_protocol(), then done(arg) (may be NULL). Idempotent: later
 * calls do nothing (their `done` is not called). */
COIL_API void coil_datagram_stop_listening(coil_datagram_port *port, void (*done)(void *arg),
                                           void *arg);

#ifdef __cplusplus
}
#endif
#endif
