/*
 * test_det_beacon.c - the beaconing detector, through the whole analyzer:
 * periodic check-ins with jitter, missed beats and bursts are found with the
 * right host, peer and period; random traffic, failed connections, long
 * connections cut by the exporter and popular periodic services are not.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detrun.h"

#define HOST "10.0.0.5"
#define C2 "203.0.113.50"

/* xorshift64*: a fixed stream per seed, so every run sees the same flows. */
static uint64_t rnd_state;

static void rnd_seed(uint64_t s)
{
    rnd_state = s * 0x9e3779b97f4a7c15ull + 1;
}

static double rnd01(void)
{
    rnd_state ^= rnd_state >> 12;
    rnd_state ^= rnd_state << 25;
    rnd_state ^= rnd_state >> 27;
    return (double)((rnd_state * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
}

/* One check-in: a complete TCP connection carrying a request. */
static void checkin(struct detrun *r, const char *host, const char *peer, uint16_t port,
                    uint64_t t, uint64_t bytes)
{
    static uint16_t sport = 40000;

    sport = sport == 60999 ? 40000 : sport + 1;
    detrun_flow(r, host, sport, peer, port, 6, t, 800, 6, bytes, DETRUN_TCP_FULL);
}

/* A beacon every `period` ms for `hours`, with uniform jitter of +-`jitter`
 * (a fraction of the period), beats dropped with probability `miss`. */
static void beacon(struct detrun *r, const char *host, const char *peer, uint64_t start,
                   double period, double jitter, double miss, double hours)
{
    for (double t = 0; t < hours * DETRUN_HOUR; t += period) {
        double dt = (rnd01() * 2 - 1) * jitter * period;

        if (rnd01() < miss)
            continue;
        checkin(r, host, peer, 443, start + (uint64_t)(t + dt), 900 + (uint64_t)(rnd01() * 60));
    }
}

/* Someone browsing: connections to a few sites at exponential intervals. */
static void browsing(struct detrun *r, const char *host, uint64_t start, double mean_gap,
                     double hours)
{
    static const char *const sites[] = { "198.51.100.10", "198.51.100.11", "198.51.100.12" };

    for (double t = 0; t < hours * DETRUN_HOUR;) {
        t += -log(1.0 - rnd01()) * mean_gap;
        checkin(r, host, sites[(unsigned)(rnd01() * 3)], 443, start + (uint64_t)t,
                500 + (uint64_t)(rnd01() * 20000));
    }
}

Test(det_beacon, jittered_beacon_with_missed_beats_is_found_with_its_period)
{
    struct detrun r;

    detrun_init(&r, NULL);
    rnd_seed(1);
    beacon(&r, HOST, C2, DETRUN_T0, 300e3, 0.1, 0.1, 6);
    browsing(&r, "10.0.0.9", DETRUN_T0, 120e3, 6);
    detrun_finish(&r);

    const struct fs_anomaly *a = detrun_find(&r, FS_AC_BEACONING, HOST, C2);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a, "no beaconing finding for the beacon");
    cr_assert_str_eq(a->metric, "beacon_period_s");
    cr_expect(fabs(a->observed - 300) < 15, "period %g s, expected about 300", a->observed);
    cr_expect(fabs(detrun_extra(a, "period_s") - 300) < 15);
    cr_expect(detrun_extra(a, "jitter") < 0.2, "jitter %g", detrun_extra(a, "jitter"));
    cr_expect(detrun_extra(a, "size_cv") < 0.2);
    cr_expect(detrun_extra(a, "duration_h") >= 1.0);
    cr_expect(detrun_extra(a, "beats") >= 8);
    cr_expect(a->score >= 50 && a->score <= 100, "score %g", a->score);
    cr_expect(a->severity >= FS_SEV_MEDIUM);
    cr_expect_eq(a->top_ports[0].port, 443);
    cr_expect_eq(a->nports, 1);
    /* One finding for the pair: realert is a day. */
    cr_expect_eq(detrun_count(&r, FS_AC_BEACONING, HOST, C2), 1);
    cr_expect_eq(detrun_count(&r, FS_AC_BEACONING, "10.0.0.9", NULL), 0);
    detrun_free(&r);
}

Test(det_beacon, most_beats_missed_still_gives_the_base_period)
{
    /* Check-ins every 120 s, but the host reaches the server only on some:
     * gaps of 2 periods are the most common, so the median interval is 240 s. */
    static const unsigned gaps[] = { 2, 1, 2, 3, 2, 2, 1, 2, 3, 2, 2, 1 };
    struct detrun r;
    uint64_t t = DETRUN_T0;

    detrun_init(&r, NULL);
    for (unsigned i = 0; i < 30; i++) {
        checkin(&r, HOST, C2, 8443, t, 700);
        t += gaps[i % 12] * 120000ull;
    }
    detrun_finish(&r);

    const struct fs_anomaly *a = detrun_find(&r, FS_AC_BEACONING, HOST, C2);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect(fabs(a->observed - 120) < 1, "period %g s, expected 120", a->observed);
    /* The pattern misses 11 beats for every 12 that get through. */
    double beats = detrun_extra(a, "beats"), missed = detrun_extra(a, "missed");
    cr_expect(missed >= 0.8 * (beats - 1) && missed <= beats, "missed %g of %g", missed, beats);
    cr_expect_eq(a->top_ports[0].port, 8443);
    detrun_free(&r);
}

Test(det_beacon, bursty_checkins_are_one_beat_each)
{
    /* Each check-in is three connections within a second, and every tenth
     * beat an operator adds a burst of interactive connections. */
    struct detrun r;

    detrun_init(&r, NULL);
    rnd_seed(7);
    for (unsigned i = 0; i < 60; i++) {
        uint64_t t = DETRUN_T0 + i * 600000ull + (uint64_t)(rnd01() * 30000);

        for (unsigned j = 0; j < 3; j++)
            checkin(&r, HOST, C2, 443, t + j * 300, 400);
        if (i % 10 == 5)
            for (unsigned j = 1; j <= 6; j++)
                checkin(&r, HOST, C2, 443, t + j * 40000, 5000 + j * 777);
    }
    detrun_finish(&r);

    const struct fs_anomaly *a = detrun_find(&r, FS_AC_BEACONING, HOST, C2);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect(fabs(a->observed - 600) < 30, "period %g s, expected about 600", a->observed);
    detrun_free(&r);
}

Test(det_beacon, random_traffic_is_not_a_beacon)
{
    static const char *const hosts[] = { "10.0.0.20", "10.0.0.21", "10.0.0.22", "10.0.0.23",
                                         "10.0.0.24" };
    struct detrun r;

    detrun_init(&r, NULL);
    for (unsigned i = 0; i < 5; i++) {
        rnd_seed(100 + i);
        /* Exponential gaps around 5 minutes to one peer, for 12 hours:
         * plenty of beats, no period. */
        for (double t = 0; t < 12.0 * DETRUN_HOUR;) {
            t += -log(1.0 - rnd01()) * 300e3;
            checkin(&r, hosts[i], C2, 443, DETRUN_T0 + (uint64_t)t, 900);
        }
    }
    detrun_finish(&r);
    if (detrun_count_class(&r, FS_AC_BEACONING))
        detrun_dump(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_BEACONING), 0);
    detrun_free(&r);
}

