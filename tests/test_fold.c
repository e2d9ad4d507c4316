/*
 * test_fold.c - alert storm containment (reporter/fold.h): fold windows per
 * (host, class), the per-minute rate limit and its STORM alert, eviction at
 * max_keys, ids stable across replays, and the saved state: a restart in the
 * middle of a stream changes nothing, and every truncated or damaged state
 * is refused with a reason.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fold.h"

#define T0 1795525200000ull /* 2026-11-24T13:00:00Z, a minute boundary */
#define MIN 60000ull
#define MAX_SINK 4096

struct sink {
    struct fs_rp_alert al[MAX_SINK];
    int n;
};

static void collect(void *arg, const struct fs_rp_alert *al)
{
    struct sink *s = arg;

    cr_assert_lt(s->n, MAX_SINK);
    s->al[s->n++] = *al;
}

static struct sink *sink_new(void)
{
    struct sink *s = calloc(1, sizeof(*s));
    cr_assert_not_null(s);
    return s;
}

static struct fs_anomaly mk(const char *host, enum fs_anomaly_class cls, uint64_t ts,
                            double score)
{
    struct fs_anomaly a;

    memset(&a, 0, sizeof(a));
    cr_assert_eq(fs_ip_parse(host, &a.host), 0);
    cr_assert_eq(fs_ip_parse("203.0.113.9", &a.peer), 0);
    a.cls = cls;
    a.ts_ms = ts;
    a.end_ms = ts + 300000;
    a.score = score;
    a.severity = fs_severity_from_score(score);
    snprintf(a.metric, sizeof(a.metric), "beacon_period_s");
    a.observed = score;
    fs_anomaly_set_id(&a);
    return a;
}

static struct fs_rp_fold *fold(uint32_t window_s, uint32_t max_keys, uint32_t rate)
{
    struct fs_rp_fold_opts o = { window_s, max_keys, rate };
    struct fs_rp_fold *f = fs_rp_fold_new(&o);

    cr_assert_not_null(f);
    return f;
}

Test(fold, first_goes_out_repeats_fold_into_one)
{
    struct fs_rp_fold *f = fold(300, 0, 0);
    struct sink *s = sink_new();
    struct fs_anomaly a0 = mk("10.0.0.5", FS_AC_BEACONING, T0, 50);
    struct fs_anomaly a1 = mk("10.0.0.5", FS_AC_BEACONING, T0 + 60000, 90);
    struct fs_anomaly a2 = mk("10.0.0.5", FS_AC_BEACONING, T0 + 120000, 70);

    fs_rp_fold_anomaly(f, &a0, collect, s);
    cr_assert_eq(s->n, 1);
    cr_expect_eq(s->al[0].kind, FS_RP_SINGLE);
    cr_expect_eq(s->al[0].id, a0.id);
    cr_expect_eq(s->al[0].a.id, a0.id);
    cr_expect_eq(s->al[0].count, 1);
    cr_expect_eq(s->al[0].first_ms, T0);
    cr_expect_eq(s->al[0].last_ms, T0);

    fs_rp_fold_anomaly(f, &a1, collect, s);
    fs_rp_fold_anomaly(f, &a2, collect, s);
    fs_rp_fold_advance(f, T0 + 299999, collect, s);
    cr_expect_eq(s->n, 1, "absorbed while the window is open");

    fs_rp_fold_advance(f, T0 + 300000, collect, s);
    cr_assert_eq(s->n, 2);
    const struct fs_rp_alert *fo = &s->al[1];
    cr_expect_eq(fo->kind, FS_RP_FOLDED);
    cr_expect_eq(fo->count, 2);
    cr_expect_eq(fo->first_ms, T0 + 60000);
    cr_expect_eq(fo->last_ms, T0 + 120000);
    cr_expect_eq(fo->a.id, a1.id, "the most severe one");
    cr_expect_eq(fo->a.severity, FS_SEV_CRITICAL);
    cr_expect_neq(fo->id, a0.id);
    cr_expect_neq(fo->id, a1.id);

    const struct fs_rp_fold_counters *c = fs_rp_fold_counters(f);
    cr_expect_eq(c->anomalies, 3);
    cr_expect_eq(c->singles, 1);
    cr_expect_eq(c->absorbed, 2);
    cr_expect_eq(c->folded, 1);
    cr_expect_eq(c->evicted, 0);

    /* After the window: a new one, and a lone anomaly folds nothing. */
    struct fs_anomaly a3 = mk("10.0.0.5", FS_AC_BEACONING, T0 + 400000, 60);
    fs_rp_fold_anomaly(f, &a3, collect, s);
    cr_assert_eq(s->n, 3);
    cr_expect_eq(s->al[2].kind, FS_RP_SINGLE);
    cr_expect_eq(s->al[2].id, a3.id);
    fs_rp_fold_advance(f, T0 + 10000000, collect, s);
    fs_rp_fold_flush(f, collect, s);
    cr_expect_eq(s->n, 3);
    free(s);
    fs_rp_fold_free(f);
}

