/* SPDX-License-Identifier: MIT */
/*
 * PROXY protocol parser tests: the vectors of Twisted 22.4's
 * test_v1parser.py / test_v2parser.py / test_wrapper.py (adapted where coil
 * validates more, see docs/PROXY.md), the bytes haproxy 2.6 sends, and the
 * properties of an incremental parser: every prefix of a valid header is
 * INCOMPLETE, invalid input is rejected at the first byte that makes it
 * invalid, and application data after the header is never consumed.
 *
 * The parser is always handed an exact-size heap copy of its input, so
 * AddressSanitizer reports any read past `len`.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <coil/address.h>
#include <coil/error.h>
#include <coil/proxy_protocol.h>

/* ---- Helpers -------------------------------------------------------------- */

#define SIG "\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A"
#define LOCALHOST4 "\x7F\x00\x00\x01"
#define LOCALHOST6 "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
#define PORTS_8080_8888 "\x1F\x90\x22\xB8"
/* Length of a string literal, which may contain NULs. */
#define L(s) (sizeof(s) - 1)

/* The copy the last parse() ran on: info->tlv points into it. */
static uint8_t *copy;

static int parse(const void *data, size_t len, coil_proxy_info *info)
{
    free(copy);
    copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, data, len);
    int r = coil_proxy_parse(copy, len, info);
    if (r == COIL_EPROXY)
        assert_non_null(info->error);
    else
        assert_null(info->error);
    return r;
}

static int teardown(void **state)
{
    (void)state;
    free(copy);
    copy = NULL;
    return 0;
}

/* Parse a complete header and check the whole buffer is consumed. */
static void parse_ok(const void *data, size_t len, coil_proxy_info *info)
{
    int r = parse(data, len, info);
    if (r < 0)
        fail_msg("rejected (%d): %s", r, info->error ? info->error : "incomplete");
    assert_int_equal(r, (int)len);
}

static void assert_addr(const coil_address *a, const char *expected)
{
    char text[COIL_ADDRESS_STRLEN];
    assert_true(coil_address_format(a, text, sizeof(text)) > 0);
    assert_string_equal(text, expected);
}

/* Every proper prefix of data[0..len) is a valid beginning. */
static void assert_prefixes_incomplete(const void *data, size_t len)
{
    coil_proxy_info info;
    for (size_t k = 0; k < len; k++) {
        int r = parse(data, k, &info);
        if (r != COIL_PROXY_INCOMPLETE)
            fail_msg("prefix of %zu/%zu bytes gave %d (%s)", k, len, r,
                     info.error ? info.error : "-");
    }
}

/* The first `at` bytes are already invalid, the first `at - 1` are not, and
 * the verdict stays an error whatever follows (up to the full input). */
static void assert_rejected_at(const void *data, size_t len, size_t at, const char *reason)
{
    coil_proxy_info info;
    assert_true(at >= 1 && at <= len);
    assert_prefixes_incomplete(data, at - 1);
    for (size_t k = at; k <= len; k++) {
        int r = parse(data, k, &info);
        if (r != COIL_EPROXY)
            fail_msg("prefix of %zu bytes gave %d, expected a rejection from %zu on", k, r, at);
        if (reason && !strstr(info.error, reason))
            fail_msg("reason \"%s\" does not mention \"%s\"", info.error, reason);
    }
}

/* Shorthand for a NUL-terminated v1 line. */
static void assert_v1_rejected(const char *line, const char *reason)
{
    coil_proxy_info info;
    assert_int_equal(parse(line, strlen(line), &info), COIL_EPROXY);
    if (reason && !strstr(info.error, reason))
        fail_msg("\"%s\": reason \"%s\" does not mention \"%s\"", line, info.error, reason);
}

static void assert_v1_accepted(const char *line)
{
    coil_proxy_info info;
    parse_ok(line, strlen(line), &info);
    assert_prefixes_incomplete(line, strlen(line));
}

/* ---- v1: Twisted's vectors ------------------------------------------------ */

/* haproxy 2.6 `send-proxy` in front of a local server. */
static void test_v1_haproxy_tcp4(void **state)
{
    (void)state;
    static const char line[] = "PROXY TCP4 127.0.0.1 127.0.0.1 40500 18084\r\n";
    coil_proxy_info info;
    parse_ok(line, L(line), &info);
    assert_int_equal(L(line), 44);
    assert_int_equal(info.version, 1);
    assert_int_equal(info.command, COIL_PROXY_PROXY);
    assert_int_equal(info.family, AF_INET);
    assert_int_equal(info.socktype, SOCK_STREAM);
    assert_addr(&info.source, "127.0.0.1:40500");
    assert_addr(&info.destination, "127.0.0.1:18084");
    assert_int_equal(info.source.len, sizeof(struct sockaddr_in));
    assert_null(info.tlv);
    assert_int_equal(info.tlv_len, 0);
    assert_prefixes_incomplete(line, L(line));
}

/* test_v1parser.test_fullParsingSuccess */
static void test_v1_full_parsing_success(void **state)
{
    (void)state;
    static const char line[] = "PROXY TCP4 127.0.0.1 127.0.0.1 8080 8888\r\n";
    coil_proxy_info info;
    parse_ok(line, L(line), &info);
    assert_addr(&info.source, "127.0.0.1:8080");
    assert_addr(&info.destination, "127.0.0.1:8888");
}

/* test_v1parser.test_fullParsingSuccess_IPv6 */
static void test_v1_full_parsing_success_ipv6(void **state)
{
    (void)state;
    static const char line[] = "PROXY TCP6 ::1 ::1 8080 8888\r\n";
    coil_proxy_info info;
    parse_ok(line, L(line), &info);
    assert_int_equal(info.family, AF_INET6);
    assert_int_equal(info.socktype, SOCK_STREAM);
    assert_addr(&info.source, "[::1]:8080");
    assert_addr(&info.destination, "[::1]:8888");
    assert_int_equal(info.source.len, sizeof(struct sockaddr_in6));
    assert_prefixes_incomplete(line, L(line));
}

/* test_v1parser.test_invalidHeaderTag: rejected at the first byte. */
static void test_v1_invalid_header_tag(void **state)
{
    (void)state;
    static const char line[] = "NOTPROXY anything can go here\r\n";
    assert_rejected_at(line, L(line), 1, "not a PROXY protocol header");
    static const char close[] = "PROXZ TCP4\r\n";
    assert_rejected_at(close, L(close), 5, "not a PROXY protocol header");
    static const char nospace[] = "PROXYTCP4\r\n";
    assert_rejected_at(nospace, L(nospace), 6, "not a PROXY protocol header");
}

