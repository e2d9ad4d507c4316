/*
 * test_det_brute.c - the brute-force detector, through the whole analyzer:
 * hundreds of short logins against one service are found, with the victim
 * or the attacking internal host as the host; a few failed logins, real
 * sessions and SYN scans are not.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "detrun.h"

#define ATTACKER "198.51.100.66"
#define VICTIM "10.0.0.22"

/* `n` login attempts from src to dst:port spread evenly from `from` over
 * `span` ms: a complete connection of 15 packets and 3 kB lasting 4 s, what
 * a failed SSH password costs the client. */
static void attempts(struct detrun *r, const char *src, const char *dst, uint16_t port,
                     uint64_t from, uint64_t span, unsigned n)
{
    static uint16_t sport = 30000;

    for (unsigned i = 0; i < n; i++) {
        sport = sport == 60000 ? 30000 : sport + 1;
        detrun_flow(r, src, sport, dst, port, 6, from + (uint64_t)i * span / n, 4000, 15, 3000,
                    DETRUN_TCP_FULL);
    }
}

Test(det_brute, hundreds_of_ssh_logins_from_outside_are_found_on_the_victim)
{
    struct detrun r;

    detrun_init(&r, NULL);
    attempts(&r, ATTACKER, VICTIM, 22, DETRUN_T0 + 10 * DETRUN_MIN, 10 * DETRUN_MIN, 300);
    detrun_finish(&r);

    const struct fs_anomaly *a = detrun_find(&r, FS_AC_BRUTE_FORCE, VICTIM, ATTACKER);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_eq(a->ts_ms, DETRUN_T0 + 10 * DETRUN_MIN);
    cr_expect_str_eq(a->metric, "auth_attempts");
    /* One attempt every 2 s from 10:00, each in the window of its end
     * (4 s later): the first window holds starts 0..294 s, 148 of them. */
    cr_expect_eq(a->observed, 148);
    cr_expect_eq(detrun_extra(a, "victim"), 1);
    cr_expect_eq(detrun_extra(a, "packets_per_attempt"), 15);
    cr_expect_eq(a->top_ports[0].port, 22);
    /* 50 at the default bar of 20 a window, +40 per tenfold. */
    cr_expect(fabs(a->score - (50 + 40 * log10(148.0 / 20))) < 1e-9, "score %g", a->score);
    cr_expect_eq(a->severity, FS_SEV_HIGH);
    detrun_free(&r);
}

Test(det_brute, internal_attacker_is_the_host)
{
    struct detrun r;

    detrun_init(&r, NULL);
    attempts(&r, "10.0.0.5", "10.0.0.30", 3389, DETRUN_T0, 5 * DETRUN_MIN, 200);
    attempts(&r, "10.0.0.6", "203.0.113.9", 5900, DETRUN_T0, 5 * DETRUN_MIN, 200);
    detrun_finish(&r);

    const struct fs_anomaly *a = detrun_find(&r, FS_AC_BRUTE_FORCE, "10.0.0.5", "10.0.0.30");
    cr_assert_not_null(a);
    cr_expect_eq(detrun_extra(a, "victim"), 0);
    cr_expect_eq(a->top_ports[0].port, 3389);
    a = detrun_find(&r, FS_AC_BRUTE_FORCE, "10.0.0.6", "203.0.113.9");
    cr_assert_not_null(a);
    cr_expect_eq(detrun_extra(a, "victim"), 0);
    cr_expect_eq(detrun_count(&r, FS_AC_BRUTE_FORCE, "10.0.0.30", NULL), 0);
    detrun_free(&r);
}

Test(det_brute, a_few_failed_logins_are_quiet_and_more_is_more_severe)
{
    struct detrun r;

    detrun_init(&r, NULL);
    /* A user mistyping a password five times, then getting in. */
    attempts(&r, "10.0.0.5", VICTIM, 22, DETRUN_T0, DETRUN_MIN, 5);
    detrun_flow(&r, "10.0.0.5", 41000, VICTIM, 22, 6, DETRUN_T0 + 2 * DETRUN_MIN, 3600000, 9000,
                2000000, DETRUN_TCP_FULL);
    /* 25 and 600 attempts from two other sources. */
    attempts(&r, "198.51.100.7", VICTIM, 22, DETRUN_T0, 4 * DETRUN_MIN, 25);
    attempts(&r, "198.51.100.8", VICTIM, 22, DETRUN_T0, 4 * DETRUN_MIN, 600);
    detrun_finish(&r);

    cr_expect_eq(detrun_count(&r, FS_AC_BRUTE_FORCE, NULL, "10.0.0.5"), 0);
    const struct fs_anomaly *few = detrun_find(&r, FS_AC_BRUTE_FORCE, VICTIM, "198.51.100.7");
    const struct fs_anomaly *many = detrun_find(&r, FS_AC_BRUTE_FORCE, VICTIM, "198.51.100.8");
    cr_assert_not_null(few);
    cr_assert_not_null(many);
    /* 50 + 40 log10(25 / 20) and 50 + 40 log10(600 / 20), capped at 100. */
    cr_expect(fabs(few->score - (50 + 40 * log10(25.0 / 20))) < 1e-9, "score %g", few->score);
    cr_expect_eq(few->severity, FS_SEV_MEDIUM);
    cr_expect_eq(many->score, 100);
    cr_expect_eq(many->severity, FS_SEV_CRITICAL);
    detrun_free(&r);
}

