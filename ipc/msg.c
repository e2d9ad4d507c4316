/*
 * msg.c - msgpack codecs for the bus messages (schema: docs/messages.md),
 * and the per-sender sequence gap tracker of receivers.
 *
 * Writing: the envelope and stats go through msgpack-c's packer. Flows, the
 * hot path, are written straight into the buffer after reserving room for
 * the largest possible flow once: msgpack-c's packer makes one indirect call
 * per item, about fifty per flow, which alone would cap a core well below the
 * target rate. Counts that are known only at the end (flows in a batch,
 * groups, counters, keys of a flow) are written fixed-width and patched.
 *
 * Reading: a bounded cursor over the buffer, no allocation but the result.
 * msgpack-c's unpacker is not used because it allocates whatever element
 * count a message claims before checking that the bytes are there: a few
 * bytes off the network could ask for gigabytes. Here every count is checked
 * against the bytes left before anything is allocated from it. A flow batch
 * laid out as the batch writer lays it out is decoded in one pass (the flows
 * bus carries millions of flows a second); anything else, and anything that
 * pass refuses, is first walked whole to tell truncated input and garbage
 * apart from a well-formed message with a wrong shape, so that every error
 * is reported the same way.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "msg.h"

/* ------------------------------------------------------------------ */
/* Growable output buffer with a sticky out-of-memory flag, so that a run of
 * writes needs one check at the end. */

struct wbuf {
    uint8_t *data;
    size_t len, cap;
    bool oom;
};

static int wb_grow(struct wbuf *w, size_t need)
{
    size_t cap = w->cap ? w->cap : 4096;
    while (cap - w->len < need) {
        if (cap > SIZE_MAX / 2) {
            w->oom = true;
            return -1;
        }
        cap *= 2;
    }
    uint8_t *d = realloc(w->data, cap);
    if (!d) {
        w->oom = true;
        return -1;
    }
    w->data = d;
    w->cap = cap;
    return 0;
}

static inline int wb_reserve(struct wbuf *w, size_t need)
{
    if (w->oom)
        return -1;
    if (w->cap - w->len >= need)
        return 0;
    return wb_grow(w, need);
}

/* msgpack_packer write callback. */
static int wb_write(void *data, const char *buf, size_t len)
{
    struct wbuf *w = data;
    if (wb_reserve(w, len) != 0)
        return -1;
    memcpy(w->data + w->len, buf, len);
    w->len += len;
    return 0;
}

/* Big-endian words at any alignment: a byte swap and one store each. */
static inline void put_be16(uint8_t *p, uint16_t v)
{
    v = __builtin_bswap16(v);
    memcpy(p, &v, 2);
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
    v = __builtin_bswap32(v);
    memcpy(p, &v, 4);
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
    v = __builtin_bswap64(v);
    memcpy(p, &v, 8);
}

/* Appends a marker byte and `width` zero bytes to be patched later; returns
 * the offset of the zero bytes. */
