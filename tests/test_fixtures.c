/*
 * test_fixtures.c - the decoder against independent ground truth: every
 * shared fixture capture decoded through fs_pcap_read() and fs_decode(), and
 * the flows compared field by field with
 *
 *   - tests/fixtures/expected/<group>.jsonl, written by tools/tshark-expected
 *     from Wireshark's decode of the same captures (never from our code);
 *   - pmacct's own expected output (output-flow-*.json) for its captures, on
 *     the fields both have, after nfacctd's aggregation and renaming
 *     (tests/fixtures/PMACCT.md says where pmacct and we differ, and why).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "fixtures.h"

/* ------------------------------------------------------------ decoding */

struct decoded {
    struct fs_flow *flows;
    size_t n, cap;
    struct fs_counters totals; /* the decoder's, after the last datagram */
};

static void keep_flows(void *arg, const struct fs_flow *flows, size_t n)
{
    struct decoded *out = arg;

    if (out->n + n > out->cap) {
        out->cap = (out->n + n) * 2;
        out->flows = realloc(out->flows, out->cap * sizeof(*out->flows));
        cr_assert_not_null(out->flows);
    }
    memcpy(out->flows + out->n, flows, n * sizeof(*flows));
    out->n += n;
}

/* Feeds a group to a decoder (fresh, or configured by the caller), exporter =
 * IP source and receive time = capture time, and checks that real exporters'
 * datagrams are not counted as damaged. */
static struct decoded decode_group(const struct fx_group *g, struct fs_decoder *d)
{
    struct decoded out = {0};
    const struct fs_counters *t = fs_decoder_totals(d);

    for (size_t i = 0; i < g->n; i++) {
        const struct fx_dgram *dg = &g->d[i];
        size_t before = out.n;
        int rc = fs_decode(d, &dg->src, dg->ts_ms, dg->data, dg->len, keep_flows, &out);

        cr_expect_geq(rc, 0, "%s: datagram %zu (%s frame %u) refused", g->name, i,
                      g->captures[dg->file], dg->frame + 1);
        if (rc >= 0)
            cr_expect_eq((size_t)rc, out.n - before,
                         "%s: datagram %zu returned %d but delivered %zu flows", g->name, i,
                         rc, out.n - before);
    }
    for (int k = 0; k < FS_ERR_COUNT; k++)
        cr_expect_eq(t->errors[k], 0, "%s: %llu %s errors on a real capture", g->name,
                     (unsigned long long)t->errors[k], fs_err_name((enum fs_err_kind)k));
    cr_expect_eq(t->datagrams, g->n, "%s: %llu datagrams counted, %zu fed", g->name,
                 (unsigned long long)t->datagrams, g->n);
    cr_expect_eq(t->flows, out.n, "%s: %llu flows counted, %zu delivered", g->name,
                 (unsigned long long)t->flows, out.n);
    out.totals = *t;
    return out;
}

static struct decoded decode_fresh(const struct fx_group *g)
{
    struct fs_decoder_config cfg = {0};
    struct fs_decoder *d = fs_decoder_new(&cfg);
    struct decoded out;

    cr_assert_not_null(d);
    out = decode_group(g, d);
    fs_decoder_free(d);
    return out;
}

static json_t *flow_to_json(const struct fs_flow *f)
{
    char buf[FS_FLOW_JSON_MAX];
    json_error_t err;
    json_t *j;

    cr_assert_gt(fs_flow_json(f, buf, sizeof(buf)), 0);
    j = json_loads(buf, 0, &err);
    cr_assert_not_null(j, "fs_flow_json gave invalid JSON (%s): %s", err.text, buf);
    return j;
}

/* ------------------------------------------------------------ tshark */

/*
 * Keys our flows may carry beyond what the expected file has: only fields
 * tshark does not show for a capture, each with its reason. Everything else
 * the decoder adds is a failure, a field out of nowhere being as wrong as a
 * missing one. None is needed today: every key the decoder gives for these
 * captures is one that tshark shows (v5's ip_version is in the expected
 * files, the format being IPv4 only).
 */
struct allowance {
    const char *group; /* NULL: every group */
    const char *key;
    const char *why;
};

static const struct allowance extra_allowed[] = {
    { NULL, NULL, NULL }
};

