/*
 * flowout.h - where a flow source's records go: batches on the flows bus and,
 * with --json, one JSON line per flow on stdout. The collector and the sensor
 * both end in it.
 *
 * A bus batch goes out when it reaches `batch_size` flows, or once it is
 * FS_FLOWOUT_DELAY_MS old at the next fs_flowout_flush(): fuller messages
 * cost ZeroMQ and every subscriber far less than one per receive round, and
 * 5 ms is nothing an analyst could notice. Publishing never blocks: a batch
 * ZeroMQ cannot queue is dropped and counted, because a source that waits
 * loses its input in the kernel instead, uncounted.
 *
 * When stdout fails (the reader went away: EPIPE), the failure is logged
 * once and fs_flowout_failed() tells the program to stop.
 */
#ifndef FS_FLOWOUT_H
#define FS_FLOWOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "msg.h"

#define FS_FLOWOUT_DELAY_MS 5
/* Flows per bus message at most, by default. Each message costs ZeroMQ's
 * I/O thread and every subscriber a few wake-ups and a socket round however
 * big it is (tens of microseconds on a virtual machine), so at high rates
 * big messages are what lets the bus keep up: on loopback, 8192 flows per
 * message took the collector's I/O thread and the subscriber from 17-20 to
 * 6-8 ns per flow each (docs/performance.md). At low rates the 5 ms limit
 * sends messages long before they are full. */
#define FS_FLOWOUT_BATCH 8192
/* Flows queued for one slow subscriber before ZeroMQ drops for it (it sees
 * the gap in the sequence numbers): about a quarter of a second at full
 * speed, at most ~200 MB. The high-water mark in messages is this over the
 * batch size. */
#define FS_FLOWOUT_QUEUE_FLOWS (2u << 20)

struct fs_flowout_opts {
    const char *program;   /* default sender id is program@hostname */
    const char *sender;    /* NULL: the default */
    const char *endpoint;  /* flows-bus endpoint; NULL: no bus */
    int hwm;               /* bus send high-water mark in messages (0: from FS_FLOWOUT_QUEUE_FLOWS) */
    size_t batch_size;     /* flows per bus message, 1..FS_BATCH_MAX_FLOWS */
    bool json;             /* JSON lines on stdout */
};

struct fs_flowout_counters {
    uint64_t messages, flows;                 /* published */
    uint64_t dropped_messages, dropped_flows; /* refused by ZeroMQ */
};

struct fs_flowout;

/* Opens the bus (when an endpoint is given) and buffers stdout (with json).
 * Returns NULL with the reason in `err`. */
struct fs_flowout *fs_flowout_new(const struct fs_flowout_opts *o, char *err, size_t errlen);
/* Publishes what waits, flushes stdout, closes the bus. NULL is fine. */
void fs_flowout_free(struct fs_flowout *out);

/* Takes `n` flows (the shape of a decoder's flow sink; `arg` is the fs_flowout). */
void fs_flowout_flows(void *arg, const struct fs_flow *flows, size_t n);

/* End of a round: JSON lines go out, a partial batch once it is old enough
 * (`force`: at once). Returns the milliseconds the batch may still wait, or
 * -1 when nothing waits. */
long fs_flowout_flush(struct fs_flowout *out, bool force);

/* Stats messages on the same bus: fs_flowout_stats() starts one stamped
 * `ts_ms` (NULL when not publishing), the caller adds groups and counters,
 * fs_flowout_send_stats() sends it (failures logged). */
struct fs_stats *fs_flowout_stats(struct fs_flowout *out, uint64_t ts_ms);
void fs_flowout_send_stats(struct fs_flowout *out);

bool fs_flowout_failed(const struct fs_flowout *out);     /* stdout is gone */
bool fs_flowout_publishing(const struct fs_flowout *out);
const char *fs_flowout_sender(const struct fs_flowout *out);
const struct fs_flowout_counters *fs_flowout_counters(const struct fs_flowout *out);

#endif
