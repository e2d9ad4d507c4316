/*
 * det_newport.c - new_port: an internal host using a service it never used
 * before - listening on a new port that outside clients really talk to, or
 * calling out to a port, or over an IP protocol, it never called - which few
 * other hosts of the network use either.
 *
 * Services. A flow with payload (connection attempts carry none, so scans
 * and floods teach and trigger nothing) is attributed to its internal ends:
 * for TCP, UDP, SCTP and DCCP the lower of the two ports is the service
 * (clients use ephemeral ports), its side the server, the other the client;
 * a service port at or above `ephemeral_min` (both ends ephemeral: media,
 * peer-to-peer) is ignored. The server side counts only for clients from
 * outside (an exposed listener) unless `server_internal_clients` = 1: inside
 * the network a host that starts serving SMB or RDP to a colleague is what
 * lateral_movement judges. Other IP protocols (GRE, ESP, IP-in-IP, ...) are
 * a service of their own, port 0, for both ends; ICMP and IGMP are not
 * services (protocol_anomaly watches ICMP volumes).
 *
 * Learning. Per host, the (protocol, port, role) services it used are kept
 * in a 512-bit Bloom filter (k = 3: under 1% false hits up to 40 services;
 * a false hit only hides a new service). During the warm-up every service
 * used is learned; afterwards a service not in the filter is a candidate
 * that must carry `min_bytes` of payload in `min_flows` flows (a candidate
 * idle for a day is forgotten).
 * Then it is reported unless it is common - used by at least `common_hosts`
 * internal hosts in the same role - or the host itself is younger than
 * `host_learn` (a host new to the network first learns like everyone did),
 * or it is allowlisted. Either way the service is learned: one finding per
 * (host, service), and at most `max_per_day` per host and day (the rest are
 * counted as flood_suppressed).
 *
 * The score is 50 at `min_bytes` and grows by 15 per tenfold more payload,
 * up to 80; a new listener reached from outside adds 10.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detutil.h"
#include "dtab.h"
#include "log.h"
#include "sketch.h"

#define DET "new_port"
#define BLOOM_WORDS 8            /* 512 bits */
#define BLOOM_BITS (BLOOM_WORDS * 64)
#define BLOOM_K 3
#define BLOOM_COMFORT 40         /* services up to which false hits stay below 1% */
#define MAX_COMMON 16            /* hosts remembered per service */
#define DAY_MS 86400000ull
#define SNAP_MAGIC 0x46534e50u   /* "FSNP" */
#define SNAP_VERSION 1u

enum role { ROLE_CLIENT = 0, ROLE_SERVER, ROLE_PROTO };
enum { ALLOW_UNKNOWN = 0, ALLOW_NO, ALLOW_YES };

static const char *const role_metric[3] = { "new_client_port", "new_server_port",
                                            "new_protocol" };

struct np_cfg {
    uint32_t max_hosts, max_candidates, max_services;
    double min_bytes, min_flows;
    unsigned common_hosts, max_per_day;
    uint64_t host_learn_ms;
    uint16_t ephemeral_min;
    bool server_internal_clients;
};

struct nhost {
    uint64_t first_ms;           /* first flow with payload */
    uint64_t bloom[BLOOM_WORDS];
    uint32_t services;           /* learned */
    uint64_t day;                /* of alerts_day */
    uint8_t alerts_day;
    uint8_t allowed;
};

struct cand_key {
    fs_ip host;
    uint8_t proto;
    uint16_t port;
    uint8_t role;
    uint8_t zero;
};
_Static_assert(sizeof(struct cand_key) == sizeof(fs_ip) + 5, "cand_key has padding");

/* A service not (yet) learned: its traffic since it first showed. */
struct cand {
    uint64_t first_ms, last_ms;
    uint64_t bytes, flows;
    fs_ip peer;                  /* the first peer */
};

struct svc_key {
    uint8_t proto, role;
    uint16_t port;
};

/* Network prevalence of a service: the hosts that use it, up to MAX_COMMON. */
struct svc {
    uint32_t host[MAX_COMMON];   /* top 32 bits of the address hash */
    uint8_t n;
};

struct newport {
    struct np_cfg cfg;
    struct fs_dtab *hosts, *cands, *services;
    uint64_t flood_suppressed, crowded, learned;
};