/* test_v1parser.test_invalidNetworkProtocol */
static void test_v1_invalid_network_protocol(void **state)
{
    (void)state;
    static const char line[] = "PROXY WUTPROTO \r\n";
    assert_rejected_at(line, L(line), 7, "unknown protocol");
    static const char tcp5[] = "PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n";
    assert_rejected_at(tcp5, L(tcp5), 10, "unknown protocol");
    static const char udp4[] = "PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n";
    assert_rejected_at(udp4, L(udp4), 8, "unknown protocol");
    /* Case-sensitive, as the spec and Twisted. */
    assert_v1_rejected("proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n", "not a PROXY");
    assert_v1_rejected("PROXY tcp4 1.2.3.4 1.2.3.4 1 2\r\n", "unknown protocol");
    /* A separator is required after TCP4. */
    assert_v1_rejected("PROXY TCP4\r\n", "unknown protocol");
}

/* test_v1parser.test_missingSourceData / test_missingDestData */
static void test_v1_missing_address_data(void **state)
{
    (void)state;
    assert_v1_rejected("PROXY TCP4 \r\n", "missing address or port");
    /* Twisted: MissingAddressData; here "8080" is seen not to be an IPv4
     * address at its second '0' already. */
    static const char noaddr[] = "PROXY TCP4 127.0.0.1 8080 8888\r\n";
    assert_rejected_at(noaddr, L(noaddr), 25, "invalid destination address");
    assert_v1_rejected("PROXY TCP4 127.0.0.1 127.0.0.1 8080\r\n", "missing address or port");
    assert_v1_rejected("PROXY TCP4 127.0.0.1 127.0.0.1\r\n", "missing address or port");
    assert_v1_rejected("PROXY TCP6 ::1\r\n", "missing address or port");
    /* Double spaces make empty fields (Twisted: errors too). */
    assert_v1_rejected("PROXY TCP4  127.0.0.1 127.0.0.1 1 2\r\n", "missing address or port");
    assert_v1_rejected("PROXY TCP4 127.0.0.1  127.0.0.1 1 2\r\n", "missing address or port");
    assert_v1_rejected("PROXY TCP4 127.0.0.1 127.0.0.1  1 2\r\n", "missing address or port");
    assert_v1_rejected("PROXY TCP4 127.0.0.1 127.0.0.1 1  2\r\n", "missing address or port");
}

/* test_v1parser.test_feedParsing / test_feedParsingOverflow: the bytes after
 * the CRLF belong to the application. */
static void test_v1_trailing_data_not_consumed(void **state)
{
    (void)state;
    static const char data[] = "PROXY TCP4 127.0.0.1 127.0.0.1 8080 8888\r\nHTTP/1.1 GET /\r\n";
    coil_proxy_info info;
    int r = parse(data, L(data), &info);
    assert_int_equal(r, L("PROXY TCP4 127.0.0.1 127.0.0.1 8080 8888\r\n"));
    assert_memory_equal(data + r, "HTTP/1.1 GET /\r\n", L(data) - (size_t)r);
    assert_addr(&info.source, "127.0.0.1:8080");
    /* Even application data that looks like another header. */
    static const char twice[] = "PROXY UNKNOWN\r\nPROXY UNKNOWN\r\n";
    assert_int_equal(parse(twice, L(twice), &info), 15);
}

/* test_wrapper.test_invalidHeaderDisconnects (a short address list). */
static void test_v1_wrapper_short_line(void **state)
{
    (void)state;
    assert_v1_rejected("PROXY TCP4 1.1.1.1\r\n", "missing address or port");
}

/* ---- v1: coil's decisions ------------------------------------------------- */

/* The spec allows "PROXY UNKNOWN\r\n"; Twisted wants a space after UNKNOWN. */
static void test_v1_unknown(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "PROXY UNKNOWN\r\n",
        "PROXY UNKNOWN \r\n",
        "PROXY UNKNOWN anything could go here\r\n",
        "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
        "PROXY UNKNOWN \x01\x7f\xff\t\"\r\n", /* ignored, whatever it is */
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        coil_proxy_info info;
        parse_ok(ok[i], strlen(ok[i]), &info);
        assert_int_equal(info.version, 1);
        assert_int_equal(info.command, COIL_PROXY_PROXY);
        assert_int_equal(info.family, AF_UNSPEC);
        assert_int_equal(info.socktype, 0);
        assert_int_equal(info.source.len, 0);
        assert_int_equal(info.destination.len, 0);
        assert_prefixes_incomplete(ok[i], strlen(ok[i]));
    }
}

static void test_v1_unknown_malformed(void **state)
{
    (void)state;
    static const char word[] = "PROXY UNKNOWNX\r\n";
    assert_rejected_at(word, L(word), 14, "unexpected data after UNKNOWN");
    assert_v1_rejected("PROXY UNKNOWN\n", "unexpected data after UNKNOWN");
    assert_v1_rejected("PROXY UNKNOWN\rX", "unexpected data after UNKNOWN");
    assert_v1_rejected("PROXY UNKNOWN a\rb\r\n", "unexpected data after UNKNOWN");
    static const char lf[] = "PROXY UNKNOWN a\nb\r\n";
    assert_rejected_at(lf, L(lf), 16, "LF without CR");
}

/* Twisted accepts any text as an address; coil uses inet_pton for the
 * declared family and rejects as soon as the text cannot become one. */
static void test_v1_invalid_addresses(void **state)
{
    (void)state;
    static const char foo[] = "PROXY TCP4 foo bar 1 2\r\n";
    assert_rejected_at(foo, L(foo), 12, "invalid source address");
    static const char octet[] = "PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\n";
    assert_rejected_at(octet, L(octet), 20, "invalid source address");
    static const char five[] = "PROXY TCP4 1.2.3.4 1.2.3.4.5 1 2\r\n";
    assert_rejected_at(five, L(five), 27, "invalid destination address");
    static const char v4in6[] = "PROXY TCP6 1.2.3.4 ::1 1 2\r\n";
    assert_rejected_at(v4in6, L(v4in6), 13, "invalid source address");
    static const char v6in4[] = "PROXY TCP4 ::1 ::1 1 2\r\n";
    assert_rejected_at(v6in4, L(v6in4), 12, "invalid source address");
    static const char group[] = "PROXY TCP6 ::12345 ::1 1 2\r\n";
    assert_rejected_at(group, L(group), 18, "invalid source address");
    static const char nine[] = "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n";
    assert_rejected_at(nine, L(nine), 27, "invalid source address");
    static const char dcolon[] = "PROXY TCP6 1::2::3 ::1 1 2\r\n";
    assert_rejected_at(dcolon, L(dcolon), 17, "invalid source address");
    /* Too short: only decidable at the space. */
    static const char three[] = "PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n";
    assert_rejected_at(three, L(three), 17, "invalid source address");
    assert_v1_rejected("PROXY TCP4 01.2.3.4 1.2.3.4 1 2\r\n", "invalid source address");
    assert_v1_rejected("PROXY TCP4 1.2.3.4 localhost 1 2\r\n", "invalid destination address");
    assert_v1_rejected("PROXY TCP6 fe80::1%lo ::1 1 2\r\n", "invalid source address");
    assert_v1_rejected("PROXY TCP6 [::1] ::1 1 2\r\n", "invalid source address");
    assert_v1_rejected("PROXY TCP4 1.2.3.4\t1.2.3.4 1 2\r\n", "invalid source address");
}

