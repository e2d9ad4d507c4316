/*
 * test_format.c - alert messages (reporter/format.h). Every header and body
 * combination on a realistic anomaly is read back by small parsers written
 * here from RFC 5424, RFC 3164 and the CEF rules (strict: a character that
 * should have been escaped fails the parse), and by jansson for EVE; every
 * field is compared. Then the same with hostile values in every field that
 * carries text or a number: each output must stay one message, parse to the
 * same structure, carry the hostile text back (or its documented
 * replacement) and gain no field.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

#define T0 1795525200000ull  /* 2026-11-24T13:00:00Z */
#define NOW 1795525502123ull /* 2026-11-24T13:05:02.123Z */
#define FFFD "\xef\xbf\xbd"

static const enum fs_rp_header headers[] = { FS_RP_H_RFC5424, FS_RP_H_RFC3164, FS_RP_H_NONE };
static const enum fs_rp_body bodies[] = { FS_RP_B_TEXT, FS_RP_B_CEF, FS_RP_B_EVE };

/* ------------------------------------------------------------------ */
/* Alerts. */

static fs_ip ip(const char *s)
{
    fs_ip a;
    cr_assert_eq(fs_ip_parse(s, &a), 0);
    return a;
}

static struct fs_anomaly sample(void)
{
    struct fs_anomaly a;

    memset(&a, 0, sizeof(a));
    a.ts_ms = T0;
    a.end_ms = T0 + 300000;
    a.host = ip("10.0.0.5");
    a.peer = ip("203.0.113.9");
    a.cls = FS_AC_BEACONING;
    a.severity = FS_SEV_CRITICAL;
    a.score = 87;
    a.z = 6.5;
    snprintf(a.metric, sizeof(a.metric), "beacon_period_s");
    a.observed = 60;
    a.expected = 300;
    a.std = 12.5;
    a.q1 = 240;
    a.q3 = 360;
    a.iqr_low = 60;
    a.iqr_high = 540;
    a.samples = 96;
    a.npeers = 1;
    a.top_peers[0].addr = ip("203.0.113.9");
    a.top_peers[0].value = 1440;
    a.nports = 1;
    a.top_ports[0].port = 443;
    a.top_ports[0].proto = 6;
    a.top_ports[0].value = 1440;
    fs_anomaly_extra(&a, "period_s", 60);
    fs_anomaly_extra(&a, "jitter", 0.02);
    fs_anomaly_set_id(&a);
    return a;
}

static struct fs_rp_alert single(const struct fs_anomaly *a)
{
    struct fs_rp_alert al;

    memset(&al, 0, sizeof(al));
    al.kind = FS_RP_SINGLE;
    al.id = a->id;
    al.a = *a;
    al.count = 1;
    al.first_ms = al.last_ms = a->ts_ms;
    return al;
}

/* Text in every field an anomaly carries: quotes, backslash, ']', '|', '=',
 * CR, LF, a control byte, invalid UTF-8, a fake syslog header, bytes after a
 * NUL inside a fixed array, an array with no NUL at all, and numbers that
 * are not numbers. */
#define H_METRIC "m\"\\]|= \r\n\x01\xff<13>1 x"
#define H_KEY0 "k=\"]\n\xc3\x28KKKKKKKKKKKKKKKKK" /* 24 bytes, no NUL */
#define H_KEY1 "\n<13>1 fake header"
#define H_HOST "evil\r\n<13>1 x=y\\z fake - - hi"
#define H_HOST_CLEAN "evil__<13>1_x=y\\z_fake_-_-_hi"
#define H_APP "app]\"|= x\n"

static struct fs_anomaly hostile(void)
{
    struct fs_anomaly a = sample();

    memset(a.metric, 0, sizeof(a.metric));
    memcpy(a.metric, H_METRIC "\0tail", sizeof(H_METRIC) + 4);
    a.score = NAN;
    a.z = INFINITY;
    a.observed = -INFINITY;
    memset(a.extra, 0, sizeof(a.extra));
    cr_assert_eq(strlen(H_KEY0), sizeof(a.extra[0].key));
    memcpy(a.extra[0].key, H_KEY0, sizeof(a.extra[0].key));
    a.extra[0].value = 1.5;
    snprintf(a.extra[1].key, sizeof(a.extra[1].key), "%s", H_KEY1);
    a.extra[1].value = NAN;
    snprintf(a.extra[2].key, sizeof(a.extra[2].key), "ok");
    a.extra[2].value = INFINITY;
    snprintf(a.extra[3].key, sizeof(a.extra[3].key), "period_s");
    a.extra[3].value = 60;
    a.nextra = 4;
    return a;
}

/* ------------------------------------------------------------------ */
/* Formatting: the result must be one message, with no byte that could end
 * it or start another, and fit FS_RP_MSG_MAX. Returns a NUL-terminated
 * copy. */

static char *format(enum fs_rp_header h, enum fs_rp_body b, const struct fs_rp_alert *al,
                    const char *host, const char *app)
{
    struct fs_rp_fmt f = { h, b, 16, host, app, 4242 };
    char *out = malloc(FS_RP_MSG_MAX + 1);
    int n;

    cr_assert_not_null(out);
    n = fs_rp_format(&f, al, NOW, out, FS_RP_MSG_MAX);
    cr_assert_gt(n, 0, "header %d body %d", h, b);
    cr_assert_null(memchr(out, '\n', (size_t)n), "LF in %.*s", n, out);
    cr_assert_null(memchr(out, '\r', (size_t)n), "CR in %.*s", n, out);
    cr_assert_null(memchr(out, '\0', (size_t)n), "NUL in %.*s", n, out);
    out[n] = '\0';
    return out;
}

/* ------------------------------------------------------------------ */
/* Parsers. */

struct kv {
    char name[64];
    char value[2048];
};

#define MAX_KV 64

struct msg {
    int pri;
    char ts[64], host[512], app[512], procid[64], msgid[64];
    int nsd;
    char sdid[64];
    struct kv kv[MAX_KV]; /* SD params (5424, TEXT) or the text body's pairs */
    int nkv;
    const char *body;     /* MSG */
};

static void append(char *dst, size_t cap, size_t *n, char c)
{
    cr_assert_lt(*n + 1, cap, "value too long");
    dst[(*n)++] = c;
    dst[*n] = '\0';
}

static const char *token(const char *s, char *out, size_t cap)
{
    size_t n = 0;

    out[0] = '\0';
    while (*s && *s != ' ')
        append(out, cap, &n, *s++);
    cr_assert_eq(*s, ' ', "header field not followed by a space");
    return s + 1;
}

