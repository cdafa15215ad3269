/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for coil_proxy_parse().
 *
 *   clang -g -fsanitize=fuzzer,address,undefined -Icore/include \
 *       endpoints/proxy_parser.c core/address.c tests/fuzz/fuzz_proxy.c -o fuzz_proxy
 *   ./fuzz_proxy tests/fuzz/corpus/proxy
 *
 * Besides memory safety, it checks what an incremental parser promises:
 * - a result never depends on how the bytes were split into reads: a prefix
 *   of the input is INCOMPLETE, or gives the same final answer (a header, or
 *   a rejection) as the whole input;
 * - a rejection is final and an INCOMPLETE prefix is never rejected later
 *   unless the whole input is;
 * - a header's reported fields are consistent with its bytes (v1 ends with
 *   CRLF within 107 bytes, v2 TLVs lie inside the header, addresses match
 *   the family, re-encoding the addresses gives the same addresses).
 * Every prefix is parsed from an exact-size heap copy so that ASan sees any
 * read past the length given.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/address.h>
#include <coil/proxy_protocol.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Prefixes checked one by one: all up to this length, then a few. */
#define ALL_PREFIXES 256

static int parse_copy(const uint8_t *data, size_t len, coil_proxy_info *info, uint8_t **copy)
{
    *copy = malloc(len ? len : 1);
    CHECK(*copy != NULL);
    if (len)
        memcpy(*copy, data, len);
    return coil_proxy_parse(*copy, len, info);
}

/* Same header fields; TLV pointers compared as offsets into their buffers. */
static void check_same(const coil_proxy_info *a, const uint8_t *abuf, const coil_proxy_info *b,
                       const uint8_t *bbuf)
{
    CHECK(a->version == b->version);
    CHECK(a->command == b->command);
    CHECK(a->family == b->family);
    CHECK(a->socktype == b->socktype);
    CHECK(memcmp(&a->source, &b->source, sizeof(a->source)) == 0);
    CHECK(memcmp(&a->destination, &b->destination, sizeof(a->destination)) == 0);
    CHECK(a->tlv_len == b->tlv_len);
    CHECK((a->tlv == NULL) == (b->tlv == NULL));
    if (a->tlv)
        CHECK(a->tlv - abuf == b->tlv - bbuf);
}

/* Walk the TLVs: records stay inside the area and the walk ends. */
static void check_tlvs(const coil_proxy_info *info)
{
    size_t off = 0, steps = 0;
    coil_proxy_tlv t;
    int r;
    while ((r = coil_proxy_tlv_next(info, &off, &t)) == 1) {
        CHECK(t.value >= info->tlv + 3);
        CHECK(t.value + t.len <= info->tlv + info->tlv_len);
        CHECK(off <= info->tlv_len);
        CHECK(++steps <= info->tlv_len / 3);
    }
    CHECK(r == 0 || r == COIL_EPROXY);
}

/* v1 TCP4/TCP6: print the addresses back as a canonical line; it must parse
 * to the same addresses. */
static void check_v1_roundtrip(const coil_proxy_info *info)
{
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], line[160];
    int six = info->family == AF_INET6;
    const void *s = six ? (const void *)&info->source.u.in6.sin6_addr
                        : (const void *)&info->source.u.in4.sin_addr;
    const void *d = six ? (const void *)&info->destination.u.in6.sin6_addr
                        : (const void *)&info->destination.u.in4.sin_addr;
    CHECK(inet_ntop(info->family, s, src, sizeof(src)));
    CHECK(inet_ntop(info->family, d, dst, sizeof(dst)));
    int n = snprintf(line, sizeof(line), "PROXY TCP%c %s %s %u %u\r\n", six ? '6' : '4', src, dst,
                     coil_address_port(&info->source), coil_address_port(&info->destination));
    coil_proxy_info again;
    int r = coil_proxy_parse(line, (size_t)n, &again);
    if (n > COIL_PROXY_V1_MAX_HEADER) { /* canonical text can be longer than the input's */
        CHECK(r == COIL_EPROXY);
        return;
    }
    CHECK(r == n);
    CHECK(coil_address_equal(&again.source, &info->source));
    CHECK(coil_address_equal(&again.destination, &info->destination));
}

/* v2 INET/INET6: re-encode the address block; it must equal the input's. */
static void check_v2_roundtrip(const coil_proxy_info *info, const uint8_t *hdr)
{
    uint8_t block[36];
    size_t n = 0;
    if (info->family == AF_INET) {
        memcpy(block, &info->source.u.in4.sin_addr, 4);
        memcpy(block + 4, &info->destination.u.in4.sin_addr, 4);
        memcpy(block + 8, &info->source.u.in4.sin_port, 2);
        memcpy(block + 10, &info->destination.u.in4.sin_port, 2);
        n = 12;
    } else if (info->family == AF_INET6) {
        memcpy(block, &info->source.u.in6.sin6_addr, 16);
        memcpy(block + 16, &info->destination.u.in6.sin6_addr, 16);
        memcpy(block + 32, &info->source.u.in6.sin6_port, 2);
        memcpy(block + 34, &info->destination.u.in6.sin6_port, 2);
        n = 36;
    }
    CHECK(memcmp(block, hdr + 16, n) == 0);
}

