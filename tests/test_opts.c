/*
 * test_opts.c - the generic option machinery (ipc/opts.h) on a table of its
 * own with one row of every kind, independent of any program's options.
 *
 * Expected values are worked out by hand from the documented rules (units
 * are powers of 1024 for sizes, 60/3600/86400/604800 for times).
 */
#include <criterion/criterion.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "opts.h"
#include "proc.h"
#include "version.h"

struct conf {
    bool flag;
    uint32_t u32;
    uint64_t u64;
    uint64_t bytes;
    uint32_t secs;
    double ratio;
    char *name;
    struct fs_strv files;
    int custom;     /* "even" numbers only, to show a custom setter */
    int32_t offset;
};

static int set_even(void *conf, const char *v, char *err, size_t errlen)
{
    struct conf *c = conf;
    uint64_t n;

    if (fs_opts_parse_u64(v, &n, err, errlen) < 0)
        return -1;
    if (n % 2 != 0 || n > 1000) {
        fs_opts_fail(err, errlen, "'%s' is not an even number up to 1000", v);
        return -1;
    }
    c->custom = (int)n;
    return 0;
}

static void write_even(const void *conf, const struct fs_opt *o, FILE *fp)
{
    const struct conf *c = conf;

    fprintf(fp, "%s = %d\n", o->name, c->custom);
}

static int no_spaces(void *conf, const char *v, char *err, size_t errlen)
{
    (void)conf;
    if (strchr(v, ' ') != NULL) {
        fs_opts_fail(err, errlen, "'%s' has spaces", v);
        return -1;
    }
    return 0;
}

#define OFF(f) offsetof(struct conf, f)

static const struct fs_opt rows[] = {
    { "flag", FS_OPT_FLAG, OFF(flag), .help = "a flag" },
    { "u32", FS_OPT_U32, OFF(u32), 1, 100, .arg = "N", .help = "a small number" },
    { "u64", FS_OPT_U64, OFF(u64), 0, UINT64_MAX, .arg = "N", .help = "any number" },
    { "bytes", FS_OPT_BYTES, OFF(bytes), 1024, UINT64_C(1) << 40, .arg = "BYTES",
      .help = "a size" },
    { "secs", FS_OPT_SECONDS, OFF(secs), 1, 30 * 86400, .arg = "SECONDS",
      .help = "a duration" },
    { "ratio", FS_OPT_DOUBLE, OFF(ratio), .arg = "R", .help = "a fraction",
      .dmin = -1.0, .dmax = 1.0 },
    { "name", FS_OPT_STR, OFF(name), .set = no_spaces, .arg = "NAME", .help = "a name" },
    { "file", FS_OPT_STRV, OFF(files), .arg = "FILE", .help = "files to read", .repeat = true },
    { "even", FS_OPT_CUSTOM, .set = set_even, .write = write_even, .arg = "N",
      .help = "an even number" },
    { "offset", FS_OPT_UTC_OFFSET, OFF(offset), .arg = "SECONDS", .help = "east of UTC" },
};

static const struct fs_opts table = { rows, sizeof(rows) / sizeof(rows[0]), "A test table.\n" };

static struct conf cfg;
static char err[512];
static char dir[64];

static void setup(void)
{
    memset(&cfg, 0, sizeof(cfg));
    err[0] = '\0';
    dir[0] = '\0';
}

static void teardown(void)
{
    fs_opts_free(&table, &cfg);
    if (dir[0] != '\0')
        fs_rmtree(dir);
}

TestSuite(opts, .init = setup, .fini = teardown);

static const char *write_file(const char *text, size_t len)
{
    static char path[128];
    FILE *fp;

    if (dir[0] == '\0')
        cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    snprintf(path, sizeof(path), "%s/test.conf", dir);
    fp = fopen(path, "w");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(text, 1, len, fp), len);
    fclose(fp);
    return path;
}

#define ARGS(...) ((char *const[]){ "prog", __VA_ARGS__, NULL })
#define NARGS(...) ((int)(sizeof((char *[]){ "", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(...) \
    fs_opts_parse_args(&table, &cfg, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), NULL, err, \
                       sizeof(err))

