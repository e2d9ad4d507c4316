/*
 * test_msg_onepass.c - fs_msg_decode() reads a flow batch laid out as the
 * batch writer lays it out in one pass, and everything else the general
 * way: both give the same flows, and damage that only the whole-message
 * walk would notice is still refused.
 */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "flowfix.h"
#include "msg.h"

/* A finished batch of `n` copies of flowfix_full() with the source port
 * counting up; the message stays valid until the batch is freed. */
static struct fs_batch *full_batch(size_t n, const void **buf, size_t *len)
{
    struct fs_batch *b = fs_batch_new("test@onepass");
    struct fs_flow f;

    cr_assert_not_null(b);
    for (size_t i = 0; i < n; i++) {
        flowfix_full(&f);
        f.src_port = (uint16_t)(1000 + i);
        cr_assert_eq(fs_batch_add(b, &f), 0);
    }
    cr_assert_eq(fs_batch_finish(b, buf, len), 0);
    return b;
}

/* Decodes an exact-size heap copy, so that ASan sees any over-read. */
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

static void pstr(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

Test(msg_onepass, flows_before_the_envelope_decode_the_same)
{
    const void *buf;
    size_t len;
    struct fs_batch *b = full_batch(3, &buf, &len);
    struct fs_msg want, got;
    char err[256] = "";
    msgpack_sbuffer sb;
    msgpack_packer pk;
    const uint8_t *flows;

    cr_assert_eq(decode_copy(buf, len, &want, err, sizeof(err)), 0, "%s", err);
    /* The same flows, copied byte for byte from after the batch's "flows"
     * key, in a map that has them first. */
    flows = memmem(buf, len, "\xa5" "flows\xdd", 7);
    cr_assert_not_null(flows);
    flows += 6;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pstr(&pk, "flows");
    msgpack_sbuffer_write(&sb, (const char *)flows, len - (size_t)(flows - (const uint8_t *)buf));
    pstr(&pk, "type");
    pstr(&pk, "flows");
    pstr(&pk, "v");
    msgpack_pack_uint64(&pk, FS_MSG_VERSION);
    pstr(&pk, "sender");
    pstr(&pk, "test@onepass");
    pstr(&pk, "seq");
    msgpack_pack_uint64(&pk, 0);
    cr_assert_eq(decode_copy(sb.data, sb.size, &got, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(got.nflows, 3);
    cr_assert_eq(got.seq, want.seq);
    cr_assert_str_eq(got.sender, want.sender);
    cr_assert_arr_eq(got.flows, want.flows, 3 * sizeof(*got.flows));
    fs_msg_free(&got);
    fs_msg_free(&want);
    msgpack_sbuffer_destroy(&sb);
    fs_batch_free(b);
}

/* A key that is not an integer but claims a container longer than the
 * message: decoding the flows alone could step over its header and read
 * on; the message is truncated and must be refused as such. */
Test(msg_onepass, a_key_claiming_more_than_the_message_is_refused)
{
    const void *buf;
    size_t len;
    struct fs_batch *b = full_batch(2, &buf, &len);
    struct fs_msg m;
    char err[256] = "";
    uint8_t *copy = malloc(len);
    uint8_t *domain;

    cr_assert_not_null(copy);
    memcpy(copy, buf, len);
    /* The second flow's domain key (149: cc 95) becomes an array16 header
     * claiming 0x95cc items. */
    domain = memmem(copy + len / 2, len - len / 2, "\xcc\x95", 2);
    cr_assert_not_null(domain);
    domain[0] = 0xdc;
    cr_assert_eq(decode_copy(copy, len, &m, err, sizeof(err)), -1, "accepted");
    cr_assert_not_null(strstr(err, "truncated"), "%s", err);
    free(copy);
    fs_batch_free(b);
}

/* Every byte changed to every value: whatever is accepted is a whole
 * message, and never read past (ASan). */
Test(msg_onepass, every_byte_changed)
{
    const void *buf;
    size_t len;
    struct fs_batch *b = full_batch(2, &buf, &len);
    uint8_t *copy = malloc(len);
    size_t accepted = 0, refused = 0;

    cr_assert_not_null(copy);
    for (size_t at = 0; at < len; at++) {
        for (unsigned v = 0; v < 256; v++) {
            struct fs_msg m;
            char err[256];

            memcpy(copy, buf, len);
            copy[at] = (uint8_t)v;
            if (decode_copy(copy, len, &m, err, sizeof(err)) == 0) {
                cr_assert_leq(m.nflows, 2);
                fs_msg_free(&m);
                accepted++;
            } else {
                cr_assert_gt(strlen(err), 0);
                refused++;
            }
        }
    }
    cr_assert_gt(accepted, len, "each byte's own value at least");
    cr_assert_gt(refused, 0);
    free(copy);
    fs_batch_free(b);
}
