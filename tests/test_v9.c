/*
 * test_v9.c - NetFlow v9 decoding (RFC 3954): field mapping, times from
 * sysUpTime, options templates carrying sampling, sequence numbers, padding,
 * malformed flowsets, and a real capture checked against tshark.
 */
#include <criterion/criterion.h>

#include "tplwire.h"

#define NOW_MS UINT64_C(1700000000000)
#define SECS 1700000000u
#define UPTIME 100000u

TW_SUITE(v9);

/* Starts a datagram of source id 0 announcing `count` records, and opens
 * its template flowset. */
static void template_flowset(uint16_t count)
{
    tw_v9(w, count, UPTIME, SECS, 1, 0);
    tw_set(w, 0);
}

/* Template 256: the fields of a typical router template (47 bytes a record). */
static void basic_template(uint16_t id)
{
    static const uint16_t f[][2] = {
        { 8, 4 }, { 12, 4 }, { 7, 2 }, { 11, 2 }, { 4, 1 }, { 5, 1 }, { 6, 1 }, { 2, 4 },
        { 1, 4 }, { 10, 2 }, { 14, 2 }, { 22, 4 }, { 21, 4 }, { 16, 2 }, { 17, 4 },
        { 9, 1 }, { 13, 1 }, { 15, 4 },
    };

    tw_set(w, 0);
    tw_template(w, id, sizeof(f) / sizeof(f[0]), f);
}

static void basic_record(const char *src, const char *dst, uint32_t packets, uint32_t bytes)
{
    tw_ip(w, src);
    tw_ip(w, dst);
    tw_u16(w, 443);
    tw_u16(w, 51000);
    tw_u8(w, 6);
    tw_u8(w, 0x28);
    tw_u8(w, 0x1b);
    tw_u32(w, packets);
    tw_u32(w, bytes);
    tw_u16(w, 3);
    tw_u16(w, 7);
    tw_u32(w, 90000);  /* first switched, sysUpTime ms */
    tw_u32(w, 99000);  /* last switched */
    tw_u16(w, 64500);
    tw_u32(w, 4200000000u);
    tw_u8(w, 24);
    tw_u8(w, 16);
    tw_ip(w, "192.0.2.254");
}

static int decode(void)
{
    return tw_decode(dec, w, NOW_MS, sink);
}

Test(v9, template_then_data_maps_every_field)
{
    char a[FS_IP_STRLEN];

    tw_v9(w, 2, UPTIME, SECS, 1, 7);
    basic_template(256);
    tw_set(w, 256);
    basic_record("10.0.0.1", "198.51.100.2", 12, 9000);
    tw_end(w);
    cr_assert_eq(decode(), 1);
    cr_assert_eq(sink->n, 1);
    const struct fs_flow *f = &sink->flows[0];
    cr_expect_eq(f->version, 9);
    cr_expect_eq(f->domain, 7);
    cr_expect_str_eq(fs_ip_format(&f->exporter, a), "192.0.2.1");
    cr_expect_str_eq(fs_ip_format(&f->src_addr, a), "10.0.0.1");
    cr_expect_str_eq(fs_ip_format(&f->dst_addr, a), "198.51.100.2");
    cr_expect_str_eq(fs_ip_format(&f->next_hop, a), "192.0.2.254");
    cr_expect_eq(f->src_port, 443);
    cr_expect_eq(f->dst_port, 51000);
    cr_expect_eq(f->proto, 6);
    cr_expect_eq(f->tos, 0x28);
    cr_expect_eq(f->tcp_flags, 0x1b);
    cr_expect_eq(f->packets, 12);
    cr_expect_eq(f->bytes, 9000);
    cr_expect_eq(f->in_if, 3);
    cr_expect_eq(f->out_if, 7);
    cr_expect_eq(f->src_as, 64500);
    cr_expect_eq(f->dst_as, 4200000000u);
    cr_expect_eq(f->src_mask, 24);
    cr_expect_eq(f->dst_mask, 16);
    /* RFC 3954: switched times are sysUpTime ms; the header pairs sysUpTime
     * (100 s) with unix_secs, so 90 s of uptime is 10 s before the export. */
    cr_expect(FS_FLOW_HAS(f, FS_F_START) && FS_FLOW_HAS(f, FS_F_END));
    cr_expect_eq(f->start_ms, NOW_MS - 10000);
    cr_expect_eq(f->end_ms, NOW_MS - 1000);
    /* No sampling announced and none configured. */
    cr_expect(f->flags & FS_FLOW_SAMPLING_UNKNOWN);
    cr_expect(!FS_FLOW_HAS(f, FS_F_SAMPLER_ID));
    cr_expect(!FS_FLOW_HAS(f, FS_F_MPLS));
    cr_expect(!FS_FLOW_HAS(f, FS_F_SRC_MAC));
    struct fs_counters c = tw_counters(dec);
    cr_expect_eq(c.templates, 1);
    cr_expect_eq(c.flows, 1);
    cr_expect_eq(fs_counters_errors(&c), 0);
}

