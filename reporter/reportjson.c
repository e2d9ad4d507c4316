/*
 * reportjson.c - the JSON text of a report (docs/reports.md describes every
 * key; docs/report.schema.json is its schema).
 *
 * Keys are those of the analyzer's own report (analyzer/report.c) wherever
 * the same thing is shown. The text depends on event data only, so the same
 * input gives the same bytes. Every number goes through fs_json_num (no NaN
 * or infinity: null) but counters, which are written exactly as integers;
 * every string is escaped and made valid UTF-8, since metric names and
 * extra keys come from the wire.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reportpriv.h"

static const char *const day_names[7] = { "monday", "tuesday", "wednesday", "thursday",
                                          "friday", "saturday", "sunday" };
static const char *const profile_metrics[FS_SUMMARY_NMETRICS] = { "bytes", "packets", "flows" };

/* RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF. */
size_t rp_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (n < len)
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* Copies text, with \ufffd for each byte that does not start a UTF-8 sequence. */
static void put_utf8(struct fs_wbuf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;

    while (i < n) {
        size_t l = rp_utf8_len(p + i, n - i);
        if (l) {
            i += l;
            continue;
        }
        fs_wbuf_bytes(b, p + run, i - run);
        fs_wbuf_bytes(b, "\\ufffd", 6);
        run = ++i;
    }
    fs_wbuf_bytes(b, p + run, n - run);
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void put_str(struct fs_wbuf *b, const char *s)
{
    const char *run = s;

    fs_wbuf_bytes(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c != '"' && c != '\\' && c >= 0x20 && c != 0x7f)
            continue;
        put_utf8(b, run, (size_t)(s - run));
        if (c == '"' || c == '\\')
            fs_wbuf_printf(b, "\\%c", c);
        else
            fs_wbuf_printf(b, "\\u%04x", c);
        run = s + 1;
    }
    put_utf8(b, run, (size_t)(s - run));
    fs_wbuf_bytes(b, "\"", 1);
}

static void num(struct fs_wbuf *b, const char *sep, const char *key, double v)
{
    char buf[FS_JSON_NUM_MAX];
    fs_wbuf_printf(b, "%s\"%s\":%s", sep, key, fs_json_num(v, buf));
}

static void cnt(struct fs_wbuf *b, const char *sep, const char *key, uint64_t v)
{
    fs_wbuf_printf(b, "%s\"%s\":%llu", sep, key, (unsigned long long)v);
}

static void ip(struct fs_wbuf *b, const char *sep, const char *key, const fs_ip *a)
{
    char buf[FS_IP_STRLEN];
    fs_wbuf_printf(b, "%s\"%s\":\"%s\"", sep, key, fs_ip_format(a, buf));
}

/* A share of a total; null when the total is 0. */
static void share(struct fs_wbuf *b, const char *key, uint64_t part, uint64_t total)
{
    num(b, ",", key, total ? (double)part / (double)total : NAN);
}