static size_t wb_placeholder(struct wbuf *w, uint8_t marker, size_t width)
{
    if (wb_reserve(w, 1 + width) != 0)
        return 0;
    w->data[w->len] = marker;
    memset(w->data + w->len + 1, 0, width);
    w->len += 1 + width;
    return w->len - width;
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* Writes the envelope of a map with `body_keys` more keys; returns the
 * offset of the 8-byte sequence number. */
static size_t write_envelope(struct wbuf *w, msgpack_packer *pk, enum fs_msg_type type,
                             const char *sender, unsigned body_keys)
{
    msgpack_pack_map(pk, 4 + body_keys);
    pack_cstr(pk, "type");
    pack_cstr(pk, fs_msg_type_name(type));
    pack_cstr(pk, "v");
    msgpack_pack_unsigned_int(pk, FS_MSG_VERSION);
    pack_cstr(pk, "sender");
    pack_cstr(pk, sender);
    pack_cstr(pk, "seq");
    return wb_placeholder(w, 0xcf, 8);
}

static bool sender_ok(const char *sender)
{
    size_t n = sender ? strlen(sender) : 0;
    return n > 0 && n < FS_MSG_SENDER_MAX;
}

const char *fs_msg_type_name(enum fs_msg_type type)
{
    switch (type) {
    case FS_MSG_FLOWS:
        return "flows";
    case FS_MSG_STATS:
        return "stats";
    case FS_MSG_ANOMALY:
        return "anomaly";
    case FS_MSG_SUMMARY:
        return "summary";
    }
    return NULL;
}

int fs_msg_default_sender(const char *program, char *out, size_t cap)
{
    char host[256];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    int n = snprintf(out, cap, "%s@%s", program, host);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Flow encoding. */

/* Largest encoding of one flow: at most 50 keys of at most 3 bytes, each
 * value at most a 16-byte bin (18 bytes) or the uid (a str of 24 bytes at
 * most), plus the map16 header. The writers below may store up to 8 bytes
 * past the end of what they encode (whole words, overwritten by what
 * follows), always within this bound. */
#define FLOW_ENC_MAX 1152

/*
 * put_flow() runs once per flow at the collector's full rate, so each field
 * costs a handful of instructions: the key and the marker of its value go
 * out as one constant store, integer values are written in the smallest
 * msgpack form by a test chain that the field's type already cuts short
 * (a port never needs the 32-bit branches), the common fields are tested
 * one by one and the rare ones skipped in blocks.
 */

/* Bytes b0, b1, ... in the order put_const() stores them. */
#define KEYWORD(b0, b1, b2, b3) \
    ((uint64_t)(b0) | (uint64_t)(b1) << 8 | (uint64_t)(b2) << 16 | (uint64_t)(b3) << 24)

/* The msgpack form of a key (IE id, or a negative flowsentry key), as the
 * bytes of a host-order word and their number. Keys are constants, so both
 * fold away. */
#define KEY_LEN(k) ((k) < 0 ? 1 : (k) < 0x80 ? 1 : (k) <= 0xff ? 2 : 3)
#define KEY_WORD(k)                                                            \
    ((k) < 0 ? KEYWORD((uint8_t)(k), 0, 0, 0)                                  \
     : (k) < 0x80 ? KEYWORD((k), 0, 0, 0)                                      \
     : (k) <= 0xff ? KEYWORD(0xcc, (k), 0, 0)                                  \
                   : KEYWORD(0xcd, (unsigned)(k) >> 8, (k) & 0xff, 0))

/* Writes the first `len` bytes of `word` (at most 5: a key of up to 3
 * bytes and up to 2 bytes after it, a marker or a bin header) with one
 * store; returns the end. */
static inline uint8_t *put_const(uint8_t *p, uint64_t word, unsigned len)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    word = __builtin_bswap64(word);
#endif
    memcpy(p, &word, 8);
    return p + len;
}

#define PUT_KEY(p, k) put_const((p), KEY_WORD(k), KEY_LEN(k))
/* The key, then `b1` (and `b2`, when `nb` is 2) right after it. */
#define PUT_KEY_AND(p, k, nb, b1, b2)                                          \
    put_const((p),                                                             \
              KEY_WORD(k) | KEYWORD((b1), (b2), 0, 0) << (8 * KEY_LEN(k)),   \
              KEY_LEN(k) + (nb))

static inline uint8_t *put_uint(uint8_t *p, uint64_t v)
{
    if (v < 0x80) {
        *p = (uint8_t)v;
        return p + 1;
    }
    if (v <= UINT16_MAX) {
        if (v <= UINT8_MAX) {
            p[0] = 0xcc;
            p[1] = (uint8_t)v;
            return p + 2;
        }
        p[0] = 0xcd;
        put_be16(p + 1, (uint16_t)v);
        return p + 3;
    }
    if (v <= UINT32_MAX) {
        p[0] = 0xce;
        put_be32(p + 1, (uint32_t)v);
        return p + 5;
    }
    p[0] = 0xcf;
    put_be64(p + 1, v);
    return p + 9;
}

/* Times in milliseconds since the epoch: past 2^32 since 1970-02-19, so the
 * 64-bit form comes first. */
static inline uint8_t *put_time(uint8_t *p, uint64_t v)
{
    if (__builtin_expect(v > UINT32_MAX, 1)) {
        p[0] = 0xcf;
        put_be64(p + 1, v);
        return p + 9;
    }
    return put_uint(p, v);
}

/* The IE ids of docs/messages.md. */
enum {
    IE_BYTES = 1, IE_PACKETS = 2, IE_PROTO = 4, IE_TOS = 5, IE_TCP_FLAGS = 6,
    IE_SRC_PORT = 7, IE_SRC_V4 = 8, IE_SRC_MASK = 9, IE_IN_IF = 10,
    IE_DST_PORT = 11, IE_DST_V4 = 12, IE_DST_MASK = 13, IE_OUT_IF = 14,
    IE_NEXT_HOP_V4 = 15, IE_SRC_AS = 16, IE_DST_AS = 17, IE_BGP_NEXT_HOP_V4 = 18,
    IE_SRC_V6 = 27, IE_DST_V6 = 28, IE_SAMPLING = 34, IE_SAMPLER_ID = 48,
    IE_SRC_MAC = 56, IE_SRC_VLAN = 58, IE_DST_VLAN = 59, IE_IP_VERSION = 60,
    IE_DIRECTION = 61, IE_NEXT_HOP_V6 = 62, IE_BGP_NEXT_HOP_V6 = 63,
    IE_MPLS_FIRST = 70, IE_MPLS_LAST = 75, IE_DST_MAC = 80, IE_FWD_STATUS = 89,
    IE_EXPORTER_V4 = 130, IE_EXPORTER_V6 = 131, IE_FLOW_ID = 148, IE_DOMAIN = 149,
    IE_START_MS = 152, IE_END_MS = 153, IE_ICMP_TYPE = 176, IE_ICMP_CODE = 177,
    IE_POST_SRC_V4 = 225, IE_POST_DST_V4 = 226, IE_POST_SRC_PORT = 227,
    IE_POST_DST_PORT = 228, IE_POST_SRC_V6 = 281, IE_POST_DST_V6 = 282,
    IE_REVERSE = 32768,
    IE_REV_BYTES = IE_REVERSE + IE_BYTES, IE_REV_PACKETS = IE_REVERSE + IE_PACKETS,
    IE_REV_TOS = IE_REVERSE + IE_TOS, IE_REV_TCP_FLAGS = IE_REVERSE + IE_TCP_FLAGS,
    KEY_VERSION = -1, KEY_FLAGS = -2, KEY_UID = -3
};

/* An address under key k4 (IPv4) or k6 (IPv6); nothing for an unset one.
 * Returns the keys written. */
#define PUT_ADDR(p, k4, k6, ip)                                                \
    ((ip).af == 4   ? (p = PUT_KEY_AND(p, k4, 2, 0xc4, 4),                     \
                       memcpy(p, (ip).b, 4), p += 4, 1u)                       \
     : (ip).af == 6 ? (p = PUT_KEY_AND(p, k6, 2, 0xc4, 16),                    \
                       memcpy(p, (ip).b, 16), p += 16, 1u)                     \
                    : 0u)

#define BIT(b) (UINT64_C(1) << (b))
/* Fields that few flows have: tested as a block before one by one. */
#define RARE_MIDDLE                                                            \
    (BIT(FS_F_SRC_VLAN) | BIT(FS_F_DST_VLAN) | BIT(FS_F_SRC_MAC) |             \
     BIT(FS_F_DST_MAC) | BIT(FS_F_MPLS) | BIT(FS_F_DIRECTION) |                \
     BIT(FS_F_FWD_STATUS) | BIT(FS_F_ICMP) | BIT(FS_F_POST_SRC_ADDR) |         \
     BIT(FS_F_POST_DST_ADDR) | BIT(FS_F_POST_SRC_PORT) | BIT(FS_F_POST_DST_PORT))
#define RARE_END                                                               \
    (BIT(FS_F_REV_PACKETS) | BIT(FS_F_REV_BYTES) | BIT(FS_F_REV_TOS) |         \
     BIT(FS_F_REV_TCP_FLAGS) | BIT(FS_F_FLOW_ID) | BIT(FS_F_UID))

static uint8_t *put_flow(uint8_t *p, const struct fs_flow *f)
{
    const uint64_t present = f->present;
    uint8_t *head = p;
    unsigned n = 2; /* version and domain */

    p += 3; /* map16 header, patched below */
#define HAS(bit) (present & BIT(bit))
#define PUT_U(key, val) (p = put_uint(PUT_KEY(p, key), (val)), n++)
#define OPT_U(bit, key, val)                  \
    do {                                      \
        if (HAS(bit))                         \
            PUT_U(key, val);                  \
    } while (0)
/* Fields most flows have: laid out in line. */
#define COMMON_U(bit, key, val)               \
    do {                                      \
        if (__builtin_expect(HAS(bit) != 0, 1)) \
            PUT_U(key, val);                  \
    } while (0)
#define OPT_T(bit, key, val)                  \
    do {                                      \
        if (__builtin_expect(HAS(bit) != 0, 1)) { \
            p = put_time(PUT_KEY(p, key), (val)); \
            n++;                              \
        }                                     \
    } while (0)
#define OPT_ADDR(bit, k4, k6, ip)             \
    do {                                      \
        if (HAS(bit))                         \
            n += PUT_ADDR(p, k4, k6, ip);     \
    } while (0)
#define OPT_MAC(bit, key, mac)                \
    do {                                      \
        if (HAS(bit)) {                       \
            p = PUT_KEY_AND(p, key, 2, 0xc4, 6); \
            memcpy(p, (mac), 6);              \
            p += 6;                           \
            n++;                              \
        }                                     \
    } while (0)

    n += PUT_ADDR(p, IE_EXPORTER_V4, IE_EXPORTER_V6, f->exporter);
    p = put_uint(PUT_KEY(p, KEY_VERSION), f->version);
    p = put_uint(PUT_KEY(p, IE_DOMAIN), f->domain);
    if (f->flags)
        PUT_U(KEY_FLAGS, f->flags);
    OPT_ADDR(FS_F_SRC_ADDR, IE_SRC_V4, IE_SRC_V6, f->src_addr);
    OPT_ADDR(FS_F_DST_ADDR, IE_DST_V4, IE_DST_V6, f->dst_addr);
    COMMON_U(FS_F_SRC_PORT, IE_SRC_PORT, f->src_port);
    COMMON_U(FS_F_DST_PORT, IE_DST_PORT, f->dst_port);
    COMMON_U(FS_F_PROTO, IE_PROTO, f->proto);
    COMMON_U(FS_F_TOS, IE_TOS, f->tos);
    COMMON_U(FS_F_TCP_FLAGS, IE_TCP_FLAGS, f->tcp_flags);
    COMMON_U(FS_F_PACKETS, IE_PACKETS, f->packets);
    COMMON_U(FS_F_BYTES, IE_BYTES, f->bytes);
    COMMON_U(FS_F_IN_IF, IE_IN_IF, f->in_if);
    COMMON_U(FS_F_OUT_IF, IE_OUT_IF, f->out_if);
    OPT_T(FS_F_START, IE_START_MS, f->start_ms);
    OPT_T(FS_F_END, IE_END_MS, f->end_ms);
    COMMON_U(FS_F_SAMPLING, IE_SAMPLING, f->sampling_rate);
    OPT_U(FS_F_SAMPLER_ID, IE_SAMPLER_ID, f->sampler_id);
    OPT_ADDR(FS_F_NEXT_HOP, IE_NEXT_HOP_V4, IE_NEXT_HOP_V6, f->next_hop);
    OPT_ADDR(FS_F_BGP_NEXT_HOP, IE_BGP_NEXT_HOP_V4, IE_BGP_NEXT_HOP_V6, f->bgp_next_hop);
    COMMON_U(FS_F_SRC_AS, IE_SRC_AS, f->src_as);
    COMMON_U(FS_F_DST_AS, IE_DST_AS, f->dst_as);
    COMMON_U(FS_F_SRC_MASK, IE_SRC_MASK, f->src_mask);
    COMMON_U(FS_F_DST_MASK, IE_DST_MASK, f->dst_mask);
    if (present & RARE_MIDDLE) {
        OPT_U(FS_F_SRC_VLAN, IE_SRC_VLAN, f->src_vlan);
        OPT_U(FS_F_DST_VLAN, IE_DST_VLAN, f->dst_vlan);
        OPT_MAC(FS_F_SRC_MAC, IE_SRC_MAC, f->src_mac);
        OPT_MAC(FS_F_DST_MAC, IE_DST_MAC, f->dst_mac);
        if (HAS(FS_F_MPLS)) {
            unsigned m = f->mpls_count < FS_FLOW_MPLS_MAX ? f->mpls_count : FS_FLOW_MPLS_MAX;
            for (unsigned i = 0; i < m; i++) { /* keys 70..75: one byte each */
                p = put_uint(put_const(p, IE_MPLS_FIRST + i, 1), f->mpls[i]);
                n++;
            }
        }
        OPT_U(FS_F_DIRECTION, IE_DIRECTION, f->direction);
        OPT_U(FS_F_FWD_STATUS, IE_FWD_STATUS, f->fwd_status);
        OPT_U(FS_F_ICMP, IE_ICMP_TYPE, f->icmp_type);
        OPT_U(FS_F_ICMP, IE_ICMP_CODE, f->icmp_code);
        OPT_ADDR(FS_F_POST_SRC_ADDR, IE_POST_SRC_V4, IE_POST_SRC_V6, f->post_src_addr);
        OPT_ADDR(FS_F_POST_DST_ADDR, IE_POST_DST_V4, IE_POST_DST_V6, f->post_dst_addr);
        OPT_U(FS_F_POST_SRC_PORT, IE_POST_SRC_PORT, f->post_src_port);
        OPT_U(FS_F_POST_DST_PORT, IE_POST_DST_PORT, f->post_dst_port);
    }
    COMMON_U(FS_F_IP_VERSION, IE_IP_VERSION, f->ip_version);
    if (present & RARE_END) {
        OPT_U(FS_F_REV_PACKETS, IE_REV_PACKETS, f->rev_packets);
        OPT_U(FS_F_REV_BYTES, IE_REV_BYTES, f->rev_bytes);
        OPT_U(FS_F_REV_TOS, IE_REV_TOS, f->rev_tos);
        OPT_U(FS_F_REV_TCP_FLAGS, IE_REV_TCP_FLAGS, f->rev_tcp_flags);
        OPT_U(FS_F_FLOW_ID, IE_FLOW_ID, f->flow_id);
        if (HAS(FS_F_UID)) {
            size_t len = strnlen(f->uid, FS_FLOW_UID_MAX - 1);
            p = PUT_KEY_AND(p, KEY_UID, 1, 0xa0 | len, 0); /* fixstr: len < 32 */
            memcpy(p, f->uid, len);
            p += len;
            n++;
        }
    }
#undef HAS
#undef PUT_U
#undef OPT_U
#undef OPT_T
#undef OPT_ADDR
#undef OPT_MAC

    head[0] = 0xde;
    put_be16(head + 1, (uint16_t)n);
    return p;
}

/* ------------------------------------------------------------------ */
/* What the batch and stats writers share: the buffer and packer, and the
 * envelope, whose sequence number is written when a message is finished. */

struct writer {
    struct wbuf w;
    msgpack_packer pk;
    size_t header_len; /* envelope and body headers: kept across resets */
    size_t seq_off;
    uint64_t seq;
    bool finished;
};

/* Writes the envelope of a message with `body_keys` more keys, whose headers
 * the caller writes next and then calls writer_ready(). */
static void writer_start(struct writer *wr, enum fs_msg_type type, const char *sender,
                         unsigned body_keys)
{
    msgpack_packer_init(&wr->pk, &wr->w, wb_write);
    wr->seq_off = write_envelope(&wr->w, &wr->pk, type, sender, body_keys);
}

/* Allocates `size` zeroed bytes that start with a struct writer (the batch
 * and stats builders) and writes the envelope. NULL for a bad sender or when
 * out of memory. */
static void *writer_new(size_t size, enum fs_msg_type type, const char *sender,
                        unsigned body_keys)
{
    struct writer *wr;

    if (!sender_ok(sender) || (wr = calloc(1, size)) == NULL)
        return NULL;
    writer_start(wr, type, sender, body_keys);
    return wr;
}

/* Returns -1 when the headers did not fit in memory. */
static int writer_ready(struct writer *wr)
{
    wr->header_len = wr->w.len;
    return wr->w.oom ? -1 : 0;
}

static void writer_reset(struct writer *wr)
{
    wr->w.len = wr->header_len;
    wr->w.oom = false;
    wr->finished = false;
}

/* Stamps the next sequence number and hands the message out. */
static void writer_finish(struct writer *wr, const void **buf, size_t *len)
{
    put_be64(wr->w.data + wr->seq_off, wr->seq++);
    wr->finished = true;
    *buf = wr->w.data;
    *len = wr->w.len;
}

/* ------------------------------------------------------------------ */
/* Flow batch writer. */

struct fs_batch {
    struct writer wr;
    size_t count_off;
    size_t count;
};

struct fs_batch *fs_batch_new(const char *sender)
{
    struct fs_batch *b = writer_new(sizeof(*b), FS_MSG_FLOWS, sender, 1);

    if (!b)
        return NULL;
    pack_cstr(&b->wr.pk, "flows");
    b->count_off = wb_placeholder(&b->wr.w, 0xdd, 4);
    if (writer_ready(&b->wr) < 0) {
        fs_batch_free(b);
        return NULL;
    }
    return b;
}

void fs_batch_free(struct fs_batch *b)
{
    if (!b)
        return;
    free(b->wr.w.data);
    free(b);
}

int fs_batch_add(struct fs_batch *b, const struct fs_flow *f)
{
    struct wbuf *w = &b->wr.w;

    if (b->wr.finished || b->count >= FS_BATCH_MAX_FLOWS)
        return -1;
    if (wb_reserve(w, FLOW_ENC_MAX) != 0) {
        w->oom = false; /* the batch so far is intact: let the caller flush */
        return -1;
    }
    w->len = (size_t)(put_flow(w->data + w->len, f) - w->data);
    b->count++;
    return 0;
}

size_t fs_batch_count(const struct fs_batch *b)
{
    return b->count;
}

size_t fs_batch_size(const struct fs_batch *b)
{
    return b->wr.w.len;
}

int fs_batch_finish(struct fs_batch *b, const void **buf, size_t *len)
{
    if (b->wr.finished)
        return -1;
    put_be32(b->wr.w.data + b->count_off, (uint32_t)b->count);
    writer_finish(&b->wr, buf, len);
    return 0;
}

void fs_batch_reset(struct fs_batch *b)
{
    writer_reset(&b->wr);
    b->count = 0;
}

uint64_t fs_batch_next_seq(const struct fs_batch *b)
{
    return b->wr.seq;
}

/* ------------------------------------------------------------------ */
/* Stats builder. */

struct fs_stats {
    struct writer wr;
    size_t ts_off, groups_off;
    size_t counters_off; /* of the open group; 0 when none */
    uint32_t ngroups, ncounters;
    uint64_t ts_ms;
};

struct fs_stats *fs_stats_new(const char *sender)
{
    struct fs_stats *s = writer_new(sizeof(*s), FS_MSG_STATS, sender, 2);

    if (!s)
        return NULL;
    pack_cstr(&s->wr.pk, "ts_ms");
    s->ts_off = wb_placeholder(&s->wr.w, 0xcf, 8);
    pack_cstr(&s->wr.pk, "groups");
    s->groups_off = wb_placeholder(&s->wr.w, 0xdd, 4);
    if (writer_ready(&s->wr) < 0) {
        fs_stats_free(s);
        return NULL;
    }
    return s;
}

void fs_stats_free(struct fs_stats *s)
{
    if (!s)
        return;
    free(s->wr.w.data);
    free(s);
}

void fs_stats_reset(struct fs_stats *s, uint64_t ts_ms)
{
    writer_reset(&s->wr);
    s->ts_ms = ts_ms;
    s->ngroups = 0;
    s->ncounters = 0;
    s->counters_off = 0;
}

/* Writes the open group's counter count into its placeholder. */
static void stats_close_group(struct fs_stats *s)
{
    if (s->counters_off)
        put_be32(s->wr.w.data + s->counters_off, s->ncounters);
}

/* Whether the message can still take more: not finished, memory left. */
static bool stats_open(const struct fs_stats *s)
{
    return !s->wr.finished && !s->wr.w.oom;
}

int fs_stats_group(struct fs_stats *s, const char *name)
{
    if (!stats_open(s))
        return -1;
    stats_close_group(s);
    msgpack_pack_map(&s->wr.pk, 2);
    pack_cstr(&s->wr.pk, "name");
    pack_cstr(&s->wr.pk, name);
    pack_cstr(&s->wr.pk, "counters");
    s->counters_off = wb_placeholder(&s->wr.w, 0xdf, 4);
    s->ncounters = 0;
    s->ngroups++;
    return s->wr.w.oom ? -1 : 0;
}

int fs_stats_add(struct fs_stats *s, const char *counter, uint64_t value)
{
    if (!stats_open(s) || !s->counters_off)
        return -1;
    pack_cstr(&s->wr.pk, counter);
    msgpack_pack_uint64(&s->wr.pk, value);
    s->ncounters++;
    return s->wr.w.oom ? -1 : 0;
}

int fs_stats_finish(struct fs_stats *s, const void **buf, size_t *len)
{
    if (!stats_open(s))
        return -1;
    stats_close_group(s);
    put_be64(s->wr.w.data + s->ts_off, s->ts_ms);
    put_be32(s->wr.w.data + s->groups_off, s->ngroups);
    writer_finish(&s->wr, buf, len);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Bounded reader. Every function checks the bytes left; after the first
 * walk (rd_skip over the whole message) only type mismatches can fail. */

struct rd {
    const uint8_t *p, *end;
};

enum rd_err { RD_OK = 0, RD_TRUNC, RD_INVALID, RD_TYPE };

static inline size_t rd_left(const struct rd *r)
{
    return (size_t)(r->end - r->p);
}

/* A big-endian value of `n` bytes; the widths msgpack uses are one load. */
static inline uint64_t be(const uint8_t *p, size_t n)
{
    uint16_t v16;
    uint32_t v32;
    uint64_t v = 0;

    switch (n) {
    case 1:
        return p[0];
    case 2:
        memcpy(&v16, p, 2);
        return __builtin_bswap16(v16);
    case 4:
        memcpy(&v32, p, 4);
        return __builtin_bswap32(v32);
    case 8:
        memcpy(&v, p, 8);
        return __builtin_bswap64(v);
    default:
        for (size_t i = 0; i < n; i++)
            v = v << 8 | p[i];
        return v;
    }
}

/* Reads a big-endian length or value of `n` bytes after the marker. */
static int rd_be(struct rd *r, size_t n, uint64_t *v)
{
    if (rd_left(r) < 1 + n)
        return RD_TRUNC;
    *v = be(r->p + 1, n);
    r->p += 1 + n;
    return RD_OK;
}

/* Integers, as unsigned with a sign flag. */
static int rd_int(struct rd *r, uint64_t *v, bool *negative)
{
    if (rd_left(r) < 1)
        return RD_TRUNC;
    uint8_t c = *r->p;
    *negative = false;
    if (c < 0x80) {
        *v = c;
        r->p++;
        return RD_OK;
    }
    if (c >= 0xe0) {
        *v = (uint64_t)(int64_t)(int8_t)c;
        *negative = true;
        r->p++;
        return RD_OK;
    }
    if (c >= 0xcc && c <= 0xcf)
        return rd_be(r, (size_t)1 << (c - 0xcc), v);
    if (c >= 0xd0 && c <= 0xd3) {
        size_t n = (size_t)1 << (c - 0xd0);
        int e = rd_be(r, n, v);
        if (e)
            return e;
        /* Sign-extend from n bytes. */
        if (n < 8 && (*v >> (n * 8 - 1)) & 1)
            *v |= ~UINT64_C(0) << (n * 8);
        *negative = (int64_t)*v < 0;
        return RD_OK;
    }
    return RD_TYPE;
}

/* A non-negative integer, whichever way it was packed. Unsigned forms,
 * what this module writes, are read inline. */
static inline int rd_uint(struct rd *r, uint64_t *v)
{
    const uint8_t *save = r->p;
    size_t left = rd_left(r);
    if (left && *r->p < 0x80) {
        *v = *r->p++;
        return RD_OK;
    }
    if (left && *r->p >= 0xcc && *r->p <= 0xcf) {
        size_t n = (size_t)1 << (*r->p - 0xcc);
        if (left < 1 + n)
            return RD_TRUNC;
        *v = be(r->p + 1, n);
        r->p += 1 + n;
        return RD_OK;
    }
    bool neg;
    int e = rd_int(r, v, &neg);
    if (e == RD_OK && neg) {
        r->p = save;
        return RD_TYPE;
    }
    return e;
}

/* Reads the header of a str (is_str) or bin and returns its bytes. */
static int rd_bytes(struct rd *r, bool is_str, const uint8_t **b, size_t *n)
{
    if (rd_left(r) < 1)
        return RD_TRUNC;
    uint8_t c = *r->p;
    uint64_t len;
    int e;
    if (is_str && c >= 0xa0 && c <= 0xbf) {
        len = c & 0x1f;
        r->p++;
    } else if ((is_str && c >= 0xd9 && c <= 0xdb) || (!is_str && c >= 0xc4 && c <= 0xc6)) {
        unsigned base = is_str ? 0xd9 : 0xc4;
        if ((e = rd_be(r, (size_t)1 << (c - base), &len)) != RD_OK)
            return e;
    } else {
        return RD_TYPE;
    }
    if (rd_left(r) < len)
        return RD_TRUNC;
    *b = r->p;
    *n = (size_t)len;
    r->p += len;
    return RD_OK;
}

/* Reads a map (is_map) or array header. Every entry takes at least one byte,
 * so a count the remaining bytes cannot hold is refused as truncation. */
static int rd_container(struct rd *r, bool is_map, uint32_t *count)
{
    if (rd_left(r) < 1)
        return RD_TRUNC;
    uint8_t c = *r->p;
    uint8_t fix = is_map ? 0x80 : 0x90;
    uint8_t m16 = is_map ? 0xde : 0xdc;
    uint64_t n;
    int e;
    if ((c & 0xf0) == fix) {
        n = c & 0x0f;
        r->p++;
    } else if (c == m16 || c == m16 + 1) {
        if ((e = rd_be(r, c == m16 ? 2 : 4, &n)) != RD_OK)
            return e;
    } else {
        return RD_TYPE;
    }
    if (n * (is_map ? 2 : 1) > rd_left(r))
        return RD_TRUNC;
    *count = (uint32_t)n;
    return RD_OK;
}

static int rd_map(struct rd *r, uint32_t *n)
{
    return rd_container(r, true, n);
}

static int rd_array(struct rd *r, uint32_t *n)
{
    return rd_container(r, false, n);
}

/*
 * Skips one object of any type. Iterative: `pending` counts the objects
 * still to pass, so nesting depth costs nothing (no recursion to bound),
 * and as every object takes at least one byte, more pending objects than
 * bytes left is truncation, caught before any long loop.
 */
static int rd_skip(struct rd *r)
{
    const uint8_t *p = r->p, *end = r->end;
    uint64_t pending = 1;
    int e = RD_OK;

    while (pending) {
        pending--;
        if (p >= end) {
            e = RD_TRUNC;
            break;
        }
        uint8_t c = *p;
        size_t left = (size_t)(end - p);
        size_t size;       /* bytes of this object, or of a container's header */
        size_t width = 0;  /* big-endian length field after the marker */
        uint64_t len = 0, items = 0;

        if (c <= 0x7f || c >= 0xe0) {
            p++;
            continue;
        }
        if (c <= 0x9f) { /* fixmap, fixarray */
            pending += (uint64_t)(c & 0x0f) << (c <= 0x8f);
            p++;
        } else if (c <= 0xbf) { /* fixstr */
            size = 1 + (size_t)(c & 0x1f);
            if (left < size) {
                e = RD_TRUNC;
                break;
            }
            p += size;
            continue;
        } else {
            switch (c) {
            case 0xc0: case 0xc2: case 0xc3: size = 1; break;
            case 0xcc: case 0xd0: size = 2; break;
            case 0xcd: case 0xd1: size = 3; break;
            case 0xd4: size = 3; break; /* fixext: marker, type, data */
            case 0xd5: size = 4; break;
            case 0xca: case 0xce: case 0xd2: size = 5; break;
            case 0xd6: size = 6; break;
            case 0xcb: case 0xcf: case 0xd3: size = 9; break;
            case 0xd7: size = 10; break;
            case 0xd8: size = 18; break;
            case 0xc4: case 0xd9: width = 1; size = 1; break; /* bin, str */
            case 0xc5: case 0xda: width = 2; size = 1; break;
            case 0xc6: case 0xdb: width = 4; size = 1; break;
            case 0xc7: width = 1; size = 2; break; /* ext: also a type byte */
            case 0xc8: width = 2; size = 2; break;
            case 0xc9: width = 4; size = 2; break;
            case 0xdc: case 0xde: width = 2; size = 1; items = 1; break;
            case 0xdd: case 0xdf: width = 4; size = 1; items = 1; break;
            default: /* 0xc1, never used */
                r->p = p;
                return RD_INVALID;
            }
            if (left < size + width) {
                e = RD_TRUNC;
                break;
            }
            if (width)
                len = be(p + 1, width);
            if (items) {
                pending += len << (c >= 0xde);
                p += 1 + width;
            } else {
                size += width;
                if (left - size < len) {
                    e = RD_TRUNC;
                    break;
                }
                p += size + len;
                continue;
            }
        }
        if (pending > (uint64_t)(end - p)) {
            e = RD_TRUNC;
            break;
        }
    }
    r->p = p;
    return e;
}

static const char *rd_type_name(const struct rd *r)
{
    if (r->p >= r->end) /* only the one-pass decode_batch() gets here so */
        return "missing";
    uint8_t c = *r->p;
    if (c <= 0x7f || (c >= 0xcc && c <= 0xcf))
        return "an integer";
    if (c >= 0xe0 || (c >= 0xd0 && c <= 0xd3))
        return "a signed integer";
    if ((c & 0xf0) == 0x80 || c == 0xde || c == 0xdf)
        return "a map";
    if ((c & 0xf0) == 0x90 || c == 0xdc || c == 0xdd)
        return "an array";
    if ((c & 0xe0) == 0xa0 || (c >= 0xd9 && c <= 0xdb))
        return "a string";
    if (c >= 0xc4 && c <= 0xc6)
        return "a bin";
    if (c == 0xc0)
        return "nil";
    if (c == 0xc2 || c == 0xc3)
        return "a boolean";
    if (c == 0xca || c == 0xcb)
        return "a float";
    return "an ext";
}

/* ------------------------------------------------------------------ */
/* Decoding. */

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool str_is(const uint8_t *s, size_t n, const char *lit)
{
    return s && strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* Reads a uint no larger than `max`. */
static inline int get_uint(struct rd *r, uint64_t max, uint64_t *v, const char **why)
{
    if (rd_uint(r, v) != RD_OK) {
        *why = "not an unsigned integer";
        return -1;
    }
    if (*v > max) {
        *why = "out of range";
        return -1;
    }
    return 0;
}

static int get_addr(struct rd *r, uint8_t af, fs_ip *ip, const char **why)
{
    const uint8_t *b;
    size_t n;
    size_t want = af == 4 ? 4 : 16;
    if (rd_bytes(r, false, &b, &n) != RD_OK || n != want) {
        *why = af == 4 ? "not a 4-byte bin" : "not a 16-byte bin";
        return -1;
    }
    memset(ip, 0, sizeof(*ip));
    ip->af = af;
    memcpy(ip->b, b, af == 4 ? 4 : 16); /* constant sizes: inline copies */
    return 0;
}

/* A uid: text of at most FS_FLOW_UID_MAX - 1 bytes, no NUL inside. The
 * writer packs it as a fixstr and the reason below names the bound. */
_Static_assert(FS_FLOW_UID_MAX == 24, "uid bound changed: update the fixstr and message");

static int get_uid(struct rd *r, char uid[FS_FLOW_UID_MAX], const char **why)
{
    const uint8_t *s;
    size_t n;
    if (rd_bytes(r, true, &s, &n) != RD_OK || n >= FS_FLOW_UID_MAX || memchr(s, 0, n)) {
        *why = "not a string of at most 23 bytes";
        return -1;
    }
    memcpy(uid, s, n);
    uid[n] = '\0';
    return 0;
}

static int get_mac(struct rd *r, uint8_t mac[6], const char **why)
{
    const uint8_t *b;
    size_t n;
    if (rd_bytes(r, false, &b, &n) != RD_OK || n != 6) {
        *why = "not a 6-byte bin";
        return -1;
    }
    memcpy(mac, b, 6);
    return 0;
}

/*
 * What each flow key holds: one table row per key, so that decoding a value
 * is a look-up and a read of its kind instead of a search through the keys.
 * Ranges are those of the struct's fields, not of the IE's meaning: whatever
 * an exporter sent and the encoder wrote must read back, so an integer may
 * be as large as its field and no larger.
 */
enum key_kind {
    KK_SKIP = 0, /* a key this schema does not define */
    KK_UINT,     /* an integer field of `size` bytes at `off` */
    KK_ADDR,     /* an fs_ip at `off`, IPv4 or IPv6 by `arg` */
    KK_MAC,      /* 6 bytes at `off` */
    KK_MPLS,     /* label stack entry `arg` */
    KK_UID
};

struct key_spec {
    uint8_t kind;  /* enum key_kind */
    uint8_t size;  /* KK_UINT: 1, 2, 4 or 8 */
    uint8_t arg;   /* KK_ADDR: 4 or 6; KK_MPLS: stack position */
    int8_t bit;    /* FS_F_* set when present; -1 for none */
    uint16_t off;  /* in struct fs_flow */
};

#define KU(field, b) { KK_UINT, sizeof(((struct fs_flow *)0)->field), 0, (b), offsetof(struct fs_flow, field) }
#define KA(af, field, b) { KK_ADDR, 0, (af), (b), offsetof(struct fs_flow, field) }
#define KM(field, b) { KK_MAC, 0, 0, (b), offsetof(struct fs_flow, field) }
#define KL(i) { KK_MPLS, 0, (i), FS_F_MPLS, 0 }

/* Keys -3 .. 299 at [key + 3], the reverse ones 32768 .. 32774 after them. */
#define KEY_LOW (-3)
#define KEY_HIGH 300
#define KEY_REV_AT (KEY_HIGH - KEY_LOW)
#define KS(key) [(key) - KEY_LOW]
#define KR(key) [KEY_REV_AT + (key) - IE_REVERSE]
static const struct key_spec key_specs[KEY_REV_AT + 7] = {
    KS(KEY_UID) = { KK_UID, 0, 0, FS_F_UID, 0 },
    KS(KEY_FLAGS) = KU(flags, -1),
    KS(KEY_VERSION) = KU(version, -1),
    KS(IE_DOMAIN) = KU(domain, -1),
    KS(IE_EXPORTER_V4) = KA(4, exporter, -1), KS(IE_EXPORTER_V6) = KA(6, exporter, -1),
    KS(IE_SRC_V4) = KA(4, src_addr, FS_F_SRC_ADDR), KS(IE_SRC_V6) = KA(6, src_addr, FS_F_SRC_ADDR),
    KS(IE_DST_V4) = KA(4, dst_addr, FS_F_DST_ADDR), KS(IE_DST_V6) = KA(6, dst_addr, FS_F_DST_ADDR),
    KS(IE_SRC_PORT) = KU(src_port, FS_F_SRC_PORT), KS(IE_DST_PORT) = KU(dst_port, FS_F_DST_PORT),
    KS(IE_PROTO) = KU(proto, FS_F_PROTO), KS(IE_TOS) = KU(tos, FS_F_TOS),
    KS(IE_TCP_FLAGS) = KU(tcp_flags, FS_F_TCP_FLAGS),
    KS(IE_PACKETS) = KU(packets, FS_F_PACKETS), KS(IE_BYTES) = KU(bytes, FS_F_BYTES),
    KS(IE_IN_IF) = KU(in_if, FS_F_IN_IF), KS(IE_OUT_IF) = KU(out_if, FS_F_OUT_IF),
    KS(IE_START_MS) = KU(start_ms, FS_F_START), KS(IE_END_MS) = KU(end_ms, FS_F_END),
    KS(IE_SAMPLING) = KU(sampling_rate, FS_F_SAMPLING),
    KS(IE_SAMPLER_ID) = KU(sampler_id, FS_F_SAMPLER_ID),
    KS(IE_NEXT_HOP_V4) = KA(4, next_hop, FS_F_NEXT_HOP),
    KS(IE_NEXT_HOP_V6) = KA(6, next_hop, FS_F_NEXT_HOP),
    KS(IE_BGP_NEXT_HOP_V4) = KA(4, bgp_next_hop, FS_F_BGP_NEXT_HOP),
    KS(IE_BGP_NEXT_HOP_V6) = KA(6, bgp_next_hop, FS_F_BGP_NEXT_HOP),
    KS(IE_SRC_AS) = KU(src_as, FS_F_SRC_AS), KS(IE_DST_AS) = KU(dst_as, FS_F_DST_AS),
    KS(IE_SRC_MASK) = KU(src_mask, FS_F_SRC_MASK), KS(IE_DST_MASK) = KU(dst_mask, FS_F_DST_MASK),
    KS(IE_SRC_VLAN) = KU(src_vlan, FS_F_SRC_VLAN), KS(IE_DST_VLAN) = KU(dst_vlan, FS_F_DST_VLAN),
    KS(IE_SRC_MAC) = KM(src_mac, FS_F_SRC_MAC), KS(IE_DST_MAC) = KM(dst_mac, FS_F_DST_MAC),
    KS(IE_MPLS_FIRST) = KL(0), KS(IE_MPLS_FIRST + 1) = KL(1), KS(IE_MPLS_FIRST + 2) = KL(2),
    KS(IE_MPLS_FIRST + 3) = KL(3), KS(IE_MPLS_FIRST + 4) = KL(4), KS(IE_MPLS_LAST) = KL(5),
    KS(IE_DIRECTION) = KU(direction, FS_F_DIRECTION),
    KS(IE_FWD_STATUS) = KU(fwd_status, FS_F_FWD_STATUS),
    KS(IE_ICMP_TYPE) = KU(icmp_type, FS_F_ICMP), KS(IE_ICMP_CODE) = KU(icmp_code, FS_F_ICMP),
    KS(IE_POST_SRC_V4) = KA(4, post_src_addr, FS_F_POST_SRC_ADDR),
    KS(IE_POST_SRC_V6) = KA(6, post_src_addr, FS_F_POST_SRC_ADDR),
    KS(IE_POST_DST_V4) = KA(4, post_dst_addr, FS_F_POST_DST_ADDR),
    KS(IE_POST_DST_V6) = KA(6, post_dst_addr, FS_F_POST_DST_ADDR),
    KS(IE_POST_SRC_PORT) = KU(post_src_port, FS_F_POST_SRC_PORT),
    KS(IE_POST_DST_PORT) = KU(post_dst_port, FS_F_POST_DST_PORT),
    KS(IE_IP_VERSION) = KU(ip_version, FS_F_IP_VERSION),
    KS(IE_FLOW_ID) = KU(flow_id, FS_F_FLOW_ID),
    KR(IE_REV_PACKETS) = KU(rev_packets, FS_F_REV_PACKETS),
    KR(IE_REV_BYTES) = KU(rev_bytes, FS_F_REV_BYTES),
    KR(IE_REV_TOS) = KU(rev_tos, FS_F_REV_TOS),
    KR(IE_REV_TCP_FLAGS) = KU(rev_tcp_flags, FS_F_REV_TCP_FLAGS),
};
#undef KU
#undef KA
#undef KM
#undef KL
#undef KS
#undef KR

_Static_assert(IE_MPLS_LAST - IE_MPLS_FIRST + 1 == FS_FLOW_MPLS_MAX, "one key per MPLS entry");
_Static_assert(IE_POST_DST_V6 < KEY_HIGH && IE_REV_TCP_FLAGS - IE_REVERSE < 7,
               "key_specs holds every key");

static const struct key_spec *key_spec(int64_t key)
{
    static const struct key_spec unknown = { KK_SKIP, 0, 0, -1, 0 };

    if (key >= KEY_LOW && key < KEY_HIGH)
        return &key_specs[key - KEY_LOW];
    if (key >= IE_REVERSE && key < IE_REVERSE + 7)
        return &key_specs[KEY_REV_AT + (key - IE_REVERSE)];
    return &unknown;
}

/* Decodes one value of a flow map for `key`; unknown keys are skipped.
 * Returns 0, or -1 with the reason in `why`. */
static int flow_field(struct rd *r, int64_t key, struct fs_flow *f, const char **why)
{
    const struct key_spec *k = key_spec(key);
    uint8_t *to = (uint8_t *)f + k->off;
    uint64_t v;

    switch ((enum key_kind)k->kind) {
    case KK_SKIP:
        return rd_skip(r) == RD_OK ? 0 : (*why = "malformed", -1);
    case KK_UINT:
        /* The largest value of a field of `size` bytes. */
        if (get_uint(r, UINT64_MAX >> (64 - 8 * k->size), &v, why) != 0)
            return -1;
        switch (k->size) {
        case 1: *to = (uint8_t)v; break;
        case 2: { uint16_t x = (uint16_t)v; memcpy(to, &x, 2); break; }
        case 4: { uint32_t x = (uint32_t)v; memcpy(to, &x, 4); break; }
        default: memcpy(to, &v, 8); break;
        }
        break;
    case KK_ADDR:
        if (get_addr(r, k->arg, (fs_ip *)to, why) != 0)
            return -1;
        break;
    case KK_MAC:
        if (get_mac(r, to, why) != 0)
            return -1;
        break;
    case KK_MPLS:
        if (get_uint(r, UINT32_MAX, &v, why) != 0)
            return -1;
        f->mpls[k->arg] = (uint32_t)v;
        if (f->mpls_count < k->arg + 1)
            f->mpls_count = (uint8_t)(k->arg + 1);
        break;
    case KK_UID:
        if (get_uid(r, f->uid, why) != 0)
            return -1;
        break;
    }
    if (k->bit >= 0)
        FS_FLOW_SET(f, k->bit);
    return 0;
}

static int decode_flows(struct rd *r, struct fs_msg *m, char *err, size_t errlen)
{
    uint32_t n;
    if (rd_array(r, &n) != RD_OK)
        return fail(err, errlen, "\"flows\" is %s, not an array", rd_type_name(r));
    if (n > FS_BATCH_MAX_FLOWS)
        return fail(err, errlen, "batch of %u flows exceeds the limit of %d", n,
                    FS_BATCH_MAX_FLOWS);
    if (n == 0)
        return 0;
    m->flows = calloc(n, sizeof(*m->flows));
    if (!m->flows)
        return fail(err, errlen, "out of memory for %u flows", n);
    m->mem = m->flows;

    for (uint32_t i = 0; i < n; i++) {
        struct fs_flow *f = &m->flows[i];
        uint32_t keys;
        if (rd_map(r, &keys) != RD_OK)
            return fail(err, errlen, "flow %u is %s, not a map", i, rd_type_name(r));
        for (uint32_t k = 0; k < keys; k++) {
            uint64_t key;
            bool neg = false;
            const char *why = NULL;
            /* INT64_MAX stands for any key this schema does not define. */
            if (r->p < r->end && *r->p >= 0xe0) { /* -1, -2: negative fixint */
                key = (uint64_t)(int64_t)(int8_t)*r->p++;
            } else if (rd_uint(r, &key) == RD_OK) {
                if (key > INT64_MAX)
                    key = (uint64_t)INT64_MAX;
            } else if (rd_int(r, &key, &neg) != RD_OK) {
                /* Not an integer: skipped with its value, if it is whole. */
                if (rd_skip(r) != RD_OK)
                    return fail(err, errlen, "flow %u: malformed key", i);
                key = (uint64_t)INT64_MAX;
            }
            if (flow_field(r, (int64_t)key, f, &why) != 0)
                return fail(err, errlen, "flow %u: key %lld is %s", i,
                            (long long)(int64_t)key, why);
        }
        m->nflows++;
    }
    return 0;
}

/*
 * Stats are walked twice: once to check them and size one allocation for
 * groups, counters and strings, once to fill it.
 */
struct stats_fill {
    size_t ngroups, ncounters, nstr; /* sizes found by the first walk */
    struct fs_stats_counter *counters;
    char *str;
};

static int get_name(struct rd *r, struct stats_fill *fill, bool store, const char **out)
{
    const uint8_t *s;
    size_t n;
    if (rd_bytes(r, true, &s, &n) != RD_OK || memchr(s, 0, n))
        return -1;
    if (store) {
        memcpy(fill->str, s, n);
        fill->str[n] = '\0';
        *out = fill->str;
        fill->str += n + 1;
    } else {
        fill->nstr += n + 1;
    }
    return 0;
}

static int stats_walk(struct rd r, uint32_t ngroups, struct fs_msg *m,
                      struct stats_fill *fill, char *err, size_t errlen)
{
    bool store = m->groups != NULL;

    for (uint32_t g = 0; g < ngroups; g++) {
        struct fs_stats_group *grp = store ? &m->groups[g] : NULL;
        const char *ignored;
        bool has_name = false, has_counters = false;
        uint32_t keys;

        if (rd_map(&r, &keys) != RD_OK)
            return fail(err, errlen, "group %u is %s, not a map", g, rd_type_name(&r));
        for (uint32_t k = 0; k < keys; k++) {
            const uint8_t *key = NULL;
            size_t klen = 0;
            if (rd_bytes(&r, true, &key, &klen) != RD_OK)
                rd_skip(&r); /* not a string: no key this schema defines */
            if (str_is(key, klen, "name")) {
                if (get_name(&r, fill, store, grp ? &grp->name : &ignored) != 0)
                    return fail(err, errlen, "group %u: \"name\" is not a string", g);
                has_name = true;
            } else if (str_is(key, klen, "counters")) {
                uint32_t nc;
                if (rd_map(&r, &nc) != RD_OK)
                    return fail(err, errlen, "group %u: \"counters\" is %s, not a map", g,
                                rd_type_name(&r));
                if (store) {
                    grp->counters = fill->counters;
                    grp->ncounters = nc;
                    fill->counters += nc;
                } else {
                    fill->ncounters += nc;
                }
                for (uint32_t c = 0; c < nc; c++) {
                    struct fs_stats_counter *ctr = store ? &grp->counters[c] : NULL;
                    uint64_t v;
                    if (get_name(&r, fill, store, ctr ? &ctr->name : &ignored) != 0)
                        return fail(err, errlen, "group %u: counter %u has no string name", g, c);
                    if (rd_uint(&r, &v) != RD_OK)
                        return fail(err, errlen,
                                    "group %u: counter %u is not an unsigned integer", g, c);
                    if (ctr)
                        ctr->value = v;
                }
                has_counters = true;
            } else if (rd_skip(&r) != RD_OK) {
                return fail(err, errlen, "group %u: malformed value", g);
            }
        }
        if (!has_name || !has_counters)
            return fail(err, errlen, "group %u: missing \"%s\"", g,
                        has_name ? "counters" : "name");
    }
    return 0;
}

static int decode_stats(struct rd *r, struct fs_msg *m, char *err, size_t errlen)
{
    uint32_t n;
    if (rd_array(r, &n) != RD_OK)
        return fail(err, errlen, "\"groups\" is %s, not an array", rd_type_name(r));

    struct stats_fill fill = {0};
    if (stats_walk(*r, n, m, &fill, err, errlen) != 0)
        return -1;
    /* Every size is bounded by the message length, checked by the walk. */
    size_t size = n * sizeof(struct fs_stats_group) +
                  fill.ncounters * sizeof(struct fs_stats_counter) + fill.nstr;
    if (size == 0)
        return 0;
    m->mem = calloc(1, size);
    if (!m->mem)
        return fail(err, errlen, "out of memory for stats");
    m->groups = m->mem;
    fill.counters = (struct fs_stats_counter *)(m->groups + n);
    fill.str = (char *)(fill.counters + fill.ncounters);
    m->ngroups = n;
    return stats_walk(*r, n, m, &fill, err, errlen);
}

/* ------------------------------------------------------------------ */
/* Events: "anomaly" and "summary" messages. */

/* Body keys after the envelope. */
#define ANOMALY_KEYS 11
#define EVIDENCE_KEYS 12
#define SUMMARY_KEYS 14

struct fs_events_writer {
    struct writer an, sum;
    bool stamped;            /* the next message carries the journal stamp */
    uint64_t journal_id, jseq;
};

static const char *const host_metric_names[FS_SUMMARY_HOST_METRICS] = {
    "bytes_out", "bytes_in", "packets", "flows", "distinct_peers", "distinct_ports" };

const char *fs_summary_metric_name(unsigned i)
{
    return i < FS_SUMMARY_HOST_METRICS ? host_metric_names[i] : NULL;
}

void fs_events_writer_journal(struct fs_events_writer *w, uint64_t journal_id, uint64_t jseq)
{
    w->stamped = true;
    w->journal_id = journal_id;
    w->jseq = jseq;
}

/* The "journal" key: [id, seq] once after fs_events_writer_journal(), else nil. */
static void pack_journal(struct fs_events_writer *w, msgpack_packer *pk)
{
    pack_cstr(pk, "journal");
    if (!w->stamped) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, w->journal_id);
    msgpack_pack_uint64(pk, w->jseq);
    w->stamped = false;
}

struct fs_events_writer *fs_events_writer_new(const char *sender)
{
    if (!sender_ok(sender))
        return NULL;
    struct fs_events_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    writer_start(&w->an, FS_MSG_ANOMALY, sender, ANOMALY_KEYS);
    writer_start(&w->sum, FS_MSG_SUMMARY, sender, SUMMARY_KEYS);
    if (writer_ready(&w->an) < 0 || writer_ready(&w->sum) < 0) {
        fs_events_writer_free(w);
        return NULL;
    }
    return w;
}

void fs_events_writer_free(struct fs_events_writer *w)
{
    if (!w)
        return;
    free(w->an.w.data);
    free(w->sum.w.data);
    free(w);
}

static void pack_key_u(msgpack_packer *pk, const char *key, uint64_t v)
{
    pack_cstr(pk, key);
    msgpack_pack_uint64(pk, v);
}

static void pack_key_d(msgpack_packer *pk, const char *key, double v)
{
    pack_cstr(pk, key);
    msgpack_pack_double(pk, v);
}

/* An address as a 4- or 16-byte bin; nil when unset. */
static void pack_ip(msgpack_packer *pk, const fs_ip *ip)
{
    size_t n = ip->af == 4 ? 4 : ip->af == 6 ? 16 : 0;
    if (n == 0) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, ip->b, n);
}

static void pack_key_ip(msgpack_packer *pk, const char *key, const fs_ip *ip)
{
    pack_cstr(pk, key);
    pack_ip(pk, ip);
}

/* A string from a fixed array that may lack its terminator. */
static void pack_strn(msgpack_packer *pk, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

int fs_msg_anomaly(struct fs_events_writer *w, const struct fs_anomaly *a, const void **buf,
                   size_t *len)
{
    const char *cls = fs_anomaly_class_name(a->cls), *sev = fs_severity_name(a->severity);
    unsigned npeers = a->npeers < FS_ANOMALY_TOP ? a->npeers : FS_ANOMALY_TOP;
    unsigned nports = a->nports < FS_ANOMALY_TOP ? a->nports : FS_ANOMALY_TOP;
    unsigned nextra = a->nextra < FS_ANOMALY_EXTRA ? a->nextra : FS_ANOMALY_EXTRA;
    msgpack_packer *pk = &w->an.pk;

    if (!cls || !sev || (a->host.af != 4 && a->host.af != 6))
        return -1;
    writer_reset(&w->an);
    pack_journal(w, pk);
    pack_key_u(pk, "id", a->id);
    pack_key_u(pk, "ts_ms", a->ts_ms);
    pack_key_u(pk, "end_ms", a->end_ms);
    pack_key_ip(pk, "host", &a->host);
    pack_key_ip(pk, "peer", &a->peer);
    pack_cstr(pk, "class");
    pack_cstr(pk, cls);
    pack_cstr(pk, "severity");
    pack_cstr(pk, sev);
    pack_key_d(pk, "score", a->score);
    pack_key_d(pk, "z", a->z);
    pack_cstr(pk, "evidence");
    msgpack_pack_map(pk, EVIDENCE_KEYS);
    pack_cstr(pk, "metric");
    pack_strn(pk, a->metric, sizeof(a->metric));
    pack_key_d(pk, "observed", a->observed);
    pack_key_d(pk, "expected", a->expected);
    pack_key_d(pk, "std", a->std);
    pack_key_d(pk, "q1", a->q1);
    pack_key_d(pk, "q3", a->q3);
    pack_key_d(pk, "iqr_low", a->iqr_low);
    pack_key_d(pk, "iqr_high", a->iqr_high);
    pack_key_u(pk, "samples", a->samples);
    pack_cstr(pk, "top_peers");
    msgpack_pack_array(pk, npeers);
    for (unsigned i = 0; i < npeers; i++) {
        msgpack_pack_map(pk, 2);
        pack_key_ip(pk, "addr", &a->top_peers[i].addr);
        pack_key_u(pk, "value", a->top_peers[i].value);
    }
    pack_cstr(pk, "top_ports");
    msgpack_pack_array(pk, nports);
    for (unsigned i = 0; i < nports; i++) {
        msgpack_pack_map(pk, 3);
        pack_key_u(pk, "port", a->top_ports[i].port);
        pack_key_u(pk, "proto", a->top_ports[i].proto);
        pack_key_u(pk, "value", a->top_ports[i].value);
    }
    pack_cstr(pk, "extras");
    msgpack_pack_map(pk, nextra);
    for (unsigned i = 0; i < nextra; i++) {
        pack_strn(pk, a->extra[i].key, sizeof(a->extra[i].key));
        msgpack_pack_double(pk, a->extra[i].value);
    }
    if (w->an.w.oom)
        return -1;
    writer_finish(&w->an, buf, len);
    return 0;
}

static void pack_profile(msgpack_packer *pk, const struct fs_summary_profile *p)
{
    static const char *const names[FS_SUMMARY_NMETRICS][2] = {
        { "bytes", "bytes_std" }, { "packets", "packets_std" }, { "flows", "flows_std" } };

    msgpack_pack_map(pk, 1 + 2 * FS_SUMMARY_NMETRICS);
    pack_key_u(pk, "samples", p->samples);
    for (int m = 0; m < FS_SUMMARY_NMETRICS; m++) {
        pack_key_d(pk, names[m][0], p->mean[m]);
        pack_key_d(pk, names[m][1], p->std[m]);
    }
}

int fs_msg_summary(struct fs_events_writer *w, const struct fs_summary *s, const void **buf,
                   size_t *len)
{
    msgpack_packer *pk = &w->sum.pk;

    if (s->ntalkers > FS_SUMMARY_MAX_LIST || s->nports > FS_SUMMARY_MAX_LIST ||
        s->nprotos > FS_SUMMARY_MAX_LIST || s->nhost_stats > FS_SUMMARY_MAX_LIST)
        return -1;
    writer_reset(&w->sum);
    pack_journal(w, pk);
    pack_key_u(pk, "ts_ms", s->ts_ms);
    pack_key_u(pk, "end_ms", s->end_ms);
    pack_key_u(pk, "bytes", s->bytes);
    pack_key_u(pk, "packets", s->packets);
    pack_key_u(pk, "flows", s->flows);
    pack_key_u(pk, "hosts", s->hosts);
    pack_key_u(pk, "anomalies", s->anomalies);
    pack_cstr(pk, "hour_of_day");
    msgpack_pack_array(pk, 24);
    for (int i = 0; i < 24; i++)
        pack_profile(pk, &s->hour_of_day[i]);
    pack_cstr(pk, "day_of_week");
    msgpack_pack_array(pk, 7);
    for (int i = 0; i < 7; i++)
        pack_profile(pk, &s->day_of_week[i]);
    pack_cstr(pk, "talkers");
    msgpack_pack_array(pk, s->ntalkers);
    for (size_t i = 0; i < s->ntalkers; i++) {
        const struct fs_summary_talker *t = &s->talkers[i];
        msgpack_pack_map(pk, 6);
        pack_key_ip(pk, "addr", &t->addr);
        pack_key_u(pk, "bytes_out", t->bytes_out);
        pack_key_u(pk, "bytes_in", t->bytes_in);
        pack_key_u(pk, "flows", t->flows);
        pack_key_d(pk, "expected", t->expected);
        pack_key_d(pk, "z", t->z);
    }
    pack_cstr(pk, "ports");
    msgpack_pack_array(pk, s->nports);
    for (size_t i = 0; i < s->nports; i++) {
        msgpack_pack_map(pk, 4);
        pack_key_u(pk, "proto", s->ports[i].proto);
        pack_key_u(pk, "port", s->ports[i].port);
        pack_key_u(pk, "flows", s->ports[i].flows);
        pack_key_u(pk, "bytes", s->ports[i].bytes);
    }
    pack_cstr(pk, "protocols");
    msgpack_pack_array(pk, s->nprotos);
    for (size_t i = 0; i < s->nprotos; i++) {
        msgpack_pack_map(pk, 4);
        pack_key_u(pk, "proto", s->protos[i].proto);
        pack_key_u(pk, "flows", s->protos[i].flows);
        pack_key_u(pk, "packets", s->protos[i].packets);
        pack_key_u(pk, "bytes", s->protos[i].bytes);
    }
    pack_cstr(pk, "host_stats");
    msgpack_pack_array(pk, s->nhost_stats);
    for (size_t i = 0; i < s->nhost_stats; i++) {
        const struct fs_summary_host *h = &s->host_stats[i];
        msgpack_pack_map(pk, 6);
        pack_key_ip(pk, "addr", &h->addr);
        pack_key_u(pk, "bytes_out", h->bytes_out);
        pack_key_u(pk, "bytes_in", h->bytes_in);
        pack_key_u(pk, "packets", h->packets);
        pack_key_u(pk, "flows", h->flows);
        pack_cstr(pk, "baseline");
        msgpack_pack_map(pk, FS_SUMMARY_HOST_METRICS);
        for (int m = 0; m < FS_SUMMARY_HOST_METRICS; m++) {
            const struct fs_summary_stat *st = &h->base[m];
            pack_cstr(pk, host_metric_names[m]);
            msgpack_pack_map(pk, 6);
            pack_key_u(pk, "samples", st->samples);
            pack_key_d(pk, "mean", st->mean);
            pack_key_d(pk, "std", st->std);
            pack_key_d(pk, "median", st->median);
            pack_key_d(pk, "q1", st->q1);
            pack_key_d(pk, "q3", st->q3);
        }
    }
    if (w->sum.w.oom)
        return -1;
    writer_finish(&w->sum, buf, len);
    return 0;
}

/* A number written as a float or an integer. */
static int rd_double(struct rd *r, double *v)
{
    if (rd_left(r) < 1)
        return RD_TRUNC;
    uint8_t c = *r->p;
    if (c == 0xcb || c == 0xca) {
        size_t n = c == 0xcb ? 8 : 4;
        if (rd_left(r) < 1 + n)
            return RD_TRUNC;
        uint64_t bits = be(r->p + 1, n);
        if (n == 8) {
            memcpy(v, &bits, 8);
        } else {
            uint32_t b32 = (uint32_t)bits;
            float f;
            memcpy(&f, &b32, 4);
            *v = f;
        }
        r->p += 1 + n;
        return RD_OK;
    }
    uint64_t u;
    bool neg;
    int e = rd_int(r, &u, &neg);
    if (e == RD_OK)
        *v = neg ? (double)(int64_t)u : (double)u;
    return e;
}

/* An address: bin of 4 or 16 bytes; nil (unset) when `nil_ok`. */
static int rd_ip(struct rd *r, fs_ip *ip, bool nil_ok)
{
    const uint8_t *b;
    size_t n;

    memset(ip, 0, sizeof(*ip));
    if (nil_ok && rd_left(r) && *r->p == 0xc0) {
        r->p++;
        return RD_OK;
    }
    if (rd_bytes(r, false, &b, &n) != RD_OK || (n != 4 && n != 16))
        return RD_TYPE;
    ip->af = n == 4 ? 4 : 6;
    memcpy(ip->b, b, n);
    return RD_OK;
}

/* A string into a fixed array (NUL-terminated); refused when too long. */
static int rd_str_into(struct rd *r, char *out, size_t cap)
{
    const uint8_t *s;
    size_t n;
    if (rd_bytes(r, true, &s, &n) != RD_OK || n >= cap || memchr(s, 0, n))
        return RD_TYPE;
    memcpy(out, s, n);
    out[n] = '\0';
    return RD_OK;
}

/* Finds `key` in names[0..n); n when absent or NULL. */
static int name_index(const uint8_t *key, size_t klen, const char *const *names, int n)
{
    int i;

    for (i = 0; key && i < n; i++)
        if (str_is(key, klen, names[i]))
            break;
    return key ? i : n;
}

/* Reads one string key of a map; NULL (value to skip) when it is not one. */
static const uint8_t *rd_key(struct rd *r, size_t *klen)
{
    const uint8_t *k;
    if (rd_bytes(r, true, &k, klen) != RD_OK) {
        rd_skip(r);
        return NULL;
    }
    return k;
}

/* Reads one key of a map and finds it in names[0..n): its index, n when
 * unknown, -1 when it is not a string (its value is skipped as well). *dup
 * tells a second occurrence of a known key (bit in *seen). */
static int rd_known_key(struct rd *r, const char *const *names, int n, uint64_t *seen,
                        bool *dup)
{
    size_t klen;
    const uint8_t *key = rd_key(r, &klen);
    int i;

    *dup = false;
    if (!key)
        return -1;
    i = name_index(key, klen, names, n);
    if (i < n) {
        *dup = (*seen >> i) & 1;
        *seen |= UINT64_C(1) << i;
    }
    return i;
}

/* An unsigned integer that fits 32 bits. */
static int rd_u32(struct rd *r, uint32_t *v)
{
    uint64_t u;
    int e = rd_uint(r, &u);

    if (e == RD_OK && u > UINT32_MAX)
        return RD_TYPE;
    if (e == RD_OK)
        *v = (uint32_t)u;
    return e;
}

enum { EV_METRIC, EV_OBSERVED, EV_EXPECTED, EV_STD, EV_Q1, EV_Q3, EV_IQR_LOW, EV_IQR_HIGH,
       EV_SAMPLES, EV_PEERS, EV_PORTS, EV_EXTRAS, EV_COUNT };
static const char *const evidence_keys[EV_COUNT] = {
    "metric", "observed", "expected", "std", "q1", "q3", "iqr_low", "iqr_high", "samples",
    "top_peers", "top_ports", "extras" };

static int decode_top_list(struct rd *r, struct fs_anomaly *a, bool peers, char *err,
                           size_t errlen)
{
    const char *what = peers ? "top_peers" : "top_ports";
    uint32_t n;

    if (rd_array(r, &n) != RD_OK)
        return fail(err, errlen, "evidence: \"%s\" is %s, not an array", what, rd_type_name(r));
    if (n > FS_ANOMALY_TOP)
        return fail(err, errlen, "evidence: %u %s, more than %d", n, what, FS_ANOMALY_TOP);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t keys;
        uint64_t v = 0;
        if (rd_map(r, &keys) != RD_OK)
            return fail(err, errlen, "evidence: %s %u is %s, not a map", what, i,
                        rd_type_name(r));
        for (uint32_t k = 0; k < keys; k++) {
            size_t klen;
            const uint8_t *key = rd_key(r, &klen);
            int e = RD_OK;
            if (peers && str_is(key, klen, "addr")) {
                e = rd_ip(r, &a->top_peers[i].addr, false);
            } else if (str_is(key, klen, "value")) {
                e = rd_uint(r, &v);
                if (peers)
                    a->top_peers[i].value = v;
                else
                    a->top_ports[i].value = v;
            } else if (!peers && str_is(key, klen, "port")) {
                if ((e = rd_uint(r, &v)) == RD_OK && v > UINT16_MAX)
                    e = RD_TYPE;
                a->top_ports[i].port = (uint16_t)v;
            } else if (!peers && str_is(key, klen, "proto")) {
                if ((e = rd_uint(r, &v)) == RD_OK && v > UINT8_MAX)
                    e = RD_TYPE;
                a->top_ports[i].proto = (uint8_t)v;
            } else if (key) {
                e = rd_skip(r);
            }
            if (e != RD_OK)
                return fail(err, errlen, "evidence: %s %u: bad \"%.*s\"", what, i,
                            key ? (int)(klen < 32 ? klen : 32) : 1, key ? (const char *)key : "?");
        }
    }
    if (peers)
        a->npeers = (uint8_t)n;
    else
        a->nports = (uint8_t)n;
    return 0;
}

static int decode_evidence(struct rd *r, struct fs_anomaly *a, char *err, size_t errlen)
{
    uint32_t n;
    uint64_t seen = 0;
    double *dst[EV_COUNT] = { NULL, &a->observed, &a->expected, &a->std, &a->q1, &a->q3,
                              &a->iqr_low, &a->iqr_high };

    if (rd_map(r, &n) != RD_OK)
        return fail(err, errlen, "\"evidence\" is %s, not a map", rd_type_name(r));
    for (uint32_t i = 0; i < n; i++) {
        bool dup;
        int k = rd_known_key(r, evidence_keys, EV_COUNT, &seen, &dup);
        if (k < 0)
            continue;
        if (dup)
            return fail(err, errlen, "evidence: duplicate key \"%s\"", evidence_keys[k]);
        int e = RD_OK;
        switch (k) {
        case EV_METRIC:
            e = rd_str_into(r, a->metric, sizeof(a->metric));
            break;
        case EV_SAMPLES:
            e = rd_u32(r, &a->samples);
            break;
        case EV_PEERS:
        case EV_PORTS:
            if (decode_top_list(r, a, k == EV_PEERS, err, errlen) != 0)
                return -1;
            break;
        case EV_EXTRAS: {
            uint32_t ne;
            if (rd_map(r, &ne) != RD_OK)
                return fail(err, errlen, "evidence: \"extras\" is %s, not a map",
                            rd_type_name(r));
            if (ne > FS_ANOMALY_EXTRA)
                return fail(err, errlen, "evidence: %u extras, more than %d", ne,
                            FS_ANOMALY_EXTRA);
            for (uint32_t j = 0; j < ne && e == RD_OK; j++) {
                e = rd_str_into(r, a->extra[j].key, sizeof(a->extra[j].key));
                if (e == RD_OK)
                    e = rd_double(r, &a->extra[j].value);
            }
            if (e != RD_OK)
                return fail(err, errlen, "evidence: extra key longer than %zu bytes or "
                            "value not a number", sizeof(a->extra[0].key) - 1);
            a->nextra = (uint8_t)ne;
            break;
        }
        case EV_COUNT:
            e = rd_skip(r);
            break;
        default:
            e = rd_double(r, dst[k]);
            break;
        }
        if (e != RD_OK)
            return fail(err, errlen, "evidence: \"%s\" is %s", evidence_keys[k],
                        k == EV_METRIC ? "not a string of at most 31 bytes" : "not a number");
    }
    return 0;
}

enum { AN_ID, AN_TS, AN_END, AN_HOST, AN_PEER, AN_CLASS, AN_SEV, AN_SCORE, AN_Z,
       AN_EVIDENCE, AN_COUNT };
static const char *const anomaly_keys[AN_COUNT] = {
    "id", "ts_ms", "end_ms", "host", "peer", "class", "severity", "score", "z", "evidence" };

static int decode_anomaly(const uint8_t *buf, size_t len, struct fs_msg *m, char *err,
                          size_t errlen)
{
    struct rd r = { buf, buf + len };
    uint32_t n;
    uint64_t seen = 0;
    struct fs_anomaly *a = calloc(1, sizeof(*a));

    if (!a)
        return fail(err, errlen, "out of memory for an anomaly");
    m->mem = a;
    rd_map(&r, &n); /* checked by the caller */
    for (uint32_t i = 0; i < n; i++) {
        bool dup;
        int k = rd_known_key(&r, anomaly_keys, AN_COUNT, &seen, &dup);
        if (k < 0)
            continue;
        if (dup)
            return fail(err, errlen, "duplicate key \"%s\"", anomaly_keys[k]);
        int e = RD_OK;
        char name[32];
        switch (k) {
        case AN_ID: e = rd_uint(&r, &a->id); break;
        case AN_TS: e = rd_uint(&r, &a->ts_ms); break;
        case AN_END: e = rd_uint(&r, &a->end_ms); break;
        case AN_HOST: e = rd_ip(&r, &a->host, false); break;
        case AN_PEER: e = rd_ip(&r, &a->peer, true); break;
        case AN_CLASS:
            if ((e = rd_str_into(&r, name, sizeof(name))) == RD_OK &&
                fs_anomaly_class_parse(name, &a->cls) != 0)
                return fail(err, errlen, "unknown anomaly class \"%s\"", name);
            break;
        case AN_SEV:
            e = rd_str_into(&r, name, sizeof(name));
            if (e == RD_OK) {
                int s;
                for (s = FS_SEV_LOW; s <= FS_SEV_CRITICAL; s++)
                    if (strcmp(name, fs_severity_name((enum fs_severity)s)) == 0)
                        break;
                if (s > FS_SEV_CRITICAL)
                    return fail(err, errlen, "unknown severity \"%s\"", name);
                a->severity = (enum fs_severity)s;
            }
            break;
        case AN_SCORE: e = rd_double(&r, &a->score); break;
        case AN_Z: e = rd_double(&r, &a->z); break;
        case AN_EVIDENCE:
            if (decode_evidence(&r, a, err, errlen) != 0)
                return -1;
            break;
        default: e = rd_skip(&r); break;
        }
        if (e != RD_OK)
            return fail(err, errlen, "\"%s\" is %s", anomaly_keys[k],
                        k == AN_HOST || k == AN_PEER ? "not a 4- or 16-byte bin"
                        : k == AN_CLASS || k == AN_SEV ? "not a short string"
                        : k == AN_SCORE || k == AN_Z ? "not a number"
                        : "not an unsigned integer");
    }
    for (int k = 0; k < AN_COUNT; k++)
        if (k != AN_PEER && k != AN_EVIDENCE && !((seen >> k) & 1))
            return fail(err, errlen, "missing \"%s\"", anomaly_keys[k]);
    m->anomaly = a;
    return 0;
}

enum { SU_TS, SU_END, SU_BYTES, SU_PACKETS, SU_FLOWS, SU_HOSTS, SU_ANOMALIES, SU_HOD, SU_DOW,
       SU_TALKERS, SU_PORTS, SU_PROTOS, SU_HOST_STATS, SU_COUNT };
static const char *const summary_keys[SU_COUNT] = {
    "ts_ms", "end_ms", "bytes", "packets", "flows", "hosts", "anomalies", "hour_of_day",
    "day_of_week", "talkers", "ports", "protocols", "host_stats" };
#define SU_NLISTS (SU_COUNT - SU_TALKERS)

static int decode_profiles(struct rd *r, struct fs_summary_profile *p, uint32_t want,
                           const char *what, char *err, size_t errlen)
{
    static const char *const names[1 + 2 * FS_SUMMARY_NMETRICS] = {
        "samples", "bytes", "bytes_std", "packets", "packets_std", "flows", "flows_std" };
    uint32_t n;

    if (rd_array(r, &n) != RD_OK || n != want)
        return fail(err, errlen, "\"%s\" is not an array of %u maps", what, want);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t keys;
        if (rd_map(r, &keys) != RD_OK)
            return fail(err, errlen, "%s %u is %s, not a map", what, i, rd_type_name(r));
        for (uint32_t k = 0; k < keys; k++) {
            size_t klen;
            const uint8_t *key = rd_key(r, &klen);
            int j = name_index(key, klen, names, 1 + 2 * FS_SUMMARY_NMETRICS), e = RD_OK;
            if (j == 0) {
                e = rd_u32(r, &p[i].samples);
            } else if (j < 1 + 2 * FS_SUMMARY_NMETRICS) {
                e = rd_double(r, (j - 1) % 2 ? &p[i].std[(j - 1) / 2] : &p[i].mean[(j - 1) / 2]);
            } else if (key) {
                e = rd_skip(r);
            }
            if (e != RD_OK)
                return fail(err, errlen, "%s %u: \"%s\" is not a number", what, i,
                            j < 1 + 2 * FS_SUMMARY_NMETRICS ? names[j] : "?");
        }
    }
    return 0;
}

