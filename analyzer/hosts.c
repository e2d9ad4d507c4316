/*
 * hosts.c - the bounded table of internal hosts the analyzer keeps baselines
 * for.
 *
 * Host records live in one array (grown by doubling up to max-hosts) and are
 * found through an open-addressing index of 32-bit slot numbers with linear
 * probing, sized once to at least twice the maximum so probes stay short;
 * deletion shifts the following entries back, so there are no tombstones. A
 * doubly linked list by slot number orders hosts by their last active window:
 * a host moves to the front at most once per window, which keeps the flow
 * path free of list traffic, and when the table is full the host at the tail,
 * the least recently active, is evicted and counted.
 *
 * The large baseline part of a host is a separate allocation made when its
 * slot is first used and reused by whoever takes the slot after an eviction.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"

static uint32_t ip_hash(const fs_ip *ip)
{
    return (uint32_t)fs_hash_ip(ip);
}

static bool ip_eq(const fs_ip *a, const fs_ip *b)
{
    return a->af == b->af && memcmp(a->b, b->b, a->af == 4 ? 4 : 16) == 0;
}

int an_hosts_init(struct an_hosts *t, uint32_t max)
{
    uint32_t size = 16;

    memset(t, 0, sizeof(*t));
    while (size < 2 * (uint64_t)max)
        size *= 2;
    t->idx = malloc(size * sizeof(*t->idx));
    if (t->idx == NULL)
        return -1;
    memset(t->idx, 0xff, size * sizeof(*t->idx));
    t->mask = size - 1;
    t->max = max;
    t->lru_head = t->lru_tail = AN_NONE;
    return 0;
}

static void host_release(struct an_host *h)
{
    for (int i = 0; i < AN_NOPEN; i++) {
        fs_hll_free(&h->acc[i].peers);
        fs_hll_free(&h->acc[i].ports);
    }
}

void an_hosts_free(struct an_hosts *t)
{
    for (uint32_t i = 0; i < t->n; i++) {
        host_release(&t->h[i]);
        free(t->h[i].base);
    }
    free(t->h);
    free(t->idx);
    memset(t, 0, sizeof(*t));
}

struct an_host *an_hosts_find(struct an_hosts *t, const fs_ip *ip)
{
    for (uint32_t i = ip_hash(ip) & t->mask;; i = (i + 1) & t->mask) {
        uint32_t s = t->idx[i];
        if (s == AN_NONE)
            return NULL;
        if (ip_eq(&t->h[s].addr, ip))
            return &t->h[s];
    }
}

static void lru_unlink(struct an_hosts *t, uint32_t s)
{
    struct an_host *h = &t->h[s];

    if (h->lru_prev != AN_NONE)
        t->h[h->lru_prev].lru_next = h->lru_next;
    else
        t->lru_head = h->lru_next;
    if (h->lru_next != AN_NONE)
        t->h[h->lru_next].lru_prev = h->lru_prev;
    else
        t->lru_tail = h->lru_prev;
}

static void lru_push_front(struct an_hosts *t, uint32_t s)
{
    struct an_host *h = &t->h[s];

    h->lru_prev = AN_NONE;
    h->lru_next = t->lru_head;
    if (t->lru_head != AN_NONE)
        t->h[t->lru_head].lru_prev = s;
    t->lru_head = s;
    if (t->lru_tail == AN_NONE)
        t->lru_tail = s;
}

/* Removes slot `s` from the index, shifting later entries of its run back. */
static void index_remove(struct an_hosts *t, uint32_t s)
{
    uint32_t i = ip_hash(&t->h[s].addr) & t->mask;

    while (t->idx[i] != s)
        i = (i + 1) & t->mask;
    for (uint32_t j = i;;) {
        t->idx[i] = AN_NONE;
        for (;;) {
            j = (j + 1) & t->mask;
            if (t->idx[j] == AN_NONE)
                return;
            uint32_t home = ip_hash(&t->h[t->idx[j]].addr) & t->mask;
            /* Entry j may move to i when i lies cyclically in [home, j). */
            if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j))
                break;
        }
        t->idx[i] = t->idx[j];
        i = j;
    }
}

