/*
 * exportenc.c - NetFlow v5, v9 and IPFIX datagrams from flow records (see
 * exportenc.h). Layouts: Cisco's v5 record format, RFC 3954 (v9), RFC 7011
 * (IPFIX); element numbers from the IANA IPFIX registry.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "exportenc.h"

#define V9_HEADER 20
#define IPFIX_HEADER 16
#define SET_HEADER 4

#define AS_TRANS 23456 /* RFC 6793: stands for a 4-byte AS in 2 bytes */
#define DEFAULT_TEMPLATE_INTERVAL 20

struct tpl {
    uint16_t id;
    uint16_t nfields;
    uint16_t record_len;
    struct fs_export_field f[FS_EXPORT_MAX_FIELDS];
};

struct fs_export {
    struct fs_export_config cfg;
    struct tpl tpl[2];      /* [0] IPv4, [1] IPv6; v9 and IPFIX only */
    uint32_t seq;
    uint64_t datagrams;
    uint64_t flows;
    uint64_t last_templates_ms;
};

/* Big-endian writers. */
static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes `v` in `len` bytes, saturating like an exporter's counter; fields
 * wider than 8 bytes get leading zeros. */
static void put_uint(uint8_t *p, uint16_t len, uint64_t v)
{
    if (len < 8 && v >> (8 * len))
        v = (UINT64_C(1) << (8 * len)) - 1;
    for (int i = len - 1; i >= 0; i--, v >>= 8)
        p[i] = i >= len - 8 ? (uint8_t)v : 0;
}

static void put_addr(uint8_t *p, uint16_t len, const fs_ip *ip)
{
    if ((len == 4 && ip->af == 4) || (len == 16 && ip->af == 6))
        memcpy(p, ip->b, len);
    else
        memset(p, 0, len);
}

static void put_mac(uint8_t *p, uint16_t len, const uint8_t *mac)
{
    memset(p, 0, len);
    memcpy(p, mac, len < 6 ? len : 6);
}

static bool is_ipfix(const struct fs_export *e)
{
    return e->cfg.version == 10;
}

/* The IPv6 twin of an IPv4 element (itself when there is none), and whether
 * the element is an address (16 bytes in its IPv6 form). */
static uint16_t v6_twin(uint16_t ie, bool *addr)
{
    static const uint16_t pairs[][2] = {
        {8, 27}, {12, 28}, {15, 62}, {18, 63}, {225, 281}, {226, 282},
        {9, 29}, {13, 30}, {32, 139}, {176, 178}, {177, 179},
    };

    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        if (pairs[i][0] == ie) {
            *addr = i < 6;
            return pairs[i][1];
        }
    }
    *addr = false;
    return ie;
}

static void tpl_build(struct tpl *t, uint16_t id, const struct fs_export_config *c, bool v6)
{
    t->id = id;
    t->nfields = (uint16_t)c->nfields;
    t->record_len = 0;
    for (size_t i = 0; i < c->nfields; i++) {
        struct fs_export_field f = c->fields[i];
        bool addr;

        /* v9 keeps ICMP_TYPE (32) for ICMPv6: v9 collectors (nfdump 1.7)
         * read ICMPv6 types there, not in the IPFIX element 139. */
        if (v6 && !(c->version == 9 && f.ie == 32)) {
            f.ie = v6_twin(f.ie, &addr);
            if (addr)
                f.len = 16;
        }
        t->f[i] = f;
        t->record_len = (uint16_t)(t->record_len + f.len);
    }
}

/* sysUptime at `ms`: the 32-bit millisecond counter of v5 and v9. */
static uint32_t uptime(const struct fs_export *e, uint64_t ms)
{
    return (uint32_t)(ms - e->cfg.boot_ms);
}

static uint64_t field_value(const struct fs_export *e, const struct fs_flow *f, uint16_t ie)
{
    switch (ie) {
    case 1: return f->bytes;
    case 2: return f->packets;
    case 4: return f->proto;
    case 5: return f->tos;
    case 6: return f->tcp_flags;
    case 7: return f->src_port;
    case 9: case 29: return f->src_mask;
    case 10: return f->in_if;
    case 11: return f->dst_port;
    case 13: case 30: return f->dst_mask;
    case 14: return f->out_if;
    case 16: return f->src_as;
    case 17: return f->dst_as;
    case 21: return uptime(e, f->end_ms);
    case 22: return uptime(e, f->start_ms);
    case 32: case 139: return (uint64_t)f->icmp_type << 8 | f->icmp_code;
    case 48: return f->sampler_id;
    case 58: return f->src_vlan;
    case 59: return f->dst_vlan;
    case 60: return f->ip_version;
    case 61: return f->direction;
    case 89: return f->fwd_status;
    case 150: return f->start_ms / 1000;
    case 151: return f->end_ms / 1000;
    case 152: return f->start_ms;
    case 153: return f->end_ms;
    case 176: case 178: return f->icmp_type;
    case 177: case 179: return f->icmp_code;
    case 227: return f->post_src_port;
    case 228: return f->post_dst_port;
    default: return 0;
    }
}

