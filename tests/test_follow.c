/*
 * test_follow.c - following growing log files: partial lines kept until
 * completed, rotation by rename (with late writes to the old file), by
 * copytruncate, files that appear later (inotify included), starting at the
 * end, line length and read budget bounds, and a Zeek conn.log read through
 * a rotation. Everything happens in a fresh directory under /tmp, and every
 * wait is bounded.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "follow.h"
#include "logfeed.h"
#include "proc.h"
#include "zeek.h"

#define MAXL 64

struct lines {
    char text[MAXL][128];
    size_t n;
};

static void collect(void *arg, const char *line, size_t len)
{
    struct lines *l = arg;
    cr_assert_lt(l->n, MAXL);
    cr_assert_lt(len, sizeof(l->text[0]));
    memcpy(l->text[l->n], line, len);
    l->text[l->n++][len] = '\0';
}

static char dir[64];

static void make_dir(void)
{
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
}

static void remove_dir(void)
{
    fs_rmtree(dir);
}

TestSuite(follow, .init = make_dir, .fini = remove_dir, .timeout = 10);

static const char *at(const char *name)
{
    static char paths[4][256];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
    return p;
}

static void append(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    cr_assert_geq(fd, 0, "open %s", path);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static struct fs_follow *follow(const char *path, size_t max_line, size_t max_read,
                                bool from_end, bool inotify)
{
    struct fs_follow_config cfg = {
        .path = path,
        .max_line = max_line,
        .max_read = max_read,
        .from_end = from_end,
        .inotify = inotify,
    };
    struct fs_follow *fw = fs_follow_new(&cfg);
    cr_assert_not_null(fw);
    return fw;
}

static void expect_lines(const struct lines *l, size_t from, const char *const *want, size_t n)
{
    cr_assert_eq(l->n, from + n, "%zu lines, want %zu", l->n, from + n);
    for (size_t i = 0; i < n; i++)
        cr_expect_str_eq(l->text[from + i], want[i]);
}

#define EXPECT(l, from, ...)                                                         \
    do {                                                                             \
        static const char *const want_[] = {__VA_ARGS__};                            \
        expect_lines((l), (from), want_, sizeof(want_) / sizeof(want_[0]));          \
    } while (0)

Test(follow, partial_lines_wait_for_their_end)
{
    const char *path = at("eve.json");
    struct fs_follow *fw = follow(path, 0, 0, false, false);
    static struct lines l;

    append(path, "one\ntwo\nthr");
    cr_expect_eq(fs_follow_poll(fw, collect, &l), 2);
    EXPECT(&l, 0, "one", "two");
    cr_expect_eq(fs_follow_poll(fw, collect, &l), 0, "nothing new");
    append(path, "ee\r\nfour\n");
    cr_expect_eq(fs_follow_poll(fw, collect, &l), 2);
    EXPECT(&l, 0, "one", "two", "three", "four");
    const struct fs_follow_counters *c = fs_follow_counters(fw);
    cr_expect_eq(c->lines, 4);
    cr_expect_eq(c->bytes, strlen("one\ntwo\nthree\r\nfour\n"));
    cr_expect_eq(c->opens, 1);
    cr_expect_eq(c->rotations + c->truncations + c->errors + c->too_long, 0);
    fs_follow_free(fw);
}

Test(follow, rename_rotation)
{
    const char *path = at("conn.log"), *old = at("conn.log.1");
    struct fs_follow *fw = follow(path, 0, 0, false, false);
    static struct lines l;

    append(path, "a\nb\n");
    fs_follow_poll(fw, collect, &l);
    EXPECT(&l, 0, "a", "b");

    /* Renamed away; the writer has not reopened yet and still appends to
     * the old file, and nothing is under the name. */
    cr_assert_eq(rename(path, old), 0);
    append(old, "c\n");
    fs_follow_poll(fw, collect, &l);
    EXPECT(&l, 0, "a", "b", "c");
    cr_expect(fs_follow_is_open(fw));

    /* A last late write to the old file, then the new file: the old one is
     * finished first. */
    append(old, "d\n");
    append(path, "e\n");
    fs_follow_poll(fw, collect, &l);
    EXPECT(&l, 0, "a", "b", "c", "d", "e");
    append(path, "f\n");
    append(old, "never read\n");
    fs_follow_poll(fw, collect, &l);
    EXPECT(&l, 0, "a", "b", "c", "d", "e", "f");

    const struct fs_follow_counters *c = fs_follow_counters(fw);
    cr_expect_eq(c->rotations, 1);
    cr_expect_eq(c->opens, 2);
    cr_expect_eq(c->partial_dropped, 0);
    fs_follow_free(fw);
}

