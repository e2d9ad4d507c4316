/*
 * test_flowgen.c - the synthetic exporter (tools/lib/flowgen) against two
 * independent readers: the collector's decoder, which must give back exactly
 * the flows that were generated, for each format, and tshark, whose NetFlow
 * dissector must read the same addresses, ports and counters out of the
 * generated datagrams. Layout facts checked by hand come from the Cisco v5
 * record format, RFC 3954 (v9) and RFC 7011 (IPFIX).
 */
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "decode.h"
#include "flowgen.h"
#include "proc.h"

#define DATAGRAM_CAP 2048
#define MAX_FLOWS 64

/* Flows the decoder delivered for the datagram being decoded. */
struct got {
    struct fs_flow flows[MAX_FLOWS * 2];
    size_t n;
};

static void collect(void *arg, const struct fs_flow *flows, size_t n)
{
    struct got *g = arg;

    cr_assert_leq(g->n + n, MAX_FLOWS * 2, "more flows than any datagram holds");
    memcpy(g->flows + g->n, flows, n * sizeof(*flows));
    g->n += n;
}

static bool same_ip(const fs_ip *a, const fs_ip *b)
{
    return a->af == b->af && memcmp(a->b, b->b, a->af == 6 ? 16 : 4) == 0;
}

/* The decoder may add what it knows of every flow (the sampling rate it
 * applied, the IP version); everything else must be what was generated. */
static void expect_flow(const struct fs_flow *want, const struct fs_flow *got, uint32_t rate,
                        size_t idx)
{
    uint64_t extra = UINT64_C(1) << FS_F_SAMPLING | UINT64_C(1) << FS_F_IP_VERSION;
    uint64_t mult = rate ? rate : 1;

    cr_assert_eq(got->present & want->present, want->present,
                 "flow %zu: fields missing: %#llx", idx,
                 (unsigned long long)(want->present & ~got->present));
    cr_assert_eq(got->present & ~(want->present | extra), 0,
                 "flow %zu: unexpected fields %#llx", idx,
                 (unsigned long long)(got->present & ~(want->present | extra)));
    cr_assert_eq(got->version, want->version, "flow %zu", idx);
    cr_assert_eq(got->domain, want->domain, "flow %zu", idx);
    cr_assert(same_ip(&got->src_addr, &want->src_addr), "flow %zu: src", idx);
    cr_assert(same_ip(&got->dst_addr, &want->dst_addr), "flow %zu: dst", idx);
    cr_assert(same_ip(&got->next_hop, &want->next_hop), "flow %zu: next hop", idx);
    cr_assert_eq(got->src_port, want->src_port, "flow %zu", idx);
    cr_assert_eq(got->dst_port, want->dst_port, "flow %zu", idx);
    cr_assert_eq(got->proto, want->proto, "flow %zu", idx);
    cr_assert_eq(got->tos, want->tos, "flow %zu", idx);
    cr_assert_eq(got->tcp_flags, want->tcp_flags, "flow %zu", idx);
    cr_assert_eq(got->packets, want->packets * mult, "flow %zu", idx);
    cr_assert_eq(got->bytes, want->bytes * mult, "flow %zu", idx);
    cr_assert_eq(got->in_if, want->in_if, "flow %zu", idx);
    cr_assert_eq(got->out_if, want->out_if, "flow %zu", idx);
    cr_assert_eq(got->start_ms, want->start_ms, "flow %zu: start %llu, want %llu", idx,
                 (unsigned long long)got->start_ms, (unsigned long long)want->start_ms);
    cr_assert_eq(got->end_ms, want->end_ms, "flow %zu: end %llu, want %llu", idx,
                 (unsigned long long)got->end_ms, (unsigned long long)want->end_ms);
    cr_assert_eq(got->src_as, want->src_as, "flow %zu", idx);
    cr_assert_eq(got->dst_as, want->dst_as, "flow %zu", idx);
    cr_assert_eq(got->src_mask, want->src_mask, "flow %zu", idx);
    cr_assert_eq(got->dst_mask, want->dst_mask, "flow %zu", idx);
    cr_assert_eq(got->flags & FS_FLOW_TIME_CLAMPED, 0, "flow %zu", idx);
    if (rate) {
        cr_assert(FS_FLOW_HAS(got, FS_F_SAMPLING), "flow %zu: no sampling rate", idx);
        cr_assert_eq(got->sampling_rate, rate, "flow %zu", idx);
    }
    if (FS_FLOW_HAS(got, FS_F_IP_VERSION))
        cr_assert_eq(got->ip_version, want->src_addr.af, "flow %zu", idx);
}

