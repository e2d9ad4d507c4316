/*
 * test_output.c - reporter/output.h against the test's own receivers on
 * loopback: a UDP socket, TCP listeners (IPv4 and IPv6), unix datagram and
 * stream sockets in a temporary directory, and a file.
 *
 * What must hold: the exact bytes on the wire for each framing; a message
 * larger than the socket buffers goes out whole through partial writes; a
 * receiver that closes or resets the connection is noticed by
 * fs_rp_out_check() and the next send reconnects once the backoff (measured
 * on the caller's clock) has passed; the backoff doubles up to its ceiling
 * and resets after a success; a refused connect or a dead peer is an error
 * with a reason, never a crash or a SIGPIPE; bad options are refused by
 * fs_rp_out_new(). TLS runs against a GnuTLS server thread with a
 * certificate made here for "localhost": framing, a large message through
 * partial writes, a close with and without close_notify, a peer that dies
 * mid-message, and a server that never answers the handshake. TLS against
 * a real syslog server is in test_rsyslog.c.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "output.h"
#include "proc.h"

static char dir[128];
static char err[512];

static void setup(void)
{
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    /* The default action: a write into a dead socket must not end us. */
    signal(SIGPIPE, SIG_DFL);
}

static void teardown(void)
{
    fs_rmtree(dir);
}

TestSuite(output, .init = setup, .fini = teardown, .timeout = 30);

static const char *path_of(const char *name)
{
    static char p[4][256];
    static int k;

    k = (k + 1) % 4;
    snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
    return p[k];
}

