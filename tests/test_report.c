/*
 * test_report.c - the reporter's JSON reports (reporter/report.h): a day of
 * hand-made hourly summaries and anomalies in, 24 period reports and one
 * daily report out, checked value by value (read back with jansson) and
 * against docs/report.schema.json by tools/validate-report (the real Python
 * jsonschema, run as a process); hostile strings and numbers; retention by
 * event time; atomic rewrites under a concurrent reader; write errors and
 * the retry; state saved mid-day and loaded giving byte-identical files;
 * on-demand reports; UTC offsets, skipped days and late summaries; caps.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "report.h"

#define H UINT64_C(3600000)
#define DAY0 UINT64_C(1795478400000) /* 2026-11-24T00:00:00Z, a Tuesday */

static char tmp[128];

static void setup(void)
{
    cr_assert_not_null(fs_tmpdir(tmp, sizeof(tmp)));
}

static void teardown(void)
{
    fs_rmtree(tmp);
}

TestSuite(report, .init = setup, .fini = teardown, .timeout = 60);

static fs_ip ip(const char *s)
{
    fs_ip a;
    cr_assert_eq(fs_ip_parse(s, &a), 0);
    return a;
}

/* One hourly summary, every value a function of the hour. */
struct fix {
    struct fs_summary s;
    struct fs_summary_talker t[2];
    struct fs_summary_port p[2];
    struct fs_summary_proto pr[2];
    struct fs_summary_host h[1];
};

static void make_summary(struct fix *f, uint64_t start, int hour)
{
    memset(f, 0, sizeof(*f));
    struct fs_summary *s = &f->s;
    uint64_t k = (uint64_t)hour + 1;

    s->ts_ms = start;
    s->end_ms = start + H;
    s->bytes = 1000 * k;
    s->packets = 10 * k;
    s->flows = k;
    s->hosts = 50 + (uint64_t)hour;
    s->anomalies = (uint64_t)hour % 3;
    for (int i = 0; i < 24; i++) {
        s->hour_of_day[i].samples = 100 + (uint32_t)hour;
        s->hour_of_day[i].mean[FS_SUMMARY_BYTES] = 1000.5 + i;
        s->hour_of_day[i].std[FS_SUMMARY_BYTES] = 10.25;
        s->hour_of_day[i].mean[FS_SUMMARY_PACKETS] = 20 + hour;
        s->hour_of_day[i].std[FS_SUMMARY_PACKETS] = 2;
        s->hour_of_day[i].mean[FS_SUMMARY_FLOWS] = 3;
        s->hour_of_day[i].std[FS_SUMMARY_FLOWS] = 0.5;
    }
    for (int d = 0; d < 7; d++) {
        s->day_of_week[d].samples = 10 + (uint32_t)hour;
        s->day_of_week[d].mean[FS_SUMMARY_BYTES] = 24000 + d;
        s->day_of_week[d].std[FS_SUMMARY_BYTES] = 100;
    }
    /* Talker A every hour: observed 1500 against 1000 expected, z 5, so
     * an sd of 100; at hour 7 observed 2500, z 15 (same sd). Talker B on
     * even hours with z 0: its sd cannot be derived. */
    f->t[0] = (struct fs_summary_talker){ ip("10.0.0.1"), hour == 7 ? 2000 : 1000, 500, 10,
                                          1000, hour == 7 ? 15 : 5 };
    s->talkers = f->t;
    s->ntalkers = 1;
    if (hour % 2 == 0) {
        f->t[1] = (struct fs_summary_talker){ ip("2001:db8::2"), 300, 100, 4, 400, 0 };
        s->ntalkers = 2;
    }
    f->p[0] = (struct fs_summary_port){ 6, 443, (uint64_t)hour, 800 * k };
    f->p[1] = (struct fs_summary_port){ 17, 53, 1, 100 };
    s->ports = f->p;
    s->nports = 2;
    f->pr[0] = (struct fs_summary_proto){ 6, (uint64_t)hour, 9 * k, 900 * k };
    f->pr[1] = (struct fs_summary_proto){ 17, 1, 1, 100 * k };
    s->protos = f->pr;
    s->nprotos = 2;
    f->h[0].addr = ip("10.0.0.1");
    f->h[0].bytes_out = 1000;
    f->h[0].bytes_in = 500;
    f->h[0].packets = 20;
    f->h[0].flows = 10;
    for (int m = 0; m < FS_SUMMARY_HOST_METRICS; m++)
        f->h[0].base[m] = (struct fs_summary_stat){ 10 + (uint32_t)hour, m * 10.0 + hour, 1.5,
                                                    m * 10.0 + hour + 0.5, m * 10.0, m * 10.0 + 2 };
    s->host_stats = f->h;
    s->nhost_stats = 1;
}

static struct fs_anomaly make_anomaly(enum fs_anomaly_class cls, enum fs_severity sev,
                                      const char *host, uint64_t ts, double score)
{
    struct fs_anomaly a;

    memset(&a, 0, sizeof(a));
    a.ts_ms = ts;
    a.end_ms = ts + 300000;
    a.host = ip(host);
    a.peer = ip("203.0.113.9");
    a.cls = cls;
    a.severity = sev;
    a.score = score;
    a.z = 7.5;
    snprintf(a.metric, sizeof(a.metric), "bytes_out");
    a.observed = 5000;
    a.expected = 1000;
    a.std = 100;
    a.samples = 24;
    a.npeers = 1;
    a.top_peers[0].addr = a.peer;
    a.top_peers[0].value = 4000;
    a.nports = 1;
    a.top_ports[0].port = 443;
    a.top_ports[0].proto = 6;
    a.top_ports[0].value = 4000;
    fs_anomaly_extra(&a, "robust_z", 9.5);
    fs_anomaly_set_id(&a);
    return a;
}

static struct fs_rp_report_opts opts(const char *dir)
{
    struct fs_rp_report_opts o = { 0 };
    o.dir = dir;
    o.hourly = o.daily = true;
    o.sender = "reporter@test";
    return o;
}

static struct fs_rp_reports *open_reports(const struct fs_rp_report_opts *o)
{
    char err[256] = "";
    struct fs_rp_reports *r = fs_rp_reports_new(o, err, sizeof(err));
    cr_assert_not_null(r, "%s", err);
    return r;
}

static void feed_hour(struct fs_rp_reports *r, uint64_t start, int hour, char *written,
                      size_t cap)
{
    struct fix f;
    char err[256] = "";

    make_summary(&f, start, hour);
    cr_assert_eq(fs_rp_reports_summary(r, &f.s, written, cap, err, sizeof(err)), 0, "%s", err);
}

static uint64_t anomaly_id_at(int hour, int i)
{
    struct fs_anomaly a = make_anomaly(i ? FS_AC_PORT_SCAN : FS_AC_EXFILTRATION,
                                       i ? FS_SEV_MEDIUM : FS_SEV_HIGH, "10.0.0.1",
                                       DAY0 + (uint64_t)hour * H, 50);
    return a.id;
}

