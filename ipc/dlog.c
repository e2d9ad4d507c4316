/*
 * dlog.c - the bounded, crash-safe record log of dlog.h.
 *
 * A log directory holds:
 *   id      the log id, 16 hex digits, so that an empty log keeps its id
 *   acked   the acknowledged mark in decimal, replaced atomically
 *   lock    flock()ed by the process that has the log open
 *   NNNNNNNNNNNNNNNNNNNN.seg  the segments, named by their first sequence
 *
 * A segment is a header, "FSDLOG" u16:version u64:log id u64:first sequence
 * u32:CRC-32C of those 24 bytes, then records, u32:length u32:CRC-32C
 * payload; integers big-endian. A record's CRC covers its length as well as
 * its payload, so that a tail of zeros (what a file system may leave behind
 * after a power cut) never reads as a valid empty record.
 *
 * In memory: the list of segments (first sequence, records, bytes of whole
 * records), the last one being the one appended to, and a reading cursor
 * (segment, offset, sequence) over a read-ahead buffer, so that reading
 * forward costs neither a seek nor a syscall per record. A read elsewhere
 * finds its segment by binary search and walks the lengths from there.
 *
 * Only the last segment is ever appended to, and it is synced before the
 * next one is begun, so a crash can only tear the last one; damage found in
 * an older one at open is cut all the same, and the sequence numbers it
 * held read as not held.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "atomicfile.h"
#include "binio.h"
#include "daemon.h"
#include "dlog.h"

#define VERSION 1
#define HDR_LEN 28
#define REC_HDR 8
#define READ_AHEAD (64u << 10)
#define NAME_LEN 32

struct seg {
    uint64_t first; /* sequence of its first record */
    uint64_t count; /* records held */
    uint64_t size;  /* bytes of the header and whole records */
};

struct fs_dlog {
    char *dir;
    int dirfd, lockfd;
    int wfd; /* the last segment, appended to */
    uint64_t id, acked, max_bytes, segment_bytes;
    struct seg *segs;
    size_t nsegs, capsegs;
    bool dir_dirty; /* a file was added or removed since the last sync */

    /* The reading cursor: record `rseq` starts at `roff` of segment `rseg`
     * (open as `rfd`); `buf` holds bytes [bufoff, bufoff + buflen) of it. */
    int rfd;
    size_t rseg;
    uint64_t rseq, roff, bufoff;
    uint8_t *buf;
    size_t buflen, bufcap;

