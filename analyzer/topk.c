/*
 * topk.c - top talkers, top peers and top ports: weighted Space-Saving
 * (Metwally, Agrawal, El Abbadi 2005).
 *
 * `capacity` counters; a new key takes over the smallest counter, inheriting
 * its count as error, so every count over-estimates by at most the minimum
 * and any key heavier than total/capacity is held. The weights are bytes or
 * packets, not just 1, which rules out the stream-summary bucket list: the
 * counters sit in a min-heap (eviction = replace the root, an increment =
 * sift down, usually a step or none since heavy keys live near the leaves)
 * and an open-addressing table with linear probing maps keys to counters.
 * The heap is 4-ary over 16-byte nodes carrying the count and hash, so the
 * four children share a cache line, comparisons rarely touch the counters
 * themselves, and sifting never moves counters or touches the table.
 * Everything is one allocation made at creation.
 */
#include <stdlib.h>
#include <string.h>

#include "sketch.h"

struct entry {
    struct fs_topk_entry e;
    uint32_t hash;  /* of e.key; its home slot in the table is hash & mask */
    uint32_t hpos;  /* position in the heap */
};

/* A heap node mirrors its counter's count and hash. */
struct hnode {
    uint64_t count;
    uint32_t hash;
    uint32_t idx;   /* into ent */
};

struct fs_topk {
    unsigned cap, size;
    uint32_t mask;
    uint64_t total, evictions;
    struct entry *ent;   /* ent[0..size): counters, never moved by the heap */
    struct hnode *heap;  /* min-heap on (count, hash, key) */
    uint32_t *table;     /* index into ent + 1; 0 = empty */
};

struct fs_topk_key fs_topk_key_ip(const fs_ip *ip)
{
    return (struct fs_topk_key){.ip = *ip};
}

struct fs_topk_key fs_topk_key_ip_port(const fs_ip *ip, uint8_t proto, uint16_t port)
{
    return (struct fs_topk_key){.ip = *ip, .proto = proto, .port = port};
}

struct fs_topk_key fs_topk_key_id(uint64_t id)
{
    return (struct fs_topk_key){.id = id};
}

/* Address bytes that count: callers may leave garbage past an IPv4 address. */
static size_t addr_len(const fs_ip *ip)
{
    return ip->af == 4 ? 4 : ip->af == 6 ? 16 : 0;
}

static uint32_t key_hash(const struct fs_topk_key *k)
{
    uint64_t h = fs_hash_ip(&k->ip) ^ k->id * 0x9e3779b97f4a7c15ULL;

    return (uint32_t)fs_hash_u64(h ^ ((uint64_t)k->proto << 16 | k->port));
}

/* Equality for the table: constant-size compares the compiler inlines. */
static bool key_eq(const struct fs_topk_key *a, const struct fs_topk_key *b)
{
    if (a->ip.af != b->ip.af || a->port != b->port || a->proto != b->proto || a->id != b->id)
        return false;
    if (a->ip.af == 4)
        return memcmp(a->ip.b, b->ip.b, 4) == 0;
    return a->ip.af != 6 || memcmp(a->ip.b, b->ip.b, 16) == 0;
}

/* A total order on keys, for reproducible ties. */
static int key_cmp(const struct fs_topk_key *a, const struct fs_topk_key *b)
{
    if (a->ip.af != b->ip.af)
        return a->ip.af < b->ip.af ? -1 : 1;
    int c = memcmp(a->ip.b, b->ip.b, addr_len(&a->ip));

    if (c)
        return c;
    if (a->proto != b->proto)
        return a->proto < b->proto ? -1 : 1;
    if (a->port != b->port)
        return a->port < b->port ? -1 : 1;
    if (a->id != b->id)
        return a->id < b->id ? -1 : 1;
    return 0;
}

/* Heavier first, then by key: the order of fs_topk_list. */
static int entry_rank(const struct fs_topk_entry *a, const struct fs_topk_entry *b)
{
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return key_cmp(&a->key, &b->key);
}

static int entry_rank_q(const void *a, const void *b)
{
    return entry_rank(a, b);
}

struct fs_topk *fs_topk_new(unsigned capacity)
{
    if (capacity < 1 || capacity > 65535)
        return NULL;
    uint32_t tsize = 4;

