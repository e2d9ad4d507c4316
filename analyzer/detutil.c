/*
 * detutil.c - helpers shared by the behaviour detectors (see detutil.h).
 *
 * The connection classification matters to several detectors: a beacon made
 * of SYNs to a dead server is not a beacon, and a brute-force attempt is a
 * connection that completed its handshake. NetFlow gives the OR of the TCP
 * flags seen in the record, which is enough to tell a handshake (SYN and ACK
 * from the client) from a lone SYN or RST, and a later record of a long
 * connection (no SYN) from a new one. Sampled flows rarely hold the SYN, so
 * there the flags only rule out failures.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detutil.h"
#include "dtab.h"
#include "log.h"
#include "sketch.h"

#define TCP_FIN 0x01u
#define TCP_SYN 0x02u
#define TCP_RST 0x04u
#define TCP_ACK 0x10u

uint64_t fs_det_bytes(const struct fs_flow *f)
{
    uint64_t b = FS_FLOW_HAS(f, FS_F_BYTES) ? f->bytes : 0;

    if (FS_FLOW_HAS(f, FS_F_REV_BYTES))
        b += f->rev_bytes;
    return b;
}

uint64_t fs_det_packets(const struct fs_flow *f)
{
    uint64_t p = FS_FLOW_HAS(f, FS_F_PACKETS) ? f->packets : 0;

    if (FS_FLOW_HAS(f, FS_F_REV_PACKETS))
        p += f->rev_packets;
    return p;
}

/* Per-packet header allowance: IP plus transport, with the TCP timestamp
 * option (12 bytes) and 2 bytes of slack, which most stacks send. */
static uint64_t header_bytes(const struct fs_flow *f)
{
    bool v6 = f->src_addr.af == 6;

    switch (f->proto) {
    case 6:
        return v6 ? 74 : 54;
    case 17:
    case 1:
    case 58:
        return v6 ? 48 : 28;
    default:
        return v6 ? 40 : 20;
    }
}

uint64_t fs_det_payload(const struct fs_flow *f)
{
    uint64_t bytes = fs_det_bytes(f), hdr = fs_det_packets(f) * header_bytes(f);

    return bytes > hdr ? bytes - hdr : 0;
}

enum fs_conn_kind fs_det_conn_kind(const struct fs_flow *f)
{
    uint64_t packets = fs_det_packets(f);
    bool sampled = FS_FLOW_HAS(f, FS_F_SAMPLING) && f->sampling_rate > 1;

    if (packets == 0)
        return FS_CONN_FAILED;
    if (f->proto == 6) {
        if (FS_FLOW_HAS(f, FS_F_TCP_FLAGS)) {
            unsigned flags = f->tcp_flags;

            if (FS_FLOW_HAS(f, FS_F_REV_TCP_FLAGS))
                flags |= f->rev_tcp_flags;
            if (!(flags & TCP_ACK))
                return FS_CONN_FAILED;
            if (!(flags & TCP_SYN) && !sampled)
                return FS_CONN_CONTINUED;
        } else if (packets <= 2 && !sampled) {
            return FS_CONN_FAILED; /* a SYN and its retransmission */
        }
    } else if (packets == 1 && !FS_FLOW_HAS(f, FS_F_REV_PACKETS) && fs_det_payload(f) == 0) {
        return FS_CONN_FAILED;
    }
    return fs_det_payload(f) < FS_DET_MIN_PAYLOAD ? FS_CONN_EMPTY : FS_CONN_DATA;
}

uint64_t fs_det_start_ms(const struct fs_an_flow *af)
{
    const struct fs_flow *f = af->f;

    return FS_FLOW_HAS(f, FS_F_START) && f->start_ms ? f->start_ms : af->ts_ms;
}

void fs_det_ip(fs_ip *dst, const fs_ip *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->af = src->af;
    if (src->af == 4)
        memcpy(dst->b, src->b, 4);
    else if (src->af == 6)
        memcpy(dst->b, src->b, 16);
}

