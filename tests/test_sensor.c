/*
 * test_sensor.c - flowsentry-sensor end to end: capture files written by
 * the test (tests/helpers/pktbuild: every link type, IPv4 and IPv6 with
 * extension headers, TCP, UDP, ICMP, ICMPv6, other protocols, fragments,
 * timeouts, FIN/RST, a full table) are read with --read --json and the
 * flows printed must be exactly the ones the packets make. The capture
 * module is also tested alone (pcapng, filters, errors), and, when the test
 * runs as root, a live capture on the loopback interface publishes its
 * flows and the kernel's counters on the bus.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus.h"
#include "capture.h"
#include "../sensor/config.h" /* not the collector's config.h */
#include "msg.h"
#include "pktbuild.h"
#include "proc.h"

#define SENSOR FS_BINARY_DIR "/flowsentry-sensor"
#define T0 1700000000000000ull /* µs: 2023-11-14T22:13:20Z */
#define MS(us) ((us) / 1000)

/* An expected flow; -1 for a field that must be absent. */
struct want {
    const char *src, *dst;
    long sport, dport;
    int proto;
    int tos;
    long tcp_flags;
    uint64_t packets, bytes;
    uint64_t start_ms, end_ms;
    long vlan, in_if;
    long icmp_type, icmp_code;
};

static char dir[128];

static void setup(void)
{
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
}

static void teardown(void)
{
    fs_rmtree(dir);
}

static const char *path_of(const char *name)
{
    static char p[4][256];
    static int k;

    k = (k + 1) % 4;
    snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
    return p[k];
}

/* Runs the sensor with `args` (NULL-terminated) plus --json, and returns
 * its output; asserts it exited with `status`. */
static void run(const char *const *args, int status, struct fs_proc_output *o)
{
    char *argv[64];
    size_t n = 0;

    argv[n++] = SENSOR;
    for (; *args; args++)
        argv[n++] = (char *)*args;
    argv[n++] = "--json";
    argv[n] = NULL;
    cr_assert_eq(fs_proc_run(argv, 60000, o), 0, "sensor did not finish");
    cr_assert(WIFEXITED(o->status), "sensor died: %s", o->err);
    cr_assert_eq(WEXITSTATUS(o->status), status, "exit %d: %s", WEXITSTATUS(o->status), o->err);
}

static long num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    return v == NULL ? -1 : (long)json_integer_value(v);
}

static bool matches(json_t *o, const struct want *w)
{
    return strcmp(json_string_value(json_object_get(o, "src_addr")), w->src) == 0 &&
           strcmp(json_string_value(json_object_get(o, "dst_addr")), w->dst) == 0 &&
           num(o, "src_port") == w->sport && num(o, "dst_port") == w->dport &&
           num(o, "proto") == w->proto && (uint64_t)num(o, "start_ms") == w->start_ms &&
           num(o, "src_vlan") == w->vlan && num(o, "tos") == w->tos;
}

/* Every line of `out` is one flow of `w`, and every flow of `w` is there. */
static void expect_flows(const char *out, const struct want *w, size_t n)
{
    char *copy = strdup(out), *save = NULL;
    bool seen[64] = {false};
    size_t lines = 0;

    cr_assert_leq(n, 64);
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        size_t i;

        cr_assert_not_null(o, "not JSON: %s", line);
        for (i = 0; i < n && (seen[i] || !matches(o, &w[i])); i++)
            ;
        cr_assert_lt(i, n, "unexpected flow: %s", line);
        seen[i] = true;
        cr_assert_str_eq(json_string_value(json_object_get(o, "exporter")), "0.0.0.0");
        cr_assert_eq(num(o, "version"), 0, "%s", line);
        cr_assert_eq((uint64_t)num(o, "packets"), w[i].packets, "%s", line);
        cr_assert_eq((uint64_t)num(o, "bytes"), w[i].bytes, "%s", line);
        cr_assert_eq((uint64_t)num(o, "end_ms"), w[i].end_ms, "%s", line);
        cr_assert_eq(num(o, "tcp_flags"), w[i].tcp_flags, "%s", line);
        cr_assert_eq(num(o, "in_if"), w[i].in_if, "%s", line);
        cr_assert_eq(num(o, "icmp_type"), w[i].icmp_type, "%s", line);
        cr_assert_eq(num(o, "icmp_code"), w[i].icmp_code, "%s", line);
        cr_assert_eq(num(o, "ip_version"), strchr(w[i].src, ':') ? 6 : 4, "%s", line);
        cr_assert_eq(num(o, "sampling_rate"), 1, "%s", line);
        json_decref(o);
        lines++;
    }
    cr_assert_eq(lines, n, "%zu flows printed, %zu expected:\n%s", lines, n, out);
    free(copy);
}