Test(v9, header_count_is_not_trusted)
{
    tw_v9(w, 55, UPTIME, SECS, 1, 0);
    basic_template(256);
    tw_set(w, 256);
    basic_record("10.0.0.1", "10.0.0.2", 1, 100);
    basic_record("10.0.0.3", "10.0.0.4", 1, 100);
    tw_end(w);
    cr_assert_eq(decode(), 2);
    struct fs_counters c = tw_counters(dec);
    cr_expect_eq(fs_counters_errors(&c), 0);
}

Test(v9, padding_after_records_is_not_an_error)
{
    tw_v9(w, 3, UPTIME, SECS, 1, 0);
    basic_template(256);
    tw_set(w, 256);
    basic_record("10.0.0.1", "10.0.0.2", 1, 100);
    basic_record("10.0.0.3", "10.0.0.4", 1, 100);
    tw_zero(w, 2); /* 94 bytes of records + 4 of header: pad to 100 */
    tw_end(w);
    cr_assert_eq(decode(), 2);
    struct fs_counters c = tw_counters(dec);
    cr_expect_eq(fs_counters_errors(&c), 0);
}

Test(v9, ipv6_flow)
{
    char a[FS_IP_STRLEN];

    template_flowset(2);
    TW_TPL(w, 300, { 27, 16 }, { 28, 16 }, { 62, 16 }, { 63, 16 }, { 29, 1 }, { 30, 1 },
           { 60, 1 }, { 1, 8 }, { 2, 8 });
    tw_set(w, 300);
    tw_ip(w, "2001:db8::1");
    tw_ip(w, "2001:db8:ffff::2");
    tw_ip(w, "fe80::1");
    tw_ip(w, "2001:db8:1::ff");
    tw_u8(w, 48);
    tw_u8(w, 64);
    tw_u8(w, 6);
    tw_u64(w, UINT64_C(5000000000)); /* more than 32 bits */
    tw_u64(w, 4000000);
    tw_end(w);
    cr_assert_eq(decode(), 1);
    const struct fs_flow *f = &sink->flows[0];
    cr_expect_eq(f->src_addr.af, 6);
    cr_expect_str_eq(fs_ip_format(&f->src_addr, a), "2001:db8::1");
    cr_expect_str_eq(fs_ip_format(&f->dst_addr, a), "2001:db8:ffff::2");
    cr_expect_str_eq(fs_ip_format(&f->next_hop, a), "fe80::1");
    cr_expect_str_eq(fs_ip_format(&f->bgp_next_hop, a), "2001:db8:1::ff");
    cr_expect_eq(f->src_mask, 48);
    cr_expect_eq(f->dst_mask, 64);
    cr_expect_eq(f->ip_version, 6);
    cr_expect_eq(f->bytes, UINT64_C(5000000000));
    cr_expect_eq(f->packets, 4000000);
    cr_expect(!FS_FLOW_HAS(f, FS_F_START));
}

/* Layer 2, MPLS, NAT, ICMP and router state fields, with the RFC 7012 /
 * RFC 7270 encodings: MPLS label stack entries are 3 bytes (label << 4 |
 * exp << 1 | bottom-of-stack), icmpTypeCodeIPv4 is type * 256 + code. */
