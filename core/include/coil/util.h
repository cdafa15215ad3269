/* SPDX-License-Identifier: MIT */
/* Small helpers that keep programs short: embedding coil structs in your
 * own, Twisted's task.react, and a Deferred for the end of a connection. */
#ifndef COIL_UTIL_H
#define COIL_UTIL_H

#include <stddef.h>

#include "basic.h"
#include "deferred.h"
#include "error.h"
#include "export.h"
#include "net_deferred.h"
#include "protocol.h"
#include "reactor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The struct that contains `ptr` as its member `member`, as the Linux
 * kernel's container_of: from the coil_protocol * a callback receives to
 * the user's struct around it, wherever the member sits:
 *
 *     struct chatter { int id; coil_line_receiver lines; };
 *     struct chatter *c = COIL_CONTAINER_OF(p, struct chatter, lines);
 */
#define COIL_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Marks a callback parameter the function does not use, so that code built
 * with -Wall -Wextra stays quiet without a (void) cast:
 *     static void lost(coil_protocol *p, int reason COIL_UNUSED) { free(p); } */
#if defined(__GNUC__) || defined(__clang__)
#define COIL_UNUSED __attribute__((unused))
#else
#define COIL_UNUSED
#endif

/* Twisted's Factory.forProtocol for a LineReceiver subclass: as
 * coil_protocol_factory_init() (protocol.h), for a struct of `size` bytes
 * that starts with a coil_line_receiver; each new block is set up with
 * coil_line_receiver_init(ops) before connection_made, so a line protocol
 * needs no build or init function of its own. The factory's `init` hook is
 * taken for this (do not set it), and its `ops` field holds `ops` (not a
 * protocol table). connection_lost frees the block with free(), as for
 * coil_protocol_factory; coil_protocol_factory_user() works as there.
 *
 *     static coil_protocol_factory chat;
 *     coil_line_receiver_factory_init(&chat, sizeof(struct chatter), &chat_ops, NULL);
 */
COIL_API void coil_line_receiver_factory_init(coil_protocol_factory *f, size_t size,
                                              const coil_line_receiver_ops *ops, void *user);

/* Twisted's connectionLost `reason` as a failure, to errback a Deferred
 * the protocol owes someone: (COIL_NET_DOMAIN, reason) with
 * coil_strerror(reason) as the message, so 0 (an orderly close) reads
 * "Connection was closed cleanly", as Twisted's ConnectionDone. Located at
 * the caller's line. One reference for the caller. */
#define coil_connection_lost_failure(reason)                                                       \
    coil_connection_lost_failure_at((reason), __FILE__, __LINE__, __func__)
static inline coil_failure *coil_connection_lost_failure_at(int reason, const char *file,
                                                            int line, const char *func)
{
    return coil_failure_new_at(file, line, func, COIL_NET_DOMAIN, reason, "%s",
                               coil_strerror(reason));
}

/* The function a program hands to coil_react(): start the work on `r` and
 * return a Deferred (one reference, passed to coil_react) that fires when
 * the program is done. NULL counts as a failure. */
typedef coil_deferred *(*coil_main_fn)(coil_reactor *r, void *arg);

/* Twisted's task.react: make a reactor (coil_reactor_new(), so
 * $COIL_REACTOR chooses the backend), call main_fn(r, arg), run the reactor
 * until the returned Deferred fires, stop it, free it, and return the exit
 * status for main(): 0 when the Deferred succeeded (its value is released),
 * 1 when it failed (the failure is logged at COIL_LOG_CRITICAL, system
 * "coil.react", as "main function encountered error" followed by
 * coil_failure_format(), and consumed). The reactor also stops on SIGINT or
 * SIGTERM: if the Deferred then fires during the shutdown its outcome
 * decides the status as above, and if it never fires the status is 0, as
 * in Twisted. A Deferred still unfired when the reactor has stopped is
 * cancelled before the reactor is freed (quietly: its CancelledError does
 * not change the status), so nothing main_fn started is left behind. A
 * reactor that cannot be made is logged and gives 1. The Deferred may fire
 * before the reactor runs (a description that does not parse): the reactor
 * then starts and stops at once.
 *
 *     static coil_deferred *run(coil_reactor *r, void *desc) { ... }
 *     int main(int argc, char **argv) { return coil_react(run, argv[1]); }
 */
COIL_API int coil_react(coil_main_fn main_fn, void *arg);

/* Twisted's "done" Deferred that a client protocol fires from its
 * connectionLost, without writing it: a new Deferred (one reference for the
 * caller) that fires once p's connection is lost, right after p's own
 * connection_lost() returned (which may have freed p): with none after an
 * orderly close (reason 0), else it errbacks with (COIL_NET_DOMAIN, reason)
 * and coil_strerror(reason) as the message (COIL_ESHUTDOWN when the reactor
 * stopped, -ECONNRESET, ...). Call it on a connected protocol (from
 * connection_made() or the connect Deferred's callback), not from its
 * connection_lost() (the Deferred would never fire); calling it again
 * returns another reference to the same Deferred. It works by pointing
 * p->ops at a copy of the table whose connection_lost also fires the
 * Deferred, so do not replace p->ops afterwards. Cancelling it only stops
 * the wait (CancelledError); the connection stays up. NULL if `p` has no
 * transport or memory runs out.
 *
 *     coil_deferred_add_callback(connected, coil_result_when_lost, NULL);
 */
COIL_API coil_deferred *coil_protocol_when_lost(coil_protocol *p);
/* A ready callback for a connect Deferred (whose value is the protocol):
 * continues the chain with coil_protocol_when_lost() of that protocol, so
 * the chain goes on when the connection ends. A result that holds no
 * protocol passes through unchanged. */
COIL_API coil_result coil_result_when_lost(coil_result connected, void *arg);

#ifdef __cplusplus
}
#endif
#endif
