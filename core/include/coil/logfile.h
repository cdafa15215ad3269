/* SPDX-License-Identifier: MIT */
/*
 * Log files and file observers (Twisted's LogFile, DailyLogFile and
 * textFileLogObserver / jsonFileLogObserver).
 *
 * A coil_logfile appends to a file and rotates it: by size (Twisted's
 * LogFile: when the file reached `rotate_length` bytes it becomes NAME.1,
 * NAME.1 becomes NAME.2, ...; with `max_rotated` the oldest beyond that
 * count are deleted) or daily (DailyLogFile: the first write on a new local
 * day renames the file to NAME.YYYY_MM_DD of the day it holds). The path
 * "-" writes to standard output and never rotates. The file's directory is
 * opened once and the file named relative to it, so reopening and rotating
 * keep working after chdir() or chroot().
 *
 * Thread-safety: every function may be called from any thread (a mutex
 * serialises writes, rotation and reopening), as log events may come from
 * any thread.
 */
#ifndef COIL_LOGFILE_H
#define COIL_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "log.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct coil_logfile coil_logfile;

typedef struct coil_logfile_options {
    uint64_t rotate_length; /* bytes; 0: never rotate by size. Default 1000000 */
    unsigned max_rotated;   /* keep at most this many NAME.N files; 0 (default): all */
    bool daily;             /* rotate once a day (NAME.YYYY_MM_DD) instead of by size */
    unsigned mode;          /* permission bits of a new file; 0 (default): 0666 & ~umask */
} coil_logfile_options;

/* Fill `o` with the defaults (1,000,000 bytes, keep all, by size). */
COIL_API void coil_logfile_options_init(coil_logfile_options *o);

/* Open (create, append to) `path` (copied; "-" for stdout). `o` may be NULL
 * for the defaults. On success *out owns the log file: close it with
 * coil_logfile_close(). Returns 0 or a negative errno. */
COIL_API int coil_logfile_open(coil_logfile **out, const char *path,
                               const coil_logfile_options *o);

/* Append `len` bytes, rotating first when due. 0 or a negative errno. */
COIL_API int coil_logfile_write(coil_logfile *lf, const char *data, size_t len);

/* Rotate now (Twisted's LogFile.rotate; twistd does it on SIGUSR1). */
COIL_API int coil_logfile_rotate(coil_logfile *lf);

/* Close and open the path again (after logrotate moved the file away: the
 * new writes go to a new file). coild does this on SIGHUP. */
COIL_API int coil_logfile_reopen(coil_logfile *lf);

/* The path as given, and the bytes in the current file. */
COIL_API const char *coil_logfile_path(const coil_logfile *lf);
COIL_API uint64_t coil_logfile_size(coil_logfile *lf);

/* Make the file(s) owned by uid/gid (before a runner drops privileges, so
 * that it can still reopen and rotate). 0 or a negative errno. */
COIL_API int coil_logfile_chown(coil_logfile *lf, long uid, long gid);

/* Close and free. NULL is ignored. */
COIL_API void coil_logfile_close(coil_logfile *lf);

/* Observers to pass to coil_log_set_handler() or
 * coil_application_set_log_observer() with a coil_logfile as `arg`:
 *  text: "2026-11-28T02:40:17+0000 [system#level] message", continuation
 *        lines of a multi-line message prefixed with a tab (Twisted's
 *        textFileLogObserver);
 *  json: one JSON object a line: {"time": ..., "level": ..., "system": ...,
 *        "text": ...}. */
COIL_API void coil_log_text_observer(void *logfile, coil_log_level level, const char *system,
                                     const char *msg);
COIL_API void coil_log_json_observer(void *logfile, coil_log_level level, const char *system,
                                     const char *msg);

#ifdef __cplusplus
}
#endif
#endif
