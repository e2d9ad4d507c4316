/*
 * capture.h - the sensor's packet source: libpcap, live from an interface
 * or offline from pcap and pcapng files, each packet handed on with its
 * headers already parsed by frame.h, ready for the flow table.
 *
 * Link types: Ethernet (802.1Q and QinQ tags, PPPoE, MPLS), Linux cooked
 * capture v1 and v2 (the "any" device), raw IP and BSD loopback. With SLL2
 * the input interface is the one in the header; otherwise it is the
 * capture interface's index (live) or the configured one.
 *
 * Live captures are non-blocking: poll fs_capture_fd() and call
 * fs_capture_dispatch() when it is readable (or every timeout, since some
 * platforms' selectable descriptors miss wake-ups). The kernel's counters
 * (pcap_stats: received, dropped, dropped by the interface) are widened to
 * 64 bits across libpcap's 32-bit wraps.
 */
#ifndef FS_CAPTURE_H
#define FS_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowtable.h"

#define FS_CAPTURE_DEFAULT_SNAPLEN 256
#define FS_CAPTURE_DEFAULT_TIMEOUT_MS 250

struct fs_capture_config {
    const char *filter;   /* BPF expression; NULL or "": every packet */
    uint32_t in_if;       /* input interface of packets that say none (0: the
                             live interface's index, or unknown) */

    /* Live captures only. */
    int snaplen;          /* bytes kept per packet (0: the default) */
    bool promisc;
    int buffer_size;      /* kernel buffer bytes (0: libpcap's default) */
    bool immediate;       /* hand packets over at once rather than in blocks */
    int timeout_ms;       /* longest wait before a block is handed over (0: default) */
};

/* Receives captured packets, parsed and in order, in batches of up to
 * FS_CAPTURE_BATCH (the flow table meters batches faster). Valid during
 * the call only. */
#define FS_CAPTURE_BATCH 64
typedef void (*fs_capture_fn)(void *arg, const struct fs_ft_pkt *pkts, size_t n);

struct fs_capture_stats {
    uint64_t packets;     /* handed to the callback */
    uint64_t bytes;       /* their wire lengths */
    bool kernel;          /* the three below are known (live captures) */
    uint64_t received;    /* pcap_stats ps_recv */
    uint64_t dropped;     /* ps_drop: no room in the buffer */
    uint64_t ifdropped;   /* ps_ifdrop: dropped by the interface or driver */
};

struct fs_capture;

/* Open a live capture or a capture file. Return NULL with the reason in
 * `err`: no such device or file, no permission, a link type the parser does
 * not know, a filter that does not compile. Warnings from libpcap
 * (promiscuous mode refused, ...) are logged. */
struct fs_capture *fs_capture_open_live(const char *device, const struct fs_capture_config *cfg,
                                        char *err, size_t errlen);
struct fs_capture *fs_capture_open_file(const char *path, const struct fs_capture_config *cfg,
                                        char *err, size_t errlen);
void fs_capture_close(struct fs_capture *c);

/* What the capture reads: the device or the file, and its link type name. */
const char *fs_capture_name(const struct fs_capture *c);
const char *fs_capture_link_name(const struct fs_capture *c);

/* The descriptor to poll (live), or -1. */
int fs_capture_fd(const struct fs_capture *c);

/* Hands up to `max` packets to `fn` (max <= 0: what is there, live; the whole
 * file, offline), the last batch before returning. Returns the number read (0: none ready, live), -2 at
 * the end of a file, or -1 with the reason in `err`. A file cut short ends
 * with -1 after its last whole packet. */
int fs_capture_dispatch(struct fs_capture *c, int max, fs_capture_fn fn, void *arg,
                        char *err, size_t errlen);

/* Makes a running fs_capture_dispatch() return early (from a callback). */
void fs_capture_break(struct fs_capture *c);

/* Reads the counters, the kernel's ones from pcap_stats() when live. */
void fs_capture_stats(struct fs_capture *c, struct fs_capture_stats *out);

#endif
