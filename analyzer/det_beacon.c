/*
 * det_beacon.c - beaconing: an internal host that calls the same external
 * service at regular intervals, as command-and-control implants do.
 *
 * State is kept per (internal host, external peer, destination port,
 * protocol): the start time and size of the last BEACON_BEATS connections
 * within a horizon of event time. Only new connections that carried payload
 * are beats: SYNs to a dead server, resets and connect-and-close probes are
 * counted but never make a beacon on their own, and later records of one long
 * connection (the exporter's active timeout cuts it every few minutes, which
 * looks periodic) are not new connections. Connections that start within
 * `coalesce` seconds of a beat are part of it, so a check-in made of a burst
 * of connections is one beat.
 *
 * At the close of every window each pair that gained a beat is scored
 * (one far from a finding waits a few beats first), RITA-style but robust:
 *   - the base period is the median interval, or a half or a third of it when
 *     that explains clearly more intervals (more than half the beats missed);
 *   - each interval is folded onto the period (an interval near k periods is
 *     k-1 missed beats), very short ones are extras (bursts), very long ones
 *     gaps (the laptop was off) that count against nothing;
 *   - dispersion is the MAD of the folded intervals relative to the period
 *     (a robust coefficient of variation, "jitter"), so a few odd intervals
 *     do not hide a beacon and jittered random traffic does not look like one;
 *   - by intervals: (1 - jitter / jitter_max) x share of intervals within
 *     `tolerance` periods of a multiple x (1 + share of expected beats
 *     present) / 2; by phase: how well the beats keep their phase on a grid
 *     of that period (an implant woken by a clock keeps it whatever its
 *     jitter); timing = the better of the two x sqrt(beats held / 16), as few
 *     beats look regular by chance more often;
 *   - score = 100 x timing x (0.6 + 0.2 size regularity + 0.1 beat count +
 *     0.1 duration) x prevalence factor.
 * Popular services called periodically by many internal hosts (update
 * checks) are tamed by the allowlist and by peer prevalence: the share of
 * internal hosts with state for the same (peer, port) lowers the score.
 * Services periodic by design (NTP) are not tracked at all, by default.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detutil.h"
#include "dtab.h"
#include "log.h"
#include "sketch.h"

#define DET "beaconing"
#define BEACON_BEATS 32
#define OFF_MAX (UINT32_C(1) << 31)     /* beat offsets stay below this */
#define HORIZON_MAX_S (14.0 * 86400.0)  /* keeps every kept offset below OFF_MAX */
#define SNAP_MAGIC 0x46534243u          /* "FSBC" */
#define SNAP_VERSION 1u
#define MAD_TO_STD 1.4826
#define FULL_CONFIDENCE_BEATS 16

/* Services periodic by design, skipped unless settings say otherwise. */
static const uint16_t default_skip_ports[] = { 123 /* NTP */ };

struct beacon_cfg {
    uint8_t skip_ports[FS_DET_PORTS_BYTES];
    uint32_t max_pairs;
    uint64_t horizon_ms, min_duration_ms, coalesce_ms, realert_ms;
    unsigned min_beats, max_fold, prevalence_hosts;
    double min_period_s, tolerance, jitter_max, size_cv_max, phase_z0, phase_z1;
    double full_beats, full_duration_h, min_score, prevalence_share;
};

struct pair_key {
    fs_ip host, peer;
    uint16_t port;
    uint8_t proto;
    uint8_t zero;
};

struct peer_key {
    fs_ip peer;
    uint8_t zero;
    uint16_t port;
    uint8_t proto;
    uint8_t zero2;
};

/* Keys are compared bytewise: no padding may hide inside them. */
_Static_assert(sizeof(struct pair_key) == 2 * sizeof(fs_ip) + 4, "pair_key has padding");
_Static_assert(sizeof(struct peer_key) == sizeof(fs_ip) + 5, "peer_key has padding");

