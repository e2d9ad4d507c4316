/*
 * test_deliver.c - one output's spool and at-least-once delivery
 * (reporter/deliver.c) against a real TCP receiver: a listening socket of
 * the test's own on 127.0.0.1, served by a thread that reads the
 * octet-counted frames (RFC 6587) and can close the connection, stop
 * listening and listen again on the same port.
 *
 * What must hold whatever the receiver does: every spooled alert arrives,
 * none is skipped, and the only harm a failure may do is a duplicate with
 * the same id and the same bytes.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../reporter/deliver.h"
#include "dlog.h"
#include "msg.h"
#include "proc.h"

#define T0 1709510400000ull /* 2024-03-04 00:00 UTC */
#define CONFIRM_MS 300
#define WAIT_MS 10000

/* ------------------------------------------------------------------ */
/* The receiver. */

struct rx {
    int port;
    atomic_int lfd;             /* -1 while not listening */
    pthread_t th;
    atomic_bool quit;
    atomic_int close_after;     /* close the connection once this many messages were read
                                   in it (0: never) */
    atomic_int connections;
    pthread_mutex_t mu;
    char **msgs;
    size_t n, cap;
};

static struct rx rx;
static char dir[64];

static int listen_on(int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_geq(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind %d: %s", port,
                 strerror(errno));
    cr_assert_eq(listen(fd, 8), 0);
    return fd;
}

static void keep(const char *msg, size_t len)
{
    pthread_mutex_lock(&rx.mu);
    if (rx.n == rx.cap) {
        rx.cap = rx.cap ? rx.cap * 2 : 256;
        rx.msgs = realloc(rx.msgs, rx.cap * sizeof(*rx.msgs));
    }
    rx.msgs[rx.n++] = strndup(msg, len);
    pthread_mutex_unlock(&rx.mu);
}

/* Takes the complete "LEN SP MSG" frames from the front of buf; returns
 * the bytes used. */
static size_t take_frames(char *buf, size_t len, int *in_conn)
{
    size_t off = 0;

    for (;;) {
        size_t i = off, n = 0;
        while (i < len && buf[i] >= '0' && buf[i] <= '9')
            n = n * 10 + (size_t)(buf[i++] - '0');
        if (i >= len || i == off)
            return off;
        if (buf[i] != ' ' || len - i - 1 < n)
            return off;
        keep(buf + i + 1, n);
        (*in_conn)++;
        off = i + 1 + n;
    }
}

static void *serve(void *arg)
{
    static char buf[1 << 20];
    int cfd = -1, in_conn = 0;
    size_t have = 0;

    (void)arg;
    while (!rx.quit) {
        struct pollfd p[2] = { { rx.lfd, POLLIN, 0 }, { cfd, POLLIN, 0 } };
        if (poll(p, 2, 20) <= 0)
            continue;
        if (cfd < 0 && rx.lfd >= 0 && (p[0].revents & POLLIN)) {
            cfd = accept(rx.lfd, NULL, NULL);
            have = 0;
            in_conn = 0;
            rx.connections++;
            continue;
        }
        if (cfd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t got = read(cfd, buf + have, sizeof(buf) - have);
            if (got <= 0) {
                close(cfd);
                cfd = -1;
                continue;
            }
            have += (size_t)got;
            size_t used = take_frames(buf, have, &in_conn);
            memmove(buf, buf + used, have - used);
            have -= used;
            if (rx.close_after > 0 && in_conn >= rx.close_after) {
                /* Whatever else is in the socket is lost with it. */
                rx.close_after = 0;
                close(cfd);
                cfd = -1;
            }
        }
    }
    if (cfd >= 0)
        close(cfd);
    return NULL;
}

static void rx_start(void)
{
    memset(&rx, 0, sizeof(rx));
    pthread_mutex_init(&rx.mu, NULL);
    rx.port = fs_free_port(AF_INET, SOCK_STREAM);
    cr_assert_gt(rx.port, 0);
    rx.lfd = listen_on(rx.port);
    cr_assert_eq(pthread_create(&rx.th, NULL, serve, NULL), 0);
}

/* The receiver goes away: no more listening socket (connections refused). */
static void rx_down(void)
{
    int fd = rx.lfd;
    rx.lfd = -1;
    usleep(50000); /* the thread stops polling it */
    close(fd);
}

static void rx_up(void)
{
    rx.lfd = listen_on(rx.port);
}

static size_t rx_count(void)
{
    pthread_mutex_lock(&rx.mu);
    size_t n = rx.n;
    pthread_mutex_unlock(&rx.mu);
    return n;
}

