/*
 * pcapfile.h - reads export datagrams out of pcap/pcapng captures.
 *
 * Used by `flowsentry-collector --read`, by the fixture tests and by the
 * benchmark, so that offline captures go through the same decoder as live
 * UDP. Link types: Ethernet (with 802.1Q/QinQ tags, PPPoE, MPLS), Linux
 * cooked (SLL, SLL2), raw IP, BSD loopback; IPv4 and IPv6, as frame.h reads
 * them. Only UDP payloads are handed on; everything else is counted and
 * skipped.
 */
#ifndef FS_PCAPFILE_H
#define FS_PCAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

struct fs_pcap_packet {
    fs_ip src, dst;
    uint16_t src_port, dst_port;
    uint64_t ts_ms;          /* capture timestamp, ms since the epoch */
    const uint8_t *payload;  /* UDP payload: one export datagram */
    size_t len;
};

struct fs_pcap_stats {
    uint64_t packets;        /* frames read */
    uint64_t datagrams;      /* UDP payloads handed on */
    uint64_t skipped;        /* not UDP, not IP, or unknown link type */
    uint64_t truncated;      /* frame shorter than its headers say (snaplen, damage) */
    uint64_t fragments;      /* IP fragments (not reassembled) */
};

/* Returns 0 to go on, non-zero to stop reading. */
typedef int (*fs_pcap_fn)(void *arg, const struct fs_pcap_packet *pkt);

/* Reads the whole file. Returns 0, or -1 with a message in `err` (file
 * missing, not a capture, unsupported link type, read error mid-file). A
 * truncated file delivers every complete packet before the damage and then
 * returns -1. `st` may be NULL. */
int fs_pcap_read(const char *path, fs_pcap_fn fn, void *arg,
                 struct fs_pcap_stats *st, char *err, size_t errlen);

#endif