/*
 * Link types: the same traffic in each, a TCP connection, a UDP exchange
 * and IPv6 UDP behind three extension headers.
 */

static const struct pkt syn = {.src = "192.0.2.1", .dst = "198.51.100.2", .proto = 6,
                               .sport = 33000, .dport = 80, .tcp_flags = 0x02};
static const struct pkt dns = {.src = "192.0.2.1", .dst = "198.51.100.53", .proto = 17,
                               .sport = 5000, .dport = 53, .payload = 40, .tos = 0x10};
static const struct pkt v6 = {.src = "2001:db8::1", .dst = "2001:db8::2", .proto = 17,
                              .sport = 6000, .dport = 6001, .payload = 100, .v6_ext = 3};

static void write_link_capture(const char *path, int dlt, unsigned nvlan, uint16_t v0,
                               uint16_t v1)
{
    struct pcapw *w = pcapw_open(path, dlt);
    struct pkt p = syn;

    p.nvlan = nvlan;
    p.vlan[0] = v0;
    p.vlan[1] = v1;
    p.sll2_ifindex = 7;
    pcapw_pkt(w, T0, &p);
    p.tcp_flags = 0x18;
    p.payload = 300;
    pcapw_pkt(w, T0 + 1000, &p);
    p.tcp_flags = 0x11;
    p.payload = 0;
    pcapw_pkt(w, T0 + 2000, &p);
    p = dns;
    p.nvlan = nvlan;
    p.vlan[0] = v0;
    p.vlan[1] = v1;
    p.sll2_ifindex = 7;
    pcapw_pkt(w, T0 + 3000, &p);
    p.src = dns.dst;
    p.dst = dns.src;
    p.sport = 53;
    p.dport = 5000;
    p.payload = 120;
    pcapw_pkt(w, T0 + 4000, &p);
    p = v6;
    p.nvlan = nvlan;
    p.vlan[0] = v0;
    p.vlan[1] = v1;
    p.sll2_ifindex = 7;
    pcapw_pkt(w, T0 + 5000, &p);
    pcapw_pkt(w, T0 + 6000, &p);
    pcapw_close(w);
}

static void check_link(int dlt, unsigned nvlan, uint16_t v0, uint16_t v1)
{
    const char *path = path_of("link.pcap");
    struct fs_proc_output o;
    long vlan = nvlan ? v0 : -1, in_if = dlt == DLT_LINUX_SLL2 ? 7 : -1;
    const struct want w[] = {
        {"192.0.2.1", "198.51.100.2", 33000, 80, 6, 0, 0x1b, 3, 40 + 340 + 40, MS(T0),
         MS(T0) + 2, vlan, in_if, -1, -1},
        {"192.0.2.1", "198.51.100.53", 5000, 53, 17, 0x10, -1, 1, 20 + 8 + 40, MS(T0) + 3,
         MS(T0) + 3, vlan, in_if, -1, -1},
        {"198.51.100.53", "192.0.2.1", 53, 5000, 17, 0x10, -1, 1, 20 + 8 + 120, MS(T0) + 4,
         MS(T0) + 4, vlan, in_if, -1, -1},
        /* IPv6 40 + three 8-byte extension headers + UDP 8 + 100 */
        {"2001:db8::1", "2001:db8::2", 6000, 6001, 17, 0, -1, 2, 2 * (40 + 24 + 8 + 100),
         MS(T0) + 5, MS(T0) + 6, vlan, in_if, -1, -1},
    };

    write_link_capture(path, dlt, nvlan, v0, v1);
    run((const char *[]){"--read", path, NULL}, 0, &o);
    expect_flows(o.out, w, 4);
    cr_assert(strstr(o.err, "packets 7, ") != NULL, "summary: %s", o.err);
    fs_proc_output_free(&o);
}

