/*
 * msg.h - msgpack codecs for every message carried on the flowsentry buses.
 *
 * Every message is one msgpack map with the envelope keys
 *   "type" (string), "v" (schema version), "sender" (string), "seq" (uint)
 * plus the keys of its body. docs/messages.md is the schema.
 *
 * Writers are incremental builders that keep their buffer between messages
 * (no allocation per flow or per message once warm) and stamp the sender's
 * next sequence number when a message is finished. `seq` counts the messages
 * of one type from one sender, starting at 0, so a subscriber that filters
 * on one type sees no gaps caused by the others.
 */
#ifndef FS_MSG_H
#define FS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anomaly.h"
#include "flow.h"

/* The schema version this build writes and the only one it reads. */
#define FS_MSG_VERSION 1

/* Longest sender id, terminating NUL included. */
#define FS_MSG_SENDER_MAX 64

/* Most flows in one batch: bounds what a receiver allocates per message.
 * fs_batch_add() refuses more; senders flush well before. */
#define FS_BATCH_MAX_FLOWS 65536

enum fs_msg_type {
    FS_MSG_FLOWS = 1, /* "flows": a batch of flow records */
    FS_MSG_STATS,     /* "stats": counters by group */
    FS_MSG_ANOMALY,   /* "anomaly": one anomaly event (anomaly.h) */
    FS_MSG_SUMMARY    /* "summary": the analyzer's baseline summary */
};

/* "flows", "stats", "anomaly", "summary"; NULL for an unknown value. Also the
 * bus topic. */
const char *fs_msg_type_name(enum fs_msg_type type);

/* Writes "<program>@<hostname>" into `out`, the default sender id.
 * Returns 0, or -1 when it does not fit in `cap`. */
int fs_msg_default_sender(const char *program, char *out, size_t cap);

/*
 * Flow batch writer.
 *
 *   b = fs_batch_new("collector@probe1");
 *   for each flow: fs_batch_add(b, f);            (check fs_batch_count/size)
 *   fs_batch_finish(b, &buf, &len); send buf/len; fs_batch_reset(b);
 *
 * The buffer returned by fs_batch_finish() stays valid until the next
 * fs_batch_reset() or fs_batch_free(). fs_batch_add() after fs_batch_finish()
 * without a reset is refused.
 */
struct fs_batch;

/* Returns NULL when out of memory or when `sender` is empty or longer than
 * FS_MSG_SENDER_MAX - 1 bytes. */
struct fs_batch *fs_batch_new(const char *sender);
void fs_batch_free(struct fs_batch *b);

/* Returns 0, or -1 when out of memory, the batch holds FS_BATCH_MAX_FLOWS
 * flows already, or it is finished. */
int fs_batch_add(struct fs_batch *b, const struct fs_flow *f);

size_t fs_batch_count(const struct fs_batch *b); /* flows added so far */
size_t fs_batch_size(const struct fs_batch *b);  /* encoded bytes so far */

/* Completes the message and stamps the next sequence number. An empty batch
 * is a valid message. Returns 0, or -1 when already finished. */
int fs_batch_finish(struct fs_batch *b, const void **buf, size_t *len);

/* Starts a new, empty batch (the sequence number carries on). */
void fs_batch_reset(struct fs_batch *b);

/* The sequence number the next finished batch will carry. */
uint64_t fs_batch_next_seq(const struct fs_batch *b);

/*
 * Stats message builder: groups of named counters.
 *
 *   fs_stats_reset(s, now_ms);
 *   fs_stats_group(s, "total");   fs_stats_add(s, "flows", n); ...
 *   fs_stats_group(s, "192.0.2.1"); fs_stats_add(s, "flows", m); ...
 *   fs_stats_finish(s, &buf, &len);
 *
 * Same buffer rules as the batch writer.
 */
struct fs_stats;

struct fs_stats *fs_stats_new(const char *sender);
void fs_stats_free(struct fs_stats *s);

