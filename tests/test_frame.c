/*
 * test_frame.c - the packet header parser: hand-built frames laid out from
 * the RFCs and IEEE 802.1Q (Ethernet, QinQ, PPPoE, MPLS pseudo-wires, IPv4,
 * IPv6 extension headers, TCP/UDP/ICMP), every one cut at every length, random
 * and mutated bytes, the fill-in of flow fields, and the frame sections of
 * two real IPFIX captures checked against what tshark decodes in them.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "rng.h"
#include "tplwire.h"

static struct tw_buf *w;

static void setup(void)
{
    w = calloc(1, sizeof(*w));
    cr_assert_not_null(w);
}

static void teardown(void)
{
    free(w);
}

TestSuite(frame, .init = setup, .fini = teardown);

/* Parses a heap copy of exactly `n` bytes, so that AddressSanitizer sees any
 * read past the end. */
static int parse_n(const uint8_t *p, size_t n, enum fs_frame_link link, struct fs_frame *fr)
{
    uint8_t *copy = malloc(n ? n : 1);
    int r;

    cr_assert_not_null(copy);
    memcpy(copy, p, n);
    r = fs_frame_parse(copy, n, link, fr);
    free(copy);
    return r;
}

static int parse(enum fs_frame_link link, struct fs_frame *fr)
{
    return parse_n(w->b, w->len, link, fr);
}

/* ---- frame writers ---- */

static void put_mac(const char *text)
{
    unsigned m[6];

    cr_assert_eq(sscanf(text, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]),
                 6);
    for (int i = 0; i < 6; i++)
        tw_u8(w, (uint8_t)m[i]);
}

static void put_eth(const char *dst, const char *src, uint16_t type)
{
    put_mac(dst);
    put_mac(src);
    tw_u16(w, type);
}

/* The body of an 802.1Q tag: its type was written by the header before. */
static void put_tag(uint16_t tci, uint16_t type)
{
    tw_u16(w, tci);
    tw_u16(w, type);
}

/* RFC 791 header without options; the checksum is left 0 (never checked). */
static void put_ipv4(uint8_t tos, uint16_t total, uint16_t id, uint16_t frag, uint8_t ttl,
                     uint8_t proto, const char *src, const char *dst)
{
    tw_u8(w, 0x45);
    tw_u8(w, tos);
    tw_u16(w, total);
    tw_u16(w, id);
    tw_u16(w, frag);
    tw_u8(w, ttl);
    tw_u8(w, proto);
    tw_u16(w, 0);
    tw_ip(w, src);
    tw_ip(w, dst);
}

/* RFC 8200 section 3. */
static void put_ipv6(uint8_t tc, uint32_t flow, uint16_t plen, uint8_t nh, uint8_t hlim,
                     const char *src, const char *dst)
{
    tw_u32(w, 6u << 28 | (uint32_t)tc << 20 | flow);
    tw_u16(w, plen);
    tw_u8(w, nh);
    tw_u8(w, hlim);
    tw_ip(w, src);
    tw_ip(w, dst);
}

/* RFC 9293 header of `words` 32-bit words, options NOP-filled. */
static void put_tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint8_t words)
{
    tw_u16(w, sport);
    tw_u16(w, dport);
    tw_u32(w, 1000);     /* sequence */
    tw_u32(w, 2000);     /* acknowledgment */
    tw_u8(w, (uint8_t)(words << 4));
    tw_u8(w, flags);
    tw_u16(w, 65535);    /* window */
    tw_u32(w, 0);        /* checksum, urgent pointer */
    for (unsigned i = 20; i < words * 4u; i++)
        tw_u8(w, 1);
}

static void put_udp(uint16_t sport, uint16_t dport, uint16_t len)
{
    tw_u16(w, sport);
    tw_u16(w, dport);
    tw_u16(w, len);
    tw_u16(w, 0);
}

/* RFC 3032 label stack entry. */
static void put_label(uint32_t label, uint8_t exp, bool bos, uint8_t ttl)
{
    tw_u32(w, label << 12 | (uint32_t)exp << 9 | (uint32_t)bos << 8 | ttl);
}

/* ---- the frames ---- */

#define MAC_A "00:11:22:33:44:55"
#define MAC_B "66:77:88:99:aa:bb"

static void eth_ipv4_tcp(void)
{
    put_eth(MAC_A, MAC_B, 0x0800);
    put_ipv4(0x28, 60, 0x1234, 0x4000, 64, 6, "192.0.2.1", "198.51.100.2");
    put_tcp(443, 51000, 0x12, 8);
    tw_bytes(w, "payload!", 8);
}

/* 802.1ad outer tag, 802.1Q inner tag (priority 5), then IPv6 through
 * hop-by-hop, routing, fragment (first, more follow) and destination
 * options headers to UDP. */
static void qinq_ipv6_udp(void)
{
    put_eth("02:00:00:00:00:01", "02:00:00:00:00:02", 0x88a8);
    put_tag(0x0064, 0x8100);
    put_tag(0xa0c8, 0x86dd);
    put_ipv6(0xb8, 0x12345, 8 + 24 + 8 + 16 + 12, 0, 63, "2001:db8::1", "2001:db8:0:1::53");
    tw_u8(w, 43);       /* hop-by-hop: next routing, 8 bytes */
    tw_u8(w, 0);
    tw_bytes(w, "\x01\x04\0\0\0\0", 6);
    tw_u8(w, 44);       /* routing: next fragment, 24 bytes */
    tw_u8(w, 2);
    tw_u8(w, 4);
    tw_u8(w, 0);
    tw_zero(w, 20);
    tw_u8(w, 60);       /* fragment: next destination options, offset 0, M */
    tw_u8(w, 0);
    tw_u16(w, 0x0001);
    tw_u32(w, 0xdeadbeef);
    tw_u8(w, 17);       /* destination options: next UDP, 16 bytes */
    tw_u8(w, 1);
    tw_u8(w, 1);        /* PadN of 12 */
    tw_u8(w, 12);
    tw_zero(w, 12);
    put_udp(5353, 53, 12);
    tw_bytes(w, "dns?", 4);
}

/* Raw IPv6 with an Authentication Header (RFC 4302: length 4 is 24 bytes). */
static void ipv6_ah_tcp(void)
{
    put_ipv6(0, 0, 24 + 20, 51, 64, "2001:db8::a", "2001:db8::b");
    tw_u8(w, 6);
    tw_u8(w, 4);
    tw_u16(w, 0);
    tw_u32(w, 0x1000);  /* SPI */
    tw_u32(w, 1);       /* sequence */
    tw_zero(w, 12);     /* ICV */
    put_tcp(22, 40000, 0x18, 5);
}

