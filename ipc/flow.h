/*
 * flow.h - the flow record that every flowsentry process exchanges.
 *
 * One struct, filled by the collector's decoders (and later the sensor), carried
 * on the flows bus as a msgpack map keyed by IANA IPFIX Information Element ids
 * (see docs/messages.md), and shown as JSON with the names of fs_flow_json().
 *
 * Optional fields are marked in `present` (a bitmask of FS_F_* bits): a field
 * whose bit is clear was not sent by the exporter and is omitted from every
 * output. The exporter address, version and observation domain are always set.
 */
#ifndef FS_FLOW_H
#define FS_FLOW_H

#include <stddef.h>
#include <stdint.h>

/* An IPv4 or IPv6 address. IPv4 lives in the first four bytes of `b`. */
typedef struct fs_ip {
    uint8_t af; /* 0 = unset, 4 = IPv4, 6 = IPv6 */
    uint8_t b[16];
} fs_ip;

/* Presence bits for the optional fields of struct fs_flow. */
enum fs_flow_field {
    FS_F_SRC_ADDR = 0,
    FS_F_DST_ADDR,
    FS_F_SRC_PORT,
    FS_F_DST_PORT,
    FS_F_PROTO,
    FS_F_TOS,
    FS_F_TCP_FLAGS,
    FS_F_PACKETS,
    FS_F_BYTES,
    FS_F_IN_IF,
    FS_F_OUT_IF,
    FS_F_START,
    FS_F_END,
    FS_F_NEXT_HOP,
    FS_F_BGP_NEXT_HOP,
    FS_F_SRC_AS,
    FS_F_DST_AS,
    FS_F_SRC_MASK,
    FS_F_DST_MASK,
    FS_F_SRC_VLAN,
    FS_F_DST_VLAN,
    FS_F_SRC_MAC,
    FS_F_DST_MAC,
    FS_F_MPLS,
    FS_F_DIRECTION,
    FS_F_FWD_STATUS,
    FS_F_SAMPLING,       /* sampling_rate is known (1 = unsampled) */
    FS_F_SAMPLER_ID,
    FS_F_ICMP,           /* icmp_type and icmp_code */
    FS_F_POST_SRC_ADDR,  /* NAT: post-translation addresses and ports */
    FS_F_POST_DST_ADDR,
    FS_F_POST_SRC_PORT,
    FS_F_POST_DST_PORT,
    FS_F_REV_PACKETS,    /* RFC 5103 biflow, reverse direction */
    FS_F_REV_BYTES,
    FS_F_REV_TOS,
    FS_F_REV_TCP_FLAGS,
    FS_F_IP_VERSION,
    FS_F_FLOW_ID,        /* another tool's flow identifier (Suricata flow_id) */
    FS_F_UID,            /* another tool's connection uid (Zeek uid) */
    FS_F_COUNT
};

#define FS_FLOW_HAS(f, bit) (((f)->present >> (bit)) & 1u)
#define FS_FLOW_SET(f, bit) ((f)->present |= (UINT64_C(1) << (bit)))

/* Flags about how the record was produced (not exporter fields). */
#define FS_FLOW_SAMPLING_UNKNOWN 0x01u /* no rate known: counters not scaled */
#define FS_FLOW_TIME_CLAMPED     0x02u /* exporter clock far off: times clamped */

#define FS_FLOW_MPLS_MAX 6

/* Longest uid kept, terminating NUL included: a Zeek uid is a letter and
 * two 64-bit words in base 62, at most 23 characters (18 with Zeek's
 * default of 96 bits). */
#define FS_FLOW_UID_MAX 24

struct fs_flow {
    uint64_t present;  /* FS_F_* bits */
    uint32_t flags;    /* FS_FLOW_* bits */
    uint16_t version;  /* export protocol: 1, 5, 7, 9, 10 (IPFIX); 0 = sensor */
    uint32_t domain;   /* observation domain / v9 source id / v5 engine type<<8|id */
    fs_ip exporter;

    fs_ip src_addr, dst_addr;
    fs_ip next_hop, bgp_next_hop;
    fs_ip post_src_addr, post_dst_addr;
    uint16_t src_port, dst_port;
    uint16_t post_src_port, post_dst_port;
    uint8_t proto, tos, tcp_flags, ip_version;
    uint8_t src_mask, dst_mask;
    uint8_t direction;  /* 0 ingress, 1 egress (IE 61) */
    uint8_t fwd_status; /* IE 89 */
    uint8_t icmp_type, icmp_code;
    uint16_t src_vlan, dst_vlan;
    uint8_t src_mac[6], dst_mac[6];
    uint8_t mpls_count;
    uint32_t mpls[FS_FLOW_MPLS_MAX]; /* label stack entries: label<<4 | exp<<1 | bos */

    uint64_t packets, bytes;         /* scaled by sampling_rate when known */
    uint64_t start_ms, end_ms;       /* milliseconds since the Unix epoch */
    uint32_t in_if, out_if;
    uint32_t src_as, dst_as;
    uint32_t sampling_rate;          /* 1 = unsampled; valid when FS_F_SAMPLING */
    uint32_t sampler_id;

    uint64_t rev_packets, rev_bytes;
    uint8_t rev_tos, rev_tcp_flags;

    /* Identifiers given by the tool that saw the flow first, kept so that an
     * analyst can pivot back to its logs. */
    char uid[FS_FLOW_UID_MAX]; /* NUL-terminated text (Zeek uid) */
    uint64_t flow_id;          /* Suricata flow_id (IPFIX IE 148, flowId) */
};

/* Sets every field to "absent". */
void fs_flow_init(struct fs_flow *f);

/* Formats an address as text ("192.0.2.1", "2001:db8::1"); "" when unset.
 * `out` must hold at least FS_IP_STRLEN bytes. */
#define FS_IP_STRLEN 46
const char *fs_ip_format(const fs_ip *ip, char *out);

/* Parses "192.0.2.1" or "2001:db8::1". Returns 0, or -1 when not an address. */
int fs_ip_parse(const char *text, fs_ip *ip);

/* The same for `n` bytes that need no NUL (a field inside a line), and
 * "aa:bb:cc:dd:ee:ff" MAC addresses. Return 0, or -1. */
int fs_ip_parse_len(const char *s, size_t n, fs_ip *ip);
int fs_mac_parse_len(const char *s, size_t n, uint8_t mac[6]);

/* Writes one flow as a single-line JSON object (no newline) into `out`.
 * Returns the length written, or -1 if `cap` is too small. Key names are the
 * ones listed in docs/messages.md and are used wherever flows are shown. */
int fs_flow_json(const struct fs_flow *f, char *out, size_t cap);

/* Enough room for fs_flow_json() of any flow. */
#define FS_FLOW_JSON_MAX 2048

/* Reads one line written by fs_flow_json() (`len` bytes, no NUL needed; blanks
 * around tokens allowed) back into `f`: the exact inverse for every key.
 * Known keys must have their JSON type and fit their field (integers in
 * range, addresses as text, "" for an unset address); unknown keys are
 * skipped whatever their value; a key given twice is refused. Returns 0, or
 * -1 with a one-line reason in `err` ("src_port: 70000 is out of range
 * (0..65535)", "column 12: 'x' where ',' or '}' was expected"). Allocates
 * nothing. */
int fs_flow_parse_json(const char *line, size_t len, struct fs_flow *f,
                       char *err, size_t errlen);

#endif
