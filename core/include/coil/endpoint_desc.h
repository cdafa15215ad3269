/* SPDX-License-Identifier: MIT */
/*
 * Endpoint description strings (Twisted's strports / serverFromString /
 * clientFromString grammar), without any I/O: "tcp:8080:interface=127.0.0.1",
 * "unix:address=/run/coil/e.sock:mode=600", "haproxy:tcp:9000",
 * "tls:example.com:443". The grammar, the defaults and every divergence from
 * Twisted 22.4 are described in docs/ENDPOINTS.md.
 *
 * Three layers:
 *  1. coil_endpoint_parse(): the generic grammar. A description is split on
 *     ':' into segments; a segment is either positional ("80") or
 *     "key=value". A backslash escapes any next character. Nothing is
 *     interpreted: every value stays a string.
 *  2. coil_server_desc_parse() / coil_client_desc_parse(): the endpoint type
 *     (the first positional, matched case-insensitively) selects a parser
 *     that maps the remaining arguments onto its parameter list, converts
 *     and validates them, and fills a plain struct (no sockets, no files
 *     read). A bare decimal number is a server description for TCP on that
 *     port ("8080" == "tcp:8080").
 *  3. coil_endpoint_register(): libraries add endpoint types (Twisted's
 *     endpoint plugins). Registered types get the same argument parsing;
 *     their result is opaque data the library owns.
 *
 * Errors: functions return 0 on success or a negative error: COIL_EBADDESC
 * for an invalid description, -ENOMEM, or -EINVAL for invalid arguments to
 * the function itself (a NULL description, ...). Functions taking
 * `err`/`errlen` write a one-line message naming the culprit there on
 * failure ("tcp: invalid port 'abc'"); `err` may be NULL when errlen is 0.
 * Messages never contain control characters (they are replaced by '?').
 *
 * Thread safety: parsing functions are reentrant. The type registry is
 * protected by a lock; registering and parsing may run on any thread.
 */
#ifndef COIL_ENDPOINT_DESC_H
#define COIL_ENDPOINT_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest description accepted, in bytes (without the NUL). */
#define COIL_ENDPOINT_DESC_MAX 65536
/* Longest type prefix, with the NUL. */
#define COIL_ENDPOINT_TYPE_MAX 32
/* How deeply descriptions may nest (haproxy:..., tls:...:endpoint=...). */
#define COIL_ENDPOINT_MAX_DEPTH 8

/* ------------------------------------------------------------------------
 * 1. Generic grammar (Twisted's _tokenize and _parse)
 */

typedef struct coil_endpoint_kw {
    const char *key;
    const char *value;
} coil_endpoint_kw;

/* The parsed form of a description: positional arguments in order (args[0]
 * is normally the endpoint type), then keyword arguments in order of first
 * appearance; a key given again overwrote the earlier value (as a Python
 * dict does). All strings are unescaped and NUL-terminated.
 *
 * Ownership: coil_endpoint_parse() returns one allocation holding the
 * struct, the arrays and every string; coil_endpoint_args_free() releases it
 * all. Strings are valid until then.
 *
 * A parser registered with coil_endpoint_register() receives a borrowed
 * view of this struct whose `args` starts after the type; it must not keep
 * pointers into it after returning. */
typedef struct coil_endpoint_args {
    const char *const *args;
    size_t nargs;
    const coil_endpoint_kw *kw;
    size_t nkw;
} coil_endpoint_args;

/* Split `desc` into positional and keyword arguments exactly as Twisted's
 * _parse does: "a:b:d=1:c" gives args {"a","b","c"} and kw {d: "1"}; ""
 * gives one empty positional. Errors: a trailing lone backslash or a
 * description longer than COIL_ENDPOINT_DESC_MAX (COIL_EBADDESC), -ENOMEM,
 * -EINVAL if desc or out is NULL. On error *out is NULL. */
COIL_API int coil_endpoint_parse(const char *desc, coil_endpoint_args **out, char *err,
                                 size_t errlen);
/* Free what coil_endpoint_parse() returned. NULL is allowed. */
COIL_API void coil_endpoint_args_free(coil_endpoint_args *args);
/* Value of keyword `key`, or NULL if absent. Borrowed from `args`. */
COIL_API const char *coil_endpoint_args_get(const coil_endpoint_args *args, const char *key);

