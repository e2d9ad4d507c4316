/*
 * main.c - flowsentry-analyzer: learns traffic baselines from flows and
 * reports anomalies.
 *
 * Batch mode (--read FILES): the files go through the engine in order, every
 * window is closed at the end, the report is written, and the snapshot (if
 * any) saved. Live mode (--subscribe ENDPOINT...): flows-bus batches feed the
 * same engine; the wall clock only decides when the alert file is flushed
 * (and the journal synced), when counters are logged and when the snapshot
 * is saved. SIGINT/SIGTERM stop, SIGUSR1 logs the counters, SIGUSR2 writes
 * the report.
 *
 * With --replay the live loop also answers replay requests from the
 * journal. It does so between flows-bus messages: the loop wakes at least
 * every 250 ms, so an idle analyzer answers within that.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyzer.h"
#include "events.h"
#include "input.h"
#include "log.h"
#include "replay.h"
#include "signals.h"

#define PROGRAM "flowsentry-analyzer"

#define EXIT_RUNTIME 1
#define EXIT_CONFIG FS_OPTS_EXIT_CONFIG

/* Replay problems logged before only counting. */
#define LOG_BURST 5
/* How long the live loop waits for flows before looking at the rest. */
#define POLL_MS 250

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Counters as one log line: "flows=10 late=0 ...", zero detector counters left out. */
struct counter_line {
    char buf[2048];
    size_t len;
};

static void add_counter(void *arg, const char *name, uint64_t v)
{
    struct counter_line *l = arg;
    int n;

    if (v == 0 && strchr(name, '.') != NULL)
        return;
    n = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s%s=%llu", l->len ? " " : "",
                 name, (unsigned long long)v);
    if (n > 0 && (size_t)n < sizeof(l->buf) - l->len)
        l->len += (size_t)n;
}

static void log_counters(struct fs_an_ctx *c, const struct fs_an_events *e,
                         const struct fs_replay_srv *rs)
{
    struct counter_line l = { .len = 0 };
    const struct fs_an_events_counters *en = fs_an_events_counters(e);

    fs_analyzer_each_counter(c, add_counter, &l);
    add_counter(&l, "alerts_written", en->alerts_written);
    add_counter(&l, "alert_errors", en->alert_errors);
    add_counter(&l, "published", en->published);
    add_counter(&l, "publish_errors", en->publish_errors);
    add_counter(&l, "journal_appended", en->journal_appended);
    add_counter(&l, "journal_errors", en->journal_errors);
    add_counter(&l, "journal_dropped", en->journal_dropped);
    if (rs != NULL) {
        const struct fs_replay_srv_counters *rn = fs_replay_srv_counters(rs);
        add_counter(&l, "replay_requests", rn->requests);
        add_counter(&l, "replay_messages", rn->messages);
        add_counter(&l, "replay_bad_requests", rn->bad_requests);
        add_counter(&l, "replay_read_errors", rn->read_errors);
    }
    fs_log(FS_LOG_INFO, "counters: %s", l.buf);
}

/* Answers waiting replay requests; logs the first problems. */
static void serve_replay(struct fs_replay_srv *rs, struct fs_an_events *events)
{
    const struct fs_replay_srv_counters *rn = fs_replay_srv_counters(rs);
    uint64_t problems = rn->bad_requests + rn->read_errors;
    static uint64_t logged, socket_errors;
    char err[256];

    if (fs_replay_srv_serve(rs, fs_an_events_journal(events), err, sizeof(err)) < 0 &&
        socket_errors++ < LOG_BURST)
        fs_log(FS_LOG_ERROR, "%s", err);
    if (rn->bad_requests + rn->read_errors != problems && logged++ < LOG_BURST)
        fs_log(FS_LOG_WARNING, "replay: %s", fs_replay_srv_problem(rs));
}

static int write_report(struct fs_an_ctx *c, const char *path)
{
    FILE *fp = fopen(path, "w");
    int rc;

    if (fp == NULL) {
        fs_log(FS_LOG_ERROR, "report %s: %s", path, strerror(errno));
        return -1;
    }
    rc = fs_analyzer_report(c, fp);
    if (fclose(fp) != 0)
        rc = -1;
    if (rc != 0)
        fs_log(FS_LOG_ERROR, "report %s: %s", path, strerror(errno));
    else
        fs_log(FS_LOG_INFO, "report written to %s", path);
    return rc;
}

static int save_snapshot(struct fs_an_ctx *c, const char *path)
{
    char err[512];

    if (fs_analyzer_save(c, path, err, sizeof(err)) != 0) {
        fs_log(FS_LOG_ERROR, "snapshot: %s", err);
        return -1;
    }
    fs_log(FS_LOG_DEBUG, "snapshot saved to %s", path);
    return 0;
}