static void read_cfg(struct fs_an_ctx *c, struct np_cfg *g)
{
    g->max_hosts = (uint32_t)fs_det_param(c, DET, "max_hosts", 16384, 16, 16777216);
    g->max_candidates = (uint32_t)fs_det_param(c, DET, "max_candidates", 16384, 64, 16777216);
    g->max_services = (uint32_t)fs_det_param(c, DET, "max_services", 16384, 64, 16777216);
    g->min_bytes = fs_det_param(c, DET, "min_bytes", 10000, 1, 1e15);
    g->min_flows = fs_det_param(c, DET, "min_flows", 2, 1, 1e9);
    g->common_hosts = (unsigned)fs_det_param(c, DET, "common_hosts", 3, 1, MAX_COMMON);
    g->max_per_day = (unsigned)fs_det_param(c, DET, "max_per_day", 5, 1, 255);
    g->host_learn_ms =
        (uint64_t)(fs_det_param(c, DET, "host_learn", 86400, 0, 365 * 86400) * 1000.0);
    g->ephemeral_min = (uint16_t)fs_det_param(c, DET, "ephemeral_min", 32768, 1024, 65535);
    g->server_internal_clients = fs_det_param(c, DET, "server_internal_clients", 0, 0, 1) != 0;
}

static void np_destroy(void *st)
{
    struct newport *n = st;

    if (!n)
        return;
    fs_dtab_free(n->hosts);
    fs_dtab_free(n->cands);
    fs_dtab_free(n->services);
    free(n);
}

