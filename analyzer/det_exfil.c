/*
 * det_exfil.c - exfiltration: an internal host sending far more to external
 * peers than it usually does, either at once or as a slow steady drip.
 *
 * Only uploads count: what the host sends from a client port (not a web
 * server's answers), and only one-way: bytes to a peer that sent back less
 * than 1 / `min_up_down` as much. Exfiltration pushes data out and gets
 * acknowledgements back; a video call or a remote desktop session sends and
 * receives alike. The reverse direction is taken from the peer's own records
 * (or the reverse counters of a biflow) for pairs already known.
 *
 * Burst: at every window close the one-way bytes a host sent to external
 * peers in that window are scored with fs_an_score() against the host's own
 * bytes_out baseline for the same seasonal slot, so a backup server's nightly
 * upload, which is in its 02:00 slot every night, is expected there and
 * scores 0.
 *
 * Drip: per (internal host, external peer) the detector keeps bytes sent per
 * event-time hour over the last EXFIL_HOURS hours. At every hour boundary the
 * total over the last `drip_hours` hours is checked: steady (bytes in most of
 * those hours, no single hour holding most of it) and far above what the
 * host normally sends to any single peer over such a span. That "normal" is
 * learned here: every hour each host's largest per-peer total is sampled
 * into a quantile sketch (the last 30 hours: median, MAD, quartiles) and a
 * running mean/variance (its whole history, for the evidence). Samples are
 * learned `drip_hours` late, and the pending ones dropped when the host is
 * reported, so that the hours in which a drip builds up never become its
 * yardstick.
 *
 * Exports to allowlisted peers (exfiltration.allow: backup providers, sync
 * services) are left out of both checks, and bytes to a peer that a large
 * share of the internal hosts send to (the company's SaaS) count for less,
 * down to nothing at `prevalence_share` of the hosts.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detutil.h"
#include "dtab.h"
#include "log.h"
#include "sketch.h"

#define DET "exfiltration"
#define EXFIL_HOURS 12
#define HOUR_MS 3600000ull
#define SNAP_MAGIC 0x46534558u /* "FSEX" */
#define SNAP_VERSION 1u
#define MAD_TO_STD 1.4826

struct exfil_cfg {
    uint32_t max_hosts, max_pairs;
    double burst_min_bytes, burst_min_score;
    unsigned drip_hours, drip_min_samples;
    double drip_min_bytes, drip_active_share, drip_max_hour_share, drip_ratio, drip_z;
    double min_up_down, prevalence_share;
    unsigned prevalence_hosts;
    uint64_t realert_ms;
};

/* Bytes each way in one of the (at most two) windows open at once. */
struct win_bytes {
    uint64_t win_ms;
    uint64_t out, in;
};

struct exhost {
    uint64_t burst_win_ms;     /* window whose one-way bytes are in burst_bytes */
    uint64_t burst_bytes;
    uint64_t cur_max;          /* largest per-peer total of the hour being closed */
    /* Samples wait `drip_hours` before they are learned, so that a drip
     * still building up is judged against the hours before it. */
    uint64_t pending[EXFIL_HOURS];
    uint8_t npending;
    uint64_t burst_alerted_ms;
    struct fs_qs peer_max_recent; /* hourly samples: largest per-peer drip total */
    struct fs_stat peer_max_all;
};

struct pair_key {
    fs_ip host, peer;
};
_Static_assert(sizeof(struct pair_key) == 2 * sizeof(fs_ip), "pair_key has padding");

struct expair {
    uint64_t newest_hour;      /* hour index of the newest bucket */
    uint64_t hour_bytes[EXFIL_HOURS];
    uint32_t hour_in_kib[EXFIL_HOURS]; /* what came back, KiB, saturating */
    struct win_bytes win[2];
    uint64_t counted_win_ms;   /* window in which the pair counted as one-way */
    uint64_t drip_alerted_ms;
    /* Dominant destination port (one-counter Misra-Gries on bytes). */
    uint64_t port_weight;
    uint16_t port;
    uint8_t proto;
    uint8_t allowed;           /* peer on the allowlist: ALLOW_* */
};

/* The allowlist is looked up once per pair; a pair loaded from a snapshot
 * looks again, in case the configuration changed. */
enum { ALLOW_UNKNOWN = 0, ALLOW_NO, ALLOW_YES };

