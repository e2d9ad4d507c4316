/*
 * flowjson.c - reads one flow back from the JSON line fs_flow_json() wrote.
 *
 * History files (`flowsentry-collector --json`, the traffic generator, other
 * tools following docs/messages.md) are read at millions of lines a second,
 * so this is a hand-written single pass over the bytes with no allocation:
 * keys are looked up starting from the one that followed the previous key in
 * fs_flow_json()'s order, which makes our own output cost one comparison per
 * key. Known keys are strict about their JSON type and range (a port is an
 * integer 0..65535, never "80", 80.0 or -1); unknown keys are skipped
 * whatever their value, so newer writers do not break older readers.
 * The address and MAC parsers here also serve the nfdump CSV reader.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "flow.h"

enum kind {
    K_U8, K_U16, K_U32, K_U64,
    K_IP,     /* "192.0.2.1", "2001:db8::1", "" (unset) */
    K_MAC,    /* "aa:bb:cc:dd:ee:ff" */
    K_FLAG,   /* true sets an FS_FLOW_* flag, false leaves it clear */
    K_MPLS,   /* array of labels */
    K_UID     /* string of at most FS_FLOW_UID_MAX - 1 bytes */
};

#define NO_BIT 0xff

struct key {
    const char *name;
    uint8_t len;
    uint8_t kind;
    uint8_t bit;     /* FS_F_* set when present; NO_BIT for none */
    uint16_t off;    /* offsetof() in struct fs_flow; K_FLAG: the flag */
};

#define KEY(name, kind, bit, field) \
    { name, sizeof(name) - 1, kind, bit, offsetof(struct fs_flow, field) }

