/*
 * record.c - compiling templates into op lists, and decoding data records
 * (NetFlow v9 and IPFIX) into struct fs_flow.
 *
 * The mapping from Information Elements to flow fields lives in one table.
 * Where several elements can fill the same flow field, the table ranks them
 * and the compiler keeps only the best one a template has:
 *
 *   bytes    octetDeltaCount (1) > postOctetDeltaCount (23) > octetTotalCount (85)
 *   packets  packetDeltaCount (2) > postPacketDeltaCount (24) > packetTotalCount (86)
 *            (deltas first: a total count keeps growing over a long-lived flow,
 *            so it is only used when the exporter sends nothing else)
 *   in_if    ingressInterface (10) > ingressPhysicalInterface (252); out_if alike
 *   vlans    vlanId (58) > dot1qVlanId (243); postVlanId (59) > postDot1qVlanId (254)
 *   macs     sourceMacAddress (56) > postSourceMacAddress (81);
 *            destinationMacAddress (80) > postDestinationMacAddress (57)
 *   sampler  selectorId (302) > samplerId (48)
 *   start    flowStartMilliseconds (152) > Microseconds (154) > Nanoseconds (156)
 *            > Seconds (150) > DeltaMicroseconds (158) > SysUpTime (22); end alike
 *   duration flowDurationMilliseconds (161) > flowDurationMicroseconds (162)
 *
 * A template may carry both the IPv4 and the IPv6 variant of a field
 * (sourceIPv4Address and sourceIPv6Address, ...): each record is then one
 * family, by ipVersion (60) or by which addresses are not zero, and takes
 * that family's variants.
 *
 * A packet section fills, through frame.c, the fields the record itself does
 * not send: dataLinkFrameSection (315) > layer2packetSectionData (104), both
 * taken for Ethernet, > ipHeaderPacketSection (313), an IP header. Only a
 * section that starts at the packet's first byte can be read: with a
 * non-zero layer2packetSectionOffset (102) or sectionOffset (409) the
 * record's section is left alone.
 *
 * Times: absolute forms are taken as they are; sysUpTime forms use the v9
 * header (unix_secs, sysUpTime) or, in IPFIX, systemInitTimeMilliseconds
 * (160) learned from options or data records. Without it, an IPFIX record's
 * last uptime value is taken to be the export time (flows are exported when
 * they end or hit the active timeout), which keeps the duration right. A
 * missing start is end - duration, a missing end start + duration.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "pending.h"
#include "templates.h"

/* What an element means: the flow field, or the record value, it fills. */
enum field_op {
    OP_NONE = 0,
    OP_BYTES, OP_PACKETS, OP_PROTO, OP_TOS, OP_TCP_FLAGS,
    OP_SRC_PORT, OP_DST_PORT, OP_SRC_ADDR, OP_DST_ADDR,
    OP_IN_IF, OP_OUT_IF, OP_NEXT_HOP, OP_BGP_NEXT_HOP,
    OP_SRC_AS, OP_DST_AS, OP_SRC_MASK, OP_DST_MASK,
    OP_SRC_VLAN, OP_DST_VLAN, OP_SRC_MAC, OP_DST_MAC,
    OP_MPLS, OP_DIRECTION, OP_FWD_STATUS,
    OP_ICMP_TC, OP_ICMP_TYPE, OP_ICMP_CODE,
    OP_POST_SRC_ADDR, OP_POST_DST_ADDR, OP_POST_SRC_PORT, OP_POST_DST_PORT,
    OP_IP_VERSION, OP_SAMPLER_ID,
    OP_REV_BYTES, OP_REV_PACKETS, OP_REV_TOS, OP_REV_TCP_FLAGS,
    OP_START, OP_END, OP_DUR,
    OP_PARAM,
    OP_FRAME, /* a packet section (enum section): kept for after the record */
    OP_COUNT
};

/* How many bytes an integer field is read from: the common widths each have
 * their own code, so that the width costs no branch of its own. */
enum { RD_1 = 0, RD_2, RD_4, RD_8, RD_N, RD_COUNT };

/*
 * What a compiled op does with the next bytes of a record: one code per
 * field op and width, so that decoding a field is one jump. Integers go to
 * a flow field of 1, 2, 4 or 8 bytes at `off` (X_U8 .. X_U64, plus the read
 * width) or, times, to the record's values (X_T); addresses and MACs to the
 * flow field at `off`.
 */
enum exec {
    X_SKIP = 0,
    X_VARLEN,
    X_U8,
    X_U16 = X_U8 + RD_COUNT,
    X_U32 = X_U16 + RD_COUNT,
    X_U64 = X_U32 + RD_COUNT,
    X_T = X_U64 + RD_COUNT,
    X_IP4 = X_T + RD_COUNT,
    X_IP6, X_MAC, X_MPLS, X_ICMP_TC, X_PARAM,
    X_FRAME, /* a packet section (enum section): kept for after the record */
    X_ALT    /* the IPv6 variant of the field whose exec code is `arg`, in a
                record that has both: noted, and stored only if the record is
                an IPv6 one */
};

/* One op: what to do with the next `len` bytes of the record. */
struct fs_op {
    uint8_t code;       /* enum exec */
    uint8_t arg;        /* MPLS stack position, enum rec_param, X_ALT's exec
                           code; X_FRAME and X_VARLEN: enum section */
    uint16_t len;       /* field length; for a variable-length field, the fixed
                           bytes that follow it up to the next one */
    uint16_t off;       /* where the value goes (see enum exec) */
    uint16_t pos;       /* where the field starts in the record, in templates
                           without variable-length fields */
};

/* A run of ops of one code, in templates whose records have one layout. */
struct fs_run {
    uint8_t code;
    uint16_t first, count; /* in fs_rec_prog.ops */
};

struct fs_rec_prog {
    uint64_t present;   /* FS_F_* bits every record of this template sets */
    uint16_t min_len;   /* shortest possible record: less is padding */
    uint16_t nops;
    uint8_t start_form, end_form, dur_form; /* chosen time fields, TF_NONE if none */
    uint8_t mpls_mask;  /* stack positions present, bit i = entry i */
    bool has_params;    /* sampling or systemInitTime fields to resolve */
    bool has_frame;     /* a packet section fills what the record lacks */
    bool dual;          /* IPv4 and IPv6 variants of one field: pick per record */
    bool has_varlen;    /* variable-length fields: records differ in length */
    uint16_t nruns;     /* ops grouped by code (0: run them in order) */
    struct fs_run *runs;
    struct fs_op ops[];
};

/* Time forms (struct fs_rec_prog start_form, end_form, dur_form). */
enum time_form {
    TF_NONE = 0,
    TF_UPTIME,   /* ms of sysUpTime */
    TF_SEC,      /* dateTimeSeconds */
    TF_MS,       /* dateTimeMilliseconds, or a duration in ms */
    TF_NTP,      /* dateTimeMicroseconds/Nanoseconds: NTP 64-bit timestamp */
    TF_DELTA_US, /* microseconds before the export time */
    TF_US        /* a duration in microseconds */
};

