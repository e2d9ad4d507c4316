/*
 * core.h - the analyzer engine's internals, shared by its files:
 *
 *   core.c      engine life cycle, flow path, windows and watermark, settings,
 *               allowlists, emission (suppression, rate limit), counters
 *   hosts.c     the bounded table of internal hosts (open addressing, LRU)
 *   baseline.c  per-host seasonal baselines and network profiles
 *   score.c     fs_an_score: z, robust z, IQR fences, combined score
 *   rollup.c    hourly/daily roll-ups, top talkers, distributions, summaries
 *   snapshot.c  save and load
 *   report.c    the JSON report
 *
 * Not for detectors: they see detector.h only.
 */
#ifndef FS_AN_CORE_H
#define FS_AN_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyzer.h"
#include "sketch.h"

/* Windows open at once: the current one and the one before it, which is why
 * the allowed lateness is at most one window. */
#define AN_NOPEN 2
#define AN_HOW 168          /* hour-of-week slots */
#define AN_BLOCK_HOURS 4    /* quantile slots: weekday/weekend x 4-hour block */
#define AN_BLOCKS (2 * 24 / AN_BLOCK_HOURS)
/* One window in AN_QS_STRIDE of a quantile slot goes into its sketch, so
 * that its FS_QS_K samples span several days instead of the last hours. */
#define AN_QS_STRIDE 4
/* The host-overall quantile sketch takes one window in this many. */
#define AN_QS_ALL_STRIDE 48
#define AN_NPROTO 4         /* TCP, UDP, ICMP (v4 and v6), other */
#define AN_HOST_PORTS 8     /* service ports kept per host (Space-Saving) */
#define AN_NONE UINT32_MAX

/* The per-window counters of enum fs_metric that are sums. */
enum { AN_SUM_BYTES_OUT, AN_SUM_BYTES_IN, AN_SUM_PACKETS, AN_SUM_FLOWS, AN_NSUM };

/* Peers and service ports a host moved most bytes with in a window
 * (Space-Saving over a few slots): the evidence of its findings. */
#define AN_WIN_TOP 4

struct an_acc {
    uint64_t win;            /* window index (start / window length); UINT64_MAX: none */
    uint64_t v[AN_NSUM];
    struct fs_hll peers, ports;
    struct { fs_ip addr; uint64_t bytes; } top_peer[AN_WIN_TOP];
    struct { uint16_t port; uint8_t proto; uint64_t bytes; } top_port[AN_WIN_TOP];
};

/* Welford states of one hour-of-week slot, all metrics side by side so a
 * window close touches one or two cache lines per host. Stored compactly
 * (floats, a saturating weight): 9 bytes per metric instead of fs_stat's 24,
 * which is what keeps a host's 1008 slot states small. The weight is capped
 * at baseline-weight: past it each new window counts 1/weight, an
 * exponential forgetting of old weeks. */
struct an_slot {
    float mean[FS_M_COUNT];
    float var[FS_M_COUNT];          /* population variance */
    uint8_t n[FS_M_COUNT];
};

struct an_base {
    struct an_slot slot[AN_HOW];
    struct fs_qs blk[FS_M_COUNT][AN_BLOCKS];  /* recent samples per block */
    struct fs_qs all[FS_M_COUNT];            /* recent samples, any time */
    /* Every window of the host, any slot: the last fallback, kept apart so
     * that it costs no merge of 168 slots (weight capped at 168 times the
     * slot cap, so it forgets at the same pace). */
    float omean[FS_M_COUNT], ovar[FS_M_COUNT];
    uint32_t on[FS_M_COUNT];
    float peak[FS_M_COUNT];                  /* decaying maximum of the windows */
};

/* A service port kept per host (Space-Saving over AN_HOST_PORTS). */
struct an_port {
    uint16_t port;
    uint8_t proto;
    uint64_t flows, bytes;
};

