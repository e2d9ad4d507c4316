/*
 * det_dns.c - dns_tunnel: an internal host whose DNS traffic is far above its
 * own usual amount, or that talks DNS to a resolver outside the approved set.
 *
 * DNS is UDP or TCP port 53, and 853 (DNS over TLS) unless dns_tunnel.dot=0.
 * The client is the internal end whose peer uses the DNS port; queries and
 * answers both count (each direction is its own record with most exporters),
 * answers only as far as the host asked (ANSWER_MAX), and probes of port 53
 * without payload not at all.
 *
 * Volume: per host and window, bytes, flows and bytes per flow. Tunnels push
 * data through names and TXT/NULL answers, which shows as more bytes, more
 * queries, and larger ones. The detector keeps its own baseline per host, of
 * the windows in which the host used DNS at all: a quantile sketch of the
 * recent ones (median, MAD, quartiles) and a running mean and variance of all
 * of them. A metric is out when it passes its absolute floor, `ratio` times
 * the usual value (the larger of median and long-run mean) and the median
 * plus `z` robust standard deviations; the score grows with the log of how
 * far past that threshold it is. Windows out of line are not learned, once
 * the host has a baseline. Hosts with fewer than `min_samples` windows are
 * held to the floors times `cold_factor` only.
 *
 * Resolvers: with dns_tunnel.resolver_check=1, queries to any server that is
 * not on dns_tunnel.allow (the approved resolvers: the internal ones and
 * their upstreams) are reported once per (host, resolver) per
 * `resolver_realert`. Hosts on the allowlist, such as the internal resolvers
 * themselves, are not reported for volume either.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detutil.h"
#include "dtab.h"
#include "log.h"
#include "sketch.h"

#define DET "dns_tunnel"
#define DNS_SRV 4               /* servers asked, remembered per window */
#define SNAP_MAGIC 0x4653444eu  /* "FSDN" */
#define SNAP_VERSION 1u
#define MAD_TO_STD 1.4826

enum { M_BYTES = 0, M_FLOWS, M_BPF, M_N };
static const char *const metric_names[M_N] = { "dns_bytes", "dns_flows", "dns_bytes_per_flow" };

struct dns_cfg {
    uint32_t max_hosts;
    bool dot, resolver_check;
    unsigned min_samples;
    double floor[M_N], ratio[M_N], z, cold_factor, min_flows_bpf, resolver_score;
    uint64_t realert_ms, resolver_realert_ms;
};

/* The DNS services a window used: 53/UDP, 53/TCP, 853/UDP, 853/TCP. */
#define DNS_SVC 4

/* Answers count only as far as the host asked: at most one answer record
 * per query record and ANSWER_MAX bytes each, so that a flood of answers
 * nobody asked for (DNS reflection aimed at the host) is not its DNS use. */
#define ANSWER_MAX 4096

struct dnswin {
    uint64_t win_ms;
    uint64_t q_bytes, q_flows, a_bytes, a_flows;
    uint32_t svc_flows[DNS_SVC];
    uint8_t judged;     /* listed twice when evicted and back: judge once */
    uint8_t nsrv;
    struct { fs_ip addr; uint8_t unapproved; uint32_t flows; } srv[DNS_SRV];
};

struct dnshost {
    struct dnswin win[2];
    uint64_t alerted_ms;
    struct fs_qs recent[M_N];
    struct fs_stat all[M_N];
};

struct res_key {
    fs_ip host, resolver;
};
_Static_assert(sizeof(struct res_key) == 2 * sizeof(fs_ip), "res_key has padding");

struct dns {
    struct dns_cfg cfg;
    struct fs_dtab *hosts;
    struct fs_dtab *reported;   /* (host, resolver) -> event time of the finding */
    struct fs_dtouch *touched;  /* hosts with DNS, per open window */
    uint64_t late, srv_overflow;
};

