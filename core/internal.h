/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the reactor core and its backends.
 *
 * Layering (see docs/ARCHITECTURE.md): a backend (uring/ or poll.c) turns
 * kernel events into *completions* and reports them to the core through the
 * coil__*_on_* functions below; the core (transport.c, port.c, connect.c)
 * owns all protocol-visible state and calls user callbacks. The backend
 * interface is drawn at the operation level (start reading, send the queue,
 * accept, connect, close), not at readiness level, so io_uring runs natively
 * and poll(2) emulates completions.
 */
#ifndef COIL_INTERNAL_H
#define COIL_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <coil/coil.h>

#include "clock_int.h"
#include "outq.h"

#define COIL__SYS "coil.reactor"

typedef struct coil__backend_ops coil__backend_ops;

/* How to set up a datagram socket (backend op dgram_socket): bound to
 * `bind_to` (NULL: not bound), connected to `peer` (NULL: not connected),
 * a filesystem UNIX path chmod-ed to unix_mode. */
typedef struct coil__dgram_params {
    int family;
    bool reuse;                   /* SO_REUSEADDR and SO_REUSEPORT (multicast) */
    const coil_address *bind_to, *peer;
    const char *unix_path;
    unsigned unix_mode;
} coil__dgram_params;

/* How to set up a listening socket (backend op listen_socket). */
typedef struct coil__listen_params {
    int backlog;
    bool reuse_port, ipv6_only;   /* TCP only */
    const char *unix_path;        /* a filesystem UNIX path to chmod, or NULL */
    unsigned unix_mode;
} coil__listen_params;

#ifdef __linux__
#define COIL_HAVE_EPOLL 1
#endif

/* A handle's registration with a readiness notifier (poll.c's backends):
 * `index` is the poll(2) array position + 1 (0: absent); `events` the
 * events asked for (epoll: 0 means not registered). */
typedef struct coil__rd_reg {
    int index;
    short events;
} coil__rd_reg;

enum coil__handle_type { COIL__H_TRANSPORT = 1, COIL__H_PORT, COIL__H_WATCH };
/* A datagram port (udp_int.h): begins with a coil__watch. */
#define COIL__H_DGRAM 4

/* Common header of everything the backend can have operations in flight
 * for. `slot`/`gen` tag io_uring completions: a completion whose generation
 * no longer matches its slot is dropped, never dispatched to a reused fd. */
typedef struct coil__handle {
    coil_reactor *r;
    struct coil__handle *prev, *next;    /* reactor's list of live handles */
    struct coil__handle *endgame_next;   /* queued for final callbacks */
    uint32_t slot, gen;
    uint8_t type;
    bool closing;   /* close requested: no new operations */
    bool in_endgame;
    int inflight;   /* backend operations not yet completed */
} coil__handle;

/* Transport state bits. */
enum {
    COIL__T_CONNECTING = 1u << 0,  /* connector: connect in progress */
    COIL__T_CONNECTED = 1u << 1,   /* protocol attached, connection_made ran */
    COIL__T_READING = 1u << 2,     /* the core wants data (backend armed or arming) */
    COIL__T_PAUSED = 1u << 3,      /* pause_reading() */
    COIL__T_READ_EOF = 1u << 4,    /* peer FIN seen */
    COIL__T_SHUT_WR_PENDING = 1u << 5,
    COIL__T_SHUT_WR = 1u << 6,
    COIL__T_DISCONNECTING = 1u << 7, /* lose_connection(): flush then close */
    COIL__T_SENDING = 1u << 8,     /* one send in flight (never more) */
    COIL__T_TCP = 1u << 9,
    COIL__T_HELD_EOF = 1u << 10,   /* EOF arrived while paused */
    COIL__T_IN_HELDQ = 1u << 11,
    COIL__T_LOST = 1u << 12,       /* connection_lost delivered */
};

