/*
 * test_det_scan.c - the port_scan and host_sweep detectors, through the
 * whole analyzer: vertical scans from inside and outside, fast, slow and
 * distributed sweeps are found on the right host with their evidence; a
 * few refused ports, ordinary browsing, a flood on one host, an allowlisted
 * scanner and a monitoring server's daily port check are not; the learned
 * state survives a restart and refuses corruption.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detmix.h"

extern const struct fs_detector fs_det_port_scan;
extern const struct fs_detector fs_det_host_sweep;

#define SCANNER "10.0.0.5"
#define TARGET "10.0.0.41"
#define OUTSIDER "203.0.113.7"

static double ramp_score(double observed, double threshold)
{
    return 50 + 40 * log10(observed / threshold);
}

/* `n` refused probes from src to dst, ports first..first+n-1, 4 s apart. */
static void port_probes(struct detrun *r, const char *src, const char *dst, unsigned first,
                        unsigned n, uint64_t from)
{
    for (unsigned i = 0; i < n; i++)
        detmix_refused(r, src, 45000, dst, (uint16_t)(first + i), from + i * 4000ull);
}

Test(det_scan, vertical_scan_from_inside_is_found_on_the_scanner)
{
    struct detrun r;

    detrun_init(&r, NULL);
    port_probes(&r, SCANNER, TARGET, 1, 25, DETRUN_T0 + 10 * DETRUN_MIN);
    detrun_finish(&r);

    const struct fs_anomaly *a = detrun_find(&r, FS_AC_PORT_SCAN, SCANNER, TARGET);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->metric, "distinct_ports");
    cr_expect_eq(a->observed, 25);
    cr_expect_eq(a->ts_ms, DETRUN_T0 + 10 * DETRUN_MIN);
    cr_expect_eq(a->end_ms, DETRUN_T0 + 15 * DETRUN_MIN);
    /* No history: the floor of 15 ports a window, 50 there, +40 a decade. */
    cr_expect_eq(detrun_extra(a, "threshold"), 15);
    cr_expect(fabs(a->score - ramp_score(25, 15)) < 1e-9, "score %g", a->score);
    cr_expect_eq(detrun_extra(a, "probes"), 25);
    cr_expect_eq(detrun_extra(a, "failed_share"), 1);
    cr_expect_eq(detrun_extra(a, "inbound"), 0);
    char buf[FS_IP_STRLEN];
    cr_expect_str_eq(fs_ip_format(&a->top_peers[0].addr, buf), TARGET);
    /* The latest ports first. */
    cr_expect_eq(a->nports, 5);
    cr_expect_eq(a->top_ports[0].port, 25);
    cr_expect_eq(a->top_ports[0].proto, 6);
    /* The target's resets are answers, not a scan of the scanner. */
    cr_expect_eq(detrun_count_class(&r, FS_AC_PORT_SCAN), 1);
    cr_expect_eq(detrun_count_class(&r, FS_AC_HOST_SWEEP), 0);
    detrun_free(&r);
}

Test(det_scan, a_dozen_refused_ports_is_quiet)
{
    struct detrun r;

    detrun_init(&r, NULL);
    port_probes(&r, SCANNER, TARGET, 8000, 14, DETRUN_T0 + 10 * DETRUN_MIN);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_PORT_SCAN), 0);
    detrun_free(&r);
}

Test(det_scan, scan_from_outside_is_found_on_the_target)
{
    struct detrun r;

    detrun_init(&r, NULL);
    port_probes(&r, OUTSIDER, TARGET, 1000, 20, DETRUN_T0 + 10 * DETRUN_MIN);
    detrun_finish(&r);

    const struct fs_anomaly *a = detrun_find(&r, FS_AC_PORT_SCAN, TARGET, OUTSIDER);
    cr_assert_not_null(a);
    cr_expect_eq(a->observed, 20);
    cr_expect_eq(detrun_extra(a, "inbound"), 1);
    /* Outside scanners count 0.8 of an inside one. */
    cr_expect(fabs(a->score - 0.8 * ramp_score(20, 15)) < 1e-9, "score %g", a->score);
    char buf[FS_IP_STRLEN];
    cr_expect_str_eq(fs_ip_format(&a->top_peers[0].addr, buf), OUTSIDER);
    cr_expect_eq(a->top_peers[0].value, 20);
    detrun_free(&r);
}

