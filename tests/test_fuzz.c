/*
 * test_fuzz.c - the decoder under damaged input: every datagram of every
 * shared fixture, and hand-built v5, v9 and IPFIX ones,
 *
 *   (a) truncated at every byte offset,
 *   (b) with random byte changes (fixed seed, FS_FUZZ_VARIANTS per datagram,
 *       5000 unless the environment says otherwise),
 *   (c) with garbage in the lengths that steer parsing: message length,
 *       record count, set lengths, template field counts, scope counts,
 *       field lengths.
 *
 * Each damaged datagram goes to a decoder that already holds the group's
 * templates, so the damage reaches the record decoders and not only the
 * header checks. Each must leave the decoder alive (the suite also runs
 * under ASan and UBSan, and every datagram is an exact-size heap copy),
 * with the damage counted where the format says the datagram is invalid,
 * with a return value that matches what was delivered, and with flows that
 * still make sense. Afterwards the same decoder must decode the untouched
 * datagrams exactly as a decoder that never saw the damage does.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "fixtures.h"
#include "nfv5build.h"
#include "rng.h"
#include "tplwire.h"

/* ------------------------------------------------------------ corpus */

/* Datagrams of one exporter's stream, fed in order to prime a decoder. */
struct stream {
    char name[64];
    struct fx_dgram *d;
    size_t n;
    bool dup;          /* every datagram already in an earlier stream */
    struct fx_group *owner;
};

#define MAX_STREAMS 32
static struct stream streams[MAX_STREAMS];
static size_t nstreams;

static bool seen_before(size_t upto, const struct fx_dgram *x)
{
    for (size_t s = 0; s < upto; s++)
        for (size_t i = 0; i < streams[s].n; i++)
            if (streams[s].d[i].len == x->len && !memcmp(streams[s].d[i].data, x->data, x->len))
                return true;
    return false;
}

/* ------------------------------------------------------------ hand-built */

/* Values the hand-built datagrams carry, checked after the damage. */
#define HB_EXPORT_SECS 1700000000u
#define HB_UPTIME 500000u
#define HB_V9_RATE 64u
static const uint8_t HB_SRC[4] = { 192, 0, 2, 10 }, HB_DST[4] = { 198, 51, 100, 20 };

/*
 * NetFlow v9 (RFC 3954): a template (256), an options template (257, scope
 * System) whose record gives sampler 5 a 1-in-64 interval, and two data
 * records of template 256 that use sampler 5, with padding to 4 bytes.
 */
static size_t build_v9(struct tw_buf *w)
{
    static const uint16_t tpl[][2] = { { 8, 4 }, { 12, 4 }, { 7, 2 }, { 11, 2 }, { 4, 1 },
                                       { 2, 4 }, { 1, 4 }, { 22, 4 }, { 21, 4 }, { 48, 1 } };

    /* 1 template + 1 options template + 1 options record + 2 records; source id 7 */
    tw_v9(w, 5, HB_UPTIME, HB_EXPORT_SECS, 1000, 7);

    tw_set(w, 0);
    tw_u16(w, 256);
    tw_u16(w, sizeof(tpl) / sizeof(*tpl));
    for (size_t i = 0; i < sizeof(tpl) / sizeof(*tpl); i++) {
        tw_u16(w, tpl[i][0]);
        tw_u16(w, tpl[i][1]);
    }

    tw_set(w, 1);
    tw_u16(w, 257);
    tw_u16(w, 4);     /* scope length: one scope field */
    tw_u16(w, 8);     /* options length: two fields */
    tw_u16(w, 1);     /* scope System */
    tw_u16(w, 4);
    tw_u16(w, 48);    /* sampler id */
    tw_u16(w, 1);
    tw_u16(w, 34);    /* sampling interval */
    tw_u16(w, 4);
    tw_u16(w, 0);     /* padding */

    tw_set(w, 257);
    tw_u32(w, 0xc0000201);
    tw_u8(w, 5);
    tw_u32(w, HB_V9_RATE);
    while ((w->len - w->set) % 4)
        tw_u8(w, 0);

    tw_set(w, 256);
    for (int r = 0; r < 2; r++) {
        tw_bytes(w, HB_SRC, 4);
        tw_bytes(w, HB_DST, 4);
        tw_u16(w, (uint16_t)(40000 + r));
        tw_u16(w, 443);
        tw_u8(w, 6);
        tw_u32(w, 10 + (uint32_t)r);
        tw_u32(w, 1500 + (uint32_t)r);
        tw_u32(w, HB_UPTIME - 2000);  /* first switched: 2 s before export */
        tw_u32(w, HB_UPTIME - 1000);  /* last switched */
        tw_u8(w, 5);
    }
    while ((w->len - w->set) % 4)
        tw_u8(w, 0);
    tw_end(w);
    return w->len;
}