    while (tsize < 2 * capacity) /* load factor <= 1/2 */
        tsize *= 2;
    struct fs_topk *t = malloc(sizeof(*t) + capacity * (sizeof(struct entry) + sizeof(struct hnode)) +
                               tsize * sizeof(uint32_t));

    if (!t)
        return NULL;
    t->cap = capacity;
    t->mask = tsize - 1;
    t->ent = (struct entry *)(t + 1);
    t->heap = (struct hnode *)(t->ent + capacity);
    t->table = (uint32_t *)(t->heap + capacity);
    fs_topk_clear(t);
    return t;
}

void fs_topk_free(struct fs_topk *t)
{
    free(t);
}

void fs_topk_clear(struct fs_topk *t)
{
    t->size = 0;
    t->total = 0;
    t->evictions = 0;
    memset(t->table, 0, (t->mask + 1) * sizeof(uint32_t));
}

/* Table slot of `k`, or of the empty slot where it would go. */
static uint32_t probe(const struct fs_topk *t, const struct fs_topk_key *k, uint32_t hash)
{
    uint32_t i = hash & t->mask;

    for (; t->table[i]; i = (i + 1) & t->mask) {
        const struct entry *e = &t->ent[t->table[i] - 1];

        if (e->hash == hash && key_eq(&e->e.key, k))
            break;
    }
    return i;
}

/* Removes counter `idx` from the table. Backward-shift deletion keeps every
 * probe chain unbroken without tombstones, so the table never degrades over
 * a long window. */
static void table_del(struct fs_topk *t, uint32_t idx)
{
    uint32_t i = t->ent[idx].hash & t->mask;

    while (t->table[i] != idx + 1)
        i = (i + 1) & t->mask;
    for (uint32_t j = (i + 1) & t->mask; t->table[j]; j = (j + 1) & t->mask) {
        uint32_t home = t->ent[t->table[j] - 1].hash & t->mask;

        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->table[i] = t->table[j];
            i = j;
        }
    }
    t->table[i] = 0;
}

/* Heap order: count, then hash, then key, so which of several equal
 * counters is evicted does not depend on the heap's layout, and a sketch
 * loaded from a snapshot behaves exactly like the one that was saved. */
static bool node_less(const struct fs_topk *t, const struct hnode *a, const struct hnode *b)
{
    if (__builtin_expect(a->count == b->count && a->hash == b->hash, 0))
        return key_cmp(&t->ent[a->idx].e.key, &t->ent[b->idx].e.key) < 0;
    /* Written to compile without branches: sifting is where the time goes,
     * and its comparisons are coin flips for the branch predictor. */
    return (a->count < b->count) | ((a->count == b->count) & (a->hash < b->hash));
}

static void node_put(struct fs_topk *t, uint32_t pos, const struct hnode *n)
{
    t->heap[pos] = *n;
    t->ent[n->idx].hpos = pos;
}

/* Both sifts move a hole rather than swapping: one write per level. */
static void sift_up(struct fs_topk *t, uint32_t i)
{
    struct hnode n = t->heap[i];

    while (i > 0 && node_less(t, &n, &t->heap[(i - 1) / 4])) {
        node_put(t, i, &t->heap[(i - 1) / 4]);
        i = (i - 1) / 4;
    }
    node_put(t, i, &n);
}

static void sift_down(struct fs_topk *t, uint32_t i)
{
    struct hnode n = t->heap[i];

    for (;;) {
        uint32_t c = 4 * i + 1, end = c + 4 < t->size ? c + 4 : t->size, m = c;

        if (c >= t->size)
            break;
        for (uint32_t k = c + 1; k < end; k++)
            m = node_less(t, &t->heap[k], &t->heap[m]) ? k : m;
        if (!node_less(t, &t->heap[m], &n))
            break;
        node_put(t, i, &t->heap[m]);
        i = m;
    }
    node_put(t, i, &n);
}

/* A counter's count grew (or it took over the root): mirror it in its node
 * and restore the heap order. */
static void raise_count(struct fs_topk *t, struct entry *e)
{
    t->heap[e->hpos].count = e->e.count;
    t->heap[e->hpos].hash = e->hash;
    sift_down(t, e->hpos);
}

