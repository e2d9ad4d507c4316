/*
 * test_analyzer_core.c - the analyzer engine: direction, event-time windows
 * and the watermark, late flows, baseline statistics against exact values
 * computed here, the seasonal slot fallback, scoring and severity,
 * suppression and the rate limit, host eviction, summaries and profiles,
 * determinism, the volume_spike detector, and the binary: configuration
 * errors, a --read run, and live mode over the buses.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analyzer.h"
#include "bus.h"
#include "detrun.h"
#include "msg.h"
#include "proc.h"

/* 2024-03-04 00:00 UTC, a Monday. */
#define T0 1709510400000ull
#define MIN 60000ull
#define HOUR 3600000ull
#define DAY 86400000ull

struct run {
    struct fs_an_config cfg;
    struct fs_an_ctx *c;
    struct fs_anomaly got[64];
    size_t ngot;
    size_t nsummaries;
    struct fs_summary last_summary; /* lists not valid after the call */
    struct fs_summary_talker talker0;
    size_t ntalkers;
};

static void sink(void *arg, const struct fs_anomaly *a)
{
    struct run *r = arg;
    if (r->ngot < 64)
        r->got[r->ngot] = *a;
    r->ngot++;
}

static void on_summary(void *arg, const struct fs_summary *s)
{
    struct run *r = arg;
    r->nsummaries++;
    r->last_summary = *s;
    r->ntalkers = s->ntalkers;
    if (s->ntalkers)
        r->talker0 = s->talkers[0];
}

/* Home 10.0.0.0/8 plus the option pairs in `opts`. */
static void run_init(struct run *r, const char *const *opts)
{
    char err[256];

    memset(r, 0, sizeof(*r));
    fs_an_config_init(&r->cfg);
    cr_assert_eq(fs_an_config_set(&r->cfg, "home-net", "10.0.0.0/8", err, sizeof(err)), 0, "%s", err);
    for (size_t i = 0; opts && opts[i]; i += 2)
        cr_assert_eq(fs_an_config_set(&r->cfg, opts[i], opts[i + 1], err, sizeof(err)), 0,
                     "%s: %s", opts[i], err);
    cr_assert_eq(fs_an_config_check(&r->cfg, err, sizeof(err)), 0, "%s", err);
    r->c = fs_analyzer_new(&r->cfg, sink, r, err, sizeof(err));
    cr_assert_not_null(r->c, "%s", err);
    fs_analyzer_on_summary(r->c, on_summary, r);
}

static void run_free(struct run *r)
{
    fs_analyzer_free(r->c);
    fs_an_config_free(&r->cfg);
}

static struct fs_flow mkflow(const char *src, const char *dst, uint16_t dport, uint64_t end_ms,
                             uint64_t bytes)
{
    struct fs_flow f;

    fs_flow_init(&f);
    fs_ip_parse("192.0.2.1", &f.exporter);
    f.version = 9;
    cr_assert_eq(fs_ip_parse(src, &f.src_addr), 0);
    cr_assert_eq(fs_ip_parse(dst, &f.dst_addr), 0);
    FS_FLOW_SET(&f, FS_F_SRC_ADDR);
    FS_FLOW_SET(&f, FS_F_DST_ADDR);
    f.src_port = 50000;
    f.dst_port = dport;
    f.proto = 6;
    f.packets = bytes / 1000 + 1;
    f.bytes = bytes;
    f.start_ms = end_ms - 1000;
    f.end_ms = end_ms;
    FS_FLOW_SET(&f, FS_F_SRC_PORT);
    FS_FLOW_SET(&f, FS_F_DST_PORT);
    FS_FLOW_SET(&f, FS_F_PROTO);
    FS_FLOW_SET(&f, FS_F_PACKETS);
    FS_FLOW_SET(&f, FS_F_BYTES);
    FS_FLOW_SET(&f, FS_F_START);
    FS_FLOW_SET(&f, FS_F_END);
    return f;
}

static void feed1(struct run *r, const char *src, const char *dst, uint64_t end_ms, uint64_t bytes)
{
    struct fs_flow f = mkflow(src, dst, 443, end_ms, bytes);
    fs_analyzer_feed(r->c, &f, 1);
}

static fs_ip ip(const char *s)
{
    fs_ip a;
    cr_assert_eq(fs_ip_parse(s, &a), 0);
    return a;
}

/* The window struct the engine would build for the window starting at `start`. */
static struct fs_an_window window_at(uint64_t start, uint64_t len)
{
    struct fs_an_window w;
    uint64_t s = start / 1000;

    w.start_ms = start;
    w.end_ms = start + len;
    w.hour_of_week = (unsigned)(((s / 86400 + 3) % 7) * 24 + (s % 86400) / 3600);
    w.warm = true;
    return w;
}

/* ------------------------------------------------------------------ */

Test(analyzer_core, direction_follows_home_networks)
{
    static const char *const opts[] = { "home-net", "2001:db8:1::/48", NULL };
    struct run r;
    struct fs_flow f;

    run_init(&r, opts);
    f = mkflow("10.1.2.3", "198.51.100.1", 443, T0, 1);
    cr_expect_eq(fs_an_direction(r.c, &f), FS_DIR_OUTBOUND);
    f = mkflow("198.51.100.1", "10.1.2.3", 443, T0, 1);
    cr_expect_eq(fs_an_direction(r.c, &f), FS_DIR_INBOUND);
    f = mkflow("10.1.2.3", "10.200.0.1", 443, T0, 1);
    cr_expect_eq(fs_an_direction(r.c, &f), FS_DIR_INTERNAL);
    f = mkflow("198.51.100.1", "203.0.113.9", 443, T0, 1);
    cr_expect_eq(fs_an_direction(r.c, &f), FS_DIR_TRANSIT);
    /* 11.0.0.1 is just outside 10.0.0.0/8. */
    f = mkflow("11.0.0.1", "9.255.255.255", 443, T0, 1);
    cr_expect_eq(fs_an_direction(r.c, &f), FS_DIR_TRANSIT);
    f = mkflow("2001:db8:1:ffff::1", "2001:db8:2::1", 443, T0, 1);
    cr_expect_eq(fs_an_direction(r.c, &f), FS_DIR_OUTBOUND);
    f = mkflow("2001:db8:2::1", "2001:db8:1::5", 443, T0, 1);
    cr_expect_eq(fs_an_direction(r.c, &f), FS_DIR_INBOUND);
    /* A flow without a destination address is not internal traffic. */
    f = mkflow("10.1.2.3", "10.1.2.4", 443, T0, 1);
    f.present &= ~(UINT64_C(1) << FS_F_DST_ADDR);
    cr_expect_eq(fs_an_direction(r.c, &f), FS_DIR_OUTBOUND);

    /* Hosts are kept for internal endpoints only; transit is counted. */
    feed1(&r, "10.1.2.3", "198.51.100.1", T0 + 1000, 100);
    feed1(&r, "198.51.100.1", "203.0.113.9", T0 + 2000, 100);
    const struct fs_an_counters *n = fs_analyzer_counters(r.c);
    cr_expect_eq(n->hosts_tracked, 1);
    cr_expect_eq(n->transit, 1);
    run_free(&r);
}

