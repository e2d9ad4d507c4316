/*
 * format.c - alerts as syslog, CEF and EVE messages (format.h). The layouts,
 * field names and escaping rules are described, with examples, in
 * docs/alert-formats.md; a change here is a change there.
 *
 * Every byte that comes from an anomaly or from configuration goes through
 * one escaper whose rules depend on where it lands, so there is one place
 * that decides what may reach the output raw.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "format.h"
#include "version.h"

#define SD_ID "flowsentry@32473"
#define HOST_MAX 255      /* RFC 5424 HOSTNAME */
#define APP_MAX 48        /* RFC 5424 APP-NAME */
#define TAG_MAX 32        /* RFC 3164 TAG */
#define DEFAULT_APP "flowsentry"
#define STORM_SYSLOG_SEV 4
#define TIME_MAX_MS UINT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */
#define TIME_LEN 96 /* room for what snprintf might write for any struct tm */

/* ------------------------------------------------------------------ */
/* Configuration values. */

int fs_rp_header_parse(const char *s, enum fs_rp_header *h)
{
    static const char *const names[] = { "rfc5424", "rfc3164", "none" };

    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *h = (enum fs_rp_header)i;
            return 0;
        }
    }
    return -1;
}

int fs_rp_body_parse(const char *s, enum fs_rp_body *b)
{
    if (strcasecmp(s, "text") == 0)
        *b = FS_RP_B_TEXT;
    else if (strcasecmp(s, "cef") == 0)
        *b = FS_RP_B_CEF;
    else if (strcasecmp(s, "eve") == 0 || strcasecmp(s, "json") == 0)
        *b = FS_RP_B_EVE;
    else
        return -1;
    return 0;
}

/* The codes of RFC 5424 table 1, named as syslog.conf and rsyslog name them. */
static const char *const facility_names[24] = {
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
    "uucp", "cron", "authpriv", "ftp", "ntp", "audit", "alert", "clock",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
};

int fs_rp_facility_parse(const char *s, int *facility)
{
    char *end;
    long v;

    for (int i = 0; i < 24; i++) {
        if (strcasecmp(s, facility_names[i]) == 0) {
            *facility = i;
            return 0;
        }
    }
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v > 23)
        return -1;
    *facility = (int)v;
    return 0;
}

int fs_rp_syslog_severity(enum fs_severity s)
{
    switch (s) {
    case FS_SEV_LOW:
        return 5;
    case FS_SEV_MEDIUM:
        return 4;
    case FS_SEV_HIGH:
        return 3;
    case FS_SEV_CRITICAL:
        return 2;
    }
    return 4;
}

/* ArcSight's scale: 0-3 low, 4-6 medium, 7-8 high, 9-10 very high. */
static int cef_severity(const struct fs_rp_alert *al)
{
    static const int sev[] = { 3, 5, 8, 10 };

    if (al->kind == FS_RP_STORM || (unsigned)al->a.severity > FS_SEV_CRITICAL)
        return 5;
    return sev[al->a.severity];
}

/* ------------------------------------------------------------------ */
/* A bounded appender: once `cap` is exceeded every further write is a no-op,
 * so the formatting code checks once at the end. */

struct out {
    char *p;
    size_t len, cap;
    bool full;
};