static void put_record(const struct fs_export *e, const struct tpl *t,
                       const struct fs_flow *f, uint8_t *p)
{
    for (uint16_t i = 0; i < t->nfields; i++) {
        const struct fs_export_field *fd = &t->f[i];

        switch (fd->ie) {
        case 8: case 27: put_addr(p, fd->len, &f->src_addr); break;
        case 12: case 28: put_addr(p, fd->len, &f->dst_addr); break;
        case 15: case 62: put_addr(p, fd->len, &f->next_hop); break;
        case 18: case 63: put_addr(p, fd->len, &f->bgp_next_hop); break;
        case 225: case 281: put_addr(p, fd->len, &f->post_src_addr); break;
        case 226: case 282: put_addr(p, fd->len, &f->post_dst_addr); break;
        case 56: case 81: put_mac(p, fd->len, f->src_mac); break;
        case 57: case 80: put_mac(p, fd->len, f->dst_mac); break;
        default: put_uint(p, fd->len, field_value(e, f, fd->ie)); break;
        }
        p += fd->len;
    }
}

static size_t set_pad(const struct fs_export *e, size_t len)
{
    return is_ipfix(e) ? 0 : (4 - len % 4) % 4;
}

/* Closes a set that started at `set` and ends at `end`; returns the end
 * after padding. */
static uint8_t *set_close(const struct fs_export *e, uint8_t *set, uint8_t *end)
{
    size_t pad = set_pad(e, (size_t)(end - set));

    memset(end, 0, pad);
    end += pad;
    put16(set + 2, (uint16_t)(end - set));
    return end;
}

size_t fs_export_header_size(const struct fs_export *e)
{
    switch (e->cfg.version) {
    case 5: return FS_EXPORT_V5_HEADER;
    case 9: return V9_HEADER;
    default: return IPFIX_HEADER;
    }
}

size_t fs_export_templates_size(const struct fs_export *e)
{
    size_t n = SET_HEADER;

    if (e->cfg.version == 5)
        return 0;
    for (int i = 0; i < 2; i++)
        n += 4 + 4u * e->tpl[i].nfields;
    n += set_pad(e, n);
    if (e->cfg.sampling_rate) {
        size_t opt = SET_HEADER + 6 + 12, data = SET_HEADER + 9;

        n += opt + set_pad(e, opt) + data + set_pad(e, data);
    }
    return n;
}

size_t fs_export_record_size(const struct fs_export *e, uint8_t af)
{
    if (e->cfg.version == 5)
        return FS_EXPORT_V5_RECORD;
    return e->tpl[af == 6].record_len;
}

/* Writes the template set and, with sampling, the options template and its
 * record (scope: the whole exporter in v9, the domain in IPFIX;
 * samplingInterval and samplingAlgorithm, elements 34 and 35). Returns the
 * records written. */
static unsigned put_templates(const struct fs_export *e, uint8_t **pp)
{
    uint8_t *set = *pp, *p = set + SET_HEADER;
    unsigned records = 2;

    put16(set, is_ipfix(e) ? 2 : 0);
    for (int i = 0; i < 2; i++) {
        const struct tpl *t = &e->tpl[i];

        put16(p, t->id);
        put16(p + 2, t->nfields);
        p += 4;
        for (uint16_t k = 0; k < t->nfields; k++, p += 4) {
            put16(p, t->f[k].ie);
            put16(p + 2, t->f[k].len);
        }
    }
    p = set_close(e, set, p);

    if (e->cfg.sampling_rate) {
        set = p;
        put16(set, is_ipfix(e) ? 3 : 1);
        put16(set + 4, FS_EXPORT_TPL_SAMPLING);
        if (is_ipfix(e)) {
            put16(set + 6, 3);  /* fields */
            put16(set + 8, 1);  /* of which scope */
            put16(set + 10, 149);
        } else {
            put16(set + 6, 4);  /* scope bytes */
            put16(set + 8, 8);  /* option bytes */
            put16(set + 10, 1); /* scope: System */
        }
        put16(set + 12, 4);
        put16(set + 14, 34);
        put16(set + 16, 4);
        put16(set + 18, 35);
        put16(set + 20, 1);
        p = set_close(e, set, set + 22);

        set = p;
        put16(set, FS_EXPORT_TPL_SAMPLING);
        put32(set + 4, is_ipfix(e) ? e->cfg.domain : 0);
        put32(set + 8, e->cfg.sampling_rate);
        set[12] = 2; /* random 1-in-N */
        p = set_close(e, set, set + 13);
        records += 2;
    }
    *pp = p;
    return records;
}

