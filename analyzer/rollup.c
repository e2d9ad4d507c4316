/*
 * rollup.c - what the analyzer learns about the network as a whole, and the
 * summaries it sends: hourly and daily roll-ups into the hour-of-day and
 * day-of-week profiles, protocol and port distributions, top talkers per
 * window with their deviation from their own baselines, and the summary of
 * each summary interval (event time), with its busiest hosts' statistics.
 *
 * An hour (day) is a profile sample once it is over, which the first window
 * of a later hour shows; the first hour of a run, if it began mid-way, and
 * the last one at the end of input, unless its last window ended on the
 * hour, are partial and left out, so profiles hold whole hours only.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define PORTS_CAPACITY 256

/* A summary's host statistics are indexed by enum fs_metric. */
_Static_assert((int)FS_SUMMARY_HOST_METRICS == (int)FS_M_COUNT, "summary host metrics != fs_metric");

int an_rollup_init(struct fs_an_ctx *c)
{
    const struct fs_an_config *cfg = c->cfg;

    c->ports = fs_topk_new(PORTS_CAPACITY);
    c->per_ports = fs_topk_new(PORTS_CAPACITY);
    c->port_bytes = fs_topk_new(PORTS_CAPACITY);
    c->per_port_bytes = fs_topk_new(PORTS_CAPACITY);
    c->sum_talkers = calloc(cfg->top_n, sizeof(*c->sum_talkers));
    c->sum_ports = calloc(cfg->top_n, sizeof(*c->sum_ports));
    c->sum_protos = calloc(256, sizeof(*c->sum_protos));
    c->sum_hosts = calloc(cfg->top_n, sizeof(*c->sum_hosts));
    if (cfg->report_windows) {
        c->talkers = calloc(cfg->report_windows, sizeof(*c->talkers));
        if (c->talkers != NULL)
            c->talkers[0].t = calloc((size_t)cfg->report_windows * cfg->top_n,
                                     sizeof(struct an_talker));
        if (c->talkers == NULL || c->talkers[0].t == NULL)
            return -1;
        for (uint32_t i = 1; i < cfg->report_windows; i++)
            c->talkers[i].t = c->talkers[0].t + (size_t)i * cfg->top_n;
    }
    if (!c->ports || !c->per_ports || !c->port_bytes || !c->per_port_bytes || !c->sum_talkers ||
        !c->sum_ports || !c->sum_protos || !c->sum_hosts)
        return -1;
    an_rollup_reset(c);
    return 0;
}

void an_rollup_free(struct fs_an_ctx *c)
{
    fs_topk_free(c->ports);
    fs_topk_free(c->per_ports);
    fs_topk_free(c->port_bytes);
    fs_topk_free(c->per_port_bytes);
    free(c->sum_talkers);
    free(c->sum_ports);
    free(c->sum_protos);
    free(c->sum_hosts);
    if (c->talkers)
        free(c->talkers[0].t);
    free(c->talkers);
}

void an_rollup_reset(struct fs_an_ctx *c)
{
    memset(c->prof_hour, 0, sizeof(c->prof_hour));
    memset(c->prof_day, 0, sizeof(c->prof_day));
    memset(&c->hour, 0, sizeof(c->hour));
    memset(&c->day, 0, sizeof(c->day));
    c->hour.win = c->day.win = UINT64_MAX;
    memset(c->proto_flows, 0, sizeof(c->proto_flows));
    memset(c->proto_bytes, 0, sizeof(c->proto_bytes));
    memset(c->proto_packets, 0, sizeof(c->proto_packets));
    memset(c->per_proto_flows, 0, sizeof(c->per_proto_flows));
    memset(c->per_proto_bytes, 0, sizeof(c->per_proto_bytes));
    memset(c->per_proto_packets, 0, sizeof(c->per_proto_packets));
    fs_topk_clear(c->ports);
    fs_topk_clear(c->per_ports);
    fs_topk_clear(c->port_bytes);
    fs_topk_clear(c->per_port_bytes);
    memset(&c->period, 0, sizeof(c->period));
    c->period.win = UINT64_MAX;
    c->period_anomalies = 0;
    memset(c->period_how, 0, sizeof(c->period_how));
    c->ntalkers = c->talkers_pos = 0;
}