/*
 * Generates `datagrams` datagrams, decodes each, and compares flow by flow.
 * `rate` is the sampling rate the decoder must apply (0: none announced).
 * Returns the decoder's totals through `totals`.
 */
static void roundtrip(const struct fs_gen_config *cfg, size_t datagrams, uint32_t rate,
                      struct fs_counters *totals)
{
    struct fs_decoder_config dcfg = {0};
    struct fs_decoder *d = fs_decoder_new(&dcfg);
    struct fs_gen *g = fs_gen_new(cfg);
    static struct fs_flow want[MAX_FLOWS];
    static struct got got;
    uint8_t buf[DATAGRAM_CAP];
    uint64_t flows = 0;
    size_t v6 = 0;

    cr_assert_not_null(d);
    cr_assert_not_null(g);
    for (size_t i = 0; i < datagrams; i++) {
        size_t n;
        int len = fs_gen_next(g, buf, sizeof(buf), want, MAX_FLOWS, &n);

        cr_assert_gt(len, 0);
        cr_assert_gt(n, 0, "datagram %zu carries no flow", i);
        got.n = 0;
        int rc = fs_decode(d, &cfg->exporter, cfg->start_ms, buf, (size_t)len, collect, &got);
        cr_assert_eq(rc, (int)n, "datagram %zu: decoder says %d, generated %zu", i, rc, n);
        cr_assert_eq(got.n, n, "datagram %zu", i);
        for (size_t k = 0; k < n; k++) {
            expect_flow(&want[k], &got.flows[k], rate, flows + k);
            v6 += want[k].src_addr.af == 6;
        }
        flows += n;
    }
    *totals = *fs_decoder_totals(d);
    cr_assert_eq(totals->flows, flows);
    cr_assert_eq(fs_gen_flows_sent(g), flows);
    cr_assert_eq(fs_gen_datagrams_sent(g), datagrams);
    cr_assert_eq(fs_counters_errors(totals), 0);
    cr_assert_eq(totals->seq_lost, 0, "sequence numbers skip: %llu lost",
                 (unsigned long long)totals->seq_lost);
    cr_assert_eq(totals->seq_reordered, 0);
    cr_assert_eq(totals->seq_resets, 0);
    if (cfg->ipv6_percent)
        cr_assert_gt(v6, 0, "no IPv6 flow was generated");
    else
        cr_assert_eq(v6, 0);
    fs_gen_free(g);
    fs_decoder_free(d);
}

static struct fs_gen_config config(uint16_t version)
{
    struct fs_gen_config c = {
        .seed = 7,
        .version = version,
        .domain = version == 5 ? 0x0102 : 42,
        .exporter = {.af = 4, .b = {192, 0, 2, 10}},
        .start_ms = 1735689600123ull, /* 2025-01-01T00:00:00.123Z */
    };
    return c;
}

Test(flowgen, v5_roundtrip)
{
    struct fs_gen_config c = config(5);
    struct fs_counters t;

    roundtrip(&c, 400, 0, &t);
    /* 30 records per datagram when nothing limits it (the v5 maximum) */
    cr_assert_eq(t.flows, 400 * 30);
}

