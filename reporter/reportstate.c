/*
 * reportstate.c - the reports' accumulated state as bytes, for the
 * reporter's state file (fs_rp_reports_save / fs_rp_reports_load): the day
 * so far, the anomalies since the last period report, and the reports still
 * waiting to be written. A restart that loads it and goes on writes the same
 * files as a run that never stopped.
 *
 * Layout (little-endian): "fsreport", version (u32), body length (u64),
 * FNV-1a 64 of the body (u64), then the body: fixed-width integers, doubles
 * as their IEEE bits, addresses as family + 16 bytes, texts as length +
 * bytes, lists as count + entries. A file cut short or damaged is refused
 * by the length and the checksum before the body is read; the body's own
 * counts are still checked against the bytes left and the limits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "reportpriv.h"

#define MAGIC "fsreport"
#define VERSION 1u
#define HEADER 28

static void w8(struct rp_buf *b, uint8_t v)
{
    rp_buf_put(b, &v, 1);
}

static void wn(struct rp_buf *b, uint64_t v, int bytes)
{
    uint8_t x[8];
    for (int i = 0; i < bytes; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    rp_buf_put(b, x, (size_t)bytes);
}

static void w64(struct rp_buf *b, uint64_t v)
{
    wn(b, v, 8);
}

static void wf(struct rp_buf *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof(v));
    w64(b, v);
}

static void wip(struct rp_buf *b, const fs_ip *ip)
{
    w8(b, ip->af);
    rp_buf_put(b, ip->b, sizeof(ip->b));
}

static void wtext(struct rp_buf *b, const char *p, size_t n)
{
    w64(b, n);
    rp_buf_put(b, p, n);
}

static void save_anoms(struct rp_buf *b, const struct rp_anoms *an)
{
    w64(b, an->total);
    w64(b, an->unlisted);
    for (int c = 0; c < FS_AC_COUNT; c++)
        w64(b, an->by_class[c]);
    for (int s = 0; s <= FS_SEV_CRITICAL; s++)
        w64(b, an->by_sev[s]);
    wn(b, an->n, 4);
    for (size_t i = 0; i < an->n; i++)
        wtext(b, an->v[i], strlen(an->v[i]));
}

static void save_entry(struct rp_buf *b, int l, const void *e)
{
    if (l == RP_TALKERS) {
        const struct rp_talker *t = e;
        wip(b, &t->addr);
        w64(b, t->bytes_out);
        w64(b, t->bytes_in);
        w64(b, t->flows);
        wn(b, t->periods, 4);
        w8(b, t->var_ok);
        wf(b, t->expected);
        wf(b, t->z);
        wf(b, t->peak_z);
        wf(b, t->var);
    } else if (l == RP_PORTS) {
        const struct rp_port *p = e;
        w64(b, p->flows);
        w64(b, p->bytes);
        wn(b, p->port, 2);
        w8(b, p->proto);
    } else if (l == RP_PROTOS) {
        const struct rp_proto *p = e;
        w64(b, p->flows);
        w64(b, p->packets);
        w64(b, p->bytes);
        w8(b, p->proto);
    } else if (l == RP_HOSTS) {
        const struct rp_host *h = e;
        wip(b, &h->addr);
        w64(b, h->bytes_out);
        w64(b, h->bytes_in);
        w64(b, h->packets);
        w64(b, h->flows);
        wn(b, h->periods, 4);
        for (int m = 0; m < FS_SUMMARY_HOST_METRICS; m++) {
            const struct fs_summary_stat *s = &h->base[m];
            wn(b, s->samples, 4);
            wf(b, s->mean);
            wf(b, s->std);
            wf(b, s->median);
            wf(b, s->q1);
            wf(b, s->q3);
        }
    } else {
        const struct rp_period *p = e;
        w64(b, p->start_ms);
        w64(b, p->end_ms);
        w64(b, p->bytes);
        w64(b, p->packets);
        w64(b, p->flows);
    }
}

static void save_acc(struct rp_buf *b, const struct rp_acc *a)
{
    const uint64_t head[] = { a->start_ms, a->end_ms, a->first_ms, a->last_ms, a->summaries,
                              a->bytes, a->packets, a->flows, a->analyzer_anomalies, a->hosts };

    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
        w64(b, head[i]);
    for (int i = 0; i < 24 + 7; i++) {
        const struct fs_summary_profile *p = i < 24 ? &a->hour_of_day[i] : &a->day_of_week[i - 24];
        wn(b, p->samples, 4);
        for (int m = 0; m < FS_SUMMARY_NMETRICS; m++) {
            wf(b, p->mean[m]);
            wf(b, p->std[m]);
        }
    }
    for (int l = 0; l < RP_NLISTS; l++) {
        w64(b, a->dropped[l]);
        wn(b, a->list[l].n, 4);
        for (size_t i = 0; i < a->list[l].n; i++)
            save_entry(b, l, (const unsigned char *)a->list[l].v + i * rp_list_ops[l].size);
    }
    save_anoms(b, &a->an);
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * UINT64_C(1099511628211);
    return h;
}

int fs_rp_reports_save(const struct fs_rp_reports *r, void **buf, size_t *len)
{
    struct rp_buf b = { 0 };

    rp_buf_put(&b, MAGIC, 8);
    wn(&b, VERSION, 4);
    w64(&b, 0); /* body length and checksum, once known */
    w64(&b, 0);
    w8(&b, r->day_open);
    w8(&b, r->day_seen);
    w64(&b, (uint64_t)r->day);
    save_acc(&b, &r->acc);
    save_anoms(&b, &r->period);
    wn(&b, r->npending, 4);
    for (size_t i = 0; i < r->npending; i++) {
        w8(&b, (uint8_t)r->pending[i].kind);
        w64(&b, r->pending[i].name_ms);
        wtext(&b, r->pending[i].text, r->pending[i].len);
    }
    if (b.oom) {
        rp_buf_free(&b);
        return -1;
    }
    for (int i = 0; i < 8; i++) {
        b.p[12 + i] = (char)((uint64_t)(b.len - HEADER) >> (8 * i));
        b.p[20 + i] = (char)(fnv((unsigned char *)b.p + HEADER, b.len - HEADER) >> (8 * i));
    }
    *buf = b.p;
    *len = b.len;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Loading: every read checks the bytes left; the first failure sticks. */

