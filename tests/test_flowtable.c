/*
 * test_flowtable.c - the sensor's flow meter (sensor/flowtable.c) fed with
 * hand-built packets (tests/helpers/pktbuild) through the frame parser:
 * keys, counters, every way a flow ends (inactive and active timeouts, FIN
 * and RST, table full, flush) at their exact boundaries, fragments in and
 * out of order, and an LRU reference model for the table-full evictions.
 * Byte counts are IP lengths as RFC 791 and RFC 8200 define them, computed
 * from the packet descriptions.
 */
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "flowtable.h"
#include "frame.h"
#include "pktbuild.h"

#define MAX_OUT 16384

struct out {
    struct fs_flow f[MAX_OUT];
    enum fs_ft_reason why[MAX_OUT];
    size_t n;
};

static struct out out;

static void sink(void *arg, const struct fs_flow *f, enum fs_ft_reason why)
{
    struct out *o = arg;

    cr_assert_lt(o->n, MAX_OUT);
    o->f[o->n] = *f;
    o->why[o->n] = why;
    o->n++;
}

static struct fs_ft *table(uint32_t inactive_ms, uint32_t active_ms, uint32_t tcp_end_ms,
                           size_t max_flows)
{
    struct fs_ft_config c = {
        .inactive_ms = inactive_ms,
        .active_ms = active_ms,
        .tcp_end_ms = tcp_end_ms,
        .max_flows = max_flows,
        .domain = 7,
    };
    struct fs_ft *t;

    fs_ip_parse("192.0.2.250", &c.exporter);
    out.n = 0;
    t = fs_ft_new(&c, sink, &out);
    cr_assert_not_null(t);
    return t;
}

static int link_of(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB: return FS_FRAME_LINK_ETHERNET;
    case DLT_LINUX_SLL: return FS_FRAME_LINK_SLL;
    case DLT_LINUX_SLL2: return FS_FRAME_LINK_SLL2;
    default: return FS_FRAME_LINK_RAW;
    }
}

/* Builds `p`, keeps `caplen` bytes of it (0: all) and meters it at `ts`. */
static int feed_cut(struct fs_ft *t, const struct pkt *p, uint64_t ts, size_t caplen)
{
    uint8_t buf[PKT_MAX];
    struct fs_frame fr;
    struct pkt q = *p;
    size_t len;
    int r;

    if (q.dlt == 0)
        q.dlt = DLT_RAW;
    len = pkt_build(&q, buf);
    r = fs_frame_parse(buf, caplen ? caplen : len, link_of(q.dlt), &fr);
    return fs_ft_packet(t, &fr, r, (uint32_t)len, 3, ts);
}

static int feed(struct fs_ft *t, const struct pkt *p, uint64_t ts)
{
    return feed_cut(t, p, ts, 0);
}

static const struct pkt udp4 = {
    .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 17, .sport = 5353, .dport = 53,
    .payload = 100,
};
static const struct pkt tcp4 = {
    .src = "10.0.0.1", .dst = "198.51.100.9", .proto = 6, .sport = 40000, .dport = 443,
    .payload = 0,
};

static void expect_ip(const fs_ip *ip, const char *text)
{
    fs_ip want;

    cr_assert_eq(fs_ip_parse(text, &want), 0);
    cr_assert_eq(ip->af, want.af, "%s: family", text);
    cr_assert_arr_eq(ip->b, want.b, want.af == 4 ? 4 : 16, "address is not %s", text);
}

