/*
 * anomaly.c - names, ids and the JSON line of the anomaly event (anomaly.h).
 *
 * The JSON form is what `--alerts FILE` holds and what a SIEM ingests, so it
 * is plain: fixed key order, numbers without exponent noise where they are
 * whole, no NaN or infinity (written as null, which JSON can carry).
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "anomaly.h"

static const char *const class_names[FS_AC_COUNT] = {
    "volume_spike", "exfiltration", "beaconing", "port_scan", "host_sweep",
    "lateral_movement", "new_port", "ddos", "dns_tunnel", "brute_force",
    "protocol_anomaly",
};

static const char *const severity_names[] = { "low", "medium", "high", "critical" };

const char *fs_anomaly_class_name(enum fs_anomaly_class c)
{
    return (unsigned)c < FS_AC_COUNT ? class_names[c] : NULL;
}

int fs_anomaly_class_parse(const char *name, enum fs_anomaly_class *c)
{
    for (unsigned i = 0; i < FS_AC_COUNT; i++) {
        if (strcmp(name, class_names[i]) == 0) {
            *c = (enum fs_anomaly_class)i;
            return 0;
        }
    }
    return -1;
}

const char *fs_severity_name(enum fs_severity s)
{
    return (unsigned)s <= FS_SEV_CRITICAL ? severity_names[s] : NULL;
}

enum fs_severity fs_severity_from_score(double score)
{
    if (score >= FS_SCORE_CRITICAL)
        return FS_SEV_CRITICAL;
    if (score >= FS_SCORE_HIGH)
        return FS_SEV_HIGH;
    if (score >= FS_SCORE_MEDIUM)
        return FS_SEV_MEDIUM;
    return FS_SEV_LOW;
}

uint64_t fs_fnv64(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(1099511628211);
    return h;
}

/* Only the meaningful bytes of an address enter the hash, so the id does not
 * depend on what happens to lie in the unused part of the struct. */
static uint64_t fnv_ip(uint64_t h, const fs_ip *ip)
{
    h = fs_fnv64(h, &ip->af, 1);
    return fs_fnv64(h, ip->b, ip->af == 4 ? 4 : ip->af == 6 ? 16 : 0);
}

void fs_anomaly_set_id(struct fs_anomaly *a)
{
    uint64_t h = FS_FNV64_INIT;
    uint8_t cls = (uint8_t)a->cls;
    uint8_t ts[8];

    for (int i = 0; i < 8; i++)
        ts[i] = (uint8_t)(a->ts_ms >> (56 - 8 * i));
    h = fs_fnv64(h, &cls, 1);
    h = fnv_ip(h, &a->host);
    h = fnv_ip(h, &a->peer);
    a->id = fs_fnv64(h, ts, sizeof(ts));
}