struct rd {
    const unsigned char *p, *end;
    const char *why;
};

static bool bad(struct rd *r, const char *why)
{
    if (r->why == NULL)
        r->why = why;
    r->p = r->end;
    return false;
}

static uint64_t rn(struct rd *r, int bytes)
{
    uint64_t v = 0;
    if (r->end - r->p < bytes) {
        bad(r, "body cut short");
        return 0;
    }
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[i] << (8 * i);
    r->p += bytes;
    return v;
}

static uint64_t r64(struct rd *r)
{
    return rn(r, 8);
}

static double rf(struct rd *r)
{
    uint64_t v = r64(r);
    double d;
    memcpy(&d, &v, sizeof(d));
    return d;
}

static void rip(struct rd *r, fs_ip *ip)
{
    memset(ip, 0, sizeof(*ip));
    ip->af = (uint8_t)rn(r, 1);
    if (ip->af != 0 && ip->af != 4 && ip->af != 6)
        bad(r, "address family not 0, 4 or 6");
    if (r->end - r->p < (ptrdiff_t)sizeof(ip->b)) {
        bad(r, "body cut short");
        return;
    }
    memcpy(ip->b, r->p, sizeof(ip->b));
    r->p += sizeof(ip->b);
}

/* A text without NUL bytes, as a new string. */
static char *rtext(struct rd *r)
{
    uint64_t n = r64(r);
    char *s;

    if (r->why)
        return NULL;
    if (n > (uint64_t)(r->end - r->p)) {
        bad(r, "text longer than the bytes left");
        return NULL;
    }
    if (memchr(r->p, 0, n)) {
        bad(r, "text holds a NUL byte");
        return NULL;
    }
    if ((s = malloc(n + 1)) == NULL) {
        bad(r, "out of memory");
        return NULL;
    }
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    return s;
}