/* The anomalies of the test day: one at hours 2 and 23, two at hour 7,
 * fed just before that hour's summary. */
static int anomalies_at(int hour)
{
    return hour == 7 ? 2 : hour == 2 || hour == 23 ? 1 : 0;
}

static void feed_anomalies(struct fs_rp_reports *r, int hour)
{
    for (int i = 0; i < anomalies_at(hour); i++) {
        struct fs_anomaly a = make_anomaly(i ? FS_AC_PORT_SCAN : FS_AC_EXFILTRATION,
                                           i ? FS_SEV_MEDIUM : FS_SEV_HIGH, "10.0.0.1",
                                           DAY0 + (uint64_t)hour * H, 50);
        fs_rp_reports_anomaly(r, &a);
    }
}

static void feed_day(struct fs_rp_reports *r, int from, int to)
{
    for (int h = from; h < to; h++) {
        feed_anomalies(r, h);
        feed_hour(r, DAY0 + (uint64_t)h * H, h, NULL, 0);
    }
}

static json_t *load_json(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    cr_assert_not_null(j, "%s: line %d: %s", path, e.line, e.text);
    return j;
}

static json_t *load_report(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return load_json(path);
}

static json_int_t jint(json_t *o, const char *path)
{
    json_t *v = json_object_get(o, path);
    cr_assert(json_is_integer(v), "%s is not an integer", path);
    return json_integer_value(v);
}

static json_t *jget(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(json_object_get(o, a), b);
    cr_assert_not_null(v, "no %s.%s", a, b);
    return v;
}

/* Runs tools/validate-report on the files; returns its exit status and
 * keeps what it said on stderr. */
static int validate(char **files, int n, char *said, size_t cap)
{
    char *argv[64];
    struct fs_proc_output o;
    int a = 0;

    argv[a++] = FS_SOURCE_DIR "/tools/validate-report";
    argv[a++] = FS_SOURCE_DIR "/docs/report.schema.json";
    for (int i = 0; i < n && a < 63; i++)
        argv[a++] = files[i];
    argv[a] = NULL;
    cr_assert_eq(fs_proc_run(argv, 30000, &o), 0);
    cr_assert(WIFEXITED(o.status));
    if (said)
        snprintf(said, cap, "%s", o.err ? o.err : "");
    int rc = WEXITSTATUS(o.status);
    fs_proc_output_free(&o);
    return rc;
}

/* Names in `dir`, sorted, into `names` (each malloc'd). */
static int list_dir(const char *dir, char **names, int max)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        cr_assert_lt(n, max);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int sorted_names(const char *dir, char **names, int max)
{
    int n = list_dir(dir, names, max);
    qsort(names, (size_t)n, sizeof(*names), cmp_str);
    return n;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
}

static bool exists(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;

    cr_assert_not_null(fp, "%s", path);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static json_t *find_addr(json_t *list, const char *addr)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "addr")), addr) == 0)
            return e;
    }
    return NULL;
}

