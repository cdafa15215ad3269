/* SPDX-License-Identifier: MIT */
/*
 * idle_conns - memory cost of idle connections on an echo server.
 *
 * Samples the server's VmRSS (--server-pid), opens --conns connections
 * (ramped, RLIMIT_NOFILE raised to the hard limit), optionally sends one
 * --msg byte message on each and waits for its echo (so the server has
 * surely accepted the connection and armed a receive), waits --settle
 * seconds, samples VmRSS again and prints the growth per connection. Then
 * it closes everything and samples once more (to spot leaks). It also
 * reports the growth of the kernel's slab memory (/proc/meminfo Slab) per
 * connection: system-wide, so client and server sockets together. With
 * --rtt N it then times N sequential round trips of --msg bytes on one of
 * the connections while all the others stay idle (what one request costs a
 * server that watches many idle descriptors) and reports the median and
 * p99. Every phase is bounded: 5 s without progress, EOF, errors or
 * exceeding --timeout exit nonzero with a message.
 *
 * usage: idle_conns [--host H] --port P | --unix PATH [--conns N] [--msg BYTES]
 *        [--server-pid PID] [--settle SEC] [--timeout SEC] [--rtt N] [--label TEXT] [--json]
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PROG "idle_conns"
#include "client_common.h"

#define CONNECT_INFLIGHT 64
#define STALL_S 5.0

enum { C_NEW, C_CONNECTING, C_WAITING, C_DONE };

struct conn {
    int fd, state;
    int got;
};

static struct {
    const char *host, *port, *unix_path, *label;
    long conns, msg, pid, rtt;
    double settle, timeout;
    bool json;
} opt = {"127.0.0.1", "7", NULL, "", 10000, 16, 0, 0, 0.5, 60, false};

static struct sockaddr_storage addr;
static socklen_t addrlen;
static char msg[4096];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A "Key: 123 kB" line of /proc/PID/status (pid 0: /proc/meminfo), in KiB. */
static long status_kb(long pid, const char *key)
{
    char path[64], line[256];
    long v = -1;
    size_t kl = strlen(key);
    snprintf(path, sizeof(path), pid ? "/proc/%ld/status" : "/proc/meminfo", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot read %s (server gone?)", path);
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, kl) && line[kl] == ':')
            v = strtol(line + kl + 1, NULL, 10);
    fclose(f);
    return v;
}

static void resolve(void)
{
    resolve_target(opt.host, opt.port, opt.unix_path, &addr, &addrlen);
}

static void parse(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", 1, 0, 'h'},    {"port", 1, 0, 'p'},       {"unix", 1, 0, 'u'},
        {"conns", 1, 0, 'c'},   {"msg", 1, 0, 'm'},        {"server-pid", 1, 0, 'P'},
        {"settle", 1, 0, 's'},  {"timeout", 1, 0, 't'},    {"label", 1, 0, 'l'},
        {"json", 0, 0, 'j'},    {"rtt", 1, 0, 'r'},        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'h': opt.host = optarg; break;
        case 'p': opt.port = optarg; break;
        case 'u': opt.unix_path = optarg; break;
        case 'c': opt.conns = atol(optarg); break;
        case 'm': opt.msg = atol(optarg); break;
        case 'P': opt.pid = atol(optarg); break;
        case 's': opt.settle = atof(optarg); break;
        case 't': opt.timeout = atof(optarg); break;
        case 'l':
            for (char *q = optarg; *q; q++) /* keep the JSON valid */
                if (*q == '"' || *q == '\\' || (unsigned char)*q < 0x20)
                    *q = '_';
            opt.label = optarg;
            break;
        case 'j': opt.json = true; break;
        case 'r': opt.rtt = atol(optarg); break;
        default:
            fprintf(stderr, "usage: idle_conns [--host H] --port P | --unix PATH [--conns N] "
                            "[--msg BYTES] [--server-pid PID] [--settle SEC] [--timeout SEC] "
                            "[--rtt N] [--label TEXT] [--json]\n");
            exit(2);
        }
    }
    if (opt.conns < 1 || opt.msg < 0 || opt.msg > (long)sizeof(msg) || opt.pid < 0 ||
        opt.rtt < 0 || (opt.rtt && opt.msg == 0))
        die("bad --conns/--msg/--server-pid/--rtt (--rtt needs --msg > 0)");
}

