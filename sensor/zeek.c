/*
 * zeek.c - Zeek conn.log (TSV and JSON) to flow records (see zeek.h).
 *
 * Both formats end up in the same place: each field the mapping uses is
 * turned into text (TSV: \xHH escapes decoded; JSON: string escapes decoded
 * or the number's text) and handed to set_field() under its role, and
 * make_flow() builds the record once the line is done. The TSV header is
 * compiled into a column -> role table, so a data line is one pass of
 * separator searches with no lookups by name.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"
#include "zeek.h"

/* The conn.log fields the mapping uses. */
enum role {
    R_NONE = 0,
    R_TS,
    R_UID,
    R_ORIG_H,
    R_ORIG_P,
    R_RESP_H,
    R_RESP_P,
    R_PROTO,
    R_DURATION,
    R_CONN_STATE,
    R_HISTORY,
    R_ORIG_PKTS,
    R_ORIG_IP_BYTES,
    R_RESP_PKTS,
    R_RESP_IP_BYTES,
    R_VLAN,
    R_INNER_VLAN,
    R_ORIG_L2,
    R_RESP_L2,
    R_PATH, /* JSON only ("_path", when a shipper adds it) */
    R_COUNT
};

static const struct {
    const char *name;
    uint8_t len;
} role_info[R_COUNT] = {
#define R(role, text) [role] = {text, sizeof(text) - 1}
    R(R_TS, "ts"),
    R(R_UID, "uid"),
    R(R_ORIG_H, "id.orig_h"),
    R(R_ORIG_P, "id.orig_p"),
    R(R_RESP_H, "id.resp_h"),
    R(R_RESP_P, "id.resp_p"),
    R(R_PROTO, "proto"),
    R(R_DURATION, "duration"),
    R(R_CONN_STATE, "conn_state"),
    R(R_HISTORY, "history"),
    R(R_ORIG_PKTS, "orig_pkts"),
    R(R_ORIG_IP_BYTES, "orig_ip_bytes"),
    R(R_RESP_PKTS, "resp_pkts"),
    R(R_RESP_IP_BYTES, "resp_ip_bytes"),
    R(R_VLAN, "vlan"),
    R(R_INNER_VLAN, "inner_vlan"),
    R(R_ORIG_L2, "orig_l2_addr"),
    R(R_RESP_L2, "resp_l2_addr"),
    R(R_PATH, "_path"),
#undef R
};

#define HAS(c, r) (((c)->have >> (r)) & 1u)

/* Without these a line is no flow. */
#define REQUIRED ((1u << R_TS) | (1u << R_ORIG_H) | (1u << R_RESP_H))

/* The first required role missing from `have` (1 << role bits). */
static enum role first_missing(uint32_t have)
{
    return !(have & 1u << R_TS) ? R_TS : !(have & 1u << R_ORIG_H) ? R_ORIG_H : R_RESP_H;
}

#define TSV_MAX_FIELDS 256
#define TSV_TOKEN_MAX 16 /* separator, unset and empty markers */
#define FIELD_MAX 128    /* longest field value the mapping reads */

/* TCP flag bits (RFC 793 / 3168 order in the flags byte). */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

/* One line's fields, as set_field() finds them. */
struct conn {
    uint32_t have; /* 1 << role */
    uint64_t ts_us, dur_us;
    fs_ip orig, resp;
    uint16_t orig_p, resp_p, vlan;
    uint8_t proto;
    uint8_t state_fwd, state_rev; /* flags implied by conn_state */
    uint8_t hist_fwd, hist_rev;   /* flags implied by history */
    uint64_t orig_pkts, orig_bytes, resp_pkts, resp_bytes;
    uint8_t orig_mac[6], resp_mac[6];
    char uid[FS_FLOW_UID_MAX];
};

struct token {
    char s[TSV_TOKEN_MAX];
    size_t n;
};

struct fs_zeek {
    struct fs_ls_config cfg;
    struct fs_ls_counters c;

    /* TSV header state. */
    struct token sep, unset, empty;
    bool have_fields; /* a #fields line was read */
    bool closed;      /* #close read: data needs a new header */
    char header_err[128]; /* why data lines of this header are refused */
    unsigned nfields;
    uint8_t column_role[TSV_MAX_FIELDS];
};