struct beat {
    uint32_t t;      /* ms after the pair's base_ms */
    uint32_t bytes;  /* saturating */
};

struct pair {
    uint64_t base_ms;
    uint64_t first_ms;    /* first beat of the current run */
    uint64_t last_ms;     /* latest flow of any kind: idle expiry */
    uint64_t last_end_ms; /* end of the latest beat's flow: UDP continuation */
    uint64_t alerted_ms;  /* event time of the last finding, 0: none */
    uint32_t beats_total; /* beats in the current run */
    uint32_t failed;      /* failed or empty connections */
    uint32_t next_beats;  /* beats_total at which scoring is worth it again */
    uint16_t last_sport;
    uint8_t n;
    uint8_t dirty;        /* a beat arrived since the last scoring */
    struct beat beat[BEACON_BEATS];
};

struct beacon {
    struct beacon_cfg cfg;
    struct fs_dtab *pairs;
    struct fs_det_prev *prev; /* internal hosts per (peer, port, proto) */
    struct fs_dtouch *dirty;  /* pairs with a beat since they were scored */
    uint64_t swept_hour;      /* last hourly sweep for idle pairs */
    uint64_t failed, continued, late, expired, scored;
};

/* What the intervals of one pair say. */
struct beacon_fit {
    double period_s, mad_s, jitter, q1_s, q3_s, size_cv;
    unsigned used, missed;
    double timing, size;
};

static void read_cfg(struct fs_an_ctx *c, struct beacon_cfg *g)
{
    g->max_pairs = (uint32_t)fs_det_param(c, DET, "max_pairs", 65536, 64, 16777216);
    double horizon = fs_det_param(c, DET, "horizon", 86400, 3600, HORIZON_MAX_S);

    g->horizon_ms = (uint64_t)(horizon * 1000.0);
    g->min_beats = (unsigned)fs_det_param(c, DET, "min_beats", 8, 4, BEACON_BEATS);
    g->min_duration_ms = (uint64_t)(fs_det_param(c, DET, "min_duration", 3600, 0, horizon) * 1000.0);
    g->min_period_s = fs_det_param(c, DET, "min_period", 10, 1, horizon);
    g->coalesce_ms = (uint64_t)(fs_det_param(c, DET, "coalesce", 3, 0, 60) * 1000.0);
    g->tolerance = fs_det_param(c, DET, "tolerance", 0.2, 0.01, 0.45);
    g->max_fold = (unsigned)fs_det_param(c, DET, "max_fold", 4, 1, 16);
    g->jitter_max = fs_det_param(c, DET, "jitter_max", 0.5, 0.05, 5);
    g->size_cv_max = fs_det_param(c, DET, "size_cv_max", 1.0, 0.05, 10);
    g->phase_z0 = fs_det_param(c, DET, "phase_z0", 8, 0, BEACON_BEATS);
    g->phase_z1 = fs_det_param(c, DET, "phase_z1", 20, g->phase_z0 + 1, BEACON_BEATS + 1);
    g->full_beats = fs_det_param(c, DET, "full_beats", 48, 1, 1e6);
    g->full_duration_h = fs_det_param(c, DET, "full_duration", 43200, 60, 30 * 86400) / 3600.0;
    g->min_score = fs_det_param(c, DET, "min_score", 50, 0, 100);
    g->realert_ms = (uint64_t)(fs_det_param(c, DET, "realert", 86400, 0, 30 * 86400) * 1000.0);
    g->prevalence_hosts = (unsigned)fs_det_param(c, DET, "prevalence_hosts", 3, 1, 1e6);
    g->prevalence_share = fs_det_param(c, DET, "prevalence_share", 0.1, 0.001, 1);
    fs_det_ports(c, DET, "skip_port_", default_skip_ports,
                 sizeof(default_skip_ports) / sizeof(default_skip_ports[0]), g->skip_ports);
}