Test(v9, extended_fields)
{
    static const uint8_t smac[6] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55 };
    static const uint8_t dmac[6] = { 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
    char a[FS_IP_STRLEN];

    template_flowset(2);
    TW_TPL(w, 301, { 56, 6 }, { 80, 6 }, { 58, 2 }, { 59, 2 }, { 70, 3 }, { 71, 3 }, { 72, 3 },
           { 61, 1 }, { 89, 1 }, { 32, 2 }, { 225, 4 }, { 226, 4 }, { 227, 2 }, { 228, 2 },
           { 18, 4 }, { 48, 1 }, { 4, 1 });
    tw_set(w, 301);
    tw_bytes(w, smac, 6);
    tw_bytes(w, dmac, 6);
    tw_u16(w, 100);
    tw_u16(w, 200);
    tw_u24(w, 16000u << 4 | 5u << 1);      /* label 16000, exp 5 */
    tw_u24(w, 17000u << 4);                /* label 17000 */
    tw_u24(w, 18000u << 4 | 1u);           /* label 18000, bottom of stack */
    tw_u8(w, 1);                           /* egress */
    tw_u8(w, 0x82);                        /* dropped (2), reason 2 */
    tw_u16(w, 3 * 256 + 1);                /* host unreachable */
    tw_ip(w, "203.0.113.9");
    tw_ip(w, "198.51.100.77");
    tw_u16(w, 40001);
    tw_u16(w, 8443);
    tw_ip(w, "192.0.2.200");
    tw_u8(w, 4);
    tw_u8(w, 1);
    tw_end(w);
    cr_assert_eq(decode(), 1);
    const struct fs_flow *f = &sink->flows[0];
    cr_expect_arr_eq(f->src_mac, smac, 6);
    cr_expect_arr_eq(f->dst_mac, dmac, 6);
    cr_expect_eq(f->src_vlan, 100);
    cr_expect_eq(f->dst_vlan, 200);
    cr_assert(FS_FLOW_HAS(f, FS_F_MPLS));
    cr_assert_eq(f->mpls_count, 3);
    cr_expect_eq(f->mpls[0] >> 4, 16000);
    cr_expect_eq(f->mpls[0] >> 1 & 7, 5);
    cr_expect_eq(f->mpls[1] >> 4, 17000);
    cr_expect_eq(f->mpls[2] >> 4, 18000);
    cr_expect_eq(f->mpls[2] & 1, 1);
    cr_expect_eq(f->direction, 1);
    cr_expect_eq(f->fwd_status, 0x82);
    cr_expect(FS_FLOW_HAS(f, FS_F_ICMP));
    cr_expect_eq(f->icmp_type, 3);
    cr_expect_eq(f->icmp_code, 1);
    cr_expect_str_eq(fs_ip_format(&f->post_src_addr, a), "203.0.113.9");
    cr_expect_str_eq(fs_ip_format(&f->post_dst_addr, a), "198.51.100.77");
    cr_expect_eq(f->post_src_port, 40001);
    cr_expect_eq(f->post_dst_port, 8443);
    cr_expect_str_eq(fs_ip_format(&f->bgp_next_hop, a), "192.0.2.200");
    cr_expect(FS_FLOW_HAS(f, FS_F_SAMPLER_ID));
    cr_expect_eq(f->sampler_id, 4);
    cr_expect_eq(f->proto, 1);
}

/* Positions an exporter leaves zero are not part of the label stack. */
Test(v9, mpls_stack_ignores_unused_positions)
{
    template_flowset(2);
    TW_TPL(w, 302, { 70, 3 }, { 71, 3 }, { 72, 3 });
    tw_set(w, 302);
    tw_u24(w, 24001u << 4);
    tw_u24(w, 0);
    tw_u24(w, 0);
    tw_u24(w, 0); /* v9 padding to 4 bytes */
    tw_end(w);
    cr_assert_eq(decode(), 1);
    cr_expect_eq(sink->flows[0].mpls_count, 1);
    cr_expect_eq(sink->flows[0].mpls[0] >> 4, 24001);
}

/* 85/86 (total counts) are used only without deltas; 252/253 only without
 * 10/14; 81/57 only without 56/80; 243/254 only without 58/59. */