Test(fold, severity_outranks_score_and_ties_keep_the_first)
{
    struct fs_rp_fold *f = fold(300, 0, 0);
    struct sink *s = sink_new();
    struct fs_anomaly a0 = mk("10.0.0.5", FS_AC_DDOS, T0, 50);
    struct fs_anomaly a1 = mk("10.0.0.5", FS_AC_DDOS, T0 + 1000, 70);
    struct fs_anomaly a2 = mk("10.0.0.5", FS_AC_DDOS, T0 + 2000, 70);
    struct fs_anomaly a3 = mk("10.0.0.5", FS_AC_DDOS, T0 + 3000, 99);

    a3.severity = FS_SEV_MEDIUM; /* high score, lower severity */
    fs_rp_fold_anomaly(f, &a0, collect, s);
    fs_rp_fold_anomaly(f, &a1, collect, s);
    fs_rp_fold_anomaly(f, &a2, collect, s);
    fs_rp_fold_anomaly(f, &a3, collect, s);
    fs_rp_fold_flush(f, collect, s);
    cr_assert_eq(s->n, 2);
    cr_expect_eq(s->al[1].a.id, a1.id);
    cr_expect_eq(s->al[1].count, 3);
    free(s);
    fs_rp_fold_free(f);
}

Test(fold, classes_and_hosts_are_independent_and_close_in_key_order)
{
    struct fs_rp_fold *f = fold(300, 0, 0);
    struct sink *s = sink_new();
    struct fs_anomaly open[] = {
        mk("10.0.0.2", FS_AC_BEACONING, T0, 50),
        mk("10.0.0.1", FS_AC_PORT_SCAN, T0, 50),
        mk("10.0.0.1", FS_AC_BEACONING, T0, 50),
    };

    for (int i = 0; i < 3; i++)
        fs_rp_fold_anomaly(f, &open[i], collect, s);
    cr_assert_eq(s->n, 3, "each key's first goes out");
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(s->al[i].kind, FS_RP_SINGLE);
        cr_expect_eq(s->al[i].id, open[i].id);
    }
    for (int i = 0; i < 3; i++) {
        struct fs_anomaly r = open[i];
        r.ts_ms += 1000 * (uint64_t)(i + 1);
        fs_anomaly_set_id(&r);
        fs_rp_fold_anomaly(f, &r, collect, s);
        fs_rp_fold_anomaly(f, &r, collect, s);
    }
    cr_expect_eq(s->n, 3);
    fs_rp_fold_advance(f, T0 + 300000, collect, s);
    cr_assert_eq(s->n, 6);
    /* Same end: by host, then class. */
    cr_expect_eq(s->al[3].a.host.b[3], 1);
    cr_expect_eq(s->al[3].a.cls, FS_AC_BEACONING);
    cr_expect_eq(s->al[4].a.host.b[3], 1);
    cr_expect_eq(s->al[4].a.cls, FS_AC_PORT_SCAN);
    cr_expect_eq(s->al[5].a.host.b[3], 2);
    for (int i = 3; i < 6; i++) {
        cr_expect_eq(s->al[i].kind, FS_RP_FOLDED);
        cr_expect_eq(s->al[i].count, 2);
    }
    free(s);
    fs_rp_fold_free(f);
}