struct exfil {
    struct exfil_cfg cfg;
    struct fs_dtab *hosts, *pairs;
    struct fs_det_prev *prev;  /* internal hosts per external peer */
    struct fs_dtouch *touched; /* pairs with bytes, per open window */
    struct fs_dtouch *burst_hosts; /* hosts with one-way bytes in the closing window */
    uint64_t hour_done;        /* the last hour boundary whose drip spans were checked */
    uint64_t late;
};

static void read_cfg(struct fs_an_ctx *c, struct exfil_cfg *g)
{
    g->max_hosts = (uint32_t)fs_det_param(c, DET, "max_hosts", 16384, 16, 16777216);
    g->max_pairs = (uint32_t)fs_det_param(c, DET, "max_pairs", 65536, 64, 16777216);
    g->burst_min_bytes = fs_det_param(c, DET, "burst_min_bytes", 20e6, 0, 1e15);
    g->burst_min_score = fs_det_param(c, DET, "burst_min_score", 50, 0, 100);
    g->drip_hours = (unsigned)fs_det_param(c, DET, "drip_hours", 6, 2, EXFIL_HOURS);
    g->drip_min_bytes = fs_det_param(c, DET, "drip_min_bytes", 20e6, 0, 1e15);
    g->drip_active_share = fs_det_param(c, DET, "drip_active_share", 0.75, 0, 1);
    g->drip_max_hour_share = fs_det_param(c, DET, "drip_max_hour_share", 0.5, 0.05, 1);
    g->drip_ratio = fs_det_param(c, DET, "drip_ratio", 5, 1, 1e6);
    g->drip_z = fs_det_param(c, DET, "drip_z", 4, 0, 1e6);
    g->drip_min_samples = (unsigned)fs_det_param(c, DET, "drip_min_samples", 24, 1, FS_QS_K * 1000);
    g->realert_ms = (uint64_t)(fs_det_param(c, DET, "realert", 21600, 0, 30 * 86400) * 1000.0);
    g->min_up_down = fs_det_param(c, DET, "min_up_down", 4, 0, 1e6);
    g->prevalence_hosts = (unsigned)fs_det_param(c, DET, "prevalence_hosts", 5, 1, 1e6);
    g->prevalence_share = fs_det_param(c, DET, "prevalence_share", 0.1, 0.001, 1);
}

static void exfil_destroy(void *st)
{
    struct exfil *x = st;

    if (!x)
        return;
    fs_dtab_free(x->hosts);
    fs_dtab_free(x->pairs);
    fs_det_prev_free(x->prev);
    fs_dtouch_free(x->touched);
    fs_dtouch_free(x->burst_hosts);
    free(x);
}

static void on_evict(void *arg, const void *key, void *val)
{
    const struct pair_key *k = key;
    struct exfil *x = arg;

    (void)val;
    fs_det_prev_unref(x->prev, &k->host, &k->peer);
}

/* How much bytes to `peer` count: less the more internal hosts send there. */
static double prevalence(const struct exfil *x, const fs_ip *peer, uint32_t *nhosts)
{
    return fs_det_prev_factor(x->prev, peer, x->cfg.prevalence_hosts, x->cfg.prevalence_share,
                              nhosts);
}

static void *exfil_create(struct fs_an_ctx *c)
{
    struct exfil *x = calloc(1, sizeof(*x));

    if (!x)
        return NULL;
    read_cfg(c, &x->cfg);
    x->hosts = fs_dtab_new(sizeof(fs_ip), sizeof(struct exhost), x->cfg.max_hosts);
    x->pairs = fs_dtab_new(sizeof(struct pair_key), sizeof(struct expair), x->cfg.max_pairs);
    x->prev = fs_det_prev_new(sizeof(fs_ip), x->cfg.max_pairs);
    x->touched = fs_dtouch_new(sizeof(struct pair_key));
    x->burst_hosts = fs_dtouch_new(sizeof(fs_ip));
    if (!x->hosts || !x->pairs || !x->prev || !x->touched || !x->burst_hosts) {
        exfil_destroy(x);
        return NULL;
    }
    fs_dtab_on_evict(x->pairs, on_evict, x);
    return x;
}

enum { WIN_LATE = -1, WIN_ADDED, WIN_NEW };

/* Adds to the slot of window `win_ms`, taking over the older slot for a new
 * window (WIN_NEW); WIN_LATE when the window is older than both. */
