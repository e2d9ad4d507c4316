/*
 * exporter.h - per-exporter state shared by the v5, v9 and IPFIX decoders.
 *
 * Internal to the collector. An exporter is one source address; inside it,
 * a domain is one observation domain (IPFIX), source id (v9) or engine
 * (v5/v7). Each domain has its own sequence tracker, sampling state and
 * templates. The decode context carries one datagram through a decoder and
 * batches the flows it produces.
 */
#ifndef FS_EXPORTER_H
#define FS_EXPORTER_H

#include <stdarg.h>

#include "decode.h"

struct fs_tpl_table;
struct fs_pending;

/* Detects lost, reordered and restarted sequences. `expected` is the next
 * sequence number we expect to see. */
struct fs_seq {
    bool started;
    uint32_t expected;
    uint32_t max_jump; /* larger jumps are restarts; 0: FS_SEQ_JUMP_RECORDS */
};

/* How far a sequence may jump forward and still be loss rather than a restart.
 * Record-counting sequences (v5, v7, IPFIX) move by up to 30 (v5) or a few
 * hundred (IPFIX) per datagram: a million records is over a minute of total
 * loss even at 10,000 flows/s. v9 counts datagrams, hence the smaller bound.
 * A step back of more than max_jump / FS_SEQ_REORDER_DIV (10,000 records,
 * 1,000 v9 datagrams) is a restart too; smaller ones are reordering.
 * fs_ctx_domain() sets max_jump from the version. */
#define FS_SEQ_JUMP_RECORDS 1000000u
#define FS_SEQ_JUMP_PACKETS 100000u
#define FS_SEQ_REORDER_DIV 100u

#define FS_SAMPLERS_MAX 32

/* What the exporter has told us about sampling, from options records, and
 * what configuration says. A rate of 0 means "not known". */
struct fs_sampling {
    uint32_t domain_rate; /* options record without a sampler id */
    uint8_t nsamplers;
    struct {
        uint32_t id;
        uint32_t rate;
    } samplers[FS_SAMPLERS_MAX];
};

struct fs_domain {
    uint32_t id;
    uint16_t version;          /* sequences and templates never mix versions */
    struct fs_seq seq;
    struct fs_sampling sampling;
    uint64_t sys_init_ms;      /* IPFIX systemInitTimeMilliseconds, 0 unknown */
    struct fs_domain *next;
};

/* Domains per exporter: beyond this, the least recently used one is recycled
 * (counted in domains_evicted) so that random ids cannot grow memory. */
#define FS_DOMAINS_MAX 256

struct fs_exporter {
    fs_ip addr;
    uint64_t last_seen_ms;
    uint32_t config_rate;      /* from configuration, 0 = none */
    bool config_override;      /* config_rate wins over what the exporter says */
    struct fs_counters counters;
    struct fs_domain *domains; /* short list: exporters have few domains */
    struct fs_tpl_table *templates;
    struct fs_pending *pending;
    uint64_t log_tokens_ms;    /* rate limit for this exporter's log lines */
    uint32_t log_suppressed;
    uint32_t log_lines;        /* lines logged in the window opened at log_tokens_ms */
    /* Decoder bookkeeping (exporter.c): hash chain and recency list. */
    struct fs_exporter *hnext;
    struct fs_exporter *newer, *older;
};

/* One datagram on its way through a decoder. */
#define FS_CTX_BATCH 256
struct fs_decode_ctx {
    struct fs_decoder *d;
    struct fs_exporter *exp;
    struct fs_counters *totals; /* the decoder's */
    uint64_t now_ms;
    fs_flow_sink sink;
    void *sink_arg;
    size_t nflows;             /* flows delivered by this datagram so far */
    size_t nbatch;
    size_t ndirty;             /* slots written since the last flush (cleared by it) */
    struct fs_flow batch[FS_CTX_BATCH];
};

/* Returns a cleared flow slot in the batch (flushing a full batch first),
 * with `exporter` already filled in; the decoder sets version and domain.
 * The flow counts only once fs_ctx_commit() is called. */
struct fs_flow *fs_ctx_flow(struct fs_decode_ctx *c);
void fs_ctx_commit(struct fs_decode_ctx *c);
/* Hands the batch to the sink. Called at the end of every datagram. */
void fs_ctx_flush(struct fs_decode_ctx *c);

/* Counts one error of `kind` for the exporter and in total, and logs the
 * formatted line (rate-limited per exporter). Always returns -1 so decoders
 * can `return fs_ctx_error(...)`. */
