/*
 * baseline.c - per-host seasonal baselines: what a host's windows usually
 * look like at this hour of this kind of day.
 *
 * Mean and standard deviation are kept per hour-of-week slot (168 per
 * metric) as compact Welford states. Order statistics (median, MAD,
 * quartiles) come from the sketch library's quantile sketch (the last 30
 * samples, log-quantised), kept per weekday/weekend x 4-hour block and for
 * the host overall; a block's sketch takes one window in `quantile-stride`
 * so its samples reach back several days.
 *
 * Each metric also keeps the host's peak: the largest window value, decaying
 * with a half-life of two weeks, for detectors that ask "more than this
 * host ever does" rather than "more than usual at this hour".
 *
 * Mean and variance are updated with large observations clipped at four
 * standard deviations above the mean (once the slot has min-samples), so
 * an attack does not teach the baseline to expect the next one.
 *
 * When a slot has fewer than min-samples windows, the view falls back to the
 * same hour on the same kind of day (Monday..Friday merged, or Saturday and
 * Sunday), then to the host's whole history; the quantiles fall back from the
 * block to the host-overall sketch, and without any sample to the normal
 * approximation around the mean (docs/analyzer.md).
 */
#include <math.h>
#include <string.h>

#include "core.h"

void an_base_reset(struct an_base *b)
{
    memset(b, 0, sizeof(*b));
}

unsigned an_hour_of_week(const struct fs_an_ctx *c, uint64_t ms)
{
    int64_t s = (int64_t)(ms / 1000) + c->cfg->utc_offset;
    int64_t days = s / 86400;
    unsigned hour = (unsigned)((s % 86400) / 3600);
    unsigned dow = (unsigned)((days + 3) % 7); /* 1970-01-01 was a Thursday */

    return dow * 24 + hour;
}

static unsigned block_of(unsigned how)
{
    unsigned weekend = how >= 5 * 24;
    return weekend * (24 / AN_BLOCK_HOURS) + (how % 24) / AN_BLOCK_HOURS;
}

#define CLIP_SD 4.0

/* One Welford step on a compact state with weight cap `cap`. */
static void welford(float *mean_p, float *var_p, double n, double x)
{
    double mean = *mean_p, var = *var_p, d = x - mean;

    mean += d / n;
    var += (d * (x - mean) - var) / n;
    *mean_p = (float)mean;
    *var_p = (float)(var > 0 ? var : 0);
}

static double floor_of(const struct fs_an_ctx *c, enum fs_metric m, double mean)
{
    double floor = c->cfg->std_floor * mean;
    return floor < c->std_abs_floor[m] ? c->std_abs_floor[m] : floor;
}

void an_base_add(const struct fs_an_ctx *c, struct an_base *b, unsigned how, uint64_t win,
                 const double x[FS_M_COUNT])
{
    struct an_slot *s = &b->slot[how];
    uint32_t stride = c->cfg->qs_stride, ocap = (uint32_t)c->cfg->baseline_weight * AN_HOW;

    for (int m = 0; m < FS_M_COUNT; m++) {
        unsigned n = s->n[m];
        double v = x[m], d = v - s->mean[m];

        /* Huber-style update: once the slot is trusted, an observation
         * counts at most mean + CLIP_SD standard deviations, so one attack
         * window does not inflate the baseline it is scored against next
         * time, while a lasting change still moves it (and widens it)
         * window after window. Squares spare a sqrt in the common case. */
        if (n >= c->cfg->min_samples && d > 0) {
            double var = (double)s->var[m] * n / (n - 1);
            double floor = floor_of(c, (enum fs_metric)m, s->mean[m]);
            double lim2 = var > floor * floor ? var : floor * floor;
            if (d * d > CLIP_SD * CLIP_SD * lim2)
                v = s->mean[m] + CLIP_SD * sqrt(lim2);
        }
        if (n < c->cfg->baseline_weight)
            s->n[m] = (uint8_t)++n;
        welford(&s->mean[m], &s->var[m], n, v);
        if (b->on[m] < ocap)
            b->on[m]++;
        welford(&b->omean[m], &b->ovar[m], b->on[m], v);
        b->peak[m] = (float)(x[m] > b->peak[m] * c->peak_decay ? x[m] : b->peak[m] * c->peak_decay);
        if (win % stride == 0)
            fs_qs_add(&b->blk[m][block_of(how)], x[m]);
        if (win % (stride * AN_QS_ALL_STRIDE) == 0)
            fs_qs_add(&b->all[m], x[m]);
    }
}