static int encode_v5(struct fs_export *e, const struct fs_flow *flows, size_t n,
                     uint64_t export_ms, uint8_t *buf, size_t cap, size_t *used)
{
    uint8_t *p = buf + FS_EXPORT_V5_HEADER;
    size_t fit;

    if (cap < FS_EXPORT_V5_HEADER) {
        errno = ENOSPC;
        return -1;
    }
    fit = (cap - FS_EXPORT_V5_HEADER) / FS_EXPORT_V5_RECORD;
    if (n > fit)
        n = fit;
    if (n > FS_EXPORT_V5_MAX_FLOWS)
        n = FS_EXPORT_V5_MAX_FLOWS;
    for (size_t i = 0; i < n; i++) {
        if (flows[i].src_addr.af == 6 || flows[i].dst_addr.af == 6) {
            errno = EINVAL;
            return -1;
        }
    }

    put16(buf, 5);
    put16(buf + 2, (uint16_t)n);
    put32(buf + 4, uptime(e, export_ms));
    put32(buf + 8, (uint32_t)(export_ms / 1000));
    put32(buf + 12, (uint32_t)(export_ms % 1000 * 1000000));
    put32(buf + 16, e->seq);
    buf[20] = (uint8_t)(e->cfg.domain >> 8);
    buf[21] = (uint8_t)e->cfg.domain;
    put16(buf + 22, e->cfg.sampling_rate ? (uint16_t)(0x4000 | e->cfg.sampling_rate) : 0);

    for (size_t i = 0; i < n; i++, p += FS_EXPORT_V5_RECORD) {
        const struct fs_flow *f = &flows[i];

        put_addr(p, 4, &f->src_addr);
        put_addr(p + 4, 4, &f->dst_addr);
        put_addr(p + 8, 4, &f->next_hop);
        put_uint(p + 12, 2, f->in_if);
        put_uint(p + 14, 2, f->out_if);
        put_uint(p + 16, 4, f->packets);
        put_uint(p + 20, 4, f->bytes);
        put32(p + 24, uptime(e, f->start_ms));
        put32(p + 28, uptime(e, f->end_ms));
        put16(p + 32, f->src_port);
        put16(p + 34, f->dst_port);
        p[36] = 0;
        p[37] = f->tcp_flags;
        p[38] = f->proto;
        p[39] = f->tos;
        put16(p + 40, f->src_as > 0xffff ? AS_TRANS : (uint16_t)f->src_as);
        put16(p + 42, f->dst_as > 0xffff ? AS_TRANS : (uint16_t)f->dst_as);
        p[44] = f->src_mask;
        p[45] = f->dst_mask;
        p[46] = p[47] = 0;
    }
    e->seq += (uint32_t)n;
    *used = n;
    return (int)(p - buf);
}

static bool templates_due(const struct fs_export *e, uint64_t export_ms)
{
    if (e->datagrams % e->cfg.template_interval == 0)
        return true;
    return e->cfg.template_timeout_ms &&
           export_ms - e->last_templates_ms >= e->cfg.template_timeout_ms;
}

/* v9 and IPFIX: templates when due, then one data set per run of flows of
 * the same address family. */
