/*
 * test_listeners.c - UDP listeners (batches, address mapping, kernel drop
 * accounting) and IPFIX/TCP framing, over real loopback sockets.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proc.h"
#include "tcp.h"
#include "udp.h"

static struct sockaddr_storage addr_of(const char *ip, int port, socklen_t *len)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        cr_assert_eq(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
        *len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        cr_assert_eq(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
        *len = sizeof(*s4);
    }
    return ss;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

/*
 * UDP
 */

struct got {
    size_t n;
    fs_ip src[256];
    size_t len[256];
    uint8_t first[256];
};

static void on_dgram(void *arg, const fs_ip *src, const uint8_t *buf, size_t len)
{
    struct got *g = arg;

    if (g->n < 256) {
        g->src[g->n] = *src;
        g->len[g->n] = len;
        g->first[g->n] = len > 0 ? buf[0] : 0;
    }
    g->n++;
}

static struct fs_udp *udp_open(const char *ip, int rcvbuf, int *port)
{
    socklen_t sl;
    struct sockaddr_storage ss = addr_of(ip, 0, &sl);
    char err[256] = "";
    struct fs_udp *u = fs_udp_open((struct sockaddr *)&ss, sl, rcvbuf, err, sizeof(err));

    cr_assert_not_null(u, "%s", err);
    *port = bound_port(fs_udp_fd(u));
    return u;
}

static void udp_send(const char *from, const char *to, int port, uint8_t tag, size_t len)
{
    socklen_t sl;
    struct sockaddr_storage ss = addr_of(to, port, &sl);
    uint8_t buf[2048];
    int fd = socket(strchr(from, ':') ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);

    cr_assert_geq(fd, 0);
    cr_assert_leq(len, sizeof(buf));
    memset(buf, tag, len);
    cr_assert_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl), (ssize_t)len,
                 "%s", strerror(errno));
    close(fd);
}

/* Receives until `want` datagrams came or a second passed. */
static void udp_collect(struct fs_udp *u, struct got *g, size_t want)
{
    long long deadline = fs_now_ms() + 1000;

    while (g->n < want && fs_now_ms() < deadline) {
        struct pollfd p = { .fd = fs_udp_fd(u), .events = POLLIN };

        if (poll(&p, 1, 50) > 0)
            cr_assert_geq(fs_udp_recv(u, on_dgram, g), 0);
    }
}

Test(udp, ipv4_batch_and_name)
{
    struct got g = { 0 };
    char want[64];
    int port;
    struct fs_udp *u = udp_open("127.0.0.1", 0, &port);

    snprintf(want, sizeof(want), "udp://127.0.0.1:%d", port);
    cr_assert_str_eq(fs_udp_name(u), want);
    for (int i = 0; i < 3; i++)
        udp_send("127.0.0.1", "127.0.0.1", port, (uint8_t)(i + 1), 100 + (size_t)i);
    udp_collect(u, &g, 3);
    cr_assert_eq(g.n, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(g.src[i].af, 4);
        cr_assert_arr_eq(g.src[i].b, ((uint8_t[]){ 127, 0, 0, 1 }), 4);
        cr_assert_eq(g.len[i], 100 + (size_t)i);
        cr_assert_eq(g.first[i], i + 1);
    }
    cr_assert_eq(fs_udp_stats(u)->datagrams, 3);
    cr_assert_eq(fs_udp_stats(u)->bytes, 303);
    fs_udp_close(u);
}

Test(udp, dual_stack_maps_ipv4_sources_back)
{
    struct got g = { 0 };
    int port;
    struct fs_udp *u = udp_open("::", 0, &port);

    udp_send("127.0.0.1", "127.0.0.1", port, 4, 10);
    udp_collect(u, &g, 1);
    udp_send("::1", "::1", port, 6, 10);
    udp_collect(u, &g, 2);
    cr_assert_eq(g.n, 2);
    cr_assert_eq(g.src[0].af, 4, "v4 exporter seen as ::ffff:127.0.0.1");
    cr_assert_arr_eq(g.src[0].b, ((uint8_t[]){ 127, 0, 0, 1 }), 4);
    cr_assert_eq(g.src[1].af, 6);
    cr_assert_arr_eq(g.src[1].b, in6addr_loopback.s6_addr, 16);
    fs_udp_close(u);
}

