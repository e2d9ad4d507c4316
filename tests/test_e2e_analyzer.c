/*
 * test_e2e_analyzer.c - the analyzer end to end on ten days of a labelled
 * office network: fs-netgen writes the flows (JSON lines and nfdump CSV),
 * its labels and an analyzer configuration (home network, the authorised
 * scanner, the backup server and the approved resolvers on their
 * detectors' allowlists); the real flowsentry-analyzer reads each file
 * with --read and writes its alerts.
 *
 * What the analyzer must show (issue 3):
 *   - every injected attack is found: an alert of the label's class on the
 *     label's host (inside its prefix for a distributed sweep), with the
 *     label's peer when it names one, whose window [ts, end_ms] overlaps
 *     the label's span;
 *   - the clean days stay quiet: at most MAX_ALERTS_PER_CLEAN_DAY alerts on
 *     each day no attack touches, and no benign trap (backups, the scanner,
 *     the all-hands stream, periodic software, the resolvers) raises an
 *     alert of the class it resembles;
 *   - reading the CSV gives the very alerts reading the JSON gives.
 *
 * The labels file is the reference; tools/score-detections prints the same
 * comparison as a table (docs/detection.md).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flow.h"
#include "proc.h"

#define MAX_ALERTS_PER_CLEAN_DAY 2
#define DAY_MS 86400000ull
#define RUN_TIMEOUT_MS 240000

struct label {
    char name[32], cls[24];
    bool attack, optional;
    fs_ip host;
    unsigned bits;
    fs_ip peer;       /* af 0: none */
    uint64_t start, end;
};

struct alert {
    char cls[24];
    fs_ip host, peer;
    uint64_t ts, end;
    char *line;       /* as written */
};

struct set {
    struct label *l;
    size_t nl;
    struct alert *a;
    size_t na;
};

static char dir[128];

static void setup(void)
{
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
}

static void teardown(void)
{
    fs_rmtree(dir);
}

TestSuite(e2e_analyzer, .init = setup, .fini = teardown, .timeout = 600);

static char *path(const char *name)
{
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
    return p;
}

/* Runs a program to completion; aborts the test with its stderr when it
 * fails. */
static void run(char *const argv[])
{
    struct fs_proc_output o;
    cr_assert_eq(fs_proc_run(argv, RUN_TIMEOUT_MS, &o), 0, "%s did not finish", argv[0]);
    cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "%s failed:\n%s", argv[0],
              o.err);
    fs_proc_output_free(&o);
}

static void parse_ip(const char *text, fs_ip *ip, unsigned *bits)
{
    char buf[FS_IP_STRLEN + 4];
    snprintf(buf, sizeof(buf), "%s", text);
    char *slash = strchr(buf, '/');
    if (bits)
        *bits = 32;
    if (slash) {
        *slash = '\0';
        cr_assert_not_null(bits, "a prefix where an address was expected: %s", text);
        *bits = (unsigned)atoi(slash + 1);
    }
    cr_assert_eq(fs_ip_parse(buf, ip), 0, "bad address %s", text);
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static uint64_t num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v), "no integer %s", key);
    return (uint64_t)json_integer_value(v);
}

static void load_labels(const char *file, struct set *s)
{
    FILE *fp = fopen(file, "r");
    char line[1024];
    cr_assert_not_null(fp, "%s", file);
    while (fgets(line, sizeof(line), fp)) {
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        cr_assert_not_null(o, "labels: %s", err.text);
        s->l = realloc(s->l, (s->nl + 1) * sizeof(*s->l));
        struct label *l = &s->l[s->nl++];
        memset(l, 0, sizeof(*l));
        snprintf(l->name, sizeof(l->name), "%s", str(o, "name"));
        snprintf(l->cls, sizeof(l->cls), "%s", str(o, "class"));
        l->attack = strcmp(str(o, "kind"), "attack") == 0;
        l->optional = json_is_true(json_object_get(o, "optional"));
        parse_ip(str(o, "host"), &l->host, &l->bits);
        if (str(o, "peer"))
            parse_ip(str(o, "peer"), &l->peer, NULL);
        l->start = num(o, "start_ms");
        l->end = num(o, "end_ms");
        json_decref(o);
    }
    fclose(fp);
}

