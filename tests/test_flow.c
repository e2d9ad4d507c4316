/*
 * test_flow.c - the flow record's text forms: fs_ip_format/fs_ip_parse and
 * fs_flow_json (names, order and values as HELPER_BRIEF/docs/messages.md
 * list them), read back with jansson.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "flow.h"
#include "flowfix.h"

static json_t *parse_flags(const char *text, size_t flags)
{
    json_error_t e;
    json_t *j = json_loads(text, flags, &e);
    cr_assert_not_null(j, "not JSON (%s): %s", e.text, text);
    cr_assert(json_is_object(j));
    return j;
}

static json_t *parse(const char *text)
{
    return parse_flags(text, 0);
}

static void expect_int(json_t *j, const char *key, json_int_t want)
{
    json_t *v = json_object_get(j, key);
    cr_assert(json_is_integer(v), "%s missing or not an integer", key);
    cr_expect_eq(json_integer_value(v), want, "%s = %lld, want %lld", key,
                 (long long)json_integer_value(v), (long long)want);
}

static void expect_str(json_t *j, const char *key, const char *want)
{
    json_t *v = json_object_get(j, key);
    cr_assert(json_is_string(v), "%s missing or not a string", key);
    cr_expect_str_eq(json_string_value(v), want, "%s", key);
}

/* The order of HELPER_BRIEF.md. */
static const char *const key_order[] = {
    "exporter", "version", "domain", "src_addr", "dst_addr", "src_port", "dst_port",
    "proto", "tos", "tcp_flags", "packets", "bytes", "in_if", "out_if", "start_ms",
    "end_ms", "sampling_rate", "sampling_unknown", "sampler_id", "next_hop",
    "bgp_next_hop", "src_as", "dst_as", "src_mask", "dst_mask", "src_vlan", "dst_vlan",
    "src_mac", "dst_mac", "mpls_labels", "direction", "fwd_status", "icmp_type",
    "icmp_code", "post_src_addr", "post_dst_addr", "post_src_port", "post_dst_port",
    "ip_version", "rev_packets", "rev_bytes", "rev_tos", "rev_tcp_flags", "time_clamped",
    "flow_id", "uid",
};
#define NKEYS (sizeof(key_order) / sizeof(key_order[0]))