Test(udp, receive_buffer_granted)
{
    int port;
    struct fs_udp *u = udp_open("127.0.0.1", 256 * 1024, &port);

    if (geteuid() == 0)
        cr_assert_eq(fs_udp_stats(u)->rcvbuf, 256 * 1024, "root forces the size");
    else
        cr_assert_gt(fs_udp_stats(u)->rcvbuf, 0);
    fs_udp_close(u);
}

Test(udp, kernel_drops_counted)
{
    struct got g = { 0 };
    const size_t sent = 300;
    int port;
    struct fs_udp *u = udp_open("127.0.0.1", 1024, &port);
    uint64_t drops;

    /* A burst into a tiny buffer, nobody reading: most of it is lost. */
    for (size_t i = 0; i < sent; i++)
        udp_send("127.0.0.1", "127.0.0.1", port, 1, 1000);
    while (fs_udp_recv(u, on_dgram, &g) > 0)
        ;
    /* The kernel reports its count on the next datagram it does queue. */
    udp_send("127.0.0.1", "127.0.0.1", port, 2, 10);
    udp_collect(u, &g, g.n + 1);
    drops = fs_udp_stats(u)->kernel_drops;
    cr_assert_gt(drops, 0);
    cr_assert_eq(g.n + drops, sent + 1, "received %zu + dropped %llu != sent %zu", g.n,
                 (unsigned long long)drops, sent + 1);
    cr_assert_eq(fs_udp_take_drops(u), drops);
    cr_assert_eq(fs_udp_take_drops(u), 0, "a delta, not the total");
    fs_udp_close(u);
}

Test(udp, bind_failure_reported)
{
    socklen_t sl;
    struct sockaddr_storage ss = addr_of("192.0.2.123", 2055, &sl);
    char err[256] = "";

    cr_assert_null(fs_udp_open((struct sockaddr *)&ss, sl, 0, err, sizeof(err)));
    cr_assert_not_null(strstr(err, "udp://192.0.2.123:2055"), "%s", err);
}

/*
 * IPFIX over TCP
 */

struct msgs {
    size_t n;
    fs_ip peer[64];
    size_t len[64];
    uint8_t tag[64];  /* byte 16 of the message, set by the sender */
    bool refuse;
    size_t asked;
};

static void on_msg(void *arg, const fs_ip *peer, const uint8_t *msg, size_t len)
{
    struct msgs *m = arg;

    cr_assert_geq(len, 16);
    cr_assert_eq(msg[0] << 8 | msg[1], 10);
    cr_assert_eq((size_t)(msg[2] << 8 | msg[3]), len);
    if (m->n < 64) {
        m->peer[m->n] = *peer;
        m->len[m->n] = len;
        m->tag[m->n] = len > 16 ? msg[16] : 0;
    }
    m->n++;
}

static bool on_accept(void *arg, const fs_ip *peer)
{
    struct msgs *m = arg;

    (void)peer;
    m->asked++;
    return !m->refuse;
}

static struct fs_tcp *tcp_open(struct msgs *m, size_t max, int *port)
{
    struct fs_tcp_handler h = { on_accept, on_msg, m };
    socklen_t sl;
    struct sockaddr_storage ss = addr_of("::", 0, &sl);
    char err[256] = "";
    struct fs_tcp *t = fs_tcp_open((struct sockaddr *)&ss, sl, max, &h, err, sizeof(err));

    cr_assert_not_null(t, "%s", err);
    cr_assert_eq(sscanf(fs_tcp_name(t), "tcp://[::]:%d", port), 1, "%s", fs_tcp_name(t));
    return t;
}

/* Runs the listener for `ms` milliseconds. */
static void pump(struct fs_tcp *t, int ms)
{
    long long deadline = fs_now_ms() + ms;
    struct pollfd pfd[16];

    while (fs_now_ms() < deadline) {
        size_t n = fs_tcp_pollfds(t, pfd, 16);

        if (poll(pfd, n, 10) > 0)
            fs_tcp_handle(t, pfd, n, (uint64_t)fs_now_ms());
    }
}

