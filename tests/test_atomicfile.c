/*
 * test_atomicfile.c - ipc/atomicfile.h: a file replaced whole with the mode
 * asked for; the failures (directory missing, parent a regular file, target
 * a directory, a write error midway) say where and why in one line, keep
 * the old file and leave no temporary file behind; the streaming form
 * commits and aborts. Tests run as root, so permissions cannot be made to
 * fail: the errors come from the file system's shape instead.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "proc.h"

static char tmp[128];

static void setup(void)
{
    cr_assert_not_null(fs_tmpdir(tmp, sizeof(tmp)));
}

static void teardown(void)
{
    fs_rmtree(tmp);
}

TestSuite(atomicfile, .init = setup, .fini = teardown, .timeout = 30);

static const char *at(const char *name)
{
    static char path[4][512];
    static int k;

    k = (k + 1) % 4;
    snprintf(path[k], sizeof(path[k]), "%s/%s", tmp, name);
    return path[k];
}

/* The file's bytes as a string (NULL when it cannot be read). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void expect_content(const char *path, const char *want)
{
    char *got = slurp(path);

    cr_assert_not_null(got, "%s cannot be read", path);
    cr_expect_str_eq(got, want);
    free(got);
}

/* Entries of `dir`, hidden ones included ("." and ".." not). */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d, "%s", dir);
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static mode_t mode_of(const char *path)
{
    struct stat st;

    cr_assert_eq(stat(path, &st), 0, "%s: %s", path, strerror(errno));
    return st.st_mode & 07777;
}

Test(atomicfile, content_is_replaced_whole_with_the_mode_asked_for)
{
    const char *path = at("state");
    const char *longer = "a first version, longer than the second\n";
    char err[256] = "";

    umask(077); /* the mode is set exactly, not through the umask */
    cr_assert_eq(fs_atomic_write(path, longer, strlen(longer), 0644, err, sizeof(err)), 0,
                 "%s", err);
    expect_content(path, longer);
    cr_expect_eq(mode_of(path), 0644);
    cr_assert_eq(fs_atomic_write(path, "v2\n", 3, 0600, err, sizeof(err)), 0, "%s", err);
    expect_content(path, "v2\n"); /* no tail of the longer one */
    cr_expect_eq(mode_of(path), 0600);
    cr_assert_eq(fs_atomic_write(path, "", 0, 0640, err, sizeof(err)), 0, "%s", err);
    expect_content(path, "");
    cr_expect_eq(mode_of(path), 0640);
    cr_expect_eq(entries(tmp), 1, "a temporary file was left behind");
}

Test(atomicfile, a_bare_name_is_written_in_the_current_directory)
{
    char err[256] = "";

    cr_assert_eq(chdir(tmp), 0);
    cr_assert_eq(fs_atomic_write("bare", "x", 1, 0644, err, sizeof(err)), 0, "%s", err);
    expect_content(at("bare"), "x");
    cr_expect_eq(entries(tmp), 1);
}

Test(atomicfile, a_missing_directory_is_an_error_naming_the_path)
{
    const char *path = at("missing/state");
    char err[256] = "", want[512];

    errno = 0;
    cr_assert_eq(fs_atomic_write(path, "x", 1, 0644, err, sizeof(err)), -1);
    cr_expect_eq(errno, ENOENT);
    snprintf(want, sizeof(want), "%s: create temporary file: No such file or directory", path);
    cr_expect_str_eq(err, want);
    cr_expect_eq(entries(tmp), 0);
    /* The same through the streaming form. */
    err[0] = '\0';
    cr_expect_null(fs_atomic_open(path, 0644, err, sizeof(err)));
    cr_expect_str_eq(err, want);
    cr_expect_eq(entries(tmp), 0);
}

Test(atomicfile, a_parent_that_is_a_regular_file_is_not_a_directory)
{
    const char *parent = at("file"), *path = at("file/state");
    char err[256] = "";

    fclose(fopen(parent, "w"));
    errno = 0;
    cr_assert_eq(fs_atomic_write(path, "x", 1, 0644, err, sizeof(err)), -1);
    cr_expect_eq(errno, ENOTDIR);
    cr_expect(strstr(err, path) == err, "%s", err);
    cr_expect(strstr(err, ": Not a directory") != NULL, "%s", err);
    expect_content(parent, "");
    cr_expect_eq(entries(tmp), 1);
}

Test(atomicfile, a_failed_rename_keeps_the_target_and_removes_the_temporary_file)
{
    const char *path = at("target");
    char err[256] = "", want[512];

    /* A directory in the way: everything works up to the rename. */
    cr_assert_eq(mkdir(path, 0755), 0);
    errno = 0;
    cr_assert_eq(fs_atomic_write(path, "x", 1, 0644, err, sizeof(err)), -1);
    cr_expect_eq(errno, EISDIR);
    snprintf(want, sizeof(want), "%s: rename: Is a directory", path);
    cr_expect_str_eq(err, want);
    cr_expect_eq(entries(tmp), 1, "a temporary file was left behind");
    cr_expect_eq(entries(path), 0);
}

