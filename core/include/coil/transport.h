/* SPDX-License-Identifier: MIT */
/*
 * Transports: one connected stream socket (TCP or UNIX), owned by coil.
 *
 * A transport is created by coil when a connection is made and stays valid
 * until its protocol's connection_lost() returns. Every function below is a
 * safe no-op (or returns an error) once the transport is disconnecting or
 * closed, and none calls a protocol callback synchronously: callbacks run
 * from the reactor loop.
 *
 * Writes are queued and sent in order by the reactor (one send in flight per
 * socket); a write never blocks.
 */
#ifndef COIL_TRANSPORT_H
#define COIL_TRANSPORT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "address.h"
#include "export.h"
#include "protocol.h"
#include "reactor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Queue a copy of `len` bytes. 0, or -ENOTCONN if the transport is closed
 * or its write side was shut down (the bytes are dropped, as Twisted does),
 * or -ENOMEM. Empty writes are ignored. */
COIL_API int coil_transport_write(coil_transport *t, const void *data, size_t len);
/* Queue a copy of several buffers in order (Twisted's writeSequence). */
COIL_API int coil_transport_writev(coil_transport *t, const struct iovec *iov, int iovcnt);

/* Queue printf-style formatted text (no NUL is written): as
 * coil_transport_write() of the formatted bytes. -EINVAL for a bad format. */
COIL_API int coil_transport_writef(coil_transport *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
COIL_API int coil_transport_vwritef(coil_transport *t, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Called once when coil no longer needs a borrowed buffer. */
typedef void (*coil_release_fn)(void *arg, const void *data, size_t len);
/* Queue `len` bytes without copying. The caller must keep them unchanged
 * until release(arg, data, len) runs, which happens exactly once: after the
 * bytes were sent, or when the connection is lost or aborted first. It runs
 * from the loop or from coil_reactor_free(). If this returns an error,
 * release is never called and the buffer stays the caller's. */
COIL_API int coil_transport_write_borrowed(coil_transport *t, const void *data, size_t len,
                                           coil_release_fn release, void *arg);

/* Queue `len` bytes of the open file `fd` starting at `offset`, in order
 * with the other writes, without copying them through user space where the
 * backend can: sendfile(2) on the poll backend, splice(2) through a pipe on
 * io_uring; where neither works for this file, coil reads and sends it
 * piecewise. The bytes count in coil_transport_write_buffer_size() (and
 * against the high-water mark) until sent, though they are never held in
 * memory. The caller keeps `fd` open and the file's bytes in that range
 * unchanged until release(arg, NULL, len) runs, exactly once: after the
 * bytes were sent, or when the connection is lost or aborted first; it runs
 * from the loop or from coil_reactor_free(). A file shorter than promised
 * fails the connection (connection_lost(-EIO)). If this returns an error
 * (-ENOTCONN as coil_transport_write(), -EINVAL for len 0, a NULL release,
 * a negative fd or offset, -ENOMEM) release is never called. */
COIL_API int coil_transport_write_file(coil_transport *t, int fd, int64_t offset, size_t len,
                                       coil_release_fn release, void *arg);

/* Orderly close: stop reading, send everything queued (including writes
 * made later), then close; connection_lost(0) follows. Idempotent. */
COIL_API void coil_transport_lose_connection(coil_transport *t);
/* Close now: drop the queue and reset the connection (RST);
 * connection_lost(COIL_EABORTED) follows from the loop. Idempotent, and
 * allowed after lose_connection(). */
COIL_API void coil_transport_abort_connection(coil_transport *t);
/* Half-close: once the queue drains, shut down the write side (FIN) and call
 * write_connection_lost(). Later writes fail with -ENOTCONN. */
COIL_API void coil_transport_lose_write_connection(coil_transport *t);

/* Stop/restart delivering data_received (Twisted's pauseProducing/
 * resumeProducing on the transport). Reading is stopped in the kernel, so a
 * paused transport applies TCP flow control to its peer. */
COIL_API void coil_transport_pause_reading(coil_transport *t);
COIL_API void coil_transport_resume_reading(coil_transport *t);

/* Producers (Twisted's registerProducer). A streaming producer is paused
 * when more than the high-water mark is queued and resumed when the queue
 * drains to the low-water mark (pause_producing runs inside the write()
 * that crossed the mark); a pull producer (streaming=false) is asked
 * for more each time the queue reaches the low-water mark. The producer must
 * stay valid until unregistered or until its stop_producing() is called
 * (at connection loss). -EBUSY if one is already registered. */
COIL_API int coil_transport_register_producer(coil_transport *t, coil_producer *p,
                                              bool streaming);
COIL_API void coil_transport_unregister_producer(coil_transport *t);
/* Water marks in bytes (Twisted: high 65536, low 0, the defaults). */
COIL_API void coil_transport_set_write_limits(coil_transport *t, size_t high, size_t low);
/* Bytes queued and not yet accepted by the kernel. */
COIL_API size_t coil_transport_write_buffer_size(const coil_transport *t);
/* The transport as a push producer: pausing it pauses reading. Register it
 * on another transport (or on itself, as `coild echo` does) to stop reading
 * while a writer is backed up. Valid as long as the transport. */
COIL_API coil_producer *coil_transport_producer(coil_transport *t);

/* Local and remote addresses. 0 or a negative errno. */
COIL_API int coil_transport_get_peer(coil_transport *t, coil_address *out);
COIL_API int coil_transport_get_host(coil_transport *t, coil_address *out);

COIL_API coil_reactor *coil_transport_reactor(const coil_transport *t);
COIL_API coil_protocol *coil_transport_protocol(const coil_transport *t);
/* True once lose_connection()/abort_connection() was called or the peer
 * went away (Twisted's transport.disconnecting). */
COIL_API bool coil_transport_is_disconnecting(const coil_transport *t);
/* TCP_NODELAY (on by default for TCP, as nginx does) and SO_KEEPALIVE.
 * 0 or a negative errno (-EOPNOTSUPP on UNIX sockets). */
COIL_API int coil_transport_set_tcp_nodelay(coil_transport *t, bool on);
COIL_API int coil_transport_set_tcp_keepalive(coil_transport *t, bool on);
/* The socket descriptor, for setsockopt and the like; do not read, write or
 * close it. -EBADF once closed. */
COIL_API int coil_transport_fileno(const coil_transport *t);

#ifdef __cplusplus
}
#endif
#endif
