/*
 * det_scan.c - port_scan and host_sweep: one source touching many ports of
 * one host (vertical), one port on many hosts (horizontal), or many sources
 * sharing one horizontal sweep between them (distributed). Like Zeek's
 * scan.zeek they count what a scanner touches, not what it sends.
 *
 * Probes. Only connection attempts that got nowhere count: a TCP record of
 * the initiator without ACK (a SYN, SYN+RST of a half-open scan, FIN, NULL
 * or Xmas probes), a connect-and-close without payload from the client side
 * (destination port below the source port), a TCP record without flags of at
 * most two packets and no payload, a UDP datagram or two without payload and
 * without an answer in the record, and for sweeps an ICMP echo request.
 * Resets and SYN-ACKs answering someone else's probes, and every connection
 * that carried data, are not probes; neither are multicast destinations.
 *
 * Counting. Per key - (source, target) for port scans, (source, protocol,
 * port) for sweeps - the distinct ports or hosts per window and over a
 * rolling horizon of event time (span.h: HyperLogLog counters, exact up to
 * 28). At each window close every key probed in that window is judged on
 * both counts: the fast one (the window) against `window_floor`, the slow
 * one (the horizon, six hours by default) against `slow_floor`; the
 * stronger verdict makes the finding. A key is reported again within
 * `realert` (the horizon) only when it becomes more severe.
 *
 * Learning. An internal source's day peak of each count (its largest key)
 * is one sample of a per-source usual level (usual.h): a source that does
 * this every day - a monitoring server checking twenty ports, a management
 * host pushing to every desktop - is held to `ratio` times that level. Once
 * a source has `min_samples` days, the days it was reported in do not
 * teach it. Outside sources are transient: they are held to the floors.
 * The authorised vulnerability scanner belongs on the allowlist
 * (port_scan.allow, host_sweep.allow), not in a baseline.
 *
 * Distributed sweeps (host_sweep only). Per (protocol, port), over the same
 * horizon, the distinct internal targets and the distinct sources of probes
 * from sources that touched at most `dist_max_per_source` hosts on that port
 * (a lone wide sweeper is reported on its own). At least
 * `dist_min_sources` sources and targets far above the port's usual day
 * peak (`dist_floor` at least) make a finding.
 *
 * The internal host of a finding is the scanner when it is internal, else
 * the target: the host scanned, or for sweeps the latest host probed; the
 * scanner is then the peer. Findings about outside scanners, and
 * distributed sweeps, are scaled by `inbound_factor` (the internet scans
 * everyone; a scan from inside is news).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detutil.h"
#include "dtab.h"
#include "log.h"
#include "sketch.h"
#include "span.h"
#include "usual.h"

#define DET_PS "port_scan"
#define DET_HS "host_sweep"
#define RECENT 5
#define DAY_MS 86400000ull
#define SNAP_VERSION 1u
#define SNAP_MAGIC_PS 0x46535053u /* "FSPS" */
#define SNAP_MAGIC_HS 0x46534853u /* "FSHS" */

#define TCP_FIN 0x01u
#define TCP_SYN 0x02u
#define TCP_RST 0x04u
#define TCP_ACK 0x10u

enum probe { PROBE_NONE = 0, PROBE_FAILED, PROBE_EMPTY };
enum { ALLOW_UNKNOWN = 0, ALLOW_NO, ALLOW_YES };

/* Port scans: (src, dst); sweeps: (src, proto, port). Zero-filled. */
struct scan_key {
    fs_ip src, dst;
    uint8_t proto;
    uint8_t zero;
    uint16_t port;
};
_Static_assert(sizeof(struct scan_key) == 2 * sizeof(fs_ip) + 4, "scan_key has padding");