static void peer_key_of(const struct pair_key *k, struct peer_key *pk)
{
    memset(pk, 0, sizeof(*pk));
    pk->peer = k->peer;
    pk->port = k->port;
    pk->proto = k->proto;
}

static void pair_ref(struct beacon *b, const struct pair_key *k)
{
    struct peer_key pk;

    peer_key_of(k, &pk);
    fs_det_prev_ref(b->prev, &k->host, &pk);
}

static void pair_unref(struct beacon *b, const struct pair_key *k)
{
    struct peer_key pk;

    peer_key_of(k, &pk);
    fs_det_prev_unref(b->prev, &k->host, &pk);
}

static void on_evict(void *arg, const void *key, void *val)
{
    (void)val;
    pair_unref(arg, key);
}

static void beacon_destroy(void *st)
{
    struct beacon *b = st;

    if (!b)
        return;
    fs_dtab_free(b->pairs);
    fs_det_prev_free(b->prev);
    fs_dtouch_free(b->dirty);
    free(b);
}

static int make_tables(struct beacon *b)
{
    b->pairs = fs_dtab_new(sizeof(struct pair_key), sizeof(struct pair), b->cfg.max_pairs);
    b->prev = fs_det_prev_new(sizeof(struct peer_key), b->cfg.max_pairs);
    b->dirty = fs_dtouch_new(sizeof(struct pair_key));
    if (!b->pairs || !b->prev || !b->dirty)
        return -1;
    fs_dtab_on_evict(b->pairs, on_evict, b);
    return 0;
}

static void *beacon_create(struct fs_an_ctx *c)
{
    struct beacon *b = calloc(1, sizeof(*b));

    if (!b)
        return NULL;
    read_cfg(c, &b->cfg);
    if (make_tables(b) < 0) {
        beacon_destroy(b);
        return NULL;
    }
    return b;
}

static uint64_t beat_abs(const struct pair *p, unsigned i)
{
    return p->base_ms + p->beat[i].t;
}

/* Forgets beats that started before `from`; the base moves to the oldest
 * beat left so that offsets stay small. */
static void prune(struct pair *p, uint64_t from)
{
    unsigned drop = 0;

    while (drop < p->n && beat_abs(p, drop) < from)
        drop++;
    if (drop) {
        memmove(p->beat, p->beat + drop, (p->n - drop) * sizeof(p->beat[0]));
        p->n = (uint8_t)(p->n - drop);
    }
    if (p->n == 0)
        return;
    uint32_t shift = p->beat[0].t;

    for (unsigned i = 0; i < p->n; i++)
        p->beat[i].t -= shift;
    p->base_ms += shift;
}

/* Adds a connection start; returns false when it was too old to keep. */
static bool add_beat(struct beacon *b, struct pair *p, uint64_t t, uint64_t bytes)
{
    const struct beacon_cfg *g = &b->cfg;
    uint32_t sz = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;

    if (p->n && t > beat_abs(p, p->n - 1u) + g->horizon_ms)
        p->n = 0; /* silent for longer than the horizon: a new run */
    if (p->n == 0) {
        p->base_ms = p->first_ms = t;
        p->beats_total = p->next_beats = 0;
    }
    if (t < p->base_ms) {
        uint64_t d = p->base_ms - t;

        if (d > g->horizon_ms || p->beat[p->n - 1u].t + d >= OFF_MAX)
            return false;
        for (unsigned i = 0; i < p->n; i++)
            p->beat[i].t += (uint32_t)d;
        p->base_ms = t;
        if (t < p->first_ms)
            p->first_ms = t;
    } else if (t - p->base_ms >= OFF_MAX) {
        prune(p, t - g->horizon_ms);
        if (p->n == 0)
            p->base_ms = t;
    }
    uint32_t off = (uint32_t)(t - p->base_ms);
    unsigned i = p->n;

    while (i > 0 && p->beat[i - 1].t > off)
        i--;
    if (i > 0 && off - p->beat[i - 1].t <= g->coalesce_ms) {
        p->beat[i - 1].bytes = p->beat[i - 1].bytes > UINT32_MAX - sz ? UINT32_MAX
                                                                      : p->beat[i - 1].bytes + sz;
        return true;
    }
    if (i < p->n && p->beat[i].t - off <= g->coalesce_ms) {
        p->beat[i].t = off;
        p->beat[i].bytes = p->beat[i].bytes > UINT32_MAX - sz ? UINT32_MAX : p->beat[i].bytes + sz;
        return true;
    }
    if (p->n == BEACON_BEATS) {
        if (i == 0)
            return false; /* older than everything held */
        memmove(p->beat, p->beat + 1, (BEACON_BEATS - 1) * sizeof(p->beat[0]));
        p->n--;
        i--;
    }
    memmove(p->beat + i + 1, p->beat + i, (p->n - i) * sizeof(p->beat[0]));
    p->beat[i].t = off;
    p->beat[i].bytes = sz;
    p->n++;
    p->beats_total++;
    p->dirty = 1;
    return true;
}