void an_rollup_flow(struct fs_an_ctx *c, const struct fs_flow *f)
{
    uint64_t bytes = (FS_FLOW_HAS(f, FS_F_BYTES) ? f->bytes : 0) +
                     (FS_FLOW_HAS(f, FS_F_REV_BYTES) ? f->rev_bytes : 0);
    uint8_t proto = FS_FLOW_HAS(f, FS_F_PROTO) ? f->proto : 0;

    c->per_proto_flows[proto]++;
    c->per_proto_bytes[proto] += bytes;
    c->per_proto_packets[proto] += (FS_FLOW_HAS(f, FS_F_PACKETS) ? f->packets : 0) +
                                   (FS_FLOW_HAS(f, FS_F_REV_PACKETS) ? f->rev_packets : 0);
    uint16_t port = an_service_port(f);
    if (port) {
        struct fs_topk_key k = fs_topk_key_id((uint64_t)proto << 16 | port);
        fs_topk_add(c->per_ports, &k, 1);
        fs_topk_add(c->per_port_bytes, &k, bytes);
    }
}

/* ------------------------------------------------------------------ */
/* Profiles. */

static void profile_add(struct fs_stat *slot, const struct an_net *t)
{
    fs_stat_add(&slot[FS_SUMMARY_BYTES], (double)t->bytes);
    fs_stat_add(&slot[FS_SUMMARY_PACKETS], (double)t->packets);
    fs_stat_add(&slot[FS_SUMMARY_FLOWS], (double)t->flows);
}

/* Local seconds of an event time. */
static int64_t local_s(const struct fs_an_ctx *c, uint64_t ms)
{
    return (int64_t)(ms / 1000) + c->cfg->utc_offset;
}

/* Adds window `w` to the roll-up `r` of `len` seconds, first closing the
 * bucket in progress if `w` starts a new one. */
static void rollup_add(struct fs_an_ctx *c, struct an_net *r, bool *partial, int64_t len,
                       const struct an_net *w, bool daily)
{
    int64_t s = local_s(c, w->win * c->win_ms);
    uint64_t idx = (uint64_t)(s / len);

    if (r->win != idx) {
        if (r->win != UINT64_MAX && !*partial) {
            if (daily)
                profile_add(c->prof_day[(r->win + 3) % 7], r);
            else
                profile_add(c->prof_hour[r->win % 24], r);
        }
        /* Only the run's first bucket can begin mid-way. */
        *partial = r->win == UINT64_MAX && s % len != 0;
        memset(r, 0, sizeof(*r));
        r->win = idx;
    }
    r->bytes += w->bytes;
    r->packets += w->packets;
    r->flows += w->flows;
    r->last_end = (w->win + 1) * c->win_ms;
}

static void rollup_finish_one(struct fs_an_ctx *c, struct an_net *r, bool *partial,
                              int64_t len, bool daily)
{
    /* Complete if its last window ended with the bucket. */
    if (r->win != UINT64_MAX && !*partial && local_s(c, r->last_end) % len == 0) {
        if (daily)
            profile_add(c->prof_day[(r->win + 3) % 7], r);
        else
            profile_add(c->prof_hour[r->win % 24], r);
    }
    memset(r, 0, sizeof(*r));
    r->win = UINT64_MAX;
    *partial = false;
}

/* ------------------------------------------------------------------ */
/* Top talkers of a window. */

static uint64_t acc_bytes(const struct an_acc *a)
{
    return a->v[AN_SUM_BYTES_OUT] + a->v[AN_SUM_BYTES_IN];
}

static double host_z(struct fs_an_ctx *c, const struct an_host *h, enum fs_metric m,
                     unsigned how, double x)
{
    struct fs_baseline_view v;
    an_base_moments(c, h->base, m, how, &v);
    return v.samples ? (x - v.mean) / v.std : 0;
}