Test(report, a_day_of_reports)
{
    char dir[256], name[64], written[512];
    struct fs_rp_report_opts o;
    struct fs_rp_reports *r;
    char *names[64];

    snprintf(dir, sizeof(dir), "%s/reports/sub", tmp);
    o = opts(dir);
    r = open_reports(&o);
    feed_day(r, 0, 23);
    feed_anomalies(r, 23);
    feed_hour(r, DAY0 + 23 * H, 23, written, sizeof(written));
    cr_assert(strstr(written, "/daily-20261124T000000Z.json"), "%s", written);
    const struct fs_rp_report_counters *n = fs_rp_reports_counters(r);
    cr_assert_eq(n->written, 25);
    cr_assert_eq(n->summaries, 24);
    cr_assert_eq(n->anomalies, 4);
    cr_assert_eq(n->write_errors, 0);

    /* 24 period reports, one daily, nothing else (no temporary file). */
    int nf = sorted_names(dir, names, 64);
    cr_assert_eq(nf, 25);
    cr_assert_str_eq(names[0], "daily-20261124T000000Z.json");
    for (int h = 0; h < 24; h++) {
        snprintf(name, sizeof(name), "hourly-20261124T%02d0000Z.json", h);
        cr_assert_str_eq(names[1 + h], name);
    }

    /* Every file is valid against the schema. */
    char *paths[25];
    for (int i = 0; i < nf; i++) {
        paths[i] = malloc(512);
        snprintf(paths[i], 512, "%s/%s", dir, names[i]);
    }
    char said[4096];
    cr_assert_eq(validate(paths, nf, said, sizeof(said)), 0, "%s", said);
    for (int i = 0; i < nf; i++)
        free(paths[i]);

    /* Period reports: what was fed. */
    json_int_t sum_bytes = 0, sum_packets = 0, sum_flows = 0;
    for (int h = 0; h < 24; h++) {
        snprintf(name, sizeof(name), "hourly-20261124T%02d0000Z.json", h);
        json_t *j = load_report(dir, name);
        json_t *meta = json_object_get(j, "meta");
        cr_assert_eq(jint(j, "report_version"), 1);
        cr_assert_str_eq(json_string_value(json_object_get(meta, "kind")), "hourly");
        cr_assert_eq(jint(meta, "start_ms"), (json_int_t)(DAY0 + (uint64_t)h * H));
        cr_assert_eq(jint(meta, "end_ms"), (json_int_t)(DAY0 + (uint64_t)(h + 1) * H));
        char iso[32];
        snprintf(iso, sizeof(iso), "2026-11-24T%02d:00:00Z", h);
        cr_assert_str_eq(json_string_value(json_object_get(meta, "start")), iso);
        cr_assert_str_eq(json_string_value(json_object_get(meta, "generated_by")),
                         "reporter@test");
        cr_assert_eq(jint(meta, "summaries"), 1);
        json_t *tr = json_object_get(j, "traffic");
        cr_assert_eq(jint(tr, "bytes"), 1000 * (h + 1));
        cr_assert_eq(jint(tr, "packets"), 10 * (h + 1));
        cr_assert_eq(jint(tr, "flows"), h + 1);
        cr_assert_eq(jint(tr, "hosts"), 50 + h);
        sum_bytes += jint(tr, "bytes");
        sum_packets += jint(tr, "packets");
        sum_flows += jint(tr, "flows");
        json_t *talkers = json_object_get(j, "top_talkers");
        cr_assert_eq(json_array_size(talkers), h % 2 == 0 ? 2 : 1);
        json_t *a = json_array_get(talkers, 0);
        cr_assert_str_eq(json_string_value(json_object_get(a, "addr")), "10.0.0.1");
        cr_assert_eq(json_number_value(json_object_get(a, "z")), h == 7 ? 15 : 5);
        cr_assert_eq(json_number_value(json_object_get(a, "expected")), 1000);
        json_t *an = json_object_get(j, "anomalies");
        cr_assert_eq(json_array_size(an), (size_t)anomalies_at(h), "hour %d", h);
        for (int i = 0; i < anomalies_at(h); i++) {
            char id[17];
            snprintf(id, sizeof(id), "%016llx", (unsigned long long)anomaly_id_at(h, i));
            cr_assert_str_eq(json_string_value(json_object_get(json_array_get(an, (size_t)i),
                                                               "id")), id);
        }
        json_t *ports = json_object_get(j, "ports");
        if (h > 1) {
            json_t *p0 = json_array_get(ports, 0);
            cr_assert_eq(jint(p0, "port"), 443);
            cr_assert_float_eq(json_number_value(json_object_get(p0, "share_flows")),
                               (double)h / (h + 1), 1e-9);
        }
        json_t *hod = json_array_get(jget(j, "network", "hour_of_day"), 5);
        cr_assert_eq(jint(hod, "hour"), 5);
        cr_assert_eq(jint(hod, "samples"), 100 + h);
        cr_assert_eq(json_number_value(json_object_get(json_object_get(hod, "bytes"), "mean")),
                     1005.5);
        json_decref(j);
    }

    /* The daily report: sums equal the period reports' sums. */
    json_t *d = load_report(dir, "daily-20261124T000000Z.json");
    json_t *meta = json_object_get(d, "meta");
    cr_assert_str_eq(json_string_value(json_object_get(meta, "kind")), "daily");
    cr_assert_str_eq(json_string_value(json_object_get(meta, "date")), "2026-11-24");
    cr_assert_eq(jint(meta, "start_ms"), (json_int_t)DAY0);
    cr_assert_eq(jint(meta, "end_ms"), (json_int_t)(DAY0 + 24 * H));
    cr_assert_str_eq(json_string_value(json_object_get(meta, "end")), "2026-11-25T00:00:00Z");
    cr_assert_eq(jint(meta, "summaries"), 24);
    cr_assert_eq(jint(meta, "first_ms"), (json_int_t)DAY0);
    cr_assert_eq(jint(meta, "last_ms"), (json_int_t)(DAY0 + 24 * H));
    cr_assert_eq(jint(json_object_get(meta, "counts"), "analyzer_anomalies"), 24);
    json_t *tr = json_object_get(d, "traffic");
    cr_assert_eq(jint(tr, "bytes"), sum_bytes);
    cr_assert_eq(sum_bytes, 300000);
    cr_assert_eq(jint(tr, "packets"), sum_packets);
    cr_assert_eq(jint(tr, "flows"), sum_flows);
    cr_assert_eq(jint(tr, "hosts"), 73); /* the latest summary's */
    cr_assert_eq(json_array_size(json_object_get(d, "periods")), 24);
    cr_assert_eq(jint(json_array_get(json_object_get(d, "periods"), 23), "bytes"), 24000);

    /* Talkers merged by address. A: sd 100 each hour, so the day's z is
     * (37000 - 24000) / sqrt(24 * 100^2); the peak is hour 7's. B: z 0,
     * no sd to derive, so no z for the day. */
    json_t *talkers = json_object_get(d, "top_talkers");
    json_t *a = find_addr(talkers, "10.0.0.1"), *b = find_addr(talkers, "2001:db8::2");
    cr_assert(a && b);
    cr_assert_eq(jint(a, "bytes_out"), 25000);
    cr_assert_eq(jint(a, "bytes_in"), 12000);
    cr_assert_eq(jint(a, "flows"), 240);
    cr_assert_eq(jint(a, "periods"), 24);
    cr_assert_eq(json_number_value(json_object_get(a, "expected")), 24000);
    cr_assert_eq(json_number_value(json_object_get(a, "peak_z")), 15);
    cr_assert_float_eq(json_number_value(json_object_get(a, "z")), 13000 / sqrt(240000.0), 1e-6);
    cr_assert_eq(jint(b, "periods"), 12);
    cr_assert_eq(jint(b, "bytes_out"), 3600);
    cr_assert(json_is_null(json_object_get(b, "z")));
    cr_assert_eq(json_number_value(json_object_get(b, "peak_z")), 0);

    /* Ports and protocols summed by key, with shares of the day. */
    json_t *ports = json_object_get(d, "ports");
    cr_assert_eq(json_array_size(ports), 2);
    json_t *p0 = json_array_get(ports, 0), *p1 = json_array_get(ports, 1);
    cr_assert_eq(jint(p0, "port"), 443);
    cr_assert_eq(jint(p0, "flows"), 276);
    cr_assert_eq(jint(p0, "bytes"), 240000);
    cr_assert_float_eq(json_number_value(json_object_get(p0, "share_flows")), 276.0 / 300, 1e-9);
    cr_assert_eq(jint(p1, "port"), 53);
    cr_assert_eq(jint(p1, "flows"), 24);
    json_t *protos = json_object_get(d, "protocols");
    cr_assert_eq(jint(json_array_get(protos, 0), "proto"), 6);
    cr_assert_eq(jint(json_array_get(protos, 0), "bytes"), 270000);
    cr_assert_float_eq(json_number_value(json_object_get(json_array_get(protos, 0),
                                                         "share_bytes")), 0.9, 1e-9);
    cr_assert_eq(jint(json_array_get(protos, 1), "bytes"), 30000);

    /* Hosts: totals summed, baseline of the latest summary. */
    json_t *h = json_array_get(json_object_get(d, "hosts"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(h, "addr")), "10.0.0.1");
    cr_assert_eq(jint(h, "bytes_out"), 24000);
    cr_assert_eq(jint(h, "packets"), 480);
    cr_assert_eq(jint(h, "periods"), 24);
    json_t *peers = jget(h, "baseline", "distinct_peers");
    cr_assert_eq(jint(peers, "samples"), 33);
    cr_assert_eq(json_number_value(json_object_get(peers, "mean")), 63);
    cr_assert_eq(json_number_value(json_object_get(peers, "median")), 63.5);
    cr_assert_eq(json_number_value(json_object_get(peers, "q3")), 42);

    /* Profiles of the latest summary; every anomaly of the day. */
    cr_assert_eq(jint(json_array_get(jget(d, "network", "day_of_week"), 1), "samples"), 33);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(jget(d, "network", "day_of_week"), 1), "day")),
                     "tuesday");
    cr_assert_eq(json_array_size(json_object_get(d, "anomalies")), 4);
    cr_assert_eq(jint(json_object_get(d, "anomalies_by_class"), "exfiltration"), 3);
    cr_assert_eq(jint(json_object_get(d, "anomalies_by_class"), "port_scan"), 1);
    cr_assert_eq(jint(json_object_get(d, "anomalies_by_class"), "ddos"), 0);
    cr_assert_eq(jint(json_object_get(d, "anomalies_by_severity"), "high"), 3);
    cr_assert_eq(jint(json_object_get(d, "anomalies_by_severity"), "medium"), 1);
    cr_assert_eq(jint(d, "anomalies_unlisted"), 0);
    json_t *first = json_array_get(json_object_get(d, "anomalies"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(first, "class")), "exfiltration");
    cr_assert_eq(json_number_value(jget(first, "evidence", "observed")), 5000);
    cr_assert_eq(json_number_value(json_object_get(jget(first, "evidence", "extras"),
                                                   "robust_z")), 9.5);
    json_decref(d);
    free_names(names, nf);
    fs_rp_reports_free(r);
}

