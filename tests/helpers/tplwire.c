/*
 * tplwire.c - builds NetFlow v9 and IPFIX messages for tests (see tplwire.h).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tplwire.h"

static void at16(struct tw_buf *w, size_t off, uint16_t v)
{
    w->b[off] = (uint8_t)(v >> 8);
    w->b[off + 1] = (uint8_t)v;
}

void tw_bytes(struct tw_buf *w, const void *p, size_t n)
{
    if (w->len + n > TW_MAX)
        abort();
    memcpy(w->b + w->len, p, n);
    w->len += n;
}

void tw_zero(struct tw_buf *w, size_t n)
{
    if (w->len + n > TW_MAX)
        abort();
    memset(w->b + w->len, 0, n);
    w->len += n;
}

void tw_u8(struct tw_buf *w, uint8_t v) { tw_bytes(w, &v, 1); }
void tw_u16(struct tw_buf *w, uint16_t v) { tw_u8(w, (uint8_t)(v >> 8)); tw_u8(w, (uint8_t)v); }
void tw_u24(struct tw_buf *w, uint32_t v) { tw_u8(w, (uint8_t)(v >> 16)); tw_u16(w, (uint16_t)v); }
void tw_u32(struct tw_buf *w, uint32_t v)
{
    tw_u16(w, (uint16_t)(v >> 16));
    tw_u16(w, (uint16_t)v);
}
void tw_u64(struct tw_buf *w, uint64_t v)
{
    tw_u32(w, (uint32_t)(v >> 32));
    tw_u32(w, (uint32_t)v);
}

void tw_ip(struct tw_buf *w, const char *text)
{
    fs_ip ip = tw_addr(text);

    tw_bytes(w, ip.b, ip.af == 4 ? 4 : 16);
}

void tw_v9(struct tw_buf *w, uint16_t count, uint32_t uptime_ms, uint32_t unix_secs,
           uint32_t seq, uint32_t source_id)
{
    w->len = 0;
    w->set = 0;
    w->version = 9;
    tw_u16(w, 9);
    tw_u16(w, count);
    tw_u32(w, uptime_ms);
    tw_u32(w, unix_secs);
    tw_u32(w, seq);
    tw_u32(w, source_id);
}

void tw_ipfix(struct tw_buf *w, uint32_t export_secs, uint32_t seq, uint32_t domain)
{
    w->len = 0;
    w->set = 0;
    w->version = 10;
    tw_u16(w, 10);
    tw_u16(w, 0);
    tw_u32(w, export_secs);
    tw_u32(w, seq);
    tw_u32(w, domain);
}

void tw_set(struct tw_buf *w, uint16_t id)
{
    tw_set_end(w);
    w->set = w->len;
    tw_u16(w, id);
    tw_u16(w, 0);
}

void tw_set_end(struct tw_buf *w)
{
    if (w->set)
        at16(w, w->set + 2, (uint16_t)(w->len - w->set));
    w->set = 0;
}

void tw_end(struct tw_buf *w)
{
    tw_set_end(w);
    if (w->version == 10)
        at16(w, 2, (uint16_t)w->len);
}

void tw_field(struct tw_buf *w, uint16_t id, uint16_t len)
{
    tw_u16(w, id);
    tw_u16(w, len);
}

void tw_efield(struct tw_buf *w, uint16_t id, uint16_t len, uint32_t pen)
{
    tw_u16(w, (uint16_t)(id | 0x8000u));
    tw_u16(w, len);
    tw_u32(w, pen);
}

void tw_template(struct tw_buf *w, uint16_t id, size_t n, const uint16_t (*fields)[2])
{
    tw_u16(w, id);
    tw_u16(w, (uint16_t)n);
    for (size_t i = 0; i < n; i++)
        tw_field(w, fields[i][0], fields[i][1]);
}

void tw_options(struct tw_buf *w, uint16_t id, size_t nscope, size_t n,
                const uint16_t (*fields)[2])
{
    tw_u16(w, id);
    if (w->version == 9) {
        tw_u16(w, (uint16_t)(4 * nscope));
        tw_u16(w, (uint16_t)(4 * (n - nscope)));
    } else {
        tw_u16(w, (uint16_t)n);
        tw_u16(w, (uint16_t)nscope);
    }
    for (size_t i = 0; i < n; i++)
        tw_field(w, fields[i][0], fields[i][1]);
}

void tw_sink_fn(void *arg, const struct fs_flow *flows, size_t n)
{
    struct tw_sink *s = arg;

    for (size_t i = 0; i < n && s->n < TW_SINK_MAX; i++)
        s->flows[s->n++] = flows[i];
}

fs_ip tw_addr(const char *text)
{
    fs_ip ip;

    if (fs_ip_parse(text, &ip) < 0)
        abort();
    return ip;
}

fs_ip tw_exporter(void)
{
    return tw_addr("192.0.2.1");
}

void tw_start(struct fs_decoder **d, const struct fs_decoder_config *cfg, struct tw_buf **w,
              struct tw_sink **s)
{
    struct fs_decoder_config defaults = { 0 };

    *d = fs_decoder_new(cfg ? cfg : &defaults);
    *w = calloc(1, sizeof(**w));
    *s = calloc(1, sizeof(**s));
    if (*d == NULL || *w == NULL || *s == NULL)
        abort();
}

void tw_stop(struct fs_decoder *d, struct tw_buf *w, struct tw_sink *s)
{
    fs_decoder_free(d);
    free(w);
    free(s);
}

int tw_decode(struct fs_decoder *d, const struct tw_buf *w, uint64_t now_ms, struct tw_sink *s)
{
    fs_ip e = tw_exporter();

    return fs_decode(d, &e, now_ms, w->b, w->len, tw_sink_fn, s);
}

/* fs_decode() of an exact-size heap copy, so that AddressSanitizer sees a
 * read past the end. */
