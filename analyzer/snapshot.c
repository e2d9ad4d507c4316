/*
 * snapshot.c - the analyzer's learned state on disk, so that a restarted
 * analyzer carries on with what it knew.
 *
 * File layout (integers little-endian):
 *
 *   header, 64 bytes: "FSANSNAP", version u32, header size u32, body length
 *     u64, body checksum u64 (FNV-1a 64), window seconds u32, UTC offset
 *     i32, HLL precision u32, hosts u32, saved at (wall clock, s) u64,
 *     reserved, header checksum u32 (FNV-1a 32 of the bytes before it)
 *   body: records { tag u8, length u32, payload }:
 *     'C' event time, roll-ups, profiles, protocol counts, rate limiter,
 *         suppression entries
 *     'P' run-wide port distributions (two Space-Saving sketches)
 *     'H' one per host, least recently active first: totals, ports, the
 *         hour-of-week Welford slots and the quantile sketches
 *     'D' one per detector with a save hook: its name and its own bytes
 *     'E' end
 *
 * Saving replaces the file whole (atomicfile.h): a crash leaves the old
 * snapshot or the new one, never half of one. Loading first checks the
 * header and the whole body's length and checksum, and only then parses; a
 * file that fails any check (truncated, corrupt, another version, made with
 * another window length or UTC offset) is renamed aside with a clear
 * message, and the engine starts fresh. Windows still open are not saved:
 * their flows are lost across a restart, and the restored watermark keeps
 * older flows out.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomicfile.h"
#include "binio.h"
#include "core.h"
#include "log.h"

#define SNAP_MAGIC "FSANSNAP"
#define SNAP_VERSION 1u
#define SNAP_HEADER 64u
#define SNAP_MAX_RECORD (UINT32_C(1) << 30)

enum { REC_CORE = 'C', REC_PORTS = 'P', REC_HOST = 'H', REC_DETECTOR = 'D', REC_END = 'E' };

struct snap_header {
    uint32_t version;
    uint64_t body_len, body_sum;
    uint32_t window;
    int32_t utc_offset;
    uint32_t hll_p, hosts;
    uint64_t saved_at;
};

static void header_encode(const struct snap_header *h, uint8_t out[SNAP_HEADER])
{
    memset(out, 0, SNAP_HEADER);
    memcpy(out, SNAP_MAGIC, 8);
    fs_put_le(out + 8, h->version, 4);
    fs_put_le(out + 12, SNAP_HEADER, 4);
    fs_put_le(out + 16, h->body_len, 8);
    fs_put_le(out + 24, h->body_sum, 8);
    fs_put_le(out + 32, h->window, 4);
    fs_put_le(out + 36, (uint32_t)h->utc_offset, 4);
    fs_put_le(out + 40, h->hll_p, 4);
    fs_put_le(out + 44, h->hosts, 4);
    fs_put_le(out + 48, h->saved_at, 8);
    fs_put_le(out + 60, (uint32_t)fs_fnv64(FS_FNV64_INIT, out, 60), 4);
}

/* ------------------------------------------------------------------ */
/* Writing. */

struct snap_out {
    FILE *fp;
    uint64_t len, sum;
    bool err;
};

static void out_write(struct snap_out *o, const void *p, size_t n)
{
    if (o->err)
        return;
    if (fwrite(p, 1, n, o->fp) != n) {
        o->err = true;
        return;
    }
    o->sum = fs_fnv64(o->sum, p, n);
    o->len += n;
}

static void out_record(struct snap_out *o, uint8_t tag, const struct fs_buf_w *w)
{
    uint8_t head[5];

    if (w->err) {
        o->err = true;
        return;
    }
    head[0] = tag;
    fs_put_le(head + 1, w->len, 4);
    out_write(o, head, sizeof(head));
    out_write(o, w->p, w->len);
}

static void put_float(struct fs_buf_w *w, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    fs_buf_put_u32(w, u);
}