static void setup(void)
{
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    rx_start();
}

static void teardown(void)
{
    rx.quit = true;
    pthread_join(rx.th, NULL);
    if (rx.lfd >= 0)
        close(rx.lfd);
    for (size_t i = 0; i < rx.n; i++)
        free(rx.msgs[i]);
    free(rx.msgs);
    pthread_mutex_destroy(&rx.mu);
    fs_rmtree(dir);
}

TestSuite(deliver, .init = setup, .fini = teardown, .timeout = 60);

/* ------------------------------------------------------------------ */
/* Alerts and the deliverer. */

static struct fs_rp_alert alert(unsigned i)
{
    struct fs_rp_alert al;

    memset(&al, 0, sizeof(al));
    al.kind = FS_RP_SINGLE;
    al.count = 1;
    al.a.ts_ms = T0 + i * 300000ull;
    al.a.end_ms = al.a.ts_ms + 300000;
    al.a.host.af = 4;
    al.a.host.b[0] = 10;
    al.a.host.b[2] = (uint8_t)(i >> 8);
    al.a.host.b[3] = (uint8_t)i;
    al.a.cls = FS_AC_PORT_SCAN;
    al.a.severity = FS_SEV_HIGH;
    al.a.score = 70 + (i % 10);
    snprintf(al.a.metric, sizeof(al.a.metric), "distinct_ports");
    al.a.observed = 25 + i;
    al.a.expected = 3;
    fs_anomaly_set_id(&al.a);
    al.id = al.a.id;
    al.first_ms = al.last_ms = al.a.ts_ms;
    return al;
}

static struct fs_rp_deliver *open_tcp(uint64_t spool_bytes)
{
    struct fs_rp_deliver_opts o = { 0 };
    char spool[128], port[16], e[512];
    struct fs_rp_deliver *d;

    snprintf(spool, sizeof(spool), "%s/spool", dir);
    snprintf(port, sizeof(port), "%d", rx.port);
    o.name = "output 1";
    o.dir = spool;
    o.spool_bytes = spool_bytes;
    o.out.transport = FS_RP_T_TCP;
    o.out.host = "127.0.0.1";
    o.out.port = port;
    o.out.timeout_ms = 1000;
    o.out.backoff_max_ms = 1000;
    o.fmt.header = FS_RP_H_NONE;
    o.fmt.body = FS_RP_B_EVE;
    o.fmt.facility = 16;
    o.fmt.hostname = "sensor-1";
    o.confirm_ms = CONFIRM_MS;
    d = fs_rp_deliver_new(&o, e, sizeof(e));
    cr_assert_not_null(d, "%s", e);
    return d;
}

static void add(struct fs_rp_deliver *d, unsigned from, unsigned to)
{
    char e[512];
    for (unsigned i = from; i < to; i++) {
        struct fs_rp_alert al = alert(i);
        cr_assert_eq(fs_rp_deliver_add(d, &al, T0 + i, e, sizeof(e)), 0, "%s", e);
    }
}

/* Runs the deliverer until `done` holds or the time is up. */
static bool run_until(struct fs_rp_deliver *d, bool (*done)(struct fs_rp_deliver *), int ms)
{
    long long end = fs_now_ms() + ms;

    while (fs_now_ms() < end) {
        fs_rp_deliver_run(d, (uint64_t)fs_now_ms(), 1000);
        if (done(d))
            return true;
        usleep(5000);
    }
    return done(d);
}

static bool all_confirmed(struct fs_rp_deliver *d)
{
    return fs_rp_deliver_pending(d) == 0;
}

static void run_for(struct fs_rp_deliver *d, int ms)
{
    long long end = fs_now_ms() + ms;
    while (fs_now_ms() < end) {
        fs_rp_deliver_run(d, (uint64_t)fs_now_ms(), 1000);
        usleep(5000);
    }
}

/* How often each alert 0..n-1 arrived; fails on anything else received,
 * and on duplicates that are not the same bytes. */