struct entry {
    struct fs_span span;
    struct fs_usual_alerted alerted;
    uint64_t first_ms, last_ms;
    uint32_t probes, failed;
    uint8_t inbound;          /* the source is outside */
    uint8_t wide;             /* sweeps: too many hosts to be one of many sources */
    uint8_t nrecent;
    fs_ip recent_ip[RECENT];  /* sweeps: the latest targets, newest first */
    uint16_t recent_port[RECENT]; /* port scans: the latest ports, newest first */
    uint8_t recent_proto[RECENT];
};

/* An internal source: its usual day peaks, and today's. */
struct source {
    struct fs_usual_peaks peaks;
    uint8_t allowed;
};

struct dist_key {
    uint8_t proto, zero;
    uint16_t port;
};

/* One port, network-wide: a distributed sweep in progress. */
struct dist {
    struct fs_span targets, sources;
    struct fs_usual_day usual; /* day peaks of distinct targets */
    struct fs_usual_alerted alerted;
    uint64_t first_ms, last_ms; /* of the probes in the horizon */
    uint8_t nrecent;
    fs_ip last_target;
    fs_ip recent_src[RECENT];
};

struct scan_cfg {
    uint32_t max_keys, max_sources, max_ports;
    uint64_t horizon_ms, realert_ms;
    struct fs_usual_cfg fast, slow, dist;
    double inbound_factor, dist_min_sources, dist_max_per_source;
    bool inbound;
};

struct scan {
    bool sweep;               /* host_sweep, else port_scan */
    const char *det;
    struct scan_cfg cfg;
    struct fs_dtab *keys;     /* scan_key -> entry */
    struct fs_dtab *sources;  /* internal source -> source */
    struct fs_dtab *ports;    /* sweeps: dist_key -> dist */
    struct fs_hll scratch;
    uint64_t day;             /* event-time day whose peaks are being gathered */
    uint64_t probes, late, allowlisted;
};

/* ------------------------------------------------------------------ */
/* Probes. */

static bool multicast(const fs_ip *ip)
{
    return (ip->af == 4 && ip->b[0] >= 224) || (ip->af == 6 && ip->b[0] == 0xff);
}

static bool client_side(const struct fs_flow *f)
{
    return f->dst_port < f->src_port;
}

static bool icmp_echo(const struct fs_flow *f)
{
    uint8_t type = FS_FLOW_HAS(f, FS_F_ICMP) ? f->icmp_type : (uint8_t)(f->dst_port >> 8);

    return (f->proto == 1 && type == 8) || (f->proto == 58 && type == 128);
}

static enum probe probe_of(const struct fs_flow *f)
{
    if (!FS_FLOW_HAS(f, FS_F_SRC_ADDR) || !FS_FLOW_HAS(f, FS_F_DST_ADDR) ||
        multicast(&f->dst_addr))
        return PROBE_NONE;
    switch (f->proto) {
    case 6:
        if (FS_FLOW_HAS(f, FS_F_TCP_FLAGS) && f->tcp_flags != 0) {
            unsigned fl = f->tcp_flags;

            if (!(fl & TCP_ACK))
                return (fl & TCP_RST) && !(fl & TCP_SYN) ? PROBE_NONE : PROBE_FAILED;
            return fs_det_conn_kind(f) == FS_CONN_EMPTY && client_side(f) ? PROBE_EMPTY
                                                                           : PROBE_NONE;
        }
        return fs_det_packets(f) <= 2 && fs_det_payload(f) == 0 && client_side(f)
                   ? PROBE_FAILED
                   : PROBE_NONE;
    case 17:
        return fs_det_packets(f) <= 2 && !FS_FLOW_HAS(f, FS_F_REV_PACKETS) &&
                       fs_det_payload(f) < FS_DET_MIN_PAYLOAD
                   ? PROBE_EMPTY
                   : PROBE_NONE;
    case 1:
    case 58:
        return icmp_echo(f) ? PROBE_EMPTY : PROBE_NONE;
    default:
        return PROBE_NONE;
    }
}

/* ------------------------------------------------------------------ */
/* Life cycle. */

