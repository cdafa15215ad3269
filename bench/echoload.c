/* SPDX-License-Identifier: MIT */
/*
 * echoload - closed-loop echo load generator for the coil benchmarks.
 *
 * Opens --conns connections (ramped, so a small listen backlog copes), then
 * every connection repeatedly writes --depth messages of --size bytes in one
 * write and waits until all of them have come back. Single thread, level-
 * triggered epoll, non-blocking sockets, TCP_NODELAY, no allocation in the
 * loop. Latency of a message = time of the write that carried its first byte
 * until its last byte is read back, recorded in a log-linear histogram
 * (hist.h). The first --warmup seconds are discarded. With --server-pid it
 * samples the server's utime+stime and memory to report server CPU per
 * message. Any stall of 5 s, EOF, reset or (with --verify) corrupted or
 * reordered data exits nonzero with a message.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PROG "echoload"
#include "client_common.h"

#include "hist.h"

#define NS 1000000000ull
#define MAX_EVENTS 1024
#define RBUF_SIZE (256 * 1024)
#define STALL_NS (5 * NS)
#define CONNECT_INFLIGHT 64

enum { C_CONNECTING, C_RUNNING };
enum { PH_CONNECT, PH_WARMUP, PH_MEASURE };

struct conn {
    int fd, state;
    bool out_armed;        /* EPOLLOUT in the interest set */
    size_t tx, rx;         /* bytes of the current round written / read back */
    size_t txpos, rxpos;   /* position in the pattern (mod period) */
    size_t stamped;        /* messages of this round with a send time */
    uint64_t last;         /* last progress (ns), for the stall watchdog */
    uint64_t *ts;          /* send time of each message of the round */
};

static struct {
    const char *host, *port, *unix_path, *label;
    long conns, size, depth, server_pid;
    double duration, warmup;
    bool verify, json;
} opt = {"127.0.0.1", "7", NULL, "", 1, 64, 1, 0, 5.0, 1.0, false, false};

static struct conn *conns;
static int ep;
static size_t round_len, period;
static unsigned char *pat;          /* 2 * period bytes: any round is contiguous */
static unsigned char rbuf[RBUF_SIZE];
static struct sockaddr_storage addr;
static socklen_t addrlen;
static int phase = PH_CONNECT;
static struct hist hist;
static uint64_t msgs, bytes_rx;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* utime+stime of a process in seconds; -1 if unreadable. */
static double proc_cpu(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* comm may contain spaces */
    unsigned long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A "Key:   123 kB" field of /proc/PID/status in KiB; -1 if unavailable. */
static long proc_status_kb(long pid, const char *key)
{
    char path[64], line[256];
    long v = -1;
    size_t kl = strlen(key);
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, kl) && line[kl] == ':')
            v = strtol(line + kl + 1, NULL, 10);
    fclose(f);
    return v;
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static void set_events(struct conn *c, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0),
                             .data.u32 = (uint32_t)(c - conns)};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    c->out_armed = out;
}

/* Write as much of the current round as the socket takes. */
static void do_write(struct conn *c, uint64_t t)
{
    ssize_t n = send(c->fd, pat + c->txpos, round_len - c->tx, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            die("conn %td: send: %s", c - conns, strerror(errno));
        n = 0;
    }
    c->tx += (size_t)n;
    c->txpos = (c->txpos + (size_t)n) % period;
    while (c->stamped < (size_t)opt.depth && c->stamped * (size_t)opt.size < c->tx)
        c->ts[c->stamped++] = t;
    if (c->tx < round_len && !c->out_armed)
        set_events(c, true);
    else if (c->tx == round_len && c->out_armed)
        set_events(c, false);
}

static void start_round(struct conn *c, uint64_t t)
{
    c->tx = c->rx = c->stamped = 0;
    c->last = t;
    do_write(c, t);
}