Test(analyzer_core, default_home_networks_are_private_ranges)
{
    struct fs_an_config cfg;
    char err[128];

    fs_an_config_init(&cfg);
    cr_assert_eq(fs_an_config_check(&cfg, err, sizeof(err)), 0);
    fs_ip a = ip("192.168.7.7"), b = ip("172.31.0.1"), x = ip("172.32.0.1"), v6 = ip("fd00::1");
    cr_expect(fs_cidrs_match(&cfg.home, &a));
    cr_expect(fs_cidrs_match(&cfg.home, &b));
    cr_expect_not(fs_cidrs_match(&cfg.home, &x));
    cr_expect(fs_cidrs_match(&cfg.home, &v6));
    fs_an_config_free(&cfg);
}

Test(analyzer_core, late_flows_are_counted_not_folded_in)
{
    static const char *const opts[] = { "window", "60", "lateness", "30", "report-windows",
                                        "16", NULL };
    struct run r;

    run_init(&r, opts);
    feed1(&r, "10.0.0.1", "198.51.100.1", T0 + 10 * 1000, 100);  /* window 0 */
    feed1(&r, "10.0.0.1", "198.51.100.1", T0 + 85 * 1000, 200);  /* window 1; watermark 55 s */
    cr_expect_eq(fs_analyzer_watermark(r.c), T0 + 55 * 1000);
    cr_expect_eq(fs_analyzer_counters(r.c)->windows_closed, 0);
    /* Within the lateness: window 0 is still open and takes it. */
    feed1(&r, "10.0.0.1", "198.51.100.1", T0 + 50 * 1000, 1000);
    cr_expect_eq(fs_analyzer_counters(r.c)->late, 0);
    /* Watermark 65 s passes the end of window 0 (60 s): it closes. */
    feed1(&r, "10.0.0.1", "198.51.100.1", T0 + 95 * 1000, 400);
    cr_expect_eq(fs_analyzer_counters(r.c)->windows_closed, 1);
    /* Now a flow for window 0 is late. */
    feed1(&r, "10.0.0.1", "198.51.100.1", T0 + 59 * 1000, 100000);
    cr_expect_eq(fs_analyzer_counters(r.c)->late, 1);
    fs_analyzer_finish(r.c);
    cr_expect_eq(fs_analyzer_counters(r.c)->windows_closed, 2);
    /* finish() closed window 1 ahead of the watermark: it stays closed. */
    feed1(&r, "10.0.0.1", "198.51.100.1", T0 + 96 * 1000, 100);
    cr_expect_eq(fs_analyzer_counters(r.c)->late, 2);
    cr_expect_eq(fs_analyzer_watermark(r.c), T0 + 120 * 1000);

    /* The report's per-window talkers show what each window took in. */
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    cr_assert_eq(fs_analyzer_report(r.c, fp), 0);
    fclose(fp);
    json_error_t je;
    json_t *rep = json_loads(buf, 0, &je);
    cr_assert_not_null(rep, "%s", je.text);
    json_t *tt = json_object_get(rep, "top_talkers");
    cr_assert_eq(json_array_size(tt), 2);
    json_t *w0 = json_array_get(json_object_get(json_array_get(tt, 0), "talkers"), 0);
    json_t *w1 = json_array_get(json_object_get(json_array_get(tt, 1), "talkers"), 0);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(tt, 0), "ts")), (json_int_t)T0);
    cr_expect_eq(json_integer_value(json_object_get(w0, "bytes_out")), 1100);
    cr_expect_eq(json_integer_value(json_object_get(w1, "bytes_out")), 600);
    json_decref(rep);
    free(buf);
    run_free(&r);
}

Test(analyzer_core, flows_without_time_are_counted)
{
    struct run r;
    struct fs_flow f = mkflow("10.0.0.1", "198.51.100.1", 443, T0, 10);

    run_init(&r, NULL);
    f.present &= ~((UINT64_C(1) << FS_F_START) | (UINT64_C(1) << FS_F_END));
    fs_analyzer_feed(r.c, &f, 1);
    cr_expect_eq(fs_analyzer_counters(r.c)->untimed, 1);
    cr_expect_eq(fs_analyzer_counters(r.c)->hosts_tracked, 0);
    run_free(&r);
}

Test(analyzer_core, windows_close_in_order_whatever_the_batching)
{
    static const char *const opts[] = { "window", "60", "lateness", "60", NULL };
    struct fs_flow f[6];
    struct run a, b;

    /* Out of order within the lateness: 3 windows. */
    uint64_t t[6] = { 5, 70, 30, 130, 100, 200 };
    for (int i = 0; i < 6; i++)
        f[i] = mkflow("10.0.0.1", "198.51.100.1", 443, T0 + t[i] * 1000, 1000 * (i + 1));
    run_init(&a, opts);
    run_init(&b, opts);
    fs_analyzer_feed(a.c, f, 6);
    for (int i = 0; i < 6; i++)
        fs_analyzer_feed(b.c, &f[i], 1);
    cr_expect_eq(fs_analyzer_counters(a.c)->late, 0);
    cr_expect_eq(fs_analyzer_counters(a.c)->windows_closed, fs_analyzer_counters(b.c)->windows_closed);
    /* max 200 s, watermark 140 s: windows 0 and 1 are closed, 2 and 3 open. */
    cr_expect_eq(fs_analyzer_counters(a.c)->windows_closed, 2);
    fs_analyzer_finish(a.c);
    cr_expect_eq(fs_analyzer_counters(a.c)->windows_closed, 4);
    run_free(&a);
    run_free(&b);
}

/* Feeds host 10.0.0.1 with bytes x[i] in consecutive 5-minute windows
 * starting at `start` (all in one hour when n <= 12). */