TestSuite(sensor, .init = setup, .fini = teardown, .timeout = 120);

Test(sensor, ethernet)
{
    check_link(DLT_EN10MB, 0, 0, 0);
}

Test(sensor, vlan_8021q)
{
    check_link(DLT_EN10MB, 1, 42, 0);
}

Test(sensor, qinq)
{
    check_link(DLT_EN10MB, 2, 300, 42);
}

Test(sensor, linux_sll)
{
    check_link(DLT_LINUX_SLL, 0, 0, 0);
}

Test(sensor, linux_sll2)
{
    check_link(DLT_LINUX_SLL2, 0, 0, 0);
}

Test(sensor, raw_ip)
{
    check_link(DLT_RAW, 0, 0, 0);
}

Test(sensor, icmp_icmpv6_and_other_protocols)
{
    const char *path = path_of("proto.pcap");
    struct pcapw *w = pcapw_open(path, DLT_EN10MB);
    struct fs_proc_output o;
    const struct pkt ping = {.src = "192.0.2.1", .dst = "192.0.2.9", .proto = 1,
                             .icmp_type = 8, .payload = 56};
    const struct pkt unreach = {.src = "192.0.2.9", .dst = "192.0.2.1", .proto = 1,
                                .icmp_type = 3, .icmp_code = 3, .payload = 28};
    const struct pkt ping6 = {.src = "2001:db8::1", .dst = "2001:db8::9", .proto = 58,
                              .icmp_type = 128, .payload = 56, .v6_ext = 1};
    const struct pkt gre = {.src = "192.0.2.1", .dst = "203.0.113.1", .proto = 47,
                            .payload = 100};
    const struct pkt ospf6 = {.src = "fe80::1", .dst = "ff02::5", .proto = 89, .payload = 40};
    const struct want want[] = {
        {"192.0.2.1", "192.0.2.9", 0, 8 << 8, 1, 0, -1, 2, 2 * (20 + 8 + 56), MS(T0),
         MS(T0) + 1000, -1, -1, 8, 0},
        {"192.0.2.9", "192.0.2.1", 0, 3 << 8 | 3, 1, 0, -1, 1, 20 + 8 + 28, MS(T0) + 10,
         MS(T0) + 10, -1, -1, 3, 3},
        {"2001:db8::1", "2001:db8::9", 0, 128 << 8, 58, 0, -1, 1, 40 + 8 + 8 + 56, MS(T0) + 20,
         MS(T0) + 20, -1, -1, 128, 0},
        {"192.0.2.1", "203.0.113.1", -1, -1, 47, 0, -1, 1, 20 + 100, MS(T0) + 30, MS(T0) + 30,
         -1, -1, -1, -1},
        {"fe80::1", "ff02::5", -1, -1, 89, 0, -1, 1, 40 + 40, MS(T0) + 40, MS(T0) + 40, -1, -1,
         -1, -1},
    };

    pcapw_pkt(w, T0, &ping);
    pcapw_pkt(w, T0 + 10000, &unreach);
    pcapw_pkt(w, T0 + 20000, &ping6);
    pcapw_pkt(w, T0 + 30000, &gre);
    pcapw_pkt(w, T0 + 40000, &ospf6);
    pcapw_pkt(w, T0 + 1000000, &ping);
    pcapw_close(w);
    run((const char *[]){"--read", path, NULL}, 0, &o);
    expect_flows(o.out, want, 5);
    fs_proc_output_free(&o);
}

static struct pkt fragment(const struct pkt *base, uint32_t id, uint16_t off, bool more,
                           size_t bytes)
{
    struct pkt p = *base;

    p.frag = true;
    p.frag_id = id;
    p.frag_offset = off;
    p.more_frags = more;
    p.payload = bytes;
    return p;
}

