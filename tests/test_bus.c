/*
 * test_bus.c - PUB/SUB over real ZeroMQ sockets: topic filtering, exact
 * delivery of what was sent, bind/connect direction prefixes, directory
 * creation for ipc:// endpoints, timeouts, malformed multipart messages and
 * error reporting.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <zmq.h>

#include "bus.h"
#include "flowfix.h"
#include "msg.h"
#include "proc.h"

static char dir[128];

static void setup(void)
{
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
}

static void teardown(void)
{
    fs_rmtree(dir);
}

TestSuite(bus, .init = setup, .fini = teardown, .timeout = 30);

static const char warmup[] = "warmup";

/* ZeroMQ subscriptions take a moment to reach the publisher (slow joiner):
 * publishes a warm-up message until one arrives. `send` publishes once. */
static void join(struct fs_bus *sub, void (*send)(void *), void *arg)
{
    struct fs_bus_msg m;
    for (int tries = 0; tries < 200; tries++) {
        send(arg);
        int rc = fs_bus_recv(sub, 20, &m);
        cr_assert_geq(rc, 0, "%s", fs_bus_error(sub));
        if (rc == 1) {
            cr_assert_eq(m.len, sizeof(warmup));
            return;
        }
    }
    cr_assert_fail("subscriber never joined");
}

static void send_warmup(void *pub)
{
    cr_assert_eq(fs_bus_send(pub, "flows", warmup, sizeof(warmup)), 0,
                 "%s", fs_bus_error(pub));
}

/* Receives the next message that is not a late warm-up. */
static int recv_real(struct fs_bus *sub, int timeout_ms, struct fs_bus_msg *m)
{
    for (;;) {
        int rc = fs_bus_recv(sub, timeout_ms, m);
        if (rc != 1 || m->len != sizeof(warmup) || memcmp(m->data, warmup, m->len) != 0)
            return rc;
    }
}

Test(bus, delivers_exactly_what_was_sent)
{
    char ep[256], err[256] = "";
    /* Nested directories that do not exist yet. */
    snprintf(ep, sizeof(ep), "ipc://%s/run/flowsentry/flows.sock", dir);

    struct fs_bus *pub = fs_bus_pub(ep, 0, err, sizeof(err));
    cr_assert_not_null(pub, "%s", err);
    char sock_path[256];
    snprintf(sock_path, sizeof(sock_path), "%s/run/flowsentry/flows.sock", dir);
    struct stat st;
    cr_expect_eq(stat(sock_path, &st), 0);
    cr_expect(S_ISSOCK(st.st_mode));

    const char *eps[] = {ep};
    struct fs_bus *sub = fs_bus_sub(eps, 1, "flows", 0, err, sizeof(err));
    cr_assert_not_null(sub, "%s", err);
    join(sub, send_warmup, pub);

    /* Five flow batches, with a stats message between each: the subscriber
     * asked for flows only. */
    struct fs_batch *b = fs_batch_new("test@bus");
    struct fs_stats *s = fs_stats_new("test@bus");
    struct fs_flow f;
    const void *buf;
    size_t len;
    uint8_t sent[5][4096];
    size_t sent_len[5];
    for (int i = 0; i < 5; i++) {
        fs_batch_reset(b);
        for (int k = 0; k <= i; k++) {
            flowfix_full(&f);
            f.src_port = (uint16_t)(1000 * i + k);
            fs_batch_add(b, &f);
        }
        fs_batch_finish(b, &buf, &len);
        cr_assert_leq(len, sizeof(sent[i]));
        memcpy(sent[i], buf, len);
        sent_len[i] = len;
        cr_assert_eq(fs_bus_send(pub, "flows", buf, len), 0, "%s", fs_bus_error(pub));

        fs_stats_reset(s, 1);
        fs_stats_finish(s, &buf, &len);
        cr_assert_eq(fs_bus_send(pub, "stats", buf, len), 0);
    }

    for (int i = 0; i < 5; i++) {
        struct fs_bus_msg m;
        cr_assert_eq(recv_real(sub, 2000, &m), 1, "message %d not received", i);
        cr_expect_str_eq(m.topic, "flows");
        cr_assert_eq(m.len, sent_len[i]);
        cr_expect_arr_eq(m.data, sent[i], m.len);

        struct fs_msg msg;
        char derr[256];
        cr_assert_eq(fs_msg_decode(m.data, m.len, &msg, derr, sizeof(derr)), 0, "%s", derr);
        cr_expect_eq(msg.seq, (uint64_t)i);
        cr_expect_eq(msg.nflows, (size_t)i + 1);
        cr_expect_eq(msg.flows[i].src_port, 1000 * i + i);
        fs_msg_free(&msg);
    }
    /* Nothing else: the stats messages were filtered by the publisher. */
    struct fs_bus_msg m;
    cr_expect_eq(recv_real(sub, 200, &m), 0);
    cr_expect_eq(fs_bus_malformed(sub), 0);

    fs_batch_free(b);
    fs_stats_free(s);
    fs_bus_close(sub, 0);
    fs_bus_close(pub, 0);
}

