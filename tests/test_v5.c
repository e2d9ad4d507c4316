/*
 * test_v5.c - NetFlow v1/v5/v7 decoding through fs_decode(): fields, times,
 * damaged datagrams, sequence tracking, sampling and clock clamping, and one
 * real v5 capture checked against Wireshark's decoder.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "decode.h"
#include "nfv5build.h"

/* 2023-11-14 22:13:20.250 UTC, the export time of most datagrams below. */
#define SECS 1700000000u
#define NSECS 250000000u
#define EXPORT_MS 1700000000250ull

static struct fs_decoder *dec;
static struct nfv5_sink sink;
static struct nfv5_buf dg;
static fs_ip exp_a;

static void setup(void)
{
    struct fs_decoder_config cfg = {0};

    dec = fs_decoder_new(&cfg);
    cr_assert_not_null(dec);
    memset(&sink, 0, sizeof(sink));
    exp_a = nfv5_ip("192.0.2.1");
}

static void teardown(void)
{
    fs_decoder_free(dec);
}

static int decode(void)
{
    return fs_decode(dec, &exp_a, EXPORT_MS, dg.b, dg.len, nfv5_sink_fn, &sink);
}

static const struct nfv5_rec rec_a = {
    .src = "192.0.2.10", .dst = "198.51.100.20", .next_hop = "203.0.113.1",
    .in_if = 3, .out_if = 65535, .packets = 10, .bytes = 1500,
    .first = 3590000, .last = 3599500, .src_port = 1234, .dst_port = 443,
    .tcp_flags = 0x1b, .proto = 6, .tos = 0x28,
    .src_as = 64500, .dst_as = 65535, .src_mask = 24, .dst_mask = 16,
    .router_sc = "192.0.2.254",
};

static void expect_ip(const fs_ip *ip, const char *text)
{
    char buf[FS_IP_STRLEN];

    cr_expect_eq(ip->af, 4);
    cr_expect_str_eq(fs_ip_format(ip, buf), text);
}

/* Fields every version carries, as rec_a has them. */
static void expect_common(const struct fs_flow *f)
{
    expect_ip(&f->exporter, "192.0.2.1");
    expect_ip(&f->src_addr, "192.0.2.10");
    expect_ip(&f->dst_addr, "198.51.100.20");
    expect_ip(&f->next_hop, "203.0.113.1");
    cr_expect_eq(f->in_if, 3);
    cr_expect_eq(f->out_if, 65535);
    cr_expect_eq(f->src_port, 1234);
    cr_expect_eq(f->dst_port, 443);
    cr_expect_eq(f->tcp_flags, 0x1b);
    cr_expect_eq(f->proto, 6);
    cr_expect_eq(f->tos, 0x28);
    /* uptime 1 h at export: first is 10 s before, last 0.5 s before. */
    cr_expect_eq(f->start_ms, EXPORT_MS - 10000);
    cr_expect_eq(f->end_ms, EXPORT_MS - 500);
    cr_expect(FS_FLOW_HAS(f, FS_F_SRC_ADDR) && FS_FLOW_HAS(f, FS_F_DST_ADDR) &&
              FS_FLOW_HAS(f, FS_F_NEXT_HOP) && FS_FLOW_HAS(f, FS_F_IN_IF) &&
              FS_FLOW_HAS(f, FS_F_OUT_IF) && FS_FLOW_HAS(f, FS_F_PACKETS) &&
              FS_FLOW_HAS(f, FS_F_BYTES) && FS_FLOW_HAS(f, FS_F_START) &&
              FS_FLOW_HAS(f, FS_F_END) && FS_FLOW_HAS(f, FS_F_SRC_PORT) &&
              FS_FLOW_HAS(f, FS_F_DST_PORT) && FS_FLOW_HAS(f, FS_F_PROTO) &&
              FS_FLOW_HAS(f, FS_F_TOS) && FS_FLOW_HAS(f, FS_F_TCP_FLAGS));
    cr_expect_not(FS_FLOW_HAS(f, FS_F_BGP_NEXT_HOP));
    cr_expect_not(FS_FLOW_HAS(f, FS_F_SRC_VLAN));
    cr_expect_not(FS_FLOW_HAS(f, FS_F_MPLS));
}