Test(sensor, fragments)
{
    const char *path = path_of("frag.pcap");
    struct pcapw *w = pcapw_open(path, DLT_EN10MB);
    struct fs_proc_output o;
    const struct pkt u4 = {.src = "192.0.2.1", .dst = "192.0.2.2", .proto = 17, .sport = 7000,
                           .dport = 7001};
    const struct pkt u6 = {.src = "2001:db8::1", .dst = "2001:db8::2", .proto = 17,
                           .sport = 7000, .dport = 7001};
    /* in order (IPv4 id 1), out of order (IPv6 id 2: last, middle, first),
     * and a lone later fragment whose first never comes (IPv4 id 3) */
    const struct pkt p[] = {
        fragment(&u4, 1, 0, true, 1472), fragment(&u4, 1, 185, true, 1480),
        fragment(&u4, 1, 370, false, 48),
        fragment(&u6, 2, 362, false, 100), fragment(&u6, 2, 181, true, 1448),
        fragment(&u6, 2, 0, true, 1440),
        fragment(&u4, 3, 185, false, 500),
    };
    const struct want want[] = {
        {"192.0.2.1", "192.0.2.2", 7000, 7001, 17, 0, -1, 3,
         (20 + 8 + 1472) + (20 + 1480) + (20 + 48), MS(T0), MS(T0) + 2, -1, -1, -1, -1},
        /* IPv6 40 + Fragment header 8, then UDP 8 in the first one */
        {"2001:db8::1", "2001:db8::2", 7000, 7001, 17, 0, -1, 3,
         (48 + 100) + (48 + 1448) + (48 + 8 + 1440), MS(T0) + 3, MS(T0) + 5, -1, -1, -1, -1},
    };

    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
        pcapw_pkt(w, T0 + i * 1000, &p[i]);
    pcapw_close(w);
    run((const char *[]){"--read", path, NULL}, 0, &o);
    expect_flows(o.out, want, 2);
    cr_assert(strstr(o.err, "fragments 7 (held 3, unmatched 1, evicted 0)") != NULL,
              "summary: %s", o.err);
    fs_proc_output_free(&o);
}

Test(sensor, timeouts_and_tcp_end)
{
    const char *path = path_of("time.pcap");
    struct pcapw *w = pcapw_open(path, DLT_RAW);
    struct fs_proc_output o;
    struct pkt u = dns, t = syn;
    const uint64_t s = 1000000; /* µs per second */
    const struct want want[] = {
        /* inactive: packets at 0 and 10 s, then 26 s (16 s idle) */
        {"192.0.2.1", "198.51.100.53", 5000, 53, 17, 0x10, -1, 2, 2 * 68, MS(T0),
         MS(T0) + 10000, -1, -1, -1, -1},
        /* active (60 s): 26, 36, 46, 56, 66, 76 s -> 26..76 is 50 s; 86 ends it */
        {"192.0.2.1", "198.51.100.53", 5000, 53, 17, 0x10, -1, 6, 6 * 68, MS(T0) + 26000,
         MS(T0) + 76000, -1, -1, -1, -1},
        {"192.0.2.1", "198.51.100.53", 5000, 53, 17, 0x10, -1, 1, 68, MS(T0) + 86000,
         MS(T0) + 86000, -1, -1, -1, -1},
        /* SYN, ACK, RST: ends at the RST; the ACK after it starts anew */
        {"192.0.2.1", "198.51.100.2", 33000, 80, 6, 0, 0x16, 3, 3 * 40, MS(T0) + 100000,
         MS(T0) + 102000, -1, -1, -1, -1},
        {"192.0.2.1", "198.51.100.2", 33000, 80, 6, 0, 0x10, 1, 40, MS(T0) + 103000,
         MS(T0) + 103000, -1, -1, -1, -1},
    };

    pcapw_pkt(w, T0, &u);
    pcapw_pkt(w, T0 + 10 * s, &u);
    for (uint64_t k = 26; k <= 86; k += 10)
        pcapw_pkt(w, T0 + k * s, &u);
    pcapw_pkt(w, T0 + 100 * s, &t);
    t.tcp_flags = 0x10;
    pcapw_pkt(w, T0 + 101 * s, &t);
    t.tcp_flags = 0x04;
    pcapw_pkt(w, T0 + 102 * s, &t);
    t.tcp_flags = 0x10;
    pcapw_pkt(w, T0 + 103 * s, &t);
    pcapw_close(w);
    run((const char *[]){"--read", path, "--active-timeout", "60", NULL}, 0, &o);
    expect_flows(o.out, want, 5);
    /* the third UDP flow ends at 101 s, 15 s after its packet */
    cr_assert(strstr(o.err, "ended: inactive 2, active 1, tcp_end 1, table_full 0, "
                            "end of input 1") != NULL, "summary: %s", o.err);
    fs_proc_output_free(&o);
}