static float get_float(struct fs_buf_r *r)
{
    uint32_t u = fs_buf_get_u32(r);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void put_ip(struct fs_buf_w *w, const fs_ip *ip)
{
    fs_buf_put_u8(w, ip->af);
    fs_buf_put_bytes(w, ip->b, 16);
}

static int get_ip(struct fs_buf_r *r, fs_ip *ip)
{
    ip->af = fs_buf_get_u8(r);
    fs_buf_get_bytes(r, ip->b, 16);
    return ip->af == 4 || ip->af == 6 ? 0 : -1;
}

static void put_net(struct fs_buf_w *w, const struct an_net *n)
{
    fs_buf_put_u64(w, n->win);
    fs_buf_put_u64(w, n->bytes);
    fs_buf_put_u64(w, n->packets);
    fs_buf_put_u64(w, n->flows);
    fs_buf_put_u64(w, n->last_end);
}

static void get_net(struct fs_buf_r *r, struct an_net *n)
{
    n->win = fs_buf_get_u64(r);
    n->bytes = fs_buf_get_u64(r);
    n->packets = fs_buf_get_u64(r);
    n->flows = fs_buf_get_u64(r);
    n->last_end = fs_buf_get_u64(r);
}

static void put_stats(struct fs_buf_w *w, const struct fs_stat *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fs_buf_put_u64(w, s[i].n);
        fs_buf_put_f64(w, s[i].mean);
        fs_buf_put_f64(w, s[i].m2);
    }
}

static void get_stats(struct fs_buf_r *r, struct fs_stat *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        s[i].n = fs_buf_get_u64(r);
        s[i].mean = fs_buf_get_f64(r);
        s[i].m2 = fs_buf_get_f64(r);
    }
}

static size_t core_size(const struct fs_an_ctx *c)
{
    return 1024 + (24 + 7) * FS_SUMMARY_NMETRICS * 24 + 256 * 3 * 8 +
           (size_t)(c->supp_mask + 1) * 17;
}

static void save_core(const struct fs_an_ctx *c, struct fs_buf_w *w)
{
    uint32_t nsupp = 0;

    fs_buf_put_u64(w, c->max_ts);
    fs_buf_put_u64(w, c->first_ms);
    fs_buf_put_u64(w, c->closed_end);
    put_net(w, &c->hour);
    put_net(w, &c->day);
    fs_buf_put_u8(w, c->hour_partial);
    fs_buf_put_u8(w, c->day_partial);
    put_stats(w, &c->prof_hour[0][0], 24 * FS_SUMMARY_NMETRICS);
    put_stats(w, &c->prof_day[0][0], 7 * FS_SUMMARY_NMETRICS);
    for (int p = 0; p < 256; p++) {
        fs_buf_put_u64(w, c->proto_flows[p] + c->per_proto_flows[p]);
        fs_buf_put_u64(w, c->proto_bytes[p] + c->per_proto_bytes[p]);
        fs_buf_put_u64(w, c->proto_packets[p] + c->per_proto_packets[p]);
    }
    fs_buf_put_f64(w, c->tokens);
    fs_buf_put_u64(w, c->tokens_ms);
    for (uint32_t i = 0; i <= c->supp_mask; i++)
        nsupp += c->supp[i].key != 0;
    fs_buf_put_u32(w, nsupp);
    for (uint32_t i = 0; i <= c->supp_mask; i++) {
        if (c->supp[i].key == 0)
            continue;
        fs_buf_put_u64(w, c->supp[i].key);
        fs_buf_put_u64(w, c->supp[i].until_ms);
        fs_buf_put_u8(w, c->supp[i].severity);
    }
}

