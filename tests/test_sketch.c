/*
 * test_sketch.c - the analyzer's sketches against exact computations:
 * distinct counting (exact regime, then HyperLogLog within its theoretical
 * error from 1 to 10^6 items), the per-slot quantile sketch against a sort of
 * the same samples, Space-Saving's guarantees on a Zipf stream, and every
 * structure's serialisation (round trip; every truncation, bit flips and
 * impossible values rejected without touching the destination).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "sketch.h"

static uint64_t rng = 0x2545F4914F6CDD1DULL;

static fs_ip v4(uint32_t a)
{
    fs_ip ip;

    memset(&ip, 0, sizeof(ip));
    ip.af = 4;
    ip.b[0] = (uint8_t)(a >> 24);
    ip.b[1] = (uint8_t)(a >> 16);
    ip.b[2] = (uint8_t)(a >> 8);
    ip.b[3] = (uint8_t)a;
    return ip;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* ------------------------------------------------------------------ */

Test(hash, addresses)
{
    fs_ip a = v4(0xc0000201), b = v4(0xc0000202), c;

    cr_expect_neq(fs_hash_ip(&a), fs_hash_ip(&b));
    c = a;
    memset(c.b + 4, 0xee, 12);
    cr_expect_eq(fs_hash_ip(&a), fs_hash_ip(&c), "bytes past an IPv4 address do not count");
    c.af = 6;
    cr_expect_neq(fs_hash_ip(&a), fs_hash_ip(&c), "the family counts");
    cr_expect_neq(fs_hash_ip_port(&a, 80), fs_hash_ip_port(&a, 443));
    cr_expect_neq(fs_hash_u64(0), 0);
    cr_expect_neq(fs_hash_u64(1), fs_hash_u64(2));
}

/* ------------------------------------------------------------------ */

Test(hll, sizes)
{
    cr_expect_eq(sizeof(struct fs_hll), 128);
    cr_expect_eq(sizeof(struct fs_qs), 64);
    cr_expect_eq(sizeof(struct fs_stat), 24);
}

Test(hll, bad_precision)
{
    struct fs_hll h;

    cr_expect_eq(fs_hll_init(&h, FS_HLL_P_MIN - 1), -1);
    cr_expect_eq(fs_hll_init(&h, FS_HLL_P_MAX + 1), -1);
    cr_expect_eq(fs_hll_init(&h, FS_HLL_P_DEFAULT), 0);
}

static void fill_n(struct fs_hll *h, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        fs_hll_add(h, fs_hash_u64(i));
}

Test(hll, exact_while_small)
{
    struct fs_hll h;

    cr_assert_eq(fs_hll_init(&h, 10), 0);
    cr_expect_eq(fs_hll_count(&h), 0);
    for (uint32_t i = 1; i <= FS_HLL_SMALL; i++) {
        fs_ip ip = v4(0x0a000000 + i);

        /* Each address three times: duplicates never count. */
        for (int k = 0; k < 3; k++)
            cr_assert_eq(fs_hll_add(&h, fs_hash_ip(&ip)), 0);
        cr_assert_eq(fs_hll_count(&h), i);
        cr_assert(fs_hll_is_exact(&h));
    }
    cr_expect_eq(fs_hll_bytes(&h), sizeof(h), "no heap while exact");
    fs_ip one_more = v4(0x0b000000);
    fs_hll_add(&h, fs_hash_ip(&one_more));
    cr_expect(!fs_hll_is_exact(&h));
    cr_expect_eq(fs_hll_bytes(&h), sizeof(h) + 1024);
    /* 29 items on 1024 registers: the estimator should be within a few. */
    cr_expect(llabs((long long)fs_hll_count(&h) - 29) <= 2, "got %llu",
              (unsigned long long)fs_hll_count(&h));

    fs_hll_clear(&h);
    cr_expect_eq(fs_hll_count(&h), 0);
    cr_expect(fs_hll_is_exact(&h));
    fs_hll_add(&h, fs_hash_u64(5));
    cr_expect_eq(fs_hll_count(&h), 1);
    fs_hll_free(&h);
    cr_expect_eq(fs_hll_count(&h), 0);
    fill_n(&h, 100);
    cr_expect(!fs_hll_is_exact(&h), "usable again after free");
    fs_hll_free(&h);
}

/* n distinct items from stream `seed` (distinct inputs to a bijection). */
static void fill(struct fs_hll *h, uint64_t seed, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        fs_hll_add(h, fs_hash_u64(seed << 40 | i));
}

/*
 * Over many independent streams, the relative error's mean (bias) and RMS
 * are compared with HyperLogLog's standard error 1.04/sqrt(m): the RMS must
 * be within 35% of it (the sampling spread of an RMS of 40 trials is ~11%),
 * and the bias within 4 standard errors of the mean. The cardinalities span
 * the small range where linear counting used to take over (n < 2.5 m), the
 * old switch-over point, and the large range.
 */
