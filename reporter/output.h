/*
 * output.h - one syslog destination: UDP, TCP with octet counting (RFC 6587),
 * TLS (RFC 5425, GnuTLS, the server's certificate verified against the
 * configured CA and name by default), the local /dev/log socket, or a file
 * of lines.
 *
 * The caller hands over formatted messages (format.h); framing is done here:
 * one datagram per message on UDP and unix datagram sockets, "LEN SP MSG" on
 * TCP and TLS, MSG "\n" in a file.
 *
 * Connections are made lazily and never block for long: connecting (and the
 * TLS handshake) is bounded by `timeout_ms`, and so is each send. A failed
 * send closes the connection and returns -1; the next send reconnects, but
 * not before the backoff since the last failure has passed (0.5 s doubling up
 * to `backoff_max_ms`), in which case it returns -1 at once with
 * "waiting to reconnect". fs_rp_out_check() notices a receiver that has gone
 * (TCP FIN or RST, TLS close) before anything is written into a dead socket.
 *
 * Nothing here prints or exits; every failure comes back as -1 with one line
 * in `err`.
 */
#ifndef FS_RP_OUTPUT_H
#define FS_RP_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fs_rp_transport {
    FS_RP_T_UDP = 0,
    FS_RP_T_TCP,
    FS_RP_T_TLS,
    FS_RP_T_UNIX,   /* datagram socket: /dev/log by default */
    FS_RP_T_FILE    /* appended lines */
};

struct fs_rp_out_opts {
    enum fs_rp_transport transport;
    const char *host;           /* UDP/TCP/TLS: name or address (v4 or v6) */
    const char *port;           /* UDP/TCP/TLS: service or number (514, 6514 for TLS) */
    const char *path;           /* UNIX: socket path; FILE: file path */
    /* TLS */
    const char *ca_file;        /* PEM trust anchors; NULL: the system's store */
    const char *cert_file;      /* client certificate (PEM), optional */
    const char *key_file;       /* its key (PEM), with cert_file */
    const char *server_name;    /* name to verify; NULL: `host` */
    bool insecure;              /* true: do not verify the server (not the default) */
    uint32_t timeout_ms;        /* connect, handshake and each send (0: 5000) */
    uint32_t backoff_max_ms;    /* ceiling of the reconnect backoff (0: 30000) */
};

/* Largest message sent as one datagram (UDP, unix datagram socket): longer
 * ones are refused with an error, never cut (docs/syslog-transports.md). */
#define FS_RP_DGRAM_MAX 65000

/* Parses "udp", "tcp", "tls", "unix", "file". Returns 0 or -1. */
int fs_rp_transport_parse(const char *s, enum fs_rp_transport *t);

struct fs_rp_out_counters {
    uint64_t sent;              /* messages handed to the kernel / TLS */
    uint64_t bytes;
    uint64_t errors;            /* failed sends */
    uint64_t connects;          /* connections made (TCP/TLS/UNIX) */
    uint64_t disconnects;       /* connections lost or closed after an error */
};

struct fs_rp_out;

/* Checks the options (a TLS CA file that cannot be read, a missing host...)
 * without connecting. Returns NULL with the reason in `err`. The strings in
 * `o` are copied. */
struct fs_rp_out *fs_rp_out_new(const struct fs_rp_out_opts *o, char *err, size_t errlen);
void fs_rp_out_free(struct fs_rp_out *out);

/* Sends one message, connecting first when needed. `now_ms` is a monotonic
 * clock (the backoff is measured on it). Returns 0, or -1 with `err`. */
int fs_rp_out_send(struct fs_rp_out *out, const char *msg, size_t len, uint64_t now_ms,
                   char *err, size_t errlen);

/* For connection transports: returns 0 while the connection is up (or none
 * is open yet), -1 with `err` when the receiver has closed or reset it (the
 * connection is then closed and counted). Never blocks. */
int fs_rp_out_check(struct fs_rp_out *out, char *err, size_t errlen);

/* True while a connection is open (always true for UDP and FILE). */
bool fs_rp_out_connected(const struct fs_rp_out *out);

/* Milliseconds until a reconnect may be tried (0: now). */
uint64_t fs_rp_out_backoff_left(const struct fs_rp_out *out, uint64_t now_ms);

/* "tcp 127.0.0.1:6514" etc., for log lines. */
const char *fs_rp_out_name(const struct fs_rp_out *out);

const struct fs_rp_out_counters *fs_rp_out_counters(const struct fs_rp_out *out);

#endif