static void save_host(const struct an_host *h, struct fs_buf_w *w)
{
    const struct an_base *b = h->base;

    put_ip(w, &h->addr);
    fs_buf_put_u64(w, h->first_ms);
    fs_buf_put_u64(w, h->last_ms);
    for (int i = 0; i < AN_NSUM; i++)
        fs_buf_put_u64(w, h->tot[i]);
    for (int i = 0; i < AN_NPROTO; i++) {
        fs_buf_put_u64(w, h->proto_flows[i]);
        fs_buf_put_u64(w, h->proto_bytes[i]);
    }
    for (int i = 0; i < AN_HOST_PORTS; i++) {
        fs_buf_put_u16(w, h->ports[i].port);
        fs_buf_put_u8(w, h->ports[i].proto);
        fs_buf_put_u64(w, h->ports[i].flows);
        fs_buf_put_u64(w, h->ports[i].bytes);
    }
    for (int s = 0; s < AN_HOW; s++) {
        for (int m = 0; m < FS_M_COUNT; m++) {
            put_float(w, b->slot[s].mean[m]);
            put_float(w, b->slot[s].var[m]);
        }
        fs_buf_put_bytes(w, b->slot[s].n, FS_M_COUNT);
    }
    for (int m = 0; m < FS_M_COUNT; m++) {
        for (int k = 0; k < AN_BLOCKS; k++)
            fs_qs_save(&b->blk[m][k], w);
        fs_qs_save(&b->all[m], w);
        put_float(w, b->omean[m]);
        put_float(w, b->ovar[m]);
        fs_buf_put_u32(w, b->on[m]);
        put_float(w, b->peak[m]);
    }
}

/* A detector's own bytes, through a memory stream since its hook wants a FILE. */
static int save_detector(struct fs_an_ctx *c, size_t i, struct snap_out *o)
{
    const char *name = c->det[i]->name;
    char *mem = NULL;
    size_t size = 0, nlen = strlen(name);
    FILE *fp = open_memstream(&mem, &size);
    int rc;

    if (fp == NULL)
        return -1;
    rc = c->det[i]->save(c->det_state[i], fp);
    if (fclose(fp) != 0)
        rc = -1;
    if (rc == 0 && nlen < 256 && size < SNAP_MAX_RECORD - 256) {
        uint8_t head[6];
        head[0] = REC_DETECTOR;
        fs_put_le(head + 1, 1 + nlen + size, 4);
        head[5] = (uint8_t)nlen;
        out_write(o, head, sizeof(head));
        out_write(o, name, nlen);
        out_write(o, mem, size);
    } else {
        rc = -1;
    }
    free(mem);
    return rc;
}

