/*
 * sketch.h - bounded-memory statistics and sketches for the analyzer.
 *
 * A pure library (no I/O, no clock, no globals) used by the analyzer core
 * for its baselines and by every detector:
 *
 *   fs_stat_  Welford running mean/variance (mergeable), exact median, MAD,
 *             quartiles and IQR fences of small arrays, z and robust z.
 *   fs_hash_  a fast 64-bit mixer for addresses, ports and keys.
 *   fs_hll_   distinct counter: exact for a few dozen items, HyperLogLog
 *             beyond (distinct peers / ports per window).
 *   fs_qs_    per-slot quantile sketch: the last FS_QS_K samples, 16-bit
 *             log-quantised (median, quartiles, MAD, mean, std of recent
 *             history in 64 bytes).
 *   fs_topk_  Space-Saving heavy hitters (top talkers, top peers/ports).
 *   fs_buf_   little-endian byte cursor for the save/load functions.
 *
 * Every structure has a fixed maximum size chosen at init, never allocates
 * while adding (fs_hll allocates its registers once, when it leaves the
 * exact regime), and serialises to a byte buffer: save writes a tag, the
 * payload and a checksum; load checks bounds, values and checksum and returns
 * -1 on anything wrong, leaving the destination untouched. The caller
 * versions the file the buffers go into.
 *
 * Structures declared here with their fields are public only so that they can
 * be embedded without an allocation: use the functions, not the fields.
 */
#ifndef FS_SKETCH_H
#define FS_SKETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* ------------------------------------------------------------------ */
/* Descriptive statistics                                              */

/* Running mean and variance (Welford), 24 bytes. Zero-initialised is empty. */
struct fs_stat {
    uint64_t n;
    double mean;
    double m2; /* sum of squared deviations from the mean */
};

void fs_stat_init(struct fs_stat *s);
void fs_stat_add(struct fs_stat *s, double x);
/* dst += src (Chan et al. pairwise update): as if every sample of src had
 * been added to dst. */
void fs_stat_merge(struct fs_stat *dst, const struct fs_stat *src);
double fs_stat_mean(const struct fs_stat *s);     /* 0 when empty */
double fs_stat_var(const struct fs_stat *s);      /* sample variance (n-1); 0 when n < 2 */
double fs_stat_std(const struct fs_stat *s);

/* Summary of a small sample. Quartiles use the linear method R-7 (Hyndman &
 * Fan; numpy's default): Q(p) = x[h] + (h - floor h)(x[h+1] - x[h]) with
 * h = (n-1)p over the sorted x[0..n-1]. `mad` is the raw median absolute
 * deviation, median(|x - median|), not scaled by 1.4826. */
struct fs_stat_summary {
    uint32_t n;
    double mean, std; /* std: sample (n-1), 0 when n < 2 */
    double median, mad;
    double q1, q3;
    double min, max;
};

/* Sorts v[0..n-1] in place (ascending). */
void fs_stat_sort(double *v, size_t n);
/* R-7 quantile, p in [0,1], of an already sorted array; 0 when n == 0. */
double fs_stat_quantile_sorted(const double *v, size_t n, double p);
/* Median absolute deviation of a sorted array around `median`, in O(n)
 * without scratch memory. */
double fs_stat_mad_sorted(const double *v, size_t n, double median);
/* Fills `out` from v[0..n-1]; sorts v in place. All fields 0 when n == 0. */
void fs_stat_summarize(double *v, size_t n, struct fs_stat_summary *out);

/* IQR fences: lo = q1 - k*(q3-q1), hi = q3 + k*(q3-q1) (Tukey: k = 1.5). */
void fs_stat_fences(double q1, double q3, double k, double *lo, double *hi);

/* (x - mean) / max(std, min_std): min_std is the variance floor that keeps a
 * nearly constant baseline from turning noise into huge scores. */
double fs_stat_z(double x, double mean, double std, double min_std);
/* Iglewicz-Hoaglin modified z: 0.6745 (x - median) / max(mad, min_mad). */
double fs_stat_robust_z(double x, double median, double mad, double min_mad);

/* ------------------------------------------------------------------ */
/* Hashing: splitmix64's finalizer, a bijection on 64 bits with full
 * avalanche. Equal inputs hash equal across runs and hosts (no seed), so
 * sketches saved by one run merge with another's. */

static inline uint64_t fs_hash_u64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Hash of an address (only the bytes its family uses). */
uint64_t fs_hash_ip(const fs_ip *ip);
/* Hash of an address and a port, e.g. a (peer, service) pair. */
uint64_t fs_hash_ip_port(const fs_ip *ip, uint16_t port);

/* ------------------------------------------------------------------ */
/* Distinct counter                                                    */

#define FS_HLL_SMALL 28      /* exact up to this many distinct items */
#define FS_HLL_P_MIN 4
#define FS_HLL_P_MAX 16
#define FS_HLL_P_DEFAULT 10  /* 1 KiB of registers, ~3.3% standard error */