static void read_cfg(struct fs_an_ctx *c, const char *det, bool sweep, struct scan_cfg *g)
{
    static const struct fs_usual_cfg fast_ps = { 15, 3, 6, 1, 3 }, slow_ps = { 40, 3, 6, 1, 3 };
    static const struct fs_usual_cfg fast_hs = { 25, 3, 6, 1, 3 }, slow_hs = { 50, 3, 6, 1, 3 };
    static const struct fs_usual_cfg dist = { 50, 4, 6, 1, 3 };

    g->max_keys = (uint32_t)fs_det_param(c, det, "max_keys", 16384, 64, 16777216);
    g->max_sources = (uint32_t)fs_det_param(c, det, "max_sources", 16384, 16, 16777216);
    double horizon = fs_det_param(c, det, "horizon", 21600, 600, 7 * 86400);

    g->horizon_ms = (uint64_t)(horizon * 1000.0);
    g->realert_ms = (uint64_t)(fs_det_param(c, det, "realert", horizon, 0, 30 * 86400) * 1000.0);
    g->inbound = fs_det_param(c, det, "inbound", 1, 0, 1) != 0;
    g->inbound_factor = fs_det_param(c, det, "inbound_factor", 0.8, 0, 1);
    fs_usual_read_cfg(c, det, "window_", sweep ? &fast_hs : &fast_ps, &g->fast);
    fs_usual_read_cfg(c, det, "slow_", sweep ? &slow_hs : &slow_ps, &g->slow);
    if (!sweep)
        return;
    g->max_ports = (uint32_t)fs_det_param(c, det, "max_ports", 4096, 16, 1048576);
    fs_usual_read_cfg(c, det, "dist_", &dist, &g->dist);
    g->dist_min_sources = fs_det_param(c, det, "dist_min_sources", 5, 2, 1e9);
    g->dist_max_per_source = fs_det_param(c, det, "dist_max_per_source", 20, 1, 1e9);
}

static void entry_evicted(void *arg, const void *key, void *val)
{
    struct entry *e = val;

    (void)arg;
    (void)key;
    fs_span_free(&e->span);
}

static void dist_evicted(void *arg, const void *key, void *val)
{
    struct dist *d = val;

    (void)arg;
    (void)key;
    fs_span_free(&d->targets);
    fs_span_free(&d->sources);
}

/* Empties the tables, releasing every counter's registers. */
static void scan_clear(struct scan *s)
{
    size_t it = 0;
    const void *key;
    void *v;

    if (s->keys) {
        while ((v = fs_dtab_next(s->keys, &it, &key)))
            entry_evicted(NULL, key, v);
        fs_dtab_clear(s->keys);
    }
    if (s->ports) {
        for (it = 0; (v = fs_dtab_next(s->ports, &it, &key));)
            dist_evicted(NULL, key, v);
        fs_dtab_clear(s->ports);
    }
    if (s->sources)
        fs_dtab_clear(s->sources);
}

static void scan_destroy(void *st)
{
    struct scan *s = st;

    if (!s)
        return;
    scan_clear(s);
    fs_dtab_free(s->keys);
    fs_dtab_free(s->sources);
    fs_dtab_free(s->ports);
    fs_hll_free(&s->scratch);
    free(s);
}

static struct scan *scan_new(struct fs_an_ctx *c, bool sweep)
{
    struct scan *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->sweep = sweep;
    s->det = sweep ? DET_HS : DET_PS;
    read_cfg(c, s->det, sweep, &s->cfg);
    fs_hll_init(&s->scratch, FS_SPAN_HLL_P);
    s->keys = fs_dtab_new(sizeof(struct scan_key), sizeof(struct entry), s->cfg.max_keys);
    s->sources = fs_dtab_new(sizeof(fs_ip), sizeof(struct source), s->cfg.max_sources);
    if (sweep)
        s->ports = fs_dtab_new(sizeof(struct dist_key), sizeof(struct dist), s->cfg.max_ports);
    if (!s->keys || !s->sources || (sweep && !s->ports)) {
        scan_destroy(s);
        return NULL;
    }
    fs_dtab_on_evict(s->keys, entry_evicted, NULL);
    if (sweep)
        fs_dtab_on_evict(s->ports, dist_evicted, NULL);
    return s;
}

