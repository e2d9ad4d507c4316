/*
 * pktbuild.c - hand-built packets and capture files for tests (see
 * pktbuild.h).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktbuild.h"

static void be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
    be16(p, (uint16_t)(v >> 16));
    be16(p + 2, (uint16_t)v);
}

static bool is_v6(const struct pkt *p)
{
    return strchr(p->src, ':') != NULL;
}

static size_t transport_len(const struct pkt *p)
{
    if (p->frag && p->frag_offset)
        return 0;
    switch (p->proto) {
    case 6: return 20;
    case 17: return 8;
    case 1: case 58: return 8;
    default: return 0;
    }
}

static size_t ip_header_len(const struct pkt *p)
{
    if (!is_v6(p))
        return 20;
    return 40 + 8u * p->v6_ext + (p->frag ? 8u : 0u);
}

size_t pkt_ip_len(const struct pkt *p)
{
    return ip_header_len(p) + transport_len(p) + p->payload;
}

/* RFC 1071 checksum of the IPv4 header, so that tools that check it agree. */
static uint16_t ip_checksum(const uint8_t *h, size_t n)
{
    uint32_t sum = 0;

    for (size_t i = 0; i < n; i += 2)
        sum += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static size_t link_header(const struct pkt *p, uint8_t *o)
{
    static const uint8_t dst_mac[6] = {0x00, 0x00, 0x5e, 0x00, 0x53, 0x01};
    static const uint8_t src_mac[6] = {0x00, 0x00, 0x5e, 0x00, 0x53, 0x02};
    uint16_t et = is_v6(p) ? 0x86dd : 0x0800;
    size_t n = 0;

    switch (p->dlt) {
    case DLT_EN10MB:
        memcpy(o, dst_mac, 6);
        memcpy(o + 6, src_mac, 6);
        n = 12;
        cr_assert_leq(p->nvlan, 2);
        for (unsigned i = 0; i < p->nvlan; i++) {
            /* 802.1ad S-tag outside, 802.1Q C-tag inside */
            be16(o + n, p->nvlan == 2 && i == 0 ? 0x88a8 : 0x8100);
            be16(o + n + 2, p->vlan[i] & 0x0fff);
            n += 4;
        }
        be16(o + n, et);
        return n + 2;
    case DLT_LINUX_SLL:
        be16(o, 0);          /* packet type: to us */
        be16(o + 2, 1);      /* ARPHRD_ETHER */
        be16(o + 4, 6);      /* address length */
        memset(o + 6, 0, 8);
        memcpy(o + 6, src_mac, 6);
        be16(o + 14, et);
        return 16;
    case DLT_LINUX_SLL2:
        be16(o, et);
        be16(o + 2, 0);      /* reserved */
        be32(o + 4, p->sll2_ifindex);
        be16(o + 8, 1);      /* ARPHRD_ETHER */
        o[10] = 0;           /* packet type */
        o[11] = 6;
        memset(o + 12, 0, 8);
        memcpy(o + 12, src_mac, 6);
        return 20;
    case DLT_RAW:
        return 0;
    default:
        cr_assert_fail("pkt_build: link type %d", p->dlt);
        return 0;
    }
}

static void addr(const char *text, int af, uint8_t *out)
{
    cr_assert_eq(inet_pton(af, text, out), 1, "pkt_build: bad address %s", text);
}

size_t pkt_build(const struct pkt *p, uint8_t *out)
{
    size_t n = link_header(p, out), ip = n, total = pkt_ip_len(p);
    uint8_t *h = out + ip;

    cr_assert_leq(n + total, PKT_MAX);
    memset(h, 0, total);
    if (!is_v6(p)) {
        uint16_t frag = (uint16_t)((p->more_frags ? 0x2000 : 0) | (p->frag_offset & 0x1fff));

        h[0] = 0x45;
        h[1] = p->tos;
        be16(h + 2, (uint16_t)total);
        be16(h + 4, (uint16_t)p->frag_id);
        be16(h + 6, p->frag ? frag : 0x4000); /* whole datagrams: DF */
        h[8] = 64;
        h[9] = p->proto;
        addr(p->src, AF_INET, h + 12);
        addr(p->dst, AF_INET, h + 16);
        be16(h + 10, ip_checksum(h, 20));
        n += 20;
    } else {
        /* extension headers in RFC 8200 order, then the Fragment header */
        static const uint8_t ext_types[] = {0, 60, 43};
        uint8_t *nh = h + 6;

        cr_assert_leq(p->v6_ext, 3);
        be32(h, 6u << 28 | (uint32_t)p->tos << 20);
        be16(h + 4, (uint16_t)(total - 40));
        h[7] = 64;
        addr(p->src, AF_INET6, h + 8);
        addr(p->dst, AF_INET6, h + 24);
        n += 40;
        for (unsigned i = 0; i < p->v6_ext; i++) {
            *nh = ext_types[i];
            nh = out + n;
            out[n + 1] = 0; /* 8 bytes */
            if (ext_types[i] == 43) {
                out[n + 2] = 4; /* segment routing header, no segment left */
            } else {
                out[n + 2] = 1; /* PadN option of 4 bytes */
                out[n + 3] = 4;
            }
            n += 8;
        }
        if (p->frag) {
            *nh = 44;
            nh = out + n;
            be16(out + n + 2, (uint16_t)(p->frag_offset << 3 | (p->more_frags ? 1 : 0)));
            be32(out + n + 4, p->frag_id);
            n += 8;
        }
        *nh = p->proto;
    }
    if (transport_len(p) > 0) {
        uint8_t *t = out + n;

        switch (p->proto) {
        case 6:
            be16(t, p->sport);
            be16(t + 2, p->dport);
            be32(t + 4, 1000);
            t[12] = 0x50;
            t[13] = p->tcp_flags;
            be16(t + 14, 65535);
            break;
        case 17:
            be16(t, p->sport);
            be16(t + 2, p->dport);
            be16(t + 4, (uint16_t)(8 + p->payload));
            break;
        default: /* ICMP, ICMPv6 */
            t[0] = p->icmp_type;
            t[1] = p->icmp_code;
            break;
        }
        n += transport_len(p);
    }
    memset(out + n, 0xab, p->payload);
    return n + p->payload;
}

struct pcapw {
    pcap_t *p;
    pcap_dumper_t *d;
};

struct pcapw *pcapw_open(const char *path, int dlt)
{
    struct pcapw *w = calloc(1, sizeof(*w));

    cr_assert_not_null(w);
    w->p = pcap_open_dead(dlt, 65535);
    cr_assert_not_null(w->p);
    w->d = pcap_dump_open(w->p, path);
    cr_assert_not_null(w->d, "%s: %s", path, pcap_geterr(w->p));
    return w;
}

void pcapw_add(struct pcapw *w, uint64_t ts_us, const uint8_t *frame, size_t len,
               size_t caplen)
{
    struct pcap_pkthdr h;

    memset(&h, 0, sizeof(h));
    h.ts.tv_sec = (time_t)(ts_us / 1000000u);
    h.ts.tv_usec = (suseconds_t)(ts_us % 1000000u);
    h.len = (bpf_u_int32)len;
    h.caplen = (bpf_u_int32)(caplen < len ? caplen : len);
    pcap_dump((u_char *)w->d, &h, frame);
}

void pcapw_pkt(struct pcapw *w, uint64_t ts_us, const struct pkt *p)
{
    uint8_t buf[PKT_MAX];
    struct pkt q = *p;
    size_t len;

    q.dlt = pcap_datalink(w->p);
    len = pkt_build(&q, buf);
    pcapw_add(w, ts_us, buf, len, len);
}

void pcapw_close(struct pcapw *w)
{
    pcap_dump_close(w->d);
    pcap_close(w->p);
    free(w);
}

/* pcapng blocks in the writer's byte order (little-endian here, as the
 * Section Header's byte-order magic says). */
static void le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
    le16(p, (uint16_t)v);
    le16(p + 2, (uint16_t)(v >> 16));
}

