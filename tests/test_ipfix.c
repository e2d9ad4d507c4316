/*
 * test_ipfix.c - IPFIX decoding (RFC 7011/7012): every time form, reduced-size
 * and variable-length fields, enterprise fields, RFC 5103 reverse elements,
 * PSAMP sampling parameters in options records, packet sections, sequence
 * numbers, padding and malformed messages.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tplwire.h"

#define NOW_MS UINT64_C(1700000000000)
#define SECS 1700000000u
#define NTP_OFFSET UINT64_C(2208988800) /* 1900 to 1970 in seconds (RFC 5905) */
#define PEN_REVERSE 29305u              /* RFC 5103 */

TW_SUITE(ipfix);

/* Starts a message of domain 1 and opens its template set. */
static void template_set(void)
{
    tw_ipfix(w, SECS, 0, 1);
    tw_set(w, 2);
}

static int decode(void)
{
    return tw_decode(dec, w, NOW_MS, sink);
}

Test(ipfix, ipv4_flow_with_millisecond_times)
{
    char a[FS_IP_STRLEN];

    tw_ipfix(w, SECS, 0, 42);
    tw_set(w, 2);
    TW_TPL(w, 256, { 8, 4 }, { 12, 4 }, { 7, 2 }, { 11, 2 }, { 4, 1 }, { 6, 2 }, { 1, 8 },
           { 2, 4 }, { 152, 8 }, { 153, 8 }, { 10, 4 }, { 14, 4 }, { 17, 2 });
    tw_set(w, 256);
    tw_ip(w, "192.0.2.10");
    tw_ip(w, "203.0.113.20");
    tw_u16(w, 5353);
    tw_u16(w, 53);
    tw_u8(w, 17);
    tw_u16(w, 0x0112);   /* tcpControlBits, 2 bytes: ECE + SYN|ACK */
    tw_u64(w, 123456789012ull);
    tw_u32(w, 98765);
    tw_u64(w, NOW_MS - 60000);
    tw_u64(w, NOW_MS - 2500);
    tw_u32(w, 1000001);
    tw_u32(w, 2000002);
    tw_u16(w, 65001);    /* 2-byte AS */
    tw_end(w);
    cr_assert_eq(decode(), 1);
    const struct fs_flow *f = &sink->flows[0];
    cr_expect_eq(f->version, 10);
    cr_expect_eq(f->domain, 42);
    cr_expect_str_eq(fs_ip_format(&f->src_addr, a), "192.0.2.10");
    cr_expect_str_eq(fs_ip_format(&f->dst_addr, a), "203.0.113.20");
    cr_expect_eq(f->src_port, 5353);
    cr_expect_eq(f->dst_port, 53);
    cr_expect_eq(f->proto, 17);
    cr_expect_eq(f->tcp_flags, 0x12);
    cr_expect_eq(f->bytes, 123456789012ull);
    cr_expect_eq(f->packets, 98765);
    cr_expect_eq(f->start_ms, NOW_MS - 60000);
    cr_expect_eq(f->end_ms, NOW_MS - 2500);
    cr_expect_eq(f->in_if, 1000001);
    cr_expect_eq(f->out_if, 2000002);
    cr_expect_eq(f->dst_as, 65001);
    cr_expect(!FS_FLOW_HAS(f, FS_F_SRC_AS));
    struct fs_counters c = tw_counters(dec);
    cr_expect_eq(fs_counters_errors(&c), 0);
}

Test(ipfix, ipv6_flow_with_nat_and_icmp)
{
    char a[FS_IP_STRLEN];

    template_set();
    TW_TPL(w, 256, { 27, 16 }, { 28, 16 }, { 281, 16 }, { 282, 16 }, { 139, 2 }, { 62, 16 },
           { 29, 1 }, { 30, 1 });
    TW_TPL(w, 257, { 27, 16 }, { 28, 16 }, { 178, 1 }, { 179, 1 });
    tw_set(w, 256);
    tw_ip(w, "2001:db8::10");
    tw_ip(w, "2001:db8::20");
    tw_ip(w, "2001:db8:aaaa::10");
    tw_ip(w, "2001:db8:bbbb::20");
    tw_u16(w, 128 * 256 + 0); /* echo request */
    tw_ip(w, "fe80::abcd");
    tw_u8(w, 56);
    tw_u8(w, 128);
    tw_set(w, 257);
    tw_ip(w, "2001:db8::30");
    tw_ip(w, "2001:db8::40");
    tw_u8(w, 1);              /* destination unreachable */
    tw_u8(w, 4);              /* port unreachable */
    tw_end(w);
    cr_assert_eq(decode(), 2);
    const struct fs_flow *f = &sink->flows[0];
    cr_expect_str_eq(fs_ip_format(&f->src_addr, a), "2001:db8::10");
    cr_expect_str_eq(fs_ip_format(&f->post_src_addr, a), "2001:db8:aaaa::10");
    cr_expect_str_eq(fs_ip_format(&f->post_dst_addr, a), "2001:db8:bbbb::20");
    cr_expect_str_eq(fs_ip_format(&f->next_hop, a), "fe80::abcd");
    cr_expect_eq(f->icmp_type, 128);
    cr_expect_eq(f->icmp_code, 0);
    cr_expect(FS_FLOW_HAS(f, FS_F_ICMP));
    cr_expect_eq(f->src_mask, 56);
    cr_expect_eq(f->dst_mask, 128);
    f = &sink->flows[1];
    cr_expect_eq(f->icmp_type, 1);
    cr_expect_eq(f->icmp_code, 4);
}

