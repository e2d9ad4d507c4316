/*
 * test_udp_sizes.c - UDP datagrams of every size, from one byte to the
 * largest IPv4 payload, arrive whole and in order, alone or filling a whole
 * receive batch.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proc.h"
#include "udp.h"

#define MAX_DGRAM 65507 /* largest UDP payload over IPv4 */

/* Every byte depends on its datagram and its offset, so a piece out of
 * place or missing shows. */
static uint8_t pattern(size_t dgram, size_t off)
{
    return (uint8_t)(dgram * 131 + off * 7 + (off >> 8) * 13);
}

struct check {
    size_t n;
    size_t want_len[64];
    size_t bad; /* datagrams with a wrong length or content */
};

static void on_dgram(void *arg, const fs_ip *src, const uint8_t *buf, size_t len)
{
    struct check *c = arg;
    size_t i = c->n++;

    (void)src;
    if (i >= 64 || len != c->want_len[i]) {
        c->bad++;
        return;
    }
    for (size_t off = 0; off < len; off++)
        if (buf[off] != pattern(i, off)) {
            c->bad++;
            return;
        }
}

static struct fs_udp *open_loopback(int *port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct sockaddr_in bound;
    socklen_t bl = sizeof(bound);
    char err[256] = "";
    /* Room for every datagram of the test at once: they must queue up and
     * come out of one receive call together. */
    struct fs_udp *u = fs_udp_open((struct sockaddr *)&sa, sizeof(sa), 4 << 20, err,
                                   sizeof(err));

    cr_assert_not_null(u, "%s", err);
    cr_assert_eq(getsockname(fs_udp_fd(u), (struct sockaddr *)&bound, &bl), 0);
    *port = ntohs(bound.sin_port);
    return u;
}

static void send_all(int port, struct check *c, const size_t *sizes, size_t n)
{
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    uint8_t *buf = malloc(MAX_DGRAM);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    cr_assert_not_null(buf);
    cr_assert_geq(fd, 0);
    for (size_t i = 0; i < n; i++) {
        for (size_t off = 0; off < sizes[i]; off++)
            buf[off] = pattern(i, off);
        c->want_len[i] = sizes[i];
        cr_assert_eq(sendto(fd, buf, sizes[i], 0, (struct sockaddr *)&to, sizeof(to)),
                     (ssize_t)sizes[i], "size %zu: %s", sizes[i], strerror(errno));
    }
    close(fd);
    free(buf);
}

static void receive(struct fs_udp *u, struct check *c, size_t want)
{
    long long deadline = fs_now_ms() + 2000;

    while (c->n < want && fs_now_ms() < deadline) {
        struct pollfd p = { .fd = fs_udp_fd(u), .events = POLLIN };

        if (poll(&p, 1, 50) > 0)
            cr_assert_geq(fs_udp_recv(u, on_dgram, c), 0);
    }
}

Test(udp_sizes, every_size_class_arrives_whole)
{
    static const size_t sizes[] = {
        1, 100, 1464, 2047, 2048, 2049, 4096, 9000, 20000, MAX_DGRAM, 3, 2048, 2049, 1400,
    };
    const size_t n = sizeof(sizes) / sizeof(sizes[0]);
    struct check c = { 0 };
    int port;
    struct fs_udp *u = open_loopback(&port);

    send_all(port, &c, sizes, n);
    receive(u, &c, n);
    cr_assert_eq(c.n, n);
    cr_assert_eq(c.bad, 0, "%zu datagrams came out wrong", c.bad);
    cr_assert_eq(fs_udp_stats(u)->datagrams, n);
    cr_assert_eq(fs_udp_stats(u)->truncated, 0);
    fs_udp_close(u);
}

Test(udp_sizes, a_full_batch_of_large_datagrams)
{
    size_t sizes[FS_UDP_BATCH];
    struct check c = { 0 };
    int port;
    struct fs_udp *u = open_loopback(&port);

    /* One receive batch of datagrams all larger than an Ethernet frame. */
    for (size_t i = 0; i < FS_UDP_BATCH; i++)
        sizes[i] = 2049 + i * 97;
    send_all(port, &c, sizes, FS_UDP_BATCH);
    receive(u, &c, FS_UDP_BATCH);
    cr_assert_eq(c.n, FS_UDP_BATCH);
    cr_assert_eq(c.bad, 0, "%zu datagrams came out wrong", c.bad);
    fs_udp_close(u);
}
