/*
 * test_snapshot.c - the analyzer's snapshot: what is saved loads back into
 * the same baselines, watermark and profiles; a missing file starts fresh;
 * a corrupt, truncated, foreign, other-version or other-window file is
 * refused with a clear message, renamed aside, and leaves a fresh engine
 * that works.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analyzer.h"
#include "proc.h"

#define T0 1709510400000ull /* Monday 2024-03-04 00:00 UTC */
#define MIN 60000ull
#define HOUR 3600000ull

struct eng {
    struct fs_an_config cfg;
    struct fs_an_ctx *c;
};

static void eng_init(struct eng *e, const char *window)
{
    char err[256];

    fs_an_config_init(&e->cfg);
    cr_assert_eq(fs_an_config_set(&e->cfg, "home-net", "10.0.0.0/8", err, sizeof(err)), 0);
    cr_assert_eq(fs_an_config_set(&e->cfg, "window", window, err, sizeof(err)), 0);
    cr_assert_eq(fs_an_config_set(&e->cfg, "lateness", "30", err, sizeof(err)), 0);
    cr_assert_eq(fs_an_config_set(&e->cfg, "set", "beaconing.min_beats=5", err, sizeof(err)), 0);
    cr_assert_eq(fs_an_config_check(&e->cfg, err, sizeof(err)), 0, "%s", err);
    e->c = fs_analyzer_new(&e->cfg, NULL, NULL, err, sizeof(err));
    cr_assert_not_null(e->c, "%s", err);
}

static void eng_free(struct eng *e)
{
    fs_analyzer_free(e->c);
    fs_an_config_free(&e->cfg);
}

static void feed(struct eng *e, const char *src, uint64_t end_ms, uint64_t bytes)
{
    struct fs_flow f;

    fs_flow_init(&f);
    f.version = 9;
    fs_ip_parse("192.0.2.1", &f.exporter);
    fs_ip_parse(src, &f.src_addr);
    fs_ip_parse("198.51.100.9", &f.dst_addr);
    f.src_port = 40000;
    f.dst_port = 443;
    f.proto = 6;
    f.bytes = bytes;
    f.packets = 10;
    f.end_ms = end_ms;
    f.present = (UINT64_C(1) << FS_F_SRC_ADDR) | (UINT64_C(1) << FS_F_DST_ADDR) |
                (UINT64_C(1) << FS_F_SRC_PORT) | (UINT64_C(1) << FS_F_DST_PORT) |
                (UINT64_C(1) << FS_F_PROTO) | (UINT64_C(1) << FS_F_BYTES) |
                (UINT64_C(1) << FS_F_PACKETS) | (UINT64_C(1) << FS_F_END);
    fs_analyzer_feed(e->c, &f, 1);
}

/* Two days of two hosts, so that profiles and slots have something. */
static void learn(struct eng *e)
{
    for (uint64_t m = 0; m < 2 * 24 * 60; m += 5) {
        feed(e, "10.0.0.1", T0 + m * MIN + 1000, 1000 + (m % 60) * 10);
        feed(e, "10.0.0.2", T0 + m * MIN + 2000, 50000 + (m % 7) * 1000);
    }
}

static char dir[128], path[256];

static void setup(void)
{
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    snprintf(path, sizeof(path), "%s/baselines.snap", dir);
}

static void teardown(void)
{
    fs_rmtree(dir);
}

TestSuite(snapshot, .init = setup, .fini = teardown);

static void expect_same_view(struct fs_an_ctx *a, struct fs_an_ctx *b, const char *host)
{
    fs_ip h;
    fs_ip_parse(host, &h);
    for (unsigned how = 0; how < 168; how += 7) {
        struct fs_an_window w = { T0 + how * HOUR, T0 + how * HOUR + 5 * MIN, how, true };
        for (int m = 0; m < FS_M_COUNT; m++) {
            struct fs_baseline_view x, y;
            cr_assert_eq(fs_an_baseline(a, &h, (enum fs_metric)m, &w, &x), 0);
            cr_assert_eq(fs_an_baseline(b, &h, (enum fs_metric)m, &w, &y), 0, "%s not loaded", host);
            cr_expect_eq(x.samples, y.samples);
            cr_expect_eq(x.mean, y.mean, "%s metric %d slot %u", host, m, how);
            cr_expect_eq(x.std, y.std);
            cr_expect_eq(x.median, y.median);
            cr_expect_eq(x.q1, y.q1);
            cr_expect_eq(x.q3, y.q3);
            cr_expect_eq(x.mad, y.mad);
        }
    }
}

