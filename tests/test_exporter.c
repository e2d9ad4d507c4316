/*
 * test_exporter.c - the decoder core: exporter table and eviction, counters
 * per exporter and in total, rate-limited logging, domains, and the helpers
 * the format decoders share (sequence tracking, sampling precedence, clock).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "exporter.h"
#include "nfv5build.h"

static struct fs_decoder *dec;
static struct nfv5_sink sink;

#define LOG_MAX 64
static struct {
    int n;
    char lines[LOG_MAX][512];
} logged;

static void log_fn(void *arg, const char *line)
{
    (void)arg;
    if (logged.n < LOG_MAX)
        snprintf(logged.lines[logged.n], sizeof(logged.lines[0]), "%s", line);
    logged.n++;
}

static void start(const struct fs_decoder_config *cfg)
{
    if (dec)
        fs_decoder_free(dec);
    dec = fs_decoder_new(cfg);
    cr_assert_not_null(dec);
}

static void setup(void)
{
    struct fs_decoder_config cfg = {.log = log_fn};

    memset(&sink, 0, sizeof(sink));
    memset(&logged, 0, sizeof(logged));
    dec = NULL;
    start(&cfg);
}

static void teardown(void)
{
    fs_decoder_free(dec);
}

/* A v5 datagram with `n` records from `who` at `now`. */
static int send_v5(const char *who, uint64_t now, int n, uint16_t sampling)
{
    struct nfv5_hdr h = {.version = 5, .count = (uint16_t)n, .uptime = 100000,
                         .secs = 1700000000, .sampling = sampling};
    struct nfv5_rec r = {.src = "10.0.0.1", .dst = "10.0.0.2", .packets = 2, .bytes = 100,
                         .first = 99000, .last = 99500, .proto = 17};
    struct nfv5_buf dg;
    fs_ip ip = nfv5_ip(who);
    int i;

    nfv5_header(&dg, &h);
    for (i = 0; i < n; i++)
        nfv5_record(&dg, &r);
    return fs_decode(dec, &ip, now, dg.b, dg.len, nfv5_sink_fn, &sink);
}

static int send_junk(const char *who, uint64_t now)
{
    static const uint8_t junk[] = {0x12, 0x34, 0, 0};
    fs_ip ip = nfv5_ip(who);

    return fs_decode(dec, &ip, now, junk, sizeof(junk), nfv5_sink_fn, &sink);
}

struct seen {
    int n;
    char addr[8][FS_IP_STRLEN];
    struct fs_counters c[8];
};

static void seen_fn(void *arg, const fs_ip *exporter, const struct fs_counters *c)
{
    struct seen *s = arg;

    if (s->n < 8) {
        fs_ip_format(exporter, s->addr[s->n]);
        s->c[s->n] = *c;
    }
    s->n++;
}

/* Counters of one tracked exporter, or NULL when it is not tracked. */
static const struct fs_counters *counters_of(struct seen *s, const char *who)
{
    int i;

    memset(s, 0, sizeof(*s));
    fs_decoder_foreach_exporter(dec, seen_fn, s);
    for (i = 0; i < s->n && i < 8; i++)
        if (strcmp(s->addr[i], who) == 0)
            return &s->c[i];
    return NULL;
}

TestSuite(exporter, .init = setup, .fini = teardown);

Test(exporter, counters_per_exporter_and_total)
{
    struct seen s;
    const struct fs_counters *c, *t = fs_decoder_totals(dec);

    cr_assert_eq(send_v5("192.0.2.1", 1000, 3, 0), 3);
    cr_assert_eq(send_v5("192.0.2.1", 1001, 2, 0), 2);
    cr_assert_eq(send_v5("2001:db8::7", 1002, 1, 0), 1);
    cr_assert_eq(send_junk("2001:db8::7", 1003), -1);

    c = counters_of(&s, "192.0.2.1");
    cr_assert_not_null(c);
    cr_expect_eq(s.n, 2);
    cr_expect_eq(c->datagrams, 2);
    cr_expect_eq(c->flows, 5);
    cr_expect_eq(c->bytes, (24 + 3 * 48) + (24 + 2 * 48));
    cr_expect_eq(fs_counters_errors(c), 0);
    c = counters_of(&s, "2001:db8::7");
    cr_assert_not_null(c);
    cr_expect_eq(c->datagrams, 2);
    cr_expect_eq(c->flows, 1);
    cr_expect_eq(c->errors[FS_ERR_BAD_VERSION], 1);

    cr_expect_eq(t->datagrams, 4);
    cr_expect_eq(t->flows, 6);
    cr_expect_eq(t->errors[FS_ERR_BAD_VERSION], 1);
    cr_expect_eq(fs_counters_errors(t), 1);
    /* The flows name their exporter. */
    char buf[FS_IP_STRLEN];
    cr_expect_str_eq(fs_ip_format(&sink.flows[5].exporter, buf), "2001:db8::7");
}