/* What a successful result must look like. */
static void check_header(const uint8_t *buf, int r, const coil_proxy_info *info)
{
    CHECK(info->error == NULL);
    CHECK(info->family == AF_UNSPEC || info->family == AF_INET || info->family == AF_INET6 ||
          info->family == AF_UNIX);
    if (info->family == AF_UNSPEC) {
        CHECK(info->source.len == 0 && info->destination.len == 0);
        CHECK(info->socktype == 0);
    } else {
        CHECK(coil_address_family(&info->source) == info->family);
        CHECK(coil_address_family(&info->destination) == info->family);
        CHECK(info->socktype == SOCK_STREAM || info->socktype == SOCK_DGRAM);
        CHECK(info->command == COIL_PROXY_PROXY);
    }
    char text[COIL_ADDRESS_STRLEN];
    CHECK(coil_address_format(&info->source, text, sizeof(text)) > 0);
    CHECK(coil_address_format(&info->destination, text, sizeof(text)) > 0);

    if (info->version == 1) {
        CHECK(r >= 15 && r <= COIL_PROXY_V1_MAX_HEADER);
        CHECK(memcmp(buf, "PROXY ", 6) == 0);
        CHECK(buf[r - 2] == '\r' && buf[r - 1] == '\n');
        CHECK(memchr(buf, '\n', (size_t)r - 1) == NULL);
        CHECK(info->command == COIL_PROXY_PROXY);
        CHECK(info->tlv == NULL && info->tlv_len == 0);
        CHECK(info->family != AF_UNIX);
        if (info->family != AF_UNSPEC)
            check_v1_roundtrip(info);
        return;
    }
    CHECK(info->version == 2);
    CHECK(r >= 16 && r <= COIL_PROXY_V2_MAX_HEADER);
    CHECK(memcmp(buf, COIL_PROXY_V2_SIGNATURE, COIL_PROXY_V2_SIGNATURE_LEN) == 0);
    CHECK((size_t)r == 16 + ((size_t)buf[14] << 8 | buf[15]));
    if (info->tlv_len) {
        CHECK(info->tlv >= buf + 16);
        CHECK(info->tlv + info->tlv_len == buf + r);
    } else {
        CHECK(info->tlv == NULL);
    }
    check_tlvs(info);
    check_v2_roundtrip(info, buf);
}

/* The prefix data[0..k) against the whole input's result r. */
static void check_prefix(const uint8_t *data, size_t k, int r, const coil_proxy_info *whole,
                         const uint8_t *whole_buf)
{
    coil_proxy_info part;
    uint8_t *copy;
    int rk = parse_copy(data, k, &part, &copy);
    if (r == COIL_PROXY_INCOMPLETE) {
        CHECK(rk == COIL_PROXY_INCOMPLETE); /* no prefix of a valid beginning is rejected */
    } else if (r == COIL_EPROXY) {
        CHECK(rk == COIL_PROXY_INCOMPLETE || rk == COIL_EPROXY);
    } else if (k < (size_t)r) {
        CHECK(rk == COIL_PROXY_INCOMPLETE);
    } else {
        CHECK(rk == r);
        check_same(&part, copy, whole, whole_buf);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    coil_proxy_info whole;
    uint8_t *buf;
    int r = parse_copy(data, size, &whole, &buf);
    CHECK(r > 0 || r == COIL_PROXY_INCOMPLETE || r == COIL_EPROXY);
    if (r == COIL_EPROXY)
        CHECK(whole.error != NULL && whole.error[0] != '\0');
    else
        CHECK(whole.error == NULL);
    if (r > 0) {
        CHECK((size_t)r <= size);
        check_header(buf, r, &whole);
    }
    if (r == COIL_PROXY_INCOMPLETE) /* a stalled peer cannot make us wait forever */
        CHECK(size < COIL_PROXY_V2_MAX_HEADER);

    /* A reader that got the bytes in two reads, split at k, asks twice. */
    size_t all = size < ALL_PREFIXES ? size : ALL_PREFIXES;
    for (size_t k = 0; k < all; k++)
        check_prefix(data, k, r, &whole, buf);
    if (size > ALL_PREFIXES) {
        size_t extra[] = {size / 2, size - 1, r > 0 ? (size_t)r - 1 : 0, r > 0 ? (size_t)r : 0};
        for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
            check_prefix(data, extra[i], r, &whole, buf);
    }
    free(buf);
    return 0;
}
