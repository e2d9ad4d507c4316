/*
 * test_usual_span.c - the two building blocks of the scan, sweep and
 * lateral-movement detectors, against hand-computed values: the "far above
 * the usual level" threshold and its day-peak learning (analyzer/usual.h),
 * and distinct counts per window and over a rolling horizon
 * (analyzer/span.h).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "span.h"
#include "usual.h"

static const struct fs_usual_cfg cfg = { .floor = 10, .ratio = 3, .z = 6, .cold_factor = 1.5,
                                         .min_samples = 3 };

Test(usual, without_history_the_raised_floor_applies)
{
    struct fs_usual_verdict v;

    cr_expect_eq(fs_usual_judge(NULL, &cfg, 14.9, &v), 0);
    cr_expect_eq(v.threshold, 15);
    cr_expect_eq(v.samples, 0);
    cr_expect(fabs(fs_usual_judge(NULL, &cfg, 150, &v) - 90) < 1e-9);
}

Test(usual, threshold_is_the_largest_of_floor_ratio_and_robust_z)
{
    struct fs_usual u;
    struct fs_usual_verdict v;

    memset(&u, 0, sizeof(u));
    /* 1, 1, 1, 1, 5: upper quartile 1, MAD 0: the floor of 10 rules. */
    for (int i = 0; i < 4; i++)
        fs_usual_add(&u, 1);
    fs_usual_add(&u, 5);
    cr_expect(fabs(fs_usual_judge(&u, &cfg, 15, &v) - (50 + 40 * log10(1.5))) < 1e-9);
    cr_expect_eq(v.threshold, 10);
    cr_expect_eq(v.usual, 1);
    cr_expect_eq(v.samples, 5);

    /* 10, 20, 30, 40: Q3 (R-7) = 30 + 0.25 x 10 = 32.5, ratio 3 gives 97.5;
     * median 25, MAD 10: 25 + 6 x 1.4826 x 10 = 113.956 rules. */
    memset(&u, 0, sizeof(u));
    for (int i = 1; i <= 4; i++)
        fs_usual_add(&u, 10.0 * i);
    cr_expect_eq(fs_usual_judge(&u, &cfg, 113, &v), 0);
    cr_expect(fabs(v.threshold - 113.956) < 1e-9, "threshold %g", v.threshold);
    cr_expect_eq(v.usual, 32.5);
    cr_expect_eq(v.median, 25);
    cr_expect_eq(v.mad, 10);
}

Test(usual, a_reported_day_is_learned_only_before_there_is_a_baseline)
{
    struct fs_usual_day d;
    struct fs_usual_verdict v;

    memset(&d, 0, sizeof(d));
    /* Three days of 40 each, reported (no baseline yet) and learned. */
    for (int day = 0; day < 3; day++) {
        cr_expect_gt(fs_usual_day_judge(&d, &cfg, 40, true, &v), 0);
        cr_expect_eq(fs_usual_day_judge(&d, &cfg, 25, true, &v) > 0, true);
        fs_usual_day_learn(&d);
    }
    cr_expect_eq(fs_usual_samples(&d.usual), 3);
    /* Now 40 is usual; 200 is reported and that day not learned. */
    cr_expect_eq(fs_usual_day_judge(&d, &cfg, 40, true, &v), 0);
    cr_expect_eq(v.threshold, 120);
    cr_expect_gt(fs_usual_day_judge(&d, &cfg, 200, true, &v), 0);
    fs_usual_day_learn(&d);
    cr_expect_eq(fs_usual_samples(&d.usual), 3);
    /* Out of line in the warm-up (no findings possible): learned. */
    fs_usual_day_judge(&d, &cfg, 200, false, &v);
    fs_usual_day_learn(&d);
    cr_expect_eq(fs_usual_samples(&d.usual), 4);
    /* A quiet day is a sample of 0. */
    fs_usual_day_learn(&d);
    cr_expect_eq(fs_usual_samples(&d.usual), 5);
    cr_expect_eq(d.peak, 0);
}

Test(usual, a_repeat_is_quiet_unless_more_severe_or_late)
{
    struct fs_usual_alerted a = { 0, 0 };

    cr_expect_not(fs_usual_repeat(&a, 1000, 3600000, 50));
    fs_usual_alerted_set(&a, 1000, 50);
    cr_expect(fs_usual_repeat(&a, 2000, 3600000, 60));   /* still medium */
    cr_expect_not(fs_usual_repeat(&a, 2000, 3600000, 70)); /* high */
    cr_expect_not(fs_usual_repeat(&a, 1000 + 3600000, 3600000, 50));
}

