/*
 * span.h - distinct items of one key (ports a source probed, hosts it
 * reached) in the analyzer's open windows and over a rolling horizon of
 * event time, for the scan and lateral-movement detectors.
 *
 * Each count is a HyperLogLog counter of sketch.h (exact up to FS_HLL_SMALL
 * items, then 2^FS_SPAN_HLL_P registers, 6.5% standard error): one per open
 * window (the core keeps two open: the current one and the one late flows
 * may still reach) and two epochs of half the horizon each. The horizon
 * count is the union of the two epochs, so it covers the last horizon/2 to
 * horizon of event time: a sliding horizon at the cost of two counters.
 */
#ifndef FS_SPAN_H
#define FS_SPAN_H

#include <stdbool.h>
#include <stdint.h>

#include "sketch.h"

#define FS_SPAN_HLL_P 8

struct fs_span {
    uint64_t epoch_ms;        /* half the horizon */
    uint64_t win_ms[2];
    uint64_t epoch;           /* epoch index of ep[0] */
    struct fs_hll win[2];
    struct fs_hll ep[2];      /* ep[0]: the current epoch, ep[1]: the one before */
};

/* `epoch_ms`: half the horizon, at least 1. */
void fs_span_init(struct fs_span *s, uint64_t epoch_ms);
/* Releases the counters' registers (the span is then empty and usable). */
void fs_span_free(struct fs_span *s);

/* Adds an item (its 64-bit hash) seen at event time `t` in window `win_ms`
 * (0: keep the horizon only). Returns false, counting nothing, when the
 * window is older than both held. */
bool fs_span_add(struct fs_span *s, uint64_t win_ms, uint64_t t, uint64_t hash);

/* Distinct items in window `win_ms` (0 when it is not held). */
uint64_t fs_span_window(const struct fs_span *s, uint64_t win_ms);
/* Distinct items over the horizon that ends at `now_ms`; `scratch` is a
 * counter initialised with FS_SPAN_HLL_P that the union is built in. */
uint64_t fs_span_horizon(const struct fs_span *s, uint64_t now_ms, struct fs_hll *scratch);
/* An upper bound of the horizon count without building the union: cheap
 * while both epochs are exact. */
uint64_t fs_span_bound(const struct fs_span *s);

/* Bytes held outside the struct: the registers of counters that left the
 * exact regime. */
size_t fs_span_heap_bytes(const struct fs_span *s);

#endif
