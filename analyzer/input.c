/*
 * input.c - the analyzer's flow reader: files (JSON lines, nfdump CSV,
 * captures) and the live flows bus, all ending in one batching sink.
 *
 * Text is read in large blocks and cut into lines in place, so a line costs
 * a memchr and its parser, nothing else; no allocation happens per line or
 * per flow. Lines longer than max_line are skipped without being buffered
 * whole, so a file of garbage cannot make the reader grow.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "flowout.h"
#include "input.h"
#include "log.h"
#include "pcapfile.h"

#define DEFAULT_BATCH 1024
#define DEFAULT_MAX_LINE (64 * 1024)
#define DEFAULT_BURST 10
#define DEFAULT_SENDERS 256
#define MIN_BLOCK (1024 * 1024)

struct fs_in {
    struct fs_in_opts o;
    fs_flow_sink sink;
    void *arg;

    struct fs_flow *batch;
    size_t nbatch;

    char *buf;                  /* text block */
    size_t cap;
    struct fs_nfcsv *csv;
    struct fs_decoder *dec;     /* made at the first capture */

    struct fs_bus *bus;
    struct fs_gap *gap;
    struct fs_in_sender *senders;
    size_t nsenders;
    uint64_t bus_logged;        /* bus problems seen, for the log limit */

    struct fs_in_stats totals;
};

/* One text input being read. */
struct text {
    struct fs_in *in;
    const char *name;
    enum fs_in_format fmt;
    struct fs_in_stats *st;
    uint64_t lineno;
    uint64_t bad_first, bad_last; /* line numbers of the first and last bad line */
};

static void in_log(struct fs_in *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void in_log(struct fs_in *in, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    in->o.log(in->o.log_arg, line);
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Past the first `burst`, only every power of ten is logged: an endless
 * stream of bad input shows, but cannot flood the log. */
static bool worth_logging(uint64_t n, unsigned burst)
{
    if (n <= burst)
        return true;
    while (n % 10 == 0)
        n /= 10;
    return n == 1;
}

const char *fs_in_format_name(enum fs_in_format f)
{
    switch (f) {
    case FS_IN_AUTO: return "auto";
    case FS_IN_JSON: return "json";
    case FS_IN_NFCSV: return "nfcsv";
    case FS_IN_PCAP: return "pcap";
    }
    return "?";
}

int fs_in_format_parse(const char *name, enum fs_in_format *f)
{
    static const enum fs_in_format all[] = { FS_IN_AUTO, FS_IN_JSON, FS_IN_NFCSV, FS_IN_PCAP };

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(name, fs_in_format_name(all[i])) == 0) {
            *f = all[i];
            return 0;
        }
    }
    if (strcmp(name, "csv") == 0) {
        *f = FS_IN_NFCSV;
        return 0;
    }
    return -1;
}

/* True when the first line of [p, end) has a comma-separated field `name`. */
static bool has_column(const char *p, const char *end, const char *name)
{
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t n = strlen(name);

    if (eol == NULL)
        eol = end;
    while (p < eol) {
        const char *comma = memchr(p, ',', (size_t)(eol - p));
        const char *stop = comma != NULL ? comma : eol;

        if ((size_t)(stop - p) == n && memcmp(p, name, n) == 0)
            return true;
        p = stop + 1;
    }
    return false;
}

enum fs_in_format fs_in_detect(const void *head, size_t len)
{
    static const uint8_t magics[][4] = {
        { 0xa1, 0xb2, 0xc3, 0xd4 }, { 0xd4, 0xc3, 0xb2, 0xa1 }, /* pcap, usec */
        { 0xa1, 0xb2, 0x3c, 0x4d }, { 0x4d, 0x3c, 0xb2, 0xa1 }, /* pcap, nsec */
        { 0x0a, 0x0d, 0x0d, 0x0a },                             /* pcapng */
    };
    const char *p = head, *end = p + len;

    if (len >= 4)
        for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
            if (memcmp(p, magics[i], 4) == 0)
                return FS_IN_PCAP;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    if (p < end && *p == '{')
        return FS_IN_JSON;
    if (end - p >= 3 && memcmp(p, "ts,", 3) == 0)
        return FS_IN_NFCSV;
    /* nfdump -q: rows start with "YYYY-MM-DD HH:MM:SS,". */
    if (end - p >= 20 && p[4] == '-' && p[7] == '-' && p[10] == ' ' && p[13] == ':' &&
        (p[19] == ',' || p[19] == '.'))
        return FS_IN_NFCSV;
    /* A header in another order: it names the address columns. */
    if (has_column(p, end, "sa") && has_column(p, end, "da"))
        return FS_IN_NFCSV;
    return FS_IN_AUTO;
}