Test(flowtable, one_udp_flow_every_field)
{
    struct fs_ft *t = table(0, 0, 0, 0);
    struct pkt p = udp4;
    const struct fs_flow *f;

    p.tos = 0x28;
    cr_assert_eq(feed(t, &p, 1700000000000), 0);
    p.payload = 500;
    cr_assert_eq(feed(t, &p, 1700000000250), 0);
    cr_assert_eq(feed(t, &p, 1700000001000), 0);
    cr_assert_eq(out.n, 0, "nothing ends before its time");
    fs_ft_flush(t);
    cr_assert_eq(out.n, 1);
    f = &out.f[0];
    cr_assert_eq(out.why[0], FS_FT_FLUSH);
    expect_ip(&f->exporter, "192.0.2.250");
    cr_assert_eq(f->version, 0);
    cr_assert_eq(f->domain, 7);
    expect_ip(&f->src_addr, "10.0.0.1");
    expect_ip(&f->dst_addr, "10.0.0.2");
    cr_assert_eq(f->src_port, 5353);
    cr_assert_eq(f->dst_port, 53);
    cr_assert_eq(f->proto, 17);
    cr_assert_eq(f->tos, 0x28);
    cr_assert_eq(f->packets, 3);
    /* IPv4 header 20 + UDP header 8 + payload */
    cr_assert_eq(f->bytes, (20 + 8 + 100) + 2 * (20 + 8 + 500));
    cr_assert_eq(f->start_ms, 1700000000000);
    cr_assert_eq(f->end_ms, 1700000001000);
    cr_assert_eq(f->in_if, 3);
    cr_assert_eq(f->ip_version, 4);
    cr_assert_eq(f->sampling_rate, 1);
    cr_assert(FS_FLOW_HAS(f, FS_F_IN_IF) && FS_FLOW_HAS(f, FS_F_SAMPLING));
    cr_assert(!FS_FLOW_HAS(f, FS_F_TCP_FLAGS), "no TCP flags on a UDP flow");
    cr_assert(!FS_FLOW_HAS(f, FS_F_ICMP));
    cr_assert(!FS_FLOW_HAS(f, FS_F_SRC_VLAN));
    cr_assert_eq(fs_ft_stats(t)->metered, 3);
    cr_assert_eq(fs_ft_stats(t)->flows, 1);
    cr_assert_eq(fs_ft_stats(t)->active_flows, 0);
    fs_ft_free(t);
}

Test(flowtable, key_fields_split_flows)
{
    struct fs_ft *t = table(0, 0, 0, 0);
    struct pkt p = udp4;

    feed(t, &p, 1000);
    p.tos = 4;                       /* another ToS */
    feed(t, &p, 1001);
    p = udp4;
    p.dlt = DLT_EN10MB;
    p.nvlan = 1;
    p.vlan[0] = 100;                 /* a VLAN */
    feed(t, &p, 1002);
    p.vlan[0] = 200;
    feed(t, &p, 1003);
    p = udp4;
    p.sport = 5354;                  /* a port */
    feed(t, &p, 1004);
    p = udp4;
    p.src = "10.0.0.2";              /* the other direction */
    p.dst = "10.0.0.1";
    feed(t, &p, 1005);
    p = udp4;
    feed(t, &p, 1006);               /* the first flow again */
    fs_ft_flush(t);
    cr_assert_eq(out.n, 6);
    cr_assert_eq(fs_ft_stats(t)->flows, 6);
    for (size_t i = 0; i < out.n; i++) {
        const struct fs_flow *f = &out.f[i];

        cr_assert_eq(f->packets, f->start_ms == 1000 ? 2 : 1, "flow starting %llu",
                     (unsigned long long)f->start_ms);
        if (f->start_ms == 1002 || f->start_ms == 1003) {
            cr_assert(FS_FLOW_HAS(f, FS_F_SRC_VLAN));
            cr_assert_eq(f->src_vlan, f->start_ms == 1002 ? 100 : 200);
        } else {
            cr_assert(!FS_FLOW_HAS(f, FS_F_SRC_VLAN));
        }
    }
    fs_ft_free(t);
}

