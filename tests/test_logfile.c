/* SPDX-License-Identifier: MIT */
/* Log files (Twisted's LogFile / DailyLogFile), the text and JSON file
 * observers, and the application object coild runs. */
#include "helpers.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <coil/application.h>
#include <coil/logfile.h>

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/coil-logfile.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static long size_of(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

/* The whole file as a string (caller frees). */
static char *slurp(const char *p)
{
    FILE *f = fopen(p, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void rotates_by_size_keeping_max(void **state)
{
    char p[128], p1[140], p2[140], p3[140];
    path_in(p, sizeof(p), "size.log");
    snprintf(p1, sizeof(p1), "%s.1", p);
    snprintf(p2, sizeof(p2), "%s.2", p);
    snprintf(p3, sizeof(p3), "%s.3", p);
    coil_logfile_options o;
    coil_logfile_options_init(&o);
    assert_int_equal(o.rotate_length, 1000000); /* twistd's default */
    o.rotate_length = 100;
    o.max_rotated = 2;
    coil_logfile *lf;
    assert_int_equal(coil_logfile_open(&lf, p, &o), 0);
    const char line[] = "0123456789012345678901234567890123456789\n"; /* 41 bytes */
    /* 3 lines fill a file past 100 bytes; the 4th write rotates first. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(coil_logfile_write(lf, line, sizeof(line) - 1), 0);
    assert_false(exists(p1));
    assert_int_equal(coil_logfile_size(lf), 123);
    assert_int_equal(coil_logfile_write(lf, line, sizeof(line) - 1), 0);
    assert_true(exists(p1));
    assert_int_equal(size_of(p1), 123);
    assert_int_equal(size_of(p), 41);
    for (int i = 0; i < 9; i++) /* two more rotations, and one beyond the max */
        assert_int_equal(coil_logfile_write(lf, line, sizeof(line) - 1), 0);
    assert_true(exists(p2));
    assert_false(exists(p3));
    assert_int_equal(size_of(p1), 123);
    assert_int_equal(size_of(p2), 123);
    /* An explicit rotation (SIGUSR1 in coild). */
    assert_int_equal(coil_logfile_rotate(lf), 0);
    assert_int_equal(size_of(p), 0);
    assert_int_equal(size_of(p1), 41);
    assert_false(exists(p3));
    coil_logfile_close(lf);
}

static void reopen_after_move_writes_a_new_file(void **state)
{
    char p[128], moved[140];
    path_in(p, sizeof(p), "reopen.log");
    snprintf(moved, sizeof(moved), "%s.moved", p);
    coil_logfile *lf;
    assert_int_equal(coil_logfile_open(&lf, p, NULL), 0);
    assert_int_equal(coil_logfile_write(lf, "old\n", 4), 0);
    assert_int_equal(rename(p, moved), 0);
    assert_int_equal(coil_logfile_write(lf, "still old\n", 10), 0); /* same file */
    assert_int_equal(coil_logfile_reopen(lf), 0);
    assert_int_equal(coil_logfile_write(lf, "new\n", 4), 0);
    char *a = slurp(moved), *b = slurp(p);
    assert_string_equal(a, "old\nstill old\n");
    assert_string_equal(b, "new\n");
    free(a);
    free(b);
    /* A reopen that fails keeps the current file. */
    char bad[160];
    path_in(bad, sizeof(bad), "missing-dir/x.log");
    coil_logfile *lf2;
    assert_int_equal(coil_logfile_open(&lf2, bad, NULL), -ENOENT);
    coil_logfile_close(lf);
}

static void daily_rotates_yesterdays_file(void **state)
{
    char p[128], rotated[160];
    path_in(p, sizeof(p), "daily.log");
    FILE *f = fopen(p, "w");
    fputs("yesterday\n", f);
    fclose(f);
    time_t y = time(NULL) - 86400;
    struct timespec ts[2] = {{.tv_sec = y}, {.tv_sec = y}};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
    struct tm tm;
    localtime_r(&y, &tm);
    snprintf(rotated, sizeof(rotated), "%s.%04d_%02d_%02d", p, tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday);
    coil_logfile_options o;
    coil_logfile_options_init(&o);
    o.daily = true;
    coil_logfile *lf;
    assert_int_equal(coil_logfile_open(&lf, p, &o), 0);
    assert_int_equal(coil_logfile_write(lf, "today\n", 6), 0);
    char *a = slurp(rotated), *b = slurp(p);
    assert_non_null(a);
    assert_string_equal(a, "yesterday\n");
    assert_string_equal(b, "today\n");
    free(a);
    free(b);
    /* Same day: no more rotation. */
    assert_int_equal(coil_logfile_write(lf, "again\n", 6), 0);
    b = slurp(p);
    assert_string_equal(b, "today\nagain\n");
    free(b);
    coil_logfile_close(lf);
}

static void observers_format_lines(void **state)
{
    char p[128];
    path_in(p, sizeof(p), "fmt.log");
    coil_logfile *lf;
    assert_int_equal(coil_logfile_open(&lf, p, NULL), 0);
    coil_log_text_observer(lf, COIL_LOG_WARN, "coil.tcp", "first\nsecond");
    coil_log_json_observer(lf, COIL_LOG_INFO, "sys\"q", "a \"b\"\\\n\t\x01");
    char *s = slurp(p);
    char *nl = strchr(s, '\n');
    assert_non_null(nl);
    /* "2026-11-28T02:40:17+0000 [coil.tcp#warn] first\n\tsecond\n" */
    assert_non_null(strstr(s, " [coil.tcp#warn] first\n\tsecond\n"));
    assert_int_equal(s[4], '-');
    assert_int_equal(s[10], 'T');
    char *json = strstr(s, "{\"time\":\"");
    assert_non_null(json);
    assert_non_null(strstr(json, "\",\"level\":\"info\",\"system\":\"sys\\\"q\","
                                 "\"text\":\"a \\\"b\\\"\\\\\\u000a\\u0009\\u0001\"}\n"));
    free(s);
    coil_logfile_close(lf);
}

/* Bytes that are not UTF-8 (a peer's data in a message) become U+FFFD;
 * valid multi-byte characters pass. */
static void json_observer_keeps_lines_valid_utf8(void **state)
{
    char p[128];
    path_in(p, sizeof(p), "utf8.log");
    coil_logfile *lf;
    assert_int_equal(coil_logfile_open(&lf, p, NULL), 0);
    coil_log_json_observer(lf, COIL_LOG_INFO, "s",
                           "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xff\xc3 \xed\xa0\x80 \xc0\xaf \xf5\x80\x80\x80");
    char *s = slurp(p);
    assert_non_null(strstr(s, "\"text\":\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
                              "\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd \\ufffd\\ufffd "
                              "\\ufffd\\ufffd\\ufffd\\ufffd\"}\n"));
    free(s);
    coil_logfile_close(lf);
}

static void stdout_logfile_never_rotates(void **state)
{
    coil_logfile *lf;
    coil_logfile_options o;
    coil_logfile_options_init(&o);
    o.rotate_length = 1;
    assert_int_equal(coil_logfile_open(&lf, "-", &o), 0);
    assert_string_equal(coil_logfile_path(lf), "-");
    assert_int_equal(coil_logfile_rotate(lf), 0);
    assert_int_equal(coil_logfile_reopen(lf), 0);
    coil_logfile_close(lf);
    coil_logfile_close(NULL);
}

static int seen;
static void count_observer(void *arg, coil_log_level level, const char *system, const char *msg)
{
    seen += arg == &seen;
}

static void application_defaults_and_observer(void **state)
{
    coil_application app;
    coil_application_init(&app, "demo");
    assert_string_equal(app.service.name, "demo");
    assert_int_equal(app.uid, -1);
    assert_int_equal(app.gid, -1);
    assert_null(app.log_observer);
    assert_null(app.destroy);
    coil_application_set_log_observer(&app, count_observer, &seen);
    assert_ptr_equal(app.log_observer, count_observer);
    assert_ptr_equal(app.log_observer_arg, &seen);
    /* The handler can be saved, replaced and restored. */
    coil_log_fn fn;
    void *arg;
    coil_log_get_handler(&fn, &arg);
    coil_log_set_handler(app.log_observer, app.log_observer_arg);
    coil_log(COIL_LOG_CRITICAL, "test", "to the application");
    coil_log_set_handler(fn, arg);
    assert_int_equal(seen, 1);
    /* A child service is started and stopped with the application. */
    coil_service child = {.name = "child"};
    assert_int_equal(coil_service_add(&app.service, &child), 0);
    assert_int_equal(coil_service_start(&app.service), 0);
    assert_true(child.running);
    coil_deferred *d = coil_service_stop(&app.service);
    assert_true(coil_deferred_called(d));
    coil_deferred_unref(d);
    assert_false(child.running);
    coil_application_set_log_observer(&app, NULL, &seen);
    assert_null(app.log_observer_arg);
    coil_application_fini(&app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rotates_by_size_keeping_max),
        cmocka_unit_test(reopen_after_move_writes_a_new_file),
        cmocka_unit_test(daily_rotates_yesterdays_file),
        cmocka_unit_test(observers_format_lines),
        cmocka_unit_test(json_observer_keeps_lines_valid_utf8),
        cmocka_unit_test(stdout_logfile_never_rotates),
        cmocka_unit_test(application_defaults_and_observer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