    struct fs_dlog_counters c;
    uint32_t crctab[256];
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *segname(uint64_t first, char *buf)
{
    snprintf(buf, NAME_LEN, "%020" PRIu64 ".seg", first);
    return buf;
}

/* fail() about segment `first`: "segment DIR/NAME: ..." */
static int seg_fail(const struct fs_dlog *l, uint64_t first, char *err, size_t errlen,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int seg_fail(const struct fs_dlog *l, uint64_t first, char *err, size_t errlen,
                    const char *fmt, ...)
{
    char name[NAME_LEN];
    int n = snprintf(err, errlen, "segment %s/%s: ", l->dir, segname(first, name));
    va_list ap;

    if (n > 0 && (size_t)n < errlen) {
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), a byte at a time. */
static void crc_init(uint32_t *tab)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c >> 1 ^ (0x82f63b78u & (0u - (c & 1u)));
        tab[i] = c;
    }
}

static uint32_t crc_update(const uint32_t *tab, uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = tab[(crc ^ *p++) & 0xff] ^ crc >> 8;
    return ~crc;
}

/* The CRC of a record: its length field, then its payload. */
static uint32_t record_crc(const struct fs_dlog *l, const uint8_t *lenfield, const void *payload,
                           size_t len)
{
    return crc_update(l->crctab, crc_update(l->crctab, 0, lenfield, 4), payload, len);
}

static struct seg *last_seg(const struct fs_dlog *l) { return &l->segs[l->nsegs - 1]; }

uint64_t fs_dlog_id(const struct fs_dlog *l) { return l->id; }
uint64_t fs_dlog_first(const struct fs_dlog *l) { return l->segs[0].first; }
uint64_t fs_dlog_next(const struct fs_dlog *l) { return last_seg(l)->first + last_seg(l)->count; }
uint64_t fs_dlog_acked(const struct fs_dlog *l) { return l->acked; }
const struct fs_dlog_counters *fs_dlog_counters(const struct fs_dlog *l) { return &l->c; }

/* Small files (id, acked) are replaced whole. */
static int write_small(struct fs_dlog *l, const char *name, const char *text, char *err,
                       size_t errlen)
{
    char *path, why[PATH_MAX + 128];
    int rc;

    if (asprintf(&path, "%s/%s", l->dir, name) < 0)
        return fail(err, errlen, "log %s: out of memory", l->dir);
    rc = fs_atomic_write(path, text, strlen(text), 0600, why, sizeof(why));
    free(path);
    return rc == 0 ? 0 : fail(err, errlen, "log %s", why);
}

/* Reads a small file and parses it as one number in `base` and a newline.
 * Returns 1 with `*v`, 0 when the file does not exist, -1 with `err`. */
static int read_small(struct fs_dlog *l, const char *name, int base, uint64_t *v, char *err,
                      size_t errlen)
{
    char text[32], *end;
    ssize_t n;
    int fd = openat(l->dirfd, name, O_RDONLY | O_CLOEXEC);

    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0)
        return fail(err, errlen, "log %s: %s: %s", l->dir, name, strerror(errno));
    n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n < 0)
        return fail(err, errlen, "log %s: %s: %s", l->dir, name, strerror(errno));
    text[n] = '\0';
    errno = 0;
    *v = strtoull(text, &end, base);
    if (n < 2 || text[0] == '-' || errno != 0 || strcmp(end, "\n") != 0)
        return fail(err, errlen, "log %s: %s: not a number", l->dir, name);
    return 1;
}

/* Makes bytes [off, off + n) of the reading segment present in the buffer,
 * reading ahead but never past `end`. Returns 1 with `*p`, 0 when they go
 * past `end`, -1 with errno on an I/O error. */
static int fetch(struct fs_dlog *l, uint64_t off, size_t n, uint64_t end, const uint8_t **p)
{
    if (off > end || n > end - off)
        return 0;
    if (off < l->bufoff || off + n > l->bufoff + l->buflen) {
        size_t keep = 0, want = n > READ_AHEAD ? n : READ_AHEAD;

        if (want > end - off)
            want = (size_t)(end - off);
        if (want > l->bufcap) {
            uint8_t *b = realloc(l->buf, want);
            if (b == NULL)
                return -1;
            l->buf = b;
            l->bufcap = want;
        }
        if (off >= l->bufoff && off < l->bufoff + l->buflen) {
            keep = (size_t)(l->bufoff + l->buflen - off);
            memmove(l->buf, l->buf + (off - l->bufoff), keep);
        }
        l->bufoff = off;
        l->buflen = keep;
        while (l->buflen < want) {
            ssize_t r = pread(l->rfd, l->buf + l->buflen, want - l->buflen,
                              (off_t)(off + l->buflen));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                if (r == 0)
                    errno = EIO; /* the file is shorter than the log knows */
                return -1;
            }
            l->buflen += (size_t)r;
        }
    }
    *p = l->buf + (off - l->bufoff);
    return 1;
}

/* The record at `off` of the reading segment. Returns 1 with its payload,
 * 0 when no whole record with the right CRC is there, -1 with errno. */
static int record_at(struct fs_dlog *l, uint64_t off, uint64_t end, const uint8_t **rec,
                     size_t *len)
{
    const uint8_t *p;
    uint8_t h[REC_HDR];
    int rc = fetch(l, off, REC_HDR, end, &p);

    if (rc <= 0)
        return rc;
    memcpy(h, p, REC_HDR);
    if (fs_get_be(h, 4) > FS_DLOG_RECORD_MAX)
        return 0;
    *len = fs_get_be(h, 4);
    if ((rc = fetch(l, off, REC_HDR + *len, end, &p)) <= 0)
        return rc;
    if (record_crc(l, h, p + REC_HDR, *len) != fs_get_be(h + 4, 4))
        return 0;
    *rec = p + REC_HDR;
    return 1;
}

