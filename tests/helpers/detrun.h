/*
 * detrun.h - runs the whole analyzer over hand-built flows for the detector
 * tests: build a configuration from option pairs, queue flows in any order,
 * feed them sorted by end time, and look the anomalies up afterwards.
 */
#ifndef FS_TEST_DETRUN_H
#define FS_TEST_DETRUN_H

#include <stddef.h>
#include <stdint.h>

#include "analyzer.h"

/* 2024-03-04 00:00 UTC, a Monday. */
#define DETRUN_T0 1709510400000ull
#define DETRUN_MIN 60000ull
#define DETRUN_HOUR 3600000ull
#define DETRUN_DAY 86400000ull

#define DETRUN_SYN 0x02
#define DETRUN_RST 0x04
#define DETRUN_PSH 0x08
#define DETRUN_ACK 0x10
#define DETRUN_FIN 0x01
/* A whole client-side TCP connection: SYN, data, FIN, all ACKed. */
#define DETRUN_TCP_FULL (DETRUN_SYN | DETRUN_ACK | DETRUN_PSH | DETRUN_FIN)

struct detrun {
    struct fs_an_config cfg;
    struct fs_an_ctx *an;
    struct fs_flow *flows;
    size_t nflows, capflows;
    struct fs_anomaly *found;
    size_t nfound, capfound;
};

/* Home net 10.0.0.0/8, no warm-up, then the option pairs of `opts`
 * ("warmup", "2d", "set", "beaconing.min_beats=6", ..., NULL). Aborts the
 * test with the analyzer's message when anything is refused. */
void detrun_init(struct detrun *r, const char *const *opts);
void detrun_free(struct detrun *r);

/* Queues one flow. `flags` < 0: no TCP flags field. */
void detrun_flow(struct detrun *r, const char *src, uint16_t sport, const char *dst,
                 uint16_t dport, uint8_t proto, uint64_t start_ms, uint64_t dur_ms,
                 uint64_t packets, uint64_t bytes, int flags);
/* Feeds the queued flows sorted by end time (stable), then empties the queue. */
void detrun_feed(struct detrun *r);
/* detrun_feed, then fs_analyzer_finish. */
void detrun_finish(struct detrun *r);

/* Anomalies of class `cls` about `host`, with `peer` unless it is NULL. */
size_t detrun_count(const struct detrun *r, enum fs_anomaly_class cls, const char *host,
                    const char *peer);
/* Every anomaly of class `cls`, whoever it is about. */
size_t detrun_count_class(const struct detrun *r, enum fs_anomaly_class cls);
/* The first such anomaly, or NULL. */
const struct fs_anomaly *detrun_find(const struct detrun *r, enum fs_anomaly_class cls,
                                     const char *host, const char *peer);
/* The value of extra `key`, NaN when absent. */
double detrun_extra(const struct fs_anomaly *a, const char *key);
/* Prints every anomaly as JSON on stderr (for a failing test's log). */
void detrun_dump(const struct detrun *r);

/* Saves r's analyzer to a temporary snapshot and returns the bytes detector
 * `name` wrote into it (layout in analyzer/snapshot.c), malloc'd; aborts the
 * test when there are none. */
uint8_t *detrun_detector_state(struct detrun *r, const char *name, size_t *len);
/* Gives `len` bytes to the load hook of a fresh state of `d` (created on
 * r's analyzer) and returns what the hook returned. */
int detrun_load_state(struct detrun *r, const struct fs_detector *d, const uint8_t *p,
                      size_t len);
/* Every single-byte change and every truncation of a valid state must be
 * refused, and none may crash: returns how many were accepted. */
size_t detrun_corrupt_state(struct detrun *r, const struct fs_detector *d, const uint8_t *p,
                            size_t len);

#endif