struct coil_transport {
    coil__handle h;
    int fd;
    unsigned flags;
    int reason;           /* connection_lost reason once closing */
    coil_protocol *proto;
    coil_factory *factory; /* connectors only: do_stop at the end */
    coil_connect_cb connect_cb;
    void *connect_arg;
    coil__outq outq;
    size_t high_water, low_water;
    coil_producer *producer;
    bool producer_streaming, producer_paused;
    coil_producer self_producer;
    char *held;           /* data that arrived while paused */
    coil_address *addr_override; /* [0] peer, [1] host (PROXY header), or NULL */
    size_t held_len;
    struct coil_transport *heldq_next;
    struct coil_wrap *wrap; /* an outer transport of a wrapper (wrap.c), else NULL */
    union {
        struct { /* poll and epoll backends */
            coil__rd_reg reg;
            struct coil_transport *pending_next;
            bool want_read;   /* read_start()ed and not stopped or ended */
            bool want_send;   /* send() requested, not yet reported */
            bool want_write, in_pending;
            bool connecting;  /* connect() in progress or to report */
            int connect_err;  /* an immediate connect() failure, reported from the loop */
            coil_delayed_call *connect_timer;
        } poll;
        struct { /* io_uring backend */
            bool recv_armed;    /* a recv is in flight */
            bool recv_cancel;   /* ... and its cancel was queued */
            bool recv_bulk;     /* the next recv is one-shot: the last filled its cap */
            uint8_t sq_wait;    /* operations waiting for room in the SQ (uring.c) */
            struct iovec *iov;  /* sendmsg gather list, allocated on demand */
            void *msg;          /* struct msghdr */
            void *connect_ctx;  /* address + timeout kept until submitted */
            int zc_result;      /* SEND_ZC result awaiting its notification */
            void *file_ctx;     /* file segments: pipe and state (uring.c) */
        } uring;
    } be;
};

/* The connector handle is the transport that is connecting. */
struct coil_connector {
    struct coil_transport t;
};

struct coil_port {
    coil__handle h;
    int fd;
    coil_factory *factory;
    coil_address addr;
    char *unix_path;       /* unlinked at close */
    char *lock_path;       /* released at close */
    void (*done)(void *arg);
    void *done_arg;
    coil_delayed_call *backoff;
    int64_t backoff_logged_ns; /* last "accept: EMFILE" warning */
    bool accepting;        /* the core wants connections (written in port.c only) */
    bool adopted;          /* descriptor shared with another process: leave its flags */
    bool blocking;         /* adopted without O_NONBLOCK (accept once per readiness) */
    union {
        struct {
            coil__rd_reg reg;
            bool on;       /* port_start()ed and not paused */
        } poll;
        struct {
            bool armed;    /* a multishot accept is in flight */
            bool cancel;   /* ... and its cancel was queued */
            uint8_t sq_wait;
        } uring;
    } be;
};

/* A readable-fd watch (signalfd or self-pipe). */
typedef struct coil__watch {
    coil__handle h;
    int fd;
    void (*cb)(struct coil__watch *w);
    union {
        struct {
            coil__rd_reg reg;
        } poll;
        struct {
            uint8_t sq_wait;
        } uring;
    } be;
} coil__watch;

/* The backend line. The core decides what should happen (read, send,
 * accept, close); the backend does it and reports what happened through
 * the coil__*_on_* functions and when a receive or accept ended (and why)
 * through coil__transport_read_ended()/coil__port_accept_ended(), after
 * which the core decides whether to start again. A backend owns its
 * descriptors: the core reaches a socket only through these operations.
 * Every operation either completes through a report or returns an error;
 * work that cannot be handed to the kernel at once is queued by the
 * backend, never dropped. */