/* The report's "network" section as text. */
static char *network_json(struct fs_an_ctx *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    json_error_t je;

    cr_assert_eq(fs_analyzer_report(c, fp), 0);
    fclose(fp);
    json_t *rep = json_loads(buf, 0, &je);
    cr_assert_not_null(rep, "%s", je.text);
    char *net = json_dumps(json_object_get(rep, "network"), JSON_SORT_KEYS);
    json_decref(rep);
    free(buf);
    return net;
}

Test(snapshot, save_and_load_give_the_same_baselines)
{
    struct eng a, b;
    char err[512];

    eng_init(&a, "300");
    learn(&a);
    fs_analyzer_finish(a.c);
    cr_assert_eq(fs_analyzer_save(a.c, path, err, sizeof(err)), 0, "%s", err);

    eng_init(&b, "300");
    cr_assert_eq(fs_analyzer_load(b.c, path, err, sizeof(err)), FS_SNAP_LOADED, "%s", err);
    cr_expect_eq(fs_analyzer_counters(b.c)->hosts_tracked, 2);
    cr_expect_eq(fs_analyzer_max_time(b.c), fs_analyzer_max_time(a.c));
    cr_expect_eq(fs_analyzer_watermark(b.c), fs_analyzer_watermark(a.c));
    expect_same_view(a.c, b.c, "10.0.0.1");
    expect_same_view(a.c, b.c, "10.0.0.2");
    char *na = network_json(a.c), *nb = network_json(b.c);
    cr_expect_str_eq(na, nb);
    free(na);
    free(nb);
    /* The restored watermark keeps flows older than it out. */
    feed(&b, "10.0.0.1", T0 + 60 * MIN, 10);
    cr_expect_eq(fs_analyzer_counters(b.c)->late, 1);
    /* No temporary file is left next to the snapshot. */
    DIR *d = opendir(dir);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d)) != NULL)
        files += de->d_name[0] != '.';
    closedir(d);
    cr_expect_eq(files, 1);
    eng_free(&a);
    eng_free(&b);
}

Test(snapshot, missing_file_starts_fresh)
{
    struct eng e;
    char err[256];

    eng_init(&e, "300");
    cr_expect_eq(fs_analyzer_load(e.c, path, err, sizeof(err)), FS_SNAP_ABSENT);
    cr_expect_eq(fs_analyzer_counters(e.c)->hosts_tracked, 0);
    eng_free(&e);
}

/* Saves a snapshot of a learnt engine and returns its bytes. */
static uint8_t *saved_bytes(size_t *len)
{
    struct eng e;
    char err[256];
    struct stat st;

    eng_init(&e, "300");
    learn(&e);
    fs_analyzer_finish(e.c);
    cr_assert_eq(fs_analyzer_save(e.c, path, err, sizeof(err)), 0, "%s", err);
    eng_free(&e);
    cr_assert_eq(stat(path, &st), 0);
    uint8_t *buf = malloc((size_t)st.st_size);
    FILE *fp = fopen(path, "rb");
    cr_assert(buf && fp);
    cr_assert_eq(fread(buf, 1, (size_t)st.st_size, fp), (size_t)st.st_size);
    fclose(fp);
    *len = (size_t)st.st_size;
    return buf;
}

static void write_bytes(const uint8_t *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(buf, 1, len, fp), len);
    fclose(fp);
}

/* The one file in the directory whose name starts with the snapshot's and
 * `kind`; its name goes into `out`. */
static bool aside_exists(const char *kind, char *out, size_t outlen)
{
    char prefix[64];
    DIR *d = opendir(dir);
    struct dirent *de;
    bool found = false;

    snprintf(prefix, sizeof(prefix), "baselines.snap.%s-", kind);
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
            snprintf(out, outlen, "%s", de->d_name);
            found = true;
        }
    }
    closedir(d);
    return found;
}

