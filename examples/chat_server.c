/* SPDX-License-Identifier: MIT */
/* Tutorial, chapter 1 (second half): Twisted's chat server over a line
 * protocol. Run: ./chat_server [DESCRIPTION], then talk with
 * `socat - TCP:127.0.0.1:8123,crlf` from two terminals. */
#include <coil/coil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct chatter {
    coil_line_receiver lines; /* first: the receiver is the protocol */
    struct chatter *next;     /* in the room once named */
    char name[64];            /* empty until chosen */
} chatter;

static chatter *room;
static int exit_status;

static chatter *named(const char *name)
{
    for (chatter *c = room; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static void ask_name(coil_line_receiver *lr)
{
    coil_line_receiver_send_linef(lr, "What's your name?");
}

static void line_received(coil_line_receiver *lr, const char *line, size_t len)
{
    chatter *me = (chatter *)lr;
    if (me->name[0] == '\0') { /* Twisted's GETNAME state */
        char name[sizeof(me->name)];
        snprintf(name, sizeof(name), "%.*s", (int)len, line);
        if (named(name)) {
            coil_line_receiver_send_linef(lr, "Name taken, please choose another.");
            return;
        }
        coil_line_receiver_send_linef(lr, "Welcome, %s!", name);
        strcpy(me->name, name);
        me->next = room;
        room = me;
        return;
    }
    for (chatter *c = room; c; c = c->next) /* CHAT: to everyone else */
        if (c != me)
            coil_line_receiver_send_linef(&c->lines, "<%s> %.*s", me->name, (int)len, line);
}

static void leave(coil_line_receiver *lr, int reason COIL_UNUSED)
{
    for (chatter **c = &room; *c; c = &(*c)->next)
        if (*c == (chatter *)lr) {
            *c = (*c)->next;
            break;
        }
    free(lr);
}

static const coil_line_receiver_ops chat_ops = {
    .connection_made = ask_name, .line_received = line_received, .connection_lost = leave};

static coil_result cannot_listen(coil_result failure, void *reactor)
{
    fprintf(stderr, "%s\n", coil_failure_message(coil_result_failure_of(failure)));
    coil_result_release(failure);
    coil_reactor_stop(reactor);
    exit_status = 1;
    return coil_result_none();
}

int main(int argc, char **argv)
{
    coil_reactor *reactor;
    if (coil_reactor_new(&reactor, NULL) < 0)
        return 1;
    coil_protocol_factory factory;
    coil_line_receiver_factory_init(&factory, sizeof(chatter), &chat_ops, NULL);
    coil_deferred *d = coil_listen_string(reactor, argc > 1 ? argv[1] : "tcp:8123", &factory.base);
    coil_deferred_add_errback(d, cannot_listen, reactor);
    coil_deferred_unref(d);
    coil_reactor_run(reactor);
    coil_reactor_free(reactor);
    return exit_status;
}
