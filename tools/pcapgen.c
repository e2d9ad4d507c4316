/*
 * pcapgen.c - fs-pcapgen: writes a large, deterministic capture of mixed
 * traffic for benchmarking flow meters (tools/bench-sensor.sh), so that no
 * big capture file has to be kept anywhere.
 *
 *   fs-pcapgen [--packets N] [--flows N] [--seed N] [--snaplen BYTES]
 *              [--gap-us US] [--start SECONDS] FILE
 *
 * The traffic: --flows conversations (default 100 000, each two ways) between random
 * hosts, 80% IPv4 and 20% IPv6, 70% TCP, 25% UDP, 5% ICMP echo, one in ten
 * on an 802.1Q VLAN. Each packet belongs to a conversation drawn with a
 * strong skew (a few conversations carry most packets, most are rare, so
 * both cache-friendly elephants and cache-hostile mice are there) and goes
 * either way. TCP conversations open with a SYN, carry ACK and PSH+ACK
 * segments and end with a FIN after 64 segments on average, after which the
 * next packet of the conversation opens a new connection from the next
 * source port. Packets are --gap-us apart on average (default 10 µs, so 10
 * million packets span 100 s and the rarely drawn conversations go idle
 * past a 15 s inactive timeout). Each is stored with at most --snaplen
 * bytes (default 96: every header, no payload) and its length on the wire.
 *
 * The same options give the same bytes, on any machine: every random draw
 * comes from one integer generator (splitmix64) and no floating point is
 * used. When done it prints one line: packets, bytes on the wire, TCP
 * connections opened, file bytes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VLAN_TAG 4
#define MAX_FRAME 65536 /* a frame of the largest snap length */
#define OUT_BUF (4u << 20)

struct options {
    uint64_t packets;
    uint32_t flows;
    uint64_t seed;
    uint32_t snaplen;
    uint32_t gap_us;
    uint64_t start_s;
    const char *path;
};

struct conv {
    uint8_t v6, proto, vlan_tagged, open; /* open: a TCP connection is under way */
    uint16_t vlan, sport, dport;
    uint8_t a[16], b[16];                 /* client, server */
};

static uint64_t rng_state;

