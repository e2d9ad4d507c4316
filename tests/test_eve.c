/*
 * test_eve.c - Suricata EVE JSON to flow records: "flow" events (biflows,
 * IPv4 and IPv6, ICMP, VLANs, MACs in both of Suricata's forms, time zones,
 * flow_id), "netflow" events (one record per direction), other event types
 * skipped and counted, and damaged lines refused with a message.
 *
 * Expected flows are written out by hand as fs_flow_json() text from the
 * event fields (toserver forward, toclient reverse; times truncated to ms).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "eve.h"
#include "linerun.h"

/* A fixed interface table, so that in_if does not depend on the host. */
static uint32_t fake_ifindex(void *arg, const char *name)
{
    int *calls = arg;
    ++*calls;
    if (strcmp(name, "eth0") == 0)
        return 3;
    if (strcmp(name, "eth1") == 0)
        return 4;
    return 0;
}

static int ifindex_calls;

static const struct fs_ls_config cfg = {
    .exporter = {.af = 4, .b = {192, 0, 2, 10}},
    .domain = 9,
    .ifindex = fake_ifindex,
    .ifindex_arg = &ifindex_calls,
};

static int eve_line(void *src, const char *line, size_t len, struct fs_flow *f, char *err,
                     size_t errlen)
{
    return fs_eve_line(src, line, len, f, err, errlen);
}

static void feed(struct fs_eve *src, const char *text, struct linerun *r)
{
    lr_feed(r, eve_line, src, text);
}