static void put_bytes(struct out *o, const char *s, size_t n)
{
    if (o->full)
        return;
    if (n > o->cap - o->len) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_s(struct out *o, const char *s)
{
    put_bytes(o, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* Format strings here are short with bounded arguments; longer text
     * goes through put_s or put_bytes. */
    if (n < 0 || (size_t)n >= sizeof(buf))
        o->full = true;
    else
        put_bytes(o, buf, (size_t)n);
}

/* ------------------------------------------------------------------ */
/* Escaping. */

enum esc {
    ESC_SD,      /* RFC 5424 PARAM-VALUE: \" \\ \] */
    ESC_KV,      /* quoted value of the text body: \" \\, any other byte outside
                    printable ASCII as \xHH (exact, whatever the bytes) */
    ESC_CEF_HDR, /* CEF header field: \| \\ */
    ESC_CEF_EXT, /* CEF extension value: \= \\ and \r \n */
    ESC_JSON     /* RFC 8259 string content */
};

static bool backslashed(unsigned char c, enum esc e)
{
    switch (e) {
    case ESC_SD:
        return c == '"' || c == '\\' || c == ']';
    case ESC_KV:
    case ESC_JSON:
        return c == '"' || c == '\\';
    case ESC_CEF_HDR:
        return c == '|' || c == '\\';
    case ESC_CEF_EXT:
        return c == '=' || c == '\\';
    }
    return false;
}

/* s up to its NUL or `max` bytes (fixed arrays need not be terminated).
 * Control characters never go out raw: JSON and CEF line breaks have escapes
 * of their own, the rest are written "#ooo" (octal), as rsyslog writes them.
 * A byte that is not part of well-formed UTF-8 becomes U+FFFD. The text
 * body's pairs instead write every byte outside printable ASCII as \xHH, so
 * they give back the exact bytes. */
static void put_esc(struct out *o, const char *s, size_t max, enum esc e)
{
    size_t n = strnlen(s, max);

    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = e == ESC_KV ? 1 : fs_utf8_len(s + i, n - i);

        if (backslashed(c, e))
            put(o, "\\%c", c);
        else if (e == ESC_KV && (c < 0x20 || c >= 0x7f))
            put(o, "\\x%02x", c);
        else if (e == ESC_CEF_EXT && (c == '\r' || c == '\n'))
            put(o, c == '\r' ? "\\r" : "\\n");
        else if (c < 0x20 || c == 0x7f)
            put(o, e == ESC_JSON ? "\\u%04x" : "#%03o", c);
        else if (k == 0)
            put(o, "%s", e == ESC_JSON ? "\\ufffd" : "\xef\xbf\xbd");
        else
            put_bytes(o, s + i, k);
        i += k ? k : 1;
    }
}

/* A configured name reduced to the characters its header field allows
 * (others become '_') and to `max` bytes, into buf[max + 1]; "-" (the
 * NILVALUE) when NULL or empty. */
static const char *clean_name(const char *s, size_t max, bool tag, char *buf)
{
    size_t n = s ? strnlen(s, max) : 0;

    if (n == 0)
        return "-";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = tag ? (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
                            (c >= 'a' && c <= 'z') || c == '-' || c == '_' || c == '.'
                      : c >= 33 && c <= 126;
        buf[i] = ok ? (char)c : '_';
    }
    buf[n] = '\0';
    return buf;
}

/* ------------------------------------------------------------------ */
/* Values. */

enum tstyle { T_RFC3339, T_EVE, T_RFC3164 };

/* Times past what the formats can write are written as the last
 * millisecond of year 9999. */
static const char *fmt_time(uint64_t ms, enum tstyle st, char *buf, size_t len)
{
    static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;
    time_t t;

    if (ms > TIME_MAX_MS)
        ms = TIME_MAX_MS;
    t = (time_t)(ms / 1000);
    gmtime_r(&t, &tm);
    if (st == T_RFC3164)
        snprintf(buf, len, "%s %2d %02d:%02d:%02d", mon[tm.tm_mon], tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
    else
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%0*u%s", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 st == T_EVE ? 6 : 3,
                 (unsigned)(ms % 1000) * (st == T_EVE ? 1000u : 1u),
                 st == T_EVE ? "+0000" : "Z");
    return buf;
}

static const char *class_name(const struct fs_rp_alert *al)
{
    const char *c = fs_anomaly_class_name(al->a.cls);
    return c ? c : "unknown";
}

static const char *severity_name(const struct fs_rp_alert *al)
{
    const char *s = fs_severity_name(al->a.severity);
    return s ? s : "unknown";
}

/* ------------------------------------------------------------------ */
/* The anomaly as name="value" pairs: the SD-PARAMs of RFC 5424 and the
 * key=value part of the text body. Names are fixed here; repeated names
 * (top_peer, top_port, extra) carry "item=value", split at the last '='. */

static void field(struct out *o, enum esc e, const char *name, const char *v, size_t max)
{
    put(o, " %s=\"", name);
    put_esc(o, v, max, e);
    put(o, "\"");
}

static void field_num(struct out *o, enum esc e, const char *name, double v)
{
    char b[FS_JSON_NUM_MAX];

    if (isfinite(v))
        field(o, e, name, fs_json_num(v, b), sizeof(b));
}

static void field_u64(struct out *o, enum esc e, const char *name, uint64_t v)
{
    char b[24];

    snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
    field(o, e, name, b, sizeof(b));
}

static void field_time(struct out *o, enum esc e, const char *name, uint64_t ms)
{
    char b[TIME_LEN];
    field(o, e, name, fmt_time(ms, T_RFC3339, b, sizeof(b)), sizeof(b));
}

static void field_ip(struct out *o, enum esc e, const char *name, const fs_ip *ip)
{
    char b[FS_IP_STRLEN];
    field(o, e, name, fs_ip_format(ip, b), sizeof(b));
}

static void put_fields(struct out *o, const struct fs_rp_alert *al, enum esc e)
{
    const struct fs_anomaly *a = &al->a;
    char b[128], num[FS_JSON_NUM_MAX], ip[FS_IP_STRLEN];

    snprintf(b, sizeof(b), "%016llx", (unsigned long long)al->id);
    field(o, e, "id", b, sizeof(b));
    field(o, e, "kind", fs_rp_alert_kind_name(al->kind), 16);
    if (al->kind != FS_RP_STORM) {
        field(o, e, "class", class_name(al), 32);
        field(o, e, "severity", severity_name(al), 16);
        field_num(o, e, "score", a->score);
        field_num(o, e, "z", a->z);
        field_ip(o, e, "host", &a->host);
        if (a->peer.af)
            field_ip(o, e, "peer", &a->peer);
    }
    field_time(o, e, "ts", a->ts_ms);
    field_time(o, e, "end", a->end_ms);
    field_u64(o, e, "count", al->count);
    field_time(o, e, "first", al->first_ms);
    field_time(o, e, "last", al->last_ms);
    if (al->kind == FS_RP_STORM)
        return;
    field(o, e, "metric", a->metric, sizeof(a->metric));
    field_num(o, e, "observed", a->observed);
    field_num(o, e, "expected", a->expected);
    field_num(o, e, "std", a->std);
    field_num(o, e, "q1", a->q1);
    field_num(o, e, "q3", a->q3);
    field_num(o, e, "iqr_low", a->iqr_low);
    field_num(o, e, "iqr_high", a->iqr_high);
    field_u64(o, e, "samples", a->samples);
    for (unsigned i = 0; i < a->npeers && i < FS_ANOMALY_TOP; i++) {
        snprintf(b, sizeof(b), "%s=%llu", fs_ip_format(&a->top_peers[i].addr, ip),
                 (unsigned long long)a->top_peers[i].value);
        field(o, e, "top_peer", b, sizeof(b));
    }
    for (unsigned i = 0; i < a->nports && i < FS_ANOMALY_TOP; i++) {
        snprintf(b, sizeof(b), "%u/%u=%llu", a->top_ports[i].port, a->top_ports[i].proto,
                 (unsigned long long)a->top_ports[i].value);
        field(o, e, "top_port", b, sizeof(b));
    }
    for (unsigned i = 0; i < a->nextra && i < FS_ANOMALY_EXTRA; i++) {
        if (!isfinite(a->extra[i].value))
            continue;
        snprintf(b, sizeof(b), "%.*s=%s", (int)sizeof(a->extra[i].key), a->extra[i].key,
                 fs_json_num(a->extra[i].value, num));
        field(o, e, "extra", b, sizeof(b));
    }
}

/* ------------------------------------------------------------------ */
/* The readable line: built only from names, addresses, numbers and times,
 * with the metric name reduced to [A-Za-z0-9_.:/-] ('?' for the rest), so
 * it needs no escaping in any format and holds no '"', '=' or ']'. */

static void put_line_num(struct out *o, double v)
{
    char b[FS_JSON_NUM_MAX];
    put(o, "%s", isfinite(v) ? fs_json_num(v, b) : "n/a");
}

static void put_line(struct out *o, const struct fs_rp_alert *al)
{
    const struct fs_anomaly *a = &al->a;
    char t1[TIME_LEN], t2[TIME_LEN], ip[FS_IP_STRLEN];

    fmt_time(al->first_ms, T_RFC3339, t1, sizeof(t1));
    fmt_time(al->last_ms, T_RFC3339, t2, sizeof(t2));
    if (al->kind == FS_RP_STORM) {
        put(o, "alert storm: %u alerts held back by the rate limit from %s to %s",
            al->count, t1, t2);
        return;
    }
    put(o, "%s: %s", class_name(al), fs_ip_format(&a->host, ip));
    if (a->peer.af)
        put(o, " -> %s", fs_ip_format(&a->peer, ip));
    if (al->kind == FS_RP_FOLDED)
        put(o, ", %u more from %s to %s, highest score ", al->count, t1, t2);
    else
        put(o, ", score ");
    put_line_num(o, a->score);
    put(o, " (%s)", severity_name(al));
    size_t n = strnlen(a->metric, sizeof(a->metric));
    if (n == 0)
        return;
    put(o, ": ");
    for (size_t i = 0; i < n; i++) {
        char c = a->metric[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  strchr("_.:/-", c) != NULL;
        put_bytes(o, ok ? &c : "?", 1);
    }
    put(o, " ");
    put_line_num(o, a->observed);
    put(o, " (expected ");
    put_line_num(o, a->expected);
    put(o, ")");
}

/* ------------------------------------------------------------------ */
/* CEF. */

/* One " key=value" of the extension (the first key is written with the
 * header, without the space). */
static void cef_ext(struct out *o, const char *key, const char *v, size_t max)
{
    put(o, " %s=", key);
    put_esc(o, v, max, ESC_CEF_EXT);
}

static void cef_u64(struct out *o, const char *key, uint64_t v)
{
    char b[24];

    snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
    cef_ext(o, key, b, sizeof(b));
}

/* A float with its label (cfpN, cfpNLabel); left out when not finite. */
static void cef_float(struct out *o, int n, const char *label, double v)
{
    char key[24], b[FS_JSON_NUM_MAX];

    if (!isfinite(v))
        return;
    snprintf(key, sizeof(key), "cfp%dLabel", n);
    cef_ext(o, key, label, 32);
    snprintf(key, sizeof(key), "cfp%d", n);
    cef_ext(o, key, fs_json_num(v, b), sizeof(b));
}

static void put_cef(struct out *o, const struct fs_rp_fmt *f, const struct fs_rp_alert *al)
{
    const struct fs_anomaly *a = &al->a;
    const char *sig = al->kind == FS_RP_STORM ? "storm" : class_name(al);
    char b[128], ip[FS_IP_STRLEN], host[HOST_MAX + 1], num[FS_JSON_NUM_MAX];

    put(o, "CEF:0|flowsentry|flowsentry|" FS_VERSION "|");
    put_esc(o, sig, 32, ESC_CEF_HDR);
    put(o, "|");
    if (al->kind == FS_RP_STORM)
        snprintf(b, sizeof(b), "alert storm");
    else
        snprintf(b, sizeof(b), "%s %s", sig,
                 al->kind == FS_RP_FOLDED ? "anomalies folded" : "anomaly");
    put_esc(o, b, sizeof(b), ESC_CEF_HDR);
    put(o, "|%d|externalId=%016llx", cef_severity(al), (unsigned long long)al->id);

    cef_ext(o, "cat", sig, 32);
    cef_ext(o, "cs1Label", "kind", 8);
    cef_ext(o, "cs1", fs_rp_alert_kind_name(al->kind), 16);
    cef_u64(o, "rt", al->last_ms);
    cef_u64(o, "start", a->ts_ms);
    cef_u64(o, "end", a->end_ms);
    cef_u64(o, "cnt", al->count);
    cef_ext(o, "deviceCustomDate1Label", "first", 8);
    cef_u64(o, "deviceCustomDate1", al->first_ms);
    cef_ext(o, "deviceCustomDate2Label", "last", 8);
    cef_u64(o, "deviceCustomDate2", al->last_ms);
    if (f->hostname && f->hostname[0])
        cef_ext(o, "dvchost", clean_name(f->hostname, HOST_MAX, false, host), sizeof(host));
    if (al->kind != FS_RP_STORM) {
        cef_ext(o, "src", fs_ip_format(&a->host, ip), sizeof(ip));
        if (a->peer.af)
            cef_ext(o, "dst", fs_ip_format(&a->peer, ip), sizeof(ip));
        cef_float(o, 1, "score", a->score);
        cef_float(o, 2, "z", a->z);
        cef_float(o, 3, "observed", a->observed);
        cef_float(o, 4, "expected", a->expected);
        cef_ext(o, "cs2Label", "metric", 8);
        cef_ext(o, "cs2", a->metric, sizeof(a->metric));
        /* "key=value key=value": each '=' comes out escaped, as every '='
         * in an extension value must. */
        char ex[FS_ANOMALY_EXTRA * (sizeof(a->extra[0].key) + FS_JSON_NUM_MAX + 2)];
        struct out x = { ex, 0, sizeof(ex), false };
        for (unsigned i = 0; i < a->nextra && i < FS_ANOMALY_EXTRA; i++) {
            if (!isfinite(a->extra[i].value))
                continue;
            if (x.len)
                put(&x, " ");
            put_bytes(&x, a->extra[i].key, strnlen(a->extra[i].key, sizeof(a->extra[i].key)));
            put(&x, "=%s", fs_json_num(a->extra[i].value, num));
        }
        if (x.len) {
            cef_ext(o, "cs3Label", "extras", 8);
            cef_ext(o, "cs3", ex, x.len);
        }
    }
    put(o, " msg=");
    put_line(o, al);
}

/* ------------------------------------------------------------------ */
/* EVE. */

static void json_str(struct out *o, const char *s, size_t max)
{
    put(o, "\"");
    put_esc(o, s, max, ESC_JSON);
    put(o, "\"");
}

static void put_eve(struct out *o, const struct fs_rp_fmt *f, const struct fs_rp_alert *al)
{
    const struct fs_anomaly *a = &al->a;
    char b[TIME_LEN], ip[FS_IP_STRLEN];

    put(o, "{\"timestamp\":\"%s\",\"event_type\":\"anomaly\"",
        fmt_time(al->first_ms, T_EVE, b, sizeof(b)));
    if (f->hostname && f->hostname[0]) {
        /* The name as the syslog header carries it, so both agree. */
        char host[HOST_MAX + 1];
        put(o, ",\"host\":");
        json_str(o, clean_name(f->hostname, HOST_MAX, false, host), sizeof(host));
    }
    if (al->kind != FS_RP_STORM) {
        put(o, ",\"src_ip\":\"%s\"", fs_ip_format(&a->host, ip));
        if (a->peer.af)
            put(o, ",\"dest_ip\":\"%s\"", fs_ip_format(&a->peer, ip));
    }
    put(o, ",\"alert_id\":\"%016llx\",\"anomaly\":", (unsigned long long)al->id);
    if (al->kind == FS_RP_STORM) {
        put(o, "{\"ts\":%llu,\"end_ms\":%llu", (unsigned long long)a->ts_ms,
            (unsigned long long)a->end_ms);
    } else {
        /* The analyzer's own JSON of the anomaly, its closing brace left
         * off so the alert's fields join it. */
        char js[FS_ANOMALY_JSON_MAX];
        int n = fs_anomaly_json(a, js, sizeof(js));
        if (n < 1) {
            o->full = true;
            return;
        }
        put_bytes(o, js, (size_t)n - 1);
    }
    put(o, ",\"kind\":\"%s\",\"count\":%u,\"first\":%llu,\"last\":%llu}}",
        fs_rp_alert_kind_name(al->kind), al->count, (unsigned long long)al->first_ms,
        (unsigned long long)al->last_ms);
}

/* ------------------------------------------------------------------ */
/* Messages. */

int fs_rp_format(const struct fs_rp_fmt *f, const struct fs_rp_alert *al, uint64_t now_ms,
                 char *out, size_t cap)
{
    struct out o = { out, 0, cap, false };
    const char *app = f->app_name ? f->app_name : DEFAULT_APP;
    int facility = f->facility >= 0 && f->facility <= 23 ? f->facility : 16;
    int sev = al->kind == FS_RP_STORM ? STORM_SYSLOG_SEV : fs_rp_syslog_severity(al->a.severity);
    char t[TIME_LEN], host[HOST_MAX + 1], name[APP_MAX + 1];

    switch (f->header) {
    case FS_RP_H_RFC5424:
        put(&o, "<%d>1 %s ", facility * 8 + sev, fmt_time(now_ms, T_RFC3339, t, sizeof(t)));
        put_s(&o, clean_name(f->hostname, HOST_MAX, false, host));
        put_s(&o, " ");
        put_s(&o, clean_name(app, APP_MAX, false, name));
        if (f->procid)
            put(&o, " %u ", f->procid);
        else
            put(&o, " - ");
        put(&o, "%s ", al->kind == FS_RP_STORM ? "storm" : class_name(al));
        if (f->body == FS_RP_B_TEXT) {
            put(&o, "[" SD_ID);
            put_fields(&o, al, ESC_SD);
            put(&o, "] ");
        } else {
            put(&o, "- ");
        }
        break;
    case FS_RP_H_RFC3164:
        put(&o, "<%d>%s ", facility * 8 + sev, fmt_time(now_ms, T_RFC3164, t, sizeof(t)));
        put_s(&o, clean_name(f->hostname, HOST_MAX, false, host));
        put_s(&o, " ");
        put_s(&o, clean_name(app, TAG_MAX, true, name));
        if (f->procid)
            put(&o, "[%u]", f->procid);
        put(&o, ": ");
        break;
    case FS_RP_H_NONE:
        break;
    }

    switch (f->body) {
    case FS_RP_B_TEXT:
        put_line(&o, al);
        if (f->header != FS_RP_H_RFC5424)
            put_fields(&o, al, ESC_KV);
        break;
    case FS_RP_B_CEF:
        put_cef(&o, f, al);
        break;
    case FS_RP_B_EVE:
        put_eve(&o, f, al);
        break;
    }
    return o.full ? -1 : (int)o.len;
}