/* A count of entries that each take at least `min` bytes, at most `max`. */
static size_t rcount(struct rd *r, size_t min, size_t max, const char *what)
{
    uint64_t n = rn(r, 4);
    if (n > max || n * min > (uint64_t)(r->end - r->p)) {
        bad(r, what);
        return 0;
    }
    return (size_t)n;
}

static void load_anoms(struct fs_rp_reports *rp, struct rd *r, struct rp_anoms *an)
{
    size_t n;

    an->total = r64(r);
    an->unlisted = r64(r);
    for (int c = 0; c < FS_AC_COUNT; c++)
        an->by_class[c] = r64(r);
    for (int s = 0; s <= FS_SEV_CRITICAL; s++)
        an->by_sev[s] = r64(r);
    n = rcount(r, 8, UINT32_MAX, "more anomalies than bytes");
    for (size_t i = 0; i < n && !r->why; i++) {
        char *t = rtext(r);
        if (t && !rp_anoms_push(an, t, rp->max_anomalies)) {
            /* Saved under a larger max_anomalies: the excess is counted. */
            free(t);
            an->unlisted++;
        }
    }
}

static void load_entry(struct rd *r, int l, void *e)
{
    if (l == RP_TALKERS) {
        struct rp_talker *t = e;
        rip(r, &t->addr);
        t->bytes_out = r64(r);
        t->bytes_in = r64(r);
        t->flows = r64(r);
        t->periods = (uint32_t)rn(r, 4);
        t->var_ok = rn(r, 1) != 0;
        t->expected = rf(r);
        t->z = rf(r);
        t->peak_z = rf(r);
        t->var = rf(r);
    } else if (l == RP_PORTS) {
        struct rp_port *p = e;
        p->flows = r64(r);
        p->bytes = r64(r);
        p->port = (uint16_t)rn(r, 2);
        p->proto = (uint8_t)rn(r, 1);
    } else if (l == RP_PROTOS) {
        struct rp_proto *p = e;
        p->flows = r64(r);
        p->packets = r64(r);
        p->bytes = r64(r);
        p->proto = (uint8_t)rn(r, 1);
    } else if (l == RP_HOSTS) {
        struct rp_host *h = e;
        rip(r, &h->addr);
        h->bytes_out = r64(r);
        h->bytes_in = r64(r);
        h->packets = r64(r);
        h->flows = r64(r);
        h->periods = (uint32_t)rn(r, 4);
        for (int m = 0; m < FS_SUMMARY_HOST_METRICS; m++) {
            struct fs_summary_stat *s = &h->base[m];
            s->samples = (uint32_t)rn(r, 4);
            s->mean = rf(r);
            s->std = rf(r);
            s->median = rf(r);
            s->q1 = rf(r);
            s->q3 = rf(r);
        }
    } else {
        struct rp_period *p = e;
        p->start_ms = r64(r);
        p->end_ms = r64(r);
        p->bytes = r64(r);
        p->packets = r64(r);
        p->flows = r64(r);
    }
}

/* Smallest saved size of an entry of each list (for the count check). */
static const size_t entry_min[RP_NLISTS] = { 78, 19, 25, 317, 40 };