static int write_body(struct fs_an_ctx *c, struct snap_out *o, char *err, size_t errlen)
{
    struct fs_buf_w w = { .cap = core_size(c) };
    int rc = 0;

    if (w.cap < 64 * 1024)
        w.cap = 64 * 1024;
    if ((w.p = malloc(w.cap)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    save_core(c, &w);
    out_record(o, REC_CORE, &w);

    w.len = 0;
    fs_topk_save(c->ports, &w);
    fs_topk_save(c->port_bytes, &w);
    out_record(o, REC_PORTS, &w);

    for (uint32_t s = c->hosts.lru_tail; s != AN_NONE; s = c->hosts.h[s].lru_prev) {
        w.len = 0;
        save_host(&c->hosts.h[s], &w);
        out_record(o, REC_HOST, &w);
    }
    for (size_t i = 0; i < c->ndet; i++) {
        if (c->det[i]->save && save_detector(c, i, o) != 0) {
            snprintf(err, errlen, "detector %s could not save its state", c->det[i]->name);
            rc = -1;
        }
    }
    w.len = 0;
    out_record(o, REC_END, &w);
    free(w.p);
    if (o->err && rc == 0) {
        snprintf(err, errlen, "%s", w.err ? "a record did not fit its buffer" : strerror(errno));
        rc = -1;
    }
    return rc;
}

int fs_analyzer_save(struct fs_an_ctx *c, const char *path, char *err, size_t errlen)
{
    uint8_t head[SNAP_HEADER];
    struct snap_header h = { 0 };
    struct snap_out o = { NULL, 0, FS_FNV64_INIT, false };
    struct fs_atomic *a = fs_atomic_open(path, 0640, err, errlen);

    if (a == NULL)
        return -1;
    o.fp = fs_atomic_fp(a);
    /* The header, which covers the body, is written again once the body is. */
    memset(head, 0, sizeof(head));
    if (fwrite(head, 1, sizeof(head), o.fp) != sizeof(head)) {
        snprintf(err, errlen, "%s: write: %s", path, strerror(errno));
        goto fail;
    }
    if (write_body(c, &o, err, errlen) != 0)
        goto fail;
    h.version = SNAP_VERSION;
    h.body_len = o.len;
    h.body_sum = o.sum;
    h.window = c->cfg->window;
    h.utc_offset = c->cfg->utc_offset;
    h.hll_p = c->cfg->hll_p;
    h.hosts = c->hosts.n;
    h.saved_at = (uint64_t)time(NULL);
    header_encode(&h, head);
    if (fseek(o.fp, 0, SEEK_SET) != 0 || fwrite(head, 1, sizeof(head), o.fp) != sizeof(head)) {
        snprintf(err, errlen, "%s: write: %s", path, strerror(errno));
        goto fail;
    }
    return fs_atomic_commit(a, err, errlen);
fail:
    fs_atomic_abort(a);
    return -1;
}

/* ------------------------------------------------------------------ */
/* Reading. */

static int load_core(struct fs_an_ctx *c, struct fs_buf_r *r)
{
    c->max_ts = fs_buf_get_u64(r);
    c->first_ms = fs_buf_get_u64(r);
    c->closed_end = fs_buf_get_u64(r);
    get_net(r, &c->hour);
    get_net(r, &c->day);
    c->hour_partial = fs_buf_get_u8(r) != 0;
    c->day_partial = fs_buf_get_u8(r) != 0;
    get_stats(r, &c->prof_hour[0][0], 24 * FS_SUMMARY_NMETRICS);
    get_stats(r, &c->prof_day[0][0], 7 * FS_SUMMARY_NMETRICS);
    for (int p = 0; p < 256; p++) {
        c->proto_flows[p] = fs_buf_get_u64(r);
        c->proto_bytes[p] = fs_buf_get_u64(r);
        c->proto_packets[p] = fs_buf_get_u64(r);
    }
    c->tokens = fs_buf_get_f64(r);
    c->tokens_ms = fs_buf_get_u64(r);
    uint32_t nsupp = fs_buf_get_u32(r);
    if (nsupp > r->len / 17)
        return -1;
    for (uint32_t i = 0; i < nsupp; i++) {
        struct an_supp e;
        e.key = fs_buf_get_u64(r);
        e.until_ms = fs_buf_get_u64(r);
        e.severity = fs_buf_get_u8(r);
        if (e.key != 0 && e.severity <= FS_SEV_CRITICAL)
            c->supp[e.key & c->supp_mask] = e;
    }
    return r->err ? -1 : 0;
}

static int load_host(struct fs_an_ctx *c, struct fs_buf_r *r)
{
    fs_ip ip;

    memset(&ip, 0, sizeof(ip));
    if (get_ip(r, &ip) != 0)
        return -1;
    struct an_host *h = an_hosts_get(c, &ip, 0);
    if (h == NULL)
        return -1;
    struct an_base *b = h->base;
    h->first_ms = fs_buf_get_u64(r);
    h->last_ms = fs_buf_get_u64(r);
    for (int i = 0; i < AN_NSUM; i++)
        h->tot[i] = fs_buf_get_u64(r);
    for (int i = 0; i < AN_NPROTO; i++) {
        h->proto_flows[i] = fs_buf_get_u64(r);
        h->proto_bytes[i] = fs_buf_get_u64(r);
    }
    for (int i = 0; i < AN_HOST_PORTS; i++) {
        h->ports[i].port = fs_buf_get_u16(r);
        h->ports[i].proto = fs_buf_get_u8(r);
        h->ports[i].flows = fs_buf_get_u64(r);
        h->ports[i].bytes = fs_buf_get_u64(r);
    }
    for (int s = 0; s < AN_HOW; s++) {
        for (int m = 0; m < FS_M_COUNT; m++) {
            b->slot[s].mean[m] = get_float(r);
            b->slot[s].var[m] = get_float(r);
        }
        fs_buf_get_bytes(r, b->slot[s].n, FS_M_COUNT);
        for (int m = 0; m < FS_M_COUNT; m++)
            if (b->slot[s].n[m] > c->cfg->baseline_weight)
                b->slot[s].n[m] = (uint8_t)c->cfg->baseline_weight;
    }
    for (int m = 0; m < FS_M_COUNT; m++) {
        for (int k = 0; k < AN_BLOCKS; k++)
            if (fs_qs_load(&b->blk[m][k], r) != 0)
                return -1;
        if (fs_qs_load(&b->all[m], r) != 0)
            return -1;
        b->omean[m] = get_float(r);
        b->ovar[m] = get_float(r);
        b->on[m] = fs_buf_get_u32(r);
        b->peak[m] = get_float(r);
        if (b->on[m] > (uint32_t)c->cfg->baseline_weight * AN_HOW)
            b->on[m] = (uint32_t)c->cfg->baseline_weight * AN_HOW;
    }
    return r->err ? -1 : 0;
}

/* Hands a detector its bytes; a detector that refuses them starts afresh.
 * Returns -1 only when it cannot even do that (out of memory). */
static int load_detector(struct fs_an_ctx *c, const uint8_t *p, size_t len)
{
    size_t nlen = p[0];

    if (nlen + 1 > len)
        return 0;
    for (size_t i = 0; i < c->ndet; i++) {
        const struct fs_detector *d = c->det[i];
        if (strlen(d->name) != nlen || memcmp(d->name, p + 1, nlen) != 0 || d->load == NULL)
            continue;
        size_t size = len - 1 - nlen;
        FILE *fp = size ? fmemopen((void *)(p + 1 + nlen), size, "rb") : NULL;
        if (fp == NULL || d->load(c->det_state[i], fp) != 0) {
            fs_log(FS_LOG_WARNING, "snapshot: detector %s refused its saved state; it starts "
                   "afresh", d->name);
            if (d->destroy)
                d->destroy(c->det_state[i]);
            c->det_state[i] = d->create ? d->create(c) : NULL;
        }
        if (fp)
            fclose(fp);
        return d->create && c->det_state[i] == NULL ? -1 : 0;
    }
    fs_log(FS_LOG_INFO, "snapshot: state of detector %.*s ignored (not running)", (int)nlen,
           (const char *)(p + 1));
    return 0;
}

/* Parses the body (already checked whole). Returns 0 or -1 with `err`. */
static int parse_body(struct fs_an_ctx *c, FILE *fp, uint64_t body_len, char *err,
                      size_t errlen)
{
    uint8_t *buf = NULL;
    uint64_t off = 0;
    int rc = -1;
    bool end = false;

    while (!end && off + 5 <= body_len) {
        uint8_t head[5];
        if (fread(head, 1, 5, fp) != 5)
            break;
        uint8_t tag = head[0];
        uint32_t len = (uint32_t)fs_get_le(head + 1, 4);
        off += 5;
        if (len > body_len - off || len > SNAP_MAX_RECORD) {
            snprintf(err, errlen, "record '%c' longer than the file", tag);
            goto out;
        }
        uint8_t *nb = realloc(buf, len ? len : 1);
        if (nb == NULL) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        buf = nb;
        if (fread(buf, 1, len, fp) != len)
            break;
        off += len;
        struct fs_buf_r r = { buf, len, 0, false };
        int ok = 0;
        switch (tag) {
        case REC_CORE: ok = load_core(c, &r); break;
        case REC_PORTS:
            ok = fs_topk_load(c->ports, &r) == 0 && fs_topk_load(c->port_bytes, &r) == 0 ? 0 : -1;
            break;
        case REC_HOST: ok = load_host(c, &r); break;
        case REC_DETECTOR:
            ok = len > 0 ? load_detector(c, buf, len) : 0;
            r.off = r.len;
            break;
        case REC_END: end = true; break;
        default:
            snprintf(err, errlen, "unknown record '%c'", tag);
            goto out;
        }
        if (ok != 0 || fs_buf_done(&r) != 0) {
            snprintf(err, errlen, "record '%c' is malformed", tag);
            goto out;
        }
    }
    if (!end)
        snprintf(err, errlen, "the end record is missing");
    else
        rc = 0;
out:
    free(buf);
    return rc;
}

/* Renames a refused snapshot aside and says so in `err`. */
static enum fs_snap_result reject(const char *path, const char *kind, const char *why,
                                  char *err, size_t errlen)
{
    char aside[PATH_MAX];

    snprintf(aside, sizeof(aside), "%s.%s-%lld", path, kind, (long long)time(NULL));
    if (rename(path, aside) == 0)
        snprintf(err, errlen, "snapshot %s: %s; kept as %s", path, why, aside);
    else
        snprintf(err, errlen, "snapshot %s: %s; could not rename it aside: %s", path, why,
                 strerror(errno));
    return FS_SNAP_REJECTED;
}

enum fs_snap_result fs_analyzer_load(struct fs_an_ctx *c, const char *path, char *err,
                                     size_t errlen)
{
    uint8_t head[SNAP_HEADER], chunk[65536];
    char why[256];
    FILE *fp = fopen(path, "rb");
    uint64_t sum = FS_FNV64_INIT, len = 0;
    size_t n;

    if (fp == NULL) {
        if (errno == ENOENT)
            return FS_SNAP_ABSENT;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return FS_SNAP_ERROR;
    }
    n = fread(head, 1, sizeof(head), fp);
    if (n < 8 || memcmp(head, SNAP_MAGIC, 8) != 0) {
        fclose(fp);
        return reject(path, "corrupt", n < 8 ? "truncated header" : "not an analyzer snapshot",
                      err, errlen);
    }
    uint32_t version = (uint32_t)fs_get_le(head + 8, 4);
    if (n == sizeof(head) && version != SNAP_VERSION &&
        (uint32_t)fs_get_le(head + 60, 4) == (uint32_t)fs_fnv64(FS_FNV64_INIT, head, 60)) {
        fclose(fp);
        snprintf(why, sizeof(why), "format version %u, this build reads %u", version,
                 SNAP_VERSION);
        return reject(path, "old", why, err, errlen);
    }
    if (n < sizeof(head) || (uint32_t)fs_get_le(head + 60, 4) != (uint32_t)fs_fnv64(FS_FNV64_INIT, head, 60)) {
        fclose(fp);
        return reject(path, "corrupt", "damaged or truncated header", err, errlen);
    }
    uint64_t body_len = fs_get_le(head + 16, 8), body_sum = fs_get_le(head + 24, 8);
    uint32_t window = (uint32_t)fs_get_le(head + 32, 4);
    int32_t offset = (int32_t)(uint32_t)fs_get_le(head + 36, 4);
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
        sum = fs_fnv64(sum, chunk, n);
        len += n;
    }
    if (ferror(fp)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        fclose(fp);
        return FS_SNAP_ERROR;
    }
    if (len != body_len || sum != body_sum) {
        fclose(fp);
        if (len != body_len)
            snprintf(why, sizeof(why), "%s: %llu body bytes where %llu were written",
                     len < body_len ? "truncated" : "trailing garbage", (unsigned long long)len,
                     (unsigned long long)body_len);
        else
            snprintf(why, sizeof(why), "checksum mismatch: the file is damaged");
        return reject(path, "corrupt", why, err, errlen);
    }
    if (window != c->cfg->window || offset != c->cfg->utc_offset) {
        fclose(fp);
        snprintf(why, sizeof(why), "made with window %u s and UTC offset %d s, now %u s and %d s",
                 window, offset, c->cfg->window, c->cfg->utc_offset);
        return reject(path, "old", why, err, errlen);
    }
    if (fseek(fp, SNAP_HEADER, SEEK_SET) != 0 || parse_body(c, fp, body_len, why, sizeof(why)) != 0) {
        fclose(fp);
        if (an_reset(c) != 0) {
            snprintf(err, errlen, "out of memory resetting after a bad snapshot");
            return FS_SNAP_ERROR;
        }
        return reject(path, "corrupt", why, err, errlen);
    }
    fclose(fp);
    return FS_SNAP_LOADED;
}
