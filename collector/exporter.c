/*
 * exporter.c - the decoder object and the exporters it tracks.
 *
 * Exporters live in a chained hash table keyed by address and on a recency
 * list; when max_exporters is reached the least recently seen one is freed
 * (its counters stay in the totals, which are always updated alongside).
 * Sampling rates set by configuration are kept in a separate small table so
 * that they survive eviction and reach an exporter whenever it is created.
 * Each exporter keeps a short most-recently-used list of domains, each with
 * its own sequence tracker.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "exporter.h"

#define DEFAULT_MAX_EXPORTERS 4096
#define DEFAULT_MAX_TEMPLATES 1024
#define DEFAULT_PENDING_BYTES (256 * 1024)
#define DEFAULT_PENDING_TIMEOUT_MS 60000
#define INITIAL_BUCKETS 64

struct conf_rate {
    fs_ip addr;
    uint32_t rate;
    bool override;
};

struct fs_decoder {
    struct fs_decoder_config cfg;
    struct fs_counters totals;
    uint64_t seed;                  /* hash seed: spoofed sources cannot aim at one chain */
    struct fs_exporter **buckets;
    size_t nbuckets;                /* a power of two */
    size_t nexporters;
    struct fs_exporter *newest, *oldest;
    struct fs_exporter *last;       /* datagrams come in bursts from one exporter */
    struct conf_rate *rates;        /* sorted by address */
    size_t nrates, rates_cap;
    struct fs_decode_ctx ctx;
};

/* Only the bytes that belong to the family count, so callers need not clear
 * the rest of an IPv4 fs_ip. */
static size_t ip_len(const fs_ip *ip)
{
    return ip->af == 4 ? 4 : 16;
}

static int ip_cmp(const fs_ip *a, const fs_ip *b)
{
    if (a->af != b->af)
        return a->af < b->af ? -1 : 1;
    return memcmp(a->b, b->b, ip_len(a));
}

static void ip_copy(fs_ip *dst, const fs_ip *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->af = src->af;
    memcpy(dst->b, src->b, ip_len(src));
}

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

static uint64_t ip_hash(uint64_t seed, const fs_ip *ip)
{
    uint8_t buf[16] = {0};
    uint64_t w0, w1;

    memcpy(buf, ip->b, ip_len(ip));
    memcpy(&w0, buf, 8);
    memcpy(&w1, buf + 8, 8);
    return mix64(mix64(seed ^ ip->af ^ w0) ^ w1);
}

static uint64_t new_seed(const struct fs_decoder *d)
{
    uint64_t seed;

    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
        return seed;
    return mix64((uint64_t)(uintptr_t)d);
}

struct fs_decoder *fs_decoder_new(const struct fs_decoder_config *cfg)
{
    struct fs_decoder *d = calloc(1, sizeof(*d));

    if (!d)
        return NULL;
    if (cfg)
        d->cfg = *cfg;
    if (!d->cfg.max_exporters)
        d->cfg.max_exporters = DEFAULT_MAX_EXPORTERS;
    if (!d->cfg.max_templates)
        d->cfg.max_templates = DEFAULT_MAX_TEMPLATES;
    if (!d->cfg.pending_max_bytes)
        d->cfg.pending_max_bytes = DEFAULT_PENDING_BYTES;
    if (!d->cfg.pending_timeout_ms)
        d->cfg.pending_timeout_ms = DEFAULT_PENDING_TIMEOUT_MS;
    d->nbuckets = INITIAL_BUCKETS;
    d->buckets = calloc(d->nbuckets, sizeof(*d->buckets));
    if (!d->buckets) {
        free(d);
        return NULL;
    }
    d->seed = new_seed(d);
    d->ctx.d = d;
    d->ctx.totals = &d->totals;
    return d;
}

static void exporter_free(struct fs_exporter *e)
{
    struct fs_domain *dom, *next;

    for (dom = e->domains; dom; dom = next) {
        next = dom->next;
        free(dom);
    }
    if (e->templates)
        fs_tpl_table_free(e->templates);
    if (e->pending)
        fs_pending_free(e->pending);
    free(e);
}

void fs_decoder_free(struct fs_decoder *d)
{
    struct fs_exporter *e, *older;

    if (!d)
        return;
    for (e = d->newest; e; e = older) {
        older = e->older;
        exporter_free(e);
    }
    free(d->buckets);
    free(d->rates);
    free(d);
}

const struct fs_decoder_config *fs_decoder_config(const struct fs_decoder *d)
{
    return &d->cfg;
}

const struct fs_counters *fs_decoder_totals(const struct fs_decoder *d)
{
    return &d->totals;
}

struct fs_decode_ctx *fs_decoder_ctx(struct fs_decoder *d)
{
    return &d->ctx;
}

