/*
 * pcapfile.c - pulls UDP payloads (export datagrams) out of capture files.
 *
 * libpcap does the file format (pcap, pcapng, either byte order, ns or us
 * timestamps); this file walks link, IP and UDP headers by hand. Every header
 * is checked against the captured length before it is read, and the IP and
 * UDP length fields are trusted only as far as the captured bytes go, so a
 * damaged or snapped frame is counted as truncated instead of being decoded
 * with garbage behind it.
 */
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pcapfile.h"

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100   /* 802.1Q */
#define ETH_QINQ 0x88a8   /* 802.1ad */
#define ETH_QINQ_OLD 0x9100

/* What became of one frame; each frame lands in exactly one counter. */
enum frame_result { FRAME_UDP, FRAME_SKIP, FRAME_TRUNC, FRAME_FRAG };

/* A frame being parsed: `p` moves forward, `left` is what the capture holds. */
struct cursor {
    const uint8_t *p;
    size_t left;
};

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t get32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int skip(struct cursor *c, size_t n)
{
    if (c->left < n)
        return -1;
    c->p += n;
    c->left -= n;
    return 0;
}

/* Address family values seen in DLT_NULL/DLT_LOOP headers: AF_INET is 2 on
 * every system, AF_INET6 differs (Linux 10, BSDs 24/28, Darwin 30). */
static int bsd_af_to_ip(uint32_t af)
{
    switch (af) {
    case 2:
        return 4;
    case 10: case 24: case 28: case 30:
        return 6;
    default:
        return 0;
    }
}

/* Parses the UDP header and hands the payload over. `avail` is how many bytes
 * the IP header says follow it; the caller made sure they were captured. */
static enum frame_result parse_udp(struct cursor *c, size_t avail, struct fs_pcap_packet *pkt)
{
    size_t ulen;

    if (avail < 8)
        return FRAME_TRUNC;
    ulen = get16(c->p + 4);
    if (ulen < 8)
        return FRAME_SKIP; /* malformed UDP length: nothing sane to hand on */
    if (ulen > avail)
        return FRAME_TRUNC;
    pkt->src_port = get16(c->p);
    pkt->dst_port = get16(c->p + 2);
    pkt->payload = c->p + 8;
    pkt->len = ulen - 8;
    return FRAME_UDP;
}

static enum frame_result parse_ipv4(struct cursor *c, struct fs_pcap_packet *pkt)
{
    const uint8_t *ip = c->p;
    size_t hlen, total;

    if (c->left < 20)
        return FRAME_TRUNC;
    if (ip[0] >> 4 != 4)
        return FRAME_SKIP;
    hlen = (size_t)(ip[0] & 0x0f) * 4;
    total = get16(ip + 2);
    if (hlen < 20 || total < hlen)
        return FRAME_SKIP;
    /* Beyond `total` is link-layer padding; short of it is a snapped frame. */
    if (total > c->left)
        return FRAME_TRUNC;
    if ((get16(ip + 6) & 0x3fff) != 0) /* MF set or offset non-zero */
        return FRAME_FRAG;
    if (ip[9] != IPPROTO_UDP)
        return FRAME_SKIP;
    pkt->src.af = pkt->dst.af = 4;
    memcpy(pkt->src.b, ip + 12, 4);
    memcpy(pkt->dst.b, ip + 16, 4);
    c->p += hlen;
    c->left = total - hlen;
    return parse_udp(c, c->left, pkt);
}

static enum frame_result parse_ipv6(struct cursor *c, struct fs_pcap_packet *pkt)
{
    const uint8_t *ip = c->p;
    size_t plen;
    uint8_t next;

    if (c->left < 40)
        return FRAME_TRUNC;
    if (ip[0] >> 4 != 6)
        return FRAME_SKIP;
    plen = get16(ip + 4);
    if (plen == 0)
        return FRAME_SKIP; /* jumbogram (RFC 2675): never an export datagram */
    if (plen > c->left - 40)
        return FRAME_TRUNC;
    pkt->src.af = pkt->dst.af = 6;
    memcpy(pkt->src.b, ip + 8, 16);
    memcpy(pkt->dst.b, ip + 24, 16);
    next = ip[6];
    c->p += 40;
    c->left = plen;

    for (;;) {
        size_t extlen;

        switch (next) {
        case IPPROTO_UDP:
            return parse_udp(c, c->left, pkt);
        case 0:   /* hop-by-hop options */
        case 43:  /* routing */
        case 60:  /* destination options */
        case 135: /* mobility */
        case 139: /* HIP */
        case 140: /* shim6 */
            if (c->left < 8)
                return FRAME_TRUNC;
            extlen = ((size_t)c->p[1] + 1) * 8;
            break;
        case 51: /* AH counts in 4-byte units, less 2 */
            if (c->left < 8)
                return FRAME_TRUNC;
            extlen = ((size_t)c->p[1] + 2) * 4;
            break;
        case 44: /* fragment */
            if (c->left < 8)
                return FRAME_TRUNC;
            /* An atomic fragment (offset 0, no more) is a whole packet. */
            if ((get16(c->p + 2) & 0xfff9) != 0)
                return FRAME_FRAG;
            extlen = 8;
            break;
        default: /* TCP, ICMPv6, ESP, no next header, ... */
            return FRAME_SKIP;
        }
        next = c->p[0];
        if (skip(c, extlen) < 0)
            return FRAME_TRUNC;
    }
}

