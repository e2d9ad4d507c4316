/*
 * detrun.c - the analyzer harness of the detector tests (see detrun.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detrun.h"
#include "log.h"

static void die(const char *what, const char *why)
{
    fprintf(stderr, "detrun: %s: %s\n", what, why);
    abort();
}

static fs_ip ip_of(const char *text)
{
    fs_ip a;

    if (fs_ip_parse(text, &a) != 0)
        die("bad address", text);
    return a;
}

static void sink(void *arg, const struct fs_anomaly *a)
{
    struct detrun *r = arg;

    if (r->nfound == r->capfound) {
        r->capfound = r->capfound ? 2 * r->capfound : 64;
        r->found = realloc(r->found, r->capfound * sizeof(*r->found));
        if (!r->found)
            die("anomalies", "out of memory");
    }
    r->found[r->nfound++] = *a;
}

void detrun_init(struct detrun *r, const char *const *opts)
{
    char err[256];

    memset(r, 0, sizeof(*r));
    fs_an_config_init(&r->cfg);
    if (fs_an_config_set(&r->cfg, "home-net", "10.0.0.0/8", err, sizeof(err)) != 0 ||
        fs_an_config_set(&r->cfg, "warmup", "0", err, sizeof(err)) != 0)
        die("config", err);
    for (size_t i = 0; opts && opts[i]; i += 2) {
        if (!opts[i + 1])
            die("config", "odd number of option words");
        if (fs_an_config_set(&r->cfg, opts[i], opts[i + 1], err, sizeof(err)) != 0)
            die(opts[i], err);
    }
    if (fs_an_config_check(&r->cfg, err, sizeof(err)) != 0)
        die("config check", err);
    r->an = fs_analyzer_new(&r->cfg, sink, r, err, sizeof(err));
    if (!r->an)
        die("analyzer", err);
}

void detrun_free(struct detrun *r)
{
    fs_analyzer_free(r->an);
    fs_an_config_free(&r->cfg);
    free(r->flows);
    free(r->found);
    memset(r, 0, sizeof(*r));
}

void detrun_flow(struct detrun *r, const char *src, uint16_t sport, const char *dst,
                 uint16_t dport, uint8_t proto, uint64_t start_ms, uint64_t dur_ms,
                 uint64_t packets, uint64_t bytes, int flags)
{
    if (r->nflows == r->capflows) {
        r->capflows = r->capflows ? 2 * r->capflows : 1024;
        r->flows = realloc(r->flows, r->capflows * sizeof(*r->flows));
        if (!r->flows)
            die("flows", "out of memory");
    }
    struct fs_flow *f = &r->flows[r->nflows++];

    fs_flow_init(f);
    f->version = 10;
    f->exporter = ip_of("192.0.2.1");
    f->src_addr = ip_of(src);
    f->dst_addr = ip_of(dst);
    f->src_port = sport;
    f->dst_port = dport;
    f->proto = proto;
    f->start_ms = start_ms;
    f->end_ms = start_ms + dur_ms;
    f->packets = packets;
    f->bytes = bytes;
    FS_FLOW_SET(f, FS_F_SRC_ADDR);
    FS_FLOW_SET(f, FS_F_DST_ADDR);
    FS_FLOW_SET(f, FS_F_SRC_PORT);
    FS_FLOW_SET(f, FS_F_DST_PORT);
    FS_FLOW_SET(f, FS_F_PROTO);
    FS_FLOW_SET(f, FS_F_START);
    FS_FLOW_SET(f, FS_F_END);
    FS_FLOW_SET(f, FS_F_PACKETS);
    FS_FLOW_SET(f, FS_F_BYTES);
    if (flags >= 0) {
        f->tcp_flags = (uint8_t)flags;
        FS_FLOW_SET(f, FS_F_TCP_FLAGS);
    }
}

struct order {
    uint64_t end;
    size_t pos;
};

/* qsort is not stable: ties go by queue position. */
static int by_end(const void *a, const void *b)
{
    const struct order *x = a, *y = b;

    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

void detrun_feed(struct detrun *r)
{
    struct order *order = malloc((r->nflows + 1) * sizeof(*order));
    struct fs_flow *sorted = malloc((r->nflows + 1) * sizeof(*sorted));

    if (!order || !sorted)
        die("feed", "out of memory");
    for (size_t i = 0; i < r->nflows; i++) {
        order[i].end = r->flows[i].end_ms;
        order[i].pos = i;
    }
    qsort(order, r->nflows, sizeof(*order), by_end);
    for (size_t i = 0; i < r->nflows; i++)
        sorted[i] = r->flows[order[i].pos];
    fs_analyzer_feed(r->an, sorted, r->nflows);
    free(order);
    free(sorted);
    r->nflows = 0;
}

void detrun_finish(struct detrun *r)
{
    detrun_feed(r);
    fs_analyzer_finish(r->an);
}

static bool matches(const struct fs_anomaly *a, enum fs_anomaly_class cls, const char *host,
                    const char *peer)
{
    char h[FS_IP_STRLEN], p[FS_IP_STRLEN];

    if (a->cls != cls)
        return false;
    if (host && strcmp(fs_ip_format(&a->host, h), host) != 0)
        return false;
    return !peer || strcmp(fs_ip_format(&a->peer, p), peer) == 0;
}

size_t detrun_count(const struct detrun *r, enum fs_anomaly_class cls, const char *host,
                    const char *peer)
{
    size_t n = 0;

    for (size_t i = 0; i < r->nfound; i++)
        n += matches(&r->found[i], cls, host, peer);
    return n;
}

size_t detrun_count_class(const struct detrun *r, enum fs_anomaly_class cls)
{
    return detrun_count(r, cls, NULL, NULL);
}

const struct fs_anomaly *detrun_find(const struct detrun *r, enum fs_anomaly_class cls,
                                     const char *host, const char *peer)
{
    for (size_t i = 0; i < r->nfound; i++)
        if (matches(&r->found[i], cls, host, peer))
            return &r->found[i];
    return NULL;
}

double detrun_extra(const struct fs_anomaly *a, const char *key)
{
    for (unsigned i = 0; i < a->nextra && i < FS_ANOMALY_EXTRA; i++)
        if (strcmp(a->extra[i].key, key) == 0)
            return a->extra[i].value;
    return NAN;
}

void detrun_dump(const struct detrun *r)
{
    char buf[FS_ANOMALY_JSON_MAX];

    for (size_t i = 0; i < r->nfound; i++)
        if (fs_anomaly_json(&r->found[i], buf, sizeof(buf)) > 0)
            fprintf(stderr, "%s\n", buf);
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = n; i > 0; i--)
        v = v << 8 | p[i - 1];
    return v;
}

