/*
 * flowtable.c - the sensor's flow meter (see flowtable.h).
 *
 * Two tables of fixed-size entries, both allocated once: flows and tracked
 * fragmented datagrams. Each is found through an open-addressing index
 * (linear probing, a 32-bit hash kept in the slot so that most misses never
 * touch an entry, backward-shift deletion so that no tombstones build up),
 * and ordered by doubly linked lists of 32-bit indices:
 *
 *   lru      flows by last packet, oldest first: the inactive timeout and
 *            the table-full eviction only ever look at its head;
 *   age      flows by creation, oldest first: the active timeout;
 *   closing  flows that saw FIN or RST, by when: the TCP end timeout;
 *   fifo     fragment tracking by creation: the fragment timeout.
 *
 * A flow is in lru or closing, never both. With packets in time order every
 * list is sorted by its deadline, so a packet costs a look at four heads;
 * out-of-order timestamps only delay an expiry until the head moves.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "flowtable.h"

#define NIL UINT32_MAX

#define TCP_FIN 0x01
#define TCP_RST 0x04

/*
 * Open-addressing index: slot.idx is the entry index + 1 (0: empty).
 */
struct slot {
    uint32_t hash;
    uint32_t idx;
};

struct index {
    struct slot *slots;
    uint32_t mask;
};

static int index_init(struct index *x, size_t entries)
{
    size_t n = 16;

    while (n < entries * 2)
        n <<= 1;
    x->slots = calloc(n, sizeof(*x->slots));
    x->mask = (uint32_t)(n - 1);
    return x->slots ? 0 : -1;
}

/* The slot of the entry whose key is `key`, or the empty slot where it
 * would go. `keys` is the first entry, `stride` the entry size. */
static inline uint32_t index_find(const struct index *x, uint32_t hash, const void *key,
                                  size_t keylen, const void *keys, size_t stride)
{
    uint32_t i = hash & x->mask;

    for (;;) {
        const struct slot *s = &x->slots[i];

        if (s->idx == 0)
            return i;
        if (s->hash == hash &&
            memcmp((const char *)keys + (size_t)(s->idx - 1) * stride, key, keylen) == 0)
            return i;
        i = (i + 1) & x->mask;
    }
}

/* The slot holding entry `idx`, which must be in the index. */
static uint32_t index_slot_of(const struct index *x, uint32_t hash, uint32_t idx)
{
    uint32_t i = hash & x->mask;

    while (x->slots[i].idx != idx + 1)
        i = (i + 1) & x->mask;
    return i;
}

/* Empties slot `i`, moving later members of its probe run back so that
 * every entry stays reachable from its home slot. */
static void index_remove(struct index *x, uint32_t i)
{
    uint32_t j = i;

    for (;;) {
        uint32_t home;

        j = (j + 1) & x->mask;
        if (x->slots[j].idx == 0)
            break;
        home = x->slots[j].hash & x->mask;
        /* The entry at j may move to i unless its home lies in (i, j]. */
        if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
            continue;
        x->slots[i] = x->slots[j];
        i = j;
    }
    x->slots[i].idx = 0;
}

/*
 * Doubly linked lists of entry indices. The links live inside the entries,
 * at `off` in entries of `stride` bytes, so that a packet's list update
 * touches the cache lines its lookup brought in.
 */
struct link {
    uint32_t prev, next;
};

struct list {
    uint32_t head, tail;
    char *base;
    size_t stride, off;
};

static void list_init(struct list *l, void *base, size_t stride, size_t off)
{
    l->head = l->tail = NIL;
    l->base = base;
    l->stride = stride;
    l->off = off;
}

static inline struct link *ln(const struct list *l, uint32_t i)
{
    return (struct link *)(l->base + (size_t)i * l->stride + l->off);
}

static void list_append(struct list *l, uint32_t i)
{
    ln(l, i)->prev = l->tail;
    ln(l, i)->next = NIL;
    if (l->tail != NIL)
        ln(l, l->tail)->next = i;
    else
        l->head = i;
    l->tail = i;
}

static void list_unlink(struct list *l, uint32_t i)
{
    struct link *x = ln(l, i);

    if (x->prev != NIL)
        ln(l, x->prev)->next = x->next;
    else
        l->head = x->next;
    if (x->next != NIL)
        ln(l, x->next)->prev = x->prev;
    else
        l->tail = x->prev;
}

