/*
 * frame.c - packet header parser (see frame.h).
 *
 * One pass, front to back, over a cursor that knows how many bytes are left;
 * every read is preceded by a check of that count. The layers below IP (tags,
 * PPPoE, MPLS, pseudo-wires) are steps of a loop over "the next protocol, as
 * an ethertype", so nesting costs no recursion and a frame made of nothing
 * but headers stops after FRAME_DEPTH steps.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "exporter.h"
#include "frame.h"

#define ET_IPV4     0x0800
#define ET_ARP      0x0806
#define ET_TEB      0x6558 /* Transparent Ethernet Bridging: an Ethernet frame */
#define ET_VLAN     0x8100
#define ET_IPV6     0x86dd
#define ET_MPLS     0x8847
#define ET_MPLS_MC  0x8848
#define ET_PPPOE    0x8864
#define ET_QINQ     0x88a8
#define ET_QINQ_OLD 0x9100 /* pre-802.1ad stacked tags, still sent by some gear */

#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057
#define PPP_MPLS 0x0281

/* Link-layer steps allowed before IP: an Ethernet header, two tags, a label
 * stack, a pseudo-wire's Ethernet header and its tags leave plenty of room. */
#define FRAME_DEPTH 16

/* A step that found the next protocol and wants the loop to go on. */
#define STEP_NEXT (-1)

struct cur {
    const uint8_t *p;
    size_t len;
    size_t off;    /* never past len */
    bool seen_eth; /* an Ethernet header was parsed */
    bool tags;     /* tags met now belong to the first link header */
};

static size_t left(const struct cur *c)
{
    return c->len - c->off;
}

static const uint8_t *at(const struct cur *c)
{
    return c->p + c->off;
}

static void set_addr(fs_ip *ip, uint8_t af, const uint8_t *b)
{
    ip->af = af;
    memcpy(ip->b, b, af == 4 ? 4 : 16);
}

static int eth(struct cur *c, struct fs_frame *fr, uint16_t *et)
{
    /* Only the first Ethernet header says where the packet was seen: a
     * pseudo-wire's inner frame belongs to the customer. */
    c->tags = !c->seen_eth;
    if (!c->seen_eth && left(c) >= 12) {
        memcpy(fr->dst_mac, at(c), 6);
        memcpy(fr->src_mac, at(c) + 6, 6);
        fr->have |= FS_FRAME_HAVE_MAC;
    }
    c->seen_eth = true;
    if (left(c) < 14)
        return FS_FRAME_TRUNCATED;
    *et = fs_get16(at(c) + 12);
    c->off += 14;
    return STEP_NEXT;
}

static int vlan(struct cur *c, struct fs_frame *fr, uint16_t *et)
{
    if (left(c) < 4)
        return FS_FRAME_TRUNCATED;
    if (c->tags) {
        if (fr->nvlan < FS_FRAME_VLAN_MAX)
            fr->vlan[fr->nvlan++] = fs_get16(at(c)) & 0x0fff;
        else
            fr->flags |= FS_FRAME_VLAN_MORE;
    }
    *et = fs_get16(at(c) + 2);
    c->off += 4;
    return STEP_NEXT;
}

/* PPPoE session stage (RFC 2516): a 6-byte header, then the PPP protocol. */
static int pppoe(struct cur *c, uint16_t *et)
{
    if (left(c) < 8)
        return FS_FRAME_TRUNCATED;
    if (at(c)[0] != 0x11 || at(c)[1] != 0)
        return FS_FRAME_NOT_IP;
    switch (fs_get16(at(c) + 6)) {
    case PPP_IPV4: *et = ET_IPV4; break;
    case PPP_IPV6: *et = ET_IPV6; break;
    case PPP_MPLS: *et = ET_MPLS; break;
    default: return FS_FRAME_NOT_IP;
    }
    c->off += 8;
    return STEP_NEXT;
}

