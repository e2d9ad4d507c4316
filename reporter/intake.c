/*
 * intake.c - the event stream in journal order (intake.h).
 *
 * Live and replayed messages meet in one place, accept(), which knows only
 * the journal id and the last sequence processed; everything else decides
 * where the next messages come from: the bus while in order, replay replies
 * while behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake.h"
#include "log.h"

#define FETCHES_PER_POLL 8
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 10000

struct fs_rp_intake {
    struct fs_rp_intake_opts o;
    struct fs_gap *gap;             /* envelope sequences of unstamped messages */
    uint64_t journal, last;         /* position: journal id, last jseq processed */
    bool behind;
    bool failed;                    /* `process` refused: nothing more */
    uint64_t behind_since;          /* first live message deferred while behind (0: none) */
    uint64_t latest_journal, latest; /* newest stamp seen live */
    uint64_t last_live_ms, last_fetch_ms, next_fetch_ms;
    unsigned fetch_fails;           /* in a row */
    struct fs_rp_intake_counters n;
};

/* Log lines about a kind of trouble: the first few, then one in 1000. */
static bool worth_logging(uint64_t count)
{
    return count <= 5 || count % 1000 == 0;
}

struct fs_rp_intake *fs_rp_intake_new(const struct fs_rp_intake_opts *o)
{
    struct fs_rp_intake *in = calloc(1, sizeof(*in));

    if (in == NULL)
        return NULL;
    in->o = *o;
    if (in->o.fetch_timeout_ms == 0)
        in->o.fetch_timeout_ms = 2000;
    if (in->o.idle_ms == 0)
        in->o.idle_ms = 3000;
    if (in->o.gap_wait_ms == 0)
        in->o.gap_wait_ms = 30000;
    in->gap = fs_gap_new(0);
    if (in->gap == NULL) {
        free(in);
        return NULL;
    }
    /* Catch up with the journal before anything else. */
    in->behind = o->replay != NULL;
    return in;
}

void fs_rp_intake_free(struct fs_rp_intake *in)
{
    if (in == NULL)
        return;
    fs_gap_free(in->gap);
    free(in);
}

void fs_rp_intake_set_position(struct fs_rp_intake *in, uint64_t journal_id, uint64_t jseq)
{
    in->journal = journal_id;
    in->last = jseq;
}

void fs_rp_intake_position(const struct fs_rp_intake *in, uint64_t *journal_id, uint64_t *jseq)
{
    *journal_id = in->journal;
    *jseq = in->last;
}

bool fs_rp_intake_behind(const struct fs_rp_intake *in)
{
    return in->behind;
}

const struct fs_rp_intake_counters *fs_rp_intake_counters(const struct fs_rp_intake *in)
{
    return &in->n;
}

static int process(struct fs_rp_intake *in, const struct fs_msg *m)
{
    if (in->o.process(in->o.arg, m) != 0) {
        in->failed = true;
        return -1;
    }
    in->n.processed++;
    return 0;
}

/* Takes up journal `id` at sequence `jseq` (the first message seen of it). */
static void switch_journal(struct fs_rp_intake *in, uint64_t id, uint64_t jseq)
{
    if (jseq == 0)
        jseq = 1;
    if (in->journal != 0) {
        in->n.journal_changes++;
        if (jseq > 1)
            in->n.lost += jseq - 1;
        fs_log(FS_LOG_WARNING, "the analyzer's journal changed from %016llx to %016llx "
               "(a new journal): reading it from sequence %llu%s",
               (unsigned long long)in->journal, (unsigned long long)id,
               (unsigned long long)jseq, jseq > 1 ? ", the ones before are lost" : "");
    } else {
        fs_log(FS_LOG_INFO, "reading the analyzer's journal %016llx from sequence %llu",
               (unsigned long long)id, (unsigned long long)jseq);
    }
    in->journal = id;
    in->last = jseq - 1;
}

/* A stamped message that can be taken now (a replayed one, or a live one
 * while in order): processes it when it is the next one. */
