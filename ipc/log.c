/*
 * log.c - formats log lines and writes each with a single write(2), so that
 * lines from several threads or processes sharing stderr never interleave.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *const level_names[] = {"error", "warning", "info", "debug"};

static char program[64] = "flowsentry";
static atomic_int threshold = FS_LOG_INFO;

void fs_log_set_program(const char *name)
{
    snprintf(program, sizeof(program), "%s", name);
}

void fs_log_set_level(enum fs_log_level level)
{
    atomic_store_explicit(&threshold, (int)level, memory_order_relaxed);
}

enum fs_log_level fs_log_get_level(void)
{
    return (enum fs_log_level)atomic_load_explicit(&threshold, memory_order_relaxed);
}

int fs_log_level_parse(const char *name, enum fs_log_level *level)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *level = (enum fs_log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *fs_log_level_name(enum fs_log_level level)
{
    if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
        return "debug";
    return level_names[level];
}

bool fs_log_enabled(enum fs_log_level level)
{
    return (int)level <= atomic_load_explicit(&threshold, memory_order_relaxed);
}

void fs_vlog(enum fs_log_level level, const char *fmt, va_list ap)
{
    if (!fs_log_enabled(level))
        return;

    /* PIPE_BUF: a line written to a pipe arrives whole, and a counters line
     * with every detector's fits. */
    char line[4096];
    struct tm tm;
    time_t now = time(NULL);
    gmtime_r(&now, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
    int h = snprintf(line + n, sizeof(line) - n, "%s[%ld] %s: ", program,
                     (long)getpid(), fs_log_level_name(level));
    if (h < 0)
        return;
    n += (size_t)h < sizeof(line) - n ? (size_t)h : sizeof(line) - n - 1;

    size_t start = n;
    int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (m > 0)
        n += (size_t)m < sizeof(line) - n ? (size_t)m : sizeof(line) - n - 1;
    while (n > start && line[n - 1] == '\n')
        n--;
    /* One call, one line: text that came off the wire must not be able to
     * forge further lines. */
    for (size_t i = start; i < n; i++) {
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    }
    line[n++] = '\n';

    const char *p = line;
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

void fs_log(enum fs_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fs_vlog(level, fmt, ap);
    va_end(ap);
}

void fs_log_line(void *arg, const char *line)
{
    (void)arg;
    fs_log(FS_LOG_WARNING, "%s", line);
}