static void tsv_reset(struct fs_zeek *z)
{
    memcpy(z->sep.s, "\t", 1);
    z->sep.n = 1;
    memcpy(z->unset.s, "-", 1);
    z->unset.n = 1;
    memcpy(z->empty.s, "(empty)", 7);
    z->empty.n = 7;
    z->have_fields = false;
    z->closed = false;
    z->header_err[0] = '\0';
    z->nfields = 0;
}

struct fs_zeek *fs_zeek_new(const struct fs_ls_config *cfg)
{
    struct fs_zeek *z = calloc(1, sizeof(*z));
    if (!z)
        return NULL;
    z->cfg = *cfg;
    tsv_reset(z);
    return z;
}

void fs_zeek_free(struct fs_zeek *z)
{
    free(z);
}

const struct fs_ls_counters *fs_zeek_counters(const struct fs_zeek *z)
{
    return &z->c;
}

static enum role role_of(const char *name, size_t n)
{
    for (int r = R_NONE + 1; r < R_COUNT; r++)
        if (role_info[r].len == n && memcmp(role_info[r].name, name, n) == 0)
            return (enum role)r;
    return R_NONE;
}

/* ---- field values ---- */

/* Zeek history letters: upper case for the originator, lower case for the
 * responder. Only the letters that say which flags a packet carried count;
 * D (data) implies ACK, and PSH/URG are never known. */
static uint8_t history_flags(char c)
{
    switch (c | 0x20) {
    case 's': return TH_SYN;
    case 'h': return TH_SYN | TH_ACK;
    case 'a': return TH_ACK;
    case 'd': return TH_ACK;
    case 'f': return TH_FIN;
    case 'r': return TH_RST;
    default: return 0;
    }
}

/* conn_state codes and the flags they imply for each side, used only when
 * the line has no history. */
static const struct {
    const char *code;
    uint8_t fwd, rev;
} conn_states[] = {
    {"S0", TH_SYN, 0},
    {"S1", TH_SYN | TH_ACK, TH_SYN | TH_ACK},
    {"SF", TH_SYN | TH_ACK | TH_FIN, TH_SYN | TH_ACK | TH_FIN},
    {"REJ", TH_SYN, TH_RST | TH_ACK},
    {"S2", TH_SYN | TH_ACK | TH_FIN, TH_SYN | TH_ACK},
    {"S3", TH_SYN | TH_ACK, TH_SYN | TH_ACK | TH_FIN},
    {"RSTO", TH_SYN | TH_ACK | TH_RST, TH_SYN | TH_ACK},
    {"RSTR", TH_SYN | TH_ACK, TH_SYN | TH_ACK | TH_RST},
    {"RSTOS0", TH_SYN | TH_RST, 0},
    {"RSTRH", 0, TH_SYN | TH_ACK | TH_RST},
    {"SH", TH_SYN | TH_FIN, 0},
    {"SHR", 0, TH_SYN | TH_ACK | TH_FIN},
    {"OTH", 0, 0},
};

/* Zeek's time values: epoch seconds with a fraction (TSV, JSON TS_EPOCH),
 * integer epoch milliseconds (JSON TS_MILLIS: told apart by having no
 * fraction and being past 1e11, which as seconds is the year 5138), or
 * ISO 8601 (JSON TS_ISO8601). */
static int zeek_time(const char *s, size_t n, uint64_t *us)
{
    uint64_t v;

    if (memchr(s, 'T', n))
        return fs_ls_iso8601_us(s, n, us);
    if (fs_ls_uint(s, n, UINT64_MAX / 1000, &v) == 0 && v >= UINT64_C(100000000000)) {
        *us = v * 1000;
        return 0;
    }
    return fs_ls_seconds_us(s, n, us);
}