Test(sensor, full_table_ends_flows_early)
{
    const char *path = path_of("full.pcap");
    struct pcapw *w = pcapw_open(path, DLT_RAW);
    struct fs_proc_output o;
    struct want want[20];
    static char names[20][32];

    for (int i = 0; i < 20; i++) {
        struct pkt p = dns;

        snprintf(names[i], sizeof(names[i]), "10.9.0.%d", i + 1);
        p.src = names[i];
        pcapw_pkt(w, T0 + (uint64_t)i * 1000, &p);
        want[i] = (struct want){names[i], "198.51.100.53", 5000, 53, 17, 0x10, -1, 1, 68,
                                MS(T0) + (uint64_t)i, MS(T0) + (uint64_t)i, -1, -1, -1, -1};
    }
    pcapw_close(w);
    run((const char *[]){"--read", path, "--max-flows", "16", NULL}, 0, &o);
    expect_flows(o.out, want, 20);
    cr_assert(strstr(o.err, "table_full 4, end of input 16") != NULL, "summary: %s", o.err);
    fs_proc_output_free(&o);
}

Test(sensor, files_in_a_row_filter_and_pcapng)
{
    const char *a = path_of("a.pcap"), *b = path_of("b.pcapng");
    struct pcapw *w = pcapw_open(a, DLT_RAW);
    struct fs_proc_output o;
    uint8_t f1[PKT_MAX], f2[PKT_MAX];
    const uint8_t *frames[] = {f1, f2};
    size_t lens[2];
    uint64_t ts[] = {T0 + 2000, T0 + 3000};
    struct pkt p = dns;
    const struct want both[] = {
        {"192.0.2.1", "198.51.100.53", 5000, 53, 17, 0x10, -1, 3, 3 * 68, MS(T0), MS(T0) + 3,
         -1, -1, -1, -1},
        {"192.0.2.1", "198.51.100.2", 33000, 80, 6, 0, 0x02, 1, 40, MS(T0) + 1, MS(T0) + 1, -1,
         -1, -1, -1},
    };

    pcapw_pkt(w, T0, &p);
    pcapw_pkt(w, T0 + 1000, &syn);
    pcapw_close(w);
    p.dlt = DLT_RAW;
    lens[0] = pkt_build(&p, f1);
    lens[1] = pkt_build(&p, f2);
    pcapng_write(b, DLT_RAW, frames, lens, ts, 2);
    /* the UDP flow goes on from one file into the next */
    run((const char *[]){"--read", a, b, NULL}, 0, &o);
    expect_flows(o.out, both, 2);
    fs_proc_output_free(&o);
    run((const char *[]){"--read", a, b, "--filter", "udp", NULL}, 0, &o);
    expect_flows(o.out, both, 1);
    fs_proc_output_free(&o);
}

Test(sensor, short_snaplen_is_counted)
{
    const char *path = path_of("snap.pcap");
    struct pcapw *w = pcapw_open(path, DLT_EN10MB);
    struct fs_proc_output o;
    uint8_t buf[PKT_MAX];
    struct pkt p = syn;
    size_t len;

    p.dlt = DLT_EN10MB;
    len = pkt_build(&p, buf);
    pcapw_add(w, T0, buf, len, 14 + 20 + 4);    /* the ports, not the flags */
    pcapw_add(w, T0 + 1, buf, len, 14 + 20 + 14);
    pcapw_close(w);
    run((const char *[]){"--read", path, NULL}, 0, &o);
    cr_assert(strstr(o.err, "truncated 1,") != NULL, "summary: %s", o.err);
    cr_assert(strstr(o.out, "\"packets\":1,\"bytes\":40,") != NULL, "%s", o.out);
    fs_proc_output_free(&o);
}

