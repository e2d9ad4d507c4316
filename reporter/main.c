/*
 * main.c - flowsentry-reporter: the analyzer's anomalies as syslog/SIEM
 * alerts, delivered at least once, and its summaries as JSON reports.
 *
 * One loop: take what the events bus holds (intake.c puts it in journal
 * order, fetching what is missing from the analyzer's journal), fold the
 * anomalies into alerts (fold.c) and append them to each output's spool,
 * then save the state file; then let each output send from its spool
 * (deliver.c). The state is saved after the spools were written, so a kill
 * at any moment costs at most duplicates of the last batch, never an alert.
 *
 * SIGINT/SIGTERM: save, give the outputs a moment to drain, exit 0.
 * SIGUSR1: log the counters. SIGUSR2: write an on-demand report (so does
 * --report-now, from the state file, as a command of its own).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "config.h"
#include "daemon.h"
#include "deliver.h"
#include "fold.h"
#include "intake.h"
#include "log.h"
#include "msg.h"
#include "replay.h"
#include "report.h"
#include "signals.h"
#include "state.h"

#define PROGRAM "flowsentry-reporter"

#define EXIT_RUNTIME 1
#define EXIT_CONFIG FS_OPTS_EXIT_CONFIG

#define POLL_MS 100
#define MESSAGES_PER_BATCH 1000
#define SENDS_PER_ROUND 1000
#define DRAIN_MS 2000

static uint64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

struct reporter {
    const struct fs_rp_config *cfg;
    char state_path[4096];
    struct fs_bus *sub;
    struct fs_replay_cli *replay;
    struct fs_rp_intake *intake;
    struct fs_rp_fold *fold;
    struct fs_rp_reports *reports;
    struct fs_rp_deliver **outs;
    size_t nouts;
    bool spooled;           /* alerts appended since the last save */
    bool dirty;             /* events processed since the last save */
    bool spool_failed;      /* an alert could not be spooled: stop */
    bool save_failing;
};

/* ------------------------------------------------------------------ */
/* Processing. */

static void emit(void *arg, const struct fs_rp_alert *al)
{
    struct reporter *r = arg;
    uint64_t wall = clock_ms(CLOCK_REALTIME);
    char err[512];

    for (size_t i = 0; i < r->nouts && !r->spool_failed; i++) {
        if (fs_rp_deliver_add(r->outs[i], al, wall, err, sizeof(err)) != 0) {
            fs_log(FS_LOG_ERROR, "%s", err);
            r->spool_failed = true;
        }
    }
    r->spooled = true;
}