static unsigned *tally(unsigned n)
{
    unsigned *seen = calloc(n, sizeof(*seen));
    char **first = calloc(n, sizeof(*first));
    uint64_t *ids = calloc(n, sizeof(*ids));

    for (unsigned i = 0; i < n; i++)
        ids[i] = alert(i).id;
    pthread_mutex_lock(&rx.mu);
    for (size_t k = 0; k < rx.n; k++) {
        json_error_t je;
        json_t *o = json_loads(rx.msgs[k], 0, &je);
        cr_assert_not_null(o, "not JSON: %s", rx.msgs[k]);
        const char *id = json_string_value(json_object_get(o, "alert_id"));
        cr_assert_not_null(id, "no alert_id: %s", rx.msgs[k]);
        uint64_t v = strtoull(id, NULL, 16);
        unsigned i = 0;
        while (i < n && ids[i] != v)
            i++;
        cr_assert_lt(i, n, "an alert nobody sent: %s", rx.msgs[k]);
        if (seen[i]++ == 0)
            first[i] = rx.msgs[k];
        else
            cr_expect_str_eq(rx.msgs[k], first[i], "a duplicate that is not the same bytes");
        json_decref(o);
    }
    pthread_mutex_unlock(&rx.mu);
    free(first);
    free(ids);
    return seen;
}

static void expect_each_once_at_least(unsigned n, unsigned *dups)
{
    unsigned *seen = tally(n);
    *dups = 0;
    for (unsigned i = 0; i < n; i++) {
        cr_expect_geq(seen[i], 1, "alert %u never arrived", i);
        *dups += seen[i] > 1 ? seen[i] - 1 : 0;
    }
    free(seen);
}

/* ------------------------------------------------------------------ */

Test(deliver, everything_is_delivered_once)
{
    struct fs_rp_deliver *d = open_tcp(0);
    unsigned dups;

    add(d, 0, 200);
    cr_expect_eq(fs_rp_deliver_pending(d), 200);
    cr_assert(run_until(d, all_confirmed, WAIT_MS), "pending %llu",
              (unsigned long long)fs_rp_deliver_pending(d));
    expect_each_once_at_least(200, &dups);
    cr_expect_eq(dups, 0);
    cr_expect_eq(rx_count(), 200);
    const struct fs_rp_deliver_counters *n = fs_rp_deliver_counters(d);
    cr_expect_eq(n->spooled, 200);
    cr_expect_eq(n->sent, 200);
    cr_expect_eq(n->confirmed, 200);
    cr_expect_eq(n->resent, 0);
    cr_expect_eq(n->errors, 0);
    cr_expect_eq(n->pending, 0);
    cr_expect_eq(rx.connections, 1);
    fs_rp_deliver_free(d);
}

Test(deliver, confirmation_waits_for_the_connection_to_stay_up)
{
    struct fs_rp_deliver *d = open_tcp(0);
    long long t0 = fs_now_ms();

    add(d, 0, 10);
    fs_rp_deliver_run(d, (uint64_t)t0, 1000);
    cr_expect_eq(fs_rp_deliver_counters(d)->sent, 10);
    /* Sent, but not confirmed before CONFIRM_MS has passed. */
    fs_rp_deliver_run(d, (uint64_t)t0 + CONFIRM_MS - 1, 1000);
    cr_expect_eq(fs_rp_deliver_pending(d), 10);
    cr_expect_eq(fs_rp_deliver_counters(d)->inflight, 10);
    fs_rp_deliver_run(d, (uint64_t)t0 + CONFIRM_MS, 1000);
    cr_expect_eq(fs_rp_deliver_pending(d), 0);
    cr_expect_eq(fs_rp_deliver_counters(d)->confirmed, 10);
    fs_rp_deliver_free(d);
}

Test(deliver, a_connection_closed_mid_stream_sends_the_unconfirmed_again)
{
    struct fs_rp_deliver *d = open_tcp(0);
    unsigned dups;

    /* The receiver reads 50 messages and hangs up on what it had not read. */
    rx.close_after = 50;
    add(d, 0, 300);
    cr_assert(run_until(d, all_confirmed, WAIT_MS), "pending %llu",
              (unsigned long long)fs_rp_deliver_pending(d));
    expect_each_once_at_least(300, &dups);
    const struct fs_rp_deliver_counters *n = fs_rp_deliver_counters(d);
    cr_expect_geq(rx.connections, 2, "it reconnected");
    cr_expect_geq(n->errors, 1);
    cr_expect_geq(n->rewinds, 1);
    cr_expect_gt(n->resent, 0, "the unconfirmed ones went out again");
    cr_expect_eq(n->sent, 300 + n->resent);
    cr_expect_eq(rx_count(), 300 + dups);
    cr_expect_leq(dups, n->resent);
    fs_rp_deliver_free(d);
}

