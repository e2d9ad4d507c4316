/*
 * state.c - the reporter's state file (see state.h): one buffer built in
 * memory and written whole (atomicfile.h), so that a power cut leaves the
 * old state or the new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anomaly.h"
#include "atomicfile.h"
#include "binio.h"
#include "state.h"

static const char magic[8] = { 'F', 'S', 'R', 'P', 'S', 'T', 'A', 'T' };
#define VERSION 1u
#define HEAD (8 + 4 + 8 + 8)

void fs_rp_state_free(struct fs_rp_state *st)
{
    free(st->fold);
    free(st->reports);
    memset(st, 0, sizeof(*st));
}

int fs_rp_state_save(const char *path, const struct fs_rp_state *st, char *err, size_t errlen)
{
    size_t len = HEAD + 4 + st->fold_len + 4 + st->reports_len + 8;
    struct fs_wbuf w = { 0 };
    char why[PATH_MAX + 128];
    int rc;

    if (st->fold_len > UINT32_MAX || st->reports_len > UINT32_MAX || len > FS_RP_STATE_MAX) {
        snprintf(err, errlen, "state file %s: %zu bytes is too large", path, len);
        return -1;
    }
    fs_wbuf_bytes(&w, magic, 8);
    fs_wbuf_uint(&w, VERSION, 4);
    fs_wbuf_uint(&w, st->journal_id, 8);
    fs_wbuf_uint(&w, st->jseq, 8);
    fs_wbuf_blob(&w, st->fold, st->fold_len, 4);
    fs_wbuf_blob(&w, st->reports, st->reports_len, 4);
    if (!w.oom)
        fs_wbuf_uint(&w, fs_fnv64(FS_FNV64_INIT, w.p, w.len), 8);
    if (w.oom) {
        snprintf(err, errlen, "state file %s: out of memory", path);
        fs_wbuf_free(&w);
        return -1;
    }
    rc = fs_atomic_write(path, w.p, w.len, 0600, why, sizeof(why));
    if (rc != 0)
        snprintf(err, errlen, "state file %s", why);
    fs_wbuf_free(&w);
    return rc;
}

/* A length-prefixed blob, copied (NULL for none). The checksum matched, so
 * lengths that do not add up mean a writer's bug or a forged file. */
static void take_blob(struct fs_rbuf *r, void **out, size_t *outlen)
{
    const uint8_t *p = fs_rbuf_blob(r, 4, outlen);

    *out = NULL;
    if (p == NULL || *outlen == 0)
        return;
    if ((*out = malloc(*outlen)) == NULL)
        fs_rbuf_fail(r, "out of memory");
    else
        memcpy(*out, p, *outlen);
}

int fs_rp_state_load(const char *path, struct fs_rp_state *st, char *err, size_t errlen)
{
    struct stat sb;
    uint8_t *buf = NULL;
    struct fs_rbuf r;
    size_t len, got = 0;
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
    if (fs_get_le(buf + 8, 4) != VERSION) {
        why = "written by another version";
        goto bad;
    }
    if (fs_fnv64(FS_FNV64_INIT, buf, len - 8) != fs_get_le(buf + len - 8, 8)) {
        why = "checksum mismatch (damaged)";
        goto bad;
    }
    fs_rbuf_init(&r, buf + 12, len - 8 - 12);
    st->journal_id = fs_rbuf_uint(&r, 8);
    st->jseq = fs_rbuf_uint(&r, 8);
    take_blob(&r, &st->fold, &st->fold_len);
    take_blob(&r, &st->reports, &st->reports_len);
    if (fs_rbuf_left(&r) != 0)
        fs_rbuf_fail(&r, "bytes after the report state");
    if (r.failed) {
        why = r.why;
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