Test(exporter, same_address_same_exporter)
{
    /* Bytes past the IPv4 address are not part of the key. */
    fs_ip a = nfv5_ip("192.0.2.1"), b = a;
    struct seen s;

    b.b[10] = 0x55;
    cr_assert_eq(fs_decoder_exporter(dec, &a, 1), fs_decoder_exporter(dec, &b, 2));
    cr_assert_neq(fs_decoder_exporter(dec, &a, 3),
                  fs_decoder_exporter(dec, &(fs_ip){.af = 6, .b = {192, 0, 2, 1}}, 4));
    counters_of(&s, "");
    cr_expect_eq(s.n, 2);
}

Test(exporter, eviction_least_recently_seen)
{
    struct fs_decoder_config cfg = {.max_exporters = 3};
    struct seen s;
    const struct fs_counters *t;

    start(&cfg);
    t = fs_decoder_totals(dec);
    send_v5("192.0.2.1", 1, 1, 0);
    send_v5("192.0.2.2", 2, 2, 0);
    send_v5("192.0.2.3", 3, 3, 0);
    send_v5("192.0.2.1", 4, 1, 0); /* .2 is now the least recently seen */
    send_v5("192.0.2.4", 5, 4, 0);

    cr_expect_eq(t->exporters_evicted, 1);
    cr_expect_null(counters_of(&s, "192.0.2.2"));
    cr_expect_eq(s.n, 3);
    cr_expect_not_null(counters_of(&s, "192.0.2.1"));
    cr_expect_not_null(counters_of(&s, "192.0.2.3"));
    cr_expect_not_null(counters_of(&s, "192.0.2.4"));
    /* The evicted exporter's counts stay in the totals. */
    cr_expect_eq(t->datagrams, 5);
    cr_expect_eq(t->flows, 11);

    /* It comes back with fresh counters and pushes out .3. */
    send_v5("192.0.2.2", 6, 1, 0);
    cr_expect_eq(t->exporters_evicted, 2);
    cr_expect_null(counters_of(&s, "192.0.2.3"));
    const struct fs_counters *c = counters_of(&s, "192.0.2.2");
    cr_assert_not_null(c);
    cr_expect_eq(c->datagrams, 1);
    cr_expect_eq(c->flows, 1);
    cr_expect_eq(t->flows, 12);
}

Test(exporter, many_exporters)
{
    /* Enough exporters to grow the hash table several times, then each found again. */
    struct fs_decoder_config cfg = {.max_exporters = 1000};
    char who[32];
    int i;

    start(&cfg);
    for (i = 0; i < 1500; i++) {
        snprintf(who, sizeof(who), "10.%d.%d.1", i / 256, i % 256);
        cr_assert_eq(send_v5(who, (uint64_t)i, 1, 0), 1);
    }
    cr_expect_eq(fs_decoder_totals(dec)->exporters_evicted, 500);
    for (i = 500; i < 1500; i++) {
        snprintf(who, sizeof(who), "10.%d.%d.1", i / 256, i % 256);
        send_v5(who, 2000, 1, 0);
    }
    cr_expect_eq(fs_decoder_totals(dec)->exporters_evicted, 500, "all 1000 still tracked");
}