/* Ports: 1 to 5 digits, 0..65535; Twisted int()s them (99999 accepted,
 * "x" raises ValueError outside InvalidProxyHeader). */
static void test_v1_ports(void **state)
{
    (void)state;
    coil_proxy_info info;
    static const char zero[] = "PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n";
    parse_ok(zero, L(zero), &info);
    assert_addr(&info.source, "1.2.3.4:0");
    assert_addr(&info.destination, "5.6.7.8:65535");
    static const char padded[] = "PROXY TCP4 1.2.3.4 5.6.7.8 08080 00001\r\n";
    parse_ok(padded, L(padded), &info);
    assert_addr(&info.source, "1.2.3.4:8080");
    assert_addr(&info.destination, "5.6.7.8:1");

    static const char big[] = "PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n";
    assert_rejected_at(big, L(big), 32, "invalid source port");
    static const char over[] = "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n";
    assert_rejected_at(over, L(over), 34, "invalid destination port");
    static const char six[] = "PROXY TCP4 1.2.3.4 5.6.7.8 000080 1\r\n";
    assert_rejected_at(six, L(six), 33, "invalid source port");
    assert_v1_rejected("PROXY TCP4 1.2.3.4 5.6.7.8 +80 1\r\n", "invalid source port");
    assert_v1_rejected("PROXY TCP4 1.2.3.4 5.6.7.8 -1 1\r\n", "invalid source port");
    assert_v1_rejected("PROXY TCP4 1.2.3.4 5.6.7.8 0x50 1\r\n", "invalid source port");
    assert_v1_rejected("PROXY TCP4 1.2.3.4 5.6.7.8 http 1\r\n", "invalid source port");
    assert_v1_rejected("PROXY TCP4 1.2.3.4 5.6.7.8 80 +1\r\n", "invalid destination port");
    assert_v1_rejected("PROXY TCP4 1.2.3.4 5.6.7.8 80 1x\r\n", "invalid destination port");
}

/* Twisted ignores whatever follows the destination port; the spec has
 * nothing there, so coil refuses it. */
static void test_v1_extra_data_rejected(void **state)
{
    (void)state;
    static const char extra[] = "PROXY TCP4 1.2.3.4 5.6.7.8 8080 8888 extra\r\n";
    assert_rejected_at(extra, L(extra), 37, "unexpected data after the destination port");
    assert_v1_rejected("PROXY TCP4 1.2.3.4 5.6.7.8 8080 8888 \r\n", "unexpected data");
}

static void test_v1_line_end(void **state)
{
    (void)state;
    static const char cr[] = "PROXY TCP4 1.2.3.4 5.6.7.8 8080 8888\rX";
    assert_rejected_at(cr, L(cr), L(cr), "CR without LF");
    assert_v1_rejected("PROXY TCP4 1.2.3.4 5.6.7.8 8080 8888\n", "LF without CR");
    assert_v1_rejected("PROXY TCP4 1.2.3.4\n", "LF without CR");
    assert_v1_rejected("PROXY TCP4 1.2.3.4 5.6.7.8 8080 8888\r\r\n", "CR without LF");
}

/* 107 bytes, CRLF included, is the spec's maximum. */
static void test_v1_length_limit(void **state)
{
    (void)state;
    char line[200];
    coil_proxy_info info;

    /* An UNKNOWN line of exactly 107 bytes is accepted... */
    memset(line, 'x', sizeof(line));
    memcpy(line, "PROXY UNKNOWN ", 14);
    memcpy(line + 105, "\r\n", 2);
    parse_ok(line, 107, &info);
    assert_prefixes_incomplete(line, 107);

    /* ...one of 108 is rejected once 107 bytes arrived without the LF. */
    memset(line, 'x', sizeof(line));
    memcpy(line, "PROXY UNKNOWN ", 14);
    memcpy(line + 106, "\r\n", 2);
    assert_rejected_at(line, 108, 107, "no CRLF within 107 bytes");

    /* Endless UNKNOWN junk: decided at byte 107, not later. */
    memset(line, 'x', sizeof(line));
    memcpy(line, "PROXY UNKNOWN ", 14);
    assert_rejected_at(line, sizeof(line), 107, "no CRLF within 107 bytes");

    /* The longest possible TCP6 line (104 bytes) fits. */
    static const char longest[] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                                  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert_int_equal(L(longest), 104);
    assert_v1_accepted(longest);

    /* Two 45-character addresses are valid text but the line is 116 bytes. */
    static const char mapped[] = "PROXY TCP6 0000:0000:0000:0000:0000:ffff:255.255.255.255 "
                                 "0000:0000:0000:0000:0000:ffff:255.255.255.255 65535 65535\r\n";
    assert_rejected_at(mapped, L(mapped), 107, "no CRLF within 107 bytes");
}

/* Addresses in every textual form inet_pton accepts, and every prefix of
 * them, must be waited for, never rejected early. */
static void test_v1_ipv6_forms(void **state)
{
    (void)state;
    static const char *const addrs[] = {
        "::",
        "::1",
        "1::",
        "1::8",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7::",
        "::2:3:4:5:6:7:8",
        "1:2:3::6:7:8",
        "0:0:0:0:0:0:0:1",
        "0000:0000:0000:0000:0000:0000:0000:0001",
        "2001:DB8::CAFE",
        "2001:db8:0:0:1:0:0:1",
        "fe80::abcd:ef01",
        "::ffff:10.0.0.1",
        "::10.0.0.1",
        "::0.0.0.0",
        "1:2:3:4:5:6:1.2.3.4",
        "1::255.255.255.255",
        "0000:0000:0000:0000:0000:ffff:255.255.255.255",
    };
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        char line[COIL_PROXY_V1_MAX_HEADER + 1];
        coil_proxy_info info;
        int n = snprintf(line, sizeof(line), "PROXY TCP6 %s ::1 1 65535\r\n", addrs[i]);
        parse_ok(line, (size_t)n, &info);
        struct in6_addr expected;
        assert_int_equal(inet_pton(AF_INET6, addrs[i], &expected), 1);
        assert_memory_equal(&info.source.u.in6.sin6_addr, &expected, sizeof(expected));
        assert_prefixes_incomplete(line, (size_t)n);
        n = snprintf(line, sizeof(line), "PROXY TCP6 ::1 %s 1 65535\r\n", addrs[i]);
        parse_ok(line, (size_t)n, &info);
        assert_prefixes_incomplete(line, (size_t)n);
    }
}

