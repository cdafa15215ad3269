/* SPDX-License-Identifier: MIT */
/*
 * Datagram ports from endpoint descriptions: "udp:PORT:interface=ADDR"
 * listens with coil_listen_udp(), a "unix:" server description with
 * coil_listen_unix_datagram(). Stream endpoint objects do not apply
 * (a datagram port has a protocol, not a factory), so this is a function
 * rather than an endpoint type.
 */
#include <errno.h>
#include <stdio.h>

#include <coil/coil.h>

int coil_datagram_listen_desc(coil_reactor *r, const coil_server_desc *d, coil_datagram_protocol *p,
                              coil_datagram_port **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!r || !d || !p || !out)
        return -EINVAL;
    int rc;
    char where[COIL_ADDRESS_STRLEN + 8];
    if (d->kind == COIL_SERVER_UDP) {
        coil_address a;
        if (coil_address_from_ip(&a, d->u.udp.interface, d->u.udp.port) < 0)
            return coil_endpoint_errorf(err, errlen,
                                        "udp: invalid interface '%s' (must be an IP address)",
                                        d->u.udp.interface);
        coil_address_format(&a, where, sizeof(where));
        rc = coil_listen_udp(r, &a, p, out);
    } else if (d->kind == COIL_SERVER_UNIX) {
        snprintf(where, sizeof(where), "unix:%s", d->u.un.address);
        rc = coil_listen_unix_datagram(r, d->u.un.address, d->u.un.mode, p, out);
    } else {
        return coil_endpoint_errorf(err, errlen, "%s: not a datagram endpoint type (udp or unix)",
                                    d->type);
    }
    if (rc < 0 && err && errlen)
        snprintf(err, errlen, "Couldn't listen on %s: %s.", where, coil_strerror(rc));
    return rc;
}

int coil_datagram_listen_string(coil_reactor *r, const char *desc, coil_datagram_protocol *p,
                                coil_datagram_port **out, char *err, size_t errlen)
{
    coil_server_desc *d = NULL;
    int rc = coil_server_desc_parse(desc, &d, err, errlen);
    if (rc < 0)
        return rc;
    rc = coil_datagram_listen_desc(r, d, p, out, err, errlen);
    coil_server_desc_free(d);
    return rc;
}
