/*
 * flowgen.c - deterministic synthetic flows and their v5, v9 and IPFIX
 * export datagrams (see flowgen.h).
 *
 * The traffic model is deliberately simple but shaped like an enterprise
 * edge: internal clients in 10.1.0.0/20 (and 2001:db8:10::/48) talk to a
 * Zipf-like population of external servers, TCP dominates, sizes are
 * heavy-tailed, and each direction of a conversation is its own flow, as
 * routers export them. Templates follow common router layouts: Cisco-style
 * v9 with 32-bit counters and uptime-relative times, IPFIX with 64-bit
 * counters and absolute millisecond times.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen.h"

#define V5_HEADER 24
#define V5_RECORD 48
#define V9_HEADER 20
#define IPFIX_HEADER 16
#define SET_HEADER 4

#define TPL_V4 256
#define TPL_V6 257
#define TPL_SAMPLING 258

#define AS_TRANS 23456          /* RFC 6793: stands for a 4-byte AS in 2 bytes */
#define ACTIVE_TIMEOUT_MS 60000
#define INACTIVE_TIMEOUT_MS 15000
#define BOOT_AGE_MS (7 * 86400000ull) /* exporter uptime at the first datagram */
#define DEFAULT_START_MS 1700000000000ull

#define INTERNAL_SUBNETS 16
#define INTERNAL_HOSTS_PER_SUBNET 250
#define EXTERNAL_SERVERS 20000

/* One field of a template: an IANA element id and its encoded length. */
struct tpl_field {
    uint16_t ie, len;
};

#define TPL_MAX_FIELDS 20

struct tpl {
    uint16_t id;
    uint16_t nfields;
    uint16_t record_len;
    struct tpl_field f[TPL_MAX_FIELDS];
};

struct fs_gen {
    struct fs_gen_config cfg;
    uint64_t rng[4];
    uint64_t boot_ms;
    uint32_t seq;
    uint64_t datagrams;
    uint64_t flows;
    struct tpl tpl[2];          /* [0] IPv4, [1] IPv6; v9 and IPFIX only */
    struct fs_flow *pending;    /* generated, not yet encoded (fs_gen_next) */
    size_t npending;
    size_t max_fit;             /* most flows one datagram can hold */
};

/* xoshiro256** seeded through splitmix64: fast, and the same everywhere. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rnd64(struct fs_gen *g)
{
    uint64_t *s = g->rng;
    uint64_t r = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, n), n < 2^32. */
static uint32_t rnd_below(struct fs_gen *g, uint32_t n)
{
    return (uint32_t)(((rnd64(g) >> 32) * n) >> 32);
}

/* Uniform in (0, 1]. */
static double rnd_unit(struct fs_gen *g)
{
    return (double)((rnd64(g) >> 11) + 1) / 9007199254740992.0;
}

/* A stable hash of a small integer, to spread pool indices over addresses. */
static uint64_t mix(uint64_t x)
{
    return splitmix64(&x);
}

/* Picks from a table of weights summing to 100. */
struct weighted {
    uint16_t value;
    uint8_t weight;
};

static uint16_t pick(struct fs_gen *g, const struct weighted *w)
{
    uint32_t r = rnd_below(g, 100);
    for (;; w++) {
        if (r < w->weight || w[1].weight == 0)
            return w->value;
        r -= w->weight;
    }
}

static const struct weighted tcp_services[] = {
    {443, 50}, {80, 15}, {22, 5}, {25, 4}, {993, 4}, {8080, 4}, {3389, 3},
    {445, 3}, {3306, 2}, {5222, 2}, {0, 8}, {0, 0}, /* 0: some port below 1024 */
};
static const struct weighted udp_services[] = {
    {53, 55}, {443, 25}, {123, 10}, {4500, 4}, {5353, 3}, {0, 3}, {0, 0},
};
static const struct weighted icmp4_types[] = {
    {8 << 8, 50}, {0 << 8, 30}, {3 << 8 | 3, 15}, {11 << 8, 5}, {0, 0},
};
static const struct weighted icmp6_types[] = {
    {128 << 8, 50}, {129 << 8, 30}, {1 << 8 | 4, 15}, {3 << 8, 5}, {0, 0},
};
static const struct weighted tos_values[] = {
    {0x00, 85}, {0x28, 10}, {0xb8, 5}, {0, 0},
};