static void read_cfg(struct fs_an_ctx *c, struct dns_cfg *g)
{
    g->max_hosts = (uint32_t)fs_det_param(c, DET, "max_hosts", 16384, 16, 16777216);
    g->dot = fs_det_param(c, DET, "dot", 1, 0, 1) != 0;
    g->resolver_check = fs_det_param(c, DET, "resolver_check", 0, 0, 1) != 0;
    g->min_samples = (unsigned)fs_det_param(c, DET, "min_samples", 12, 1, 1e6);
    g->floor[M_BYTES] = fs_det_param(c, DET, "min_bytes", 250e3, 0, 1e15);
    g->floor[M_FLOWS] = fs_det_param(c, DET, "min_flows", 1000, 0, 1e12);
    g->floor[M_BPF] = fs_det_param(c, DET, "min_bytes_per_flow", 300, 0, 1e9);
    g->ratio[M_BYTES] = g->ratio[M_FLOWS] = fs_det_param(c, DET, "ratio", 5, 1, 1e6);
    g->ratio[M_BPF] = fs_det_param(c, DET, "bpf_ratio", 2, 1, 1e6);
    g->z = fs_det_param(c, DET, "z", 6, 0, 1e6);
    g->cold_factor = fs_det_param(c, DET, "cold_factor", 4, 1, 1e6);
    g->min_flows_bpf = fs_det_param(c, DET, "min_flows_bpf", 50, 1, 1e12);
    g->realert_ms = (uint64_t)(fs_det_param(c, DET, "realert", 3600, 0, 30 * 86400) * 1000.0);
    g->resolver_score = fs_det_param(c, DET, "resolver_score", 60, 0, 100);
    g->resolver_realert_ms =
        (uint64_t)(fs_det_param(c, DET, "resolver_realert", 86400, 0, 30 * 86400) * 1000.0);
}

static void dns_destroy(void *st)
{
    struct dns *d = st;

    if (!d)
        return;
    fs_dtab_free(d->hosts);
    fs_dtab_free(d->reported);
    fs_dtouch_free(d->touched);
    free(d);
}

static void *dns_create(struct fs_an_ctx *c)
{
    struct dns *d = calloc(1, sizeof(*d));

    if (!d)
        return NULL;
    read_cfg(c, &d->cfg);
    d->hosts = fs_dtab_new(sizeof(fs_ip), sizeof(struct dnshost), d->cfg.max_hosts);
    d->reported = fs_dtab_new(sizeof(struct res_key), sizeof(uint64_t), d->cfg.max_hosts);
    d->touched = fs_dtouch_new(sizeof(fs_ip));
    if (!d->hosts || !d->reported || !d->touched) {
        dns_destroy(d);
        return NULL;
    }
    return d;
}

static bool dns_port(const struct dns_cfg *g, uint16_t port)
{
    return port == 53 || (g->dot && port == 853);
}

/* The slot of window `win_ms`, taking over the older one for a new window;
 * NULL when the window is older than both. */
static struct dnswin *win_slot(struct dnshost *h, uint64_t win_ms, bool *fresh)
{
    *fresh = false;
    if (h->win[0].win_ms == win_ms)
        return &h->win[0];
    if (h->win[1].win_ms == win_ms)
        return &h->win[1];
    struct dnswin *old = h->win[0].win_ms <= h->win[1].win_ms ? &h->win[0] : &h->win[1];

    if (old->win_ms > win_ms)
        return NULL;
    memset(old, 0, sizeof(*old));
    old->win_ms = win_ms;
    *fresh = true;
    return old;
}

/* Counts a query to `server`; whether it is approved is looked up once per
 * window. Servers past DNS_SRV in a window are counted as not kept. */
static void note_server(struct dns *d, struct fs_an_ctx *c, struct dnswin *s,
                        const fs_ip *server)
{
    for (unsigned i = 0; i < s->nsrv; i++) {
        if (memcmp(&s->srv[i].addr, server, sizeof(*server)) == 0) {
            s->srv[i].flows++;
            return;
        }
    }
    if (s->nsrv == DNS_SRV) {
        d->srv_overflow++;
        return;
    }
    s->srv[s->nsrv].addr = *server;
    s->srv[s->nsrv].unapproved = d->cfg.resolver_check && !fs_an_allowed(c, DET, server);
    s->srv[s->nsrv++].flows = 1;
}

