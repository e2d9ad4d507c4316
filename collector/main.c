/*
 * main.c - flowsentry-collector: receives NetFlow/IPFIX exports and
 * publishes the decoded flows.
 *
 * Live mode: UDP and IPFIX/TCP listeners in one poll() loop, privileges
 * dropped once the sockets are open, templates kept across restarts, a
 * stats message on the bus every stats-interval. Offline mode (--read):
 * capture files go through the very same decode path, with the capture's
 * source address as the exporter and its timestamps as the clock, and a
 * per-exporter summary is printed at the end.
 *
 * Flows go to the shared flow output (ipc/flowout.h): bus batches and/or
 * JSON lines on a buffered stdout.
 */
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "allow.h"
#include "config.h"
#include "daemon.h"
#include "decode.h"
#include "flowout.h"
#include "log.h"
#include "msg.h"
#include "pcapfile.h"
#include "signals.h"
#include "tcp.h"
#include "udp.h"

#define PROGRAM "flowsentry-collector"

#define EXIT_RUNTIME 1
#define EXIT_CONFIG FS_OPTS_EXIT_CONFIG

#define TICK_MS 250             /* longest poll() sleep: timers are checked this often */
#define EXPIRE_MS 1000          /* how often waiting sets and idle connections expire */
#define BATCHES_PER_WAKE 16     /* recvmmsg rounds per socket before others get a turn */
#define GATHER_US 200           /* pause that lets a steady stream gather (see run_live) */

struct collector {
    struct fs_config cfg;
    struct fs_decoder *dec;

    struct fs_udp *udp[FS_CONFIG_MAX_LISTEN];
    size_t nudp;
    struct fs_tcp *tcp[FS_CONFIG_MAX_LISTEN];
    size_t ntcp;

    struct fs_flowout *out;      /* bus batches and JSON lines */

    const char *template_path;   /* NULL: templates not kept */
    char template_buf[4096];
    uint64_t template_mark;      /* template counters at the last save */

    uint64_t now_ms;             /* receive time (or capture time) of the current data */
    uint64_t kernel_drops;       /* sum over UDP sockets */
};

