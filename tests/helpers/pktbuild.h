/*
 * pktbuild.h - test helper: hand-built packets (Ethernet with 802.1Q and
 * QinQ tags, Linux cooked v1 and v2, raw IP; IPv4 and IPv6 with extension
 * headers and fragments; TCP, UDP, ICMP, ICMPv6 and any other protocol)
 * and capture files made of them with libpcap's pcap_open_dead/pcap_dump,
 * or as pcapng written byte by byte.
 *
 * Layouts come from the formats' own definitions (IEEE 802.1Q, the
 * tcpdump.org LINKTYPE_LINUX_SLL/SLL2 pages, RFC 791, RFC 8200, RFC 9293,
 * RFC 768, RFC 792, the pcapng draft), written independently of
 * collector/frame.c, so that tests check the parser and the meter against
 * the formats rather than against themselves.
 */
#ifndef FS_TEST_PKTBUILD_H
#define FS_TEST_PKTBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKT_MAX 9000

struct pkt {
    int dlt;                 /* DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW */
    unsigned nvlan;          /* Ethernet tags, outermost first; 2: 802.1ad + 802.1Q */
    uint16_t vlan[2];
    uint32_t sll2_ifindex;   /* SLL2 interface index */
    const char *src, *dst;   /* IPv4 or IPv6 addresses as text */
    uint8_t proto;           /* 6, 17, 1, 58 or any other number */
    uint8_t tos;             /* TOS, or IPv6 traffic class */
    uint16_t sport, dport;   /* TCP, UDP */
    uint8_t tcp_flags;
    uint8_t icmp_type, icmp_code;
    size_t payload;          /* transport payload bytes (a fragment: its data bytes) */
    unsigned v6_ext;         /* IPv6: hop-by-hop, destination options and routing
                                headers (8 bytes each) before the transport */
    /* Fragments: `frag` makes one (IPv4 fields, or an IPv6 Fragment header
     * after the extension headers). Offset 0 carries the transport header,
     * others only `payload` data bytes. */
    bool frag;
    uint32_t frag_id;
    uint16_t frag_offset;    /* 8-byte units */
    bool more_frags;
};

/* Length of the IP packet `p` describes (the bytes a flow counts). */
size_t pkt_ip_len(const struct pkt *p);

/* Builds the frame into `out` (PKT_MAX bytes). Returns its length. Aborts
 * the test on an impossible description. */
size_t pkt_build(const struct pkt *p, uint8_t *out);

/* A capture file being written. */
struct pcapw;

/* Opens `path` for packets of link type `dlt` (snaplen 65535). Aborts the
 * test on failure. */
struct pcapw *pcapw_open(const char *path, int dlt);
/* Appends one frame stamped `ts_us` (µs since the epoch); `caplen` below
 * `len` keeps only the first bytes, as a short snaplen does. */
void pcapw_add(struct pcapw *w, uint64_t ts_us, const uint8_t *frame, size_t len,
               size_t caplen);
/* Builds `p` and appends it in full. */
void pcapw_pkt(struct pcapw *w, uint64_t ts_us, const struct pkt *p);
void pcapw_close(struct pcapw *w);

/* Writes a pcapng file of `n` frames of link type `dlt`, each whole, with
 * the given µs timestamps. Aborts the test on failure. */
void pcapng_write(const char *path, int dlt, const uint8_t *const *frames,
                  const size_t *lens, const uint64_t *ts_us, size_t n);

#endif