Test(flow_json, every_field)
{
    struct fs_flow f;
    char out[FS_FLOW_JSON_MAX];
    flowfix_full(&f);

    int n = fs_flow_json(&f, out, sizeof(out));
    cr_assert_gt(n, 0);
    cr_expect_eq((size_t)n, strlen(out));
    cr_expect_null(strchr(out, '\n'), "not a single line");

    json_t *j = parse(out);
    cr_expect_eq(json_object_size(j), NKEYS);
    expect_str(j, "exporter", "192.0.2.1");
    expect_int(j, "version", 10);
    expect_int(j, "domain", 4000000000);
    expect_str(j, "src_addr", "198.51.100.7");
    expect_str(j, "dst_addr", "2001:db8::25");
    expect_int(j, "src_port", 51234);
    expect_int(j, "dst_port", 443);
    expect_int(j, "proto", 6);
    expect_int(j, "tos", 184);
    expect_int(j, "tcp_flags", 27);
    expect_int(j, "packets", 5000000000);
    expect_int(j, "bytes", 9007199254740993);
    expect_int(j, "in_if", 7);
    expect_int(j, "out_if", 4294967295);
    expect_int(j, "start_ms", 1700000000250);
    expect_int(j, "end_ms", 1700000009999);
    expect_int(j, "sampling_rate", 1000);
    cr_expect(json_is_true(json_object_get(j, "sampling_unknown")));
    expect_int(j, "sampler_id", 2);
    expect_str(j, "next_hop", "203.0.113.254");
    expect_str(j, "bgp_next_hop", "2001:db8:ffff::1");
    expect_int(j, "src_as", 64500);
    expect_int(j, "dst_as", 4200000000);
    expect_int(j, "src_mask", 24);
    expect_int(j, "dst_mask", 64);
    expect_int(j, "src_vlan", 100);
    expect_int(j, "dst_vlan", 4094);
    expect_str(j, "src_mac", "aa:bb:cc:0d:0e:0f");
    expect_str(j, "dst_mac", "00:1b:21:ff:00:01");
    json_t *mpls = json_object_get(j, "mpls_labels");
    cr_assert(json_is_array(mpls));
    cr_assert_eq(json_array_size(mpls), 3);
    cr_expect_eq(json_integer_value(json_array_get(mpls, 0)), 16000);
    cr_expect_eq(json_integer_value(json_array_get(mpls, 1)), 24001);
    cr_expect_eq(json_integer_value(json_array_get(mpls, 2)), 3);
    expect_int(j, "direction", 1);
    expect_int(j, "fwd_status", 64);
    expect_int(j, "icmp_type", 3);
    expect_int(j, "icmp_code", 13);
    expect_str(j, "post_src_addr", "100.64.0.9");
    expect_str(j, "post_dst_addr", "203.0.113.80");
    expect_int(j, "post_src_port", 40000);
    expect_int(j, "post_dst_port", 8443);
    expect_int(j, "ip_version", 4);
    expect_int(j, "rev_packets", 12);
    expect_int(j, "rev_bytes", 3400);
    expect_int(j, "rev_tos", 32);
    expect_int(j, "rev_tcp_flags", 18);
    cr_expect(json_is_true(json_object_get(j, "time_clamped")));
    expect_int(j, "flow_id", 1234567890123456);
    expect_str(j, "uid", "CHhAvVGS1DHFjwGM9");
    json_decref(j);

    /* Keys appear in the documented order. */
    const char *prev = out;
    for (size_t i = 0; i < NKEYS; i++) {
        char quoted[40];
        snprintf(quoted, sizeof(quoted), "\"%s\":", key_order[i]);
        const char *at = strstr(out, quoted);
        cr_assert_not_null(at, "%s missing", key_order[i]);
        cr_expect_geq(at, prev, "%s out of order", key_order[i]);
        prev = at;
    }
}

Test(flow_json, mandatory_only)
{
    struct fs_flow f;
    char out[FS_FLOW_JSON_MAX];
    flowfix_minimal(&f);

    int n = fs_flow_json(&f, out, sizeof(out));
    cr_assert_str_eq(out, "{\"exporter\":\"192.0.2.1\",\"version\":5,\"domain\":258}");
    cr_expect_eq((size_t)n, strlen(out));
    json_t *j = parse(out);
    cr_expect_eq(json_object_size(j), 3);
    json_decref(j);
}

Test(flow_json, flags_alone_and_ipv6_exporter)
{
    struct fs_flow f;
    char out[FS_FLOW_JSON_MAX];
    fs_flow_init(&f);
    f.exporter = flowfix_ip("2001:db8::1");
    f.version = 9;
    f.flags = FS_FLOW_TIME_CLAMPED;
    FS_FLOW_SET(&f, FS_F_PACKETS);
    f.packets = 0;

    fs_flow_json(&f, out, sizeof(out));
    cr_expect_str_eq(out, "{\"exporter\":\"2001:db8::1\",\"version\":9,\"domain\":0,"
                          "\"packets\":0,\"time_clamped\":true}");
}

Test(flow_json, capacity)
{
    struct fs_flow f;
    char big[FS_FLOW_JSON_MAX];
    flowfix_full(&f);
    int n = fs_flow_json(&f, big, sizeof(big));
    cr_assert_gt(n, 0);

    char small[FS_FLOW_JSON_MAX];
    memset(small, 'x', sizeof(small));
    cr_expect_eq(fs_flow_json(&f, small, (size_t)n + 1), n, "exact fit refused");
    cr_expect_str_eq(small, big);
    cr_expect_eq(fs_flow_json(&f, small, (size_t)n), -1, "no room for the NUL");
    cr_expect_eq(fs_flow_json(&f, small, 10), -1);
    cr_expect_eq(fs_flow_json(&f, small, 0), -1);
}

