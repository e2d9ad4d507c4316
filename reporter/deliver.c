/*
 * deliver.c - one output's spool and its at-least-once delivery (deliver.h).
 *
 * Three marks over the spool's sequence numbers:
 *
 *   confirmed      every record up to here is delivered (acknowledged in the
 *                  spool, persisted at most twice a second and at close)
 *   in flight      (confirmed, next): sent, each with its send time, waiting
 *                  for the connection to stay up `confirm_ms` past it
 *   next           the next record to send
 *
 * Any failure moves `next` back to confirmed + 1: the records in flight are
 * sent again. Records are confirmed strictly in order, so the mark never
 * passes one that has not been confirmed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binio.h"
#include "deliver.h"
#include "dlog.h"
#include "log.h"
#include "msg.h"

#define RECORD_VERSION 1
#define RECORD_HEAD 54
#define ACK_EVERY_MS 500
#define DROP_LOG_EVERY_MS 60000
#define BAD_LOG_BURST 5

struct inflight {
    uint64_t seq;
    uint64_t t;     /* send time; 0: confirmed as soon as it is first in line */
};

struct fs_rp_deliver {
    char name[64];
    struct fs_dlog *spool;
    struct fs_rp_out *out;
    struct fs_rp_fmt fmt;
    char hostname[256], app[64];
    struct fs_events_writer *w;
    bool immediate;             /* no connection that could still lose a sent record */
    uint32_t confirm_ms;

    uint64_t next, confirmed, acked, max_sent;
    uint64_t last_ack_ms;

    struct inflight *q;         /* ring of records in flight, oldest at `head` */
    size_t qcap, head, qlen, max_inflight;

    bool failing;               /* the last attempt failed: log the recovery */
    uint64_t drops_logged, last_drop_log_ms;
    char last_err[256];
    char msg[FS_RP_MSG_MAX];
    struct fs_rp_deliver_counters n;
};

/* ------------------------------------------------------------------ */
/* Spool records. */

