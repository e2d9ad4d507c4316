/*
 * test_rsyslog.c - the reporter's syslog outputs (reporter/output.h) against
 * a real rsyslogd (Debian's rsyslog and rsyslog-gnutls) on loopback.
 *
 * rsyslogd writes every message it parsed as one JSON object
 * (tests/helpers/rsyslog.h); the tests compare each field with what was
 * sent:
 *   - UDP, TCP with octet counting (a message with a line feed inside stays
 *     one message) and TLS with the server verified against the CA the test
 *     made, by name and by IP address;
 *   - TLS against a CA that did not sign the server, or under a name the
 *     certificate does not hold, fails with a clear error and delivers
 *     nothing;
 *   - rsyslogd stopped and started again: the TCP and TLS outputs notice the
 *     closed connection, reconnect after the backoff, and what they send
 *     afterwards arrives;
 *   - alerts formatted by reporter/format.c (RFC 5424 with the anomaly in
 *     structured data, RFC 3164, RFC 5424 with an EVE body) are parsed by
 *     rsyslog into the header fields they were given, every SD-PARAM
 *     survives (the test parses rsyslog's structured data itself), and a
 *     hostile metric name cannot open a second SD element or end the SD;
 *   - the rsyslog configuration and the reporter outputs that
 *     docs/syslog-transports.md shows work together as printed.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../reporter/config.h" /* not the collector's config.h */
#include "format.h"
#include "output.h"
#include "proc.h"
#include "rsyslog.h"

static struct rsyslog rs;
static char err[512];

static void setup(void)
{
    cr_assert_eq(rsyslog_start(&rs, RSYSLOG_UDP | RSYSLOG_TCP | RSYSLOG_TLS), 0,
                 "rsyslogd did not start");
}

static void teardown(void)
{
    rsyslog_cleanup(&rs);
}

TestSuite(rsyslog, .init = setup, .fini = teardown, .timeout = 30);

static char port_buf[3][8];

static const char *port_str(int i, int port)
{
    snprintf(port_buf[i], sizeof(port_buf[i]), "%d", port);
    return port_buf[i];
}

static struct fs_rp_out *open_out(enum fs_rp_transport t, const char *host,
                                  const char *ca, const char *server_name)
{
    struct fs_rp_out_opts o = {
        .transport = t,
        .host = host,
        .port = t == FS_RP_T_UDP   ? port_str(0, rs.udp_port)
                : t == FS_RP_T_TCP ? port_str(1, rs.tcp_port)
                                   : port_str(2, rs.tls_port),
        .ca_file = ca,
        .server_name = server_name,
        .timeout_ms = 3000,
    };
    struct fs_rp_out *out = fs_rp_out_new(&o, err, sizeof(err));

    cr_assert_not_null(out, "fs_rp_out_new: %s", err);
    return out;
}

static void send_ok(struct fs_rp_out *out, const char *msg)
{
    cr_assert_eq(fs_rp_out_send(out, msg, strlen(msg), (uint64_t)fs_now_ms(), err, sizeof(err)),
                 0, "%s: %s", fs_rp_out_name(out), err);
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    cr_assert(json_is_string(v), "field %s missing or of the wrong type", key);
    return json_string_value(v);
}

static json_int_t num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    cr_assert(json_is_integer(v), "field %s missing or of the wrong type", key);
    return json_integer_value(v);
}

/* Waits for exactly `want` lines (and a moment more, to catch extras). */
static size_t lines_exactly(size_t want, void ***lines)
{
    size_t n = rsyslog_lines(&rs, want, 5000, lines);

    if (n == want) {
        rsyslog_lines_free(*lines, n);
        n = rsyslog_lines(&rs, want + 1, 300, lines);
    }
    cr_assert_eq(n, want, "rsyslog wrote %zu messages, want %zu", n, want);
    return n;
}

#define SD "[flowsentry@32473 id=\"42\" class=\"scan\" note=\"a \\\"quoted\\\" \\] value\"]" \
           "[origin ip=\"192.0.2.7\"]"

