/*
 * follow.c - tail -F for log files (see follow.h).
 *
 * The file is identified by (device, inode) of the descriptor we hold, and
 * the name is looked up again at each poll once the descriptor is at its
 * end: a different inode means a rotation, a size below our offset means a
 * truncation. Reading always finishes the old file before switching, since
 * a writer may append to it between the rename and its reopening (Suricata
 * waits for a SIGHUP; logrotate's postrotate sends it).
 *
 * Lines that end within one read are handed out straight from the read
 * buffer; only a line cut by the end of a read is copied, into the carried
 * line buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "follow.h"

#define READ_CHUNK 65536

struct fs_follow {
    char *path;
    char *dir; /* watched with inotify */
    size_t max_line, max_read;
    unsigned interval_ms;
    bool from_end;
    void (*log)(void *arg, bool problem, const char *line);
    void *log_arg;

    int fd;          /* -1 when no file is open */
    dev_t dev;
    ino_t ino;
    off_t off;       /* bytes consumed from fd */
    bool polled;     /* a poll has run: from_end no longer applies */
    bool pending;    /* the last poll stopped at max_read */
    int last_errno;  /* logged once until it changes */

    char *line;      /* carried unterminated line (max_line bytes) */
    size_t line_len;
    bool skipping;   /* inside a line already found too long */
    bool too_long_logged; /* during this poll */

    char *rbuf;

    int ifd, wd;     /* inotify instance and directory watch */

    struct fs_follow_counters c;
};

static void say(struct fs_follow *fw, bool problem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(struct fs_follow *fw, bool problem, const char *fmt, ...)
{
    char msg[512];
    int n;
    va_list ap;

    if (!fw->log)
        return;
    n = snprintf(msg, sizeof(msg), "following %s: ", fw->path);
    if (n < 0 || (size_t)n >= sizeof(msg))
        n = 0;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    fw->log(fw->log_arg, problem, msg);
}

/* Logs an errno once, until a different one (or success) comes. */
static void fail(struct fs_follow *fw, const char *what, int err)
{
    fw->c.errors++;
    if (err != fw->last_errno)
        say(fw, true, "%s: %s", what, strerror(err));
    fw->last_errno = err;
}

static void watch(struct fs_follow *fw)
{
    if (fw->ifd >= 0 && fw->wd < 0)
        fw->wd = inotify_add_watch(fw->ifd, fw->dir,
                                   IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
                                       IN_DELETE | IN_CLOSE_WRITE | IN_ATTRIB);
}

struct fs_follow *fs_follow_new(const struct fs_follow_config *cfg)
{
    struct fs_follow *fw;
    const char *slash;

    if (!cfg->path || !cfg->path[0])
        return NULL;
    fw = calloc(1, sizeof(*fw));
    if (!fw)
        return NULL;
    fw->fd = fw->ifd = fw->wd = -1;
    fw->max_line = cfg->max_line ? cfg->max_line : 65536;
    fw->max_read = cfg->max_read ? cfg->max_read : 1 << 20;
    fw->interval_ms = cfg->interval_ms ? cfg->interval_ms : 250;
    fw->from_end = cfg->from_end;
    fw->log = cfg->log;
    fw->log_arg = cfg->log_arg;
    fw->path = strdup(cfg->path);
    slash = strrchr(cfg->path, '/');
    fw->dir = slash ? strndup(cfg->path, slash == cfg->path ? 1 : (size_t)(slash - cfg->path))
                    : strdup(".");
    fw->line = malloc(fw->max_line);
    fw->rbuf = malloc(READ_CHUNK);
    if (!fw->path || !fw->dir || !fw->line || !fw->rbuf) {
        fs_follow_free(fw);
        return NULL;
    }
    if (cfg->inotify) {
        fw->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        watch(fw);
    }
    return fw;
}

void fs_follow_free(struct fs_follow *fw)
{
    if (!fw)
        return;
    if (fw->fd >= 0)
        close(fw->fd);
    if (fw->ifd >= 0)
        close(fw->ifd);
    free(fw->path);
    free(fw->dir);
    free(fw->line);
    free(fw->rbuf);
    free(fw);
}

int fs_follow_fd(const struct fs_follow *fw)
{
    return fw->ifd;
}

unsigned fs_follow_timeout_ms(const struct fs_follow *fw)
{
    return fw->pending ? 0 : fw->interval_ms;
}

bool fs_follow_is_open(const struct fs_follow *fw)
{
    return fw->fd >= 0;
}

const struct fs_follow_counters *fs_follow_counters(const struct fs_follow *fw)
{
    return &fw->c;
}

static void deliver(struct fs_follow *fw, const char *s, size_t n, fs_follow_fn fn, void *arg)
{
    if (n && s[n - 1] == '\r')
        n--;
    fw->c.lines++;
    fn(arg, s, n);
}

/* Forgets the carried line: the file it came from is gone or rewritten. */
static void drop_partial(struct fs_follow *fw)
{
    if (fw->line_len || fw->skipping) {
        fw->c.partial_dropped++;
        say(fw, true, "unterminated last line dropped (%zu bytes kept of it)", fw->line_len);
    }
    fw->line_len = 0;
    fw->skipping = false;
}

static void too_long(struct fs_follow *fw)
{
    fw->c.too_long++;
    if (!fw->too_long_logged)
        say(fw, true, "line longer than %zu bytes dropped", fw->max_line);
    fw->too_long_logged = true;
    fw->line_len = 0;
}

/* Splits freshly read bytes into lines. */
static size_t split(struct fs_follow *fw, const char *p, size_t n, fs_follow_fn fn, void *arg)
{
    const char *end = p + n;
    size_t lines = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t seg = (size_t)((nl ? nl : end) - p);

        if (fw->skipping) {
            fw->skipping = nl == NULL;
        } else if (fw->line_len + seg > fw->max_line) {
            too_long(fw);
            fw->skipping = nl == NULL;
        } else if (nl && fw->line_len == 0) {
            deliver(fw, p, seg, fn, arg);
            lines++;
        } else {
            memcpy(fw->line + fw->line_len, p, seg);
            fw->line_len += seg;
            if (nl) {
                deliver(fw, fw->line, fw->line_len, fn, arg);
                fw->line_len = 0;
                lines++;
            }
        }
        p = nl ? nl + 1 : end;
    }
    return lines;
}

