/* SPDX-License-Identifier: MIT */
/* Tutorial, chapter 3: ask a line server one question; the answer comes
 * through a Deferred chain. Run: ./ask_client DESCRIPTION QUESTION */
#include <coil/coil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct asker {
    coil_line_receiver lines; /* first: the receiver is the protocol */
    coil_deferred *answer;    /* fires with the first line the server sends */
} asker;

static void answer_received(coil_line_receiver *lr, const char *line, size_t len)
{
    coil_transport_lose_connection(lr->base.transport);
    coil_deferred_callback(((asker *)lr)->answer, coil_result_copy(line, len));
}

static void asker_lost(coil_line_receiver *lr, int reason)
{
    asker *a = (asker *)lr;
    if (!coil_deferred_called(a->answer)) /* closed before answering */
        coil_deferred_errback(a->answer, coil_connection_lost_failure(reason));
    coil_deferred_unref(a->answer);
    free(a);
}

static const coil_line_receiver_ops asker_ops = {.line_received = answer_received,
                                                 .connection_lost = asker_lost};

/* Twisted's client.ask(question): send it, go on with the answer's Deferred. */
static coil_result ask(coil_result connected, void *question)
{
    asker *a = coil_result_ptr(connected);
    a->answer = coil_deferred_new(NULL, NULL);
    coil_line_receiver_send_line(&a->lines, question, strlen(question));
    return coil_result_deferred(coil_deferred_ref(a->answer));
}

static coil_result print_answer(coil_result answer, void *arg COIL_UNUSED)
{
    puts(coil_result_ptr(answer));
    return answer; /* the Deferred frees the string */
}

static coil_deferred *ask_main(coil_reactor *reactor, void *args)
{
    char **argv = args;
    static coil_protocol_factory factory;
    coil_line_receiver_factory_init(&factory, sizeof(asker), &asker_ops, NULL);
    coil_deferred *d = coil_connect_string(reactor, argv[1], &factory.base);
    coil_deferred_add_callback(d, ask, argv[2]);
    coil_deferred_add_callback(d, print_answer, NULL);
    return d;
}

int main(int argc, char **argv)
{
    if (argc == 3)
        return coil_react(ask_main, argv);
    fprintf(stderr, "usage: %s DESCRIPTION QUESTION\n", argv[0]);
    return 2;
}
