/*
 * core.c - the analyzer engine: the flow path, event-time windows and their
 * watermark, the detector calls, settings and allowlists, and the way out
 * for findings (suppression, rate limit, the sink).
 *
 * Time. A flow's event time is its end (else its start); it belongs to the
 * window [k*W, (k+1)*W). The watermark is the largest event time seen minus
 * the allowed lateness; a window closes when the watermark reaches its end,
 * and a flow whose window has closed is late: counted, left out. Everything
 * is decided flow by flow, so batching and pacing cannot change the outcome.
 * Windows in which no flow arrived are skipped, not closed as empty: a gap in
 * the input (collector down, files with holes) must not teach the baselines
 * that the network went quiet.
 *
 * Closing window k: detectors' window_close hooks (which score against the
 * baselines as they were before k), then the roll-ups (network profiles,
 * top talkers, summaries), then every tracked host's baselines take window
 * k in, zero for a host that was silent in it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "log.h"

/* Flow times before 2000-01-01 are unset clocks, not history. */
#define MIN_EVENT_MS UINT64_C(946684800000)

/* ------------------------------------------------------------------ */
/* Home networks and allowlists. */

static int home_init(struct fs_an_ctx *c)
{
    const struct fs_an_prefixes *p = &c->cfg->home;

    c->home4 = calloc(p->n ? p->n : 1, sizeof(*c->home4));
    c->home6.v = calloc(p->n ? p->n : 1, sizeof(*c->home6.v));
    if (c->home4 == NULL || c->home6.v == NULL)
        return -1;
    for (size_t i = 0; i < p->n; i++) {
        const struct fs_an_prefix *e = &p->v[i];
        if (e->net.af == 4) {
            uint32_t net = (uint32_t)e->net.b[0] << 24 | (uint32_t)e->net.b[1] << 16 |
                           (uint32_t)e->net.b[2] << 8 | e->net.b[3];
            c->home4[c->nhome4].net = net;
            c->home4[c->nhome4].mask = e->bits ? ~UINT32_C(0) << (32 - e->bits) : 0;
            c->nhome4++;
        } else {
            c->home6.v[c->home6.n++] = *e;
        }
    }
    return 0;
}

bool an_is_internal(const struct fs_an_ctx *c, const fs_ip *ip)
{
    if (ip->af == 4) {
        uint32_t a = (uint32_t)ip->b[0] << 24 | (uint32_t)ip->b[1] << 16 |
                     (uint32_t)ip->b[2] << 8 | ip->b[3];
        for (size_t i = 0; i < c->nhome4; i++)
            if ((a & c->home4[i].mask) == c->home4[i].net)
                return true;
        return false;
    }
    return ip->af == 6 && fs_an_prefixes_match(&c->home6, ip);
}

bool fs_an_internal(struct fs_an_ctx *c, const fs_ip *addr)
{
    return an_is_internal(c, addr);
}

enum fs_dir fs_an_direction(struct fs_an_ctx *c, const struct fs_flow *f)
{
    bool src = FS_FLOW_HAS(f, FS_F_SRC_ADDR) && an_is_internal(c, &f->src_addr);
    bool dst = FS_FLOW_HAS(f, FS_F_DST_ADDR) && an_is_internal(c, &f->dst_addr);

    if (src)
        return dst ? FS_DIR_INTERNAL : FS_DIR_OUTBOUND;
    return dst ? FS_DIR_INBOUND : FS_DIR_TRANSIT;
}

bool fs_an_allowed(struct fs_an_ctx *c, const char *detector, const fs_ip *addr)
{
    if (fs_an_prefixes_match(&c->cfg->allow, addr))
        return true;
    for (size_t i = 0; i < c->nallow; i++)
        if (strcmp(c->allow[i].detector, detector) == 0)
            return fs_an_prefixes_match(&c->allow[i].p, addr);
    return false;
}

/* ------------------------------------------------------------------ */
/* Settings. */

