/*
 * main.c - flowsentry-sensor: meters flows from packets and publishes them
 * like the collector does.
 *
 * Live mode: one interface, polled with the other flow sources in one
 * ppoll() loop; privileges dropped once the capture is open; flows that
 * wait with no packet to move the clock are ended by the wall clock once a
 * second. Offline mode (--read): the files one after the other at full
 * speed, packet timestamps as the only clock, every flow ended at the end,
 * and a summary with the packet rate.
 *
 * Zeek conn.log and Suricata EVE files are other flow sources in the same
 * loop: followed as they grow (read once to their end with --read). The
 * sensor may also run with only those, metering no packets.
 *
 * Every flow goes to the outputs: JSON lines on stdout (--json) and bus
 * batches (ipc/flowout.h, shared with the collector);
 * metered flows also to UDP export (--export), whose templates carry one
 * direction and none of the logs' identifiers. The counters of the capture,
 * the flow table, the log sources, the export streams and the bus are
 * logged on SIGUSR1, at every stats interval and at exit, and published as
 * a stats message.
 */
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "config.h"
#include "daemon.h"
#include "decode.h"
#include "export.h"
#include "flowout.h"
#include "flowtable.h"
#include "log.h"
#include "logfeed.h"
#include "msg.h"
#include "signals.h"

#define PROGRAM "flowsentry-sensor"

#define EXIT_RUNTIME 1
#define EXIT_CONFIG FS_OPTS_EXIT_CONFIG

#define TICK_MS 250              /* longest ppoll() sleep */
#define EXPIRE_MS 1000           /* wall-clock expiry and export flush, live */
#define LIVE_BURST 4096          /* packets per dispatch, live */
#define LIVE_ROUNDS 16           /* dispatches per wake before others get a turn */
#define OFFLINE_CHUNK 65536      /* packets between signal checks, offline */
#define MAX_SOURCES FS_SENSOR_MAX_LOGS

/* Receives every counter: `group` is a stable pointer for the counters of
 * one group, which come in a row. */
typedef void (*counter_fn)(void *arg, const char *group, const char *name, uint64_t value);

/*
 * Other flow sources (Zeek conn.log, Suricata EVE, ...): each may give a
 * descriptor to poll (-1: none) and is run when that is readable and at
 * every tick (live), or drained to its end once (offline); the flows it
 * makes go to `sink`, to the bus and JSON outputs. Its counters are one
 * group of their own.
 */
struct source {
    const char *name;
    void *state;
    int (*fd)(void *state);
    void (*run)(void *state, uint64_t now_ms, fs_flow_sink sink, void *sink_arg);
    void (*drain)(void *state, fs_flow_sink sink, void *sink_arg);
    void (*counters)(void *state, counter_fn fn, void *arg);
    void (*close)(void *state);
};

struct sensor {
    struct fs_sensor_config cfg;
    struct fs_capture **caps;    /* the interface, or every file */
    size_t ncaps;
    struct fs_ft *ft;            /* NULL when no packets are metered */
    struct fs_emit *emit;
    struct source sources[MAX_SOURCES];
    size_t nsources;

    struct fs_flowout *out;      /* bus batches and JSON lines */
    bool started;                /* the first packet came (offline: the boot time) */
    struct fs_capture_stats cap_total; /* of the captures already closed */
};

