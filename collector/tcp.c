/*
 * tcp.c - IPFIX over TCP: accept exporters, frame their message streams.
 *
 * Each connection owns one buffer of FS_TCP_MSG_MAX bytes, the largest
 * message the 16-bit length field can describe, so a complete message
 * always fits and memory stays bounded by the connection limit. Reads fill
 * the buffer, complete messages are handed on in place, and the unfinished
 * tail moves to the front.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tcp.h"
#include "udp.h"

#define IPFIX_HDR 16
#define READS_PER_WAKE 16 /* fairness: one busy exporter cannot starve the rest */

struct conn {
    int fd;             /* -1: free slot */
    fs_ip peer;
    char name[64];      /* "192.0.2.1:40123" for logs */
    uint64_t last_ms;
    size_t used;
    uint8_t *buf;
};

struct fs_tcp {
    int fd;
    char name[80];
    struct fs_tcp_handler h;
    size_t max;
    struct conn *conns;
    struct fs_tcp_stats st;
};

struct fs_tcp *fs_tcp_open(const struct sockaddr *sa, socklen_t salen, size_t max_conns,
                           const struct fs_tcp_handler *h, char *err, size_t errlen)
{
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    struct fs_tcp *t = calloc(1, sizeof(*t));

    if (t == NULL || (t->conns = calloc(max_conns, sizeof(*t->conns))) == NULL) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->h = *h;
    t->max = max_conns;
    for (size_t i = 0; i < max_conns; i++)
        t->conns[i].fd = -1;
    t->fd = fs_bind_socket(SOCK_STREAM, sa, salen);
    if (t->fd < 0 || listen(t->fd, 64) < 0) {
        char name[80];

        fs_sockaddr_name("tcp", sa, name, sizeof(name));
        snprintf(err, errlen, "%s: %s", name, strerror(errno));
        if (t->fd >= 0)
            close(t->fd);
        free(t->conns);
        free(t);
        return NULL;
    }
    if (getsockname(t->fd, (struct sockaddr *)&bound, &blen) == 0)
        fs_sockaddr_name("tcp", (struct sockaddr *)&bound, t->name, sizeof(t->name));
    else
        fs_sockaddr_name("tcp", sa, t->name, sizeof(t->name));
    return t;
}

static void conn_close(struct fs_tcp *t, struct conn *c, const char *why)
{
    fs_log(FS_LOG_INFO, "%s: exporter %s disconnected: %s", t->name, c->name, why);
    close(c->fd);
    free(c->buf);
    c->fd = -1;
    c->buf = NULL;
    c->used = 0;
    t->st.closed++;
    t->st.connections--;
}

void fs_tcp_close(struct fs_tcp *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->max; i++)
        if (t->conns[i].fd >= 0)
            conn_close(t, &t->conns[i], "shutting down");
    close(t->fd);
    free(t->conns);
    free(t);
}

const char *fs_tcp_name(const struct fs_tcp *t) { return t->name; }
const struct fs_tcp_stats *fs_tcp_stats(const struct fs_tcp *t) { return &t->st; }

size_t fs_tcp_pollfds(const struct fs_tcp *t, struct pollfd *pfd, size_t cap)
{
    size_t n = 0;

    if (cap == 0)
        return 0;
    pfd[n++] = (struct pollfd){ .fd = t->fd, .events = POLLIN };
    for (size_t i = 0; i < t->max && n < cap; i++)
        if (t->conns[i].fd >= 0)
            pfd[n++] = (struct pollfd){ .fd = t->conns[i].fd, .events = POLLIN };
    return n;
}