/* A list of maps whose values are unsigned integers (and, for talkers, an
 * address and two numbers), each key landing in the element by `field`. */
static int decode_summary_list(struct rd *r, struct fs_summary *s, int which, char *err,
                               size_t errlen)
{
    uint32_t n;
    const char *what = summary_keys[which];

    if (rd_array(r, &n) != RD_OK)
        return fail(err, errlen, "\"%s\" is %s, not an array", what, rd_type_name(r));
    for (uint32_t i = 0; i < n; i++) {
        uint32_t keys;
        if (rd_map(r, &keys) != RD_OK)
            return fail(err, errlen, "%s %u is %s, not a map", what, i, rd_type_name(r));
        for (uint32_t k = 0; k < keys; k++) {
            size_t klen;
            const uint8_t *key = rd_key(r, &klen);
            uint64_t v = 0, *u = NULL, max = UINT64_MAX;
            double *d = NULL;
            int e = RD_OK;
            if (!key)
                continue;
            if (which == SU_TALKERS) {
                struct fs_summary_talker *t = &s->talkers[i];
                if (str_is(key, klen, "addr")) {
                    if (rd_ip(r, &t->addr, false) != RD_OK)
                        return fail(err, errlen, "talker %u: \"addr\" is not a 4- or 16-byte bin", i);
                    continue;
                }
                u = str_is(key, klen, "bytes_out") ? &t->bytes_out
                    : str_is(key, klen, "bytes_in") ? &t->bytes_in
                    : str_is(key, klen, "flows") ? &t->flows : NULL;
                d = str_is(key, klen, "expected") ? &t->expected
                    : str_is(key, klen, "z") ? &t->z : NULL;
            } else if (which == SU_PORTS) {
                struct fs_summary_port *p = &s->ports[i];
                u = str_is(key, klen, "flows") ? &p->flows
                    : str_is(key, klen, "bytes") ? &p->bytes : NULL;
                if (str_is(key, klen, "proto")) {
                    u = &v;
                    max = UINT8_MAX;
                } else if (str_is(key, klen, "port")) {
                    u = &v;
                    max = UINT16_MAX;
                }
            } else {
                struct fs_summary_proto *p = &s->protos[i];
                u = str_is(key, klen, "flows") ? &p->flows
                    : str_is(key, klen, "packets") ? &p->packets
                    : str_is(key, klen, "bytes") ? &p->bytes : NULL;
                if (str_is(key, klen, "proto")) {
                    u = &v;
                    max = UINT8_MAX;
                }
            }
            if (u)
                e = rd_uint(r, u) != RD_OK || *u > max ? RD_TYPE : RD_OK;
            else if (d)
                e = rd_double(r, d);
            else
                e = rd_skip(r);
            if (e != RD_OK)
                return fail(err, errlen, "%s %u: \"%.*s\" is %s", what, i,
                            (int)(klen < 32 ? klen : 32), (const char *)key,
                            d ? "not a number" : "not an unsigned integer in range");
            if (u == &v && which == SU_PORTS) {
                if (str_is(key, klen, "proto"))
                    s->ports[i].proto = (uint8_t)v;
                else
                    s->ports[i].port = (uint16_t)v;
            } else if (u == &v) {
                s->protos[i].proto = (uint8_t)v;
            }
        }
    }
    return 0;
}

