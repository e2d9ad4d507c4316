/*
 * fold.h - keeps alert storms small: the same host and class within a fold
 * window becomes one alert with a count, and a global rate limit holds back
 * the excess as one "storm" alert per minute.
 *
 * Event time only (the anomalies' ts_ms, and summaries' end_ms through
 * fs_rp_fold_advance), so a replay folds exactly as the live run did:
 *
 *   - The first anomaly of a (host, class) goes out at once as a SINGLE
 *     alert and opens a window [ts, ts + window). Anomalies of the same key
 *     inside it are absorbed. When event time passes the window's end and
 *     more than one anomaly was seen, one FOLDED alert goes out: count = the
 *     absorbed ones, first/last times, the most severe of them as `a`.
 *   - At most `rate_per_min` alerts (of any kind) per minute of event time;
 *     the others are counted and, when that minute is over, one STORM alert
 *     says how many were held back.
 *
 * Alert ids are derived from what they stand for (SINGLE: the anomaly id;
 * FOLDED: the opening anomaly's id and "folded"; STORM: the minute, the
 * count and the first and last times held back), so replaying the same
 * anomalies gives the same ids.
 *
 * Bounded: at most `max_keys` open windows; when full, the window that ends
 * first is closed early (its FOLDED alert goes out) and counted as evicted.
 */
#ifndef FS_RP_FOLD_H
#define FS_RP_FOLD_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"

struct fs_rp_fold_opts {
    uint32_t window_s;      /* 0: no folding, every anomaly is a SINGLE alert */
    uint32_t max_keys;      /* open windows kept (0: 4096) */
    uint32_t rate_per_min;  /* 0: no global limit */
};

struct fs_rp_fold_counters {
    uint64_t anomalies;     /* fed */
    uint64_t singles;       /* SINGLE alerts out */
    uint64_t absorbed;      /* anomalies folded into a window instead of going out */
    uint64_t folded;        /* FOLDED alerts out */
    uint64_t rate_limited;  /* alerts held back by the global limit */
    uint64_t storms;        /* STORM alerts out */
    uint64_t evicted;       /* windows closed early to stay within max_keys */
};

/* Receives each alert as it goes out. */
typedef void (*fs_rp_emit_fn)(void *arg, const struct fs_rp_alert *al);

struct fs_rp_fold;

/* NULL when out of memory. */
struct fs_rp_fold *fs_rp_fold_new(const struct fs_rp_fold_opts *o);
void fs_rp_fold_free(struct fs_rp_fold *f);

/* Feeds one anomaly: first closes what its time closes, then emits the
 * anomaly's own SINGLE alert when it opens a window. */
void fs_rp_fold_anomaly(struct fs_rp_fold *f, const struct fs_anomaly *a, fs_rp_emit_fn emit,
                        void *arg);

/* Moves event time to `event_ms` (later values only), closing what it closes. */
void fs_rp_fold_advance(struct fs_rp_fold *f, uint64_t event_ms, fs_rp_emit_fn emit, void *arg);

/* Closes every window and the rate-limit minute (end of input). */
void fs_rp_fold_flush(struct fs_rp_fold *f, fs_rp_emit_fn emit, void *arg);

/* The whole state (windows, event time, rate-limit minute) as bytes, for the
 * reporter's state file, and back. save: returns 0 and a malloc'd buffer the
 * caller frees, or -1 when out of memory. load: into a fresh fold; returns 0,
 * or -1 with the reason in `err` (truncated, damaged, other version), the
 * fold then left empty. */
int fs_rp_fold_save(const struct fs_rp_fold *f, void **buf, size_t *len);
int fs_rp_fold_load(struct fs_rp_fold *f, const void *buf, size_t len, char *err,
                    size_t errlen);

const struct fs_rp_fold_counters *fs_rp_fold_counters(const struct fs_rp_fold *f);

#endif
