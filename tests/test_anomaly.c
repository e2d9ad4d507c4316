/*
 * test_anomaly.c - the anomaly event: names, ids, the JSON line (read back
 * with jansson), and the "anomaly" and "summary" bus messages: round trips,
 * per-type sequence numbers, schema version, truncation at every length and
 * byte mutations.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"
#include "msg.h"

static fs_ip ip(const char *s)
{
    fs_ip a;
    cr_assert_eq(fs_ip_parse(s, &a), 0);
    return a;
}

/* A finding with every evidence field set. */
static struct fs_anomaly sample(void)
{
    struct fs_anomaly a;

    memset(&a, 0, sizeof(a));
    a.ts_ms = 1709510400000ull;
    a.end_ms = a.ts_ms + 300000;
    a.host = ip("10.0.0.5");
    a.peer = ip("2001:db8::77");
    a.cls = FS_AC_EXFILTRATION;
    a.severity = FS_SEV_HIGH;
    a.score = 72.5;
    a.z = 9.25;
    snprintf(a.metric, sizeof(a.metric), "bytes_out");
    a.observed = 300000000;
    a.expected = 125000.5;
    a.std = 30000;
    a.q1 = 100000;
    a.q3 = 150000;
    a.iqr_low = 25000;
    a.iqr_high = 225000;
    a.samples = 96;
    a.npeers = 2;
    a.top_peers[0].addr = ip("203.0.113.77");
    a.top_peers[0].value = 299000000;
    a.top_peers[1].addr = ip("198.51.100.1");
    a.top_peers[1].value = 1000000;
    a.nports = 1;
    a.top_ports[0].port = 443;
    a.top_ports[0].proto = 6;
    a.top_ports[0].value = 300000000;
    fs_anomaly_extra(&a, "robust_z", 11.5);
    fs_anomaly_extra(&a, "external_share", 0.99);
    fs_anomaly_set_id(&a);
    return a;
}

Test(anomaly, class_and_severity_names)
{
    static const char *const names[FS_AC_COUNT] = {
        "volume_spike", "exfiltration", "beaconing", "port_scan", "host_sweep",
        "lateral_movement", "new_port", "ddos", "dns_tunnel", "brute_force", "protocol_anomaly" };
    enum fs_anomaly_class c;

    for (int i = 0; i < FS_AC_COUNT; i++) {
        cr_expect_str_eq(fs_anomaly_class_name((enum fs_anomaly_class)i), names[i]);
        cr_expect_eq(fs_anomaly_class_parse(names[i], &c), 0);
        cr_expect_eq(c, (enum fs_anomaly_class)i);
    }
    cr_expect_null(fs_anomaly_class_name(FS_AC_COUNT));
    cr_expect_eq(fs_anomaly_class_parse("volume", &c), -1);
    cr_expect_str_eq(fs_severity_name(FS_SEV_LOW), "low");
    cr_expect_str_eq(fs_severity_name(FS_SEV_CRITICAL), "critical");
    cr_expect_null(fs_severity_name((enum fs_severity)4));
}

Test(anomaly, id_depends_on_class_host_peer_and_window)
{
    struct fs_anomaly a = sample(), b = sample();

    cr_expect_eq(a.id, b.id);
    b.score = 1; /* evidence does not change the finding's identity */
    fs_anomaly_set_id(&b);
    cr_expect_eq(a.id, b.id);
    b.ts_ms += 300000;
    fs_anomaly_set_id(&b);
    cr_expect_neq(a.id, b.id);
    b = sample();
    b.cls = FS_AC_BEACONING;
    fs_anomaly_set_id(&b);
    cr_expect_neq(a.id, b.id);
    b = sample();
    b.peer.af = 0;
    fs_anomaly_set_id(&b);
    cr_expect_neq(a.id, b.id);
    /* Bytes an IPv4 address does not use do not count. */
    b = sample();
    struct fs_anomaly c = sample();
    c.host.b[10] = 0x55;
    fs_anomaly_set_id(&c);
    cr_expect_eq(b.id, c.id);
}

