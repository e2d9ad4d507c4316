/*
 * frame.h - packet header parser: link layer to transport header, no I/O.
 *
 * Reads the headers a flow meter keys on out of the first bytes of a packet:
 * Ethernet with 802.1Q/802.1ad tags, PPPoE, MPLS label stacks with Ethernet
 * pseudo-wires (RFC 4448, with or without the RFC 4385 control word), IPv4,
 * IPv6 with its extension headers, and the TCP/UDP/SCTP/ICMP headers.
 *
 * Two users: the IPFIX decoder, for packet sections that exporters send
 * instead of (or beside) flow fields (dataLinkFrameSection, IE 315, usually
 * the first 128 bytes of a sampled frame), and the capture reader
 * (pcapfile.c), which finds export datagrams in pcap files. Sections
 * are cut short by design, so running out of bytes is an ordinary outcome:
 * the parser fills what the bytes hold, says what it found in `have`, and
 * never reads past `len`.
 */
#ifndef FS_FRAME_H
#define FS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* What the bytes start with. */
enum fs_frame_link {
    FS_FRAME_LINK_ETHERNET = 0, /* Ethernet II / 802.3 (DLT_EN10MB) */
    FS_FRAME_LINK_RAW,          /* an IP header, version from its first nibble */
    FS_FRAME_LINK_IPV4,         /* an IPv4 header (LINKTYPE_IPV4) */
    FS_FRAME_LINK_IPV6,         /* an IPv6 header (LINKTYPE_IPV6) */
    FS_FRAME_LINK_MPLS,         /* an MPLS label stack (IPFIX mplsLabelStackSection) */
    FS_FRAME_LINK_SLL,          /* Linux cooked capture v1 (DLT_LINUX_SLL) */
    FS_FRAME_LINK_SLL2,         /* Linux cooked capture v2 (DLT_LINUX_SLL2) */
    FS_FRAME_LINK_NULL,         /* BSD loopback (DLT_NULL, DLT_LOOP): address family */
};

/* Results of fs_frame_parse(). Whatever the result, `have` says which
 * fields of the struct hold values. */
enum fs_frame_result {
    FS_FRAME_OK = 0,     /* every header up to the transport one is complete */
    FS_FRAME_TRUNCATED,  /* the bytes ended inside a header: parsed up to there */
    FS_FRAME_NOT_IP,     /* no IP inside (ARP, LLDP, unknown ethertype, ...) */
    FS_FRAME_MALFORMED,  /* a header contradicts itself (IPv4 IHL < 5, ...) */
};

/* Bits of struct fs_frame `have`. */
#define FS_FRAME_HAVE_MAC       0x01u /* src_mac, dst_mac */
#define FS_FRAME_HAVE_IP        0x02u /* ip_version, addresses, tos, ttl, ip_len,
                                         flow_label (IPv6), l3_off; IPv4: the
                                         fragment fields */
#define FS_FRAME_HAVE_PROTO     0x04u /* proto, l4_off: the IP header chain is
                                         whole; IPv6: the fragment fields */
#define FS_FRAME_HAVE_PORTS     0x08u /* src_port, dst_port (TCP, UDP, SCTP, ...) */
#define FS_FRAME_HAVE_TCP_FLAGS 0x10u
#define FS_FRAME_HAVE_ICMP      0x20u /* icmp_type, icmp_code (ICMP or ICMPv6) */
#define FS_FRAME_HAVE_PAYLOAD   0x40u /* payload_off: the transport header is whole */

/* Bits of struct fs_frame `flags`: facts about the packet. A first fragment
 * is FS_FRAME_FRAGMENT with frag_offset 0; a later one carries no transport
 * header, so neither ports nor ICMP type are looked for. */
#define FS_FRAME_FRAGMENT   0x01u /* part of a fragmented packet (MF or offset) */
#define FS_FRAME_MORE_FRAGS 0x02u /* MF: not the last fragment */
#define FS_FRAME_DONT_FRAG  0x04u /* IPv4 DF */
#define FS_FRAME_PW         0x08u /* an Ethernet pseudo-wire inside MPLS */
#define FS_FRAME_PW_CW      0x10u /* ... behind a control word */
#define FS_FRAME_VLAN_MORE  0x20u /* more tags than vlan[] holds */
#define FS_FRAME_MPLS_MORE  0x40u /* more labels than mpls[] holds */

#define FS_FRAME_VLAN_MAX 2

struct fs_frame {
    uint32_t have;   /* FS_FRAME_HAVE_* */
    uint32_t flags;  /* FS_FRAME_* */

    /* The first Ethernet header: on a pseudo-wire, the carrier's one. */
    uint8_t src_mac[6], dst_mac[6];
    uint8_t nvlan;                    /* tags in vlan[], outermost first */
    uint16_t vlan[FS_FRAME_VLAN_MAX]; /* VLAN ids of the first header's tags */
    uint8_t mpls_count;
    uint32_t mpls[FS_FLOW_MPLS_MAX];  /* as in struct fs_flow: label<<4|exp<<1|bos */

    uint8_t ip_version;  /* 4 or 6 */
    uint8_t proto;       /* IPv6: next header of the last extension header */
    uint8_t tos;         /* IPv4 TOS or IPv6 traffic class */
    uint8_t ttl;         /* or hop limit */
    fs_ip src_addr, dst_addr;
    uint32_t ip_len;     /* IPv4 total length; IPv6 payload length + 40 */
    uint32_t flow_label; /* IPv6 */
    uint32_t frag_id;    /* IPv4 identification, or the IPv6 Fragment header's */
    uint16_t frag_offset; /* in 8-byte units, as on the wire (IPFIX IE 88) */

    uint16_t src_port, dst_port;
    uint8_t tcp_flags;   /* CWR..FIN, the low byte of IPFIX tcpControlBits */
    uint8_t icmp_type, icmp_code;

    /* Offsets from the start of the bytes. l4_off may lie past the end when
     * the bytes stop inside IPv4 options; payload_off never does. */
    uint32_t l3_off;      /* the IP header */
    uint32_t l4_off;      /* the transport header, or a later fragment's data */
    uint32_t payload_off; /* what follows the transport header */
};

/* Parses the `len` bytes at `p`, which start as `link` says. `out` is
 * cleared first. Returns an enum fs_frame_result. */
int fs_frame_parse(const uint8_t *p, size_t len, enum fs_frame_link link,
                   struct fs_frame *out);

/* "ok", "truncated", "not_ip", "malformed" (for logs and counters). */
const char *fs_frame_result_name(int result);

/* Copies into `f` what the frame knows and `f` does not have yet: the flow's
 * own fields win. The first VLAN id goes to src_vlan, or to dst_vlan when
 * `f` is an egress flow (direction 1), so call this after the rest of the
 * record has been decoded. */
void fs_frame_to_flow(const struct fs_frame *fr, struct fs_flow *f);

#endif
