/*
 * intake.h - the analyzer's event stream, in journal order, exactly once per
 * message as far as the journal allows.
 *
 * Messages come live from the events bus and, through replay requests
 * (replay.h), from the analyzer's journal. Each stamped message (journal id,
 * journal sequence) is handed to `process` only when it is the next one:
 *
 *   - the expected sequence (last processed + 1): processed;
 *   - at or below the last processed: a duplicate, counted and dropped;
 *   - above it: a gap. With a replay endpoint the intake falls behind: it
 *     drops live messages (the journal has them) and fetches from the
 *     expected one on until it has caught up. Without one, the missing
 *     messages are counted as lost and the stream goes on;
 *   - another journal id: the analyzer's journal was started afresh; the
 *     intake reads the new one from its oldest message (counted, logged).
 *
 * With a replay endpoint, the intake also asks at start and whenever nothing
 * came for `idle_ms`, which finds what was published while the reporter was
 * down and a tail lost on the bus. Messages the journal no longer holds are
 * counted as lost. When the endpoint never answers while live messages show
 * a gap, the intake gives up after `gap_wait_ms`: the gap is counted lost
 * and the live stream taken up again.
 *
 * Messages without a stamp (an analyzer without a journal) are processed as
 * they come; their envelope sequence numbers count what was lost.
 */
#ifndef FS_RP_INTAKE_H
#define FS_RP_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "replay.h"

/* Processes one anomaly or summary message. Returns 0, or -1 to stop: the
 * message is then not counted as processed, and the intake refuses to go on
 * (every later call returns -1). */
typedef int (*fs_rp_process_fn)(void *arg, const struct fs_msg *m);

struct fs_rp_intake_opts {
    struct fs_replay_cli *replay;  /* NULL: no replay (not owned) */
    uint32_t fetch_timeout_ms;     /* wait for a reply (0: 2000) */
    uint32_t idle_ms;              /* ask when nothing came for this long (0: 3000) */
    uint32_t gap_wait_ms;          /* give a gap up after this long unanswered (0: 30000) */
    fs_rp_process_fn process;
    void *arg;
};

struct fs_rp_intake_counters {
    uint64_t live;                 /* messages from the bus */
    uint64_t replayed;             /* messages from replay replies */
    uint64_t processed;
    uint64_t duplicates;           /* already processed: dropped */
    uint64_t deferred;             /* live messages dropped while behind (fetched instead) */
    uint64_t gaps;                 /* times a live message showed messages missing */
    uint64_t lost;                 /* messages never processed: not in the journal any more,
                                      or no replay */
    uint64_t journal_changes;
    uint64_t unstamped;            /* processed without a journal stamp */
    uint64_t malformed;            /* messages that did not decode */
    uint64_t fetches, fetch_failures;
    uint64_t backlog;              /* gauge: journal messages not yet processed, as of the
                                      last reply */
};

struct fs_rp_intake;

/* NULL when out of memory. */
struct fs_rp_intake *fs_rp_intake_new(const struct fs_rp_intake_opts *o);
void fs_rp_intake_free(struct fs_rp_intake *in);

/* Where processing stands: the journal and its last sequence processed
 * (0, 0: nothing yet). Set from the state file before the first call. */
void fs_rp_intake_set_position(struct fs_rp_intake *in, uint64_t journal_id, uint64_t jseq);
void fs_rp_intake_position(const struct fs_rp_intake *in, uint64_t *journal_id,
                           uint64_t *jseq);

/* One message from the bus (raw msgpack). `now_ms`: monotonic clock.
 * Returns 0, or -1 when `process` refused (see above). */
int fs_rp_intake_live(struct fs_rp_intake *in, const void *data, size_t len, uint64_t now_ms);

/* Asks the replay endpoint when behind, or when idle for `idle_ms`; may
 * process many messages. Returns 0, or -1 when `process` refused. */
int fs_rp_intake_poll(struct fs_rp_intake *in, uint64_t now_ms);

/* True while a gap (or the start) waits for a replay. */
bool fs_rp_intake_behind(const struct fs_rp_intake *in);

const struct fs_rp_intake_counters *fs_rp_intake_counters(const struct fs_rp_intake *in);

#endif