static void check_error(unsigned p, const uint64_t *ns, size_t count, int trials)
{
    double m = (double)(1u << p), se = 1.04 / sqrt(m);

    for (size_t k = 0; k < count; k++) {
        double sum = 0, sq = 0, worst = 0;

        for (int t = 0; t < trials; t++) {
            struct fs_hll h;

            fs_hll_init(&h, p);
            fill(&h, (uint64_t)(t + 1) * 7919 + k, ns[k]);
            double e = ((double)fs_hll_count(&h) - (double)ns[k]) / (double)ns[k];

            sum += e;
            sq += e * e;
            if (fabs(e) > worst)
                worst = fabs(e);
            fs_hll_free(&h);
        }
        double bias = sum / trials, rms = sqrt(sq / trials);

        cr_log_info("p=%u n=%llu bias %+.4f rms %.4f (se %.4f) worst %.4f", p,
                    (unsigned long long)ns[k], bias, rms, se, worst);
        if (ns[k] > FS_HLL_SMALL) {
            cr_expect(rms < 1.35 * se, "p=%u n=%llu: rms %.4f vs se %.4f", p,
                      (unsigned long long)ns[k], rms, se);
            cr_expect(fabs(bias) < 4 * se / sqrt(trials), "p=%u n=%llu: bias %.4f", p,
                      (unsigned long long)ns[k], bias);
            cr_expect(worst < 5 * se, "p=%u n=%llu: worst %.4f", p, (unsigned long long)ns[k],
                      worst);
        } else {
            cr_expect_eq(rms, 0, "exact regime");
        }
    }
}

Test(hll, error_within_theory_p10)
{
    const uint64_t ns[] = {1, 10, 28, 29, 50, 100, 300, 700, 1000, 2000, 2560, 4000,
                           10000, 50000, 200000};

    check_error(10, ns, sizeof(ns) / sizeof(ns[0]), 40);
}

Test(hll, error_within_theory_p12)
{
    const uint64_t ns[] = {5, 100, 1000, 5000, 10240, 20000, 100000};

    check_error(12, ns, sizeof(ns) / sizeof(ns[0]), 40);
}

Test(hll, one_million)
{
    const uint64_t ns[] = {1000000};

    check_error(10, ns, 1, 8);
    check_error(12, ns, 1, 8);
}

Test(hll, rank_saturation_does_not_break_the_estimate)
{
    /* Hashes with only the index bits set hit the top rank (q + 1); every
     * register full at the top rank still gives a finite, huge estimate. */
    struct fs_hll h;

    fs_hll_init(&h, 4);
    for (uint64_t i = 0; i < 16; i++)
        for (int k = 0; k < 3; k++)
            fs_hll_add(&h, i << 60 | (uint64_t)k << 58);
    for (uint64_t i = 0; i < 16; i++)
        fs_hll_add(&h, i << 60);
    uint64_t c = fs_hll_count(&h);
    cr_expect(c > 1000000000ULL, "count %llu", (unsigned long long)c);
    fs_hll_free(&h);
}

Test(hll, merge)
{
    struct fs_hll a, b, u, s1, s2;

    fs_hll_init(&a, 11);
    fs_hll_init(&b, 11);
    fs_hll_init(&u, 11);
    /* Overlapping big sets: merging equals counting the union directly. */
    for (uint64_t i = 0; i < 30000; i++) {
        uint64_t x = fs_hash_u64(i);

        if (i < 20000)
            fs_hll_add(&a, x);
        if (i >= 10000)
            fs_hll_add(&b, x);
        fs_hll_add(&u, x);
    }
    cr_assert_eq(fs_hll_merge(&a, &b), 0);
    cr_expect_eq(fs_hll_count(&a), fs_hll_count(&u));
    cr_expect(fabs((double)fs_hll_count(&a) - 30000) < 30000 * 5 * 1.04 / sqrt(2048));

    /* Small sets: the union is exact, and stays small while it fits. */
    fs_hll_init(&s1, 11);
    fs_hll_init(&s2, 11);
    for (uint64_t i = 0; i < 10; i++)
        fs_hll_add(&s1, fs_hash_u64(i));
    for (uint64_t i = 5; i < 20; i++)
        fs_hll_add(&s2, fs_hash_u64(i));
    cr_assert_eq(fs_hll_merge(&s1, &s2), 0);
    cr_expect_eq(fs_hll_count(&s1), 20);
    cr_expect(fs_hll_is_exact(&s1));
    /* Small into big, big into small. */
    cr_assert_eq(fs_hll_merge(&u, &s1), 0);
    cr_expect(fabs((double)fs_hll_count(&u) - 30000) < 30000 * 5 * 1.04 / sqrt(2048));
    cr_assert_eq(fs_hll_merge(&s1, &u), 0);
    cr_expect(!fs_hll_is_exact(&s1));
    cr_expect_eq(fs_hll_count(&s1), fs_hll_count(&u));

    struct fs_hll other;
    fs_hll_init(&other, 10);
    cr_expect_eq(fs_hll_merge(&other, &u), -1, "precisions differ");
    fs_hll_free(&a);
    fs_hll_free(&b);
    fs_hll_free(&u);
    fs_hll_free(&s1);
    fs_hll_free(&s2);
    fs_hll_free(&other);
}

/* ------------------------------------------------------------------ */
/* Serialisation: a structure-agnostic corruption check. */

typedef int (*load_fn)(void *dst, struct fs_buf_r *r);
typedef bool (*same_fn)(const void *a, const void *b);

