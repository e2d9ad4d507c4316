/*
 * flowgen.h - deterministic synthetic flows and the NetFlow v5, v9 and IPFIX
 * export datagrams that carry them.
 *
 * One generator is one exporter: it invents realistic flows (a few thousand
 * internal hosts talking to popular external services, mostly TCP, heavy
 * tailed sizes, interfaces, AS numbers, masks, next hops) from a seed, and
 * encodes them as a router would, with sequence numbers, an uptime clock,
 * templates resent every few datagrams and, optionally, an announced sampling
 * rate. The same seed always gives the same bytes, so tests can compare what
 * a decoder returns with what was generated, and benchmarks can replay the
 * same stream into different collectors.
 *
 * Three levels, use whichever fits:
 *   fs_gen_next()   the next datagram and the flows it carries;
 *   fs_gen_flow()   one random flow, for callers that shape their own traffic;
 *   fs_gen_encode() encodes flows of the caller's making into a datagram.
 *
 * Fields carried by every format: src/dst address, ports, protocol, ToS, TCP
 * flags, packets, bytes, input/output interface, start/end, next hop, source
 * and destination AS, source and destination mask. IPv6 flows exist only in
 * v9 and IPFIX. Values too wide for a field saturate as an exporter's would
 * (v5 counters and interfaces; a 4-byte AS becomes AS_TRANS, 23456, in v5).
 * ICMP type and code travel in the destination port (type << 8 | code), as
 * v5 and most v9 exporters send them.
 */
#ifndef FS_FLOWGEN_H
#define FS_FLOWGEN_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* Largest v9 or IPFIX datagram fs_gen_next() makes by default (a v5 one
 * holds FS_GEN_V5_MAX_FLOWS records: 1464 bytes). */
#define FS_GEN_DEFAULT_DATAGRAM 1400
/* Records in a v5 datagram at most (the format's own limit). */
#define FS_GEN_V5_MAX_FLOWS 30

struct fs_gen_config {
    uint64_t seed;
    uint16_t version;            /* 5, 9 or 10 (IPFIX) */
    uint32_t domain;             /* IPFIX domain, v9 source id, v5 engine type<<8 | id */
    fs_ip exporter;              /* copied into the generated flows (af 0: 127.0.0.1) */
    unsigned flows_per_datagram; /* at most this many (0: as many as fit) */
    size_t max_datagram;         /* bytes (0: the default above) */
    unsigned ipv6_percent;       /* share of IPv6 flows, v9 and IPFIX only */
    unsigned template_interval;  /* templates resent every N datagrams (0: 20) */
    uint32_t sampling_rate;      /* announced 1-in-N packet sampling (0: none) */
    uint64_t start_ms;           /* export time of the first datagram (0: a fixed date) */
    uint32_t flows_per_second;   /* pace of the exporter's clock (0: 10000) */
};

struct fs_gen;

/* Returns NULL when the configuration is invalid (unknown version, IPv6 in
 * v5, a sampling rate v5 cannot carry, a datagram too small for the
 * templates) or out of memory. */
struct fs_gen *fs_gen_new(const struct fs_gen_config *cfg);
void fs_gen_free(struct fs_gen *g);

/*
 * Writes the next datagram into `buf` and the flows it carries, in the
 * order a decoder returns them, into `flows` (room for `max_flows`).
 * Packets and bytes are the exporter's raw counters: a decoder that applies
 * the announced sampling rate multiplies them by it. Returns the datagram
 * length, or -1 when `cap` is smaller than the configured datagram size.
 */
int fs_gen_next(struct fs_gen *g, uint8_t *buf, size_t cap,
                struct fs_flow *flows, size_t max_flows, size_t *nflows);

/* One random flow that ended no later than `now_ms`, shaped to fit the
 * generator's format. Deterministic for a given seed and call sequence. */
void fs_gen_flow(struct fs_gen *g, uint64_t now_ms, struct fs_flow *f);

/*
 * Encodes as many of `flows` as fit in `cap` bytes into one datagram
 * exported at `export_ms` (v9 carries whole seconds only: give flows that
 * end by then), with the templates when they are due, and advances the
 * sequence numbers. `*used` receives the number of flows encoded, in order.
 * Returns the datagram length, or -1: `cap` too small for the header and
 * the templates due, or an IPv6 flow for v5 (errno EINVAL).
 */
int fs_gen_encode(struct fs_gen *g, const struct fs_flow *flows, size_t n,
                  uint64_t export_ms, uint8_t *buf, size_t cap, size_t *used);

/* Flows and datagrams encoded so far. */
uint64_t fs_gen_flows_sent(const struct fs_gen *g);
uint64_t fs_gen_datagrams_sent(const struct fs_gen *g);

/* The sequence number the next datagram will carry (v5 and IPFIX count
 * records, v9 counts datagrams). */
uint32_t fs_gen_next_sequence(const struct fs_gen *g);

/* Adds `delta` to the sequence number inside an encoded datagram, so that a
 * recorded stream can be replayed again and again as if it went on. Returns
 * 0, or -1 when `buf` is not a v5, v9 or IPFIX header. */
int fs_gen_shift_sequence(uint8_t *buf, size_t len, uint32_t delta);

#endif
