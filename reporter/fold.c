/*
 * fold.c - alert storm containment (fold.h): fold windows per (host, class)
 * and the global per-minute rate limit, driven by event time only.
 *
 * Open windows live in a fixed pool of `max_keys` slots, found through a
 * chained hash of (host, class) and ordered by a binary heap on (end, key).
 * The heap order is total, so windows close (by time, eviction or flush) in
 * the same order whatever order they were opened or reloaded in, and a
 * replay emits exactly the same alerts.
 *
 * Saved state (integers little-endian, doubles as their IEEE bits):
 *
 *   "FSRPFOLD", version u32, body length u64, body, FNV-1a 64 of all before
 *   body: started u8, now u64, minute u64, sent u32, held u32, held_first
 *         u64, held_last u64, windows u32, then per window: host (af u8,
 *         16 bytes), class u8, opener id u64, end u64, count u32, first u64,
 *         last u64, and when count > 0 the most severe anomaly: every field
 *         of struct fs_anomaly in order, enums as u32, arrays at full size
 *         (enc_anomaly), so that any anomaly comes back exactly as it was
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binio.h"
#include "fold.h"

#define NIL UINT32_MAX
#define MINUTE_MS UINT64_C(60000)
#define DEFAULT_KEYS 4096u
#define MAGIC "FSRPFOLD"
#define VERSION 1u
#define HEAD_LEN 20u  /* magic, version, body length */
#define SUM_LEN 8u

struct win {
    fs_ip host;              /* unused address bytes zeroed: compared and hashed whole */
    uint8_t cls;
    uint64_t opener;         /* id of the anomaly that opened the window */
    uint64_t end_ms;
    uint32_t count;          /* anomalies absorbed */
    uint64_t first_ms, last_ms;
    struct fs_anomaly worst; /* the most severe absorbed (count > 0) */
    uint32_t next;           /* hash chain, or free list */
};

struct fs_rp_fold {
    uint32_t window_s, max_keys, rate;
    struct win *wins;        /* max_keys slots */
    uint32_t *buckets, nbuckets;
    uint32_t *heap, nheap;   /* open windows, earliest (end, key) first */
    uint32_t free_head;

    bool started;            /* event time known */
    uint64_t now;            /* event time */
    uint64_t minute;         /* the rate limit's minute (now / 60000 when last rolled) */
    uint32_t sent, held;     /* alerts out and held back in that minute */
    uint64_t held_first, held_last;

    struct fs_rp_fold_counters c;
};

/* ------------------------------------------------------------------ */
/* Keys, hash and heap. */

static size_t ip_len(const fs_ip *ip)
{
    return ip->af == 4 ? 4 : ip->af == 6 ? 16 : 0;
}

/* The address with its meaningless bytes cleared. */
static fs_ip ip_norm(const fs_ip *ip)
{
    fs_ip n;

    memset(&n, 0, sizeof(n));
    n.af = ip_len(ip) ? ip->af : 0;
    memcpy(n.b, ip->b, ip_len(ip));
    return n;
}

static uint32_t bucket(const struct fs_rp_fold *f, const fs_ip *host, uint8_t cls)
{
    uint64_t h = fs_fnv64(FS_FNV64_INIT, host, sizeof(*host));
    return (uint32_t)fs_fnv64(h, &cls, 1) & (f->nbuckets - 1);
}

static int key_cmp(const struct win *a, const struct win *b)
{
    int c = memcmp(&a->host, &b->host, sizeof(a->host));
    return c ? c : (int)a->cls - (int)b->cls;
}

static bool before(const struct fs_rp_fold *f, uint32_t i, uint32_t j)
{
    const struct win *a = &f->wins[i], *b = &f->wins[j];

    if (a->end_ms != b->end_ms)
        return a->end_ms < b->end_ms;
    return key_cmp(a, b) < 0;
}