/*
 * Entries.
 */

/* Everything a flow is keyed on; compared and hashed as 48 bytes, so the
 * padding is always zero. */
struct ft_key {
    uint8_t src[16], dst[16];
    uint32_t in_if;
    uint16_t src_port, dst_port;
    uint16_t vlan[FS_FRAME_VLAN_MAX];
    uint8_t proto, tos, af, nvlan;
};

enum where { IN_LRU, IN_CLOSING };

/* Two cache lines: a lookup reads the first, a hit updates the second. */
struct ft_flow {
    struct ft_key k;
    struct link lru;     /* in lru or closing */
    uint32_t hash;
    uint8_t tcp_flags;
    uint8_t where;

    uint64_t packets, bytes;
    uint64_t start_ms, end_ms;
    uint64_t closing_ms; /* when FIN or RST came */
    struct link age;
} __attribute__((aligned(64)));

/* A fragmented datagram. */
struct frag_key {
    uint8_t src[16], dst[16];
    uint32_t id;
    uint8_t proto, af, pad[2];
};

struct ft_frag {
    struct frag_key k;
    struct ft_key flow;    /* the first fragment's flow, once it came */
    uint64_t held_packets, held_bytes;
    uint64_t held_first_ms, held_last_ms;
    uint64_t created_ms;
    struct link fifo;
    uint32_t hash;
    bool have_first;
};

struct fs_ft {
    struct fs_ft_config cfg;
    fs_ft_sink sink;
    void *arg;
    uint64_t now;
    struct fs_ft_stats st;

    struct ft_flow *flows;
    struct index flow_index;
    struct list lru, age, closing;
    uint32_t flow_free;   /* free entries, chained through their lru links */
    uint32_t nflows;

    struct ft_frag *frags;
    struct index frag_index;
    struct list fifo;
    uint32_t frag_free;   /* chained through their fifo links */
    uint32_t nfrags;
};

const char *fs_ft_reason_name(enum fs_ft_reason r)
{
    static const char *const names[FS_FT_REASONS] = {
        "inactive", "active", "tcp_end", "table_full", "flush",
    };

    return (unsigned)r < FS_FT_REASONS ? names[r] : "unknown";
}

/* Multiply-xorshift over 8-byte words: the keys are fixed-size and a
 * multiple of 8 bytes long. */