/* One template, one record, for the time tests: returns the flow. */
static const struct fs_flow *one_record(void)
{
    tw_end(w);
    cr_assert_eq(decode(), 1);
    return &sink->flows[sink->n - 1];
}

/* A record of two 4-byte time fields: `start_ie` = `start`, `end_ie` = `end`. */
static const struct fs_flow *times_record(uint16_t start_ie, uint32_t start, uint16_t end_ie,
                                          uint32_t end)
{
    template_set();
    TW_TPL(w, 300, { start_ie, 4 }, { end_ie, 4 });
    tw_set(w, 300);
    tw_u32(w, start);
    tw_u32(w, end);
    return one_record();
}

Test(ipfix, times_in_seconds)
{
    const struct fs_flow *f = times_record(150, SECS - 10, 151, SECS - 5);

    cr_expect_eq(f->start_ms, NOW_MS - 10000);
    cr_expect_eq(f->end_ms, NOW_MS - 5000);
}

/* dateTimeMicroseconds and dateTimeNanoseconds are NTP timestamps: seconds
 * since 1900 and a 32-bit binary fraction (RFC 7011 section 6.1.9/6.1.10). */
Test(ipfix, times_in_microseconds_and_nanoseconds)
{
    template_set();
    TW_TPL(w, 300, { 154, 8 }, { 155, 8 });
    TW_TPL(w, 301, { 156, 8 }, { 157, 8 });
    tw_set(w, 300);
    tw_u32(w, (uint32_t)(SECS - 10 + NTP_OFFSET));
    tw_u32(w, 0x80000000u); /* .5 s */
    tw_u32(w, (uint32_t)(SECS - 5 + NTP_OFFSET));
    tw_u32(w, 0x40000000u); /* .25 s */
    tw_set(w, 301);
    tw_u32(w, (uint32_t)(SECS - 3 + NTP_OFFSET));
    tw_u32(w, 0x20000000u); /* .125 s */
    tw_u32(w, (uint32_t)(SECS - 1 + NTP_OFFSET));
    tw_u32(w, 0);
    tw_end(w);
    cr_assert_eq(decode(), 2);
    cr_expect_eq(sink->flows[0].start_ms, NOW_MS - 10000 + 500);
    cr_expect_eq(sink->flows[0].end_ms, NOW_MS - 5000 + 250);
    cr_expect_eq(sink->flows[1].start_ms, NOW_MS - 3000 + 125);
    cr_expect_eq(sink->flows[1].end_ms, NOW_MS - 1000);
}

/* flowStart/EndDeltaMicroseconds: microseconds before the export time. */
Test(ipfix, times_as_delta_microseconds)
{
    const struct fs_flow *f = times_record(158, 10000000, 159, 250000);

    cr_expect_eq(f->start_ms, NOW_MS - 10000);
    cr_expect_eq(f->end_ms, NOW_MS - 250);
}

/* flowStart/EndSysUpTime are ms since systemInitTimeMilliseconds, here
 * announced in an options record scoped to the observation domain (149). */
Test(ipfix, uptime_times_with_system_init_from_options)
{
    const uint64_t init = NOW_MS - 86400000; /* booted a day ago */

    tw_ipfix(w, SECS, 0, 9);
    tw_set(w, 3);
    TW_OPTIONS(w, 400, 1, { 149, 4 }, { 160, 8 });
    tw_set(w, 400);
    tw_u32(w, 9);
    tw_u64(w, init);
    tw_set(w, 2);
    TW_TPL(w, 300, { 22, 4 }, { 21, 4 });
    tw_set(w, 300);
    tw_u32(w, 86400000 - 30000);
    tw_u32(w, 86400000 - 1000);
    const struct fs_flow *f = one_record();
    cr_expect_eq(f->start_ms, NOW_MS - 30000);
    cr_expect_eq(f->end_ms, NOW_MS - 1000);
    cr_expect_eq(tw_counters(dec).options_records, 1);
}

Test(ipfix, uptime_times_with_system_init_in_the_record)
{
    const uint64_t init = NOW_MS - 3600000;

    template_set();
    TW_TPL(w, 300, { 160, 8 }, { 22, 4 }, { 21, 4 });
    tw_set(w, 300);
    tw_u64(w, init);
    tw_u32(w, 3600000 - 20000);
    tw_u32(w, 3600000 - 4000);
    const struct fs_flow *f = one_record();
    cr_expect_eq(f->start_ms, NOW_MS - 20000);
    cr_expect_eq(f->end_ms, NOW_MS - 4000);
}

/* Without systemInitTimeMilliseconds, the end is taken as the export time
 * and the start keeps the flow's duration. */
Test(ipfix, uptime_times_without_system_init)
{
    const struct fs_flow *f = times_record(22, 1000, 21, 4000);

    cr_expect_eq(f->end_ms, NOW_MS);
    cr_expect_eq(f->start_ms, NOW_MS - 3000);
}