Test(anomaly, extras_stop_at_the_limit)
{
    struct fs_anomaly a;
    memset(&a, 0, sizeof(a));
    for (int i = 0; i < FS_ANOMALY_EXTRA + 3; i++)
        fs_anomaly_extra(&a, "k", i);
    cr_expect_eq(a.nextra, FS_ANOMALY_EXTRA);
    cr_expect_eq(a.extra[FS_ANOMALY_EXTRA - 1].value, FS_ANOMALY_EXTRA - 1);
}

Test(anomaly, json_line_reads_back)
{
    struct fs_anomaly a = sample();
    char line[FS_ANOMALY_JSON_MAX], id[17];
    json_error_t je;

    int n = fs_anomaly_json(&a, line, sizeof(line));
    cr_assert_gt(n, 0);
    cr_expect_eq((size_t)n, strlen(line));
    cr_expect_null(strchr(line, '\n'));
    json_t *j = json_loads(line, 0, &je);
    cr_assert_not_null(j, "%s: %s", je.text, line);
    snprintf(id, sizeof(id), "%016llx", (unsigned long long)a.id);
    cr_expect_str_eq(json_string_value(json_object_get(j, "id")), id);
    cr_expect_eq(json_integer_value(json_object_get(j, "ts")), 1709510400000ll);
    cr_expect_eq(json_integer_value(json_object_get(j, "end_ms")), 1709510700000ll);
    cr_expect_str_eq(json_string_value(json_object_get(j, "host")), "10.0.0.5");
    cr_expect_str_eq(json_string_value(json_object_get(j, "peer")), "2001:db8::77");
    cr_expect_str_eq(json_string_value(json_object_get(j, "class")), "exfiltration");
    cr_expect_str_eq(json_string_value(json_object_get(j, "severity")), "high");
    cr_expect_eq(json_number_value(json_object_get(j, "score")), 72.5);
    cr_expect_eq(json_number_value(json_object_get(j, "z")), 9.25);
    json_t *ev = json_object_get(j, "evidence");
    cr_expect_str_eq(json_string_value(json_object_get(ev, "metric")), "bytes_out");
    cr_expect_eq(json_number_value(json_object_get(ev, "observed")), 300000000);
    cr_expect_eq(json_number_value(json_object_get(ev, "expected")), 125000.5);
    cr_expect_eq(json_number_value(json_object_get(ev, "iqr_high")), 225000);
    cr_expect_eq(json_integer_value(json_object_get(ev, "samples")), 96);
    json_t *peers = json_object_get(ev, "top_peers");
    cr_expect_eq(json_array_size(peers), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(peers, 0), "addr")),
                     "203.0.113.77");
    json_t *port = json_array_get(json_object_get(ev, "top_ports"), 0);
    cr_expect_eq(json_integer_value(json_object_get(port, "port")), 443);
    cr_expect_eq(json_integer_value(json_object_get(port, "proto")), 6);
    json_t *ex = json_object_get(ev, "extras");
    cr_expect_eq(json_number_value(json_object_get(ex, "robust_z")), 11.5);
    cr_expect_eq(json_number_value(json_object_get(ex, "external_share")), 0.99);
    json_decref(j);
}