/*
 * IPFIX (RFC 7011): a template (300) with fixed fields, a variable-length
 * interfaceName (82) and an RFC 5103 reverse octet count, and two records:
 * one with a 1-byte length prefix, one with the 255 + 2-byte escape.
 */
static size_t build_ipfix(struct tw_buf *w)
{
    char longname[300];

    memset(longname, 'x', sizeof(longname));
    tw_ipfix(w, HB_EXPORT_SECS, 42, 3); /* observation domain 3 */

    tw_set(w, 2);
    tw_u16(w, 300);
    tw_u16(w, 11);
    tw_u16(w, 8); tw_u16(w, 4);
    tw_u16(w, 12); tw_u16(w, 4);
    tw_u16(w, 7); tw_u16(w, 2);
    tw_u16(w, 11); tw_u16(w, 2);
    tw_u16(w, 4); tw_u16(w, 1);
    tw_u16(w, 2); tw_u16(w, 8);
    tw_u16(w, 1); tw_u16(w, 8);
    tw_u16(w, 152); tw_u16(w, 8);
    tw_u16(w, 153); tw_u16(w, 8);
    tw_u16(w, 82); tw_u16(w, 65535);
    tw_u16(w, 0x8000 | 1); tw_u16(w, 8); tw_u32(w, 29305);

    tw_set(w, 300);
    for (int r = 0; r < 2; r++) {
        tw_bytes(w, HB_SRC, 4);
        tw_bytes(w, HB_DST, 4);
        tw_u16(w, (uint16_t)(50000 + r));
        tw_u16(w, 53);
        tw_u8(w, 17);
        tw_u64(w, 3 + (uint64_t)r);
        tw_u64(w, 300 + (uint64_t)r);
        tw_u64(w, HB_EXPORT_SECS * 1000ull - 3000);
        tw_u64(w, HB_EXPORT_SECS * 1000ull - 1000);
        if (r == 0) {
            tw_u8(w, 4);
            tw_bytes(w, "eth0", 4);
        } else {
            tw_u8(w, 255);
            tw_u16(w, sizeof(longname));
            tw_bytes(w, longname, sizeof(longname));
        }
        tw_u64(w, 900 + (uint64_t)r);
    }
    tw_end(w);
    return w->len;
}

static size_t build_v5(struct tw_buf *w)
{
    static struct nfv5_buf b;
    const struct nfv5_hdr h = { .version = 5, .count = 2, .uptime = HB_UPTIME,
                                .secs = HB_EXPORT_SECS, .seq = 77, .engine_id = 1 };
    struct nfv5_rec r = { .src = "192.0.2.10", .dst = "198.51.100.20", .next_hop = "0.0.0.0",
                          .in_if = 1, .out_if = 2, .packets = 10, .bytes = 1500,
                          .first = HB_UPTIME - 2000, .last = HB_UPTIME - 1000,
                          .src_port = 40000, .dst_port = 443, .proto = 6 };

    nfv5_header(&b, &h);
    nfv5_record(&b, &r);
    r.src_port++;
    r.packets++;
    r.bytes++;
    nfv5_record(&b, &r);
    w->len = 0;
    tw_bytes(w, b.b, b.len);
    return w->len;
}

static void add_handmade(const char *name, size_t (*build)(struct tw_buf *), const char *exporter)
{
    static struct tw_buf w;
    struct stream *s = &streams[nstreams++];

    cr_assert_leq(nstreams, MAX_STREAMS);
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->n = 1;
    s->d = calloc(1, sizeof(*s->d));
    cr_assert_not_null(s->d);
    s->d->len = build(&w);
    s->d->data = malloc(s->d->len);
    cr_assert_not_null(s->d->data);
    memcpy(s->d->data, w.b, s->d->len);
    s->d->ts_ms = HB_EXPORT_SECS * 1000ull;
    cr_assert_eq(fs_ip_parse(exporter, &s->d->src), 0);
}

