/*
 * test_pcapfile.c - the capture reader against hand-built frames and against
 * tshark's view of the bundled captures.
 *
 * Each test writes a small capture with libpcap's own writer (or, for
 * pcapng, byte by byte from the format spec), so the expected payloads,
 * addresses and counters are whatever the test put in.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcapfile.h"
#include "proc.h"

/* A frame under construction. */
struct frame {
    uint8_t b[2048];
    size_t n;
};

static void put(struct frame *f, const void *p, size_t n)
{
    cr_assert(f->n + n <= sizeof(f->b));
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void put16(struct frame *f, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    put(f, b, 2);
}

static void put32le(struct frame *f, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    put(f, b, 4);
}

static void put32be(struct frame *f, uint32_t v)
{
    put16(f, (uint16_t)(v >> 16));
    put16(f, (uint16_t)v);
}

static const uint8_t PAYLOAD[] = { 0x00, 0x05, 0x00, 0x01, 'h', 'e', 'l', 'l', 'o' };
static const uint8_t SRC4[4] = { 192, 0, 2, 1 }, DST4[4] = { 198, 51, 100, 7 };
static const uint8_t SRC6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t DST6[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0xab, [15] = 2 };

static void udp(struct frame *f, uint16_t sport, uint16_t dport)
{
    put16(f, sport);
    put16(f, dport);
    put16(f, (uint16_t)(8 + sizeof(PAYLOAD)));
    put16(f, 0);
    put(f, PAYLOAD, sizeof(PAYLOAD));
}

/* IPv4 header with `optwords` 4-byte option words, then a UDP datagram (or
 * `body` bytes of zeros when proto is not UDP). */
static void ipv4(struct frame *f, uint8_t proto, uint16_t frag, int optwords)
{
    size_t body = proto == 17 ? 8 + sizeof(PAYLOAD) : 20;
    size_t hl = 20 + 4 * (size_t)optwords;

    put16(f, (uint16_t)(0x4000 | (5 + optwords) << 8));
    put16(f, (uint16_t)(hl + body));
    put16(f, 0x1234);
    put16(f, frag);
    put16(f, (uint16_t)(64 << 8 | proto));
    put16(f, 0);
    put(f, SRC4, 4);
    put(f, DST4, 4);
    for (int i = 0; i < optwords; i++)
        put32be(f, 0x01010101); /* NOPs */
    if (proto == 17) {
        udp(f, 2055, 9995);
    } else {
        uint8_t zero[20] = { 0 };
        put(f, zero, sizeof(zero));
    }
}

static void ipv4_udp(struct frame *f) { ipv4(f, 17, 0, 0); }

/* IPv6 with the given extension headers (each 8 bytes, chained) then UDP. */
static void ipv6(struct frame *f, const uint8_t *ext, size_t next_count, uint16_t frag)
{
    size_t plen = 8 * next_count + 8 + sizeof(PAYLOAD);

    put32be(f, 0x60000000);
    put16(f, (uint16_t)plen);
    put(f, (uint8_t[]){ next_count ? ext[0] : 17, 64 }, 2);
    put(f, SRC6, 16);
    put(f, DST6, 16);
    for (size_t i = 0; i < next_count; i++) {
        uint8_t nh = i + 1 < next_count ? ext[i + 1] : 17;
        if (ext[i] == 44) {
            put(f, (uint8_t[]){ nh, 0 }, 2);
            put16(f, frag);
            put32be(f, 0xabcd);
        } else {
            put(f, (uint8_t[]){ nh, 0, 1, 4, 0, 0, 0, 0 }, 8); /* PadN option */
        }
    }
    udp(f, 4739, 4739);
}

static void ipv6_udp(struct frame *f) { ipv6(f, NULL, 0, 0); }

static void ether(struct frame *f, const uint16_t *tags, size_t ntags, uint16_t etype)
{
    uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };

    put(f, macs, sizeof(macs));
    for (size_t i = 0; i < ntags; i++) {
        put16(f, tags[i]);
        put16(f, (uint16_t)(100 + i)); /* VLAN id */
    }
    put16(f, etype);
}