Test(eve, flow_events, .timeout = 10)
{
    struct fs_eve *e = fs_eve_new(&cfg);
    static struct linerun r;
    cr_assert_not_null(e);
    ifindex_calls = 0;

    feed(e,
         /* TCP biflow, QinQ, Suricata 7's MAC arrays. */
         "{\"timestamp\":\"2024-01-01T10:00:05.000000+0000\",\"flow_id\":1234567890123456,"
         "\"in_iface\":\"eth0\",\"event_type\":\"flow\",\"vlan\":[100,200],"
         "\"src_ip\":\"192.168.1.10\",\"src_port\":51000,\"dest_ip\":\"93.184.216.34\","
         "\"dest_port\":443,\"proto\":\"TCP\",\"app_proto\":\"tls\",\"flow\":{\"pkts_toserver\":12,"
         "\"pkts_toclient\":10,\"bytes_toserver\":1141,\"bytes_toclient\":4853,"
         "\"start\":\"2024-01-01T10:00:00.123456+0000\",\"end\":\"2024-01-01T10:00:01.623456+0000\","
         "\"age\":1,\"state\":\"closed\",\"reason\":\"timeout\",\"alerted\":false},"
         "\"ether\":{\"dest_macs\":[\"66:77:88:99:aa:bb\"],\"src_macs\":[\"00:11:22:33:44:55\","
         "\"00:11:22:33:44:56\"]},\"tcp\":{\"tcp_flags\":\"1b\",\"tcp_flags_ts\":\"1b\","
         "\"tcp_flags_tc\":\"13\",\"syn\":true,\"fin\":true,\"psh\":true,\"ack\":true,"
         "\"state\":\"closed\"}}\n"
         /* UDP, times in another zone, same interface (resolved once). */
         "{\"timestamp\":\"2024-01-01T11:00:05.000000+0100\",\"flow_id\":77,\"in_iface\":\"eth0\","
         "\"event_type\":\"flow\",\"src_ip\":\"10.0.0.1\",\"src_port\":53000,"
         "\"dest_ip\":\"10.0.0.53\",\"dest_port\":53,\"proto\":\"UDP\",\"app_proto\":\"dns\","
         "\"flow\":{\"pkts_toserver\":1,\"pkts_toclient\":1,\"bytes_toserver\":70,"
         "\"bytes_toclient\":130,\"start\":\"2024-01-01T11:00:00.000999+0100\","
         "\"end\":\"2024-01-01T11:00:00.002000+01:00\",\"age\":0,\"state\":\"established\","
         "\"reason\":\"timeout\",\"alerted\":false}}\n"
         /* ICMPv6 echo, in Suricata's expanded IPv6 form, unknown interface. */
         "{\"timestamp\":\"2024-01-01T10:00:09.000000+0000\",\"flow_id\":78,\"in_iface\":\"wlan9\","
         "\"event_type\":\"flow\",\"src_ip\":\"2001:0db8:0000:0000:0000:0000:0000:0001\","
         "\"dest_ip\":\"2001:0db8:0000:0000:0000:0000:0000:0002\",\"proto\":\"IPv6-ICMP\","
         "\"icmp_type\":128,\"icmp_code\":0,\"response_icmp_type\":129,\"response_icmp_code\":0,"
         "\"flow\":{\"pkts_toserver\":3,\"pkts_toclient\":3,\"bytes_toserver\":312,"
         "\"bytes_toclient\":312,\"start\":\"2024-01-01T10:00:06.000000+0000\","
         "\"end\":\"2024-01-01T10:00:08.000000+0000\",\"age\":2,\"state\":\"established\","
         "\"reason\":\"timeout\",\"alerted\":false}}\n"
         /* A protocol by number, as Suricata writes those it has no name for. */
         "{\"timestamp\":\"2024-01-01T10:00:09.000000+0000\",\"event_type\":\"flow\","
         "\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.2\",\"proto\":\"254\","
         "\"flow\":{\"pkts_toserver\":1,\"bytes_toserver\":20,"
         "\"start\":\"2024-01-01T10:00:06.000000Z\"}}\n",
         &r);

    cr_expect_eq(r.malformed, 0, "%s", r.err[0]);
    cr_assert_eq(r.n, 4);
    lr_expect_json(&r.flows[0],
                   "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":9,"
                   "\"src_addr\":\"192.168.1.10\",\"dst_addr\":\"93.184.216.34\","
                   "\"src_port\":51000,"
                   "\"dst_port\":443,\"proto\":6,\"tcp_flags\":27,\"packets\":12,\"bytes\":1141,"
                   "\"in_if\":3,\"start_ms\":1704103200123,\"end_ms\":1704103201623,"
                   "\"sampling_rate\":1,\"src_vlan\":100,\"src_mac\":\"00:11:22:33:44:55\","
                   "\"dst_mac\":\"66:77:88:99:aa:bb\",\"ip_version\":4,\"rev_packets\":10,"
                   "\"rev_bytes\":4853,\"rev_tcp_flags\":19,\"flow_id\":1234567890123456}");
    lr_expect_json(&r.flows[1],
                   "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":9,"
                   "\"src_addr\":\"10.0.0.1\",\"dst_addr\":\"10.0.0.53\",\"src_port\":53000,"
                   "\"dst_port\":53,\"proto\":17,\"packets\":1,\"bytes\":70,\"in_if\":3,"
                   "\"start_ms\":1704103200000,\"end_ms\":1704103200002,\"sampling_rate\":1,"
                   "\"ip_version\":4,\"rev_packets\":1,\"rev_bytes\":130,\"flow_id\":77}");
    lr_expect_json(&r.flows[2],
                   "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":9,"
                   "\"src_addr\":\"2001:db8::1\",\"dst_addr\":\"2001:db8::2\",\"src_port\":0,"
                   "\"dst_port\":32768,\"proto\":58,"
                   "\"packets\":3,\"bytes\":312,\"start_ms\":1704103206000,"
                   "\"end_ms\":1704103208000,\"sampling_rate\":1,\"icmp_type\":128,"
                   "\"icmp_code\":0,\"ip_version\":6,\"rev_packets\":3,\"rev_bytes\":312,"
                   "\"flow_id\":78}");
    lr_expect_json(&r.flows[3],
                   "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":9,"
                   "\"src_addr\":\"10.0.0.1\",\"dst_addr\":\"10.0.0.2\",\"proto\":254,"
                   "\"packets\":1,\"bytes\":20,\"start_ms\":1704103206000,"
                   "\"end_ms\":1704103206000,\"sampling_rate\":1,\"ip_version\":4}");
    cr_expect_eq(ifindex_calls, 2, "eth0 once, wlan9 once");
    fs_eve_free(e);
}

