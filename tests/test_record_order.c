/*
 * test_record_order.c - templates whose records have one layout are decoded
 * a kind of field at a time, not field by field: the result must be the
 * same as in template order, where two fields write the same flow field (the
 * last one wins) and where the fields are many, mixed and oddly sized; and
 * the same record behind a variable-length field, decoded field by field,
 * must give the same flow.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tplwire.h"

#define NOW_MS UINT64_C(1700000000000)
#define SECS 1700000000u

TW_SUITE(record_order);

static int decode(void)
{
    return tw_decode(dec, w, NOW_MS, sink);
}

/* packetDeltaCount twice, 4 then 8 bytes wide: different kinds of op, the
 * 8-byte one last in the template, so it wins. */
Test(record_order, an_element_sent_twice_the_last_wins)
{
    tw_ipfix(w, SECS, 0, 1);
    tw_set(w, 2);
    TW_TPL(w, 256, { 2, 8 }, { 8, 4 }, { 2, 4 }, { 2, 8 }, { 4, 1 });
    tw_set(w, 256);
    tw_u64(w, 111);
    tw_ip(w, "192.0.2.1");
    tw_u32(w, 222);
    tw_u64(w, 333);
    tw_u8(w, 6);
    tw_end(w);
    cr_assert_eq(decode(), 1);
    cr_expect_eq(sink->flows[0].packets, 333);
    cr_expect_eq(sink->flows[0].proto, 6);

    tw_ipfix(w, SECS, 1, 1);
    tw_set(w, 2);
    TW_TPL(w, 257, { 2, 8 }, { 2, 4 });
    tw_set(w, 257);
    tw_u64(w, 444);
    tw_u32(w, 555);
    tw_end(w);
    cr_assert_eq(decode(), 1);
    cr_expect_eq(sink->flows[1].packets, 555, "the 4-byte one, last here, wins");
}

/* icmpTypeCodeIPv4 (type << 8 | code) and icmpTypeIPv4 write the same byte:
 * whichever comes last in the template gives the type. */
Test(record_order, icmp_type_in_two_forms_keeps_template_order)
{
    tw_ipfix(w, SECS, 0, 1);
    tw_set(w, 2);
    TW_TPL(w, 256, { 32, 2 }, { 176, 1 });
    TW_TPL(w, 257, { 176, 1 }, { 32, 2 });
    tw_set(w, 256);
    tw_u16(w, 0x0801);
    tw_u8(w, 3);
    tw_set(w, 257);
    tw_u8(w, 3);
    tw_u16(w, 0x0801);
    tw_end(w);
    cr_assert_eq(decode(), 2);
    cr_expect_eq(sink->flows[0].icmp_type, 3);
    cr_expect_eq(sink->flows[0].icmp_code, 1);
    cr_expect_eq(sink->flows[1].icmp_type, 8);
    cr_expect_eq(sink->flows[1].icmp_code, 1);
}

/* Writes the record of the mixed template below: counters of 1 to 8 bytes,
 * addresses of both families, MACs, MPLS entries, times, an element the
 * collector does not map, in an order that mixes the kinds of op. */
static void mixed_record(uint32_t i)
{
    uint8_t mac[6] = { 0x02, 0, 0, 0, 0, (uint8_t)i };

    tw_u8(w, 6);
    tw_ip(w, "2001:db8::1");
    tw_u32(w, 1000 + i);         /* packets, 4 bytes */
    tw_bytes(w, mac, 6);
    tw_u16(w, 443);
    tw_u24(w, (16 + i) << 4 | 1); /* MPLS top entry, bottom of stack */
    tw_zero(w, 3);               /* unmapped, 3 bytes */
    tw_u64(w, NOW_MS - 5000);
    tw_ip(w, "192.0.2.7");
    tw_u8(w, 0x12);
    tw_u64(w, 99999 + i);        /* bytes, 8 bytes */
    tw_u64(w, NOW_MS - 1000);
    tw_u16(w, 52000 + (uint16_t)i);
    tw_u32(w, 7);                /* in_if */
    tw_u16(w, 64500);            /* src AS, 2 bytes */
    tw_u8(w, 24);
    tw_ip(w, "2001:db8::2");
}

#define MIXED_FIELDS                                                                  \
    { 4, 1 }, { 27, 16 }, { 2, 4 }, { 56, 6 }, { 11, 2 }, { 70, 3 }, { 999, 3 },      \
    { 152, 8 }, { 15, 4 }, { 6, 1 }, { 1, 8 }, { 153, 8 }, { 7, 2 }, { 10, 4 },        \
    { 16, 2 }, { 9, 1 }, { 28, 16 }

Test(record_order, grouped_and_field_by_field_agree)
{
    char a[FS_FLOW_JSON_MAX], b[FS_FLOW_JSON_MAX];

    /* Template 256 has one layout and is decoded a kind of field at a time;
     * 257 is the same fields behind a variable-length one (an empty
     * applicationName, IE 96) and goes field by field. */
    tw_ipfix(w, SECS, 0, 1);
    tw_set(w, 2);
    TW_TPL(w, 256, MIXED_FIELDS);
    TW_TPL(w, 257, { 96, 65535 }, MIXED_FIELDS);
    tw_set(w, 256);
    for (uint32_t i = 0; i < 3; i++)
        mixed_record(i);
    tw_set(w, 257);
    for (uint32_t i = 0; i < 3; i++) {
        tw_u8(w, 0);
        mixed_record(i);
    }
    tw_end(w);
    cr_assert_eq(decode(), 6);
    for (size_t i = 0; i < 3; i++) {
        const struct fs_flow *g = &sink->flows[i], *s = &sink->flows[i + 3];

        fs_flow_json(g, a, sizeof(a));
        fs_flow_json(s, b, sizeof(b));
        cr_expect_str_eq(a, b);
        cr_expect_eq(g->present, s->present);
        cr_expect_eq(g->packets, 1000 + i);
        cr_expect_eq(g->bytes, 99999 + i);
        cr_expect_eq(g->mpls[0], (16 + i) << 4 | 1);
        cr_expect_eq(g->src_mac[5], i);
        cr_expect_eq(g->src_as, 64500);
        cr_expect_eq(g->start_ms, NOW_MS - 5000);
    }
}