/* The same over random addresses written compressed (inet_ntop, which also
 * yields "::ffff:a.b.c.d"), in full, and with a dotted tail. */
static void test_v1_random_addresses(void **state)
{
    (void)state;
    srand(4);
    for (int i = 0; i < 1500; i++) {
        uint8_t a[16];
        for (int j = 0; j < 16; j++)
            a[j] = (rand() % 3 == 0) ? (uint8_t)rand() : 0; /* zero runs get "::" */
        if (i % 10 == 0)
            memcpy(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12); /* v4-mapped */
        char text[INET6_ADDRSTRLEN];
        switch (i % 3) {
        case 0:
            inet_ntop(AF_INET6, a, text, sizeof(text));
            break;
        case 1:
            snprintf(text, sizeof(text), "%x:%x:%x:%x:%x:%x:%x:%x", a[0] << 8 | a[1],
                     a[2] << 8 | a[3], a[4] << 8 | a[5], a[6] << 8 | a[7], a[8] << 8 | a[9],
                     a[10] << 8 | a[11], a[12] << 8 | a[13], a[14] << 8 | a[15]);
            break;
        default:
            snprintf(text, sizeof(text), "%x:%x:%x:%x:%x:%x:%u.%u.%u.%u", a[0] << 8 | a[1],
                     a[2] << 8 | a[3], a[4] << 8 | a[5], a[6] << 8 | a[7], a[8] << 8 | a[9],
                     a[10] << 8 | a[11], a[12], a[13], a[14], a[15]);
        }
        char line[COIL_PROXY_V1_MAX_HEADER + 1];
        int n = snprintf(line, sizeof(line), "PROXY TCP6 %s ::1 %d 80\r\n", text, i);
        coil_proxy_info info;
        parse_ok(line, (size_t)n, &info);
        assert_memory_equal(&info.source.u.in6.sin6_addr, a, 16);
        assert_int_equal(coil_address_port(&info.source), i);
        assert_prefixes_incomplete(line, (size_t)n);

        /* IPv4 too. */
        n = snprintf(line, sizeof(line), "PROXY TCP4 %u.%u.%u.%u %u.%u.%u.%u %d 80\r\n", a[12],
                     a[13], a[14], a[15], a[0], a[15], a[1], a[14], i);
        parse_ok(line, (size_t)n, &info);
        assert_memory_equal(&info.source.u.in4.sin_addr, a + 12, 4);
        assert_prefixes_incomplete(line, (size_t)n);
    }
}

/* IPv4 extremes; inet_pton refuses leading zeros ("01") and short forms. */
static void test_v1_ipv4_forms(void **state)
{
    (void)state;
    assert_v1_accepted("PROXY TCP4 0.0.0.0 255.255.255.255 0 0\r\n");
    assert_v1_accepted("PROXY TCP4 255.255.255.255 0.0.0.0 65535 65535\r\n");
    assert_v1_accepted("PROXY TCP4 10.0.0.1 192.168.100.200 1 22\r\n");
    static const char zero[] = "PROXY TCP4 1.2.3.00 1.2.3.4 1 2\r\n";
    assert_rejected_at(zero, L(zero), 19, "invalid source address");
    static const char dots[] = "PROXY TCP4 1..2.3 1.2.3.4 1 2\r\n";
    assert_rejected_at(dots, L(dots), 14, "invalid source address");
    static const char lead[] = "PROXY TCP4 .1.2.3 1.2.3.4 1 2\r\n";
    assert_rejected_at(lead, L(lead), 12, "invalid source address");
    static const char tail[] = "PROXY TCP4 1.2.3.4. 1.2.3.4 1 2\r\n";
    assert_rejected_at(tail, L(tail), 19, "invalid source address");
}

/* ---- v2: Twisted's vectors ------------------------------------------------ */

static const char v2_ipv4[] = SIG "\x21\x11\x00\x0C" LOCALHOST4 LOCALHOST4 PORTS_8080_8888;
static const char v2_ipv6[] = SIG "\x21\x21\x00\x24" LOCALHOST6 LOCALHOST6 PORTS_8080_8888;

/* sig + \x21\x31\x00\xD8 + "/home/tests/mysockets/sock" NUL-padded to 108, twice. */
static size_t v2_unix(uint8_t *buf, const char *src, size_t src_len, const char *dst,
                      size_t dst_len)
{
    memcpy(buf, SIG "\x21\x31\x00\xD8", 16);
    memset(buf + 16, 0, 216);
    memcpy(buf + 16, src, src_len);
    memcpy(buf + 16 + 108, dst, dst_len);
    return 16 + 216;
}

/* test_v2parser.test_validIPv4Header */
static void test_v2_ipv4(void **state)
{
    (void)state;
    coil_proxy_info info;
    parse_ok(v2_ipv4, L(v2_ipv4), &info);
    assert_int_equal(L(v2_ipv4), 28);
    assert_int_equal(info.version, 2);
    assert_int_equal(info.command, COIL_PROXY_PROXY);
    assert_int_equal(info.family, AF_INET);
    assert_int_equal(info.socktype, SOCK_STREAM);
    assert_addr(&info.source, "127.0.0.1:8080");
    assert_addr(&info.destination, "127.0.0.1:8888");
    assert_null(info.tlv);
    assert_int_equal(info.tlv_len, 0);
    assert_prefixes_incomplete(v2_ipv4, L(v2_ipv4));
}

/* haproxy 2.6 `send-proxy-v2`, TCP over IPv4, no TLV. */
static void test_v2_haproxy_ipv4(void **state)
{
    (void)state;
    static const char hdr[] = SIG "\x21\x11\x00\x0c"
                                  "\x7f\x00\x00\x01"
                                  "\x7f\x00\x00\x01"
                                  "\x9e\x34\x46\xa4"
                                  "GET / HTTP/1.0\r\n\r\n";
    coil_proxy_info info;
    assert_int_equal(parse(hdr, L(hdr), &info), 28);
    assert_addr(&info.source, "127.0.0.1:40500");
    assert_addr(&info.destination, "127.0.0.1:18084");
    assert_prefixes_incomplete(hdr, 28);
}

/* haproxy 2.6 `send-proxy-v2`, TCP over IPv6 (2001:db8::1:40500 to
 * 2001:db8::2:443). */