struct an_host {
    fs_ip addr;
    uint32_t lru_prev, lru_next; /* toward more / less recently active */
    uint64_t first_ms, last_ms;  /* event time of the first and last flow */
    uint64_t lru_win;            /* window of the last move to the LRU front */
    struct an_acc acc[AN_NOPEN];
    /* Run totals, for the report. */
    uint64_t tot[AN_NSUM];
    uint64_t proto_flows[AN_NPROTO], proto_bytes[AN_NPROTO];
    struct an_port ports[AN_HOST_PORTS];
    /* The current summary period. */
    uint64_t per_bytes_out, per_bytes_in, per_flows, per_packets;
    struct an_base *base;
};

struct an_hosts {
    struct an_host *h;          /* slots, grown by doubling up to max */
    uint32_t n, cap, max;
    uint32_t *idx;              /* open addressing: host index or AN_NONE */
    uint32_t mask;
    uint32_t lru_head, lru_tail;
    uint64_t evicted;
};

/* A --set entry as the engine keeps it. */
struct an_setting {
    const struct fs_an_setting *s;
    struct fs_an_prefixes allow; /* for DETECTOR.allow */
};

/* Per-detector allowlist. */
struct an_allow {
    const char *detector;
    struct fs_an_prefixes p;
};

/* Suppression: one entry per (host, class), direct-mapped. */
struct an_supp {
    uint64_t key;               /* hash of host and class; 0: empty */
    uint64_t until_ms;
    uint8_t severity;
};

/* Network totals of one open window, one hour or one day being rolled up. */
struct an_net {
    uint64_t win;
    uint64_t bytes, packets, flows;
    uint64_t last_end;          /* end of the last window rolled in (roll-ups) */
};

/* A window's top talkers, for the report. */
struct an_talker {
    fs_ip addr;
    uint64_t bytes_out, bytes_in, flows;
    double z_out, z_in;         /* against the host's own baseline */
};

struct an_talkers {
    uint64_t start_ms;
    uint32_t n;
    struct an_talker *t;        /* top_n of them */
};

struct fs_an_ctx {
    const struct fs_an_config *cfg;
    fs_an_sink_fn sink;
    void *sink_arg;
    fs_an_summary_fn summary_fn;
    void *summary_arg;

    /* Home networks: IPv4 as masks for the hot path, IPv6 as prefixes. */
    struct { uint32_t net, mask; } *home4;
    size_t nhome4;
    struct fs_an_prefixes home6;

    /* Settings and allowlists. */
    struct an_setting *set;
    size_t nset;
    struct an_allow *allow;
    size_t nallow;

    /* Detectors. */
    const struct fs_detector **det;
    void **det_state;
    size_t ndet;

    /* Event time. */
    uint64_t win_ms, late_ms;
    uint64_t max_ts;            /* largest event time seen; 0: none */
    uint64_t first_ms;          /* start of the first window: warm-up origin */
    uint64_t closed_end;        /* end of the newest closed window */
    struct an_net open[AN_NOPEN];
    uint64_t closing_win;       /* window being closed (fs_an_each_host) */

    struct an_hosts hosts;

    /* Network profiles: hourly totals by hour of day, daily by day of week. */
    struct fs_stat prof_hour[24][FS_SUMMARY_NMETRICS];
    struct fs_stat prof_day[7][FS_SUMMARY_NMETRICS];
    struct an_net hour, day;    /* being rolled up; win = hour / day index */
    bool hour_partial, day_partial; /* began mid-way: not a full sample */

    /* Distributions: protocols exactly, ports by Space-Saving; for the run
     * and for the current summary period. */
    uint64_t proto_flows[256], proto_bytes[256], proto_packets[256];
    uint64_t per_proto_flows[256], per_proto_bytes[256], per_proto_packets[256];
    struct fs_topk *ports, *per_ports;     /* by flows */
    struct fs_topk *port_bytes, *per_port_bytes;
    struct an_net period;       /* summary period totals; win = period index */
    uint64_t period_anomalies;
    uint16_t period_how[AN_HOW]; /* closed windows of the period per slot */

    /* Top talkers per window, a ring of report-windows entries. */
    struct an_talkers *talkers;
    uint32_t ntalkers, talkers_pos;