void fs_topk_add(struct fs_topk *t, const struct fs_topk_key *key, uint64_t weight)
{
    if (weight == 0)
        return;
    uint32_t hash = key_hash(key);
    uint32_t slot = probe(t, key, hash);

    t->total += weight;
    if (t->table[slot]) {
        struct entry *e = &t->ent[t->table[slot] - 1];

        e->e.count += weight;
        raise_count(t, e);
        return;
    }
    bool evict = t->size == t->cap;
    uint32_t idx = evict ? t->heap[0].idx : t->size++;
    struct entry *e = &t->ent[idx];
    uint64_t base = 0;

    if (evict) {
        base = e->e.count;
        table_del(t, idx);
        slot = probe(t, key, hash); /* the deletion may have shifted it */
        t->evictions++;
    }
    e->e.key = *key;
    e->e.count = base + weight;
    e->e.err = base;
    e->hash = hash;
    t->table[slot] = idx + 1;
    if (evict) {
        raise_count(t, e);
    } else {
        e->hpos = idx;
        t->heap[idx] = (struct hnode){.count = e->e.count, .hash = hash, .idx = idx};
        sift_up(t, idx);
    }
}

/* Heap on `worst first`: the root is the entry to drop when a better one comes. */
static void out_sift_down(struct fs_topk_entry *o, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;

        if (l < n && entry_rank(&o[l], &o[m]) > 0)
            m = l;
        if (l + 1 < n && entry_rank(&o[l + 1], &o[m]) > 0)
            m = l + 1;
        if (m == i)
            return;
        struct fs_topk_entry tmp = o[i];

        o[i] = o[m];
        o[m] = tmp;
        i = m;
    }
}

size_t fs_topk_list(const struct fs_topk *t, struct fs_topk_entry *out, size_t max)
{
    size_t n = 0;

    if (max == 0)
        return 0;
    /* Top-`max` selection without scratch memory: `out` is itself a heap. */
    for (unsigned i = 0; i < t->size; i++) {
        const struct fs_topk_entry *e = &t->ent[i].e;

        if (n < max) {
            out[n++] = *e;
            if (n == max)
                for (size_t k = n / 2; k-- > 0;)
                    out_sift_down(out, n, k);
        } else if (entry_rank(e, &out[0]) < 0) {
            out[0] = *e;
            out_sift_down(out, n, 0);
        }
    }
    qsort(out, n, sizeof(*out), entry_rank_q);
    return n;
}

bool fs_topk_get(const struct fs_topk *t, const struct fs_topk_key *key, struct fs_topk_entry *out)
{
    uint32_t slot = probe(t, key, key_hash(key));

    if (!t->table[slot])
        return false;
    *out = t->ent[t->table[slot] - 1].e;
    return true;
}

uint64_t fs_topk_total(const struct fs_topk *t)
{
    return t->total;
}

uint64_t fs_topk_evictions(const struct fs_topk *t)
{
    return t->evictions;
}

unsigned fs_topk_capacity(const struct fs_topk *t)
{
    return t->cap;
}

size_t fs_topk_bytes(const struct fs_topk *t)
{
    return sizeof(*t) + t->cap * (sizeof(struct entry) + sizeof(struct hnode)) +
           (t->mask + 1) * sizeof(uint32_t);
}

/* Re-indexes ent[0..size) after a bulk change: table and heap. */
static void rebuild(struct fs_topk *t)
{
    memset(t->table, 0, (t->mask + 1) * sizeof(uint32_t));
    for (uint32_t i = 0; i < t->size; i++) {
        struct entry *e = &t->ent[i];

        e->hash = key_hash(&e->e.key);
        t->table[probe(t, &e->e.key, e->hash)] = i + 1;
        t->heap[i] = (struct hnode){.count = e->e.count, .hash = e->hash, .idx = i};
        e->hpos = i;
    }
    for (uint32_t i = t->size; i-- > 0;)
        sift_down(t, i);
}

void fs_topk_decay(struct fs_topk *t, double factor)
{
    if (!(factor >= 0))
        factor = 0;
    if (factor > 1)
        factor = 1;
    unsigned n = 0;

    for (unsigned i = 0; i < t->size; i++) {
        struct fs_topk_entry *e = &t->ent[i].e;

        e->count = (uint64_t)((double)e->count * factor);
        e->err = (uint64_t)((double)e->err * factor);
        if (e->count)
            t->ent[n++] = t->ent[i];
    }
    t->size = n;
    t->total = (uint64_t)((double)t->total * factor);
    rebuild(t);
}

/* What a summary guarantees about a key it does not hold: at most its
 * minimum when full, exactly 0 when not. */
