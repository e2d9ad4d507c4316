/*
 * config.c - the analyzer's option table (ipc/opts.h) and the parsers of its
 * own value kinds: address prefixes, `--set detector.key=value` and a signed
 * UTC offset.
 *
 * Defaults suit a network of a few hundred to a few thousand hosts: 5-minute
 * windows, 2 minutes of allowed lateness, a week of warm-up, 10000 hosts.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "input.h"
#include "log.h"

#define DAY (86400u)

static void *grow(void *arr, size_t n, size_t size)
{
    return realloc(arr, (n + 1) * size);
}

/* ------------------------------------------------------------------ */
/* Custom option kinds. */

static int set_home(void *conf, const char *v, char *err, size_t errlen)
{
    return fs_cidrs_add(&((struct fs_an_config *)conf)->home, v, err, errlen);
}

static int set_allow(void *conf, const char *v, char *err, size_t errlen)
{
    return fs_cidrs_add(&((struct fs_an_config *)conf)->allow, v, err, errlen);
}

static void write_prefixes(const struct fs_cidrs *p, const char *name, FILE *fp)
{
    char buf[FS_CIDR_STRLEN];
    for (size_t i = 0; i < p->n; i++)
        fprintf(fp, "%s = %s\n", name, fs_cidr_format(&p->v[i], buf));
}

static void write_home(const void *conf, const struct fs_opt *o, FILE *fp)
{
    write_prefixes(&((const struct fs_an_config *)conf)->home, o->name, fp);
}

static void write_allow(const void *conf, const struct fs_opt *o, FILE *fp)
{
    write_prefixes(&((const struct fs_an_config *)conf)->allow, o->name, fp);
}

/* DETECTOR.KEY=VALUE. The value is a number, a duration (30s, 5m, 2h: in
 * seconds) or, for `allow`, an address or prefix. */
static int set_setting(void *conf, const char *v, char *err, size_t errlen)
{
    struct fs_an_config *c = conf;
    const char *dot = strchr(v, '.'), *eq = strchr(v, '=');
    struct fs_an_setting s = { 0 };
    char why[128];
    uint64_t secs;

    if (dot == NULL || eq == NULL || dot > eq || dot == v || eq == dot + 1 || eq[1] == '\0') {
        fs_opts_fail(err, errlen, "'%s' is not DETECTOR.KEY=VALUE", v);
        return -1;
    }
    s.text = strdup(eq + 1);
    s.detector = strndup(v, (size_t)(dot - v));
    s.key = strndup(dot + 1, (size_t)(eq - dot - 1));
    if (s.text == NULL || s.detector == NULL || s.key == NULL)
        goto oom;
    for (char *p = s.key; *p; p++)
        if (*p == '-')
            *p = '_';
    if (strcmp(s.key, "allow") == 0) {
        struct fs_cidr probe;
        if (fs_cidr_parse(s.text, &probe, err, errlen) != 0)
            goto fail;
    } else if (fs_opts_parse_double(s.text, &s.value, why, sizeof(why)) == 0) {
        s.numeric = true;
    } else if (fs_opts_parse_seconds(s.text, &secs, why, sizeof(why)) == 0) {
        s.value = (double)secs;
        s.numeric = true;
    } else {
        fs_opts_fail(err, errlen, "'%s': '%s' is not a number or a duration", v, s.text);
        goto fail;
    }
    struct fs_an_setting *nv = grow(c->set, c->nset, sizeof(*nv));
    if (nv == NULL)
        goto oom;
    c->set = nv;
    c->set[c->nset++] = s;
    return 0;
oom:
    fs_opts_fail(err, errlen, "out of memory");
fail:
    free(s.text);
    free(s.detector);
    free(s.key);
    return -1;
}

static void write_settings(const void *conf, const struct fs_opt *o, FILE *fp)
{
    const struct fs_an_config *c = conf;
    for (size_t i = 0; i < c->nset; i++)
        fprintf(fp, "%s = %s.%s=%s\n", o->name, c->set[i].detector, c->set[i].key,
                c->set[i].text);
}

/* Signed seconds, with the duration suffixes: "-5h", "+5400", "0". */
#define OFF(f) offsetof(struct fs_an_config, f)