static uint64_t clock_ms(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Input: one datagram or IPFIX message, whatever brought it.
 */

static void deliver(struct collector *c, const fs_ip *src, const uint8_t *buf, size_t len)
{
    if (!fs_allow_check(c->cfg.allow, src)) {
        fs_decoder_count_drop(c->dec, src, 1, 0);
        return;
    }
    fs_decode(c->dec, src, c->now_ms, buf, len, fs_flowout_flows, c->out);
}

static void on_datagram(void *arg, const fs_ip *src, const uint8_t *buf, size_t len)
{
    deliver(arg, src, buf, len);
}

static void on_tcp_message(void *arg, const fs_ip *peer, const uint8_t *msg, size_t len)
{
    struct collector *c = arg;

    c->now_ms = clock_ms(CLOCK_REALTIME);
    deliver(c, peer, msg, len);
}

static bool on_tcp_accept(void *arg, const fs_ip *peer)
{
    struct collector *c = arg;

    if (fs_allow_check(c->cfg.allow, peer))
        return true;
    fs_decoder_count_drop(c->dec, peer, 1, 0);
    return false;
}

/*
 * Counters: one list of names for the stats message, the logs and the
 * offline summary.
 */

#define CNT(name) { #name, offsetof(struct fs_counters, name) }
static const struct {
    const char *name;
    size_t off;
} counter_fields[] = {
    CNT(datagrams), CNT(bytes), CNT(flows), CNT(templates), CNT(templates_withdrawn),
    CNT(templates_evicted), CNT(options_records), CNT(pending_sets), CNT(pending_decoded),
    CNT(pending_expired), CNT(seq_lost), CNT(seq_reordered), CNT(seq_resets),
    CNT(sampling_unknown), CNT(time_clamped), CNT(allowlist_drops), CNT(kernel_drops),
};

static uint64_t counter_at(const struct fs_counters *k, size_t off)
{
    return *(const uint64_t *)((const char *)k + off);
}

typedef void (*counter_fn)(void *arg, const char *name, uint64_t value);

/* Calls `fn` for every counter of `k`: the fields, "errors" (their sum)
 * and each kind of error under the decoder's name for it. */
static void each_counter(const struct fs_counters *k, counter_fn fn, void *arg)
{
    for (size_t i = 0; i < sizeof(counter_fields) / sizeof(counter_fields[0]); i++)
        fn(arg, counter_fields[i].name, counter_at(k, counter_fields[i].off));
    fn(arg, "errors", fs_counters_errors(k));
    for (int e = 0; e < FS_ERR_COUNT; e++)
        fn(arg, fs_err_name((enum fs_err_kind)e), k->errors[e]);
}

static void each_udp_counter(const struct fs_udp *u, counter_fn fn, void *arg)
{
    const struct fs_udp_stats *s = fs_udp_stats(u);

    fn(arg, "datagrams", s->datagrams);
    fn(arg, "reads", s->reads);
    fn(arg, "bytes", s->bytes);
    fn(arg, "kernel_drops", s->kernel_drops);
    fn(arg, "truncated", s->truncated);
    fn(arg, "errors", s->errors);
    fn(arg, "rcvbuf", (uint64_t)s->rcvbuf);
}

static void each_tcp_counter(const struct fs_tcp *t, counter_fn fn, void *arg)
{
    const struct fs_tcp_stats *s = fs_tcp_stats(t);

    fn(arg, "connections", s->connections);
    fn(arg, "accepted", s->accepted);
    fn(arg, "refused", s->refused);
    fn(arg, "closed", s->closed);
    fn(arg, "idle_closed", s->idle_closed);
    fn(arg, "messages", s->messages);
    fn(arg, "bytes", s->bytes);
    fn(arg, "errors", s->errors);
}

/* Decoder totals, with the socket drops only the listeners know about. */
static struct fs_counters totals(const struct collector *c)
{
    struct fs_counters t = *fs_decoder_totals(c->dec);

    t.kernel_drops += c->kernel_drops;
    return t;
}

static void count_exporter(void *arg, const fs_ip *ip, const struct fs_counters *k)
{
    (void)ip;
    (void)k;
    (*(uint64_t *)arg)++;
}

static void each_total_counter(const struct collector *c, counter_fn fn, void *arg)
{
    struct fs_counters t = totals(c);
    uint64_t exporters = 0;

    fs_decoder_foreach_exporter(c->dec, count_exporter, &exporters);
    each_counter(&t, fn, arg);
    fn(arg, "exporters", exporters);
    if (c->out != NULL && fs_flowout_publishing(c->out)) {
        const struct fs_flowout_counters *o = fs_flowout_counters(c->out);
        fn(arg, "bus_messages", o->messages);
        fn(arg, "bus_flows", o->flows);
        fn(arg, "bus_dropped_messages", o->dropped_messages);
        fn(arg, "bus_dropped_flows", o->dropped_flows);
    }
}

/* A log line of the non-zero counters of one group. */
struct logline {
    char buf[900];
    size_t n;
};

static void log_add(void *arg, const char *name, uint64_t v)
{
    struct logline *l = arg;
    int w;

    if (v == 0 && strcmp(name, "datagrams") != 0 && strcmp(name, "flows") != 0)
        return;
    w = snprintf(l->buf + l->n, sizeof(l->buf) - l->n, " %s=%llu", name,
                 (unsigned long long)v);
    if (w > 0 && (size_t)w < sizeof(l->buf) - l->n)
        l->n += (size_t)w;
}

static void log_exporter(void *arg, const fs_ip *ip, const struct fs_counters *k)
{
    struct logline l = { .n = 0 };
    char addr[FS_IP_STRLEN];

    (void)arg;
    l.buf[0] = '\0';
    each_counter(k, log_add, &l);
    fs_log(FS_LOG_INFO, "exporter %s:%s", fs_ip_format(ip, addr), l.buf);
}

static void log_counters(const struct collector *c, bool everything)
{
    struct logline l = { .n = 0 };

    l.buf[0] = '\0';
    each_total_counter(c, log_add, &l);
    fs_log(FS_LOG_INFO, "total:%s", l.buf);
    if (!everything)
        return;
    fs_decoder_foreach_exporter(c->dec, log_exporter, NULL);
    for (size_t i = 0; i < c->nudp; i++) {
        l.n = 0;
        l.buf[0] = '\0';
        each_udp_counter(c->udp[i], log_add, &l);
        fs_log(FS_LOG_INFO, "socket %s:%s", fs_udp_name(c->udp[i]), l.buf);
    }
    for (size_t i = 0; i < c->ntcp; i++) {
        l.n = 0;
        l.buf[0] = '\0';
        each_tcp_counter(c->tcp[i], log_add, &l);
        fs_log(FS_LOG_INFO, "socket %s:%s", fs_tcp_name(c->tcp[i]), l.buf);
    }
}

/* The stats message: groups "total", one per exporter (named by its
 * address) and one per socket (named by its URL, "udp://[::]:2055"). */
static void stats_add(void *arg, const char *name, uint64_t v)
{
    fs_stats_add(arg, name, v);
}

static void stats_exporter(void *arg, const fs_ip *ip, const struct fs_counters *k)
{
    char addr[FS_IP_STRLEN];

    fs_stats_group(arg, fs_ip_format(ip, addr));
    each_counter(k, stats_add, arg);
}

static void send_stats(struct collector *c)
{
    struct fs_stats *st = fs_flowout_stats(c->out, clock_ms(CLOCK_REALTIME));

    if (st == NULL)
        return;
    fs_stats_group(st, "total");
    each_total_counter(c, stats_add, st);
    fs_decoder_foreach_exporter(c->dec, stats_exporter, st);
    for (size_t i = 0; i < c->nudp; i++) {
        fs_stats_group(st, fs_udp_name(c->udp[i]));
        each_udp_counter(c->udp[i], stats_add, st);
    }
    for (size_t i = 0; i < c->ntcp; i++) {
        fs_stats_group(st, fs_tcp_name(c->tcp[i]));
        each_tcp_counter(c->tcp[i], stats_add, st);
    }
    fs_flowout_send_stats(c->out);
}

/*
 * Templates kept across restarts.
 */

static uint64_t template_activity(const struct collector *c)
{
    const struct fs_counters *t = fs_decoder_totals(c->dec);

    return t->templates + t->templates_withdrawn + t->templates_evicted;
}

static void load_templates(struct collector *c)
{
    if (c->template_path == NULL)
        return;
    if (fs_decoder_load_templates(c->dec, c->template_path) == 0)
        fs_log(FS_LOG_INFO, "templates loaded from %s", c->template_path);
    else if (errno == ENOENT)
        fs_log(FS_LOG_INFO, "no saved templates at %s yet", c->template_path);
    else
        fs_log(FS_LOG_WARNING, "templates from %s: %s (starting without some)",
               c->template_path, strerror(errno));
    c->template_mark = template_activity(c);
}

static void save_templates(struct collector *c, bool always)
{
    uint64_t mark = template_activity(c);

    if (c->template_path == NULL || (!always && mark == c->template_mark))
        return;
    if (fs_decoder_save_templates(c->dec, c->template_path) == 0) {
        c->template_mark = mark;
        fs_log(FS_LOG_DEBUG, "templates saved to %s", c->template_path);
    } else {
        fs_log(FS_LOG_WARNING, "templates not saved to %s: %s", c->template_path,
               strerror(errno));
    }
}

/* The directory holding `path`, made (and handed over) when missing. */
static void prepare_parent(const char *what, const char *path, const struct passwd *pw)
{
    if (path != NULL && fs_daemon_mkparent(path, pw) < 0)
        fs_log(FS_LOG_WARNING, "%s directory for %s: %s", what, path, strerror(errno));
}

/*
 * Set-up and tear-down.
 */

static int open_listeners(struct collector *c, char *err, size_t errlen)
{
    struct fs_tcp_handler h = { on_tcp_accept, on_tcp_message, c };

    for (size_t i = 0; i < c->cfg.nlisten; i++) {
        const struct fs_listen *l = &c->cfg.listen[i];

        if (l->proto == FS_LISTEN_UDP) {
            const struct fs_udp_stats *s;
            struct fs_udp *u = fs_udp_open((const struct sockaddr *)&l->addr, l->addrlen,
                                           (int)c->cfg.rcvbuf, err, errlen);

            if (u == NULL)
                return -1;
            c->udp[c->nudp++] = u;
            s = fs_udp_stats(u);
            if ((uint64_t)s->rcvbuf < c->cfg.rcvbuf)
                fs_log(FS_LOG_WARNING, "%s: receive buffer %d bytes, not the %llu asked for "
                       "(raise net.core.rmem_max or run privileged)", fs_udp_name(u),
                       s->rcvbuf, (unsigned long long)c->cfg.rcvbuf);
            fs_log(FS_LOG_INFO, "listening on %s (receive buffer %d bytes)", fs_udp_name(u),
                   s->rcvbuf);
        } else {
            struct fs_tcp *t = fs_tcp_open((const struct sockaddr *)&l->addr, l->addrlen,
                                           c->cfg.tcp_max_conns, &h, err, errlen);

            if (t == NULL)
                return -1;
            c->tcp[c->ntcp++] = t;
            fs_log(FS_LOG_INFO, "listening on %s (IPFIX over TCP)", fs_tcp_name(t));
        }
    }
    return 0;
}

static int open_decoder(struct collector *c, char *err, size_t errlen)
{
    struct fs_decoder_config dc = {
        .max_exporters = c->cfg.max_exporters,
        .max_templates = c->cfg.max_templates,
        .pending_max_bytes = c->cfg.pending_bytes,
        .pending_timeout_ms = c->cfg.pending_timeout * 1000u,
        .default_sampling = c->cfg.sampling_default,
        .clock_clamp_ms = (uint64_t)c->cfg.clock_clamp * 1000u,
        .log = fs_log_line,
    };

    c->dec = fs_decoder_new(&dc);
    if (c->dec == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < c->cfg.nsampling; i++) {
        const struct fs_sampling_rule *r = &c->cfg.sampling[i];

        if (fs_decoder_set_sampling(c->dec, &r->exporter, r->rate, r->override) < 0) {
            snprintf(err, errlen, "sampling: out of memory");
            return -1;
        }
    }
    return 0;
}

static int open_output(struct collector *c, const char *endpoint, char *err, size_t errlen)
{
    struct fs_flowout_opts o = { "collector", c->cfg.sender, endpoint, 0,
                                 c->cfg.batch_size, c->cfg.json };

    c->out = fs_flowout_new(&o, err, errlen);
    return c->out != NULL ? 0 : -1;
}

static void close_all(struct collector *c)
{
    for (size_t i = 0; i < c->nudp; i++)
        fs_udp_close(c->udp[i]);
    for (size_t i = 0; i < c->ntcp; i++)
        fs_tcp_close(c->tcp[i]);
    fs_flowout_free(c->out);
    fs_decoder_free(c->dec);
    fs_config_free(&c->cfg);
}

/*
 * Live mode.
 */

enum drained { DRAINED_IDLE, DRAINED_EMPTY, DRAINED_MORE };

/* Reads what waits, BATCHES_PER_WAKE rounds at most. DRAINED_EMPTY: some
 * datagrams came and the socket is empty now, so traffic flows but slower
 * than it is read; DRAINED_MORE: more waits. */
static enum drained drain_udp(struct collector *c, struct fs_udp *u)
{
    for (int i = 0; i < BATCHES_PER_WAKE; i++) {
        int n;

        c->now_ms = clock_ms(CLOCK_REALTIME);
        n = fs_udp_recv(u, on_datagram, c);
        if (n < FS_UDP_BATCH)
            return n > 0 || i > 0 ? DRAINED_EMPTY : DRAINED_IDLE;
    }
    return DRAINED_MORE;
}

/* Called once a second: a line per second at most, however bad the overload. */
static void note_kernel_drops(struct collector *c)
{
    for (size_t i = 0; i < c->nudp; i++) {
        uint64_t drops = fs_udp_take_drops(c->udp[i]);

        if (drops == 0)
            continue;
        c->kernel_drops += drops;
        fs_log(FS_LOG_WARNING, "%s: kernel dropped %llu datagrams (receive buffer full; "
               "raise rcvbuf?)", fs_udp_name(c->udp[i]), (unsigned long long)drops);
    }
}

static int run_live(struct collector *c)
{
    size_t tcp_first[FS_CONFIG_MAX_LISTEN], tcp_n[FS_CONFIG_MAX_LISTEN];
    size_t npfd = c->nudp + c->ntcp * (1 + (size_t)c->cfg.tcp_max_conns);
    struct pollfd *pfd = calloc(npfd, sizeof(*pfd));
    uint64_t mono = clock_ms(CLOCK_MONOTONIC);
    uint64_t next_expire = mono + EXPIRE_MS;
    uint64_t next_stats = mono + (uint64_t)c->cfg.stats_interval * 1000u;
    uint64_t next_save = mono + (uint64_t)c->cfg.template_interval * 1000u;
    sigset_t orig;
    bool gather = false;

    if (pfd == NULL) {
        fs_log(FS_LOG_ERROR, "out of memory");
        return EXIT_RUNTIME;
    }
    /* Signals are only let in while ppoll() sleeps: none is missed between
     * checking the flags and going to sleep. */
    fs_sig_block(&orig);

    while (!fs_sig_stopped() && !fs_flowout_failed(c->out)) {
        long wait = fs_flowout_flush(c->out, false);
        struct timespec ts = { 0, (wait >= 0 ? wait : TICK_MS) * 1000000L };
        size_t n = 0;
        int r;

        for (size_t i = 0; i < c->nudp; i++)
            pfd[n++] = (struct pollfd){ .fd = fs_udp_fd(c->udp[i]), .events = POLLIN };
        for (size_t i = 0; i < c->ntcp; i++) {
            tcp_first[i] = n;
            tcp_n[i] = fs_tcp_pollfds(c->tcp[i], pfd + n, npfd - n);
            n += tcp_n[i];
        }
        /* A collector that keeps up empties its sockets and, left alone,
         * would be woken for nearly every datagram: a poll and a receive
         * call per two or three datagrams, which at 300 k datagrams/s cost
         * it more than decoding. Pausing a moment after emptying a socket
         * lets the next datagrams gather, so they come 50 or more per call
         * (docs/performance.md). The receive buffer holds far more than
         * the pause lets in, and an idle network is still waited on. */
        if (gather) {
            struct timespec pause = { 0, GATHER_US * 1000L };

            ppoll(NULL, 0, &pause, &orig);
        }
        r = ppoll(pfd, n, &ts, &orig);
        gather = false;
        if (r < 0 && errno != EINTR) {
            fs_log(FS_LOG_ERROR, "poll: %s", strerror(errno));
            break;
        }
        if (r > 0) {
            unsigned seen = 0;

            for (size_t i = 0; i < c->nudp; i++)
                if (pfd[i].revents != 0)
                    seen |= 1u << drain_udp(c, c->udp[i]);
            gather = (seen & 1u << DRAINED_EMPTY) && !(seen & 1u << DRAINED_MORE);
            for (size_t i = 0; i < c->ntcp; i++)
                fs_tcp_handle(c->tcp[i], pfd + tcp_first[i], tcp_n[i],
                              clock_ms(CLOCK_MONOTONIC));
        }
        if (fs_sig_take_usr1()) {
            log_counters(c, true);
        }
        mono = clock_ms(CLOCK_MONOTONIC);
        if (mono >= next_expire) {
            note_kernel_drops(c);
            fs_decoder_expire(c->dec, clock_ms(CLOCK_REALTIME));
            for (size_t i = 0; i < c->ntcp; i++)
                fs_tcp_expire(c->tcp[i], mono, (uint64_t)c->cfg.tcp_idle_timeout * 1000u);
            next_expire = mono + EXPIRE_MS;
        }
        if (c->cfg.stats_interval > 0 && mono >= next_stats) {
            send_stats(c);
            log_counters(c, false);
            next_stats = mono + (uint64_t)c->cfg.stats_interval * 1000u;
        }
        if (mono >= next_save) {
            save_templates(c, false);
            next_save = mono + (uint64_t)c->cfg.template_interval * 1000u;
        }
    }
    fs_flowout_flush(c->out, true);
    note_kernel_drops(c);
    send_stats(c);
    save_templates(c, true);
    log_counters(c, true);
    sigprocmask(SIG_SETMASK, &orig, NULL);
    free(pfd);
    return 0;
}

/*
 * Offline mode.
 */

struct offline {
    struct collector *c;
    uint64_t next_expire;
};

static int on_packet(void *arg, const struct fs_pcap_packet *p)
{
    struct offline *o = arg;
    struct collector *c = o->c;

    c->now_ms = p->ts_ms;
    if (p->ts_ms >= o->next_expire) {
        fs_decoder_expire(c->dec, p->ts_ms);
        o->next_expire = p->ts_ms + EXPIRE_MS;
    }
    deliver(c, &p->src, p->payload, p->len);
    if (fs_sig_take_usr1()) {
        log_counters(c, true);
    }
    return fs_sig_stopped() || fs_flowout_failed(c->out);
}

/* One row of the summary per exporter, in address order. */
struct summary_row {
    fs_ip ip;
    struct fs_counters k;
};

struct summary {
    struct summary_row *rows;
    size_t n, cap;
};

static void collect_row(void *arg, const fs_ip *ip, const struct fs_counters *k)
{
    struct summary *s = arg;

    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        struct summary_row *nr = realloc(s->rows, ncap * sizeof(*nr));

        if (nr == NULL)
            return;
        s->rows = nr;
        s->cap = ncap;
    }
    s->rows[s->n].ip = *ip;
    s->rows[s->n].k = *k;
    s->n++;
}