Test(follow, rotation_drops_the_unfinished_line)
{
    const char *path = at("eve.json");
    struct fs_follow *fw = follow(path, 0, 0, false, false);
    static struct lines l;

    append(path, "a\nunfinish");
    fs_follow_poll(fw, collect, &l);
    cr_assert_eq(unlink(path), 0);
    append(path, "b\n");
    fs_follow_poll(fw, collect, &l);
    EXPECT(&l, 0, "a", "b");
    cr_expect_eq(fs_follow_counters(fw)->partial_dropped, 1);
    cr_expect_eq(fs_follow_counters(fw)->rotations, 1);
    fs_follow_free(fw);
}

Test(follow, copytruncate)
{
    const char *path = at("eve.json");
    struct fs_follow *fw = follow(path, 0, 0, false, false);
    static struct lines l;

    append(path, "line one\nline two\npart");
    fs_follow_poll(fw, collect, &l);
    EXPECT(&l, 0, "line one", "line two");

    /* logrotate's copytruncate: copy aside, then cut the file to 0 while the
     * writer keeps it open (O_APPEND) and goes on writing at the start. */
    cr_assert_eq(truncate(path, 0), 0);
    append(path, "new\n");
    fs_follow_poll(fw, collect, &l);
    EXPECT(&l, 0, "line one", "line two", "new");
    append(path, "newer\n");
    fs_follow_poll(fw, collect, &l);
    EXPECT(&l, 0, "line one", "line two", "new", "newer");

    const struct fs_follow_counters *c = fs_follow_counters(fw);
    cr_expect_eq(c->truncations, 1);
    cr_expect_eq(c->partial_dropped, 1, "\"part\" had its end cut away");
    cr_expect_eq(c->rotations, 0);
    fs_follow_free(fw);
}

Test(follow, file_and_directory_appear_later_with_inotify)
{
    char sub[128], path[160];
    snprintf(sub, sizeof(sub), "%s/zeek", dir);
    snprintf(path, sizeof(path), "%s/conn.log", sub);
    struct fs_follow *fw = follow(path, 0, 0, false, true);
    static struct lines l;
    int fd = fs_follow_fd(fw);

    cr_assert_geq(fd, 0, "inotify unavailable");
    cr_expect_eq(fs_follow_poll(fw, collect, &l), 0);
    cr_expect_not(fs_follow_is_open(fw));
    cr_assert_eq(mkdir(sub, 0755), 0);
    fs_follow_poll(fw, collect, &l); /* now the directory can be watched */
    cr_expect_not(fs_follow_is_open(fw));

    append(path, "first\n");
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    cr_assert_eq(poll(&pfd, 1, 2000), 1, "no inotify event within 2 s");
    cr_expect_eq(fs_follow_poll(fw, collect, &l), 1);
    EXPECT(&l, 0, "first");

    append(path, "second\n");
    cr_assert_eq(poll(&pfd, 1, 2000), 1, "no inotify event within 2 s");
    fs_follow_poll(fw, collect, &l);
    EXPECT(&l, 0, "first", "second");
    cr_expect_eq(fs_follow_counters(fw)->errors, 0);
    fs_follow_free(fw);
}