Test(det_beacon, heavy_jitter_on_a_human_schedule_is_quiet)
{
    /* Someone checks a dashboard about every 10 minutes, give or take 60%. */
    struct detrun r;

    detrun_init(&r, NULL);
    rnd_seed(11);
    beacon(&r, HOST, C2, DETRUN_T0, 600e3, 0.6, 0.0, 10);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_BEACONING), 0);
    detrun_free(&r);
}

Test(det_beacon, failed_and_empty_connections_alone_are_not_a_beacon)
{
    struct detrun r;

    detrun_init(&r, NULL);
    for (unsigned i = 0; i < 120; i++) {
        uint64_t t = DETRUN_T0 + i * 60000ull;

        /* A dead server: the SYN is retried, never answered. */
        detrun_flow(&r, HOST, (uint16_t)(30000 + i), C2, 443, 6, t, 3000, 2, 120, DETRUN_SYN);
        /* A closed port: SYN, then RST from the far side (not in this record). */
        detrun_flow(&r, "10.0.0.6", (uint16_t)(30000 + i), C2, 8080, 6, t, 0, 1, 60,
                    DETRUN_SYN | DETRUN_RST);
        /* Connect-and-close health check: handshake, FIN, no payload. */
        detrun_flow(&r, "10.0.0.7", (uint16_t)(30000 + i), C2, 22, 6, t, 20, 4, 216,
                    DETRUN_SYN | DETRUN_ACK | DETRUN_FIN);
        /* Without flags: lone packets. */
        detrun_flow(&r, "10.0.0.8", (uint16_t)(30000 + i), C2, 443, 6, t, 0, 1, 60, -1);
    }
    detrun_finish(&r);
    if (detrun_count_class(&r, FS_AC_BEACONING))
        detrun_dump(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_BEACONING), 0);

    /* The same hosts with payload on the same schedule are beacons: the
     * quiet above is the failures, not the schedule. */
    struct detrun ok;

    detrun_init(&ok, NULL);
    for (unsigned i = 0; i < 120; i++)
        detrun_flow(&ok, HOST, (uint16_t)(30000 + i), C2, 443, 6, DETRUN_T0 + i * 60000ull, 3000,
                    8, 1500, DETRUN_TCP_FULL);
    detrun_finish(&ok);
    cr_expect_eq(detrun_count(&ok, FS_AC_BEACONING, HOST, C2), 1);
    detrun_free(&ok);
    detrun_free(&r);
}

