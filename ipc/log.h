/*
 * log.h - the one log format of every flowsentry process.
 *
 * Lines go to stderr, one per call, so that systemd/journald or a supervisor
 * picks them up unchanged:
 *
 *   2026-11-24T14:07:00Z flowsentry-collector[4711] warning: exporter 192.0.2.1: ...
 *
 * Rate limiting is the caller's business (the decoder already limits its own
 * lines); this module only formats and filters by level.
 */
#ifndef FS_LOG_H
#define FS_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum fs_log_level {
    FS_LOG_ERROR = 0,
    FS_LOG_WARNING,
    FS_LOG_INFO,
    FS_LOG_DEBUG
};

/* Program name shown in every line ("flowsentry-collector"). Copied. */
void fs_log_set_program(const char *name);

/* Lines above `level` are dropped. The default is FS_LOG_INFO. */
void fs_log_set_level(enum fs_log_level level);
enum fs_log_level fs_log_get_level(void);

/* Parses "error", "warning", "info" or "debug". Returns 0, or -1 when the
 * name is none of them. */
int fs_log_level_parse(const char *name, enum fs_log_level *level);

/* "error", "warning", "info", "debug". */
const char *fs_log_level_name(enum fs_log_level level);

/* True when a line at `level` would be written: lets callers skip building
 * expensive arguments. */
bool fs_log_enabled(enum fs_log_level level);

void fs_log(enum fs_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void fs_vlog(enum fs_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Fits the decoder's fs_log_fn (void *arg, const char *line): logs `line` at
 * warning level. `arg` is ignored. */
void fs_log_line(void *arg, const char *line);

#endif