struct coil__backend_ops {
    const char *name;
    int (*init)(coil_reactor *r, const coil_reactor_options *o);
    void (*fini)(coil_reactor *r);
    /* Submit what is queued, wait up to timeout_ns (-1: forever, 0: poll)
     * for completions and dispatch them. */
    int (*wait)(coil_reactor *r, int64_t timeout_ns);
    int (*port_start)(coil_port *p);  /* start (or resume) accepting */
    void (*port_pause)(coil_port *p); /* stop accepting for now */
    void (*port_close)(coil_port *p); /* -> coil__handle_closed() when drained */
    /* Start receiving until read_stop() or until the backend reports the
     * receive ended; idempotent. */
    void (*read_start)(coil_transport *t);
    void (*read_stop)(coil_transport *t);
    void (*send)(coil_transport *t);  /* send from the queue (core guarantees one at a time) */
    /* Start connecting; the outcome always arrives through
     * coil__transport_on_connected() from the loop. 0 or a negative errno
     * (then nothing was started). */
    int (*connect)(coil_transport *t, const coil_address *addr, int64_t timeout_ns);
    /* Close (abort: reset the connection) -> coil__handle_closed() when drained. */
    void (*close)(coil_transport *t, bool abort);
    int (*watch_start)(coil__watch *w);
    void (*watch_close)(coil__watch *w);
    /* Datagram ports (udp.c). dgram_socket makes the bound (and maybe
     * connected) socket: its descriptor or a negative errno, nothing left
     * open or bound on failure. dgram_start starts receiving, reported
     * through coil__dgram_on_datagram()/on_error() (0 or a negative
     * errno); dgram_close ends with coil__handle_closed() once nothing is in
     * flight, closing the socket. dgram_send sends one datagram now or
     * fails (-EAGAIN when the socket buffer is full): datagrams are never
     * queued. dgram_option gets or sets a socket option. */
    int (*dgram_socket)(const coil__dgram_params *dp, coil_address *bound);
    int (*dgram_start)(coil_datagram_port *u);
    void (*dgram_close)(coil_datagram_port *u);
    int (*dgram_send)(coil_datagram_port *u, const struct msghdr *msg);
    int (*dgram_connect)(coil_datagram_port *u, const coil_address *peer);
    int (*dgram_option)(coil_datagram_port *u, bool set, int level, int name, void *value,
                        socklen_t *len);
    /* Creating stream sockets (socket.c has the plain system-call versions
     * both backends use today). Each returns the new descriptor or a
     * negative errno, and leaves nothing open on failure. */
    int (*listen_socket)(const coil_address *addr, const coil__listen_params *lp,
                         coil_address *bound);
    /* Take over `fd` from another owner (closed on failure); *blocking:
     * the shared description is blocking (accept once per readiness). */
    int (*adopt_socket)(int fd, bool *blocking, coil_address *bound);
    int (*connect_socket)(int family, const coil_address *bind_to);
    /* Close a descriptor no handle owns: a connection accepted as its port
     * closed, or one the core could not wrap in a transport. */
    void (*discard)(int fd);
    /* Socket operations on a transport's descriptor. 0 or a negative errno. */
    int (*setsockopt)(coil_transport *t, int level, int name, int value);
    int (*shutdown)(coil_transport *t, int how);
    int (*sockname)(coil_transport *t, bool peer, coil_address *out);
};

typedef struct coil__call {
    void (*fn)(void *arg);
    void *arg;
} coil__call;

typedef struct coil__trigger {
    long id;
    coil_phase phase;
    coil_event event;
    void (*fn)(void *arg);
    struct coil_deferred *(*dfn)(void *arg); /* or this: a Deferred to wait for */
    void *arg;
} coil__trigger;