/* Values collected from one record for resolution after the op loop. */
enum rec_param {
    RP_INTERVAL = 0, /* samplingInterval (34) */
    RP_PKT_INTERVAL, /* samplingPacketInterval (305) */
    RP_PKT_SPACE,    /* samplingPacketSpace (306) */
    RP_SIZE,         /* samplingSize (309) */
    RP_POPULATION,   /* samplingPopulation (310) */
    RP_RANDOM,       /* samplerRandomInterval (50) */
    RP_SYS_INIT,     /* systemInitTimeMilliseconds (160) */
    RP_L2_OFFSET,    /* layer2packetSectionOffset (102) */
    RP_SECT_OFFSET,  /* sectionOffset (409) */
    RP_COUNT
};

/* What a packet section starts with. */
enum section {
    SEC_NONE = 0,
    SEC_ETHERNET, /* dataLinkFrameSection, layer2packetSectionData */
    SEC_IP        /* ipHeaderPacketSection */
};

/* IPv6 variants kept per record at most (there are 11 such fields). */
#define FS_REC_MAX_ALT 16

struct rec_params {
    uint32_t have; /* bit (1 << RP_*) per value seen */
    uint64_t start, end, dur;
    uint64_t v[RP_COUNT];
    const uint8_t *frame; /* the packet section */
    size_t frame_len;
    uint8_t section;      /* enum section of `frame` */
    unsigned nalt;        /* IPv6 variants seen, for dual templates */
    const uint8_t *alt[FS_REC_MAX_ALT];
};

/* Flow fields that several elements compete for; see the top comment. */
enum slot {
    S_NONE = 0,
    S_BYTES, S_PACKETS, S_IN_IF, S_OUT_IF, S_SRC_VLAN, S_DST_VLAN,
    S_SRC_MAC, S_DST_MAC, S_SAMPLER, S_START, S_END, S_DUR, S_FRAME,
    S_COUNT
};

/* Which lengths an element may have. */
enum len_kind {
    L_ANY = 1,  /* any length, variable length included */
    L_UINT,     /* reduced-size encoding: 1 to 8 bytes */
    L_V4,       /* 4 */
    L_V6,       /* 16 */
    L_MAC,      /* 6 */
    L_MPLS,     /* 3 (label stack entry), more is tolerated */
    L_NTP       /* 8 */
};

struct ie_map {
    uint8_t op;
    uint8_t arg;  /* MPLS position, time form, rec_param or section */
    uint8_t slot;
    uint8_t rank; /* lower wins within a slot */
    uint8_t len;  /* enum len_kind; 0 = not mapped */
    uint8_t bit;  /* FS_F_* set by the op, 0xff none */
    uint8_t fam;  /* 4 or 6: the IPv4 or IPv6 variant of a field */
};

#define NOBIT 0xff
#define M(o, l, b) { .op = (o), .len = (l), .bit = (b) }
#define MS(o, l, b, s, r) { .op = (o), .len = (l), .bit = (b), .slot = (s), .rank = (r) }
#define MT(o, form, s, r, l) \
    { .op = (o), .arg = (form), .len = (l), .bit = NOBIT, .slot = (s), .rank = (r) }
#define MP(p) { .op = OP_PARAM, .arg = (p), .len = L_UINT, .bit = NOBIT }
#define M4(o, l, b) { .op = (o), .len = (l), .bit = (b), .fam = 4 }
#define M6(o, l, b) { .op = (o), .len = (l), .bit = (b), .fam = 6 }
#define MPLS(i) { .op = OP_MPLS, .arg = (i), .len = L_MPLS, .bit = NOBIT }
#define MF(sec, r) \
    { .op = OP_FRAME, .arg = (sec), .len = L_ANY, .bit = NOBIT, .slot = S_FRAME, .rank = (r) }

