/*
 * dtab.c - bounded LRU hash table for detector state (see dtab.h).
 *
 * Entries live in one array and are linked by 32-bit indices: a chain per
 * hash bucket and one doubly linked recency list. Indices survive the
 * doubling realloc, pointers would not. Buckets are a power of two at least
 * as many as the slots, so chains stay short without tombstones.
 */
#include <stdlib.h>
#include <string.h>

#include "dtab.h"
#include "sketch.h"

#define NIL UINT32_MAX
#define DTAB_MIN_SLOTS 64u

struct slot {
    uint32_t next;       /* bucket chain, or free list */
    uint32_t prev_lru, next_lru;
    uint32_t tag;        /* 0: free; else the key's hash with bit 0 set, which
                            spares most key comparisons along a chain */
    /* key, then value, at offsets aligned to 8 */
};

struct fs_dtab {
    size_t key_len, val_len, val_off, slot_size;
    uint32_t max, cap, count;
    uint32_t nbuckets;   /* power of two */
    uint32_t *buckets;
    uint8_t *slots;
    uint32_t free_head;
    uint32_t lru_head, lru_tail; /* head = most recent */
    uint64_t evictions;
    fs_dtab_evict_fn evict_fn;
    void *evict_arg;
};

static size_t align8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

static struct slot *slot_at(const struct fs_dtab *t, uint32_t i)
{
    return (struct slot *)(t->slots + (size_t)i * t->slot_size);
}

static uint8_t *slot_key(struct slot *s)
{
    return (uint8_t *)s + sizeof(struct slot);
}

static void *slot_val(const struct fs_dtab *t, struct slot *s)
{
    return (uint8_t *)s + t->val_off;
}

/* One multiply per word, one full mix at the end: keys are a few words. */
static uint64_t key_hash(const struct fs_dtab *t, const void *key)
{
    const uint8_t *p = key;
    uint64_t h = t->key_len;
    size_t i = 0;

    for (; i + 8 <= t->key_len; i += 8) {
        uint64_t w;

        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
    }
    if (i < t->key_len) {
        uint64_t w = 0;

        memcpy(&w, p + i, t->key_len - i);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    }
    return fs_hash_u64(h);
}

/* Keys are a few dozen bytes: comparing them a word at a time inline costs
 * less than a call to memcmp, and this runs several times per flow. */