static int encode_templated(struct fs_export *e, const struct fs_flow *flows, size_t n,
                            uint64_t export_ms, uint8_t *buf, size_t cap, size_t *used)
{
    size_t header = fs_export_header_size(e);
    bool templates = templates_due(e, export_ms);
    uint8_t *p = buf + header, *end = buf + cap, *set = NULL;
    unsigned records = 0, option_records = 0;
    const struct tpl *cur = NULL;
    size_t i;

    if (cap < header + (templates ? fs_export_templates_size(e) : 0)) {
        errno = ENOSPC;
        return -1;
    }
    if (templates) {
        records = put_templates(e, &p);
        option_records = e->cfg.sampling_rate ? 1 : 0;
        e->last_templates_ms = export_ms;
    }
    for (i = 0; i < n; i++) {
        const struct tpl *t = &e->tpl[flows[i].src_addr.af == 6];

        if (t != cur) {
            if (set)
                p = set_close(e, set, p);
            /* the new set's header, one record and the padding must fit */
            if ((size_t)(end - p) < SET_HEADER + t->record_len + 3u)
                break;
            set = p;
            put16(set, t->id);
            p += SET_HEADER;
            cur = t;
        } else if ((size_t)(end - p) < t->record_len + set_pad(e, (size_t)(p + t->record_len - set))) {
            break;
        }
        put_record(e, t, &flows[i], p);
        p += t->record_len;
    }
    if (set)
        p = set_close(e, set, p);

    put16(buf, e->cfg.version);
    if (is_ipfix(e)) {
        put16(buf + 2, (uint16_t)(p - buf));
        put32(buf + 4, (uint32_t)(export_ms / 1000));
        put32(buf + 8, e->seq);
        put32(buf + 12, e->cfg.domain);
        e->seq += (uint32_t)(i + option_records);
    } else {
        put16(buf + 2, (uint16_t)(records + i));
        put32(buf + 4, uptime(e, export_ms / 1000 * 1000));
        put32(buf + 8, (uint32_t)(export_ms / 1000));
        put32(buf + 12, e->seq);
        put32(buf + 16, e->cfg.domain);
        e->seq++;
    }
    *used = i;
    return (int)(p - buf);
}

int fs_export_encode(struct fs_export *e, const struct fs_flow *flows, size_t n,
                     uint64_t export_ms, uint8_t *buf, size_t cap, size_t *used)
{
    int len;

    *used = 0;
    if (e->cfg.version == 5)
        len = encode_v5(e, flows, n, export_ms, buf, cap, used);
    else
        len = encode_templated(e, flows, n, export_ms, buf, cap, used);
    if (len >= 0) {
        e->datagrams++;
        e->flows += *used;
    }
    return len;
}

uint64_t fs_export_flows(const struct fs_export *e)
{
    return e->flows;
}

uint64_t fs_export_datagrams(const struct fs_export *e)
{
    return e->datagrams;
}

uint32_t fs_export_next_sequence(const struct fs_export *e)
{
    return e->seq;
}

int fs_export_shift_sequence(uint8_t *buf, size_t len, uint32_t delta)
{
    size_t off;

    if (len < 4)
        return -1;
    switch (buf[0] << 8 | buf[1]) {
    case 5: off = 16; break;
    case 9: off = 12; break;
    case 10: off = 8; break;
    default: return -1;
    }
    if (len < off + 4)
        return -1;
    put32(buf + off, ((uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 |
                      (uint32_t)buf[off + 2] << 8 | buf[off + 3]) + delta);
    return 0;
}

struct fs_export *fs_export_new(const struct fs_export_config *cfg)
{
    struct fs_export *e;

    switch (cfg->version) {
    case 5:
        if (cfg->sampling_rate > 0x3fff || cfg->domain > 0xffff)
            goto invalid;
        break;
    case 9:
    case 10:
        if (cfg->fields == NULL || cfg->nfields == 0 || cfg->nfields > FS_EXPORT_MAX_FIELDS)
            goto invalid;
        for (size_t i = 0; i < cfg->nfields; i++)
            if (cfg->fields[i].len == 0 || cfg->fields[i].len > 16)
                goto invalid;
        break;
    default:
        goto invalid;
    }
    if ((e = calloc(1, sizeof(*e))) == NULL)
        return NULL;
    e->cfg = *cfg;
    e->cfg.fields = NULL; /* copied into the templates, not kept */
    if (!e->cfg.template_interval)
        e->cfg.template_interval = DEFAULT_TEMPLATE_INTERVAL;
    if (cfg->version != 5) {
        tpl_build(&e->tpl[0], FS_EXPORT_TPL_V4, cfg, false);
        tpl_build(&e->tpl[1], FS_EXPORT_TPL_V6, cfg, true);
    }
    return e;
invalid:
    errno = EINVAL;
    return NULL;
}

void fs_export_free(struct fs_export *e)
{
    free(e);
}