Test(sensor, bad_input_and_options)
{
    const char *junk = path_of("junk.pcap");
    const char *dot11 = path_of("wifi.pcap");
    FILE *fp = fopen(junk, "w");
    struct fs_proc_output o;

    cr_assert_not_null(fp);
    fputs("not a capture\n", fp);
    fclose(fp);
    pcapw_close(pcapw_open(dot11, DLT_IEEE802_11));
    run((const char *[]){"--read", junk, NULL}, 1, &o);
    fs_proc_output_free(&o);
    run((const char *[]){"--read", dot11, NULL}, 1, &o);
    cr_assert(strstr(o.err, "not supported") != NULL, "%s", o.err);
    fs_proc_output_free(&o);
    run((const char *[]){"--read", path_of("missing.pcap"), NULL}, 1, &o);
    fs_proc_output_free(&o);
    run((const char *[]){NULL}, 2, &o);
    cr_assert(strstr(o.err, "--interface") != NULL, "%s", o.err);
    fs_proc_output_free(&o);
    run((const char *[]){"--read", junk, "--interface", "lo", NULL}, 2, &o);
    fs_proc_output_free(&o);
    run((const char *[]){"--read", junk, "--export", "udp://x", NULL}, 2, &o);
    fs_proc_output_free(&o);
    run((const char *[]){"--read", junk, "--inactive-timeout", "0", NULL}, 2, &o);
    fs_proc_output_free(&o);
    run((const char *[]){"--read", junk, "--user", "no-such-user-here", NULL}, 2, &o);
    fs_proc_output_free(&o);
}

/*
 * The capture module alone.
 */

struct count {
    size_t packets, udp;
    uint64_t last_ts;
};

static void count_pkt(void *arg, const struct fs_ft_pkt *p, size_t n)
{
    struct count *c = arg;

    for (size_t i = 0; i < n; i++) {
        c->packets++;
        c->udp += p[i].frame.proto == 17;
        c->last_ts = p[i].ts_ms;
    }
}

Test(sensor, capture_reads_pcapng_with_a_filter)
{
    const char *path = path_of("c.pcapng");
    uint8_t f[3][PKT_MAX];
    const uint8_t *frames[] = {f[0], f[1], f[2]};
    size_t lens[3];
    uint64_t ts[] = {T0, T0 + 1500, T0 + 2500};
    struct pkt p = dns;
    struct fs_capture_config cc = {.filter = "udp"};
    struct fs_capture_stats st;
    struct fs_capture *c;
    struct count n = {0};
    char err[256];
    int rc;

    p.dlt = DLT_EN10MB;
    lens[0] = pkt_build(&p, f[0]);
    p = syn;
    p.dlt = DLT_EN10MB;
    lens[1] = pkt_build(&p, f[1]);
    p = v6;
    p.v6_ext = 0; /* BPF's "udp" does not look past IPv6 extension headers */
    p.dlt = DLT_EN10MB;
    lens[2] = pkt_build(&p, f[2]);
    pcapng_write(path, DLT_EN10MB, frames, lens, ts, 3);

    c = fs_capture_open_file(path, &cc, err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    cr_assert_str_eq(fs_capture_link_name(c), "EN10MB");
    cr_assert_eq(fs_capture_fd(c), -1);
    rc = fs_capture_dispatch(c, 0, count_pkt, &n, err, sizeof(err));
    cr_assert_eq(rc, 2, "dispatch: %d (%s)", rc, rc == -1 ? err : "");
    cr_assert_eq(fs_capture_dispatch(c, 0, count_pkt, &n, err, sizeof(err)), -2, "the end");
    cr_assert_eq(n.packets, 2, "the filter keeps the UDP packets");
    cr_assert_eq(n.udp, 2);
    cr_assert_eq(n.last_ts, MS(T0) + 2);
    fs_capture_stats(c, &st);
    cr_assert_eq(st.packets, 2);
    cr_assert_eq(st.bytes, lens[0] + lens[2]);
    cr_assert(!st.kernel, "no kernel counters offline");
    fs_capture_close(c);

    cc.filter = "udp and and";
    cr_assert_null(fs_capture_open_file(path, &cc, err, sizeof(err)));
    cr_assert(strstr(err, "filter") != NULL, "%s", err);
}

/*
 * Live: the loopback interface, root only.
 */

static void send_udp(uint16_t port, int n)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    char msg[100] = {0};

    cr_assert_geq(fd, 0);
    for (int i = 0; i < n; i++)
        cr_assert_eq(sendto(fd, msg, sizeof(msg), 0, (struct sockaddr *)&a, sizeof(a)), 100);
    close(fd);
}