static bool allowed_extra(const char *group, const char *key)
{
    for (const struct allowance *a = extra_allowed; a->key; a++)
        if ((a->group == NULL || strcmp(a->group, group) == 0) && strcmp(a->key, key) == 0)
            return true;
    return false;
}

static json_t *load_jsonl(const char *path)
{
    json_t *arr = json_array();
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    FILE *fp = fopen(path, "r");

    cr_assert_not_null(fp, "%s: cannot open (run tools/tshark-expected)", path);
    while (getline(&line, &cap, fp) > 0) {
        json_error_t err;
        json_t *j;

        lineno++;
        if (strspn(line, " \t\r\n") == strlen(line))
            continue;
        j = json_loads(line, 0, &err);
        cr_assert_not_null(j, "%s:%u: %s", path, lineno, err.text);
        json_array_append_new(arr, j);
    }
    free(line);
    fclose(fp);
    return arr;
}

static char *text(const json_t *v)
{
    return v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("(absent)");
}

/* Compares one group with its expected file and reports every difference:
 * file, flow index (0-based, line = index + 1), key, expected and got. */
static void check_group(const char *name)
{
    struct fx_group *g = fx_group_load(name);
    struct decoded got = decode_fresh(g);
    char path[512];
    json_t *want;
    size_t i, mismatches = 0, n, unknown = 0;
    char first[512] = "";

    snprintf(path, sizeof(path), "%s/%s.jsonl", FX_EXPECTED_DIR, name);
    want = load_jsonl(path);
    n = json_array_size(want) < got.n ? json_array_size(want) : got.n;
    for (i = 0; i < n; i++) {
        json_t *w = json_array_get(want, i), *o = flow_to_json(&got.flows[i]), *v;
        const char *key;

        json_object_foreach(w, key, v) {
            json_t *ov = json_object_get(o, key);

            if (ov == NULL || !json_equal(v, ov)) {
                char *ws = text(v), *gs = text(ov), line[512];

                snprintf(line, sizeof(line), "%s.jsonl flow %zu key %s: expected %s, got %s",
                         name, i, key, ws, gs);
                cr_log_error("%s", line);
                if (!mismatches++)
                    snprintf(first, sizeof(first), "%s", line);
                free(ws);
                free(gs);
            }
        }
        json_object_foreach(o, key, v) {
            if (json_object_get(w, key) == NULL && !allowed_extra(name, key)) {
                char *gs = text(v), line[512];

                snprintf(line, sizeof(line),
                         "%s.jsonl flow %zu key %s: expected (absent), got %s", name, i, key,
                         gs);
                cr_log_error("%s", line);
                if (!mismatches++)
                    snprintf(first, sizeof(first), "%s", line);
                free(gs);
            }
        }
        json_decref(o);
    }
    cr_expect_eq(got.n, json_array_size(want), "%s.jsonl: expected %zu flows, got %zu", name,
                 json_array_size(want), got.n);
    for (i = 0; i < json_array_size(want); i++)
        unknown += json_is_true(json_object_get(json_array_get(want, i), "sampling_unknown"));
    cr_expect_eq(got.totals.sampling_unknown, unknown,
                 "%s: sampling_unknown counter %llu, expected flows without a rate %zu", name,
                 (unsigned long long)got.totals.sampling_unknown, unknown);
    cr_expect_eq(mismatches, 0, "%zu field mismatches; first: %s", mismatches, first);
    json_decref(want);
    free(got.flows);
    fx_group_free(g);
}

/* One test per group, so that a failure names its capture. */
#define GROUPS(X)                                                                       \
    X(akvorado_data, "akvorado-data")                                                   \
    X(akvorado_data_templates, "akvorado-data+templates")                               \
    X(akvorado_nfv5, "akvorado-nfv5")                                                   \
    X(akvorado_options, "akvorado-options")                                             \
    X(akvorado_samplingrate, "akvorado-samplingrate")                                   \
    X(akvorado_multiplesamplingrates, "akvorado-multiplesamplingrates")                 \
    X(akvorado_nat, "akvorado-nat")                                                     \
    X(akvorado_icmp, "akvorado-icmp")                                                   \
    X(akvorado_mpls, "akvorado-mpls")                                                   \
    X(akvorado_physicalinterfaces, "akvorado-physicalinterfaces")                       \
    X(akvorado_datalink, "akvorado-datalink")                                           \
    X(akvorado_eompls_cw, "akvorado-ethernet-over-mpls-with-control-word")              \
    X(akvorado_ipfix_srv6, "akvorado-ipfix-srv6")                                       \
    X(akvorado_ipfixprobe, "akvorado-ipfixprobe")                                       \
    X(akvorado_juniper_cpid, "akvorado-juniper-cpid")                                   \
    X(pmacct_100, "pmacct-100")                                                         \
    X(pmacct_101, "pmacct-101")                                                         \
    X(pmacct_102, "pmacct-102")                                                         \
    X(pmacct_103, "pmacct-103")                                                         \
    X(pmacct_110, "pmacct-110")