/* Loads `buf` (one saved record) into `dst` after every truncation and
 * after flipping bits, expecting -1 each time and `dst` equal to `fresh`. */
static void reject_corruption(const uint8_t *buf, size_t len, load_fn load, void *dst,
                              const void *fresh, same_fn same)
{
    uint8_t *c = malloc(len);

    cr_assert_not_null(c);
    for (size_t cut = 0; cut < len; cut++) {
        struct fs_buf_r r = {.p = buf, .len = cut};

        cr_assert_eq(load(dst, &r), -1, "truncated to %zu of %zu bytes", cut, len);
        cr_assert(r.err);
        cr_assert(same(dst, fresh), "destination changed by a failed load");
    }
    /* Every single-bit flip for short records, else 2000 random ones; and
     * 500 random multi-byte corruptions. */
    size_t flips = len * 8 <= 4000 ? len * 8 : 2000;

    for (size_t k = 0; k < flips + 500; k++) {
        memcpy(c, buf, len);
        if (k < flips) {
            size_t bit = len * 8 <= 4000 ? k : trng_next(&rng) % (len * 8);

            c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        } else {
            for (int j = 0; j < 4; j++)
                c[trng_next(&rng) % len] = (uint8_t)trng_next(&rng);
            if (memcmp(c, buf, len) == 0)
                continue;
        }
        struct fs_buf_r r = {.p = c, .len = len};

        cr_assert_eq(load(dst, &r), -1, "corruption %zu accepted", k);
        cr_assert(same(dst, fresh));
    }
    /* Pure garbage. */
    for (int k = 0; k < 200; k++) {
        for (size_t i = 0; i < len; i++)
            c[i] = (uint8_t)trng_next(&rng);
        struct fs_buf_r r = {.p = c, .len = len};

        cr_assert_eq(load(dst, &r), -1);
    }
    free(c);
}

/* A record with a valid frame and checksum around a made-up payload, to
 * test the value checks behind the checksum. */
static size_t forge(uint8_t *buf, size_t cap, uint8_t tag, const uint8_t *payload, size_t n)
{
    struct fs_buf_w w = {.p = buf, .cap = cap};
    size_t start = fs_buf_rec_begin(&w, tag);

    fs_buf_put_bytes(&w, payload, n);
    cr_assert_eq(fs_buf_rec_end(&w, start), 0);
    return w.len;
}

static int hll_load_v(void *d, struct fs_buf_r *r) { return fs_hll_load(d, r); }

static bool hll_same(const void *a, const void *b)
{
    const struct fs_hll *x = a, *y = b;

    return x->p == y->p && x->big == y->big && fs_hll_count(x) == fs_hll_count(y);
}

static void hll_round_trip(uint64_t n)
{
    struct fs_hll h, g, fresh;
    static uint8_t buf[1 << 17];

    fs_hll_init(&h, 12);
    fill(&h, 99, n);
    struct fs_buf_w w = {.p = buf, .cap = sizeof(buf)};
    cr_assert_eq(fs_hll_save(&h, &w), 0);

    fs_hll_init(&g, 10); /* the record's p wins */
    struct fs_buf_r r = {.p = buf, .len = w.len};
    cr_assert_eq(fs_hll_load(&g, &r), 0);
    cr_expect_eq(g.p, 12);
    cr_expect_eq(fs_hll_count(&g), fs_hll_count(&h));
    cr_expect_eq(fs_hll_is_exact(&g), fs_hll_is_exact(&h));
    /* Loaded and original keep counting alike. */
    fill(&h, 100, 50);
    fill(&g, 100, 50);
    cr_expect_eq(fs_hll_count(&g), fs_hll_count(&h));

    fs_hll_init(&fresh, 10);
    fs_hll_add(&fresh, 1);
    struct fs_hll dst = fresh;
    reject_corruption(buf, w.len, hll_load_v, &dst, &fresh, hll_same);
    fs_hll_free(&h);
    fs_hll_free(&g);
}

Test(hll, save_load_small)
{
    hll_round_trip(17);
}

Test(hll, save_load_big)
{
    hll_round_trip(100000);
}

Test(hll, impossible_values_rejected)
{
    uint8_t buf[2048], pl[1100];
    struct fs_hll h;

    fs_hll_init(&h, 10);
    /* A register above q + 1 = 55 for p = 10. */
    memset(pl, 0, sizeof(pl));
    pl[0] = 10;
    pl[1] = 1;
    pl[2 + 100] = 56;
    size_t n = forge(buf, sizeof(buf), 'H', pl, 2 + 1024);
    struct fs_buf_r r = {.p = buf, .len = n};
    cr_expect_eq(fs_hll_load(&h, &r), -1);
    pl[2 + 100] = 55;
    r = (struct fs_buf_r){.p = buf, .len = forge(buf, sizeof(buf), 'H', pl, 2 + 1024)};
    cr_expect_eq(fs_hll_load(&h, &r), 0, "55 is the top rank for p = 10");

    /* A bad precision, a small set that is too long, a duplicate member. */
    const uint8_t badp[] = {3, 0, 0, 0};
    r = (struct fs_buf_r){.p = buf, .len = forge(buf, sizeof(buf), 'H', badp, sizeof(badp))};
    cr_expect_eq(fs_hll_load(&h, &r), -1);
    const uint8_t toolong[] = {10, 0, FS_HLL_SMALL + 1, 0};
    r = (struct fs_buf_r){.p = buf, .len = forge(buf, sizeof(buf), 'H', toolong, sizeof(toolong))};
    cr_expect_eq(fs_hll_load(&h, &r), -1);
    const uint8_t dup[] = {10, 0, 2, 0, 1, 2, 3, 4, 1, 2, 3, 4};
    r = (struct fs_buf_r){.p = buf, .len = forge(buf, sizeof(buf), 'H', dup, sizeof(dup))};
    cr_expect_eq(fs_hll_load(&h, &r), -1);
    const uint8_t trailing[] = {10, 0, 0, 0, 9};
    r = (struct fs_buf_r){.p = buf, .len = forge(buf, sizeof(buf), 'H', trailing, sizeof(trailing))};
    cr_expect_eq(fs_hll_load(&h, &r), -1, "bytes left over");
    fs_hll_free(&h);
}