/* Setting keys match with '-' and '_' taken as the same. */
static bool key_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

double fs_an_param(struct fs_an_ctx *c, const char *detector, const char *name, double def)
{
    double v = def;

    for (size_t i = 0; i < c->nset; i++) {
        struct fs_an_setting *s = (struct fs_an_setting *)c->set[i].s;
        if (s->numeric && strcmp(s->detector, detector) == 0 && key_eq(s->key, name)) {
            s->used = true;
            v = s->value; /* the last one given wins */
        }
    }
    return v;
}

static bool detector_known(const char *name)
{
    if (strcmp(name, "baseline") == 0)
        return true;
    for (size_t i = 0; fs_detectors[i] != NULL; i++)
        if (strcmp(fs_detectors[i]->name, name) == 0)
            return true;
    return false;
}

static int settings_init(struct fs_an_ctx *c, char *err, size_t errlen)
{
    const struct fs_an_config *cfg = c->cfg;

    c->set = calloc(cfg->nset ? cfg->nset : 1, sizeof(*c->set));
    c->allow = calloc(cfg->nset ? cfg->nset : 1, sizeof(*c->allow));
    if (c->set == NULL || c->allow == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cfg->nset; i++) {
        struct fs_an_setting *s = &cfg->set[i];
        if (!detector_known(s->detector)) {
            snprintf(err, errlen, "--set %s.%s: there is no detector '%s'", s->detector,
                     s->key, s->detector);
            return -1;
        }
        s->used = false;
        c->set[c->nset++].s = s;
        if (s->numeric)
            continue;
        struct an_allow *al = NULL;
        for (size_t k = 0; k < c->nallow; k++)
            if (strcmp(c->allow[k].detector, s->detector) == 0)
                al = &c->allow[k];
        if (al == NULL) {
            al = &c->allow[c->nallow++];
            al->detector = s->detector;
        }
        if (fs_an_prefixes_add(&al->p, s->text, err, errlen) != 0)
            return -1;
        s->used = true;
    }
    return 0;
}

/* A --set key that nobody read is a typo or a setting of another version;
 * those of a switched-off detector were not read and are fine. */