/* Ethernet over MPLS (RFC 4448): two labels, the RFC 4385 control word and
 * the customer's tagged frame. */
static void mpls_cw_eth(void)
{
    put_eth("00:0c:29:00:00:01", "00:0c:29:00:00:02", 0x8847);
    put_label(16000, 0, false, 255);
    put_label(17, 5, true, 254);
    tw_u32(w, 0);
    put_eth("00:50:56:00:00:0a", "00:50:56:00:00:0b", 0x8100);
    put_tag(300, 0x0800);
    put_ipv4(0, 28, 1, 0, 61, 17, "10.0.0.1", "10.0.0.2");
    put_udp(4789, 4790, 8);
}

static void mpls_ipv6(void)
{
    put_eth(MAC_A, MAC_B, 0x8847);
    put_label(24001, 0, true, 64);
    put_ipv6(0, 0, 20, 6, 64, "2001:db8::a", "2001:db8::b");
    put_tcp(179, 33000, 0x02, 5);
}

/* A pseudo-wire without control word whose customer MAC starts with a 0
 * nibble, like a control word would. */
static void mpls_pw_nocw(void)
{
    put_eth(MAC_A, MAC_B, 0x8847);
    put_label(18, 0, true, 64);
    put_eth("00:1b:21:00:00:01", "00:1b:21:00:00:02", 0x0800);
    put_ipv4(0, 36, 7, 0, 64, 17, "10.1.0.1", "10.1.0.2");
    put_udp(123, 123, 16);
    tw_zero(w, 8);
}

/* Eight labels, more than a flow holds, then IPv4 ICMP echo. */
static void mpls_deep(void)
{
    put_eth(MAC_A, MAC_B, 0x8847);
    for (uint32_t i = 0; i < 8; i++)
        put_label(100 + i, 0, i == 7, 64);
    put_ipv4(0, 28, 9, 0, 64, 1, "10.2.0.1", "10.2.0.2");
    tw_u8(w, 8);
    tw_u8(w, 0);
    tw_zero(w, 6);
}

/* ICMP destination unreachable, port unreachable (RFC 792), quoting the
 * start of the offending datagram. */
static void icmp_unreach(void)
{
    put_eth(MAC_A, MAC_B, 0x0800);
    put_ipv4(0xc0, 56, 77, 0, 255, 1, "192.0.2.254", "192.0.2.1");
    tw_u8(w, 3);
    tw_u8(w, 3);
    tw_zero(w, 6);
    put_ipv4(0, 40, 5, 0, 1, 17, "192.0.2.1", "203.0.113.9");
    put_udp(33434, 33435, 20);
}

/* ICMPv6 neighbor solicitation (RFC 4861 section 4.3). */
static void icmpv6_ns(void)
{
    put_eth("33:33:ff:00:00:02", MAC_B, 0x86dd);
    put_ipv6(0, 0, 24, 58, 255, "fe80::1", "ff02::1:ff00:2");
    tw_u8(w, 135);
    tw_u8(w, 0);
    tw_zero(w, 6);
    tw_ip(w, "fe80::2");
}

static void frag_first(void)
{
    put_eth(MAC_A, MAC_B, 0x0800);
    put_ipv4(0, 1500, 0x4242, 0x2000, 64, 17, "198.51.100.7", "198.51.100.8");
    put_udp(500, 4500, 3000);
    tw_zero(w, 16);
}

/* A later fragment: offset 185 (1480 bytes), more to come. */
static void frag_later(void)
{
    put_eth(MAC_A, MAC_B, 0x0800);
    put_ipv4(0, 1500, 0x4242, 0x2000 | 185, 64, 17, "198.51.100.7", "198.51.100.8");
    tw_bytes(w, "\x01\xf4\x11\x94 not a header", 16);
}

static void frag_last(void)
{
    put_eth(MAC_A, MAC_B, 0x0800);
    put_ipv4(0, 60, 0x4242, 370, 64, 17, "198.51.100.7", "198.51.100.8");
    tw_zero(w, 40);
}

/* Raw IPv6 later fragment: offset 100, last one. */
static void ipv6_frag_later(void)
{
    put_ipv6(0, 0, 8 + 16, 44, 64, "2001:db8::1", "2001:db8::2");
    tw_u8(w, 17);
    tw_u8(w, 0);
    tw_u16(w, 100 << 3);
    tw_u32(w, 7);
    tw_zero(w, 16);
}

/* PPPoE session (RFC 2516) carrying PPP IPv4 (0x0021). */
static void pppoe_ipv4(void)
{
    put_eth(MAC_A, MAC_B, 0x8864);
    tw_u8(w, 0x11);
    tw_u8(w, 0);
    tw_u16(w, 0x0101);  /* session */
    tw_u16(w, 2 + 40);
    tw_u16(w, 0x0021);
    put_ipv4(0, 40, 3, 0x4000, 63, 6, "100.64.0.1", "198.51.100.80");
    put_tcp(50000, 80, 0x02, 5);
}

/* Linux cooked v1 (pcap-linktype(7) LINKTYPE_LINUX_SLL) with a tag left in. */
static void sll_tag_ipv6(void)
{
    tw_u16(w, 0);       /* to us */
    tw_u16(w, 1);       /* ARPHRD_ETHER */
    tw_u16(w, 6);
    put_mac(MAC_B);
    tw_u16(w, 0);
    tw_u16(w, 0x8100);
    put_tag(42, 0x86dd);
    put_ipv6(0, 0, 8, 17, 64, "2001:db8::5", "2001:db8::6");
    put_udp(5000, 6000, 8);
}

/* Linux cooked v2 (LINKTYPE_LINUX_SLL2). */
static void sll2_ipv4(void)
{
    tw_u16(w, 0x0800);
    tw_u16(w, 0);
    tw_u32(w, 2);       /* ifindex */
    tw_u16(w, 1);
    tw_u8(w, 4);        /* outgoing */
    tw_u8(w, 6);
    put_mac(MAC_A);
    tw_u16(w, 0);
    put_ipv4(0, 40, 3, 0, 64, 6, "192.0.2.9", "192.0.2.10");
    put_tcp(1234, 443, 0x11, 5);
}

struct build {
    const char *name;
    void (*fn)(void);
    enum fs_frame_link link;
};