/* The slot as a mergeable Welford state. */
static struct fs_stat slot_stat(const struct an_base *b, enum fs_metric m, unsigned how)
{
    struct fs_stat s;
    s.n = b->slot[how].n[m];
    s.mean = b->slot[how].mean[m];
    s.m2 = (double)b->slot[how].var[m] * (double)s.n;
    return s;
}

void an_base_overall(const struct an_base *b, enum fs_metric m, struct fs_stat *out)
{
    out->n = b->on[m];
    out->mean = b->omean[m];
    out->m2 = (double)b->ovar[m] * (double)out->n;
}

/* Same hour on the same kind of day: Monday..Friday, or Saturday and Sunday. */
static void daytype_stat(const struct an_base *b, enum fs_metric m, unsigned how,
                         struct fs_stat *out)
{
    unsigned first = how >= 5 * 24 ? 5 : 0, last = how >= 5 * 24 ? 7 : 5;

    fs_stat_init(out);
    for (unsigned d = first; d < last; d++) {
        struct fs_stat s = slot_stat(b, m, d * 24 + how % 24);
        fs_stat_merge(out, &s);
    }
}

void an_base_moments(const struct fs_an_ctx *c, const struct an_base *b, enum fs_metric m,
                     unsigned how, struct fs_baseline_view *out)
{
    uint32_t min = c->cfg->min_samples;
    struct fs_stat st = slot_stat(b, m, how);

    if (st.n < min)
        daytype_stat(b, m, how, &st);
    if (st.n < min)
        an_base_overall(b, m, &st);
    memset(out, 0, sizeof(*out));
    out->history = b->on[m];
    out->peak = b->peak[m];
    out->samples = (uint32_t)st.n;
    out->mean = fs_stat_mean(&st);
    out->std = fs_stat_std(&st);
    double floor = floor_of(c, m, out->mean);
    if (out->std < floor)
        out->std = floor;
}

void an_base_view(const struct fs_an_ctx *c, const struct an_base *b, enum fs_metric m,
                  unsigned how, struct fs_baseline_view *out)
{
    struct fs_stat_summary q;
    unsigned need = c->cfg->min_samples < FS_QS_K ? c->cfg->min_samples : FS_QS_K;
    const struct fs_qs *qs = &b->blk[m][block_of(how)];

    an_base_moments(c, b, m, how, out);
    if (fs_qs_len(qs) < need && fs_qs_len(&b->all[m]) > fs_qs_len(qs))
        qs = &b->all[m];
    if (fs_qs_len(qs) > 0) {
        fs_qs_summarize(qs, &q);
        out->median = q.median;
        out->mad = q.mad;
        out->q1 = q.q1;
        out->q3 = q.q3;
    } else {
        /* Normal approximation: quartiles at +-0.6745 sd, MAD = 0.6745 sd. */
        out->median = out->mean;
        out->mad = 0.6745 * out->std;
        out->q1 = out->mean - 0.6745 * out->std;
        out->q3 = out->mean + 0.6745 * out->std;
        if (out->q1 < 0)
            out->q1 = 0;
    }
}

double an_host_observed(const struct fs_an_ctx *c, const struct an_host *h, enum fs_metric m,
                        uint64_t win)
{
    (void)c;
    for (int i = 0; i < AN_NOPEN; i++) {
        const struct an_acc *a = &h->acc[i];
        if (a->win != win)
            continue;
        switch (m) {
        case FS_M_BYTES_OUT: return (double)a->v[AN_SUM_BYTES_OUT];
        case FS_M_BYTES_IN: return (double)a->v[AN_SUM_BYTES_IN];
        case FS_M_PACKETS: return (double)a->v[AN_SUM_PACKETS];
        case FS_M_FLOWS: return (double)a->v[AN_SUM_FLOWS];
        case FS_M_PEERS: return (double)fs_hll_count(&a->peers);
        case FS_M_PORTS: return (double)fs_hll_count(&a->ports);
        case FS_M_COUNT: break;
        }
    }
    return 0;
}

static const char *const metric_names[FS_M_COUNT] = {
    "bytes_out", "bytes_in", "packets", "flows", "distinct_peers", "distinct_ports",
};

const char *fs_metric_name(enum fs_metric m)
{
    return (unsigned)m < FS_M_COUNT ? metric_names[m] : NULL;
}