Test(opts, every_kind_from_the_command_line)
{
    cr_assert_eq(PARSE("--flag", "--u32", "100", "--u64=18446744073709551615", "--bytes", "3k",
                       "--secs=2h", "--ratio", "-0.25", "--name", "probe", "--file", "a",
                       "b", "--file=c", "--even", "42"), FS_OPTS_OK, "%s", err);
    cr_assert(cfg.flag);
    cr_assert_eq(cfg.u32, 100);
    cr_assert_eq(cfg.u64, UINT64_MAX);
    cr_assert_eq(cfg.bytes, 3072);
    cr_assert_eq(cfg.secs, 7200);
    cr_assert_float_eq(cfg.ratio, -0.25, 1e-12);
    cr_assert_str_eq(cfg.name, "probe");
    cr_assert_eq(cfg.files.n, 3, "a repeatable option takes every value up to the next --");
    cr_assert_str_eq(cfg.files.v[0], "a");
    cr_assert_str_eq(cfg.files.v[1], "b");
    cr_assert_str_eq(cfg.files.v[2], "c");
    cr_assert_eq(cfg.custom, 42);
}

Test(opts, units)
{
    static const struct {
        const char *v;
        uint64_t bytes, secs;
    } cases[] = {
        { "0", 0, 0 }, { "7", 7, 7 },
        { "1k", 1024, 0 }, { "1K", 1024, 0 }, { "2M", 2u << 20, 120 }, { "2m", 2u << 20, 120 },
        { "1G", UINT64_C(1) << 30, 0 }, { "1T", UINT64_C(1) << 40, 0 },
        { "5s", 0, 5 }, { "3h", 0, 10800 }, { "2d", 0, 172800 }, { "1w", 0, 604800 },
    };
    uint64_t n;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].bytes != 0 || cases[i].secs == 0) {
            cr_assert_eq(fs_opts_parse_bytes(cases[i].v, &n, err, sizeof(err)), 0, "%s", err);
            cr_assert_eq(n, cases[i].bytes, "%s", cases[i].v);
        } else {
            cr_assert_eq(fs_opts_parse_bytes(cases[i].v, &n, err, sizeof(err)), -1,
                         "%s is not a size", cases[i].v);
        }
        if (cases[i].secs != 0 || cases[i].bytes == 0) {
            cr_assert_eq(fs_opts_parse_seconds(cases[i].v, &n, err, sizeof(err)), 0, "%s", err);
            cr_assert_eq(n, cases[i].secs, "%s", cases[i].v);
        } else {
            cr_assert_eq(fs_opts_parse_seconds(cases[i].v, &n, err, sizeof(err)), -1,
                         "%s is not a duration", cases[i].v);
        }
    }
    cr_assert_eq(fs_opts_parse_u64("1k", &n, err, sizeof(err)), -1, "plain numbers have no units");
    cr_assert_str_eq(err, "'1k' is not a number");
    cr_assert_eq(fs_opts_parse_bytes("16777216T", &n, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "'16777216T' is too large", "2^24 * 2^40 overflows 64 bits");
    cr_assert_eq(fs_opts_parse_bytes("16777215T", &n, err, sizeof(err)), 0);
    cr_assert_eq(n, UINT64_C(16777215) << 40);
}

Test(opts, booleans)
{
    static const char *const yes[] = { "yes", "YES", "true", "On", "1" };
    static const char *const no[] = { "no", "False", "off", "0" };
    bool b;

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        b = false;
        cr_assert_eq(fs_opts_parse_bool(yes[i], &b, err, sizeof(err)), 0);
        cr_assert(b, "%s", yes[i]);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        b = true;
        cr_assert_eq(fs_opts_parse_bool(no[i], &b, err, sizeof(err)), 0);
        cr_assert_not(b, "%s", no[i]);
    }
    cr_assert_eq(fs_opts_parse_bool("y", &b, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "'y' is not yes or no");
}