/* flowDurationMilliseconds / Microseconds give the start from the end. */
Test(ipfix, start_from_duration)
{
    template_set();
    TW_TPL(w, 300, { 153, 8 }, { 161, 4 });
    TW_TPL(w, 301, { 151, 4 }, { 162, 4 });
    tw_set(w, 300);
    tw_u64(w, NOW_MS - 100);
    tw_u32(w, 3000);
    tw_set(w, 301);
    tw_u32(w, SECS - 2);
    tw_u32(w, 2500000);
    tw_end(w);
    cr_assert_eq(decode(), 2);
    cr_expect_eq(sink->flows[0].end_ms, NOW_MS - 100);
    cr_expect_eq(sink->flows[0].start_ms, NOW_MS - 3100);
    cr_expect(FS_FLOW_HAS(&sink->flows[0], FS_F_START));
    cr_expect_eq(sink->flows[1].end_ms, NOW_MS - 2000);
    cr_expect_eq(sink->flows[1].start_ms, NOW_MS - 4500);
}

/* A template with IPv4 and IPv6 variants of the same fields: each record is
 * one family, by ipVersion when sent, else by which addresses are not zero. */
Test(ipfix, template_with_both_address_families)
{
    char a[FS_IP_STRLEN];

    template_set();
    TW_TPL(w, 256, { 8, 4 }, { 12, 4 }, { 27, 16 }, { 28, 16 }, { 15, 4 }, { 62, 16 },
           { 9, 1 }, { 29, 1 }, { 32, 2 }, { 139, 2 });
    TW_TPL(w, 257, { 60, 1 }, { 8, 4 }, { 27, 16 });
    tw_set(w, 256);
    tw_ip(w, "192.0.2.1"); tw_ip(w, "192.0.2.2"); tw_ip(w, "::"); tw_ip(w, "::");
    tw_ip(w, "192.0.2.254"); tw_ip(w, "::"); tw_u8(w, 24); tw_u8(w, 0);
    tw_u16(w, 0x0800); tw_u16(w, 0);
    tw_ip(w, "0.0.0.0"); tw_ip(w, "0.0.0.0"); tw_ip(w, "2001:db8::1"); tw_ip(w, "2001:db8::2");
    tw_ip(w, "0.0.0.0"); tw_ip(w, "fe80::1"); tw_u8(w, 0); tw_u8(w, 64);
    tw_u16(w, 0); tw_u16(w, 0x8000);
    tw_set(w, 257);
    tw_u8(w, 6); tw_ip(w, "192.0.2.9"); tw_ip(w, "2001:db8::9");
    tw_end(w);
    cr_assert_eq(decode(), 3);
    const struct fs_flow *f = &sink->flows[0];
    cr_expect_str_eq(fs_ip_format(&f->src_addr, a), "192.0.2.1");
    cr_expect_str_eq(fs_ip_format(&f->dst_addr, a), "192.0.2.2");
    cr_expect_str_eq(fs_ip_format(&f->next_hop, a), "192.0.2.254");
    cr_expect_eq(f->src_mask, 24);
    cr_expect_eq(f->icmp_type, 8);
    f = &sink->flows[1];
    cr_expect_str_eq(fs_ip_format(&f->src_addr, a), "2001:db8::1");
    cr_expect_str_eq(fs_ip_format(&f->dst_addr, a), "2001:db8::2");
    cr_expect_str_eq(fs_ip_format(&f->next_hop, a), "fe80::1");
    cr_expect_eq(f->src_mask, 64);
    cr_expect_eq(f->icmp_type, 128);
    cr_expect_str_eq(fs_ip_format(&sink->flows[2].src_addr, a), "2001:db8::9");
}

/* MPLS label stack entries: down to bottom-of-stack, else to the last
 * non-zero entry. */
Test(ipfix, mpls_stack_without_bottom_of_stack)
{
    template_set();
    TW_TPL(w, 256, { 70, 3 }, { 71, 3 }, { 72, 3 }, { 73, 3 });
    tw_set(w, 256);
    tw_u24(w, 100u << 4); tw_u24(w, 0); tw_u24(w, 300u << 4); tw_u24(w, 0);
    tw_u24(w, 100u << 4 | 1); tw_u24(w, 200u << 4); tw_u24(w, 0); tw_u24(w, 0);
    tw_end(w);
    cr_assert_eq(decode(), 2);
    cr_assert_eq(sink->flows[0].mpls_count, 3);
    cr_expect_eq(sink->flows[0].mpls[2] >> 4, 300);
    cr_expect_eq(sink->flows[1].mpls_count, 1);
}

/* dataLinkFrameSection (IE 315): the first bytes of a sampled frame fill
 * what the record does not send. Frames built from IEEE 802.3/802.1Q,
 * RFC 3032 (label stack entries), RFC 4385 (pseudowire control word),
 * RFC 791, RFC 8200 and RFC 793. */
static void frame_eth(const char *dst, const char *src)
{
    unsigned m[6];

    for (int k = 0; k < 2; k++) {
        sscanf(k ? src : dst, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]);
        for (int i = 0; i < 6; i++)
            tw_u8(w, (uint8_t)m[i]);
    }
}

static void frame_ipv4_tcp(void)
{
    tw_u8(w, 0x45); tw_u8(w, 0x10); tw_u16(w, 40); tw_u32(w, 0);
    tw_u8(w, 64); tw_u8(w, 6); tw_u16(w, 0);
    tw_ip(w, "192.0.2.5"); tw_ip(w, "198.51.100.6");
    tw_u16(w, 1234); tw_u16(w, 80); tw_u32(w, 1); tw_u32(w, 2);
    tw_u8(w, 0x50); tw_u8(w, 0x18);
}

