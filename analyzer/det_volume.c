/*
 * det_volume.c - volume_spike: a host moving far more bytes, packets or
 * flows in a window than it usually does at that hour of that kind of day,
 * and far more than it ever does.
 *
 * Uses the core's baselines only (no state of its own). At each window
 * close after the warm-up, every host active in the window is checked on
 * bytes out, bytes in, packets and flows. A metric is a candidate when
 *
 *   - fs_an_score() against the seasonal slot reaches min_score (z and
 *     robust z far out, beyond the IQR fence),
 *   - the excess over the expected value is worth anyone's time (min_bytes,
 *     min_packets, min_flows: a host that usually sends 2 kB and now sends
 *     40 kB is many deviations out and of no interest),
 *   - and the value is at least peak_ratio times the host's own peak (its
 *     largest window, decaying over two weeks): workstation traffic is
 *     bursty, and a download as big as last Tuesday's is not news however
 *     quiet this hour usually is. Hosts with less than min_history of
 *     history are left alone.
 *
 * The strongest metric of a host makes its candidate finding. Then the
 * crowd rules, for transfers that are the network's habit, not a host's
 * anomaly (an all-hands stream, an update server, the company's cloud
 * storage, the file server):
 *
 *   - in the window: `crowd` or more hosts spiking on the same metric with
 *     the same top peer, or `crowd_window` or more hosts spiking at all;
 *   - over the last day: a top peer with which `crowd` or more distinct
 *     hosts made a big transfer (z > 3 and the minimum excess, whether it
 *     made a finding or not). This learning runs in the warm-up too and is
 *     kept in the snapshot.
 *
 * Such hosts are counted as `crowd`, not reported. Distinct peers and
 * ports are left to the scan and sweep detectors, which say more about
 * them than "more than usual".
 */
#include <stdlib.h>
#include <string.h>

#include "detector.h"
#include "detutil.h"
#include "sketch.h"

#define DET "volume_spike"
#define NMETRICS 4
#define MAX_CANDIDATES 256
#define SNAP_MAGIC 0x564f4c31u /* "VOL1" */
#define SNAP_VERSION 1u
/* Peers of big transfers, direct-mapped: a collision replaces the older
 * entry (counted), and the hosts of each are remembered up to CROWD_MAX. */
#define PEERS 4096
#define CROWD_MAX 16
#define PEER_MEMORY_MS (24 * 3600 * 1000ull)

struct peer_ent {
    fs_ip addr;                  /* af 0: empty */
    uint64_t last_ms;
    uint32_t host[CROWD_MAX];    /* host hashes */
    uint8_t n;
};

static const enum fs_metric metrics[NMETRICS] = {
    FS_M_BYTES_OUT, FS_M_BYTES_IN, FS_M_PACKETS, FS_M_FLOWS,
};

struct candidate {
    struct fs_anomaly a;
    int metric;
};

struct volume {
    double min_score;
    double min_excess[NMETRICS];
    double peak_ratio;
    double min_history_s;
    unsigned crowd, crowd_window;
    struct candidate *cand;
    unsigned ncand, overflow;
    struct peer_ent *peers;
    uint64_t scored, below_excess, below_peak, young, crowd_hosts, peers_replaced;
};

struct volume_pass {
    struct volume *v;
    struct fs_an_ctx *c;
    const struct fs_an_window *w;
};

static void *volume_create(struct fs_an_ctx *c)
{
    struct volume *v = calloc(1, sizeof(*v));

    if (v == NULL || (v->cand = calloc(MAX_CANDIDATES, sizeof(*v->cand))) == NULL ||
        (v->peers = calloc(PEERS, sizeof(*v->peers))) == NULL) {
        if (v)
            free(v->cand);
        free(v);
        return NULL;
    }
    v->min_score = fs_an_param(c, DET, "min_score", 40);
    v->min_excess[0] = fs_an_param(c, DET, "min_bytes", 1e6);
    v->min_excess[1] = v->min_excess[0];
    v->min_excess[2] = fs_an_param(c, DET, "min_packets", 1000);
    v->min_excess[3] = fs_an_param(c, DET, "min_flows", 100);
    v->peak_ratio = fs_an_param(c, DET, "peak_ratio", 2);
    v->min_history_s = fs_an_param(c, DET, "min_history", 86400);
    v->crowd = (unsigned)fs_det_param(c, DET, "crowd", 5, 2, CROWD_MAX);
    v->crowd_window = (unsigned)fs_an_param(c, DET, "crowd_window", 25);
    return v;
}

