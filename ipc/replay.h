/*
 * replay.h - asking the analyzer's journal for events a reporter missed.
 *
 * The analyzer writes every anomaly and summary message to its journal
 * (dlog.h) before publishing it, stamped with (journal id, journal sequence)
 * (fs_events_writer_journal). A reporter that sees a gap in the journal
 * sequence, starts up, or finds the journal id changed asks for the messages
 * from a given sequence on; the analyzer answers from the journal.
 *
 * Wire (ZeroMQ DEALER -> ROUTER, msgpack, docs/messages.md):
 *   request  one frame: {type:"replay", v, sender, seq, journal: ID or 0,
 *            from: JSEQ, max: N}
 *   reply    frame 1: {type:"replayed", v, sender, seq, re: request seq,
 *            journal: ID, first: oldest JSEQ held, next: next JSEQ, n: N'}
 *            then N' frames, each one journaled message exactly as it was
 *            published (jseq from, from + 1, ...; or from `first` when `from`
 *            is older than the journal holds; or from `first` of a journal
 *            whose id is not the one asked about).
 * N' <= min(max, FS_REPLAY_MAX) and the reply stays under FS_REPLAY_BYTES.
 *
 * Nothing here prints or exits.
 */
#ifndef FS_REPLAY_H
#define FS_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "dlog.h"

#define FS_REPLAY_MAX 4096          /* messages per reply, at most */
#define FS_REPLAY_BYTES (8u << 20)  /* reply size, at most (one message always fits) */

/* Server side, in the analyzer: a ROUTER bound (or '>' connected) to `endpoint`. */
struct fs_replay_srv;

struct fs_replay_srv *fs_replay_srv_new(const char *endpoint, const char *sender, char *err,
                                        size_t errlen);
void fs_replay_srv_free(struct fs_replay_srv *s);

/* Answers every request waiting (never blocks) from `journal`. Bad requests
 * are counted and answered with nothing. Returns the requests answered, or -1
 * with `err` on a socket error. */
int fs_replay_srv_serve(struct fs_replay_srv *s, struct fs_dlog *journal, char *err,
                        size_t errlen);

struct fs_replay_srv_counters {
    uint64_t requests, messages, bad_requests, read_errors;
};
const struct fs_replay_srv_counters *fs_replay_srv_counters(const struct fs_replay_srv *s);

/* Why the last bad request was refused or the last journal read failed, as
 * one line for the caller's log ("" before the first). */
const char *fs_replay_srv_problem(const struct fs_replay_srv *s);

/* Client side, in the reporter: a DEALER connected to `endpoint`. */
struct fs_replay_cli;

struct fs_replay_cli *fs_replay_cli_new(const char *endpoint, const char *sender, char *err,
                                        size_t errlen);
void fs_replay_cli_free(struct fs_replay_cli *c);

/* What a reply said about the journal. */
struct fs_replay_info {
    uint64_t journal_id;
    uint64_t first, next;   /* oldest held, next to be written */
    size_t n;               /* messages handed to the callback */
};

/* Receives each replayed message (raw msgpack, fs_msg_decode() it). */
typedef void (*fs_replay_fn)(void *arg, const void *msg, size_t len);

/* Asks for up to `max` messages from `from` on in journal `journal_id` (0:
 * whatever journal the analyzer has) and waits up to `timeout_ms` for the
 * reply. Returns 1 with `info` filled and the messages delivered to `fn`,
 * 0 on timeout (a late reply to this request is recognised and dropped
 * later), -1 with `err` on a socket error or a malformed reply. */
int fs_replay_fetch(struct fs_replay_cli *c, uint64_t journal_id, uint64_t from, uint32_t max,
                    int timeout_ms, fs_replay_fn fn, void *arg, struct fs_replay_info *info,
                    char *err, size_t errlen);

/* Replies to earlier requests (answered after their fetch had timed out)
 * received and dropped so far. */
uint64_t fs_replay_cli_stale(const struct fs_replay_cli *c);

#endif