static bool known_ethertype(uint16_t et)
{
    switch (et) {
    case ET_IPV4: case ET_IPV6: case ET_ARP: case ET_VLAN: case ET_QINQ:
    case ET_QINQ_OLD: case ET_MPLS: case ET_MPLS_MC: case ET_PPPOE:
        return true;
    default:
        return false;
    }
}

/* Whether an Ethernet header `skip` bytes ahead is there and carries a
 * known ethertype. */
static bool eth_plausible(const struct cur *c, size_t skip)
{
    if (left(c) < skip + 14)
        return false;
    return known_ethertype(fs_get16(at(c) + skip + 12));
}

/*
 * An MPLS label stack (RFC 3032) and a guess at what follows it, which the
 * stack does not say. The first nibble tells IPv4 (4) and IPv6 (6) apart
 * from the RFC 4385 control word (0) that Ethernet pseudo-wires (RFC 4448)
 * usually carry, and from the G-ACh (1, RFC 5586). After a 0, a control word
 * is assumed unless the frame behind it shows no known ethertype while the
 * bytes read as a frame without control word do: then it is such a frame,
 * whose destination MAC starts with a 0 nibble. Any other nibble is a frame
 * without control word when its ethertype is a known one.
 */
static int mpls(struct cur *c, struct fs_frame *fr, uint16_t *et)
{
    uint32_t e;
    unsigned nibble;

    c->tags = false;
    do {
        if (left(c) < 4)
            return FS_FRAME_TRUNCATED;
        e = fs_get32(at(c));
        c->off += 4;
        if (fr->mpls_count < FS_FLOW_MPLS_MAX)
            fr->mpls[fr->mpls_count++] = e >> 8;
        else
            fr->flags |= FS_FRAME_MPLS_MORE;
    } while (!(e & 0x100));

    if (left(c) < 1)
        return FS_FRAME_TRUNCATED;
    nibble = at(c)[0] >> 4;
    if (nibble == 4 || nibble == 6) {
        *et = nibble == 4 ? ET_IPV4 : ET_IPV6;
        return STEP_NEXT;
    }
    if (nibble == 0 && (eth_plausible(c, 4) || !eth_plausible(c, 0))) {
        if (left(c) < 4)
            return FS_FRAME_TRUNCATED;
        c->off += 4;
        fr->flags |= FS_FRAME_PW | FS_FRAME_PW_CW;
        *et = ET_TEB;
        return STEP_NEXT;
    }
    if (nibble != 1 && eth_plausible(c, 0)) {
        fr->flags |= FS_FRAME_PW;
        *et = ET_TEB;
        return STEP_NEXT;
    }
    return FS_FRAME_NOT_IP;
}

/* Linux cooked headers: `hlen` bytes with the ethertype at `proto_at`. */
static int sll(struct cur *c, size_t hlen, size_t proto_at, uint16_t *et)
{
    if (left(c) < hlen)
        return FS_FRAME_TRUNCATED;
    *et = fs_get16(at(c) + proto_at);
    c->off += hlen;
    c->tags = true;
    return STEP_NEXT;
}

/* BSD loopback: a 4-byte address family in the byte order of the machine
 * that wrote the capture (DLT_NULL) or in network order (DLT_LOOP). The
 * family is small, so whichever reading fits in 16 bits is the right one.
 * AF_INET is 2 everywhere, AF_INET6 is not (Linux 10, BSDs 24 and 28,
 * Darwin 30). */
static int null_link(struct cur *c, uint16_t *et)
{
    uint32_t af;

    if (left(c) < 4)
        return FS_FRAME_TRUNCATED;
    af = fs_get32(at(c));
    if (af > 0xffff)
        af = __builtin_bswap32(af);
    switch (af) {
    case 2: *et = ET_IPV4; break;
    case 10: case 24: case 28: case 30: *et = ET_IPV6; break;
    default: return FS_FRAME_NOT_IP;
    }
    c->off += 4;
    return STEP_NEXT;
}

static void set_ports(struct fs_frame *fr, const uint8_t *b)
{
    fr->src_port = fs_get16(b);
    fr->dst_port = fs_get16(b + 2);
    fr->have |= FS_FRAME_HAVE_PORTS;
}