Test(eve, netflow_events_are_one_way, .timeout = 10)
{
    struct fs_eve *e = fs_eve_new(&cfg);
    static struct linerun r;

    feed(e,
         "{\"timestamp\":\"2024-01-01T10:00:02.000000+0000\",\"flow_id\":42,"
         "\"event_type\":\"netflow\",\"src_ip\":\"10.0.0.1\",\"src_port\":40000,"
         "\"dest_ip\":\"10.0.0.2\",\"dest_port\":80,\"proto\":\"TCP\",\"app_proto\":\"http\","
         "\"netflow\":{\"pkts\":5,\"bytes\":500,\"start\":\"2024-01-01T10:00:00.000000+0000\","
         "\"end\":\"2024-01-01T10:00:01.000000+0000\",\"age\":1,\"min_ttl\":64,\"max_ttl\":64},"
         "\"tcp\":{\"tcp_flags\":\"1b\",\"syn\":true,\"fin\":true,\"psh\":true,\"ack\":true}}\n"
         "{\"timestamp\":\"2024-01-01T10:00:02.000000+0000\",\"flow_id\":42,"
         "\"event_type\":\"netflow\",\"src_ip\":\"10.0.0.2\",\"src_port\":80,"
         "\"dest_ip\":\"10.0.0.1\",\"dest_port\":40000,\"proto\":\"TCP\",\"app_proto\":\"http\","
         "\"netflow\":{\"pkts\":4,\"bytes\":3000,\"start\":\"2024-01-01T10:00:00.000500+0000\","
         "\"end\":\"2024-01-01T10:00:00.900000+0000\",\"age\":1,\"min_ttl\":63,\"max_ttl\":63},"
         "\"tcp\":{\"tcp_flags\":\"13\",\"syn\":true,\"fin\":true,\"ack\":true}}\n",
         &r);
    cr_expect_eq(r.malformed, 0, "%s", r.err[0]);
    cr_assert_eq(r.n, 2);
    lr_expect_json(&r.flows[0],
                   "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":9,"
                   "\"src_addr\":\"10.0.0.1\",\"dst_addr\":\"10.0.0.2\",\"src_port\":40000,"
                   "\"dst_port\":80,\"proto\":6,\"tcp_flags\":27,\"packets\":5,\"bytes\":500,"
                   "\"start_ms\":1704103200000,\"end_ms\":1704103201000,\"sampling_rate\":1,"
                   "\"ip_version\":4,\"flow_id\":42}");
    lr_expect_json(&r.flows[1],
                   "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":9,"
                   "\"src_addr\":\"10.0.0.2\",\"dst_addr\":\"10.0.0.1\",\"src_port\":80,"
                   "\"dst_port\":40000,\"proto\":6,\"tcp_flags\":19,\"packets\":4,\"bytes\":3000,"
                   "\"start_ms\":1704103200000,\"end_ms\":1704103200900,\"sampling_rate\":1,"
                   "\"ip_version\":4,\"flow_id\":42}");
    fs_eve_free(e);
}

Test(eve, other_events_skipped, .timeout = 10)
{
    struct fs_eve *e = fs_eve_new(&cfg);
    static struct linerun r;

    feed(e,
         /* An alert carries a "flow" object too: not a flow record. */
         "{\"timestamp\":\"2024-01-01T10:00:00.000000+0000\",\"flow_id\":42,"
         "\"event_type\":\"alert\",\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.2\","
         "\"proto\":\"TCP\",\"alert\":{\"signature_id\":2100498,\"signature\":\"GPL ATTACK\"},"
         "\"flow\":{\"pkts_toserver\":1,\"start\":\"2024-01-01T10:00:00.000000+0000\"}}\n"
         "{\"timestamp\":\"2024-01-01T10:00:00.000000+0000\",\"event_type\":\"dns\","
         "\"dns\":{\"type\":\"query\",\"rrname\":\"example.org\"}}\n"
         "{\"timestamp\":\"2024-01-01T10:00:00.000000+0000\",\"event_type\":\"stats\","
         "\"stats\":{\"uptime\":10}}\n"
         "\n"
         /* The event type decides even when it comes last. */
         "{\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.2\",\"event_type\":\"http\"}\n",
         &r);
    cr_expect_eq(r.n, 0);
    cr_expect_eq(r.malformed, 0, "%s", r.err[0]);
    cr_expect_eq(r.skipped, 5);
    const struct fs_ls_counters *c = fs_eve_counters(e);
    cr_expect_eq(c->lines, 5);
    cr_expect_eq(c->skipped, 5);
    cr_expect_eq(c->flows, 0);
    fs_eve_free(e);
}

