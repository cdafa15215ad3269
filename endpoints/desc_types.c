/* SPDX-License-Identifier: MIT */
/*
 * Endpoint types: the built-in parsers (Twisted's _parseTCP, _parseUNIX,
 * _parseSSL, the tcp6, systemd and haproxy plugins, _parseClientTCP,
 * _parseClientUNIX, _parseClientSSL and the tls plugin), the registry of
 * added types, and the dispatcher that picks one by the type prefix.
 * No I/O: files named by ssl/tls arguments are not read here. See
 * docs/ENDPOINTS.md for the defaults and the divergences from Twisted.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <coil/endpoint_desc.h>
#include <coil/error.h>

#include "endpoint_int.h"

#define DEFAULT_BACKLOG 50
#define DEFAULT_TIMEOUT 30
#define DEFAULT_MODE 0666
/* sun_path without its NUL, as coil_address_from_unix() accepts. */
#define UNIX_PATH_MAX 107
/* Room for a nested description's error before it is prefixed. */
#define NESTED_ERR_MAX 512

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- argument conversions ------------------------------------------------ */

static int no_memory(char *err, size_t n)
{
    coil_endpoint_errorf(err, n, "out of memory");
    return -ENOMEM;
}

/* strdup() without needing POSIX. */
static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    return c ? memcpy(c, s, n) : NULL;
}

/* *out = a copy of v, or of dflt when v is NULL (NULL when both are). */
static int take_str(const char *v, const char *dflt, char **out, char *err, size_t n)
{
    const char *s = v ? v : dflt;
    *out = s ? copy_string(s) : NULL;
    return s && !*out ? no_memory(err, n) : 0;
}

/* An integer argument: dflt when absent, else int(v, base) within [min, max]. */
static int take_int(const char *type, const char *name, const char *v, long long dflt, int base,
                    long long min, long long max, const char *rule, long long *out, char *err,
                    size_t n)
{
    *out = dflt;
    if (!v || coil_endpoint_int(v, base, min, max, out) == 0)
        return 0;
    return coil_endpoint_errorf(err, n, "%s: invalid %s '%s' (%s)", type, name, v, rule);
}

static int take_port(const char *type, const char *v, int min, uint16_t *out, char *err, size_t n)
{
    long long x;
    if (!v)
        return coil_endpoint_errorf(err, n, "%s: missing port", type);
    int rc =
        take_int(type, "port", v, 0, 10, min, 65535,
                 min ? "must be an integer 1-65535" : "must be an integer 0-65535", &x, err, n);
    *out = (uint16_t)x;
    return rc;
}

static int take_backlog(const char *type, const char *v, int *out, char *err, size_t n)
{
    long long x;
    int rc = take_int(type, "backlog", v, DEFAULT_BACKLOG, 10, 1, INT_MAX,
                      "must be a positive integer", &x, err, n);
    *out = (int)x;
    return rc;
}

static int take_timeout(const char *type, const char *v, int *out, char *err, size_t n)
{
    long long x;
    int rc = take_int(type, "timeout", v, DEFAULT_TIMEOUT, 10, 1, INT_MAX,
                      "must be a positive whole number of seconds", &x, err, n);
    *out = (int)x;
    return rc;
}

/* Twisted's bool(int(v)): any integer, non-zero is true. */
static int take_flag(const char *type, const char *name, const char *v, bool dflt, bool *out,
                     char *err, size_t n)
{
    long long x = 0;
    *out = dflt;
    if (!v)
        return 0;
    int rc = coil_endpoint_int(v, 10, LLONG_MIN, LLONG_MAX, &x);
    if (rc == -EINVAL)
        return coil_endpoint_errorf(err, n, "%s: invalid %s '%s' (must be 0 or 1)", type, name, v);
    *out = rc == -ERANGE || x != 0;
    return 0;
}

/* A socket path: required, non-empty, fits sun_path. */
static int take_path(const char *type, const char *name, const char *v, char **out, char *err,
                     size_t n)
{
    if (!v || !*v)
        return coil_endpoint_errorf(err, n, "%s: missing %s", type, name);
    size_t len = strlen(v);
    if (len > UNIX_PATH_MAX)
        return coil_endpoint_errorf(err, n, "%s: %s too long (%zu bytes, at most %d)", type, name,
                                    len, UNIX_PATH_MAX);
    return take_str(v, NULL, out, err, n);
}

static int take_host(const char *type, const char *v, char **out, char *err, size_t n)
{
    if (!v || !*v)
        return coil_endpoint_errorf(err, n, "%s: missing host", type);
    return take_str(v, NULL, out, err, n);
}

/* ---- which parameters were given --------------------------------------- */

