/* SPDX-License-Identifier: MIT */
/* HTTP dates (RFC 9110 section 5.6.7): formatting IMF-fixdate, parsing the
 * three forms a client may send. Locale- and time-zone-independent. */
#ifndef COILD_WEB_HTTP_DATE_H
#define COILD_WEB_HTTP_DATE_H

#include <stddef.h>
#include <time.h>

#define WEB_HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Write the IMF-fixdate of `t` (UTC) and a NUL into out[WEB_HTTP_DATE_LEN + 1].
 * Returns WEB_HTTP_DATE_LEN. */
size_t web_http_date(time_t t, char *out);

/* Parse an IMF-fixdate, an RFC 850 date or an asctime() date (the first
 * `len` bytes of `s`, surrounding spaces allowed). 0 and *out, or -EINVAL. */
int web_http_date_parse(const char *s, size_t len, time_t *out);

/* The combined log format's "[10/Oct/2000:13:55:36 +0000]" without the
 * brackets, in UTC, into out[27] ("10/Oct/2000:13:55:36 +0000" and NUL). */
size_t web_log_date(time_t t, char *out);

#endif