static void dns_flow(void *st, struct fs_an_ctx *c, const struct fs_an_flow *af)
{
    struct dns *d = st;
    const struct fs_flow *f = af->f;
    fs_ip client, server;

    uint16_t port;
    bool query;

    if (f->proto != 17 && f->proto != 6)
        return;
    if (dns_port(&d->cfg, f->dst_port) && af->src_internal) {
        fs_det_ip(&client, &f->src_addr);
        fs_det_ip(&server, &f->dst_addr);
        port = f->dst_port;
        query = true;
    } else if (dns_port(&d->cfg, f->src_port) && af->dst_internal) {
        fs_det_ip(&client, &f->dst_addr);
        fs_det_ip(&server, &f->src_addr);
        port = f->src_port;
        query = false;
    } else {
        return;
    }
    /* A probe of port 53 (a lone SYN, a reset, an empty datagram) is a
     * scanner's business, not a lookup. */
    if (fs_det_payload(f) == 0 || fs_det_conn_kind(f) == FS_CONN_FAILED)
        return;
    struct dnshost *h = fs_dtab_put(d->hosts, &client, NULL);
    struct dnswin *s;
    bool fresh;

    if (!h)
        return;
    if ((s = win_slot(h, af->window_ms, &fresh)) == NULL ||
        (fresh && fs_dtouch_add(d->touched, af->window_ms, &client) < 0)) {
        d->late++;
        return;
    }
    if (query) {
        s->q_bytes += fs_det_bytes(f);
        s->q_flows++;
    } else {
        s->a_bytes += fs_det_bytes(f);
        s->a_flows++;
    }
    s->svc_flows[(port == 853) * 2 + (f->proto == 6)]++;
    /* The servers the host asked: answers alone may be a reflection attack. */
    if (query)
        note_server(d, c, s, &server);
}

static void add_services(struct fs_anomaly *a, const struct dnswin *s)
{
    for (unsigned i = 0; i < DNS_SVC; i++)
        if (s->svc_flows[i])
            fs_det_top_port(a, i >= 2 ? 853 : 53, i & 1 ? 6 : 17, s->svc_flows[i]);
}

/* One metric of one window against the host's baseline. */
struct judged {
    double observed, usual, median, mad, q1, q3, threshold, score;
    uint64_t samples;
};

static void judge(const struct dns_cfg *g, const struct dnshost *h, unsigned m, double x,
                  struct judged *j)
{
    struct fs_stat_summary r;

    memset(j, 0, sizeof(*j));
    j->observed = x;
    j->samples = h->all[m].n;
    if (j->samples < g->min_samples) {
        j->threshold = g->floor[m] * g->cold_factor;
    } else {
        fs_qs_summarize(&h->recent[m], &r);
        double mean = fs_stat_mean(&h->all[m]);

        j->median = r.median;
        j->mad = r.mad;
        j->q1 = r.q1;
        j->q3 = r.q3;
        j->usual = r.median > mean ? r.median : mean;
        double robust = r.median + g->z * MAD_TO_STD * r.mad;

        j->threshold = g->ratio[m] * j->usual;
        if (j->threshold < robust)
            j->threshold = robust;
        if (j->threshold < g->floor[m])
            j->threshold = g->floor[m];
    }
    if (j->threshold > 0 && x >= j->threshold)
        j->score = fmin(100.0, 50.0 + 25.0 * log10(x / j->threshold));
}

static void learn(struct dnshost *h, const double x[M_N])
{
    for (unsigned m = 0; m < M_N; m++) {
        fs_qs_add(&h->recent[m], x[m]);
        fs_stat_add(&h->all[m], x[m]);
    }
}

/* Returns true when the window is out of line (reported now or recently):
 * such windows are not learned once the host has a baseline. */