static int win_add(struct win_bytes w[2], uint64_t win_ms, uint64_t out, uint64_t in)
{
    unsigned i = w[0].win_ms == win_ms ? 0 : w[1].win_ms == win_ms ? 1 : 2;
    int rc = WIN_ADDED;

    if (i == 2) {
        i = w[0].win_ms <= w[1].win_ms ? 0 : 1;
        if (w[i].win_ms > win_ms)
            return WIN_LATE;
        memset(&w[i], 0, sizeof(w[i]));
        w[i].win_ms = win_ms;
        rc = WIN_NEW;
    }
    w[i].out += out;
    w[i].in += in;
    return rc;
}

/* Adds to a pair's window and lists the pair for that window's close. */
static void pair_add(struct exfil *x, const struct pair_key *k, struct expair *p,
                     uint64_t win_ms, uint64_t out, uint64_t in)
{
    switch (win_add(p->win, win_ms, out, in)) {
    case WIN_LATE:
        x->late++;
        break;
    case WIN_NEW:
        if (fs_dtouch_add(x->touched, win_ms, k) < 0)
            x->late++;
        break;
    default:
        break;
    }
}

static const struct win_bytes *win_get(const struct win_bytes w[2], uint64_t win_ms)
{
    return w[0].win_ms == win_ms ? &w[0] : w[1].win_ms == win_ms ? &w[1] : NULL;
}

/* True when `out` is one-way traffic given what came back. */
static bool one_way(const struct exfil_cfg *g, double out, double in)
{
    return out > 0 && out >= g->min_up_down * in;
}

static void hours_add(struct expair *p, uint64_t hour, uint64_t out, uint64_t in)
{
    if (hour > p->newest_hour) {
        uint64_t gap = hour - p->newest_hour;

        for (uint64_t h = 1; h <= gap && h <= EXFIL_HOURS; h++) {
            p->hour_bytes[(p->newest_hour + h) % EXFIL_HOURS] = 0;
            p->hour_in_kib[(p->newest_hour + h) % EXFIL_HOURS] = 0;
        }
        p->newest_hour = hour;
    } else if (p->newest_hour - hour >= EXFIL_HOURS) {
        return;
    }
    uint32_t *kib = &p->hour_in_kib[hour % EXFIL_HOURS];
    uint64_t add = (in + 1023) / 1024;

    p->hour_bytes[hour % EXFIL_HOURS] += out;
    *kib = add > UINT32_MAX - *kib ? UINT32_MAX : *kib + (uint32_t)add;
}

/* Bytes out (in) in hour `hour`, 0 when it has left the ring or not
 * happened yet. */
static uint64_t hours_get(const struct expair *p, uint64_t hour)
{
    if (hour > p->newest_hour || p->newest_hour - hour >= EXFIL_HOURS)
        return 0;
    return p->hour_bytes[hour % EXFIL_HOURS];
}

static uint64_t hours_in(const struct expair *p, uint64_t hour)
{
    if (hour > p->newest_hour || p->newest_hour - hour >= EXFIL_HOURS)
        return 0;
    return (uint64_t)p->hour_in_kib[hour % EXFIL_HOURS] * 1024;
}

/* What came back from a peer we send to: only pairs already known, so that
 * inbound traffic (scans, downloads) never fills the table. */
static void exfil_inbound(struct exfil *x, const struct fs_an_flow *af)
{
    const struct fs_flow *f = af->f;
    struct pair_key k;

    fs_det_ip(&k.host, &f->dst_addr);
    fs_det_ip(&k.peer, &f->src_addr);
    struct expair *p = fs_dtab_get(x->pairs, &k);

    if (!p || p->allowed == ALLOW_YES)
        return;
    hours_add(p, af->ts_ms / HOUR_MS, 0, f->bytes);
    pair_add(x, &k, p, af->window_ms, 0, f->bytes);
}

/* True when the internal end answers on a service port (a web server
 * sending a page): uploads are what the host starts, not what it serves. */
static bool serving(const struct fs_flow *f, bool internal_is_src)
{
    uint16_t mine = internal_is_src ? f->src_port : f->dst_port;
    uint16_t theirs = internal_is_src ? f->dst_port : f->src_port;

    if (f->proto != 6 && f->proto != 17 && f->proto != 132)
        return false;
    return mine < 1024 && theirs >= 1024;
}