/* One host's "baseline": a map of metric name to {samples, mean, std, median, q1, q3}. */
static int decode_host_baseline(struct rd *r, struct fs_summary_host *h, uint32_t i, char *err,
                                size_t errlen)
{
    static const char *const stat_keys[6] = { "samples", "mean", "std", "median", "q1", "q3" };
    uint32_t n, keys;

    if (rd_map(r, &n) != RD_OK)
        return fail(err, errlen, "host_stats %u: \"baseline\" is %s, not a map", i,
                    rd_type_name(r));
    for (uint32_t j = 0; j < n; j++) {
        size_t klen;
        const uint8_t *key = rd_key(r, &klen);
        int m;
        if (!key)
            continue;
        m = name_index(key, klen, host_metric_names, FS_SUMMARY_HOST_METRICS);
        if (m >= FS_SUMMARY_HOST_METRICS) {
            rd_skip(r);
            continue;
        }
        struct fs_summary_stat *st = &h->base[m];
        double *d[6] = { NULL, &st->mean, &st->std, &st->median, &st->q1, &st->q3 };
        if (rd_map(r, &keys) != RD_OK)
            return fail(err, errlen, "host_stats %u: baseline \"%s\" is not a map", i,
                        host_metric_names[m]);
        for (uint32_t k = 0; k < keys; k++) {
            const uint8_t *sk = rd_key(r, &klen);
            int x, e;
            if (!sk)
                continue;
            x = name_index(sk, klen, stat_keys, 6);
            e = x == 0 ? rd_u32(r, &st->samples) : x < 6 ? rd_double(r, d[x]) : rd_skip(r);
            if (e != RD_OK)
                return fail(err, errlen, "host_stats %u: baseline \"%s\": \"%s\" is not a number",
                            i, host_metric_names[m], x < 6 ? stat_keys[x] : "?");
        }
    }
    return 0;
}

