/*
 * det_proto.c - protocol_anomaly: a host whose traffic suddenly holds a
 * large share of an IP protocol that is unusual for it - GRE or IP-in-IP
 * tunnels, ESP, an ICMP stream with tunnel-sized packets - judged against
 * its own learned protocol mix and the network's.
 *
 * TCP and UDP are left out: their share swings with what people do (a video
 * call is mostly UDP) and their volumes are volume_spike's. Every other
 * protocol is counted per internal host and window (bytes and packets, both
 * directions), in up to PROTO_SLOTS protocols per host (the slot with the
 * least learned share is reused for a new one; counted as slot_reuse), with
 * A host gets an entry with its first protocol other than TCP and UDP.
 *
 * Learning. The share of a protocol in a host's window is its bytes over
 * the host's bytes in and out that window (the core's count). Per host and
 * protocol the detector keeps an exponentially weighted mean of that share
 * over the windows the host was active in (`memory` windows, a week by
 * default): a protocol the host never used has share 0. The network keeps
 * the same per protocol over all traffic with an internal end.
 *
 * Judging. In a window a protocol stands out when it carries at least
 * `min_bytes` and a share of at least `min_share`, and that share is at
 * least `ratio` times the host's learned share. ICMP and ICMPv6 must also
 * average `icmp_min_packet` bytes per packet: echo requests are 64 to 100
 * bytes, tunnels fill packets. Hosts the core has seen in fewer than
 * `min_windows` windows are not judged: a host the core knows and this
 * detector does not has never used any protocol but TCP and UDP. The score is 50 at the threshold
 * share and 40 more per tenfold; a protocol that is common in the network
 * (learned share at least `network_common`) counts 0.8 of that, being
 * unusual only for this host. A reported window is not learned.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detutil.h"
#include "dtab.h"
#include "log.h"
#include "sketch.h"

#define DET "protocol_anomaly"
#define PROTO_SLOTS 4
#define NWIN 2
#define SNAP_MAGIC 0x46535052u /* "FSPR" */
#define SNAP_VERSION 1u

struct proto_cfg {
    uint32_t max_hosts;
    double min_bytes, min_share, ratio, icmp_min_packet, network_common, decay;
    uint64_t min_windows, realert_ms;
};

struct pcount {
    uint64_t win_ms;
    uint64_t bytes, packets;
};

struct pslot {
    uint8_t proto;            /* 0: free */
    struct pcount win[NWIN];
    double share;             /* learned share (weighted sum, see phost.weight) */
};

struct phost {
    struct pslot s[PROTO_SLOTS];
    double weight;            /* weighted count of the windows learned */
    uint64_t alerted_ms;
};

struct proto {
    struct proto_cfg cfg;
    struct fs_dtab *hosts;
    /* The network: bytes per protocol in the open windows, learned shares. */
    uint64_t net_win[NWIN];
    uint64_t net_bytes[NWIN][256], net_total[NWIN];
    double net_share[256], net_weight;
    uint64_t late, slot_reuse;
};

static void read_cfg(struct fs_an_ctx *c, struct proto_cfg *g)
{
    g->max_hosts = (uint32_t)fs_det_param(c, DET, "max_hosts", 16384, 16, 16777216);
    g->min_bytes = fs_det_param(c, DET, "min_bytes", 1e6, 0, 1e15);
    g->min_share = fs_det_param(c, DET, "min_share", 0.1, 0.001, 1);
    g->ratio = fs_det_param(c, DET, "ratio", 5, 1, 1e6);
    g->icmp_min_packet = fs_det_param(c, DET, "icmp_min_packet", 300, 0, 65535);
    g->network_common = fs_det_param(c, DET, "network_common", 0.01, 0, 1);
    g->decay = 1.0 - 1.0 / fs_det_param(c, DET, "memory", 2016, 2, 1e7);
    g->min_windows = (uint64_t)fs_det_param(c, DET, "min_windows", 8, 1, 1e9);
    g->realert_ms = (uint64_t)(fs_det_param(c, DET, "realert", 3600, 0, 30 * 86400) * 1000.0);
}

static void proto_destroy(void *st)
{
    struct proto *p = st;

    if (!p)
        return;
    fs_dtab_free(p->hosts);
    free(p);
}

static void *proto_create(struct fs_an_ctx *c)
{
    struct proto *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    read_cfg(c, &p->cfg);
    p->hosts = fs_dtab_new(sizeof(fs_ip), sizeof(struct phost), p->cfg.max_hosts);
    if (!p->hosts) {
        proto_destroy(p);
        return NULL;
    }
    return p;
}