static void log_default(void *arg, const char *line)
{
    fs_log_line(arg, line);
}

struct fs_in *fs_in_new(const struct fs_in_opts *o, fs_flow_sink sink, void *arg)
{
    struct fs_in *in = calloc(1, sizeof(*in));

    if (in == NULL)
        return NULL;
    if (o != NULL)
        in->o = *o;
    if (in->o.batch == 0)
        in->o.batch = DEFAULT_BATCH;
    if (in->o.max_line == 0)
        in->o.max_line = DEFAULT_MAX_LINE;
    if (in->o.log_burst == 0)
        in->o.log_burst = DEFAULT_BURST;
    if (in->o.log == NULL)
        in->o.log = log_default;
    if (in->o.decoder.log == NULL) {
        in->o.decoder.log = in->o.log;
        in->o.decoder.log_arg = in->o.log_arg;
    }
    if (in->o.max_senders == 0)
        in->o.max_senders = DEFAULT_SENDERS;
    in->sink = sink;
    in->arg = arg;
    in->cap = in->o.max_line * 2 > MIN_BLOCK ? in->o.max_line * 2 : MIN_BLOCK;
    in->batch = malloc(in->o.batch * sizeof(*in->batch));
    in->buf = malloc(in->cap);
    in->csv = fs_nfcsv_new(in->o.csv_tz);
    if (in->batch == NULL || in->buf == NULL || in->csv == NULL) {
        fs_in_free(in);
        return NULL;
    }
    return in;
}

void fs_in_free(struct fs_in *in)
{
    if (in == NULL)
        return;
    free(in->batch);
    free(in->buf);
    fs_nfcsv_free(in->csv);
    fs_decoder_free(in->dec);
    fs_bus_close(in->bus, 0);
    fs_gap_free(in->gap);
    free(in->senders);
    free(in);
}

const struct fs_in_stats *fs_in_totals(const struct fs_in *in)
{
    return &in->totals;
}

const struct fs_decoder *fs_in_decoder(const struct fs_in *in)
{
    return in->dec;
}

size_t fs_in_senders(const struct fs_in *in, const struct fs_in_sender **out)
{
    *out = in->senders;
    return in->nsenders;
}

static void add_stats(struct fs_in_stats *to, const struct fs_in_stats *from)
{
    to->files += from->files;
    to->bytes += from->bytes;
    to->lines += from->lines;
    to->records += from->records;
    to->flows += from->flows;
    to->skipped += from->skipped;
    to->malformed += from->malformed;
    to->too_long += from->too_long;
    to->truncated += from->truncated;
    to->failed += from->failed;
    to->lost += from->lost;
    to->reordered += from->reordered;
    to->duplicates += from->duplicates;
    to->restarts += from->restarts;
}

static void flush(struct fs_in *in)
{
    if (in->nbatch > 0) {
        in->sink(in->arg, in->batch, in->nbatch);
        in->nbatch = 0;
    }
}

/*
 * Text: one line at a time.
 */

static void malformed(struct text *t, const char *why)
{
    t->st->malformed++;
    if (t->bad_first == 0)
        t->bad_first = t->lineno;
    t->bad_last = t->lineno;
    if (t->st->malformed <= t->in->o.log_burst)
        in_log(t->in, "%s:%llu: %s", t->name, (unsigned long long)t->lineno, why);
}

/* Parses one line (no newline). Returns 1 for a flow, 0 for a line without
 * one, -1 for a bad line with the reason in `why`. */
static int parse_line(struct text *t, const char *line, size_t len, char *why, size_t whylen)
{
    struct fs_flow *f = &t->in->batch[t->in->nbatch];
    const char *p = line, *end = line + len;
    int rc;

    if (t->lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
        line += 3;
        len -= 3;
        p = line;
    }
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    if (p == end)
        return 0;
    if (t->fmt == FS_IN_JSON) {
        rc = fs_flow_parse_json(line, len, f, why, whylen) == 0 ? 1 : -1;
    } else {
        rc = fs_nfcsv_line(t->in->csv, line, len, f, why, whylen);
    }
    return rc;
}