/* "host_stats": [{addr, bytes_out, bytes_in, packets, flows, baseline}, ...]. */
static int decode_host_stats(struct rd *r, struct fs_summary *s, char *err, size_t errlen)
{
    uint32_t n;

    if (rd_array(r, &n) != RD_OK)
        return fail(err, errlen, "\"host_stats\" is %s, not an array", rd_type_name(r));
    for (uint32_t i = 0; i < n; i++) {
        struct fs_summary_host *h = &s->host_stats[i];
        uint64_t *u[4] = { &h->bytes_out, &h->bytes_in, &h->packets, &h->flows };
        static const char *const names[6] = { "addr", "bytes_out", "bytes_in", "packets", "flows",
                                              "baseline" };
        uint32_t keys;
        if (rd_map(r, &keys) != RD_OK)
            return fail(err, errlen, "host_stats %u is %s, not a map", i, rd_type_name(r));
        for (uint32_t k = 0; k < keys; k++) {
            size_t klen;
            const uint8_t *key = rd_key(r, &klen);
            int x, e = RD_OK;
            if (!key)
                continue;
            x = name_index(key, klen, names, 6);
            if (x == 0) {
                if (rd_ip(r, &h->addr, false) != RD_OK)
                    return fail(err, errlen, "host_stats %u: \"addr\" is not a 4- or 16-byte bin",
                                i);
            } else if (x < 5) {
                e = rd_uint(r, u[x - 1]);
            } else if (x == 5) {
                if (decode_host_baseline(r, h, i, err, errlen) != 0)
                    return -1;
            } else {
                e = rd_skip(r);
            }
            if (e != RD_OK)
                return fail(err, errlen, "host_stats %u: \"%s\" is not an unsigned integer", i,
                            names[x]);
        }
    }
    return 0;
}

