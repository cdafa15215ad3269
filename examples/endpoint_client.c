/* SPDX-License-Identifier: MIT */
/*
 * Tutorial, chapter 4: one client for every kind of endpoint. Sends TEXT to
 * the server named by DESCRIPTION, half-closes, prints what comes back.
 * Run: ./endpoint_client 'tcp:127.0.0.1:8000' hello
 *      ./endpoint_client 'unix:/tmp/echo.sock' hello
 */
#include <coil/coil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int exit_status;

static void print_reply(coil_protocol *p COIL_UNUSED, const void *data, size_t len)
{
    fwrite(data, 1, len, stdout);
}

static void reply_done(coil_protocol *p) /* the server closed its side */
{
    coil_transport_lose_connection(p->transport);
}

static void closed(coil_protocol *p, int reason)
{
    if (reason != 0) {
        fprintf(stderr, "connection lost: %s\n", coil_strerror(reason));
        exit_status = 1;
    }
    coil_reactor_stop(coil_transport_reactor(p->transport));
    free(p);
}

static const coil_protocol_ops client_ops = {.data_received = print_reply,
                                             .read_connection_lost = reply_done,
                                             .connection_lost = closed};

static coil_result send_text(coil_result protocol, void *text)
{
    coil_protocol *p = coil_result_ptr(protocol);
    coil_transport_writef(p->transport, "%s\n", (const char *)text);
    coil_transport_lose_write_connection(p->transport); /* "that's all" */
    return protocol;
}

static coil_result cannot_connect(coil_result failure, void *reactor)
{
    fprintf(stderr, "%s\n", coil_failure_message(coil_result_failure_of(failure)));
    coil_result_release(failure);
    exit_status = 1;
    coil_reactor_stop(reactor);
    return coil_result_none();
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: endpoint_client DESCRIPTION TEXT\n");
        return 2;
    }
    coil_reactor *reactor;
    if (coil_reactor_new(&reactor, NULL) < 0)
        return 1;
    coil_protocol_factory factory;
    coil_protocol_factory_init(&factory, sizeof(coil_protocol), &client_ops, NULL);
    coil_deferred *d = coil_connect_string(reactor, argv[1], &factory.base);
    coil_deferred_add_callbacks(d, send_text, NULL, argv[2]);
    coil_deferred_add_errback(d, cannot_connect, reactor);
    coil_deferred_unref(d);
    coil_reactor_run(reactor);
    coil_reactor_free(reactor);
    return exit_status;
}