/* Index of the configured rate for `addr`, or where it would be inserted. */
static size_t rate_find(const struct fs_decoder *d, const fs_ip *addr, bool *found)
{
    size_t lo = 0, hi = d->nrates;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = ip_cmp(&d->rates[mid].addr, addr);

        if (r == 0) {
            *found = true;
            return mid;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static struct fs_exporter *exporter_find(const struct fs_decoder *d, const fs_ip *addr)
{
    struct fs_exporter *e = d->buckets[ip_hash(d->seed, addr) & (d->nbuckets - 1)];

    while (e && ip_cmp(&e->addr, addr) != 0)
        e = e->hnext;
    return e;
}

int fs_decoder_set_sampling(struct fs_decoder *d, const fs_ip *exporter,
                            uint32_t rate, bool override)
{
    struct fs_exporter *e;
    bool found;
    size_t i;

    if (!rate)
        return -1;
    i = rate_find(d, exporter, &found);
    if (!found) {
        if (d->nrates == d->rates_cap) {
            size_t cap = d->rates_cap ? d->rates_cap * 2 : 8;
            struct conf_rate *r = realloc(d->rates, cap * sizeof(*r));

            if (!r)
                return -1;
            d->rates = r;
            d->rates_cap = cap;
        }
        memmove(&d->rates[i + 1], &d->rates[i], (d->nrates - i) * sizeof(*d->rates));
        d->nrates++;
        ip_copy(&d->rates[i].addr, exporter);
    }
    d->rates[i].rate = rate;
    d->rates[i].override = override;
    e = exporter_find(d, exporter);
    if (e) {
        e->config_rate = rate;
        e->config_override = override;
    }
    return 0;
}

static void list_unlink(struct fs_decoder *d, struct fs_exporter *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        d->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        d->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void list_push_newest(struct fs_decoder *d, struct fs_exporter *e)
{
    e->older = d->newest;
    e->newer = NULL;
    if (d->newest)
        d->newest->newer = e;
    else
        d->oldest = e;
    d->newest = e;
}

static void list_push_oldest(struct fs_decoder *d, struct fs_exporter *e)
{
    e->newer = d->oldest;
    e->older = NULL;
    if (d->oldest)
        d->oldest->older = e;
    else
        d->newest = e;
    d->oldest = e;
}

static void hash_unlink(struct fs_decoder *d, struct fs_exporter *e)
{
    struct fs_exporter **pp = &d->buckets[ip_hash(d->seed, &e->addr) & (d->nbuckets - 1)];

    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
}

static void hash_insert(struct fs_decoder *d, struct fs_exporter *e)
{
    size_t b = ip_hash(d->seed, &e->addr) & (d->nbuckets - 1);

    e->hnext = d->buckets[b];
    d->buckets[b] = e;
}

/* Keeps chains short as exporters come. Out of memory only means longer chains. */
static void hash_grow(struct fs_decoder *d)
{
    size_t n = d->nbuckets * 2, i;
    struct fs_exporter **old = d->buckets;
    size_t nold = d->nbuckets;

    d->buckets = calloc(n, sizeof(*d->buckets));
    if (!d->buckets) {
        d->buckets = old;
        return;
    }
    d->nbuckets = n;
    for (i = 0; i < nold; i++) {
        struct fs_exporter *e = old[i], *next;

        for (; e; e = next) {
            next = e->hnext;
            hash_insert(d, e);
        }
    }
    free(old);
}

/* Sets waiting for a template die with their exporter: they count as expired. */
static void exporter_evict(struct fs_decoder *d, struct fs_exporter *e, uint64_t now_ms)
{
    if (e->log_suppressed)
        fs_exporter_log_suppressed(d, e, now_ms, true);
    d->totals.pending_expired += e->counters.pending_sets;
    d->totals.pending_sets -= e->counters.pending_sets;
    d->totals.exporters_evicted++;
    hash_unlink(d, e);
    list_unlink(d, e);
    if (d->last == e)
        d->last = NULL;
    d->nexporters--;
    exporter_free(e);
}

static struct fs_exporter *exporter_new(struct fs_decoder *d, const fs_ip *addr)
{
    struct fs_exporter *e = calloc(1, sizeof(*e));
    bool found;
    size_t i;

    if (!e)
        return NULL;
    ip_copy(&e->addr, addr);
    i = rate_find(d, addr, &found);
    if (found) {
        e->config_rate = d->rates[i].rate;
        e->config_override = d->rates[i].override;
    }
    if (d->nexporters >= d->nbuckets)
        hash_grow(d);
    hash_insert(d, e);
    list_push_newest(d, e);
    d->nexporters++;
    return e;
}

struct fs_exporter *fs_decoder_exporter(struct fs_decoder *d, const fs_ip *addr,
                                        uint64_t now_ms)
{
    struct fs_exporter *e = d->last;

    if (!e || ip_cmp(&e->addr, addr) != 0)
        e = exporter_find(d, addr);
    if (e) {
        if (d->newest != e) {
            list_unlink(d, e);
            list_push_newest(d, e);
        }
    } else {
        if (d->nexporters >= d->cfg.max_exporters && d->oldest)
            exporter_evict(d, d->oldest, now_ms);
        e = exporter_new(d, addr);
        if (!e)
            return NULL;
    }
    e->last_seen_ms = now_ms;
    d->last = e;
    return e;
}

/*
 * Drops are counted against a tracked exporter, but a dropped datagram neither
 * creates an exporter once the table is full nor makes one more recent: a
 * flood of spoofed, disallowed sources must not push real exporters (and
 * their templates) out.
 */
void fs_decoder_count_drop(struct fs_decoder *d, const fs_ip *exporter,
                           uint64_t allowlist_drops, uint64_t kernel_drops)
{
    struct fs_exporter *e = exporter_find(d, exporter);

    if (!e && d->nexporters < d->cfg.max_exporters) {
        e = exporter_new(d, exporter);
        if (e) {
            /* Oldest, not newest: it has sent nothing we decoded. */
            list_unlink(d, e);
            list_push_oldest(d, e);
        }
    }
    d->totals.allowlist_drops += allowlist_drops;
    d->totals.kernel_drops += kernel_drops;
    if (e) {
        e->counters.allowlist_drops += allowlist_drops;
        e->counters.kernel_drops += kernel_drops;
    }
}

void fs_decoder_expire(struct fs_decoder *d, uint64_t now_ms)
{
    struct fs_exporter *e;

    for (e = d->newest; e; e = e->older) {
        if (e->pending) {
            uint64_t n = fs_pending_expire(e->pending, now_ms, d->cfg.pending_timeout_ms);

            if (n > e->counters.pending_sets)
                n = e->counters.pending_sets;
            e->counters.pending_sets -= n;
            e->counters.pending_expired += n;
            d->totals.pending_sets -= n;
            d->totals.pending_expired += n;
        }
        if (e->log_suppressed)
            fs_exporter_log_suppressed(d, e, now_ms, false);
    }
}

void fs_decoder_foreach_exporter(const struct fs_decoder *d, fs_exporter_fn fn, void *arg)
{
    const struct fs_exporter *e;

    for (e = d->newest; e; e = e->older)
        fn(arg, &e->addr, &e->counters);
}

void fs_decoder_each(const struct fs_decoder *d,
                     void (*fn)(void *arg, struct fs_exporter *e), void *arg)
{
    struct fs_exporter *e, *older;

    for (e = d->newest; e; e = older) {
        older = e->older;
        fn(arg, e);
    }
}

struct fs_domain *fs_ctx_domain(struct fs_decode_ctx *c, uint32_t id, uint16_t version)
{
    struct fs_exporter *e = c->exp;
    struct fs_domain **pp, *dom, *prev = NULL;
    size_t n = 0;

    for (pp = &e->domains; (dom = *pp) != NULL; pp = &dom->next, n++) {
        if (dom->id == id && dom->version == version) {
            if (dom != e->domains) {
                *pp = dom->next;
                dom->next = e->domains;
                e->domains = dom;
            }
            return dom;
        }
        if (dom->next)
            prev = dom;
    }
    if (n >= FS_DOMAINS_MAX && prev) {
        /* Recycle the least recently used domain, the list's tail. */
        dom = prev->next;
        prev->next = NULL;
        memset(dom, 0, sizeof(*dom));
        FS_COUNT(c, domains_evicted, 1);
    } else {
        dom = calloc(1, sizeof(*dom));
        if (!dom)
            return NULL;
    }
    dom->id = id;
    dom->version = version;
    dom->seq.max_jump = version == 9 ? FS_SEQ_JUMP_PACKETS : FS_SEQ_JUMP_RECORDS;
    dom->next = e->domains;
    e->domains = dom;
    return dom;
}

/*
 * All arithmetic is modulo 2^32, so a sequence wrapping from 0xffffffff to 0
 * is plain progress. The lost units a late datagram gives back are taken
 * from the counters, never below zero.
 */
void fs_seq_update(struct fs_decode_ctx *c, struct fs_seq *s, uint32_t seq,
                   uint32_t advance, bool advance_known)
{
    uint32_t max_jump = s->max_jump ? s->max_jump : FS_SEQ_JUMP_RECORDS;
    uint32_t ahead = seq - s->expected;  /* forward distance, mod 2^32 */
    uint32_t behind = s->expected - seq;

    if (!advance_known) {
        s->started = false;
        return;
    }
    if (!s->started || ahead == 0) {
        s->started = true;
        s->expected = seq + advance;
        return;
    }
    if (ahead <= max_jump) {
        FS_COUNT(c, seq_lost, ahead);
        s->expected = seq + advance;
    } else if (behind <= max_jump / FS_SEQ_REORDER_DIV) {
        uint64_t back = advance;

        if (back > c->exp->counters.seq_lost)
            back = c->exp->counters.seq_lost;
        c->exp->counters.seq_lost -= back;
        c->totals->seq_lost -= back;
        FS_COUNT(c, seq_reordered, 1);
    } else {
        FS_COUNT(c, seq_resets, 1);
        s->expected = seq + advance;
    }
}