static void make_key(struct pair_key *k, const struct fs_flow *f)
{
    memset(k, 0, sizeof(*k));
    fs_det_ip(&k->host, &f->src_addr);
    fs_det_ip(&k->peer, &f->dst_addr);
    k->proto = f->proto;
    k->port = (f->proto == 6 || f->proto == 17 || f->proto == 132) ? f->dst_port : 0;
}

/* Lists a pair that just gained a beat for scoring at the next close. On
 * out-of-memory it stays unlisted and clean, and the next beat retries. */
static void mark_dirty(struct beacon *b, const struct pair_key *k, struct pair *p, uint8_t was)
{
    if (p->dirty && !was && fs_dtouch_add(b->dirty, 0, k) < 0)
        p->dirty = 0;
}

static void beacon_flow(void *st, struct fs_an_ctx *c, const struct fs_an_flow *af)
{
    struct beacon *b = st;
    const struct fs_flow *f = af->f;
    struct pair_key k;

    (void)c;
    if (af->dir != FS_DIR_OUTBOUND)
        return;
    make_key(&k, f);
    if (fs_det_port_in(b->cfg.skip_ports, k.port))
        return;
    uint64_t start = fs_det_start_ms(af);
    uint64_t end = FS_FLOW_HAS(f, FS_F_END) && f->end_ms >= start ? f->end_ms : start;
    enum fs_conn_kind kind = fs_det_conn_kind(f);
    struct pair *p;

    if (kind != FS_CONN_DATA) {
        /* Never creates state: a scan of dead addresses must not push out
         * the pairs that matter. */
        if ((p = fs_dtab_get(b->pairs, &k)) == NULL)
            return;
        if (kind == FS_CONN_CONTINUED) {
            b->continued++;
        } else {
            p->failed++;
            b->failed++;
        }
        if (end > p->last_ms)
            p->last_ms = end;
        return;
    }
    bool created;

    if ((p = fs_dtab_put(b->pairs, &k, &created)) == NULL)
        return;
    if (created)
        pair_ref(b, &k);
    if (end > p->last_ms)
        p->last_ms = end;
    /* The same source port right after the previous record ended: the
     * exporter cut a long UDP exchange, not a new connection. */
    if (!created && f->proto != 6 && f->src_port == p->last_sport &&
        start <= p->last_end_ms + b->cfg.coalesce_ms && start + b->cfg.coalesce_ms >= p->last_end_ms) {
        p->last_end_ms = end;
        b->continued++;
        return;
    }
    p->last_sport = f->src_port;
    p->last_end_ms = end;
    uint8_t was_dirty = p->dirty;

    if (!add_beat(b, p, start, fs_det_bytes(f)))
        b->late++;
    mark_dirty(b, &k, p, was_dirty);
}

static double median_of(double *v, unsigned n)
{
    fs_stat_sort(v, n);
    return fs_stat_quantile_sorted(v, n, 0.5);
}

