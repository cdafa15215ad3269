/* SPDX-License-Identifier: MIT */
/* Internals shared by client_service.c and stream_services.c. */
#ifndef COIL_CLIENT_SERVICE_INT_H
#define COIL_CLIENT_SERVICE_INT_H

#include <coil/client_service.h>

/* A client service whose endpoint is built from `desc` when it starts
 * (start fails with the builder's error, e.g. COIL_ENOTLS), and, with
 * `once`, that connects a single time per start (Twisted's TCPClient):
 * after a failed attempt or a lost connection it stays running without
 * retrying; waiters then get the failure (or CancelledError after a loss). */
int coil__client_service_new_deferred_desc(coil_reactor *r, const char *desc,
                                           coil_factory *factory, bool once,
                                           coil_client_service **out);
/* Why the last start of such a service failed ("" if it did not). */
const char *coil__client_service_start_error(const coil_client_service *cs);

#endif
