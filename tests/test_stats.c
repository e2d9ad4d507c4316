/*
 * test_stats.c - descriptive statistics (analyzer/stats.c) against values
 * computed by hand or by the textbook two-pass formulas, and the byte cursor
 * and record framing every sketch serialises through.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "sketch.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t rng = 88172645463325252ULL;

static void two_pass(const double *v, size_t n, double *mean, double *var)
{
    double s = 0, ss = 0;

    for (size_t i = 0; i < n; i++)
        s += v[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - *mean) * (v[i] - *mean);
    *var = n > 1 ? ss / (double)(n - 1) : 0;
}

Test(stats, welford_textbook_example)
{
    /* Mean 5, sum of squared deviations 32: sample variance 32/7. */
    const double v[] = {2, 4, 4, 4, 5, 5, 7, 9};
    struct fs_stat s;

    fs_stat_init(&s);
    cr_expect_eq(fs_stat_mean(&s), 0);
    cr_expect_eq(fs_stat_var(&s), 0);
    for (size_t i = 0; i < ARRAY_LEN(v); i++)
        fs_stat_add(&s, v[i]);
    cr_expect_eq(s.n, 8);
    cr_expect_float_eq(fs_stat_mean(&s), 5.0, 1e-12);
    cr_expect_float_eq(fs_stat_var(&s), 32.0 / 7.0, 1e-12);
    cr_expect_float_eq(fs_stat_std(&s), sqrt(32.0 / 7.0), 1e-12);
}

Test(stats, welford_single_sample_and_nan)
{
    struct fs_stat s;

    fs_stat_init(&s);
    fs_stat_add(&s, 42);
    cr_expect_eq(fs_stat_mean(&s), 42);
    cr_expect_eq(fs_stat_var(&s), 0, "one sample has no spread");
    fs_stat_add(&s, NAN);
    fs_stat_add(&s, INFINITY);
    cr_expect_eq(s.n, 1, "non-finite samples are ignored");
    cr_expect_eq(fs_stat_mean(&s), 42);
}

Test(stats, welford_matches_two_pass_with_large_offset)
{
    /* Large offset, small spread: the naive sum-of-squares formula loses
     * every digit here; Welford must agree with two-pass. */
    double v[1000], mean, var;
    struct fs_stat s;

    fs_stat_init(&s);
    for (size_t i = 0; i < ARRAY_LEN(v); i++) {
        v[i] = 1e9 + trng_unit(&rng) * 10;
        fs_stat_add(&s, v[i]);
    }
    two_pass(v, ARRAY_LEN(v), &mean, &var);
    cr_expect_float_eq(fs_stat_mean(&s), mean, 1e-6);
    cr_expect(fabs(fs_stat_var(&s) - var) < 1e-6 * var, "var %.9g vs two-pass %.9g",
              fs_stat_var(&s), var);
}

Test(stats, merge_equals_one_pass)
{
    double v[500], mean, var;

    for (size_t i = 0; i < ARRAY_LEN(v); i++)
        v[i] = trng_unit(&rng) * 1000 - 300;
    two_pass(v, ARRAY_LEN(v), &mean, &var);
    /* Every split point, including the empty halves. */
    for (size_t cut = 0; cut <= ARRAY_LEN(v); cut += 50) {
        struct fs_stat a, b;

        fs_stat_init(&a);
        fs_stat_init(&b);
        for (size_t i = 0; i < cut; i++)
            fs_stat_add(&a, v[i]);
        for (size_t i = cut; i < ARRAY_LEN(v); i++)
            fs_stat_add(&b, v[i]);
        fs_stat_merge(&a, &b);
        cr_expect_eq(a.n, ARRAY_LEN(v));
        cr_expect(fabs(fs_stat_mean(&a) - mean) < 1e-9, "cut %zu mean", cut);
        cr_expect(fabs(fs_stat_var(&a) - var) < 1e-9 * var, "cut %zu var", cut);
    }
}