/* Remember which of names[0..n) got a value (n <= 32). */
#define RECORD(d, names, n, v) record(&(d)->given_mask, &(d)->given_names, &(d)->given_count, names, n, v)

static void record(uint32_t *mask, const char *const **names_out, size_t *count,
                   const char *const *names, size_t n, const char *const *v)
{
    *mask = 0;
    for (size_t i = 0; i < n && i < 32; i++)
        if (v[i])
            *mask |= 1u << i;
    *names_out = names;
    *count = n;
}

static bool given(uint32_t mask, const char *const *names, size_t count, const char *param)
{
    for (size_t i = 0; param && names && i < count && i < 32; i++)
        if (strcmp(names[i], param) == 0)
            return (mask >> i) & 1u;
    return false;
}

/* ---- server types -------------------------------------------------------- */

static const char *const tcp_names[] = {"port", "interface", "backlog"};
static const char *const tcp6_names[] = {"port", "backlog", "interface"};

/* tcp: port, interface="", backlog=50; tcp6: port, backlog=50,
 * interface="::" (Twisted's tcp6 plugin orders them differently). */
static int server_tcp_any(const coil_endpoint_args *a, coil_server_desc *d, bool v6, char *err,
                          size_t n)
{
    const char *type = v6 ? "tcp6" : "tcp";
    const char *v[3];
    d->kind = v6 ? COIL_SERVER_TCP6 : COIL_SERVER_TCP;
    int rc = coil_endpoint_bind(a, type, v6 ? tcp6_names : tcp_names, 3, 3, v, err, n);
    if (rc < 0)
        return rc;
    RECORD(d, v6 ? tcp6_names : tcp_names, 3, v);
    const char *iface = v[v6 ? 2 : 1], *backlog = v[v6 ? 1 : 2];
    rc = take_port(type, v[0], 0, &d->u.tcp.port, err, n);
    if (rc == 0)
        rc = take_backlog(type, backlog, &d->u.tcp.backlog, err, n);
    if (rc == 0)
        rc = take_str(iface, v6 ? "::" : "", &d->u.tcp.interface, err, n);
    return rc;
}

static int server_tcp(const coil_endpoint_args *a, coil_server_desc *d, char *err, size_t n)
{
    return server_tcp_any(a, d, false, err, n);
}

static int server_tcp6(const coil_endpoint_args *a, coil_server_desc *d, char *err, size_t n)
{
    return server_tcp_any(a, d, true, err, n);
}

static const char *const unix_names[] = {"address", "mode", "backlog", "lockfile"};

/* unix: address, mode=666 (octal), backlog=50, lockfile=1. */
static int server_unix(const coil_endpoint_args *a, coil_server_desc *d, char *err, size_t n)
{
    const char *v[4];
    long long mode = DEFAULT_MODE;
    d->kind = COIL_SERVER_UNIX;
    int rc = coil_endpoint_bind(a, "unix", unix_names, 4, 4, v, err, n);
    if (rc == 0)
        RECORD(d, unix_names, 4, v);
    if (rc == 0)
        rc = take_path("unix", "address", v[0], &d->u.un.address, err, n);
    if (rc == 0)
        rc = take_int("unix", "mode", v[1], DEFAULT_MODE, 8, 0, 07777,
                      "must be an octal number 0-7777", &mode, err, n);
    d->u.un.mode = (unsigned)mode;
    if (rc == 0)
        rc = take_backlog("unix", v[2], &d->u.un.backlog, err, n);
    if (rc == 0)
        rc = take_flag("unix", "lockfile", v[3], true, &d->u.un.lockfile, err, n);
    return rc;
}

static const char *const ssl_names[] = {"port",           "privateKey",   "certKey",
                                        "sslmethod",      "interface",    "backlog",
                                        "extraCertChain", "dhParameters", "handshakeTimeout"};

/* ssl: port, privateKey="server.pem", certKey=privateKey, sslmethod,
 * interface="", backlog=50, extraCertChain, dhParameters, and (keyword
 * only, coil's) handshakeTimeout. Only parsed:
 * the TLS layer reads and checks the files. */
