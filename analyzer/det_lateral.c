/*
 * det_lateral.c - lateral_movement: an internal host that suddenly reaches
 * many other internal hosts on administration ports (SMB, RPC, RDP, SSH,
 * WinRM), the way an intruder spreads with stolen credentials.
 *
 * Attempts. A TCP connection from an internal host's client port (1024 and
 * up) to an administration port of another internal host, answered or not:
 * a spreading intruder tries hosts that are off or firewalled as well. Later
 * records of one long session are not new attempts. The ports are 22, 135,
 * 139, 445, 3389, 5985 and 5986; `lateral_movement.port_N = 1` adds port N,
 * `= 0` removes it.
 *
 * Counting. Per source host, the distinct internal peers attempted, per
 * window and over a rolling horizon (`horizon`, one hour by default; see
 * span.h). At each window close a host that made attempts in it is judged
 * on both counts against what is usual for it (usual.h): the largest counts
 * it reached on each of the last days. A management server or domain
 * controller that reaches hundreds of desktops every day has that as its
 * usual level and stays quiet at `ratio` times it; a desktop whose day peak
 * is its one file server is reported at `window_floor` peers in a window or
 * `slow_floor` in the horizon. Hosts with fewer than `min_samples` days of
 * history are held to the floors times `cold_factor`. The allowlist
 * (lateral_movement.allow) is for hosts whose rounds are irregular.
 *
 * Reaching means being answered: a finding also needs at least
 * `min_answered` of the attempts it counts (in the window, or in the
 * horizon) to have completed a handshake. An intruder with working
 * credentials gets answers; a blind sweep that only collects resets and
 * silence is host_sweep's to report. A host is reported again within
 * `realert` only when the finding is more severe. The evidence lists the
 * latest peers and ports, the attempts and the share answered.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detutil.h"
#include "dtab.h"
#include "log.h"
#include "sketch.h"
#include "span.h"
#include "usual.h"

#define DET "lateral_movement"
#define RECENT 5
#define DAY_MS 86400000ull
#define SNAP_MAGIC 0x46534c4du /* "FSLM" */
#define SNAP_VERSION 1u

static const uint16_t default_ports[] = { 22, 135, 139, 445, 3389, 5985, 5986 };

enum { ALLOW_UNKNOWN = 0, ALLOW_NO, ALLOW_YES };

struct lat_cfg {
    uint32_t max_hosts;
    uint64_t horizon_ms, realert_ms;
    struct fs_usual_cfg fast, slow;
    double min_answered;
    uint8_t ports[65536 / 8];
};

/* Attempts in a window, or in an epoch of the horizon (see span.h). */
struct lat_count {
    uint64_t at;                  /* window start, or epoch index */
    uint32_t attempts, answered;
};

struct lhost {
    struct fs_span peers;
    struct fs_usual_peaks usual;
    struct fs_usual_alerted alerted;
    struct lat_count win[2], epoch[2];
    uint8_t allowed;
    uint8_t nrecent;
    fs_ip recent_peer[RECENT];    /* newest first */
    uint16_t recent_port[RECENT];
};

struct lateral {
    struct lat_cfg cfg;
    struct fs_dtab *hosts;
    struct fs_hll scratch;
    uint64_t day;
    uint64_t attempts, late, allowlisted;
};

static bool port_on(const struct lat_cfg *g, uint16_t port)
{
    return (g->ports[port >> 3] >> (port & 7)) & 1u;
}

static void read_cfg(struct fs_an_ctx *c, struct lat_cfg *g)
{
    static const struct fs_usual_cfg fast = { 10, 3, 6, 1.5, 3 }, slow = { 20, 3, 6, 1.5, 3 };
    uint8_t def[65536 / 8];
    char key[16];

    g->max_hosts = (uint32_t)fs_det_param(c, DET, "max_hosts", 16384, 16, 16777216);
    double horizon = fs_det_param(c, DET, "horizon", 3600, 600, 86400);

    g->horizon_ms = (uint64_t)(horizon * 1000.0);
    g->realert_ms = (uint64_t)(fs_det_param(c, DET, "realert", 21600, 0, 30 * 86400) * 1000.0);
    g->min_answered = fs_det_param(c, DET, "min_answered", 0.2, 0, 1);
    fs_usual_read_cfg(c, DET, "window_", &fast, &g->fast);
    fs_usual_read_cfg(c, DET, "slow_", &slow, &g->slow);
    memset(def, 0, sizeof(def));
    for (size_t i = 0; i < sizeof(default_ports) / sizeof(default_ports[0]); i++)
        def[default_ports[i] >> 3] |= (uint8_t)(1u << (default_ports[i] & 7));
    /* Reading every port's key is what marks a `--set ...port_N` as used. */
    memset(g->ports, 0, sizeof(g->ports));
    for (unsigned p = 1; p < 65536; p++) {
        snprintf(key, sizeof(key), "port_%u", p);
        if (fs_an_param(c, DET, key, (def[p >> 3] >> (p & 7)) & 1u) != 0)
            g->ports[p >> 3] |= (uint8_t)(1u << (p & 7));
    }
}