static void load_alerts(const char *file, struct set *s)
{
    FILE *fp = fopen(file, "r");
    char *line = NULL;
    size_t cap = 0;
    s->a = NULL;
    s->na = 0;
    if (fp == NULL)
        return; /* nothing found at all */
    while (getline(&line, &cap, fp) > 0) {
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        cr_assert_not_null(o, "alerts: %s", err.text);
        s->a = realloc(s->a, (s->na + 1) * sizeof(*s->a));
        struct alert *a = &s->a[s->na++];
        memset(a, 0, sizeof(*a));
        snprintf(a->cls, sizeof(a->cls), "%s", str(o, "class"));
        parse_ip(str(o, "host"), &a->host, NULL);
        if (str(o, "peer"))
            parse_ip(str(o, "peer"), &a->peer, NULL);
        a->ts = num(o, "ts");
        a->end = num(o, "end_ms");
        a->line = strdup(line);
        json_decref(o);
    }
    free(line);
    fclose(fp);
}

static void free_alerts(struct set *s)
{
    for (size_t i = 0; i < s->na; i++)
        free(s->a[i].line);
    free(s->a);
    s->a = NULL;
    s->na = 0;
}

static bool in_host(const struct label *l, const fs_ip *ip)
{
    if (ip->af != 4 || l->host.af != 4)
        return false;
    uint32_t a = (uint32_t)ip->b[0] << 24 | (uint32_t)ip->b[1] << 16 | (uint32_t)ip->b[2] << 8 |
                 ip->b[3];
    uint32_t h = (uint32_t)l->host.b[0] << 24 | (uint32_t)l->host.b[1] << 16 |
                 (uint32_t)l->host.b[2] << 8 | l->host.b[3];
    uint32_t mask = l->bits == 0 ? 0 : ~0u << (32 - l->bits);
    return (a & mask) == (h & mask);
}

static bool same_ip(const fs_ip *a, const fs_ip *b)
{
    return a->af == b->af && memcmp(a->b, b->b, a->af == 6 ? 16 : 4) == 0;
}

/* Host, time and peer: a named peer must be the alert's (attacks), or the
 * alert names none (traps, where a missing peer still counts against). */
static bool matches(const struct alert *a, const struct label *l, bool strict_peer)
{
    if (!in_host(l, &a->host) || a->ts > l->end || a->end < l->start)
        return false;
    if (l->peer.af == 0 || same_ip(&a->peer, &l->peer))
        return true;
    return !strict_peer && a->peer.af == 0;
}

static bool explained(const struct set *s, const struct alert *a)
{
    for (size_t i = 0; i < s->nl; i++)
        if (s->l[i].attack && in_host(&s->l[i], &a->host) && a->ts <= s->l[i].end &&
            a->end >= s->l[i].start)
            return true;
    return false;
}

static void describe(const struct label *l, char *out, size_t cap)
{
    char h[FS_IP_STRLEN], p[FS_IP_STRLEN] = "";
    fs_ip_format(&l->host, h);
    if (l->peer.af)
        fs_ip_format(&l->peer, p);
    snprintf(out, cap, "%s (%s, host %s/%u%s%s, %llu..%llu)", l->name, l->cls, h, l->bits,
             l->peer.af ? " peer " : "", p, (unsigned long long)l->start,
             (unsigned long long)l->end);
}

/* Prints tools/score-detections' table for the record, when jq is there. */
static void score_table(const char *alerts, const char *labels)
{
    char script[512];
    snprintf(script, sizeof(script), "%s/tools/score-detections", FS_SOURCE_DIR);
    if (access("/usr/bin/jq", X_OK) != 0)
        return;
    char *argv[] = { script, (char *)alerts, (char *)labels, NULL };
    struct fs_proc_output o;
    if (fs_proc_run(argv, 60000, &o) == 0) {
        fprintf(stderr, "score-detections %s:\n%s%s", alerts, o.out, o.err);
        fs_proc_output_free(&o);
    }
}

/* The analyzer over `input`, with fs-netgen's configuration, into `alerts`
 * (which it appends to: start afresh). */
static void analyze(const char *input, const char *alerts, const char *report)
{
    char analyzer[256];
    snprintf(analyzer, sizeof(analyzer), "%s/flowsentry-analyzer", FS_BINARY_DIR);
    char *argv[] = { analyzer, "-c", path("analyzer.conf"), "--read", (char *)input,
                     "--alerts", (char *)alerts, "--report", (char *)report, NULL };
    unlink(alerts);
    run(argv);
}

