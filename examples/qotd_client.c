/* SPDX-License-Identifier: MIT */
/* Tutorial, chapter 2: a Quote of the Day client. Run: ./qotd_client [DESCRIPTION] */
#include <coil/coil.h>
#include <stdio.h>
#include <stdlib.h>

static void print_quote(coil_protocol *p COIL_UNUSED, const void *data, size_t len)
{
    fwrite(data, 1, len, stdout);
}

static void quote_done(coil_protocol *p, int reason COIL_UNUSED)
{
    free(p);
}

static const coil_protocol_ops qotd_ops = {.data_received = print_quote,
                                           .connection_lost = quote_done};

/* Twisted's main(reactor, ...): connect, then wait for the server to close. */
static coil_deferred *qotd(coil_reactor *reactor, void *where)
{
    static coil_protocol_factory factory;
    coil_protocol_factory_init(&factory, sizeof(coil_protocol), &qotd_ops, NULL);
    coil_deferred *d = coil_connect_string(reactor, where, &factory.base);
    coil_deferred_add_callback(d, coil_result_when_lost, NULL);
    return d;
}

int main(int argc, char **argv)
{
    return coil_react(qotd, argc > 1 ? argv[1] : "tcp:127.0.0.1:8017");
}