static struct kv *new_kv(struct msg *m)
{
    cr_assert_lt(m->nkv, MAX_KV);
    memset(&m->kv[m->nkv], 0, sizeof(m->kv[0]));
    return &m->kv[m->nkv++];
}

/* RFC 5424 section 6.3: SD-ELEMENTs, SD-NAMEs of PRINTUSASCII except '=',
 * SP, ']' and '"', PARAM-VALUEs in quotes with '"', '\' and ']' escaped. */
static const char *parse_sd(const char *s, struct msg *m)
{
    if (*s == '-')
        return s + 1;
    cr_assert_eq(*s, '[', "structured data: %s", s);
    while (*s == '[') {
        size_t n = 0;
        s++;
        m->nsd++;
        while (*s && *s != ' ' && *s != ']')
            append(m->sdid, sizeof(m->sdid), &n, *s++);
        while (*s == ' ') {
            struct kv *k = new_kv(m);
            s++;
            n = 0;
            while (*s != '=') {
                cr_assert(*s > 32 && *s < 127 && *s != ']' && *s != '"', "bad SD-NAME");
                append(k->name, sizeof(k->name), &n, *s++);
            }
            cr_assert_lt(n, 33, "SD-NAME longer than 32");
            cr_assert_eq(s[1], '"');
            s += 2;
            n = 0;
            for (;;) {
                cr_assert(*s, "PARAM-VALUE not closed");
                cr_assert_neq(*s, ']', "']' not escaped in PARAM-VALUE");
                if (*s == '\\' && (s[1] == '"' || s[1] == '\\' || s[1] == ']')) {
                    append(k->value, sizeof(k->value), &n, s[1]);
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    append(k->value, sizeof(k->value), &n, *s++);
                }
            }
        }
        cr_assert_eq(*s, ']', "SD-ELEMENT not closed: %s", s);
        s++;
    }
    return s;
}

static const char *parse_pri(const char *s, int *pri)
{
    char *end;

    cr_assert_eq(*s, '<');
    *pri = (int)strtol(s + 1, &end, 10);
    cr_assert_eq(*end, '>');
    return end + 1;
}

static void parse_5424(const char *s, struct msg *m)
{
    memset(m, 0, sizeof(*m));
    s = parse_pri(s, &m->pri);
    cr_assert(strncmp(s, "1 ", 2) == 0, "VERSION");
    s = token(s + 2, m->ts, sizeof(m->ts));
    s = token(s, m->host, sizeof(m->host));
    s = token(s, m->app, sizeof(m->app));
    s = token(s, m->procid, sizeof(m->procid));
    s = token(s, m->msgid, sizeof(m->msgid));
    s = parse_sd(s, m);
    cr_assert_eq(*s, ' ', "no MSG after the structured data");
    m->body = s + 1;
}

/* RFC 3164 section 4.1: "<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG". */
static void parse_3164(const char *s, struct msg *m)
{
    size_t n = 0;

    memset(m, 0, sizeof(*m));
    s = parse_pri(s, &m->pri);
    cr_assert_eq(s[15], ' ');
    memcpy(m->ts, s, 15);
    s = token(s + 16, m->host, sizeof(m->host));
    while (*s && *s != '[' && *s != ':')
        append(m->app, sizeof(m->app), &n, *s++);
    if (*s == '[') {
        n = 0;
        for (s++; *s && *s != ']'; s++)
            append(m->procid, sizeof(m->procid), &n, *s);
        cr_assert_eq(*s, ']');
        s++;
    }
    cr_assert(strncmp(s, ": ", 2) == 0, "TAG not followed by ': '");
    m->body = s + 2;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The text body: "LINE name="value" ...", values with \" \\ and \xHH, and
 * nothing else outside printable ASCII. Writes the line to `line`. */
static void parse_text(const char *s, struct msg *m, char *line, size_t cap)
{
    const char *p = strstr(s, " id=\"");

    cr_assert_not_null(p, "no pairs in %s", s);
    cr_assert_lt((size_t)(p - s), cap);
    memcpy(line, s, (size_t)(p - s));
    line[p - s] = '\0';
    cr_assert_null(strchr(line, '"'), "a quote in the readable line");
    s = p;
    while (*s) {
        struct kv *k = new_kv(m);
        size_t n = 0;

        cr_assert_eq(*s, ' ');
        for (s++; *s != '='; s++) {
            cr_assert(*s > 32 && *s < 127 && *s != '"', "bad name");
            append(k->name, sizeof(k->name), &n, *s);
        }
        cr_assert_eq(s[1], '"');
        s += 2;
        n = 0;
        for (;;) {
            cr_assert(*s >= 0x20 && *s < 0x7f, "raw byte %02x in a value", (unsigned char)*s);
            if (*s == '"') {
                s++;
                break;
            }
            if (*s == '\\' && (s[1] == '"' || s[1] == '\\')) {
                append(k->value, sizeof(k->value), &n, s[1]);
                s += 2;
            } else if (*s == '\\' && s[1] == 'x') {
                int hi = hexval(s[2]), lo = hexval(s[3]);
                cr_assert(hi >= 0 && lo >= 0, "bad \\x escape");
                append(k->value, sizeof(k->value), &n, (char)(hi * 16 + lo));
                s += 4;
            } else {
                cr_assert_neq(*s, '\\', "unknown escape");
                append(k->value, sizeof(k->value), &n, *s++);
            }
        }
    }
}

struct cef {
    char hdr[7][128];
    struct kv ext[MAX_KV];
    int next;
};

/* CEF: seven '|'-separated header fields ('|' and '\' escaped), then
 * "key=value" pairs separated by spaces, values with '\', '=' escaped and
 * \r \n for line breaks. An unescaped '=' is always a key's. */
static void parse_cef(const char *s, struct cef *c)
{
    size_t n = 0;
    int f = 0;

    memset(c, 0, sizeof(*c));
    cr_assert(strncmp(s, "CEF:", 4) == 0, "not CEF: %s", s);
    while (f < 7) {
        cr_assert(*s, "CEF header cut short");
        if (*s == '\\') {
            cr_assert(s[1] == '|' || s[1] == '\\', "bad escape in the CEF header");
            append(c->hdr[f], sizeof(c->hdr[f]), &n, s[1]);
            s += 2;
        } else if (*s == '|') {
            f++;
            n = 0;
            s++;
        } else {
            append(c->hdr[f], sizeof(c->hdr[f]), &n, *s++);
        }
    }
    /* Keys: a word before an unescaped '=', at the start or after a space. */
    const char *ext = s;
    struct kv *k = NULL;
    n = 0;
    while (*s) {
        const char *w = s;
        while ((*w >= 'a' && *w <= 'z') || (*w >= 'A' && *w <= 'Z') || (*w >= '0' && *w <= '9'))
            w++;
        if ((s == ext || s[-1] == ' ') && w > s && *w == '=') {
            if (k) {
                cr_assert(n > 0 && k->value[n - 1] == ' ', "no space before a key");
                k->value[--n] = '\0';
            }
            cr_assert_lt(c->next, MAX_KV);
            k = &c->ext[c->next++];
            cr_assert_lt((size_t)(w - s), sizeof(k->name));
            memcpy(k->name, s, (size_t)(w - s));
            n = 0;
            s = w + 1;
            continue;
        }
        cr_assert_not_null(k, "extension does not start with a key");
        if (*s == '\\') {
            char e = s[1] == 'r' ? '\r' : s[1] == 'n' ? '\n' : s[1];
            cr_assert(strchr("\\=rn", s[1]) && s[1], "bad escape \\%c", s[1]);
            append(k->value, sizeof(k->value), &n, e);
            s += 2;
            continue;
        }
        cr_assert_neq(*s, '=', "unescaped '=' in a value");
        append(k->value, sizeof(k->value), &n, *s++);
    }
}

static json_t *parse_eve(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &je);

    cr_assert_not_null(j, "%s: %s", je.text, s);
    return j;
}