/* Intervals within `tolerance` periods of a multiple 1..max_fold of P. */
static unsigned count_fit(const double *d, unsigned n, double P, const struct beacon_cfg *g)
{
    unsigned fit = 0;

    for (unsigned i = 0; i < n; i++) {
        double k = nearbyint(d[i] / P);

        if (k >= 1 && k <= g->max_fold && fabs(d[i] - k * P) <= g->tolerance * P)
            fit++;
    }
    return fit;
}

/* Phase lock. Beats on a fixed grid (k periods plus a bounded offset, as a
 * timer re-armed from a fixed clock gives) keep their phase however large
 * the offsets, and missed beats do not disturb it, where the intervals
 * between them look ragged. The statistic is Rayleigh's n R^2 of the beats'
 * phases (R the length of their mean unit vector) on the grid that spans
 * the beats in a whole number of periods near P; for random arrivals it
 * follows Exp(1), so 10 is a one-in-20000 event. */
static double phase_lock(const double *t, unsigned n, double P, double *grid_period)
{
    double span = t[n - 1] - t[0], k0 = nearbyint(span / P), best = 0;

    *grid_period = P;
    for (double k = k0 - 1; k <= k0 + 1; k++) {
        double c = 0, s = 0;

        if (k < 1)
            continue;
        for (unsigned i = 0; i < n; i++) {
            double ph = 2.0 * M_PI * (t[i] - t[0]) * k / span;

            c += cos(ph);
            s += sin(ph);
        }
        if ((c * c + s * s) / n > best) {
            best = (c * c + s * s) / n;
            *grid_period = span / k;
        }
    }
    return best;
}

/* Scores the beats t[0..n) (seconds, ascending) and their sizes. Returns
 * false when there are too few usable intervals or the period is too short. */
static bool analyze(const struct beacon_cfg *g, const double *t, double *sizes, unsigned n,
                    struct beacon_fit *out)
{
    double d[BEACON_BEATS] = { 0 }, tmp[BEACON_BEATS], folded[BEACON_BEATS];
    unsigned nd = n - 1;

    memset(out, 0, sizeof(*out));
    if (n < 3 || n > BEACON_BEATS)
        return false;
    for (unsigned i = 0; i < nd; i++)
        d[i] = tmp[i] = t[i + 1] - t[i];
    double P = median_of(tmp, nd);

    if (!(P >= g->min_period_s))
        return false;
    unsigned best_fit = count_fit(d, nd, P, g);
    unsigned margin = nd / 5 > 2 ? nd / 5 : 2;

    for (unsigned m = 2; m <= 3; m++) {
        double cand = P / m;
        unsigned fit;

        if (cand < g->min_period_s)
            break;
        if ((fit = count_fit(d, nd, cand, g)) >= best_fit + margin) {
            P = cand;
            best_fit = fit;
        }
    }
    unsigned used = 0, gaps = 0, missed = 0;

    for (unsigned i = 0; i < nd; i++) {
        double k = nearbyint(d[i] / P);

        if (k < 1)
            continue; /* an extra beat: a burst */
        if (k > g->max_fold) {
            gaps++;
            continue;
        }
        folded[used++] = d[i] / k;
        missed += (unsigned)k - 1;
    }
    if (used + 1 < g->min_beats)
        return false;
    fs_stat_sort(folded, used);
    P = fs_stat_quantile_sorted(folded, used, 0.5);
    if (!(P >= g->min_period_s))
        return false;
    out->period_s = P;
    out->mad_s = fs_stat_mad_sorted(folded, used, P);
    out->q1_s = fs_stat_quantile_sorted(folded, used, 0.25);
    out->q3_s = fs_stat_quantile_sorted(folded, used, 0.75);
    out->jitter = MAD_TO_STD * out->mad_s / P;
    out->used = used;
    out->missed = missed;
    /* A few long gaps are outages (the laptop was off) and count against
     * nothing; beyond a tenth of the intervals they are irregularity. */
    unsigned free_gaps = nd / 10 > 1 ? nd / 10 : 1;
    double fit_share = (double)count_fit(d, nd, P, g) / (double)(nd - (gaps < free_gaps ? gaps : free_gaps));
    double present = (double)(used + 1) / (double)(used + 1 + missed);

