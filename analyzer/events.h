/*
 * events.h - where the analyzer's findings go: the --alerts file (JSON lines,
 * fs_anomaly_json) and the events bus ("anomaly" and "summary" messages).
 *
 * fs_an_events_anomaly and fs_an_events_summary fit the engine's sinks
 * (analyzer.h), with the struct fs_an_events as their argument. Failures
 * are counted and logged (rate-limited), never fatal: an analyzer that
 * cannot write its alert file must still publish on the bus, and the reverse.
 */
#ifndef FS_AN_EVENTS_H
#define FS_AN_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anomaly.h"
#include "msg.h"

struct fs_an_events_counters {
    uint64_t alerts_written;
    uint64_t alert_errors;      /* lines that could not be written */
    uint64_t published;         /* messages queued on the bus */
    uint64_t publish_errors;
};

struct fs_an_events;

/* `alerts`: a file to append to ("-": standard output; NULL: none), emptied
 * first when `truncate`. `publish`: an events-bus endpoint (NULL: none).
 * Returns NULL with the reason in `err`. */
struct fs_an_events *fs_an_events_new(const char *alerts, bool truncate, const char *publish,
                                      const char *sender, char *err, size_t errlen);
void fs_an_events_free(struct fs_an_events *e);

void fs_an_events_anomaly(void *e, const struct fs_anomaly *a);
void fs_an_events_summary(void *e, const struct fs_summary *s);

/* Pushes buffered alert lines to the file. Returns 0 or -1. */
int fs_an_events_flush(struct fs_an_events *e);

const struct fs_an_events_counters *fs_an_events_counters(const struct fs_an_events *e);

#endif
