/*
 * detutil.h - small helpers shared by the behaviour detectors: what kind of
 * connection a flow record shows, addresses fit for table keys, settings
 * read with a range check, and the top-N evidence lists of an anomaly.
 */
#ifndef FS_DETUTIL_H
#define FS_DETUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "detector.h"

/* What one flow record says about the connection it belongs to. */
enum fs_conn_kind {
    FS_CONN_DATA = 0,  /* a new connection that carried payload */
    FS_CONN_FAILED,    /* never established: SYN or RST without ACK, one packet */
    FS_CONN_EMPTY,     /* established but no payload (connect-and-close probes) */
    FS_CONN_CONTINUED  /* a later record of a long TCP connection (no SYN) */
};

/* Payload estimate below which a connection counts as empty: a Linux
 * handshake-and-close (SYN with 20 bytes of options, timestamps on every
 * segment) leaves about 6 bytes over the per-packet header allowance. */
#define FS_DET_MIN_PAYLOAD 16u

enum fs_conn_kind fs_det_conn_kind(const struct fs_flow *f);

/* Bytes above the IP and transport headers, both directions when the record
 * is a biflow: an estimate, since options and fragments are not exported. */
uint64_t fs_det_payload(const struct fs_flow *f);

/* Bytes and packets of the record, plus the reverse direction of a biflow. */
uint64_t fs_det_bytes(const struct fs_flow *f);
uint64_t fs_det_packets(const struct fs_flow *f);

/* When the connection started: the flow's start, else its event time. */
uint64_t fs_det_start_ms(const struct fs_an_flow *af);

/* Copies an address with the bytes its family does not use zeroed, so that
 * keys built from it compare and hash bytewise. */
void fs_det_ip(fs_ip *dst, const fs_ip *src);

/* fs_an_param() kept inside [lo, hi]: a value outside (or not a number) is
 * logged once, at create time, and replaced by the nearest bound. */
double fs_det_param(struct fs_an_ctx *c, const char *det, const char *name, double def,
                    double lo, double hi);

/* Keeps the FS_ANOMALY_TOP heaviest peers / ports of an anomaly: adds one
 * candidate, replacing the lightest when the list is full. */
void fs_det_top_peer(struct fs_anomaly *a, const fs_ip *addr, uint64_t value);
void fs_det_top_port(struct fs_anomaly *a, uint16_t port, uint8_t proto, uint64_t value);

/* A set of ports switched by settings: `<det>.<prefix>N = 1` adds port N,
 * `= 0` removes it; `defaults` are in unless removed. Every port's key is
 * read, so that any of them given with --set counts as used. */
#define FS_DET_PORTS_BYTES (65536 / 8)
void fs_det_ports(struct fs_an_ctx *c, const char *det, const char *prefix,
                  const uint16_t *defaults, size_t n, uint8_t bits[FS_DET_PORTS_BYTES]);

static inline bool fs_det_port_in(const uint8_t bits[FS_DET_PORTS_BYTES], uint16_t port)
{
    return (bits[port >> 3] >> (port & 7)) & 1u;
}

/* Peer prevalence: how many internal hosts a detector holds (host, peer)
 * state for, per peer, as reference counts kept by the detector as its
 * pairs come and go. A peer that a large share of the internal hosts talk
 * to (an update service, the company's SaaS) is less suspicious. */
struct fs_det_prev;

/* Peers are keys of `peer_len` bytes (an address, or address and port);
 * `max` is the detector's pair limit, which bounds both tables. */
struct fs_det_prev *fs_det_prev_new(size_t peer_len, uint32_t max);
void fs_det_prev_free(struct fs_det_prev *p);
void fs_det_prev_clear(struct fs_det_prev *p);
/* A pair (host, peer) appeared or went away. */
void fs_det_prev_ref(struct fs_det_prev *p, const fs_ip *host, const void *peer);
void fs_det_prev_unref(struct fs_det_prev *p, const fs_ip *host, const void *peer);
/* 1 for a peer fewer than `min_hosts` hosts use; else falling linearly to 0
 * as the share of all hosts using it reaches `share`. *nhosts: its users. */
double fs_det_prev_factor(const struct fs_det_prev *p, const void *peer, unsigned min_hosts,
                          double share, uint32_t *nhosts);
size_t fs_det_prev_bytes(const struct fs_det_prev *p);

/* 0 below lo, 1 above hi, linear between. */
double fs_det_ramp(double x, double lo, double hi);

/* An address in a snapshot: family byte and 16 address bytes. The reader
 * returns -1 (and sets r->err) on a family other than 4 or 6. */
struct fs_buf_w;
struct fs_buf_r;
void fs_det_put_ip(struct fs_buf_w *w, const fs_ip *ip);
int fs_det_get_ip(struct fs_buf_r *r, fs_ip *ip);

/* Frames a detector snapshot: the payload built in `w` becomes one checked
 * record inside a blob with the detector's magic and version. Frees w->p. */
int fs_det_save_blob(FILE *fp, uint32_t magic, uint32_t version, struct fs_buf_w *w);
/* Reads the blob fs_det_save_blob wrote and opens its record: on success
 * *payload points into *data (the caller frees *data). Logs why on failure. */
int fs_det_load_blob(FILE *fp, const char *det, uint32_t magic, uint32_t version, size_t max_len,
                     uint8_t **data, struct fs_buf_r *payload);

#endif
