/*
 * report.c - the JSON report of a --read run (and of a live analyzer on
 * SIGUSR2): what the network and each host usually do, what they did, and
 * what stood out. docs/analyzer.md describes every key.
 *
 * The report holds no wall-clock time, so the same input gives the same
 * report byte for byte.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static const char *const proto_class_names[AN_NPROTO] = { "tcp", "udp", "icmp", "other" };
static const char *const day_names[7] = { "monday", "tuesday", "wednesday", "thursday",
                                          "friday", "saturday", "sunday" };
static const char *const profile_metrics[FS_SUMMARY_NMETRICS] = { "bytes", "packets", "flows" };

struct rep {
    FILE *fp;
    bool err;
    bool first; /* no separator before the next member */
};

__attribute__((format(printf, 2, 3)))
static void out(struct rep *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(r->fp, fmt, ap) < 0)
        r->err = true;
    va_end(ap);
}

/* `"key":number` with the separator given. */
static void num(struct rep *r, const char *sep, const char *key, double v)
{
    char buf[FS_JSON_NUM_MAX];
    out(r, "%s\"%s\":%s", sep, key, fs_json_num(v, buf));
}

static void ip(struct rep *r, const char *sep, const char *key, const fs_ip *a)
{
    char buf[FS_IP_STRLEN];
    out(r, "%s\"%s\":\"%s\"", sep, key, fs_ip_format(a, buf));
}

static void report_meta(struct rep *r, struct fs_an_ctx *c)
{
    const struct fs_an_config *cfg = c->cfg;
    char buf[FS_CIDR_STRLEN];

    out(r, "\"analyzer\":{");
    num(r, "", "window_s", cfg->window);
    num(r, ",", "lateness_s", cfg->lateness);
    num(r, ",", "warmup_s", cfg->warmup);
    num(r, ",", "utc_offset_s", cfg->utc_offset);
    num(r, ",", "first_ms", (double)c->first_ms);
    num(r, ",", "last_ms", (double)c->max_ts);
    out(r, ",\"warm\":%s", c->first_ms && c->max_ts >= c->first_ms + (uint64_t)cfg->warmup * 1000
                               ? "true" : "false");
    out(r, ",\"home_net\":[");
    for (size_t i = 0; i < cfg->home.n; i++)
        out(r, "%s\"%s\"", i ? "," : "", fs_cidr_format(&cfg->home.v[i], buf));
    out(r, "]");
    num(r, ",", "bytes_per_host", (double)fs_analyzer_bytes_per_host(c));
    out(r, "}");
}

static void counter_json(void *arg, const char *name, uint64_t v)
{
    struct rep *r = arg;
    char buf[FS_JSON_NUM_MAX];
    out(r, "%s\"%s\":%s", r->first ? "" : ",", name, fs_json_num((double)v, buf));
    r->first = false;
}

static void report_profiles(struct rep *r, struct fs_an_ctx *c)
{
    struct fs_summary_profile p;

    out(r, ",\"network\":{\"hour_of_day\":[");
    for (int i = 0; i < 24 + 7; i++) {
        const struct fs_stat *s = i < 24 ? c->prof_hour[i] : c->prof_day[i - 24];
        if (i == 24)
            out(r, "],\"day_of_week\":[");
        else if (i > 0)
            out(r, ",");
        if (i < 24)
            out(r, "{\"hour\":%d", i);
        else
            out(r, "{\"day\":\"%s\"", day_names[i - 24]);
        p.samples = (uint32_t)s[0].n;
        num(r, ",", "samples", p.samples);
        for (int m = 0; m < FS_SUMMARY_NMETRICS; m++) {
            out(r, ",\"%s\":{", profile_metrics[m]);
            num(r, "", "mean", fs_stat_mean(&s[m]));
            num(r, ",", "std", fs_stat_std(&s[m]));
            out(r, "}");
        }
        out(r, "}");
    }
    out(r, "]}");
}

static int cmp_proto_bytes(const void *x, const void *y)
{
    const struct fs_summary_proto *a = x, *b = y;
    if (a->bytes != b->bytes)
        return a->bytes < b->bytes ? 1 : -1;
    return (int)a->proto - (int)b->proto;
}