Test(flow_json, worst_case_fits)
{
    struct fs_flow f;
    char out[FS_FLOW_JSON_MAX];
    flowfix_widest(&f);

    int n = fs_flow_json(&f, out, sizeof(out));
    cr_assert_gt(n, 0);
    cr_expect_lt(n, FS_FLOW_JSON_MAX);
    cr_expect_not_null(strstr(out, "\"mpls_labels\":[1048575,1048575,1048575,1048575,"
                                   "1048575,1048575]"));
    /* 2^64-1 is beyond jansson's integers: check the text itself. */
    cr_expect_not_null(strstr(out, "\"bytes\":18446744073709551615,"));
    json_decref(parse_flags(out, JSON_DECODE_INT_AS_REAL));
}

struct ip_case {
    const char *text;
    uint8_t af;
    uint8_t bytes[16];
};

Test(ip, format_and_parse)
{
    static const struct ip_case cases[] = {
        {"192.0.2.1", 4, {192, 0, 2, 1}},
        {"0.0.0.0", 4, {0}},
        {"255.255.255.255", 4, {255, 255, 255, 255}},
        {"10.0.100.9", 4, {10, 0, 100, 9}},
        {"2001:db8::1", 6, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}},
        {"::", 6, {0}},
        {"::1", 6, {[15] = 1}},
        {"fe80::1:2", 6, {0xfe, 0x80, [13] = 1, [15] = 2}},
        {"::ffff:192.0.2.1", 6, {[10] = 0xff, [11] = 0xff, 192, 0, 2, 1}},
        {"2001:db8:0:1:1:1:1:1", 6, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}},
    };
    char buf[FS_IP_STRLEN];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fs_ip a;
        cr_assert_eq(fs_ip_parse(cases[i].text, &a), 0, "%s", cases[i].text);
        cr_expect_eq(a.af, cases[i].af, "%s", cases[i].text);
        cr_expect_arr_eq(a.b, cases[i].bytes, cases[i].af == 4 ? 4 : 16, "%s", cases[i].text);
        cr_expect_str_eq(fs_ip_format(&a, buf), cases[i].text);
    }
}

Test(ip, rfc5952_canonical_text)
{
    /* Non-canonical input comes out in the RFC 5952 form. */
    char buf[FS_IP_STRLEN];
    fs_ip a = flowfix_ip("2001:0DB8:0000:0000:0000:0000:0000:0001");
    cr_expect_str_eq(fs_ip_format(&a, buf), "2001:db8::1");
    a = flowfix_ip("2001:db8:0:0:1:0:0:1");
    cr_expect_str_eq(fs_ip_format(&a, buf), "2001:db8::1:0:0:1");
}

Test(ip, rejects_and_unset)
{
    const char *bad[] = {"", "256.1.1.1", "1.2.3", "192.0.2.1/24", "2001:db8::1::2",
                         "example.org", " 192.0.2.1", "1.2.3.4.5", "::g"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fs_ip a;
        cr_expect_eq(fs_ip_parse(bad[i], &a), -1, "accepted \"%s\"", bad[i]);
        cr_expect_eq(a.af, 0, "\"%s\" left af set", bad[i]);
    }
    fs_ip unset = {0};
    char buf[FS_IP_STRLEN] = "junk";
    cr_expect_str_eq(fs_ip_format(&unset, buf), "");
}

Test(flow, init_clears_everything)
{
    struct fs_flow f;
    memset(&f, 0xab, sizeof(f));
    fs_flow_init(&f);
    cr_expect_eq(f.present, 0);
    cr_expect_eq(f.flags, 0);
    cr_expect_eq(f.exporter.af, 0);
    cr_expect_eq(f.mpls_count, 0);
    for (int b = 0; b < FS_F_COUNT; b++)
        cr_expect_not(FS_FLOW_HAS(&f, b));
}