static void load_acc(struct fs_rp_reports *rp, struct rd *r, struct rp_acc *a)
{
    uint64_t *head[] = { &a->start_ms, &a->end_ms, &a->first_ms, &a->last_ms, &a->summaries,
                         &a->bytes, &a->packets, &a->flows, &a->analyzer_anomalies, &a->hosts };

    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
        *head[i] = r64(r);
    for (int i = 0; i < 24 + 7; i++) {
        struct fs_summary_profile *p = i < 24 ? &a->hour_of_day[i] : &a->day_of_week[i - 24];
        p->samples = (uint32_t)rn(r, 4);
        for (int m = 0; m < FS_SUMMARY_NMETRICS; m++) {
            p->mean[m] = rf(r);
            p->std[m] = rf(r);
        }
    }
    for (int l = 0; l < RP_NLISTS && !r->why; l++) {
        const struct rp_list_ops *o = &rp_list_ops[l];
        size_t n;
        unsigned char *v;
        a->dropped[l] = r64(r);
        n = rcount(r, entry_min[l], FS_SUMMARY_MAX_LIST, "list longer than its limit or "
                                                         "the bytes left");
        if (n == 0)
            continue;
        if ((v = calloc(n, o->size)) == NULL) {
            bad(r, "out of memory");
            return;
        }
        a->list[l].v = v;
        a->list[l].n = n;
        for (size_t i = 0; i < n && !r->why; i++) {
            load_entry(r, l, v + i * o->size);
            /* Merging relies on lists sorted by key without repeats. */
            if (i && o->key(v + (i - 1) * o->size, v + i * o->size) >= 0)
                bad(r, "list out of order");
        }
    }
    load_anoms(rp, r, &a->an);
}

int fs_rp_reports_load(struct fs_rp_reports *rp, const void *buf, size_t len, char *err,
                       size_t errlen)
{
    const unsigned char *b = buf;
    struct rd r = { b + HEADER, b + len, NULL };
    uint64_t body = 0, sum = 0, version = 0;

    rp_reports_reset(rp);
    if (len < HEADER || memcmp(b, MAGIC, 8) != 0) {
        fs_opts_fail(err, errlen, "%s",
                     len < HEADER ? "shorter than its header" : "not a report state");
        return -1;
    }
    for (int i = 0; i < 8; i++) {
        version |= i < 4 ? (uint64_t)b[8 + i] << (8 * i) : 0;
        body |= (uint64_t)b[12 + i] << (8 * i);
        sum |= (uint64_t)b[20 + i] << (8 * i);
    }
    if (version != VERSION) {
        fs_opts_fail(err, errlen, "version %llu (this build reads %u)",
                     (unsigned long long)version, VERSION);
        return -1;
    }
    if (body != len - HEADER) {
        fs_opts_fail(err, errlen, "%s: %zu body bytes, %llu expected",
                     body > len - HEADER ? "truncated" : "trailing bytes", len - HEADER,
                     (unsigned long long)body);
        return -1;
    }
    if (fnv(b + HEADER, len - HEADER) != sum) {
        fs_opts_fail(err, errlen, "checksum mismatch (damaged)");
        return -1;
    }
    rp->day_open = rn(&r, 1) != 0;
    rp->day_seen = rn(&r, 1) != 0;
    rp->day = (int64_t)r64(&r);
    if (rp->day < 0 || rp->day > (int64_t)(RP_MAX_MS / RP_DAY_MS) || (rp->day_open && !rp->day_seen))
        bad(&r, "day out of range");
    load_acc(rp, &r, &rp->acc);
    load_anoms(rp, &r, &rp->period);
    size_t n = rcount(&r, 13, RP_PENDING_MAX, "too many reports waiting");
    for (size_t i = 0; i < n && !r.why; i++) {
        struct rp_pending *p = &rp->pending[i];
        uint64_t kind = rn(&r, 1);
        p->name_ms = r64(&r);
        p->text = rtext(&r);
        if (r.why)
            break;
        rp->npending++;
        p->kind = (enum rp_kind)kind;
        p->len = strlen(p->text);
        if (kind >= RP_NKINDS || p->name_ms > RP_MAX_MS)
            bad(&r, "waiting report of unknown kind or time");
    }
    if (!r.why && r.p != r.end)
        bad(&r, "bytes after the state");
    if (r.why) {
        fs_opts_fail(err, errlen, "%s", r.why);
        rp_reports_reset(rp);
        return -1;
    }
    return 0;
}
