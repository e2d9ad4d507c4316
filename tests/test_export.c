/*
 * test_export.c - the sensor's UDP export (sensor/export.c) and the shared
 * datagram encoder (ipc/exportenc.c), read back by the collector's decoder:
 * what the sensor sends as IPFIX, NetFlow v9 and v5 over loopback must
 * decode to exactly the flows it was given, within what each format
 * carries. Layout facts checked by hand come from RFC 7011 (IPFIX), RFC
 * 3954 (v9) and Cisco's v5 record format.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "decode.h"
#include "export.h"
#include "exportenc.h"

#define NFLOWS 600

/* A UDP socket on 127.0.0.1 and its port. */
static int listener(uint16_t *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_DGRAM, 0), buf = 8 << 20;

    cr_assert_geq(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

struct got {
    struct fs_flow *f;
    size_t n, cap;
};

static void collect(void *arg, const struct fs_flow *flows, size_t n)
{
    struct got *g = arg;

    cr_assert_leq(g->n + n, g->cap, "more flows decoded than sent");
    memcpy(g->f + g->n, flows, n * sizeof(*flows));
    g->n += n;
}

/* Receives every datagram waiting on `fd` (until 300 ms of silence) and
 * decodes them in order. Returns the number of datagrams. */
static size_t receive(int fd, struct fs_decoder *d, struct got *g)
{
    static uint8_t buf[65536];
    fs_ip lo;
    size_t n = 0;

    fs_ip_parse("127.0.0.1", &lo);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t len;

        if (poll(&p, 1, 300) <= 0)
            return n;
        len = recv(fd, buf, sizeof(buf), 0);
        cr_assert_gt(len, 0);
        cr_assert_geq(fs_decode(d, &lo, 1700000100000ull, buf, (size_t)len, collect, g), 0,
                      "datagram %zu does not decode", n);
        n++;
    }
}

/* Flows as the flow table makes them: a deterministic mix of families,
 * protocols, VLANs, interfaces and sizes. */
static void make_flows(struct fs_flow *fl, size_t n, bool v4_only, bool small)
{
    for (size_t i = 0; i < n; i++) {
        struct fs_flow *f = &fl[i];
        bool v6 = !v4_only && i % 4 == 3;
        static const uint8_t protos[] = {6, 17, 6, 1, 47, 17};
        uint8_t proto = protos[i % 6];
        char a[64], b[64];

        fs_flow_init(f);
        if (v6) {
            snprintf(a, sizeof(a), "2001:db8::%zx", i + 1);
            snprintf(b, sizeof(b), "2001:db8:ffff::%zx", i * 7 + 3);
            if (proto == 1)
                proto = 58;
        } else {
            snprintf(a, sizeof(a), "10.%zu.%zu.%zu", i >> 16 & 255, i >> 8 & 255, i & 255);
            snprintf(b, sizeof(b), "192.0.2.%zu", i % 250 + 1);
        }
        cr_assert_eq(fs_ip_parse(a, &f->src_addr), 0);
        cr_assert_eq(fs_ip_parse(b, &f->dst_addr), 0);
        FS_FLOW_SET(f, FS_F_SRC_ADDR);
        FS_FLOW_SET(f, FS_F_DST_ADDR);
        f->proto = proto;
        FS_FLOW_SET(f, FS_F_PROTO);
        f->tos = (uint8_t)(i * 4);
        FS_FLOW_SET(f, FS_F_TOS);
        f->ip_version = v6 ? 6 : 4;
        FS_FLOW_SET(f, FS_F_IP_VERSION);
        if (proto == 6 || proto == 17) {
            f->src_port = (uint16_t)(1024 + i);
            f->dst_port = proto == 6 ? 443 : 53;
            FS_FLOW_SET(f, FS_F_SRC_PORT);
            FS_FLOW_SET(f, FS_F_DST_PORT);
        } else if (proto == 1 || proto == 58) {
            f->icmp_type = proto == 1 ? 8 : 128;
            f->icmp_code = (uint8_t)(i % 3);
            f->src_port = 0;
            f->dst_port = (uint16_t)(f->icmp_type << 8 | f->icmp_code);
            FS_FLOW_SET(f, FS_F_SRC_PORT);
            FS_FLOW_SET(f, FS_F_DST_PORT);
            FS_FLOW_SET(f, FS_F_ICMP);
        }
        if (proto == 6) {
            f->tcp_flags = (uint8_t)(0x02 | (i & 0x19));
            FS_FLOW_SET(f, FS_F_TCP_FLAGS);
        }
        f->packets = 1 + i * 3;
        f->bytes = small ? 40 + i * 1000 : (i % 5 == 0 ? (UINT64_C(5) << 32) + i : 60 * (i + 1));
        FS_FLOW_SET(f, FS_F_PACKETS);
        FS_FLOW_SET(f, FS_F_BYTES);
        f->start_ms = 1700000000000ull + i * 37;
        f->end_ms = f->start_ms + (i % 9) * 1111;
        FS_FLOW_SET(f, FS_F_START);
        FS_FLOW_SET(f, FS_F_END);
        if (i % 3) {
            f->in_if = (uint32_t)(i % 7 + 1);
            FS_FLOW_SET(f, FS_F_IN_IF);
        }
        if (i % 2) {
            f->src_vlan = (uint16_t)(i % 4094 + 1);
            FS_FLOW_SET(f, FS_F_SRC_VLAN);
        }
        f->sampling_rate = 1;
        FS_FLOW_SET(f, FS_F_SAMPLING);
    }
}