/* Twisted's quoteStringArgument: '\' becomes "\\" and ':' becomes "\:"
 * ('=' is left alone: it is only special in a key or positional argument).
 * Writes the NUL-terminated result to buf and returns its length without
 * the NUL, or -ENOSPC if it does not fit (2 * strlen(s) + 1 bytes always
 * do), -EINVAL if s is NULL. */
COIL_API int coil_endpoint_quote(const char *s, char *buf, size_t size);

/* The inverse of coil_endpoint_parse(): positional arguments in order, then
 * "key=value" pairs sorted by key (as Twisted's unparseEndpoint), quoted so
 * that parsing the result gives the same arguments back (unlike Twisted,
 * '=' is escaped in keys and positional arguments). Returns a string the
 * caller releases with free(), or NULL when out of memory. Zero positional
 * and zero keyword arguments give "". */
COIL_API char *coil_endpoint_unparse(const coil_endpoint_args *args);

/* ------------------------------------------------------------------------
 * Helpers shared by the built-in types and registered ones
 */

/* Map arguments onto a parameter list the way Python binds a call:
 * positional arguments fill names[0..npositional) in order, keywords go by
 * name. values[i] receives the string given for names[i] (borrowed from
 * `args`) or NULL. `type` only prefixes error messages. Fails with
 * COIL_EBADDESC and messages such as "tcp: too many positional arguments
 * (at most 3)", "tcp: unknown argument 'bogus'", "tcp: argument 'port' given
 * twice". Keyword names are case-sensitive. */
COIL_API int coil_endpoint_bind(const coil_endpoint_args *args, const char *type,
                                const char *const *names, size_t nnames, size_t npositional,
                                const char **values, char *err, size_t errlen);

/* Parse an integer as Python's int(s, base) does for ASCII text: optional
 * surrounding whitespace, an optional sign, digits with single underscores
 * between them, and for base 8 an optional "0o" prefix. base is 8, 10 or
 * 16. Returns 0, -EINVAL (not an integer) or -ERANGE (outside [min, max]). */
COIL_API int coil_endpoint_int(const char *s, int base, long long min, long long max,
                               long long *out);

/* Format an error message into err (if errlen > 0), replacing control
 * characters by '?'. Returns COIL_EBADDESC, so parsers can write
 * `return coil_endpoint_errorf(err, errlen, "foo: missing bar");`. */
COIL_API int coil_endpoint_errorf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------------
 * 2. Typed descriptions
 */

typedef enum coil_server_kind {
    COIL_SERVER_TCP,     /* "tcp" and a bare port number */
    COIL_SERVER_TCP6,    /* "tcp6" */
    COIL_SERVER_UNIX,    /* "unix" */
    COIL_SERVER_SSL,     /* "ssl" (TLS over TCP/IPv4) */
    COIL_SERVER_SYSTEMD, /* "systemd" (a socket passed by systemd) */
    COIL_SERVER_HAPROXY, /* "haproxy" (PROXY protocol in front of another server) */
    COIL_SERVER_PLUGIN,  /* a type added with coil_endpoint_register() */
    COIL_SERVER_UDP,     /* "udp" (a datagram port: coil_datagram_listen_desc() in udp.h) */
} coil_server_kind;

typedef struct coil_server_desc coil_server_desc;

/* A parsed server description. Every string is owned by the description
 * and released by coil_server_desc_free(), as is `inner`. */
