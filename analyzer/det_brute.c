/*
 * det_brute.c - brute_force: many short connections from one source to one
 * destination on an authentication port, each one a login attempt.
 *
 * An attempt is a TCP connection to an authentication port (SSH, telnet,
 * RDP, SMB, FTP, POP3, IMAP, LDAP, SQL servers, VNC, WinRM, ...) that
 * completed its handshake, carried payload and stayed short: at most
 * `max_packets` packets, `max_bytes` bytes and `max_duration` seconds from
 * the client. A failed login looks exactly like that; a working session
 * lasts and moves more. Lone SYNs are scans, not logins, and are left out.
 *
 * Attempts are counted per (source, destination, port) and window, over the
 * last `span` windows. A finding needs `min_attempts` in one window or
 * `min_attempts_span` over the span (a slow attack that stays under the
 * per-window bar); a handful of mistyped passwords stays far below either.
 * The score is 50 at the threshold and grows with the log of the excess
 * (10 times the threshold: 90). The internal host of the finding is the
 * victim when the source is outside, the attacker otherwise (an internal
 * host attacking inside or out); `victim` in the evidence says which.
 *
 * Ports: `brute_force.port_N = 1` adds port N, `= 0` removes it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detutil.h"
#include "dtab.h"
#include "sketch.h"

#define DET "brute_force"
#define SPAN_MAX 12

static const uint16_t default_ports[] = {
    21, 22, 23, 110, 143, 389, 445, 636, 993, 995, 1433, 3306, 3389, 5432, 5900, 5985, 5986,
};

struct brute_cfg {
    uint32_t max_pairs;
    double max_packets, max_bytes, min_attempts, min_attempts_span;
    uint64_t max_duration_ms, realert_ms;
    unsigned span;
    uint8_t ports[FS_DET_PORTS_BYTES];
};

struct pair_key {
    fs_ip src, dst;
    uint16_t port;
};
_Static_assert(sizeof(struct pair_key) == 2 * sizeof(fs_ip) + 2, "pair_key has padding");

struct slot {
    uint64_t win_ms;
    uint32_t attempts;
};

struct bpair {
    struct slot slot[SPAN_MAX];
    uint64_t packets, bytes, attempts;  /* since the pair was created */
    uint64_t alerted_ms;
    uint64_t judged_ms;                 /* window last judged: once each */
    uint8_t alerted_severity;
    uint8_t victim;                     /* the source is outside */
};

struct brute {
    struct brute_cfg cfg;
    struct fs_dtab *pairs;
    struct fs_dtouch *touched;  /* pairs with attempts, per open window */
    uint64_t swept_hour;        /* last hourly sweep for idle pairs */
    uint64_t late;
};

static void read_cfg(struct fs_an_ctx *c, struct brute_cfg *g)
{
    g->max_pairs = (uint32_t)fs_det_param(c, DET, "max_pairs", 65536, 64, 16777216);
    g->max_packets = fs_det_param(c, DET, "max_packets", 40, 1, 1e9);
    g->max_bytes = fs_det_param(c, DET, "max_bytes", 16000, 1, 1e15);
    g->max_duration_ms = (uint64_t)(fs_det_param(c, DET, "max_duration", 120, 1, 86400) * 1000.0);
    g->min_attempts = fs_det_param(c, DET, "min_attempts", 20, 1, 1e9);
    g->span = (unsigned)fs_det_param(c, DET, "span", 6, 1, SPAN_MAX);
    g->min_attempts_span = fs_det_param(c, DET, "min_attempts_span", 50, 1, 1e9);
    g->realert_ms = (uint64_t)(fs_det_param(c, DET, "realert", 3600, 0, 30 * 86400) * 1000.0);
    fs_det_ports(c, DET, "port_", default_ports, sizeof(default_ports) / sizeof(default_ports[0]),
                 g->ports);
}

static void brute_destroy(void *st)
{
    struct brute *b = st;

    if (!b)
        return;
    fs_dtab_free(b->pairs);
    fs_dtouch_free(b->touched);
    free(b);
}