    /* Anomalies kept for the report. */
    struct fs_anomaly *kept;
    size_t nkept, capkept;

    /* Emission. */
    struct an_supp *supp;
    uint32_t supp_mask;
    double tokens;
    uint64_t tokens_ms;

    /* Scoring constants read once. */
    double std_abs_floor[FS_M_COUNT];
    double peak_decay;          /* per window, for a half-life of two weeks */

    /* Summary being handed out (fs_analyzer_summary). */
    struct fs_summary sum;
    struct fs_summary_talker *sum_talkers;
    struct fs_summary_port *sum_ports;
    struct fs_summary_proto *sum_protos;
    struct fs_summary_host *sum_hosts;

    struct fs_an_counters n;
};

/* hosts.c */
int an_hosts_init(struct an_hosts *t, uint32_t max);
void an_hosts_free(struct an_hosts *t);
struct an_host *an_hosts_find(struct an_hosts *t, const fs_ip *ip);
/* Finds or creates (evicting the least recently active when full). NULL only
 * on out-of-memory. */
struct an_host *an_hosts_get(struct fs_an_ctx *c, const fs_ip *ip, uint64_t win);
int an_hosts_clear(struct fs_an_ctx *c);
size_t an_host_bytes(const struct fs_an_ctx *c);

/* baseline.c */
void an_base_reset(struct an_base *b);
/* Adds a window's observations x[metric] in hour-of-week `how`; `win` is
 * the window index (for the quantile strides). */
void an_base_add(const struct fs_an_ctx *c, struct an_base *b, unsigned how, uint64_t win,
                 const double x[FS_M_COUNT]);
/* Mean and std (floored) of slot `how` with the documented fallback, and
 * the samples behind them: what scoring needs first, without quantiles. */
void an_base_moments(const struct fs_an_ctx *c, const struct an_base *b, enum fs_metric m,
                     unsigned how, struct fs_baseline_view *out);
/* The baseline for slot `how` with the documented fallback. */
void an_base_view(const struct fs_an_ctx *c, const struct an_base *b, enum fs_metric m,
                  unsigned how, struct fs_baseline_view *out);
/* Window observation of a host (0 when it had no flow in window `win`). */
double an_host_observed(const struct fs_an_ctx *c, const struct an_host *h, enum fs_metric m,
                        uint64_t win);
/* Mean and std of the host's whole history of metric `m` (all slots merged). */
void an_base_overall(const struct an_base *b, enum fs_metric m, struct fs_stat *out);
unsigned an_hour_of_week(const struct fs_an_ctx *c, uint64_t ms);

/* rollup.c */
int an_rollup_init(struct fs_an_ctx *c);
void an_rollup_free(struct fs_an_ctx *c);
/* A window closes: network totals, top talkers, period accounting. Called
 * before the hosts' baselines take the window in. */
void an_rollup_window(struct fs_an_ctx *c, const struct an_net *w);
/* End of input: rolls up the pending hour and day as partial. */
void an_rollup_finish(struct fs_an_ctx *c);
/* Per flow distributions. */
void an_rollup_flow(struct fs_an_ctx *c, const struct fs_flow *f);
void an_rollup_reset(struct fs_an_ctx *c);
/* A host's whole history of metric `m` as the report and the summaries give
 * it: windows, mean and std (all slots), median and quartiles (the recent
 * samples), and the median absolute deviation in `mad` (may be NULL). */
void an_host_figures(const struct an_host *h, enum fs_metric m, struct fs_summary_stat *out,
                     double *mad);

/* core.c */
bool an_is_internal(const struct fs_an_ctx *c, const fs_ip *ip);
/* The service port of a flow: the lower of its two ports (clients use
 * ephemeral ports), 0 for port-less protocols. */
uint16_t an_service_port(const struct fs_flow *f);
unsigned an_proto_class(uint8_t proto);
/* Resets everything learned (hosts, profiles, detectors' state). */
int an_reset(struct fs_an_ctx *c);

#endif