struct coil_reactor {
    const coil__backend_ops *be;
    void *be_data;
    coil_reactor_options opts;
    coil_clock clock;
    coil__pool pool;
    /* call_soon FIFO (ring buffer) */
    coil__call *calls;
    size_t calls_head, calls_len, calls_cap;
    /* live handles and final callbacks */
    coil__handle *handles;
    size_t live;
    coil__handle *endgame_head, *endgame_tail;
    coil_transport *heldq;
    /* completion tags */
    struct coil__slot {
        coil__handle *h;
        uint32_t gen;
        uint32_t next_free;
    } *slots;
    uint32_t nslots, free_slot;
    /* run state */
    bool running, stop_requested, started, shutting_down;
    coil__trigger *triggers;
    size_t ntriggers;
    long next_trigger_id;
    size_t trigger_waits; /* trigger Deferreds not yet fired */
    bool awaiting_triggers;
    bool shutdown_abort; /* this run's shutdown aborts (RST) what is open */
    /* signals */
    coil__watch *sigwatch;
    int sig_pipe[2];
    sigset_t saved_mask;
    bool sigint_ignored; /* SIGINT was SIG_IGN when run() began: left alone */
    coil_reactor_stats stats;
    size_t transports; /* live transports (pool trimming) */
    char *rbuf; /* poll backend receive buffer */
    /* Other threads (reactor.c, resolver.c). xthread: the queue of
     * coil_reactor_call_from_thread() with its lock and its wakeup fd and
     * watch (the fd is made with the reactor); allocated by coil_reactor_new().
     * resolver_fn/arg: the installed resolver (NULL: the default).
     * resolver: the default resolver's worker pool, made on its first
     * lookup; resolver_fini (set with it) stops and joins it at
     * coil_reactor_free(). */
    struct coil__xthread *xthread;
    coil_resolver_fn resolver_fn;
    void *resolver_arg;
    struct coil__resolver *resolver;
    void (*resolver_fini)(coil_reactor *r);
};

extern const coil__backend_ops coil__poll_backend;
#ifdef COIL_HAVE_EPOLL
extern const coil__backend_ops coil__epoll_backend;
#endif
#ifdef COIL_HAVE_URING
extern const coil__backend_ops coil__uring_backend;
/* io_uring receive test hooks (uring.c), read when a reactor is made:
 * force the one-shot receive path, or force the multishot cap (bytes; 0:
 * half a receive buffer, the default). */
extern bool coil__uring_no_mshot_recv;
extern unsigned coil__uring_recv_arm_cap;
/* The cap a reactor's multishot receives use (0: one-shot receives only),
 * and how many multishot and one-shot receives it armed. */
unsigned coil__uring_recv_cap(const coil_reactor *r);
void coil__uring_recv_arms(const coil_reactor *r, uint64_t *mshot, uint64_t *oneshot);
#endif

/* Handles (reactor.c). */
int coil__handle_init(coil_reactor *r, coil__handle *h, uint8_t type);
/* The backend finished closing `h` (fd closed, nothing in flight): queue its
 * final callbacks for the loop. */
void coil__handle_closed(coil__handle *h);
/* Look up a completion's handle; NULL if stale (counted in stats). */
coil__handle *coil__handle_lookup(coil_reactor *r, uint32_t slot, uint32_t gen);

/* Completions from the backends (transport.c, port.c). */
void coil__transport_on_read(coil_transport *t, const void *data, ssize_t n);
void coil__transport_on_sent(coil_transport *t, ssize_t n);
void coil__transport_on_connected(coil_transport *t, int err);
/* The backend's receive ended by itself (a one-shot receive completed,
 * the buffer ring ran dry, a cancel took effect): `why` is 0 or a
 * negative errno. The core starts another if it still wants data. */
void coil__transport_read_ended(coil_transport *t, int why);
void coil__port_on_accept(coil_port *p, int fd);
/* The backend's accept ended by itself; the core re-arms if it wants. */
void coil__port_accept_ended(coil_port *p, int why);
void coil__transport_endgame(coil_transport *t);
void coil__port_endgame(coil_port *p);
void coil__deliver_held(coil_reactor *r);

/* Input held while paused (held.c), for plain and wrapped transports.
 * held_data: 0 if the protocol may take the bytes now, 1 if they were
 * held, or -ENOMEM. held_eof: true if the EOF was held (after the bytes).
 * held_deliver (from the loop, once resumed): hands the held bytes over
 * in slices until the protocol pauses or closes; 1 when a held EOF is due
 * now, 0, or -ENOMEM. held_drop frees what is held. */
int coil__held_data(coil_transport *t, const void *data, size_t n);
bool coil__held_eof(coil_transport *t);
bool coil__held_pending(const coil_transport *t);
int coil__held_deliver(coil_transport *t);
void coil__held_drop(coil_transport *t);