Test(sensor, live_loopback_publishes_flows_and_counters)
{
    char endpoint[256], filter[64], port_s[16];
    uint16_t port = (uint16_t)fs_free_port(AF_INET, SOCK_DGRAM);
    const char *ep = endpoint;
    struct fs_bus *sub;
    char err[256];
    pid_t pid;
    int status, errfd;
    uint64_t packets = 0, stats = 0;
    long long deadline;
    char *log;
    size_t loglen;

    if (geteuid() != 0)
        cr_skip_test("live capture needs root");
    cr_assert_gt(port, 0);
    /* a directory the sensor makes, and hands to the user it becomes */
    snprintf(endpoint, sizeof(endpoint), "ipc://%s/run/sensor.sock", dir);
    cr_assert_eq(chmod(dir, 0755), 0);
    snprintf(filter, sizeof(filter), "udp and dst port %u", port);
    snprintf(port_s, sizeof(port_s), "%u", port);
    sub = fs_bus_sub(&ep, 1, NULL, 0, err, sizeof(err));
    cr_assert_not_null(sub, "%s", err);
    pid = fs_proc_spawn((char *[]){SENSOR, "--interface", "lo", "--filter", filter,
                                   "--inactive-timeout", "1", "--immediate", "--publish",
                                   endpoint, "--stats-interval", "1", "--user", "nobody",
                                   NULL},
                        NULL, &errfd);
    cr_assert_gt(pid, 0);
    usleep(800000); /* the capture opens and the subscription reaches it */
    send_udp(port, 25);
    deadline = fs_now_ms() + 10000;
    while (fs_now_ms() < deadline && (packets < 25 || stats < 25)) {
        struct fs_bus_msg m;
        struct fs_msg msg;

        if (fs_bus_recv(sub, 200, &m) != 1)
            continue;
        cr_assert_eq(fs_msg_decode(m.data, m.len, &msg, err, sizeof(err)), 0, "%s", err);
        for (size_t i = 0; i < msg.nflows; i++) {
            cr_assert_eq(msg.flows[i].dst_port, port);
            cr_assert_eq(msg.flows[i].bytes, msg.flows[i].packets * (20 + 8 + 100));
            packets += msg.flows[i].packets;
        }
        for (size_t g = 0; g < msg.ngroups; g++)
            if (strcmp(msg.groups[g].name, "capture") == 0)
                for (size_t k = 0; k < msg.groups[g].ncounters; k++)
                    if (strcmp(msg.groups[g].counters[k].name, "received") == 0)
                        stats = msg.groups[g].counters[k].value;
        fs_msg_free(&msg);
    }
    cr_assert_eq(fs_proc_stop(pid, SIGTERM, 5000, &status), 0);
    log = fs_proc_read_all(errfd, 2000, &loglen);
    close(errfd);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", log);
    cr_assert_eq(packets, 25, "flows on the bus carry %llu packets: %s",
                 (unsigned long long)packets, log);
    cr_assert_geq(stats, 25, "pcap_stats received: %s", log);
    cr_assert(strstr(log, "running as user nobody") != NULL, "%s", log);
    cr_assert(strstr(log, "received=") != NULL, "%s", log);
    free(log);
    fs_bus_close(sub, 0);
}

Test(sensor, every_option_is_documented)
{
    FILE *fp = fopen(FS_SOURCE_DIR "/docs/sensor.md", "r");
    static char doc[1 << 16];
    size_t n;

    cr_assert_not_null(fp);
    n = fread(doc, 1, sizeof(doc) - 1, fp);
    fclose(fp);
    doc[n] = '\0';
    for (size_t i = 0; fs_sensor_config_option_name(i) != NULL; i++) {
        char row[80];

        snprintf(row, sizeof(row), "| `%s` |", fs_sensor_config_option_name(i));
        cr_assert(strstr(doc, row) != NULL, "docs/sensor.md has no row for %s",
                  fs_sensor_config_option_name(i));
    }
}