static bool check_volume(struct dns *d, struct fs_an_ctx *c, const struct fs_an_window *w,
                         const fs_ip *host, struct dnshost *h, const struct dnswin *s,
                         const double x[M_N])
{
    const struct dns_cfg *g = &d->cfg;
    struct judged j[M_N];
    unsigned best = M_N;

    for (unsigned m = 0; m < M_N; m++) {
        judge(g, h, m, x[m], &j[m]);
        if (m == M_BPF && x[M_FLOWS] < g->min_flows_bpf)
            j[m].score = 0;
        if (j[m].score > 0 && (best == M_N || j[m].score > j[best].score))
            best = m;
    }
    if (best == M_N)
        return false;
    if (!w->warm || (h->alerted_ms && w->end_ms - h->alerted_ms < g->realert_ms))
        return true;
    struct fs_anomaly a;
    const struct judged *b = &j[best];

    memset(&a, 0, sizeof(a));
    a.ts_ms = w->start_ms;
    a.end_ms = w->end_ms;
    a.host = *host;
    a.cls = FS_AC_DNS_TUNNEL;
    a.score = b->score;
    a.severity = fs_severity_from_score(b->score);
    a.z = b->mad > 0 ? 0.6745 * (b->observed - b->median) / b->mad : 0;
    snprintf(a.metric, sizeof(a.metric), "%s", metric_names[best]);
    a.observed = b->observed;
    a.expected = b->usual;
    a.std = MAD_TO_STD * b->mad;
    a.q1 = b->q1;
    a.q3 = b->q3;
    a.samples = (uint32_t)(b->samples > UINT32_MAX ? UINT32_MAX : b->samples);
    fs_anomaly_extra(&a, "threshold", b->threshold);
    fs_anomaly_extra(&a, "bytes", x[M_BYTES]);
    fs_anomaly_extra(&a, "flows", x[M_FLOWS]);
    fs_anomaly_extra(&a, "bytes_per_flow", x[M_BPF]);
    fs_anomaly_extra(&a, "usual_bytes", j[M_BYTES].usual);
    fs_anomaly_extra(&a, "usual_flows", j[M_FLOWS].usual);
    fs_anomaly_extra(&a, "usual_bytes_per_flow", j[M_BPF].usual);
    add_services(&a, s);
    for (unsigned i = 0; i < s->nsrv; i++)
        fs_det_top_peer(&a, &s->srv[i].addr, s->srv[i].flows);
    if (a.npeers && a.top_peers[0].value * 2 > s->q_flows)
        a.peer = a.top_peers[0].addr; /* the server that took most queries */
    h->alerted_ms = w->end_ms;
    fs_an_emit(c, &a);
    return true;
}

static void check_resolvers(struct dns *d, struct fs_an_ctx *c, const struct fs_an_window *w,
                            const fs_ip *host, const struct dnswin *s)
{
    struct fs_anomaly a;
    bool fresh = false;
    uint64_t flows = 0;

    memset(&a, 0, sizeof(a));
    for (unsigned i = 0; i < s->nsrv; i++) {
        if (!s->srv[i].unapproved)
            continue;
        struct res_key k = { .host = *host, .resolver = s->srv[i].addr };
        uint64_t *when = fs_dtab_put(d->reported, &k, NULL);

        if (when && *when && w->end_ms - *when < d->cfg.resolver_realert_ms)
            continue;
        if (when)
            *when = w->end_ms;
        fresh = true;
        flows += s->srv[i].flows;
        fs_det_top_peer(&a, &s->srv[i].addr, s->srv[i].flows);
    }
    if (!fresh)
        return;
    a.ts_ms = w->start_ms;
    a.end_ms = w->end_ms;
    a.host = *host;
    a.peer = a.top_peers[0].addr;
    a.cls = FS_AC_DNS_TUNNEL;
    a.score = d->cfg.resolver_score;
    a.severity = fs_severity_from_score(a.score);
    snprintf(a.metric, sizeof(a.metric), "dns_unapproved_resolver");
    a.observed = (double)flows;
    fs_anomaly_extra(&a, "resolvers", a.npeers);
    fs_anomaly_extra(&a, "flows", (double)flows);
    add_services(&a, s);
    fs_an_emit(c, &a);
}

struct close_pass {
    struct dns *d;
    struct fs_an_ctx *c;
    const struct fs_an_window *w;
};

static void judge_host(void *arg, const void *key)
{
    const struct close_pass *pass = arg;
    struct dns *d = pass->d;
    const struct fs_an_window *w = pass->w;
    struct dnshost *h = fs_dtab_get(d->hosts, key);
    struct dnswin *s = !h                             ? NULL
                       : h->win[0].win_ms == w->start_ms ? &h->win[0]
                       : h->win[1].win_ms == w->start_ms ? &h->win[1]
                                                         : NULL;

    if (!s || s->judged)
        return;
    s->judged = 1;
    if (s->q_flows) {
        uint64_t a_flows = s->a_flows < s->q_flows ? s->a_flows : s->q_flows;
        uint64_t a_max = s->q_flows * ANSWER_MAX;
        uint64_t a_bytes = s->a_bytes < a_max ? s->a_bytes : a_max;
        double bytes = (double)(s->q_bytes + a_bytes), flows = (double)(s->q_flows + a_flows);
        double x[M_N] = { bytes, flows, bytes / flows };

        /* Until it has a baseline and the warm-up is over a host learns
         * every window, or a busy one would stay "new" for ever. */
        if (!check_volume(d, pass->c, w, key, h, s, x) || !w->warm ||
            h->all[0].n < d->cfg.min_samples)
            learn(h, x);
    }
    check_resolvers(d, pass->c, w, key, s);
}