Test(follow, from_end_skips_what_is_there)
{
    const char *path = at("eve.json"), *later = at("later.json");
    static struct lines l;

    append(path, "old 1\nold 2\nhalf of a li");
    struct fs_follow *fw = follow(path, 0, 0, true, false);
    cr_expect_eq(fs_follow_poll(fw, collect, &l), 0);
    append(path, "ne\nnew\n");
    fs_follow_poll(fw, collect, &l);
    EXPECT(&l, 0, "new");
    fs_follow_free(fw);

    /* A file that only appears after the first poll is read whole. */
    fw = follow(later, 0, 0, true, false);
    fs_follow_poll(fw, collect, &l);
    append(later, "x\ny\n");
    fs_follow_poll(fw, collect, &l);
    EXPECT(&l, 0, "new", "x", "y");
    fs_follow_free(fw);
}

Test(follow, line_length_bound)
{
    const char *path = at("eve.json");
    struct fs_follow *fw = follow(path, 8, 0, false, false);
    static struct lines l;

    append(path, "12345678\n0123456789abcdef\nok\n");
    fs_follow_poll(fw, collect, &l);
    EXPECT(&l, 0, "12345678", "ok");
    /* Too long before its end has even been written. */
    append(path, "0123456789");
    fs_follow_poll(fw, collect, &l);
    append(path, "abc\nyes\n");
    fs_follow_poll(fw, collect, &l);
    EXPECT(&l, 0, "12345678", "ok", "yes");
    cr_expect_eq(fs_follow_counters(fw)->too_long, 2);
    fs_follow_free(fw);
}

Test(follow, read_budget_and_timeout)
{
    const char *path = at("eve.json");
    struct fs_follow_config cfg = {.path = path, .max_read = 16, .interval_ms = 100};
    struct fs_follow *fw = fs_follow_new(&cfg);
    static struct lines l;
    int polls = 0;

    for (int i = 0; i < 10; i++) {
        char line[16];
        snprintf(line, sizeof(line), "line-%02d\n", i);
        append(path, line);
    }
    do {
        cr_assert_leq(fs_follow_poll(fw, collect, &l), 2, "more than 16 bytes read");
        polls++;
    } while (fs_follow_timeout_ms(fw) == 0 && polls < 100);
    cr_expect_eq(fs_follow_timeout_ms(fw), 100);
    cr_expect_geq(polls, 5);
    cr_assert_eq(l.n, 10);
    cr_expect_str_eq(l.text[9], "line-09");
    fs_follow_free(fw);
}

Test(follow, whole_file_with_unterminated_end)
{
    const char *path = at("conn.log");
    struct fs_follow *fw = follow(path, 0, 0, false, false);
    static struct lines l;

    append(path, "a\nb");
    fs_follow_poll(fw, collect, &l);
    fs_follow_flush(fw, collect, &l);
    EXPECT(&l, 0, "a", "b");
    fs_follow_flush(fw, collect, &l);
    cr_expect_eq(l.n, 2, "flushed twice");
    fs_follow_free(fw);
}

/* Zeek rotates conn.log by renaming it and starting a new file with its
 * own header; the reader is fed straight from the follower. */
struct zeek_sink {
    struct fs_zeek *z;
    struct fs_flow flows[8];
    size_t n;
    char err[200];
};

static void to_zeek(void *arg, const char *line, size_t len)
{
    struct zeek_sink *s = arg;
    struct fs_flow f;
    if (fs_zeek_line(s->z, line, len, &f, s->err, sizeof(s->err)) == 1 && s->n < 8)
        s->flows[s->n++] = f;
}

#define ZEEK_HEADER                                                                    \
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"     \
    "#path\tconn\n#open\t2024-01-01-10-00-00\n"                                        \
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\n"  \
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tinterval\n"

