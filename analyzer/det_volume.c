/*
 * det_volume.c - volume_spike: a host moving far more bytes, packets or
 * flows in a window than it usually does at that hour of that kind of day.
 *
 * Uses the core's seasonal baselines only (no state of its own): at each
 * window close after the warm-up, every host active in the window is scored
 * with fs_an_score() on bytes out, bytes in, packets and flows; the strongest
 * metric makes the finding and the others' z values go in the evidence.
 * Distinct peers and ports are left to the scan and sweep detectors, which
 * say more about them than "more than usual".
 *
 * Settings (volume_spike.*): min_score (default 40, i.e. medium and up), and
 * the smallest excess over the expected value worth a finding, per metric:
 * min_bytes (1 MB), min_packets (1000), min_flows (100): a host that usually
 * sends 2 kB and now sends 40 kB is many standard deviations out and of no
 * interest to anyone.
 */
#include <stdlib.h>
#include <string.h>

#include "detector.h"

#define DET "volume_spike"
#define NMETRICS 4

static const enum fs_metric metrics[NMETRICS] = {
    FS_M_BYTES_OUT, FS_M_BYTES_IN, FS_M_PACKETS, FS_M_FLOWS,
};

struct volume {
    double min_score;
    double min_excess[NMETRICS];
    uint64_t scored, below_excess;
};

struct volume_pass {
    struct volume *v;
    struct fs_an_ctx *c;
    const struct fs_an_window *w;
};

static void *volume_create(struct fs_an_ctx *c)
{
    struct volume *v = calloc(1, sizeof(*v));

    if (v == NULL)
        return NULL;
    v->min_score = fs_an_param(c, DET, "min_score", 40);
    v->min_excess[0] = fs_an_param(c, DET, "min_bytes", 1e6);
    v->min_excess[1] = v->min_excess[0];
    v->min_excess[2] = fs_an_param(c, DET, "min_packets", 1000);
    v->min_excess[3] = fs_an_param(c, DET, "min_flows", 100);
    return v;
}

static void volume_host(void *arg, const fs_ip *host)
{
    struct volume_pass *p = arg;
    struct fs_anomaly best, a;
    double best_score = 0, z[NMETRICS] = { 0 };
    int best_m = -1;

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
        if (b.observed - b.mean < p->v->min_excess[i]) {
            p->v->below_excess++;
            continue;
        }
        fs_an_baseline(p->c, host, metrics[i], p->w, &b);
        memset(&a, 0, sizeof(a));
        double s = fs_an_score(p->c, &b, b.observed, &a);
        p->v->scored++;
        if (s < p->v->min_score)
            continue;
        if (s > best_score) {
            best_score = s;
            best_m = i;
            best = a;
        }
    }
    if (best_m < 0)
        return;
    fs_an_evidence_top(p->c, host, p->w, &best);
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
    fs_an_emit(p->c, &best);
}

static void volume_close(void *state, struct fs_an_ctx *c, const struct fs_an_window *w)
{
    struct volume_pass p = { state, c, w };

    if (w->warm)
        fs_an_each_host(c, w, volume_host, &p);
}

static void volume_counters(void *state, void (*fn)(void *arg, const char *name, uint64_t v),
                            void *arg)
{
    struct volume *v = state;
    fn(arg, "scored", v->scored);
    fn(arg, "below_min_excess", v->below_excess);
}

const struct fs_detector fs_det_volume = {
    .name = DET,
    .cls = FS_AC_VOLUME_SPIKE,
    .create = volume_create,
    .window_close = volume_close,
    .counters = volume_counters,
    .destroy = free,
};
