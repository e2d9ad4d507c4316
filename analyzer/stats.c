/*
 * stats.c - descriptive statistics for baselines and scoring, and the byte
 * cursor every sketch serialises through.
 *
 * The running statistics use Welford's update so that a slot fed millions
 * of similar values does not lose its variance to cancellation, and Chan's
 * pairwise formula to merge two of them. The small-array functions are exact;
 * they sort in place because their callers hand them scratch copies anyway.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sketch.h"

void fs_stat_init(struct fs_stat *s)
{
    memset(s, 0, sizeof(*s));
}

void fs_stat_add(struct fs_stat *s, double x)
{
    if (!isfinite(x))
        return; /* one NaN would poison the slot for good */
    double d = x - s->mean;

    s->n++;
    s->mean += d / (double)s->n;
    s->m2 += d * (x - s->mean);
}

void fs_stat_merge(struct fs_stat *dst, const struct fs_stat *src)
{
    if (src->n == 0)
        return;
    if (dst->n == 0) {
        *dst = *src;
        return;
    }
    double na = (double)dst->n, nb = (double)src->n, n = na + nb;
    double d = src->mean - dst->mean;

    dst->mean += d * nb / n;
    dst->m2 += src->m2 + d * d * na * nb / n;
    dst->n += src->n;
}

double fs_stat_mean(const struct fs_stat *s)
{
    return s->n ? s->mean : 0.0;
}

double fs_stat_var(const struct fs_stat *s)
{
    return s->n < 2 ? 0.0 : s->m2 / (double)(s->n - 1);
}