/* ------------------------------------------------------------------ */

static const double QS_REL = 1.0 / 2048;

static void expect_close(double got, double want, const char *what)
{
    double tol = QS_REL * (1 + fabs(want)) * (1 + 1e-9) + 1e-12;

    cr_expect(fabs(got - want) <= tol, "%s: got %.12g want %.12g", what, got, want);
}

Test(qs, coding_precision)
{
    /* One sample at a time across 20 orders of magnitude. */
    for (int i = 0; i < 20000; i++) {
        double x = pow(10, trng_unit(&rng) * 19) * trng_unit(&rng);
        struct fs_qs q;

        fs_qs_init(&q);
        fs_qs_add(&q, x);
        expect_close(fs_qs_quantile(&q, 0.5), x, "decoded sample");
    }
    struct fs_qs q;

    fs_qs_init(&q);
    cr_expect_eq(fs_qs_quantile(&q, 0.5), 0, "empty");
    fs_qs_add(&q, 0);
    cr_expect_eq(fs_qs_quantile(&q, 0.5), 0, "zero is exact");
    fs_qs_init(&q);
    fs_qs_add(&q, 1);
    cr_expect_eq(fs_qs_quantile(&q, 0.5), 1, "small integers are exact");
    fs_qs_init(&q);
    fs_qs_add(&q, -5);
    fs_qs_add(&q, NAN);
    cr_expect_eq(fs_qs_quantile(&q, 1), 0, "negative and NaN count as 0");
    fs_qs_init(&q);
    fs_qs_add(&q, 1e30);
    fs_qs_add(&q, INFINITY);
    cr_expect(fs_qs_quantile(&q, 0) > 1.8e19 && fs_qs_quantile(&q, 1) < 1.85e19, "saturates");
}

Test(qs, quantiles_match_sort_of_recent_samples)
{
    static const double ps[] = {0, 0.1, 0.25, 0.5, 0.75, 0.9, 1};

    for (int trial = 0; trial < 300; trial++) {
        struct fs_qs q;
        double hist[200], recent[FS_QS_K];
        int n = 1 + (int)(trng_next(&rng) % 200);
        double scale = pow(10, (double)(trng_next(&rng) % 10));

        fs_qs_init(&q);
        for (int i = 0; i < n; i++) {
            hist[i] = trial % 4 == 0 ? (double)(trng_next(&rng) % 20) : trng_unit(&rng) * scale;
            fs_qs_add(&q, hist[i]);
        }
        int k = n < FS_QS_K ? n : FS_QS_K;

        cr_assert_eq(fs_qs_len(&q), (unsigned)k);
        memcpy(recent, hist + n - k, (size_t)k * sizeof(double));
        qsort(recent, (size_t)k, sizeof(double), cmp_d);
        for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
            expect_close(fs_qs_quantile(&q, ps[i]),
                         fs_stat_quantile_sorted(recent, (size_t)k, ps[i]), "quantile");

        struct fs_stat_summary s, e;
        fs_qs_summarize(&q, &s);
        fs_stat_summarize(recent, (size_t)k, &e);
        cr_expect_eq(s.n, (uint32_t)k);
        expect_close(s.median, e.median, "median");
        expect_close(s.q1, e.q1, "q1");
        expect_close(s.q3, e.q3, "q3");
        expect_close(s.mean, e.mean, "mean");
        cr_expect(fabs(s.mad - e.mad) <= 2 * QS_REL * (1 + e.max) + 1e-12, "mad");
        cr_expect(fabs(s.std - e.std) <= 2 * QS_REL * (1 + e.max) + 1e-12, "std");
    }
}

Test(qs, forgets_old_samples)
{
    struct fs_qs q;

    fs_qs_init(&q);
    for (int i = 0; i < 100; i++)
        fs_qs_add(&q, 1000);
    for (int i = 0; i < FS_QS_K; i++)
        fs_qs_add(&q, 10);
    cr_expect_eq(fs_qs_quantile(&q, 1), 10, "the old level is gone after K samples");
    cr_expect_eq(q.seen, 100 + FS_QS_K);
}