    /* Few intervals look regular by chance more often: full confidence
     * from FULL_CONFIDENCE_BEATS beats on. Missed beats cost at most half:
     * an implant that often fails to get through is still an implant. */
    double confidence = sqrt(fs_det_ramp(n, 0, FULL_CONFIDENCE_BEATS));
    double grid_period, lock = phase_lock(t, n, P, &grid_period);
    double by_interval = (1.0 - fs_det_ramp(out->jitter, 0, g->jitter_max)) * fit_share *
                         (0.5 + 0.5 * present);
    double by_phase = fs_det_ramp(lock, g->phase_z0, g->phase_z1);

    if (by_phase > by_interval)
        out->period_s = grid_period;
    out->timing = (by_phase > by_interval ? by_phase : by_interval) * confidence;

    double size_med = median_of(sizes, n);
    double size_mad = fs_stat_mad_sorted(sizes, n, size_med);

    out->size_cv = size_med > 0 ? MAD_TO_STD * size_mad / size_med : 0;
    out->size = 1.0 - fs_det_ramp(out->size_cv, 0, g->size_cv_max);
    return true;
}

static void evaluate(struct beacon *b, struct fs_an_ctx *c, const struct fs_an_window *w,
                     const struct pair_key *k, struct pair *p)
{
    const struct beacon_cfg *g = &b->cfg;
    double t[BEACON_BEATS], sizes[BEACON_BEATS];
    struct beacon_fit fit;
    uint64_t bytes = 0;

    if (w->end_ms > g->horizon_ms)
        prune(p, w->end_ms - g->horizon_ms);
    if (p->n < g->min_beats)
        return;
    uint64_t last = beat_abs(p, p->n - 1u);

    if (last - p->first_ms < g->min_duration_ms)
        return;
    if (p->alerted_ms && w->end_ms - p->alerted_ms < g->realert_ms)
        return;
    if (p->beats_total < p->next_beats)
        return;
    /* Scoring is the costly part: a pair far from a finding waits for up
     * to 8 more beats, one close to it is scored at every beat. */
    p->next_beats = p->beats_total + 8;
    for (unsigned i = 0; i < p->n; i++) {
        t[i] = p->beat[i].t / 1000.0;
        sizes[i] = p->beat[i].bytes;
        bytes += p->beat[i].bytes;
    }
    b->scored++;
    if (!analyze(g, t, sizes, p->n, &fit))
        return;
    double duration_h = (double)(last - p->first_ms) / 3600000.0;
    double count = fs_det_ramp(p->beats_total, 0, g->full_beats);
    double span = fs_det_ramp(duration_h, 0, g->full_duration_h);
    uint32_t nhosts;
    struct peer_key pk;

    peer_key_of(k, &pk);
    double prevalence = fs_det_prev_factor(b->prev, &pk, g->prevalence_hosts,
                                           g->prevalence_share, &nhosts);
    double score = 100.0 * fit.timing * (0.6 + 0.2 * fit.size + 0.1 * count + 0.1 * span) *
                   prevalence;

    if (score < g->min_score) {
        p->next_beats = p->beats_total + (uint32_t)fmin(8, fmax(1, (g->min_score - score) / 10));
        return;
    }
    if (fs_an_allowed(c, DET, &k->peer))
        return;
    struct fs_anomaly a;

    memset(&a, 0, sizeof(a));
    a.ts_ms = w->start_ms;
    a.end_ms = w->end_ms;
    a.host = k->host;
    a.peer = k->peer;
    a.cls = FS_AC_BEACONING;
    a.score = score;
    a.severity = fs_severity_from_score(score);
    snprintf(a.metric, sizeof(a.metric), "beacon_period_s");
    a.observed = fit.period_s;
    a.expected = fit.period_s;
    a.std = MAD_TO_STD * fit.mad_s;
    a.q1 = fit.q1_s;
    a.q3 = fit.q3_s;
    a.samples = fit.used;
    fs_det_top_peer(&a, &k->peer, p->beats_total);
    fs_det_top_port(&a, k->port, k->proto, bytes);
    fs_anomaly_extra(&a, "period_s", fit.period_s);
    fs_anomaly_extra(&a, "interval_mad", fit.mad_s);
    fs_anomaly_extra(&a, "jitter", fit.jitter);
    fs_anomaly_extra(&a, "size_cv", fit.size_cv);
    fs_anomaly_extra(&a, "beats", p->beats_total);
    fs_anomaly_extra(&a, "missed", fit.missed);
    fs_anomaly_extra(&a, "duration_h", duration_h);
    fs_anomaly_extra(&a, "peer_hosts", nhosts);
    p->alerted_ms = w->end_ms;
    fs_an_emit(c, &a);
}

