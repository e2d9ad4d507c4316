/*
 * binio.c - the bounded binary writer and reader of binio.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binio.h"

void fs_wbuf_bytes(struct fs_wbuf *w, const void *src, size_t n)
{
    if (w->oom || n == 0)
        return;
    if (n > w->cap - w->len) {
        size_t cap = w->cap ? w->cap : 256;
        uint8_t *p;

        while (cap - w->len < n) {
            if (cap > SIZE_MAX / 2) {
                w->oom = true;
                return;
            }
            cap *= 2;
        }
        if ((p = realloc(w->p, cap)) == NULL) {
            w->oom = true;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

void fs_wbuf_printf(struct fs_wbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        fs_wbuf_bytes(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    fs_wbuf_bytes(b, big, (size_t)n);
    free(big);
}

void fs_wbuf_uint(struct fs_wbuf *w, uint64_t v, int n)
{
    uint8_t b[8];

    fs_put_le(b, v, n);
    fs_wbuf_bytes(w, b, (size_t)n);
}

void fs_wbuf_f64(struct fs_wbuf *w, double d)
{
    uint64_t v;

    memcpy(&v, &d, sizeof(v));
    fs_wbuf_uint(w, v, 8);
}

void fs_wbuf_ip(struct fs_wbuf *w, const fs_ip *ip)
{
    fs_wbuf_uint(w, ip->af, 1);
    fs_wbuf_bytes(w, ip->b, sizeof(ip->b));
}

void fs_wbuf_blob(struct fs_wbuf *w, const void *p, size_t n, int lenbytes)
{
    fs_wbuf_uint(w, n, lenbytes);
    fs_wbuf_bytes(w, p, n);
}

void fs_wbuf_free(struct fs_wbuf *w)
{
    free(w->p);
    *w = (struct fs_wbuf){ 0 };
}

bool fs_rbuf_fail(struct fs_rbuf *r, const char *why)
{
    if (!r->failed) {
        r->failed = true;
        r->why = why;
    }
    return false;
}

const uint8_t *fs_rbuf_take(struct fs_rbuf *r, size_t n)
{
    const uint8_t *p;

    if (r->failed)
        return NULL;
    if (n > r->len - r->off) {
        fs_rbuf_fail(r, "cut short");
        return NULL;
    }
    p = r->p + r->off;
    r->off += n;
    return p;
}

void fs_rbuf_bytes(struct fs_rbuf *r, void *dst, size_t n)
{
    const uint8_t *p = fs_rbuf_take(r, n);

    if (p)
        memcpy(dst, p, n);
    else
        memset(dst, 0, n);
}

uint64_t fs_rbuf_uint(struct fs_rbuf *r, int n)
{
    const uint8_t *p = fs_rbuf_take(r, (size_t)n);

    return p ? fs_get_le(p, n) : 0;
}

double fs_rbuf_f64(struct fs_rbuf *r)
{
    uint64_t v = fs_rbuf_uint(r, 8);
    double d;

    memcpy(&d, &v, sizeof(d));
    return d;
}

void fs_rbuf_ip(struct fs_rbuf *r, fs_ip *ip)
{
    ip->af = (uint8_t)fs_rbuf_uint(r, 1);
    fs_rbuf_bytes(r, ip->b, sizeof(ip->b));
}

const uint8_t *fs_rbuf_blob(struct fs_rbuf *r, int lenbytes, size_t *n)
{
    uint64_t len = fs_rbuf_uint(r, lenbytes);
    const uint8_t *p;

    *n = 0;
    if (r->failed)
        return NULL;
    if (len > fs_rbuf_left(r)) {
        fs_rbuf_fail(r, "longer than the bytes left");
        return NULL;
    }
    p = fs_rbuf_take(r, (size_t)len);
    *n = (size_t)len;
    return p;
}

char *fs_rbuf_text(struct fs_rbuf *r, int lenbytes)
{
    size_t n;
    const uint8_t *p = fs_rbuf_blob(r, lenbytes, &n);
    char *s;

    if (p == NULL)
        return NULL;
    if (memchr(p, 0, n)) {
        fs_rbuf_fail(r, "text holds a NUL byte");
        return NULL;
    }
    if ((s = malloc(n + 1)) == NULL) {
        fs_rbuf_fail(r, "out of memory");
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

size_t fs_rbuf_count(struct fs_rbuf *r, int lenbytes, size_t min, uint64_t max,
                     const char *why)
{
    uint64_t n = fs_rbuf_uint(r, lenbytes);

    if (r->failed)
        return 0;
    if (n > max || (uint64_t)(size_t)n != n || (min && n > fs_rbuf_left(r) / min)) {
        fs_rbuf_fail(r, why);
        return 0;
    }
    return (size_t)n;
}
