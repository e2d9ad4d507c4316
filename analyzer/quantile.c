/*
 * quantile.c - the per-slot quantile sketch behind every host baseline.
 *
 * The analyzer keeps one per host, per metric, per seasonal slot, and a slot
 * only sees one sample per window per week, so the history that matters is
 * a few dozen numbers: keeping the most recent ones exactly beats any
 * summary of an unbounded stream, and follows drift for free. The bytes are
 * what is scarce, so each sample is a 16-bit code taken straight from the
 * bits of the double 1 + x: exponent (6 bits, 1 + x < 2^64) and rounded
 * mantissa (10 bits). That is a log scale to within 2^-11 relative, monotone,
 * and costs a shift rather than a log().
 */
#include <math.h>
#include <string.h>

#include "sketch.h"

#define EXP_BIAS 1023
#define MANT_DROP 42 /* 52 mantissa bits, 10 kept */

static uint16_t encode(double x)
{
    if (!(x > 0))
        return 0; /* also NaN */
    double y = 1 + x;
    uint64_t bits;

    memcpy(&bits, &y, sizeof(bits));
    /* Round to nearest; a carry out of the mantissa bumps the exponent,
     * which is the right answer. */
    bits += (uint64_t)1 << (MANT_DROP - 1);
    uint64_t code = (bits >> MANT_DROP) - ((uint64_t)EXP_BIAS << 10);

    return code > UINT16_MAX ? UINT16_MAX : (uint16_t)code;
}

static double decode(uint16_t code)
{
    uint64_t bits = ((uint64_t)code + ((uint64_t)EXP_BIAS << 10)) << MANT_DROP;
    double y;

    memcpy(&y, &bits, sizeof(y));
    return y - 1;
}

void fs_qs_init(struct fs_qs *q)
{
    memset(q, 0, sizeof(*q));
}

static void push(struct fs_qs *q, uint16_t code)
{
    q->v[q->pos] = code;
    q->pos = (uint8_t)((q->pos + 1) % FS_QS_K);
    if (q->len < FS_QS_K)
        q->len++;
    if (q->seen < UINT16_MAX)
        q->seen++;
}

void fs_qs_add(struct fs_qs *q, double x)
{
    push(q, encode(x));
}

unsigned fs_qs_len(const struct fs_qs *q)
{
    return q->len;
}

/* The held samples, decoded, ascending. Codes sort like the values. */
static unsigned sorted(const struct fs_qs *q, double *out)
{
    uint16_t c[FS_QS_K];
    unsigned n = q->len;

    memcpy(c, q->v, n * sizeof(c[0]));
    for (unsigned i = 1; i < n; i++) {
        uint16_t x = c[i];
        unsigned j = i;

        for (; j > 0 && c[j - 1] > x; j--)
            c[j] = c[j - 1];
        c[j] = x;
    }
    for (unsigned i = 0; i < n; i++)
        out[i] = decode(c[i]);
    return n;
}

double fs_qs_quantile(const struct fs_qs *q, double p)
{
    double v[FS_QS_K];
    unsigned n = sorted(q, v);

    return fs_stat_quantile_sorted(v, n, p);
}

void fs_qs_summarize(const struct fs_qs *q, struct fs_stat_summary *out)
{
    double v[FS_QS_K];
    unsigned n = sorted(q, v);

    fs_stat_summarize(v, n, out);
}

/* The i-th newest code held (i < len). */
static uint16_t newest(const struct fs_qs *q, unsigned i)
{
    return q->v[(q->pos + 2 * FS_QS_K - 1 - i) % FS_QS_K];
}

void fs_qs_merge(struct fs_qs *dst, const struct fs_qs *src)
{
    uint16_t pick[FS_QS_K];
    unsigned n = 0, a = 0, b = 0;

    while (n < FS_QS_K && (a < dst->len || b < src->len)) {
        if (a < dst->len)
            pick[n++] = newest(dst, a++);
        if (n < FS_QS_K && b < src->len)
            pick[n++] = newest(src, b++);
    }
    unsigned seen = dst->seen + src->seen;

    fs_qs_init(dst);
    while (n > 0)
        push(dst, pick[--n]);
    dst->seen = seen > UINT16_MAX ? UINT16_MAX : (uint16_t)seen;
}

int fs_qs_save(const struct fs_qs *q, struct fs_buf_w *w)
{
    size_t start = fs_buf_rec_begin(w, 'Q');

    fs_buf_put_u8(w, q->len);
    fs_buf_put_u16(w, q->seen);
    for (unsigned i = q->len; i > 0; i--) /* oldest first */
        fs_buf_put_u16(w, newest(q, i - 1));
    return fs_buf_rec_end(w, start);
}

int fs_qs_load(struct fs_qs *q, struct fs_buf_r *r)
{
    struct fs_buf_r b;
    struct fs_qs t;

    if (fs_buf_rec_open(r, 'Q', &b) < 0)
        return -1;
    fs_qs_init(&t);
    unsigned len = fs_buf_get_u8(&b);
    uint16_t seen = fs_buf_get_u16(&b);

    if (len > FS_QS_K || seen < len)
        goto bad;
    for (unsigned i = 0; i < len; i++)
        push(&t, fs_buf_get_u16(&b));
    if (fs_buf_done(&b) < 0)
        goto bad;
    t.seen = seen;
    *q = t;
    return 0;
bad:
    r->err = true;
    return -1;
}
