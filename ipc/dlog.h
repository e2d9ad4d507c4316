/*
 * dlog.h - a bounded, crash-safe log of records on disk, numbered 1, 2, 3...
 *
 * Two users: the analyzer's journal of anomaly and summary messages (read
 * back by sequence number when a reporter asks for what it missed) and the
 * reporter's spool of alerts waiting for a syslog receiver (read from the
 * oldest unacknowledged record, acknowledged once delivered).
 *
 * On disk a log is a directory of segment files named by the sequence number
 * of their first record ("00000000000000000001.seg"), each a header (magic,
 * log id, first sequence) and then records: length, CRC-32C of the length
 * and payload (so a zero-filled tail is not a valid empty record), payload. Appends go to the newest segment; a segment that reaches
 * `segment_bytes` is closed and a new one begun. Opening a log that a crash
 * cut short keeps every whole record and cuts the torn tail (counted).
 *
 * Bounds: when the records held exceed `max_bytes`, whole segments are
 * removed oldest first, even unacknowledged ones, and what they held is
 * counted as dropped. Records at or below the acknowledged mark are removed
 * as soon as their whole segment is acknowledged.
 *
 * The log id is a random 64-bit number chosen when the directory is first
 * created: a reader that remembers (id, sequence) can tell "this log, from
 * here" from "a new log, start again".
 *
 * Single-threaded, one process per directory (a lock file refuses a second
 * opener). Nothing here prints or exits.
 */
#ifndef FS_DLOG_H
#define FS_DLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest record payload accepted. */
#define FS_DLOG_RECORD_MAX (16u << 20)

struct fs_dlog_opts {
    uint64_t max_bytes;     /* bound on the segments' total size (0: 64 MiB) */
    uint64_t segment_bytes; /* size at which a segment is closed (0: max_bytes / 16,
                               at least 64 KiB and at most max_bytes) */
};

struct fs_dlog_counters {
    uint64_t appended;      /* records appended since open */
    uint64_t dropped;       /* unacknowledged records removed to stay within max_bytes */
    uint64_t torn;          /* damaged tail records cut at open (bytes lost: torn_bytes) */
    uint64_t torn_bytes;
    uint64_t bytes;         /* gauge: bytes held on disk */
    uint64_t records;       /* gauge: records held (first .. next - 1) */
};

struct fs_dlog;

/* Opens (creating when missing, with mode 0700) the log in directory `dir`.
 * Returns NULL with the reason in `err`: the directory cannot be made or
 * read, another process holds it, a segment is not a segment of this log
 * (not the magic, another id: "segment X: ..."). */
struct fs_dlog *fs_dlog_open(const char *dir, const struct fs_dlog_opts *opts, char *err,
                             size_t errlen);
/* Syncs and closes. NULL is fine. */
void fs_dlog_close(struct fs_dlog *l);

uint64_t fs_dlog_id(const struct fs_dlog *l);
/* The oldest sequence still held (== next when empty) and the next to be assigned. */
uint64_t fs_dlog_first(const struct fs_dlog *l);
uint64_t fs_dlog_next(const struct fs_dlog *l);
/* The acknowledged mark: every record up to it has been consumed (0: none).
 * Dropping records does not move it, so a consumer reads on from
 * max(acked + 1, first). */
uint64_t fs_dlog_acked(const struct fs_dlog *l);

/* Appends one record and gives its sequence number in `*seq` (may be NULL).
 * The record is in the operating system's hands on return (it survives the
 * process being killed); fs_dlog_sync() makes it survive a power cut.
 * Returns 0, or -1 with the reason in `err` (I/O error, record larger than
 * FS_DLOG_RECORD_MAX); a failed append leaves the log as it was. */
int fs_dlog_append(struct fs_dlog *l, const void *rec, size_t len, uint64_t *seq,
                   char *err, size_t errlen);

/* fsync of the segment written last (and of the directory after a segment
 * was added or removed). Returns 0 or -1 with `err`. */
int fs_dlog_sync(struct fs_dlog *l, char *err, size_t errlen);

/* Reads record `seq`. On success `*rec`/`*len` point into a buffer the log
 * owns, valid until the next call on the log. Returns 1 when read, 0 when
 * `seq` is not held (already removed, or not written yet), -1 with `err`
 * on an I/O error or a record damaged since open (CRC). Reading forward in
 * order is the fast path (no seek per record). */
int fs_dlog_read(struct fs_dlog *l, uint64_t seq, const void **rec, size_t *len, char *err,
                 size_t errlen);

/* Marks every record up to `seq` as consumed, persists the mark (a small
 * file written atomically) and removes segments holding only such records.
 * A mark below the current one is ignored. Returns 0 or -1 with `err`. */
int fs_dlog_ack(struct fs_dlog *l, uint64_t seq, char *err, size_t errlen);

const struct fs_dlog_counters *fs_dlog_counters(const struct fs_dlog *l);

#endif