static uint64_t clock_ms(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Outputs.
 */

static void on_flow_end(void *arg, const struct fs_flow *f, enum fs_ft_reason why)
{
    struct sensor *s = arg;

    (void)why;
    fs_flowout_flows(s->out, f, 1);
    fs_emit_flow(s->emit, f, fs_ft_now(s->ft));
}

/* End of a round: JSON lines go out, a bus batch once it is old enough;
 * `all` sends the bus batch and the export queue at once as well. Returns
 * how long the bus batch may still wait, or -1. */
static long flush_outputs(struct sensor *s, bool all)
{
    if (all && s->ft != NULL)
        fs_emit_flush(s->emit, fs_ft_now(s->ft));
    return fs_flowout_flush(s->out, all);
}

/*
 * Packets.
 */

static void on_packets(void *arg, const struct fs_ft_pkt *pkts, size_t n)
{
    struct sensor *s = arg;

    if (!s->started) {
        s->started = true;
        if (fs_sensor_config_offline(&s->cfg))
            fs_emit_set_boot(s->emit, pkts[0].ts_ms);
    }
    fs_ft_packets(s->ft, pkts, n);
}

/*
 * Counters: one walk over every group, for the stats message, the log
 * lines and the offline summary.
 */

static struct fs_capture_stats capture_totals(struct sensor *s)
{
    struct fs_capture_stats t = s->cap_total;

    for (size_t i = 0; i < s->ncaps; i++) {
        struct fs_capture_stats c;

        if (s->caps[i] == NULL)
            continue;
        fs_capture_stats(s->caps[i], &c);
        t.packets += c.packets;
        t.bytes += c.bytes;
        t.kernel |= c.kernel;
        t.received += c.received;
        t.dropped += c.dropped;
        t.ifdropped += c.ifdropped;
    }
    return t;
}

static void each_meter_counter(struct sensor *s, counter_fn fn, void *arg)
{
    struct fs_capture_stats c = capture_totals(s);
    const struct fs_ft_stats *t = fs_ft_stats(s->ft);

    fn(arg, "capture", "packets", c.packets);
    fn(arg, "capture", "bytes", c.bytes);
    if (c.kernel) {
        fn(arg, "capture", "received", c.received);
        fn(arg, "capture", "dropped", c.dropped);
        fn(arg, "capture", "ifdropped", c.ifdropped);
    }

    fn(arg, "flowtable", "packets", t->packets);
    fn(arg, "flowtable", "metered", t->metered);
    fn(arg, "flowtable", "bytes", t->bytes);
    fn(arg, "flowtable", "flows", t->flows);
    fn(arg, "flowtable", "active_flows", t->active_flows);
    for (int r = 0; r < FS_FT_REASONS; r++) {
        char name[32];

        snprintf(name, sizeof(name), "expired_%s", fs_ft_reason_name((enum fs_ft_reason)r));
        fn(arg, "flowtable", name, t->expired[r]);
    }
    fn(arg, "flowtable", "not_ip", t->not_ip);
    fn(arg, "flowtable", "truncated", t->truncated);
    fn(arg, "flowtable", "malformed", t->malformed);
    fn(arg, "flowtable", "fragments", t->fragments);
    fn(arg, "flowtable", "frags_held", t->frags_held);
    fn(arg, "flowtable", "frags_unmatched", t->frags_unmatched);
    fn(arg, "flowtable", "frags_unmatched_bytes", t->frags_unmatched_bytes);
    fn(arg, "flowtable", "frags_evicted", t->frags_evicted);
    fn(arg, "flowtable", "late", t->late);
}

static void each_counter(struct sensor *s, counter_fn fn, void *arg)
{
    if (s->ft != NULL)
        each_meter_counter(s, fn, arg);
    for (size_t i = 0; i < s->nsources; i++)
        s->sources[i].counters(s->sources[i].state, fn, arg);
    for (size_t i = 0; i < fs_emit_count(s->emit); i++) {
        const struct fs_emit_stats *e = fs_emit_stats(s->emit, i);
        const char *g = fs_emit_name(s->emit, i);

        fn(arg, g, "datagrams", e->datagrams);
        fn(arg, g, "flows", e->flows);
        fn(arg, g, "bytes", e->bytes);
        fn(arg, g, "send_errors", e->send_errors);
        fn(arg, g, "lost_flows", e->lost_flows);
        fn(arg, g, "skipped_ipv6", e->skipped_ipv6);
    }
    if (s->out != NULL && fs_flowout_publishing(s->out)) {
        const struct fs_flowout_counters *o = fs_flowout_counters(s->out);
        fn(arg, "bus", "messages", o->messages);
        fn(arg, "bus", "flows", o->flows);
        fn(arg, "bus", "dropped_messages", o->dropped_messages);
        fn(arg, "bus", "dropped_flows", o->dropped_flows);
    }
}

/* Log lines: one per group, its non-zero counters (packets and flows
 * always, so that a silent sensor shows as such). */
struct logline {
    const char *group;
    char buf[1024];
    size_t n;
};

static void log_flush(struct logline *l)
{
    if (l->group != NULL)
        fs_log(FS_LOG_INFO, "%s:%s", l->group, l->buf);
    l->group = NULL;
    l->n = 0;
    l->buf[0] = '\0';
}

static void log_add(void *arg, const char *group, const char *name, uint64_t v)
{
    struct logline *l = arg;
    int w;

    if (l->group != group)
        log_flush(l);
    l->group = group;
    if (v == 0 && strcmp(name, "packets") != 0 && strcmp(name, "flows") != 0)
        return;
    w = snprintf(l->buf + l->n, sizeof(l->buf) - l->n, " %s=%llu", name,
                 (unsigned long long)v);
    if (w > 0 && (size_t)w < sizeof(l->buf) - l->n)
        l->n += (size_t)w;
}

static void log_counters(struct sensor *s)
{
    struct logline l = { .group = NULL, .n = 0 };

    l.buf[0] = '\0';
    each_counter(s, log_add, &l);
    log_flush(&l);
}

struct stats_walk {
    struct fs_stats *st;
    const char *group;
};

static void stats_add(void *arg, const char *group, const char *name, uint64_t v)
{
    struct stats_walk *w = arg;

    if (w->group != group) {
        fs_stats_group(w->st, group);
        w->group = group;
    }
    fs_stats_add(w->st, name, v);
}

/* The stats message: groups "capture", "flowtable", one per log source
 * ("zeek:PATH", "eve:PATH"), one per export destination (named by its URL)
 * and "bus". */
static void send_stats(struct sensor *s)
{
    struct stats_walk w = { fs_flowout_stats(s->out, clock_ms(CLOCK_REALTIME)), NULL };

    if (w.st == NULL)
        return;
    each_counter(s, stats_add, &w);
    fs_flowout_send_stats(s->out);
}

/*
 * Set-up and tear-down.
 */

static int open_captures(struct sensor *s, char *err, size_t errlen)
{
    const struct fs_sensor_config *c = &s->cfg;
    struct fs_capture_config cc = {
        .filter = c->filter,
        .in_if = c->in_if,
        .snaplen = (int)c->snaplen,
        .promisc = c->promisc,
        .buffer_size = (int)c->buffer_size,
        .immediate = c->immediate,
        .timeout_ms = (int)c->capture_timeout,
    };
    size_t n = fs_sensor_config_offline(c) ? c->read.n : c->interface != NULL;

    if (n == 0)
        return 0;
    if ((s->caps = calloc(n, sizeof(*s->caps))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        s->caps[i] = fs_sensor_config_offline(c)
                         ? fs_capture_open_file(c->read.v[i], &cc, err, errlen)
                         : fs_capture_open_live(c->interface, &cc, err, errlen);
        if (s->caps[i] == NULL)
            return -1;
        s->ncaps++;
        fs_log(FS_LOG_INFO, "%s %s (%s)", fs_sensor_config_offline(c) ? "reading" : "capturing on",
               fs_capture_name(s->caps[i]), fs_capture_link_name(s->caps[i]));
    }
    return 0;
}

static int open_meter(struct sensor *s, char *err, size_t errlen)
{
    const struct fs_sensor_config *c = &s->cfg;
    struct fs_ft_config fc = {
        .inactive_ms = c->inactive_timeout * 1000u,
        .active_ms = c->active_timeout * 1000u,
        .tcp_end_ms = c->tcp_end_timeout * 1000u,
        .max_flows = c->max_flows,
        .max_frags = c->max_fragments,
        .frag_timeout_ms = c->fragment_timeout * 1000u,
        .exporter = c->exporter_ip,
        .domain = c->domain,
    };
    struct fs_emit_config ec = {
        .domain = c->domain,
        .datagram_size = c->export_size,
        .template_timeout_ms = c->template_timeout * 1000u,
    };

    if (fs_sensor_config_packets(c) && (s->ft = fs_ft_new(&fc, on_flow_end, s)) == NULL) {
        snprintf(err, errlen, "flow table of %llu flows: out of memory",
                 (unsigned long long)c->max_flows);
        return -1;
    }
    if ((s->emit = fs_emit_new(&ec)) == NULL) {
        snprintf(err, errlen, "export: out of memory, or export-size too small");
        return -1;
    }
    for (size_t i = 0; i < c->export.n; i++) {
        if (fs_emit_add(s->emit, c->export.v[i], err, errlen) < 0)
            return -1;
        fs_log(FS_LOG_INFO, "exporting flows to %s", c->export.v[i]);
    }
    return 0;
}

static void drain_feed(void *state, fs_flow_sink sink, void *sink_arg)
{
    fs_feed_drain(state, sink, sink_arg);
}

/* The log files as sources. Nothing is opened yet: a file is looked for at
 * the first run, after privileges are dropped, so it is read as the user the
 * sensor runs as. */
static int open_logs(struct sensor *s, const struct fs_strv *files, enum fs_feed_kind kind,
                     uint32_t domain, char *err, size_t errlen)
{
    const struct fs_sensor_config *c = &s->cfg;
    bool offline = fs_sensor_config_offline(c);

    for (size_t i = 0; i < files->n; i++) {
        struct fs_feed_config fc = {
            .kind = kind,
            .path = files->v[i],
            .src = { .exporter = c->exporter_ip, .domain = domain,
                     .ifindex = fs_ls_ifindex_os },
            .from_end = c->logs_from_end,
        };
        struct fs_feed *f = fs_feed_new(&fc);

        if (f == NULL) {
            snprintf(err, errlen, "%s: out of memory", files->v[i]);
            return -1;
        }
        s->sources[s->nsources++] = (struct source){
            .name = fs_feed_name(f),
            .state = f,
            .fd = fs_feed_fd,
            .run = fs_feed_run,
            .drain = drain_feed,
            .counters = fs_feed_counters,
            .close = fs_feed_close,
        };
        fs_log(FS_LOG_INFO, "%s %s (domain %u)", offline ? "reading" : "following",
               fs_feed_name(f), domain);
    }
    return 0;
}

static int open_sources(struct sensor *s, char *err, size_t errlen)
{
    const struct fs_sensor_config *c = &s->cfg;

    if (open_logs(s, &c->zeek_conn, FS_FEED_ZEEK_CONN, c->zeek_domain, err, errlen) < 0 ||
        open_logs(s, &c->eve, FS_FEED_EVE, c->eve_domain, err, errlen) < 0)
        return -1;
    return 0;
}

static int open_output(struct sensor *s, const char *endpoint, char *err, size_t errlen)
{
    struct fs_flowout_opts o = { "sensor", s->cfg.sender, endpoint, 0,
                                 s->cfg.batch_size, s->cfg.json };

    s->out = fs_flowout_new(&o, err, errlen);
    return s->out != NULL ? 0 : -1;
}

static void close_capture(struct sensor *s, size_t i)
{
    struct fs_capture_stats c;

    if (s->caps[i] == NULL)
        return;
    fs_capture_stats(s->caps[i], &c);
    s->cap_total.packets += c.packets;
    s->cap_total.bytes += c.bytes;
    fs_capture_close(s->caps[i]);
    s->caps[i] = NULL;
}

static void close_all(struct sensor *s)
{
    for (size_t i = 0; i < s->nsources; i++)
        s->sources[i].close(s->sources[i].state);
    for (size_t i = 0; i < s->ncaps; i++)
        fs_capture_close(s->caps[i]);
    free(s->caps);
    fs_flowout_free(s->out);
    fs_emit_free(s->emit);
    fs_ft_free(s->ft);
    fs_sensor_config_free(&s->cfg);
}

/* Ends every flow still in the table and sends everything out. */
static void finish(struct sensor *s)
{
    if (s->ft != NULL)
        fs_ft_flush(s->ft);
    flush_outputs(s, true);
    send_stats(s);
}

/*
 * Live mode.
 */

static void drain_capture(struct sensor *s, struct fs_capture *c, int *status)
{
    char err[512];

    for (int i = 0; i < LIVE_ROUNDS; i++) {
        int n = fs_capture_dispatch(c, LIVE_BURST, on_packets, s, err, sizeof(err));

        if (n < 0) {
            fs_log(FS_LOG_ERROR, "%s", err);
            fs_sig_stop();
            *status = EXIT_RUNTIME;
            return;
        }
        if (n < LIVE_BURST)
            return;
    }
}

static void note_kernel_drops(struct sensor *s, uint64_t *seen)
{
    struct fs_capture_stats c = capture_totals(s);
    uint64_t lost = c.dropped + c.ifdropped;

    if (lost > *seen)
        fs_log(FS_LOG_WARNING, "%llu packets dropped before the sensor saw them "
               "(kernel %llu, interface %llu in all; raise buffer-size?)",
               (unsigned long long)(lost - *seen), (unsigned long long)c.dropped,
               (unsigned long long)c.ifdropped);
    *seen = lost;
}

static int run_live(struct sensor *s)
{
    struct pollfd pfd[1 + MAX_SOURCES];
    uint64_t mono = clock_ms(CLOCK_MONOTONIC), drops_seen = 0;
    uint64_t next_expire = mono + EXPIRE_MS;
    uint64_t next_stats = mono + (uint64_t)s->cfg.stats_interval * 1000u;
    sigset_t orig;
    long wait = -1;
    int status = 0;

    /* Signals are only let in while ppoll() sleeps: none is missed between
     * checking the flags and going to sleep. */
    fs_sig_block(&orig);
    fs_emit_set_boot(s->emit, clock_ms(CLOCK_REALTIME));

    while (!fs_sig_stopped() && !fs_flowout_failed(s->out)) {
        struct timespec ts = { 0, (wait >= 0 ? wait : TICK_MS) * 1000000L };
        uint64_t now;
        int r;

        pfd[0] = (struct pollfd){ .fd = s->ncaps > 0 ? fs_capture_fd(s->caps[0]) : -1,
                                  .events = POLLIN };
        for (size_t i = 0; i < s->nsources; i++)
            pfd[1 + i] = (struct pollfd){ .fd = s->sources[i].fd(s->sources[i].state),
                                          .events = POLLIN };
        r = ppoll(pfd, 1 + s->nsources, &ts, &orig);
        if (r < 0 && errno != EINTR) {
            fs_log(FS_LOG_ERROR, "poll: %s", strerror(errno));
            status = EXIT_RUNTIME;
            break;
        }
        /* Also on timeouts: a block the kernel hands over by its timeout
         * does not always wake poll(). */
        if (s->ncaps > 0)
            drain_capture(s, s->caps[0], &status);
        now = clock_ms(CLOCK_REALTIME);
        for (size_t i = 0; i < s->nsources; i++)
            s->sources[i].run(s->sources[i].state, now, fs_flowout_flows, s->out);

        mono = clock_ms(CLOCK_MONOTONIC);
        if (mono >= next_expire) {
            if (s->ft != NULL)
                fs_ft_expire(s->ft, now);
            note_kernel_drops(s, &drops_seen);
            next_expire = mono + EXPIRE_MS;
            wait = flush_outputs(s, true);
        } else {
            wait = flush_outputs(s, false);
        }
        if (fs_sig_take_usr1()) {
            log_counters(s);
        }
        if (s->cfg.stats_interval > 0 && mono >= next_stats) {
            send_stats(s);
            log_counters(s);
            next_stats = mono + (uint64_t)s->cfg.stats_interval * 1000u;
        }
    }
    finish(s);
    log_counters(s);
    sigprocmask(SIG_SETMASK, &orig, NULL);
    return status;
}

/*
 * Offline mode.
 */

static void print_summary(struct sensor *s, FILE *fp, double secs, double cpu)
{
    const struct fs_ft_stats *t = fs_ft_stats(s->ft);
    struct fs_capture_stats c = capture_totals(s);
    uint64_t ended = 0;

    for (int r = 0; r < FS_FT_REASONS; r++)
        ended += t->expired[r];
    fprintf(fp, "packets %llu, bytes %llu, metered %llu, flows %llu\n",
            (unsigned long long)c.packets, (unsigned long long)c.bytes,
            (unsigned long long)t->metered, (unsigned long long)ended);
    fprintf(fp, "ended: inactive %llu, active %llu, tcp_end %llu, table_full %llu, "
            "end of input %llu\n", (unsigned long long)t->expired[FS_FT_INACTIVE],
            (unsigned long long)t->expired[FS_FT_ACTIVE],
            (unsigned long long)t->expired[FS_FT_TCP_END],
            (unsigned long long)t->expired[FS_FT_TABLE_FULL],
            (unsigned long long)t->expired[FS_FT_FLUSH]);
    fprintf(fp, "skipped: not_ip %llu, truncated %llu, malformed %llu; fragments %llu "
            "(held %llu, unmatched %llu, evicted %llu)\n",
            (unsigned long long)t->not_ip, (unsigned long long)t->truncated,
            (unsigned long long)t->malformed, (unsigned long long)t->fragments,
            (unsigned long long)t->frags_held, (unsigned long long)t->frags_unmatched,
            (unsigned long long)t->frags_evicted);
    if (secs > 0 && cpu > 0)
        fprintf(fp, "time %.3f s (cpu %.3f s): %.0f packets/s, %.0f flows/s\n", secs, cpu,
                (double)c.packets / cpu, (double)ended / cpu);
}

/* "zeek:conn.log: lines 12, flows 10, malformed 2": a log source's
 * counters that are not 0, lines and flows always. */
struct summary_line {
    FILE *fp;
    const char *group;
};

static void summary_add(void *arg, const char *group, const char *name, uint64_t v)
{
    struct summary_line *l = arg;
    bool first = l->group != group;

    if (v == 0 && strcmp(name, "lines") != 0 && strcmp(name, "flows") != 0)
        return;
    if (first && l->group != NULL)
        fputc('\n', l->fp);
    if (first)
        fprintf(l->fp, "%s: %s %llu", group, name, (unsigned long long)v);
    else
        fprintf(l->fp, ", %s %llu", name, (unsigned long long)v);
    l->group = group;
}

static void print_sources(struct sensor *s, FILE *fp)
{
    struct summary_line l = { fp, NULL };

    for (size_t i = 0; i < s->nsources; i++)
        s->sources[i].counters(s->sources[i].state, summary_add, &l);
    if (l.group != NULL)
        fputc('\n', fp);
}

static void find_opens(void *arg, const char *group, const char *name, uint64_t v)
{
    (void)group;
    if (strcmp(name, "opens") == 0)
        *(uint64_t *)arg = v;
}

/* Reads every log to its end; a log that was never found is an error, as a
 * capture file that is not there is. */
static void drain_sources(struct sensor *s, int *status)
{
    for (size_t i = 0; i < s->nsources && !fs_sig_stopped() && !fs_flowout_failed(s->out); i++) {
        uint64_t opens = 0;

        s->sources[i].drain(s->sources[i].state, fs_flowout_flows, s->out);
        s->sources[i].counters(s->sources[i].state, find_opens, &opens);
        if (opens == 0) {
            fs_log(FS_LOG_ERROR, "%s: never opened (no such file?)", s->sources[i].name);
            *status = EXIT_RUNTIME;
        }
    }
}

static int run_offline(struct sensor *s)
{
    uint64_t t0 = clock_ms(CLOCK_MONOTONIC);
    struct timespec c0, c1;
    double secs;
    int status = 0;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    for (size_t i = 0; i < s->ncaps && !fs_sig_stopped() && !fs_flowout_failed(s->out); i++) {
        char err[512];
        int n = 0;

        while (!fs_sig_stopped() && !fs_flowout_failed(s->out) &&
               (n = fs_capture_dispatch(s->caps[i], OFFLINE_CHUNK, on_packets, s, err,
                                        sizeof(err))) >= 0) {
            if (fs_sig_take_usr1()) {
                log_counters(s);
            }
        }
        if (n == -1) {
            fs_log(FS_LOG_ERROR, "%s", err);
            status = EXIT_RUNTIME;
        }
        close_capture(s, i);
    }
    fs_ft_flush(s->ft);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    secs = (double)(clock_ms(CLOCK_MONOTONIC) - t0) / 1000.0;
    /* The logs after the packets, out of the packet rate's time. */
    drain_sources(s, &status);
    finish(s);
    print_summary(s, s->cfg.json ? stderr : stdout, secs,
                  (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9);
    print_sources(s, s->cfg.json ? stderr : stdout);
    log_counters(s);
    fflush(stdout);
    return status;
}

int main(int argc, char *argv[])
{
    static struct sensor s;
    const struct passwd *pw = NULL;
    char err[512], pubbuf[4096];
    const char *endpoint;
    int status;

    fs_log_set_program(PROGRAM);
    if (fs_sensor_config_init(&s.cfg) < 0) {
        fprintf(stderr, "%s: out of memory\n", PROGRAM);
        return EXIT_RUNTIME;
    }
    status = fs_opts_main(fs_sensor_config_parse_args(&s.cfg, argc, argv, err, sizeof(err)),
                          &fs_sensor_config_opts, PROGRAM, err, false);
    if (status >= 0) {
        fs_sensor_config_free(&s.cfg);
        return status;
    }
    if (s.cfg.user != NULL && (pw = getpwnam(s.cfg.user)) == NULL) {
        fprintf(stderr, "%s: user: no such user '%s'\n", PROGRAM, s.cfg.user);
        fs_sensor_config_free(&s.cfg);
        return EXIT_CONFIG;
    }
    fs_log_set_level((enum fs_log_level)s.cfg.log_level);
    fs_sig_install(FS_SIG_STOP | FS_SIG_USR1 | FS_SIG_NOPIPE);

    endpoint = fs_sensor_config_publish(&s.cfg, pubbuf, sizeof(pubbuf));

    status = EXIT_RUNTIME;
    if (open_meter(&s, err, sizeof(err)) < 0 || open_captures(&s, err, sizeof(err)) < 0 ||
        open_sources(&s, err, sizeof(err)) < 0) {
        fs_log(FS_LOG_ERROR, "%s", err);
        goto out;
    }
    /* The bus directory, made while we may and handed to the user we become. */
    if (endpoint != NULL && fs_daemon_prepare_endpoint(endpoint, pw) < 0)
        fs_log(FS_LOG_WARNING, "bus directory for %s: %s", endpoint, strerror(errno));
    if (pw != NULL && fs_daemon_drop_privileges(pw, err, sizeof(err)) < 0) {
        fs_log(FS_LOG_ERROR, "%s", err);
        goto out;
    }
    if (open_output(&s, endpoint, err, sizeof(err)) < 0) {
        fs_log(FS_LOG_ERROR, "%s", err);
        goto out;
    }
    status = fs_sensor_config_offline(&s.cfg) ? run_offline(&s) : run_live(&s);
out:
    close_all(&s);
    return status;
}