/* Transports (transport.c). */
coil_transport *coil__transport_new(coil_reactor *r, int fd, bool tcp);
void coil__transport_attach(coil_transport *t, coil_protocol *p);
void coil__transport_close(coil_transport *t, int reason, bool abort);
/* A transport as a push producer (coil_transport_producer()); plain and
 * wrapped transports share it. */
extern const coil_producer_ops coil__transport_self_producer_ops;
/* Report `peer` and `host` (either may be NULL: keep the socket's) from
 * coil_transport_get_peer()/get_host() from now on (a PROXY header's
 * addresses). 0 or -ENOMEM. */
int coil__transport_override_addresses(coil_transport *t, const coil_address *peer,
                                       const coil_address *host);
/* Outer transports of wrapping protocols (wrap.c): the public transport
 * functions pass a transport whose `wrap` is set to these. */
int coil__wrap_write(coil_transport *t, const void *data, size_t len);
int coil__wrap_writev(coil_transport *t, const struct iovec *iov, int iovcnt);
int coil__wrap_write_borrowed(coil_transport *t, const void *data, size_t len,
                              coil_release_fn release, void *arg);
void coil__wrap_lose_connection(coil_transport *t);
void coil__wrap_abort_connection(coil_transport *t);
void coil__wrap_lose_write_connection(coil_transport *t);
bool coil__wrap_is_disconnecting(const coil_transport *t);
void coil__wrap_pause_reading(coil_transport *t);
void coil__wrap_resume_reading(coil_transport *t);
int coil__wrap_register_producer(coil_transport *t, coil_producer *p, bool streaming);
void coil__wrap_unregister_producer(coil_transport *t);
void coil__wrap_set_write_limits(coil_transport *t, size_t high, size_t low);
size_t coil__wrap_write_buffer_size(const coil_transport *t);
int coil__wrap_get_address(coil_transport *t, int which, coil_address *out); /* 0 peer, 1 host */
int coil__wrap_fileno(const coil_transport *t);
int coil__wrap_set_option(coil_transport *t, bool keepalive, bool on);

/* Send up to `len` bytes of file `fd` from `off` on the non-blocking socket
 * `sock` (sendfile.c): sendfile(2), else pread into `scratch` (cap bytes) and
 * send. Bytes sent, -EAGAIN, -EIO when the file ended early, or -errno. */
ssize_t coil__send_file(int sock, int fd, int64_t off, size_t len, char *scratch, size_t cap);

/* Sockets (socket.c). */
int coil__set_nonblock_cloexec(int fd);
void coil__set_tcp_defaults(int fd);
/* The plain system-call socket operations (backend ops use them). */
int coil__sock_setsockopt(coil_transport *t, int level, int name, int value);
int coil__sock_shutdown(coil_transport *t, int how);
int coil__sock_name(coil_transport *t, bool peer, coil_address *out);
int coil__sock_listen(const coil_address *addr, const coil__listen_params *lp, coil_address *bound);
int coil__sock_adopt(int fd, bool *blocking, coil_address *bound);
int coil__sock_connecting(int family, const coil_address *bind_to);
void coil__sock_discard(int fd);
int coil__sock_dgram(const coil__dgram_params *dp, coil_address *bound);
int coil__sock_dgram_send(coil_datagram_port *u, const struct msghdr *msg);
int coil__sock_dgram_connect(coil_datagram_port *u, const coil_address *peer);
int coil__sock_dgram_option(coil_datagram_port *u, bool set, int level, int name, void *value,
                            socklen_t *len);
/* SO_LINGER {1, 0} before close(): the close resets the connection. */
void coil__sock_set_abortive(int fd);

/* Signals (signals.c). */
int coil__signals_install(coil_reactor *r);
void coil__signals_remove(coil_reactor *r);
void coil__signals_fini(coil_reactor *r);
/* Unlink a handle that is torn down outside the endgame (reactor free). */
void coil__handle_forget(coil__handle *h);
/* True when the loop has work that must not wait for I/O. */
bool coil__reactor_has_work(const coil_reactor *r);

#endif