static void do_read(struct conn *c)
{
    ssize_t n = recv(c->fd, rbuf, sizeof(rbuf), 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        die("conn %td: recv: %s", c - conns, strerror(errno));
    }
    if (n == 0)
        die("conn %td: server closed the connection (%zu of %zu bytes back)", c - conns, c->rx,
            round_len);
    uint64_t t = now_ns();
    size_t got = (size_t)n;
    if (got > c->tx - c->rx)
        die("conn %td: received %zu bytes but only %zu outstanding", c - conns, got, c->tx - c->rx);
    if (opt.verify && memcmp(rbuf, pat + c->rxpos, got) != 0) {
        size_t i = 0;
        while (rbuf[i] == pat[c->rxpos + i])
            i++;
        die("verify: conn %td: byte %zu of round (message %zu) differs: got 0x%02x want 0x%02x",
            c - conns, c->rx + i, (c->rx + i) / (size_t)opt.size, rbuf[i], pat[c->rxpos + i]);
    }
    size_t first = c->rx / (size_t)opt.size;
    c->rx += got;
    c->rxpos = (c->rxpos + got) % period;
    c->last = t;
    size_t done = c->rx / (size_t)opt.size;
    if (phase == PH_MEASURE) {
        bytes_rx += got;
        for (size_t k = first; k < done; k++)
            hist_record(&hist, t - c->ts[k]);
        msgs += done - first;
    }
    if (c->rx == round_len)
        start_round(c, t);
}

static void open_conn(struct conn *c)
{
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    c->fd = fd;
    c->state = C_CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)(c - conns)};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    c->out_armed = true;
    if (connect(fd, (struct sockaddr *)&addr, addrlen) < 0 && errno != EINPROGRESS) {
        if (errno == EAGAIN && addr.ss_family == AF_UNIX) { /* backlog full: retry later */
            close(fd);
            c->fd = -1;
            return;
        }
        die("connect: %s", strerror(errno));
    }
}

/* Returns true when the connection is established. */
static bool finish_connect(struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == EINPROGRESS || err == EALREADY)
        return false;
    if (err)
        die("conn %td: connect: %s", c - conns, strerror(err));
    int one = 1;
    if (addr.ss_family != AF_UNIX)
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->state = C_RUNNING;
    set_events(c, false);
    return true;
}

static void resolve(void)
{
    resolve_target(opt.host, opt.port, opt.unix_path, &addr, &addrlen);
}

static void usage(int code)
{
    fprintf(code ? stderr : stdout,
            "usage: echoload [--host H] --port P | --unix PATH [--conns N] [--size BYTES]\n"
            "       [--depth D] [--duration SEC] [--warmup SEC] [--verify] [--server-pid PID]\n"
            "       [--label TEXT] [--json]\n");
    exit(code);
}

static long num(const char *s, long lo, long hi, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi)
        die("bad %s '%s' (must be %ld..%ld)", what, s, lo, hi);
    return v;
}

static void parse(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", 1, 0, 'h'},     {"port", 1, 0, 'p'},     {"unix", 1, 0, 'u'},
        {"conns", 1, 0, 'c'},    {"size", 1, 0, 's'},     {"depth", 1, 0, 'd'},
        {"duration", 1, 0, 't'}, {"warmup", 1, 0, 'w'},   {"verify", 0, 0, 'v'},
        {"server-pid", 1, 0, 'P'}, {"label", 1, 0, 'l'},  {"json", 0, 0, 'j'},
        {"help", 0, 0, 'H'},     {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'h': opt.host = optarg; break;
        case 'p': opt.port = optarg; break;
        case 'u': opt.unix_path = optarg; break;
        case 'c': opt.conns = num(optarg, 1, 1000000, "--conns"); break;
        case 's': opt.size = num(optarg, 1, 1L << 30, "--size"); break;
        case 'd': opt.depth = num(optarg, 1, 1L << 20, "--depth"); break;
        case 't': opt.duration = atof(optarg); break;
        case 'w': opt.warmup = atof(optarg); break;
        case 'v': opt.verify = true; break;
        case 'P': opt.server_pid = num(optarg, 1, 1L << 30, "--server-pid"); break;
        case 'l':
            for (char *q = optarg; *q; q++) /* keep the JSON valid */
                if (*q == '"' || *q == '\\' || (unsigned char)*q < 0x20)
                    *q = '_';
            opt.label = optarg;
            break;
        case 'j': opt.json = true; break;
        case 'H': usage(0); break;
        default: usage(1);
        }
    }
    if (optind != argc)
        usage(1);
    if (opt.duration <= 0 || opt.warmup < 0)
        die("--duration must be > 0 and --warmup >= 0");
    if ((double)opt.size * (double)opt.depth > (double)(1L << 30))
        die("--size * --depth must be <= 1 GiB");
}