size_t fs_utf8_len(const char *s, size_t n)
{
    const unsigned char *b = (const unsigned char *)s;
    uint32_t c = b[0], min;
    size_t len;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, c &= 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, c &= 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, c &= 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((b[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (b[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return len;
}

void fs_anomaly_extra(struct fs_anomaly *a, const char *key, double value)
{
    if (a->nextra >= FS_ANOMALY_EXTRA)
        return;
    snprintf(a->extra[a->nextra].key, sizeof(a->extra[0].key), "%s", key);
    a->extra[a->nextra].value = value;
    a->nextra++;
}

/* A bounded appender: once `cap` is exceeded every further write is a no-op
 * and the result is -1, so the formatting code needs one check at the end. */
struct out {
    char *p;
    size_t len, cap;
    bool full;
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->full)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) {
        o->full = true;
        return;
    }
    o->len += (size_t)n;
}

/* Numbers: ten significant digits keep byte counts and means whole. */
const char *fs_json_num(double v, char *out)
{
    if (!isfinite(v))
        snprintf(out, FS_JSON_NUM_MAX, "null");
    else if ((v == floor(v) || fabs(v) >= 1e9) && fabs(v) < 1e15)
        snprintf(out, FS_JSON_NUM_MAX, "%.0f", v); /* fractions of a GB do not matter */
    else
        snprintf(out, FS_JSON_NUM_MAX, "%.10g", v);
    return out;
}

static void put_num(struct out *o, double v)
{
    char buf[FS_JSON_NUM_MAX];
    put(o, "%s", fs_json_num(v, buf));
}

/* A JSON string of at most `max` bytes: detector-supplied names are short
 * ASCII in fixed arrays, but nothing here trusts that they are terminated or
 * valid UTF-8 (a decoder that rejects the line would lose the finding). */
static void put_str(struct out *o, const char *s, size_t max)
{
    size_t n = strnlen(s, max);

    put(o, "\"");
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = fs_utf8_len(s + i, n - i);

        if (c == '"' || c == '\\')
            put(o, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            put(o, "\\u%04x", c);
        else if (k == 0)
            put(o, "\\ufffd");
        else
            put(o, "%.*s", (int)k, s + i);
        i += k ? k : 1;
    }
    put(o, "\"");
}

static void put_ip(struct out *o, const fs_ip *ip)
{
    char buf[FS_IP_STRLEN];
    put(o, "\"%s\"", fs_ip_format(ip, buf));
}

int fs_anomaly_json(const struct fs_anomaly *a, char *out, size_t cap)
{
    struct out o = { out, 0, cap, cap == 0 };
    const char *cls = fs_anomaly_class_name(a->cls);
    const char *sev = fs_severity_name(a->severity);

    put(&o, "{\"id\":\"%016llx\",\"ts\":%llu,\"end_ms\":%llu,\"host\":",
        (unsigned long long)a->id, (unsigned long long)a->ts_ms,
        (unsigned long long)a->end_ms);
    put_ip(&o, &a->host);
    if (a->peer.af) {
        put(&o, ",\"peer\":");
        put_ip(&o, &a->peer);
    }
    put(&o, ",\"class\":\"%s\",\"severity\":\"%s\",\"score\":", cls ? cls : "unknown",
        sev ? sev : "unknown");
    put_num(&o, a->score);
    put(&o, ",\"z\":");
    put_num(&o, a->z);
    put(&o, ",\"evidence\":{\"metric\":");
    put_str(&o, a->metric, sizeof(a->metric));
    static const char *const keys[] = { "observed", "expected", "std", "q1", "q3",
                                        "iqr_low", "iqr_high" };
    const double vals[] = { a->observed, a->expected, a->std, a->q1, a->q3,
                            a->iqr_low, a->iqr_high };
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        put(&o, ",\"%s\":", keys[i]);
        put_num(&o, vals[i]);
    }
    put(&o, ",\"samples\":%u,\"top_peers\":[", a->samples);
    for (unsigned i = 0; i < a->npeers && i < FS_ANOMALY_TOP; i++) {
        put(&o, "%s{\"addr\":", i ? "," : "");
        put_ip(&o, &a->top_peers[i].addr);
        put(&o, ",\"value\":%llu}", (unsigned long long)a->top_peers[i].value);
    }
    put(&o, "],\"top_ports\":[");
    for (unsigned i = 0; i < a->nports && i < FS_ANOMALY_TOP; i++)
        put(&o, "%s{\"port\":%u,\"proto\":%u,\"value\":%llu}", i ? "," : "",
            a->top_ports[i].port, a->top_ports[i].proto,
            (unsigned long long)a->top_ports[i].value);
    put(&o, "],\"extras\":{");
    for (unsigned i = 0; i < a->nextra && i < FS_ANOMALY_EXTRA; i++) {
        if (i)
            put(&o, ",");
        put_str(&o, a->extra[i].key, sizeof(a->extra[i].key));
        put(&o, ":");
        put_num(&o, a->extra[i].value);
    }
    put(&o, "}}}");
    return o.full ? -1 : (int)o.len;
}