/* ------------------------------------------------------------------ */
/* Expectations. A value "ID" stands for the alert id in hex. */

struct want {
    const char *name, *value;
};

#define NWANT(w) (sizeof(w) / sizeof((w)[0]))

static void expect_kv(const struct kv *got, int n, const struct want *w, size_t nw,
                      const struct fs_rp_alert *al, const char *what)
{
    char id[17];

    snprintf(id, sizeof(id), "%016llx", (unsigned long long)al->id);
    cr_expect_eq((size_t)n, nw, "%s: %d fields, want %zu", what, n, nw);
    for (size_t i = 0; i < nw && i < (size_t)n; i++) {
        const char *v = strcmp(w[i].value, "ID") == 0 ? id : w[i].value;
        cr_expect_str_eq(got[i].name, w[i].name, "%s: field %zu", what, i);
        cr_expect_str_eq(got[i].value, v, "%s: %s", what, w[i].name);
    }
}

#define TS0 "2026-11-24T13:00:00.000Z"
#define TEND "2026-11-24T13:05:00.000Z"
#define LINE "beaconing: 10.0.0.5 -> 203.0.113.9, score 87 (critical): " \
             "beacon_period_s 60 (expected 300)"

static const struct want sample_fields[] = {
    { "id", "ID" }, { "kind", "anomaly" }, { "class", "beaconing" },
    { "severity", "critical" }, { "score", "87" }, { "z", "6.5" },
    { "host", "10.0.0.5" }, { "peer", "203.0.113.9" }, { "ts", TS0 }, { "end", TEND },
    { "count", "1" }, { "first", TS0 }, { "last", TS0 }, { "metric", "beacon_period_s" },
    { "observed", "60" }, { "expected", "300" }, { "std", "12.5" }, { "q1", "240" },
    { "q3", "360" }, { "iqr_low", "60" }, { "iqr_high", "540" }, { "samples", "96" },
    { "top_peer", "203.0.113.9=1440" }, { "top_port", "443/6=1440" },
    { "extra", "period_s=60" }, { "extra", "jitter=0.02" },
};

static const char *const sample_cef_hdr[7] = {
    "CEF:0", "flowsentry", "flowsentry", "0.1", "beaconing", "beaconing anomaly", "10",
};

static const struct want sample_cef[] = {
    { "externalId", "ID" }, { "cat", "beaconing" }, { "cs1Label", "kind" },
    { "cs1", "anomaly" }, { "rt", "1795525200000" }, { "start", "1795525200000" },
    { "end", "1795525500000" }, { "cnt", "1" }, { "deviceCustomDate1Label", "first" },
    { "deviceCustomDate1", "1795525200000" }, { "deviceCustomDate2Label", "last" },
    { "deviceCustomDate2", "1795525200000" }, { "dvchost", "sensor1" },
    { "src", "10.0.0.5" }, { "dst", "203.0.113.9" }, { "cfp1Label", "score" },
    { "cfp1", "87" }, { "cfp2Label", "z" }, { "cfp2", "6.5" }, { "cfp3Label", "observed" },
    { "cfp3", "60" }, { "cfp4Label", "expected" }, { "cfp4", "300" },
    { "cs2Label", "metric" }, { "cs2", "beacon_period_s" }, { "cs3Label", "extras" },
    { "cs3", "period_s=60 jitter=0.02" }, { "msg", LINE },
};

/* The keys of a JSON object, in order, against a list. */
static void expect_keys(json_t *o, const char *const *keys, size_t n, const char *what)
{
    size_t i = 0;
    const char *k;
    json_t *v;

    cr_assert(json_is_object(o), "%s is not an object", what);
    cr_expect_eq(json_object_size(o), n, "%s: %zu keys, want %zu", what,
                 json_object_size(o), n);
    json_object_foreach(o, k, v) {
        (void)v;
        if (i < n)
            cr_expect_str_eq(k, keys[i], "%s: key %zu", what, i);
        i++;
    }
}

static const char *const eve_keys[] = { "timestamp", "event_type", "host", "src_ip",
                                        "dest_ip", "alert_id", "anomaly" };
static const char *const anomaly_keys[] = { "id", "ts", "end_ms", "host", "peer", "class",
                                            "severity", "score", "z", "evidence", "kind",
                                            "count", "first", "last" };
static const char *const evidence_keys[] = { "metric", "observed", "expected", "std", "q1",
                                             "q3", "iqr_low", "iqr_high", "samples",
                                             "top_peers", "top_ports", "extras" };

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    cr_assert(json_is_string(v), "%s is not a string", k);
    return json_string_value(v);
}

static void check_eve_common(json_t *j, const struct fs_rp_alert *al, const char *host)
{
    char id[17];

    snprintf(id, sizeof(id), "%016llx", (unsigned long long)al->id);
    cr_expect_str_eq(jstr(j, "event_type"), "anomaly");
    cr_expect_str_eq(jstr(j, "alert_id"), id);
    cr_expect_str_eq(jstr(j, "host"), host);
}