Test(opts, doubles)
{
    static const char *const bad[] = { "nan", "inf", "-inf", "0x10", " 1", "1 ", "1e", "",
                                       "-", ".", "e5", "1.5.2", "--1" };
    double d;

    cr_assert_eq(fs_opts_parse_double("3.5e2", &d, err, sizeof(err)), 0);
    cr_assert_float_eq(d, 350.0, 1e-9);
    cr_assert_eq(fs_opts_parse_double(".5", &d, err, sizeof(err)), 0);
    cr_assert_float_eq(d, 0.5, 1e-12);
    cr_assert_eq(fs_opts_parse_double("+2", &d, err, sizeof(err)), 0);
    cr_assert_float_eq(d, 2.0, 1e-12);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(fs_opts_parse_double(bad[i], &d, err, sizeof(err)), -1, "'%s'", bad[i]);
        cr_assert_not_null(strstr(err, "is not a number"), "%s", err);
    }
    cr_assert_eq(fs_opts_parse_double("1e999", &d, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "'1e999' is too large");
}

static void cli_error(int argc, char *const argv[], const char *want)
{
    struct conf c;

    memset(&c, 0, sizeof(c));
    cr_assert_eq(fs_opts_parse_args(&table, &c, argc, argv, NULL, err, sizeof(err)),
                 FS_OPTS_ERROR, "accepted: %s", argv[1]);
    cr_assert_str_eq(err, want);
    fs_opts_free(&table, &c);
}

#define CLI_ERROR(want, ...) cli_error(NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), want)

Test(opts, command_line_errors)
{
    CLI_ERROR("option --u32: 'x' is not a number", "--u32", "x");
    CLI_ERROR("option --u32: '-1' is not a number", "--u32=-1");
    CLI_ERROR("option --u32: '0' is too small (at least 1)", "--u32", "0");
    CLI_ERROR("option --u32: '101' is too large (at most 100)", "--u32", "101");
    CLI_ERROR("option --u64: '18446744073709551616' is too large", "--u64",
              "18446744073709551616");
    CLI_ERROR("option --bytes: '1023' is too small (at least 1024)", "--bytes", "1023");
    CLI_ERROR("option --bytes: '2T' is too large (at most 1099511627776)", "--bytes", "2T");
    CLI_ERROR("option --bytes: '1kb' is not a number", "--bytes", "1kb");
    CLI_ERROR("option --secs: '31d' is too large (at most 2592000)", "--secs", "31d");
    CLI_ERROR("option --secs: '1y' is not a number", "--secs", "1y");
    CLI_ERROR("option --ratio: '1.5' is too large (at most 1)", "--ratio", "1.5");
    CLI_ERROR("option --ratio: '-2' is too small (at least -1)", "--ratio=-2");
    CLI_ERROR("option --ratio: 'half' is not a number", "--ratio", "half");
    CLI_ERROR("option --flag: 'maybe' is not yes or no", "--flag=maybe");
    CLI_ERROR("option --name: 'a b' has spaces", "--name", "a b");
    CLI_ERROR("option --name: missing value", "--name=");
    CLI_ERROR("option --even: '3' is not an even number up to 1000", "--even", "3");
    CLI_ERROR("option --file: missing value", "--file", "a", "");
    CLI_ERROR("option --u32 needs a value (N)", "--u32");
    CLI_ERROR("option --u32 needs a value (N)", "--u32", "--flag");
    CLI_ERROR("unknown option '--nope'", "--nope");
    CLI_ERROR("unknown option '--nope'", "--nope=1");
    CLI_ERROR("unexpected argument 'x' (options are --key value)", "x");
    CLI_ERROR("unexpected argument '--' (options are --key value)", "--");
    CLI_ERROR("unexpected argument '2' (options are --key value)", "--u32", "1", "2");
    CLI_ERROR("unexpected argument 'yes' (options are --key value)", "--flag", "yes");
    CLI_ERROR("option -c needs a file name", "-c");
    CLI_ERROR("option --config= needs a file name", "--config=");
    CLI_ERROR("option --config: only one config file", "-c", "/a", "--config", "/b");
}

