/*
 * test_det_dns.c - the DNS tunnelling detector, through the whole analyzer:
 * a host whose DNS volume or query size jumps far above its own usual is
 * found, and so is DNS to a resolver outside the approved set when one is
 * configured; hosts with their usual DNS, busy DNS users whose baseline says
 * so, and the approved resolvers are not.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detrun.h"

#define HOST "10.0.0.5"
#define RESOLVER "10.0.0.53"
#define UPSTREAM "198.51.100.53"
#define KB 1000ull

/* `n` lookups by `host` at `server` spread over the window starting at `win`:
 * a query record and an answer record each, of the given sizes. */
static void lookups(struct detrun *r, const char *host, const char *server, uint16_t port,
                    uint64_t win, unsigned n, uint64_t qbytes, uint64_t abytes)
{
    static uint16_t sport = 20000;

    for (unsigned i = 0; i < n; i++) {
        uint64_t t = win + 1000 + (uint64_t)i * 290000 / (n ? n : 1);

        sport = sport == 65000 ? 20000 : sport + 1;
        detrun_flow(r, host, sport, server, port, 17, t, 20, 1, qbytes, -1);
        detrun_flow(r, server, port, host, sport, 17, t + 15, 5, 1, abytes, -1);
    }
}

/* Ordinary DNS for `hours` from `from`: 10 lookups a window, 8 more in
 * every third window. */
static void ordinary(struct detrun *r, const char *host, uint64_t from, unsigned hours)
{
    for (unsigned w = 0; w < hours * 12; w++)
        lookups(r, host, RESOLVER, 53, from + w * 300000ull, 10 + (w % 3 == 0) * 8, 70, 150);
}

static const char *const warm[] = { "warmup", "1d", NULL };

Test(det_dns, tunnel_volume_is_found)
{
    struct detrun r;
    uint64_t start = DETRUN_T0 + DETRUN_DAY + 10 * DETRUN_HOUR;

    detrun_init(&r, warm);
    ordinary(&r, HOST, DETRUN_T0, 34);
    /* Tuesday 10:00: an hour of tunnel, 2500 long queries and big TXT
     * answers a window. */
    for (unsigned w = 0; w < 12; w++)
        lookups(&r, HOST, RESOLVER, 53, start + w * 300000ull, 2500, 220, 400);
    detrun_finish(&r);

    /* The resolver that took the queries is the peer. */
    const struct fs_anomaly *a = detrun_find(&r, FS_AC_DNS_TUNNEL, HOST, RESOLVER);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_eq(a->top_peers[0].value, 2500);
    cr_expect_eq(a->ts_ms, start, "first finding in the first tunnel window");
    cr_expect_eq(detrun_extra(a, "flows"), 5000);
    cr_expect_eq(detrun_extra(a, "bytes"), 2500 * (220 + 400));
    cr_expect(detrun_extra(a, "usual_flows") < 40, "usual flows %g", detrun_extra(a, "usual_flows"));
    cr_expect(a->observed >= detrun_extra(a, "threshold"));
    cr_expect(a->score >= 50);
    cr_expect_geq(a->samples, 12);
    cr_expect_eq(a->top_ports[0].port, 53);
    /* Realert is an hour: one finding for the hour of tunnel. */
    cr_expect_eq(detrun_count(&r, FS_AC_DNS_TUNNEL, HOST, NULL), 1);
    cr_expect_eq(detrun_count(&r, FS_AC_DNS_TUNNEL, RESOLVER, NULL), 0);
    detrun_free(&r);
}

Test(det_dns, slow_tunnel_with_large_answers_is_found_by_size)
{
    struct detrun r;
    uint64_t start = DETRUN_T0 + DETRUN_DAY + 10 * DETRUN_HOUR;

    detrun_init(&r, warm);
    ordinary(&r, HOST, DETRUN_T0, 34);
    /* 120 lookups a window: not much volume, but every answer is a 900-byte
     * TXT record and every query a long name. */
    for (unsigned w = 0; w < 6; w++)
        lookups(&r, HOST, RESOLVER, 53, start + w * 300000ull, 120, 200, 900);
    detrun_finish(&r);

    const struct fs_anomaly *a = detrun_find(&r, FS_AC_DNS_TUNNEL, HOST, NULL);
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->metric, "dns_bytes_per_flow");
    cr_expect_eq(a->observed, (200.0 + 900.0) / 2);
    cr_expect(a->expected > 100 && a->expected < 120, "usual size %g", a->expected);
    detrun_free(&r);
}