static void check_eve_sample(json_t *j, const struct fs_rp_alert *al)
{
    char id[17];

    check_eve_common(j, al, "sensor1");
    expect_keys(j, eve_keys, NWANT(eve_keys), "eve");
    cr_expect_str_eq(jstr(j, "timestamp"), "2026-11-24T13:00:00.000000+0000");
    cr_expect_str_eq(jstr(j, "src_ip"), "10.0.0.5");
    cr_expect_str_eq(jstr(j, "dest_ip"), "203.0.113.9");
    json_t *a = json_object_get(j, "anomaly");
    expect_keys(a, anomaly_keys, NWANT(anomaly_keys), "anomaly");
    snprintf(id, sizeof(id), "%016llx", (unsigned long long)al->a.id);
    cr_expect_str_eq(jstr(a, "id"), id);
    cr_expect_eq(json_integer_value(json_object_get(a, "ts")), (json_int_t)T0);
    cr_expect_eq(json_integer_value(json_object_get(a, "end_ms")), (json_int_t)T0 + 300000);
    cr_expect_str_eq(jstr(a, "host"), "10.0.0.5");
    cr_expect_str_eq(jstr(a, "peer"), "203.0.113.9");
    cr_expect_str_eq(jstr(a, "class"), "beaconing");
    cr_expect_str_eq(jstr(a, "severity"), "critical");
    cr_expect_eq(json_number_value(json_object_get(a, "score")), 87);
    cr_expect_eq(json_number_value(json_object_get(a, "z")), 6.5);
    cr_expect_str_eq(jstr(a, "kind"), "anomaly");
    cr_expect_eq(json_integer_value(json_object_get(a, "count")), 1);
    cr_expect_eq(json_integer_value(json_object_get(a, "first")), (json_int_t)T0);
    cr_expect_eq(json_integer_value(json_object_get(a, "last")), (json_int_t)T0);
    json_t *ev = json_object_get(a, "evidence");
    expect_keys(ev, evidence_keys, NWANT(evidence_keys), "evidence");
    cr_expect_str_eq(jstr(ev, "metric"), "beacon_period_s");
    cr_expect_eq(json_number_value(json_object_get(ev, "observed")), 60);
    cr_expect_eq(json_number_value(json_object_get(ev, "expected")), 300);
    cr_expect_eq(json_number_value(json_object_get(ev, "std")), 12.5);
    cr_expect_eq(json_number_value(json_object_get(ev, "q1")), 240);
    cr_expect_eq(json_number_value(json_object_get(ev, "q3")), 360);
    cr_expect_eq(json_number_value(json_object_get(ev, "iqr_low")), 60);
    cr_expect_eq(json_number_value(json_object_get(ev, "iqr_high")), 540);
    cr_expect_eq(json_integer_value(json_object_get(ev, "samples")), 96);
    json_t *p = json_array_get(json_object_get(ev, "top_peers"), 0);
    cr_expect_eq(json_array_size(json_object_get(ev, "top_peers")), 1);
    cr_expect_str_eq(jstr(p, "addr"), "203.0.113.9");
    cr_expect_eq(json_integer_value(json_object_get(p, "value")), 1440);
    p = json_array_get(json_object_get(ev, "top_ports"), 0);
    cr_expect_eq(json_integer_value(json_object_get(p, "port")), 443);
    cr_expect_eq(json_integer_value(json_object_get(p, "proto")), 6);
    json_t *ex = json_object_get(ev, "extras");
    cr_expect_eq(json_object_size(ex), 2);
    cr_expect_eq(json_number_value(json_object_get(ex, "period_s")), 60);
    cr_expect_eq(json_number_value(json_object_get(ex, "jitter")), 0.02);
}

/* ------------------------------------------------------------------ */
/* The header of a message, parsed by its kind; the body is left in m->body. */

static void parse_header(enum fs_rp_header h, const char *s, struct msg *m)
{
    if (h == FS_RP_H_RFC5424) {
        parse_5424(s, m);
    } else if (h == FS_RP_H_RFC3164) {
        parse_3164(s, m);
    } else {
        memset(m, 0, sizeof(*m));
        m->body = s;
    }
}

static void check_sample_header(enum fs_rp_header h, enum fs_rp_body b, const struct msg *m)
{
    if (h == FS_RP_H_RFC5424) {
        cr_expect_eq(m->pri, 16 * 8 + 2);
        cr_expect_str_eq(m->ts, "2026-11-24T13:05:02.123Z");
        cr_expect_str_eq(m->host, "sensor1");
        cr_expect_str_eq(m->app, "flowsentry");
        cr_expect_str_eq(m->procid, "4242");
        cr_expect_str_eq(m->msgid, "beaconing");
        cr_expect_eq(m->nsd, b == FS_RP_B_TEXT ? 1 : 0);
        if (b == FS_RP_B_TEXT)
            cr_expect_str_eq(m->sdid, "flowsentry@32473");
    } else if (h == FS_RP_H_RFC3164) {
        cr_expect_eq(m->pri, 16 * 8 + 2);
        cr_expect_str_eq(m->ts, "Nov 24 13:05:02");
        cr_expect_str_eq(m->host, "sensor1");
        cr_expect_str_eq(m->app, "flowsentry");
        cr_expect_str_eq(m->procid, "4242");
    }
}

Test(format, every_header_and_body_reads_back)
{
    struct fs_anomaly a = sample();
    struct fs_rp_alert al = single(&a);
    struct msg *m = malloc(sizeof(*m));
    struct cef *c = malloc(sizeof(*c));
    char line[1024];

    for (size_t hi = 0; hi < 3; hi++) {
        for (size_t bi = 0; bi < 3; bi++) {
            enum fs_rp_header h = headers[hi];
            enum fs_rp_body b = bodies[bi];
            char *s = format(h, b, &al, "sensor1", "flowsentry");

            parse_header(h, s, m);
            check_sample_header(h, b, m);
            if (b == FS_RP_B_TEXT && h == FS_RP_H_RFC5424) {
                expect_kv(m->kv, m->nkv, sample_fields, NWANT(sample_fields), &al, "sd");
                cr_expect_str_eq(m->body, LINE);
            } else if (b == FS_RP_B_TEXT) {
                parse_text(m->body, m, line, sizeof(line));
                cr_expect_str_eq(line, LINE);
                expect_kv(m->kv, m->nkv, sample_fields, NWANT(sample_fields), &al, "text");
            } else if (b == FS_RP_B_CEF) {
                parse_cef(m->body, c);
                for (int i = 0; i < 7; i++)
                    cr_expect_str_eq(c->hdr[i], sample_cef_hdr[i]);
                expect_kv(c->ext, c->next, sample_cef, NWANT(sample_cef), &al, "cef");
            } else {
                json_t *j = parse_eve(m->body);
                check_eve_sample(j, &al);
                json_decref(j);
            }
            free(s);
        }
    }
    free(m);
    free(c);
}