static inline uint32_t hash_words(const void *key, size_t len)
{
    const uint8_t *p = key;
    uint64_t h = 0x243f6a8885a308d3ull;

    for (size_t i = 0; i < len; i += 8) {
        uint64_t w;

        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    h *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(h >> 32);
}

_Static_assert(sizeof(struct ft_key) == 48, "flow key is hashed as 6 words");
_Static_assert(sizeof(struct frag_key) == 40, "fragment key is hashed as 5 words");

/*
 * Flow records.
 */

static bool has_ports(uint8_t proto)
{
    return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP ||
           proto == IPPROTO_UDPLITE;
}

static bool is_icmp(const struct ft_key *k)
{
    return (k->af == 4 && k->proto == IPPROTO_ICMP) ||
           (k->af == 6 && k->proto == IPPROTO_ICMPV6);
}

static void set_ip(fs_ip *ip, uint8_t af, const uint8_t *b)
{
    memset(ip, 0, sizeof(*ip));
    ip->af = af;
    memcpy(ip->b, b, af == 4 ? 4 : 16);
}

static void make_record(const struct fs_ft *t, const struct ft_flow *e, struct fs_flow *f)
{
    const struct ft_key *k = &e->k;

    fs_flow_init(f);
    f->version = 0;
    f->domain = t->cfg.domain;
    f->exporter = t->cfg.exporter;
    set_ip(&f->src_addr, k->af, k->src);
    set_ip(&f->dst_addr, k->af, k->dst);
    FS_FLOW_SET(f, FS_F_SRC_ADDR);
    FS_FLOW_SET(f, FS_F_DST_ADDR);
    f->ip_version = k->af;
    FS_FLOW_SET(f, FS_F_IP_VERSION);
    f->proto = k->proto;
    FS_FLOW_SET(f, FS_F_PROTO);
    f->tos = k->tos;
    FS_FLOW_SET(f, FS_F_TOS);
    if (has_ports(k->proto) || is_icmp(k)) {
        f->src_port = k->src_port;
        f->dst_port = k->dst_port;
        FS_FLOW_SET(f, FS_F_SRC_PORT);
        FS_FLOW_SET(f, FS_F_DST_PORT);
    }
    if (is_icmp(k)) {
        f->icmp_type = (uint8_t)(k->dst_port >> 8);
        f->icmp_code = (uint8_t)k->dst_port;
        FS_FLOW_SET(f, FS_F_ICMP);
    }
    if (k->proto == IPPROTO_TCP) {
        f->tcp_flags = e->tcp_flags;
        FS_FLOW_SET(f, FS_F_TCP_FLAGS);
    }
    f->packets = e->packets;
    f->bytes = e->bytes;
    FS_FLOW_SET(f, FS_F_PACKETS);
    FS_FLOW_SET(f, FS_F_BYTES);
    f->start_ms = e->start_ms;
    f->end_ms = e->end_ms;
    FS_FLOW_SET(f, FS_F_START);
    FS_FLOW_SET(f, FS_F_END);
    if (k->in_if) {
        f->in_if = k->in_if;
        FS_FLOW_SET(f, FS_F_IN_IF);
    }
    if (k->nvlan) {
        f->src_vlan = k->vlan[0];
        FS_FLOW_SET(f, FS_F_SRC_VLAN);
    }
    f->sampling_rate = 1;
    FS_FLOW_SET(f, FS_F_SAMPLING);
}

/*
 * Flows.
 */

static void flow_end(struct fs_ft *t, uint32_t i, enum fs_ft_reason why)
{
    struct ft_flow *e = &t->flows[i];
    struct fs_flow rec;

    make_record(t, e, &rec);
    index_remove(&t->flow_index, index_slot_of(&t->flow_index, e->hash, i));
    list_unlink(e->where == IN_LRU ? &t->lru : &t->closing, i);
    list_unlink(&t->age, i);
    e->lru.next = t->flow_free;
    t->flow_free = i;
    t->nflows--;
    t->st.expired[why]++;
    t->st.active_flows = t->nflows;
    t->sink(t->arg, &rec, why);
}

/* The entry for `k` (whose hash is `hash`), created (at `ts`) when missing. */
static uint32_t flow_get(struct fs_ft *t, const struct ft_key *k, uint32_t hash, uint64_t ts)
{
    uint32_t s = index_find(&t->flow_index, hash, k, sizeof(*k), t->flows, sizeof(*t->flows));
    struct ft_flow *e;
    uint32_t i;

    if (t->flow_index.slots[s].idx != 0) {
        i = t->flow_index.slots[s].idx - 1;
        e = &t->flows[i];
        if (e->where == IN_LRU && t->lru.tail != i) {
            list_unlink(&t->lru, i);
            list_append(&t->lru, i);
        }
        return i;
    }
    if (t->nflows == t->cfg.max_flows) {
        flow_end(t, t->lru.head != NIL ? t->lru.head : t->closing.head, FS_FT_TABLE_FULL);
        /* The eviction may have moved entries in the probe run. */
        s = index_find(&t->flow_index, hash, k, sizeof(*k), t->flows, sizeof(*t->flows));
    }
    i = t->flow_free;
    t->flow_free = t->flows[i].lru.next;
    e = &t->flows[i];
    e->k = *k;
    e->packets = e->bytes = 0;
    e->start_ms = e->end_ms = ts;
    e->hash = hash;
    e->tcp_flags = 0;
    e->where = IN_LRU;
    t->flow_index.slots[s] = (struct slot){ hash, i + 1 };
    list_append(&t->lru, i);
    list_append(&t->age, i);
    t->nflows++;
    t->st.flows++;
    t->st.active_flows = t->nflows;
    return i;
}

/* Counts `packets` packets of `bytes` bytes, seen from `first` to `last`,
 * in flow `i`. */
static void flow_count(struct fs_ft *t, uint32_t i, uint64_t packets, uint64_t bytes,
                       uint64_t first, uint64_t last)
{
    struct ft_flow *e = &t->flows[i];

    e->packets += packets;
    e->bytes += bytes;
    if (first < e->start_ms)
        e->start_ms = first;
    if (last > e->end_ms)
        e->end_ms = last;
    t->st.metered += packets;
    t->st.bytes += bytes;
}

/* A FIN or RST: the flow ends now, or joins the closing list. */
static void flow_tcp_end(struct fs_ft *t, uint32_t i, uint64_t ts)
{
    struct ft_flow *e = &t->flows[i];

    if (t->cfg.tcp_end_ms == 0) {
        flow_end(t, i, FS_FT_TCP_END);
        return;
    }
    if (e->where == IN_CLOSING)
        return;
    list_unlink(&t->lru, i);
    list_append(&t->closing, i);
    e->where = IN_CLOSING;
    e->closing_ms = ts;
}

/*
 * Fragments.
 */

static void frag_forget(struct fs_ft *t, uint32_t i)
{
    struct ft_frag *e = &t->frags[i];

    if (e->held_packets) {
        t->st.frags_unmatched += e->held_packets;
        t->st.frags_unmatched_bytes += e->held_bytes;
    }
    index_remove(&t->frag_index, index_slot_of(&t->frag_index, e->hash, i));
    list_unlink(&t->fifo, i);
    e->fifo.next = t->frag_free;
    t->frag_free = i;
    t->nfrags--;
}

static uint32_t frag_get(struct fs_ft *t, const struct fs_frame *fr, uint64_t ts)
{
    struct frag_key k;
    uint32_t hash, s, i;
    struct ft_frag *e;

    memset(&k, 0, sizeof(k));
    memcpy(k.src, fr->src_addr.b, sizeof(k.src));
    memcpy(k.dst, fr->dst_addr.b, sizeof(k.dst));
    k.id = fr->frag_id;
    k.proto = fr->proto;
    k.af = fr->ip_version;
    hash = hash_words(&k, sizeof(k));
    s = index_find(&t->frag_index, hash, &k, sizeof(k), t->frags, sizeof(*t->frags));
    if (t->frag_index.slots[s].idx != 0)
        return t->frag_index.slots[s].idx - 1;
    if (t->nfrags == t->cfg.max_frags) {
        t->st.frags_evicted++;
        frag_forget(t, t->fifo.head);
        s = index_find(&t->frag_index, hash, &k, sizeof(k), t->frags, sizeof(*t->frags));
    }
    i = t->frag_free;
    e = &t->frags[i];
    t->frag_free = e->fifo.next;
    memset(e, 0, sizeof(*e));
    e->k = k;
    e->hash = hash;
    e->created_ms = ts;
    t->frag_index.slots[s] = (struct slot){ hash, i + 1 };
    list_append(&t->fifo, i);
    t->nfrags++;
    return i;
}

/*
 * Expiry.
 */

static void expire_due(struct fs_ft *t, uint64_t now)
{
    const struct fs_ft_config *c = &t->cfg;
    uint32_t i;

    while ((i = t->lru.head) != NIL && t->flows[i].end_ms + c->inactive_ms <= now) {
        const struct ft_flow *e = &t->flows[i];

        /* Both may be due: the reason is the deadline that came first. */
        flow_end(t, i, e->start_ms + c->active_ms <= e->end_ms + c->inactive_ms
                           ? FS_FT_ACTIVE : FS_FT_INACTIVE);
    }
    while ((i = t->age.head) != NIL && t->flows[i].start_ms + c->active_ms <= now)
        flow_end(t, i, FS_FT_ACTIVE);
    while ((i = t->closing.head) != NIL && t->flows[i].closing_ms + c->tcp_end_ms <= now)
        flow_end(t, i, FS_FT_TCP_END);
    while ((i = t->fifo.head) != NIL && t->frags[i].created_ms + c->frag_timeout_ms <= now)
        frag_forget(t, i);
}

static void advance(struct fs_ft *t, uint64_t ts)
{
    if (ts > t->now)
        t->now = ts;
    else if (ts < t->now)
        t->st.late++;
    expire_due(t, t->now);
}

void fs_ft_expire(struct fs_ft *t, uint64_t now_ms)
{
    if (now_ms > t->now)
        t->now = now_ms;
    expire_due(t, t->now);
}

void fs_ft_flush(struct fs_ft *t)
{
    while (t->age.head != NIL)
        flow_end(t, t->age.head, FS_FT_FLUSH);
    while (t->fifo.head != NIL)
        frag_forget(t, t->fifo.head);
}

/*
 * Packets.
 */

/* IP bytes of the packet: the header's length, unless the wire length says
 * it cannot be (a zero length from segmentation offload, an IPv6 jumbogram,
 * a length past the end of the packet); then what the wire carried. */
static uint64_t ip_bytes(const struct fs_frame *fr, uint32_t wire_len)
{
    uint32_t on_wire = wire_len > fr->l3_off ? wire_len - fr->l3_off : 0;
    uint32_t hdr = fr->l4_off - fr->l3_off;

    if (on_wire == 0)
        return fr->ip_len;
    if (fr->ip_len < hdr || fr->ip_len > on_wire || (fr->ip_version == 6 && fr->ip_len == 40))
        return on_wire;
    return fr->ip_len;
}

static void key_from_frame(struct ft_key *k, const struct fs_frame *fr, uint32_t in_if)
{
    memset(k, 0, sizeof(*k));
    memcpy(k->src, fr->src_addr.b, sizeof(k->src));
    memcpy(k->dst, fr->dst_addr.b, sizeof(k->dst));
    k->in_if = in_if;
    k->proto = fr->proto;
    k->tos = fr->tos;
    k->af = fr->ip_version;
    k->nvlan = fr->nvlan;
    for (unsigned v = 0; v < fr->nvlan; v++)
        k->vlan[v] = fr->vlan[v];
}

/* Whether the transport fields the key needs were captured. */
static bool transport_complete(const struct fs_frame *fr)
{
    switch (fr->proto) {
    case IPPROTO_TCP:
        return (fr->have & (FS_FRAME_HAVE_PORTS | FS_FRAME_HAVE_TCP_FLAGS)) ==
               (FS_FRAME_HAVE_PORTS | FS_FRAME_HAVE_TCP_FLAGS);
    case IPPROTO_UDP: case IPPROTO_UDPLITE: case IPPROTO_SCTP:
        return fr->have & FS_FRAME_HAVE_PORTS;
    case IPPROTO_ICMP: case IPPROTO_ICMPV6:
        return fr->have & FS_FRAME_HAVE_ICMP;
    default:
        return true;
    }
}

/* A fragment past the first: no transport header. */
static void later_fragment(struct fs_ft *t, const struct fs_frame *fr, uint64_t bytes,
                           uint64_t ts)
{
    struct ft_frag *e = &t->frags[frag_get(t, fr, ts)];

    if (e->have_first) {
        flow_count(t, flow_get(t, &e->flow, hash_words(&e->flow, sizeof(e->flow)), ts), 1,
                   bytes, ts, ts);
        return;
    }
    if (e->held_packets == 0 || ts < e->held_first_ms)
        e->held_first_ms = ts;
    if (ts > e->held_last_ms)
        e->held_last_ms = ts;
    e->held_packets++;
    e->held_bytes += bytes;
    t->st.frags_held++;
}

/*
 * Packets go through two passes: prepare() reads only the packet (its key,
 * hash and fate), so that the index slots and entries of the packets a few
 * places ahead can be fetched into the cache while meter() counts the
 * current one. With a table bigger than the cache, those fetches are most
 * of the time a packet costs.
 */
enum prep_kind { P_NOT_IP, P_MALFORMED, P_TRUNCATED, P_LATER_FRAG, P_FLOW };

struct prep {
    struct ft_key k;   /* P_FLOW */
    uint32_t hash;
    uint8_t kind;
    uint64_t bytes;
};

static void prepare(const struct fs_ft_pkt *p, struct prep *pr)
{
    const struct fs_frame *fr = &p->frame;
    struct ft_key *k = &pr->k;

    if (p->result == FS_FRAME_NOT_IP || p->result == FS_FRAME_MALFORMED) {
        pr->kind = p->result == FS_FRAME_NOT_IP ? P_NOT_IP : P_MALFORMED;
        return;
    }
    if (!(fr->have & FS_FRAME_HAVE_PROTO)) {
        pr->kind = P_TRUNCATED;
        return;
    }
    pr->bytes = ip_bytes(fr, p->wire_len);
    if ((fr->flags & FS_FRAME_FRAGMENT) && fr->frag_offset != 0) {
        pr->kind = P_LATER_FRAG;
        return;
    }
    if (!transport_complete(fr)) {
        pr->kind = P_TRUNCATED;
        return;
    }
    key_from_frame(k, fr, p->in_if);
    if (fr->have & FS_FRAME_HAVE_PORTS) {
        k->src_port = fr->src_port;
        k->dst_port = fr->dst_port;
    } else if (is_icmp(k)) {
        k->dst_port = (uint16_t)(fr->icmp_type << 8 | fr->icmp_code);
    }
    pr->hash = hash_words(k, sizeof(*k));
    pr->kind = P_FLOW;
}

static int meter(struct fs_ft *t, const struct fs_ft_pkt *p, const struct prep *pr)
{
    const struct fs_frame *fr = &p->frame;
    uint64_t ts = p->ts_ms;
    uint32_t i;

    t->st.packets++;
    advance(t, ts);
    if ((fr->flags & FS_FRAME_FRAGMENT) && (fr->have & FS_FRAME_HAVE_PROTO) &&
        pr->kind >= P_TRUNCATED)
        t->st.fragments++;
    switch (pr->kind) {
    case P_NOT_IP:
        t->st.not_ip++;
        return -1;
    case P_MALFORMED:
        t->st.malformed++;
        return -1;
    case P_TRUNCATED:
        t->st.truncated++;
        return -1;
    case P_LATER_FRAG:
        later_fragment(t, fr, pr->bytes, ts);
        return 0;
    default:
        break;
    }

    i = flow_get(t, &pr->k, pr->hash, ts);
    flow_count(t, i, 1, pr->bytes, ts, ts);
    if (fr->have & FS_FRAME_HAVE_TCP_FLAGS)
        t->flows[i].tcp_flags |= fr->tcp_flags;
    if (fr->flags & FS_FRAME_FRAGMENT) {
        struct ft_frag *e = &t->frags[frag_get(t, fr, ts)];

        e->flow = pr->k;
        e->have_first = true;
        if (e->held_packets) {
            flow_count(t, i, e->held_packets, e->held_bytes, e->held_first_ms,
                       e->held_last_ms);
            e->held_packets = e->held_bytes = 0;
        }
    }
    if (pr->k.proto == IPPROTO_TCP && (fr->tcp_flags & (TCP_FIN | TCP_RST)))
        flow_tcp_end(t, i, ts);
    return 0;
}

/* The flow entry a prepared packet will most likely hit: the one in its
 * home slot, when the hash matches. NIL when none. */
static uint32_t likely_entry(const struct fs_ft *t, const struct prep *pr)
{
    const struct slot *s = &t->flow_index.slots[pr->hash & t->flow_index.mask];

    return s->idx != 0 && s->hash == pr->hash ? s->idx - 1 : NIL;
}

static void fetch_entry(const struct fs_ft *t, const struct prep *pr)
{
    uint32_t i = likely_entry(t, pr);

    if (i != NIL) {
        __builtin_prefetch(&t->flows[i].k, 1);
        __builtin_prefetch(&t->flows[i].packets, 1);
    }
}

/* The LRU neighbours, which moving the entry to the tail writes. */
static void fetch_neighbours(const struct fs_ft *t, const struct prep *pr)
{
    uint32_t i = likely_entry(t, pr);

    if (i != NIL && t->flows[i].where == IN_LRU && i != t->lru.tail) {
        if (t->flows[i].lru.prev != NIL)
            __builtin_prefetch(&t->flows[t->flows[i].lru.prev].lru, 1);
        __builtin_prefetch(&t->flows[t->flows[i].lru.next].lru, 1);
    }
}

#define BATCH 32
#define AHEAD_ENTRY 12
#define AHEAD_LINKS 6

void fs_ft_packets(struct fs_ft *t, const struct fs_ft_pkt *pkts, size_t n)
{
    struct prep pr[BATCH];

    for (size_t base = 0; base < n; base += BATCH) {
        size_t m = n - base < BATCH ? n - base : BATCH;

        for (size_t i = 0; i < m; i++) {
            prepare(&pkts[base + i], &pr[i]);
            if (pr[i].kind == P_FLOW)
                __builtin_prefetch(&t->flow_index.slots[pr[i].hash & t->flow_index.mask]);
        }
        for (size_t i = 0; i < m; i++) {
            if (i + AHEAD_ENTRY < m && pr[i + AHEAD_ENTRY].kind == P_FLOW)
                fetch_entry(t, &pr[i + AHEAD_ENTRY]);
            if (i + AHEAD_LINKS < m && pr[i + AHEAD_LINKS].kind == P_FLOW)
                fetch_neighbours(t, &pr[i + AHEAD_LINKS]);
            meter(t, &pkts[base + i], &pr[i]);
        }
    }
}

int fs_ft_packet(struct fs_ft *t, const struct fs_frame *fr, int result, uint32_t wire_len,
                 uint32_t in_if, uint64_t ts_ms)
{
    struct fs_ft_pkt p = { *fr, result, wire_len, in_if, ts_ms };
    struct prep pr;

    prepare(&p, &pr);
    return meter(t, &p, &pr);
}

uint64_t fs_ft_now(const struct fs_ft *t)
{
    return t->now;
}

const struct fs_ft_stats *fs_ft_stats(const struct fs_ft *t)
{
    return &t->st;
}

/*
 * Life cycle.
 */

/* Chains entries 0..n-1 of list `l`'s kind into a free list. */
static uint32_t chain_free(const struct list *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ln(l, (uint32_t)i)->next = i + 1 < n ? (uint32_t)(i + 1) : NIL;
    return n ? 0 : NIL;
}

struct fs_ft *fs_ft_new(const struct fs_ft_config *cfg, fs_ft_sink sink, void *arg)
{
    struct fs_ft *t;

    if (sink == NULL || cfg->max_flows > FS_FT_MAX_ENTRIES || cfg->max_frags > FS_FT_MAX_ENTRIES)
        return NULL;
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return NULL;
    t->cfg = *cfg;
    t->sink = sink;
    t->arg = arg;
    if (!t->cfg.inactive_ms)
        t->cfg.inactive_ms = FS_FT_DEFAULT_INACTIVE_MS;
    if (!t->cfg.active_ms)
        t->cfg.active_ms = FS_FT_DEFAULT_ACTIVE_MS;
    if (!t->cfg.max_flows)
        t->cfg.max_flows = FS_FT_DEFAULT_MAX_FLOWS;
    if (!t->cfg.max_frags)
        t->cfg.max_frags = FS_FT_DEFAULT_MAX_FRAGS;
    if (!t->cfg.frag_timeout_ms)
        t->cfg.frag_timeout_ms = FS_FT_DEFAULT_FRAG_TIMEOUT_MS;

    t->flows = aligned_alloc(64, t->cfg.max_flows * sizeof(*t->flows));
    t->frags = calloc(t->cfg.max_frags, sizeof(*t->frags));
    if (!t->flows || !t->frags || index_init(&t->flow_index, t->cfg.max_flows) < 0 ||
        index_init(&t->frag_index, t->cfg.max_frags) < 0) {
        fs_ft_free(t);
        return NULL;
    }
    memset(t->flows, 0, t->cfg.max_flows * sizeof(*t->flows));
    list_init(&t->lru, t->flows, sizeof(*t->flows), offsetof(struct ft_flow, lru));
    list_init(&t->closing, t->flows, sizeof(*t->flows), offsetof(struct ft_flow, lru));
    list_init(&t->age, t->flows, sizeof(*t->flows), offsetof(struct ft_flow, age));
    list_init(&t->fifo, t->frags, sizeof(*t->frags), offsetof(struct ft_frag, fifo));
    t->flow_free = chain_free(&t->lru, t->cfg.max_flows);
    t->frag_free = chain_free(&t->fifo, t->cfg.max_frags);
    return t;
}

void fs_ft_free(struct fs_ft *t)
{
    if (t == NULL)
        return;
    free(t->flows);
    free(t->flow_index.slots);
    free(t->frags);
    free(t->frag_index.slots);
    free(t);
}
