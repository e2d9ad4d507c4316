/*
 * tplwire.h - test helper: hand-built NetFlow v9 and IPFIX messages, written
 * from RFC 3954 and RFC 7011 (header layouts, set headers, field specifiers
 * with the enterprise bit), independently of the collector's decoders, and a
 * sink that keeps the flows a decoder delivers.
 */
#ifndef FS_TEST_TPLWIRE_H
#define FS_TEST_TPLWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"

#define TW_MAX 65536

struct tw_buf {
    uint8_t b[TW_MAX];
    size_t len;
    size_t set;       /* start of the open set, 0 if none */
    uint16_t version;
};

/* v9 header (RFC 3954 section 5.1): count is written as given. */
void tw_v9(struct tw_buf *w, uint16_t count, uint32_t uptime_ms, uint32_t unix_secs,
           uint32_t seq, uint32_t source_id);
/* IPFIX header (RFC 7011 section 3.1); the length is set by tw_end(). */
void tw_ipfix(struct tw_buf *w, uint32_t export_secs, uint32_t seq, uint32_t domain);

/* Opens a set (flowset) with the given id; tw_set_end() writes its length. */
void tw_set(struct tw_buf *w, uint16_t id);
void tw_set_end(struct tw_buf *w);
/* Closes an open set and, for IPFIX, writes the message length. */
void tw_end(struct tw_buf *w);

void tw_u8(struct tw_buf *w, uint8_t v);
void tw_u16(struct tw_buf *w, uint16_t v);
void tw_u24(struct tw_buf *w, uint32_t v);
void tw_u32(struct tw_buf *w, uint32_t v);
void tw_u64(struct tw_buf *w, uint64_t v);
void tw_bytes(struct tw_buf *w, const void *p, size_t n);
void tw_zero(struct tw_buf *w, size_t n);
/* An IPv4 or IPv6 address from text (4 or 16 bytes). */
void tw_ip(struct tw_buf *w, const char *text);

/* A field specifier: (id, length), or with the enterprise bit and a PEN. */
void tw_field(struct tw_buf *w, uint16_t id, uint16_t len);
void tw_efield(struct tw_buf *w, uint16_t id, uint16_t len, uint32_t pen);

/* Keeps every delivered flow (up to TW_SINK_MAX). */
#define TW_SINK_MAX 4096
struct tw_sink {
    struct fs_flow flows[TW_SINK_MAX];
    size_t n;
};
void tw_sink_fn(void *arg, const struct fs_flow *flows, size_t n);

/* The exporter every test datagram comes from: 192.0.2.1. */
fs_ip tw_exporter(void);
fs_ip tw_addr(const char *text);

/* fs_decode() of the buffer from tw_exporter() at `now_ms` into `s`. */
int tw_decode(struct fs_decoder *d, const struct tw_buf *w, uint64_t now_ms, struct tw_sink *s);

/* Counters of tw_exporter() (zeroes if unknown). */
struct fs_counters tw_counters(const struct fs_decoder *d);

/* The UDP payload of a one-datagram fixture capture (classic pcap, Ethernet,
 * IPv4 without options: 24 + 16 + 14 + 20 + 8 bytes in). Returns its length
 * (0 when the file cannot be read) and fills `w`. */
size_t tw_pcap_payload(const char *path, struct tw_buf *w);

#endif
