/* SPDX-License-Identifier: MIT */
/*
 * The reactor: one event loop on one thread, with an io_uring backend on
 * Linux and a poll(2) backend everywhere (Twisted's reactor; libuv's loop).
 *
 * Threading: a reactor and everything attached to it (transports, ports,
 * delayed calls) must be used from the thread that runs it.
 *
 * Callbacks: coil never calls a protocol callback synchronously from inside
 * a coil function the user called (write, lose_connection, call_soon, ...);
 * callbacks run from the loop. The one exception, as in Twisted, is a
 * streaming producer's pause_producing(), which runs inside the write that
 * crossed the high-water mark, so the producer stops at once.
 *
 * Signals: while coil_reactor_run() runs it blocks SIGINT and SIGTERM in
 * the calling thread and reads them from a signalfd. A program with other
 * threads must block both signals in those threads too (create them with
 * the signals blocked), or the kernel may deliver SIGTERM to a thread that
 * has the default action, which ends the process. A SIGINT that is ignored
 * when run() starts (background jobs, nohup) stays ignored, as in Twisted:
 * only SIGTERM stops such a process.
 */
#ifndef COIL_REACTOR_H
#define COIL_REACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct coil_reactor coil_reactor;

typedef enum coil_backend_kind {
    /* $COIL_REACTOR if set, else the first backend that starts: io_uring,
     * then epoll (Linux), then poll */
    COIL_BACKEND_AUTO = 0,
    COIL_BACKEND_URING = 1,
    COIL_BACKEND_POLL = 2,  /* poll(2): portable; cost grows with the connection count */
    COIL_BACKEND_EPOLL = 3, /* epoll (Linux): the fallback where io_uring is refused */
} coil_backend_kind;

/* Do not handle SIGINT/SIGTERM in coil_reactor_run(). */
#define COIL_REACTOR_NO_SIGNALS 0x1u

typedef struct coil_reactor_options {
    coil_backend_kind backend;
    unsigned flags;            /* COIL_REACTOR_* */
    unsigned ring_entries;     /* io_uring SQ size, 1..32768; 0: 256 */
    unsigned recv_buffers;     /* provided receive buffers (power of two, up to 32768);
                                  0: 1024. Out-of-range sizes fail with -EINVAL. */
    unsigned recv_buffer_size; /* bytes per receive buffer; 0: 16384 */
    size_t send_zc_threshold;  /* io_uring: use SEND_ZC for sends of at least this many
                                  bytes; 0 disables it (default: it loses on loopback) */
} coil_reactor_options;

/* Fill `opts` with the defaults. */
COIL_API void coil_reactor_options_init(coil_reactor_options *opts);

/* Create a reactor (`opts` may be NULL for defaults). $COIL_REACTOR
 * (uring, epoll, poll or auto) chooses when opts->backend is AUTO. AUTO
 * tries io_uring, then epoll, then poll, and logs each fallback and its
 * reason at COIL_LOG_INFO. Forcing a backend that cannot start
 * (COIL_BACKEND_URING, or COIL_REACTOR=uring) fails with the kernel's error
 * (e.g. -EPERM, -ENOSYS), COIL_ENOURING or -ENOSYS (not built in), and logs
 * why; an unknown $COIL_REACTOR value fails with -EINVAL. The chosen backend is logged
 * at COIL_LOG_INFO. On success *out owns the reactor; free it with
 * coil_reactor_free(). */
COIL_API int coil_reactor_new(coil_reactor **out, const coil_reactor_options *opts);

/* Free a reactor that is not running. First the resolver's worker threads
 * (resolver.h) are stopped and joined: a lookup still running is waited for
 * and delivered, one not started fails with COIL_ESHUTDOWN. Calls queued by
 * coil_reactor_call_from_thread() run. Then handles still open are closed
 * (their connection_lost callbacks run) before the memory is released;
 * well-behaved programs close everything first (see
 * coil_reactor_live_handles()). */
COIL_API void coil_reactor_free(coil_reactor *r);

/* "io_uring", "epoll" or "poll". */
COIL_API const char *coil_reactor_backend_name(const coil_reactor *r);

/* Run until coil_reactor_stop(). The first run fires the "startup" system
 * event triggers. Stopping fires the "shutdown" triggers: "before", then
 * "during" (coil closes every listening port and connection there; their
 * callbacks run with reason COIL_ESHUTDOWN), then "after"; run() returns
 * once every handle is closed. Unless COIL_REACTOR_NO_SIGNALS, SIGINT and
 * SIGTERM stop the reactor while it runs. Returns 0 or a negative errno for
 * a fatal backend failure. A stopped reactor may be run again. */
COIL_API int coil_reactor_run(coil_reactor *r);

/* Ask the reactor to stop (idempotent). Safe from any callback. A stop
 * asked for while the reactor is not running is kept for the next
 * coil_reactor_run(), which then fires its startup triggers and shuts down
 * at once. (Twisted raises ReactorNotRunning instead; coil keeps the request
 * because Deferreds such as a listen's may fire before run(), and "print the
 * error and stop" from their errback must not leave run() waiting forever.) */
COIL_API void coil_reactor_stop(coil_reactor *r);

/* Make the current (or next) run's shutdown abort the connections still
 * open, as abort_connection() does (RST, queued bytes dropped), instead of
 * closing them in order; their connection_lost still gets COIL_ESHUTDOWN.
 * For a bounded shutdown (coild --shutdown-timeout): call it when the
 * bound passes, from a "before shutdown" trigger. Reset when run() returns. */
