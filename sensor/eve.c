/*
 * eve.c - Suricata EVE "flow" and "netflow" events to flow records (see
 * eve.h).
 *
 * One pass over the line with the JSON cursor: the members the mapping uses
 * are stored as they come (Suricata's member order is not relied on), the
 * rest are skipped in place, and the record is built at the end once the
 * event type is known. Most lines of a busy EVE log are other events; they
 * are dropped as soon as their event_type has been read.
 */
#include <net/if.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "eve.h"
#include "jscan.h"

enum ev_type { EV_NONE = 0, EV_FLOW, EV_NETFLOW };

/* What the line had. */
enum {
    H_FLOW_ID = 1u << 0,
    H_SRC = 1u << 1,
    H_DST = 1u << 2,
    H_SPORT = 1u << 3,
    H_DPORT = 1u << 4,
    H_PROTO = 1u << 5,
    H_VLAN = 1u << 6,
    H_IFACE = 1u << 7,
    H_ICMP_TYPE = 1u << 8,
    H_ICMP_CODE = 1u << 9,
    H_PKTS = 1u << 10,     /* forward: flow.pkts_toserver, netflow.pkts */
    H_BYTES = 1u << 11,
    H_REV_PKTS = 1u << 12, /* flow.pkts_toclient */
    H_REV_BYTES = 1u << 13,
    H_START = 1u << 14,
    H_END = 1u << 15,
    H_FLAGS = 1u << 16,    /* tcp.tcp_flags */
    H_FLAGS_TS = 1u << 17, /* tcp.tcp_flags_ts */
    H_FLAGS_TC = 1u << 18, /* tcp.tcp_flags_tc */
    H_SMAC = 1u << 19,
    H_DMAC = 1u << 20,
    H_FLOW_OBJ = 1u << 21,   /* the "flow" object */
    H_NETFLOW_OBJ = 1u << 22 /* the "netflow" object */
};

struct event {
    enum ev_type type;
    uint32_t have;
    uint64_t flow_id;
    fs_ip src, dst;
    uint16_t sport, dport, vlan;
    uint8_t proto, icmp_type, icmp_code;
    uint8_t flags, flags_ts, flags_tc;
    uint64_t pkts, bytes, rev_pkts, rev_bytes;
    uint64_t start_us, end_us;
    uint8_t smac[6], dmac[6];
    char iface[IF_NAMESIZE];
};

struct fs_eve {
    struct fs_ls_config cfg;
    struct fs_ls_counters c;
    /* The last interface name resolved: a sensor has one or a few. */
    char iface[IF_NAMESIZE];
    uint32_t ifindex;
};

struct fs_eve *fs_eve_new(const struct fs_ls_config *cfg)
{
    struct fs_eve *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->cfg = *cfg;
    return e;
}

void fs_eve_free(struct fs_eve *e)
{
    free(e);
}

const struct fs_ls_counters *fs_eve_counters(const struct fs_eve *e)
{
    return &e->c;
}

/* The line being read: the cursor, the event, and where a message goes. */
struct line {
    struct fs_js j;
    struct event ev;
    char *err;
    size_t errlen;
};

static int bad_json(struct line *l)
{
    return fs_ls_fail(l->err, l->errlen, "bad JSON at byte %zu: %s", fs_js_offset(&l->j),
                      l->j.err);
}

/* Reads the next value as an unsigned integer no larger than `max`. */
static int get_uint(struct line *l, const char *name, uint64_t max, uint64_t *out)
{
    struct fs_js_val v;
    char q[FS_LS_QUOTE_MAX];

    if (fs_js_value(&l->j, &v) == FS_JS_NONE)
        return bad_json(l);
    if (v.type == FS_JS_OBJECT || v.type == FS_JS_ARRAY || fs_js_uint(&v, max, out) != 0)
        return fs_ls_fail(l->err, l->errlen, "bad %s %s", name, fs_ls_quote(v.s, v.n, q));
    return 0;
}

/* Reads the next value as a string into `buf`. */
static int get_str(struct line *l, const char *name, char *buf, size_t cap)
{
    struct fs_js_val v;

    if (fs_js_value(&l->j, &v) == FS_JS_NONE)
        return bad_json(l);
    if (fs_js_str(&v, buf, cap) < 0)
        return fs_ls_fail(l->err, l->errlen, "%s is not a string of at most %zu bytes", name,
                          cap - 1);
    return 0;
}