Test(v9, fallback_fields)
{
    static const uint8_t mac1[6] = { 2, 0, 0, 0, 0, 1 }, mac2[6] = { 2, 0, 0, 0, 0, 2 };

    template_flowset(3);
    TW_TPL(w, 303, { 85, 4 }, { 86, 4 }, { 252, 4 }, { 253, 4 }, { 81, 6 }, { 57, 6 },
           { 243, 2 }, { 254, 2 });
    TW_TPL(w, 304, { 1, 4 }, { 85, 4 }, { 23, 4 }, { 86, 4 }, { 24, 4 }, { 10, 2 });
    tw_set(w, 303);
    tw_u32(w, 7777);
    tw_u32(w, 77);
    tw_u32(w, 11);
    tw_u32(w, 12);
    tw_bytes(w, mac1, 6);
    tw_bytes(w, mac2, 6);
    tw_u16(w, 10);
    tw_u16(w, 20);
    tw_set(w, 304);
    tw_u32(w, 1234);    /* octetDeltaCount */
    tw_u32(w, 999999);  /* total: ignored, delta present */
    tw_u32(w, 4321);    /* postOctetDeltaCount: ignored, 1 present */
    tw_u32(w, 888888);  /* packet total: ignored */
    tw_u32(w, 9);       /* postPacketDeltaCount: used, no 2 */
    tw_u16(w, 5);
    tw_end(w);
    cr_assert_eq(decode(), 2);
    const struct fs_flow *f = &sink->flows[0];
    cr_expect_eq(f->bytes, 7777);
    cr_expect_eq(f->packets, 77);
    cr_expect_eq(f->in_if, 11);
    cr_expect_eq(f->out_if, 12);
    cr_expect_arr_eq(f->src_mac, mac1, 6);
    cr_expect_arr_eq(f->dst_mac, mac2, 6);
    cr_expect_eq(f->src_vlan, 10);
    cr_expect_eq(f->dst_vlan, 20);
    f = &sink->flows[1];
    cr_expect_eq(f->bytes, 1234);
    cr_expect_eq(f->packets, 9);
    cr_expect_eq(f->in_if, 5);
    cr_expect(!FS_FLOW_HAS(f, FS_F_OUT_IF));
}

/* Options template: scope System (type 1, RFC 3954 section 6.2), then
 * samplingInterval (34) and samplingAlgorithm (35). */
static void options_sampling_interval(uint16_t id, uint32_t interval)
{
    tw_set(w, 1);
    TW_OPTIONS(w, id, 1, { 1, 4 }, { 34, 4 }, { 35, 1 });
    tw_zero(w, 2); /* pad the flowset to 4 bytes */
    tw_set(w, id);
    tw_u32(w, 0);
    tw_u32(w, interval);
    tw_u8(w, 1);
    tw_zero(w, 3);
}

Test(v9, sampling_interval_from_options_scales_flows)
{
    tw_v9(w, 4, UPTIME, SECS, 1, 0);
    options_sampling_interval(257, 100);
    basic_template(256);
    tw_set(w, 256);
    basic_record("10.0.0.1", "10.0.0.2", 3, 1500);
    tw_end(w);
    cr_assert_eq(decode(), 1);
    const struct fs_flow *f = &sink->flows[0];
    cr_expect(FS_FLOW_HAS(f, FS_F_SAMPLING));
    cr_expect_eq(f->sampling_rate, 100);
    cr_expect_eq(f->packets, 300);
    cr_expect_eq(f->bytes, 150000);
    cr_expect(!(f->flags & FS_FLOW_SAMPLING_UNKNOWN));
    struct fs_counters c = tw_counters(dec);
    cr_expect_eq(c.options_records, 1);
    cr_expect_eq(c.flows, 1);
    cr_expect_eq(c.templates, 2);
    cr_expect_eq(fs_counters_errors(&c), 0);
}

/* Cisco style: one options record per sampler (48 flowSamplerId, 49 mode,
 * 50 random interval), and data records naming their sampler. */