static void host_evicted(void *arg, const void *key, void *val)
{
    struct lhost *h = val;

    (void)arg;
    (void)key;
    fs_span_free(&h->peers);
}

static void lateral_clear(struct lateral *l)
{
    size_t it = 0;
    const void *key;
    void *v;

    while ((v = fs_dtab_next(l->hosts, &it, &key)))
        host_evicted(NULL, key, v);
    fs_dtab_clear(l->hosts);
}

static void lateral_destroy(void *st)
{
    struct lateral *l = st;

    if (!l)
        return;
    if (l->hosts)
        lateral_clear(l);
    fs_dtab_free(l->hosts);
    fs_hll_free(&l->scratch);
    free(l);
}

static void *lateral_create(struct fs_an_ctx *c)
{
    struct lateral *l = calloc(1, sizeof(*l));

    if (!l)
        return NULL;
    read_cfg(c, &l->cfg);
    fs_hll_init(&l->scratch, FS_SPAN_HLL_P);
    l->hosts = fs_dtab_new(sizeof(fs_ip), sizeof(struct lhost), l->cfg.max_hosts);
    if (!l->hosts) {
        lateral_destroy(l);
        return NULL;
    }
    fs_dtab_on_evict(l->hosts, host_evicted, NULL);
    return l;
}

/* The host's entry, created with its counters ready; NULL on out-of-memory. */
static struct lhost *host_get(struct lateral *l, const fs_ip *ip)
{
    bool created;
    struct lhost *h = fs_dtab_put(l->hosts, ip, &created);

    if (h && created)
        fs_span_init(&h->peers, l->cfg.horizon_ms / 2);
    return h;
}

/* The counter of `at` among two, taking over the older one; NULL when `at`
 * is older than both. */
static struct lat_count *count_of(struct lat_count v[2], uint64_t at)
{
    if (v[0].at == at)
        return &v[0];
    if (v[1].at == at)
        return &v[1];
    struct lat_count *old = v[0].at <= v[1].at ? &v[0] : &v[1];

    if (old->at > at)
        return NULL;
    memset(old, 0, sizeof(*old));
    old->at = at;
    return old;
}

/* Attempts and answered ones of window `win_ms`, or of the horizon at epoch
 * `epoch` (that epoch and the one before, as span.h counts peers). */
static void counts_in(const struct lhost *h, bool horizon, uint64_t win_ms, uint64_t epoch,
                      uint32_t *attempts, uint32_t *answered)
{
    const struct lat_count *v = horizon ? h->epoch : h->win;

    *attempts = *answered = 0;
    for (unsigned i = 0; i < 2; i++) {
        if (horizon ? v[i].at + 1 < epoch : v[i].at != win_ms)
            continue;
        *attempts += v[i].attempts;
        *answered += v[i].answered;
    }
}

