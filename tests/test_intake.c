/*
 * test_intake.c - the reporter's event stream in journal order
 * (reporter/intake.c), against a real journal (ipc/dlog.h) served by a real
 * replay endpoint (ipc/replay.h) on loopback, the way the analyzer writes
 * it: each message stamped with its place, appended to the journal, and
 * "published" by handing the same bytes to the intake as a live message.
 *
 * Each event must be processed once, in order, whatever the live stream
 * drops, repeats or reorders; what the journal no longer holds, and gaps
 * without a replay endpoint, are counted as lost.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../reporter/intake.h"
#include "dlog.h"
#include "log.h"
#include "msg.h"
#include "proc.h"
#include "replay.h"

#define T0 1709510400000ull

static char dir[64], endpoint[64];
static struct fs_dlog *journal;
static struct fs_events_writer *writer;
static struct fs_replay_srv *srv;
static struct fs_replay_cli *cli;
static pthread_t server;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool quit;

/* What the intake handed over, in order. */
static uint64_t seen[8192];
static size_t nseen;
static int refuse_at; /* process() refuses this jseq (0: none) */

static int process(void *arg, const struct fs_msg *m)
{
    (void)arg;
    if (refuse_at != 0 && m->jseq == (uint64_t)refuse_at)
        return -1;
    cr_assert_lt(nseen, sizeof(seen) / sizeof(seen[0]));
    seen[nseen++] = m->journal_id ? m->jseq : 1000000 + m->seq;
    return 0;
}

static void *serve(void *arg)
{
    char e[256];
    (void)arg;
    while (!quit) {
        pthread_mutex_lock(&mu);
        fs_replay_srv_serve(srv, journal, e, sizeof(e));
        pthread_mutex_unlock(&mu);
        usleep(2000);
    }
    return NULL;
}

static void open_journal(uint64_t max_bytes)
{
    struct fs_dlog_opts o = { max_bytes, 0 };
    char path[128], e[256];

    snprintf(path, sizeof(path), "%s/journal", dir);
    journal = fs_dlog_open(path, &o, e, sizeof(e));
    cr_assert_not_null(journal, "%s", e);
}

static void setup(void)
{
    char e[256];

    fs_log_set_level(FS_LOG_ERROR);
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    open_journal(0);
    writer = fs_events_writer_new("analyzer@test");
    snprintf(endpoint, sizeof(endpoint), "tcp://127.0.0.1:%d",
             fs_free_port(AF_INET, SOCK_STREAM));
    srv = fs_replay_srv_new(endpoint, "analyzer@test", e, sizeof(e));
    cr_assert_not_null(srv, "%s", e);
    cli = fs_replay_cli_new(endpoint, "reporter@test", e, sizeof(e));
    cr_assert_not_null(cli, "%s", e);
    quit = false;
    cr_assert_eq(pthread_create(&server, NULL, serve, NULL), 0);
    nseen = 0;
    refuse_at = 0;
}

static void teardown(void)
{
    quit = true;
    pthread_join(server, NULL);
    fs_replay_cli_free(cli);
    fs_replay_srv_free(srv);
    fs_events_writer_free(writer);
    fs_dlog_close(journal);
    fs_rmtree(dir);
}

TestSuite(intake, .init = setup, .fini = teardown, .timeout = 60);

struct msgbuf {
    void *p;
    size_t len;
};

/* The analyzer's way: stamp, journal, then publish (here: return). */
static struct msgbuf journaled(bool stamp)
{
    struct fs_anomaly a;
    const void *buf;
    size_t len;
    char e[256];

    memset(&a, 0, sizeof(a));
    a.ts_ms = T0 + fs_dlog_next(journal) * 60000;
    a.end_ms = a.ts_ms + 60000;
    a.host.af = 4;
    a.host.b[0] = 10;
    a.host.b[3] = (uint8_t)fs_dlog_next(journal);
    a.cls = FS_AC_PORT_SCAN;
    fs_anomaly_set_id(&a);
    pthread_mutex_lock(&mu);
    if (stamp)
        fs_events_writer_journal(writer, fs_dlog_id(journal), fs_dlog_next(journal));
    cr_assert_eq(fs_msg_anomaly(writer, &a, &buf, &len), 0);
    if (stamp)
        cr_assert_eq(fs_dlog_append(journal, buf, len, NULL, e, sizeof(e)), 0, "%s", e);
    pthread_mutex_unlock(&mu);
    struct msgbuf m = { malloc(len), len };
    memcpy(m.p, buf, len);
    return m;
}

static struct fs_rp_intake *intake(bool replay, uint32_t gap_wait_ms)
{
    struct fs_rp_intake_opts o = { 0 };

    o.replay = replay ? cli : NULL;
    o.fetch_timeout_ms = 1000;
    o.idle_ms = 200;
    o.gap_wait_ms = gap_wait_ms;
    o.process = process;
    struct fs_rp_intake *in = fs_rp_intake_new(&o);
    cr_assert_not_null(in);
    return in;
}

