/*
 * test_det_lateral.c - the lateral_movement detector, through the whole
 * analyzer: a desktop that suddenly opens admin sessions to many internal
 * hosts is found, against its own history; a management server's daily
 * round, a blind sweep nobody answers, an allowlisted host and ports taken
 * off the list are not; hosts without history meet a higher floor; the
 * learned state refuses corruption.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detmix.h"

extern const struct fs_detector fs_det_lateral;

#define DESKTOP "10.0.1.10"
#define FILESRV "10.0.0.30"
#define MGMT "10.0.0.20"

/* A day of the desktop's work: office use, and two SMB sessions to the
 * file server (its one admin-port peer). */
static void desktop_day(struct detrun *r, unsigned day)
{
    uint64_t t = DETRUN_T0 + day * DETRUN_DAY + 9 * DETRUN_HOUR;

    detmix_office(r, DESKTOP, t, 8);
    detmix_tcp(r, DESKTOP, 50001, FILESRV, 445, t + 30 * DETRUN_MIN, 20000, 4000, 800000);
    detmix_tcp(r, DESKTOP, 50002, FILESRV, 445, t + 5 * DETRUN_HOUR, 20000, 4000, 300000);
}

/* Answered admin sessions from `src` to 10.0.2.1..n, alternating SMB and
 * RDP, from `from`, 15 s apart. */
static void spread(struct detrun *r, const char *src, unsigned n, uint64_t from)
{
    for (unsigned i = 1; i <= n; i++)
        detmix_tcp(r, src, (uint16_t)(52000 + i), detmix_ip("10.0.2.%u", i), i % 2 ? 445 : 3389,
                   from + i * 15000ull, 10000, 30000, 20000);
}

Test(det_lateral, desktop_reaching_many_hosts_is_found)
{
    static const char *const opts[] = { "warmup", "3d", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    for (unsigned d = 0; d < 4; d++)
        desktop_day(&r, d);
    detmix_office(&r, DESKTOP, DETRUN_T0 + 4 * DETRUN_DAY + 9 * DETRUN_HOUR, 2);
    spread(&r, DESKTOP, 15, DETRUN_T0 + 4 * DETRUN_DAY + 10 * DETRUN_HOUR);
    detrun_finish(&r);

    cr_expect_eq(detrun_count_class(&r, FS_AC_LATERAL_MOVEMENT), 1);
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_LATERAL_MOVEMENT, DESKTOP, NULL);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->metric, "admin_peers");
    /* Fifteen sessions 15 s apart from 10:00:15, all ending (10 s later)
     * in the window 10:00-10:05. */
    cr_expect_eq(a->observed, 15);
    cr_expect_eq(a->ts_ms, DETRUN_T0 + 4 * DETRUN_DAY + 10 * DETRUN_HOUR);
    /* Four days with one admin peer: usual 1, so the floor of 10 rules. */
    cr_expect_eq(a->expected, 1);
    cr_expect_eq(a->samples, 4);
    cr_expect_eq(detrun_extra(a, "threshold"), 10);
    cr_expect(fabs(a->score - (50 + 40 * log10(15.0 / 10))) < 1e-9, "score %g", a->score);
    cr_expect_eq(detrun_extra(a, "attempts"), 15);
    cr_expect_eq(detrun_extra(a, "answered_share"), 1);
    char buf[FS_IP_STRLEN];
    cr_expect_str_eq(fs_ip_format(&a->top_peers[0].addr, buf), "10.0.2.15");
    /* The latest five: 15, 13, 11 on SMB, 14 and 12 on RDP. */
    cr_expect_eq(a->top_ports[0].port, 445);
    cr_expect_eq(a->top_ports[0].value, 3);
    cr_expect_eq(a->top_ports[1].port, 3389);
    cr_expect_eq(a->top_ports[1].value, 2);
    detrun_free(&r);
}

Test(det_lateral, management_server_daily_round_is_quiet)
{
    static const char *const opts[] = { "warmup", "3d", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    /* Every night at 03:00 it reaches 40 desktops over WinRM. */
    for (unsigned d = 0; d < 7; d++)
        for (unsigned i = 1; i <= 40; i++)
            detmix_tcp(&r, MGMT, (uint16_t)(51000 + i), detmix_ip("10.0.1.%u", i), 5985,
                       DETRUN_T0 + d * DETRUN_DAY + 3 * DETRUN_HOUR + i * 5000ull, 3000, 8000,
                       12000);
    detrun_finish(&r);
    if (detrun_count_class(&r, FS_AC_LATERAL_MOVEMENT))
        detrun_dump(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_LATERAL_MOVEMENT), 0);
    detrun_free(&r);
}