static void feed_series(struct run *r, uint64_t start, const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        feed1(r, "10.0.0.1", "198.51.100.1", start + i * 5 * MIN + 1000, (uint64_t)x[i]);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* R-7 quantile, computed here independently of the sketch library. */
static double r7(const double *sorted, size_t n, double p)
{
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)floor(h);
    return lo + 1 < n ? sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
}

Test(analyzer_core, baseline_statistics_match_exact_values)
{
    static const char *const opts[] = { "min-samples", "11", "quantile-stride", "1",
                                        "std-floor", "0", "set", "baseline.std_floor_bytes_out=0",
                                        NULL };
    static const double x[10] = { 12000, 15000, 11000, 30000, 14000, 13000, 16000, 12500, 90000,
                                  14500 };
    struct run r;
    struct fs_baseline_view v;

    run_init(&r, opts);
    /* Monday 10:00-10:50: ten windows of one hour-of-week slot. */
    feed_series(&r, T0 + 10 * HOUR, x, 10);
    fs_analyzer_finish(r.c);

    double sum = 0, ss = 0, sorted[10], dev[10];
    for (int i = 0; i < 10; i++)
        sum += x[i];
    double mean = sum / 10;
    for (int i = 0; i < 10; i++)
        ss += (x[i] - mean) * (x[i] - mean);
    memcpy(sorted, x, sizeof(sorted));
    qsort(sorted, 10, sizeof(double), cmp_d);
    double median = r7(sorted, 10, 0.5);
    for (int i = 0; i < 10; i++)
        dev[i] = fabs(x[i] - median);
    qsort(dev, 10, sizeof(double), cmp_d);

    /* Fewer than min-samples: no clipping yet, and the view falls back to
     * the day type and the host overall, which hold the same ten windows. */
    struct fs_an_window w = window_at(T0 + 10 * HOUR + 55 * MIN, 5 * MIN);
    fs_ip h = ip("10.0.0.1");
    cr_assert_eq(fs_an_baseline(r.c, &h, FS_M_BYTES_OUT, &w, &v), 0);
    cr_expect_eq(v.samples, 10);
    cr_expect(fabs(v.mean - mean) < 1e-4 * mean, "mean %g, exact %g", v.mean, mean);
    cr_expect(fabs(v.std - sqrt(ss / 9)) < 1e-4 * sqrt(ss / 9), "std %g, exact %g", v.std, sqrt(ss / 9));
    /* Quartiles and MAD through 16-bit log quantisation: 0.04% of (1 + x). */
    cr_expect(fabs(v.median - median) < 1e-3 * median, "median %g, exact %g", v.median, median);
    cr_expect(fabs(v.q1 - r7(sorted, 10, 0.25)) < 1e-3 * sorted[2]);
    cr_expect(fabs(v.q3 - r7(sorted, 10, 0.75)) < 1e-3 * sorted[7]);
    cr_expect(fabs(v.mad - r7(dev, 10, 0.5)) < 2e-3 * median, "mad %g, exact %g", v.mad, r7(dev, 10, 0.5));
    /* Other metrics of the same windows: one flow each. */
    cr_assert_eq(fs_an_baseline(r.c, &h, FS_M_FLOWS, &w, &v), 0);
    cr_expect(fabs(v.mean - 1) < 1e-6);
    cr_assert_eq(fs_an_baseline(r.c, &h, FS_M_PEERS, &w, &v), 0);
    cr_expect(fabs(v.mean - 1) < 1e-6);
    /* An unknown host has no baseline. */
    fs_ip other = ip("10.9.9.9");
    cr_expect_eq(fs_an_baseline(r.c, &other, FS_M_FLOWS, &w, &v), -1);
    run_free(&r);
}

Test(analyzer_core, outliers_are_clipped_once_the_slot_is_trusted)
{
    static const char *const opts[] = { "min-samples", "4", "std-floor", "0", "set",
                                        "baseline.std_floor_bytes_out=0", NULL };
    static const double x[6] = { 1000, 1200, 900, 1100, 1000, 500000 };
    struct run r;
    struct fs_baseline_view v;

    run_init(&r, opts);
    feed_series(&r, T0 + 10 * HOUR, x, 6);
    fs_analyzer_finish(r.c);
    /* The sixth sample counts as mean + 4 sd of the five before it. */
    double m5 = 0, s5 = 0, y[6];
    for (int i = 0; i < 5; i++)
        m5 += x[i] / 5;
    for (int i = 0; i < 5; i++)
        s5 += (x[i] - m5) * (x[i] - m5) / 4;
    memcpy(y, x, sizeof(y));
    y[5] = m5 + 4 * sqrt(s5);
    double mean = 0, ss = 0;
    for (int i = 0; i < 6; i++)
        mean += y[i] / 6;
    for (int i = 0; i < 6; i++)
        ss += (y[i] - mean) * (y[i] - mean);
    struct fs_an_window w = window_at(T0 + 10 * HOUR + 55 * MIN, 5 * MIN);
    fs_ip h = ip("10.0.0.1");
    cr_assert_eq(fs_an_baseline(r.c, &h, FS_M_BYTES_OUT, &w, &v), 0);
    cr_expect(fabs(v.mean - mean) < 1e-4 * mean, "mean %g, exact %g", v.mean, mean);
    cr_expect(fabs(v.std - sqrt(ss / 5)) < 1e-3 * sqrt(ss / 5), "std %g, exact %g", v.std,
              sqrt(ss / 5));
    run_free(&r);
}

Test(analyzer_core, silent_windows_count_as_zero)
{
    static const char *const opts[] = { "min-samples", "2", "std-floor", "0", NULL };
    struct run r;
    struct fs_baseline_view v;

    run_init(&r, opts);
    /* Host A in windows 0 and 2 only; host B keeps every window alive. */
    for (int i = 0; i < 4; i++) {
        uint64_t t = T0 + 10 * HOUR + (uint64_t)i * 5 * MIN + 1000;
        feed1(&r, "10.0.0.2", "198.51.100.1", t, 10);
        if (i % 2 == 0)
            feed1(&r, "10.0.0.1", "198.51.100.1", t + 1, 4000);
    }
    fs_analyzer_finish(r.c);
    fs_ip h = ip("10.0.0.1");
    struct fs_an_window w = window_at(T0 + 11 * HOUR, 5 * MIN);
    /* Hour 11 has no samples: the weekday falls back to the host overall. */
    cr_assert_eq(fs_an_baseline(r.c, &h, FS_M_BYTES_OUT, &w, &v), 0);
    cr_expect_eq(v.samples, 4);
    cr_expect(fabs(v.mean - 2000) < 1e-3, "mean %g", v.mean);
    run_free(&r);
}