Test(exporter, configured_sampling_survives_eviction)
{
    struct fs_decoder_config cfg = {.max_exporters = 1};
    fs_ip a = nfv5_ip("192.0.2.1");

    start(&cfg);
    cr_assert_eq(fs_decoder_set_sampling(dec, &a, 7, true), 0);
    send_v5("192.0.2.1", 1, 1, 0);
    cr_expect_eq(sink.flows[0].sampling_rate, 7);
    send_v5("192.0.2.2", 2, 1, 0); /* evicts .1 */
    cr_expect_eq(sink.flows[1].sampling_rate, 1);
    send_v5("192.0.2.1", 3, 1, 0);
    cr_expect_eq(fs_decoder_totals(dec)->exporters_evicted, 2);
    cr_expect_eq(sink.flows[2].sampling_rate, 7);
    cr_expect_eq(sink.flows[2].packets, 14);
}

Test(exporter, drops_counted)
{
    struct fs_decoder_config cfg = {.max_exporters = 2};
    fs_ip a = nfv5_ip("192.0.2.1"), b = nfv5_ip("192.0.2.2"), x = nfv5_ip("192.0.2.99");
    struct seen s;

    start(&cfg);
    send_v5("192.0.2.1", 1, 1, 0);
    fs_decoder_count_drop(dec, &a, 0, 4);
    fs_decoder_count_drop(dec, &b, 2, 0);
    /* The table is full: .99 shows only in the totals and evicts nobody. */
    fs_decoder_count_drop(dec, &x, 5, 0);
    cr_expect_eq(fs_decoder_totals(dec)->allowlist_drops, 7);
    cr_expect_eq(fs_decoder_totals(dec)->kernel_drops, 4);
    cr_expect_eq(fs_decoder_totals(dec)->exporters_evicted, 0);
    cr_expect_null(counters_of(&s, "192.0.2.99"));
    cr_expect_eq(counters_of(&s, "192.0.2.1")->kernel_drops, 4);
    cr_expect_eq(counters_of(&s, "192.0.2.2")->allowlist_drops, 2);
    /* A decoding exporter evicts the one that only dropped. */
    send_v5("192.0.2.3", 2, 1, 0);
    cr_expect_null(counters_of(&s, "192.0.2.2"));
    cr_expect_not_null(counters_of(&s, "192.0.2.1"));
}

Test(exporter, log_rate_limited)
{
    int i;

    for (i = 0; i < 25; i++)
        send_junk("192.0.2.1", 50000);
    cr_expect_eq(logged.n, 10);
    cr_expect_eq(fs_decoder_totals(dec)->errors[FS_ERR_BAD_VERSION], 25,
                 "every error counts, logged or not");
    cr_expect(strstr(logged.lines[0], "192.0.2.1") != NULL, "%s", logged.lines[0]);
    cr_expect(strstr(logged.lines[0], "bad_version") != NULL, "%s", logged.lines[0]);
    cr_expect(strstr(logged.lines[0], "4660") != NULL, "detail (version 0x1234): %s",
              logged.lines[0]);

    /* Another exporter has its own budget. */
    send_junk("192.0.2.2", 50001);
    cr_expect_eq(logged.n, 11);
    cr_expect(strstr(logged.lines[10], "192.0.2.2") != NULL);

    /* Still inside the window: nothing. */
    send_junk("192.0.2.1", 59999);
    cr_expect_eq(logged.n, 11);
    /* Window over: the summary, then the line. */
    send_junk("192.0.2.1", 60000);
    cr_assert_eq(logged.n, 13);
    cr_expect(strstr(logged.lines[11], "192.0.2.1") != NULL, "%s", logged.lines[11]);
    cr_expect(strstr(logged.lines[11], "16 more") != NULL, "%s", logged.lines[11]);
    cr_expect(strstr(logged.lines[12], "bad_version") != NULL, "%s", logged.lines[12]);
}

Test(exporter, log_summary_on_expire)
{
    int i;

    for (i = 0; i < 12; i++)
        send_junk("192.0.2.1", 1000000);
    cr_expect_eq(logged.n, 10);
    fs_decoder_expire(dec, 1005000);
    cr_expect_eq(logged.n, 10, "window not over yet");
    fs_decoder_expire(dec, 1010000);
    cr_assert_eq(logged.n, 11);
    cr_expect(strstr(logged.lines[10], "2 more") != NULL, "%s", logged.lines[10]);
    fs_decoder_expire(dec, 1020000);
    cr_expect_eq(logged.n, 11, "said once");
}