static void test_v2_haproxy_ipv6(void **state)
{
    (void)state;
    static const char hdr[] = SIG "\x21\x21\x00\x24"
                                  "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
                                  "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02"
                                  "\x9e\x34\x01\xbb";
    coil_proxy_info info;
    parse_ok(hdr, L(hdr), &info);
    assert_addr(&info.source, "[2001:db8::1]:40500");
    assert_addr(&info.destination, "[2001:db8::2]:443");
    assert_prefixes_incomplete(hdr, L(hdr));
}

/* test_v2parser.test_validIPv6Header */
static void test_v2_ipv6(void **state)
{
    (void)state;
    coil_proxy_info info;
    parse_ok(v2_ipv6, L(v2_ipv6), &info);
    assert_int_equal(L(v2_ipv6), 52);
    assert_int_equal(info.family, AF_INET6);
    assert_int_equal(info.socktype, SOCK_STREAM);
    assert_addr(&info.source, "[::1]:8080");
    assert_addr(&info.destination, "[::1]:8888");
    assert_prefixes_incomplete(v2_ipv6, L(v2_ipv6));
}

/* test_v2parser.test_validUNIXHeader */
static void test_v2_unix(void **state)
{
    (void)state;
    static const char path[] = "/home/tests/mysockets/sock";
    uint8_t hdr[232];
    size_t n = v2_unix(hdr, path, L(path), path, L(path));
    coil_proxy_info info;
    parse_ok(hdr, n, &info);
    assert_int_equal(info.family, AF_UNIX);
    assert_int_equal(info.socktype, SOCK_STREAM);
    assert_addr(&info.source, "unix:/home/tests/mysockets/sock");
    assert_addr(&info.destination, "unix:/home/tests/mysockets/sock");
    /* As the kernel would report it: path and its NUL. */
    assert_int_equal(info.source.len, offsetof(struct sockaddr_un, sun_path) + L(path) + 1);
    coil_address expected;
    assert_int_equal(coil_address_from_unix(&expected, path), 0);
    assert_true(coil_address_equal(&info.source, &expected));
    assert_prefixes_incomplete(hdr, n);
}

/* Linux abstract names (leading NUL), unnamed sockets and a path filling all
 * 108 bytes. */
static void test_v2_unix_edge_cases(void **state)
{
    (void)state;
    uint8_t hdr[232];
    char full[108];
    memset(full, 'p', sizeof(full));
    full[0] = '/';
    size_t n = v2_unix(hdr, "\0coil-abstract", 14, full, sizeof(full));
    coil_proxy_info info;
    parse_ok(hdr, n, &info);
    assert_addr(&info.source, "unix:@coil-abstract");
    coil_address expected;
    assert_int_equal(coil_address_from_unix(&expected, "@coil-abstract"), 0);
    assert_true(coil_address_equal(&info.source, &expected));
    assert_int_equal(info.source.len, expected.len);
    assert_int_equal(info.destination.len, offsetof(struct sockaddr_un, sun_path) + 108);
    assert_memory_equal(info.destination.u.un.sun_path, full, 108);

    n = v2_unix(hdr, "", 0, "/x", 2);
    parse_ok(hdr, n, &info);
    assert_int_equal(coil_address_family(&info.source), AF_UNIX);
    assert_addr(&info.source, "unix:<unnamed>");
    assert_addr(&info.destination, "unix:/x");
}

/* test_v2parser.test_localCommandIpv4 / test_localCommandIpv6 /
 * test_localCommandUnix: LOCAL ignores the addresses. */
static void test_v2_local(void **state)
{
    (void)state;
    static const char bare[] = SIG "\x20\x00\x00\x00";
    coil_proxy_info info;
    parse_ok(bare, L(bare), &info);
    assert_int_equal(info.version, 2);
    assert_int_equal(info.command, COIL_PROXY_LOCAL);
    assert_int_equal(info.family, AF_UNSPEC);
    assert_int_equal(info.socktype, 0);
    assert_int_equal(info.source.len, 0);
    assert_int_equal(info.destination.len, 0);
    assert_prefixes_incomplete(bare, L(bare));

    static const char with4[] = SIG "\x20\x11\x00\x0C" LOCALHOST4 LOCALHOST4 PORTS_8080_8888;
    parse_ok(with4, L(with4), &info);
    assert_int_equal(info.command, COIL_PROXY_LOCAL);
    assert_int_equal(info.family, AF_UNSPEC);
    assert_int_equal(info.source.len, 0);
    assert_int_equal(info.tlv_len, 0);
    static const char with6[] = SIG "\x20\x21\x00\x24" LOCALHOST6 LOCALHOST6 PORTS_8080_8888;
    parse_ok(with6, L(with6), &info);
    assert_int_equal(info.family, AF_UNSPEC);

    /* "discard the protocol block": a LOCAL block shorter than its family
     * needs is not an error. */
    static const char short4[] = SIG "\x20\x11\x00\x00";
    parse_ok(short4, L(short4), &info);
    assert_int_equal(info.command, COIL_PROXY_LOCAL);
}

/* test_v2parser.test_unspecFamily / test_unspecProtocol: UNSPEC in either
 * nibble means "ignore the addresses". */
static void test_v2_unspec(void **state)
{
    (void)state;
    static const uint8_t fam_proto[] = {0x00, 0x01, 0x02, 0x10, 0x20, 0x30};
    for (size_t i = 0; i < sizeof(fam_proto); i++) {
        uint8_t hdr[] = SIG "\x21\x00\x00\x0C" LOCALHOST4 LOCALHOST4 PORTS_8080_8888;
        hdr[13] = fam_proto[i];
        coil_proxy_info info;
        parse_ok(hdr, sizeof(hdr) - 1, &info);
        assert_int_equal(info.command, COIL_PROXY_PROXY);
        assert_int_equal(info.family, AF_UNSPEC);
        assert_int_equal(info.socktype, 0);
        assert_int_equal(info.source.len, 0);
        assert_int_equal(info.destination.len, 0);
    }
    /* UNSPEC with an empty block is fine too. */
    static const char empty[] = SIG "\x21\x10\x00\x00";
    coil_proxy_info info;
    parse_ok(empty, L(empty), &info);
    assert_int_equal(info.family, AF_UNSPEC);
}

static void test_v2_dgram(void **state)
{
    (void)state;
    static const char udp4[] = SIG "\x21\x12\x00\x0C" LOCALHOST4 LOCALHOST4 PORTS_8080_8888;
    coil_proxy_info info;
    parse_ok(udp4, L(udp4), &info);
    assert_int_equal(info.family, AF_INET);
    assert_int_equal(info.socktype, SOCK_DGRAM);
    static const char udp6[] = SIG "\x21\x22\x00\x24" LOCALHOST6 LOCALHOST6 PORTS_8080_8888;
    parse_ok(udp6, L(udp6), &info);
    assert_int_equal(info.family, AF_INET6);
    assert_int_equal(info.socktype, SOCK_DGRAM);
    uint8_t hdr[232];
    size_t n = v2_unix(hdr, "/a", 2, "/b", 2);
    hdr[13] = 0x32;
    parse_ok(hdr, n, &info);
    assert_int_equal(info.family, AF_UNIX);
    assert_int_equal(info.socktype, SOCK_DGRAM);
}