Test(format, the_documented_example)
{
    struct fs_anomaly a = sample();
    struct fs_rp_alert al = single(&a);
    char *s = format(FS_RP_H_RFC5424, FS_RP_B_TEXT, &al, "sensor1", "flowsentry");
    char want[2048];

    snprintf(want, sizeof(want),
             "<130>1 2026-11-24T13:05:02.123Z sensor1 flowsentry 4242 beaconing "
             "[flowsentry@32473 id=\"%016llx\" kind=\"anomaly\" class=\"beaconing\" "
             "severity=\"critical\" score=\"87\" z=\"6.5\" host=\"10.0.0.5\" "
             "peer=\"203.0.113.9\" ts=\"" TS0 "\" end=\"" TEND "\" count=\"1\" "
             "first=\"" TS0 "\" last=\"" TS0 "\" metric=\"beacon_period_s\" "
             "observed=\"60\" expected=\"300\" std=\"12.5\" q1=\"240\" q3=\"360\" "
             "iqr_low=\"60\" iqr_high=\"540\" samples=\"96\" top_peer=\"203.0.113.9=1440\" "
             "top_port=\"443/6=1440\" extra=\"period_s=60\" extra=\"jitter=0.02\"] " LINE,
             (unsigned long long)al.id);
    cr_expect_str_eq(s, want);
    free(s);
}

/* ------------------------------------------------------------------ */
/* Hostile values. */

static const struct want hostile_sd[] = {
    { "id", "ID" }, { "kind", "anomaly" }, { "class", "beaconing" },
    { "severity", "critical" }, { "host", "10.0.0.5" }, { "peer", "203.0.113.9" },
    { "ts", TS0 }, { "end", TEND }, { "count", "1" }, { "first", TS0 }, { "last", TS0 },
    { "metric", "m\"\\]|= #015#012#001" FFFD "<13>1 x" },
    { "expected", "300" }, { "std", "12.5" }, { "q1", "240" }, { "q3", "360" },
    { "iqr_low", "60" }, { "iqr_high", "540" }, { "samples", "96" },
    { "top_peer", "203.0.113.9=1440" }, { "top_port", "443/6=1440" },
    { "extra", "k=\"]#012" FFFD "(KKKKKKKKKKKKKKKKK=1.5" }, { "extra", "period_s=60" },
};

/* The text body's \xHH gives back the very bytes. */
static const struct want hostile_text[] = {
    { "id", "ID" }, { "kind", "anomaly" }, { "class", "beaconing" },
    { "severity", "critical" }, { "host", "10.0.0.5" }, { "peer", "203.0.113.9" },
    { "ts", TS0 }, { "end", TEND }, { "count", "1" }, { "first", TS0 }, { "last", TS0 },
    { "metric", H_METRIC },
    { "expected", "300" }, { "std", "12.5" }, { "q1", "240" }, { "q3", "360" },
    { "iqr_low", "60" }, { "iqr_high", "540" }, { "samples", "96" },
    { "top_peer", "203.0.113.9=1440" }, { "top_port", "443/6=1440" },
    { "extra", H_KEY0 "=1.5" }, { "extra", "period_s=60" },
};

#define HOSTILE_LINE "beaconing: 10.0.0.5 -> 203.0.113.9, score n/a (critical): " \
                     "m???????????13?1?x n/a (expected 300)"

static const struct want hostile_cef[] = {
    { "externalId", "ID" }, { "cat", "beaconing" }, { "cs1Label", "kind" },
    { "cs1", "anomaly" }, { "rt", "1795525200000" }, { "start", "1795525200000" },
    { "end", "1795525500000" }, { "cnt", "1" }, { "deviceCustomDate1Label", "first" },
    { "deviceCustomDate1", "1795525200000" }, { "deviceCustomDate2Label", "last" },
    { "deviceCustomDate2", "1795525200000" }, { "dvchost", H_HOST_CLEAN },
    { "src", "10.0.0.5" }, { "dst", "203.0.113.9" }, { "cfp4Label", "expected" },
    { "cfp4", "300" }, { "cs2Label", "metric" },
    { "cs2", "m\"\\]|= \r\n#001" FFFD "<13>1 x" }, { "cs3Label", "extras" },
    { "cs3", "k=\"]\n" FFFD "(KKKKKKKKKKKKKKKKK=1.5 period_s=60" },
    { "msg", HOSTILE_LINE },
};