/* Every field rsyslog parsed out of `sent`, which was built as
 * "<PRI>1 TS HOST APP PROCID MSGID SD MSG". */
static void check_fields(json_t *j, const char *sent, int pri, const char *ts, const char *host,
                         const char *app, const char *procid, const char *msgid,
                         const char *sd, const char *msg, const char *input)
{
    cr_expect_eq(num(j, "pri"), pri);
    cr_expect_eq(num(j, "facility"), pri / 8);
    cr_expect_eq(num(j, "severity"), pri % 8);
    cr_expect_str_eq(str(j, "timestamp"), ts);
    cr_expect_str_eq(str(j, "hostname"), host);
    cr_expect_str_eq(str(j, "app"), app);
    cr_expect_str_eq(str(j, "procid"), procid);
    cr_expect_str_eq(str(j, "msgid"), msgid);
    cr_expect_str_eq(str(j, "sd"), sd);
    cr_expect_str_eq(str(j, "msg"), msg);
    cr_expect_str_eq(str(j, "raw"), sent);
    cr_expect_str_eq(str(j, "input"), input);
}

Test(rsyslog, udp_every_field)
{
    const char *m = "<131>1 2024-05-06T07:08:09.123Z sensor-1 flowsentry 4711 anomaly " SD
                    " port scan from 192.0.2.7";
    struct fs_rp_out *out = open_out(FS_RP_T_UDP, "127.0.0.1", NULL, NULL);
    void **l;

    send_ok(out, m);
    lines_exactly(1, &l);
    check_fields(l[0], m, 131, "2024-05-06T07:08:09.123Z", "sensor-1", "flowsentry", "4711",
                 "anomaly", SD, "port scan from 192.0.2.7", "udp");
    cr_expect_eq(fs_rp_out_counters(out)->sent, 1);
    cr_expect_eq(fs_rp_out_counters(out)->bytes, strlen(m));
    rsyslog_lines_free(l, 1);
    fs_rp_out_free(out);
}

Test(rsyslog, tcp_octet_counting_keeps_line_feeds)
{
    const char *m[] = {
        "<134>1 2024-05-06T07:08:09Z h1 app 1 m1 - first",
        "<134>1 2024-05-06T07:08:10Z h1 app 1 m2 " SD " two\nlines, one message",
        "<165>1 2024-05-06T07:08:11.000001+02:00 h2 app2 - - - third",
    };
    struct fs_rp_out *out = open_out(FS_RP_T_TCP, "127.0.0.1", NULL, NULL);
    void **l;

    for (int i = 0; i < 3; i++)
        send_ok(out, m[i]);
    lines_exactly(3, &l);
    check_fields(l[0], m[0], 134, "2024-05-06T07:08:09Z", "h1", "app", "1", "m1", "-", "first",
                 "tcp");
    check_fields(l[1], m[1], 134, "2024-05-06T07:08:10Z", "h1", "app", "1", "m2", SD,
                 "two\nlines, one message", "tcp");
    check_fields(l[2], m[2], 165, "2024-05-06T07:08:11.000001+02:00", "h2", "app2", "-", "-",
                 "-", "third", "tcp");
    cr_expect_eq(fs_rp_out_counters(out)->connects, 1);
    cr_expect_eq(fs_rp_out_check(out, err, sizeof(err)), 0, "%s", err);
    rsyslog_lines_free(l, 3);
    fs_rp_out_free(out);
}

