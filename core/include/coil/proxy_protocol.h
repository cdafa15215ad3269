/* SPDX-License-Identifier: MIT */
/*
 * PROXY protocol header parser, versions 1 (text) and 2 (binary), after
 * haproxy's proxy-protocol.txt. See docs/PROXY.md for the decisions and the
 * differences from Twisted's twisted.protocols.haproxy.
 *
 * The parser is pure: no sockets, no allocation, no state between calls. It
 * is given the bytes received so far on a connection, from the first byte,
 * and says either "here is the header, it is N bytes long", "not enough
 * bytes yet" or "this can never become a valid header". A caller keeps
 * appending received bytes to one buffer and calls it again after each read
 * (picohttpparser style); a header is at most COIL_PROXY_V2_MAX_HEADER bytes,
 * so the re-scan costs little.
 *
 * Rejection is as early as possible: as soon as the bytes seen so far are not
 * the beginning of any valid header, the result is COIL_EPROXY, without
 * waiting for a line end or for the announced length. A result never changes
 * from COIL_EPROXY to anything else when more bytes arrive, and a successful
 * result does not depend on how the bytes were split into reads.
 */
#ifndef COIL_PROXY_PROTOCOL_H
#define COIL_PROXY_PROTOCOL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "error.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* coil_proxy_parse(): the bytes so far are a valid beginning; read more. */
#define COIL_PROXY_INCOMPLETE (-EAGAIN)

/* Longest v1 header, "PROXY ... \r\n" included (the spec's limit). */
#define COIL_PROXY_V1_MAX_HEADER 107
/* Longest v2 header accepted: 16-byte fixed part + address block + TLVs.
 * The wire format allows 16 + 65535; coil rejects larger headers (Twisted
 * has no limit). 4096 leaves ample room for haproxy's TLVs (ALPN, authority,
 * unique id up to 128 bytes, SSL information) and cloud load balancers'. */
#define COIL_PROXY_V2_MAX_HEADER 4096

/* The 12 bytes every v2 header starts with. */
#define COIL_PROXY_V2_SIGNATURE "\r\n\r\n\0\r\nQUIT\n"
#define COIL_PROXY_V2_SIGNATURE_LEN 12

typedef enum coil_proxy_command {
    /* v2 only: the proxy opened the connection itself (a health check).
     * The addresses are those of the socket; no address is reported. */
    COIL_PROXY_LOCAL = 0,
    /* The connection is relayed for a client (every v1 header). */
    COIL_PROXY_PROXY = 1,
} coil_proxy_command;

typedef struct coil_proxy_info {
    int version;                /* 1 or 2 */
    coil_proxy_command command; /* COIL_PROXY_PROXY or COIL_PROXY_LOCAL */
    /* AF_INET, AF_INET6 or AF_UNIX when `source` and `destination` hold the
     * original addresses; AF_UNSPEC when the socket's own addresses apply:
     * v1 UNKNOWN, v2 LOCAL, v2 family or transport UNSPEC. */
    int family;
    /* The spec's "transport protocol": SOCK_STREAM, SOCK_DGRAM, or 0 when
     * family is AF_UNSPEC. v1 TCP4/TCP6 is SOCK_STREAM. */
    int socktype;
    coil_address source;      /* the client, as the proxy saw it */
    coil_address destination; /* the address the client connected to */
    /* v2: the bytes after the address block (type-length-value records),
     * pointing into the caller's buffer; walk them with coil_proxy_tlv_next().
     * NULL and 0 for v1 and when there are none. */
    const uint8_t *tlv;
    size_t tlv_len;
    /* COIL_EPROXY: why, as a static English sentence; otherwise NULL. */
    const char *error;
} coil_proxy_info;

/*
 * Parse the PROXY header at the start of `buf` (the first `len` bytes read
 * from the connection). `out` is always reset first; its fields are
 * meaningful only after a positive result, except `error`.
 *
 * Returns
 *   > 0                    the header's length: application data starts at
 *                          buf + result and must be passed on untouched;
 *   COIL_PROXY_INCOMPLETE  the bytes are a valid beginning of a header (or
 *                          len is 0): call again with more;
 *   COIL_EPROXY            no header can start with these bytes; out->error
 *                          says why. The connection should be closed.
 */
COIL_API int coil_proxy_parse(const void *buf, size_t len, coil_proxy_info *out);

/* v2 TLV types (proxy-protocol.txt section 2.2.x). */
enum {
    COIL_PROXY_TLV_ALPN = 0x01,
    COIL_PROXY_TLV_AUTHORITY = 0x02,
    COIL_PROXY_TLV_CRC32C = 0x03,
    COIL_PROXY_TLV_NOOP = 0x04,
    COIL_PROXY_TLV_UNIQUE_ID = 0x05,
    COIL_PROXY_TLV_SSL = 0x20,
    COIL_PROXY_TLV_NETNS = 0x30,
};

typedef struct coil_proxy_tlv {
    uint8_t type;
    uint16_t len;
    const uint8_t *value; /* `len` bytes inside info->tlv */
} coil_proxy_tlv;

/*
 * Iterate over the TLV records of a parsed v2 header. Start with
 * *offset = 0. Returns 1 and fills *tlv (advancing *offset), 0 after the
 * last record, or COIL_EPROXY if a record runs past the end of the area
 * (coil_proxy_parse() passes TLVs through without checking them).
 */
COIL_API int coil_proxy_tlv_next(const coil_proxy_info *info, size_t *offset, coil_proxy_tlv *tlv);

#ifdef __cplusplus
}
#endif
#endif