/* The tag as RFC 3164 allows it, computed here from the documented rule. */
static void tag_of(const char *app, char *out)
{
    size_t n = strlen(app) < 32 ? strlen(app) : 32;

    for (size_t i = 0; i < n; i++) {
        char c = app[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '-' || c == '_' || c == '.';
        out[i] = ok ? c : '_';
    }
    out[n] = '\0';
}

Test(format, hostile_values_stay_in_their_field)
{
    struct fs_anomaly a = hostile();
    struct fs_rp_alert al = single(&a);
    struct msg *m = malloc(sizeof(*m));
    struct cef *c = malloc(sizeof(*c));
    char line[1024], tag[64];

    tag_of(H_APP, tag);
    cr_expect_str_eq(tag, "app_____x_");
    for (size_t hi = 0; hi < 3; hi++) {
        for (size_t bi = 0; bi < 3; bi++) {
            enum fs_rp_header h = headers[hi];
            enum fs_rp_body b = bodies[bi];
            char *s = format(h, b, &al, H_HOST, H_APP);

            parse_header(h, s, m);
            if (h == FS_RP_H_RFC5424) {
                cr_expect_str_eq(m->host, H_HOST_CLEAN);
                cr_expect_str_eq(m->app, "app]\"|=_x_");
                cr_expect_str_eq(m->msgid, "beaconing");
                cr_expect_eq(m->nsd, b == FS_RP_B_TEXT ? 1 : 0);
            } else if (h == FS_RP_H_RFC3164) {
                cr_expect_str_eq(m->host, H_HOST_CLEAN);
                cr_expect_str_eq(m->app, tag);
                cr_expect_str_eq(m->procid, "4242");
            }
            if (b == FS_RP_B_TEXT && h == FS_RP_H_RFC5424) {
                expect_kv(m->kv, m->nkv, hostile_sd, NWANT(hostile_sd), &al, "sd");
                cr_expect_str_eq(m->body, HOSTILE_LINE);
            } else if (b == FS_RP_B_TEXT) {
                parse_text(m->body, m, line, sizeof(line));
                cr_expect_str_eq(line, HOSTILE_LINE);
                expect_kv(m->kv, m->nkv, hostile_text, NWANT(hostile_text), &al, "text");
            } else if (b == FS_RP_B_CEF) {
                parse_cef(m->body, c);
                for (int i = 0; i < 7; i++)
                    cr_expect_str_eq(c->hdr[i], sample_cef_hdr[i]);
                expect_kv(c->ext, c->next, hostile_cef, NWANT(hostile_cef), &al, "cef");
            } else {
                json_t *j = parse_eve(m->body);
                check_eve_common(j, &al, H_HOST_CLEAN);
                expect_keys(j, eve_keys, NWANT(eve_keys), "eve");
                json_t *an = json_object_get(j, "anomaly");
                expect_keys(an, anomaly_keys, NWANT(anomaly_keys), "anomaly");
                cr_expect(json_is_null(json_object_get(an, "score")));
                cr_expect(json_is_null(json_object_get(an, "z")));
                json_t *ev = json_object_get(an, "evidence");
                expect_keys(ev, evidence_keys, NWANT(evidence_keys), "evidence");
                cr_expect(json_is_null(json_object_get(ev, "observed")));
                cr_expect_str_eq(jstr(ev, "metric"), "m\"\\]|= \r\n\x01" FFFD "<13>1 x");
                json_t *ex = json_object_get(ev, "extras");
                cr_expect_eq(json_object_size(ex), 4);
                cr_expect_eq(json_number_value(
                                 json_object_get(ex, "k=\"]\n" FFFD "(KKKKKKKKKKKKKKKKK")),
                             1.5);
                cr_expect(json_is_null(json_object_get(ex, H_KEY1)));
                cr_expect(json_is_null(json_object_get(ex, "ok")));
                cr_expect_eq(json_number_value(json_object_get(ex, "period_s")), 60);
                json_decref(j);
            }
            free(s);
        }
    }
    free(m);
    free(c);
}

/* 300-byte names: cut to what their fields hold. */
Test(format, long_names_are_cut_to_their_field)
{
    struct fs_anomaly a = sample();
    struct fs_rp_alert al = single(&a);
    struct msg *m = malloc(sizeof(*m));
    char host[301], app[301], want[301];

    memset(host, 'h', 300);
    memcpy(host + 250, "\n]\"|=", 5);
    host[300] = '\0';
    memset(app, 'a', 300);
    memcpy(app + 40, " ]", 2);
    app[300] = '\0';

    char *s = format(FS_RP_H_RFC5424, FS_RP_B_TEXT, &al, host, app);
    parse_5424(s, m);
    memcpy(want, host, 255);
    memcpy(want + 250, "_]\"|=", 5);
    want[255] = '\0';
    cr_expect_str_eq(m->host, want);
    memcpy(want, app, 48);
    memcpy(want + 40, "_]", 2);
    want[48] = '\0';
    cr_expect_str_eq(m->app, want);
    cr_expect_eq(m->nsd, 1);
    cr_expect_eq(m->nkv, (int)NWANT(sample_fields));
    free(s);

    s = format(FS_RP_H_RFC3164, FS_RP_B_TEXT, &al, host, app);
    parse_3164(s, m);
    cr_expect_eq(strlen(m->host), 255);
    cr_expect_eq(strlen(m->app), 32);
    free(s);

    s = format(FS_RP_H_NONE, FS_RP_B_EVE, &al, host, app);
    json_t *j = parse_eve(s);
    cr_expect_eq(strlen(jstr(j, "host")), 255);
    json_decref(j);
    free(s);
    free(m);
}

/* The largest message: every array full of bytes that grow most when
 * escaped, lists at their longest (and counts past them), long names. */
Test(format, worst_case_fits_the_maximum)
{
    struct fs_anomaly a = sample();
    struct fs_rp_alert al;
    char host[301], app[301];

    memset(a.metric, '\xff', sizeof(a.metric));
    a.peer = ip("2001:db8:1234:5678:9abc:def0:1234:5678");
    a.npeers = 200;
    a.nports = 200;
    a.nextra = 200;
    for (int i = 0; i < FS_ANOMALY_TOP; i++) {
        a.top_peers[i].addr = a.peer;
        a.top_peers[i].value = UINT64_MAX;
        a.top_ports[i].value = UINT64_MAX;
    }
    for (int i = 0; i < FS_ANOMALY_EXTRA; i++) {
        memset(a.extra[i].key, '\x01', sizeof(a.extra[i].key));
        a.extra[i].key[0] = (char)('a' + i); /* distinct: JSON keys must be */
        a.extra[i].value = -1.2345678901234e-300;
    }
    a.score = a.z = a.observed = a.expected = a.std = -1.2345678901234e-300;
    a.q1 = a.q3 = a.iqr_low = a.iqr_high = -1.2345678901234e-300;
    al = single(&a);
    al.count = UINT32_MAX;
    al.first_ms = al.last_ms = UINT64_MAX;
    memset(host, '\xff', 300);
    host[300] = '\0';
    memset(app, '\xff', 300);
    app[300] = '\0';
    for (size_t hi = 0; hi < 3; hi++) {
        for (size_t bi = 0; bi < 3; bi++) {
            char *s = format(headers[hi], bodies[bi], &al, host, app);
            cr_expect_leq(strlen(s), FS_RP_MSG_MAX);
            if (bodies[bi] == FS_RP_B_EVE) {
                /* Counters past 2^63 are valid JSON that jansson reads as reals. */
                json_error_t je;
                json_t *j = json_loads(strchr(s, '{'),
                                       JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &je);
                cr_expect_not_null(j, "%s", je.text);
                json_decref(j);
            }
            free(s);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Folded and storm alerts. */

Test(format, folded_alert)
{
    struct fs_anomaly a = sample();
    struct fs_rp_alert al = single(&a);
    struct msg *m = malloc(sizeof(*m));
    struct cef *c = malloc(sizeof(*c));
    char line[1024];

    al.kind = FS_RP_FOLDED;
    al.id = 0x0123456789abcdefull;
    al.count = 5;
    al.first_ms = T0 + 60000;
    al.last_ms = T0 + 240000;
    al.a.severity = FS_SEV_HIGH;

    char *s = format(FS_RP_H_RFC5424, FS_RP_B_TEXT, &al, "sensor1", NULL);
    parse_5424(s, m);
    cr_expect_eq(m->pri, 16 * 8 + 3);
    cr_expect_str_eq(m->app, "flowsentry");
    struct want w[NWANT(sample_fields)];
    memcpy(w, sample_fields, sizeof(w));
    w[0].value = "0123456789abcdef";
    w[1].value = "folded";
    w[3].value = "high";
    w[10].value = "5";
    w[11].value = "2026-11-24T13:01:00.000Z";
    w[12].value = "2026-11-24T13:04:00.000Z";
    expect_kv(m->kv, m->nkv, w, NWANT(w), &al, "sd");
    cr_expect_str_eq(m->body, "beaconing: 10.0.0.5 -> 203.0.113.9, 5 more from "
                              "2026-11-24T13:01:00.000Z to 2026-11-24T13:04:00.000Z, "
                              "highest score 87 (high): beacon_period_s 60 (expected 300)");
    free(s);

    s = format(FS_RP_H_RFC3164, FS_RP_B_TEXT, &al, "sensor1", "flowsentry");
    parse_3164(s, m);
    parse_text(m->body, m, line, sizeof(line));
    expect_kv(m->kv, m->nkv, w, NWANT(w), &al, "text");
    free(s);

    s = format(FS_RP_H_NONE, FS_RP_B_CEF, &al, "sensor1", "flowsentry");
    parse_cef(s, c);
    cr_expect_str_eq(c->hdr[5], "beaconing anomalies folded");
    cr_expect_str_eq(c->hdr[6], "8");
    cr_expect_str_eq(c->ext[0].value, "0123456789abcdef");
    cr_expect_str_eq(c->ext[3].value, "folded");
    cr_expect_str_eq(c->ext[4].name, "rt");
    cr_expect_str_eq(c->ext[4].value, "1795525440000");
    cr_expect_str_eq(c->ext[7].name, "cnt");
    cr_expect_str_eq(c->ext[7].value, "5");
    cr_expect_str_eq(c->ext[9].value, "1795525260000");
    cr_expect_str_eq(c->ext[11].value, "1795525440000");
    free(s);

    s = format(FS_RP_H_NONE, FS_RP_B_EVE, &al, "sensor1", "flowsentry");
    json_t *j = parse_eve(s);
    json_t *an = json_object_get(j, "anomaly");
    cr_expect_str_eq(jstr(j, "timestamp"), "2026-11-24T13:01:00.000000+0000");
    cr_expect_str_eq(jstr(j, "alert_id"), "0123456789abcdef");
    cr_expect_str_eq(jstr(an, "kind"), "folded");
    cr_expect_eq(json_integer_value(json_object_get(an, "count")), 5);
    cr_expect_eq(json_integer_value(json_object_get(an, "first")), (json_int_t)T0 + 60000);
    cr_expect_eq(json_integer_value(json_object_get(an, "last")), (json_int_t)T0 + 240000);
    json_decref(j);
    free(s);
    free(m);
    free(c);
}

Test(format, storm_alert)
{
    struct fs_rp_alert al;
    struct msg *m = malloc(sizeof(*m));
    struct cef *c = malloc(sizeof(*c));
    char line[1024];

    memset(&al, 0, sizeof(al));
    al.kind = FS_RP_STORM;
    al.id = 0xfedcba9876543210ull;
    al.a.ts_ms = T0;
    al.a.end_ms = T0 + 60000;
    al.count = 42;
    al.first_ms = T0 + 1000;
    al.last_ms = T0 + 59000;
    static const struct want w[] = {
        { "id", "fedcba9876543210" }, { "kind", "storm" }, { "ts", TS0 },
        { "end", "2026-11-24T13:01:00.000Z" }, { "count", "42" },
        { "first", "2026-11-24T13:00:01.000Z" }, { "last", "2026-11-24T13:00:59.000Z" },
    };

    char *s = format(FS_RP_H_RFC5424, FS_RP_B_TEXT, &al, "sensor1", "flowsentry");
    parse_5424(s, m);
    cr_expect_eq(m->pri, 16 * 8 + 4);
    cr_expect_str_eq(m->msgid, "storm");
    expect_kv(m->kv, m->nkv, w, NWANT(w), &al, "sd");
    cr_expect_str_eq(m->body, "alert storm: 42 alerts held back by the rate limit from "
                              "2026-11-24T13:00:01.000Z to 2026-11-24T13:00:59.000Z");
    free(s);

    s = format(FS_RP_H_NONE, FS_RP_B_TEXT, &al, "sensor1", "flowsentry");
    memset(m, 0, sizeof(*m));
    parse_text(s, m, line, sizeof(line));
    expect_kv(m->kv, m->nkv, w, NWANT(w), &al, "text");
    free(s);

    s = format(FS_RP_H_RFC3164, FS_RP_B_CEF, &al, "sensor1", "flowsentry");
    parse_3164(s, m);
    cr_expect_eq(m->pri, 16 * 8 + 4);
    parse_cef(m->body, c);
    cr_expect_str_eq(c->hdr[4], "storm");
    cr_expect_str_eq(c->hdr[5], "alert storm");
    cr_expect_str_eq(c->hdr[6], "5");
    static const char *const keys[] = {
        "externalId", "cat", "cs1Label", "cs1", "rt", "start", "end", "cnt",
        "deviceCustomDate1Label", "deviceCustomDate1", "deviceCustomDate2Label",
        "deviceCustomDate2", "dvchost", "msg",
    };
    cr_assert_eq(c->next, (int)NWANT(keys));
    for (size_t i = 0; i < NWANT(keys); i++)
        cr_expect_str_eq(c->ext[i].name, keys[i]);
    cr_expect_str_eq(c->ext[7].value, "42");
    free(s);

    s = format(FS_RP_H_NONE, FS_RP_B_EVE, &al, "sensor1", "flowsentry");
    json_t *j = parse_eve(s);
    static const char *const top[] = { "timestamp", "event_type", "host", "alert_id",
                                       "anomaly" };
    static const char *const an[] = { "ts", "end_ms", "kind", "count", "first", "last" };
    expect_keys(j, top, NWANT(top), "eve");
    expect_keys(json_object_get(j, "anomaly"), an, NWANT(an), "anomaly");
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "anomaly"), "count")),
                 42);
    json_decref(j);
    free(s);
    free(m);
    free(c);
}