double fs_det_param(struct fs_an_ctx *c, const char *det, const char *name, double def,
                    double lo, double hi)
{
    double v = fs_an_param(c, det, name, def);

    if (isfinite(v) && v >= lo && v <= hi)
        return v;
    double fixed = !isfinite(v) || v < lo ? lo : hi;

    fs_log(FS_LOG_WARNING, "setting %s.%s = %g is outside [%g, %g]: using %g", det, name, v, lo,
           hi, fixed);
    return fixed;
}

void fs_det_ports(struct fs_an_ctx *c, const char *det, const char *prefix,
                  const uint16_t *defaults, size_t n, uint8_t bits[FS_DET_PORTS_BYTES])
{
    uint8_t def[FS_DET_PORTS_BYTES];
    char key[32];

    memset(def, 0, sizeof(def));
    for (size_t i = 0; i < n; i++)
        def[defaults[i] >> 3] |= (uint8_t)(1u << (defaults[i] & 7));
    memset(bits, 0, FS_DET_PORTS_BYTES);
    for (unsigned p = 1; p < 65536; p++) {
        snprintf(key, sizeof(key), "%s%u", prefix, p);
        if (fs_an_param(c, det, key, fs_det_port_in(def, (uint16_t)p)) != 0)
            bits[p >> 3] |= (uint8_t)(1u << (p & 7));
    }
}

double fs_det_ramp(double x, double lo, double hi)
{
    if (!(x > lo))
        return 0.0;
    if (x >= hi)
        return 1.0;
    return (x - lo) / (hi - lo);
}

/* Where a candidate of weight `value` goes in a list of n kept heaviest
 * first, capped at FS_ANOMALY_TOP; FS_ANOMALY_TOP when it does not make it. */
static unsigned top_slot(unsigned n, uint64_t value, uint64_t (*weight)(const struct fs_anomaly *, unsigned),
                         const struct fs_anomaly *a)
{
    unsigned i = n;

    while (i > 0 && weight(a, i - 1) < value)
        i--;
    return i;
}

static uint64_t peer_weight(const struct fs_anomaly *a, unsigned i)
{
    return a->top_peers[i].value;
}

static uint64_t port_weight(const struct fs_anomaly *a, unsigned i)
{
    return a->top_ports[i].value;
}

void fs_det_top_peer(struct fs_anomaly *a, const fs_ip *addr, uint64_t value)
{
    unsigned i = top_slot(a->npeers, value, peer_weight, a);

    if (i >= FS_ANOMALY_TOP)
        return;
    unsigned n = a->npeers < FS_ANOMALY_TOP ? a->npeers + 1u : FS_ANOMALY_TOP;

    memmove(&a->top_peers[i + 1], &a->top_peers[i], (n - 1 - i) * sizeof(a->top_peers[0]));
    fs_det_ip(&a->top_peers[i].addr, addr);
    a->top_peers[i].value = value;
    a->npeers = (uint8_t)n;
}

void fs_det_top_port(struct fs_anomaly *a, uint16_t port, uint8_t proto, uint64_t value)
{
    unsigned i = top_slot(a->nports, value, port_weight, a);

    if (i >= FS_ANOMALY_TOP)
        return;
    unsigned n = a->nports < FS_ANOMALY_TOP ? a->nports + 1u : FS_ANOMALY_TOP;

    memmove(&a->top_ports[i + 1], &a->top_ports[i], (n - 1 - i) * sizeof(a->top_ports[0]));
    a->top_ports[i].port = port;
    a->top_ports[i].proto = proto;
    a->top_ports[i].value = value;
    a->nports = (uint8_t)n;
}

void fs_det_put_ip(struct fs_buf_w *w, const fs_ip *ip)
{
    fs_ip n;

    fs_det_ip(&n, ip);
    fs_buf_put_u8(w, n.af);
    fs_buf_put_bytes(w, n.b, sizeof(n.b));
}

int fs_det_get_ip(struct fs_buf_r *r, fs_ip *ip)
{
    fs_ip raw;

    raw.af = fs_buf_get_u8(r);
    fs_buf_get_bytes(r, raw.b, sizeof(raw.b));
    if (r->err || (raw.af != 4 && raw.af != 6)) {
        r->err = true;
        return -1;
    }
    fs_det_ip(ip, &raw);
    return 0;
}