Test(flowgen, v9_roundtrip)
{
    struct fs_gen_config c = config(9);
    struct fs_counters t;

    c.ipv6_percent = 20;
    roundtrip(&c, 400, 0, &t);
    /* the two data templates, in the first datagram and every 20th after */
    cr_assert_eq(t.templates, 2 * 400 / 20);
}

Test(flowgen, ipfix_roundtrip)
{
    struct fs_gen_config c = config(10);
    struct fs_counters t;

    c.ipv6_percent = 20;
    roundtrip(&c, 400, 0, &t);
    cr_assert_eq(t.templates, 2 * 400 / 20);
}

Test(flowgen, sampling_is_announced)
{
    static const struct {
        uint16_t version;
        uint32_t rate;
    } cases[] = {{5, 100}, {9, 512}, {10, 1000}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fs_gen_config c = config(cases[i].version);
        struct fs_counters t;

        c.sampling_rate = cases[i].rate;
        c.template_interval = 7;
        roundtrip(&c, 50, cases[i].rate, &t);
        cr_assert_eq(t.sampling_unknown, 0);
        if (cases[i].version != 5) {
            /* data templates plus the options template, 8 times in 50 datagrams */
            cr_assert_eq(t.templates, 3 * 8, "v%u: %llu templates", cases[i].version,
                         (unsigned long long)t.templates);
            cr_assert_eq(t.options_records, 8);
        }
    }
}

Test(flowgen, small_datagrams_and_few_flows)
{
    struct fs_gen_config c = config(10);
    struct fs_counters t;

    c.ipv6_percent = 50;
    c.max_datagram = 576;
    roundtrip(&c, 100, 0, &t);

    c = config(9);
    c.flows_per_datagram = 3;
    c.ipv6_percent = 30;
    roundtrip(&c, 100, 0, &t);
    cr_assert_eq(t.flows, 300);
}

Test(flowgen, datagram_layout)
{
    struct fs_gen_config c = config(5);
    struct fs_gen *g = fs_gen_new(&c);
    struct fs_flow flows[MAX_FLOWS];
    uint8_t buf[DATAGRAM_CAP];
    uint32_t seq = 0;
    size_t n;

    cr_assert_not_null(g);
    for (int i = 0; i < 5; i++) {
        int len = fs_gen_next(g, buf, sizeof(buf), flows, MAX_FLOWS, &n);
        /* v5: 24-byte header, 48-byte records, count at 2, flow_sequence at
         * 16 counting records, engine type and id at 20 and 21 */
        cr_assert_eq(len, 24 + 48 * (int)n);
        cr_assert_eq(buf[0] << 8 | buf[1], 5);
        cr_assert_eq((size_t)(buf[2] << 8 | buf[3]), n);
        cr_assert_eq((uint32_t)buf[16] << 24 | buf[17] << 16 | buf[18] << 8 | buf[19], seq);
        cr_assert_eq(buf[20], 0x01);
        cr_assert_eq(buf[21], 0x02);
        seq += (uint32_t)n;
    }
    cr_assert_eq(fs_gen_next_sequence(g), seq);
    fs_gen_free(g);

    c = config(10);
    c.max_datagram = 1000;
    g = fs_gen_new(&c);
    cr_assert_not_null(g);
    for (int i = 0; i < 30; i++) {
        int len = fs_gen_next(g, buf, sizeof(buf), flows, MAX_FLOWS, &n);
        /* IPFIX: the message length field (offset 2) is the datagram's */
        cr_assert_leq(len, 1000);
        cr_assert_eq(buf[0] << 8 | buf[1], 10);
        cr_assert_eq(buf[2] << 8 | buf[3], len);
        /* the first set follows the 16-byte header: templates (set id 2) first */
        if (i % 20 == 0)
            cr_assert_eq(buf[16] << 8 | buf[17], 2);
        else
            cr_assert_geq(buf[16] << 8 | buf[17], 256);
    }
    fs_gen_free(g);
}