static void *brute_create(struct fs_an_ctx *c)
{
    struct brute *b = calloc(1, sizeof(*b));

    if (!b)
        return NULL;
    read_cfg(c, &b->cfg);
    b->pairs = fs_dtab_new(sizeof(struct pair_key), sizeof(struct bpair), b->cfg.max_pairs);
    b->touched = fs_dtouch_new(sizeof(struct pair_key));
    if (!b->pairs || !b->touched) {
        brute_destroy(b);
        return NULL;
    }
    return b;
}

static bool is_attempt(const struct brute_cfg *g, const struct fs_flow *f)
{
    if (f->proto != 6 || !fs_det_port_in(g->ports, f->dst_port) || fs_det_conn_kind(f) != FS_CONN_DATA)
        return false;
    if ((double)f->packets > g->max_packets || (double)f->bytes > g->max_bytes)
        return false;
    if (FS_FLOW_HAS(f, FS_F_START) && FS_FLOW_HAS(f, FS_F_END) && f->end_ms > f->start_ms &&
        f->end_ms - f->start_ms > g->max_duration_ms)
        return false;
    return true;
}

static void brute_flow(void *st, struct fs_an_ctx *c, const struct fs_an_flow *af)
{
    struct brute *b = st;
    const struct fs_flow *f = af->f;
    struct pair_key k;

    (void)c;
    if (af->dir == FS_DIR_TRANSIT || !is_attempt(&b->cfg, f))
        return;
    memset(&k, 0, sizeof(k));
    fs_det_ip(&k.src, &f->src_addr);
    fs_det_ip(&k.dst, &f->dst_addr);
    k.port = f->dst_port;
    struct bpair *p = fs_dtab_put(b->pairs, &k, NULL);

    if (!p)
        return;
    struct slot *s = NULL, *oldest = &p->slot[0];

    for (unsigned i = 0; i < SPAN_MAX && !s; i++) {
        if (p->slot[i].win_ms == af->window_ms)
            s = &p->slot[i];
        else if (p->slot[i].win_ms < oldest->win_ms)
            oldest = &p->slot[i];
    }
    if (!s) {
        if (oldest->win_ms > af->window_ms ||
            fs_dtouch_add(b->touched, af->window_ms, &k) < 0) {
            b->late++;
            return;
        }
        s = oldest;
        s->win_ms = af->window_ms;
        s->attempts = 0;
    }
    s->attempts++;
    p->attempts++;
    p->packets += f->packets;
    p->bytes += f->bytes;
    p->victim = af->dir == FS_DIR_INBOUND;
}

/* 50 at the threshold, +40 per tenfold excess; 0 below. */
static double excess_score(double count, double threshold)
{
    return count < threshold ? 0 : fmin(100.0, 50.0 + 40.0 * log10(count / threshold));
}