/* Writes frames to a fresh pcap file of link type `dlt`. `caplens` may
 * shorten frames (snaplen) - 0 keeps the whole frame. */
static char tmpdir[64];

static const char *write_pcap(const char *name, int dlt, struct frame *frames, size_t n,
                              const size_t *caplens)
{
    static char path[256];
    pcap_t *dead;
    pcap_dumper_t *dump;

    if (tmpdir[0] == '\0')
        cr_assert_not_null(fs_tmpdir(tmpdir, sizeof(tmpdir)));
    snprintf(path, sizeof(path), "%s/%s.pcap", tmpdir, name);
    dead = pcap_open_dead(dlt, 65535);
    cr_assert_not_null(dead);
    dump = pcap_dump_open(dead, path);
    cr_assert_not_null(dump, "%s", pcap_geterr(dead));
    for (size_t i = 0; i < n; i++) {
        struct pcap_pkthdr h;

        h.ts.tv_sec = 1700000000 + (time_t)i;
        h.ts.tv_usec = 250000;
        h.len = (bpf_u_int32)frames[i].n;
        h.caplen = caplens != NULL && caplens[i] ? (bpf_u_int32)caplens[i] : h.len;
        pcap_dump((u_char *)dump, &h, frames[i].b);
    }
    pcap_dump_close(dump);
    pcap_close(dead);
    return path;
}

static void cleanup(void)
{
    fs_rmtree(tmpdir);
    tmpdir[0] = '\0';
}

TestSuite(pcapfile, .fini = cleanup);

/* What a read delivered. */
struct got {
    size_t n;
    struct fs_pcap_packet pkt[16];
    uint8_t data[16][64];
    size_t stop_after; /* 0: never stop */
};

static int collect(void *arg, const struct fs_pcap_packet *p)
{
    struct got *g = arg;

    if (g->n < 16) {
        g->pkt[g->n] = *p;
        cr_assert_leq(p->len, sizeof(g->data[0]));
        memcpy(g->data[g->n], p->payload, p->len);
        g->pkt[g->n].payload = g->data[g->n];
    }
    g->n++;
    return g->stop_after != 0 && g->n >= g->stop_after;
}

