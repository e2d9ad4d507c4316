/*
 * test_log.c - the log line format, the level threshold and line safety,
 * read back from stderr redirected into a temporary file.
 */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Runs `fn` with stderr going to a file and returns what it wrote. */
static char captured[4096];

static const char *capture(void (*fn)(void))
{
    FILE *tmp = tmpfile();
    cr_assert_not_null(tmp);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(tmp), STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    size_t n = fread(captured, 1, sizeof(captured) - 1, tmp);
    captured[n] = '\0';
    fclose(tmp);
    return captured;
}

static void expect_match(const char *text, const char *pattern)
{
    regex_t re;
    cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    cr_expect_eq(regexec(&re, text, 0, NULL, 0), 0, "\"%s\" does not match %s", text,
                 pattern);
    regfree(&re);
}

static void one_warning(void)
{
    fs_log_set_program("flowsentry-collector");
    fs_log_set_level(FS_LOG_INFO);
    fs_log(FS_LOG_WARNING, "exporter %s: %d bad datagrams", "192.0.2.1", 3);
}

Test(log, line_format)
{
    const char *out = capture(one_warning);
    char pattern[256];
    snprintf(pattern, sizeof(pattern),
             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z "
             "flowsentry-collector\\[%ld\\] warning: exporter 192\\.0\\.2\\.1: "
             "3 bad datagrams\n$",
             (long)getpid());
    expect_match(out, pattern);
}

static void by_level(void)
{
    fs_log_set_level(FS_LOG_WARNING);
    fs_log(FS_LOG_ERROR, "e");
    fs_log(FS_LOG_WARNING, "w");
    fs_log(FS_LOG_INFO, "i");
    fs_log(FS_LOG_DEBUG, "d");
    fs_log_set_level(FS_LOG_DEBUG);
    fs_log(FS_LOG_DEBUG, "d2");
}

Test(log, threshold)
{
    const char *out = capture(by_level);
    cr_expect_not_null(strstr(out, " error: e\n"));
    cr_expect_not_null(strstr(out, " warning: w\n"));
    cr_expect_null(strstr(out, ": i\n"));
    cr_expect_null(strstr(out, ": d\n"));
    cr_expect_not_null(strstr(out, " debug: d2\n"));
    fs_log_set_level(FS_LOG_INFO);
    cr_expect(fs_log_enabled(FS_LOG_INFO));
    cr_expect_not(fs_log_enabled(FS_LOG_DEBUG));
}

static void hostile_text(void)
{
    fs_log_set_level(FS_LOG_INFO);
    fs_log(FS_LOG_INFO, "name=%s\n\n", "evil\nflowsentry[1] error: forged\r");
    char big[3000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    fs_log_line(NULL, big);
}

Test(log, one_call_one_line)
{
    const char *out = capture(hostile_text);
    int lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    cr_expect_eq(lines, 2, "%s", out);
    cr_expect_not_null(strstr(out, "name=evil?flowsentry[1] error: forged?\n"), "%s", out);
    /* The long line is cut but still ends the line, at warning level. */
    const char *second = strchr(out, '\n') + 1;
    cr_expect_not_null(strstr(second, " warning: xxxx"));
    cr_expect_eq(out[strlen(out) - 1], '\n');
}

Test(log, level_names)
{
    enum fs_log_level l;
    cr_expect_eq(fs_log_level_parse("warning", &l), 0);
    cr_expect_eq(l, FS_LOG_WARNING);
    cr_expect_eq(fs_log_level_parse("DEBUG", &l), 0);
    cr_expect_eq(l, FS_LOG_DEBUG);
    cr_expect_eq(fs_log_level_parse("warn", &l), -1);
    cr_expect_str_eq(fs_log_level_name(FS_LOG_ERROR), "error");
    cr_expect_str_eq(fs_log_level_name(FS_LOG_INFO), "info");
}