/* Starts a new, empty message timestamped `ts_ms` (ms since the epoch). */
void fs_stats_reset(struct fs_stats *s, uint64_t ts_ms);

/* Opens a new group; the counters that follow belong to it. Returns 0, or -1
 * when out of memory or the message is finished. */
int fs_stats_group(struct fs_stats *s, const char *name);

/* Returns 0, or -1 when out of memory, no group is open or the message is
 * finished. */
int fs_stats_add(struct fs_stats *s, const char *counter, uint64_t value);

int fs_stats_finish(struct fs_stats *s, const void **buf, size_t *len);

/*
 * Baseline summary: what the analyzer knows about the network, sent when an
 * interval of event time closes, for the reporter's JSON report. Totals,
 * talkers, ports and protocols are about the period [ts_ms, end_ms); the
 * profiles are the long-run baselines.
 */
#define FS_SUMMARY_MAX_LIST 4096 /* talkers, ports, protocols, host stats: at most each */

enum { FS_SUMMARY_BYTES = 0, FS_SUMMARY_PACKETS, FS_SUMMARY_FLOWS, FS_SUMMARY_NMETRICS };

/* One slot of a network profile: the hourly (or daily) totals seen in it. */
struct fs_summary_profile {
    uint32_t samples;                    /* hours (days) in the baseline */
    double mean[FS_SUMMARY_NMETRICS];
    double std[FS_SUMMARY_NMETRICS];
};

struct fs_summary_talker {
    fs_ip addr;
    uint64_t bytes_out, bytes_in, flows;
    double expected;  /* bytes the host's own baseline expects over the period */
    double z;         /* (observed - expected) / baseline std over the period */
};

struct fs_summary_port {
    uint8_t proto;
    uint16_t port;
    uint64_t flows, bytes;
};

struct fs_summary_proto {
    uint8_t proto;
    uint64_t flows, packets, bytes;
};

/* A host's long-run baseline of one metric (per window of the analyzer). */
struct fs_summary_stat {
    uint32_t samples;  /* windows behind the figures; 0: no history yet */
    double mean, std, median, q1, q3;
};

/* The metrics of struct fs_summary_host, in this order. */
enum { FS_SUMMARY_HOST_METRICS = 6 };
/* "bytes_out", "bytes_in", "packets", "flows", "distinct_peers", "distinct_ports"
 * (the analyzer's metric names); NULL past the end. */
const char *fs_summary_metric_name(unsigned i);

/* One host's period totals and its baseline statistics. */
struct fs_summary_host {
    fs_ip addr;
    uint64_t bytes_out, bytes_in, packets, flows; /* over the period */
    struct fs_summary_stat base[FS_SUMMARY_HOST_METRICS];
};

struct fs_summary {
    uint64_t ts_ms, end_ms;              /* the period */
    uint64_t bytes, packets, flows;      /* network totals over the period */
    uint64_t hosts;                      /* internal hosts tracked */
    uint64_t anomalies;                  /* delivered during the period */
    struct fs_summary_profile hour_of_day[24];
    struct fs_summary_profile day_of_week[7]; /* 0 = Monday */
    struct fs_summary_talker *talkers;   /* heaviest first */
    size_t ntalkers;
    struct fs_summary_port *ports;       /* by flows, heaviest first */
    size_t nports;
    struct fs_summary_proto *protos;     /* by bytes, heaviest first */
    size_t nprotos;
    struct fs_summary_host *host_stats;  /* the period's busiest hosts, heaviest first */
    size_t nhost_stats;
};

/*
 * Events writer: "anomaly" and "summary" messages, each type with its own
 * sequence numbers. Same buffer rules as the batch writer: the message
 * returned stays valid until the next call on the writer.
 */
struct fs_events_writer;

struct fs_events_writer *fs_events_writer_new(const char *sender);
void fs_events_writer_free(struct fs_events_writer *w);

/* Stamps the next anomaly or summary message with its place in the
 * analyzer's journal (the "journal" key: [journal id, journal sequence]).
 * The stamp applies to that one message; messages without one carry nil. */