/* Poll for `secs`, failing if any connection reports EOF or an error. */
static void watch_idle(int ep, double secs)
{
    struct epoll_event evs[64];
    for (double end = now() + secs, t = now(); t < end; t = now()) {
        int n = epoll_wait(ep, evs, 64, (int)((end - t) * 1000) + 1);
        for (int i = 0; i < n; i++)
            die("server sent data or closed an idle connection (conn %u)", evs[i].data.u32);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* --rtt: sequential round trips on `fd`; median and p99 in microseconds. */
static void time_round_trips(int fd, double *p50, double *p99)
{
    double *v = malloc((size_t)opt.rtt * sizeof(*v));
    char rbuf[4096];
    if (!v)
        die("out of memory");
    for (long i = 0; i < opt.rtt; i++) {
        double t = now();
        if (send(fd, msg, (size_t)opt.msg, MSG_NOSIGNAL) != opt.msg)
            die("rtt send: %s", strerror(errno));
        for (long got = 0; got < opt.msg;) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            if (poll(&pfd, 1, (int)(STALL_S * 1000)) <= 0)
                die("rtt: no echo within %.0f s", STALL_S);
            ssize_t r = recv(fd, rbuf, sizeof(rbuf), 0);
            if (r <= 0 && !(r < 0 && errno == EAGAIN))
                die("rtt recv: %s", r == 0 ? "closed by server" : strerror(errno));
            got += r > 0 ? r : 0;
        }
        v[i] = (now() - t) * 1e6;
    }
    qsort(v, (size_t)opt.rtt, sizeof(*v), cmp_double);
    *p50 = v[opt.rtt / 2];
    *p99 = v[(size_t)((double)(opt.rtt - 1) * 0.99)];
    free(v);
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    resolve();
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (char)('a' + i % 26);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if ((rlim_t)opt.conns + 16 > rl.rlim_cur)
        die("--conns %ld exceeds RLIMIT_NOFILE (%lu)", opt.conns, (unsigned long)rl.rlim_cur);

    size_t n = (size_t)opt.conns, next = 0, inflight = 0, done = 0;
    struct conn *c = calloc(n, sizeof(*c));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!c || ep < 0)
        die("setup: %s", strerror(errno));
    long rss0 = opt.pid ? status_kb(opt.pid, "VmRSS") : -1, slab0 = status_kb(0, "Slab");
    double t0 = now(), progress = t0;
    struct epoll_event evs[256];
    char rbuf[4096];
    while (done < n) {
        while (next < n && inflight < CONNECT_INFLIGHT) {
            struct conn *k = &c[next];
            k->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (k->fd < 0)
                die("socket: %s", strerror(errno));
            struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)next};
            epoll_ctl(ep, EPOLL_CTL_ADD, k->fd, &ev);
            if (connect(k->fd, (struct sockaddr *)&addr, addrlen) < 0 && errno != EINPROGRESS) {
                if (errno != EAGAIN || addr.ss_family != AF_UNIX)
                    die("connect #%zu: %s", next, strerror(errno));
                close(k->fd); /* unix backlog full: retry shortly */
                break;
            }
            k->state = C_CONNECTING;
            next++, inflight++;
        }
        int ne = epoll_wait(ep, evs, 256, 10);
        double t = now();
        for (int i = 0; i < ne; i++) {
            uint32_t id = evs[i].data.u32;
            struct conn *k = &c[id];
            if (k->state == C_CONNECTING) {
                int err = 0, one = 1;
                socklen_t len = sizeof(err);
                getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err)
                    die("connect #%u: %s", id, strerror(err));
                if (addr.ss_family != AF_UNIX)
                    setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                inflight--;
                progress = t;
                if (opt.msg && send(k->fd, msg, (size_t)opt.msg, MSG_NOSIGNAL) != opt.msg)
                    die("send #%u: %s", id, strerror(errno));
                k->state = opt.msg ? C_WAITING : C_DONE;
                done += !opt.msg;
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = id};
                epoll_ctl(ep, EPOLL_CTL_MOD, k->fd, &ev);
            } else if (k->state == C_WAITING) {
                ssize_t r = recv(k->fd, rbuf, sizeof(rbuf), 0);
                if (r <= 0 && !(r < 0 && errno == EAGAIN))
                    die("conn #%u: %s", id, r == 0 ? "closed by server" : strerror(errno));
                if (r > 0 && (k->got + r > opt.msg || memcmp(rbuf, msg + k->got, (size_t)r)))
                    die("conn #%u: echo does not match what was sent", id);
                k->got += r > 0 ? (int)r : 0;
                progress = t;
                if (k->got == opt.msg)
                    k->state = C_DONE, done++;
            } else {
                die("conn #%u: unexpected data or close from the server", id);
            }
        }
        if (t - progress > STALL_S)
            die("no progress for %.0f s: %zu/%zu connects started, %zu done", STALL_S, next,
                n, done);
        if (t - t0 > opt.timeout)
            die("timeout after %.0f s: %zu/%zu done", opt.timeout, done, n);
    }
    double t_open = now() - t0;
    watch_idle(ep, opt.settle);
    long slab1 = status_kb(0, "Slab");
    long rss1 = opt.pid ? status_kb(opt.pid, "VmRSS") : -1;
    long hwm = opt.pid ? status_kb(opt.pid, "VmHWM") : -1;
    double rtt50 = 0, rtt99 = 0;
    if (opt.rtt)
        time_round_trips(c[n / 2].fd, &rtt50, &rtt99);
    for (size_t i = 0; i < n; i++)
        close(c[i].fd);
    usleep((useconds_t)(opt.settle * 1e6));
    long rss2 = opt.pid ? status_kb(opt.pid, "VmRSS") : -1;
    double per = opt.pid ? (double)(rss1 - rss0) * 1024.0 / (double)n : 0;
    double kper = (double)(slab1 - slab0) * 1024.0 / (double)n; /* both ends, whole system */
    char pers[32] = "null";
    if (opt.pid)
        snprintf(pers, sizeof(pers), "%.0f", per);
    if (opt.rtt && opt.json)
        printf("{\"tool\":\"idle_conns\",\"label\":\"%s\",\"conns\":%ld,\"msg\":%ld,"
               "\"rtt_n\":%ld,\"rtt_p50_us\":%.1f,\"rtt_p99_us\":%.1f}\n",
               opt.label, opt.conns, opt.msg, opt.rtt, rtt50, rtt99);
    else if (opt.rtt) /* the round trips are what was asked for */
        printf("%s%s%ld idle conns: %ld round trips of %ld B on one: p50 %.1f us, p99 %.1f us\n",
               opt.label, *opt.label ? ": " : "", opt.conns, opt.rtt, opt.msg, rtt50, rtt99);
    else if (opt.json)
        printf("{\"tool\":\"idle_conns\",\"label\":\"%s\",\"conns\":%ld,\"msg\":%ld,"
               "\"open_s\":%.3f,\"rss_before_kb\":%ld,\"rss_idle_kb\":%ld,\"hwm_kb\":%ld,"
               "\"rss_after_close_kb\":%ld,\"bytes_per_conn\":%s,\"slab_bytes_per_conn\":%.0f}\n",
               opt.label, opt.conns, opt.msg, t_open, rss0, rss1, hwm, rss2, pers, kper);
    else if (opt.pid)
        printf("%s%s%ld conns (msg %ld B) open in %.2f s | server RSS %ld -> %ld KiB "
               "(%.0f B/conn), hwm %ld KiB, %ld KiB after close | kernel slab %.0f B/conn "
               "(client+server)\n",
               opt.label, *opt.label ? ": " : "", opt.conns, opt.msg, t_open, rss0, rss1, per,
               hwm, rss2, kper);
    else
        printf("%s%s%ld conns (msg %ld B) open in %.2f s | kernel slab %.0f B/conn "
               "(client+server; no --server-pid: no RSS figures)\n",
               opt.label, *opt.label ? ": " : "", opt.conns, opt.msg, t_open, kper);
    return 0;
}