static bool same_ip(const fs_ip *a, const fs_ip *b)
{
    return a->af == b->af && memcmp(a->b, b->b, a->af == 6 ? 16 : 4) == 0;
}

/* The decoded flow `g` carries what `w` had, as far as `version` goes. A
 * field the sensor leaves out is sent as 0 in a fixed template, so it may
 * come back present, as 0. */
static void expect_same(const struct fs_flow *w, const struct fs_flow *g, uint16_t version,
                        size_t i)
{
    cr_assert(same_ip(&g->src_addr, &w->src_addr), "flow %zu: source", i);
    cr_assert(same_ip(&g->dst_addr, &w->dst_addr), "flow %zu: destination", i);
    cr_assert_eq(g->version, version);
    cr_assert_eq(g->src_port, w->src_port, "flow %zu", i);
    cr_assert_eq(g->dst_port, w->dst_port, "flow %zu", i);
    cr_assert_eq(g->proto, w->proto, "flow %zu", i);
    cr_assert_eq(g->tos, w->tos, "flow %zu", i);
    cr_assert_eq(g->tcp_flags, w->tcp_flags, "flow %zu", i);
    cr_assert_eq(g->packets, w->packets, "flow %zu", i);
    cr_assert_eq(g->bytes, w->bytes, "flow %zu: %llu bytes, want %llu", i,
                 (unsigned long long)g->bytes, (unsigned long long)w->bytes);
    cr_assert_eq(g->in_if, w->in_if, "flow %zu", i);
    cr_assert_eq(g->start_ms, w->start_ms, "flow %zu: start %llu, want %llu", i,
                 (unsigned long long)g->start_ms, (unsigned long long)w->start_ms);
    cr_assert_eq(g->end_ms, w->end_ms, "flow %zu", i);
    if (version == 5)
        return;
    cr_assert_eq(g->src_vlan, w->src_vlan, "flow %zu", i);
    cr_assert_eq(g->ip_version, w->ip_version, "flow %zu", i);
    cr_assert(FS_FLOW_HAS(g, FS_F_ICMP) || !FS_FLOW_HAS(w, FS_F_ICMP), "flow %zu", i);
    if (FS_FLOW_HAS(w, FS_F_ICMP)) {
        cr_assert_eq(g->icmp_type, w->icmp_type, "flow %zu", i);
        cr_assert_eq(g->icmp_code, w->icmp_code, "flow %zu", i);
    }
}