Test(fold, windows_close_in_order_of_their_end)
{
    struct fs_rp_fold *f = fold(300, 0, 0);
    struct sink *s = sink_new();
    const char *hosts[] = { "10.0.0.9", "10.0.0.3", "10.0.0.7", "10.0.0.1" };

    for (int i = 0; i < 4; i++) {
        struct fs_anomaly a = mk(hosts[i], FS_AC_EXFILTRATION, T0 + 1000 * (uint64_t)i, 50);
        fs_rp_fold_anomaly(f, &a, collect, s);
        a.ts_ms += 500;
        fs_anomaly_set_id(&a);
        fs_rp_fold_anomaly(f, &a, collect, s);
    }
    fs_rp_fold_advance(f, T0 + 1000000, collect, s);
    cr_assert_eq(s->n, 8);
    for (int i = 0; i < 4; i++) {
        char want[FS_IP_STRLEN];
        cr_expect_str_eq(fs_ip_format(&s->al[4 + i].a.host, want), hosts[i]);
    }
    free(s);
    fs_rp_fold_free(f);
}

Test(fold, window_zero_does_not_fold)
{
    struct fs_rp_fold *f = fold(0, 0, 0);
    struct sink *s = sink_new();

    for (int i = 0; i < 5; i++) {
        struct fs_anomaly a = mk("10.0.0.5", FS_AC_BEACONING, T0 + 1000 * (uint64_t)i, 50);
        fs_rp_fold_anomaly(f, &a, collect, s);
        cr_assert_eq(s->n, i + 1);
        cr_expect_eq(s->al[i].kind, FS_RP_SINGLE);
        cr_expect_eq(s->al[i].id, a.id);
    }
    fs_rp_fold_flush(f, collect, s);
    cr_expect_eq(s->n, 5);
    cr_expect_eq(fs_rp_fold_counters(f)->absorbed, 0);
    cr_expect_eq(fs_rp_fold_counters(f)->singles, 5);
    free(s);
    fs_rp_fold_free(f);
}

Test(fold, late_anomaly_opens_its_window_at_event_time)
{
    struct fs_rp_fold *f = fold(300, 0, 0);
    struct sink *s = sink_new();
    struct fs_anomaly a = mk("10.0.0.5", FS_AC_BEACONING, T0, 50);

    fs_rp_fold_advance(f, T0 + 3600000, collect, s);
    fs_rp_fold_anomaly(f, &a, collect, s);
    a.ts_ms += 1;
    fs_anomaly_set_id(&a);
    fs_rp_fold_anomaly(f, &a, collect, s);
    cr_expect_eq(s->n, 1, "the second late one is absorbed");
    fs_rp_fold_advance(f, T0 + 3600000 + 299999, collect, s);
    cr_expect_eq(s->n, 1);
    fs_rp_fold_advance(f, T0 + 3600000 + 300000, collect, s);
    cr_assert_eq(s->n, 2);
    cr_expect_eq(s->al[1].kind, FS_RP_FOLDED);
    /* Time does not go back. */
    fs_rp_fold_advance(f, T0, collect, s);
    struct fs_anomaly b = mk("10.0.0.5", FS_AC_BEACONING, T0 + 3600000 + 300001, 50);
    fs_rp_fold_anomaly(f, &b, collect, s);
    cr_expect_eq(s->n, 3);
    free(s);
    fs_rp_fold_free(f);
}