/* Loads what is at `path` expecting a refusal; the engine must be fresh and
 * work afterwards. */
static void expect_rejected(const char *kind, const char *words)
{
    struct eng e;
    char err[512], aside[256];
    struct stat st;

    eng_init(&e, "300");
    cr_assert_eq(fs_analyzer_load(e.c, path, err, sizeof(err)), FS_SNAP_REJECTED, "%s", err);
    cr_expect(strstr(err, words) != NULL, "message '%s' lacks '%s'", err, words);
    cr_expect(aside_exists(kind, aside, sizeof(aside)), "no %s file aside", kind);
    cr_expect(strstr(err, aside) != NULL, "message '%s' does not name %s", err, aside);
    cr_expect_neq(stat(path, &st), 0, "the bad file is still in place");
    cr_expect_eq(fs_analyzer_counters(e.c)->hosts_tracked, 0);
    cr_expect_eq(fs_analyzer_max_time(e.c), 0);
    learn(&e);
    fs_analyzer_finish(e.c);
    cr_expect_eq(fs_analyzer_counters(e.c)->hosts_tracked, 2);
    cr_expect_eq(fs_analyzer_counters(e.c)->late, 0);
    eng_free(&e);
}

Test(snapshot, corrupt_body_is_refused_and_kept_aside)
{
    size_t len;
    uint8_t *buf = saved_bytes(&len);

    buf[len / 2] ^= 0x40;
    write_bytes(buf, len);
    free(buf);
    expect_rejected("corrupt", "checksum");
}

Test(snapshot, truncated_file_is_refused)
{
    size_t len;
    uint8_t *buf = saved_bytes(&len);

    write_bytes(buf, len - 100);
    free(buf);
    expect_rejected("corrupt", "truncated");
}

Test(snapshot, truncated_header_is_refused)
{
    size_t len;
    uint8_t *buf = saved_bytes(&len);

    write_bytes(buf, 30);
    free(buf);
    expect_rejected("corrupt", "header");
}

Test(snapshot, foreign_file_is_refused)
{
    static const uint8_t junk[] = "this is not a snapshot at all, just some text\n";

    write_bytes(junk, sizeof(junk));
    expect_rejected("corrupt", "not an analyzer snapshot");
}

/* FNV-1a 32 of the header bytes before the checksum, as the format says. */
static uint32_t header_sum(const uint8_t *h)
{
    uint64_t x = UINT64_C(14695981039346656037);
    for (int i = 0; i < 60; i++)
        x = (x ^ h[i]) * UINT64_C(1099511628211);
    return (uint32_t)x;
}

Test(snapshot, other_version_is_refused_and_kept_aside)
{
    size_t len;
    uint8_t *buf = saved_bytes(&len);

    buf[8] = 7; /* version 7, header checksum made right again */
    uint32_t s = header_sum(buf);
    for (int i = 0; i < 4; i++)
        buf[60 + i] = (uint8_t)(s >> (8 * i));
    write_bytes(buf, len);
    free(buf);
    expect_rejected("old", "version 7");
}

Test(snapshot, other_window_length_is_refused)
{
    struct eng e;
    char err[512], aside[256];

    eng_init(&e, "60");
    learn(&e);
    cr_assert_eq(fs_analyzer_save(e.c, path, err, sizeof(err)), 0, "%s", err);
    eng_free(&e);
    expect_rejected("old", "window 60 s");
    cr_expect(aside_exists("old", aside, sizeof(aside)));
}

Test(snapshot, damaged_header_is_refused)
{
    size_t len;
    uint8_t *buf = saved_bytes(&len);

    buf[20] ^= 1; /* body length, header checksum now wrong */
    write_bytes(buf, len);
    free(buf);
    expect_rejected("corrupt", "header");
}

Test(snapshot, unreadable_directory_is_an_error_not_a_crash)
{
    struct eng e;
    char err[256];

    eng_init(&e, "300");
    cr_expect_eq(fs_analyzer_save(e.c, "/nonexistent-dir/x.snap", err, sizeof(err)), -1);
    cr_expect(strstr(err, "/nonexistent-dir/x.snap") != NULL, "%s", err);
    eng_free(&e);
}