double fs_stat_std(const struct fs_stat *s)
{
    return sqrt(fs_stat_var(s));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

void fs_stat_sort(double *v, size_t n)
{
    /* Baseline samples are a few dozen: insertion sort beats qsort's calls. */
    if (n > 48) {
        qsort(v, n, sizeof(*v), cmp_double);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        double x = v[i];
        size_t j = i;

        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

double fs_stat_quantile_sorted(const double *v, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    if (!(p > 0))
        return v[0];
    if (p >= 1)
        return v[n - 1];
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)h;

    if (lo + 1 >= n)
        return v[n - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

double fs_stat_mad_sorted(const double *v, size_t n, double median)
{
    if (n == 0)
        return 0.0;
    /*
     * The deviations below the median, read from the median downwards, and
     * those above it, read upwards, are two ascending runs: merging them up
     * to the middle gives the median deviation without a second sort.
     */
    size_t right = 0;

    while (right < n && v[right] < median)
        right++;
    size_t left = right; /* v[left - 1] is the next one below */
    size_t want_lo = (n - 1) / 2, want_hi = n / 2;
    double lo_val = 0, d = 0;

    for (size_t k = 0; k <= want_hi; k++) {
        if (left > 0 && (right >= n || median - v[left - 1] <= v[right] - median))
            d = median - v[--left];
        else
            d = v[right++] - median;
        if (k == want_lo)
            lo_val = d;
    }
    return (lo_val + d) / 2;
}

void fs_stat_summarize(double *v, size_t n, struct fs_stat_summary *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0)
        return;
    fs_stat_sort(v, n);
    out->n = (uint32_t)n;
    out->min = v[0];
    out->max = v[n - 1];
    out->median = fs_stat_quantile_sorted(v, n, 0.5);
    out->q1 = fs_stat_quantile_sorted(v, n, 0.25);
    out->q3 = fs_stat_quantile_sorted(v, n, 0.75);
    out->mad = fs_stat_mad_sorted(v, n, out->median);

    /* Two passes: exact data, no need for the running update. */
    double sum = 0, ss = 0;

    for (size_t i = 0; i < n; i++)
        sum += v[i];
    out->mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - out->mean) * (v[i] - out->mean);
    out->std = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
}

void fs_stat_fences(double q1, double q3, double k, double *lo, double *hi)
{
    double iqr = q3 - q1;

    *lo = q1 - k * iqr;
    *hi = q3 + k * iqr;
}

/* Shared by both scores: a zero or negative floor on a zero spread would
 * divide by zero, and an infinite score helps nobody, so that gives 0. */
static double scaled(double dev, double spread, double floor_)
{
    double s = spread > floor_ ? spread : floor_;

    return s > 0 ? dev / s : 0.0;
}

double fs_stat_z(double x, double mean, double std, double min_std)
{
    return scaled(x - mean, std, min_std);
}

double fs_stat_robust_z(double x, double median, double mad, double min_mad)
{
    return 0.6745 * scaled(x - median, mad, min_mad);
}

/* ------------------------------------------------------------------ */

/* Little-endian whatever the host: snapshots move between machines. */
static uint64_t load_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put(struct fs_buf_w *w, const void *src, size_t n)
{
    if (w->err || n > w->cap - w->len) {
        w->err = true;
        return;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static bool get(struct fs_buf_r *r, void *dst, size_t n)
{
    if (r->err || n > r->len - r->off) {
        r->err = true;
        memset(dst, 0, n);
        return false;
    }
    memcpy(dst, r->p + r->off, n);
    r->off += n;
    return true;
}

static void put_le(struct fs_buf_w *w, uint64_t v, size_t n)
{
    uint8_t b[8];

    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, n);
}

static uint64_t get_le(struct fs_buf_r *r, size_t n)
{
    uint8_t b[8];

    get(r, b, n);
    return load_le(b, n);
}

void fs_buf_put_u8(struct fs_buf_w *w, uint8_t v) { put_le(w, v, 1); }
void fs_buf_put_u16(struct fs_buf_w *w, uint16_t v) { put_le(w, v, 2); }
void fs_buf_put_u32(struct fs_buf_w *w, uint32_t v) { put_le(w, v, 4); }
void fs_buf_put_u64(struct fs_buf_w *w, uint64_t v) { put_le(w, v, 8); }
void fs_buf_put_bytes(struct fs_buf_w *w, const void *src, size_t n) { put(w, src, n); }

void fs_buf_put_f64(struct fs_buf_w *w, double v)
{
    uint64_t u;

    memcpy(&u, &v, sizeof(u));
    put_le(w, u, 8);
}

uint8_t fs_buf_get_u8(struct fs_buf_r *r) { return (uint8_t)get_le(r, 1); }
uint16_t fs_buf_get_u16(struct fs_buf_r *r) { return (uint16_t)get_le(r, 2); }
uint32_t fs_buf_get_u32(struct fs_buf_r *r) { return (uint32_t)get_le(r, 4); }
uint64_t fs_buf_get_u64(struct fs_buf_r *r) { return get_le(r, 8); }
void fs_buf_get_bytes(struct fs_buf_r *r, void *dst, size_t n) { get(r, dst, n); }

double fs_buf_get_f64(struct fs_buf_r *r)
{
    uint64_t u = get_le(r, 8);
    double v;

    memcpy(&v, &u, sizeof(v));
    return v;
}

/*
 * Record checksum: each 8-byte word is xored into the state, which is then
 * put through a bijection (odd multiply, xorshift). A change confined to one
 * word therefore always changes the 64-bit state; the final fold to 32 bits
 * lets a random corruption through with probability 2^-32.
 */
static uint32_t checksum(const uint8_t *p, size_t n)
{
    uint64_t h = 0x6a09e667f3bcc909ULL ^ n;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        h = (h ^ load_le(p + i, 8)) * 0x9fb21c651e98df25ULL;
        h ^= h >> 29;
    }
    h = (h ^ load_le(p + i, n - i)) * 0x9fb21c651e98df25ULL;
    return (uint32_t)fs_hash_u64(h);
}

size_t fs_buf_rec_begin(struct fs_buf_w *w, uint8_t tag)
{
    size_t start = w->len;

    fs_buf_put_u8(w, tag);
    fs_buf_put_u32(w, 0); /* payload length, patched by fs_buf_rec_end */
    return start;
}

int fs_buf_rec_end(struct fs_buf_w *w, size_t start)
{
    if (w->err || w->len - start - 5 > UINT32_MAX) {
        w->err = true;
        return -1;
    }
    uint32_t len = (uint32_t)(w->len - start - 5);

    for (int i = 0; i < 4; i++)
        w->p[start + 1 + i] = (uint8_t)(len >> (8 * i));
    fs_buf_put_u32(w, checksum(w->p + start, w->len - start));
    return w->err ? -1 : 0;
}

int fs_buf_rec_open(struct fs_buf_r *r, uint8_t tag, struct fs_buf_r *payload)
{
    size_t start = r->off;
    uint8_t t = fs_buf_get_u8(r);
    uint32_t len = fs_buf_get_u32(r);

    if (r->err || t != tag || len > r->len - r->off || r->len - r->off - len < 4)
        goto bad;
    size_t end = r->off + len;
    uint32_t sum = checksum(r->p + start, end - start);

    r->off = end;
    if (fs_buf_get_u32(r) != sum)
        goto bad;
    payload->p = r->p + end - len;
    payload->len = len;
    payload->off = 0;
    payload->err = false;
    return 0;
bad:
    r->err = true;
    return -1;
}

int fs_buf_done(const struct fs_buf_r *r)
{
    return r->err || r->off != r->len ? -1 : 0;
}

int fs_stat_save(const struct fs_stat *s, struct fs_buf_w *w)
{
    size_t start = fs_buf_rec_begin(w, 'S');

    fs_buf_put_u64(w, s->n);
    fs_buf_put_f64(w, s->mean);
    fs_buf_put_f64(w, s->m2);
    return fs_buf_rec_end(w, start);
}

int fs_stat_load(struct fs_stat *s, struct fs_buf_r *r)
{
    struct fs_buf_r b;
    struct fs_stat t;

    if (fs_buf_rec_open(r, 'S', &b) < 0)
        return -1;
    t.n = fs_buf_get_u64(&b);
    t.mean = fs_buf_get_f64(&b);
    t.m2 = fs_buf_get_f64(&b);
    if (fs_buf_done(&b) < 0 || !isfinite(t.mean) || !isfinite(t.m2) || t.m2 < 0 ||
        (t.n == 0 && (t.mean != 0 || t.m2 != 0))) {
        r->err = true;
        return -1;
    }
    *s = t;
    return 0;
}