Test(anomaly, json_handles_odd_values)
{
    struct fs_anomaly a = sample();
    char line[FS_ANOMALY_JSON_MAX];
    json_error_t je;

    a.peer.af = 0;
    a.z = NAN;
    a.std = INFINITY;
    snprintf(a.metric, sizeof(a.metric), "a\"b\\c\n");
    memset(a.extra[0].key, 'x', sizeof(a.extra[0].key)); /* not terminated */
    cr_assert_gt(fs_anomaly_json(&a, line, sizeof(line)), 0);
    json_t *j = json_loads(line, 0, &je);
    cr_assert_not_null(j, "%s: %s", je.text, line);
    cr_expect_null(json_object_get(j, "peer"));
    cr_expect(json_is_null(json_object_get(j, "z")));
    json_t *ev = json_object_get(j, "evidence");
    cr_expect(json_is_null(json_object_get(ev, "std")));
    cr_expect_str_eq(json_string_value(json_object_get(ev, "metric")), "a\"b\\c\n");
    cr_expect_eq(json_object_size(json_object_get(ev, "extras")), 2);
    json_decref(j);
    /* Too small a buffer: refused, not cut. */
    cr_expect_eq(fs_anomaly_json(&a, line, 40), -1);
    cr_expect_eq(fs_anomaly_json(&a, line, 0), -1);
}

Test(anomaly, json_number_format)
{
    char b[FS_JSON_NUM_MAX];
    cr_expect_str_eq(fs_json_num(1709510400000.0, b), "1709510400000");
    cr_expect_str_eq(fs_json_num(0.125, b), "0.125");
    cr_expect_str_eq(fs_json_num(2.0 / 3.0, b), "0.6666666667");
    cr_expect_str_eq(fs_json_num(290351525800.25, b), "290351525800");
    cr_expect_str_eq(fs_json_num(123456.789, b), "123456.789");
    cr_expect_str_eq(fs_json_num(1e300, b), "1e+300");
    cr_expect_str_eq(fs_json_num(NAN, b), "null");
    cr_expect_str_eq(fs_json_num(-INFINITY, b), "null");
}

/* ------------------------------------------------------------------ */
/* Bus messages. */

static void expect_same_anomaly(const struct fs_anomaly *x, const struct fs_anomaly *y)
{
    cr_expect_eq(x->id, y->id);
    cr_expect_eq(x->ts_ms, y->ts_ms);
    cr_expect_eq(x->end_ms, y->end_ms);
    cr_expect_eq(memcmp(&x->host, &y->host, sizeof(fs_ip)), 0);
    cr_expect_eq(x->peer.af, y->peer.af);
    cr_expect_eq(memcmp(x->peer.b, y->peer.b, 16), 0);
    cr_expect_eq(x->cls, y->cls);
    cr_expect_eq(x->severity, y->severity);
    cr_expect_eq(x->score, y->score);
    cr_expect_eq(x->z, y->z);
    cr_expect_str_eq(x->metric, y->metric);
    cr_expect_eq(x->observed, y->observed);
    cr_expect_eq(x->expected, y->expected);
    cr_expect_eq(x->std, y->std);
    cr_expect_eq(x->q1, y->q1);
    cr_expect_eq(x->q3, y->q3);
    cr_expect_eq(x->iqr_low, y->iqr_low);
    cr_expect_eq(x->iqr_high, y->iqr_high);
    cr_expect_eq(x->samples, y->samples);
    cr_assert_eq(x->npeers, y->npeers);
    for (int i = 0; i < x->npeers; i++) {
        cr_expect_eq(memcmp(&x->top_peers[i].addr, &y->top_peers[i].addr, sizeof(fs_ip)), 0);
        cr_expect_eq(x->top_peers[i].value, y->top_peers[i].value);
    }
    cr_assert_eq(x->nports, y->nports);
    for (int i = 0; i < x->nports; i++) {
        cr_expect_eq(x->top_ports[i].port, y->top_ports[i].port);
        cr_expect_eq(x->top_ports[i].proto, y->top_ports[i].proto);
        cr_expect_eq(x->top_ports[i].value, y->top_ports[i].value);
    }
    cr_assert_eq(x->nextra, y->nextra);
    for (int i = 0; i < x->nextra; i++) {
        cr_expect_str_eq(x->extra[i].key, y->extra[i].key);
        cr_expect_eq(x->extra[i].value, y->extra[i].value);
    }
}

