/*
 * tplstore.c - saving templates at shutdown and loading them at start, so
 * that data from exporters which only resend templates every few minutes
 * decodes at once after a restart. What the exporters said about their
 * domains (sampling rates, systemInitTimeMilliseconds) goes along with them.
 *
 * File format, all integers big-endian:
 *
 *   header   "FSTPL" 0 u16:format(1)
 *   records  u8:kind u32:body_length body u32:crc32(kind, length, body)
 *     'T'  template: exporter(u8 af, 16 bytes) u32 domain u16 version u16 id
 *          u8 options u16 nscope u16 nfields, then per field u16 id u16 len u32 pen
 *     'D'  domain:   exporter u32 domain u16 version u64 sys_init_ms
 *          u32 domain_rate u8 nsamplers, then per sampler u32 id u32 rate
 *     'E'  end:      u32 number of records before it
 *
 * Records are applied as they are read; the first bad one (checksum, bounds,
 * a template that does not compile) stops the load with -1, and so does a
 * missing end record (truncated file). The file is replaced whole
 * (atomicfile.h), so a crash leaves either the old file or the new one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomicfile.h"
#include "templates.h"

static const uint8_t magic[6] = { 'F', 'S', 'T', 'P', 'L', 0 };
#define FORMAT_VERSION 1
#define HEADER_LEN 8
#define ADDR_LEN 17
#define MAX_FILE (256u << 20) /* far beyond any real template set */

static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;

    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc >> 1 ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* A growing output buffer; `failed` once out of memory. */
struct outbuf {
    uint8_t *p;
    size_t len, cap;
    bool failed;
    uint32_t records;
};