Test(follow, zeek_conn_log_through_rotation)
{
    const char *path = at("conn.log"), *old = at("conn.10:00:00-11:00:00.log");
    struct fs_ls_config cfg = {.exporter = {.af = 4, .b = {192, 0, 2, 10}}};
    static struct zeek_sink s;
    struct fs_follow *fw = follow(path, 0, 0, false, false);

    s.z = fs_zeek_new(&cfg);
    append(path, ZEEK_HEADER "1704103200.000000\tC1\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t1.0\n");
    fs_follow_poll(fw, to_zeek, &s);
    append(path, "1704103201.000000\tC2\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t1.0\n"
                 "#close\t2024-01-01-11-00-00\n");
    cr_assert_eq(rename(path, old), 0);
    append(path, ZEEK_HEADER "1704106800.000000\tC3\t10.0.0.1\t1\t10.0.0.2\t2\tudp\t-\n");
    fs_follow_poll(fw, to_zeek, &s);

    cr_assert_eq(s.n, 3, "%s", s.err);
    cr_expect_str_eq(s.flows[0].uid, "C1");
    cr_expect_str_eq(s.flows[1].uid, "C2");
    cr_expect_str_eq(s.flows[2].uid, "C3");
    cr_expect_eq(s.flows[2].proto, 17);
    cr_expect_eq(fs_zeek_counters(s.z)->malformed, 0);
    cr_expect_eq(fs_follow_counters(fw)->rotations, 1);
    fs_zeek_free(s.z);
    fs_follow_free(fw);
}

/* The sensor's glue: a followed EVE file as a flow source. */
struct sunk {
    size_t calls, flows;
    uint64_t last_flow_id;
};

static void sink(void *arg, const struct fs_flow *flows, size_t n)
{
    struct sunk *s = arg;
    s->calls++;
    s->flows += n;
    s->last_flow_id = flows[n - 1].flow_id;
}

struct counted {
    uint64_t lines, flows, malformed, skipped, opens;
    const char *group;
};

static void counter(void *arg, const char *group, const char *name, uint64_t v)
{
    struct counted *c = arg;
    c->group = group;
    if (!strcmp(name, "lines")) c->lines = v;
    if (!strcmp(name, "flows")) c->flows = v;
    if (!strcmp(name, "malformed")) c->malformed = v;
    if (!strcmp(name, "skipped")) c->skipped = v;
    if (!strcmp(name, "opens")) c->opens = v;
}

Test(follow, eve_feed)
{
    const char *path = at("eve.json");
    struct fs_feed_config cfg = {.kind = FS_FEED_EVE, .path = path, .interval_ms = 1000};
    struct fs_feed *f = fs_feed_new(&cfg);
    struct sunk s = {0};
    struct counted c = {0};
    char line[512];

    cr_assert_not_null(f);
    cr_expect_eq(strncmp(fs_feed_name(f), "eve:", 4), 0);
    cr_expect_str_eq(fs_feed_name(f) + 4, path);
    for (int i = 1; i <= 70; i++) {
        snprintf(line, sizeof(line),
                 "{\"flow_id\":%d,\"event_type\":\"flow\",\"src_ip\":\"10.0.0.1\","
                 "\"dest_ip\":\"10.0.0.2\",\"proto\":\"UDP\",\"src_port\":1,\"dest_port\":2,"
                 "\"flow\":{\"pkts_toserver\":1,\"start\":\"2024-01-01T10:00:00Z\"}}\n", i);
        append(path, line);
    }
    append(path, "{\"event_type\":\"dns\"}\n{\"event_type\":\"flow\"\n");
    fs_feed_run(f, 1000, sink, &s);
    cr_expect_eq(s.flows, 70);
    cr_expect_eq(s.calls, 2, "handed on in batches");
    cr_expect_eq(s.last_flow_id, 70);

    append(path, "{\"flow_id\":71,\"event_type\":\"netflow\",\"src_ip\":\"10.0.0.1\","
                 "\"dest_ip\":\"10.0.0.2\",\"netflow\":{\"start\":\"2024-01-01T10:00:00Z\"}}");
    fs_feed_drain(f, sink, &s);
    cr_expect_eq(s.flows, 71, "the unterminated last line is read by a drain");

    fs_feed_counters(f, counter, &c);
    cr_expect_str_eq(c.group, fs_feed_name(f));
    cr_expect_eq(c.lines, 73);
    cr_expect_eq(c.flows, 71);
    cr_expect_eq(c.malformed, 1);
    cr_expect_eq(c.skipped, 1);
    cr_expect_eq(c.opens, 1);
    fs_feed_close(f);
}
