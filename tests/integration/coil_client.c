/* SPDX-License-Identifier: MIT */
/*
 * A tiny coil echo client for the integration tests:
 *
 *   coil_client PORT|ENDPOINT NBYTES [--half-close] [--connections N]
 *
 * Connects N times (default 1, concurrently) to 127.0.0.1:PORT, or to a
 * client endpoint description ("unix:/tmp/e.sock", "tcp:localhost:8000")
 * through coil_client_from_string(), sends NBYTES of a deterministic pattern on each
 * connection, checks that exactly those bytes come back, then closes.
 * Without --half-close the write side stays open until the whole echo was
 * read (what Twisted's non-half-closeable echo needs); with it, the client
 * sends FIN after its data and expects the echo and then an orderly close
 * from the server (what `coild echo` promises). The backend comes from
 * $COIL_REACTOR. Exit status: 0 when every byte came back, 1 otherwise,
 * 77 when the requested backend cannot start here.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/coil.h>

typedef struct client {
    coil_protocol base;
    size_t sent, got;
    bool mismatch, done;
    int reason;
    int index;
} client;

static size_t nbytes;
static bool half_close;
static int nconns = 1, finished, failures, connect_failures;
static coil_reactor *reactor;

static unsigned char pattern(size_t i, int conn)
{
    uint32_t x = (uint32_t)i * 2654435761u ^ (uint32_t)(conn * 40503 + 17);
    return (unsigned char)(x >> 13);
}

static void one_finished(void)
{
    if (++finished == nconns)
        coil_reactor_stop(reactor);
}

static void made(coil_protocol *p)
{
    client *c = (client *)p;
    unsigned char buf[65536];
    while (c->sent < nbytes) {
        size_t n = nbytes - c->sent < sizeof(buf) ? nbytes - c->sent : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(c->sent + i, c->index);
        if (coil_transport_write(p->transport, buf, n) < 0)
            break;
        c->sent += n;
    }
    if (half_close)
        coil_transport_lose_write_connection(p->transport);
}

static void data(coil_protocol *p, const void *d, size_t len)
{
    client *c = (client *)p;
    const unsigned char *b = d;
    for (size_t i = 0; i < len; i++)
        if (c->got + i >= nbytes || b[i] != pattern(c->got + i, c->index))
            c->mismatch = true;
    c->got += len;
    if (!half_close && c->got >= nbytes)
        coil_transport_lose_connection(p->transport);
}

static void read_lost(coil_protocol *p)
{
    /* The server closed after echoing everything (half-close mode). */
    coil_transport_lose_connection(p->transport);
}

static void lost(coil_protocol *p, int reason)
{
    client *c = (client *)p;
    c->reason = reason;
    c->done = true;
    bool ok = !c->mismatch && c->got == nbytes && c->sent == nbytes && reason == 0;
    if (!ok) {
        failures++;
        fprintf(stderr, "coil_client[%d]: sent %zu, got %zu of %zu, mismatch=%d, reason %s\n",
                c->index, c->sent, c->got, nbytes, c->mismatch, coil_strerror(reason));
    }
    free(c);
    one_finished();
}

static const coil_protocol_ops ops = {
    .connection_made = made,
    .data_received = data,
    .connection_lost = lost,
};
static const coil_protocol_ops ops_half = {
    .connection_made = made,
    .data_received = data,
    .read_connection_lost = read_lost,
    .connection_lost = lost,
};

static int built;

static coil_protocol *build(coil_factory *f, const coil_address *addr)
{
    client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->base.ops = half_close ? &ops_half : &ops;
    c->index = built++;
    return &c->base;
}

static const coil_factory_ops fops = {.build_protocol = build};
static coil_factory factory = {.ops = &fops};

static coil_result on_connect(coil_result res, void *arg)
{
    if (coil_result_is_failure(res)) {
        fprintf(stderr, "coil_client: %s\n", coil_failure_message(res.failure));
        connect_failures++;
        one_finished();
    }
    coil_result_release(res);
    return coil_result_none();
}

static bool is_number(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static bool timed_out;

static void on_timeout(void *arg)
{
    timed_out = true;
    fprintf(stderr, "coil_client: timed out (%d of %d connections finished)\n", finished, nconns);
    coil_reactor_stop(reactor);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: coil_client PORT|ENDPOINT NBYTES [--half-close] "
                        "[--connections N]\n");
        return 2;
    }
    char desc[512];
    if (is_number(argv[1]))
        snprintf(desc, sizeof(desc), "tcp:127.0.0.1:%s", argv[1]);
    else
        snprintf(desc, sizeof(desc), "%s", argv[1]);
    nbytes = (size_t)strtoull(argv[2], NULL, 10);
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--half-close") == 0)
            half_close = true;
        else if (strcmp(argv[i], "--connections") == 0 && i + 1 < argc)
            nconns = atoi(argv[++i]);
        else {
            fprintf(stderr, "coil_client: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (nconns <= 0)
        return 2;
    coil_log_set_level(COIL_LOG_WARN);
    coil_reactor_options o;
    coil_reactor_options_init(&o);
    o.flags = COIL_REACTOR_NO_SIGNALS;
    int rc = coil_reactor_new(&reactor, &o);
    if (rc < 0) {
        fprintf(stderr, "coil_client: cannot start the reactor: %s\n", coil_strerror(rc));
        const char *want = getenv("COIL_REACTOR");
        return want && strcmp(want, "uring") == 0 ? 77 : 1;
    }
    char err[256];
    coil_client_endpoint *ep;
    rc = coil_client_from_string(reactor, desc, &ep, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "coil_client: %s\n", err);
        coil_reactor_free(reactor);
        return 2;
    }
    for (int i = 0; i < nconns; i++) {
        coil_deferred *d = coil_client_endpoint_connect(ep, &factory);
        if (!d || coil_deferred_add_both(d, on_connect, NULL) < 0) {
            fprintf(stderr, "coil_client: out of memory\n");
            return 1;
        }
        coil_deferred_unref(d);
    }
    coil_client_endpoint_free(ep);
    if (finished < nconns) { /* connects may all have failed at once */
        coil_delayed_call *t = coil_reactor_call_later(reactor, 60, on_timeout, NULL);
        rc = coil_reactor_run(reactor);
        if (!timed_out)
            coil_delayed_call_cancel(t);
    }
    printf("coil_client: backend %s, %d connection(s) of %zu bytes, %d failed\n",
           coil_reactor_backend_name(reactor), nconns, nbytes, failures + connect_failures);
    coil_reactor_free(reactor);
    return rc == 0 && !timed_out && failures == 0 && connect_failures == 0 ? 0 : 1;
}