int fs_ctx_error(struct fs_decode_ctx *c, enum fs_err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds `n` to a counter of the exporter and to the same counter in total.
 * `field` is the offset of the counter in struct fs_counters. */
void fs_ctx_count(struct fs_decode_ctx *c, size_t field, uint64_t n);
#define FS_COUNT(c, name, n) fs_ctx_count((c), offsetof(struct fs_counters, name), (n))

/* Finds or creates the domain of the current exporter. NULL when out of memory. */
struct fs_domain *fs_ctx_domain(struct fs_decode_ctx *c, uint32_t id, uint16_t version);

/*
 * Sequence tracking. `seq` is the sequence number carried by the datagram and
 * `advance` how far it moves the sequence (records in it for v5 and IPFIX,
 * 1 for v9). Gaps add to seq_lost; a datagram behind the expected number is
 * counted as reordered (and takes back what its gap had counted as lost); a
 * jump too far either way is a restart (seq_resets) and rebases the tracker.
 * Pass `advance_known` false when records could not be counted (IPFIX sets
 * waiting for a template): the tracker rebases on the next datagram.
 */
void fs_seq_update(struct fs_decode_ctx *c, struct fs_seq *s, uint32_t seq,
                   uint32_t advance, bool advance_known);

/*
 * Sampling. fs_sampling_rate() gives the rate that applies to a flow from
 * this domain (sampler id `sampler` if `has_sampler`, and `record_rate` when
 * the data record carried a rate itself, 0 if not), after configuration
 * defaults and overrides; 0 when unknown.
 * fs_flow_apply_sampling() scales packets and bytes, sets sampling_rate, or
 * marks the flow FS_FLOW_SAMPLING_UNKNOWN and counts it.
 */
void fs_sampling_set(struct fs_domain *dom, bool has_sampler, uint32_t sampler,
                     uint32_t rate);
uint32_t fs_sampling_rate(const struct fs_decode_ctx *c, const struct fs_domain *dom,
                          bool has_sampler, uint32_t sampler, uint32_t record_rate);
void fs_flow_apply_sampling(struct fs_decode_ctx *c, struct fs_flow *f, uint32_t rate);

/* Clock helpers. Converts a sysUpTime-relative time (v5/v9, IPFIX IEs 21/22)
 * to epoch ms given the header's export time and uptime; handles wrap-around
 * of the 32-bit uptime. */
uint64_t fs_uptime_to_ms(uint64_t export_ms, uint32_t sys_uptime, uint32_t t);

/* Clamps the flow's times to the receive time when they are further from it
 * than the configured clamp (counted, and marked FS_FLOW_TIME_CLAMPED). */
void fs_flow_check_clock(struct fs_decode_ctx *c, struct fs_flow *f);

/* The per-format decoders, called by fs_decode() after the version check. */
int fs_v5_decode(struct fs_decode_ctx *c, const uint8_t *p, size_t len); /* v1, v5, v7 */
int fs_v9_decode(struct fs_decode_ctx *c, const uint8_t *p, size_t len);
int fs_ipfix_decode(struct fs_decode_ctx *c, const uint8_t *p, size_t len);

/* Decoder-wide settings the format decoders need. */
const struct fs_decoder_config *fs_decoder_config(const struct fs_decoder *d);

/* The decoder's one decode context (fs_decode() is not reentrant): the batch
 * is too big for the stack of a collector thread. */
struct fs_decode_ctx *fs_decoder_ctx(struct fs_decoder *d);

/* Logs, for an exporter whose rate-limit window has passed (or always when
 * `force`), how many of its lines were suppressed. */
void fs_exporter_log_suppressed(const struct fs_decoder *d, struct fs_exporter *e,
                       uint64_t now_ms, bool force);

/* Finds or creates an exporter (evicting the least recently seen one, counted,
 * when the table is full). NULL when out of memory. */
struct fs_exporter *fs_decoder_exporter(struct fs_decoder *d, const fs_ip *addr,
                                        uint64_t now_ms);
/* Calls `fn` for every tracked exporter (template persistence, expiry). */
void fs_decoder_each(const struct fs_decoder *d,
                     void (*fn)(void *arg, struct fs_exporter *e), void *arg);

/* Owned by templates.c and pending.c; exporter.c frees them with the exporter,
 * and fs_decoder_expire() calls fs_pending_expire() for every exporter. */
void fs_tpl_table_free(struct fs_tpl_table *t);
void fs_pending_free(struct fs_pending *p);
/* Returns how many waiting sets were dropped; the caller counts them. */
uint64_t fs_pending_expire(struct fs_pending *p, uint64_t now_ms, uint32_t timeout_ms);

/* Big-endian reads. Callers check the bounds first. */
static inline uint16_t fs_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t fs_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t fs_get64(const uint8_t *p)
{
    return (uint64_t)fs_get32(p) << 32 | fs_get32(p + 4);
}

#endif