Test(rsyslog, tls_verified_by_name_and_by_address)
{
    const char *m1 = "<132>1 2024-05-06T07:08:09.5Z h3 flowsentry 9 anomaly " SD " over TLS";
    const char *m2 = "<133>1 2024-05-06T07:08:10.5Z h3 flowsentry 9 anomaly - by address";
    struct fs_rp_out *byname = open_out(FS_RP_T_TLS, "localhost", rs.ca, NULL);
    struct fs_rp_out *byip = open_out(FS_RP_T_TLS, "127.0.0.1", rs.ca, NULL);
    void **l;

    send_ok(byname, m1);
    lines_exactly(1, &l);
    rsyslog_lines_free(l, 1);
    send_ok(byip, m2);
    lines_exactly(2, &l);
    check_fields(l[0], m1, 132, "2024-05-06T07:08:09.5Z", "h3", "flowsentry", "9", "anomaly",
                 SD, "over TLS", "tls");
    check_fields(l[1], m2, 133, "2024-05-06T07:08:10.5Z", "h3", "flowsentry", "9", "anomaly",
                 "-", "by address", "tls");
    cr_expect_eq(fs_rp_out_counters(byname)->connects, 1);
    cr_expect(fs_rp_out_connected(byname));
    rsyslog_lines_free(l, 2);
    fs_rp_out_free(byname);
    fs_rp_out_free(byip);
}

/* A TLS output that must not deliver: the send fails with a reason
 * containing `why`, nothing reaches rsyslog, and the failure is counted. */
static void tls_refused(struct fs_rp_out *out, const char *why)
{
    const char *m = "<131>1 - - - - - - secret";
    void **l;
    size_t n;

    cr_assert_eq(fs_rp_out_send(out, m, strlen(m), (uint64_t)fs_now_ms(), err, sizeof(err)), -1,
                 "TLS to an unverifiable server succeeded");
    cr_expect(strstr(err, why) != NULL, "error \"%s\" lacks \"%s\"", err, why);
    cr_expect(strstr(err, fs_rp_out_name(out)) != NULL, "error \"%s\" names no output", err);
    cr_expect_not(fs_rp_out_connected(out));
    cr_expect_eq(fs_rp_out_counters(out)->errors, 1);
    cr_expect_eq(fs_rp_out_counters(out)->sent, 0);
    cr_expect_eq(fs_rp_out_counters(out)->connects, 0);
    cr_expect_gt(fs_rp_out_backoff_left(out, (uint64_t)fs_now_ms()), 0);
    n = rsyslog_lines(&rs, 1, 500, &l);
    cr_expect_eq(n, 0, "rsyslog got %zu messages over an unverified connection", n);
    rsyslog_lines_free(l, n);
}

Test(rsyslog, tls_other_ca_refused)
{
    char other[320];
    struct fs_rp_out *out;

    cr_assert_eq(rsyslog_other_ca(&rs, other, sizeof(other)), 0);
    out = open_out(FS_RP_T_TLS, "localhost", other, NULL);
    tls_refused(out, "NOT trusted");
    fs_rp_out_free(out);
}

Test(rsyslog, tls_wrong_name_refused)
{
    struct fs_rp_out *out = open_out(FS_RP_T_TLS, "127.0.0.1", rs.ca, "syslog.example.org");

    tls_refused(out, "does not match");
    cr_expect(strstr(err, "syslog.example.org") != NULL, "error \"%s\" lacks the name", err);
    fs_rp_out_free(out);
}

/* Polls fs_rp_out_check() until it reports the closed connection. */
static void wait_closed(struct fs_rp_out *out)
{
    long long deadline = fs_now_ms() + 5000;
    struct timespec ts = { 0, 20 * 1000000L };

    while (fs_rp_out_check(out, err, sizeof(err)) == 0) {
        cr_assert_lt(fs_now_ms(), deadline, "%s: closed connection not noticed",
                     fs_rp_out_name(out));
        nanosleep(&ts, NULL);
    }
    cr_expect(strstr(err, "closed") != NULL || strstr(err, "lost") != NULL, "err: %s", err);
    cr_expect_not(fs_rp_out_connected(out));
    cr_expect_eq(fs_rp_out_counters(out)->disconnects, 1);
}

/* Sends `m` as soon as the backoff allows, retrying for a few seconds. */
static void send_after_backoff(struct fs_rp_out *out, const char *m)
{
    long long deadline = fs_now_ms() + 8000;

    for (;;) {
        uint64_t now = (uint64_t)fs_now_ms();
        uint64_t left = fs_rp_out_backoff_left(out, now);
        struct timespec ts = { 0, (long)(left ? left : 50) * 1000000L };

        if (left == 0 && fs_rp_out_send(out, m, strlen(m), now, err, sizeof(err)) == 0)
            return;
        cr_assert_lt(fs_now_ms(), deadline, "%s: no reconnect: %s", fs_rp_out_name(out), err);
        nanosleep(&ts, NULL);
    }
}

