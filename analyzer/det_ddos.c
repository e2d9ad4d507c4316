/*
 * det_ddos.c - ddos: a volumetric attack on an internal host - far more
 * packets or bytes than it usually receives, from far more sources than it
 * usually talks to, at once.
 *
 * Per internal host and window the detector sums what arrives from outside
 * (packets, bytes, flows; from inside too with ddos.internal_sources = 1).
 * At the window close a host is a candidate when that passes an absolute
 * minimum (`min_packets` or `min_bytes`) and the host had at least
 * `min_sources` distinct peers in the window: a volumetric attack is many
 * machines. Candidates are then scored against the core's seasonal
 * baselines of the host (fs_an_score): the volume (packets, or bytes in,
 * whichever is further out) and the distinct peers must both score at
 * least `min_score`; the finding's score is the mean of the two. So an
 * all-hands video stream, where each receiver gets a lot from one platform,
 * never qualifies (one source), nor does a busy server at its busy hour (in
 * its baseline), nor a nightly backup (inside sources). A host whose
 * baseline has fewer than `cold_samples` windows is held to `cold_factor`
 * times the absolute minimums instead, scored 50 there and 40 more per
 * tenfold excess.
 *
 * Evidence: the top sources and the top service ports (the lower port of
 * each flow: 443 for a SYN flood, 123 or 53 for reflection) of the victim's
 * inbound packets in the window, from Space-Saving summaries of the
 * window's inbound traffic keyed by victim, fed once a host has passed a
 * tenth of a minimum (the flows before that are left out of the evidence).
 *
 * No learned state of its own: the baselines are the core's and snapshotted
 * with it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detutil.h"
#include "dtab.h"
#include "sketch.h"

#define DET "ddos"
#define NWIN 2
#define EVIDENCE_FROM 10 /* a tenth of a minimum */

struct ddos_cfg {
    uint32_t max_hosts, top_sources, top_ports, cold_samples;
    double min_packets, min_bytes, min_sources, min_score, cold_factor;
    uint64_t realert_ms;
    bool internal_sources;
};

struct dwin {
    uint64_t win_ms;
    uint64_t packets, bytes, flows;
};

struct dhost {
    struct dwin win[NWIN];
    uint64_t alerted_ms;
};

/* Inbound traffic of every host in one open window, for the evidence. */
struct dslot {
    uint64_t win_ms;
    struct fs_topk *sources;     /* key: source address, id = victim hash */
    struct fs_topk *ports;       /* key: proto and port, id = victim hash */
};

struct ddos {
    struct ddos_cfg cfg;
    struct fs_dtab *hosts;
    struct dslot slot[NWIN];
    uint64_t late, candidates, cold;
};

static void read_cfg(struct fs_an_ctx *c, struct ddos_cfg *g)
{
    g->max_hosts = (uint32_t)fs_det_param(c, DET, "max_hosts", 16384, 16, 16777216);
    g->top_sources = (uint32_t)fs_det_param(c, DET, "top_sources", 1024, 16, 65535);
    g->top_ports = (uint32_t)fs_det_param(c, DET, "top_ports", 256, 16, 65535);
    g->min_packets = fs_det_param(c, DET, "min_packets", 100000, 1, 1e15);
    g->min_bytes = fs_det_param(c, DET, "min_bytes", 500e6, 1, 1e18);
    g->min_sources = fs_det_param(c, DET, "min_sources", 50, 2, 1e9);
    g->min_score = fs_det_param(c, DET, "min_score", 50, 0, 100);
    g->cold_factor = fs_det_param(c, DET, "cold_factor", 5, 1, 1e6);
    g->cold_samples = (uint32_t)fs_det_param(c, DET, "cold_samples", 8, 1, 1e6);
    g->realert_ms = (uint64_t)(fs_det_param(c, DET, "realert", 1800, 0, 30 * 86400) * 1000.0);
    g->internal_sources = fs_det_param(c, DET, "internal_sources", 0, 0, 1) != 0;
}

static void ddos_destroy(void *st)
{
    struct ddos *d = st;

    if (!d)
        return;
    fs_dtab_free(d->hosts);
    for (unsigned i = 0; i < NWIN; i++) {
        fs_topk_free(d->slot[i].sources);
        fs_topk_free(d->slot[i].ports);
    }
    free(d);
}

static void *ddos_create(struct fs_an_ctx *c)
{
    struct ddos *d = calloc(1, sizeof(*d));

    if (!d)
        return NULL;
    bool ok;

    read_cfg(c, &d->cfg);
    d->hosts = fs_dtab_new(sizeof(fs_ip), sizeof(struct dhost), d->cfg.max_hosts);
    ok = d->hosts != NULL;
    for (unsigned i = 0; i < NWIN; i++) {
        d->slot[i].sources = fs_topk_new(d->cfg.top_sources);
        d->slot[i].ports = fs_topk_new(d->cfg.top_ports);
        ok = ok && d->slot[i].sources && d->slot[i].ports;
    }
    if (!ok) {
        ddos_destroy(d);
        return NULL;
    }
    return d;
}

