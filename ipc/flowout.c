/*
 * flowout.c - flow records out of a source process: bus batches and JSON
 * lines (see flowout.h for the batching and failure rules).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus.h"
#include "flowout.h"
#include "log.h"

/* stdout's buffer for JSON lines: static, because stdio keeps using it until
 * the process exits, after any fs_flowout is gone. */
static char stdout_buf[1u << 20];

struct fs_flowout {
    struct fs_bus *bus;          /* NULL when not publishing */
    struct fs_batch *batch;
    struct fs_stats *stats;
    size_t batch_size;
    uint64_t batch_since_ms;     /* monotonic time of the oldest flow in `batch` */
    char sender[FS_MSG_SENDER_MAX];
    struct fs_flowout_counters n;

    bool json;
    bool failed;                 /* stdout is gone */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The queue bound is in flows; ZeroMQ counts messages. At least a few, for
 * tiny batches sent at once. */
static int default_hwm(size_t batch_size)
{
    size_t hwm = FS_FLOWOUT_QUEUE_FLOWS / (batch_size > 0 ? batch_size : 1);

    return hwm < 16 ? 16 : hwm > INT_MAX ? INT_MAX : (int)hwm;
}

struct fs_flowout *fs_flowout_new(const struct fs_flowout_opts *o, char *err, size_t errlen)
{
    struct fs_flowout *out = calloc(1, sizeof(*out));
    char why[256];

    if (out == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    out->json = o->json;
    out->batch_size = o->batch_size;
    if (o->sender != NULL)
        snprintf(out->sender, sizeof(out->sender), "%s", o->sender);
    else if (fs_msg_default_sender(o->program, out->sender, sizeof(out->sender)) < 0)
        snprintf(out->sender, sizeof(out->sender), "%s", o->program);
    if (o->json)
        setvbuf(stdout, stdout_buf, _IOFBF, sizeof(stdout_buf));
    if (o->endpoint == NULL)
        return out;
    out->batch = fs_batch_new(out->sender);
    out->stats = fs_stats_new(out->sender);
    if (out->batch == NULL || out->stats == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    out->bus = fs_bus_pub(o->endpoint, o->hwm > 0 ? o->hwm : default_hwm(o->batch_size), why,
                          sizeof(why));
    if (out->bus == NULL) {
        snprintf(err, errlen, "publish %s: %s", o->endpoint, why);
        goto fail;
    }
    fs_log(FS_LOG_INFO, "publishing flows on %s as %s", o->endpoint, out->sender);
    return out;
fail:
    fs_flowout_free(out);
    return NULL;
}

static void publish(struct fs_flowout *out)
{
    const void *buf;
    size_t len, n;

    if (out->bus == NULL || (n = fs_batch_count(out->batch)) == 0)
        return;
    if (fs_batch_finish(out->batch, &buf, &len) == 0) {
        if (fs_bus_send(out->bus, fs_msg_type_name(FS_MSG_FLOWS), buf, len) == 0) {
            out->n.messages++;
            out->n.flows += n;
        } else {
            out->n.dropped_messages++;
            out->n.dropped_flows += n;
        }
    }
    fs_batch_reset(out->batch);
}

static void check_stdout(struct fs_flowout *out)
{
    if (out->failed || !ferror(stdout))
        return;
    out->failed = true;
    if (errno == EPIPE)
        fs_log(FS_LOG_INFO, "stdout closed by the reader: stopping");
    else
        fs_log(FS_LOG_ERROR, "stdout: %s: stopping", strerror(errno));
}

void fs_flowout_flows(void *arg, const struct fs_flow *flows, size_t n)
{
    struct fs_flowout *out = arg;
    char line[FS_FLOW_JSON_MAX + 1];

    for (size_t i = 0; i < n; i++) {
        if (out->json && !out->failed) {
            int len = fs_flow_json(&flows[i], line, sizeof(line) - 1);

            if (len >= 0) {
                line[len] = '\n';
                if (fwrite(line, 1, (size_t)len + 1, stdout) != (size_t)len + 1)
                    check_stdout(out);
            }
        }
        if (out->bus != NULL) {
            if (fs_batch_count(out->batch) == 0)
                out->batch_since_ms = mono_ms();
            fs_batch_add(out->batch, &flows[i]);
            if (fs_batch_count(out->batch) >= out->batch_size)
                publish(out);
        }
    }
}

long fs_flowout_flush(struct fs_flowout *out, bool force)
{
    long wait = -1;

    if (out->bus != NULL && fs_batch_count(out->batch) > 0) {
        uint64_t age = mono_ms() - out->batch_since_ms;

        if (force || age >= FS_FLOWOUT_DELAY_MS)
            publish(out);
        else
            wait = FS_FLOWOUT_DELAY_MS - (long)age;
    }
    if (out->json && !out->failed && fflush(stdout) != 0)
        check_stdout(out);
    return wait;
}

struct fs_stats *fs_flowout_stats(struct fs_flowout *out, uint64_t ts_ms)
{
    if (out->bus == NULL)
        return NULL;
    fs_stats_reset(out->stats, ts_ms);
    return out->stats;
}

void fs_flowout_send_stats(struct fs_flowout *out)
{
    const void *buf;
    size_t len;

    if (out->bus != NULL && fs_stats_finish(out->stats, &buf, &len) == 0 &&
        fs_bus_send(out->bus, fs_msg_type_name(FS_MSG_STATS), buf, len) < 0)
        fs_log(FS_LOG_WARNING, "stats message not sent: %s", fs_bus_error(out->bus));
}

void fs_flowout_free(struct fs_flowout *out)
{
    if (out == NULL)
        return;
    fs_flowout_flush(out, true);
    fs_bus_close(out->bus, -1);
    fs_batch_free(out->batch);
    fs_stats_free(out->stats);
    free(out);
}

bool fs_flowout_failed(const struct fs_flowout *out)
{
    return out->failed;
}

bool fs_flowout_publishing(const struct fs_flowout *out)
{
    return out->bus != NULL;
}

const char *fs_flowout_sender(const struct fs_flowout *out)
{
    return out->sender;
}

const struct fs_flowout_counters *fs_flowout_counters(const struct fs_flowout *out)
{
    return &out->n;
}