/* Reads a string with `parse`; `name` for the message. */
static int get_parsed(struct line *l, const char *name, int (*parse)(const char *, size_t, void *),
                      void *out)
{
    char buf[64], q[FS_LS_QUOTE_MAX];
    int n;

    if (get_str(l, name, buf, sizeof(buf)) != 0)
        return -1;
    n = (int)strlen(buf);
    if (parse(buf, (size_t)n, out) != 0)
        return fs_ls_fail(l->err, l->errlen, "bad %s \"%s\"", name, fs_ls_quote(buf, (size_t)n, q));
    return 0;
}

static int parse_addr(const char *s, size_t n, void *out) { return fs_ip_parse_len(s, n, out); }
static int parse_time(const char *s, size_t n, void *out) { return fs_ls_iso8601_us(s, n, out); }
static int parse_mac(const char *s, size_t n, void *out) { return fs_mac_parse_len(s, n, out); }
static int parse_hex8(const char *s, size_t n, void *out) { return fs_ls_hex8(s, n, out); }

/* "vlan": [outer, inner, ...]: the outer tag is kept. */
static int get_vlan(struct line *l)
{
    struct fs_js_val v;
    uint64_t id;
    int rc;
    bool first = true;

    if (fs_js_value(&l->j, &v) != FS_JS_ARRAY)
        return v.type == FS_JS_NONE ? bad_json(l)
                                    : fs_ls_fail(l->err, l->errlen, "vlan is not an array");
    while ((rc = fs_js_element(&l->j)) == 1) {
        if (get_uint(l, "vlan", 4095, &id) != 0)
            return -1;
        if (first)
            l->ev.vlan = (uint16_t)id;
        first = false;
    }
    if (rc < 0)
        return bad_json(l);
    if (!first)
        l->ev.have |= H_VLAN;
    return 0;
}

/* A MAC address given as a string ("src_mac") or, in flow events since
 * Suricata 7, as an array of the ones seen ("src_macs"): the first is kept. */
static int get_mac(struct line *l, const char *name, bool array, uint8_t mac[6], uint32_t bit)
{
    struct fs_js_val v;
    int rc;

    if (!array) {
        if (get_parsed(l, name, parse_mac, mac) != 0)
            return -1;
        l->ev.have |= bit;
        return 0;
    }
    if (fs_js_value(&l->j, &v) != FS_JS_ARRAY)
        return v.type == FS_JS_NONE ? bad_json(l)
                                    : fs_ls_fail(l->err, l->errlen, "%s is not an array", name);
    while ((rc = fs_js_element(&l->j)) == 1) {
        if (l->ev.have & bit) {
            if (fs_js_skip(&l->j) != 0)
                return bad_json(l);
        } else {
            if (get_parsed(l, name, parse_mac, mac) != 0)
                return -1;
            l->ev.have |= bit;
        }
    }
    return rc < 0 ? bad_json(l) : 0;
}

/* Member handlers: one table per object, so that the walk is the same for
 * the top level and each nested object. */
enum field {
    F_EVENT_TYPE, F_FLOW_ID, F_SRC_IP, F_DEST_IP, F_SRC_PORT, F_DEST_PORT, F_PROTO, F_VLAN,
    F_IN_IFACE, F_ICMP_TYPE, F_ICMP_CODE, F_FLOW, F_NETFLOW, F_TCP, F_ETHER,
    F_PKTS, F_BYTES, F_REV_PKTS, F_REV_BYTES, F_START, F_END,
    F_TCP_FLAGS, F_TCP_FLAGS_TS, F_TCP_FLAGS_TC,
    F_SRC_MAC, F_DEST_MAC, F_SRC_MACS, F_DEST_MACS
};

struct member {
    const char *name;
    uint8_t len;
    enum field field;
};

#define M(name, field) {name, sizeof(name) - 1, field}

static const struct member top_members[] = {
    M("event_type", F_EVENT_TYPE), M("flow_id", F_FLOW_ID), M("src_ip", F_SRC_IP),
    M("dest_ip", F_DEST_IP), M("src_port", F_SRC_PORT), M("dest_port", F_DEST_PORT),
    M("proto", F_PROTO), M("vlan", F_VLAN), M("in_iface", F_IN_IFACE),
    M("icmp_type", F_ICMP_TYPE), M("icmp_code", F_ICMP_CODE), M("flow", F_FLOW),
    M("netflow", F_NETFLOW), M("tcp", F_TCP), M("ether", F_ETHER), {NULL, 0, 0}};