static const struct fs_opt rows[] = {
    { "home-net", FS_OPT_CUSTOM, 0, 0, 0, set_home, write_home, "CIDR",
      "an internal network; repeatable; default 10.0.0.0/8, 172.16.0.0/12, "
      "192.168.0.0/16 and fc00::/7", true, 0, 0 },
    { "read", FS_OPT_STRV, OFF(read), 0, 0, NULL, NULL, "FILE",
      "analyse history files (nfdump CSV, JSON lines, pcap) instead of the bus, then "
      "write the report; repeatable", true, 0, 0 },
    { "format", FS_OPT_STR, OFF(format), 0, 0, NULL, NULL, "FORMAT",
      "format of the --read files (csv, json, pcap); default: from their content", false, 0, 0 },
    { "csv-tz", FS_OPT_STR, OFF(csv_tz), 0, 0, NULL, NULL, "ZONE",
      "time zone of nfdump CSV times: local, UTC, or +HH:MM; default local", false, 0, 0 },
    { "subscribe", FS_OPT_STRV, OFF(subscribe), 0, 0, fs_opts_check_endpoint, NULL,
      "ENDPOINT",
      "flows-bus endpoint to subscribe to; repeatable", true, 0, 0 },
    { "alerts", FS_OPT_STR, OFF(alerts), 0, 0, NULL, NULL, "FILE",
      "write anomalies to FILE as JSON lines ('-': stdout); rewritten with --read, "
      "appended to when live", false, 0, 0 },
    { "report", FS_OPT_STR, OFF(report), 0, 0, NULL, NULL, "FILE",
      "write the JSON report at the end of --read (and on SIGUSR2 when live)", false, 0, 0 },
    { "publish", FS_OPT_STR, OFF(publish), 0, 0, fs_opts_check_endpoint, NULL, "ENDPOINT",
      "events-bus endpoint for anomalies and summaries", false, 0, 0 },
    { "journal", FS_OPT_STR, OFF(journal), 0, 0, NULL, NULL, "DIR",
      "keep every anomaly and summary message, numbered, in a bounded journal in DIR "
      "(written before publishing; what --replay serves)", false, 0, 0 },
    { "journal-max", FS_OPT_BYTES, OFF(journal_max), 1u << 20, 1ull << 40, NULL, NULL, "BYTES",
      "size of the journal at most, oldest messages removed first; default 64M", false, 0, 0 },
    { "replay", FS_OPT_STR, OFF(replay), 0, 0, fs_opts_check_endpoint, NULL, "ENDPOINT",
      "answer replay requests from the journal on this endpoint (a ZeroMQ ROUTER, bound "
      "unless '>'); needs --journal", false, 0, 0 },
    { "sender", FS_OPT_STR, OFF(sender), 0, 0, NULL, NULL, "ID",
      "sender id on the events bus; default analyzer@<hostname>", false, 0, 0 },
    { "snapshot", FS_OPT_STR, OFF(snapshot), 0, 0, NULL, NULL, "FILE",
      "keep baselines in FILE across restarts (loaded at start, saved at an interval "
      "and at exit)", false, 0, 0 },
    { "snapshot-interval", FS_OPT_SECONDS, OFF(snapshot_interval), 10, 7 * DAY, NULL, NULL,
      "SECONDS", "save the snapshot this often when live; default 10m", false, 0, 0 },
    { "set", FS_OPT_CUSTOM, 0, 0, 0, set_setting, write_settings, "DETECTOR.KEY=VALUE",
      "a detector setting (number or duration), or DETECTOR.allow=CIDR; repeatable",
      true, 0, 0 },
    { "allow", FS_OPT_CUSTOM, 0, 0, 0, set_allow, write_allow, "CIDR",
      "never report this host or network, whatever the detector; repeatable", true, 0, 0 },
    { "window", FS_OPT_SECONDS, OFF(window), 10, DAY, NULL, NULL, "SECONDS",
      "window length; divides an hour; default 5m", false, 0, 0 },
    { "lateness", FS_OPT_SECONDS, OFF(lateness), 0, DAY, NULL, NULL, "SECONDS",
      "how late a flow may arrive (event time) before its window closes, at most one "
      "window; default 2m", false, 0, 0 },
    { "warmup", FS_OPT_SECONDS, OFF(warmup), 0, 365 * DAY, NULL, NULL, "SECONDS",
      "event time of learning before baselines score; default 7d", false, 0, 0 },
    { "utc-offset", FS_OPT_UTC_OFFSET, OFF(utc_offset), 0, 0, NULL, NULL, "SECONDS",
      "local time offset for hour-of-week slots (e.g. 1h, -5h); default 0 (UTC)", false, 0, 0 },
    { "summary-interval", FS_OPT_SECONDS, OFF(summary_interval), 60, 7 * DAY, NULL, NULL,
      "SECONDS", "event time between baseline summaries on the bus; default 1h", false, 0, 0 },
    { "max-hosts", FS_OPT_U64, OFF(max_hosts), 16, 10000000, NULL, NULL, "N",
      "internal hosts with baselines at once (least recently active evicted); "
      "default 10000", false, 0, 0 },
    { "min-samples", FS_OPT_U32, OFF(min_samples), 2, 1000, NULL, NULL, "N",
      "windows a baseline slot needs before it is used; default 8", false, 0, 0 },
    { "baseline-weight", FS_OPT_U32, OFF(baseline_weight), 2, 255, NULL, NULL, "N",
      "windows per slot after which older ones fade (exponential forgetting); "
      "default 96", false, 0, 0 },
    { "std-floor", FS_OPT_DOUBLE, OFF(std_floor), 0, 0, NULL, NULL, "FRACTION",
      "variance floor: the standard deviation used is at least this fraction of the "
      "mean; default 0.1", false, 0.0, 10.0 },
    { "iqr-k", FS_OPT_DOUBLE, OFF(iqr_k), 0, 0, NULL, NULL, "K",
      "inner IQR fence Q3 + K*IQR; default 1.5", false, 0.1, 100.0 },
    { "iqr-k-extreme", FS_OPT_DOUBLE, OFF(iqr_k_extreme), 0, 0, NULL, NULL, "K",
      "outer IQR fence; default 3", false, 0.1, 100.0 },
    { "suppress", FS_OPT_SECONDS, OFF(suppress), 0, 30 * DAY, NULL, NULL, "SECONDS",
      "the same host and class is reported again within this time only if more "
      "severe; default 1h", false, 0, 0 },
    { "rate-limit", FS_OPT_U32, OFF(rate_limit), 0, 10000000, NULL, NULL, "N",
      "anomalies per hour of event time at most, 0 no limit; default 1000", false, 0, 0 },
    { "top-n", FS_OPT_U32, OFF(top_n), 1, 1000, NULL, NULL, "N",
      "top talkers and ports kept per window and summary; default 10", false, 0, 0 },
    { "report-windows", FS_OPT_U32, OFF(report_windows), 0, 1000000, NULL, NULL, "N",
      "most recent windows whose top talkers the report lists; default 2016 (a week)",
      false, 0, 0 },
    { "report-anomalies", FS_OPT_U32, OFF(report_anomalies), 0, 10000000, NULL, NULL, "N",
      "anomalies the report lists at most; default 10000", false, 0, 0 },
    { "hll-precision", FS_OPT_U32, OFF(hll_p), 4, 16, NULL, NULL, "P",
      "HyperLogLog precision of the distinct peer/port counts; default 8", false, 0, 0 },
    { "quantile-stride", FS_OPT_U32, OFF(qs_stride), 1, 64, NULL, NULL, "N",
      "one window in N goes into the quantile sketches, so their 30 samples span "
      "several days; default 4", false, 0, 0 },
    { "flush-interval", FS_OPT_SECONDS, OFF(flush_interval), 1, DAY, NULL, NULL, "SECONDS",
      "flush the alerts file this often when live; default 1s", false, 0, 0 },
    { "stats-interval", FS_OPT_SECONDS, OFF(stats_interval), 0, DAY, NULL, NULL, "SECONDS",
      "log counters this often when live, 0 never; default 5m", false, 0, 0 },
    { "finish-at-exit", FS_OPT_FLAG, OFF(finish_at_exit), 0, 0, NULL, NULL, NULL,
      "at a live shutdown, close every open window so that its anomalies and summary are "
      "sent before exit (flows for those windows are late after a restart)", false, 0, 0 },
    FS_OPTS_LOG_ROWS(OFF(log_level)),
};