Test(opts, help_and_version_win)
{
    cr_assert_eq(PARSE("--u32", "x", "--help"), FS_OPTS_HELP);
    cr_assert_eq(PARSE("-h", "--version"), FS_OPTS_HELP);
    cr_assert_eq(PARSE("--nope", "--version"), FS_OPTS_VERSION);
}

Test(opts, long_unknown_name_is_cut)
{
    char arg[300];

    memset(arg, 'x', sizeof(arg) - 1);
    arg[0] = arg[1] = '-';
    arg[sizeof(arg) - 1] = '\0';
    {
        char *const argv[] = { "prog", arg, NULL };

        cr_assert_eq(fs_opts_parse_args(&table, &cfg, 2, argv, NULL, err, sizeof(err)),
                     FS_OPTS_ERROR);
    }
    cr_assert_lt(strlen(err), 100, "%s", err);
    cr_assert_not_null(strstr(err, "unknown option '--xxx"));
}

Test(opts, set_by_name)
{
    cr_assert_eq(fs_opts_set(&table, &cfg, "secs", "90", err, sizeof(err)), 0);
    cr_assert_eq(cfg.secs, 90);
    cr_assert_eq(fs_opts_set(&table, &cfg, "sec", "90", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "unknown option 'sec'");
    cr_assert_eq(fs_opts_set(&table, &cfg, "u32", "", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "u32: missing value");
    cr_assert_eq(fs_opts_find(&table, "ratio"), &rows[5]);
    cr_assert_null(fs_opts_find(&table, "rat"));
}

Test(opts, file_then_command_line)
{
    static const char text[] =
        "# settings\n"
        "\n"
        "   u32=5   # trailing comment\n"
        "name = with#hash\n"
        "file = /a\n"
        "\tfile\t=\t/b c\t\r\n"
        "secs = 1m\n";
    const char *path = write_file(text, sizeof(text) - 1), *used = NULL;
    char *const argv[] = { "prog", "--u32", "9", "-c", (char *)path, "--file", "/d", NULL };

    cr_assert_eq(fs_opts_parse_args(&table, &cfg, 7, argv, &used, err, sizeof(err)), FS_OPTS_OK,
                 "%s", err);
    cr_assert_eq(used, path);
    cr_assert_eq(cfg.u32, 9, "the command line wins for single values, wherever -c is");
    cr_assert_str_eq(cfg.name, "with#hash", "'#' inside a value is not a comment");
    cr_assert_eq(cfg.files.n, 3, "and adds to repeatable ones");
    cr_assert_str_eq(cfg.files.v[1], "/b c", "blanks and CR around the value are trimmed");
    cr_assert_str_eq(cfg.files.v[2], "/d");
    cr_assert_eq(cfg.secs, 60);
}

static void file_error(const char *text, size_t len, const char *want)
{
    struct conf c;

    memset(&c, 0, sizeof(c));
    cr_assert_eq(fs_opts_load_file(&table, &c, write_file(text, len), err, sizeof(err)), -1,
                 "accepted: %s", text);
    cr_assert_str_eq(err, want);
    fs_opts_free(&table, &c);
}

#define FILE_ERROR(text, want) file_error(text, sizeof(text) - 1, want)

Test(opts, file_errors_carry_line_numbers)
{
    FILE_ERROR("flag = yes\n\n# x\nu32 = abc\n", "config line 4: u32: 'abc' is not a number");
    FILE_ERROR("u32 =\n", "config line 1: u32: missing value");
    FILE_ERROR("u32 = 1\nu33 = 1\n", "config line 2: unknown option 'u33'");
    FILE_ERROR("u32 1\n", "config line 1: expected 'key = value', got 'u32 1'");
    FILE_ERROR("= 5\n", "config line 1: unknown option ''");
    FILE_ERROR("ratio = 2\n", "config line 1: ratio: '2' is too large (at most 1)");
    FILE_ERROR("flag = yes\nname = a\0b\n", "config line 2: a NUL byte (not a text file?)");
    FILE_ERROR("even = 7", "config line 1: even: '7' is not an even number up to 1000");
}

Test(opts, file_errors_stop_at_the_first_bad_line)
{
    static const char text[] = "u32 = 3\nu32 = x\nu32 = 4\n";
    char *const argv[] = { "prog", "-c", (char *)write_file(text, sizeof(text) - 1), NULL };

    cr_assert_eq(fs_opts_parse_args(&table, &cfg, 3, argv, NULL, err, sizeof(err)),
                 FS_OPTS_ERROR);
    cr_assert_str_eq(err, "config line 2: u32: 'x' is not a number");
    cr_assert_eq(cfg.u32, 3, "nothing past the bad line is applied");
}

Test(opts, unreadable_files)
{
    cr_assert_eq(fs_opts_load_file(&table, &cfg, "/nonexistent/x.conf", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "config file /nonexistent/x.conf: No such file or directory");
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    cr_assert_eq(fs_opts_load_file(&table, &cfg, dir, err, sizeof(err)), -1, "a directory");
    cr_assert_not_null(strstr(err, dir), "%s", err);
}

Test(opts, long_lines_are_read_whole)
{
    size_t n = 100000;
    char *text = malloc(n + 16);

    cr_assert_not_null(text);
    memcpy(text, "file = ", 7);
    memset(text + 7, 'p', n);
    strcpy(text + 7 + n, "\n");
    cr_assert_eq(fs_opts_load_file(&table, &cfg, write_file(text, strlen(text)), err,
                                   sizeof(err)), 0, "%s", err);
    cr_assert_eq(cfg.files.n, 1);
    cr_assert_eq(strlen(cfg.files.v[0]), n);
    free(text);
}

static char *written(const struct conf *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    cr_assert_not_null(fp);
    fs_opts_write(&table, c, fp);
    fclose(fp);
    return buf;
}

Test(opts, written_file_loads_back_the_same)
{
    struct conf again;
    char *first, *second;

    cr_assert_eq(PARSE("--flag", "--u32=7", "--u64", "12345678901234", "--bytes", "2M",
                       "--secs", "1d", "--ratio", "0.1", "--name", "n", "--file", "x", "y",
                       "--even", "8"), FS_OPTS_OK, "%s", err);
    first = written(&cfg);
    cr_assert_str_eq(first,
                     "flag = yes\nu32 = 7\nu64 = 12345678901234\nbytes = 2097152\n"
                     "secs = 86400\nratio = 0.10000000000000001\nname = n\nfile = x\n"
                     "file = y\neven = 8\noffset = 0\n");
    memset(&again, 0, sizeof(again));
    cr_assert_eq(fs_opts_load_file(&table, &again, write_file(first, strlen(first)), err,
                                   sizeof(err)), 0, "%s", err);
    cr_assert(again.ratio == cfg.ratio, "doubles come back bit for bit");
    second = written(&again);
    cr_assert_str_eq(first, second);
    free(first);
    free(second);
    fs_opts_free(&table, &again);
}

Test(opts, unset_numbers_are_not_written)
{
    char *text = written(&cfg);

    cr_assert_null(strstr(text, "u32 ="), "0 is below u32's minimum: not set");
    cr_assert_null(strstr(text, "secs ="));
    cr_assert_null(strstr(text, "name ="));
    cr_assert_not_null(strstr(text, "u64 = 0\n"));
    free(text);
}

Test(opts, usage_lists_every_option)
{
    char *usage = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&usage, &len);

    fs_opts_usage(&table, fp, "prog");
    fclose(fp);
    cr_assert_eq(strncmp(usage, "usage: prog [-c FILE]", 21), 0, "%s", usage);
    cr_assert_not_null(strstr(usage, "A test table.\n"));
    cr_assert_not_null(strstr(usage, "  --flag    "));
    cr_assert_not_null(strstr(usage, "  --file FILE...   "), "repeatable ones say so");
    for (size_t i = 0; i < table.n; i++) {
        char needle[64];

        snprintf(needle, sizeof(needle), "--%s", rows[i].name);
        cr_assert_not_null(strstr(usage, needle), "usage lacks %s", needle);
    }
    for (char *line = usage; *line; ) {
        char *nl = strchr(line, '\n');

        cr_assert_not_null(nl);
        cr_assert_leq(nl - line, 79, "line longer than 79 columns: %.*s", (int)(nl - line),
                      line);
        line = nl + 1;
    }
    free(usage);
}

Test(opts, free_resets_owned_fields)
{
    cr_assert_eq(PARSE("--name", "a", "--file", "b"), FS_OPTS_OK);
    fs_opts_free(&table, &cfg);
    cr_assert_null(cfg.name);
    cr_assert_null(cfg.files.v);
    cr_assert_eq(cfg.files.n, 0);
}

/* --quiet and --verbose: two FS_OPT_LOG_FLAG rows over one level field. */
struct logconf {
    int level;
};

static const struct fs_opt log_rows[] = {
    { "quiet", FS_OPT_LOG_FLAG, offsetof(struct logconf, level), FS_LOG_WARNING,
      .help = "warnings only" },
    { "verbose", FS_OPT_LOG_FLAG, offsetof(struct logconf, level), FS_LOG_DEBUG,
      .help = "debugging too" },
};

static const struct fs_opts log_table = { log_rows, 2, "Log flags.\n" };

static void set_log(struct logconf *c, const char *key, const char *value)
{
    cr_assert_eq(fs_opts_set(&log_table, c, key, value, err, sizeof(err)), 0, "%s", err);
}

static void expect_log_written(const struct logconf *c, const char *want)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);

    cr_assert_not_null(fp);
    fs_opts_write(&log_table, c, fp);
    fclose(fp);
    cr_expect_str_eq(text, want);
    free(text);
}