/* Stores one field. `v` is the value's text with escapes decoded. */
static int set_field(struct conn *c, enum role r, const char *v, size_t n, char *err,
                     size_t errlen)
{
    uint64_t u;
    char q[FS_LS_QUOTE_MAX];
    int rc = 0;

    switch (r) {
    case R_NONE:
    case R_COUNT:
        return 0;
    case R_TS: rc = zeek_time(v, n, &c->ts_us); break;
    case R_DURATION: rc = fs_ls_seconds_us(v, n, &c->dur_us); break;
    case R_ORIG_H: rc = fs_ip_parse_len(v, n, &c->orig); break;
    case R_RESP_H: rc = fs_ip_parse_len(v, n, &c->resp); break;
    case R_ORIG_P:
    case R_RESP_P:
        rc = fs_ls_uint(v, n, UINT16_MAX, &u);
        *(r == R_ORIG_P ? &c->orig_p : &c->resp_p) = (uint16_t)u;
        break;
    case R_PROTO:
        if (n == 17 && memcmp(v, "unknown_transport", 17) == 0)
            return 0; /* no protocol known: left unset */
        rc = fs_ls_proto(v, n, &c->proto);
        break;
    case R_CONN_STATE:
        rc = -1;
        for (size_t i = 0; i < sizeof(conn_states) / sizeof(conn_states[0]); i++) {
            if (strlen(conn_states[i].code) == n && memcmp(conn_states[i].code, v, n) == 0) {
                c->state_fwd = conn_states[i].fwd;
                c->state_rev = conn_states[i].rev;
                rc = 0;
                break;
            }
        }
        break;
    case R_HISTORY:
        c->hist_fwd = c->hist_rev = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i] >= 'A' && v[i] <= 'Z')
                c->hist_fwd |= history_flags(v[i]);
            else
                c->hist_rev |= history_flags(v[i]);
        }
        break;
    case R_ORIG_PKTS: rc = fs_ls_uint(v, n, UINT64_MAX, &c->orig_pkts); break;
    case R_ORIG_IP_BYTES: rc = fs_ls_uint(v, n, UINT64_MAX, &c->orig_bytes); break;
    case R_RESP_PKTS: rc = fs_ls_uint(v, n, UINT64_MAX, &c->resp_pkts); break;
    case R_RESP_IP_BYTES: rc = fs_ls_uint(v, n, UINT64_MAX, &c->resp_bytes); break;
    case R_VLAN:
        rc = fs_ls_uint(v, n, 4095, &u);
        c->vlan = (uint16_t)u;
        break;
    case R_INNER_VLAN:
        /* Validated, but struct fs_flow has no field for a second tag. */
        rc = fs_ls_uint(v, n, 4095, &u);
        break;
    case R_ORIG_L2: rc = fs_mac_parse_len(v, n, c->orig_mac); break;
    case R_RESP_L2: rc = fs_mac_parse_len(v, n, c->resp_mac); break;
    case R_UID:
        if (n == 0 || n >= sizeof(c->uid))
            rc = -1;
        for (size_t i = 0; i < n && rc == 0; i++)
            if (v[i] <= ' ' || v[i] > '~')
                rc = -1;
        if (rc == 0) {
            memcpy(c->uid, v, n);
            c->uid[n] = '\0';
        }
        break;
    case R_PATH:
        if (n != 4 || memcmp(v, "conn", 4) != 0)
            return fs_ls_fail(err, errlen, "not a conn log (_path \"%s\")",
                              fs_ls_quote(v, n, q));
        return 0;
    }
    if (rc != 0)
        return fs_ls_fail(err, errlen, "bad %s \"%s\"", role_info[r].name, fs_ls_quote(v, n, q));
    c->have |= 1u << r;
    return 0;
}

/* Zeek logs ICMP with the type in id.orig_p and, in id.resp_p, the code for
 * one-way messages but the counterpart type for request/reply pairs (echo
 * 8 <-> 0 and the like), whose code is always 0. These are the pairs. */
static bool icmp_two_way(uint8_t proto, uint16_t type)
{
    static const uint8_t v4[] = {0, 8, 9, 10, 13, 14, 15, 16, 17, 18};
    static const uint8_t v6[] = {128, 129, 130, 131, 133, 134, 135, 136, 139, 140, 144, 145};
    const uint8_t *t = proto == 1 ? v4 : v6;
    size_t n = proto == 1 ? sizeof(v4) : sizeof(v6);

    for (size_t i = 0; i < n; i++)
        if (t[i] == type)
            return true;
    return false;
}