static void make_pattern(void)
{
    round_len = (size_t)opt.size * (size_t)opt.depth;
    period = round_len + 4093; /* odd length: rounds and messages never line up */
    pat = malloc(2 * period);
    if (!pat)
        die("out of memory");
    uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    for (size_t i = 0; i < period; i++) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27; /* xorshift64* */
        pat[i] = (unsigned char)((x * 0x2545f4914f6cdd1dull) >> 56);
    }
    memcpy(pat + period, pat, period);
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    resolve();
    make_pattern();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    size_t n = (size_t)opt.conns;
    conns = calloc(n, sizeof(*conns));
    uint64_t *ts = calloc(n * (size_t)opt.depth, sizeof(*ts));
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || !ts || ep < 0)
        die("setup: %s", strerror(errno));
    for (size_t i = 0; i < n; i++) {
        conns[i].fd = -1;
        conns[i].ts = ts + i * (size_t)opt.depth;
        /* a different start in the pattern per connection catches crosstalk */
        conns[i].txpos = conns[i].rxpos = (i * 7919u * 131u + 17u) % period;
    }
    hist_reset(&hist);

    struct epoll_event evs[MAX_EVENTS];
    size_t next = 0, connecting = 0, connected = 0;
    uint64_t t = now_ns(), t_phase = 0, t_start = 0, t_watch = t, t_connected = t;
    double srv0 = 0, srv1 = 0, cli0 = 0, cli1 = 0;
    for (;;) {
        if (phase == PH_CONNECT) {
            while (next < n && connecting < CONNECT_INFLIGHT) {
                open_conn(&conns[next]);
                if (conns[next].fd < 0)
                    break; /* unix backlog full, retry on the next tick */
                next++, connecting++;
            }
        }
        /* wake at least every 100 ms (watchdog), at phase ends, and soon
         * when a unix connect must be retried */
        int ms = 100;
        if (phase != PH_CONNECT) {
            uint64_t left = t_phase > t ? t_phase - t : 0;
            if (left < 100 * 1000000ull)
                ms = (int)((left + 999999) / 1000000);
        } else if (next < n && connecting < CONNECT_INFLIGHT)
            ms = 1;
        int ne = epoll_wait(ep, evs, MAX_EVENTS, ms);
        if (ne < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < ne; i++) {
            struct conn *c = &conns[evs[i].data.u32];
            if (c->state == C_CONNECTING) {
                if (finish_connect(c)) {
                    connecting--, connected++;
                    t_connected = now_ns();
                }
                continue;
            }
            if (evs[i].events & EPOLLOUT && phase != PH_CONNECT && c->tx < round_len)
                do_write(c, now_ns());
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                do_read(c);
        }
        t = now_ns();
        if (phase == PH_CONNECT && connected == n) {
            phase = PH_WARMUP;
            t_phase = t + (uint64_t)(opt.warmup * 1e9);
            for (size_t i = 0; i < n; i++)
                start_round(&conns[i], t);
        } else if (phase == PH_WARMUP && t >= t_phase) {
            phase = PH_MEASURE;
            t_start = t;
            t_phase = t + (uint64_t)(opt.duration * 1e9);
            cli0 = self_cpu();
            if (opt.server_pid && (srv0 = proc_cpu(opt.server_pid)) < 0)
                die("cannot read /proc/%ld/stat (server gone?)", opt.server_pid);
        } else if (phase == PH_MEASURE && t >= t_phase) {
            /* the window is [t_start, t]: counters and CPU samples agree */
            cli1 = self_cpu();
            if (opt.server_pid && (srv1 = proc_cpu(opt.server_pid)) < 0)
                die("cannot read /proc/%ld/stat (server gone?)", opt.server_pid);
            break;
        }
        /* stall watchdog: while connecting, some connect must complete every
         * 5 s (SYN retries are slow); afterwards every connection must get
         * echo bytes back within 5 s */
        if (phase == PH_CONNECT && t - t_connected > STALL_NS)
            die("no connection completed for 5 s (%zu/%zu connected)", connected, n);
        if (phase != PH_CONNECT && t - t_watch > NS / 10) {
            t_watch = t;
            for (size_t i = 0; i < n; i++)
                if (t - conns[i].last > STALL_NS)
                    die("no progress for 5 s on conn %zu (%zu/%zu bytes of the round back)", i,
                        conns[i].rx, round_len);
        }
    }

    double secs = (double)(t - t_start) / 1e9;
    double mps = (double)msgs / secs, mbs = (double)bytes_rx / secs / 1e6;
    double cli_pct = 100.0 * (cli1 - cli0) / secs;
    double p50 = hist_quantile(&hist, 0.5) / 1e3, p99 = hist_quantile(&hist, 0.99) / 1e3;
    double p999 = hist_quantile(&hist, 0.999) / 1e3, mean = hist_mean(&hist) / 1e3;
    double maxl = (double)hist.max / 1e3;
    if (msgs == 0)
        die("no message completed in the measured window");
    /* server figures, as JSON members and as a human-readable suffix */
    char srv[200] = ",\"srv_cpu_pct\":null,\"cpu_us_per_msg\":null,\"srv_rss_kb\":null,"
                    "\"srv_hwm_kb\":null",
         srvh[160] = "";
    if (opt.server_pid) {
        double pct = 100.0 * (srv1 - srv0) / secs, us = (srv1 - srv0) * 1e6 / (double)msgs;
        long rss = proc_status_kb(opt.server_pid, "VmRSS");
        long hwm = proc_status_kb(opt.server_pid, "VmHWM");
        snprintf(srv, sizeof(srv),
                 ",\"srv_cpu_pct\":%.1f,\"cpu_us_per_msg\":%.3f,\"srv_rss_kb\":%ld,"
                 "\"srv_hwm_kb\":%ld", pct, us, rss, hwm);
        snprintf(srvh, sizeof(srvh), " | srv cpu %.1f%% %.3f us/msg rss %ld KiB hwm %ld KiB",
                 pct, us, rss, hwm);
    }
    if (opt.json)
        printf("{\"tool\":\"echoload\",\"label\":\"%s\",\"conns\":%ld,\"size\":%ld,\"depth\":%ld,"
               "\"verify\":%s,\"secs\":%.3f,\"msgs\":%" PRIu64 ",\"msgs_per_s\":%.0f,"
               "\"mb_per_s\":%.2f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,"
               "\"mean_us\":%.2f,\"max_us\":%.2f,\"cli_cpu_pct\":%.1f%s}\n",
               opt.label, opt.conns, opt.size, opt.depth, opt.verify ? "true" : "false", secs,
               msgs, mps, mbs, p50, p99, p999, mean, maxl, cli_pct, srv);
    else
        printf("%s%s%ld conns x %ld B x depth %ld: %.0f msgs/s %.2f MB/s | lat us p50 %.1f "
               "p99 %.1f p999 %.1f max %.1f | cli cpu %.1f%%%s%s\n",
               opt.label, *opt.label ? ": " : "", opt.conns, opt.size, opt.depth, mps, mbs, p50,
               p99, p999, maxl, cli_pct, srvh, opt.verify ? " | verified" : "");
    fflush(stdout);
    return 0;
}
