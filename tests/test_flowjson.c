/*
 * test_flowjson.c - fs_flow_parse_json(), the inverse of fs_flow_json().
 *
 * The oracle is jansson: a line read by fs_flow_parse_json() and written
 * again by fs_flow_json() must be the same JSON value as the original, for
 * the tshark-made expected files (spaces after separators, written by
 * Python) and the collector's own --json output. Strictness and robustness
 * are checked on hand-written lines, every truncation and random damage.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow.h"
#include "rng.h"

static char err[256];

/* Parses `line`, writes it again and checks jansson sees the same value. */
static void check_roundtrip(const char *line, size_t len, const char *where)
{
    struct fs_flow f;
    char out[FS_FLOW_JSON_MAX];
    json_t *a, *b;
    json_error_t je;

    cr_assert_eq(fs_flow_parse_json(line, len, &f, err, sizeof(err)), 0, "%s: %s: %.*s", where,
                 err, (int)len, line);
    cr_assert_gt(fs_flow_json(&f, out, sizeof(out)), 0);
    a = json_loadb(line, len, 0, &je);
    cr_assert_not_null(a, "%s: jansson: %s", where, je.text);
    b = json_loads(out, 0, &je);
    cr_assert_not_null(b, "%s: jansson on our output: %s", where, je.text);
    cr_assert(json_equal(a, b), "%s:\n  in:  %.*s\n  out: %s", where, (int)len, line, out);
    json_decref(a);
    json_decref(b);
}

static size_t roundtrip_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;

    cr_assert_not_null(fp, "%s", path);
    while ((len = getline(&line, &cap, fp)) > 0) {
        char where[600];

        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        snprintf(where, sizeof(where), "%s:%zu", path, n + 1);
        check_roundtrip(line, (size_t)len, where);
        n++;
    }
    free(line);
    fclose(fp);
    return n;
}

Test(flowjson, tshark_expected_files_round_trip)
{
    const char *dir = FS_SOURCE_DIR "/tests/fixtures/expected";
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t files = 0, lines = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char path[512];

        if (n < 6 || strcmp(e->d_name + n - 6, ".jsonl") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        lines += roundtrip_file(path);
        files++;
    }
    closedir(d);
    cr_assert_gt(files, 10);
    cr_assert_gt(lines, 300);
}

