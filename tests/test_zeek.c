/*
 * test_zeek.c - Zeek conn.log to flow records: TSV logs with the ASCII
 * writer's header (default and custom separators, escapes, unset and empty
 * fields, #close and a second header), JSON logs with the three timestamp
 * forms, IPv6, ICMP's type/code convention, TCP flags from history and
 * conn_state, and every kind of damage, each with its message.
 *
 * Expected flows are written out by hand as fs_flow_json() text from the
 * log lines (times: ts and ts + duration truncated to ms; flags per the
 * table in docs/sensor.md).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "linerun.h"
#include "zeek.h"

static const struct fs_ls_config cfg = {
    .exporter = {.af = 4, .b = {192, 0, 2, 10}},
    .domain = 7,
};

static int zeek_line(void *src, const char *line, size_t len, struct fs_flow *f, char *err,
                     size_t errlen)
{
    return fs_zeek_line(src, line, len, f, err, errlen);
}

static void feed(struct fs_zeek *src, const char *text, struct linerun *r)
{
    lr_feed(r, zeek_line, src, text);
}

#define HEADER                                                                           \
    "#separator \\x09\n"                                                                 \
    "#set_separator\t,\n"                                                                \
    "#empty_field\t(empty)\n"                                                            \
    "#unset_field\t-\n"                                                                  \
    "#path\tconn\n"                                                                      \
    "#open\t2024-01-01-10-00-00\n"                                                       \
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\t"     \
    "duration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\t" \
    "history\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tvlan\t"  \
    "inner_vlan\torig_l2_addr\tresp_l2_addr\n"                                           \
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\t" \
    "string\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tint\tint\t" \
    "string\tstring\n"

Test(zeek, tsv_conn_log, .timeout = 10)
{
    struct fs_zeek *z = fs_zeek_new(&cfg);
    static struct linerun r;
    cr_assert_not_null(z);

    feed(z,
         HEADER
         /* TCP, full handshake and FIN both ways, VLANs and MACs. */
         "1704103200.123456\tCHhAvVGS1DHFjwGM9\t192.168.1.10\t51000\t93.184.216.34\t443\t"
         "tcp\tssl\t1.500000\t517\t4321\tSF\tT\tF\t0\tShADadFf\t12\t1141\t10\t4853\t(empty)\t"
         "100\t200\t00:11:22:33:44:55\t66:77:88:99:aa:bb\n"
         /* UDP; an escaped tab inside a field the mapping does not read. */
         "1704103201.000001\tC2\t192.168.1.10\t53000\t192.168.1.1\t53\tudp\td\\x09ns\t"
         "0.000999\t40\t120\tSF\tT\tT\t0\tDd\t1\t68\t1\t148\t(empty)\t-\t-\t-\t-\n"
         /* ICMP echo: id.resp_p is the counterpart type (0), the code is 0. */
         "1704103202.500000\tC3\t10.0.0.1\t8\t10.0.0.2\t0\ticmp\t-\t0.999000\t56\t56\tOTH\t"
         "T\tT\t0\t-\t1\t84\t1\t84\t(empty)\t-\t-\t-\t-\n"
         /* ICMP port unreachable: one-way, id.resp_p is the code. */
         "1704103203.000000\tC4\t10.0.0.2\t3\t10.0.0.1\t3\ticmp\t-\t-\t-\t-\tOTH\tT\tT\t0\t-\t"
         "1\t56\t0\t0\t(empty)\t-\t-\t-\t-\n"
         /* ICMP timestamp request: counterpart 14 in id.resp_p, code 0. */
         "1704103204.000000\tC5\t10.0.0.1\t13\t10.0.0.2\t14\ticmp\t-\t-\t-\t-\tOTH\tT\tT\t0\t"
         "-\t1\t40\t0\t0\t(empty)\t-\t-\t-\t-\n"
         /* IPv6 TCP rejected, no history: flags from conn_state REJ. */
         "1704103205.250000\tC6\t2001:db8::1\t40000\t2001:db8::2\t22\ttcp\t-\t0.001000\t0\t0\t"
         "REJ\tT\tT\t0\t-\t1\t80\t1\t60\t(empty)\t-\t-\t-\t-\n"
         /* ICMPv6 echo: Zeek's proto is "icmp" for both families. */
         "1704103206.000000\tC7\tfe80::1\t128\tfe80::2\t129\ticmp\t-\t0.000100\t8\t8\tOTH\t"
         "T\tT\t0\t-\t1\t56\t1\t56\t(empty)\t-\t-\t-\t-\n"
         /* Unset duration, counters and history is (empty): SYN from
          * conn_state S0, no end beyond the start. */
         "1704103207.999999\tC8\t192.168.1.10\t51001\t192.0.2.99\t25\ttcp\t-\t-\t-\t-\tS0\t"
         "T\tF\t0\t(empty)\t-\t-\t-\t-\t(empty)\t-\t-\t-\t-\n"
         "#close\t2024-01-01-11-00-00\n",
         &r);

    cr_expect_eq(r.malformed, 0, "first error: %s", r.err[0]);
    cr_assert_eq(r.n, 8);
    lr_expect_json(&r.flows[0],
                   "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":7,"
                   "\"src_addr\":\"192.168.1.10\",\"dst_addr\":\"93.184.216.34\","
                   "\"src_port\":51000,"
                   "\"dst_port\":443,\"proto\":6,\"tcp_flags\":19,\"packets\":12,\"bytes\":1141,"
                   "\"start_ms\":1704103200123,\"end_ms\":1704103201623,\"sampling_rate\":1,"
                   "\"src_vlan\":100,\"src_mac\":\"00:11:22:33:44:55\","
                   "\"dst_mac\":\"66:77:88:99:aa:bb\",\"ip_version\":4,\"rev_packets\":10,"
                   "\"rev_bytes\":4853,\"rev_tcp_flags\":19,\"uid\":\"CHhAvVGS1DHFjwGM9\"}");
    lr_expect_json(&r.flows[1],
                   "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":7,"
                   "\"src_addr\":\"192.168.1.10\",\"dst_addr\":\"192.168.1.1\",\"src_port\":53000,"
                   "\"dst_port\":53,\"proto\":17,\"packets\":1,\"bytes\":68,"
                   "\"start_ms\":1704103201000,\"end_ms\":1704103201001,\"sampling_rate\":1,"
                   "\"ip_version\":4,\"rev_packets\":1,\"rev_bytes\":148,\"uid\":\"C2\"}");
    lr_expect_json(&r.flows[2],
                   "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":7,"
                   "\"src_addr\":\"10.0.0.1\",\"dst_addr\":\"10.0.0.2\",\"src_port\":0,"
                   "\"dst_port\":2048,\"proto\":1,\"packets\":1,"
                   "\"bytes\":84,\"start_ms\":1704103202500,\"end_ms\":1704103203499,"
                   "\"sampling_rate\":1,\"icmp_type\":8,\"icmp_code\":0,\"ip_version\":4,"
                   "\"rev_packets\":1,\"rev_bytes\":84,\"uid\":\"C3\"}");
    cr_expect_eq(r.flows[3].icmp_type, 3);
    cr_expect_eq(r.flows[3].icmp_code, 3);
    cr_expect_eq(r.flows[3].dst_port, 3 << 8 | 3);
    cr_expect_eq(r.flows[3].end_ms, r.flows[3].start_ms);
    cr_expect_eq(r.flows[4].icmp_type, 13);
    cr_expect_eq(r.flows[4].icmp_code, 0);
    lr_expect_json(&r.flows[5],
                   "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":7,"
                   "\"src_addr\":\"2001:db8::1\",\"dst_addr\":\"2001:db8::2\",\"src_port\":40000,"
                   "\"dst_port\":22,\"proto\":6,\"tcp_flags\":2,\"packets\":1,\"bytes\":80,"
                   "\"start_ms\":1704103205250,\"end_ms\":1704103205251,\"sampling_rate\":1,"
                   "\"ip_version\":6,\"rev_packets\":1,\"rev_bytes\":60,\"rev_tcp_flags\":20,"
                   "\"uid\":\"C6\"}");
    cr_expect_eq(r.flows[6].proto, 58);
    cr_expect_eq(r.flows[6].icmp_type, 128);
    cr_expect_eq(r.flows[6].icmp_code, 0);
    cr_expect_eq(r.flows[6].ip_version, 6);
    cr_expect_eq(r.flows[6].src_port, 0, "ICMP: the packet meter's ports");
    cr_expect_eq(r.flows[6].dst_port, 128 << 8);
    lr_expect_json(&r.flows[7],
                   "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":7,"
                   "\"src_addr\":\"192.168.1.10\",\"dst_addr\":\"192.0.2.99\",\"src_port\":51001,"
                   "\"dst_port\":25,\"proto\":6,\"tcp_flags\":2,\"start_ms\":1704103207999,"
                   "\"end_ms\":1704103207999,\"sampling_rate\":1,\"ip_version\":4,"
                   "\"rev_tcp_flags\":0,\"uid\":\"C8\"}");

    const struct fs_ls_counters *c = fs_zeek_counters(z);
    cr_expect_eq(c->lines, 8 + 9);
    cr_expect_eq(c->flows, 8);
    cr_expect_eq(c->skipped, 9, "8 header lines and #close");
    cr_expect_eq(c->malformed, 0);
    fs_zeek_free(z);
}

