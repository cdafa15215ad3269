/* SPDX-License-Identifier: MIT */
/* Log files rotated by size or by day, and the text/JSON file observers
 * (Twisted's twisted.python.logfile and twisted.logger file observers). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <coil/logfile.h>

struct coil_logfile {
    pthread_mutex_t lock;
    char *path;
    /* The directory stays open and the file is named relative to it, so
     * reopening and rotating keep working after chroot or chdir. */
    int dir_fd;
    const char *name; /* points into path */
    int fd;
    bool is_stdout;
    uint64_t size;
    coil_logfile_options o;
    int day; /* daily: yday + 1000 * year of the data in the file */
    int year, month, mday;
};

void coil_logfile_options_init(coil_logfile_options *o)
{
    memset(o, 0, sizeof(*o));
    o->rotate_length = 1000000;
}

static void today(int *key, int *y, int *m, int *d)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    *key = tm.tm_year * 1000 + tm.tm_yday;
    *y = tm.tm_year + 1900;
    *m = tm.tm_mon + 1;
    *d = tm.tm_mday;
}

/* Open the path; the file's date (daily) is its modification day. */
static int open_file(coil_logfile *lf)
{
    unsigned mode = lf->o.mode ? lf->o.mode : 0666;
    int fd = openat(lf->dir_fd, lf->name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    if (lf->o.mode)
        fchmod(fd, lf->o.mode);
    struct stat st;
    lf->size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    lf->fd = fd;
    if (lf->o.daily) {
        struct tm tm;
        time_t t = lf->size > 0 ? st.st_mtime : time(NULL);
        localtime_r(&t, &tm);
        lf->day = tm.tm_year * 1000 + tm.tm_yday;
        lf->year = tm.tm_year + 1900;
        lf->month = tm.tm_mon + 1;
        lf->mday = tm.tm_mday;
    }
    return 0;
}

int coil_logfile_open(coil_logfile **out, const char *path, const coil_logfile_options *o)
{
    coil_logfile *lf = calloc(1, sizeof(*lf));
    if (!lf)
        return -ENOMEM;
    if (o)
        lf->o = *o;
    else
        coil_logfile_options_init(&lf->o);
    lf->path = strdup(path);
    if (!lf->path) {
        free(lf);
        return -ENOMEM;
    }
    pthread_mutex_init(&lf->lock, NULL);
    lf->dir_fd = -1;
    lf->fd = -1;
    int rc = 0;
    if (strcmp(path, "-") == 0) {
        lf->is_stdout = true;
        lf->fd = STDOUT_FILENO;
    } else {
        char *slash = strrchr(lf->path, '/');
        lf->name = slash ? slash + 1 : lf->path;
        if (slash) {
            *slash = '\0';
            lf->dir_fd = open(slash == lf->path ? "/" : lf->path,
                              O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            *slash = '/';
        } else {
            lf->dir_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        rc = lf->dir_fd < 0 ? -errno : !*lf->name ? -EISDIR : open_file(lf);
    }
    if (rc < 0) {
        coil_logfile_close(lf);
        return rc;
    }
    *out = lf;
    return 0;
}

static bool exists(const coil_logfile *lf, const char *name)
{
    struct stat st;
    return fstatat(lf->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* NAME -> NAME.1 (shifting NAME.N -> NAME.N+1, dropping those beyond
 * max_rotated), or NAME -> NAME.YYYY_MM_DD. Caller holds the lock. */
static int rotate_locked(coil_logfile *lf)
{
    if (lf->is_stdout)
        return 0;
    size_t n = strlen(lf->name) + 32;
    char *from = malloc(n), *to = malloc(n);
    int rc = 0;
    if (!from || !to) {
        rc = -ENOMEM;
        goto out;
    }
    if (lf->o.daily) {
        snprintf(to, n, "%s.%04d_%02d_%02d", lf->name, lf->year, lf->month, lf->mday);
        if (exists(lf, to)) /* Twisted's DailyLogFile never overwrites one */
            goto reopen;
        if (renameat(lf->dir_fd, lf->name, lf->dir_fd, to) < 0)
            rc = -errno;
    } else {
        unsigned last = 0;
        for (;;) {
            snprintf(from, n, "%s.%u", lf->name, last + 1);
            if (!exists(lf, from))
                break;
            last++;
        }
        for (unsigned i = last; i >= 1; i--) {
            snprintf(from, n, "%s.%u", lf->name, i);
            if (lf->o.max_rotated && i >= lf->o.max_rotated) {
                unlinkat(lf->dir_fd, from, 0);
                continue;
            }
            snprintf(to, n, "%s.%u", lf->name, i + 1);
            renameat(lf->dir_fd, from, lf->dir_fd, to);
        }
        snprintf(to, n, "%s.1", lf->name);
        if (renameat(lf->dir_fd, lf->name, lf->dir_fd, to) < 0)
            rc = -errno;
    }
reopen:
    if (rc == 0) {
        close(lf->fd);
        lf->fd = -1;
        rc = open_file(lf);
    }
out:
    free(from);
    free(to);
    return rc;
}

static bool due(coil_logfile *lf)
{
    if (lf->is_stdout || lf->fd < 0)
        return false;
    if (lf->o.daily) {
        int key, y, m, d;
        today(&key, &y, &m, &d);
        return key > lf->day;
    }
    return lf->o.rotate_length && lf->size >= lf->o.rotate_length;
}

int coil_logfile_write(coil_logfile *lf, const char *data, size_t len)
{
    pthread_mutex_lock(&lf->lock);
    int rc = 0;
    if (due(lf))
        rotate_locked(lf); /* keep logging to the old file if it failed */
    if (lf->fd < 0)
        rc = -EBADF;
    while (rc == 0 && len > 0) {
        ssize_t w = write(lf->fd, data, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        data += w;
        len -= (size_t)w;
        lf->size += (uint64_t)w;
    }
    pthread_mutex_unlock(&lf->lock);
    return rc;
}

int coil_logfile_rotate(coil_logfile *lf)
{
    pthread_mutex_lock(&lf->lock);
    int rc = rotate_locked(lf);
    pthread_mutex_unlock(&lf->lock);
    return rc;
}

int coil_logfile_reopen(coil_logfile *lf)
{
    if (lf->is_stdout)
        return 0;
    pthread_mutex_lock(&lf->lock);
    int old = lf->fd;
    int rc = open_file(lf);
    if (rc == 0) {
        if (old >= 0)
            close(old);
    } else {
        lf->fd = old; /* keep writing where we did */
    }
    pthread_mutex_unlock(&lf->lock);
    return rc;
}

const char *coil_logfile_path(const coil_logfile *lf)
{
    return lf->path;
}

uint64_t coil_logfile_size(coil_logfile *lf)
{
    pthread_mutex_lock(&lf->lock);
    uint64_t s = lf->size;
    pthread_mutex_unlock(&lf->lock);
    return s;
}

int coil_logfile_chown(coil_logfile *lf, long uid, long gid)
{
    if (lf->is_stdout)
        return 0;
    pthread_mutex_lock(&lf->lock);
    int rc = fchown(lf->fd, (uid_t)uid, (gid_t)gid) < 0 ? -errno : 0;
    pthread_mutex_unlock(&lf->lock);
    return rc;
}

void coil_logfile_close(coil_logfile *lf)
{
    if (!lf)
        return;
    if (!lf->is_stdout && lf->fd >= 0)
        close(lf->fd);
    if (lf->dir_fd >= 0)
        close(lf->dir_fd);
    pthread_mutex_destroy(&lf->lock);
    free(lf->path);
    free(lf);
}

/* ---- observers ------------------------------------------------------------ */

typedef struct line {
    char small[512];
    char *p;
    size_t len, cap;
    bool failed;
} line;

static void line_init(line *l)
{
    l->p = l->small;
    l->len = 0;
    l->cap = sizeof(l->small);
    l->failed = false;
}

static void put(line *l, const char *s, size_t n)
{
    if (l->failed)
        return;
    if (l->len + n > l->cap) {
        size_t cap = (l->len + n) * 2;
        char *np = malloc(cap);
        if (!np) {
            l->failed = true;
            return;
        }
        memcpy(np, l->p, l->len);
        if (l->p != l->small)
            free(l->p);
        l->p = np;
        l->cap = cap;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void puts_(line *l, const char *s)
{
    put(l, s, strlen(s));
}

static void emit(void *logfile, line *l)
{
    if (!l->failed)
        coil_logfile_write(logfile, l->p, l->len);
    if (l->p != l->small)
        free(l->p);
}

static void stamp(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%S%z", &tm);
}

void coil_log_text_observer(void *logfile, coil_log_level level, const char *system,
                            const char *msg)
{
    char ts[40];
    stamp(ts, sizeof(ts));
    line l;
    line_init(&l);
    puts_(&l, ts);
    puts_(&l, " [");
    puts_(&l, system);
    put(&l, "#", 1);
    puts_(&l, coil_log_level_name(level));
    puts_(&l, "] ");
    for (const char *p = msg; *p; p++) {
        put(&l, p, 1);
        if (*p == '\n' && p[1])
            put(&l, "\t", 1);
    }
    put(&l, "\n", 1);
    emit(logfile, &l);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n = c >= 0xc2 && c <= 0xdf   ? 2
               : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4
                                        : 0;
    if (n == 0)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    unsigned cp = n == 2 ? (c & 0x1f) << 6 | (s[1] & 0x3f)
                  : n == 3 ? (c & 0x0f) << 12 | (s[1] & 0x3f) << 6 | (s[2] & 0x3f)
                           : (c & 0x07) << 18 | (s[1] & 0x3f) << 12 | (s[2] & 0x3f) << 6 |
                                 (s[3] & 0x3f);
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0; /* overlong, surrogate or out of range */
    return n;
}

/* A JSON string; bytes that are not valid UTF-8 become U+FFFD, so every
 * line parses whatever a message carries. */
static void json_string(line *l, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    put(l, "\"", 1);
    while (*s) {
        unsigned char c = *s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(l, esc, 2);
            s++;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(l, esc, 6);
            s++;
        } else if (c < 0x80) {
            put(l, (const char *)s, 1);
            s++;
        } else {
            size_t n = utf8_len(s);
            if (n) {
                put(l, (const char *)s, n);
                s += n;
            } else {
                puts_(l, "\\ufffd");
                s++;
            }
        }
    }
    put(l, "\"", 1);
}

void coil_log_json_observer(void *logfile, coil_log_level level, const char *system,
                            const char *msg)
{
    char ts[40];
    stamp(ts, sizeof(ts));
    line l;
    line_init(&l);
    puts_(&l, "{\"time\":\"");
    puts_(&l, ts);
    puts_(&l, "\",\"level\":\"");
    puts_(&l, coil_log_level_name(level));
    puts_(&l, "\",\"system\":");
    json_string(&l, system);
    puts_(&l, ",\"text\":");
    json_string(&l, msg);
    puts_(&l, "}\n");
    emit(logfile, &l);
}