static int server_ssl(const coil_endpoint_args *a, coil_server_desc *d, char *err, size_t n)
{
    const char *v[9];
    d->kind = COIL_SERVER_SSL;
    int rc = coil_endpoint_bind(a, "ssl", ssl_names, 9, 8, v, err, n);
    if (rc == 0)
        RECORD(d, ssl_names, 9, v);
    long long hs = 0;
    if (rc == 0)
        rc = take_int("ssl", "handshakeTimeout", v[8], 0, 10, 1, INT_MAX,
                      "must be a positive whole number of seconds", &hs, err, n);
    d->u.ssl.handshake_timeout = (int)hs;
    if (rc == 0)
        rc = take_port("ssl", v[0], 0, &d->u.ssl.port, err, n);
    if (rc == 0)
        rc = take_backlog("ssl", v[5], &d->u.ssl.backlog, err, n);
    const char *key = v[1] ? v[1] : "server.pem";
    struct {
        const char *value, *dflt;
        char **out;
    } strs[] = {
        {key, NULL, &d->u.ssl.private_key},       {v[2], key, &d->u.ssl.cert_key},
        {v[3], NULL, &d->u.ssl.method},           {v[4], "", &d->u.ssl.interface},
        {v[6], NULL, &d->u.ssl.extra_cert_chain}, {v[7], NULL, &d->u.ssl.dh_parameters},
    };
    for (size_t i = 0; rc == 0 && i < COUNT(strs); i++)
        rc = take_str(strs[i].value, strs[i].dflt, strs[i].out, err, n);
    return rc;
}

static int systemd_family(const char *domain, int *family)
{
    static const struct {
        const char *name;
        int family;
    } domains[] = {{"INET", AF_INET}, {"INET6", AF_INET6}, {"UNIX", AF_UNIX}};
    for (size_t i = 0; i < COUNT(domains); i++) {
        if (strcmp(domain, domains[i].name) == 0) {
            *family = domains[i].family;
            return 0;
        }
    }
    return -1;
}

static const char *const systemd_names[] = {"domain", "index", "name"};

/* systemd: domain (INET, INET6 or UNIX), then exactly one of index (into
 * the passed sockets) or name (in LISTEN_FDNAMES). */
static int server_systemd(const coil_endpoint_args *a, coil_server_desc *d, char *err, size_t n)
{
    const char *v[3];
    long long index;
    d->kind = COIL_SERVER_SYSTEMD;
    int rc = coil_endpoint_bind(a, "systemd", systemd_names, 3, 3, v, err, n);
    if (rc < 0)
        return rc;
    RECORD(d, systemd_names, 3, v);
    if (!v[0])
        return coil_endpoint_errorf(err, n, "systemd: missing domain (INET, INET6 or UNIX)");
    if (systemd_family(v[0], &d->u.systemd.family) < 0)
        return coil_endpoint_errorf(
            err, n, "systemd: invalid domain '%s' (must be INET, INET6 or UNIX)", v[0]);
    if (!v[1] == !v[2])
        return coil_endpoint_errorf(err, n, "systemd: specify exactly one of index or name");
    if (v[2] && !*v[2])
        return coil_endpoint_errorf(err, n, "systemd: invalid name '' (must not be empty)");
    rc = take_int("systemd", "index", v[1], -1, 10, 0, INT_MAX, "must be a non-negative integer",
                  &index, err, n);
    d->u.systemd.index = (int)index;
    if (rc == 0)
        rc = take_str(v[2], NULL, &d->u.systemd.name, err, n);
    return rc;
}

/* haproxy: the rest of the description is another server description; the
 * wrapped endpoint speaks the PROXY protocol. */
static int server_haproxy(const coil_endpoint_args *a, coil_server_desc *d, char *err, size_t n)
{
    char sub[NESTED_ERR_MAX] = "";
    d->kind = COIL_SERVER_HAPROXY;
    if (a->nargs == 0)
        return coil_endpoint_errorf(err, n,
                                    "haproxy: missing the wrapped endpoint (e.g. haproxy:tcp:80)");
    d->u.haproxy.description = coil_endpoint_unparse(a);
    if (!d->u.haproxy.description)
        return no_memory(err, n);
    int rc = coil_server_desc_from_args(a, &d->u.haproxy.inner, sub, sizeof(sub));
    if (rc == COIL_EBADDESC)
        coil_endpoint_errorf(err, n, "haproxy: %s", sub);
    else if (rc < 0)
        coil_endpoint_errorf(err, n, "%s", sub);
    return rc;
}

static const char *const udp_names[] = {"port", "interface"};

/* udp: port, interface="" (a coil type: Twisted has no datagram endpoints;
 * the arguments are listenUDP's). */
static int server_udp(const coil_endpoint_args *a, coil_server_desc *d, char *err, size_t n)
{
    const char *v[2];
    d->kind = COIL_SERVER_UDP;
    int rc = coil_endpoint_bind(a, "udp", udp_names, 2, 2, v, err, n);
    if (rc == 0)
        rc = take_port("udp", v[0], 0, &d->u.udp.port, err, n);
    if (rc == 0)
        rc = take_str(v[1], "", &d->u.udp.interface, err, n);
    return rc;
}