Test(zeek, custom_separator_escapes_addresses, .timeout = 10)
{
    /* With ':' as the separator, Zeek escapes the colons of IPv6 addresses
     * (and a field that is literally "-" as \x2d). */
    struct fs_zeek *z = fs_zeek_new(&cfg);
    static struct linerun r;

    feed(z,
         "#separator \\x3a\n"
         "#set_separator:,\n"
         "#empty_field:(empty)\n"
         "#unset_field:-\n"
         "#path:conn\n"
         "#fields:ts:uid:id.orig_h:id.orig_p:id.resp_h:id.resp_p:proto:duration:history\n"
         "#types:time:string:addr:port:addr:port:enum:interval:string\n"
         "1704103200.000000:CabcDEF123:2001\\x3adb8\\x3a\\x3a1:40000:2001\\x3adb8\\x3a\\x3a2:"
         "22:tcp:2.000000:\\x2d\n"
         "1704103201.000000:Cx:2001\\x3adb8\\x3a\\x3a1:40001:2001\\x3adb8\\x3a\\x3a2:22:tcp:-:-\n",
         &r);
    cr_expect_eq(r.malformed, 0, "%s", r.err[0]);
    cr_assert_eq(r.n, 2);
    lr_expect_json(&r.flows[0],
                   "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":7,"
                   "\"src_addr\":\"2001:db8::1\",\"dst_addr\":\"2001:db8::2\",\"src_port\":40000,"
                   "\"dst_port\":22,\"proto\":6,\"tcp_flags\":0,\"start_ms\":1704103200000,"
                   "\"end_ms\":1704103202000,\"sampling_rate\":1,\"ip_version\":6,"
                   "\"rev_tcp_flags\":0,\"uid\":\"CabcDEF123\"}");
    /* Unset history (no conn_state column): no flags at all. */
    cr_expect_not(FS_FLOW_HAS(&r.flows[1], FS_F_TCP_FLAGS));
    fs_zeek_free(z);
}

