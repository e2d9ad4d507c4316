/*
 * detmix.h - building blocks of traffic for the detector tests, on top of
 * detrun.h: whole TCP connections as their two records, failed probes as a
 * scanner sees them, and a workstation's ordinary day, so that a test says
 * what happens ("a refused probe", "an office hour") rather than flags and
 * packet counts.
 *
 * Sizes follow the per-packet header allowance of analyzer/detutil.c: a
 * TCP record of `p` packets carrying `n` bytes of payload is p * 54 + n
 * bytes long (IPv4), a UDP or ICMP one p * 28 + n, so that a test can state
 * the payload a detector will see.
 */
#ifndef FS_TEST_DETMIX_H
#define FS_TEST_DETMIX_H

#include <stdint.h>

#include "detrun.h"

#define DETMIX_TCP_HDR 54u
#define DETMIX_UDP_HDR 28u

/* A record of `packets` packets carrying `payload` bytes (see above). */
uint64_t detmix_bytes(uint8_t proto, uint64_t packets, uint64_t payload);

/* A complete TCP connection: the client's record (`up` bytes of payload)
 * and the server's (`down`), both with SYN, ACK and FIN seen, 4 packets
 * plus one per 1448 bytes each way. */
void detmix_tcp(struct detrun *r, const char *cli, uint16_t cport, const char *srv,
                uint16_t sport, uint64_t start, uint64_t dur, uint64_t up, uint64_t down);

/* A SYN nobody answered (and its retransmission). */
void detmix_syn(struct detrun *r, const char *src, uint16_t sport, const char *dst,
                uint16_t dport, uint64_t t);

/* A SYN refused by the target: the SYN, and the RST+ACK coming back. */
void detmix_refused(struct detrun *r, const char *src, uint16_t sport, const char *dst,
                    uint16_t dport, uint64_t t);

/* A UDP exchange: a datagram each way with `q` and `a` bytes of payload. */
void detmix_udp(struct detrun *r, const char *cli, uint16_t cport, const char *srv,
                uint16_t sport, uint64_t t, uint64_t q, uint64_t a);

/* Ordinary use of a workstation from `from` for `hours`: every ten
 * minutes an HTTPS download from one of five web services
 * (198.51.100.1-5) and a DNS query to 10.0.0.53. */
void detmix_office(struct detrun *r, const char *host, uint64_t from, unsigned hours);

/* The value of the analyzer counter `name` ("port_scan.probes"); fails the
 * test when there is no such counter. */
uint64_t detmix_counter(struct detrun *r, const char *name);

/* "10.0.1.7" and the like: `fmt` with one %u, into a static ring of
 * buffers (enough for a few at once). */
const char *detmix_ip(const char *fmt, unsigned n);

#endif