Test(deliver, the_spool_holds_alerts_while_the_receiver_is_down)
{
    struct fs_rp_deliver *d = open_tcp(0);
    unsigned dups;

    rx_down();
    add(d, 0, 100);
    run_for(d, 1200);
    const struct fs_rp_deliver_counters *n = fs_rp_deliver_counters(d);
    cr_expect_eq(n->sent, 0);
    cr_expect_geq(n->errors, 1);
    cr_expect_eq(n->pending, 100);
    cr_expect_neq(fs_rp_deliver_last_error(d)[0], '\0');
    cr_expect_eq(fs_rp_deliver_oldest(d), T0, "the oldest waiting alert was spooled at T0");

    /* More while it is away; then it comes back and everything drains. */
    add(d, 100, 150);
    rx_up();
    cr_assert(run_until(d, all_confirmed, WAIT_MS), "pending %llu",
              (unsigned long long)fs_rp_deliver_pending(d));
    expect_each_once_at_least(150, &dups);
    cr_expect_eq(dups, 0);
    cr_expect_eq(fs_rp_deliver_counters(d)->confirmed, 150);
    cr_expect_eq(fs_rp_deliver_last_error(d)[0], '\0');
    fs_rp_deliver_free(d);
}

Test(deliver, a_full_spool_drops_the_oldest_and_counts_them)
{
    struct fs_rp_deliver *d = open_tcp(256 << 10);
    const unsigned total = 3000;

    rx_down();
    add(d, 0, total);
    fs_rp_deliver_run(d, (uint64_t)fs_now_ms(), 1000);
    const struct fs_rp_deliver_counters *n = fs_rp_deliver_counters(d);
    uint64_t dropped = n->dropped;
    cr_assert_gt(dropped, 0, "3000 alerts do not fit in 256 KiB");
    cr_expect_eq(n->pending, total - dropped);

    rx_up();
    cr_assert(run_until(d, all_confirmed, WAIT_MS), "pending %llu",
              (unsigned long long)fs_rp_deliver_pending(d));
    /* The newest survive, each once; the oldest `dropped` are the ones missing. */
    unsigned *seen = tally(total);
    for (unsigned i = 0; i < total; i++)
        cr_expect_eq(seen[i], i < dropped ? 0u : 1u, "alert %u arrived %u times", i, seen[i]);
    free(seen);
    cr_expect_eq(fs_rp_deliver_counters(d)->dropped, dropped);
    fs_rp_deliver_free(d);
}

Test(deliver, a_restart_resumes_from_the_acknowledged_mark)
{
    struct fs_rp_deliver *d = open_tcp(0);
    unsigned dups;

    add(d, 0, 20);
    cr_assert(run_until(d, all_confirmed, WAIT_MS));
    fs_rp_deliver_free(d);

    /* Nothing confirmed goes out again. */
    d = open_tcp(0);
    cr_expect_eq(fs_rp_deliver_pending(d), 0);
    add(d, 20, 30);
    cr_assert(run_until(d, all_confirmed, WAIT_MS));
    expect_each_once_at_least(30, &dups);
    cr_expect_eq(dups, 0);
    cr_expect_eq(fs_rp_deliver_counters(d)->sent, 10);

    /* Sent but not yet confirmed when the deliverer goes: sent again. */
    add(d, 30, 40);
    fs_rp_deliver_run(d, (uint64_t)fs_now_ms(), 1000);
    cr_expect_eq(fs_rp_deliver_counters(d)->sent, 20);
    fs_rp_deliver_free(d);
    d = open_tcp(0);
    cr_expect_eq(fs_rp_deliver_pending(d), 10);
    cr_assert(run_until(d, all_confirmed, WAIT_MS));
    expect_each_once_at_least(40, &dups);
    cr_expect_eq(dups, 10, "the ten unconfirmed, once more each");
    fs_rp_deliver_free(d);
}