/* IANA elements (and the v9 field types, which are the same numbers). */
static const struct ie_map iana_map[] = {
    [1] = MS(OP_BYTES, L_UINT, FS_F_BYTES, S_BYTES, 0),
    [2] = MS(OP_PACKETS, L_UINT, FS_F_PACKETS, S_PACKETS, 0),
    [4] = M(OP_PROTO, L_UINT, FS_F_PROTO),
    [5] = M(OP_TOS, L_UINT, FS_F_TOS),
    [6] = M(OP_TCP_FLAGS, L_UINT, FS_F_TCP_FLAGS),
    [7] = M(OP_SRC_PORT, L_UINT, FS_F_SRC_PORT),
    [8] = M4(OP_SRC_ADDR, L_V4, FS_F_SRC_ADDR),
    [9] = M4(OP_SRC_MASK, L_UINT, FS_F_SRC_MASK),
    [10] = MS(OP_IN_IF, L_UINT, FS_F_IN_IF, S_IN_IF, 0),
    [11] = M(OP_DST_PORT, L_UINT, FS_F_DST_PORT),
    [12] = M4(OP_DST_ADDR, L_V4, FS_F_DST_ADDR),
    [13] = M4(OP_DST_MASK, L_UINT, FS_F_DST_MASK),
    [14] = MS(OP_OUT_IF, L_UINT, FS_F_OUT_IF, S_OUT_IF, 0),
    [15] = M4(OP_NEXT_HOP, L_V4, FS_F_NEXT_HOP),
    [16] = M(OP_SRC_AS, L_UINT, FS_F_SRC_AS),
    [17] = M(OP_DST_AS, L_UINT, FS_F_DST_AS),
    [18] = M4(OP_BGP_NEXT_HOP, L_V4, FS_F_BGP_NEXT_HOP),
    [21] = MT(OP_END, TF_UPTIME, S_END, 5, L_UINT),
    [22] = MT(OP_START, TF_UPTIME, S_START, 5, L_UINT),
    [23] = MS(OP_BYTES, L_UINT, FS_F_BYTES, S_BYTES, 1),
    [24] = MS(OP_PACKETS, L_UINT, FS_F_PACKETS, S_PACKETS, 1),
    [27] = M6(OP_SRC_ADDR, L_V6, FS_F_SRC_ADDR),
    [28] = M6(OP_DST_ADDR, L_V6, FS_F_DST_ADDR),
    [29] = M6(OP_SRC_MASK, L_UINT, FS_F_SRC_MASK),
    [30] = M6(OP_DST_MASK, L_UINT, FS_F_DST_MASK),
    [32] = M4(OP_ICMP_TC, L_UINT, FS_F_ICMP),
    [34] = MP(RP_INTERVAL),
    [48] = MS(OP_SAMPLER_ID, L_UINT, FS_F_SAMPLER_ID, S_SAMPLER, 1),
    [50] = MP(RP_RANDOM),
    [56] = MS(OP_SRC_MAC, L_MAC, FS_F_SRC_MAC, S_SRC_MAC, 0),
    [57] = MS(OP_DST_MAC, L_MAC, FS_F_DST_MAC, S_DST_MAC, 1),
    [58] = MS(OP_SRC_VLAN, L_UINT, FS_F_SRC_VLAN, S_SRC_VLAN, 0),
    [59] = MS(OP_DST_VLAN, L_UINT, FS_F_DST_VLAN, S_DST_VLAN, 0),
    [60] = M(OP_IP_VERSION, L_UINT, FS_F_IP_VERSION),
    [61] = M(OP_DIRECTION, L_UINT, FS_F_DIRECTION),
    [62] = M6(OP_NEXT_HOP, L_V6, FS_F_NEXT_HOP),
    [63] = M6(OP_BGP_NEXT_HOP, L_V6, FS_F_BGP_NEXT_HOP),
    [70] = MPLS(0), [71] = MPLS(1), [72] = MPLS(2), [73] = MPLS(3), [74] = MPLS(4),
    [75] = MPLS(5), [76] = MPLS(6), [77] = MPLS(7), [78] = MPLS(8), [79] = MPLS(9),
    [80] = MS(OP_DST_MAC, L_MAC, FS_F_DST_MAC, S_DST_MAC, 0),
    [81] = MS(OP_SRC_MAC, L_MAC, FS_F_SRC_MAC, S_SRC_MAC, 1),
    [85] = MS(OP_BYTES, L_UINT, FS_F_BYTES, S_BYTES, 2),
    [86] = MS(OP_PACKETS, L_UINT, FS_F_PACKETS, S_PACKETS, 2),
    [89] = M(OP_FWD_STATUS, L_UINT, FS_F_FWD_STATUS),
    [102] = MP(RP_L2_OFFSET),
    [104] = MF(SEC_ETHERNET, 1),
    [139] = M6(OP_ICMP_TC, L_UINT, FS_F_ICMP),
    [150] = MT(OP_START, TF_SEC, S_START, 3, L_UINT),
    [151] = MT(OP_END, TF_SEC, S_END, 3, L_UINT),
    [152] = MT(OP_START, TF_MS, S_START, 0, L_UINT),
    [153] = MT(OP_END, TF_MS, S_END, 0, L_UINT),
    [154] = MT(OP_START, TF_NTP, S_START, 1, L_NTP),
    [155] = MT(OP_END, TF_NTP, S_END, 1, L_NTP),
    [156] = MT(OP_START, TF_NTP, S_START, 2, L_NTP),
    [157] = MT(OP_END, TF_NTP, S_END, 2, L_NTP),
    [158] = MT(OP_START, TF_DELTA_US, S_START, 4, L_UINT),
    [159] = MT(OP_END, TF_DELTA_US, S_END, 4, L_UINT),
    [160] = MP(RP_SYS_INIT),
    [161] = MT(OP_DUR, TF_MS, S_DUR, 0, L_UINT),
    [162] = MT(OP_DUR, TF_US, S_DUR, 1, L_UINT),
    [176] = M4(OP_ICMP_TYPE, L_UINT, FS_F_ICMP),
    [177] = M4(OP_ICMP_CODE, L_UINT, FS_F_ICMP),
    [178] = M6(OP_ICMP_TYPE, L_UINT, FS_F_ICMP),
    [179] = M6(OP_ICMP_CODE, L_UINT, FS_F_ICMP),
    [225] = M4(OP_POST_SRC_ADDR, L_V4, FS_F_POST_SRC_ADDR),
    [226] = M4(OP_POST_DST_ADDR, L_V4, FS_F_POST_DST_ADDR),
    [227] = M(OP_POST_SRC_PORT, L_UINT, FS_F_POST_SRC_PORT),
    [228] = M(OP_POST_DST_PORT, L_UINT, FS_F_POST_DST_PORT),
    [243] = MS(OP_SRC_VLAN, L_UINT, FS_F_SRC_VLAN, S_SRC_VLAN, 1),
    [252] = MS(OP_IN_IF, L_UINT, FS_F_IN_IF, S_IN_IF, 1),
    [253] = MS(OP_OUT_IF, L_UINT, FS_F_OUT_IF, S_OUT_IF, 1),
    [254] = MS(OP_DST_VLAN, L_UINT, FS_F_DST_VLAN, S_DST_VLAN, 1),
    [281] = M6(OP_POST_SRC_ADDR, L_V6, FS_F_POST_SRC_ADDR),
    [282] = M6(OP_POST_DST_ADDR, L_V6, FS_F_POST_DST_ADDR),
    [302] = MS(OP_SAMPLER_ID, L_UINT, FS_F_SAMPLER_ID, S_SAMPLER, 0),
    [305] = MP(RP_PKT_INTERVAL),
    [306] = MP(RP_PKT_SPACE),
    [309] = MP(RP_SIZE),
    [310] = MP(RP_POPULATION),
    [313] = MF(SEC_IP, 2),
    [315] = MF(SEC_ETHERNET, 0),
    [409] = MP(RP_SECT_OFFSET),
};

/* RFC 5103 reverse elements: the forward element's id under PEN 29305. */
static const struct ie_map rev_bytes = M(OP_REV_BYTES, L_UINT, FS_F_REV_BYTES);
static const struct ie_map rev_packets = M(OP_REV_PACKETS, L_UINT, FS_F_REV_PACKETS);
static const struct ie_map rev_tos = M(OP_REV_TOS, L_UINT, FS_F_REV_TOS);
static const struct ie_map rev_flags = M(OP_REV_TCP_FLAGS, L_UINT, FS_F_REV_TCP_FLAGS);

static const struct ie_map *ie_lookup(const struct fs_tpl_field *fl)
{
    const struct ie_map *m = NULL;

    if (fl->pen == 0) {
        if (fl->id < sizeof(iana_map) / sizeof(iana_map[0]))
            m = &iana_map[fl->id];
    } else if (fl->pen == FS_PEN_REVERSE) {
        switch (fl->id) {
        case 1: m = &rev_bytes; break;
        case 2: m = &rev_packets; break;
        case 5: m = &rev_tos; break;
        case 6: m = &rev_flags; break;
        default: break;
        }
    }
    if (m == NULL || m->len == 0)
        return NULL;
    switch (m->len) {
    case L_ANY: return m;
    case L_UINT: return fl->len >= 1 && fl->len <= 8 ? m : NULL;
    case L_V4: return fl->len == 4 ? m : NULL;
    case L_V6: return fl->len == 16 ? m : NULL;
    case L_MAC: return fl->len == 6 ? m : NULL;
    case L_MPLS: return fl->len >= 3 && m->arg < FS_FLOW_MPLS_MAX ? m : NULL;
    case L_NTP: return fl->len == 8 ? m : NULL;
    default: return NULL;
    }
}

/* Where the field ops that are plain stores put their value. */
enum target_kind { K_NONE = 0, K_U8, K_U16, K_U32, K_U64, K_TIME, K_IP, K_MAC };

struct target {
    uint8_t kind;  /* enum target_kind */
    uint16_t off;  /* in struct fs_flow; K_TIME: in struct rec_params */
};