Test(flowtable, inactive_timeout_boundary)
{
    struct fs_ft *t = table(15000, 0, 0, 0);
    struct pkt other = udp4;

    other.dport = 54;
    feed(t, &udp4, 1000);
    feed(t, &udp4, 2000);
    /* idle for 14.999 s at the other flow's packet: still open */
    feed(t, &other, 16999);
    cr_assert_eq(out.n, 0);
    /* 15 s exactly: ended before this packet is counted */
    feed(t, &other, 17000);
    cr_assert_eq(out.n, 1);
    cr_assert_eq(out.why[0], FS_FT_INACTIVE);
    cr_assert_eq(out.f[0].dst_port, 53);
    cr_assert_eq(out.f[0].packets, 2);
    cr_assert_eq(out.f[0].end_ms, 2000);
    /* the same key later is a new flow */
    feed(t, &udp4, 40000);
    cr_assert_eq(out.n, 2, "the other flow ended at 32 s");
    cr_assert_eq(out.f[1].dst_port, 54);
    cr_assert_eq(out.f[1].packets, 2);
    fs_ft_flush(t);
    cr_assert_eq(out.n, 3);
    cr_assert_eq(out.f[2].start_ms, 40000);
    cr_assert_eq(out.f[2].packets, 1);
    cr_assert_eq(fs_ft_stats(t)->expired[FS_FT_INACTIVE], 2);
    fs_ft_free(t);
}

Test(flowtable, expire_without_packets)
{
    struct fs_ft *t = table(15000, 0, 0, 0);

    feed(t, &udp4, 1000);
    fs_ft_expire(t, 15999);
    cr_assert_eq(out.n, 0);
    fs_ft_expire(t, 10);              /* behind the clock: nothing */
    cr_assert_eq(out.n, 0);
    fs_ft_expire(t, 16000);
    cr_assert_eq(out.n, 1);
    cr_assert_eq(out.why[0], FS_FT_INACTIVE);
    cr_assert_eq(fs_ft_now(t), 16000);
    fs_ft_free(t);
}

Test(flowtable, active_timeout_splits_long_flows)
{
    struct fs_ft *t = table(15000, 60000, 0, 0);
    uint64_t total = 0;

    /* a packet every 10 s for 200 s: 21 packets, flows of 0-50, 60-110,
     * 120-170 and 180-200 s (a flow ends when 60 s old) */
    for (uint64_t s = 0; s <= 200; s += 10)
        feed(t, &udp4, 1000000 + s * 1000);
    fs_ft_flush(t);
    cr_assert_eq(out.n, 4);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(out.f[i].start_ms, 1000000 + i * 60000);
        cr_assert_eq(out.why[i], i < 3 ? FS_FT_ACTIVE : FS_FT_FLUSH);
        total += out.f[i].packets;
    }
    cr_assert_eq(out.f[0].end_ms, 1000000 + 50000);
    cr_assert_eq(out.f[0].packets, 6);
    cr_assert_eq(out.f[3].packets, 3);
    cr_assert_eq(total, 21);
    fs_ft_free(t);
}

Test(flowtable, default_timeouts)
{
    struct fs_ft *t = table(0, 0, 0, 0);

    /* a packet every 10 s: the default inactive timeout (15 s) never
     * fires, the active one (1800 s) does */
    for (uint64_t s = 0; s <= 1800; s += 10)
        feed(t, &udp4, s * 1000);
    cr_assert_eq(out.n, 1);
    cr_assert_eq(out.why[0], FS_FT_ACTIVE);
    cr_assert_eq(out.f[0].packets, 180);
    cr_assert_eq(out.f[0].end_ms, 1790000);
    feed(t, &udp4, 1816000);
    cr_assert_eq(out.n, 2, "16 s idle ends the second flow");
    cr_assert_eq(out.why[1], FS_FT_INACTIVE);
    fs_ft_free(t);
}