static void text_line(struct text *t, const char *line, size_t len)
{
    char why[256];
    int rc;

    t->lineno++;
    t->st->lines++;
    rc = parse_line(t, line, len, why, sizeof(why));
    if (rc == 0) {
        t->st->skipped++;
        return;
    }
    t->st->records++;
    if (rc < 0) {
        malformed(t, why);
        return;
    }
    t->st->flows++;
    if (++t->in->nbatch == t->in->o.batch)
        flush(t->in);
}

/* The last line had no newline: a complete record is taken, anything else
 * is where the file was cut. Returns 0, or -1 when cut. */
static int text_last_line(struct text *t, const char *line, size_t len, char *err,
                          size_t errlen)
{
    char why[256];
    int rc;

    t->lineno++;
    t->st->lines++;
    rc = parse_line(t, line, len, why, sizeof(why));
    if (rc == 0) {
        t->st->skipped++;
        return 0;
    }
    if (rc > 0) {
        t->st->records++;
        t->st->flows++;
        if (++t->in->nbatch == t->in->o.batch)
            flush(t->in);
        return 0;
    }
    t->st->truncated++;
    seterr(err, errlen, "%s:%llu: file ends in the middle of a record (%s)", t->name,
           (unsigned long long)t->lineno, why);
    in_log(t->in, "%s", err);
    return -1;
}

static void too_long(struct text *t)
{
    char why[64];

    t->lineno++;
    t->st->lines++;
    t->st->records++;
    t->st->too_long++;
    snprintf(why, sizeof(why), "line longer than %zu bytes, skipped", t->in->o.max_line);
    malformed(t, why);
}

/* Hands every complete line of buf[0..len) on; returns the bytes used. */
static size_t text_lines(struct text *t, const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len, *nl;

    while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        if ((size_t)(nl - p) > t->in->o.max_line)
            too_long(t);
        else
            text_line(t, p, (size_t)(nl - p));
        p = nl + 1;
    }
    return (size_t)(p - buf);
}

static void text_begin(struct text *t, struct fs_in *in, const char *name,
                       enum fs_in_format fmt, struct fs_in_stats *st)
{
    memset(t, 0, sizeof(*t));
    t->in = in;
    t->name = name;
    t->fmt = fmt;
    t->st = st;
    fs_nfcsv_reset(in->csv);
}

static void text_end(struct text *t)
{
    flush(t->in);
    if (t->st->malformed > t->in->o.log_burst)
        in_log(t->in, "%s: %llu malformed lines in all (lines %llu to %llu), %llu not shown",
               t->name, (unsigned long long)t->st->malformed,
               (unsigned long long)t->bad_first, (unsigned long long)t->bad_last,
               (unsigned long long)(t->st->malformed - t->in->o.log_burst));
}

/*
 * Reads text from `fd`, of which the first `have` bytes are already in
 * in->buf. Returns 0, or -1 (read error, truncated) with `err` set.
 */
static int read_text(struct text *t, int fd, size_t have, char *err, size_t errlen)
{
    struct fs_in *in = t->in;
    bool skipping = false; /* inside a line longer than max_line */
    bool eof = false;

    for (;;) {
        size_t start = 0, used;

        if (skipping) {
            char *nl = memchr(in->buf, '\n', have);

            if (nl == NULL) {
                have = 0;
            } else {
                start = (size_t)(nl + 1 - in->buf);
                skipping = false;
            }
        }
        if (!skipping) {
            used = text_lines(t, in->buf + start, have - start);
            start += used;
            if (have - start > in->o.max_line) {
                too_long(t);
                skipping = true;
                start = have;
            }
            memmove(in->buf, in->buf + start, have - start);
            have -= start;
        }
        if (eof)
            break;
        for (;;) {
            ssize_t r = read(fd, in->buf + have, in->cap - have);

            if (r > 0) {
                have += (size_t)r;
                t->st->bytes += (uint64_t)r;
                break;
            }
            if (r == 0) {
                eof = true;
                break;
            }
            if (errno != EINTR) {
                seterr(err, errlen, "%s: line %llu: %s", t->name,
                       (unsigned long long)t->lineno + 1, strerror(errno));
                text_end(t);
                return -1;
            }
        }
    }
    if (!skipping && have > 0 && text_last_line(t, in->buf, have, err, errlen) < 0) {
        text_end(t);
        return -1;
    }
    text_end(t);
    return 0;
}