/* 128 bytes inline; plus 2^p bytes of registers once more than FS_HLL_SMALL
 * distinct items were seen. Relative standard error in the HyperLogLog
 * regime: 1.04 / sqrt(2^p) (p=10: 3.3%, p=12: 1.6%). */
struct fs_hll {
    uint8_t p;
    uint8_t big;             /* registers in use */
    uint16_t n;              /* items in small[] */
    uint8_t *reg;            /* 2^p registers once big; kept across clears */
    uint32_t small[FS_HLL_SMALL]; /* top 32 bits of each distinct hash */
};

/* Returns 0, or -1 when p is outside FS_HLL_P_MIN..FS_HLL_P_MAX. */
int fs_hll_init(struct fs_hll *h, unsigned p);
/* Releases the registers; the counter is then empty and still usable. */
void fs_hll_free(struct fs_hll *h);
/* Empties the counter; keeps the register allocation for the next window. */
void fs_hll_clear(struct fs_hll *h);
/* Adds one item by its 64-bit hash (fs_hash_*). Returns 0, or -1 when the
 * registers could not be allocated (the item is then not counted). */
int fs_hll_add(struct fs_hll *h, uint64_t hash);
/* Estimated number of distinct items: exact (up to 32-bit hash collisions)
 * while small, else Ertl's improved HyperLogLog estimator, which is unbiased
 * from the linear-counting range up without empirical bias tables. */
uint64_t fs_hll_count(const struct fs_hll *h);
/* dst = dst U src. Returns 0, or -1 when p differs or allocation fails. */
int fs_hll_merge(struct fs_hll *dst, const struct fs_hll *src);
bool fs_hll_is_exact(const struct fs_hll *h);
/* Bytes used by this instance, heap included. */
size_t fs_hll_bytes(const struct fs_hll *h);

/* ------------------------------------------------------------------ */
/* Quantile sketch for per-slot baselines                              */

#define FS_QS_K 30 /* samples kept: 64 bytes per instance */

/* Keeps the last FS_QS_K samples, each as a 16-bit code: the 6-bit exponent
 * and the 10-bit mantissa, rounded, of the double 1 + x (a piecewise-linear
 * log scale; negatives and NaN count as 0, values from ~1.8e19 saturate).
 * Quantiles are exact over those samples up to the coding: a decoded
 * sample is within 2^-11 (0.049%) of (1 + x) of the original, and order
 * statistics or interpolations between two samples carry the same bound;
 * mean, std and MAD are those of the decoded samples. Older samples are
 * forgotten, so the baseline follows drift. Zero-initialised is empty. */
struct fs_qs {
    uint8_t len;             /* samples held, <= FS_QS_K */
    uint8_t pos;             /* next slot to write */
    uint16_t seen;           /* samples ever added, saturating at 65535 */
    uint16_t v[FS_QS_K];
};

void fs_qs_init(struct fs_qs *q);
void fs_qs_add(struct fs_qs *q, double x);
unsigned fs_qs_len(const struct fs_qs *q);
/* R-7 quantile of the samples held; 0 when empty. */
double fs_qs_quantile(const struct fs_qs *q, double p);
/* Everything at once (one decode and sort): n, mean, std, median, MAD,
 * quartiles, min, max of the samples held. */
void fs_qs_summarize(const struct fs_qs *q, struct fs_stat_summary *out);
/* Keeps the FS_QS_K most recent samples of the two, taking them newest
 * first alternately from each (the sketches carry no timestamps). */
void fs_qs_merge(struct fs_qs *dst, const struct fs_qs *src);

/* ------------------------------------------------------------------ */
/* Top-N heavy hitters (Space-Saving, weighted)                        */

/* What is counted: an address, an address and port, or any 64-bit id
 * (fields not used stay zero; fs_topk_key_* fill them). */
struct fs_topk_key {
    fs_ip ip;                /* af 0 when not an address */
    uint8_t proto;
    uint16_t port;
    uint64_t id;
};

struct fs_topk_key fs_topk_key_ip(const fs_ip *ip);
struct fs_topk_key fs_topk_key_ip_port(const fs_ip *ip, uint8_t proto, uint16_t port);
struct fs_topk_key fs_topk_key_id(uint64_t id);

/* One entry: the true weight of `key` lies in [count - err, count]. */
struct fs_topk_entry {
    struct fs_topk_key key;
    uint64_t count;
    uint64_t err;
};

struct fs_topk;

/* Capacity 1..65535 counters, about 80 bytes each (fs_topk_bytes: 1336 for
 * 16, 5176 for 64, 20536 for 256). Any key whose weight exceeds
 * total/capacity is guaranteed to be held, and every count over-estimates
 * by at most the smallest count. Adding is allocation-free; NULL on
 * out-of-memory or bad capacity. */
