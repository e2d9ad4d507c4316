/*
 * binio.h - fixed-width integers in bytes, and the bounded binary writer and
 * reader behind the state files (fold state, report state, reporter state),
 * so that every format is laid out and checked the same way.
 *
 * Writing: a growable buffer; an allocation failure sets `oom` and makes
 * every later append a no-op, so a writer checks once, at the end.
 *
 *   struct fs_wbuf w = { 0 };
 *   fs_wbuf_bytes(&w, "MAGIC", 5);
 *   fs_wbuf_uint(&w, version, 4);
 *   if (w.oom) ... fs_wbuf_free(&w);
 *
 * Reading: never past the end. The first failure sets `failed` and `why`
 * (the reason, a static string), and from then on every read gives 0 (or
 * zero bytes, NULL), so a decoder reads a whole structure and checks once.
 *
 *   struct fs_rbuf r;
 *   fs_rbuf_init(&r, buf, len);
 *   v = fs_rbuf_uint(&r, 4);
 *   if (r.failed) ... r.why
 *
 * Integers are little-endian (fs_put_le/fs_get_le, the readers and
 * writers) unless a format says otherwise (fs_put_be/fs_get_be); doubles go
 * as their IEEE bits, addresses as family (1 byte) and all 16 bytes.
 */
#ifndef FS_BINIO_H
#define FS_BINIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* The low `n` bytes (1 to 8) of `v` at `p`, least significant first. */
static inline void fs_put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t fs_get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The same, most significant byte first. */
static inline void fs_put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static inline uint64_t fs_get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

struct fs_wbuf {
    uint8_t *p;     /* malloc'd; the caller takes it over or frees it */
    size_t len, cap;
    bool oom;
};

void fs_wbuf_bytes(struct fs_wbuf *w, const void *src, size_t n);
/* printf-formatted text, without its terminating NUL. */
void fs_wbuf_printf(struct fs_wbuf *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The low `n` bytes (1 to 8) of `v`, little-endian. */
void fs_wbuf_uint(struct fs_wbuf *w, uint64_t v, int n);
void fs_wbuf_f64(struct fs_wbuf *w, double d);
void fs_wbuf_ip(struct fs_wbuf *w, const fs_ip *ip);
/* `n` bytes after their count, in `lenbytes` bytes: a text or a blob. */
void fs_wbuf_blob(struct fs_wbuf *w, const void *p, size_t n, int lenbytes);
void fs_wbuf_free(struct fs_wbuf *w);

struct fs_rbuf {
    const uint8_t *p;
    size_t len, off;
    bool failed;
    const char *why;  /* the first failure's reason, NULL while none */
};

static inline void fs_rbuf_init(struct fs_rbuf *r, const void *p, size_t len)
{
    *r = (struct fs_rbuf){ p, len, 0, false, NULL };
}

static inline size_t fs_rbuf_left(const struct fs_rbuf *r)
{
    return r->failed ? 0 : r->len - r->off;
}

/* Marks the reader failed; the first reason stays. Returns false. */
bool fs_rbuf_fail(struct fs_rbuf *r, const char *why);
/* `n` bytes into `dst` (zeros after a failure). */
void fs_rbuf_bytes(struct fs_rbuf *r, void *dst, size_t n);
/* The next `n` bytes where they lie, or NULL. */
const uint8_t *fs_rbuf_take(struct fs_rbuf *r, size_t n);
uint64_t fs_rbuf_uint(struct fs_rbuf *r, int n);
double fs_rbuf_f64(struct fs_rbuf *r);
/* Family and address bytes as they are (the caller judges the family). */
void fs_rbuf_ip(struct fs_rbuf *r, fs_ip *ip);
/* What fs_wbuf_blob wrote, where it lies, with its length in `*n` (0 on a
 * failure). NULL on a failure. */
const uint8_t *fs_rbuf_blob(struct fs_rbuf *r, int lenbytes, size_t *n);
/* What fs_wbuf_blob wrote, as a new NUL-terminated string; a text holding a
 * NUL byte is refused. NULL on any failure. */
char *fs_rbuf_text(struct fs_rbuf *r, int lenbytes);
/* A count in `lenbytes` bytes of entries that each take at least `min`
 * bytes, refused with `why` above `max` or when the bytes left cannot hold
 * that many. 0 on a failure. */
size_t fs_rbuf_count(struct fs_rbuf *r, int lenbytes, size_t min, uint64_t max,
                     const char *why);

#endif