Test(det_brute, sessions_and_syn_scans_are_not_attempts)
{
    struct detrun r;

    detrun_init(&r, NULL);
    /* A deployment tool opens 60 real SSH sessions, each moving 400 kB. */
    for (unsigned i = 0; i < 60; i++)
        detrun_flow(&r, "10.0.0.40", (uint16_t)(42000 + i), VICTIM, 22, 6,
                    DETRUN_T0 + i * 4000ull, 30000, 600, 400000, DETRUN_TCP_FULL);
    /* A scanner knocks 300 times on 22 with lone SYNs. */
    for (unsigned i = 0; i < 300; i++)
        detrun_flow(&r, ATTACKER, (uint16_t)(43000 + i), VICTIM, 22, 6, DETRUN_T0 + i * 500ull, 0,
                    1, 60, DETRUN_SYN);
    /* 300 short connections to a web server: not an authentication port. */
    attempts(&r, "198.51.100.9", VICTIM, 80, DETRUN_T0, 4 * DETRUN_MIN, 300);
    detrun_finish(&r);
    if (detrun_count_class(&r, FS_AC_BRUTE_FORCE))
        detrun_dump(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_BRUTE_FORCE), 0);
    detrun_free(&r);
}

Test(det_brute, slow_attack_over_several_windows_is_found)
{
    struct detrun r;

    detrun_init(&r, NULL);
    /* 12 attempts a window, under the per-window bar of 20, for 6 windows. */
    for (unsigned w = 0; w < 6; w++)
        attempts(&r, ATTACKER, VICTIM, 445, DETRUN_T0 + w * 5 * DETRUN_MIN, 4 * DETRUN_MIN, 12);
    detrun_finish(&r);

    const struct fs_anomaly *a = detrun_find(&r, FS_AC_BRUTE_FORCE, VICTIM, ATTACKER);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->metric, "auth_attempts_span");
    /* The span reaches 50 in the fifth window: 5 x 12 = 60. */
    cr_expect_eq(a->ts_ms, DETRUN_T0 + 20 * DETRUN_MIN);
    cr_expect_eq(a->observed, 60);
    cr_expect_eq(detrun_extra(a, "span_windows"), 5);
    cr_expect_eq(a->top_ports[0].port, 445);
    detrun_free(&r);
}

Test(det_brute, ports_come_from_settings)
{
    static const char *const opts[] = { "set", "brute_force.port_2222=1",
                                        "set", "brute_force.port_22=0", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    attempts(&r, ATTACKER, VICTIM, 2222, DETRUN_T0, 4 * DETRUN_MIN, 100);
    attempts(&r, ATTACKER, "10.0.0.23", 22, DETRUN_T0, 4 * DETRUN_MIN, 100);
    attempts(&r, ATTACKER, "10.0.0.24", 3389, DETRUN_T0, 4 * DETRUN_MIN, 100);
    detrun_finish(&r);
    cr_expect_eq(detrun_count(&r, FS_AC_BRUTE_FORCE, VICTIM, ATTACKER), 1);
    cr_expect_eq(detrun_count(&r, FS_AC_BRUTE_FORCE, "10.0.0.23", NULL), 0);
    cr_expect_eq(detrun_count(&r, FS_AC_BRUTE_FORCE, "10.0.0.24", NULL), 1);
    detrun_free(&r);
}

Test(det_brute, thresholds_come_from_settings)
{
    static const char *const opts[] = { "set", "brute_force.min_attempts=200",
                                        "set", "brute_force.min_attempts_span=1000", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    attempts(&r, ATTACKER, VICTIM, 22, DETRUN_T0, 4 * DETRUN_MIN, 150);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_BRUTE_FORCE), 0);
    detrun_free(&r);
}

static void counters(void *arg, const char *name, uint64_t v)
{
    uint64_t *out = arg;

    if (strcmp(name, "brute_force.pairs") == 0)
        out[0] = v;
    else if (strcmp(name, "brute_force.evicted") == 0)
        out[1] = v;
}

Test(det_brute, pair_table_is_bounded_and_evictions_are_counted)
{
    static const char *const opts[] = { "set", "brute_force.max_pairs=100", NULL };
    struct detrun r;
    char src[32];
    uint64_t c[2] = { 0, 0 };

    detrun_init(&r, opts);
    for (unsigned i = 0; i < 250; i++) {
        snprintf(src, sizeof(src), "198.51.%u.%u", 100 + i / 200, i % 200 + 1);
        attempts(&r, src, VICTIM, 22, DETRUN_T0 + i * 100ull, 1000, 1);
    }
    detrun_feed(&r);
    fs_analyzer_each_counter(r.an, counters, c);
    cr_expect_eq(c[0], 100);
    cr_expect_eq(c[1], 150);
    detrun_free(&r);
}
