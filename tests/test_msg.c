/*
 * test_msg.c - bus message codecs: round trips of every message type, the
 * wire layout checked with msgpack-c's own unpacker, messages built by hand
 * with msgpack-c's packer (unknown keys, other integer encodings, every
 * envelope error), truncation at every length, garbage, and the sequence gap
 * tracker.
 */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "flowfix.h"
#include "msg.h"
#include "rng.h"

/* ---- helpers ---- */

/* The JSON form covers every field's value and presence; the raw MPLS
 * entries, flags and presence bits are compared besides. */
static void expect_flow_eq(const struct fs_flow *got, const struct fs_flow *want)
{
    char a[FS_FLOW_JSON_MAX], b[FS_FLOW_JSON_MAX];
    fs_flow_json(got, a, sizeof(a));
    fs_flow_json(want, b, sizeof(b));
    cr_expect_str_eq(a, b);
    cr_expect_eq(got->present, want->present);
    cr_expect_eq(got->flags, want->flags);
    cr_expect_eq(got->mpls_count, want->mpls_count);
    cr_expect_arr_eq(got->mpls, want->mpls, sizeof(got->mpls));
}

/* A finished batch of `n` flows from "test@host": the message is at
 * `*buf`, `*len` bytes, until the batch is freed. */
static struct fs_batch *batch_of(const struct fs_flow *flows, size_t n, const void **buf,
                                 size_t *len)
{
    struct fs_batch *b = fs_batch_new("test@host");

    cr_assert_not_null(b);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(fs_batch_add(b, &flows[i]), 0);
    cr_assert_eq(fs_batch_count(b), n);
    cr_assert_eq(fs_batch_finish(b, buf, len), 0);
    cr_assert_eq(fs_batch_size(b), *len);
    return b;
}

/* fs_msg_decode() of an exact-size heap copy of the first `len` bytes at
 * `buf`, so that ASan sees any over-read. */
static int decode_copy(const void *buf, size_t len, struct fs_msg *m, char *err, size_t errlen)
{
    void *copy = malloc(len ? len : 1);
    int rc;

    cr_assert_not_null(copy);
    memcpy(copy, buf, len);
    rc = fs_msg_decode(copy, len, m, err, errlen);
    free(copy);
    return rc;
}

/* Encodes `n` flows into one batch and decodes it back. */
static void round_trip(const struct fs_flow *flows, size_t n, struct fs_msg *out)
{
    const void *buf;
    size_t len;
    char err[256] = "";
    struct fs_batch *b = batch_of(flows, n, &buf, &len);

    cr_assert_eq(decode_copy(buf, len, out, err, sizeof(err)), 0, "%s", err);
    fs_batch_free(b);
    cr_assert_eq(out->type, FS_MSG_FLOWS);
    cr_assert_str_eq(out->sender, "test@host");
    cr_assert_eq(out->nflows, n);
}

/* One flow through a batch and back, equal in every field; the caller
 * checks more in `m` and frees it. */
static void round_trip_one(const struct fs_flow *f, struct fs_msg *m)
{
    round_trip(f, 1, m);
    expect_flow_eq(&m->flows[0], f);
}

/* A message built with msgpack-c's packer. */
struct hand {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};

static void hand_init(struct hand *h)
{
    msgpack_sbuffer_init(&h->sb);
    msgpack_packer_init(&h->pk, &h->sb, msgpack_sbuffer_write);
}

static void pstr(struct hand *h, const char *s)
{
    msgpack_pack_str(&h->pk, strlen(s));
    msgpack_pack_str_body(&h->pk, s, strlen(s));
}

/* Writes the four envelope keys (so the map needs 4 + body entries). */
static void hand_envelope(struct hand *h, const char *type, uint64_t v, uint64_t seq)
{
    pstr(h, "type");
    pstr(h, type);
    pstr(h, "v");
    msgpack_pack_uint64(&h->pk, v);
    pstr(h, "sender");
    pstr(h, "hand@made");
    pstr(h, "seq");
    msgpack_pack_uint64(&h->pk, seq);
}

static int hand_decode(struct hand *h, struct fs_msg *m, char *err, size_t errlen)
{
    int rc = fs_msg_decode(h->sb.data, h->sb.size, m, err, errlen);
    msgpack_sbuffer_destroy(&h->sb);
    return rc;
}

/* Expects decoding to fail with `want` in the reason. */
static void expect_reject(struct hand *h, const char *want)
{
    struct fs_msg m;
    char err[256] = "";
    cr_expect_eq(hand_decode(h, &m, err, sizeof(err)), -1, "accepted, wanted \"%s\"", want);
    cr_expect_not_null(strstr(err, want), "reason \"%s\", wanted \"%s\"", err, want);
}

/* A message of `type` and schema version `v`: the envelope, and room in
 * the map for `nbody` more keys, which the caller packs next. */
static void hand_head(struct hand *h, const char *type, uint64_t v, uint32_t nbody)
{
    hand_init(h);
    msgpack_pack_map(&h->pk, 4 + nbody);
    hand_envelope(h, type, v, 0);
}

/* The same with a "flows" array of `n` entries as the body. */
static void hand_flows(struct hand *h, const char *type, uint64_t v, uint32_t n)
{
    hand_head(h, type, v, 1);
    pstr(h, "flows");
    msgpack_pack_array(&h->pk, n);
}

/* A stats message at ts_ms 1 whose one group the caller packs next. */
static void hand_stats_head(struct hand *h)
{
    hand_head(h, "stats", 1, 2);
    pstr(h, "ts_ms");
    msgpack_pack_uint64(&h->pk, 1);
    pstr(h, "groups");
    msgpack_pack_array(&h->pk, 1);
}

/* ---- flow batches ---- */