Test(ipfix, data_link_frame_section)
{
    static const uint8_t smac[6] = { 2, 0, 0, 0, 0, 1 }, dmac[6] = { 2, 0, 0, 0, 0, 2 };
    char a[FS_IP_STRLEN];
    size_t at;

    template_set();
    TW_TPL(w, 256, { 61, 1 }, { 315, 65535 });
    TW_TPL(w, 257, { 8, 4 }, { 315, 40 });
    tw_set(w, 256);
    /* Ethernet, VLAN 42, IPv4, TCP; ingress. */
    tw_u8(w, 0);
    at = w->len;
    tw_u8(w, 0);
    frame_eth("02:00:00:00:00:02", "02:00:00:00:00:01");
    tw_u16(w, 0x8100); tw_u16(w, 42); tw_u16(w, 0x0800);
    frame_ipv4_tcp();
    w->b[at] = (uint8_t)(w->len - at - 1);
    /* Ethernet, two labels, control word, Ethernet, IPv6 with a routing
     * header, UDP; egress: the (absent) VLAN would be dst_vlan. */
    tw_u8(w, 1);
    at = w->len;
    tw_u8(w, 0);
    frame_eth("02:00:00:00:00:03", "02:00:00:00:00:04");
    tw_u16(w, 0x8847);
    tw_u32(w, 16000u << 12 | 255);          /* label 16000 */
    tw_u32(w, 17u << 12 | 1u << 8 | 255);   /* label 17, bottom of stack */
    tw_u32(w, 0);                           /* control word */
    frame_eth("02:00:00:00:00:05", "02:00:00:00:00:06");
    tw_u16(w, 0x86dd);
    tw_u32(w, 6u << 28 | 0x28u << 20); tw_u16(w, 16); tw_u8(w, 43); tw_u8(w, 64);
    tw_ip(w, "2001:db8::5"); tw_ip(w, "2001:db8::6");
    tw_u8(w, 17); tw_u8(w, 0); tw_zero(w, 6);   /* routing header, 8 bytes */
    tw_u16(w, 5353); tw_u16(w, 53);
    w->b[at] = (uint8_t)(w->len - at - 1);
    /* The record's own source address wins; the section stops inside TCP. */
    tw_set(w, 257);
    tw_ip(w, "203.0.113.1");
    at = w->len;
    frame_eth("02:00:00:00:00:02", "02:00:00:00:00:01");
    tw_u16(w, 0x0800);
    frame_ipv4_tcp();
    w->len = at + 40;
    tw_end(w);
    cr_assert_eq(decode(), 3);

    const struct fs_flow *f = &sink->flows[0];
    cr_expect_arr_eq(f->src_mac, smac, 6);
    cr_expect_arr_eq(f->dst_mac, dmac, 6);
    cr_expect_eq(f->src_vlan, 42);
    cr_expect(!FS_FLOW_HAS(f, FS_F_DST_VLAN));
    cr_expect_eq(f->ip_version, 4);
    cr_expect_eq(f->tos, 0x10);
    cr_expect_eq(f->proto, 6);
    cr_expect_str_eq(fs_ip_format(&f->src_addr, a), "192.0.2.5");
    cr_expect_str_eq(fs_ip_format(&f->dst_addr, a), "198.51.100.6");
    cr_expect_eq(f->src_port, 1234);
    cr_expect_eq(f->dst_port, 80);
    cr_expect_eq(f->tcp_flags, 0x18);

    f = &sink->flows[1];
    cr_expect_eq(f->src_mac[5], 4); /* the outer Ethernet header */
    cr_assert_eq(f->mpls_count, 2);
    cr_expect_eq(f->mpls[0] >> 4, 16000);
    cr_expect_eq(f->mpls[1] >> 4, 17);
    cr_expect_eq(f->mpls[1] & 1, 1);
    cr_expect_eq(f->ip_version, 6);
    cr_expect_eq(f->tos, 0x28);
    cr_expect_eq(f->proto, 17);
    cr_expect_str_eq(fs_ip_format(&f->src_addr, a), "2001:db8::5");
    cr_expect_eq(f->dst_port, 53);
    cr_expect(!FS_FLOW_HAS(f, FS_F_SRC_VLAN) && !FS_FLOW_HAS(f, FS_F_DST_VLAN));

    f = &sink->flows[2];
    cr_expect_str_eq(fs_ip_format(&f->src_addr, a), "203.0.113.1");
    cr_expect_str_eq(fs_ip_format(&f->dst_addr, a), "198.51.100.6");
    cr_expect_eq(f->dst_port, 80);
    cr_expect(!FS_FLOW_HAS(f, FS_F_TCP_FLAGS));
}

/* A variable-length field of less than 255 bytes: opens it, and writes
 * its length once the caller has written its bytes. */
static size_t varlen_open(void)
{
    tw_u8(w, 0);
    return w->len;
}

static void varlen_close(size_t at)
{
    w->b[at - 1] = (uint8_t)(w->len - at);
}

/* RFC 8200: an IPv6 header then a Fragment header for a later fragment
 * (offset 185) of a UDP datagram, whose first payload bytes look like
 * ports but are not a UDP header. */
