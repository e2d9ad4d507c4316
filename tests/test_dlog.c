/*
 * test_dlog.c - the on-disk record log (ipc/dlog.h): records read back by
 * sequence across segments and reopens, the size bound and the ack mark
 * removing segments (and counting what was dropped unread), a torn or
 * damaged tail cut at open, foreign segments and a second opener refused.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dlog.h"
#include "proc.h"

/* Record `seq`'s payload: 10 to 99 bytes that depend on `seq`. */
static size_t payload(uint64_t seq, uint8_t *buf)
{
    size_t len = 10 + (size_t)(seq * 37 % 90);

    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seq * 131 + i);
    return len;
}

/* A fresh directory for the test; the log goes in DIR/log (made by the log). */
struct fx {
    char tmp[128], dir[160];
    char err[512];
};

static void fx_init(struct fx *f)
{
    cr_assert_not_null(fs_tmpdir(f->tmp, sizeof(f->tmp)));
    snprintf(f->dir, sizeof(f->dir), "%s/log", f->tmp);
}

static struct fs_dlog *fx_open(struct fx *f, uint64_t max_bytes, uint64_t segment_bytes)
{
    struct fs_dlog_opts o = { max_bytes, segment_bytes };
    struct fs_dlog *l = fs_dlog_open(f->dir, &o, f->err, sizeof(f->err));

    cr_assert_not_null(l, "%s", f->err);
    return l;
}

static const char *seg_path(const struct fx *f, uint64_t first)
{
    static char path[256];

    snprintf(path, sizeof(path), "%s/%020llu.seg", f->dir, (unsigned long long)first);
    return path;
}

/* Number of segment files and their total size. */
static size_t segments(const struct fx *f, uint64_t *bytes)
{
    DIR *d = opendir(f->dir);
    struct dirent *e;
    size_t n = 0;

    cr_assert_not_null(d);
    *bytes = 0;
    while ((e = readdir(d)) != NULL) {
        char path[512];
        struct stat st;

        if (strstr(e->d_name, ".seg") == NULL)
            continue;
        snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
        cr_assert_eq(stat(path, &st), 0);
        *bytes += (uint64_t)st.st_size;
        n++;
    }
    closedir(d);
    return n;
}

