/*
 * flow.c - the flow record: initialisation, address text, and the JSON form
 * used by `--json`, expected-output files and reports.
 *
 * fs_flow_json() runs once per flow at full collector rate, so it writes
 * straight into the caller's buffer with memcpy'd key literals and its own
 * integer and IPv4 formatting instead of one snprintf per field.
 */
#include <arpa/inet.h>
#include <string.h>

#include "flow.h"

void fs_flow_init(struct fs_flow *f)
{
    memset(f, 0, sizeof(*f));
}

static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Writes `v` in decimal at `p`; returns the end. At most 20 bytes.
 * Counts the digits first so that they go straight to their place. */
static char *put_u64(char *p, uint64_t v)
{
    unsigned n = 1;
    for (uint64_t t = v; t >= 10; t /= 10)
        n++;
    char *end = p + n, *q = end;
    while (v >= 100) {
        unsigned i = (unsigned)(v % 100) * 2;
        v /= 100;
        q -= 2;
        q[0] = digits2[i];
        q[1] = digits2[i + 1];
    }
    if (v >= 10) {
        q[-2] = digits2[v * 2];
        q[-1] = digits2[v * 2 + 1];
    } else {
        q[-1] = (char)('0' + v);
    }
    return end;
}

/* Writes the address text at `p` (no NUL); returns the end. At most
 * FS_IP_STRLEN - 1 bytes. IPv4 is formatted by hand: it is the common case
 * and inet_ntop() costs several times more. */
static char *put_ip(char *p, const fs_ip *ip)
{
    if (ip->af == 4) {
        for (int i = 0; i < 4; i++) {
            if (i)
                *p++ = '.';
            p = put_u64(p, ip->b[i]);
        }
        return p;
    }
    if (ip->af == 6 && inet_ntop(AF_INET6, ip->b, p, FS_IP_STRLEN))
        return p + strlen(p);
    return p;
}

const char *fs_ip_format(const fs_ip *ip, char *out)
{
    *put_ip(out, ip) = '\0';
    return out;
}

int fs_ip_parse(const char *text, fs_ip *ip)
{
    memset(ip, 0, sizeof(*ip));
    if (inet_pton(AF_INET, text, ip->b) == 1) {
        ip->af = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, text, ip->b) == 1) {
        ip->af = 6;
        return 0;
    }
    memset(ip, 0, sizeof(*ip));
    return -1;
}

static char *put_mac(char *p, const uint8_t mac[6])
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < 6; i++) {
        if (i)
            *p++ = ':';
        *p++ = hex[mac[i] >> 4];
        *p++ = hex[mac[i] & 15];
    }
    return p;
}

/* Key literals carry their leading comma and trailing colon; sizeof - 1
 * keeps their length a compile-time constant. */
#define KEY(p, lit) (memcpy((p), lit, sizeof(lit) - 1), (p) + sizeof(lit) - 1)
#define NUM(p, bit, lit, val)                       \
    do {                                            \
        if (FS_FLOW_HAS(f, bit)) {                  \
            p = KEY(p, lit);                        \
            p = put_u64(p, (val));                  \
        }                                           \
    } while (0)
#define ADDR(p, bit, lit, ip)                       \
    do {                                            \
        if (FS_FLOW_HAS(f, bit)) {                  \
            p = KEY(p, lit);                        \
            p = put_ip(p, &(ip));                   \
            *p++ = '"';                             \
        }                                           \
    } while (0)
#define MAC(p, bit, lit, mac)                       \
    do {                                            \
        if (FS_FLOW_HAS(f, bit)) {                  \
            p = KEY(p, lit);                        \
            p = put_mac(p, (mac));                  \
            *p++ = '"';                             \
        }                                           \
    } while (0)

/* Writes the text `s` (at most `max` bytes, or up to its NUL) as the inside
 * of a JSON string. A uid comes from another tool's log or off the bus:
 * quotes and backslashes are escaped, and so is every byte outside printable
 * ASCII, which keeps the output valid UTF-8. At most 6 bytes out per byte in. */
static char *put_jstr(char *p, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < max && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20 || c > 0x7e) {
            p = KEY(p, "\\u00");
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        } else {
            *p++ = (char)c;
        }
    }
    return p;
}

/* The worst case (every field, IPv6 everywhere, maximal integers, a uid of
 * control bytes) is about 1.4 KB, below FS_FLOW_JSON_MAX; tests check a
 * maximal flow. */