Test(analyzer_core, seasonal_slot_falls_back_to_day_type_then_overall)
{
    static const char *const opts[] = { "min-samples", "5", NULL };
    struct run r;
    struct fs_baseline_view v;
    fs_ip h = ip("10.0.0.1");

    run_init(&r, opts);
    /* Monday 10:00, six windows of 1000 bytes; Tuesday 10:00, three of
     * 4000; Monday 14:00 only another host talks: three zero windows for h. */
    for (int i = 0; i < 6; i++)
        feed1(&r, "10.0.0.1", "198.51.100.1", T0 + 10 * HOUR + (uint64_t)i * 5 * MIN + 1000, 1000);
    for (int i = 0; i < 3; i++)
        feed1(&r, "10.0.0.2", "198.51.100.1", T0 + 14 * HOUR + (uint64_t)i * 5 * MIN + 1000, 10);
    for (int i = 0; i < 3; i++)
        feed1(&r, "10.0.0.1", "198.51.100.1", T0 + DAY + 10 * HOUR + (uint64_t)i * 5 * MIN + 1000,
              4000);
    fs_analyzer_finish(r.c);

    /* Monday 10: its own slot (6 >= 5). */
    struct fs_an_window w = window_at(T0 + 7 * DAY + 10 * HOUR, 5 * MIN);
    cr_assert_eq(fs_an_baseline(r.c, &h, FS_M_BYTES_OUT, &w, &v), 0);
    cr_expect_eq(v.samples, 6);
    cr_expect(fabs(v.mean - 1000) < 1e-3);
    /* Tuesday 10: 3 < 5, so weekdays at 10:00: 6 + 3 windows. */
    w = window_at(T0 + DAY + 10 * HOUR, 5 * MIN);
    cr_assert_eq(fs_an_baseline(r.c, &h, FS_M_BYTES_OUT, &w, &v), 0);
    cr_expect_eq(v.samples, 9);
    cr_expect(fabs(v.mean - 2000) < 1e-3, "mean %g", v.mean);
    /* Saturday 10: no weekend history, so the host overall: 12 windows. */
    w = window_at(T0 + 5 * DAY + 10 * HOUR, 5 * MIN);
    cr_assert_eq(fs_an_baseline(r.c, &h, FS_M_BYTES_OUT, &w, &v), 0);
    cr_expect_eq(v.samples, 12);
    cr_expect(fabs(v.mean - 18000.0 / 12) < 1e-3, "mean %g", v.mean);
    run_free(&r);
}

Test(analyzer_core, score_and_severity)
{
    struct run r;
    struct fs_anomaly a;
    /* A slot where 68% of windows fall in 100 +- 10. */
    struct fs_baseline_view b = { .observed = 0, .mean = 100, .std = 10, .median = 100,
                                  .mad = 6.745, .q1 = 93.255, .q3 = 106.745, .samples = 20 };

    run_init(&r, NULL);
    memset(&a, 0, sizeof(a));
    /* z = 10, robust z = 10: 100 * (1 - e^(-7/5)), beyond the outer fence. */
    double s = fs_an_score(r.c, &b, 200, &a);
    cr_expect(fabs(s - 100 * (1 - exp(-1.4))) < 1e-9, "score %g", s);
    cr_expect(fabs(a.z - 10) < 1e-9);
    cr_expect_eq(a.severity, FS_SEV_HIGH);
    cr_expect(fabs(a.iqr_high - (106.745 + 1.5 * 13.49)) < 1e-9);
    cr_expect(fabs(a.iqr_low - (93.255 - 1.5 * 13.49)) < 1e-9);
    cr_expect_eq(a.samples, 20);
    cr_expect(fabs(a.expected - 100) < 1e-9);
    /* Inside the inner fence (126.98): nothing, however big z looks. */
    cr_expect_eq(fs_an_score(r.c, &b, 125, NULL), 0);
    /* A mild outlier (between the fences: 127 .. 147.2) never reaches high. */
    struct fs_baseline_view tight = b;
    tight.std = 2;
    tight.mad = 1.349;
    s = fs_an_score(r.c, &tight, 140, NULL);
    cr_expect(s > 0 && s < FS_SCORE_HIGH, "score %g", s);
    /* Too few samples: no score. */
    struct fs_baseline_view young = b;
    young.samples = 3;
    cr_expect_eq(fs_an_score(r.c, &young, 1e9, NULL), 0);
    /* Variance floor: a constant baseline (std 0) of 100 has std 10 (10%). */
    struct fs_baseline_view flat = { .mean = 100, .median = 100, .q1 = 100, .q3 = 100,
                                     .samples = 20 };
    memset(&a, 0, sizeof(a));
    fs_an_score(r.c, &flat, 150, &a);
    cr_expect(fabs(a.z - 5) < 1e-9, "z %g", a.z);

    cr_expect_eq(fs_severity_from_score(0), FS_SEV_LOW);
    cr_expect_eq(fs_severity_from_score(39.99), FS_SEV_LOW);
    cr_expect_eq(fs_severity_from_score(40), FS_SEV_MEDIUM);
    cr_expect_eq(fs_severity_from_score(64.99), FS_SEV_MEDIUM);
    cr_expect_eq(fs_severity_from_score(65), FS_SEV_HIGH);
    cr_expect_eq(fs_severity_from_score(85), FS_SEV_CRITICAL);
    cr_expect_eq(fs_severity_from_score(100), FS_SEV_CRITICAL);
    run_free(&r);
}

static struct fs_anomaly finding(const char *host, enum fs_anomaly_class cls, uint64_t ts,
                                 double score)
{
    struct fs_anomaly a;
    memset(&a, 0, sizeof(a));
    a.host = ip(host);
    a.cls = cls;
    a.ts_ms = ts;
    a.end_ms = ts + 5 * MIN;
    a.score = score;
    return a;
}