const struct fs_opts fs_an_config_opts = {
    rows, sizeof(rows) / sizeof(rows[0]),
    "Learns traffic baselines from flows (the flows bus or history files) and reports\n"
    "anomalies with evidence. docs/analyzer.md describes every option.\n"
};

void fs_an_config_init(struct fs_an_config *c)
{
    memset(c, 0, sizeof(*c));
    c->window = 300;
    c->lateness = 120;
    c->warmup = 7 * DAY;
    c->summary_interval = 3600;
    c->max_hosts = 10000;
    c->min_samples = 8;
    c->baseline_weight = 96;
    c->std_floor = 0.1;
    c->iqr_k = 1.5;
    c->iqr_k_extreme = 3.0;
    c->suppress = 3600;
    c->rate_limit = 1000;
    c->top_n = 10;
    c->report_windows = 2016;
    c->report_anomalies = 10000;
    c->hll_p = 8;
    c->qs_stride = 4;
    c->snapshot_interval = 600;
    c->flush_interval = 1;
    c->stats_interval = 300;
    c->journal_max = 64ull << 20;
    c->log_level = FS_LOG_INFO;
}

void fs_an_config_free(struct fs_an_config *c)
{
    fs_opts_free(&fs_an_config_opts, c);
    fs_cidrs_free(&c->home);
    fs_cidrs_free(&c->allow);
    for (size_t i = 0; i < c->nset; i++) {
        free(c->set[i].detector);
        free(c->set[i].key);
        free(c->set[i].text);
    }
    free(c->set);
    memset(c, 0, sizeof(*c));
}