static size_t flow_json(const struct fs_flow *f, char *out)
{
    char *p = out;

    p = KEY(p, "{\"exporter\":\"");
    p = put_ip(p, &f->exporter);
    p = KEY(p, "\",\"version\":");
    p = put_u64(p, f->version);
    p = KEY(p, ",\"domain\":");
    p = put_u64(p, f->domain);
    ADDR(p, FS_F_SRC_ADDR, ",\"src_addr\":\"", f->src_addr);
    ADDR(p, FS_F_DST_ADDR, ",\"dst_addr\":\"", f->dst_addr);
    NUM(p, FS_F_SRC_PORT, ",\"src_port\":", f->src_port);
    NUM(p, FS_F_DST_PORT, ",\"dst_port\":", f->dst_port);
    NUM(p, FS_F_PROTO, ",\"proto\":", f->proto);
    NUM(p, FS_F_TOS, ",\"tos\":", f->tos);
    NUM(p, FS_F_TCP_FLAGS, ",\"tcp_flags\":", f->tcp_flags);
    NUM(p, FS_F_PACKETS, ",\"packets\":", f->packets);
    NUM(p, FS_F_BYTES, ",\"bytes\":", f->bytes);
    NUM(p, FS_F_IN_IF, ",\"in_if\":", f->in_if);
    NUM(p, FS_F_OUT_IF, ",\"out_if\":", f->out_if);
    NUM(p, FS_F_START, ",\"start_ms\":", f->start_ms);
    NUM(p, FS_F_END, ",\"end_ms\":", f->end_ms);
    NUM(p, FS_F_SAMPLING, ",\"sampling_rate\":", f->sampling_rate);
    if (f->flags & FS_FLOW_SAMPLING_UNKNOWN)
        p = KEY(p, ",\"sampling_unknown\":true");
    NUM(p, FS_F_SAMPLER_ID, ",\"sampler_id\":", f->sampler_id);
    ADDR(p, FS_F_NEXT_HOP, ",\"next_hop\":\"", f->next_hop);
    ADDR(p, FS_F_BGP_NEXT_HOP, ",\"bgp_next_hop\":\"", f->bgp_next_hop);
    NUM(p, FS_F_SRC_AS, ",\"src_as\":", f->src_as);
    NUM(p, FS_F_DST_AS, ",\"dst_as\":", f->dst_as);
    NUM(p, FS_F_SRC_MASK, ",\"src_mask\":", f->src_mask);
    NUM(p, FS_F_DST_MASK, ",\"dst_mask\":", f->dst_mask);
    NUM(p, FS_F_SRC_VLAN, ",\"src_vlan\":", f->src_vlan);
    NUM(p, FS_F_DST_VLAN, ",\"dst_vlan\":", f->dst_vlan);
    MAC(p, FS_F_SRC_MAC, ",\"src_mac\":\"", f->src_mac);
    MAC(p, FS_F_DST_MAC, ",\"dst_mac\":\"", f->dst_mac);
    if (FS_FLOW_HAS(f, FS_F_MPLS)) {
        unsigned n = f->mpls_count < FS_FLOW_MPLS_MAX ? f->mpls_count : FS_FLOW_MPLS_MAX;
        p = KEY(p, ",\"mpls_labels\":[");
        for (unsigned i = 0; i < n; i++) {
            if (i)
                *p++ = ',';
            p = put_u64(p, f->mpls[i] >> 4);
        }
        *p++ = ']';
    }
    NUM(p, FS_F_DIRECTION, ",\"direction\":", f->direction);
    NUM(p, FS_F_FWD_STATUS, ",\"fwd_status\":", f->fwd_status);
    NUM(p, FS_F_ICMP, ",\"icmp_type\":", f->icmp_type);
    NUM(p, FS_F_ICMP, ",\"icmp_code\":", f->icmp_code);
    ADDR(p, FS_F_POST_SRC_ADDR, ",\"post_src_addr\":\"", f->post_src_addr);
    ADDR(p, FS_F_POST_DST_ADDR, ",\"post_dst_addr\":\"", f->post_dst_addr);
    NUM(p, FS_F_POST_SRC_PORT, ",\"post_src_port\":", f->post_src_port);
    NUM(p, FS_F_POST_DST_PORT, ",\"post_dst_port\":", f->post_dst_port);
    NUM(p, FS_F_IP_VERSION, ",\"ip_version\":", f->ip_version);
    NUM(p, FS_F_REV_PACKETS, ",\"rev_packets\":", f->rev_packets);
    NUM(p, FS_F_REV_BYTES, ",\"rev_bytes\":", f->rev_bytes);
    NUM(p, FS_F_REV_TOS, ",\"rev_tos\":", f->rev_tos);
    NUM(p, FS_F_REV_TCP_FLAGS, ",\"rev_tcp_flags\":", f->rev_tcp_flags);
    if (f->flags & FS_FLOW_TIME_CLAMPED)
        p = KEY(p, ",\"time_clamped\":true");
    NUM(p, FS_F_FLOW_ID, ",\"flow_id\":", f->flow_id);
    if (FS_FLOW_HAS(f, FS_F_UID)) {
        p = KEY(p, ",\"uid\":\"");
        p = put_jstr(p, f->uid, sizeof(f->uid));
        *p++ = '"';
    }
    *p++ = '}';
    return (size_t)(p - out);
}

int fs_flow_json(const struct fs_flow *f, char *out, size_t cap)
{
    if (cap >= FS_FLOW_JSON_MAX) {
        size_t n = flow_json(f, out);
        out[n] = '\0';
        return (int)n;
    }
    /* A small buffer may still be enough for this flow: write the worst
     * case aside and copy what fits. */
    char tmp[FS_FLOW_JSON_MAX];
    size_t n = flow_json(f, tmp);
    if (n >= cap)
        return -1;
    memcpy(out, tmp, n);
    out[n] = '\0';
    return (int)n;
}