COIL_API void coil_reactor_set_shutdown_abort(coil_reactor *r, bool abort);

/* Run one loop turn, waiting at most `timeout` seconds (0: do not block;
 * negative: until something happens) (Twisted's reactor.iterate). No system
 * event triggers fire. Returns 0 or a negative errno. */
COIL_API int coil_reactor_iterate(coil_reactor *r, double timeout);

/* Call fn(arg) on the next loop turn, in FIFO order. 0 or -ENOMEM. */
COIL_API int coil_reactor_call_soon(coil_reactor *r, void (*fn)(void *arg), void *arg);

/* Twisted's callFromThread: queue fn(arg) to run on the reactor's thread,
 * from the loop, and wake the loop if it is waiting. The one coil function
 * that may be called from any thread (while the reactor exists). Calls made
 * by one thread run in the order that thread made them; calls from several
 * threads are interleaved in the order they were queued. Returns 0, -ENOMEM,
 * or the error of creating the wakeup descriptor (then fn is never called).
 *
 * The wakeup is an eventfd (a pipe elsewhere) made with the reactor and
 * watched by the loop.
 *
 * coil_reactor_free() runs the calls still queued when it starts (and those
 * queued while it shuts the resolver's threads down) on the freeing thread,
 * before it closes the remaining handles; they are not dropped. Other
 * threads must have stopped calling before coil_reactor_free() starts. */
COIL_API int coil_reactor_call_from_thread(coil_reactor *r, void (*fn)(void *arg), void *arg);

/* The reactor's monotonic clock, for coil_call_later() (see clock.h). */
COIL_API coil_clock *coil_reactor_clock(coil_reactor *r);
/* Shorthand for coil_call_later(coil_reactor_clock(r), ...). */
COIL_API coil_delayed_call *coil_reactor_call_later(coil_reactor *r, double delay,
                                                    coil_delayed_fn fn, void *arg);

/* System event triggers (Twisted's addSystemEventTrigger). */
typedef enum coil_event { COIL_EVENT_STARTUP = 0, COIL_EVENT_SHUTDOWN = 1 } coil_event;
typedef enum coil_phase {
    COIL_PHASE_BEFORE = 0,
    COIL_PHASE_DURING = 1,
    COIL_PHASE_AFTER = 2
} coil_phase;
/* Add fn(arg) to run in `phase` of `event`. Triggers of one phase run in the
 * order added. Returns a positive trigger id or -ENOMEM/-EINVAL. */
COIL_API long coil_reactor_add_trigger(coil_reactor *r, coil_phase phase, coil_event event,
                                       void (*fn)(void *arg), void *arg);
/* As coil_reactor_add_trigger(), for a trigger that returns a Deferred (one
 * reference, passed to coil; NULL: nothing to wait for). The reactor waits
 * until every Deferred returned in a phase has fired before it moves to the
 * next phase, as Twisted does for "before shutdown" triggers (that is how a
 * service's stop completes before connections are closed). A failure is
 * logged and consumed. */
struct coil_deferred;
COIL_API long coil_reactor_add_trigger_deferred(coil_reactor *r, coil_phase phase,
                                                coil_event event,
                                                struct coil_deferred *(*fn)(void *arg),
                                                void *arg);
/* Remove a trigger that has not run. 0 or -ENOENT. */
COIL_API int coil_reactor_remove_trigger(coil_reactor *r, long id);

/* Counters (io_uring-style instrumentation; backends fill what applies).
 * Fields marked "now" are current values, the others count since the
 * reactor was made. A paused transport holds at most its high-water mark
 * of output plus one receive buffer (held_bytes + queued_bytes show it). */
typedef struct coil_reactor_stats {
    uint64_t loop_turns;
    uint64_t submits;      /* io_uring_enter / poll calls */
    uint64_t sqes;         /* io_uring SQEs queued */
    uint64_t completions;  /* CQEs (io_uring) or readiness events (poll) */
    uint64_t enobufs;      /* multishot receives stopped by an empty buffer ring */
    uint64_t cq_overflows; /* times the CQ overflowed */
    uint64_t stale;        /* completions dropped because their handle's generation moved on */
    uint64_t accept_backoffs;
    uint64_t live_handles;
    /* Data and memory (every backend). */
    uint64_t bytes_in;      /* bytes received on all transports */
    uint64_t bytes_out;     /* bytes the kernel accepted from all output queues */
    uint64_t held_bytes;    /* now: bytes received while paused, not yet delivered */
    uint64_t queued_bytes;  /* now: bytes in output queues, not yet sent */
    uint64_t pool_bytes;    /* now: free pooled output blocks kept for reuse */
    /* The io_uring receive-buffer ring (0 on the other backends). */
    uint64_t recv_buffers;         /* buffers in the ring */
    uint64_t recv_buffers_in_use;  /* now: filled by the kernel, not yet given back */
    uint64_t recv_buffers_peak;    /* most ever in use at once */
    uint64_t sq_waits;      /* operations queued because the SQ was full */
    uint64_t send_zc;       /* sends done with SEND_ZC (their notification seen) */
    uint64_t cq_lost;       /* times the kernel dropped completions (-EBADR): fatal */
} coil_reactor_stats;
COIL_API void coil_reactor_get_stats(const coil_reactor *r, coil_reactor_stats *out);

/* Transports, listening ports and pending connects not yet fully closed.
 * Tests assert this is 0 at teardown. */
COIL_API size_t coil_reactor_live_handles(const coil_reactor *r);

#ifdef __cplusplus
}
#endif
#endif