struct close_pass {
    struct beacon *b;
    struct fs_an_ctx *c;
    const struct fs_an_window *w;
};

static void score_pair(void *arg, const void *key)
{
    struct close_pass *pass = arg;
    struct pair *p = fs_dtab_get(pass->b->pairs, key);

    if (p && p->dirty) {
        p->dirty = 0;
        evaluate(pass->b, pass->c, pass->w, key, p);
    }
}

static void beacon_close(void *st, struct fs_an_ctx *c, const struct fs_an_window *w)
{
    struct beacon *b = st;
    struct close_pass pass = { b, c, w };
    uint64_t hour = w->end_ms / 3600000u;

    fs_dtouch_take(b->dirty, 0, score_pair, &pass);
    if (hour == b->swept_hour)
        return;
    /* Once an hour: forget pairs idle for the whole horizon. */
    size_t it = 0;
    const void *key;
    struct pair *p;

    b->swept_hour = hour;
    while ((p = fs_dtab_next(b->pairs, &it, &key))) {
        if (p->last_ms + b->cfg.horizon_ms < w->end_ms) {
            pair_unref(b, key);
            fs_dtab_del(b->pairs, key);
            b->expired++;
        }
    }
}

/* Bytes one pair takes in a snapshot, at most. */
#define PAIR_SNAP_BYTES (2 * 17 + 3 + 5 * 8 + 2 * 4 + 2 + 2 + BEACON_BEATS * 8)

static int beacon_save(void *st, FILE *fp)
{
    struct beacon *b = st;
    struct fs_buf_w w = { .cap = 8 + (size_t)fs_dtab_count(b->pairs) * PAIR_SNAP_BYTES };
    size_t it = 0;
    const void *key;
    const struct pair *p;

    if ((w.p = malloc(w.cap)) == NULL)
        return -1;
    fs_buf_put_u32(&w, fs_dtab_count(b->pairs));
    while ((p = fs_dtab_next(b->pairs, &it, &key))) {
        const struct pair_key *k = key;

        fs_det_put_ip(&w, &k->host);
        fs_det_put_ip(&w, &k->peer);
        fs_buf_put_u16(&w, k->port);
        fs_buf_put_u8(&w, k->proto);
        fs_buf_put_u64(&w, p->base_ms);
        fs_buf_put_u64(&w, p->first_ms);
        fs_buf_put_u64(&w, p->last_ms);
        fs_buf_put_u64(&w, p->last_end_ms);
        fs_buf_put_u64(&w, p->alerted_ms);
        fs_buf_put_u32(&w, p->beats_total);
        fs_buf_put_u32(&w, p->failed);
        fs_buf_put_u16(&w, p->last_sport);
        fs_buf_put_u8(&w, p->n);
        fs_buf_put_u8(&w, p->dirty);
        for (unsigned i = 0; i < p->n; i++) {
            fs_buf_put_u32(&w, p->beat[i].t);
            fs_buf_put_u32(&w, p->beat[i].bytes);
        }
    }
    return fs_det_save_blob(fp, SNAP_MAGIC, SNAP_VERSION, &w);
}