Test(det_dns, usual_dns_and_a_busy_host_with_its_baseline_are_quiet)
{
    struct detrun r;

    detrun_init(&r, warm);
    ordinary(&r, HOST, DETRUN_T0, 30);
    /* A mail server resolves a lot, always: about 1500 lookups a window,
     * past the floor of 2000 flows, so only its baseline keeps it quiet. */
    for (unsigned w = 0; w < 30 * 12; w++)
        lookups(&r, "10.0.0.25", RESOLVER, 53, DETRUN_T0 + w * 300000ull,
                1300 + (w % 5) * 100, 80, 220);
    /* A busier hour for a workstation: twice its usual. */
    ordinary(&r, "10.0.0.6", DETRUN_T0, 28);
    for (unsigned w = 0; w < 12; w++)
        lookups(&r, "10.0.0.6", RESOLVER, 53, DETRUN_T0 + 28 * DETRUN_HOUR + w * 300000ull, 36,
                70, 150);
    detrun_finish(&r);
    if (detrun_count_class(&r, FS_AC_DNS_TUNNEL))
        detrun_dump(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_DNS_TUNNEL), 0);
    detrun_free(&r);
}

Test(det_dns, volume_thresholds_come_from_settings)
{
    static const char *const opts[] = { "warmup", "1d", "set", "dns_tunnel.min_flows=10000",
                                        "set", "dns_tunnel.min_bytes=10e6", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    ordinary(&r, HOST, DETRUN_T0, 36);
    for (unsigned w = 0; w < 12; w++)
        lookups(&r, HOST, RESOLVER, 53, DETRUN_T0 + 34 * DETRUN_HOUR + w * 300000ull, 2500, 120,
                180);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_DNS_TUNNEL), 0);
    detrun_free(&r);
}

/* Approved: the internal resolver and its upstream. */
static const char *const approved[] = { "set", "dns_tunnel.resolver_check=1",
                                        "set", "dns_tunnel.allow=10.0.0.53",
                                        "set", "dns_tunnel.allow=198.51.100.53", NULL };

static void resolver_mix(struct detrun *r)
{
    for (unsigned w = 0; w < 24; w++) {
        uint64_t win = DETRUN_T0 + w * 300000ull;

        lookups(r, HOST, RESOLVER, 53, win, 10, 70, 150);
        lookups(r, RESOLVER, UPSTREAM, 53, win, 10, 70, 150);
        lookups(r, "10.0.0.7", "8.8.8.8", 53, win, 3, 70, 150);
        lookups(r, "10.0.0.8", "1.1.1.1", 853, win, 1, 300, 600);
    }
}

Test(det_dns, resolvers_outside_the_approved_set_are_found)
{
    struct detrun r;

    detrun_init(&r, approved);
    resolver_mix(&r);
    detrun_finish(&r);

    const struct fs_anomaly *a = detrun_find(&r, FS_AC_DNS_TUNNEL, "10.0.0.7", "8.8.8.8");
    if (!a)
        detrun_dump(&r);
    cr_assert_not_null(a);
    cr_expect_str_eq(a->metric, "dns_unapproved_resolver");
    cr_expect_eq(a->ts_ms, DETRUN_T0);
    cr_expect_eq(a->observed, 3, "3 queries a window (answers do not count)");
    /* DNS over TLS counts as DNS. */
    cr_expect_eq(detrun_count(&r, FS_AC_DNS_TUNNEL, "10.0.0.8", "1.1.1.1"), 1);
    /* Once per (host, resolver) a day, approved ones never. */
    cr_expect_eq(detrun_count(&r, FS_AC_DNS_TUNNEL, "10.0.0.7", NULL), 1);
    cr_expect_eq(detrun_count(&r, FS_AC_DNS_TUNNEL, HOST, NULL), 0);
    cr_expect_eq(detrun_count(&r, FS_AC_DNS_TUNNEL, RESOLVER, NULL), 0);
    cr_expect_eq(detrun_count_class(&r, FS_AC_DNS_TUNNEL), 2);
    detrun_free(&r);
}

Test(det_dns, without_an_approved_set_only_volume_is_checked)
{
    struct detrun r;

    detrun_init(&r, NULL);
    resolver_mix(&r);
    detrun_finish(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_DNS_TUNNEL), 0);
    detrun_free(&r);
}

