/*
 * detmix.c - traffic building blocks of the detector tests (see detmix.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detmix.h"

uint64_t detmix_bytes(uint8_t proto, uint64_t packets, uint64_t payload)
{
    return packets * (proto == 6 ? DETMIX_TCP_HDR : DETMIX_UDP_HDR) + payload;
}

static uint64_t tcp_packets(uint64_t payload)
{
    return 4 + payload / 1448;
}

void detmix_tcp(struct detrun *r, const char *cli, uint16_t cport, const char *srv,
                uint16_t sport, uint64_t start, uint64_t dur, uint64_t up, uint64_t down)
{
    uint64_t pu = tcp_packets(up), pd = tcp_packets(down);

    detrun_flow(r, cli, cport, srv, sport, 6, start, dur, pu, detmix_bytes(6, pu, up),
                DETRUN_TCP_FULL);
    detrun_flow(r, srv, sport, cli, cport, 6, start, dur, pd, detmix_bytes(6, pd, down),
                DETRUN_TCP_FULL);
}

void detmix_syn(struct detrun *r, const char *src, uint16_t sport, const char *dst,
                uint16_t dport, uint64_t t)
{
    detrun_flow(r, src, sport, dst, dport, 6, t, 1000, 2, 2 * 60, DETRUN_SYN);
}

void detmix_refused(struct detrun *r, const char *src, uint16_t sport, const char *dst,
                    uint16_t dport, uint64_t t)
{
    detrun_flow(r, src, sport, dst, dport, 6, t, 0, 1, 60, DETRUN_SYN);
    detrun_flow(r, dst, dport, src, sport, 6, t, 0, 1, 40, DETRUN_RST | DETRUN_ACK);
}

void detmix_udp(struct detrun *r, const char *cli, uint16_t cport, const char *srv,
                uint16_t sport, uint64_t t, uint64_t q, uint64_t a)
{
    detrun_flow(r, cli, cport, srv, sport, 17, t, 0, 1, detmix_bytes(17, 1, q), -1);
    detrun_flow(r, srv, sport, cli, cport, 17, t, 0, 1, detmix_bytes(17, 1, a), -1);
}

void detmix_office(struct detrun *r, const char *host, uint64_t from, unsigned hours)
{
    static const char *const web[] = { "198.51.100.1", "198.51.100.2", "198.51.100.3",
                                       "198.51.100.4", "198.51.100.5" };

    for (unsigned i = 0; i < hours * 6; i++) {
        uint64_t t = from + i * 600000ull + (i * 7919u % 300u) * 1000u;
        uint16_t port = (uint16_t)(40000 + i % 20000);

        detmix_udp(r, host, port, "10.0.0.53", 53, t, 40, 120);
        detmix_tcp(r, host, (uint16_t)(port + 1), web[i % 5], 443, t + 1000, 3000, 2000,
                   60000 + (i % 7) * 10000);
    }
}

const char *detmix_ip(const char *fmt, unsigned n)
{
    static char ring[8][32];
    static unsigned next;
    char *b = ring[next++ % 8];

    snprintf(b, sizeof(ring[0]), fmt, n);
    return b;
}

struct counter_find {
    const char *name;
    uint64_t value;
    int found;
};

static void counter_cb(void *arg, const char *name, uint64_t v)
{
    struct counter_find *cf = arg;

    if (strcmp(name, cf->name) == 0) {
        cf->value = v;
        cf->found = 1;
    }
}

uint64_t detmix_counter(struct detrun *r, const char *name)
{
    struct counter_find cf = { name, 0, 0 };

    fs_analyzer_each_counter(r->an, counter_cb, &cf);
    if (!cf.found) {
        fprintf(stderr, "detmix: no counter %s\n", name);
        abort();
    }
    return cf.value;
}