static void report_distributions(struct rep *r, struct fs_an_ctx *c)
{
    struct fs_summary_proto pr[256];
    size_t n = 0;

    for (int p = 0; p < 256; p++) {
        uint64_t flows = c->proto_flows[p] + c->per_proto_flows[p];
        if (flows == 0)
            continue;
        pr[n].proto = (uint8_t)p;
        pr[n].flows = flows;
        pr[n].packets = c->proto_packets[p] + c->per_proto_packets[p];
        pr[n].bytes = c->proto_bytes[p] + c->per_proto_bytes[p];
        n++;
    }
    qsort(pr, n, sizeof(pr[0]), cmp_proto_bytes);
    out(r, ",\"protocols\":[");
    for (size_t i = 0; i < n; i++) {
        num(r, i ? ",{" : "{", "proto", pr[i].proto);
        num(r, ",", "flows", (double)pr[i].flows);
        num(r, ",", "packets", (double)pr[i].packets);
        num(r, ",", "bytes", (double)pr[i].bytes);
        out(r, "}");
    }
    out(r, "]");

    /* Ports: the run's sketches and the current period's, merged. */
    struct fs_topk *flows = fs_topk_new(fs_topk_capacity(c->ports));
    struct fs_topk *bytes = fs_topk_new(fs_topk_capacity(c->port_bytes));
    struct fs_topk_entry e[64];
    size_t np = 0;
    if (flows && bytes && fs_topk_merge(flows, c->ports) == 0 &&
        fs_topk_merge(flows, c->per_ports) == 0 && fs_topk_merge(bytes, c->port_bytes) == 0 &&
        fs_topk_merge(bytes, c->per_port_bytes) == 0)
        np = fs_topk_list(flows, e, c->cfg->top_n < 64 ? c->cfg->top_n : 64);
    out(r, ",\"ports\":[");
    for (size_t i = 0; i < np; i++) {
        struct fs_topk_entry b;
        num(r, i ? ",{" : "{", "proto", (double)(e[i].key.id >> 16));
        num(r, ",", "port", (double)(e[i].key.id & 0xffff));
        num(r, ",", "flows", (double)e[i].count);
        num(r, ",", "bytes", fs_topk_get(bytes, &e[i].key, &b) ? (double)b.count : 0);
        out(r, "}");
    }
    out(r, "]");
    fs_topk_free(flows);
    fs_topk_free(bytes);
}

static void host_baseline(struct rep *r, const struct an_host *h)
{
    out(r, ",\"baseline\":{");
    for (int m = 0; m < FS_M_COUNT; m++) {
        struct fs_summary_stat st;
        double mad;

        an_host_figures(h, (enum fs_metric)m, &st, &mad);
        out(r, "%s\"%s\":{", m ? "," : "", fs_metric_name((enum fs_metric)m));
        num(r, "", "samples", (double)st.samples);
        num(r, ",", "mean", st.mean);
        num(r, ",", "std", st.std);
        num(r, ",", "median", st.median);
        num(r, ",", "mad", mad);
        num(r, ",", "q1", st.q1);
        num(r, ",", "q3", st.q3);
        out(r, "}");
    }
    out(r, "}");
}