static void volume_destroy(void *state)
{
    struct volume *v = state;
    free(v->cand);
    free(v->peers);
    free(v);
}

static bool ip_eq(const fs_ip *a, const fs_ip *b)
{
    return a->af == b->af && memcmp(a->b, b->b, a->af == 4 ? 4 : 16) == 0;
}

/* The entry of `peer`; created (replacing what was there) when `create`. */
static struct peer_ent *peer_get(struct volume *v, const fs_ip *peer, uint64_t now, bool create)
{
    struct peer_ent *e = &v->peers[fs_hash_ip(peer) % PEERS];

    if (e->addr.af && ip_eq(&e->addr, peer)) {
        if (now < e->last_ms + PEER_MEMORY_MS)
            return e;
        e->n = 0; /* forgotten after a day */
        return create ? e : NULL;
    }
    if (!create)
        return NULL;
    if (e->addr.af && now < e->last_ms + PEER_MEMORY_MS)
        v->peers_replaced++;
    memset(e, 0, sizeof(*e));
    fs_det_ip(&e->addr, peer);
    return e;
}

/* A big transfer of `host` with `peer`: one more host for that peer. */
static void peer_note(struct volume *v, const fs_ip *peer, const fs_ip *host, uint64_t now)
{
    struct peer_ent *e = peer_get(v, peer, now, true);
    uint32_t h = (uint32_t)fs_hash_ip(host);

    e->last_ms = now;
    for (unsigned i = 0; i < e->n; i++)
        if (e->host[i] == h)
            return;
    if (e->n < CROWD_MAX)
        e->host[e->n++] = h;
}

static bool peer_popular(struct volume *v, const fs_ip *peer, uint64_t now)
{
    const struct peer_ent *e = peer_get(v, peer, now, false);
    return e != NULL && e->n >= v->crowd;
}

static void volume_host(void *arg, const fs_ip *host)
{
    struct volume_pass *p = arg;
    struct volume *v = p->v;
    struct fs_anomaly best, a;
    double best_score = 0, z[NMETRICS] = { 0 };
    int best_m = -1;
    double window_s = (double)(p->w->end_ms - p->w->start_ms) / 1000.0;

    bool big = false;

    if (fs_an_allowed(p->c, DET, host))
        return;
    for (int i = 0; i < NMETRICS; i++) {
        struct fs_baseline_view b;
        if (fs_an_baseline_moments(p->c, host, metrics[i], p->w, &b) != 0)
            return;
        z[i] = (b.observed - b.mean) / b.std;
        /* Nothing scores within 3 sd (score.c): skip the quantiles then. */
        if (z[i] <= 3)
            continue;
        if (b.observed - b.mean < v->min_excess[i]) {
            v->below_excess++;
            continue;
        }
        big = true;
        if (!p->w->warm)
            continue;
        if (b.history * window_s < v->min_history_s) {
            v->young++;
            continue;
        }
        if (b.observed < v->peak_ratio * b.peak) {
            v->below_peak++;
            continue;
        }
        fs_an_baseline(p->c, host, metrics[i], p->w, &b);
        memset(&a, 0, sizeof(a));
        double s = fs_an_score(p->c, &b, b.observed, &a);
        v->scored++;
        if (s < v->min_score || s <= best_score)
            continue;
        fs_anomaly_extra(&a, "peak", b.peak);
        best_score = s;
        best_m = i;
        best = a;
    }
    if (big) {
        memset(&a, 0, sizeof(a));
        fs_an_evidence_top(p->c, host, p->w, &a);
        if (a.npeers)
            peer_note(v, &a.top_peers[0].addr, host, p->w->end_ms);
    }
    if (best_m < 0)
        return;
    if (v->ncand == MAX_CANDIDATES) {
        v->overflow++;
        return;
    }
    best.ts_ms = p->w->start_ms;
    best.end_ms = p->w->end_ms;
    best.host = *host;
    best.cls = FS_AC_VOLUME_SPIKE;
    snprintf(best.metric, sizeof(best.metric), "%s", fs_metric_name(metrics[best_m]));
    for (int i = 0; i < NMETRICS; i++) {
        char key[24];
        if (i == best_m)
            continue;
        snprintf(key, sizeof(key), "z_%s", fs_metric_name(metrics[i]));
        fs_anomaly_extra(&best, key, z[i]);
    }
    fs_an_evidence_top(p->c, host, p->w, &best);
    v->cand[v->ncand].a = best;
    v->cand[v->ncand].metric = best_m;
    v->ncand++;
}