Test(det_scan, slow_scan_over_hours_is_found_on_the_horizon)
{
    struct detrun r;
    uint64_t from = DETRUN_T0 + DETRUN_HOUR + 10000;

    detrun_init(&r, NULL);
    /* One port every five minutes for six hours: never two in a window. */
    for (unsigned i = 0; i < 72; i++)
        detmix_refused(&r, SCANNER, 45000, TARGET, (uint16_t)(2000 + i), from + i * 5 * DETRUN_MIN);
    detrun_finish(&r);

    const struct fs_anomaly *a = detrun_find(&r, FS_AC_PORT_SCAN, SCANNER, TARGET);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->metric, "distinct_ports_horizon");
    cr_expect_geq(a->observed, 40);
    cr_expect_eq(detrun_extra(a, "ports_window"), 1);
    /* The span starts with the first probe; the horizon (six hours, as
     * two epochs of three) reaches 40 ports about 3 h 15 min later. */
    cr_expect_eq(a->ts_ms, from);
    cr_expect_geq(a->end_ms, from + 3 * DETRUN_HOUR);
    cr_expect_leq(a->end_ms, from + 4 * DETRUN_HOUR);
    cr_expect_eq(detrun_count_class(&r, FS_AC_PORT_SCAN), 1);
    detrun_free(&r);
}

/* A monitoring server's check of 20 service ports of the target, by
 * connect-and-close, at 03:00 on day `day`; `ports` of them. */
static void port_check(struct detrun *r, unsigned day, unsigned ports)
{
    uint64_t t = DETRUN_T0 + day * DETRUN_DAY + 3 * DETRUN_HOUR;

    for (unsigned i = 0; i < ports; i++)
        detrun_flow(r, "10.0.0.9", 50000, TARGET, (uint16_t)(100 + i), 6, t + i * 1000ull, 50, 3,
                    3 * DETMIX_TCP_HDR, DETRUN_SYN | DETRUN_ACK | DETRUN_FIN);
}

Test(det_scan, daily_port_check_is_learned_and_a_real_scan_is_not)
{
    static const char *const opts[] = { "warmup", "3d", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    for (unsigned d = 0; d < 6; d++)
        port_check(&r, d, 20);
    port_check(&r, 6, 200);
    detrun_finish(&r);

    cr_expect_eq(detrun_count_class(&r, FS_AC_PORT_SCAN), 1);
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_PORT_SCAN, "10.0.0.9", TARGET);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_eq(a->ts_ms, DETRUN_T0 + 6 * DETRUN_DAY + 3 * DETRUN_HOUR);
    /* Six days of 20-port peaks: usual 20, three times that to be a scan. */
    cr_expect_eq(a->expected, 20);
    cr_expect_eq(a->samples, 6);
    cr_expect_eq(detrun_extra(a, "threshold"), 60);
    cr_expect_gt(a->observed, 160);
    detrun_free(&r);
}

Test(det_scan, fast_sweep_from_inside_is_found_on_the_sweeper)
{
    struct detrun r;

    detrun_init(&r, NULL);
    for (unsigned i = 1; i <= 26; i++)
        detmix_syn(&r, SCANNER, (uint16_t)(50000 + i), detmix_ip("10.0.1.%u", i), 445,
                   DETRUN_T0 + 10 * DETRUN_MIN + i * 4000ull);
    /* 24 hosts on another port: under the floor of 25. */
    for (unsigned i = 1; i <= 24; i++)
        detmix_syn(&r, SCANNER, (uint16_t)(51000 + i), detmix_ip("10.0.1.%u", i), 139,
                   DETRUN_T0 + 10 * DETRUN_MIN + i * 4000ull);
    detrun_finish(&r);

    cr_expect_eq(detrun_count_class(&r, FS_AC_HOST_SWEEP), 1);
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_HOST_SWEEP, SCANNER, NULL);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_eq(a->peer.af, 0);
    cr_expect_str_eq(a->metric, "distinct_hosts");
    cr_expect_eq(a->observed, 26);
    cr_expect(fabs(a->score - ramp_score(26, 25)) < 1e-9, "score %g", a->score);
    cr_expect_eq(a->top_ports[0].port, 445);
    cr_expect_eq(a->top_ports[0].value, 26);
    char buf[FS_IP_STRLEN];
    cr_expect_str_eq(fs_ip_format(&a->top_peers[0].addr, buf), "10.0.1.26");
    cr_expect_eq(a->npeers, 5);
    detrun_free(&r);
}

