/*
 * follow.h - reads a growing log file line by line, like `tail -F`.
 *
 * The follower hands each complete line to a callback and keeps an
 * unterminated last line until the writer finishes it. It survives the ways
 * log files are rotated:
 *  - rename + new file under the name (Zeek, logrotate's default): the old
 *    file is read to its end, then the new one from its start;
 *  - copytruncate (the file shrinks under the reader): read again from the
 *    start;
 *  - a file that does not exist yet, or is missing for a while: looked for
 *    again at every poll.
 * An unterminated line left behind by a rotation or a truncation is dropped
 * and counted: its end went elsewhere.
 *
 * It is polled: the caller calls fs_follow_poll() every
 * fs_follow_timeout_ms(), and also whenever fs_follow_fd() (an inotify
 * descriptor watching the file's directory, when enabled) becomes readable,
 * which turns the interval into a safety net. Memory is bounded: one read
 * buffer and one line of at most `max_line` bytes; longer lines are dropped
 * whole and counted.
 *
 * Known limit, shared with tail -F: a copytruncate after which the writer
 * has already written more than was read before the next poll is not seen
 * as a truncation.
 */
#ifndef FS_FOLLOW_H
#define FS_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Receives one line, without its line feed (nor a carriage return before
 * it). Valid during the call only. */
typedef void (*fs_follow_fn)(void *arg, const char *line, size_t len);

struct fs_follow_config {
    const char *path;     /* copied */
    size_t max_line;      /* longest line kept, in bytes (0: 64 KiB) */
    size_t max_read;      /* most bytes read by one poll (0: 1 MiB) */
    unsigned interval_ms; /* how often to poll without inotify news (0: 250) */
    bool from_end;        /* skip what the file holds when the first poll finds
                           * it (a file appearing later is read whole) */
    bool inotify;         /* provide fs_follow_fd() */
    /* One line per event, NULL for none: opens, rotations and truncations,
     * and as `problem`s dropped lines and errors. */
    void (*log)(void *arg, bool problem, const char *line);
    void *log_arg;
};

struct fs_follow_counters {
    uint64_t lines;           /* complete lines delivered */
    uint64_t bytes;           /* bytes read */
    uint64_t opens;           /* files opened under the name */
    uint64_t rotations;       /* the name pointed to a new file */
    uint64_t truncations;     /* the file shrank under the reader */
    uint64_t too_long;        /* lines longer than max_line, dropped */
    uint64_t partial_dropped; /* unterminated lines lost to a rotation or truncation */
    uint64_t errors;          /* open, stat and read failures (not "missing") */
};

struct fs_follow;

/* Nothing is opened yet. Returns NULL when out of memory or `path` is empty. */
struct fs_follow *fs_follow_new(const struct fs_follow_config *cfg);
void fs_follow_free(struct fs_follow *fw);

/* Reads what is new (at most max_read bytes), checks for rotation and
 * truncation, and calls `fn` for each complete line. Returns the number of
 * lines delivered. */
size_t fs_follow_poll(struct fs_follow *fw, fs_follow_fn fn, void *arg);

/* Delivers the unterminated last line, if any, as a line: for a file that
 * is known to be complete (read once rather than followed). */
void fs_follow_flush(struct fs_follow *fw, fs_follow_fn fn, void *arg);

/* The inotify descriptor to wait on (readable: call fs_follow_poll()), or
 * -1 without inotify. */
int fs_follow_fd(const struct fs_follow *fw);

/* How long the caller may wait before the next poll: 0 when the last poll
 * stopped at max_read with more to read, else the interval. */
unsigned fs_follow_timeout_ms(const struct fs_follow *fw);

/* True while a file is open under the name (or the one renamed away). */
bool fs_follow_is_open(const struct fs_follow *fw);

const struct fs_follow_counters *fs_follow_counters(const struct fs_follow *fw);

#endif
