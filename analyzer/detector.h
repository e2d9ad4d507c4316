/*
 * detector.h - the contract between the analyzer's core and its behaviour
 * detectors (beaconing, exfiltration, scans, lateral movement, ...).
 *
 * The core owns time, hosts and baselines: it classifies each flow against
 * the home networks, assigns it to an event-time window, and calls every
 * detector's `flow` hook; when the watermark passes the end of a window it
 * calls every `window_close` hook, in window order. Detectors keep their own
 * bounded state (see sketch.h for HyperLogLog, quantiles and top-N), read
 * their thresholds with fs_an_param(), consult the host baselines the core
 * keeps, and report findings with fs_an_emit(). Everything is driven by event
 * time, never the wall clock, so a replay finds exactly what the live run did.
 */
#ifndef FS_DETECTOR_H
#define FS_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "anomaly.h"
#include "flow.h"

/* Where a flow goes relative to the home networks. */
enum fs_dir {
    FS_DIR_OUTBOUND = 0, /* internal source, external destination */
    FS_DIR_INBOUND,      /* external source, internal destination */
    FS_DIR_INTERNAL,     /* both internal */
    FS_DIR_TRANSIT       /* neither: not about our hosts */
};

/* One flow as the core hands it to detectors. */
struct fs_an_flow {
    const struct fs_flow *f;
    enum fs_dir dir;
    bool src_internal, dst_internal;
    uint64_t ts_ms;          /* event time (flow end, else start) */
    uint64_t window_ms;      /* start of the window the flow belongs to */
};

/* A window that has just closed. */
struct fs_an_window {
    uint64_t start_ms, end_ms;
    unsigned hour_of_week;   /* 0 = Monday 00:00-01:00 UTC ... 167 */
    bool warm;               /* the warm-up period is over: baselines may score */
};

/* Per-host metrics the core measures in every window and keeps baselines of. */
enum fs_metric {
    FS_M_BYTES_OUT = 0,      /* bytes sent by the host */
    FS_M_BYTES_IN,           /* bytes received */
    FS_M_PACKETS,            /* packets both ways */
    FS_M_FLOWS,              /* flows the host took part in */
    FS_M_PEERS,              /* distinct peers */
    FS_M_PORTS,              /* distinct destination ports the host contacted */
    FS_M_COUNT
};
const char *fs_metric_name(enum fs_metric m); /* "bytes_out", ... */

/* A host's baseline for one metric in one seasonal slot, and what the window
 * observed. `samples` is 0 when the host or slot has no history yet. */
struct fs_baseline_view {
    double observed;
    double mean, std;        /* std already floored (variance floor) */
    double median, mad;
    double q1, q3;
    uint32_t samples;
    /* The host's whole history, any slot: windows seen (saturating at 168
     * times baseline-weight), and the largest window value, decaying with a
     * half-life of two weeks: "the most this host usually ever does". */
    uint32_t history;
    double peak;
};

struct fs_an_ctx;

/* A numeric setting "<detector>.<name>" (from the config file or --set), or
 * `def` when not given. Every key a detector reads is registered, so a key
 * nobody reads is reported as a config error. */
double fs_an_param(struct fs_an_ctx *c, const char *detector, const char *name, double def);

/* True when `addr` is on the allowlist of `detector` ("<detector>.allow" in
 * the config: addresses and prefixes) or the global allowlist. */
bool fs_an_allowed(struct fs_an_ctx *c, const char *detector, const fs_ip *addr);

/* True when `addr` is inside the home networks. */
bool fs_an_internal(struct fs_an_ctx *c, const fs_ip *addr);

/* Where `f` goes relative to the home networks (a missing address counts
 * as external). */
enum fs_dir fs_an_direction(struct fs_an_ctx *c, const struct fs_flow *f);

/* The baseline of `host` for metric `m` in the slot of window `w`, with the
 * value the window observed. Returns 0, or -1 when the host is not tracked. */
int fs_an_baseline(struct fs_an_ctx *c, const fs_ip *host, enum fs_metric m,
                   const struct fs_an_window *w, struct fs_baseline_view *out);

/* The cheap part of fs_an_baseline(): observed, mean, std (floored) and
 * samples only, the quantile fields left 0. For screening many hosts: the
 * full view (a sort of the quantile sketch) is worth it only for the few
 * whose observation is well above the mean. */
int fs_an_baseline_moments(struct fs_an_ctx *c, const fs_ip *host, enum fs_metric m,
                           const struct fs_an_window *w, struct fs_baseline_view *out);

/* Fills a->top_peers and a->top_ports with the peers and service ports
 * `host` moved most bytes with in window `w` (Space-Saving over a few
 * slots: the heaviest are exact unless the window had many more). Leaves
 * them empty when the host had no flow in `w`. */
void fs_an_evidence_top(struct fs_an_ctx *c, const fs_ip *host, const struct fs_an_window *w,
                        struct fs_anomaly *a);

/* Calls `fn` for every tracked host that had at least one flow in window
 * `w` (a window being closed), in a deterministic order. Detectors that score
 * hosts against their baselines at window close walk the hosts this way. */
typedef void (*fs_an_host_fn)(void *arg, const fs_ip *host);
void fs_an_each_host(struct fs_an_ctx *c, const struct fs_an_window *w, fs_an_host_fn fn,
                     void *arg);

/* Scores `observed` against a baseline: fills z, score, severity and the
 * evidence fields of `a` (expected, std, q1, q3, fences, samples). Returns the
 * combined score (0..100); 0 when the baseline has too few samples. */
double fs_an_score(struct fs_an_ctx *c, const struct fs_baseline_view *b, double observed,
                   struct fs_anomaly *a);

/* Reports a finding. The core sets the id, applies per-(host, class)
 * suppression and the global rate limit (both counted), and delivers it. */
void fs_an_emit(struct fs_an_ctx *c, struct fs_anomaly *a);

struct fs_detector {
    const char *name;        /* "beaconing": prefix of its settings */
    enum fs_anomaly_class cls;
    void *(*create)(struct fs_an_ctx *c);  /* NULL on out-of-memory */
    void (*flow)(void *state, struct fs_an_ctx *c, const struct fs_an_flow *af);
    void (*window_close)(void *state, struct fs_an_ctx *c, const struct fs_an_window *w);
    /* Snapshot of learned state (NULL when the detector keeps none worth
     * keeping across restarts). Return 0 or -1. */
    int (*save)(void *state, FILE *fp);
    int (*load)(void *state, FILE *fp);
    /* Counters worth showing (evictions, ...): calls fn for each. */
    void (*counters)(void *state, void (*fn)(void *arg, const char *name, uint64_t v), void *arg);
    void (*destroy)(void *state);
};

/* Every detector, NULL-terminated (detectors.c). */
extern const struct fs_detector *const fs_detectors[];

#endif