/* The reverse layout of a distributed set-up: many publishers connect to
 * one subscriber that binds; also subscribed to every topic. */
Test(bus, subscriber_binds_publisher_connects)
{
    char bind_ep[256], conn_ep[256], err[256] = "";
    snprintf(bind_ep, sizeof(bind_ep), "@ipc://%s/in.sock", dir);
    snprintf(conn_ep, sizeof(conn_ep), ">ipc://%s/in.sock", dir);

    const char *eps[] = {bind_ep};
    struct fs_bus *sub = fs_bus_sub(eps, 1, NULL, 0, err, sizeof(err));
    cr_assert_not_null(sub, "%s", err);
    struct fs_bus *pub = fs_bus_pub(conn_ep, 0, err, sizeof(err));
    cr_assert_not_null(pub, "%s", err);
    join(sub, send_warmup, pub);

    cr_assert_eq(fs_bus_send(pub, "stats", "abc", 3), 0);
    struct fs_bus_msg m;
    cr_assert_eq(recv_real(sub, 2000, &m), 1);
    cr_expect_str_eq(m.topic, "stats");
    cr_assert_eq(m.len, 3);
    cr_expect_arr_eq(m.data, "abc", 3);
    fs_bus_close(pub, 0);
    fs_bus_close(sub, 0);
}

Test(bus, tcp_and_several_endpoints)
{
    char ep1[64], ep2[256], err[256] = "";
    int port = fs_free_port(AF_INET, SOCK_STREAM);
    cr_assert_gt(port, 0);
    snprintf(ep1, sizeof(ep1), "tcp://127.0.0.1:%d", port);
    snprintf(ep2, sizeof(ep2), "ipc://%s/second.sock", dir);

    struct fs_bus *p1 = fs_bus_pub(ep1, 10, err, sizeof(err));
    cr_assert_not_null(p1, "%s", err);
    struct fs_bus *p2 = fs_bus_pub(ep2, 10, err, sizeof(err));
    cr_assert_not_null(p2, "%s", err);
    const char *eps[] = {ep1, ep2};
    struct fs_bus *sub = fs_bus_sub(eps, 2, "flows", 0, err, sizeof(err));
    cr_assert_not_null(sub, "%s", err);
    join(sub, send_warmup, p1);
    join(sub, send_warmup, p2);

    cr_assert_eq(fs_bus_send(p1, "flows", "one", 3), 0);
    cr_assert_eq(fs_bus_send(p2, "flows", "two", 3), 0);
    int got_one = 0, got_two = 0;
    for (int i = 0; i < 2; i++) {
        struct fs_bus_msg m;
        cr_assert_eq(recv_real(sub, 2000, &m), 1);
        cr_assert_eq(m.len, 3);
        got_one += memcmp(m.data, "one", 3) == 0;
        got_two += memcmp(m.data, "two", 3) == 0;
    }
    cr_expect_eq(got_one, 1);
    cr_expect_eq(got_two, 1);
    fs_bus_close(sub, 0);
    fs_bus_close(p1, 0);
    fs_bus_close(p2, 0);
}

Test(bus, receive_timeout)
{
    char ep[256], err[256] = "";
    snprintf(ep, sizeof(ep), "ipc://%s/nobody.sock", dir);
    const char *eps[] = {ep};
    struct fs_bus *sub = fs_bus_sub(eps, 1, "flows", 0, err, sizeof(err));
    cr_assert_not_null(sub, "%s", err);

    struct fs_bus_msg m;
    long long t0 = fs_now_ms();
    cr_expect_eq(fs_bus_recv(sub, 150, &m), 0);
    long long took = fs_now_ms() - t0;
    cr_expect_geq(took, 140, "returned after %lld ms", took);
    cr_expect_lt(took, 1500, "returned after %lld ms", took);
    cr_expect_eq(fs_bus_recv(sub, 0, &m), 0);
    fs_bus_close(sub, 0);
}

