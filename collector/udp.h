/*
 * udp.h - UDP export listeners: batched receive with kernel drop accounting.
 *
 * One struct fs_udp per bound socket. Datagrams are taken from the kernel
 * FS_UDP_BATCH at a time with recvmmsg(), each handed to a callback with its
 * source address (IPv4-mapped IPv6 sources come back as IPv4, so one
 * exporter has one identity whichever socket it reaches). The socket asks
 * for SO_RXQ_OVFL, so datagrams the kernel dropped because the receive
 * buffer was full are counted instead of silently missing.
 */
#ifndef FS_UDP_H
#define FS_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "flow.h"

#define FS_UDP_BATCH 64

struct fs_udp_stats {
    uint64_t datagrams;     /* received */
    uint64_t reads;         /* receive calls that returned datagrams */
    uint64_t bytes;
    uint64_t kernel_drops;  /* dropped by the kernel: receive buffer full */
    uint64_t truncated;     /* larger than the receive slot (never for UDP/IP) */
    uint64_t errors;        /* failed receive calls */
    int rcvbuf;             /* receive buffer the kernel granted, bytes */
};

struct fs_udp;

/* Binds a non-blocking socket to `sa` with SO_REUSEPORT. A wildcard IPv6
 * address ([::]) is dual-stack; when the host has no IPv6 it falls back to
 * 0.0.0.0 (fs_udp_name() shows which). `rcvbuf` bytes are asked for with
 * SO_RCVBUFFORCE when privileged, else SO_RCVBUF (0: kernel default).
 * Returns NULL with the reason in `err`. */
struct fs_udp *fs_udp_open(const struct sockaddr *sa, socklen_t salen, int rcvbuf,
                           char *err, size_t errlen);
void fs_udp_close(struct fs_udp *u);

int fs_udp_fd(const struct fs_udp *u);

/* "udp://[::]:2055": the address actually bound. */
const char *fs_udp_name(const struct fs_udp *u);

/* Called for each datagram; `buf` is valid during the call only. */
typedef void (*fs_udp_fn)(void *arg, const fs_ip *src, const uint8_t *buf, size_t len);

/* Receives one batch without blocking. Returns the number of datagrams
 * (0 when none were waiting), or -1 on a socket error (counted). */
int fs_udp_recv(struct fs_udp *u, fs_udp_fn fn, void *arg);

const struct fs_udp_stats *fs_udp_stats(const struct fs_udp *u);

/* Kernel drops seen since the previous call (for the decoder totals). */
uint64_t fs_udp_take_drops(struct fs_udp *u);

/* Turns an IPv4 or IPv6 socket address into an fs_ip (IPv4-mapped IPv6 as
 * IPv4) and its port. Returns 0, or -1 for other families. */
int fs_sockaddr_to_ip(const struct sockaddr *sa, fs_ip *ip, uint16_t *port);

/* A non-blocking socket of `type` (SOCK_DGRAM, SOCK_STREAM) bound to `sa`
 * with the options a listener wants. A wildcard IPv6 address is dual-stack,
 * or 0.0.0.0 on a host without IPv6. Returns the fd, or -1 with errno. */
int fs_bind_socket(int type, const struct sockaddr *sa, socklen_t salen);

/* Formats "udp://[2001:db8::1]:2055" style names. */
void fs_sockaddr_name(const char *scheme, const struct sockaddr *sa, char *out, size_t len);

#endif