Test(v9, per_sampler_rates)
{
    tw_v9(w, 6, UPTIME, SECS, 1, 0);
    tw_set(w, 1);
    TW_OPTIONS(w, 258, 1, { 1, 4 }, { 48, 1 }, { 49, 1 }, { 50, 4 });
    tw_zero(w, 2);
    tw_set(w, 258);
    tw_u32(w, 0); tw_u8(w, 1); tw_u8(w, 2); tw_u32(w, 10);
    tw_u32(w, 0); tw_u8(w, 2); tw_u8(w, 2); tw_u32(w, 1000);
    tw_set(w, 0);
    TW_TPL(w, 259, { 8, 4 }, { 12, 4 }, { 2, 4 }, { 1, 4 }, { 48, 1 });
    tw_set(w, 259);
    for (uint8_t id = 1; id <= 3; id++) {
        tw_ip(w, "10.1.1.1");
        tw_ip(w, "10.2.2.2");
        tw_u32(w, 2);
        tw_u32(w, 100);
        tw_u8(w, id);
    }
    tw_zero(w, 1);
    tw_end(w);
    cr_assert_eq(decode(), 3);
    cr_expect_eq(sink->flows[0].sampler_id, 1);
    cr_expect_eq(sink->flows[0].sampling_rate, 10);
    cr_expect_eq(sink->flows[0].packets, 20);
    cr_expect_eq(sink->flows[0].bytes, 1000);
    cr_expect_eq(sink->flows[1].sampler_id, 2);
    cr_expect_eq(sink->flows[1].sampling_rate, 1000);
    cr_expect_eq(sink->flows[1].bytes, 100000);
    /* Sampler 3 was never announced: not scaled, and marked so. */
    cr_expect_eq(sink->flows[2].sampler_id, 3);
    cr_expect(sink->flows[2].flags & FS_FLOW_SAMPLING_UNKNOWN);
    cr_expect_eq(sink->flows[2].bytes, 100);
    struct fs_counters c = tw_counters(dec);
    cr_expect_eq(c.options_records, 2);
    cr_expect_eq(c.sampling_unknown, 1);
}

static void empty_datagram(uint32_t seq)
{
    tw_v9(w, 0, UPTIME, SECS, seq, 0);
    tw_end(w);
    cr_assert_eq(decode(), 0);
}

/* v9 sequence numbers count export packets per source id. */
Test(v9, sequence_loss_counts_datagrams)
{
    empty_datagram(100);
    empty_datagram(101);
    empty_datagram(104);
    struct fs_counters c = tw_counters(dec);
    cr_expect_eq(c.seq_lost, 2);
    /* Another source id has its own sequence. */
    tw_v9(w, 0, UPTIME, SECS, 5000, 1);
    tw_end(w);
    decode();
    empty_datagram(105);
    c = tw_counters(dec);
    cr_expect_eq(c.seq_lost, 2);
}

Test(v9, zero_field_template_is_bad)
{
    template_flowset(1);
    tw_template(w, 256, 0, NULL);
    tw_end(w);
    cr_expect_eq(decode(), -1);
    struct fs_counters c = tw_counters(dec);
    cr_expect_eq(c.errors[FS_ERR_BAD_TEMPLATE], 1);
    cr_expect_eq(c.templates, 0);
}

Test(v9, template_overrunning_its_flowset_is_bad)
{
    template_flowset(1);
    tw_u16(w, 256);
    tw_u16(w, 5000); /* 20000 bytes of fields in an 8-byte flowset */
    tw_field(w, 8, 4);
    tw_end(w);
    cr_expect_eq(decode(), -1);
    cr_expect_eq(tw_counters(dec).errors[FS_ERR_BAD_TEMPLATE], 1);
}

Test(v9, template_longer_than_65535_is_bad)
{
    template_flowset(1);
    TW_TPL(w, 256, { 1, 40000 }, { 2, 40000 });
    basic_template(257); /* a good one after it still counts */
    tw_end(w);
    cr_expect_eq(decode(), -1);
    struct fs_counters c = tw_counters(dec);
    cr_expect_eq(c.errors[FS_ERR_BAD_TEMPLATE], 1);
    cr_expect_eq(c.templates, 1);
}