static void put(struct outbuf *b, const void *data, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        uint8_t *p;

        while (cap < b->len + n)
            cap *= 2;
        p = realloc(b->p, cap);
        if (p == NULL) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put8(struct outbuf *b, uint8_t v) { put(b, &v, 1); }
static void put16(struct outbuf *b, uint16_t v)
{
    put8(b, (uint8_t)(v >> 8));
    put8(b, (uint8_t)v);
}
static void put32(struct outbuf *b, uint32_t v)
{
    put16(b, (uint16_t)(v >> 16));
    put16(b, (uint16_t)v);
}
static void put64(struct outbuf *b, uint64_t v)
{
    put32(b, (uint32_t)(v >> 32));
    put32(b, (uint32_t)v);
}

static void put_addr(struct outbuf *b, const fs_ip *ip)
{
    put8(b, ip->af);
    put(b, ip->b, 16);
}

/* Opens a record: returns where it starts, for end_record(). */
static size_t begin_record(struct outbuf *b, uint8_t kind)
{
    size_t start = b->len;

    put8(b, kind);
    put32(b, 0);
    return start;
}

static void end_record(struct outbuf *b, size_t start)
{
    size_t body;

    if (b->failed)
        return;
    body = b->len - start - 5;
    b->p[start + 1] = (uint8_t)(body >> 24);
    b->p[start + 2] = (uint8_t)(body >> 16);
    b->p[start + 3] = (uint8_t)(body >> 8);
    b->p[start + 4] = (uint8_t)body;
    put32(b, crc32(b->p + start, b->len - start));
    b->records++;
}

struct save_ctx {
    struct outbuf *b;
    const fs_ip *addr;
};

static void save_template(void *arg, const struct fs_tpl *t)
{
    struct save_ctx *s = arg;
    struct outbuf *b = s->b;
    size_t start = begin_record(b, 'T');

    put_addr(b, s->addr);
    put32(b, t->def.domain);
    put16(b, t->def.version);
    put16(b, t->def.id);
    put8(b, t->def.options);
    put16(b, t->def.nscope);
    put16(b, t->def.nfields);
    for (size_t i = 0; i < t->def.nfields; i++) {
        put16(b, t->def.fields[i].id);
        put16(b, t->def.fields[i].len);
        put32(b, t->def.fields[i].pen);
    }
    end_record(b, start);
}

static void save_domain(struct outbuf *b, const fs_ip *addr, const struct fs_domain *dom)
{
    size_t start = begin_record(b, 'D');

    put_addr(b, addr);
    put32(b, dom->id);
    put16(b, dom->version);
    put64(b, dom->sys_init_ms);
    put32(b, dom->sampling.domain_rate);
    put8(b, dom->sampling.nsamplers);
    for (unsigned i = 0; i < dom->sampling.nsamplers; i++) {
        put32(b, dom->sampling.samplers[i].id);
        put32(b, dom->sampling.samplers[i].rate);
    }
    end_record(b, start);
}

static void save_exporter(void *arg, struct fs_exporter *e)
{
    struct save_ctx s = { .b = arg, .addr = &e->addr };

    for (const struct fs_domain *dom = e->domains; dom; dom = dom->next)
        if (dom->version == 9 || dom->version == 10)
            save_domain(s.b, &e->addr, dom);
    fs_tpl_each(e->templates, save_template, &s);
}

int fs_decoder_save_templates(const struct fs_decoder *d, const char *path)
{
    struct outbuf b = { 0 };
    size_t start;
    int rc, e;

    put(&b, magic, sizeof(magic));
    put16(&b, FORMAT_VERSION);
    fs_decoder_each(d, save_exporter, &b);
    start = begin_record(&b, 'E');
    put32(&b, b.records);
    end_record(&b, start);
    if (b.failed) {
        free(b.p);
        errno = ENOMEM;
        return -1;
    }
    rc = fs_atomic_write(path, b.p, b.len, 0644, NULL, 0); /* the caller reports errno */
    e = errno;
    free(b.p);
    errno = e;
    return rc;
}

/* A bounded reader over one record body; `bad` once a read would overrun. */
struct in {
    const uint8_t *p;
    size_t len, off;
    bool bad;
};

static const uint8_t *take(struct in *r, size_t n)
{
    const uint8_t *p;

    if (r->bad || r->len - r->off < n) {
        r->bad = true;
        return NULL;
    }
    p = r->p + r->off;
    r->off += n;
    return p;
}

static uint8_t get8(struct in *r) { const uint8_t *p = take(r, 1); return p ? p[0] : 0; }
static uint16_t get16(struct in *r) { const uint8_t *p = take(r, 2); return p ? fs_get16(p) : 0; }
static uint32_t get32(struct in *r) { const uint8_t *p = take(r, 4); return p ? fs_get32(p) : 0; }
static uint64_t get64(struct in *r) { const uint8_t *p = take(r, 8); return p ? fs_get64(p) : 0; }

static bool get_addr(struct in *r, fs_ip *ip)
{
    const uint8_t *p;

    ip->af = get8(r);
    p = take(r, 16);
    if (p == NULL || (ip->af != 4 && ip->af != 6))
        return false;
    memcpy(ip->b, p, 16);
    return true;
}

static int load_template(struct fs_decoder *d, struct in *r)
{
    struct fs_tpl_field *fields = NULL;
    struct fs_tpl_def def;
    struct fs_exporter *e;
    const char *why;
    bool evicted;
    fs_ip addr;
    int rc = -1;

    if (!get_addr(r, &addr))
        return -1;
    def.domain = get32(r);
    def.version = get16(r);
    def.id = get16(r);
    def.options = get8(r) != 0;
    def.nscope = get16(r);
    def.nfields = get16(r);
    if (r->bad || (def.version != 9 && def.version != 10) || def.id < 256 ||
        def.nscope > def.nfields || def.nfields > FS_TPL_MAX_FIELDS ||
        r->len - r->off != (size_t)def.nfields * 8)
        return -1;
    fields = malloc((size_t)def.nfields * sizeof(*fields) + 1);
    if (fields == NULL)
        return -1;
    for (size_t i = 0; i < def.nfields; i++) {
        fields[i].id = get16(r);
        fields[i].len = get16(r);
        fields[i].pen = get32(r);
    }
    def.fields = fields;
    e = fs_decoder_exporter(d, &addr, 0);
    if (e == NULL)
        goto out;
    if (e->templates == NULL)
        e->templates = fs_tpl_table_new(fs_decoder_config(d)->max_templates);
    if (e->templates && fs_tpl_put(e->templates, &def, &why, &evicted) >= 0)
        rc = 0;
out:
    free(fields);
    return rc;
}

static int load_domain(struct fs_decoder *d, struct in *r)
{
    struct fs_decode_ctx *c = fs_decoder_ctx(d);
    struct fs_domain *dom;
    uint32_t id, rate;
    uint16_t version;
    uint64_t sys_init;
    unsigned n;
    fs_ip addr;

    if (!get_addr(r, &addr))
        return -1;
    id = get32(r);
    version = get16(r);
    sys_init = get64(r);
    rate = get32(r);
    n = get8(r);
    if (r->bad || (version != 9 && version != 10) || n > FS_SAMPLERS_MAX ||
        r->len - r->off != (size_t)n * 8)
        return -1;
    c->exp = fs_decoder_exporter(d, &addr, 0);
    if (c->exp == NULL || (dom = fs_ctx_domain(c, id, version)) == NULL)
        return -1;
    dom->sys_init_ms = sys_init;
    if (rate)
        fs_sampling_set(dom, false, 0, rate);
    for (unsigned i = 0; i < n; i++) {
        uint32_t sid = get32(r), srate = get32(r);
        if (srate)
            fs_sampling_set(dom, true, sid, srate);
    }
    return 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    struct stat st;

    if (f == NULL)
        return NULL;
    if (fstat(fileno(f), &st) < 0)
        goto fail;
    if (st.st_size < 0 || (uint64_t)st.st_size > MAX_FILE) {
        errno = EFBIG;
        goto fail;
    }
    *len = (size_t)st.st_size;
    buf = malloc(*len + 1);
    if (buf == NULL || fread(buf, 1, *len, f) != *len) {
        if (buf)
            errno = EIO;
        goto fail;
    }
    fclose(f);
    return buf;
fail:
    free(buf);
    fclose(f);
    return NULL;
}

static int load_record(struct fs_decoder *d, uint8_t kind, struct in *r)
{
    switch (kind) {
    case 'T': return load_template(d, r);
    case 'D': return load_domain(d, r);
    default: return -1;
    }
}

int fs_decoder_load_templates(struct fs_decoder *d, const char *path)
{
    size_t len, off = HEADER_LEN;
    uint32_t records = 0;
    uint8_t *buf = read_file(path, &len);
    int rc = -1;

    if (buf == NULL)
        return -1;
    if (len < HEADER_LEN || memcmp(buf, magic, sizeof(magic)) != 0 ||
        fs_get16(buf + sizeof(magic)) != FORMAT_VERSION)
        goto out;
    while (len - off >= 9) {
        uint8_t kind = buf[off];
        size_t body = fs_get32(buf + off + 1);
        struct in r;

        if (body > len - off - 9 ||
            crc32(buf + off, 5 + body) != fs_get32(buf + off + 5 + body))
            break;
        r = (struct in){ .p = buf + off + 5, .len = body };
        if (kind == 'E') {
            if (body == 4 && get32(&r) == records && off + 9 + body == len)
                rc = 0;
            break;
        }
        if (load_record(d, kind, &r) < 0)
            break;
        records++;
        off += 9 + body;
    }
out:
    free(buf);
    if (rc < 0)
        errno = EINVAL;
    return rc;
}