/* ------------------------------------------------------------------ */
/* Header details, configuration values, buffer sizes. */

Test(format, header_defaults_and_limits)
{
    struct fs_anomaly a = sample();
    struct fs_rp_alert al = single(&a);
    struct fs_rp_fmt f = { FS_RP_H_RFC5424, FS_RP_B_TEXT, 99, NULL, "", 0 };
    struct msg *m = malloc(sizeof(*m));
    char out[FS_RP_MSG_MAX + 1];
    int n;

    a.severity = FS_SEV_LOW;
    al = single(&a);
    n = fs_rp_format(&f, &al, UINT64_MAX, out, sizeof(out) - 1);
    cr_assert_gt(n, 0);
    out[n] = '\0';
    parse_5424(out, m);
    cr_expect_eq(m->pri, 16 * 8 + 5, "out-of-range facility written as local0");
    cr_expect_str_eq(m->ts, "9999-12-31T23:59:59.999Z");
    cr_expect_str_eq(m->host, "-");
    cr_expect_str_eq(m->app, "-");
    cr_expect_str_eq(m->procid, "-");

    f.header = FS_RP_H_RFC3164;
    f.facility = 0;
    f.app_name = NULL;
    n = fs_rp_format(&f, &al, T0 + 86400000ull * 10 + 3723000, out, sizeof(out) - 1);
    cr_assert_gt(n, 0);
    out[n] = '\0';
    parse_3164(out, m);
    cr_expect_eq(m->pri, 5);
    cr_expect_str_eq(m->ts, "Dec  4 14:02:03", "day padded with a space");
    cr_expect_str_eq(m->app, "flowsentry");
    cr_expect_str_eq(m->procid, "");
    cr_expect_eq(strncmp(out, "<5>Dec  4 14:02:03 - flowsentry: ", 33), 0, "%s", out);
    free(m);
}