/* In fs_flow_json()'s order: the lookup tries the next row first. */
static const struct key keys[] = {
    KEY("exporter", K_IP, NO_BIT, exporter),
    KEY("version", K_U16, NO_BIT, version),
    KEY("domain", K_U32, NO_BIT, domain),
    KEY("src_addr", K_IP, FS_F_SRC_ADDR, src_addr),
    KEY("dst_addr", K_IP, FS_F_DST_ADDR, dst_addr),
    KEY("src_port", K_U16, FS_F_SRC_PORT, src_port),
    KEY("dst_port", K_U16, FS_F_DST_PORT, dst_port),
    KEY("proto", K_U8, FS_F_PROTO, proto),
    KEY("tos", K_U8, FS_F_TOS, tos),
    KEY("tcp_flags", K_U8, FS_F_TCP_FLAGS, tcp_flags),
    KEY("packets", K_U64, FS_F_PACKETS, packets),
    KEY("bytes", K_U64, FS_F_BYTES, bytes),
    KEY("in_if", K_U32, FS_F_IN_IF, in_if),
    KEY("out_if", K_U32, FS_F_OUT_IF, out_if),
    KEY("start_ms", K_U64, FS_F_START, start_ms),
    KEY("end_ms", K_U64, FS_F_END, end_ms),
    KEY("sampling_rate", K_U32, FS_F_SAMPLING, sampling_rate),
    { "sampling_unknown", 16, K_FLAG, NO_BIT, FS_FLOW_SAMPLING_UNKNOWN },
    KEY("sampler_id", K_U32, FS_F_SAMPLER_ID, sampler_id),
    KEY("next_hop", K_IP, FS_F_NEXT_HOP, next_hop),
    KEY("bgp_next_hop", K_IP, FS_F_BGP_NEXT_HOP, bgp_next_hop),
    KEY("src_as", K_U32, FS_F_SRC_AS, src_as),
    KEY("dst_as", K_U32, FS_F_DST_AS, dst_as),
    KEY("src_mask", K_U8, FS_F_SRC_MASK, src_mask),
    KEY("dst_mask", K_U8, FS_F_DST_MASK, dst_mask),
    KEY("src_vlan", K_U16, FS_F_SRC_VLAN, src_vlan),
    KEY("dst_vlan", K_U16, FS_F_DST_VLAN, dst_vlan),
    KEY("src_mac", K_MAC, FS_F_SRC_MAC, src_mac),
    KEY("dst_mac", K_MAC, FS_F_DST_MAC, dst_mac),
    KEY("mpls_labels", K_MPLS, FS_F_MPLS, mpls),
    KEY("direction", K_U8, FS_F_DIRECTION, direction),
    KEY("fwd_status", K_U8, FS_F_FWD_STATUS, fwd_status),
    KEY("icmp_type", K_U8, FS_F_ICMP, icmp_type),
    KEY("icmp_code", K_U8, FS_F_ICMP, icmp_code),
    KEY("post_src_addr", K_IP, FS_F_POST_SRC_ADDR, post_src_addr),
    KEY("post_dst_addr", K_IP, FS_F_POST_DST_ADDR, post_dst_addr),
    KEY("post_src_port", K_U16, FS_F_POST_SRC_PORT, post_src_port),
    KEY("post_dst_port", K_U16, FS_F_POST_DST_PORT, post_dst_port),
    KEY("ip_version", K_U8, FS_F_IP_VERSION, ip_version),
    KEY("rev_packets", K_U64, FS_F_REV_PACKETS, rev_packets),
    KEY("rev_bytes", K_U64, FS_F_REV_BYTES, rev_bytes),
    KEY("rev_tos", K_U8, FS_F_REV_TOS, rev_tos),
    KEY("rev_tcp_flags", K_U8, FS_F_REV_TCP_FLAGS, rev_tcp_flags),
    { "time_clamped", 12, K_FLAG, NO_BIT, FS_FLOW_TIME_CLAMPED },
    KEY("flow_id", K_U64, FS_F_FLOW_ID, flow_id),
    KEY("uid", K_UID, FS_F_UID, uid),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Duplicate keys are refused: one bit per row. */
_Static_assert(NKEYS <= 64, "the seen-mask holds 64 keys");

/* Unknown values nest at most this deep; deeper is refused, not recursed. */
#define MAX_DEPTH 64

struct jp {
    const char *p, *end, *start;
    char *err;
    size_t errlen;
    const struct key *key; /* the key whose value is being read, for messages */
};

static int fail(struct jp *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct jp *j, const char *fmt, ...)
{
    char why[160];
    va_list ap;

    if (j->err == NULL || j->errlen == 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (j->key != NULL)
        snprintf(j->err, j->errlen, "%s: %s", j->key->name, why);
    else
        snprintf(j->err, j->errlen, "column %zu: %s", (size_t)(j->p - j->start) + 1, why);
    return -1;
}

static void skip_ws_run(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
        j->p++;
}

/* fs_flow_json() writes no white space: one test inline settles the common
 * case, the loop is called only when there is some. */
static inline void skip_ws(struct jp *j)
{
    if (j->p < j->end && (unsigned char)*j->p <= ' ')
        skip_ws_run(j);
}

/* What the next byte is, for messages. */
static int unexpected(struct jp *j, const char *wanted)
{
    if (j->p >= j->end)
        return fail(j, "line ends where %s was expected", wanted);
    if ((unsigned char)*j->p < 0x20 || (unsigned char)*j->p > 0x7e)
        return fail(j, "byte 0x%02x where %s was expected", (unsigned char)*j->p, wanted);
    return fail(j, "'%c' where %s was expected", *j->p, wanted);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int read_hex4(struct jp *j, unsigned *out)
{
    unsigned v = 0;

    if (j->end - j->p < 4)
        return fail(j, "string ends inside a \\u escape");
    for (int i = 0; i < 4; i++) {
        int h = hexval(j->p[i]);

        if (h < 0)
            return fail(j, "bad \\u escape");
        v = v << 4 | (unsigned)h;
    }
    j->p += 4;
    *out = v;
    return 0;
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Whether any byte of `w` is a quote, a backslash or below 0x20: the bytes
 * that end the plain run of a string. Exact, not a heuristic. */
static bool word_stops(uint64_t w)
{
    uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');

    return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((w - ONES * 0x20) & ~w)) & HIGHS;
}

/* The first byte from `q` that ends a string's plain run, or `end`. */
static const char *plain_run(const char *q, const char *end)
{
    uint64_t w;

    while (end - q >= 8) {
        memcpy(&w, q, 8);
        if (word_stops(w))
            break;
        q += 8;
    }
    while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
        q++;
    return q;
}

/*
 * Reads a string (j->p on the opening quote). Without escapes `*s`/`*n` is the
 * span inside the line; with escapes the text is decoded into `buf` (at most
 * `cap` bytes, longer is an error) and `*s` points there. `buf` NULL only
 * validates. \u00XX gives the byte XX, as fs_flow_json() writes bytes outside
 * printable ASCII; higher code points give their UTF-8.
 */
static int read_string(struct jp *j, char *buf, size_t cap, const char **s, size_t *n)
{
    const char *q = plain_run(++j->p, j->end);
    size_t len = 0;

    if (q < j->end && *q == '"') {
        if (buf != NULL && (size_t)(q - j->p) > cap)
            return fail(j, "string longer than %zu bytes", cap);
        *s = j->p;
        *n = (size_t)(q - j->p);
        j->p = q + 1;
        return 0;
    }
    /* Slow path: escapes, or an error to report. */
    if (buf != NULL) {
        if ((size_t)(q - j->p) > cap)
            return fail(j, "string longer than %zu bytes", cap);
        memcpy(buf, j->p, (size_t)(q - j->p));
        len = (size_t)(q - j->p);
    }
    j->p = q;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p;
        char tmp[4];
        size_t tn = 1;

        if (c < 0x20)
            return fail(j, "control byte 0x%02x inside a string", c);
        if (c != '\\') {
            tmp[0] = (char)c;
            j->p++;
        } else {
            if (++j->p >= j->end)
                return fail(j, "line ends inside an escape");
            switch (*j->p++) {
            case '"': tmp[0] = '"'; break;
            case '\\': tmp[0] = '\\'; break;
            case '/': tmp[0] = '/'; break;
            case 'b': tmp[0] = '\b'; break;
            case 'f': tmp[0] = '\f'; break;
            case 'n': tmp[0] = '\n'; break;
            case 'r': tmp[0] = '\r'; break;
            case 't': tmp[0] = '\t'; break;
            case 'u': {
                unsigned cp, lo;

                if (read_hex4(j, &cp) < 0)
                    return -1;
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return fail(j, "lone low surrogate in \\u escape");
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
                        return fail(j, "high surrogate without its low half");
                    j->p += 2;
                    if (read_hex4(j, &lo) < 0)
                        return -1;
                    if (lo < 0xdc00 || lo > 0xdfff)
                        return fail(j, "high surrogate without its low half");
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (cp < 0x100) {
                    tmp[0] = (char)cp;
                } else if (cp < 0x800) {
                    tmp[0] = (char)(0xc0 | cp >> 6);
                    tmp[1] = (char)(0x80 | (cp & 0x3f));
                    tn = 2;
                } else if (cp < 0x10000) {
                    tmp[0] = (char)(0xe0 | cp >> 12);
                    tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    tmp[2] = (char)(0x80 | (cp & 0x3f));
                    tn = 3;
                } else {
                    tmp[0] = (char)(0xf0 | cp >> 18);
                    tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
                    tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    tmp[3] = (char)(0x80 | (cp & 0x3f));
                    tn = 4;
                }
                break;
            }
            default:
                j->p--;
                return fail(j, "unknown escape '\\%c'", *j->p >= 0x20 ? *j->p : '?');
            }
        }
        if (buf != NULL) {
            if (len + tn > cap)
                return fail(j, "string longer than %zu bytes", cap);
            memcpy(buf + len, tmp, tn);
            len += tn;
        }
    }
    if (j->p >= j->end)
        return fail(j, "line ends inside a string");
    j->p++;
    *s = buf;
    *n = len;
    return 0;
}

/* A JSON number that must be a non-negative integer no larger than `max`. */
static int read_uint(struct jp *j, uint64_t max, uint64_t *out)
{
    const char *p = j->p;
    uint64_t v = 0;

    if (p >= j->end || *p < '0' || *p > '9') {
        if (p < j->end && *p == '-')
            return fail(j, "negative number");
        if (p < j->end && *p == '"')
            return fail(j, "a string where a number was expected");
        if (p < j->end && (*p == 't' || *p == 'f' || *p == 'n' || *p == '[' || *p == '{'))
            return fail(j, "not a number");
        return unexpected(j, "a number");
    }
    if (*p == '0' && p + 1 < j->end && p[1] >= '0' && p[1] <= '9')
        return fail(j, "number with a leading zero");
    for (const char *first = p; p < j->end && (unsigned)(*p - '0') <= 9; p++) {
        unsigned d = (unsigned)(*p - '0');

        /* Nineteen digits always fit in 64 bits. */
        if (p - first >= 19 && v > (UINT64_MAX - d) / 10)
            return fail(j, "number too large");
        v = v * 10 + d;
    }
    if (p < j->end && (*p == '.' || *p == 'e' || *p == 'E'))
        return fail(j, "not an integer");
    if (v > max)
        return fail(j, "%llu is out of range (0..%llu)", (unsigned long long)v,
                    (unsigned long long)max);
    j->p = p;
    *out = v;
    return 0;
}

/* Dotted quad, by hand: the common case, several times cheaper than inet_pton. */
static bool parse_ipv4(const char *s, size_t n, uint8_t out[4])
{
    const char *end = s + n;

    for (int i = 0; i < 4; i++) {
        unsigned v, d;

        if (s >= end || (v = (unsigned)(*s - '0')) > 9)
            return false;
        s++;
        /* Up to two more digits, none after a leading zero. */
        if (s < end && (d = (unsigned)(*s - '0')) <= 9) {
            if (v == 0)
                return false;
            v = v * 10 + d;
            s++;
            if (s < end && (d = (unsigned)(*s - '0')) <= 9) {
                v = v * 10 + d;
                s++;
                if (v > 255)
                    return false;
            }
        }
        out[i] = (uint8_t)v;
        if (i < 3) {
            if (s >= end || *s != '.')
                return false;
            s++;
        }
    }
    return s == end;
}

int fs_ip_parse_len(const char *s, size_t n, fs_ip *ip)
{
    char buf[FS_IP_STRLEN];

    memset(ip, 0, sizeof(*ip));
    if (parse_ipv4(s, n, ip->b)) {
        ip->af = 4;
        return 0;
    }
    if (n < sizeof(buf) && memchr(s, ':', n) != NULL && memchr(s, '\0', n) == NULL) {
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (inet_pton(AF_INET6, buf, ip->b) == 1) {
            ip->af = 6;
            return 0;
        }
    }
    memset(ip, 0, sizeof(*ip));
    return -1;
}

int fs_mac_parse_len(const char *s, size_t n, uint8_t mac[6])
{
    if (n != 17)
        return -1;
    for (int i = 0; i < 6; i++) {
        int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);

        if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
            return -1;
        mac[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static int read_ip(struct jp *j, fs_ip *ip)
{
    char buf[FS_IP_STRLEN];
    const char *s;
    size_t n;

    if (j->p >= j->end || *j->p != '"')
        return fail(j, "expected an address string");
    if (read_string(j, buf, sizeof(buf) - 1, &s, &n) < 0)
        return -1;
    if (n == 0) {
        memset(ip, 0, sizeof(*ip));
        return 0;
    }
    if (fs_ip_parse_len(s, n, ip) == 0)
        return 0;
    return fail(j, "'%.*s' is not an IP address", (int)(n > 60 ? 60 : n), s);
}

static int read_mac(struct jp *j, uint8_t mac[6])
{
    char buf[24];
    const char *s;
    size_t n;

    if (j->p >= j->end || *j->p != '"')
        return fail(j, "expected a MAC address string");
    if (read_string(j, buf, sizeof(buf), &s, &n) < 0)
        return -1;
    if (fs_mac_parse_len(s, n, mac) == 0)
        return 0;
    return fail(j, "'%.*s' is not a MAC address (aa:bb:cc:dd:ee:ff)", (int)(n > 60 ? 60 : n), s);
}

static int read_mpls(struct jp *j, struct fs_flow *f)
{
    uint64_t label;

    if (j->p >= j->end || *j->p != '[')
        return fail(j, "expected an array of labels");
    j->p++;
    f->mpls_count = 0;
    skip_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return 0;
    }
    for (;;) {
        skip_ws(j);
        if (read_uint(j, 0xfffff, &label) < 0)
            return -1;
        if (f->mpls_count == FS_FLOW_MPLS_MAX)
            return fail(j, "more than %d labels", FS_FLOW_MPLS_MAX);
        f->mpls[f->mpls_count++] = (uint32_t)label << 4;
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            break;
        }
        return unexpected(j, "',' or ']'");
    }
    /* The JSON form keeps labels only; the last one is the bottom of the stack. */
    f->mpls[f->mpls_count - 1] |= 1;
    return 0;
}

static int read_literal(struct jp *j, const char *lit, size_t n)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return unexpected(j, "a value");
    j->p += n;
    return 0;
}

/* Skips any JSON value, without recursion: brackets go on a small stack. */
static int skip_value(struct jp *j)
{
    char stack[MAX_DEPTH];
    int depth = 0;
    const char *s;
    size_t n;
    uint64_t v;

    for (;;) {
        skip_ws(j);
        if (j->p >= j->end)
            return unexpected(j, "a value");
        switch (*j->p) {
        case '{':
        case '[':
            if (depth == MAX_DEPTH)
                return fail(j, "nested deeper than %d", MAX_DEPTH);
            stack[depth++] = *j->p++;
            skip_ws(j);
            if (j->p < j->end && *j->p == (stack[depth - 1] == '{' ? '}' : ']')) {
                j->p++;
                depth--;
                goto after_value;
            }
            if (stack[depth - 1] == '{')
                goto object_key;
            continue;
        case '"':
            if (read_string(j, NULL, 0, &s, &n) < 0)
                return -1;
            break;
        case 't':
            if (read_literal(j, "true", 4) < 0)
                return -1;
            break;
        case 'f':
            if (read_literal(j, "false", 5) < 0)
                return -1;
            break;
        case 'n':
            if (read_literal(j, "null", 4) < 0)
                return -1;
            break;
        default:
            /* Any JSON number: sign, integer part, fraction, exponent. */
            if (*j->p != '-' && (*j->p < '0' || *j->p > '9'))
                return unexpected(j, "a value");
            if (*j->p == '-')
                j->p++;
            if (read_uint(j, UINT64_MAX, &v) < 0) {
                /* Integer parts beyond 64 bits are still valid JSON. */
                if (j->p >= j->end || *j->p < '0' || *j->p > '9')
                    return -1;
                while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
                    j->p++;
            }
            if (j->p < j->end && *j->p == '.') {
                j->p++;
                if (j->p >= j->end || *j->p < '0' || *j->p > '9')
                    return unexpected(j, "a digit");
                while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
                    j->p++;
            }
            if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
                j->p++;
                if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
                    j->p++;
                if (j->p >= j->end || *j->p < '0' || *j->p > '9')
                    return unexpected(j, "a digit");
                while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
                    j->p++;
            }
            break;
        }
after_value:
        for (;;) {
            if (depth == 0)
                return 0;
            skip_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                if (stack[depth - 1] == '{')
                    goto object_key;
                break;
            }
            if (j->p < j->end && *j->p == (stack[depth - 1] == '{' ? '}' : ']')) {
                j->p++;
                depth--;
                continue;
            }
            return unexpected(j, stack[depth - 1] == '{' ? "',' or '}'" : "',' or ']'");
        }
        continue;
object_key:
        skip_ws(j);
        if (j->p >= j->end || *j->p != '"')
            return unexpected(j, "a key");
        if (read_string(j, NULL, 0, &s, &n) < 0)
            return -1;
        skip_ws(j);
        if (j->p >= j->end || *j->p != ':')
            return unexpected(j, "':'");
        j->p++;
    }
}

