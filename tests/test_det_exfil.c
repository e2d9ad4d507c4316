/*
 * test_det_exfil.c - the exfiltration detector, through the whole analyzer:
 * a burst far above the host's baseline and a slow steady drip to one peer
 * are found with the right host and peer; a backup server's nightly upload
 * that is part of its baseline, a host's usual steady sync and uploads to
 * allowlisted peers are not.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detrun.h"

#define HOST "10.0.0.5"
#define DROP "203.0.113.77"
#define MB 1000000ull

static const char *const peers[] = { "198.51.100.1", "198.51.100.2", "198.51.100.3",
                                     "198.51.100.4", "198.51.100.5" };

/* Ordinary use from `from` for `hours`: a 30 kB upload in each 10 minutes,
 * at an uneven moment, round-robin over five web services. */
static void ordinary(struct detrun *r, const char *host, uint64_t from, unsigned hours)
{
    for (unsigned i = 0; i < hours * 6; i++)
        detrun_flow(r, host, (uint16_t)(40000 + i % 20000), peers[i % 5], 443, 6,
                    from + i * 600000ull + (i * 7919u % 500u) * 1000u, 2000, 40, 30000,
                    DETRUN_TCP_FULL);
}

/* An upload of `bytes` to `peer` spread as `n` flows, one every `gap` ms. */
static void upload(struct detrun *r, const char *host, const char *peer, uint64_t from,
                   unsigned n, uint64_t gap, uint64_t bytes)
{
    for (unsigned i = 0; i < n; i++)
        detrun_flow(r, host, (uint16_t)(50000 + i % 10000), peer, 443, 6, from + i * gap, 60000,
                    bytes / n / 1400 + 10, bytes / n, DETRUN_TCP_FULL);
}

Test(det_exfil, burst_far_above_the_baseline_is_found)
{
    static const char *const opts[] = { "warmup", "1d", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    ordinary(&r, HOST, DETRUN_T0, 48);
    /* Tuesday 14:00: 300 MB to one peer within a few minutes. */
    upload(&r, HOST, DROP, DETRUN_T0 + DETRUN_DAY + 14 * DETRUN_HOUR + 10000, 3, 30000, 300 * MB);
    detrun_finish(&r);

    const struct fs_anomaly *a = detrun_find(&r, FS_AC_EXFILTRATION, HOST, DROP);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->metric, "bytes_out_external");
    cr_expect_geq(a->observed, 300.0 * MB);
    cr_expect_eq(a->ts_ms, DETRUN_T0 + DETRUN_DAY + 14 * DETRUN_HOUR);
    cr_expect(a->score >= 50, "score %g", a->score);
    cr_expect(a->observed > a->iqr_high);
    cr_expect_geq(a->samples, 8);
    char buf[FS_IP_STRLEN];
    cr_expect_str_eq(fs_ip_format(&a->top_peers[0].addr, buf), DROP);
    cr_expect_eq(a->top_peers[0].value, 300 * MB);
    cr_expect_eq(a->top_ports[0].port, 443);
    /* Nothing before the burst. */
    cr_expect_eq(detrun_count_class(&r, FS_AC_EXFILTRATION), 1);
    detrun_free(&r);
}

Test(det_exfil, two_way_traffic_is_not_exfiltration)
{
    /* A video call: 36 MB up and 45 MB down in each of three windows. The
     * same volume one way is an upload worth a finding. */
    static const char *const opts[] = { "warmup", "1d", NULL };
    struct detrun r;
    uint64_t at = DETRUN_T0 + DETRUN_DAY + 14 * DETRUN_HOUR;

    detrun_init(&r, opts);
    ordinary(&r, HOST, DETRUN_T0, 48);
    ordinary(&r, "10.0.0.6", DETRUN_T0, 48);
    for (unsigned i = 0; i < 3; i++) {
        uint64_t t = at + i * 300000ull + 1000;

        detrun_flow(&r, HOST, 50000, "198.51.100.80", 3478, 17, t, 290000, 30000, 36 * MB, -1);
        detrun_flow(&r, "198.51.100.80", 3478, HOST, 50000, 17, t, 290000, 38000, 45 * MB, -1);
        detrun_flow(&r, "10.0.0.6", 50000, "198.51.100.80", 3478, 17, t, 290000, 30000, 36 * MB,
                    -1);
    }
    detrun_finish(&r);
    cr_expect_eq(detrun_count(&r, FS_AC_EXFILTRATION, HOST, NULL), 0);
    cr_expect_eq(detrun_count(&r, FS_AC_EXFILTRATION, "10.0.0.6", "198.51.100.80"), 1);
    detrun_free(&r);
}