static void lateral_flow(void *st, struct fs_an_ctx *c, const struct fs_an_flow *af)
{
    struct lateral *l = st;
    const struct fs_flow *f = af->f;
    enum fs_conn_kind kind;
    fs_ip src, dst;

    if (af->dir != FS_DIR_INTERNAL || f->proto != 6 || !FS_FLOW_HAS(f, FS_F_DST_PORT) ||
        !port_on(&l->cfg, f->dst_port) || f->src_port < 1024)
        return;
    if ((kind = fs_det_conn_kind(f)) == FS_CONN_CONTINUED)
        return;
    fs_det_ip(&src, &f->src_addr);
    fs_det_ip(&dst, &f->dst_addr);
    if (memcmp(&src, &dst, sizeof(src)) == 0)
        return;
    struct lhost *h = host_get(l, &src);

    if (!h)
        return;
    if (h->allowed == ALLOW_UNKNOWN)
        h->allowed = fs_an_allowed(c, DET, &src) ? ALLOW_YES : ALLOW_NO;
    if (h->allowed == ALLOW_YES) {
        l->allowlisted++;
        return;
    }
    uint64_t epoch_ms = l->cfg.horizon_ms / 2;
    struct lat_count *wn = count_of(h->win, af->window_ms);
    struct lat_count *ep = count_of(h->epoch, af->ts_ms / epoch_ms);

    if (!wn || !ep || !fs_span_add(&h->peers, af->window_ms, af->ts_ms, fs_hash_ip(&dst))) {
        l->late++;
        return;
    }
    l->attempts++;
    wn->attempts++;
    ep->attempts++;
    wn->answered += kind != FS_CONN_FAILED;
    ep->answered += kind != FS_CONN_FAILED;
    if (h->nrecent && memcmp(&h->recent_peer[0], &dst, sizeof(dst)) == 0 &&
        h->recent_port[0] == f->dst_port)
        return;
    memmove(&h->recent_peer[1], &h->recent_peer[0], (RECENT - 1) * sizeof(h->recent_peer[0]));
    memmove(&h->recent_port[1], &h->recent_port[0], (RECENT - 1) * sizeof(h->recent_port[0]));
    h->recent_peer[0] = dst;
    h->recent_port[0] = f->dst_port;
    if (h->nrecent < RECENT)
        h->nrecent++;
}

static void report(struct lateral *l, struct fs_an_ctx *c, const struct fs_an_window *w,
                   const fs_ip *host, struct lhost *h, const struct fs_usual_verdict *v,
                   bool slow, uint64_t n_fast, uint64_t n_slow, uint32_t attempts,
                   uint32_t answered)
{
    struct fs_anomaly a;
    uint64_t back = slow ? l->cfg.horizon_ms : w->end_ms - w->start_ms;

    memset(&a, 0, sizeof(a));
    fs_usual_evidence(v, slow ? "admin_peers_horizon" : "admin_peers", &a);
    a.ts_ms = w->end_ms > back ? w->end_ms - back : 0;
    a.end_ms = w->end_ms;
    a.host = *host;
    a.cls = FS_AC_LATERAL_MOVEMENT;
    for (unsigned i = 0; i < h->nrecent; i++) {
        unsigned k = 0, same = 0;

        fs_det_top_peer(&a, &h->recent_peer[i], 1);
        while (k < i && h->recent_port[k] != h->recent_port[i])
            k++;
        if (k < i)
            continue; /* the port was counted at its newest use */
        for (k = i; k < h->nrecent; k++)
            same += h->recent_port[k] == h->recent_port[i];
        fs_det_top_port(&a, h->recent_port[i], 6, same);
    }
    fs_anomaly_extra(&a, "peers_window", (double)n_fast);
    fs_anomaly_extra(&a, "peers_horizon", (double)n_slow);
    fs_anomaly_extra(&a, "horizon_s", (double)l->cfg.horizon_ms / 1000.0);
    fs_anomaly_extra(&a, "attempts", attempts);
    fs_anomaly_extra(&a, "answered_share", attempts ? (double)answered / attempts : 0);
    fs_usual_alerted_set(&h->alerted, w->end_ms, v->score);
    fs_an_emit(c, &a);
}

static void lateral_close(void *st, struct fs_an_ctx *c, const struct fs_an_window *w)
{
    struct lateral *l = st;
    uint64_t day = w->start_ms / DAY_MS;
    size_t it = 0;
    const void *key;
    struct lhost *h;

    if (day != l->day) {
        for (size_t i = 0; l->day && (h = fs_dtab_next(l->hosts, &i, NULL));)
            fs_usual_peaks_learn(&h->usual);
        l->day = day;
    }
    while ((h = fs_dtab_next(l->hosts, &it, &key))) {
        uint64_t n_fast = fs_span_window(&h->peers, w->start_ms), n_slow;
        uint32_t attempts, answered;
        struct fs_usual_verdict v;
        bool slow;

        if (n_fast == 0)
            continue;
        n_slow = fs_span_horizon(&h->peers, w->start_ms, &l->scratch);
        double score = fs_usual_peaks_judge(&h->usual, &l->cfg.fast, &l->cfg.slow,
                                            (double)n_fast, (double)n_slow, w->warm, &v, &slow);

        counts_in(h, slow, w->start_ms, w->start_ms / (l->cfg.horizon_ms / 2), &attempts,
                  &answered);
        if (score <= 0 || !w->warm || (double)answered < l->cfg.min_answered * attempts ||
            fs_usual_repeat(&h->alerted, w->end_ms, l->cfg.realert_ms, score))
            continue;
        report(l, c, w, key, h, &v, slow, n_fast, n_slow, attempts, answered);
    }
}