/* A raw ZeroMQ publisher that does not follow the two-frame layout. */
struct raw_pub {
    void *sock;
};

static void raw_send(void *sock, const char *const *frames, int n)
{
    for (int i = 0; i < n; i++)
        cr_assert_geq(zmq_send(sock, frames[i], strlen(frames[i]),
                               i + 1 < n ? ZMQ_SNDMORE : 0), 0);
}

static void raw_warmup(void *arg)
{
    struct raw_pub *r = arg;
    const char *frames[] = {"flows", warmup};
    /* The warm-up's payload includes its NUL, as send_warmup() sends it. */
    cr_assert_geq(zmq_send(r->sock, frames[0], 5, ZMQ_SNDMORE), 0);
    cr_assert_geq(zmq_send(r->sock, frames[1], sizeof(warmup), 0), 0);
}

Test(bus, malformed_multipart_dropped_and_counted)
{
    char ep[256], err[256] = "";
    snprintf(ep, sizeof(ep), "ipc://%s/raw.sock", dir);
    void *ctx = zmq_ctx_new();
    struct raw_pub r = {zmq_socket(ctx, ZMQ_PUB)};
    cr_assert_eq(zmq_bind(r.sock, ep), 0);

    const char *eps[] = {ep};
    struct fs_bus *sub = fs_bus_sub(eps, 1, "flows", 0, err, sizeof(err));
    cr_assert_not_null(sub, "%s", err);
    join(sub, raw_warmup, &r);

    const char *one_frame[] = {"flows"};
    const char *three_frames[] = {"flows", "payload", "extra"};
    const char *long_topic[] = {"flows-with-a-topic-longer-than-thirty-one-bytes", "x"};
    const char *good[] = {"flows", "good"};
    raw_send(r.sock, one_frame, 1);
    raw_send(r.sock, three_frames, 3);
    raw_send(r.sock, long_topic, 2);
    raw_send(r.sock, good, 2);

    struct fs_bus_msg m;
    cr_assert_eq(recv_real(sub, 2000, &m), 1);
    cr_assert_eq(m.len, 4);
    cr_expect_arr_eq(m.data, "good", 4);
    cr_expect_eq(fs_bus_malformed(sub), 3);

    fs_bus_close(sub, 0);
    zmq_close(r.sock);
    zmq_ctx_term(ctx);
}

Test(bus, errors_are_reported)
{
    char err[256] = "";
    cr_expect_null(fs_bus_pub("bogus://nowhere", 0, err, sizeof(err)));
    cr_expect_not_null(strstr(err, "bogus://nowhere"), "%s", err);

    /* The parent of the socket cannot be created: a regular file is in the way. */
    char file[256], ep[300];
    snprintf(file, sizeof(file), "%s/file", dir);
    FILE *fp = fopen(file, "w");
    cr_assert_not_null(fp);
    fclose(fp);
    snprintf(ep, sizeof(ep), "ipc://%s/sub/x.sock", file);
    err[0] = '\0';
    cr_expect_null(fs_bus_pub(ep, 0, err, sizeof(err)));
    cr_expect_not_null(strstr(err, "cannot create"), "%s", err);

    const char *eps[] = {"tcp://"};
    err[0] = '\0';
    cr_expect_null(fs_bus_sub(eps, 1, "flows", 0, err, sizeof(err)));
    cr_expect_not_null(strstr(err, "cannot connect to tcp://"), "%s", err);

    /* Topics longer than a receiver accepts are refused at the sender. */
    snprintf(ep, sizeof(ep), "ipc://%s/t.sock", dir);
    struct fs_bus *pub = fs_bus_pub(ep, 0, err, sizeof(err));
    cr_assert_not_null(pub, "%s", err);
    cr_expect_eq(fs_bus_send(pub, "a-topic-that-is-far-too-long-to-be-accepted", "x", 1), -1);
    cr_expect_not_null(strstr(fs_bus_error(pub), "longer than"), "%s", fs_bus_error(pub));
    cr_expect_eq(fs_bus_subscribe(pub, "flows"), -1);
    fs_bus_close(pub, 0);
}

static void send_one(struct fs_bus *pub, struct fs_batch *b)
{
    struct fs_flow f;
    const void *buf;
    size_t len;
    flowfix_minimal(&f);
    fs_batch_reset(b);
    fs_batch_add(b, &f);
    fs_batch_finish(b, &buf, &len);
    cr_assert_eq(fs_bus_send(pub, "flows", buf, len), 0, "%s", fs_bus_error(pub));
}

