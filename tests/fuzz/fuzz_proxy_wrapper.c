/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the PROXY wrapper (the haproxy: server endpoint)
 * fed byte-split reads: one reactor (poll backend, so each piece is one
 * read) listens with haproxy:unix:...; each input is
 *
 *   byte 0      a seed for the piece sizes (1..16 bytes each)
 *   bytes 1..   what a client sends, then it closes
 *
 * and is written piece by piece over a fresh connection, with a loop turn
 * after each piece, so the wrapper sees the header split at every kind of
 * boundary. Checks: no crash, no leak (ASan), the connection always ends
 * (the wrapper closes it, or hands it to the application, whose
 * connection_lost runs exactly once), and nothing stays open.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <coil/coil.h>
#include <coil/endpoint.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static coil_reactor *reactor;
static char path[108];
static int made, lost;

static void app_made(coil_protocol *p)
{
    made++;
}

static void app_data(coil_protocol *p, const void *data, size_t len)
{
}

static void app_lost(coil_protocol *p, int reason)
{
    lost++;
    free(p);
}

static const coil_protocol_ops app_ops = {
    .connection_made = app_made, .data_received = app_data, .connection_lost = app_lost};

static coil_protocol *app_build(coil_factory *f, const coil_address *peer)
{
    coil_protocol *p = calloc(1, sizeof(*p));
    CHECK(p);
    p->ops = &app_ops;
    return p;
}

static const coil_factory_ops app_factory_ops = {.build_protocol = app_build};
static coil_factory app_factory = {.ops = &app_factory_ops};

static coil_result listened(coil_result res, void *arg)
{
    *(int *)arg = coil_result_is_failure(res) ? -1 : 1;
    return res;
}

static void setup(void)
{
    coil_log_set_level(COIL_LOG_CRITICAL); /* every bad header is a warning */
    coil_reactor_options o;
    coil_reactor_options_init(&o);
    o.flags = COIL_REACTOR_NO_SIGNALS;
    o.backend = COIL_BACKEND_POLL;
    CHECK(coil_reactor_new(&reactor, &o) == 0);
    snprintf(path, sizeof(path), "@coil-fuzz-proxy-wrapper-%ld", (long)getpid());
    coil_server_endpoint *inner = coil_unix_server_endpoint_new(reactor, path, 0, 0, false);
    coil_server_endpoint *ep = coil_haproxy_server_endpoint_new(inner);
    CHECK(ep);
    int state = 0;
    coil_deferred *d = coil_server_endpoint_listen(ep, &app_factory);
    coil_deferred_add_both(d, listened, &state);
    for (int i = 0; i < 100 && state == 0; i++)
        coil_reactor_iterate(reactor, 0.01);
    CHECK(state == 1);
    coil_deferred_unref(d);
    /* The endpoint object is not needed once listening (the port lives on
     * until the process ends, as in a server). */
    coil_server_endpoint_free(ep);
}

static int client(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    memcpy(a.sun_path, path, n);
    a.sun_path[0] = '\0'; /* abstract */
    CHECK(connect(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) == 0);
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!reactor)
        setup();
    if (size < 1)
        return 0;
    size_t live0 = coil_reactor_live_handles(reactor); /* the port */
    int made0 = made, lost0 = lost;
    unsigned seed = data[0];
    data++;
    size--;
    int fd = client();
    /* Wait until the wrapper has the connection. */
    for (int i = 0; i < 1000 && coil_reactor_live_handles(reactor) == live0; i++)
        coil_reactor_iterate(reactor, 0.001);
    CHECK(coil_reactor_live_handles(reactor) == live0 + 1);
    size_t off = 0;
    while (off < size) {
        seed = seed * 1103515245u + 12345u;
        size_t piece = 1 + (seed >> 16) % 16;
        if (piece > size - off)
            piece = size - off;
        ssize_t w = send(fd, data + off, piece, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the wrapper closed already (a bad header) */
        off += (size_t)w;
        coil_reactor_iterate(reactor, 0);
    }
    close(fd);
    /* The connection always ends: closed by the wrapper, or handed over and
     * lost once the client is gone. */
    for (int i = 0; i < 5000 && coil_reactor_live_handles(reactor) > live0; i++)
        coil_reactor_iterate(reactor, 0.001);
    CHECK(coil_reactor_live_handles(reactor) == live0);
    CHECK(made - made0 == lost - lost0); /* connection_lost once per connection_made */
    CHECK(made - made0 <= 1);
    return 0;
}