/* Steps over 802.1Q/802.1ad tags (any depth the capture holds) to the
 * ethertype of the payload. */
static int skip_vlan_tags(struct cursor *c, uint16_t *etype)
{
    while (*etype == ETH_VLAN || *etype == ETH_QINQ || *etype == ETH_QINQ_OLD) {
        if (c->left < 4)
            return -1;
        *etype = get16(c->p + 2);
        c->p += 4;
        c->left -= 4;
    }
    return 0;
}

static enum frame_result parse_ethertype(struct cursor *c, uint16_t etype,
                                         struct fs_pcap_packet *pkt)
{
    if (skip_vlan_tags(c, &etype) < 0)
        return FRAME_TRUNC;
    if (etype == ETH_IPV4)
        return parse_ipv4(c, pkt);
    if (etype == ETH_IPV6)
        return parse_ipv6(c, pkt);
    return FRAME_SKIP;
}

static enum frame_result parse_by_version(struct cursor *c, int v, struct fs_pcap_packet *pkt)
{
    if (v == 4)
        return parse_ipv4(c, pkt);
    if (v == 6)
        return parse_ipv6(c, pkt);
    return FRAME_SKIP;
}

static enum frame_result parse_frame(int dlt, struct cursor *c, struct fs_pcap_packet *pkt)
{
    uint32_t af;
    uint16_t etype;

    switch (dlt) {
    case DLT_EN10MB:
        if (c->left < 14)
            return FRAME_TRUNC;
        etype = get16(c->p + 12);
        c->p += 14;
        c->left -= 14;
        return parse_ethertype(c, etype, pkt);
    case DLT_LINUX_SLL:
        if (c->left < 16)
            return FRAME_TRUNC;
        etype = get16(c->p + 14);
        c->p += 16;
        c->left -= 16;
        return parse_ethertype(c, etype, pkt);
    case DLT_LINUX_SLL2:
        if (c->left < 20)
            return FRAME_TRUNC;
        etype = get16(c->p);
        c->p += 20;
        c->left -= 20;
        return parse_ethertype(c, etype, pkt);
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
        if (c->left < 1)
            return FRAME_TRUNC;
        return parse_by_version(c, c->p[0] >> 4, pkt);
    case DLT_NULL:
    case DLT_LOOP:
        if (c->left < 4)
            return FRAME_TRUNC;
        /* DLT_NULL is in the byte order of the machine that wrote the file,
         * DLT_LOOP in network order; the family is small, so whichever
         * reading fits in 16 bits is the right one. */
        af = get32le(c->p);
        if (af > 0xffff)
            af = __builtin_bswap32(af);
        c->p += 4;
        c->left -= 4;
        return parse_by_version(c, bsd_af_to_ip(af), pkt);
    default:
        return FRAME_SKIP;
    }
}

static int dlt_supported(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB: case DLT_LINUX_SLL: case DLT_LINUX_SLL2:
    case DLT_RAW: case DLT_IPV4: case DLT_IPV6:
    case DLT_NULL: case DLT_LOOP:
        return 1;
    default:
        return 0;
    }
}

int fs_pcap_read(const char *path, fs_pcap_fn fn, void *arg,
                 struct fs_pcap_stats *st, char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE];
    struct fs_pcap_stats local;
    struct pcap_pkthdr *hdr;
    const u_char *data;
    pcap_t *pc;
    int dlt, rc, ret = 0;

    if (st == NULL)
        st = &local;
    memset(st, 0, sizeof(*st));
    perr[0] = '\0';
    pc = pcap_open_offline(path, perr);
    if (pc == NULL) {
        seterr(err, errlen, "%s: %s", path, perr);
        return -1;
    }
    dlt = pcap_datalink(pc);
    if (!dlt_supported(dlt)) {
        const char *name = pcap_datalink_val_to_name(dlt);

        seterr(err, errlen, "%s: unsupported link type %s (%d)", path,
               name != NULL ? name : "unknown", dlt);
        pcap_close(pc);
        return -1;
    }

    while ((rc = pcap_next_ex(pc, &hdr, &data)) == 1) {
        struct fs_pcap_packet pkt;
        struct cursor c = { data, hdr->caplen };

        st->packets++;
        memset(&pkt, 0, sizeof(pkt));
        switch (parse_frame(dlt, &c, &pkt)) {
        case FRAME_SKIP:
            st->skipped++;
            continue;
        case FRAME_TRUNC:
            st->truncated++;
            continue;
        case FRAME_FRAG:
            st->fragments++;
            continue;
        case FRAME_UDP:
            break;
        }
        st->datagrams++;
        if (hdr->ts.tv_sec > 0)
            pkt.ts_ms = (uint64_t)hdr->ts.tv_sec * 1000u + (uint64_t)hdr->ts.tv_usec / 1000u;
        if (fn(arg, &pkt) != 0)
            break;
    }
    if (rc == PCAP_ERROR) {
        seterr(err, errlen, "%s: after %llu packets: %s", path,
               (unsigned long long)st->packets, pcap_geterr(pc));
        ret = -1;
    }
    pcap_close(pc);
    return ret;
}
