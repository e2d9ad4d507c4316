/*
 * test_netgen.c - the labelled traffic generator (tools/lib/netgen), its
 * nfdump CSV writer (tools/lib/nfcsv_write) and the scorer
 * (tools/score-detections).
 *
 * Independent references: the collector's own decoder must turn the
 * generated flows, sent as IPFIX, back into the very JSON the generator
 * writes; the real nfdump (nfcapd fed the same IPFIX, then `nfdump -o csv`)
 * must print the very rows the CSV writer writes; and each injected attack
 * must carry the traffic its scenario promises in docs/detection.md
 * (counts, volumes, periods), measured here from the flows alone.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "decode.h"
#include "flowgen.h"
#include "netgen.h"
#include "nfcsv_write.h"
#include "proc.h"
#include "tplwire.h"

#define HOUR_MS 3600000ull
#define DAY_MS 86400000ull

/* A short run: one learning day, four days, the smallest network. */
static struct fs_netgen_config small_cfg(uint64_t seed)
{
    struct fs_netgen_config c = { 0 };
    c.seed = seed;
    c.days = 4;
    c.learn_days = 1;
    c.hosts = FS_NETGEN_MIN_HOSTS;
    return c;
}

/* Every flow of a run, copied. */
struct run {
    struct fs_flow *v;
    size_t n, cap;
    struct fs_netgen *g;
};

static void run_all(const struct fs_netgen_config *cfg, struct run *r)
{
    const struct fs_flow *flows;
    long n;

    memset(r, 0, sizeof(*r));
    r->g = fs_netgen_new(cfg);
    cr_assert_not_null(r->g);
    while ((n = fs_netgen_next(r->g, &flows)) > 0) {
        if (r->n + (size_t)n > r->cap) {
            r->cap = (r->n + (size_t)n) * 2;
            r->v = realloc(r->v, r->cap * sizeof(*r->v));
            cr_assert_not_null(r->v);
        }
        memcpy(r->v + r->n, flows, (size_t)n * sizeof(*flows));
        r->n += (size_t)n;
    }
    cr_assert_eq(n, 0, "generation failed");
}

static void run_free(struct run *r)
{
    fs_netgen_free(r->g);
    free(r->v);
}

static uint32_t u32(const fs_ip *ip)
{
    return (uint32_t)ip->b[0] << 24 | (uint32_t)ip->b[1] << 16 | (uint32_t)ip->b[2] << 8 |
           ip->b[3];
}

static bool same_ip(const fs_ip *a, const fs_ip *b)
{
    return a->af == b->af && memcmp(a->b, b->b, 4) == 0;
}

static bool internal(const fs_ip *ip)
{
    return ip->af == 4 && ip->b[0] == 10 && ip->b[1] == 10;
}

static const struct fs_netgen_label *find_label(const struct fs_netgen *g, const char *name)
{
    const struct fs_netgen_label *l;
    size_t n = fs_netgen_labels(g, &l);
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].name, name) == 0 && !l[i].optional)
            return &l[i];
    cr_assert_fail("no label %s", name);
    return NULL;
}

/* ------------------------------------------------------------------ */

Test(netgen, rejects_bad_settings)
{
    struct fs_netgen_config c = small_cfg(1);
    c.hosts = FS_NETGEN_MIN_HOSTS - 1;
    cr_expect_null(fs_netgen_new(&c));
    c = small_cfg(1);
    c.days = c.learn_days + 2; /* no room for the attack days */
    cr_expect_null(fs_netgen_new(&c));
    c = small_cfg(1);
    c.start_ms = FS_NETGEN_DEFAULT_START_MS + DAY_MS; /* a Tuesday */
    cr_expect_null(fs_netgen_new(&c));
    c = small_cfg(1);
    c.start_ms = FS_NETGEN_DEFAULT_START_MS + 7 * DAY_MS; /* the next Monday */
    struct fs_netgen *g = fs_netgen_new(&c);
    cr_expect_not_null(g);
    fs_netgen_free(g);
}