/* The evidence slot of window `win_ms`, taking over the older one. */
static struct dslot *slot_of(struct ddos *d, uint64_t win_ms)
{
    struct dslot *s = &d->slot[0];

    for (unsigned i = 0; i < NWIN; i++) {
        if (d->slot[i].win_ms == win_ms)
            return &d->slot[i];
        if (d->slot[i].win_ms < s->win_ms)
            s = &d->slot[i];
    }
    if (s->win_ms > win_ms)
        return NULL;
    s->win_ms = win_ms;
    fs_topk_clear(s->sources);
    fs_topk_clear(s->ports);
    return s;
}

static struct dwin *win_of(struct dhost *h, uint64_t win_ms)
{
    struct dwin *w = &h->win[0];

    for (unsigned i = 0; i < NWIN; i++) {
        if (h->win[i].win_ms == win_ms)
            return &h->win[i];
        if (h->win[i].win_ms < w->win_ms)
            w = &h->win[i];
    }
    if (w->win_ms > win_ms)
        return NULL;
    memset(w, 0, sizeof(*w));
    w->win_ms = win_ms;
    return w;
}

static uint16_t service_port(const struct fs_flow *f)
{
    if (f->proto != 6 && f->proto != 17 && f->proto != 132)
        return 0;
    return f->src_port && f->src_port < f->dst_port ? f->src_port : f->dst_port;
}

static void ddos_flow(void *st, struct fs_an_ctx *c, const struct fs_an_flow *af)
{
    struct ddos *d = st;
    const struct fs_flow *f = af->f;
    fs_ip victim;

    (void)c;
    if (!af->dst_internal || (af->src_internal && !d->cfg.internal_sources))
        return;
    fs_det_ip(&victim, &f->dst_addr);
    struct dhost *h = fs_dtab_put(d->hosts, &victim, NULL);
    struct dwin *w;
    struct dslot *s;

    if (!h)
        return;
    if ((w = win_of(h, af->window_ms)) == NULL || (s = slot_of(d, af->window_ms)) == NULL) {
        d->late++;
        return;
    }
    uint64_t pk = fs_det_packets(f), id = fs_hash_ip(&victim);

    w->packets += pk;
    w->bytes += fs_det_bytes(f);
    w->flows++;
    /* Evidence only for hosts on their way to the minimums: the summaries
     * then hold the few candidates, not every host's replies. */
    if ((double)w->packets * EVIDENCE_FROM < d->cfg.min_packets &&
        (double)w->bytes * EVIDENCE_FROM < d->cfg.min_bytes)
        return;
    struct fs_topk_key ks = fs_topk_key_ip(&f->src_addr);
    struct fs_topk_key kp = fs_topk_key_id(id);

    ks.id = id;
    kp.proto = f->proto;
    kp.port = service_port(f);
    fs_topk_add(s->sources, &ks, pk);
    fs_topk_add(s->ports, &kp, pk);
}

/* The victim's entries of a window's summaries as evidence. */
static void add_evidence(const struct dslot *s, uint64_t id, struct fs_anomaly *a)
{
    struct fs_topk_entry e[64];
    size_t n = fs_topk_list(s->sources, e, sizeof(e) / sizeof(e[0]));

    for (size_t i = 0; i < n; i++)
        if (e[i].key.id == id)
            fs_det_top_peer(a, &e[i].key.ip, e[i].count);
    n = fs_topk_list(s->ports, e, sizeof(e) / sizeof(e[0]));
    for (size_t i = 0; i < n; i++)
        if (e[i].key.id == id)
            fs_det_top_port(a, e[i].key.port, e[i].key.proto, e[i].count);
}

/* A metric of the host against the core's baseline: its score, and the
 * anomaly evidence filled in `a`. */
static double scored(struct fs_an_ctx *c, const fs_ip *host, enum fs_metric m,
                     const struct fs_an_window *w, struct fs_baseline_view *b,
                     struct fs_anomaly *a)
{
    memset(a, 0, sizeof(*a));
    if (fs_an_baseline(c, host, m, w, b) < 0) {
        memset(b, 0, sizeof(*b));
        return 0;
    }
    return fs_an_score(c, b, b->observed, a);
}