static uint64_t absent_bound(const struct fs_topk *t)
{
    return t->size == t->cap ? t->heap[0].count : 0;
}

int fs_topk_merge(struct fs_topk *dst, const struct fs_topk *src)
{
    size_t n = 0;
    struct fs_topk_entry *all = malloc((dst->size + src->size + 1) * sizeof(*all));
    uint64_t md = absent_bound(dst), ms = absent_bound(src);
    struct fs_topk_entry other;

    if (!all)
        return -1;
    for (unsigned i = 0; i < dst->size; i++) {
        all[n] = dst->ent[i].e;
        if (fs_topk_get(src, &all[n].key, &other)) {
            all[n].count += other.count;
            all[n].err += other.err;
        } else {
            all[n].count += ms;
            all[n].err += ms;
        }
        n++;
    }
    for (unsigned i = 0; i < src->size; i++) {
        if (fs_topk_get(dst, &src->ent[i].e.key, &other))
            continue;
        all[n] = src->ent[i].e;
        all[n].count += md;
        all[n].err += md;
        n++;
    }
    qsort(all, n, sizeof(*all), entry_rank_q);
    dst->size = n < dst->cap ? (unsigned)n : dst->cap;
    for (unsigned i = 0; i < dst->size; i++)
        dst->ent[i].e = all[i];
    dst->total += src->total;
    dst->evictions += src->evictions + (n - dst->size);
    free(all);
    rebuild(dst);
    return 0;
}

int fs_topk_save(const struct fs_topk *t, struct fs_buf_w *w)
{
    size_t start = fs_buf_rec_begin(w, 'T');

    fs_buf_put_u32(w, t->size);
    fs_buf_put_u64(w, t->total);
    fs_buf_put_u64(w, t->evictions);
    for (unsigned i = 0; i < t->size; i++) {
        const struct fs_topk_entry *e = &t->ent[i].e;

        fs_buf_put_u8(w, e->key.ip.af);
        fs_buf_put_bytes(w, e->key.ip.b, addr_len(&e->key.ip));
        fs_buf_put_u8(w, e->key.proto);
        fs_buf_put_u16(w, e->key.port);
        fs_buf_put_u64(w, e->key.id);
        fs_buf_put_u64(w, e->count);
        fs_buf_put_u64(w, e->err);
    }
    return fs_buf_rec_end(w, start);
}

static int key_cmp_q(const void *a, const void *b)
{
    return key_cmp(&((const struct fs_topk_entry *)a)->key, &((const struct fs_topk_entry *)b)->key);
}

int fs_topk_load(struct fs_topk *t, struct fs_buf_r *r)
{
    struct fs_buf_r b;
    struct fs_topk_entry *all = NULL;

    if (fs_buf_rec_open(r, 'T', &b) < 0)
        return -1;
    uint32_t size = fs_buf_get_u32(&b);
    uint64_t total = fs_buf_get_u64(&b), evictions = fs_buf_get_u64(&b);

    if (b.err || size > t->cap || !(all = malloc((size + 1) * sizeof(*all))))
        goto bad;
    for (uint32_t i = 0; i < size; i++) {
        struct fs_topk_entry *e = &all[i];

        memset(e, 0, sizeof(*e));
        e->key.ip.af = fs_buf_get_u8(&b);
        if (e->key.ip.af != 0 && e->key.ip.af != 4 && e->key.ip.af != 6)
            goto bad;
        fs_buf_get_bytes(&b, e->key.ip.b, addr_len(&e->key.ip));
        e->key.proto = fs_buf_get_u8(&b);
        e->key.port = fs_buf_get_u16(&b);
        e->key.id = fs_buf_get_u64(&b);
        e->count = fs_buf_get_u64(&b);
        e->err = fs_buf_get_u64(&b);
        if (e->count == 0 || e->err > e->count)
            goto bad;
    }
    if (fs_buf_done(&b) < 0)
        goto bad;
    /* Duplicate keys would corrupt the table: reject them. */
    qsort(all, size, sizeof(*all), key_cmp_q);
    for (uint32_t i = 1; i < size; i++)
        if (key_eq(&all[i - 1].key, &all[i].key))
            goto bad;
    t->size = size;
    for (uint32_t i = 0; i < size; i++)
        t->ent[i].e = all[i];
    t->total = total;
    t->evictions = evictions;
    rebuild(t);
    free(all);
    return 0;
bad:
    free(all);
    r->err = true;
    return -1;
}