static void live(struct fs_rp_intake *in, struct msgbuf m)
{
    cr_expect_eq(fs_rp_intake_live(in, m.p, m.len, (uint64_t)fs_now_ms()), 0);
}

/* Polls until the intake has caught up (or the time is up). */
static void catch_up(struct fs_rp_intake *in)
{
    long long end = fs_now_ms() + 5000;
    do {
        cr_assert_eq(fs_rp_intake_poll(in, (uint64_t)fs_now_ms()), 0);
        if (!fs_rp_intake_behind(in))
            return;
        usleep(10000);
    } while (fs_now_ms() < end);
    cr_assert_fail("the intake did not catch up");
}

static void expect_seen(uint64_t from, uint64_t to)
{
    cr_expect_eq(nseen, to - from + 1, "%zu processed, not %llu", nseen,
                 (unsigned long long)(to - from + 1));
    for (size_t i = 0; i < nseen && i <= to - from; i++)
        cr_expect_eq(seen[i], from + i, "event %zu is %llu, not %llu", i,
                     (unsigned long long)seen[i], (unsigned long long)(from + i));
}

Test(intake, in_order_with_duplicates_dropped)
{
    struct fs_rp_intake *in = intake(true, 0);
    struct msgbuf m[6];

    catch_up(in); /* an empty journal: nothing to fetch */
    for (int i = 0; i < 6; i++)
        m[i] = journaled(true);
    for (int i = 0; i < 6; i++)
        live(in, m[i]);
    live(in, m[2]);
    live(in, m[5]);
    expect_seen(1, 6);
    const struct fs_rp_intake_counters *n = fs_rp_intake_counters(in);
    cr_expect_eq(n->duplicates, 2);
    cr_expect_eq(n->lost, 0);
    uint64_t j, s;
    fs_rp_intake_position(in, &j, &s);
    cr_expect_eq(j, fs_dlog_id(journal));
    cr_expect_eq(s, 6);
    for (int i = 0; i < 6; i++)
        free(m[i].p);
    fs_rp_intake_free(in);
}

Test(intake, a_gap_is_fetched_from_the_journal)
{
    struct fs_rp_intake *in = intake(true, 0);
    struct msgbuf m[20];

    catch_up(in);
    for (int i = 0; i < 20; i++)
        m[i] = journaled(true);
    /* The bus lost 4..9 and reordered 15 and 14. */
    for (int i = 0; i < 3; i++)
        live(in, m[i]);
    live(in, m[9]);
    cr_expect(fs_rp_intake_behind(in));
    for (int i = 10; i < 14; i++)
        live(in, m[i]);
    live(in, m[15]);
    live(in, m[14]);
    catch_up(in);
    for (int i = 16; i < 20; i++)
        live(in, m[i]);
    expect_seen(1, 20);
    const struct fs_rp_intake_counters *n = fs_rp_intake_counters(in);
    cr_expect_eq(n->lost, 0);
    cr_expect_eq(n->gaps, 1);
    cr_expect_geq(n->replayed, 17);
    cr_expect_eq(n->processed, 20);
    for (int i = 0; i < 20; i++)
        free(m[i].p);
    fs_rp_intake_free(in);
}

Test(intake, a_start_takes_up_where_the_state_says)
{
    struct fs_rp_intake *in = intake(true, 0);

    for (int i = 0; i < 30; i++)
        free(journaled(true).p);
    fs_rp_intake_set_position(in, fs_dlog_id(journal), 12);
    catch_up(in);
    expect_seen(13, 30);

    /* Later, idle: what was published and missed entirely is found too. */
    for (int i = 0; i < 5; i++)
        free(journaled(true).p);
    usleep(250000);
    cr_assert_eq(fs_rp_intake_poll(in, (uint64_t)fs_now_ms()), 0);
    expect_seen(13, 35);
    fs_rp_intake_free(in);
}

Test(intake, a_new_journal_is_read_from_its_start)
{
    struct fs_rp_intake *in = intake(true, 0);

    for (int i = 0; i < 8; i++)
        free(journaled(true).p);
    /* The state remembers another journal, far along. */
    fs_rp_intake_set_position(in, fs_dlog_id(journal) ^ 0x5555, 500);
    catch_up(in);
    expect_seen(1, 8);
    const struct fs_rp_intake_counters *n = fs_rp_intake_counters(in);
    cr_expect_eq(n->journal_changes, 1);
    cr_expect_eq(n->lost, 0);
    uint64_t j, s;
    fs_rp_intake_position(in, &j, &s);
    cr_expect_eq(j, fs_dlog_id(journal));
    fs_rp_intake_free(in);
}

