/*
 * test_input.c - the analyzer's flow inputs: nfdump CSV, JSON lines,
 * captures and the live flows bus.
 *
 * The nfdump sample (tests/fixtures/nfdump/, made by make.sh there) holds
 * what nfdump 1.7.1 printed for a set of export datagrams, and what
 * flowsentry-collector --json printed for the very same datagrams: the CSV
 * reader is checked against the collector's view, field by field, and the
 * protocol names and flag letters against the numbers send.py put on the
 * wire. Damage (every truncation, garbage, wrong types, absurd numbers, huge
 * lines) must cost the damaged record only.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "fixtures.h"
#include "input.h"
#include "msg.h"
#include "proc.h"

#define NFDIR FS_SOURCE_DIR "/tests/fixtures/nfdump"
#define SAMPLE_FLOWS 399

struct collect {
    struct fs_flow *v;
    size_t n, cap, calls;
};

static void collect_sink(void *arg, const struct fs_flow *flows, size_t n)
{
    struct collect *c = arg;

    if (c->n + n > c->cap) {
        c->cap = (c->n + n) * 2;
        c->v = realloc(c->v, c->cap * sizeof(*c->v));
        cr_assert_not_null(c->v);
    }
    memcpy(c->v + c->n, flows, n * sizeof(*flows));
    c->n += n;
    c->calls++;
}

struct logs {
    char lines[64][512];
    size_t n;
};

static void collect_log(void *arg, const char *line)
{
    struct logs *l = arg;

    if (l->n < 64)
        snprintf(l->lines[l->n], sizeof(l->lines[0]), "%s", line);
    l->n++;
}

static struct collect got;
static struct logs logs;
static char err[512];
static char dir[64];

static void setup(void)
{
    memset(&got, 0, sizeof(got));
    memset(&logs, 0, sizeof(logs));
    err[0] = '\0';
    dir[0] = '\0';
}

static void teardown(void)
{
    free(got.v);
    if (dir[0] != '\0')
        fs_rmtree(dir);
}

TestSuite(input, .init = setup, .fini = teardown);

static struct fs_in *new_reader(const char *tz)
{
    struct fs_in_opts o = { 0 };
    struct fs_in *in;

    o.csv_tz = tz;
    o.log = collect_log;
    o.log_arg = &logs;
    o.log_burst = 5;
    in = fs_in_new(&o, collect_sink, &got);
    cr_assert_not_null(in);
    return in;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;

    cr_assert_not_null(fp, "%s", path);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

/* The collector's JSON of the sample datagrams, read line by line. */
static size_t reference(struct fs_flow **out)
{
    size_t len, n = 0;
    char *text = slurp(NFDIR "/sample.jsonl", &len);
    struct fs_flow *v = calloc(SAMPLE_FLOWS + 1, sizeof(*v));

    for (char *p = text, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        cr_assert_lt(n, SAMPLE_FLOWS);
        cr_assert_eq(fs_flow_parse_json(p, (size_t)(nl - p), &v[n], err, sizeof(err)), 0, "%s",
                     err);
        n++;
    }
    free(text);
    *out = v;
    return n;
}

static const char *ipstr(const fs_ip *ip, char *buf)
{
    return fs_ip_format(ip, buf);
}

#define SAME_IP(a, b, what, i)                                                          \
    do {                                                                                \
        char x_[FS_IP_STRLEN], y_[FS_IP_STRLEN];                                        \
        cr_assert_str_eq(ipstr(&(a), x_), ipstr(&(b), y_), "flow %zu: %s", (i), (what)); \
    } while (0)

/* One CSV flow against the collector's flow of the same record. */
static void same_as_collector(const struct fs_flow *c, const struct fs_flow *j, size_t i)
{
    SAME_IP(c->exporter, j->exporter, "exporter", i);
    cr_assert_eq(c->domain, j->domain, "flow %zu: domain", i);
    SAME_IP(c->src_addr, j->src_addr, "src_addr", i);
    SAME_IP(c->dst_addr, j->dst_addr, "dst_addr", i);
    if (j->proto == 1 && j->src_port != 0) {
        /* nfdump moves a v5 ICMP source port, byte-swapped, to dp. */
        cr_assert_eq(c->src_port, 0);
        cr_assert_eq(c->dst_port, (uint16_t)(j->src_port << 8 | j->src_port >> 8));
    } else {
        cr_assert_eq(c->src_port, j->src_port, "flow %zu", i);
        cr_assert_eq(c->dst_port, j->dst_port, "flow %zu", i);
    }
    /* nfdump prints both 35 and 38 as "IDPR". */
    cr_assert_eq(c->proto, j->proto == 38 ? 35 : j->proto, "flow %zu", i);
    cr_assert_eq(c->tcp_flags, j->tcp_flags, "flow %zu", i);
    cr_assert_eq(c->tos, j->tos, "flow %zu", i);
    cr_assert_eq(c->packets, j->packets, "flow %zu", i);
    cr_assert_eq(c->bytes, j->bytes, "flow %zu", i);
    cr_assert(FS_FLOW_HAS(c, FS_F_START) && FS_FLOW_HAS(c, FS_F_END));
    /* nfdump keeps whole seconds and the exact duration. */
    cr_assert_eq(c->end_ms - c->start_ms, j->end_ms - j->start_ms, "flow %zu: duration", i);
    cr_assert_leq(c->start_ms, j->start_ms, "flow %zu", i);
    cr_assert_lt(j->start_ms - c->start_ms, 1000, "flow %zu: start off by %llu ms", i,
                 (unsigned long long)(j->start_ms - c->start_ms));
    /* What nfdump kept must agree; 0 (not kept) reads as absent. */
    if (FS_FLOW_HAS(c, FS_F_IN_IF))
        cr_assert_eq(c->in_if, j->in_if);
    if (FS_FLOW_HAS(c, FS_F_OUT_IF))
        cr_assert_eq(c->out_if, j->out_if);
    if (FS_FLOW_HAS(c, FS_F_SRC_AS))
        cr_assert_eq(c->src_as, j->src_as);
    if (FS_FLOW_HAS(c, FS_F_DST_AS))
        cr_assert_eq(c->dst_as, j->dst_as, "flow %zu", i);
    if (FS_FLOW_HAS(c, FS_F_SRC_MASK))
        cr_assert_eq(c->src_mask, j->src_mask);
    if (FS_FLOW_HAS(c, FS_F_NEXT_HOP))
        SAME_IP(c->next_hop, j->next_hop, "next_hop", i);
    if (FS_FLOW_HAS(c, FS_F_SRC_VLAN))
        cr_assert_eq(c->src_vlan, j->src_vlan);
    if (FS_FLOW_HAS(c, FS_F_SRC_MAC))
        cr_assert_arr_eq(c->src_mac, j->src_mac, 6);
    if (FS_FLOW_HAS(c, FS_F_DST_MAC))
        cr_assert_arr_eq(c->dst_mac, j->dst_mac, 6);
    if (FS_FLOW_HAS(c, FS_F_MPLS)) {
        cr_assert_eq(c->mpls_count, j->mpls_count);
        cr_assert_arr_eq(c->mpls, j->mpls, c->mpls_count * sizeof(uint32_t));
    }
    if (FS_FLOW_HAS(c, FS_F_DIRECTION))
        cr_assert_eq(c->direction, j->direction);
    if (FS_FLOW_HAS(c, FS_F_FWD_STATUS))
        cr_assert_eq(c->fwd_status, j->fwd_status);
}

