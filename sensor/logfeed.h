/*
 * logfeed.h - a followed Zeek conn.log or Suricata EVE file as a flow source
 * of the sensor: fs_follow reads the lines, fs_zeek or fs_eve turns them
 * into flows, and damaged lines are logged (rate-limited) and counted.
 *
 * fs_feed_fd/run/close/counters take the feed as a `void *` so that they fit
 * the sensor's source table (main.c's struct source) as they are.
 */
#ifndef FS_LOGFEED_H
#define FS_LOGFEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h" /* fs_flow_sink */
#include "logsrc.h"

enum fs_feed_kind {
    FS_FEED_ZEEK_CONN, /* --zeek-conn: TSV or JSON conn.log */
    FS_FEED_EVE        /* --eve: Suricata eve.json */
};

struct fs_feed_config {
    enum fs_feed_kind kind;
    const char *path;        /* copied */
    struct fs_ls_config src; /* exporter, domain, interface names */
    bool from_end;           /* skip what the file holds at start (not for Zeek TSV:
                              * its header would be skipped too) */
    unsigned interval_ms;    /* poll interval without inotify news (0: 250) */
    size_t max_line;         /* longest line (0: 64 KiB) */
};

struct fs_feed;

/* Nothing is opened yet (a missing file is waited for). Returns NULL when
 * out of memory or the path is empty. */
struct fs_feed *fs_feed_new(const struct fs_feed_config *cfg);

/* "zeek:PATH" or "eve:PATH": the group name of its counters (stable for the
 * feed's life, so it can be compared by pointer). */
const char *fs_feed_name(const struct fs_feed *f);

/* The descriptor to poll (inotify), or -1. */
int fs_feed_fd(void *feed);

/* Reads what is new when due (the interval passed, the descriptor is
 * readable, or the last run left more to read), at most 8 MiB, and hands
 * the flows to `sink`. `now_ms` is any clock in ms. */
void fs_feed_run(void *feed, uint64_t now_ms, fs_flow_sink sink, void *sink_arg);

/* Reads the file to its end now, its unterminated last line included: for a
 * file that is complete (offline runs). */
void fs_feed_drain(struct fs_feed *f, fs_flow_sink sink, void *sink_arg);

/* Frees the feed (logs the malformed lines still unreported). */
void fs_feed_close(void *feed);

/* Every counter of the feed and its file, under fs_feed_name(): lines,
 * flows, malformed, skipped, then the file's bytes, opens, rotations,
 * truncations, too_long, partial_dropped, errors. */
typedef void (*fs_feed_counter_fn)(void *arg, const char *group, const char *name,
                                   uint64_t value);
void fs_feed_counters(void *feed, fs_feed_counter_fn fn, void *arg);

#endif