/* Points the cursor at segment `i`, open as `fd`, before its first record. */
static void cursor_set(struct fs_dlog *l, size_t i, int fd)
{
    if (l->rfd >= 0)
        close(l->rfd);
    l->rfd = fd;
    l->rseg = i;
    l->rseq = l->segs[i].first;
    l->roff = HDR_LEN;
    l->bufoff = 0;
    l->buflen = 0;
}

static void cursor_close(struct fs_dlog *l)
{
    if (l->rfd >= 0)
        close(l->rfd);
    l->rfd = -1;
}

/* How many records a damaged tail held, as far as its lengths can be followed. */
static uint64_t tail_records(struct fs_dlog *l, uint64_t off, uint64_t end)
{
    const uint8_t *p;
    uint64_t k = 0;

    while (off < end) {
        k++;
        if (fetch(l, off, REC_HDR, end, &p) != 1 || fs_get_be(p, 4) > FS_DLOG_RECORD_MAX)
            break;
        off += REC_HDR + fs_get_be(p, 4);
    }
    return k;
}

static void header_encode(const struct fs_dlog *l, uint64_t first, uint8_t *h)
{
    memcpy(h, "FSDLOG", 6);
    h[6] = 0;
    h[7] = VERSION;
    fs_put_be(h + 8, l->id, 8);
    fs_put_be(h + 16, first, 8);
    fs_put_be(h + 24, crc_update(l->crctab, 0, h, 24), 4);
}

/* Checks the header of segment `s` and counts its records, cutting a
 * damaged tail. The segment is open as `fd` in the cursor. */
static int scan_segment(struct fs_dlog *l, struct seg *s, int fd, bool last, char *err,
                        size_t errlen)
{
    const uint8_t *h, *rec;
    uint8_t want[HDR_LEN];
    struct stat st;
    size_t len;
    int rc;

    if (fstat(fd, &st) < 0)
        return seg_fail(l, s->first, err, errlen, "%s", strerror(errno));
    header_encode(l, s->first, want);
    if (st.st_size < HDR_LEN && last) {
        /* Begun when the process died: write its header again. */
        if (ftruncate(fd, 0) < 0 || pwrite(fd, want, HDR_LEN, 0) != HDR_LEN)
            return seg_fail(l, s->first, err, errlen, "%s", strerror(errno));
        l->c.torn_bytes += (uint64_t)st.st_size;
        st.st_size = HDR_LEN;
    }
    rc = fetch(l, 0, HDR_LEN, (uint64_t)st.st_size, &h);
    if (rc < 0)
        return seg_fail(l, s->first, err, errlen, "%s", strerror(errno));
    if (rc == 0)
        return seg_fail(l, s->first, err, errlen, "shorter than a segment header");
    if (memcmp(h, want, 6) != 0)
        return seg_fail(l, s->first, err, errlen, "not a segment of a log (no magic)");
    if (h[6] != 0 || h[7] != VERSION)
        return seg_fail(l, s->first, err, errlen, "format version %u, expected %u",
                        (unsigned)h[6] << 8 | h[7], VERSION);
    if (fs_get_be(h + 24, 4) != crc_update(l->crctab, 0, h, 24))
        return seg_fail(l, s->first, err, errlen, "damaged header");
    if (fs_get_be(h + 8, 8) != l->id)
        return seg_fail(l, s->first, err, errlen, "belongs to log %016" PRIx64 ", not %016" PRIx64,
                        fs_get_be(h + 8, 8), l->id);
    if (fs_get_be(h + 16, 8) != s->first)
        return seg_fail(l, s->first, err, errlen, "header says first sequence %" PRIu64,
                        fs_get_be(h + 16, 8));
    s->size = HDR_LEN;
    while ((rc = record_at(l, s->size, (uint64_t)st.st_size, &rec, &len)) == 1) {
        s->size += REC_HDR + len;
        s->count++;
    }
    if (rc < 0)
        return seg_fail(l, s->first, err, errlen, "%s", strerror(errno));
    if (s->size < (uint64_t)st.st_size) {
        l->c.torn += tail_records(l, s->size, (uint64_t)st.st_size);
        l->c.torn_bytes += (uint64_t)st.st_size - s->size;
        if (ftruncate(fd, (off_t)s->size) < 0)
            return seg_fail(l, s->first, err, errlen, "cutting its damaged tail: %s",
                            strerror(errno));
    }
    return 0;
}