int fs_in_read_buffer(struct fs_in *in, const char *name, const void *buf, size_t len,
                      enum fs_in_format fmt, struct fs_in_stats *st, char *err,
                      size_t errlen)
{
    struct fs_in_stats local = { 0 };
    struct text t;
    size_t used;
    int ret = 0;

    if (fmt == FS_IN_AUTO)
        fmt = fs_in_detect(buf, len > 4096 ? 4096 : len);
    local.bytes = len;
    if (fmt == FS_IN_PCAP || (fmt == FS_IN_AUTO && len > 0)) {
        seterr(err, errlen, "%s: not JSON lines or nfdump CSV", name);
        local.failed++;
        ret = -1;
        goto out;
    }
    text_begin(&t, in, name, fmt, &local);
    used = text_lines(&t, buf, len);
    if (used < len && text_last_line(&t, (const char *)buf + used, len - used, err,
                                     errlen) < 0)
        ret = -1;
    text_end(&t);
out:
    local.files++;
    add_stats(&in->totals, &local);
    if (st != NULL)
        add_stats(st, &local);
    return ret;
}

/*
 * Captures: datagrams through the collector's decoder.
 */

struct capture {
    struct fs_in *in;
    struct fs_in_stats *st;
};

static void capture_flows(void *arg, const struct fs_flow *flows, size_t n)
{
    struct capture *c = arg;

    c->st->flows += n;
    c->in->sink(c->in->arg, flows, n);
}

static int capture_packet(void *arg, const struct fs_pcap_packet *pkt)
{
    struct capture *c = arg;

    c->st->records++;
    if (fs_decode(c->in->dec, &pkt->src, pkt->ts_ms, pkt->payload, pkt->len, capture_flows,
                  c) < 0)
        c->st->malformed++; /* the decoder logs the reason itself */
    return 0;
}

static int read_capture(struct fs_in *in, const char *path, struct fs_in_stats *st,
                        char *err, size_t errlen)
{
    struct capture c = { in, st };
    struct fs_pcap_stats pst;
    struct stat sb;

    if (in->dec == NULL && (in->dec = fs_decoder_new(&in->o.decoder)) == NULL) {
        seterr(err, errlen, "%s: out of memory", path);
        st->failed++;
        return -1;
    }
    if (stat(path, &sb) == 0)
        st->bytes += (uint64_t)sb.st_size;
    if (fs_pcap_read(path, capture_packet, &c, &pst, err, errlen) == 0)
        return 0;
    /* Damage after the start: the packets before it were decoded. */
    if (pst.packets > 0 || strstr(err, ": after ") != NULL)
        st->truncated++;
    else
        st->failed++;
    in_log(in, "%s", err);
    return -1;
}

int fs_in_read_file(struct fs_in *in, const char *path, enum fs_in_format fmt,
                    struct fs_in_stats *st, char *err, size_t errlen)
{
    struct fs_in_stats local = { 0 };
    bool is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "(stdin)" : path;
    size_t have = 0;
    int fd, ret = -1;
    struct text t;

    local.files++;
    fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        seterr(err, errlen, "%s: %s", name, strerror(errno));
        local.failed++;
        goto out;
    }
    /* Enough of the start to tell the format (a pipe gives it in pieces). */
    while (have < 4096) {
        ssize_t r = read(fd, in->buf + have, 4096 - have);

        if (r == 0)
            break;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            seterr(err, errlen, "%s: %s", name, strerror(errno));
            local.failed++;
            goto close;
        }
        have += (size_t)r;
        local.bytes += (uint64_t)r;
        if (memchr(in->buf, '\n', have) != NULL)
            break;
    }
    if (fmt == FS_IN_AUTO)
        fmt = fs_in_detect(in->buf, have);
    if (fmt == FS_IN_AUTO && have > 0) {
        seterr(err, errlen, "%s: not JSON lines, nfdump CSV or a pcap capture%s", name,
               have >= 2 && memcmp(in->buf, "\x1f\x8b", 2) == 0 ? " (gzip: uncompress it)"
                                                                  : "");
        local.failed++;
        goto close;
    }
    if (fmt == FS_IN_PCAP) {
        if (is_stdin) {
            seterr(err, errlen, "captures cannot be read from standard input");
            local.failed++;
            goto close;
        }
        close(fd);
        fd = -1;
        local.bytes = 0;
        ret = read_capture(in, path, &local, err, errlen);
        goto out;
    }
    text_begin(&t, in, name, fmt, &local);
    ret = read_text(&t, fd, have, err, errlen);
