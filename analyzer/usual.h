/*
 * usual.h - the usual level of one measurement of one key (a host, a source,
 * a port), learned by a detector from samples it chooses, and the threshold
 * an observation must pass to be "far above" it.
 *
 * Detectors that need a baseline the core does not keep (a day's peak of
 * distinct admin peers, the inbound packets of a window) use this instead of
 * each growing their own: the last FS_QS_K samples in a quantile sketch
 * (median, MAD and quartiles of recent history) and every sample in a
 * running mean and variance.
 *
 * An observation x is out when it reaches the threshold
 *
 *     max(floor, ratio * usual, median + z * 1.4826 * MAD)
 *
 * where usual is the recent upper quartile: a level reached on a quarter of
 * the recent samples (a management server's daily round) is usual, a few
 * spikes are not, and neither moves the level the way they would move a
 * mean. The long-run mean and deviation are evidence only. With fewer than
 * min_samples samples only floor * cold_factor applies. The score is 50 at the threshold
 * and grows by 40 per tenfold excess (capped at 100), the same scale as the
 * other count-based detectors.
 */
#ifndef FS_USUAL_H
#define FS_USUAL_H

#include <stdint.h>

#include "detector.h"
#include "sketch.h"

struct fs_usual {
    struct fs_qs recent;
    struct fs_stat all;
};

struct fs_usual_cfg {
    double floor, ratio, z, cold_factor;
    unsigned min_samples;
};

/* What fs_usual_judge() found. */
struct fs_usual_verdict {
    double observed, usual, threshold, score;
    double median, mad, q1, q3, mean, std;
    uint64_t samples;
};

void fs_usual_add(struct fs_usual *u, double x);
uint64_t fs_usual_samples(const struct fs_usual *u);

/* Judges `x` against `u` (NULL: no history at all). Returns the score, 0
 * when x is below the threshold. */
double fs_usual_judge(const struct fs_usual *u, const struct fs_usual_cfg *g, double x,
                      struct fs_usual_verdict *v);

/* Reads "<prefix>floor", "<prefix>ratio", "<prefix>z", "<prefix>cold_factor"
 * and "<prefix>min_samples" of detector `det`, `def` holding the defaults. */
void fs_usual_read_cfg(struct fs_an_ctx *c, const char *det, const char *prefix,
                       const struct fs_usual_cfg *def, struct fs_usual_cfg *g);

/* Fills the evidence of `a` from a verdict: metric, observed, expected (the
 * usual level), std, quartiles, samples, score, a robust z, and the
 * threshold as an extra. */
void fs_usual_evidence(const struct fs_usual_verdict *v, const char *metric,
                       struct fs_anomaly *a);

/* One self-checking record each (see sketch.h); load leaves `u` unchanged
 * and returns -1 on anything wrong. */
#define FS_USUAL_SNAP_MAX 112
int fs_usual_save(const struct fs_usual *u, struct fs_buf_w *w);
int fs_usual_load(struct fs_usual *u, struct fs_buf_r *r);

/*
 * Day peaks of two counts of one key - how many in a window ("fast"), how
 * many over a longer horizon ("slow") - for behaviour that recurs daily at
 * a time of its own (a management server's round, a nightly job): each day's
 * peak is one sample of a usual level. A day in which the key was reported
 * is left out, so an attack does not become what is usual.
 */
struct fs_usual_peaks {
    struct fs_usual fast, slow;
    double peak_fast, peak_slow;  /* today's */
    uint8_t reported;             /* reported today */
};

/* Judges the two counts of a window against the learned peaks (`p` NULL: no
 * history), keeps the stronger verdict in `v` (`*slow` says which) and
 * notes the counts as today's peaks. `warm`: findings are possible, so a
 * count out of line marks the day as reported. Returns the score. */
double fs_usual_peaks_judge(struct fs_usual_peaks *p, const struct fs_usual_cfg *fast_cfg,
                            const struct fs_usual_cfg *slow_cfg, double fast, double slow,
                            bool warm, struct fs_usual_verdict *v, bool *is_slow);
/* The day is over: its peaks become samples (unless it was reported). */
void fs_usual_peaks_learn(struct fs_usual_peaks *p);

#define FS_USUAL_PEAKS_SNAP_MAX (2 * FS_USUAL_SNAP_MAX + 17)
int fs_usual_peaks_save(const struct fs_usual_peaks *p, struct fs_buf_w *w);
int fs_usual_peaks_load(struct fs_usual_peaks *p, struct fs_buf_r *r);

#endif