static void load_corpus(void)
{
    char **names;
    size_t n = fx_group_names(&names);

    nstreams = 0;
    for (size_t i = 0; i < n; i++) {
        struct fx_group *g = fx_group_load(names[i]);
        struct stream *s = &streams[nstreams];
        bool all_seen = true;

        cr_assert_lt(nstreams, MAX_STREAMS - 3);
        for (size_t k = 0; k < g->n && all_seen; k++)
            all_seen = seen_before(nstreams, &g->d[k]);
        snprintf(s->name, sizeof(s->name), "%s", names[i]);
        s->d = g->d;
        s->n = g->n;
        s->dup = all_seen;
        s->owner = g;
        nstreams++;
    }
    fx_names_free(names, n);
    add_handmade("handmade-v5", build_v5, "192.0.2.5");
    add_handmade("handmade-v9", build_v9, "192.0.2.9");
    add_handmade("handmade-ipfix", build_ipfix, "192.0.2.10");
}

static void free_corpus(void)
{
    for (size_t s = 0; s < nstreams; s++) {
        if (streams[s].owner) {
            fx_group_free(streams[s].owner);
        } else {
            free(streams[s].d->data);
            free(streams[s].d);
        }
    }
    nstreams = 0;
}

/* ------------------------------------------------------------ checks */

static uint64_t rng;

struct tally {
    size_t flows;
    const fs_ip *exporter;
    const char *where;
};

/* Every flow delivered from damaged input must still be a well-formed
 * record: present addresses have a family, the label stack fits, the JSON
 * form fits its buffer, and it is attributed to the exporter it came from. */
static void sane_flows(void *arg, const struct fs_flow *flows, size_t n)
{
    struct tally *t = arg;
    char buf[FS_FLOW_JSON_MAX];

    for (size_t i = 0; i < n; i++) {
        const struct fs_flow *f = &flows[i];
        const fs_ip *ips[] = { &f->src_addr, &f->dst_addr, &f->next_hop, &f->bgp_next_hop,
                               &f->post_src_addr, &f->post_dst_addr };
        const int bits[] = { FS_F_SRC_ADDR, FS_F_DST_ADDR, FS_F_NEXT_HOP, FS_F_BGP_NEXT_HOP,
                             FS_F_POST_SRC_ADDR, FS_F_POST_DST_ADDR };

        for (size_t k = 0; k < 6; k++)
            if (FS_FLOW_HAS(f, bits[k]))
                cr_assert(ips[k]->af == 4 || ips[k]->af == 6,
                          "%s: flow with address field %zu of family %u", t->where, k,
                          ips[k]->af);
        cr_assert_leq(f->mpls_count, FS_FLOW_MPLS_MAX, "%s: %u MPLS labels", t->where,
                      f->mpls_count);
        cr_assert_eq(f->present >> FS_F_COUNT, 0, "%s: unknown presence bits", t->where);
        cr_assert(!memcmp(&f->exporter, t->exporter, sizeof(fs_ip)),
                  "%s: flow attributed to another exporter", t->where);
        cr_assert_gt(fs_flow_json(f, buf, sizeof(buf)), 0, "%s: flow too big for JSON",
                     t->where);
    }
    t->flows += n;
}

/*
 * Decodes one damaged datagram (an exact-size heap copy, so reads past it
 * fault under ASan) and checks what any outcome must satisfy. Returns
 * whether errors were counted.
 */
static bool feed_damaged(struct fs_decoder *d, const struct fx_dgram *orig, const uint8_t *p,
                         size_t len, const char *where)
{
    const struct fs_counters *t = fs_decoder_totals(d);
    uint64_t errs = fs_counters_errors(t), dgrams = t->datagrams;
    uint8_t *copy = malloc(len ? len : 1);
    struct tally tl = { 0, &orig->src, where };
    int rc;

    cr_assert_not_null(copy);
    memcpy(copy, p, len);
    rc = fs_decode(d, &orig->src, orig->ts_ms, copy, len, sane_flows, &tl);
    free(copy);
    cr_assert_eq(t->datagrams, dgrams + 1, "%s: datagram not counted", where);
    if (rc < 0)
        cr_assert_gt(fs_counters_errors(t), errs, "%s: refused without counting why", where);
    else
        cr_assert_eq((size_t)rc, tl.flows, "%s: returned %d, delivered %zu flows", where, rc,
                     tl.flows);
    return fs_counters_errors(t) > errs;
}