#define TO(kind, member) { (kind), offsetof(struct fs_flow, member) }
static const struct target targets[OP_COUNT] = {
    [OP_BYTES] = TO(K_U64, bytes), [OP_PACKETS] = TO(K_U64, packets),
    [OP_PROTO] = TO(K_U8, proto), [OP_TOS] = TO(K_U8, tos),
    [OP_TCP_FLAGS] = TO(K_U8, tcp_flags),
    [OP_SRC_PORT] = TO(K_U16, src_port), [OP_DST_PORT] = TO(K_U16, dst_port),
    [OP_SRC_ADDR] = TO(K_IP, src_addr), [OP_DST_ADDR] = TO(K_IP, dst_addr),
    [OP_IN_IF] = TO(K_U32, in_if), [OP_OUT_IF] = TO(K_U32, out_if),
    [OP_NEXT_HOP] = TO(K_IP, next_hop), [OP_BGP_NEXT_HOP] = TO(K_IP, bgp_next_hop),
    [OP_SRC_AS] = TO(K_U32, src_as), [OP_DST_AS] = TO(K_U32, dst_as),
    [OP_SRC_MASK] = TO(K_U8, src_mask), [OP_DST_MASK] = TO(K_U8, dst_mask),
    [OP_SRC_VLAN] = TO(K_U16, src_vlan), [OP_DST_VLAN] = TO(K_U16, dst_vlan),
    [OP_SRC_MAC] = TO(K_MAC, src_mac), [OP_DST_MAC] = TO(K_MAC, dst_mac),
    [OP_DIRECTION] = TO(K_U8, direction), [OP_FWD_STATUS] = TO(K_U8, fwd_status),
    [OP_ICMP_TYPE] = TO(K_U8, icmp_type), [OP_ICMP_CODE] = TO(K_U8, icmp_code),
    [OP_POST_SRC_ADDR] = TO(K_IP, post_src_addr),
    [OP_POST_DST_ADDR] = TO(K_IP, post_dst_addr),
    [OP_POST_SRC_PORT] = TO(K_U16, post_src_port),
    [OP_POST_DST_PORT] = TO(K_U16, post_dst_port),
    [OP_IP_VERSION] = TO(K_U8, ip_version), [OP_SAMPLER_ID] = TO(K_U32, sampler_id),
    [OP_REV_BYTES] = TO(K_U64, rev_bytes), [OP_REV_PACKETS] = TO(K_U64, rev_packets),
    [OP_REV_TOS] = TO(K_U8, rev_tos), [OP_REV_TCP_FLAGS] = TO(K_U8, rev_tcp_flags),
    [OP_START] = { K_TIME, offsetof(struct rec_params, start) },
    [OP_END] = { K_TIME, offsetof(struct rec_params, end) },
    [OP_DUR] = { K_TIME, offsetof(struct rec_params, dur) },
};
#undef TO

/* The op that does what field op `fop` says with a field of `len` bytes
 * (a length ie_lookup() accepted for it). */
static struct fs_op compile_op(uint8_t fop, uint8_t arg, uint16_t len)
{
    static const uint8_t int_code[] = {
        [K_U8] = X_U8, [K_U16] = X_U16, [K_U32] = X_U32, [K_U64] = X_U64, [K_TIME] = X_T,
    };
    const struct target *t = &targets[fop];
    struct fs_op op = { .arg = arg, .len = len, .off = t->off };

    switch ((enum target_kind)t->kind) {
    case K_IP: op.code = len == 4 ? X_IP4 : X_IP6; break;
    case K_MAC: op.code = X_MAC; break;
    case K_NONE:
        op.code = fop == OP_MPLS ? X_MPLS : fop == OP_ICMP_TC ? X_ICMP_TC
                  : fop == OP_PARAM ? X_PARAM : X_FRAME;
        break;
    default:
        op.code = (uint8_t)(int_code[t->kind] + (len == 1 ? RD_1 : len == 2 ? RD_2
                                                 : len == 4 ? RD_4 : len == 8 ? RD_8 : RD_N));
        break;
    }
    return op;
}

/* The bytes an op writes: in struct fs_flow, or (`*rec`) in struct
 * rec_params. Sets `*len` to 0 for an op that writes nothing in place. */
static size_t op_dest(const struct fs_op *op, bool *rec, size_t *len)
{
    *rec = false;
    switch (op->code) {
    case X_SKIP: case X_VARLEN: case X_ALT: /* the IPv6 variants keep their order */
        *len = 0;
        return 0;
    case X_IP4: case X_IP6: *len = sizeof(fs_ip); return op->off;
    case X_MAC: *len = 6; return op->off;
    case X_MPLS: *len = 4; return offsetof(struct fs_flow, mpls) + 4u * op->arg;
    case X_ICMP_TC:
        *len = 1 + offsetof(struct fs_flow, icmp_code) - offsetof(struct fs_flow, icmp_type);
        return offsetof(struct fs_flow, icmp_type);
    case X_PARAM:
        *rec = true;
        *len = sizeof(uint64_t);
        return offsetof(struct rec_params, v) + sizeof(uint64_t) * op->arg;
    case X_FRAME:
        *rec = true;
        *len = offsetof(struct rec_params, section) + 1 - offsetof(struct rec_params, frame);
        return offsetof(struct rec_params, frame);
    default:
        if (op->code >= X_T) {
            *rec = true;
            *len = sizeof(uint64_t);
            return op->off;
        }
        *len = (size_t)1 << ((op->code - X_U8) / RD_COUNT); /* X_U8 .. X_U64 */
        return op->off;
    }
}

/*
 * Groups the ops of a template whose records have one layout by code, so
 * that a record is decoded in a few tight loops, one per kind of field,
 * instead of one jump per field. The order of the ops only matters where two
 * write the same bytes (an element sent twice, the ICMP type in two forms):
 * then they stay as they are. Returns 0, or -1 when out of memory.
 */
static int group_ops(struct fs_rec_prog *g)
{
    uint8_t in_flow[sizeof(struct fs_flow)] = { 0 }, in_rec[sizeof(struct rec_params)] = { 0 };
    uint16_t count[X_ALT + 1] = { 0 }, at[X_ALT + 1];
    struct fs_op *sorted;

    for (size_t i = 0; i < g->nops; i++) {
        bool rec;
        size_t len, off = op_dest(&g->ops[i], &rec, &len);
        uint8_t *used = rec ? in_rec : in_flow;

        for (size_t b = off; b < off + len; b++) {
            if (used[b])
                return 0;
            used[b] = 1;
        }
        count[g->ops[i].code]++;
    }
    if ((sorted = malloc(g->nops * sizeof(*sorted) + 1)) == NULL)
        return -1;
    /* Counting sort: stable, so ops of one code keep their order. */
    for (unsigned c = 0, next = 0; c <= X_ALT; c++) {
        at[c] = (uint16_t)next;
        if (count[c])
            g->runs[g->nruns++] = (struct fs_run){ (uint8_t)c, (uint16_t)next, count[c] };
        next += count[c];
    }
    for (size_t i = 0; i < g->nops; i++)
        sorted[at[g->ops[i].code]++] = g->ops[i];
    memcpy(g->ops, sorted, g->nops * sizeof(*sorted));
    free(sorted);
    return 0;
}

