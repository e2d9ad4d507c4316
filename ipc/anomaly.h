/*
 * anomaly.h - the anomaly event the analyzer emits and the reporter delivers.
 *
 * One struct for every class of finding, carried on the events bus as a
 * msgpack "anomaly" message (see docs/messages.md) and written as one JSON
 * object per line with fs_anomaly_json(). The evidence part says what was
 * measured against what was expected, so an analyst can judge the finding
 * without the analyzer at hand.
 */
#ifndef FS_ANOMALY_H
#define FS_ANOMALY_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

enum fs_anomaly_class {
    FS_AC_VOLUME_SPIKE = 0,
    FS_AC_EXFILTRATION,
    FS_AC_BEACONING,
    FS_AC_PORT_SCAN,
    FS_AC_HOST_SWEEP,
    FS_AC_LATERAL_MOVEMENT,
    FS_AC_NEW_PORT,
    FS_AC_DDOS,
    FS_AC_DNS_TUNNEL,
    FS_AC_BRUTE_FORCE,
    FS_AC_PROTOCOL_ANOMALY,
    FS_AC_COUNT
};

enum fs_severity { FS_SEV_LOW = 0, FS_SEV_MEDIUM, FS_SEV_HIGH, FS_SEV_CRITICAL };

/* "volume_spike", ...; NULL when out of range. */
const char *fs_anomaly_class_name(enum fs_anomaly_class c);
/* Returns 0 and sets *c, or -1 for an unknown name. */
int fs_anomaly_class_parse(const char *name, enum fs_anomaly_class *c);
const char *fs_severity_name(enum fs_severity s); /* "low", ... */
/* Severity from a combined score: thresholds documented in docs/detection.md
 * and docs/analyzer.md: below FS_SCORE_MEDIUM low, then medium, high, and
 * critical from FS_SCORE_CRITICAL. */
#define FS_SCORE_MEDIUM 40.0
#define FS_SCORE_HIGH 65.0
#define FS_SCORE_CRITICAL 85.0
enum fs_severity fs_severity_from_score(double score);

#define FS_ANOMALY_TOP 5
#define FS_ANOMALY_EXTRA 8

struct fs_anomaly {
    uint64_t id;              /* stable: same finding, same id (hash of class, host, peer, ts) */
    uint64_t ts_ms;           /* start of the window the finding is about */
    uint64_t end_ms;          /* end of that window (or of the pattern's span) */
    fs_ip host;               /* the internal address concerned */
    fs_ip peer;               /* af 0 when no single peer applies */
    enum fs_anomaly_class cls;
    enum fs_severity severity;
    double score;             /* combined score, 0..100 */
    double z;                 /* z-score against the baseline slot (0 when not baseline-based) */

    /* Evidence. */
    char metric[32];          /* "bytes_out", "distinct_ports", "beacon_period_s", ... */
    double observed;
    double expected;          /* baseline mean (or median) for the slot */
    double std;
    double q1, q3;            /* baseline quartiles */
    double iqr_low, iqr_high; /* fences Q1 - k*IQR, Q3 + k*IQR */
    uint32_t samples;         /* windows in the baseline slot */
    uint8_t npeers, nports, nextra;
    struct { fs_ip addr; uint64_t value; } top_peers[FS_ANOMALY_TOP];
    struct { uint16_t port; uint8_t proto; uint64_t value; } top_ports[FS_ANOMALY_TOP];
    /* Detector sub-scores and facts ("period_s", "jitter", "size_cv", "beats", ...). */
    struct { char key[24]; double value; } extra[FS_ANOMALY_EXTRA];
};

/* Computes a.id from class, host, peer and ts_ms (FNV-1a 64). */
void fs_anomaly_set_id(struct fs_anomaly *a);

/* FNV-1a 64 over n bytes, continuing from h (start with FS_FNV64_INIT): the
 * hash of anomaly ids, shared by what derives ids from them (reporter/fold.c). */
#define FS_FNV64_INIT UINT64_C(14695981039346656037)
uint64_t fs_fnv64(uint64_t h, const void *p, size_t n);

/* Length (1..4) of the well-formed UTF-8 character at s[0..n), n >= 1, or 0
 * when s[0] does not start one (stray continuation byte, overlong form,
 * surrogate, past U+10FFFF, cut short). Writers replace such bytes. */
size_t fs_utf8_len(const char *s, size_t n);

/* Adds one sub-score/fact; silently ignored past FS_ANOMALY_EXTRA. */
void fs_anomaly_extra(struct fs_anomaly *a, const char *key, double value);

/* One-line JSON object (no newline): id (16 hex digits), ts, end_ms, host, peer,
 * class, severity, score, z, evidence{metric, observed, expected, std, q1, q3,
 * iqr_low, iqr_high, samples, top_peers[{addr, value}], top_ports[{port, proto,
 * value}], and the extra keys}. Strings are valid JSON whatever their bytes:
 * control characters as \u00XX, each byte of invalid UTF-8 as \ufffd.
 * Returns the length, or -1 if `cap` is too small. */
#define FS_ANOMALY_JSON_MAX 4096
int fs_anomaly_json(const struct fs_anomaly *a, char *out, size_t cap);

/* A number as the JSON of anomalies and reports writes it: whole values and
 * values of a billion or more as integers, others with ten significant
 * digits, NaN and infinities as null.
 * Returns `out`, which holds FS_JSON_NUM_MAX bytes. */
#define FS_JSON_NUM_MAX 32
const char *fs_json_num(double v, char *out);

#endif
