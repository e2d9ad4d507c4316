/*
 * config.h - flowsentry-analyzer settings: the command line, a config file
 * (-c FILE, `key = value` lines) and the detector settings given with
 * `--set detector.key=value`.
 *
 * The option table fs_an_config_opts drives the command line, the file, the
 * usage text and the written config through ipc/opts.h. Detector settings are
 * not in the table: every detector reads its own keys with fs_an_param() and
 * the analyzer reports any `--set` key that no detector read as an error, so
 * a typo never silently leaves a default in force.
 *
 * Nothing here prints or exits; errors come back as one line in `err`.
 */
#ifndef FS_AN_CONFIG_H
#define FS_AN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "flow.h"
#include "opts.h"

/* Home networks and allowlists are ipc/cidr.h prefix lists. The fs_an_prefix
 * names below are aliases kept until core.c is moved over to fs_cidr. */
#define fs_an_prefix fs_cidr
#define fs_an_prefixes fs_cidrs

/* One `--set detector.key=value`. `used` is set when a detector reads it. */
struct fs_an_setting {
    char *detector;
    char *key;
    char *text;       /* the value as given */
    double value;
    bool numeric;     /* value parsed as a number or duration */
    bool used;
};

struct fs_an_config {
    /* Inputs and outputs. */
    struct fs_strv read;          /* history files: batch mode when any */
    struct fs_strv subscribe;     /* flows-bus endpoints */
    char *alerts;                 /* JSON lines file of anomalies */
    char *report;                 /* JSON report file */
    char *publish;                /* events-bus endpoint */
    char *snapshot;               /* baselines snapshot file */
    char *sender;                 /* NULL: analyzer@<hostname> */
    char *format;                 /* input format of --read files; NULL: by content */
    char *csv_tz;                 /* zone of nfdump CSV times; NULL: local */
    char *journal;                /* directory of the events journal; NULL: none */
    uint64_t journal_max;         /* bytes the journal may hold */
    char *replay;                 /* replay endpoint (ROUTER); needs the journal */

    /* Networks and allowlists. */
    struct fs_cidrs home;         /* empty after parsing: the RFC 1918/4193 defaults */
    struct fs_cidrs allow;        /* global allowlist */
    struct fs_an_setting *set;    /* --set entries (numeric ones and *.allow) */
    size_t nset;

    /* Time. */
    uint32_t window;              /* seconds per window */
    uint32_t lateness;            /* seconds a flow may arrive after its window */
    uint32_t warmup;              /* seconds of event time before baselines score */
    int32_t utc_offset;           /* seconds added to UTC for hour-of-week slots */
    uint32_t summary_interval;    /* event seconds between summaries (multiple of window) */

    /* Baselines and scoring. */
    uint64_t max_hosts;           /* internal hosts tracked at once */
    uint32_t min_samples;         /* samples a slot needs before it is used */
    uint32_t baseline_weight;     /* Welford weight cap: older windows fade past it */
    double std_floor;             /* variance floor: std >= std_floor * mean ... */
    double iqr_k;                 /* inner IQR fence multiplier (Tukey 1.5) */
    double iqr_k_extreme;         /* outer fence (3.0) */
    uint32_t suppress;            /* seconds: same (host, class) re-emitted only if worse */
    uint32_t rate_limit;          /* anomalies per event-time hour, 0: none */
    uint32_t top_n;               /* top talkers / ports kept per window and summary */
    uint32_t report_windows;      /* windows whose top talkers the report keeps */
    uint32_t report_anomalies;    /* anomalies the report keeps */
    unsigned hll_p;               /* HyperLogLog precision of per-host distinct counts */
    uint32_t qs_stride;           /* one window in N goes into the quantile sketches */

    /* Live mode (wall clock). */
    uint32_t snapshot_interval;   /* seconds between snapshots */
    uint32_t flush_interval;      /* seconds between alert file flushes */
    uint32_t stats_interval;      /* seconds between counter log lines, 0: never */
    bool finish_at_exit;          /* close every open window at a live shutdown */

    int log_level;                /* enum fs_log_level */
};

/* Sets every default. */
void fs_an_config_init(struct fs_an_config *c);
void fs_an_config_free(struct fs_an_config *c);

/* The option table: fs_opts_usage() and fs_opts_write() take it. */
extern const struct fs_opts fs_an_config_opts;

/* Reads -c FILE and the command line, then checks options against each other. */
enum fs_opts_result fs_an_config_parse_args(struct fs_an_config *c, int argc, char *const argv[],
                                            char *err, size_t errlen);

/* Sets one option by name, as a file line would ("home-net", "10.0.0.0/8"). */
int fs_an_config_set(struct fs_an_config *c, const char *key, const char *value,
                     char *err, size_t errlen);

/* Checks the options against each other (window, lateness, summary interval).
 * fs_an_config_parse_args() calls it; programs that fill the struct by hand
 * (tests) call it before fs_analyzer_new(). */
int fs_an_config_check(struct fs_an_config *c, char *err, size_t errlen);

#define fs_an_prefixes_add fs_cidrs_add
#define fs_an_prefixes_match fs_cidrs_match
#define fs_an_prefixes_free fs_cidrs_free
#define fs_an_prefix_format fs_cidr_format

#endif