Test(batch, every_field)
{
    struct fs_flow f;
    struct fs_msg m;
    flowfix_full(&f);
    round_trip_one(&f, &m);
    fs_msg_free(&m);
}

Test(batch, minimal)
{
    struct fs_flow f;
    struct fs_msg m;
    flowfix_minimal(&f);
    round_trip_one(&f, &m);
    cr_expect_eq(m.flows[0].present, 0);
    fs_msg_free(&m);
}

Test(batch, ipv6_everywhere)
{
    struct fs_flow f;
    struct fs_msg m;
    flowfix_full(&f);
    f.exporter = flowfix_ip("2001:db8::1");
    f.src_addr = flowfix_ip("2001:db8:1::10");
    f.dst_addr = flowfix_ip("2001:db8:2::20");
    f.next_hop = flowfix_ip("fe80::1");
    f.bgp_next_hop = flowfix_ip("2001:db8:ffff::1");
    f.post_src_addr = flowfix_ip("64:ff9b::c000:201");
    f.post_dst_addr = flowfix_ip("2001:db8:3::30");
    f.ip_version = 6;
    round_trip_one(&f, &m);
    cr_expect_eq(m.flows[0].exporter.af, 6);
    fs_msg_free(&m);
}

/* Whatever the struct can hold reads back: every field at its largest. */
Test(batch, field_extremes)
{
    struct fs_flow f;
    struct fs_msg m;
    flowfix_full(&f);
    f.version = f.src_port = f.dst_port = f.post_src_port = f.post_dst_port = UINT16_MAX;
    f.src_vlan = f.dst_vlan = UINT16_MAX;
    f.proto = f.tos = f.tcp_flags = f.ip_version = f.src_mask = f.dst_mask = UINT8_MAX;
    f.direction = f.fwd_status = f.icmp_type = f.icmp_code = UINT8_MAX;
    f.rev_tos = f.rev_tcp_flags = UINT8_MAX;
    f.domain = f.flags = f.in_if = f.out_if = f.src_as = f.dst_as = UINT32_MAX;
    f.sampling_rate = f.sampler_id = UINT32_MAX;
    f.packets = f.bytes = f.start_ms = f.end_ms = f.rev_packets = f.rev_bytes = UINT64_MAX;
    f.mpls_count = FS_FLOW_MPLS_MAX;
    for (int i = 0; i < FS_FLOW_MPLS_MAX; i++)
        f.mpls[i] = UINT32_MAX;
    round_trip_one(&f, &m);
    fs_msg_free(&m);
}

Test(batch, empty)
{
    struct fs_msg m;
    round_trip(NULL, 0, &m);
    cr_expect_null(m.flows);
    fs_msg_free(&m);
}

Test(batch, large_and_bounded)
{
    size_t n = FS_BATCH_MAX_FLOWS;
    struct fs_flow *flows = calloc(n, sizeof(*flows));
    struct fs_msg m;
    for (size_t i = 0; i < n; i++) {
        if (i % 3)
            flowfix_full(&flows[i]);
        else
            flowfix_minimal(&flows[i]);
        flows[i].packets = i;
        flows[i].src_port = (uint16_t)i;
        flows[i].src_addr.b[3] = (uint8_t)i;
    }
    round_trip(flows, n, &m);
    for (size_t i = 0; i < n; i++)
        expect_flow_eq(&m.flows[i], &flows[i]);
    fs_msg_free(&m);

    /* One more is refused, and the batch stays usable. */
    struct fs_batch *b = fs_batch_new("test@host");
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(fs_batch_add(b, &flows[0]), 0);
    cr_expect_eq(fs_batch_add(b, &flows[0]), -1);
    cr_expect_eq(fs_batch_count(b), n);
    fs_batch_free(b);
    free(flows);
}

Test(batch, sequence_and_reuse)
{
    struct fs_batch *b = fs_batch_new("collector@probe1");
    struct fs_flow f;
    const void *buf;
    size_t len;
    struct fs_msg m;
    char err[256];

    flowfix_minimal(&f);
    cr_assert_not_null(b);
    for (uint64_t want = 0; want < 3; want++) {
        cr_expect_eq(fs_batch_next_seq(b), want);
        fs_batch_reset(b);
        cr_expect_eq(fs_batch_count(b), 0);
        f.domain = (uint32_t)want;
        for (uint64_t i = 0; i <= want; i++)
            cr_assert_eq(fs_batch_add(b, &f), 0);
        cr_assert_eq(fs_batch_finish(b, &buf, &len), 0);
        cr_expect_eq(fs_batch_finish(b, &buf, &len), -1, "finished twice");
        cr_expect_eq(fs_batch_add(b, &f), -1, "added after finish");
        cr_assert_eq(fs_msg_decode(buf, len, &m, err, sizeof(err)), 0, "%s", err);
        cr_expect_eq(m.seq, want);
        cr_expect_eq(m.nflows, want + 1);
        cr_expect_eq(m.flows[want].domain, want);
        fs_msg_free(&m);
    }
    fs_batch_free(b);
}