/* A socket bound to the loopback address of `family` on `port` (0: any). */
static int bound(int family, int type, int port, int *bound_port)
{
    struct sockaddr_storage ss;
    socklen_t sl = fs_loopback_addr(family, port, &ss);
    int fd = socket(family, type | SOCK_CLOEXEC, 0), one = 1;

    cr_assert_geq(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    cr_assert_eq(bind(fd, (struct sockaddr *)&ss, sl), 0, "bind: %s", strerror(errno));
    if (type == SOCK_STREAM)
        cr_assert_eq(listen(fd, 8), 0);
    sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound_port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static int unix_bound(int type, const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0, "bind %s: %s", path,
                 strerror(errno));
    if (type == SOCK_STREAM)
        cr_assert_eq(listen(fd, 8), 0);
    return fd;
}

static struct fs_rp_out *out_new(enum fs_rp_transport t, const char *host, int port,
                                 const char *path)
{
    char ps[8];
    struct fs_rp_out_opts o = {
        .transport = t, .host = host, .port = ps, .path = path,
        .timeout_ms = 2000, .backoff_max_ms = 4000,
    };
    struct fs_rp_out *out;

    snprintf(ps, sizeof(ps), "%d", port);
    out = fs_rp_out_new(&o, err, sizeof(err));
    cr_assert_not_null(out, "fs_rp_out_new: %s", err);
    return out;
}

static void send_ok(struct fs_rp_out *out, const char *m, uint64_t now)
{
    cr_assert_eq(fs_rp_out_send(out, m, strlen(m), now, err, sizeof(err)), 0, "%s: %s",
                 fs_rp_out_name(out), err);
}

/* Sends and expects failure with `why` in the reason. */
static void send_fails(struct fs_rp_out *out, const char *m, size_t len, uint64_t now,
                       const char *why)
{
    cr_assert_eq(fs_rp_out_send(out, m, len, now, err, sizeof(err)), -1, "%s: sent",
                 fs_rp_out_name(out));
    cr_expect(strstr(err, why) != NULL, "error \"%s\" lacks \"%s\"", err, why);
    cr_expect(strstr(err, fs_rp_out_name(out)) != NULL, "error \"%s\" names no output", err);
}

static int accept_within(int lfd, int ms)
{
    struct pollfd p = { .fd = lfd, .events = POLLIN };

    cr_assert_eq(poll(&p, 1, ms), 1, "no connection came");
    return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* Reads exactly `len` bytes (or fails the test) from a stream. */
static void read_exactly(int fd, char *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;

        cr_assert_eq(poll(&p, 1, 3000), 1, "only %zu of %zu bytes came", got, len);
        n = read(fd, buf + got, len - got);
        cr_assert_gt(n, 0, "stream ended after %zu of %zu bytes", got, len);
        got += (size_t)n;
    }
}

static void expect_stream(int fd, const char *want, size_t len)
{
    char *buf = malloc(len + 1);
    struct pollfd p = { .fd = fd, .events = POLLIN };

    read_exactly(fd, buf, len);
    cr_expect_eq(memcmp(buf, want, len), 0, "stream bytes differ");
    cr_expect_eq(poll(&p, 1, 100), 0, "more bytes than expected on the stream");
    free(buf);
}

static void expect_dgram(int fd, const char *want, size_t len)
{
    char buf[70000];
    struct pollfd p = { .fd = fd, .events = POLLIN };
    ssize_t n;

    cr_assert_eq(poll(&p, 1, 2000), 1, "no datagram came");
    n = recv(fd, buf, sizeof(buf), 0);
    cr_assert_eq(n, (ssize_t)len, "datagram of %zd bytes, want %zu", n, len);
    cr_expect_eq(memcmp(buf, want, len), 0, "datagram bytes differ");
}

static void expect_nothing(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    cr_expect_eq(poll(&p, 1, 100), 0, "something arrived that should not have");
}

Test(output, transport_names)
{
    static const char *names[] = { "udp", "tcp", "tls", "unix", "file" };
    enum fs_rp_transport t;

    for (int i = 0; i < 5; i++) {
        cr_assert_eq(fs_rp_transport_parse(names[i], &t), 0, "%s", names[i]);
        cr_expect_eq((int)t, i);
    }
    cr_expect_eq(fs_rp_transport_parse("syslog", &t), -1);
    cr_expect_eq(fs_rp_transport_parse("TCP", &t), -1);
    cr_expect_eq(fs_rp_transport_parse("", &t), -1);
    cr_expect_eq(fs_rp_transport_parse(NULL, &t), -1);
}

/* Options that fs_rp_out_new() must refuse, each with a reason that
 * contains `why`. */
static void refused(const struct fs_rp_out_opts *o, const char *why)
{
    err[0] = '\0';
    cr_expect_null(fs_rp_out_new(o, err, sizeof(err)), "accepted (want \"%s\")", why);
    cr_expect(strstr(err, why) != NULL, "error \"%s\" lacks \"%s\"", err, why);
}

Test(output, bad_options_refused)
{
    char longpath[200];
    FILE *f = fopen(path_of("junk.pem"), "w");

    cr_assert_not_null(f);
    fputs("this is not a certificate\n", f);
    fclose(f);
    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';

    refused(&(struct fs_rp_out_opts){ .transport = (enum fs_rp_transport)9, .host = "h",
                                      .port = "1" }, "unknown transport");
    refused(&(struct fs_rp_out_opts){ .transport = FS_RP_T_TCP, .port = "514" }, "host");
    refused(&(struct fs_rp_out_opts){ .transport = FS_RP_T_UDP, .host = "127.0.0.1" }, "port");
    refused(&(struct fs_rp_out_opts){ .transport = FS_RP_T_TCP, .host = "h", .port = "70000" },
            "bad port \"70000\"");
    refused(&(struct fs_rp_out_opts){ .transport = FS_RP_T_TCP, .host = "h", .port = "51x" },
            "bad port");
    refused(&(struct fs_rp_out_opts){ .transport = FS_RP_T_FILE }, "path");
    refused(&(struct fs_rp_out_opts){ .transport = FS_RP_T_UNIX, .path = longpath },
            "bad socket path");
    refused(&(struct fs_rp_out_opts){ .transport = FS_RP_T_TLS, .host = "localhost",
                                      .port = "6514", .ca_file = path_of("missing.pem") },
            "missing.pem: No such file or directory");
    refused(&(struct fs_rp_out_opts){ .transport = FS_RP_T_TLS, .host = "localhost",
                                      .port = "6514", .ca_file = path_of("junk.pem") },
            "junk.pem");
    refused(&(struct fs_rp_out_opts){ .transport = FS_RP_T_TLS, .host = "localhost",
                                      .port = "6514", .ca_file = path_of("junk.pem"),
                                      .cert_file = path_of("junk.pem") },
            "cert_file and key_file");
    /* A CA on a plain TCP output: almost certainly TLS was meant. */
    refused(&(struct fs_rp_out_opts){ .transport = FS_RP_T_TCP, .host = "h", .port = "514",
                                      .ca_file = path_of("junk.pem") }, "tls only");
    refused(&(struct fs_rp_out_opts){ .transport = FS_RP_T_UDP, .host = "h", .port = "514",
                                      .insecure = true }, "tls only");
}

Test(output, good_options_and_names)
{
    struct fs_rp_out_opts o = { .transport = FS_RP_T_UNIX };
    struct fs_rp_out *out = fs_rp_out_new(&o, err, sizeof(err));

    cr_assert_not_null(out, "%s", err);
    cr_expect_str_eq(fs_rp_out_name(out), "unix /dev/log");
    cr_expect_not(fs_rp_out_connected(out), "connected before the first send");
    fs_rp_out_free(out);

    o = (struct fs_rp_out_opts){ .transport = FS_RP_T_TLS, .host = "::1", .port = "syslog-tls",
                                 .insecure = true };
    out = fs_rp_out_new(&o, err, sizeof(err));
    cr_assert_not_null(out, "%s", err);
    cr_expect_str_eq(fs_rp_out_name(out), "tls [::1]:syslog-tls");
    fs_rp_out_free(out);

    o = (struct fs_rp_out_opts){ .transport = FS_RP_T_UDP, .host = "localhost", .port = "514" };
    out = fs_rp_out_new(&o, err, sizeof(err));
    cr_assert_not_null(out, "%s", err);
    cr_expect_str_eq(fs_rp_out_name(out), "udp localhost:514");
    cr_expect(fs_rp_out_connected(out), "UDP counts as always connected");
    fs_rp_out_free(out);
}

Test(output, udp_one_datagram_per_message)
{
    int port, fd = bound(AF_INET, SOCK_DGRAM, 0, &port);
    struct fs_rp_out *out = out_new(FS_RP_T_UDP, "127.0.0.1", port, NULL);
    char *big = malloc(FS_RP_DGRAM_MAX + 1);

    send_ok(out, "<134>1 - h a - - - one", 0);
    send_ok(out, "<134>1 - h a - - - two\nlines", 0);
    expect_dgram(fd, "<134>1 - h a - - - one", 22);
    expect_dgram(fd, "<134>1 - h a - - - two\nlines", 28);

    memset(big, 'x', FS_RP_DGRAM_MAX + 1);
    cr_assert_eq(fs_rp_out_send(out, big, FS_RP_DGRAM_MAX, 0, err, sizeof(err)), 0, "%s", err);
    expect_dgram(fd, big, FS_RP_DGRAM_MAX);
    /* One byte more is refused whole, not cut. */
    send_fails(out, big, FS_RP_DGRAM_MAX + 1, 0, "longer than a datagram");
    send_fails(out, "", 0, 0, "is empty");
    expect_nothing(fd);

    cr_expect_eq(fs_rp_out_counters(out)->sent, 3);
    cr_expect_eq(fs_rp_out_counters(out)->bytes, 22 + 28 + FS_RP_DGRAM_MAX);
    cr_expect_eq(fs_rp_out_counters(out)->errors, 2);
    cr_expect(fs_rp_out_connected(out));
    free(big);
    fs_rp_out_free(out);
    close(fd);
}

/* Nobody on the port: the kernel reports the ICMP error on the next send
 * of the connected socket, which then fails and backs off like any other
 * failure; after the backoff a fresh socket sends again. */
Test(output, udp_port_unreachable)
{
    int port = fs_free_port(AF_INET, SOCK_DGRAM), fd;
    struct fs_rp_out *out;

    cr_assert_neq(port, 0);
    out = out_new(FS_RP_T_UDP, "127.0.0.1", port, NULL);
    send_ok(out, "into the void", 0);
    usleep(50 * 1000);
    send_fails(out, "refused", 7, 100, "Connection refused");
    cr_expect_eq(fs_rp_out_backoff_left(out, 100), 500);
    send_fails(out, "waiting", 7, 599, "waiting to reconnect");
    fd = bound(AF_INET, SOCK_DGRAM, port, &port);
    send_ok(out, "back", 600);
    expect_dgram(fd, "back", 4);
    cr_expect_eq(fs_rp_out_counters(out)->sent, 2);
    cr_expect_eq(fs_rp_out_counters(out)->errors, 1);
    cr_expect_eq(fs_rp_out_counters(out)->disconnects, 0, "UDP has no connection to lose");
    fs_rp_out_free(out);
    close(fd);
}

Test(output, tcp_octet_counting_bytes)
{
    int port, lfd = bound(AF_INET, SOCK_STREAM, 0, &port), c;
    struct fs_rp_out *out = out_new(FS_RP_T_TCP, "127.0.0.1", port, NULL);
    static const char want[] = "5 hello11 hello world9 two\nlines2 \0x";

    cr_expect_not(fs_rp_out_connected(out));
    send_ok(out, "hello", 0);
    send_ok(out, "hello world", 0);
    send_ok(out, "two\nlines", 0);
    cr_assert_eq(fs_rp_out_send(out, "\0x", 2, 0, err, sizeof(err)), 0, "%s", err);
    cr_expect(fs_rp_out_connected(out));
    c = accept_within(lfd, 1000);
    expect_stream(c, want, sizeof(want) - 1);
    cr_expect_eq(fs_rp_out_counters(out)->connects, 1);
    cr_expect_eq(fs_rp_out_counters(out)->sent, 4);
    cr_expect_eq(fs_rp_out_counters(out)->bytes, 5 + 11 + 9 + 2);
    cr_expect_eq(fs_rp_out_check(out, err, sizeof(err)), 0, "%s", err);
    fs_rp_out_free(out);
    close(c);
    close(lfd);
}

Test(output, tcp_ipv6)
{
    int port, lfd = bound(AF_INET6, SOCK_STREAM, 0, &port), c, uport;
    int ufd = bound(AF_INET6, SOCK_DGRAM, 0, &uport);
    struct fs_rp_out *out = out_new(FS_RP_T_TCP, "::1", port, NULL);
    struct fs_rp_out *uout = out_new(FS_RP_T_UDP, "::1", uport, NULL);
    char name[64];

    snprintf(name, sizeof(name), "tcp [::1]:%d", port);
    cr_expect_str_eq(fs_rp_out_name(out), name);
    send_ok(out, "<13>1 - v6 a - - - over IPv6", 0);
    c = accept_within(lfd, 1000);
    expect_stream(c, "28 <13>1 - v6 a - - - over IPv6", 31);
    send_ok(uout, "datagram over IPv6", 0);
    expect_dgram(ufd, "datagram over IPv6", 18);
    fs_rp_out_free(out);
    fs_rp_out_free(uout);
    close(c);
    close(lfd);
    close(ufd);
}

struct reader {
    int fd;
    size_t want, got, stop_after; /* stop_after: close early (0: read all) */
    char *buf;
};

/* Reads slowly in small pieces, so that the sender meets a full socket
 * buffer many times over. With `stop_after`, it half-closes midway and
 * then closes with data unread: the RST finds the sender in CLOSE_WAIT,
 * where the kernel answers its next write with EPIPE, and SIGPIPE unless
 * the sender asked for none. */
static void *slow_reader(void *arg)
{
    struct reader *r = arg;
    bool half_closed = false;

    while (r->got < r->want && (r->stop_after == 0 || r->got < r->stop_after)) {
        if (r->stop_after != 0 && !half_closed && r->got >= r->stop_after / 2) {
            shutdown(r->fd, SHUT_WR);
            half_closed = true;
        }
        size_t chunk = r->want - r->got < 4096 ? r->want - r->got : 4096;
        ssize_t n = read(r->fd, r->buf + r->got, chunk);

        if (n <= 0)
            break;
        r->got += (size_t)n;
        if (r->got % (256 * 1024) < 4096)
            usleep(1000);
    }
    if (r->stop_after != 0)
        close(r->fd);
    return NULL;
}

static void small_buffers(int fd)
{
    int sz = 4096;

    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

Test(output, tcp_partial_writes)
{
    int port, lfd = bound(AF_INET, SOCK_STREAM, 0, &port);
    struct fs_rp_out *out = out_new(FS_RP_T_TCP, "127.0.0.1", port, NULL);
    size_t len = 3u << 20;
    char *msg = malloc(len), hdr[16];
    struct reader r = { .want = len + 8 };
    pthread_t th;

    for (size_t i = 0; i < len; i++)
        msg[i] = (char)('a' + i % 26);
    small_buffers(lfd);
    send_ok(out, "x", 0); /* connects */
    r.fd = accept_within(lfd, 1000);
    expect_stream(r.fd, "1 x", 3);
    r.buf = malloc(r.want);
    pthread_create(&th, NULL, slow_reader, &r);
    cr_assert_eq(fs_rp_out_send(out, msg, len, 0, err, sizeof(err)), 0, "%s", err);
    pthread_join(th, NULL);
    cr_assert_eq(r.got, r.want, "the reader got %zu of %zu bytes", r.got, r.want);
    snprintf(hdr, sizeof(hdr), "%zu ", len);
    cr_expect_eq(memcmp(r.buf, hdr, 8), 0);
    cr_expect_eq(memcmp(r.buf + 8, msg, len), 0, "the large message arrived changed");
    cr_expect_eq(fs_rp_out_counters(out)->sent, 2);
    free(r.buf);
    free(msg);
    close(r.fd);
    fs_rp_out_free(out);
    close(lfd);
}

Test(output, peer_dies_mid_message_no_sigpipe)
{
    int port, lfd = bound(AF_INET, SOCK_STREAM, 0, &port);
    struct fs_rp_out *out = out_new(FS_RP_T_TCP, "127.0.0.1", port, NULL);
    size_t len = 8u << 20;
    char *msg = malloc(len);
    struct reader r = { .want = len, .stop_after = 64 * 1024 };
    pthread_t th;

    memset(msg, 'z', len);
    small_buffers(lfd);
    send_ok(out, "x", 1000);
    r.fd = accept_within(lfd, 1000);
    r.buf = malloc(r.want);
    pthread_create(&th, NULL, slow_reader, &r);
    send_fails(out, msg, len, 1000, "send");
    pthread_join(th, NULL);
    cr_expect_not(fs_rp_out_connected(out));
    cr_expect_eq(fs_rp_out_counters(out)->disconnects, 1);
    cr_expect_eq(fs_rp_out_counters(out)->errors, 1);
    cr_expect_eq(fs_rp_out_backoff_left(out, 1000), 500);
    free(r.buf);
    free(msg);
    fs_rp_out_free(out);
    close(lfd);
}

Test(output, send_times_out_when_nobody_reads)
{
    int port, lfd = bound(AF_INET, SOCK_STREAM, 0, &port), c;
    struct fs_rp_out_opts o = { .transport = FS_RP_T_TCP, .host = "127.0.0.1", .port = NULL,
                                .timeout_ms = 300 };
    char ps[8];
    struct fs_rp_out *out;
    size_t len = 16u << 20;
    char *msg = malloc(len);
    long long t0;

    snprintf(ps, sizeof(ps), "%d", port);
    o.port = ps;
    out = fs_rp_out_new(&o, err, sizeof(err));
    cr_assert_not_null(out, "%s", err);
    memset(msg, 'q', len);
    small_buffers(lfd);
    send_ok(out, "x", 0);
    c = accept_within(lfd, 1000);
    t0 = fs_now_ms();
    send_fails(out, msg, len, 0, "timed out");
    cr_expect_geq(fs_now_ms() - t0, 290);
    cr_expect_lt(fs_now_ms() - t0, 2000, "the timeout did not bound the send");
    cr_expect_not(fs_rp_out_connected(out));
    free(msg);
    fs_rp_out_free(out);
    close(c);
    close(lfd);
}

/* The receiver closes (FIN) or resets (RST) the connection: check()
 * notices, the next send waits for the backoff, then reconnects. */
static void receiver_leaves(bool reset)
{
    int port, lfd = bound(AF_INET, SOCK_STREAM, 0, &port), c;
    struct fs_rp_out *out = out_new(FS_RP_T_TCP, "127.0.0.1", port, NULL);
    const char *why = reset ? "reset" : "closed";

    send_ok(out, "first", 10000);
    c = accept_within(lfd, 1000);
    expect_stream(c, "5 first", 7);
    cr_expect_eq(fs_rp_out_check(out, err, sizeof(err)), 0, "%s", err);
    if (reset) {
        struct linger lg = { 1, 0 };

        setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(c);
    usleep(50 * 1000);
    cr_assert_eq(fs_rp_out_check(out, err, sizeof(err)), -1, "%s not noticed", why);
    cr_expect(strstr(err, why) != NULL, "error \"%s\" lacks \"%s\"", err, why);
    cr_expect_not(fs_rp_out_connected(out));
    cr_expect_eq(fs_rp_out_counters(out)->disconnects, 1);
    cr_expect_eq(fs_rp_out_check(out, err, sizeof(err)), 0, "nothing left to check");

    /* The failure counts from the caller's last clock reading (10000). */
    cr_expect_eq(fs_rp_out_backoff_left(out, 10100), 400);
    send_fails(out, "second", 6, 10499, "waiting to reconnect");
    cr_expect_eq(fs_rp_out_counters(out)->connects, 1);
    send_ok(out, "second", 10500);
    cr_expect_eq(fs_rp_out_counters(out)->connects, 2);
    c = accept_within(lfd, 1000);
    expect_stream(c, "6 second", 8);
    cr_expect_eq(fs_rp_out_counters(out)->sent, 2);
    cr_expect_eq(fs_rp_out_backoff_left(out, 10500), 0);
    fs_rp_out_free(out);
    close(c);
    close(lfd);
}

Test(output, reconnect_after_close) { receiver_leaves(false); }
Test(output, reconnect_after_reset) { receiver_leaves(true); }

Test(output, send_notices_closed_peer_first)
{
    int port, lfd = bound(AF_INET, SOCK_STREAM, 0, &port), c;
    struct fs_rp_out *out = out_new(FS_RP_T_TCP, "127.0.0.1", port, NULL);

    send_ok(out, "first", 0);
    c = accept_within(lfd, 1000);
    expect_stream(c, "5 first", 7); /* read, so the close is a FIN, not a RST */
    close(c);
    usleep(50 * 1000);
    /* Written into the dead socket, it would vanish without an error. */
    send_fails(out, "lost?", 5, 100, "closed");
    cr_expect_eq(fs_rp_out_counters(out)->disconnects, 1);
    cr_expect_eq(fs_rp_out_counters(out)->sent, 1);
    fs_rp_out_free(out);
    close(lfd);
}

Test(output, backoff_doubles_to_ceiling_and_resets)
{
    int port = fs_free_port(AF_INET, SOCK_STREAM), lfd, c;
    struct fs_rp_out *out;
    /* Attempt times: each one the moment the previous backoff ends. */
    static const uint64_t waits[] = { 500, 1000, 2000, 4000, 4000 };
    uint64_t now = 1000;

    cr_assert_neq(port, 0);
    out = out_new(FS_RP_T_TCP, "127.0.0.1", port, NULL); /* ceiling 4000 */
    send_fails(out, "m", 1, now, "Connection refused");
    cr_expect(strstr(err, "connect") != NULL, "%s", err);
    for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
        cr_expect_eq(fs_rp_out_backoff_left(out, now), waits[i], "backoff %zu", i);
        send_fails(out, "m", 1, now + waits[i] - 1, "waiting to reconnect");
        now += waits[i];
        send_fails(out, "m", 1, now, "Connection refused");
    }
    cr_expect_eq(fs_rp_out_counters(out)->errors, 6, "waiting is not a failed send");
    cr_expect_eq(fs_rp_out_counters(out)->connects, 0);
    cr_expect_eq(fs_rp_out_counters(out)->disconnects, 0);

    lfd = bound(AF_INET, SOCK_STREAM, port, &port);
    now += 4000;
    send_ok(out, "m", now);
    c = accept_within(lfd, 1000);
    expect_stream(c, "1 m", 3);
    close(c);
    usleep(50 * 1000);
    cr_expect_eq(fs_rp_out_check(out, err, sizeof(err)), -1);
    cr_expect_eq(fs_rp_out_backoff_left(out, now), 500, "a success resets the backoff");
    fs_rp_out_free(out);
    close(lfd);
}

Test(output, unresolvable_host)
{
    struct fs_rp_out *out = out_new(FS_RP_T_TCP, "no-such-host.invalid", 514, NULL);

    send_fails(out, "m", 1, 0, "cannot resolve");
    cr_expect_eq(fs_rp_out_backoff_left(out, 0), 500);
    fs_rp_out_free(out);
}

Test(output, unix_datagram_and_receiver_restart)
{
    const char *p = path_of("log.sock");
    int fd = unix_bound(SOCK_DGRAM, p);
    struct fs_rp_out *out = out_new(FS_RP_T_UNIX, NULL, 0, p);

    send_ok(out, "<14>Jan  1 00:00:00 h app: one", 0);
    send_ok(out, "<14>Jan  1 00:00:00 h app: two", 0);
    expect_dgram(fd, "<14>Jan  1 00:00:00 h app: one", 30);
    expect_dgram(fd, "<14>Jan  1 00:00:00 h app: two", 30);
    cr_expect(fs_rp_out_connected(out));
    cr_expect_eq(fs_rp_out_counters(out)->connects, 1);

    /* The receiver goes away and comes back (a restarted syslog daemon). */
    close(fd);
    unlink(p);
    send_fails(out, "gone", 4, 100, "send");
    cr_expect_eq(fs_rp_out_counters(out)->disconnects, 1);
    send_fails(out, "gone", 4, 700, "connect");
    fd = unix_bound(SOCK_DGRAM, p);
    send_fails(out, "back", 4, 1699, "waiting");
    send_ok(out, "back", 1700);
    expect_dgram(fd, "back", 4);
    cr_expect_eq(fs_rp_out_counters(out)->connects, 2);
    fs_rp_out_free(out);
    close(fd);
}

Test(output, unix_stream_fallback_nul_terminated)
{
    const char *p = path_of("stream.sock");
    int lfd = unix_bound(SOCK_STREAM, p), c;
    struct fs_rp_out *out = out_new(FS_RP_T_UNIX, NULL, 0, p);

    send_ok(out, "<14>one", 0);
    send_ok(out, "<14>two\nlines", 0);
    c = accept_within(lfd, 1000);
    expect_stream(c, "<14>one\0<14>two\nlines\0", 22);
    send_fails(out, "a\0b", 3, 0, "NUL");
    close(c);
    usleep(50 * 1000);
    cr_expect_eq(fs_rp_out_check(out, err, sizeof(err)), -1, "closed stream not noticed");
    fs_rp_out_free(out);
    close(lfd);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 4096);

    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_geq(fread(buf, 1, 4095, f), 0u);
    fclose(f);
    return buf;
}

Test(output, file_lines_and_rotation)
{
    const char *p = path_of("alerts.log");
    struct fs_rp_out *out = out_new(FS_RP_T_FILE, NULL, 0, p);
    char *text;

    cr_expect(fs_rp_out_connected(out));
    send_ok(out, "{\"event_type\":\"anomaly\",\"n\":1}", 0);
    send_ok(out, "{\"event_type\":\"anomaly\",\"n\":2}", 0);
    send_fails(out, "two\nlines", 9, 0, "line feed");
    text = slurp(p);
    cr_expect_str_eq(text, "{\"event_type\":\"anomaly\",\"n\":1}\n"
                           "{\"event_type\":\"anomaly\",\"n\":2}\n");
    free(text);

    /* Rotated away: the next line starts a new file. */
    cr_assert_eq(rename(p, path_of("alerts.log.1")), 0);
    send_ok(out, "after rotation", 0);
    text = slurp(p);
    cr_expect_str_eq(text, "after rotation\n");
    free(text);
    text = slurp(path_of("alerts.log.1"));
    cr_expect(strstr(text, "after rotation") == NULL, "written to the rotated file");
    free(text);
    cr_expect_eq(fs_rp_out_counters(out)->sent, 3);
    cr_expect_eq(fs_rp_out_counters(out)->errors, 1);
    fs_rp_out_free(out);
}

Test(output, file_unwritable_directory)
{
    struct fs_rp_out *out = out_new(FS_RP_T_FILE, NULL, 0, path_of("no/such/dir/a.log"));

    send_fails(out, "m", 1, 0, "No such file or directory");
    cr_expect_eq(fs_rp_out_backoff_left(out, 0), 500);
    fs_rp_out_free(out);
}

/* ------------------------------------------------------------------ */
/* TLS against a GnuTLS server thread. */

static void write_datum(const char *path, const gnutls_datum_t *d)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    cr_assert_eq(fwrite(d->data, 1, d->size, f), d->size);
    fclose(f);
}