static bool same_crowd(const struct candidate *x, const struct candidate *y)
{
    const fs_ip *a = &x->a.top_peers[0].addr, *b = &y->a.top_peers[0].addr;
    return x->metric == y->metric && x->a.npeers && y->a.npeers && a->af == b->af &&
           memcmp(a->b, b->b, a->af == 4 ? 4 : 16) == 0;
}

static void volume_close(void *state, struct fs_an_ctx *c, const struct fs_an_window *w)
{
    struct volume *v = state;
    struct volume_pass p = { v, c, w };

    v->ncand = v->overflow = 0;
    fs_an_each_host(c, w, volume_host, &p);
    if (v->ncand + v->overflow >= v->crowd_window) {
        v->crowd_hosts += v->ncand + v->overflow;
        return;
    }
    for (unsigned i = 0; i < v->ncand; i++) {
        const struct fs_anomaly *a = &v->cand[i].a;
        unsigned same = 0;
        for (unsigned j = 0; j < v->ncand; j++)
            same += same_crowd(&v->cand[i], &v->cand[j]);
        if (same >= v->crowd || (a->npeers && peer_popular(v, &a->top_peers[0].addr, w->end_ms))) {
            v->crowd_hosts++;
            continue;
        }
        fs_anomaly_extra(&v->cand[i].a, "hosts_spiking", v->ncand);
        fs_an_emit(c, &v->cand[i].a);
    }
}

/* Snapshot: the peers of big transfers still remembered. */
static int volume_save(void *state, FILE *fp)
{
    struct volume *v = state;
    struct fs_buf_w w = { .cap = 8 + (size_t)PEERS * (17 + 8 + 1 + 4 * CROWD_MAX) };
    uint32_t n = 0;

    if ((w.p = malloc(w.cap)) == NULL)
        return -1;
    for (unsigned i = 0; i < PEERS; i++)
        n += v->peers[i].addr.af != 0;
    fs_buf_put_u32(&w, n);
    for (unsigned i = 0; i < PEERS; i++) {
        const struct peer_ent *e = &v->peers[i];
        if (!e->addr.af)
            continue;
        fs_det_put_ip(&w, &e->addr);
        fs_buf_put_u64(&w, e->last_ms);
        fs_buf_put_u8(&w, e->n);
        for (unsigned k = 0; k < e->n; k++)
            fs_buf_put_u32(&w, e->host[k]);
    }
    return fs_det_save_blob(fp, SNAP_MAGIC, SNAP_VERSION, &w);
}

static int volume_load(void *state, FILE *fp)
{
    struct volume *v = state;
    struct fs_buf_r r;
    uint8_t *data = NULL;
    int rc = -1;

    if (fs_det_load_blob(fp, DET, SNAP_MAGIC, SNAP_VERSION,
                         8 + (size_t)PEERS * (17 + 8 + 1 + 4 * CROWD_MAX), &data, &r) != 0)
        return -1;
    uint32_t n = fs_buf_get_u32(&r);
    for (uint32_t i = 0; i < n && i < PEERS && !r.err; i++) {
        struct peer_ent e;
        memset(&e, 0, sizeof(e));
        if (fs_det_get_ip(&r, &e.addr) != 0)
            goto out;
        e.last_ms = fs_buf_get_u64(&r);
        e.n = fs_buf_get_u8(&r);
        if (e.n > CROWD_MAX)
            goto out;
        for (unsigned k = 0; k < e.n; k++)
            e.host[k] = fs_buf_get_u32(&r);
        v->peers[fs_hash_ip(&e.addr) % PEERS] = e;
    }
    rc = fs_buf_done(&r);
out:
    free(data);
    return rc;
}

static void volume_counters(void *state, void (*fn)(void *arg, const char *name, uint64_t v),
                            void *arg)
{
    struct volume *v = state;
    fn(arg, "scored", v->scored);
    fn(arg, "below_min_excess", v->below_excess);
    fn(arg, "below_peak", v->below_peak);
    fn(arg, "young_hosts", v->young);
    fn(arg, "crowd", v->crowd_hosts);
    fn(arg, "peers_replaced", v->peers_replaced);
}

const struct fs_detector fs_det_volume = {
    .name = DET,
    .cls = FS_AC_VOLUME_SPIKE,
    .create = volume_create,
    .window_close = volume_close,
    .save = volume_save,
    .load = volume_load,
    .counters = volume_counters,
    .destroy = volume_destroy,
};