Test(rsyslog, restart_reconnects)
{
    const char *before[] = { "<134>1 2024-05-06T07:00:00Z h app 1 tcp - before restart",
                             "<134>1 2024-05-06T07:00:01Z h app 1 tls - before restart" };
    const char *after[] = { "<134>1 2024-05-06T07:00:02Z h app 1 tcp - after restart",
                            "<134>1 2024-05-06T07:00:03Z h app 1 tls - after restart" };
    struct fs_rp_out *out[2] = { open_out(FS_RP_T_TCP, "127.0.0.1", NULL, NULL),
                                 open_out(FS_RP_T_TLS, "localhost", rs.ca, NULL) };
    void **l;

    for (int i = 0; i < 2; i++)
        send_ok(out[i], before[i]);
    lines_exactly(2, &l);
    rsyslog_lines_free(l, 2);

    cr_assert_eq(rsyslog_stop(&rs), 0);
    for (int i = 0; i < 2; i++)
        wait_closed(out[i]);
    cr_assert_eq(rsyslog_restart(&rs), 0);
    for (int i = 0; i < 2; i++) {
        send_after_backoff(out[i], after[i]);
        cr_expect_eq(fs_rp_out_counters(out[i])->connects, 2);
        cr_expect_eq(fs_rp_out_counters(out[i])->sent, 2);
    }
    lines_exactly(4, &l);
    for (int i = 0; i < 2; i++) {
        cr_expect_str_eq(str(l[2 + i], "raw"), after[i]);
        cr_expect_str_eq(str(l[2 + i], "input"), i == 0 ? "tcp" : "tls");
    }
    rsyslog_lines_free(l, 4);
    for (int i = 0; i < 2; i++)
        fs_rp_out_free(out[i]);
}

/* ------------------------------------------------------------------ */
/* Alerts as reporter/format.c writes them. */

#define HOSTILE_METRIC "ports\"] [x@1 a=\"b\"]\\"
#define T0 UINT64_C(1715000000000) /* 2024-05-06T12:53:20Z */

static void sample_alert(struct fs_rp_alert *al)
{
    struct fs_anomaly *a = &al->a;

    memset(al, 0, sizeof(*al));
    al->kind = FS_RP_SINGLE;
    al->id = a->id = UINT64_C(0x0123456789abcdef);
    al->count = 1;
    al->first_ms = al->last_ms = a->ts_ms = T0;
    a->end_ms = T0 + 300000;
    cr_assert_eq(fs_ip_parse("10.1.2.3", &a->host), 0);
    cr_assert_eq(fs_ip_parse("203.0.113.9", &a->peer), 0);
    a->cls = FS_AC_PORT_SCAN;
    a->severity = FS_SEV_CRITICAL;
    a->score = 87.5;
    a->z = 6.25;
    snprintf(a->metric, sizeof(a->metric), "%s", HOSTILE_METRIC);
    a->observed = 1500;
    a->expected = 20;
    a->std = 5;
    a->q1 = 17;
    a->q3 = 23;
    a->iqr_low = 8;
    a->iqr_high = 32;
    a->samples = 14;
    a->npeers = 1;
    a->top_peers[0].addr = a->peer;
    a->top_peers[0].value = 1500;
    a->nports = 2;
    a->top_ports[0].port = 22;
    a->top_ports[0].proto = 6;
    a->top_ports[0].value = 700;
    a->top_ports[1].port = 3389;
    a->top_ports[1].proto = 6;
    a->top_ports[1].value = 800;
    fs_anomaly_extra(a, "distinct_ports", 1500);
    fs_anomaly_extra(a, "ratio", 0.75);
}