Test(usual, saved_day_round_trips_and_refuses_damage)
{
    struct fs_usual_day d, back;
    uint8_t buf[FS_USUAL_DAY_SNAP_MAX];
    struct fs_buf_w w = { .p = buf, .cap = sizeof(buf) };
    struct fs_usual_verdict v;

    memset(&d, 0, sizeof(d));
    for (int i = 1; i <= 5; i++)
        fs_usual_add(&d.usual, i);
    fs_usual_day_judge(&d, &cfg, 7, true, &v);
    cr_assert_eq(fs_usual_day_save(&d, &w), 0);
    struct fs_buf_r r = { .p = buf, .len = w.len };

    cr_assert_eq(fs_usual_day_load(&back, &r), 0);
    cr_expect_eq(r.off, w.len);
    cr_expect_eq(back.peak, 7);
    cr_expect_eq(fs_usual_samples(&back.usual), 5);
    /* A negative peak is not a count. */
    double bad = -1;

    memcpy(buf + w.len - 9, &bad, 8);
    r = (struct fs_buf_r){ .p = buf, .len = w.len };
    cr_expect_eq(fs_usual_day_load(&back, &r), -1);
    cr_expect_eq(back.peak, 7);
}

static uint64_t h(unsigned i)
{
    return fs_hash_u64(i);
}

#define MIN 60000ull

Test(span, windows_hold_two_and_refuse_older_ones)
{
    struct fs_span s;

    fs_span_init(&s, 30 * MIN);
    cr_expect(fs_span_add(&s, 5 * MIN, 5 * MIN, h(1)));
    cr_expect(fs_span_add(&s, 5 * MIN, 6 * MIN, h(2)));
    cr_expect(fs_span_add(&s, 5 * MIN, 6 * MIN, h(2)));
    cr_expect(fs_span_add(&s, 10 * MIN, 10 * MIN, h(3)));
    cr_expect_eq(fs_span_window(&s, 5 * MIN), 2);
    cr_expect_eq(fs_span_window(&s, 10 * MIN), 1);
    /* A third window takes the older one's place. */
    cr_expect(fs_span_add(&s, 15 * MIN, 15 * MIN, h(4)));
    cr_expect_eq(fs_span_window(&s, 5 * MIN), 0);
    cr_expect_not(fs_span_add(&s, 5 * MIN, 5 * MIN, h(5)));
    fs_span_free(&s);
}

Test(span, the_horizon_slides_by_epochs)
{
    struct fs_span s;
    struct fs_hll scratch;

    fs_hll_init(&scratch, FS_SPAN_HLL_P);
    fs_span_init(&s, 30 * MIN); /* a one-hour horizon */
    fs_span_add(&s, 0, 5 * MIN, h(1));
    fs_span_add(&s, 0, 35 * MIN, h(2));
    fs_span_add(&s, 0, 65 * MIN, h(3));
    fs_span_add(&s, 0, 66 * MIN, h(2));
    /* At 01:05: the epochs 00:30-01:00 and 01:00-01:30. */
    cr_expect_eq(fs_span_horizon(&s, 65 * MIN, &scratch), 2);
    cr_expect_eq(fs_span_bound(&s), 3);
    /* At 01:35 only the epoch 01:00-01:30 is left; at 02:05 nothing. */
    cr_expect_eq(fs_span_horizon(&s, 95 * MIN, &scratch), 2);
    cr_expect_eq(fs_span_horizon(&s, 125 * MIN, &scratch), 0);
    /* Past the exact regime the count is an estimate, the union exact. */
    for (unsigned i = 100; i < 400; i++)
        fs_span_add(&s, 0, (i < 250 ? 70 : 100) * MIN, h(i));
    uint64_t n = fs_span_horizon(&s, 100 * MIN, &scratch);

    cr_expect(n > 270 && n < 330, "estimate %llu", (unsigned long long)n);
    cr_expect_gt(fs_span_heap_bytes(&s), 0);
    fs_span_free(&s);
    fs_hll_free(&scratch);
}