static void window_talkers(struct fs_an_ctx *c, uint64_t win, unsigned how)
{
    uint32_t top = c->cfg->top_n, n = 0;
    struct an_talkers *slot;

    if (c->talkers == NULL)
        return;
    slot = &c->talkers[c->talkers_pos];
    for (uint32_t i = 0; i < c->hosts.n; i++) {
        const struct an_host *h = &c->hosts.h[i];
        const struct an_acc *a = &h->acc[win % AN_NOPEN];
        if (a->win != win)
            continue;
        uint64_t b = acc_bytes(a);
        if (n == top && b <= slot->t[n - 1].bytes_out + slot->t[n - 1].bytes_in)
            continue;
        uint32_t j = n < top ? n++ : n - 1;
        while (j > 0 && slot->t[j - 1].bytes_out + slot->t[j - 1].bytes_in < b) {
            slot->t[j] = slot->t[j - 1];
            j--;
        }
        struct an_talker *t = &slot->t[j];
        t->addr = h->addr;
        t->bytes_out = a->v[AN_SUM_BYTES_OUT];
        t->bytes_in = a->v[AN_SUM_BYTES_IN];
        t->flows = a->v[AN_SUM_FLOWS];
    }
    for (uint32_t j = 0; j < n; j++) {
        struct an_talker *t = &slot->t[j];
        const struct an_host *h = an_hosts_find(&c->hosts, &t->addr);
        t->z_out = host_z(c, h, FS_M_BYTES_OUT, how, (double)t->bytes_out);
        t->z_in = host_z(c, h, FS_M_BYTES_IN, how, (double)t->bytes_in);
    }
    slot->start_ms = win * c->win_ms;
    slot->n = n;
    c->talkers_pos = (c->talkers_pos + 1) % c->cfg->report_windows;
    if (c->ntalkers < c->cfg->report_windows)
        c->ntalkers++;
}

/* ------------------------------------------------------------------ */
/* Summaries. */