/* The SD-PARAMs the sample alert must arrive with, in order. */
static const char *const want_params[][2] = {
    { "id", "0123456789abcdef" },     { "kind", "anomaly" },
    { "class", "port_scan" },         { "severity", "critical" },
    { "score", "87.5" },              { "z", "6.25" },
    { "host", "10.1.2.3" },           { "peer", "203.0.113.9" },
    { "ts", "2024-05-06T12:53:20.000Z" }, { "end", "2024-05-06T12:58:20.000Z" },
    { "count", "1" },                 { "first", "2024-05-06T12:53:20.000Z" },
    { "last", "2024-05-06T12:53:20.000Z" }, { "metric", HOSTILE_METRIC },
    { "observed", "1500" },           { "expected", "20" },
    { "std", "5" },                   { "q1", "17" },
    { "q3", "23" },                   { "iqr_low", "8" },
    { "iqr_high", "32" },             { "samples", "14" },
    { "top_peer", "203.0.113.9=1500" }, { "top_port", "22/6=700" },
    { "top_port", "3389/6=800" },     { "extra", "distinct_ports=1500" },
    { "extra", "ratio=0.75" },
};
#define NPARAMS (sizeof(want_params) / sizeof(want_params[0]))

struct sd_param {
    char name[40], value[256];
};

/* Parses RFC 5424 STRUCTURED-DATA that holds exactly one element: its
 * SD-ID into `id` and its params (values unescaped) into `p`. Returns the
 * number of params, or -1 when `sd` is not one well-formed element. */
static int parse_sd(const char *sd, char *id, size_t idlen, struct sd_param *p, int cap)
{
    const char *s = sd;
    int n = 0;
    size_t k = 0;

    if (*s++ != '[')
        return -1;
    while (*s != '\0' && *s != ' ' && *s != ']' && k + 1 < idlen)
        id[k++] = *s++;
    id[k] = '\0';
    while (*s == ' ') {
        size_t vn = 0;

        if (n == cap)
            return -1;
        s++;
        for (k = 0; *s != '\0' && *s != '=' && k + 1 < sizeof(p[n].name);)
            p[n].name[k++] = *s++;
        p[n].name[k] = '\0';
        if (s[0] != '=' || s[1] != '"')
            return -1;
        for (s += 2; *s != '\0' && *s != '"'; s++) {
            if (*s == '\\' && (s[1] == '"' || s[1] == '\\' || s[1] == ']'))
                s++;
            if (vn + 1 >= sizeof(p[n].value))
                return -1;
            p[n].value[vn++] = *s;
        }
        p[n].value[vn] = '\0';
        if (*s++ != '"')
            return -1;
        n++;
    }
    return s[0] == ']' && s[1] == '\0' ? n : -1;
}

static int format_sample(enum fs_rp_header h, enum fs_rp_body b, char *buf, size_t cap)
{
    struct fs_rp_fmt f = { .header = h, .body = b, .facility = 19, .hostname = "sensor-7",
                           .app_name = "flowsentry", .procid = 4242 };
    struct fs_rp_alert al;
    int n;

    sample_alert(&al);
    n = fs_rp_format(&f, &al, T0, buf, cap - 1);
    cr_assert_gt(n, 0, "fs_rp_format failed");
    buf[n] = '\0';
    return n;
}