Test(flowjson, collector_output_round_trips_byte_for_byte)
{
    FILE *fp = fopen(FS_SOURCE_DIR "/tests/fixtures/nfdump/sample.jsonl", "r");
    char *line = NULL, out[FS_FLOW_JSON_MAX];
    size_t cap = 0, n = 0;
    ssize_t len;
    struct fs_flow f;

    cr_assert_not_null(fp);
    while ((len = getline(&line, &cap, fp)) > 0) {
        line[--len] = '\0';
        cr_assert_eq(fs_flow_parse_json(line, (size_t)len, &f, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(fs_flow_json(&f, out, sizeof(out)), len);
        cr_assert_str_eq(out, line);
        n++;
    }
    cr_assert_eq(n, 399);
    free(line);
    fclose(fp);
}

/* Every field, the largest values, IPv6 everywhere, a uid needing escapes. */
static void maximal_flow(struct fs_flow *f)
{
    fs_flow_init(f);
    f->present = (UINT64_C(1) << FS_F_COUNT) - 1;
    f->flags = FS_FLOW_SAMPLING_UNKNOWN | FS_FLOW_TIME_CLAMPED;
    f->version = 65535;
    f->domain = UINT32_MAX;
    fs_ip_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", &f->exporter);
    fs_ip_parse("2001:db8::1", &f->src_addr);
    fs_ip_parse("::ffff:192.0.2.1", &f->dst_addr);
    fs_ip_parse("fe80::1", &f->next_hop);
    fs_ip_parse("255.255.255.255", &f->bgp_next_hop);
    fs_ip_parse("0.0.0.0", &f->post_src_addr);
    fs_ip_parse("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", &f->post_dst_addr);
    f->src_port = f->dst_port = f->post_src_port = f->post_dst_port = 65535;
    f->proto = f->tos = f->tcp_flags = f->ip_version = 255;
    f->src_mask = f->dst_mask = f->direction = f->fwd_status = 255;
    f->icmp_type = f->icmp_code = 255;
    f->src_vlan = f->dst_vlan = 65535;
    memset(f->src_mac, 0xff, 6);
    memcpy(f->dst_mac, "\x00\x1b\x21\xab\xcd\xef", 6);
    f->mpls_count = FS_FLOW_MPLS_MAX;
    for (int i = 0; i < FS_FLOW_MPLS_MAX; i++)
        f->mpls[i] = (uint32_t)(0xfffff - i) << 4;
    f->mpls[FS_FLOW_MPLS_MAX - 1] |= 1;
    f->packets = f->bytes = f->start_ms = f->end_ms = UINT64_MAX;
    f->rev_packets = f->rev_bytes = f->flow_id = UINT64_MAX;
    f->in_if = f->out_if = f->src_as = f->dst_as = UINT32_MAX;
    f->sampling_rate = f->sampler_id = UINT32_MAX;
    f->rev_tos = f->rev_tcp_flags = 255;
    memcpy(f->uid, "C\"q\\\x01\x7f\xff" "0123456789abcdef", FS_FLOW_UID_MAX - 1);
    f->uid[FS_FLOW_UID_MAX - 1] = '\0';
}

Test(flowjson, maximal_flow_comes_back_field_for_field)
{
    struct fs_flow f, g;
    char out[FS_FLOW_JSON_MAX];
    int n;

    maximal_flow(&f);
    n = fs_flow_json(&f, out, sizeof(out));
    cr_assert_gt(n, 0);
    cr_assert_eq(fs_flow_parse_json(out, (size_t)n, &g, err, sizeof(err)), 0, "%s: %s", err, out);
    cr_assert_eq(g.present, f.present);
    cr_assert_eq(g.flags, f.flags);
    cr_assert_eq(g.version, 65535);
    cr_assert_eq(g.domain, UINT32_MAX);
    cr_assert_arr_eq(&g.exporter, &f.exporter, sizeof(fs_ip));
    cr_assert_arr_eq(&g.dst_addr, &f.dst_addr, sizeof(fs_ip));
    cr_assert_arr_eq(&g.post_src_addr, &f.post_src_addr, sizeof(fs_ip));
    cr_assert_arr_eq(g.dst_mac, "\x00\x1b\x21\xab\xcd\xef", 6);
    cr_assert_eq(g.mpls_count, FS_FLOW_MPLS_MAX);
    cr_assert_arr_eq(g.mpls, f.mpls, sizeof(f.mpls), "labels, bottom of stack on the last");
    cr_assert_eq(g.packets, UINT64_MAX);
    cr_assert_eq(g.flow_id, UINT64_MAX);
    cr_assert_eq(g.sampler_id, UINT32_MAX);
    cr_assert_str_eq(g.uid, f.uid);
    cr_assert_eq(memcmp(&f, &g, sizeof(f)), 0, "every byte of the record");
}

static uint64_t rng = 88172645463325252ull;

/* A value of `bits` random bits, biased to the edges. */
static uint64_t rval(unsigned bits)
{
    uint64_t mask = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;

    switch (trng_next(&rng) % 4) {
    case 0: return 0;
    case 1: return mask;
    default: return trng_next(&rng) & mask;
    }
}

static void random_ip(fs_ip *ip)
{
    memset(ip, 0, sizeof(*ip));
    ip->af = trng_next(&rng) % 2 ? 4 : 6;
    for (int i = 0; i < (ip->af == 4 ? 4 : 16); i++)
        ip->b[i] = (uint8_t)trng_next(&rng);
}

Test(flowjson, random_flows_round_trip)
{
    for (int iter = 0; iter < 20000; iter++) {
        struct fs_flow f, g;
        char a[FS_FLOW_JSON_MAX], b[FS_FLOW_JSON_MAX];
        int n;

        fs_flow_init(&f);
        f.present = trng_next(&rng) & ((UINT64_C(1) << FS_F_COUNT) - 1);
        f.flags = (uint32_t)(trng_next(&rng) & 3);
        f.version = (uint16_t)rval(16);
        f.domain = (uint32_t)rval(32);
        random_ip(&f.exporter);
        random_ip(&f.src_addr);
        random_ip(&f.dst_addr);
        random_ip(&f.next_hop);
        random_ip(&f.post_dst_addr);
        f.src_port = (uint16_t)rval(16);
        f.proto = (uint8_t)rval(8);
        f.tcp_flags = (uint8_t)rval(8);
        f.packets = rval(64);
        f.bytes = rval(64);
        f.start_ms = rval(48);
        f.end_ms = rval(64);
        f.in_if = (uint32_t)rval(32);
        f.src_as = (uint32_t)rval(32);
        f.dst_vlan = (uint16_t)rval(12);
        for (int i = 0; i < 6; i++)
            f.src_mac[i] = (uint8_t)trng_next(&rng);
        f.mpls_count = (uint8_t)(1 + trng_next(&rng) % FS_FLOW_MPLS_MAX);
        for (int i = 0; i < f.mpls_count; i++)
            f.mpls[i] = (uint32_t)rval(20) << 4;
        f.rev_bytes = rval(64);
        f.flow_id = rval(64);
        for (int i = 0; i < (int)(trng_next(&rng) % FS_FLOW_UID_MAX); i++)
            f.uid[i] = (char)(1 + trng_next(&rng) % 255);
        n = fs_flow_json(&f, a, sizeof(a));
        cr_assert_gt(n, 0);
        cr_assert_eq(fs_flow_parse_json(a, (size_t)n, &g, err, sizeof(err)), 0, "%s: %s", err, a);
        cr_assert_eq(g.present, f.present, "%s", a);
        cr_assert_eq(fs_flow_json(&g, b, sizeof(b)), n);
        cr_assert_str_eq(a, b);
    }
}

Test(flowjson, blanks_order_and_unknown_keys)
{
    static const char line[] =
        " \t{ \"dst_port\" : 443 ,\"future\":{\"a\":[1,-2.5e+3,true,false,null,\"x\\\"y\\u00e9\"],"
        "\"b\":{}},\"src_addr\":\"192.0.2.1\", \"uid\":\"\\u0041b\\/c\",\"empty\":[],"
        "\"src\\u005fport\":\"not a port: escaped key, so unknown\",\"big\":123456789012345678901234567890,"
        "\"exporter\":\"\",\"version\":10 } \r\n";
    struct fs_flow f;

    cr_assert_eq(fs_flow_parse_json(line, sizeof(line) - 1, &f, err, sizeof(err)), 0, "%s", err);
    cr_assert(FS_FLOW_HAS(&f, FS_F_DST_PORT));
    cr_assert_eq(f.dst_port, 443);
    cr_assert_not(FS_FLOW_HAS(&f, FS_F_SRC_PORT), "an escaped key is not ours");
    cr_assert_eq(f.src_addr.af, 4);
    cr_assert_arr_eq(f.src_addr.b, "\xc0\x00\x02\x01", 4);
    cr_assert_str_eq(f.uid, "Ab/c");
    cr_assert_eq(f.exporter.af, 0, "\"\" is the unset exporter");
    cr_assert_eq(f.version, 10);
    cr_assert_eq(fs_flow_parse_json("{}", 2, &f, err, sizeof(err)), 0);
    cr_assert_eq(f.present, 0);
}

Test(flowjson, flags_and_mpls_details)
{
    static const char line[] = "{\"sampling_unknown\":false,\"time_clamped\":true,"
                               "\"mpls_labels\":[ 16001 , 0 ]}";
    struct fs_flow f;

    cr_assert_eq(fs_flow_parse_json(line, sizeof(line) - 1, &f, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(f.flags, FS_FLOW_TIME_CLAMPED);
    cr_assert_eq(f.mpls_count, 2);
    cr_assert_eq(f.mpls[0], 16001u << 4);
    cr_assert_eq(f.mpls[1], 1u, "label 0, bottom of stack");
    cr_assert_eq(fs_flow_parse_json("{\"mpls_labels\":[]}", 18, &f, err, sizeof(err)), 0);
    cr_assert(FS_FLOW_HAS(&f, FS_F_MPLS));
    cr_assert_eq(f.mpls_count, 0);
}

static void refused(const char *line, const char *want)
{
    struct fs_flow f;

    err[0] = '\0';
    cr_assert_eq(fs_flow_parse_json(line, strlen(line), &f, err, sizeof(err)), -1,
                 "accepted: %s", line);
    cr_assert_not_null(strstr(err, want), "%s\n  error: %s\n  wanted: %s", line, err, want);
}

Test(flowjson, strict_about_types_and_ranges)
{
    refused("{\"src_port\":\"80\"}", "src_port: a string where a number was expected");
    refused("{\"src_port\":80.0}", "src_port: not an integer");
    refused("{\"src_port\":8e1}", "src_port: not an integer");
    refused("{\"src_port\":-1}", "src_port: negative number");
    refused("{\"src_port\":65536}", "src_port: 65536 is out of range (0..65535)");
    refused("{\"proto\":256}", "proto: 256 is out of range (0..255)");
    refused("{\"in_if\":4294967296}", "in_if: 4294967296 is out of range (0..4294967295)");
    refused("{\"bytes\":18446744073709551616}", "bytes: number too large");
    refused("{\"packets\":007}", "packets: number with a leading zero");
    refused("{\"packets\":true}", "packets: not a number");
    refused("{\"packets\":null}", "packets: not a number");
    refused("{\"packets\":[1]}", "packets: not a number");
    refused("{\"packets\":}", "packets: '}' where a number was expected");
    refused("{\"src_addr\":3232235777}", "src_addr: expected an address string");
    refused("{\"src_addr\":\"192.0.2.256\"}", "src_addr: '192.0.2.256' is not an IP address");
    refused("{\"src_addr\":\"192.0.2.01\"}", "is not an IP address");
    refused("{\"dst_addr\":\"2001:db8::1::2\"}", "is not an IP address");
    refused("{\"dst_addr\":\"host.example\"}", "is not an IP address");
    refused("{\"next_hop\":\"0123456789012345678901234567890123456789012345678\"}",
            "next_hop: string longer than 45 bytes");
    refused("{\"src_mac\":\"aa:bb:cc:dd:ee\"}", "src_mac: 'aa:bb:cc:dd:ee' is not a MAC");
    refused("{\"src_mac\":\"aa-bb-cc-dd-ee-ff\"}", "is not a MAC address");
    refused("{\"src_mac\":\"gg:bb:cc:dd:ee:ff\"}", "is not a MAC address");
    refused("{\"mpls_labels\":16001}", "mpls_labels: expected an array of labels");
    refused("{\"mpls_labels\":[1,2,3,4,5,6,7]}", "mpls_labels: more than 6 labels");
    refused("{\"mpls_labels\":[1048576]}", "mpls_labels: 1048576 is out of range (0..1048575)");
    refused("{\"mpls_labels\":[1 2]}", "mpls_labels: '2' where ',' or ']' was expected");
    refused("{\"sampling_unknown\":1}", "sampling_unknown: expected true or false");
    refused("{\"time_clamped\":tru}", "time_clamped: 't' where a value was expected");
    refused("{\"uid\":42}", "uid: expected a string");
    refused("{\"uid\":\"012345678901234567890123\"}", "uid: string longer than 23 bytes");
    refused("{\"uid\":\"a\\u0000b\"}", "uid: NUL byte inside the uid");
    refused("{\"src_port\":1,\"src_port\":2}", "src_port: key given twice");
}

Test(flowjson, syntax_errors_name_the_column)
{
    refused("", "column 1: line ends where '{' was expected");
    refused("   ", "column 4: line ends where '{' was expected");
    refused("[1,2]", "column 1: '[' where '{' was expected");
    refused("\"flow\"", "column 1: '\"' where '{' was expected");
    refused("{\"proto\":6", "column 11: line ends where ',' or '}' was expected");
    refused("{\"proto\":6,}", "column 12: '}' where a key was expected");
    refused("{\"proto\" 6}", "column 10: '6' where ':' was expected");
    refused("{proto:6}", "column 2: 'p' where a key was expected");
    refused("{\"proto\":6} x", "column 13: text after the closing '}'");
    refused("{\"proto\":6}{}", "column 12: text after the closing '}'");
    refused("{\"x\":\"a\tb\"}", "control byte 0x09 inside a string");
    refused("{\"x\":\"\\q\"}", "unknown escape '\\q'");
    refused("{\"x\":\"\\u12\"}", "bad \\u escape");
    refused("{\"x\":\"\\udc00\"}", "lone low surrogate");
    refused("{\"x\":\"\\ud800x\"}", "high surrogate without its low half");
    refused("{\"x\":[1,]}", "']' where a value was expected");
    refused("{\"x\":{\"a\" 1}}", "'1' where ':' was expected");
    refused("{\"x\":{1:2}}", "'1' where a key was expected");
    refused("{\"x\":[1}", "'}' where ',' or ']' was expected");
    refused("{\"x\":-}", "'}' where a number was expected");
    refused("{\"x\":1.}", "'}' where a digit was expected");
    refused("{\"x\":1e}", "'}' where a digit was expected");
    refused("{\"x\":nul}", "'n' where a value was expected");
    refused("{\"x\":\"abc", "line ends inside a string");
    refused("{\"x\":\xff}", "byte 0xff where a value was expected");
}

Test(flowjson, deep_nesting_is_refused_not_recursed)
{
    char line[1200];
    size_t n = 0;

    n += (size_t)sprintf(line, "{\"x\":");
    for (int i = 0; i < 500; i++)
        line[n++] = '[';
    line[n++] = '}';
    line[n] = '\0';
    refused(line, "nested deeper than 64");
    n = (size_t)sprintf(line, "{\"x\":");
    for (int i = 0; i < 64; i++)
        line[n++] = '[';
    for (int i = 0; i < 64; i++)
        line[n++] = ']';
    line[n++] = '}';
    {
        struct fs_flow f;

        cr_assert_eq(fs_flow_parse_json(line, n, &f, err, sizeof(err)), 0, "%s", err);
    }
}

Test(flowjson, every_truncation_is_an_error)
{
    struct fs_flow f;
    char full[FS_FLOW_JSON_MAX];
    int n;

    maximal_flow(&f);
    n = fs_flow_json(&f, full, sizeof(full));
    for (int cut = 0; cut < n; cut++) {
        /* A heap copy of exactly `cut` bytes: reading past it trips ASan. */
        char *copy = malloc((size_t)cut + 1);

        memcpy(copy, full, (size_t)cut);
        cr_assert_eq(fs_flow_parse_json(copy, (size_t)cut, &f, err, sizeof(err)), -1,
                     "a cut after %d bytes was accepted", cut);
        free(copy);
    }
    cr_assert_eq(fs_flow_parse_json(full, (size_t)n, &f, err, sizeof(err)), 0);
}

Test(flowjson, random_damage_never_crashes)
{
    static const char alphabet[] = "{}[]\":,\\u0123456789abcdef-+.eEtrufalsn \t";
    struct fs_flow f;
    char full[FS_FLOW_JSON_MAX];
    int n, accepted = 0;

    maximal_flow(&f);
    n = fs_flow_json(&f, full, sizeof(full));
    for (int iter = 0; iter < 30000; iter++) {
        size_t len = (size_t)n;
        char *copy = malloc(len);

        memcpy(copy, full, len);
        for (int k = 0; k < 1 + (int)(trng_next(&rng) % 4); k++) {
            size_t at = trng_next(&rng) % len;

            copy[at] = trng_next(&rng) % 2
                           ? (char)trng_next(&rng)
                           : alphabet[trng_next(&rng) % (sizeof(alphabet) - 1)];
        }
        if (trng_next(&rng) % 4 == 0)
            len = trng_next(&rng) % len;
        err[0] = '\0';
        if (fs_flow_parse_json(copy, len, &f, err, sizeof(err)) == 0)
            accepted++;
        else
            cr_assert_neq(err[0], '\0', "a refusal always says why");
        free(copy);
    }
    /* Changing digits inside numbers keeps a valid line: some are accepted. */
    cr_assert_gt(accepted, 0);
    for (int iter = 0; iter < 20000; iter++) {
        char junk[256];
        size_t len = trng_next(&rng) % sizeof(junk);

        for (size_t i = 0; i < len; i++)
            junk[i] = trng_next(&rng) % 3
                          ? alphabet[trng_next(&rng) % (sizeof(alphabet) - 1)]
                          : (char)trng_next(&rng);
        fs_flow_parse_json(junk, len, &f, err, sizeof(err));
    }
}

Test(flowjson, parse_rate)
{
    FILE *fp = fopen(FS_SOURCE_DIR "/tests/fixtures/nfdump/sample.jsonl", "r");
    char *text = NULL;
    size_t len = 0, lines = 0;
    struct timespec t0, t1;
    struct fs_flow f;
    double secs;

    cr_assert_not_null(fp);
    cr_assert_gt(getdelim(&text, &len, '\0', fp), 0);
    fclose(fp);
    len = strlen(text);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    for (int rep = 0; rep < 500; rep++) {
        for (const char *p = text, *nl; (nl = memchr(p, '\n', (size_t)(text + len - p))) != NULL;
             p = nl + 1) {
            cr_assert_eq(fs_flow_parse_json(p, (size_t)(nl - p), &f, err, sizeof(err)), 0);
            lines++;
        }
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_log_info("fs_flow_parse_json: %zu lines in %.3f s = %.2f M lines/s (%.0f MB/s)", lines,
                secs, (double)lines / secs / 1e6, (double)len * 500 / secs / 1e6);
    fprintf(stderr, "fs_flow_parse_json: %.2f M lines/s\n", (double)lines / secs / 1e6);
    cr_assert_eq(lines, 399u * 500);
    free(text);
}
