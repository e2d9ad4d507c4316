/*
 * usual.c - learned usual levels and "far above" thresholds for detectors
 * (see usual.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "detutil.h"
#include "usual.h"

#define MAD_TO_STD 1.4826

void fs_usual_add(struct fs_usual *u, double x)
{
    fs_qs_add(&u->recent, x);
    fs_stat_add(&u->all, x);
}

uint64_t fs_usual_samples(const struct fs_usual *u)
{
    return u->all.n;
}

double fs_usual_judge(const struct fs_usual *u, const struct fs_usual_cfg *g, double x,
                      struct fs_usual_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->observed = x;
    v->samples = u ? u->all.n : 0;
    if (v->samples < g->min_samples) {
        v->threshold = g->floor * g->cold_factor;
    } else {
        struct fs_stat_summary r;

        fs_qs_summarize(&u->recent, &r);
        v->median = r.median;
        v->mad = r.mad;
        v->q1 = r.q1;
        v->q3 = r.q3;
        v->mean = fs_stat_mean(&u->all);
        v->std = fs_stat_std(&u->all);
        v->usual = r.q3;
        v->threshold = g->ratio * v->usual;
        double robust = r.median + g->z * MAD_TO_STD * r.mad;

        if (v->threshold < robust)
            v->threshold = robust;
        if (v->threshold < g->floor)
            v->threshold = g->floor;
    }
    if (v->threshold > 0 && x >= v->threshold)
        v->score = fmin(100.0, 50.0 + 40.0 * log10(x / v->threshold));
    return v->score;
}

void fs_usual_read_cfg(struct fs_an_ctx *c, const char *det, const char *prefix,
                       const struct fs_usual_cfg *def, struct fs_usual_cfg *g)
{
    char key[48];

    snprintf(key, sizeof(key), "%sfloor", prefix);
    g->floor = fs_det_param(c, det, key, def->floor, 0, 1e15);
    snprintf(key, sizeof(key), "%sratio", prefix);
    g->ratio = fs_det_param(c, det, key, def->ratio, 1, 1e6);
    snprintf(key, sizeof(key), "%sz", prefix);
    g->z = fs_det_param(c, det, key, def->z, 0, 1e6);
    snprintf(key, sizeof(key), "%scold_factor", prefix);
    g->cold_factor = fs_det_param(c, det, key, def->cold_factor, 1, 1e6);
    snprintf(key, sizeof(key), "%smin_samples", prefix);
    g->min_samples = (unsigned)fs_det_param(c, det, key, def->min_samples, 1, 1e6);
}

void fs_usual_evidence(const struct fs_usual_verdict *v, const char *metric,
                       struct fs_anomaly *a)
{
    double sd = v->mad > 0 ? MAD_TO_STD * v->mad : v->std;

    snprintf(a->metric, sizeof(a->metric), "%s", metric);
    a->observed = v->observed;
    a->expected = v->usual;
    a->std = sd;
    a->q1 = v->q1;
    a->q3 = v->q3;
    fs_stat_fences(v->q1, v->q3, 1.5, &a->iqr_low, &a->iqr_high);
    a->samples = (uint32_t)(v->samples > UINT32_MAX ? UINT32_MAX : v->samples);
    a->z = sd > 0 ? (v->observed - v->median) / sd : 0;
    a->score = v->score;
    a->severity = fs_severity_from_score(v->score);
    fs_anomaly_extra(a, "threshold", v->threshold);
}

int fs_usual_save(const struct fs_usual *u, struct fs_buf_w *w)
{
    return fs_qs_save(&u->recent, w) | fs_stat_save(&u->all, w);
}

int fs_usual_load(struct fs_usual *u, struct fs_buf_r *r)
{
    struct fs_usual t;

    memset(&t, 0, sizeof(t));
    if (fs_qs_load(&t.recent, r) < 0 || fs_stat_load(&t.all, r) < 0)
        return -1;
    *u = t;
    return 0;
}

double fs_usual_day_judge(struct fs_usual_day *d, const struct fs_usual_cfg *g, double x,
                          bool warm, struct fs_usual_verdict *v)
{
    double score = fs_usual_judge(d ? &d->usual : NULL, g, x, v);

    if (!d)
        return score;
    /* Until it has a baseline a key learns every day, reported or not, or
     * something it does every day would stay news for ever. */
    if (score > 0 && warm && d->usual.all.n >= g->min_samples)
        d->reported = 1;
    if (d->peak < x)
        d->peak = x;
    return score;
}

void fs_usual_day_learn(struct fs_usual_day *d)
{
    if (!d->reported)
        fs_usual_add(&d->usual, d->peak);
    d->peak = 0;
    d->reported = 0;
}

int fs_usual_day_save(const struct fs_usual_day *d, struct fs_buf_w *w)
{
    int rc = fs_usual_save(&d->usual, w);

    fs_buf_put_f64(w, d->peak);
    fs_buf_put_u8(w, d->reported);
    return rc < 0 || w->err ? -1 : 0;
}

int fs_usual_day_load(struct fs_usual_day *d, struct fs_buf_r *r)
{
    struct fs_usual_day t;

    memset(&t, 0, sizeof(t));
    if (fs_usual_load(&t.usual, r) < 0)
        return -1;
    t.peak = fs_buf_get_f64(r);
    t.reported = fs_buf_get_u8(r);
    if (r->err || !isfinite(t.peak) || t.peak < 0 || t.reported > 1) {
        r->err = true;
        return -1;
    }
    *d = t;
    return 0;
}

double fs_usual_peaks_judge(struct fs_usual_peaks *p, const struct fs_usual_cfg *fast_cfg,
                            const struct fs_usual_cfg *slow_cfg, double fast, double slow,
                            bool warm, struct fs_usual_verdict *v, bool *is_slow)
{
    struct fs_usual_verdict vs;

    fs_usual_day_judge(p ? &p->fast : NULL, fast_cfg, fast, warm, v);
    fs_usual_day_judge(p ? &p->slow : NULL, slow_cfg, slow, warm, &vs);
    *is_slow = vs.score > v->score;
    if (*is_slow)
        *v = vs;
    return v->score;
}

void fs_usual_peaks_learn(struct fs_usual_peaks *p)
{
    fs_usual_day_learn(&p->fast);
    fs_usual_day_learn(&p->slow);
}

int fs_usual_peaks_save(const struct fs_usual_peaks *p, struct fs_buf_w *w)
{
    return fs_usual_day_save(&p->fast, w) | fs_usual_day_save(&p->slow, w);
}

int fs_usual_peaks_load(struct fs_usual_peaks *p, struct fs_buf_r *r)
{
    struct fs_usual_peaks t;

    if (fs_usual_day_load(&t.fast, r) < 0 || fs_usual_day_load(&t.slow, r) < 0)
        return -1;
    *p = t;
    return 0;
}

bool fs_usual_repeat(const struct fs_usual_alerted *a, uint64_t now_ms, uint64_t realert_ms,
                     double score)
{
    return a->ms && now_ms - a->ms < realert_ms &&
           (uint8_t)fs_severity_from_score(score) <= a->severity;
}

void fs_usual_alerted_set(struct fs_usual_alerted *a, uint64_t now_ms, double score)
{
    a->ms = now_ms;
    a->severity = (uint8_t)fs_severity_from_score(score);
}