Test(rsyslog, rfc5424_alert_over_tcp)
{
    char m[FS_RP_MSG_MAX + 1], id[64];
    struct sd_param p[NPARAMS + 4];
    struct fs_rp_out *out = open_out(FS_RP_T_TCP, "127.0.0.1", NULL, NULL);
    const char *body;
    void **l;
    int n;

    format_sample(FS_RP_H_RFC5424, FS_RP_B_TEXT, m, sizeof(m));
    send_ok(out, m);
    lines_exactly(1, &l);
    cr_expect_eq(num(l[0], "pri"), 19 * 8 + 2, "local3.crit");
    cr_expect_eq(num(l[0], "facility"), 19);
    cr_expect_eq(num(l[0], "severity"), 2);
    cr_expect_str_eq(str(l[0], "timestamp"), "2024-05-06T12:53:20.000Z");
    cr_expect_str_eq(str(l[0], "hostname"), "sensor-7");
    cr_expect_str_eq(str(l[0], "app"), "flowsentry");
    cr_expect_str_eq(str(l[0], "procid"), "4242");
    cr_expect_str_eq(str(l[0], "msgid"), "port_scan");
    cr_expect_str_eq(str(l[0], "raw"), m);

    n = parse_sd(str(l[0], "sd"), id, sizeof(id), p, (int)(NPARAMS + 4));
    cr_assert_geq(n, 0, "not one SD element: %s", str(l[0], "sd"));
    cr_expect_str_eq(id, "flowsentry@32473");
    cr_expect_eq((size_t)n, NPARAMS, "%d SD-PARAMs, want %zu", n, NPARAMS);
    for (size_t i = 0; i < NPARAMS && i < (size_t)n; i++) {
        cr_expect_str_eq(p[i].name, want_params[i][0], "param %zu", i);
        cr_expect_str_eq(p[i].value, want_params[i][1], "param %s", want_params[i][0]);
    }
    /* MSG is what follows the SD in what was sent: rsyslog found the
     * same end of the structured data as the formatter wrote. */
    body = strstr(m, "\"] ");
    cr_assert_not_null(body);
    body += 3;
    while (strstr(body, "\"] ") != NULL)
        body = strstr(body, "\"] ") + 3;
    cr_expect_str_eq(str(l[0], "msg"), body);
    cr_expect(strncmp(body, "port_scan: 10.1.2.3 -> 203.0.113.9", 34) == 0, "msg: %s", body);
    rsyslog_lines_free(l, 1);
    fs_rp_out_free(out);
}

Test(rsyslog, rfc3164_alert_over_udp)
{
    char m[FS_RP_MSG_MAX + 1];
    struct fs_rp_out *out = open_out(FS_RP_T_UDP, "127.0.0.1", NULL, NULL);
    const char *msg;
    void **l;

    format_sample(FS_RP_H_RFC3164, FS_RP_B_TEXT, m, sizeof(m));
    send_ok(out, m);
    lines_exactly(1, &l);
    cr_expect_eq(num(l[0], "pri"), 19 * 8 + 2);
    cr_expect(strstr(str(l[0], "timestamp"), "-05-06T12:53:20") != NULL, "timestamp %s",
              str(l[0], "timestamp"));
    cr_expect_str_eq(str(l[0], "hostname"), "sensor-7");
    cr_expect_str_eq(str(l[0], "app"), "flowsentry");
    cr_expect_str_eq(str(l[0], "procid"), "4242");
    cr_expect_str_eq(str(l[0], "msgid"), "-");
    cr_expect_str_eq(str(l[0], "raw"), m);
    msg = str(l[0], "msg");
    /* rsyslog keeps the space after "TAG:" in MSG for RFC 3164 (what its
     * mmrm1stspace module exists to remove). */
    cr_expect_str_eq(msg, strstr(m, "]:") + 2, "rsyslog cut the TAG elsewhere: [%s]", msg);
    cr_expect(strstr(msg, " id=\"0123456789abcdef\"") != NULL, "msg: %s", msg);
    cr_expect(strstr(msg, " metric=\"ports\\\"] [x@1 a=\\\"b\\\"]\\\\\"") != NULL,
              "metric not escaped as a quoted value: %s", msg);
    rsyslog_lines_free(l, 1);
    fs_rp_out_free(out);
}