static inline bool key_eq(const uint8_t *a, const uint8_t *b, size_t len)
{
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        uint64_t u, v;

        memcpy(&u, a + i, 8);
        memcpy(&v, b + i, 8);
        if (u != v)
            return false;
    }
    for (; i < len; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

static uint32_t tag_of(uint64_t h)
{
    return (uint32_t)(h >> 32) | 1u;
}

static void lru_unlink(struct fs_dtab *t, uint32_t i)
{
    struct slot *s = slot_at(t, i);

    if (s->prev_lru != NIL)
        slot_at(t, s->prev_lru)->next_lru = s->next_lru;
    else
        t->lru_head = s->next_lru;
    if (s->next_lru != NIL)
        slot_at(t, s->next_lru)->prev_lru = s->prev_lru;
    else
        t->lru_tail = s->prev_lru;
}

static void lru_push_front(struct fs_dtab *t, uint32_t i)
{
    struct slot *s = slot_at(t, i);

    s->prev_lru = NIL;
    s->next_lru = t->lru_head;
    if (t->lru_head != NIL)
        slot_at(t, t->lru_head)->prev_lru = i;
    t->lru_head = i;
    if (t->lru_tail == NIL)
        t->lru_tail = i;
}

/* Slots [from, to) join the free list. */
static void free_range(struct fs_dtab *t, uint32_t from, uint32_t to)
{
    for (uint32_t i = to; i > from; i--) {
        struct slot *s = slot_at(t, i - 1);

        s->tag = 0;
        s->next = t->free_head;
        t->free_head = i - 1;
    }
}

static int rebucket(struct fs_dtab *t, uint32_t nbuckets)
{
    uint32_t *b = malloc((size_t)nbuckets * sizeof(*b));

    if (!b)
        return -1;
    for (uint32_t i = 0; i < nbuckets; i++)
        b[i] = NIL;
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nbuckets;
    for (uint32_t i = 0; i < t->cap; i++) {
        struct slot *s = slot_at(t, i);

        if (!s->tag)
            continue;
        uint32_t h = (uint32_t)(key_hash(t, slot_key(s)) & (nbuckets - 1));

        s->next = b[h];
        b[h] = i;
    }
    return 0;
}

static int grow(struct fs_dtab *t)
{
    uint32_t ncap = t->cap ? t->cap * 2u : DTAB_MIN_SLOTS;

    if (ncap > t->max || ncap < t->cap)
        ncap = t->max;
    uint8_t *ns = realloc(t->slots, (size_t)ncap * t->slot_size);

    if (!ns)
        return -1;
    t->slots = ns;
    memset(ns + (size_t)t->cap * t->slot_size, 0, (size_t)(ncap - t->cap) * t->slot_size);
    uint32_t old = t->cap;

    t->cap = ncap;
    free_range(t, old, ncap);
    uint32_t nb = 1;

    while (nb < ncap)
        nb <<= 1;
    if (nb != t->nbuckets && rebucket(t, nb) < 0)
        return -1; /* the old buckets still index every used slot */
    return 0;
}

struct fs_dtab *fs_dtab_new(size_t key_len, size_t val_len, uint32_t max_entries)
{
    if (key_len == 0 || val_len == 0 || max_entries == 0 || max_entries == NIL)
        return NULL;
    struct fs_dtab *t = calloc(1, sizeof(*t));

    if (!t)
        return NULL;
    t->key_len = key_len;
    t->val_len = val_len;
    t->val_off = sizeof(struct slot) + align8(key_len);
    t->slot_size = t->val_off + align8(val_len);
    t->max = max_entries;
    t->free_head = t->lru_head = t->lru_tail = NIL;
    if (grow(t) < 0) {
        fs_dtab_free(t);
        return NULL;
    }
    return t;
}

void fs_dtab_free(struct fs_dtab *t)
{
    if (!t)
        return;
    free(t->buckets);
    free(t->slots);
    free(t);
}

void fs_dtab_on_evict(struct fs_dtab *t, fs_dtab_evict_fn fn, void *arg)
{
    t->evict_fn = fn;
    t->evict_arg = arg;
}

/* Index of `key` (hash `h`) and, through *pprev, the chain link that
 * points at it. */
static uint32_t find(const struct fs_dtab *t, const void *key, uint64_t h, uint32_t **pprev)
{
    uint32_t *link = &t->buckets[h & (t->nbuckets - 1)];
    uint32_t tag = tag_of(h);

    while (*link != NIL) {
        struct slot *s = slot_at(t, *link);

        if (s->tag == tag && key_eq(slot_key(s), key, t->key_len)) {
            if (pprev)
                *pprev = link;
            return *link;
        }
        link = &s->next;
    }
    return NIL;
}

static void remove_at(struct fs_dtab *t, uint32_t i)
{
    struct slot *s = slot_at(t, i);
    uint32_t *link;

    if (find(t, slot_key(s), key_hash(t, slot_key(s)), &link) != i)
        return;
    *link = s->next;
    lru_unlink(t, i);
    s->tag = 0;
    s->next = t->free_head;
    t->free_head = i;
    t->count--;
}

void *fs_dtab_get(struct fs_dtab *t, const void *key)
{
    uint32_t i = find(t, key, key_hash(t, key), NULL);

    return i == NIL ? NULL : slot_val(t, slot_at(t, i));
}

void *fs_dtab_put(struct fs_dtab *t, const void *key, bool *created)
{
    uint64_t h = key_hash(t, key);
    uint32_t i = find(t, key, h, NULL);

    if (created)
        *created = (i == NIL);
    if (i != NIL) {
        lru_unlink(t, i);
        lru_push_front(t, i);
        return slot_val(t, slot_at(t, i));
    }
    if (t->free_head == NIL && t->cap < t->max && grow(t) < 0 && t->count == 0)
        return NULL;
    if (t->free_head == NIL) {
        uint32_t victim = t->lru_tail;
        struct slot *v = slot_at(t, victim);

        if (t->evict_fn)
            t->evict_fn(t->evict_arg, slot_key(v), slot_val(t, v));
        remove_at(t, victim);
        t->evictions++;
    }
    i = t->free_head;
    struct slot *s = slot_at(t, i);

    t->free_head = s->next;
    memset(s, 0, t->slot_size);
    s->tag = tag_of(h);
    memcpy(slot_key(s), key, t->key_len);
    uint32_t b = (uint32_t)(h & (t->nbuckets - 1));

    s->next = t->buckets[b];
    t->buckets[b] = i;
    lru_push_front(t, i);
    t->count++;
    return slot_val(t, s);
}

void fs_dtab_del(struct fs_dtab *t, const void *key)
{
    uint32_t i = find(t, key, key_hash(t, key), NULL);

    if (i != NIL)
        remove_at(t, i);
}

void fs_dtab_clear(struct fs_dtab *t)
{
    for (uint32_t i = 0; i < t->nbuckets; i++)
        t->buckets[i] = NIL;
    t->free_head = t->lru_head = t->lru_tail = NIL;
    t->count = 0;
    free_range(t, 0, t->cap);
}

void *fs_dtab_next(struct fs_dtab *t, size_t *iter, const void **key)
{
    while (*iter < t->cap) {
        struct slot *s = slot_at(t, (uint32_t)(*iter)++);

        if (s->tag) {
            if (key)
                *key = slot_key(s);
            return slot_val(t, s);
        }
    }
    return NULL;
}

uint32_t fs_dtab_count(const struct fs_dtab *t)
{
    return t->count;
}

uint32_t fs_dtab_max(const struct fs_dtab *t)
{
    return t->max;
}

uint64_t fs_dtab_evictions(const struct fs_dtab *t)
{
    return t->evictions;
}

size_t fs_dtab_bytes(const struct fs_dtab *t)
{
    return sizeof(*t) + (size_t)t->cap * t->slot_size + (size_t)t->nbuckets * sizeof(uint32_t);
}

struct dtouch_list {
    uint64_t win_ms;
    uint8_t *keys;
    size_t n, cap;
    bool used;
};

struct fs_dtouch {
    size_t key_len;
    struct dtouch_list l[2];
};

struct fs_dtouch *fs_dtouch_new(size_t key_len)
{
    struct fs_dtouch *t;

    if (key_len == 0 || (t = calloc(1, sizeof(*t))) == NULL)
        return NULL;
    t->key_len = key_len;
    return t;
}

void fs_dtouch_free(struct fs_dtouch *t)
{
    if (!t)
        return;
    free(t->l[0].keys);
    free(t->l[1].keys);
    free(t);
}

static struct dtouch_list *dtouch_find(struct fs_dtouch *t, uint64_t win_ms)
{
    for (unsigned i = 0; i < 2; i++)
        if (t->l[i].used && t->l[i].win_ms == win_ms)
            return &t->l[i];
    return NULL;
}

int fs_dtouch_add(struct fs_dtouch *t, uint64_t win_ms, const void *key)
{
    struct dtouch_list *l = dtouch_find(t, win_ms);

    if (!l) {
        l = !t->l[0].used ? &t->l[0] : !t->l[1].used ? &t->l[1]
            : t->l[0].win_ms <= t->l[1].win_ms ? &t->l[0] : &t->l[1];
        if (l->used && l->win_ms > win_ms)
            return -1;
        l->used = true;
        l->win_ms = win_ms;
        l->n = 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        uint8_t *k = realloc(l->keys, cap * t->key_len);

        if (!k)
            return -1;
        l->keys = k;
        l->cap = cap;
    }
    memcpy(l->keys + l->n++ * t->key_len, key, t->key_len);
    return 0;
}

void fs_dtouch_take(struct fs_dtouch *t, uint64_t win_ms,
                    void (*fn)(void *arg, const void *key), void *arg)
{
    struct dtouch_list *l = dtouch_find(t, win_ms);

    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        fn(arg, l->keys + i * t->key_len);
    l->used = false;
    l->n = 0;
}

size_t fs_dtouch_bytes(const struct fs_dtouch *t)
{
    return sizeof(*t) + (t->l[0].cap + t->l[1].cap) * t->key_len;
}

int fs_dtab_blob_write(FILE *fp, uint32_t magic, uint32_t version, const void *data, size_t len)
{
    uint8_t hdr[16];
    struct fs_buf_w w = {.p = hdr, .cap = sizeof(hdr)};

    fs_buf_put_u32(&w, magic);
    fs_buf_put_u32(&w, version);
    fs_buf_put_u64(&w, len);
    if (w.err || fwrite(hdr, 1, w.len, fp) != w.len)
        return -1;
    if (len && fwrite(data, 1, len, fp) != len)
        return -1;
    return 0;
}

int fs_dtab_blob_read(FILE *fp, uint32_t magic, uint32_t version, size_t max_len, uint8_t **data,
                      size_t *len, const char **why)
{
    uint8_t hdr[16];

    *data = NULL;
    *len = 0;
    if (fread(hdr, 1, sizeof(hdr), fp) != sizeof(hdr)) {
        *why = "truncated header";
        return -1;
    }
    struct fs_buf_r r = {.p = hdr, .len = sizeof(hdr)};
    uint32_t m = fs_buf_get_u32(&r), v = fs_buf_get_u32(&r);
    uint64_t n = fs_buf_get_u64(&r);

    if (m != magic) {
        *why = "not this detector's state";
        return -1;
    }
    if (v != version) {
        *why = "unsupported state version";
        return -1;
    }
    if (n > max_len) {
        *why = "state larger than the configured tables allow";
        return -1;
    }
    uint8_t *p = malloc(n ? (size_t)n : 1);

    if (!p) {
        *why = "out of memory";
        return -1;
    }
    if (n && fread(p, 1, (size_t)n, fp) != (size_t)n) {
        free(p);
        *why = "truncated state";
        return -1;
    }
    *data = p;
    *len = (size_t)n;
    return 0;
}