/* Makes room in the list for one more segment. */
static int reserve_seg(struct fs_dlog *l)
{
    if (l->nsegs == l->capsegs) {
        size_t cap = l->capsegs ? l->capsegs * 2 : 16;
        struct seg *s = realloc(l->segs, cap * sizeof(*s));
        if (s == NULL)
            return -1;
        l->segs = s;
        l->capsegs = cap;
    }
    return 0;
}

static int cmp_seg(const void *a, const void *b)
{
    uint64_t x = ((const struct seg *)a)->first, y = ((const struct seg *)b)->first;
    return x < y ? -1 : x > y;
}

/* Fills the segment list from the directory, sorted by first sequence. */
static int list_segments(struct fs_dlog *l, char *err, size_t errlen)
{
    int fd = dup(l->dirfd);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    struct dirent *e;
    int rc = 0;

    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return fail(err, errlen, "log %s: %s", l->dir, strerror(errno));
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char name[NAME_LEN];
        uint64_t first;

        if (n < 4 || strcmp(e->d_name + n - 4, ".seg") != 0)
            continue;
        first = strtoull(e->d_name, NULL, 10);
        if (first == 0 || strcmp(segname(first, name), e->d_name) != 0)
            rc = fail(err, errlen, "segment %s/%s: not a segment name (20 digits, .seg)", l->dir,
                      e->d_name);
        else if (reserve_seg(l) < 0)
            rc = fail(err, errlen, "log %s: out of memory", l->dir);
        else
            l->segs[l->nsegs++] = (struct seg){ first, 0, HDR_LEN };
    }
    closedir(d);
    if (rc == 0 && l->nsegs > 0)
        qsort(l->segs, l->nsegs, sizeof(*l->segs), cmp_seg);
    return rc;
}

/* Begins segment `first` and makes it the one appended to. */
static int begin_segment(struct fs_dlog *l, uint64_t first, char *err, size_t errlen)
{
    char name[NAME_LEN];
    uint8_t h[HDR_LEN];
    int fd;

    segname(first, name);
    if (reserve_seg(l) < 0)
        return fail(err, errlen, "log %s: out of memory", l->dir);
    header_encode(l, first, h);
    fd = openat(l->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, h, HDR_LEN) != HDR_LEN) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlinkat(l->dirfd, name, 0);
        }
        return seg_fail(l, first, err, errlen, "%s", strerror(e));
    }
    if (l->wfd >= 0)
        close(l->wfd);
    l->wfd = fd;
    l->segs[l->nsegs++] = (struct seg){ first, 0, HDR_LEN };
    l->c.bytes += HDR_LEN;
    l->dir_dirty = true;
    return 0;
}

/* Removes the oldest segment; what it held above the acknowledged mark is dropped. */
static int remove_oldest(struct fs_dlog *l, char *err, size_t errlen)
{
    struct seg *s = &l->segs[0];
    uint64_t end = s->first + s->count; /* one past its last record */
    uint64_t from = l->acked + 1 > s->first ? l->acked + 1 : s->first;
    char name[NAME_LEN];

    if (unlinkat(l->dirfd, segname(s->first, name), 0) < 0 && errno != ENOENT)
        return seg_fail(l, s->first, err, errlen, "%s", strerror(errno));
    if (end > from)
        l->c.dropped += end - from;
    l->c.bytes -= s->size;
    l->c.records -= s->count;
    memmove(l->segs, l->segs + 1, (l->nsegs - 1) * sizeof(*s));
    l->nsegs--;
    if (l->rfd >= 0 && l->rseg == 0)
        cursor_close(l);
    else if (l->rfd >= 0)
        l->rseg--;
    l->dir_dirty = true;
    return 0;
}