#define GROUP_TEST(id, name) \
    Test(tshark, id) { check_group(name); }
GROUPS(GROUP_TEST)

#define GROUP_NAME(id, name) name,
static const char *const tested_groups[] = { GROUPS(GROUP_NAME) };

/* A group added to the manifest without a test here would go unchecked. */
Test(tshark, every_group_tested)
{
    char **names;
    size_t n = fx_group_names(&names), ntested = sizeof(tested_groups) / sizeof(*tested_groups);

    cr_expect_eq(n, ntested, "groups.json has %zu groups, this file tests %zu", n, ntested);
    for (size_t i = 0; i < n; i++) {
        bool found = false;

        for (size_t k = 0; k < ntested; k++)
            found = found || strcmp(names[i], tested_groups[k]) == 0;
        cr_expect(found, "group %s has no test in test_fixtures.c", names[i]);
    }
    fx_names_free(names, n);
}

/* ------------------------------------------------------------ pmacct */

/* RFC 7270 forwardingStatus (status << 6 | reason) as pmacct prints it
 * (fwd_status_encode_as_string): only the codes we know its words for. */
static const struct {
    uint8_t code;
    const char *name;
} fwd_names[] = {
    { 0, "UNKNOWN Unclassified" },     { 64, "FORWARDED Unknown" },
    { 65, "FORWARDED Fragmented" },    { 66, "FORWARDED Not Fragmented" },
    { 128, "DROPPED Unknown" },        { 192, "CONSUMED Unknown" },
    { 193, "CONSUMED Punt Adjacency" }, { 194, "CONSUMED Incomplete Adjacency" },
    { 195, "CONSUMED For us" },
};

static const char *fwd_name(uint8_t code)
{
    for (size_t i = 0; i < sizeof(fwd_names) / sizeof(*fwd_names); i++)
        if (fwd_names[i].code == code)
            return fwd_names[i].name;
    cr_assert_fail("forwarding status %u: add pmacct's words for it", code);
    return NULL;
}

static const char *proto_name(uint8_t proto)
{
    switch (proto) {
    case 1: return "icmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 58: return "ipv6-icmp";
    default: cr_assert_fail("protocol %u: add pmacct's name for it", proto);
    }
    return NULL;
}

/* pmacct's tcpflags_encode_as_array words, kept sorted for comparison. */
static json_t *tcp_flag_words(uint8_t flags)
{
    static const char *const words[] = { "ACK", "FIN", "PSH", "RST", "SYN", "URG" };
    static const uint8_t bits[] = { 0x10, 0x01, 0x08, 0x04, 0x02, 0x20 };
    json_t *a = json_array();

    for (size_t i = 0; i < 6; i++)
        if (flags & bits[i])
            json_array_append_new(a, json_string(words[i]));
    return a;
}

static json_t *sorted_words(const json_t *arr)
{
    static const char *const words[] = { "ACK", "FIN", "PSH", "RST", "SYN", "URG" };
    json_t *a = json_array();

    for (size_t w = 0; w < 6; w++) {
        size_t i;
        json_t *v;

        json_array_foreach(arr, i, v)
            if (strcmp(json_string_value(v), words[w]) == 0)
                json_array_append_new(a, json_string(words[w]));
    }
    cr_assert_eq(json_array_size(a), json_array_size(arr), "unknown TCP flag word from pmacct");
    return a;
}

/* Exporter address as pmacct saw it: its replay tool rewrites the source of
 * the capture (traffic-reproducer-*.yml: src_ip -> repro_ip). */