void fs_events_writer_journal(struct fs_events_writer *w, uint64_t journal_id, uint64_t jseq);

/* Return 0, or -1 when out of memory or a list exceeds FS_SUMMARY_MAX_LIST. */
int fs_msg_anomaly(struct fs_events_writer *w, const struct fs_anomaly *a,
                   const void **buf, size_t *len);
int fs_msg_summary(struct fs_events_writer *w, const struct fs_summary *s,
                   const void **buf, size_t *len);

/*
 * Decoding.
 */
struct fs_stats_counter {
    const char *name;
    uint64_t value;
};

struct fs_stats_group {
    const char *name;
    struct fs_stats_counter *counters;
    size_t ncounters;
};

struct fs_msg {
    enum fs_msg_type type;
    char sender[FS_MSG_SENDER_MAX];
    uint64_t seq;

    /* FS_MSG_FLOWS */
    struct fs_flow *flows;
    size_t nflows;

    /* FS_MSG_STATS */
    uint64_t ts_ms;
    struct fs_stats_group *groups;
    size_t ngroups;

    /* FS_MSG_ANOMALY */
    struct fs_anomaly *anomaly;

    /* FS_MSG_SUMMARY: the lists point into `mem` */
    struct fs_summary *summary;

    /* FS_MSG_ANOMALY, FS_MSG_SUMMARY: the journal stamp; 0 and 0 when absent */
    uint64_t journal_id, jseq;

    void *mem; /* owns flows, groups, the anomaly, the summary and their strings */
};

/*
 * Decodes one message. `out` need not be initialised. Returns 0, or -1 with a
 * one-line reason in `err` (truncated message, not msgpack, not a map, a
 * missing or ill-typed key, unknown type, unsupported schema version, ...);
 * on failure nothing needs freeing. Keys this build does not know, in the
 * envelope, a body or a flow, are skipped.
 */
int fs_msg_decode(const void *buf, size_t len, struct fs_msg *out,
                  char *err, size_t errlen);

/* Releases what fs_msg_decode() allocated; safe on a zeroed struct. */
void fs_msg_free(struct fs_msg *m);

/*
 * Sequence gap tracker for receivers: follows (sender, type) streams, a
 * bounded number of them (the least recently seen is forgotten when full).
 *
 * A sequence number ahead of the expected one counts the skipped messages as
 * lost; one behind it, by at most FS_GAP_REORDER_WINDOW, is a late arrival
 * (reordered, and it takes back one lost message); 0 or one further behind
 * is a sender restart.
 */
#define FS_GAP_REORDER_WINDOW 1024

enum fs_gap_result {
    FS_GAP_OK = 0,   /* the expected number */
    FS_GAP_NEW,      /* first message seen from this stream */
    FS_GAP_LOST,     /* skipped ahead: messages lost */
    FS_GAP_REORDERED,
    FS_GAP_DUPLICATE, /* the very number seen last */
    FS_GAP_RESTART
};

struct fs_gap_counters {
    uint64_t messages;   /* messages checked */
    uint64_t lost;       /* messages missing (net of late arrivals) */
    uint64_t reordered;
    uint64_t duplicates;
    uint64_t restarts;
    uint64_t senders;    /* streams seen first (forgotten ones count again) */
    uint64_t evicted;    /* streams forgotten to stay within the bound */
};

struct fs_gap;

/* Tracks at most `max_senders` streams (0: 256). NULL when out of memory. */
struct fs_gap *fs_gap_new(size_t max_senders);
void fs_gap_free(struct fs_gap *g);

/* Accounts one message; `lost`, when not NULL, receives the messages this
 * one shows lost (0 unless FS_GAP_LOST). */
enum fs_gap_result fs_gap_check(struct fs_gap *g, const char *sender,
                                enum fs_msg_type type, uint64_t seq,
                                uint64_t *lost);

const struct fs_gap_counters *fs_gap_totals(const struct fs_gap *g);

#endif
