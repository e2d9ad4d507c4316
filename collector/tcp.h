/*
 * tcp.h - IPFIX over TCP (RFC 7011, 10.4): a listener and its exporters.
 *
 * A TCP exporter sends a stream of IPFIX messages back to back; each starts
 * with the 16-byte message header whose length field says where the next
 * one begins. The listener accepts several exporters at once (bounded),
 * buffers each stream and hands complete messages to a callback. A header
 * that is not IPFIX (version != 10, or length < 16) means the stream can no
 * longer be framed: the error is counted and the connection closed.
 *
 * Everything is non-blocking and driven by the caller's poll() loop:
 * fs_tcp_pollfds() says what to watch, fs_tcp_handle() does the work.
 */
#ifndef FS_TCP_H
#define FS_TCP_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "flow.h"

#define FS_TCP_MSG_MAX 65535 /* the largest IPFIX message */

struct fs_tcp_stats {
    uint64_t accepted;    /* connections taken */
    uint64_t refused;     /* turned away: allowlist or connection limit */
    uint64_t closed;      /* connections ended, for any reason */
    uint64_t idle_closed; /* ... of which for silence */
    uint64_t messages;    /* IPFIX messages handed on */
    uint64_t bytes;       /* stream bytes received */
    uint64_t errors;      /* framing errors (connection closed) */
    uint64_t connections; /* open now */
};

struct fs_tcp_handler {
    /* May this peer connect? NULL: everyone. */
    bool (*accept)(void *arg, const fs_ip *peer);
    /* One complete IPFIX message; `msg` is valid during the call only. */
    void (*message)(void *arg, const fs_ip *peer, const uint8_t *msg, size_t len);
    void *arg;
};

struct fs_tcp;

/* Listens on `sa` (a wildcard IPv6 address is dual-stack) for at most
 * `max_conns` exporters at once. Returns NULL with the reason in `err`. */
struct fs_tcp *fs_tcp_open(const struct sockaddr *sa, socklen_t salen, size_t max_conns,
                           const struct fs_tcp_handler *h, char *err, size_t errlen);
/* Closes the listener and every connection. */
void fs_tcp_close(struct fs_tcp *t);

/* "tcp://[::]:4739". */
const char *fs_tcp_name(const struct fs_tcp *t);

/* Fills up to `cap` pollfd entries (the listener and each connection) and
 * returns how many; never more than 1 + max_conns. */
size_t fs_tcp_pollfds(const struct fs_tcp *t, struct pollfd *pfd, size_t cap);

/* Acts on the entries filled by the last fs_tcp_pollfds() once poll()
 * returned: accepts, reads, delivers messages, closes. `now_ms` (monotonic)
 * dates activity for the idle timeout. */
void fs_tcp_handle(struct fs_tcp *t, const struct pollfd *pfd, size_t n, uint64_t now_ms);

/* Closes connections silent for `idle_ms` (0: never). */
void fs_tcp_expire(struct fs_tcp *t, uint64_t now_ms, uint64_t idle_ms);

const struct fs_tcp_stats *fs_tcp_stats(const struct fs_tcp *t);

#endif