Test(report, written_path_names_the_last_report)
{
    char dir[256], written[512], want[512];
    struct fs_rp_report_opts o;
    struct fs_rp_reports *r;

    snprintf(dir, sizeof(dir), "%s/r", tmp);
    o = opts(dir);
    r = open_reports(&o);
    feed_hour(r, DAY0, 0, written, sizeof(written));
    snprintf(want, sizeof(want), "%s/hourly-20261124T000000Z.json", dir);
    cr_assert_str_eq(written, want);
    for (int h = 1; h < 24; h++)
        feed_hour(r, DAY0 + (uint64_t)h * H, h, written, sizeof(written));
    snprintf(want, sizeof(want), "%s/daily-20261124T000000Z.json", dir);
    cr_assert_str_eq(written, want);
    fs_rp_reports_free(r);
}

Test(report, schema_rejects_broken_reports)
{
    char dir[256], good[512], bad[512], said[4096];
    struct fs_rp_report_opts o;
    struct fs_rp_reports *r;
    char *files[1] = { bad };

    snprintf(dir, sizeof(dir), "%s/r", tmp);
    o = opts(dir);
    r = open_reports(&o);
    feed_anomalies(r, 2);
    feed_hour(r, DAY0 + 2 * H, 2, good, sizeof(good));
    fs_rp_reports_free(r);
    files[0] = good;
    cr_assert_eq(validate(files, 1, said, sizeof(said)), 0, "%s", said);
    files[0] = bad;
    snprintf(bad, sizeof(bad), "%s/bad.json", tmp);

    /* A string where a number is required. */
    json_t *j = load_json(good);
    json_object_set_new(json_object_get(j, "traffic"), "bytes", json_string("12"));
    cr_assert_eq(json_dump_file(j, bad, 0), 0);
    cr_assert_eq(validate(files, 1, said, sizeof(said)), 1);
    cr_assert(strstr(said, "$.traffic.bytes"), "%s", said);
    json_decref(j);

    /* A missing key, deep down. */
    j = load_json(good);
    json_t *ev = json_object_get(json_array_get(json_object_get(j, "anomalies"), 0), "evidence");
    cr_assert_eq(json_object_del(ev, "samples"), 0);
    cr_assert_eq(json_dump_file(j, bad, 0), 0);
    cr_assert_eq(validate(files, 1, said, sizeof(said)), 1);
    cr_assert(strstr(said, "$.anomalies[0].evidence") && strstr(said, "samples"), "%s", said);
    json_decref(j);

    /* An unknown severity, and a key the schema does not know. */
    j = load_json(good);
    json_object_set_new(json_array_get(json_object_get(j, "anomalies"), 0), "severity",
                        json_string("apocalyptic"));
    cr_assert_eq(json_dump_file(j, bad, 0), 0);
    cr_assert_eq(validate(files, 1, said, sizeof(said)), 1);
    cr_assert(strstr(said, "$.anomalies[0].severity"), "%s", said);
    json_decref(j);
    j = load_json(good);
    json_object_set_new(json_object_get(j, "meta"), "extra", json_true());
    cr_assert_eq(json_dump_file(j, bad, 0), 0);
    cr_assert_eq(validate(files, 1, said, sizeof(said)), 1);
    cr_assert(strstr(said, "$.meta"), "%s", said);
    json_decref(j);

    /* Not strict JSON: NaN, and a repeated key. */
    size_t len;
    char *text = slurp(good, &len);
    char *at = strstr(text, "\"bytes\":3000");
    cr_assert_not_null(at);
    FILE *fp = fopen(bad, "w");
    fprintf(fp, "%.*s\"bytes\":NaN%s", (int)(at - text), text, at + strlen("\"bytes\":3000"));
    fclose(fp);
    cr_assert_eq(validate(files, 1, said, sizeof(said)), 1);
    cr_assert(strstr(said, "not strict JSON"), "%s", said);
    fp = fopen(bad, "w");
    fprintf(fp, "%.*s\"bytes\":1,%s", (int)(at - text), text, at);
    fclose(fp);
    cr_assert_eq(validate(files, 1, said, sizeof(said)), 1);
    cr_assert(strstr(said, "repeated key"), "%s", said);
    free(text);
}

Test(report, hostile_strings_and_numbers)
{
    char dir[256], written[512], said[4096];
    struct fs_rp_report_opts o;
    struct fs_rp_reports *r;
    struct fs_anomaly a = make_anomaly(FS_AC_DNS_TUNNEL, FS_SEV_CRITICAL, "10.0.0.9", DAY0, 90);
    struct fix f;
    char *files[1] = { written };

    snprintf(dir, sizeof(dir), "%s/r", tmp);
    o = opts(dir);
    o.sender = "rep\"orter\\\n\x01\xff@x";
    r = open_reports(&o);
    /* Quotes, backslash, control characters, DEL, a lone continuation
     * byte, an overlong '/', a surrogate; repeated extra keys. */
    memset(a.metric, 0, sizeof(a.metric));
    memcpy(a.metric, "m\"\\\n\x01\x7f\xff\xc0\xaf\xed\xa0\x80\xc3\xa9", 15);
    a.nextra = 0;
    fs_anomaly_extra(&a, "k\"1", 1);
    fs_anomaly_extra(&a, "k\"1", 2);
    fs_anomaly_extra(&a, "\xed\xa0\x80", 3);
    fs_anomaly_extra(&a, "\t", NAN);
    fs_anomaly_extra(&a, "\xfe\xfd\xfc", 4); /* "???" too once cleaned: dropped */
    a.score = NAN;
    a.z = INFINITY;
    a.observed = -INFINITY;
    fs_rp_reports_anomaly(r, &a);
    make_summary(&f, DAY0, 0);
    f.s.hour_of_day[3].mean[0] = NAN;
    f.t[0].expected = INFINITY;
    f.t[0].z = NAN;
    f.h[0].base[2].std = NAN;
    char err[256];
    cr_assert_eq(fs_rp_reports_summary(r, &f.s, written, sizeof(written), err, sizeof(err)), 0);
    cr_assert_eq(validate(files, 1, said, sizeof(said)), 0, "%s", said);

    json_t *j = load_json(written); /* jansson refuses invalid UTF-8 and NaN */
    cr_assert_str_eq(json_string_value(jget(j, "meta", "generated_by")),
                     "rep\"orter\\\n\x01\xef\xbf\xbd@x");
    json_t *an = json_array_get(json_object_get(j, "anomalies"), 0);
    json_t *ev = json_object_get(an, "evidence");
    cr_assert_str_eq(json_string_value(json_object_get(ev, "metric")),
                     "m\"\\\n\x01\x7f??????\xc3\xa9");
    cr_assert(json_is_null(json_object_get(an, "score")));
    cr_assert(json_is_null(json_object_get(an, "z")));
    cr_assert(json_is_null(json_object_get(ev, "observed")));
    json_t *ex = json_object_get(ev, "extras");
    cr_assert_eq(json_object_size(ex), 3);
    cr_assert_eq(json_number_value(json_object_get(ex, "k\"1")), 1);
    cr_assert_eq(json_number_value(json_object_get(ex, "???")), 3);
    cr_assert(json_is_null(json_object_get(ex, "\t")));
    cr_assert(json_is_null(json_object_get(
        json_object_get(json_array_get(jget(j, "network", "hour_of_day"), 3), "bytes"), "mean")));
    json_t *t = json_array_get(json_object_get(j, "top_talkers"), 0);
    cr_assert(json_is_null(json_object_get(t, "expected")));
    cr_assert(json_is_null(json_object_get(t, "z")));
    json_decref(j);
    fs_rp_reports_free(r);
}