static int make_flow(struct fs_zeek *z, const struct conn *c, struct fs_flow *f, char *err,
                     size_t errlen)
{
    if ((c->have & REQUIRED) != REQUIRED)
        return fs_ls_fail(err, errlen, "no %s", role_info[first_missing(c->have)].name);
    if (c->orig.af != c->resp.af)
        return fs_ls_fail(err, errlen, "id.orig_h and id.resp_h of different families");

    fs_ls_flow_init(&z->cfg, f);
    f->src_addr = c->orig;
    f->dst_addr = c->resp;
    f->ip_version = c->orig.af;
    FS_FLOW_SET(f, FS_F_SRC_ADDR);
    FS_FLOW_SET(f, FS_F_DST_ADDR);
    FS_FLOW_SET(f, FS_F_IP_VERSION);
    uint64_t dur = HAS(c, R_DURATION) ? c->dur_us : 0;
    if (dur > UINT64_MAX - c->ts_us)
        return fs_ls_fail(err, errlen, "ts + duration overflows");
    f->start_ms = c->ts_us / 1000;
    f->end_ms = (c->ts_us + dur) / 1000;
    FS_FLOW_SET(f, FS_F_START);
    FS_FLOW_SET(f, FS_F_END);

    if (HAS(c, R_PROTO)) {
        /* Zeek says "icmp" for ICMPv6 too. */
        f->proto = c->proto == 1 && c->orig.af == 6 ? 58 : c->proto;
        FS_FLOW_SET(f, FS_F_PROTO);
        if (f->proto == 1 || f->proto == 58) {
            if (HAS(c, R_ORIG_P) && c->orig_p <= 255) {
                uint8_t code = icmp_two_way(f->proto, c->orig_p) || !HAS(c, R_RESP_P) ||
                               c->resp_p > 255 ? 0 : (uint8_t)c->resp_p;
                fs_ls_set_icmp(f, (uint8_t)c->orig_p, code);
            }
        } else {
            FS_LS_OPT(f, HAS(c, R_ORIG_P), src_port, c->orig_p, FS_F_SRC_PORT);
            FS_LS_OPT(f, HAS(c, R_RESP_P), dst_port, c->resp_p, FS_F_DST_PORT);
        }
        if (f->proto == 6 && (HAS(c, R_HISTORY) || HAS(c, R_CONN_STATE))) {
            bool h = HAS(c, R_HISTORY);
            f->tcp_flags = h ? c->hist_fwd : c->state_fwd;
            f->rev_tcp_flags = h ? c->hist_rev : c->state_rev;
            FS_FLOW_SET(f, FS_F_TCP_FLAGS);
            FS_FLOW_SET(f, FS_F_REV_TCP_FLAGS);
        }
    }

    FS_LS_OPT(f, HAS(c, R_ORIG_PKTS), packets, c->orig_pkts, FS_F_PACKETS);
    FS_LS_OPT(f, HAS(c, R_ORIG_IP_BYTES), bytes, c->orig_bytes, FS_F_BYTES);
    FS_LS_OPT(f, HAS(c, R_RESP_PKTS), rev_packets, c->resp_pkts, FS_F_REV_PACKETS);
    FS_LS_OPT(f, HAS(c, R_RESP_IP_BYTES), rev_bytes, c->resp_bytes, FS_F_REV_BYTES);
    FS_LS_OPT(f, HAS(c, R_VLAN), src_vlan, c->vlan, FS_F_SRC_VLAN);
    if (HAS(c, R_ORIG_L2)) {
        memcpy(f->src_mac, c->orig_mac, 6);
        FS_FLOW_SET(f, FS_F_SRC_MAC);
    }
    if (HAS(c, R_RESP_L2)) {
        memcpy(f->dst_mac, c->resp_mac, 6);
        FS_FLOW_SET(f, FS_F_DST_MAC);
    }
    if (HAS(c, R_UID)) {
        memcpy(f->uid, c->uid, sizeof(f->uid));
        FS_FLOW_SET(f, FS_F_UID);
    }
    return 1;
}

/* ---- TSV ---- */

/* Decodes Zeek's \xHH escapes (any other backslash stays as it is) into
 * `out`, NUL-terminated. Returns the length, or -1 when longer than `cap`-1. */
static int unescape(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '\\' && n - i >= 4 && s[i + 1] == 'x') {
            int hi = fs_ls_hexdigit(s[i + 2]), lo = fs_ls_hexdigit(s[i + 3]);
            if (hi >= 0 && lo >= 0) {
                ch = (char)(hi << 4 | lo);
                i += 3;
            }
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = ch;
    }
    out[o] = '\0';
    return (int)o;
}

/* Finds the next separator in [p, end); end when there is none. */
static const char *next_sep(const struct fs_zeek *z, const char *p, const char *end)
{
    const char *q;
    if (z->sep.n == 1)
        q = memchr(p, z->sep.s[0], (size_t)(end - p));
    else
        q = memmem(p, (size_t)(end - p), z->sep.s, z->sep.n);
    return q ? q : end;
}