Test(anomaly_msg, round_trip)
{
    struct fs_events_writer *w = fs_events_writer_new("analyzer@test");
    struct fs_anomaly a = sample();
    struct fs_msg m;
    const void *buf;
    size_t len;
    char err[256];

    cr_assert_not_null(w);
    cr_assert_eq(fs_msg_anomaly(w, &a, &buf, &len), 0);
    cr_assert_eq(fs_msg_decode(buf, len, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.type, FS_MSG_ANOMALY);
    cr_expect_str_eq(m.sender, "analyzer@test");
    cr_expect_eq(m.seq, 0);
    cr_assert_not_null(m.anomaly);
    expect_same_anomaly(&a, m.anomaly);
    fs_msg_free(&m);
    cr_expect_null(m.anomaly);

    /* No peer travels as nil and comes back unset. */
    memset(&a.peer, 0, sizeof(a.peer));
    a.npeers = 0;
    a.nextra = 0;
    cr_assert_eq(fs_msg_anomaly(w, &a, &buf, &len), 0);
    cr_assert_eq(fs_msg_decode(buf, len, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.seq, 1);
    expect_same_anomaly(&a, m.anomaly);
    fs_msg_free(&m);
    cr_expect_str_eq(fs_msg_type_name(FS_MSG_ANOMALY), "anomaly");
    cr_expect_str_eq(fs_msg_type_name(FS_MSG_SUMMARY), "summary");
    fs_events_writer_free(w);
}

Test(anomaly_msg, refuses_what_it_cannot_carry)
{
    struct fs_events_writer *w = fs_events_writer_new("analyzer@test");
    struct fs_anomaly a = sample();
    const void *buf;
    size_t len;

    a.host.af = 0;
    cr_expect_eq(fs_msg_anomaly(w, &a, &buf, &len), -1);
    a = sample();
    a.cls = FS_AC_COUNT;
    cr_expect_eq(fs_msg_anomaly(w, &a, &buf, &len), -1);
    cr_expect_null(fs_events_writer_new(""));
    fs_events_writer_free(w);
}

/* Every proper prefix of a message is refused without a crash. */
static void expect_prefixes_refused(const void *buf, size_t len)
{
    struct fs_msg m;
    char err[256];

    for (size_t n = 0; n < len; n++) {
        cr_expect_eq(fs_msg_decode(buf, n, &m, err, sizeof(err)), -1, "prefix %zu accepted", n);
        cr_expect_null(m.mem);
    }
}

Test(anomaly_msg, truncation_at_every_length)
{
    struct fs_events_writer *w = fs_events_writer_new("analyzer@test");
    struct fs_anomaly a = sample();
    const void *buf;
    size_t len;
    struct fs_msg m;
    char err[256];

    cr_assert_eq(fs_msg_anomaly(w, &a, &buf, &len), 0);
    expect_prefixes_refused(buf, len);
    cr_expect_eq(fs_msg_decode(buf, len - 1, &m, err, sizeof(err)), -1);
    cr_expect(strstr(err, "truncated") != NULL, "%s", err);
    fs_events_writer_free(w);
}

/* Replaces the first occurrence of `from` in the message with `to` (same
 * length), so the message stays well-formed. */
static void patch(uint8_t *buf, size_t len, const char *from, const char *to)
{
    size_t n = strlen(from);
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(buf + i, from, n) == 0) {
            memcpy(buf + i, to, n);
            return;
        }
    }
    cr_assert_fail("'%s' not in the message", from);
}

/* Decodes `msg` with `from` patched to `to` and expects it refused with `why`. */
static void expect_patch_refused(const void *msg, size_t len, const char *from, const char *to,
                                 const char *why)
{
    uint8_t *copy = malloc(len);
    struct fs_msg m;
    char err[256];

    cr_assert_not_null(copy);
    memcpy(copy, msg, len);
    patch(copy, len, from, to);
    cr_expect_eq(fs_msg_decode(copy, len, &m, err, sizeof(err)), -1, "%s", why);
    cr_expect_str_eq(err, why);
    free(copy);
}

