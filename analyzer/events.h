/*
 * events.h - where the analyzer's findings go: the --alerts file (JSON lines,
 * fs_anomaly_json), the journal (--journal: every anomaly and summary
 * message, numbered, on disk, for replay.h) and the events bus ("anomaly"
 * and "summary" messages).
 *
 * fs_an_events_anomaly and fs_an_events_summary fit the engine's sinks
 * (analyzer.h), with the struct fs_an_events as their argument. Failures
 * are counted and logged (rate-limited), never fatal: an analyzer that
 * cannot write its alert file must still publish on the bus, and the reverse.
 * A message goes into the journal before it is published, so a reader that
 * saw it on the bus can always ask for it again.
 */
#ifndef FS_AN_EVENTS_H
#define FS_AN_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anomaly.h"
#include "dlog.h"
#include "msg.h"

struct fs_an_events_counters {
    uint64_t alerts_written;
    uint64_t alert_errors;      /* lines that could not be written */
    uint64_t published;         /* messages queued on the bus */
    uint64_t publish_errors;
    uint64_t journal_appended;  /* messages written to the journal */
    uint64_t journal_errors;    /* messages the journal refused (still published, unstamped) */
    uint64_t journal_dropped;   /* old messages removed to keep within --journal-max */
};

struct fs_an_events_opts {
    const char *alerts;         /* file to append to ("-": stdout; NULL: none) */
    bool truncate;              /* empty the alerts file first */
    const char *publish;        /* events-bus endpoint (NULL: none) */
    const char *sender;         /* envelope sender id */
    const char *journal;        /* journal directory (NULL: none) */
    uint64_t journal_max;       /* bound on the journal's size (0: dlog's default) */
};

struct fs_an_events;

/* Opens what `o` names. Returns NULL with the reason in `err`. */
struct fs_an_events *fs_an_events_new(const struct fs_an_events_opts *o, char *err,
                                      size_t errlen);
void fs_an_events_free(struct fs_an_events *e);

void fs_an_events_anomaly(void *e, const struct fs_anomaly *a);
void fs_an_events_summary(void *e, const struct fs_summary *s);

/* Pushes buffered alert lines to the file and syncs the journal to disk.
 * Returns 0 or -1. */
int fs_an_events_flush(struct fs_an_events *e);

/* The journal, for the replay server; NULL without --journal. */
struct fs_dlog *fs_an_events_journal(struct fs_an_events *e);

const struct fs_an_events_counters *fs_an_events_counters(const struct fs_an_events *e);

#endif