Test(report, retention_by_event_time)
{
    char dir[256];
    struct fs_rp_report_opts o;
    struct fs_rp_reports *r;
    static const char *const keep[] = { "notes.txt", "hourly-bogus.json",
                                        "hourly-20261230T000000Z.json", ".hidden" };
    static const char *const old[] = { "hourly-20261120T000000Z.json",
                                       "daily-20261101T000000Z.json" };

    snprintf(dir, sizeof(dir), "%s/r", tmp);
    cr_assert_eq(mkdir(dir, 0755), 0);
    for (size_t i = 0; i < 4; i++) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", dir, keep[i]);
        fclose(fopen(p, "w"));
    }
    for (size_t i = 0; i < 2; i++) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", dir, old[i]);
        fclose(fopen(p, "w"));
    }
    o = opts(dir);
    o.keep_hourly_s = 6 * 3600;
    o.keep_daily_s = 2 * 86400;
    r = open_reports(&o);
    feed_day(r, 0, 24);

    /* Hourly reports that ended at least at 18:00 (24:00 - 6 h) stay:
     * hours 17 to 23. Older ones, and the old daily, went. Files that are
     * not reports, and reports newer than the newest, are left alone. */
    for (int h = 0; h < 24; h++) {
        char name[64];
        snprintf(name, sizeof(name), "hourly-20261124T%02d0000Z.json", h);
        cr_assert_eq(exists(dir, name), h >= 17, "%s", name);
    }
    for (size_t i = 0; i < 4; i++)
        cr_assert(exists(dir, keep[i]), "%s", keep[i]);
    for (size_t i = 0; i < 2; i++)
        cr_assert(!exists(dir, old[i]), "%s", old[i]);
    cr_assert(exists(dir, "daily-20261124T000000Z.json"));
    cr_assert_eq(fs_rp_reports_counters(r)->removed, 17 + 2);

    /* Two days later (event time) the daily report is still in; three
     * days later it goes. */
    feed_hour(r, DAY0 + 48 * H, 0, NULL, 0);
    feed_hour(r, DAY0 + 71 * H, 23, NULL, 0);
    cr_assert(exists(dir, "daily-20261124T000000Z.json"));
    cr_assert(exists(dir, "daily-20261126T000000Z.json"));
    feed_hour(r, DAY0 + 95 * H, 23, NULL, 0);
    cr_assert(!exists(dir, "daily-20261124T000000Z.json"));
    cr_assert(exists(dir, "daily-20261127T000000Z.json"));
    cr_assert_eq(fs_rp_reports_counters(r)->retention_errors, 0);
    fs_rp_reports_free(r);
}

struct reader {
    const char *path;
    volatile bool stop;
    long reads, bad;
    size_t last;
    bool shrank;
    char why[256];
};

/* Keeps reading and parsing the report: every read must give a whole
 * report, never an older one than the last seen. Until the first report
 * exists, opening fails with ENOENT; after that, never. */
static void *read_loop(void *arg)
{
    struct reader *rd = arg;
    static char buf[1 << 20];

    while (!rd->stop) {
        int fd = open(rd->path, O_RDONLY);
        size_t len = 0;
        ssize_t got;
        json_error_t e;

        if (fd < 0) {
            if (errno != ENOENT || rd->reads > 0) {
                rd->bad++;
                snprintf(rd->why, sizeof(rd->why), "open: %s", strerror(errno));
            }
            continue;
        }
        while ((got = read(fd, buf + len, sizeof(buf) - len)) > 0)
            len += (size_t)got;
        close(fd);
        json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
        if (j == NULL) {
            rd->bad++;
            snprintf(rd->why, sizeof(rd->why), "%zu bytes: %s", len, e.text);
            continue;
        }
        size_t n = json_array_size(json_object_get(j, "anomalies"));
        if (n < rd->last)
            rd->shrank = true;
        rd->last = n;
        rd->reads++;
        json_decref(j);
    }
    return NULL;
}

Test(report, atomic_rewrites_under_a_reader)
{
    char dir[256], path[512], written[512], err[256];
    struct fs_rp_report_opts o;
    struct fs_rp_reports *r;
    struct reader rd = { .path = path };
    pthread_t th;
    char *names[8];

    snprintf(dir, sizeof(dir), "%s/r", tmp);
    o = opts(dir);
    r = open_reports(&o);
    feed_day(r, 0, 3);
    /* One on-demand name, rewritten with one more anomaly each time. */
    snprintf(path, sizeof(path), "%s/ondemand-20261124T031502Z.json", dir);
    cr_assert_eq(pthread_create(&th, NULL, read_loop, &rd), 0);
    for (int i = 0; i < 120; i++) {
        struct fs_anomaly a = make_anomaly(FS_AC_BEACONING, FS_SEV_LOW, "10.0.0.3",
                                           DAY0 + 3 * H + (uint64_t)i * 1000, 20);
        fs_rp_reports_anomaly(r, &a);
        cr_assert_eq(fs_rp_reports_now(r, DAY0 + 3 * H + 15 * 60000 + 2000, written,
                                       sizeof(written), err, sizeof(err)), 0, "%s", err);
        cr_assert_str_eq(written, path);
    }
    rd.stop = true;
    pthread_join(th, NULL);
    cr_assert_eq(rd.bad, 0, "%ld bad reads: %s", rd.bad, rd.why);
    cr_assert_gt(rd.reads, 10);
    cr_assert(!rd.shrank);
    json_t *j = load_json(path);
    cr_assert_eq(json_array_size(json_object_get(j, "anomalies")), 120 + 1); /* hour 2's too */
    json_decref(j);
    /* No temporary file left: three period reports and the on-demand one. */
    int n = list_dir(dir, names, 8);
    cr_assert_eq(n, 4);
    free_names(names, n);
    fs_rp_reports_free(r);
}