static struct fs_decoder *new_decoder(void)
{
    struct fs_decoder_config cfg = {0};
    struct fs_decoder *d = fs_decoder_new(&cfg);

    cr_assert_not_null(d);
    return d;
}

struct lines {
    char **v;
    size_t n, cap;
};

static void keep_json(void *arg, const struct fs_flow *flows, size_t n)
{
    struct lines *l = arg;
    char buf[FS_FLOW_JSON_MAX];

    for (size_t i = 0; i < n; i++) {
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 64;
            l->v = realloc(l->v, l->cap * sizeof(char *));
            cr_assert_not_null(l->v);
        }
        cr_assert_gt(fs_flow_json(&flows[i], buf, sizeof(buf)), 0);
        l->v[l->n++] = strdup(buf);
    }
}

static void feed_stream(struct fs_decoder *d, const struct stream *s, struct lines *out)
{
    for (size_t i = 0; i < s->n; i++)
        fs_decode(d, &s->d[i].src, s->d[i].ts_ms, s->d[i].data, s->d[i].len,
                  out ? keep_json : NULL, out);
}

static struct fs_decoder *primed(const struct stream *s)
{
    struct fs_decoder *d = new_decoder();

    feed_stream(d, s, NULL);
    return d;
}

/*
 * The damaged decoder, once waiting sets are expired, must decode the
 * intact stream exactly like a decoder that only ever saw intact input
 * (primed the same way): same flows, same order, same fields.
 */
static void check_not_poisoned(struct fs_decoder *d, const struct stream *s, const char *what)
{
    struct fs_decoder *ref = primed(s);
    struct lines want = {0}, got = {0};
    uint64_t last = 0;

    for (size_t i = 0; i < s->n; i++)
        last = s->d[i].ts_ms > last ? s->d[i].ts_ms : last;
    fs_decoder_expire(d, last + 365ull * 24 * 3600 * 1000);
    feed_stream(ref, s, &want);
    feed_stream(d, s, &got);
    cr_expect_eq(got.n, want.n, "%s %s: after the damage %zu flows, intact decoder %zu",
                 s->name, what, got.n, want.n);
    for (size_t i = 0; i < want.n && i < got.n; i++)
        cr_expect_str_eq(got.v[i], want.v[i], "%s %s: flow %zu differs after the damage",
                         s->name, what, i);
    for (size_t i = 0; i < want.n; i++)
        free(want.v[i]);
    for (size_t i = 0; i < got.n; i++)
        free(got.v[i]);
    free(want.v);
    free(got.v);
    fs_decoder_free(ref);
}

/* The hand-built datagrams carry known values: check them directly too. */
static void check_handmade(struct fs_decoder *d, const struct stream *s)
{
    struct lines got = {0};
    json_t *f;
    json_error_t err;
    const char *name = s->name;

    feed_stream(d, s, &got);
    cr_assert_eq(got.n, 2, "%s: %zu flows from the intact datagram", name, got.n);
    for (size_t i = 0; i < 2; i++) {
        f = json_loads(got.v[i], 0, &err);
        cr_assert_not_null(f);
        cr_expect_str_eq(json_string_value(json_object_get(f, "src_addr")), "192.0.2.10", "%s",
                         name);
        cr_expect_str_eq(json_string_value(json_object_get(f, "dst_addr")), "198.51.100.20",
                         "%s", name);
        if (!strcmp(name, "handmade-ipfix")) {
            cr_expect_eq(json_integer_value(json_object_get(f, "src_port")), 50000 + (int)i);
            cr_expect_eq(json_integer_value(json_object_get(f, "packets")), 3 + (int)i);
            cr_expect_eq(json_integer_value(json_object_get(f, "bytes")), 300 + (int)i);
            cr_expect_eq(json_integer_value(json_object_get(f, "rev_bytes")), 900 + (int)i);
            cr_expect_eq(json_integer_value(json_object_get(f, "end_ms")),
                         HB_EXPORT_SECS * 1000ll - 1000);
        } else {
            /* v9: scaled by the announced 1-in-64; v5: unsampled. */
            json_int_t rate = !strcmp(name, "handmade-v9") ? HB_V9_RATE : 1;

            cr_expect_eq(json_integer_value(json_object_get(f, "src_port")), 40000 + (int)i);
            cr_expect_eq(json_integer_value(json_object_get(f, "packets")), (10 + (int)i) * rate,
                         "%s flow %zu", name, i);
            cr_expect_eq(json_integer_value(json_object_get(f, "start_ms")),
                         HB_EXPORT_SECS * 1000ll - 2000, "%s flow %zu", name, i);
        }
        json_decref(f);
        free(got.v[i]);
    }
    free(got.v);
}