static void *np_create(struct fs_an_ctx *c)
{
    struct newport *n = calloc(1, sizeof(*n));

    if (!n)
        return NULL;
    read_cfg(c, &n->cfg);
    n->hosts = fs_dtab_new(sizeof(fs_ip), sizeof(struct nhost), n->cfg.max_hosts);
    n->cands = fs_dtab_new(sizeof(struct cand_key), sizeof(struct cand), n->cfg.max_candidates);
    n->services = fs_dtab_new(sizeof(struct svc_key), sizeof(struct svc), n->cfg.max_services);
    if (!n->hosts || !n->cands || !n->services) {
        np_destroy(n);
        return NULL;
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* Bloom filter of a host's services. */

static uint64_t svc_hash(uint8_t proto, uint16_t port, uint8_t role)
{
    return fs_hash_u64((uint64_t)role << 24 | (uint64_t)proto << 16 | port);
}

/* Double hashing (Kirsch and Mitzenmacher): bit i = h1 + i * h2. */
static unsigned bloom_bit(uint64_t h, unsigned i)
{
    uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 32) | 1u;

    return (h1 + i * h2) % BLOOM_BITS;
}

static bool bloom_has(const struct nhost *h, uint64_t hash)
{
    for (unsigned i = 0; i < BLOOM_K; i++) {
        unsigned b = bloom_bit(hash, i);

        if (!((h->bloom[b / 64] >> (b % 64)) & 1u))
            return false;
    }
    return true;
}

static void bloom_add(struct nhost *h, uint64_t hash)
{
    for (unsigned i = 0; i < BLOOM_K; i++) {
        unsigned b = bloom_bit(hash, i);

        h->bloom[b / 64] |= UINT64_C(1) << (b % 64);
    }
}

/* ------------------------------------------------------------------ */
/* The flow path. */

/* One internal end of a flow and the service it used there. */
struct use {
    const fs_ip *host, *peer;
    uint8_t role;
    uint16_t port;
};

static bool has_ports(uint8_t proto)
{
    return proto == 6 || proto == 17 || proto == 132 || proto == 33;
}

static unsigned uses_of(const struct np_cfg *g, const struct fs_an_flow *af, struct use u[2])
{
    const struct fs_flow *f = af->f;
    unsigned n = 0;

    if (f->proto == 1 || f->proto == 58 || f->proto == 2)
        return 0;
    if (!has_ports(f->proto)) {
        if (af->src_internal)
            u[n++] = (struct use){ &f->src_addr, &f->dst_addr, ROLE_PROTO, 0 };
        if (af->dst_internal)
            u[n++] = (struct use){ &f->dst_addr, &f->src_addr, ROLE_PROTO, 0 };
        return n;
    }
    bool src_is_client = f->dst_port <= f->src_port;
    uint16_t port = src_is_client ? f->dst_port : f->src_port;
    bool cli_in = src_is_client ? af->src_internal : af->dst_internal;
    bool srv_in = src_is_client ? af->dst_internal : af->src_internal;
    const fs_ip *cli = src_is_client ? &f->src_addr : &f->dst_addr;
    const fs_ip *srv = src_is_client ? &f->dst_addr : &f->src_addr;

    if (port == 0 || port >= g->ephemeral_min)
        return 0;
    if (cli_in)
        u[n++] = (struct use){ cli, srv, ROLE_CLIENT, port };
    if (srv_in && (!cli_in || g->server_internal_clients))
        u[n++] = (struct use){ srv, cli, ROLE_SERVER, port };
    return n;
}

static void note(struct newport *n, const struct fs_an_flow *af, const struct use *u,
                 uint64_t payload)
{
    const struct fs_flow *f = af->f;
    struct cand_key k;
    bool created;
    struct nhost *h;
    struct cand *cd;

    memset(&k, 0, sizeof(k));
    fs_det_ip(&k.host, u->host);
    if ((h = fs_dtab_put(n->hosts, &k.host, &created)) == NULL)
        return;
    if (created)
        h->first_ms = af->ts_ms;
    k.proto = f->proto;
    k.port = u->port;
    k.role = u->role;
    if (bloom_has(h, svc_hash(k.proto, k.port, k.role)))
        return;
    if ((cd = fs_dtab_put(n->cands, &k, &created)) == NULL)
        return;
    if (created) {
        cd->first_ms = fs_det_start_ms(af);
        fs_det_ip(&cd->peer, u->peer);
    }
    cd->bytes += payload;
    cd->flows++;
    if (af->ts_ms > cd->last_ms)
        cd->last_ms = af->ts_ms;
}

static void np_flow(void *st, struct fs_an_ctx *c, const struct fs_an_flow *af)
{
    struct newport *n = st;
    struct use u[2];
    uint64_t payload;

    (void)c;
    if (af->dir == FS_DIR_TRANSIT || (payload = fs_det_payload(af->f)) < FS_DET_MIN_PAYLOAD)
        return;
    unsigned nu = uses_of(&n->cfg, af, u);

    for (unsigned i = 0; i < nu; i++)
        note(n, af, &u[i], payload);
}

/* ------------------------------------------------------------------ */
/* Window close. */

static void svc_note(struct svc *s, const fs_ip *host)
{
    uint32_t id = (uint32_t)(fs_hash_ip(host) >> 32);

    for (unsigned i = 0; i < s->n; i++)
        if (s->host[i] == id)
            return;
    if (s->n < MAX_COMMON)
        s->host[s->n++] = id;
}

static void learn(struct newport *n, struct nhost *h, const struct cand_key *k, struct svc *s)
{
    bloom_add(h, svc_hash(k->proto, k->port, k->role));
    if (++h->services == BLOOM_COMFORT + 1)
        n->crowded++;
    if (s)
        svc_note(s, &k->host);
    n->learned++;
}

static void report(struct newport *n, struct fs_an_ctx *c, const struct fs_an_window *w,
                   const struct cand_key *k, const struct cand *cd, const struct nhost *h,
                   const struct svc *s)
{
    const struct np_cfg *g = &n->cfg;
    struct fs_anomaly a;
    double score = fmin(80.0, 50.0 + 15.0 * log10((double)cd->bytes / g->min_bytes));

    memset(&a, 0, sizeof(a));
    a.ts_ms = cd->first_ms < w->start_ms ? cd->first_ms : w->start_ms;
    a.end_ms = w->end_ms;
    a.host = k->host;
    a.peer = cd->peer;
    a.cls = FS_AC_NEW_PORT;
    a.score = score + (k->role == ROLE_SERVER ? 10.0 : 0.0);
    snprintf(a.metric, sizeof(a.metric), "%s", role_metric[k->role]);
    a.observed = (double)cd->bytes;
    a.expected = 0;
    a.samples = s ? s->n : 0;
    fs_det_top_peer(&a, &cd->peer, cd->bytes);
    fs_det_top_port(&a, k->port, k->proto, cd->bytes);
    fs_anomaly_extra(&a, "role", k->role);
    fs_anomaly_extra(&a, "proto", k->proto);
    fs_anomaly_extra(&a, "port", k->port);
    fs_anomaly_extra(&a, "flows", (double)cd->flows);
    fs_anomaly_extra(&a, "hosts_using", s ? s->n : 0);
    fs_anomaly_extra(&a, "host_age_days", (double)(w->end_ms - h->first_ms) / DAY_MS);
    fs_anomaly_extra(&a, "services_known", h->services);
    fs_an_emit(c, &a);
}

static void judge(struct newport *n, struct fs_an_ctx *c, const struct fs_an_window *w,
                  const struct cand_key *k, const struct cand *cd, struct nhost *h)
{
    const struct np_cfg *g = &n->cfg;
    struct svc_key sk = { .proto = k->proto, .role = k->role, .port = k->port };
    struct svc *s = fs_dtab_put(n->services, &sk, NULL);
    uint64_t day = w->start_ms / DAY_MS;
    bool fresh = w->warm && !(s && s->n >= g->common_hosts) &&
                 h->first_ms + g->host_learn_ms <= w->end_ms;

    if (fresh && h->allowed == ALLOW_UNKNOWN)
        h->allowed = fs_an_allowed(c, DET, &k->host) ? ALLOW_YES : ALLOW_NO;
    if (fresh && h->allowed == ALLOW_NO) {
        if (h->day != day) {
            h->day = day;
            h->alerts_day = 0;
        }
        if (h->alerts_day < g->max_per_day) {
            h->alerts_day++;
            report(n, c, w, k, cd, h, s);
        } else {
            n->flood_suppressed++;
        }
    }
    learn(n, h, k, s);
}

static void np_close(void *st, struct fs_an_ctx *c, const struct fs_an_window *w)
{
    struct newport *n = st;
    const struct np_cfg *g = &n->cfg;
    size_t it = 0;
    const void *key;
    struct cand *cd;

    while ((cd = fs_dtab_next(n->cands, &it, &key))) {
        const struct cand_key *k = key;
        struct nhost *h;

        if (cd->last_ms + DAY_MS < w->end_ms) {
            fs_dtab_del(n->cands, key); /* a day without reaching the minimum */
            continue;
        }
        /* In the warm-up every service used is learned at once. */
        if (w->warm && ((double)cd->bytes < g->min_bytes || (double)cd->flows < g->min_flows))
            continue;
        h = fs_dtab_get(n->hosts, &k->host);
        if (h && !bloom_has(h, svc_hash(k->proto, k->port, k->role)))
            judge(n, c, w, k, cd, h);
        fs_dtab_del(n->cands, key);
    }
}

/* ------------------------------------------------------------------ */
/* Snapshot: hosts' filters and the services' prevalence. */

#define HOST_SNAP_BYTES (17 + 8 + BLOOM_WORDS * 8 + 4)
#define SVC_SNAP_BYTES (4 + 1 + MAX_COMMON * 4)

static int np_save(void *st, FILE *fp)
{
    struct newport *n = st;
    struct fs_buf_w w = { .cap = 8 + (size_t)fs_dtab_count(n->hosts) * HOST_SNAP_BYTES +
                                 (size_t)fs_dtab_count(n->services) * SVC_SNAP_BYTES };
    size_t it = 0;
    const void *key;
    const struct nhost *h;
    const struct svc *s;

    if ((w.p = malloc(w.cap)) == NULL)
        return -1;
    fs_buf_put_u32(&w, fs_dtab_count(n->hosts));
    while ((h = fs_dtab_next(n->hosts, &it, &key))) {
        fs_det_put_ip(&w, key);
        fs_buf_put_u64(&w, h->first_ms);
        for (unsigned i = 0; i < BLOOM_WORDS; i++)
            fs_buf_put_u64(&w, h->bloom[i]);
        fs_buf_put_u32(&w, h->services);
    }
    fs_buf_put_u32(&w, fs_dtab_count(n->services));
    for (it = 0; (s = fs_dtab_next(n->services, &it, &key));) {
        const struct svc_key *k = key;

        fs_buf_put_u8(&w, k->proto);
        fs_buf_put_u8(&w, k->role);
        fs_buf_put_u16(&w, k->port);
        fs_buf_put_u8(&w, s->n);
        for (unsigned i = 0; i < s->n; i++)
            fs_buf_put_u32(&w, s->host[i]);
    }
    return fs_det_save_blob(fp, SNAP_MAGIC, SNAP_VERSION, &w);
}

static int load_host(struct newport *n, struct fs_buf_r *r)
{
    struct nhost h;
    fs_ip ip;
    bool created;

    memset(&h, 0, sizeof(h));
    if (fs_det_get_ip(r, &ip) < 0)
        return -1;
    h.first_ms = fs_buf_get_u64(r);
    for (unsigned i = 0; i < BLOOM_WORDS; i++)
        h.bloom[i] = fs_buf_get_u64(r);
    h.services = fs_buf_get_u32(r);
    struct nhost *dst = r->err ? NULL : fs_dtab_put(n->hosts, &ip, &created);

    if (!dst || !created)
        return -1;
    *dst = h;
    return 0;
}

static int load_service(struct newport *n, struct fs_buf_r *r)
{
    struct svc_key k;
    struct svc s;
    bool created;

    memset(&s, 0, sizeof(s));
    k.proto = fs_buf_get_u8(r);
    k.role = fs_buf_get_u8(r);
    k.port = fs_buf_get_u16(r);
    s.n = fs_buf_get_u8(r);
    if (r->err || k.role > ROLE_PROTO || s.n > MAX_COMMON)
        return -1;
    for (unsigned i = 0; i < s.n; i++)
        s.host[i] = fs_buf_get_u32(r);
    struct svc *dst = r->err ? NULL : fs_dtab_put(n->services, &k, &created);

    if (!dst || !created)
        return -1;
    *dst = s;
    return 0;
}

static int np_load(void *st, FILE *fp)
{
    struct newport *n = st;
    size_t max = 8 + (size_t)n->cfg.max_hosts * HOST_SNAP_BYTES +
                 (size_t)n->cfg.max_services * SVC_SNAP_BYTES;
    uint8_t *data;
    struct fs_buf_r r;

    if (fs_det_load_blob(fp, DET, SNAP_MAGIC, SNAP_VERSION, max, &data, &r) < 0)
        return -1;
    uint32_t cnt = fs_buf_get_u32(&r);
    int rc = !r.err && cnt <= n->cfg.max_hosts ? 0 : -1;

    for (uint32_t i = 0; i < cnt && rc == 0; i++)
        rc = load_host(n, &r);
    cnt = rc == 0 ? fs_buf_get_u32(&r) : 0;
    if (rc == 0 && (r.err || cnt > n->cfg.max_services))
        rc = -1;
    for (uint32_t i = 0; i < cnt && rc == 0; i++)
        rc = load_service(n, &r);
    if (rc == 0)
        rc = fs_buf_done(&r);
    free(data);
    if (rc < 0) {
        fs_log(FS_LOG_WARNING, "%s: snapshot state refused: bad host or service record", DET);
        fs_dtab_clear(n->hosts);
        fs_dtab_clear(n->services);
    }
    return rc;
}

static void np_counters(void *st, void (*fn)(void *arg, const char *name, uint64_t v), void *arg)
{
    struct newport *n = st;

    fn(arg, "hosts", fs_dtab_count(n->hosts));
    fn(arg, "hosts_evicted", fs_dtab_evictions(n->hosts));
    fn(arg, "candidates", fs_dtab_count(n->cands));
    fn(arg, "candidates_evicted", fs_dtab_evictions(n->cands));
    fn(arg, "services", fs_dtab_count(n->services));
    fn(arg, "services_evicted", fs_dtab_evictions(n->services));
    fn(arg, "learned", n->learned);
    fn(arg, "hosts_crowded", n->crowded);
    fn(arg, "flood_suppressed", n->flood_suppressed);
    fn(arg, "bytes", sizeof(*n) + fs_dtab_bytes(n->hosts) + fs_dtab_bytes(n->cands) +
                         fs_dtab_bytes(n->services));
}

const struct fs_detector fs_det_newport = {
    .name = DET,
    .cls = FS_AC_NEW_PORT,
    .create = np_create,
    .flow = np_flow,
    .window_close = np_close,
    .save = np_save,
    .load = np_load,
    .counters = np_counters,
    .destroy = np_destroy,
};