static int decode_summary(const uint8_t *buf, size_t len, struct fs_msg *m, char *err,
                          size_t errlen)
{
    struct rd r = { buf, buf + len };
    uint32_t n, counts[SU_NLISTS] = { 0 };
    uint64_t seen = 0;

    /* First pass: the list lengths, for one allocation. Every count was
     * checked against the bytes left when the message was walked. */
    rd_map(&r, &n);
    for (uint32_t i = 0; i < n; i++) {
        bool dup;
        int k = rd_known_key(&r, summary_keys, SU_COUNT, &seen, &dup);
        if (k < 0)
            continue;
        if (dup)
            return fail(err, errlen, "duplicate key \"%s\"", summary_keys[k]);
        if (k >= SU_TALKERS && k < SU_COUNT) {
            struct rd peek = r;
            if (rd_array(&peek, &counts[k - SU_TALKERS]) != RD_OK)
                return fail(err, errlen, "\"%s\" is %s, not an array", summary_keys[k],
                            rd_type_name(&peek));
            if (counts[k - SU_TALKERS] > FS_SUMMARY_MAX_LIST)
                return fail(err, errlen, "%u %s exceed the limit of %d", counts[k - SU_TALKERS],
                            summary_keys[k], FS_SUMMARY_MAX_LIST);
        }
        rd_skip(&r);
    }
    if (!((seen >> SU_TS) & 1) || !((seen >> SU_END) & 1))
        return fail(err, errlen, "missing \"%s\"", (seen >> SU_TS) & 1 ? "end_ms" : "ts_ms");

    size_t size = sizeof(struct fs_summary) + counts[0] * sizeof(struct fs_summary_talker) +
                  counts[1] * sizeof(struct fs_summary_port) +
                  counts[2] * sizeof(struct fs_summary_proto) +
                  counts[3] * sizeof(struct fs_summary_host);
    struct fs_summary *s = calloc(1, size);
    if (!s)
        return fail(err, errlen, "out of memory for a summary");
    m->mem = s;
    s->talkers = (struct fs_summary_talker *)(s + 1);
    s->ports = (struct fs_summary_port *)(s->talkers + counts[0]);
    s->protos = (struct fs_summary_proto *)(s->ports + counts[1]);
    s->host_stats = (struct fs_summary_host *)(s->protos + counts[2]);
    s->ntalkers = counts[0];
    s->nports = counts[1];
    s->nprotos = counts[2];
    s->nhost_stats = counts[3];

    r.p = buf;
    rd_map(&r, &n);
    for (uint32_t i = 0; i < n; i++) {
        size_t klen;
        const uint8_t *key = rd_key(&r, &klen);
        int k, e = RD_OK;
        if (!key)
            continue;
        k = name_index(key, klen, summary_keys, SU_COUNT);
        uint64_t *u[SU_HOD] = { &s->ts_ms, &s->end_ms, &s->bytes, &s->packets, &s->flows,
                                &s->hosts, &s->anomalies };
        if (k < SU_HOD) {
            e = rd_uint(&r, u[k]);
        } else if (k == SU_HOD || k == SU_DOW) {
            if (decode_profiles(&r, k == SU_HOD ? s->hour_of_day : s->day_of_week,
                                k == SU_HOD ? 24 : 7, summary_keys[k], err, errlen) != 0)
                return -1;
        } else if (k == SU_HOST_STATS) {
            if (decode_host_stats(&r, s, err, errlen) != 0)
                return -1;
        } else if (k < SU_COUNT) {
            if (decode_summary_list(&r, s, k, err, errlen) != 0)
                return -1;
        } else {
            e = rd_skip(&r);
        }
        if (e != RD_OK)
            return fail(err, errlen, "\"%s\" is %s, not an unsigned integer", summary_keys[k],
                        rd_type_name(&r));
    }
    m->summary = s;
    return 0;
}