static void read_ok(const char *path, struct got *g, struct fs_pcap_stats *st)
{
    char err[256] = "";

    cr_assert_eq(fs_pcap_read(path, collect, g, st, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(st->packets, st->datagrams + st->skipped + st->truncated + st->fragments,
                 "every frame counted once");
}

static void assert_payload(const struct got *g, size_t i)
{
    cr_assert_eq(g->pkt[i].len, sizeof(PAYLOAD));
    cr_assert_arr_eq(g->pkt[i].payload, PAYLOAD, sizeof(PAYLOAD));
}

static void assert_v4(const struct got *g, size_t i)
{
    assert_payload(g, i);
    cr_assert_eq(g->pkt[i].src.af, 4);
    cr_assert_arr_eq(g->pkt[i].src.b, SRC4, 4);
    cr_assert_arr_eq(g->pkt[i].dst.b, DST4, 4);
    cr_assert_eq(g->pkt[i].src_port, 2055);
    cr_assert_eq(g->pkt[i].dst_port, 9995);
}

static void assert_v6(const struct got *g, size_t i)
{
    assert_payload(g, i);
    cr_assert_eq(g->pkt[i].src.af, 6);
    cr_assert_arr_eq(g->pkt[i].src.b, SRC6, 16);
    cr_assert_arr_eq(g->pkt[i].dst.b, DST6, 16);
    cr_assert_eq(g->pkt[i].src_port, 4739);
}

Test(pcapfile, ethernet_v4_v6_and_timestamps)
{
    struct frame f[2] = { 0 };
    struct got g = { 0 };
    struct fs_pcap_stats st;

    ether(&f[0], NULL, 0, 0x0800);
    ipv4_udp(&f[0]);
    ether(&f[1], NULL, 0, 0x86dd);
    ipv6_udp(&f[1]);
    read_ok(write_pcap("eth", DLT_EN10MB, f, 2, NULL), &g, &st);
    cr_assert_eq(st.packets, 2);
    cr_assert_eq(st.datagrams, 2);
    cr_assert_eq(g.n, 2);
    assert_v4(&g, 0);
    assert_v6(&g, 1);
    cr_assert_eq(g.pkt[0].ts_ms, 1700000000250ull);
    cr_assert_eq(g.pkt[1].ts_ms, 1700000001250ull);
}

Test(pcapfile, vlan_qinq_and_padding)
{
    static const uint16_t q[] = { 0x8100 }, qinq[] = { 0x88a8, 0x8100 },
                          old[] = { 0x9100, 0x8100, 0x8100 };
    struct frame f[4] = { 0 };
    struct got g = { 0 };
    struct fs_pcap_stats st;

    ether(&f[0], q, 1, 0x0800);
    ipv4_udp(&f[0]);
    ether(&f[1], qinq, 2, 0x86dd);
    ipv6_udp(&f[1]);
    ether(&f[2], old, 3, 0x0800);
    ipv4_udp(&f[2]);
    /* Minimum-size Ethernet frame: trailing padding must not reach the payload. */
    ether(&f[3], q, 1, 0x0800);
    ipv4_udp(&f[3]);
    put(&f[3], (uint8_t[8]){ 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee }, 8);
    read_ok(write_pcap("vlan", DLT_EN10MB, f, 4, NULL), &g, &st);
    cr_assert_eq(st.datagrams, 4);
    assert_v4(&g, 0);
    assert_v6(&g, 1);
    assert_v4(&g, 2);
    assert_v4(&g, 3);
}

Test(pcapfile, linux_cooked_sll_and_sll2)
{
    struct frame f[2] = { 0 };
    struct got g = { 0 };
    struct fs_pcap_stats st;

    /* SLL: packet type, ARPHRD, addr len, 8 addr bytes, protocol. */
    put16(&f[0], 0);
    put16(&f[0], 1);
    put16(&f[0], 6);
    put(&f[0], (uint8_t[8]){ 2, 0, 0, 0, 0, 1 }, 8);
    put16(&f[0], 0x0800);
    ipv4_udp(&f[0]);
    read_ok(write_pcap("sll", DLT_LINUX_SLL, f, 1, NULL), &g, &st);
    cr_assert_eq(st.datagrams, 1);
    assert_v4(&g, 0);

    /* SLL2: protocol, reserved, ifindex, ARPHRD, type, addr len, 8 addr bytes. */
    memset(&g, 0, sizeof(g));
    put16(&f[1], 0x86dd);
    put16(&f[1], 0);
    put32be(&f[1], 3);
    put16(&f[1], 1);
    put(&f[1], (uint8_t[2]){ 0, 6 }, 2);
    put(&f[1], (uint8_t[8]){ 2, 0, 0, 0, 0, 1 }, 8);
    ipv6_udp(&f[1]);
    read_ok(write_pcap("sll2", DLT_LINUX_SLL2, f + 1, 1, NULL), &g, &st);
    cr_assert_eq(st.datagrams, 1);
    assert_v6(&g, 0);
}

Test(pcapfile, raw_ip_link_types)
{
    static const int dlts[] = { DLT_RAW, DLT_IPV4, DLT_IPV6 };
    struct frame f[2] = { 0 };

    ipv4_udp(&f[0]);
    ipv6_udp(&f[1]);
    for (size_t i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++) {
        struct got g = { 0 };
        struct fs_pcap_stats st;

        read_ok(write_pcap("raw", dlts[i], f, 2, NULL), &g, &st);
        cr_assert_eq(st.datagrams, 2, "dlt %d", dlts[i]);
        assert_v4(&g, 0);
        assert_v6(&g, 1);
    }
}

Test(pcapfile, bsd_loopback_both_byte_orders)
{
    struct frame f[4] = { 0 };
    struct got g = { 0 };
    struct fs_pcap_stats st;

    put32le(&f[0], 2);   /* AF_INET, little-endian writer */
    ipv4_udp(&f[0]);
    put32be(&f[1], 2);   /* AF_INET, big-endian writer */
    ipv4_udp(&f[1]);
    put32le(&f[2], 24);  /* AF_INET6 on OpenBSD/NetBSD */
    ipv6_udp(&f[2]);
    put32be(&f[3], 30);  /* AF_INET6 on macOS */
    ipv6_udp(&f[3]);
    read_ok(write_pcap("null", DLT_NULL, f, 4, NULL), &g, &st);
    cr_assert_eq(st.datagrams, 4);
    assert_v4(&g, 0);
    assert_v4(&g, 1);
    assert_v6(&g, 2);
    assert_v6(&g, 3);

    /* DLT_LOOP: always network byte order. */
    memset(&g, 0, sizeof(g));
    read_ok(write_pcap("loop", DLT_LOOP, f + 1, 1, NULL), &g, &st);
    cr_assert_eq(st.datagrams, 1);
    assert_v4(&g, 0);
}

Test(pcapfile, ipv4_options_honour_ihl)
{
    struct frame f[1] = { 0 };
    struct got g = { 0 };
    struct fs_pcap_stats st;

    ether(&f[0], NULL, 0, 0x0800);
    ipv4(&f[0], 17, 0, 3);
    read_ok(write_pcap("ihl", DLT_EN10MB, f, 1, NULL), &g, &st);
    cr_assert_eq(st.datagrams, 1);
    assert_v4(&g, 0);
}

Test(pcapfile, ipv6_extension_headers)
{
    static const uint8_t hop_dst[] = { 0, 60 }, atomic[] = { 0, 44 }, frag[] = { 44 };
    struct frame f[3] = { 0 };
    struct got g = { 0 };
    struct fs_pcap_stats st;

    ipv6(&f[0], hop_dst, 2, 0);
    ipv6(&f[1], atomic, 2, 0);            /* atomic fragment: a whole packet */
    ipv6(&f[2], frag, 1, 0x0001);         /* first fragment, more to come */
    read_ok(write_pcap("ext", DLT_RAW, f, 3, NULL), &g, &st);
    cr_assert_eq(st.datagrams, 2);
    cr_assert_eq(st.fragments, 1);
    assert_v6(&g, 0);
    assert_v6(&g, 1);
}

Test(pcapfile, ipv4_fragments_counted_not_decoded)
{
    struct frame f[3] = { 0 };
    struct got g = { 0 };
    struct fs_pcap_stats st;

    ipv4(&f[0], 17, 0x2000, 0);  /* MF, offset 0 */
    ipv4(&f[1], 17, 0x00b9, 0);  /* last fragment, offset 185*8 */
    ipv4(&f[2], 17, 0x4000, 0);  /* DF only: a whole datagram */
    read_ok(write_pcap("frag", DLT_RAW, f, 3, NULL), &g, &st);
    cr_assert_eq(st.fragments, 2);
    cr_assert_eq(st.datagrams, 1);
    assert_v4(&g, 0);
}

Test(pcapfile, non_udp_skipped)
{
    struct frame f[4] = { 0 };
    struct got g = { 0 };
    struct fs_pcap_stats st;

    ether(&f[0], NULL, 0, 0x0800);
    ipv4(&f[0], 6, 0, 0);                 /* TCP */
    ether(&f[1], NULL, 0, 0x0806);        /* ARP */
    put(&f[1], (uint8_t[28]){ 0 }, 28);
    ether(&f[2], NULL, 0, 0x86dd);        /* IPv6 with ICMPv6 after options */
    {
        struct frame tmp = { 0 };
        ipv6(&tmp, (const uint8_t[]){ 0 }, 1, 0);
        tmp.b[40] = 58; /* hop-by-hop says ICMPv6 follows */
        put(&f[2], tmp.b, tmp.n);
    }
    ether(&f[3], NULL, 0, 0x0800);
    ipv4_udp(&f[3]);
    read_ok(write_pcap("nonudp", DLT_EN10MB, f, 4, NULL), &g, &st);
    cr_assert_eq(st.packets, 4);
    cr_assert_eq(st.skipped, 3);
    cr_assert_eq(st.datagrams, 1);
    assert_v4(&g, 0);
}

Test(pcapfile, short_frames_counted_truncated)
{
    struct frame f[5] = { 0 };
    size_t caplens[5] = { 0 };
    struct got g = { 0 };
    struct fs_pcap_stats st;

    for (int i = 0; i < 5; i++) {
        ether(&f[i], (const uint16_t[]){ 0x8100 }, i == 4, i == 3 ? 0x86dd : 0x0800);
        if (i == 3)
            ipv6_udp(&f[i]);
        else
            ipv4_udp(&f[i]);
    }
    caplens[0] = 14 + 20 + 8 + 3;  /* snapped inside the UDP payload */
    caplens[1] = 14 + 10;          /* inside the IPv4 header */
    caplens[2] = 10;               /* inside the Ethernet header */
    caplens[3] = 14 + 40 + 4;      /* inside the UDP header */
    caplens[4] = 14 + 2;           /* inside the VLAN tag */
    read_ok(write_pcap("snap", DLT_EN10MB, f, 5, caplens), &g, &st);
    cr_assert_eq(st.truncated, 5);
    cr_assert_eq(st.datagrams, 0);
    cr_assert_eq(g.n, 0);
}

Test(pcapfile, lying_length_fields)
{
    struct frame f[3] = { 0 };
    struct got g = { 0 };
    struct fs_pcap_stats st;

    ipv4_udp(&f[0]);
    f[0].b[3] += 50;          /* IP total length past the capture */
    ipv4_udp(&f[1]);
    f[1].b[20 + 5] = 4;       /* UDP length 4 < 8 */
    ipv4_udp(&f[2]);
    f[2].b[0] = 0x44;         /* IHL 4 < 5 */
    read_ok(write_pcap("lie", DLT_RAW, f, 3, NULL), &g, &st);
    cr_assert_eq(st.datagrams, 0);
    cr_assert_eq(st.truncated, 1);
    cr_assert_eq(st.skipped, 2);
}

Test(pcapfile, truncated_file_delivers_then_fails)
{
    struct frame f[3] = { 0 };
    struct got g = { 0 };
    struct fs_pcap_stats st;
    char err[256] = "";
    const char *path;
    struct stat sb;

    for (int i = 0; i < 3; i++) {
        ether(&f[i], NULL, 0, 0x0800);
        ipv4_udp(&f[i]);
    }
    path = write_pcap("cut", DLT_EN10MB, f, 3, NULL);
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(truncate(path, sb.st_size - 5), 0);
    cr_assert_eq(fs_pcap_read(path, collect, &g, &st, err, sizeof(err)), -1);
    cr_assert_eq(g.n, 2);
    cr_assert_eq(st.datagrams, 2);
    assert_v4(&g, 1);
    cr_assert_not_null(strstr(err, path), "message names the file: %s", err);
    cr_assert_not_null(strstr(err, "truncated"), "%s", err);
}

Test(pcapfile, not_a_capture_and_missing_file)
{
    char path[128], err[256] = "";
    struct got g = { 0 };
    FILE *fp;

    cr_assert_not_null(fs_tmpdir(tmpdir, sizeof(tmpdir)));
    snprintf(path, sizeof(path), "%s/notes.txt", tmpdir);
    fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs("this is not a packet capture, just some text\n", fp);
    fclose(fp);
    cr_assert_eq(fs_pcap_read(path, collect, &g, NULL, err, sizeof(err)), -1);
    cr_assert_neq(err[0], '\0');
    cr_assert_not_null(strstr(err, path));

    snprintf(path, sizeof(path), "%s/absent.pcap", tmpdir);
    err[0] = '\0';
    cr_assert_eq(fs_pcap_read(path, collect, &g, NULL, err, sizeof(err)), -1);
    cr_assert_neq(err[0], '\0');
    cr_assert_eq(g.n, 0);
}

Test(pcapfile, unsupported_link_type)
{
    struct frame f[1] = { 0 };
    struct got g = { 0 };
    char err[256] = "";

    ipv4_udp(&f[0]);
    cr_assert_eq(fs_pcap_read(write_pcap("wifi", DLT_IEEE802_11, f, 1, NULL), collect, &g,
                              NULL, err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "link type"), "%s", err);
    cr_assert_eq(g.n, 0);
}

Test(pcapfile, callback_stops_reading)
{
    struct frame f[3] = { 0 };
    struct got g = { .stop_after = 2 };
    struct fs_pcap_stats st;

    for (int i = 0; i < 3; i++)
        ipv4_udp(&f[i]);
    read_ok(write_pcap("stop", DLT_RAW, f, 3, NULL), &g, &st);
    cr_assert_eq(g.n, 2);
    cr_assert_eq(st.datagrams, 2);
}

/* Reads every payload byte, so that a payload reaching past the captured
 * frame shows up under AddressSanitizer. */
static int touch_payload(void *arg, const struct fs_pcap_packet *p)
{
    unsigned *sum = arg;

    cr_assert_lt(p->len, sizeof(((struct frame *)0)->b));
    for (size_t i = 0; i < p->len; i++)
        *sum += p->payload[i];
    return 0;
}

Test(pcapfile, damaged_frames_never_crash)
{
    static struct frame f[200];
    static const int dlts[] = { DLT_EN10MB, DLT_RAW, DLT_LINUX_SLL2, DLT_NULL };
    size_t caplens[200];
    unsigned seed = 12345, sum = 0;

    for (size_t d = 0; d < sizeof(dlts) / sizeof(dlts[0]); d++) {
        struct fs_pcap_stats st;
        char err[256] = "";

        memset(f, 0, sizeof(f));
        for (size_t i = 0; i < 200; i++) {
            if (dlts[d] == DLT_EN10MB)
                ether(&f[i], (const uint16_t[]){ 0x8100, 0x8100 }, i % 3, i % 2 ? 0x86dd : 0x0800);
            else if (dlts[d] == DLT_LINUX_SLL2)
                put(&f[i], (uint8_t[20]){ i % 2 ? 0x86 : 0x08, i % 2 ? 0xdd : 0x00 }, 20);
            else if (dlts[d] == DLT_NULL)
                put32le(&f[i], i % 2 ? 10 : 2);
            if (i % 2)
                ipv6(&f[i], (const uint8_t[]){ 0, 60 }, i % 3, 0);
            else
                ipv4(&f[i], 17, 0, (int)(i % 4));
            /* Flip a few bytes anywhere, and cut some frames short. */
            for (int k = 0; k < 4; k++)
                f[i].b[rand_r(&seed) % f[i].n] = (uint8_t)rand_r(&seed);
            caplens[i] = rand_r(&seed) % 4 == 0 ? 1 + rand_r(&seed) % f[i].n : 0;
        }
        cr_assert_eq(fs_pcap_read(write_pcap("fuzz", dlts[d], f, 200, caplens), touch_payload, &sum,
                                  &st, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(st.packets, 200);
        cr_assert_eq(st.packets, st.datagrams + st.skipped + st.truncated + st.fragments);
        cr_assert_gt(st.truncated + st.skipped, 0, "damage went unnoticed");
    }
}

/* pcapng written by hand (SHB, IDB, EPB), nanosecond resolution declared in
 * the IDB so the reader's timestamp scaling is exercised too. */
static void ng_block(struct frame *f, uint32_t type, const struct frame *body)
{
    uint32_t len = (uint32_t)(12 + body->n);

    put32le(f, type);
    put32le(f, len);
    put(f, body->b, body->n);
    put32le(f, len);
}

Test(pcapfile, pcapng)
{
    struct frame file = { 0 }, shb = { 0 }, idb = { 0 }, epb = { 0 }, pkt = { 0 };
    struct got g = { 0 };
    struct fs_pcap_stats st;
    char path[128];
    uint64_t ts_ns = 1700000000123456789ull;
    FILE *fp;

    put32le(&shb, 0x1a2b3c4d);
    put(&shb, (uint8_t[4]){ 1, 0, 0, 0 }, 4);           /* version 1.0 */
    put32le(&shb, 0xffffffff);                           /* section length -1 */
    put32le(&shb, 0xffffffff);
    ng_block(&file, 0x0a0d0d0a, &shb);

    put(&idb, (uint8_t[4]){ DLT_EN10MB, 0, 0, 0 }, 4);  /* link type, reserved */
    put32le(&idb, 65535);
    put(&idb, (uint8_t[8]){ 9, 0, 1, 0, 9, 0, 0, 0 }, 8); /* if_tsresol = 10^-9 */
    put32le(&idb, 0);                                    /* opt_endofopt */
    ng_block(&file, 1, &idb);

    ether(&pkt, NULL, 0, 0x86dd);
    ipv6_udp(&pkt);
    put32le(&epb, 0);
    put32le(&epb, (uint32_t)(ts_ns >> 32));
    put32le(&epb, (uint32_t)ts_ns);
    put32le(&epb, (uint32_t)pkt.n);
    put32le(&epb, (uint32_t)pkt.n);
    put(&epb, pkt.b, pkt.n);
    while (epb.n % 4)
        put(&epb, (uint8_t[1]){ 0 }, 1);
    ng_block(&file, 6, &epb);

    cr_assert_not_null(fs_tmpdir(tmpdir, sizeof(tmpdir)));
    snprintf(path, sizeof(path), "%s/ng.pcapng", tmpdir);
    fp = fopen(path, "wb");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(file.b, 1, file.n, fp), file.n);
    fclose(fp);
    read_ok(path, &g, &st);
    cr_assert_eq(st.datagrams, 1);
    assert_v6(&g, 0);
    cr_assert_eq(g.pkt[0].ts_ms, 1700000000123ull);
}

/* tshark's count of UDP frames in a capture, or -1 without tshark. */
static long tshark_udp_count(const char *path)
{
    char cmd[1200], line[256];
    long n = 0;
    FILE *p;

    if (access("/usr/bin/tshark", X_OK) != 0)
        return -1;
    snprintf(cmd, sizeof(cmd), "/usr/bin/tshark -n -r '%s' -Y udp 2>/dev/null", path);
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    while (fgets(line, sizeof(line), p) != NULL)
        if (strchr(line, '\n') != NULL)
            n++;
    return pclose(p) == 0 ? n : -1;
}

static int count_only(void *arg, const struct fs_pcap_packet *p)
{
    (void)p;
    (*(size_t *)arg)++;
    return 0;
}

/* Walks `dir` recursively, checking every .pcap against tshark. */
static size_t check_dir(const char *dir)
{
    size_t checked = 0;
    struct dirent *de;
    DIR *d = opendir(dir);

    cr_assert_not_null(d, "cannot open %s", dir);
    while ((de = readdir(d)) != NULL) {
        char path[1024];
        size_t len = strlen(de->d_name);
        struct stat sb;

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (stat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            checked += check_dir(path);
        } else if (len > 5 && strcmp(de->d_name + len - 5, ".pcap") == 0) {
            struct fs_pcap_stats st;
            char err[256] = "";
            size_t got = 0;
            long want = tshark_udp_count(path);

            cr_assert_eq(fs_pcap_read(path, count_only, &got, &st, err, sizeof(err)), 0,
                         "%s", err);
            cr_assert_geq(want, 1, "tshark could not read %s", path);
            cr_assert_eq((long)got, want, "%s: %zu datagrams, tshark sees %ld", path, got,
                         want);
            cr_assert_eq(st.packets, st.datagrams + st.skipped + st.truncated + st.fragments);
            checked++;
        }
    }
    closedir(d);
    return checked;
}

Test(pcapfile, bundled_captures_match_tshark)
{
    if (access("/usr/bin/tshark", X_OK) != 0)
        cr_skip_test("tshark not installed (tools/deps.sh installs it)");
    /* 27 akvorado and 7 pmacct captures are bundled. */
    cr_assert_eq(check_dir(FS_CAPTURES), 34);
}