/* Well-known networks of large content and transit providers. */
static const uint8_t external_v4_first_octet[] = {
    13, 20, 23, 31, 34, 35, 40, 52, 54, 62, 77, 81, 88, 91, 104, 108,
    128, 140, 142, 151, 157, 185, 188, 193, 195, 199, 203, 212, 216,
};
static const uint16_t external_v6_prefix[][2] = {
    {0x2606, 0x4700}, {0x2a00, 0x1450}, {0x2a03, 0x2880}, {0x2600, 0x9000},
    {0x2620, 0x01ec}, {0x2a02, 0x26f0}, {0x2001, 0x4860}, {0x2a04, 0x4e42},
};
static const uint32_t external_as[] = {
    13335, 15169, 16509, 8075, 32934, 20940, 14618, 54113, 2906, 3356, 1299,
    174, 6939, 24940, 16276, 46606, 396982, 13238, 12389, 3320, 199524, 209242,
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void ip4(fs_ip *ip, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    memset(ip, 0, sizeof(*ip));
    ip->af = 4;
    ip->b[0] = a;
    ip->b[1] = b;
    ip->b[2] = c;
    ip->b[3] = d;
}

/* 2001:db8:<w2>:<w3>::<last> */
static void ip6(fs_ip *ip, uint16_t w0, uint16_t w1, uint16_t w2, uint16_t w3,
                uint16_t last)
{
    memset(ip, 0, sizeof(*ip));
    ip->af = 6;
    uint16_t w[4] = {w0, w1, w2, w3};
    for (int i = 0; i < 4; i++) {
        ip->b[2 * i] = (uint8_t)(w[i] >> 8);
        ip->b[2 * i + 1] = (uint8_t)w[i];
    }
    ip->b[14] = (uint8_t)(last >> 8);
    ip->b[15] = (uint8_t)last;
}

/* The addressing side of a flow: who talks to whom, through which
 * interfaces and next hops. Internal clients are uniform; servers follow a
 * steep power law, so a few are very popular. */
struct endpoints {
    fs_ip client, server, client_gw, upstream;
    uint32_t server_as;
    uint8_t client_mask, server_mask;
    uint32_t lan_if, wan_if;
};

static void pick_endpoints(struct fs_gen *g, bool v6, struct endpoints *e)
{
    uint32_t subnet = rnd_below(g, INTERNAL_SUBNETS);
    uint32_t host = 2 + rnd_below(g, INTERNAL_HOSTS_PER_SUBNET);
    double u = rnd_unit(g);
    uint32_t server = (uint32_t)(EXTERNAL_SERVERS * u * u * u * u) % EXTERNAL_SERVERS;
    uint64_t h = mix(server);
    uint32_t upstream = (uint32_t)(h >> 60) & 1;

    e->lan_if = 1 + subnet % 4;
    e->wan_if = 10 + upstream;
    e->server_as = external_as[(h >> 8) % NELEM(external_as)];
    if (g->cfg.version == 5 && e->server_as > 0xffff)
        e->server_as = AS_TRANS;
    if (!v6) {
        ip4(&e->client, 10, 1, (uint8_t)subnet, (uint8_t)host);
        ip4(&e->client_gw, 10, 1, (uint8_t)subnet, 1);
        ip4(&e->server, external_v4_first_octet[h % NELEM(external_v4_first_octet)],
            (uint8_t)(h >> 16), (uint8_t)(h >> 24), (uint8_t)(1 + (h >> 32) % 254));
        ip4(&e->upstream, 198, 51, 100, (uint8_t)(1 + upstream));
        e->client_mask = 24;
        e->server_mask = (uint8_t)(16 + (h >> 40) % 9);
    } else {
        const uint16_t *p = external_v6_prefix[h % NELEM(external_v6_prefix)];
        ip6(&e->client, 0x2001, 0x0db8, 0x0010, (uint16_t)subnet, (uint16_t)host);
        ip6(&e->client_gw, 0x2001, 0x0db8, 0x0010, (uint16_t)subnet, 1);
        ip6(&e->server, p[0], p[1], (uint16_t)(h >> 16), (uint16_t)(h >> 32),
            (uint16_t)(1 + (h >> 48) % 0xfffe));
        ip6(&e->upstream, 0x2001, 0x0db8, 0xffff, 0, (uint16_t)(1 + upstream));
        e->client_mask = 64;
        e->server_mask = (uint8_t)(32 + (h >> 40) % 17);
    }
}

/* Packets per flow: Pareto with alpha 1.3, so most flows are small and a few
 * carry most of the bytes; capped so 1500-byte packets fit 32-bit counters. */
static uint64_t pick_packets(struct fs_gen *g)
{
    double x = 2.0 * pow(rnd_unit(g), -1.0 / 1.3) - 1.0;
    return x > 2000000.0 ? 2000000 : (uint64_t)x;
}

static uint8_t pick_tcp_flags(struct fs_gen *g, uint64_t packets)
{
    static const struct weighted short_flows[] = {
        {0x02, 60}, {0x14, 20}, {0x10, 20}, {0, 0}, /* SYN, RST+ACK, ACK */
    };
    static const struct weighted long_flows[] = {
        {0x1b, 70}, {0x18, 20}, {0x1c, 10}, {0, 0}, /* FIN+SYN+PSH+ACK, ... */
    };
    return (uint8_t)pick(g, packets <= 2 ? short_flows : long_flows);
}

void fs_gen_flow(struct fs_gen *g, uint64_t now_ms, struct fs_flow *f)
{
    struct endpoints e;
    bool v6 = g->cfg.version != 5 && rnd_below(g, 100) < g->cfg.ipv6_percent;
    bool to_server = rnd_below(g, 2) == 0;
    uint32_t r = rnd_below(g, 100);
    uint16_t service = 0, client_port = (uint16_t)(32768 + rnd_below(g, 28232));
    uint32_t min_size = 28, max_size;
    uint64_t duration_ms;

    fs_flow_init(f);
    f->version = g->cfg.version;
    f->domain = g->cfg.domain;
    f->exporter = g->cfg.exporter;
    pick_endpoints(g, v6, &e);

    if (r < 84) {
        f->proto = 6;
        service = pick(g, tcp_services);
        if (service == 0)
            service = (uint16_t)(1 + rnd_below(g, 1023));
        f->packets = pick_packets(g);
        f->tcp_flags = pick_tcp_flags(g, f->packets);
        min_size = 40;
        max_size = to_server ? 400 : 1460;
    } else if (r < 97) {
        f->proto = 17;
        service = pick(g, udp_services);
        if (service == 0)
            service = (uint16_t)(1 + rnd_below(g, 1023));
        f->packets = service == 443 || service == 4500 ? pick_packets(g)
                                                       : 1 + rnd_below(g, 2);
        max_size = service == 443 ? 1350 : 512;
    } else {
        f->proto = v6 ? 58 : 1;
        f->packets = 1 + rnd_below(g, 3);
        max_size = 128;
    }
    if (f->packets == 0)
        f->packets = 1;
    f->bytes = f->packets * (min_size + rnd_below(g, max_size - min_size + 1));

    if (f->proto == 1 || f->proto == 58) {
        f->src_port = 0;
        f->dst_port = pick(g, v6 ? icmp6_types : icmp4_types);
    } else if (to_server) {
        f->src_port = client_port;
        f->dst_port = service;
    } else {
        f->src_port = service;
        f->dst_port = client_port;
    }
    f->tos = (uint8_t)pick(g, tos_values);

    if (to_server) {
        f->src_addr = e.client;
        f->dst_addr = e.server;
        f->next_hop = e.upstream;
        f->src_mask = e.client_mask;
        f->dst_mask = e.server_mask;
        f->src_as = 0;
        f->dst_as = e.server_as;
        f->in_if = e.lan_if;
        f->out_if = e.wan_if;
    } else {
        f->src_addr = e.server;
        f->dst_addr = e.client;
        f->next_hop = e.client_gw;
        f->src_mask = e.server_mask;
        f->dst_mask = e.client_mask;
        f->src_as = e.server_as;
        f->dst_as = 0;
        f->in_if = e.wan_if;
        f->out_if = e.lan_if;
    }

    /* Long transfers are cut by the active timeout; the rest end within the
     * inactive timeout before the export. */
    duration_ms = f->packets <= 1 ? 0 : f->packets * (1 + rnd_below(g, 40));
    if (duration_ms > ACTIVE_TIMEOUT_MS)
        duration_ms = ACTIVE_TIMEOUT_MS;
    f->end_ms = now_ms - rnd_below(g, INACTIVE_TIMEOUT_MS);
    f->start_ms = f->end_ms - duration_ms;

    static const enum fs_flow_field carried[] = {
        FS_F_SRC_ADDR, FS_F_DST_ADDR, FS_F_SRC_PORT, FS_F_DST_PORT, FS_F_PROTO,
        FS_F_TOS, FS_F_TCP_FLAGS, FS_F_PACKETS, FS_F_BYTES, FS_F_IN_IF,
        FS_F_OUT_IF, FS_F_START, FS_F_END, FS_F_NEXT_HOP, FS_F_SRC_AS,
        FS_F_DST_AS, FS_F_SRC_MASK, FS_F_DST_MASK,
    };
    for (size_t i = 0; i < NELEM(carried); i++)
        FS_FLOW_SET(f, carried[i]);
}

/* Big-endian writers. */
static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes `v` in `len` bytes (1..8), saturating like an exporter's counter. */
static void put_uint(uint8_t *p, uint16_t len, uint64_t v)
{
    if (len < 8 && v >> (8 * len))
        v = (UINT64_C(1) << (8 * len)) - 1;
    for (int i = len - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put_addr(uint8_t *p, uint16_t len, const fs_ip *ip)
{
    if ((len == 4 && ip->af == 4) || (len == 16 && ip->af == 6))
        memcpy(p, ip->b, len);
    else
        memset(p, 0, len);
}

/* Builds the data templates: same fields for both address families, in the
 * order routers commonly use, with the format's counter and time fields. */
static void tpl_build(struct tpl *t, uint16_t id, bool v6, bool ipfix)
{
    uint16_t alen = v6 ? 16 : 4, cnt = ipfix ? 8 : 4;
    const struct tpl_field fields[] = {
        {v6 ? 27 : 8, alen}, {v6 ? 28 : 12, alen}, {v6 ? 62 : 15, alen},
        {7, 2}, {11, 2}, {4, 1}, {5, 1}, {6, (uint16_t)(ipfix ? 2 : 1)},
        {10, 4}, {14, 4}, {2, cnt}, {1, cnt},
        {ipfix ? 152 : 22, cnt}, {ipfix ? 153 : 21, cnt},
        {16, 4}, {17, 4}, {v6 ? 29 : 9, 1}, {v6 ? 30 : 13, 1},
    };
    t->id = id;
    t->nfields = (uint16_t)NELEM(fields);
    t->record_len = 0;
    for (size_t i = 0; i < NELEM(fields); i++) {
        t->f[i] = fields[i];
        t->record_len = (uint16_t)(t->record_len + fields[i].len);
    }
}

static uint64_t field_value(const struct fs_gen *g, const struct fs_flow *f, uint16_t ie)
{
    switch (ie) {
    case 1: return f->bytes;
    case 2: return f->packets;
    case 4: return f->proto;
    case 5: return f->tos;
    case 6: return f->tcp_flags;
    case 7: return f->src_port;
    case 9: case 29: return f->src_mask;
    case 10: return f->in_if;
    case 11: return f->dst_port;
    case 13: case 30: return f->dst_mask;
    case 14: return f->out_if;
    case 16: return f->src_as;
    case 17: return f->dst_as;
    case 21: return (uint32_t)(f->end_ms - g->boot_ms);
    case 22: return (uint32_t)(f->start_ms - g->boot_ms);
    case 152: return f->start_ms;
    case 153: return f->end_ms;
    default: return 0;
    }
}

static void put_record(const struct fs_gen *g, const struct tpl *t,
                       const struct fs_flow *f, uint8_t *p)
{
    for (uint16_t i = 0; i < t->nfields; i++) {
        const struct tpl_field *fd = &t->f[i];
        switch (fd->ie) {
        case 8: case 27: put_addr(p, fd->len, &f->src_addr); break;
        case 12: case 28: put_addr(p, fd->len, &f->dst_addr); break;
        case 15: case 62: put_addr(p, fd->len, &f->next_hop); break;
        default: put_uint(p, fd->len, field_value(g, f, fd->ie)); break;
        }
        p += fd->len;
    }
}

static bool is_ipfix(const struct fs_gen *g)
{
    return g->cfg.version == 10;
}

/* v9 sets are padded to 4 bytes (RFC 3954 asks for it); IPFIX ones are not
 * (RFC 7011 leaves it optional), so decoders meet both. */
static size_t set_pad(const struct fs_gen *g, size_t len)
{
    return is_ipfix(g) ? 0 : (4 - len % 4) % 4;
}

/* Closes a set that started at `set` and ends at `end`; returns the end
 * after padding. */
static uint8_t *set_close(const struct fs_gen *g, uint8_t *set, uint8_t *end)
{
    size_t pad = set_pad(g, (size_t)(end - set));
    memset(end, 0, pad);
    end += pad;
    put16(set + 2, (uint16_t)(end - set));
    return end;
}

/* The bytes the templates (and the sampling options) take in a datagram. */
static size_t templates_len(const struct fs_gen *g)
{
    size_t n = SET_HEADER;
    for (int i = 0; i < 2; i++)
        n += 4 + 4u * g->tpl[i].nfields;
    n += set_pad(g, n);
    if (g->cfg.sampling_rate) {
        size_t opt = SET_HEADER + 6 + 12, data = SET_HEADER + 9;
        n += opt + set_pad(g, opt) + data + set_pad(g, data);
    }
    return n;
}

/* Writes the template set and, with sampling, the options template and its
 * record (scope: the whole exporter in v9, the domain in IPFIX; samplingInterval
 * and samplingAlgorithm, IEs 34 and 35). Returns the records written. */
static unsigned put_templates(const struct fs_gen *g, uint8_t **pp)
{
    uint8_t *set = *pp, *p = set + SET_HEADER;
    unsigned records = 2;

    put16(set, is_ipfix(g) ? 2 : 0);
    for (int i = 0; i < 2; i++) {
        const struct tpl *t = &g->tpl[i];
        put16(p, t->id);
        put16(p + 2, t->nfields);
        p += 4;
        for (uint16_t k = 0; k < t->nfields; k++, p += 4) {
            put16(p, t->f[k].ie);
            put16(p + 2, t->f[k].len);
        }
    }
    p = set_close(g, set, p);

    if (g->cfg.sampling_rate) {
        set = p;
        put16(set, is_ipfix(g) ? 3 : 1);
        put16(set + 4, TPL_SAMPLING);
        if (is_ipfix(g)) {
            put16(set + 6, 3);  /* fields */
            put16(set + 8, 1);  /* of which scope */
            put16(set + 10, 149);
        } else {
            put16(set + 6, 4);  /* scope bytes */
            put16(set + 8, 8);  /* option bytes */
            put16(set + 10, 1); /* scope: System */
        }
        put16(set + 12, 4);
        put16(set + 14, 34);
        put16(set + 16, 4);
        put16(set + 18, 35);
        put16(set + 20, 1);
        p = set_close(g, set, set + 22);

        set = p;
        put16(set, TPL_SAMPLING);
        put32(set + 4, is_ipfix(g) ? g->cfg.domain : 0);
        put32(set + 8, g->cfg.sampling_rate);
        set[12] = 2; /* random 1-in-N */
        p = set_close(g, set, set + 13);
        records += 2;
    }
    *pp = p;
    return records;
}

static int encode_v5(struct fs_gen *g, const struct fs_flow *flows, size_t n,
                     uint64_t export_ms, uint8_t *buf, size_t cap, size_t *used)
{
    size_t fit;
    uint8_t *p = buf + V5_HEADER;

    if (cap < V5_HEADER) {
        errno = ENOSPC;
        return -1;
    }
    fit = (cap - V5_HEADER) / V5_RECORD;
    if (n > fit)
        n = fit;
    if (n > FS_GEN_V5_MAX_FLOWS)
        n = FS_GEN_V5_MAX_FLOWS;
    for (size_t i = 0; i < n; i++) {
        if (flows[i].src_addr.af == 6 || flows[i].dst_addr.af == 6) {
            errno = EINVAL;
            return -1;
        }
    }

    put16(buf, 5);
    put16(buf + 2, (uint16_t)n);
    put32(buf + 4, (uint32_t)(export_ms - g->boot_ms));
    put32(buf + 8, (uint32_t)(export_ms / 1000));
    put32(buf + 12, (uint32_t)(export_ms % 1000 * 1000000));
    put32(buf + 16, g->seq);
    buf[20] = (uint8_t)(g->cfg.domain >> 8);
    buf[21] = (uint8_t)g->cfg.domain;
    put16(buf + 22, g->cfg.sampling_rate ? (uint16_t)(0x4000 | g->cfg.sampling_rate) : 0);

    for (size_t i = 0; i < n; i++, p += V5_RECORD) {
        const struct fs_flow *f = &flows[i];
        put_addr(p, 4, &f->src_addr);
        put_addr(p + 4, 4, &f->dst_addr);
        put_addr(p + 8, 4, &f->next_hop);
        put_uint(p + 12, 2, f->in_if);
        put_uint(p + 14, 2, f->out_if);
        put_uint(p + 16, 4, f->packets);
        put_uint(p + 20, 4, f->bytes);
        put32(p + 24, (uint32_t)(f->start_ms - g->boot_ms));
        put32(p + 28, (uint32_t)(f->end_ms - g->boot_ms));
        put16(p + 32, f->src_port);
        put16(p + 34, f->dst_port);
        p[36] = 0;
        p[37] = f->tcp_flags;
        p[38] = f->proto;
        p[39] = f->tos;
        put16(p + 40, f->src_as > 0xffff ? AS_TRANS : (uint16_t)f->src_as);
        put16(p + 42, f->dst_as > 0xffff ? AS_TRANS : (uint16_t)f->dst_as);
        p[44] = f->src_mask;
        p[45] = f->dst_mask;
        p[46] = p[47] = 0;
    }
    g->seq += (uint32_t)n;
    *used = n;
    return (int)(p - buf);
}

/* v9 and IPFIX: templates when due, then one data set per run of flows of
 * the same address family. */
static int encode_templated(struct fs_gen *g, const struct fs_flow *flows, size_t n,
                            uint64_t export_ms, uint8_t *buf, size_t cap, size_t *used)
{
    size_t header = is_ipfix(g) ? IPFIX_HEADER : V9_HEADER;
    bool templates = g->datagrams % g->cfg.template_interval == 0;
    uint8_t *p = buf + header, *end = buf + cap, *set = NULL;
    unsigned records = 0, option_records = 0;
    const struct tpl *cur = NULL;
    size_t i;

    if (cap < header + (templates ? templates_len(g) : 0)) {
        errno = ENOSPC;
        return -1;
    }
    if (templates) {
        records = put_templates(g, &p);
        option_records = g->cfg.sampling_rate ? 1 : 0;
    }
    for (i = 0; i < n; i++) {
        const struct tpl *t = &g->tpl[flows[i].src_addr.af == 6];
        if (t != cur) {
            if (set)
                p = set_close(g, set, p);
            /* the new set's header, one record and the padding must fit */
            if ((size_t)(end - p) < SET_HEADER + t->record_len + 3u)
                break;
            set = p;
            put16(set, t->id);
            p += SET_HEADER;
            cur = t;
        } else if ((size_t)(end - p) < t->record_len + set_pad(g, (size_t)(p + t->record_len - set))) {
            break;
        }
        put_record(g, t, &flows[i], p);
        p += t->record_len;
    }
    if (set)
        p = set_close(g, set, p);

    put16(buf, g->cfg.version);
    if (is_ipfix(g)) {
        put16(buf + 2, (uint16_t)(p - buf));
        put32(buf + 4, (uint32_t)(export_ms / 1000));
        put32(buf + 8, g->seq);
        put32(buf + 12, g->cfg.domain);
        g->seq += (uint32_t)(i + option_records);
    } else {
        put16(buf + 2, (uint16_t)(records + i));
        put32(buf + 4, (uint32_t)(export_ms / 1000 * 1000 - g->boot_ms));
        put32(buf + 8, (uint32_t)(export_ms / 1000));
        put32(buf + 12, g->seq);
        put32(buf + 16, g->cfg.domain);
        g->seq++;
    }
    *used = i;
    return (int)(p - buf);
}

int fs_gen_encode(struct fs_gen *g, const struct fs_flow *flows, size_t n,
                  uint64_t export_ms, uint8_t *buf, size_t cap, size_t *used)
{
    int len;

    *used = 0;
    if (g->cfg.version == 5)
        len = encode_v5(g, flows, n, export_ms, buf, cap, used);
    else
        len = encode_templated(g, flows, n, export_ms, buf, cap, used);
    if (len >= 0) {
        g->datagrams++;
        g->flows += *used;
    }
    return len;
}

/* Puts the flows of the oldest pending flow's family first, keeping order
 * within each family, so a datagram holds one set per template (as routers
 * send them) and no flow waits for ever. */
static void group_pending(struct fs_gen *g)
{
    struct fs_flow tmp;
    uint8_t af = g->pending[0].src_addr.af;
    size_t k = 0;

    for (size_t i = 0; i < g->npending; i++) {
        if (g->pending[i].src_addr.af != af)
            continue;
        tmp = g->pending[i];
        memmove(&g->pending[k + 1], &g->pending[k], (i - k) * sizeof(tmp));
        g->pending[k++] = tmp;
    }
}

int fs_gen_next(struct fs_gen *g, uint8_t *buf, size_t cap,
                struct fs_flow *flows, size_t max_flows, size_t *nflows)
{
    size_t want = g->cfg.flows_per_datagram ? g->cfg.flows_per_datagram : g->max_fit;
    uint64_t export_ms = g->cfg.start_ms + g->flows * 1000 / g->cfg.flows_per_second;
    size_t used;
    int len;

    *nflows = 0;
    if (cap < g->cfg.max_datagram) {
        errno = ENOSPC;
        return -1;
    }
    if (want > g->max_fit)
        want = g->max_fit;
    if (want > max_flows)
        want = max_flows;
    /* v9 headers carry whole seconds: flows end by the second exported */
    while (g->npending < want)
        fs_gen_flow(g, export_ms / 1000 * 1000, &g->pending[g->npending++]);
    if (g->npending)
        group_pending(g);
    len = fs_gen_encode(g, g->pending, want, export_ms, buf, g->cfg.max_datagram, &used);
    if (len < 0)
        return -1;
    memcpy(flows, g->pending, used * sizeof(*flows));
    g->npending -= used;
    memmove(g->pending, g->pending + used, g->npending * sizeof(*flows));
    *nflows = used;
    return len;
}

uint64_t fs_gen_flows_sent(const struct fs_gen *g)
{
    return g->flows;
}

uint64_t fs_gen_datagrams_sent(const struct fs_gen *g)
{
    return g->datagrams;
}

uint32_t fs_gen_next_sequence(const struct fs_gen *g)
{
    return g->seq;
}

int fs_gen_shift_sequence(uint8_t *buf, size_t len, uint32_t delta)
{
    size_t off;

    if (len < 4)
        return -1;
    switch (buf[0] << 8 | buf[1]) {
    case 5: off = 16; break;
    case 9: off = 12; break;
    case 10: off = 8; break;
    default: return -1;
    }
    if (len < off + 4)
        return -1;
    put32(buf + off, ((uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 |
                      (uint32_t)buf[off + 2] << 8 | buf[off + 3]) + delta);
    return 0;
}

struct fs_gen *fs_gen_new(const struct fs_gen_config *cfg)
{
    struct fs_gen *g;
    size_t min_record;
    uint64_t s;

    if (cfg->version != 5 && cfg->version != 9 && cfg->version != 10)
        return NULL;
    if (cfg->ipv6_percent > 100 || (cfg->version == 5 && cfg->ipv6_percent))
        return NULL;
    if (cfg->version == 5 && (cfg->sampling_rate > 0x3fff || cfg->domain > 0xffff))
        return NULL;
    if ((g = calloc(1, sizeof(*g))) == NULL)
        return NULL;
    g->cfg = *cfg;
    if (!g->cfg.max_datagram)
        g->cfg.max_datagram = cfg->version == 5 ? V5_HEADER + FS_GEN_V5_MAX_FLOWS * V5_RECORD
                                                : FS_GEN_DEFAULT_DATAGRAM;
    if (!g->cfg.template_interval)
        g->cfg.template_interval = 20;
    if (!g->cfg.start_ms)
        g->cfg.start_ms = DEFAULT_START_MS;
    if (!g->cfg.flows_per_second)
        g->cfg.flows_per_second = 10000;
    if (!g->cfg.exporter.af)
        ip4(&g->cfg.exporter, 127, 0, 0, 1);
    g->boot_ms = g->cfg.start_ms - BOOT_AGE_MS;
    s = cfg->seed;
    for (int i = 0; i < 4; i++)
        g->rng[i] = splitmix64(&s);

    if (cfg->version == 5) {
        min_record = V5_RECORD;
        g->max_fit = FS_GEN_V5_MAX_FLOWS;
        if (g->cfg.max_datagram < V5_HEADER + V5_RECORD)
            goto fail;
    } else {
        tpl_build(&g->tpl[0], TPL_V4, false, is_ipfix(g));
        tpl_build(&g->tpl[1], TPL_V6, true, is_ipfix(g));
        min_record = g->tpl[0].record_len;
        g->max_fit = g->cfg.max_datagram / min_record;
        /* the first datagram holds the templates and at least one flow */
        if (g->cfg.max_datagram < (is_ipfix(g) ? IPFIX_HEADER : V9_HEADER) +
                                      templates_len(g) + SET_HEADER + g->tpl[1].record_len + 3)
            goto fail;
    }
    if (g->max_fit > g->cfg.max_datagram / min_record)
        g->max_fit = g->cfg.max_datagram / min_record;
    g->pending = calloc(g->max_fit, sizeof(*g->pending));
    if (g->pending == NULL)
        goto fail;
    return g;
fail:
    fs_gen_free(g);
    return NULL;
}

void fs_gen_free(struct fs_gen *g)
{
    if (g == NULL)
        return;
    free(g->pending);
    free(g);
}
