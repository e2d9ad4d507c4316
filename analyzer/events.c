/*
 * events.c - the analyzer's outputs: anomalies as JSON lines in the --alerts
 * file and, with the summaries, as messages in the journal and on the events
 * bus.
 *
 * The alert file is written through stdio's buffer and flushed by the caller
 * (main flushes every flush-interval when live and at exit), so a burst of
 * findings costs one write, not one per line. The journal is synced at the
 * same moments: an append is already in the kernel's hands (it survives the
 * analyzer being killed), the sync makes it survive a power cut.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "events.h"
#include "log.h"

/* Errors logged per kind before only counting. */
#define LOG_BURST 5

struct fs_an_events {
    FILE *alerts;
    bool own_alerts;              /* opened here: closed here */
    struct fs_bus *bus;
    struct fs_dlog *journal;
    bool unsynced;                /* appended to since the last sync */
    struct fs_events_writer *writer;
    struct fs_an_events_counters n;
};

struct fs_an_events *fs_an_events_new(const struct fs_an_events_opts *o, char *err,
                                      size_t errlen)
{
    struct fs_an_events *e = calloc(1, sizeof(*e));
    char why[512];

    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (o->alerts != NULL && strcmp(o->alerts, "-") == 0) {
        e->alerts = stdout;
    } else if (o->alerts != NULL) {
        e->alerts = fopen(o->alerts, o->truncate ? "w" : "a");
        if (e->alerts == NULL) {
            snprintf(err, errlen, "alerts file %s: %s", o->alerts, strerror(errno));
            goto fail;
        }
        e->own_alerts = true;
    }
    if (o->publish != NULL || o->journal != NULL) {
        e->writer = fs_events_writer_new(o->sender);
        if (e->writer == NULL) {
            snprintf(err, errlen, "sender '%s' is empty or too long", o->sender);
            goto fail;
        }
    }
    if (o->journal != NULL) {
        struct fs_dlog_opts jo = { o->journal_max, 0 };
        e->journal = fs_dlog_open(o->journal, &jo, why, sizeof(why));
        if (e->journal == NULL) {
            snprintf(err, errlen, "journal %s: %s", o->journal, why);
            goto fail;
        }
    }
    if (o->publish != NULL) {
        e->bus = fs_bus_pub(o->publish, 0, why, sizeof(why));
        if (e->bus == NULL) {
            snprintf(err, errlen, "events bus %s: %s", o->publish, why);
            goto fail;
        }
    }
    return e;
fail:
    fs_an_events_free(e);
    return NULL;
}

void fs_an_events_free(struct fs_an_events *e)
{
    if (e == NULL)
        return;
    if (e->alerts != NULL) {
        fs_an_events_flush(e);
        if (e->own_alerts)
            fclose(e->alerts);
    }
    fs_bus_close(e->bus, -1);
    fs_dlog_close(e->journal);
    fs_events_writer_free(e->writer);
    free(e);
}

static int encode(struct fs_an_events *e, enum fs_msg_type type, const void *item,
                  const void **buf, size_t *len)
{
    return type == FS_MSG_ANOMALY ? fs_msg_anomaly(e->writer, item, buf, len)
                                  : fs_msg_summary(e->writer, item, buf, len);
}

/* Writes one anomaly or summary message to the journal, then to the bus. */
static void emit(struct fs_an_events *e, enum fs_msg_type type, const void *item)
{
    const char *topic = fs_msg_type_name(type);
    const void *buf = NULL;
    size_t len = 0;
    char why[256];

    if (e->journal != NULL)
        fs_events_writer_journal(e->writer, fs_dlog_id(e->journal), fs_dlog_next(e->journal));
    if (encode(e, type, item, &buf, &len) != 0)
        goto unencoded;
    if (e->journal != NULL) {
        if (fs_dlog_append(e->journal, buf, len, NULL, why, sizeof(why)) == 0) {
            e->n.journal_appended++;
            e->unsynced = true;
        } else {
            if (e->n.journal_errors++ < LOG_BURST)
                fs_log(FS_LOG_ERROR, "journal: %s message not written: %s", topic, why);
            /* Its stamp names the place the next message will take: both
             * would carry one sequence and a reader would drop the second
             * as a duplicate. Published without a stamp, it is only not
             * replayable. */
            if (encode(e, type, item, &buf, &len) != 0)
                goto unencoded;
        }
        e->n.journal_dropped = fs_dlog_counters(e->journal)->dropped;
    }
    if (e->bus == NULL)
        return;
    if (fs_bus_send(e->bus, topic, buf, len) == 0) {
        e->n.published++;
    } else if (e->n.publish_errors++ < LOG_BURST) {
        fs_log(FS_LOG_WARNING, "events bus: %s message not sent: %s", topic,
               fs_bus_error(e->bus));
    }
    return;
unencoded:
    if (e->n.publish_errors++ < LOG_BURST)
        fs_log(FS_LOG_WARNING, "events: %s message not sent: could not encode it", topic);
}

void fs_an_events_anomaly(void *arg, const struct fs_anomaly *a)
{
    struct fs_an_events *e = arg;

    if (e->alerts != NULL) {
        char line[FS_ANOMALY_JSON_MAX];
        int n = fs_anomaly_json(a, line, sizeof(line) - 1);
        if (n > 0) {
            line[n++] = '\n';
            if (fwrite(line, 1, (size_t)n, e->alerts) == (size_t)n) {
                e->n.alerts_written++;
            } else if (e->n.alert_errors++ < LOG_BURST) {
                fs_log(FS_LOG_ERROR, "alerts file: %s", strerror(errno));
            }
        } else {
            e->n.alert_errors++;
        }
    }
    if (e->writer != NULL)
        emit(e, FS_MSG_ANOMALY, a);
}

void fs_an_events_summary(void *arg, const struct fs_summary *s)
{
    struct fs_an_events *e = arg;

    if (e->writer != NULL)
        emit(e, FS_MSG_SUMMARY, s);
}

int fs_an_events_flush(struct fs_an_events *e)
{
    int rc = 0;

    if (e->alerts != NULL && fflush(e->alerts) != 0) {
        if (e->n.alert_errors++ < LOG_BURST)
            fs_log(FS_LOG_ERROR, "alerts file: %s", strerror(errno));
        rc = -1;
    }
    if (e->unsynced) {
        char why[256];
        if (fs_dlog_sync(e->journal, why, sizeof(why)) == 0) {
            e->unsynced = false;
        } else {
            if (e->n.journal_errors++ < LOG_BURST)
                fs_log(FS_LOG_ERROR, "journal: sync failed: %s", why);
            rc = -1;
        }
    }
    return rc;
}

struct fs_dlog *fs_an_events_journal(struct fs_an_events *e)
{
    return e->journal;
}

const struct fs_an_events_counters *fs_an_events_counters(const struct fs_an_events *e)
{
    return &e->n;
}