static int connect_to(const char *ip, int port)
{
    socklen_t sl;
    struct sockaddr_storage ss = addr_of(ip, port, &sl);
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);

    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&ss, sl), 0, "%s", strerror(errno));
    return fd;
}

/* An IPFIX-framed message of `len` bytes whose byte 16 is `tag`. */
static size_t message(uint8_t *buf, size_t len, uint8_t tag, uint16_t version)
{
    memset(buf, 0, len);
    buf[0] = (uint8_t)(version >> 8);
    buf[1] = (uint8_t)version;
    buf[2] = (uint8_t)(len >> 8);
    buf[3] = (uint8_t)len;
    if (len > 16)
        buf[16] = tag;
    return len;
}

static void write_all(int fd, const uint8_t *buf, size_t len)
{
    cr_assert_eq(write(fd, buf, len), (ssize_t)len);
}

/* True when the peer closed our connection. */
static bool closed_by_peer(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char c;

    return poll(&p, 1, 500) == 1 && read(fd, &c, 1) <= 0;
}

Test(tcp, two_exporters_streams_split_anywhere)
{
    static uint8_t a[3 * 200], b[1000];
    struct msgs m = { 0 };
    int port;
    struct fs_tcp *t = tcp_open(&m, 4, &port);
    int fa, fb;
    size_t alen = 0, blen;

    fa = connect_to("127.0.0.1", port);
    fb = connect_to("::1", port);
    alen += message(a, 100, 1, 10);
    alen += message(a + alen, 16, 2, 10);
    alen += message(a + alen, 300, 3, 10);
    blen = message(b, 1000, 9, 10);
    /* Byte-sized and odd-sized pieces, the two streams interleaved. */
    for (size_t i = 0; i < 50; i++)
        write_all(fa, a + i, 1);
    write_all(fb, b, 3);
    pump(t, 50);
    write_all(fa, a + 50, alen - 50 - 1);
    write_all(fb, b + 3, blen - 3);
    pump(t, 50);
    cr_assert_eq(m.n, 3, "the last message of a is one byte short");
    write_all(fa, a + alen - 1, 1);
    pump(t, 50);
    cr_assert_eq(m.n, 4);
    /* Order within each stream is kept; a's messages are 100, 16, 300 bytes. */
    {
        size_t ai = 0;

        for (size_t i = 0; i < 4; i++) {
            if (m.peer[i].af == 6) {
                cr_assert_eq(m.len[i], 1000);
                cr_assert_eq(m.tag[i], 9);
                cr_assert_arr_eq(m.peer[i].b, in6addr_loopback.s6_addr, 16);
                continue;
            }
            cr_assert_arr_eq(m.peer[i].b, ((uint8_t[]){ 127, 0, 0, 1 }), 4);
            cr_assert_eq(m.len[i], ((size_t[]){ 100, 16, 300 })[ai]);
            if (m.len[i] > 16)
                cr_assert_eq(m.tag[i], ((uint8_t[]){ 1, 2, 3 })[ai]);
            ai++;
        }
        cr_assert_eq(ai, 3);
    }
    cr_assert_eq(fs_tcp_stats(t)->connections, 2);
    cr_assert_eq(fs_tcp_stats(t)->messages, 4);
    cr_assert_eq(fs_tcp_stats(t)->bytes, alen + blen);
    close(fa);
    close(fb);
    pump(t, 50);
    cr_assert_eq(fs_tcp_stats(t)->connections, 0);
    cr_assert_eq(fs_tcp_stats(t)->closed, 2);
    cr_assert_eq(fs_tcp_stats(t)->errors, 0);
    fs_tcp_close(t);
}

Test(tcp, largest_message_fits)
{
    static uint8_t big[FS_TCP_MSG_MAX];
    struct msgs m = { 0 };
    int port;
    struct fs_tcp *t = tcp_open(&m, 1, &port);
    int fd = connect_to("127.0.0.1", port);
    size_t off = 0;

    message(big, sizeof(big), 7, 10);
    while (off < sizeof(big)) {
        ssize_t n = write(fd, big + off, sizeof(big) - off);

        cr_assert_gt(n, 0);
        off += (size_t)n;
        pump(t, 10);
    }
    pump(t, 50);
    cr_assert_eq(m.n, 1);
    cr_assert_eq(m.len[0], FS_TCP_MSG_MAX);
    cr_assert_eq(m.tag[0], 7);
    close(fd);
    fs_tcp_close(t);
}

