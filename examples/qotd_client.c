/* SPDX-License-Identifier: MIT */
/* Tutorial, chapter 2: a Quote of the Day client. Run: ./qotd_client [DESCRIPTION] */
#include <coil/coil.h>
#include <stdio.h>
#include <stdlib.h>

static int exit_status;

static void print_quote(coil_protocol *p COIL_UNUSED, const void *data, size_t len)
{
    fwrite(data, 1, len, stdout);
}

static void quote_done(coil_protocol *p, int reason COIL_UNUSED) /* the server closed: done */
{
    coil_reactor_stop(coil_transport_reactor(p->transport));
    free(p);
}

static const coil_protocol_ops qotd_ops = {.data_received = print_quote,
                                           .connection_lost = quote_done};

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
    coil_reactor *reactor;
    if (coil_reactor_new(&reactor, NULL) < 0)
        return 1;
    coil_protocol_factory factory;
    coil_protocol_factory_init(&factory, sizeof(coil_protocol), &qotd_ops, NULL);
    const char *where = argc > 1 ? argv[1] : "tcp:127.0.0.1:8017";
    coil_deferred *connected = coil_connect_string(reactor, where, &factory.base);
    coil_deferred_add_errback(connected, cannot_connect, reactor);
    coil_deferred_unref(connected);
    coil_reactor_run(reactor);
    coil_reactor_free(reactor);
    return exit_status;
}