close:
    if (fd >= 0 && !is_stdin)
        close(fd);
out:
    add_stats(&in->totals, &local);
    if (st != NULL)
        add_stats(st, &local);
    return ret;
}

/*
 * Live: the flows bus.
 */

int fs_in_bus_open(struct fs_in *in, const char *const *endpoints, size_t n, char *err,
                   size_t errlen)
{
    if (in->bus != NULL) {
        seterr(err, errlen, "flows bus already open");
        return -1;
    }
    in->gap = fs_gap_new(in->o.max_senders);
    in->senders = calloc(in->o.max_senders, sizeof(*in->senders));
    if (in->gap == NULL || in->senders == NULL) {
        seterr(err, errlen, "out of memory");
        return -1;
    }
    /* The queue ahead of the analyzer is bounded like the sources' own: about
     * FS_FLOWOUT_QUEUE_FLOWS flows of full batches. */
    in->bus = fs_bus_sub(endpoints, n, fs_msg_type_name(FS_MSG_FLOWS),
                         FS_FLOWOUT_QUEUE_FLOWS / FS_FLOWOUT_BATCH, err, errlen);
    return in->bus != NULL ? 0 : -1;
}

static struct fs_in_sender *find_sender(struct fs_in *in, const char *name)
{
    for (size_t i = 0; i < in->nsenders; i++)
        if (strcmp(in->senders[i].name, name) == 0)
            return &in->senders[i];
    if (in->nsenders == in->o.max_senders)
        return NULL;
    snprintf(in->senders[in->nsenders].name, sizeof(in->senders[0].name), "%s", name);
    return &in->senders[in->nsenders++];
}

static void bus_log(struct fs_in *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bus_log(struct fs_in *in, const char *fmt, ...)
{
    char line[400];
    va_list ap;

    if (!worth_logging(++in->bus_logged, in->o.log_burst))
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    in_log(in, "flows bus: %s (problem %llu)", line, (unsigned long long)in->bus_logged);
}

int fs_in_bus_poll(struct fs_in *in, int timeout_ms, struct fs_in_stats *st)
{
    struct fs_in_stats local = { 0 };
    struct fs_in_sender *s;
    struct fs_bus_msg bm;
    struct fs_msg m;
    char why[256];
    uint64_t lost = 0;
    int rc;

    if (in->bus == NULL)
        return -1;
    rc = fs_bus_recv(in->bus, timeout_ms, &bm);
    if (rc <= 0)
        return rc;
    local.records++;
    local.bytes += bm.len;
    if (fs_msg_decode(bm.data, bm.len, &m, why, sizeof(why)) < 0) {
        local.malformed++;
        bus_log(in, "malformed message of %zu bytes: %s", bm.len, why);
        goto out;
    }
    if (m.type != FS_MSG_FLOWS) {
        local.skipped++;
        fs_msg_free(&m);
        goto out;
    }
    s = find_sender(in, m.sender);
    switch (fs_gap_check(in->gap, m.sender, m.type, m.seq, &lost)) {
    case FS_GAP_OK:
    case FS_GAP_NEW:
        break;
    case FS_GAP_LOST:
        local.lost += lost;
        if (s != NULL)
            s->lost += lost;
        bus_log(in, "%s: %llu messages lost before seq %llu", m.sender,
                (unsigned long long)lost, (unsigned long long)m.seq);
        break;
    case FS_GAP_REORDERED:
        local.reordered++;
        if (s != NULL)
            s->reordered++;
        break;
    case FS_GAP_DUPLICATE:
        local.duplicates++;
        if (s != NULL)
            s->duplicates++;
        bus_log(in, "%s: seq %llu seen twice", m.sender, (unsigned long long)m.seq);
        break;
    case FS_GAP_RESTART:
        local.restarts++;
        if (s != NULL)
            s->restarts++;
        bus_log(in, "%s: restarted (seq %llu)", m.sender, (unsigned long long)m.seq);
        break;
    }
    if (s != NULL) {
        s->messages++;
        s->flows += m.nflows;
    }
    local.flows += m.nflows;
    if (m.nflows > 0)
        in->sink(in->arg, m.flows, m.nflows);
    fs_msg_free(&m);
out:
    add_stats(&in->totals, &local);
    if (st != NULL)
        add_stats(st, &local);
    return 1;
}
