/*
 * test_det_proto.c - the protocol_anomaly detector, through the whole
 * analyzer: a desktop whose traffic turns into a GRE tunnel, and an ICMP
 * stream of tunnel-sized packets, are found with the share against what
 * the host learned; a VPN gateway that always speaks ESP, a flood of small
 * pings, a small tunnel and one lost in a host's other traffic are not; the
 * learned shares refuse corruption.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detmix.h"

extern const struct fs_detector fs_det_proto;

static const char *const learn1[] = { "warmup", "1d", NULL };

static uint64_t at(unsigned day, unsigned hour, unsigned min)
{
    return DETRUN_T0 + day * DETRUN_DAY + hour * DETRUN_HOUR + min * DETRUN_MIN;
}

/* Office use of `host` on days 0..days-1, 08:00-18:00. */
static void office_days(struct detrun *r, const char *host, unsigned days)
{
    for (unsigned d = 0; d < days; d++)
        detmix_office(r, host, at(d, 8, 0), 10);
}

/* One record each way of IP protocol `proto` between `host` and `peer` at
 * `t`, `packets` packets of `size` bytes each. */
static void exchange(struct detrun *r, const char *host, const char *peer, uint8_t proto,
                     uint64_t t, uint64_t packets, uint64_t size)
{
    detrun_flow(r, host, 0, peer, proto == 1 ? 8 << 8 : 0, proto, t, 60000, packets,
                packets * size, -1);
    detrun_flow(r, peer, 0, host, 0, proto, t, 60000, packets, packets * size, -1);
}

static const struct fs_anomaly *only(struct detrun *r, const char *host)
{
    const struct fs_anomaly *a = detrun_find(r, FS_AC_PROTOCOL_ANOMALY, host, NULL);

    if (!a || detrun_count_class(r, FS_AC_PROTOCOL_ANOMALY) != 1)
        detrun_dump(r);
    cr_assert_not_null(a);
    cr_assert_eq(detrun_count_class(r, FS_AC_PROTOCOL_ANOMALY), 1);
    return a;
}

Test(det_proto, gre_tunnel_on_a_desktop_is_found)
{
    struct detrun r;

    detrun_init(&r, learn1);
    office_days(&r, "10.0.1.10", 3);
    /* Day 2, 15:01: a megabyte each way over GRE. */
    exchange(&r, "10.0.1.10", "203.0.113.60", 47, at(2, 15, 1), 1000, 1000);
    detrun_finish(&r);

    const struct fs_anomaly *a = only(&r, "10.0.1.10");
    cr_expect_str_eq(a->metric, "protocol_share");
    cr_expect_eq(a->ts_ms, at(2, 15, 0));
    cr_expect_eq(detrun_extra(a, "proto"), 47);
    cr_expect_eq(detrun_extra(a, "bytes"), 2000000);
    cr_expect_eq(detrun_extra(a, "bytes_per_packet"), 1000);
    double share = 2e6 / detrun_extra(a, "host_bytes");

    cr_expect(fabs(a->observed - share) < 1e-12);
    cr_expect_gt(share, 0.9);
    /* Never used before: the share must reach the floor of 0.1. */
    cr_expect_eq(a->expected, 0);
    cr_expect_eq(detrun_extra(a, "threshold"), 0.1);
    cr_expect(fabs(a->score - fmin(100, 50 + 40 * log10(share / 0.1))) < 1e-9, "score %g",
              a->score);
    cr_expect_eq(a->top_ports[0].proto, 47);
    detrun_free(&r);
}

Test(det_proto, icmp_with_tunnel_sized_packets_is_found_and_small_pings_are_not)
{
    struct detrun r;

    detrun_init(&r, learn1);
    office_days(&r, "10.0.1.11", 3);
    office_days(&r, "10.0.1.12", 3);
    /* Both pinged a server now and then. */
    for (unsigned d = 0; d < 3; d++)
        for (unsigned h = 8; h < 18; h++) {
            exchange(&r, "10.0.1.11", "10.0.0.1", 1, at(d, h, 30), 4, 84);
            exchange(&r, "10.0.1.12", "10.0.0.1", 1, at(d, h, 30), 4, 84);
        }
    /* Day 2, 11:01: 1.1 MB each way in 1100-byte packets from one; 1.26 MB
     * in 84-byte pings from the other. */
    exchange(&r, "10.0.1.11", "203.0.113.61", 1, at(2, 11, 1), 1000, 1100);
    exchange(&r, "10.0.1.12", "203.0.113.62", 1, at(2, 11, 1), 15000, 84);
    detrun_finish(&r);

    const struct fs_anomaly *a = only(&r, "10.0.1.11");
    cr_expect_eq(detrun_extra(a, "proto"), 1);
    cr_expect_eq(detrun_extra(a, "bytes"), 2200000);
    /* The hourly pings: a small learned share, under a tenth of the floor. */
    cr_expect_gt(a->expected, 0);
    cr_expect_lt(a->expected, 0.02);
    detrun_free(&r);
}

Test(det_proto, vpn_gateway_that_always_speaks_esp_is_quiet)
{
    struct detrun r;

    detrun_init(&r, learn1);
    office_days(&r, "10.0.0.60", 3);
    for (unsigned w = 0; w < 3 * 288; w++)
        exchange(&r, "10.0.0.60", "198.51.100.60", 50, DETRUN_T0 + w * 5 * DETRUN_MIN + 1000, 2000,
                 1400);
    detrun_finish(&r);
    if (detrun_count_class(&r, FS_AC_PROTOCOL_ANOMALY))
        detrun_dump(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_PROTOCOL_ANOMALY), 0);
    detrun_free(&r);
}

Test(det_proto, small_or_drowned_tunnels_are_quiet)
{
    struct detrun r;

    detrun_init(&r, learn1);
    office_days(&r, "10.0.1.13", 3);
    office_days(&r, "10.0.1.14", 3);
    /* 100 kB of GRE: under the 1 MB minimum. */
    exchange(&r, "10.0.1.13", "203.0.113.63", 47, at(2, 15, 1), 100, 500);
    /* 2 MB of GRE in a window with a 40 MB download: 5%. */
    exchange(&r, "10.0.1.14", "203.0.113.64", 47, at(2, 15, 1), 1000, 1000);
    detmix_tcp(&r, "10.0.1.14", 50000, "198.51.100.7", 443, at(2, 15, 2), 60000, 10000, 40000000);
    detrun_finish(&r);
    if (detrun_count_class(&r, FS_AC_PROTOCOL_ANOMALY))
        detrun_dump(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_PROTOCOL_ANOMALY), 0);
    detrun_free(&r);
}

Test(det_proto, saved_state_refuses_corruption)
{
    struct detrun r;
    size_t len;

    detrun_init(&r, learn1);
    office_days(&r, "10.0.1.11", 2);
    for (unsigned h = 8; h < 18; h++)
        exchange(&r, "10.0.1.11", "10.0.0.1", 1, at(0, h, 30), 4, 84);
    detrun_finish(&r);
    uint8_t *st = detrun_detector_state(&r, "protocol_anomaly", &len);

    cr_expect_eq(detrun_load_state(&r, &fs_det_proto, st, len), 0);
    cr_expect_eq(detrun_corrupt_state(&r, &fs_det_proto, st, len), 0);
    free(st);
    detrun_free(&r);
}