static void dns_close(void *st, struct fs_an_ctx *c, const struct fs_an_window *w)
{
    struct dns *d = st;
    struct close_pass pass = { d, c, w };

    fs_dtouch_take(d->touched, w->start_ms, judge_host, &pass);
}

#define HOST_SNAP_BYTES (17 + 8 + M_N * (128 + 64))

static int dns_save(void *st, FILE *fp)
{
    struct dns *d = st;
    struct fs_buf_w w = { .cap = 8 + (size_t)fs_dtab_count(d->hosts) * HOST_SNAP_BYTES };
    size_t it = 0;
    const void *key;
    const struct dnshost *h;

    if ((w.p = malloc(w.cap)) == NULL)
        return -1;
    fs_buf_put_u32(&w, fs_dtab_count(d->hosts));
    while ((h = fs_dtab_next(d->hosts, &it, &key))) {
        fs_det_put_ip(&w, key);
        fs_buf_put_u64(&w, h->alerted_ms);
        for (unsigned m = 0; m < M_N; m++) {
            fs_qs_save(&h->recent[m], &w);
            fs_stat_save(&h->all[m], &w);
        }
    }
    return fs_det_save_blob(fp, SNAP_MAGIC, SNAP_VERSION, &w);
}

static int load_host(struct dns *d, struct fs_buf_r *r)
{
    fs_ip ip;
    struct dnshost h;
    bool created;

    memset(&h, 0, sizeof(h));
    if (fs_det_get_ip(r, &ip) < 0)
        return -1;
    h.alerted_ms = fs_buf_get_u64(r);
    for (unsigned m = 0; m < M_N; m++)
        if (fs_qs_load(&h.recent[m], r) < 0 || fs_stat_load(&h.all[m], r) < 0)
            return -1;
    struct dnshost *dst = fs_dtab_put(d->hosts, &ip, &created);

    if (r->err || !dst || !created)
        return -1;
    *dst = h;
    return 0;
}

static int dns_load(void *st, FILE *fp)
{
    struct dns *d = st;
    uint8_t *data;
    struct fs_buf_r r;

    if (fs_det_load_blob(fp, DET, SNAP_MAGIC, SNAP_VERSION,
                         4 + (size_t)d->cfg.max_hosts * HOST_SNAP_BYTES, &data, &r) < 0)
        return -1;
    uint32_t n = fs_buf_get_u32(&r);
    int rc = n <= d->cfg.max_hosts ? 0 : -1;

    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = load_host(d, &r);
    if (rc == 0)
        rc = fs_buf_done(&r);
    free(data);
    if (rc < 0) {
        fs_log(FS_LOG_WARNING, "%s: snapshot state refused: bad host record", DET);
        fs_dtab_clear(d->hosts);
    }
    return rc;
}

static void dns_counters(void *st, void (*fn)(void *arg, const char *name, uint64_t v), void *arg)
{
    struct dns *d = st;

    fn(arg, "hosts", fs_dtab_count(d->hosts));
    fn(arg, "hosts_evicted", fs_dtab_evictions(d->hosts));
    fn(arg, "resolver_pairs_evicted", fs_dtab_evictions(d->reported));
    fn(arg, "servers_not_kept", d->srv_overflow);
    fn(arg, "late", d->late);
    fn(arg, "bytes", sizeof(*d) + fs_dtab_bytes(d->hosts) + fs_dtab_bytes(d->reported) +
                         fs_dtouch_bytes(d->touched));
}

const struct fs_detector fs_det_dns = {
    .name = DET,
    .cls = FS_AC_DNS_TUNNEL,
    .create = dns_create,
    .flow = dns_flow,
    .window_close = dns_close,
    .save = dns_save,
    .load = dns_load,
    .counters = dns_counters,
    .destroy = dns_destroy,
};