Test(analyzer_core, suppression_lets_through_only_worse)
{
    static const char *const opts[] = { "suppress", "1h", "rate-limit", "0", NULL };
    struct run r;
    struct fs_anomaly a;

    run_init(&r, opts);
    a = finding("10.0.0.1", FS_AC_PORT_SCAN, T0, 50);
    fs_an_emit(r.c, &a);
    a = finding("10.0.0.1", FS_AC_PORT_SCAN, T0 + 5 * MIN, 55); /* medium again */
    fs_an_emit(r.c, &a);
    cr_expect_eq(r.ngot, 1);
    cr_expect_eq(fs_analyzer_counters(r.c)->suppressed, 1);
    a = finding("10.0.0.1", FS_AC_PORT_SCAN, T0 + 10 * MIN, 90); /* critical: worse */
    fs_an_emit(r.c, &a);
    cr_expect_eq(r.ngot, 2);
    cr_expect_eq(r.got[1].severity, FS_SEV_CRITICAL);
    a = finding("10.0.0.1", FS_AC_HOST_SWEEP, T0 + 10 * MIN, 50); /* another class */
    fs_an_emit(r.c, &a);
    a = finding("10.0.0.2", FS_AC_PORT_SCAN, T0 + 10 * MIN, 50); /* another host */
    fs_an_emit(r.c, &a);
    cr_expect_eq(r.ngot, 4);
    a = finding("10.0.0.1", FS_AC_PORT_SCAN, T0 + 10 * MIN + HOUR, 50); /* an hour later */
    fs_an_emit(r.c, &a);
    cr_expect_eq(r.ngot, 5);
    cr_expect_eq(fs_analyzer_counters(r.c)->suppressed, 1);
    cr_expect_eq(fs_analyzer_counters(r.c)->by_class[FS_AC_PORT_SCAN], 4);
    /* Severity comes from the score; the id from class, host, peer, ts. */
    cr_expect_eq(r.got[0].severity, FS_SEV_MEDIUM);
    struct fs_anomaly same = finding("10.0.0.1", FS_AC_PORT_SCAN, T0, 1);
    fs_anomaly_set_id(&same);
    cr_expect_eq(r.got[0].id, same.id);
    run_free(&r);
}

Test(analyzer_core, rate_limit_is_per_hour_of_event_time)
{
    static const char *const opts[] = { "rate-limit", "3", NULL };
    struct run r;
    char host[32];

    run_init(&r, opts);
    for (int i = 0; i < 5; i++) {
        snprintf(host, sizeof(host), "10.0.0.%d", i + 1);
        struct fs_anomaly a = finding(host, FS_AC_DDOS, T0, 70);
        fs_an_emit(r.c, &a);
    }
    cr_expect_eq(r.ngot, 3);
    cr_expect_eq(fs_analyzer_counters(r.c)->rate_limited, 2);
    /* 20 minutes refill one token. */
    struct fs_anomaly a = finding("10.0.1.1", FS_AC_DDOS, T0 + 20 * MIN, 70);
    fs_an_emit(r.c, &a);
    a = finding("10.0.1.2", FS_AC_DDOS, T0 + 20 * MIN, 70);
    fs_an_emit(r.c, &a);
    cr_expect_eq(r.ngot, 4);
    cr_expect_eq(fs_analyzer_counters(r.c)->rate_limited, 3);
    run_free(&r);
}

Test(analyzer_core, allowlists_drop_findings)
{
    static const char *const opts[] = { "allow", "10.0.5.0/24", "set",
                                        "volume_spike.allow=10.0.6.6", NULL };
    struct run r;
    struct fs_anomaly a;

    run_init(&r, opts);
    fs_ip in = ip("10.0.5.77"), six = ip("10.0.6.6"), out = ip("10.0.7.1");
    cr_expect(fs_an_allowed(r.c, "beaconing", &in));
    cr_expect(fs_an_allowed(r.c, "volume_spike", &six));
    cr_expect_not(fs_an_allowed(r.c, "beaconing", &six));
    cr_expect_not(fs_an_allowed(r.c, "volume_spike", &out));
    a = finding("10.0.5.77", FS_AC_BEACONING, T0, 70);
    fs_an_emit(r.c, &a);
    a = finding("10.0.6.6", FS_AC_VOLUME_SPIKE, T0, 70);
    fs_an_emit(r.c, &a);
    cr_expect_eq(r.ngot, 0);
    cr_expect_eq(fs_analyzer_counters(r.c)->allowlisted, 2);
    run_free(&r);
}

Test(analyzer_core, least_recently_active_hosts_are_evicted)
{
    static const char *const opts[] = { "max-hosts", "16", NULL };
    struct run r;
    char host[32];
    struct fs_an_window w = window_at(T0, 5 * MIN);
    struct fs_baseline_view v;

    run_init(&r, opts);
    for (int i = 0; i < 20; i++) {
        snprintf(host, sizeof(host), "10.0.0.%d", i + 1);
        /* One window each, so each host is less recent than the next. */
        feed1(&r, host, "198.51.100.1", T0 + (uint64_t)i * 5 * MIN + 1000, 100);
    }
    cr_expect_eq(fs_analyzer_counters(r.c)->hosts_tracked, 16);
    cr_expect_eq(fs_analyzer_counters(r.c)->hosts_evicted, 4);
    for (int i = 0; i < 20; i++) {
        snprintf(host, sizeof(host), "10.0.0.%d", i + 1);
        fs_ip h = ip(host);
        cr_expect_eq(fs_an_baseline(r.c, &h, FS_M_FLOWS, &w, &v), i < 4 ? -1 : 0, "host %s", host);
    }
    run_free(&r);
}