static void finish_stream(struct fs_decoder *d, const struct stream *s, const char *what)
{
    if (s->owner == NULL)
        check_handmade(d, s);
    check_not_poisoned(d, s, what);
}

/* ------------------------------------------------------------ (a) truncation */

/* Offsets at which a v9 datagram ends between whole flowsets, give or take
 * fewer bytes than a flowset header: still valid, since v9 has no message
 * length and its header count is no evidence (vendors fill it differently),
 * and a tail too short for any flowset can only be ignored. */
static bool v9_set_boundary(const uint8_t *p, size_t len, size_t cut)
{
    size_t off = 20;

    if (len < 20 || (p[0] << 8 | p[1]) != 9)
        return false;
    while (off <= cut) {
        size_t sl;

        if (cut - off < 4)
            return true;
        if (off + 4 > len)
            return false;
        sl = (size_t)(p[off + 2] << 8 | p[off + 3]);
        if (sl < 4)
            return false;
        off += sl;
    }
    return false;
}

Test(fuzz, truncated_everywhere, .init = load_corpus, .fini = free_corpus, .timeout = 120)
{
    size_t total = 0;

    for (size_t si = 0; si < nstreams; si++) {
        const struct stream *s = &streams[si];
        struct fs_decoder *d;

        if (s->dup)
            continue;
        d = primed(s);
        for (size_t i = 0; i < s->n; i++) {
            const struct fx_dgram *dg = &s->d[i];

            for (size_t cut = 0; cut < dg->len; cut++) {
                char where[160];
                bool counted;

                snprintf(where, sizeof(where), "%.63s datagram %zu cut to %zu of %zu bytes",
                         s->name, i, cut, dg->len);
                counted = feed_damaged(d, dg, dg->data, cut, where);
                if (!v9_set_boundary(dg->data, dg->len, cut))
                    cr_expect(counted, "%s: not counted as damage", where);
                total++;
            }
        }
        finish_stream(d, s, "truncated");
        fs_decoder_free(d);
    }
    cr_log_info("truncation: %zu datagrams decoded", total);
}

/* ------------------------------------------------------------ (b) flips */

static size_t variants(void)
{
    const char *v = getenv("FS_FUZZ_VARIANTS");

    return v && atol(v) > 0 ? (size_t)atol(v) : 5000;
}

Test(fuzz, random_bytes, .init = load_corpus, .fini = free_corpus, .timeout = 300)
{
    size_t per = variants(), total = 0, counted = 0;

    for (size_t si = 0; si < nstreams; si++) {
        const struct stream *s = &streams[si];
        struct fs_decoder *d;

        if (s->dup)
            continue;
        d = primed(s);
        for (size_t i = 0; i < s->n; i++) {
            const struct fx_dgram *dg = &s->d[i];
            uint8_t *buf = malloc(dg->len);

            cr_assert_not_null(buf);
            /* One sequence per datagram: a failure replays on its own. */
            rng = UINT64_C(0x9e3779b97f4a7c15) ^ (si << 40) ^ (i << 20);
            for (size_t v = 0; v < per; v++) {
                char where[160];
                unsigned k = 1 + (unsigned)(trng_next(&rng) % 4);

                memcpy(buf, dg->data, dg->len);
                for (unsigned j = 0; j < k; j++) {
                    size_t at = (size_t)(trng_next(&rng) % dg->len);

                    buf[at] = trng_next(&rng) & 1
                                  ? (uint8_t)trng_next(&rng)
                                  : (uint8_t)(buf[at] ^ (1u << (trng_next(&rng) % 8)));
                }
                snprintf(where, sizeof(where), "%.63s datagram %zu variant %zu", s->name, i, v);
                counted += feed_damaged(d, dg, buf, dg->len, where);
                total++;
            }
            free(buf);
        }
        finish_stream(d, s, "after random bytes");
        fs_decoder_free(d);
    }
    cr_log_info("random bytes: %zu variants, %zu counted as damaged", total, counted);
    /* Many changes hit counters or addresses and stay valid; but if none
     * at all were caught, the checks would not be looking. */
    cr_expect_gt(counted, total / 20, "only %zu of %zu variants counted as damaged", counted,
                 total);
}

