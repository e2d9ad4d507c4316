/*
 * test_summary_hosts.c - the "host_stats" of the analyzer's summaries: the
 * period's busiest hosts, ranked as the talkers are, with their period
 * totals (packets counted from the flows fed) and the baseline figures of
 * every metric exactly as the JSON report gives them for the same host at
 * the same moment.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detmix.h"

#define HOSTS 5
#define TOP 3
#define HOURS 30

struct check {
    struct detrun *r;
    /* Packets each host moved per hour of the run (both directions). */
    uint64_t packets[HOSTS + 1][HOURS + 2];
    unsigned summaries, compared;
};

static int host_index(const fs_ip *a)
{
    char buf[FS_IP_STRLEN];
    const char *s = fs_ip_format(a, buf);
    unsigned n;

    if (strcmp(s, "10.0.0.53") == 0)
        return HOSTS;
    if (sscanf(s, "10.0.0.%u", &n) == 1 && n >= 1 && n <= HOSTS)
        return (int)n - 1;
    return -1;
}

static json_t *report_host(json_t *rep, const fs_ip *a)
{
    char buf[FS_IP_STRLEN];
    json_t *hosts = json_object_get(rep, "hosts"), *h;
    size_t i;

    fs_ip_format(a, buf);
    json_array_foreach(hosts, i, h)
        if (strcmp(json_string_value(json_object_get(h, "addr")), buf) == 0)
            return h;
    return NULL;
}

static void expect_close(double got, json_t *want, const char *what)
{
    double w = json_number_value(want);
    cr_assert(json_is_number(want), "%s missing from the report", what);
    /* The report prints ten significant digits. */
    cr_expect(fabs(got - w) <= 1e-9 * fmax(1, fabs(w)) + 1e-6, "%s: %.12g, report %.12g", what,
              got, w);
}

static void on_summary(void *arg, const struct fs_summary *s)
{
    struct check *k = arg;
    char *text = NULL;
    size_t len = 0;

    k->summaries++;
    cr_assert_eq(s->nhost_stats, s->ntalkers);
    cr_assert_leq(s->nhost_stats, TOP);
    if (s->nhost_stats == 0)
        return;

    /* The report at this very moment: the same baselines. */
    FILE *fp = open_memstream(&text, &len);
    cr_assert_not_null(fp);
    cr_assert_eq(fs_analyzer_report(k->r->an, fp), 0);
    fclose(fp);
    json_error_t je;
    json_t *rep = json_loadb(text, len, 0, &je);
    cr_assert_not_null(rep, "%s", je.text);
    free(text);

    uint64_t hour = (s->ts_ms - DETRUN_T0) / DETRUN_HOUR;
    for (size_t i = 0; i < s->nhost_stats; i++) {
        const struct fs_summary_host *h = &s->host_stats[i];
        const struct fs_summary_talker *t = &s->talkers[i];
        int idx = host_index(&h->addr);

        cr_assert_eq(memcmp(&h->addr, &t->addr, sizeof(fs_ip)), 0, "host %zu is not talker %zu",
                     i, i);
        cr_expect_eq(h->bytes_out, t->bytes_out);
        cr_expect_eq(h->bytes_in, t->bytes_in);
        cr_expect_eq(h->flows, t->flows);
        cr_assert_geq(idx, 0);
        cr_expect_eq(h->packets, k->packets[idx][hour], "host %d hour %llu: %llu packets, "
                     "%llu fed", idx, (unsigned long long)hour, (unsigned long long)h->packets,
                     (unsigned long long)k->packets[idx][hour]);

        json_t *rh = report_host(rep, &h->addr);
        cr_assert_not_null(rh);
        json_t *base = json_object_get(rh, "baseline");
        for (unsigned m = 0; m < FS_SUMMARY_HOST_METRICS; m++) {
            const struct fs_summary_stat *st = &h->base[m];
            /* Same order, the report's names ("distinct_peers" for "peers"). */
            json_t *rm = json_object_get(base, fs_metric_name((enum fs_metric)m));
            cr_assert_not_null(rm, "no %s in the report", fs_summary_metric_name(m));
            cr_expect_eq(st->samples, json_integer_value(json_object_get(rm, "samples")));
            expect_close(st->mean, json_object_get(rm, "mean"), "mean");
            expect_close(st->std, json_object_get(rm, "std"), "std");
            expect_close(st->median, json_object_get(rm, "median"), "median");
            expect_close(st->q1, json_object_get(rm, "q1"), "q1");
            expect_close(st->q3, json_object_get(rm, "q3"), "q3");
        }
        if (h->base[0].samples > 0)
            k->compared++;
    }
    /* Heaviest first, as the talkers. */
    for (size_t i = 1; i < s->nhost_stats; i++)
        cr_expect_geq(s->host_stats[i - 1].bytes_out + s->host_stats[i - 1].bytes_in,
                      s->host_stats[i].bytes_out + s->host_stats[i].bytes_in);
    json_decref(rep);
}

Test(summary_hosts, busiest_hosts_carry_period_totals_and_the_reports_baselines)
{
    static const char *const opts[] = { "top-n", "3", NULL };
    static struct check k;
    struct detrun r;

    detrun_init(&r, opts);
    k.r = &r;
    for (unsigned h = 1; h <= HOSTS; h++)
        detmix_office(&r, detmix_ip("10.0.0.%u", h), DETRUN_T0 + h * 7000, HOURS);
    /* Host 5 pulls a big download in hour 20: it leads that summary. */
    detmix_tcp(&r, "10.0.0.5", 51000, "203.0.113.9", 443, DETRUN_T0 + 20 * DETRUN_HOUR + 60000,
               30000, 500, 40000000);
    for (size_t i = 0; i < r.nflows; i++) {
        const struct fs_flow *f = &r.flows[i];
        uint64_t hour = (f->end_ms - DETRUN_T0) / DETRUN_HOUR;
        int s = host_index(&f->src_addr), d = host_index(&f->dst_addr);
        cr_assert_lt(hour, HOURS + 2);
        if (s >= 0)
            k.packets[s][hour] += f->packets;
        if (d >= 0)
            k.packets[d][hour] += f->packets;
    }
    fs_analyzer_on_summary(r.an, on_summary, &k);
    detrun_finish(&r);

    cr_expect_geq(k.summaries, HOURS);
    cr_expect_gt(k.compared, HOURS, "baselines with history were compared");
    detrun_free(&r);
}

Test(summary_hosts, the_download_leads_its_hour)
{
    static const char *const opts[] = { "top-n", "2", NULL };
    struct detrun r;
    struct fs_summary s;

    detrun_init(&r, opts);
    detmix_office(&r, "10.0.0.1", DETRUN_T0, 2);
    detmix_office(&r, "10.0.0.2", DETRUN_T0, 2);
    detmix_tcp(&r, "10.0.0.2", 51000, "203.0.113.9", 443, DETRUN_T0 + 90 * DETRUN_MIN, 30000,
               500, 40000000);
    /* Without finishing: the period in progress, hour two, so far. */
    detrun_feed(&r);
    fs_analyzer_summary(r.an, &s);
    cr_assert_eq(s.nhost_stats, 2);
    char buf[FS_IP_STRLEN];
    cr_expect_str_eq(fs_ip_format(&s.host_stats[0].addr, buf), "10.0.0.2");
    cr_expect_gt(s.host_stats[0].bytes_in, 40000000);
    cr_expect_gt(s.host_stats[0].packets, 40000000 / 1448);
    detrun_free(&r);
}