/* v9 scope fields use their own type numbers (1 = System, 2 = Interface, ...)
 * that must not be read as elements. */
static bool field_is_v9_scope(const struct fs_tpl_def *def, size_t i)
{
    return def->version == 9 && i < def->nscope;
}

static bool field_is_varlen(const struct fs_tpl_def *def, const struct fs_tpl_field *fl)
{
    return def->version == 10 && fl->len == FS_VARLEN;
}

struct fs_rec_prog *fs_rec_compile(const struct fs_tpl_def *def, const char **why)
{
    uint8_t best[S_COUNT], fams[OP_COUNT] = { 0 };
    size_t fixed = 0, nvar = 0;

    *why = NULL;
    if (def->nfields == 0) {
        *why = "template has no fields";
        return NULL;
    }
    if (def->nfields > FS_TPL_MAX_FIELDS) {
        *why = "template has too many fields";
        return NULL;
    }
    memset(best, 0xff, sizeof(best));
    for (size_t i = 0; i < def->nfields; i++) {
        const struct fs_tpl_field *fl = &def->fields[i];
        const struct ie_map *m;

        if (field_is_varlen(def, fl))
            nvar++;
        else
            fixed += fl->len;
        if (field_is_v9_scope(def, i) || (m = ie_lookup(fl)) == NULL)
            continue;
        if (m->slot != S_NONE && m->rank < best[m->slot])
            best[m->slot] = m->rank;
        if (m->fam)
            fams[m->op] |= m->fam == 4 ? 1 : 2;
    }
    if (fixed + nvar > 65535) {
        *why = "template records are longer than 65535 bytes";
        return NULL;
    }
    if (fixed + nvar == 0) {
        *why = "template records have no length";
        return NULL;
    }

    /* At most one op per field plus the skips between them, and as many
     * runs as ops. */
    size_t nops = 2 * (size_t)def->nfields + 1;
    struct fs_rec_prog *g = calloc(1, sizeof(*g) + nops * (sizeof(struct fs_op) +
                                                           sizeof(struct fs_run)));
    if (g == NULL)
        return NULL;
    g->runs = (struct fs_run *)(g->ops + nops);
    g->min_len = (uint16_t)(fixed + nvar);

    /* Records without variable-length fields all have one layout: each op
     * reads at its own position and none is needed for the bytes between. */
    size_t skip = 0, nalt = 0, pos = 0;
    struct fs_op *seg = NULL; /* last variable-length op: collects the fixed bytes after it */
    for (size_t i = 0; i < def->nfields; pos += def->fields[i].len, i++) {
        const struct fs_tpl_field *fl = &def->fields[i];
        const struct ie_map *m = NULL;
        struct fs_op *op;

        if (!field_is_varlen(def, fl)) {
            if (seg)
                seg->len = (uint16_t)(seg->len + fl->len);
            if (!field_is_v9_scope(def, i))
                m = ie_lookup(fl);
            if (m && m->slot != S_NONE && m->rank != best[m->slot])
                m = NULL;
            if (m == NULL) {
                skip += fl->len;
                continue;
            }
        }
        if (skip && nvar) {
            g->ops[g->nops++] = (struct fs_op){ .code = X_SKIP, .len = (uint16_t)skip };
            skip = 0;
        }
        op = &g->ops[g->nops++];
        if (m == NULL) {
            const struct ie_map *vm = ie_lookup(fl);
            bool frame = vm && vm->op == OP_FRAME && vm->rank == best[S_FRAME];

            *op = (struct fs_op){ .code = X_VARLEN, .arg = frame ? vm->arg : SEC_NONE };
            g->has_frame |= frame;
            g->has_varlen = true;
            seg = op;
            continue;
        }
        *op = compile_op(m->op, m->arg, fl->len);
        op->pos = (uint16_t)pos;
        if (m->fam == 6 && fams[m->op] == 3 && nalt < FS_REC_MAX_ALT) {
            op->arg = op->code;
            op->code = X_ALT;
            g->dual = true;
            nalt++;
        }
        if (m->bit != NOBIT)
            g->present |= UINT64_C(1) << m->bit;
        switch (m->op) {
        case OP_MPLS: g->mpls_mask |= (uint8_t)(1u << m->arg); break;
        case OP_PARAM: g->has_params = true; break;
        case OP_START: g->start_form = m->arg; break;
        case OP_END: g->end_form = m->arg; break;
        case OP_DUR: g->dur_form = m->arg; break;
        case OP_FRAME: g->has_frame = true; break;
        default: break;
        }
    }
    if (skip && nvar)
        g->ops[g->nops++] = (struct fs_op){ .code = X_SKIP, .len = (uint16_t)skip };
    if (!nvar && group_ops(g) < 0) {
        free(g);
        return NULL;
    }
    return g;
}

/* Reads an unsigned integer of 1 to 8 bytes (reduced-size encoding). */
static inline uint64_t get_uint(const uint8_t *p, unsigned n)
{
    switch (n) {
    case 1: return p[0];
    case 2: return fs_get16(p);
    case 4: return fs_get32(p);
    case 8: return fs_get64(p);
    default: {
        uint64_t v = 0;
        for (unsigned i = 0; i < n; i++)
            v = v << 8 | p[i];
        return v;
    }
    }
}

static inline void set_ip(uint8_t *to, uint8_t af, const uint8_t *p)
{
    fs_ip *ip = (fs_ip *)to;

    ip->af = af;
    memcpy(ip->b, p, af == 4 ? 4 : 16);
}

/* Stores an integer of the type of the field at `to`. */
#define STORE(to, type, v)                   \
    do {                                     \
        type v_ = (type)(v);                 \
        memcpy((to), &v_, sizeof(v_));       \
    } while (0)

/* The five read widths of one integer op. */
#define INT_CASES(base, type, to)                                  \
    case (base) + RD_1: STORE(to, type, q[0]); break;              \
    case (base) + RD_2: STORE(to, type, fs_get16(q)); break;       \
    case (base) + RD_4: STORE(to, type, fs_get32(q)); break;       \
    case (base) + RD_8: STORE(to, type, fs_get64(q)); break;       \
    case (base) + RD_N: STORE(to, type, get_uint(q, n)); break

/* Runs one op on the `n` bytes at `q` (the variable-length op aside, which
 * the record loop runs itself). Inlined into the record loop: it is the
 * loop. */
static inline __attribute__((always_inline)) void put_field(uint8_t code, uint8_t arg,
                                                            uint16_t off, const uint8_t *q,
                                                            unsigned n, struct fs_flow *f,
                                                            struct rec_params *r)
{
    uint8_t *to = (uint8_t *)f + off;