/* ---- client types -------------------------------------------------------- */

static const char *const tcp_client_names[] = {"host",    "port",       "timeout",    "bindAddress",
                                               "certKey", "privateKey", "caCertsDir", "hostname"};

/* Twisted's _parseClientTCP: host and port may be positional; when only
 * one positional is given along with host=, it is the port. */
static int bind_host_port(const coil_endpoint_args *a, const char *type, size_t nnames,
                          const char **v, char *err, size_t n)
{
    const char *names[COUNT(tcp_client_names)];
    memcpy(names, tcp_client_names, sizeof(names));
    bool port_first = a->nargs == 1 && coil_endpoint_args_get(a, "host");
    if (port_first) {
        names[0] = "port";
        names[1] = "host";
    }
    int rc = coil_endpoint_bind(a, type, names, nnames, 2, v, err, n);
    if (port_first) {
        const char *t = v[0];
        v[0] = v[1];
        v[1] = t;
    }
    return rc;
}

/* tcp: host, port, timeout=30, bindAddress. */
static int client_tcp(const coil_endpoint_args *a, coil_client_desc *d, char *err, size_t n)
{
    const char *v[4];
    d->kind = COIL_CLIENT_TCP;
    int rc = bind_host_port(a, "tcp", 4, v, err, n);
    if (rc == 0)
        RECORD(d, tcp_client_names, 4, v);
    if (rc == 0)
        rc = take_host("tcp", v[0], &d->u.tcp.host, err, n);
    if (rc == 0)
        rc = take_port("tcp", v[1], 1, &d->u.tcp.port, err, n);
    if (rc == 0)
        rc = take_timeout("tcp", v[2], &d->u.tcp.timeout, err, n);
    if (rc == 0)
        rc = take_str(v[3], NULL, &d->u.tcp.bind_address, err, n);
    return rc;
}

/* ssl: the tcp arguments, then certKey, privateKey, caCertsDir, hostname. */
static int client_ssl(const coil_endpoint_args *a, coil_client_desc *d, char *err, size_t n)
{
    const char *v[8];
    d->kind = COIL_CLIENT_SSL;
    int rc = bind_host_port(a, "ssl", 8, v, err, n);
    if (rc == 0)
        RECORD(d, tcp_client_names, 8, v);
    if (rc == 0)
        rc = take_host("ssl", v[0], &d->u.ssl.host, err, n);
    if (rc == 0)
        rc = take_port("ssl", v[1], 1, &d->u.ssl.port, err, n);
    if (rc == 0)
        rc = take_timeout("ssl", v[2], &d->u.ssl.timeout, err, n);
    char **strs[] = {&d->u.ssl.bind_address, &d->u.ssl.cert_key, &d->u.ssl.private_key,
                     &d->u.ssl.ca_certs_dir, &d->u.ssl.hostname};
    for (size_t i = 0; rc == 0 && i < COUNT(strs); i++)
        rc = take_str(v[3 + i], NULL, strs[i], err, n);
    return rc;
}

static const char *const unix_client_names[] = {"path", "timeout", "checkPID", "lockfile"};

/* unix: path, timeout=30, lockfile=0 (checkPID= is accepted as its alias). */
static int client_unix(const coil_endpoint_args *a, coil_client_desc *d, char *err, size_t n)
{
    const char *v[4];
    d->kind = COIL_CLIENT_UNIX;
    int rc = coil_endpoint_bind(a, "unix", unix_client_names, 4, 1, v, err, n);
    if (rc < 0)
        return rc;
    RECORD(d, unix_client_names, 4, v);
    if (v[2] && v[3])
        return coil_endpoint_errorf(
            err, n, "unix: argument 'lockfile' given twice (checkPID is its alias)");
    rc = take_path("unix", "path", v[0], &d->u.un.path, err, n);
    if (rc == 0)
        rc = take_timeout("unix", v[1], &d->u.un.timeout, err, n);
    if (rc == 0)
        rc = take_flag("unix", v[2] ? "checkPID" : "lockfile", v[2] ? v[2] : v[3], false,
                       &d->u.un.check_pid, err, n);
    return rc;
}

/* tls endpoint=: another client description to connect through. */
static int client_tls_inner(const char *endpoint, coil_client_desc *d, char *err, size_t n)
{
    char sub[NESTED_ERR_MAX] = "";
    int rc = take_str(endpoint, NULL, &d->u.tls.endpoint, err, n);
    if (rc < 0 || !endpoint)
        return rc;
    rc = coil_client_desc_parse(endpoint, &d->u.tls.inner, sub, sizeof(sub));
    if (rc == COIL_EBADDESC)
        coil_endpoint_errorf(err, n, "tls: endpoint: %s", sub);
    else if (rc < 0)
        coil_endpoint_errorf(err, n, "%s", sub);
    return rc;
}