Test(rsyslog, eve_alert_over_tls)
{
    char m[FS_RP_MSG_MAX + 1];
    struct fs_rp_out *out = open_out(FS_RP_T_TLS, "localhost", rs.ca, NULL);
    json_t *eve, *an;
    void **l;

    format_sample(FS_RP_H_RFC5424, FS_RP_B_EVE, m, sizeof(m));
    send_ok(out, m);
    lines_exactly(1, &l);
    cr_expect_eq(num(l[0], "pri"), 19 * 8 + 2);
    cr_expect_str_eq(str(l[0], "msgid"), "port_scan");
    cr_expect_str_eq(str(l[0], "sd"), "-");
    cr_expect_str_eq(str(l[0], "input"), "tls");
    eve = json_loads(str(l[0], "msg"), 0, NULL);
    cr_assert(json_is_object(eve), "the EVE body is not one JSON object: %s", str(l[0], "msg"));
    cr_expect_str_eq(str(eve, "event_type"), "anomaly");
    cr_expect_str_eq(str(eve, "alert_id"), "0123456789abcdef");
    cr_expect_str_eq(str(eve, "src_ip"), "10.1.2.3");
    cr_expect_str_eq(str(eve, "dest_ip"), "203.0.113.9");
    an = json_object_get(eve, "anomaly");
    cr_assert(json_is_object(an));
    cr_expect_str_eq(str(json_object_get(an, "evidence"), "metric"), HOSTILE_METRIC);
    json_decref(eve);
    rsyslog_lines_free(l, 1);
    fs_rp_out_free(out);
}

/* ------------------------------------------------------------------ */
/* The configuration blocks of docs/syslog-transports.md, as printed there
 * but for paths, ports and the host name. */

#define DOC FS_SOURCE_DIR "/docs/syslog-transports.md"

/* The fenced block that follows `marker` in the doc (caller frees). */
static char *doc_block(const char *marker)
{
    FILE *f = fopen(DOC, "r");
    char *text = calloc(1, 1 << 16), *p, *end;
    size_t n;

    cr_assert_not_null(f, "%s", DOC);
    n = fread(text, 1, (1 << 16) - 1, f);
    fclose(f);
    text[n] = '\0';
    p = strstr(text, marker);
    cr_assert_not_null(p, "%s: no \"%s\"", DOC, marker);
    p = strstr(p, "```\n");
    cr_assert_not_null(p);
    p += 4;
    end = strstr(p, "```");
    cr_assert_not_null(end);
    *end = '\0';
    memmove(text, p, (size_t)(end - p) + 1);
    return text;
}

/* Replaces the first `from` in `s` (of capacity cap) by `to`; false when
 * `from` is not there. */
static bool replace(char *s, size_t cap, const char *from, const char *to)
{
    char *p = strstr(s, from);
    size_t fl = strlen(from), tl = strlen(to);

    if (p == NULL)
        return false;
    cr_assert_lt(strlen(s) - fl + tl, cap);
    memmove(p + tl, p + fl, strlen(p + fl) + 1);
    memcpy(p, to, tl);
    return true;
}

/* Writes the doc's rsyslog block as a configuration for `rs`: its paths
 * in rs.dir, its inputs on rs's loopback ports. */