static void append_upto(struct fs_dlog *l, uint64_t last)
{
    uint8_t buf[128];
    char err[256];
    uint64_t seq;

    while (fs_dlog_next(l) <= last) {
        uint64_t want = fs_dlog_next(l);
        size_t len = payload(want, buf);
        cr_assert_eq(fs_dlog_append(l, buf, len, &seq, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(seq, want);
    }
}

static void expect_record(struct fs_dlog *l, uint64_t seq)
{
    uint8_t want[128];
    size_t wantlen = payload(seq, want), len;
    const void *rec;
    char err[256];

    cr_assert_eq(fs_dlog_read(l, seq, &rec, &len, err, sizeof(err)), 1, "seq %llu: %s",
                 (unsigned long long)seq, err);
    cr_assert_eq(len, wantlen, "seq %llu", (unsigned long long)seq);
    cr_assert_arr_eq(rec, want, len, "seq %llu", (unsigned long long)seq);
}

static void expect_absent(struct fs_dlog *l, uint64_t seq)
{
    const void *rec;
    size_t len;
    char err[256];

    cr_assert_eq(fs_dlog_read(l, seq, &rec, &len, err, sizeof(err)), 0, "seq %llu",
                 (unsigned long long)seq);
}

/* The gauges agree with what is on disk. */
static void expect_gauges(const struct fx *f, struct fs_dlog *l)
{
    const struct fs_dlog_counters *c = fs_dlog_counters(l);
    uint64_t bytes;

    segments(f, &bytes);
    cr_assert_eq(c->bytes, bytes);
    cr_assert_eq(c->records, fs_dlog_next(l) - fs_dlog_first(l));
}

Test(dlog, round_trip_across_segments_and_reopen)
{
    struct fx f;
    uint64_t bytes, id;

    fx_init(&f);
    struct fs_dlog *l = fx_open(&f, 1 << 20, 1024);
    id = fs_dlog_id(l);
    cr_assert_neq(id, 0);
    cr_assert_eq(fs_dlog_first(l), 1);
    cr_assert_eq(fs_dlog_next(l), 1);
    expect_absent(l, 1);
    append_upto(l, 100);
    cr_assert_gt(segments(&f, &bytes), 4);
    expect_gauges(&f, l);
    for (uint64_t s = 1; s <= 100; s++)
        expect_record(l, s);
    const uint64_t jumps[] = { 50, 7, 8, 99, 1, 2, 64, 63, 100 };
    for (size_t i = 0; i < sizeof(jumps) / sizeof(jumps[0]); i++)
        expect_record(l, jumps[i]);
    expect_absent(l, 0);
    expect_absent(l, 101);
    cr_assert_eq(fs_dlog_counters(l)->appended, 100);
    fs_dlog_close(l);

    l = fx_open(&f, 1 << 20, 1024);
    cr_assert_eq(fs_dlog_id(l), id);
    cr_assert_eq(fs_dlog_first(l), 1);
    cr_assert_eq(fs_dlog_next(l), 101);
    cr_assert_eq(fs_dlog_counters(l)->appended, 0);
    cr_assert_eq(fs_dlog_counters(l)->torn, 0);
    expect_gauges(&f, l);
    expect_record(l, 77);
    append_upto(l, 120);
    for (uint64_t s = 1; s <= 120; s++)
        expect_record(l, s);
    expect_gauges(&f, l);
    fs_dlog_close(l);
    fs_rmtree(f.tmp);
}

Test(dlog, empty_log_keeps_its_id_and_empty_records_work)
{
    struct fx f, g;
    const void *rec;
    size_t len;

    fx_init(&f);
    fx_init(&g);
    struct fs_dlog *l = fx_open(&f, 0, 0);
    struct fs_dlog *other = fx_open(&g, 0, 0);
    uint64_t id = fs_dlog_id(l);
    cr_assert_neq(id, fs_dlog_id(other));
    fs_dlog_close(other);
    fs_dlog_close(l);

    l = fx_open(&f, 0, 0);
    cr_assert_eq(fs_dlog_id(l), id);
    cr_assert_eq(fs_dlog_first(l), 1);
    cr_assert_eq(fs_dlog_next(l), 1);
    cr_assert_eq(fs_dlog_append(l, "", 0, NULL, f.err, sizeof(f.err)), 0, "%s", f.err);
    cr_assert_eq(fs_dlog_read(l, 1, &rec, &len, f.err, sizeof(f.err)), 1, "%s", f.err);
    cr_assert_eq(len, 0);
    fs_dlog_close(l);
    l = fx_open(&f, 0, 0);
    cr_assert_eq(fs_dlog_next(l), 2);
    cr_assert_eq(fs_dlog_read(l, 1, &rec, &len, f.err, sizeof(f.err)), 1, "%s", f.err);
    cr_assert_eq(len, 0);
    fs_dlog_close(l);
    fs_rmtree(f.tmp);
    fs_rmtree(g.tmp);
}

Test(dlog, bound_drops_oldest_segments)
{
    struct fx f;
    uint64_t bytes;

    fx_init(&f);
    struct fs_dlog *l = fx_open(&f, 4096, 1024);
    for (uint64_t s = 1; s <= 300; s++) {
        append_upto(l, s);
        segments(&f, &bytes);
        cr_assert_leq(bytes, 4096, "after %llu: %llu bytes", (unsigned long long)s,
                      (unsigned long long)bytes);
    }
    const struct fs_dlog_counters *c = fs_dlog_counters(l);
    uint64_t first = fs_dlog_first(l);
    cr_assert_gt(first, 200);
    cr_assert_eq(c->dropped, first - 1);
    cr_assert_gt(c->bytes, 4096 - 1024 - 128);
    expect_gauges(&f, l);
    expect_absent(l, first - 1);
    for (uint64_t s = first; s <= 300; s++)
        expect_record(l, s);
    fs_dlog_close(l);

    /* A smaller bound at open drops at once. */
    l = fx_open(&f, 2048, 1024);
    cr_assert_gt(fs_dlog_first(l), first);
    cr_assert_eq(fs_dlog_counters(l)->dropped, fs_dlog_first(l) - first);
    expect_gauges(&f, l);
    fs_dlog_close(l);
    fs_rmtree(f.tmp);
}

Test(dlog, bound_counts_only_unacknowledged_records_as_dropped)
{
    struct fx f;

    fx_init(&f);
    struct fs_dlog *l = fx_open(&f, 4096, 1024);
    append_upto(l, 20);
    cr_assert_eq(fs_dlog_ack(l, 15, f.err, sizeof(f.err)), 0, "%s", f.err);
    cr_assert_eq(fs_dlog_counters(l)->dropped, 0);
    while (fs_dlog_first(l) <= 16)
        append_upto(l, fs_dlog_next(l));
    cr_assert_eq(fs_dlog_counters(l)->dropped, fs_dlog_first(l) - 1 - 15);
    cr_assert_eq(fs_dlog_acked(l), 15);
    expect_absent(l, 16);
    expect_record(l, fs_dlog_first(l));
    fs_dlog_close(l);
    fs_rmtree(f.tmp);
}

Test(dlog, ack_removes_segments_and_persists)
{
    struct fx f;
    uint64_t bytes;

    fx_init(&f);
    struct fs_dlog *l = fx_open(&f, 1 << 20, 1024);
    append_upto(l, 60);
    size_t before = segments(&f, &bytes);
    cr_assert_eq(fs_dlog_ack(l, 30, f.err, sizeof(f.err)), 0, "%s", f.err);
    uint64_t first = fs_dlog_first(l);
    cr_assert_gt(first, 1);
    cr_assert_leq(first, 31);
    cr_assert_lt(segments(&f, &bytes), before);
    cr_assert_eq(fs_dlog_counters(l)->dropped, 0);
    expect_gauges(&f, l);
    expect_absent(l, first - 1);
    for (uint64_t s = first; s <= 60; s++)
        expect_record(l, s);

    cr_assert_eq(fs_dlog_ack(l, 20, f.err, sizeof(f.err)), 0, "%s", f.err);
    cr_assert_eq(fs_dlog_acked(l), 30);
    cr_assert_eq(fs_dlog_ack(l, 61, f.err, sizeof(f.err)), -1);
    cr_assert(strstr(f.err, "cannot acknowledge 61") != NULL, "%s", f.err);
    cr_assert_eq(fs_dlog_acked(l), 30);
    fs_dlog_close(l);

    l = fx_open(&f, 1 << 20, 1024);
    cr_assert_eq(fs_dlog_acked(l), 30);
    cr_assert_eq(fs_dlog_first(l), first);
    cr_assert_eq(fs_dlog_ack(l, 60, f.err, sizeof(f.err)), 0, "%s", f.err);
    cr_assert_eq(segments(&f, &bytes), 1); /* the one appended to stays */
    cr_assert_eq(fs_dlog_next(l), 61);
    append_upto(l, 70);
    expect_record(l, 61);
    cr_assert_eq(fs_dlog_ack(l, 70, f.err, sizeof(f.err)), 0, "%s", f.err);
    fs_dlog_close(l);

    l = fx_open(&f, 1 << 20, 1024);
    cr_assert_eq(fs_dlog_acked(l), 70);
    cr_assert_eq(fs_dlog_next(l), 71);
    fs_dlog_close(l);
    fs_rmtree(f.tmp);
}

/* Five records, 1-3 in the first segment and 4-5 in the second. Gives the
 * offset of record 5 in the second segment and the segment's size. */
static void five_records(struct fx *f, off_t *rec5, off_t *end)
{
    struct stat st;

    fx_init(f);
    struct fs_dlog *l = fx_open(f, 1 << 20, 250);
    append_upto(l, 4);
    cr_assert_eq(stat(seg_path(f, 4), &st), 0, "records 1-3 should fill the first segment");
    *rec5 = st.st_size;
    append_upto(l, 5);
    cr_assert_eq(stat(seg_path(f, 4), &st), 0);
    *end = st.st_size;
    fs_dlog_close(l);
}

static void flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    uint8_t b;

    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, &b, 1, off), 1);
    b ^= 0x20;
    cr_assert_eq(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

Test(dlog, torn_tail_cut_at_every_offset)
{
    off_t rec5, end;
    struct fx f;

    five_records(&f, &rec5, &end);
    fs_rmtree(f.tmp);
    for (off_t cut = rec5 + 1; cut < end; cut++) {
        five_records(&f, &rec5, &end);
        cr_assert_eq(truncate(seg_path(&f, 4), cut), 0);
        struct fs_dlog *l = fx_open(&f, 1 << 20, 250);
        const struct fs_dlog_counters *c = fs_dlog_counters(l);
        cr_assert_eq(c->torn, 1, "cut at %lld", (long long)cut);
        cr_assert_eq(c->torn_bytes, (uint64_t)(cut - rec5), "cut at %lld", (long long)cut);
        cr_assert_eq(fs_dlog_next(l), 5);
        expect_gauges(&f, l);
        for (uint64_t s = 1; s <= 4; s++)
            expect_record(l, s);
        expect_absent(l, 5);
        append_upto(l, 6);
        expect_record(l, 5);
        expect_record(l, 6);
        fs_dlog_close(l);
        fs_rmtree(f.tmp);
    }
}

Test(dlog, damaged_records_cut_at_open)
{
    off_t rec5, end;
    struct fx f;

    /* A flipped payload byte in the last record. */
    five_records(&f, &rec5, &end);
    flip_byte(seg_path(&f, 4), rec5 + 12);
    struct fs_dlog *l = fx_open(&f, 1 << 20, 250);
    cr_assert_eq(fs_dlog_counters(l)->torn, 1);
    cr_assert_eq(fs_dlog_counters(l)->torn_bytes, (uint64_t)(end - rec5));
    cr_assert_eq(fs_dlog_next(l), 5);
    expect_record(l, 4);
    append_upto(l, 5);
    expect_record(l, 5);
    fs_dlog_close(l);
    fs_rmtree(f.tmp);

    /* In the record before it: both go. */
    five_records(&f, &rec5, &end);
    flip_byte(seg_path(&f, 4), 28 + 9);
    l = fx_open(&f, 1 << 20, 250);
    cr_assert_eq(fs_dlog_counters(l)->torn, 2);
    cr_assert_eq(fs_dlog_counters(l)->torn_bytes, (uint64_t)(end - 28));
    cr_assert_eq(fs_dlog_next(l), 4);
    expect_record(l, 3);
    expect_gauges(&f, l);
    fs_dlog_close(l);
    fs_rmtree(f.tmp);

    /* In an older segment: cut there too; later segments stay readable. */
    five_records(&f, &rec5, &end);
    flip_byte(seg_path(&f, 1), 28 + 8 + 1);
    l = fx_open(&f, 1 << 20, 250);
    cr_assert_eq(fs_dlog_counters(l)->torn, 3);
    cr_assert_eq(fs_dlog_next(l), 6);
    expect_absent(l, 1);
    expect_absent(l, 3);
    expect_record(l, 4);
    expect_record(l, 5);
    fs_dlog_close(l);
    fs_rmtree(f.tmp);
}

Test(dlog, segment_begun_when_the_process_died)
{
    struct fx f;
    off_t rec5, end;

    five_records(&f, &rec5, &end);
    int fd = open(seg_path(&f, 6), O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "FSDLOG\0\1\0\0", 10), 10);
    close(fd);
    struct fs_dlog *l = fx_open(&f, 1 << 20, 250);
    cr_assert_eq(fs_dlog_counters(l)->torn_bytes, 10);
    cr_assert_eq(fs_dlog_next(l), 6);
    append_upto(l, 6);
    expect_record(l, 6);
    expect_record(l, 5);
    fs_dlog_close(l);
    l = fx_open(&f, 1 << 20, 250);
    cr_assert_eq(fs_dlog_counters(l)->torn_bytes, 0);
    expect_record(l, 6);
    fs_dlog_close(l);
    fs_rmtree(f.tmp);
}

