/* SPDX-License-Identifier: MIT */
/*
 * PROXY protocol v1/v2 header parser (see coil/proxy_protocol.h and
 * docs/PROXY.md).
 *
 * Every call parses from the first byte. Each step either consumes what it
 * expects, or stops with COIL_PROXY_INCOMPLETE when the bytes run out while
 * everything seen so far could still be completed, or with COIL_EPROXY as soon
 * as a byte rules that out.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

#include <coil/proxy_protocol.h>

/* A step succeeded and parsing goes on. Final results are <= 0 or the
 * header length, so a distinct positive value cannot be confused with them:
 * steps never return a length. */
#define STEP_OK 1

_Static_assert(sizeof(((struct sockaddr_un *)0)->sun_path) == 108,
               "PROXY v2 UNIX addresses are 108 bytes, as Linux's sun_path");

static int fail(coil_proxy_info *out, const char *why)
{
    out->error = why;
    return COIL_EPROXY;
}

/* ---- v1: "PROXY TCP4 1.2.3.4 5.6.7.8 1234 80\r\n" ------------------------ */

typedef struct v1_cursor {
    const uint8_t *buf;
    size_t len;  /* bytes we may look at: at most COIL_PROXY_V1_MAX_HEADER */
    size_t pos;  /* next byte to read */
    bool capped; /* len was cut at the limit, so running out is final */
    coil_proxy_info *out;
} v1_cursor;

/* The bytes ran out with everything so far valid: wait for more, unless the
 * line has reached the spec's limit without its CRLF. */
static int v1_starved(v1_cursor *c)
{
    if (c->capped)
        return fail(c->out, "PROXY v1: no CRLF within 107 bytes");
    return COIL_PROXY_INCOMPLETE;
}

/* Consume exactly `text`, comparing as far as the bytes go. */
static int v1_literal(v1_cursor *c, const char *text, const char *why)
{
    for (; *text; text++) {
        if (c->pos == c->len)
            return v1_starved(c);
        if (c->buf[c->pos] != (uint8_t)*text)
            return fail(c->out, why);
        c->pos++;
    }
    return STEP_OK;
}

/* The protocol word and its separator. "UNKNOWN" is matched without the
 * space because "PROXY UNKNOWN\r\n" is valid (the spec lets the sender omit
 * the rest of the line). Case-sensitive, as the spec and Twisted are. */
static int v1_protocol(v1_cursor *c)
{
    static const struct {
        const char *text;
        int family;
    } protocols[] = {{"TCP4 ", AF_INET}, {"TCP6 ", AF_INET6}, {"UNKNOWN", AF_UNSPEC}};
    size_t avail = c->len - c->pos;
    bool could_be = false;
    for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++) {
        size_t n = strlen(protocols[i].text);
        size_t k = avail < n ? avail : n;
        if (memcmp(c->buf + c->pos, protocols[i].text, k) != 0)
            continue;
        if (k == n) {
            c->pos += n;
            c->out->family = protocols[i].family;
            return STEP_OK;
        }
        could_be = true;
    }
    if (could_be)
        return v1_starved(c);
    return fail(c->out, "PROXY v1: unknown protocol (expected TCP4, TCP6 or UNKNOWN)");
}

/* After "UNKNOWN": either CRLF, or a space and anything up to CRLF, which
 * the spec says the receiver must ignore. A lone CR or LF is refused. */
static int v1_unknown_rest(v1_cursor *c)
{
    if (c->pos == c->len)
        return v1_starved(c);
    if (c->buf[c->pos] == ' ') {
        for (c->pos++; c->pos < c->len && c->buf[c->pos] != '\r'; c->pos++) {
            if (c->buf[c->pos] == '\n')
                return fail(c->out, "PROXY v1: LF without CR");
        }
    }
    return v1_literal(c, "\r\n", "PROXY v1: unexpected data after UNKNOWN");
}

/* Longest textual address inet_pton accepts: IPv4 "255.255.255.255";
 * IPv6 six 4-digit groups and a dotted quad (INET6_ADDRSTRLEN - 1). */
#define V1_IPV4_MAX 15
#define V1_IPV6_MAX 45