TestSuite(v5, .init = setup, .fini = teardown);

Test(v5, fields_and_times)
{
    struct nfv5_hdr h = {.version = 5, .count = 2, .uptime = 3600000, .secs = SECS,
                         .nsecs = NSECS, .seq = 1, .engine_type = 1, .engine_id = 2};
    struct nfv5_rec b = rec_a;

    b.src_port = 53;
    b.proto = 17;
    nfv5_header(&dg, &h);
    nfv5_record(&dg, &rec_a);
    nfv5_record(&dg, &b);
    cr_assert_eq(decode(), 2);
    cr_assert_eq(sink.n, 2);
    const struct fs_flow *f = &sink.flows[0];
    expect_common(f);
    cr_expect_eq(f->version, 5);
    cr_expect_eq(f->domain, 0x0102);
    cr_expect_eq(f->packets, 10);
    cr_expect_eq(f->bytes, 1500);
    cr_expect_eq(f->src_as, 64500);
    cr_expect_eq(f->dst_as, 65535);
    cr_expect_eq(f->src_mask, 24);
    cr_expect_eq(f->dst_mask, 16);
    cr_expect(FS_FLOW_HAS(f, FS_F_SRC_AS) && FS_FLOW_HAS(f, FS_F_DST_MASK));
    /* Sampling interval 0 says "unsampled". */
    cr_expect(FS_FLOW_HAS(f, FS_F_SAMPLING));
    cr_expect_eq(f->sampling_rate, 1);
    cr_expect_eq(f->flags, 0);
    cr_expect_eq(sink.flows[1].src_port, 53);
    cr_expect_eq(sink.flows[1].proto, 17);

    const struct fs_counters *t = fs_decoder_totals(dec);
    cr_expect_eq(t->datagrams, 1);
    cr_expect_eq(t->bytes, 24 + 2 * 48);
    cr_expect_eq(t->flows, 2);
    cr_expect_eq(fs_counters_errors(t), 0);
}

Test(v5, uptime_wrap_and_future_stamp)
{
    /* The uptime wrapped 5 s ago; the flow started 4096 ms before the wrap
     * and its last packet is stamped 200 ms after the header. */
    struct nfv5_hdr h = {.version = 5, .count = 1, .uptime = 5000, .secs = SECS,
                         .nsecs = NSECS};
    struct nfv5_rec r = rec_a;

    r.first = 0xfffff000u;
    r.last = 5200;
    nfv5_header(&dg, &h);
    nfv5_record(&dg, &r);
    cr_assert_eq(decode(), 1);
    cr_expect_eq(sink.flows[0].start_ms, EXPORT_MS - 5000 - 4096);
    cr_expect_eq(sink.flows[0].end_ms, EXPORT_MS + 200);
}

Test(v5, version1)
{
    struct nfv5_hdr h = {.version = 1, .count = 1, .uptime = 3600000, .secs = SECS,
                         .nsecs = NSECS};

    nfv5_header(&dg, &h);
    nfv5_record(&dg, &rec_a);
    cr_assert_eq(dg.len, 16 + 48);
    cr_assert_eq(decode(), 1);
    const struct fs_flow *f = &sink.flows[0];
    expect_common(f);
    cr_expect_eq(f->version, 1);
    cr_expect_eq(f->domain, 0);
    /* v1 has no AS numbers or masks. */
    cr_expect_not(FS_FLOW_HAS(f, FS_F_SRC_AS));
    cr_expect_not(FS_FLOW_HAS(f, FS_F_DST_AS));
    cr_expect_not(FS_FLOW_HAS(f, FS_F_SRC_MASK));
    cr_expect_not(FS_FLOW_HAS(f, FS_F_DST_MASK));
    cr_expect_eq(f->sampling_rate, 1);
}