/* splitmix64: small, fast and the same everywhere. */
static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A uniform draw in [0, n). */
static uint32_t below(uint32_t n)
{
    return (uint32_t)(((rng() >> 32) * n) >> 32);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void make_conv(struct conv *c)
{
    uint32_t kind = below(100);

    memset(c, 0, sizeof(*c));
    c->v6 = below(100) < 20;
    c->proto = kind < 70 ? 6 : kind < 95 ? 17 : (c->v6 ? 58 : 1);
    c->vlan_tagged = below(10) == 0;
    c->vlan = (uint16_t)(1 + below(4094));
    if (c->v6) {
        /* 2001:db8::/32, the documentation prefix, random below it */
        c->a[0] = 0x20, c->a[1] = 0x01, c->a[2] = 0x0d, c->a[3] = 0xb8;
        memcpy(c->b, c->a, 4);
        for (int i = 4; i < 16; i++) {
            c->a[i] = (uint8_t)rng();
            c->b[i] = (uint8_t)rng();
        }
    } else {
        /* clients in 10/8, servers anywhere but 0/8, 127/8 and multicast */
        uint32_t x = (uint32_t)rng(), y;

        do
            y = (uint32_t)rng();
        while ((y >> 24) == 0 || (y >> 24) == 127 || (y >> 24) >= 224);
        c->a[0] = 10, c->a[1] = (uint8_t)(x >> 16), c->a[2] = (uint8_t)(x >> 8);
        c->a[3] = (uint8_t)x;
        c->b[0] = (uint8_t)(y >> 24), c->b[1] = (uint8_t)(y >> 16);
        c->b[2] = (uint8_t)(y >> 8), c->b[3] = (uint8_t)y;
    }
    if (c->proto == 6 || c->proto == 17) {
        static const uint16_t services[] = {443, 80, 53, 22, 25, 123, 8080, 3389};

        c->sport = (uint16_t)(32768 + below(28000));
        c->dport = below(4) ? services[below(8)] : (uint16_t)(1024 + below(60000));
    }
}

/* RFC 1071 checksum of an IPv4 header. */
static uint16_t ip_checksum(const uint8_t *h)
{
    uint32_t sum = 0;

    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Builds one packet of `c` into `f` (headers only). Returns the header
 * bytes; `*wire` gets the frame's length on the wire. `*opened` is set when
 * the packet opens a TCP connection. */
static size_t build(struct conv *c, uint8_t *f, uint32_t *wire, bool *opened)
{
    static const uint16_t payloads[] = {0, 0, 40, 100, 200, 512, 1200, 1400};
    bool reverse = below(2) == 1;
    uint16_t payload = payloads[below(8)];
    size_t n = 12, l4len, iplen;
    uint8_t *ip, *l4, flags = 0;
    const uint8_t *src = reverse ? c->b : c->a, *dst = reverse ? c->a : c->b;

    *opened = false;
    if (c->proto == 6) {
        if (!c->open) {
            /* a new connection: the client's SYN, from the next port */
            c->open = 1;
            c->sport = (uint16_t)(c->sport == 65535 ? 32768 : c->sport + 1);
            reverse = false, src = c->a, dst = c->b;
            flags = 0x02;
            payload = 0;
            *opened = true;
        } else if (below(64) == 0) {
            flags = 0x11;
            payload = 0;
            c->open = 0;
        } else {
            flags = payload ? 0x18 : 0x10;
        }
    }
    /* MAC addresses from the documentation range (RFC 7042) */
    memcpy(f, "\x00\x00\x5e\x00\x53\x01\x00\x00\x5e\x00\x53\x02", 12);
    if (reverse) {
        f[5] = 0x02;
        f[11] = 0x01;
    }
    if (c->vlan_tagged) {
        put16(f + n, 0x8100);
        put16(f + n + 2, c->vlan);
        n += VLAN_TAG;
    }
    put16(f + n, c->v6 ? 0x86dd : 0x0800);
    n += 2;
    ip = f + n;
    l4len = c->proto == 6 ? 20 : 8;
    if (c->v6) {
        iplen = 40 + l4len + payload;
        memset(ip, 0, 40);
        ip[0] = 0x60;
        put16(ip + 4, (uint16_t)(iplen - 40));
        ip[6] = c->proto;
        ip[7] = 64;
        memcpy(ip + 8, src, 16);
        memcpy(ip + 24, dst, 16);
        l4 = ip + 40;
    } else {
        iplen = 20 + l4len + payload;
        memset(ip, 0, 20);
        ip[0] = 0x45;
        put16(ip + 2, (uint16_t)iplen);
        put16(ip + 6, 0x4000);
        ip[8] = 64;
        ip[9] = c->proto;
        memcpy(ip + 12, src, 4);
        memcpy(ip + 16, dst, 4);
        put16(ip + 10, ip_checksum(ip));
        l4 = ip + 20;
    }
    memset(l4, 0, l4len);
    if (c->proto == 6 || c->proto == 17) {
        put16(l4, reverse ? c->dport : c->sport);
        put16(l4 + 2, reverse ? c->sport : c->dport);
        if (c->proto == 6) {
            l4[12] = 0x50;
            l4[13] = flags;
            put16(l4 + 14, 65535);
        } else {
            put16(l4 + 4, (uint16_t)(8 + payload));
        }
    } else {
        /* echo request out, reply back */
        l4[0] = c->proto == 1 ? (reverse ? 0 : 8) : (reverse ? 129 : 128);
    }
    *wire = (uint32_t)((size_t)(ip - f) + iplen);
    return (size_t)(l4 - f) + l4len;
}

static void usage(FILE *fp)
{
    fputs("usage: fs-pcapgen [--packets N] [--flows N] [--seed N] [--snaplen BYTES]\n"
          "                  [--gap-us US] [--start SECONDS] FILE\n"
          "Writes a deterministic pcap of mixed traffic (see tools/pcapgen.c).\n", fp);
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"packets", required_argument, NULL, 'n'}, {"flows", required_argument, NULL, 'f'},
        {"seed", required_argument, NULL, 's'},    {"snaplen", required_argument, NULL, 'l'},
        {"gap-us", required_argument, NULL, 'g'},  {"start", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    uint64_t v;
    int ch;

    *o = (struct options){.packets = 10000000, .flows = 100000, .seed = 1, .snaplen = 96,
                          .gap_us = 10, .start_s = 1700000000};
    while ((ch = getopt_long(argc, argv, "n:f:s:l:g:t:h", longopts, NULL)) != -1) {
        const char *name = NULL;

        switch (ch) {
        case 'n':
            if (parse_u64(optarg, 1, UINT64_MAX, &o->packets) < 0)
                name = "packets";
            break;
        case 'f':
            if (parse_u64(optarg, 1, 1u << 24, &v) < 0)
                name = "flows";
            o->flows = (uint32_t)v;
            break;
        case 's':
            if (parse_u64(optarg, 0, UINT64_MAX, &o->seed) < 0)
                name = "seed";
            break;
        case 'l':
            if (parse_u64(optarg, 64, 65535, &v) < 0)
                name = "snaplen";
            o->snaplen = (uint32_t)v;
            break;
        case 'g':
            if (parse_u64(optarg, 1, 1000000, &v) < 0)
                name = "gap-us";
            o->gap_us = (uint32_t)v;
            break;
        case 't':
            if (parse_u64(optarg, 0, UINT32_MAX / 2, &o->start_s) < 0)
                name = "start";
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
        if (name != NULL) {
            fprintf(stderr, "fs-pcapgen: bad --%s '%s'\n", name, optarg);
            return -1;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return -1;
    }
    o->path = argv[optind];
    return 0;
}

int main(int argc, char **argv)
{
    struct options o;
    struct conv *convs;
    static uint8_t frame[MAX_FRAME];
    uint8_t hdr[24], rec[16];
    uint64_t t_us, wire_bytes = 0, opened = 0, file_bytes = 0;
    FILE *fp;
    char *buf;

    if (parse_args(argc, argv, &o) < 0)
        return 2;
    rng_state = o.seed;
    convs = calloc(o.flows, sizeof(*convs));
    buf = malloc(OUT_BUF);
    if (convs == NULL || buf == NULL) {
        fprintf(stderr, "fs-pcapgen: out of memory\n");
        return 1;
    }
    for (uint32_t i = 0; i < o.flows; i++)
        make_conv(&convs[i]);
    if ((fp = fopen(o.path, "wb")) == NULL) {
        fprintf(stderr, "fs-pcapgen: %s: %s\n", o.path, strerror(errno));
        return 1;
    }
    setvbuf(fp, buf, _IOFBF, OUT_BUF);

    /* pcap file header (little endian, µs): version 2.4, LINKTYPE_ETHERNET */
    memset(hdr, 0, sizeof(hdr));
    put32le(hdr, 0xa1b2c3d4);
    hdr[4] = 2, hdr[6] = 4;
    put32le(hdr + 16, o.snaplen);
    put32le(hdr + 20, 1);
    fwrite(hdr, 1, sizeof(hdr), fp);
    file_bytes += sizeof(hdr);

    t_us = o.start_s * 1000000u;
    for (uint64_t i = 0; i < o.packets; i++) {
        /* r * r, r uniform in [0, 1): conversation k is drawn with a
         * probability that falls off as 1 / sqrt(k) */
        uint64_t r = rng() >> 32;
        struct conv *c = &convs[((r * r) >> 32) * o.flows >> 32];
        uint32_t wire, caplen;
        size_t len;
        bool new_conn;

        t_us += below(2 * o.gap_us + 1);
        len = build(c, frame, &wire, &new_conn);
        opened += new_conn;
        caplen = wire < o.snaplen ? wire : o.snaplen;
        put32le(rec, (uint32_t)(t_us / 1000000u));
        put32le(rec + 4, (uint32_t)(t_us % 1000000u));
        put32le(rec + 8, caplen);
        put32le(rec + 12, wire);
        fwrite(rec, 1, sizeof(rec), fp);
        if (caplen > len)
            memset(frame + len, 0xab, caplen - len); /* payload bytes kept by the snaplen */
        fwrite(frame, 1, caplen, fp);
        wire_bytes += wire;
        file_bytes += sizeof(rec) + caplen;
    }
    if (fclose(fp) != 0) {
        fprintf(stderr, "fs-pcapgen: %s: %s\n", o.path, strerror(errno));
        return 1;
    }
    printf("packets=%llu wire_bytes=%llu tcp_connections=%llu file_bytes=%llu\n",
           (unsigned long long)o.packets, (unsigned long long)wire_bytes,
           (unsigned long long)opened, (unsigned long long)file_bytes);
    free(convs);
    free(buf);
    return 0;
}