Test(flowgen, same_seed_same_bytes)
{
    struct fs_gen_config c = config(9);
    struct fs_gen *a, *b;
    struct fs_flow flows[MAX_FLOWS];
    uint8_t ba[DATAGRAM_CAP], bb[DATAGRAM_CAP];
    size_t n;
    bool differ = false;

    c.ipv6_percent = 10;
    a = fs_gen_new(&c);
    b = fs_gen_new(&c);
    for (int i = 0; i < 50; i++) {
        int la = fs_gen_next(a, ba, sizeof(ba), flows, MAX_FLOWS, &n);
        int lb = fs_gen_next(b, bb, sizeof(bb), flows, MAX_FLOWS, &n);
        cr_assert_eq(la, lb);
        cr_assert_arr_eq(ba, bb, (size_t)la);
    }
    fs_gen_free(b);
    c.seed++;
    b = fs_gen_new(&c);
    for (int i = 0; i < 5; i++) {
        int la = fs_gen_next(a, ba, sizeof(ba), flows, MAX_FLOWS, &n);
        int lb = fs_gen_next(b, bb, sizeof(bb), flows, MAX_FLOWS, &n);
        differ |= la != lb || memcmp(ba, bb, (size_t)la) != 0;
    }
    cr_assert(differ, "another seed gave the same stream");
    fs_gen_free(a);
    fs_gen_free(b);
}

Test(flowgen, traffic_looks_like_an_edge_router)
{
    struct fs_gen_config c = config(9);
    struct fs_gen *g;
    struct fs_flow f;
    size_t tcp = 0, udp = 0, icmp = 0, https = 0, one_packet = 0, n = 20000;
    uint64_t now = c.start_ms, max_packets = 0;

    c.ipv6_percent = 10;
    g = fs_gen_new(&c);
    cr_assert_not_null(g);
    for (size_t i = 0; i < n; i++) {
        fs_gen_flow(g, now, &f);
        cr_assert_leq(f.start_ms, f.end_ms);
        cr_assert_leq(f.end_ms, now);
        cr_assert_geq(f.bytes, f.packets * 28, "a packet is at least an IP+UDP header");
        cr_assert_geq(f.packets, 1);
        tcp += f.proto == 6;
        udp += f.proto == 17;
        icmp += f.proto == 1 || f.proto == 58;
        https += f.dst_port == 443 || f.src_port == 443;
        one_packet += f.packets == 1;
        if (f.packets > max_packets)
            max_packets = f.packets;
        /* one side is always an internal host */
        cr_assert(f.src_addr.b[0] == 10 || f.dst_addr.b[0] == 10 ||
                  (f.src_addr.af == 6 && f.src_addr.b[4] == 0 && f.src_addr.b[5] == 0x10) ||
                  (f.dst_addr.af == 6 && f.dst_addr.b[4] == 0 && f.dst_addr.b[5] == 0x10));
    }
    cr_assert_eq(tcp + udp + icmp, n);
    cr_assert(tcp > n * 3 / 4 && tcp < n * 9 / 10, "TCP share %zu of %zu", tcp, n);
    cr_assert(icmp > 0 && icmp < n / 20);
    cr_assert_gt(https, n / 3, "HTTPS dominates");
    cr_assert_gt(one_packet, n / 20);
    cr_assert_gt(max_packets, 10000, "heavy tail: no elephant in %zu flows", n);
    fs_gen_free(g);
}

Test(flowgen, rejects_what_a_format_cannot_carry)
{
    struct fs_gen_config c = config(5);
    struct fs_gen *g;
    struct fs_flow f;
    uint8_t buf[DATAGRAM_CAP];
    size_t used;

    c.ipv6_percent = 10;
    cr_assert_null(fs_gen_new(&c));
    c = config(5);
    c.sampling_rate = 20000; /* v5 has 14 bits for the interval */
    cr_assert_null(fs_gen_new(&c));
    c = config(7);
    cr_assert_null(fs_gen_new(&c));
    c = config(9);
    c.max_datagram = 100; /* the templates alone are bigger */
    cr_assert_null(fs_gen_new(&c));

    c = config(9);
    c.ipv6_percent = 100;
    g = fs_gen_new(&c);
    fs_gen_flow(g, c.start_ms, &f);
    fs_gen_free(g);
    cr_assert_eq(f.src_addr.af, 6);
    c = config(5);
    g = fs_gen_new(&c);
    cr_assert_eq(fs_gen_encode(g, &f, 1, c.start_ms, buf, sizeof(buf), &used), -1);
    cr_assert_eq(used, 0);
    fs_gen_free(g);
}