Test(dlog, damage_after_open_is_an_error)
{
    struct fx f;
    const void *rec;
    size_t len;

    fx_init(&f);
    struct fs_dlog *l = fx_open(&f, 1 << 20, 0);
    append_upto(l, 3);
    flip_byte(seg_path(&f, 1), 28 + 8 + 3);
    cr_assert_eq(fs_dlog_read(l, 1, &rec, &len, f.err, sizeof(f.err)), -1);
    cr_assert(strstr(f.err, "record 1 damaged") != NULL, "%s", f.err);
    fs_dlog_close(l);
    fs_rmtree(f.tmp);
}

/* Opening the log in `f` fails with a message holding `what` and `name`. */
static void expect_refused(struct fx *f, const char *name, const char *what)
{
    struct fs_dlog_opts o = { 0, 0 };

    cr_assert_null(fs_dlog_open(f->dir, &o, f->err, sizeof(f->err)));
    cr_assert(strstr(f->err, name) != NULL, "%s", f->err);
    cr_assert(strstr(f->err, what) != NULL, "%s", f->err);
}

static void copy_file(const char *from, const char *to)
{
    char buf[4096];
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    size_t n;

    cr_assert(in && out);
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        cr_assert_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

Test(dlog, foreign_segments_refused)
{
    struct fx f, g;
    char path[256];

    fx_init(&f);
    fx_init(&g);
    fs_dlog_close(fx_open(&f, 0, 0));
    struct fs_dlog *other = fx_open(&g, 0, 0);
    append_upto(other, 3);
    fs_dlog_close(other);

    /* Another log's segment, named to follow this log's. */
    snprintf(path, sizeof(path), "%s", seg_path(&f, 100));
    copy_file(seg_path(&g, 1), path);
    expect_refused(&f, path, "belongs to log");
    cr_assert_eq(unlink(path), 0);

    /* Not a segment at all. */
    snprintf(path, sizeof(path), "%s", seg_path(&f, 200));
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fprintf(fp, "this is not a segment of any log, just text\n");
    fclose(fp);
    expect_refused(&f, path, "no magic");
    cr_assert_eq(unlink(path), 0);

    /* A name that is not a sequence. */
    snprintf(path, sizeof(path), "%s/12.seg", f.dir);
    fclose(fopen(path, "w"));
    expect_refused(&f, "12.seg", "not a segment name");
    cr_assert_eq(unlink(path), 0);

    fs_dlog_close(fx_open(&f, 0, 0));
    fs_rmtree(f.tmp);
    fs_rmtree(g.tmp);
}

Test(dlog, second_opener_refused)
{
    struct fx f;
    char want[256];

    fx_init(&f);
    struct fs_dlog *l = fx_open(&f, 0, 0);
    snprintf(want, sizeof(want), "log %s is in use by another process", f.dir);
    expect_refused(&f, f.dir, want);
    append_upto(l, 2);
    fs_dlog_close(l);
    l = fx_open(&f, 0, 0);
    cr_assert_eq(fs_dlog_next(l), 3);
    fs_dlog_close(l);
    fs_rmtree(f.tmp);
}

Test(dlog, records_over_the_limit_refused)
{
    struct fx f;
    uint64_t before, after, seq = 0;
    uint8_t *big = calloc(1, FS_DLOG_RECORD_MAX + 1);
    const void *rec;
    size_t len;

    cr_assert_not_null(big);
    fx_init(&f);
    struct fs_dlog *l = fx_open(&f, 0, 0);
    append_upto(l, 3);
    segments(&f, &before);
    cr_assert_eq(fs_dlog_append(l, big, FS_DLOG_RECORD_MAX + 1, &seq, f.err, sizeof(f.err)), -1);
    cr_assert(strstr(f.err, "over the limit") != NULL, "%s", f.err);
    segments(&f, &after);
    cr_assert_eq(after, before);
    cr_assert_eq(fs_dlog_next(l), 4);
    cr_assert_eq(fs_dlog_counters(l)->appended, 3);

    /* The largest record there may be goes through and reads back. */
    big[FS_DLOG_RECORD_MAX - 1] = 0x5a;
    cr_assert_eq(fs_dlog_append(l, big, FS_DLOG_RECORD_MAX, &seq, f.err, sizeof(f.err)), 0,
                 "%s", f.err);
    cr_assert_eq(seq, 4);
    append_upto(l, 5);
    cr_assert_eq(fs_dlog_read(l, 4, &rec, &len, f.err, sizeof(f.err)), 1, "%s", f.err);
    cr_assert_eq(len, FS_DLOG_RECORD_MAX);
    cr_assert_eq(((const uint8_t *)rec)[len - 1], 0x5a);
    expect_record(l, 5);
    expect_record(l, 3);
    fs_dlog_close(l);
    free(big);
    fs_rmtree(f.tmp);
}

Test(dlog, sync)
{
    struct fx f;

    fx_init(&f);
    struct fs_dlog *l = fx_open(&f, 1 << 20, 1024);
    cr_assert_eq(fs_dlog_sync(l, f.err, sizeof(f.err)), 0, "%s", f.err);
    append_upto(l, 40); /* several segments begun since */
    cr_assert_eq(fs_dlog_sync(l, f.err, sizeof(f.err)), 0, "%s", f.err);
    cr_assert_eq(fs_dlog_ack(l, 20, f.err, sizeof(f.err)), 0, "%s", f.err);
    cr_assert_eq(fs_dlog_sync(l, f.err, sizeof(f.err)), 0, "%s", f.err);
    fs_dlog_close(l);
    l = fx_open(&f, 1 << 20, 1024);
    cr_assert_eq(fs_dlog_next(l), 41);
    expect_record(l, 40);
    fs_dlog_close(l);
    fs_rmtree(f.tmp);
}

Test(dlog, record_larger_than_a_segment_gets_one_to_itself)
{
    struct fx f;
    uint64_t bytes;

    fx_init(&f);
    struct fs_dlog *l = fx_open(&f, 1 << 20, 64);
    append_upto(l, 5);
    cr_assert_eq(segments(&f, &bytes), 5);
    for (uint64_t s = 1; s <= 5; s++)
        expect_record(l, s);
    fs_dlog_close(l);
    fs_rmtree(f.tmp);
}

/* The reporter's spool: read forward from the mark, acknowledge as it goes,
 * while more records arrive and acknowledged segments go away under the
 * reading cursor. */
Test(dlog, spool_reads_forward_while_acknowledging)
{
    struct fx f;
    uint64_t bytes;

    fx_init(&f);
    struct fs_dlog *l = fx_open(&f, 1 << 20, 512);
    uint64_t seq = fs_dlog_acked(l) + 1;
    for (int round = 1; round <= 20; round++) {
        append_upto(l, (uint64_t)round * 7);
        for (; seq < fs_dlog_next(l); seq++) {
            expect_record(l, seq);
            if (seq % 3 == 0)
                cr_assert_eq(fs_dlog_ack(l, seq, f.err, sizeof(f.err)), 0, "%s", f.err);
        }
    }
    cr_assert_eq(fs_dlog_next(l), 141);
    cr_assert_gt(fs_dlog_first(l), 100);
    cr_assert_lt(segments(&f, &bytes), 5);
    cr_assert_eq(fs_dlog_counters(l)->dropped, 0);
    expect_gauges(&f, l);
    fs_dlog_close(l);
    fs_rmtree(f.tmp);
}

static void write_acked(const struct fx *f, const char *text)
{
    char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/acked", f->dir);
    fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
}

Test(dlog, acked_file_honoured_at_open)
{
    struct fx f;

    fx_init(&f);
    struct fs_dlog *l = fx_open(&f, 1 << 20, 512);
    append_upto(l, 60);
    fs_dlog_close(l);

    /* As if the process died between saving the mark and removing segments. */
    write_acked(&f, "40\n");
    l = fx_open(&f, 1 << 20, 512);
    cr_assert_eq(fs_dlog_acked(l), 40);
    cr_assert_gt(fs_dlog_first(l), 30);
    cr_assert_leq(fs_dlog_first(l), 41);
    expect_gauges(&f, l);
    fs_dlog_close(l);

    /* A mark past the end never makes new records count as consumed. */
    write_acked(&f, "1000\n");
    l = fx_open(&f, 1 << 20, 512);
    cr_assert_eq(fs_dlog_acked(l), 60);
    append_upto(l, 61);
    expect_record(l, 61);
    fs_dlog_close(l);

    write_acked(&f, "forty\n");
    expect_refused(&f, "acked", "not a number");
    fs_rmtree(f.tmp);
}