Test(report, write_errors_keep_the_data)
{
    char parent[200], away[200], dir[256], err[256] = "", written[512];
    struct fs_rp_report_opts o;
    struct fs_rp_reports *r;
    struct fix f;
    char *names[8];

    snprintf(parent, sizeof(parent), "%s/p", tmp);
    snprintf(away, sizeof(away), "%s/p.away", tmp);
    snprintf(dir, sizeof(dir), "%s/reports", parent);
    o = opts(dir);
    r = open_reports(&o);
    feed_hour(r, DAY0, 0, NULL, 0);

    /* The parent becomes a regular file: ENOTDIR even for root. */
    cr_assert_eq(rename(parent, away), 0);
    fclose(fopen(parent, "w"));
    feed_anomalies(r, 2);
    make_summary(&f, DAY0 + H, 1);
    cr_assert_eq(fs_rp_reports_summary(r, &f.s, written, sizeof(written), err, sizeof(err)), -1);
    cr_assert(strstr(err, "Not a directory"), "%s", err);
    cr_assert_str_eq(written, "");
    make_summary(&f, DAY0 + 2 * H, 2);
    err[0] = '\0';
    cr_assert_eq(fs_rp_reports_summary(r, &f.s, written, sizeof(written), err, sizeof(err)), -1);
    cr_assert_neq(err[0], '\0');
    cr_assert_eq(fs_rp_reports_flush(r, written, sizeof(written), err, sizeof(err)), -1);
    cr_assert_eq(fs_rp_reports_counters(r)->write_errors, 3);
    cr_assert_eq(fs_rp_reports_waiting(r), 2);

    /* Back: the next call writes what waited, then its own report. */
    cr_assert_eq(unlink(parent), 0);
    cr_assert_eq(rename(away, parent), 0);
    feed_hour(r, DAY0 + 3 * H, 3, written, sizeof(written));
    cr_assert(strstr(written, "hourly-20261124T030000Z.json"), "%s", written);
    cr_assert_eq(fs_rp_reports_waiting(r), 0);
    for (int h = 0; h < 4; h++) {
        char name[64];
        snprintf(name, sizeof(name), "hourly-20261124T%02d0000Z.json", h);
        json_t *j = load_report(dir, name);
        cr_assert_eq(jint(json_object_get(j, "traffic"), "bytes"), 1000 * (h + 1));
        /* The anomaly fed while the directory was gone is in hour 1's. */
        cr_assert_eq(json_array_size(json_object_get(j, "anomalies")), h == 1 ? 1 : 0);
        json_decref(j);
    }
    int n = list_dir(dir, names, 8);
    cr_assert_eq(n, 4);
    free_names(names, n);

    /* The directory removed altogether: made again. */
    fs_rmtree(parent);
    feed_hour(r, DAY0 + 4 * H, 4, written, sizeof(written));
    cr_assert(exists(dir, "hourly-20261124T040000Z.json"));
    fs_rp_reports_free(r);
}

/* Feeds the test day, then the first six hours of the next, with an
 * on-demand report at the end; with `save_at` >= 0, the state is saved
 * after that many steps, the object freed and a new one loaded. */
static void run(const char *dir, int save_at, size_t *state_len)
{
    struct fs_rp_report_opts o = opts(dir);
    struct fs_rp_reports *r = open_reports(&o);
    char err[256] = "";

    for (int step = 0; step < 30; step++) {
        int h = step % 24;
        uint64_t start = DAY0 + (uint64_t)step * H;
        feed_anomalies(r, h);
        feed_hour(r, start, h, NULL, 0);
        if (step == 13) { /* anomalies waiting for the next period report */
            struct fs_anomaly a = make_anomaly(FS_AC_DDOS, FS_SEV_CRITICAL, "10.0.0.7",
                                               start + H, 95);
            fs_rp_reports_anomaly(r, &a);
        }
        if (step == save_at) {
            void *buf;
            size_t len;
            cr_assert_eq(fs_rp_reports_save(r, &buf, &len), 0);
            fs_rp_reports_free(r);
            r = open_reports(&o);
            cr_assert_eq(fs_rp_reports_load(r, buf, len, err, sizeof(err)), 0, "%s", err);
            /* Saving again gives the same bytes. */
            void *again;
            size_t alen;
            cr_assert_eq(fs_rp_reports_save(r, &again, &alen), 0);
            cr_assert_eq(alen, len);
            cr_assert_eq(memcmp(buf, again, len), 0);
            free(again);
            free(buf);
            if (state_len)
                *state_len = len;
        }
    }
    cr_assert_eq(fs_rp_reports_now(r, DAY0 + 30 * H + 5000, NULL, 0, err, sizeof(err)), 0);
    fs_rp_reports_free(r);
}

Test(report, state_save_load_gives_identical_reports)
{
    char a[256], b[256], pa[512], pb[512];
    char *na[64], *nb[64];
    size_t state_len = 0;

    snprintf(a, sizeof(a), "%s/straight", tmp);
    snprintf(b, sizeof(b), "%s/restarted", tmp);
    run(a, -1, NULL);
    run(b, 13, &state_len);
    cr_assert_gt(state_len, 1000);
    int n = sorted_names(a, na, 64), m = sorted_names(b, nb, 64);
    cr_assert_eq(n, 24 + 6 + 1 + 1);
    cr_assert_eq(n, m);
    for (int i = 0; i < n; i++) {
        size_t la, lb;
        cr_assert_str_eq(na[i], nb[i]);
        snprintf(pa, sizeof(pa), "%s/%s", a, na[i]);
        snprintf(pb, sizeof(pb), "%s/%s", b, nb[i]);
        char *ta = slurp(pa, &la), *tb = slurp(pb, &lb);
        cr_assert(la == lb && memcmp(ta, tb, la) == 0, "%s differs", na[i]);
        free(ta);
        free(tb);
    }
    /* The anomaly that waited across the restart is in hour 14's report. */
    json_t *j = load_report(b, "hourly-20261124T140000Z.json");
    cr_assert_eq(jint(json_object_get(j, "anomalies_by_class"), "ddos"), 1);
    json_decref(j);
    free_names(na, n);
    free_names(nb, m);
}

