/* SPDX-License-Identifier: MIT */
/* Rate-limited logging: per cause, a burst per window, a total cap, and a
 * count of what was suppressed on the next line that passes. */
#include "helpers.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_LINES 256
static char lines[MAX_LINES][256];
static int nlines;

static void capture(void *arg, coil_log_level level, const char *system, const char *msg)
{
    if (nlines < MAX_LINES)
        snprintf(lines[nlines++], sizeof(lines[0]), "%s|%s|%s", coil_log_level_name(level),
                 system, msg);
}

static int count(const char *needle)
{
    int n = 0;
    for (int i = 0; i < nlines; i++)
        n += strstr(lines[i], needle) != NULL;
    return n;
}

static int setup(void **state)
{
    nlines = 0;
    coil_log_set_handler(capture, NULL);
    coil_log_set_level(COIL_LOG_INFO);
    return 0;
}

static int teardown(void **state)
{
    coil_log_set_handler(NULL, NULL);
    coil_log_set_level(COIL_LOG_WARN);
    assert_int_equal(coil_log_set_ratelimit(10, 10), 0);
    return 0;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void burst_then_suppressed_count(void **state)
{
    /* A long window: the first 10 pass, the next 15 are counted. */
    assert_int_equal(coil_log_set_ratelimit(3600, 10), 0);
    int passed = 0;
    for (int i = 0; i < 25; i++)
        passed += coil_log_ratelimited(COIL_LOG_WARN, "t.sys", "bad header", "bad header #%d", i);
    assert_int_equal(passed, 10);
    assert_int_equal(count("bad header #"), 10);
    assert_int_equal(count("warn|t.sys|bad header #9"), 1);
    assert_int_equal(count("bad header #10"), 0);
    assert_int_equal(count("suppressed"), 0);
    /* Another cause has its own budget. */
    assert_true(coil_log_ratelimited(COIL_LOG_WARN, "t.sys", "timeout", "timeout #1"));
    assert_int_equal(count("timeout #1"), 1);
}

static void next_window_reports_suppressed(void **state)
{
    assert_int_equal(coil_log_set_ratelimit(0.2, 2), 0);
    int passed = 0;
    for (int i = 0; i < 7; i++)
        passed += coil_log_ratelimited(COIL_LOG_WARN, "t.sys", "cause", "msg %d", i);
    assert_int_equal(passed, 2);
    sleep_s(0.25); /* at least one window later */
    assert_true(coil_log_ratelimited(COIL_LOG_WARN, "t.sys", "cause", "msg again"));
    /* The line after it says how many were dropped, at the same level. */
    assert_int_equal(nlines, 4);
    assert_string_equal(lines[2], "warn|t.sys|msg again");
    assert_string_equal(lines[3], "warn|t.sys|(5 similar messages suppressed)");
}

static void total_cap_across_causes(void **state)
{
    /* Distinct causes cannot get around the limit: 5 x burst in total. */
    assert_int_equal(coil_log_set_ratelimit(3600, 2), 0);
    int passed = 0;
    for (int i = 0; i < 40; i++) {
        char cause[32];
        snprintf(cause, sizeof(cause), "cause %d", i);
        passed += coil_log_ratelimited(COIL_LOG_WARN, "t.sys", cause, "%s", cause);
    }
    assert_int_equal(passed, 10);
}

static void below_level_not_counted(void **state)
{
    assert_int_equal(coil_log_set_ratelimit(3600, 1), 0);
    coil_log_set_level(COIL_LOG_WARN);
    for (int i = 0; i < 5; i++)
        assert_false(coil_log_ratelimited(COIL_LOG_INFO, "t.sys", "quiet", "info %d", i));
    assert_int_equal(nlines, 0);
    assert_true(coil_log_ratelimited(COIL_LOG_WARN, "t.sys", "quiet", "warn"));
    assert_int_equal(count("suppressed"), 0); /* dropped by level, not by the limit */
}

static void bad_settings(void **state)
{
    assert_int_equal(coil_log_set_ratelimit(0, 1), -EINVAL);
    assert_int_equal(coil_log_set_ratelimit(-1, 1), -EINVAL);
    assert_int_equal(coil_log_set_ratelimit(1, 0), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(burst_then_suppressed_count, setup, teardown),
        cmocka_unit_test_setup_teardown(next_window_reports_suppressed, setup, teardown),
        cmocka_unit_test_setup_teardown(total_cap_across_causes, setup, teardown),
        cmocka_unit_test_setup_teardown(below_level_not_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_settings, setup, teardown),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