static void index_insert(struct an_hosts *t, uint32_t s)
{
    uint32_t i = ip_hash(&t->h[s].addr) & t->mask;

    while (t->idx[i] != AN_NONE)
        i = (i + 1) & t->mask;
    t->idx[i] = s;
}

/* Prepares slot `s` for a new host, keeping its allocations. */
static int host_reset(const struct fs_an_ctx *c, struct an_host *h, const fs_ip *ip)
{
    struct an_base *base = h->base;
    struct an_acc keep[AN_NOPEN];

    memcpy(keep, h->acc, sizeof(keep));
    memset(h, 0, sizeof(*h));
    if (base == NULL && (base = malloc(sizeof(*base))) == NULL)
        return -1;
    an_base_reset(base);
    h->base = base;
    h->addr = *ip;
    for (int i = 0; i < AN_NOPEN; i++) {
        h->acc[i] = keep[i];
        if (h->acc[i].peers.p == 0 && fs_hll_init(&h->acc[i].peers, c->cfg->hll_p) != 0)
            return -1;
        if (h->acc[i].ports.p == 0 && fs_hll_init(&h->acc[i].ports, c->cfg->hll_p) != 0)
            return -1;
        fs_hll_clear(&h->acc[i].peers);
        fs_hll_clear(&h->acc[i].ports);
        memset(h->acc[i].v, 0, sizeof(h->acc[i].v));
        h->acc[i].win = UINT64_MAX;
    }
    return 0;
}

struct an_host *an_hosts_get(struct fs_an_ctx *c, const fs_ip *ip, uint64_t win)
{
    struct an_hosts *t = &c->hosts;
    struct an_host *h = an_hosts_find(t, ip);
    uint32_t s;

    if (h != NULL) {
        s = (uint32_t)(h - t->h);
        if (h->lru_win != win && t->lru_head != s) {
            lru_unlink(t, s);
            lru_push_front(t, s);
        }
        h->lru_win = win;
        return h;
    }
    if (t->n < t->max) {
        if (t->n == t->cap) {
            uint32_t ncap = t->cap ? t->cap * 2 : 64;
            if (ncap > t->max)
                ncap = t->max;
            struct an_host *nh = realloc(t->h, ncap * sizeof(*nh));
            if (nh == NULL)
                return NULL;
            memset(nh + t->cap, 0, (ncap - t->cap) * sizeof(*nh));
            t->h = nh;
            t->cap = ncap;
        }
        s = t->n;
        if (host_reset(c, &t->h[s], ip) != 0)
            return NULL;
        t->n++;
    } else {
        s = t->lru_tail;
        lru_unlink(t, s);
        index_remove(t, s);
        t->evicted++;
        if (host_reset(c, &t->h[s], ip) != 0)
            return NULL;
    }
    h = &t->h[s];
    h->lru_win = win;
    index_insert(t, s);
    lru_push_front(t, s);
    return h;
}

int an_hosts_clear(struct fs_an_ctx *c)
{
    struct an_hosts *t = &c->hosts;
    uint32_t max = t->max;

    an_hosts_free(t);
    return an_hosts_init(t, max);
}

size_t an_host_bytes(const struct fs_an_ctx *c)
{
    const struct an_hosts *t = &c->hosts;
    size_t heap = 0;

    for (uint32_t i = 0; i < t->n; i++)
        for (int k = 0; k < AN_NOPEN; k++)
            heap += fs_hll_bytes(&t->h[i].acc[k].peers) + fs_hll_bytes(&t->h[i].acc[k].ports) -
                    2 * sizeof(struct fs_hll);
    return sizeof(struct an_host) + sizeof(struct an_base) +
           (t->mask + 1) * sizeof(uint32_t) / (t->max ? t->max : 1) + (t->n ? heap / t->n : 0);
}
