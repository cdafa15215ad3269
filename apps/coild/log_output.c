/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "plugin.h"

static void stamp(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%S%z", &tm);
}

static void text_log(void *arg, coil_log_level level, const char *system, const char *msg)
{
    char ts[40];
    stamp(ts, sizeof(ts));
    printf("%s [%s#%s] ", ts, system, coil_log_level_name(level));
    for (const char *p = msg; *p; p++) {
        putchar(*p);
        if (*p == '\n' && p[1])
            putchar('\t');
    }
    putchar('\n');
    fflush(stdout);
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void json_log(void *arg, coil_log_level level, const char *system, const char *msg)
{
    char ts[40];
    stamp(ts, sizeof(ts));
    printf("{\"time\":\"%s\",\"level\":\"%s\",\"system\":", ts, coil_log_level_name(level));
    json_string(system);
    printf(",\"text\":");
    json_string(msg);
    printf("}\n");
    fflush(stdout);
}

bool coild_json_output;

int coild_log_setup(const char *format, const char *level)
{
    coil_log_level lv = COIL_LOG_INFO;
    if (level && coil_log_level_parse(level, &lv) < 0) {
        fprintf(stderr, "coild: unknown log level '%s'\n", level);
        return -EINVAL;
    }
    coil_log_set_level(lv);
    if (!format || strcmp(format, "text") == 0) {
        coil_log_set_handler(text_log, NULL);
    } else if (strcmp(format, "json") == 0) {
        coil_log_set_handler(json_log, NULL);
        coild_json_output = true;
    } else {
        fprintf(stderr, "coild: unknown log format '%s' (text or json)\n", format);
        return -EINVAL;
    }
    return 0;
}
