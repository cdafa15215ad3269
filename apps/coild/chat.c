/* SPDX-License-Identifier: MIT */
/*
 * `coild chat`: the chat server of Twisted's "Writing Servers" howto, over
 * coil's LineReceiver. A new client is asked for a name; once it has a
 * free one, every line it sends goes to all the other named clients as
 * "<NAME> message".
 *
 * The users live in a list owned by the factory; a chatter is on it from
 * its welcome until its connection_lost, which unlinks and frees it (the
 * last call coil makes on a protocol).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "plugin.h"

/* A chatter whose peer does not read more than this is dropped, so one
 * stuck client cannot make the server buffer every message for ever. */
#define CHAT_MAX_QUEUED (1024 * 1024)

typedef struct chatter {
    coil_line_receiver lr; /* first: coil sees a protocol */
    struct chatter *prev, *next;
    char *name; /* NULL until the client picked a free name */
    size_t name_len;
} chatter;

static chatter *users; /* the named chatters */

static chatter *find_user(const char *name, size_t len)
{
    for (chatter *c = users; c; c = c->next)
        if (c->name_len == len && memcmp(c->name, name, len) == 0)
            return c;
    return NULL;
}

static void chat_made(coil_line_receiver *lr)
{
    coil_line_receiver_send_line(lr, "What's your name?", 17);
}

static void handle_getname(chatter *c, const char *name, size_t len)
{
    if (find_user(name, len)) {
        coil_line_receiver_send_line(&c->lr, "Name taken, please choose another.", 34);
        return;
    }
    c->name = malloc(len + 1);
    if (!c->name) {
        coil_transport_lose_connection(c->lr.base.transport);
        return;
    }
    memcpy(c->name, name, len);
    c->name[len] = '\0';
    c->name_len = len;
    coil_line_receiver_send_linef(&c->lr, "Welcome, %.*s!", (int)len, name);
    c->next = users;
    if (users)
        users->prev = c;
    users = c;
}

static void handle_chat(chatter *from, const char *msg, size_t len)
{
    for (chatter *c = users; c; c = c->next) {
        if (c == from)
            continue;
        coil_transport *t = c->lr.base.transport;
        if (coil_transport_is_disconnecting(t))
            continue; /* leaving (or dropped): it gets nothing more */
        if (coil_transport_write_buffer_size(t) > CHAT_MAX_QUEUED) {
            /* Aborting calls nothing back now: the list stays intact. */
            coil_log(COIL_LOG_WARN, "chat", "dropping %.*s: not reading", (int)c->name_len,
                     c->name);
            coil_transport_abort_connection(t);
            continue;
        }
        coil_line_receiver_send_linef(&c->lr, "<%.*s> %.*s", (int)from->name_len, from->name,
                                      (int)len, msg);
    }
}

static void chat_line(coil_line_receiver *lr, const char *line, size_t len)
{
    chatter *c = (chatter *)lr;
    if (!c->name)
        handle_getname(c, line, len);
    else
        handle_chat(c, line, len);
}

static void chat_lost(coil_line_receiver *lr, int reason)
{
    chatter *c = (chatter *)lr;
    if (c->name) {
        if (c->prev)
            c->prev->next = c->next;
        else
            users = c->next;
        if (c->next)
            c->next->prev = c->prev;
    }
    free(c->name);
    free(c);
}

static const coil_line_receiver_ops chat_ops = {
    .connection_made = chat_made,
    .line_received = chat_line,
    .connection_lost = chat_lost,
};

static coil_protocol *chat_build(coil_factory *f, const coil_address *addr)
{
    chatter *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    coil_line_receiver_init(&c->lr, &chat_ops);
    return &c->lr.base;
}

static const coil_factory_ops chat_factory_ops = {.build_protocol = chat_build};
static coil_factory chat_factory = {.ops = &chat_factory_ops};

static void chat_usage(FILE *out)
{
    fprintf(out, "Usage: coild [options] chat --port PORT\n"
                 "  --port PORT   where to listen, a server endpoint description\n"
                 "                (default 8123, see coild echo --help)\n"
                 "Clients send lines ending in CRLF: first a name, then messages.\n");
}

static int chat_start(coil_reactor *r, int argc, char **argv)
{
    coild_ports ports = {0}; /* every --port adds a listener */
    for (int i = 1; i < argc; i++) {
        int m = coild_opt_port(argc, argv, &i, &ports);
        if (m < 0)
            return -EINVAL;
        if (m == 0) {
            fprintf(stderr, "coild chat: unknown option '%s'\n", argv[i]);
            chat_usage(stderr);
            return -EINVAL;
        }
    }
    return coild_listen_all(r, &ports, "8123", &chat_factory);
}

const coild_plugin coild_chat_plugin = {
    .name = "chat",
    .description = "a line-based chat room (Twisted's howto chat server)",
    .usage = chat_usage,
    .start = chat_start,
};
