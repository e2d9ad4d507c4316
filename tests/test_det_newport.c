/*
 * test_det_newport.c - the new_port detector, through the whole analyzer:
 * a host calling out to a port it never used, a server reached from outside
 * on a new port and a new IP protocol are found, once; services other hosts
 * use, ephemeral-to-ephemeral media, probes, small exchanges, young hosts
 * and floods are not (or not beyond the daily cap); the learned filters
 * refuse corruption.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detmix.h"

extern const struct fs_detector fs_det_newport;

#define A "10.0.1.10"
#define SERVER "10.0.0.40"
#define DROP "203.0.113.50"

static const char *const learn2[] = { "warmup", "2d", NULL };

/* Days 0 to days-1 of office use for hosts 10.0.1.10 .. 10.0.1.(10+n-1). */
static void offices(struct detrun *r, unsigned n, unsigned days)
{
    for (unsigned d = 0; d < days; d++)
        for (unsigned h = 0; h < n; h++)
            detmix_office(r, detmix_ip("10.0.1.%u", 10 + h),
                          DETRUN_T0 + d * DETRUN_DAY + 9 * DETRUN_HOUR, 8);
}

static uint64_t at(unsigned day, unsigned hour, unsigned min)
{
    return DETRUN_T0 + day * DETRUN_DAY + hour * DETRUN_HOUR + min * DETRUN_MIN;
}

Test(det_newport, new_port_to_the_outside_is_found_once)
{
    struct detrun r;

    detrun_init(&r, learn2);
    offices(&r, 1, 4);
    /* Day 2, 10:01 and 10:02: two sessions to port 4444 of a stranger,
     * 8000 bytes up and 6000 down each; day 3 again. */
    detmix_tcp(&r, A, 52000, DROP, 4444, at(2, 10, 1), 5000, 8000, 6000);
    detmix_tcp(&r, A, 52001, DROP, 4444, at(2, 10, 2), 5000, 8000, 6000);
    detmix_tcp(&r, A, 52002, DROP, 4444, at(3, 10, 2), 5000, 8000, 6000);
    detrun_finish(&r);

    cr_expect_eq(detrun_count_class(&r, FS_AC_NEW_PORT), 1);
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_NEW_PORT, A, DROP);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->metric, "new_client_port");
    cr_expect_eq(a->observed, 28000);
    /* The window it crossed the minimum in; earlier if it began before. */
    cr_expect_eq(a->ts_ms, at(2, 10, 0));
    cr_expect_eq(a->end_ms, at(2, 10, 5));
    cr_expect(fabs(a->score - (50 + 15 * log10(2.8))) < 1e-9, "score %g", a->score);
    cr_expect_eq(a->top_ports[0].port, 4444);
    cr_expect_eq(a->top_ports[0].proto, 6);
    cr_expect_eq(detrun_extra(a, "role"), 0);
    cr_expect_eq(detrun_extra(a, "flows"), 4);
    cr_expect_eq(detrun_extra(a, "hosts_using"), 0);
    /* DNS and HTTPS, learned in the warm-up. */
    cr_expect_eq(detrun_extra(a, "services_known"), 2);
    detrun_free(&r);
}

Test(det_newport, service_other_hosts_use_is_quiet)
{
    struct detrun r;

    detrun_init(&r, learn2);
    offices(&r, 5, 3);
    /* In the warm-up, three hosts use port 8080 and two use port 9090. */
    for (unsigned h = 1; h <= 3; h++)
        detmix_tcp(&r, detmix_ip("10.0.1.%u", 10 + h), 52000, "198.51.100.80", 8080,
                   at(0, 11, h), 5000, 20000, 20000);
    for (unsigned h = 1; h <= 2; h++)
        detmix_tcp(&r, detmix_ip("10.0.1.%u", 10 + h), 52000, "198.51.100.90", 9090,
                   at(1, 11, h), 5000, 20000, 20000);
    /* Then the fifth host starts on both. */
    detmix_tcp(&r, "10.0.1.14", 52000, "198.51.100.81", 8080, at(2, 11, 0), 5000, 20000, 20000);
    detmix_tcp(&r, "10.0.1.14", 52001, "198.51.100.90", 9090, at(2, 14, 0), 5000, 20000, 20000);
    detrun_finish(&r);

    cr_expect_eq(detrun_count_class(&r, FS_AC_NEW_PORT), 1);
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_NEW_PORT, "10.0.1.14", NULL);
    cr_assert_not_null(a);
    cr_expect_eq(a->top_ports[0].port, 9090);
    cr_expect_eq(detrun_extra(a, "hosts_using"), 2);
    detrun_free(&r);
}

Test(det_newport, new_listener_reached_from_outside_is_found)
{
    struct detrun r;

    detrun_init(&r, learn2);
    offices(&r, 1, 3);
    for (unsigned d = 0; d < 3; d++)
        for (unsigned i = 0; i < 20; i++)
            detmix_tcp(&r, detmix_ip("203.0.113.%u", 100 + i), 40000, SERVER, 443,
                       at(d, 10, i), 2000, 2000, 50000);
    /* Day 2: outside clients on port 8081; a desktop on port 9443. */
    for (unsigned i = 0; i < 3; i++)
        detmix_tcp(&r, detmix_ip("198.51.100.%u", 20 + i), 40000, SERVER, 8081, at(2, 12, i),
                   2000, 4000, 6000);
    detmix_tcp(&r, A, 52000, SERVER, 9443, at(2, 13, 0), 2000, 10000, 10000);
    detrun_finish(&r);

    cr_expect_eq(detrun_count(&r, FS_AC_NEW_PORT, SERVER, NULL), 1);
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_NEW_PORT, SERVER, "198.51.100.20");
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->metric, "new_server_port");
    cr_expect_eq(a->observed, 30000);
    cr_expect_eq(detrun_extra(a, "role"), 1);
    /* A new listener reached from outside: 10 more. */
    cr_expect(fabs(a->score - (60 + 15 * log10(3.0))) < 1e-9, "score %g", a->score);
    /* Inside, the desktop is the one with something new. */
    a = detrun_find(&r, FS_AC_NEW_PORT, A, SERVER);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->metric, "new_client_port");
    cr_expect_eq(a->top_ports[0].port, 9443);
    detrun_free(&r);
}