/* The row `*hint` when the key at j->p (its opening quote) is exactly that
 * row's name, consumed with its quotes; else NULL and nothing consumed. The
 * name holds no quote, backslash or control byte, so this is what
 * read_string() and find_key() would have found, at a fraction of the cost. */
static const struct key *expected_key(struct jp *j, size_t *hint)
{
    const struct key *k = &keys[*hint];

    if ((size_t)(j->end - j->p) < (size_t)k->len + 2 || j->p[k->len + 1] != '"' ||
        memcmp(j->p + 1, k->name, k->len) != 0)
        return NULL;
    j->p += k->len + 2;
    *hint = *hint + 1 == NKEYS ? 0 : *hint + 1;
    return k;
}

/* The row for key `k`, trying the one after `*hint` first. */
static const struct key *find_key(const char *k, size_t n, size_t *hint)
{
    size_t i = *hint;

    for (size_t tries = 0; tries < NKEYS; tries++, i = i + 1 == NKEYS ? 0 : i + 1) {
        if (keys[i].len == n && keys[i].name[0] == k[0] && memcmp(keys[i].name, k, n) == 0) {
            *hint = i + 1 == NKEYS ? 0 : i + 1;
            return &keys[i];
        }
    }
    return NULL;
}

static int read_value(struct jp *j, const struct key *k, struct fs_flow *f)
{
    static const uint64_t max[] = { [K_U8] = UINT8_MAX, [K_U16] = UINT16_MAX,
                                    [K_U32] = UINT32_MAX, [K_U64] = UINT64_MAX };
    char *field = (char *)f + k->off;
    uint64_t v;
    const char *s;
    size_t n;

    switch (k->kind) {
    case K_U8:
    case K_U16:
    case K_U32:
    case K_U64:
        if (read_uint(j, max[k->kind], &v) < 0)
            return -1;
        if (k->kind == K_U8)
            *(uint8_t *)field = (uint8_t)v;
        else if (k->kind == K_U16)
            *(uint16_t *)field = (uint16_t)v;
        else if (k->kind == K_U32)
            *(uint32_t *)field = (uint32_t)v;
        else
            memcpy(field, &v, sizeof(v));
        return 0;
    case K_IP:
        return read_ip(j, (fs_ip *)field);
    case K_MAC:
        return read_mac(j, (uint8_t *)field);
    case K_FLAG:
        if (j->p < j->end && *j->p == 't') {
            if (read_literal(j, "true", 4) < 0)
                return -1;
            f->flags |= k->off;
            return 0;
        }
        if (j->p < j->end && *j->p == 'f')
            return read_literal(j, "false", 5);
        return fail(j, "expected true or false");
    case K_MPLS:
        return read_mpls(j, f);
    case K_UID:
        if (j->p >= j->end || *j->p != '"')
            return fail(j, "expected a string");
        if (read_string(j, f->uid, FS_FLOW_UID_MAX - 1, &s, &n) < 0)
            return -1;
        if (memchr(s, '\0', n) != NULL)
            return fail(j, "NUL byte inside the uid");
        memmove(f->uid, s, n);
        f->uid[n] = '\0';
        return 0;
    }
    return -1;
}