/* Top-level keys this build knows. */
enum { K_TYPE, K_V, K_SENDER, K_SEQ, K_FLOWS, K_TS, K_GROUPS, K_JOURNAL, K_COUNT };
static const char *const top_keys[K_COUNT] = {
    "type", "v", "sender", "seq", "flows", "ts_ms", "groups", "journal"};

/* "journal": nil, or [journal id, journal sequence]. */
static int decode_journal(struct rd *r, struct fs_msg *m, char *err, size_t errlen)
{
    uint32_t n;

    if (rd_left(r) && *r->p == 0xc0)
        return 0;
    if (rd_array(r, &n) != RD_OK || n != 2 || rd_uint(r, &m->journal_id) != RD_OK ||
        rd_uint(r, &m->jseq) != RD_OK)
        return fail(err, errlen, "\"journal\" is not nil or [id, sequence]");
    return 0;
}

/* The envelope, from the values found at the top-level keys (`at[k].p` NULL
 * for a key not there): the version first, as a newer schema may have
 * changed everything else, then type, sender and sequence number. */
static int decode_envelope(struct rd at[K_COUNT], struct fs_msg *m, char *err, size_t errlen)
{
    /* The version first: a newer schema may have changed everything else. */
    uint64_t v;
    if (!at[K_V].p)
        return fail(err, errlen, "missing \"v\" (schema version)");
    if (rd_uint(&at[K_V], &v) != RD_OK)
        return fail(err, errlen, "\"v\" is %s, not an unsigned integer",
                    rd_type_name(&at[K_V]));
    if (v != FS_MSG_VERSION)
        return fail(err, errlen, "schema version %llu not supported (this build reads %d)",
                    (unsigned long long)v, FS_MSG_VERSION);

    const uint8_t *s;
    size_t slen;
    if (!at[K_TYPE].p)
        return fail(err, errlen, "missing \"type\"");
    if (rd_bytes(&at[K_TYPE], true, &s, &slen) != RD_OK)
        return fail(err, errlen, "\"type\" is %s, not a string", rd_type_name(&at[K_TYPE]));
    if (str_is(s, slen, "flows"))
        m->type = FS_MSG_FLOWS;
    else if (str_is(s, slen, "stats"))
        m->type = FS_MSG_STATS;
    else if (str_is(s, slen, "anomaly"))
        m->type = FS_MSG_ANOMALY;
    else if (str_is(s, slen, "summary"))
        m->type = FS_MSG_SUMMARY;
    else
        return fail(err, errlen, "unknown message type \"%.*s\"",
                    (int)(slen < 32 ? slen : 32), (const char *)s);

    if (!at[K_SENDER].p)
        return fail(err, errlen, "missing \"sender\"");
    if (rd_bytes(&at[K_SENDER], true, &s, &slen) != RD_OK)
        return fail(err, errlen, "\"sender\" is %s, not a string",
                    rd_type_name(&at[K_SENDER]));
    if (slen == 0 || slen >= FS_MSG_SENDER_MAX || memchr(s, 0, slen))
        return fail(err, errlen, "\"sender\" is empty, longer than %d bytes or holds a NUL",
                    FS_MSG_SENDER_MAX - 1);
    memcpy(m->sender, s, slen);
    m->sender[slen] = '\0';

    if (!at[K_SEQ].p)
        return fail(err, errlen, "missing \"seq\"");
    if (rd_uint(&at[K_SEQ], &m->seq) != RD_OK)
        return fail(err, errlen, "\"seq\" is %s, not an unsigned integer",
                    rd_type_name(&at[K_SEQ]));

    return 0;
}