static void judge(struct ddos *d, struct fs_an_ctx *c, const struct fs_an_window *w,
                  const fs_ip *host, struct dhost *h, const struct dwin *in)
{
    const struct ddos_cfg *g = &d->cfg;
    struct fs_baseline_view bpk, bby, bpe;
    struct fs_anomaly apk, aby, ape;

    if ((double)in->packets < g->min_packets && (double)in->bytes < g->min_bytes)
        return;
    if (fs_an_baseline(c, host, FS_M_PEERS, w, &bpe) < 0 || bpe.observed < g->min_sources)
        return;
    d->candidates++;
    double spk = scored(c, host, FS_M_PACKETS, w, &bpk, &apk);
    double sby = scored(c, host, FS_M_BYTES_IN, w, &bby, &aby);
    double spe = scored(c, host, FS_M_PEERS, w, &bpe, &ape);
    struct fs_anomaly *a = spk >= sby ? &apk : &aby;
    bool cold = bpk.samples < g->cold_samples;
    double score;

    if (cold) {
        /* No baseline to speak of: only a flood far past the minimums. */
        double f = g->cold_factor;
        double excess = fmax((double)in->packets / (f * g->min_packets),
                             (double)in->bytes / (f * g->min_bytes));

        if (excess < 1 || bpe.observed < f * g->min_sources)
            return;
        d->cold++;
        score = fmin(100.0, 50.0 + 40.0 * log10(excess));
    } else {
        double vol = spk >= sby ? spk : sby;

        if (vol < g->min_score || spe < g->min_score)
            return;
        score = (vol + spe) / 2;
    }
    if (h->alerted_ms && w->end_ms - h->alerted_ms < g->realert_ms)
        return;
    a->ts_ms = w->start_ms;
    a->end_ms = w->end_ms;
    a->host = *host;
    a->cls = FS_AC_DDOS;
    a->score = score;
    snprintf(a->metric, sizeof(a->metric), "%s", spk >= sby ? "packets" : "bytes_in");
    fs_anomaly_extra(a, "packets_in", (double)in->packets);
    fs_anomaly_extra(a, "bytes_in", (double)in->bytes);
    fs_anomaly_extra(a, "flows_in", (double)in->flows);
    fs_anomaly_extra(a, "peers", bpe.observed);
    fs_anomaly_extra(a, "peers_expected", bpe.mean);
    fs_anomaly_extra(a, "z_peers", ape.z);
    fs_anomaly_extra(a, "cold", cold);
    for (unsigned i = 0; i < NWIN; i++)
        if (d->slot[i].win_ms == w->start_ms)
            add_evidence(&d->slot[i], fs_hash_ip(host), a);
    h->alerted_ms = w->end_ms;
    fs_an_emit(c, a);
}

static void ddos_close(void *st, struct fs_an_ctx *c, const struct fs_an_window *w)
{
    struct ddos *d = st;
    size_t it = 0;
    const void *key;
    struct dhost *h;

    while ((h = fs_dtab_next(d->hosts, &it, &key))) {
        const struct dwin *in = NULL;
        bool recent = false;

        for (unsigned i = 0; i < NWIN; i++) {
            if (h->win[i].win_ms == w->start_ms)
                in = &h->win[i];
            recent |= h->win[i].win_ms >= w->start_ms;
        }
        if (!recent && !(h->alerted_ms && w->end_ms - h->alerted_ms < d->cfg.realert_ms)) {
            fs_dtab_del(d->hosts, key); /* nothing open for it: keep the table small */
            continue;
        }
        if (in && w->warm)
            judge(d, c, w, key, h, in);
    }
}

static void ddos_counters(void *st, void (*fn)(void *arg, const char *name, uint64_t v),
                          void *arg)
{
    struct ddos *d = st;
    size_t bytes = sizeof(*d) + fs_dtab_bytes(d->hosts);

    for (unsigned i = 0; i < NWIN; i++)
        bytes += fs_topk_bytes(d->slot[i].sources) + fs_topk_bytes(d->slot[i].ports);
    fn(arg, "hosts", fs_dtab_count(d->hosts));
    fn(arg, "hosts_evicted", fs_dtab_evictions(d->hosts));
    fn(arg, "sources_evicted", fs_topk_evictions(d->slot[0].sources) +
                                   fs_topk_evictions(d->slot[1].sources));
    fn(arg, "candidates", d->candidates);
    fn(arg, "cold", d->cold);
    fn(arg, "late", d->late);
    fn(arg, "bytes", bytes);
}

const struct fs_detector fs_det_ddos = {
    .name = DET,
    .cls = FS_AC_DDOS,
    .create = ddos_create,
    .flow = ddos_flow,
    .window_close = ddos_close,
    .save = NULL,
    .load = NULL,
    .counters = ddos_counters,
    .destroy = ddos_destroy,
};