/* Removes the segments holding only acknowledged records, the last one aside. */
static int remove_acked(struct fs_dlog *l, char *err, size_t errlen)
{
    while (l->nsegs > 1 && l->segs[0].first + l->segs[0].count <= l->acked + 1)
        if (remove_oldest(l, err, errlen) < 0)
            return -1;
    return 0;
}

/* Removes oldest segments until `room` more bytes fit within max_bytes. */
static int make_room(struct fs_dlog *l, uint64_t room, char *err, size_t errlen)
{
    while (l->nsegs > 1 && l->c.bytes + room > l->max_bytes)
        if (remove_oldest(l, err, errlen) < 0)
            return -1;
    return 0;
}

/* Reads the id (making one for a new log) and the acknowledged mark. */
static int load_marks(struct fs_dlog *l, char *err, size_t errlen)
{
    char text[32];
    int rc = read_small(l, "id", 16, &l->id, err, errlen);

    if (rc < 0)
        return -1;
    if (rc == 1 && l->id == 0)
        return fail(err, errlen, "log %s: id: 0 is not an id", l->dir);
    if (rc == 0 && l->nsegs > 0)
        return fail(err, errlen, "log %s: the id file is missing but there are segments", l->dir);
    if (rc == 0) {
        do {
            if (getrandom(&l->id, sizeof(l->id), 0) != (ssize_t)sizeof(l->id))
                return fail(err, errlen, "log %s: getrandom: %s", l->dir, strerror(errno));
        } while (l->id == 0); /* 0 means "no log" to replay requests */
        snprintf(text, sizeof(text), "%016" PRIx64 "\n", l->id);
        if (write_small(l, "id", text, err, errlen) < 0)
            return -1;
    }
    return read_small(l, "acked", 10, &l->acked, err, errlen) < 0 ? -1 : 0;
}

/* Scans every segment; the last one stays open for appending. */
static int load_segments(struct fs_dlog *l, char *err, size_t errlen)
{
    char name[NAME_LEN];

    for (size_t i = 0; i < l->nsegs; i++) {
        struct seg *s = &l->segs[i];
        bool last = i + 1 == l->nsegs;
        int fd = openat(l->dirfd, segname(s->first, name), O_RDWR | O_CLOEXEC);

        if (fd < 0)
            return seg_fail(l, s->first, err, errlen, "%s", strerror(errno));
        cursor_set(l, i, fd);
        s->count = 0;
        if (scan_segment(l, s, fd, last, err, errlen) < 0)
            return -1;
        if (i > 0 && s[-1].first + s[-1].count > s->first)
            return seg_fail(l, s->first, err, errlen, "overlaps the segment before it");
        l->c.bytes += s->size;
        l->c.records += s->count;
        if (last)
            l->wfd = dup(fd);
        if (last && l->wfd < 0)
            return seg_fail(l, s->first, err, errlen, "%s", strerror(errno));
    }
    cursor_close(l);
    return 0;
}