static void heap_push(struct fs_rp_fold *f, uint32_t w)
{
    uint32_t i = f->nheap++;

    while (i > 0 && before(f, w, f->heap[(i - 1) / 2])) {
        f->heap[i] = f->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    f->heap[i] = w;
}

static uint32_t heap_pop(struct fs_rp_fold *f)
{
    uint32_t top = f->heap[0], last = f->heap[--f->nheap], i = 0;

    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= f->nheap)
            break;
        if (c + 1 < f->nheap && before(f, f->heap[c + 1], f->heap[c]))
            c++;
        if (!before(f, f->heap[c], last))
            break;
        f->heap[i] = f->heap[c];
        i = c;
    }
    if (f->nheap)
        f->heap[i] = last;
    return top;
}

static uint32_t *find(struct fs_rp_fold *f, const fs_ip *host, uint8_t cls)
{
    uint32_t *p = &f->buckets[bucket(f, host, cls)];

    while (*p != NIL) {
        const struct win *w = &f->wins[*p];
        if (w->cls == cls && memcmp(&w->host, host, sizeof(*host)) == 0)
            return p;
        p = &f->wins[*p].next;
    }
    return p;
}

/* A free slot, linked into the hash (the key must not be there yet). */
static struct win *win_add(struct fs_rp_fold *f, const fs_ip *host, uint8_t cls)
{
    uint32_t *p = find(f, host, cls);
    uint32_t i = f->free_head;
    struct win *w = &f->wins[i];

    f->free_head = w->next;
    memset(w, 0, sizeof(*w));
    w->host = *host;
    w->cls = cls;
    w->next = NIL;
    *p = i;
    return w;
}

static void win_remove(struct fs_rp_fold *f, uint32_t i)
{
    struct win *w = &f->wins[i];
    uint32_t *p = find(f, &w->host, w->cls);

    *p = w->next;
    w->next = f->free_head;
    f->free_head = i;
}

static void reset(struct fs_rp_fold *f)
{
    for (uint32_t i = 0; i < f->nbuckets; i++)
        f->buckets[i] = NIL;
    for (uint32_t i = 0; i < f->max_keys; i++)
        f->wins[i].next = i + 1 < f->max_keys ? i + 1 : NIL;
    f->free_head = 0;
    f->nheap = 0;
    f->started = false;
    f->now = f->minute = 0;
    f->sent = f->held = 0;
    f->held_first = f->held_last = 0;
}

struct fs_rp_fold *fs_rp_fold_new(const struct fs_rp_fold_opts *o)
{
    struct fs_rp_fold *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    f->window_s = o->window_s;
    f->max_keys = o->max_keys ? o->max_keys : DEFAULT_KEYS;
    f->rate = o->rate_per_min;
    f->nbuckets = 1;
    while (f->nbuckets < f->max_keys && f->nbuckets < (UINT32_C(1) << 31))
        f->nbuckets <<= 1;
    f->wins = calloc(f->max_keys, sizeof(*f->wins));
    f->buckets = calloc(f->nbuckets, sizeof(*f->buckets));
    f->heap = calloc(f->max_keys, sizeof(*f->heap));
    if (!f->wins || !f->buckets || !f->heap) {
        fs_rp_fold_free(f);
        return NULL;
    }
    reset(f);
    return f;
}

void fs_rp_fold_free(struct fs_rp_fold *f)
{
    if (!f)
        return;
    free(f->wins);
    free(f->buckets);
    free(f->heap);
    free(f);
}

const struct fs_rp_fold_counters *fs_rp_fold_counters(const struct fs_rp_fold *f)
{
    return &f->c;
}

/* ------------------------------------------------------------------ */
/* Emitting. */