Test(stats, quantiles_r7_hand_computed)
{
    /* numpy.percentile (linear) of the same arrays. */
    double a[] = {4, 1, 3, 2};
    double b[] = {41, 7, 39, 15, 40, 36};
    double c[] = {9, 7, 5, 3, 1};
    struct fs_stat_summary s;

    fs_stat_summarize(a, ARRAY_LEN(a), &s);
    cr_expect_float_eq(s.q1, 1.75, 1e-12);
    cr_expect_float_eq(s.median, 2.5, 1e-12);
    cr_expect_float_eq(s.q3, 3.25, 1e-12);
    cr_expect_eq(s.min, 1);
    cr_expect_eq(s.max, 4);
    cr_expect_float_eq(s.mean, 2.5, 1e-12);

    fs_stat_summarize(b, ARRAY_LEN(b), &s);
    cr_expect_float_eq(s.q1, 20.25, 1e-12);
    cr_expect_float_eq(s.median, 37.5, 1e-12);
    cr_expect_float_eq(s.q3, 39.75, 1e-12);

    fs_stat_summarize(c, ARRAY_LEN(c), &s);
    cr_expect_float_eq(s.q1, 3, 1e-12);
    cr_expect_float_eq(s.median, 5, 1e-12);
    cr_expect_float_eq(s.q3, 7, 1e-12);
    cr_expect_float_eq(s.std, sqrt(10), 1e-12); /* deviations 4,2,0,2,4: 40/4 */

    /* The sorted array's extremes and p = 0.9 of 1..10: 1 + 0.9*9 = 9.1. */
    double d[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    cr_expect_float_eq(fs_stat_quantile_sorted(d, 10, 0.9), 9.1, 1e-12);
    cr_expect_eq(fs_stat_quantile_sorted(d, 10, 0), 1);
    cr_expect_eq(fs_stat_quantile_sorted(d, 10, 1), 10);
    cr_expect_eq(fs_stat_quantile_sorted(d, 0, 0.5), 0);
}

Test(stats, mad_hand_computed)
{
    /* Median 2; |x - 2| = 1,1,0,0,2,4,7, whose median is 1. */
    double a[] = {1, 1, 2, 2, 4, 6, 9};
    /* Median 2.5; deviations 1.5,0.5,0.5,1.5: MAD 1. */
    double b[] = {1, 2, 3, 4};
    struct fs_stat_summary s;

    fs_stat_summarize(a, ARRAY_LEN(a), &s);
    cr_expect_float_eq(s.median, 2, 1e-12);
    cr_expect_float_eq(s.mad, 1, 1e-12);
    fs_stat_summarize(b, ARRAY_LEN(b), &s);
    cr_expect_float_eq(s.mad, 1, 1e-12);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

Test(stats, mad_matches_sort_of_deviations)
{
    /* The O(n) merge against the definition: sort the deviations. */
    for (int trial = 0; trial < 500; trial++) {
        size_t n = 1 + trng_next(&rng) % 80;
        double v[80], dev[80];

        for (size_t i = 0; i < n; i++)
            /* ties too */
            v[i] = trial % 3 == 0 ? (double)(trng_next(&rng) % 5) : trng_unit(&rng) * 100;
        fs_stat_sort(v, n);
        for (size_t i = 1; i < n; i++)
            cr_assert(v[i - 1] <= v[i], "fs_stat_sort left the array unsorted");
        double med = fs_stat_quantile_sorted(v, n, 0.5);

        for (size_t i = 0; i < n; i++)
            dev[i] = fabs(v[i] - med);
        qsort(dev, n, sizeof(dev[0]), cmp_d);
        double want = (dev[(n - 1) / 2] + dev[n / 2]) / 2;

        cr_assert_float_eq(fs_stat_mad_sorted(v, n, med), want, 1e-12, "trial %d n %zu", trial, n);
    }
}

Test(stats, summary_of_tiny_samples)
{
    struct fs_stat_summary s;
    double one = 7;

    fs_stat_summarize(NULL, 0, &s);
    cr_expect_eq(s.n, 0);
    cr_expect_eq(s.median, 0);
    fs_stat_summarize(&one, 1, &s);
    cr_expect_eq(s.n, 1);
    cr_expect_eq(s.median, 7);
    cr_expect_eq(s.q1, 7);
    cr_expect_eq(s.q3, 7);
    cr_expect_eq(s.mad, 0);
    cr_expect_eq(s.std, 0);
}

Test(stats, large_arrays_sort_too)
{
    double v[1001];

    for (size_t i = 0; i < ARRAY_LEN(v); i++)
        v[i] = (double)((i * 7919) % 1001); /* a permutation of 0..1000 */
    struct fs_stat_summary s;

    fs_stat_summarize(v, ARRAY_LEN(v), &s);
    cr_expect_eq(s.median, 500);
    cr_expect_eq(s.q1, 250);
    cr_expect_eq(s.q3, 750);
    cr_expect_eq(s.mad, 250);
}

Test(stats, fences_and_scores)
{
    double lo, hi;

    fs_stat_fences(1.75, 3.25, 1.5, &lo, &hi);
    cr_expect_float_eq(lo, -0.5, 1e-12);
    cr_expect_float_eq(hi, 5.5, 1e-12);

    cr_expect_float_eq(fs_stat_z(10, 5, 2, 0.1), 2.5, 1e-12);
    cr_expect_float_eq(fs_stat_z(0, 5, 2, 0.1), -2.5, 1e-12);
    cr_expect_float_eq(fs_stat_z(10, 5, 0.001, 1), 5, 1e-12, "the floor applies");
    cr_expect_eq(fs_stat_z(6, 5, 0, 0), 0, "no spread and no floor: 0, not inf");

    cr_expect_float_eq(fs_stat_robust_z(10, 2, 1, 0.5), 0.6745 * 8, 1e-12);
    cr_expect_float_eq(fs_stat_robust_z(10, 2, 0, 0.5), 0.6745 * 16, 1e-12);
}

Test(buf, little_endian_and_overrun)
{
    uint8_t b[16];
    struct fs_buf_w w = {.p = b, .cap = sizeof(b)};

    fs_buf_put_u32(&w, 0x01020304);
    fs_buf_put_u16(&w, 0xa0b0);
    fs_buf_put_f64(&w, -2.5);
    cr_assert(!w.err);
    cr_expect_eq(w.len, 14);
    const uint8_t want[] = {4, 3, 2, 1, 0xb0, 0xa0};
    cr_expect_eq(memcmp(b, want, sizeof(want)), 0);
    fs_buf_put_u32(&w, 1);
    cr_expect(w.err, "a write past the end is an error");
    cr_expect_eq(w.len, 14, "and writes nothing");

    struct fs_buf_r r = {.p = b, .len = 14};
    cr_expect_eq(fs_buf_get_u32(&r), 0x01020304);
    cr_expect_eq(fs_buf_get_u16(&r), 0xa0b0);
    cr_expect_eq(fs_buf_get_f64(&r), -2.5);
    cr_expect_eq(fs_buf_done(&r), 0);
    cr_expect_eq(fs_buf_get_u8(&r), 0);
    cr_expect(r.err);
    cr_expect_eq(fs_buf_done(&r), -1);
}

Test(buf, record_framing)
{
    uint8_t b[64];
    struct fs_buf_w w = {.p = b, .cap = sizeof(b)};
    size_t start = fs_buf_rec_begin(&w, 'X');

    fs_buf_put_u16(&w, 7);
    cr_assert_eq(fs_buf_rec_end(&w, start), 0);
    cr_expect_eq(w.len, 1 + 4 + 2 + 4);
    cr_expect_eq(b[1], 2, "payload length");

    struct fs_buf_r r = {.p = b, .len = w.len}, p;
    cr_assert_eq(fs_buf_rec_open(&r, 'X', &p), 0);
    cr_expect_eq(fs_buf_get_u16(&p), 7);
    cr_expect_eq(fs_buf_done(&p), 0);
    cr_expect_eq(r.off, w.len, "reader moved past the record");

    struct fs_buf_r r2 = {.p = b, .len = w.len};
    cr_expect_eq(fs_buf_rec_open(&r2, 'Y', &p), -1, "wrong tag");
    cr_expect(r2.err);

    /* No room for the checksum: the writer reports it. */
    uint8_t small[8];
    struct fs_buf_w ws = {.p = small, .cap = sizeof(small)};
    start = fs_buf_rec_begin(&ws, 'X');
    fs_buf_put_u16(&ws, 7);
    cr_expect_eq(fs_buf_rec_end(&ws, start), -1);
}

Test(stats, save_load_round_trip_and_corruption)
{
    struct fs_stat s, t;
    uint8_t b[64];

    fs_stat_init(&s);
    for (int i = 0; i < 10; i++)
        fs_stat_add(&s, i * 1.5);
    struct fs_buf_w w = {.p = b, .cap = sizeof(b)};
    cr_assert_eq(fs_stat_save(&s, &w), 0);

    struct fs_buf_r r = {.p = b, .len = w.len};
    fs_stat_init(&t);
    cr_assert_eq(fs_stat_load(&t, &r), 0);
    cr_expect_eq(memcmp(&s, &t, sizeof(s)), 0);

    for (size_t cut = 0; cut < w.len; cut++) {
        struct fs_buf_r rc = {.p = b, .len = cut};
        fs_stat_init(&t);
        cr_expect_eq(fs_stat_load(&t, &rc), -1, "truncated at %zu", cut);
        cr_expect_eq(t.n, 0, "destination untouched");
    }
    for (size_t bit = 0; bit < w.len * 8; bit++) {
        uint8_t c[64];
        memcpy(c, b, w.len);
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        struct fs_buf_r rc = {.p = c, .len = w.len};
        cr_expect_eq(fs_stat_load(&t, &rc), -1, "bit %zu flipped", bit);
    }

    /* A well-framed record with an impossible value (negative m2). */
    struct fs_buf_w wb = {.p = b, .cap = sizeof(b)};
    size_t start = fs_buf_rec_begin(&wb, 'S');
    fs_buf_put_u64(&wb, 3);
    fs_buf_put_f64(&wb, 1.0);
    fs_buf_put_f64(&wb, -1.0);
    cr_assert_eq(fs_buf_rec_end(&wb, start), 0);
    struct fs_buf_r rb = {.p = b, .len = wb.len};
    cr_expect_eq(fs_stat_load(&t, &rb), -1);
}