Test(flowtable, fin_and_rst_end_tcp_flows)
{
    struct fs_ft *t = table(0, 0, 0, 0);
    struct pkt p = tcp4;

    p.tcp_flags = 0x02;               /* SYN */
    feed(t, &p, 100);
    p.tcp_flags = 0x10;               /* ACK */
    p.payload = 200;
    feed(t, &p, 200);
    p.tcp_flags = 0x11;               /* FIN ACK */
    p.payload = 0;
    feed(t, &p, 300);
    cr_assert_eq(out.n, 1, "FIN ends the flow at once");
    cr_assert_eq(out.why[0], FS_FT_TCP_END);
    cr_assert_eq(out.f[0].tcp_flags, 0x13);
    cr_assert_eq(out.f[0].packets, 3);
    cr_assert_eq(out.f[0].bytes, 40 + 240 + 40);
    cr_assert_eq(out.f[0].end_ms, 300);
    p.tcp_flags = 0x10;               /* the last ACK: a flow of its own */
    feed(t, &p, 310);
    p.sport = 40001;
    p.tcp_flags = 0x04;               /* RST */
    feed(t, &p, 320);
    cr_assert_eq(out.n, 2);
    cr_assert_eq(out.f[1].tcp_flags, 0x04);
    cr_assert_eq(out.why[1], FS_FT_TCP_END);
    fs_ft_flush(t);
    cr_assert_eq(out.n, 3);
    cr_assert_eq(out.f[2].tcp_flags, 0x10);
    cr_assert_eq(out.f[2].start_ms, 310);
    fs_ft_free(t);
}

Test(flowtable, tcp_end_timeout_keeps_the_last_packets)
{
    struct fs_ft *t = table(15000, 0, 2000, 0);
    struct pkt p = tcp4, other = udp4;

    p.tcp_flags = 0x18;
    feed(t, &p, 1000);
    p.tcp_flags = 0x11;
    feed(t, &p, 1500);
    cr_assert_eq(out.n, 0, "2 s grace after FIN");
    p.tcp_flags = 0x10;
    feed(t, &p, 3000);
    cr_assert_eq(out.n, 0);
    feed(t, &other, 3499);
    cr_assert_eq(out.n, 0);
    feed(t, &other, 3500);
    cr_assert_eq(out.n, 1);
    cr_assert_eq(out.why[0], FS_FT_TCP_END);
    cr_assert_eq(out.f[0].packets, 3);
    cr_assert_eq(out.f[0].tcp_flags, 0x19);
    cr_assert_eq(out.f[0].end_ms, 3000);
    fs_ft_free(t);
}

Test(flowtable, table_full_ends_least_recent)
{
    struct fs_ft *t = table(0, 0, 0, 4);
    struct pkt p = udp4;

    for (uint16_t i = 0; i < 4; i++) {
        p.sport = (uint16_t)(1000 + i);
        feed(t, &p, 100 + i);
    }
    p.sport = 1000;
    feed(t, &p, 200);                 /* 1000 is now the most recent */
    p.sport = 1004;
    feed(t, &p, 201);                 /* full: 1001 goes */
    cr_assert_eq(out.n, 1);
    cr_assert_eq(out.why[0], FS_FT_TABLE_FULL);
    cr_assert_eq(out.f[0].src_port, 1001);
    p.sport = 1005;
    feed(t, &p, 202);
    cr_assert_eq(out.f[1].src_port, 1002);
    cr_assert_eq(fs_ft_stats(t)->expired[FS_FT_TABLE_FULL], 2);
    cr_assert_eq(fs_ft_stats(t)->active_flows, 4);
    fs_ft_flush(t);
    cr_assert_eq(out.n, 6);
    fs_ft_free(t);
}