static const struct build builds[] = {
    { "eth_ipv4_tcp", eth_ipv4_tcp, FS_FRAME_LINK_ETHERNET },
    { "qinq_ipv6_udp", qinq_ipv6_udp, FS_FRAME_LINK_ETHERNET },
    { "ipv6_ah_tcp", ipv6_ah_tcp, FS_FRAME_LINK_RAW },
    { "mpls_cw_eth", mpls_cw_eth, FS_FRAME_LINK_ETHERNET },
    { "mpls_ipv6", mpls_ipv6, FS_FRAME_LINK_ETHERNET },
    { "mpls_pw_nocw", mpls_pw_nocw, FS_FRAME_LINK_ETHERNET },
    { "mpls_deep", mpls_deep, FS_FRAME_LINK_ETHERNET },
    { "icmp_unreach", icmp_unreach, FS_FRAME_LINK_ETHERNET },
    { "icmpv6_ns", icmpv6_ns, FS_FRAME_LINK_ETHERNET },
    { "frag_first", frag_first, FS_FRAME_LINK_ETHERNET },
    { "frag_later", frag_later, FS_FRAME_LINK_ETHERNET },
    { "frag_last", frag_last, FS_FRAME_LINK_ETHERNET },
    { "ipv6_frag_later", ipv6_frag_later, FS_FRAME_LINK_IPV6 },
    { "pppoe_ipv4", pppoe_ipv4, FS_FRAME_LINK_ETHERNET },
    { "sll_tag_ipv6", sll_tag_ipv6, FS_FRAME_LINK_SLL },
    { "sll2_ipv4", sll2_ipv4, FS_FRAME_LINK_SLL2 },
};
#define NBUILDS (sizeof(builds) / sizeof(builds[0]))

static int build(void (*fn)(void), enum fs_frame_link link, struct fs_frame *fr)
{
    w->len = 0;
    fn();
    return parse(link, fr);
}

/* ---- checks ---- */

static void assert_mac(const uint8_t *mac, const char *text)
{
    char s[18];

    snprintf(s, sizeof(s), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
             mac[4], mac[5]);
    cr_assert_str_eq(s, text);
}

static void assert_ip(const fs_ip *ip, const char *text)
{
    char s[FS_IP_STRLEN];

    cr_assert_str_eq(fs_ip_format(ip, s), text);
}

static void assert_ips(const struct fs_frame *fr, const char *src, const char *dst)
{
    cr_assert(fr->have & FS_FRAME_HAVE_IP);
    assert_ip(&fr->src_addr, src);
    assert_ip(&fr->dst_addr, dst);
}

static void assert_ports(const struct fs_frame *fr, uint16_t sport, uint16_t dport)
{
    cr_assert(fr->have & FS_FRAME_HAVE_PORTS);
    cr_assert_eq(fr->src_port, sport);
    cr_assert_eq(fr->dst_port, dport);
}

/* ---- hand-built frames ---- */