struct coil_server_desc {
    coil_server_kind kind;
    /* The type: "tcp", "tcp6", "unix", "ssl", "systemd", "haproxy" (lower
     * case whatever case was written; "tcp" for a bare port), or a
     * registered prefix as it was registered. */
    char type[COIL_ENDPOINT_TYPE_MAX];
    union {
        struct {             /* TCP and TCP6 */
            uint16_t port;   /* 0: any free port */
            char *interface; /* tcp: "" (all IPv4 addresses); tcp6: "::" */
            int backlog;     /* 50 */
        } tcp;
        struct {
            char *address; /* path; a leading '@' is the abstract namespace */
            unsigned mode; /* 0666 */
            int backlog;   /* 50 */
            bool lockfile; /* true: hold "<address>.lock" while listening */
        } un;
        struct {
            uint16_t port;
            char *private_key;      /* "server.pem" */
            char *cert_key;         /* same as private_key */
            char *method;           /* sslmethod, e.g. "TLSv1_2_METHOD", or NULL */
            char *interface;        /* "" */
            int backlog;            /* 50 */
            char *extra_cert_chain; /* or NULL */
            char *dh_parameters;    /* or NULL */
            int handshake_timeout;  /* handshakeTimeout=, seconds; 0: the default (30) */
        } ssl;
        struct {
            int family; /* AF_INET, AF_INET6 or AF_UNIX (domain=INET|INET6|UNIX) */
            int index;  /* index into the passed sockets, or -1 when `name` is used */
            char *name; /* LISTEN_FDNAMES entry, or NULL when `index` is used */
        } systemd;
        struct {
            coil_server_desc *inner; /* the wrapped endpoint */
            char *description;       /* its description, re-serialised */
        } haproxy;
        struct {             /* UDP */
            uint16_t port;   /* 0: any free port */
            char *interface; /* "" (all IPv4 addresses); "::" for IPv6 */
        } udp;
        struct {
            void *data;                               /* from the registered parser */
            void (*free_data)(void *arg, void *data); /* copied from the registration */
            void *arg;
        } plugin;
    } u;
    /* Which parameters the description spelled out; read them with
     * coil_server_desc_given(). Private to coil. */
    uint32_t given_mask;
    const char *const *given_names;
    size_t given_count;
};

typedef enum coil_client_kind {
    COIL_CLIENT_TCP,    /* "tcp" */
    COIL_CLIENT_UNIX,   /* "unix" */
    COIL_CLIENT_SSL,    /* "ssl" */
    COIL_CLIENT_TLS,    /* "tls" (TLS over HostnameEndpoint) */
    COIL_CLIENT_PLUGIN, /* a type added with coil_endpoint_register() */
} coil_client_kind;

typedef struct coil_client_desc coil_client_desc;

/* A parsed client description; owns its strings and `inner`. */
struct coil_client_desc {
    coil_client_kind kind;
    char type[COIL_ENDPOINT_TYPE_MAX]; /* "tcp", "unix", "ssl", "tls" or a registered prefix */
    union {
        struct {
            char *host;
            uint16_t port;      /* 1..65535 */
            int timeout;        /* seconds, 30 */
            char *bind_address; /* local address to bind (port 0), or NULL */
        } tcp;
        struct {
            char *path;
            int timeout;    /* 30 */
            bool check_pid; /* lockfile= or checkPID=: fail unless "<path>.lock" is held */
        } un;
        struct {
            char *host;
            uint16_t port;
            int timeout;        /* 30 */
            char *bind_address; /* or NULL */
            char *cert_key;     /* client certificate file, or NULL */
            char *private_key;  /* or NULL */
            char *ca_certs_dir; /* directory of trusted *.pem, or NULL */
            char *hostname;     /* name to verify, or NULL (no verification, as Twisted) */
        } ssl;
        struct {
            char *host; /* connect to and verify this name */
            uint16_t port;
            int timeout;             /* 30 */
            char *bind_address;      /* or NULL */
            char *certificate;       /* client certificate file, or NULL */
            char *private_key;       /* or NULL */
            char *trust_roots;       /* directory of trusted *.pem, or NULL (system) */
            char *endpoint;          /* endpoint= as given, or NULL */
            coil_client_desc *inner; /* endpoint= parsed, or NULL (connect to host:port) */
        } tls;
        struct {
            void *data;
            void (*free_data)(void *arg, void *data);
            void *arg;
        } plugin;
    } u;
    /* See coil_client_desc_given(). Private to coil. */
    uint32_t given_mask;
    const char *const *given_names;
    size_t given_count;
};

/* Parse a server description. On success *out is a new description to
 * release with coil_server_desc_free(); on error *out is NULL and err says
 * why: "Unknown endpoint type: 'foo'", "tcp: invalid port 'abc'", ... */