/* test_v2parser.test_invalidSignature: rejected at the first wrong byte. */
static void test_v2_invalid_signature(void **state)
{
    (void)state;
    uint8_t zeros[28] = {0};
    assert_rejected_at(zeros, sizeof(zeros), 1, "not a PROXY protocol header");
    uint8_t hdr[28];
    memcpy(hdr, v2_ipv4, sizeof(hdr));
    hdr[11] = 'X';
    assert_rejected_at(hdr, sizeof(hdr), 12, "not a PROXY protocol header");
    memcpy(hdr, v2_ipv4, sizeof(hdr));
    hdr[4] = 'X';
    assert_rejected_at(hdr, sizeof(hdr), 5, "not a PROXY protocol header");
}

/* test_v2parser.test_invalidVersion / test_invalidCommand: decided at 13. */
static void test_v2_invalid_version_command(void **state)
{
    (void)state;
    static const struct {
        uint8_t byte;
        const char *reason;
    } cases[] = {{0x11, "unsupported version"}, {0x31, "unsupported version"},
                 {0x01, "unsupported version"}, {0x23, "unknown command"},
                 {0x22, "unknown command"},     {0x2F, "unknown command"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t hdr[28];
        memcpy(hdr, v2_ipv4, sizeof(hdr));
        hdr[12] = cases[i].byte;
        assert_rejected_at(hdr, sizeof(hdr), 13, cases[i].reason);
    }
}

/* test_v2parser.test_invalidFamily / test_invalidProto: decided at 14. */
static void test_v2_invalid_family_protocol(void **state)
{
    (void)state;
    static const struct {
        uint8_t byte;
        const char *reason;
    } cases[] = {{0x40, "unknown address family"},     {0xF1, "unknown address family"},
                 {0x41, "unknown address family"},     {0x24, "unknown transport protocol"},
                 {0x13, "unknown transport protocol"}, {0x0F, "unknown transport protocol"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t hdr[28];
        memcpy(hdr, v2_ipv4, sizeof(hdr));
        hdr[13] = cases[i].byte;
        assert_rejected_at(hdr, sizeof(hdr), 14, cases[i].reason);
        hdr[12] = 0x20; /* LOCAL does not excuse unknown values */
        assert_rejected_at(hdr, sizeof(hdr), 14, cases[i].reason);
    }
}

/* test_v2parser.test_missingAddressData: known once the length arrives. */
static void test_v2_short_address_block(void **state)
{
    (void)state;
    static const char v4[] = SIG "\x21\x11\x00\x08" LOCALHOST4 LOCALHOST4 PORTS_8080_8888;
    assert_rejected_at(v4, L(v4), 16, "address block shorter");
    static const char v6[] = SIG "\x21\x21\x00\x23" LOCALHOST6 LOCALHOST6 PORTS_8080_8888;
    assert_rejected_at(v6, L(v6), 16, "address block shorter");
    static const char v6as4[] = SIG "\x21\x21\x00\x0C" LOCALHOST4 LOCALHOST4 PORTS_8080_8888;
    assert_rejected_at(v6as4, L(v6as4), 16, "address block shorter");
    uint8_t un[232];
    size_t n = v2_unix(un, "/a", 2, "/b", 2);
    un[15] = 0xD7;
    assert_rejected_at(un, n, 16, "address block shorter");
    un[14] = 0;
    un[15] = 0;
    assert_rejected_at(un, n, 16, "address block shorter");
}

/* coil caps v2 headers at COIL_PROXY_V2_MAX_HEADER (Twisted: 16 + 65535). */
static void test_v2_oversized(void **state)
{
    (void)state;
    static const char huge[] = SIG "\x21\x11\xFF\xFF" LOCALHOST4 LOCALHOST4 PORTS_8080_8888;
    assert_rejected_at(huge, L(huge), 16, "larger than 4096 bytes");
    /* 16 + 4081 = 4097 */
    static const char over[] = SIG "\x21\x11\x0F\xF1" LOCALHOST4 LOCALHOST4 PORTS_8080_8888;
    assert_rejected_at(over, L(over), 16, "larger than 4096 bytes");

    /* Exactly the limit: 12 address bytes and one NOOP TLV of 4065 bytes. */
    size_t total = COIL_PROXY_V2_MAX_HEADER;
    uint8_t *hdr = calloc(1, total + 5);
    assert_non_null(hdr);
    memcpy(hdr, v2_ipv4, 28);
    hdr[14] = (uint8_t)((total - 16) >> 8);
    hdr[15] = (uint8_t)(total - 16);
    size_t tlv = total - 28 - 3;
    hdr[28] = COIL_PROXY_TLV_NOOP;
    hdr[29] = (uint8_t)(tlv >> 8);
    hdr[30] = (uint8_t)tlv;
    memcpy(hdr + total, "hello", 5);
    coil_proxy_info info;
    assert_int_equal(parse(hdr, total + 5, &info), (int)total);
    assert_int_equal(info.tlv_len, total - 28);
    assert_ptr_equal(info.tlv, copy + 28);
    size_t off = 0;
    coil_proxy_tlv t;
    assert_int_equal(coil_proxy_tlv_next(&info, &off, &t), 1);
    assert_int_equal(t.type, COIL_PROXY_TLV_NOOP);
    assert_int_equal(t.len, tlv);
    assert_int_equal(coil_proxy_tlv_next(&info, &off, &t), 0);
    /* Waiting for a big announced header is INCOMPLETE, not an error. */
    assert_int_equal(parse(hdr, total - 1, &info), COIL_PROXY_INCOMPLETE);
    assert_int_equal(parse(hdr, 17, &info), COIL_PROXY_INCOMPLETE);
    free(hdr);
}

/* Every value of the length field of an IPv4 header: too short for the
 * block and above the limit are rejected at byte 16, the rest waits for
 * exactly that many bytes. */
static void test_v2_length_field_sweep(void **state)
{
    (void)state;
    uint8_t *hdr = calloc(1, 16 + 65535);
    assert_non_null(hdr);
    memcpy(hdr, v2_ipv4, 28);
    for (size_t body = 0; body <= 65535; body++) {
        hdr[14] = (uint8_t)(body >> 8);
        hdr[15] = (uint8_t)body;
        coil_proxy_info info;
        int at16 = coil_proxy_parse(hdr, 16, &info);
        if (body < 12 || 16 + body > COIL_PROXY_V2_MAX_HEADER) {
            assert_int_equal(at16, COIL_EPROXY);
            continue;
        }
        assert_int_equal(at16, body == 0 ? 16 : COIL_PROXY_INCOMPLETE);
        assert_int_equal(coil_proxy_parse(hdr, 16 + body - 1, &info), COIL_PROXY_INCOMPLETE);
        assert_int_equal(coil_proxy_parse(hdr, 16 + body, &info), (int)(16 + body));
        assert_int_equal(info.tlv_len, body - 12);
    }
    free(hdr);
}

/* A header as haproxy 2.6 builds it with ALPN, authority and unique-id
 * TLVs: passed through untouched, the application data after them too. */
static void test_v2_tlvs(void **state)
{
    (void)state;
    /* clang-format off */
    static const char hdr[] = SIG "\x21\x11\x00\x29"
        LOCALHOST4 LOCALHOST4 PORTS_8080_8888
        "\x01\x00\x02" "h2"          /* ALPN */
        "\x02\x00\x0B" "example.com" /* authority */
        "\x05\x00\x04" "id-1"        /* unique id */
        "\xEE\x00\x00"               /* unknown type, empty */
        "app data";
    /* clang-format on */
    static const size_t header_len = 16 + 0x29;
    coil_proxy_info info;
    assert_int_equal(parse(hdr, L(hdr), &info), header_len);
    assert_memory_equal(copy + header_len, "app data", 8);
    assert_int_equal(info.tlv_len, 0x29 - 12);
    assert_ptr_equal(info.tlv, copy + 28);
    assert_addr(&info.source, "127.0.0.1:8080");

    static const struct {
        uint8_t type;
        const char *value;
    } expected[] = {{COIL_PROXY_TLV_ALPN, "h2"},
                    {COIL_PROXY_TLV_AUTHORITY, "example.com"},
                    {COIL_PROXY_TLV_UNIQUE_ID, "id-1"},
                    {0xEE, ""}};
    size_t off = 0;
    coil_proxy_tlv t;
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        assert_int_equal(coil_proxy_tlv_next(&info, &off, &t), 1);
        assert_int_equal(t.type, expected[i].type);
        assert_int_equal(t.len, strlen(expected[i].value));
        assert_memory_equal(t.value, expected[i].value, t.len);
    }
    assert_int_equal(coil_proxy_tlv_next(&info, &off, &t), 0);
    assert_int_equal(coil_proxy_tlv_next(&info, &off, &t), 0);
    assert_prefixes_incomplete(hdr, header_len);

    /* IPv6 and UNIX blocks are skipped the same way. */
    /* clang-format off */
    static const char six[] = SIG "\x21\x21\x00\x29"
        LOCALHOST6 LOCALHOST6 PORTS_8080_8888
        "\x04\x00\x02" "xy";         /* NOOP */
    /* clang-format on */
    parse_ok(six, L(six), &info);
    assert_int_equal(info.tlv_len, 5);
    assert_memory_equal(info.tlv, "\x04\x00\x02xy", 5);
    uint8_t un[240];
    size_t n = v2_unix(un, "/a", 2, "/b", 2);
    un[15] = 0xD8 + 4;
    memcpy(un + n, "\x04\x00\x01z", 4);
    parse_ok(un, n + 4, &info);
    assert_int_equal(info.tlv_len, 4);
    assert_prefixes_incomplete(un, n + 4);
}

/* haproxy health checks: LOCAL, UNSPEC, TLVs straight after byte 16. */
static void test_v2_local_with_tlvs(void **state)
{
    (void)state;
    static const char hdr[] = SIG "\x20\x00\x00\x07"
                                  "\x05\x00\x04"
                                  "id-2";
    coil_proxy_info info;
    parse_ok(hdr, L(hdr), &info);
    assert_int_equal(info.command, COIL_PROXY_LOCAL);
    assert_int_equal(info.family, AF_UNSPEC);
    assert_int_equal(info.tlv_len, 7);
    size_t off = 0;
    coil_proxy_tlv t;
    assert_int_equal(coil_proxy_tlv_next(&info, &off, &t), 1);
    assert_int_equal(t.type, COIL_PROXY_TLV_UNIQUE_ID);
    assert_memory_equal(t.value, "id-2", 4);
    assert_int_equal(coil_proxy_tlv_next(&info, &off, &t), 0);
    assert_prefixes_incomplete(hdr, L(hdr));
}

/* TLV framing is the iterator's business: the header itself is fine. */
static void test_v2_malformed_tlvs(void **state)
{
    (void)state;
    /* clang-format off */
    static const char overrun[] = SIG "\x21\x11\x00\x13"
        LOCALHOST4 LOCALHOST4 PORTS_8080_8888
        "\x02\x00\x09" "abcd";       /* 9 announced, 4 present */
    /* clang-format on */
    coil_proxy_info info;
    parse_ok(overrun, L(overrun), &info);
    size_t off = 0;
    coil_proxy_tlv t;
    assert_int_equal(coil_proxy_tlv_next(&info, &off, &t), COIL_EPROXY);
    assert_int_equal(off, 0);

    /* clang-format off */
    static const char stub[] = SIG "\x21\x11\x00\x11"
        LOCALHOST4 LOCALHOST4 PORTS_8080_8888
        "\x04\x00\x00"               /* empty NOOP */
        "\x04\x00";                   /* two bytes of a record header */
    /* clang-format on */
    parse_ok(stub, L(stub), &info);
    off = 0;
    assert_int_equal(coil_proxy_tlv_next(&info, &off, &t), 1);
    assert_int_equal(t.len, 0);
    assert_int_equal(coil_proxy_tlv_next(&info, &off, &t), COIL_EPROXY);

    coil_proxy_info v1;
    parse_ok("PROXY UNKNOWN\r\n", 15, &v1);
    off = 0;
    assert_int_equal(coil_proxy_tlv_next(&v1, &off, &t), 0);
}

/* The iterator never reads outside the area, whatever the offset. */
static void test_tlv_next_offsets(void **state)
{
    (void)state;
    static const char hdr[] = SIG "\x20\x00\x00\x05"
                                  "\x04\x00\x02"
                                  "ab";
    coil_proxy_info info;
    parse_ok(hdr, L(hdr), &info);
    coil_proxy_tlv t;
    for (size_t start = 0; start <= 10; start++) {
        size_t off = start;
        int r = coil_proxy_tlv_next(&info, &off, &t);
        if (start == 0)
            assert_int_equal(r, 1);
        else if (start >= 5)
            assert_int_equal(r, 0);
        else
            assert_int_equal(r, COIL_EPROXY); /* mid-record: garbage framing */
    }
}

static void test_v2_trailing_data_not_consumed(void **state)
{
    (void)state;
    static const char data[] = SIG "\x21\x11\x00\x0C" LOCALHOST4 LOCALHOST4 PORTS_8080_8888
                                   "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r\n" SIG;
    coil_proxy_info info;
    int r = parse(data, L(data), &info);
    assert_int_equal(r, 28);
    assert_memory_equal(copy + r, "PROXY TCP4", 10);
}

/* test_v2parser.test_shortHeader: Twisted rejects fewer than 16 bytes; coil
 * waits while they are a valid beginning. */
static void test_v2_short_input(void **state)
{
    (void)state;
    static const char nmd[] = "NEEDMOREDATA";
    assert_rejected_at(nmd, L(nmd), 1, "not a PROXY protocol header");
    coil_proxy_info info;
    for (size_t k = 0; k < 16; k++)
        assert_int_equal(parse(v2_ipv4, k, &info), COIL_PROXY_INCOMPLETE);
}

/* ---- Both versions -------------------------------------------------------- */

static void test_empty_input(void **state)
{
    (void)state;
    coil_proxy_info info;
    assert_int_equal(coil_proxy_parse(NULL, 0, &info), COIL_PROXY_INCOMPLETE);
    assert_null(info.error);
    assert_int_equal(COIL_PROXY_INCOMPLETE, -EAGAIN);
}

/* No byte other than 'P' (v1) and CR (v2) can start a header. */
static void test_first_byte_decides(void **state)
{
    (void)state;
    for (int b = 0; b < 256; b++) {
        uint8_t byte = (uint8_t)b;
        coil_proxy_info info;
        int r = parse(&byte, 1, &info);
        if (b == 'P' || b == '\r')
            assert_int_equal(r, COIL_PROXY_INCOMPLETE);
        else
            assert_int_equal(r, COIL_EPROXY);
    }
}

/* Clients that speak first without a proxy in front are refused at once. */
static void test_other_protocols_rejected_early(void **state)
{
    (void)state;
    static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_rejected_at(http, L(http), 1, NULL);
    static const char post[] = "POST / HTTP/1.1\r\n";
    assert_rejected_at(post, L(post), 2, NULL);
    static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    assert_rejected_at(tls, L(tls), 1, NULL);
    static const char ssh[] = "SSH-2.0-OpenSSH_9.2\r\n";
    assert_rejected_at(ssh, L(ssh), 1, NULL);
    static const char crlf[] = "\r\n\r\nGET";
    assert_rejected_at(crlf, L(crlf), 5, NULL);
}

/* `out` is fully reset on every call; error is NULL unless rejected. */
static void test_out_is_reset(void **state)
{
    (void)state;
    coil_proxy_info info;
    memset(&info, 0xA5, sizeof(info));
    assert_int_equal(parse("PROXY TCP4 1.2", 14, &info), COIL_PROXY_INCOMPLETE);
    assert_null(info.error);
    assert_null(info.tlv);
    memset(&info, 0xA5, sizeof(info));
    parse_ok(v2_ipv4, L(v2_ipv4), &info);
    assert_null(info.error);
    assert_null(info.tlv);
    assert_int_equal(info.tlv_len, 0);
    assert_int_equal(parse("x", 1, &info), COIL_EPROXY);
    assert_string_equal(info.error, "not a PROXY protocol header");
}

/* A stream reader appends reads to one buffer and calls again after each:
 * whatever the split, the answer is the one-shot answer. */
static void test_any_split_gives_same_result(void **state)
{
    (void)state;
    static const struct {
        const char *data;
        size_t len;
    } inputs[] = {
        {"PROXY TCP4 127.0.0.1 127.0.0.1 40500 18084\r\nabc", 47},
        {"PROXY TCP6 2001:db8::1 ::ffff:1.2.3.4 1 2\r\n", 43},
        {"PROXY UNKNOWN\r\nxyz", 18},
        {v2_ipv4, L(v2_ipv4)},
        {v2_ipv6, L(v2_ipv6)},
        {"PROXY TCP4 1.2.3.4 1.2.3.4 1 99999\r\n", 36},
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        coil_proxy_info whole, part;
        int expected = parse(inputs[i].data, inputs[i].len, &whole);
        coil_address src = whole.source;
        for (size_t split = 1; split < inputs[i].len; split++) {
            /* First read: `split` bytes. Second: the rest. */
            int first = parse(inputs[i].data, split, &part);
            int second = parse(inputs[i].data, inputs[i].len, &part);
            assert_int_equal(second, expected);
            if (expected > 0) {
                assert_true(first == COIL_PROXY_INCOMPLETE || first == expected);
                assert_true(coil_address_equal(&part.source, &src));
            } else {
                assert_true(first == COIL_PROXY_INCOMPLETE || first == COIL_EPROXY);
            }
        }
    }
}

#define T(name) cmocka_unit_test_teardown(name, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_v1_haproxy_tcp4),
        T(test_v1_full_parsing_success),
        T(test_v1_full_parsing_success_ipv6),
        T(test_v1_invalid_header_tag),
        T(test_v1_invalid_network_protocol),
        T(test_v1_missing_address_data),
        T(test_v1_trailing_data_not_consumed),
        T(test_v1_wrapper_short_line),
        T(test_v1_unknown),
        T(test_v1_unknown_malformed),
        T(test_v1_invalid_addresses),
        T(test_v1_ports),
        T(test_v1_extra_data_rejected),
        T(test_v1_line_end),
        T(test_v1_length_limit),
        T(test_v1_ipv4_forms),
        T(test_v1_ipv6_forms),
        T(test_v1_random_addresses),
        T(test_v2_ipv4),
        T(test_v2_haproxy_ipv4),
        T(test_v2_haproxy_ipv6),
        T(test_v2_ipv6),
        T(test_v2_unix),
        T(test_v2_unix_edge_cases),
        T(test_v2_local),
        T(test_v2_unspec),
        T(test_v2_dgram),
        T(test_v2_invalid_signature),
        T(test_v2_invalid_version_command),
        T(test_v2_invalid_family_protocol),
        T(test_v2_short_address_block),
        T(test_v2_oversized),
        T(test_v2_length_field_sweep),
        T(test_v2_tlvs),
        T(test_v2_local_with_tlvs),
        T(test_v2_malformed_tlvs),
        T(test_tlv_next_offsets),
        T(test_v2_trailing_data_not_consumed),
        T(test_v2_short_input),
        T(test_empty_input),
        T(test_first_byte_decides),
        T(test_other_protocols_rejected_early),
        T(test_out_is_reset),
        T(test_any_split_gives_same_result),
    };
    return cmocka_run_group_tests_name("proxy_parser", tests, NULL, NULL);
}