/* fs-netgen's default ten days into the test directory. */
static void generate(void)
{
    char netgen[256];
    snprintf(netgen, sizeof(netgen), "%s/fs-netgen", FS_BINARY_DIR);
    char *argv[] = { netgen, "--out", dir, "--quiet", NULL };
    run(argv);
}

/* Checks one run's alerts against the labels; returns the number of
 * attacks found. */
static size_t check(const struct set *s, const char *what)
{
    size_t found = 0, attacks = 0;
    uint64_t t0 = UINT64_MAX, t1 = 0;
    char d[256];

    for (size_t i = 0; i < s->nl; i++) {
        t0 = s->l[i].start < t0 ? s->l[i].start : t0;
        t1 = s->l[i].end > t1 ? s->l[i].end : t1;
    }

    /* Every attack found, on the right host (and peer), in its span. */
    for (size_t i = 0; i < s->nl; i++) {
        const struct label *l = &s->l[i];
        bool hit = false;
        if (!l->attack || l->optional)
            continue;
        attacks++;
        for (size_t k = 0; k < s->na && !hit; k++)
            hit = strcmp(s->a[k].cls, l->cls) == 0 && matches(&s->a[k], l, true);
        describe(l, d, sizeof(d));
        cr_expect(hit, "%s: attack not found: %s", what, d);
        if (hit)
            fprintf(stderr, "%s: found %s\n", what, d);
        found += hit;
    }

    /* Benign traps raise nothing of the class they resemble. */
    for (size_t i = 0; i < s->nl; i++) {
        const struct label *l = &s->l[i];
        size_t hits = 0;
        if (l->attack)
            continue;
        for (size_t k = 0; k < s->na; k++)
            hits += strcmp(s->a[k].cls, l->cls) == 0 && matches(&s->a[k], l, false) &&
                    !explained(s, &s->a[k]);
        describe(l, d, sizeof(d));
        cr_expect_eq(hits, 0, "%s: benign trap raised %zu alerts: %s", what, hits, d);
    }

    /* Clean days stay quiet. */
    for (uint64_t day = t0; day < t1; day += DAY_MS) {
        bool clean = true;
        size_t n = 0;
        for (size_t i = 0; i < s->nl && clean; i++)
            clean = !(s->l[i].attack && s->l[i].start < day + DAY_MS && s->l[i].end >= day);
        if (!clean)
            continue;
        for (size_t k = 0; k < s->na; k++)
            n += s->a[k].ts >= day && s->a[k].ts < day + DAY_MS;
        cr_expect_leq(n, MAX_ALERTS_PER_CLEAN_DAY, "%s: %zu alerts on clean day %llu", what, n,
                      (unsigned long long)((day - t0) / DAY_MS));
    }
    fprintf(stderr, "%s: %zu of %zu attacks found, %zu alerts\n", what, found, attacks, s->na);
    return found;
}

Test(e2e_analyzer, ten_days_of_labelled_traffic)
{
    struct set json = { 0 }, csv = { 0 };

    generate();
    load_labels(path("labels.json"), &json);
    cr_assert_gt(json.nl, 20);
    csv.l = json.l;
    csv.nl = json.nl;

    /* The CSV holds local time as nfdump prints it: the generator wrote
     * UTC, so the analyzer reads it in UTC. */
    setenv("TZ", "UTC", 1);
    analyze(path("flows.json"), path("alerts-json.jsonl"), path("report-json.json"));
    analyze(path("flows.csv"), path("alerts-csv.jsonl"), path("report-csv.json"));
    load_alerts(path("alerts-json.jsonl"), &json);
    load_alerts(path("alerts-csv.jsonl"), &csv);
    score_table(path("alerts-json.jsonl"), path("labels.json"));

    check(&json, "json");
    check(&csv, "csv");

    /* Same flows, same alerts, whatever the file format. */
    cr_expect_eq(csv.na, json.na, "csv gave %zu alerts, json %zu", csv.na, json.na);
    for (size_t i = 0; i < json.na && i < csv.na; i++)
        if (strcmp(json.a[i].line, csv.a[i].line) != 0) {
            cr_expect_fail("alert %zu differs:\n json %s csv  %s", i, json.a[i].line,
                           csv.a[i].line);
            break;
        }

    free_alerts(&json);
    free_alerts(&csv);
    free(json.l);
}