/* The counter of window `win_ms` among NWIN, taking over the oldest. */
static struct pcount *count_of(struct pcount *v, uint64_t win_ms)
{
    struct pcount *old = &v[0];

    for (unsigned i = 0; i < NWIN; i++) {
        if (v[i].win_ms == win_ms)
            return &v[i];
        if (v[i].win_ms < old->win_ms)
            old = &v[i];
    }
    if (old->win_ms > win_ms)
        return NULL;
    memset(old, 0, sizeof(*old));
    old->win_ms = win_ms;
    return old;
}

static const struct pcount *count_in(const struct pcount *v, uint64_t win_ms)
{
    for (unsigned i = 0; i < NWIN; i++)
        if (v[i].win_ms == win_ms)
            return &v[i];
    return NULL;
}

/* The host's slot for `proto`, reusing the least learned one not in use in
 * an open window when all are taken; NULL when none can be had. */
static struct pslot *slot_for(struct proto *p, struct phost *h, uint8_t proto, uint64_t win_ms)
{
    struct pslot *free_slot = NULL, *weakest = NULL;

    for (unsigned i = 0; i < PROTO_SLOTS; i++) {
        struct pslot *s = &h->s[i];

        if (s->proto == proto)
            return s;
        if (s->proto == 0 && !free_slot)
            free_slot = s;
        else if (s->proto && s->win[0].win_ms < win_ms && s->win[1].win_ms < win_ms &&
                 (!weakest || s->share < weakest->share))
            weakest = s;
    }
    if (!free_slot && weakest) {
        p->slot_reuse++;
        free_slot = weakest;
    }
    if (free_slot) {
        memset(free_slot, 0, sizeof(*free_slot));
        free_slot->proto = proto;
    }
    return free_slot;
}

static void account(struct proto *p, const fs_ip *addr, const struct fs_an_flow *af,
                    uint64_t bytes, uint64_t packets)
{
    fs_ip ip;
    struct phost *h;
    struct pslot *s;
    struct pcount *n;

    fs_det_ip(&ip, addr);
    if ((h = fs_dtab_put(p->hosts, &ip, NULL)) == NULL ||
        (s = slot_for(p, h, af->f->proto, af->window_ms)) == NULL)
        return;
    if ((n = count_of(s->win, af->window_ms)) == NULL) {
        p->late++;
        return;
    }
    n->bytes += bytes;
    n->packets += packets;
}

static void proto_flow(void *st, struct fs_an_ctx *c, const struct fs_an_flow *af)
{
    struct proto *p = st;
    const struct fs_flow *f = af->f;
    uint64_t bytes = fs_det_bytes(f);

    (void)c;
    if (af->dir == FS_DIR_TRANSIT)
        return;
    unsigned i = p->net_win[0] == af->window_ms ? 0 : p->net_win[1] == af->window_ms ? 1 : 2;

    if (i == 2) {
        i = p->net_win[0] <= p->net_win[1] ? 0 : 1;
        if (p->net_win[i] > af->window_ms)
            return;
        p->net_win[i] = af->window_ms;
        memset(p->net_bytes[i], 0, sizeof(p->net_bytes[i]));
        p->net_total[i] = 0;
    }
    p->net_bytes[i][f->proto] += bytes;
    p->net_total[i] += bytes;
    /* Protocol 0 marks a free slot; as an IP protocol it is an IPv6
     * extension header, never a flow's transport. */
    if (f->proto == 6 || f->proto == 17 || f->proto == 0 || bytes == 0)
        return;
    if (af->src_internal)
        account(p, &f->src_addr, af, bytes, fs_det_packets(f));
    if (af->dst_internal)
        account(p, &f->dst_addr, af, bytes, fs_det_packets(f));
}

static double learned_share(const struct phost *h, const struct pslot *s)
{
    return h->weight > 0 ? s->share / h->weight : 0;
}

/* Scores protocol slot `s` of the window; 0 when it does not stand out. */
static double judge(const struct proto *p, const struct phost *h, const struct pslot *s,
                    const struct pcount *n, double total, double *threshold)
{
    const struct proto_cfg *g = &p->cfg;
    double share = total > 0 ? (double)n->bytes / total : 1.0;
    double thr = g->ratio * learned_share(h, s);
    bool icmp = s->proto == 1 || s->proto == 58;

    if (thr < g->min_share)
        thr = g->min_share;
    *threshold = thr;
    if ((double)n->bytes < g->min_bytes || share < thr)
        return 0;
    if (icmp && (double)n->bytes < g->icmp_min_packet * (double)n->packets)
        return 0;
    double score = fmin(100.0, 50.0 + 40.0 * log10(share / thr));
    double net = p->net_weight > 0 ? p->net_share[s->proto] / p->net_weight : 0;

    return net >= g->network_common ? 0.8 * score : score;
}