Test(analyzer_core, unknown_setting_is_refused_by_name)
{
    struct fs_an_config cfg;
    char err[256];

    fs_an_config_init(&cfg);
    cr_assert_eq(fs_an_config_set(&cfg, "set", "volume_spike.min_scroe=10", err, sizeof(err)), 0);
    cr_assert_eq(fs_an_config_check(&cfg, err, sizeof(err)), 0);
    cr_expect_null(fs_analyzer_new(&cfg, NULL, NULL, err, sizeof(err)));
    cr_expect(strstr(err, "volume_spike.min_scroe") != NULL, "%s", err);
    fs_an_config_free(&cfg);

    fs_an_config_init(&cfg);
    cr_assert_eq(fs_an_config_set(&cfg, "set", "nosuch.key=1", err, sizeof(err)), 0);
    cr_assert_eq(fs_an_config_check(&cfg, err, sizeof(err)), 0);
    cr_expect_null(fs_analyzer_new(&cfg, NULL, NULL, err, sizeof(err)));
    cr_expect(strstr(err, "no detector 'nosuch'") != NULL, "%s", err);
    fs_an_config_free(&cfg);

    /* The settings of a switched-off detector are not an error. */
    fs_an_config_init(&cfg);
    cr_assert_eq(fs_an_config_set(&cfg, "set", "volume_spike.min_scroe=10", err, sizeof(err)), 0);
    cr_assert_eq(fs_an_config_set(&cfg, "set", "volume_spike.enabled=0", err, sizeof(err)), 0);
    cr_assert_eq(fs_an_config_check(&cfg, err, sizeof(err)), 0);
    struct fs_an_ctx *c = fs_analyzer_new(&cfg, NULL, NULL, err, sizeof(err));
    cr_expect_not_null(c, "%s", err);
    fs_analyzer_free(c);
    fs_an_config_free(&cfg);

    fs_an_config_init(&cfg);
    cr_expect_neq(fs_an_config_set(&cfg, "set", "volume_spike.min_score=abc", err, sizeof(err)), 0);
    cr_expect_neq(fs_an_config_set(&cfg, "set", "no-dot=1", err, sizeof(err)), 0);
    cr_expect_neq(fs_an_config_set(&cfg, "home-net", "10.0.0.1/8", err, sizeof(err)), 0);
    cr_expect(strstr(err, "bits set past") != NULL, "%s", err);
    cr_expect_neq(fs_an_config_set(&cfg, "home-net", "10.0.0.0/33", err, sizeof(err)), 0);
    cr_expect_neq(fs_an_config_set(&cfg, "home-net", "ten/8", err, sizeof(err)), 0);
    cr_assert_eq(fs_an_config_set(&cfg, "window", "7m", err, sizeof(err)), 0);
    cr_expect_neq(fs_an_config_check(&cfg, err, sizeof(err)), 0);
    cr_expect(strstr(err, "does not divide an hour") != NULL, "%s", err);
    fs_an_config_free(&cfg);
}

Test(analyzer_core, summaries_every_interval_and_whole_hour_profiles)
{
    struct run r;

    run_init(&r, NULL);
    /* From Monday 09:30 to 12:00, one flow a minute from each of two
     * hosts: 10.0.0.1 sends 3000 bytes, 10.0.0.2 1000. */
    for (uint64_t m = 0; m < 150; m++) {
        uint64_t t = T0 + 9 * HOUR + 30 * MIN + m * MIN + 1000;
        feed1(&r, "10.0.0.1", "198.51.100.1", t, 3000);
        feed1(&r, "10.0.0.2", "198.51.100.1", t + 1, 1000);
    }
    fs_analyzer_finish(r.c);
    /* Periods 09 (half), 10, 11: three summaries, the last for 11:00. */
    cr_expect_eq(r.nsummaries, 3);
    cr_expect_eq(r.last_summary.ts_ms, T0 + 11 * HOUR);
    cr_expect_eq(r.last_summary.end_ms, T0 + 12 * HOUR);
    cr_expect_eq(r.last_summary.flows, 120);
    cr_expect_eq(r.last_summary.bytes, 60 * 4000);
    cr_expect_eq(r.last_summary.hosts, 2);
    cr_expect_eq(r.ntalkers, 2);
    char a[FS_IP_STRLEN];
    cr_expect_str_eq(fs_ip_format(&r.talker0.addr, a), "10.0.0.1");
    cr_expect_eq(r.talker0.bytes_out, 60 * 3000);
    cr_expect_eq(r.talker0.flows, 60);

    struct fs_summary s;
    fs_analyzer_summary(r.c, &s);
    /* Hours 10 and 11 are whole profile samples; 09 began at 09:30. */
    cr_expect_eq(s.hour_of_day[9].samples, 0);
    cr_expect_eq(s.hour_of_day[10].samples, 1);
    cr_expect_eq(s.hour_of_day[11].samples, 1);
    cr_expect(fabs(s.hour_of_day[10].mean[FS_SUMMARY_BYTES] - 240000) < 1e-9);
    cr_expect(fabs(s.hour_of_day[10].mean[FS_SUMMARY_FLOWS] - 120) < 1e-9);
    /* The day is not over: no day-of-week sample yet. */
    cr_expect_eq(s.day_of_week[0].samples, 0);
    run_free(&r);
}

/* fs_analyzer_each_counter callback: picks the counter named in arg. */
struct counter_want {
    const char *name;
    uint64_t v;
};

static void counter_lookup(void *arg, const char *name, uint64_t v)
{
    struct counter_want *want = arg;
    if (strcmp(name, want->name) == 0)
        want->v = v;
}

/* ------------------------------------------------------------------ */
/* volume_spike and determinism, over a small steady network. */

static const char *const hosts[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4" };

/* Each host sends 20 kB +- a little to one of three peers each minute,
 * for `hours` from `from`; host 2 sends `spike` bytes at `spike_at`. */
static void steady(struct detrun *r, uint64_t from, unsigned hours, uint64_t spike_at,
                   uint64_t spike)
{
    static const char *const peers[] = { "198.51.100.1", "198.51.100.2", "198.51.100.3" };
    for (unsigned m = 0; m < hours * 60; m++)
        for (int h = 0; h < 4; h++)
            detrun_flow(r, hosts[h], (uint16_t)(40000 + m % 1000), peers[(m + h) % 3], 443, 6,
                        from + m * MIN + (uint64_t)h * 1000, 500, 20,
                        20000 + (m * 7919 + h * 104729) % 4000, DETRUN_TCP_FULL);
    if (spike)
        detrun_flow(r, hosts[2], 50000, "203.0.113.66", 443, 6, spike_at, 60000, spike / 1400,
                    spike, DETRUN_TCP_FULL);
}

Test(analyzer_core, volume_spike_after_warmup_is_found)
{
    static const char *const opts[] = { "warmup", "1d", "set", "exfiltration.enabled=0", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    /* Two days of steady traffic; Tuesday 15:02, 50 MB. */
    steady(&r, DETRUN_T0, 48, DETRUN_T0 + DETRUN_DAY + 15 * DETRUN_HOUR + 2 * DETRUN_MIN,
           50000000);
    detrun_finish(&r);
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_VOLUME_SPIKE, hosts[2], NULL);
    cr_assert_not_null(a, "no volume_spike");
    cr_expect_eq(a->ts_ms, DETRUN_T0 + DETRUN_DAY + 15 * DETRUN_HOUR);
    cr_expect_str_eq(a->metric, "bytes_out");
    cr_expect_geq(a->severity, FS_SEV_HIGH);
    cr_expect(a->observed > 50000000);
    cr_expect(a->expected < 200000, "expected %g", a->expected);
    cr_expect_eq(detrun_count_class(&r, FS_AC_VOLUME_SPIKE), 1);
    /* Evidence: the peer and port that carried the bytes, heaviest first. */
    char peer[FS_IP_STRLEN];
    cr_assert_geq(a->npeers, 1);
    cr_expect_str_eq(fs_ip_format(&a->top_peers[0].addr, peer), "203.0.113.66");
    cr_expect_eq(a->top_peers[0].value, 50000000);
    cr_assert_geq(a->nports, 1);
    cr_expect_eq(a->top_ports[0].port, 443);
    cr_expect_eq(a->top_ports[0].proto, 6);
    detrun_free(&r);
}

Test(analyzer_core, volume_spike_quiet_on_steady_traffic_and_in_warmup)
{
    static const char *const opts[] = { "warmup", "2d", "set", "exfiltration.enabled=0", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    /* Steady for three days; a spike on day 2, inside the warm-up. */
    steady(&r, DETRUN_T0, 72, DETRUN_T0 + DETRUN_DAY + 15 * DETRUN_HOUR + 2 * DETRUN_MIN,
           50000000);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_VOLUME_SPIKE), 0);
    detrun_dump(&r);
    detrun_free(&r);
}

