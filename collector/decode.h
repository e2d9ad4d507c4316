/*
 * decode.h - the export decoder: datagram bytes in, flow records and counters out.
 *
 * This is the one entry point shared by every path that carries NetFlow/IPFIX:
 * the UDP listener, the IPFIX/TCP reader, the offline pcap reader, the unit
 * tests, the fuzz tests and the benchmark. It does no I/O and has no globals:
 * all state (exporters, templates, sequence trackers, records waiting for a
 * template) lives in the struct fs_decoder handed in, and log lines go through
 * the callback in its configuration.
 */
#ifndef FS_DECODE_H
#define FS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* Kinds of damage. Each is counted per exporter and in total. */
enum fs_err_kind {
    FS_ERR_SHORT_HEADER = 0, /* datagram shorter than its header */
    FS_ERR_BAD_VERSION,      /* version field is not 1, 5, 7, 9 or 10 */
    FS_ERR_BAD_COUNT,        /* header record count disagrees with the length */
    FS_ERR_BAD_LENGTH,       /* IPFIX message length disagrees with the datagram */
    FS_ERR_SET_LENGTH,       /* set/flowset length short or overrunning the datagram */
    FS_ERR_BAD_TEMPLATE,     /* template with zero or absurd fields, or overrunning */
    FS_ERR_FIELD_LENGTH,     /* field or variable-length field past the record end */
    FS_ERR_BAD_SET_ID,       /* reserved set id */
    FS_ERR_PENDING_DROPPED,  /* no room to hold a set waiting for its template */
    FS_ERR_COUNT
};

/* Names used in logs, stats messages and docs ("short_header", ...). */
const char *fs_err_name(enum fs_err_kind kind);

/* Counters kept per exporter and summed in total. Only ever increase, except
 * pending_sets which is the number waiting right now. */
struct fs_counters {
    uint64_t datagrams;        /* export packets handed to the decoder */
    uint64_t bytes;            /* their payload bytes */
    uint64_t flows;            /* data records turned into flows */
    uint64_t templates;        /* template records received (data and options) */
    uint64_t templates_withdrawn;
    uint64_t templates_evicted; /* dropped to stay under max_templates */
    uint64_t options_records;  /* options data records (sampling etc.) */
    uint64_t pending_sets;     /* data sets waiting for their template now */
    uint64_t pending_decoded;  /* records decoded late, once the template came */
    uint64_t pending_expired;  /* waiting sets dropped by the timeout */
    uint64_t seq_lost;         /* records (v5, IPFIX) or datagrams (v9) lost */
    uint64_t seq_reordered;    /* arrived late, behind the expected sequence */
    uint64_t seq_resets;       /* sequence restarted (exporter reboot, ...) */
    uint64_t sampling_unknown; /* flows whose sampling rate is not known */
    uint64_t time_clamped;     /* flows whose exporter clock was far off */
    uint64_t allowlist_drops;  /* datagrams from exporters not allowed */
    uint64_t kernel_drops;     /* socket receive-queue drops (SO_RXQ_OVFL) */
    uint64_t exporters_evicted; /* exporters dropped to stay under max_exporters
                                 * (totals only) */
    uint64_t domains_evicted;   /* domains recycled to stay under FS_DOMAINS_MAX */
    uint64_t errors[FS_ERR_COUNT];
};

/* Sum of all error kinds. */
uint64_t fs_counters_errors(const struct fs_counters *c);

typedef void (*fs_log_fn)(void *arg, const char *line);

struct fs_decoder_config {
    size_t max_exporters;         /* exporters tracked; least recent evicted (0: 4096) */
    size_t max_templates;         /* templates per exporter (0: 1024) */
    size_t pending_max_bytes;     /* bytes of sets waiting per exporter (0: 256 KiB) */
    uint32_t pending_timeout_ms;  /* how long a set waits for its template (0: 60 s) */
    uint32_t default_sampling;    /* rate for exporters that say nothing (0: unknown) */
    uint64_t clock_clamp_ms;      /* flows this far from receive time are clamped (0: off) */
    fs_log_fn log;                /* rate-limited log lines; NULL for none */
    void *log_arg;
};

/* Receives decoded flows, in batches, while fs_decode() runs. The flows are
 * only valid during the call. */
typedef void (*fs_flow_sink)(void *arg, const struct fs_flow *flows, size_t n);

struct fs_decoder;

/* Returns NULL only when out of memory. */
struct fs_decoder *fs_decoder_new(const struct fs_decoder_config *cfg);
void fs_decoder_free(struct fs_decoder *d);

/* Sets a sampling rate for one exporter: with `override`, it replaces whatever
 * the exporter announces; without, it is used only when the exporter says
 * nothing. Returns 0, or -1 on a zero rate or when out of memory. */
int fs_decoder_set_sampling(struct fs_decoder *d, const fs_ip *exporter,
                            uint32_t rate, bool override);

/*
 * Decodes one export datagram (or one IPFIX message read from TCP) received
 * from `exporter` at `now_ms` (wall clock, or capture time when reading a
 * file). Flows go to `sink`; records that arrive before their template are
 * held and delivered by the call that brings the template.
 *
 * Returns the number of flows delivered, or -1 when the datagram was
 * malformed (the damage is counted; flows decoded before the damage was
 * found are still delivered).
 */
int fs_decode(struct fs_decoder *d, const fs_ip *exporter, uint64_t now_ms,
              const uint8_t *buf, size_t len, fs_flow_sink sink, void *arg);

/* Drops sets that waited too long for their template (counted). */
void fs_decoder_expire(struct fs_decoder *d, uint64_t now_ms);

/* Counters summed over every exporter ever seen (evicted ones included). */
const struct fs_counters *fs_decoder_totals(const struct fs_decoder *d);

/* Counts a datagram dropped before decoding (allowlist, kernel drops) so
 * that it shows in the exporter's counters and the totals. A drop never
 * evicts: an exporter not tracked yet is added only while there is room,
 * else its drops show in the totals alone. */
void fs_decoder_count_drop(struct fs_decoder *d, const fs_ip *exporter,
                           uint64_t allowlist_drops, uint64_t kernel_drops);

/* Calls `fn` for every exporter currently tracked. */
typedef void (*fs_exporter_fn)(void *arg, const fs_ip *exporter,
                               const struct fs_counters *c);
void fs_decoder_foreach_exporter(const struct fs_decoder *d, fs_exporter_fn fn,
                                 void *arg);

/* Template persistence: writes every template (atomically: temporary file and
 * rename) and reads them back at start. Return 0, or -1 with errno set; a
 * damaged file loads nothing past the damage and returns -1. */
int fs_decoder_save_templates(const struct fs_decoder *d, const char *path);
int fs_decoder_load_templates(struct fs_decoder *d, const char *path);

#endif