static int cmp_talker(const void *x, const void *y)
{
    const struct fs_summary_talker *a = x, *b = y;
    uint64_t ba = a->bytes_out + a->bytes_in, bb = b->bytes_out + b->bytes_in;
    if (ba != bb)
        return ba < bb ? 1 : -1;
    return memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

static int cmp_proto(const void *x, const void *y)
{
    const struct fs_summary_proto *a = x, *b = y;
    if (a->bytes != b->bytes)
        return a->bytes < b->bytes ? 1 : -1;
    return (int)a->proto - (int)b->proto;
}

static void fill_profile(struct fs_summary_profile *out, const struct fs_stat *s)
{
    out->samples = (uint32_t)s[0].n;
    for (int m = 0; m < FS_SUMMARY_NMETRICS; m++) {
        out->mean[m] = fs_stat_mean(&s[m]);
        out->std[m] = fs_stat_std(&s[m]);
    }
}

void an_host_figures(const struct an_host *h, enum fs_metric m, struct fs_summary_stat *out,
                     double *mad)
{
    struct fs_stat st;
    struct fs_stat_summary q;
    struct fs_qs all = h->base->all[m];

    an_base_overall(h->base, m, &st);
    /* The any-time sketch takes few windows; while it holds little, the
     * per-block ones stand in. */
    if (fs_qs_len(&all) < FS_QS_K / 2)
        for (int k = 0; k < AN_BLOCKS; k++)
            fs_qs_merge(&all, &h->base->blk[m][k]);
    fs_qs_summarize(&all, &q);
    out->samples = (uint32_t)st.n;
    out->mean = fs_stat_mean(&st);
    out->std = fs_stat_std(&st);
    out->median = q.median;
    out->q1 = q.q1;
    out->q3 = q.q3;
    if (mad != NULL)
        *mad = q.mad;
}

/* The period figures and baselines of a talker's host. */
static void host_stat(struct fs_an_ctx *c, const struct fs_summary_talker *t,
                      struct fs_summary_host *out)
{
    const struct an_host *h = an_hosts_find(&c->hosts, &t->addr);

    memset(out, 0, sizeof(*out));
    out->addr = t->addr;
    out->bytes_out = t->bytes_out;
    out->bytes_in = t->bytes_in;
    out->flows = t->flows;
    if (h == NULL)
        return;
    out->packets = h->per_packets;
    for (int m = 0; m < FS_SUMMARY_HOST_METRICS; m++)
        an_host_figures(h, (enum fs_metric)m, &out->base[m], NULL);
}

/* Expected bytes of a talker over the period: the sum of its slot means
 * over the period's windows; z against the summed variances (windows taken
 * as independent). */
static void talker_expectation(struct fs_an_ctx *c, struct fs_summary_talker *t)
{
    const struct an_host *h = an_hosts_find(&c->hosts, &t->addr);
    double exp = 0, var = 0;

    for (unsigned how = 0; h != NULL && how < AN_HOW; how++) {
        struct fs_baseline_view vo, vi;
        if (c->period_how[how] == 0)
            continue;
        an_base_moments(c, h->base, FS_M_BYTES_OUT, how, &vo);
        an_base_moments(c, h->base, FS_M_BYTES_IN, how, &vi);
        exp += c->period_how[how] * (vo.mean + vi.mean);
        var += c->period_how[how] * (vo.std * vo.std + vi.std * vi.std);
    }
    t->expected = exp;
    t->z = ((double)(t->bytes_out + t->bytes_in) - exp) / sqrt(var > 1 ? var : 1);
}

void fs_analyzer_summary(struct fs_an_ctx *c, struct fs_summary *s)
{
    uint32_t top = c->cfg->top_n, n = 0;
    uint64_t len = (uint64_t)c->cfg->summary_interval * 1000;

    memset(s, 0, sizeof(*s));
    if (c->period.win != UINT64_MAX) {
        s->ts_ms = c->period.win * len;
        s->end_ms = s->ts_ms + len;
    }
    s->bytes = c->period.bytes;
    s->packets = c->period.packets;
    s->flows = c->period.flows;
    s->hosts = c->hosts.n;
    s->anomalies = c->period_anomalies;
    for (int h = 0; h < 24; h++)
        fill_profile(&s->hour_of_day[h], c->prof_hour[h]);
    for (int d = 0; d < 7; d++)
        fill_profile(&s->day_of_week[d], c->prof_day[d]);

    /* Talkers: the top_n by bytes, kept sorted by insertion; then what
     * their baselines expected over the period's windows. */
    for (uint32_t i = 0; i < c->hosts.n; i++) {
        const struct an_host *h = &c->hosts.h[i];
        struct fs_summary_talker t = { h->addr, h->per_bytes_out, h->per_bytes_in, h->per_flows,
                                       0, 0 };
        if (t.flows == 0 || (n == top && cmp_talker(&t, &c->sum_talkers[n - 1]) >= 0))
            continue;
        uint32_t j = n < top ? n++ : n - 1;
        while (j > 0 && cmp_talker(&t, &c->sum_talkers[j - 1]) < 0) {
            c->sum_talkers[j] = c->sum_talkers[j - 1];
            j--;
        }
        c->sum_talkers[j] = t;
    }
    for (uint32_t j = 0; j < n; j++) {
        talker_expectation(c, &c->sum_talkers[j]);
        host_stat(c, &c->sum_talkers[j], &c->sum_hosts[j]);
    }
    s->talkers = c->sum_talkers;
    s->ntalkers = n;
    s->host_stats = c->sum_hosts;
    s->nhost_stats = n;

    struct fs_topk_entry e[64];
    size_t np = fs_topk_list(c->per_ports, e, top < 64 ? top : 64);
    for (size_t i = 0; i < np; i++) {
        struct fs_topk_entry b;
        c->sum_ports[i].proto = (uint8_t)(e[i].key.id >> 16);
        c->sum_ports[i].port = (uint16_t)e[i].key.id;
        c->sum_ports[i].flows = e[i].count;
        c->sum_ports[i].bytes = fs_topk_get(c->per_port_bytes, &e[i].key, &b) ? b.count : 0;
    }
    s->ports = c->sum_ports;
    s->nports = np;

    size_t npr = 0;
    for (int p = 0; p < 256; p++) {
        if (c->per_proto_flows[p] == 0)
            continue;
        c->sum_protos[npr].proto = (uint8_t)p;
        c->sum_protos[npr].flows = c->per_proto_flows[p];
        c->sum_protos[npr].packets = c->per_proto_packets[p];
        c->sum_protos[npr].bytes = c->per_proto_bytes[p];
        npr++;
    }
    qsort(c->sum_protos, npr, sizeof(*c->sum_protos), cmp_proto);
    s->protos = c->sum_protos;
    s->nprotos = npr < top ? npr : top;
}

/* Sends the summary of the period in progress and starts the next. */
static void period_close(struct fs_an_ctx *c)
{
    struct fs_summary s;

    if (c->period.win == UINT64_MAX)
        return;
    fs_analyzer_summary(c, &s);
    if (c->summary_fn)
        c->summary_fn(c->summary_arg, &s);
    c->n.summaries++;
    for (int p = 0; p < 256; p++) {
        c->proto_flows[p] += c->per_proto_flows[p];
        c->proto_bytes[p] += c->per_proto_bytes[p];
        c->proto_packets[p] += c->per_proto_packets[p];
    }
    memset(c->per_proto_flows, 0, sizeof(c->per_proto_flows));
    memset(c->per_proto_bytes, 0, sizeof(c->per_proto_bytes));
    memset(c->per_proto_packets, 0, sizeof(c->per_proto_packets));
    fs_topk_merge(c->ports, c->per_ports);
    fs_topk_merge(c->port_bytes, c->per_port_bytes);
    fs_topk_clear(c->per_ports);
    fs_topk_clear(c->per_port_bytes);
    for (uint32_t i = 0; i < c->hosts.n; i++) {
        struct an_host *h = &c->hosts.h[i];
        h->per_bytes_out = h->per_bytes_in = h->per_flows = h->per_packets = 0;
    }
    memset(c->period_how, 0, sizeof(c->period_how));
    memset(&c->period, 0, sizeof(c->period));
    c->period.win = UINT64_MAX;
    c->period_anomalies = 0;
}

void an_rollup_window(struct fs_an_ctx *c, const struct an_net *w)
{
    uint64_t start = w->win * c->win_ms;
    uint64_t len = (uint64_t)c->cfg->summary_interval * 1000;
    unsigned how = an_hour_of_week(c, start);

    rollup_add(c, &c->hour, &c->hour_partial, 3600, w, false);
    rollup_add(c, &c->day, &c->day_partial, 86400, w, true);
    window_talkers(c, w->win, how);

    if (c->period.win != UINT64_MAX && c->period.win != start / len)
        period_close(c);
    c->period.win = start / len;
    c->period.bytes += w->bytes;
    c->period.packets += w->packets;
    c->period.flows += w->flows;
    c->period_how[how]++;
    for (uint32_t i = 0; i < c->hosts.n; i++) {
        struct an_host *h = &c->hosts.h[i];
        const struct an_acc *a = &h->acc[w->win % AN_NOPEN];
        if (a->win == w->win) {
            h->per_bytes_out += a->v[AN_SUM_BYTES_OUT];
            h->per_bytes_in += a->v[AN_SUM_BYTES_IN];
            h->per_flows += a->v[AN_SUM_FLOWS];
            h->per_packets += a->v[AN_SUM_PACKETS];
        }
    }
    if ((start + c->win_ms) % len == 0)
        period_close(c);
}

void an_rollup_finish(struct fs_an_ctx *c)
{
    rollup_finish_one(c, &c->hour, &c->hour_partial, 3600, false);
    rollup_finish_one(c, &c->day, &c->day_partial, 86400, true);
    period_close(c);
}