static const struct member flow_members[] = {
    M("pkts_toserver", F_PKTS), M("bytes_toserver", F_BYTES), M("pkts_toclient", F_REV_PKTS),
    M("bytes_toclient", F_REV_BYTES), M("start", F_START), M("end", F_END), {NULL, 0, 0}};
static const struct member netflow_members[] = {
    M("pkts", F_PKTS), M("bytes", F_BYTES), M("start", F_START), M("end", F_END), {NULL, 0, 0}};
static const struct member tcp_members[] = {
    M("tcp_flags", F_TCP_FLAGS), M("tcp_flags_ts", F_TCP_FLAGS_TS),
    M("tcp_flags_tc", F_TCP_FLAGS_TC), {NULL, 0, 0}};
static const struct member ether_members[] = {
    M("src_mac", F_SRC_MAC), M("dest_mac", F_DEST_MAC), M("src_macs", F_SRC_MACS),
    M("dest_macs", F_DEST_MACS), {NULL, 0, 0}};

static int walk(struct line *l, const struct member *members);

/* Opens the object a member holds and walks it. */
static int nested(struct line *l, const struct member *members, const char *name)
{
    struct fs_js_val v;

    if (fs_js_value(&l->j, &v) != FS_JS_OBJECT)
        return v.type == FS_JS_NONE ? bad_json(l)
                                    : fs_ls_fail(l->err, l->errlen, "%s is not an object", name);
    return walk(l, members);
}

/* Returns 0, 1 when the event type says the line carries no flow, or -1. */
static int member(struct line *l, enum field field, const char *name)
{
    struct event *ev = &l->ev;
    uint64_t u = 0;
    char buf[32];

#define UINT(max, dst, bit)                               \
    do {                                                  \
        if (get_uint(l, name, (max), &u) != 0)            \
            return -1;                                    \
        (dst) = u;                                        \
        ev->have |= (bit);                                \
    } while (0)
#define PARSED(fn, dst, bit)                              \
    do {                                                  \
        if (get_parsed(l, name, (fn), (dst)) != 0)        \
            return -1;                                    \
        ev->have |= (bit);                                \
    } while (0)

    switch (field) {
    case F_EVENT_TYPE:
        if (get_str(l, name, buf, sizeof(buf)) != 0)
            return -1;
        ev->type = strcmp(buf, "flow") == 0 ? EV_FLOW
                   : strcmp(buf, "netflow") == 0 ? EV_NETFLOW : EV_NONE;
        return ev->type == EV_NONE ? 1 : 0;
    case F_FLOW_ID: UINT(UINT64_MAX, ev->flow_id, H_FLOW_ID); break;
    case F_SRC_IP: PARSED(parse_addr, &ev->src, H_SRC); break;
    case F_DEST_IP: PARSED(parse_addr, &ev->dst, H_DST); break;
    case F_SRC_PORT: UINT(UINT16_MAX, ev->sport, H_SPORT); break;
    case F_DEST_PORT: UINT(UINT16_MAX, ev->dport, H_DPORT); break;
    case F_PROTO: {
        struct fs_js_val v;
        char q[FS_LS_QUOTE_MAX];
        /* A name ("TCP"), or the number as a string or a number. */
        bool ok;
        if (fs_js_value(&l->j, &v) == FS_JS_NONE)
            return bad_json(l);
        if (v.type == FS_JS_STRING) {
            ok = fs_js_str(&v, buf, sizeof(buf)) >= 0 &&
                 fs_ls_proto(buf, strlen(buf), &ev->proto) == 0;
        } else {
            ok = fs_js_uint(&v, UINT8_MAX, &u) == 0;
            ev->proto = (uint8_t)u;
        }
        if (!ok)
            return fs_ls_fail(l->err, l->errlen, "bad proto %s", fs_ls_quote(v.s, v.n, q));
        ev->have |= H_PROTO;
        break;
    }
    case F_VLAN: return get_vlan(l);
    case F_IN_IFACE:
        /* Names too long for an interface are no interface of this host. */
        if (get_str(l, name, buf, sizeof(buf)) != 0)
            return -1;
        if (strlen(buf) < sizeof(ev->iface)) {
            strcpy(ev->iface, buf);
            ev->have |= H_IFACE;
        }
        break;
    case F_ICMP_TYPE: UINT(UINT8_MAX, ev->icmp_type, H_ICMP_TYPE); break;
    case F_ICMP_CODE: UINT(UINT8_MAX, ev->icmp_code, H_ICMP_CODE); break;
    case F_FLOW:
    case F_NETFLOW:
        /* Alerts carry a "flow" object too: only the one that matches the
         * event type counts, and that is checked at the end. */
        if (nested(l, field == F_FLOW ? flow_members : netflow_members, name) != 0)
            return -1;
        ev->have |= field == F_FLOW ? H_FLOW_OBJ : H_NETFLOW_OBJ;
        break;
    case F_TCP: return nested(l, tcp_members, name);
    case F_ETHER: return nested(l, ether_members, name);
    case F_PKTS: UINT(UINT64_MAX, ev->pkts, H_PKTS); break;
    case F_BYTES: UINT(UINT64_MAX, ev->bytes, H_BYTES); break;
    case F_REV_PKTS: UINT(UINT64_MAX, ev->rev_pkts, H_REV_PKTS); break;
    case F_REV_BYTES: UINT(UINT64_MAX, ev->rev_bytes, H_REV_BYTES); break;
    case F_START: PARSED(parse_time, &ev->start_us, H_START); break;
    case F_END: PARSED(parse_time, &ev->end_us, H_END); break;
    case F_TCP_FLAGS: PARSED(parse_hex8, &ev->flags, H_FLAGS); break;
    case F_TCP_FLAGS_TS: PARSED(parse_hex8, &ev->flags_ts, H_FLAGS_TS); break;
    case F_TCP_FLAGS_TC: PARSED(parse_hex8, &ev->flags_tc, H_FLAGS_TC); break;
    case F_SRC_MAC:
    case F_SRC_MACS: return get_mac(l, name, field == F_SRC_MACS, ev->smac, H_SMAC);
    case F_DEST_MAC:
    case F_DEST_MACS: return get_mac(l, name, field == F_DEST_MACS, ev->dmac, H_DMAC);
    }
#undef UINT
#undef PARSED
    return 0;
}