Test(report, state_refuses_truncation_and_damage)
{
    char dir[256], err[256];
    struct fs_rp_report_opts o;
    struct fs_rp_reports *r, *x;
    void *buf;
    size_t len;

    snprintf(dir, sizeof(dir), "%s/r", tmp);
    o = opts(dir);
    o.hourly = false;
    r = open_reports(&o);
    feed_day(r, 0, 9);
    feed_anomalies(r, 23);
    cr_assert_eq(fs_rp_reports_save(r, &buf, &len), 0);
    x = open_reports(&o);
    for (size_t cut = 0; cut < len; cut++) {
        err[0] = '\0';
        cr_assert_eq(fs_rp_reports_load(x, buf, cut, err, sizeof(err)), -1, "cut at %zu", cut);
        cr_assert_neq(err[0], '\0');
    }
    cr_assert(strstr(err, "truncated"), "%s", err);
    unsigned char *b = buf;
    for (size_t at = 0; at < len; at += len / 97 + 1) {
        b[at] ^= 0x5a;
        cr_assert_eq(fs_rp_reports_load(x, buf, len, err, sizeof(err)), -1, "flip at %zu", at);
        b[at] ^= 0x5a;
    }
    b[8] = 2;
    cr_assert_eq(fs_rp_reports_load(x, buf, len, err, sizeof(err)), -1);
    cr_assert(strstr(err, "version 2"), "%s", err);
    b[8] = 1;
    /* A refused state leaves the object empty: the on-demand report of the
     * day so far holds nothing. */
    char written[512];
    cr_assert_eq(fs_rp_reports_now(x, DAY0 + 10 * H, written, sizeof(written), err,
                                   sizeof(err)), 0);
    json_t *j = load_json(written);
    cr_assert_eq(jint(json_object_get(j, "meta"), "summaries"), 0);
    cr_assert_eq(json_array_size(json_object_get(j, "anomalies")), 0);
    json_decref(j);
    cr_assert_eq(fs_rp_reports_load(x, buf, len, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(fs_rp_reports_now(x, DAY0 + 10 * H, written, sizeof(written), err,
                                   sizeof(err)), 0);
    j = load_json(written);
    cr_assert_eq(jint(json_object_get(j, "meta"), "summaries"), 9);
    cr_assert_eq(json_array_size(json_object_get(j, "anomalies")), 4);
    json_decref(j);
    free(buf);
    fs_rp_reports_free(x);
    fs_rp_reports_free(r);
}

Test(report, on_demand)
{
    char dir[256], written[512], err[256], want[512], said[4096];
    struct fs_rp_report_opts o;
    struct fs_rp_reports *r;
    char *files[1] = { written };

    snprintf(dir, sizeof(dir), "%s/r", tmp);
    o = opts(dir);
    o.hourly = o.daily = false;
    r = open_reports(&o);

    /* Before anything: an empty report, still valid. */
    cr_assert_eq(fs_rp_reports_now(r, DAY0, written, sizeof(written), err, sizeof(err)), 0);
    cr_assert_eq(validate(files, 1, said, sizeof(said)), 0, "%s", said);
    json_t *j = load_json(written);
    cr_assert(json_is_null(jget(j, "meta", "first_ms")));
    cr_assert_eq(jint(json_object_get(j, "meta"), "start_ms"), 0);
    json_decref(j);

    feed_day(r, 0, 5);
    feed_anomalies(r, 7); /* waiting for the next period report */
    cr_assert_eq(fs_rp_reports_now(r, DAY0 + 5 * H + 15 * 60000 + 2000, written,
                                   sizeof(written), err, sizeof(err)), 0, "%s", err);
    snprintf(want, sizeof(want), "%s/ondemand-20261124T051502Z.json", dir);
    cr_assert_str_eq(written, want);
    cr_assert_eq(validate(files, 1, said, sizeof(said)), 0, "%s", said);
    j = load_json(written);
    json_t *meta = json_object_get(j, "meta");
    cr_assert_str_eq(json_string_value(json_object_get(meta, "kind")), "ondemand");
    cr_assert_eq(jint(meta, "start_ms"), (json_int_t)DAY0);
    cr_assert_eq(jint(meta, "end_ms"), (json_int_t)(DAY0 + 5 * H));
    cr_assert_eq(jint(meta, "summaries"), 5);
    cr_assert_eq(jint(json_object_get(j, "traffic"), "bytes"), 15000);
    cr_assert_eq(json_array_size(json_object_get(j, "anomalies")), 3);
    cr_assert_eq(jint(json_object_get(meta, "counts"), "anomalies"), 3);
    json_decref(j);
    /* Neither period nor daily files were asked for. */
    char *names[8];
    int n = list_dir(dir, names, 8);
    cr_assert_eq(n, 2);
    free_names(names, n);
    fs_rp_reports_free(r);
}

Test(report, utc_offset_skipped_days_and_late_summaries)
{
    char dir[256], err[256];
    struct fs_rp_report_opts o;
    struct fs_rp_reports *r;
    char *names[64];

    snprintf(dir, sizeof(dir), "%s/r", tmp);
    o = opts(dir);
    o.hourly = false;
    o.utc_offset_s = 2 * 3600;
    r = open_reports(&o);
    /* Local days begin at 22:00 UTC: hours 0-21 close 24 November. */
    feed_day(r, 0, 24);
    json_t *j = load_report(dir, "daily-20261123T220000Z.json");
    cr_assert_eq(jint(json_object_get(j, "meta"), "summaries"), 22);
    cr_assert_str_eq(json_string_value(jget(j, "meta", "date")), "2026-11-24");
    cr_assert_eq(jint(json_object_get(j, "meta"), "utc_offset_s"), 7200);
    cr_assert_eq(jint(json_object_get(j, "traffic"), "bytes"), 253000);
    cr_assert_eq(json_array_size(json_object_get(j, "anomalies")), 3);
    json_decref(j);

    /* A summary four days on closes the open day once: no reports for
     * the days without summaries. The anomaly received before it belongs
     * with it, in the new day. */
    struct fs_anomaly a = make_anomaly(FS_AC_NEW_PORT, FS_SEV_LOW, "10.0.0.4",
                                       DAY0 + 4 * 24 * H, 30);
    fs_rp_reports_anomaly(r, &a);
    feed_hour(r, DAY0 + 4 * 24 * H + 5 * H, 5, NULL, 0);
    int n = sorted_names(dir, names, 64);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(names[1], "daily-20261124T220000Z.json");
    free_names(names, n);
    j = load_report(dir, "daily-20261124T220000Z.json");
    cr_assert_eq(jint(json_object_get(j, "meta"), "summaries"), 2);
    cr_assert_eq(jint(json_object_get(j, "traffic"), "bytes"), 23000 + 24000);
    cr_assert_eq(json_array_size(json_object_get(j, "anomalies")), 1); /* hour 23's */
    json_decref(j);

    /* A summary of a closed day is late: counted, the day left alone. */
    struct fix f;
    make_summary(&f, DAY0 + 3 * H, 3);
    cr_assert_eq(fs_rp_reports_summary(r, &f.s, NULL, 0, err, sizeof(err)), 0);
    cr_assert_eq(fs_rp_reports_counters(r)->late, 1);
    cr_assert_eq(fs_rp_reports_now(r, DAY0 + 100 * H, NULL, 0, err, sizeof(err)), 0);
    j = load_report(dir, "ondemand-20261128T040000Z.json");
    cr_assert_eq(jint(json_object_get(j, "meta"), "summaries"), 1);
    cr_assert_eq(jint(json_object_get(j, "meta"), "start_ms"),
                 (json_int_t)(DAY0 + 3 * 24 * H + 22 * H));
    cr_assert_eq(json_array_size(json_object_get(j, "anomalies")), 1);
    json_decref(j);
    fs_rp_reports_free(r);
}

Test(report, caps_are_counted)
{
    char dir[256];
    struct fs_rp_report_opts o;
    struct fs_rp_reports *r;
    enum { N = 3000 };
    static struct fs_summary_talker talkers[N];

    snprintf(dir, sizeof(dir), "%s/r", tmp);
    o = opts(dir);
    o.max_anomalies = 3;
    r = open_reports(&o);
    for (int h = 0; h < 2; h++) {
        struct fix f;
        char err[256];
        for (int i = 0; i < 5 - 3 * h; i++) {
            struct fs_anomaly a = make_anomaly(FS_AC_HOST_SWEEP, FS_SEV_HIGH, "10.0.0.5",
                                               DAY0 + (uint64_t)h * H + (uint64_t)i, 70);
            fs_rp_reports_anomaly(r, &a);
        }
        /* 3000 talkers an hour, all different; hour 1's are heavier. */
        for (int i = 0; i < N; i++) {
            talkers[i] = (struct fs_summary_talker){ { 4, { 10, (uint8_t)h, (uint8_t)(i >> 8),
                                                            (uint8_t)i } },
                                                     (uint64_t)(h * 100000 + i), 0, 1, 0, 1 };
        }
        make_summary(&f, DAY0 + (uint64_t)h * H, h);
        f.s.talkers = talkers;
        f.s.ntalkers = N;
        cr_assert_eq(fs_rp_reports_summary(r, &f.s, NULL, 0, err, sizeof(err)), 0, "%s", err);
    }
    json_t *j = load_report(dir, "hourly-20261124T000000Z.json");
    cr_assert_eq(json_array_size(json_object_get(j, "anomalies")), 3);
    cr_assert_eq(jint(j, "anomalies_unlisted"), 2);
    cr_assert_eq(jint(json_object_get(j, "anomalies_by_class"), "host_sweep"), 5);
    cr_assert_eq(json_array_size(json_object_get(j, "top_talkers")), N);
    json_decref(j);

    char err[256];
    cr_assert_eq(fs_rp_reports_now(r, DAY0 + 2 * H, NULL, 0, err, sizeof(err)), 0);
    j = load_report(dir, "ondemand-20261124T020000Z.json");
    cr_assert_eq(json_array_size(json_object_get(j, "anomalies")), 3);
    cr_assert_eq(jint(j, "anomalies_unlisted"), 4);
    cr_assert_eq(jint(jget(j, "meta", "counts"), "anomalies"), 7);
    json_t *t = json_object_get(j, "top_talkers");
    cr_assert_eq(json_array_size(t), FS_SUMMARY_MAX_LIST);
    json_t *dropped = json_object_get(jget(j, "meta", "counts"), "dropped");
    cr_assert_eq(jint(dropped, "talkers"), 2 * N - FS_SUMMARY_MAX_LIST);
    cr_assert_eq(jint(dropped, "hosts"), 0);
    /* The heaviest stayed: all of hour 1's, then hour 0's heaviest. */
    cr_assert_eq(jint(json_array_get(t, 0), "bytes_out"), 100000 + N - 1);
    cr_assert_eq(jint(json_array_get(t, FS_SUMMARY_MAX_LIST - 1), "bytes_out"),
                 N - (FS_SUMMARY_MAX_LIST - N));
    json_decref(j);
    cr_assert_eq(fs_rp_reports_counters(r)->anomalies_unlisted, 2 + 2);
    fs_rp_reports_free(r);
}

Test(report, bad_options_and_input)
{
    char dir[256], file[200], err[256] = "";
    struct fs_rp_report_opts o;
    struct fs_rp_reports *r;

    snprintf(file, sizeof(file), "%s/file", tmp);
    fclose(fopen(file, "w"));
    snprintf(dir, sizeof(dir), "%s/reports", file);
    o = opts(dir);
    cr_assert_null(fs_rp_reports_new(&o, err, sizeof(err)));
    cr_assert(strstr(err, "Not a directory"), "%s", err);
    o = opts(file);
    cr_assert_null(fs_rp_reports_new(&o, err, sizeof(err)));
    cr_assert(strstr(err, "not a directory"), "%s", err);
    o = opts(NULL);
    cr_assert_null(fs_rp_reports_new(&o, err, sizeof(err)));
    snprintf(dir, sizeof(dir), "%s/r", tmp);
    o = opts(dir);
    o.utc_offset_s = 15 * 3600;
    cr_assert_null(fs_rp_reports_new(&o, err, sizeof(err)));
    cr_assert(strstr(err, "14 hours"), "%s", err);

    o = opts(dir);
    r = open_reports(&o);
    struct fix f;
    make_summary(&f, 0, 0);
    cr_assert_eq(fs_rp_reports_summary(r, &f.s, NULL, 0, err, sizeof(err)), -1);
    cr_assert(strstr(err, "out of range"), "%s", err);
    make_summary(&f, DAY0, 0);
    f.s.end_ms = DAY0 - 1;
    cr_assert_eq(fs_rp_reports_summary(r, &f.s, NULL, 0, err, sizeof(err)), -1);
    struct fs_anomaly a = make_anomaly(FS_AC_DDOS, FS_SEV_LOW, "10.0.0.1", DAY0, 1);
    a.cls = (enum fs_anomaly_class)77;
    fs_rp_reports_anomaly(r, &a);
    cr_assert_eq(fs_rp_reports_counters(r)->rejected, 3);
    cr_assert_eq(fs_rp_reports_counters(r)->anomalies, 0);
    cr_assert_eq(fs_rp_reports_counters(r)->summaries, 0);
    fs_rp_reports_free(r);
}

Test(report, stale_temporary_files_are_removed_at_start)
{
    char dir[256], p[512];
    struct fs_rp_report_opts o;
    struct fs_rp_reports *r;

    snprintf(dir, sizeof(dir), "%s/r", tmp);
    cr_assert_eq(mkdir(dir, 0755), 0);
    snprintf(p, sizeof(p), "%s/.hourly-20261124T000000Z.json.a1B2c3", dir);
    fclose(fopen(p, "w"));
    snprintf(p, sizeof(p), "%s/.other", dir);
    fclose(fopen(p, "w"));
    o = opts(dir);
    r = open_reports(&o);
    cr_assert(!exists(dir, ".hourly-20261124T000000Z.json.a1B2c3"));
    cr_assert(exists(dir, ".other"));
    fs_rp_reports_free(r);
}
