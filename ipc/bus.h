/*
 * bus.h - ZeroMQ publish/subscribe sockets for the flowsentry buses.
 *
 * A bus message is two frames: the topic (the message type name, "flows",
 * "stats") and the msgpack payload built by msg.h. Subscribers filter on the
 * topic frame, so a process that wants only stats never sees flow batches.
 *
 * Endpoints are ZeroMQ addresses: ipc:///run/flowsentry/flows.sock on one
 * box, tcp://127.0.0.1:5555 across boxes. A leading '@' forces bind and '>'
 * forces connect; without either a PUB binds and a SUB connects. The
 * directory of an ipc:// endpoint that is bound is created when missing.
 *
 * Nothing here exits or prints: failures return -1 (or NULL) and the reason
 * is in the caller's `err` buffer or in fs_bus_error().
 */
#ifndef FS_BUS_H
#define FS_BUS_H

#include <stddef.h>
#include <stdint.h>

/* Longest topic a receiver accepts, terminating NUL included. */
#define FS_BUS_TOPIC_MAX 32

/* Default high-water mark (messages queued per peer) when 0 is given. */
#define FS_BUS_DEFAULT_HWM 1000

struct fs_bus;

/* A PUB socket bound (or, with '>', connected) to `endpoint`. `sndhwm` is
 * the send high-water mark in messages (0: FS_BUS_DEFAULT_HWM); past it
 * messages for a slow subscriber are dropped, never blocking the sender.
 * Returns NULL with the reason in `err`. */
struct fs_bus *fs_bus_pub(const char *endpoint, int sndhwm, char *err, size_t errlen);

/* A SUB socket connected (or, with '@', bound) to each of `endpoints` and
 * subscribed to `topic` ("flows"; NULL for every topic). `rcvhwm` as above.
 * Returns NULL with the reason in `err`. */
struct fs_bus *fs_bus_sub(const char *const *endpoints, size_t nendpoints,
                          const char *topic, int rcvhwm, char *err, size_t errlen);

/* Adds an endpoint (same '@' / '>' rules) or a subscription to an open bus.
 * Return 0, or -1 (fs_bus_error()). */
int fs_bus_attach(struct fs_bus *b, const char *endpoint);
int fs_bus_subscribe(struct fs_bus *b, const char *topic);

/* Publishes one message under `topic`. Never blocks. On a PUB socket a
 * subscriber whose queue is full (sndhwm) silently misses the message while
 * the others still get it: one slow reader never costs the rest. Such loss
 * shows at that receiver as a sequence gap (fs_gap_check), not here.
 * Returns 0, or -1 (fs_bus_error()) when the message could not be queued at
 * all. */
int fs_bus_send(struct fs_bus *b, const char *topic, const void *buf, size_t len);

/* A received message; `data` stays valid until the next fs_bus_recv() or
 * fs_bus_close() on the same bus. */
struct fs_bus_msg {
    char topic[FS_BUS_TOPIC_MAX];
    const void *data;
    size_t len;
};

/* Waits up to `timeout_ms` (-1: forever, 0: just look) for a message.
 * Returns 1 with a message in `out`, 0 on timeout, -1 on error
 * (fs_bus_error(); errno EINTR when a signal interrupted the wait).
 * Multipart messages that are not topic + payload are dropped and counted
 * (fs_bus_malformed()). */
int fs_bus_recv(struct fs_bus *b, int timeout_ms, struct fs_bus_msg *out);

/* Messages dropped by fs_bus_recv() for a bad frame layout. */
uint64_t fs_bus_malformed(const struct fs_bus *b);

/* The reason for the last failure on this bus. */
const char *fs_bus_error(const struct fs_bus *b);

/* Closes the socket, waiting at most `linger_ms` for queued messages to go
 * out (-1: the default of 1000 ms). NULL is fine. */
void fs_bus_close(struct fs_bus *b, int linger_ms);

#endif
