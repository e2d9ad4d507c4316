/*
 * score.c - one observation against its baseline: z-score, robust z, IQR
 * fences, and the combined 0..100 score behind every baseline finding.
 *
 * Three views must agree before anything scores: the classic z (mean and
 * standard deviation, with the variance floor), the robust z of Iglewicz and
 * Hoaglin (median and MAD, which a few past spikes cannot inflate) and
 * Tukey's fences. The weaker of the two z values is the deviation d; an
 * observation inside the inner fence, or with d <= 3, scores 0. Above that
 *
 *     score = 100 * (1 - exp(-(d - 3) / 5))
 *
 * (d = 5: 33, 6: 45, 8: 63, 10: 75, 13: 86, 20: 97), capped just below
 * "high" while the observation stays inside the outer (extreme) fence.
 * Only excess is scored: a host doing less than usual is not a threat this
 * analyzer looks for.
 */
#include <math.h>

#include "core.h"

#define Z_START 3.0
#define Z_SCALE 5.0

double fs_an_score(struct fs_an_ctx *c, const struct fs_baseline_view *b, double observed,
                   struct fs_anomaly *a)
{
    const struct fs_an_config *cfg = c->cfg;
    double mean = b->mean, std = b->std;
    double floor = cfg->std_floor * fabs(mean);
    double lo, hi, lo_ext, hi_ext, z, rz, d, score = 0;

    if (floor < 1.0)
        floor = 1.0; /* every metric counts something: less than one is noise */
    if (std < floor)
        std = floor;
    fs_stat_fences(b->q1, b->q3, cfg->iqr_k, &lo, &hi);
    fs_stat_fences(b->q1, b->q3, cfg->iqr_k_extreme, &lo_ext, &hi_ext);
    z = fs_stat_z(observed, mean, std, floor);
    rz = fs_stat_robust_z(observed, b->median, b->mad, 0.6745 * std);
    d = z < rz ? z : rz;

    if (b->samples >= cfg->min_samples && d > Z_START && observed > hi) {
        score = 100.0 * (1.0 - exp(-(d - Z_START) / Z_SCALE));
        if (observed <= hi_ext && score >= FS_SCORE_HIGH)
            score = nextafter(FS_SCORE_HIGH, 0);
    }

    if (a != NULL) {
        a->observed = observed;
        a->expected = mean;
        a->std = std;
        a->q1 = b->q1;
        a->q3 = b->q3;
        a->iqr_low = lo;
        a->iqr_high = hi;
        a->samples = b->samples;
        a->z = z;
        a->score = score;
        a->severity = fs_severity_from_score(score);
        fs_anomaly_extra(a, "robust_z", rz);
    }
    return score;
}