static const char *const tls_names[] = {"host",        "port",       "timeout",    "bindAddress",
                                        "certificate", "privateKey", "trustRoots", "endpoint"};

/* tls: host, port, timeout=30, bindAddress, certificate, privateKey,
 * trustRoots, endpoint (host and port are required even with endpoint=:
 * host is then only the name to verify). */
static int client_tls(const coil_endpoint_args *a, coil_client_desc *d, char *err, size_t n)
{
    const char *v[8];
    d->kind = COIL_CLIENT_TLS;
    int rc = coil_endpoint_bind(a, "tls", tls_names, 8, 8, v, err, n);
    if (rc == 0)
        RECORD(d, tls_names, 8, v);
    if (rc == 0)
        rc = take_host("tls", v[0], &d->u.tls.host, err, n);
    if (rc == 0)
        rc = take_port("tls", v[1], 1, &d->u.tls.port, err, n);
    if (rc == 0)
        rc = take_timeout("tls", v[2], &d->u.tls.timeout, err, n);
    char **strs[] = {&d->u.tls.bind_address, &d->u.tls.certificate, &d->u.tls.private_key,
                     &d->u.tls.trust_roots};
    for (size_t i = 0; rc == 0 && i < COUNT(strs); i++)
        rc = take_str(v[3 + i], NULL, strs[i], err, n);
    if (rc == 0)
        rc = client_tls_inner(v[7], d, err, n);
    return rc;
}

/* ---- the type table and the registry ------------------------------------- */

typedef int (*server_fn)(const coil_endpoint_args *a, coil_server_desc *d, char *err, size_t n);
typedef int (*client_fn)(const coil_endpoint_args *a, coil_client_desc *d, char *err, size_t n);

static const struct builtin {
    const char *name;
    server_fn server;
    client_fn client;
} builtins[] = {
    {"tcp", server_tcp, client_tcp},    {"tcp6", server_tcp6, NULL},
    {"unix", server_unix, client_unix}, {"ssl", server_ssl, client_ssl},
    {"systemd", server_systemd, NULL},  {"haproxy", server_haproxy, NULL},
    {"tls", NULL, client_tls},
    {"udp", server_udp, NULL},
};

/* The one registry: a row per built-in type and per registration, each with
 * its parsers and its endpoint constructors, under one lock, matched with
 * one case folding (same_name). Built-in rows come first and are never
 * removed; their endpoints are built by endpoint.c from the typed
 * description, so their constructor fields stay NULL. */
typedef struct type_row {
    const struct builtin *builtin; /* or NULL: a registration */
    coil_endpoint_type reg;        /* registrations: prefix is an owned copy */
    coil__endpoint_ctors ctors;    /* registrations: from set_constructors */
} type_row;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static type_row *rows; /* built-ins first */
static size_t nrows;

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool same_name(const char *a, const char *b)
{
    for (; *a && ascii_lower((unsigned char)*a) == ascii_lower((unsigned char)*b); a++, b++)
        ;
    return ascii_lower((unsigned char)*a) == ascii_lower((unsigned char)*b);
}

static const char *row_name(const type_row *r)
{
    return r->builtin ? r->builtin->name : r->reg.prefix;
}

static bool row_has(const type_row *r, coil_endpoint_side side)
{
    if (r->builtin)
        return side == COIL_ENDPOINT_SERVER ? r->builtin->server != NULL
                                            : r->builtin->client != NULL;
    return side == COIL_ENDPOINT_SERVER ? r->reg.parse_server != NULL : r->reg.parse_client != NULL;
}

/* The built-in rows of a registry that has none yet (lock held). The
 * static array serves until the first registration grows the table. */
static type_row builtin_rows[COUNT(builtins)];

static void ensure_builtins(void)
{
    if (rows)
        return;
    for (size_t i = 0; i < COUNT(builtins); i++)
        builtin_rows[i] = (type_row){.builtin = &builtins[i]};
    rows = builtin_rows;
    nrows = COUNT(builtins);
}

/* Lock held. */
static type_row *find_row(const char *name, coil_endpoint_side side)
{
    ensure_builtins();
    for (size_t i = 0; i < nrows; i++) {
        if (same_name(row_name(&rows[i]), name) && row_has(&rows[i], side))
            return &rows[i];
    }
    return NULL;
}

/* 1..31 bytes, not all digits (those are bare ports), no separators,
 * escapes, spaces or control characters. */