Test(exporter, no_log_callback)
{
    struct fs_decoder_config cfg = {0};

    start(&cfg);
    cr_expect_eq(send_junk("192.0.2.1", 1), -1);
    cr_expect_eq(logged.n, 0);
    cr_expect_eq(fs_decoder_totals(dec)->errors[FS_ERR_BAD_VERSION], 1);
}

Test(exporter, err_names)
{
    cr_expect_str_eq(fs_err_name(FS_ERR_SHORT_HEADER), "short_header");
    cr_expect_str_eq(fs_err_name(FS_ERR_BAD_COUNT), "bad_count");
    cr_expect_str_eq(fs_err_name(FS_ERR_PENDING_DROPPED), "pending_dropped");
    cr_expect_str_eq(fs_err_name(FS_ERR_COUNT), "unknown");
    for (int k = 0; k < FS_ERR_COUNT; k++)
        cr_expect_not_null(fs_err_name((enum fs_err_kind)k));
}

Test(exporter, config_defaults)
{
    const struct fs_decoder_config *cfg = fs_decoder_config(dec);

    cr_expect_eq(cfg->max_exporters, 4096);
    cr_expect_eq(cfg->max_templates, 1024);
    cr_expect_eq(cfg->pending_max_bytes, 256 * 1024);
    cr_expect_eq(cfg->pending_timeout_ms, 60000);
    cr_expect_eq(cfg->default_sampling, 0);
    cr_expect_eq(cfg->clock_clamp_ms, 0);
}

/* A context positioned on one exporter, as fs_decode() would leave it. */
static struct fs_decode_ctx *ctx_for(const char *who, uint64_t now)
{
    struct fs_decode_ctx *c = fs_decoder_ctx(dec);
    fs_ip ip = nfv5_ip(who);

    c->exp = fs_decoder_exporter(dec, &ip, now);
    c->now_ms = now;
    cr_assert_not_null(c->exp);
    return c;
}

Test(exporter, domains)
{
    struct fs_decode_ctx *c = ctx_for("192.0.2.1", 1);
    struct fs_domain *d1 = fs_ctx_domain(c, 1, 10), *d2 = fs_ctx_domain(c, 2, 10);
    uint32_t i;

    cr_assert(d1 && d2 && d1 != d2);
    cr_expect_eq(fs_ctx_domain(c, 1, 10), d1);
    cr_expect_neq(fs_ctx_domain(c, 1, 9), d1, "versions never share a domain");
    cr_expect_eq(fs_ctx_domain(c, 1, 9)->seq.max_jump, FS_SEQ_JUMP_PACKETS);
    cr_expect_eq(d1->seq.max_jump, FS_SEQ_JUMP_RECORDS);
    fs_sampling_set(d1, false, 0, 99);
    /* Fill up; the least recently used one (domain 2) is recycled first. */
    fs_ctx_domain(c, 1, 10);
    for (i = 100; i < 100 + FS_DOMAINS_MAX - 3; i++)
        fs_ctx_domain(c, i, 10);
    cr_expect_eq(fs_decoder_totals(dec)->domains_evicted, 0);
    fs_ctx_domain(c, 1, 10);
    fs_ctx_domain(c, 5000, 10);
    cr_expect_eq(fs_decoder_totals(dec)->domains_evicted, 1);
    cr_expect_eq(fs_ctx_domain(c, 1, 10)->sampling.domain_rate, 99, "domain 1 kept");
    fs_ctx_domain(c, 2, 10);
    cr_expect_eq(fs_decoder_totals(dec)->domains_evicted, 2, "domain 2 was gone");
}

Test(exporter, seq_v9_thresholds)
{
    struct fs_decode_ctx *c = ctx_for("192.0.2.1", 1);
    struct fs_seq s = {.max_jump = FS_SEQ_JUMP_PACKETS};
    const struct fs_counters *t = fs_decoder_totals(dec);

    fs_seq_update(c, &s, 10, 1, true);
    fs_seq_update(c, &s, 11 + 100000, 1, true); /* 100000 lost: the limit */
    cr_expect_eq(t->seq_lost, 100000);
    cr_expect_eq(t->seq_resets, 0);
    fs_seq_update(c, &s, 12 + 100000 + 100001, 1, true); /* one more: a restart */
    cr_expect_eq(t->seq_resets, 1);
    cr_expect_eq(t->seq_lost, 100000);
    /* Reorder window: a thousand back is late, more is a restart. */
    fs_seq_update(c, &s, s.expected - 1000, 1, true);
    cr_expect_eq(t->seq_reordered, 1);
    cr_expect_eq(t->seq_lost, 99999);
    fs_seq_update(c, &s, s.expected - 1001, 1, true);
    cr_expect_eq(t->seq_resets, 2);
}

