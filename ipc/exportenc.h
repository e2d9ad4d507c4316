/*
 * exportenc.h - NetFlow v5, NetFlow v9 and IPFIX export datagrams made from
 * flow records: the encoder of every flowsentry component that speaks to a
 * collector (the sensor's exporter, the traffic generator of the tools and
 * tests).
 *
 * One struct fs_export is one exporter's stream in one format: it keeps the
 * sequence numbers, the uptime clock of v5 and v9, and decides when the
 * templates are due. v9 and IPFIX flows go out under two data templates, one
 * per address family: the caller gives the IPv4 one as a list of (IANA
 * element id, length) and the IPv6 one follows by swapping each IPv4 element
 * for its IPv6 twin (8 -> 27, 12 -> 28, 15 -> 62, 9 -> 29, 32 -> 139, ...;
 * v9 keeps 32 for ICMPv6, where its collectors read it).
 * A datagram holds one data set per run of flows of the same family.
 *
 * Values too wide for their field saturate as an exporter's counters do; v5
 * carries a 4-byte AS as AS_TRANS (23456, RFC 6793) and cannot carry IPv6.
 * Times: v5 and v9 uptime fields (21, 22) count from `boot_ms`; IPFIX and
 * elements 150..153 are absolute. v9 headers hold whole seconds, so flows
 * should end by the second they are exported in. v9 sets are padded to 4
 * bytes (RFC 3954 asks for it), IPFIX sets are not (RFC 7011 leaves it
 * optional).
 */
#ifndef FS_EXPORTENC_H
#define FS_EXPORTENC_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

#define FS_EXPORT_V5_HEADER 24
#define FS_EXPORT_V5_RECORD 48
#define FS_EXPORT_V5_MAX_FLOWS 30 /* records in a v5 datagram at most */
#define FS_EXPORT_MAX_FIELDS 32

/* Template ids: the IPv4 and IPv6 data templates, the sampling options. */
#define FS_EXPORT_TPL_V4 256
#define FS_EXPORT_TPL_V6 257
#define FS_EXPORT_TPL_SAMPLING 258

/* One field of a data template. */
struct fs_export_field {
    uint16_t ie, len;
};

struct fs_export_config {
    uint16_t version;              /* 5, 9 or 10 (IPFIX) */
    uint32_t domain;               /* IPFIX domain, v9 source id, v5 engine type<<8 | id */
    const struct fs_export_field *fields; /* IPv4 data template (v9, IPFIX) */
    size_t nfields;                /* at most FS_EXPORT_MAX_FIELDS */
    unsigned template_interval;    /* templates resent every N datagrams (0: 20) */
    uint32_t template_timeout_ms;  /* ... and when this long passed (0: by count only) */
    uint32_t sampling_rate;        /* announced 1-in-N packet sampling (0: none) */
    uint64_t boot_ms;              /* the exporter's uptime zero, ms since the epoch */
};

struct fs_export;

/* Returns NULL (errno EINVAL) when the configuration is invalid: unknown
 * version, no fields or too many for v9/IPFIX, a field length of 0 or over
 * 16, a v5
 * sampling rate or engine over 14 or 16 bits; or NULL (ENOMEM). */
struct fs_export *fs_export_new(const struct fs_export_config *cfg);
void fs_export_free(struct fs_export *e);

/*
 * Encodes as many of `flows` as fit in `cap` bytes into one datagram
 * exported at `export_ms`, with the templates when they are due, and
 * advances the sequence numbers. `*used` receives the number of flows
 * encoded, in order. Returns the datagram length, or -1 with errno ENOSPC
 * (`cap` too small for the header and the templates due) or EINVAL (an
 * IPv6 flow for v5, among the ones that would fit).
 */
int fs_export_encode(struct fs_export *e, const struct fs_flow *flows, size_t n,
                     uint64_t export_ms, uint8_t *buf, size_t cap, size_t *used);

/* Sizes, for callers that plan datagrams: the message header, everything
 * sent with the templates (0 for v5), and one record of family `af` (4 or
 * 6; v5: the 48-byte record). */
size_t fs_export_header_size(const struct fs_export *e);
size_t fs_export_templates_size(const struct fs_export *e);
size_t fs_export_record_size(const struct fs_export *e, uint8_t af);

/* Flows and datagrams encoded so far. */
uint64_t fs_export_flows(const struct fs_export *e);
uint64_t fs_export_datagrams(const struct fs_export *e);

/* The sequence number the next datagram will carry (v5 and IPFIX count
 * records, v9 counts datagrams). */
uint32_t fs_export_next_sequence(const struct fs_export *e);

/* Adds `delta` to the sequence number inside an encoded datagram, so that a
 * recorded stream can be replayed again and again as if it went on. Returns
 * 0, or -1 when `buf` is not a v5, v9 or IPFIX header. */
int fs_export_shift_sequence(uint8_t *buf, size_t len, uint32_t delta);

#endif