Test(opts, log_flags_share_one_level)
{
    struct logconf c = { FS_LOG_INFO };

    expect_log_written(&c, "quiet = no\nverbose = no\n");
    set_log(&c, "quiet", "yes");
    cr_expect_eq(c.level, FS_LOG_WARNING);
    expect_log_written(&c, "quiet = yes\nverbose = no\n");
    set_log(&c, "verbose", "yes");
    cr_expect_eq(c.level, FS_LOG_DEBUG, "the last one given wins");
    set_log(&c, "quiet", "no");
    cr_expect_eq(c.level, FS_LOG_DEBUG, "--quiet=no does not undo --verbose");
    set_log(&c, "verbose", "no");
    cr_expect_eq(c.level, FS_LOG_INFO);
    cr_expect_eq(fs_opts_set(&log_table, &c, "quiet", "maybe", err, sizeof(err)), -1);
    cr_expect_eq(c.level, FS_LOG_INFO, "a refused value changes nothing");
}

Test(opts, zeromq_endpoints_checked)
{
    static const char *const good[] = { "ipc:///run/fs/flows", "tcp://127.0.0.1:5555",
                                        "@tcp://*:5555", ">inproc://events" };
    static const char *const bad[] = { "ipc://", "http://host/", "/run/fs/flows", "@" };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_expect_eq(fs_opts_check_endpoint(NULL, good[i], err, sizeof(err)), 0, "%s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(fs_opts_check_endpoint(NULL, bad[i], err, sizeof(err)), -1, "%s", bad[i]);
        cr_expect_not_null(strstr(err, "is not a ZeroMQ endpoint"), "%s", err);
    }
}