Test(exporter, seq_unknown_advance_rebases)
{
    struct fs_decode_ctx *c = ctx_for("192.0.2.1", 1);
    struct fs_seq s = {0};
    const struct fs_counters *t = fs_decoder_totals(dec);

    fs_seq_update(c, &s, 100, 10, true);
    fs_seq_update(c, &s, 110, 0, false); /* records not countable */
    fs_seq_update(c, &s, 500, 10, true); /* no loss claimed: rebased */
    cr_expect_eq(t->seq_lost, 0);
    fs_seq_update(c, &s, 512, 1, true);
    cr_expect_eq(t->seq_lost, 2);
    /* The wrap is progress, not a restart (no max_jump: the records default). */
    s.expected = 0xfffffff0u;
    fs_seq_update(c, &s, 0xfffffff0u, 0x20, true);
    fs_seq_update(c, &s, 0x10, 1, true);
    cr_expect_eq(t->seq_lost, 2);
    cr_expect_eq(t->seq_resets, 0);
    cr_expect_eq(t->seq_reordered, 0);
}

Test(exporter, sampling_precedence)
{
    struct fs_decoder_config cfg = {.default_sampling = 2};
    struct fs_decode_ctx *c;
    struct fs_domain *dom;
    fs_ip a = nfv5_ip("192.0.2.1");

    start(&cfg);
    c = ctx_for("192.0.2.1", 1);
    dom = fs_ctx_domain(c, 0, 10);
    cr_expect_eq(fs_sampling_rate(c, dom, true, 5, 0), 2, "decoder default");
    cr_assert_eq(fs_decoder_set_sampling(dec, &a, 3, false), 0);
    cr_expect_eq(fs_sampling_rate(c, dom, true, 5, 0), 3, "exporter default");
    fs_sampling_set(dom, false, 0, 4);
    cr_expect_eq(fs_sampling_rate(c, dom, true, 5, 0), 4, "domain rate");
    fs_sampling_set(dom, true, 5, 5);
    fs_sampling_set(dom, true, 6, 6);
    cr_expect_eq(fs_sampling_rate(c, dom, true, 5, 0), 5, "sampler rate");
    cr_expect_eq(fs_sampling_rate(c, dom, true, 6, 0), 6);
    cr_expect_eq(fs_sampling_rate(c, dom, true, 7, 0), 4, "unknown sampler: domain");
    cr_expect_eq(fs_sampling_rate(c, dom, false, 0, 0), 4);
    cr_expect_eq(fs_sampling_rate(c, dom, true, 5, 8), 8, "record rate");
    cr_assert_eq(fs_decoder_set_sampling(dec, &a, 9, true), 0);
    cr_expect_eq(fs_sampling_rate(c, dom, true, 5, 8), 9, "override");
    fs_sampling_set(dom, true, 5, 50);
    cr_expect_eq(fs_sampling_rate(c, dom, true, 5, 0), 9);
    cr_assert_eq(fs_decoder_set_sampling(dec, &a, 9, false), 0);
    cr_expect_eq(fs_sampling_rate(c, dom, true, 5, 0), 50, "sampler rate updated");
}

