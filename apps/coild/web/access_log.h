/* SPDX-License-Identifier: MIT */
/* One access log line per request, in the combined log format as Twisted
 * writes it (the client address quoted), through coil's logging at info
 * level under the system "coil.web". */
#ifndef COILD_WEB_ACCESS_LOG_H
#define COILD_WEB_ACCESS_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "request.h"

/* Whether lines would be emitted (the log level is info or lower). */
bool web_access_log_enabled(void);

/* `req` may be NULL for a request that could not be parsed (the request
 * line is logged as "-"). `bytes` counts the body bytes sent. */
void web_access_log(const char *client, time_t when, const web_request *req, int status,
                    uint64_t bytes);

#endif
