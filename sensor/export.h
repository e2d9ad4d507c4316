/*
 * export.h - the sensor's flow export over UDP: IPFIX, NetFlow v9 and v5 to
 * any number of collectors (flowsentry's own, nfdump, pmacct, a commercial
 * one).
 *
 * An emitter (prefix fs_emit_) queues ended flows and, when a datagram's
 * worth is waiting or on fs_emit_flush(), encodes them with ipc/exportenc.h
 * for every destination in its format and sends them. Each destination is
 * its own exporter stream (sequence numbers, template refresh) with the same
 * observation domain. Sending never blocks: a full socket buffer or an
 * unreachable collector is counted, and the flows are not retried.
 *
 * Destinations are URLs: ipfix://HOST[:PORT] (default 4739),
 * v9://HOST[:PORT] and v5://HOST[:PORT] (default 2055); HOST is a name, an
 * IPv4 address or [an IPv6 address]. v5 cannot carry IPv6 flows: those are
 * counted and left out of v5 streams.
 */
#ifndef FS_SENSOR_EXPORT_H
#define FS_SENSOR_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

#define FS_EMIT_DEFAULT_DATAGRAM 1400
#define FS_EMIT_DEFAULT_TEMPLATE_TIMEOUT_MS 60000u
#define FS_EMIT_MAX_DESTS 16

struct fs_emit_config {
    uint32_t domain;              /* IPFIX domain / v9 source id / v5 engine id */
    size_t datagram_size;         /* largest v9/IPFIX datagram (0: the default); v5
                                     datagrams always hold their 30 records */
    unsigned template_interval;   /* templates every N datagrams (0: 20) */
    uint32_t template_timeout_ms; /* ... and at least this often (0: the default) */
};

struct fs_emit_stats {
    uint64_t datagrams;     /* sent */
    uint64_t flows;         /* in the datagrams sent */
    uint64_t bytes;         /* UDP payload bytes sent */
    uint64_t send_errors;   /* datagrams the kernel refused (buffer full, unreachable) */
    uint64_t lost_flows;    /* flows in those datagrams */
    uint64_t skipped_ipv6;  /* v5 only: IPv6 flows left out */
};

struct fs_emit;

/* Returns NULL when out of memory or the datagram size is too small for the
 * templates. */
struct fs_emit *fs_emit_new(const struct fs_emit_config *cfg);
void fs_emit_free(struct fs_emit *x);

/* Adds a destination. Returns 0, or -1 with a reason in `err` (bad URL,
 * unknown host, socket failure, too many destinations). */
int fs_emit_add(struct fs_emit *x, const char *url, char *err, size_t errlen);

/* The uptime zero of the v5 and v9 streams (ms since the epoch): the time
 * the sensor started, or its first packet offline. Only takes effect before
 * the first datagram; the default is the first datagram's export time. */
void fs_emit_set_boot(struct fs_emit *x, uint64_t boot_ms);

/* Queues one flow; sends when a datagram's worth is waiting. `now_ms` is the
 * export time (the flow table's clock). */
void fs_emit_flow(struct fs_emit *x, const struct fs_flow *f, uint64_t now_ms);

/* Sends whatever is queued. */
void fs_emit_flush(struct fs_emit *x, uint64_t now_ms);

size_t fs_emit_count(const struct fs_emit *x);              /* destinations */
const char *fs_emit_name(const struct fs_emit *x, size_t i); /* its URL */
const struct fs_emit_stats *fs_emit_stats(const struct fs_emit *x, size_t i);

#endif