Test(batch, sender_limits)
{
    char longest[FS_MSG_SENDER_MAX];
    memset(longest, 's', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    struct fs_batch *b = fs_batch_new(longest);
    cr_expect_not_null(b);
    fs_batch_free(b);

    char too_long[FS_MSG_SENDER_MAX + 1];
    memset(too_long, 's', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    cr_expect_null(fs_batch_new(too_long));
    cr_expect_null(fs_batch_new(""));
    cr_expect_null(fs_stats_new(too_long));
}

/* The encoder's output read by msgpack-c itself, against docs/messages.md:
 * envelope strings, IE-id integer keys, bin addresses, negative private keys. */
Test(batch, wire_layout_per_msgpack_c)
{
    struct fs_flow f;
    const void *buf;
    size_t len;

    flowfix_full(&f);
    struct fs_batch *b = batch_of(&f, 1, &buf, &len);

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&u, buf, len, &off), MSGPACK_UNPACK_SUCCESS);
    cr_expect_eq(off, len);
    msgpack_object top = u.data;
    cr_assert_eq(top.type, MSGPACK_OBJECT_MAP);
    cr_expect_eq(top.via.map.size, 5);

    const msgpack_object *flows = NULL;
    int seen = 0;
    for (uint32_t i = 0; i < top.via.map.size; i++) {
        msgpack_object k = top.via.map.ptr[i].key, v = top.via.map.ptr[i].val;
        cr_assert_eq(k.type, MSGPACK_OBJECT_STR);
        if (k.via.str.size == 4 && !memcmp(k.via.str.ptr, "type", 4)) {
            cr_expect_eq(v.type, MSGPACK_OBJECT_STR);
            cr_expect_eq(v.via.str.size, 5);
            cr_expect_arr_eq(v.via.str.ptr, "flows", 5);
            seen |= 1;
        } else if (k.via.str.size == 1 && k.via.str.ptr[0] == 'v') {
            cr_expect_eq(v.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
            cr_expect_eq(v.via.u64, 1);
            seen |= 2;
        } else if (k.via.str.size == 6 && !memcmp(k.via.str.ptr, "sender", 6)) {
            cr_expect_eq(v.via.str.size, 9);
            cr_expect_arr_eq(v.via.str.ptr, "test@host", 9);
            seen |= 4;
        } else if (k.via.str.size == 3 && !memcmp(k.via.str.ptr, "seq", 3)) {
            cr_expect_eq(v.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
            cr_expect_eq(v.via.u64, 0);
            seen |= 8;
        } else if (k.via.str.size == 5 && !memcmp(k.via.str.ptr, "flows", 5)) {
            flows = &top.via.map.ptr[i].val;
        }
    }
    cr_expect_eq(seen, 15);
    cr_assert_not_null(flows);
    cr_assert_eq(flows->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(flows->via.array.size, 1);
    msgpack_object fm = flows->via.array.ptr[0];
    cr_assert_eq(fm.type, MSGPACK_OBJECT_MAP);

    /* key -> expected value, from flowfix_full and docs/messages.md. */
    struct {
        int64_t key;
        uint64_t u;         /* for integers */
        const char *bin;    /* for bins */
        size_t binlen;
        int found;
    } want[] = {
        {-1, 10, NULL, 0, 0},         {-2, 3, NULL, 0, 0},
        {149, 4000000000u, NULL, 0, 0}, {130, 0, "\xc0\x00\x02\x01", 4, 0},
        {8, 0, "\xc6\x33\x64\x07", 4, 0},
        {28, 0, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x25", 16, 0},
        {7, 51234, NULL, 0, 0},       {11, 443, NULL, 0, 0},
        {4, 6, NULL, 0, 0},           {2, 5000000000ull, NULL, 0, 0},
        {1, 9007199254740993ull, NULL, 0, 0}, {152, 1700000000250ull, NULL, 0, 0},
        {56, 0, "\xaa\xbb\xcc\x0d\x0e\x0f", 6, 0}, {71, 24001u << 4 | 5u << 1, NULL, 0, 0},
        {176, 3, NULL, 0, 0},         {177, 13, NULL, 0, 0},
        {225, 0, "\x64\x40\x00\x09", 4, 0}, {32770, 12, NULL, 0, 0},
        {32769, 3400, NULL, 0, 0},    {32774, 0x12, NULL, 0, 0},
        {34, 1000, NULL, 0, 0},       {60, 4, NULL, 0, 0},
    };
    size_t nwant = sizeof(want) / sizeof(want[0]);
    for (uint32_t i = 0; i < fm.via.map.size; i++) {
        msgpack_object k = fm.via.map.ptr[i].key, v = fm.via.map.ptr[i].val;
        int64_t key = k.type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? k.via.i64 : (int64_t)k.via.u64;
        cr_assert(k.type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                  k.type == MSGPACK_OBJECT_NEGATIVE_INTEGER);
        for (size_t w = 0; w < nwant; w++) {
            if (want[w].key != key)
                continue;
            want[w].found++;
            if (want[w].bin) {
                cr_expect_eq(v.type, MSGPACK_OBJECT_BIN, "key %lld", (long long)key);
                cr_expect_eq(v.via.bin.size, want[w].binlen, "key %lld", (long long)key);
                cr_expect_arr_eq(v.via.bin.ptr, want[w].bin, want[w].binlen);
            } else {
                cr_expect_eq(v.type, MSGPACK_OBJECT_POSITIVE_INTEGER, "key %lld", (long long)key);
                cr_expect_eq(v.via.u64, want[w].u, "key %lld", (long long)key);
            }
        }
    }
    for (size_t w = 0; w < nwant; w++)
        cr_expect_eq(want[w].found, 1, "key %lld seen %d times", (long long)want[w].key,
                     want[w].found);
    msgpack_unpacked_destroy(&u);
    fs_batch_free(b);
}

/* ---- decoding messages from another encoder ---- */

Test(decode, hand_built_with_unknown_keys)
{
    struct hand h;
    struct fs_msg m;
    char err[256] = "";

    hand_init(&h);
    msgpack_pack_map(&h.pk, 7);
    pstr(&h, "flows"); /* the body before the envelope: order is free */
    msgpack_pack_array(&h.pk, 1);
    msgpack_pack_map(&h.pk, 8);
    msgpack_pack_int(&h.pk, 8);
    msgpack_pack_bin(&h.pk, 4);
    msgpack_pack_bin_body(&h.pk, "\x0a\x00\x00\x01", 4);
    msgpack_pack_int(&h.pk, 9999); /* unknown IE, with a nested value */
    msgpack_pack_array(&h.pk, 2);
    for (int i = 0; i < 100; i++)
        msgpack_pack_map(&h.pk, 1), pstr(&h, "k");
    msgpack_pack_ext(&h.pk, 3, 7);
    msgpack_pack_ext_body(&h.pk, "abc", 3);
    pstr(&h, "x");
    pstr(&h, "note"); /* a string key in a flow: not ours, skipped */
    msgpack_pack_true(&h.pk);
    msgpack_pack_int(&h.pk, -77); /* unknown private key */
    msgpack_pack_int(&h.pk, 1);
    msgpack_pack_int(&h.pk, 2);
    msgpack_pack_uint64(&h.pk, 42);
    msgpack_pack_int(&h.pk, 74); /* MPLS entry 5 without the ones before */
    msgpack_pack_uint32(&h.pk, 100u << 4 | 1);
    msgpack_pack_int(&h.pk, -1);
    msgpack_pack_int(&h.pk, 9);
    msgpack_pack_int(&h.pk, 130);
    msgpack_pack_bin(&h.pk, 4);
    msgpack_pack_bin_body(&h.pk, "\xc0\x00\x02\x63", 4);
    pstr(&h, "future");
    msgpack_pack_map(&h.pk, 1);
    pstr(&h, "a");
    msgpack_pack_double(&h.pk, 1.5);
    msgpack_pack_int(&h.pk, 12345); /* an integer key at the top level */
    msgpack_pack_nil(&h.pk);
    hand_envelope(&h, "flows", 1, 99);

    cr_assert_eq(hand_decode(&h, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.seq, 99);
    cr_expect_str_eq(m.sender, "hand@made");
    cr_assert_eq(m.nflows, 1);
    const struct fs_flow *f = &m.flows[0];
    char buf[FS_IP_STRLEN];
    cr_expect_str_eq(fs_ip_format(&f->src_addr, buf), "10.0.0.1");
    cr_expect_str_eq(fs_ip_format(&f->exporter, buf), "192.0.2.99");
    cr_expect_eq(f->packets, 42);
    cr_expect_eq(f->version, 9);
    cr_expect_eq(f->mpls_count, 5);
    cr_expect_eq(f->mpls[4], 100u << 4 | 1);
    cr_expect_eq(f->mpls[0], 0);
    cr_expect_eq(f->present, UINT64_C(1) << FS_F_SRC_ADDR | UINT64_C(1) << FS_F_PACKETS |
                                 UINT64_C(1) << FS_F_MPLS);
    fs_msg_free(&m);
}

/* An array of `n` small ints, or a map of `n` int -> nil. */
static void pack_container(struct hand *h, bool map, uint32_t n)
{
    if (map)
        msgpack_pack_map(&h->pk, n);
    else
        msgpack_pack_array(&h->pk, n);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_uint32(&h->pk, i);
        if (map)
            msgpack_pack_nil(&h->pk);
    }
}

/* Unknown keys carrying every msgpack type and width (as msgpack-c picks
 * them by size) are skipped, and the known key after each still decodes. */
Test(decode, skips_every_msgpack_type)
{
    static char blob[70000];
    const size_t sizes[] = {0, 5, 40, 300, 70000};
    struct hand h;
    int nvalues = 0;

    hand_flows(&h, "flows", 1, 1);
    msgpack_pack_map(&h.pk, 2 * 36);
#define UNKNOWN_THEN_PORT(pack)                      \
    do {                                             \
        msgpack_pack_int(&h.pk, 30000 + nvalues);    \
        pack;                                        \
        msgpack_pack_int(&h.pk, 7);                  \
        msgpack_pack_uint16(&h.pk, (uint16_t)(1000 + nvalues)); \
        nvalues++;                                   \
    } while (0)
    UNKNOWN_THEN_PORT(msgpack_pack_nil(&h.pk));
    UNKNOWN_THEN_PORT(msgpack_pack_true(&h.pk));
    UNKNOWN_THEN_PORT(msgpack_pack_false(&h.pk));
    UNKNOWN_THEN_PORT(msgpack_pack_int64(&h.pk, -5));
    UNKNOWN_THEN_PORT(msgpack_pack_int64(&h.pk, -100));
    UNKNOWN_THEN_PORT(msgpack_pack_int64(&h.pk, -1000));
    UNKNOWN_THEN_PORT(msgpack_pack_int64(&h.pk, -100000));
    UNKNOWN_THEN_PORT(msgpack_pack_int64(&h.pk, -10000000000ll));
    UNKNOWN_THEN_PORT(msgpack_pack_uint64(&h.pk, 200));
    UNKNOWN_THEN_PORT(msgpack_pack_uint64(&h.pk, 60000));
    UNKNOWN_THEN_PORT(msgpack_pack_uint64(&h.pk, 4000000000u));
    UNKNOWN_THEN_PORT(msgpack_pack_uint64(&h.pk, UINT64_MAX));
    UNKNOWN_THEN_PORT(msgpack_pack_float(&h.pk, 1.5f));
    UNKNOWN_THEN_PORT(msgpack_pack_double(&h.pk, 2.5));
    for (size_t i = 0; i < 5; i++) {
        UNKNOWN_THEN_PORT((msgpack_pack_str(&h.pk, sizes[i]),
                           msgpack_pack_str_body(&h.pk, blob, sizes[i])));
        UNKNOWN_THEN_PORT((msgpack_pack_bin(&h.pk, sizes[i]),
                           msgpack_pack_bin_body(&h.pk, blob, sizes[i])));
    }
    const size_t ext_sizes[] = {1, 2, 4, 8, 16, 3, 300, 70000};
    for (size_t i = 0; i < 8; i++)
        UNKNOWN_THEN_PORT((msgpack_pack_ext(&h.pk, ext_sizes[i], 5),
                           msgpack_pack_ext_body(&h.pk, blob, ext_sizes[i])));
    UNKNOWN_THEN_PORT(msgpack_pack_array(&h.pk, 0));
    UNKNOWN_THEN_PORT(pack_container(&h, false, 20));
    UNKNOWN_THEN_PORT(pack_container(&h, true, 20));
    UNKNOWN_THEN_PORT(pack_container(&h, false, 70000));
#undef UNKNOWN_THEN_PORT
    cr_assert_eq(nvalues, 36);

    struct fs_msg m;
    char err[256] = "";
    cr_assert_eq(hand_decode(&h, &m, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(m.nflows, 1);
    cr_expect_eq(m.flows[0].src_port, 1000 + nvalues - 1);
    cr_expect_eq(m.flows[0].present, UINT64_C(1) << FS_F_SRC_PORT);
    fs_msg_free(&m);
}

/* Non-negative values packed as signed ints (d0..d3), as some encoders do. */
Test(decode, signed_encodings_of_unsigned_values)
{
    static const uint8_t msg[] = {
        0x85,
        0xa4, 't', 'y', 'p', 'e', 0xa5, 'f', 'l', 'o', 'w', 's',
        0xa1, 'v', 0xd0, 0x01,
        0xa6, 's', 'e', 'n', 'd', 'e', 'r', 0xa1, 'x',
        0xa3, 's', 'e', 'q', 0xd3, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
        0xa5, 'f', 'l', 'o', 'w', 's', 0x91,
        0x82, 0xd1, 0x00, 0x07, 0xd1, 0x01, 0xbb, /* 7: 443 */
        0xd0, 0x04, 0xd2, 0, 0, 0, 17,            /* 4: 17 */
    };
    struct fs_msg m;
    char err[256] = "";
    cr_assert_eq(fs_msg_decode(msg, sizeof(msg), &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.seq, 256);
    cr_assert_eq(m.nflows, 1);
    cr_expect_eq(m.flows[0].src_port, 443);
    cr_expect_eq(m.flows[0].proto, 17);
    fs_msg_free(&m);
}

/* ---- stats ---- */

Test(stats, round_trip_and_sequence)
{
    struct fs_stats *s = fs_stats_new("collector@probe1");
    const void *buf;
    size_t len;
    struct fs_msg m;
    char err[256] = "";

    cr_assert_not_null(s);
    fs_stats_reset(s, 1700000000123ull);
    cr_expect_eq(fs_stats_add(s, "orphan", 1), -1, "counter outside a group");
    cr_assert_eq(fs_stats_group(s, "total"), 0);
    cr_assert_eq(fs_stats_add(s, "flows", 5000000000ull), 0);
    cr_assert_eq(fs_stats_add(s, "datagrams", 3), 0);
    cr_assert_eq(fs_stats_group(s, "192.0.2.1"), 0);
    cr_assert_eq(fs_stats_add(s, "flows", 7), 0);
    cr_assert_eq(fs_stats_group(s, "udp:0.0.0.0:2055"), 0);
    cr_assert_eq(fs_stats_finish(s, &buf, &len), 0);
    cr_expect_eq(fs_stats_group(s, "late"), -1, "group after finish");

    cr_assert_eq(fs_msg_decode(buf, len, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.type, FS_MSG_STATS);
    cr_expect_str_eq(m.sender, "collector@probe1");
    cr_expect_eq(m.seq, 0);
    cr_expect_eq(m.ts_ms, 1700000000123ull);
    cr_assert_eq(m.ngroups, 3);
    cr_expect_str_eq(m.groups[0].name, "total");
    cr_assert_eq(m.groups[0].ncounters, 2);
    cr_expect_str_eq(m.groups[0].counters[0].name, "flows");
    cr_expect_eq(m.groups[0].counters[0].value, 5000000000ull);
    cr_expect_str_eq(m.groups[0].counters[1].name, "datagrams");
    cr_expect_eq(m.groups[0].counters[1].value, 3);
    cr_expect_str_eq(m.groups[1].name, "192.0.2.1");
    cr_assert_eq(m.groups[1].ncounters, 1);
    cr_expect_eq(m.groups[1].counters[0].value, 7);
    cr_expect_str_eq(m.groups[2].name, "udp:0.0.0.0:2055");
    cr_expect_eq(m.groups[2].ncounters, 0);
    fs_msg_free(&m);

    /* The next message: new sequence number, nothing left of the first. */
    fs_stats_reset(s, 1700000001000ull);
    cr_assert_eq(fs_stats_finish(s, &buf, &len), 0);
    cr_assert_eq(fs_msg_decode(buf, len, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.seq, 1);
    cr_expect_eq(m.ts_ms, 1700000001000ull);
    cr_expect_eq(m.ngroups, 0);
    fs_msg_free(&m);
    fs_stats_free(s);
}

Test(stats, hand_built_errors)
{
    struct hand h;
    hand_stats_head(&h);
    msgpack_pack_map(&h.pk, 2);
    pstr(&h, "name");
    pstr(&h, "total");
    pstr(&h, "counters");
    msgpack_pack_map(&h.pk, 1);
    pstr(&h, "flows");
    msgpack_pack_int(&h.pk, -5);
    expect_reject(&h, "counter 0 is not an unsigned integer");

    hand_stats_head(&h);
    msgpack_pack_map(&h.pk, 1);
    pstr(&h, "name");
    pstr(&h, "total");
    expect_reject(&h, "group 0: missing \"counters\"");

    hand_head(&h, "stats", 1, 1);
    pstr(&h, "groups");
    msgpack_pack_array(&h.pk, 0);
    expect_reject(&h, "missing \"ts_ms\"");
}

/* ---- envelope errors ---- */

Test(decode, wrong_schema_version)
{
    struct hand h;
    hand_flows(&h, "flows", 2, 0);

    struct fs_msg m;
    char err[256] = "";
    cr_expect_eq(hand_decode(&h, &m, err, sizeof(err)), -1);
    cr_expect_str_eq(err, "schema version 2 not supported (this build reads 1)");

    /* Even when the rest would not be understood either. */
    hand_init(&h);
    msgpack_pack_map(&h.pk, 2);
    pstr(&h, "v");
    msgpack_pack_uint64(&h.pk, 7);
    pstr(&h, "type");
    pstr(&h, "something-new");
    cr_expect_eq(hand_decode(&h, &m, err, sizeof(err)), -1);
    cr_expect_str_eq(err, "schema version 7 not supported (this build reads 1)");
}

Test(decode, envelope_errors)
{
    struct hand h;

    hand_init(&h);
    msgpack_pack_array(&h.pk, 1);
    msgpack_pack_int(&h.pk, 1);
    expect_reject(&h, "not a map but an array");

    hand_init(&h);
    msgpack_pack_map(&h.pk, 1);
    pstr(&h, "type");
    pstr(&h, "flows");
    expect_reject(&h, "missing \"v\"");

    hand_init(&h);
    msgpack_pack_map(&h.pk, 1);
    pstr(&h, "v");
    pstr(&h, "1");
    expect_reject(&h, "\"v\" is a string, not an unsigned integer");

    hand_flows(&h, "alerts", 1, 0);
    expect_reject(&h, "unknown message type \"alerts\"");

    hand_init(&h);
    msgpack_pack_map(&h.pk, 3);
    pstr(&h, "v");
    msgpack_pack_uint64(&h.pk, 1);
    pstr(&h, "type");
    msgpack_pack_int(&h.pk, 1);
    pstr(&h, "seq");
    msgpack_pack_uint64(&h.pk, 1);
    expect_reject(&h, "\"type\" is an integer, not a string");

    hand_init(&h);
    msgpack_pack_map(&h.pk, 3);
    pstr(&h, "v");
    msgpack_pack_uint64(&h.pk, 1);
    pstr(&h, "type");
    pstr(&h, "flows");
    pstr(&h, "seq");
    msgpack_pack_uint64(&h.pk, 1);
    expect_reject(&h, "missing \"sender\"");

    hand_init(&h);
    msgpack_pack_map(&h.pk, 4);
    pstr(&h, "v");
    msgpack_pack_uint64(&h.pk, 1);
    pstr(&h, "type");
    pstr(&h, "flows");
    pstr(&h, "sender");
    pstr(&h, "a");
    pstr(&h, "seq");
    msgpack_pack_int(&h.pk, -3);
    expect_reject(&h, "\"seq\" is a signed integer, not an unsigned integer");

    hand_head(&h, "flows", 1, 0);
    expect_reject(&h, "missing \"flows\"");

    hand_head(&h, "flows", 1, 1);
    pstr(&h, "flows");
    msgpack_pack_map(&h.pk, 0);
    expect_reject(&h, "\"flows\" is a map, not an array");

    hand_head(&h, "flows", 1, 1);
    pstr(&h, "seq");
    msgpack_pack_uint64(&h.pk, 0);
    expect_reject(&h, "duplicate key \"seq\"");
}

Test(decode, sender_errors)
{
    struct hand h;
    char long_sender[FS_MSG_SENDER_MAX + 1];
    memset(long_sender, 'a', FS_MSG_SENDER_MAX);
    long_sender[FS_MSG_SENDER_MAX] = '\0';

    hand_init(&h);
    msgpack_pack_map(&h.pk, 5);
    pstr(&h, "v");
    msgpack_pack_uint64(&h.pk, 1);
    pstr(&h, "type");
    pstr(&h, "flows");
    pstr(&h, "sender");
    pstr(&h, long_sender);
    pstr(&h, "seq");
    msgpack_pack_uint64(&h.pk, 1);
    pstr(&h, "flows");
    msgpack_pack_array(&h.pk, 0);
    expect_reject(&h, "\"sender\" is empty, longer than 63 bytes");
}

Test(decode, ill_typed_flow_fields)
{
    struct hand h;

    hand_flows(&h, "flows", 1, 1);
    msgpack_pack_map(&h.pk, 1);
    msgpack_pack_int(&h.pk, 7);
    pstr(&h, "443");
    expect_reject(&h, "flow 0: key 7 is not an unsigned integer");

    hand_flows(&h, "flows", 1, 1);
    msgpack_pack_map(&h.pk, 1);
    msgpack_pack_int(&h.pk, 11);
    msgpack_pack_uint32(&h.pk, 70000);
    expect_reject(&h, "flow 0: key 11 is out of range");

    hand_flows(&h, "flows", 1, 1);
    msgpack_pack_map(&h.pk, 1);
    msgpack_pack_int(&h.pk, 61);
    msgpack_pack_uint32(&h.pk, 256);
    expect_reject(&h, "flow 0: key 61 is out of range");

    hand_flows(&h, "flows", 1, 1);
    msgpack_pack_map(&h.pk, 1);
    msgpack_pack_int(&h.pk, 27);
    msgpack_pack_bin(&h.pk, 4);
    msgpack_pack_bin_body(&h.pk, "\x0a\0\0\x01", 4);
    expect_reject(&h, "flow 0: key 27 is not a 16-byte bin");

    hand_flows(&h, "flows", 1, 1);
    msgpack_pack_map(&h.pk, 1);
    msgpack_pack_int(&h.pk, 56);
    pstr(&h, "aa:bb:cc:dd:ee:ff");
    expect_reject(&h, "flow 0: key 56 is not a 6-byte bin");

    hand_flows(&h, "flows", 1, 1);
    msgpack_pack_int(&h.pk, 3);
    expect_reject(&h, "flow 0 is an integer, not a map");
}

/* ---- damaged input ---- */

/* Each strict prefix is rejected as truncated (or empty), never read past. */
static void every_prefix(const void *buf, size_t len)
{
    struct fs_msg m;
    char err[256];
    for (size_t i = 0; i < len; i++) {
        err[0] = '\0';
        cr_assert_eq(decode_copy(buf, i, &m, err, sizeof(err)), -1,
                     "prefix of %zu bytes accepted", i);
        cr_expect(strstr(err, i ? "truncated message" : "empty message") != NULL,
                  "prefix %zu: %s", i, err);
        cr_expect_null(m.mem);
    }
}

Test(damage, every_truncation_of_a_flow_batch)
{
    struct fs_flow f[3];
    const void *buf;
    size_t len;
    flowfix_full(&f[0]);
    f[1] = f[0];
    f[1].exporter = flowfix_ip("2001:db8::1");
    flowfix_minimal(&f[2]);
    struct fs_batch *b = batch_of(f, 3, &buf, &len);
    every_prefix(buf, len);
    fs_batch_free(b);
}

Test(damage, every_truncation_of_stats)
{
    struct fs_stats *s = fs_stats_new("test@host");
    const void *buf;
    size_t len;
    fs_stats_reset(s, 1);
    fs_stats_group(s, "total");
    fs_stats_add(s, "flows", 1ull << 40);
    fs_stats_group(s, "192.0.2.1");
    fs_stats_add(s, "errors", 2);
    fs_stats_finish(s, &buf, &len);
    every_prefix(buf, len);
    fs_stats_free(s);
}

Test(damage, hostile_counts_and_nesting)
{
    struct fs_msg m;
    char err[256];

    /* An array claiming 4 G entries in a few bytes: refused before any
     * allocation (msgpack-c's own unpacker would try to allocate 96 GB). */
    static const uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    cr_expect_eq(fs_msg_decode(huge, sizeof(huge), &m, err, sizeof(err)), -1);
    cr_expect_not_null(strstr(err, "truncated"), "%s", err);

    /* Nesting a million deep: walked without recursion, then refused for
     * its shape. */
    size_t depth = 1000000;
    uint8_t *deep = malloc(depth + 1);
    memset(deep, 0x91, depth);
    deep[depth] = 0x01;
    cr_expect_eq(fs_msg_decode(deep, depth + 1, &m, err, sizeof(err)), -1);
    cr_expect_str_eq(err, "not a map but an array");
    free(deep);

    static const uint8_t invalid[] = {0x81, 0xa1, 'v', 0xc1};
    cr_expect_eq(fs_msg_decode(invalid, sizeof(invalid), &m, err, sizeof(err)), -1);
    cr_expect_str_eq(err, "not msgpack: invalid byte 0xc1 at offset 3");

    static const uint8_t trailing[] = {0x80, 0x00};
    cr_expect_eq(fs_msg_decode(trailing, sizeof(trailing), &m, err, sizeof(err)), -1);
    cr_expect_str_eq(err, "not msgpack: 1 bytes after the end of the message");

    /* A batch over the flow limit, made of empty maps. */
    size_t n = FS_BATCH_MAX_FLOWS + 1;
    struct hand h;
    hand_flows(&h, "flows", 1, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        msgpack_pack_map(&h.pk, 0);
    expect_reject(&h, "exceeds the limit");
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

Test(damage, random_garbage)
{
    struct fs_msg m;
    char err[256];
    for (int i = 0; i < 200000; i++) {
        size_t len = trng_next(&rng) % 300;
        uint8_t *buf = malloc(len ? len : 1);
        for (size_t j = 0; j < len; j++)
            buf[j] = (uint8_t)trng_next(&rng);
        err[0] = '\0';
        cr_assert_eq(fs_msg_decode(buf, len, &m, err, sizeof(err)), -1);
        cr_assert_neq(err[0], '\0', "no reason given");
        free(buf);
    }
}

/* Valid messages with random bytes changed: anything may come out, but
 * nothing crashes, leaks or reads out of bounds (ASan build). */
Test(damage, mutated_messages)
{
    struct fs_flow f[2];
    const void *buf;
    size_t len;
    flowfix_full(&f[0]);
    flowfix_minimal(&f[1]);
    struct fs_batch *b = batch_of(f, 2, &buf, &len);

    int accepted = 0;
    for (int i = 0; i < 100000; i++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, buf, len);
        int edits = 1 + (int)(trng_next(&rng) % 4);
        for (int e = 0; e < edits; e++)
            copy[trng_next(&rng) % len] = (uint8_t)trng_next(&rng);
        struct fs_msg m;
        char err[256];
        if (fs_msg_decode(copy, len, &m, err, sizeof(err)) == 0) {
            accepted++;
            cr_assert_leq(m.nflows, 2);
            fs_msg_free(&m);
        }
        free(copy);
    }
    /* Changing a value byte often leaves a valid message: both outcomes
     * must have happened for this test to have exercised anything. */
    cr_expect_gt(accepted, 0);
    cr_expect_lt(accepted, 100000);
    fs_batch_free(b);
}

/* ---- misc ---- */

Test(msg, type_names_and_default_sender)
{
    cr_expect_str_eq(fs_msg_type_name(FS_MSG_FLOWS), "flows");
    cr_expect_str_eq(fs_msg_type_name(FS_MSG_STATS), "stats");
    cr_expect_null(fs_msg_type_name((enum fs_msg_type)0));

    char buf[FS_MSG_SENDER_MAX];
    cr_assert_eq(fs_msg_default_sender("collector", buf, sizeof(buf)), 0);
    cr_expect_eq(strncmp(buf, "collector@", 10), 0, "%s", buf);
    cr_expect_gt(strlen(buf), 10);
    cr_expect_eq(fs_msg_default_sender("collector", buf, 5), -1);
}

/* ---- sequence gap tracker ---- */

Test(gap, sequence_story)
{
    struct fs_gap *g = fs_gap_new(0);
    uint64_t lost;
    cr_assert_not_null(g);

    cr_expect_eq(fs_gap_check(g, "a", FS_MSG_FLOWS, 0, &lost), FS_GAP_NEW);
    cr_expect_eq(fs_gap_check(g, "a", FS_MSG_FLOWS, 1, &lost), FS_GAP_OK);
    cr_expect_eq(fs_gap_check(g, "a", FS_MSG_FLOWS, 2, &lost), FS_GAP_OK);
    /* 3 and 4 missing */
    cr_expect_eq(fs_gap_check(g, "a", FS_MSG_FLOWS, 5, &lost), FS_GAP_LOST);
    cr_expect_eq(lost, 2);
    cr_expect_eq(fs_gap_totals(g)->lost, 2);
    /* 3 arrives late: reordered, one fewer lost */
    cr_expect_eq(fs_gap_check(g, "a", FS_MSG_FLOWS, 3, &lost), FS_GAP_REORDERED);
    cr_expect_eq(lost, 0);
    cr_expect_eq(fs_gap_totals(g)->lost, 1);
    cr_expect_eq(fs_gap_check(g, "a", FS_MSG_FLOWS, 5, NULL), FS_GAP_DUPLICATE);
    cr_expect_eq(fs_gap_check(g, "a", FS_MSG_FLOWS, 6, NULL), FS_GAP_OK);
    /* Another type from the same sender is its own stream. */
    cr_expect_eq(fs_gap_check(g, "a", FS_MSG_STATS, 40, NULL), FS_GAP_NEW);
    cr_expect_eq(fs_gap_check(g, "b", FS_MSG_FLOWS, 0, NULL), FS_GAP_NEW);
    cr_expect_eq(fs_gap_check(g, "a", FS_MSG_FLOWS, 7, NULL), FS_GAP_OK);
    /* The sender restarts from 0. */
    cr_expect_eq(fs_gap_check(g, "a", FS_MSG_FLOWS, 0, NULL), FS_GAP_RESTART);
    cr_expect_eq(fs_gap_check(g, "a", FS_MSG_FLOWS, 1, NULL), FS_GAP_OK);

    const struct fs_gap_counters *t = fs_gap_totals(g);
    cr_expect_eq(t->messages, 12);
    cr_expect_eq(t->lost, 1);
    cr_expect_eq(t->reordered, 1);
    cr_expect_eq(t->duplicates, 1);
    cr_expect_eq(t->restarts, 1);
    cr_expect_eq(t->senders, 3);
    cr_expect_eq(t->evicted, 0);
    fs_gap_free(g);
}

Test(gap, far_behind_is_a_restart)
{
    struct fs_gap *g = fs_gap_new(4);
    fs_gap_check(g, "a", FS_MSG_FLOWS, 5000, NULL);
    cr_expect_eq(fs_gap_check(g, "a", FS_MSG_FLOWS, 5001 - FS_GAP_REORDER_WINDOW - 1, NULL),
                 FS_GAP_RESTART);
    fs_gap_check(g, "a", FS_MSG_FLOWS, 5000, NULL); /* forward again: lost */
    cr_expect_eq(fs_gap_check(g, "a", FS_MSG_FLOWS, 5001 - FS_GAP_REORDER_WINDOW, NULL),
                 FS_GAP_REORDERED);
    fs_gap_free(g);
}

Test(gap, bounded_senders)
{
    struct fs_gap *g = fs_gap_new(2);
    cr_expect_eq(fs_gap_check(g, "a", FS_MSG_FLOWS, 0, NULL), FS_GAP_NEW);
    cr_expect_eq(fs_gap_check(g, "b", FS_MSG_FLOWS, 0, NULL), FS_GAP_NEW);
    cr_expect_eq(fs_gap_check(g, "a", FS_MSG_FLOWS, 1, NULL), FS_GAP_OK);
    /* "b" is the least recent: forgotten for "c". */
    cr_expect_eq(fs_gap_check(g, "c", FS_MSG_FLOWS, 0, NULL), FS_GAP_NEW);
    cr_expect_eq(fs_gap_check(g, "a", FS_MSG_FLOWS, 2, NULL), FS_GAP_OK);
    cr_expect_eq(fs_gap_check(g, "c", FS_MSG_FLOWS, 1, NULL), FS_GAP_OK);
    cr_expect_eq(fs_gap_check(g, "b", FS_MSG_FLOWS, 1, NULL), FS_GAP_NEW);
    cr_expect_eq(fs_gap_totals(g)->evicted, 2);
    cr_expect_eq(fs_gap_totals(g)->senders, 4);

    /* Many senders through a small table: every lookup still finds its own. */
    struct fs_gap *h = fs_gap_new(64);
    char name[16];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 64; i++) {
            snprintf(name, sizeof(name), "s%d", i);
            cr_expect_eq(fs_gap_check(h, name, FS_MSG_FLOWS, (uint64_t)round, NULL),
                         round ? FS_GAP_OK : FS_GAP_NEW, "%s round %d", name, round);
        }
    }
    cr_expect_eq(fs_gap_totals(h)->evicted, 0);
    fs_gap_free(h);

    /* An id longer than a message can carry is still one stream. */
    char long_id[100];
    memset(long_id, 'z', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    struct fs_gap *l = fs_gap_new(0);
    cr_expect_eq(fs_gap_check(l, long_id, FS_MSG_FLOWS, 0, NULL), FS_GAP_NEW);
    cr_expect_eq(fs_gap_check(l, long_id, FS_MSG_FLOWS, 1, NULL), FS_GAP_OK);
    fs_gap_free(l);
    fs_gap_free(g);
}
