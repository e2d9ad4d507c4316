/*
 * test_replay.c - asking the analyzer's journal for what a reader missed.
 *
 * In process (ipc/replay.h over ipc:// in a temporary directory, a server
 * thread answering from a real journal, ipc/dlog.h): fetching from the
 * start, the middle, past the end and before a trimmed journal's first
 * record; a journal id that is not the analyzer's; the message and byte
 * bounds of a reply; a reply that comes after its fetch timed out is
 * dropped; malformed requests, truncated, flipped or of the wrong shape,
 * are counted and never answered, and malformed replies are refused.
 *
 * The real flowsentry-analyzer (build directory binary) fed port scans over
 * a flows bus: every anomaly and summary is journaled and published with
 * consecutive journal sequence numbers, a replay returns the very bytes the
 * bus carried, --finish-at-exit sends the last window's findings at
 * SIGTERM, a restart on the same journal continues its numbering under the
 * same id, and the journal holds everything when nobody subscribed.
 */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "detmix.h"
#include "dlog.h"
#include "msg.h"
#include "proc.h"
#include "replay.h"
#include "rng.h"

static char dir[128];

static void setup(void)
{
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
}

static void teardown(void)
{
    fs_rmtree(dir);
}

TestSuite(replay, .init = setup, .fini = teardown, .timeout = 60);

static char *path(const char *fmt, const char *name)
{
    static char buf[8][256];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof(buf[0]), fmt, dir, name);
    return p;
}

/* ------------------------------------------------------------------ */
/* A journal of numbered records: each starts with its sequence number
 * (8 bytes, big-endian) and is filled up to its length with a pattern. */

static struct fs_dlog *journal_open(const char *name, uint64_t max, uint64_t seg)
{
    char err[256];
    struct fs_dlog_opts o = { max, seg };
    struct fs_dlog *j = fs_dlog_open(path("%s/%s", name), &o, err, sizeof(err));
    cr_assert_not_null(j, "%s", err);
    return j;
}