/* Flows ended by a full table, in order, against a plain LRU list. */
Test(flowtable, evictions_match_an_lru_model)
{
    enum { KEYS = 300, CAP = 64, PACKETS = 12000 };
    struct fs_ft *t = table(0, 0, 0, CAP);
    static uint16_t lru[CAP], evicted[PACKETS], counts[KEYS];
    static uint64_t fed[KEYS], got[KEYS];
    size_t n = 0, nev = 0;
    uint64_t x = 88172645463325252ull;
    struct pkt p = udp4;

    for (size_t i = 0; i < PACKETS; i++) {
        uint16_t k;
        size_t j;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* skewed, so that some keys stay hot and others churn */
        k = (uint16_t)(x % 3 == 0 ? x % KEYS : (x >> 32) % 40);
        for (j = 0; j < n && lru[j] != k; j++)
            ;
        if (j < n) {
            memmove(lru + j, lru + j + 1, (n - j - 1) * sizeof(lru[0]));
            n--;
        } else if (n == CAP) {
            evicted[nev++] = lru[0];
            memmove(lru, lru + 1, (n - 1) * sizeof(lru[0]));
            n--;
        }
        lru[n++] = k;
        p.sport = (uint16_t)(10000 + k);
        cr_assert_eq(feed(t, &p, 1000 + i / 100), 0);
        fed[k]++;
    }
    cr_assert_gt(nev, 100, "the model evicted too little to test anything");
    cr_assert_eq(out.n, nev);
    for (size_t i = 0; i < nev; i++) {
        cr_assert_eq(out.why[i], FS_FT_TABLE_FULL);
        cr_assert_eq(out.f[i].src_port, 10000 + evicted[i], "eviction %zu: port %u, want %u",
                     i, out.f[i].src_port, 10000 + evicted[i]);
    }
    fs_ft_flush(t);
    cr_assert_eq(out.n, nev + n);
    for (size_t i = 0; i < out.n; i++) {
        got[out.f[i].src_port - 10000] += out.f[i].packets;
        counts[out.f[i].src_port - 10000]++;
    }
    for (size_t k = 0; k < KEYS; k++)
        cr_assert_eq(got[k], fed[k], "key %zu: %llu packets metered, %llu fed", k,
                     (unsigned long long)got[k], (unsigned long long)fed[k]);
    fs_ft_free(t);
}

Test(flowtable, icmp_and_other_protocols)
{
    struct fs_ft *t = table(0, 0, 0, 0);
    struct pkt echo = {.src = "10.0.0.1", .dst = "10.0.0.2", .proto = 1, .icmp_type = 8,
                       .payload = 56};
    struct pkt reply = echo, v6 = {.src = "2001:db8::1", .dst = "2001:db8::2", .proto = 58,
                                   .icmp_type = 128, .payload = 56};
    struct pkt gre = {.src = "10.0.0.1", .dst = "10.0.0.9", .proto = 47, .payload = 64};

    reply.src = "10.0.0.2";
    reply.dst = "10.0.0.1";
    reply.icmp_type = 0;
    feed(t, &echo, 10);
    feed(t, &reply, 11);
    feed(t, &echo, 20);
    feed(t, &v6, 30);
    feed(t, &gre, 40);
    echo.icmp_type = 3;               /* unreachable, port: another flow */
    echo.icmp_code = 3;
    feed(t, &echo, 50);
    fs_ft_flush(t);
    cr_assert_eq(out.n, 5);
    for (size_t i = 0; i < out.n; i++) {
        const struct fs_flow *f = &out.f[i];

        switch (f->start_ms) {
        case 10:
            cr_assert_eq(f->packets, 2);
            cr_assert_eq(f->bytes, 2 * (20 + 8 + 56));
            cr_assert(FS_FLOW_HAS(f, FS_F_ICMP));
            cr_assert_eq(f->icmp_type, 8);
            cr_assert_eq(f->dst_port, 8 << 8, "type << 8 | code, as NetFlow v5 carries it");
            cr_assert_eq(f->src_port, 0);
            break;
        case 11:
            cr_assert_eq(f->icmp_type, 0);
            cr_assert_eq(f->dst_port, 0);
            break;
        case 30:
            cr_assert_eq(f->proto, 58);
            cr_assert_eq(f->ip_version, 6);
            cr_assert_eq(f->icmp_type, 128);
            cr_assert_eq(f->dst_port, 128 << 8);
            cr_assert_eq(f->bytes, 40 + 8 + 56);
            break;
        case 40:
            cr_assert_eq(f->proto, 47);
            cr_assert(!FS_FLOW_HAS(f, FS_F_SRC_PORT) && !FS_FLOW_HAS(f, FS_F_DST_PORT));
            cr_assert(!FS_FLOW_HAS(f, FS_F_ICMP));
            cr_assert_eq(f->bytes, 20 + 64);
            break;
        case 50:
            cr_assert_eq(f->dst_port, 3 << 8 | 3);
            cr_assert_eq(f->icmp_code, 3);
            break;
        default:
            cr_assert_fail("unexpected flow at %llu", (unsigned long long)f->start_ms);
        }
    }
    fs_ft_free(t);
}