static int accept(struct fs_rp_intake *in, const struct fs_msg *m)
{
    if (m->journal_id != in->journal)
        switch_journal(in, m->journal_id, m->jseq);
    if (m->jseq <= in->last) {
        in->n.duplicates++;
        return 0;
    }
    if (m->jseq > in->last + 1) {
        uint64_t missing = m->jseq - in->last - 1;
        in->n.lost += missing;
        fs_log(FS_LOG_WARNING, "journal %016llx: events %llu to %llu are lost (%s)",
               (unsigned long long)in->journal, (unsigned long long)(in->last + 1),
               (unsigned long long)(m->jseq - 1),
               in->o.replay ? "the journal no longer holds them" : "no replay endpoint");
    }
    if (process(in, m) != 0)
        return -1;
    in->last = m->jseq;
    return 0;
}

static void unstamped(struct fs_rp_intake *in, const struct fs_msg *m)
{
    uint64_t lost = 0;

    if (fs_gap_check(in->gap, m->sender, m->type, m->seq, &lost) == FS_GAP_LOST) {
        in->n.lost += lost;
        if (worth_logging(in->n.gaps + 1))
            fs_log(FS_LOG_WARNING, "%s: %llu %s messages lost on the bus (the analyzer has no "
                   "journal to fetch them from)", m->sender, (unsigned long long)lost,
                   fs_msg_type_name(m->type));
        in->n.gaps++;
    }
    in->n.unstamped++;
}

static int decode(struct fs_rp_intake *in, const void *data, size_t len, struct fs_msg *m,
                  const char *from)
{
    char why[256];

    if (fs_msg_decode(data, len, m, why, sizeof(why)) != 0) {
        if (worth_logging(++in->n.malformed))
            fs_log(FS_LOG_WARNING, "%s message refused: %s", from, why);
        return -1;
    }
    if (m->type != FS_MSG_ANOMALY && m->type != FS_MSG_SUMMARY) {
        fs_msg_free(m);
        return -1;
    }
    return 0;
}

int fs_rp_intake_live(struct fs_rp_intake *in, const void *data, size_t len, uint64_t now_ms)
{
    struct fs_msg m;
    int rc = 0;

    if (in->failed)
        return -1;
    in->last_live_ms = now_ms;
    if (decode(in, data, len, &m, "events bus") != 0)
        return 0;
    in->n.live++;
    if (m.journal_id == 0) {
        unstamped(in, &m);
        rc = process(in, &m);
        goto out;
    }
    in->latest_journal = m.journal_id;
    in->latest = m.jseq;
    if (in->o.replay == NULL) {
        rc = accept(in, &m);
        goto out;
    }
    if (!in->behind && m.journal_id == in->journal && m.jseq <= in->last + 1) {
        rc = accept(in, &m);
        goto out;
    }
    /* A gap or another journal: the journal has this message and the ones
     * missing before it. */
    if (in->behind_since == 0)
        in->behind_since = now_ms ? now_ms : 1;
    if (!in->behind) {
        in->n.gaps++;
        in->behind = true;
        in->next_fetch_ms = now_ms;
        fs_log(FS_LOG_DEBUG, "gap before journal %016llx sequence %llu: fetching from %llu",
               (unsigned long long)m.journal_id, (unsigned long long)m.jseq,
               (unsigned long long)(in->last + 1));
    }
    in->n.deferred++;
out:
    fs_msg_free(&m);
    return rc;
}

static void on_replayed(void *arg, const void *msg, size_t len)
{
    struct fs_rp_intake *in = arg;
    struct fs_msg m;

    if (in->failed || decode(in, msg, len, &m, "replayed") != 0)
        return;
    in->n.replayed++;
    if (m.journal_id == 0) {
        if (worth_logging(++in->n.malformed))
            fs_log(FS_LOG_WARNING, "replayed message without a journal stamp ignored");
    } else {
        accept(in, &m);
    }
    fs_msg_free(&m);
}