static uint64_t id_of(const char *tag, const uint64_t *v, size_t n)
{
    uint64_t h = fs_fnv64(FS_FNV64_INIT, tag, strlen(tag));

    for (size_t i = 0; i < n; i++) {
        uint8_t b[8];
        for (int k = 0; k < 8; k++)
            b[k] = (uint8_t)(v[i] >> (56 - 8 * k));
        h = fs_fnv64(h, b, sizeof(b));
    }
    return h;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Through the rate limit: out, or counted toward the minute's STORM. */
static void out(struct fs_rp_fold *f, const struct fs_rp_alert *al, fs_rp_emit_fn emit,
                void *arg)
{
    if (f->rate && f->sent >= f->rate) {
        if (f->held == 0 || al->first_ms < f->held_first)
            f->held_first = al->first_ms;
        if (f->held == 0 || al->last_ms > f->held_last)
            f->held_last = al->last_ms;
        f->held += f->held < UINT32_MAX;
        f->c.rate_limited++;
        return;
    }
    f->sent++;
    if (al->kind == FS_RP_SINGLE)
        f->c.singles++;
    else
        f->c.folded++;
    emit(arg, al);
}

/* Ends the rate limit's minute: the STORM alert for what it held back.
 * The id covers what the STORM stands for, so that a second STORM in the
 * same minute (after a flush) is not taken for a duplicate. */
static void end_minute(struct fs_rp_fold *f, fs_rp_emit_fn emit, void *arg)
{
    if (f->held) {
        struct fs_rp_alert al;
        uint64_t v[4] = { f->minute, f->held, f->held_first, f->held_last };

        memset(&al, 0, sizeof(al));
        al.kind = FS_RP_STORM;
        al.id = id_of("storm", v, 4);
        al.a.ts_ms = f->minute * MINUTE_MS;
        al.a.end_ms = add_sat(al.a.ts_ms, MINUTE_MS);
        al.count = f->held;
        al.first_ms = f->held_first;
        al.last_ms = f->held_last;
        f->c.storms++;
        emit(arg, &al);
    }
    f->sent = f->held = 0;
}

static void roll_minute(struct fs_rp_fold *f, uint64_t t, fs_rp_emit_fn emit, void *arg)
{
    if (t / MINUTE_MS > f->minute) {
        end_minute(f, emit, arg);
        f->minute = t / MINUTE_MS;
    }
}

static void close_win(struct fs_rp_fold *f, uint32_t i, fs_rp_emit_fn emit, void *arg)
{
    const struct win *w = &f->wins[i];

    if (w->count) {
        struct fs_rp_alert al;

        memset(&al, 0, sizeof(al));
        al.kind = FS_RP_FOLDED;
        al.id = id_of("folded", &w->opener, 1);
        al.a = w->worst;
        al.count = w->count;
        al.first_ms = w->first_ms;
        al.last_ms = w->last_ms;
        out(f, &al, emit, arg);
    }
    win_remove(f, i);
}

static void start(struct fs_rp_fold *f, uint64_t t)
{
    if (!f->started) {
        f->started = true;
        f->now = t;
        f->minute = t / MINUTE_MS;
    }
}

void fs_rp_fold_advance(struct fs_rp_fold *f, uint64_t event_ms, fs_rp_emit_fn emit, void *arg)
{
    start(f, event_ms);
    if (event_ms < f->now)
        return;
    /* Each window closes at its own end, in the minute that end falls in. */
    while (f->nheap && f->wins[f->heap[0]].end_ms <= event_ms) {
        uint64_t end = f->wins[f->heap[0]].end_ms;
        if (end > f->now)
            f->now = end;
        roll_minute(f, f->now, emit, arg);
        close_win(f, heap_pop(f), emit, arg);
    }
    f->now = event_ms;
    roll_minute(f, event_ms, emit, arg);
}

/* Severity first, then score; the earlier one stays on a tie. */
static bool worse(const struct fs_anomaly *a, const struct fs_anomaly *b)
{
    if (a->severity != b->severity)
        return a->severity > b->severity;
    return a->score > b->score;
}

void fs_rp_fold_anomaly(struct fs_rp_fold *f, const struct fs_anomaly *a, fs_rp_emit_fn emit,
                        void *arg)
{
    struct fs_rp_alert al;

    f->c.anomalies++;
    fs_rp_fold_advance(f, a->ts_ms, emit, arg);
    if (f->window_s) {
        fs_ip host = ip_norm(&a->host);
        uint8_t cls = (uint8_t)a->cls;
        uint32_t *p = find(f, &host, cls);

        if (*p != NIL) {
            struct win *w = &f->wins[*p];
            if (w->count == 0 || worse(a, &w->worst))
                w->worst = *a;
            if (w->count == 0 || a->ts_ms < w->first_ms)
                w->first_ms = a->ts_ms;
            if (w->count == 0 || a->ts_ms > w->last_ms)
                w->last_ms = a->ts_ms;
            w->count += w->count < UINT32_MAX;
            f->c.absorbed++;
            return;
        }
        if (f->nheap == f->max_keys) {
            close_win(f, heap_pop(f), emit, arg);
            f->c.evicted++;
        }
        /* A late anomaly's window starts now: one that started in the past
         * would close before it could absorb anything. */
        struct win *w = win_add(f, &host, cls);
        w->opener = a->id;
        w->end_ms = add_sat(a->ts_ms > f->now ? a->ts_ms : f->now, (uint64_t)f->window_s * 1000);
        heap_push(f, (uint32_t)(w - f->wins));
    }
    memset(&al, 0, sizeof(al));
    al.kind = FS_RP_SINGLE;
    al.id = a->id;
    al.a = *a;
    al.count = 1;
    al.first_ms = al.last_ms = a->ts_ms;
    out(f, &al, emit, arg);
}

void fs_rp_fold_flush(struct fs_rp_fold *f, fs_rp_emit_fn emit, void *arg)
{
    while (f->nheap)
        close_win(f, heap_pop(f), emit, arg);
    end_minute(f, emit, arg);
}

/* ------------------------------------------------------------------ */
/* Saving. */

static void enc_anomaly(struct fs_wbuf *w, const struct fs_anomaly *a)
{
    const double nums[] = { a->score, a->z, a->observed, a->expected, a->std,
                            a->q1, a->q3, a->iqr_low, a->iqr_high };

    fs_wbuf_uint(w, a->id, 8);
    fs_wbuf_uint(w, a->ts_ms, 8);
    fs_wbuf_uint(w, a->end_ms, 8);
    fs_wbuf_ip(w, &a->host);
    fs_wbuf_ip(w, &a->peer);
    fs_wbuf_uint(w, (uint32_t)a->cls, 4);
    fs_wbuf_uint(w, (uint32_t)a->severity, 4);
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        fs_wbuf_f64(w, nums[i]);
    fs_wbuf_bytes(w, a->metric, sizeof(a->metric));
    fs_wbuf_uint(w, a->samples, 4);
    fs_wbuf_uint(w, a->npeers, 1);
    fs_wbuf_uint(w, a->nports, 1);
    fs_wbuf_uint(w, a->nextra, 1);
    for (int i = 0; i < FS_ANOMALY_TOP; i++) {
        fs_wbuf_ip(w, &a->top_peers[i].addr);
        fs_wbuf_uint(w, a->top_peers[i].value, 8);
    }
    for (int i = 0; i < FS_ANOMALY_TOP; i++) {
        fs_wbuf_uint(w, a->top_ports[i].port, 2);
        fs_wbuf_uint(w, a->top_ports[i].proto, 1);
        fs_wbuf_uint(w, a->top_ports[i].value, 8);
    }
    for (int i = 0; i < FS_ANOMALY_EXTRA; i++) {
        fs_wbuf_bytes(w, a->extra[i].key, sizeof(a->extra[i].key));
        fs_wbuf_f64(w, a->extra[i].value);
    }
}

static void enc(struct fs_wbuf *w, const struct fs_rp_fold *f)
{
    size_t body;

    fs_wbuf_bytes(w, MAGIC, 8);
    fs_wbuf_uint(w, VERSION, 4);
    body = w->len;
    fs_wbuf_uint(w, 0, 8); /* body length, set below */
    fs_wbuf_uint(w, f->started, 1);
    fs_wbuf_uint(w, f->now, 8);
    fs_wbuf_uint(w, f->minute, 8);
    fs_wbuf_uint(w, f->sent, 4);
    fs_wbuf_uint(w, f->held, 4);
    fs_wbuf_uint(w, f->held_first, 8);
    fs_wbuf_uint(w, f->held_last, 8);
    fs_wbuf_uint(w, f->nheap, 4);
    for (uint32_t i = 0; i < f->nheap; i++) {
        const struct win *x = &f->wins[f->heap[i]];
        fs_wbuf_ip(w, &x->host);
        fs_wbuf_uint(w, x->cls, 1);
        fs_wbuf_uint(w, x->opener, 8);
        fs_wbuf_uint(w, x->end_ms, 8);
        fs_wbuf_uint(w, x->count, 4);
        fs_wbuf_uint(w, x->first_ms, 8);
        fs_wbuf_uint(w, x->last_ms, 8);
        if (x->count)
            enc_anomaly(w, &x->worst);
    }
    if (w->oom)
        return;
    fs_put_le(w->p + body, w->len - HEAD_LEN, 8);
    fs_wbuf_uint(w, fs_fnv64(FS_FNV64_INIT, w->p, w->len), 8);
}

int fs_rp_fold_save(const struct fs_rp_fold *f, void **buf, size_t *len)
{
    struct fs_wbuf w = { 0 };

    enc(&w, f);
    if (w.oom) {
        fs_wbuf_free(&w);
        return -1;
    }
    *buf = w.p;
    *len = w.len;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Loading: the whole buffer's length and checksum are checked before any
 * field is believed; then every field is range-checked anyway. */

/* Any anomaly the fold was fed must come back as it was, odd values
 * included: the checksum, not a range check, says the bytes are ours. */
static void dec_anomaly(struct fs_rbuf *r, struct fs_anomaly *a)
{
    double *nums[] = { &a->score, &a->z, &a->observed, &a->expected, &a->std,
                       &a->q1, &a->q3, &a->iqr_low, &a->iqr_high };

    memset(a, 0, sizeof(*a));
    a->id = fs_rbuf_uint(r, 8);
    a->ts_ms = fs_rbuf_uint(r, 8);
    a->end_ms = fs_rbuf_uint(r, 8);
    fs_rbuf_ip(r, &a->host);
    fs_rbuf_ip(r, &a->peer);
    a->cls = (enum fs_anomaly_class)fs_rbuf_uint(r, 4);
    a->severity = (enum fs_severity)fs_rbuf_uint(r, 4);
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        *nums[i] = fs_rbuf_f64(r);
    fs_rbuf_bytes(r, a->metric, sizeof(a->metric));
    a->samples = (uint32_t)fs_rbuf_uint(r, 4);
    a->npeers = (uint8_t)fs_rbuf_uint(r, 1);
    a->nports = (uint8_t)fs_rbuf_uint(r, 1);
    a->nextra = (uint8_t)fs_rbuf_uint(r, 1);
    for (int i = 0; i < FS_ANOMALY_TOP; i++) {
        fs_rbuf_ip(r, &a->top_peers[i].addr);
        a->top_peers[i].value = fs_rbuf_uint(r, 8);
    }
    for (int i = 0; i < FS_ANOMALY_TOP; i++) {
        a->top_ports[i].port = (uint16_t)fs_rbuf_uint(r, 2);
        a->top_ports[i].proto = (uint8_t)fs_rbuf_uint(r, 1);
        a->top_ports[i].value = fs_rbuf_uint(r, 8);
    }
    for (int i = 0; i < FS_ANOMALY_EXTRA; i++) {
        fs_rbuf_bytes(r, a->extra[i].key, sizeof(a->extra[i].key));
        a->extra[i].value = fs_rbuf_f64(r);
    }
}

static const char *dec(struct fs_rp_fold *f, struct fs_rbuf *r, uint32_t *nwin)
{
    uint32_t n;

    f->started = fs_rbuf_uint(r, 1) != 0;
    f->now = fs_rbuf_uint(r, 8);
    f->minute = fs_rbuf_uint(r, 8);
    f->sent = (uint32_t)fs_rbuf_uint(r, 4);
    f->held = (uint32_t)fs_rbuf_uint(r, 4);
    f->held_first = fs_rbuf_uint(r, 8);
    f->held_last = fs_rbuf_uint(r, 8);
    n = *nwin = (uint32_t)fs_rbuf_uint(r, 4);
    if (r->failed)
        return "cut short";
    if (n > f->max_keys)
        return "more windows than max_keys";
    for (uint32_t i = 0; i < n; i++) {
        fs_ip host;
        uint8_t cls;

        fs_rbuf_ip(r, &host);
        host = ip_norm(&host);
        cls = (uint8_t)fs_rbuf_uint(r, 1);
        if (r->failed)
            return "cut short";
        if (*find(f, &host, cls) != NIL)
            return "a window twice";
        struct win *w = win_add(f, &host, cls);
        w->opener = fs_rbuf_uint(r, 8);
        w->end_ms = fs_rbuf_uint(r, 8);
        w->count = (uint32_t)fs_rbuf_uint(r, 4);
        w->first_ms = fs_rbuf_uint(r, 8);
        w->last_ms = fs_rbuf_uint(r, 8);
        if (w->count)
            dec_anomaly(r, &w->worst);
        heap_push(f, (uint32_t)(w - f->wins));
        if (r->failed)
            return "cut short";
    }
    return fs_rbuf_left(r) == 0 ? NULL : "bytes after the last window";
}

int fs_rp_fold_load(struct fs_rp_fold *f, const void *buf, size_t len, char *err,
                    size_t errlen)
{
    const uint8_t *p = buf;
    struct fs_rbuf r;
    uint8_t magic[8];
    uint32_t version, nwin = 0;
    uint64_t body, sum;
    const char *why;

    reset(f);
    if (len < HEAD_LEN + SUM_LEN) {
        snprintf(err, errlen, "fold state truncated: %zu bytes, at least %u needed", len,
                 HEAD_LEN + SUM_LEN);
        return -1;
    }
    fs_rbuf_init(&r, p, len - SUM_LEN);
    fs_rbuf_bytes(&r, magic, sizeof(magic));
    if (memcmp(magic, MAGIC, sizeof(magic)) != 0) {
        snprintf(err, errlen, "not fold state (bad magic)");
        return -1;
    }
    version = (uint32_t)fs_rbuf_uint(&r, 4);
    if (version != VERSION) {
        snprintf(err, errlen, "fold state version %u, this build reads %u", version, VERSION);
        return -1;
    }
    body = fs_rbuf_uint(&r, 8);
    if (body != len - HEAD_LEN - SUM_LEN) {
        snprintf(err, errlen, "fold state %s: %zu bytes after the header, it says %llu",
                 body > len - HEAD_LEN - SUM_LEN ? "truncated" : "has trailing bytes",
                 len - HEAD_LEN, (unsigned long long)body + SUM_LEN);
        return -1;
    }
    sum = fs_get_le(p + len - SUM_LEN, 8);
    if (sum != fs_fnv64(FS_FNV64_INIT, p, len - SUM_LEN)) {
        snprintf(err, errlen, "fold state damaged: checksum mismatch");
        return -1;
    }
    why = dec(f, &r, &nwin);
    if (why) {
        snprintf(err, errlen, "fold state %s: %s (%u windows, max_keys %u)",
                 nwin > f->max_keys ? "refused" : "damaged", why, nwin, f->max_keys);
        reset(f);
        return -1;
    }
    return 0;
}