Test(fold, rate_limit_holds_back_and_sends_one_storm_per_minute)
{
    struct fs_rp_fold *f = fold(0, 0, 3);
    struct sink *s = sink_new();
    char host[32];

    for (int i = 0; i < 10; i++) {
        snprintf(host, sizeof(host), "10.0.1.%d", i);
        struct fs_anomaly a = mk(host, FS_AC_PORT_SCAN, T0 + 1000 * (uint64_t)i, 50);
        fs_rp_fold_anomaly(f, &a, collect, s);
    }
    cr_expect_eq(s->n, 3);
    fs_rp_fold_advance(f, T0 + MIN - 1, collect, s);
    cr_expect_eq(s->n, 3, "no storm before the minute is over");
    fs_rp_fold_advance(f, T0 + MIN, collect, s);
    cr_assert_eq(s->n, 4);
    const struct fs_rp_alert *st = &s->al[3];
    cr_expect_eq(st->kind, FS_RP_STORM);
    cr_expect_eq(st->count, 7);
    cr_expect_eq(st->first_ms, T0 + 3000);
    cr_expect_eq(st->last_ms, T0 + 9000);
    cr_expect_eq(st->a.ts_ms, T0);
    cr_expect_eq(st->a.end_ms, T0 + MIN);
    const struct fs_rp_fold_counters *c = fs_rp_fold_counters(f);
    cr_expect_eq(c->rate_limited, 7);
    cr_expect_eq(c->storms, 1);
    cr_expect_eq(c->singles, 3);

    /* The next minute has its own budget; a quiet minute, no storm. */
    for (int i = 0; i < 3; i++) {
        snprintf(host, sizeof(host), "10.0.2.%d", i);
        struct fs_anomaly a = mk(host, FS_AC_PORT_SCAN, T0 + MIN + 1000 * (uint64_t)i, 50);
        fs_rp_fold_anomaly(f, &a, collect, s);
    }
    cr_expect_eq(s->n, 7);
    fs_rp_fold_advance(f, T0 + 5 * MIN, collect, s);
    cr_expect_eq(s->n, 7);
    cr_expect_eq(c->storms, 1);
    free(s);
    fs_rp_fold_free(f);
}

