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

#include "binio.h"
#include "opts.h"
#include "reportpriv.h"

#define MAGIC "fsreport"
#define VERSION 1u
#define HEADER 28

static void save_anoms(struct fs_wbuf *b, const struct rp_anoms *an)
{
    fs_wbuf_uint(b, an->total, 8);
    fs_wbuf_uint(b, an->unlisted, 8);
    for (int c = 0; c < FS_AC_COUNT; c++)
        fs_wbuf_uint(b, an->by_class[c], 8);
    for (int s = 0; s <= FS_SEV_CRITICAL; s++)
        fs_wbuf_uint(b, an->by_sev[s], 8);
    fs_wbuf_uint(b, an->n, 4);
    for (size_t i = 0; i < an->n; i++)
        fs_wbuf_blob(b, an->v[i], strlen(an->v[i]), 8);
}

static void save_entry(struct fs_wbuf *b, int l, const void *e)
{
    if (l == RP_TALKERS) {
        const struct rp_talker *t = e;
        fs_wbuf_ip(b, &t->addr);
        fs_wbuf_uint(b, t->bytes_out, 8);
        fs_wbuf_uint(b, t->bytes_in, 8);
        fs_wbuf_uint(b, t->flows, 8);
        fs_wbuf_uint(b, t->periods, 4);
        fs_wbuf_uint(b, t->var_ok, 1);
        fs_wbuf_f64(b, t->expected);
        fs_wbuf_f64(b, t->z);
        fs_wbuf_f64(b, t->peak_z);
        fs_wbuf_f64(b, t->var);
    } else if (l == RP_PORTS) {
        const struct rp_port *p = e;
        fs_wbuf_uint(b, p->flows, 8);
        fs_wbuf_uint(b, p->bytes, 8);
        fs_wbuf_uint(b, p->port, 2);
        fs_wbuf_uint(b, p->proto, 1);
    } else if (l == RP_PROTOS) {
        const struct rp_proto *p = e;
        fs_wbuf_uint(b, p->flows, 8);
        fs_wbuf_uint(b, p->packets, 8);
        fs_wbuf_uint(b, p->bytes, 8);
        fs_wbuf_uint(b, p->proto, 1);
    } else if (l == RP_HOSTS) {
        const struct rp_host *h = e;
        fs_wbuf_ip(b, &h->addr);
        fs_wbuf_uint(b, h->bytes_out, 8);
        fs_wbuf_uint(b, h->bytes_in, 8);
        fs_wbuf_uint(b, h->packets, 8);
        fs_wbuf_uint(b, h->flows, 8);
        fs_wbuf_uint(b, h->periods, 4);
        for (int m = 0; m < FS_SUMMARY_HOST_METRICS; m++) {
            const struct fs_summary_stat *s = &h->base[m];
            fs_wbuf_uint(b, s->samples, 4);
            fs_wbuf_f64(b, s->mean);
            fs_wbuf_f64(b, s->std);
            fs_wbuf_f64(b, s->median);
            fs_wbuf_f64(b, s->q1);
            fs_wbuf_f64(b, s->q3);
        }
    } else {
        const struct rp_period *p = e;
        fs_wbuf_uint(b, p->start_ms, 8);
        fs_wbuf_uint(b, p->end_ms, 8);
        fs_wbuf_uint(b, p->bytes, 8);
        fs_wbuf_uint(b, p->packets, 8);
        fs_wbuf_uint(b, p->flows, 8);
    }
}

static void save_acc(struct fs_wbuf *b, const struct rp_acc *a)
{
    const uint64_t head[] = { a->start_ms, a->end_ms, a->first_ms, a->last_ms, a->summaries,
                              a->bytes, a->packets, a->flows, a->analyzer_anomalies, a->hosts };

    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
        fs_wbuf_uint(b, head[i], 8);
    for (int i = 0; i < 24 + 7; i++) {
        const struct fs_summary_profile *p = i < 24 ? &a->hour_of_day[i] : &a->day_of_week[i - 24];
        fs_wbuf_uint(b, p->samples, 4);
        for (int m = 0; m < FS_SUMMARY_NMETRICS; m++) {
            fs_wbuf_f64(b, p->mean[m]);
            fs_wbuf_f64(b, p->std[m]);
        }
    }
    for (int l = 0; l < RP_NLISTS; l++) {
        fs_wbuf_uint(b, a->dropped[l], 8);
        fs_wbuf_uint(b, a->list[l].n, 4);
        for (size_t i = 0; i < a->list[l].n; i++)
            save_entry(b, l, (const unsigned char *)a->list[l].v + i * rp_list_ops[l].size);
    }
    save_anoms(b, &a->an);
}