Test(det_newport, internal_clients_count_for_a_listener_when_asked)
{
    static const char *const opts[] = { "warmup", "2d", "set", "new_port.server_internal_clients=1",
                                        NULL };
    struct detrun r;

    detrun_init(&r, opts);
    offices(&r, 1, 3);
    detmix_office(&r, SERVER, at(0, 9, 0), 56);
    detmix_tcp(&r, A, 52000, SERVER, 9443, at(2, 13, 0), 2000, 10000, 10000);
    detrun_finish(&r);
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_NEW_PORT, SERVER, A);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->metric, "new_server_port");
    detrun_free(&r);
}

Test(det_newport, media_probes_and_small_talk_are_quiet)
{
    struct detrun r;

    detrun_init(&r, learn2);
    offices(&r, 1, 3);
    /* A call: ephemeral ports both ends, a lot of payload. */
    for (unsigned i = 0; i < 20; i++)
        detmix_udp(&r, A, 40000, "198.51.100.9", 50000, at(2, 10, i), 100000, 100000);
    /* SYNs to a hundred new ports: no payload. */
    for (unsigned i = 0; i < 100; i++)
        detmix_syn(&r, A, 52000, "203.0.113.9", (uint16_t)(1000 + i), at(2, 11, 0) + i * 1000);
    /* One small exchange on a new port: under 10 kB. */
    detmix_tcp(&r, A, 52001, "203.0.113.10", 7000, at(2, 12, 0), 1000, 3000, 3000);
    /* Large pings: ICMP is not a service. */
    for (unsigned i = 0; i < 10; i++)
        detrun_flow(&r, A, 0, "203.0.113.11", 8 << 8, 1, at(2, 13, i), 1000, 100,
                    detmix_bytes(1, 100, 140000), -1);
    detrun_finish(&r);
    if (detrun_count_class(&r, FS_AC_NEW_PORT))
        detrun_dump(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_NEW_PORT), 0);
    detrun_free(&r);
}

Test(det_newport, new_ip_protocol_is_found)
{
    struct detrun r;

    detrun_init(&r, learn2);
    offices(&r, 1, 3);
    /* GRE both ways, 100 kB of payload each record (20-byte headers). */
    for (unsigned i = 0; i < 3; i++) {
        detrun_flow(&r, A, 0, "203.0.113.60", 0, 47, at(2, 15, i), 50000, 100, 100 * 20 + 100000,
                    -1);
        detrun_flow(&r, "203.0.113.60", 0, A, 0, 47, at(2, 15, i), 50000, 100,
                    100 * 20 + 100000, -1);
    }
    detrun_finish(&r);
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_NEW_PORT, A, "203.0.113.60");
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->metric, "new_protocol");
    cr_expect_eq(a->observed, 600000);
    cr_expect_eq(a->top_ports[0].proto, 47);
    cr_expect_eq(a->top_ports[0].port, 0);
    cr_expect_eq(detrun_extra(a, "role"), 2);
    cr_expect_eq(detrun_count_class(&r, FS_AC_NEW_PORT), 1);
    detrun_free(&r);
}

Test(det_newport, young_host_learns_its_first_day)
{
    struct detrun r;

    detrun_init(&r, learn2);
    offices(&r, 1, 4);
    /* A host first seen on day 2, after the warm-up. */
    detmix_office(&r, "10.0.1.30", at(2, 9, 0), 2);
    detmix_tcp(&r, "10.0.1.30", 52000, DROP, 4444, at(2, 10, 0), 5000, 20000, 20000);
    detmix_office(&r, "10.0.1.30", at(3, 9, 0), 2);
    detmix_tcp(&r, "10.0.1.30", 52001, DROP, 4444, at(3, 10, 0), 5000, 20000, 20000);
    detmix_tcp(&r, "10.0.1.30", 52002, DROP, 5555, at(3, 10, 30), 5000, 20000, 20000);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_NEW_PORT), 1);
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_NEW_PORT, "10.0.1.30", DROP);
    cr_assert_not_null(a);
    cr_expect_eq(a->top_ports[0].port, 5555);
    cr_expect_gt(detrun_extra(a, "host_age_days"), 1);
    detrun_free(&r);
}

Test(det_newport, a_flood_of_new_ports_is_capped_per_day)
{
    static const char *const opts[] = { "warmup", "2d", "suppress", "0", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    offices(&r, 1, 3);
    for (unsigned i = 0; i < 8; i++)
        detmix_tcp(&r, A, 52000, DROP, (uint16_t)(6001 + i), at(2, 10, i), 5000, 20000, 20000);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_NEW_PORT), 5);
    cr_expect_eq(detmix_counter(&r, "new_port.flood_suppressed"), 3);
    detrun_free(&r);
}

Test(det_newport, saved_state_refuses_corruption)
{
    struct detrun r;
    size_t len;

    detrun_init(&r, learn2);
    offices(&r, 3, 2);
    detrun_finish(&r);
    uint8_t *st = detrun_detector_state(&r, "new_port", &len);

    cr_expect_eq(detrun_load_state(&r, &fs_det_newport, st, len), 0);
    cr_expect_eq(detrun_corrupt_state(&r, &fs_det_newport, st, len), 0);
    free(st);
    detrun_free(&r);
}