int fs_an_config_set(struct fs_an_config *c, const char *key, const char *value,
                     char *err, size_t errlen)
{
    return fs_opts_set(&fs_an_config_opts, c, key, value, err, errlen);
}

int fs_an_config_check(struct fs_an_config *c, char *err, size_t errlen)
{
    if (3600 % c->window != 0) {
        fs_opts_fail(err, errlen, "window: %u s does not divide an hour", c->window);
        return -1;
    }
    if (c->lateness > c->window) {
        fs_opts_fail(err, errlen, "lateness: %u s is more than one window (%u s)",
                     c->lateness, c->window);
        return -1;
    }
    if (c->summary_interval % c->window != 0) {
        fs_opts_fail(err, errlen, "summary-interval: %u s is not a multiple of the window",
                     c->summary_interval);
        return -1;
    }
    if (c->iqr_k_extreme < c->iqr_k) {
        fs_opts_fail(err, errlen, "iqr-k-extreme (%g) is below iqr-k (%g)", c->iqr_k_extreme,
                     c->iqr_k);
        return -1;
    }
    enum fs_in_format fmt;
    if (c->format && fs_in_format_parse(c->format, &fmt) != 0) {
        fs_opts_fail(err, errlen, "format: '%s' is not auto, csv, json or pcap", c->format);
        return -1;
    }
    if (c->replay != NULL && c->journal == NULL) {
        fs_opts_fail(err, errlen, "replay needs journal: the replies come from it");
        return -1;
    }
    if (c->read.n > 0 && c->subscribe.n > 0) {
        fs_opts_fail(err, errlen, "read and subscribe cannot be used together");
        return -1;
    }
    if (c->home.n == 0) {
        static const char *const defaults[] = { "10.0.0.0/8", "172.16.0.0/12",
                                                "192.168.0.0/16", "fc00::/7" };
        for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
            if (fs_cidrs_add(&c->home, defaults[i], err, errlen) != 0)
                return -1;
    }
    return 0;
}

enum fs_opts_result fs_an_config_parse_args(struct fs_an_config *c, int argc, char *const argv[],
                                            char *err, size_t errlen)
{
    enum fs_opts_result r = fs_opts_parse_args(&fs_an_config_opts, c, argc, argv, NULL, err,
                                               errlen);

    return r == FS_OPTS_OK && fs_an_config_check(c, err, errlen) != 0 ? FS_OPTS_ERROR : r;
}