Test(atomicfile, a_null_err_is_allowed_and_errno_still_says_why)
{
    errno = 0;
    cr_assert_eq(fs_atomic_write(at("missing/x"), "x", 1, 0644, NULL, 0), -1);
    cr_expect_eq(errno, ENOENT);
}

Test(atomicfile, streaming_commit_replaces_the_file_only_at_the_end)
{
    const char *path = at("snap");
    char err[256] = "";
    struct fs_atomic *a;
    FILE *fp;

    cr_assert_eq(fs_atomic_write(path, "old", 3, 0644, err, sizeof(err)), 0, "%s", err);
    a = fs_atomic_open(path, 0640, err, sizeof(err));
    cr_assert_not_null(a, "%s", err);
    fp = fs_atomic_fp(a);
    cr_assert_not_null(fp);
    fputs("HEAD", fp);
    for (int i = 0; i < 100000; i++)
        fprintf(fp, "%d\n", i % 10);
    /* Until the commit a reader sees the old file; the new one is hidden. */
    expect_content(path, "old");
    cr_expect_eq(entries(tmp), 2);
    /* Seeking back to fill in a header is allowed. */
    cr_assert_eq(fseek(fp, 0, SEEK_SET), 0);
    fputs("head", fp);
    cr_assert_eq(fs_atomic_commit(a, err, sizeof(err)), 0, "%s", err);
    char *got = slurp(path);
    cr_assert_not_null(got);
    cr_expect_eq(strlen(got), 4 + 200000);
    cr_expect_eq(strncmp(got, "head0\n1\n", 8), 0);
    cr_expect_str_eq(got + strlen(got) - 4, "8\n9\n");
    free(got);
    cr_expect_eq(mode_of(path), 0640);
    cr_expect_eq(entries(tmp), 1);
}

Test(atomicfile, streaming_abort_keeps_the_old_file)
{
    const char *path = at("snap");
    char err[256] = "";
    struct fs_atomic *a;

    cr_assert_eq(fs_atomic_write(path, "old", 3, 0644, err, sizeof(err)), 0, "%s", err);
    a = fs_atomic_open(path, 0640, err, sizeof(err));
    cr_assert_not_null(a, "%s", err);
    fputs("half of something", fs_atomic_fp(a));
    fs_atomic_abort(a);
    expect_content(path, "old");
    cr_expect_eq(mode_of(path), 0644);
    cr_expect_eq(entries(tmp), 1, "a temporary file was left behind");

    /* Aborting with nothing written, and a new file that never appears. */
    a = fs_atomic_open(at("never"), 0640, err, sizeof(err));
    cr_assert_not_null(a, "%s", err);
    fs_atomic_abort(a);
    cr_expect_eq(entries(tmp), 1);
}

Test(atomicfile, a_write_error_midway_fails_the_commit_and_keeps_the_old_file)
{
    const char *path = at("big");
    struct rlimit lim = { 64 * 1024, 64 * 1024 };
    char err[256] = "", want[512], block[4096];
    struct fs_atomic *a;

    cr_assert_eq(fs_atomic_write(path, "old", 3, 0644, err, sizeof(err)), 0, "%s", err);
    /* Files may not grow past 64 KiB: writes beyond fail with EFBIG. */
    signal(SIGXFSZ, SIG_IGN);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    memset(block, 'z', sizeof(block));

    a = fs_atomic_open(path, 0644, err, sizeof(err));
    cr_assert_not_null(a, "%s", err);
    for (int i = 0; i < 32; i++)
        fwrite(block, 1, sizeof(block), fs_atomic_fp(a));
    errno = 0;
    cr_assert_eq(fs_atomic_commit(a, err, sizeof(err)), -1);
    cr_expect_eq(errno, EFBIG);
    snprintf(want, sizeof(want), "%s: write: File too large", path);
    cr_expect_str_eq(err, want);
    expect_content(path, "old");
    cr_expect_eq(entries(tmp), 1, "a temporary file was left behind");

    /* The whole-buffer form fails the same way. */
    char *huge = calloc(1, 128 * 1024);
    cr_assert_not_null(huge);
    err[0] = '\0';
    cr_assert_eq(fs_atomic_write(path, huge, 128 * 1024, 0644, err, sizeof(err)), -1);
    cr_expect_eq(errno, EFBIG);
    cr_expect_str_eq(err, want);
    expect_content(path, "old");
    cr_expect_eq(entries(tmp), 1, "a temporary file was left behind");
    free(huge);
}