static int set_token(struct token *t, const char *s, size_t n)
{
    char buf[TSV_TOKEN_MAX];
    int k = unescape(s, n, buf, sizeof(buf));
    if (k < 0)
        return -1;
    memcpy(t->s, buf, (size_t)k);
    t->n = (size_t)k;
    return 0;
}

/* Compiles a #fields list (the text after "#fields<sep>", or a tsv=T
 * header row) into the column -> role table. */
static void tsv_fields(struct fs_zeek *z, const char *p, const char *end)
{
    uint32_t seen = 0;
    unsigned n = 0;

    z->have_fields = true;
    z->closed = false;
    if (z->header_err[0])
        return; /* the first reason stays: data lines are refused anyway */
    for (;;) {
        const char *q = next_sep(z, p, end);
        if (n == TSV_MAX_FIELDS) {
            fs_ls_fail(z->header_err, sizeof(z->header_err),
                       "header has more than %d fields", TSV_MAX_FIELDS);
            return;
        }
        enum role r = role_of(p, (size_t)(q - p));
        if (r != R_NONE && r != R_PATH) {
            if (seen & (1u << r)) {
                fs_ls_fail(z->header_err, sizeof(z->header_err),
                           "field %s twice in the header", role_info[r].name);
                return;
            }
            seen |= 1u << r;
        } else {
            r = R_NONE;
        }
        z->column_role[n++] = (uint8_t)r;
        if (q == end)
            break;
        p = q + z->sep.n;
    }
    z->nfields = n;
    if ((seen & REQUIRED) != REQUIRED)
        fs_ls_fail(z->header_err, sizeof(z->header_err), "header has no field %s",
                   role_info[first_missing(seen)].name);
}

/* A line starting with '#'. Returns 0, or -1 for a header line that cannot
 * be used (its data lines are refused too). */
static int tsv_header(struct fs_zeek *z, const char *line, size_t len, char *err,
                      size_t errlen)
{
    static const char sep_key[] = "#separator ";
    const char *end = line + len;
    char q[FS_LS_QUOTE_MAX];

    if (len >= sizeof(sep_key) - 1 && memcmp(line, sep_key, sizeof(sep_key) - 1) == 0) {
        const char *v = line + sizeof(sep_key) - 1;
        tsv_reset(z);
        if (set_token(&z->sep, v, (size_t)(end - v)) != 0 || z->sep.n == 0) {
            fs_ls_fail(z->header_err, sizeof(z->header_err), "bad #separator \"%s\"",
                       fs_ls_quote(v, (size_t)(end - v), q));
            z->sep.n = 1; /* keep splitting safely until the next header */
            return fs_ls_fail(err, errlen, "%s", z->header_err);
        }
        return 0;
    }

    const char *key_end = next_sep(z, line, end);
    const char *v = key_end == end ? end : key_end + z->sep.n;
    size_t klen = (size_t)(key_end - line), vlen = (size_t)(end - v);

#define KEY_IS(lit) (klen == sizeof(lit) - 1 && memcmp(line, lit, klen) == 0)
    if (KEY_IS("#fields")) {
        tsv_fields(z, v, end);
    } else if (KEY_IS("#unset_field") || KEY_IS("#empty_field")) {
        if (set_token(KEY_IS("#unset_field") ? &z->unset : &z->empty, v, vlen) != 0)
            return fs_ls_fail(err, errlen, "%.*s too long", (int)klen, line);
    } else if (KEY_IS("#path")) {
        if (vlen != 4 || memcmp(v, "conn", 4) != 0) {
            fs_ls_fail(z->header_err, sizeof(z->header_err), "not a conn log (#path \"%s\")",
                       fs_ls_quote(v, vlen, q));
            return fs_ls_fail(err, errlen, "%s", z->header_err);
        }
    } else if (KEY_IS("#close")) {
        z->closed = true;
    }
#undef KEY_IS
    /* #set_separator, #open, #types and unknown ones: nothing the mapping needs. */
    return 0;
}

static bool token_is(const struct token *t, const char *s, size_t n)
{
    return t->n == n && memcmp(t->s, s, n) == 0;
}

