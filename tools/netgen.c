/*
 * netgen.c - fs-netgen: writes the labelled traffic of tools/lib/netgen (an
 * office network over days, with injected attacks and benign look-alikes)
 * as flowsentry JSON lines and as nfdump CSV, with its labels and an
 * analyzer configuration that knows the network.
 *
 *   fs-netgen [--days N] [--learn-days N] [--hosts N] [--seed N]
 *             [--start YYYY-MM-DD] [--flows-per-hour F] [--scale X] [--clean]
 *             [--out DIR] [--json FILE] [--csv FILE] [--labels FILE]
 *             [--analyzer-config FILE] [--quiet]
 *
 * --out DIR writes DIR/flows.json, DIR/flows.csv, DIR/labels.json and
 * DIR/analyzer.conf; the single-file options write (or, with --out, move)
 * one of them, '-' for the flows meaning standard output. The JSON lines
 * are what `flowsentry-collector --json` prints for the same flows received
 * over IPFIX from an unsampled exporter (--sampling-default 1); the CSV is
 * what `TZ=UTC nfdump -o csv` prints for them. When done it prints one line
 * of key=value pairs on standard error: flows, bytes, packets, labels,
 * attacks (attack labels), days, hosts and seconds.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "detector.h"
#include "netgen.h"
#include "nfcsv_write.h"

#define OUT_BUFFER (1u << 20)

struct options {
    struct fs_netgen_config cfg;
    const char *dir, *json, *csv, *labels, *conf;
    bool quiet;
};

static void usage(void)
{
    fprintf(stderr,
            "usage: fs-netgen [--days N] [--learn-days N] [--hosts N] [--seed N]\n"
            "                 [--start YYYY-MM-DD] [--flows-per-hour F] [--scale X] [--clean]\n"
            "                 [--out DIR] [--json FILE] [--csv FILE] [--labels FILE]\n"
            "                 [--analyzer-config FILE] [--quiet]\n"
            "Defaults: 10 days, the first 7 clean, 300 hosts, seed 1, from 2024-03-04,\n"
            "40 flows per workstation in a busy hour.\n");
    exit(2);
}

/* "2024-03-04" to ms since the epoch at 00:00 UTC; 0 when malformed. */
static uint64_t parse_date(const char *s)
{
    struct tm tm;
    char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%d", &tm);
    if (end == NULL || *end)
        return 0;
    time_t t = timegm(&tm);
    return t <= 0 ? 0 : (uint64_t)t * 1000;
}

static void parse(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"days", required_argument, NULL, 'd'},
        {"learn-days", required_argument, NULL, 'l'},
        {"hosts", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"start", required_argument, NULL, 'S'},
        {"flows-per-hour", required_argument, NULL, 'f'},
        {"scale", required_argument, NULL, 'x'},
        {"clean", no_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        {"json", required_argument, NULL, 'j'},
        {"csv", required_argument, NULL, 'v'},
        {"labels", required_argument, NULL, 'L'},
        {"analyzer-config", required_argument, NULL, 'a'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    o->cfg.seed = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end = "";
        errno = 0;
        switch (ch) {
        case 'd': o->cfg.days = (unsigned)strtoul(optarg, &end, 10); break;
        case 'l': o->cfg.learn_days = (unsigned)strtoul(optarg, &end, 10); break;
        case 'n': o->cfg.hosts = (unsigned)strtoul(optarg, &end, 10); break;
        case 's': o->cfg.seed = strtoull(optarg, &end, 10); break;
        case 'S':
            if ((o->cfg.start_ms = parse_date(optarg)) == 0)
                usage();
            break;
        case 'f': o->cfg.flows_per_hour = strtod(optarg, &end); break;
        case 'x': o->cfg.scale = strtod(optarg, &end); break;
        case 'c': o->cfg.clean = true; break;
        case 'o': o->dir = optarg; break;
        case 'j': o->json = optarg; break;
        case 'v': o->csv = optarg; break;
        case 'L': o->labels = optarg; break;
        case 'a': o->conf = optarg; break;
        case 'q': o->quiet = true; break;
        default: usage();
        }
        if (errno || *end)
            usage();
    }
    if (optind != argc || (!o->dir && !o->json && !o->csv && !o->labels && !o->conf))
        usage();
}

/* The path of one output: its own option, else DIR/name, else none. */
static char *out_path(const char *given, const char *dir, const char *name)
{
    char *p;
    if (given)
        return strdup(given);
    if (!dir)
        return NULL;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        return NULL;
    return p;
}

static FILE *open_out(const char *path)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (fp == NULL)
        fprintf(stderr, "fs-netgen: %s: %s\n", path, strerror(errno));
    else
        setvbuf(fp, NULL, _IOFBF, OUT_BUFFER);
    return fp;
}

static int close_out(FILE *fp, const char *path)
{
    int rc = ferror(fp) | (fp == stdout ? fflush(fp) : fclose(fp));
    if (rc)
        fprintf(stderr, "fs-netgen: %s: write failed\n", path);
    return rc ? -1 : 0;
}

static int write_labels(const struct fs_netgen *g, const char *path)
{
    const struct fs_netgen_label *l;
    size_t n = fs_netgen_labels(g, &l);
    char line[FS_NETGEN_LABEL_JSON_MAX];
    FILE *fp = open_out(path);

    if (fp == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (fs_netgen_label_json(&l[i], line, sizeof(line)) < 0)
            return -1;
        fprintf(fp, "%s\n", line);
    }
    return close_out(fp, path);
}

/* Who is allowed what in the generated network, by anomaly class: the
 * authorised scanner scans, the backup server moves a lot of data, the
 * resolvers are the approved DNS servers, and DNS to any other server is to
 * be reported. Written for every detector this analyzer has of that class. */