Test(det_scan, slow_sweep_over_hours_is_found)
{
    struct detrun r;
    uint64_t from = DETRUN_T0 + DETRUN_HOUR + 10000;

    detrun_init(&r, NULL);
    for (unsigned i = 1; i <= 70; i++)
        detmix_syn(&r, "10.0.0.6", 50000, detmix_ip("10.0.2.%u", i), 22,
                   from + (i - 1) * 5 * DETRUN_MIN);
    detrun_finish(&r);

    const struct fs_anomaly *a = detrun_find(&r, FS_AC_HOST_SWEEP, "10.0.0.6", NULL);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->metric, "distinct_hosts_horizon");
    cr_expect_geq(a->observed, 50);
    cr_expect_eq(a->ts_ms, from);
    /* About 50 probes, one each five minutes, give or take the estimate. */
    cr_expect_geq(a->end_ms, from + 45 * 5 * DETRUN_MIN);
    cr_expect_leq(a->end_ms, from + 56 * 5 * DETRUN_MIN);
    cr_expect_eq(detrun_count_class(&r, FS_AC_HOST_SWEEP), 1);
    detrun_free(&r);
}

Test(det_scan, distributed_sweep_is_found_and_a_flood_on_one_host_is_not)
{
    struct detrun r;

    detrun_init(&r, NULL);
    /* Twenty outside machines, each five hosts of 10.0.3.0/24 on RDP. */
    for (unsigned k = 0; k < 20; k++)
        for (unsigned j = 1; j <= 5; j++)
            detrun_flow(&r, detmix_ip("203.0.113.%u", k + 1), 40000,
                        detmix_ip("10.0.3.%u", 5 * k + j), 3389, 6,
                        DETRUN_T0 + DETRUN_HOUR + k * 6 * DETRUN_MIN + j * 30000ull, 0, 1, 60,
                        DETRUN_SYN);
    /* 250 machines flooding one web server with SYNs, twice each. */
    for (unsigned k = 0; k < 500; k++)
        detrun_flow(&r, detmix_ip("198.18.%u.1", k % 250), (uint16_t)(40000 + k), "10.0.0.40",
                    443, 6, DETRUN_T0 + 5 * DETRUN_HOUR + k * 100ull, 50000, 200, 200 * 60,
                    DETRUN_SYN);
    detrun_finish(&r);

    cr_expect_eq(detrun_count_class(&r, FS_AC_HOST_SWEEP), 1);
    const struct fs_anomaly *a = NULL;
    for (size_t i = 0; i < r.nfound; i++)
        if (r.found[i].cls == FS_AC_HOST_SWEEP)
            a = &r.found[i];
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->metric, "distinct_targets_distributed");
    char buf[FS_IP_STRLEN];
    cr_expect_eq(strncmp(fs_ip_format(&a->host, buf), "10.0.3.", 7), 0, "host %s", buf);
    cr_expect_eq(a->peer.af, 0);
    cr_expect_eq(a->top_ports[0].port, 3389);
    cr_expect_geq(a->observed, 50);
    cr_expect_geq(detrun_extra(a, "sources"), 9);
    cr_expect_leq(detrun_extra(a, "targets_per_source"), 6);
    cr_expect_eq(detrun_extra(a, "distributed"), 1);
    cr_expect_eq(a->ts_ms, DETRUN_T0 + DETRUN_HOUR + 30000);
    cr_expect(fabs(a->score - 0.8 * ramp_score(a->observed, 50)) < 1e-9, "score %g", a->score);
    detrun_free(&r);
}

Test(det_scan, allowlisted_scanner_is_quiet)
{
    static const char *const opts[] = { "set", "port_scan.allow=10.0.0.90", "set",
                                        "host_sweep.allow=10.0.0.64/26", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    for (unsigned h = 1; h <= 30; h++)
        port_probes(&r, "10.0.0.90", detmix_ip("10.0.1.%u", h), 1, 40,
                    DETRUN_T0 + DETRUN_HOUR + h * DETRUN_MIN);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_PORT_SCAN), 0);
    cr_expect_eq(detrun_count_class(&r, FS_AC_HOST_SWEEP), 0);
    cr_expect_eq(detmix_counter(&r, "port_scan.allowlisted"), 30 * 40);
    cr_expect_eq(detmix_counter(&r, "host_sweep.allowlisted"), 30 * 40);
    cr_expect_eq(detmix_counter(&r, "port_scan.probes"), 0);
    detrun_free(&r);
}

