/*
 * events.c - the analyzer's outputs: anomalies as JSON lines in the --alerts
 * file and, with the summaries, as messages on the events bus.
 *
 * The alert file is written through stdio's buffer and flushed by the caller
 * (main flushes every flush-interval when live and at exit), so a burst of
 * findings costs one write, not one per line.
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
    struct fs_events_writer *writer;
    struct fs_an_events_counters n;
};

struct fs_an_events *fs_an_events_new(const char *alerts, bool truncate, const char *publish,
                                      const char *sender, char *err, size_t errlen)
{
    struct fs_an_events *e = calloc(1, sizeof(*e));

    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (alerts != NULL && strcmp(alerts, "-") == 0) {
        e->alerts = stdout;
    } else if (alerts != NULL) {
        e->alerts = fopen(alerts, truncate ? "w" : "a");
        if (e->alerts == NULL) {
            snprintf(err, errlen, "alerts file %s: %s", alerts, strerror(errno));
            goto fail;
        }
        e->own_alerts = true;
    }
    if (publish != NULL) {
        char why[256];
        e->writer = fs_events_writer_new(sender);
        if (e->writer == NULL) {
            snprintf(err, errlen, "sender '%s' is empty or too long", sender);
            goto fail;
        }
        e->bus = fs_bus_pub(publish, 0, why, sizeof(why));
        if (e->bus == NULL) {
            snprintf(err, errlen, "events bus %s: %s", publish, why);
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
    fs_events_writer_free(e->writer);
    free(e);
}

static void publish(struct fs_an_events *e, enum fs_msg_type type, int rc, const void *buf,
                    size_t len)
{
    const char *topic = fs_msg_type_name(type);

    if (rc == 0 && fs_bus_send(e->bus, topic, buf, len) == 0) {
        e->n.published++;
        return;
    }
    if (e->n.publish_errors++ < LOG_BURST)
        fs_log(FS_LOG_WARNING, "events bus: %s message not sent: %s", topic,
               rc != 0 ? "could not encode it" : fs_bus_error(e->bus));
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
    if (e->bus != NULL) {
        const void *buf = NULL;
        size_t len = 0;
        int rc = fs_msg_anomaly(e->writer, a, &buf, &len);
        publish(e, FS_MSG_ANOMALY, rc, buf, len);
    }
}

void fs_an_events_summary(void *arg, const struct fs_summary *s)
{
    struct fs_an_events *e = arg;

    if (e->bus != NULL) {
        const void *buf = NULL;
        size_t len = 0;
        int rc = fs_msg_summary(e->writer, s, &buf, &len);
        publish(e, FS_MSG_SUMMARY, rc, buf, len);
    }
}

int fs_an_events_flush(struct fs_an_events *e)
{
    if (e->alerts == NULL || fflush(e->alerts) == 0)
        return 0;
    if (e->n.alert_errors++ < LOG_BURST)
        fs_log(FS_LOG_ERROR, "alerts file: %s", strerror(errno));
    return -1;
}

const struct fs_an_events_counters *fs_an_events_counters(const struct fs_an_events *e)
{
    return &e->n;
}