/* A self-signed certificate for DNS:localhost, trusted by the client as
 * its own CA file: cert.pem and key.pem in the test directory. */
static void make_cert(void)
{
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    gnutls_datum_t d;
    time_t now = time(NULL);

    cr_assert_eq(gnutls_x509_privkey_init(&key), 0);
    cr_assert_eq(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
    cr_assert_eq(gnutls_x509_crt_init(&crt), 0);
    gnutls_x509_crt_set_version(crt, 3);
    gnutls_x509_crt_set_serial(crt, "\x01", 1);
    gnutls_x509_crt_set_activation_time(crt, now - 60);
    gnutls_x509_crt_set_expiration_time(crt, now + 3600);
    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "localhost", 9);
    gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                         GNUTLS_FSAN_SET);
    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_CERT_SIGN);
    gnutls_x509_crt_set_basic_constraints(crt, 1, -1);
    cr_assert_eq(gnutls_x509_crt_set_key(crt, key), 0);
    cr_assert_eq(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), 0);
    cr_assert_eq(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d), 0);
    write_datum(path_of("cert.pem"), &d);
    gnutls_free(d.data);
    cr_assert_eq(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d), 0);
    write_datum(path_of("key.pem"), &d);
    gnutls_free(d.data);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
}

enum tls_end { END_CLIENT, END_BYE, END_CLOSE, END_RESET_HALF_CLOSED };