static bool v1_address_char(int family, uint8_t ch)
{
    if (ch >= '0' && ch <= '9')
        return true;
    if (ch == '.')
        return true; /* IPv6 may end with a dotted quad */
    if (family == AF_INET)
        return false;
    return ch == ':' || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/*
 * Whether some continuation turns `text` (a partial address) into one that
 * inet_pton accepts. Trying these few endings is enough: an IPv4 prefix
 * needs its missing ".0" octets (after a "0" when it ends with a dot); an
 * IPv6 prefix ending in a group is complete as is or with "::", one ending
 * in a single colon needs "0" (then as before) or ":", one inside a final
 * dotted quad is the IPv4 case. Any group or octet that is valid once
 * extended is valid already, so never extending the last one loses nothing.
 * tests/test_proxy_parser.c checks every prefix of tricky addresses.
 */
static bool v1_address_viable(int family, const char *text, size_t n)
{
    static const char *const endings[] = {
        "", "0", ".0", ".0.0", ".0.0.0", "0.0", "0.0.0", "0.0.0.0", ":", "::", "0::",
    };
    char probe[V1_IPV6_MAX + 8 + 1];
    unsigned char bin[sizeof(struct in6_addr)];
    for (size_t i = 0; i < sizeof(endings) / sizeof(endings[0]); i++) {
        size_t k = strlen(endings[i]);
        memcpy(probe, text, n);
        memcpy(probe + n, endings[i], k + 1);
        if (inet_pton(family, probe, bin) == 1)
            return true;
    }
    return false;
}

static void set_ip(coil_address *addr, int family, const void *ip, uint16_t port_be)
{
    memset(addr, 0, sizeof(*addr));
    if (family == AF_INET) {
        addr->u.in4.sin_family = AF_INET;
        memcpy(&addr->u.in4.sin_addr, ip, 4);
        addr->u.in4.sin_port = port_be;
        addr->len = sizeof(addr->u.in4);
    } else {
        addr->u.in6.sin6_family = AF_INET6;
        memcpy(&addr->u.in6.sin6_addr, ip, 16);
        addr->u.in6.sin6_port = port_be;
        addr->len = sizeof(addr->u.in6);
    }
}

/* One address and the space after it, checked with inet_pton for the
 * declared family (Twisted checks nothing: "PROXY TCP4 foo bar 1 2"). The
 * port is filled in later. */
static int v1_address(v1_cursor *c, coil_address *addr, const char *why)
{
    int family = c->out->family;
    size_t max = family == AF_INET ? V1_IPV4_MAX : V1_IPV6_MAX;
    char text[V1_IPV6_MAX + 1];
    size_t n = 0;
    for (; c->pos < c->len && c->buf[c->pos] != ' '; c->pos++) {
        uint8_t ch = c->buf[c->pos];
        if (ch == '\n')
            return fail(c->out, "PROXY v1: LF without CR");
        if (ch == '\r')
            return fail(c->out, "PROXY v1: missing address or port");
        if (!v1_address_char(family, ch) || n == max)
            return fail(c->out, why);
        text[n++] = (char)ch;
    }
    text[n] = '\0';
    if (c->pos == c->len) {
        if (!v1_address_viable(family, text, n))
            return fail(c->out, why);
        return v1_starved(c);
    }
    c->pos++; /* the space */
    unsigned char bin[sizeof(struct in6_addr)];
    if (n == 0)
        return fail(c->out, "PROXY v1: missing address or port");
    if (inet_pton(family, text, bin) != 1)
        return fail(c->out, why);
    set_ip(addr, family, bin, 0);
    return STEP_OK;
}

/* A port: 1 to 5 decimal digits (leading zeros allowed, as haproxy's own
 * receiver does), value 0..65535, then `end`. No sign, no spaces. Twisted
 * takes int(), so accepts "99999" and fails oddly on "x". */
static int v1_port(v1_cursor *c, char end, uint16_t *port_be, const char *why)
{
    uint32_t value = 0;
    size_t digits = 0;
    for (;;) {
        if (c->pos == c->len)
            return v1_starved(c);
        uint8_t ch = c->buf[c->pos++];
        if (ch == (uint8_t)end && digits > 0)
            break;
        if (ch >= '0' && ch <= '9') {
            value = value * 10 + (uint32_t)(ch - '0');
            if (++digits > 5 || value > 65535)
                return fail(c->out, why);
            continue;
        }
        if (ch == '\n')
            return fail(c->out, "PROXY v1: LF without CR");
        if (ch == '\r' || (ch == ' ' && digits == 0)) /* a field is missing or empty */
            return fail(c->out, "PROXY v1: missing address or port");
        if (ch == ' ') /* after the destination port, where Twisted ignores the rest */
            return fail(c->out, "PROXY v1: unexpected data after the destination port");
        return fail(c->out, why);
    }
    *port_be = htons((uint16_t)value);
    return STEP_OK;
}

/* "src dst sport dport\r\n" after "TCP4 " or "TCP6 ". */
static int v1_addresses(v1_cursor *c)
{
    coil_proxy_info *out = c->out;
    uint16_t sport, dport;
    int r;
    if ((r = v1_address(c, &out->source, "PROXY v1: invalid source address")) != STEP_OK ||
        (r = v1_address(c, &out->destination, "PROXY v1: invalid destination address")) !=
            STEP_OK ||
        (r = v1_port(c, ' ', &sport, "PROXY v1: invalid source port")) != STEP_OK ||
        (r = v1_port(c, '\r', &dport, "PROXY v1: invalid destination port")) != STEP_OK ||
        (r = v1_literal(c, "\n", "PROXY v1: CR without LF")) != STEP_OK)
        return r;
    /* Both ports sit at the same offset in sockaddr_in and sockaddr_in6. */
    out->source.u.in4.sin_port = sport;
    out->destination.u.in4.sin_port = dport;
    out->socktype = SOCK_STREAM;
    return STEP_OK;
}

static int parse_v1(const uint8_t *buf, size_t len, coil_proxy_info *out)
{
    v1_cursor c = {
        .buf = buf,
        .len = len < COIL_PROXY_V1_MAX_HEADER ? len : COIL_PROXY_V1_MAX_HEADER,
        .capped = len >= COIL_PROXY_V1_MAX_HEADER,
        .out = out,
    };
    int r = v1_literal(&c, "PROXY ", "not a PROXY protocol header");
    if (r != STEP_OK)
        return r;
    out->version = 1;
    out->command = COIL_PROXY_PROXY;
    if ((r = v1_protocol(&c)) != STEP_OK)
        return r;
    r = out->family == AF_UNSPEC ? v1_unknown_rest(&c) : v1_addresses(&c);
    if (r != STEP_OK)
        return r;
    return (int)c.pos;
}

/* ---- v2: signature, ver/cmd, fam/proto, length, addresses, TLVs ---------- */

#define V2_FIXED 16
#define V2_UNIX_PATH 108

/* Address block size by family nibble: UNSPEC, INET, INET6, UNIX. */
static const size_t v2_block_size[4] = {0, 4 + 4 + 2 + 2, 16 + 16 + 2 + 2, 108 + 108};
static const int v2_family[4] = {AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX};

/* A NUL-padded 108-byte path. Trailing NULs are padding (Twisted strips
 * them too); a leading NUL with a name after it is a Linux abstract name,
 * kept the way coil_address_from_unix() stores one. All NULs: unnamed. */
static void set_unix(coil_address *addr, const uint8_t *path)
{
    size_t n = V2_UNIX_PATH;
    while (n > 0 && path[n - 1] == '\0')
        n--;
    if (n > 0 && path[0] != '\0')
        n = strnlen((const char *)path, n);
    memset(addr, 0, sizeof(*addr));
    addr->u.un.sun_family = AF_UNIX;
    memcpy(addr->u.un.sun_path, path, n);
    addr->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    if (n > 0 && path[0] != '\0' && n < V2_UNIX_PATH)
        addr->len++; /* the terminating NUL, as the kernel counts it */
}

static void v2_addresses(const uint8_t *block, int family, coil_proxy_info *out)
{
    switch (family) {
    case AF_INET: {
        uint16_t sport, dport;
        memcpy(&sport, block + 8, 2);
        memcpy(&dport, block + 10, 2);
        set_ip(&out->source, AF_INET, block, sport);
        set_ip(&out->destination, AF_INET, block + 4, dport);
        break;
    }
    case AF_INET6: {
        uint16_t sport, dport;
        memcpy(&sport, block + 32, 2);
        memcpy(&dport, block + 34, 2);
        set_ip(&out->source, AF_INET6, block, sport);
        set_ip(&out->destination, AF_INET6, block + 16, dport);
        break;
    }
    default:
        set_unix(&out->source, block);
        set_unix(&out->destination, block + V2_UNIX_PATH);
    }
}

static int parse_v2(const uint8_t *buf, size_t len, coil_proxy_info *out)
{
    size_t n = len < COIL_PROXY_V2_SIGNATURE_LEN ? len : COIL_PROXY_V2_SIGNATURE_LEN;
    if (memcmp(buf, COIL_PROXY_V2_SIGNATURE, n) != 0)
        return fail(out, "not a PROXY protocol header");
    /* Check each byte as soon as it is there: a bad version byte is final
     * even if the length bytes have not arrived. */
    if (len <= 12)
        return COIL_PROXY_INCOMPLETE;
    out->version = 2;
    if (buf[12] >> 4 != 2)
        return fail(out, "PROXY v2: unsupported version");
    unsigned command = buf[12] & 0x0f;
    if (command > COIL_PROXY_PROXY)
        return fail(out, "PROXY v2: unknown command");
    if (len <= 13)
        return COIL_PROXY_INCOMPLETE;
    unsigned fam = buf[13] >> 4, proto = buf[13] & 0x0f;
    if (fam > 3)
        return fail(out, "PROXY v2: unknown address family");
    if (proto > 2)
        return fail(out, "PROXY v2: unknown transport protocol");
    if (len < V2_FIXED)
        return COIL_PROXY_INCOMPLETE;

    size_t body = (size_t)buf[14] << 8 | buf[15];
    if (V2_FIXED + body > COIL_PROXY_V2_MAX_HEADER)
        return fail(out, "PROXY v2: header larger than 4096 bytes");
    /* The spec says to ignore the addresses for LOCAL and for an UNSPEC
     * family or transport, so only a relayed connection needs them. */
    bool relayed = command == COIL_PROXY_PROXY && fam != 0 && proto != 0;
    size_t block = v2_block_size[fam];
    if (relayed && body < block)
        return fail(out, "PROXY v2: address block shorter than the address family requires");
    if (len < V2_FIXED + body)
        return COIL_PROXY_INCOMPLETE;

    out->command = (coil_proxy_command)command;
    if (relayed) {
        out->family = v2_family[fam];
        out->socktype = proto == 1 ? SOCK_STREAM : SOCK_DGRAM;
        v2_addresses(buf + V2_FIXED, out->family, out);
    }
    /* TLVs follow the block the family nibble sizes, for LOCAL too: haproxy
     * sends LOCAL/UNSPEC health checks with TLVs right after byte 16. */
    if (body > block) {
        out->tlv = buf + V2_FIXED + block;
        out->tlv_len = body - block;
    }
    return (int)(V2_FIXED + body);
}

/* ---- entry points ----------------------------------------------------- */

int coil_proxy_parse(const void *buf, size_t len, coil_proxy_info *out)
{
    const uint8_t *p = buf;
    memset(out, 0, sizeof(*out));
    if (len == 0)
        return COIL_PROXY_INCOMPLETE;
    /* The first byte decides: 'P' for v1, CR for v2, anything else is not
     * a PROXY header (Twisted waits for 8 or 16 bytes before deciding). */
    if (p[0] == 'P')
        return parse_v1(p, len, out);
    if (p[0] == '\r')
        return parse_v2(p, len, out);
    return fail(out, "not a PROXY protocol header");
}

int coil_proxy_tlv_next(const coil_proxy_info *info, size_t *offset, coil_proxy_tlv *tlv)
{
    if (*offset >= info->tlv_len)
        return 0;
    size_t left = info->tlv_len - *offset;
    const uint8_t *p = info->tlv + *offset;
    if (left < 3)
        return COIL_EPROXY;
    size_t n = (size_t)p[1] << 8 | p[2];
    if (n > left - 3)
        return COIL_EPROXY;
    tlv->type = p[0];
    tlv->len = (uint16_t)n;
    tlv->value = p + 3;
    *offset += 3 + n;
    return 1;
}