Test(netgen, default_start_is_a_monday)
{
    time_t t = (time_t)(FS_NETGEN_DEFAULT_START_MS / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    cr_expect_eq(tm.tm_wday, 1);
    cr_expect_eq(tm.tm_hour + tm.tm_min + tm.tm_sec, 0);
}

Test(netgen, deterministic)
{
    struct fs_netgen_config c = small_cfg(42);
    struct run a, b, d;
    run_all(&c, &a);
    run_all(&c, &b);
    c.seed = 43;
    run_all(&c, &d);
    cr_assert_eq(a.n, b.n);
    cr_expect_eq(memcmp(a.v, b.v, a.n * sizeof(*a.v)), 0, "same seed, different flows");
    cr_expect(a.n != d.n || memcmp(a.v, d.v, a.n * sizeof(*a.v)) != 0,
              "another seed gave the same flows");
    run_free(&a);
    run_free(&b);
    run_free(&d);
}

/* Flows come out in end-time order, on whole seconds, inside the run, each
 * with one end in the home network, as an IPFIX exporter reports them. */
Test(netgen, flows_are_well_formed)
{
    struct fs_netgen_config c = small_cfg(7);
    struct run r;
    run_all(&c, &r);
    uint64_t t0 = FS_NETGEN_DEFAULT_START_MS, t1 = t0 + c.days * DAY_MS;
    const struct fs_netgen_net *net = fs_netgen_net(r.g);

    cr_assert_gt(r.n, 10000);
    for (size_t i = 0; i < r.n; i++) {
        const struct fs_flow *f = &r.v[i];
        cr_assert(i == 0 || f->end_ms >= r.v[i - 1].end_ms, "flow %zu out of order", i);
        cr_assert_leq(f->start_ms, f->end_ms, "flow %zu", i);
        cr_assert_eq(f->start_ms % 1000, 0, "flow %zu", i);
        cr_assert_eq(f->end_ms % 1000, 0, "flow %zu", i);
        cr_assert(f->start_ms >= t0 && f->start_ms < t1, "flow %zu starts outside", i);
        cr_assert(internal(&f->src_addr) || internal(&f->dst_addr), "flow %zu: transit", i);
        cr_assert_geq(f->packets, 1);
        cr_assert_geq(f->bytes, f->packets * 20, "flow %zu: fewer bytes than headers", i);
        cr_assert_eq(f->version, 10);
        cr_assert(same_ip(&f->exporter, &net->exporter));
        cr_assert_eq(f->sampling_rate, 1);
    }
    run_free(&r);
}

/* Office hours are busy, nights and weekends quiet. */
Test(netgen, daily_and_weekly_rhythm)
{
    struct fs_netgen_config c = { 0 };
    struct run r;
    c.seed = 3;
    c.hosts = 100;
    c.days = 10;
    run_all(&c, &r);
    /* what the workstations start (10.10.1.0 and up): servers work all week */
    uint64_t per_hour[240] = { 0 };
    for (size_t i = 0; i < r.n; i++)
        if (internal(&r.v[i].src_addr) && r.v[i].src_addr.b[2] >= 1 &&
            r.v[i].src_addr.b[2] < 255)
            per_hour[(r.v[i].start_ms - FS_NETGEN_DEFAULT_START_MS) / HOUR_MS]++;

    uint64_t monday_10 = per_hour[10], monday_4 = per_hour[4], monday_12 = per_hour[12];
    uint64_t weekday = 0, weekend = 0;
    for (unsigned h = 0; h < 24; h++) {
        weekday += per_hour[2 * 24 + h]; /* Wednesday */
        weekend += per_hour[6 * 24 + h]; /* Sunday */
    }
    cr_expect_gt(monday_10, 5 * monday_4, "10:00 %llu vs 04:00 %llu",
                 (unsigned long long)monday_10, (unsigned long long)monday_4);
    cr_expect_lt(monday_12, monday_10, "lunch is quieter");
    cr_expect_gt(weekday, 5 * weekend, "Wednesday %llu vs Sunday %llu",
                 (unsigned long long)weekday, (unsigned long long)weekend);
    run_free(&r);
}

/* More flows per hour, or a scale factor, make proportionally more. */
Test(netgen, size_follows_settings)
{
    struct fs_netgen_config c = small_cfg(5);
    struct run a, b;
    c.clean = true;
    run_all(&c, &a);
    c.scale = 3;
    run_all(&c, &b);
    double ratio = (double)b.n / (double)a.n;
    /* per-host periodic software, the scanner, backups, SNMP and NTP do not
     * scale: a bit less than three times */
    cr_expect(ratio > 2.0 && ratio < 3.0, "scale 3 gave %.2fx the flows", ratio);
    run_free(&a);
    run_free(&b);
}

/* Every class of ipc/anomaly.h has an attack, except the two that other
 * attacks produce as a side effect; attacks come after the learning days. */
Test(netgen, labels_cover_every_class)
{
    struct fs_netgen_config c = { 0 };
    struct fs_netgen *g = fs_netgen_new(&c);
    const struct fs_netgen_label *l;
    size_t n = fs_netgen_labels(g, &l);
    bool seen[FS_AC_COUNT] = { false };
    unsigned backups = 0, scans = 0, allhands = 0;
    uint64_t learn_end = FS_NETGEN_DEFAULT_START_MS + 7 * DAY_MS;

    for (size_t i = 0; i < n; i++) {
        cr_assert_leq(l[i].start_ms, l[i].end_ms);
        cr_assert(i == 0 || l[i].start_ms >= l[i - 1].start_ms, "labels not sorted");
        if (l[i].kind == FS_NETGEN_ATTACK) {
            seen[l[i].cls] = true;
            cr_expect_geq(l[i].start_ms, learn_end + DAY_MS, "%s during learning or the "
                          "clean scored day", l[i].name);
            continue;
        }
        backups += strcmp(l[i].name, "backup") == 0 && l[i].cls == FS_AC_VOLUME_SPIKE;
        scans += strcmp(l[i].name, "scanner") == 0 && l[i].cls == FS_AC_PORT_SCAN;
        allhands += strcmp(l[i].name, "all-hands") == 0 && l[i].cls == FS_AC_DDOS;
    }
    for (int k = 0; k < FS_AC_COUNT; k++)
        if (k != FS_AC_VOLUME_SPIKE && k != FS_AC_PROTOCOL_ANOMALY)
            cr_expect(seen[k], "no attack of class %s", fs_anomaly_class_name(k));
    cr_expect_eq(backups, 10, "a backup every night");
    cr_expect_eq(scans, 10, "a scan every night");
    cr_expect_eq(allhands, 2, "an all-hands every Tuesday");
    fs_netgen_free(g);

    c.clean = true;
    g = fs_netgen_new(&c);
    n = fs_netgen_labels(g, &l);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(l[i].kind, FS_NETGEN_BENIGN, "clean run has attack %s", l[i].name);
    fs_netgen_free(g);
}

Test(netgen, label_json_and_match)
{
    struct fs_netgen_label l = { 0 };
    char buf[FS_NETGEN_LABEL_JSON_MAX];
    fs_ip_parse("10.10.4.0", &l.host);
    l.host_bits = 22;
    l.cls = FS_AC_HOST_SWEEP;
    l.kind = FS_NETGEN_ATTACK;
    l.start_ms = 1000;
    l.end_ms = 2000;
    strcpy(l.name, "sweep");
    cr_assert_gt(fs_netgen_label_json(&l, buf, sizeof(buf)), 0);
    cr_expect_str_eq(buf, "{\"class\":\"host_sweep\",\"host\":\"10.10.4.0/22\",\"start_ms\":"
                          "1000,\"end_ms\":2000,\"kind\":\"attack\",\"name\":\"sweep\"}");
    fs_ip in, out;
    fs_ip_parse("10.10.7.255", &in);
    fs_ip_parse("10.10.8.0", &out);
    cr_expect(fs_netgen_label_host_match(&l, &in));
    cr_expect_not(fs_netgen_label_host_match(&l, &out));

    fs_ip_parse("10.10.1.5", &l.host);
    l.host_bits = 32;
    fs_ip_parse("203.0.113.9", &l.peer);
    l.kind = FS_NETGEN_BENIGN;
    l.optional = true;
    cr_assert_gt(fs_netgen_label_json(&l, buf, sizeof(buf)), 0);
    cr_expect_str_eq(buf, "{\"class\":\"host_sweep\",\"host\":\"10.10.1.5\",\"peer\":"
                          "\"203.0.113.9\",\"start_ms\":1000,\"end_ms\":2000,\"kind\":"
                          "\"benign\",\"name\":\"sweep\",\"optional\":true}");
    cr_expect_eq(fs_netgen_label_json(&l, buf, 20), -1);
}

/* ------------------------------------------------------------------ */
/* The attacks carry what docs/detection.md says they do. */

struct measure {
    uint64_t flows, bytes_out, conns;
    uint32_t addrs[4096];   /* distinct peer addresses */
    size_t naddrs;
    uint16_t ports[2048];   /* distinct destination ports */
    size_t nports;
    uint64_t first, last;
    uint64_t starts[4096];  /* connection start times, host to peer */
    size_t nstarts;
};

static void add_distinct32(uint32_t *v, size_t *n, size_t cap, uint32_t x)
{
    for (size_t i = 0; i < *n; i++)
        if (v[i] == x)
            return;
    if (*n < cap)
        v[(*n)++] = x;
}

/* Flows of the label's span that go from its host (or prefix) to its peer
 * (when set), or, with `inbound`, from anyone to the host; to `port` only,
 * unless it is 0. */
static void measure(const struct run *r, const struct fs_netgen_label *l, bool inbound,
                    uint16_t port, struct measure *m)
{
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < r->n; i++) {
        const struct fs_flow *f = &r->v[i];
        if (f->start_ms < l->start_ms || f->start_ms > l->end_ms)
            continue;
        const fs_ip *me = inbound ? &f->dst_addr : &f->src_addr;
        const fs_ip *other = inbound ? &f->src_addr : &f->dst_addr;
        if (!fs_netgen_label_host_match(l, me))
            continue;
        if (l->peer.af && !same_ip(other, &l->peer))
            continue;
        if (port && f->dst_port != port)
            continue;
        m->flows++;
        m->bytes_out += f->bytes;
        if (f->tcp_flags & 0x02 || f->proto != 6) {
            m->conns++;
            if (m->nstarts < 4096)
                m->starts[m->nstarts++] = f->start_ms;
        }
        add_distinct32(m->addrs, &m->naddrs, 4096, u32(other));
        bool found = false;
        for (size_t k = 0; k < m->nports && !found; k++)
            found = m->ports[k] == f->dst_port;
        if (!found && m->nports < 2048)
            m->ports[m->nports++] = f->dst_port;
        if (!m->first || f->start_ms < m->first)
            m->first = f->start_ms;
        if (f->end_ms > m->last)
            m->last = f->end_ms;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(netgen, attacks_carry_their_traffic, .timeout = 60)
{
    struct fs_netgen_config c = { 0 };
    struct run r;
    struct measure m;
    c.hosts = 120;
    run_all(&c, &r);

    /* slow beacon: every 600 s for two days, 10% of beats missed */
    measure(&r, find_label(r.g, "beacon-slow"), false, 0, &m);
    cr_expect(m.conns > 0.8 * 288 && m.conns < 288, "slow beacon: %llu beats",
              (unsigned long long)m.conns);
    qsort(m.starts, m.nstarts, sizeof(m.starts[0]), cmp_u64);
    uint64_t gaps[512];
    size_t ng = 0;
    for (size_t i = 1; i < m.nstarts && ng < 512; i++)
        gaps[ng++] = m.starts[i] - m.starts[i - 1];
    qsort(gaps, ng, sizeof(gaps[0]), cmp_u64);
    cr_expect(gaps[ng / 2] >= 540000 && gaps[ng / 2] <= 660000, "median gap %llu ms",
              (unsigned long long)gaps[ng / 2]);

    measure(&r, find_label(r.g, "beacon-fast"), false, 0, &m);
    cr_expect(m.conns > 0.9 * 360 && m.conns <= 362, "fast beacon: %llu beats",
              (unsigned long long)m.conns);

    measure(&r, find_label(r.g, "exfil-burst"), false, 0, &m);
    cr_expect(fabs((double)m.bytes_out - 4e9) < 0.05 * 4e9, "burst sent %llu bytes",
              (unsigned long long)m.bytes_out);
    cr_expect_leq(m.last - m.first, 41 * 60000ull);

    measure(&r, find_label(r.g, "exfil-drip"), false, 0, &m);
    cr_expect(m.bytes_out > 120e6 && m.bytes_out < 180e6, "drip sent %llu bytes",
              (unsigned long long)m.bytes_out);
    cr_expect_geq(m.last - m.first, 7 * HOUR_MS, "a drip lasts hours");

    measure(&r, find_label(r.g, "port-scan"), false, 0, &m);
    cr_expect_geq(m.nports, 1000, "vertical scan touched %zu ports", m.nports);

    measure(&r, find_label(r.g, "sweep-fast"), false, 0, &m);
    cr_expect_geq(m.naddrs, 400, "fast sweep reached %zu addresses", m.naddrs);
    cr_expect_leq(m.last - m.first, 5 * 60000ull);

    measure(&r, find_label(r.g, "sweep-slow"), false, 0, &m);
    cr_expect_geq(m.naddrs, 240, "slow sweep reached %zu addresses", m.naddrs);
    cr_expect_geq(m.last - m.first, 5 * HOUR_MS);

    const struct fs_netgen_label *sd = find_label(r.g, "sweep-distributed");
    measure(&r, sd, true, 0, &m);
    cr_expect_geq(m.naddrs, 50, "distributed sweep came from %zu sources", m.naddrs);
    cr_expect_geq(m.flows, 900);

    measure(&r, find_label(r.g, "lateral"), false, 0, &m);
    size_t internal_peers = 0;
    for (size_t i = 0; i < m.naddrs; i++)
        internal_peers += (m.addrs[i] >> 16) == 0x0a0a;
    cr_expect_geq(internal_peers, 25, "lateral movement reached %zu hosts", internal_peers);

    measure(&r, find_label(r.g, "ddos"), true, 0, &m);
    cr_expect_geq(m.naddrs, 1500, "flood from %zu sources", m.naddrs);

    measure(&r, find_label(r.g, "dns-volume"), false, 0, &m);
    cr_expect_geq(m.flows, 15000, "tunnel made %llu queries", (unsigned long long)m.flows);

    measure(&r, find_label(r.g, "dns-rogue"), false, 0, &m);
    cr_expect_geq(m.flows, 1300);
    cr_expect_eq(m.ports[0], 53);

    const struct fs_netgen_label *bx = find_label(r.g, "brute-ssh");
    measure(&r, bx, true, 0, &m); /* the attacker is the peer, the bastion the host */
    cr_expect_geq(m.conns, 1700, "ssh guesses: %llu", (unsigned long long)m.conns);

    measure(&r, find_label(r.g, "brute-rdp"), false, 3389, &m);
    cr_expect_geq(m.conns, 480, "rdp guesses: %llu", (unsigned long long)m.conns);

    measure(&r, find_label(r.g, "new-port"), false, 0, &m);
    cr_expect_eq(m.nports, 1);
    cr_expect_eq(m.ports[0], 4444);

    const struct fs_netgen_label *nq = find_label(r.g, "new-protocol");
    size_t gre = 0, gre_before = 0;
    for (size_t i = 0; i < r.n; i++) {
        if (r.v[i].proto != 47)
            continue;
        gre++;
        gre_before += r.v[i].start_ms < nq->start_ms;
    }
    cr_expect_gt(gre, 0);
    cr_expect_eq(gre_before, 0, "GRE before the attack: not new");
    run_free(&r);
}

/* The benign look-alikes happen as described: backups every night at
 * 02:00 moving gigabytes inside, the scanner every night at 01:00. */
Test(netgen, benign_traps_are_there, .timeout = 60)
{
    struct fs_netgen_config c = small_cfg(11);
    struct run r;
    run_all(&c, &r);
    const struct fs_netgen_net *net = fs_netgen_net(r.g);
    uint64_t backup[4] = { 0 }, scans[4] = { 0 };

    for (size_t i = 0; i < r.n; i++) {
        const struct fs_flow *f = &r.v[i];
        unsigned day = (unsigned)((f->start_ms - FS_NETGEN_DEFAULT_START_MS) / DAY_MS);
        unsigned hod = (unsigned)((f->start_ms - FS_NETGEN_DEFAULT_START_MS) % DAY_MS / HOUR_MS);
        if (same_ip(&f->dst_addr, &net->backup) && f->dst_port == 9103) {
            cr_expect_eq(hod, 2, "backup outside 02:00");
            backup[day] += f->bytes;
        }
        /* its probes: SYNs (not SYN-ACKs) and echo requests */
        bool syn = f->proto == 6 && (f->tcp_flags & 0x12) == 0x02;
        bool echo = f->proto == 1 && f->dst_port == 8 << 8;
        if (same_ip(&f->src_addr, &net->scanner) && (syn || echo)) {
            cr_expect_eq(hod, 1, "scanner outside 01:00");
            scans[day]++;
        }
    }
    for (unsigned d = 0; d < 4; d++) {
        cr_expect_gt(backup[d], 30e9, "day %u backed up %llu bytes", d,
                     (unsigned long long)backup[d]);
        cr_expect_gt(scans[d], 200, "day %u scanner probes %llu", d,
                     (unsigned long long)scans[d]);
    }
    run_free(&r);
}

/* ------------------------------------------------------------------ */
/* The JSON lines are what the collector prints for the same flows sent
 * over IPFIX by an unsampled exporter. */

struct sink {
    struct fs_flow *v;
    size_t n, cap;
};

static void sink_fn(void *arg, const struct fs_flow *flows, size_t n)
{
    struct sink *s = arg;
    cr_assert_leq(s->n + n, s->cap);
    memcpy(s->v + s->n, flows, n * sizeof(*flows));
    s->n += n;
}

/* Encodes `n` flows as IPFIX datagrams with tools/lib/flowgen; calls `fn`
 * for each. */
static void encode_ipfix(const struct fs_flow *flows, size_t n,
                         void (*fn)(void *arg, const uint8_t *buf, size_t len), void *arg)
{
    struct fs_gen_config gc = { 0 };
    uint8_t buf[1500];
    gc.version = 10;
    gc.domain = 1;
    struct fs_gen *gen = fs_gen_new(&gc);
    cr_assert_not_null(gen);
    for (size_t i = 0; i < n;) {
        size_t used = 0;
        int len = fs_gen_encode(gen, flows + i, n - i, flows[i].end_ms + 1000, buf,
                                sizeof(buf), &used);
        cr_assert_gt(len, 0);
        cr_assert_gt(used, 0);
        fn(arg, buf, (size_t)len);
        i += used;
    }
    fs_gen_free(gen);
}

struct decode_arg {
    struct fs_decoder *d;
    fs_ip exporter;
    struct sink *s;
};

static void decode_one(void *arg, const uint8_t *buf, size_t len)
{
    struct decode_arg *a = arg;
    cr_assert_geq(fs_decode(a->d, &a->exporter, 0, buf, len, sink_fn, a->s), 0);
}

Test(netgen, json_is_what_the_collector_prints)
{
    struct fs_netgen_config c = small_cfg(9);
    struct fs_netgen *g = fs_netgen_new(&c);
    struct fs_decoder_config dc = { 0 };
    const struct fs_flow *flows;
    long n;
    size_t checked = 0;
    dc.default_sampling = 1; /* collector --sampling-default 1 */

    /* a few batches: night, morning, office hours */
    for (int batch = 0; batch < 12 && (n = fs_netgen_next(g, &flows)) > 0; batch++) {
        if (batch % 4 != 0 && batch != 11)
            continue;
        struct fs_decoder *d = fs_decoder_new(&dc);
        struct sink s = { calloc((size_t)n, sizeof(struct fs_flow)), 0, (size_t)n };
        struct decode_arg a = { d, fs_netgen_net(g)->exporter, &s };
        encode_ipfix(flows, (size_t)n, decode_one, &a);
        cr_assert_eq(s.n, (size_t)n);
        for (long i = 0; i < n; i++) {
            char want[FS_FLOW_JSON_MAX], got[FS_FLOW_JSON_MAX];
            cr_assert_gt(fs_flow_json(&flows[i], want, sizeof(want)), 0);
            cr_assert_gt(fs_flow_json(&s.v[i], got, sizeof(got)), 0);
            cr_assert_str_eq(got, want, "flow %ld", i);
        }
        checked += (size_t)n;
        free(s.v);
        fs_decoder_free(d);
    }
    cr_expect_gt(checked, 500);
    fs_netgen_free(g);
}

/* ------------------------------------------------------------------ */
/* The CSV rows are what nfdump 1.7 prints for the same flows. */

static bool have(const char *path)
{
    return access(path, X_OK) == 0;
}

struct udp_arg {
    int fd;
    struct sockaddr_in to;
};

static void send_one(void *arg, const uint8_t *buf, size_t len)
{
    struct udp_arg *u = arg;
    cr_assert_eq(sendto(u->fd, buf, len, 0, (struct sockaddr *)&u->to, sizeof(u->to)),
                 (ssize_t)len);
    usleep(2000); /* nfcapd reads one datagram at a time */
}

/*
 * Flows only a hand-built IPFIX message can carry (flowgen's template has
 * none of these fields): MACs, VLANs, MPLS, direction, BGP next hop, IPv6
 * with a next hop, ICMP with the type in the source port, a protocol past
 * nfdump's name table, counters past 32 bits, milliseconds in the times.
 */
static void odd_message(struct tw_buf *w)
{
    tw_ipfix(w, 1709550000, 0, 7);
    tw_set(w, 2);
    TW_TPL(w, 256, { 8, 4 }, { 12, 4 }, { 7, 2 }, { 11, 2 }, { 4, 1 }, { 5, 1 }, { 6, 1 },
           { 2, 8 }, { 1, 8 }, { 152, 8 }, { 153, 8 }, { 10, 4 }, { 14, 4 }, { 15, 4 },
           { 18, 4 }, { 16, 4 }, { 17, 4 }, { 9, 1 }, { 13, 1 }, { 56, 6 }, { 80, 6 },
           { 58, 2 }, { 59, 2 }, { 61, 1 }, { 70, 3 }, { 71, 3 });
    TW_TPL(w, 257, { 27, 16 }, { 28, 16 }, { 7, 2 }, { 11, 2 }, { 4, 1 }, { 6, 1 }, { 2, 8 },
           { 1, 8 }, { 152, 8 }, { 153, 8 }, { 62, 16 });
    TW_TPL(w, 258, { 27, 16 }, { 28, 16 }, { 4, 1 }, { 2, 8 }, { 1, 8 }, { 152, 8 }, { 153, 8 },
           { 62, 16 }, { 63, 16 });
    TW_TPL(w, 259, { 27, 16 }, { 28, 16 }, { 4, 1 }, { 2, 8 }, { 1, 8 }, { 152, 8 }, { 153, 8 },
           { 63, 16 });
    tw_set_end(w);
    tw_set(w, 256);
    static const uint8_t m1[6] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55 };
    static const uint8_t m2[6] = { 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
    const struct {
        const char *src, *dst;
        uint16_t sp, dp;
        uint8_t proto, flags;
        uint64_t pkts, bytes, start, end;
    } rec[] = {
        { "10.0.3.1", "10.0.3.2", 4000, 22, 6, 0x12, 10, 1000, 1709545200123, 1709545200223 },
        { "10.0.3.1", "10.0.3.2", 0x0303, 0, 1, 0, 1, 84, 1709545201999, 1709545202001 },
        { "10.0.3.1", "10.0.3.2", 1000, 2000, 200, 0xff, 5000000000ull, 7000000000000ull,
          1709545202500, 1709548802501 },
    };
    for (size_t i = 0; i < sizeof(rec) / sizeof(rec[0]); i++) {
        tw_ip(w, rec[i].src);
        tw_ip(w, rec[i].dst);
        tw_u16(w, rec[i].sp);
        tw_u16(w, rec[i].dp);
        tw_u8(w, rec[i].proto);
        tw_u8(w, 0x28);
        tw_u8(w, rec[i].flags);
        tw_u64(w, rec[i].pkts);
        tw_u64(w, rec[i].bytes);
        tw_u64(w, rec[i].start);
        tw_u64(w, rec[i].end);
        tw_u32(w, 5);
        tw_u32(w, 7);
        tw_ip(w, "10.0.3.254");
        tw_ip(w, "192.0.2.9");
        tw_u32(w, 65001);
        tw_u32(w, 4200000000u);
        tw_u8(w, 24);
        tw_u8(w, 16);
        tw_bytes(w, m1, 6);
        tw_bytes(w, m2, 6);
        tw_u16(w, 100);
        tw_u16(w, 200);
        tw_u8(w, 1);
        tw_u24(w, 0x012344); /* not the bottom of the stack */
        tw_u24(w, 0xfffff1);
    }
    tw_set_end(w);
    tw_set(w, 257);
    tw_ip(w, "2001:db8::1");
    tw_ip(w, "2001:db8::2");
    tw_u16(w, 5000);
    tw_u16(w, 443);
    tw_u8(w, 6);
    tw_u8(w, 0x1b);
    tw_u64(w, 4);
    tw_u64(w, 400);
    tw_u64(w, 1709545200000);
    tw_u64(w, 1709545200010);
    tw_ip(w, "2001:db8::fe");
    tw_set_end(w);
    for (uint16_t tpl = 258; tpl <= 259; tpl++) {
        tw_set(w, tpl);
        tw_ip(w, "2001:db8::3");
        tw_ip(w, "2001:db8::4");
        tw_u8(w, 17);
        tw_u64(w, 1);
        tw_u64(w, 100);
        tw_u64(w, 1709545200000);
        tw_u64(w, 1709545200000);
        if (tpl == 258)
            tw_ip(w, "2001:db8::fe");
        tw_ip(w, "2001:db8::fd");
        tw_set_end(w);
    }
    tw_end(w);
}

/* Splits `text` into lines (in place). */
static size_t lines(char *text, char **v, size_t cap)
{
    size_t n = 0;
    for (char *p = strtok(text, "\n"); p && n < cap; p = strtok(NULL, "\n"))
        v[n++] = p;
    return n;
}

/* A row without its last column (tr, the time nfcapd received the flow). */
static void drop_tr(char *row)
{
    char *comma = strrchr(row, ',');
    if (comma)
        *comma = '\0';
}

/* A test's directory and nfcapd, when started: cleaned up however the
 * test ends. */
static pid_t capd_pid;
static char test_dir[128];

static void cleanup(void)
{
    int status;
    if (capd_pid > 0)
        fs_proc_stop(capd_pid, SIGTERM, 10000, &status);
    capd_pid = 0;
    if (test_dir[0])
        fs_rmtree(test_dir);
    test_dir[0] = '\0';
}

Test(netgen, csv_is_what_nfdump_prints, .timeout = 60, .fini = cleanup)
{
    if (!have("/usr/bin/nfcapd") || !have("/usr/bin/nfdump"))
        cr_skip_test("nfdump is not installed (tools/deps.sh installs it)");

    char *dir = test_dir, port[16];
    cr_assert_not_null(fs_tmpdir(test_dir, sizeof(test_dir)));
    int p = fs_free_port(AF_INET, SOCK_DGRAM);
    cr_assert_gt(p, 0);
    snprintf(port, sizeof(port), "%d", p);
    char *capd[] = { "/usr/bin/nfcapd", "-b", "127.0.0.1", "-p", port, "-w", dir, "-t", "3600",
                     NULL };
    pid_t pid = capd_pid = fs_proc_spawn(capd, NULL, NULL);
    cr_assert_gt(pid, 0);
    usleep(500000);

    /* Flows of the generator's first office hours, from 127.0.0.1 as nfcapd
     * will see them, and the odd ones. */
    struct fs_netgen_config c = small_cfg(13);
    struct fs_netgen *g = fs_netgen_new(&c);
    const struct fs_flow *flows;
    struct fs_flow *mine = calloc(4000, sizeof(*mine));
    size_t n = 0;
    long got;
    while (n < 1500 && (got = fs_netgen_next(g, &flows)) > 0) {
        size_t take = (size_t)got < 300 ? (size_t)got : 300;
        memcpy(mine + n, flows, take * sizeof(*flows));
        n += take;
    }
    fs_ip lo;
    fs_ip_parse("127.0.0.1", &lo);
    for (size_t i = 0; i < n; i++)
        mine[i].exporter = lo;

    struct udp_arg u = { socket(AF_INET, SOCK_DGRAM, 0), { 0 } };
    u.to.sin_family = AF_INET;
    u.to.sin_port = htons((uint16_t)p);
    u.to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_geq(u.fd, 0);
    encode_ipfix(mine, n, send_one, &u);

    struct tw_buf *w = calloc(1, sizeof(*w));
    struct sink s = { mine + n, 0, 16 };
    struct fs_decoder *d = fs_decoder_new(NULL);
    odd_message(w);
    send_one(&u, w->b, w->len);
    cr_assert_eq(fs_decode(d, &lo, 0, w->b, w->len, sink_fn, &s), 6);
    n += s.n;
    close(u.fd);
    usleep(300000);
    int status;
    capd_pid = 0;
    cr_assert_eq(fs_proc_stop(pid, SIGTERM, 10000, &status), 0, "nfcapd did not stop");

    /* nfdump prints local time: ask for UTC, as the writer writes. */
    setenv("TZ", "UTC", 1);
    char *dump[] = { "/usr/bin/nfdump", "-R", dir, "-o", "csv", NULL };
    struct fs_proc_output o;
    cr_assert_eq(fs_proc_run(dump, 30000, &o), 0);
    cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "nfdump: %s", o.err);

    char **row = calloc(n + 16, sizeof(*row));
    size_t nrows = lines(o.out, row, n + 16);
    cr_assert_eq(nrows, n + 4, "nfdump printed %zu lines for %zu flows", nrows, n);
    cr_expect_str_eq(row[0], fs_nfcsv_write_header);

    struct fs_nfcsv_write_totals tot = { 0 };
    for (size_t i = 0; i < n; i++) {
        char mine_row[FS_NFCSV_WRITE_ROW_MAX];
        /* nfdump numbers exporters (address and domain) as it meets them */
        uint32_t exid = mine[i].domain == 7 ? 2 : 1;
        cr_assert_gt(fs_nfcsv_write_row(&mine[i], exid, 0, mine_row, sizeof(mine_row)), 0);
        drop_tr(mine_row);
        drop_tr(row[1 + i]);
        cr_assert_str_eq(mine_row, row[1 + i], "flow %zu:\n mine   %s\n nfdump %s", i,
                         mine_row, row[1 + i]);
        fs_nfcsv_write_count(&tot, &mine[i]);
    }
    char summary[FS_NFCSV_WRITE_SUMMARY_MAX], want[FS_NFCSV_WRITE_SUMMARY_MAX];
    cr_assert_gt(fs_nfcsv_write_summary(&tot, summary, sizeof(summary)), 0);
    snprintf(want, sizeof(want), "%s\n%s\n%s\n", row[n + 1], row[n + 2], row[n + 3]);
    cr_expect_str_eq(summary, want);

    free(row);
    fs_proc_output_free(&o);
    fs_decoder_free(d);
    free(w);
    free(mine);
    fs_netgen_free(g);
}

Test(netgen, csv_summary_without_span)
{
    struct fs_nfcsv_write_totals t = { 0 };
    char buf[FS_NFCSV_WRITE_SUMMARY_MAX];
    cr_assert_gt(fs_nfcsv_write_summary(&t, buf, sizeof(buf)), 0);
    cr_expect_str_eq(buf, "Summary\nflows,bytes,packets,avg_bps,avg_pps,avg_bpp\n0,0,0,0,0,0\n");
    struct fs_flow f;
    fs_flow_init(&f);
    FS_FLOW_SET(&f, FS_F_BYTES);
    FS_FLOW_SET(&f, FS_F_PACKETS);
    FS_FLOW_SET(&f, FS_F_START);
    FS_FLOW_SET(&f, FS_F_END);
    f.bytes = 1000;
    f.packets = 3;
    f.start_ms = f.end_ms = 5000;
    fs_nfcsv_write_count(&t, &f);
    cr_assert_gt(fs_nfcsv_write_summary(&t, buf, sizeof(buf)), 0);
    /* nfdump gives no rates at all when the span is zero */
    cr_expect_str_eq(buf, "Summary\nflows,bytes,packets,avg_bps,avg_pps,avg_bpp\n1,1000,3,0,0,0\n");
    cr_expect_eq(fs_nfcsv_write_summary(&t, buf, 10), -1);
}

/* ------------------------------------------------------------------ */
/* tools/score-detections on a hand-made case, its numbers worked out by
 * hand below. */

static void write_file(const char *file, const char *text)
{
    FILE *fp = fopen(file, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static json_t *class_row(json_t *report, const char *cls)
{
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(report, "classes"), i, row)
        if (strcmp(json_string_value(json_object_get(row, "class")), cls) == 0)
            return row;
    cr_assert_fail("no row for %s", cls);
    return NULL;
}

static double jnum(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_number(v), "%s is not a number", key);
    return json_number_value(v);
}

Test(netgen, score_detections, .fini = cleanup)
{
    if (!have("/usr/bin/jq"))
        cr_skip_test("jq is not installed (tools/deps.sh installs it)");
    char *dir = test_dir, labels[256], alerts[256], script[256];
    cr_assert_not_null(fs_tmpdir(test_dir, sizeof(test_dir)));
    snprintf(labels, sizeof(labels), "%s/labels.json", dir);
    snprintf(alerts, sizeof(alerts), "%s/alerts.json", dir);
    snprintf(script, sizeof(script), "%s/tools/score-detections", FS_SOURCE_DIR);

    /* Ten days (the antivirus label spans them). Attacks on days 8 and 9:
     * days 0-7 are clean. */
    write_file(labels,
        "{\"class\":\"beaconing\",\"host\":\"10.10.0.0/16\",\"peer\":\"1.2.3.4\",\"start_ms\":0,"
        "\"end_ms\":864000000,\"kind\":\"benign\",\"name\":\"antivirus\"}\n"
        "{\"class\":\"beaconing\",\"host\":\"10.10.2.76\",\"peer\":\"5.6.7.8\",\"start_ms\":"
        "691200000,\"end_ms\":777600000,\"kind\":\"attack\",\"name\":\"beacon\"}\n"
        "{\"class\":\"host_sweep\",\"host\":\"10.10.0.0/22\",\"start_ms\":700000000,\"end_ms\":"
        "710000000,\"kind\":\"attack\",\"name\":\"sweep\"}\n"
        "{\"class\":\"ddos\",\"host\":\"10.10.0.40\",\"start_ms\":720000000,\"end_ms\":721000000,"
        "\"kind\":\"attack\",\"name\":\"ddos\"}\n"
        "{\"class\":\"dns_tunnel\",\"host\":\"10.10.0.10\",\"start_ms\":730000000,\"end_ms\":"
        "731000000,\"kind\":\"attack\",\"name\":\"relay\",\"optional\":true}\n");
    write_file(alerts,
        /* true: the beacon, host and peer */
        "{\"ts\":700000000,\"end_ms\":700300000,\"host\":\"10.10.2.76\",\"peer\":\"5.6.7.8\","
        "\"class\":\"beaconing\"}\n"
        /* true: inside the sweep's /22 */
        "{\"ts\":705000000,\"end_ms\":705300000,\"host\":\"10.10.3.9\",\"class\":\"host_sweep\"}\n"
        /* related: the flood's host, another class; the flood itself is missed */
        "{\"ts\":720000000,\"end_ms\":720300000,\"host\":\"10.10.0.40\","
        "\"class\":\"volume_spike\"}\n"
        /* false, day 1, in the antivirus trap */
        "{\"ts\":100000000,\"end_ms\":100300000,\"host\":\"10.10.1.20\",\"peer\":\"1.2.3.4\","
        "\"class\":\"beaconing\"}\n"
        /* false, day 2 */
        "{\"ts\":200000000,\"end_ms\":200300000,\"host\":\"10.10.1.21\",\"class\":\"new_port\"}\n"
        /* true for the optional relay label */
        "{\"ts\":730000000,\"end_ms\":730300000,\"host\":\"10.10.0.10\",\"class\":\"dns_tunnel\"}\n"
        /* wrong peer: not the beacon; day 8 is not clean */
        "{\"ts\":700000000,\"end_ms\":700300000,\"host\":\"10.10.2.76\",\"peer\":\"9.9.9.9\","
        "\"class\":\"beaconing\"}\n");

    char *argv[] = { script, "--json", alerts, labels, NULL };
    struct fs_proc_output o;
    cr_assert_eq(fs_proc_run(argv, 30000, &o), 0);
    cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "%s", o.err);
    json_error_t err;
    json_t *r = json_loads(o.out, 0, &err);
    cr_assert_not_null(r, "%s", err.text);

    json_t *t = json_object_get(r, "total");
    cr_expect_eq(jnum(t, "attacks"), 3);     /* the optional relay is not counted */
    cr_expect_eq(jnum(t, "found"), 2);
    cr_expect_eq(jnum(t, "alerts"), 7);
    cr_expect_eq(jnum(t, "true"), 3);
    cr_expect_eq(jnum(t, "related"), 2);     /* the spike, and the wrong-peer beacon */
    cr_expect_eq(jnum(t, "false"), 2);
    cr_expect_eq(jnum(t, "traps"), 1);
    cr_expect_eq(jnum(t, "false_per_clean_day"), 0.25); /* 2 over days 0-7 */
    cr_expect_eq(json_array_size(json_object_get(r, "clean_days")), 8);
    json_t *b = class_row(r, "beaconing");
    cr_expect_eq(jnum(b, "recall"), 1);
    cr_expect_eq(jnum(b, "precision"), 0.667); /* 2 of 3 point at the attack */
    json_t *d = class_row(r, "ddos");
    cr_expect_eq(jnum(d, "recall"), 0);
    json_t *missed = json_object_get(r, "missed");
    cr_assert_eq(json_array_size(missed), 1);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(missed, 0), "name")),
                     "ddos");
    json_decref(r);
    fs_proc_output_free(&o);

    /* --from-day 3 leaves days 3-7 clean: no false alert there */
    char *argv2[] = { script, "--json", "--from-day", "3", alerts, labels, NULL };
    cr_assert_eq(fs_proc_run(argv2, 30000, &o), 0);
    r = json_loads(o.out, 0, &err);
    cr_assert_not_null(r, "%s", err.text);
    cr_expect_eq(jnum(json_object_get(r, "total"), "false_per_clean_day"), 0);
    json_decref(r);
    fs_proc_output_free(&o);

    char *bad[] = { script, alerts, NULL };
    cr_assert_eq(fs_proc_run(bad, 30000, &o), 0);
    cr_expect_eq(WEXITSTATUS(o.status), 2, "one file only: usage");
    fs_proc_output_free(&o);
}