int fs_flow_parse_json(const char *line, size_t len, struct fs_flow *f, char *err, size_t errlen)
{
    struct jp j = { line, line + len, line, err, errlen, NULL };
    uint64_t seen = 0;
    size_t hint = 0;

    fs_flow_init(f);
    skip_ws(&j);
    if (j.p >= j.end || *j.p != '{')
        return unexpected(&j, "'{'");
    j.p++;
    skip_ws(&j);
    if (j.p < j.end && *j.p == '}') {
        j.p++;
        goto done;
    }
    for (;;) {
        const struct key *k;
        const char *name;
        size_t n;

        skip_ws(&j);
        if (j.p >= j.end || *j.p != '"')
            return unexpected(&j, "a key");
        if ((k = expected_key(&j, &hint)) == NULL) {
            if (read_string(&j, NULL, 0, &name, &n) < 0)
                return -1;
            /* An escaped key is never one of ours: it is skipped as unknown. */
            k = name != NULL ? find_key(name, n, &hint) : NULL;
        }
        skip_ws(&j);
        if (j.p >= j.end || *j.p != ':')
            return unexpected(&j, "':'");
        j.p++;
        skip_ws(&j);
        if (k == NULL) {
            if (skip_value(&j) < 0)
                return -1;
        } else {
            uint64_t bit = UINT64_C(1) << (k - keys);

            j.key = k;
            if (seen & bit)
                return fail(&j, "key given twice");
            seen |= bit;
            if (read_value(&j, k, f) < 0)
                return -1;
            j.key = NULL;
            if (k->bit != NO_BIT)
                FS_FLOW_SET(f, k->bit);
        }
        skip_ws(&j);
        if (j.p < j.end && *j.p == ',') {
            j.p++;
            continue;
        }
        if (j.p < j.end && *j.p == '}') {
            j.p++;
            break;
        }
        return unexpected(&j, "',' or '}'");
    }
done:
    skip_ws(&j);
    if (j.p != j.end)
        return fail(&j, "text after the closing '}'");
    return 0;
}
