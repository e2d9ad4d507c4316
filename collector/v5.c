/*
 * v5.c - NetFlow v1, v5 and v7: fixed-layout records after a fixed header.
 *
 * Header: version, count, sysUptime, unix_secs, unix_nsecs (v1: 16 bytes);
 * v5 and v7 add flow_sequence and four more bytes (v5: engine type, engine
 * id, sampling mode and interval; v7: reserved), 24 bytes. Records are 48
 * bytes (v1, v5) or 52 (v7: v5's layout plus the shortcut router address,
 * which has no place in a flow and is skipped). v1 has no AS numbers or
 * masks and puts protocol, ToS and TCP flags at other offsets.
 *
 * This is the hot path for v5: one pass over the records, no lookups per
 * record, the domain, sampling rate and time base worked out once per
 * datagram.
 */
#include <string.h>

#include "exporter.h"

#define V1_HEADER 16
#define V5_HEADER 24
#define V5_RECORD 48
#define V7_RECORD 52
#define MAX_RECORDS 30 /* the most any of the three formats allows */

#define BIT(b) (UINT64_C(1) << (b))
#define V1_FIELDS (BIT(FS_F_SRC_ADDR) | BIT(FS_F_DST_ADDR) | BIT(FS_F_NEXT_HOP) | \
                   BIT(FS_F_IN_IF) | BIT(FS_F_OUT_IF) | BIT(FS_F_PACKETS) |       \
                   BIT(FS_F_BYTES) | BIT(FS_F_START) | BIT(FS_F_END) |            \
                   BIT(FS_F_SRC_PORT) | BIT(FS_F_DST_PORT) | BIT(FS_F_PROTO) |    \
                   BIT(FS_F_TOS) | BIT(FS_F_TCP_FLAGS) | BIT(FS_F_IP_VERSION))
#define V5_FIELDS (V1_FIELDS | BIT(FS_F_SRC_AS) | BIT(FS_F_DST_AS) |              \
                   BIT(FS_F_SRC_MASK) | BIT(FS_F_DST_MASK))

static inline void get_ip4(fs_ip *ip, const uint8_t *p)
{
    ip->af = 4;
    memcpy(ip->b, p, 4);
}

int fs_v5_decode(struct fs_decode_ctx *c, const uint8_t *p, size_t len)
{
    uint16_t version = fs_get16(p);
    size_t hlen = version == 1 ? V1_HEADER : V5_HEADER;
    size_t rlen = version == 7 ? V7_RECORD : V5_RECORD;
    bool v1 = version == 1, clamp = fs_decoder_config(c->d)->clock_clamp_ms != 0;
    uint64_t fields = v1 ? V1_FIELDS : V5_FIELDS;
    uint32_t count, uptime, domain = 0, rate, record_rate = 0;
    uint64_t export_ms;
    size_t fit, n, i;
    struct fs_domain *dom;
    const uint8_t *r;

    if (len < hlen)
        return fs_ctx_error(c, FS_ERR_SHORT_HEADER, "v%u: %zu bytes, the header needs %zu",
                            version, len, hlen);
    count = fs_get16(p + 2);
    uptime = fs_get32(p + 4);
    export_ms = (uint64_t)fs_get32(p + 8) * 1000 + fs_get32(p + 12) / 1000000;
    if (version == 5) {
        /* Top two bits: sampling mode; low 14: interval, 0 meaning unsampled. */
        uint32_t interval = fs_get16(p + 22) & 0x3fff;

        domain = (uint32_t)p[20] << 8 | p[21];
        record_rate = interval ? interval : 1;
    }
    dom = fs_ctx_domain(c, domain, version);
    if (!dom)
        return -1;
    if (!v1)
        fs_seq_update(c, &dom->seq, fs_get32(p + 16), count, count <= MAX_RECORDS);
    rate = fs_sampling_rate(c, dom, false, 0, record_rate);
    if (!rate)
        rate = 1; /* v1 and v7 cannot sample: unless configured, unsampled */

    fit = (len - hlen) / rlen;
    n = count < fit ? count : fit;
    for (i = 0, r = p + hlen; i < n; i++, r += rlen) {
        struct fs_flow *f = fs_ctx_flow(c);

        f->present = fields;
        f->version = version;
        f->domain = domain;
        get_ip4(&f->src_addr, r);
        get_ip4(&f->dst_addr, r + 4);
        get_ip4(&f->next_hop, r + 8);
        f->in_if = fs_get16(r + 12);
        f->out_if = fs_get16(r + 14);
        f->packets = fs_get32(r + 16);
        f->bytes = fs_get32(r + 20);
        f->start_ms = fs_uptime_to_ms(export_ms, uptime, fs_get32(r + 24));
        f->end_ms = fs_uptime_to_ms(export_ms, uptime, fs_get32(r + 28));
        f->src_port = fs_get16(r + 32);
        f->dst_port = fs_get16(r + 34);
        f->ip_version = 4;
        if (v1) {
            f->proto = r[38];
            f->tos = r[39];
            f->tcp_flags = r[40];
        } else {
            f->tcp_flags = r[37];
            f->proto = r[38];
            f->tos = r[39];
            f->src_as = fs_get16(r + 40);
            f->dst_as = fs_get16(r + 42);
            f->src_mask = r[44];
            f->dst_mask = r[45];
        }
        fs_flow_apply_sampling(c, f, rate);
        if (clamp)
            fs_flow_check_clock(c, f);
        fs_ctx_commit(c);
    }
    if (count > MAX_RECORDS || count > fit)
        return fs_ctx_error(c, FS_ERR_BAD_COUNT,
                            "v%u header says %u records, %zu bytes hold %zu of %zu bytes",
                            version, count, len, fit, rlen);
    return 0;
}