static void section_ipv6_later_fragment(void)
{
    tw_u32(w, 6u << 28); tw_u16(w, 16); tw_u8(w, 44); tw_u8(w, 64);
    tw_ip(w, "2001:db8::7"); tw_ip(w, "2001:db8::8");
    tw_u8(w, 17); tw_u8(w, 0); tw_u16(w, 185 << 3); tw_u32(w, 0x1234);
    tw_u16(w, 5353); tw_u16(w, 53); tw_u32(w, 0);
}

/* layer2packetSectionData (104) is read as Ethernet and ipHeaderPacketSection
 * (313) as an IP header, like dataLinkFrameSection, but only from the
 * packet's first byte: a non-zero layer2packetSectionOffset (102) or
 * sectionOffset (409) leaves the section unread. A record with a frame and
 * an IP header section takes the frame. */
Test(ipfix, other_packet_sections)
{
    char a[FS_IP_STRLEN];
    size_t at;

    template_set();
    TW_TPL(w, 256, { 102, 2 }, { 104, 65535 });
    TW_TPL(w, 257, { 409, 2 }, { 313, 65535 });
    TW_TPL(w, 258, { 313, 28 }, { 315, 65535 });
    tw_set(w, 256);
    for (uint16_t offset = 0; offset <= 14; offset += 14) {
        tw_u16(w, offset);
        at = varlen_open();
        frame_eth("02:00:00:00:00:02", "02:00:00:00:00:01");
        tw_u16(w, 0x0800);
        frame_ipv4_tcp();
        varlen_close(at);
    }
    tw_set(w, 257);
    tw_u16(w, 0);
    at = varlen_open();
    section_ipv6_later_fragment();
    varlen_close(at);
    /* A hop-by-hop options header cut off after 4 of its 8 bytes. */
    tw_u16(w, 0);
    at = varlen_open();
    tw_u32(w, 6u << 28); tw_u16(w, 8); tw_u8(w, 0); tw_u8(w, 64);
    tw_ip(w, "2001:db8::9"); tw_ip(w, "2001:db8::a");
    tw_u8(w, 17); tw_u8(w, 0); tw_u16(w, 0x1f40);
    varlen_close(at);
    tw_u16(w, 40);
    at = varlen_open();
    section_ipv6_later_fragment();
    varlen_close(at);
    tw_set(w, 258);
    /* RFC 768 behind RFC 791: 198.51.100.99:1111 -> 203.0.113.99:2222. */
    tw_u8(w, 0x45); tw_u8(w, 0); tw_u16(w, 28); tw_u32(w, 0);
    tw_u8(w, 64); tw_u8(w, 17); tw_u16(w, 0);
    tw_ip(w, "198.51.100.99"); tw_ip(w, "203.0.113.99");
    tw_u16(w, 1111); tw_u16(w, 2222); tw_u16(w, 8); tw_u16(w, 0);
    at = varlen_open();
    frame_eth("02:00:00:00:00:02", "02:00:00:00:00:01");
    tw_u16(w, 0x0800);
    frame_ipv4_tcp();
    varlen_close(at);
    tw_end(w);
    cr_assert_eq(decode(), 6);

    const struct fs_flow *f = &sink->flows[0];
    cr_expect(FS_FLOW_HAS(f, FS_F_SRC_MAC));
    cr_expect_eq(f->src_mac[5], 1);
    cr_expect_str_eq(fs_ip_format(&f->src_addr, a), "192.0.2.5");
    cr_expect_eq(f->proto, 6);
    cr_expect_eq(f->dst_port, 80);
    f = &sink->flows[1];
    cr_expect(!FS_FLOW_HAS(f, FS_F_SRC_MAC) && !FS_FLOW_HAS(f, FS_F_SRC_ADDR));

    /* A later fragment: the protocol of the fragmented datagram, no ports. */
    f = &sink->flows[2];
    cr_expect_eq(f->ip_version, 6);
    cr_expect_str_eq(fs_ip_format(&f->dst_addr, a), "2001:db8::8");
    cr_expect(FS_FLOW_HAS(f, FS_F_PROTO));
    cr_expect_eq(f->proto, 17);
    cr_expect(!FS_FLOW_HAS(f, FS_F_SRC_PORT) && !FS_FLOW_HAS(f, FS_F_DST_PORT));
    cr_expect(!FS_FLOW_HAS(f, FS_F_SRC_MAC));
    /* Cut off in an extension header: the addresses, not what follows. */
    f = &sink->flows[3];
    cr_expect_str_eq(fs_ip_format(&f->src_addr, a), "2001:db8::9");
    cr_expect(!FS_FLOW_HAS(f, FS_F_PROTO));
    cr_expect(!FS_FLOW_HAS(f, FS_F_SRC_PORT) && !FS_FLOW_HAS(f, FS_F_DST_PORT));
    f = &sink->flows[4];
    cr_expect(!FS_FLOW_HAS(f, FS_F_SRC_ADDR) && !FS_FLOW_HAS(f, FS_F_PROTO));

    f = &sink->flows[5];
    cr_expect_str_eq(fs_ip_format(&f->src_addr, a), "192.0.2.5");
    cr_expect_eq(f->proto, 6);
    cr_expect_eq(f->src_port, 1234);
    cr_expect(FS_FLOW_HAS(f, FS_F_SRC_MAC));
    cr_expect_eq(fs_counters_errors(fs_decoder_totals(dec)), 0);
}

