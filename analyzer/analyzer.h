/*
 * analyzer.h - the analyzer engine: flows in, anomalies and summaries out.
 *
 *   c = fs_analyzer_new(&cfg, sink, arg, err, sizeof(err));
 *   fs_analyzer_load(c, "baselines.snap", err, sizeof(err));   (optional)
 *   for each batch: fs_analyzer_feed(c, flows, n);
 *   fs_analyzer_finish(c);            (end of input: closes every window)
 *   fs_analyzer_save(c, "baselines.snap", err, sizeof(err));
 *   fs_analyzer_free(c);
 *
 * Event time drives everything (see docs/analyzer.md): a flow belongs to the
 * window of its end time; a window closes when the watermark (the largest
 * event time seen minus the allowed lateness) passes its end, and flows for
 * closed windows are counted as late and left out. The same flows in the same
 * order give the same anomalies however they are batched or paced.
 *
 * The engine is single-threaded and never blocks: sinks are called from
 * inside feed() and finish().
 */
#ifndef FS_ANALYZER_H
#define FS_ANALYZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "anomaly.h"
#include "config.h"
#include "detector.h"
#include "flow.h"
#include "msg.h"

/* Receives every anomaly that passed suppression and the rate limit. */
typedef void (*fs_an_sink_fn)(void *arg, const struct fs_anomaly *a);
/* Receives a baseline summary when an interval of event time closes. */
typedef void (*fs_an_summary_fn)(void *arg, const struct fs_summary *s);

struct fs_an_counters {
    uint64_t flows;            /* flows fed */
    uint64_t late;             /* flows for a window already closed: left out */
    uint64_t untimed;          /* flows without a usable time: left out */
    uint64_t transit;          /* flows with no internal endpoint */
    uint64_t windows_closed;
    uint64_t hosts_tracked;    /* gauge */
    uint64_t hosts_evicted;
    uint64_t anomalies;        /* delivered */
    uint64_t by_class[FS_AC_COUNT];
    uint64_t suppressed;       /* same (host, class) again, not more severe */
    uint64_t rate_limited;
    uint64_t allowlisted;      /* findings about allowlisted hosts, dropped */
    uint64_t summaries;
    uint64_t report_dropped;   /* anomalies beyond report-anomalies, kept out of the report */
};

/* Creates the engine and its detectors. The configuration must have been
 * checked (fs_an_config_check) and must outlive the engine. Fails, with the
 * reason in `err`, on out-of-memory, a --set for a detector that does not
 * exist or a --set key that no detector read. `sink` may be NULL. */
struct fs_an_ctx *fs_analyzer_new(const struct fs_an_config *cfg, fs_an_sink_fn sink,
                                  void *arg, char *err, size_t errlen);
void fs_analyzer_free(struct fs_an_ctx *c);

/* Replace the anomaly sink, or set the summary sink (none by default). */
void fs_analyzer_on_anomaly(struct fs_an_ctx *c, fs_an_sink_fn fn, void *arg);
void fs_analyzer_on_summary(struct fs_an_ctx *c, fs_an_summary_fn fn, void *arg);

/* Accounts `n` flows, in order. */
void fs_analyzer_feed(struct fs_an_ctx *c, const struct fs_flow *flows, size_t n);

/* End of input: closes every open window (and the pending hour and day)
 * as if the watermark had passed them. Feeding may go on afterwards; flows
 * for the windows closed here are late. */
void fs_analyzer_finish(struct fs_an_ctx *c);

/* Event time: the largest seen, and the watermark (the end of the closed
 * windows: max time - lateness, or later after fs_analyzer_finish). */
uint64_t fs_analyzer_max_time(const struct fs_an_ctx *c);
uint64_t fs_analyzer_watermark(const struct fs_an_ctx *c);

/* Snapshot of baselines, network profiles, event-time state and the
 * detectors' learned state, written atomically (temporary file, fsync,
 * rename). Returns 0, or -1 with the reason in `err`. */
int fs_analyzer_save(struct fs_an_ctx *c, const char *path, char *err, size_t errlen);

enum fs_snap_result {
    FS_SNAP_LOADED = 0,
    FS_SNAP_ABSENT,     /* no file: start fresh */
    FS_SNAP_REJECTED,   /* corrupt, truncated, other version or other settings:
                           renamed aside (`err` says where), start fresh */
    FS_SNAP_ERROR       /* could not be read (permissions, ...): `err` */
};

/* Loads a snapshot into a fresh engine (before any flow). Whatever the file
 * holds, the engine is usable afterwards: on anything but FS_SNAP_LOADED it
 * is exactly as fs_analyzer_new() left it. */
enum fs_snap_result fs_analyzer_load(struct fs_an_ctx *c, const char *path, char *err,
                                     size_t errlen);

const struct fs_an_counters *fs_analyzer_counters(struct fs_an_ctx *c);

/* Every counter by name, the engine's then each detector's ("beaconing.evicted"). */
void fs_analyzer_each_counter(struct fs_an_ctx *c,
                              void (*fn)(void *arg, const char *name, uint64_t v), void *arg);

/* Writes the JSON report (docs/analyzer.md): profiles, host statistics,
 * distributions, top talkers per window, anomalies. Returns 0 or -1 (errno). */
int fs_analyzer_report(struct fs_an_ctx *c, FILE *fp);

/* Fills `s` with the summary of what is known now (the last closed summary
 * interval for the period fields). The pointers in `s` stay valid until the
 * next call into the engine. */
void fs_analyzer_summary(struct fs_an_ctx *c, struct fs_summary *s);

/* Memory held for one tracked host, in bytes (docs/performance.md). */
size_t fs_analyzer_bytes_per_host(const struct fs_an_ctx *c);

#endif