/* Reads a top-level key: its index in top_keys, K_COUNT for one this build
 * does not know, -1 when it is not a string. */
static int top_key(struct rd *r)
{
    const uint8_t *key;
    size_t klen;

    if (rd_bytes(r, true, &key, &klen) != RD_OK)
        return -1;
    for (int k = 0; k < K_COUNT; k++)
        if (str_is(key, klen, top_keys[k]))
            return k;
    return K_COUNT;
}

/*
 * One pass over a "flows" message laid out the way fs_batch_finish() lays it
 * out, the envelope before "flows": the flows are checked as they are
 * decoded, which the general way below does in three passes (the whole
 * message walked, then its keys, then the flows). Every byte goes through a
 * bounds-checked reader that knows its type, so whatever this accepts the
 * general way accepts too, with the same result. Returns 0 when the message
 * was decoded; -1 for anything else, malformed or not, which then goes the
 * general way so that errors read the same whatever the layout.
 */
static int decode_batch(const uint8_t *buf, size_t len, struct fs_msg *m)
{
    struct rd r = {buf, buf + len}, at[K_COUNT] = {{0}};
    uint32_t n;

    if (rd_map(&r, &n) != RD_OK)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        int k = top_key(&r);

        if (k < 0 || (k < K_COUNT && at[k].p))
            return -1;
        if (k == K_FLOWS)
            return i + 1 == n && decode_envelope(at, m, NULL, 0) == 0 &&
                           m->type == FS_MSG_FLOWS && decode_flows(&r, m, NULL, 0) == 0 &&
                           r.p == r.end
                       ? 0
                       : -1;
        if (k < K_COUNT)
            at[k] = r;
        if (rd_skip(&r) != RD_OK)
            return -1;
    }
    return -1;
}

static int decode(const uint8_t *buf, size_t len, struct fs_msg *m, char *err, size_t errlen)
{
    struct rd r = {buf, buf + len};

    if (len == 0)
        return fail(err, errlen, "empty message");
    switch (rd_skip(&r)) {
    case RD_OK:
        break;
    case RD_TRUNC:
        return fail(err, errlen, "truncated message (%zu bytes)", len);
    default:
        return fail(err, errlen, "not msgpack: invalid byte 0x%02x at offset %zu",
                    *r.p, (size_t)(r.p - buf));
    }
    if (r.p != r.end)
        return fail(err, errlen, "not msgpack: %zu bytes after the end of the message",
                    rd_left(&r));

    r.p = buf;
    uint32_t n;
    if (rd_map(&r, &n) != RD_OK)
        return fail(err, errlen, "not a map but %s", rd_type_name(&r));

    struct rd at[K_COUNT] = {{0}};
    for (uint32_t i = 0; i < n; i++) {
        int k = top_key(&r);
        if (k < 0) {
            rd_skip(&r); /* not a string */
        } else if (k < K_COUNT) {
            if (at[k].p)
                return fail(err, errlen, "duplicate key \"%s\"", top_keys[k]);
            at[k] = r;
        }
        rd_skip(&r);
    }

    if (decode_envelope(at, m, err, errlen) != 0)
        return -1;
    if (m->type == FS_MSG_FLOWS) {
        if (!at[K_FLOWS].p)
            return fail(err, errlen, "missing \"flows\"");
        return decode_flows(&at[K_FLOWS], m, err, errlen);
    }
    if ((m->type == FS_MSG_ANOMALY || m->type == FS_MSG_SUMMARY) && at[K_JOURNAL].p &&
        decode_journal(&at[K_JOURNAL], m, err, errlen) != 0)
        return -1;
    if (m->type == FS_MSG_ANOMALY)
        return decode_anomaly(buf, len, m, err, errlen);
    if (m->type == FS_MSG_SUMMARY)
        return decode_summary(buf, len, m, err, errlen);
    if (!at[K_TS].p)
        return fail(err, errlen, "missing \"ts_ms\"");
    if (rd_uint(&at[K_TS], &m->ts_ms) != RD_OK)
        return fail(err, errlen, "\"ts_ms\" is %s, not an unsigned integer",
                    rd_type_name(&at[K_TS]));
    if (!at[K_GROUPS].p)
        return fail(err, errlen, "missing \"groups\"");
    return decode_stats(&at[K_GROUPS], m, err, errlen);
}

int fs_msg_decode(const void *buf, size_t len, struct fs_msg *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (decode_batch(buf, len, out) == 0)
        return 0;
    fs_msg_free(out);
    memset(out, 0, sizeof(*out));
    if (decode(buf, len, out, err, errlen) != 0) {
        fs_msg_free(out);
        return -1;
    }
    return 0;
}

void fs_msg_free(struct fs_msg *m)
{
    free(m->mem);
    m->mem = NULL;
    m->flows = NULL;
    m->nflows = 0;
    m->groups = NULL;
    m->ngroups = 0;
    m->anomaly = NULL;
    m->summary = NULL;
}

/* ------------------------------------------------------------------ */
/* Sequence gap tracker: a chained hash over a fixed pool of streams. */

struct gap_stream {
    char sender[FS_MSG_SENDER_MAX];
    enum fs_msg_type type;
    uint64_t next;     /* the sequence number expected next */
    uint64_t lost;     /* still counted as lost: what late arrivals may take back */
    uint64_t last_use; /* tick of the last message, to evict the oldest */
    uint32_t hash;
    int32_t chain;     /* next stream in the bucket, -1 at the end */
};

struct fs_gap {
    struct gap_stream *streams;
    int32_t *buckets;
    size_t max, used, nbuckets;
    uint64_t tick;
    int32_t last; /* the stream matched last: most receivers hear one sender */
    struct fs_gap_counters totals;
};

struct fs_gap *fs_gap_new(size_t max_senders)
{
    if (max_senders == 0)
        max_senders = 256;
    if (max_senders > INT32_MAX / 4)
        return NULL;
    struct fs_gap *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->max = max_senders;
    g->nbuckets = 16;
    while (g->nbuckets < max_senders * 2)
        g->nbuckets *= 2;
    g->streams = calloc(max_senders, sizeof(*g->streams));
    g->buckets = malloc(g->nbuckets * sizeof(*g->buckets));
    if (!g->streams || !g->buckets) {
        fs_gap_free(g);
        return NULL;
    }
    memset(g->buckets, 0xff, g->nbuckets * sizeof(*g->buckets));
    g->last = -1;
    return g;
}

void fs_gap_free(struct fs_gap *g)
{
    if (!g)
        return;
    free(g->streams);
    free(g->buckets);
    free(g);
}

static uint32_t gap_hash(const char *sender, enum fs_msg_type type)
{
    uint32_t h = 2166136261u ^ (uint32_t)type; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)sender; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static bool gap_match(const struct gap_stream *s, uint32_t h, const char *sender,
                      enum fs_msg_type type)
{
    return s->hash == h && s->type == type && strcmp(s->sender, sender) == 0;
}

/* Takes stream `i` out of its bucket chain. */
static void gap_unlink(struct fs_gap *g, int32_t i)
{
    int32_t *link = &g->buckets[g->streams[i].hash & (g->nbuckets - 1)];
    while (*link != i)
        link = &g->streams[*link].chain;
    *link = g->streams[i].chain;
}

/* Returns a slot for a new stream, forgetting the least recent when full. */
static int32_t gap_slot(struct fs_gap *g)
{
    if (g->used < g->max)
        return (int32_t)g->used++;
    int32_t oldest = 0;
    for (size_t i = 1; i < g->used; i++) {
        if (g->streams[i].last_use < g->streams[oldest].last_use)
            oldest = (int32_t)i;
    }
    gap_unlink(g, oldest);
    g->totals.evicted++;
    return oldest;
}

enum fs_gap_result fs_gap_check(struct fs_gap *g, const char *sender_in,
                                enum fs_msg_type type, uint64_t seq, uint64_t *lost)
{
    /* Streams are keyed by the id as a decoded message can carry it. */
    char sender[FS_MSG_SENDER_MAX];
    size_t slen = strnlen(sender_in, sizeof(sender) - 1);
    memcpy(sender, sender_in, slen);
    sender[slen] = '\0';

    uint32_t h = gap_hash(sender, type);
    int32_t i = g->last;

    if (lost)
        *lost = 0;
    g->totals.messages++;
    g->tick++;

    if (i < 0 || !gap_match(&g->streams[i], h, sender, type)) {
        for (i = g->buckets[h & (g->nbuckets - 1)]; i >= 0; i = g->streams[i].chain) {
            if (gap_match(&g->streams[i], h, sender, type))
                break;
        }
    }
    if (i < 0) {
        i = gap_slot(g);
        struct gap_stream *s = &g->streams[i];
        memset(s, 0, sizeof(*s));
        memcpy(s->sender, sender, slen + 1);
        s->type = type;
        s->hash = h;
        s->next = seq + 1;
        s->last_use = g->tick;
        s->chain = g->buckets[h & (g->nbuckets - 1)];
        g->buckets[h & (g->nbuckets - 1)] = i;
        g->last = i;
        g->totals.senders++;
        return FS_GAP_NEW;
    }

    struct gap_stream *s = &g->streams[i];
    g->last = i;
    s->last_use = g->tick;

    if (seq == s->next) {
        s->next++;
        return FS_GAP_OK;
    }
    if (seq > s->next) {
        uint64_t n = seq - s->next;
        s->lost += n;
        g->totals.lost += n;
        s->next = seq + 1;
        if (lost)
            *lost = n;
        return FS_GAP_LOST;
    }
    if (seq == s->next - 1) {
        g->totals.duplicates++;
        return FS_GAP_DUPLICATE;
    }
    if (seq != 0 && s->next - seq <= FS_GAP_REORDER_WINDOW) {
        g->totals.reordered++;
        if (s->lost) {
            s->lost--;
            g->totals.lost--;
        }
        return FS_GAP_REORDERED;
    }
    g->totals.restarts++;
    s->next = seq + 1;
    s->lost = 0;
    return FS_GAP_RESTART;
}

const struct fs_gap_counters *fs_gap_totals(const struct fs_gap *g)
{
    return &g->totals;
}