Test(anomaly_msg, version_and_content_checks)
{
    struct fs_events_writer *w = fs_events_writer_new("analyzer@test");
    struct fs_anomaly a = sample();
    const void *buf;
    size_t len;
    struct fs_msg m;
    char err[256];
    uint8_t copy[4096];

    cr_assert_eq(fs_msg_anomaly(w, &a, &buf, &len), 0);
    cr_assert_lt(len, sizeof(copy));

    /* "v": 1 is the bytes a1 76 01; make it 2. */
    expect_patch_refused(buf, len, "\xa1v\x01", "\xa1v\x02",
                         "schema version 2 not supported (this build reads 1)");

    expect_patch_refused(buf, len, "exfiltration", "exfiltrati0n",
                         "unknown anomaly class \"exfiltrati0n\"");

    expect_patch_refused(buf, len, "\xa4host", "\xa4hosT", "missing \"host\"");

    expect_patch_refused(buf, len, "\xa2q1", "\xa2q3", "evidence: duplicate key \"q3\"");

    /* An unknown key is skipped. */
    expect_patch_refused(buf, len, "\xa1z", "\xa1y", "missing \"z\"");
    memcpy(copy, buf, len);
    patch(copy, len, "\xa3std", "\xa3sTd");
    cr_assert_eq(fs_msg_decode(copy, len, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.anomaly->std, 0);
    cr_expect_eq(m.anomaly->q1, a.q1);
    fs_msg_free(&m);
    fs_events_writer_free(w);
}

static struct fs_summary_talker talkers[3];
static struct fs_summary_port ports[2];
static struct fs_summary_proto protos[2];
static struct fs_summary_host host_stats[2];

static struct fs_summary sample_summary(void)
{
    struct fs_summary s;

    memset(&s, 0, sizeof(s));
    s.ts_ms = 1709510400000ull;
    s.end_ms = s.ts_ms + 3600000;
    s.bytes = 123456789012ull;
    s.packets = 98765432;
    s.flows = 4321;
    s.hosts = 250;
    s.anomalies = 3;
    for (int h = 0; h < 24; h++) {
        s.hour_of_day[h].samples = (uint32_t)h;
        for (int m = 0; m < FS_SUMMARY_NMETRICS; m++) {
            s.hour_of_day[h].mean[m] = h * 1000.5 + m;
            s.hour_of_day[h].std[m] = h * 10.25 + m;
        }
    }
    for (int d = 0; d < 7; d++) {
        s.day_of_week[d].samples = (uint32_t)d + 100;
        s.day_of_week[d].mean[FS_SUMMARY_FLOWS] = d * 0.5;
    }
    talkers[0] = (struct fs_summary_talker){ ip("10.0.0.1"), 5000, 7000, 12, 3000.5, 3.25 };
    talkers[1] = (struct fs_summary_talker){ ip("fd00::2"), 400, 0, 1, 0, -0.5 };
    talkers[2] = (struct fs_summary_talker){ ip("10.0.0.3"), 1, 2, 3, 4, 5 };
    ports[0] = (struct fs_summary_port){ 6, 443, 4000, 1234567 };
    ports[1] = (struct fs_summary_port){ 17, 53, 300, 45000 };
    protos[0] = (struct fs_summary_proto){ 6, 4000, 90000000, 123456000000ull };
    protos[1] = (struct fs_summary_proto){ 58, 2, 4, 400 };
    s.talkers = talkers;
    s.ntalkers = 3;
    s.ports = ports;
    s.nports = 2;
    s.protos = protos;
    s.nprotos = 2;
    memset(host_stats, 0, sizeof(host_stats));
    host_stats[0].addr = ip("10.0.0.1");
    host_stats[0].bytes_out = 5000;
    host_stats[0].bytes_in = 7000;
    host_stats[0].packets = 90;
    host_stats[0].flows = 12;
    for (int m = 0; m < FS_SUMMARY_HOST_METRICS; m++)
        host_stats[0].base[m] = (struct fs_summary_stat){ 100u + (uint32_t)m, m + 0.5, m * 2.0,
                                                          m + 0.25, m - 1.0, m + 3.0 };
    host_stats[1].addr = ip("fd00::2");
    s.host_stats = host_stats;
    s.nhost_stats = 2;
    return s;
}

Test(summary_msg, round_trip)
{
    struct fs_events_writer *w = fs_events_writer_new("analyzer@test");
    struct fs_summary s = sample_summary();
    struct fs_anomaly a = sample();
    struct fs_msg m;
    const void *buf;
    size_t len;
    char err[256];

    /* An anomaly first: summaries count their own sequence. */
    cr_assert_eq(fs_msg_anomaly(w, &a, &buf, &len), 0);
    fs_events_writer_journal(w, 0xfeedfacecafebeefull, 77);
    cr_assert_eq(fs_msg_summary(w, &s, &buf, &len), 0);
    cr_assert_eq(fs_msg_decode(buf, len, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.type, FS_MSG_SUMMARY);
    cr_expect_eq(m.seq, 0);
    cr_expect_eq(m.journal_id, 0xfeedfacecafebeefull);
    cr_expect_eq(m.jseq, 77);
    const struct fs_summary *r = m.summary;
    cr_assert_not_null(r);
    cr_expect_eq(r->ts_ms, s.ts_ms);
    cr_expect_eq(r->end_ms, s.end_ms);
    cr_expect_eq(r->bytes, s.bytes);
    cr_expect_eq(r->packets, s.packets);
    cr_expect_eq(r->flows, s.flows);
    cr_expect_eq(r->hosts, 250);
    cr_expect_eq(r->anomalies, 3);
    for (int h = 0; h < 24; h++) {
        cr_expect_eq(r->hour_of_day[h].samples, (uint32_t)h);
        for (int k = 0; k < FS_SUMMARY_NMETRICS; k++) {
            cr_expect_eq(r->hour_of_day[h].mean[k], s.hour_of_day[h].mean[k]);
            cr_expect_eq(r->hour_of_day[h].std[k], s.hour_of_day[h].std[k]);
        }
    }
    cr_expect_eq(r->day_of_week[6].samples, 106);
    cr_expect_eq(r->day_of_week[6].mean[FS_SUMMARY_FLOWS], 3.0);
    cr_assert_eq(r->ntalkers, 3);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(memcmp(&r->talkers[i].addr, &talkers[i].addr, sizeof(fs_ip)), 0);
        cr_expect_eq(r->talkers[i].bytes_out, talkers[i].bytes_out);
        cr_expect_eq(r->talkers[i].bytes_in, talkers[i].bytes_in);
        cr_expect_eq(r->talkers[i].flows, talkers[i].flows);
        cr_expect_eq(r->talkers[i].expected, talkers[i].expected);
        cr_expect_eq(r->talkers[i].z, talkers[i].z);
    }
    cr_assert_eq(r->nports, 2);
    cr_expect_eq(r->ports[1].proto, 17);
    cr_expect_eq(r->ports[1].port, 53);
    cr_expect_eq(r->ports[1].flows, 300);
    cr_expect_eq(r->ports[1].bytes, 45000);
    cr_assert_eq(r->nprotos, 2);
    cr_expect_eq(r->protos[0].bytes, 123456000000ull);
    cr_expect_eq(r->protos[1].proto, 58);
    cr_assert_eq(r->nhost_stats, 2);
    cr_expect_eq(memcmp(&r->host_stats[0].addr, &host_stats[0].addr, sizeof(fs_ip)), 0);
    cr_expect_eq(memcmp(&r->host_stats[1].addr, &host_stats[1].addr, sizeof(fs_ip)), 0);
    cr_expect_eq(r->host_stats[0].bytes_out, 5000);
    cr_expect_eq(r->host_stats[0].bytes_in, 7000);
    cr_expect_eq(r->host_stats[0].packets, 90);
    cr_expect_eq(r->host_stats[0].flows, 12);
    for (int k = 0; k < FS_SUMMARY_HOST_METRICS; k++) {
        const struct fs_summary_stat *got = &r->host_stats[0].base[k], *want = &host_stats[0].base[k];
        cr_expect_eq(got->samples, want->samples, "%s", fs_summary_metric_name((unsigned)k));
        cr_expect_eq(got->mean, want->mean);
        cr_expect_eq(got->std, want->std);
        cr_expect_eq(got->median, want->median);
        cr_expect_eq(got->q1, want->q1);
        cr_expect_eq(got->q3, want->q3);
    }
    cr_expect_eq(r->host_stats[1].base[3].samples, 0);
    fs_msg_free(&m);

    /* Empty lists are fine, and the journal stamp was for one message only. */
    s.ntalkers = s.nports = s.nprotos = s.nhost_stats = 0;
    cr_assert_eq(fs_msg_summary(w, &s, &buf, &len), 0);
    cr_assert_eq(fs_msg_decode(buf, len, &m, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(m.seq, 1);
    cr_expect_eq(m.summary->ntalkers, 0);
    cr_expect_eq(m.summary->nhost_stats, 0);
    cr_expect_eq(m.jseq, 0);
    cr_expect_eq(m.journal_id, 0);
    fs_msg_free(&m);
    fs_events_writer_free(w);
}

Test(summary_msg, truncation_and_limits)
{
    struct fs_events_writer *w = fs_events_writer_new("analyzer@test");
    struct fs_summary s = sample_summary();
    const void *buf;
    size_t len;

    cr_assert_eq(fs_msg_summary(w, &s, &buf, &len), 0);
    expect_prefixes_refused(buf, len);
    s.ntalkers = FS_SUMMARY_MAX_LIST + 1;
    cr_expect_eq(fs_msg_summary(w, &s, &buf, &len), -1);
    fs_events_writer_free(w);
}

Test(summary_msg, bad_content_is_refused_with_a_reason)
{
    struct fs_events_writer *w = fs_events_writer_new("analyzer@test");
    struct fs_summary s = sample_summary();
    const void *buf;
    size_t len;

    cr_assert_eq(fs_msg_summary(w, &s, &buf, &len), 0);
    expect_patch_refused(buf, len, "\xa5ts_ms", "\xa5ts_ns", "missing \"ts_ms\"");
    /* "hosts" renamed "flows": a known key twice. */
    expect_patch_refused(buf, len, "\xa5hosts", "\xa5\x66lows", "duplicate key \"flows\"");
    fs_events_writer_free(w);
}

/* Every byte of both messages changed to a few values: decoded or refused,
 * never a crash or a leak (run under ASan). */
Test(anomaly_msg, mutations_never_crash)
{
    static const uint8_t values[] = { 0x00, 0x7f, 0x80, 0xc0, 0xc1, 0xcb, 0xdc, 0xdf, 0xff };
    struct fs_events_writer *w = fs_events_writer_new("analyzer@test");
    struct fs_anomaly a = sample();
    struct fs_summary s = sample_summary();
    uint8_t copy[8192];
    const void *buf;
    size_t len;
    struct fs_msg m;
    char err[256];
    unsigned refused = 0;

    for (int kind = 0; kind < 2; kind++) {
        if (kind == 0)
            cr_assert_eq(fs_msg_anomaly(w, &a, &buf, &len), 0);
        else
            cr_assert_eq(fs_msg_summary(w, &s, &buf, &len), 0);
        cr_assert_lt(len, sizeof(copy));
        for (size_t i = 0; i < len; i++) {
            for (size_t v = 0; v < sizeof(values); v++) {
                memcpy(copy, buf, len);
                copy[i] = values[v];
                if (fs_msg_decode(copy, len, &m, err, sizeof(err)) == 0)
                    fs_msg_free(&m);
                else
                    refused++;
            }
        }
    }
    cr_expect_gt(refused, 0);
    fs_events_writer_free(w);
}