static int settings_check(struct fs_an_ctx *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->nset; i++) {
        const struct fs_an_setting *s = c->set[i].s;
        bool running = strcmp(s->detector, "baseline") == 0;
        for (size_t k = 0; k < c->ndet && !running; k++)
            running = strcmp(c->det[k]->name, s->detector) == 0;
        if (!s->used && running) {
            snprintf(err, errlen, "--set %s.%s: unknown setting (no %s setting is named '%s')",
                     s->detector, s->key, s->detector, s->key);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Life cycle. */

static int detectors_create(struct fs_an_ctx *c, char *err, size_t errlen)
{
    size_t n = 0;

    while (fs_detectors[n] != NULL)
        n++;
    c->det = calloc(n ? n : 1, sizeof(*c->det));
    c->det_state = calloc(n ? n : 1, sizeof(*c->det_state));
    if (c->det == NULL || c->det_state == NULL)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        const struct fs_detector *d = fs_detectors[i];
        if (fs_an_param(c, d->name, "enabled", 1) == 0)
            continue;
        void *st = d->create ? d->create(c) : NULL;
        if (d->create && st == NULL)
            goto oom;
        c->det[c->ndet] = d;
        c->det_state[c->ndet++] = st;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory creating the detectors");
    return -1;
}

static void detectors_destroy(struct fs_an_ctx *c)
{
    for (size_t i = 0; i < c->ndet; i++)
        if (c->det[i]->destroy)
            c->det[i]->destroy(c->det_state[i]);
    c->ndet = 0;
}

static void baseline_params(struct fs_an_ctx *c)
{
    /* Absolute variance floors: one full-size packet of bytes, a couple of
     * packets, one flow, peer or port. */
    static const double defaults[FS_M_COUNT] = { 1500, 1500, 2, 1, 1, 1 };
    char key[48];

    for (int m = 0; m < FS_M_COUNT; m++) {
        snprintf(key, sizeof(key), "std_floor_%s", fs_metric_name((enum fs_metric)m));
        c->std_abs_floor[m] = fs_an_param(c, "baseline", key, defaults[m]);
    }
}

static void time_reset(struct fs_an_ctx *c)
{
    c->max_ts = 0;
    c->first_ms = 0;
    c->closed_end = 0;
    for (int i = 0; i < AN_NOPEN; i++)
        memset(&c->open[i], 0, sizeof(c->open[i])), c->open[i].win = UINT64_MAX;
    c->closing_win = UINT64_MAX;
    c->tokens = c->cfg->rate_limit;
    c->tokens_ms = 0;
}

struct fs_an_ctx *fs_analyzer_new(const struct fs_an_config *cfg, fs_an_sink_fn sink,
                                  void *arg, char *err, size_t errlen)
{
    struct fs_an_ctx *c = calloc(1, sizeof(*c));
    uint32_t supp = 1024;

    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->cfg = cfg;
    c->sink = sink;
    c->sink_arg = arg;
    c->win_ms = (uint64_t)cfg->window * 1000;
    c->late_ms = (uint64_t)cfg->lateness * 1000;
    time_reset(c);
    while (supp < 4 * cfg->max_hosts && supp < (1u << 20))
        supp *= 2;
    c->supp = calloc(supp, sizeof(*c->supp));
    c->supp_mask = supp - 1;
    if (c->supp == NULL || home_init(c) != 0 || an_hosts_init(&c->hosts, (uint32_t)cfg->max_hosts) != 0 ||
        an_rollup_init(c) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (settings_init(c, err, errlen) != 0)
        goto fail;
    baseline_params(c);
    c->peak_decay = exp(log(0.5) * cfg->window / (14.0 * 86400.0));
    if (detectors_create(c, err, errlen) != 0 || settings_check(c, err, errlen) != 0)
        goto fail;
    return c;
fail:
    fs_analyzer_free(c);
    return NULL;
}

void fs_analyzer_free(struct fs_an_ctx *c)
{
    if (c == NULL)
        return;
    detectors_destroy(c);
    free(c->det);
    free(c->det_state);
    for (size_t i = 0; i < c->nallow; i++)
        fs_an_prefixes_free(&c->allow[i].p);
    free(c->allow);
    free(c->set);
    free(c->home4);
    fs_an_prefixes_free(&c->home6);
    an_hosts_free(&c->hosts);
    an_rollup_free(c);
    free(c->supp);
    free(c->kept);
    free(c);
}

int an_reset(struct fs_an_ctx *c)
{
    detectors_destroy(c);
    for (size_t i = 0; fs_detectors[i] != NULL; i++) {
        const struct fs_detector *d = fs_detectors[i];
        if (fs_an_param(c, d->name, "enabled", 1) == 0)
            continue;
        void *st = d->create ? d->create(c) : NULL;
        if (d->create && st == NULL)
            return -1;
        c->det[c->ndet] = d;
        c->det_state[c->ndet++] = st;
    }
    if (an_hosts_clear(c) != 0)
        return -1;
    an_rollup_reset(c);
    time_reset(c);
    memset(c->supp, 0, (c->supp_mask + 1) * sizeof(*c->supp));
    c->nkept = 0;
    memset(&c->n, 0, sizeof(c->n));
    return 0;
}

void fs_analyzer_on_anomaly(struct fs_an_ctx *c, fs_an_sink_fn fn, void *arg)
{
    c->sink = fn;
    c->sink_arg = arg;
}

void fs_analyzer_on_summary(struct fs_an_ctx *c, fs_an_summary_fn fn, void *arg)
{
    c->summary_fn = fn;
    c->summary_arg = arg;
}

/* ------------------------------------------------------------------ */
/* Windows. */

uint64_t fs_analyzer_max_time(const struct fs_an_ctx *c)
{
    return c->max_ts;
}

uint64_t fs_analyzer_watermark(const struct fs_an_ctx *c)
{
    uint64_t wm = c->max_ts > c->late_ms ? c->max_ts - c->late_ms : 0;

    /* fs_analyzer_finish() closes windows ahead of the watermark: they stay
     * closed. */
    return wm > c->closed_end ? wm : c->closed_end;
}

static struct fs_an_window window_of(const struct fs_an_ctx *c, uint64_t win)
{
    struct fs_an_window w;

    w.start_ms = win * c->win_ms;
    w.end_ms = w.start_ms + c->win_ms;
    w.hour_of_week = an_hour_of_week(c, w.start_ms);
    w.warm = c->first_ms != 0 && w.start_ms >= c->first_ms + (uint64_t)c->cfg->warmup * 1000;
    return w;
}

static void close_window(struct fs_an_ctx *c, struct an_net *slot)
{
    uint64_t win = slot->win;
    struct fs_an_window w = window_of(c, win);

    c->closing_win = win;
    for (size_t i = 0; i < c->ndet; i++)
        if (c->det[i]->window_close)
            c->det[i]->window_close(c->det_state[i], c, &w);
    an_rollup_window(c, slot);
    for (uint32_t i = 0; i < c->hosts.n; i++) {
        struct an_host *h = &c->hosts.h[i];
        if (h->first_ms >= w.end_ms)
            continue; /* first seen in a later window */
        double x[FS_M_COUNT];
        for (int m = 0; m < FS_M_COUNT; m++)
            x[m] = an_host_observed(c, h, (enum fs_metric)m, win);
        an_base_add(c, h->base, w.hour_of_week, win, x);
    }
    c->closing_win = UINT64_MAX;
    slot->win = UINT64_MAX;
    if (w.end_ms > c->closed_end)
        c->closed_end = w.end_ms;
    c->n.windows_closed++;
}

/* Closes, oldest first, every open window the watermark has passed (all of
 * them when `all`). */
static void close_ready(struct fs_an_ctx *c, bool all)
{
    uint64_t wm = fs_analyzer_watermark(c);

    for (;;) {
        struct an_net *oldest = NULL;
        for (int i = 0; i < AN_NOPEN; i++)
            if (c->open[i].win != UINT64_MAX && (oldest == NULL || c->open[i].win < oldest->win))
                oldest = &c->open[i];
        if (oldest == NULL || (!all && (oldest->win + 1) * c->win_ms > wm))
            return;
        close_window(c, oldest);
    }
}

void fs_analyzer_finish(struct fs_an_ctx *c)
{
    close_ready(c, true);
    an_rollup_finish(c);
}

/* ------------------------------------------------------------------ */
/* The flow path. */

uint16_t an_service_port(const struct fs_flow *f)
{
    uint16_t s = FS_FLOW_HAS(f, FS_F_SRC_PORT) ? f->src_port : 0;
    uint16_t d = FS_FLOW_HAS(f, FS_F_DST_PORT) ? f->dst_port : 0;

    if (f->proto != 6 && f->proto != 17 && f->proto != 132 && f->proto != 136)
        return 0;
    if (s == 0 || d == 0)
        return s | d;
    return s < d ? s : d;
}

unsigned an_proto_class(uint8_t proto)
{
    switch (proto) {
    case 6: return 0;
    case 17: return 1;
    case 1: case 58: return 2;
    default: return 3;
    }
}

/* Space-Saving over a host's few service-port slots. */
static void host_port(struct an_host *h, uint8_t proto, uint16_t port, uint64_t bytes)
{
    struct an_port *min = &h->ports[0];

    for (int i = 0; i < AN_HOST_PORTS; i++) {
        struct an_port *p = &h->ports[i];
        if (p->flows != 0 && p->port == port && p->proto == proto) {
            p->flows++;
            p->bytes += bytes;
            return;
        }
        if (p->flows < min->flows)
            min = p;
    }
    min->port = port;
    min->proto = proto;
    min->flows++;
    min->bytes += bytes;
}

/* Space-Saving over a window's few top-peer and top-port slots. */
static void acc_top(struct an_acc *a, const fs_ip *peer, uint8_t proto, uint16_t port,
                    uint64_t bytes)
{
    int min = 0, i;

    if (peer->af) {
        for (i = 0; i < AN_WIN_TOP; i++) {
            if (a->top_peer[i].bytes && a->top_peer[i].addr.af == peer->af &&
                memcmp(a->top_peer[i].addr.b, peer->b, peer->af == 4 ? 4 : 16) == 0)
                break;
            if (a->top_peer[i].bytes < a->top_peer[min].bytes)
                min = i;
        }
        if (i == AN_WIN_TOP) {
            i = min;
            a->top_peer[i].addr = *peer;
        }
        a->top_peer[i].bytes += bytes;
    }
    if (port) {
        min = 0;
        for (i = 0; i < AN_WIN_TOP; i++) {
            if (a->top_port[i].bytes && a->top_port[i].port == port &&
                a->top_port[i].proto == proto)
                break;
            if (a->top_port[i].bytes < a->top_port[min].bytes)
                min = i;
        }
        if (i == AN_WIN_TOP) {
            i = min;
            a->top_port[i].port = port;
            a->top_port[i].proto = proto;
        }
        a->top_port[i].bytes += bytes;
    }
}

/* Accounts one flow to an internal endpoint; `out` when it is the source. */
static void host_flow(struct fs_an_ctx *c, const struct fs_an_flow *af, bool out, uint64_t win)
{
    const struct fs_flow *f = af->f;
    const fs_ip *self = out ? &f->src_addr : &f->dst_addr;
    const fs_ip *peer = out ? &f->dst_addr : &f->src_addr;
    struct an_host *h = an_hosts_get(c, self, win);

    if (h == NULL)
        return;
    if (h->first_ms == 0)
        h->first_ms = af->ts_ms;
    if (af->ts_ms > h->last_ms)
        h->last_ms = af->ts_ms;

    struct an_acc *a = &h->acc[win % AN_NOPEN];
    if (a->win != win) {
        a->win = win;
        memset(a->v, 0, sizeof(a->v));
        memset(a->top_peer, 0, sizeof(a->top_peer));
        memset(a->top_port, 0, sizeof(a->top_port));
        fs_hll_clear(&a->peers);
        fs_hll_clear(&a->ports);
    }
    uint64_t bytes = FS_FLOW_HAS(f, FS_F_BYTES) ? f->bytes : 0;
    uint64_t rbytes = FS_FLOW_HAS(f, FS_F_REV_BYTES) ? f->rev_bytes : 0;
    uint64_t pkts = (FS_FLOW_HAS(f, FS_F_PACKETS) ? f->packets : 0) +
                    (FS_FLOW_HAS(f, FS_F_REV_PACKETS) ? f->rev_packets : 0);
    uint64_t sent = out ? bytes : rbytes, recv = out ? rbytes : bytes;

    a->v[AN_SUM_BYTES_OUT] += sent;
    a->v[AN_SUM_BYTES_IN] += recv;
    a->v[AN_SUM_PACKETS] += pkts;
    a->v[AN_SUM_FLOWS]++;
    h->tot[AN_SUM_BYTES_OUT] += sent;
    h->tot[AN_SUM_BYTES_IN] += recv;
    h->tot[AN_SUM_PACKETS] += pkts;
    h->tot[AN_SUM_FLOWS]++;
    if (peer->af)
        fs_hll_add(&a->peers, fs_hash_ip(peer));
    /* A port the host contacted: it is the source and its own port is the
     * ephemeral one (higher, or in the dynamic range), so a server's replies
     * to clients' ephemeral ports do not count. */
    if (out && FS_FLOW_HAS(f, FS_F_DST_PORT) && FS_FLOW_HAS(f, FS_F_SRC_PORT) &&
        (f->src_port >= f->dst_port || f->src_port >= 32768))
        fs_hll_add(&a->ports, fs_hash_u64((uint64_t)f->proto << 16 | f->dst_port));

    unsigned pc = an_proto_class(f->proto);
    h->proto_flows[pc]++;
    h->proto_bytes[pc] += bytes + rbytes;
    uint16_t sp = an_service_port(f);
    if (sp)
        host_port(h, f->proto, sp, bytes + rbytes);
    acc_top(a, peer, f->proto, sp, bytes + rbytes);
}

static void feed_one(struct fs_an_ctx *c, const struct fs_flow *f)
{
    uint64_t ts = FS_FLOW_HAS(f, FS_F_END) ? f->end_ms
                  : FS_FLOW_HAS(f, FS_F_START) ? f->start_ms : 0;

    c->n.flows++;
    if (ts < MIN_EVENT_MS) {
        c->n.untimed++;
        return;
    }
    uint64_t win = ts / c->win_ms;
    if ((win + 1) * c->win_ms <= fs_analyzer_watermark(c)) {
        c->n.late++;
        return;
    }
    if (ts > c->max_ts) {
        c->max_ts = ts;
        close_ready(c, false);
    }
    struct an_net *w = &c->open[win % AN_NOPEN];
    if (w->win != win) {
        memset(w, 0, sizeof(*w));
        w->win = win;
    }
    if (c->first_ms == 0)
        c->first_ms = win * c->win_ms;
    w->flows++;
    w->bytes += (FS_FLOW_HAS(f, FS_F_BYTES) ? f->bytes : 0) +
                (FS_FLOW_HAS(f, FS_F_REV_BYTES) ? f->rev_bytes : 0);
    w->packets += (FS_FLOW_HAS(f, FS_F_PACKETS) ? f->packets : 0) +
                  (FS_FLOW_HAS(f, FS_F_REV_PACKETS) ? f->rev_packets : 0);
    an_rollup_flow(c, f);

    struct fs_an_flow af;
    af.f = f;
    af.ts_ms = ts;
    af.window_ms = win * c->win_ms;
    af.dir = fs_an_direction(c, f);
    af.src_internal = af.dir == FS_DIR_OUTBOUND || af.dir == FS_DIR_INTERNAL;
    af.dst_internal = af.dir == FS_DIR_INBOUND || af.dir == FS_DIR_INTERNAL;
    if (af.dir == FS_DIR_TRANSIT)
        c->n.transit++;
    if (af.src_internal)
        host_flow(c, &af, true, win);
    if (af.dst_internal)
        host_flow(c, &af, false, win);
    for (size_t i = 0; i < c->ndet; i++)
        if (c->det[i]->flow)
            c->det[i]->flow(c->det_state[i], c, &af);
}

void fs_analyzer_feed(struct fs_an_ctx *c, const struct fs_flow *flows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        feed_one(c, &flows[i]);
}

/* ------------------------------------------------------------------ */
/* Baselines for detectors. */

static int baseline(struct fs_an_ctx *c, const fs_ip *host, enum fs_metric m,
                    const struct fs_an_window *w, struct fs_baseline_view *out, bool full)
{
    struct an_host *h = an_hosts_find(&c->hosts, host);

    if (h == NULL || (unsigned)m >= FS_M_COUNT || w->hour_of_week >= AN_HOW)
        return -1;
    if (full)
        an_base_view(c, h->base, m, w->hour_of_week, out);
    else
        an_base_moments(c, h->base, m, w->hour_of_week, out);
    out->observed = an_host_observed(c, h, m, w->start_ms / c->win_ms);
    return 0;
}

int fs_an_baseline(struct fs_an_ctx *c, const fs_ip *host, enum fs_metric m,
                   const struct fs_an_window *w, struct fs_baseline_view *out)
{
    return baseline(c, host, m, w, out, true);
}

int fs_an_baseline_moments(struct fs_an_ctx *c, const fs_ip *host, enum fs_metric m,
                           const struct fs_an_window *w, struct fs_baseline_view *out)
{
    return baseline(c, host, m, w, out, false);
}

void fs_an_evidence_top(struct fs_an_ctx *c, const fs_ip *host, const struct fs_an_window *w,
                        struct fs_anomaly *a)
{
    const struct an_host *h = an_hosts_find(&c->hosts, host);
    uint64_t win = w->start_ms / c->win_ms;

    if (h == NULL || h->acc[win % AN_NOPEN].win != win)
        return;
    const struct an_acc *acc = &h->acc[win % AN_NOPEN];
    bool used[AN_WIN_TOP] = { false };
    /* Heaviest first: a selection over a handful of slots. */
    for (a->npeers = 0; a->npeers < FS_ANOMALY_TOP; a->npeers++) {
        int best = -1;
        for (int i = 0; i < AN_WIN_TOP; i++)
            if (!used[i] && acc->top_peer[i].bytes &&
                (best < 0 || acc->top_peer[i].bytes > acc->top_peer[best].bytes))
                best = i;
        if (best < 0)
            break;
        used[best] = true;
        a->top_peers[a->npeers].addr = acc->top_peer[best].addr;
        a->top_peers[a->npeers].value = acc->top_peer[best].bytes;
    }
    memset(used, 0, sizeof(used));
    for (a->nports = 0; a->nports < FS_ANOMALY_TOP; a->nports++) {
        int best = -1;
        for (int i = 0; i < AN_WIN_TOP; i++)
            if (!used[i] && acc->top_port[i].bytes &&
                (best < 0 || acc->top_port[i].bytes > acc->top_port[best].bytes))
                best = i;
        if (best < 0)
            break;
        used[best] = true;
        a->top_ports[a->nports].port = acc->top_port[best].port;
        a->top_ports[a->nports].proto = acc->top_port[best].proto;
        a->top_ports[a->nports].value = acc->top_port[best].bytes;
    }
}

void fs_an_each_host(struct fs_an_ctx *c, const struct fs_an_window *w, fs_an_host_fn fn,
                     void *arg)
{
    uint64_t win = w->start_ms / c->win_ms;

    for (uint32_t i = 0; i < c->hosts.n; i++) {
        const struct an_host *h = &c->hosts.h[i];
        if (h->acc[win % AN_NOPEN].win == win)
            fn(arg, &h->addr);
    }
}

/* ------------------------------------------------------------------ */
/* Emission. */

static bool class_allowed(struct fs_an_ctx *c, const struct fs_anomaly *a)
{
    if (fs_an_prefixes_match(&c->cfg->allow, &a->host))
        return true;
    for (size_t i = 0; i < c->ndet; i++)
        if (c->det[i]->cls == a->cls && fs_an_allowed(c, c->det[i]->name, &a->host))
            return true;
    return false;
}

/* True when the same (host, class) was reported recently at least as severe. */
static bool suppressed(struct fs_an_ctx *c, const struct fs_anomaly *a)
{
    uint64_t key = (fs_hash_ip(&a->host) ^ fs_hash_u64((uint64_t)a->cls + 1)) | 1;
    struct an_supp *e = &c->supp[key & c->supp_mask];

    if (e->key == key && a->ts_ms < e->until_ms && a->severity <= e->severity)
        return true;
    e->key = key;
    e->until_ms = a->ts_ms + (uint64_t)c->cfg->suppress * 1000;
    e->severity = (uint8_t)a->severity;
    return false;
}

/* Token bucket on event time: rate-limit per hour, refilled continuously. */
static bool rate_limited(struct fs_an_ctx *c, uint64_t ts)
{
    double cap = c->cfg->rate_limit;

    if (cap == 0)
        return false;
    if (ts > c->tokens_ms) {
        c->tokens += cap * (double)(ts - c->tokens_ms) / 3600000.0;
        if (c->tokens > cap)
            c->tokens = cap;
        c->tokens_ms = ts;
    }
    if (c->tokens < 1.0)
        return true;
    c->tokens -= 1.0;
    return false;
}

void fs_an_emit(struct fs_an_ctx *c, struct fs_anomaly *a)
{
    if ((unsigned)a->cls >= FS_AC_COUNT)
        return;
    if (!isfinite(a->score) || a->score < 0)
        a->score = 0;
    if (a->score > 100)
        a->score = 100;
    a->severity = fs_severity_from_score(a->score);
    if (a->end_ms < a->ts_ms)
        a->end_ms = a->ts_ms;
    fs_anomaly_set_id(a);
    if (class_allowed(c, a)) {
        c->n.allowlisted++;
        return;
    }
    if (suppressed(c, a)) {
        c->n.suppressed++;
        return;
    }
    if (rate_limited(c, a->ts_ms)) {
        c->n.rate_limited++;
        return;
    }
    c->n.anomalies++;
    c->n.by_class[a->cls]++;
    c->period_anomalies++;
    if (c->nkept < c->cfg->report_anomalies) {
        if (c->nkept == c->capkept) {
            size_t ncap = c->capkept ? c->capkept * 2 : 64;
            struct fs_anomaly *nk = realloc(c->kept, ncap * sizeof(*nk));
            if (nk != NULL) {
                c->kept = nk;
                c->capkept = ncap;
            }
        }
        if (c->nkept < c->capkept)
            c->kept[c->nkept++] = *a;
        else
            c->n.report_dropped++;
    } else {
        c->n.report_dropped++;
    }
    if (c->sink)
        c->sink(c->sink_arg, a);
}

/* ------------------------------------------------------------------ */
/* Counters. */

const struct fs_an_counters *fs_analyzer_counters(struct fs_an_ctx *c)
{
    c->n.hosts_tracked = c->hosts.n;
    c->n.hosts_evicted = c->hosts.evicted;
    return &c->n;
}

struct prefixed {
    void (*fn)(void *arg, const char *name, uint64_t v);
    void *arg;
    const char *prefix;
};

static void prefixed_counter(void *arg, const char *name, uint64_t v)
{
    struct prefixed *p = arg;
    char full[96];
    snprintf(full, sizeof(full), "%s.%s", p->prefix, name);
    p->fn(p->arg, full, v);
}

void fs_analyzer_each_counter(struct fs_an_ctx *c,
                              void (*fn)(void *arg, const char *name, uint64_t v), void *arg)
{
    const struct fs_an_counters *n = fs_analyzer_counters(c);
    const struct { const char *name; uint64_t v; } rows[] = {
        { "flows", n->flows }, { "late", n->late }, { "untimed", n->untimed },
        { "transit", n->transit }, { "windows_closed", n->windows_closed },
        { "hosts_tracked", n->hosts_tracked }, { "hosts_evicted", n->hosts_evicted },
        { "anomalies", n->anomalies }, { "suppressed", n->suppressed },
        { "rate_limited", n->rate_limited }, { "allowlisted", n->allowlisted },
        { "summaries", n->summaries }, { "report_dropped", n->report_dropped },
    };
    char name[64];

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        fn(arg, rows[i].name, rows[i].v);
    for (int k = 0; k < FS_AC_COUNT; k++) {
        snprintf(name, sizeof(name), "anomalies.%s", fs_anomaly_class_name((enum fs_anomaly_class)k));
        fn(arg, name, n->by_class[k]);
    }
    for (size_t i = 0; i < c->ndet; i++) {
        struct prefixed p = { fn, arg, c->det[i]->name };
        if (c->det[i]->counters)
            c->det[i]->counters(c->det_state[i], prefixed_counter, &p);
    }
}

size_t fs_analyzer_bytes_per_host(const struct fs_an_ctx *c)
{
    return an_host_bytes(c);
}