Test(flowgen, shift_sequence)
{
    /* hand-made headers: v5 flow_sequence at offset 16, v9 package sequence
     * at 12 (RFC 3954), IPFIX sequence at 8 (RFC 7011) */
    uint8_t v5[24] = {0, 5, [16] = 0, 0, 0x01, 0x00};
    uint8_t v9[20] = {0, 9, [12] = 0xff, 0xff, 0xff, 0xff};
    uint8_t ipfix[16] = {0, 10, 0, 16, [8] = 0, 0, 0, 7};
    uint8_t v7[24] = {0, 7};

    cr_assert_eq(fs_gen_shift_sequence(v5, sizeof(v5), 30), 0);
    cr_assert_eq(v5[18] << 8 | v5[19], 256 + 30);
    cr_assert_eq(fs_gen_shift_sequence(v9, sizeof(v9), 2), 0);
    cr_assert_eq(v9[12] | v9[13] | v9[14], 0, "wraps modulo 2^32");
    cr_assert_eq(v9[15], 1);
    cr_assert_eq(fs_gen_shift_sequence(ipfix, sizeof(ipfix), 1000), 0);
    cr_assert_eq(ipfix[10] << 8 | ipfix[11], 1007);
    cr_assert_eq(fs_gen_shift_sequence(v7, sizeof(v7), 1), -1);
    cr_assert_eq(fs_gen_shift_sequence(v5, 12, 1), -1);
}

/* Writes the datagrams into a raw-IP capture, UDP to port 2055. */
static void write_capture(const char *path, uint8_t (*dgrams)[DATAGRAM_CAP], const int *lens,
                          size_t n)
{
    pcap_t *p = pcap_open_dead(DLT_RAW, 65535);
    pcap_dumper_t *dump = pcap_dump_open(p, path);

    cr_assert_not_null(dump, "%s", pcap_geterr(p));
    for (size_t i = 0; i < n; i++) {
        uint8_t pkt[DATAGRAM_CAP + 28] = {0x45};
        size_t total = 28 + (size_t)lens[i];
        struct pcap_pkthdr h = {.ts = {.tv_sec = 1735689600 + (time_t)i},
                                .caplen = (bpf_u_int32)total, .len = (bpf_u_int32)total};

        pkt[2] = (uint8_t)(total >> 8);
        pkt[3] = (uint8_t)total;
        pkt[8] = 64;
        pkt[9] = 17;
        memcpy(pkt + 12, (uint8_t[]){192, 0, 2, 10, 192, 0, 2, 20}, 8);
        pkt[20] = 0x9c; /* source port 40000 */
        pkt[21] = 0x40;
        pkt[22] = 0x08; /* 2055 */
        pkt[23] = 0x07;
        pkt[24] = (uint8_t)((lens[i] + 8) >> 8);
        pkt[25] = (uint8_t)(lens[i] + 8);
        memcpy(pkt + 28, dgrams[i], (size_t)lens[i]);
        pcap_dump((u_char *)dump, &h, pkt);
    }
    pcap_dump_close(dump);
    pcap_close(p);
}

/* Appends `v` to a comma-separated list, as tshark aggregates occurrences. */
static void list_add(char *list, size_t cap, const char *v)
{
    size_t len = strlen(list);

    snprintf(list + len, cap - len, "%s%s", len ? "," : "", v);
}