Test(det_beacon, long_connection_cut_by_active_timeout_is_not_a_beacon)
{
    struct detrun r;

    detrun_init(&r, NULL);
    /* One SSH session for 6 hours, exported every 60 s: only the first
     * record has the SYN. The UDP stream keeps its source port. */
    for (unsigned i = 0; i < 360; i++) {
        uint64_t t = DETRUN_T0 + i * 60000ull;

        detrun_flow(&r, HOST, 51000, C2, 22, 6, t, 60000, 40, 5000,
                    i == 0 ? DETRUN_TCP_FULL : (DETRUN_ACK | DETRUN_PSH));
        detrun_flow(&r, "10.0.0.6", 5004, C2, 5004, 17, t, 59999, 3000, 600000, -1);
    }
    detrun_finish(&r);
    if (detrun_count_class(&r, FS_AC_BEACONING))
        detrun_dump(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_BEACONING), 0);
    detrun_free(&r);
}

/* An update check of one vendor's server by `nhosts` internal hosts, every
 * 1024 s, as the same agent installed everywhere does. */
static void update_fleet(struct detrun *r, unsigned nhosts)
{
    char host[32];

    for (unsigned h = 0; h < nhosts; h++) {
        snprintf(host, sizeof(host), "10.0.1.%u", h + 1);
        for (unsigned i = 0; i < 40; i++)
            checkin(r, host, "198.51.100.123", 443, DETRUN_T0 + h * 7000ull + i * 1024000ull, 700);
    }
}

Test(det_beacon, periodic_service_used_by_many_hosts_is_tamed_by_prevalence)
{
    struct detrun one, many;

    detrun_init(&one, NULL);
    update_fleet(&one, 1);
    detrun_finish(&one);
    /* Alone, one host polling the server is exactly a beacon... */
    cr_expect_eq(detrun_count(&one, FS_AC_BEACONING, "10.0.1.1", "198.51.100.123"), 1);

    detrun_init(&many, NULL);
    update_fleet(&many, 20);
    rnd_seed(3);
    beacon(&many, HOST, C2, DETRUN_T0, 300e3, 0.05, 0.0, 6);
    detrun_finish(&many);
    /* ...but when every internal host does it, none is reported, while the
     * one host calling its own peer still is. */
    cr_expect_eq(detrun_count(&many, FS_AC_BEACONING, NULL, "198.51.100.123"), 0);
    cr_expect_eq(detrun_count(&many, FS_AC_BEACONING, HOST, C2), 1);
    const struct fs_anomaly *a = detrun_find(&many, FS_AC_BEACONING, HOST, C2);
    cr_assert_not_null(a);
    cr_expect_eq(detrun_extra(a, "peer_hosts"), 1);
    detrun_free(&one);
    detrun_free(&many);
}