static void *port_scan_create(struct fs_an_ctx *c)
{
    return scan_new(c, false);
}

static void *host_sweep_create(struct fs_an_ctx *c)
{
    return scan_new(c, true);
}

/* ------------------------------------------------------------------ */
/* The flow path. */

static void remember_ip(fs_ip *v, uint8_t *n, const fs_ip *ip)
{
    if (*n && memcmp(&v[0], ip, sizeof(*ip)) == 0)
        return;
    memmove(&v[1], &v[0], (RECENT - 1) * sizeof(v[0]));
    v[0] = *ip;
    if (*n < RECENT)
        (*n)++;
}

static void remember_port(struct entry *e, uint8_t proto, uint16_t port)
{
    if (e->nrecent && e->recent_port[0] == port && e->recent_proto[0] == proto)
        return;
    memmove(&e->recent_port[1], &e->recent_port[0], (RECENT - 1) * sizeof(e->recent_port[0]));
    memmove(&e->recent_proto[1], &e->recent_proto[0], RECENT - 1);
    e->recent_port[0] = port;
    e->recent_proto[0] = proto;
    if (e->nrecent < RECENT)
        e->nrecent++;
}

/* True when the source is on the allowlist; internal sources remember the
 * answer with their learned state. */
static bool source_allowed(struct scan *s, struct fs_an_ctx *c, const struct fs_an_flow *af,
                           const fs_ip *src)
{
    if (!af->src_internal)
        return fs_an_allowed(c, s->det, src);
    struct source *so = fs_dtab_put(s->sources, src, NULL);

    if (!so)
        return false;
    if (so->allowed == ALLOW_UNKNOWN)
        so->allowed = fs_an_allowed(c, s->det, src) ? ALLOW_YES : ALLOW_NO;
    return so->allowed == ALLOW_YES;
}

/* A probe from a source that stayed narrow on this port: part of whatever
 * distributed sweep the port is under. */
static void dist_add(struct scan *s, const struct fs_an_flow *af, const struct scan_key *k,
                     const fs_ip *dst)
{
    struct dist_key dk = { .proto = k->proto, .zero = 0, .port = k->port };
    bool created;
    struct dist *d = fs_dtab_put(s->ports, &dk, &created);
    uint64_t epoch_ms = s->cfg.horizon_ms / 2;

    if (!d)
        return;
    if (created) {
        fs_span_init(&d->targets, epoch_ms);
        fs_span_init(&d->sources, epoch_ms);
    }
    fs_span_add(&d->targets, 0, af->ts_ms, fs_hash_ip(dst));
    fs_span_add(&d->sources, 0, af->ts_ms, fs_hash_ip(&k->src));
    remember_ip(d->recent_src, &d->nrecent, &k->src);
    d->last_target = *dst;
    if (!d->first_ms || d->last_ms + s->cfg.horizon_ms < af->ts_ms)
        d->first_ms = fs_det_start_ms(af);
    if (af->ts_ms > d->last_ms)
        d->last_ms = af->ts_ms;
}