struct tls_srv {
    int lfd;
    size_t limit;      /* bytes to read before ending (0: until the client closes) */
    enum tls_end end;
    int handshake;     /* gnutls_handshake()'s result */
    char *buf;
    size_t len;
};

static void *tls_server(void *arg)
{
    struct tls_srv *t = arg;
    gnutls_certificate_credentials_t cred;
    gnutls_session_t s;
    char tmp[4096];
    int fd = accept_within(t->lfd, 3000);
    bool half = false;

    gnutls_certificate_allocate_credentials(&cred);
    gnutls_certificate_set_x509_key_file(cred, path_of("cert.pem"), path_of("key.pem"),
                                         GNUTLS_X509_FMT_PEM);
    gnutls_init(&s, GNUTLS_SERVER);
    gnutls_set_default_priority(s);
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
    gnutls_transport_set_int(s, fd);
    gnutls_handshake_set_timeout(s, 3000);
    do
        t->handshake = gnutls_handshake(s);
    while (t->handshake < 0 && !gnutls_error_is_fatal(t->handshake));
    while (t->handshake == 0 && (t->limit == 0 || t->len < t->limit)) {
        size_t want = t->limit && t->limit - t->len < sizeof(tmp) ? t->limit - t->len
                                                                   : sizeof(tmp);
        ssize_t n = gnutls_record_recv(s, tmp, want);

        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            continue;
        if (n <= 0)
            break;
        t->buf = realloc(t->buf, t->len + (size_t)n);
        memcpy(t->buf + t->len, tmp, (size_t)n);
        t->len += (size_t)n;
        if (t->end == END_RESET_HALF_CLOSED && !half && t->len >= t->limit / 2) {
            shutdown(fd, SHUT_WR);
            half = true;
        }
    }
    if (t->end == END_BYE)
        gnutls_bye(s, GNUTLS_SHUT_WR);
    close(fd);
    gnutls_deinit(s);
    gnutls_certificate_free_credentials(cred);
    return NULL;
}