/* The transport header at the cursor, whose protocol is fr->proto. */
static int transport(struct cur *c, struct fs_frame *fr)
{
    size_t n = left(c), hlen;

    if (fr->frag_offset)
        return FS_FRAME_OK; /* a later fragment carries no transport header */
    switch (fr->proto) {
    case IPPROTO_TCP:
        if (n >= 4)
            set_ports(fr, at(c));
        if (n >= 14) {
            fr->tcp_flags = at(c)[13];
            fr->have |= FS_FRAME_HAVE_TCP_FLAGS;
        }
        if (n < 13)
            return FS_FRAME_TRUNCATED;
        hlen = (size_t)(at(c)[12] >> 4) * 4;
        if (hlen < 20)
            return FS_FRAME_MALFORMED;
        break;
    case IPPROTO_UDP:
    case IPPROTO_UDPLITE:
    case IPPROTO_SCTP:
        if (n >= 4)
            set_ports(fr, at(c));
        hlen = fr->proto == IPPROTO_SCTP ? 12 : 8;
        break;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
        if (n >= 2) {
            fr->icmp_type = at(c)[0];
            fr->icmp_code = at(c)[1];
            fr->have |= FS_FRAME_HAVE_ICMP;
        }
        hlen = 8; /* type, code, checksum and the 4 type-specific bytes */
        break;
    default:
        return FS_FRAME_OK;
    }
    if (n < hlen)
        return FS_FRAME_TRUNCATED;
    fr->payload_off = (uint32_t)(c->off + hlen);
    fr->have |= FS_FRAME_HAVE_PAYLOAD;
    return FS_FRAME_OK;
}

static int ipv4(struct cur *c, struct fs_frame *fr)
{
    const uint8_t *b;
    size_t hlen;
    uint16_t frag;

    if (left(c) < 1)
        return FS_FRAME_TRUNCATED;
    b = at(c);
    hlen = (size_t)(b[0] & 0x0f) * 4;
    if (b[0] >> 4 != 4 || hlen < 20)
        return FS_FRAME_MALFORMED;
    if (left(c) < 20)
        return FS_FRAME_TRUNCATED;

    fr->ip_version = 4;
    fr->tos = b[1];
    fr->ip_len = fs_get16(b + 2);
    fr->frag_id = fs_get16(b + 4);
    frag = fs_get16(b + 6);
    fr->frag_offset = frag & 0x1fff;
    if (frag & 0x4000)
        fr->flags |= FS_FRAME_DONT_FRAG;
    if (frag & 0x2000)
        fr->flags |= FS_FRAME_MORE_FRAGS;
    if (frag & 0x3fff)
        fr->flags |= FS_FRAME_FRAGMENT;
    fr->ttl = b[8];
    fr->proto = b[9];
    set_addr(&fr->src_addr, 4, b + 12);
    set_addr(&fr->dst_addr, 4, b + 16);
    fr->l3_off = (uint32_t)c->off;
    fr->l4_off = (uint32_t)(c->off + hlen);
    fr->have |= FS_FRAME_HAVE_IP | FS_FRAME_HAVE_PROTO;

    if (left(c) < hlen)
        return FS_FRAME_TRUNCATED; /* options cut short */
    c->off += hlen;
    return transport(c, fr);
}

/* The IPv6 extension headers that the walk goes through to find the
 * transport protocol (RFC 8200 section 4, and AH, RFC 4302). ESP hides what
 * follows it, so it ends the walk like a transport header. */
static bool ipv6_ext(uint8_t nh)
{
    switch (nh) {
    case IPPROTO_HOPOPTS: case IPPROTO_ROUTING: case IPPROTO_FRAGMENT:
    case IPPROTO_DSTOPTS: case IPPROTO_AH:
        return true;
    default:
        return false;
    }
}