/* nfcapd stores each exporter's flows in its own blocks: the CSV order is
 * not the datagram order. Both sides are sorted by what identifies a flow. */
static int flow_order(const void *pa, const void *pb)
{
    const struct fs_flow *a = pa, *b = pb;
    int c;

    if (a->domain != b->domain)
        return a->domain < b->domain ? -1 : 1;
    if ((c = memcmp(&a->src_addr, &b->src_addr, sizeof(fs_ip))) != 0)
        return c;
    if ((c = memcmp(&a->dst_addr, &b->dst_addr, sizeof(fs_ip))) != 0)
        return c;
    if (a->packets != b->packets)
        return a->packets < b->packets ? -1 : 1;
    if (a->bytes != b->bytes)
        return a->bytes < b->bytes ? -1 : 1;
    return 0;
}

Test(input, nfdump_csv_matches_the_collector_on_the_same_datagrams)
{
    struct fs_in *in = new_reader("UTC");
    struct fs_in_stats st = { 0 };
    struct fs_flow *ref;
    size_t nref = reference(&ref), macs = 0, mpls = 0, v6 = 0;

    cr_assert_eq(nref, SAMPLE_FLOWS);
    cr_assert_eq(fs_in_read_file(in, NFDIR "/sample.csv", FS_IN_AUTO, &st, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(got.n, SAMPLE_FLOWS);
    cr_assert_eq(st.flows, SAMPLE_FLOWS);
    cr_assert_eq(st.records, SAMPLE_FLOWS);
    cr_assert_eq(st.lines, SAMPLE_FLOWS + 4, "header and three summary lines");
    cr_assert_eq(st.skipped, 4);
    cr_assert_eq(st.malformed, 0);
    cr_assert_eq(st.truncated, 0);
    cr_assert_eq(logs.n, 0, "%s", logs.lines[0]);
    qsort(ref, nref, sizeof(*ref), flow_order);
    qsort(got.v, got.n, sizeof(*got.v), flow_order);
    for (size_t i = 0; i < nref; i++) {
        same_as_collector(&got.v[i], &ref[i], i);
        macs += FS_FLOW_HAS(&got.v[i], FS_F_SRC_MAC);
        mpls += FS_FLOW_HAS(&got.v[i], FS_F_MPLS);
        v6 += got.v[i].src_addr.af == 6;
    }
    cr_assert_eq(macs, 2, "the two hand-made v9 flows carry MACs");
    cr_assert_eq(mpls, 2);
    cr_assert_gt(v6, 10);
    free(ref);
    fs_in_free(in);
}

/* send.py sent protocol p with 1 + p packets, TCP flags p and ToS p % 4. */
Test(input, nfdump_protocol_names_and_flag_letters)
{
    struct fs_in *in = new_reader("UTC");
    size_t sweep = 0;

    cr_assert_eq(fs_in_read_file(in, NFDIR "/sample.csv", FS_IN_NFCSV, NULL, err, sizeof(err)),
                 0, "%s", err);
    for (size_t i = 0; i < got.n; i++) {
        const struct fs_flow *f = &got.v[i];
        unsigned p;

        if (f->dst_addr.af != 4 || memcmp(f->dst_addr.b, "\xc6\x33\x64\x07", 4) != 0 ||
            f->domain != (1u << 8 | 2))
            continue;
        p = (unsigned)f->packets - 1;
        /* nfdump names both 35 and 38 "IDPR". */
        cr_assert_eq(f->proto, p == 38 ? 35 : p, "protocol %u", p);
        cr_assert_eq(f->tcp_flags, p, "flags of protocol %u", p);
        cr_assert_eq(f->tos, p % 4);
        sweep++;
    }
    cr_assert_eq(sweep, 256);
    fs_in_free(in);
}

Test(input, nfdump_extreme_values)
{
    struct fs_in *in = new_reader("UTC");
    const struct fs_flow *big = NULL, *v9 = NULL;

    cr_assert_eq(fs_in_read_file(in, NFDIR "/sample.csv", FS_IN_AUTO, NULL, err, sizeof(err)), 0);
    for (size_t i = 0; i < got.n; i++) {
        if (got.v[i].src_port == 65535 && got.v[i].dst_port == 65535)
            big = &got.v[i];
        if (got.v[i].bytes == 5000000000u)
            v9 = &got.v[i];
    }
    cr_assert_not_null(big);
    cr_assert_eq(big->packets, 4294967295u);
    cr_assert_eq(big->tcp_flags, 0xff);
    cr_assert_eq(big->in_if, 65535);
    cr_assert_eq(big->src_as, 65001);
    cr_assert_eq(big->domain, 3u << 8 | 4);
    /* send.py: first 1500 ms before 10:00:00 UTC, last 1 ms before it. */
    cr_assert_eq(big->end_ms - big->start_ms, 1499);
    cr_assert_geq(big->start_ms, 1704103198000u);
    cr_assert_lt(big->end_ms, 1704103200000u);
    cr_assert_not_null(v9);
    cr_assert_eq(v9->dst_as, 4200000000u);
    cr_assert_eq(v9->src_vlan, 100);
    cr_assert_eq(v9->dst_vlan, 200);
    cr_assert_eq(v9->mpls_count, 2);
    cr_assert_eq(v9->mpls[0], 16001u << 4);
    cr_assert_eq(v9->mpls[1], 16002u << 4 | 1);
    cr_assert_eq(v9->fwd_status, 64);
    cr_assert_eq(v9->domain, 42);
    fs_in_free(in);
}

/* Same flows, as JSON text, for comparisons. */
static char *flows_json(const struct fs_flow *v, size_t n)
{
    char *buf = NULL, line[FS_FLOW_JSON_MAX];
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    for (size_t i = 0; i < n; i++) {
        cr_assert_gt(fs_flow_json(&v[i], line, sizeof(line)), 0);
        fprintf(fp, "%s\n", line);
    }
    fclose(fp);
    return buf;
}

static char *read_as(enum fs_in_format fmt, const char *tz, const char *text, size_t len,
                     int want_rc, struct fs_in_stats *st)
{
    struct fs_in *in = new_reader(tz);
    char *out;

    got.n = 0;
    cr_assert_eq(fs_in_read_buffer(in, "mem", text, len, fmt, st, err, sizeof(err)), want_rc,
                 "%s", err);
    out = flows_json(got.v, got.n);
    fs_in_free(in);
    return out;
}

static char *read_buffer_json(const char *tz, const char *text, size_t len, int want_rc,
                              struct fs_in_stats *st)
{
    return read_as(FS_IN_AUTO, tz, text, len, want_rc, st);
}

/* nfdump -q: no header, no summary. */
static char *strip_header_and_summary(const char *csv)
{
    const char *start = strchr(csv, '\n') + 1, *summary = strstr(csv, "Summary\n");

    cr_assert_not_null(summary);
    return strndup(start, (size_t)(summary - start));
}

Test(input, nfdump_without_header_or_with_columns_moved)
{
    size_t len;
    char *csv = slurp(NFDIR "/sample.csv", &len), *q = strip_header_and_summary(csv);
    char *want = read_buffer_json("UTC", csv, len, 0, NULL), *have;
    char *moved = NULL;
    size_t mlen = 0;
    FILE *fp;

    have = read_buffer_json("UTC", q, strlen(q), 0, NULL);
    cr_assert_eq(got.n, SAMPLE_FLOWS);
    cr_assert_str_eq(have, want, "nfdump -q output reads the same");
    free(have);

    /* Columns in reverse order, with an unknown one in front. */
    fp = open_memstream(&moved, &mlen);
    for (char *p = csv, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        char *cols[64], *line = strndup(p, (size_t)(nl - p)), *save = NULL;
        size_t n = 0;

        for (char *c = strtok_r(line, ",", &save); c != NULL && n < 64;
             c = strtok_r(NULL, ",", &save))
            cols[n++] = c;
        if (n == 48) {
            fputs(strcmp(cols[0], "ts") == 0 ? "future" : "42", fp);
            for (size_t i = n; i-- > 0;)
                fprintf(fp, ",%s", cols[i]);
            fputc('\n', fp);
        } else {
            fprintf(fp, "%.*s\n", (int)(nl - p), p);
        }
        free(line);
    }
    fclose(fp);
    have = read_buffer_json("UTC", moved, mlen, 0, NULL);
    cr_assert_str_eq(have, want, "columns are found by name");
    free(have);
    free(moved);
    free(want);
    free(q);
    free(csv);
}

Test(input, nfdump_outputs_appended_to_one_file)
{
    size_t len;
    char *csv = slurp(NFDIR "/sample.csv", &len), *twice = malloc(2 * len);
    char *once = read_buffer_json("UTC", csv, len, 0, NULL), *both;
    struct fs_in_stats st = { 0 };

    memcpy(twice, csv, len);
    memcpy(twice + len, csv, len);
    both = read_buffer_json("UTC", twice, 2 * len, 0, &st);
    cr_assert_eq(got.n, 2 * SAMPLE_FLOWS);
    cr_assert_eq(st.skipped, 8);
    cr_assert_eq(st.malformed, 0);
    cr_assert_eq(strncmp(both, once, strlen(once)), 0);
    cr_assert_str_eq(both + strlen(once), once);
    free(both);
    free(once);
    free(twice);
    free(csv);
}

/* One nfdump 1.7.1 row with the given times and duration. */
static size_t row(char *buf, size_t cap, const char *ts, const char *te, const char *td)
{
    return (size_t)snprintf(buf, cap,
        "%s,%s,%s,192.0.2.1,198.51.100.2,1234,80,TCP,...AP.SF,0,0,3,180,0,0,1,2,0,0,0,0,0,0,"
        "0.0.0.0,0.0.0.0,0,0,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00,"
        "00:00:00:00:00:00,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,"
        "    0.000,    0.000,    0.000,127.0.0.1,0/0,1,2024-01-01 10:00:00.000\n", ts, te, td);
}

static uint64_t start_of(const char *tz, const char *ts, const char *te, const char *td)
{
    char line[1024];
    size_t n = row(line, sizeof(line), ts, te, td);
    char *j = read_buffer_json(tz, line, n, 0, NULL);

    free(j);
    cr_assert_eq(got.n, 1, "%s %s: %s", ts, tz, logs.n ? logs.lines[0] : "");
    return got.v[0].start_ms;
}

Test(input, nfdump_time_zones)
{
    cr_assert_eq(start_of("UTC", "2024-01-01 10:00:00", "2024-01-01 10:00:00", "0.000"),
                 1704103200000u);
    cr_assert_eq(start_of("+02:00", "2024-01-01 12:00:00", "2024-01-01 12:00:00", "0.000"),
                 1704103200000u);
    cr_assert_eq(start_of("-0530", "2024-01-01 12:00:00", "2024-01-01 12:00:00", "0.000"),
                 1704130200000u);
    cr_assert_eq(start_of("UTC", "2024-02-29 23:59:59", "2024-02-29 23:59:59", "0.000"),
                 1709251199000u, "a leap day");
    cr_assert_eq(start_of("UTC", "2024-01-01 10:00:00.250", "2024-01-01 10:00:01.000",
                          "0.750"), 1704103200250u, "milliseconds when a writer gives them");

    /* The local zone, with its summer time, as nfdump's localtime() had it. */
    cr_assert_eq(setenv("TZ", "Europe/Berlin", 1), 0);
    cr_assert_eq(start_of("local", "2024-03-31 01:59:59", "2024-03-31 01:59:59", "0.000"),
                 1711846799000u, "CET, just before the change");
    cr_assert_eq(start_of(NULL, "2024-03-31 03:00:00", "2024-03-31 03:00:00", "0.000"),
                 1711846800000u, "CEST, the next second");
    cr_assert_eq(start_of(NULL, "2024-07-01 12:00:00", "2024-07-01 12:00:00", "0.000"),
                 1719828000000u);
    cr_assert_eq(start_of(NULL, "2024-10-27 12:00:00", "2024-10-27 12:00:00", "0.000"),
                 1730026800000u, "CET again");
    cr_assert_eq(setenv("TZ", "UTC", 1), 0);
    cr_assert_null(fs_nfcsv_new("Mars/Olympus"), "an unknown zone is refused");
    cr_assert_null(fs_nfcsv_new("+25:00"));
}

Test(input, nfdump_start_and_end_from_whole_seconds)
{
    /* True start 09:59:58.500, end 09:59:59.999: nfdump prints 58, 59, 1.499. */
    start_of("UTC", "2024-01-01 09:59:58", "2024-01-01 09:59:59", "1.499");
    cr_assert_eq(got.v[0].start_ms, 1704103198000u);
    cr_assert_eq(got.v[0].end_ms, 1704103199499u);
    /* True start 09:59:01.785, 31.530 s: te - td is the tighter bound. */
    start_of("UTC", "2024-01-01 09:59:01", "2024-01-01 09:59:33", "31.530");
    cr_assert_eq(got.v[0].start_ms, 1704103141470u);
    cr_assert_eq(got.v[0].end_ms, 1704103173000u);
    /* A duration that does not fit the times is not trusted. */
    start_of("UTC", "2024-01-01 10:00:00", "2024-01-01 10:00:01", "5.000");
    cr_assert_eq(got.v[0].start_ms, 1704103200000u);
    cr_assert_eq(got.v[0].end_ms, 1704103201000u);
}

/* A row of the sample with column `col` (0-based) replaced by `value`. */
static void bad_column(int col, const char *value, const char *want)
{
    char line[1024], out[1200];
    size_t n = row(line, sizeof(line), "2024-01-01 10:00:00", "2024-01-01 10:00:00", "0.000");
    char *cols[64], *save = NULL;
    size_t nc = 0, len = 0;
    struct fs_in_stats st = { 0 };
    char *j;

    line[n - 1] = '\0';
    for (char *c = strtok_r(line, ",", &save); c != NULL; c = strtok_r(NULL, ",", &save))
        cols[nc++] = c;
    cr_assert_eq(nc, 48);
    cols[col] = (char *)value;
    for (size_t i = 0; i < nc; i++)
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? "," : "", cols[i]);
    out[len++] = '\n';
    memset(&logs, 0, sizeof(logs));
    j = read_as(FS_IN_NFCSV, "UTC", out, len, 0, &st);
    free(j);
    cr_assert_eq(st.malformed, 1, "accepted %s in column %d", value, col);
    cr_assert_eq(got.n, 0);
    cr_assert_eq(logs.n, 1);
    cr_assert_not_null(strstr(logs.lines[0], want), "%s\n  wanted: %s", logs.lines[0], want);
    cr_assert_eq(strncmp(logs.lines[0], "mem:1: ", 7), 0, "%s", logs.lines[0]);
}

Test(input, nfdump_wrong_types_and_absurd_numbers)
{
    bad_column(0, "2024-13-01 00:00:00", "ts: '2024-13-01 00:00:00' is not a time");
    bad_column(0, "2023-02-29 00:00:00", "is not a time");
    bad_column(0, "1969-12-31 23:59:59", "is not a time");
    bad_column(0, "2024-01-01T25:00:00", "is not a time");
    bad_column(1, "yesterday", "te: 'yesterday' is not a time");
    bad_column(2, "-1.000", "td: '-1.000' is not a duration");
    bad_column(2, "1.2.3", "is not a duration");
    bad_column(3, "192.0.2.256", "sa: '192.0.2.256' is not an IP address");
    bad_column(4, "", "da: '' is not an IP address");
    bad_column(5, "65536", "sp: '65536' is not a port (0..65535)");
    bad_column(6, "-80", "dp: '-80' is not a port");
    bad_column(7, "FOO", "pr: 'FOO' is not a protocol");
    bad_column(7, "256", "pr: '256' is not a protocol");
    bad_column(8, "...AP.SX", "flg: '...AP.SX' is not TCP flags");
    bad_column(8, "SA", "is not TCP flags");
    bad_column(11, "99999999999999999999999", "ipkt: '99999999999999999999999' is not a counter");
    bad_column(12, "1e9", "ibyt: '1e9' is not a counter");
    bad_column(12, "0x10", "is not a counter");
    bad_column(15, "4294967296", "in: '4294967296' is not a number in range");
    bad_column(19, "129", "smk: '129' is not a number in range");
    bad_column(27, "00:00:00:00:00", "ismc: '00:00:00:00:00' is not a MAC address");
    bad_column(31, "1048576-0-1", "mpls1: '1048576-0-1' is not an MPLS label");
    bad_column(31, "16-8-1", "is not an MPLS label");
    bad_column(44, "router", "ra: 'router' is not an IP address");
    bad_column(45, "256/0", "eng: '256/0' is not an engine type/id");
    bad_column(3, "\x01\x02\xff", "sa: '?\?\?' is not an IP address");
}

Test(input, nfdump_column_count_and_bad_headers)
{
    struct fs_in_stats st = { 0 };
    char *j;
    static const char text[] =
        "ts,te,td,sa,da\n"
        "2024-01-01 10:00:00,2024-01-01 10:00:00,0.000,192.0.2.1,192.0.2.2\n"
        "2024-01-01 10:00:00,2024-01-01 10:00:00,0.000,192.0.2.1\n"
        "2024-01-01 10:00:00,2024-01-01 10:00:00,0.000,192.0.2.1,192.0.2.2,extra\n"
        "ts,te,td,da\n"
        "garbage\n";

    j = read_buffer_json("UTC", text, sizeof(text) - 1, 0, &st);
    free(j);
    cr_assert_eq(got.n, 1, "a header with just the needed columns is enough");
    cr_assert_eq(got.v[0].present & (UINT64_C(1) << FS_F_SRC_PORT), 0, "no sp column");
    cr_assert_eq(st.malformed, 4);
    cr_assert_str_eq(logs.lines[0], "mem:3: 4 columns where the header has 5");
    cr_assert_str_eq(logs.lines[1], "mem:4: more than 5 columns where the header has 5");
    cr_assert_str_eq(logs.lines[2], "mem:5: header lacks 'sa' (not nfdump -o csv?)");
    cr_assert_str_eq(logs.lines[3], "mem:6: not an nfdump CSV row: 'garbage'");
}

/* Every cut of the first lines of a sample: the complete records before the
 * cut arrive, the cut one is reported, nothing else. */
static void every_truncation(const char *path, size_t nlines, bool csv)
{
    size_t len, cut_at = 0, seen = 0;
    char *text = slurp(path, &len);
    char *full;
    size_t nfull;

    for (size_t i = 0; i < len && seen < nlines; i++)
        if (text[i] == '\n' && ++seen == nlines)
            cut_at = i + 1;
    full = read_buffer_json("UTC", text, cut_at, 0, NULL);
    nfull = got.n;
    cr_assert_eq(nfull, csv ? nlines - 1 : nlines);
    for (size_t cut = 0; cut <= cut_at; cut++) {
        struct fs_in_stats st = { 0 };
        char *copy = malloc(cut + 1), *have;
        const char *last_nl, *partial;
        size_t complete = 0;
        int rc;

        memcpy(copy, text, cut);
        for (size_t i = 0; i < cut; i++)
            complete += copy[i] == '\n';
        if (csv && complete > 0)
            complete--; /* the header */
        last_nl = cut > 0 ? memrchr(copy, '\n', cut) : NULL;
        partial = last_nl != NULL ? last_nl + 1 : copy;
        memset(&logs, 0, sizeof(logs));
        got.n = 0;
        {
            struct fs_in *in = new_reader("UTC");

            rc = fs_in_read_buffer(in, "cut", copy, cut, csv ? FS_IN_NFCSV : FS_IN_JSON, &st, err,
                                   sizeof(err));
            fs_in_free(in);
        }
        have = flows_json(got.v, got.n);
        cr_assert_eq(strncmp(full, have, strlen(have)), 0, "cut %zu: the flows are a prefix",
                     cut);
        if (rc < 0) {
            cr_assert_eq(st.truncated, 1, "cut %zu", cut);
            cr_assert_eq(got.n, complete, "cut %zu", cut);
            cr_assert_not_null(strstr(err, "file ends in the middle of a record"), "%s", err);
        } else if (got.n == complete + 1) {
            /* The cut line was whole after all: JSON only when the cut falls
             * on its newline, CSV also inside the ignored last column. */
            size_t ps = (size_t)(partial - copy);
            const char *nl = memchr(text + ps, '\n', len - ps);
            const char *comma = memrchr(text + ps, ',', (size_t)(nl - (text + ps)));

            cr_assert_eq(st.truncated, 0);
            if (csv)
                cr_assert_geq(cut, (size_t)(comma - text) + 1,
                              "cut %zu accepted before the tr column", cut);
            else
                cr_assert_eq(text[cut], '\n', "cut %zu inside a JSON line was accepted", cut);
        } else {
            cr_assert_eq(got.n, complete, "cut %zu", cut);
            cr_assert_eq(st.truncated, 0);
        }
        cr_assert_eq(st.malformed, 0, "cut %zu: a cut is not a malformed line", cut);
        free(have);
        free(copy);
    }
    free(full);
    free(text);
}

Test(input, every_truncation_of_a_json_sample)
{
    every_truncation(NFDIR "/sample.jsonl", 4, false);
}

Test(input, every_truncation_of_a_csv_sample)
{
    every_truncation(NFDIR "/sample.csv", 4, true);
}

Test(input, garbage_lines_cost_only_themselves_and_are_named)
{
    size_t len;
    char *json = slurp(NFDIR "/sample.jsonl", &len), *mixed = NULL, *have, *want;
    size_t mlen = 0, lineno = 0, bad = 0, first_bad = 0;
    struct fs_in_stats st = { 0 };
    FILE *fp = open_memstream(&mixed, &mlen);
    uint64_t seed = 12345;

    want = read_buffer_json("UTC", json, len, 0, NULL);
    for (char *p = json, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        fprintf(fp, "%.*s\n", (int)(nl - p), p);
        lineno++;
        if (lineno % 7 == 3) {
            size_t n = 1 + (seed % 300);

            for (size_t i = 0; i < n; i++) {
                char c;

                seed = seed * 6364136223846793005u + 1442695040888963407u;
                c = (char)(seed >> 56);
                fputc(c == '\n' || c == ' ' || c == '\t' || c == '\r' ? 'x' : c, fp);
            }
            fputc('\n', fp);
            lineno++;
            if (first_bad == 0)
                first_bad = lineno;
            bad++;
        }
    }
    fprintf(fp, "{\"src_port\":\"80\"}\n{\"proto\":300}\n\n   \n");
    bad += 2;
    fclose(fp);
    have = read_buffer_json("UTC", mixed, mlen, 0, &st);
    cr_assert_str_eq(have, want, "every good line still arrives, in order");
    cr_assert_eq(st.malformed, bad);
    cr_assert_eq(st.skipped, 2, "blank lines");
    cr_assert_eq(st.lines, lineno + 4);
    cr_assert_eq(logs.n, 5 + 1, "five named, then one summary");
    {
        char prefix[32];

        snprintf(prefix, sizeof(prefix), "mem:%zu: ", first_bad);
        cr_assert_eq(strncmp(logs.lines[0], prefix, strlen(prefix)), 0, "%s", logs.lines[0]);
    }
    cr_assert_not_null(strstr(logs.lines[5], "malformed lines in all"), "%s", logs.lines[5]);
    cr_assert_not_null(strstr(logs.lines[5], "not shown"));
    free(have);
    free(want);
    free(mixed);
    free(json);
}

static const char *write_tmp(const char *name, const void *data, size_t len)
{
    static char path[256];
    FILE *fp;

    if (dir[0] == '\0')
        cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "wb");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(data, 1, len, fp), len);
    fclose(fp);
    return path;
}

