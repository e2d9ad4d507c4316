/*
 * reportpriv.h - what the three parts of the JSON reports share: report.c
 * (days, merging, files), reportjson.c (the JSON text) and reportstate.c
 * (the state file's bytes). Not an API: only those files include it.
 *
 * A report is rendered from one accumulation (struct rp_acc): a period
 * report from the accumulation of its one summary, a daily report from the
 * merge of the day's period accumulations, an on-demand report from the day
 * so far. Lists are kept sorted by key so that merging is a walk of two
 * sorted arrays, and capped at FS_SUMMARY_MAX_LIST (the heaviest are kept,
 * the others counted in `dropped`).
 */
#ifndef FS_RP_REPORTPRIV_H
#define FS_RP_REPORTPRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "binio.h"
#include "report.h"

enum rp_kind { RP_HOURLY = 0, RP_DAILY, RP_ONDEMAND, RP_NKINDS };
extern const char *const rp_kind_names[RP_NKINDS];

#define RP_DAY_MS UINT64_C(86400000)
/* Event times accepted: from 1970-01-02 to 9999-12-30, so that day
 * arithmetic with any UTC offset and the ISO years stay in range. */
#define RP_MIN_MS RP_DAY_MS
#define RP_MAX_MS (UINT64_C(253402300799999) - 2 * RP_DAY_MS)
/* Reports rendered but not yet on disk (a write error); the oldest is
 * dropped beyond this. */
#define RP_PENDING_MAX 48
/* Most anomalies listed per report (max_anomalies). */
#define RP_MAX_ANOMALIES 1000000u


struct rp_talker {
    fs_ip addr;
    uint64_t bytes_out, bytes_in, flows;
    uint32_t periods;   /* summaries it was a top talker in */
    bool var_ok;        /* `var` could be derived from every one of them */
    double expected, z, peak_z;
    double var;         /* summed baseline variance behind z */
};

struct rp_port {
    uint64_t flows, bytes;
    uint16_t port;
    uint8_t proto;
};

struct rp_proto {
    uint64_t flows, packets, bytes;
    uint8_t proto;
};

struct rp_host {
    fs_ip addr;
    uint64_t bytes_out, bytes_in, packets, flows;
    uint32_t periods;
    struct fs_summary_stat base[FS_SUMMARY_HOST_METRICS]; /* from the latest summary */
};

struct rp_period {
    uint64_t start_ms, end_ms, bytes, packets, flows;
};

enum { RP_TALKERS = 0, RP_PORTS, RP_PROTOS, RP_HOSTS, RP_PERIODS, RP_NLISTS };
extern const char *const rp_list_names[RP_NLISTS];

struct rp_list {
    void *v;
    size_t n;
};

/* Anomalies as their JSON text (rendered once, when they arrive), with the
 * counts of every anomaly accounted, listed or not. */
struct rp_anoms {
    char **v;
    size_t n, alloc;
    uint64_t total, unlisted;
    uint64_t by_class[FS_AC_COUNT];
    uint64_t by_sev[FS_SEV_CRITICAL + 1];
};

struct rp_acc {
    uint64_t start_ms, end_ms;   /* the report's period */
    uint64_t first_ms, last_ms;  /* covered by its summaries (0 and 0: none) */
    uint64_t summaries;
    uint64_t bytes, packets, flows, analyzer_anomalies;
    uint64_t hosts;              /* tracked by the analyzer: the latest summary's */
    struct fs_summary_profile hour_of_day[24], day_of_week[7];
    struct rp_list list[RP_NLISTS];
    uint64_t dropped[RP_NLISTS];
    struct rp_anoms an;
};

/* A rendered report waiting to be written. */
struct rp_pending {
    enum rp_kind kind;
    uint64_t name_ms;  /* the time in its file name */
    char *text;
    size_t len;
};

struct fs_rp_reports {
    char *dir;
    char *sender;
    bool hourly, daily;
    uint32_t keep_s[RP_NKINDS];
    int32_t utc_offset_s;
    uint32_t max_anomalies;

    bool day_open;
    bool day_seen;             /* `day` is set */
    int64_t day;               /* index of the open day, or of the last one closed */
    struct rp_acc acc;         /* the open day so far */
    struct rp_anoms period;    /* anomalies since the last period report */
    struct rp_pending pending[RP_PENDING_MAX];
    size_t npending;

    struct fs_rp_report_counters n;
};

/* How the elements of each list compare, merge and weigh. */
struct rp_list_ops {
    size_t size;
    int (*key)(const void *x, const void *y);    /* the merge key */
    int (*weight)(const void *x, const void *y); /* heaviest first, then by key */
    void (*combine)(void *into, const void *later);
};
extern const struct rp_list_ops rp_list_ops[RP_NLISTS];

void rp_acc_clear(struct rp_acc *a);
/* Back to a fresh object's state (options and counters stay). */
void rp_reports_reset(struct fs_rp_reports *r);
void rp_anoms_clear(struct rp_anoms *an);
/* Appends an anomaly's text (taken over) to a list, honouring the cap;
 * counts are the caller's. Returns false when it was not listed. */
bool rp_anoms_push(struct rp_anoms *an, char *text, uint32_t max);

/* JSON of a report: the accumulation, with the anomalies of `more` (when
 * not NULL) after its own, at most max_anomalies listed. Returns 0, or -1
 * when out of memory. */
int rp_render(const struct fs_rp_reports *r, enum rp_kind kind, const struct rp_acc *a,
              const struct rp_anoms *more, struct fs_wbuf *out);
/* "2026-11-24T13:00:00Z" (with ".mmm" when there are milliseconds). */
void rp_iso(uint64_t ms, char *out, size_t cap);
/* Length of the UTF-8 sequence (RFC 3629) at s, of at most n bytes; 0 when
 * there is none. */
size_t rp_utf8_len(const unsigned char *s, size_t n);

#endif