static void exfil_flow(void *st, struct fs_an_ctx *c, const struct fs_an_flow *af)
{
    struct exfil *x = st;
    const struct fs_flow *f = af->f;
    struct pair_key k;
    bool created;

    if (!FS_FLOW_HAS(f, FS_F_BYTES) || f->bytes == 0 ||
        serving(f, af->dir == FS_DIR_OUTBOUND))
        return;
    if (af->dir == FS_DIR_INBOUND) {
        exfil_inbound(x, af);
        return;
    }
    if (af->dir != FS_DIR_OUTBOUND)
        return;
    fs_det_ip(&k.host, &f->src_addr);
    fs_det_ip(&k.peer, &f->dst_addr);
    struct expair *p = fs_dtab_put(x->pairs, &k, &created);

    if (!p)
        return;
    if (created)
        fs_det_prev_ref(x->prev, &k.host, &k.peer);
    if (p->allowed == ALLOW_UNKNOWN)
        p->allowed = fs_an_allowed(c, DET, &k.peer) ? ALLOW_YES : ALLOW_NO;
    if (p->allowed == ALLOW_YES)
        return;
    uint64_t back = FS_FLOW_HAS(f, FS_F_REV_BYTES) ? f->rev_bytes : 0;

    hours_add(p, af->ts_ms / HOUR_MS, f->bytes, back);
    pair_add(x, &k, p, af->window_ms, f->bytes, back);
    uint16_t port = (f->proto == 6 || f->proto == 17 || f->proto == 132) ? f->dst_port : 0;

    if (p->port_weight == 0 || (p->port == port && p->proto == f->proto)) {
        p->port = port;
        p->proto = f->proto;
        p->port_weight += f->bytes;
    } else {
        p->port_weight = p->port_weight > f->bytes ? p->port_weight - f->bytes : 0;
    }
    fs_dtab_put(x->hosts, &k.host, NULL); /* the host gets its hourly samples */
}

/* The one-way bytes of window `win_ms` that made a burst. */
static uint64_t window_weight(const struct expair *p, uint64_t win_ms)
{
    const struct win_bytes *v = win_get(p->win, win_ms);

    return v && p->counted_win_ms == win_ms ? v->out : 0;
}

/* The host's pairs that counted in window `win_ms` as top peers and ports
 * of `a`. A walk of the whole table, but only for a finding. */
static void add_evidence(struct exfil *x, const fs_ip *host, struct fs_anomaly *a,
                         uint64_t win_ms)
{
    struct { uint16_t port; uint8_t proto; uint64_t v; } ports[16];
    unsigned nports = 0;
    size_t it = 0;
    const void *key;
    const struct expair *p;

    while ((p = fs_dtab_next(x->pairs, &it, &key))) {
        const struct pair_key *k = key;
        uint64_t v;

        if (memcmp(&k->host, host, sizeof(*host)) != 0 || (v = window_weight(p, win_ms)) == 0)
            continue;
        fs_det_top_peer(a, &k->peer, v);
        unsigned i = 0;

        while (i < nports && (ports[i].port != p->port || ports[i].proto != p->proto))
            i++;
        if (i == nports && nports < sizeof(ports) / sizeof(ports[0])) {
            ports[nports].port = p->port;
            ports[nports].proto = p->proto;
            ports[nports++].v = 0;
        }
        if (i < nports)
            ports[i].v += v;
    }
    for (unsigned i = 0; i < nports; i++)
        fs_det_top_port(a, ports[i].port, ports[i].proto, ports[i].v);
}

struct close_pass {
    struct exfil *x;
    struct fs_an_ctx *c;
    const struct fs_an_window *w;
};

/* Adds a pair's one-way bytes of the closing window to its host, listing
 * the host for the burst check. */
static void count_pair(void *arg, const void *key)
{
    const struct close_pass *pass = arg;
    struct exfil *x = pass->x;
    uint64_t win_ms = pass->w->start_ms;
    const struct pair_key *k = key;
    struct expair *p = fs_dtab_get(x->pairs, k);
    const struct win_bytes *v = p ? win_get(p->win, win_ms) : NULL;
    struct exhost *h;
    uint32_t users;

    /* Listed twice when evicted and back within the window: count once. */
    if (!v || p->counted_win_ms == win_ms || !one_way(&x->cfg, (double)v->out, (double)v->in))
        return;
    if ((h = fs_dtab_get(x->hosts, &k->host)) == NULL)
        return;
    if (h->burst_win_ms != win_ms) {
        h->burst_win_ms = win_ms;
        h->burst_bytes = 0;
        if (fs_dtouch_add(x->burst_hosts, win_ms, &k->host) < 0)
            return;
    }
    h->burst_bytes += (uint64_t)((double)v->out * prevalence(x, &k->peer, &users));
    p->counted_win_ms = win_ms;
}