/* Length of extension header `nh` from its length byte `l`. */
static size_t ipv6_ext_len(uint8_t nh, uint8_t l)
{
    if (nh == IPPROTO_FRAGMENT)
        return 8;
    if (nh == IPPROTO_AH)
        return ((size_t)l + 2) * 4; /* in 4-byte units, less 2 */
    return ((size_t)l + 1) * 8;     /* in 8-byte units, less 1 */
}

static int ipv6(struct cur *c, struct fs_frame *fr)
{
    const uint8_t *b;
    uint32_t w;
    uint8_t nh;

    if (left(c) < 1)
        return FS_FRAME_TRUNCATED;
    if (at(c)[0] >> 4 != 6)
        return FS_FRAME_MALFORMED;
    if (left(c) < 40)
        return FS_FRAME_TRUNCATED;

    b = at(c);
    w = fs_get32(b);
    fr->ip_version = 6;
    fr->tos = (uint8_t)(w >> 20);
    fr->flow_label = w & 0xfffff;
    fr->ip_len = 40u + fs_get16(b + 4);
    nh = b[6];
    fr->ttl = b[7];
    set_addr(&fr->src_addr, 6, b + 8);
    set_addr(&fr->dst_addr, 6, b + 24);
    fr->l3_off = (uint32_t)c->off;
    fr->have |= FS_FRAME_HAVE_IP;
    c->off += 40;

    while (ipv6_ext(nh)) {
        const uint8_t *e;
        size_t elen;

        /* Every extension header starts with next header and length. */
        if (left(c) < 2)
            return FS_FRAME_TRUNCATED;
        e = at(c);
        elen = ipv6_ext_len(nh, e[1]);
        if (left(c) < elen)
            return FS_FRAME_TRUNCATED;
        if (nh == IPPROTO_FRAGMENT) {
            uint16_t fo = fs_get16(e + 2);

            fr->frag_offset = fo >> 3;
            fr->frag_id = fs_get32(e + 4);
            if (fo & 1)
                fr->flags |= FS_FRAME_MORE_FRAGS;
            if (fr->frag_offset || (fo & 1))
                fr->flags |= FS_FRAME_FRAGMENT;
        }
        c->off += elen;
        nh = e[0];
        if (fr->frag_offset)
            break; /* what follows is the middle of the fragmentable part */
    }
    fr->proto = nh;
    fr->l4_off = (uint32_t)c->off;
    fr->have |= FS_FRAME_HAVE_PROTO;
    return transport(c, fr);
}

int fs_frame_parse(const uint8_t *p, size_t len, enum fs_frame_link link,
                   struct fs_frame *out)
{
    struct cur c = { .p = p, .len = p ? len : 0 };
    uint16_t et;
    int r;

    memset(out, 0, sizeof(*out));
    switch (link) {
    case FS_FRAME_LINK_ETHERNET:
        et = ET_TEB;
        break;
    case FS_FRAME_LINK_RAW:
        if (left(&c) < 1)
            return FS_FRAME_TRUNCATED;
        if (p[0] >> 4 != 4 && p[0] >> 4 != 6)
            return FS_FRAME_NOT_IP;
        et = p[0] >> 4 == 4 ? ET_IPV4 : ET_IPV6;
        break;
    case FS_FRAME_LINK_IPV4:
        et = ET_IPV4;
        break;
    case FS_FRAME_LINK_IPV6:
        et = ET_IPV6;
        break;
    case FS_FRAME_LINK_MPLS:
        et = ET_MPLS;
        break;
    case FS_FRAME_LINK_SLL:
        if ((r = sll(&c, 16, 14, &et)) != STEP_NEXT)
            return r;
        break;
    case FS_FRAME_LINK_SLL2:
        if ((r = sll(&c, 20, 0, &et)) != STEP_NEXT)
            return r;
        break;
    case FS_FRAME_LINK_NULL:
        if ((r = null_link(&c, &et)) != STEP_NEXT)
            return r;
        break;
    default:
        return FS_FRAME_NOT_IP;
    }