    switch (code) {
    case X_SKIP: case X_VARLEN: break;
    INT_CASES(X_U8, uint8_t, to);
    INT_CASES(X_U16, uint16_t, to);
    INT_CASES(X_U32, uint32_t, to);
    INT_CASES(X_U64, uint64_t, to);
    INT_CASES(X_T, uint64_t, (uint8_t *)r + off);
    case X_IP4: set_ip(to, 4, q); break;
    case X_IP6: set_ip(to, 6, q); break;
    case X_MAC: memcpy(to, q, 6); break;
    case X_MPLS: f->mpls[arg] = (uint32_t)q[0] << 16 | (uint32_t)q[1] << 8 | q[2]; break;
    case X_ICMP_TC: {
        uint16_t tc = (uint16_t)get_uint(q, n);
        f->icmp_type = (uint8_t)(tc >> 8);
        f->icmp_code = (uint8_t)tc;
        break;
    }
    case X_PARAM:
        r->v[arg] = get_uint(q, n);
        r->have |= 1u << arg;
        break;
    case X_FRAME:
        r->frame = q;
        r->frame_len = n;
        r->section = arg;
        break;
    case X_ALT:
        if (r->nalt < FS_REC_MAX_ALT)
            r->alt[r->nalt++] = q;
        break;
    default:
        /* fs_rec_compile() makes no other code: no range test before the jump. */
        __builtin_unreachable();
    }
}

#undef INT_CASES
#undef STORE

/* The ops of a grouped template (group_ops()) on the record at `p`: one
 * loop per run, each made for its code. */
static inline __attribute__((always_inline)) void
run_groups(const struct fs_rec_prog *g, const uint8_t *p, struct fs_flow *f,
           struct rec_params *r)
{
    for (const struct fs_run *run = g->runs, *re = g->runs + g->nruns; run < re; run++) {
        const struct fs_op *op = g->ops + run->first, *oe = op + run->count;

        switch (run->code) {
#define RUN(c)                                                                  \
    case (c):                                                                   \
        for (; op < oe; op++)                                                   \
            put_field((c), op->arg, op->off, p + op->pos, op->len, f, r);       \
        break
#define RUNS(base) RUN((base) + RD_1); RUN((base) + RD_2); RUN((base) + RD_4); \
        RUN((base) + RD_8); RUN((base) + RD_N)
        RUNS(X_U8);
        RUNS(X_U16);
        RUNS(X_U32);
        RUNS(X_U64);
        RUNS(X_T);
        RUN(X_IP4);
        RUN(X_IP6);
        RUN(X_MAC);
        RUN(X_MPLS);
        RUN(X_ICMP_TC);
        RUN(X_PARAM);
        RUN(X_FRAME);
        RUN(X_ALT);
#undef RUNS
#undef RUN
        default: break; /* no skips in a template with one layout */
        }
    }
}

/*
 * Runs the ops of one record. Returns the bytes it took, 0 when what is left
 * is shorter than any record (padding), or -1 when a variable-length field
 * runs past the end. Only the fields the template has are written. Without
 * variable-length fields (`varlen` false, a constant where this is inlined
 * into the data record loop) every record is min_len bytes, all within
 * `rest`, and each op reads at its own position.
 */
static inline __attribute__((always_inline)) long
rec_run(const struct fs_rec_prog *g, const uint8_t *p, size_t rest, struct fs_flow *f,
        struct rec_params *r, bool varlen)
{
    const uint8_t *q = p, *end = p + rest;

    if (rest < g->min_len)
        return 0;
    if (!varlen) {
        if (g->nruns)
            run_groups(g, p, f, r);
        else
            for (const struct fs_op *op = g->ops, *oe = g->ops + g->nops; op < oe; op++)
                put_field(op->code, op->arg, op->off, p + op->pos, op->len, f, r);
        return g->min_len;
    }
    for (const struct fs_op *op = g->ops, *oe = g->ops + g->nops; op < oe; op++) {
        unsigned n = op->len;

        if (op->code == X_VARLEN) {
            size_t vl;
            if (q >= end)
                return -1;
            vl = *q++;
            if (vl == 255) {
                if (end - q < 2)
                    return -1;
                vl = fs_get16(q);
                q += 2;
            }
            if ((size_t)(end - q) < vl + n)
                return -1;
            if (op->arg != SEC_NONE) {
                r->frame = q;
                r->frame_len = vl;
                r->section = op->arg;
            }
            q += vl;
            continue;
        }
        put_field(op->code, op->arg, op->off, q, n, f, r);
        q += n;
    }
    return q - p;
}

static bool prog_has(const struct fs_rec_prog *g, unsigned bit)
{
    return g->present >> bit & 1u;
}

/* The label stack runs from the top down to the entry with the
 * bottom-of-stack bit; without one, to the last non-zero entry (exporters
 * send zeros for the positions a packet did not use). */
static void mpls_finish(struct fs_flow *f, uint8_t mask)
{
    unsigned n = 0;

    for (unsigned i = 0; i < FS_FLOW_MPLS_MAX && (mask >> i & 1u); i++) {
        if (f->mpls[i] != 0)
            n = i + 1;
        if (f->mpls[i] & 1u)
            break;
    }
    f->mpls_count = (uint8_t)n;
    if (n)
        FS_FLOW_SET(f, FS_F_MPLS);
}

static bool nonzero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return true;
    return false;
}

static bool ip_nonzero(const fs_ip *ip, uint8_t af)
{
    return ip->af == af && nonzero(ip->b, af == 4 ? 4 : 16);
}

/*
 * A template with both the IPv4 and the IPv6 variant of a field (addresses,
 * next hops, masks, ICMP type and code) describes IPv4 and IPv6 flows alike:
 * ipVersion says which one a record is, else the family whose addresses are
 * not zero (IPv4 when neither). The IPv4 variants went into the flow; for an
 * IPv6 record the IPv6 ones, noted during the op loop, are stored over them.
 */
static void pick_family(const struct fs_rec_prog *g, struct fs_flow *f, struct rec_params *r)
{
    unsigned family = 4, i = 0;

    if (prog_has(g, FS_F_IP_VERSION)) {
        family = f->ip_version;
    } else if (!ip_nonzero(&f->src_addr, 4) && !ip_nonzero(&f->dst_addr, 4)) {
        bool v6 = ip_nonzero(&f->src_addr, 6) || ip_nonzero(&f->dst_addr, 6);
        for (const struct fs_op *op = g->ops, *oe = g->ops + g->nops; op < oe; op++)
            if (op->code == X_ALT && i < r->nalt) {
                if (op->off == offsetof(struct fs_flow, src_addr) ||
                    op->off == offsetof(struct fs_flow, dst_addr))
                    v6 |= nonzero(r->alt[i], 16);
                i++;
            }
        if (v6)
            family = 6;
    }
    if (family != 6)
        return;
    i = 0;
    for (const struct fs_op *op = g->ops, *oe = g->ops + g->nops; op < oe && i < r->nalt; op++)
        if (op->code == X_ALT)
            put_field(op->arg, 0, op->off, r->alt[i++], op->len, f, r);
}

static uint32_t ratio(uint64_t num, uint64_t den)
{
    uint64_t r = (num + den / 2) / den;

    if (r == 0)
        return 1;
    return r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
}