Test(qs, merge_keeps_newest_of_each)
{
    struct fs_qs a, b, e;

    fs_qs_init(&a);
    fs_qs_init(&b);
    fs_qs_init(&e);
    fs_qs_merge(&a, &e);
    cr_expect_eq(fs_qs_len(&a), 0);
    /* a: 0..39 (holds 10..39), b: 100..139 (holds 110..139). */
    for (int i = 0; i < 40; i++) {
        fs_qs_add(&a, i);
        fs_qs_add(&b, 100 + i);
    }
    fs_qs_merge(&a, &b);
    cr_assert_eq(fs_qs_len(&a), FS_QS_K);
    struct fs_stat_summary s;
    fs_qs_summarize(&a, &s);
    /* Newest 15 of each: 25..39 and 125..139. */
    cr_expect_eq(s.min, 25);
    cr_expect_eq(s.max, 139);
    cr_expect_float_eq(fs_qs_quantile(&a, 14.0 / 29), 39, 1e-6);
    cr_expect_float_eq(fs_qs_quantile(&a, 15.0 / 29), 125, 1e-6);
    cr_expect_eq(a.seen, 80);
    /* The newest sample of the merge is dst's newest: one more add pushes
     * out the oldest pick, which came from src (125). */
    fs_qs_add(&a, 0);
    fs_qs_summarize(&a, &s);
    cr_expect_eq(s.min, 0);
    cr_expect_float_eq(fs_qs_quantile(&a, 15.0 / 29), 39, 1e-6);
    cr_expect_float_eq(fs_qs_quantile(&a, 16.0 / 29), 126, 1e-6);

    /* Merging into empty copies. */
    fs_qs_merge(&e, &b);
    cr_expect_eq(fs_qs_len(&e), FS_QS_K);
    cr_expect_eq(fs_qs_quantile(&e, 0), 110);
}

static int qs_load_v(void *d, struct fs_buf_r *r) { return fs_qs_load(d, r); }

static bool qs_same(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(struct fs_qs)) == 0;
}

Test(qs, save_load)
{
    struct fs_qs q, g, fresh;
    uint8_t buf[256];

    fs_qs_init(&q);
    for (int i = 0; i < 45; i++)
        fs_qs_add(&q, i * 3.7);
    struct fs_buf_w w = {.p = buf, .cap = sizeof(buf)};
    cr_assert_eq(fs_qs_save(&q, &w), 0);
    cr_expect_eq(w.len, 9 + 3 + 2 * FS_QS_K);
    fs_qs_init(&g);
    struct fs_buf_r r = {.p = buf, .len = w.len};
    cr_assert_eq(fs_qs_load(&g, &r), 0);
    cr_expect_eq(g.len, q.len);
    cr_expect_eq(g.seen, q.seen);
    /* Same samples in the same age order: adding more keeps them equal. */
    for (int i = 0; i < 7; i++) {
        fs_qs_add(&q, 1000 + i);
        fs_qs_add(&g, 1000 + i);
        for (double p = 0; p <= 1; p += 0.05)
            cr_assert_eq(fs_qs_quantile(&g, p), fs_qs_quantile(&q, p));
    }
    fs_qs_init(&fresh);
    fs_qs_add(&fresh, 5);
    g = fresh;
    reject_corruption(buf, w.len, qs_load_v, &g, &fresh, qs_same);

    /* Impossible: more samples than K, fewer seen than held. */
    const uint8_t toolong[] = {FS_QS_K + 1, 0xff, 0};
    r = (struct fs_buf_r){.p = buf, .len = forge(buf, sizeof(buf), 'Q', toolong, sizeof(toolong))};
    cr_expect_eq(fs_qs_load(&g, &r), -1);
    const uint8_t unseen[] = {1, 0, 0, 7, 0};
    r = (struct fs_buf_r){.p = buf, .len = forge(buf, sizeof(buf), 'Q', unseen, sizeof(unseen))};
    cr_expect_eq(fs_qs_load(&g, &r), -1);
}

/* ------------------------------------------------------------------ */

#define UNIVERSE 20000

/* Key i of a Zipf(s) law over 0..UNIVERSE-1, by inverting the CDF. */
static double *zipf_cdf(double s)
{
    double *cdf = malloc(UNIVERSE * sizeof(double)), sum = 0;

    cr_assert_not_null(cdf);
    for (int i = 0; i < UNIVERSE; i++)
        cdf[i] = (sum += pow(i + 1, -s));
    for (int i = 0; i < UNIVERSE; i++)
        cdf[i] /= sum;
    return cdf;
}