static void check_burst(struct exfil *x, struct fs_an_ctx *c, const struct fs_an_window *w,
                        const fs_ip *host, struct exhost *h)
{
    uint64_t ext = h->burst_win_ms == w->start_ms ? h->burst_bytes : 0;
    struct fs_baseline_view b;
    struct fs_anomaly a;

    if (!w->warm || (double)ext < x->cfg.burst_min_bytes || ext == 0)
        return;
    if (h->burst_alerted_ms && w->end_ms - h->burst_alerted_ms < x->cfg.realert_ms)
        return;
    if (fs_an_baseline(c, host, FS_M_BYTES_OUT, w, &b) < 0)
        return;
    memset(&a, 0, sizeof(a));
    double score = fs_an_score(c, &b, (double)ext, &a);

    if (score < x->cfg.burst_min_score)
        return;
    a.ts_ms = w->start_ms;
    a.end_ms = w->end_ms;
    a.host = *host;
    a.cls = FS_AC_EXFILTRATION;
    snprintf(a.metric, sizeof(a.metric), "bytes_out_external");
    add_evidence(x, host, &a, w->start_ms);
    if (a.npeers > 0 && a.top_peers[0].value * 2 > ext)
        a.peer = a.top_peers[0].addr; /* one peer took most of it */
    fs_anomaly_extra(&a, "bytes_out_total", b.observed);
    fs_anomaly_extra(&a, "external_share", b.observed > 0 ? (double)ext / b.observed : 1.0);
    fs_anomaly_extra(&a, "peers", a.npeers);
    h->burst_alerted_ms = w->end_ms;
    fs_an_emit(c, &a);
}

/* What the host usually sends to its busiest peer over a drip span. */
struct usual {
    struct fs_stat_summary recent;
    double mean, std;
    uint64_t samples;
};

static void usual_of(const struct exhost *h, struct usual *u)
{
    fs_qs_summarize(&h->peer_max_recent, &u->recent);
    u->mean = fs_stat_mean(&h->peer_max_all);
    u->std = fs_stat_std(&h->peer_max_all);
    u->samples = h->peer_max_all.n;
}

/* The drip threshold: the floor, `drip_ratio` times the usual (upper
 * quartile of recent hours) and median + z robust standard deviations. The
 * long-run mean is left out: the hours in which a drip builds up are in it
 * before the drip is steady enough to be reported. */
static double drip_threshold(const struct exfil_cfg *g, const struct usual *u)
{
    double t = g->drip_ratio * u->recent.q3;
    double tz = u->recent.median + g->drip_z * MAD_TO_STD * u->recent.mad;

    if (t < tz)
        t = tz;
    return t > g->drip_min_bytes ? t : g->drip_min_bytes;
}

/* The drip span of one pair: its total, largest hour and active hours. */
struct span {
    uint64_t end_hour, total, max_hour, back;
    unsigned active;
};

static bool recently_alerted(const struct exfil_cfg *g, const struct expair *p, uint64_t now)
{
    return p->drip_alerted_ms && now - p->drip_alerted_ms < g->realert_ms;
}

