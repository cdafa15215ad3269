/* SPDX-License-Identifier: MIT */
/*
 * Checking a server certificate against an IP address: wolfSSL's
 * wolfSSL_check_domain_name() matches DNS names, so an IP literal is
 * compared here with the iPAddress entries of the subjectAltName (RFC 6125:
 * never with the common name).
 */
#include <arpa/inet.h>
#include <string.h>

#include "tls_conn.h"

bool coil__tls_cert_has_ip(WOLFSSL_X509 *x, const char *ip)
{
    unsigned char want[16];
    int want_len;
    if (inet_pton(AF_INET, ip, want) == 1)
        want_len = 4;
    else if (inet_pton(AF_INET6, ip, want) == 1)
        want_len = 16;
    else
        return false;
    WOLFSSL_GENERAL_NAMES *names =
        wolfSSL_X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    if (!names)
        return false;
    bool found = false;
    int n = wolfSSL_sk_GENERAL_NAME_num(names);
    for (int i = 0; i < n && !found; i++) {
        WOLFSSL_GENERAL_NAME *g = wolfSSL_sk_GENERAL_NAME_value(names, i);
        if (!g || g->type != 7 /* GEN_IPADD */ || !g->d.iPAddress)
            continue;
        const unsigned char *data = wolfSSL_ASN1_STRING_data(g->d.iPAddress);
        int len = wolfSSL_ASN1_STRING_length(g->d.iPAddress);
        found = data && len == want_len && memcmp(data, want, (size_t)want_len) == 0;
    }
    wolfSSL_GENERAL_NAMES_free(names);
    return found;
}