static unsigned zipf_draw(const double *cdf)
{
    double u = trng_unit(&rng);
    unsigned lo = 0, hi = UNIVERSE - 1;

    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;

        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct fs_topk_key key_of(unsigned i)
{
    fs_ip ip = v4(0xc6120000 + i / 4);

    return fs_topk_key_ip_port(&ip, 6, (uint16_t)(1000 + i % 4));
}

/* Space-Saving's guarantees against exact counts `truth`. */
static void check_guarantees(const struct fs_topk *t, const uint64_t *truth)
{
    unsigned cap = fs_topk_capacity(t);
    uint64_t total = 0;
    struct fs_topk_entry *list = malloc(cap * sizeof(*list));

    cr_assert_not_null(list);
    for (unsigned i = 0; i < UNIVERSE; i++)
        total += truth[i];
    size_t n = fs_topk_list(t, list, cap);
    uint64_t bound = total / cap;
    uint64_t maxerr = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned k = (list[i].key.ip.b[2] << 8 | list[i].key.ip.b[3]) * 4 + (list[i].key.port - 1000);

        cr_assert(list[i].count - list[i].err <= truth[k] && truth[k] <= list[i].count,
                  "key %u: true %llu outside [%llu - %llu, %llu]", k,
                  (unsigned long long)truth[k], (unsigned long long)list[i].count,
                  (unsigned long long)list[i].err, (unsigned long long)list[i].count);
        cr_assert(list[i].err <= bound, "error %llu above total/capacity %llu",
                  (unsigned long long)list[i].err, (unsigned long long)bound);
        if (i > 0)
            cr_assert(list[i - 1].count >= list[i].count, "list not sorted");
        if (list[i].err > maxerr)
            maxerr = list[i].err;
    }
    /* Every key heavier than total/capacity is held, and any two keys
     * whose true weights differ by more than the largest error are listed
     * in the right order. */
    for (unsigned k = 0; k < UNIVERSE; k++) {
        struct fs_topk_entry e;
        struct fs_topk_key key = key_of(k);

        if (truth[k] > bound)
            cr_assert(fs_topk_get(t, &key, &e), "heavy key %u (%llu > %llu) missing", k,
                      (unsigned long long)truth[k], (unsigned long long)bound);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            unsigned a = (list[i].key.ip.b[2] << 8 | list[i].key.ip.b[3]) * 4 + (list[i].key.port - 1000);
            unsigned b = (list[j].key.ip.b[2] << 8 | list[j].key.ip.b[3]) * 4 + (list[j].key.port - 1000);

            cr_assert(!(truth[b] > truth[a] + maxerr), "%u listed before %u", a, b);
        }
    free(list);
}

static void zipf_stream(struct fs_topk *t, uint64_t *truth, const double *cdf, int n, bool weighted)
{
    for (int i = 0; i < n; i++) {
        unsigned k = zipf_draw(cdf);
        uint64_t w = weighted ? 40 + trng_next(&rng) % 1460 : 1;
        struct fs_topk_key key = key_of(k);

        truth[k] += w;
        fs_topk_add(t, &key, w);
    }
}

Test(topk, zipf_guarantees)
{
    double *cdf = zipf_cdf(1.1);
    uint64_t *truth = calloc(UNIVERSE, sizeof(uint64_t));
    struct fs_topk *t = fs_topk_new(100);

    cr_assert_not_null(t);
    zipf_stream(t, truth, cdf, 300000, false);
    check_guarantees(t, truth);
    cr_expect_eq(fs_topk_total(t), 300000);
    cr_expect_gt(fs_topk_evictions(t), 0);

    /* The true top 10 are the sketch's top 10, in order, on this stream. */
    struct fs_topk_entry top[10];
    cr_assert_eq(fs_topk_list(t, top, 10), 10);
    for (unsigned i = 0; i < 10; i++) {
        struct fs_topk_key want = key_of(i);

        cr_expect_eq(memcmp(&top[i].key.ip.b, &want.ip.b, 4), 0, "rank %u", i);
        cr_expect_eq(top[i].key.port, want.port, "rank %u", i);
    }

    /* Weighted (bytes) on a flatter law. */
    double *cdf2 = zipf_cdf(0.9);
    memset(truth, 0, UNIVERSE * sizeof(uint64_t));
    fs_topk_clear(t);
    cr_expect_eq(fs_topk_total(t), 0);
    zipf_stream(t, truth, cdf2, 300000, true);
    check_guarantees(t, truth);
    fs_topk_free(t);
    free(cdf);
    free(cdf2);
    free(truth);
}

Test(topk, exact_when_keys_fit)
{
    struct fs_topk *t = fs_topk_new(8);
    struct fs_topk_entry e[8];

    for (unsigned i = 0; i < 8; i++) {
        struct fs_topk_key k = fs_topk_key_id(100 + i);

        for (unsigned j = 0; j <= i; j++)
            fs_topk_add(t, &k, 10);
    }
    struct fs_topk_key zero = fs_topk_key_id(1);
    fs_topk_add(t, &zero, 0);
    cr_assert_eq(fs_topk_list(t, e, 8), 8);
    for (unsigned i = 0; i < 8; i++) {
        cr_expect_eq(e[i].key.id, 107 - i);
        cr_expect_eq(e[i].count, 10 * (8 - i));
        cr_expect_eq(e[i].err, 0);
    }
    cr_expect_eq(fs_topk_evictions(t), 0);
    cr_expect(!fs_topk_get(t, &zero, &e[0]), "weight 0 adds nothing");

    /* A ninth key takes over the smallest counter (id 100, count 10). */
    struct fs_topk_key ninth = fs_topk_key_id(999);
    fs_topk_add(t, &ninth, 1);
    cr_expect_eq(fs_topk_evictions(t), 1);
    struct fs_topk_key first = fs_topk_key_id(100);
    cr_expect(!fs_topk_get(t, &first, &e[0]));
    cr_assert(fs_topk_get(t, &ninth, &e[0]));
    cr_expect_eq(e[0].count, 11);
    cr_expect_eq(e[0].err, 10);

    /* Ties are listed by key. */
    fs_topk_clear(t);
    for (unsigned i = 0; i < 5; i++) {
        struct fs_topk_key k = fs_topk_key_id(50 - i);
        fs_topk_add(t, &k, 3);
    }
    cr_assert_eq(fs_topk_list(t, e, 3), 3);
    cr_expect_eq(e[0].key.id, 46);
    cr_expect_eq(e[1].key.id, 47);
    cr_expect_eq(e[2].key.id, 48);
    fs_topk_free(t);
}