/* Returns true when the pair was reported. */
static bool check_drip(struct exfil *x, struct fs_an_ctx *c, const struct fs_an_window *w,
                       const struct pair_key *k, struct expair *p, const struct exhost *h,
                       const struct span *s)
{
    const struct exfil_cfg *g = &x->cfg;
    uint64_t total = s->total;
    struct usual u;

    if (!w->warm || recently_alerted(g, p, w->end_ms))
        return false;
    if ((double)s->active < g->drip_active_share * g->drip_hours ||
        (double)s->max_hour > g->drip_max_hour_share * (double)total ||
        !one_way(g, (double)total, (double)s->back))
        return false;
    usual_of(h, &u);
    if (u.samples < g->drip_min_samples)
        return false;
    double threshold = drip_threshold(g, &u);
    uint32_t users;

    if ((double)total * prevalence(x, &k->peer, &users) < threshold)
        return false;
    struct fs_anomaly a;
    double ratio = (double)total / threshold;

    memset(&a, 0, sizeof(a));
    a.ts_ms = (s->end_hour - g->drip_hours) * HOUR_MS;
    a.end_ms = s->end_hour * HOUR_MS;
    a.host = k->host;
    a.peer = k->peer;
    a.cls = FS_AC_EXFILTRATION;
    a.score = fmin(100.0, 50.0 + 50.0 * log10(ratio));
    a.severity = fs_severity_from_score(a.score);
    a.z = u.std > 0 ? ((double)total - u.mean) / u.std : 0;
    snprintf(a.metric, sizeof(a.metric), "bytes_out_peer_drip");
    a.observed = (double)total;
    a.expected = u.recent.median;
    a.std = u.std;
    a.q1 = u.recent.q1;
    a.q3 = u.recent.q3;
    a.samples = (uint32_t)(u.samples > UINT32_MAX ? UINT32_MAX : u.samples);
    fs_det_top_peer(&a, &k->peer, total);
    fs_det_top_port(&a, p->port, p->proto, total);
    fs_anomaly_extra(&a, "drip_hours", g->drip_hours);
    fs_anomaly_extra(&a, "active_hours", s->active);
    fs_anomaly_extra(&a, "max_hour_share", (double)s->max_hour / (double)total);
    fs_anomaly_extra(&a, "threshold", threshold);
    fs_anomaly_extra(&a, "usual_peer_max", u.recent.q3);
    fs_anomaly_extra(&a, "bytes_per_hour", (double)total / g->drip_hours);
    fs_anomaly_extra(&a, "peer_hosts", users);
    p->drip_alerted_ms = w->end_ms;
    fs_an_emit(c, &a);
    return true;
}

/* Fills the drip span of `p` that ends with hour `end_hour` (exclusive).
 * An hour is active when it holds at least a tenth of an even share. */
static void span_of(const struct exfil_cfg *g, const struct expair *p, uint64_t end_hour,
                    struct span *s)
{
    uint64_t hb[EXFIL_HOURS];

    memset(s, 0, sizeof(*s));
    s->end_hour = end_hour;
    for (unsigned i = 0; i < g->drip_hours; i++) {
        hb[i] = hours_get(p, end_hour - 1 - i);
        s->back += hours_in(p, end_hour - 1 - i);
        s->total += hb[i];
        if (hb[i] > s->max_hour)
            s->max_hour = hb[i];
    }
    for (unsigned i = 0; i < g->drip_hours && s->total; i++)
        if (hb[i] * 10 * g->drip_hours >= s->total)
            s->active++;
}

/* Queues the hour's sample and learns the one `drip_hours` old. */
static void learn_hour(const struct exfil_cfg *g, struct exhost *h)
{
    if (h->npending == EXFIL_HOURS || h->npending >= g->drip_hours) {
        fs_qs_add(&h->peer_max_recent, (double)h->pending[0]);
        fs_stat_add(&h->peer_max_all, (double)h->pending[0]);
        memmove(h->pending, h->pending + 1, (h->npending - 1u) * sizeof(h->pending[0]));
        h->npending--;
    }
    h->pending[h->npending++] = h->cur_max;
}

/* An hour has ended: check every pair's drip span, then give each host its
 * hourly sample, the largest per-peer total. Pairs reported recently stay
 * out of the sample, so an ongoing exfiltration does not become normal. */
static void close_hour(struct exfil *x, struct fs_an_ctx *c, const struct fs_an_window *w,
                       uint64_t end_hour)
{
    const struct exfil_cfg *g = &x->cfg;
    size_t it = 0;
    const void *key;
    struct expair *p;
    struct exhost *h;

    while ((h = fs_dtab_next(x->hosts, &it, NULL)))
        h->cur_max = 0;
    it = 0;
    while ((p = fs_dtab_next(x->pairs, &it, &key))) {
        const struct pair_key *k = key;
        struct span s;

        if (p->newest_hour + EXFIL_HOURS < end_hour) {
            fs_det_prev_unref(x->prev, &k->host, &k->peer);
            fs_dtab_del(x->pairs, key); /* silent for the whole ring */
            continue;
        }
        span_of(g, p, end_hour, &s);
        if (s.total == 0 || (h = fs_dtab_get(x->hosts, &k->host)) == NULL)
            continue;
        if (check_drip(x, c, w, k, p, h, &s))
            h->npending = 0;
        if (!recently_alerted(g, p, w->end_ms) && s.total > h->cur_max)
            h->cur_max = s.total;
    }
    it = 0;
    while ((h = fs_dtab_next(x->hosts, &it, NULL)))
        learn_hour(g, h);
}