Test(v9, flowset_length_short_or_overrunning)
{
    tw_v9(w, 1, UPTIME, SECS, 1, 0);
    tw_u16(w, 256);
    tw_u16(w, 2); /* shorter than its own header */
    tw_u32(w, 0);
    cr_expect_eq(decode(), -1);
    tw_v9(w, 1, UPTIME, SECS, 2, 0);
    tw_u16(w, 256);
    tw_u16(w, 400); /* past the end */
    tw_u32(w, 0);
    cr_expect_eq(decode(), -1);
    struct fs_counters c = tw_counters(dec);
    cr_expect_eq(c.errors[FS_ERR_SET_LENGTH], 2);
}

Test(v9, reserved_flowset_id_and_short_header)
{
    tw_v9(w, 1, UPTIME, SECS, 1, 0);
    tw_set(w, 7);
    tw_u32(w, 0);
    tw_end(w);
    cr_expect_eq(decode(), -1);
    w->len = 19;
    cr_expect_eq(decode(), -1);
    struct fs_counters c = tw_counters(dec);
    cr_expect_eq(c.errors[FS_ERR_BAD_SET_ID], 1);
    cr_expect_eq(c.errors[FS_ERR_SHORT_HEADER], 1);
}

/* Every prefix of a valid datagram, and every single-byte corruption of it,
 * decodes without crashing (run under ASan in the sanitizer build). */
Test(v9, truncations_and_corruptions_never_crash)
{
    tw_v9(w, 3, UPTIME, SECS, 1, 0);
    options_sampling_interval(257, 100);
    basic_template(256);
    tw_set(w, 256);
    basic_record("10.0.0.1", "10.0.0.2", 3, 1500);
    tw_end(w);
    tw_decode_damaged(dec, w, NOW_MS, sink);
    cr_expect_gt(fs_counters_errors(fs_decoder_totals(dec)), 0);
}

/* Akvorado's captures: the template datagram, then the data datagram, from
 * the same exporter. Expected values read from
 * `tshark -r <template+data merged> -d udp.port==2055,cflow -V`. */
Test(v9, akvorado_template_then_data_matches_tshark)
{
    char a[FS_IP_STRLEN];

    cr_assert_gt(tw_pcap_payload(FS_CAPTURES "/akvorado/netflow/template.pcap", w), 0);
    cr_assert_eq(decode(), 0);
    cr_assert_gt(tw_pcap_payload(FS_CAPTURES "/akvorado/netflow/data.pcap", w), 0);
    cr_assert_eq(decode(), 4);
    const struct fs_flow *f = &sink->flows[0];
    cr_expect_str_eq(fs_ip_format(&f->src_addr, a), "198.38.121.178");
    cr_expect_str_eq(fs_ip_format(&f->dst_addr, a), "91.170.143.87");
    cr_expect_str_eq(fs_ip_format(&f->bgp_next_hop, a), "194.149.174.63");
    cr_expect_eq(f->packets, 1);
    cr_expect_eq(f->bytes, 1500);
    cr_expect_eq(f->in_if, 335);
    cr_expect_eq(f->out_if, 450);
    cr_expect_eq(f->src_port, 443);
    cr_expect_eq(f->dst_port, 19624);
    cr_expect_eq(f->src_mask, 24);
    cr_expect_eq(f->dst_mask, 14);
    cr_expect_eq(f->proto, 6);
    cr_expect_eq(f->tcp_flags, 0x10);
    cr_expect_eq(f->direction, 0);
    cr_expect_eq(f->fwd_status, 0x40); /* Forward (1), code 0 */
    cr_expect_eq(f->sampler_id, 1);
    /* StartTime 944948.659 s of uptime; header 944951.609 s at 1647285928 s. */
    cr_expect_eq(f->start_ms, UINT64_C(1647285928000) - (944951609 - 944948659));
    cr_expect_str_eq(fs_ip_format(&sink->flows[3].src_addr, a), "74.125.100.234");
    cr_expect_eq(sink->flows[2].bytes, 1400);
    cr_expect_eq(sink->flows[3].dst_port, 52300);
    cr_expect_eq(sink->flows[3].start_ms, UINT64_C(1647285928000) - (944951609 - 944948661));
}