Test(v5, version7)
{
    struct nfv5_hdr h = {.version = 7, .count = 2, .uptime = 3600000, .secs = SECS,
                         .nsecs = NSECS, .seq = 100};
    struct nfv5_rec b = rec_a;

    b.src = "192.0.2.77";
    b.dst_port = 8080;
    nfv5_header(&dg, &h);
    nfv5_record(&dg, &rec_a);
    nfv5_record(&dg, &b);
    cr_assert_eq(dg.len, 24 + 2 * 52);
    cr_assert_eq(decode(), 2);
    expect_common(&sink.flows[0]);
    cr_expect_eq(sink.flows[0].version, 7);
    cr_expect_eq(sink.flows[0].domain, 0);
    cr_expect_eq(sink.flows[0].src_as, 64500);
    cr_expect_eq(sink.flows[0].dst_mask, 16);
    /* The second record starts 52 bytes after the first. */
    expect_ip(&sink.flows[1].src_addr, "192.0.2.77");
    cr_expect_eq(sink.flows[1].dst_port, 8080);
    cr_expect_eq(sink.flows[1].packets, 10);
}

Test(v5, count_beyond_datagram)
{
    struct nfv5_hdr h = {.version = 5, .count = 5, .uptime = 3600000, .secs = SECS};
    struct nfv5_rec b = rec_a;

    nfv5_header(&dg, &h);
    nfv5_record(&dg, &rec_a);
    nfv5_record(&dg, &rec_a);
    b.src_port = 999;
    nfv5_record(&dg, &b);
    dg.len += 20; /* a partial fourth record */
    cr_expect_eq(decode(), -1);
    cr_assert_eq(sink.n, 3, "complete records are still delivered");
    cr_expect_eq(sink.flows[2].src_port, 999);
    const struct fs_counters *t = fs_decoder_totals(dec);
    cr_expect_eq(t->errors[FS_ERR_BAD_COUNT], 1);
    cr_expect_eq(fs_counters_errors(t), 1);
    cr_expect_eq(t->flows, 3);
}

Test(v5, count_above_thirty)
{
    struct nfv5_hdr h = {.version = 5, .count = 31, .uptime = 3600000, .secs = SECS};
    int i;

    nfv5_header(&dg, &h);
    for (i = 0; i < 31; i++)
        nfv5_record(&dg, &rec_a);
    cr_expect_eq(decode(), -1);
    cr_expect_eq(sink.n, 31);
    cr_expect_eq(fs_decoder_totals(dec)->errors[FS_ERR_BAD_COUNT], 1);
}

Test(v5, short_header)
{
    struct nfv5_hdr h = {.version = 5, .count = 1};

    nfv5_header(&dg, &h);
    dg.len = 23;
    cr_expect_eq(decode(), -1);
    dg.len = 1;
    cr_expect_eq(decode(), -1);
    h.version = 1;
    nfv5_header(&dg, &h);
    dg.len = 15;
    cr_expect_eq(decode(), -1);
    cr_expect_eq(sink.n, 0);
    cr_expect_eq(fs_decoder_totals(dec)->errors[FS_ERR_SHORT_HEADER], 3);
    cr_expect_eq(fs_decoder_totals(dec)->datagrams, 3);
}

Test(v5, header_only_is_fine)
{
    struct nfv5_hdr h = {.version = 5, .count = 0};

    nfv5_header(&dg, &h);
    cr_expect_eq(decode(), 0);
    cr_expect_eq(fs_counters_errors(fs_decoder_totals(dec)), 0);
}