/* Reads to the end of the open file or of the budget. */
static size_t drain(struct fs_follow *fw, size_t *budget, fs_follow_fn fn, void *arg)
{
    size_t lines = 0;

    while (*budget > 0) {
        size_t want = *budget < READ_CHUNK ? *budget : READ_CHUNK;
        ssize_t n = read(fw->fd, fw->rbuf, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN) /* a pipe with nothing in it yet */
                fail(fw, "read", errno);
            break;
        }
        if (n == 0)
            break;
        fw->off += n;
        fw->c.bytes += (uint64_t)n;
        *budget -= (size_t)n;
        lines += split(fw, fw->rbuf, (size_t)n, fn, arg);
    }
    return lines;
}

/* Opens the file under the name, if there is one. */
static void open_file(struct fs_follow *fw)
{
    struct stat st;
    int fd = open(fw->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0) {
        if (errno != ENOENT)
            fail(fw, "open", errno);
        return;
    }
    if (fstat(fd, &st) != 0) {
        fail(fw, "fstat", errno);
        close(fd);
        return;
    }
    fw->fd = fd;
    fw->dev = st.st_dev;
    fw->ino = st.st_ino;
    fw->off = 0;
    fw->last_errno = 0;
    fw->c.opens++;
    if (fw->from_end && !fw->polled && st.st_size > 0) {
        char last;
        /* Skip to the end; if that is inside a line, skip its rest too. */
        fw->off = lseek(fd, 0, SEEK_END);
        if (fw->off < 0) {
            fail(fw, "lseek", errno);
            fw->off = 0;
            lseek(fd, 0, SEEK_SET);
        } else if (pread(fd, &last, 1, fw->off - 1) == 1 && last != '\n') {
            fw->skipping = true;
        }
        say(fw, false, "opened, skipping the %lld bytes already there", (long long)fw->off);
    } else {
        say(fw, false, "opened");
    }
}

/* At the end of the open file: has it been truncated or replaced? Returns
 * true when reading should go on (from the start, or in a new file). */
static bool check_file(struct fs_follow *fw, size_t *budget, size_t *lines, fs_follow_fn fn,
                       void *arg)
{
    struct stat st;

    if (fstat(fw->fd, &st) == 0 && st.st_size < fw->off) {
        fw->c.truncations++;
        say(fw, false, "truncated (%lld bytes, %lld read): reading from the start",
            (long long)st.st_size, (long long)fw->off);
        drop_partial(fw);
        if (lseek(fw->fd, 0, SEEK_SET) == 0)
            fw->off = 0;
        return true;
    }
    if (stat(fw->path, &st) != 0) {
        if (errno != ENOENT)
            fail(fw, "stat", errno);
        return false; /* renamed away: keep reading the old file for now */
    }
    if (st.st_dev == fw->dev && st.st_ino == fw->ino)
        return false;

    /* A new file under the name: finish the old one first. */
    *lines += drain(fw, budget, fn, arg);
    if (*budget == 0)
        return false; /* more of the old file next time */
    fw->c.rotations++;
    say(fw, false, "replaced by a new file (rotated)");
    drop_partial(fw);
    close(fw->fd);
    fw->fd = -1;
    open_file(fw);
    return fw->fd >= 0;
}

size_t fs_follow_poll(struct fs_follow *fw, fs_follow_fn fn, void *arg)
{
    size_t budget = fw->max_read, lines = 0;
    char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;

    /* The events only wake the caller; what changed is found out below.
     * A watch that went away with its directory is set up again. */
    while (fw->ifd >= 0 && (n = read(fw->ifd, ev, sizeof(ev))) > 0) {
        for (ssize_t i = 0; i + (ssize_t)sizeof(struct inotify_event) <= n;) {
            const struct inotify_event *e = (const struct inotify_event *)(ev + i);
            if (e->mask & IN_IGNORED)
                fw->wd = -1;
            i += (ssize_t)(sizeof(*e) + e->len);
        }
    }
    watch(fw);
    fw->too_long_logged = false;
    if (fw->fd < 0)
        open_file(fw);
    fw->polled = true;
    if (fw->fd < 0) {
        fw->pending = false;
        return 0;
    }
    /* Bounded: each extra round follows a truncation or a new file, and
     * they cannot go on within one poll's budget forever. */
    for (int round = 0; round < 4 && fw->fd >= 0; round++) {
        lines += drain(fw, &budget, fn, arg);
        if (budget == 0 || !check_file(fw, &budget, &lines, fn, arg))
            break;
    }
    fw->pending = budget == 0;
    return lines;
}

void fs_follow_flush(struct fs_follow *fw, fs_follow_fn fn, void *arg)
{
    if (fw->line_len && !fw->skipping)
        deliver(fw, fw->line, fw->line_len, fn, arg);
    fw->line_len = 0;
    fw->skipping = false;
}
