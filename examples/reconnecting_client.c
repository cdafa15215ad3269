/* SPDX-License-Identifier: MIT */
/* Tutorial, chapter 5: a client that stays connected, reconnecting with
 * back-off. Run: ./reconnecting_client 'tcp:127.0.0.1:8000' */
#include <coil/coil.h>
#include <stdio.h>
#include <stdlib.h>

static void greet(coil_protocol *p)
{
    printf("connected\n");
    coil_transport_writef(p->transport, "hello again\n");
}

static void show(coil_protocol *p COIL_UNUSED, const void *data, size_t len)
{
    fwrite(data, 1, len, stdout);
}

static void lost(coil_protocol *p, int reason)
{
    printf("connection lost: %s\n", reason ? coil_strerror(reason) : "closed by the server");
    free(p);
}

static const coil_protocol_ops client_ops = {
    .connection_made = greet, .data_received = show, .connection_lost = lost};

int main(int argc, char **argv)
{
    coil_reactor *reactor;
    coil_client_service *client;
    coil_protocol_factory factory;
    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, also into a pipe */
    if (argc != 2 || coil_reactor_new(&reactor, NULL) < 0)
        return 2;
    coil_protocol_factory_init(&factory, sizeof(coil_protocol), &client_ops, NULL);
    /* No error buffer: a bad description is logged with the reason. */
    if (coil_client_service_new_from_string(reactor, argv[1], &factory.base, NULL, &client, NULL,
                                            0) < 0)
        return 2;
    coil_service_run_under(coil_client_service_service(client), reactor);
    coil_reactor_run(reactor); /* until SIGINT or SIGTERM; the service stops first */
    coil_client_service_free(client);
    coil_reactor_free(reactor);
    return 0;
}
