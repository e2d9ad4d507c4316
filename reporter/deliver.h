/*
 * deliver.h - one output's delivery: alerts go into an on-disk spool (dlog.h)
 * and from there, formatted (format.h), to the receiver (output.h), at least
 * once.
 *
 * A spooled alert is acknowledged (fs_dlog_ack) only when it is confirmed:
 *   - UDP, unix datagram socket, file: as soon as the send succeeded (there
 *     is no connection that could still lose it);
 *   - TCP, TLS: once the connection it went out on stayed up for `confirm_ms`
 *     after the send. A send that fails, or a connection found closed
 *     (fs_rp_out_check), rewinds to the oldest unconfirmed alert: everything
 *     after it is sent again on the next connection. Duplicates carry the
 *     same id; nothing is skipped.
 * While the receiver is away the spool grows up to its bound; beyond it the
 * oldest alerts are dropped (counted by the spool, reported here).
 *
 * A spool record is the alert, not the message: the format is applied when
 * sending, so a changed header= or body= applies to what waits in the spool.
 * The syslog TIMESTAMP is when the alert was spooled, so that every resend
 * of a record is the same bytes.
 *
 * Single-threaded; time is passed in (monotonic ms). Log lines on state
 * changes (connection lost, delivering again, spool full), never one per
 * alert.
 */
#ifndef FS_RP_DELIVER_H
#define FS_RP_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "format.h"
#include "output.h"

struct fs_rp_deliver_opts {
    const char *name;             /* "output 1", for log lines */
    const char *dir;              /* the spool directory (created when missing) */
    uint64_t spool_bytes;         /* the spool's bound (0: 64 MiB) */
    struct fs_rp_out_opts out;
    struct fs_rp_fmt fmt;
    uint32_t confirm_ms;          /* TCP/TLS: connection time after a send before it counts */
    uint32_t max_inflight;        /* sent but unconfirmed records at most (0: 65536) */
};

struct fs_rp_deliver_counters {
    uint64_t spooled;             /* alerts added to the spool */
    uint64_t sent;                /* sends that succeeded (resends included) */
    uint64_t confirmed;           /* records confirmed and acknowledged */
    uint64_t resent;              /* sends of a record already sent before (this run) */
    uint64_t rewinds;             /* times unconfirmed records were given up on and rewound */
    uint64_t dropped;             /* records the spool dropped unsent to stay in its bound */
    uint64_t errors;              /* failed sends and lost connections */
    uint64_t bad_records;         /* spool records that could not be read or formatted */
    uint64_t pending;             /* gauge: spooled, not yet confirmed */
    uint64_t inflight;            /* gauge: sent, waiting for confirmation */
};

struct fs_rp_deliver;

/* Opens the spool (resuming after its acknowledged mark) and checks the
 * output's options. Connects later, when there is something to send.
 * Returns NULL with `err`. */
struct fs_rp_deliver *fs_rp_deliver_new(const struct fs_rp_deliver_opts *o, char *err,
                                        size_t errlen);
/* Persists the acknowledged mark and closes. NULL is fine. */
void fs_rp_deliver_free(struct fs_rp_deliver *d);

/* Appends `al` to the spool; `wall_ms` (wall clock) becomes its syslog
 * timestamp. The record survives the process being killed on return.
 * Returns 0, or -1 with `err` (disk full, I/O error). */
int fs_rp_deliver_add(struct fs_rp_deliver *d, const struct fs_rp_alert *al, uint64_t wall_ms,
                      char *err, size_t errlen);

/* fsync of the spool: what was added survives a power cut. */
int fs_rp_deliver_sync(struct fs_rp_deliver *d, char *err, size_t errlen);

/* Checks the connection, confirms what has been up long enough, and sends up
 * to `budget` records. Returns the records sent. */
size_t fs_rp_deliver_run(struct fs_rp_deliver *d, uint64_t now_ms, size_t budget);

/* True when records wait and could be sent now (connected or allowed to
 * reconnect, room in flight): the caller should not sleep. */
bool fs_rp_deliver_ready(const struct fs_rp_deliver *d, uint64_t now_ms);

/* Records spooled and not yet confirmed. */
uint64_t fs_rp_deliver_pending(const struct fs_rp_deliver *d);

/* Wall-clock ms at which the oldest unconfirmed record was spooled (0: none). */
uint64_t fs_rp_deliver_oldest(struct fs_rp_deliver *d);

/* Persists the acknowledged mark now (the run does it at most twice a second). */
int fs_rp_deliver_flush_ack(struct fs_rp_deliver *d, char *err, size_t errlen);

/* The last failure ("" when none since the last success). */
const char *fs_rp_deliver_last_error(const struct fs_rp_deliver *d);

const char *fs_rp_deliver_name(const struct fs_rp_deliver *d);
const struct fs_rp_deliver_counters *fs_rp_deliver_counters(struct fs_rp_deliver *d);
const struct fs_rp_out_counters *fs_rp_deliver_out_counters(const struct fs_rp_deliver *d);

/*
 * The spool record of an alert, exposed for tests: a small header (version,
 * kind, id, count, first/last ms, spool time, the anomaly's ts/end) then,
 * except for storm alerts, the anomaly as an "anomaly" bus message (msg.h).
 */
struct fs_events_writer;
/* Returns 0 with a malloc'd record in *buf, or -1 with `err`. */
int fs_rp_record_encode(struct fs_events_writer *w, const struct fs_rp_alert *al,
                        uint64_t wall_ms, void **buf, size_t *len, char *err, size_t errlen);
/* Returns 0, or -1 with `err` for a record that is not one (checked, never trusted). */
int fs_rp_record_decode(const void *buf, size_t len, struct fs_rp_alert *al,
                        uint64_t *wall_ms, char *err, size_t errlen);

#endif