int fs_rp_record_encode(struct fs_events_writer *w, const struct fs_rp_alert *al,
                        uint64_t wall_ms, void **buf, size_t *len, char *err, size_t errlen)
{
    const void *body = NULL;
    size_t blen = 0;
    uint8_t *p;

    if (al->kind != FS_RP_STORM && fs_msg_anomaly(w, &al->a, &body, &blen) != 0) {
        snprintf(err, errlen, "alert %016llx: the anomaly cannot be encoded",
                 (unsigned long long)al->id);
        return -1;
    }
    if ((p = malloc(RECORD_HEAD + blen)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p[0] = RECORD_VERSION;
    p[1] = (uint8_t)al->kind;
    fs_put_le(p + 2, al->id, 8);
    fs_put_le(p + 10, al->count, 4);
    fs_put_le(p + 14, al->first_ms, 8);
    fs_put_le(p + 22, al->last_ms, 8);
    fs_put_le(p + 30, wall_ms, 8);
    fs_put_le(p + 38, al->a.ts_ms, 8);
    fs_put_le(p + 46, al->a.end_ms, 8);
    if (blen)
        memcpy(p + RECORD_HEAD, body, blen);
    *buf = p;
    *len = RECORD_HEAD + blen;
    return 0;
}

int fs_rp_record_decode(const void *buf, size_t len, struct fs_rp_alert *al,
                        uint64_t *wall_ms, char *err, size_t errlen)
{
    const uint8_t *p = buf;
    struct fs_msg m;
    char why[256];

    memset(al, 0, sizeof(*al));
    if (len < RECORD_HEAD) {
        snprintf(err, errlen, "record of %zu bytes is too short", len);
        return -1;
    }
    if (p[0] != RECORD_VERSION) {
        snprintf(err, errlen, "record version %u not supported (this build reads %u)", p[0],
                 RECORD_VERSION);
        return -1;
    }
    if (p[1] > FS_RP_STORM) {
        snprintf(err, errlen, "record of unknown kind %u", p[1]);
        return -1;
    }
    al->kind = (enum fs_rp_alert_kind)p[1];
    if (al->kind == FS_RP_STORM) {
        if (len != RECORD_HEAD) {
            snprintf(err, errlen, "storm record with %zu bytes too many", len - RECORD_HEAD);
            return -1;
        }
    } else {
        if (fs_msg_decode(p + RECORD_HEAD, len - RECORD_HEAD, &m, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "record anomaly: %s", why);
            return -1;
        }
        if (m.type != FS_MSG_ANOMALY) {
            snprintf(err, errlen, "record holds a %s message, not an anomaly",
                     fs_msg_type_name(m.type));
            fs_msg_free(&m);
            return -1;
        }
        al->a = *m.anomaly;
        fs_msg_free(&m);
    }
    al->id = fs_get_le(p + 2, 8);
    al->count = (uint32_t)fs_get_le(p + 10, 4);
    al->first_ms = fs_get_le(p + 14, 8);
    al->last_ms = fs_get_le(p + 22, 8);
    *wall_ms = fs_get_le(p + 30, 8);
    al->a.ts_ms = fs_get_le(p + 38, 8);
    al->a.end_ms = fs_get_le(p + 46, 8);
    return 0;
}

/* ------------------------------------------------------------------ */
/* The in-flight ring. */

static int push(struct fs_rp_deliver *d, uint64_t seq, uint64_t t)
{
    if (d->qlen == d->qcap) {
        size_t cap = d->qcap ? d->qcap * 2 : 64;
        struct inflight *q;

        if (cap > d->max_inflight)
            cap = d->max_inflight;
        if (cap <= d->qlen || (q = malloc(cap * sizeof(*q))) == NULL)
            return -1;
        for (size_t i = 0; i < d->qlen; i++)
            q[i] = d->q[(d->head + i) % d->qcap];
        free(d->q);
        d->q = q;
        d->qcap = cap;
        d->head = 0;
    }
    d->q[(d->head + d->qlen) % d->qcap] = (struct inflight){ seq, t };
    d->qlen++;
    return 0;
}

/* Confirms, in order, what has waited long enough. */
static void confirm(struct fs_rp_deliver *d, uint64_t now)
{
    while (d->qlen > 0) {
        const struct inflight *e = &d->q[d->head];

        if (e->t != 0 && now < e->t + d->confirm_ms)
            break;
        if (e->seq > d->confirmed)
            d->confirmed = e->seq;
        d->n.confirmed++;
        d->head = (d->head + 1) % d->qcap;
        d->qlen--;
    }
}

/* Everything in flight is to be sent again. */
static void rewind_flight(struct fs_rp_deliver *d)
{
    if (d->next > d->confirmed + 1)
        d->n.rewinds++;
    d->qlen = 0;
    d->head = 0;
    d->next = d->confirmed + 1;
}

static void failed(struct fs_rp_deliver *d, const char *what, const char *why)
{
    uint64_t unconfirmed = d->next - 1 - d->confirmed; /* `next` itself was not sent */

    d->n.errors++;
    snprintf(d->last_err, sizeof(d->last_err), "%s", why);
    if (!d->failing)
        fs_log(FS_LOG_WARNING, "%s: %s: %s; %llu alerts wait in the spool (%llu of them sent "
               "but unconfirmed, to be sent again)", d->name, what, why,
               (unsigned long long)fs_rp_deliver_pending(d), (unsigned long long)unconfirmed);
    d->failing = true;
    rewind_flight(d);
}

/* ------------------------------------------------------------------ */

struct fs_rp_deliver *fs_rp_deliver_new(const struct fs_rp_deliver_opts *o, char *err,
                                        size_t errlen)
{
    struct fs_rp_deliver *d = calloc(1, sizeof(*d));
    struct fs_dlog_opts lo = { .max_bytes = o->spool_bytes, .segment_bytes = 0 };
    char why[256];

    if (d == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(d->name, sizeof(d->name), "%s", o->name ? o->name : "output");
    d->spool = fs_dlog_open(o->dir, &lo, why, sizeof(why));
    if (d->spool == NULL) {
        snprintf(err, errlen, "%s: spool %s: %s", d->name, o->dir, why);
        goto fail;
    }
    d->out = fs_rp_out_new(&o->out, why, sizeof(why));
    if (d->out == NULL) {
        snprintf(err, errlen, "%s: %s", d->name, why);
        goto fail;
    }
    d->w = fs_events_writer_new("spool");
    if (d->w == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    d->fmt = o->fmt;
    if (o->fmt.hostname != NULL) {
        snprintf(d->hostname, sizeof(d->hostname), "%s", o->fmt.hostname);
        d->fmt.hostname = d->hostname;
    }
    if (o->fmt.app_name != NULL) {
        snprintf(d->app, sizeof(d->app), "%s", o->fmt.app_name);
        d->fmt.app_name = d->app;
    }
    d->confirm_ms = o->confirm_ms;
    d->immediate = o->out.transport == FS_RP_T_UDP || o->out.transport == FS_RP_T_UNIX ||
                   o->out.transport == FS_RP_T_FILE || o->confirm_ms == 0;
    d->max_inflight = o->max_inflight ? o->max_inflight : 65536;
    d->confirmed = d->acked = fs_dlog_acked(d->spool);
    if (d->confirmed + 1 < fs_dlog_first(d->spool))
        d->confirmed = fs_dlog_first(d->spool) - 1;
    d->next = d->confirmed + 1;
    d->max_sent = d->confirmed;
    if (fs_rp_deliver_pending(d) > 0)
        fs_log(FS_LOG_INFO, "%s: %llu alerts in the spool from before, delivering them first",
               d->name, (unsigned long long)fs_rp_deliver_pending(d));
    return d;
fail:
    fs_rp_deliver_free(d);
    return NULL;
}

int fs_rp_deliver_flush_ack(struct fs_rp_deliver *d, char *err, size_t errlen)
{
    if (d->confirmed <= d->acked)
        return 0;
    if (fs_dlog_ack(d->spool, d->confirmed, err, errlen) != 0)
        return -1;
    d->acked = d->confirmed;
    return 0;
}

void fs_rp_deliver_free(struct fs_rp_deliver *d)
{
    char why[256];

    if (d == NULL)
        return;
    if (d->spool != NULL && fs_rp_deliver_flush_ack(d, why, sizeof(why)) != 0)
        fs_log(FS_LOG_WARNING, "%s: %s", d->name, why);
    fs_dlog_close(d->spool);
    fs_rp_out_free(d->out);
    fs_events_writer_free(d->w);
    free(d->q);
    free(d);
}

int fs_rp_deliver_add(struct fs_rp_deliver *d, const struct fs_rp_alert *al, uint64_t wall_ms,
                      char *err, size_t errlen)
{
    void *rec;
    size_t len;
    char why[256];
    int rc;

    if (fs_rp_record_encode(d->w, al, wall_ms, &rec, &len, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s: %s", d->name, why);
        return -1;
    }
    rc = fs_dlog_append(d->spool, rec, len, NULL, why, sizeof(why));
    free(rec);
    if (rc != 0) {
        snprintf(err, errlen, "%s: spool: %s", d->name, why);
        return -1;
    }
    d->n.spooled++;
    return 0;
}

int fs_rp_deliver_sync(struct fs_rp_deliver *d, char *err, size_t errlen)
{
    char why[256];

    if (fs_dlog_sync(d->spool, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s: spool: %s", d->name, why);
        return -1;
    }
    return 0;
}

/* A record that cannot be sent, just put in flight: it is passed over,
 * confirmed in its turn without waiting, never tried again. */
static void bad_record(struct fs_rp_deliver *d, uint64_t seq, const char *why)
{
    d->q[(d->head + d->qlen - 1) % d->qcap].t = 0;
    if (d->n.bad_records++ < BAD_LOG_BURST)
        fs_log(FS_LOG_WARNING, "%s: spool record %llu skipped: %s", d->name,
               (unsigned long long)seq, why);
}

static void log_drops(struct fs_rp_deliver *d, uint64_t now)
{
    uint64_t dropped = fs_dlog_counters(d->spool)->dropped;

    if (dropped == d->drops_logged ||
        (d->last_drop_log_ms != 0 && now < d->last_drop_log_ms + DROP_LOG_EVERY_MS))
        return;
    fs_log(FS_LOG_WARNING, "%s: spool full: %llu oldest alerts dropped unsent (%llu in all)",
           d->name, (unsigned long long)(dropped - d->drops_logged),
           (unsigned long long)dropped);
    d->drops_logged = dropped;
    d->last_drop_log_ms = now ? now : 1;
}

/* Sends record `next`. Returns 1 when sent or passed over, 0 when there is
 * nothing to send now, -1 on a failed send (already rewound). */
static int send_next(struct fs_rp_deliver *d, uint64_t now)
{
    const void *rec;
    size_t len;
    struct fs_rp_alert al;
    uint64_t wall;
    char why[256];
    int rc, n;

    why[0] = '\0';
    rc = fs_dlog_read(d->spool, d->next, &rec, &len, why, sizeof(why));
    if (rc == 0) {
        uint64_t first = fs_dlog_first(d->spool);
        if (d->next >= first)
            return 0;
        /* Dropped to stay in the bound while waiting. */
        d->next = first;
        if (d->confirmed + 1 < first)
            d->confirmed = first - 1;
        return 1;
    }
    if (push(d, d->next, d->immediate ? 0 : (now ? now : 1)) != 0)
        return 0; /* out of memory for the ring: try again later */
    if (rc < 0 || fs_rp_record_decode(rec, len, &al, &wall, why, sizeof(why)) != 0) {
        bad_record(d, d->next++, why);
        return 1;
    }
    if ((n = fs_rp_format(&d->fmt, &al, wall, d->msg, sizeof(d->msg))) < 0) {
        bad_record(d, d->next++, "the formatted message does not fit");
        return 1;
    }
    if (fs_rp_out_send(d->out, d->msg, (size_t)n, now, why, sizeof(why)) != 0) {
        failed(d, "send failed", why);
        return -1;
    }
    d->n.sent++;
    if (d->next <= d->max_sent)
        d->n.resent++;
    else
        d->max_sent = d->next;
    if (d->failing) {
        fs_log(FS_LOG_INFO, "%s: delivering again (%llu alerts waiting)", d->name,
               (unsigned long long)fs_rp_deliver_pending(d));
        d->failing = false;
        d->last_err[0] = '\0';
    }
    d->next++;
    return 1;
}

size_t fs_rp_deliver_run(struct fs_rp_deliver *d, uint64_t now_ms, size_t budget)
{
    size_t sent = 0;
    char why[256];

    if (fs_rp_out_check(d->out, why, sizeof(why)) != 0)
        failed(d, "connection lost", why);
    confirm(d, now_ms);
    log_drops(d, now_ms);
    while (sent < budget && d->next < fs_dlog_next(d->spool) && d->qlen < d->max_inflight &&
           fs_rp_out_backoff_left(d->out, now_ms) == 0) {
        int rc = send_next(d, now_ms);
        if (rc <= 0)
            break;
        sent++;
    }
    confirm(d, now_ms);
    if (d->confirmed > d->acked && now_ms >= d->last_ack_ms + ACK_EVERY_MS) {
        if (fs_rp_deliver_flush_ack(d, why, sizeof(why)) != 0)
            fs_log(FS_LOG_WARNING, "%s: %s", d->name, why);
        d->last_ack_ms = now_ms;
    }
    return sent;
}

bool fs_rp_deliver_ready(const struct fs_rp_deliver *d, uint64_t now_ms)
{
    return d->next < fs_dlog_next(d->spool) && d->qlen < d->max_inflight &&
           fs_rp_out_backoff_left(d->out, now_ms) == 0;
}

uint64_t fs_rp_deliver_pending(const struct fs_rp_deliver *d)
{
    uint64_t end = fs_dlog_next(d->spool) - 1;
    return end > d->confirmed ? end - d->confirmed : 0;
}

uint64_t fs_rp_deliver_oldest(struct fs_rp_deliver *d)
{
    uint64_t seq = d->confirmed + 1;
    const void *rec;
    size_t len;
    char why[256];

    if (seq < fs_dlog_first(d->spool))
        seq = fs_dlog_first(d->spool);
    if (seq >= fs_dlog_next(d->spool) ||
        fs_dlog_read(d->spool, seq, &rec, &len, why, sizeof(why)) != 1 || len < RECORD_HEAD)
        return 0;
    return fs_get_le((const uint8_t *)rec + 30, 8);
}

const char *fs_rp_deliver_last_error(const struct fs_rp_deliver *d)
{
    return d->last_err;
}

const char *fs_rp_deliver_name(const struct fs_rp_deliver *d)
{
    return d->name;
}

const struct fs_rp_deliver_counters *fs_rp_deliver_counters(struct fs_rp_deliver *d)
{
    d->n.dropped = fs_dlog_counters(d->spool)->dropped;
    d->n.pending = fs_rp_deliver_pending(d);
    d->n.inflight = d->qlen;
    return &d->n;
}

const struct fs_rp_out_counters *fs_rp_deliver_out_counters(const struct fs_rp_deliver *d)
{
    return fs_rp_out_counters(d->out);
}