Test(deliver, udp_and_files_confirm_at_once)
{
    struct fs_rp_deliver_opts o = { 0 };
    char spool[128], path[128], e[512], port[16];
    int ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(ufd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    getsockname(ufd, (struct sockaddr *)&sa, &sl);
    snprintf(port, sizeof(port), "%d", ntohs(sa.sin_port));

    snprintf(spool, sizeof(spool), "%s/spool-udp", dir);
    o.name = "udp";
    o.dir = spool;
    o.out.transport = FS_RP_T_UDP;
    o.out.host = "127.0.0.1";
    o.out.port = port;
    o.fmt.header = FS_RP_H_RFC5424;
    o.fmt.body = FS_RP_B_TEXT;
    o.fmt.facility = 16;
    o.fmt.hostname = "sensor-1";
    o.confirm_ms = 60000;
    struct fs_rp_deliver *d = fs_rp_deliver_new(&o, e, sizeof(e));
    cr_assert_not_null(d, "%s", e);
    add(d, 0, 5);
    fs_rp_deliver_run(d, (uint64_t)fs_now_ms(), 1000);
    cr_expect_eq(fs_rp_deliver_pending(d), 0);
    char buf[FS_RP_MSG_MAX + 1];
    ssize_t got = recv(ufd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    cr_assert_gt(got, 0);
    buf[got] = '\0';
    cr_expect_eq(strncmp(buf, "<131>1 ", 7), 0, "local0.err: %s", buf);
    fs_rp_deliver_free(d);
    close(ufd);

    snprintf(spool, sizeof(spool), "%s/spool-file", dir);
    snprintf(path, sizeof(path), "%s/alerts.json", dir);
    o.out.transport = FS_RP_T_FILE;
    o.out.path = path;
    o.fmt.header = FS_RP_H_NONE;
    o.fmt.body = FS_RP_B_EVE;
    d = fs_rp_deliver_new(&o, e, sizeof(e));
    cr_assert_not_null(d, "%s", e);
    add(d, 0, 5);
    fs_rp_deliver_run(d, (uint64_t)fs_now_ms(), 1000);
    cr_expect_eq(fs_rp_deliver_pending(d), 0);
    fs_rp_deliver_free(d);
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp);
    int lines = 0;
    while (fgets(buf, sizeof(buf), fp))
        lines += buf[0] == '{';
    fclose(fp);
    cr_expect_eq(lines, 5);
}

Test(deliver, spool_records_round_trip_and_refuse_damage)
{
    struct fs_events_writer *w = fs_events_writer_new("test");
    struct fs_rp_alert in = alert(7), out, storm;
    void *rec;
    size_t len;
    uint64_t wall;
    char e[256];

    in.kind = FS_RP_FOLDED;
    in.count = 12;
    in.last_ms = in.first_ms + 480000;
    in.a.peer.af = 4;
    in.a.peer.b[0] = 192;
    fs_anomaly_extra(&in.a, "probes", 25);
    cr_assert_eq(fs_rp_record_encode(w, &in, 1234, &rec, &len, e, sizeof(e)), 0, "%s", e);
    cr_assert_eq(fs_rp_record_decode(rec, len, &out, &wall, e, sizeof(e)), 0, "%s", e);
    cr_expect_eq(wall, 1234);
    cr_expect_eq(out.kind, FS_RP_FOLDED);
    cr_expect_eq(out.id, in.id);
    cr_expect_eq(out.count, 12);
    cr_expect_eq(out.first_ms, in.first_ms);
    cr_expect_eq(out.last_ms, in.last_ms);
    cr_expect_eq(out.a.id, in.a.id);
    cr_expect_eq(out.a.score, in.a.score);
    cr_expect_eq(out.a.nextra, 1);
    cr_expect_str_eq(out.a.metric, "distinct_ports");
    cr_expect_eq(memcmp(&out.a.peer, &in.a.peer, sizeof(fs_ip)), 0);

    /* Every cut and every changed first byte is refused or decodes to
     * something; nothing crashes (ASan build). */
    for (size_t cut = 0; cut < len; cut++)
        cr_expect_neq(fs_rp_record_decode(rec, cut, &out, &wall, e, sizeof(e)), 0,
                      "a record cut to %zu bytes was accepted", cut);
    ((uint8_t *)rec)[0] = 9;
    cr_expect_neq(fs_rp_record_decode(rec, len, &out, &wall, e, sizeof(e)), 0);
    cr_expect_str_eq(e, "record version 9 not supported (this build reads 1)");
    free(rec);

    /* A storm alert has no anomaly but its times. */
    memset(&storm, 0, sizeof(storm));
    storm.kind = FS_RP_STORM;
    storm.id = 42;
    storm.count = 300;
    storm.a.ts_ms = T0;
    storm.a.end_ms = T0 + 60000;
    cr_assert_eq(fs_rp_record_encode(w, &storm, 1, &rec, &len, e, sizeof(e)), 0, "%s", e);
    cr_assert_eq(fs_rp_record_decode(rec, len, &out, &wall, e, sizeof(e)), 0, "%s", e);
    cr_expect_eq(out.kind, FS_RP_STORM);
    cr_expect_eq(out.count, 300);
    cr_expect_eq(out.a.end_ms, T0 + 60000);
    free(rec);
    fs_events_writer_free(w);
}