static struct pkt frag(const struct pkt *base, uint32_t id, uint16_t off, bool more,
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

Test(flowtable, fragments_in_order_and_out_of_order)
{
    static const struct pkt v4 = {.src = "10.0.0.1", .dst = "10.0.0.2", .proto = 17,
                                  .sport = 4000, .dport = 4001};
    static const struct pkt v6 = {.src = "2001:db8::1", .dst = "2001:db8::2", .proto = 17,
                                  .sport = 4000, .dport = 4001, .v6_ext = 1};
    static const int orders[][3] = {{0, 1, 2}, {2, 1, 0}, {1, 0, 2}};
    const struct pkt *bases[] = {&v4, &v6};

    for (size_t b = 0; b < 2; b++) {
        for (size_t o = 0; o < 3; o++) {
            struct fs_ft *t = table(0, 0, 0, 0);
            struct pkt parts[3] = {
                frag(bases[b], 77, 0, true, 1472),
                frag(bases[b], 77, 185, true, 1480),
                frag(bases[b], 77, 370, false, 40),
            };
            size_t bytes = 0;

            for (int i = 0; i < 3; i++) {
                const struct pkt *p = &parts[orders[o][i]];

                cr_assert_eq(feed(t, p, 1000 + (uint64_t)i), 0);
                bytes += pkt_ip_len(p);
            }
            fs_ft_flush(t);
            cr_assert_eq(out.n, 1, "family %zu order %zu: %zu flows", b, o, out.n);
            cr_assert_eq(out.f[0].packets, 3);
            cr_assert_eq(out.f[0].bytes, bytes);
            cr_assert_eq(out.f[0].src_port, 4000);
            cr_assert_eq(out.f[0].dst_port, 4001);
            cr_assert_eq(out.f[0].start_ms, 1000);
            cr_assert_eq(out.f[0].end_ms, 1002);
            cr_assert_eq(fs_ft_stats(t)->fragments, 3);
            cr_assert_eq(fs_ft_stats(t)->frags_held, (size_t)(orders[o][0] != 0) +
                                                         (orders[o][0] != 0 && orders[o][1] != 0));
            cr_assert_eq(fs_ft_stats(t)->frags_unmatched, 0);
            fs_ft_free(t);
        }
    }
}

Test(flowtable, unmatched_fragments_are_counted)
{
    static const struct pkt v4 = {.src = "10.0.0.1", .dst = "10.0.0.2", .proto = 17,
                                  .sport = 4000, .dport = 4001};
    struct fs_ft_config c = {.frag_timeout_ms = 5000};
    struct fs_ft *t;
    struct pkt later = frag(&v4, 9, 185, false, 100);
    struct pkt first = frag(&v4, 10, 0, true, 1472);
    struct pkt late = frag(&v4, 10, 185, false, 100);

    out.n = 0;
    t = fs_ft_new(&c, sink, &out);
    cr_assert_not_null(t);
    feed(t, &later, 1000);            /* its first fragment never comes */
    feed(t, &first, 2000);
    fs_ft_expire(t, 6000);
    cr_assert_eq(fs_ft_stats(t)->frags_unmatched, 1, "held for 5 s, then given up");
    cr_assert_eq(fs_ft_stats(t)->frags_unmatched_bytes, 20 + 100);
    feed(t, &late, 7000);             /* past the tracking of id 10 */
    fs_ft_flush(t);
    cr_assert_eq(fs_ft_stats(t)->frags_unmatched, 2);
    cr_assert_eq(out.n, 1);
    cr_assert_eq(out.f[0].packets, 1, "only the first fragment is in the flow");
    cr_assert_eq(fs_ft_stats(t)->metered, 1);
    fs_ft_free(t);
}

Test(flowtable, dropped_packets_are_counted)
{
    struct fs_ft *t = table(0, 0, 0, 0);
    uint8_t arp[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x5e, 0, 0x53, 1, 0x08, 0x06};
    struct fs_frame fr;
    struct pkt p = tcp4;
    int r;

    r = fs_frame_parse(arp, sizeof(arp), FS_FRAME_LINK_ETHERNET, &fr);
    cr_assert_eq(fs_ft_packet(t, &fr, r, sizeof(arp), 0, 5), -1);
    cr_assert_eq(fs_ft_stats(t)->not_ip, 1);
    /* 20 + 13 bytes: the ports, not the TCP flags */
    cr_assert_eq(feed_cut(t, &p, 6, 33), -1);
    cr_assert_eq(fs_ft_stats(t)->truncated, 1);
    /* an IPv4 header length below 5 words */
    r = fs_frame_parse((const uint8_t[]){0x44, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1,
                                         10, 0, 0, 2},
                       20, FS_FRAME_LINK_RAW, &fr);
    cr_assert_eq(fs_ft_packet(t, &fr, r, 20, 0, 7), -1);
    cr_assert_eq(fs_ft_stats(t)->malformed, 1);
    cr_assert_eq(fs_ft_stats(t)->packets, 3);
    cr_assert_eq(fs_ft_stats(t)->metered, 0);
    fs_ft_flush(t);
    cr_assert_eq(out.n, 0);
    fs_ft_free(t);
}

Test(flowtable, wire_length_when_the_header_lies)
{
    struct fs_ft *t = table(0, 0, 0, 0);
    uint8_t buf[PKT_MAX];
    struct fs_frame fr;
    struct pkt p = udp4;
    size_t len;
    int r;

    p.payload = 1000;
    len = pkt_build(&(struct pkt){.dlt = DLT_RAW, .src = p.src, .dst = p.dst, .proto = 17,
                                  .sport = 1, .dport = 2, .payload = 1000},
                    buf);
    buf[2] = buf[3] = 0;              /* total length 0: segmentation offload */
    r = fs_frame_parse(buf, 64, FS_FRAME_LINK_RAW, &fr);
    cr_assert_eq(fs_ft_packet(t, &fr, r, (uint32_t)len, 0, 1), 0);
    fs_ft_flush(t);
    cr_assert_eq(out.f[0].bytes, len);
    fs_ft_free(t);
}

Test(flowtable, late_packets_are_counted_not_lost)
{
    struct fs_ft *t = table(0, 0, 0, 0);

    feed(t, &udp4, 5000);
    feed(t, &udp4, 4000);
    cr_assert_eq(fs_ft_stats(t)->late, 1);
    fs_ft_flush(t);
    cr_assert_eq(out.f[0].packets, 2);
    cr_assert_eq(out.f[0].start_ms, 4000);
    cr_assert_eq(out.f[0].end_ms, 5000);
    fs_ft_free(t);
}

Test(flowtable, limits)
{
    struct fs_ft_config c = {.max_flows = FS_FT_MAX_ENTRIES + 1};

    cr_assert_null(fs_ft_new(&c, sink, &out));
    c.max_flows = 16;
    cr_assert_null(fs_ft_new(&c, NULL, &out));
    cr_assert_str_eq(fs_ft_reason_name(FS_FT_TABLE_FULL), "table_full");
}

/* The batched path (fs_ft_packets, which looks the table up ahead) ends
 * the very same flows, in the same order, as one packet at a time. */
Test(flowtable, batches_meter_like_single_packets)
{
    enum { N = 6000 };
    static struct fs_ft_pkt pkts[N];
    static struct out single;
    struct fs_ft_config c = {.inactive_ms = 2000, .active_ms = 5000, .max_flows = 50,
                             .max_frags = 16, .frag_timeout_ms = 1000};
    struct fs_ft *a, *b;
    uint64_t x = 0x2545f4914f6cdd1dull;
    static const char *const hosts[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "2001:db8::1",
                                        "2001:db8::2"};

    for (size_t i = 0; i < N; i++) {
        uint8_t buf[PKT_MAX];
        struct pkt p = {.dlt = DLT_EN10MB};
        size_t len;
        unsigned h;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        h = (unsigned)(x % 5);
        p.src = hosts[h];
        p.dst = hosts[h < 3 ? (h + 1) % 3 : 3 + (h == 3)];
        p.proto = (x >> 8) % 4 == 0 ? 6 : 17;
        p.sport = (uint16_t)(1000 + (x >> 12) % 40);
        p.dport = 80;
        p.tcp_flags = (x >> 20) % 50 == 0 ? 0x01 : (x >> 20) % 50 == 1 ? 0x04 : 0x10;
        p.payload = (x >> 28) % 200;
        p.nvlan = (x >> 36) % 7 == 0;
        p.vlan[0] = 5;
        if ((x >> 40) % 13 == 0) {
            p.frag = true;
            p.frag_id = (uint32_t)((x >> 44) % 8);
            p.frag_offset = (x >> 48) % 3 == 0 ? 0 : 100;
            p.more_frags = true;
        }
        len = pkt_build(&p, buf);
        pkts[i].result = fs_frame_parse(buf, (x >> 52) % 40 == 0 ? 30 : len,
                                        FS_FRAME_LINK_ETHERNET, &pkts[i].frame);
        pkts[i].wire_len = (uint32_t)len;
        pkts[i].in_if = 1;
        pkts[i].ts_ms = 1000000 + i * 3 - (i % 17 == 0 ? 5 : 0);
    }
    out.n = 0;
    a = fs_ft_new(&c, sink, &single);
    b = fs_ft_new(&c, sink, &out);
    cr_assert(a && b);
    for (size_t i = 0; i < N; i++)
        fs_ft_packet(a, &pkts[i].frame, pkts[i].result, pkts[i].wire_len, pkts[i].in_if,
                     pkts[i].ts_ms);
    for (size_t i = 0; i < N; i += 100)
        fs_ft_packets(b, pkts + i, 100);
    fs_ft_flush(a);
    fs_ft_flush(b);
    cr_assert_gt(single.n, 200, "too few flows to compare anything");
    cr_assert_eq(out.n, single.n);
    for (size_t i = 0; i < out.n; i++) {
        cr_assert_eq(out.why[i], single.why[i], "flow %zu", i);
        cr_assert_eq(memcmp(&out.f[i], &single.f[i], sizeof(out.f[i])), 0, "flow %zu", i);
    }
    cr_assert_eq(memcmp(fs_ft_stats(a), fs_ft_stats(b), sizeof(struct fs_ft_stats)), 0);
    cr_assert_gt(fs_ft_stats(a)->expired[FS_FT_TABLE_FULL], 0);
    cr_assert_gt(fs_ft_stats(a)->fragments, 0);
    cr_assert_gt(fs_ft_stats(a)->truncated, 0);
    fs_ft_free(a);
    fs_ft_free(b);
}
