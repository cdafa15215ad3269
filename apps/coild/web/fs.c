/* SPDX-License-Identifier: MIT */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__has_include) && __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#else
/* The kernel's openat2(2) ABI (Linux 5.6), for C libraries whose headers
 * lack <linux/openat2.h> (musl-gcc sees no kernel headers). */
#include <stdint.h>
struct open_how {
    uint64_t flags, mode, resolve;
};
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_BENEATH 0x08
#endif

#define OPEN_FLAGS (O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)

static bool no_openat2; /* the kernel said ENOSYS once: do not ask again */

/* Without openat2: open, then ask the kernel where we landed. */
static int open_checked(int rootfd, const char *root_real, const char *rel)
{
    int fd = openat(rootfd, rel, OPEN_FLAGS);
    if (fd < 0)
        return -errno;
    char link[64], real[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, real, sizeof(real) - 1);
    size_t rl = strlen(root_real);
    if (n < 0) {
        close(fd);
        return -EACCES;
    }
    real[n] = '\0';
    bool inside = strncmp(real, root_real, rl) == 0 &&
                  (real[rl] == '\0' || real[rl] == '/' || (rl == 1 && root_real[0] == '/'));
    if (!inside) {
        close(fd);
        return -EXDEV;
    }
    return fd;
}

int web_open_beneath(int rootfd, const char *root_real, const char *rel)
{
    if (rel[0] == '\0')
        rel = ".";
    if (!no_openat2) {
        struct open_how how = {.flags = OPEN_FLAGS,
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
        long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno != ENOSYS && errno != EPERM) /* EPERM: a seccomp filter */
            return -errno;
        no_openat2 = true;
    }
    return open_checked(rootfd, root_real, rel);
}