Test(v5, unknown_version)
{
    static const uint8_t v6[] = {0, 6, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t v0[] = {0, 0};

    cr_expect_eq(fs_decode(dec, &exp_a, 0, v6, sizeof(v6), nfv5_sink_fn, &sink), -1);
    cr_expect_eq(fs_decode(dec, &exp_a, 0, v0, sizeof(v0), nfv5_sink_fn, &sink), -1);
    cr_expect_eq(fs_decoder_totals(dec)->errors[FS_ERR_BAD_VERSION], 2);
    cr_expect_eq(fs_decoder_totals(dec)->bytes, sizeof(v6) + sizeof(v0));
    cr_expect_eq(sink.n, 0);
}

/* One v5 datagram of `n` records with sequence `seq` from engine 0/`engine`. */
static int send_seq(uint32_t seq, int n, uint8_t engine)
{
    struct nfv5_hdr h = {.version = 5, .count = (uint16_t)n, .uptime = 3600000, .secs = SECS,
                         .seq = seq, .engine_id = engine};
    int i;

    nfv5_header(&dg, &h);
    for (i = 0; i < n; i++)
        nfv5_record(&dg, &rec_a);
    return decode();
}

Test(v5, sequence_loss_reorder_reset)
{
    const struct fs_counters *t = fs_decoder_totals(dec);

    send_seq(1000, 2, 0);
    send_seq(1002, 3, 0);
    cr_expect_eq(t->seq_lost, 0);
    send_seq(1010, 2, 0); /* 1005..1009 missing */
    cr_expect_eq(t->seq_lost, 5);
    send_seq(1005, 2, 0); /* two of them arrive late */
    cr_expect_eq(t->seq_reordered, 1);
    cr_expect_eq(t->seq_lost, 3);
    send_seq(1012, 1, 0); /* in order again after the late one */
    cr_expect_eq(t->seq_lost, 3);
    send_seq(3000000, 1, 0); /* far ahead: the exporter restarted */
    cr_expect_eq(t->seq_resets, 1);
    cr_expect_eq(t->seq_lost, 3);
    send_seq(3000001, 1, 0);
    send_seq(7, 1, 0); /* far behind: restarted again */
    cr_expect_eq(t->seq_resets, 2);
    cr_expect_eq(t->seq_reordered, 1);
    cr_expect_eq(t->seq_lost, 3);
}

Test(v5, sequence_wraps_at_2_32)
{
    const struct fs_counters *t = fs_decoder_totals(dec);

    send_seq(0xfffffffcu, 4, 0); /* next expected: 0 */
    send_seq(0, 4, 0);
    cr_expect_eq(t->seq_lost, 0);
    cr_expect_eq(t->seq_resets, 0);
    send_seq(0xfffffffeu, 4, 0); /* a late one from before the wrap */
    cr_expect_eq(t->seq_reordered, 1);
    send_seq(0xfffffffeu + 10u, 1, 0); /* 8 after the wrap; expected 4 */
    cr_expect_eq(t->seq_lost, 4);
    cr_expect_eq(t->seq_resets, 0);
}

Test(v5, sequence_per_engine)
{
    const struct fs_counters *t = fs_decoder_totals(dec);

    send_seq(100, 2, 1);
    send_seq(900000, 2, 2);
    send_seq(102, 2, 1);
    send_seq(900002, 2, 2);
    cr_expect_eq(t->seq_lost, 0);
    cr_expect_eq(t->seq_resets, 0);
    cr_expect_eq(t->seq_reordered, 0);
}

static const struct fs_flow *one_flow(uint16_t version, uint16_t sampling)
{
    struct nfv5_hdr h = {.version = version, .count = 1, .uptime = 3600000, .secs = SECS,
                         .nsecs = NSECS, .sampling = sampling};

    nfv5_header(&dg, &h);
    nfv5_record(&dg, &rec_a);
    sink.n = 0;
    cr_assert_eq(decode(), 1);
    return &sink.flows[0];
}

Test(v5, sampling_interval_scales)
{
    /* Mode 1 (deterministic), interval 100. */
    const struct fs_flow *f = one_flow(5, 1 << 14 | 100);

    cr_expect_eq(f->sampling_rate, 100);
    cr_expect(FS_FLOW_HAS(f, FS_F_SAMPLING));
    cr_expect_eq(f->packets, 1000);
    cr_expect_eq(f->bytes, 150000);
    cr_expect_eq(f->flags & FS_FLOW_SAMPLING_UNKNOWN, 0);
    cr_expect_eq(fs_decoder_totals(dec)->sampling_unknown, 0);
}

Test(v5, sampling_configuration)
{
    /* A default for the exporter loses to what v5 says, interval 0 included... */
    cr_assert_eq(fs_decoder_set_sampling(dec, &exp_a, 50, false), 0);
    cr_expect_eq(one_flow(5, 0)->sampling_rate, 1);
    cr_expect_eq(one_flow(5, 100)->sampling_rate, 100);
    /* ...but applies to v1 and v7, which cannot say. */
    cr_expect_eq(one_flow(7, 0)->sampling_rate, 50);
    cr_expect_eq(one_flow(1, 0)->packets, 500);
    /* An override beats the header. */
    cr_assert_eq(fs_decoder_set_sampling(dec, &exp_a, 1000, true), 0);
    const struct fs_flow *f = one_flow(5, 100);
    cr_expect_eq(f->sampling_rate, 1000);
    cr_expect_eq(f->bytes, 1500000);
    cr_expect_eq(fs_decoder_set_sampling(dec, &exp_a, 0, true), -1);
}

Test(v5, sampling_decoder_default)
{
    struct fs_decoder_config cfg = {.default_sampling = 10};

    fs_decoder_free(dec);
    dec = fs_decoder_new(&cfg);
    cr_expect_eq(one_flow(7, 0)->sampling_rate, 10);
    cr_expect_eq(one_flow(1, 0)->bytes, 15000);
    cr_expect_eq(one_flow(5, 0)->sampling_rate, 1);
}

Test(v5, clock_clamp)
{
    struct fs_decoder_config cfg = {.clock_clamp_ms = 60000};
    struct nfv5_hdr h = {.version = 5, .count = 1, .uptime = 3600000, .secs = SECS,
                         .nsecs = NSECS};
    uint64_t now = EXPORT_MS + 2 * 86400000ull; /* exporter clock two days behind */

    fs_decoder_free(dec);
    dec = fs_decoder_new(&cfg);
    nfv5_header(&dg, &h);
    nfv5_record(&dg, &rec_a);
    cr_assert_eq(fs_decode(dec, &exp_a, now, dg.b, dg.len, nfv5_sink_fn, &sink), 1);
    const struct fs_flow *f = &sink.flows[0];
    cr_expect_eq(f->end_ms, now);
    cr_expect_eq(f->start_ms, now - 9500, "the 9.5 s duration is kept");
    cr_expect(f->flags & FS_FLOW_TIME_CLAMPED);
    cr_expect_eq(fs_decoder_totals(dec)->time_clamped, 1);

    /* 59 s off is within the clamp. */
    sink.n = 0;
    cr_assert_eq(fs_decode(dec, &exp_a, EXPORT_MS - 500 + 59000, dg.b, dg.len,
                           nfv5_sink_fn, &sink), 1);
    cr_expect_eq(sink.flows[0].end_ms, EXPORT_MS - 500);
    cr_expect_eq(sink.flows[0].flags & FS_FLOW_TIME_CLAMPED, 0);
    cr_expect_eq(fs_decoder_totals(dec)->time_clamped, 1);
}

Test(v5, clock_clamp_off_by_default)
{
    struct nfv5_hdr h = {.version = 5, .count = 1, .uptime = 3600000, .secs = SECS,
                         .nsecs = NSECS};

    nfv5_header(&dg, &h);
    nfv5_record(&dg, &rec_a);
    cr_assert_eq(fs_decode(dec, &exp_a, 1, dg.b, dg.len, nfv5_sink_fn, &sink), 1);
    cr_expect_eq(sink.flows[0].end_ms, EXPORT_MS - 500);
    cr_expect_eq(fs_decoder_totals(dec)->time_clamped, 0);
}

Test(v5, many_records_batched)
{
    /* More flows than one batch: 12 full datagrams, all delivered in order. */
    struct nfv5_hdr h = {.version = 5, .count = 30, .uptime = 3600000, .secs = SECS};
    struct nfv5_rec r = rec_a;
    int d, i, total = 0;

    for (d = 0; d < 12; d++) {
        h.seq = (uint32_t)(d * 30);
        nfv5_header(&dg, &h);
        for (i = 0; i < 30; i++) {
            r.src_port = (uint16_t)(d * 30 + i);
            nfv5_record(&dg, &r);
        }
        total += decode();
    }
    cr_expect_eq(total, 360);
    cr_assert_eq(sink.n, 360);
    for (i = 0; i < 360; i++)
        cr_assert_eq(sink.flows[i].src_port, i);
    cr_expect_eq(fs_decoder_totals(dec)->seq_lost, 0);
}

/*
 * The akvorado nfv5.pcap capture: one Ethernet/IPv4/UDP frame (udp 40000 ->
 * 9990) whose 1416-byte payload is a v5 datagram of 29 records. Expected
 * values from `tshark -r nfv5.pcap -d udp.port==9990,cflow -V`.
 */
Test(v5, akvorado_capture)
{
    static uint8_t file[4096];
    const char *path = FS_CAPTURES "/akvorado/netflow/nfv5.pcap";
    /* pcap header 24 + record header 16 + Ethernet 14 + IPv4 20 + UDP 8 */
    const size_t off = 24 + 16 + 14 + 20 + 8;
    FILE *fp = fopen(path, "rb");
    size_t n;

    cr_assert_not_null(fp, "%s", path);
    n = fread(file, 1, sizeof(file), fp);
    fclose(fp);
    cr_assert_eq(n, 1498);
    cr_assert_eq(file[24 + 16 + 12], 0x08); /* EtherType IPv4 */
    cr_assert_eq(file[24 + 16 + 14], 0x45); /* IPv4, 20-byte header */
    cr_assert_eq(file[24 + 16 + 14 + 9], 17); /* UDP */
    cr_assert_eq(n - off, 1416);

    uint64_t export_ms = 1680626679000ull; /* CurrentSecs 1680626679, nsecs 0 */
    cr_assert_eq(fs_decode(dec, &exp_a, export_ms, file + off, n - off, nfv5_sink_fn, &sink), 29);
    cr_assert_eq(sink.n, 29);

    const struct fs_flow *f = &sink.flows[0];
    cr_expect_eq(f->version, 5);
    cr_expect_eq(f->domain, 3); /* engine type 0 (RP), engine id 3 */
    expect_ip(&f->src_addr, "161.202.212.212");
    expect_ip(&f->dst_addr, "202.152.70.24");
    expect_ip(&f->next_hop, "61.6.255.150");
    cr_expect_eq(f->in_if, 117);
    cr_expect_eq(f->out_if, 86);
    cr_expect_eq(f->packets, 1);
    cr_expect_eq(f->bytes, 133);
    cr_expect_eq(f->src_port, 30104);
    cr_expect_eq(f->dst_port, 11963);
    cr_expect_eq(f->tcp_flags, 0x18);
    cr_expect_eq(f->proto, 6);
    cr_expect_eq(f->tos, 0);
    cr_expect_eq(f->src_as, 36351);
    cr_expect_eq(f->dst_as, 10101);
    cr_expect_eq(f->src_mask, 19);
    cr_expect_eq(f->dst_mask, 24);
    /* SysUptime 2874339 s, StartTime = EndTime = 2874324 s: 15 s before export. */
    cr_expect_eq(f->start_ms, export_ms - 15000);
    cr_expect_eq(f->end_ms, export_ms - 15000);
    cr_expect_eq(f->sampling_rate, 1); /* SamplingMode 0, SampleRate 0 */

    f = &sink.flows[7];
    expect_ip(&f->src_addr, "207.148.102.102");
    cr_expect_eq(f->packets, 22);
    cr_expect_eq(f->bytes, 24333);
    cr_expect_eq(f->start_ms, export_ms - (2874339 - 2874279) * 1000ull);
    cr_expect_eq(f->end_ms, export_ms - (2874339 - 2874338) * 1000ull);

    f = &sink.flows[28];
    expect_ip(&f->src_addr, "157.240.211.205");
    expect_ip(&f->dst_addr, "202.93.210.203");
    cr_expect_eq(f->in_if, 118);
    cr_expect_eq(f->out_if, 86);
    cr_expect_eq(f->packets, 6);
    cr_expect_eq(f->bytes, 7462);
    cr_expect_eq(f->src_port, 443);
    cr_expect_eq(f->dst_port, 53369);
    cr_expect_eq(f->src_as, 32934);
    cr_expect_eq(f->dst_as, 0);
    cr_expect_eq(f->dst_mask, 26);
    cr_expect_eq(f->end_ms - f->start_ms, 22000); /* Duration: 22 s */

    uint64_t packets = 0, bytes = 0;
    for (n = 0; n < sink.n; n++) {
        packets += sink.flows[n].packets;
        bytes += sink.flows[n].bytes;
    }
    /* Sums of tshark's Packets and Octets columns over the 29 records. */
    cr_expect_eq(packets, 78);
    cr_expect_eq(bytes, 88345);
    cr_expect_eq(fs_counters_errors(fs_decoder_totals(dec)), 0);
}