static void report(struct proto *p, struct fs_an_ctx *c, const struct fs_an_window *w,
                   const fs_ip *host, struct phost *h, const struct pslot *s,
                   const struct pcount *n, double total, double score, double threshold)
{
    struct fs_anomaly a;
    double share = total > 0 ? (double)n->bytes / total : 1.0;

    memset(&a, 0, sizeof(a));
    a.ts_ms = w->start_ms;
    a.end_ms = w->end_ms;
    a.host = *host;
    a.cls = FS_AC_PROTOCOL_ANOMALY;
    a.score = score;
    snprintf(a.metric, sizeof(a.metric), "protocol_share");
    a.observed = share;
    a.expected = learned_share(h, s);
    a.samples = (uint32_t)fmin(h->weight, UINT32_MAX);
    fs_det_top_port(&a, 0, s->proto, n->bytes);
    fs_anomaly_extra(&a, "proto", s->proto);
    fs_anomaly_extra(&a, "bytes", (double)n->bytes);
    fs_anomaly_extra(&a, "packets", (double)n->packets);
    fs_anomaly_extra(&a, "bytes_per_packet", n->packets ? (double)n->bytes / n->packets : 0);
    fs_anomaly_extra(&a, "host_bytes", total);
    fs_anomaly_extra(&a, "threshold", threshold);
    fs_anomaly_extra(&a, "network_share",
                     p->net_weight > 0 ? p->net_share[s->proto] / p->net_weight : 0);
    h->alerted_ms = w->end_ms;
    fs_an_emit(c, &a);
}

/* The host's traffic in window w, as the core counted it (bytes in and
 * out), and whether the core has seen it in `min` windows at least: a host
 * it knows that this detector has no entry for never used a protocol but
 * TCP and UDP. */
static double host_bytes(struct fs_an_ctx *c, const fs_ip *host, const struct fs_an_window *w,
                         uint64_t min, bool *known)
{
    struct fs_baseline_view out, in;

    *known = false;
    if (fs_an_baseline(c, host, FS_M_BYTES_OUT, w, &out) < 0 ||
        fs_an_baseline(c, host, FS_M_BYTES_IN, w, &in) < 0)
        return 0;
    *known = out.history >= min;
    return out.observed + in.observed;
}

struct close_pass {
    struct proto *p;
    struct fs_an_ctx *c;
    const struct fs_an_window *w;
};

/* One host active in the window being closed: judge its protocols, then
 * learn the window. The core is asked for the host's traffic only when a
 * protocol of it was seen in the window; otherwise each share is 0. */
static void close_host(void *arg, const fs_ip *host)
{
    struct close_pass *cp = arg;
    struct proto *p = cp->p;
    const struct fs_an_window *w = cp->w;
    const struct proto_cfg *g = &p->cfg;
    struct phost *h = fs_dtab_get(p->hosts, host);
    const struct pcount *n[PROTO_SLOTS];
    bool seen = false, known = false, reported = false;
    double total = 0;

    if (!h)
        return;
    for (unsigned i = 0; i < PROTO_SLOTS; i++) {
        n[i] = h->s[i].proto ? count_in(h->s[i].win, w->start_ms) : NULL;
        seen |= n[i] != NULL;
    }
    if (seen)
        total = host_bytes(cp->c, host, w, g->min_windows, &known);
    for (unsigned i = 0; i < PROTO_SLOTS && seen && known && w->warm; i++) {
        double thr, score;

        if (!n[i] || (score = judge(p, h, &h->s[i], n[i], total, &thr)) <= 0)
            continue;
        reported = true;
        if (!h->alerted_ms || w->end_ms - h->alerted_ms >= g->realert_ms)
            report(p, cp->c, w, host, h, &h->s[i], n[i], total, score, thr);
    }
    if (reported)
        return;
    for (unsigned i = 0; i < PROTO_SLOTS; i++) {
        double share = n[i] && total > 0 ? fmin(1.0, (double)n[i]->bytes / total) : 0;

        h->s[i].share = h->s[i].share * g->decay + share;
    }
    h->weight = h->weight * g->decay + 1;
}

static void proto_close(void *st, struct fs_an_ctx *c, const struct fs_an_window *w)
{
    struct proto *p = st;
    struct close_pass cp = { p, c, w };

    fs_an_each_host(c, w, close_host, &cp);
    for (unsigned i = 0; i < NWIN; i++) {
        if (p->net_win[i] != w->start_ms || p->net_total[i] == 0)
            continue;
        for (unsigned k = 0; k < 256; k++)
            p->net_share[k] = p->net_share[k] * p->cfg.decay +
                              (double)p->net_bytes[i][k] / (double)p->net_total[i];
        p->net_weight = p->net_weight * p->cfg.decay + 1;
    }
}