Test(topk, keys_compare_by_used_bytes)
{
    struct fs_topk *t = fs_topk_new(4);
    fs_ip a = v4(0x0a000001), b = a;
    struct fs_topk_entry e;

    memset(b.b + 4, 0x77, 12); /* garbage past the IPv4 address */
    struct fs_topk_key ka = fs_topk_key_ip_port(&a, 17, 53), kb = fs_topk_key_ip_port(&b, 17, 53);
    struct fs_topk_key kc = fs_topk_key_ip_port(&a, 6, 53), kd = fs_topk_key_ip(&a);
    fs_topk_add(t, &ka, 5);
    fs_topk_add(t, &kb, 5);
    fs_topk_add(t, &kc, 1);
    fs_topk_add(t, &kd, 1);
    cr_assert(fs_topk_get(t, &ka, &e));
    cr_expect_eq(e.count, 10, "same address, same key");
    cr_assert(fs_topk_get(t, &kc, &e));
    cr_expect_eq(e.count, 1, "the protocol is part of the key");
    cr_expect_eq(fs_topk_list(t, &e, 1), 1);
    cr_expect(fs_topk_bytes(t) > 4 * sizeof(struct fs_topk_entry));
    fs_topk_free(t);
    cr_expect_null(fs_topk_new(0));
    cr_expect_null(fs_topk_new(65536));
}

Test(topk, decay)
{
    struct fs_topk *t = fs_topk_new(16);
    struct fs_topk_entry e;

    for (unsigned i = 1; i <= 10; i++) {
        struct fs_topk_key k = fs_topk_key_id(i);
        fs_topk_add(t, &k, i * 100);
    }
    struct fs_topk_key one = fs_topk_key_id(1);
    fs_topk_decay(t, 0.5);
    cr_assert(fs_topk_get(t, &one, &e));
    cr_expect_eq(e.count, 50);
    cr_expect_eq(fs_topk_total(t), 2750);
    fs_topk_decay(t, 0.015); /* 50 -> 0: dropped; 1000*0.5*0.015 = 7 stays */
    cr_expect(!fs_topk_get(t, &one, &e));
    struct fs_topk_key ten = fs_topk_key_id(10);
    cr_assert(fs_topk_get(t, &ten, &e));
    cr_expect_eq(e.count, 7);
    /* After decay the structure still works: a new key and an increment. */
    fs_topk_add(t, &one, 1000);
    struct fs_topk_entry l[16];
    cr_assert_gt(fs_topk_list(t, l, 16), 1);
    cr_expect_eq(l[0].key.id, 1);
    fs_topk_decay(t, 0);
    cr_expect_eq(fs_topk_list(t, l, 16), 0);
    fs_topk_free(t);
}

Test(topk, merge)
{
    double *cdf = zipf_cdf(1.0);
    uint64_t *truth = calloc(UNIVERSE, sizeof(uint64_t));
    struct fs_topk *a = fs_topk_new(200), *b = fs_topk_new(200);

    zipf_stream(a, truth, cdf, 200000, true);
    zipf_stream(b, truth, cdf, 100000, true);
    uint64_t total = fs_topk_total(a) + fs_topk_total(b);
    cr_assert_eq(fs_topk_merge(a, b), 0);
    cr_expect_eq(fs_topk_total(a), total);
    struct fs_topk_entry *l = malloc(200 * sizeof(*l));
    size_t n = fs_topk_list(a, l, 200);
    cr_expect_eq(n, 200);
    for (size_t i = 0; i < n; i++) {
        unsigned k = (l[i].key.ip.b[2] << 8 | l[i].key.ip.b[3]) * 4 + (l[i].key.port - 1000);

        cr_assert(l[i].count - l[i].err <= truth[k] && truth[k] <= l[i].count,
                  "merged key %u out of its bounds", k);
    }
    /* Keys above total/capacity of the merged stream survive the merge. */
    for (unsigned k = 0; k < UNIVERSE; k++) {
        struct fs_topk_key key = key_of(k);
        struct fs_topk_entry e;

        if (truth[k] > total / 200)
            cr_expect(fs_topk_get(a, &key, &e), "heavy key %u lost", k);
    }
    free(l);
    free(cdf);
    free(truth);
    fs_topk_free(a);
    fs_topk_free(b);
}

static int key_cmp_test(const struct fs_topk_key *a, const struct fs_topk_key *b)
{
    if (a->ip.af != b->ip.af || a->proto != b->proto || a->port != b->port || a->id != b->id)
        return 1;
    return memcmp(a->ip.b, b->ip.b, a->ip.af == 6 ? 16 : a->ip.af == 4 ? 4 : 0);
}