static void burst_host(void *arg, const void *key)
{
    const struct close_pass *pass = arg;
    struct exhost *h = fs_dtab_get(pass->x->hosts, key);

    if (h)
        check_burst(pass->x, pass->c, pass->w, key, h);
}

static void exfil_close(void *st, struct fs_an_ctx *c, const struct fs_an_window *w)
{
    struct exfil *x = st;
    struct close_pass pass = { x, c, w };

    fs_dtouch_take(x->touched, w->start_ms, count_pair, &pass);
    fs_dtouch_take(x->burst_hosts, w->start_ms, burst_host, &pass);
    /* Windows without flows are never closed, so an hour boundary may be
     * passed by any window: close every hour since the last one, up to a
     * day of them after a long silence (the sketch keeps 30 samples). */
    uint64_t done = w->end_ms / HOUR_MS;

    if (done <= x->hour_done)
        return;
    uint64_t from = x->hour_done && done - x->hour_done <= 24 ? x->hour_done + 1 : done;

    for (uint64_t hour = from; hour <= done; hour++)
        close_hour(x, c, w, hour);
    x->hour_done = done;
}

#define HOST_SNAP_BYTES (17 + 8 + 1 + EXFIL_HOURS * 8 + 128 + 64)
#define PAIR_SNAP_BYTES (2 * 17 + 8 + EXFIL_HOURS * 12 + 2 * 24 + 8 + 8 + 2 + 1)

static void put_win(struct fs_buf_w *w, const struct win_bytes v[2])
{
    for (unsigned i = 0; i < 2; i++) {
        fs_buf_put_u64(w, v[i].win_ms);
        fs_buf_put_u64(w, v[i].out);
        fs_buf_put_u64(w, v[i].in);
    }
}

static void get_win(struct fs_buf_r *r, struct win_bytes v[2])
{
    for (unsigned i = 0; i < 2; i++) {
        v[i].win_ms = fs_buf_get_u64(r);
        v[i].out = fs_buf_get_u64(r);
        v[i].in = fs_buf_get_u64(r);
    }
}

static int exfil_save(void *st, FILE *fp)
{
    struct exfil *x = st;
    struct fs_buf_w w = { .cap = 16 + (size_t)fs_dtab_count(x->hosts) * HOST_SNAP_BYTES +
                                 (size_t)fs_dtab_count(x->pairs) * PAIR_SNAP_BYTES };
    size_t it = 0;
    const void *key;
    const struct exhost *h;
    const struct expair *p;

    if ((w.p = malloc(w.cap)) == NULL)
        return -1;
    fs_buf_put_u32(&w, fs_dtab_count(x->hosts));
    while ((h = fs_dtab_next(x->hosts, &it, &key))) {
        fs_det_put_ip(&w, key);
        fs_buf_put_u64(&w, h->burst_alerted_ms);
        fs_buf_put_u8(&w, h->npending);
        for (unsigned i = 0; i < h->npending; i++)
            fs_buf_put_u64(&w, h->pending[i]);
        fs_qs_save(&h->peer_max_recent, &w);
        fs_stat_save(&h->peer_max_all, &w);
    }
    uint32_t npairs = 0;

    for (it = 0; (p = fs_dtab_next(x->pairs, &it, NULL));)
        npairs += p->allowed != ALLOW_YES;
    fs_buf_put_u32(&w, npairs);
    for (it = 0; (p = fs_dtab_next(x->pairs, &it, &key));) {
        const struct pair_key *k = key;

        if (p->allowed == ALLOW_YES)
            continue;
        fs_det_put_ip(&w, &k->host);
        fs_det_put_ip(&w, &k->peer);
        fs_buf_put_u64(&w, p->newest_hour);
        for (unsigned i = 0; i < EXFIL_HOURS; i++) {
            fs_buf_put_u64(&w, p->hour_bytes[i]);
            fs_buf_put_u32(&w, p->hour_in_kib[i]);
        }
        put_win(&w, p->win);
        fs_buf_put_u64(&w, p->drip_alerted_ms);
        fs_buf_put_u64(&w, p->port_weight);
        fs_buf_put_u16(&w, p->port);
        fs_buf_put_u8(&w, p->proto);
    }
    return fs_det_save_blob(fp, SNAP_MAGIC, SNAP_VERSION, &w);
}