COIL_API int coil_server_desc_parse(const char *desc, coil_server_desc **out, char *err,
                                    size_t errlen);
/* The same from already parsed arguments (args->args[0] is the type): for
 * wrapper types that parse the rest of their arguments as another server
 * description, as haproxy does. `args` is only read. */
COIL_API int coil_server_desc_from_args(const coil_endpoint_args *args, coil_server_desc **out,
                                        char *err, size_t errlen);
/* Release a description, its strings, its inner description, and call a
 * registered type's free_data. NULL is allowed. */
COIL_API void coil_server_desc_free(coil_server_desc *desc);
/* Whether parameter `param` (its keyword name, e.g. "backlog", "interface")
 * was given in the description, positionally or as a keyword, rather than
 * left to its default. For haproxy: the wrapped description's parameters.
 * Always false for registered types (their parameters are theirs) and for
 * names the type does not have. */
COIL_API bool coil_server_desc_given(const coil_server_desc *desc, const char *param);

COIL_API int coil_client_desc_parse(const char *desc, coil_client_desc **out, char *err,
                                    size_t errlen);
COIL_API int coil_client_desc_from_args(const coil_endpoint_args *args, coil_client_desc **out,
                                        char *err, size_t errlen);
COIL_API void coil_client_desc_free(coil_client_desc *desc);
/* As coil_server_desc_given() ("timeout", "bindAddress", ...). */
COIL_API bool coil_client_desc_given(const coil_client_desc *desc, const char *param);

/* ------------------------------------------------------------------------
 * 3. Registering endpoint types
 */

typedef enum coil_endpoint_side {
    COIL_ENDPOINT_SERVER = 1,
    COIL_ENDPOINT_CLIENT = 2,
} coil_endpoint_side;

/* Parse the arguments that follow the type (args->args[0] is the first
 * argument after it; keywords are all of the description's keywords). On
 * success return 0 and set *data (may be NULL): the description takes it
 * over and hands it to free_data (if both are not NULL) when the
 * description is freed. On failure return a negative
 * error, normally COIL_EBADDESC with a message written through
 * coil_endpoint_errorf(); *data is ignored. coil_endpoint_bind() and
 * coil_endpoint_int() do the usual checks. */
typedef int (*coil_endpoint_parse_fn)(void *arg, const coil_endpoint_args *args, void **data,
                                      char *err, size_t errlen);

typedef struct coil_endpoint_type {
    /* The type name: 1..31 bytes, not only digits, none of ':', '=', '\\',
     * whitespace or control characters. Matched case-insensitively (ASCII). */
    const char *prefix;
    coil_endpoint_parse_fn parse_server;      /* or NULL: no server endpoints of this type */
    coil_endpoint_parse_fn parse_client;      /* or NULL: no client endpoints of this type */
    void (*free_data)(void *arg, void *data); /* or NULL */
    void *arg; /* passed to the three functions above; must outlive every use */
} coil_endpoint_type;

/* Add an endpoint type. The struct is copied (prefix too). A prefix may be
 * registered once per side: -EEXIST if a built-in or registered type
 * already provides a server (client) parser under the same prefix and this
 * one provides one too. -EINVAL for an invalid prefix or no parser. */
COIL_API int coil_endpoint_register(const coil_endpoint_type *type);
/* Remove every registration of `prefix` (any case). Descriptions already
 * parsed keep working (they hold copies of free_data and arg). -ENOENT if
 * nothing was registered under it; built-in types cannot be removed. */
COIL_API int coil_endpoint_unregister(const char *prefix);

/* Value of coil_endpoint_lookup() for a built-in type. */
#define COIL_ENDPOINT_BUILTIN 1

/* Find the type the dispatcher would use for `prefix` on `side`. Returns
 * COIL_ENDPOINT_BUILTIN for a built-in type (out->prefix is its name, the
 * other fields are NULL), 0 for a registered type (*out is a copy of the
 * registration; out->prefix stays valid until it is unregistered), or
 * -ENOENT. `out` may be NULL. */
COIL_API int coil_endpoint_lookup(const char *prefix, coil_endpoint_side side,
                                  coil_endpoint_type *out);

#ifdef __cplusplus
}
#endif
#endif