static void evaluate(struct brute *b, struct fs_an_ctx *c, const struct fs_an_window *w,
                     const struct pair_key *k, struct bpair *p, uint64_t span_from)
{
    const struct brute_cfg *g = &b->cfg;
    uint64_t in_window = 0, in_span = 0;
    unsigned windows = 0;

    for (unsigned i = 0; i < SPAN_MAX; i++) {
        const struct slot *s = &p->slot[i];

        if (s->attempts == 0 || s->win_ms < span_from || s->win_ms > w->start_ms)
            continue;
        in_span += s->attempts;
        windows++;
        if (s->win_ms == w->start_ms)
            in_window = s->attempts;
    }
    if (in_window == 0)
        return; /* judged when it had attempts: each window once */
    double sw = excess_score((double)in_window, g->min_attempts);
    double ss = excess_score((double)in_span, g->min_attempts_span);
    double score = sw > ss ? sw : ss;

    if (score <= 0)
        return;
    enum fs_severity sev = fs_severity_from_score(score);

    if (p->alerted_ms && w->end_ms - p->alerted_ms < g->realert_ms &&
        (uint8_t)sev <= p->alerted_severity)
        return;
    struct fs_anomaly a;

    memset(&a, 0, sizeof(a));
    a.ts_ms = w->start_ms;
    a.end_ms = w->end_ms;
    a.host = p->victim ? k->dst : k->src;
    a.peer = p->victim ? k->src : k->dst;
    a.cls = FS_AC_BRUTE_FORCE;
    a.score = score;
    a.severity = sev;
    snprintf(a.metric, sizeof(a.metric), sw >= ss ? "auth_attempts" : "auth_attempts_span");
    a.observed = sw >= ss ? (double)in_window : (double)in_span;
    a.expected = sw >= ss ? g->min_attempts : g->min_attempts_span;
    a.samples = windows;
    fs_det_top_peer(&a, &a.peer, in_span);
    fs_det_top_port(&a, k->port, 6, in_span);
    fs_anomaly_extra(&a, "attempts_window", (double)in_window);
    fs_anomaly_extra(&a, "attempts_span", (double)in_span);
    fs_anomaly_extra(&a, "span_windows", windows);
    fs_anomaly_extra(&a, "victim", p->victim);
    fs_anomaly_extra(&a, "packets_per_attempt", (double)p->packets / (double)p->attempts);
    fs_anomaly_extra(&a, "bytes_per_attempt", (double)p->bytes / (double)p->attempts);
    p->alerted_ms = w->end_ms;
    p->alerted_severity = (uint8_t)sev;
    fs_an_emit(c, &a);
}

struct close_pass {
    struct brute *b;
    struct fs_an_ctx *c;
    const struct fs_an_window *w;
    uint64_t span_from;
};

static void judge_pair(void *arg, const void *key)
{
    const struct close_pass *pass = arg;
    struct bpair *p = fs_dtab_get(pass->b->pairs, key);

    if (p && p->judged_ms != pass->w->start_ms) {
        p->judged_ms = pass->w->start_ms;
        evaluate(pass->b, pass->c, pass->w, key, p, pass->span_from);
    }
}

static void brute_close(void *st, struct fs_an_ctx *c, const struct fs_an_window *w)
{
    struct brute *b = st;
    uint64_t len = w->end_ms - w->start_ms;
    uint64_t back = (uint64_t)(b->cfg.span - 1) * len;
    struct close_pass pass = { b, c, w, w->start_ms > back ? w->start_ms - back : 0 };
    uint64_t hour = w->end_ms / 3600000u;

    fs_dtouch_take(b->touched, w->start_ms, judge_pair, &pass);
    if (hour == b->swept_hour)
        return;
    /* Once an hour: forget pairs with nothing left in the span and no
     * finding to remember. */
    size_t it = 0;
    const void *key;
    struct bpair *p;

    b->swept_hour = hour;
    while ((p = fs_dtab_next(b->pairs, &it, &key))) {
        uint64_t newest = 0;

        for (unsigned i = 0; i < SPAN_MAX; i++)
            if (p->slot[i].win_ms > newest)
                newest = p->slot[i].win_ms;
        if (newest < pass.span_from &&
            (!p->alerted_ms || w->end_ms - p->alerted_ms >= b->cfg.realert_ms))
            fs_dtab_del(b->pairs, key);
    }
}

static void brute_counters(void *st, void (*fn)(void *arg, const char *name, uint64_t v),
                           void *arg)
{
    struct brute *b = st;

    fn(arg, "pairs", fs_dtab_count(b->pairs));
    fn(arg, "evicted", fs_dtab_evictions(b->pairs));
    fn(arg, "late", b->late);
    fn(arg, "bytes", sizeof(*b) + fs_dtab_bytes(b->pairs) + fs_dtouch_bytes(b->touched));
}

/* No snapshot: the state covers `span` windows (half an hour by default),
 * less than a restart usually loses anyway. */
const struct fs_detector fs_det_brute = {
    .name = DET,
    .cls = FS_AC_BRUTE_FORCE,
    .create = brute_create,
    .flow = brute_flow,
    .window_close = brute_close,
    .save = NULL,
    .load = NULL,
    .counters = brute_counters,
    .destroy = brute_destroy,
};