Test(eve, malformed_lines, .timeout = 10)
{
    static const struct {
        const char *line, *message;
    } cases[] = {
        /* Cut short: the last line of a file whose writer died. */
        {"{\"event_type\":\"flow\",\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.2\",\"flow\":{\"pk",
         "bad JSON"},
        {"not json", "bad JSON at byte 0"},
        {"{\"event_type\":\"flow\",\"dest_ip\":\"10.0.0.2\",\"flow\":{\"start\":"
         "\"2024-01-01T10:00:00.0Z\"}}", "no src_ip"},
        {"{\"event_type\":\"flow\",\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.2\"}",
         "no \"flow\" object"},
        {"{\"event_type\":\"netflow\",\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.2\","
         "\"flow\":{\"start\":\"2024-01-01T10:00:00.0Z\"}}", "no \"netflow\" object"},
        {"{\"event_type\":\"flow\",\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.2\","
         "\"flow\":{\"start\":\"2024-01-01T10:00:00.000000\"}}", "bad start"},
        {"{\"event_type\":\"flow\",\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.2\","
         "\"flow\":{\"start\":\"2024-02-30T10:00:00Z\"}}", "bad start"},
        {"{\"event_type\":\"flow\",\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.2\","
         "\"flow\":{\"end\":\"2024-01-01T10:00:00Z\"}}", "no start time"},
        {"{\"event_type\":\"flow\",\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.2\","
         "\"flow\":{\"pkts_toserver\":-1}}", "bad pkts_toserver -1"},
        {"{\"event_type\":\"flow\",\"src_ip\":\"10.0.0.256\"}", "bad src_ip \"10.0.0.256\""},
        {"{\"event_type\":\"flow\",\"src_port\":65536}", "bad src_port 65536"},
        {"{\"event_type\":\"flow\",\"proto\":\"XTP9\"}", "bad proto"},
        {"{\"event_type\":\"flow\",\"vlan\":5}", "vlan is not an array"},
        {"{\"event_type\":\"flow\",\"vlan\":[4096]}", "bad vlan 4096"},
        {"{\"event_type\":\"flow\",\"tcp\":{\"tcp_flags\":\"1bb\"}}", "bad tcp_flags"},
        {"{\"event_type\":\"flow\",\"flow_id\":18446744073709551616}", "bad flow_id"},
        {"{\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.2\"}", "no event_type"},
        {"{\"event_type\":\"flow\",\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"::1\","
         "\"flow\":{\"start\":\"2024-01-01T10:00:00Z\"}}", "different families"},
        {"{\"event_type\":\"flow\"}}", "text after the end"},
        {"{\"event_type\":\"flow\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
         "nested too deep"},
    };
    struct fs_eve *e = fs_eve_new(&cfg);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[200] = "";
        struct fs_flow f;
        int rc = fs_eve_line(e, cases[i].line, strlen(cases[i].line), &f, err, sizeof(err));
        cr_expect_eq(rc, -1, "accepted: %s", cases[i].line);
        cr_expect_not_null(strstr(err, cases[i].message), "for %s: got \"%s\", want \"%s\"",
                           cases[i].line, err, cases[i].message);
    }
    cr_expect_eq(fs_eve_counters(e)->malformed, sizeof(cases) / sizeof(cases[0]));
    fs_eve_free(e);
}

Test(eve, never_crashes_on_cut_lines, .timeout = 30)
{
    const char *line =
        "{\"timestamp\":\"2024-01-01T10:00:05.000000+0000\",\"flow_id\":1,\"in_iface\":\"eth1\","
        "\"event_type\":\"flow\",\"vlan\":[1,2],\"src_ip\":\"::1\",\"src_port\":1,"
        "\"dest_ip\":\"::2\",\"dest_port\":2,\"proto\":6,\"flow\":{\"pkts_toserver\":1,"
        "\"start\":\"2024-01-01T10:00:00.1+0000\",\"end\":\"2024-01-01T10:00:01+00\"},"
        "\"ether\":{\"src_mac\":\"00:11:22:33:44:55\",\"dest_mac\":\"00:11:22:33:44:56\"},"
        "\"tcp\":{\"tcp_flags_ts\":\"2\",\"tcp_flags_tc\":\"12\"},\"x\":\"\\\"\\\\\\/\\b\"}";
    size_t len = strlen(line);
    struct fs_eve *e = fs_eve_new(&cfg);

    for (size_t cut = 0; cut < len; cut++) {
        char *copy = malloc(cut ? cut : 1);
        char err[200];
        struct fs_flow f;
        memcpy(copy, line, cut);
        cr_expect_neq(fs_eve_line(e, copy, cut, &f, err, sizeof(err)), 1, "cut at %zu", cut);
        free(copy);
    }
    char err[200] = "";
    struct fs_flow f;
    cr_assert_eq(fs_eve_line(e, line, len, &f, err, sizeof(err)), 1, "%s", err);
    cr_expect_eq(f.in_if, 4);
    cr_expect_eq(f.tcp_flags, 2);
    cr_expect_eq(f.rev_tcp_flags, 0x12);
    cr_expect_eq(f.dst_mac[5], 0x56);
    cr_expect_eq(f.end_ms, 1704103201000ull);
    const struct fs_ls_counters *c = fs_eve_counters(e);
    cr_expect_eq(c->lines, len + 1);
    cr_expect_eq(c->lines, c->flows + c->malformed + c->skipped);
    fs_eve_free(e);
}