Test(exporter, sampling_unknown)
{
    struct fs_decode_ctx *c = ctx_for("192.0.2.1", 1);
    struct fs_domain *dom = fs_ctx_domain(c, 0, 10);
    struct fs_flow f;

    cr_expect_eq(fs_sampling_rate(c, dom, false, 0, 0), 0);
    fs_flow_init(&f);
    f.packets = 3;
    f.bytes = 300;
    fs_flow_apply_sampling(c, &f, 0);
    cr_expect_eq(f.packets, 3);
    cr_expect_eq(f.bytes, 300);
    cr_expect(f.flags & FS_FLOW_SAMPLING_UNKNOWN);
    cr_expect_not(FS_FLOW_HAS(&f, FS_F_SAMPLING));
    cr_expect_eq(fs_decoder_totals(dec)->sampling_unknown, 1);
    cr_expect_eq(c->exp->counters.sampling_unknown, 1);

    fs_flow_init(&f);
    f.packets = 3;
    f.bytes = UINT64_MAX / 2;
    fs_flow_apply_sampling(c, &f, 4);
    cr_expect_eq(f.packets, 12);
    cr_expect_eq(f.bytes, UINT64_MAX, "saturates");
    cr_expect_eq(f.sampling_rate, 4);
    cr_expect(FS_FLOW_HAS(&f, FS_F_SAMPLING));
    cr_expect_eq(f.flags, 0);
}

Test(exporter, sampler_table_bounded)
{
    struct fs_decode_ctx *c = ctx_for("192.0.2.1", 1);
    struct fs_domain *dom = fs_ctx_domain(c, 0, 10);
    uint32_t i;

    for (i = 1; i <= FS_SAMPLERS_MAX + 1; i++)
        fs_sampling_set(dom, true, i, 100 + i);
    cr_expect_eq(dom->sampling.nsamplers, FS_SAMPLERS_MAX);
    cr_expect_eq(fs_sampling_rate(c, dom, true, 1, 0), 0, "the oldest was forgotten");
    cr_expect_eq(fs_sampling_rate(c, dom, true, 2, 0), 102);
    cr_expect_eq(fs_sampling_rate(c, dom, true, FS_SAMPLERS_MAX + 1, 0),
                 100 + FS_SAMPLERS_MAX + 1);
}

Test(exporter, uptime_to_ms)
{
    uint64_t x = 1700000000000ull;

    cr_expect_eq(fs_uptime_to_ms(x, 10000, 4000), x - 6000);
    cr_expect_eq(fs_uptime_to_ms(x, 10000, 10000), x);
    cr_expect_eq(fs_uptime_to_ms(x, 10000, 10300), x + 300, "stamped after the header");
    /* Uptime wrapped 1 s ago; the flow is from 2 s before the wrap. */
    cr_expect_eq(fs_uptime_to_ms(x, 1000, 0xffffffffu - 1999), x - 3000);
    /* A flow "after" the header across the wrap. */
    cr_expect_eq(fs_uptime_to_ms(x, 0xffffff00u, 0x100), x + 0x200);
    cr_expect_eq(fs_uptime_to_ms(1000, 100000, 0), 0, "never before the epoch");
}

Test(exporter, clock_clamp_variants)
{
    struct fs_decoder_config cfg = {.clock_clamp_ms = 1000};
    struct fs_decode_ctx *c;
    struct fs_flow f;
    uint64_t now = 1700000000000ull;

    start(&cfg);
    c = ctx_for("192.0.2.1", now);

    /* Ahead of the receive time: pulled back, duration kept. */
    fs_flow_init(&f);
    FS_FLOW_SET(&f, FS_F_START);
    FS_FLOW_SET(&f, FS_F_END);
    f.start_ms = now + 50000;
    f.end_ms = now + 60000;
    fs_flow_check_clock(c, &f);
    cr_expect_eq(f.end_ms, now);
    cr_expect_eq(f.start_ms, now - 10000);
    cr_expect(f.flags & FS_FLOW_TIME_CLAMPED);

    /* Start after end: the duration is not sane, both become now. */
    fs_flow_init(&f);
    FS_FLOW_SET(&f, FS_F_START);
    FS_FLOW_SET(&f, FS_F_END);
    f.start_ms = 90000;
    f.end_ms = 80000;
    fs_flow_check_clock(c, &f);
    cr_expect_eq(f.start_ms, now);
    cr_expect_eq(f.end_ms, now);

    /* Only a start. */
    fs_flow_init(&f);
    FS_FLOW_SET(&f, FS_F_START);
    f.start_ms = 5;
    fs_flow_check_clock(c, &f);
    cr_expect_eq(f.start_ms, now);
    cr_expect_not(FS_FLOW_HAS(&f, FS_F_END));

    /* A long flow that ended just now is left alone. */
    fs_flow_init(&f);
    FS_FLOW_SET(&f, FS_F_START);
    FS_FLOW_SET(&f, FS_F_END);
    f.start_ms = now - 1800000;
    f.end_ms = now - 500;
    fs_flow_check_clock(c, &f);
    cr_expect_eq(f.start_ms, now - 1800000);
    cr_expect_eq(f.flags, 0);

    /* No times at all: nothing to judge. */
    fs_flow_init(&f);
    fs_flow_check_clock(c, &f);
    cr_expect_eq(f.flags, 0);
    cr_expect_eq(fs_decoder_totals(dec)->time_clamped, 3);
}