struct fs_dlog *fs_dlog_open(const char *dir, const struct fs_dlog_opts *opts, char *err,
                             size_t errlen)
{
    struct fs_dlog *l = calloc(1, sizeof(*l));

    if (l == NULL || (l->dir = strdup(dir)) == NULL) {
        free(l);
        fail(err, errlen, "log %s: out of memory", dir);
        return NULL;
    }
    l->dirfd = l->lockfd = l->wfd = l->rfd = -1;
    crc_init(l->crctab);
    l->max_bytes = opts && opts->max_bytes ? opts->max_bytes : 64u << 20;
    l->segment_bytes = opts && opts->segment_bytes ? opts->segment_bytes : l->max_bytes / 16;
    if (!(opts && opts->segment_bytes) && l->segment_bytes < (64u << 10))
        l->segment_bytes = 64u << 10;
    if (l->segment_bytes > l->max_bytes)
        l->segment_bytes = l->max_bytes;

    if ((fs_daemon_mkparent(dir, NULL) < 0 || mkdir(dir, 0700) < 0) && errno != EEXIST) {
        fail(err, errlen, "log %s: cannot make the directory: %s", dir, strerror(errno));
        goto fail;
    }
    l->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (l->dirfd < 0) {
        fail(err, errlen, "log %s: %s", dir, strerror(errno));
        goto fail;
    }
    l->lockfd = openat(l->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (l->lockfd < 0 || flock(l->lockfd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            fail(err, errlen, "log %s is in use by another process", dir);
        else
            fail(err, errlen, "log %s: lock: %s", dir, strerror(errno));
        goto fail;
    }
    if (list_segments(l, err, errlen) < 0 || load_marks(l, err, errlen) < 0 ||
        load_segments(l, err, errlen) < 0)
        goto fail;
    if (l->nsegs == 0 && begin_segment(l, l->acked + 1, err, errlen) < 0)
        goto fail;
    if (l->acked >= fs_dlog_next(l))
        l->acked = fs_dlog_next(l) - 1; /* the records it covered are gone: never skip new ones */
    if (remove_acked(l, err, errlen) < 0 || make_room(l, 0, err, errlen) < 0 ||
        fs_dlog_sync(l, err, errlen) < 0)
        goto fail;
    return l;
fail:
    fs_dlog_close(l);
    return NULL;
}

void fs_dlog_close(struct fs_dlog *l)
{
    char err[8];

    if (l == NULL)
        return;
    if (l->wfd >= 0)
        fs_dlog_sync(l, err, sizeof(err));
    cursor_close(l);
    if (l->wfd >= 0)
        close(l->wfd);
    if (l->lockfd >= 0)
        close(l->lockfd);
    if (l->dirfd >= 0)
        close(l->dirfd);
    free(l->buf);
    free(l->segs);
    free(l->dir);
    free(l);
}

int fs_dlog_append(struct fs_dlog *l, const void *rec, size_t len, uint64_t *seq, char *err,
                   size_t errlen)
{
    uint8_t h[REC_HDR];
    struct iovec iov[2] = { { h, REC_HDR }, { (void *)rec, len } };
    struct seg *s = last_seg(l);
    ssize_t w;

    if (len > FS_DLOG_RECORD_MAX)
        return fail(err, errlen, "log %s: a record of %zu bytes is over the limit of %u", l->dir,
                    len, FS_DLOG_RECORD_MAX);
    if (s->count > 0 && s->size + REC_HDR + len > l->segment_bytes) {
        /* Synced now, so that fs_dlog_sync() need only sync the last one. */
        if (fsync(l->wfd) < 0)
            return seg_fail(l, s->first, err, errlen, "fsync: %s", strerror(errno));
        if (begin_segment(l, fs_dlog_next(l), err, errlen) < 0)
            return -1;
    }
    /* Room is made before writing, so that the bound holds even in between. */
    if (make_room(l, REC_HDR + len, err, errlen) < 0)
        return -1;
    s = last_seg(l);
    fs_put_be(h, len, 4);
    fs_put_be(h + 4, record_crc(l, h, rec, len), 4);
    w = pwritev(l->wfd, iov, 2, (off_t)s->size);
    if (w != (ssize_t)(REC_HDR + len)) {
        char why[128];

        snprintf(why, sizeof(why), "%s", w < 0 ? strerror(errno) : "short write");
        if (w > 0 && ftruncate(l->wfd, (off_t)s->size) < 0)
            return seg_fail(l, s->first, err, errlen, "write: %s, then cutting it back: %s",
                            why, strerror(errno));
        return seg_fail(l, s->first, err, errlen, "write: %s", why);
    }
    s->size += REC_HDR + len;
    s->count++;
    l->c.appended++;
    l->c.records++;
    l->c.bytes += REC_HDR + len;
    if (seq)
        *seq = s->first + s->count - 1;
    return 0;
}

int fs_dlog_sync(struct fs_dlog *l, char *err, size_t errlen)
{
    if (fsync(l->wfd) < 0)
        return seg_fail(l, last_seg(l)->first, err, errlen, "fsync: %s", strerror(errno));
    if (l->dir_dirty && fsync(l->dirfd) < 0)
        return fail(err, errlen, "log %s: fsync: %s", l->dir, strerror(errno));
    l->dir_dirty = false;
    return 0;
}

/* The segment that would hold `seq` (the last one starting at or before it). */
static size_t find_seg(const struct fs_dlog *l, uint64_t seq)
{
    size_t lo = 0, hi = l->nsegs - 1;

    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (l->segs[mid].first <= seq)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* Moves the cursor to record `seq` of segment `i`, walking the lengths from
 * where the cursor is when it is before `seq` in that segment already. */
static int seek_record(struct fs_dlog *l, size_t i, uint64_t seq, char *err, size_t errlen)
{
    char name[NAME_LEN];
    const uint8_t *p;

    segname(l->segs[i].first, name);
    if (l->rfd < 0 || l->rseg != i) {
        int fd = openat(l->dirfd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return seg_fail(l, l->segs[i].first, err, errlen, "%s", strerror(errno));
        cursor_set(l, i, fd);
    } else if (l->rseq > seq) {
        l->rseq = l->segs[i].first;
        l->roff = HDR_LEN;
    }
    while (l->rseq < seq) {
        int rc = fetch(l, l->roff, REC_HDR, l->segs[i].size, &p);
        if (rc < 0)
            return seg_fail(l, l->segs[i].first, err, errlen, "%s", strerror(errno));
        if (rc == 0 || l->roff + REC_HDR + fs_get_be(p, 4) > l->segs[i].size)
            return seg_fail(l, l->segs[i].first, err, errlen,
                            "record %" PRIu64 " damaged since open", l->rseq);
        l->roff += REC_HDR + fs_get_be(p, 4);
        l->rseq++;
    }
    return 0;
}

int fs_dlog_read(struct fs_dlog *l, uint64_t seq, const void **rec, size_t *len, char *err,
                 size_t errlen)
{
    const uint8_t *p;
    struct seg *s;
    int rc;

    if (seq < fs_dlog_first(l) || seq >= fs_dlog_next(l))
        return 0;
    if (l->rfd < 0 || seq != l->rseq ||
        seq >= l->segs[l->rseg].first + l->segs[l->rseg].count) {
        size_t i = find_seg(l, seq);
        if (seq >= l->segs[i].first + l->segs[i].count)
            return 0; /* cut at open */
        if (seek_record(l, i, seq, err, errlen) < 0)
            return -1;
    }
    s = &l->segs[l->rseg];
    rc = record_at(l, l->roff, s->size, &p, len);
    if (rc < 0)
        return seg_fail(l, s->first, err, errlen, "%s", strerror(errno));
    if (rc == 0)
        return seg_fail(l, s->first, err, errlen, "record %" PRIu64 " damaged since open", seq);
    l->roff += REC_HDR + *len;
    l->rseq++;
    *rec = p;
    return 1;
}

int fs_dlog_ack(struct fs_dlog *l, uint64_t seq, char *err, size_t errlen)
{
    char text[32];

    if (seq <= l->acked)
        return 0;
    if (seq >= fs_dlog_next(l))
        return fail(err, errlen, "log %s: cannot acknowledge %" PRIu64 ", the last record is %"
                    PRIu64, l->dir, seq, fs_dlog_next(l) - 1);
    snprintf(text, sizeof(text), "%" PRIu64 "\n", seq);
    if (write_small(l, "acked", text, err, errlen) < 0)
        return -1;
    l->acked = seq;
    return remove_acked(l, err, errlen);
}