/* Walks the members of the object just opened. Returns 0, 1 when the line
 * carries no flow, or -1. */
static int walk(struct line *l, const struct member *members)
{
    struct fs_js_val key;
    int rc;

    while ((rc = fs_js_member(&l->j, &key)) == 1) {
        const struct member *m = members;
        while (m->name && !fs_js_eqn(&key, m->name, m->len))
            m++;
        if (!m->name) {
            if (fs_js_skip(&l->j) != 0)
                return bad_json(l);
        } else if ((rc = member(l, m->field, m->name)) != 0) {
            return rc;
        }
    }
    return rc < 0 ? bad_json(l) : 0;
}

static uint32_t ifindex(struct fs_eve *e, const char *name)
{
    if (strcmp(name, e->iface) != 0) {
        strcpy(e->iface, name);
        e->ifindex = e->cfg.ifindex(e->cfg.ifindex_arg, name);
    }
    return e->ifindex;
}

static int make_flow(struct fs_eve *e, const struct event *ev, struct fs_flow *f, char *err,
                     size_t errlen)
{
    if (!(ev->have & H_SRC) || !(ev->have & H_DST))
        return fs_ls_fail(err, errlen, "no %s", ev->have & H_SRC ? "dest_ip" : "src_ip");
    if (ev->src.af != ev->dst.af)
        return fs_ls_fail(err, errlen, "src_ip and dest_ip of different families");
    if (!(ev->have & (ev->type == EV_FLOW ? H_FLOW_OBJ : H_NETFLOW_OBJ)))
        return fs_ls_fail(err, errlen, "no \"%s\" object",
                          ev->type == EV_FLOW ? "flow" : "netflow");
    if (!(ev->have & H_START))
        return fs_ls_fail(err, errlen, "no start time");

    fs_ls_flow_init(&e->cfg, f);
    f->src_addr = ev->src;
    f->dst_addr = ev->dst;
    f->ip_version = ev->src.af;
    FS_FLOW_SET(f, FS_F_SRC_ADDR);
    FS_FLOW_SET(f, FS_F_DST_ADDR);
    FS_FLOW_SET(f, FS_F_IP_VERSION);
    f->start_ms = ev->start_us / 1000;
    f->end_ms = (ev->have & H_END ? ev->end_us : ev->start_us) / 1000;
    FS_FLOW_SET(f, FS_F_START);
    FS_FLOW_SET(f, FS_F_END);

#define OPT(hbit, field, value, fbit) FS_LS_OPT(f, ev->have & (hbit), field, value, fbit)
    OPT(H_PROTO, proto, ev->proto, FS_F_PROTO);
    if ((ev->have & H_PROTO) && (ev->proto == 1 || ev->proto == 58)) {
        if ((ev->have & H_ICMP_TYPE) && (ev->have & H_ICMP_CODE))
            fs_ls_set_icmp(f, ev->icmp_type, ev->icmp_code);
    } else {
        OPT(H_SPORT, src_port, ev->sport, FS_F_SRC_PORT);
        OPT(H_DPORT, dst_port, ev->dport, FS_F_DST_PORT);
    }
    OPT(H_PKTS, packets, ev->pkts, FS_F_PACKETS);
    OPT(H_BYTES, bytes, ev->bytes, FS_F_BYTES);
    if (ev->type == EV_FLOW) {
        OPT(H_REV_PKTS, rev_packets, ev->rev_pkts, FS_F_REV_PACKETS);
        OPT(H_REV_BYTES, rev_bytes, ev->rev_bytes, FS_F_REV_BYTES);
        /* tcp_flags is both directions together: the forward flags only
         * when Suricata did not give them apart. */
        if (ev->have & H_FLAGS_TS)
            OPT(H_FLAGS_TS, tcp_flags, ev->flags_ts, FS_F_TCP_FLAGS);
        else
            OPT(H_FLAGS, tcp_flags, ev->flags, FS_F_TCP_FLAGS);
        OPT(H_FLAGS_TC, rev_tcp_flags, ev->flags_tc, FS_F_REV_TCP_FLAGS);
    } else {
        OPT(H_FLAGS, tcp_flags, ev->flags, FS_F_TCP_FLAGS);
    }
    OPT(H_VLAN, src_vlan, ev->vlan, FS_F_SRC_VLAN);
    OPT(H_FLOW_ID, flow_id, ev->flow_id, FS_F_FLOW_ID);
#undef OPT
    if (ev->have & H_SMAC) {
        memcpy(f->src_mac, ev->smac, 6);
        FS_FLOW_SET(f, FS_F_SRC_MAC);
    }
    if (ev->have & H_DMAC) {
        memcpy(f->dst_mac, ev->dmac, 6);
        FS_FLOW_SET(f, FS_F_DST_MAC);
    }
    if ((ev->have & H_IFACE) && e->cfg.ifindex) {
        f->in_if = ifindex(e, ev->iface);
        if (f->in_if)
            FS_FLOW_SET(f, FS_F_IN_IF);
    }
    return 1;
}

static int eve_line(struct fs_eve *e, const char *line, size_t len, struct fs_flow *out,
                    char *err, size_t errlen)
{
    struct line l;
    size_t i = 0;
    int rc;

    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i == len)
        return 0;
    memset(&l.ev, 0, sizeof(l.ev));
    l.err = err;
    l.errlen = errlen;
    fs_js_init(&l.j, line, len);
    if (fs_js_object(&l.j) < 0)
        return bad_json(&l);
    rc = walk(&l, top_members);
    if (rc != 0)
        return rc > 0 ? 0 : -1;
    if (!fs_js_end(&l.j))
        return bad_json(&l);
    if (l.ev.type == EV_NONE)
        return fs_ls_fail(err, errlen, "no event_type");
    return make_flow(e, &l.ev, out, err, errlen);
}

int fs_eve_line(struct fs_eve *e, const char *line, size_t len, struct fs_flow *out,
                char *err, size_t errlen)
{
    int rc = eve_line(e, line, len, out, err, errlen);

    e->c.lines++;
    if (rc < 0)
        e->c.malformed++;
    else if (rc == 0)
        e->c.skipped++;
    else
        e->c.flows++;
    return rc;
}