    for (int depth = 0; depth < FRAME_DEPTH; depth++) {
        switch (et) {
        case ET_TEB:
            r = eth(&c, out, &et);
            break;
        case ET_VLAN:
        case ET_QINQ:
        case ET_QINQ_OLD:
            r = vlan(&c, out, &et);
            break;
        case ET_MPLS:
        case ET_MPLS_MC:
            r = mpls(&c, out, &et);
            break;
        case ET_PPPOE:
            r = pppoe(&c, &et);
            break;
        case ET_IPV4:
            return ipv4(&c, out);
        case ET_IPV6:
            return ipv6(&c, out);
        default:
            return FS_FRAME_NOT_IP;
        }
        if (r != STEP_NEXT)
            return r;
    }
    return FS_FRAME_MALFORMED;
}

const char *fs_frame_result_name(int result)
{
    switch (result) {
    case FS_FRAME_OK: return "ok";
    case FS_FRAME_TRUNCATED: return "truncated";
    case FS_FRAME_NOT_IP: return "not_ip";
    case FS_FRAME_MALFORMED: return "malformed";
    default: return "unknown";
    }
}

/* Sets a flow field from the frame unless the record brought its own. */
#define FILL(f, bit, field, value)                                            \
    do {                                                                      \
        if (!FS_FLOW_HAS(f, bit)) {                                           \
            (f)->field = (value);                                             \
            FS_FLOW_SET(f, bit);                                              \
        }                                                                     \
    } while (0)

static void fill_mac(struct fs_flow *f, int bit, uint8_t *dst, const uint8_t *src)
{
    if (!FS_FLOW_HAS(f, bit)) {
        memcpy(dst, src, 6);
        FS_FLOW_SET(f, bit);
    }
}

void fs_frame_to_flow(const struct fs_frame *fr, struct fs_flow *f)
{
    if (fr->have & FS_FRAME_HAVE_MAC) {
        fill_mac(f, FS_F_SRC_MAC, f->src_mac, fr->src_mac);
        fill_mac(f, FS_F_DST_MAC, f->dst_mac, fr->dst_mac);
    }
    if (fr->nvlan) {
        if (FS_FLOW_HAS(f, FS_F_DIRECTION) && f->direction == 1)
            FILL(f, FS_F_DST_VLAN, dst_vlan, fr->vlan[0]);
        else
            FILL(f, FS_F_SRC_VLAN, src_vlan, fr->vlan[0]);
    }
    if (fr->mpls_count && !FS_FLOW_HAS(f, FS_F_MPLS)) {
        memcpy(f->mpls, fr->mpls, fr->mpls_count * sizeof(fr->mpls[0]));
        f->mpls_count = fr->mpls_count;
        FS_FLOW_SET(f, FS_F_MPLS);
    }
    if (fr->have & FS_FRAME_HAVE_IP) {
        FILL(f, FS_F_IP_VERSION, ip_version, fr->ip_version);
        FILL(f, FS_F_SRC_ADDR, src_addr, fr->src_addr);
        FILL(f, FS_F_DST_ADDR, dst_addr, fr->dst_addr);
        FILL(f, FS_F_TOS, tos, fr->tos);
    }
    if (fr->have & FS_FRAME_HAVE_PROTO)
        FILL(f, FS_F_PROTO, proto, fr->proto);
    if (fr->have & FS_FRAME_HAVE_PORTS) {
        FILL(f, FS_F_SRC_PORT, src_port, fr->src_port);
        FILL(f, FS_F_DST_PORT, dst_port, fr->dst_port);
    }
    if (fr->have & FS_FRAME_HAVE_TCP_FLAGS)
        FILL(f, FS_F_TCP_FLAGS, tcp_flags, fr->tcp_flags);
    if (fr->have & FS_FRAME_HAVE_ICMP) {
        if (!FS_FLOW_HAS(f, FS_F_ICMP)) {
            f->icmp_type = fr->icmp_type;
            f->icmp_code = fr->icmp_code;
            FS_FLOW_SET(f, FS_F_ICMP);
        }
    }
}