int fs_rp_reports_save(const struct fs_rp_reports *r, void **buf, size_t *len)
{
    struct fs_wbuf b = { 0 };

    fs_wbuf_bytes(&b, MAGIC, 8);
    fs_wbuf_uint(&b, VERSION, 4);
    fs_wbuf_uint(&b, 0, 8); /* body length and checksum, once known */
    fs_wbuf_uint(&b, 0, 8);
    fs_wbuf_uint(&b, r->day_open, 1);
    fs_wbuf_uint(&b, r->day_seen, 1);
    fs_wbuf_uint(&b, (uint64_t)r->day, 8);
    save_acc(&b, &r->acc);
    save_anoms(&b, &r->period);
    fs_wbuf_uint(&b, r->npending, 4);
    for (size_t i = 0; i < r->npending; i++) {
        fs_wbuf_uint(&b, (uint8_t)r->pending[i].kind, 1);
        fs_wbuf_uint(&b, r->pending[i].name_ms, 8);
        fs_wbuf_blob(&b, r->pending[i].text, r->pending[i].len, 8);
    }
    if (b.oom) {
        fs_wbuf_free(&b);
        return -1;
    }
    fs_put_le(b.p + 12, b.len - HEADER, 8);
    fs_put_le(b.p + 20, fs_fnv64(FS_FNV64_INIT, b.p + HEADER, b.len - HEADER), 8);
    *buf = b.p;
    *len = b.len;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Loading: every read checks the bytes left; the first failure sticks. */

/* An address; only the families an address can have. */
static void read_ip(struct fs_rbuf *r, fs_ip *ip)
{
    fs_rbuf_ip(r, ip);
    if (ip->af != 0 && ip->af != 4 && ip->af != 6)
        fs_rbuf_fail(r, "address family not 0, 4 or 6");
}

static void load_anoms(struct fs_rp_reports *rp, struct fs_rbuf *r, struct rp_anoms *an)
{
    size_t n;

    an->total = fs_rbuf_uint(r, 8);
    an->unlisted = fs_rbuf_uint(r, 8);
    for (int c = 0; c < FS_AC_COUNT; c++)
        an->by_class[c] = fs_rbuf_uint(r, 8);
    for (int s = 0; s <= FS_SEV_CRITICAL; s++)
        an->by_sev[s] = fs_rbuf_uint(r, 8);
    n = fs_rbuf_count(r, 4, 8, UINT32_MAX, "more anomalies than bytes");
    for (size_t i = 0; i < n && !r->failed; i++) {
        char *t = fs_rbuf_text(r, 8);
        if (t && !rp_anoms_push(an, t, rp->max_anomalies)) {
            /* Saved under a larger max_anomalies: the excess is counted. */
            free(t);
            an->unlisted++;
        }
    }
}

static void load_entry(struct fs_rbuf *r, int l, void *e)
{
    if (l == RP_TALKERS) {
        struct rp_talker *t = e;
        read_ip(r, &t->addr);
        t->bytes_out = fs_rbuf_uint(r, 8);
        t->bytes_in = fs_rbuf_uint(r, 8);
        t->flows = fs_rbuf_uint(r, 8);
        t->periods = (uint32_t)fs_rbuf_uint(r, 4);
        t->var_ok = fs_rbuf_uint(r, 1) != 0;
        t->expected = fs_rbuf_f64(r);
        t->z = fs_rbuf_f64(r);
        t->peak_z = fs_rbuf_f64(r);
        t->var = fs_rbuf_f64(r);
    } else if (l == RP_PORTS) {
        struct rp_port *p = e;
        p->flows = fs_rbuf_uint(r, 8);
        p->bytes = fs_rbuf_uint(r, 8);
        p->port = (uint16_t)fs_rbuf_uint(r, 2);
        p->proto = (uint8_t)fs_rbuf_uint(r, 1);
    } else if (l == RP_PROTOS) {
        struct rp_proto *p = e;
        p->flows = fs_rbuf_uint(r, 8);
        p->packets = fs_rbuf_uint(r, 8);
        p->bytes = fs_rbuf_uint(r, 8);
        p->proto = (uint8_t)fs_rbuf_uint(r, 1);
    } else if (l == RP_HOSTS) {
        struct rp_host *h = e;
        read_ip(r, &h->addr);
        h->bytes_out = fs_rbuf_uint(r, 8);
        h->bytes_in = fs_rbuf_uint(r, 8);
        h->packets = fs_rbuf_uint(r, 8);
        h->flows = fs_rbuf_uint(r, 8);
        h->periods = (uint32_t)fs_rbuf_uint(r, 4);
        for (int m = 0; m < FS_SUMMARY_HOST_METRICS; m++) {
            struct fs_summary_stat *s = &h->base[m];
            s->samples = (uint32_t)fs_rbuf_uint(r, 4);
            s->mean = fs_rbuf_f64(r);
            s->std = fs_rbuf_f64(r);
            s->median = fs_rbuf_f64(r);
            s->q1 = fs_rbuf_f64(r);
            s->q3 = fs_rbuf_f64(r);
        }
    } else {
        struct rp_period *p = e;
        p->start_ms = fs_rbuf_uint(r, 8);
        p->end_ms = fs_rbuf_uint(r, 8);
        p->bytes = fs_rbuf_uint(r, 8);
        p->packets = fs_rbuf_uint(r, 8);
        p->flows = fs_rbuf_uint(r, 8);
    }
}

/* Smallest saved size of an entry of each list (for the count check). */
static const size_t entry_min[RP_NLISTS] = { 78, 19, 25, 317, 40 };

static void load_acc(struct fs_rp_reports *rp, struct fs_rbuf *r, struct rp_acc *a)
{
    uint64_t *head[] = { &a->start_ms, &a->end_ms, &a->first_ms, &a->last_ms, &a->summaries,
                         &a->bytes, &a->packets, &a->flows, &a->analyzer_anomalies, &a->hosts };

    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
        *head[i] = fs_rbuf_uint(r, 8);
    for (int i = 0; i < 24 + 7; i++) {
        struct fs_summary_profile *p = i < 24 ? &a->hour_of_day[i] : &a->day_of_week[i - 24];
        p->samples = (uint32_t)fs_rbuf_uint(r, 4);
        for (int m = 0; m < FS_SUMMARY_NMETRICS; m++) {
            p->mean[m] = fs_rbuf_f64(r);
            p->std[m] = fs_rbuf_f64(r);
        }
    }
    for (int l = 0; l < RP_NLISTS && !r->failed; l++) {
        const struct rp_list_ops *o = &rp_list_ops[l];
        size_t n;
        unsigned char *v;
        a->dropped[l] = fs_rbuf_uint(r, 8);
            n = fs_rbuf_count(r, 4, entry_min[l], FS_SUMMARY_MAX_LIST,
                          "list longer than its limit or the bytes left");
        if (n == 0)
            continue;
        if ((v = calloc(n, o->size)) == NULL) {
            fs_rbuf_fail(r, "out of memory");
            return;
        }
        a->list[l].v = v;
        a->list[l].n = n;
        for (size_t i = 0; i < n && !r->failed; i++) {
            load_entry(r, l, v + i * o->size);
            /* Merging relies on lists sorted by key without repeats. */
            if (i && o->key(v + (i - 1) * o->size, v + i * o->size) >= 0)
                fs_rbuf_fail(r, "list out of order");
        }
    }
    load_anoms(rp, r, &a->an);
}

int fs_rp_reports_load(struct fs_rp_reports *rp, const void *buf, size_t len, char *err,
                       size_t errlen)
{
    const unsigned char *b = buf;
    struct fs_rbuf r;
    uint64_t body, sum, version;

    rp_reports_reset(rp);
    if (len < HEADER || memcmp(b, MAGIC, 8) != 0) {
        fs_opts_fail(err, errlen, "%s",
                     len < HEADER ? "shorter than its header" : "not a report state");
        return -1;
    }
    version = fs_get_le(b + 8, 4);
    body = fs_get_le(b + 12, 8);
    sum = fs_get_le(b + 20, 8);
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
    if (fs_fnv64(FS_FNV64_INIT, b + HEADER, len - HEADER) != sum) {
        fs_opts_fail(err, errlen, "checksum mismatch (damaged)");
        return -1;
    }
    fs_rbuf_init(&r, b + HEADER, len - HEADER);
    rp->day_open = fs_rbuf_uint(&r, 1) != 0;
    rp->day_seen = fs_rbuf_uint(&r, 1) != 0;
    rp->day = (int64_t)fs_rbuf_uint(&r, 8);
    if (rp->day < 0 || rp->day > (int64_t)(RP_MAX_MS / RP_DAY_MS) || (rp->day_open && !rp->day_seen))
        fs_rbuf_fail(&r, "day out of range");
    load_acc(rp, &r, &rp->acc);
    load_anoms(rp, &r, &rp->period);
    size_t n = fs_rbuf_count(&r, 4, 13, RP_PENDING_MAX, "too many reports waiting");
    for (size_t i = 0; i < n && !r.failed; i++) {
        struct rp_pending *p = &rp->pending[i];
        uint64_t kind = fs_rbuf_uint(&r, 1);
        p->name_ms = fs_rbuf_uint(&r, 8);
        p->text = fs_rbuf_text(&r, 8);
        if (r.failed)
            break;
        rp->npending++;
        p->kind = (enum rp_kind)kind;
        p->len = strlen(p->text);
        if (kind >= RP_NKINDS || p->name_ms > RP_MAX_MS)
            fs_rbuf_fail(&r, "waiting report of unknown kind or time");
    }
    if (fs_rbuf_left(&r) != 0)
        fs_rbuf_fail(&r, "bytes after the state");
    if (r.failed) {
        fs_opts_fail(err, errlen, "%s", r.why);
        rp_reports_reset(rp);
        return -1;
    }
    return 0;
}