/* A server polling its NTP source every 1024 s. */
static void ntp(struct detrun *r)
{
    for (unsigned i = 0; i < 40; i++)
        detrun_flow(r, "10.0.0.20", 123, "198.51.100.124", 123, 17, DETRUN_T0 + i * 1024000ull,
                    10, 1, 76, -1);
}

Test(det_beacon, ntp_is_skipped_unless_settings_say_otherwise)
{
    static const char *const opts[] = { "set", "beaconing.skip_port_123=0", NULL };
    struct detrun r, all;

    detrun_init(&r, NULL);
    ntp(&r);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_BEACONING), 0);

    detrun_init(&all, opts);
    ntp(&all);
    detrun_finish(&all);
    const struct fs_anomaly *a = detrun_find(&all, FS_AC_BEACONING, "10.0.0.20", "198.51.100.124");
    cr_assert_not_null(a);
    cr_expect(fabs(a->observed - 1024) < 1, "period %g", a->observed);
    cr_expect_eq(a->top_ports[0].port, 123);
    cr_expect_eq(a->top_ports[0].proto, 17);
    detrun_free(&r);
    detrun_free(&all);
}

Test(det_beacon, allowlisted_peer_is_quiet)
{
    static const char *const opts[] = { "set", "beaconing.allow=203.0.113.0/24", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    rnd_seed(1);
    beacon(&r, HOST, C2, DETRUN_T0, 300e3, 0.1, 0.1, 6);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_BEACONING), 0);
    detrun_free(&r);
}

Test(det_beacon, thresholds_come_from_settings)
{
    /* Four hours of beacon: found with the defaults (an hour is enough),
     * not when the settings ask for five hours. */
    static const char *const opts[] = { "set", "beaconing.min_duration=5h", NULL };
    struct detrun r, strict;

    detrun_init(&r, NULL);
    rnd_seed(5);
    beacon(&r, HOST, C2, DETRUN_T0, 300e3, 0.05, 0.0, 4);
    detrun_finish(&r);
    cr_expect_eq(detrun_count(&r, FS_AC_BEACONING, HOST, C2), 1);

    detrun_init(&strict, opts);
    rnd_seed(5);
    beacon(&strict, HOST, C2, DETRUN_T0, 300e3, 0.05, 0.0, 4);
    detrun_finish(&strict);
    cr_expect_eq(detrun_count(&strict, FS_AC_BEACONING, HOST, C2), 0);
    detrun_free(&r);
    detrun_free(&strict);
}

static void count_pairs(void *arg, const char *name, uint64_t v)
{
    uint64_t *out = arg;

    if (strcmp(name, "beaconing.pairs") == 0)
        out[0] = v;
    else if (strcmp(name, "beaconing.evicted") == 0)
        out[1] = v;
}

Test(det_beacon, pair_table_is_bounded_and_evictions_are_counted)
{
    static const char *const opts[] = { "set", "beaconing.max_pairs=64", NULL };
    struct detrun r;
    char peer[32];
    uint64_t c[2] = { 0, 0 };

    detrun_init(&r, opts);
    for (unsigned i = 0; i < 200; i++) {
        snprintf(peer, sizeof(peer), "198.51.100.%u", i % 250 + 1);
        checkin(&r, HOST, peer, (uint16_t)(1000 + i), DETRUN_T0 + i * 1000ull, 900);
    }
    detrun_finish(&r);
    fs_analyzer_each_counter(r.an, count_pairs, c);
    cr_expect_eq(c[0], 64);
    cr_expect_eq(c[1], 200 - 64);
    detrun_free(&r);
}