static int process(void *arg, const struct fs_msg *m)
{
    struct reporter *r = arg;
    char written[4096], err[512];

    if (m->type == FS_MSG_ANOMALY) {
        if (r->reports != NULL)
            fs_rp_reports_anomaly(r->reports, m->anomaly);
        fs_rp_fold_anomaly(r->fold, m->anomaly, emit, r);
    } else {
        fs_rp_fold_advance(r->fold, m->summary->end_ms, emit, r);
        if (r->reports != NULL) {
            if (fs_rp_reports_summary(r->reports, m->summary, written, sizeof(written), err,
                                      sizeof(err)) != 0)
                fs_log(FS_LOG_ERROR, "report: %s", err);
            else if (written[0] != '\0')
                fs_log(FS_LOG_INFO, "report written: %s", written);
        }
    }
    r->dirty = true;
    return r->spool_failed ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* State. */

static int save_state(struct reporter *r)
{
    struct fs_rp_state st = { 0 };
    char err[512];
    int rc = -1;

    if (!r->dirty)
        return 0;
    /* What the state says was processed must be on disk in the spools first. */
    for (size_t i = 0; i < r->nouts && r->spooled; i++) {
        if (fs_rp_deliver_sync(r->outs[i], err, sizeof(err)) != 0)
            goto fail;
    }
    r->spooled = false;
    fs_rp_intake_position(r->intake, &st.journal_id, &st.jseq);
    if (fs_rp_fold_save(r->fold, &st.fold, &st.fold_len) != 0 ||
        (r->reports != NULL && fs_rp_reports_save(r->reports, &st.reports, &st.reports_len) != 0)) {
        snprintf(err, sizeof(err), "state: out of memory");
        goto fail;
    }
    if (fs_rp_state_save(r->state_path, &st, err, sizeof(err)) != 0)
        goto fail;
    if (r->save_failing)
        fs_log(FS_LOG_INFO, "state saved again");
    r->save_failing = false;
    r->dirty = false;
    rc = 0;
    goto out;
fail:
    if (!r->save_failing)
        fs_log(FS_LOG_ERROR, "%s (retrying after each batch)", err);
    r->save_failing = true;
out:
    fs_rp_state_free(&st);
    return rc;
}

/* A damaged state file is kept aside and the journal read from its start:
 * duplicates, never loss. */
static int load_state(struct reporter *r)
{
    struct fs_rp_state st;
    char err[512], aside[4200];

    switch (fs_rp_state_load(r->state_path, &st, err, sizeof(err))) {
    case 0:
        fs_log(FS_LOG_INFO, "no state in %s: starting from the oldest event the analyzer's "
               "journal holds", r->cfg->state_dir);
        return 0;
    case -1:
        snprintf(aside, sizeof(aside), "%s.damaged", r->state_path);
        if (rename(r->state_path, aside) != 0) {
            fs_log(FS_LOG_ERROR, "%s; cannot move it aside: %s", err, strerror(errno));
            return -1;
        }
        fs_log(FS_LOG_ERROR, "%s: moved to %s; starting from the oldest event the journal "
               "holds (alerts already sent will be sent again)", err, aside);
        return 0;
    default:
        break;
    }
    fs_rp_intake_set_position(r->intake, st.journal_id, st.jseq);
    if (st.fold_len > 0 && fs_rp_fold_load(r->fold, st.fold, st.fold_len, err, sizeof(err)) != 0)
        fs_log(FS_LOG_WARNING, "state: fold windows not restored (%s): folding starts afresh",
               err);
    if (r->reports != NULL && st.reports_len > 0 &&
        fs_rp_reports_load(r->reports, st.reports, st.reports_len, err, sizeof(err)) != 0)
        fs_log(FS_LOG_WARNING, "state: report data not restored (%s): the current period's "
               "report starts afresh", err);
    fs_log(FS_LOG_INFO, "state: journal %016llx, last event processed %llu",
           (unsigned long long)st.journal_id, (unsigned long long)st.jseq);
    fs_rp_state_free(&st);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Counters. */

static void log_counters(struct reporter *r)
{
    const struct fs_rp_intake_counters *in = fs_rp_intake_counters(r->intake);
    const struct fs_rp_fold_counters *f = fs_rp_fold_counters(r->fold);
    uint64_t journal, jseq, wall = clock_ms(CLOCK_REALTIME);

    fs_rp_intake_position(r->intake, &journal, &jseq);
    fs_log(FS_LOG_INFO, "intake: journal=%016llx last=%llu backlog=%llu%s live=%llu "
           "replayed=%llu processed=%llu duplicates=%llu deferred=%llu gaps=%llu lost=%llu "
           "journal_changes=%llu unstamped=%llu malformed=%llu fetches=%llu "
           "fetch_failures=%llu", (unsigned long long)journal, (unsigned long long)jseq,
           (unsigned long long)in->backlog, fs_rp_intake_behind(r->intake) ? " (behind)" : "",
           (unsigned long long)in->live, (unsigned long long)in->replayed,
           (unsigned long long)in->processed, (unsigned long long)in->duplicates,
           (unsigned long long)in->deferred, (unsigned long long)in->gaps,
           (unsigned long long)in->lost, (unsigned long long)in->journal_changes,
           (unsigned long long)in->unstamped, (unsigned long long)in->malformed,
           (unsigned long long)in->fetches, (unsigned long long)in->fetch_failures);
    fs_log(FS_LOG_INFO, "fold: anomalies=%llu singles=%llu absorbed=%llu folded=%llu "
           "rate_limited=%llu storms=%llu evicted=%llu", (unsigned long long)f->anomalies,
           (unsigned long long)f->singles, (unsigned long long)f->absorbed,
           (unsigned long long)f->folded, (unsigned long long)f->rate_limited,
           (unsigned long long)f->storms, (unsigned long long)f->evicted);
    if (r->reports != NULL) {
        const struct fs_rp_report_counters *rc = fs_rp_reports_counters(r->reports);
        fs_log(FS_LOG_INFO, "reports: written=%llu write_errors=%llu removed=%llu "
               "summaries=%llu anomalies=%llu unlisted=%llu", (unsigned long long)rc->written,
               (unsigned long long)rc->write_errors, (unsigned long long)rc->removed,
               (unsigned long long)rc->summaries, (unsigned long long)rc->anomalies,
               (unsigned long long)rc->anomalies_unlisted);
    }
    for (size_t i = 0; i < r->nouts; i++) {
        struct fs_rp_deliver *d = r->outs[i];
        const struct fs_rp_deliver_counters *n = fs_rp_deliver_counters(d);
        const struct fs_rp_out_counters *o = fs_rp_deliver_out_counters(d);
        uint64_t oldest = fs_rp_deliver_oldest(d);
        const char *last = fs_rp_deliver_last_error(d);

        fs_log(FS_LOG_INFO, "%s (%s): spooled=%llu sent=%llu confirmed=%llu resent=%llu "
               "pending=%llu inflight=%llu dropped=%llu errors=%llu bad_records=%llu "
               "connects=%llu disconnects=%llu oldest_pending_s=%llu%s%s",
               fs_rp_deliver_name(d), r->cfg->outputs[i].text, (unsigned long long)n->spooled,
               (unsigned long long)n->sent, (unsigned long long)n->confirmed,
               (unsigned long long)n->resent, (unsigned long long)n->pending,
               (unsigned long long)n->inflight, (unsigned long long)n->dropped,
               (unsigned long long)n->errors, (unsigned long long)n->bad_records,
               (unsigned long long)o->connects, (unsigned long long)o->disconnects,
               (unsigned long long)(oldest && wall > oldest ? (wall - oldest) / 1000 : 0),
               last[0] ? " last_error=" : "", last);
    }
}

/* ------------------------------------------------------------------ */
/* Set-up. */

/* Spool directories of outputs no longer configured hold alerts nobody will send. */
static void warn_orphan_spools(const struct fs_rp_config *cfg)
{
    DIR *dir = opendir(cfg->state_dir);
    struct dirent *e;

    if (dir == NULL)
        return;
    while ((e = readdir(dir)) != NULL) {
        bool used = false;

        if (strncmp(e->d_name, "spool-", 6) != 0)
            continue;
        for (size_t i = 0; i < cfg->noutputs && !used; i++)
            used = strcmp(cfg->outputs[i].spool, e->d_name) == 0;
        if (!used)
            fs_log(FS_LOG_WARNING, "%s/%s belongs to no configured output: the alerts it may "
                   "hold are not delivered (configure that output again, or remove it)",
                   cfg->state_dir, e->d_name);
    }
    closedir(dir);
}

static int open_outputs(struct reporter *r, const char *hostname, char *err, size_t errlen)
{
    const struct fs_rp_config *cfg = r->cfg;

    r->outs = calloc(cfg->noutputs ? cfg->noutputs : 1, sizeof(*r->outs));
    if (r->outs == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cfg->noutputs; i++) {
        const struct fs_rp_output_spec *s = &cfg->outputs[i];
        struct fs_rp_deliver_opts o = { 0 };
        char name[32], dir[4300];

        snprintf(name, sizeof(name), "output %zu", i + 1);
        snprintf(dir, sizeof(dir), "%s/%s", cfg->state_dir, s->spool);
        o.name = name;
        o.dir = dir;
        o.spool_bytes = s->spool_bytes;
        o.out = s->out;
        o.out.timeout_ms = cfg->send_timeout * 1000;
        o.out.backoff_max_ms = cfg->backoff_max * 1000;
        o.fmt.header = s->header;
        o.fmt.body = s->body;
        o.fmt.facility = s->facility;
        o.fmt.hostname = hostname;
        o.fmt.app_name = s->app ? s->app : "flowsentry";
        o.fmt.procid = (unsigned)getpid();
        o.confirm_ms = cfg->confirm * 1000;
        if ((r->outs[i] = fs_rp_deliver_new(&o, err, errlen)) == NULL)
            return -1;
        r->nouts++;
        fs_log(FS_LOG_INFO, "%s: %s (spool %s)", name, s->text, dir);
    }
    return 0;
}

static int open_inputs(struct reporter *r, const char *sender, char *err, size_t errlen)
{
    const struct fs_rp_config *cfg = r->cfg;
    struct fs_rp_intake_opts io = { 0 };
    char why[512];

    if (cfg->subscribe.n > 0) {
        r->sub = fs_bus_sub((const char *const *)cfg->subscribe.v, cfg->subscribe.n, "anomaly",
                            0, why, sizeof(why));
        if (r->sub == NULL || fs_bus_subscribe(r->sub, "summary") != 0) {
            snprintf(err, errlen, "events bus: %s", r->sub ? fs_bus_error(r->sub) : why);
            return -1;
        }
    }
    if (cfg->replay != NULL) {
        r->replay = fs_replay_cli_new(cfg->replay, sender, why, sizeof(why));
        if (r->replay == NULL) {
            snprintf(err, errlen, "replay %s: %s", cfg->replay, why);
            return -1;
        }
    }
    io.replay = r->replay;
    io.process = process;
    io.arg = r;
    if ((r->intake = fs_rp_intake_new(&io)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int open_processing(struct reporter *r, const char *sender, char *err, size_t errlen)
{
    const struct fs_rp_config *cfg = r->cfg;
    struct fs_rp_fold_opts fo = { cfg->fold_window, cfg->fold_max, cfg->rate_limit };

    if ((r->fold = fs_rp_fold_new(&fo)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (cfg->report_dir != NULL) {
        struct fs_rp_report_opts ro = {
            .dir = cfg->report_dir,
            .hourly = cfg->hourly,
            .daily = cfg->daily,
            .keep_hourly_s = cfg->keep_hourly,
            .keep_daily_s = cfg->keep_daily,
            .utc_offset_s = cfg->utc_offset,
            .max_anomalies = cfg->report_anomalies,
            .sender = sender,
        };
        char why[512];
        if ((r->reports = fs_rp_reports_new(&ro, why, sizeof(why))) == NULL) {
            snprintf(err, errlen, "reports: %s", why);
            return -1;
        }
    }
    return 0;
}

static void close_all(struct reporter *r)
{
    for (size_t i = 0; i < r->nouts; i++)
        fs_rp_deliver_free(r->outs[i]);
    free(r->outs);
    fs_rp_intake_free(r->intake);
    fs_replay_cli_free(r->replay);
    fs_bus_close(r->sub, 0);
    fs_rp_fold_free(r->fold);
    fs_rp_reports_free(r->reports);
}

/* ------------------------------------------------------------------ */
/* Running. */

static bool any_ready(struct reporter *r, uint64_t now)
{
    for (size_t i = 0; i < r->nouts; i++)
        if (fs_rp_deliver_ready(r->outs[i], now))
            return true;
    return false;
}

static void deliver_all(struct reporter *r)
{
    uint64_t now = mono_ms();
    for (size_t i = 0; i < r->nouts; i++)
        fs_rp_deliver_run(r->outs[i], now, SENDS_PER_ROUND);
}

/* Takes one batch: what the bus holds now (up to MESSAGES_PER_BATCH) and
 * what the replay endpoint owes. Returns 0, or -1 to stop. */
static int take_batch(struct reporter *r)
{
    int wait = any_ready(r, mono_ms()) ? 0 : POLL_MS;
    struct fs_bus_msg m;
    int rc = 0;

    if (r->sub != NULL) {
        rc = fs_bus_recv(r->sub, wait, &m);
        for (size_t n = 0; rc == 1; n++) {
            if (fs_rp_intake_live(r->intake, m.data, m.len, mono_ms()) != 0)
                return -1;
            if (n + 1 >= MESSAGES_PER_BATCH)
                break;
            rc = fs_bus_recv(r->sub, 0, &m);
        }
        if (rc < 0 && errno != EINTR) {
            fs_log(FS_LOG_ERROR, "events bus: %s", fs_bus_error(r->sub));
            return -1;
        }
    } else if (wait > 0) {
        sleep_ms((unsigned)wait);
    }
    return fs_rp_intake_poll(r->intake, mono_ms());
}

static void report_now(struct reporter *r)
{
    char written[4096], err[512];

    if (r->reports == NULL) {
        fs_log(FS_LOG_WARNING, "SIGUSR2: no report-dir, no report");
        return;
    }
    if (fs_rp_reports_now(r->reports, clock_ms(CLOCK_REALTIME), written, sizeof(written), err,
                          sizeof(err)) != 0)
        fs_log(FS_LOG_ERROR, "on-demand report: %s", err);
    else
        fs_log(FS_LOG_INFO, "on-demand report written: %s", written);
}

/* At exit: what can still go out in a moment goes out; the rest stays in
 * the spools for the next start. */
static void drain(struct reporter *r)
{
    uint64_t deadline = mono_ms() + DRAIN_MS + (uint64_t)r->cfg->confirm * 1000;

    for (;;) {
        uint64_t pending = 0;

        deliver_all(r);
        for (size_t i = 0; i < r->nouts; i++)
            pending += fs_rp_deliver_pending(r->outs[i]);
        if (pending == 0)
            return;
        if (mono_ms() >= deadline) {
            fs_log(FS_LOG_INFO, "%llu alerts stay in the spools for the next start",
                   (unsigned long long)pending);
            return;
        }
        sleep_ms(20);
    }
}

/* --report-now: the report data of the state file, as the last saved batch
 * left it. Touches no spool, so it works beside a running reporter. */
static int report_from_state(struct reporter *r, const char *sender)
{
    struct fs_rp_state st;
    char err[512], written[4096];
    int rc;

    if (open_processing(r, sender, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", PROGRAM, err);
        return EXIT_CONFIG;
    }
    rc = fs_rp_state_load(r->state_path, &st, err, sizeof(err));
    if (rc < 0) {
        fs_log(FS_LOG_ERROR, "%s", err);
        return EXIT_RUNTIME;
    }
    if (rc == 0)
        fs_log(FS_LOG_WARNING, "no state in %s: the report is empty", r->cfg->state_dir);
    if (st.reports_len > 0 &&
        fs_rp_reports_load(r->reports, st.reports, st.reports_len, err, sizeof(err)) != 0) {
        fs_log(FS_LOG_ERROR, "state: %s", err);
        fs_rp_state_free(&st);
        return EXIT_RUNTIME;
    }
    fs_rp_state_free(&st);
    if (fs_rp_reports_now(r->reports, clock_ms(CLOCK_REALTIME), written, sizeof(written), err,
                          sizeof(err)) != 0) {
        fs_log(FS_LOG_ERROR, "on-demand report: %s", err);
        return EXIT_RUNTIME;
    }
    printf("%s\n", written);
    return 0;
}

static int run(struct reporter *r)
{
    uint64_t interval = (uint64_t)r->cfg->stats_interval * 1000;
    uint64_t next_stats = interval ? mono_ms() + interval : UINT64_MAX;

    while (!fs_sig_stopped()) {
        if (take_batch(r) != 0) {
            fs_log(FS_LOG_ERROR, "stopping without saving the state: the last batch will be "
                   "processed again at the next start");
            return -1;
        }
        save_state(r);
        deliver_all(r);
        if (fs_sig_take_usr1() || mono_ms() >= next_stats) {
            log_counters(r);
            if (interval)
                next_stats = mono_ms() + interval;
        }
        if (fs_sig_take_usr2()) {
            report_now(r);
        }
    }
    return 0;
}

int main(int argc, char *argv[])
{
    struct fs_rp_config cfg;
    struct reporter r;
    char err[1024], sender[FS_MSG_SENDER_MAX], hostname[256];
    int rc, status = 0;

    fs_log_set_program(PROGRAM);
    fs_rp_config_init(&cfg);
    rc = fs_opts_main(fs_rp_config_parse_args(&cfg, argc, argv, err, sizeof(err)),
                      &fs_rp_config_opts, PROGRAM, err, true);
    if (rc >= 0) {
        fs_rp_config_free(&cfg);
        return rc;
    }
    fs_log_set_level((enum fs_log_level)cfg.log_level);
    if (cfg.sender != NULL)
        snprintf(sender, sizeof(sender), "%s", cfg.sender);
    else if (fs_msg_default_sender("reporter", sender, sizeof(sender)) != 0)
        snprintf(sender, sizeof(sender), "reporter");
    if (cfg.hostname != NULL)
        snprintf(hostname, sizeof(hostname), "%s", cfg.hostname);
    else if (gethostname(hostname, sizeof(hostname)) != 0)
        snprintf(hostname, sizeof(hostname), "localhost");
    hostname[sizeof(hostname) - 1] = '\0';

    memset(&r, 0, sizeof(r));
    r.cfg = &cfg;
    if (fs_daemon_mkdirs(cfg.state_dir, NULL) != 0) {
        fprintf(stderr, "%s: state-dir %s: %s\n", PROGRAM, cfg.state_dir, strerror(errno));
        fs_rp_config_free(&cfg);
        return EXIT_CONFIG;
    }
    snprintf(r.state_path, sizeof(r.state_path), "%s/state", cfg.state_dir);
    if (cfg.report_now) {
        status = report_from_state(&r, sender);
        goto out;
    }
    /* Every option mistake (a CA file that cannot be read, a report dir that
     * cannot be made) is a configuration error, found before running. */
    if (open_outputs(&r, hostname, err, sizeof(err)) != 0 ||
        open_processing(&r, sender, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", PROGRAM, err);
        status = EXIT_CONFIG;
        goto out;
    }
    if (open_inputs(&r, sender, err, sizeof(err)) != 0) {
        fs_log(FS_LOG_ERROR, "%s", err);
        status = EXIT_RUNTIME;
        goto out;
    }
    if (load_state(&r) != 0) {
        status = EXIT_RUNTIME;
        goto out;
    }
    warn_orphan_spools(&cfg);

    fs_sig_install(FS_SIG_STOP | FS_SIG_USR1 | FS_SIG_USR2 | FS_SIG_NOPIPE);

    fs_log(FS_LOG_INFO, "running: %zu output(s)%s%s, events from %s%s%s", cfg.noutputs,
           cfg.report_dir ? ", reports in " : "", cfg.report_dir ? cfg.report_dir : "",
           cfg.subscribe.n ? cfg.subscribe.v[0] : "replay only",
           cfg.replay ? ", replay " : "", cfg.replay ? cfg.replay : "");
    if (run(&r) != 0) {
        status = EXIT_RUNTIME;
    } else {
        if (save_state(&r) != 0)
            status = EXIT_RUNTIME;
        drain(&r);
    }
    log_counters(&r);
out:
    close_all(&r);
    fs_rp_config_free(&cfg);
    return status;
}