void rp_iso(uint64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char base[32];

    if (gmtime_r(&t, &tm) == NULL || strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        base[0] = '\0';
    if (ms % 1000)
        snprintf(out, cap, "%s.%03uZ", base, (unsigned)(ms % 1000));
    else
        snprintf(out, cap, "%sZ", base);
}

static void meta(struct fs_wbuf *b, const struct fs_rp_reports *r, enum rp_kind kind,
                 const struct rp_acc *a, uint64_t anomalies)
{
    char iso[40];
    time_t local = (time_t)(((int64_t)a->start_ms + (int64_t)r->utc_offset_s * 1000) / 1000);
    struct tm tm;

    fs_wbuf_printf(b, "\"meta\":{\"kind\":\"%s\"", rp_kind_names[kind]);
    cnt(b, ",", "start_ms", a->start_ms);
    cnt(b, ",", "end_ms", a->end_ms);
    rp_iso(a->start_ms, iso, sizeof(iso));
    fs_wbuf_printf(b, ",\"start\":\"%s\"", iso);
    rp_iso(a->end_ms, iso, sizeof(iso));
    fs_wbuf_printf(b, ",\"end\":\"%s\"", iso);
    if (gmtime_r(&local, &tm) == NULL || strftime(iso, sizeof(iso), "%Y-%m-%d", &tm) == 0)
        iso[0] = '\0';
    fs_wbuf_printf(b, ",\"date\":\"%s\"", iso);
    num(b, ",", "utc_offset_s", r->utc_offset_s);
    fs_wbuf_printf(b, ",\"generated_by\":");
    put_str(b, r->sender);
    cnt(b, ",", "summaries", a->summaries);
    if (a->summaries) {
        cnt(b, ",", "first_ms", a->first_ms);
        cnt(b, ",", "last_ms", a->last_ms);
    } else {
        fs_wbuf_printf(b, ",\"first_ms\":null,\"last_ms\":null");
    }
    cnt(b, ",\"counts\":{", "anomalies", anomalies);
    cnt(b, ",", "analyzer_anomalies", a->analyzer_anomalies);
    fs_wbuf_printf(b, ",\"dropped\":{");
    for (int l = 0; l < RP_NLISTS; l++)
        cnt(b, l ? "," : "", rp_list_names[l], a->dropped[l]);
    fs_wbuf_printf(b, "}}}");
}

static void profiles(struct fs_wbuf *b, const struct rp_acc *a)
{
    fs_wbuf_printf(b, ",\n\"network\":{\"hour_of_day\":[");
    for (int i = 0; i < 24 + 7; i++) {
        const struct fs_summary_profile *p = i < 24 ? &a->hour_of_day[i] : &a->day_of_week[i - 24];
        if (i == 24)
            fs_wbuf_printf(b, "],\"day_of_week\":[");
        else if (i > 0)
            fs_wbuf_printf(b, ",");
        if (i < 24)
            fs_wbuf_printf(b, "\n{\"hour\":%d", i);
        else
            fs_wbuf_printf(b, "\n{\"day\":\"%s\"", day_names[i - 24]);
        cnt(b, ",", "samples", p->samples);
        for (int m = 0; m < FS_SUMMARY_NMETRICS; m++) {
            fs_wbuf_printf(b, ",\"%s\":{", profile_metrics[m]);
            num(b, "", "mean", p->mean[m]);
            num(b, ",", "std", p->std[m]);
            fs_wbuf_printf(b, "}");
        }
        fs_wbuf_printf(b, "}");
    }
    fs_wbuf_printf(b, "]}");
}

static void one_period(struct fs_wbuf *b, const struct rp_acc *a, const void *e)
{
    const struct rp_period *p = e;
    (void)a;
    cnt(b, "{", "start_ms", p->start_ms);
    cnt(b, ",", "end_ms", p->end_ms);
    cnt(b, ",", "bytes", p->bytes);
    cnt(b, ",", "packets", p->packets);
    cnt(b, ",", "flows", p->flows);
    fs_wbuf_printf(b, "}");
}

static void one_proto(struct fs_wbuf *b, const struct rp_acc *a, const void *e)
{
    const struct rp_proto *p = e;
    cnt(b, "{", "proto", p->proto);
    cnt(b, ",", "flows", p->flows);
    cnt(b, ",", "packets", p->packets);
    cnt(b, ",", "bytes", p->bytes);
    share(b, "share_flows", p->flows, a->flows);
    share(b, "share_bytes", p->bytes, a->bytes);
    fs_wbuf_printf(b, "}");
}

static void one_port(struct fs_wbuf *b, const struct rp_acc *a, const void *e)
{
    const struct rp_port *p = e;
    cnt(b, "{", "proto", p->proto);
    cnt(b, ",", "port", p->port);
    cnt(b, ",", "flows", p->flows);
    cnt(b, ",", "bytes", p->bytes);
    share(b, "share_flows", p->flows, a->flows);
    share(b, "share_bytes", p->bytes, a->bytes);
    fs_wbuf_printf(b, "}");
}

static void one_host(struct fs_wbuf *b, const struct rp_acc *a, const void *e)
{
    const struct rp_host *h = e;
    (void)a;
    ip(b, "{", "addr", &h->addr);
    cnt(b, ",", "bytes_out", h->bytes_out);
    cnt(b, ",", "bytes_in", h->bytes_in);
    cnt(b, ",", "packets", h->packets);
    cnt(b, ",", "flows", h->flows);
    cnt(b, ",", "periods", h->periods);
    fs_wbuf_printf(b, ",\"baseline\":{");
    for (unsigned m = 0; m < FS_SUMMARY_HOST_METRICS; m++) {
        const struct fs_summary_stat *s = &h->base[m];
        fs_wbuf_printf(b, "%s\"%s\":{", m ? "," : "", fs_summary_metric_name(m));
        cnt(b, "", "samples", s->samples);
        num(b, ",", "mean", s->mean);
        num(b, ",", "std", s->std);
        num(b, ",", "median", s->median);
        num(b, ",", "q1", s->q1);
        num(b, ",", "q3", s->q3);
        fs_wbuf_printf(b, "}");
    }
    fs_wbuf_printf(b, "}}");
}

static void one_talker(struct fs_wbuf *b, const struct rp_acc *a, const void *e)
{
    const struct rp_talker *t = e;
    (void)a;
    ip(b, "{", "addr", &t->addr);
    cnt(b, ",", "bytes_out", t->bytes_out);
    cnt(b, ",", "bytes_in", t->bytes_in);
    cnt(b, ",", "flows", t->flows);
    num(b, ",", "expected", t->expected);
    num(b, ",", "z", t->z);
    num(b, ",", "peak_z", t->peak_z);
    cnt(b, ",", "periods", t->periods);
    fs_wbuf_printf(b, "}");
}

typedef void (*one_fn)(struct fs_wbuf *b, const struct rp_acc *a, const void *e);

/* A list as `key`, heaviest first (periods: in time order). */
static int list(struct fs_wbuf *b, const struct rp_acc *a, int l, const char *key, one_fn one)
{
    const struct rp_list *li = &a->list[l];
    size_t size = rp_list_ops[l].size;
    unsigned char *v = NULL;

    if (li->n) {
        if ((v = malloc(li->n * size)) == NULL)
            return -1;
        memcpy(v, li->v, li->n * size);
        if (l != RP_PERIODS)
            qsort(v, li->n, size, rp_list_ops[l].weight);
    }
    fs_wbuf_printf(b, ",\n\"%s\":[", key);
    for (size_t i = 0; i < li->n; i++) {
        fs_wbuf_printf(b, "%s\n", i ? "," : "");
        one(b, a, v + i * size);
    }
    fs_wbuf_printf(b, "]");
    free(v);
    return 0;
}

/* The accumulation's anomalies, then those of `more`, as one list. */
static void anomalies(struct fs_wbuf *b, const struct fs_rp_reports *r, const struct rp_anoms *own,
                      const struct rp_anoms *more)
{
    const struct rp_anoms *src[2] = { own, more };
    uint64_t by_class[FS_AC_COUNT] = { 0 }, by_sev[FS_SEV_CRITICAL + 1] = { 0 }, unlisted = 0;
    size_t n = 0, listed = 0;

    for (int k = 0; k < 2 && src[k]; k++) {
        for (int c = 0; c < FS_AC_COUNT; c++)
            by_class[c] += src[k]->by_class[c];
        for (int s = 0; s <= FS_SEV_CRITICAL; s++)
            by_sev[s] += src[k]->by_sev[s];
        unlisted += src[k]->unlisted;
        n += src[k]->n;
    }
    if (n > r->max_anomalies)
        unlisted += n - r->max_anomalies;
    fs_wbuf_printf(b, ",\n\"anomalies_by_class\":{");
    for (int c = 0; c < FS_AC_COUNT; c++)
        cnt(b, c ? "," : "", fs_anomaly_class_name((enum fs_anomaly_class)c), by_class[c]);
    fs_wbuf_printf(b, "},\n\"anomalies_by_severity\":{");
    for (int s = 0; s <= FS_SEV_CRITICAL; s++)
        cnt(b, s ? "," : "", fs_severity_name((enum fs_severity)s), by_sev[s]);
    cnt(b, "},\n", "anomalies_unlisted", unlisted);
    fs_wbuf_printf(b, ",\n\"anomalies\":[");
    for (int k = 0; k < 2 && src[k]; k++) {
        for (size_t i = 0; i < src[k]->n && listed < r->max_anomalies; i++, listed++) {
            fs_wbuf_printf(b, "%s\n", listed ? "," : "");
            fs_wbuf_bytes(b, src[k]->v[i], strlen(src[k]->v[i]));
        }
    }
    fs_wbuf_printf(b, "]");
}

int rp_render(const struct fs_rp_reports *r, enum rp_kind kind, const struct rp_acc *a,
              const struct rp_anoms *more, struct fs_wbuf *out)
{
    memset(out, 0, sizeof(*out));
    fs_wbuf_printf(out, "{\"report_version\":1,\n");
    meta(out, r, kind, a, a->an.total + (more ? more->total : 0));
    cnt(out, ",\n\"traffic\":{", "bytes", a->bytes);
    cnt(out, ",", "packets", a->packets);
    cnt(out, ",", "flows", a->flows);
    cnt(out, ",", "hosts", a->hosts);
    fs_wbuf_printf(out, "}");
    if (list(out, a, RP_PERIODS, "periods", one_period) != 0)
        goto oom;
    profiles(out, a);
    if (list(out, a, RP_PROTOS, "protocols", one_proto) != 0 ||
        list(out, a, RP_PORTS, "ports", one_port) != 0 ||
        list(out, a, RP_HOSTS, "hosts", one_host) != 0 ||
        list(out, a, RP_TALKERS, "top_talkers", one_talker) != 0)
        goto oom;
    anomalies(out, r, &a->an, more);
    fs_wbuf_printf(out, "}\n");
    if (!out->oom)
        return 0;
oom:
    fs_wbuf_free(out);
    return -1;
}