Test(exporter, flows_batched_to_sink)
{
    struct fs_decode_ctx *c = ctx_for("192.0.2.1", 1);
    int i;

    c->sink = nfv5_sink_fn;
    c->sink_arg = &sink;
    c->nflows = c->nbatch = 0;
    for (i = 0; i < FS_CTX_BATCH + 3; i++) {
        struct fs_flow *f = fs_ctx_flow(c);

        cr_assert_eq(f->present, 0);
        f->src_port = (uint16_t)i;
        fs_ctx_commit(c);
    }
    cr_expect_eq(sink.calls, 1, "one full batch so far");
    cr_expect_eq(sink.n, FS_CTX_BATCH);
    /* A slot taken but not committed is not delivered. */
    fs_ctx_flow(c)->src_port = 9999;
    fs_ctx_flush(c);
    cr_expect_eq(sink.calls, 2);
    cr_assert_eq(sink.n, FS_CTX_BATCH + 3);
    for (i = 0; i < FS_CTX_BATCH + 3; i++)
        cr_assert_eq(sink.flows[i].src_port, i);
    cr_expect_eq(c->nflows, FS_CTX_BATCH + 3);
    cr_expect_eq(fs_decoder_totals(dec)->flows, FS_CTX_BATCH + 3);
}

/* A v9 datagram (RFC 3954) with one data flowset for template 300, which
 * nobody announced: the set waits for its template. */
static int send_v9_orphan(const char *who, uint64_t now)
{
    static const uint8_t dg[] = {
        0, 9, 0, 1,             /* version 9, count 1 */
        0, 0, 0x27, 0x10,       /* sysUptime 10000 */
        0x65, 0x53, 0xf1, 0x00, /* unix_secs 1700000000 */
        0, 0, 0, 1,             /* sequence 1 */
        0, 0, 0, 0,             /* source id 0 */
        0x01, 0x2c, 0, 12,      /* flowset 300, 12 bytes */
        1, 2, 3, 4, 5, 6, 7, 8,
    };
    fs_ip ip = nfv5_ip(who);

    return fs_decode(dec, &ip, now, dg, sizeof(dg), nfv5_sink_fn, &sink);
}

Test(exporter, expire_moves_pending_to_expired)
{
    const struct fs_counters *t = fs_decoder_totals(dec);
    struct seen s;

    send_v9_orphan("192.0.2.1", 1000);
    send_v9_orphan("192.0.2.2", 30000);
    cr_assert_eq(t->pending_sets, 2);
    /* The default timeout is 60 s: only the first has waited that long. */
    fs_decoder_expire(dec, 61001);
    cr_expect_eq(t->pending_sets, 1);
    cr_expect_eq(t->pending_expired, 1);
    cr_expect_eq(counters_of(&s, "192.0.2.1")->pending_sets, 0);
    cr_expect_eq(counters_of(&s, "192.0.2.1")->pending_expired, 1);
    cr_expect_eq(counters_of(&s, "192.0.2.2")->pending_sets, 1);
    cr_expect_eq(counters_of(&s, "192.0.2.2")->pending_expired, 0);
}

Test(exporter, eviction_expires_pending)
{
    struct fs_decoder_config cfg = {.max_exporters = 1};
    const struct fs_counters *t;

    start(&cfg);
    t = fs_decoder_totals(dec);
    send_v9_orphan("192.0.2.1", 1000);
    cr_assert_eq(t->pending_sets, 1);
    send_v5("192.0.2.2", 2000, 1, 0);
    cr_expect_eq(t->exporters_evicted, 1);
    cr_expect_eq(t->pending_sets, 0);
    cr_expect_eq(t->pending_expired, 1);
}
