/*
 * report.h - the reporter's JSON reports: one per summary period (hourly by
 * default: the analyzer's summary interval) and one per day, plus on demand.
 *
 * Input is the analyzer's event stream in journal order: anomalies as they
 * come (fs_rp_reports_anomaly) and summaries when a period of event time
 * closes (fs_rp_reports_summary). A period report holds the summary's traffic
 * totals, the hour-of-day and day-of-week profiles, per-host statistics
 * (mean, median, std, quartiles of each baseline metric), protocol and port
 * distributions, top talkers with their deviation from their own baseline,
 * and the anomalies received since the previous period report, with their
 * z-scores, scores, severities and evidence. A daily report merges the day's
 * periods (docs/reports.md says how each part merges).
 * docs/report.schema.json is the JSON Schema of every report.
 *
 * Files: <dir>/<kind>-<period start, UTC, ISO 8601 basic>.json, e.g.
 * "hourly-20261124T130000Z.json", "daily-20261124T000000Z.json",
 * "ondemand-20261124T131502Z.json", written atomically (temporary file in the
 * same directory, fsync, rename, fsync of the directory), so a reader sees
 * the old file or the new one, never part of one. After each write, reports
 * of the same kind whose period ended more than the retention before the
 * newest one's end are removed (event time: a replay keeps the same files).
 *
 * Days are UTC days shifted by `utc_offset_s`. Nothing here prints or exits.
 */
#ifndef FS_RP_REPORT_H
#define FS_RP_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anomaly.h"
#include "msg.h"

struct fs_rp_report_opts {
    const char *dir;            /* created when missing */
    bool hourly;                /* a report per summary period (default on) */
    bool daily;                 /* a report per day (default on) */
    uint32_t keep_hourly_s;     /* retention of period reports (0: keep all) */
    uint32_t keep_daily_s;      /* retention of daily reports (0: keep all) */
    int32_t utc_offset_s;       /* where days begin, east of UTC */
    uint32_t max_anomalies;     /* per report; beyond are counted, not listed (0: 10000) */
    const char *sender;         /* the reporter's id, written in each report */
};

struct fs_rp_report_counters {
    uint64_t written;           /* reports written */
    uint64_t write_errors;
    uint64_t removed;           /* removed by retention */
    uint64_t anomalies;         /* anomalies accounted */
    uint64_t anomalies_unlisted;/* beyond max_anomalies */
    uint64_t summaries;
    uint64_t rejected;          /* summaries with a period out of range, anomalies of no
                                   known class or severity: not accounted */
    uint64_t late;              /* summaries of a day already closed: period report only */
    uint64_t dropped;           /* reports given up: too many (48) waiting to be written */
    uint64_t retention_errors;  /* old reports that could not be listed or removed */
};

struct fs_rp_reports;

/* Checks the options and creates the directory. NULL with `err`. */
struct fs_rp_reports *fs_rp_reports_new(const struct fs_rp_report_opts *o, char *err,
                                        size_t errlen);
void fs_rp_reports_free(struct fs_rp_reports *r);

void fs_rp_reports_anomaly(struct fs_rp_reports *r, const struct fs_anomaly *a);

/* Accounts a summary: writes the period report and, when the summary closes
 * a day, the daily report. `written`, when not NULL, receives the path of
 * the last report written (or "" when none), in a buffer of `cap` bytes.
 * Returns 0, or -1 with `err` when a report could not be written (the data
 * is kept and the next write tries again). */
int fs_rp_reports_summary(struct fs_rp_reports *r, const struct fs_summary *s,
                          char *written, size_t cap, char *err, size_t errlen);

/* On demand (SIGUSR2, --report-now): what the current day holds so far,
 * as "ondemand-<now>.json" (`now_ms`: wall clock, only for the name). */
int fs_rp_reports_now(struct fs_rp_reports *r, uint64_t now_ms, char *written, size_t cap,
                      char *err, size_t errlen);

/* Writes the reports still waiting after a write error (the next summary
 * or on-demand report also does). Same returns as fs_rp_reports_summary. */
int fs_rp_reports_flush(struct fs_rp_reports *r, char *written, size_t cap, char *err,
                        size_t errlen);
/* Reports rendered but not written yet. */
size_t fs_rp_reports_waiting(const struct fs_rp_reports *r);

/* The accumulated state (the day so far, anomalies since the last period
 * report) as bytes for the reporter's state file, and back into a fresh
 * object. Same contract as fs_rp_fold_save / fs_rp_fold_load. */
int fs_rp_reports_save(const struct fs_rp_reports *r, void **buf, size_t *len);
int fs_rp_reports_load(struct fs_rp_reports *r, const void *buf, size_t len, char *err,
                       size_t errlen);

const struct fs_rp_report_counters *fs_rp_reports_counters(const struct fs_rp_reports *r);

#endif