static void feed(void *arg, const struct fs_flow *flows, size_t n)
{
    fs_analyzer_feed(arg, flows, n);
}

static void log_input(const struct fs_in_stats *st)
{
    fs_log(FS_LOG_INFO, "input: files=%llu records=%llu flows=%llu malformed=%llu "
           "truncated=%llu failed=%llu lost=%llu",
           (unsigned long long)st->files, (unsigned long long)st->records,
           (unsigned long long)st->flows, (unsigned long long)st->malformed,
           (unsigned long long)st->truncated, (unsigned long long)st->failed,
           (unsigned long long)st->lost);
}

static int run_batch(struct fs_an_ctx *c, struct fs_in *in, const struct fs_an_config *cfg)
{
    enum fs_in_format fmt = FS_IN_AUTO;
    char err[512];
    int rc = 0;

    if (cfg->format != NULL)
        fs_in_format_parse(cfg->format, &fmt);
    for (size_t i = 0; i < cfg->read.n && !fs_sig_stopped(); i++) {
        if (fs_in_read_file(in, cfg->read.v[i], fmt, NULL, err, sizeof(err)) != 0) {
            fs_log(FS_LOG_ERROR, "%s", err);
            rc = -1;
        }
    }
    fs_analyzer_finish(c);
    if (cfg->report != NULL && write_report(c, cfg->report) != 0)
        rc = -1;
    return rc;
}

/* Live: the wall clock decides only flushes, counter lines and snapshots. */
static int run_live(struct fs_an_ctx *c, struct fs_in *in, struct fs_an_events *events,
                    struct fs_replay_srv *rs, const struct fs_an_config *cfg)
{
    const char *const *eps = (const char *const *)cfg->subscribe.v;
    uint64_t now = now_ms(), next_flush, next_snap, next_stats;
    char err[512];

    if (fs_in_bus_open(in, eps, cfg->subscribe.n, err, sizeof(err)) != 0) {
        fs_log(FS_LOG_ERROR, "%s", err);
        return -1;
    }
    fs_log(FS_LOG_INFO, "listening for flows on %zu endpoint(s)", cfg->subscribe.n);
    next_flush = now + (uint64_t)cfg->flush_interval * 1000;
    next_snap = now + (uint64_t)cfg->snapshot_interval * 1000;
    next_stats = cfg->stats_interval ? now + (uint64_t)cfg->stats_interval * 1000 : UINT64_MAX;
    while (!fs_sig_stopped()) {
        if (fs_in_bus_poll(in, POLL_MS, NULL) < 0 && errno != EINTR) {
            fs_log(FS_LOG_ERROR, "flows bus: receive failed");
            return -1;
        }
        if (rs != NULL)
            serve_replay(rs, events);
        now = now_ms();
        if (now >= next_flush) {
            fs_an_events_flush(events);
            next_flush = now + (uint64_t)cfg->flush_interval * 1000;
        }
        if (cfg->snapshot != NULL && now >= next_snap) {
            save_snapshot(c, cfg->snapshot);
            next_snap = now + (uint64_t)cfg->snapshot_interval * 1000;
        }
        if (fs_sig_take_usr1() || now >= next_stats) {
            log_counters(c, events, rs);
            log_input(fs_in_totals(in));
            if (cfg->stats_interval)
                next_stats = now + (uint64_t)cfg->stats_interval * 1000;
        }
        if (fs_sig_take_usr2()) {
            if (cfg->report != NULL)
                write_report(c, cfg->report);
        }
    }
    if (cfg->finish_at_exit) {
        /* The findings of the windows still open go out with this run
         * instead of waiting for flows that may never come. */
        fs_log(FS_LOG_INFO, "closing the open windows before exit");
        fs_analyzer_finish(c);
    }
    return 0;
}

static void log_journal(struct fs_an_events *events, const char *dir)
{
    struct fs_dlog *j = fs_an_events_journal(events);
    const struct fs_dlog_counters *jn = fs_dlog_counters(j);
    char held[96] = "empty";

    if (jn->records > 0)
        snprintf(held, sizeof(held), "messages %llu..%llu (%llu bytes)",
                 (unsigned long long)fs_dlog_first(j), (unsigned long long)fs_dlog_next(j) - 1,
                 (unsigned long long)jn->bytes);
    fs_log(FS_LOG_INFO, "journal %s: id %016llx, %s, next %llu%s", dir,
           (unsigned long long)fs_dlog_id(j), held, (unsigned long long)fs_dlog_next(j),
           jn->torn ? "; a torn tail was cut" : "");
}