static void scan_flow(void *st, struct fs_an_ctx *c, const struct fs_an_flow *af)
{
    struct scan *s = st;
    const struct fs_flow *f = af->f;
    struct scan_key k;
    fs_ip dst;
    enum probe p;
    bool created;

    if (af->dir == FS_DIR_TRANSIT || (p = probe_of(f)) == PROBE_NONE)
        return;
    if (!s->sweep && f->proto != 6 && f->proto != 17)
        return;
    if (!af->src_internal && !s->cfg.inbound)
        return;
    memset(&k, 0, sizeof(k));
    fs_det_ip(&k.src, &f->src_addr);
    fs_det_ip(&dst, &f->dst_addr);
    if (source_allowed(s, c, af, &k.src)) {
        s->allowlisted++;
        return;
    }
    uint64_t item;

    if (s->sweep) {
        k.proto = f->proto;
        k.port = f->proto == 6 || f->proto == 17 ? f->dst_port : 0;
        item = fs_hash_ip(&dst);
    } else {
        k.dst = dst;
        item = fs_hash_u64((uint64_t)f->proto << 16 | f->dst_port);
    }
    struct entry *e = fs_dtab_put(s->keys, &k, &created);

    if (!e)
        return;
    if (created) {
        fs_span_init(&e->span, s->cfg.horizon_ms / 2);
        e->first_ms = fs_det_start_ms(af);
        e->inbound = !af->src_internal;
    }
    s->probes++;
    if (!fs_span_add(&e->span, af->window_ms, af->ts_ms, item)) {
        s->late++;
        return;
    }
    e->probes++;
    e->failed += p == PROBE_FAILED;
    if (af->ts_ms > e->last_ms)
        e->last_ms = af->ts_ms;
    if (!s->sweep) {
        remember_port(e, f->proto, f->dst_port);
        return;
    }
    remember_ip(e->recent_ip, &e->nrecent, &dst);
    if (!e->wide && (double)fs_span_bound(&e->span) > s->cfg.dist_max_per_source)
        e->wide = 1;
    if (!e->wide && af->dst_internal)
        dist_add(s, af, &k, &dst);
}

/* ------------------------------------------------------------------ */
/* Judging. */

/* What a key's window showed. */
struct judged {
    struct fs_usual_verdict v;
    bool slow;
    uint64_t n_fast, n_slow;
};

static void report_key(struct scan *s, struct fs_an_ctx *c, const struct fs_an_window *w,
                       const struct scan_key *k, struct entry *e, struct judged *j, double score)
{
    static const char *const metric[2][2] = {
        { "distinct_ports", "distinct_ports_horizon" },
        { "distinct_hosts", "distinct_hosts_horizon" },
    };
    struct fs_anomaly a;
    uint64_t from = w->end_ms > s->cfg.horizon_ms ? w->end_ms - s->cfg.horizon_ms : 0;

    memset(&a, 0, sizeof(a));
    fs_usual_evidence(&j->v, metric[s->sweep][j->slow], &a);
    a.score = score;
    a.ts_ms = j->slow ? (e->first_ms > from ? e->first_ms : from) : w->start_ms;
    a.end_ms = w->end_ms;
    a.cls = s->sweep ? FS_AC_HOST_SWEEP : FS_AC_PORT_SCAN;
    if (!e->inbound) {
        a.host = k->src;
        if (!s->sweep)
            a.peer = k->dst;
    } else {
        a.host = s->sweep ? e->recent_ip[0] : k->dst;
        a.peer = k->src;
        fs_det_top_peer(&a, &k->src, e->probes);
    }
    if (s->sweep) {
        for (unsigned i = 0; i < e->nrecent; i++)
            fs_det_top_peer(&a, &e->recent_ip[i], 1);
        fs_det_top_port(&a, k->port, k->proto, e->probes);
    } else {
        if (!e->inbound)
            fs_det_top_peer(&a, &k->dst, e->probes);
        for (unsigned i = 0; i < e->nrecent; i++)
            fs_det_top_port(&a, e->recent_port[i], e->recent_proto[i], 1);
    }
    fs_anomaly_extra(&a, s->sweep ? "hosts_window" : "ports_window", (double)j->n_fast);
    fs_anomaly_extra(&a, s->sweep ? "hosts_horizon" : "ports_horizon", (double)j->n_slow);
    fs_anomaly_extra(&a, "horizon_s", (double)s->cfg.horizon_ms / 1000.0);
    fs_anomaly_extra(&a, "probes", e->probes);
    fs_anomaly_extra(&a, "failed_share", e->probes ? (double)e->failed / e->probes : 0);
    fs_anomaly_extra(&a, "inbound", e->inbound);
    fs_usual_alerted_set(&e->alerted, w->end_ms, score);
    fs_an_emit(c, &a);
}