Test(intake, what_the_journal_dropped_is_counted_lost)
{
    struct fs_rp_intake *in;
    char path[128];

    /* A small journal: old segments go. */
    pthread_mutex_lock(&mu);
    fs_dlog_close(journal);
    snprintf(path, sizeof(path), "%s/journal", dir);
    fs_rmtree(path);
    open_journal(256 << 10);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < 3000; i++)
        free(journaled(true).p);
    uint64_t first = fs_dlog_first(journal);
    cr_assert_gt(first, 10, "the journal kept everything");

    in = intake(true, 0);
    fs_rp_intake_set_position(in, fs_dlog_id(journal), 5);
    catch_up(in);
    expect_seen(first, 3000);
    cr_expect_eq(fs_rp_intake_counters(in)->lost, first - 6);
    fs_rp_intake_free(in);
}

Test(intake, without_replay_gaps_are_lost_and_the_stream_goes_on)
{
    struct fs_rp_intake *in = intake(false, 0);
    struct msgbuf m[8];

    for (int i = 0; i < 8; i++)
        m[i] = journaled(true);
    live(in, m[0]);
    live(in, m[1]);
    live(in, m[5]);
    live(in, m[3]); /* late: already passed over */
    live(in, m[6]);
    cr_expect_eq(nseen, 4);
    cr_expect_eq(seen[2], 6);
    cr_expect_eq(seen[3], 7);
    cr_expect_eq(fs_rp_intake_counters(in)->lost, 3);
    cr_expect_eq(fs_rp_intake_counters(in)->duplicates, 1);
    for (int i = 0; i < 8; i++)
        free(m[i].p);
    fs_rp_intake_free(in);
}

Test(intake, unstamped_messages_go_as_they_come)
{
    struct fs_rp_intake *in = intake(true, 0);
    struct msgbuf m[5];

    catch_up(in);
    for (int i = 0; i < 5; i++)
        m[i] = journaled(false);
    live(in, m[0]);
    live(in, m[1]);
    live(in, m[4]);
    cr_expect_eq(nseen, 3);
    cr_expect_eq(seen[2], 1000000 + 4);
    const struct fs_rp_intake_counters *n = fs_rp_intake_counters(in);
    cr_expect_eq(n->unstamped, 3);
    cr_expect_eq(n->lost, 2, "envelope sequence 2 and 3 never came");
    for (int i = 0; i < 5; i++)
        free(m[i].p);
    fs_rp_intake_free(in);
}

Test(intake, a_refusal_stops_without_moving_on)
{
    struct fs_rp_intake *in = intake(true, 0);
    struct msgbuf m[4];

    catch_up(in);
    for (int i = 0; i < 4; i++)
        m[i] = journaled(true);
    refuse_at = 3;
    live(in, m[0]);
    live(in, m[1]);
    cr_expect_eq(fs_rp_intake_live(in, m[2].p, m[2].len, (uint64_t)fs_now_ms()), -1);
    cr_expect_eq(fs_rp_intake_live(in, m[3].p, m[3].len, (uint64_t)fs_now_ms()), -1);
    cr_expect_eq(fs_rp_intake_poll(in, (uint64_t)fs_now_ms()), -1);
    uint64_t j, s;
    fs_rp_intake_position(in, &j, &s);
    cr_expect_eq(s, 2, "the refused event is not counted as processed");
    for (int i = 0; i < 4; i++)
        free(m[i].p);
    fs_rp_intake_free(in);
}

Test(intake, a_silent_replay_endpoint_is_given_up_after_the_wait)
{
    struct fs_rp_intake *in;
    struct msgbuf m[6];

    /* Nobody answers there. */
    char e[256], silent[64];
    snprintf(silent, sizeof(silent), "tcp://127.0.0.1:%d", fs_free_port(AF_INET, SOCK_STREAM));
    struct fs_replay_cli *mute = fs_replay_cli_new(silent, "reporter@test", e, sizeof(e));
    cr_assert_not_null(mute, "%s", e);
    struct fs_rp_intake_opts o = { mute, 100, 200, 500, process, NULL };
    in = fs_rp_intake_new(&o);

    for (int i = 0; i < 6; i++)
        m[i] = journaled(true);
    fs_rp_intake_set_position(in, fs_dlog_id(journal), 1);
    live(in, m[3]);
    long long end = fs_now_ms() + 5000;
    while (fs_rp_intake_behind(in) && fs_now_ms() < end) {
        fs_rp_intake_poll(in, (uint64_t)fs_now_ms());
        usleep(20000);
    }
    cr_assert_not(fs_rp_intake_behind(in), "the gap was never given up");
    cr_expect_eq(fs_rp_intake_counters(in)->lost, 3, "events 2, 3 and 4");
    live(in, m[4]);
    live(in, m[5]);
    cr_expect_eq(nseen, 2);
    cr_expect_eq(seen[0], 5);
    for (int i = 0; i < 6; i++)
        free(m[i].p);
    fs_rp_intake_free(in);
    fs_replay_cli_free(mute);
}