static void doc_receiver_conf(const char *conf, const char *alerts)
{
    char *block = doc_block("<!-- tested by test_rsyslog: receiver -->"), *save = NULL;
    char dir[300], port[64];
    FILE *f = fopen(conf, "w");
    int inputs = 0;

    cr_assert_not_null(f);
    snprintf(dir, sizeof(dir), "%s/", rs.dir);
    fprintf(f, "global(workDirectory=\"%s\")\n", rs.dir);
    for (char *l = strtok_r(block, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        char line[1024];

        snprintf(line, sizeof(line), "%s", l);
        while (replace(line, sizeof(line), "/etc/rsyslog.d/flowsentry/", dir))
            ;
        replace(line, sizeof(line), "/var/log/flowsentry/alerts.log", alerts);
        snprintf(port, sizeof(port), "address=\"127.0.0.1\" port=\"%d\"",
                 strstr(line, "6514") ? rs.tls_port
                 : strstr(line, "imudp") ? rs.udp_port : rs.tcp_port);
        if (replace(line, sizeof(line), "port=\"6514\"", port) ||
            replace(line, sizeof(line), "port=\"514\"", port))
            inputs++;
        fprintf(f, "%s\n", line);
    }
    fclose(f);
    free(block);
    cr_assert_eq(inputs, 3, "the doc's rsyslog block should open UDP, TCP and TLS inputs");
}

Test(rsyslog, docs_configuration_end_to_end)
{
    char conf[320], alerts[320], *block, *save = NULL, *text = NULL;
    int outputs = 0;
    size_t len = 0;
    long long deadline;

    snprintf(conf, sizeof(conf), "%s/doc.conf", rs.dir);
    snprintf(alerts, sizeof(alerts), "%s/doc-alerts.log", rs.dir);
    doc_receiver_conf(conf, alerts);
    cr_assert_eq(rsyslog_restart_with(&rs, conf), 0, "rsyslogd rejected the doc's block");

    block = doc_block("<!-- tested by test_rsyslog: sender -->");
    for (char *l = strtok_r(block, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        char spec_text[512], port[16], m[FS_RP_MSG_MAX + 1];
        struct fs_rp_output_spec spec;
        struct fs_rp_fmt fmt;
        struct fs_rp_alert al;
        struct fs_rp_out *out;
        int n;

        cr_assert(strncmp(l, "output = ", 9) == 0, "unexpected line in the sender block: %s", l);
        snprintf(spec_text, sizeof(spec_text), "%s", l + 9);
        replace(spec_text, sizeof(spec_text), "siem.example.net", "localhost");
        replace(spec_text, sizeof(spec_text), "/etc/flowsentry/siem-ca.pem", rs.ca);
        if (strncmp(spec_text, "tls://", 6) == 0) {
            snprintf(port, sizeof(port), ":%d", rs.tls_port);
            cr_assert(replace(spec_text, sizeof(spec_text), ":6514", port));
        } else {
            snprintf(port, sizeof(port), ":%d",
                     strncmp(spec_text, "udp://", 6) == 0 ? rs.udp_port : rs.tcp_port);
            cr_assert(replace(spec_text, sizeof(spec_text), ":514", port));
        }
        cr_assert_eq(fs_rp_output_parse(spec_text, (unsigned)outputs + 1, &spec, err,
                                        sizeof(err)), 0, "%s: %s", spec_text, err);
        out = fs_rp_out_new(&spec.out, err, sizeof(err));
        cr_assert_not_null(out, "%s: %s", spec_text, err);
        fmt = (struct fs_rp_fmt){ .header = spec.header, .body = spec.body,
                                  .facility = spec.facility, .hostname = "sensor-7",
                                  .app_name = spec.app, .procid = (unsigned)outputs + 1 };
        sample_alert(&al);
        n = fs_rp_format(&fmt, &al, T0, m, sizeof(m));
        cr_assert_gt(n, 0);
        cr_assert_eq(fs_rp_out_send(out, m, (size_t)n, (uint64_t)fs_now_ms(), err, sizeof(err)),
                     0, "%s: %s", spec_text, err);
        fs_rp_out_free(out);
        fs_rp_output_free(&spec);
        outputs++;
    }
    free(block);
    cr_assert_eq(outputs, 3, "the doc shows TLS, TCP and UDP outputs");

    /* One line per output, each the alert with that output's PROCID. */
    deadline = fs_now_ms() + 5000;
    for (;;) {
        FILE *f = fopen(alerts, "r");
        size_t lines = 0;

        free(text);
        text = NULL;
        if (f != NULL) {
            text = calloc(1, 1 << 16);
            len = fread(text, 1, (1 << 16) - 1, f);
            fclose(f);
            for (size_t i = 0; i < len; i++)
                lines += text[i] == '\n';
        }
        if (lines >= 3 || fs_now_ms() >= deadline)
            break;
        usleep(20 * 1000);
    }
    cr_assert_not_null(text, "rsyslog wrote no %s", alerts);
    for (int i = 1; i <= 3; i++) {
        char want[64];

        snprintf(want, sizeof(want), " sensor-7 flowsentry %d ", i);
        cr_expect(strstr(text, want) != NULL, "no line with \"%s\" in:\n%s", want, text);
    }
    for (char *p = text; (p = strstr(p, "\n")) != NULL && p < text + len; p++)
        outputs--;
    cr_expect_eq(outputs, 0, "want exactly 3 lines in:\n%s", text);
    cr_expect(strstr(text, "id=\"0123456789abcdef\"") != NULL, "%s", text);
    free(text);
}