static void close_keys(struct scan *s, struct fs_an_ctx *c, const struct fs_an_window *w)
{
    size_t it = 0;
    const void *key;
    struct entry *e;

    while ((e = fs_dtab_next(s->keys, &it, &key))) {
        const struct scan_key *k = key;
        struct judged j;

        if (e->last_ms + s->cfg.horizon_ms < w->end_ms) {
            fs_span_free(&e->span);
            fs_dtab_del(s->keys, key); /* nothing left in the horizon */
            continue;
        }
        uint64_t n_fast = fs_span_window(&e->span, w->start_ms);

        if (n_fast == 0)
            continue; /* judged in the windows it probed in */
        struct source *so = e->inbound ? NULL : fs_dtab_get(s->sources, &k->src);

        j.n_fast = n_fast;
        j.n_slow = fs_span_horizon(&e->span, w->start_ms, &s->scratch);
        double score = fs_usual_peaks_judge(so ? &so->peaks : NULL, &s->cfg.fast, &s->cfg.slow,
                                            (double)j.n_fast, (double)j.n_slow, w->warm, &j.v,
                                            &j.slow);

        if (e->inbound)
            score *= s->cfg.inbound_factor;
        if (score <= 0 || !w->warm ||
            fs_usual_repeat(&e->alerted, w->end_ms, s->cfg.realert_ms, score))
            continue;
        report_key(s, c, w, k, e, &j, score);
    }
}

static void report_dist(struct scan *s, struct fs_an_ctx *c, const struct fs_an_window *w,
                        const struct dist_key *k, struct dist *d,
                        const struct fs_usual_verdict *v, uint64_t nsrc, double score)
{
    struct fs_anomaly a;
    uint64_t from = w->end_ms > s->cfg.horizon_ms ? w->end_ms - s->cfg.horizon_ms : 0;

    memset(&a, 0, sizeof(a));
    fs_usual_evidence(v, "distinct_targets_distributed", &a);
    a.score = score;
    a.ts_ms = d->first_ms > from ? d->first_ms : from;
    a.end_ms = w->end_ms;
    a.cls = FS_AC_HOST_SWEEP;
    a.host = d->last_target;
    for (unsigned i = 0; i < d->nrecent; i++)
        fs_det_top_peer(&a, &d->recent_src[i], 1);
    fs_det_top_port(&a, k->port, k->proto, (uint64_t)v->observed);
    fs_anomaly_extra(&a, "sources", (double)nsrc);
    fs_anomaly_extra(&a, "targets", v->observed);
    fs_anomaly_extra(&a, "targets_per_source", v->observed / (double)nsrc);
    fs_anomaly_extra(&a, "horizon_s", (double)s->cfg.horizon_ms / 1000.0);
    fs_anomaly_extra(&a, "distributed", 1);
    fs_usual_alerted_set(&d->alerted, w->end_ms, score);
    fs_an_emit(c, &a);
}