static bool valid_prefix(const char *p)
{
    size_t len = p ? strlen(p) : 0;
    if (len == 0 || len >= COIL_ENDPOINT_TYPE_MAX || strspn(p, "0123456789") == len)
        return false;
    for (; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c == 0x7f || c == ':' || c == '=' || c == '\\')
            return false;
    }
    return true;
}

/* Whether a row already provides a side `t` provides (lock held). */
static bool conflicts(const coil_endpoint_type *t)
{
    static const coil_endpoint_side sides[] = {COIL_ENDPOINT_SERVER, COIL_ENDPOINT_CLIENT};
    for (size_t i = 0; i < COUNT(sides); i++) {
        type_row probe = {.reg = *t};
        if (row_has(&probe, sides[i]) && find_row(t->prefix, sides[i]))
            return true;
    }
    return false;
}

int coil_endpoint_register(const coil_endpoint_type *type)
{
    if (!type || !valid_prefix(type->prefix) || (!type->parse_server && !type->parse_client))
        return -EINVAL;
    type_row row = {.reg = *type};
    row.reg.prefix = copy_string(type->prefix);
    if (!row.reg.prefix)
        return -ENOMEM;
    int rc = 0;
    pthread_mutex_lock(&registry_lock);
    ensure_builtins();
    if (conflicts(type)) {
        rc = -EEXIST;
    } else {
        type_row *grown = malloc((nrows + 1) * sizeof(*grown));
        if (!grown) {
            rc = -ENOMEM;
        } else {
            memcpy(grown, rows, nrows * sizeof(*rows));
            if (rows != builtin_rows)
                free(rows);
            rows = grown;
            rows[nrows++] = row;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    if (rc < 0)
        free((char *)row.reg.prefix);
    return rc;
}

int coil_endpoint_unregister(const char *prefix)
{
    if (!prefix)
        return -EINVAL;
    size_t kept = 0, before;
    pthread_mutex_lock(&registry_lock);
    ensure_builtins();
    before = nrows;
    for (size_t i = 0; i < nrows; i++) {
        if (!rows[i].builtin && same_name(rows[i].reg.prefix, prefix))
            free((char *)rows[i].reg.prefix);
        else
            rows[kept++] = rows[i];
    }
    nrows = kept;
    pthread_mutex_unlock(&registry_lock);
    return kept < before ? 0 : -ENOENT;
}

int coil_endpoint_type_set_constructors(const char *prefix, coil_server_endpoint_new_fn new_server,
                                        coil_client_endpoint_new_fn new_client, void *arg)
{
    if (!prefix)
        return -EINVAL;
    int rc = -ENOENT;
    pthread_mutex_lock(&registry_lock);
    type_row *s = find_row(prefix, COIL_ENDPOINT_SERVER);
    type_row *c = find_row(prefix, COIL_ENDPOINT_CLIENT);
    if ((s && s->builtin) || (c && c->builtin)) {
        rc = -EINVAL;
    } else {
        for (size_t i = 0; i < nrows; i++) {
            if (!rows[i].builtin && same_name(rows[i].reg.prefix, prefix)) {
                rows[i].ctors = (coil__endpoint_ctors){new_server, new_client, arg};
                rc = 0;
            }
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return rc;
}

bool coil__endpoint_type_ctors(const char *prefix, coil__endpoint_ctors *out)
{
    pthread_mutex_lock(&registry_lock);
    type_row *r = find_row(prefix, COIL_ENDPOINT_SERVER);
    if (!r || r->builtin)
        r = find_row(prefix, COIL_ENDPOINT_CLIENT);
    bool found = r && !r->builtin;
    if (found)
        *out = r->ctors;
    pthread_mutex_unlock(&registry_lock);
    return found;
}

int coil_endpoint_lookup(const char *prefix, coil_endpoint_side side, coil_endpoint_type *out)
{
    if (!prefix)
        return -EINVAL;
    pthread_mutex_lock(&registry_lock);
    const type_row *r = find_row(prefix, side);
    int rc = !r ? -ENOENT : r->builtin ? COIL_ENDPOINT_BUILTIN : 0;
    if (r && out)
        *out = r->builtin ? (coil_endpoint_type){.prefix = r->builtin->name} : r->reg;
    pthread_mutex_unlock(&registry_lock);
    return rc;
}

/* ---- dispatch -------------------------------------------------------------- */

/* What a type name resolved to: a built-in, or a copy of a registration
 * (its prefix copied into `name`, since it may be unregistered meanwhile). */
typedef struct resolved {
    const struct builtin *builtin;
    coil_endpoint_type reg;
    char name[COIL_ENDPOINT_TYPE_MAX];
} resolved;

static bool resolve(const char *type, coil_endpoint_side side, resolved *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_lock(&registry_lock);
    const type_row *t = find_row(type, side);
    if (t) {
        r->builtin = t->builtin;
        r->reg = t->reg;
        strcpy(r->name, row_name(t));
        r->reg.prefix = r->name;
    }
    pthread_mutex_unlock(&registry_lock);
    return t != NULL;
}

/* Twisted's message, with the type lower-cased as _matchPluginToPrefix
 * does, and a hint when the type exists for the other side only. */
static int unknown_type(const char *type, coil_endpoint_side side, char *err, size_t n)
{
    char low[72];
    size_t i = 0;
    for (; type[i] && i < 64; i++)
        low[i] = (char)ascii_lower((unsigned char)type[i]);
    strcpy(low + i, type[i] ? "..." : "");
    coil_endpoint_side other =
        side == COIL_ENDPOINT_SERVER ? COIL_ENDPOINT_CLIENT : COIL_ENDPOINT_SERVER;
    if (*type && coil_endpoint_lookup(type, other, NULL) >= 0)
        return coil_endpoint_errorf(err, n,
                                    "Unknown endpoint type: '%s' (%s is a %s endpoint type)", low,
                                    low, other == COIL_ENDPOINT_SERVER ? "server" : "client");
    return coil_endpoint_errorf(err, n, "Unknown endpoint type: '%s'", low);
}

/* A registered type's parser. Makes sure a failure comes with a message. */
static int run_registered(const resolved *r, coil_endpoint_parse_fn fn,
                          const coil_endpoint_args *view, void **data, char *err, size_t n)
{
    void *out = NULL;
    if (err && n)
        err[0] = '\0';
    int rc = fn(r->reg.arg, view, &out, err, n);
    if (rc < 0) {
        if (err && n && !err[0])
            coil_endpoint_errorf(err, n, "%s: invalid description (%d)", r->name, rc);
        return rc;
    }
    *data = out;
    return 0;
}

static bool is_port_number(const char *s)
{
    return *s && strspn(s, "0123456789") == strlen(s);
}

/* Nesting depth of the descriptions being parsed on this thread (haproxy
 * and tls endpoint= recurse, and so may registered types). */
static _Thread_local unsigned nesting;

static int enter(char *err, size_t n)
{
    if (nesting >= COIL_ENDPOINT_MAX_DEPTH)
        return coil_endpoint_errorf(err, n, "invalid description: nested more than %d deep",
                                    COIL_ENDPOINT_MAX_DEPTH);
    nesting++;
    return 0;
}

static int server_dispatch(const coil_endpoint_args *a, coil_server_desc *d, char *err, size_t n)
{
    if (a->nargs == 0)
        return coil_endpoint_errorf(err, n, "invalid description: no endpoint type");
    const char *type = a->args[0];
    coil_endpoint_args view = {a->args + 1, a->nargs - 1, a->kw, a->nkw};
    resolved r;
    if (resolve(type, COIL_ENDPOINT_SERVER, &r)) {
        strcpy(d->type, r.name);
        if (r.builtin)
            return r.builtin->server(&view, d, err, n);
        d->kind = COIL_SERVER_PLUGIN;
        d->u.plugin.free_data = r.reg.free_data;
        d->u.plugin.arg = r.reg.arg;
        return run_registered(&r, r.reg.parse_server, &view, &d->u.plugin.data, err, n);
    }
    if (is_port_number(type)) {
        /* Our convenience: "8080" is "tcp:8080" (and "8080:backlog=5"...). */
        strcpy(d->type, "tcp");
        return server_tcp(a, d, err, n);
    }
    return unknown_type(type, COIL_ENDPOINT_SERVER, err, n);
}

static int client_dispatch(const coil_endpoint_args *a, coil_client_desc *d, char *err, size_t n)
{
    if (a->nargs == 0)
        return coil_endpoint_errorf(err, n, "invalid description: no endpoint type");
    const char *type = a->args[0];
    coil_endpoint_args view = {a->args + 1, a->nargs - 1, a->kw, a->nkw};
    resolved r;
    if (!resolve(type, COIL_ENDPOINT_CLIENT, &r))
        return unknown_type(type, COIL_ENDPOINT_CLIENT, err, n);
    strcpy(d->type, r.name);
    if (r.builtin)
        return r.builtin->client(&view, d, err, n);
    d->kind = COIL_CLIENT_PLUGIN;
    d->u.plugin.free_data = r.reg.free_data;
    d->u.plugin.arg = r.reg.arg;
    return run_registered(&r, r.reg.parse_client, &view, &d->u.plugin.data, err, n);
}

/* ---- public entry points ------------------------------------------------- */

int coil_server_desc_from_args(const coil_endpoint_args *args, coil_server_desc **out, char *err,
                               size_t errlen)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!args)
        return -EINVAL;
    coil_server_desc *d = calloc(1, sizeof(*d));
    if (!d)
        return no_memory(err, errlen);
    int rc = enter(err, errlen);
    if (rc == 0) {
        rc = server_dispatch(args, d, err, errlen);
        nesting--;
    }
    if (rc < 0) {
        coil_server_desc_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int coil_server_desc_parse(const char *desc, coil_server_desc **out, char *err, size_t errlen)
{
    coil_endpoint_args *args;
    if (out)
        *out = NULL;
    int rc = coil_endpoint_parse(desc, &args, err, errlen);
    if (rc < 0)
        return rc;
    rc = coil_server_desc_from_args(args, out, err, errlen);
    coil_endpoint_args_free(args);
    return rc;
}

bool coil_server_desc_given(const coil_server_desc *d, const char *param)
{
    if (!d)
        return false;
    if (d->kind == COIL_SERVER_HAPROXY)
        return coil_server_desc_given(d->u.haproxy.inner, param);
    return given(d->given_mask, d->given_names, d->given_count, param);
}

void coil_server_desc_free(coil_server_desc *d)
{
    if (!d)
        return;
    switch (d->kind) {
    case COIL_SERVER_TCP:
    case COIL_SERVER_TCP6:
        free(d->u.tcp.interface);
        break;
    case COIL_SERVER_UNIX:
        free(d->u.un.address);
        break;
    case COIL_SERVER_SSL:
        free(d->u.ssl.private_key);
        free(d->u.ssl.cert_key);
        free(d->u.ssl.method);
        free(d->u.ssl.interface);
        free(d->u.ssl.extra_cert_chain);
        free(d->u.ssl.dh_parameters);
        break;
    case COIL_SERVER_SYSTEMD:
        free(d->u.systemd.name);
        break;
    case COIL_SERVER_HAPROXY:
        coil_server_desc_free(d->u.haproxy.inner);
        free(d->u.haproxy.description);
        break;
    case COIL_SERVER_PLUGIN:
        if (d->u.plugin.data && d->u.plugin.free_data)
            d->u.plugin.free_data(d->u.plugin.arg, d->u.plugin.data);
        break;
    case COIL_SERVER_UDP:
        free(d->u.udp.interface);
        break;
    }
    free(d);
}

int coil_client_desc_from_args(const coil_endpoint_args *args, coil_client_desc **out, char *err,
                               size_t errlen)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!args)
        return -EINVAL;
    coil_client_desc *d = calloc(1, sizeof(*d));
    if (!d)
        return no_memory(err, errlen);
    int rc = enter(err, errlen);
    if (rc == 0) {
        rc = client_dispatch(args, d, err, errlen);
        nesting--;
    }
    if (rc < 0) {
        coil_client_desc_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int coil_client_desc_parse(const char *desc, coil_client_desc **out, char *err, size_t errlen)
{
    coil_endpoint_args *args;
    if (out)
        *out = NULL;
    int rc = coil_endpoint_parse(desc, &args, err, errlen);
    if (rc < 0)
        return rc;
    rc = coil_client_desc_from_args(args, out, err, errlen);
    coil_endpoint_args_free(args);
    return rc;
}

bool coil_client_desc_given(const coil_client_desc *d, const char *param)
{
    return d && given(d->given_mask, d->given_names, d->given_count, param);
}

void coil_client_desc_free(coil_client_desc *d)
{
    if (!d)
        return;
    switch (d->kind) {
    case COIL_CLIENT_TCP:
        free(d->u.tcp.host);
        free(d->u.tcp.bind_address);
        break;
    case COIL_CLIENT_UNIX:
        free(d->u.un.path);
        break;
    case COIL_CLIENT_SSL:
        free(d->u.ssl.host);
        free(d->u.ssl.bind_address);
        free(d->u.ssl.cert_key);
        free(d->u.ssl.private_key);
        free(d->u.ssl.ca_certs_dir);
        free(d->u.ssl.hostname);
        break;
    case COIL_CLIENT_TLS:
        free(d->u.tls.host);
        free(d->u.tls.bind_address);
        free(d->u.tls.certificate);
        free(d->u.tls.private_key);
        free(d->u.tls.trust_roots);
        free(d->u.tls.endpoint);
        coil_client_desc_free(d->u.tls.inner);
        break;
    case COIL_CLIENT_PLUGIN:
        if (d->u.plugin.data && d->u.plugin.free_data)
            d->u.plugin.free_data(d->u.plugin.arg, d->u.plugin.data);
        break;
    }
    free(d);
}