Test(det_beacon, learned_pairs_survive_a_snapshot)
{
    /* Three hours of beacon, a restart, three more: with min_duration 5h the
     * finding needs the pair's history from before the restart. */
    static const char *const opts[] = { "set", "beaconing.min_duration=5h", NULL };
    char path[] = "/tmp/fs-det-beacon-XXXXXX", err[256];
    struct detrun a, b, fresh;
    int fd = mkstemp(path);

    cr_assert(fd >= 0);
    close(fd);
    detrun_init(&a, opts);
    rnd_seed(9);
    beacon(&a, HOST, C2, DETRUN_T0, 300e3, 0.05, 0.0, 3);
    detrun_finish(&a);
    cr_assert_eq(fs_analyzer_save(a.an, path, err, sizeof(err)), 0, "%s", err);

    detrun_init(&b, opts);
    cr_assert_eq(fs_analyzer_load(b.an, path, err, sizeof(err)), FS_SNAP_LOADED, "%s", err);
    rnd_seed(10);
    beacon(&b, HOST, C2, DETRUN_T0 + 3 * DETRUN_HOUR, 300e3, 0.05, 0.0, 3);
    detrun_finish(&b);
    const struct fs_anomaly *found = detrun_find(&b, FS_AC_BEACONING, HOST, C2);
    cr_assert_not_null(found);
    cr_expect(detrun_extra(found, "duration_h") >= 5.0);

    detrun_init(&fresh, opts);
    rnd_seed(10);
    beacon(&fresh, HOST, C2, DETRUN_T0 + 3 * DETRUN_HOUR, 300e3, 0.05, 0.0, 3);
    detrun_finish(&fresh);
    cr_expect_eq(detrun_count(&fresh, FS_AC_BEACONING, HOST, C2), 0);
    unlink(path);
    detrun_free(&a);
    detrun_free(&b);
    detrun_free(&fresh);
}

extern const struct fs_detector fs_det_beacon;

Test(det_beacon, saved_state_round_trips_and_any_corruption_is_refused)
{
    struct detrun r;
    size_t len;

    detrun_init(&r, NULL);
    rnd_seed(9);
    beacon(&r, HOST, C2, DETRUN_T0, 300e3, 0.05, 0.0, 2);
    beacon(&r, "10.0.0.6", C2, DETRUN_T0, 600e3, 0.05, 0.0, 2);
    detrun_finish(&r);
    uint8_t *state = detrun_detector_state(&r, "beaconing", &len);

    cr_expect_eq(detrun_load_state(&r, &fs_det_beacon, state, len), 0);
    cr_expect_eq(detrun_corrupt_state(&r, &fs_det_beacon, state, len), 0);
    free(state);
    detrun_free(&r);
}

Test(det_beacon, clock_driven_beacon_with_large_jitter_is_found_by_phase)
{
    /* Woken by a clock every 60 s, each check-in up to 15 s early or late
     * (intervals from 30 to 90 s), 5% missed: ragged intervals, steady phase. */
    struct detrun r;

    detrun_init(&r, NULL);
    rnd_seed(21);
    for (unsigned k = 0; k < 360; k++) {
        double at = k * 60e3 + (rnd01() - 0.5) * 30e3;

        if (rnd01() < 0.05)
            continue;
        checkin(&r, HOST, C2, 8443, DETRUN_T0 + 60000 + (uint64_t)at, 700);
    }
    detrun_finish(&r);
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_BEACONING, HOST, C2);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect(fabs(a->observed - 60) < 1, "period %g s, expected 60", a->observed);
    /* The intervals alone are too ragged to say it. */
    cr_expect(detrun_extra(a, "jitter") > 0.15, "jitter %g", detrun_extra(a, "jitter"));
    detrun_free(&r);
}