Test(fold, folded_alerts_count_against_the_rate_and_flush_ends_the_minute)
{
    struct fs_rp_fold *f = fold(30, 0, 2);
    struct sink *s = sink_new();
    const char *hosts[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3" };

    /* Minute 0: two singles go out, the third is held. */
    for (int i = 0; i < 3; i++) {
        struct fs_anomaly a = mk(hosts[i], FS_AC_DDOS, T0 + (uint64_t)i, 50);
        fs_rp_fold_anomaly(f, &a, collect, s);
        a.ts_ms += 10;
        fs_anomaly_set_id(&a);
        fs_rp_fold_anomaly(f, &a, collect, s);
    }
    cr_expect_eq(s->n, 2);
    /* Windows end at T0+30s..: their FOLDED alerts fall in minute 0, held. */
    fs_rp_fold_flush(f, collect, s);
    cr_assert_eq(s->n, 3);
    cr_expect_eq(s->al[2].kind, FS_RP_STORM);
    cr_expect_eq(s->al[2].count, 4, "one single and three folded held");
    cr_expect_eq(fs_rp_fold_counters(f)->rate_limited, 4);
    free(s);
    fs_rp_fold_free(f);
}

Test(fold, max_keys_evicts_the_earliest_ending_window)
{
    struct fs_rp_fold *f = fold(300, 2, 0);
    struct sink *s = sink_new();
    struct fs_anomaly h1 = mk("10.0.0.1", FS_AC_BEACONING, T0, 50);
    struct fs_anomaly h2 = mk("10.0.0.2", FS_AC_BEACONING, T0 + 10000, 50);
    struct fs_anomaly h1b = mk("10.0.0.1", FS_AC_BEACONING, T0 + 20000, 80);
    struct fs_anomaly h3 = mk("10.0.0.3", FS_AC_BEACONING, T0 + 30000, 50);

    fs_rp_fold_anomaly(f, &h1, collect, s);
    fs_rp_fold_anomaly(f, &h2, collect, s);
    fs_rp_fold_anomaly(f, &h1b, collect, s);
    cr_expect_eq(s->n, 2);
    fs_rp_fold_anomaly(f, &h3, collect, s);
    cr_assert_eq(s->n, 4);
    cr_expect_eq(s->al[2].kind, FS_RP_FOLDED, "h1's window closed early, before h3 goes out");
    cr_expect_eq(s->al[2].a.id, h1b.id);
    cr_expect_eq(s->al[3].kind, FS_RP_SINGLE);
    cr_expect_eq(s->al[3].id, h3.id);
    cr_expect_eq(fs_rp_fold_counters(f)->evicted, 1);

    /* h1 again: its window is gone, so it goes out; h2 (only its opener)
     * is evicted silently. */
    struct fs_anomaly h1c = mk("10.0.0.1", FS_AC_BEACONING, T0 + 40000, 50);
    fs_rp_fold_anomaly(f, &h1c, collect, s);
    cr_assert_eq(s->n, 5);
    cr_expect_eq(s->al[4].id, h1c.id);
    cr_expect_eq(fs_rp_fold_counters(f)->evicted, 2);
    /* h3 is still open: absorbed. */
    struct fs_anomaly h3b = mk("10.0.0.3", FS_AC_BEACONING, T0 + 50000, 50);
    fs_rp_fold_anomaly(f, &h3b, collect, s);
    cr_expect_eq(s->n, 5);
    free(s);
    fs_rp_fold_free(f);
}

/* ------------------------------------------------------------------ */
/* A mixed stream: several hosts and classes, repeats, quiet gaps, summaries'
 * event times, a rate limit that bites. */

enum { STREAM_LEN = 120 };

struct step {
    bool advance;
    uint64_t ms;
    struct fs_anomaly a;
};

static void stream(struct step *st)
{
    uint32_t x = 12345;

    for (int i = 0; i < STREAM_LEN; i++) {
        x = x * 1103515245u + 12345u;
        uint64_t t = T0 + (uint64_t)i * 7000 + (x >> 20) % 5000;
        char host[32];
        if (i % 17 == 16) {
            st[i].advance = true;
            st[i].ms = t + 60000;
            continue;
        }
        snprintf(host, sizeof(host), "10.0.0.%u", (x >> 8) % 6);
        st[i].advance = false;
        st[i].a = mk(host, (enum fs_anomaly_class)((x >> 4) % 3), t, (double)((x >> 12) % 100));
    }
}

static void run(struct fs_rp_fold *f, const struct step *st, int from, int to, struct sink *s)
{
    for (int i = from; i < to; i++) {
        if (st[i].advance)
            fs_rp_fold_advance(f, st[i].ms, collect, s);
        else
            fs_rp_fold_anomaly(f, &st[i].a, collect, s);
    }
}

static void expect_same(const struct sink *x, const struct sink *y)
{
    cr_assert_eq(x->n, y->n);
    for (int i = 0; i < x->n; i++) {
        cr_expect_eq(x->al[i].kind, y->al[i].kind, "alert %d", i);
        cr_expect_eq(x->al[i].id, y->al[i].id, "alert %d", i);
        cr_expect_eq(x->al[i].count, y->al[i].count, "alert %d", i);
        cr_expect_eq(x->al[i].first_ms, y->al[i].first_ms, "alert %d", i);
        cr_expect_eq(x->al[i].last_ms, y->al[i].last_ms, "alert %d", i);
        cr_expect_eq(memcmp(&x->al[i].a, &y->al[i].a, sizeof(x->al[i].a)), 0, "alert %d", i);
    }
}

Test(fold, replay_gives_the_same_alerts_and_ids)
{
    struct step *st = calloc(STREAM_LEN, sizeof(*st));
    struct sink *x = sink_new(), *y = sink_new();
    int kinds[3] = { 0 };

    stream(st);
    struct fs_rp_fold *f = fold(120, 4, 8);
    run(f, st, 0, STREAM_LEN, x);
    fs_rp_fold_flush(f, collect, x);
    fs_rp_fold_free(f);
    f = fold(120, 4, 8);
    run(f, st, 0, STREAM_LEN, y);
    fs_rp_fold_flush(f, collect, y);
    expect_same(x, y);

    /* The stream exercises every kind, and no two alerts share an id. */
    for (int i = 0; i < x->n; i++) {
        kinds[x->al[i].kind]++;
        for (int j = 0; j < i; j++)
            cr_expect_neq(x->al[i].id, x->al[j].id, "alerts %d and %d", j, i);
    }
    cr_expect_gt(kinds[FS_RP_SINGLE], 0);
    cr_expect_gt(kinds[FS_RP_FOLDED], 0);
    cr_expect_gt(kinds[FS_RP_STORM], 0);
    cr_expect_gt(fs_rp_fold_counters(f)->evicted, 0);
    fs_rp_fold_free(f);
    free(x);
    free(y);
    free(st);
}

Test(fold, restart_anywhere_gives_the_same_alerts)
{
    struct step *st = calloc(STREAM_LEN, sizeof(*st));
    struct sink *whole = sink_new(), *parts = sink_new();
    char err[256];

    stream(st);
    struct fs_rp_fold *f = fold(120, 4, 8);
    run(f, st, 0, STREAM_LEN, whole);
    fs_rp_fold_flush(f, collect, whole);
    fs_rp_fold_free(f);

    for (int k = 0; k <= STREAM_LEN; k++) {
        void *buf;
        size_t len;

        parts->n = 0;
        f = fold(120, 4, 8);
        run(f, st, 0, k, parts);
        cr_assert_eq(fs_rp_fold_save(f, &buf, &len), 0);
        fs_rp_fold_free(f);
        f = fold(120, 4, 8);
        cr_assert_eq(fs_rp_fold_load(f, buf, len, err, sizeof(err)), 0, "at %d: %s", k, err);
        free(buf);
        run(f, st, k, STREAM_LEN, parts);
        fs_rp_fold_flush(f, collect, parts);
        fs_rp_fold_free(f);
        expect_same(whole, parts);
    }
    free(whole);
    free(parts);
    free(st);
}

/* ------------------------------------------------------------------ */
/* Saved state that is not whole. */

/* A fold with open windows (absorbed and not), held alerts and odd values
 * in a kept anomaly. */
static struct fs_rp_fold *busy(struct sink *s)
{
    struct fs_rp_fold *f = fold(300, 8, 2);
    struct fs_anomaly a = mk("2001:db8::1", FS_AC_DNS_TUNNEL, T0, 90);

    fs_rp_fold_anomaly(f, &a, collect, s);
    a.ts_ms += 5;
    a.score = 99;
    memset(a.metric, 0xff, sizeof(a.metric));
    a.nextra = 250;
    fs_anomaly_set_id(&a);
    fs_rp_fold_anomaly(f, &a, collect, s);
    struct fs_anomaly b = mk("10.0.0.1", FS_AC_DDOS, T0 + 10, 50);
    struct fs_anomaly c = mk("10.0.0.2", FS_AC_DDOS, T0 + 20, 50);
    fs_rp_fold_anomaly(f, &b, collect, s);
    fs_rp_fold_anomaly(f, &c, collect, s);
    cr_assert_eq(fs_rp_fold_counters(f)->rate_limited, 1);
    return f;
}

/* After a refused load the fold is empty: the repeat of an open window's
 * key goes out as a new SINGLE instead of being absorbed. */
static void expect_empty(struct fs_rp_fold *f)
{
    struct sink *s = sink_new();
    struct fs_anomaly b = mk("10.0.0.1", FS_AC_DDOS, T0 + 30, 50);

    fs_rp_fold_anomaly(f, &b, collect, s);
    cr_expect_eq(s->n, 1);
    fs_rp_fold_flush(f, collect, s);
    cr_expect_eq(s->n, 1, "no window and nothing held survived");
    free(s);
}

Test(fold, every_truncation_and_damage_is_refused)
{
    struct sink *s = sink_new();
    struct fs_rp_fold *f = busy(s);
    char err[256];
    void *buf;
    size_t len;

    cr_assert_eq(fs_rp_fold_save(f, &buf, &len), 0);
    fs_rp_fold_free(f);
    uint8_t *b = buf;

    /* The whole state loads, and carries on like the original. */
    f = fold(300, 8, 2);
    cr_assert_eq(fs_rp_fold_load(f, buf, len, err, sizeof(err)), 0, "%s", err);
    struct sink *t = sink_new();
    fs_rp_fold_advance(f, T0 + MIN, collect, t);
    fs_rp_fold_flush(f, collect, t);
    cr_assert_eq(t->n, 2, "the storm of minute 0, then the folded DNS window");
    cr_expect_eq(t->al[0].kind, FS_RP_STORM);
    cr_expect_eq(t->al[0].count, 1);
    cr_expect_eq(t->al[1].kind, FS_RP_FOLDED);
    cr_expect_eq(t->al[1].a.score, 99);
    cr_expect_eq(t->al[1].a.metric[31], (char)0xff);
    cr_expect_eq(t->al[1].a.nextra, 250);
    fs_rp_fold_free(f);

    for (size_t n = 0; n < len; n++) {
        f = fold(300, 8, 2);
        err[0] = '\0';
        cr_expect_eq(fs_rp_fold_load(f, buf, n, err, sizeof(err)), -1, "%zu of %zu", n, len);
        cr_expect(strstr(err, "truncated") != NULL, "%zu: %s", n, err);
        expect_empty(f);
        fs_rp_fold_free(f);
    }
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            f = fold(300, 8, 2);
            err[0] = '\0';
            b[i] ^= (uint8_t)(1u << bit);
            cr_expect_eq(fs_rp_fold_load(f, buf, len, err, sizeof(err)), -1, "byte %zu", i);
            cr_expect_neq(err[0], '\0');
            b[i] ^= (uint8_t)(1u << bit);
            expect_empty(f);
            fs_rp_fold_free(f);
        }
    }
    /* One byte too many. */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    f = fold(300, 8, 2);
    cr_expect_eq(fs_rp_fold_load(f, longer, len + 1, err, sizeof(err)), -1);
    cr_expect(strstr(err, "trailing") != NULL, "%s", err);
    fs_rp_fold_free(f);
    free(longer);

    /* Another version, and a fold too small for the windows saved. */
    b[8] = 2;
    f = fold(300, 8, 2);
    cr_expect_eq(fs_rp_fold_load(f, buf, len, err, sizeof(err)), -1);
    cr_expect(strstr(err, "version 2") != NULL, "%s", err);
    fs_rp_fold_free(f);
    b[8] = 1;
    f = fold(300, 2, 2);
    cr_expect_eq(fs_rp_fold_load(f, buf, len, err, sizeof(err)), -1);
    cr_expect(strstr(err, "max_keys") != NULL, "%s", err);
    fs_rp_fold_free(f);
    /* Garbage. */
    memset(buf, 'x', len);
    f = fold(300, 8, 2);
    cr_expect_eq(fs_rp_fold_load(f, buf, len, err, sizeof(err)), -1);
    cr_expect(strstr(err, "magic") != NULL, "%s", err);
    fs_rp_fold_free(f);
    free(buf);
    free(s);
    free(t);
}

Test(fold, load_replaces_what_the_fold_held)
{
    struct sink *s = sink_new();
    struct fs_rp_fold *f = fold(300, 8, 0), *g;
    char err[256];
    void *buf;
    size_t len;

    cr_assert_eq(fs_rp_fold_save(f, &buf, &len), 0); /* empty state */
    g = busy(s);
    cr_assert_eq(fs_rp_fold_load(g, buf, len, err, sizeof(err)), 0, "%s", err);
    expect_empty(g);
    free(buf);
    fs_rp_fold_free(f);
    fs_rp_fold_free(g);
    free(s);
}