/* Snapshot: learned shares of the hosts and of the network. */
#define HOST_SNAP_BYTES (17 + 8 + PROTO_SLOTS * 9)

static int proto_save(void *st, FILE *fp)
{
    struct proto *p = st;
    struct fs_buf_w w = { .cap = 16 + 257 * 8 + (size_t)fs_dtab_count(p->hosts) * HOST_SNAP_BYTES };
    size_t it = 0;
    const void *key;
    const struct phost *h;

    if ((w.p = malloc(w.cap)) == NULL)
        return -1;
    fs_buf_put_f64(&w, p->net_weight);
    for (unsigned k = 0; k < 256; k++)
        fs_buf_put_f64(&w, p->net_share[k]);
    fs_buf_put_u32(&w, fs_dtab_count(p->hosts));
    while ((h = fs_dtab_next(p->hosts, &it, &key))) {
        fs_det_put_ip(&w, key);
        fs_buf_put_f64(&w, h->weight);
        for (unsigned i = 0; i < PROTO_SLOTS; i++) {
            fs_buf_put_u8(&w, h->s[i].proto);
            fs_buf_put_f64(&w, h->s[i].share);
        }
    }
    return fs_det_save_blob(fp, SNAP_MAGIC, SNAP_VERSION, &w);
}

/* A weighted share sum is in [0, weight]; weights are finite and >= 0. */
static bool share_ok(double share, double weight)
{
    return isfinite(share) && share >= 0 && share <= weight * (1 + 1e-9) + 1e-9;
}

static int load_host(struct proto *p, struct fs_buf_r *r)
{
    struct phost h;
    fs_ip ip;
    bool created;

    memset(&h, 0, sizeof(h));
    if (fs_det_get_ip(r, &ip) < 0)
        return -1;
    h.weight = fs_buf_get_f64(r);
    if (!isfinite(h.weight) || h.weight < 0)
        return -1;
    for (unsigned i = 0; i < PROTO_SLOTS; i++) {
        h.s[i].proto = fs_buf_get_u8(r);
        h.s[i].share = fs_buf_get_f64(r);
        if (!share_ok(h.s[i].share, h.weight) || (h.s[i].proto == 0 && h.s[i].share != 0))
            return -1;
    }
    struct phost *dst = r->err ? NULL : fs_dtab_put(p->hosts, &ip, &created);

    if (!dst || !created)
        return -1;
    *dst = h;
    return 0;
}

static int proto_load(void *st, FILE *fp)
{
    struct proto *p = st;
    uint8_t *data;
    struct fs_buf_r r;
    double net[256];

    if (fs_det_load_blob(fp, DET, SNAP_MAGIC, SNAP_VERSION,
                         12 + 257 * 8 + (size_t)p->cfg.max_hosts * HOST_SNAP_BYTES, &data,
                         &r) < 0)
        return -1;
    double weight = fs_buf_get_f64(&r);
    int rc = isfinite(weight) && weight >= 0 ? 0 : -1;

    for (unsigned k = 0; k < 256; k++) {
        net[k] = fs_buf_get_f64(&r);
        if (!share_ok(net[k], weight))
            rc = -1;
    }
    uint32_t n = fs_buf_get_u32(&r);

    if (r.err || n > p->cfg.max_hosts)
        rc = -1;
    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = load_host(p, &r);
    if (rc == 0)
        rc = fs_buf_done(&r);
    free(data);
    if (rc < 0) {
        fs_log(FS_LOG_WARNING, "%s: snapshot state refused: bad share record", DET);
        fs_dtab_clear(p->hosts);
        return -1;
    }
    p->net_weight = weight;
    memcpy(p->net_share, net, sizeof(net));
    return 0;
}

static void proto_counters(void *st, void (*fn)(void *arg, const char *name, uint64_t v),
                           void *arg)
{
    struct proto *p = st;

    fn(arg, "hosts", fs_dtab_count(p->hosts));
    fn(arg, "hosts_evicted", fs_dtab_evictions(p->hosts));
    fn(arg, "slot_reuse", p->slot_reuse);
    fn(arg, "late", p->late);
    fn(arg, "bytes", sizeof(*p) + fs_dtab_bytes(p->hosts));
}

const struct fs_detector fs_det_proto = {
    .name = DET,
    .cls = FS_AC_PROTOCOL_ANOMALY,
    .create = proto_create,
    .flow = proto_flow,
    .window_close = proto_close,
    .save = proto_save,
    .load = proto_load,
    .counters = proto_counters,
    .destroy = proto_destroy,
};