/* Receives one message into the gap tracker; false on timeout. */
static bool account_one(struct fs_bus *sub, struct fs_gap *gap, int timeout_ms,
                        uint64_t *first_seq, uint64_t *last_seq, uint64_t *received)
{
    struct fs_bus_msg m;
    struct fs_msg msg;
    char err[256];
    if (recv_real(sub, timeout_ms, &m) != 1)
        return false;
    cr_assert_eq(fs_msg_decode(m.data, m.len, &msg, err, sizeof(err)), 0, "%s", err);
    fs_gap_check(gap, msg.sender, msg.type, msg.seq, NULL);
    if (*received == 0)
        *first_seq = msg.seq;
    *last_seq = msg.seq;
    ++*received;
    fs_msg_free(&msg);
    return true;
}

/* A subscriber that stops reading never blocks the publisher; what it
 * missed shows as a sequence gap on its side. */
Test(bus, slow_subscriber_loss_is_a_sequence_gap)
{
    char ep[256], err[256] = "";
    snprintf(ep, sizeof(ep), "ipc://%s/slow.sock", dir);
    struct fs_bus *pub = fs_bus_pub(ep, 10, err, sizeof(err));
    cr_assert_not_null(pub, "%s", err);
    const char *eps[] = {ep};
    struct fs_bus *sub = fs_bus_sub(eps, 1, "flows", 10, err, sizeof(err));
    cr_assert_not_null(sub, "%s", err);
    join(sub, send_warmup, pub);

    struct fs_batch *b = fs_batch_new("test@slow");
    const int sent = 20000;
    long long t0 = fs_now_ms();
    for (int i = 0; i < sent; i++)
        send_one(pub, b);
    cr_expect_lt(fs_now_ms() - t0, 10000, "the publisher was held up");

    struct fs_gap *gap = fs_gap_new(0);
    uint64_t received = 0, first_seq = 0, last_seq = 0;
    while (account_one(sub, gap, 300, &first_seq, &last_seq, &received))
        ;
    /* Queues of 10 on each side cannot have held 20000 messages. */
    cr_expect_lt(received, (uint64_t)sent);
    cr_expect_gt(received, 0);
    /* The tail was dropped: only a later message reveals the gap. */
    send_one(pub, b);
    cr_assert(account_one(sub, gap, 2000, &first_seq, &last_seq, &received));
    cr_expect_eq(last_seq, (uint64_t)sent);
    const struct fs_gap_counters *t = fs_gap_totals(gap);
    /* One connection neither reorders nor duplicates: every number from
     * the first to the last received was either received or lost. */
    cr_expect_eq(t->messages, received);
    cr_expect_eq(t->lost, last_seq - first_seq + 1 - received);
    cr_expect_eq(t->reordered + t->duplicates + t->restarts, 0);
    cr_expect_gt(t->lost, 0);
    fs_gap_free(gap);
    fs_batch_free(b);
    fs_bus_close(sub, 0);
    fs_bus_close(pub, 0);
}

/* ZeroMQ leaves an ipc:// socket file behind; the bus removes its own at
 * close, but not one that another process has bound at the same path since. */
Test(bus, bound_socket_files_are_removed_at_close)
{
    char ep[300], path[256], err[256];
    struct stat st;

    snprintf(path, sizeof(path), "%s/run/events.sock", dir);
    snprintf(ep, sizeof(ep), "ipc://%s", path);
    struct fs_bus *pub = fs_bus_pub(ep, 0, err, sizeof(err));
    cr_assert_not_null(pub, "%s", err);
    cr_assert_eq(stat(path, &st), 0);
    fs_bus_close(pub, 0);
    cr_expect_neq(stat(path, &st), 0, "the socket file is still there");

    /* A second publisher takes the path over while the first still runs. */
    struct fs_bus *old = fs_bus_pub(ep, 0, err, sizeof(err));
    cr_assert_not_null(old, "%s", err);
    struct fs_bus *new = fs_bus_pub(ep, 0, err, sizeof(err));
    cr_assert_not_null(new, "%s", err);
    fs_bus_close(old, 0);
    cr_expect_eq(stat(path, &st), 0, "the newer publisher's socket was removed");
    fs_bus_close(new, 0);
    cr_expect_neq(stat(path, &st), 0);
}
