/*
 * span.c - distinct items per window and over a rolling horizon (span.h).
 */
#include <string.h>

#include "span.h"

void fs_span_init(struct fs_span *s, uint64_t epoch_ms)
{
    memset(s, 0, sizeof(*s));
    s->epoch_ms = epoch_ms ? epoch_ms : 1;
    for (unsigned i = 0; i < 2; i++) {
        fs_hll_init(&s->win[i], FS_SPAN_HLL_P);
        fs_hll_init(&s->ep[i], FS_SPAN_HLL_P);
    }
}

void fs_span_free(struct fs_span *s)
{
    for (unsigned i = 0; i < 2; i++) {
        fs_hll_free(&s->win[i]);
        fs_hll_free(&s->ep[i]);
    }
}

bool fs_span_add(struct fs_span *s, uint64_t win_ms, uint64_t t, uint64_t hash)
{
    if (win_ms) {
        unsigned i = s->win_ms[0] == win_ms ? 0 : s->win_ms[1] == win_ms ? 1 : 2;

        if (i == 2) {
            i = s->win_ms[0] <= s->win_ms[1] ? 0 : 1;
            if (s->win_ms[i] > win_ms)
                return false;
            s->win_ms[i] = win_ms;
            fs_hll_clear(&s->win[i]);
        }
        fs_hll_add(&s->win[i], hash);
    }
    uint64_t e = t / s->epoch_ms;

    if (e > s->epoch) {
        /* The current epoch becomes the previous one; older ones go. */
        if (e == s->epoch + 1) {
            struct fs_hll tmp = s->ep[1];

            s->ep[1] = s->ep[0];
            s->ep[0] = tmp;
        } else {
            fs_hll_clear(&s->ep[1]);
        }
        fs_hll_clear(&s->ep[0]);
        s->epoch = e;
    }
    if (e == s->epoch)
        fs_hll_add(&s->ep[0], hash);
    else if (e + 1 == s->epoch)
        fs_hll_add(&s->ep[1], hash);
    return true;
}

uint64_t fs_span_window(const struct fs_span *s, uint64_t win_ms)
{
    for (unsigned i = 0; i < 2; i++)
        if (s->win_ms[i] == win_ms)
            return fs_hll_count(&s->win[i]);
    return 0;
}

uint64_t fs_span_bound(const struct fs_span *s)
{
    return fs_hll_count(&s->ep[0]) + fs_hll_count(&s->ep[1]);
}

uint64_t fs_span_horizon(const struct fs_span *s, uint64_t now_ms, struct fs_hll *scratch)
{
    uint64_t now = now_ms / s->epoch_ms;
    /* ep[0] is epoch s->epoch, ep[1] the one before: each counts while it
     * is now's epoch or the one before (or later, for flows of a window
     * still open). */
    bool cur = s->epoch + 1 >= now, prev = s->epoch >= now;

    fs_hll_clear(scratch);
    if ((cur && fs_hll_merge(scratch, &s->ep[0]) < 0) ||
        (prev && fs_hll_merge(scratch, &s->ep[1]) < 0)) {
        /* No memory for the union: the larger epoch is a lower bound. */
        uint64_t a = cur ? fs_hll_count(&s->ep[0]) : 0, b = prev ? fs_hll_count(&s->ep[1]) : 0;

        return a > b ? a : b;
    }
    return fs_hll_count(scratch);
}

size_t fs_span_heap_bytes(const struct fs_span *s)
{
    size_t n = 0;

    for (unsigned i = 0; i < 2; i++)
        n += fs_hll_bytes(&s->win[i]) + fs_hll_bytes(&s->ep[i]) - 2 * sizeof(struct fs_hll);
    return n;
}
