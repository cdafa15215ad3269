/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for address parsing and formatting: the input (up to
 * its first NUL) as an IP literal and as a UNIX path, and the raw bytes as
 * a struct sockaddr of the input's length. Checks: nothing reads past its
 * input (exact-size heap copies), formatting always fits and terminates,
 * and a parsed IP survives a round trip (format the host, parse it again:
 * an equal address, but for the IPv6 scope, which the host text omits).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <coil/address.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_format(const coil_address *a)
{
    char buf[COIL_ADDRESS_STRLEN];
    int n = coil_address_format(a, buf, sizeof(buf));
    if (n >= 0)
        CHECK(memchr(buf, 0, sizeof(buf)));
    char small[8];
    n = coil_address_format(a, small, sizeof(small)); /* too small: error or truncated, never past */
    if (n >= 0)
        CHECK(memchr(small, 0, sizeof(small)));
    char host[COIL_ADDRESS_STRLEN];
    if (coil_address_host(a, host, sizeof(host)) >= 0)
        CHECK(memchr(host, 0, sizeof(host)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len = size;
    const uint8_t *nul = memchr(data, 0, size);
    if (nul)
        len = (size_t)(nul - data);
    char *text = malloc(len + 1);
    CHECK(text);
    memcpy(text, data, len);
    text[len] = '\0';
    uint16_t port = size >= 2 ? (uint16_t)(data[size - 2] << 8 | data[size - 1]) : 0;

    coil_address a;
    if (coil_address_from_ip(&a, text, port) == 0) {
        int fam = coil_address_family(&a);
        CHECK(fam == AF_INET || fam == AF_INET6);
        CHECK(coil_address_port(&a) == port);
        check_format(&a);
        char host[COIL_ADDRESS_STRLEN];
        CHECK(coil_address_host(&a, host, sizeof(host)) >= 0);
        /* The host text has no IPv6 scope ("%eth0"): compare without. */
        coil_address b;
        CHECK(coil_address_from_ip(&b, host, port) == 0);
        if (fam == AF_INET6)
            b.u.in6.sin6_scope_id = a.u.in6.sin6_scope_id;
        CHECK(coil_address_equal(&a, &b));
    }
    if (coil_address_from_unix(&a, text) == 0) {
        CHECK(coil_address_family(&a) == AF_UNIX);
        check_format(&a);
    }
    /* Raw bytes as a socket address of exactly this length. */
    struct sockaddr *sa = malloc(size ? size : 1);
    CHECK(sa);
    memcpy(sa, data, size);
    if (coil_address_from_sockaddr(&a, sa, (socklen_t)size) == 0)
        check_format(&a);
    free(sa);
    free(text);
    return 0;
}