static int tsv_data(struct fs_zeek *z, const char *line, size_t len, struct fs_flow *out,
                    char *err, size_t errlen)
{
    const char *p = line, *end = line + len;
    struct conn c;
    unsigned col = 0;
    char buf[FIELD_MAX];

    if (!z->have_fields) {
        /* LogAscii tsv=T mode: one header row of names, no '#' lines. */
        const char *q = next_sep(z, p, end);
        if (q - p == 2 && memcmp(p, "ts", 2) == 0) {
            tsv_fields(z, p, end);
            return 0;
        }
        return fs_ls_fail(err, errlen, "data line before any #fields header");
    }
    if (z->header_err[0])
        return fs_ls_fail(err, errlen, "%s", z->header_err);
    if (z->closed)
        return fs_ls_fail(err, errlen, "data line after #close");

    memset(&c, 0, sizeof(c));
    for (;;) {
        const char *q = next_sep(z, p, end);
        size_t n = (size_t)(q - p);
        if (col >= z->nfields)
            return fs_ls_fail(err, errlen, "more than the header's %u fields", z->nfields);
        enum role r = (enum role)z->column_role[col++];
        if (r != R_NONE && !token_is(&z->unset, p, n) && !token_is(&z->empty, p, n)) {
            const char *v = p;
            if (memchr(p, '\\', n)) {
                int k = unescape(p, n, buf, sizeof(buf));
                if (k < 0)
                    return fs_ls_fail(err, errlen, "field %s too long", role_info[r].name);
                v = buf;
                n = (size_t)k;
            }
            if (set_field(&c, r, v, n, err, errlen) != 0)
                return -1;
        }
        if (q == end)
            break;
        p = q + z->sep.n;
    }
    if (col != z->nfields)
        return fs_ls_fail(err, errlen, "%u fields, the header has %u (line cut short?)", col,
                          z->nfields);
    return make_flow(z, &c, out, err, errlen);
}

/* ---- JSON ---- */

static int json_line(struct fs_zeek *z, const char *line, size_t len, struct fs_flow *out,
                     char *err, size_t errlen)
{
    struct fs_js j;
    struct fs_js_val key, v;
    struct conn c;
    char buf[FIELD_MAX];
    int rc;

    memset(&c, 0, sizeof(c));
    fs_js_init(&j, line, len);
    if (fs_js_object(&j) < 0)
        goto bad_json;
    while ((rc = fs_js_member(&j, &key)) == 1) {
        enum role r = R_NONE;
        if (!key.escaped) {
            r = role_of(key.s, key.n);
        } else {
            int k = fs_js_str(&key, buf, sizeof(buf));
            r = k < 0 ? R_NONE : role_of(buf, (size_t)k);
        }
        if (r == R_NONE) {
            if (fs_js_skip(&j) != 0)
                goto bad_json;
            continue;
        }
        switch (fs_js_value(&j, &v)) {
        case FS_JS_NONE:
            goto bad_json;
        case FS_JS_NULL: /* json_include_unset_fields */
            continue;
        case FS_JS_NUMBER:
            rc = set_field(&c, r, v.s, v.n, err, errlen);
            break;
        case FS_JS_STRING: {
            int k = fs_js_str(&v, buf, sizeof(buf));
            if (k < 0)
                return fs_ls_fail(err, errlen, "field %s too long or not text", role_info[r].name);
            rc = set_field(&c, r, buf, (size_t)k, err, errlen);
            break;
        }
        default:
            return fs_ls_fail(err, errlen, "field %s is not a string or number",
                              role_info[r].name);
        }
        if (rc != 0)
            return -1;
    }
    if (rc < 0 || !fs_js_end(&j))
        goto bad_json;
    return make_flow(z, &c, out, err, errlen);
bad_json:
    return fs_ls_fail(err, errlen, "bad JSON at byte %zu: %s", fs_js_offset(&j), j.err);
}

int fs_zeek_line(struct fs_zeek *z, const char *line, size_t len, struct fs_flow *out,
                 char *err, size_t errlen)
{
    size_t i = 0;
    int rc;

    z->c.lines++;
    while (i < len && (line[i] == ' ' || line[i] == '\r'))
        i++;
    if (i == len) {
        z->c.skipped++;
        return 0;
    }
    if (line[0] == '#')
        rc = tsv_header(z, line, len, err, errlen);
    else if (line[i] == '{')
        rc = json_line(z, line, len, out, err, errlen);
    else
        rc = tsv_data(z, line, len, out, err, errlen);
    if (rc < 0)
        z->c.malformed++;
    else if (rc == 0)
        z->c.skipped++;
    else
        z->c.flows++;
    return rc;
}