static int row_cmp(const void *a, const void *b)
{
    const fs_ip *x = &((const struct summary_row *)a)->ip, *y = &((const struct summary_row *)b)->ip;

    if (x->af != y->af)
        return x->af < y->af ? -1 : 1;
    return memcmp(x->b, y->b, sizeof(x->b));
}

static const char *const summary_cols[] = {
    "datagrams", "flows", "templates", "errors", "pending", "seq_lost", "sampling_unknown",
};
#define NCOLS (sizeof(summary_cols) / sizeof(summary_cols[0]))

static int col_width(size_t i)
{
    size_t w = strlen(summary_cols[i]);

    return w < 10 ? 10 : (int)w;
}

static void print_row(FILE *fp, const char *name, const struct fs_counters *k)
{
    const uint64_t v[NCOLS] = {
        k->datagrams, k->flows, k->templates, fs_counters_errors(k),
        k->pending_sets, k->seq_lost, k->sampling_unknown,
    };

    fprintf(fp, "%-40s", name);
    for (size_t i = 0; i < NCOLS; i++)
        fprintf(fp, " %*llu", col_width(i), (unsigned long long)v[i]);
    fputc('\n', fp);
}

/* "  192.0.2.1: bad_version=2 set_length=1", for what is worth a look. */
static void print_details(FILE *fp, const char *name, const struct fs_counters *k)
{
    char line[512];
    int n = 0;

    for (int e = 0; e < FS_ERR_COUNT; e++)
        if (k->errors[e] > 0 && n < (int)sizeof(line))
            n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%llu",
                          fs_err_name((enum fs_err_kind)e), (unsigned long long)k->errors[e]);
    if (k->pending_expired > 0 && n < (int)sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n, " pending_expired=%llu",
                      (unsigned long long)k->pending_expired);
    if (k->allowlist_drops > 0 && n < (int)sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n, " allowlist_drops=%llu",
                      (unsigned long long)k->allowlist_drops);
    if (n > 0)
        fprintf(fp, "  %s:%s\n", name, line);
}

