/* SPDX-License-Identifier: MIT */
/* The pid file (twistd's checkPID / writePID / removePID). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner.h"

/* The pid file's directory stays open, so the file can be removed (and
 * handed to another user) by name after chroot. */
static int dir_fd = -1;
static char *base;

int coild_pidfile_check(const char *path, bool *stale)
{
    *stale = false;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        int e = errno;
        fprintf(stderr, "coild: cannot read pidfile %s: %s\n", path, strerror(e));
        return -e;
    }
    char buf[64] = "";
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long pid = strtol(buf, &end, 10);
    while (*end == '\n' || *end == ' ')
        end++;
    if (n == 0 || end == buf || *end || errno || pid <= 0) {
        fprintf(stderr, "coild: Pidfile %s contains non-numeric value\n", path);
        return -EINVAL;
    }
    if (kill((pid_t)pid, 0) == 0 || errno == EPERM) {
        fprintf(stderr,
                "coild: Another coild server is running, PID %ld\n\n"
                "This could either be a previously started instance of your application or a\n"
                "different application entirely. To start a new one, either run it in some\n"
                "other directory, or use the --pidfile option to write the pid file\n"
                "elsewhere.\n",
                pid);
        return -EEXIST;
    }
    if (errno != ESRCH) {
        int e = errno;
        fprintf(stderr, "coild: Can't check status of PID %ld from pidfile %s: %s\n", pid, path,
                strerror(e));
        return -e;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        int e = errno;
        fprintf(stderr, "coild: cannot remove stale pidfile %s: %s\n", path, strerror(e));
        return -e;
    }
    *stale = true;
    return 0;
}

int coild_pidfile_write(const char *path)
{
    const char *slash = strrchr(path, '/'); /* the path is absolute */
    char *dir = strndup(path, slash && slash != path ? (size_t)(slash - path) : 1);
    free(base);
    base = strdup(slash ? slash + 1 : path);
    if (!dir || !base) {
        free(dir);
        return -ENOMEM;
    }
    dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    /* O_EXCL: another coild that passed the check at the same moment loses. */
    int fd = dir_fd < 0 ? -1
                        : openat(dir_fd, base, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        fprintf(stderr, "coild: cannot write pidfile %s: %s\n", path, strerror(e));
        return -e;
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld", (long)getpid());
    int rc = write(fd, buf, (size_t)n) == n ? 0 : -EIO;
    close(fd);
    if (rc < 0) {
        unlinkat(dir_fd, base, 0);
        fprintf(stderr, "coild: cannot write pidfile %s\n", path);
    }
    return rc;
}

int coild_pidfile_chown(long uid, long gid)
{
    if (dir_fd < 0 || !base)
        return 0;
    return fchownat(dir_fd, base, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

void coild_pidfile_remove(const char *path)
{
    if (dir_fd >= 0 && base && unlinkat(dir_fd, base, 0) < 0 && errno != ENOENT)
        coil_log(COIL_LOG_WARN, "coild", "Failed to unlink PID file: %s: %s", path,
                 strerror(errno));
    if (dir_fd >= 0)
        close(dir_fd);
    dir_fd = -1;
    free(base);
    base = NULL;
}