/* RFC 5103: reverse elements are the forward ids under PEN 29305. */
Test(ipfix, biflow_reverse_fields)
{
    template_set();
    tw_u16(w, 256);
    tw_u16(w, 11);
    tw_field(w, 8, 4);
    tw_field(w, 12, 4);
    tw_field(w, 1, 8);
    tw_field(w, 2, 4);
    tw_efield(w, 1, 8, PEN_REVERSE);
    tw_efield(w, 2, 4, PEN_REVERSE);
    tw_field(w, 5, 1);
    tw_efield(w, 5, 1, PEN_REVERSE);
    tw_field(w, 6, 1);
    tw_efield(w, 6, 2, PEN_REVERSE);
    tw_efield(w, 7, 2, PEN_REVERSE); /* reverse source port: not kept */
    tw_set(w, 256);
    tw_ip(w, "10.0.0.1");
    tw_ip(w, "10.0.0.2");
    tw_u64(w, 5000);
    tw_u32(w, 10);
    tw_u64(w, 70000);
    tw_u32(w, 60);
    tw_u8(w, 0x10);
    tw_u8(w, 0xb8);
    tw_u8(w, 0x02);
    tw_u16(w, 0x0012);
    tw_u16(w, 9999);
    const struct fs_flow *f = one_record();
    cr_expect_eq(f->bytes, 5000);
    cr_expect_eq(f->packets, 10);
    cr_expect_eq(f->rev_bytes, 70000);
    cr_expect_eq(f->rev_packets, 60);
    cr_expect_eq(f->tos, 0x10);
    cr_expect_eq(f->rev_tos, 0xb8);
    cr_expect_eq(f->tcp_flags, 0x02);
    cr_expect_eq(f->rev_tcp_flags, 0x12);
    cr_expect(FS_FLOW_HAS(f, FS_F_REV_BYTES) && FS_FLOW_HAS(f, FS_F_REV_PACKETS));
    cr_expect(FS_FLOW_HAS(f, FS_F_REV_TOS) && FS_FLOW_HAS(f, FS_F_REV_TCP_FLAGS));
    cr_expect(!FS_FLOW_HAS(f, FS_F_SRC_PORT));
}

/* RFC 7011 section 7: a variable-length field has a 1-byte length, or 255
 * and a 2-byte length. */
Test(ipfix, variable_length_fields)
{
    char app[300];
    char a[FS_IP_STRLEN];

    memset(app, 'x', sizeof(app));
    template_set();
    TW_TPL(w, 256, { 8, 4 }, { 82, 65535 }, { 12, 4 }, { 96, 65535 }, { 7, 2 });
    tw_set(w, 256);
    tw_ip(w, "10.0.0.1");
    tw_u8(w, 4);
    tw_bytes(w, "eth0", 4);
    tw_ip(w, "10.0.0.2");
    tw_u8(w, 255);
    tw_u16(w, sizeof(app));
    tw_bytes(w, app, sizeof(app));
    tw_u16(w, 1111);
    tw_ip(w, "10.0.0.3");
    tw_u8(w, 0);
    tw_ip(w, "10.0.0.4");
    tw_u8(w, 0);
    tw_u16(w, 2222);
    tw_end(w);
    cr_assert_eq(decode(), 2);
    cr_expect_str_eq(fs_ip_format(&sink->flows[0].dst_addr, a), "10.0.0.2");
    cr_expect_eq(sink->flows[0].src_port, 1111);
    cr_expect_str_eq(fs_ip_format(&sink->flows[1].src_addr, a), "10.0.0.3");
    cr_expect_str_eq(fs_ip_format(&sink->flows[1].dst_addr, a), "10.0.0.4");
    cr_expect_eq(sink->flows[1].src_port, 2222);
    struct fs_counters c = tw_counters(dec);
    cr_expect_eq(fs_counters_errors(&c), 0);
}

Test(ipfix, enterprise_fields_are_skipped)
{
    char a[FS_IP_STRLEN];

    template_set();
    tw_u16(w, 256);
    tw_u16(w, 5);
    tw_field(w, 8, 4);
    tw_efield(w, 8, 4, 9);         /* PEN 9, id 8: not sourceIPv4Address */
    tw_efield(w, 12235, 65535, 9); /* variable length, enterprise */
    tw_efield(w, 1, 6, 1234);
    tw_field(w, 12, 4);
    tw_set(w, 256);
    tw_ip(w, "10.0.0.1");
    tw_ip(w, "10.9.9.9");
    tw_u8(w, 3);
    tw_bytes(w, "abc", 3);
    tw_zero(w, 6);
    tw_ip(w, "10.0.0.2");
    const struct fs_flow *f = one_record();
    cr_expect_str_eq(fs_ip_format(&f->src_addr, a), "10.0.0.1");
    cr_expect_str_eq(fs_ip_format(&f->dst_addr, a), "10.0.0.2");
    cr_expect(!FS_FLOW_HAS(f, FS_F_BYTES));
}

Test(ipfix, padding_at_the_end_of_sets)
{
    template_set();
    TW_TPL(w, 256, { 8, 4 }, { 12, 4 }, { 2, 1 });
    tw_zero(w, 4); /* template set padding */
    tw_set(w, 256);
    tw_ip(w, "10.0.0.1"); tw_ip(w, "10.0.0.2"); tw_u8(w, 1);
    tw_ip(w, "10.0.0.3"); tw_ip(w, "10.0.0.4"); tw_u8(w, 2);
    tw_zero(w, 6); /* shorter than a record: padding */
    tw_end(w);
    cr_assert_eq(decode(), 2);
    struct fs_counters c = tw_counters(dec);
    cr_expect_eq(fs_counters_errors(&c), 0);
    cr_expect_eq(sink->flows[1].packets, 2);
}