static int load_pair(struct beacon *b, struct fs_buf_r *r)
{
    struct pair_key k;
    struct pair p;

    memset(&k, 0, sizeof(k));
    memset(&p, 0, sizeof(p));
    if (fs_det_get_ip(r, &k.host) < 0 || fs_det_get_ip(r, &k.peer) < 0)
        return -1;
    k.port = fs_buf_get_u16(r);
    k.proto = fs_buf_get_u8(r);
    p.base_ms = fs_buf_get_u64(r);
    p.first_ms = fs_buf_get_u64(r);
    p.last_ms = fs_buf_get_u64(r);
    p.last_end_ms = fs_buf_get_u64(r);
    p.alerted_ms = fs_buf_get_u64(r);
    p.beats_total = fs_buf_get_u32(r);
    p.failed = fs_buf_get_u32(r);
    p.last_sport = fs_buf_get_u16(r);
    p.n = fs_buf_get_u8(r);
    p.dirty = fs_buf_get_u8(r) ? 1 : 0;
    if (r->err || p.n > BEACON_BEATS)
        return -1;
    for (unsigned i = 0; i < p.n; i++) {
        p.beat[i].t = fs_buf_get_u32(r);
        p.beat[i].bytes = fs_buf_get_u32(r);
        if (p.beat[i].t >= OFF_MAX || (i && p.beat[i].t < p.beat[i - 1].t))
            return -1;
    }
    if (r->err)
        return -1;
    bool created;
    struct pair *dst = fs_dtab_put(b->pairs, &k, &created);

    if (!dst || !created)
        return -1;
    *dst = p;
    pair_ref(b, &k);
    mark_dirty(b, &k, dst, 0);
    return 0;
}

static int beacon_load(void *st, FILE *fp)
{
    struct beacon *b = st;
    uint8_t *data;
    struct fs_buf_r r;

    if (fs_det_load_blob(fp, DET, SNAP_MAGIC, SNAP_VERSION,
                         4 + (size_t)b->cfg.max_pairs * PAIR_SNAP_BYTES, &data, &r) < 0)
        return -1;
    uint32_t n = fs_buf_get_u32(&r);
    int rc = n <= b->cfg.max_pairs ? 0 : -1;

    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = load_pair(b, &r);
    if (rc == 0)
        rc = fs_buf_done(&r);
    free(data);
    if (rc < 0) {
        fs_log(FS_LOG_WARNING, "%s: snapshot state refused: bad pair record", DET);
        fs_dtab_clear(b->pairs);
        fs_det_prev_clear(b->prev);
        return -1;
    }
    return 0;
}

static void beacon_counters(void *st, void (*fn)(void *arg, const char *name, uint64_t v),
                            void *arg)
{
    struct beacon *b = st;

    fn(arg, "pairs", fs_dtab_count(b->pairs));
    fn(arg, "evicted", fs_dtab_evictions(b->pairs));
    fn(arg, "expired", b->expired);
    fn(arg, "failed_connections", b->failed);
    fn(arg, "continued_records", b->continued);
    fn(arg, "late_beats", b->late);
    fn(arg, "scored", b->scored);
    fn(arg, "bytes", sizeof(*b) + fs_dtab_bytes(b->pairs) + fs_det_prev_bytes(b->prev) +
                         fs_dtouch_bytes(b->dirty));
}

const struct fs_detector fs_det_beacon = {
    .name = DET,
    .cls = FS_AC_BEACONING,
    .create = beacon_create,
    .flow = beacon_flow,
    .window_close = beacon_close,
    .save = beacon_save,
    .load = beacon_load,
    .counters = beacon_counters,
    .destroy = beacon_destroy,
};