static void roundtrip(const char *scheme, uint16_t version)
{
    static struct fs_flow want[NFLOWS], back[NFLOWS];
    struct fs_emit_config ec = {.domain = version == 5 ? 0x0102 : 42};
    struct fs_decoder_config dc = {0};
    struct fs_decoder *d = fs_decoder_new(&dc);
    struct fs_emit *x = fs_emit_new(&ec);
    struct got g = {back, 0, NFLOWS};
    char url[64], err[256];
    uint16_t port;
    int fd = listener(&port);
    size_t datagrams;

    cr_assert_not_null(d);
    cr_assert_not_null(x);
    make_flows(want, NFLOWS, version == 5, version == 5);
    snprintf(url, sizeof(url), "%s127.0.0.1:%u", scheme, port);
    cr_assert_eq(fs_emit_add(x, url, err, sizeof(err)), 0, "%s", err);
    fs_emit_set_boot(x, 1699990000000ull);
    for (size_t i = 0; i < NFLOWS; i++)
        fs_emit_flow(x, &want[i], 1700000050000ull);
    fs_emit_flush(x, 1700000050000ull);
    datagrams = receive(fd, d, &g);
    cr_assert_eq(g.n, NFLOWS, "%s: %zu flows decoded of %d", scheme, g.n, NFLOWS);
    for (size_t i = 0; i < NFLOWS; i++)
        expect_same(&want[i], &back[i], version, i);
    cr_assert_eq(fs_emit_stats(x, 0)->flows, NFLOWS);
    cr_assert_eq(fs_emit_stats(x, 0)->datagrams, datagrams);
    cr_assert_eq(fs_emit_stats(x, 0)->send_errors, 0);
    cr_assert_eq(fs_counters_errors(fs_decoder_totals(d)), 0);
    cr_assert_eq(fs_decoder_totals(d)->seq_lost, 0, "sequence numbers must run on");
    /* 30 records per v5 datagram; the queue is sent every 256 flows, and
     * only the last datagram of each sending may be part-filled. */
    if (version == 5)
        cr_assert_leq(datagrams, (NFLOWS + 29) / 30 + NFLOWS / 256, "%zu datagrams", datagrams);
    else
        cr_assert_gt(fs_decoder_totals(d)->templates, 0);
    close(fd);
    fs_emit_free(x);
    fs_decoder_free(d);
}

Test(export, ipfix_roundtrip)
{
    roundtrip("ipfix://", 10);
}

Test(export, v9_roundtrip)
{
    roundtrip("v9://", 9);
}

Test(export, v5_roundtrip)
{
    roundtrip("v5://", 5);
}

Test(export, every_destination_gets_every_flow)
{
    static struct fs_flow want[40], back[3][40];
    static const char *const schemes[] = {"ipfix://", "v9://", "v5://"};
    struct fs_emit_config ec = {0};
    struct fs_emit *x = fs_emit_new(&ec);
    int fds[3];
    char url[64], err[256];

    make_flows(want, 40, false, true); /* 10 of them IPv6 */
    for (int i = 0; i < 3; i++) {
        uint16_t port;

        fds[i] = listener(&port);
        snprintf(url, sizeof(url), "%s127.0.0.1:%u", schemes[i], port);
        cr_assert_eq(fs_emit_add(x, url, err, sizeof(err)), 0, "%s", err);
    }
    cr_assert_eq(fs_emit_count(x), 3);
    for (size_t i = 0; i < 40; i++)
        fs_emit_flow(x, &want[i], 1700000050000ull);
    fs_emit_flush(x, 1700000050000ull);
    for (int i = 0; i < 3; i++) {
        struct fs_decoder_config dc = {0};
        struct fs_decoder *d = fs_decoder_new(&dc);
        struct got g = {back[i], 0, 40};

        receive(fds[i], d, &g);
        cr_assert_eq(g.n, i == 2 ? 30 : 40, "%s: %zu flows", schemes[i], g.n);
        cr_assert_eq(fs_emit_stats(x, (size_t)i)->skipped_ipv6, i == 2 ? 10 : 0);
        for (size_t k = 0, w = 0; k < g.n; k++, w++) {
            while (i == 2 && want[w].src_addr.af == 6)
                w++;
            expect_same(&want[w], &back[i][k], i == 0 ? 10 : i == 1 ? 9 : 5, k);
        }
        fs_decoder_free(d);
        close(fds[i]);
    }
    fs_emit_free(x);
}

Test(export, templates_are_refreshed)
{
    static struct fs_flow want[1];
    struct fs_emit_config ec = {.template_interval = 5, .template_timeout_ms = 10000};
    struct fs_emit *x = fs_emit_new(&ec);
    struct fs_decoder_config dc = {0};
    struct fs_decoder *d = fs_decoder_new(&dc);
    static struct fs_flow back[64];
    struct got g = {back, 0, 64};
    char url[64], err[256];
    uint16_t port;
    int fd = listener(&port);

    make_flows(want, 1, false, true);
    snprintf(url, sizeof(url), "ipfix://127.0.0.1:%u", port);
    cr_assert_eq(fs_emit_add(x, url, err, sizeof(err)), 0, "%s", err);
    /* one flow per datagram: datagrams 0, 5 and 10 by count, then one 10 s
     * after the last refresh (at datagram 13, 25 s) by time */
    for (int i = 0; i < 14; i++) {
        uint64_t now = 1700000000000ull + (i < 13 ? 1000u * (unsigned)i : 25000u);

        fs_emit_flow(x, &want[0], now);
        fs_emit_flush(x, now);
    }
    receive(fd, d, &g);
    cr_assert_eq(g.n, 14);
    cr_assert_eq(fs_decoder_totals(d)->templates, 2 * 4, "two templates, four times");
    close(fd);
    fs_emit_free(x);
    fs_decoder_free(d);
}