static void print_summary(struct collector *c, FILE *fp, const struct fs_pcap_stats *ps,
                          size_t files)
{
    struct summary s = { NULL, 0, 0 };
    struct fs_counters t = totals(c);
    char addr[FS_IP_STRLEN];

    fs_decoder_foreach_exporter(c->dec, collect_row, &s);
    if (s.n > 1)
        qsort(s.rows, s.n, sizeof(*s.rows), row_cmp);
    fprintf(fp, "%-40s", "exporter");
    for (size_t i = 0; i < NCOLS; i++)
        fprintf(fp, " %*s", col_width(i), summary_cols[i]);
    fputc('\n', fp);
    for (size_t i = 0; i < s.n; i++)
        print_row(fp, fs_ip_format(&s.rows[i].ip, addr), &s.rows[i].k);
    print_row(fp, "total", &t);
    for (size_t i = 0; i < s.n; i++)
        print_details(fp, fs_ip_format(&s.rows[i].ip, addr), &s.rows[i].k);
    fprintf(fp, "captures: %zu files, %llu packets, %llu datagrams, %llu skipped (not UDP), "
            "%llu truncated, %llu fragments\n", files, (unsigned long long)ps->packets,
            (unsigned long long)ps->datagrams, (unsigned long long)ps->skipped,
            (unsigned long long)ps->truncated, (unsigned long long)ps->fragments);
    free(s.rows);
}