Test(input, huge_lines_are_skipped_without_being_held)
{
    size_t len, n = 0;
    char *json = slurp(NFDIR "/sample.jsonl", &len);
    size_t huge = 5 * 1024 * 1024, at = 0;
    char *text = malloc(len + 2 * huge + 16);
    struct fs_in *in = new_reader("UTC");
    struct fs_in_stats st = { 0 };
    const char *path;

    /* Three lines, a 5 MB line, the rest, then a 5 MB unterminated tail. */
    for (char *p = json; n < 3; p = strchr(p, '\n') + 1, n++)
        at = (size_t)(strchr(p, '\n') + 1 - json);
    memcpy(text, json, at);
    memset(text + at, 'x', huge);
    text[at + huge] = '\n';
    memcpy(text + at + huge + 1, json + at, len - at);
    memset(text + len + huge + 1, '{', huge);
    path = write_tmp("huge.jsonl", text, len + 2 * huge + 1);
    cr_assert_eq(fs_in_read_file(in, path, FS_IN_AUTO, &st, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(got.n, SAMPLE_FLOWS);
    cr_assert_eq(st.too_long, 2);
    cr_assert_eq(st.malformed, 2);
    cr_assert_eq(st.lines, SAMPLE_FLOWS + 2);
    cr_assert_eq(st.bytes, len + 2 * huge + 1);
    cr_assert_not_null(strstr(logs.lines[0], ":4: line longer than 65536 bytes"), "%s",
                       logs.lines[0]);
    fs_in_free(in);
    free(text);
    free(json);
}

Test(input, file_errors)
{
    struct fs_in *in = new_reader("UTC");
    struct fs_in_stats st = { 0 };
    static const uint8_t gz[] = { 0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0 };

    cr_assert_eq(fs_in_read_file(in, "/nonexistent/flows.csv", FS_IN_AUTO, &st, err,
                                 sizeof(err)), -1);
    cr_assert_str_eq(err, "/nonexistent/flows.csv: No such file or directory");
    cr_assert_eq(fs_in_read_file(in, write_tmp("x.gz", gz, sizeof(gz)), FS_IN_AUTO, &st, err,
                                 sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "not JSON lines, nfdump CSV or a pcap capture (gzip"), "%s",
                       err);
    cr_assert_eq(fs_in_read_file(in, write_tmp("empty", "", 0), FS_IN_AUTO, &st, err,
                                 sizeof(err)), 0, "an empty file is no error");
    cr_assert_eq(fs_in_read_file(in, write_tmp("text.pcap", "hello\n", 6), FS_IN_PCAP, &st, err,
                                 sizeof(err)), -1);
    cr_assert_eq(st.files, 4);
    cr_assert_eq(st.failed, 3);
    cr_assert_eq(fs_in_totals(in)->failed, 3);
    fs_in_free(in);
}

Test(input, detection)
{
    cr_assert_eq(fs_in_detect("\xd4\xc3\xb2\xa1\x02\x00", 6), FS_IN_PCAP);
    cr_assert_eq(fs_in_detect("\x0a\x0d\x0d\x0a", 4), FS_IN_PCAP);
    cr_assert_eq(fs_in_detect("\xef\xbb\xbf  {\"a\":1}", 13), FS_IN_JSON);
    cr_assert_eq(fs_in_detect("ts,te,td,sa", 11), FS_IN_NFCSV);
    cr_assert_eq(fs_in_detect("2024-01-01 10:00:00,2024", 24), FS_IN_NFCSV);
    cr_assert_eq(fs_in_detect("hello, world\n", 13), FS_IN_AUTO);
    cr_assert_eq(fs_in_detect("", 0), FS_IN_AUTO);
    {
        enum fs_in_format f;

        cr_assert_eq(fs_in_format_parse("csv", &f), 0);
        cr_assert_eq(f, FS_IN_NFCSV);
        cr_assert_eq(fs_in_format_parse("json", &f), 0);
        cr_assert_eq(f, FS_IN_JSON);
        cr_assert_eq(fs_in_format_parse("xml", &f), -1);
        cr_assert_str_eq(fs_in_format_name(FS_IN_PCAP), "pcap");
    }
}

Test(input, capture_gives_the_collector_flows)
{
    struct fs_in *in = new_reader("UTC");
    struct fs_in_stats st = { 0 };
    size_t len;
    char *want = slurp(NFDIR "/sample.jsonl", &len), *have;

    cr_assert_eq(fs_in_read_file(in, NFDIR "/sample.pcap", FS_IN_AUTO, &st, err, sizeof(err)), 0,
                 "%s", err);
    have = flows_json(got.v, got.n);
    cr_assert_str_eq(have, want);
    cr_assert_eq(st.records, 18, "datagrams");
    cr_assert_eq(st.flows, SAMPLE_FLOWS);
    cr_assert_not_null(fs_in_decoder(in));
    free(have);
    free(want);
    fs_in_free(in);
}

Test(input, truncated_capture_keeps_what_came_before)
{
    size_t len;
    char *pcap = slurp(NFDIR "/sample.pcap", &len);
    struct fs_in *in = new_reader("UTC");
    struct fs_in_stats st = { 0 };

    cr_assert_eq(fs_in_read_file(in, write_tmp("cut.pcap", pcap, len - 100), FS_IN_AUTO, &st,
                                 err, sizeof(err)), -1);
    cr_assert_eq(st.truncated, 1, "%s", err);
    cr_assert_eq(st.records, 17, "every datagram but the cut one");
    cr_assert_gt(got.n, 300);
    cr_assert_lt(got.n, SAMPLE_FLOWS);
    free(pcap);
    fs_in_free(in);
}

static void dec_sink(void *arg, const struct fs_flow *flows, size_t n)
{
    collect_sink(arg, flows, n);
}

/* One reader keeps one decoder: captures of one exporter split over files
 * decode as they would in one piece. */
Test(input, capture_files_share_templates)
{
    json_error_t je;
    json_t *groups = json_load_file(FS_SOURCE_DIR "/tests/fixtures/expected/groups.json", 0, &je);
    json_t *g;
    size_t i, multi = 0;

    cr_assert_not_null(groups, "%s", je.text);
    json_array_foreach(json_object_get(groups, "groups"), i, g) {
        const char *name = json_string_value(json_object_get(g, "name"));
        json_t *caps = json_object_get(g, "captures");
        struct fx_group *fx;
        struct fs_decoder *dec;
        struct collect direct = { 0 };
        struct fs_in *in;
        char *a, *b;
        size_t k;
        json_t *c;

        if (strcmp(json_string_value(json_object_get(g, "order")), "sequential") != 0 ||
            json_array_size(caps) < 2)
            continue;
        fx = fx_group_load(name);
        dec = fs_decoder_new(&(struct fs_decoder_config){ 0 });
        for (k = 0; k < fx->n; k++)
            fs_decode(dec, &fx->d[k].src, fx->d[k].ts_ms, fx->d[k].data, fx->d[k].len, dec_sink,
                      &direct);
        got.n = 0;
        in = new_reader("UTC");
        json_array_foreach(caps, k, c) {
            char path[512];

            snprintf(path, sizeof(path), "%s/%s", FS_CAPTURES, json_string_value(c));
            cr_assert_eq(fs_in_read_file(in, path, FS_IN_PCAP, NULL, err, sizeof(err)), 0, "%s",
                         err);
        }
        cr_assert_gt(direct.n, 0, "%s", name);
        a = flows_json(direct.v, direct.n);
        b = flows_json(got.v, got.n);
        cr_assert_str_eq(b, a, "%s", name);
        free(a);
        free(b);
        free(direct.v);
        fs_in_free(in);
        fs_decoder_free(dec);
        fx_group_free(fx);
        multi++;
    }
    cr_assert_geq(multi, 3);
    json_decref(groups);

    /* Without its template file, the data file yields nothing. */
    {
        struct fs_in *in = new_reader("UTC");

        got.n = 0;
        cr_assert_eq(fs_in_read_file(in, FS_CAPTURES "/akvorado/netflow/data.pcap", FS_IN_AUTO,
                                     NULL, err, sizeof(err)), 0);
        cr_assert_eq(got.n, 0);
        fs_in_free(in);
    }
}

/*
 * Live bus.
 */

static void send_batch(struct fs_bus *pub, struct fs_batch *b, int nflows, uint16_t port,
                       bool really)
{
    const void *buf;
    size_t len;

    for (int i = 0; i < nflows; i++) {
        struct fs_flow f;

        fs_flow_init(&f);
        fs_ip_parse("192.0.2.9", &f.exporter);
        f.version = 9;
        f.src_port = port;
        FS_FLOW_SET(&f, FS_F_SRC_PORT);
        cr_assert_eq(fs_batch_add(b, &f), 0);
    }
    cr_assert_eq(fs_batch_finish(b, &buf, &len), 0);
    if (really)
        cr_assert_eq(fs_bus_send(pub, "flows", buf, len), 0);
    fs_batch_reset(b);
}

static const struct fs_in_sender *sender(struct fs_in *in, const char *name)
{
    const struct fs_in_sender *s;
    size_t n = fs_in_senders(in, &s);

    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].name, name) == 0)
            return &s[i];
    return NULL;
}