Test(frame, ethernet_ipv4_tcp)
{
    struct fs_frame fr;

    cr_assert_eq(build(eth_ipv4_tcp, FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_OK);
    assert_mac(fr.dst_mac, MAC_A);
    assert_mac(fr.src_mac, MAC_B);
    cr_assert_eq(fr.nvlan, 0);
    cr_assert_eq(fr.mpls_count, 0);
    cr_assert_eq(fr.ip_version, 4);
    assert_ips(&fr, "192.0.2.1", "198.51.100.2");
    cr_assert_eq(fr.proto, 6);
    cr_assert_eq(fr.tos, 0x28);
    cr_assert_eq(fr.ttl, 64);
    cr_assert_eq(fr.ip_len, 60);
    cr_assert_eq(fr.frag_id, 0x1234);
    cr_assert_eq(fr.flags, FS_FRAME_DONT_FRAG);
    assert_ports(&fr, 443, 51000);
    cr_assert(fr.have & FS_FRAME_HAVE_TCP_FLAGS);
    cr_assert_eq(fr.tcp_flags, 0x12);
    cr_assert_not(fr.have & FS_FRAME_HAVE_ICMP);
    cr_assert_eq(fr.l3_off, 14);
    cr_assert_eq(fr.l4_off, 34);
    cr_assert(fr.have & FS_FRAME_HAVE_PAYLOAD);
    cr_assert_eq(fr.payload_off, 66); /* past the 12 bytes of TCP options */
    cr_assert_eq(memcmp(w->b + fr.payload_off, "payload!", 8), 0);
}

Test(frame, qinq_ipv6_extension_headers_udp)
{
    struct fs_frame fr;

    cr_assert_eq(build(qinq_ipv6_udp, FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_OK);
    cr_assert_eq(fr.nvlan, 2);
    cr_assert_eq(fr.vlan[0], 100);
    cr_assert_eq(fr.vlan[1], 200); /* the priority bits are not part of the id */
    cr_assert_eq(fr.ip_version, 6);
    assert_ips(&fr, "2001:db8::1", "2001:db8:0:1::53");
    cr_assert_eq(fr.tos, 0xb8);
    cr_assert_eq(fr.flow_label, 0x12345);
    cr_assert_eq(fr.ttl, 63);
    cr_assert_eq(fr.ip_len, 40 + 68);
    cr_assert_eq(fr.proto, 17, "proto %u: the walk stopped early", fr.proto);
    cr_assert_eq(fr.flags, FS_FRAME_FRAGMENT | FS_FRAME_MORE_FRAGS);
    cr_assert_eq(fr.frag_offset, 0); /* so the first fragment */
    cr_assert_eq(fr.frag_id, 0xdeadbeef);
    cr_assert_eq(fr.l3_off, 22);
    cr_assert_eq(fr.l4_off, 22 + 40 + 8 + 24 + 8 + 16);
    assert_ports(&fr, 5353, 53);
    cr_assert_eq(fr.payload_off, fr.l4_off + 8);
    cr_assert_eq(memcmp(w->b + fr.payload_off, "dns?", 4), 0);
}

Test(frame, ipv6_authentication_header)
{
    struct fs_frame fr;

    cr_assert_eq(build(ipv6_ah_tcp, FS_FRAME_LINK_RAW, &fr), FS_FRAME_OK);
    cr_assert_not(fr.have & FS_FRAME_HAVE_MAC);
    cr_assert_eq(fr.proto, 6);
    cr_assert_eq(fr.l3_off, 0);
    cr_assert_eq(fr.l4_off, 40 + 24);
    assert_ports(&fr, 22, 40000);
    cr_assert_eq(fr.tcp_flags, 0x18);
    cr_assert_eq(fr.payload_off, 84);
    cr_assert_eq(fr.flags, 0);
}

Test(frame, mpls_control_word_inner_ethernet)
{
    struct fs_frame fr;

    cr_assert_eq(build(mpls_cw_eth, FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_OK);
    /* The carrier's MACs, not the customer's, and not the customer's tag. */
    assert_mac(fr.dst_mac, "00:0c:29:00:00:01");
    assert_mac(fr.src_mac, "00:0c:29:00:00:02");
    cr_assert_eq(fr.nvlan, 0);
    cr_assert_eq(fr.mpls_count, 2);
    cr_assert_eq(fr.mpls[0], 16000u << 4);
    cr_assert_eq(fr.mpls[1], 17u << 4 | 5u << 1 | 1u);
    cr_assert_eq(fr.flags, FS_FRAME_PW | FS_FRAME_PW_CW);
    assert_ips(&fr, "10.0.0.1", "10.0.0.2");
    cr_assert_eq(fr.ttl, 61);
    cr_assert_eq(fr.l3_off, 14 + 8 + 4 + 14 + 4);
    assert_ports(&fr, 4789, 4790);
}

Test(frame, mpls_then_ipv6)
{
    struct fs_frame fr;

    cr_assert_eq(build(mpls_ipv6, FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_OK);
    cr_assert_eq(fr.mpls_count, 1);
    cr_assert_eq(fr.mpls[0], 24001u << 4 | 1u);
    cr_assert_eq(fr.flags, 0);
    cr_assert_eq(fr.l3_off, 18);
    assert_ips(&fr, "2001:db8::a", "2001:db8::b");
    assert_ports(&fr, 179, 33000);
    cr_assert_eq(fr.tcp_flags, 0x02);
}

Test(frame, mpls_pseudowire_without_control_word)
{
    struct fs_frame fr;

    cr_assert_eq(build(mpls_pw_nocw, FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_OK);
    cr_assert_eq(fr.flags, FS_FRAME_PW);
    cr_assert_eq(fr.l3_off, 14 + 4 + 14);
    assert_ips(&fr, "10.1.0.1", "10.1.0.2");
    assert_ports(&fr, 123, 123);
}

Test(frame, mpls_stack_longer_than_a_flow_holds)
{
    struct fs_frame fr;

    cr_assert_eq(build(mpls_deep, FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_OK);
    cr_assert_eq(fr.mpls_count, FS_FLOW_MPLS_MAX);
    for (unsigned i = 0; i < FS_FLOW_MPLS_MAX; i++)
        cr_assert_eq(fr.mpls[i] >> 4, 100 + i);
    cr_assert_eq(fr.mpls[FS_FLOW_MPLS_MAX - 1] & 1, 0, "bottom of stack not reached yet");
    cr_assert(fr.flags & FS_FRAME_MPLS_MORE);
    cr_assert_eq(fr.l3_off, 14 + 8 * 4);
    cr_assert_eq(fr.proto, 1);
    cr_assert(fr.have & FS_FRAME_HAVE_ICMP);
    cr_assert_eq(fr.icmp_type, 8);
}

Test(frame, icmp)
{
    struct fs_frame fr;

    cr_assert_eq(build(icmp_unreach, FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_OK);
    cr_assert_eq(fr.proto, 1);
    cr_assert_eq(fr.tos, 0xc0);
    cr_assert(fr.have & FS_FRAME_HAVE_ICMP);
    cr_assert_eq(fr.icmp_type, 3);
    cr_assert_eq(fr.icmp_code, 3);
    /* The quoted datagram's ports are not the packet's. */
    cr_assert_not(fr.have & FS_FRAME_HAVE_PORTS);
    cr_assert_eq(fr.payload_off, 14 + 20 + 8);
}

Test(frame, icmpv6)
{
    struct fs_frame fr;

    cr_assert_eq(build(icmpv6_ns, FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_OK);
    cr_assert_eq(fr.proto, 58);
    cr_assert_eq(fr.ttl, 255);
    assert_ips(&fr, "fe80::1", "ff02::1:ff00:2");
    cr_assert(fr.have & FS_FRAME_HAVE_ICMP);
    cr_assert_eq(fr.icmp_type, 135);
    cr_assert_eq(fr.icmp_code, 0);
    cr_assert_not(fr.have & FS_FRAME_HAVE_PORTS);
}

Test(frame, ipv4_first_fragment_has_ports)
{
    struct fs_frame fr;

    cr_assert_eq(build(frag_first, FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_OK);
    cr_assert_eq(fr.flags, FS_FRAME_FRAGMENT | FS_FRAME_MORE_FRAGS);
    cr_assert_eq(fr.frag_offset, 0);
    cr_assert_eq(fr.frag_id, 0x4242);
    assert_ports(&fr, 500, 4500);
}

Test(frame, ipv4_later_fragments_have_no_transport_header)
{
    struct fs_frame fr;

    cr_assert_eq(build(frag_later, FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_OK);
    cr_assert_eq(fr.flags, FS_FRAME_FRAGMENT | FS_FRAME_MORE_FRAGS);
    cr_assert_eq(fr.frag_offset, 185);
    cr_assert_eq(fr.frag_id, 0x4242);
    cr_assert(fr.have & FS_FRAME_HAVE_PROTO);
    cr_assert_eq(fr.proto, 17);
    cr_assert_eq(fr.l4_off, 34);
    /* The data starts with bytes that would read as ports 500 -> 4500. */
    cr_assert_not(fr.have & (FS_FRAME_HAVE_PORTS | FS_FRAME_HAVE_PAYLOAD));

    cr_assert_eq(build(frag_last, FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_OK);
    cr_assert_eq(fr.flags, FS_FRAME_FRAGMENT);
    cr_assert_eq(fr.frag_offset, 370);
    cr_assert_not(fr.have & FS_FRAME_HAVE_PORTS);
}

Test(frame, ipv6_later_fragment)
{
    struct fs_frame fr;

    cr_assert_eq(build(ipv6_frag_later, FS_FRAME_LINK_IPV6, &fr), FS_FRAME_OK);
    cr_assert_eq(fr.flags, FS_FRAME_FRAGMENT);
    cr_assert_eq(fr.frag_offset, 100);
    cr_assert_eq(fr.frag_id, 7);
    cr_assert_eq(fr.proto, 17);
    cr_assert_eq(fr.l4_off, 48);
    cr_assert_not(fr.have & FS_FRAME_HAVE_PORTS);
}

Test(frame, ipv6_atomic_fragment_is_not_a_fragment)
{
    struct fs_frame fr;

    /* RFC 6946: offset 0 and no M is a whole packet with a Fragment header. */
    put_ipv6(0, 0, 16, 44, 64, "2001:db8::1", "2001:db8::2");
    tw_u8(w, 17);
    tw_u8(w, 0);
    tw_u16(w, 0);
    tw_u32(w, 99);
    put_udp(53, 53, 8);
    cr_assert_eq(parse(FS_FRAME_LINK_RAW, &fr), FS_FRAME_OK);
    cr_assert_eq(fr.flags, 0);
    cr_assert_eq(fr.frag_id, 99);
    assert_ports(&fr, 53, 53);
}

Test(frame, pppoe)
{
    struct fs_frame fr;

    cr_assert_eq(build(pppoe_ipv4, FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_OK);
    cr_assert_eq(fr.l3_off, 22);
    assert_ips(&fr, "100.64.0.1", "198.51.100.80");
    assert_ports(&fr, 50000, 80);

    /* LCP (0xc021) is PPP's own business. */
    w->b[20] = 0xc0;
    cr_assert_eq(parse(FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_NOT_IP);
    cr_assert(fr.have & FS_FRAME_HAVE_MAC);
}

Test(frame, linux_cooked)
{
    struct fs_frame fr;

    cr_assert_eq(build(sll_tag_ipv6, FS_FRAME_LINK_SLL, &fr), FS_FRAME_OK);
    cr_assert_not(fr.have & FS_FRAME_HAVE_MAC);
    cr_assert_eq(fr.nvlan, 1);
    cr_assert_eq(fr.vlan[0], 42);
    cr_assert_eq(fr.l3_off, 20);
    assert_ips(&fr, "2001:db8::5", "2001:db8::6");
    assert_ports(&fr, 5000, 6000);

    cr_assert_eq(build(sll2_ipv4, FS_FRAME_LINK_SLL2, &fr), FS_FRAME_OK);
    cr_assert_eq(fr.l3_off, 20);
    assert_ips(&fr, "192.0.2.9", "192.0.2.10");
    assert_ports(&fr, 1234, 443);
    cr_assert_eq(fr.tcp_flags, 0x11);
}

Test(frame, raw_ip_link_types)
{
    struct fs_frame fr;

    put_ipv4(0, 28, 1, 0, 64, 17, "192.0.2.1", "192.0.2.2");
    put_udp(1, 2, 8);
    cr_assert_eq(parse(FS_FRAME_LINK_RAW, &fr), FS_FRAME_OK);
    cr_assert_eq(fr.ip_version, 4);
    cr_assert_eq(parse(FS_FRAME_LINK_IPV4, &fr), FS_FRAME_OK);
    assert_ports(&fr, 1, 2);
    cr_assert_eq(parse(FS_FRAME_LINK_IPV6, &fr), FS_FRAME_MALFORMED);
    cr_assert_not(fr.have & FS_FRAME_HAVE_IP);

    w->b[0] = 0x55; /* version 5: not IP to a link that guesses */
    cr_assert_eq(parse(FS_FRAME_LINK_RAW, &fr), FS_FRAME_NOT_IP);
    cr_assert_eq(parse(FS_FRAME_LINK_IPV4, &fr), FS_FRAME_MALFORMED);
    cr_assert_eq(parse_n(w->b, 0, FS_FRAME_LINK_RAW, &fr), FS_FRAME_TRUNCATED);
    cr_assert_eq(fs_frame_parse(NULL, 0, FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_TRUNCATED);
    cr_assert_eq(fs_frame_parse(w->b, w->len, (enum fs_frame_link)99, &fr), FS_FRAME_NOT_IP);
}

/* BSD loopback (DLT_NULL in the writer's byte order, DLT_LOOP in network
 * order): a 4-byte address family, AF_INET 2, AF_INET6 10, 24, 28 or 30. */
Test(frame, bsd_loopback_link)
{
    struct fs_frame fr;

    tw_u32(w, 0x02000000); /* AF_INET, written little-endian */
    put_ipv4(0, 28, 1, 0, 64, 17, "192.0.2.1", "192.0.2.2");
    put_udp(1, 2, 8);
    cr_assert_eq(parse(FS_FRAME_LINK_NULL, &fr), FS_FRAME_OK);
    cr_assert_eq(fr.l3_off, 4);
    assert_ips(&fr, "192.0.2.1", "192.0.2.2");
    assert_ports(&fr, 1, 2);
    cr_assert_eq(fr.payload_off, 4 + 28);

    w->len = 0;
    tw_u32(w, 30); /* AF_INET6 on Darwin, network order */
    put_ipv6(0, 0, 8, 17, 64, "2001:db8::1", "2001:db8::2");
    put_udp(3, 4, 8);
    cr_assert_eq(parse(FS_FRAME_LINK_NULL, &fr), FS_FRAME_OK);
    assert_ips(&fr, "2001:db8::1", "2001:db8::2");
    assert_ports(&fr, 3, 4);

    w->b[3] = 7; /* another family: no IP */
    cr_assert_eq(parse(FS_FRAME_LINK_NULL, &fr), FS_FRAME_NOT_IP);
    w->b[3] = 2; /* says IPv4, holds IPv6 */
    cr_assert_eq(parse(FS_FRAME_LINK_NULL, &fr), FS_FRAME_MALFORMED);
    cr_assert_eq(parse_n(w->b, 3, FS_FRAME_LINK_NULL, &fr), FS_FRAME_TRUNCATED);
}

Test(frame, mpls_label_stack_link)
{
    struct fs_frame fr;

    /* IPFIX mplsLabelStackSection: the stack, then (here) the packet. */
    put_label(30, 1, false, 10);
    put_label(31, 2, true, 10);
    put_ipv4(0, 28, 1, 0, 64, 17, "192.0.2.1", "192.0.2.2");
    put_udp(1, 2, 8);
    cr_assert_eq(parse(FS_FRAME_LINK_MPLS, &fr), FS_FRAME_OK);
    cr_assert_eq(fr.mpls_count, 2);
    cr_assert_eq(fr.mpls[0], 30u << 4 | 1u << 1);
    cr_assert_eq(fr.mpls[1], 31u << 4 | 2u << 1 | 1u);
    assert_ports(&fr, 1, 2);

    /* The stack alone: what follows is not known yet. */
    cr_assert_eq(parse_n(w->b, 8, FS_FRAME_LINK_MPLS, &fr), FS_FRAME_TRUNCATED);
    cr_assert_eq(fr.mpls_count, 2);

    /* RFC 5586 G-ACh (first nibble 1) carries OAM, not IP. */
    w->b[8] = 0x10;
    cr_assert_eq(parse(FS_FRAME_LINK_MPLS, &fr), FS_FRAME_NOT_IP);
}

Test(frame, not_ip)
{
    struct fs_frame fr;

    put_eth("ff:ff:ff:ff:ff:ff", MAC_B, 0x0806); /* ARP request */
    tw_bytes(w, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
    tw_zero(w, 20);
    cr_assert_eq(parse(FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_NOT_IP);
    assert_mac(fr.dst_mac, "ff:ff:ff:ff:ff:ff");
    assert_mac(fr.src_mac, MAC_B);
    cr_assert_not(fr.have & FS_FRAME_HAVE_IP);

    w->len = 0;
    put_eth("01:80:c2:00:00:00", MAC_B, 38); /* 802.3 length: STP over LLC */
    tw_bytes(w, "\x42\x42\x03", 3);
    tw_zero(w, 35);
    cr_assert_eq(parse(FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_NOT_IP);
}

Test(frame, malformed)
{
    struct fs_frame fr;

    eth_ipv4_tcp();
    w->b[14] = 0x44; /* IHL 4: shorter than the fixed header */
    cr_assert_eq(parse(FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_MALFORMED);
    cr_assert_not(fr.have & FS_FRAME_HAVE_IP);

    w->b[14] = 0x65; /* the ethertype says IPv4, the header says 6 */
    cr_assert_eq(parse(FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_MALFORMED);

    w->b[14] = 0x45;
    w->b[34 + 12] = 0x40; /* TCP data offset 4 words */
    cr_assert_eq(parse(FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_MALFORMED);
    assert_ports(&fr, 443, 51000); /* read before the damage */
    cr_assert_not(fr.have & FS_FRAME_HAVE_PAYLOAD);

    /* Tags upon tags: the walk gives up instead of running on. */
    w->len = 0;
    put_eth(MAC_A, MAC_B, 0x8100);
    for (int i = 0; i < 40; i++)
        put_tag((uint16_t)i, 0x8100);
    tw_zero(w, 20);
    cr_assert_eq(parse(FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_MALFORMED);
    cr_assert_eq(fr.nvlan, FS_FRAME_VLAN_MAX);
    cr_assert(fr.flags & FS_FRAME_VLAN_MORE);
}

/* ---- truncation ---- */

/* Every field that `a` says it has matches the complete parse `full`. */
static void assert_agrees(const char *name, size_t n, const struct fs_frame *a,
                          const struct fs_frame *full)
{
    uint32_t h = a->have;

    cr_assert_eq(h & ~full->have, 0, "%s/%zu: have %#x, full %#x", name, n, h, full->have);
    cr_assert_leq(a->nvlan, full->nvlan, "%s/%zu", name, n);
    cr_assert_eq(memcmp(a->vlan, full->vlan, a->nvlan * sizeof(a->vlan[0])), 0);
    cr_assert_leq(a->mpls_count, full->mpls_count, "%s/%zu", name, n);
    cr_assert_eq(memcmp(a->mpls, full->mpls, a->mpls_count * sizeof(a->mpls[0])), 0);
    if (h & FS_FRAME_HAVE_MAC)
        cr_assert(!memcmp(a->src_mac, full->src_mac, 6) && !memcmp(a->dst_mac, full->dst_mac, 6));
    if (h & FS_FRAME_HAVE_IP) {
        cr_assert(a->ip_version == full->ip_version && a->tos == full->tos &&
                      a->ttl == full->ttl && a->ip_len == full->ip_len &&
                      a->l3_off == full->l3_off &&
                      !memcmp(&a->src_addr, &full->src_addr, sizeof(fs_ip)) &&
                      !memcmp(&a->dst_addr, &full->dst_addr, sizeof(fs_ip)),
                  "%s/%zu: IP header fields differ", name, n);
    }
    if (h & FS_FRAME_HAVE_PROTO)
        cr_assert(a->proto == full->proto && a->l4_off == full->l4_off &&
                      a->frag_offset == full->frag_offset && a->frag_id == full->frag_id,
                  "%s/%zu", name, n);
    if (h & FS_FRAME_HAVE_PORTS)
        cr_assert(a->src_port == full->src_port && a->dst_port == full->dst_port);
    if (h & FS_FRAME_HAVE_TCP_FLAGS)
        cr_assert_eq(a->tcp_flags, full->tcp_flags);
    if (h & FS_FRAME_HAVE_ICMP)
        cr_assert(a->icmp_type == full->icmp_type && a->icmp_code == full->icmp_code);
    if (h & FS_FRAME_HAVE_PAYLOAD)
        cr_assert_eq(a->payload_off, full->payload_off);
}

Test(frame, truncated_at_every_length)
{
    for (size_t b = 0; b < NBUILDS; b++) {
        struct fs_frame full, prev = { 0 }, fr;
        size_t end;

        cr_assert_eq(build(builds[b].fn, builds[b].link, &full), FS_FRAME_OK, "%s",
                     builds[b].name);
        /* Where the headers end: the payload, or a later fragment's data. */
        end = full.have & FS_FRAME_HAVE_PAYLOAD ? full.payload_off : full.l4_off;
        cr_assert_leq(end, w->len);
        for (size_t n = 0; n <= w->len; n++) {
            int r = parse_n(w->b, n, builds[b].link, &fr);

            cr_assert_eq(r, n >= end ? FS_FRAME_OK : FS_FRAME_TRUNCATED, "%s cut at %zu: %s",
                         builds[b].name, n, fs_frame_result_name(r));
            assert_agrees(builds[b].name, n, &fr, &full);
            cr_assert_eq(prev.have & ~fr.have, 0, "%s/%zu: a longer cut lost fields",
                         builds[b].name, n);
            if (fr.have & FS_FRAME_HAVE_PAYLOAD)
                cr_assert_leq(fr.payload_off, n);
            prev = fr;
        }
    }
}

Test(frame, ipv4_options_cut_short)
{
    struct fs_frame fr;

    put_eth(MAC_A, MAC_B, 0x0800);
    put_ipv4(0, 44, 1, 0, 64, 6, "192.0.2.1", "192.0.2.2");
    w->b[14] = 0x46; /* one word of options, then nothing */
    cr_assert_eq(parse(FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_TRUNCATED);
    cr_assert(fr.have & FS_FRAME_HAVE_PROTO);
    cr_assert_eq(fr.l4_off, 14 + 24); /* past the bytes, as the header says */
    cr_assert_not(fr.have & FS_FRAME_HAVE_PORTS);
}

/* ---- random and mutated input ---- */

static uint64_t rng = 2463534242u;

static void check_sane(const struct fs_frame *fr, size_t n, int r)
{
    cr_assert(r >= FS_FRAME_OK && r <= FS_FRAME_MALFORMED);
    cr_assert_leq(fr->nvlan, FS_FRAME_VLAN_MAX);
    cr_assert_leq(fr->mpls_count, FS_FLOW_MPLS_MAX);
    if (fr->have & FS_FRAME_HAVE_IP)
        cr_assert_lt(fr->l3_off, n);
    if (fr->have & FS_FRAME_HAVE_PAYLOAD)
        cr_assert_leq(fr->payload_off, n);
    if (r == FS_FRAME_OK)
        cr_assert(fr->have & FS_FRAME_HAVE_PROTO);
}

Test(frame, random_and_mutated_bytes)
{
    struct fs_frame fr;
    uint8_t buf[160];

    for (int i = 0; i < 100000; i++) {
        size_t n = trng_next(&rng) % sizeof(buf);
        enum fs_frame_link link =
            (enum fs_frame_link)(trng_next(&rng) % (FS_FRAME_LINK_NULL + 1));

        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)trng_next(&rng);
        check_sane(&fr, n, parse_n(buf, n, link, &fr));
    }
    for (size_t b = 0; b < NBUILDS; b++) {
        w->len = 0;
        builds[b].fn();
        for (int i = 0; i < 5000; i++) {
            size_t n = w->len;

            memcpy(buf, w->b, n < sizeof(buf) ? n : sizeof(buf));
            n = n < sizeof(buf) ? n : sizeof(buf);
            for (int k = 0; k < 3; k++)
                buf[trng_next(&rng) % n] = (uint8_t)trng_next(&rng);
            n = trng_next(&rng) % (n + 1);
            check_sane(&fr, n, parse_n(buf, n, builds[b].link, &fr));
        }
    }
}

/* ---- into a flow ---- */

Test(frame, to_flow_keeps_the_records_fields)
{
    struct fs_frame fr;
    struct fs_flow f;

    cr_assert_eq(build(mpls_cw_eth, FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_OK);
    fs_flow_init(&f);
    f.src_addr = tw_addr("203.0.113.1");
    FS_FLOW_SET(&f, FS_F_SRC_ADDR);
    f.proto = 47;
    FS_FLOW_SET(&f, FS_F_PROTO);
    fs_frame_to_flow(&fr, &f);

    assert_ip(&f.src_addr, "203.0.113.1");
    cr_assert_eq(f.proto, 47);
    cr_assert(FS_FLOW_HAS(&f, FS_F_DST_ADDR));
    assert_ip(&f.dst_addr, "10.0.0.2");
    cr_assert(FS_FLOW_HAS(&f, FS_F_SRC_PORT) && FS_FLOW_HAS(&f, FS_F_DST_PORT));
    cr_assert_eq(f.src_port, 4789);
    cr_assert_eq(f.dst_port, 4790);
    cr_assert(FS_FLOW_HAS(&f, FS_F_IP_VERSION));
    cr_assert_eq(f.ip_version, 4);
    cr_assert(FS_FLOW_HAS(&f, FS_F_TOS));
    cr_assert(FS_FLOW_HAS(&f, FS_F_SRC_MAC) && FS_FLOW_HAS(&f, FS_F_DST_MAC));
    assert_mac(f.src_mac, "00:0c:29:00:00:02");
    cr_assert(FS_FLOW_HAS(&f, FS_F_MPLS));
    cr_assert_eq(f.mpls_count, 2);
    cr_assert_eq(f.mpls[1] >> 4, 17);
    cr_assert_not(FS_FLOW_HAS(&f, FS_F_TCP_FLAGS)); /* UDP */
    cr_assert_not(FS_FLOW_HAS(&f, FS_F_ICMP));
    cr_assert_not(FS_FLOW_HAS(&f, FS_F_SRC_VLAN));
    cr_assert_not(FS_FLOW_HAS(&f, FS_F_PACKETS));
}

Test(frame, to_flow_vlan_follows_direction)
{
    struct fs_frame fr;
    struct fs_flow f;

    cr_assert_eq(build(qinq_ipv6_udp, FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_OK);
    fs_flow_init(&f);
    fs_frame_to_flow(&fr, &f);
    cr_assert(FS_FLOW_HAS(&f, FS_F_SRC_VLAN));
    cr_assert_not(FS_FLOW_HAS(&f, FS_F_DST_VLAN));
    cr_assert_eq(f.src_vlan, 100);

    fs_flow_init(&f);
    f.direction = 1;
    FS_FLOW_SET(&f, FS_F_DIRECTION);
    fs_frame_to_flow(&fr, &f);
    cr_assert_not(FS_FLOW_HAS(&f, FS_F_SRC_VLAN));
    cr_assert(FS_FLOW_HAS(&f, FS_F_DST_VLAN));
    cr_assert_eq(f.dst_vlan, 100);

    cr_assert_eq(build(icmpv6_ns, FS_FRAME_LINK_ETHERNET, &fr), FS_FRAME_OK);
    fs_flow_init(&f);
    f.icmp_type = 1;
    FS_FLOW_SET(&f, FS_F_ICMP);
    fs_frame_to_flow(&fr, &f);
    cr_assert_eq(f.icmp_type, 1);
    cr_assert_not(FS_FLOW_HAS(&f, FS_F_SRC_VLAN));
    cr_assert_not(FS_FLOW_HAS(&f, FS_F_SRC_PORT));
}

Test(frame, result_names)
{
    cr_assert_str_eq(fs_frame_result_name(FS_FRAME_OK), "ok");
    cr_assert_str_eq(fs_frame_result_name(FS_FRAME_TRUNCATED), "truncated");
    cr_assert_str_eq(fs_frame_result_name(FS_FRAME_NOT_IP), "not_ip");
    cr_assert_str_eq(fs_frame_result_name(FS_FRAME_MALFORMED), "malformed");
    cr_assert_str_eq(fs_frame_result_name(-7), "unknown");
}

/* ---- real frame sections (IPFIX dataLinkFrameSection, IE 315) ---- */

#define CAPTURES FS_CAPTURES "/akvorado/netflow/"
#define MAX_FIELDS 16
#define MAX_SECTIONS 16

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Reads the one template of the template capture (RFC 7011 section 3.4.1),
 * then walks the records of the data capture and keeps the bytes of every
 * IE 315 (variable length, section 7). The two captures are one exporter's. */
static size_t frame_sections(const char *prefix, uint8_t *sec[], size_t seclen[])
{
    char path[512];
    uint16_t tid, nf, id[MAX_FIELDS], len[MAX_FIELDS];
    size_t n = 0, off, end;
    const uint8_t *m = w->b;

    snprintf(path, sizeof(path), CAPTURES "%s-template.pcap", prefix);
    cr_assert_gt(tw_pcap_payload(path, w), 24, "%s", path);
    cr_assert_eq(be16(m), 10);
    cr_assert_eq(be16(m + 16), 2, "not a template set");
    tid = be16(m + 20);
    nf = be16(m + 22);
    cr_assert_leq(nf, MAX_FIELDS);
    for (uint16_t i = 0; i < nf; i++) {
        id[i] = be16(m + 24 + 4 * i);
        len[i] = be16(m + 26 + 4 * i);
        cr_assert_eq(id[i] & 0x8000, 0, "enterprise fields are not expected here");
    }

    snprintf(path, sizeof(path), CAPTURES "%s-data.pcap", prefix);
    cr_assert_gt(tw_pcap_payload(path, w), 20, "%s", path);
    cr_assert_eq(be16(m + 16), tid);
    end = 16 + be16(m + 18);
    cr_assert_leq(end, w->len);
    off = 20;
    while (off < end) {
        for (uint16_t i = 0; i < nf; i++) {
            size_t l = len[i];

            if (l == 65535) {
                cr_assert_lt(off, end);
                l = m[off++];
                if (l == 255) {
                    cr_assert_leq(off + 2, end);
                    l = be16(m + off);
                    off += 2;
                }
            }
            cr_assert_leq(off + l, end, "record overruns the set");
            if (id[i] == 315) {
                cr_assert_lt(n, MAX_SECTIONS);
                sec[n] = malloc(l ? l : 1);
                cr_assert_not_null(sec[n]);
                memcpy(sec[n], m + off, l);
                seclen[n++] = l;
            }
            off += l;
        }
    }
    return n;
}

/* What tshark 4.0 shows for the frame sections: `tshark -V` of the template
 * and data captures merged, and, for the fourth EoMPLS record, the section
 * written to a pcap and decoded with `-d mpls.label==17,pwethcw` (tshark's
 * own guess takes that frame for a pseudo-wire without control word, with
 * MACs 00:00:00:00:02:00 and ethertype 0x0000). */
struct seen {
    const char *src_mac, *dst_mac;
    uint16_t vlan;       /* 0: untagged */
    uint32_t label[2];   /* 0: no MPLS */
    const char *src, *dst;
    uint8_t proto;
    uint16_t sport, dport;
    int tcp_flags;       /* -1: not TCP */
    uint8_t tos, ttl;
    uint16_t ip_len;
};

#define PW_LABELS { 300012u << 4 | 1u << 1, 17u << 4 | 1u << 1 | 1u }

static const struct seen datalink_seen[] = {
    { "b4:02:16:55:92:f4", "18:2a:d3:6e:50:3f", 231, { 0 }, "51.51.51.51", "52.52.52.52", 17,
      55501, 11777, -1, 0, 119, 96 },
};

static const struct seen eompls_seen[] = {
    { "02:00:00:00:00:07", "02:00:00:00:00:11", 1000, { 0 }, "198.51.100.19", "198.51.100.20",
      6, 80, 43908, 0x10, 0, 59, 1440 },
    { "02:00:00:00:00:09", "02:00:00:00:00:0a", 1610, { 0 }, "198.51.100.7", "198.51.100.8", 6,
      443, 59706, 0x10, 0, 62, 1500 },
    { "02:00:00:00:00:04", "02:00:00:00:00:03", 0, PW_LABELS, "198.51.100.3", "198.51.100.4", 6,
      443, 28911, 0x10, 0x20, 62, 1500 },
    { "02:00:00:00:00:04", "02:00:00:00:00:03", 0, PW_LABELS, "198.51.100.1", "198.51.100.2", 6,
      443, 55427, 0x10, 0x20, 62, 1492 },
    { "02:00:00:00:00:07", "02:00:00:00:00:11", 1000, { 0 }, "198.51.100.5", "198.51.100.6", 17,
      443, 10000, -1, 0, 62, 965 },
    { "02:00:00:00:00:0b", "02:00:00:00:00:0c", 27, { 0 }, "198.51.100.9", "198.51.100.10", 6,
      443, 1470, 0x10, 0, 59, 1440 },
    { "02:00:00:00:00:0d", "02:00:00:00:00:0e", 1122, { 0 }, "198.51.100.11", "198.51.100.12", 6,
      443, 59522, 0x18, 0, 59, 1500 },
    { "02:00:00:00:00:0b", "02:00:00:00:00:0d", 27, { 0 }, "198.51.100.13", "198.51.100.14", 6,
      8887, 57478, 0x18, 0, 62, 1500 },
    { "02:00:00:00:00:0b", "02:00:00:00:00:0a", 27, { 0 }, "198.51.100.15", "198.51.100.16", 6,
      443, 6921, 0x10, 0, 118, 1500 },
    { "02:00:00:00:00:0f", "02:00:00:00:00:10", 0, { 0 }, "198.51.100.17", "198.51.100.18", 6,
      443, 64028, 0x10, 0, 60, 1500 },
};

static void check_sections(const char *prefix, const struct seen *want, size_t nwant)
{
    uint8_t *sec[MAX_SECTIONS];
    size_t seclen[MAX_SECTIONS];
    size_t n = frame_sections(prefix, sec, seclen);

    cr_assert_eq(n, nwant, "%s: %zu sections", prefix, n);
    for (size_t i = 0; i < n; i++) {
        const struct seen *s = &want[i];
        struct fs_frame fr;
        int r = fs_frame_parse(sec[i], seclen[i], FS_FRAME_LINK_ETHERNET, &fr);

        cr_assert_eq(r, FS_FRAME_OK, "%s #%zu: %s", prefix, i, fs_frame_result_name(r));
        assert_mac(fr.src_mac, s->src_mac);
        assert_mac(fr.dst_mac, s->dst_mac);
        cr_assert_eq(fr.nvlan, s->vlan ? 1 : 0, "%s #%zu", prefix, i);
        if (s->vlan)
            cr_assert_eq(fr.vlan[0], s->vlan);
        if (s->label[0]) {
            cr_assert_eq(fr.mpls_count, 2);
            cr_assert_eq(fr.mpls[0], s->label[0]);
            cr_assert_eq(fr.mpls[1], s->label[1]);
            cr_assert_eq(fr.flags & (FS_FRAME_PW | FS_FRAME_PW_CW), FS_FRAME_PW | FS_FRAME_PW_CW);
        } else {
            cr_assert_eq(fr.mpls_count, 0);
        }
        assert_ips(&fr, s->src, s->dst);
        cr_assert_eq(fr.proto, s->proto);
        assert_ports(&fr, s->sport, s->dport);
        if (s->tcp_flags >= 0)
            cr_assert_eq(fr.tcp_flags, s->tcp_flags, "%s #%zu", prefix, i);
        else
            cr_assert_not(fr.have & FS_FRAME_HAVE_TCP_FLAGS);
        cr_assert_eq(fr.tos, s->tos);
        cr_assert_eq(fr.ttl, s->ttl);
        cr_assert_eq(fr.ip_len, s->ip_len, "%s #%zu", prefix, i);
        free(sec[i]);
    }
}

Test(frame, ipfix_datalink_section_matches_tshark)
{
    check_sections("datalink", datalink_seen, 1);
}

Test(frame, ipfix_ethernet_over_mpls_sections_match_tshark)
{
    check_sections("ethernet-over-mpls-with-control-word", eompls_seen,
                   sizeof(eompls_seen) / sizeof(eompls_seen[0]));
}