struct ordered {
    struct fs_flow f;
    size_t i;
};

static int cmp_end(const void *x, const void *y)
{
    const struct ordered *a = x, *b = y;
    if (a->f.end_ms != b->f.end_ms)
        return a->f.end_ms < b->f.end_ms ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* The queued flows of `r` in the order detrun_feed() gives them: by end
 * time, ties in queue order. */
static struct fs_flow *sorted_flows(const struct detrun *r)
{
    struct ordered *o = calloc(r->nflows, sizeof(*o));
    struct fs_flow *f = calloc(r->nflows, sizeof(*f));

    cr_assert(o && f);
    for (size_t i = 0; i < r->nflows; i++)
        o[i] = (struct ordered){ r->flows[i], i };
    qsort(o, r->nflows, sizeof(*o), cmp_end);
    for (size_t i = 0; i < r->nflows; i++)
        f[i] = o[i].f;
    free(o);
    return f;
}

Test(analyzer_core, volume_spike_of_a_crowd_is_the_networks_not_a_hosts)
{
    static const char *const opts[] = { "warmup", "1d", "set", "exfiltration.enabled=0", NULL };
    static const char *const many[] = { "10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4",
                                        "10.0.1.5", "10.0.1.6" };
    static const char *const peers[] = { "198.51.100.1", "198.51.100.2", "198.51.100.3" };
    struct detrun r;
    struct counter_want crowd = { "volume_spike.crowd", 0 };

    detrun_init(&r, opts);
    for (unsigned m = 0; m < 48 * 60; m++)
        for (int h = 0; h < 6; h++)
            detrun_flow(&r, many[h], (uint16_t)(40000 + m % 1000), peers[(m + h) % 3], 443, 6,
                        DETRUN_T0 + m * DETRUN_MIN + (uint64_t)h * 1000, 500, 20,
                        20000 + (m * 7919 + h * 104729) % 4000, DETRUN_TCP_FULL);
    /* Tuesday 15:02: all six upload 50 MB to the same service. */
    for (int h = 0; h < 6; h++)
        detrun_flow(&r, many[h], 50000, "203.0.113.80", 443, 6,
                    DETRUN_T0 + DETRUN_DAY + 15 * DETRUN_HOUR + 2 * DETRUN_MIN, 60000, 35000,
                    50000000, DETRUN_TCP_FULL);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_VOLUME_SPIKE), 0);
    fs_analyzer_each_counter(r.an, counter_lookup, &crowd);
    cr_expect_eq(crowd.v, 6);
    detrun_free(&r);
}

/* Alerts of one run as JSON lines, the flows fed `batch` at a time. */
static char *alerts_of(size_t batch)
{
    static const char *const opts[] = { "warmup", "1d", NULL };
    struct detrun r;
    char *buf = NULL, line[FS_ANOMALY_JSON_MAX];
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    detrun_init(&r, opts);
    steady(&r, DETRUN_T0, 36, DETRUN_T0 + DETRUN_DAY + 9 * DETRUN_HOUR, 80000000);
    struct fs_flow *f = sorted_flows(&r);
    for (size_t i = 0; i < r.nflows; i += batch)
        fs_analyzer_feed(r.an, f + i, r.nflows - i < batch ? r.nflows - i : batch);
    fs_analyzer_finish(r.an);
    for (size_t i = 0; i < r.nfound; i++) {
        cr_assert_geq(fs_anomaly_json(&r.found[i], line, sizeof(line)), 0);
        fprintf(fp, "%s\n", line);
    }
    fclose(fp);
    free(f);
    detrun_free(&r);
    return buf;
}

Test(analyzer_core, same_input_same_alerts)
{
    char *a = alerts_of(1), *b = alerts_of(1000);
    cr_expect(strlen(a) > 0, "no alerts at all");
    cr_expect_str_eq(a, b);
    free(a);
    free(b);
}

/* ------------------------------------------------------------------ */
/* The binary's configuration errors. */

static struct fs_proc_output run_bin(char *const *args)
{
    struct fs_proc_output o;
    char *argv[16];
    size_t n = 0;