Test(input, bus_flows_and_sequence_gaps_per_sender)
{
    char ep[128];
    const char *eps[1] = { ep };
    struct fs_bus *pub;
    struct fs_in *in = new_reader("UTC");
    struct fs_batch *warm = fs_batch_new("warmup"), *a = fs_batch_new("a"),
                    *b = fs_batch_new("b"), *b2 = fs_batch_new("b");
    struct fs_in_stats st = { 0 };
    const struct fs_in_sender *sa, *sb;
    long long deadline;
    size_t from_a = 0;

    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    snprintf(ep, sizeof(ep), "ipc://%s/flows.sock", dir);
    pub = fs_bus_pub(ep, 0, err, sizeof(err));
    cr_assert_not_null(pub, "%s", err);
    cr_assert_eq(fs_in_bus_open(in, eps, 1, err, sizeof(err)), 0, "%s", err);
    /* Slow joiner: publish until the subscription is in place. */
    deadline = fs_now_ms() + 5000;
    while (fs_in_totals(in)->records == 0) {
        cr_assert_lt(fs_now_ms(), deadline, "the subscription never joined");
        send_batch(pub, warm, 0, 0, true);
        fs_in_bus_poll(in, 50, NULL);
    }
    send_batch(pub, a, 2, 1, true);      /* seq 0 */
    send_batch(pub, a, 2, 2, true);      /* seq 1 */
    send_batch(pub, a, 2, 3, false);     /* seq 2: lost */
    send_batch(pub, a, 2, 4, true);      /* seq 3 */
    send_batch(pub, b, 1, 10, true);     /* seq 0 */
    send_batch(pub, b, 1, 11, true);     /* seq 1 */
    send_batch(pub, b2, 1, 12, true);    /* seq 0 again: b restarted */
    cr_assert_eq(fs_bus_send(pub, "flows", "garbage", 7), 0);
    deadline = fs_now_ms() + 5000;
    for (;;) {
        sa = sender(in, "a");
        sb = sender(in, "b");
        if (sa != NULL && sa->messages == 3 && sb != NULL && sb->messages == 3 &&
            st.malformed == 1)
            break;
        cr_assert_lt(fs_now_ms(), deadline, "messages missing");
        fs_in_bus_poll(in, 100, &st);
    }
    cr_assert_eq(sa->lost, 1);
    cr_assert_eq(sa->flows, 6);
    cr_assert_eq(sa->restarts, 0);
    cr_assert_eq(sb->restarts, 1);
    cr_assert_eq(sb->lost, 0);
    cr_assert_eq(sb->flows, 3);
    cr_assert_geq(st.lost, 1);
    cr_assert_eq(st.malformed, 1);
    for (size_t i = 0; i < got.n; i++) {
        cr_assert_neq(got.v[i].src_port, 3, "the lost batch cannot arrive");
        from_a += got.v[i].src_port >= 1 && got.v[i].src_port <= 4;
    }
    cr_assert_eq(from_a, 6);
    cr_assert_not_null(strstr(logs.lines[0], "flows bus:"), "%s", logs.lines[0]);
    fs_batch_free(warm);
    fs_batch_free(a);
    fs_batch_free(b);
    fs_batch_free(b2);
    fs_in_free(in);
    fs_bus_close(pub, 0);
}

Test(input, batches_are_bounded)
{
    struct fs_in_opts o = { .batch = 7 };
    struct fs_in *in = fs_in_new(&o, collect_sink, &got);
    size_t len;
    char *json = slurp(NFDIR "/sample.jsonl", &len);

    cr_assert_eq(fs_in_read_buffer(in, "mem", json, len, FS_IN_JSON, NULL, err, sizeof(err)), 0);
    cr_assert_eq(got.n, SAMPLE_FLOWS);
    cr_assert_eq(got.calls, (SAMPLE_FLOWS + 6) / 7);
    free(json);
    fs_in_free(in);
}