Test(det_scan, browsing_and_answers_are_not_probes)
{
    struct detrun r;

    detrun_init(&r, NULL);
    /* Forty sites in a few minutes, and resets from forty hosts. */
    for (unsigned i = 1; i <= 40; i++) {
        detmix_tcp(&r, "10.0.1.10", (uint16_t)(50000 + i), detmix_ip("198.51.100.%u", i), 443,
                   DETRUN_T0 + 10 * DETRUN_MIN + i * 1000ull, 2000, 1500, 40000);
        detrun_flow(&r, detmix_ip("10.0.2.%u", i), 445, "10.0.1.11", (uint16_t)(50000 + i), 6,
                    DETRUN_T0 + 10 * DETRUN_MIN + i * 1000ull, 0, 1, 40, DETRUN_RST | DETRUN_ACK);
    }
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_PORT_SCAN), 0);
    cr_expect_eq(detrun_count_class(&r, FS_AC_HOST_SWEEP), 0);
    cr_expect_eq(detmix_counter(&r, "port_scan.probes"), 0);
    cr_expect_eq(detmix_counter(&r, "host_sweep.probes"), 0);
    detrun_free(&r);
}

Test(det_scan, learned_state_survives_a_restart)
{
    static const char *const warm[] = { "warmup", "0", NULL };
    char path[] = "/tmp/fs-detscan-XXXXXX", err[256];
    int fd = mkstemp(path);
    struct detrun r;

    cr_assert_geq(fd, 0);
    close(fd);
    detrun_init(&r, warm);
    for (unsigned d = 0; d < 3; d++)
        port_check(&r, d, 20);
    detrun_finish(&r);
    /* Three days from nothing: each check passes the floor while the
     * source has fewer than three days of history, and is learned. */
    cr_expect_eq(detrun_count_class(&r, FS_AC_PORT_SCAN), 3);
    cr_assert_eq(fs_analyzer_save(r.an, path, err, sizeof(err)), 0, "%s", err);
    detrun_free(&r);

    detrun_init(&r, warm);
    cr_assert_eq(fs_analyzer_load(r.an, path, err, sizeof(err)), FS_SNAP_LOADED, "%s", err);
    port_check(&r, 3, 20);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_PORT_SCAN), 0);
    detrun_free(&r);
    unlink(path);

    /* The same day without the snapshot: a scan again. */
    detrun_init(&r, warm);
    port_check(&r, 3, 20);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_PORT_SCAN), 1);
    detrun_free(&r);
}

Test(det_scan, saved_state_refuses_corruption)
{
    struct detrun r;
    size_t len;

    detrun_init(&r, NULL);
    for (unsigned d = 0; d < 2; d++) {
        port_check(&r, d, 20);
        for (unsigned k = 0; k < 8; k++)
            detrun_flow(&r, detmix_ip("203.0.113.%u", k + 1), 40000, detmix_ip("10.0.3.%u", k + 1),
                        3389, 6, DETRUN_T0 + d * DETRUN_DAY + DETRUN_HOUR + k * 1000ull, 0, 1, 60,
                        DETRUN_SYN);
    }
    detrun_finish(&r);
    uint8_t *ps = detrun_detector_state(&r, "port_scan", &len);

    cr_expect_eq(detrun_load_state(&r, &fs_det_port_scan, ps, len), 0);
    cr_expect_eq(detrun_corrupt_state(&r, &fs_det_port_scan, ps, len), 0);
    free(ps);
    uint8_t *hs = detrun_detector_state(&r, "host_sweep", &len);

    cr_expect_eq(detrun_load_state(&r, &fs_det_host_sweep, hs, len), 0);
    cr_expect_eq(detrun_corrupt_state(&r, &fs_det_host_sweep, hs, len), 0);
    /* One detector's state is not the other's. */
    cr_expect_neq(detrun_load_state(&r, &fs_det_port_scan, hs, len), 0);
    free(hs);
    detrun_free(&r);
}
