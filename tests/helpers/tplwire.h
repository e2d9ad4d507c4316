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

/* A template record (RFC 3954 section 5.2, RFC 7011 section 3.4.1): id,
 * field count and `n` (id, length) IANA fields. With n 0, an IPFIX
 * withdrawal (RFC 7011 section 8.1). */
void tw_template(struct tw_buf *w, uint16_t id, size_t n, const uint16_t (*fields)[2]);
/* An options template record whose first `nscope` of `n` fields are the
 * scope: v9 (RFC 3954 section 6.1) gives scope and option lengths in bytes,
 * IPFIX (RFC 7011 section 3.4.2.2) the field and scope field counts. */
void tw_options(struct tw_buf *w, uint16_t id, size_t nscope, size_t n,
                const uint16_t (*fields)[2]);

/* The same with the fields inline: TW_TPL(w, 256, { 8, 4 }, { 2, 4 }). */
#define TW_FIELDS_(...) ((const uint16_t[][2]){ __VA_ARGS__ })
#define TW_NFIELDS_(...) (sizeof(TW_FIELDS_(__VA_ARGS__)) / sizeof(uint16_t[2]))
#define TW_TPL(w, id, ...) \
    tw_template((w), (id), TW_NFIELDS_(__VA_ARGS__), TW_FIELDS_(__VA_ARGS__))
#define TW_OPTIONS(w, id, nscope, ...) \
    tw_options((w), (id), (nscope), TW_NFIELDS_(__VA_ARGS__), TW_FIELDS_(__VA_ARGS__))

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

/* What a decoding test works with, on the heap (buffer and sink are large):
 * a decoder made with `cfg` (NULL: defaults), a message buffer and a sink.
 * Aborts when out of memory. */
void tw_start(struct fs_decoder **d, const struct fs_decoder_config *cfg, struct tw_buf **w,
              struct tw_sink **s);
void tw_stop(struct fs_decoder *d, struct tw_buf *w, struct tw_sink *s);

/* For a test file that includes Criterion: defines `dec`, `w` and `sink`,
 * `setup` and `teardown` functions that start and stop them, and the suite
 * `name` that runs them around every test. */
#define TW_SUITE(name)                                                      \
    static struct fs_decoder *dec;                                          \
    static struct tw_buf *w;                                                \
    static struct tw_sink *sink;                                            \
    static void setup(void) { tw_start(&dec, NULL, &w, &sink); }            \
    static void teardown(void) { tw_stop(dec, w, sink); }                   \
    TestSuite(name, .init = setup, .fini = teardown)

/* fs_decode() of the buffer from tw_exporter() at `now_ms` into `s`. */
int tw_decode(struct fs_decoder *d, const struct tw_buf *w, uint64_t now_ms, struct tw_sink *s);

/* Decodes every prefix of the message in `w`, then every copy of it with one
 * byte set to 0x00, 0xff, 0x80 or 0x01, for tests that nothing crashes (the
 * sanitizer build catches what a plain one would not). `w` ends as it was. */
void tw_decode_damaged(struct fs_decoder *d, struct tw_buf *w, uint64_t now_ms,
                       struct tw_sink *s);

/* Counters of tw_exporter() (zeroes if unknown). */
struct fs_counters tw_counters(const struct fs_decoder *d);

/* The UDP payload of a one-datagram fixture capture (classic pcap, Ethernet,
 * IPv4 without options: 24 + 16 + 14 + 20 + 8 bytes in). Returns its length
 * (0 when the file cannot be read) and fills `w`. */
size_t tw_pcap_payload(const char *path, struct tw_buf *w);

#endif