Test(zeek, columns_found_by_name, .timeout = 10)
{
    /* A second header (after #close, as in a rotated stream) with other
     * columns in another order, and the tsv=T single header row. */
    struct fs_zeek *z = fs_zeek_new(&cfg);
    static struct linerun r;

    feed(z,
         "#separator \\x09\n#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n"
         "1704103200.000000\t10.1.1.1\t1000\t10.1.1.2\t2000\tudp\n"
         "#close\t2024-01-01-11-00-00\n"
         "#separator \\x09\n"
         "#fields\tproto\tresp_ip_bytes\tid.resp_p\tid.resp_h\textra\tid.orig_h\tts\n"
         "udp\t999\t2000\t10.1.1.2\tjunk\t10.1.1.1\t1704103300.000000\n",
         &r);
    cr_assert_eq(r.n, 2, "%s", r.err[0]);
    cr_expect_eq(r.flows[1].dst_port, 2000);
    cr_expect_eq(r.flows[1].rev_bytes, 999);
    cr_expect_eq(r.flows[1].start_ms, 1704103300000ull);
    cr_expect_not(FS_FLOW_HAS(&r.flows[1], FS_F_SRC_PORT), "no id.orig_p column");
    fs_zeek_free(z);

    z = fs_zeek_new(&cfg);
    static struct linerun t;
    feed(z, "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n"
            "1704103200.000000\tCq\t10.1.1.1\t1\t10.1.1.2\t2\ttcp\n", &t);
    cr_assert_eq(t.n, 1, "%s", t.err[0]);
    cr_expect_str_eq(t.flows[0].uid, "Cq");
    fs_zeek_free(z);
}

