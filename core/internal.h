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

#include <coil/coil.h>

#include "clock_int.h"
#include "outq.h"

#define COIL__SYS "coil.reactor"

typedef struct coil__backend_ops coil__backend_ops;

enum coil__handle_type { COIL__H_TRANSPORT = 1, COIL__H_PORT, COIL__H_WATCH };

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
    union {
        struct { /* poll backend */
            int index;    /* pollfd array position + 1; 0: absent */
            struct coil_transport *pending_next;
            bool want_write, in_pending;
            coil_delayed_call *connect_timer;
        } poll;
        struct { /* io_uring backend */
            uint8_t recv_state; /* idle / active / cancelling */
            bool cancel_all_sent;
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
    bool accepting;
    union {
        struct {
            int index; /* pollfd array position + 1; 0: absent */
        } poll;
        struct {
            uint8_t accept_state;
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
            int index;
        } poll;
    } be;
} coil__watch;

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
    void (*read_start)(coil_transport *t);
    void (*read_stop)(coil_transport *t);
    void (*send)(coil_transport *t);  /* send from the queue (core guarantees one at a time) */
    int (*connect)(coil_transport *t, const coil_address *addr, int64_t timeout_ns);
    void (*close)(coil_transport *t); /* -> coil__handle_closed() when drained */
    int (*watch_start)(coil__watch *w);
    void (*watch_close)(coil__watch *w);
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
    /* signals */
    coil__watch *sigwatch;
    int sig_pipe[2];
    sigset_t saved_mask;
    coil_reactor_stats stats;
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
#ifdef COIL_HAVE_URING
extern const coil__backend_ops coil__uring_backend;
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
/* Whether the core still wants data (the backend re-arms if so). */
bool coil__transport_wants_read(const coil_transport *t);
void coil__port_on_accept(coil_port *p, int fd);
void coil__transport_endgame(coil_transport *t);
void coil__port_endgame(coil_port *p);
void coil__deliver_held(coil_reactor *r);

/* Transports (transport.c). */
coil_transport *coil__transport_new(coil_reactor *r, int fd, bool tcp);
void coil__transport_attach(coil_transport *t, coil_protocol *p);
void coil__transport_close(coil_transport *t, int reason, bool abort);
/* Report `peer` and `host` (either may be NULL: keep the socket's) from
 * coil_transport_get_peer()/get_host() from now on (a PROXY header's
 * addresses). 0 or -ENOMEM. */
int coil__transport_override_addresses(coil_transport *t, const coil_address *peer,
                                       const coil_address *host);
/* Hand the connection over to protocol `p` (the PROXY wrapper does, once the
 * header is read): p->transport and p->factory are set, later callbacks go
 * to p, and p's connection_made() runs now. Only from inside the current
 * protocol's data_received(); the old protocol gets no further calls. */
void coil__transport_replace_protocol(coil_transport *t, coil_protocol *p, coil_factory *f);

/* "Connecting to 127.0.0.1:9 failed: Connection refused" in COIL_NET_DOMAIN
 * (net_deferred.c; the hostname endpoint's attempts use it too). */
coil_failure *coil__connect_failure(const coil_address *addr, int err);

/* Send up to `len` bytes of file `fd` from `off` on the non-blocking socket
 * `sock` (sendfile.c): sendfile(2), else pread into `scratch` (cap bytes) and
 * send. Bytes sent, -EAGAIN, -EIO when the file ended early, or -errno. */
ssize_t coil__send_file(int sock, int fd, int64_t off, size_t len, char *scratch, size_t cap);

/* Sockets (socket.c). */
int coil__set_nonblock_cloexec(int fd);
void coil__set_tcp_defaults(int fd);

/* Signals (signals.c). */
int coil__signals_install(coil_reactor *r);
void coil__signals_remove(coil_reactor *r);
void coil__signals_fini(coil_reactor *r);
/* Unlink a handle that is torn down outside the endgame (reactor free). */
void coil__handle_forget(coil__handle *h);
/* True when the loop has work that must not wait for I/O. */
bool coil__reactor_has_work(const coil_reactor *r);

#endif