/* A backup server: quiet by day, 2.4 GB to the offsite store every night
 * between 02:00 and 03:00 (`at_hour`), for `days` days. */
static void backups(struct detrun *r, unsigned days, unsigned at_hour)
{
    for (unsigned d = 0; d < days; d++) {
        uint64_t day = DETRUN_T0 + d * DETRUN_DAY;

        ordinary(r, "10.0.0.20", day, 24);
        upload(r, "10.0.0.20", "198.51.100.200", day + at_hour * DETRUN_HOUR + 20000, 12,
               300000, 2400 * MB);
    }
}

Test(det_exfil, nightly_backup_in_the_baseline_is_quiet)
{
    static const char *const opts[] = { "warmup", "7d", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    backups(&r, 9, 2);
    detrun_finish(&r);
    if (detrun_count_class(&r, FS_AC_EXFILTRATION))
        detrun_dump(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_EXFILTRATION), 0);
    detrun_free(&r);
}

Test(det_exfil, the_same_backup_at_an_unusual_hour_is_found)
{
    static const char *const opts[] = { "warmup", "7d", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    backups(&r, 7, 2);
    /* Day 8 (a Monday again): the upload runs at 14:00 instead. */
    ordinary(&r, "10.0.0.20", DETRUN_T0 + 7 * DETRUN_DAY, 24);
    upload(&r, "10.0.0.20", "198.51.100.200", DETRUN_T0 + 7 * DETRUN_DAY + 14 * DETRUN_HOUR + 20000,
           12, 300000, 2400 * MB);
    detrun_finish(&r);
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_EXFILTRATION, "10.0.0.20", "198.51.100.200");
    cr_assert_not_null(a);
    cr_expect_geq(a->ts_ms, DETRUN_T0 + 7 * DETRUN_DAY + 14 * DETRUN_HOUR);
    cr_expect_lt(a->ts_ms, DETRUN_T0 + 7 * DETRUN_DAY + 15 * DETRUN_HOUR);
    detrun_free(&r);
}

/* Two days of ordinary use, then (from hour 50) 5 MB to `peer` every 10
 * minutes for 8 hours: 30 MB an hour, never more than 5 MB a window. */
static void drip(struct detrun *r, const char *peer)
{
    ordinary(r, HOST, DETRUN_T0, 60);
    upload(r, HOST, peer, DETRUN_T0 + 50 * DETRUN_HOUR + 1000, 48, 600000, 240 * MB);
}

Test(det_exfil, low_and_slow_drip_to_one_peer_is_found)
{
    static const char *const opts[] = { "warmup", "1d", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    drip(&r, DROP);
    detrun_finish(&r);

    const struct fs_anomaly *a = detrun_find(&r, FS_AC_EXFILTRATION, HOST, DROP);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->metric, "bytes_out_peer_drip");
    /* The six-hour span (the default) in which five hours (3/4 of six,
     * rounded up) held 30 MB each: the drip began at hour 50. */
    cr_expect_eq(a->end_ms - a->ts_ms, 6 * DETRUN_HOUR);
    cr_expect_eq(a->end_ms, DETRUN_T0 + 55 * DETRUN_HOUR);
    cr_expect_eq(detrun_extra(a, "active_hours"), 5);
    cr_expect_eq(a->observed, 150.0 * MB);
    cr_expect_eq(detrun_extra(a, "max_hour_share"), 0.2);
    cr_expect_eq(a->top_ports[0].port, 443);
    /* What it usually sends to one peer over six hours: the 36 kB an hour
     * of one of the five services. */
    cr_expect(detrun_extra(a, "usual_peer_max") < 0.5 * MB);
    /* Each window stayed small: no burst finding. */
    cr_expect_eq(detrun_count(&r, FS_AC_EXFILTRATION, HOST, NULL), 1);
    detrun_free(&r);
}

Test(det_exfil, usual_steady_sync_is_quiet)
{
    static const char *const opts[] = { "warmup", "1d", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    /* The host syncs 30 MB an hour to its cloud drive all the time. */
    ordinary(&r, HOST, DETRUN_T0, 60);
    upload(&r, HOST, "198.51.100.30", DETRUN_T0 + 1000, 60 * 6, 600000, 60 * 30 * MB);
    detrun_finish(&r);
    if (detrun_count_class(&r, FS_AC_EXFILTRATION))
        detrun_dump(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_EXFILTRATION), 0);
    detrun_free(&r);
}

