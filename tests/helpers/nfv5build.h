/*
 * nfv5build.h - test helper: hand-built NetFlow v1/v5/v7 datagrams and a sink
 * that keeps the flows a decoder delivers.
 *
 * Offsets follow Cisco's published v1/v5/v7 formats, written independently of
 * collector/v5.c so that tests compare the decoder against the format, not
 * against itself.
 */
#ifndef FS_TEST_NFV5BUILD_H
#define FS_TEST_NFV5BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

struct nfv5_hdr {
    uint16_t version;      /* 1, 5 or 7 */
    uint16_t count;
    uint32_t uptime;       /* sysUptime, ms */
    uint32_t secs, nsecs;  /* export time */
    uint32_t seq;          /* v5, v7 */
    uint8_t engine_type, engine_id; /* v5 */
    uint16_t sampling;     /* v5: mode << 14 | interval */
};

struct nfv5_rec {
    const char *src, *dst, *next_hop; /* dotted quads */
    uint16_t in_if, out_if;
    uint32_t packets, bytes;
    uint32_t first, last;  /* sysUptime, ms */
    uint16_t src_port, dst_port;
    uint8_t tcp_flags, proto, tos;
    uint16_t src_as, dst_as; /* v5, v7 */
    uint8_t src_mask, dst_mask;
    const char *router_sc; /* v7 */
};

#define NFV5_MAX 4096

struct nfv5_buf {
    uint8_t b[NFV5_MAX];
    size_t len;
    uint16_t version;
};

/* Starts a datagram with its header (count as given, whatever follows). */
void nfv5_header(struct nfv5_buf *d, const struct nfv5_hdr *h);
/* Appends one record in the layout of the header's version. */
void nfv5_record(struct nfv5_buf *d, const struct nfv5_rec *r);

/* Keeps every delivered flow (up to NFV5_SINK_MAX) and counts sink calls. */
#define NFV5_SINK_MAX 1024
struct nfv5_sink {
    struct fs_flow flows[NFV5_SINK_MAX];
    size_t n;
    size_t calls;
};
void nfv5_sink_fn(void *arg, const struct fs_flow *flows, size_t n);

/* An fs_ip from text; aborts the test on a bad literal. */
fs_ip nfv5_ip(const char *text);

#endif
