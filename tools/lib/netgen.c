/*
 * netgen.c - the labelled office-network traffic generator (see netgen.h
 * and docs/detection.md for the model and the scenarios).
 *
 * Flows are made hour by hour. Within an hour: the workstations' sessions
 * (a Poisson number per host, from a daily and weekly profile), their
 * periodic software, the servers' own traffic, then every scenario (attack
 * or benign trap) whose span meets the hour. A scenario emits the events
 * that start in the hour; each event draws from a random stream keyed by
 * the scenario and the event's index, so the traffic does not depend on
 * how time is cut into hours. The hour's flows, with those left over from
 * before, are sorted by end time; the ones that end before the next hour
 * boundary go out, the rest wait.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netgen.h"

#define HOUR_S 3600u
#define DAY_S 86400u
#define WEEK_S (7u * DAY_S)
#define ACTIVE_TIMEOUT_S 60u

#define SERVER_NET 0          /* 10.10.0.0/24 */
#define WS_PER_SUBNET 100     /* 10.10.<n>.20 .. .119, n from 1 */
#define WS_FIRST 20
#define EXT_SERVICES 300
#define MAX_EXTERNALS 512

/* Interfaces of the exporting core router. */
#define IF_SERVERS 1
#define IF_WORKSTATIONS 2
#define IF_UPLINK 3

#define TCP 6
#define UDP 17
#define ICMP 1
#define GRE 47

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Stream keys: each kind of traffic draws from its own random stream. */
enum {
    K_HOSTS = 1, K_SERVICES, K_SPECIAL, K_WS_HOUR, K_SERVER_HOUR, K_PERIODIC,
    K_CUSTOMER, K_MTA, K_NOISE, K_SCENARIO, K_ACTORS
};

/* ------------------------------------------------------------------ */
/* Random numbers: splitmix64 as both the generator and the hash that
 * keys event-level streams. */

struct rng {
    uint64_t s;
};

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t hash3(uint64_t a, uint64_t b, uint64_t c)
{
    return mix64(a ^ mix64(b + 0x9e3779b97f4a7c15ull * (c + 1)));
}

static void rng_seed(struct rng *r, uint64_t a, uint64_t b, uint64_t c)
{
    r->s = hash3(a, b, c);
}

static uint64_t rng_u64(struct rng *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    return mix64(r->s);
}

/* Uniform in [0, 1). */
static double unit_of(uint64_t x)
{
    return (double)(x >> 11) / 9007199254740992.0;
}

static double rng_unit(struct rng *r)
{
    return unit_of(rng_u64(r));
}

static uint32_t rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)(((rng_u64(r) >> 32) * n) >> 32);
}

static double rng_range(struct rng *r, double lo, double hi)
{
    return lo + (hi - lo) * rng_unit(r);
}

