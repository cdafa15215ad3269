/* SPDX-License-Identifier: MIT */
#include "http_date.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), so no time zone or locale is involved. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void two(char *p, int v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

size_t web_http_date(time_t t, char *out)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    memcpy(out, days[tm.tm_wday], 3);
    out[3] = ',';
    out[4] = ' ';
    two(out + 5, tm.tm_mday);
    out[7] = ' ';
    memcpy(out + 8, months[tm.tm_mon], 3);
    out[11] = ' ';
    int y = tm.tm_year + 1900;
    two(out + 12, y / 100);
    two(out + 14, y % 100);
    out[16] = ' ';
    two(out + 17, tm.tm_hour);
    out[19] = ':';
    two(out + 20, tm.tm_min);
    out[22] = ':';
    two(out + 23, tm.tm_sec);
    memcpy(out + 25, " GMT", 5); /* with the NUL */
    return WEB_HTTP_DATE_LEN;
}

size_t web_log_date(time_t t, char *out)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    two(out, tm.tm_mday);
    out[2] = '/';
    memcpy(out + 3, months[tm.tm_mon], 3);
    out[6] = '/';
    int y = tm.tm_year + 1900;
    two(out + 7, y / 100);
    two(out + 9, y % 100);
    out[11] = ':';
    two(out + 12, tm.tm_hour);
    out[14] = ':';
    two(out + 15, tm.tm_min);
    out[17] = ':';
    two(out + 18, tm.tm_sec);
    memcpy(out + 20, " +0000", 7);
    return 26;
}

/* ---- parsing ------------------------------------------------------------- */

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_spaces(cursor *c)
{
    while (c->p < c->end && *c->p == ' ')
        c->p++;
}

static int expect(cursor *c, char ch)
{
    if (c->p >= c->end || *c->p != ch)
        return -1;
    c->p++;
    return 0;
}

/* Exactly `min`..`max` digits. */
static int number(cursor *c, int min, int max, int *out)
{
    int n = 0, v = 0;
    while (c->p < c->end && n < max && *c->p >= '0' && *c->p <= '9') {
        v = v * 10 + (*c->p - '0');
        c->p++;
        n++;
    }
    if (n < min)
        return -1;
    *out = v;
    return 0;
}

static int month(cursor *c, int *out)
{
    if (c->end - c->p < 3)
        return -1;
    for (int i = 0; i < 12; i++) {
        if (memcmp(c->p, months[i], 3) == 0) {
            *out = i + 1;
            c->p += 3;
            return 0;
        }
    }
    return -1;
}

static int clock_time(cursor *c, int *h, int *m, int *s)
{
    if (number(c, 2, 2, h) || expect(c, ':') || number(c, 2, 2, m) || expect(c, ':') ||
        number(c, 2, 2, s))
        return -1;
    return *h > 23 || *m > 59 || *s > 60 ? -1 : 0;
}

static int gmt(cursor *c)
{
    if (c->end - c->p < 3 || memcmp(c->p, "GMT", 3) != 0)
        return -1;
    c->p += 3;
    return 0;
}

int web_http_date_parse(const char *s, size_t len, time_t *out)
{
    cursor c = {s, s + len};
    int d, mo, y, h, mi, sec;
    skip_spaces(&c);
    /* The weekday name (ignored, as RFC 9110 allows). */
    const char *w = c.p;
    while (c.p < c.end && ((*c.p >= 'A' && *c.p <= 'Z') || (*c.p >= 'a' && *c.p <= 'z')))
        c.p++;
    if (c.p - w < 3)
        return -EINVAL;
    if (c.p < c.end && *c.p == ',') {
        c.p++;
        skip_spaces(&c);
        if (number(&c, 2, 2, &d))
            return -EINVAL;
        if (c.p < c.end && *c.p == '-') { /* RFC 850: 06-Nov-94 */
            c.p++;
            if (month(&c, &mo) || expect(&c, '-') || number(&c, 2, 2, &y))
                return -EINVAL;
            y += y < 70 ? 2000 : 1900;
        } else { /* IMF-fixdate: 06 Nov 1994 */
            if (expect(&c, ' ') || month(&c, &mo) || expect(&c, ' ') || number(&c, 4, 4, &y))
                return -EINVAL;
        }
        if (expect(&c, ' ') || clock_time(&c, &h, &mi, &sec) || expect(&c, ' ') || gmt(&c))
            return -EINVAL;
    } else { /* asctime: Sun Nov  6 08:49:37 1994 */
        if (expect(&c, ' ') || month(&c, &mo) || expect(&c, ' '))
            return -EINVAL;
        if (c.p < c.end && *c.p == ' ')
            c.p++;
        if (number(&c, 1, 2, &d) || expect(&c, ' ') || clock_time(&c, &h, &mi, &sec) ||
            expect(&c, ' ') || number(&c, 4, 4, &y))
            return -EINVAL;
    }
    skip_spaces(&c);
    if (c.p != c.end || d < 1 || d > 31)
        return -EINVAL;
    int64_t since_epoch = days_from_civil(y, (unsigned)mo, (unsigned)d);
    *out = (time_t)(since_epoch * 86400 + h * 3600 + mi * 60 + sec);
    return 0;
}