Test(det_exfil, drip_to_allowlisted_peer_is_quiet)
{
    static const char *const opts[] = { "warmup", "1d", "set", "exfiltration.allow=203.0.113.0/24",
                                        NULL };
    struct detrun r;

    detrun_init(&r, opts);
    drip(&r, DROP);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_EXFILTRATION), 0);
    detrun_free(&r);
}

Test(det_exfil, drip_thresholds_come_from_settings)
{
    static const char *const opts[] = { "warmup", "1d", "set", "exfiltration.drip_min_bytes=500e6",
                                        NULL };
    struct detrun r;

    detrun_init(&r, opts);
    drip(&r, DROP);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_EXFILTRATION), 0);
    detrun_free(&r);
}

Test(det_exfil, learned_peer_baseline_survives_a_snapshot)
{
    /* Two days of learning, a restart, then the drip: found only when the
     * restarted analyzer still knows the host's usual (without the warm-up,
     * which the snapshot restores too, so that only the detector's own
     * state makes the difference). */
    static const char *const opts[] = { "warmup", "1d", NULL };
    static const char *const no_warmup[] = { "warmup", "0", NULL };
    char path[] = "/tmp/fs-det-exfil-XXXXXX", err[256];
    struct detrun a, b, fresh;
    int fd = mkstemp(path);

    cr_assert(fd >= 0);
    close(fd);
    detrun_init(&a, opts);
    ordinary(&a, HOST, DETRUN_T0, 48);
    detrun_finish(&a);
    cr_assert_eq(fs_analyzer_save(a.an, path, err, sizeof(err)), 0, "%s", err);

    detrun_init(&b, opts);
    cr_assert_eq(fs_analyzer_load(b.an, path, err, sizeof(err)), FS_SNAP_LOADED, "%s", err);
    ordinary(&b, HOST, DETRUN_T0 + 48 * DETRUN_HOUR, 12);
    upload(&b, HOST, DROP, DETRUN_T0 + 50 * DETRUN_HOUR + 1000, 48, 600000, 240 * MB);
    detrun_finish(&b);
    cr_expect_eq(detrun_count(&b, FS_AC_EXFILTRATION, HOST, DROP), 1);

    detrun_init(&fresh, no_warmup);
    ordinary(&fresh, HOST, DETRUN_T0 + 48 * DETRUN_HOUR, 12);
    upload(&fresh, HOST, DROP, DETRUN_T0 + 50 * DETRUN_HOUR + 1000, 48, 600000, 240 * MB);
    detrun_finish(&fresh);
    cr_expect_eq(detrun_count(&fresh, FS_AC_EXFILTRATION, HOST, DROP), 0);
    unlink(path);
    detrun_free(&a);
    detrun_free(&b);
    detrun_free(&fresh);
}

extern const struct fs_detector fs_det_exfil;

Test(det_exfil, saved_state_round_trips_and_any_corruption_is_refused)
{
    struct detrun r;
    size_t len;

    detrun_init(&r, NULL);
    ordinary(&r, HOST, DETRUN_T0, 3);
    ordinary(&r, "10.0.0.6", DETRUN_T0, 3);
    detrun_finish(&r);
    uint8_t *state = detrun_detector_state(&r, "exfiltration", &len);

    cr_expect_eq(detrun_load_state(&r, &fs_det_exfil, state, len), 0);
    cr_expect_eq(detrun_corrupt_state(&r, &fs_det_exfil, state, len), 0);
    free(state);
    detrun_free(&r);
}

Test(det_exfil, a_server_answering_is_not_uploading)
{
    /* The web server sends 300 MB to one visitor in a window: what it
     * serves, from port 443, is not an upload. */
    static const char *const opts[] = { "warmup", "1d", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    ordinary(&r, "10.0.0.40", DETRUN_T0, 48);
    detrun_flow(&r, "10.0.0.40", 443, DROP, 51000, 6, DETRUN_T0 + 38 * DETRUN_HOUR + 1000, 200000,
                220000, 300 * MB, DETRUN_TCP_FULL);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_EXFILTRATION), 0);
    detrun_free(&r);
}