#define DET_REC_TAG 0xd1

int fs_det_save_blob(FILE *fp, uint32_t magic, uint32_t version, struct fs_buf_w *w)
{
    struct fs_buf_w rec = { .cap = w->len + 64 };
    int rc = -1;

    if (w->err)
        goto out;
    rec.p = malloc(rec.cap);
    if (!rec.p)
        goto out;
    size_t start = fs_buf_rec_begin(&rec, DET_REC_TAG);

    fs_buf_put_bytes(&rec, w->p, w->len);
    if (fs_buf_rec_end(&rec, start) == 0)
        rc = fs_dtab_blob_write(fp, magic, version, rec.p, rec.len);
out:
    free(rec.p);
    free(w->p);
    w->p = NULL;
    return rc;
}

int fs_det_load_blob(FILE *fp, const char *det, uint32_t magic, uint32_t version, size_t max_len,
                     uint8_t **data, struct fs_buf_r *payload)
{
    const char *why = NULL;
    size_t len;

    if (fs_dtab_blob_read(fp, magic, version, max_len + 64, data, &len, &why) < 0) {
        fs_log(FS_LOG_WARNING, "%s: snapshot state refused: %s", det, why);
        return -1;
    }
    struct fs_buf_r r = { .p = *data, .len = len };

    if (fs_buf_rec_open(&r, DET_REC_TAG, payload) < 0 || r.off != r.len) {
        fs_log(FS_LOG_WARNING, "%s: snapshot state refused: bad checksum or framing", det);
        free(*data);
        *data = NULL;
        return -1;
    }
    return 0;
}

struct fs_det_prev {
    struct fs_dtab *peers; /* peer -> hosts */
    struct fs_dtab *hosts; /* host -> pairs */
};

void fs_det_prev_free(struct fs_det_prev *p)
{
    if (!p)
        return;
    fs_dtab_free(p->peers);
    fs_dtab_free(p->hosts);
    free(p);
}

struct fs_det_prev *fs_det_prev_new(size_t peer_len, uint32_t max)
{
    struct fs_det_prev *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    /* As large as the pair table: never full, so never evicting. */
    p->peers = fs_dtab_new(peer_len, sizeof(uint32_t), max);
    p->hosts = fs_dtab_new(sizeof(fs_ip), sizeof(uint32_t), max);
    if (!p->peers || !p->hosts) {
        fs_det_prev_free(p);
        return NULL;
    }
    return p;
}

void fs_det_prev_clear(struct fs_det_prev *p)
{
    fs_dtab_clear(p->peers);
    fs_dtab_clear(p->hosts);
}

/* An allocation failure only loses a count. */
static void ref(struct fs_dtab *t, const void *key)
{
    uint32_t *v = fs_dtab_put(t, key, NULL);

    if (v)
        (*v)++;
}

static void unref(struct fs_dtab *t, const void *key)
{
    uint32_t *v = fs_dtab_get(t, key);

    if (v && --*v == 0)
        fs_dtab_del(t, key);
}

void fs_det_prev_ref(struct fs_det_prev *p, const fs_ip *host, const void *peer)
{
    ref(p->peers, peer);
    ref(p->hosts, host);
}

void fs_det_prev_unref(struct fs_det_prev *p, const fs_ip *host, const void *peer)
{
    unref(p->peers, peer);
    unref(p->hosts, host);
}

double fs_det_prev_factor(const struct fs_det_prev *p, const void *peer, unsigned min_hosts,
                          double share, uint32_t *nhosts)
{
    const uint32_t *v = fs_dtab_get(p->peers, peer);
    uint32_t total = fs_dtab_count(p->hosts);

    *nhosts = v ? *v : 0;
    if (*nhosts < min_hosts || total == 0)
        return 1.0;
    return 1.0 - fs_det_ramp((double)*nhosts / (double)total, 0, share);
}

size_t fs_det_prev_bytes(const struct fs_det_prev *p)
{
    return sizeof(*p) + fs_dtab_bytes(p->peers) + fs_dtab_bytes(p->hosts);
}
