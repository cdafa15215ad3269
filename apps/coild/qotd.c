/* SPDX-License-Identifier: MIT */
/* `coild qotd`: Quote of the Day (RFC 865): send the quote, then close. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "plugin.h"

static const char *quote = "An apple a day keeps the doctor away.";

static void qotd_made(coil_protocol *p)
{
    coil_transport_write(p->transport, quote, strlen(quote));
    coil_transport_write(p->transport, "\r\n", 2);
    coil_transport_lose_connection(p->transport);
}

static void qotd_data(coil_protocol *p, const void *data, size_t len)
{
    /* RFC 865: anything the client sends is ignored. */
}

static void qotd_lost(coil_protocol *p, int reason)
{
    free(p);
}

static const coil_protocol_ops qotd_ops = {
    .connection_made = qotd_made,
    .data_received = qotd_data,
    .connection_lost = qotd_lost,
};

static coil_protocol *qotd_build(coil_factory *f, const coil_address *addr)
{
    coil_protocol *p = calloc(1, sizeof(*p));
    if (p)
        p->ops = &qotd_ops;
    return p;
}

static const coil_factory_ops qotd_factory_ops = {.build_protocol = qotd_build};
static coil_factory qotd_factory = {.ops = &qotd_factory_ops};

static void qotd_usage(FILE *out)
{
    fprintf(out, "Usage: coild [options] qotd --port PORT [--quote TEXT]\n"
                 "  --port PORT   where to listen, a server endpoint description\n"
                 "                (default 8017, see coild echo --help)\n"
                 "  --quote TEXT  the quote to serve\n");
}

static int qotd_start(coil_reactor *r, int argc, char **argv)
{
    coild_ports ports = {0};
    for (int i = 1; i < argc; i++) {
        int m = coild_opt_port(argc, argv, &i, &ports);
        if (m == 0)
            m = coild_opt(argc, argv, &i, "quote", &quote);
        if (m < 0)
            return -EINVAL;
        if (m == 0) {
            fprintf(stderr, "coild qotd: unknown option '%s'\n", argv[i]);
            qotd_usage(stderr);
            return -EINVAL;
        }
    }
    return coild_listen_all(r, &ports, "8017", &qotd_factory);
}

const coild_plugin coild_qotd_plugin = {
    .name = "qotd",
    .description = "serve a quote of the day, then close",
    .usage = qotd_usage,
    .start = qotd_start,
};