static int write_config(const struct fs_netgen *g, const char *path)
{
    const struct fs_netgen_net *n = fs_netgen_net(g);
    const struct {
        enum fs_anomaly_class cls;
        const fs_ip *addr;
    } allow[] = {
        { FS_AC_PORT_SCAN, &n->scanner }, { FS_AC_HOST_SWEEP, &n->scanner },
        { FS_AC_LATERAL_MOVEMENT, &n->scanner }, { FS_AC_NEW_PORT, &n->scanner },
        { FS_AC_EXFILTRATION, &n->backup }, { FS_AC_VOLUME_SPIKE, &n->backup },
        { FS_AC_DNS_TUNNEL, &n->resolvers[0] }, { FS_AC_DNS_TUNNEL, &n->resolvers[1] },
        { FS_AC_DNS_TUNNEL, &n->upstream_dns[0] }, { FS_AC_DNS_TUNNEL, &n->upstream_dns[1] },
    };
    const struct {
        enum fs_anomaly_class cls;
        const char *setting;
    } enforce[] = { { FS_AC_DNS_TUNNEL, "resolver_check=1" } };
    char a[FS_IP_STRLEN];
    FILE *fp = open_out(path);

    if (fp == NULL)
        return -1;
    fprintf(fp, "# fs-netgen: the network of the generated traffic\n"
                "home-net = %s\n", FS_NETGEN_HOME_NET);
    for (const struct fs_detector *const *d = fs_detectors; *d; d++) {
        for (size_t i = 0; i < sizeof(allow) / sizeof(allow[0]); i++)
            if (allow[i].cls == (*d)->cls)
                fprintf(fp, "set = %s.allow=%s\n", (*d)->name, fs_ip_format(allow[i].addr, a));
        for (size_t i = 0; i < sizeof(enforce) / sizeof(enforce[0]); i++)
            if (enforce[i].cls == (*d)->cls)
                fprintf(fp, "set = %s.%s\n", (*d)->name, enforce[i].setting);
    }
    return close_out(fp, path);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct options o = { 0 };
    struct fs_nfcsv_write_totals sum = { 0 };
    uint64_t nflows = 0;
    double t0 = now_s();
    int rc = 1;

    parse(argc, argv, &o);
    if (o.dir && mkdir(o.dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "fs-netgen: %s: %s\n", o.dir, strerror(errno));
        return 1;
    }
    char *json_path = out_path(o.json, o.dir, "flows.json");
    char *csv_path = out_path(o.csv, o.dir, "flows.csv");
    char *labels_path = out_path(o.labels, o.dir, "labels.json");
    char *conf_path = out_path(o.conf, o.dir, "analyzer.conf");
    FILE *json = NULL, *csv = NULL;
    struct fs_netgen *g = fs_netgen_new(&o.cfg);

    if (g == NULL) {
        fprintf(stderr, "fs-netgen: invalid settings: %u..%u hosts, at least learn days + 3 "
                        "days, a Monday to start\n", FS_NETGEN_MIN_HOSTS, FS_NETGEN_MAX_HOSTS);
        goto done;
    }
    if ((labels_path && write_labels(g, labels_path) != 0) ||
        (conf_path && write_config(g, conf_path) != 0))
        goto done;
    if ((json_path && (json = open_out(json_path)) == NULL) ||
        (csv_path && (csv = open_out(csv_path)) == NULL))
        goto done;
    if (csv)
        fprintf(csv, "%s\n", fs_nfcsv_write_header);

    const struct fs_flow *flows;
    long n = 0;
    char line[FS_FLOW_JSON_MAX + FS_NFCSV_WRITE_ROW_MAX];
    while ((json || csv) && (n = fs_netgen_next(g, &flows)) > 0) {
        for (long i = 0; i < n; i++) {
            const struct fs_flow *f = &flows[i];
            int len;
            if (json) {
                len = fs_flow_json(f, line, sizeof(line) - 1);
                if (len < 0)
                    goto done;
                line[len++] = '\n';
                fwrite(line, 1, (size_t)len, json);
            }
            if (csv) {
                len = fs_nfcsv_write_row(f, 1, f->end_ms, line, sizeof(line) - 1);
                if (len < 0)
                    goto done;
                line[len++] = '\n';
                fwrite(line, 1, (size_t)len, csv);
            }
            fs_nfcsv_write_count(&sum, f);
        }
        nflows += (uint64_t)n;
    }
    if (n < 0) {
        fprintf(stderr, "fs-netgen: out of memory\n");
        goto done;
    }
    if (csv) {
        if (fs_nfcsv_write_summary(&sum, line, sizeof(line)) < 0)
            goto done;
        fputs(line, csv);
    }
    rc = 0;
done:
    if (json && close_out(json, json_path) != 0)
        rc = 1;
    if (csv && close_out(csv, csv_path) != 0)
        rc = 1;
    if (rc == 0 && !o.quiet) {
        const struct fs_netgen_config *c = fs_netgen_config(g);
        const struct fs_netgen_label *l;
        size_t nl = fs_netgen_labels(g, &l), attacks = 0;
        for (size_t i = 0; i < nl; i++)
            attacks += l[i].kind == FS_NETGEN_ATTACK;
        fprintf(stderr,
                "flows=%llu bytes=%llu packets=%llu labels=%zu attacks=%zu days=%u hosts=%u "
                "seconds=%.2f\n",
                (unsigned long long)nflows, (unsigned long long)sum.bytes,
                (unsigned long long)sum.packets, nl, attacks, c->days,
                c->hosts, now_s() - t0);
    }
    fs_netgen_free(g);
    free(json_path);
    free(csv_path);
    free(labels_path);
    free(conf_path);
    return rc;
}