Test(format, cap_too_small_is_refused)
{
    struct fs_anomaly a = sample();
    struct fs_rp_alert al = single(&a);
    char out[FS_RP_MSG_MAX], again[FS_RP_MSG_MAX];

    for (size_t hi = 0; hi < 3; hi++) {
        for (size_t bi = 0; bi < 3; bi++) {
            struct fs_rp_fmt f = { headers[hi], bodies[bi], 16, "sensor1", "flowsentry", 1 };
            int n = fs_rp_format(&f, &al, NOW, out, sizeof(out));
            cr_assert_gt(n, 0);
            cr_expect_eq(fs_rp_format(&f, &al, NOW, again, (size_t)n), n);
            cr_expect_eq(memcmp(out, again, (size_t)n), 0);
            cr_expect_eq(fs_rp_format(&f, &al, NOW, again, (size_t)n - 1), -1);
            cr_expect_eq(fs_rp_format(&f, &al, NOW, again, 1), -1);
            cr_expect_eq(fs_rp_format(&f, &al, NOW, again, 0), -1);
        }
    }
}

Test(format, severity_mapping)
{
    cr_expect_eq(fs_rp_syslog_severity(FS_SEV_LOW), 5);
    cr_expect_eq(fs_rp_syslog_severity(FS_SEV_MEDIUM), 4);
    cr_expect_eq(fs_rp_syslog_severity(FS_SEV_HIGH), 3);
    cr_expect_eq(fs_rp_syslog_severity(FS_SEV_CRITICAL), 2);
    cr_expect_eq(fs_rp_syslog_severity((enum fs_severity)77), 4);
}

Test(format, configuration_values)
{
    enum fs_rp_header h = FS_RP_H_NONE;
    enum fs_rp_body b = FS_RP_B_TEXT;
    int fac = -1;

    cr_expect_eq(fs_rp_header_parse("rfc5424", &h), 0);
    cr_expect_eq(h, FS_RP_H_RFC5424);
    cr_expect_eq(fs_rp_header_parse("RFC3164", &h), 0);
    cr_expect_eq(h, FS_RP_H_RFC3164);
    cr_expect_eq(fs_rp_header_parse("none", &h), 0);
    cr_expect_eq(h, FS_RP_H_NONE);
    cr_expect_eq(fs_rp_header_parse("rfc5425", &h), -1);
    cr_expect_eq(fs_rp_header_parse("", &h), -1);

    cr_expect_eq(fs_rp_body_parse("cef", &b), 0);
    cr_expect_eq(b, FS_RP_B_CEF);
    cr_expect_eq(fs_rp_body_parse("eve", &b), 0);
    cr_expect_eq(b, FS_RP_B_EVE);
    b = FS_RP_B_TEXT;
    cr_expect_eq(fs_rp_body_parse("json", &b), 0);
    cr_expect_eq(b, FS_RP_B_EVE);
    cr_expect_eq(fs_rp_body_parse("text", &b), 0);
    cr_expect_eq(b, FS_RP_B_TEXT);
    cr_expect_eq(fs_rp_body_parse("leef", &b), -1);

    static const struct { const char *s; int v; } ok[] = {
        { "kern", 0 }, { "user", 1 }, { "daemon", 3 }, { "auth", 4 }, { "authpriv", 10 },
        { "local0", 16 }, { "LOCAL7", 23 }, { "0", 0 }, { "23", 23 }, { "16", 16 },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        fac = -1;
        cr_expect_eq(fs_rp_facility_parse(ok[i].s, &fac), 0, "%s", ok[i].s);
        cr_expect_eq(fac, ok[i].v, "%s", ok[i].s);
    }
    static const char *const bad[] = { "24", "-1", "", "local8", "3x", " 3", "99999999999" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fac = 7;
        cr_expect_eq(fs_rp_facility_parse(bad[i], &fac), -1, "%s", bad[i]);
        cr_expect_eq(fac, 7, "%s left the value alone", bad[i]);
    }
    cr_expect_str_eq(fs_rp_alert_kind_name(FS_RP_SINGLE), "anomaly");
    cr_expect_str_eq(fs_rp_alert_kind_name(FS_RP_FOLDED), "folded");
    cr_expect_str_eq(fs_rp_alert_kind_name(FS_RP_STORM), "storm");
}

/* The UTF-8 check behind every replacement with U+FFFD (ipc/anomaly.h). */
Test(format, utf8_lengths)
{
    static const struct { const char *s; size_t n, want; } cases[] = {
        { "a", 1, 1 },
        { "\xc3\xa9", 2, 2 },           /* e acute */
        { "\xe2\x82\xac", 3, 3 },       /* euro sign */
        { "\xf0\x9f\x98\x80", 4, 4 },   /* U+1F600 */
        { "\xef\xbf\xbd", 3, 3 },       /* U+FFFD itself */
        { "\xc3\xa9", 1, 0 },           /* cut short */
        { "\xe2\x82", 2, 0 },
        { "\x80", 1, 0 },               /* stray continuation */
        { "\xc0\xaf", 2, 0 },           /* overlong '/' */
        { "\xe0\x80\xaf", 3, 0 },       /* overlong */
        { "\xed\xa0\x80", 3, 0 },       /* surrogate U+D800 */
        { "\xf4\x90\x80\x80", 4, 0 },   /* U+110000 */
        { "\xf5\x80\x80\x80", 4, 0 },
        { "\xc3\x28", 2, 0 },           /* lead byte, then not a continuation */
        { "\xff", 1, 0 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_expect_eq(fs_utf8_len(cases[i].s, cases[i].n), cases[i].want, "case %zu", i);
}