struct peer_map {
    fs_ip from[4], to[4];
    size_t n;
};

static void yml_value(const char *line, const char *key, char *out, size_t cap)
{
    const char *p = strstr(line, key);
    size_t n;

    p += strlen(key);
    p += strspn(p, " \t");
    n = strcspn(p, " \t#\r\n");
    cr_assert_lt(n, cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

static void peer_map_add(struct peer_map *m, const char *yml)
{
    char from[64] = "", to[64] = "", *line = NULL;
    size_t cap = 0;
    FILE *fp = fopen(yml, "r");

    cr_assert_not_null(fp, "%s", yml);
    while (getline(&line, &cap, fp) > 0) {
        if (strstr(line, "src_ip:"))
            yml_value(line, "src_ip:", from, sizeof(from));
        else if (strstr(line, "repro_ip:"))
            yml_value(line, "repro_ip:", to, sizeof(to));
    }
    free(line);
    fclose(fp);
    cr_assert_lt(m->n, 4);
    cr_assert_eq(fs_ip_parse(from, &m->from[m->n]), 0, "%s: src_ip %s", yml, from);
    cr_assert_eq(fs_ip_parse(to, &m->to[m->n]), 0, "%s: repro_ip %s", yml, to);
    m->n++;
}

static const fs_ip *peer_of(const struct peer_map *m, const fs_ip *exporter)
{
    for (size_t i = 0; i < m->n; i++)
        if (!memcmp(&m->from[i], exporter, sizeof(*exporter)))
            return &m->to[i];
    cr_assert_fail("exporter not in the traffic-reproducer files");
    return NULL;
}

static json_t *ip_json(const fs_ip *ip)
{
    char buf[FS_IP_STRLEN];

    return json_string(fs_ip_format(ip, buf));
}

/*
 * Whole seconds as pmacct reports a flow time (timestamps_secs: true).
 * IPFIX flowStart/EndMilliseconds: truncated. v9 sysUpTime times: pmacct
 * takes unix_secs - (sysUpTime - t) / 1000 with integer division, so the
 * second it reports is our millisecond time rounded UP (ours is exactly
 * unix_secs * 1000 - (sysUpTime - t), which is what tshark's uptime values
 * give; see PMACCT.md).
 */
static json_int_t pmacct_secs(const struct fs_flow *f, uint64_t ms)
{
    return f->version == 9 ? (json_int_t)((ms + 999) / 1000) : (json_int_t)(ms / 1000);
}

/* The aggregation key pmacct would put our flow under, with pmacct's names
 * and encodings; absent fields are pmacct's defaults (0, [], UNKNOWN). */
static json_t *pmacct_key(const struct fs_flow *f, const struct peer_map *m, bool times)
{
    json_t *k = json_object(), *labels = json_array();
    char buf[32];

    json_object_set_new(k, "peer_ip_src", ip_json(peer_of(m, &f->exporter)));
    json_object_set_new(k, "ip_src", ip_json(&f->src_addr));
    json_object_set_new(k, "ip_dst", ip_json(&f->dst_addr));
    json_object_set_new(k, "port_src", json_integer(f->src_port));
    json_object_set_new(k, "port_dst", json_integer(f->dst_port));
    json_object_set_new(k, "ip_proto", json_string(proto_name(f->proto)));
    json_object_set_new(k, "tos", json_integer(f->tos));
    json_object_set_new(k, "iface_in", json_integer(FS_FLOW_HAS(f, FS_F_IN_IF) ? f->in_if : 0));
    json_object_set_new(k, "iface_out",
                        json_integer(FS_FLOW_HAS(f, FS_F_OUT_IF) ? f->out_if : 0));
    json_object_set_new(k, "mask_src", json_integer(f->src_mask));
    json_object_set_new(k, "mask_dst", json_integer(f->dst_mask));
    json_object_set_new(k, "tcp_flags", tcp_flag_words(f->tcp_flags));
    json_object_set_new(k, "fwd_status", json_string(fwd_name(f->fwd_status)));
    for (unsigned i = 0; i < f->mpls_count; i++) {
        snprintf(buf, sizeof(buf), "%u-%u", i, f->mpls[i] >> 4);
        json_array_append_new(labels, json_string(buf));
    }
    json_object_set_new(k, "mpls_label_stack", labels);
    if (times) {
        json_object_set_new(k, "timestamp_start", json_integer(pmacct_secs(f, f->start_ms)));
        json_object_set_new(k, "timestamp_end", json_integer(pmacct_secs(f, f->end_ms)));
    }
    return k;
}

/* The same key read from one line of pmacct's output. */
static json_t *pmacct_line_key(const json_t *line, bool times)
{
    static const char *const same[] = { "peer_ip_src", "ip_src", "ip_dst", "port_src",
                                        "port_dst", "ip_proto", "tos", "iface_in",
                                        "iface_out", "mask_src", "mask_dst", "fwd_status",
                                        "mpls_label_stack" };
    json_t *k = json_object();

    for (size_t i = 0; i < sizeof(same) / sizeof(*same); i++) {
        json_t *v = json_object_get(line, same[i]);

        cr_assert_not_null(v, "pmacct line without %s", same[i]);
        json_object_set(k, same[i], v);
    }
    json_object_set_new(k, "tcp_flags", sorted_words(json_object_get(line, "tcp_flags")));
    if (times) {
        const char *s = json_string_value(json_object_get(line, "timestamp_start"));
        const char *e = json_string_value(json_object_get(line, "timestamp_end"));

        cr_assert(s && e, "pmacct line without timestamps");
        json_object_set_new(k, "timestamp_start", json_integer((json_int_t)floor(atof(s))));
        json_object_set_new(k, "timestamp_end", json_integer((json_int_t)floor(atof(e))));
    }
    return k;
}

static char *key_text(json_t *k)
{
    char *s = json_dumps(k, JSON_SORT_KEYS | JSON_COMPACT);

    json_decref(k);
    return s;
}

struct pmacct_case {
    const char *group;     /* our fixture group (same captures) */
    const char *dir;       /* pmacct test folder */
    const char *output;    /* output-flow-NN.json */
    const char *ymls[3];   /* traffic-reproducer files */
    uint32_t rate;         /* sampling rate nfacctd applied from its sampling_map (0: none) */
};

/*
 * Aggregates our flows by nfacctd's key (those of its aggregate primitives
 * that we have; the others, nets, RDs, labels, are constant per capture) and
 * compares packets and bytes with every line of pmacct's output, and the
 * number of aggregates.
 */
static void check_pmacct(const struct pmacct_case *pc)
{
    struct fx_group *g = fx_group_load(pc->group);
    struct fs_decoder_config cfg = {0};
    struct fs_decoder *d = fs_decoder_new(&cfg);
    struct peer_map m = {0};
    struct decoded got;
    json_t *ours = json_object(), *theirs, *line;
    char path[512];
    size_t i, compared = 0;
    bool times;

    cr_assert_not_null(d);
    for (i = 0; i < 3 && pc->ymls[i]; i++) {
        snprintf(path, sizeof(path), "%s/pmacct/%s/%s", FS_CAPTURES, pc->dir, pc->ymls[i]);
        peer_map_add(&m, path);
    }
    if (pc->rate)
        for (i = 0; i < m.n; i++)
            cr_assert_eq(fs_decoder_set_sampling(d, &m.from[i], pc->rate, true), 0);
    got = decode_group(g, d);
    snprintf(path, sizeof(path), "%s/pmacct/%s/%s", FS_CAPTURES, pc->dir, pc->output);
    theirs = load_jsonl(path);
    cr_assert_gt(json_array_size(theirs), 0);
    /* Times are part of nfacctd's key when its lines carry them. */
    times = json_object_get(json_array_get(theirs, 0), "timestamp_start") != NULL;

    for (i = 0; i < got.n; i++) {
        const struct fs_flow *f = &got.flows[i];
        char *k = key_text(pmacct_key(f, &m, times));
        json_t *agg = json_object_get(ours, k);

        if (agg == NULL) {
            agg = json_pack("{sIsI}", "packets", (json_int_t)0, "bytes", (json_int_t)0);
            json_object_set_new(ours, k, agg);
        }
        json_object_set_new(agg, "packets", json_integer(json_integer_value(
                                 json_object_get(agg, "packets")) + (json_int_t)f->packets));
        json_object_set_new(agg, "bytes", json_integer(json_integer_value(
                                 json_object_get(agg, "bytes")) + (json_int_t)f->bytes));
        free(k);
    }
    json_array_foreach(theirs, i, line) {
        char *k = key_text(pmacct_line_key(line, times));
        json_t *agg = json_object_get(ours, k);

        cr_expect_not_null(agg, "%s/%s line %zu: no flow of ours under key %s", pc->dir,
                           pc->output, i + 1, k);
        if (agg) {
            json_int_t p = json_integer_value(json_object_get(line, "packets"));
            json_int_t b = json_integer_value(json_object_get(line, "bytes"));

            cr_expect_eq(json_integer_value(json_object_get(agg, "packets")), p,
                         "%s/%s line %zu: packets: pmacct %lld, ours %lld (key %s)", pc->dir,
                         pc->output, i + 1, (long long)p,
                         (long long)json_integer_value(json_object_get(agg, "packets")), k);
            cr_expect_eq(json_integer_value(json_object_get(agg, "bytes")), b,
                         "%s/%s line %zu: bytes: pmacct %lld, ours %lld (key %s)", pc->dir,
                         pc->output, i + 1, (long long)b,
                         (long long)json_integer_value(json_object_get(agg, "bytes")), k);
            compared++;
        }
        free(k);
    }
    cr_expect_eq(json_object_size(ours), json_array_size(theirs),
                 "%s/%s: pmacct has %zu aggregates, our flows make %zu", pc->dir, pc->output,
                 json_array_size(theirs), json_object_size(ours));
    cr_expect_eq(compared, json_array_size(theirs));
    json_decref(ours);
    json_decref(theirs);
    free(got.flows);
    fs_decoder_free(d);
    fx_group_free(g);
}

/* IPFIX from an ASR9k: flows aggregated by nfacctd without times. */
Test(pmacct, ipfix_100)
{
    check_pmacct(&(struct pmacct_case){ "pmacct-100", "100-IPFIXv10-CISCO", "output-flow-00.json",
                                        { "traffic-reproducer-00.yml" }, 0 });
}

/* NetFlow v9 with IPv4 and IPv6 addresses in one template: the v4 flows must
 * come out with their IPv4 addresses (pmacct agrees, so does tshark). Times
 * differ from pmacct's by its whole-second rounding only (pmacct_secs). */
Test(pmacct, nfv9_101)
{
    check_pmacct(&(struct pmacct_case){ "pmacct-101", "101-NFv9-CISCO-cust_primitives",
                                        "output-flow-00.json", { "traffic-reproducer-00.yml" },
                                        0 });
}

/* The capture announces no sampling rate: ours are unscaled and marked
 * sampling_unknown, and pmacct's first run (no matching sampling_map entry)
 * reports the same raw counters. */
Test(pmacct, nfv9_102_unsampled)
{
    check_pmacct(&(struct pmacct_case){ "pmacct-102", "102-NFv9-CISCO-f2rd-pretag-sampling-reload",
                                        "output-flow-00.json", { "traffic-reproducer-00.yml" },
                                        0 });
}

/* pmacct's second run applies 1000 from its reloaded sampling_map
 * (nfacctd_renormalize): ours with the same rate configured as an override
 * must scale to the same numbers. */
Test(pmacct, nfv9_102_sampling_map)
{
    check_pmacct(&(struct pmacct_case){ "pmacct-102", "102-NFv9-CISCO-f2rd-pretag-sampling-reload",
                                        "output-flow-01.json", { "traffic-reproducer-00.yml" },
                                        1000 });
}

Test(pmacct, ipfix_103)
{
    check_pmacct(&(struct pmacct_case){ "pmacct-103", "103-IPFIXv10-CISCO-pretag-JSON_encoding",
                                        "output-flow-00.json", { "traffic-reproducer-00.yml" },
                                        0 });
}

/* Three exporters replayed at once (interleaved by capture time), each
 * rewritten to its own peer address. */
Test(pmacct, multiple_sources_110)
{
    check_pmacct(&(struct pmacct_case){ "pmacct-110", "110-IPFIXv10-NFv9-multiple-sources",
                                        "output-flow-00.json",
                                        { "traffic-reproducer-00.yml", "traffic-reproducer-01.yml",
                                          "traffic-reproducer-02.yml" },
                                        0 });
}