static void framing_error(uint16_t version, size_t len)
{
    uint8_t good[40], bad[40];
    struct msgs m = { 0 };
    int port;
    struct fs_tcp *t = tcp_open(&m, 2, &port);
    int fd = connect_to("127.0.0.1", port);

    message(good, sizeof(good), 1, 10);
    message(bad, sizeof(bad), 2, version);
    bad[2] = (uint8_t)(len >> 8);
    bad[3] = (uint8_t)len;
    write_all(fd, good, sizeof(good));
    write_all(fd, bad, sizeof(bad));
    pump(t, 100);
    cr_assert_eq(m.n, 1, "the message before the damage still counts");
    cr_assert_eq(fs_tcp_stats(t)->errors, 1);
    cr_assert_eq(fs_tcp_stats(t)->connections, 0);
    cr_assert(closed_by_peer(fd), "connection not closed");
    close(fd);
    fs_tcp_close(t);
}

Test(tcp, not_ipfix_closes_the_connection)
{
    framing_error(9, 40);   /* NetFlow v9 has no TCP transport */
    framing_error(5, 40);
}

Test(tcp, short_length_closes_the_connection)
{
    framing_error(10, 15);
    framing_error(10, 0);
}

Test(tcp, stream_ending_inside_a_message_is_an_error)
{
    uint8_t buf[64];
    struct msgs m = { 0 };
    int port;
    struct fs_tcp *t = tcp_open(&m, 2, &port);
    int fd = connect_to("127.0.0.1", port);

    message(buf, sizeof(buf), 1, 10);
    write_all(fd, buf, 30);
    pump(t, 50);
    close(fd);
    pump(t, 50);
    cr_assert_eq(m.n, 0);
    cr_assert_eq(fs_tcp_stats(t)->errors, 1);
    cr_assert_eq(fs_tcp_stats(t)->closed, 1);
    fs_tcp_close(t);
}

Test(tcp, connection_limit_and_allowlist_refuse)
{
    struct msgs m = { 0 };
    int port;
    struct fs_tcp *t = tcp_open(&m, 1, &port);
    int first = connect_to("127.0.0.1", port), second;

    pump(t, 50);
    second = connect_to("127.0.0.1", port);
    pump(t, 50);
    cr_assert(closed_by_peer(second), "second exporter not refused");
    cr_assert_eq(fs_tcp_stats(t)->refused, 1);
    cr_assert_eq(fs_tcp_stats(t)->connections, 1);
    cr_assert(!closed_by_peer(first), "the first stays");
    close(second);
    close(first);
    pump(t, 50);

    m.refuse = true;
    second = connect_to("::1", port);
    pump(t, 50);
    cr_assert(closed_by_peer(second), "refused by the accept callback");
    cr_assert_eq(fs_tcp_stats(t)->refused, 2);
    cr_assert_eq(m.asked, 3);
    close(second);
    fs_tcp_close(t);
}

Test(tcp, idle_connections_expire)
{
    struct msgs m = { 0 };
    int port;
    struct fs_tcp *t = tcp_open(&m, 2, &port);
    int fd = connect_to("127.0.0.1", port);
    uint64_t now;

    pump(t, 50);
    cr_assert_eq(fs_tcp_stats(t)->connections, 1);
    now = (uint64_t)fs_now_ms();
    fs_tcp_expire(t, now, 0);
    cr_assert_eq(fs_tcp_stats(t)->connections, 1, "0 means never");
    fs_tcp_expire(t, now + 1000, 60000);
    cr_assert_eq(fs_tcp_stats(t)->connections, 1, "not idle long enough");
    fs_tcp_expire(t, now + 61000, 60000);
    cr_assert_eq(fs_tcp_stats(t)->connections, 0);
    cr_assert_eq(fs_tcp_stats(t)->idle_closed, 1);
    cr_assert(closed_by_peer(fd));
    close(fd);
    fs_tcp_close(t);
}