/* ------------------------------------------------------------ (c) lengths */

static size_t mangled, mangled_invalid;

/* Overwrites a 16-bit field and decodes; `must` says whether the format
 * makes the result invalid, in which case the damage must be counted. */
static void try16(struct fs_decoder *d, const struct fx_dgram *dg, uint8_t *buf, size_t at,
                  uint16_t value, bool must, const char *what, const char *name, size_t idx)
{
    char where[200];
    uint8_t old0 = buf[at], old1 = buf[at + 1];

    if (((size_t)old0 << 8 | old1) == value)
        return;
    buf[at] = (uint8_t)(value >> 8);
    buf[at + 1] = (uint8_t)value;
    snprintf(where, sizeof(where), "%.63s datagram %zu: %s at byte %zu set to %u", name, idx, what,
             at, value);
    if (feed_damaged(d, dg, buf, dg->len, where) == false && must)
        cr_expect_fail("%s: not counted as damage", where);
    mangled++;
    mangled_invalid += must;
    buf[at] = old0;
    buf[at + 1] = old1;
}

/*
 * One template record at `o` (set id `sid`, `left` bytes to the end of the
 * set): garbage field counts, scope counts and field lengths.
 */
static void mangle_template(struct fs_decoder *d, const struct fx_dgram *dg, uint8_t *buf,
                            size_t o, size_t left, uint16_t sid, const char *name, size_t idx)
{
    uint16_t count;
    size_t room;

    if (left < 8)
        return;
    count = (uint16_t)(buf[o + 2] << 8 | buf[o + 3]);
    room = left - 4; /* bytes for field specifiers */
    if (sid == 0 || sid == 2 || sid == 3) {
        static const uint16_t counts[] = { 1, 2, 0x7fff, 0x8000, 0xffff };

        for (size_t k = 0; k < sizeof(counts) / sizeof(*counts); k++)
            /* Each field specifier takes at least 4 bytes: more fields than
             * that fits cannot be a template. */
            try16(d, dg, buf, o + 2, counts[k], (size_t)counts[k] * 4 > room, "field count",
                  name, idx);
        try16(d, dg, buf, o + 2, (uint16_t)(count + 1), (size_t)(count + 1) * 4 > room,
              "field count", name, idx);
        if (count > 1)
            try16(d, dg, buf, o + 2, (uint16_t)(count - 1), false, "field count", name, idx);
    }
    if (sid == 3 && left >= 6) {
        /* RFC 7011 3.4.2.2: the scope field count is at least 1 and at most
         * the field count. */
        try16(d, dg, buf, o + 4, 0, true, "scope count", name, idx);
        try16(d, dg, buf, o + 4, (uint16_t)(count + 1), true, "scope count", name, idx);
        try16(d, dg, buf, o + 4, 0xffff, true, "scope count", name, idx);
    }
    if (sid == 1) {
        /* v9 options: scope and option lengths in bytes, 4 per field. */
        try16(d, dg, buf, o + 2, 0xfffc, true, "scope length", name, idx);
        try16(d, dg, buf, o + 4, 0xfffc, true, "options length", name, idx);
        try16(d, dg, buf, o + 2, 3, false, "scope length", name, idx);
        try16(d, dg, buf, o + 4, 1, false, "options length", name, idx);
    }
    /* First field's length: zero, variable (IPFIX), and huge. */
    {
        size_t fl = o + (sid == 1 ? 6 : sid == 3 ? 6 : 4) + 2;

        if (fl + 2 <= o + left) {
            try16(d, dg, buf, fl, 0, false, "field length", name, idx);
            try16(d, dg, buf, fl, 0xffff, false, "field length", name, idx);
            try16(d, dg, buf, fl, 0xfffe, false, "field length", name, idx);
        }
    }
}