struct fs_topk *fs_topk_new(unsigned capacity);
void fs_topk_free(struct fs_topk *t);
void fs_topk_clear(struct fs_topk *t);
/* Adds `weight` (bytes, packets, 1 per flow) to `key`. */
void fs_topk_add(struct fs_topk *t, const struct fs_topk_key *key, uint64_t weight);
/* Writes up to `max` entries, heaviest first (ties by key), returns how many. */
size_t fs_topk_list(const struct fs_topk *t, struct fs_topk_entry *out, size_t max);
/* The entry of `key`, or false when it is not held. */
bool fs_topk_get(const struct fs_topk *t, const struct fs_topk_key *key, struct fs_topk_entry *out);
uint64_t fs_topk_total(const struct fs_topk *t);      /* weight ever added since clear */
uint64_t fs_topk_evictions(const struct fs_topk *t);  /* entries replaced since clear */
unsigned fs_topk_capacity(const struct fs_topk *t);
size_t fs_topk_bytes(const struct fs_topk *t);
/* Multiplies every count, error and the total by `factor` in [0,1] (exponential
 * forgetting across windows); entries that reach 0 are dropped. */
void fs_topk_decay(struct fs_topk *t, double factor);
/* dst += src (mergeable summaries: counts of keys missing on one side are
 * bounded by that side's minimum). Returns 0, or -1 on out-of-memory. */
int fs_topk_merge(struct fs_topk *dst, const struct fs_topk *src);

/* ------------------------------------------------------------------ */
/* Serialisation                                                       */

/* A write cursor over buf[0..cap): writes past the end set `err` and are
 * dropped, so a sequence of writes is checked once at the end. */
struct fs_buf_w {
    uint8_t *p;
    size_t cap, len;
    bool err;
};
/* A read cursor: reads past the end set `err` and return 0. */
struct fs_buf_r {
    const uint8_t *p;
    size_t len, off;
    bool err;
};

void fs_buf_put_u8(struct fs_buf_w *w, uint8_t v);
void fs_buf_put_u16(struct fs_buf_w *w, uint16_t v);
void fs_buf_put_u32(struct fs_buf_w *w, uint32_t v);
void fs_buf_put_u64(struct fs_buf_w *w, uint64_t v);
void fs_buf_put_f64(struct fs_buf_w *w, double v);
void fs_buf_put_bytes(struct fs_buf_w *w, const void *src, size_t n);
uint8_t fs_buf_get_u8(struct fs_buf_r *r);
uint16_t fs_buf_get_u16(struct fs_buf_r *r);
uint32_t fs_buf_get_u32(struct fs_buf_r *r);
uint64_t fs_buf_get_u64(struct fs_buf_r *r);
double fs_buf_get_f64(struct fs_buf_r *r);
void fs_buf_get_bytes(struct fs_buf_r *r, void *dst, size_t n);

/* A record: tag (u8), payload length (u32), payload, checksum (u32) over
 * all that precedes it. Writers: start = fs_buf_rec_begin(w, tag), put the
 * payload, fs_buf_rec_end(w, start) (returns 0, or -1 when anything did not
 * fit). Readers: fs_buf_rec_open checks the tag, the length against the bytes
 * left and the checksum before anything is parsed, points `payload` at the
 * payload and moves `r` past the record; returns 0 or -1 (r->err set). Then
 * parse `payload` and finish with fs_buf_done(&payload): 0 when every byte
 * was read and nothing overran, else -1. */
size_t fs_buf_rec_begin(struct fs_buf_w *w, uint8_t tag);
int fs_buf_rec_end(struct fs_buf_w *w, size_t start);
int fs_buf_rec_open(struct fs_buf_r *r, uint8_t tag, struct fs_buf_r *payload);
int fs_buf_done(const struct fs_buf_r *r);

/* Each save appends one self-checking record (tag, payload, checksum) to `w`
 * and returns 0, or -1 when it did not fit. Each load reads one record from
 * `r` into the destination and returns 0, or -1 (destination unchanged,
 * r->err set) when the record is truncated, has the wrong tag, an impossible
 * value or a bad checksum. fs_hll_load needs an initialised destination and
 * takes p from the record; fs_topk_load needs capacity >= the saved one. */
int fs_stat_save(const struct fs_stat *s, struct fs_buf_w *w);
int fs_stat_load(struct fs_stat *s, struct fs_buf_r *r);
int fs_hll_save(const struct fs_hll *h, struct fs_buf_w *w);
int fs_hll_load(struct fs_hll *h, struct fs_buf_r *r);
int fs_qs_save(const struct fs_qs *q, struct fs_buf_w *w);
int fs_qs_load(struct fs_qs *q, struct fs_buf_r *r);
int fs_topk_save(const struct fs_topk *t, struct fs_buf_w *w);
int fs_topk_load(struct fs_topk *t, struct fs_buf_r *r);

#endif
