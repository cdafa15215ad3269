/* SPDX-License-Identifier: MIT */
/* Tutorial, chapter 1: an echo server. Run: ./echo_server [DESCRIPTION] */
#include <coil/coil.h>
#include <stdio.h>
#include <stdlib.h>

static void echo_data(coil_protocol *p, const void *data, size_t len)
{
    coil_transport_write(p->transport, data, len); /* data is valid only during this call */
}

static void echo_lost(coil_protocol *p, int reason COIL_UNUSED)
{
    free(p); /* the last call coil makes on this protocol */
}

static const coil_protocol_ops echo_ops = {.data_received = echo_data,
                                           .connection_lost = echo_lost};

static int exit_status;

static coil_result cannot_listen(coil_result failure, void *reactor)
{
    fprintf(stderr, "%s\n", coil_failure_message(coil_result_failure_of(failure)));
    coil_result_release(failure);
    coil_reactor_stop(reactor); /* kept even though run() has not started yet */
    exit_status = 1;
    return coil_result_none(); /* handled */
}

int main(int argc, char **argv)
{
    coil_reactor *reactor;
    if (coil_reactor_new(&reactor, NULL) < 0)
        return 1;
    coil_protocol_factory factory;
    coil_protocol_factory_init(&factory, sizeof(coil_protocol), &echo_ops, NULL);
    const char *where = argc > 1 ? argv[1] : "tcp:8000:interface=127.0.0.1";
    coil_deferred *listening = coil_listen_string(reactor, where, &factory.base);
    coil_deferred_add_errback(listening, cannot_listen, reactor);
    coil_deferred_unref(listening);
    if (exit_status == 0)
        printf("echoing on %s\n", where);
    fflush(stdout);
    coil_reactor_run(reactor); /* until SIGINT or SIGTERM */
    coil_reactor_free(reactor);
    return exit_status;
}