Test(export, unreachable_collector_is_counted)
{
    static struct fs_flow want[1];
    struct fs_emit_config ec = {0};
    struct fs_emit *x = fs_emit_new(&ec);
    char url[64], err[256];
    uint16_t port;
    int fd = listener(&port);

    close(fd); /* nobody listens there now: ICMP port unreachable */
    make_flows(want, 1, true, true);
    snprintf(url, sizeof(url), "v9://127.0.0.1:%u", port);
    cr_assert_eq(fs_emit_add(x, url, err, sizeof(err)), 0, "%s", err);
    for (int i = 0; i < 5; i++) {
        fs_emit_flow(x, &want[0], 1700000000000ull);
        fs_emit_flush(x, 1700000000000ull);
        usleep(20000);
    }
    cr_assert_geq(fs_emit_stats(x, 0)->send_errors, 1);
    cr_assert_eq(fs_emit_stats(x, 0)->lost_flows, fs_emit_stats(x, 0)->send_errors);
    cr_assert_eq(fs_emit_stats(x, 0)->datagrams + fs_emit_stats(x, 0)->send_errors, 5);
    fs_emit_free(x);
}

Test(export, bad_destinations)
{
    static const char *const bad[] = {
        "udp://127.0.0.1:2055", "ipfix://", "ipfix://[::1", "ipfix://::1:4739",
        "v9://127.0.0.1:0", "v9://127.0.0.1:65536", "v5://127.0.0.1:x",
        "ipfix://no-such-host.invalid:4739",
    };
    struct fs_emit_config ec = {0};
    struct fs_emit *x = fs_emit_new(&ec);
    char err[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_assert_eq(fs_emit_add(x, bad[i], err, sizeof(err)), -1, "%s accepted", bad[i]);
        cr_assert_neq(err[0], '\0', "%s: no reason given", bad[i]);
    }
    cr_assert_eq(fs_emit_add(x, "ipfix://[::1]", err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(fs_emit_name(x, 0), "ipfix://[::1]");
    cr_assert_eq(fs_emit_count(x), 1);
    fs_emit_free(x);
    ec.datagram_size = 100; /* the templates alone are bigger */
    cr_assert_null(fs_emit_new(&ec));
}

/*
 * The encoder alone.
 */

Test(exportenc, ipv6_template_follows_the_ipv4_one)
{
    static const struct fs_export_field fields[] = {
        {8, 4}, {12, 4}, {15, 4}, {9, 1}, {13, 1}, {32, 2}, {176, 1}, {177, 1}, {2, 8},
    };
    struct fs_export_config c = {.version = 10, .domain = 5, .fields = fields, .nfields = 9};
    struct fs_export *e = fs_export_new(&c);
    uint8_t buf[1500];
    size_t used;
    struct fs_flow f;
    int len;
    /* the IPv6 template record, after the IPv4 one, in the template set */
    static const uint16_t v6[] = {27, 16, 28, 16, 62, 16, 29, 1, 30, 1, 139, 2, 178, 1,
                                  179, 1, 2, 8};
    const uint8_t *t;

    cr_assert_not_null(e);
    cr_assert_eq(fs_export_record_size(e, 4), 4 + 4 + 4 + 1 + 1 + 2 + 1 + 1 + 8);
    cr_assert_eq(fs_export_record_size(e, 6), 16 * 3 + 1 + 1 + 2 + 1 + 1 + 8);
    /* set header 4, two template headers of 4, 9 field specifiers of 4 each */
    cr_assert_eq(fs_export_templates_size(e), 4 + 2 * (4 + 9 * 4));
    cr_assert_eq(fs_export_header_size(e), 16);
    fs_flow_init(&f);
    fs_ip_parse("2001:db8::1", &f.src_addr);
    fs_ip_parse("2001:db8::2", &f.dst_addr);
    f.icmp_type = 128;
    f.icmp_code = 0;
    f.packets = 3;
    len = fs_export_encode(e, &f, 1, 1700000000000ull, buf, sizeof(buf), &used);
    cr_assert_eq(used, 1);
    cr_assert_eq(len, 16 + 4 + 2 * (4 + 9 * 4) + 4 + (int)fs_export_record_size(e, 6));
    cr_assert_eq(buf[16] << 8 | buf[17], 2, "template set first");
    t = buf + 16 + 4 + 4 + 9 * 4;   /* the second template record */
    cr_assert_eq(t[0] << 8 | t[1], FS_EXPORT_TPL_V6);
    cr_assert_eq(t[2] << 8 | t[3], 9);
    for (int i = 0; i < 18; i++)
        cr_assert_eq(t[4 + 2 * i] << 8 | t[5 + 2 * i], v6[i], "specifier word %d", i);
    /* the data record: icmpTypeCodeIPv6 = 128 << 8 */
    t = buf + 16 + 4 + 2 * (4 + 9 * 4);
    cr_assert_eq(t[0] << 8 | t[1], FS_EXPORT_TPL_V6);
    cr_assert_eq(t[4 + 50] << 8 | t[4 + 51], 128 << 8);
    cr_assert_eq(fs_export_next_sequence(e), 1, "IPFIX counts data records");
    fs_export_free(e);
}

Test(exportenc, invalid_configurations)
{
    static const struct fs_export_field zero[] = {{8, 0}};
    static const struct fs_export_field wide[] = {{1, 17}};
    static const struct fs_export_field ok[] = {{8, 4}};
    struct fs_export_config c = {.version = 9, .fields = zero, .nfields = 1};

    cr_assert_null(fs_export_new(&c));
    c.fields = wide;
    cr_assert_null(fs_export_new(&c));
    c.fields = NULL;
    cr_assert_null(fs_export_new(&c));
    c.fields = ok;
    c.nfields = FS_EXPORT_MAX_FIELDS + 1;
    cr_assert_null(fs_export_new(&c));
    c.nfields = 1;
    c.version = 7;
    cr_assert_null(fs_export_new(&c));
    c.version = 5;
    c.sampling_rate = 0x4000; /* 14 bits in v5 */
    cr_assert_null(fs_export_new(&c));
    c.sampling_rate = 0;
    c.domain = 0x10000;
    cr_assert_null(fs_export_new(&c));
    c.domain = 0xffff;
    fs_export_free(fs_export_new(&c));
}

Test(exportenc, v5_refuses_ipv6_and_saturates)
{
    struct fs_export_config c = {.version = 5, .boot_ms = 1700000000000ull - 5000};
    struct fs_export *e = fs_export_new(&c);
    struct fs_flow f[2];
    uint8_t buf[200];
    size_t used;

    cr_assert_not_null(e);
    fs_flow_init(&f[0]);
    fs_ip_parse("192.0.2.1", &f[0].src_addr);
    fs_ip_parse("192.0.2.2", &f[0].dst_addr);
    f[0].bytes = UINT64_C(1) << 40;
    f[0].in_if = 70000;
    f[0].src_as = 4200000000u;
    f[0].start_ms = f[0].end_ms = 1700000000000ull;
    f[1] = f[0];
    fs_ip_parse("2001:db8::1", &f[1].src_addr);
    cr_assert_eq(fs_export_encode(e, f, 2, 1700000001000ull, buf, sizeof(buf), &used), -1);
    cr_assert_eq(used, 0);
    cr_assert_eq(fs_export_encode(e, f, 1, 1700000001000ull, buf, sizeof(buf), &used), 24 + 48);
    /* record at 24: input interface at 12 (16 bits), octets at 20 (32 bits),
     * first at 24 (uptime ms), source AS at 40 */
    cr_assert_eq(buf[24 + 12] << 8 | buf[24 + 13], 0xffff);
    cr_assert_eq(buf[24 + 20] & buf[24 + 21] & buf[24 + 22] & buf[24 + 23], 0xff);
    cr_assert_eq((uint32_t)buf[24 + 24] << 24 | buf[24 + 25] << 16 | buf[24 + 26] << 8 |
                     buf[24 + 27], 5000);
    cr_assert_eq(buf[24 + 40] << 8 | buf[24 + 41], 23456, "AS_TRANS");
    /* header: sysUptime at 4, unix secs at 8 */
    cr_assert_eq((uint32_t)buf[4] << 24 | buf[5] << 16 | buf[6] << 8 | buf[7], 6000);
    cr_assert_eq(fs_export_encode(e, f, 1, 1700000001000ull, buf, 20, &used), -1);
    fs_export_free(e);
}