Test(zeek, json_logs, .timeout = 10)
{
    struct fs_zeek *z = fs_zeek_new(&cfg);
    static struct linerun r, t;

    /* The TSV test's first connection, in JSON with TS_EPOCH, TS_ISO8601 and
     * TS_MILLIS timestamps; unset fields as null (json_include_unset_fields). */
    feed(z,
         "{\"ts\":1704103200.123456,\"uid\":\"CHhAvVGS1DHFjwGM9\",\"id.orig_h\":\"192.168.1.10\","
         "\"id.orig_p\":51000,\"id.resp_h\":\"93.184.216.34\",\"id.resp_p\":443,\"proto\":\"tcp\","
         "\"service\":\"ssl\",\"duration\":1.5,\"orig_bytes\":517,\"resp_bytes\":4321,"
         "\"conn_state\":\"SF\",\"local_orig\":true,\"local_resp\":false,\"missed_bytes\":0,"
         "\"history\":\"ShADadFf\",\"orig_pkts\":12,\"orig_ip_bytes\":1141,\"resp_pkts\":10,"
         "\"resp_ip_bytes\":4853,\"tunnel_parents\":[]}\n"
         "{\"ts\":\"2024-01-01T10:00:00.123456Z\",\"uid\":\"CHhAvVGS1DHFjwGM9\","
         "\"id.orig_h\":\"192.168.1.10\",\"id.orig_p\":51000,\"id.resp_h\":\"93.184.216.34\","
         "\"id.resp_p\":443,\"proto\":\"tcp\",\"duration\":1.5,\"conn_state\":\"SF\","
         "\"history\":\"ShADadFf\",\"orig_pkts\":12,\"orig_ip_bytes\":1141,\"resp_pkts\":10,"
         "\"resp_ip_bytes\":4853}\n"
         "{\"ts\":1704103200123,\"uid\":\"CHhAvVGS1DHFjwGM9\",\"id.orig_h\":\"192.168.1.10\","
         "\"id.orig_p\":51000,\"id.resp_h\":\"93.184.216.34\",\"id.resp_p\":443,\"proto\":\"tcp\","
         "\"duration\":1.5,\"conn_state\":\"SF\",\"history\":\"ShADadFf\",\"orig_pkts\":12,"
         "\"orig_ip_bytes\":1141,\"resp_pkts\":10,\"resp_ip_bytes\":4853,\"service\":null}\n",
         &r);
    cr_expect_eq(r.malformed, 0, "%s", r.err[0]);
    cr_assert_eq(r.n, 3);
    for (size_t i = 0; i < 3; i++)
        lr_expect_json(&r.flows[i],
                       "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":7,"
                       "\"src_addr\":\"192.168.1.10\",\"dst_addr\":\"93.184.216.34\","
                       "\"src_port\":51000,\"dst_port\":443,\"proto\":6,\"tcp_flags\":19,"
                       "\"packets\":12,\"bytes\":1141,\"start_ms\":1704103200123,"
                       "\"end_ms\":1704103201623,\"sampling_rate\":1,\"ip_version\":4,"
                       "\"rev_packets\":10,\"rev_bytes\":4853,\"rev_tcp_flags\":19,"
                       "\"uid\":\"CHhAvVGS1DHFjwGM9\"}");

    /* IPv6, escaped characters in a value and a name, a duration in exponent form
     * (2e-06 s: 2 us, below a millisecond). */
    feed(z,
         "{\"ts\":1704103210.5,\"uid\":\"C\\u0041b\",\"id.orig\\u005fh\":\"2001:db8::10\","
         "\"id.orig_p\":5353,\"id.resp_h\":\"ff02::fb\",\"id.resp_p\":5353,\"proto\":\"udp\","
         "\"duration\":2e-06,\"orig_pkts\":1,\"orig_ip_bytes\":100}\n",
         &t);
    cr_assert_eq(t.n, 1, "%s", t.err[0]);
    lr_expect_json(&t.flows[0],
                   "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":7,"
                   "\"src_addr\":\"2001:db8::10\",\"dst_addr\":\"ff02::fb\",\"src_port\":5353,"
                   "\"dst_port\":5353,\"proto\":17,\"packets\":1,\"bytes\":100,"
                   "\"start_ms\":1704103210500,\"end_ms\":1704103210500,\"sampling_rate\":1,"
                   "\"ip_version\":6,\"uid\":\"CAb\"}");
    fs_zeek_free(z);
}