static int load_host(struct exfil *x, struct fs_buf_r *r)
{
    fs_ip ip;
    struct exhost h;
    bool created;

    memset(&h, 0, sizeof(h));
    if (fs_det_get_ip(r, &ip) < 0)
        return -1;
    h.burst_alerted_ms = fs_buf_get_u64(r);
    h.npending = fs_buf_get_u8(r);
    if (h.npending > EXFIL_HOURS)
        return -1;
    for (unsigned i = 0; i < h.npending; i++)
        h.pending[i] = fs_buf_get_u64(r);
    if (r->err || fs_qs_load(&h.peer_max_recent, r) < 0 || fs_stat_load(&h.peer_max_all, r) < 0)
        return -1;
    struct exhost *dst = fs_dtab_put(x->hosts, &ip, &created);

    if (!dst || !created)
        return -1;
    *dst = h;
    return 0;
}

static int load_pair(struct exfil *x, struct fs_buf_r *r)
{
    struct pair_key k;
    struct expair p;
    bool created;

    memset(&p, 0, sizeof(p));
    if (fs_det_get_ip(r, &k.host) < 0 || fs_det_get_ip(r, &k.peer) < 0)
        return -1;
    p.newest_hour = fs_buf_get_u64(r);
    for (unsigned i = 0; i < EXFIL_HOURS; i++) {
        p.hour_bytes[i] = fs_buf_get_u64(r);
        p.hour_in_kib[i] = fs_buf_get_u32(r);
    }
    get_win(r, p.win);
    p.drip_alerted_ms = fs_buf_get_u64(r);
    p.port_weight = fs_buf_get_u64(r);
    p.port = fs_buf_get_u16(r);
    p.proto = fs_buf_get_u8(r);
    if (r->err)
        return -1;
    struct expair *dst = fs_dtab_put(x->pairs, &k, &created);

    if (!dst || !created)
        return -1;
    *dst = p;
    fs_det_prev_ref(x->prev, &k.host, &k.peer);
    return 0;
}

static int exfil_load(void *st, FILE *fp)
{
    struct exfil *x = st;
    size_t max = 8 + (size_t)x->cfg.max_hosts * HOST_SNAP_BYTES +
                 (size_t)x->cfg.max_pairs * PAIR_SNAP_BYTES;
    uint8_t *data;
    struct fs_buf_r r;

    if (fs_det_load_blob(fp, DET, SNAP_MAGIC, SNAP_VERSION, max, &data, &r) < 0)
        return -1;
    uint32_t n = fs_buf_get_u32(&r);
    int rc = n <= x->cfg.max_hosts ? 0 : -1;

    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = load_host(x, &r);
    n = rc == 0 ? fs_buf_get_u32(&r) : 0;
    if (rc == 0 && n > x->cfg.max_pairs)
        rc = -1;
    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = load_pair(x, &r);
    if (rc == 0)
        rc = fs_buf_done(&r);
    free(data);
    if (rc < 0) {
        fs_log(FS_LOG_WARNING, "%s: snapshot state refused: bad host or pair record", DET);
        fs_dtab_clear(x->hosts);
        fs_dtab_clear(x->pairs);
        fs_det_prev_clear(x->prev);
    }
    return rc;
}

static void exfil_counters(void *st, void (*fn)(void *arg, const char *name, uint64_t v),
                           void *arg)
{
    struct exfil *x = st;

    fn(arg, "hosts", fs_dtab_count(x->hosts));
    fn(arg, "hosts_evicted", fs_dtab_evictions(x->hosts));
    fn(arg, "pairs", fs_dtab_count(x->pairs));
    fn(arg, "pairs_evicted", fs_dtab_evictions(x->pairs));
    fn(arg, "late", x->late);
    fn(arg, "bytes", sizeof(*x) + fs_dtab_bytes(x->hosts) + fs_dtab_bytes(x->pairs) +
                         fs_det_prev_bytes(x->prev) + fs_dtouch_bytes(x->touched) +
                         fs_dtouch_bytes(x->burst_hosts));
}

const struct fs_detector fs_det_exfil = {
    .name = DET,
    .cls = FS_AC_EXFILTRATION,
    .create = exfil_create,
    .flow = exfil_flow,
    .window_close = exfil_close,
    .save = exfil_save,
    .load = exfil_load,
    .counters = exfil_counters,
    .destroy = exfil_destroy,
};
