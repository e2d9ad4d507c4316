/*
 * test_det_ddos.c - the ddos detector, through the whole analyzer: a flood
 * from hundreds of machines on a web server is found with its top sources
 * and ports; an all-hands stream (a lot for each desktop, from one
 * platform), a daily busy hour in the baseline, a host without history
 * under the raised minimums and floods from inside (by default) are not.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "detmix.h"

#define WEB "10.0.0.40"

static uint64_t at(unsigned day, unsigned hour, unsigned min)
{
    return DETRUN_T0 + day * DETRUN_DAY + hour * DETRUN_HOUR + min * DETRUN_MIN;
}

/* Visitors of the web server: 20 outside clients every five minutes, round
 * the clock, for `days` days. */
static void visitors(struct detrun *r, unsigned days)
{
    for (unsigned w = 0; w < days * 288; w++)
        for (unsigned i = 0; i < 20; i++)
            detmix_tcp(r, detmix_ip("198.51.100.%u", 1 + (w * 7 + i) % 200), 40000, WEB, 443,
                       DETRUN_T0 + w * 5 * DETRUN_MIN + i * 10000ull, 2000, 2000, 50000);
}

/* `n` machines of the /16 `net` ("198.18") each sending `packets` SYNs to
 * dst:443 within a minute from `from`. */
static void flood(struct detrun *r, const char *dst, unsigned n, uint64_t packets, uint64_t from,
                  const char *net)
{
    char src[FS_IP_STRLEN];

    for (unsigned k = 0; k < n; k++) {
        snprintf(src, sizeof(src), "%s.%u.%u", net, k / 250, 1 + k % 250);
        detrun_flow(r, src, (uint16_t)(1024 + k), dst, 443, 6, from + k * 100ull, 60000, packets,
                    packets * 60, DETRUN_SYN);
    }
}

Test(det_ddos, flood_from_many_sources_is_found)
{
    static const char *const opts[] = { "warmup", "1d", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    visitors(&r, 3);
    flood(&r, WEB, 600, 300, at(2, 20, 0), "198.18");
    detrun_finish(&r);

    cr_expect_eq(detrun_count_class(&r, FS_AC_DDOS), 1);
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_DDOS, WEB, NULL);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_eq(a->ts_ms, at(2, 20, 0));
    cr_expect_str_eq(a->metric, "packets");
    /* 180000 SYNs and the visitors' 20 x 5 packets in. */
    cr_expect_eq(detrun_extra(a, "packets_in"), 180100);
    cr_expect_eq(detrun_extra(a, "cold"), 0);
    /* 620 peers, as the core's distinct counter estimates them. */
    cr_expect(fabs(detrun_extra(a, "peers") - 620) < 0.1 * 620, "peers %g",
              detrun_extra(a, "peers"));
    cr_expect_gt(detrun_extra(a, "z_peers"), 10);
    cr_expect_gt(a->z, 10);
    cr_expect_geq(a->score, FS_SCORE_HIGH);
    /* Evidence: the flood's sources (300 packets each) and its port. */
    cr_expect_eq(a->npeers, 5);
    cr_expect_eq(a->top_peers[0].value, 300);
    char buf[FS_IP_STRLEN];
    cr_expect_eq(strncmp(fs_ip_format(&a->top_peers[0].addr, buf), "198.18.", 7), 0);
    cr_expect_eq(a->top_ports[0].port, 443);
    cr_expect_eq(a->top_ports[0].proto, 6);
    cr_expect_geq(a->top_ports[0].value, 170000);
    detrun_free(&r);
}

Test(det_ddos, all_hands_stream_is_quiet)
{
    static const char *const opts[] = { "warmup", "1d", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    for (unsigned d = 0; d < 3; d++)
        for (unsigned h = 1; h <= 30; h++)
            detmix_office(&r, detmix_ip("10.0.1.%u", h), at(d, 9, 0), 8);
    /* Tuesday 16:00: 200 MB each from the video platform, in minutes. */
    for (unsigned h = 1; h <= 30; h++)
        detmix_tcp(&r, detmix_ip("10.0.1.%u", h), 50000, "198.51.100.200", 443, at(1, 16, 0),
                   240000, 60000, 200000000);
    detrun_finish(&r);
    if (detrun_count_class(&r, FS_AC_DDOS))
        detrun_dump(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_DDOS), 0);
    /* Each desktop passed the packet minimum, with a handful of peers. */
    cr_expect_eq(detmix_counter(&r, "ddos.candidates"), 0);
    detrun_free(&r);
}

Test(det_ddos, busy_hour_in_the_baseline_is_quiet)
{
    static const char *const opts[] = { "warmup", "7d", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    visitors(&r, 8);
    /* Every day 09:00-10:00, 200 partners upload to the server: 150000
     * packets a window. */
    for (unsigned d = 0; d < 8; d++)
        for (unsigned w = 0; w < 12; w++)
            flood(&r, WEB, 200, 750, at(d, 9, 5 * w), "198.19");
    detrun_finish(&r);
    if (detrun_count_class(&r, FS_AC_DDOS))
        detrun_dump(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_DDOS), 0);
    /* Past the minimums every busy window after the warm-up: the baseline
     * is what kept them quiet. */
    cr_expect_eq(detmix_counter(&r, "ddos.candidates"), 12);
    detrun_free(&r);
}

Test(det_ddos, host_without_history_meets_raised_minimums)
{
    struct detrun r;

    detrun_init(&r, NULL);
    /* Five times the minimums: 500000 packets and 250 sources. */
    flood(&r, "10.0.0.77", 1000, 600, at(0, 1, 0), "198.18");
    flood(&r, "10.0.0.78", 100, 2000, at(0, 1, 0), "198.19");
    detrun_finish(&r);
    cr_expect_eq(detrun_count(&r, FS_AC_DDOS, "10.0.0.78", NULL), 0);
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_DDOS, "10.0.0.77", NULL);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_eq(detrun_extra(a, "cold"), 1);
    cr_expect_eq(detrun_extra(a, "packets_in"), 600000);
    cr_expect(fabs(a->score - (50 + 40 * log10(600000.0 / 500000))) < 1e-9, "score %g",
              a->score);
    detrun_free(&r);
}

Test(det_ddos, floods_from_inside_count_only_when_asked)
{
    static const char *const opts[] = { "set", "ddos.internal_sources=1", NULL };
    struct detrun r;

    detrun_init(&r, NULL);
    flood(&r, "10.0.0.77", 1000, 600, at(0, 1, 0), "10.1");
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_DDOS), 0);
    detrun_free(&r);

    detrun_init(&r, opts);
    flood(&r, "10.0.0.77", 1000, 600, at(0, 1, 0), "10.1");
    detrun_finish(&r);
    cr_expect_eq(detrun_count(&r, FS_AC_DDOS, "10.0.0.77", NULL), 1);
    detrun_free(&r);
}