int main(int argc, char *argv[])
{
    struct fs_an_config cfg;
    struct fs_an_events *events = NULL;
    struct fs_an_events_opts eo;
    struct fs_replay_srv *rs = NULL;
    struct fs_an_ctx *c = NULL;
    struct fs_in *in = NULL;
    struct fs_in_opts in_opts;
    char err[512], sender[FS_MSG_SENDER_MAX];
    int rc, status = 0;

    fs_log_set_program(PROGRAM);
    fs_an_config_init(&cfg);
    rc = fs_opts_main(fs_an_config_parse_args(&cfg, argc, argv, err, sizeof(err)),
                      &fs_an_config_opts, PROGRAM, err, true);
    if (rc >= 0) {
        fs_an_config_free(&cfg);
        return rc;
    }
    fs_log_set_level((enum fs_log_level)cfg.log_level);
    if (cfg.read.n == 0 && cfg.subscribe.n == 0) {
        fprintf(stderr, "%s: nothing to analyse: give --read FILE or --subscribe ENDPOINT "
                "(see --help)\n", PROGRAM);
        fs_an_config_free(&cfg);
        return EXIT_CONFIG;
    }
    if (cfg.sender != NULL)
        snprintf(sender, sizeof(sender), "%s", cfg.sender);
    else if (fs_msg_default_sender("analyzer", sender, sizeof(sender)) != 0)
        snprintf(sender, sizeof(sender), "analyzer");

    c = fs_analyzer_new(&cfg, NULL, NULL, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "%s: %s\n", PROGRAM, err);
        fs_an_config_free(&cfg);
        return EXIT_CONFIG;
    }
    eo = (struct fs_an_events_opts){ cfg.alerts, cfg.read.n > 0, cfg.publish, sender,
                                     cfg.journal, cfg.journal_max };
    events = fs_an_events_new(&eo, err, sizeof(err));
    if (events == NULL) {
        fs_log(FS_LOG_ERROR, "%s", err);
        status = EXIT_RUNTIME;
        goto out;
    }
    if (cfg.journal != NULL)
        log_journal(events, cfg.journal);
    if (cfg.replay != NULL && cfg.read.n > 0)
        fs_log(FS_LOG_WARNING, "replay: requests are answered in live mode only");
    if (cfg.replay != NULL && cfg.subscribe.n > 0) {
        rs = fs_replay_srv_new(cfg.replay, sender, err, sizeof(err));
        if (rs == NULL) {
            fs_log(FS_LOG_ERROR, "replay: %s", err);
            status = EXIT_RUNTIME;
            goto out;
        }
    }
    fs_analyzer_on_anomaly(c, fs_an_events_anomaly, events);
    fs_analyzer_on_summary(c, fs_an_events_summary, events);
    if (cfg.snapshot != NULL) {
        switch (fs_analyzer_load(c, cfg.snapshot, err, sizeof(err))) {
        case FS_SNAP_LOADED:
            fs_log(FS_LOG_INFO, "baselines loaded from %s", cfg.snapshot);
            break;
        case FS_SNAP_ABSENT:
            fs_log(FS_LOG_INFO, "no snapshot at %s: learning from scratch", cfg.snapshot);
            break;
        case FS_SNAP_REJECTED:
            fs_log(FS_LOG_WARNING, "%s; learning from scratch", err);
            break;
        case FS_SNAP_ERROR:
            fs_log(FS_LOG_ERROR, "snapshot: %s", err);
            status = EXIT_RUNTIME;
            goto out;
        }
    }

    fs_sig_install(FS_SIG_STOP | FS_SIG_USR1 | FS_SIG_USR2 | FS_SIG_NOPIPE);

    memset(&in_opts, 0, sizeof(in_opts));
    in_opts.csv_tz = cfg.csv_tz;
    in = fs_in_new(&in_opts, feed, c);
    if (in == NULL) {
        fs_log(FS_LOG_ERROR, "cannot start the input: csv-tz '%s' not understood or out of "
               "memory", cfg.csv_tz ? cfg.csv_tz : "local");
        status = EXIT_RUNTIME;
        goto out;
    }
    if (cfg.read.n > 0 ? run_batch(c, in, &cfg) != 0 : run_live(c, in, events, rs, &cfg) != 0)
        status = EXIT_RUNTIME;
    log_input(fs_in_totals(in));
    if (cfg.snapshot != NULL && save_snapshot(c, cfg.snapshot) != 0)
        status = EXIT_RUNTIME;
    if (fs_an_events_flush(events) != 0)
        status = EXIT_RUNTIME;
    log_counters(c, events, rs);
out:
    fs_replay_srv_free(rs);
    fs_in_free(in);
    fs_analyzer_free(c);
    fs_an_events_free(events);
    fs_an_config_free(&cfg);
    return status;
}
