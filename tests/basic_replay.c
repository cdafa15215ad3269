/* SPDX-License-Identifier: MIT */
/*
 * Replays byte streams through coil's receivers and prints what they
 * deliver, for basic_vs_twisted.py, which runs the same cases through
 * Twisted's own classes and compares. Built from the receiver sources and
 * the fuzzers' fake transport (tests/fuzz/fake_transport.c).
 *
 * stdin, one case after another:
 *   case KIND DELIM_HEX MAX XMODE     KIND: line lineonly netstring int32
 *                                      int16 int8
 *   chunk HEX                          (repeated)
 *   end
 * stdout, per case: one event per line ("L hex", "R hex", "X hex", "C hex",
 * "S hex", "E" for a netstring/IntN violation), then "disconnected" if the
 * transport was lost, then "end".
 *
 * The line protocol mirrors Twisted's LineTester: a line starting with 'R'
 * switches to raw mode for 1 + len % 16 bytes (then set_line_mode(rest)),
 * 'P' pauses (resumed after the chunk), 'Q' loses the connection, 'C'
 * clears the buffer. XMODE 0: line_length_exceeded loses the connection;
 * 1: it re-feeds the bytes past max_length + 1 (LineTester). lineonly:
 * 'Q' loses the connection, line_length_exceeded too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coil/basic.h>

#include "fuzz/fake_transport.h"

static void hexline(char kind, const void *data, size_t len)
{
    const unsigned char *p = data;
    printf("%c ", kind);
    for (size_t i = 0; i < len; i++)
        printf("%02x", p[i]);
    putchar('\n');
}

static size_t unhex(const char *s, unsigned char *out)
{
    size_t n = 0;
    while (s[0] && s[1] && s[0] != '\n') {
        unsigned v;
        CHECK(sscanf(s, "%2x", &v) == 1);
        out[n++] = (unsigned char)v;
        s += 2;
    }
    return n;
}

typedef struct replay {
    union {
        coil_line_receiver lr;
        coil_line_only_receiver lo;
        coil_netstring_receiver ns;
        coil_intn_receiver in;
    } u;
    coil_transport t;
    size_t budget;
    int xmode;
} replay;

static void on_line(coil_line_receiver *lr, const char *line, size_t len)
{
    replay *r = (replay *)lr;
    hexline('L', line, len);
    char op = len ? line[0] : 0;
    if (op == 'R') {
        r->budget = 1 + len % 16;
        coil_line_receiver_set_raw_mode(lr);
    } else if (op == 'P') {
        coil_line_receiver_pause_producing(lr);
    } else if (op == 'Q') {
        coil_transport_lose_connection(&r->t);
    } else if (op == 'C') {
        char *rest;
        size_t n;
        CHECK(coil_line_receiver_clear_line_buffer(lr, &rest, &n) == 0);
        hexline('C', rest ? rest : "", n);
        free(rest);
    }
}

static void on_raw(coil_line_receiver *lr, const void *data, size_t len)
{
    replay *r = (replay *)lr;
    size_t take = len < r->budget ? len : r->budget;
    hexline('R', data, take);
    r->budget -= take;
    if (r->budget == 0)
        coil_line_receiver_set_line_mode(lr, (const char *)data + take, len - take);
}

static void on_long(coil_line_receiver *lr, const char *data, size_t len)
{
    replay *r = (replay *)lr;
    hexline('X', data, len);
    if (r->xmode == 0)
        coil_transport_lose_connection(&r->t);
    else if (len > lr->max_length + 1)
        coil_line_receiver_set_line_mode(lr, data + lr->max_length + 1, len - lr->max_length - 1);
}

static const coil_line_receiver_ops line_ops = {
    .line_received = on_line, .raw_data_received = on_raw, .line_length_exceeded = on_long};

static void on_only_line(coil_line_only_receiver *lr, const char *line, size_t len)
{
    hexline('L', line, len);
    if (len && line[0] == 'Q')
        coil_transport_lose_connection(&((replay *)lr)->t);
}

static void on_only_long(coil_line_only_receiver *lr, const char *data, size_t len)
{
    hexline('X', data, len);
    coil_transport_lose_connection(&((replay *)lr)->t);
}

static const coil_line_only_receiver_ops only_ops = {.line_received = on_only_line,
                                                     .line_length_exceeded = on_only_long};

static void on_ns(coil_netstring_receiver *r, const void *data, size_t len)
{
    hexline('S', data, len);
}

static void on_ns_error(coil_netstring_receiver *r, int err)
{
    printf("E\n");
}

static const coil_netstring_receiver_ops ns_ops = {.string_received = on_ns,
                                                   .netstring_error = on_ns_error};

static void on_in(coil_intn_receiver *r, const void *data, size_t len)
{
    hexline('S', data, len);
}

static void on_limit(coil_intn_receiver *r, size_t length)
{
    printf("E\n");
    coil_transport_lose_connection(&((replay *)r)->t);
}

static const coil_intn_receiver_ops in_ops = {.string_received = on_in,
                                              .length_limit_exceeded = on_limit};

int main(void)
{
    static char line[1 << 20];
    static unsigned char buf[1 << 19];
    replay *r = NULL;
    char kind[16] = "";
    while (fgets(line, sizeof(line), stdin)) {
        if (strncmp(line, "case ", 5) == 0) {
            char delim_hex[64];
            size_t max;
            int xmode;
            CHECK(sscanf(line, "case %15s %63s %zu %d", kind, delim_hex, &max, &xmode) == 4);
            r = calloc(1, sizeof(*r));
            CHECK(r != NULL);
            r->xmode = xmode;
            if (strcmp(kind, "line") == 0) {
                coil_line_receiver_init(&r->u.lr, &line_ops);
                unsigned char d[32];
                size_t dl = unhex(delim_hex, d);
                CHECK(coil_line_receiver_set_delimiter(&r->u.lr, d, dl) == 0);
                r->u.lr.max_length = max;
            } else if (strcmp(kind, "lineonly") == 0) {
                coil_line_only_receiver_init(&r->u.lo, &only_ops);
                unsigned char d[32];
                size_t dl = unhex(delim_hex, d);
                CHECK(coil_line_only_receiver_set_delimiter(&r->u.lo, d, dl) == 0);
                r->u.lo.max_length = max;
            } else if (strcmp(kind, "netstring") == 0) {
                coil_netstring_receiver_init(&r->u.ns, &ns_ops);
                r->u.ns.max_length = max;
            } else {
                unsigned pl = strcmp(kind, "int32") == 0 ? 4 : strcmp(kind, "int16") == 0 ? 2 : 1;
                CHECK(coil_intn_receiver_init(&r->u.in, &in_ops, pl) == 0);
                r->u.in.max_length = max;
            }
            /* base is the first member of each receiver */
            r->u.lr.base.transport = &r->t;
        } else if (strncmp(line, "chunk ", 6) == 0) {
            CHECK(r != NULL);
            if (r->t.disconnecting)
                continue; /* a transport stops reading once closing */
            size_t n = unhex(line + 6, buf);
            if (strcmp(kind, "lineonly") == 0) {
                coil_line_only_receiver_data_received(&r->u.lo, buf, n);
            } else if (kind[0] == 'l') {
                coil_line_receiver_data_received(&r->u.lr, buf, n);
                while (r->u.lr.priv.paused && !r->t.disconnecting)
                    coil_line_receiver_resume_producing(&r->u.lr);
            } else if (kind[0] == 'n') {
                coil_netstring_receiver_data_received(&r->u.ns, buf, n);
            } else {
                coil_intn_receiver_data_received(&r->u.in, buf, n);
            }
        } else if (strncmp(line, "end", 3) == 0) {
            CHECK(r != NULL);
            if (r->t.disconnecting)
                printf("disconnected\n");
            printf("end\n");
            if (strcmp(kind, "lineonly") == 0)
                coil_line_only_receiver_release(&r->u.lo);
            else if (kind[0] == 'l')
                coil_line_receiver_release(&r->u.lr);
            else if (kind[0] == 'n')
                coil_netstring_receiver_release(&r->u.ns);
            else
                coil_intn_receiver_release(&r->u.in);
            free(r);
            r = NULL;
        }
    }
    return 0;
}