/* RFC 7011: the sequence number counts data records of the domain sent
 * before this message. */
static void data_message(uint32_t seq, unsigned records, bool with_template)
{
    tw_ipfix(w, SECS, seq, 5);
    if (with_template) {
        tw_set(w, 2);
        TW_TPL(w, 256, { 8, 4 }, { 2, 4 });
    }
    tw_set(w, 256);
    for (unsigned i = 0; i < records; i++) {
        tw_ip(w, "10.0.0.1");
        tw_u32(w, i + 1);
    }
    tw_end(w);
    decode();
}

Test(ipfix, sequence_counts_records)
{
    data_message(0, 2, true);
    data_message(2, 3, false);
    data_message(5, 1, false);
    cr_expect_eq(tw_counters(dec).seq_lost, 0);
    data_message(11, 1, false);
    cr_expect_eq(tw_counters(dec).seq_lost, 5);
    cr_expect_eq(sink->n, 7);
}

/* Records that waited for their template could not be counted when their
 * message came: no loss may be made up from that. */
Test(ipfix, sequence_with_data_before_template)
{
    data_message(0, 2, false);
    cr_expect_eq(sink->n, 0);
    data_message(2, 1, true);
    cr_expect_eq(sink->n, 3);
    data_message(3, 1, false);
    struct fs_counters c = tw_counters(dec);
    cr_expect_eq(c.seq_lost, 0);
    cr_expect_eq(c.seq_resets, 0);
    cr_expect_eq(c.pending_decoded, 2);
    /* Counting resumed: record 4 is missing. */
    data_message(5, 1, false);
    cr_expect_eq(tw_counters(dec).seq_lost, 1);
}

/* PSAMP systematic count-based sampling (RFC 5476): samplingPacketInterval
 * packets selected, samplingPacketSpace skipped: 1 in (interval + space) /
 * interval. Random n-out-of-N: samplingSize out of samplingPopulation.
 * Both per selectorId (302, scope); a plain samplingInterval (34) without
 * selector applies to the whole domain. */
Test(ipfix, sampling_from_options)
{
    tw_ipfix(w, SECS, 0, 3);
    tw_set(w, 3);
    TW_OPTIONS(w, 400, 1, { 302, 4 }, { 305, 4 }, { 306, 4 });
    TW_OPTIONS(w, 401, 1, { 302, 4 }, { 309, 4 }, { 310, 4 });
    TW_OPTIONS(w, 402, 1, { 149, 4 }, { 34, 4 });
    tw_set(w, 400);
    tw_u32(w, 5); tw_u32(w, 1); tw_u32(w, 99);
    tw_u32(w, 7); tw_u32(w, 4); tw_u32(w, 36);
    tw_set(w, 401);
    tw_u32(w, 6); tw_u32(w, 1); tw_u32(w, 500);
    tw_set(w, 402);
    tw_u32(w, 3); tw_u32(w, 20);
    tw_set(w, 2);
    TW_TPL(w, 256, { 8, 4 }, { 302, 4 }, { 2, 4 }, { 1, 4 });
    TW_TPL(w, 257, { 8, 4 }, { 2, 4 }, { 1, 4 });
    tw_set(w, 256);
    tw_ip(w, "10.0.0.1"); tw_u32(w, 5); tw_u32(w, 1); tw_u32(w, 64);
    tw_ip(w, "10.0.0.2"); tw_u32(w, 6); tw_u32(w, 1); tw_u32(w, 64);
    tw_ip(w, "10.0.0.3"); tw_u32(w, 7); tw_u32(w, 1); tw_u32(w, 64);
    tw_ip(w, "10.0.0.4"); tw_u32(w, 8); tw_u32(w, 1); tw_u32(w, 64);
    tw_set(w, 257);
    tw_ip(w, "10.0.0.5"); tw_u32(w, 1); tw_u32(w, 64);
    tw_end(w);
    cr_assert_eq(decode(), 5);
    cr_expect_eq(sink->flows[0].sampling_rate, 100);
    cr_expect_eq(sink->flows[0].bytes, 6400);
    cr_expect_eq(sink->flows[0].sampler_id, 5);
    cr_expect_eq(sink->flows[1].sampling_rate, 500);
    cr_expect_eq(sink->flows[1].packets, 500);
    cr_expect_eq(sink->flows[2].sampling_rate, 10);   /* (4 + 36) / 4 */
    /* Selector 8 unknown: the domain-wide rate applies. */
    cr_expect_eq(sink->flows[3].sampling_rate, 20);
    cr_expect_eq(sink->flows[4].sampling_rate, 20);
    cr_expect_eq(sink->flows[4].bytes, 1280);
    cr_expect_eq(tw_counters(dec).options_records, 4);
}

