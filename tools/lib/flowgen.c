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
 * counters and absolute millisecond times. The datagrams themselves are
 * made by the shared encoder, ipc/exportenc.c.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "exportenc.h"
#include "flowgen.h"

#define AS_TRANS 23456          /* RFC 6793: stands for a 4-byte AS in 2 bytes */
#define ACTIVE_TIMEOUT_MS 60000
#define INACTIVE_TIMEOUT_MS 15000
#define BOOT_AGE_MS (7 * 86400000ull) /* exporter uptime at the first datagram */
#define DEFAULT_START_MS 1700000000000ull

#define INTERNAL_SUBNETS 16
#define INTERNAL_HOSTS_PER_SUBNET 250
#define EXTERNAL_SERVERS 20000

struct fs_gen {
    struct fs_gen_config cfg;
    uint64_t rng[4];
    struct fs_export *enc;      /* the datagrams: sequence, templates, uptime */
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

/* The data template (IPv4; exportenc.h derives the IPv6 one) in the order
 * routers commonly use: Cisco-style v9 with 32-bit counters and uptime
 * times, IPFIX with 64-bit counters and absolute milliseconds. */
static const struct fs_export_field v9_fields[] = {
    {8, 4}, {12, 4}, {15, 4}, {7, 2}, {11, 2}, {4, 1}, {5, 1}, {6, 1}, {10, 4}, {14, 4},
    {2, 4}, {1, 4}, {22, 4}, {21, 4}, {16, 4}, {17, 4}, {9, 1}, {13, 1},
};
static const struct fs_export_field ipfix_fields[] = {
    {8, 4}, {12, 4}, {15, 4}, {7, 2}, {11, 2}, {4, 1}, {5, 1}, {6, 2}, {10, 4}, {14, 4},
    {2, 8}, {1, 8}, {152, 8}, {153, 8}, {16, 4}, {17, 4}, {9, 1}, {13, 1},
};

int fs_gen_encode(struct fs_gen *g, const struct fs_flow *flows, size_t n,
                  uint64_t export_ms, uint8_t *buf, size_t cap, size_t *used)
{
    return fs_export_encode(g->enc, flows, n, export_ms, buf, cap, used);
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
    uint64_t export_ms = g->cfg.start_ms + fs_export_flows(g->enc) * 1000 / g->cfg.flows_per_second;
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
    return fs_export_flows(g->enc);
}

uint64_t fs_gen_datagrams_sent(const struct fs_gen *g)
{
    return fs_export_datagrams(g->enc);
}

uint32_t fs_gen_next_sequence(const struct fs_gen *g)
{
    return fs_export_next_sequence(g->enc);
}

int fs_gen_shift_sequence(uint8_t *buf, size_t len, uint32_t delta)
{
    return fs_export_shift_sequence(buf, len, delta);
}

struct fs_gen *fs_gen_new(const struct fs_gen_config *cfg)
{
    struct fs_export_config ec = {
        .version = cfg->version,
        .domain = cfg->domain,
        .fields = cfg->version == 10 ? ipfix_fields : v9_fields,
        .nfields = cfg->version == 10 ? NELEM(ipfix_fields) : NELEM(v9_fields),
        .template_interval = cfg->template_interval,
        .sampling_rate = cfg->sampling_rate,
    };
    struct fs_gen *g;
    size_t min_record;
    uint64_t s;

    if (cfg->version != 5 && cfg->version != 9 && cfg->version != 10)
        return NULL;
    if (cfg->ipv6_percent > 100 || (cfg->version == 5 && cfg->ipv6_percent))
        return NULL;
    if ((g = calloc(1, sizeof(*g))) == NULL)
        return NULL;
    g->cfg = *cfg;
    if (!g->cfg.max_datagram)
        g->cfg.max_datagram = cfg->version == 5 ? FS_EXPORT_V5_HEADER +
                                                      FS_GEN_V5_MAX_FLOWS * FS_EXPORT_V5_RECORD
                                                : FS_GEN_DEFAULT_DATAGRAM;
    if (!g->cfg.start_ms)
        g->cfg.start_ms = DEFAULT_START_MS;
    if (!g->cfg.flows_per_second)
        g->cfg.flows_per_second = 10000;
    if (!g->cfg.exporter.af)
        ip4(&g->cfg.exporter, 127, 0, 0, 1);
    s = cfg->seed;
    for (int i = 0; i < 4; i++)
        g->rng[i] = splitmix64(&s);

    /* v5 limits (14-bit sampling interval, 16-bit engine) are the encoder's */
    ec.boot_ms = g->cfg.start_ms - BOOT_AGE_MS;
    if ((g->enc = fs_export_new(&ec)) == NULL)
        goto fail;
    min_record = fs_export_record_size(g->enc, 4);
    if (cfg->version == 5) {
        g->max_fit = FS_GEN_V5_MAX_FLOWS;
        if (g->cfg.max_datagram < FS_EXPORT_V5_HEADER + min_record)
            goto fail;
    } else {
        g->max_fit = g->cfg.max_datagram / min_record;
        /* the first datagram holds the templates and at least one flow */
        if (g->cfg.max_datagram < fs_export_header_size(g->enc) +
                                      fs_export_templates_size(g->enc) + 4 +
                                      fs_export_record_size(g->enc, 6) + 3)
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
    fs_export_free(g->enc);
    free(g->pending);
    free(g);
}