static struct fs_rp_out *tls_out(int port, uint32_t timeout_ms)
{
    char ps[8];
    struct fs_rp_out_opts o = { .transport = FS_RP_T_TLS, .host = "localhost", .port = ps,
                                .ca_file = path_of("cert.pem"), .timeout_ms = timeout_ms };
    struct fs_rp_out *out;

    snprintf(ps, sizeof(ps), "%d", port);
    out = fs_rp_out_new(&o, err, sizeof(err));
    cr_assert_not_null(out, "%s", err);
    return out;
}

Test(output, tls_framing_and_partial_writes)
{
    int port, lfd = bound(AF_INET, SOCK_STREAM, 0, &port);
    struct tls_srv t = { .lfd = lfd, .end = END_CLIENT };
    struct fs_rp_out *out;
    size_t len = 2u << 20;
    char *msg = malloc(len), hdr[16];
    pthread_t th;

    make_cert();
    small_buffers(lfd);
    for (size_t i = 0; i < len; i++)
        msg[i] = (char)('A' + i % 26);
    out = tls_out(port, 5000);
    pthread_create(&th, NULL, tls_server, &t);
    send_ok(out, "two\nlines", 0);
    cr_expect_eq(fs_rp_out_check(out, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(fs_rp_out_send(out, msg, len, 0, err, sizeof(err)), 0, "%s", err);
    fs_rp_out_free(out); /* closes: the server's read loop ends */
    pthread_join(th, NULL);
    cr_assert_eq(t.handshake, 0, "server handshake: %s", gnutls_strerror(t.handshake));
    cr_assert_eq(t.len, 11 + 8 + len, "server got %zu bytes", t.len);
    cr_expect_eq(memcmp(t.buf, "9 two\nlines", 11), 0);
    snprintf(hdr, sizeof(hdr), "%zu ", len);
    cr_expect_eq(memcmp(t.buf + 11, hdr, 8), 0);
    cr_expect_eq(memcmp(t.buf + 19, msg, len), 0, "the large message arrived changed");
    free(t.buf);
    free(msg);
    close(lfd);
}

/* The server reads the first message and leaves, with or without a
 * close_notify: check() notices either way. */
static void tls_server_leaves(enum tls_end end, const char *why)
{
    int port, lfd = bound(AF_INET, SOCK_STREAM, 0, &port);
    struct tls_srv t = { .lfd = lfd, .limit = 7, .end = end };
    struct fs_rp_out *out;
    pthread_t th;
    long long deadline;

    make_cert();
    out = tls_out(port, 3000);
    pthread_create(&th, NULL, tls_server, &t);
    send_ok(out, "hello", 5000);
    pthread_join(th, NULL);
    cr_expect_eq(t.len, 7);
    deadline = fs_now_ms() + 2000;
    while (fs_rp_out_check(out, err, sizeof(err)) == 0) {
        cr_assert_lt(fs_now_ms(), deadline, "the server's leaving was not noticed");
        usleep(10 * 1000);
    }
    cr_expect(strstr(err, why) != NULL, "error \"%s\" lacks \"%s\"", err, why);
    cr_expect_not(fs_rp_out_connected(out));
    cr_expect_eq(fs_rp_out_counters(out)->disconnects, 1);
    cr_expect_eq(fs_rp_out_backoff_left(out, 5000), 500);
    free(t.buf);
    fs_rp_out_free(out);
    close(lfd);
}

Test(output, tls_close_notify_noticed) { tls_server_leaves(END_BYE, "closed the connection"); }
Test(output, tls_plain_close_noticed) { tls_server_leaves(END_CLOSE, "connection lost"); }

Test(output, tls_peer_dies_mid_message_no_sigpipe)
{
    int port, lfd = bound(AF_INET, SOCK_STREAM, 0, &port);
    struct tls_srv t = { .lfd = lfd, .limit = 64 * 1024, .end = END_RESET_HALF_CLOSED };
    struct fs_rp_out *out;
    size_t len = 8u << 20;
    char *msg = malloc(len);
    pthread_t th;

    make_cert();
    small_buffers(lfd);
    memset(msg, 'z', len);
    out = tls_out(port, 3000);
    pthread_create(&th, NULL, tls_server, &t);
    send_fails(out, msg, len, 0, "send");
    pthread_join(th, NULL);
    cr_expect_eq(t.handshake, 0);
    cr_expect_not(fs_rp_out_connected(out));
    cr_expect_eq(fs_rp_out_counters(out)->connects, 1);
    cr_expect_eq(fs_rp_out_counters(out)->disconnects, 1);
    free(t.buf);
    free(msg);
    fs_rp_out_free(out);
    close(lfd);
}

Test(output, tls_handshake_times_out)
{
    int port, lfd = bound(AF_INET, SOCK_STREAM, 0, &port);
    struct fs_rp_out *out;
    long long t0;

    make_cert();
    out = tls_out(port, 300);
    t0 = fs_now_ms();
    /* The kernel completes the TCP connect from the backlog; nobody ever
     * answers the ClientHello. */
    send_fails(out, "m", 1, 0, "TLS handshake");
    cr_expect(strstr(err, "timed out") != NULL, "%s", err);
    cr_expect_geq(fs_now_ms() - t0, 290);
    cr_expect_lt(fs_now_ms() - t0, 2000, "the timeout did not bound the handshake");
    cr_expect_eq(fs_rp_out_counters(out)->connects, 0);
    cr_expect_not(fs_rp_out_connected(out));
    fs_rp_out_free(out);
    close(lfd);
}

Test(output, tls_client_certificate_files)
{
    struct fs_rp_out_opts o = { .transport = FS_RP_T_TLS, .host = "localhost", .port = "6514" };
    struct fs_rp_out *out;

    make_cert();
    o.ca_file = o.cert_file = path_of("cert.pem");
    o.key_file = path_of("key.pem");
    out = fs_rp_out_new(&o, err, sizeof(err));
    cr_expect_not_null(out, "a client certificate and its key: %s", err);
    fs_rp_out_free(out);

    /* Certificate and key swapped. (A PEM block of broken base64 would do
     * too, but GnuTLS 3.7.9 leaks the certificate it was parsing then.) */
    o.cert_file = path_of("key.pem");
    refused(&o, "cert_file");
    o.cert_file = path_of("cert.pem");
    o.key_file = path_of("nokey.pem");
    refused(&o, "nokey.pem: No such file or directory");
}
