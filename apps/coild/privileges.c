/* SPDX-License-Identifier: MIT */
/* Users, groups, chroot and umask (twistd's -u/-g, --chroot, --umask). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner.h"

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

int coild_resolve_ids(const char *user, const char *group, long *uid, long *gid)
{
    if (user) {
        struct passwd *pw = all_digits(user) ? getpwuid((uid_t)strtoul(user, NULL, 10))
                                              : getpwnam(user);
        if (pw) {
            *uid = (long)pw->pw_uid;
            if (*gid < 0 && !group)
                *gid = (long)pw->pw_gid; /* the user's primary group */
        } else if (all_digits(user)) {
            *uid = strtol(user, NULL, 10); /* a uid without a passwd entry */
        } else {
            fprintf(stderr, "coild: unknown user '%s'\n", user);
            return -EINVAL;
        }
    } else if (*uid >= 0 && *gid < 0) {
        struct passwd *pw = getpwuid((uid_t)*uid);
        if (pw)
            *gid = (long)pw->pw_gid;
    }
    if (group) {
        struct group *gr = all_digits(group) ? getgrgid((gid_t)strtoul(group, NULL, 10))
                                              : getgrnam(group);
        if (gr) {
            *gid = (long)gr->gr_gid;
        } else if (all_digits(group)) {
            *gid = strtol(group, NULL, 10);
        } else {
            fprintf(stderr, "coild: unknown group '%s'\n", group);
            return -EINVAL;
        }
    }
    return 0;
}

int coild_parse_umask(const char *text, mode_t *out)
{
    char *end;
    errno = 0;
    unsigned long m = strtoul(text, &end, 8); /* "022" and "0022" alike */
    if (!*text || *end || errno || m > 0777 || text[0] == '-') {
        fprintf(stderr, "coild: invalid --umask '%s' (an octal number such as 022)\n", text);
        return -EINVAL;
    }
    *out = (mode_t)m;
    return 0;
}

int coild_drop_privileges(long uid, long gid)
{
    if (uid < 0 && gid < 0)
        return 0;
    int rc = 0;
    if (gid >= 0) {
        gid_t g = (gid_t)gid;
        /* Supplementary groups first (root's would survive setgid). */
        if (geteuid() == 0 && setgroups(1, &g) < 0)
            rc = -errno;
        if (rc == 0 && setgid(g) < 0)
            rc = -errno;
    }
    if (rc == 0 && uid >= 0) {
        if (geteuid() == 0 && gid < 0) {
            struct passwd *pw = getpwuid((uid_t)uid);
            if (pw && initgroups(pw->pw_name, pw->pw_gid) < 0)
                rc = -errno;
        }
        if (rc == 0 && setuid((uid_t)uid) < 0)
            rc = -errno;
    }
    /* Refuse to keep running with root still reachable. */
    if (rc == 0 && uid > 0 && (getuid() == 0 || geteuid() == 0 || setuid(0) == 0))
        rc = -EPERM;
    if (rc < 0) {
        coil_log(COIL_LOG_ERROR, "coild", "failed to set uid/gid %ld/%ld: %s (are you root?) -- exiting.",
                 uid, gid, coil_strerror(rc));
        fprintf(stderr, "coild: failed to set uid/gid %ld/%ld: %s (are you root?) -- exiting.\n",
                uid, gid, coil_strerror(rc));
        return rc;
    }
    coil_log(COIL_LOG_INFO, "coild", "set uid/gid %ld/%ld", uid, gid);
    return 0;
}

int coild_chroot(const char *dir)
{
    if (chroot(dir) < 0 || chdir("/") < 0) {
        int e = errno;
        fprintf(stderr, "coild: cannot chroot to %s: %s\n", dir, strerror(e));
        return -e;
    }
    return 0;
}