static void close_ports(struct scan *s, struct fs_an_ctx *c, const struct fs_an_window *w)
{
    size_t it = 0;
    const void *key;
    struct dist *d;

    while ((d = fs_dtab_next(s->ports, &it, &key))) {
        struct fs_usual_verdict v;

        if (d->last_ms + s->cfg.horizon_ms < w->end_ms && fs_usual_samples(&d->usual.usual) == 0) {
            dist_evicted(NULL, key, d);
            fs_dtab_del(s->ports, key); /* quiet and never learned anything */
            continue;
        }
        if (d->last_ms < w->start_ms)
            continue; /* no probe this window: judged when it had one */
        uint64_t targets = fs_span_horizon(&d->targets, w->start_ms, &s->scratch);
        uint64_t nsrc = fs_span_horizon(&d->sources, w->start_ms, &s->scratch);
        bool many = (double)nsrc >= s->cfg.dist_min_sources;
        double score = fs_usual_day_judge(&d->usual, &s->cfg.dist, (double)targets,
                                          w->warm && many, &v);

        if (!many)
            score = 0;
        score *= s->cfg.inbound_factor;
        if (score <= 0 || !w->warm ||
            fs_usual_repeat(&d->alerted, w->end_ms, s->cfg.realert_ms, score))
            continue;
        report_dist(s, c, w, key, d, &v, nsrc, score);
    }
}

/* A day has ended: its peaks become samples, unless it was reported. */
static void learn_day(struct scan *s)
{
    size_t it = 0;
    struct source *so;
    struct dist *d;

    while ((so = fs_dtab_next(s->sources, &it, NULL)))
        fs_usual_peaks_learn(&so->peaks);
    if (!s->ports)
        return;
    for (it = 0; (d = fs_dtab_next(s->ports, &it, NULL));)
        fs_usual_day_learn(&d->usual);
}

static void scan_close(void *st, struct fs_an_ctx *c, const struct fs_an_window *w)
{
    struct scan *s = st;
    uint64_t day = w->start_ms / DAY_MS;

    if (day != s->day) {
        if (s->day)
            learn_day(s);
        s->day = day;
    }
    close_keys(s, c, w);
    if (s->sweep)
        close_ports(s, c, w);
}

/* ------------------------------------------------------------------ */
/* Snapshot: the learned usual levels of sources and ports. */

#define SOURCE_SNAP_BYTES (17 + FS_USUAL_PEAKS_SNAP_MAX)
#define PORT_SNAP_BYTES (3 + FS_USUAL_DAY_SNAP_MAX)

static int scan_save(void *st, FILE *fp)
{
    struct scan *s = st;
    uint32_t nports = s->ports ? fs_dtab_count(s->ports) : 0;
    struct fs_buf_w w = { .cap = 16 + (size_t)fs_dtab_count(s->sources) * SOURCE_SNAP_BYTES +
                                 (size_t)nports * PORT_SNAP_BYTES };
    size_t it = 0;
    const void *key;
    const struct source *so;
    const struct dist *d;

    if ((w.p = malloc(w.cap)) == NULL)
        return -1;
    fs_buf_put_u64(&w, s->day);
    fs_buf_put_u32(&w, fs_dtab_count(s->sources));
    while ((so = fs_dtab_next(s->sources, &it, &key))) {
        fs_det_put_ip(&w, key);
        fs_usual_peaks_save(&so->peaks, &w);
    }
    fs_buf_put_u32(&w, nports);
    for (it = 0; nports && (d = fs_dtab_next(s->ports, &it, &key));) {
        const struct dist_key *k = key;

        fs_buf_put_u8(&w, k->proto);
        fs_buf_put_u16(&w, k->port);
        fs_usual_day_save(&d->usual, &w);
    }
    return fs_det_save_blob(fp, s->sweep ? SNAP_MAGIC_HS : SNAP_MAGIC_PS, SNAP_VERSION, &w);
}

static int load_source(struct scan *s, struct fs_buf_r *r)
{
    struct source so;
    fs_ip ip;
    bool created;

    memset(&so, 0, sizeof(so));
    if (fs_det_get_ip(r, &ip) < 0 || fs_usual_peaks_load(&so.peaks, r) < 0)
        return -1;
    struct source *dst = fs_dtab_put(s->sources, &ip, &created);

    if (!dst || !created)
        return -1;
    *dst = so;
    return 0;
}