static void mangle_lengths(struct fs_decoder *d, const struct fx_dgram *dg, const char *name,
                           size_t idx)
{
    uint8_t *buf = malloc(dg->len);
    uint16_t version;
    size_t hdr, off;

    cr_assert_not_null(buf);
    memcpy(buf, dg->data, dg->len);
    version = (uint16_t)(buf[0] << 8 | buf[1]);
    if (version == 5) {
        try16(d, dg, buf, 2, 0, false, "record count", name, idx);
        try16(d, dg, buf, 2, (uint16_t)((dg->len - 24) / 48 + 1), true, "record count", name,
              idx);
        try16(d, dg, buf, 2, 0xffff, true, "record count", name, idx);
        free(buf);
        return;
    }
    if (version == 9) {
        hdr = 20;
        try16(d, dg, buf, 2, 0, false, "record count", name, idx);
        try16(d, dg, buf, 2, 0xffff, false, "record count", name, idx);
    } else {
        static const uint16_t lens[] = { 0, 1, 15, 16, 17, 0xffff };

        hdr = 16;
        /* RFC 7011 3.1: the message length is the datagram's. */
        for (size_t k = 0; k < sizeof(lens) / sizeof(*lens); k++)
            try16(d, dg, buf, 2, lens[k], true, "message length", name, idx);
        try16(d, dg, buf, 2, (uint16_t)(dg->len - 1), true, "message length", name, idx);
        try16(d, dg, buf, 2, (uint16_t)(dg->len + 1), true, "message length", name, idx);
    }
    for (off = hdr; off + 4 <= dg->len;) {
        uint16_t sid = (uint16_t)(buf[off] << 8 | buf[off + 1]);
        size_t sl = (size_t)(buf[off + 2] << 8 | buf[off + 3]), rest = dg->len - off;
        static const uint16_t small[] = { 0, 1, 2, 3 };

        if (sl < 4 || sl > rest)
            break;
        /* A set shorter than its own header, or past the datagram: invalid. */
        for (size_t k = 0; k < sizeof(small) / sizeof(*small); k++)
            try16(d, dg, buf, off + 2, small[k], true, "set length", name, idx);
        try16(d, dg, buf, off + 2, (uint16_t)(rest + 1), true, "set length", name, idx);
        try16(d, dg, buf, off + 2, 0xffff, rest < 0xffff, "set length", name, idx);
        try16(d, dg, buf, off + 2, 4, false, "set length", name, idx);
        try16(d, dg, buf, off + 2, 5, false, "set length", name, idx);
        try16(d, dg, buf, off + 2, (uint16_t)(sl - 1), false, "set length", name, idx);
        if (sl + 1 <= rest)
            try16(d, dg, buf, off + 2, (uint16_t)(sl + 1), false, "set length", name, idx);
        if (sid <= 3)
            mangle_template(d, dg, buf, off + 4, sl - 4, sid, name, idx);
        off += sl;
    }
    free(buf);
}

Test(fuzz, garbage_lengths, .init = load_corpus, .fini = free_corpus, .timeout = 120)
{
    mangled = mangled_invalid = 0;
    for (size_t si = 0; si < nstreams; si++) {
        const struct stream *s = &streams[si];
        struct fs_decoder *d;

        if (s->dup)
            continue;
        d = primed(s);
        for (size_t i = 0; i < s->n; i++)
            mangle_lengths(d, &s->d[i], s->name, i);
        finish_stream(d, s, "after garbage lengths");
        fs_decoder_free(d);
    }
    cr_log_info("garbage lengths: %zu datagrams, %zu of them invalid by the format",
                mangled, mangled_invalid);
    cr_expect_gt(mangled_invalid, 100);
}

/* The corpus itself: every stream is there and the hand-built datagrams
 * decode to what they carry, so the checks above start from good input. */
Test(fuzz, corpus_decodes, .init = load_corpus, .fini = free_corpus)
{
    size_t unique = 0;

    for (size_t si = 0; si < nstreams; si++) {
        struct fs_decoder *d = new_decoder();

        unique += !streams[si].dup;
        feed_stream(d, &streams[si], NULL);
        cr_expect_eq(fs_counters_errors(fs_decoder_totals(d)), 0, "%s: errors on intact input",
                     streams[si].name);
        if (streams[si].owner == NULL) {
            fs_decoder_free(d);
            d = new_decoder();
            check_handmade(d, &streams[si]);
        }
        fs_decoder_free(d);
    }
    cr_expect_gt(unique, 3);
}