void pcapng_write(const char *path, int dlt, const uint8_t *const *frames,
                  const size_t *lens, const uint64_t *ts_us, size_t n)
{
    FILE *fp = fopen(path, "wb");
    uint8_t b[PKT_MAX + 64];

    cr_assert_not_null(fp, "%s", path);
    /* Section Header Block: type, length, byte-order magic, version 1.0,
     * section length unknown (-1), length again. */
    memset(b, 0, 28);
    le32(b, 0x0a0d0d0a);
    le32(b + 4, 28);
    le32(b + 8, 0x1a2b3c4d);
    le16(b + 12, 1);
    le16(b + 14, 0);
    memset(b + 16, 0xff, 8);
    le32(b + 24, 28);
    cr_assert_eq(fwrite(b, 1, 28, fp), 28);
    /* Interface Description Block: link type, snaplen; microsecond
     * timestamps (the default without if_tsresol). */
    memset(b, 0, 20);
    le32(b, 1);
    le32(b + 4, 20);
    le16(b + 8, (uint16_t)dlt);
    le32(b + 12, 65535);
    le32(b + 16, 20);
    cr_assert_eq(fwrite(b, 1, 20, fp), 20);
    for (size_t i = 0; i < n; i++) {
        size_t padded = (lens[i] + 3) & ~(size_t)3, blen = 32 + padded;

        cr_assert_leq(lens[i], PKT_MAX);
        memset(b, 0, blen);
        /* Enhanced Packet Block: interface 0, timestamp high and low words,
         * captured and original lengths, the data padded to 4 bytes. */
        le32(b, 6);
        le32(b + 4, (uint32_t)blen);
        le32(b + 8, 0);
        le32(b + 12, (uint32_t)(ts_us[i] >> 32));
        le32(b + 16, (uint32_t)ts_us[i]);
        le32(b + 20, (uint32_t)lens[i]);
        le32(b + 24, (uint32_t)lens[i]);
        memcpy(b + 28, frames[i], lens[i]);
        le32(b + 28 + padded, (uint32_t)blen);
        cr_assert_eq(fwrite(b, 1, blen, fp), blen);
    }
    cr_assert_eq(fclose(fp), 0);
}