/* A rate carried in the data record itself wins over options. */
Test(ipfix, sampling_in_the_data_record)
{
    tw_ipfix(w, SECS, 0, 3);
    tw_set(w, 2);
    TW_TPL(w, 256, { 8, 4 }, { 2, 4 }, { 34, 4 });
    TW_TPL(w, 257, { 8, 4 }, { 2, 4 }, { 305, 2 }, { 306, 2 });
    tw_set(w, 256);
    tw_ip(w, "10.0.0.1"); tw_u32(w, 3); tw_u32(w, 1000);
    tw_set(w, 257);
    tw_ip(w, "10.0.0.1"); tw_u32(w, 3); tw_u16(w, 1); tw_u16(w, 9);
    tw_end(w);
    cr_assert_eq(decode(), 2);
    cr_expect_eq(sink->flows[0].sampling_rate, 1000);
    cr_expect_eq(sink->flows[0].packets, 3000);
    cr_expect_eq(sink->flows[1].sampling_rate, 10);
}

Test(ipfix, message_shorter_than_datagram_decodes_the_message)
{
    template_set();
    TW_TPL(w, 256, { 8, 4 });
    tw_set(w, 256);
    tw_ip(w, "10.0.0.1");
    tw_end(w);
    tw_u32(w, 0xdeadbeef); /* trailing garbage outside the message */
    cr_expect_eq(decode(), -1);
    cr_expect_eq(sink->n, 1);
    cr_expect_eq(tw_counters(dec).errors[FS_ERR_BAD_LENGTH], 1);
}

Test(ipfix, message_longer_than_datagram_is_dropped)
{
    template_set();
    TW_TPL(w, 256, { 8, 4 });
    tw_set(w, 256);
    tw_ip(w, "10.0.0.1");
    tw_end(w);
    w->len -= 2;
    cr_expect_eq(decode(), -1);
    cr_expect_eq(sink->n, 0);
    struct fs_counters c = tw_counters(dec);
    cr_expect_eq(c.errors[FS_ERR_BAD_LENGTH], 1);
    cr_expect_eq(c.templates, 0);
}

Test(ipfix, set_length_errors)
{
    tw_ipfix(w, SECS, 0, 1);
    tw_u16(w, 256);
    tw_u16(w, 3);
    tw_end(w);
    cr_expect_eq(decode(), -1);
    tw_ipfix(w, SECS, 0, 1);
    tw_u16(w, 256);
    tw_u16(w, 60);
    tw_u32(w, 0);
    tw_end(w);
    cr_expect_eq(decode(), -1);
    cr_expect_eq(tw_counters(dec).errors[FS_ERR_SET_LENGTH], 2);
}

Test(ipfix, variable_length_field_past_the_end)
{
    template_set();
    TW_TPL(w, 256, { 8, 4 }, { 82, 65535 });
    tw_set(w, 256);
    tw_ip(w, "10.0.0.1");
    tw_u8(w, 2);
    tw_bytes(w, "ok", 2);
    tw_ip(w, "10.0.0.2");
    tw_u8(w, 200);         /* 200 bytes announced, 3 there */
    tw_bytes(w, "bad", 3);
    tw_end(w);
    cr_expect_eq(decode(), -1);
    cr_expect_eq(sink->n, 1);
    cr_expect_eq(tw_counters(dec).errors[FS_ERR_FIELD_LENGTH], 1);
}

Test(ipfix, bad_templates)
{
    template_set();
    tw_u16(w, 256);        /* absurd: 2000 fields, all of them there */
    tw_u16(w, 2000);
    for (int i = 0; i < 2000; i++)
        tw_field(w, 1, 1);
    TW_TPL(w, 257, { 8, 4 });    /* still learned */
    tw_set(w, 2);
    TW_TPL(w, 258, { 1, 0 }, { 2, 0 }); /* records of no length */
    tw_set(w, 3);
    tw_u16(w, 259);        /* options template with no scope */
    tw_u16(w, 1);
    tw_u16(w, 0);
    tw_field(w, 34, 4);
    tw_set(w, 2);
    tw_u16(w, 260);        /* overruns its set */
    tw_u16(w, 3);
    tw_field(w, 8, 4);
    tw_end(w);
    cr_expect_eq(decode(), -1);
    struct fs_counters c = tw_counters(dec);
    cr_expect_eq(c.errors[FS_ERR_BAD_TEMPLATE], 4);
    cr_expect_eq(c.templates, 1);
}

Test(ipfix, reserved_set_id)
{
    tw_ipfix(w, SECS, 0, 1);
    tw_set(w, 4);
    tw_u32(w, 0);
    tw_end(w);
    cr_expect_eq(decode(), -1);
    cr_expect_eq(tw_counters(dec).errors[FS_ERR_BAD_SET_ID], 1);
}

Test(ipfix, truncations_and_corruptions_never_crash)
{
    tw_ipfix(w, SECS, 0, 1);
    tw_set(w, 3);
    TW_OPTIONS(w, 400, 1, { 302, 4 }, { 34, 4 });
    tw_set(w, 400);
    tw_u32(w, 1); tw_u32(w, 10);
    tw_set(w, 2);
    tw_u16(w, 256); tw_u16(w, 4);
    tw_field(w, 8, 4); tw_field(w, 82, 65535); tw_efield(w, 1, 8, PEN_REVERSE);
    tw_field(w, 302, 4);
    tw_set(w, 256);
    tw_ip(w, "10.0.0.1"); tw_u8(w, 255); tw_u16(w, 3); tw_bytes(w, "abc", 3);
    tw_u64(w, 1); tw_u32(w, 1);
    tw_end(w);
    tw_decode_damaged(dec, w, NOW_MS, sink);
    cr_expect_gt(fs_counters_errors(fs_decoder_totals(dec)), 0);
}
