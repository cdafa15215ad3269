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
 * coil_protocol); one protocol serves one port. coil calls start_protocol()
 * once listening and
 * stop_protocol() exactly once, last, from the loop after the socket is
 * closed (stop_listening, reactor shutdown, coil_reactor_free); after
 * stop_protocol() returns coil never touches the protocol again, so it may
 * free it there. The port handle is valid until then.
 *
 * Writes are sent at once with one sendmsg (MSG_DONTWAIT): a datagram is
 * never queued, and a socket whose send buffer is full reports -EAGAIN
 * (the datagram is dropped, as UDP allows). Every function must be called on
 * the reactor's thread; apart from start_protocol() none calls a protocol
 * callback synchronously.
 */
#ifndef COIL_UDP_H
#define COIL_UDP_H

#include <stdbool.h>
#include <stddef.h>

#include "address.h"
#include "endpoint_desc.h"
#include "export.h"
#include "reactor.h"
#include "service.h"

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
 * `p`. On error nothing is left open, `p` is not called, and the error says
 * why (-EADDRINUSE, -EACCES, ...); coil also logs "Couldn't listen on ADDR:
 * REASON." at WARN. On success *out is the port and start_protocol() has
 * run, inside this call as in Twisted's listenUDP (the one callback coil
 * makes from inside a call). */
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

/* ------------------------------------------------------------------------
 * Services (Twisted's UDPServer, MulticastServer, UNIXDatagramServer and
 * UNIXDatagramClient): the service form of the calls above. Starting the
 * service listens (errors are returned and logged; the service stays
 * stopped); stopping it fires once the socket is closed and the protocol's
 * stop_protocol() ran. The port belongs to the service while it runs: stop
 * the service, not the port. The service only borrows the protocol and the
 * paths, which must outlive it; a stopped service may be started again.
 */
typedef enum coil_datagram_service_kind {
    COIL_DATAGRAM_SERVICE_UDP = 1,
    COIL_DATAGRAM_SERVICE_MULTICAST,
    COIL_DATAGRAM_SERVICE_UNIX_SERVER,
    COIL_DATAGRAM_SERVICE_UNIX_CLIENT,
} coil_datagram_service_kind;

typedef struct coil_datagram_service {
    coil_service service;
    coil_reactor *reactor;
    coil_datagram_service_kind kind;
    coil_address addr;                /* UDP and multicast: where to bind */
    bool listen_multiple;             /* multicast */
    const char *path;                 /* UNIX: the socket (server) or the peer (client) */
    const char *bind_path;            /* UNIX client: its own address, or NULL */
    unsigned mode;                    /* UNIX server: 0 is 0666 */
    coil_datagram_protocol *protocol; /* borrowed */
    coil_datagram_port *port;         /* while running */
} coil_datagram_service;

COIL_API void coil_udp_service_init(coil_datagram_service *s, coil_reactor *r,
                                    const coil_address *addr, coil_datagram_protocol *p);
COIL_API void coil_multicast_service_init(coil_datagram_service *s, coil_reactor *r,
                                          const coil_address *addr, coil_datagram_protocol *p,
                                          bool listen_multiple);
COIL_API void coil_unix_datagram_server_init(coil_datagram_service *s, coil_reactor *r,
                                             const char *path, unsigned mode,
                                             coil_datagram_protocol *p);
COIL_API void coil_unix_datagram_client_init(coil_datagram_service *s, coil_reactor *r,
                                             const char *path, const char *bind_path,
                                             coil_datagram_protocol *p);

/* ------------------------------------------------------------------------
 * From description strings: "udp:PORT:interface=ADDR" (coil's datagram
 * endpoint type: port 0 picks a free one, interface "" is every IPv4
 * address, "::" every IPv6 and IPv4 address) or a "unix:" server
 * description (a UNIX datagram socket at its address, with its mode).
 */

/* Listen for datagrams as parsed description `d` says. On failure *out is
 * untouched and err (if errlen > 0) says why in one line: "tcp: not a
 * datagram endpoint type (udp or unix)", "udp: invalid interface 'x' (must
 * be an IP address)", or the listen error ("Couldn't listen on
 * 127.0.0.1:53: Permission denied."). Returns 0 or the negative error
 * (COIL_EBADDESC for a description that cannot work). */
COIL_API int coil_datagram_listen_desc(coil_reactor *r, const coil_server_desc *d,
                                       coil_datagram_protocol *p, coil_datagram_port **out,
                                       char *err, size_t errlen);
/* Parse `desc` and listen (as coil_datagram_listen_desc()). */
COIL_API int coil_datagram_listen_string(coil_reactor *r, const char *desc,
                                         coil_datagram_protocol *p, coil_datagram_port **out,
                                         char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