static void tshark_agrees(uint16_t version)
{
    enum { N = 45 };
    static uint8_t dgrams[N][DATAGRAM_CAP];
    static struct fs_flow flows[N][MAX_FLOWS];
    size_t nflows[N];
    int lens[N];
    struct fs_gen_config c = config(version);
    struct fs_gen *g;
    char dir[128], path[192], *line, *save = NULL;
    struct fs_proc_output out;
    uint32_t seq = 0;

    if (access("/usr/bin/tshark", X_OK) != 0)
        cr_skip_test("tshark is not installed");
    c.ipv6_percent = version == 5 ? 0 : 25;
    c.sampling_rate = 64;
    g = fs_gen_new(&c);
    cr_assert_not_null(g);
    for (size_t i = 0; i < N; i++) {
        lens[i] = fs_gen_next(g, dgrams[i], DATAGRAM_CAP, flows[i], MAX_FLOWS, &nflows[i]);
        cr_assert_gt(lens[i], 0);
    }
    fs_gen_free(g);
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    snprintf(path, sizeof(path), "%s/gen.pcap", dir);
    write_capture(path, dgrams, lens, N);

    char *argv[] = {"/usr/bin/tshark", "-n", "-r", path, "-d", "udp.port==2055,cflow",
                    "-T", "fields", "-E", "separator=|",
                    "-e", "cflow.srcaddr", "-e", "cflow.srcaddrv6", "-e", "cflow.dstport",
                    "-e", "cflow.packets", "-e", "cflow.octets", "-e", "cflow.srcas",
                    "-e", "cflow.sequence", NULL};
    cr_assert_eq(fs_proc_run(argv, 60000, &out), 0);
    fs_rmtree(dir);
    cr_assert(WIFEXITED(out.status) && WEXITSTATUS(out.status) == 0, "tshark: %s", out.err);

    line = strtok_r(out.out, "\n", &save);
    for (size_t i = 0; i < N; i++, line = strtok_r(NULL, "\n", &save)) {
        char want[6][8192] = {{0}}, v[64];

        cr_assert_not_null(line, "tshark printed %zu lines for %d datagrams", i, N);
        for (size_t k = 0; k < nflows[i]; k++) {
            const struct fs_flow *f = &flows[i][k];
            fs_ip_format(&f->src_addr, v);
            list_add(want[f->src_addr.af == 6], sizeof(want[0]), v);
            snprintf(v, sizeof(v), "%u", f->dst_port);
            list_add(want[2], sizeof(want[0]), v);
            snprintf(v, sizeof(v), "%llu", (unsigned long long)f->packets);
            list_add(want[3], sizeof(want[0]), v);
            snprintf(v, sizeof(v), "%llu", (unsigned long long)f->bytes);
            list_add(want[4], sizeof(want[0]), v);
            snprintf(v, sizeof(v), "%u", f->src_as);
            list_add(want[5], sizeof(want[0]), v);
        }
        cr_assert_gt(nflows[i], 0);
        char expect[6 * 8192 + 64];
        snprintf(expect, sizeof(expect), "%s|%s|%s|%s|%s|%s|%u", want[0], want[1], want[2],
                 want[3], want[4], want[5], seq);
        cr_assert_str_eq(line, expect, "datagram %zu", i);
        /* Sequence numbers: v5 counts flow records, v9 export packets, IPFIX
         * data records, the sampling options record (sent with the templates,
         * every 20th datagram) included. */
        if (version == 5)
            seq += (uint32_t)nflows[i];
        else if (version == 9)
            seq++;
        else
            seq += (uint32_t)nflows[i] + (i % 20 == 0);
    }
    fs_proc_output_free(&out);
}

Test(flowgen, tshark_reads_v5, .timeout = 120)
{
    tshark_agrees(5);
}

Test(flowgen, tshark_reads_v9, .timeout = 120)
{
    tshark_agrees(9);
}

Test(flowgen, tshark_reads_ipfix, .timeout = 120)
{
    tshark_agrees(10);
}
