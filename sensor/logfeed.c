/*
 * logfeed.c - glue between fs_follow and the Zeek/Suricata readers (see
 * logfeed.h).
 *
 * The sensor's loop runs every source each time it wakes, which on a busy
 * link is thousands of times a second; the file is only looked at when the
 * interval has passed or inotify said something changed, so an idle log
 * costs one poll() of the inotify descriptor per round, not a stat and a
 * read. A backlog (a large file found at start) is read a few MiB per round,
 * so that packets keep being read meanwhile. Flows are handed on in small
 * batches.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eve.h"
#include "follow.h"
#include "log.h"
#include "logfeed.h"
#include "zeek.h"

#define FEED_BATCH 64
#define RUN_ROUNDS 8 /* a backlog is read 8 MiB per run: the capture goes on meanwhile */
#define LOG_WINDOW_MS 10000 /* malformed lines: at most LOG_BURST lines per window */
#define LOG_BURST 5

struct fs_feed {
    enum fs_feed_kind kind;
    char *name;
    struct fs_follow *fw;
    struct fs_zeek *zeek;
    struct fs_eve *eve;
    unsigned interval_ms;
    uint64_t next_poll;

    /* While a poll runs: where flows go. */
    fs_flow_sink sink;
    void *sink_arg;
    struct fs_flow batch[FEED_BATCH];
    size_t nbatch;

    /* Rate limit of the malformed-line messages. */
    uint64_t window_start;
    unsigned logged;
    uint64_t suppressed;
};

static void log_line(void *arg, bool problem, const char *line)
{
    (void)arg;
    fs_log(problem ? FS_LOG_WARNING : FS_LOG_INFO, "%s", line);
}

struct fs_feed *fs_feed_new(const struct fs_feed_config *cfg)
{
    struct fs_feed *f;
    const char *prefix = cfg->kind == FS_FEED_EVE ? "eve:" : "zeek:";
    struct fs_follow_config fc = {
        .path = cfg->path,
        .max_line = cfg->max_line,
        .interval_ms = cfg->interval_ms,
        .from_end = cfg->from_end,
        .inotify = true,
        .log = log_line,
    };

    if (!cfg->path || !cfg->path[0] || !(f = calloc(1, sizeof(*f))))
        return NULL;
    f->kind = cfg->kind;
    f->interval_ms = cfg->interval_ms ? cfg->interval_ms : 250;
    f->name = malloc(strlen(prefix) + strlen(cfg->path) + 1);
    if (f->name)
        strcat(strcpy(f->name, prefix), cfg->path);
    f->fw = fs_follow_new(&fc);
    if (cfg->kind == FS_FEED_EVE)
        f->eve = fs_eve_new(&cfg->src);
    else
        f->zeek = fs_zeek_new(&cfg->src);
    if (!f->name || !f->fw || (!f->eve && !f->zeek)) {
        fs_feed_close(f);
        return NULL;
    }
    return f;
}

const char *fs_feed_name(const struct fs_feed *f)
{
    return f->name;
}

int fs_feed_fd(void *feed)
{
    struct fs_feed *f = feed;
    return fs_follow_fd(f->fw);
}

static void flush(struct fs_feed *f)
{
    if (f->nbatch)
        f->sink(f->sink_arg, f->batch, f->nbatch);
    f->nbatch = 0;
}

static void report_suppressed(struct fs_feed *f)
{
    if (f->suppressed)
        fs_log(FS_LOG_WARNING, "%s: %llu more malformed lines not shown", f->name,
               (unsigned long long)f->suppressed);
    f->suppressed = 0;
}

static void malformed(struct fs_feed *f, const char *why)
{
    if (f->logged < LOG_BURST) {
        f->logged++;
        fs_log(FS_LOG_WARNING, "%s: %s", f->name, why);
    } else {
        f->suppressed++;
    }
}

static void on_line(void *arg, const char *line, size_t len)
{
    struct fs_feed *f = arg;
    char err[256];
    int rc = f->eve ? fs_eve_line(f->eve, line, len, &f->batch[f->nbatch], err, sizeof(err))
                    : fs_zeek_line(f->zeek, line, len, &f->batch[f->nbatch], err, sizeof(err));

    if (rc < 0)
        malformed(f, err);
    else if (rc > 0 && ++f->nbatch == FEED_BATCH)
        flush(f);
}

/* Polls until nothing is left to read, or at most `rounds` times (each
 * reads at most the follower's 1 MiB). Returns true when more is waiting. */
static bool read_some(struct fs_feed *f, fs_flow_sink sink, void *sink_arg, unsigned rounds)
{
    f->sink = sink;
    f->sink_arg = sink_arg;
    do
        fs_follow_poll(f->fw, on_line, f);
    while (fs_follow_timeout_ms(f->fw) == 0 && --rounds > 0);
    flush(f);
    return fs_follow_timeout_ms(f->fw) == 0;
}

static bool readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return fd >= 0 && poll(&p, 1, 0) == 1;
}

void fs_feed_run(void *feed, uint64_t now_ms, fs_flow_sink sink, void *sink_arg)
{
    struct fs_feed *f = feed;

    /* A clock that went back more than an interval restarts the schedule. */
    if (now_ms >= f->next_poll || now_ms + f->interval_ms < f->next_poll ||
        readable(fs_follow_fd(f->fw))) {
        bool more = read_some(f, sink, sink_arg, RUN_ROUNDS);
        f->next_poll = more ? now_ms : now_ms + f->interval_ms;
    }
    if (now_ms >= f->window_start + LOG_WINDOW_MS || now_ms < f->window_start) {
        report_suppressed(f);
        f->window_start = now_ms;
        f->logged = 0;
    }
}

void fs_feed_drain(struct fs_feed *f, fs_flow_sink sink, void *sink_arg)
{
    while (read_some(f, sink, sink_arg, RUN_ROUNDS))
        ;
    fs_follow_flush(f->fw, on_line, f);
    flush(f);
}

void fs_feed_close(void *feed)
{
    struct fs_feed *f = feed;

    if (!f)
        return;
    if (f->name)
        report_suppressed(f);
    fs_follow_free(f->fw);
    fs_zeek_free(f->zeek);
    fs_eve_free(f->eve);
    free(f->name);
    free(f);
}

void fs_feed_counters(void *feed, fs_feed_counter_fn fn, void *arg)
{
    const struct fs_feed *f = feed;
    const struct fs_ls_counters *c = f->eve ? fs_eve_counters(f->eve)
                                            : fs_zeek_counters(f->zeek);
    const struct fs_follow_counters *w = fs_follow_counters(f->fw);

    fn(arg, f->name, "lines", c->lines);
    fn(arg, f->name, "flows", c->flows);
    fn(arg, f->name, "malformed", c->malformed);
    fn(arg, f->name, "skipped", c->skipped);
    fn(arg, f->name, "bytes", w->bytes);
    fn(arg, f->name, "opens", w->opens);
    fn(arg, f->name, "rotations", w->rotations);
    fn(arg, f->name, "truncations", w->truncations);
    fn(arg, f->name, "too_long", w->too_long);
    fn(arg, f->name, "partial_dropped", w->partial_dropped);
    fn(arg, f->name, "errors", w->errors);
}