uint8_t *detrun_detector_state(struct detrun *r, const char *name, size_t *len)
{
    char path[] = "/tmp/fs-detrun-XXXXXX", err[256];
    int fd = mkstemp(path);
    uint8_t *file = NULL, *out = NULL;
    long size;
    FILE *fp;

    if (fd < 0)
        die("snapshot", "mkstemp");
    close(fd);
    if (fs_analyzer_save(r->an, path, err, sizeof(err)) != 0)
        die("snapshot", err);
    if ((fp = fopen(path, "rb")) == NULL || fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 64)
        die("snapshot", "cannot read it back");
    rewind(fp);
    if ((file = malloc((size_t)size)) == NULL || fread(file, 1, (size_t)size, fp) != (size_t)size)
        die("snapshot", "cannot read it back");
    fclose(fp);
    unlink(path);
    /* Header (its size at offset 12), then records: tag, u32 length, payload;
     * a detector's payload is its name's length, its name, its bytes. */
    size_t off = (size_t)get_le(file + 12, 4), nlen = strlen(name);

    while (off + 5 <= (size_t)size) {
        size_t rlen = (size_t)get_le(file + off + 1, 4);

        if (off + 5 + rlen > (size_t)size)
            break;
        const uint8_t *p = file + off + 5;

        if (file[off] == 'D' && rlen > 1 + nlen && p[0] == nlen && memcmp(p + 1, name, nlen) == 0) {
            *len = rlen - 1 - nlen;
            if ((out = malloc(*len)) == NULL)
                die("snapshot", "out of memory");
            memcpy(out, p + 1 + nlen, *len);
            break;
        }
        off += 5 + rlen;
    }
    free(file);
    if (!out)
        die("snapshot", "no state for the detector");
    return out;
}

int detrun_load_state(struct detrun *r, const struct fs_detector *d, const uint8_t *p,
                      size_t len)
{
    void *st = d->create(r->an);
    FILE *fp = fmemopen((void *)p, len ? len : 1, "rb");
    int rc;

    if (!st || !fp)
        die("load", "out of memory");
    rc = len ? d->load(st, fp) : -1;
    fclose(fp);
    d->destroy(st);
    return rc;
}

size_t detrun_corrupt_state(struct detrun *r, const struct fs_detector *d, const uint8_t *p,
                            size_t len)
{
    uint8_t *copy = malloc(len);
    size_t accepted = 0;

    if (!copy)
        die("corrupt", "out of memory");
    /* Thousands of refusals, each logged: keep the test's output readable. */
    enum fs_log_level level = fs_log_get_level();

    fs_log_set_level(FS_LOG_ERROR);
    for (size_t cut = 0; cut < len; cut += cut < 64 ? 1 : len / 64 + 1)
        accepted += detrun_load_state(r, d, p, cut) == 0;
    /* Every byte of a small state, an even spread of a large one. */
    for (size_t i = 0; i < len; i += len <= 4096 ? 1 : len / 4096 + 1) {
        memcpy(copy, p, len);
        copy[i] ^= (uint8_t)(0x01u << (i % 8));
        accepted += detrun_load_state(r, d, copy, len) == 0;
    }
    fs_log_set_level(level);
    free(copy);
    return accepted;
}