#define HAVE(r, p) ((r)->have >> (p) & 1u)

/* A record parameter that was sent and is not zero. */
static bool param_set(const struct rec_params *r, enum rec_param p)
{
    return HAVE(r, p) && r->v[p] != 0;
}

/* The sampling rate a record states, 0 if none: samplingInterval, then the
 * PSAMP systematic count-based (interval + space) and random n-out-of-N
 * (population / size) parameters, then samplerRandomInterval. */
static uint32_t params_rate(const struct rec_params *r)
{
    if (param_set(r, RP_INTERVAL))
        return ratio(r->v[RP_INTERVAL], 1);
    if (param_set(r, RP_PKT_INTERVAL) && HAVE(r, RP_PKT_SPACE))
        return ratio(r->v[RP_PKT_INTERVAL] + r->v[RP_PKT_SPACE], r->v[RP_PKT_INTERVAL]);
    if (param_set(r, RP_SIZE) && HAVE(r, RP_POPULATION))
        return ratio(r->v[RP_POPULATION], r->v[RP_SIZE]);
    if (param_set(r, RP_RANDOM))
        return ratio(r->v[RP_RANDOM], 1);
    return 0;
}

#define NTP_UNIX_OFFSET UINT64_C(2208988800) /* seconds from 1900 to 1970 */

/* NTP timestamps (RFC 7011 dateTimeMicroseconds/Nanoseconds) to epoch ms.
 * Seconds below the 1970 offset belong to NTP era 1 (after 2036). */
static uint64_t ntp_to_ms(uint64_t v)
{
    uint64_t sec = v >> 32, frac = v & 0xffffffffu;

    if (sec < NTP_UNIX_OFFSET)
        sec += UINT64_C(1) << 32;
    return (sec - NTP_UNIX_OFFSET) * 1000 + ((frac * 1000) >> 32);
}

/* `base + v` moved by whole 2^32 ms uptime wraps to within 2^31 ms of the
 * export time. */
static uint64_t near_export(uint64_t base, uint32_t v, uint64_t export_ms)
{
    const uint64_t wrap = UINT64_C(1) << 32, half = wrap >> 1;
    uint64_t t = base + v;

    if (export_ms > t + half) {
        t += (export_ms - t + half) / wrap * wrap;
    } else if (t > export_ms + half) {
        uint64_t k = (t - export_ms - half + wrap - 1) / wrap;
        if (k > t / wrap)
            k = t / wrap;
        t -= k * wrap;
    }
    return t;
}

static inline __attribute__((always_inline)) uint64_t
time_to_ms(uint8_t form, uint64_t v, const struct fs_export_hdr *m, uint64_t export_ms,
           uint64_t init_ms)
{
    switch (form) {
    case TF_UPTIME:
        if (m->version == 9)
            return fs_uptime_to_ms(export_ms, m->sys_uptime, (uint32_t)v);
        return near_export(init_ms, (uint32_t)v, export_ms);
    case TF_SEC: return v * 1000;
    case TF_MS: return v;
    case TF_NTP: return ntp_to_ms(v);
    case TF_DELTA_US: return v / 1000 < export_ms ? export_ms - v / 1000 : 0;
    default: return 0;
    }
}

static inline __attribute__((always_inline)) void
resolve_times(const struct fs_rec_prog *g, const struct rec_params *r,
              const struct fs_export_hdr *m, const struct fs_domain *dom, struct fs_flow *f)
{
    uint64_t export_ms = (uint64_t)m->export_secs * 1000, init_ms = 0;
    bool has_start = g->start_form != TF_NONE, has_end = g->end_form != TF_NONE;

    if (m->version == 10 && (g->start_form == TF_UPTIME || g->end_form == TF_UPTIME)) {
        uint32_t last = (uint32_t)(g->end_form == TF_UPTIME ? r->end : r->start);
        init_ms = dom->sys_init_ms ? dom->sys_init_ms
                  : export_ms > last ? export_ms - last : 0;
    }
    if (has_start)
        f->start_ms = time_to_ms(g->start_form, r->start, m, export_ms, init_ms);
    if (has_end)
        f->end_ms = time_to_ms(g->end_form, r->end, m, export_ms, init_ms);
    if (g->dur_form != TF_NONE && has_start != has_end) {
        uint64_t dur = g->dur_form == TF_US ? r->dur / 1000 : r->dur;
        if (has_end)
            f->start_ms = f->end_ms > dur ? f->end_ms - dur : 0;
        else
            f->end_ms = f->start_ms + dur;
        has_start = has_end = true;
    }
    if (has_start)
        FS_FLOW_SET(f, FS_F_START);
    if (has_end)
        FS_FLOW_SET(f, FS_F_END);
}

/* An options data record: sampling parameters and systemInitTimeMilliseconds
 * for the domain. Other option values are not kept. */
static void options_record(struct fs_decode_ctx *c, const struct fs_rec_prog *g,
                           const struct fs_flow *f, const struct rec_params *r,
                           struct fs_domain *dom)
{
    uint32_t rate = params_rate(r);

    if (param_set(r, RP_SYS_INIT))
        dom->sys_init_ms = r->v[RP_SYS_INIT];
    if (rate)
        fs_sampling_set(dom, prog_has(g, FS_F_SAMPLER_ID), f->sampler_id, rate);
    FS_COUNT(c, options_records, 1);
}

/* What every data record of one set shares: worked out once per set. */
struct set_env {
    const struct fs_export_hdr *m;
    struct fs_domain *dom;
    bool record_rate; /* the rate can differ per record: a sampler id or a rate in it */
    uint32_t rate;    /* otherwise, the rate of every record (0: unknown) */
    bool clamp;       /* the clock clamp is on */
};

static inline __attribute__((always_inline)) void
data_record(struct fs_decode_ctx *c, const struct fs_rec_prog *g, struct fs_flow *f,
            struct rec_params *r, const struct set_env *env)
{
    uint32_t rate = env->rate, record_rate = 0;

    f->version = env->m->version;
    f->domain = env->m->domain;
    f->present |= g->present;
    if (g->mpls_mask)
        mpls_finish(f, g->mpls_mask);
    if (g->dual)
        pick_family(g, f, r);
    if (g->has_frame && r->frame_len && !param_set(r, RP_L2_OFFSET) &&
        !param_set(r, RP_SECT_OFFSET)) {
        struct fs_frame fr;

        /* A section cut short is normal, not damage: whatever it holds counts. */
        (void)fs_frame_parse(r->frame, r->frame_len,
                             r->section == SEC_IP ? FS_FRAME_LINK_RAW : FS_FRAME_LINK_ETHERNET,
                             &fr);
        fs_frame_to_flow(&fr, f);
    }
    if (g->has_params) {
        if (param_set(r, RP_SYS_INIT))
            env->dom->sys_init_ms = r->v[RP_SYS_INIT];
        record_rate = params_rate(r);
    }
    if (g->start_form || g->end_form || g->dur_form)
        resolve_times(g, r, env->m, env->dom, f);
    if (env->record_rate)
        rate = fs_sampling_rate(c, env->dom, prog_has(g, FS_F_SAMPLER_ID), f->sampler_id,
                                record_rate);
    fs_flow_apply_sampling(c, f, rate);
    if (env->clamp)
        fs_flow_check_clock(c, f);
    fs_ctx_commit(c);
}