static double rng_normal(struct rng *r)
{
    double u = 1.0 - rng_unit(r), v = rng_unit(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static double rng_lognormal(struct rng *r, double median, double sigma)
{
    return median * exp(sigma * rng_normal(r));
}

static unsigned rng_poisson(struct rng *r, double lambda)
{
    if (lambda <= 0)
        return 0;
    if (lambda < 30) {
        double limit = exp(-lambda), p = 1.0;
        unsigned k = 0;
        do {
            k++;
            p *= rng_unit(r);
        } while (p > limit);
        return k - 1;
    }
    double x = lambda + sqrt(lambda) * rng_normal(r) + 0.5;
    return x < 0 ? 0 : (unsigned)x;
}

static uint16_t ephemeral_port(struct rng *r)
{
    return (uint16_t)(49152 + rng_below(r, 16384));
}

/* ------------------------------------------------------------------ */
/* The network. */

enum role {
    R_WS = 0, R_RESOLVER, R_DC, R_FILE, R_WEB, R_APP, R_DB, R_BASTION, R_BACKUP,
    R_MAIL, R_SCANNER, R_MONITOR
};

struct host {
    fs_ip ip;
    uint8_t role;
    uint8_t start_h, start_min, end_h; /* workstations: office hours */
    bool night_on;                     /* left running at night */
    bool evening, weekend;             /* works some evenings, some weekends */
    bool actor;                        /* an attack runs from it: never absent */
    double activity;
};

static const struct {
    uint8_t last;
    uint8_t role;
} server_plan[] = {
    { 10, R_RESOLVER }, { 11, R_RESOLVER }, { 20, R_DC }, { 30, R_FILE }, { 40, R_WEB },
    { 41, R_APP }, { 42, R_APP }, { 43, R_DB }, { 45, R_BASTION }, { 50, R_BACKUP },
    { 60, R_MAIL }, { 90, R_SCANNER }, { 100, R_MONITOR },
};
#define NSERVERS NELEM(server_plan)

/* Listening ports by role (0-terminated). */
static const uint16_t open_ws[] = { 135, 139, 445, 3389, 5985, 0 };
static const uint16_t open_by_role[][10] = {
    [R_RESOLVER] = { 22, 53, 0 },
    [R_DC] = { 53, 88, 135, 389, 445, 636, 3268, 3389, 5985, 0 },
    [R_FILE] = { 135, 139, 445, 3389, 5985, 0 },
    [R_WEB] = { 22, 80, 443, 0 },
    [R_APP] = { 22, 443, 8443, 0 },
    [R_DB] = { 22, 5432, 0 },
    [R_BASTION] = { 22, 0 },
    [R_BACKUP] = { 22, 9101, 9103, 0 },
    [R_MAIL] = { 22, 25, 587, 993, 0 },
    [R_SCANNER] = { 22, 0 },
    [R_MONITOR] = { 22, 443, 0 },
};

/* An external service workstations use. */
struct service {
    fs_ip ip;
    uint16_t port;
    uint8_t proto;
    double cdf; /* popularity, cumulative */
};

/* Public first octets external addresses are drawn from: no private,
 * shared, loopback, link-local, documentation or multicast space. */
static const uint8_t public_octets[] = {
    13, 18, 20, 23, 31, 34, 35, 37, 40, 45, 46, 50, 51, 52, 54, 62, 64, 66, 69, 77,
    78, 80, 81, 82, 85, 88, 89, 91, 93, 94, 95, 104, 107, 108, 109, 128, 130, 131,
    134, 137, 138, 139, 140, 141, 142, 143, 144, 146, 147, 151, 152, 154, 157, 159,
    161, 162, 163, 164, 165, 167, 168, 170, 173, 176, 178, 185, 188, 190, 193, 194,
    195, 199, 200, 201, 202, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 216, 217,
};

/* Origin ASes of the external side (real, large networks). */
static const uint32_t external_as[] = {
    13335, 15169, 16509, 8075, 32934, 20940, 14618, 54113, 2906, 3356, 1299, 174,
    6939, 24940, 16276, 46606, 396982, 13238, 12389, 3320, 199524, 209242, 4134, 4837,
};

#define ISP_NEXT_HOP 0xc6336401u /* 198.51.100.1: the provider's end of the uplink */

/* Workstation sessions: what a busy hour looks like. */
#define FLOWS_PER_SESSION 7.0

struct fbuf {
    struct fs_flow *v;
    size_t n, cap;
};

struct scenario;
typedef void (*emit_fn)(struct fs_netgen *g, const struct scenario *s, uint64_t t0,
                        uint64_t t1);

/*
 * One attack or benign trap: events starting in [start, end) seconds.
 * Fields are used as each emitter documents.
 */
struct scenario {
    emit_fn emit;
    uint64_t key;          /* its random stream */
    uint64_t start, end;
    fs_ip src, dst;        /* who connects to whom */
    fs_ip net;             /* targets of sweeps: net/bits */
    uint8_t bits;
    uint16_t port;
    uint8_t proto;
    unsigned count;        /* events */
    unsigned sources;      /* distinct sources (distributed ones) */
    double period;         /* periodic ones: seconds between events, */
    double jitter, miss;   /* how far each moves (share of the period), share missed */
    double bytes;          /* payload per event, or in all (uploads) */
};

struct fs_netgen {
    struct fs_netgen_config cfg;
    struct fs_netgen_net net;
    uint64_t start_s, end_s;

    struct host *hosts;    /* servers first, then workstations */
    size_t nhosts, nws;
    int16_t server_at[256]; /* index in hosts of 10.10.0.<n>, or -1 */

    struct service svc[EXT_SERVICES];
    fs_ip av[2], upd[3], ntp[4], saas[3], stream, conf, payapi, admins[3];
    fs_ip externals[MAX_EXTERNALS]; /* every fixed external address, for uniqueness */
    size_t nexternals;

    struct scenario *sc;
    size_t nsc, capsc;
    struct fs_netgen_label *labels;
    size_t nlabels, caplabels;

    double sessions_per_hour;
    uint64_t hour, hours;
    struct fbuf work, out, spare;
    struct sortkey *keys;
    size_t capkeys;
    uint64_t present_bits;
    bool oom;
    struct fs_flow scratch; /* written to when out of memory */
};

struct sortkey {
    uint64_t end;
    size_t idx;
};

/* The key of one kind of traffic's random stream under this seed. */
static uint64_t stream(const struct fs_netgen *g, uint64_t kind)
{
    return hash3(g->cfg.seed, kind, 0x5eed);
}

/* ------------------------------------------------------------------ */
/* Addresses. */

static void ip4(fs_ip *ip, uint32_t a)
{
    memset(ip, 0, sizeof(*ip));
    ip->af = 4;
    ip->b[0] = (uint8_t)(a >> 24);
    ip->b[1] = (uint8_t)(a >> 16);
    ip->b[2] = (uint8_t)(a >> 8);
    ip->b[3] = (uint8_t)a;
}

static uint32_t ip4_u32(const fs_ip *ip)
{
    return (uint32_t)ip->b[0] << 24 | (uint32_t)ip->b[1] << 16 | (uint32_t)ip->b[2] << 8 |
           ip->b[3];
}

static fs_ip home(unsigned third, unsigned fourth)
{
    fs_ip ip;
    ip4(&ip, 0x0a0a0000u | third << 8 | fourth);
    return ip;
}

static bool is_home(const fs_ip *ip)
{
    return ip->af == 4 && ip->b[0] == 10 && ip->b[1] == 10;
}

static fs_ip ext_ip(uint64_t h)
{
    fs_ip ip;
    ip4(&ip, (uint32_t)public_octets[h % NELEM(public_octets)] << 24 |
                 (uint32_t)((h >> 8) & 0xff) << 16 | (uint32_t)((h >> 16) & 0xff) << 8 |
                 (uint32_t)(1 + (h >> 24) % 254));
    return ip;
}

/* A fixed external address no other fixed one has. */
static fs_ip unique_ext(struct fs_netgen *g, uint64_t key, uint64_t idx)
{
    for (uint64_t attempt = 0;; attempt++) {
        fs_ip ip = ext_ip(hash3(stream(g, key), idx, attempt));
        bool taken = false;
        for (size_t i = 0; i < g->nexternals && !taken; i++)
            taken = memcmp(g->externals[i].b, ip.b, 4) == 0;
        if (!taken) {
            if (g->nexternals < MAX_EXTERNALS)
                g->externals[g->nexternals++] = ip;
            return ip;
        }
    }
}

static const struct host *host_at(const struct fs_netgen *g, const fs_ip *ip)
{
    if (!is_home(ip))
        return NULL;
    unsigned third = ip->b[2], fourth = ip->b[3];
    if (third == SERVER_NET)
        return g->server_at[fourth] >= 0 ? &g->hosts[g->server_at[fourth]] : NULL;
    if (fourth < WS_FIRST || fourth >= WS_FIRST + WS_PER_SUBNET)
        return NULL;
    size_t i = (size_t)(third - 1) * WS_PER_SUBNET + (fourth - WS_FIRST);
    return i < g->nws ? &g->hosts[NSERVERS + i] : NULL;
}

static const struct host *ws_host(const struct fs_netgen *g, size_t i)
{
    return &g->hosts[NSERVERS + i];
}

static bool port_open(const struct host *h, uint16_t port)
{
    const uint16_t *p = h->role == R_WS ? open_ws : open_by_role[h->role];
    for (; *p; p++)
        if (*p == port)
            return true;
    return false;
}

/* ------------------------------------------------------------------ */
/* Flow records. */

static struct fs_flow *push(struct fs_netgen *g)
{
    struct fbuf *b = &g->work;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 65536;
        struct fs_flow *v = realloc(b->v, cap * sizeof(*v));
        if (v == NULL) {
            g->oom = true;
            return &g->scratch;
        }
        b->v = v;
        b->cap = cap;
    }
    return &b->v[b->n++];
}

/* Interface, mask and AS of one side of a flow, as the core router sees it. */
static void side(const fs_ip *ip, uint32_t *ifindex, uint8_t *mask, uint32_t *as)
{
    if (is_home(ip)) {
        *ifindex = ip->b[2] == SERVER_NET ? IF_SERVERS : IF_WORKSTATIONS;
        *mask = 24;
        *as = 0;
        return;
    }
    uint64_t h = mix64(ip4_u32(ip));
    *ifindex = IF_UPLINK;
    *mask = (uint8_t)(16 + h % 9);
    *as = external_as[(h >> 8) % NELEM(external_as)];
}

static void flow(struct fs_netgen *g, const fs_ip *src, const fs_ip *dst, uint16_t sport,
                 uint16_t dport, uint8_t proto, uint8_t flags, uint64_t packets,
                 uint64_t bytes, uint64_t start_s, uint64_t end_s, uint8_t tos)
{
    struct fs_flow *f = push(g);

    fs_flow_init(f);
    f->present = g->present_bits;
    f->version = 10;
    f->domain = 1;
    f->exporter = g->net.exporter;
    f->src_addr = *src;
    f->dst_addr = *dst;
    f->src_port = sport;
    f->dst_port = dport;
    f->proto = proto;
    f->tos = tos;
    f->tcp_flags = flags;
    f->packets = packets ? packets : 1;
    f->bytes = bytes;
    f->start_ms = start_s * 1000;
    f->end_ms = end_s * 1000;
    f->sampling_rate = 1;
    side(src, &f->in_if, &f->src_mask, &f->src_as);
    side(dst, &f->out_if, &f->dst_mask, &f->dst_as);
    if (is_home(dst))
        ip4(&f->next_hop, 0); /* directly connected */
    else
        ip4(&f->next_hop, ISP_NEXT_HOP);
}

enum outcome { C_OK = 0, C_NOREPLY, C_RESET };

/* One conversation: its two directions, cut into active-timeout slices. */
struct conn {
    const fs_ip *cli, *srv;
    uint16_t cport, sport;
    uint8_t proto, tos;
    uint64_t t;          /* start, seconds */
    uint32_t dur;        /* seconds */
    double up, down;     /* payload bytes each way */
    enum outcome outcome;
};

/* A conversation that succeeds; callers set sizes, duration and outcome. */
static struct conn conn_new(const fs_ip *cli, uint16_t cport, const fs_ip *srv, uint16_t sport,
                            uint8_t proto, uint64_t t)
{
    struct conn c = { cli, srv, cport, sport, proto, 0, t, 0, 0, 0, C_OK };
    return c;
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

/* Header bytes per packet: IPv4 plus TCP with timestamps, UDP, ICMP, GRE. */
static unsigned overhead(uint8_t proto)
{
    switch (proto) {
    case TCP: return 52;
    case UDP: return 28;
    case GRE: return 24;
    default: return 28;
    }
}

/* One direction of a conversation: a record per active-timeout period, the
 * payload and packets shared evenly, SYN in the first and FIN in the last. */
static void slices(struct fs_netgen *g, const struct conn *c, bool reply, uint64_t payload)
{
    const fs_ip *src = reply ? c->srv : c->cli, *dst = reply ? c->cli : c->srv;
    uint16_t sp = reply ? c->sport : c->cport, dp = reply ? c->cport : c->sport;
    unsigned oh = overhead(c->proto);
    uint64_t pkts = ceil_div(payload, c->proto == TCP ? 1448 : 1400);
    uint64_t n = c->dur / ACTIVE_TIMEOUT_S + 1;

    if (c->proto == TCP)
        pkts += 3; /* handshake, FIN, ACKs of a short exchange */
    if (pkts == 0)
        pkts = 1;
    if (n > pkts)
        n = pkts;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t s = c->t + i * ACTIVE_TIMEOUT_S;
        uint64_t e = i + 1 == n ? c->t + c->dur : s + ACTIVE_TIMEOUT_S - 1;
        uint64_t p = pkts / n + (i + 1 == n ? pkts % n : 0);
        uint64_t b = payload / n + (i + 1 == n ? payload % n : 0) + p * oh;
        uint8_t flags = 0;
        if (c->proto == TCP) {
            flags = F_ACK | F_PSH;
            if (i == 0)
                flags |= F_SYN;
            if (i + 1 == n)
                flags |= F_FIN;
        }
        flow(g, src, dst, sp, dp, c->proto, flags, p, b, s, e, c->tos);
    }
}

static void conn_emit(struct fs_netgen *g, const struct conn *c)
{
    if (c->proto == TCP && c->outcome == C_NOREPLY) {
        /* SYN and its retransmissions, 1 s then 2 s later. */
        uint64_t tries = c->dur == 0 ? 1 : c->dur < 3 ? 2 : 3;
        flow(g, c->cli, c->srv, c->cport, c->sport, TCP, F_SYN, tries, tries * 60, c->t,
             c->t + (tries == 1 ? 0 : tries == 2 ? 1 : 3), c->tos);
        return;
    }
    if (c->proto == TCP && c->outcome == C_RESET) {
        flow(g, c->cli, c->srv, c->cport, c->sport, TCP, F_SYN, 1, 60, c->t, c->t, c->tos);
        flow(g, c->srv, c->cli, c->sport, c->cport, TCP, F_RST | F_ACK, 1, 40, c->t, c->t,
             c->tos);
        return;
    }
    uint64_t up = c->up > 0 ? (uint64_t)c->up : 0, down = c->down > 0 ? (uint64_t)c->down : 0;
    slices(g, c, false, up);
    if (c->outcome == C_OK && (c->proto == TCP || down > 0))
        slices(g, c, true, down);
}

/* A short request/response over UDP (DNS, NTP, SNMP): one packet each way. */
static void udp_exchange(struct fs_netgen *g, const fs_ip *cli, uint16_t cport,
                         const fs_ip *srv, uint16_t sport, uint64_t t, unsigned q,
                         unsigned a)
{
    flow(g, cli, srv, cport, sport, UDP, 0, 1, q + 28, t, t, 0);
    flow(g, srv, cli, sport, cport, UDP, 0, 1, a + 28, t, t, 0);
}

/* A TCP SYN probe of a scanner. */
static void probe(struct fs_netgen *g, const fs_ip *src, const fs_ip *dst, uint16_t sport,
                  uint16_t port, uint64_t t)
{
    const struct host *h = host_at(g, dst);
    if (h == NULL) {
        /* nobody there: the probe and one retry, unanswered */
        flow(g, src, dst, sport, port, TCP, F_SYN, 2, 88, t, t + 1, 0);
    } else if (port_open(h, port)) {
        /* SYN-ACK back, the scanner resets: both in one flow each way */
        flow(g, src, dst, sport, port, TCP, F_SYN | F_RST, 2, 84, t, t, 0);
        flow(g, dst, src, port, sport, TCP, F_SYN | F_ACK, 1, 44, t, t, 0);
    } else {
        flow(g, src, dst, sport, port, TCP, F_SYN, 1, 44, t, t, 0);
        flow(g, dst, src, port, sport, TCP, F_RST | F_ACK, 1, 40, t, t, 0);
    }
}

/* ------------------------------------------------------------------ */
/* Events in time. */

/*
 * Events j = 0, 1, ... at start + (j + 0.5) * slot, each moved by up to
 * +-jitter/2 of a slot and dropped with probability `miss`, both drawn from
 * (key, j); only those at or after `start`, before `end` and within [t0, t1)
 * are visited.
 */
struct events {
    uint64_t key, start, end, t0, t1;
    double slot, jitter, miss;
    int64_t j, jend;
};

static void events_init(struct events *e, uint64_t key, uint64_t start, uint64_t end,
                        double slot, double jitter, double miss, uint64_t t0, uint64_t t1)
{
    e->key = key;
    e->start = start;
    e->end = end;
    e->t0 = t0 > start ? t0 : start;
    e->t1 = t1 < end ? t1 : end;
    e->slot = slot > 0 ? slot : 1;
    e->jitter = jitter;
    e->miss = miss;
    e->j = e->t0 > start ? (int64_t)((double)(e->t0 - start) / e->slot) - 1 : 0;
    if (e->j < 0)
        e->j = 0;
    e->jend = e->t1 > start ? (int64_t)((double)(e->t1 - start) / e->slot) + 2 : 0;
}

static bool events_next(struct events *e, uint64_t *t, uint64_t *j)
{
    while (e->j < e->jend) {
        int64_t k = e->j++;
        uint64_t h = hash3(e->key, (uint64_t)k, 7);
        double off = ((double)k + 0.5 + (unit_of(h) - 0.5) * e->jitter) * e->slot;
        if (e->miss > 0 && unit_of(mix64(h)) < e->miss)
            continue;
        if (off < 0)
            continue;
        uint64_t at = e->start + (uint64_t)off;
        if (at >= e->t0 && at < e->t1) {
            *t = at;
            *j = (uint64_t)k;
            return true;
        }
    }
    return false;
}

/* Day of the run, hour of day and day of week (0 = Monday) of `t`. */
static void clock_of(const struct fs_netgen *g, uint64_t t, unsigned *day, unsigned *hod,
                     unsigned *dow)
{
    uint64_t s = t - g->start_s;
    *day = (unsigned)(s / DAY_S);
    *hod = (unsigned)(s % DAY_S / HOUR_S);
    *dow = *day % 7;
}

/* ------------------------------------------------------------------ */
/* Workstations. */

static bool ws_present(const struct fs_netgen *g, const struct host *h, unsigned day,
                       unsigned dow)
{
    uint64_t x = hash3(stream(g, K_HOSTS), ip4_u32(&h->ip), day);
    if (dow >= 5)
        return h->weekend && unit_of(x) < 0.4;
    return h->actor || unit_of(x) >= 0.07; /* leave, sickness, travel */
}

/*
 * How busy a workstation is in an hour (1 = a busy office hour), and the
 * second of the hour its user arrives at when they start then.
 */
static double ws_weight(const struct fs_netgen *g, const struct host *h, unsigned day,
                        unsigned hod, unsigned dow, unsigned *from_s)
{
    *from_s = 0;
    if (!ws_present(g, h, day, dow))
        return 0;
    if (dow >= 5)
        return hod >= 10 && hod < 14 ? 0.35 : 0;
    if (hod < h->start_h)
        return 0;
    if (hod == h->start_h) {
        *from_s = h->start_min * 60u;
        return 0.7 * (60 - h->start_min) / 60.0;
    }
    if (hod < 12)
        return 1.0;
    if (hod == 12)
        return 0.45;
    if (hod == 13)
        return 0.85;
    if (hod < 16 && hod < h->end_h)
        return 0.95;
    if (hod < h->end_h)
        return 0.75;
    if (hod == h->end_h)
        return 0.25;
    if (h->evening && hod >= 19 && hod < 23)
        return 0.15;
    return 0;
}

static bool ws_on(const struct fs_netgen *g, const struct host *h, uint64_t t)
{
    unsigned day, hod, dow, from;
    if (h->night_on)
        return true;
    clock_of(g, t, &day, &hod, &dow);
    return ws_weight(g, h, day, hod, dow, &from) > 0;
}

static const struct service *pick_service(const struct fs_netgen *g, struct rng *r)
{
    double u = rng_unit(r);
    size_t lo = 0, hi = EXT_SERVICES - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g->svc[mid].cdf < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return &g->svc[lo];
}

static const fs_ip *resolver_for(const struct fs_netgen *g, const struct host *h,
                                 struct rng *r)
{
    unsigned primary = h->ip.b[3] & 1;
    return &g->net.resolvers[rng_unit(r) < 0.9 ? primary : 1 - primary];
}

/* A lookup at an internal resolver, which forwards cache misses upstream. */
static void dns_lookup(struct fs_netgen *g, const fs_ip *client, const fs_ip *resolver,
                       uint64_t t, struct rng *r, double miss, unsigned qmin, unsigned qmax,
                       unsigned amin, unsigned amax)
{
    unsigned q = qmin + rng_below(r, qmax - qmin + 1);
    unsigned a = amin + rng_below(r, amax - amin + 1);
    uint16_t port = ephemeral_port(r);
    udp_exchange(g, client, port, resolver, 53, t, q, a);
    if (is_home(resolver) && rng_unit(r) < miss) {
        const fs_ip *up = &g->net.upstream_dns[rng_below(r, 2)];
        port = ephemeral_port(r);
        udp_exchange(g, resolver, port, up, 53, t, q, a);
    }
}

/* Bytes of a download: mostly small pages and objects, now and then a big
 * file. */
static double download_size(struct rng *r)
{
    if (rng_unit(r) < 0.01)
        return fmin(5e6 * pow(1.0 - rng_unit(r), -1.0 / 1.2), 500e6);
    return rng_lognormal(r, 25e3, 1.6);
}

/* Seconds a transfer of `bytes` takes, plus the time the connection idles. */
static uint32_t transfer_time(struct rng *r, double bytes, double rate, double idle_median)
{
    double d = bytes / rate + rng_lognormal(r, idle_median, 1.0);
    return (uint32_t)fmin(d, 3 * HOUR_S);
}

static void ws_web(struct fs_netgen *g, const struct host *h, uint64_t t, struct rng *r)
{
    const struct service *s = pick_service(g, r);
    unsigned k = 1 + rng_poisson(r, 1.5);

    dns_lookup(g, &h->ip, resolver_for(g, h, r), t, r, 0.3, 30, 60, 60, 300);
    for (unsigned i = 0; i < k; i++) {
        uint16_t port = ephemeral_port(r);
        struct conn c = conn_new(&h->ip, port, &s->ip, s->port, s->proto,
                                 t + 1 + rng_below(r, 20));
        c.up = rng_lognormal(r, 1500, 1.0);
        c.down = download_size(r);
        double u = rng_unit(r);
        if (c.proto == TCP && u < 0.01)
            c.outcome = C_NOREPLY;
        else if (c.proto == TCP && u < 0.015)
            c.outcome = C_RESET;
        c.dur = transfer_time(r, c.down, 2e6, 6);
        conn_emit(g, &c);
    }
}

static void ws_session(struct fs_netgen *g, const struct host *h, uint64_t t, struct rng *r)
{
    double u = rng_unit(r);
    uint16_t port = ephemeral_port(r);
    struct conn c = conn_new(&h->ip, port, NULL, 443, TCP, t);

    if (u < 0.52) {
        ws_web(g, h, t, r);
        return;
    }
    if (u < 0.64) { /* intranet applications */
        c.srv = &g->net.app[rng_below(r, 2)];
        c.sport = rng_unit(r) < 0.7 ? 443 : 8443;
        if (rng_unit(r) < 0.5)
            dns_lookup(g, &h->ip, resolver_for(g, h, r), t, r, 0, 30, 50, 60, 120);
        c.up = rng_lognormal(r, 2000, 0.8);
        c.down = rng_lognormal(r, 40e3, 1.2);
        c.dur = transfer_time(r, c.down, 20e6, 8);
    } else if (u < 0.74) { /* file shares */
        c.srv = &g->net.file;
        c.sport = 445;
        double size = fmin(rng_lognormal(r, 300e3, 2.0), 2e9);
        bool upload = rng_unit(r) < 0.3;
        c.up = upload ? size : rng_lognormal(r, 4000, 0.5);
        c.down = upload ? rng_lognormal(r, 4000, 0.5) : size;
        c.dur = transfer_time(r, size, 30e6, 20);
    } else if (u < 0.82) { /* mail */
        c.srv = &g->net.mail;
        if (rng_unit(r) < 0.2) {
            c.sport = 587;
            c.up = rng_lognormal(r, 100e3, 1.5);
            c.down = rng_lognormal(r, 1500, 0.3);
        } else {
            c.sport = 993;
            c.up = rng_lognormal(r, 1000, 0.5);
            c.down = rng_lognormal(r, 20e3, 1.5);
        }
        c.dur = transfer_time(r, c.up + c.down, 10e6, 5);
    } else if (u < 0.87) { /* logon, group policy, directory */
        unsigned q = 1200 + rng_below(r, 400), a = 1300 + rng_below(r, 400);
        udp_exchange(g, &h->ip, port + 1, &g->net.dc, 88, t, q, a);
        c.srv = &g->net.dc;
        c.sport = 389;
        c.up = rng_lognormal(r, 1500, 0.5);
        c.down = rng_lognormal(r, 6000, 0.8);
        c.dur = rng_below(r, 3);
    } else if (u < 0.92) { /* cloud sync: the usual uploads */
        c.srv = &g->saas[rng_below(r, 3)];
        dns_lookup(g, &h->ip, resolver_for(g, h, r), t, r, 0.2, 30, 60, 60, 200);
        c.up = rng_lognormal(r, 400e3, 1.3);
        c.down = rng_lognormal(r, 5000, 0.5);
        c.dur = transfer_time(r, c.up, 3e6, 4);
    } else if (u < 0.925) { /* a video call */
        c.srv = &g->conf;
        c.proto = UDP;
        c.sport = 3478 + rng_below(r, 4);
        c.dur = 600 + rng_below(r, 3000);
        c.up = 120e3 * c.dur;
        c.down = 150e3 * c.dur;
    } else if (u < 0.94) { /* someone pings a server */
        const fs_ip *srv = &g->hosts[rng_below(r, NSERVERS)].ip;
        unsigned n = 1 + rng_below(r, 4);
        flow(g, &h->ip, srv, 0, 8 << 8, ICMP, 0, n, n * 84, t, t + n - 1, 0);
        flow(g, srv, &h->ip, 0, 0, ICMP, 0, n, n * 84, t, t + n - 1, 0);
        return;
    } else {
        ws_web(g, h, t, r);
        return;
    }
    conn_emit(g, &c);
}

/*
 * Periodic software on a workstation that is switched on: the antivirus
 * checks for signatures every hour (and downloads them once a day), time
 * is synchronised with the domain controller every hour, and the update
 * agent looks for patches every four hours, with a loose schedule.
 */
static void ws_periodic(struct fs_netgen *g, const struct host *h, size_t i, uint64_t t0,
                        uint64_t t1)
{
    static const struct {
        uint32_t period, jitter_s;
    } task[] = { { HOUR_S, 40 }, { HOUR_S, 2 }, { 4 * HOUR_S, 1200 } };
    for (size_t k = 0; k < NELEM(task); k++) {
        uint64_t key = hash3(stream(g, K_PERIODIC), i, k);
        uint64_t origin = g->start_s + key % task[k].period;
        struct events e;
        uint64_t t, j;
        events_init(&e, key, origin, g->end_s, task[k].period,
                    2.0 * task[k].jitter_s / task[k].period, 0, t0, t1);
        while (events_next(&e, &t, &j)) {
            struct rng r;
            if (!ws_on(g, h, t))
                continue;
            rng_seed(&r, key, j, 1);
            if (k == 1) {
                udp_exchange(g, &h->ip, 123, &g->net.dc, 123, t, 48, 48);
                continue;
            }
            uint16_t port = ephemeral_port(&r);
            struct conn c = conn_new(&h->ip, port, k == 0 ? &g->av[i % 2] : &g->upd[i % 3],
                                     443, TCP, t);
            c.up = rng_range(&r, 800, 1400);
            c.down = rng_range(&r, 1500, 4000);
            if (k == 0 && j % 24 == i % 24)
                c.down = rng_lognormal(&r, 15e6, 0.4);
            if (k == 2 && rng_unit(&r) < 0.08)
                c.down = rng_lognormal(&r, 120e6, 0.6);
            c.dur = transfer_time(&r, c.down, 5e6, 1);
            conn_emit(g, &c);
        }
    }
}

static void workstations_hour(struct fs_netgen *g, uint64_t t0)
{
    unsigned day, hod, dow;
    clock_of(g, t0, &day, &hod, &dow);
    for (size_t i = 0; i < g->nws; i++) {
        const struct host *h = ws_host(g, i);
        unsigned from;
        double w = ws_weight(g, h, day, hod, dow, &from);
        struct rng r;
        rng_seed(&r, stream(g, K_WS_HOUR), i, t0);
        unsigned n = rng_poisson(&r, w * h->activity * g->sessions_per_hour);
        for (unsigned k = 0; k < n; k++)
            ws_session(g, h, t0 + from + rng_below(&r, HOUR_S - from), &r);
        ws_periodic(g, h, i, t0, t0 + HOUR_S);
    }
}

/* ------------------------------------------------------------------ */
/* Servers. */

/* Visitors of the public web site, round the clock and world-wide. */
static const double customer_curve[24] = {
    0.35, 0.3, 0.25, 0.25, 0.3, 0.4, 0.55, 0.7, 0.85, 0.95, 1, 1,
    1, 1, 1, 1, 1, 0.95, 0.95, 0.9, 0.85, 0.7, 0.55, 0.45,
};

static double office_curve(unsigned hod, unsigned dow)
{
    if (dow >= 5)
        return 0.1;
    return hod >= 8 && hod < 18 ? 1.0 : 0.15;
}

static void servers_hour(struct fs_netgen *g, uint64_t t0)
{
    unsigned day, hod, dow;
    struct rng r;
    double scale = g->cfg.scale;
    const struct fs_netgen_net *n = &g->net;
    uint16_t port;

    clock_of(g, t0, &day, &hod, &dow);
    rng_seed(&r, stream(g, K_SERVER_HOUR), t0, 0);

    /* The public web site and its application and database tiers. Visitors
     * come back: a few addresses make many of the visits. */
    unsigned visits = rng_poisson(&r, 150 * scale * customer_curve[hod] * (dow >= 5 ? 0.8 : 1));
    for (unsigned i = 0; i < visits; i++) {
        uint64_t t = t0 + rng_below(&r, HOUR_S);
        uint64_t visitor = (uint64_t)(60000 * pow(rng_unit(&r), 2));
        fs_ip who = ext_ip(hash3(stream(g, K_CUSTOMER), visitor, 0));
        port = ephemeral_port(&r);
        struct conn c = conn_new(&who, port, &n->web, 443, TCP, t);
        c.up = rng_lognormal(&r, 2000, 0.7);
        c.down = rng_lognormal(&r, 80e3, 1.2);
        c.dur = transfer_time(&r, c.down, 1e6, 5);
        conn_emit(g, &c);
        if (rng_unit(&r) < 0.5) {
            port = ephemeral_port(&r);
            c = conn_new(&n->web, port, &n->app[0], 8443, TCP, t);
            c.up = rng_lognormal(&r, 1500, 0.5);
            c.down = rng_lognormal(&r, 20e3, 1.0);
            conn_emit(g, &c);
            if (rng_unit(&r) < 0.6) {
                port = ephemeral_port(&r);
                c = conn_new(&n->app[0], port, &n->db, 5432, TCP, t);
                c.up = rng_lognormal(&r, 800, 0.5);
                c.down = rng_lognormal(&r, 12e3, 1.0);
                conn_emit(g, &c);
            }
        }
    }

    /* The application servers call a payment provider. */
    for (unsigned a = 0; a < 2; a++) {
        unsigned calls = rng_poisson(&r, 20 * scale * office_curve(hod, dow));
        for (unsigned i = 0; i < calls; i++) {
            uint64_t t = t0 + rng_below(&r, HOUR_S);
            port = ephemeral_port(&r);
            struct conn c = conn_new(&n->app[a], port, &g->payapi, 443, TCP, t);
            c.dur = 1;
            c.up = rng_lognormal(&r, 2000, 0.4);
            c.down = rng_lognormal(&r, 3000, 0.4);
            conn_emit(g, &c);
        }
    }

    /* Mail in from other domains' servers, and out to them. */
    unsigned in = rng_poisson(&r, 30 * scale * (0.3 + 0.7 * office_curve(hod, dow)));
    unsigned out = rng_poisson(&r, 12 * scale * office_curve(hod, dow));
    for (unsigned i = 0; i < in + out; i++) {
        fs_ip mta = ext_ip(hash3(stream(g, K_MTA), rng_below(&r, 2000), 0));
        bool inbound = i < in;
        uint64_t t = t0 + rng_below(&r, HOUR_S);
        port = ephemeral_port(&r);
        struct conn c = conn_new(inbound ? &mta : &n->mail, port, inbound ? &n->mail : &mta, 25,
                                 TCP, t);
        c.up = rng_lognormal(&r, 30e3, 1.5);
        c.down = rng_lognormal(&r, 1500, 0.3);
        c.dur = transfer_time(&r, c.up, 2e6, 2);
        conn_emit(g, &c);
    }

    /* The bastion: the internet knocks on port 22 all day long, and the
     * administrators log in from home now and then. */
    unsigned knocks = rng_poisson(&r, 3);
    for (unsigned i = 0; i < knocks; i++) {
        fs_ip who = ext_ip(hash3(stream(g, K_NOISE), t0, i));
        unsigned tries = 1 + rng_below(&r, 3);
        uint64_t t = t0 + rng_below(&r, HOUR_S - 60);
        for (unsigned k = 0; k < tries; k++) {
            port = ephemeral_port(&r);
            struct conn c = conn_new(&who, port, &n->bastion, 22, TCP, t + 10 * k);
            c.dur = 2 + rng_below(&r, 4);
            c.up = rng_range(&r, 1500, 2500);
            c.down = rng_range(&r, 2000, 3500);
            conn_emit(g, &c);
        }
    }
    if (dow < 5 && hod >= 7 && hod < 20 && rng_unit(&r) < 0.15) {
        const fs_ip *admin = &g->admins[rng_below(&r, 3)];
        uint64_t t = t0 + rng_below(&r, HOUR_S);
        port = ephemeral_port(&r);
        struct conn c = conn_new(admin, port, &n->bastion, 22, TCP, t);
        c.dur = 600 + rng_below(&r, 3000);
        c.up = rng_lognormal(&r, 150e3, 1.0);
        c.down = rng_lognormal(&r, 1e6, 1.0);
        conn_emit(g, &c);
        /* from the bastion, to the servers the admin works on */
        unsigned hops = 1 + rng_below(&r, 3);
        for (unsigned k = 0; k < hops; k++) {
            const struct host *h = &g->hosts[rng_below(&r, NSERVERS)];
            if (!port_open(h, 22) || h->role == R_BASTION)
                continue;
            port = ephemeral_port(&r);
            struct conn s = conn_new(&n->bastion, port, &h->ip, 22, TCP, t + 30 + 60 * k);
            s.dur = c.dur / 3;
            s.up = rng_lognormal(&r, 40e3, 1.0);
            s.down = rng_lognormal(&r, 300e3, 1.0);
            conn_emit(g, &s);
        }
    }
}

/*
 * Machine-to-machine periodic traffic: the monitoring server polls every
 * server over SNMP every five minutes, and the domain controller keeps
 * its clock with four public NTP servers every 1024 s.
 */
static void periodic_servers(struct fs_netgen *g, uint64_t t0, uint64_t t1)
{
    for (size_t i = 0; i < NSERVERS + NELEM(g->ntp); i++) {
        bool snmp = i < NSERVERS;
        uint64_t key = hash3(stream(g, K_PERIODIC), 1000 + i, 0);
        uint32_t period = snmp ? 300 : 1024;
        struct events e;
        uint64_t t, j;
        if (snmp && g->hosts[i].role == R_MONITOR)
            continue;
        events_init(&e, key, g->start_s + key % period, g->end_s, period, 4.0 / period, 0,
                    t0, t1);
        while (events_next(&e, &t, &j)) {
            if (snmp)
                udp_exchange(g, &g->net.monitor, (uint16_t)(40000 + i), &g->hosts[i].ip, 161,
                             t, 90, 400 + (unsigned)(hash3(key, j, 0) % 800));
            else
                udp_exchange(g, &g->net.dc, 123, &g->ntp[i - NSERVERS], 123, t, 48, 48);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Scenarios: attacks. */

/* Each event's own random stream. */
static void event_rng(struct rng *r, const struct scenario *s, uint64_t j)
{
    rng_seed(r, s->key, j, 2);
}

/* `count` events spread over the span. */
static void spread(struct events *e, const struct scenario *s, double jitter, uint64_t t0,
                   uint64_t t1)
{
    events_init(e, s->key, s->start, s->end, (double)(s->end - s->start) / s->count, jitter,
                s->miss, t0, t1);
}

/* Beaconing: one small exchange every `period` seconds, with jitter and
 * missed beats, of nearly constant size (`bytes` up). */
static void sc_beacon(struct fs_netgen *g, const struct scenario *s, uint64_t t0, uint64_t t1)
{
    struct events e;
    uint64_t t, j;
    events_init(&e, s->key, s->start, s->end, s->period, s->jitter, s->miss, t0, t1);
    while (events_next(&e, &t, &j)) {
        struct rng r;
        event_rng(&r, s, j);
        uint16_t port = ephemeral_port(&r);
        struct conn c = conn_new(&s->src, port, &s->dst, s->port, TCP, t);
        c.dur = rng_below(&r, 2);
        c.up = s->bytes * rng_range(&r, 0.9, 1.1);
        c.down = s->bytes * rng_range(&r, 1.5, 3.0);
        conn_emit(g, &c);
    }
}

/* Uploads to one peer: `bytes` in all, over `count` connections spread over
 * the span; a single connection lasts the whole span. */
static void sc_upload(struct fs_netgen *g, const struct scenario *s, uint64_t t0, uint64_t t1)
{
    struct events e;
    uint64_t t, j;
    struct rng r;
    double slot = (double)(s->end - s->start) / s->count;

    if (s->count == 1) {
        if (t0 <= s->start && s->start < t1) {
            event_rng(&r, s, 0);
            uint16_t port = ephemeral_port(&r);
            struct conn c = conn_new(&s->src, port, &s->dst, s->port, TCP, s->start);
            c.dur = (uint32_t)(s->end - s->start);
            c.up = s->bytes;
            c.down = s->bytes / 200;
            conn_emit(g, &c);
        }
        return;
    }
    spread(&e, s, 0.6, t0, t1);
    while (events_next(&e, &t, &j)) {
        event_rng(&r, s, j);
        uint16_t port = ephemeral_port(&r);
        struct conn c = conn_new(&s->src, port, &s->dst, s->port, TCP, t);
        c.up = s->bytes / s->count * rng_range(&r, 0.7, 1.3);
        c.down = c.up / 200;
        c.dur = (uint32_t)fmin(c.up / 400e3 + 2, slot * 0.8);
        conn_emit(g, &c);
    }
}

/* Vertical port scan: `count` ports of one host, SYN probes in a scrambled
 * order: 1-1024, then well-known high ports. */
static void sc_portscan(struct fs_netgen *g, const struct scenario *s, uint64_t t0, uint64_t t1)
{
    static const uint16_t high[] = { 1433, 1521, 2049, 3306, 3389, 5432, 5900, 5985, 6379,
                                     8000, 8080, 8443, 8888, 9000, 9090, 9200, 10000, 11211,
                                     27017, 50000 };
    struct events e;
    uint64_t t, j;
    spread(&e, s, 0.8, t0, t1);
    while (events_next(&e, &t, &j)) {
        uint16_t port = j < 1024 ? (uint16_t)(1 + (j * 389) % 1024)
                                 : high[(j - 1024) % NELEM(high)];
        probe(g, &s->src, &s->dst, (uint16_t)(40000 + s->key % 20000), port, t);
    }
}

/* The j-th address of net/bits in a scrambled order, skipping the network
 * and broadcast addresses. */
static fs_ip sweep_target(const struct scenario *s, uint64_t j)
{
    uint32_t size = 1u << (32 - s->bits), usable = size - 2;
    fs_ip ip;
    ip4(&ip, ip4_u32(&s->net) + 1 + (uint32_t)((j * 2654435761u) % usable));
    return ip;
}

/* Horizontal sweep: `count` addresses of net/bits on one port, from one
 * internal source, or (`sources` > 0) from that many outside machines,
 * each probing a few addresses, which the edge firewall never answers. */
static void sc_sweep(struct fs_netgen *g, const struct scenario *s, uint64_t t0, uint64_t t1)
{
    struct events e;
    uint64_t t, j;
    spread(&e, s, 0.9, t0, t1);
    while (events_next(&e, &t, &j)) {
        struct rng r;
        fs_ip dst = sweep_target(s, j);
        event_rng(&r, s, j);
        uint16_t port = ephemeral_port(&r);
        if (s->sources) {
            fs_ip src = ext_ip(hash3(s->key, j * s->sources / s->count, 1));
            flow(g, &src, &dst, port, s->port, TCP, F_SYN, 1, 60, t, t, 0);
        } else if (memcmp(dst.b, s->src.b, 4) != 0) {
            probe(g, &s->src, &dst, port, s->port, t);
        }
    }
}

/* Lateral movement: `count` internal hosts reached on administration
 * ports, with real sessions where the port answers. */
static void sc_lateral(struct fs_netgen *g, const struct scenario *s, uint64_t t0, uint64_t t1)
{
    static const uint16_t admin[] = { 445, 3389, 22, 5985 };
    struct events e;
    uint64_t t, j;
    spread(&e, s, 0.8, t0, t1);
    while (events_next(&e, &t, &j)) {
        struct rng r;
        event_rng(&r, s, j);
        size_t idx = hash3(s->key, j, 3) % g->nhosts;
        if (memcmp(g->hosts[idx].ip.b, s->src.b, 4) == 0)
            idx = (idx + 1) % g->nhosts;
        const struct host *h = &g->hosts[idx];
        unsigned nports = 1 + rng_below(&r, 2);
        for (unsigned k = 0; k < nports; k++) {
            uint16_t port = admin[(j + k) % NELEM(admin)];
            uint16_t cport = ephemeral_port(&r);
            struct conn c = conn_new(&s->src, cport, &h->ip, port, TCP, t + 5 * k);
            c.outcome = port_open(h, port) ? C_OK : C_RESET;
            switch (port) {
            case 445:
                c.up = rng_lognormal(&r, 60e3, 0.8);
                c.down = rng_lognormal(&r, 40e3, 0.8);
                c.dur = 5 + rng_below(&r, 25);
                break;
            case 3389:
                c.up = rng_lognormal(&r, 200e3, 0.6);
                c.down = rng_lognormal(&r, 2e6, 0.6);
                c.dur = 120 + rng_below(&r, 480);
                break;
            case 22:
                c.up = rng_lognormal(&r, 5e3, 0.6);
                c.down = rng_lognormal(&r, 20e3, 0.6);
                c.dur = 10 + rng_below(&r, 110);
                break;
            default:
                c.up = rng_lognormal(&r, 8e3, 0.6);
                c.down = rng_lognormal(&r, 12e3, 0.6);
                c.dur = 2 + rng_below(&r, 8);
                break;
            }
            conn_emit(g, &c);
        }
    }
}

/* Long-lived, low-volume sessions (a reverse shell, a tunnel): `count`
 * connections over the span, each nearly as long as its share, carrying
 * about `bytes` each way. */
static void sc_session(struct fs_netgen *g, const struct scenario *s, uint64_t t0, uint64_t t1)
{
    struct events e;
    uint64_t t, j;
    double slot = (double)(s->end - s->start) / s->count;
    spread(&e, s, 0.1, t0, t1);
    while (events_next(&e, &t, &j)) {
        struct rng r;
        event_rng(&r, s, j);
        uint16_t port = s->proto == GRE ? 0 : ephemeral_port(&r);
        struct conn c = conn_new(&s->src, port, &s->dst, s->port, s->proto, t);
        c.dur = (uint32_t)(slot * 0.9);
        c.up = s->bytes * rng_range(&r, 0.7, 1.3);
        c.down = s->bytes * rng_range(&r, 0.3, 2.0);
        conn_emit(g, &c);
    }
}

/* Inbound flood on one host: each minute `sources` machines send SYNs to
 * its port (it answers what it can) and `count` reflectors send it large
 * UDP answers from port 123 or 53. */
static void sc_ddos(struct fs_netgen *g, const struct scenario *s, uint64_t t0, uint64_t t1)
{
    uint64_t from = t0 > s->start ? t0 : s->start, to = t1 < s->end ? t1 : s->end;
    uint64_t m = s->start + (from - s->start + 59) / 60 * 60;
    for (; m < to; m += 60) {
        for (unsigned i = 0; i < s->sources + s->count; i++) {
            struct rng r;
            rng_seed(&r, s->key, m, i);
            if (rng_unit(&r) < 0.15)
                continue;
            uint64_t t = m + rng_below(&r, 5);
            uint16_t port = ephemeral_port(&r);
            if (i < s->sources) {
                fs_ip bot = ext_ip(hash3(s->key, i, 1));
                uint64_t pkts = 30 + rng_below(&r, 270), answered = pkts / 2 + 1;
                flow(g, &bot, &s->dst, port, s->port, TCP, F_SYN, pkts, pkts * 60, t, t + 55, 0);
                flow(g, &s->dst, &bot, s->port, port, TCP, F_SYN | F_ACK, answered,
                     answered * 58, t, t + 55, 0);
            } else {
                fs_ip refl = ext_ip(hash3(s->key, i, 2));
                uint64_t pkts = 100 + rng_below(&r, 900);
                flow(g, &refl, &s->dst, i % 2 ? 123 : 53, port, UDP, 0, pkts,
                     pkts * (i % 2 ? 468 : 1400), t, t + 55, 0);
            }
        }
    }
}

/* DNS queries (`count` over the span) with long names and big answers, to
 * an internal resolver (which forwards every one: each name is new) or
 * straight to an outside server. */
static void sc_dns(struct fs_netgen *g, const struct scenario *s, uint64_t t0, uint64_t t1)
{
    struct events e;
    uint64_t t, j;
    spread(&e, s, 0.95, t0, t1);
    while (events_next(&e, &t, &j)) {
        struct rng r;
        event_rng(&r, s, j);
        dns_lookup(g, &s->src, &s->dst, t, &r, 1.0, 90, 230, 150, 480);
    }
}

/* Password guessing: `count` short sessions to one authentication port. */
static void sc_brute(struct fs_netgen *g, const struct scenario *s, uint64_t t0, uint64_t t1)
{
    struct events e;
    uint64_t t, j;
    double base = s->port == 3389 ? 5000 : 1800;
    spread(&e, s, 0.9, t0, t1);
    while (events_next(&e, &t, &j)) {
        struct rng r;
        event_rng(&r, s, j);
        uint16_t port = ephemeral_port(&r);
        struct conn c = conn_new(&s->src, port, &s->dst, s->port, TCP, t);
        c.dur = 2 + rng_below(&r, 4);
        c.up = base * rng_range(&r, 0.9, 1.5);
        c.down = base * rng_range(&r, 1.3, 2.0);
        conn_emit(g, &c);
    }
}

/* ------------------------------------------------------------------ */
/* Scenarios: benign traps. */

/* Nightly backups: the backup server calls each server in turn, three
 * minutes apart, and each sends its data to the storage port at 25 MB/s. */
static void sc_backup(struct fs_netgen *g, const struct scenario *s, uint64_t t0, uint64_t t1)
{
    const struct fs_netgen_net *n = &g->net;
    const struct {
        const fs_ip *ip;
        double gb;
    } plan[] = { { &n->file, 18 }, { &n->db, 6 }, { &n->mail, 8 }, { &n->dc, 3 },
                 { &n->app[0], 2 }, { &n->app[1], 2 } };
    struct events e;
    uint64_t t, j;
    events_init(&e, s->key, s->start, s->start + 180 * NELEM(plan), 180, 0.2, 0, t0, t1);
    while (events_next(&e, &t, &j)) {
        struct rng r;
        event_rng(&r, s, j);
        double bytes = plan[j].gb * 1e9 * rng_lognormal(&r, 1, 0.15);
        uint16_t port = ephemeral_port(&r);
        struct conn c = conn_new(&n->backup, port, plan[j].ip, 9102, TCP, t);
        c.dur = 4;
        c.up = 2000;
        c.down = 3000;
        conn_emit(g, &c);
        port = ephemeral_port(&r);
        c = conn_new(plan[j].ip, port, &n->backup, 9103, TCP, t + 2);
        c.dur = (uint32_t)(bytes / 25e6);
        c.up = bytes;
        c.down = bytes / 500;
        conn_emit(g, &c);
    }
}

/* The authorised vulnerability scanner: a ping sweep of one /24 over ten
 * minutes, then the twenty usual ports of every host that answered. */
static void sc_scanner(struct fs_netgen *g, const struct scenario *s, uint64_t t0, uint64_t t1)
{
    static const uint16_t ports[] = { 21, 22, 23, 25, 53, 80, 110, 135, 139, 143, 443, 445,
                                      993, 995, 1723, 3306, 3389, 5900, 5985, 8080 };
    uint32_t base = ip4_u32(&s->net);
    fs_ip live[254];
    size_t nlive = 0;
    struct events e;
    uint64_t t, j;

    for (uint32_t a = 1; a < 255; a++) {
        fs_ip ip;
        ip4(&ip, base + a);
        if (host_at(g, &ip) && memcmp(ip.b, s->src.b, 4) != 0)
            live[nlive++] = ip;
    }
    events_init(&e, s->key, s->start, s->start + 600, 600.0 / 254, 0.5, 0, t0, t1);
    while (events_next(&e, &t, &j)) {
        fs_ip ip;
        ip4(&ip, base + 1 + (uint32_t)j);
        if (j >= 254 || memcmp(ip.b, s->src.b, 4) == 0)
            continue;
        flow(g, &s->src, &ip, 0, 8 << 8, ICMP, 0, 1, 84, t, t, 0);
        if (host_at(g, &ip))
            flow(g, &ip, &s->src, 0, 0, ICMP, 0, 1, 84, t, t, 0);
    }
    if (nlive == 0)
        return;
    events_init(&e, s->key ^ 1, s->start + 600, s->end,
                (double)(s->end - s->start - 600) / (double)(nlive * NELEM(ports)), 0.5, 0,
                t0, t1);
    while (events_next(&e, &t, &j))
        if (j < nlive * NELEM(ports))
            probe(g, &s->src, &live[j / NELEM(ports)], (uint16_t)(50000 + j % 1000),
                  ports[j % NELEM(ports)], t);
}

/* The weekly all-hands: every workstation at work streams the meeting
 * (`bytes` per second) from a video platform. */
static void sc_allhands(struct fs_netgen *g, const struct scenario *s, uint64_t t0, uint64_t t1)
{
    unsigned day, hod, dow;
    if (!(t0 <= s->start && s->start < t1))
        return;
    clock_of(g, s->start, &day, &hod, &dow);
    for (size_t i = 0; i < g->nws; i++) {
        const struct host *h = ws_host(g, i);
        unsigned from;
        struct rng r;
        if (ws_weight(g, h, day, hod, dow, &from) <= 0)
            continue;
        event_rng(&r, s, i);
        uint64_t t = s->start + rng_below(&r, 180);
        uint32_t dur = (uint32_t)(s->end - t - rng_below(&r, 300));
        uint16_t port = ephemeral_port(&r);
        struct conn c = conn_new(&h->ip, port, &g->stream, 443, TCP, t);
        c.tos = 0x88; /* AF41, as video platforms mark it */
        c.dur = dur;
        c.up = 6e3 * dur;
        c.down = s->bytes * dur;
        conn_emit(g, &c);
    }
}

/* ------------------------------------------------------------------ */
/* Planning: hosts, services, scenarios and labels. */

static int add_label(struct fs_netgen *g, const char *name, enum fs_anomaly_class cls,
                     enum fs_netgen_kind kind, const fs_ip *host, uint8_t bits,
                     const fs_ip *peer, uint64_t start_s, uint64_t end_s, bool optional)
{
    if (g->nlabels == g->caplabels) {
        size_t cap = g->caplabels ? g->caplabels * 2 : 64;
        struct fs_netgen_label *v = realloc(g->labels, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        g->labels = v;
        g->caplabels = cap;
    }
    struct fs_netgen_label *l = &g->labels[g->nlabels++];
    memset(l, 0, sizeof(*l));
    snprintf(l->name, sizeof(l->name), "%s", name);
    l->cls = cls;
    l->kind = kind;
    l->optional = optional;
    l->host = *host;
    l->host_bits = bits;
    if (peer)
        l->peer = *peer;
    l->start_ms = start_s * 1000;
    l->end_ms = end_s * 1000;
    return 0;
}

static struct scenario *add_scenario(struct fs_netgen *g, emit_fn emit, uint64_t start,
                                     uint64_t end)
{
    if (g->nsc == g->capsc) {
        size_t cap = g->capsc ? g->capsc * 2 : 64;
        struct scenario *v = realloc(g->sc, cap * sizeof(*v));
        if (v == NULL)
            return NULL;
        g->sc = v;
        g->capsc = cap;
    }
    struct scenario *s = &g->sc[g->nsc];
    memset(s, 0, sizeof(*s));
    s->emit = emit;
    s->key = hash3(stream(g, K_SCENARIO), g->nsc, 0);
    s->start = start;
    s->end = end;
    g->nsc++;
    return s;
}

static void make_hosts(struct fs_netgen *g)
{
    struct rng r;
    rng_seed(&r, stream(g, K_HOSTS), 0, 0);
    memset(g->server_at, 0xff, sizeof(g->server_at));
    for (size_t i = 0; i < NSERVERS; i++) {
        struct host *h = &g->hosts[i];
        memset(h, 0, sizeof(*h));
        h->ip = home(SERVER_NET, server_plan[i].last);
        h->role = server_plan[i].role;
        g->server_at[server_plan[i].last] = (int16_t)i;
    }
    for (size_t i = 0; i < g->nws; i++) {
        struct host *h = &g->hosts[NSERVERS + i];
        memset(h, 0, sizeof(*h));
        h->ip = home((unsigned)(1 + i / WS_PER_SUBNET), (unsigned)(WS_FIRST + i % WS_PER_SUBNET));
        h->role = R_WS;
        h->start_h = (uint8_t)(7 + rng_below(&r, 3));
        h->start_min = (uint8_t)rng_below(&r, 60);
        h->end_h = (uint8_t)(16 + rng_below(&r, 4));
        h->night_on = rng_unit(&r) < 0.3;
        h->evening = rng_unit(&r) < 0.12;
        h->weekend = rng_unit(&r) < 0.1;
        h->activity = fmin(fmax(rng_lognormal(&r, 1.0, 0.45), 0.3), 3.0);
    }

    struct fs_netgen_net *n = &g->net;
    n->exporter = home(255, 1);
    n->resolvers[0] = home(SERVER_NET, 10);
    n->resolvers[1] = home(SERVER_NET, 11);
    ip4(&n->upstream_dns[0], 0x09090909u);   /* 9.9.9.9 */
    ip4(&n->upstream_dns[1], 0x95707070u);   /* 149.112.112.112 */
    n->dc = home(SERVER_NET, 20);
    n->file = home(SERVER_NET, 30);
    n->web = home(SERVER_NET, 40);
    n->app[0] = home(SERVER_NET, 41);
    n->app[1] = home(SERVER_NET, 42);
    n->db = home(SERVER_NET, 43);
    n->bastion = home(SERVER_NET, 45);
    n->backup = home(SERVER_NET, 50);
    n->mail = home(SERVER_NET, 60);
    n->scanner = home(SERVER_NET, 90);
    n->monitor = home(SERVER_NET, 100);
    n->workstations = (unsigned)g->nws;
}

static void make_externals(struct fs_netgen *g)
{
    struct rng r;
    double total = 0;
    rng_seed(&r, stream(g, K_SERVICES), 0, 0);
    g->externals[g->nexternals++] = g->net.upstream_dns[0];
    g->externals[g->nexternals++] = g->net.upstream_dns[1];
    for (size_t i = 0; i < EXT_SERVICES; i++) {
        struct service *s = &g->svc[i];
        double u = rng_unit(&r);
        s->ip = unique_ext(g, K_SERVICES, i);
        /* QUIC, HTTPS, HTTP, and a few others */
        s->proto = u < 0.10 ? UDP : TCP;
        s->port = u >= 0.80 && u < 0.90 ? 80 : u >= 0.99 ? 5222 : u >= 0.98 ? 8443 : 443;
        total += 1.0 / pow((double)i + 1, 1.1);
        s->cdf = total;
    }
    for (size_t i = 0; i < EXT_SERVICES; i++)
        g->svc[i].cdf /= total;
    for (size_t i = 0; i < 2; i++)
        g->av[i] = unique_ext(g, K_SPECIAL, 10 + i);
    for (size_t i = 0; i < 3; i++)
        g->upd[i] = unique_ext(g, K_SPECIAL, 20 + i);
    for (size_t i = 0; i < 4; i++)
        g->ntp[i] = unique_ext(g, K_SPECIAL, 30 + i);
    for (size_t i = 0; i < 3; i++)
        g->saas[i] = unique_ext(g, K_SPECIAL, 40 + i);
    for (size_t i = 0; i < 3; i++)
        g->admins[i] = unique_ext(g, K_SPECIAL, 50 + i);
    g->stream = unique_ext(g, K_SPECIAL, 60);
    g->conf = unique_ext(g, K_SPECIAL, 61);
    g->payapi = unique_ext(g, K_SPECIAL, 62);
}

/* Seconds since the epoch of day `d` of the run at hh:mm. */
static uint64_t at(const struct fs_netgen *g, unsigned d, unsigned hh, unsigned mm)
{
    return g->start_s + (uint64_t)d * DAY_S + hh * HOUR_S + mm * 60u;
}

static int plan_benign(struct fs_netgen *g)
{
    const struct fs_netgen_net *n = &g->net;
    fs_ip net16 = home(0, 0), net24 = home(SERVER_NET, 0);
    uint64_t s0 = g->start_s, s1 = g->end_s;
    int rc = 0;

    for (unsigned d = 0; d < g->cfg.days; d++) {
        struct scenario *s = add_scenario(g, sc_backup, at(g, d, 2, 0), at(g, d, 2, 18));
        if (s == NULL)
            return -1;
        rc |= add_label(g, "backup", FS_AC_VOLUME_SPIKE, FS_NETGEN_BENIGN, &net24, 24, NULL,
                        s->start, s->end + 2 * HOUR_S, false);
        rc |= add_label(g, "backup", FS_AC_EXFILTRATION, FS_NETGEN_BENIGN, &net24, 24, NULL,
                        s->start, s->end + 2 * HOUR_S, false);

        /* rotates over the server subnet and the workstation subnets */
        unsigned nsub = (unsigned)(1 + (g->nws + WS_PER_SUBNET - 1) / WS_PER_SUBNET);
        s = add_scenario(g, sc_scanner, at(g, d, 1, 0), at(g, d, 1, 45));
        if (s == NULL)
            return -1;
        s->src = n->scanner;
        s->net = home(d % nsub, 0);
        s->bits = 24;
        static const enum fs_anomaly_class scan_classes[] = {
            FS_AC_PORT_SCAN, FS_AC_HOST_SWEEP, FS_AC_LATERAL_MOVEMENT, FS_AC_NEW_PORT,
        };
        for (size_t k = 0; k < NELEM(scan_classes); k++)
            rc |= add_label(g, "scanner", scan_classes[k], FS_NETGEN_BENIGN, &n->scanner, 32,
                            NULL, s->start, s->end + 60, false);

        if (d % 7 == 1) { /* Tuesdays, 16:00 */
            s = add_scenario(g, sc_allhands, at(g, d, 16, 0), at(g, d, 17, 0));
            if (s == NULL)
                return -1;
            s->bytes = 190e3; /* 1.5 Mbit/s each */
            rc |= add_label(g, "all-hands", FS_AC_VOLUME_SPIKE, FS_NETGEN_BENIGN, &net16, 16,
                            &g->stream, s->start, s->end, false);
            rc |= add_label(g, "all-hands", FS_AC_DDOS, FS_NETGEN_BENIGN, &net16, 16,
                            &g->stream, s->start, s->end, false);
        }
    }

    /* Periodic software and machines, the whole run. */
    for (size_t i = 0; i < 2; i++)
        rc |= add_label(g, "antivirus", FS_AC_BEACONING, FS_NETGEN_BENIGN, &net16, 16,
                        &g->av[i], s0, s1, false);
    for (size_t i = 0; i < 3; i++)
        rc |= add_label(g, "updates", FS_AC_BEACONING, FS_NETGEN_BENIGN, &net16, 16,
                        &g->upd[i], s0, s1, false);
    rc |= add_label(g, "ntp-dc", FS_AC_BEACONING, FS_NETGEN_BENIGN, &net16, 16, &n->dc, s0, s1,
                    false);
    for (size_t i = 0; i < 4; i++)
        rc |= add_label(g, "ntp-pool", FS_AC_BEACONING, FS_NETGEN_BENIGN, &n->dc, 32,
                        &g->ntp[i], s0, s1, false);
    rc |= add_label(g, "snmp", FS_AC_BEACONING, FS_NETGEN_BENIGN, &n->monitor, 32, NULL, s0, s1,
                    false);
    for (size_t i = 0; i < 2; i++)
        rc |= add_label(g, "resolver", FS_AC_DNS_TUNNEL, FS_NETGEN_BENIGN, &n->resolvers[i], 32,
                        NULL, s0, s1, false);
    return rc;
}

/*
 * The attacks, on the two days after the first scored day: day A (a
 * Tuesday with the default seven learning days) and day B. Each attack has
 * its own workstation.
 */
static int plan_attacks(struct fs_netgen *g)
{
    const struct fs_netgen_net *n = &g->net;
    unsigned A = g->cfg.learn_days + 1, B = A + 1;
    struct host *actor[12];
    struct rng r;
    int rc = 0;

    rng_seed(&r, stream(g, K_ACTORS), 0, 0);
    for (size_t k = 0; k < NELEM(actor); k++) {
        struct host *h;
        bool dup;
        do {
            h = &g->hosts[NSERVERS + rng_below(&r, (uint32_t)g->nws)];
            dup = false;
            for (size_t i = 0; i < k; i++)
                dup |= actor[i] == h;
        } while (dup);
        h->actor = true;
        actor[k] = h;
    }
    actor[0]->night_on = true; /* the slow beacon runs day and night */

#define SC(var, fn, s, e)                                   \
    struct scenario *var = add_scenario(g, fn, (s), (e));   \
    if (var == NULL)                                        \
        return -1

    /* Beacons. */
    SC(bs, sc_beacon, at(g, A, 0, 0), at(g, B, 23, 59));
    bs->src = actor[0]->ip;
    bs->dst = unique_ext(g, K_SPECIAL, 100);
    bs->port = 443;
    bs->period = 600;
    bs->jitter = 0.3;
    bs->miss = 0.1;
    bs->bytes = 450;
    rc |= add_label(g, "beacon-slow", FS_AC_BEACONING, FS_NETGEN_ATTACK, &bs->src, 32, &bs->dst,
                    bs->start, bs->end + 60, false);

    SC(bf, sc_beacon, at(g, A, 9, 0), at(g, A, 15, 0));
    bf->src = actor[3]->ip;
    bf->dst = unique_ext(g, K_SPECIAL, 101);
    bf->port = 8443;
    bf->period = 60;
    bf->jitter = 0.5;
    bf->miss = 0.05;
    bf->bytes = 300;
    rc |= add_label(g, "beacon-fast", FS_AC_BEACONING, FS_NETGEN_ATTACK, &bf->src, 32, &bf->dst,
                    bf->start, bf->end + 60, false);

    /* Exfiltration: a burst and a drip. */
    SC(eb, sc_upload, at(g, A, 14, 10), at(g, A, 14, 50));
    eb->src = actor[4]->ip;
    eb->dst = unique_ext(g, K_SPECIAL, 102);
    eb->port = 443;
    eb->count = 1;
    eb->bytes = 4e9;
    rc |= add_label(g, "exfil-burst", FS_AC_EXFILTRATION, FS_NETGEN_ATTACK, &eb->src, 32,
                    &eb->dst, eb->start, eb->end + 60, false);

    SC(ed, sc_upload, at(g, B, 9, 0), at(g, B, 17, 0));
    ed->src = actor[6]->ip;
    ed->dst = unique_ext(g, K_SPECIAL, 103);
    ed->port = 443;
    ed->count = 96;
    ed->bytes = 150e6;
    rc |= add_label(g, "exfil-drip", FS_AC_EXFILTRATION, FS_NETGEN_ATTACK, &ed->src, 32,
                    &ed->dst, ed->start, ed->end + 300, false);

    /* Scans. */
    SC(vs, sc_portscan, at(g, A, 10, 20), at(g, A, 10, 28));
    vs->src = actor[1]->ip;
    vs->dst = n->app[0];
    vs->count = 1044;
    rc |= add_label(g, "port-scan", FS_AC_PORT_SCAN, FS_NETGEN_ATTACK, &vs->src, 32, &vs->dst,
                    vs->start, vs->end + 60, false);
    rc |= add_label(g, "port-scan-target", FS_AC_PORT_SCAN, FS_NETGEN_ATTACK, &vs->dst, 32,
                    &vs->src, vs->start, vs->end + 60, true);

    SC(sf, sc_sweep, at(g, A, 11, 5), at(g, A, 11, 8));
    sf->src = actor[2]->ip;
    sf->net = home(1, 0);
    sf->bits = 23;
    sf->port = 445;
    sf->count = 510;
    rc |= add_label(g, "sweep-fast", FS_AC_HOST_SWEEP, FS_NETGEN_ATTACK, &sf->src, 32, NULL,
                    sf->start, sf->end + 60, false);

    SC(ss, sc_sweep, at(g, B, 8, 0), at(g, B, 14, 0));
    ss->src = actor[9]->ip;
    ss->net = home(2, 0);
    ss->bits = 24;
    ss->port = 22;
    ss->count = 254;
    rc |= add_label(g, "sweep-slow", FS_AC_HOST_SWEEP, FS_NETGEN_ATTACK, &ss->src, 32, NULL,
                    ss->start, ss->end + 60, false);

    SC(sd, sc_sweep, at(g, A, 21, 0), at(g, A, 23, 59));
    sd->net = home(0, 0);
    sd->bits = 22;
    sd->port = 3389;
    sd->count = 1000;
    sd->sources = 60;
    rc |= add_label(g, "sweep-distributed", FS_AC_HOST_SWEEP, FS_NETGEN_ATTACK, &sd->net, 22,
                    NULL, sd->start, sd->end + 60, false);

    /* Lateral movement. */
    SC(lm, sc_lateral, at(g, B, 10, 30), at(g, B, 10, 50));
    lm->src = actor[8]->ip;
    lm->count = 40;
    rc |= add_label(g, "lateral", FS_AC_LATERAL_MOVEMENT, FS_NETGEN_ATTACK, &lm->src, 32, NULL,
                    lm->start, lm->end + 600, false);

    /* A new port, and a new protocol. */
    SC(np, sc_session, at(g, A, 13, 0), at(g, A, 13, 40));
    np->src = n->app[1];
    np->dst = unique_ext(g, K_SPECIAL, 104);
    np->port = 4444;
    np->proto = TCP;
    np->count = 4;
    np->bytes = 60e3;
    rc |= add_label(g, "new-port", FS_AC_NEW_PORT, FS_NETGEN_ATTACK, &np->src, 32, &np->dst,
                    np->start, np->end + 60, false);

    SC(nq, sc_session, at(g, A, 15, 0), at(g, A, 16, 0));
    nq->src = actor[5]->ip;
    nq->dst = unique_ext(g, K_SPECIAL, 105);
    nq->proto = GRE;
    nq->count = 3;
    nq->bytes = 5e6;
    rc |= add_label(g, "new-protocol", FS_AC_NEW_PORT, FS_NETGEN_ATTACK, &nq->src, 32, &nq->dst,
                    nq->start, nq->end + 60, false);

    /* Inbound flood on the public web server. */
    SC(dd, sc_ddos, at(g, A, 20, 0), at(g, A, 20, 20));
    dd->dst = n->web;
    dd->port = 443;
    dd->sources = 1500;
    dd->count = 300;
    rc |= add_label(g, "ddos", FS_AC_DDOS, FS_NETGEN_ATTACK, &dd->dst, 32, NULL, dd->start,
                    dd->end + 60, false);

    /* DNS tunnels: through the resolver, and to an outside resolver. */
    SC(dv, sc_dns, at(g, B, 13, 0), at(g, B, 15, 0));
    dv->src = actor[10]->ip;
    dv->dst = n->resolvers[0];
    dv->count = 16000;
    rc |= add_label(g, "dns-volume", FS_AC_DNS_TUNNEL, FS_NETGEN_ATTACK, &dv->src, 32, &dv->dst,
                    dv->start, dv->end + 60, false);
    rc |= add_label(g, "dns-volume-relay", FS_AC_DNS_TUNNEL, FS_NETGEN_ATTACK, &dv->dst, 32,
                    NULL, dv->start, dv->end + 60, true);

    SC(dr, sc_dns, at(g, B, 9, 30), at(g, B, 16, 30));
    dr->src = actor[7]->ip;
    dr->dst = unique_ext(g, K_SPECIAL, 106);
    dr->count = 1400;
    rc |= add_label(g, "dns-rogue", FS_AC_DNS_TUNNEL, FS_NETGEN_ATTACK, &dr->src, 32, &dr->dst,
                    dr->start, dr->end + 60, false);

    /* Brute force: from outside on the bastion's SSH, and from a
     * workstation on the domain controller's RDP. */
    SC(bx, sc_brute, at(g, A, 3, 10), at(g, A, 4, 10));
    bx->src = unique_ext(g, K_SPECIAL, 107);
    bx->dst = n->bastion;
    bx->port = 22;
    bx->count = 1800;
    rc |= add_label(g, "brute-ssh", FS_AC_BRUTE_FORCE, FS_NETGEN_ATTACK, &bx->dst, 32, &bx->src,
                    bx->start, bx->end + 60, false);

    SC(bi, sc_brute, at(g, B, 16, 0), at(g, B, 16, 30));
    bi->src = actor[11]->ip;
    bi->dst = n->dc;
    bi->port = 3389;
    bi->count = 500;
    rc |= add_label(g, "brute-rdp", FS_AC_BRUTE_FORCE, FS_NETGEN_ATTACK, &bi->src, 32, &bi->dst,
                    bi->start, bi->end + 60, false);
    rc |= add_label(g, "brute-rdp-target", FS_AC_BRUTE_FORCE, FS_NETGEN_ATTACK, &bi->dst, 32,
                    &bi->src, bi->start, bi->end + 60, true);
#undef SC
    return rc;
}

static int label_cmp(const void *a, const void *b)
{
    const struct fs_netgen_label *x = a, *y = b;
    if (x->start_ms != y->start_ms)
        return x->start_ms < y->start_ms ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->cls < y->cls ? -1 : x->cls > y->cls;
}

struct fs_netgen *fs_netgen_new(const struct fs_netgen_config *cfg)
{
    struct fs_netgen_config c = *cfg;
    if (c.days == 0)
        c.days = 10;
    if (c.learn_days == 0)
        c.learn_days = 7;
    if (c.hosts == 0)
        c.hosts = 300;
    if (c.flows_per_hour <= 0)
        c.flows_per_hour = 40;
    if (c.scale <= 0)
        c.scale = 1;
    if (c.start_ms == 0)
        c.start_ms = FS_NETGEN_DEFAULT_START_MS;
    /* 1970-01-01 was a Thursday: Monday midnights are 4 days past a week. */
    if (c.hosts < FS_NETGEN_MIN_HOSTS || c.hosts > FS_NETGEN_MAX_HOSTS ||
        c.days < c.learn_days + 3 || c.days > 366 || c.start_ms % 1000 != 0 ||
        (c.start_ms / 1000 + 3 * DAY_S) % WEEK_S != 0 || c.flows_per_hour > 1e5 ||
        c.scale > 1000)
        return NULL;

    struct fs_netgen *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->cfg = c;
    g->start_s = c.start_ms / 1000;
    g->end_s = g->start_s + (uint64_t)c.days * DAY_S;
    g->hours = (uint64_t)c.days * 24;
    g->nws = c.hosts - NSERVERS;
    g->nhosts = c.hosts;
    g->sessions_per_hour = c.flows_per_hour * c.scale / FLOWS_PER_SESSION;
    g->hosts = calloc(g->nhosts, sizeof(*g->hosts));
    if (g->hosts == NULL)
        goto fail;

    static const enum fs_flow_field carried[] = {
        FS_F_SRC_ADDR, FS_F_DST_ADDR, FS_F_SRC_PORT, FS_F_DST_PORT, FS_F_PROTO, FS_F_TOS,
        FS_F_TCP_FLAGS, FS_F_PACKETS, FS_F_BYTES, FS_F_IN_IF, FS_F_OUT_IF, FS_F_START,
        FS_F_END, FS_F_NEXT_HOP, FS_F_SRC_AS, FS_F_DST_AS, FS_F_SRC_MASK, FS_F_DST_MASK,
        FS_F_SAMPLING,
    };
    for (size_t i = 0; i < NELEM(carried); i++)
        g->present_bits |= UINT64_C(1) << carried[i];

    make_hosts(g);
    make_externals(g);
    if (plan_benign(g) != 0 || (!c.clean && plan_attacks(g) != 0))
        goto fail;
    qsort(g->labels, g->nlabels, sizeof(*g->labels), label_cmp);
    return g;
fail:
    fs_netgen_free(g);
    return NULL;
}

void fs_netgen_free(struct fs_netgen *g)
{
    if (g == NULL)
        return;
    free(g->hosts);
    free(g->sc);
    free(g->labels);
    free(g->work.v);
    free(g->out.v);
    free(g->spare.v);
    free(g->keys);
    free(g);
}

static int key_cmp(const void *a, const void *b)
{
    const struct sortkey *x = a, *y = b;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int reserve(struct fbuf *b, size_t n)
{
    if (n <= b->cap)
        return 0;
    struct fs_flow *v = realloc(b->v, n * sizeof(*v));
    if (v == NULL)
        return -1;
    b->v = v;
    b->cap = n;
    return 0;
}

/* Sorts the work buffer by end time; moves the flows that end before
 * `boundary_ms` to `out` and keeps the others, in order, in `work`. */
static int split(struct fs_netgen *g, uint64_t boundary_ms)
{
    struct fbuf *w = &g->work;
    if (w->n > g->capkeys) {
        struct sortkey *k = realloc(g->keys, w->n * sizeof(*k));
        if (k == NULL)
            return -1;
        g->keys = k;
        g->capkeys = w->n;
    }
    for (size_t i = 0; i < w->n; i++) {
        g->keys[i].end = w->v[i].end_ms;
        g->keys[i].idx = i;
    }
    qsort(g->keys, w->n, sizeof(*g->keys), key_cmp);
    size_t nout = 0;
    while (nout < w->n && g->keys[nout].end < boundary_ms)
        nout++;
    if (reserve(&g->out, nout) != 0 || reserve(&g->spare, w->n - nout) != 0)
        return -1;
    for (size_t i = 0; i < nout; i++)
        g->out.v[i] = w->v[g->keys[i].idx];
    g->out.n = nout;
    for (size_t i = nout; i < w->n; i++)
        g->spare.v[i - nout] = w->v[g->keys[i].idx];
    g->spare.n = w->n - nout;
    struct fbuf t = g->work;
    g->work = g->spare;
    g->spare = t;
    return 0;
}

long fs_netgen_next(struct fs_netgen *g, const struct fs_flow **flows)
{
    while (g->hour < g->hours || g->work.n) {
        uint64_t boundary = UINT64_MAX;
        if (g->hour < g->hours) {
            uint64_t t0 = g->start_s + g->hour * HOUR_S, t1 = t0 + HOUR_S;
            workstations_hour(g, t0);
            servers_hour(g, t0);
            periodic_servers(g, t0, t1);
            for (size_t i = 0; i < g->nsc; i++) {
                const struct scenario *s = &g->sc[i];
                if (s->start < t1 && s->end > t0)
                    s->emit(g, s, t0, t1);
            }
            boundary = t1 * 1000;
        }
        g->hour++;
        if (g->oom || split(g, boundary) != 0)
            return -1;
        if (g->out.n) {
            *flows = g->out.v;
            return (long)g->out.n;
        }
    }
    return 0;
}

size_t fs_netgen_labels(const struct fs_netgen *g, const struct fs_netgen_label **labels)
{
    *labels = g->labels;
    return g->nlabels;
}

const struct fs_netgen_net *fs_netgen_net(const struct fs_netgen *g)
{
    return &g->net;
}

const struct fs_netgen_config *fs_netgen_config(const struct fs_netgen *g)
{
    return &g->cfg;
}

int fs_netgen_label_json(const struct fs_netgen_label *l, char *out, size_t cap)
{
    char host[FS_IP_STRLEN], peer[FS_IP_STRLEN], bits[8] = "";
    int n;

    if (l->host_bits < 32)
        snprintf(bits, sizeof(bits), "/%u", l->host_bits);
    fs_ip_format(&l->host, host);
    n = snprintf(out, cap, "{\"class\":\"%s\",\"host\":\"%s%s\"",
                 fs_anomaly_class_name(l->cls), host, bits);
    if (n > 0 && l->peer.af && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, ",\"peer\":\"%s\"", fs_ip_format(&l->peer, peer));
    if (n > 0 && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n,
                      ",\"start_ms\":%llu,\"end_ms\":%llu,\"kind\":\"%s\",\"name\":\"%s\"%s}",
                      (unsigned long long)l->start_ms, (unsigned long long)l->end_ms,
                      l->kind == FS_NETGEN_ATTACK ? "attack" : "benign", l->name,
                      l->optional ? ",\"optional\":true" : "");
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

bool fs_netgen_label_host_match(const struct fs_netgen_label *l, const fs_ip *ip)
{
    if (ip->af != 4 || l->host.af != 4)
        return false;
    uint32_t mask = l->host_bits == 0 ? 0 : ~0u << (32 - l->host_bits);
    return (ip4_u32(ip) & mask) == (ip4_u32(&l->host) & mask);
}