static int cmp_host_bytes(const void *x, const void *y)
{
    const struct an_host *a = *(const struct an_host *const *)x;
    const struct an_host *b = *(const struct an_host *const *)y;
    uint64_t ba = a->tot[AN_SUM_BYTES_OUT] + a->tot[AN_SUM_BYTES_IN];
    uint64_t bb = b->tot[AN_SUM_BYTES_OUT] + b->tot[AN_SUM_BYTES_IN];
    if (ba != bb)
        return ba < bb ? 1 : -1;
    return memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

static int cmp_port_flows(const void *x, const void *y)
{
    const struct an_port *a = x, *b = y;
    if (a->flows != b->flows)
        return a->flows < b->flows ? 1 : -1;
    return (int)a->port - (int)b->port;
}

static void report_hosts(struct rep *r, struct fs_an_ctx *c)
{
    const struct an_hosts *t = &c->hosts;
    const struct an_host **order = malloc((t->n ? t->n : 1) * sizeof(*order));

    if (order == NULL) {
        r->err = true;
        return;
    }
    for (uint32_t i = 0; i < t->n; i++)
        order[i] = &t->h[i];
    qsort(order, t->n, sizeof(*order), cmp_host_bytes);
    out(r, ",\"hosts\":[");
    for (uint32_t i = 0; i < t->n; i++) {
        const struct an_host *h = order[i];
        struct an_port ports[AN_HOST_PORTS];

        ip(r, i ? ",{" : "{", "addr", &h->addr);
        num(r, ",", "first_ms", (double)h->first_ms);
        num(r, ",", "last_ms", (double)h->last_ms);
        num(r, ",", "bytes_out", (double)h->tot[AN_SUM_BYTES_OUT]);
        num(r, ",", "bytes_in", (double)h->tot[AN_SUM_BYTES_IN]);
        num(r, ",", "packets", (double)h->tot[AN_SUM_PACKETS]);
        num(r, ",", "flows", (double)h->tot[AN_SUM_FLOWS]);
        out(r, ",\"protocols\":{");
        for (int p = 0; p < AN_NPROTO; p++) {
            out(r, "%s\"%s\":{", p ? "," : "", proto_class_names[p]);
            num(r, "", "flows", (double)h->proto_flows[p]);
            num(r, ",", "bytes", (double)h->proto_bytes[p]);
            out(r, "}");
        }
        out(r, "},\"ports\":[");
        memcpy(ports, h->ports, sizeof(ports));
        qsort(ports, AN_HOST_PORTS, sizeof(ports[0]), cmp_port_flows);
        for (int p = 0; p < AN_HOST_PORTS && ports[p].flows; p++) {
            num(r, p ? ",{" : "{", "proto", ports[p].proto);
            num(r, ",", "port", ports[p].port);
            num(r, ",", "flows", (double)ports[p].flows);
            num(r, ",", "bytes", (double)ports[p].bytes);
            out(r, "}");
        }
        out(r, "]");
        host_baseline(r, h);
        out(r, "}");
    }
    out(r, "]");
    free(order);
}

static void report_talkers(struct rep *r, struct fs_an_ctx *c)
{
    uint32_t cap = c->cfg->report_windows;

    out(r, ",\"top_talkers\":[");
    for (uint32_t i = 0; i < c->ntalkers; i++) {
        const struct an_talkers *w = &c->talkers[(c->talkers_pos + cap - c->ntalkers + i) % cap];
        num(r, i ? ",{" : "{", "ts", (double)w->start_ms);
        out(r, ",\"talkers\":[");
        for (uint32_t j = 0; j < w->n; j++) {
            const struct an_talker *t = &w->t[j];
            ip(r, j ? ",{" : "{", "addr", &t->addr);
            num(r, ",", "bytes_out", (double)t->bytes_out);
            num(r, ",", "bytes_in", (double)t->bytes_in);
            num(r, ",", "flows", (double)t->flows);
            num(r, ",", "z_out", t->z_out);
            num(r, ",", "z_in", t->z_in);
            out(r, "}");
        }
        out(r, "]}");
    }
    out(r, "]");
}

static void report_anomalies(struct rep *r, struct fs_an_ctx *c)
{
    char line[FS_ANOMALY_JSON_MAX];

    out(r, ",\"anomalies\":[");
    for (size_t i = 0; i < c->nkept; i++) {
        if (fs_anomaly_json(&c->kept[i], line, sizeof(line)) < 0)
            continue;
        out(r, "%s\n%s", i ? "," : "", line);
    }
    out(r, "]");
}

int fs_analyzer_report(struct fs_an_ctx *c, FILE *fp)
{
    struct rep r = { fp, false, true };

    out(&r, "{\"report_version\":1,");
    report_meta(&r, c);
    out(&r, ",\"counters\":{");
    fs_analyzer_each_counter(c, counter_json, &r);
    out(&r, "}");
    report_profiles(&r, c);
    report_distributions(&r, c);
    report_hosts(&r, c);
    report_talkers(&r, c);
    report_anomalies(&r, c);
    out(&r, "}\n");
    if (fflush(fp) != 0)
        r.err = true;
    if (r.err && errno == 0)
        errno = EIO;
    return r.err ? -1 : 0;
}