static int topk_load_v(void *d, struct fs_buf_r *r) { return fs_topk_load(*(struct fs_topk **)d, r); }

static bool topk_same(const void *a, const void *b)
{
    const struct fs_topk *x = *(struct fs_topk *const *)a, *y = *(struct fs_topk *const *)b;
    struct fs_topk_entry ex[64], ey[64];
    size_t nx = fs_topk_list(x, ex, 64), ny = fs_topk_list(y, ey, 64);

    if (nx != ny || fs_topk_total(x) != fs_topk_total(y))
        return false;
    for (size_t i = 0; i < nx; i++)
        if (ex[i].count != ey[i].count || ex[i].err != ey[i].err || ex[i].key.id != ey[i].key.id)
            return false;
    return true;
}

Test(topk, save_load)
{
    struct fs_topk *t = fs_topk_new(32), *g = fs_topk_new(32), *big = fs_topk_new(64);
    struct fs_topk *small = fs_topk_new(16);
    static uint8_t buf[8192];
    fs_ip six;

    memset(&six, 0, sizeof(six));
    six.af = 6;
    six.b[0] = 0x20;
    six.b[15] = 1;
    for (unsigned i = 0; i < 200; i++) {
        struct fs_topk_key k = i % 3 ? key_of(i % 50) : fs_topk_key_ip_port(&six, 17, (uint16_t)i);
        fs_topk_add(t, &k, 1 + i % 7);
    }
    struct fs_buf_w w = {.p = buf, .cap = sizeof(buf)};
    cr_assert_eq(fs_topk_save(t, &w), 0);
    struct fs_buf_r r = {.p = buf, .len = w.len};
    cr_assert_eq(fs_topk_load(g, &r), 0);
    cr_expect(topk_same(&t, &g));
    cr_expect_eq(fs_topk_evictions(g), fs_topk_evictions(t));
    r = (struct fs_buf_r){.p = buf, .len = w.len};
    cr_assert_eq(fs_topk_load(big, &r), 0, "a larger capacity is fine");
    cr_expect(topk_same(&t, &big));
    /* The loaded copy keeps working like the original. */
    for (unsigned i = 0; i < 100; i++) {
        struct fs_topk_key k = key_of(i % 9);
        fs_topk_add(t, &k, 3);
        fs_topk_add(g, &k, 3);
    }
    struct fs_topk_entry et[32], eg[32];
    size_t nt = fs_topk_list(t, et, 32);
    cr_assert_eq(fs_topk_list(g, eg, 32), nt);
    for (size_t i = 0; i < nt; i++) {
        cr_expect_eq(et[i].count, eg[i].count);
        cr_expect_eq(et[i].err, eg[i].err);
        cr_expect_eq(key_cmp_test(&et[i].key, &eg[i].key), 0);
    }

    r = (struct fs_buf_r){.p = buf, .len = w.len};
    cr_expect_eq(fs_topk_load(small, &r), -1, "capacity below the saved size");

    struct fs_topk *fresh = fs_topk_new(64), *dst = fs_topk_new(64);
    struct fs_topk_key one = fs_topk_key_id(1);
    fs_topk_add(fresh, &one, 1);
    fs_topk_add(dst, &one, 1);
    reject_corruption(buf, w.len, topk_load_v, &dst, &fresh, topk_same);

    /* Impossible entries behind a good checksum: err > count, a duplicate. */
    struct fs_buf_w f = {.p = buf, .cap = sizeof(buf)};
    size_t start = fs_buf_rec_begin(&f, 'T');
    fs_buf_put_u32(&f, 1);
    fs_buf_put_u64(&f, 10);
    fs_buf_put_u64(&f, 0);
    fs_buf_put_u8(&f, 0);
    fs_buf_put_u8(&f, 0);
    fs_buf_put_u16(&f, 0);
    fs_buf_put_u64(&f, 5);
    fs_buf_put_u64(&f, 3);
    fs_buf_put_u64(&f, 4);
    cr_assert_eq(fs_buf_rec_end(&f, start), 0);
    r = (struct fs_buf_r){.p = buf, .len = f.len};
    cr_expect_eq(fs_topk_load(dst, &r), -1, "err above count");

    f = (struct fs_buf_w){.p = buf, .cap = sizeof(buf)};
    start = fs_buf_rec_begin(&f, 'T');
    fs_buf_put_u32(&f, 2);
    fs_buf_put_u64(&f, 10);
    fs_buf_put_u64(&f, 0);
    for (int i = 0; i < 2; i++) {
        fs_buf_put_u8(&f, 0);
        fs_buf_put_u8(&f, 0);
        fs_buf_put_u16(&f, 0);
        fs_buf_put_u64(&f, 5);
        fs_buf_put_u64(&f, 3);
        fs_buf_put_u64(&f, 0);
    }
    cr_assert_eq(fs_buf_rec_end(&f, start), 0);
    r = (struct fs_buf_r){.p = buf, .len = f.len};
    cr_expect_eq(fs_topk_load(dst, &r), -1, "duplicate key");
    cr_expect(topk_same(&dst, &fresh));

    fs_topk_free(t);
    fs_topk_free(g);
    fs_topk_free(big);
    fs_topk_free(small);
    fs_topk_free(fresh);
    fs_topk_free(dst);
}