static int load_port(struct scan *s, struct fs_buf_r *r)
{
    struct dist_key k = { 0 };
    struct fs_usual_day u;
    bool created;

    k.proto = fs_buf_get_u8(r);
    k.port = fs_buf_get_u16(r);
    if (fs_usual_day_load(&u, r) < 0)
        return -1;
    struct dist *d = fs_dtab_put(s->ports, &k, &created);

    if (!d || !created)
        return -1;
    fs_span_init(&d->targets, s->cfg.horizon_ms / 2);
    fs_span_init(&d->sources, s->cfg.horizon_ms / 2);
    d->usual = u;
    return 0;
}

static int scan_load(void *st, FILE *fp)
{
    struct scan *s = st;
    size_t max = 16 + (size_t)s->cfg.max_sources * SOURCE_SNAP_BYTES +
                 (size_t)(s->sweep ? s->cfg.max_ports : 0) * PORT_SNAP_BYTES;
    uint8_t *data;
    struct fs_buf_r r;

    if (fs_det_load_blob(fp, s->det, s->sweep ? SNAP_MAGIC_HS : SNAP_MAGIC_PS, SNAP_VERSION,
                         max, &data, &r) < 0)
        return -1;
    uint64_t day = fs_buf_get_u64(&r);
    uint32_t n = fs_buf_get_u32(&r);
    int rc = !r.err && n <= s->cfg.max_sources ? 0 : -1;

    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = load_source(s, &r);
    n = rc == 0 ? fs_buf_get_u32(&r) : 0;
    if (rc == 0 && (r.err || (n && !s->sweep) || (s->sweep && n > s->cfg.max_ports)))
        rc = -1;
    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = load_port(s, &r);
    if (rc == 0)
        rc = fs_buf_done(&r);
    free(data);
    if (rc < 0) {
        fs_log(FS_LOG_WARNING, "%s: snapshot state refused: bad source or port record", s->det);
        scan_clear(s);
        return -1;
    }
    s->day = day;
    return 0;
}

static void scan_counters(void *st, void (*fn)(void *arg, const char *name, uint64_t v),
                          void *arg)
{
    struct scan *s = st;
    size_t bytes = sizeof(*s) + fs_dtab_bytes(s->keys) + fs_dtab_bytes(s->sources);
    size_t it = 0;
    const struct entry *e;
    const struct dist *d;

    while ((e = fs_dtab_next(s->keys, &it, NULL)))
        bytes += fs_span_heap_bytes(&e->span);
    for (it = 0; s->ports && (d = fs_dtab_next(s->ports, &it, NULL));)
        bytes += fs_span_heap_bytes(&d->targets) + fs_span_heap_bytes(&d->sources);

    fn(arg, "keys", fs_dtab_count(s->keys));
    fn(arg, "keys_evicted", fs_dtab_evictions(s->keys));
    fn(arg, "sources", fs_dtab_count(s->sources));
    fn(arg, "sources_evicted", fs_dtab_evictions(s->sources));
    if (s->ports) {
        fn(arg, "ports", fs_dtab_count(s->ports));
        fn(arg, "ports_evicted", fs_dtab_evictions(s->ports));
        bytes += fs_dtab_bytes(s->ports);
    }
    fn(arg, "probes", s->probes);
    fn(arg, "allowlisted", s->allowlisted);
    fn(arg, "late", s->late);
    fn(arg, "bytes", bytes);
}

const struct fs_detector fs_det_port_scan = {
    .name = DET_PS,
    .cls = FS_AC_PORT_SCAN,
    .create = port_scan_create,
    .flow = scan_flow,
    .window_close = scan_close,
    .save = scan_save,
    .load = scan_load,
    .counters = scan_counters,
    .destroy = scan_destroy,
};

const struct fs_detector fs_det_host_sweep = {
    .name = DET_HS,
    .cls = FS_AC_HOST_SWEEP,
    .create = host_sweep_create,
    .flow = scan_flow,
    .window_close = scan_close,
    .save = scan_save,
    .load = scan_load,
    .counters = scan_counters,
    .destroy = scan_destroy,
};