static void decode_copy(struct fs_decoder *d, const uint8_t *p, size_t n, uint64_t now_ms,
                        struct tw_sink *s)
{
    uint8_t *copy = malloc(n ? n : 1);
    fs_ip e = tw_exporter();

    if (copy == NULL)
        abort();
    memcpy(copy, p, n);
    fs_decode(d, &e, now_ms, copy, n, tw_sink_fn, s);
    free(copy);
}

void tw_decode_damaged(struct fs_decoder *d, struct tw_buf *w, uint64_t now_ms,
                       struct tw_sink *s)
{
    static const uint8_t vals[] = { 0x00, 0xff, 0x80, 0x01 };

    for (size_t n = 0; n < w->len; n++)
        decode_copy(d, w->b, n, now_ms, s);
    for (size_t i = 0; i < w->len; i++) {
        uint8_t keep = w->b[i];

        for (size_t k = 0; k < sizeof(vals); k++) {
            w->b[i] = vals[k];
            decode_copy(d, w->b, w->len, now_ms, s);
        }
        w->b[i] = keep;
    }
}

struct find_counters {
    fs_ip addr;
    struct fs_counters c;
};

static void find_fn(void *arg, const fs_ip *exporter, const struct fs_counters *c)
{
    struct find_counters *f = arg;

    if (exporter->af == f->addr.af && memcmp(exporter->b, f->addr.b, 16) == 0)
        f->c = *c;
}

struct fs_counters tw_counters(const struct fs_decoder *d)
{
    struct find_counters f = { .addr = tw_exporter() };

    fs_decoder_foreach_exporter(d, find_fn, &f);
    return f.c;
}

size_t tw_pcap_payload(const char *path, struct tw_buf *w)
{
    enum { GLOBAL = 24, RECORD = 16, ETH = 14, IP = 20, UDP = 8 };
    uint8_t buf[TW_MAX];
    FILE *f = fopen(path, "rb");
    size_t n, caplen;

    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (n < GLOBAL + RECORD + ETH + IP + UDP)
        return 0;
    /* Little-endian classic pcap: incl_len is the third word of the record header. */
    caplen = buf[GLOBAL + 8] | buf[GLOBAL + 9] << 8 | buf[GLOBAL + 10] << 16 |
             (size_t)buf[GLOBAL + 11] << 24;
    if (caplen < ETH + IP + UDP || GLOBAL + RECORD + caplen > n)
        return 0;
    w->len = 0;
    w->set = 0;
    tw_bytes(w, buf + GLOBAL + RECORD + ETH + IP + UDP, caplen - ETH - IP - UDP);
    w->version = (uint16_t)(w->b[0] << 8 | w->b[1]);
    return w->len;
}