    argv[n++] = FS_BINARY_DIR "/flowsentry-analyzer";
    for (; args[n - 1] && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    cr_assert_eq(fs_proc_run(argv, 10000, &o), 0);
    return o;
}

Test(analyzer_core, binary_refuses_bad_configuration)
{
    char *unknown[] = { "--home-net", "10.0.0.0/8", "--read", "/dev/null", "--set",
                        "beaconing.no_such_key=3", NULL };
    char *bad_cidr[] = { "--home-net", "10.0.0.0/40", "--read", "/dev/null", NULL };
    char *bad_opt[] = { "--hom-net", "10.0.0.0/8", NULL };
    struct fs_proc_output o;

    o = run_bin(unknown);
    cr_expect(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 2, "status %d", o.status);
    cr_expect(strstr(o.err, "beaconing.no_such_key") != NULL, "%s", o.err);
    fs_proc_output_free(&o);
    o = run_bin(bad_cidr);
    cr_expect(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 2);
    cr_expect(strstr(o.err, "10.0.0.0/40") != NULL, "%s", o.err);
    fs_proc_output_free(&o);
    o = run_bin(bad_opt);
    cr_expect(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 2);
    cr_expect(strstr(o.err, "hom-net") != NULL, "%s", o.err);
    fs_proc_output_free(&o);
}

Test(analyzer_core, binary_reads_json_and_writes_alerts_and_report)
{
    char dir[128], flows[192], alerts[192], report[192];
    struct detrun r;
    static const char *const opts[] = { "warmup", "1d", NULL };

    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    snprintf(flows, sizeof(flows), "%s/flows.jsonl", dir);
    snprintf(alerts, sizeof(alerts), "%s/alerts.jsonl", dir);
    snprintf(report, sizeof(report), "%s/report.json", dir);
    detrun_init(&r, opts);
    steady(&r, DETRUN_T0, 36, DETRUN_T0 + DETRUN_DAY + 9 * DETRUN_HOUR, 80000000);
    FILE *fp = fopen(flows, "w");
    struct fs_flow *sorted = sorted_flows(&r);
    cr_assert_not_null(fp);
    for (size_t i = 0; i < r.nflows; i++) {
        char line[FS_FLOW_JSON_MAX];
        cr_assert_gt(fs_flow_json(&sorted[i], line, sizeof(line)), 0);
        fprintf(fp, "%s\n", line);
    }
    fclose(fp);
    free(sorted);
    detrun_feed(&r);
    fs_analyzer_finish(r.an);

    char *args[] = { "--home-net", "10.0.0.0/8", "--warmup", "1d", "--read", flows, "--alerts",
                     alerts, "--report", report, NULL };
    struct fs_proc_output o = run_bin(args);
    cr_expect(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "%s", o.err);
    cr_expect(strstr(o.err, "counters: flows=") != NULL, "%s", o.err);
    fs_proc_output_free(&o);

    /* The binary found what the engine found, line for line. */
    fp = fopen(alerts, "r");
    cr_assert_not_null(fp);
    char line[FS_ANOMALY_JSON_MAX + 2], want[FS_ANOMALY_JSON_MAX];
    size_t n = 0;
    while (fgets(line, sizeof(line), fp)) {
        cr_assert_lt(n, r.nfound);
        fs_anomaly_json(&r.found[n++], want, sizeof(want));
        line[strcspn(line, "\n")] = '\0';
        cr_expect_str_eq(line, want);
    }
    fclose(fp);
    cr_expect_eq(n, r.nfound);
    cr_expect_gt(n, 0);
    json_error_t je;
    json_t *rep = json_load_file(report, 0, &je);
    cr_assert_not_null(rep, "%s", je.text);
    cr_expect_eq(json_array_size(json_object_get(rep, "hosts")), 4);
    cr_expect_eq(json_array_size(json_object_get(rep, "anomalies")), n);
    json_decref(rep);
    detrun_free(&r);
    fs_rmtree(dir);
}

Test(analyzer_core, live_mode_publishes_summaries_and_saves_the_snapshot, .timeout = 60)
{
    char dir[128], flows_ep[192], events_ep[192], snap[192], err[256];
    struct fs_bus *pub, *sub;
    struct fs_batch *batch = fs_batch_new("test@here");
    struct fs_msg m;
    bool got_summary = false;

    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    snprintf(flows_ep, sizeof(flows_ep), "ipc://%s/flows", dir);
    snprintf(events_ep, sizeof(events_ep), "ipc://%s/events", dir);
    snprintf(snap, sizeof(snap), "%s/baselines.snap", dir);
    pub = fs_bus_pub(flows_ep, 0, err, sizeof(err));
    cr_assert_not_null(pub, "%s", err);

    char *argv[] = { FS_BINARY_DIR "/flowsentry-analyzer", "--home-net", "10.0.0.0/8",
                     "--subscribe", flows_ep, "--publish", events_ep, "--window", "60",
                     "--lateness", "0", "--summary-interval", "60", "--snapshot", snap,
                     "--quiet", NULL };
    pid_t child = fs_proc_spawn(argv, NULL, NULL);
    cr_assert_gt(child, 0);
    const char *eps[] = { events_ep };
    for (int i = 0; i < 50 && (sub = fs_bus_sub(eps, 1, "summary", 0, err, sizeof(err))) == NULL; i++)
        usleep(100000);
    cr_assert_not_null(sub, "%s", err);

    /* One batch a minute of event time until a summary comes back (the
     * first batches may be lost while the sockets connect). */
    for (uint64_t i = 0; i < 300 && !got_summary; i++) {
        struct fs_flow f = mkflow("10.0.0.1", "198.51.100.1", 443, T0 + i * MIN + 1000, 5000);
        const void *buf;
        size_t len;
        struct fs_bus_msg bm;
        fs_batch_reset(batch);
        cr_assert_eq(fs_batch_add(batch, &f), 0);
        cr_assert_eq(fs_batch_finish(batch, &buf, &len), 0);
        cr_assert_eq(fs_bus_send(pub, "flows", buf, len), 0);
        if (fs_bus_recv(sub, 100, &bm) == 1) {
            cr_assert_eq(fs_msg_decode(bm.data, bm.len, &m, err, sizeof(err)), 0, "%s", err);
            cr_expect_eq(m.type, FS_MSG_SUMMARY);
            cr_expect_str_eq(bm.topic, "summary");
            cr_expect_gt(m.summary->flows, 0);
            cr_expect_eq(m.summary->end_ms - m.summary->ts_ms, 60000);
            cr_expect_eq(m.summary->hosts, 1);
            got_summary = true;
            fs_msg_free(&m);
        }
    }
    cr_expect(got_summary, "no summary on the events bus");

    int status;
    cr_assert_eq(fs_proc_stop(child, SIGTERM, 10000, &status), 0);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    struct stat st;
    cr_expect_eq(stat(snap, &st), 0, "no snapshot at exit");

    struct run r;
    run_init(&r, (const char *const[]){ "window", "60", "lateness", "0", NULL });
    cr_expect_eq(fs_analyzer_load(r.c, snap, err, sizeof(err)), FS_SNAP_LOADED, "%s", err);
    cr_expect_eq(fs_analyzer_counters(r.c)->hosts_tracked, 1);
    run_free(&r);
    fs_bus_close(sub, 0);
    fs_bus_close(pub, 0);
    fs_batch_free(batch);
    fs_rmtree(dir);
}