static int field_past_end(struct fs_decode_ctx *c, const struct fs_export_hdr *m,
                          const struct fs_tpl *t, int n)
{
    return fs_ctx_error(c, FS_ERR_FIELD_LENGTH,
                        "v%u domain %u template %u: variable-length field past the end "
                        "of record %d", m->version, m->domain, t->def.id, n + 1);
}

/* The records of a data set, straight into the decode context's batch. */
static inline __attribute__((always_inline)) int
data_records(struct fs_decode_ctx *c, const struct fs_tpl *t, const struct set_env *env,
             const uint8_t *p, size_t len, bool varlen)
{
    const struct fs_rec_prog *g = t->prog;
    struct rec_params r;
    size_t off = 0;
    int n = 0;

    while (off < len) {
        struct fs_flow *f = fs_ctx_flow(c);
        long used;

        r.have = 0;
        r.frame_len = 0;
        r.nalt = 0;
        used = rec_run(g, p + off, len - off, f, &r, varlen);
        if (used == 0)
            break;
        if (used < 0)
            return field_past_end(c, env->m, t, n);
        data_record(c, g, f, &r, env);
        off += (size_t)used;
        n++;
    }
    return n;
}

static int options_records(struct fs_decode_ctx *c, const struct fs_export_hdr *m,
                           const struct fs_tpl *t, struct fs_domain *dom, const uint8_t *p,
                           size_t len)
{
    struct fs_flow scratch;
    struct rec_params r;
    size_t off = 0;
    int n = 0;

    memset(&scratch, 0, sizeof(scratch));
    while (off < len) {
        long used;

        r.have = 0;
        r.frame_len = 0;
        r.nalt = 0;
        used = rec_run(t->prog, p + off, len - off, &scratch, &r, t->prog->has_varlen);
        if (used == 0)
            break;
        if (used < 0)
            return field_past_end(c, m, t, n);
        options_record(c, t->prog, &scratch, &r, dom);
        off += (size_t)used;
        n++;
    }
    return n;
}

int fs_rec_decode_set(struct fs_decode_ctx *c, const struct fs_export_hdr *m,
                      const struct fs_tpl *t, const uint8_t *p, size_t len)
{
    const struct fs_rec_prog *g = t->prog;
    struct fs_domain *dom = fs_ctx_domain(c, m->domain, m->version);
    struct set_env env;

    if (dom == NULL)
        return -1;
    if (t->def.options)
        return options_records(c, m, t, dom, p, len);
    /* Sampling rates change only through options records, never in the
     * middle of a data set: unless a record names its sampler or states a
     * rate, one look-up serves the whole set. */
    env = (struct set_env){
        .m = m,
        .dom = dom,
        .record_rate = g->has_params || prog_has(g, FS_F_SAMPLER_ID),
        .clamp = fs_decoder_config(c->d)->clock_clamp_ms != 0,
    };
    if (!env.record_rate)
        env.rate = fs_sampling_rate(c, dom, false, 0, 0);
    if (g->has_varlen)
        return data_records(c, t, &env, p, len, true);
    return data_records(c, t, &env, p, len, false);
}

/* A data set (body without the 4-byte set header) with template `tpl_id`,
 * decoded or held until the template arrives. Returns the number of records
 * decoded, or -1 after counting the damage. */
static int data_set(struct fs_decode_ctx *c, const struct fs_export_hdr *m, uint16_t tpl_id,
                    const uint8_t *p, size_t len, bool *waited)
{
    const struct fs_tpl *t = fs_tpl_find(c->exp->templates, m->domain, m->version, tpl_id);

    if (len == 0)
        return 0;
    if (t)
        return fs_rec_decode_set(c, m, t, p, len);
    *waited = true;
    return fs_pending_hold(c, m, tpl_id, p, len);
}

/* Reads the set at `*off` of `p[0..len)`. Returns 1 with the set id and
 * body, 0 at the end (fewer than 4 bytes left: `*off` stays on them), or -1
 * after counting FS_ERR_SET_LENGTH. */
static int next_set(struct fs_decode_ctx *c, const struct fs_export_hdr *m, const uint8_t *p,
                    size_t len, size_t *off, uint16_t *id, const uint8_t **body, size_t *blen)
{
    size_t rest = len - *off, slen;

    if (rest < 4)
        return 0;
    *id = fs_get16(p + *off);
    slen = fs_get16(p + *off + 2);
    if (slen < 4)
        return fs_ctx_error(c, FS_ERR_SET_LENGTH,
                            "v%u domain %u: set %u at offset %zu: length %zu is shorter "
                            "than the set header", m->version, m->domain, *id, *off, slen);
    if (slen > rest)
        return fs_ctx_error(c, FS_ERR_SET_LENGTH,
                            "v%u domain %u: set %u at offset %zu: length %zu runs past the "
                            "end (%zu bytes left)", m->version, m->domain, *id, *off, slen, rest);
    *body = p + *off + 4;
    *blen = slen - 4;
    *off += slen;
    return 1;
}

static bool is_template_set(uint16_t version, uint16_t id)
{
    return version == 9 ? id <= 1 : id == 2 || id == 3;
}

int fs_rec_decode_sets(struct fs_decode_ctx *c, const struct fs_export_hdr *m,
                       const uint8_t *p, size_t len, size_t off, fs_rec_tpl_fn templates,
                       struct fs_rec_sets *out)
{
    bool learned = false;
    const uint8_t *body = NULL;
    uint16_t id = 0;
    size_t blen = 0;
    int rc = 0, r;

    *out = (struct fs_rec_sets){ 0 };
    while ((r = next_set(c, m, p, len, &off, &id, &body, &blen)) > 0) {
        if (is_template_set(m->version, id)) {
            bool now = false;

            r = templates(c, m, id, body, blen, &now);
            /* Held options records first: the sampling they announce
             * applies to the data sets later in this message. */
            if (now && fs_pending_release_options(c) < 0)
                r = -1;
            learned |= now;
        } else if (id < 256) {
            r = fs_ctx_error(c, FS_ERR_BAD_SET_ID, "v%u domain %u: reserved set id %u",
                             m->version, m->domain, id);
        } else {
            r = data_set(c, m, id, body, blen, &out->waited);
            if (r > 0)
                out->records += (uint32_t)r;
            else if (r < 0)
                out->damaged = true;
        }
        if (r < 0)
            rc = -1;
    }
    if (r < 0) {
        out->damaged = true;
        rc = -1;
    }
    out->off = off;
    if (learned && fs_pending_release(c) < 0)
        rc = -1;
    return rc;
}

bool fs_rec_is_padding(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}
