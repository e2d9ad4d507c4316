/*
 * atomicfile.c - whole-file replacement (atomicfile.h), the one way every
 * flowsentry process writes a state file, a snapshot or a report.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"

struct fs_atomic {
    FILE *fp;
    char *path;  /* the target */
    char *tmp;   /* the temporary file beside it */
};

/* "PATH: STEP: REASON", or "PATH: REASON" without a step. */
static int fail(char *err, size_t errlen, const char *path, const char *step, int e)
{
    if (step)
        snprintf(err, errlen, "%s: %s: %s", path, step, strerror(e));
    else
        snprintf(err, errlen, "%s: %s", path, strerror(e));
    errno = e;
    return -1;
}

static void release(struct fs_atomic *a)
{
    int e = errno;

    if (a->fp)
        fclose(a->fp);
    free(a->path);
    free(a->tmp);
    free(a);
    errno = e;
}

/* Makes a rename in the directory of `path` durable. */
static int sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL ? strdup(".")
                : slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
    int fd, rc, e;

    if (dir == NULL)
        return -1;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    rc = fd < 0 ? -1 : fsync(fd);
    e = errno;
    if (fd >= 0)
        close(fd);
    free(dir);
    errno = e;
    return rc;
}

struct fs_atomic *fs_atomic_open(const char *path, mode_t mode, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) + 1 : 0, fd, e;
    const char *step = "create temporary file";
    struct fs_atomic *a = calloc(1, sizeof(*a));

    if (a == NULL || (a->path = strdup(path)) == NULL ||
        asprintf(&a->tmp, "%.*s.%s.XXXXXX", dirlen, path, path + dirlen) < 0) {
        if (a)
            a->tmp = NULL;
        e = ENOMEM;
        step = NULL;
        goto fail;
    }
    if ((fd = mkostemp(a->tmp, O_CLOEXEC)) < 0) {
        e = errno;
        free(a->tmp);
        a->tmp = NULL;
        goto fail;
    }
    if (fchmod(fd, mode) != 0)
        step = "chmod";
    else if ((a->fp = fdopen(fd, "wb")) == NULL)
        step = "fdopen";
    if (a->fp == NULL) {
        e = errno;
        close(fd);
        unlink(a->tmp);
        goto fail;
    }
    return a;
fail:
    if (a)
        release(a);
    fail(err, errlen, path, step, e);
    return NULL;
}

FILE *fs_atomic_fp(struct fs_atomic *a)
{
    return a->fp;
}

int fs_atomic_commit(struct fs_atomic *a, char *err, size_t errlen)
{
    const char *step = NULL;
    int e = 0, rc = 0;

    errno = 0;
    if (fflush(a->fp) != 0 || ferror(a->fp))
        step = "write";
    else if (fsync(fileno(a->fp)) != 0)
        step = "fsync";
    if (step)
        e = errno ? errno : EIO;
    if (fclose(a->fp) != 0 && step == NULL) {
        step = "close";
        e = errno;
    }
    a->fp = NULL;
    if (step == NULL && rename(a->tmp, a->path) != 0) {
        step = "rename";
        e = errno;
    }
    if (step) {
        unlink(a->tmp);
        rc = fail(err, errlen, a->path, step, e);
    } else if (sync_dir(a->path) != 0) {
        rc = fail(err, errlen, a->path, "fsync directory", errno);
    }
    release(a);
    return rc;
}

void fs_atomic_abort(struct fs_atomic *a)
{
    int e = errno;

    if (a == NULL)
        return;
    fclose(a->fp);
    a->fp = NULL;
    unlink(a->tmp);
    release(a);
    errno = e;
}

int fs_atomic_write(const char *path, const void *buf, size_t len, mode_t mode, char *err,
                    size_t errlen)
{
    struct fs_atomic *a = fs_atomic_open(path, mode, err, errlen);
    int e;

    if (a == NULL)
        return -1;
    if (len && fwrite(buf, 1, len, a->fp) != len) {
        e = errno;
        fs_atomic_abort(a);
        return fail(err, errlen, path, "write", e ? e : EIO);
    }
    return fs_atomic_commit(a, err, errlen);
}
