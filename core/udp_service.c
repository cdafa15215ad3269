/* SPDX-License-Identifier: MIT */
/* Datagram services (Twisted's UDPServer, MulticastServer,
 * UNIXDatagramServer, UNIXDatagramClient): start listens, stop closes. */
#include <errno.h>
#include <string.h>

#include <coil/coil.h>

static int dgram_service_start(coil_service *base)
{
    coil_datagram_service *s = (coil_datagram_service *)base;
    switch (s->kind) {
    case COIL_DATAGRAM_SERVICE_UDP:
        return coil_listen_udp(s->reactor, &s->addr, s->protocol, &s->port);
    case COIL_DATAGRAM_SERVICE_MULTICAST:
        return coil_listen_multicast(s->reactor, &s->addr, s->protocol, s->listen_multiple,
                                     &s->port);
    case COIL_DATAGRAM_SERVICE_UNIX_SERVER:
        return coil_listen_unix_datagram(s->reactor, s->path, s->mode, s->protocol, &s->port);
    case COIL_DATAGRAM_SERVICE_UNIX_CLIENT:
        return coil_connect_unix_datagram(s->reactor, s->path, s->bind_path, s->protocol, &s->port);
    }
    return -EINVAL;
}

static void port_closed(void *arg)
{
    coil_deferred *d = arg;
    coil_deferred_callback(d, coil_result_none());
    coil_deferred_unref(d);
}

static coil_deferred *dgram_service_stop(coil_service *base)
{
    coil_datagram_service *s = (coil_datagram_service *)base;
    coil_datagram_port *port = s->port;
    s->port = NULL;
    if (!port)
        return NULL;
    coil_deferred *d = coil_deferred_new(NULL, NULL);
    if (!d) {
        coil_datagram_stop_listening(port, NULL, NULL);
        return NULL;
    }
    /* One reference for us (dropped by port_closed), one for the caller. */
    coil_datagram_stop_listening(port, port_closed, coil_deferred_ref(d));
    return d;
}

static const coil_service_ops dgram_service_ops = {
    .start = dgram_service_start,
    .stop = dgram_service_stop,
};

static void init(coil_datagram_service *s, coil_reactor *r, coil_datagram_service_kind kind,
                 coil_datagram_protocol *p)
{
    memset(s, 0, sizeof(*s));
    s->service.ops = &dgram_service_ops;
    s->reactor = r;
    s->kind = kind;
    s->protocol = p;
}

void coil_udp_service_init(coil_datagram_service *s, coil_reactor *r, const coil_address *addr,
                           coil_datagram_protocol *p)
{
    init(s, r, COIL_DATAGRAM_SERVICE_UDP, p);
    s->addr = *addr;
}

void coil_multicast_service_init(coil_datagram_service *s, coil_reactor *r,
                                 const coil_address *addr, coil_datagram_protocol *p,
                                 bool listen_multiple)
{
    init(s, r, COIL_DATAGRAM_SERVICE_MULTICAST, p);
    s->addr = *addr;
    s->listen_multiple = listen_multiple;
}

void coil_unix_datagram_server_init(coil_datagram_service *s, coil_reactor *r, const char *path,
                                    unsigned mode, coil_datagram_protocol *p)
{
    init(s, r, COIL_DATAGRAM_SERVICE_UNIX_SERVER, p);
    s->path = path;
    s->mode = mode;
}

void coil_unix_datagram_client_init(coil_datagram_service *s, coil_reactor *r, const char *path,
                                    const char *bind_path, coil_datagram_protocol *p)
{
    init(s, r, COIL_DATAGRAM_SERVICE_UNIX_CLIENT, p);
    s->path = path;
    s->bind_path = bind_path;
}