Test(det_dns, dot_can_be_left_out)
{
    static const char *const opts[] = { "set", "dns_tunnel.resolver_check=1",
                                        "set", "dns_tunnel.allow=10.0.0.53",
                                        "set", "dns_tunnel.allow=198.51.100.53",
                                        "set", "dns_tunnel.dot=0", NULL };
    struct detrun r;

    detrun_init(&r, opts);
    resolver_mix(&r);
    detrun_finish(&r);
    cr_expect_eq(detrun_count(&r, FS_AC_DNS_TUNNEL, "10.0.0.8", NULL), 0);
    cr_expect_eq(detrun_count(&r, FS_AC_DNS_TUNNEL, "10.0.0.7", "8.8.8.8"), 1);
    detrun_free(&r);
}

Test(det_dns, host_baselines_survive_a_snapshot)
{
    /* The mail server's heavy DNS is its normal: learned quietly during an
     * hour of warm-up, then a restart. The analyzer that kept the baseline
     * stays quiet; one that starts fresh (no warm-up) holds the host to the
     * cold floors and reports it. */
    char path[] = "/tmp/fs-det-dns-XXXXXX", err[256];
    static const char *const hour[] = { "warmup", "1h", NULL };
    static const char *const no_warmup[] = { "warmup", "0", NULL };
    struct detrun a, b, fresh;
    int fd = mkstemp(path);

    cr_assert(fd >= 0);
    close(fd);
    detrun_init(&a, hour);
    for (unsigned w = 0; w < 30; w++)
        lookups(&a, "10.0.0.25", RESOLVER, 53, DETRUN_T0 + w * 300000ull, 5000, 80, 220);
    detrun_finish(&a);
    cr_expect_eq(detrun_count_class(&a, FS_AC_DNS_TUNNEL), 0);
    cr_assert_eq(fs_analyzer_save(a.an, path, err, sizeof(err)), 0, "%s", err);

    detrun_init(&b, hour);
    cr_assert_eq(fs_analyzer_load(b.an, path, err, sizeof(err)), FS_SNAP_LOADED, "%s", err);
    detrun_init(&fresh, no_warmup);
    for (unsigned w = 30; w < 36; w++) {
        uint64_t win = DETRUN_T0 + w * 300000ull;

        lookups(&b, "10.0.0.25", RESOLVER, 53, win, 5000, 80, 220);
        lookups(&fresh, "10.0.0.25", RESOLVER, 53, win, 5000, 80, 220);
    }
    detrun_finish(&b);
    detrun_finish(&fresh);
    cr_expect_eq(detrun_count_class(&b, FS_AC_DNS_TUNNEL), 0);
    cr_expect_eq(detrun_count(&fresh, FS_AC_DNS_TUNNEL, "10.0.0.25", NULL), 1);
    unlink(path);
    detrun_free(&a);
    detrun_free(&b);
    detrun_free(&fresh);
}

extern const struct fs_detector fs_det_dns;

Test(det_dns, saved_state_round_trips_and_any_corruption_is_refused)
{
    struct detrun r;
    size_t len;

    detrun_init(&r, NULL);
    ordinary(&r, HOST, DETRUN_T0, 2);
    ordinary(&r, "10.0.0.6", DETRUN_T0, 2);
    detrun_finish(&r);
    uint8_t *state = detrun_detector_state(&r, "dns_tunnel", &len);

    cr_expect_eq(detrun_load_state(&r, &fs_det_dns, state, len), 0);
    cr_expect_eq(detrun_corrupt_state(&r, &fs_det_dns, state, len), 0);
    free(state);
    detrun_free(&r);
}

Test(det_dns, reflected_answers_are_not_the_hosts_dns)
{
    /* 300 open resolvers answer queries the host never sent (a reflection
     * flood): not its DNS use, and not resolvers it talks to. */
    struct detrun r;
    char src[32];

    detrun_init(&r, approved);
    ordinary(&r, HOST, DETRUN_T0, 2);
    for (unsigned i = 0; i < 3000; i++) {
        snprintf(src, sizeof(src), "198.51.%u.%u", 100 + i % 3, i % 100 + 1);
        detrun_flow(&r, src, 53, HOST, (uint16_t)(1024 + i), 17, DETRUN_T0 + 3600000 + i * 100ull,
                    0, 1, 3000, -1);
    }
    detrun_finish(&r);
    if (detrun_count_class(&r, FS_AC_DNS_TUNNEL))
        detrun_dump(&r);
    cr_expect_eq(detrun_count_class(&r, FS_AC_DNS_TUNNEL), 0);
    detrun_free(&r);
}