Test(opts, utc_offsets_are_signed_and_within_14_hours)
{
    static const struct { const char *v; int32_t want; } ok[] = {
        { "0", 0 }, { "1h", 3600 }, { "-5h", -18000 }, { "+330m", 19800 }, { "-14h", -50400 },
        { "50400", 50400 } };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert_eq(fs_opts_set(&table, &cfg, "offset", ok[i].v, err, sizeof(err)), 0, "%s",
                     err);
        cr_expect_eq(cfg.offset, ok[i].want, "%s", ok[i].v);
    }
    cr_expect_eq(fs_opts_set(&table, &cfg, "offset", "15h", err, sizeof(err)), -1);
    cr_expect_str_eq(err, "offset: '15h' is more than 14 hours from UTC");
    cr_expect_eq(fs_opts_set(&table, &cfg, "offset", "-x", err, sizeof(err)), -1);
    cr_expect(strstr(err, "not a number") != NULL, "%s", err);
    cr_expect_eq(cfg.offset, 50400, "a refused value changed the setting");

    /* Written and read back the same, negative ones too. */
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    cfg.offset = -19800;
    cfg.bytes = 2048; /* every other row loads back too */
    fs_opts_write(&table, &cfg, fp);
    fclose(fp);
    cr_expect(strstr(text, "offset = -19800\n") != NULL, "%s", text);
    cfg.offset = 0;
    cr_assert_eq(fs_opts_load_file(&table, &cfg, write_file(text, len), err, sizeof(err)), 0,
                 "%s", err);
    cr_expect_eq(cfg.offset, -19800);
    free(text);
}