/* After a failed fetch: when to try again, and whether to give a gap up. */
static void fetch_failed(struct fs_rp_intake *in, const char *why, uint64_t now)
{
    uint64_t wait = RETRY_MIN_MS;

    in->n.fetch_failures++;
    if (in->fetch_fails++ == 0)
        fs_log(FS_LOG_WARNING, "replay: %s (retrying)", why);
    for (unsigned i = 1; i < in->fetch_fails && wait < RETRY_MAX_MS; i++)
        wait *= 2;
    in->next_fetch_ms = now + (wait < RETRY_MAX_MS ? wait : RETRY_MAX_MS);
    /* A gap seen live that nobody answers for: take the live stream up again. */
    if (in->behind && in->behind_since != 0 && now >= in->behind_since + in->o.gap_wait_ms &&
        in->latest_journal != 0) {
        uint64_t lost = in->latest_journal != in->journal ? in->latest
                        : in->latest > in->last          ? in->latest - in->last
                                                         : 0;
        in->n.lost += lost;
        fs_log(FS_LOG_ERROR, "replay: no answer for %.1f s: %llu events up to journal %016llx "
               "sequence %llu are lost; taking the live stream up again",
               (now - in->behind_since) / 1000.0, (unsigned long long)lost,
               (unsigned long long)in->latest_journal, (unsigned long long)in->latest);
        in->journal = in->latest_journal;
        in->last = in->latest;
        in->behind = false;
        in->behind_since = 0;
    }
}

/* What a reply says beyond its messages: another (empty) journal, or one
 * that ends before where we are. Returns true when caught up. */
static bool reply_info(struct fs_rp_intake *in, const struct fs_replay_info *info)
{
    uint64_t end = info->next > 0 ? info->next - 1 : 0;

    if (info->journal_id != in->journal && info->journal_id != 0)
        switch_journal(in, info->journal_id, info->first > info->next ? info->next : info->first);
    if (end < in->last) {
        fs_log(FS_LOG_WARNING, "journal %016llx ends at sequence %llu but %llu were processed "
               "(restored from a backup?): going on from its end",
               (unsigned long long)in->journal, (unsigned long long)end,
               (unsigned long long)in->last);
        in->last = end;
    }
    in->n.backlog = end - in->last;
    return in->n.backlog == 0;
}

static int catch_up(struct fs_rp_intake *in, uint64_t now)
{
    struct fs_replay_info info;
    char why[256];

    for (int i = 0; i < FETCHES_PER_POLL; i++) {
        uint64_t before = in->last;
        int rc;

        memset(&info, 0, sizeof(info));
        in->n.fetches++;
        in->last_fetch_ms = now;
        rc = fs_replay_fetch(in->o.replay, in->journal, in->last + 1, FS_REPLAY_MAX,
                             (int)in->o.fetch_timeout_ms, on_replayed, in, &info, why,
                             sizeof(why));
        if (in->failed)
            return -1;
        if (rc <= 0) {
            if (rc == 0)
                snprintf(why, sizeof(why), "no answer within %u ms", in->o.fetch_timeout_ms);
            fetch_failed(in, why, now);
            return 0;
        }
        if (in->fetch_fails > 0)
            fs_log(FS_LOG_INFO, "replay: answering again");
        in->fetch_fails = 0;
        if (reply_info(in, &info)) {
            in->behind = false;
            in->behind_since = 0;
            return 0;
        }
        if (in->last == before) {
            /* Nothing came although the journal holds more: ask again later. */
            in->next_fetch_ms = now + RETRY_MIN_MS;
            return 0;
        }
    }
    /* Still behind: the next poll goes on at once. */
    in->next_fetch_ms = now;
    return 0;
}

int fs_rp_intake_poll(struct fs_rp_intake *in, uint64_t now_ms)
{
    uint64_t quiet_since;

    if (in->failed)
        return -1;
    if (in->o.replay == NULL)
        return 0;
    quiet_since = in->last_live_ms > in->last_fetch_ms ? in->last_live_ms : in->last_fetch_ms;
    if (in->behind ? now_ms < in->next_fetch_ms
                   : (in->fetch_fails > 0 ? now_ms < in->next_fetch_ms
                                          : now_ms < quiet_since + in->o.idle_ms))
        return 0;
    return catch_up(in, now_ms);
}