/* Snapshot: every host's usual day peaks. */
#define HOST_SNAP_BYTES (17 + FS_USUAL_PEAKS_SNAP_MAX)

static int lateral_save(void *st, FILE *fp)
{
    struct lateral *l = st;
    struct fs_buf_w w = { .cap = 16 + (size_t)fs_dtab_count(l->hosts) * HOST_SNAP_BYTES };
    size_t it = 0;
    const void *key;
    const struct lhost *h;

    if ((w.p = malloc(w.cap)) == NULL)
        return -1;
    fs_buf_put_u64(&w, l->day);
    fs_buf_put_u32(&w, fs_dtab_count(l->hosts));
    while ((h = fs_dtab_next(l->hosts, &it, &key))) {
        fs_det_put_ip(&w, key);
        fs_usual_peaks_save(&h->usual, &w);
    }
    return fs_det_save_blob(fp, SNAP_MAGIC, SNAP_VERSION, &w);
}

static int load_host(struct lateral *l, struct fs_buf_r *r)
{
    struct fs_usual_peaks u;
    fs_ip ip;
    bool created;

    if (fs_det_get_ip(r, &ip) < 0 || fs_usual_peaks_load(&u, r) < 0)
        return -1;
    if (fs_dtab_get(l->hosts, &ip))
        return -1;
    struct lhost *h = fs_dtab_put(l->hosts, &ip, &created);

    if (!h)
        return -1;
    fs_span_init(&h->peers, l->cfg.horizon_ms / 2);
    h->usual = u;
    return 0;
}

static int lateral_load(void *st, FILE *fp)
{
    struct lateral *l = st;
    uint8_t *data;
    struct fs_buf_r r;

    if (fs_det_load_blob(fp, DET, SNAP_MAGIC, SNAP_VERSION,
                         12 + (size_t)l->cfg.max_hosts * HOST_SNAP_BYTES, &data, &r) < 0)
        return -1;
    uint64_t day = fs_buf_get_u64(&r);
    uint32_t n = fs_buf_get_u32(&r);
    int rc = !r.err && n <= l->cfg.max_hosts ? 0 : -1;

    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = load_host(l, &r);
    if (rc == 0)
        rc = fs_buf_done(&r);
    free(data);
    if (rc < 0) {
        fs_log(FS_LOG_WARNING, "%s: snapshot state refused: bad host record", DET);
        lateral_clear(l);
        return -1;
    }
    l->day = day;
    return 0;
}

static void lateral_counters(void *st, void (*fn)(void *arg, const char *name, uint64_t v),
                             void *arg)
{
    struct lateral *l = st;
    size_t bytes = sizeof(*l) + fs_dtab_bytes(l->hosts), it = 0;
    const struct lhost *h;

    while ((h = fs_dtab_next(l->hosts, &it, NULL)))
        bytes += fs_span_heap_bytes(&h->peers);
    fn(arg, "hosts", fs_dtab_count(l->hosts));
    fn(arg, "hosts_evicted", fs_dtab_evictions(l->hosts));
    fn(arg, "attempts", l->attempts);
    fn(arg, "allowlisted", l->allowlisted);
    fn(arg, "late", l->late);
    fn(arg, "bytes", bytes);
}

const struct fs_detector fs_det_lateral = {
    .name = DET,
    .cls = FS_AC_LATERAL_MOVEMENT,
    .create = lateral_create,
    .flow = lateral_flow,
    .window_close = lateral_close,
    .save = lateral_save,
    .load = lateral_load,
    .counters = lateral_counters,
    .destroy = lateral_destroy,
};
