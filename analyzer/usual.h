/*
 * usual.h - the usual level of one measurement of one key (a host, a source,
 * a port), learned by a detector from samples it chooses, and the threshold
 * an observation must pass to be "far above" it.
 *
 * Detectors that need a baseline the core does not keep (a day's peak of
 * distinct admin peers or of ports probed) use this instead of each growing
 * their own: the last FS_QS_K samples in a quantile sketch
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
 * min_samples samples only floor * cold_factor applies. The score is 50 at
 * the threshold and grows by 40 per tenfold excess (capped at 100), the
 * same scale as the other count-based detectors.
 */
#ifndef FS_USUAL_H
#define FS_USUAL_H

#include <stdbool.h>
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
 * Day peaks, for behaviour that recurs daily at a time of its own (a
 * management server's round, a nightly job): each day's peak of a count is
 * one sample of its usual level. Once the key has min_samples days, a day
 * in which the count was reported is left out, so an attack does not become
 * what is usual.
 */
struct fs_usual_day {
    struct fs_usual usual;
    double peak;                  /* today's */
    uint8_t reported;             /* reported today */
};

/* Judges a window's count `x` against the learned day peaks (`d` NULL: no
 * history) and notes it as today's peak. `warm`: findings are possible, so
 * a count out of line marks the day as reported (once there is a
 * baseline). Returns the score. */
double fs_usual_day_judge(struct fs_usual_day *d, const struct fs_usual_cfg *g, double x,
                          bool warm, struct fs_usual_verdict *v);
/* The day is over: its peak becomes a sample (unless it was reported). */
void fs_usual_day_learn(struct fs_usual_day *d);

#define FS_USUAL_DAY_SNAP_MAX (FS_USUAL_SNAP_MAX + 9)
int fs_usual_day_save(const struct fs_usual_day *d, struct fs_buf_w *w);
int fs_usual_day_load(struct fs_usual_day *d, struct fs_buf_r *r);

/* Two counts of one key: how many in a window ("fast") and over a longer
 * horizon ("slow"). */
struct fs_usual_peaks {
    struct fs_usual_day fast, slow;
};

/* Both counts judged and noted (fs_usual_day_judge); the stronger verdict
 * goes in `v`, `*is_slow` says which. Returns its score. */
double fs_usual_peaks_judge(struct fs_usual_peaks *p, const struct fs_usual_cfg *fast_cfg,
                            const struct fs_usual_cfg *slow_cfg, double fast, double slow,
                            bool warm, struct fs_usual_verdict *v, bool *is_slow);
void fs_usual_peaks_learn(struct fs_usual_peaks *p);

#define FS_USUAL_PEAKS_SNAP_MAX (2 * FS_USUAL_DAY_SNAP_MAX)
int fs_usual_peaks_save(const struct fs_usual_peaks *p, struct fs_buf_w *w);
int fs_usual_peaks_load(struct fs_usual_peaks *p, struct fs_buf_r *r);

/* When a key was last reported: a lasting condition is reported again only
 * after `realert_ms` of event time, or sooner when it becomes more severe. */
struct fs_usual_alerted {
    uint64_t ms;                  /* 0: never */
    uint8_t severity;
};

/* True when a finding scored `score` at `now_ms` repeats the last one. */
bool fs_usual_repeat(const struct fs_usual_alerted *a, uint64_t now_ms, uint64_t realert_ms,
                     double score);
void fs_usual_alerted_set(struct fs_usual_alerted *a, uint64_t now_ms, double score);

#endif