struct bad_case {
    const char *line;
    const char *message; /* a part of the expected message */
};

static void expect_refused(struct fs_zeek *z, const struct bad_case *c)
{
    char err[200] = "";
    struct fs_flow f;
    int rc = fs_zeek_line(z, c->line, strlen(c->line), &f, err, sizeof(err));
    cr_expect_eq(rc, -1, "accepted: %s", c->line);
    cr_expect_not_null(strstr(err, c->message), "for %s: got \"%s\", want \"%s\"", c->line,
                       err, c->message);
}

Test(zeek, malformed_lines, .timeout = 10)
{
    static const struct bad_case cases[] = {
        {"1704103200.0\tCa\t10.0.0.1\t1\t10.0.0.2\t2\ttcp", "before any #fields header"},
        {"{\"ts\":1704103200.0,\"id.orig_h\":\"10.0.0.1\"}", "no id.resp_h"},
        {"{\"ts\":1704103200.0,\"id.orig_h\":\"10.0.0.1\",\"id.resp_h\":\"10.0.0.2\"",
         "bad JSON"},
        {"{\"ts\":1704103200.0,\"id.orig_h\":\"10.0.0.1\",\"id.resp_h\":\"10.0.0.2\"} x",
         "text after the end"},
        {"{\"ts\":\"2024-01-01T10:00:00\",\"id.orig_h\":\"10.0.0.1\",\"id.resp_h\":\"10.0.0.2\"}",
         "bad ts"},
        {"{\"ts\":1.0,\"id.orig_h\":\"10.0.0.1\",\"id.resp_h\":\"2001:db8::1\"}",
         "different families"},
        {"{\"ts\":1.0,\"id.orig_h\":\"10.0.0.1\",\"id.resp_h\":\"10.0.0.2\",\"id.orig_p\":70000}",
         "bad id.orig_p"},
        {"{\"ts\":1.0,\"id.orig_h\":\"10.0.0.1\",\"id.resp_h\":\"10.0.0.2\",\"_path\":\"dns\"}",
         "not a conn log"},
        {"{\"ts\":1.0,\"id.orig_h\":\"10.0.0.1\",\"id.resp_h\":\"10.0.0.2\","
         "\"uid\":\"C123456789012345678901234\"}", "bad uid"},
        {"{\"ts\":1.0,\"id.orig_h\":[1],\"id.resp_h\":\"10.0.0.2\"}", "not a string or number"},
    };
    struct fs_zeek *z = fs_zeek_new(&cfg);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_refused(z, &cases[i]);
    cr_expect_eq(fs_zeek_counters(z)->malformed, sizeof(cases) / sizeof(cases[0]));
    cr_expect_eq(fs_zeek_counters(z)->flows, 0);
    fs_zeek_free(z);
}