/* Returns false when there was nothing (more) to accept. */
static bool accept_one(struct fs_tcp *t, uint64_t now_ms)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    struct conn *c = NULL;
    fs_ip peer;
    uint16_t port = 0;
    char addr[FS_IP_STRLEN];
    int fd = accept4(t->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
            errno != ECONNABORTED)
            fs_log(FS_LOG_WARNING, "%s: accept: %s", t->name, strerror(errno));
        return false;
    }
    if (fs_sockaddr_to_ip((struct sockaddr *)&ss, &peer, &port) < 0) {
        close(fd);
        return true;
    }
    fs_ip_format(&peer, addr);
    if (t->h.accept != NULL && !t->h.accept(t->h.arg, &peer)) {
        fs_log(FS_LOG_WARNING, "%s: refused %s: not in the allowlist", t->name, addr);
        goto refuse;
    }
    for (size_t i = 0; i < t->max && c == NULL; i++)
        if (t->conns[i].fd < 0)
            c = &t->conns[i];
    if (c == NULL) {
        fs_log(FS_LOG_WARNING, "%s: refused %s: %zu exporters connected already", t->name,
               addr, t->max);
        goto refuse;
    }
    if ((c->buf = malloc(FS_TCP_MSG_MAX)) == NULL) {
        fs_log(FS_LOG_ERROR, "%s: refused %s: out of memory", t->name, addr);
        goto refuse;
    }
    c->fd = fd;
    c->peer = peer;
    c->used = 0;
    c->last_ms = now_ms;
    snprintf(c->name, sizeof(c->name), peer.af == 6 ? "[%s]:%u" : "%s:%u", addr, port);
    t->st.accepted++;
    t->st.connections++;
    fs_log(FS_LOG_INFO, "%s: exporter %s connected", t->name, c->name);
    return true;
refuse:
    t->st.refused++;
    close(fd);
    return true;
}

/* Hands on every complete message in the buffer and keeps the tail.
 * Returns -1 when the stream cannot be framed any more. */
static int frame(struct fs_tcp *t, struct conn *c)
{
    size_t off = 0;

    while (c->used - off >= 4) {
        const uint8_t *p = c->buf + off;
        size_t version = (size_t)(p[0] << 8 | p[1]), len = (size_t)(p[2] << 8 | p[3]);

        if (version != 10 || len < IPFIX_HDR) {
            t->st.errors++;
            fs_log(FS_LOG_WARNING,
                   "%s: exporter %s: not an IPFIX message header (version %zu, length %zu)",
                   t->name, c->name, version, len);
            return -1;
        }
        if (c->used - off < len)
            break;
        t->st.messages++;
        t->h.message(t->h.arg, &c->peer, p, len);
        off += len;
    }
    if (off > 0) {
        memmove(c->buf, c->buf + off, c->used - off);
        c->used -= off;
    }
    return 0;
}

static void conn_read(struct fs_tcp *t, struct conn *c, uint64_t now_ms)
{
    for (int i = 0; i < READS_PER_WAKE; i++) {
        ssize_t n = read(c->fd, c->buf + c->used, FS_TCP_MSG_MAX - c->used);

        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            conn_close(t, c, strerror(errno));
            return;
        }
        if (n == 0) {
            if (c->used > 0) {
                t->st.errors++;
                fs_log(FS_LOG_WARNING, "%s: exporter %s: stream ended inside a message "
                       "(%zu bytes dropped)", t->name, c->name, c->used);
            }
            conn_close(t, c, "end of stream");
            return;
        }
        c->last_ms = now_ms;
        c->used += (size_t)n;
        t->st.bytes += (uint64_t)n;
        if (frame(t, c) < 0) {
            conn_close(t, c, "framing error");
            return;
        }
    }
}

void fs_tcp_handle(struct fs_tcp *t, const struct pollfd *pfd, size_t n, uint64_t now_ms)
{
    /* Connections first: a slot closed here is only reused by the accept
     * below, after every entry of this round has been looked at. */
    for (size_t k = 1; k < n; k++) {
        if (pfd[k].revents == 0)
            continue;
        for (size_t i = 0; i < t->max; i++) {
            if (t->conns[i].fd == pfd[k].fd) {
                conn_read(t, &t->conns[i], now_ms);
                break;
            }
        }
    }
    if (n > 0 && pfd[0].revents != 0)
        for (int i = 0; i < READS_PER_WAKE; i++)
            if (!accept_one(t, now_ms))
                break;
}

void fs_tcp_expire(struct fs_tcp *t, uint64_t now_ms, uint64_t idle_ms)
{
    if (idle_ms == 0)
        return;
    for (size_t i = 0; i < t->max; i++) {
        struct conn *c = &t->conns[i];

        if (c->fd >= 0 && now_ms - c->last_ms >= idle_ms) {
            t->st.idle_closed++;
            conn_close(t, c, "idle");
        }
    }
}