Test(det_lateral, blind_sweep_nobody_answers_is_left_to_host_sweep)
{
    struct detrun r;

    detrun_init(&r, NULL);
    for (unsigned i = 1; i <= 30; i++)
        detmix_syn(&r, DESKTOP, (uint16_t)(52000 + i), detmix_ip("10.0.2.%u", i), 445,
                   DETRUN_T0 + DETRUN_HOUR + i * 2000ull);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_LATERAL_MOVEMENT), 0);
    cr_expect_eq(detrun_count(&r, FS_AC_HOST_SWEEP, DESKTOP, NULL), 1);
    detrun_free(&r);
}

Test(det_lateral, host_without_history_meets_a_higher_floor)
{
    struct detrun r;

    detrun_init(&r, NULL);
    /* No history: 1.5 times the floor of 10. */
    spread(&r, "10.0.1.20", 14, DETRUN_T0 + DETRUN_HOUR);
    spread(&r, "10.0.1.21", 16, DETRUN_T0 + DETRUN_HOUR);
    detrun_finish(&r);
    cr_expect_eq(detrun_count(&r, FS_AC_LATERAL_MOVEMENT, "10.0.1.20", NULL), 0);
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_LATERAL_MOVEMENT, "10.0.1.21", NULL);
    cr_assert_not_null(a);
    cr_expect_eq(a->observed, 16);
    cr_expect_eq(a->samples, 0);
    cr_expect_eq(detrun_extra(a, "threshold"), 15);
    detrun_free(&r);
}

Test(det_lateral, slow_spread_over_the_hour_is_found)
{
    static const char *const opts[] = { "set", "lateral_movement.slow_floor=16", NULL };
    struct detrun r;
    uint64_t from = DETRUN_T0 + DETRUN_HOUR + 60000;

    detrun_init(&r, opts);
    /* One new host every two minutes from 01:01: never more than three a
     * window. */
    for (unsigned i = 1; i <= 26; i++)
        detmix_tcp(&r, DESKTOP, (uint16_t)(52000 + i), detmix_ip("10.0.2.%u", i), 22,
                   from + (i - 1) * 2 * DETRUN_MIN, 20000, 5000, 20000);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_LATERAL_MOVEMENT), 1);
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_LATERAL_MOVEMENT, DESKTOP, NULL);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->metric, "admin_peers_horizon");
    /* Without history: 1.5 times the horizon floor, 24. Session i ends at
     * 01:01:20 + 2(i-1) min: the window 01:40-01:45 closes with 22 peers in
     * the horizon (the epochs 01:00-01:30 and 01:30-02:00); the next one
     * holds sessions 23 to 25 and is still open (two minutes of allowed
     * lateness) when session 26 ends at 01:51:20: 26 peers. */
    cr_expect_eq(detrun_extra(a, "threshold"), 24);
    cr_expect_eq(a->observed, 26);
    cr_expect_eq(detrun_extra(a, "peers_window"), 3);
    cr_expect_eq(a->end_ms, DETRUN_T0 + DETRUN_HOUR + 50 * DETRUN_MIN);
    cr_expect_eq(a->ts_ms, a->end_ms - DETRUN_HOUR);
    cr_expect_eq(detrun_extra(a, "attempts"), 26);
    detrun_free(&r);
}

Test(det_lateral, allowlist_and_port_settings_are_obeyed)
{
    static const char *const opts[] = { "set", "lateral_movement.allow=10.0.1.20", "set",
                                        "lateral_movement.port_445=0", "set",
                                        "lateral_movement.port_3389=0", "set",
                                        "lateral_movement.port_8445=1", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    spread(&r, "10.0.1.20", 30, DETRUN_T0 + DETRUN_HOUR);
    spread(&r, "10.0.1.21", 30, DETRUN_T0 + DETRUN_HOUR);
    for (unsigned i = 1; i <= 20; i++)
        detmix_tcp(&r, "10.0.1.22", (uint16_t)(52000 + i), detmix_ip("10.0.3.%u", i), 8445,
                   DETRUN_T0 + DETRUN_HOUR + i * 10000ull, 5000, 5000, 5000);
    detrun_finish(&r);
    cr_expect_eq(detrun_count(&r, FS_AC_LATERAL_MOVEMENT, "10.0.1.20", NULL), 0);
    cr_expect_eq(detrun_count(&r, FS_AC_LATERAL_MOVEMENT, "10.0.1.21", NULL), 0);
    cr_expect_eq(detrun_count(&r, FS_AC_LATERAL_MOVEMENT, "10.0.1.22", NULL), 1);
    detrun_free(&r);
}

Test(det_lateral, saved_state_refuses_corruption)
{
    struct detrun r;
    size_t len;

    detrun_init(&r, NULL);
    for (unsigned d = 0; d < 3; d++)
        desktop_day(&r, d);
    detrun_finish(&r);
    uint8_t *st = detrun_detector_state(&r, "lateral_movement", &len);

    cr_expect_eq(detrun_load_state(&r, &fs_det_lateral, st, len), 0);
    cr_expect_eq(detrun_corrupt_state(&r, &fs_det_lateral, st, len), 0);
    free(st);
    detrun_free(&r);
}
