/*
 * test_flowids.c - the identifiers other tools give a flow (Zeek's uid,
 * Suricata's flow_id): their JSON form (escaped), their msgpack keys (148
 * and -3, docs/messages.md) read back exactly, the worst case still within
 * FS_FLOW_JSON_MAX, and a -3 of the wrong kind refused with its reason.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <msgpack.h>
#include <string.h>

#include "flowfix.h"
#include "msg.h"

static void round_trip(const struct fs_flow *f, struct fs_msg *m)
{
    struct fs_batch *b = fs_batch_new("sensor@test");
    const void *buf;
    size_t len;
    char err[200];

    cr_assert_not_null(b);
    cr_assert_eq(fs_batch_add(b, f), 0);
    cr_assert_eq(fs_batch_finish(b, &buf, &len), 0);
    cr_assert_eq(fs_msg_decode(buf, len, m, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(m->nflows, 1);
    fs_batch_free(b);
}

Test(flowids, round_trip_and_json)
{
    struct fs_flow f;
    struct fs_msg m;
    char a[FS_FLOW_JSON_MAX], b[FS_FLOW_JSON_MAX];

    flowfix_minimal(&f);
    f.flow_id = UINT64_MAX;
    FS_FLOW_SET(&f, FS_F_FLOW_ID);
    strcpy(f.uid, "CHhAvVGS1DHFjwGM9");
    FS_FLOW_SET(&f, FS_F_UID);
    round_trip(&f, &m);
    cr_expect_eq(m.flows[0].flow_id, UINT64_MAX);
    cr_expect_str_eq(m.flows[0].uid, "CHhAvVGS1DHFjwGM9");
    cr_expect_eq(m.flows[0].present, f.present);
    fs_flow_json(&f, a, sizeof(a));
    fs_flow_json(&m.flows[0], b, sizeof(b));
    cr_expect_str_eq(a, b);
    cr_expect_not_null(strstr(a, ",\"flow_id\":18446744073709551615,\"uid\":\"CHhAvVGS1DHFjwGM9\"}"),
                       "%s", a);
    fs_msg_free(&m);

    /* Absent: neither key is written. */
    flowfix_minimal(&f);
    round_trip(&f, &m);
    cr_expect_not(FS_FLOW_HAS(&m.flows[0], FS_F_UID));
    cr_expect_not(FS_FLOW_HAS(&m.flows[0], FS_F_FLOW_ID));
    fs_flow_json(&f, a, sizeof(a));
    cr_expect_null(strstr(a, "uid"));
    fs_msg_free(&m);
}

Test(flowids, uid_escaped_in_json_and_worst_case_fits)
{
    struct fs_flow f;
    struct fs_msg m;
    char out[FS_FLOW_JSON_MAX];

    /* Every field at its longest, and a uid of bytes that all need \u00XX. */
    flowfix_widest(&f);
    int n = fs_flow_json(&f, out, sizeof(out));
    cr_assert_gt(n, 0);
    cr_expect_lt(n, FS_FLOW_JSON_MAX);
    /* 2^64-1 is beyond jansson's integers: read them as reals. */
    json_error_t e;
    json_t *j = json_loads(out, JSON_DECODE_INT_AS_REAL, &e);
    cr_assert_not_null(j, "not JSON: %s", e.text);
    cr_expect_eq(strlen(json_string_value(json_object_get(j, "uid"))), FS_FLOW_UID_MAX - 1);
    json_decref(j);
    round_trip(&f, &m);
    cr_expect_arr_eq(m.flows[0].uid, f.uid, FS_FLOW_UID_MAX);
    fs_msg_free(&m);

    /* Quotes, backslashes and bytes above ASCII, read back by jansson. */
    flowfix_minimal(&f);
    strcpy(f.uid, "a\"b\\c\xc3\xa9");
    FS_FLOW_SET(&f, FS_F_UID);
    fs_flow_json(&f, out, sizeof(out));
    cr_expect_not_null(strstr(out, "\"uid\":\"a\\\"b\\\\c\\u00c3\\u00a9\""), "%s", out);
    j = json_loads(out, 0, &e);
    cr_assert_not_null(j, "not JSON: %s", e.text);
    json_decref(j);
}

/* A flows message with one flow holding -3 packed by `pack_uid`. */
static void refused(void (*pack_uid)(msgpack_packer *), const char *want)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct fs_msg m;
    char err[200] = "";

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    msgpack_pack_str_with_body(&pk, "type", 4);
    msgpack_pack_str_with_body(&pk, "flows", 5);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint8(&pk, 1);
    msgpack_pack_str_with_body(&pk, "sender", 6);
    msgpack_pack_str_with_body(&pk, "t@h", 3);
    msgpack_pack_str_with_body(&pk, "seq", 3);
    msgpack_pack_uint8(&pk, 0);
    msgpack_pack_str_with_body(&pk, "flows", 5);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_int(&pk, -1);
    msgpack_pack_uint8(&pk, 0);
    msgpack_pack_int(&pk, -3);
    pack_uid(&pk);
    cr_expect_eq(fs_msg_decode(sb.data, sb.size, &m, err, sizeof(err)), -1);
    cr_expect_str_eq(err, want);
    msgpack_sbuffer_destroy(&sb);
}

static void uid_int(msgpack_packer *pk) { msgpack_pack_uint32(pk, 7); }
static void uid_long(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "C23456789012345678901234", 24); }
static void uid_nul(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "C\0x", 3); }
static void uid_bin(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, "Cabc", 4); }

Test(flowids, bad_uid_refused)
{
    const char *why = "flow 0: key -3 is not a string of at most 23 bytes";
    refused(uid_int, why);
    refused(uid_long, why);
    refused(uid_nul, why);
    refused(uid_bin, why);
}
