/* SPDX-License-Identifier: MIT */
/* Internals of the systemd: endpoint (systemd.c), exposed for the tests. */
#ifndef COIL_SYSTEMD_INT_H
#define COIL_SYSTEMD_INT_H

#include <sys/types.h>

/* First descriptor systemd passes (SD_LISTEN_FDS_START). */
#define COIL__SYSTEMD_FIRST_FD 3

/* The sockets a process inherited: descriptors first .. first + count - 1,
 * and their names (LISTEN_FDNAMES) when known. */
typedef struct coil__systemd_fds {
    int first;    /* COIL__SYSTEMD_FIRST_FD */
    int count;    /* 0: none passed */
    char **names; /* count names, or NULL when unavailable (absent, or their
                     number differs from count); one allocation with the strings */
} coil__systemd_fds;

/* Interpret the values of LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES (each
 * may be NULL: unset) for the process `self`, as sd_listen_fds() does:
 * descriptors are passed only when LISTEN_PID is an integer equal to
 * `self` and LISTEN_FDS an integer >= 0 (both as Python's int() reads
 * them); otherwise count is 0. Names are `names` split on ':' when there
 * are exactly count of them ("" is none), else unavailable (indexes still
 * work, unlike Twisted trunk, which then passes nothing). Pure: no environment, no
 * descriptors touched. Returns 0, or -ENOMEM (the names are then
 * unavailable, the rest is filled in). Release with coil__systemd_fds_free(). */
int coil__systemd_parse(const char *pid, const char *fds, const char *names, pid_t self,
                        coil__systemd_fds *out);
void coil__systemd_fds_free(coil__systemd_fds *fds);

/* The process's inherited sockets: read from the environment on the first
 * call (then LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are removed from the
 * environment and FD_CLOEXEC is set on the descriptors), the same result
 * afterwards. Never NULL. Thread-safe (pthread_once). */
const coil__systemd_fds *coil__systemd_fds_get(void);

#endif