static int run_offline(struct collector *c)
{
    struct offline o = { c, 0 };
    struct fs_pcap_stats sum = { 0 };
    int status = 0;
    size_t i;

    for (i = 0; i < c->cfg.nread && !fs_sig_stopped() && !fs_flowout_failed(c->out); i++) {
        struct fs_pcap_stats st;
        char err[512];

        if (fs_pcap_read(c->cfg.read[i], on_packet, &o, &st, err, sizeof(err)) < 0) {
            fs_log(FS_LOG_ERROR, "%s", err);
            status = EXIT_RUNTIME;
        }
        sum.packets += st.packets;
        sum.datagrams += st.datagrams;
        sum.skipped += st.skipped;
        sum.truncated += st.truncated;
        sum.fragments += st.fragments;
        fs_flowout_flush(c->out, true);
    }
    save_templates(c, false);
    send_stats(c);
    print_summary(c, c->cfg.json ? stderr : stdout, &sum, i);
    fflush(stdout);
    return status;
}

int main(int argc, char *argv[])
{
    static struct collector c;
    const struct passwd *pw = NULL;
    char err[512], pubbuf[4096];
    const char *endpoint;
    int status;

    fs_log_set_program(PROGRAM);
    if (fs_config_init(&c.cfg) < 0) {
        fprintf(stderr, "%s: out of memory\n", PROGRAM);
        return EXIT_RUNTIME;
    }
    status = fs_opts_main(fs_config_parse_args(&c.cfg, argc, argv, err, sizeof(err)),
                          &fs_config_opts, PROGRAM, err, false);
    if (status >= 0) {
        fs_config_free(&c.cfg);
        return status;
    }
    if (c.cfg.user != NULL && (pw = getpwnam(c.cfg.user)) == NULL) {
        fprintf(stderr, "%s: user: no such user '%s'\n", PROGRAM, c.cfg.user);
        fs_config_free(&c.cfg);
        return EXIT_CONFIG;
    }
    fs_log_set_level((enum fs_log_level)c.cfg.log_level);
    fs_sig_install(FS_SIG_STOP | FS_SIG_USR1 | FS_SIG_NOPIPE);

    endpoint = fs_config_publish(&c.cfg, pubbuf, sizeof(pubbuf));
    c.template_path = fs_config_template_file(&c.cfg, c.template_buf, sizeof(c.template_buf));

    status = EXIT_RUNTIME;
    if (open_decoder(&c, err, sizeof(err)) < 0 || open_listeners(&c, err, sizeof(err)) < 0) {
        fs_log(FS_LOG_ERROR, "%s", err);
        goto out;
    }
    /* Directories the unprivileged user will write in, made while we can. */
    prepare_parent("template", c.template_path, pw);
    if (endpoint != NULL && fs_daemon_prepare_endpoint(endpoint, pw) < 0)
        fs_log(FS_LOG_WARNING, "bus directory for %s: %s", endpoint, strerror(errno));
    if (pw != NULL && fs_daemon_drop_privileges(pw, err, sizeof(err)) < 0) {
        fs_log(FS_LOG_ERROR, "%s", err);
        goto out;
    }
    if (open_output(&c, endpoint, err, sizeof(err)) < 0) {
        fs_log(FS_LOG_ERROR, "%s", err);
        goto out;
    }
    load_templates(&c);
    status = fs_config_offline(&c.cfg) ? run_offline(&c) : run_live(&c);
out:
    close_all(&c);
    return status;
}
