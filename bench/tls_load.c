/* SPDX-License-Identifier: MIT */
/*
 * tls_load: TLS load generator for bench/tls_bench.sh, on coil's TLS client.
 *
 *   tls_load echo PORT CONNS SIZE SECONDS WARMUP
 *       CONNS connections each write SIZE bytes, wait until SIZE bytes came
 *       back, and repeat; counts messages.
 *   tls_load plain-echo PORT CONNS SIZE SECONDS WARMUP
 *       the same over plain TCP (the baseline).
 *   tls_load handshake PORT CONCURRENCY SECONDS WARMUP
 *       CONCURRENCY loops of: connect, full handshake (no resumption),
 *       close; counts completed handshakes.
 *   tls_load fetch PORT CONCURRENCY SECONDS WARMUP [REQUEST]
 *       as handshake, but then send REQUEST (if given) and read the
 *       server's response until it closes (a quote of the day, or an HTTP/1.0
 *       reply); counts responses.
 *
 * Connects to 127.0.0.1:PORT without verifying the certificate (the server
 * side is what is measured). Prints one JSON line:
 *   {"mode":"echo","ops":N,"seconds":S,"errors":E}
 * counting only what completed between the end of the warm-up and the end.
 * Before measuring it prints "measuring" on stderr; the script samples the
 * server's CPU between that line and the end (see tls_bench.sh).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/coil.h>
#include <coil/tls.h>

static coil_reactor *reactor;
static coil_client_endpoint *ep;
static size_t size;
static unsigned char *payload;
static unsigned long long ops, ops_at_start, errors;
static bool measuring, stopping, handshake_mode, fetch_mode;
static const char *request;

typedef struct conn {
    coil_protocol base;
    size_t got;
} conn;

static void c_made(coil_protocol *p)
{
    if (fetch_mode) {
        if (request)
            coil_transport_write(p->transport, request, strlen(request));
        return;
    }
    if (handshake_mode) {
        ops++;
        coil_transport_lose_connection(p->transport);
        return;
    }
    coil_transport_write(p->transport, payload, size);
}

static void c_data(coil_protocol *p, const void *data, size_t len)
{
    conn *c = (conn *)p;
    c->got += len;
    if (fetch_mode)
        return;
    while (c->got >= size) {
        c->got -= size;
        ops++;
        if (!stopping)
            coil_transport_write(p->transport, payload, size);
    }
}

static void start_one(void);

static void c_lost(coil_protocol *p, int reason)
{
    if (fetch_mode) {
        if (((conn *)p)->got > 0 && reason == 0)
            ops++;
        else
            errors++;
    }
    free(p);
    if (handshake_mode && !stopping)
        start_one();
}

static const coil_protocol_ops conn_ops = {
    .connection_made = c_made, .data_received = c_data, .connection_lost = c_lost};

static coil_protocol *build(coil_factory *f, const coil_address *a)
{
    conn *c = calloc(1, sizeof(*c));
    c->base.ops = &conn_ops;
    return &c->base;
}

static const coil_factory_ops factory_ops = {.build_protocol = build};
static coil_factory factory = {.ops = &factory_ops};

static coil_result connected(coil_result r, void *arg)
{
    if (coil_result_is_failure(r)) {
        errors++;
        if (errors < 5)
            fprintf(stderr, "tls_load: %s\n", coil_failure_message(r.failure));
        if (handshake_mode && !stopping)
            start_one();
    }
    coil_result_release(r);
    return coil_result_none();
}

static void start_one(void)
{
    coil_deferred *d = coil_client_endpoint_connect(ep, &factory);
    coil_deferred_add_both(d, connected, NULL);
    coil_deferred_unref(d);
}

static void start_measuring(void *arg)
{
    measuring = true;
    ops_at_start = ops;
    fprintf(stderr, "measuring\n");
}

static void stop(void *arg)
{
    stopping = true;
    coil_reactor_stop(reactor);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: tls_load echo PORT CONNS SIZE SECONDS WARMUP\n"
                        "       tls_load handshake PORT CONCURRENCY SECONDS WARMUP\n");
        return 2;
    }
    fetch_mode = strcmp(argv[1], "fetch") == 0;
    handshake_mode = fetch_mode || strcmp(argv[1], "handshake") == 0;
    if (fetch_mode && argc > 6)
        request = argv[6];
    int port = atoi(argv[2]), n = atoi(argv[3]);
    int ai = handshake_mode ? 4 : 5;
    if (argc < ai + 2)
        return 2;
    size = handshake_mode ? 1 : (size_t)atol(argv[4]);
    double seconds = atof(argv[ai]), warmup = atof(argv[ai + 1]);
    payload = malloc(size);
    memset(payload, 'x', size);
    if (coil_reactor_new(&reactor, NULL) < 0)
        return 1;
    coil_tls_client_options o = {.insecure_no_verify = true};
    coil_tls_context *ctx;
    char err[256];
    if (coil_tls_client_context_new(&o, &ctx, err, sizeof(err)) < 0) {
        fprintf(stderr, "tls_load: %s\n", err);
        return 1;
    }
    coil_address a;
    coil_address_from_ip(&a, "127.0.0.1", (uint16_t)port);
    if (strcmp(argv[1], "plain-echo") == 0)
        ep = coil_tcp_client_endpoint_new(reactor, &a, 10, NULL);
    else
        ep = coil_tls_client_endpoint_new(coil_tcp_client_endpoint_new(reactor, &a, 10, NULL), ctx,
                                      NULL);
    coil_tls_context_unref(ctx);
    for (int i = 0; i < n; i++)
        start_one();
    coil_reactor_call_later(reactor, warmup, start_measuring, NULL);
    coil_reactor_call_later(reactor, warmup + seconds, stop, NULL);
    coil_reactor_run(reactor);
    unsigned long long done = ops - ops_at_start;
    printf("{\"mode\":\"%s\",\"ops\":%llu,\"seconds\":%g,\"errors\":%llu}\n", argv[1], done,
           seconds, errors);
    fflush(stdout);
    coil_client_endpoint_free(ep);
    coil_reactor_free(reactor);
    free(payload);
    return 0;
}
