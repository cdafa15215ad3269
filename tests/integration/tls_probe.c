/* SPDX-License-Identifier: MIT */
/*
 * A small TLS client for the integration tests:
 *
 *   tls_probe CLIENT-DESCRIPTION SEND EXPECT
 *
 * Connects through coil_client_from_string() (e.g.
 * "tls:localhost:4433:trustRoots=/tmp/ca.pem"), writes SEND and a newline,
 * waits until the bytes received contain EXPECT, then closes with
 * lose_connection (close_notify). Prints "ok VERSION CIPHER" and exits 0,
 * or prints "error: MESSAGE" (the connect failure, e.g. a verification
 * failure naming its reason) and exits 1. 20 s at most. The backend comes
 * from $COIL_REACTOR; 77 when it cannot start here.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/coil.h>
#include <coil/tls.h>

typedef struct probe {
    coil_protocol base;
    char buf[65536];
    size_t len;
    int lost_reason;
    bool lost, matched;
} probe;

static const char *expect;
static coil_reactor *reactor;
static int status = 1;

static void p_data(coil_protocol *p, const void *data, size_t len)
{
    probe *pr = (probe *)p;
    size_t room = sizeof(pr->buf) - 1 - pr->len;
    len = len < room ? len : room;
    memcpy(pr->buf + pr->len, data, len);
    pr->len += len;
    pr->buf[pr->len] = '\0';
    if (!pr->matched && strstr(pr->buf, expect)) {
        pr->matched = true;
        printf("ok %s %s\n", coil_tls_version_name(p->transport),
               coil_tls_cipher_name(p->transport));
        status = 0;
        coil_transport_lose_connection(p->transport);
    }
}

static void p_lost(coil_protocol *p, int reason)
{
    probe *pr = (probe *)p;
    if (!pr->matched)
        printf("error: connection lost before the answer (%s); got '%s'\n",
               coil_strerror(reason), pr->buf);
    coil_reactor_stop(reactor);
}

static const coil_protocol_ops probe_ops = {.data_received = p_data, .connection_lost = p_lost};

static coil_result connected(coil_result res, void *arg)
{
    if (coil_result_is_failure(res)) {
        printf("error: %s\n", coil_failure_message(res.failure));
        coil_reactor_stop(reactor);
    } else {
        const char *send = arg;
        coil_protocol *p = coil_result_ptr(res);
        coil_transport_write(p->transport, send, strlen(send));
        coil_transport_write(p->transport, "\n", 1);
    }
    coil_result_release(res);
    return coil_result_none();
}

static coil_delayed_call *timer;

static void give_up(void *arg)
{
    timer = NULL;
    printf("error: no answer within 20 s\n");
    coil_reactor_stop(reactor);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: tls_probe CLIENT-DESCRIPTION SEND EXPECT\n");
        return 2;
    }
    expect = argv[3];
    coil_reactor_options o;
    coil_reactor_options_init(&o); /* AUTO: $COIL_REACTOR decides */
    if (coil_reactor_new(&reactor, &o) < 0)
        return 77;
    char err[512];
    coil_client_endpoint *ep = NULL;
    if (coil_client_from_string(reactor, argv[1], &ep, err, sizeof(err)) < 0) {
        printf("error: %s\n", err);
        coil_reactor_free(reactor);
        return 1;
    }
    probe *pr = calloc(1, sizeof(*pr));
    pr->base.ops = &probe_ops;
    coil_deferred *d = coil_connect_protocol(ep, &pr->base);
    coil_deferred_add_both(d, connected, argv[2]);
    coil_deferred_unref(d);
    timer = coil_reactor_call_later(reactor, 20, give_up, NULL);
    coil_reactor_run(reactor);
    if (timer)
        coil_delayed_call_cancel(timer);
    coil_client_endpoint_free(ep);
    coil_reactor_free(reactor);
    free(pr);
    return status;
}