/* What fs_opts_main() printed and returned. */
struct main_run {
    int status;
    char out[4096], err[1024];
};

/* Reads `fp` from its start into `buf`, NUL-terminated. */
static void slurp(FILE *fp, char *buf, size_t len)
{
    size_t n;

    rewind(fp);
    n = fread(buf, 1, len - 1, fp);
    buf[n] = '\0';
    fclose(fp);
}

/* Calls fs_opts_main() with stdout and stderr caught in files. */
static void run_main(enum fs_opts_result r, const char *why, bool see_help, struct main_run *m)
{
    FILE *out = tmpfile(), *errf = tmpfile();
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);

    cr_assert(out != NULL && errf != NULL && saved_out >= 0 && saved_err >= 0);
    fflush(stdout);
    fflush(stderr);
    cr_assert_geq(dup2(fileno(out), STDOUT_FILENO), 0);
    cr_assert_geq(dup2(fileno(errf), STDERR_FILENO), 0);
    m->status = fs_opts_main(r, &table, "prog", why, see_help);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);
    slurp(out, m->out, sizeof(m->out));
    slurp(errf, m->err, sizeof(m->err));
}

Test(opts, main_goes_on_after_good_options_without_a_word)
{
    struct main_run m;

    run_main(PARSE("--u32", "5"), err, true, &m);
    cr_expect_eq(m.status, -1);
    cr_expect_str_empty(m.out);
    cr_expect_str_empty(m.err);
}

Test(opts, main_prints_usage_and_version_on_stdout_and_exits_0)
{
    struct main_run m;
    char *usage = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&usage, &len);

    fs_opts_usage(&table, fp, "prog");
    fclose(fp);
    run_main(PARSE("--u32", "x", "--help"), err, true, &m);
    cr_expect_eq(m.status, 0);
    cr_expect_str_eq(m.out, usage);
    cr_expect_str_empty(m.err);
    free(usage);

    run_main(PARSE("--version"), err, false, &m);
    cr_expect_eq(m.status, 0);
    cr_expect_str_eq(m.out, "prog " FS_VERSION "\n");
    cr_expect_str_eq(FS_VERSION, "0.1");
    cr_expect_str_empty(m.err);
}

Test(opts, main_prints_errors_on_stderr_and_exits_2)
{
    struct main_run m;

    run_main(PARSE("--u32", "x"), err, true, &m);
    cr_expect_eq(m.status, FS_OPTS_EXIT_CONFIG);
    cr_expect_eq(FS_OPTS_EXIT_CONFIG, 2);
    cr_expect_str_empty(m.out);
    cr_expect_str_eq(m.err, "prog: option --u32: 'x' is not a number (see --help)\n");

    run_main(PARSE("--nope"), err, false, &m);
    cr_expect_eq(m.status, 2);
    cr_expect_str_empty(m.out);
    cr_expect_str_eq(m.err, "prog: unknown option '--nope'\n");
}
