/*
 * nfv5build.c - builds NetFlow v1/v5/v7 datagrams for tests (see nfv5build.h).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "nfv5build.h"

static void put8(struct nfv5_buf *d, size_t off, uint8_t v)
{
    if (off + 1 > NFV5_MAX)
        abort();
    d->b[off] = v;
}

static void put16(struct nfv5_buf *d, size_t off, uint16_t v)
{
    put8(d, off, (uint8_t)(v >> 8));
    put8(d, off + 1, (uint8_t)v);
}

static void put32(struct nfv5_buf *d, size_t off, uint32_t v)
{
    put16(d, off, (uint16_t)(v >> 16));
    put16(d, off + 2, (uint16_t)v);
}

static void put_addr(struct nfv5_buf *d, size_t off, const char *text)
{
    struct in_addr a = {0};

    if (text && inet_pton(AF_INET, text, &a) != 1)
        abort();
    if (off + 4 > NFV5_MAX)
        abort();
    memcpy(d->b + off, &a, 4);
}

void nfv5_header(struct nfv5_buf *d, const struct nfv5_hdr *h)
{
    memset(d->b, 0, sizeof(d->b));
    d->version = h->version;
    put16(d, 0, h->version);
    put16(d, 2, h->count);
    put32(d, 4, h->uptime);
    put32(d, 8, h->secs);
    put32(d, 12, h->nsecs);
    if (h->version == 1) {
        d->len = 16;
        return;
    }
    put32(d, 16, h->seq);
    if (h->version == 5) {
        put8(d, 20, h->engine_type);
        put8(d, 21, h->engine_id);
        put16(d, 22, h->sampling);
    }
    d->len = 24;
}

void nfv5_record(struct nfv5_buf *d, const struct nfv5_rec *r)
{
    size_t o = d->len;

    put_addr(d, o + 0, r->src);
    put_addr(d, o + 4, r->dst);
    put_addr(d, o + 8, r->next_hop);
    put16(d, o + 12, r->in_if);
    put16(d, o + 14, r->out_if);
    put32(d, o + 16, r->packets);
    put32(d, o + 20, r->bytes);
    put32(d, o + 24, r->first);
    put32(d, o + 28, r->last);
    put16(d, o + 32, r->src_port);
    put16(d, o + 34, r->dst_port);
    if (d->version == 1) {
        /* 36-37 pad, 38 prot, 39 tos, 40 flags, 41-47 pad */
        put8(d, o + 38, r->proto);
        put8(d, o + 39, r->tos);
        put8(d, o + 40, r->tcp_flags);
        d->len += 48;
        return;
    }
    /* 36 pad (v7: flags), 37 tcp_flags, 38 prot, 39 tos, 40 src_as, 42 dst_as,
     * 44 src_mask, 45 dst_mask, 46-47 pad (v7: flags2), v7: 48 router_sc */
    put8(d, o + 36, d->version == 7 ? 0xff : 0);
    put8(d, o + 37, r->tcp_flags);
    put8(d, o + 38, r->proto);
    put8(d, o + 39, r->tos);
    put16(d, o + 40, r->src_as);
    put16(d, o + 42, r->dst_as);
    put8(d, o + 44, r->src_mask);
    put8(d, o + 45, r->dst_mask);
    if (d->version == 7) {
        put16(d, o + 46, 0xffff);
        put_addr(d, o + 48, r->router_sc);
        d->len += 52;
        return;
    }
    d->len += 48;
}

void nfv5_sink_fn(void *arg, const struct fs_flow *flows, size_t n)
{
    struct nfv5_sink *s = arg;
    size_t i;

    s->calls++;
    for (i = 0; i < n && s->n < NFV5_SINK_MAX; i++)
        s->flows[s->n++] = flows[i];
}

fs_ip nfv5_ip(const char *text)
{
    fs_ip ip;

    if (fs_ip_parse(text, &ip) != 0)
        abort();
    return ip;
}