Test(zeek, malformed_tsv, .timeout = 10)
{
    struct fs_zeek *z = fs_zeek_new(&cfg);
    static struct linerun r;

    feed(z,
         "#separator \\x09\n#path\tconn\n"
         "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\n"
         "1704103200.000000\tCa\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t1.0\n"
         "1704103200.000000\tCb\t10.0.0.x\t1\t10.0.0.2\t2\ttcp\t1.0\n"
         "1704103200.000000\tCc\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t1.0\textra\n"
         "1704103200.000000\tCd\t10.0.0.1\t1\t10.0.0.2\t2\tbogus\t1.0\n"
         "17041032x0.000000\tCe\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t1.0\n"
         "1704103200.000000\tCf\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t-1.0\n"
         "#close\t2024-01-01-11-00-00\n"
         "1704103200.000000\tCg\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t1.0\n"
         "#separator \\x09\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.resp_h\n"
         "1704103200.000000\tCh\t10.0.0.1\t10.0.0.2\n"
         "#separator \\x09\n#fields\tts\tuid\tid.orig_h\n"
         "1704103200.000000\tCi\t10.0.0.1\n"
         "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.resp_h\tts\n"
         "1704103200.000000\tCj\t10.0.0.1\t10.0.0.2\t1704103200.000000\n"
         "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\n"
         /* The last line of a file cut short by a crash. */
         "1704103200.000000\tCk\t10.0.0.1\t12",
         &r);
    cr_expect_eq(r.n, 1);
    static const char *const want[] = {
        "bad id.orig_h \"10.0.0.x\"",
        "more than the header's 8 fields",
        "bad proto \"bogus\"",
        "bad ts",
        "bad duration \"-1.0\"",
        "data line after #close",
        "not a conn log (#path \"dns\")",
        "not a conn log (#path \"dns\")",
        "header has no field id.resp_h",
        "field ts twice in the header",
        "4 fields, the header has 6",
    };
    cr_assert_eq(r.malformed, sizeof(want) / sizeof(want[0]), "got %zu errors", r.malformed);
    for (size_t i = 0; i < r.malformed; i++)
        cr_expect_not_null(strstr(r.err[i], want[i]), "error %zu: \"%s\", want \"%s\"", i,
                           r.err[i], want[i]);
    fs_zeek_free(z);
}

Test(zeek, never_crashes_on_cut_lines, .timeout = 30)
{
    /* Every prefix of a good TSV and a good JSON line: refused or read, never
     * past the bytes given (ASan checks), always counted. */
    const char *tsv_header =
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\thistory\t"
        "orig_l2_addr";
    const char *tsv = "1704103200.123456\tCa\t2001:db8::1\t1\t2001:db8::2\t2\ttcp\tShAD\t"
                      "00:11:22:33:44:55";
    const char *json = "{\"ts\":\"2024-01-01T10:00:00.5+01:00\",\"id.orig_h\":\"10.0.0.1\","
                       "\"id.resp_h\":\"10.0.0.2\",\"service\":\"\\u00e9\\ud83d\\ude00\",\"history\":\"Dd\","
                       "\"x\":[1,{\"y\":[true,false,null,-1.5e3]}]}";
    struct fs_zeek *z = fs_zeek_new(&cfg);
    uint64_t n = 0;

    for (int k = 0; k < 2; k++) {
        const char *line = k ? json : tsv;
        size_t len = strlen(line);
        for (size_t cut = 0; cut <= len; cut++) {
            char *copy = malloc(cut ? cut : 1);
            char err[200];
            struct fs_flow f;
            memcpy(copy, line, cut);
            if (!k)
                fs_zeek_line(z, tsv_header, strlen(tsv_header), &f, err, sizeof(err));
            fs_zeek_line(z, copy, cut, &f, err, sizeof(err));
            free(copy);
            n += k ? 1 : 2;
        }
        /* The whole line is good. */
        char err[200] = "";
        struct fs_flow f;
        cr_expect_eq(fs_zeek_line(z, line, len, &f, err, sizeof(err)), 1, "%s", err);
        n++;
    }
    const struct fs_ls_counters *c = fs_zeek_counters(z);
    cr_expect_eq(c->lines, n);
    cr_expect_eq(c->lines, c->flows + c->malformed + c->skipped);
    fs_zeek_free(z);
}
