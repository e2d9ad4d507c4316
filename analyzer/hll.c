/*
 * hll.c - distinct counting for "distinct peers / ports per window", and the
 * address hashes the sketches share.
 *
 * Most hosts talk to a handful of peers in a window, so a counter starts as a
 * small exact set of 32-bit hash prefixes kept inline (no allocation, exact
 * answers where a threshold like "more than 20 ports" is decided). Past
 * FS_HLL_SMALL items it allocates 2^p one-byte registers once and becomes a
 * HyperLogLog. The estimate is Ertl's improved raw estimator ("New
 * cardinality estimation algorithms for HyperLogLog sketches", 2017): it
 * folds the linear-counting correction for empty registers (sigma) and the
 * saturation correction for full ones (tau) into one formula, so there is no
 * switch-over point and no empirical bias table.
 *
 * Register index = top p bits of the hash, rank = 1 + leading zeros of the
 * rest. Set members keep only the top 32 bits; on promotion they are rebuilt
 * as hash = prefix << 32 | 1 << 31, which gives the same index and the same
 * rank unless the 32 - p bits after the index are all zero (probability
 * 2^-(32-p) per item, and then the rank is merely capped).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sketch.h"

uint64_t fs_hash_ip(const fs_ip *ip)
{
    uint64_t hi, lo;

    if (ip->af == 4) {
        uint32_t v4;

        memcpy(&v4, ip->b, 4);
        return fs_hash_u64((uint64_t)4 << 32 | v4);
    }
    if (ip->af != 6)
        return fs_hash_u64(0);
    memcpy(&hi, ip->b, 8);
    memcpy(&lo, ip->b + 8, 8);
    return fs_hash_u64(fs_hash_u64(hi ^ 6) ^ lo);
}

uint64_t fs_hash_ip_port(const fs_ip *ip, uint16_t port)
{
    return fs_hash_u64(fs_hash_ip(ip) ^ port);
}

int fs_hll_init(struct fs_hll *h, unsigned p)
{
    if (p < FS_HLL_P_MIN || p > FS_HLL_P_MAX)
        return -1;
    memset(h, 0, sizeof(*h));
    h->p = (uint8_t)p;
    return 0;
}

void fs_hll_free(struct fs_hll *h)
{
    free(h->reg);
    h->reg = NULL;
    fs_hll_clear(h);
}

void fs_hll_clear(struct fs_hll *h)
{
    h->big = 0;
    h->n = 0;
}

static size_t nreg(const struct fs_hll *h)
{
    return (size_t)1 << h->p;
}

static void reg_update(struct fs_hll *h, uint64_t hash)
{
    unsigned q = 64 - h->p;
    uint64_t rest = hash << h->p;
    uint8_t rank = rest ? (uint8_t)(__builtin_clzll(rest) + 1) : (uint8_t)(q + 1);
    uint8_t *r = &h->reg[hash >> q];

    if (rank > *r)
        *r = rank;
}

static uint64_t rebuild(uint32_t prefix)
{
    return (uint64_t)prefix << 32 | 1u << 31;
}

static int promote(struct fs_hll *h)
{
    if (!h->reg && !(h->reg = malloc(nreg(h))))
        return -1;
    memset(h->reg, 0, nreg(h));
    for (unsigned i = 0; i < h->n; i++)
        reg_update(h, rebuild(h->small[i]));
    h->big = 1;
    h->n = 0;
    return 0;
}

/* Slots past n hold copies of small[0], so that scanning all of them
 * finds exactly the members. */
static void pad_small(struct fs_hll *h, uint32_t first)
{
    for (unsigned i = h->n; i < FS_HLL_SMALL; i++)
        h->small[i] = first;
}

int fs_hll_add(struct fs_hll *h, uint64_t hash)
{
    if (h->big) {
        reg_update(h, hash);
        return 0;
    }
    uint32_t top = (uint32_t)(hash >> 32);
    unsigned hit = 0;

    if (h->n == 0) {
        pad_small(h, top);
        h->n = 1;
        return 0;
    }
    /* Fixed length, no early exit: the scan vectorises. */
    for (unsigned i = 0; i < FS_HLL_SMALL; i++)
        hit |= h->small[i] == top;
    if (hit)
        return 0;
    if (h->n < FS_HLL_SMALL) {
        h->small[h->n++] = top;
        return 0;
    }
    if (promote(h) < 0)
        return -1;
    reg_update(h, hash);
    return 0;
}

/* sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1): the empty-register term. */
static double sigma(double x)
{
    double y = 1, z = x, prev;

    if (x >= 1)
        return INFINITY;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (z != prev);
    return z;
}

/* tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3: the full-register term. */
static double tau(double x)
{
    double y = 1, z = 1 - x, prev;

    if (x <= 0 || x >= 1)
        return 0;
    do {
        x = sqrt(x);
        prev = z;
        y *= 0.5;
        z -= (1 - x) * (1 - x) * y;
    } while (z != prev);
    return z / 3;
}

uint64_t fs_hll_count(const struct fs_hll *h)
{
    if (!h->big)
        return h->n;
    unsigned q = 64 - h->p;
    uint32_t c[66] = {0};
    double m = (double)nreg(h);

    for (size_t i = 0; i < nreg(h); i++)
        c[h->reg[i]]++;
    if (c[0] == nreg(h))
        return 0;
    double z = m * tau(1 - c[q + 1] / m);

    for (unsigned k = q; k >= 1; k--)
        z = 0.5 * (z + c[k]);
    z += m * sigma(c[0] / m);
    double est = m * m / (2 * M_LN2 * z);

    /* Every register at the top rank: beyond what 64-bit hashes can tell. */
    return est < 0x1p64 ? (uint64_t)llround(est) : UINT64_MAX;
}

int fs_hll_merge(struct fs_hll *dst, const struct fs_hll *src)
{
    if (dst->p != src->p)
        return -1;
    if (!src->big) {
        for (unsigned i = 0; i < src->n; i++)
            if (fs_hll_add(dst, rebuild(src->small[i])) < 0)
                return -1;
        return 0;
    }
    if (!dst->big && promote(dst) < 0)
        return -1;
    for (size_t i = 0; i < nreg(dst); i++)
        if (src->reg[i] > dst->reg[i])
            dst->reg[i] = src->reg[i];
    return 0;
}

bool fs_hll_is_exact(const struct fs_hll *h)
{
    return !h->big;
}

size_t fs_hll_bytes(const struct fs_hll *h)
{
    return sizeof(*h) + (h->reg ? nreg(h) : 0);
}

int fs_hll_save(const struct fs_hll *h, struct fs_buf_w *w)
{
    size_t start = fs_buf_rec_begin(w, 'H');

    fs_buf_put_u8(w, h->p);
    fs_buf_put_u8(w, h->big);
    if (h->big) {
        fs_buf_put_bytes(w, h->reg, nreg(h));
    } else {
        fs_buf_put_u16(w, h->n);
        for (unsigned i = 0; i < h->n; i++)
            fs_buf_put_u32(w, h->small[i]);
    }
    return fs_buf_rec_end(w, start);
}

/* A saved set must be what fs_hll_add could have built: distinct prefixes. */
static bool small_valid(const uint32_t *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = i + 1; j < n; j++)
            if (s[i] == s[j])
                return false;
    return true;
}

int fs_hll_load(struct fs_hll *h, struct fs_buf_r *r)
{
    struct fs_buf_r b;
    uint32_t small[FS_HLL_SMALL];
    const uint8_t *regs = NULL;
    unsigned n = 0;

    if (fs_buf_rec_open(r, 'H', &b) < 0)
        return -1;
    unsigned p = fs_buf_get_u8(&b), big = fs_buf_get_u8(&b);

    if (p < FS_HLL_P_MIN || p > FS_HLL_P_MAX || big > 1)
        goto bad;
    if (big) {
        size_t m = (size_t)1 << p;

        if (b.err || b.len - b.off < m)
            goto bad;
        regs = b.p + b.off;
        b.off += m;
        for (size_t i = 0; i < m; i++)
            if (regs[i] > 65 - p)
                goto bad;
    } else {
        n = fs_buf_get_u16(&b);
        if (n > FS_HLL_SMALL)
            goto bad;
        for (unsigned i = 0; i < n; i++)
            small[i] = fs_buf_get_u32(&b);
        if (!small_valid(small, n))
            goto bad;
    }
    if (fs_buf_done(&b) < 0)
        goto bad;
    if (big) {
        uint8_t *reg = h->reg;

        /* Registers sized for another p cannot be reused. */
        if (!reg || h->p != p) {
            if (!(reg = malloc((size_t)1 << p)))
                goto bad;
            free(h->reg);
            h->reg = reg;
        }
        memcpy(reg, regs, (size_t)1 << p);
    } else {
        if (h->reg && h->p != p) {
            free(h->reg);
            h->reg = NULL;
        }
        memcpy(h->small, small, n * sizeof(small[0]));
    }
    h->n = (uint16_t)n;
    if (n)
        pad_small(h, small[0]);
    h->p = (uint8_t)p;
    h->big = (uint8_t)big;
    return 0;
bad:
    r->err = true;
    return -1;
}
