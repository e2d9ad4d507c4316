/*
 * state.c - the reporter's state file (see state.h): one buffer built in
 * memory, written to a temporary file beside the real one, synced, renamed
 * over it, and the directory synced so that the rename itself survives a
 * power cut.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"

static const char magic[8] = { 'F', 'S', 'R', 'P', 'S', 'T', 'A', 'T' };
#define VERSION 1u
#define HEAD (8 + 4 + 8 + 8)

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void put(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void fs_rp_state_free(struct fs_rp_state *st)
{
    free(st->fold);
    free(st->reports);
    memset(st, 0, sizeof(*st));
}

/* Writes all of `len` bytes, through short writes and signals. */
static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int sync_dir(const char *path)
{
    char copy[4096];
    int fd, rc;

    snprintf(copy, sizeof(copy), "%s", path);
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

int fs_rp_state_save(const char *path, const struct fs_rp_state *st, char *err, size_t errlen)
{
    size_t len = HEAD + 4 + st->fold_len + 4 + st->reports_len + 8, off = 0;
    char tmp[4096];
    uint8_t *buf;
    int fd;

    if (st->fold_len > UINT32_MAX || st->reports_len > UINT32_MAX || len > FS_RP_STATE_MAX) {
        snprintf(err, errlen, "state file %s: %zu bytes is too large", path, len);
        return -1;
    }
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        snprintf(err, errlen, "state file %s: path too long", path);
        return -1;
    }
    if ((buf = malloc(len)) == NULL) {
        snprintf(err, errlen, "state file %s: out of memory", path);
        return -1;
    }
    memcpy(buf, magic, 8);
    put(buf + 8, VERSION, 4);
    put(buf + 12, st->journal_id, 8);
    put(buf + 20, st->jseq, 8);
    off = HEAD;
    put(buf + off, st->fold_len, 4);
    if (st->fold_len)
        memcpy(buf + off + 4, st->fold, st->fold_len);
    off += 4 + st->fold_len;
    put(buf + off, st->reports_len, 4);
    if (st->reports_len)
        memcpy(buf + off + 4, st->reports, st->reports_len);
    off += 4 + st->reports_len;
    put(buf + off, fnv1a(buf, off), 8);

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    if (write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        goto fail;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        goto fail;
    }
    free(buf);
    if (sync_dir(path) != 0) {
        snprintf(err, errlen, "state file %s: syncing its directory: %s", path,
                 strerror(errno));
        return -1;
    }
    return 0;
fail:
    snprintf(err, errlen, "state file %s: %s", path, strerror(errno));
    free(buf);
    return -1;
}

/* A length-prefixed blob at `*off`; copies it. */
static int take_blob(const uint8_t *buf, size_t end, size_t *off, void **out, size_t *outlen)
{
    uint64_t n;

    if (end - *off < 4)
        return -1;
    n = get(buf + *off, 4);
    *off += 4;
    if (n > end - *off)
        return -1;
    *out = NULL;
    *outlen = (size_t)n;
    if (n > 0) {
        if ((*out = malloc((size_t)n)) == NULL)
            return -1;
        memcpy(*out, buf + *off, (size_t)n);
    }
    *off += (size_t)n;
    return 0;
}

int fs_rp_state_load(const char *path, struct fs_rp_state *st, char *err, size_t errlen)
{
    struct stat sb;
    uint8_t *buf = NULL;
    size_t len, off, got = 0;
    const char *why;
    int fd;

    memset(st, 0, sizeof(*st));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "state file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (sb.st_size < HEAD + 16 || (uint64_t)sb.st_size > FS_RP_STATE_MAX) {
        snprintf(err, errlen, "state file %s: %lld bytes is no state file", path,
                 (long long)sb.st_size);
        close(fd);
        return -1;
    }
    len = (size_t)sb.st_size;
    if ((buf = malloc(len)) == NULL) {
        close(fd);
        snprintf(err, errlen, "state file %s: out of memory", path);
        return -1;
    }
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != len) {
        why = "short read";
        goto bad;
    }
    if (memcmp(buf, magic, 8) != 0) {
        why = "not a reporter state file";
        goto bad;
    }
    if (get(buf + 8, 4) != VERSION) {
        why = "written by another version";
        goto bad;
    }
    if (fnv1a(buf, len - 8) != get(buf + len - 8, 8)) {
        why = "checksum mismatch (damaged)";
        goto bad;
    }
    st->journal_id = get(buf + 12, 8);
    st->jseq = get(buf + 20, 8);
    off = HEAD;
    if (take_blob(buf, len - 8, &off, &st->fold, &st->fold_len) != 0 ||
        take_blob(buf, len - 8, &off, &st->reports, &st->reports_len) != 0 || off != len - 8) {
        why = "lengths do not add up (damaged)";
        goto bad;
    }
    free(buf);
    return 1;
bad:
    snprintf(err, errlen, "state file %s: %s", path, why);
    free(buf);
    fs_rp_state_free(st);
    return -1;
}