static void journal_fill(struct fs_dlog *j, size_t n, size_t len)
{
    uint8_t *rec = malloc(len);
    char err[256];

    cr_assert_not_null(rec);
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = fs_dlog_next(j), got;
        for (size_t k = 0; k < len; k++)
            rec[k] = (uint8_t)(seq * 31 + k);
        for (int k = 0; k < 8; k++)
            rec[k] = (uint8_t)(seq >> (56 - 8 * k));
        cr_assert_eq(fs_dlog_append(j, rec, len, &got, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(got, seq);
    }
    free(rec);
}

static uint64_t rec_seq(const void *msg, size_t len)
{
    const uint8_t *p = msg;
    uint64_t v = 0;

    cr_assert_geq(len, 8);
    for (int k = 0; k < 8; k++)
        v = v << 8 | p[k];
    for (size_t k = 8; k < len; k++)
        cr_assert_eq(p[k], (uint8_t)(v * 31 + k), "record %llu damaged at %zu",
                     (unsigned long long)v, k);
    return v;
}

/* What a fetch delivered. */
struct got {
    uint64_t seq[FS_REPLAY_MAX];
    size_t n, bytes;
};

static void collect(void *arg, const void *msg, size_t len)
{
    struct got *g = arg;
    cr_assert_lt(g->n, FS_REPLAY_MAX);
    g->seq[g->n++] = rec_seq(msg, len);
    g->bytes += len;
}

/* ------------------------------------------------------------------ */
/* A server answering from its own thread, pausable. */

struct server {
    struct fs_replay_srv *s;
    struct fs_dlog *j;
    pthread_t thread;
    pthread_mutex_t mu;
    atomic_bool stop;
    bool paused;               /* under mu */
    char endpoint[256];
};

static void *serve_loop(void *arg)
{
    struct server *sv = arg;
    char err[256];

    while (!atomic_load(&sv->stop)) {
        pthread_mutex_lock(&sv->mu);
        if (!sv->paused && fs_replay_srv_serve(sv->s, sv->j, err, sizeof(err)) < 0)
            fprintf(stderr, "serve: %s\n", err);
        pthread_mutex_unlock(&sv->mu);
        usleep(1000);
    }
    return NULL;
}

static void server_start(struct server *sv, struct fs_dlog *j)
{
    char err[256];

    memset(sv, 0, sizeof(*sv));
    snprintf(sv->endpoint, sizeof(sv->endpoint), "ipc://%s/replay", dir);
    sv->s = fs_replay_srv_new(sv->endpoint, "analyzer@test", err, sizeof(err));
    cr_assert_not_null(sv->s, "%s", err);
    sv->j = j;
    pthread_mutex_init(&sv->mu, NULL);
    cr_assert_eq(pthread_create(&sv->thread, NULL, serve_loop, sv), 0);
}

/* Stops the thread; returns the requests the server answered. */
static uint64_t server_stop(struct server *sv)
{
    uint64_t n;

    atomic_store(&sv->stop, true);
    pthread_join(sv->thread, NULL);
    pthread_mutex_destroy(&sv->mu);
    n = fs_replay_srv_counters(sv->s)->requests;
    cr_expect_eq(fs_replay_srv_counters(sv->s)->bad_requests, 0);
    fs_replay_srv_free(sv->s);
    return n;
}

static struct fs_replay_cli *client(const struct server *sv)
{
    char err[256];
    struct fs_replay_cli *c = fs_replay_cli_new(sv->endpoint, "reporter@test", err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    return c;
}

/* Fetches and checks the reply was one; `g` is emptied first. */
static void fetch(struct fs_replay_cli *c, uint64_t id, uint64_t from, uint32_t max,
                  struct got *g, struct fs_replay_info *info)
{
    char err[256];
    g->n = g->bytes = 0;
    int rc = fs_replay_fetch(c, id, from, max, 5000, collect, g, info, err, sizeof(err));
    cr_assert_eq(rc, 1, "fetch from %llu: %d %s", (unsigned long long)from, rc,
                 rc < 0 ? err : "timeout");
    cr_assert_eq(info->n, g->n);
}

static void expect_run(const struct got *g, uint64_t first, size_t n)
{
    cr_assert_eq(g->n, n, "%zu messages, expected %zu", g->n, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(g->seq[i], first + i, "message %zu is %llu", i,
                     (unsigned long long)g->seq[i]);
}

Test(replay, fetches_from_the_start_the_middle_and_past_the_end)
{
    struct fs_dlog *j = journal_open("j", 0, 0);
    struct server sv;
    struct fs_replay_info info;
    static struct got g;

    journal_fill(j, 50, 100);
    server_start(&sv, j);
    struct fs_replay_cli *c = client(&sv);

    fetch(c, 0, 1, 10, &g, &info);
    expect_run(&g, 1, 10);
    cr_expect_eq(info.journal_id, fs_dlog_id(j));
    cr_expect_eq(info.first, 1);
    cr_expect_eq(info.next, 51);

    /* The right id, from the middle, more asked than held. */
    fetch(c, fs_dlog_id(j), 25, 100, &g, &info);
    expect_run(&g, 25, 26);

    /* Nothing newer yet: an empty reply that still says where things are. */
    fetch(c, fs_dlog_id(j), 51, 100, &g, &info);
    expect_run(&g, 51, 0);
    cr_expect_eq(info.next, 51);
    fetch(c, 0, 7, 0, &g, &info);
    expect_run(&g, 7, 0);
    cr_expect_eq(info.first, 1);

    /* Sequence 0 is never written: the oldest held comes instead. */
    fetch(c, 0, 0, 3, &g, &info);
    expect_run(&g, 1, 3);

    /* New records are served as soon as they are written. */
    pthread_mutex_lock(&sv.mu);
    journal_fill(j, 5, 100);
    pthread_mutex_unlock(&sv.mu);
    fetch(c, 0, 51, 100, &g, &info);
    expect_run(&g, 51, 5);
    cr_expect_eq(info.next, 56);

    fs_replay_cli_free(c);
    cr_expect_eq(server_stop(&sv), 6);
    fs_dlog_close(j);
}

Test(replay, a_trimmed_journal_or_another_one_restarts_from_its_first)
{
    struct fs_dlog *j = journal_open("j", 256 << 10, 64 << 10);
    struct server sv;
    struct fs_replay_info info;
    static struct got g;

    journal_fill(j, 1000, 1000);
    uint64_t first = fs_dlog_first(j);
    cr_assert_gt(first, 1, "the journal was not trimmed");
    cr_assert_eq(fs_dlog_next(j), 1001);
    server_start(&sv, j);
    struct fs_replay_cli *c = client(&sv);

    /* Asked from before what is held: from the oldest held, and `first`
     * tells the reader how much it lost. */
    fetch(c, fs_dlog_id(j), 1, 10, &g, &info);
    expect_run(&g, first, 10);
    cr_expect_eq(info.first, first);

    /* A journal id the analyzer does not have (it was wiped, or another
     * analyzer answers): everything from its first. */
    fetch(c, fs_dlog_id(j) ^ 1, 900, 5, &g, &info);
    expect_run(&g, first, 5);
    cr_expect_eq(info.journal_id, fs_dlog_id(j));

    fs_replay_cli_free(c);
    server_stop(&sv);
    fs_dlog_close(j);
}

Test(replay, replies_stay_within_their_bounds)
{
    struct fs_dlog *j = journal_open("j", 256 << 20, 0);
    struct server sv;
    struct fs_replay_info info;
    static struct got g;

    /* More small messages than one reply takes. */
    journal_fill(j, FS_REPLAY_MAX + 100, 16);
    /* Then a megabyte each: eight would pass FS_REPLAY_BYTES with the header. */
    journal_fill(j, 10, 1u << 20);
    /* And one larger than a whole reply may be. */
    journal_fill(j, 1, FS_REPLAY_BYTES + 1000);
    server_start(&sv, j);
    struct fs_replay_cli *c = client(&sv);

    fetch(c, 0, 1, UINT32_MAX, &g, &info);
    expect_run(&g, 1, FS_REPLAY_MAX);

    uint64_t big = FS_REPLAY_MAX + 101;
    fetch(c, 0, big, 100, &g, &info);
    expect_run(&g, big, 7);
    cr_expect_leq(g.bytes, FS_REPLAY_BYTES);

    /* One message always fits, whatever its size. */
    fetch(c, 0, big + 10, 100, &g, &info);
    expect_run(&g, big + 10, 1);
    cr_expect_eq(g.bytes, FS_REPLAY_BYTES + 1000);

    fs_replay_cli_free(c);
    server_stop(&sv);
    fs_dlog_close(j);
}

Test(replay, a_reply_after_its_fetch_timed_out_is_dropped)
{
    struct fs_dlog *j = journal_open("j", 0, 0);
    struct server sv;
    struct fs_replay_info info;
    static struct got g;
    char err[256];

    journal_fill(j, 20, 64);
    server_start(&sv, j);
    struct fs_replay_cli *c = client(&sv);
    fetch(c, 0, 1, 1, &g, &info); /* connected */

    pthread_mutex_lock(&sv.mu);
    sv.paused = true;
    pthread_mutex_unlock(&sv.mu);
    g.n = 0;
    err[0] = '\0';
    cr_assert_eq(fs_replay_fetch(c, 0, 1, 3, 100, collect, &g, &info, err, sizeof(err)), 0,
                 "%s", err);
    cr_expect_eq(g.n, 0);
    pthread_mutex_lock(&sv.mu);
    sv.paused = false;
    pthread_mutex_unlock(&sv.mu);

    /* The server answers both; only the second answer is this fetch's. */
    fetch(c, 0, 10, 2, &g, &info);
    expect_run(&g, 10, 2);
    cr_expect_eq(fs_replay_cli_stale(c), 1);

    fs_replay_cli_free(c);
    cr_expect_eq(server_stop(&sv), 3);
    fs_dlog_close(j);
}

Test(replay, a_fetch_with_nobody_listening_times_out)
{
    char err[256];
    struct fs_replay_info info;
    struct fs_replay_cli *c = fs_replay_cli_new(path("ipc://%s/%s", "nobody"), "reporter@test",
                                                err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    long long t0 = fs_now_ms();
    cr_expect_eq(fs_replay_fetch(c, 0, 1, 10, 150, NULL, NULL, &info, err, sizeof(err)), 0);
    cr_expect_geq(fs_now_ms() - t0, 140);
    fs_replay_cli_free(c);

    cr_expect_null(fs_replay_cli_new("ipc://x", "", err, sizeof(err)));
    cr_expect_null(fs_replay_srv_new("nonsense://x", "a@b", err, sizeof(err)));
    cr_expect_neq(err[0], '\0');
}

/* ------------------------------------------------------------------ */
/* Malformed requests, sent by a raw DEALER. */

struct kv {
    const char *key;
    int kind;          /* 'u' uint, 's' string, 'n' nil, 'm' nested map */
    uint64_t u;
    const char *s;
};

static size_t pack_request(msgpack_sbuffer *sb, const struct kv *kv, size_t n)
{
    msgpack_packer pk;

    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_str_with_body(&pk, kv[i].key, strlen(kv[i].key));
        switch (kv[i].kind) {
        case 'u': msgpack_pack_uint64(&pk, kv[i].u); break;
        case 's': msgpack_pack_str_with_body(&pk, kv[i].s, strlen(kv[i].s)); break;
        case 'n': msgpack_pack_nil(&pk); break;
        default:
            msgpack_pack_map(&pk, 1);
            msgpack_pack_str_with_body(&pk, "deep", 4);
            msgpack_pack_array(&pk, 2);
            msgpack_pack_double(&pk, 1.5);
            msgpack_pack_bin_with_body(&pk, "\x01\x02", 2);
        }
    }
    return sb->size;
}

static const struct kv good[] = {
    { "type", 's', 0, "replay" }, { "v", 'u', 1, NULL }, { "sender", 's', 0, "raw@test" },
    { "seq", 'u', 7, NULL }, { "journal", 'u', 0, NULL }, { "from", 'u', 2, NULL },
    { "max", 'u', 3, NULL },
};
#define NGOOD (sizeof(good) / sizeof(good[0]))

/* Serves until `want` requests were seen (answered or refused). */
static void serve_until(struct fs_replay_srv *s, struct fs_dlog *j, uint64_t want)
{
    const struct fs_replay_srv_counters *n = fs_replay_srv_counters(s);
    long long deadline = fs_now_ms() + 5000;
    char err[256];

    while (n->requests + n->bad_requests < want && fs_now_ms() < deadline) {
        cr_assert_geq(fs_replay_srv_serve(s, j, err, sizeof(err)), 0, "%s", err);
        usleep(1000);
    }
    cr_assert_eq(n->requests + n->bad_requests, want, "%llu answered, %llu refused",
                 (unsigned long long)n->requests, (unsigned long long)n->bad_requests);
}

/* Serves what was sent, then reads the replies on the raw DEALER `sock`:
 * every answered request, and only those, gets one. The server queues few
 * replies per client, so tests send a few requests at a time. */
static void settle(struct fs_replay_srv *s, struct fs_dlog *j, void *sock, uint64_t sent,
                   uint64_t *replies)
{
    long long deadline = fs_now_ms() + 2000;

    serve_until(s, j, sent);
    while (*replies < fs_replay_srv_counters(s)->requests && fs_now_ms() < deadline) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        int rc = zmq_msg_recv(&m, sock, ZMQ_DONTWAIT);
        if (rc >= 0 && !zmq_msg_more(&m))
            (*replies)++;
        zmq_msg_close(&m);
        if (rc < 0)
            usleep(1000);
    }
    usleep(2000);
    zmq_pollitem_t item = { sock, 0, ZMQ_POLLIN, 0 };
    cr_assert_eq(zmq_poll(&item, 1, 0), 0, "a reply to a refused request");
    cr_assert_eq(*replies, fs_replay_srv_counters(s)->requests, "%llu replies to %llu requests",
                 (unsigned long long)*replies,
                 (unsigned long long)fs_replay_srv_counters(s)->requests);
}

Test(replay, malformed_requests_are_counted_and_never_answered)
{
    struct fs_dlog *j = journal_open("j", 0, 0);
    char err[256], ep[256];
    msgpack_sbuffer sb;
    uint8_t valid[256];
    size_t vlen;
    uint64_t sent = 0, replies = 0;

    journal_fill(j, 10, 32);
    snprintf(ep, sizeof(ep), "ipc://%s/replay", dir);
    struct fs_replay_srv *s = fs_replay_srv_new(ep, "analyzer@test", err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    cr_assert_eq(zmq_connect(sock, ep), 0);
    msgpack_sbuffer_init(&sb);

    vlen = pack_request(&sb, good, NGOOD);
    cr_assert_lt(vlen, sizeof(valid));
    memcpy(valid, sb.data, vlen);

    /* The valid request is answered; so is one with keys this build does
     * not know, nested ones included. */
    cr_assert_eq(zmq_send(sock, valid, vlen, 0), (int)vlen);
    struct kv extra[NGOOD + 2];
    memcpy(extra, good, sizeof(good));
    extra[NGOOD] = (struct kv){ "future", 'm', 0, NULL };
    extra[NGOOD + 1] = (struct kv){ "note", 'n', 0, NULL };
    pack_request(&sb, extra, NGOOD + 2);
    cr_assert_eq(zmq_send(sock, sb.data, sb.size, 0), (int)sb.size);
    sent += 2;
    settle(s, j, sock, sent, &replies);
    cr_expect_eq(replies, 2);
    cr_expect_eq(fs_replay_srv_counters(s)->messages, 2 * 3);

    /* Every truncation of it. */
    for (size_t cut = 0; cut < vlen; cut++) {
        cr_assert_eq(zmq_send(sock, valid, cut, 0), (int)cut);
        sent++;
    }
    settle(s, j, sock, sent, &replies);
    cr_expect_eq(fs_replay_srv_counters(s)->bad_requests, vlen);
    cr_expect_neq(fs_replay_srv_problem(s)[0], '\0');

    /* Wrong shapes: each refused for its own reason. */
    struct { size_t idx; struct kv with; const char *why; } bad[] = {
        { 0, { "type", 's', 0, "flows" }, "type" },
        { 1, { "v", 'u', 2, NULL }, "schema version 2" },
        { 2, { "sender", 's', 0, "" }, "sender" },
        { 3, { "seq", 's', 0, "7" }, "\"seq\" is not an unsigned integer" },
        { 5, { "from", 'n', 0, NULL }, "\"from\" is not an unsigned integer" },
        { 6, { "limit", 'u', 3, NULL }, "missing \"max\"" },
        { 4, { "from", 'u', 1, NULL }, "duplicate key \"from\"" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kv kv[NGOOD];
        memcpy(kv, good, sizeof(good));
        kv[bad[i].idx] = bad[i].with;
        pack_request(&sb, kv, NGOOD);
        cr_assert_eq(zmq_send(sock, sb.data, sb.size, 0), (int)sb.size);
        sent++;
        settle(s, j, sock, sent, &replies);
        cr_expect(strstr(fs_replay_srv_problem(s), bad[i].why) != NULL, "%zu: %s", i,
                  fs_replay_srv_problem(s));
    }
    /* Not a map, trailing bytes, a count no bytes back up, two frames. */
    const char *raw[] = { "\x93\x01\x02\x03", "\xc1", "\xdf\xff\xff\xff\xff" };
    for (size_t i = 0; i < 3; i++) {
        cr_assert_geq(zmq_send(sock, raw[i], strlen(raw[i]), 0), 0);
        sent++;
    }
    uint8_t trailing[300];
    memcpy(trailing, valid, vlen);
    trailing[vlen] = 0x00;
    cr_assert_geq(zmq_send(sock, trailing, vlen + 1, 0), 0);
    cr_assert_geq(zmq_send(sock, valid, vlen, ZMQ_SNDMORE), 0);
    cr_assert_geq(zmq_send(sock, valid, vlen, 0), 0);
    sent += 2;
    settle(s, j, sock, sent, &replies);
    cr_expect_eq(replies, 2);
    cr_expect(strstr(fs_replay_srv_problem(s), "more than one frame") != NULL, "%s",
              fs_replay_srv_problem(s));

    /* Random byte changes: answered or refused, never anything else. */
    uint64_t rng = 4;
    for (int i = 0; i < 500; i++) {
        uint8_t m[256];
        memcpy(m, valid, vlen);
        for (int k = 0; k < 1 + i % 3; k++)
            m[trng_next(&rng) % vlen] = (uint8_t)trng_next(&rng);
        cr_assert_eq(zmq_send(sock, m, vlen, 0), (int)vlen);
        if (++sent % 4 == 0)
            settle(s, j, sock, sent, &replies);
    }
    settle(s, j, sock, sent, &replies);
    cr_expect_gt(fs_replay_srv_counters(s)->bad_requests, 400);

    msgpack_sbuffer_destroy(&sb);
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_close(sock);
    zmq_ctx_term(ctx);
    fs_replay_srv_free(s);
    fs_dlog_close(j);
}

/* ------------------------------------------------------------------ */
/* Malformed replies, from a raw ROUTER. */

struct fake {
    void *sock;
    pthread_t thread;
    int mode;          /* 0: garbage header, 1: n says 3, 1 message follows */
};

static void *fake_serve(void *arg)
{
    struct fake *f = arg;
    zmq_msg_t id, req;
    msgpack_sbuffer sb;
    msgpack_packer pk;

    zmq_msg_init(&id);
    zmq_msg_init(&req);
    if (zmq_msg_recv(&id, f->sock, 0) < 0 || zmq_msg_recv(&req, f->sock, 0) < 0)
        return NULL;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    const char *keys[] = { "type", "v", "sender", "seq", "re", "journal", "first", "next", "n" };
    msgpack_pack_map(&pk, 9);
    for (int i = 0; i < 9; i++) {
        msgpack_pack_str_with_body(&pk, keys[i], strlen(keys[i]));
        if (i == 0)
            msgpack_pack_str_with_body(&pk, "replayed", 8);
        else if (i == 2)
            msgpack_pack_str_with_body(&pk, "fake@test", 9);
        else
            msgpack_pack_uint64(&pk, i == 1 ? 1 : i == 8 ? 3 : 0);
    }
    zmq_msg_send(&id, f->sock, ZMQ_SNDMORE);
    if (f->mode == 0) {
        zmq_send(f->sock, sb.data, sb.size / 2, 0);
    } else {
        zmq_send(f->sock, sb.data, sb.size, ZMQ_SNDMORE);
        zmq_send(f->sock, "\x00\x00\x00\x00\x00\x00\x00\x01", 8, 0);
    }
    msgpack_sbuffer_destroy(&sb);
    zmq_msg_close(&id);
    zmq_msg_close(&req);
    return NULL;
}

Test(replay, malformed_replies_are_refused)
{
    char ep[256], err[256];
    struct fs_replay_info info;
    static struct got g;

    snprintf(ep, sizeof(ep), "ipc://%s/fake", dir);
    void *ctx = zmq_ctx_new();
    for (int mode = 0; mode < 2; mode++) {
        struct fake f = { zmq_socket(ctx, ZMQ_ROUTER), 0, mode };
        cr_assert_eq(zmq_bind(f.sock, ep), 0);
        struct fs_replay_cli *c = fs_replay_cli_new(ep, "reporter@test", err, sizeof(err));
        cr_assert_not_null(c, "%s", err);
        cr_assert_eq(pthread_create(&f.thread, NULL, fake_serve, &f), 0);
        g.n = 0;
        err[0] = '\0';
        cr_expect_eq(fs_replay_fetch(c, 0, 1, 10, 5000, collect, &g, &info, err, sizeof(err)),
                     -1);
        cr_expect(strstr(err, "malformed replay reply") != NULL, "%s", err);
        cr_expect_eq(g.n, 0, "nothing of a malformed reply is delivered");
        pthread_join(f.thread, NULL);
        fs_replay_cli_free(c);
        int zero = 0;
        zmq_setsockopt(f.sock, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_close(f.sock);
    }
    zmq_ctx_term(ctx);
}

/* ------------------------------------------------------------------ */
/* The real analyzer. */

#define SCANS 4
#define TARGET "10.0.0.41"

struct live {
    char flows[256], events[256], replay[256], journal[256];
    struct fs_bus *pub, *sub;
    struct fs_batch *batch;
    struct detrun flows_of;   /* only its flow queue is used, to build traffic */
    uint64_t win;             /* next window to send, from DETRUN_T0 */
    pid_t pid;
    /* What the subscriber received, by journal sequence. */
    struct { uint8_t *buf; size_t len; } seen[512];
    uint64_t journal_id, last_jseq, nseen;
    unsigned scans_seen;      /* port_scan anomalies received */
};

static void live_init(struct live *l, const char *journal)
{
    char err[256];

    memset(l, 0, sizeof(*l));
    snprintf(l->flows, sizeof(l->flows), "ipc://%s/flows", dir);
    snprintf(l->events, sizeof(l->events), "ipc://%s/events", dir);
    snprintf(l->replay, sizeof(l->replay), "ipc://%s/replay", dir);
    snprintf(l->journal, sizeof(l->journal), "%s/%s", dir, journal);
    l->pub = fs_bus_pub(l->flows, 0, err, sizeof(err));
    cr_assert_not_null(l->pub, "%s", err);
    l->batch = fs_batch_new("test@replay");
    cr_assert_not_null(l->batch);
    detrun_init(&l->flows_of, NULL);
}

static void live_free(struct live *l)
{
    for (size_t i = 0; i < sizeof(l->seen) / sizeof(l->seen[0]); i++)
        free(l->seen[i].buf);
    fs_bus_close(l->sub, 0);
    fs_bus_close(l->pub, 0);
    fs_batch_free(l->batch);
    detrun_free(&l->flows_of);
}

static void start(struct live *l, bool publish)
{
    char *argv[40];
    int n = 0;
    char *fixed[] = { FS_BINARY_DIR "/flowsentry-analyzer", "--home-net", "10.0.0.0/8",
                      "--window", "60", "--lateness", "0", "--warmup", "0",
                      "--summary-interval", "60", "--finish-at-exit", "--quiet",
                      "--subscribe", l->flows, "--journal", l->journal,
                      "--replay", l->replay };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        argv[n++] = fixed[i];
    if (publish) {
        argv[n++] = "--publish";
        argv[n++] = l->events;
    }
    argv[n] = NULL;
    l->pid = fs_proc_spawn(argv, NULL, NULL);
    cr_assert_gt(l->pid, 0);
}

static void stop(struct live *l)
{
    int status;
    cr_assert_eq(fs_proc_stop(l->pid, SIGTERM, 15000, &status), 0, "the analyzer did not stop");
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    l->pid = 0;
}

/* Sends window l->win: one ordinary connection, and a port scan of TARGET
 * from 10.0.1.`scanner` when it is not 0. */
static void send_window(struct live *l, unsigned scanner)
{
    struct detrun *r = &l->flows_of;
    uint64_t start_ms = DETRUN_T0 + l->win++ * DETRUN_MIN;
    const void *buf;
    size_t len;

    r->nflows = 0;
    detmix_tcp(r, "10.0.0.1", 50000, "198.51.100.1", 443, start_ms + 1000, 500, 300, 5000);
    for (unsigned p = 1; scanner && p <= 25; p++)
        detmix_refused(r, detmix_ip("10.0.1.%u", scanner), 45000, TARGET, (uint16_t)p,
                       start_ms + 2000 + p * 1000);
    fs_batch_reset(l->batch);
    for (size_t i = 0; i < r->nflows; i++)
        cr_assert_eq(fs_batch_add(l->batch, &r->flows[i]), 0);
    cr_assert_eq(fs_batch_finish(l->batch, &buf, &len), 0);
    cr_assert_eq(fs_bus_send(l->pub, "flows", buf, len), 0);
    r->nflows = 0;
}

/* Takes one events-bus message: checks its journal stamp continues the
 * ones before, keeps its bytes. Returns its decoded class (-1: summary). */
static int take(struct live *l, const struct fs_bus_msg *bm)
{
    struct fs_msg m;
    char err[256];
    int cls = -1;

    cr_assert_eq(fs_msg_decode(bm->data, bm->len, &m, err, sizeof(err)), 0, "%s", err);
    cr_assert_neq(m.jseq, 0, "a %s message without a journal stamp", bm->topic);
    if (l->nseen == 0) {
        l->journal_id = m.journal_id;
    } else {
        cr_expect_eq(m.journal_id, l->journal_id);
        cr_expect_eq(m.jseq, l->last_jseq + 1, "journal sequence %llu after %llu",
                     (unsigned long long)m.jseq, (unsigned long long)l->last_jseq);
    }
    l->last_jseq = m.jseq;
    l->nseen++;
    cr_assert_lt(m.jseq, sizeof(l->seen) / sizeof(l->seen[0]));
    free(l->seen[m.jseq].buf);
    l->seen[m.jseq].buf = malloc(bm->len);
    memcpy(l->seen[m.jseq].buf, bm->data, bm->len);
    l->seen[m.jseq].len = bm->len;
    if (m.type == FS_MSG_ANOMALY) {
        cls = (int)m.anomaly->cls;
        if (m.anomaly->cls == FS_AC_PORT_SCAN)
            l->scans_seen++;
    }
    fs_msg_free(&m);
    return cls;
}

/* Receives events until `scans` port scans were seen in all, or 10 s. */
static void receive_scans(struct live *l, unsigned scans)
{
    long long deadline = fs_now_ms() + 10000;
    struct fs_bus_msg bm;

    while (l->scans_seen < scans && fs_now_ms() < deadline)
        if (fs_bus_recv(l->sub, 100, &bm) == 1)
            take(l, &bm);
    cr_assert_eq(l->scans_seen, scans, "%u port scans received, %u expected", l->scans_seen,
                 scans);
}

/* Takes whatever the events bus still brings within `quiet_ms` of silence. */
static void drain_events(struct live *l, int quiet_ms)
{
    struct fs_bus_msg bm;

    while (fs_bus_recv(l->sub, quiet_ms, &bm) == 1)
        take(l, &bm);
}

/* Sends quiet windows until the analyzer shows it gets them: a message on
 * the events bus (subscriber given) or a journaled one (replay). */
static void sync_up(struct live *l, struct fs_replay_cli *c)
{
    struct fs_bus_msg bm;
    char err[256];

    for (int i = 0; i < 300; i++) {
        send_window(l, 0);
        if (l->sub != NULL && fs_bus_recv(l->sub, 50, &bm) == 1) {
            take(l, &bm);
            return;
        }
        if (l->sub == NULL) {
            struct fs_replay_info info;
            int rc = fs_replay_fetch(c, 0, 1, 0, 50, NULL, NULL, &info, err, sizeof(err));
            cr_assert_geq(rc, 0, "%s", err);
            if (rc == 1 && info.next > 1)
                return;
        }
    }
    cr_assert_fail("the analyzer never answered");
}

struct fetched {
    struct fs_msg m[512];
    uint8_t *buf[512];
    size_t len[512], n;
};

static void keep(void *arg, const void *msg, size_t len)
{
    struct fetched *f = arg;
    char err[256];
    cr_assert_lt(f->n, 512);
    cr_assert_eq(fs_msg_decode(msg, len, &f->m[f->n], err, sizeof(err)), 0, "%s", err);
    f->buf[f->n] = malloc(len);
    memcpy(f->buf[f->n], msg, len);
    f->len[f->n++] = len;
}

static void fetched_free(struct fetched *f)
{
    for (size_t i = 0; i < f->n; i++) {
        fs_msg_free(&f->m[i]);
        free(f->buf[i]);
    }
    f->n = 0;
}

static unsigned count_scans(const struct fetched *f)
{
    unsigned n = 0;
    for (size_t i = 0; i < f->n; i++)
        n += f->m[i].type == FS_MSG_ANOMALY && f->m[i].anomaly->cls == FS_AC_PORT_SCAN;
    return n;
}

Test(replay, analyzer_journals_publishes_replays_and_continues_after_a_restart)
{
    static struct live l;
    static struct fetched f;
    struct fs_replay_info info;
    char err[256];

    live_init(&l, "journal");
    start(&l, true);
    const char *eps[] = { l.events };
    l.sub = fs_bus_sub(eps, 1, NULL, 0, err, sizeof(err));
    cr_assert_not_null(l.sub, "%s", err);
    struct fs_replay_cli *c = fs_replay_cli_new(l.replay, "reporter@test", err, sizeof(err));
    cr_assert_not_null(c, "%s", err);

    sync_up(&l, c);
    for (unsigned s = 1; s <= SCANS; s++)
        send_window(&l, s);
    /* Each scan's window closes when the next window's flows arrive: all
     * but the last are out, and the last batch was taken in. */
    receive_scans(&l, SCANS - 1);
    drain_events(&l, 300);

    /* The journal from its start: the messages the subscriber missed while
     * connecting, then the very bytes it received. */
    cr_assert_eq(fs_replay_fetch(c, 0, 1, 1000, 5000, keep, &f, &info, err, sizeof(err)), 1,
                 "%s", err);
    cr_expect_eq(info.journal_id, l.journal_id);
    cr_expect_eq(info.first, 1);
    cr_expect_eq(info.next, l.last_jseq + 1);
    cr_assert_eq(f.n, l.last_jseq);
    for (size_t i = 0; i < f.n; i++) {
        cr_expect_eq(f.m[i].jseq, i + 1);
        cr_expect_eq(f.m[i].journal_id, l.journal_id);
        if (l.seen[i + 1].buf != NULL) {
            cr_expect_eq(f.len[i], l.seen[i + 1].len);
            cr_expect_eq(memcmp(f.buf[i], l.seen[i + 1].buf, f.len[i]), 0,
                         "message %zu differs from what was published", i + 1);
        }
    }
    cr_expect_eq(count_scans(&f), SCANS - 1);
    fetched_free(&f);

    /* --finish-at-exit: the last scan's window is closed at SIGTERM, and its
     * findings are journaled and published before the analyzer exits. */
    stop(&l);
    receive_scans(&l, SCANS);
    drain_events(&l, 300);
    uint64_t next = l.last_jseq + 1;
    struct fs_dlog *j = journal_open("journal", 0, 0);
    cr_expect_eq(fs_dlog_id(j), l.journal_id);
    cr_expect_eq(fs_dlog_next(j), next);
    const void *rec;
    size_t len;
    cr_assert_eq(fs_dlog_read(j, next - 1, &rec, &len, err, sizeof(err)), 1, "%s", err);
    cr_expect_eq(len, l.seen[next - 1].len);
    cr_expect_eq(memcmp(rec, l.seen[next - 1].buf, len), 0);
    fs_dlog_close(j);

    /* A restart on the same journal continues its numbering, same id. */
    start(&l, true);
    l.nseen = 0;
    sync_up(&l, c);
    cr_expect_eq(l.journal_id, info.journal_id);
    cr_expect_geq(l.last_jseq, next);
    cr_assert_eq(fs_replay_fetch(c, info.journal_id, next, 1, 5000, keep, &f, &info, err,
                                 sizeof(err)), 1, "%s", err);
    cr_assert_eq(f.n, 1);
    cr_expect_eq(f.m[0].jseq, next);
    cr_expect_eq(f.m[0].journal_id, l.journal_id);
    cr_expect_eq(info.first, 1);
    fetched_free(&f);
    stop(&l);

    fs_replay_cli_free(c);
    live_free(&l);
}

Test(replay, the_journal_holds_everything_when_nobody_subscribed)
{
    static struct live l;
    static struct fetched f;
    char err[256];

    live_init(&l, "journal");
    start(&l, false);
    struct fs_replay_cli *c = fs_replay_cli_new(l.replay, "reporter@test", err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    sync_up(&l, c);
    for (unsigned s = 1; s <= SCANS; s++)
        send_window(&l, s);
    /* Until the second last scan is journaled: the last batch was taken in. */
    long long deadline = fs_now_ms() + 10000;
    while (count_scans(&f) < SCANS - 1 && fs_now_ms() < deadline) {
        struct fs_replay_info info;
        fetched_free(&f);
        cr_assert_geq(fs_replay_fetch(c, 0, 1, 1000, 1000, keep, &f, &info, err, sizeof(err)),
                      0, "%s", err);
        usleep(20000);
    }
    cr_assert_eq(count_scans(&f), SCANS - 1);
    fetched_free(&f);
    stop(&l);
    fs_replay_cli_free(c);

    /* What the analyzer left on disk, read as the next analyzer would. */
    struct fs_dlog *j = journal_open("journal", 0, 0);
    unsigned scans = 0;
    cr_assert_gt(fs_dlog_next(j), 2 * SCANS);
    for (uint64_t seq = fs_dlog_first(j); seq < fs_dlog_next(j); seq++) {
        const void *rec;
        size_t len;
        struct fs_msg m;
        cr_assert_eq(fs_dlog_read(j, seq, &rec, &len, err, sizeof(err)), 1, "%s", err);
        cr_assert_eq(fs_msg_decode(rec, len, &m, err, sizeof(err)), 0, "%s", err);
        cr_expect_eq(m.jseq, seq);
        cr_expect_eq(m.journal_id, fs_dlog_id(j));
        scans += m.type == FS_MSG_ANOMALY && m.anomaly->cls == FS_AC_PORT_SCAN;
        fs_msg_free(&m);
    }
    cr_expect_eq(scans, SCANS, "the last scan's finding is journaled at exit too");
    fs_dlog_close(j);
    live_free(&l);
}

Test(replay, replay_without_journal_is_refused)
{
    char *argv[] = { FS_BINARY_DIR "/flowsentry-analyzer", "--subscribe", "ipc:///tmp/x",
                     "--replay", "ipc:///tmp/y", NULL };
    struct fs_proc_output o;

    cr_assert_eq(fs_proc_run(argv, 10000, &o), 0);
    cr_expect(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 2, "status %d", o.status);
    cr_expect(strstr(o.err, "replay needs journal") != NULL, "%s", o.err);
    fs_proc_output_free(&o);
}
