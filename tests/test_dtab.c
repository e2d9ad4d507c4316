/*
 * test_dtab.c - the detectors' bounded LRU table, per-window touch lists and
 * snapshot blob framing (analyzer/dtab.h), against hand-worked sequences.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtab.h"

static uint64_t key(uint32_t i)
{
    return 0x1000u + i;
}

struct evicted {
    uint64_t keys[16];
    uint32_t vals[16];
    unsigned n;
};

static void on_evict(void *arg, const void *k, void *v)
{
    struct evicted *e = arg;

    memcpy(&e->keys[e->n], k, sizeof(uint64_t));
    memcpy(&e->vals[e->n], v, sizeof(uint32_t));
    e->n++;
}

Test(dtab, least_recently_put_goes_first_and_get_does_not_refresh)
{
    struct fs_dtab *t = fs_dtab_new(sizeof(uint64_t), sizeof(uint32_t), 3);
    struct evicted e = { .n = 0 };
    bool created;

    cr_assert_not_null(t);
    fs_dtab_on_evict(t, on_evict, &e);
    for (uint32_t i = 0; i < 3; i++) {
        uint64_t k = key(i);
        uint32_t *v = fs_dtab_put(t, &k, &created);

        cr_assert(created);
        cr_assert_eq(*v, 0, "new values start zeroed");
        *v = 100 + i;
    }
    uint64_t k0 = key(0), k1 = key(1), k3 = key(3), k4 = key(4);

    /* Touch 0 with put: 1 is now the least recent. get(1) must not save it. */
    cr_assert_eq(*(uint32_t *)fs_dtab_put(t, &k0, &created), 100);
    cr_assert_not(created);
    cr_assert_eq(*(uint32_t *)fs_dtab_get(t, &k1), 101);
    fs_dtab_put(t, &k3, NULL);
    cr_assert_eq(e.n, 1);
    cr_assert_eq(e.keys[0], key(1));
    cr_assert_eq(e.vals[0], 101, "the callback sees the value before it goes");
    cr_assert_null(fs_dtab_get(t, &k1));
    /* Next in line: 2, then 0. */
    fs_dtab_put(t, &k4, NULL);
    cr_assert_eq(e.keys[1], key(2));
    cr_assert_eq(fs_dtab_count(t), 3);
    cr_assert_eq(fs_dtab_evictions(t), 2);
    cr_assert_not_null(fs_dtab_get(t, &k0));
    fs_dtab_free(t);
}

Test(dtab, delete_during_walk_and_clear)
{
    struct fs_dtab *t = fs_dtab_new(sizeof(uint64_t), sizeof(uint32_t), 1000);
    size_t it = 0, seen = 0;
    const void *k;
    uint32_t *v;

    cr_assert_not_null(t);
    for (uint32_t i = 0; i < 500; i++) {
        uint64_t kk = key(i);

        *(uint32_t *)fs_dtab_put(t, &kk, NULL) = i;
    }
    cr_assert_eq(fs_dtab_count(t), 500, "grew past its first 64 slots");
    /* Drop the odd ones while walking. */
    while ((v = fs_dtab_next(t, &it, &k))) {
        seen++;
        if (*v % 2)
            fs_dtab_del(t, k);
    }
    cr_assert_eq(seen, 500);
    cr_assert_eq(fs_dtab_count(t), 250);
    for (uint32_t i = 0; i < 500; i++) {
        uint64_t kk = key(i);
        uint32_t *got = fs_dtab_get(t, &kk);

        if (i % 2)
            cr_assert_null(got, "%u was deleted", i);
        else
            cr_assert(got && *got == i, "%u kept its value", i);
    }
    cr_assert_eq(fs_dtab_evictions(t), 0, "deletions are not evictions");
    fs_dtab_clear(t);
    cr_assert_eq(fs_dtab_count(t), 0);
    it = 0;
    cr_assert_null(fs_dtab_next(t, &it, &k));
    uint64_t kk = key(7);
    cr_assert_null(fs_dtab_get(t, &kk));
    fs_dtab_free(t);
}

static void collect(void *arg, const void *k)
{
    uint64_t *out = arg;

    memcpy(&out[++out[0]], k, sizeof(uint64_t));
}

Test(dtab, touch_lists_follow_the_two_open_windows)
{
    struct fs_dtouch *t = fs_dtouch_new(sizeof(uint64_t));
    uint64_t got[8];
    uint64_t a = 1, b = 2, c = 3;

    cr_assert_not_null(t);
    cr_assert_eq(fs_dtouch_add(t, 300000, &a), 0);
    cr_assert_eq(fs_dtouch_add(t, 600000, &b), 0);
    cr_assert_eq(fs_dtouch_add(t, 300000, &c), 0);
    /* A third, newer window takes over the older list... */
    cr_assert_eq(fs_dtouch_add(t, 900000, &c), 0);
    /* ...and one older than both held is refused. */
    cr_assert_eq(fs_dtouch_add(t, 0, &a), -1);
    got[0] = 0;
    fs_dtouch_take(t, 300000, collect, got);
    cr_assert_eq(got[0], 0, "window 300000 was taken over");
    fs_dtouch_take(t, 600000, collect, got);
    cr_assert_eq(got[0], 1);
    cr_assert_eq(got[1], 2);
    fs_dtouch_take(t, 600000, collect, got);
    cr_assert_eq(got[0], 1, "taken once");
    fs_dtouch_take(t, 900000, collect, got);
    cr_assert_eq(got[0], 2);
    cr_assert_eq(got[2], 3);
    fs_dtouch_free(t);
}

Test(dtab, blob_frames_are_checked)
{
    static const uint8_t payload[] = "state";
    char *mem = NULL;
    size_t size = 0, len;
    uint8_t *data;
    const char *why;
    FILE *fp = open_memstream(&mem, &size);

    cr_assert_not_null(fp);
    cr_assert_eq(fs_dtab_blob_write(fp, 0xabcd, 3, payload, sizeof(payload)), 0);
    fclose(fp);
    cr_assert_eq(size, 16 + sizeof(payload), "16-byte header, then the bytes");

    struct { uint32_t magic, version; size_t max, cut; int rc; const char *why; } cases[] = {
        { 0xabcd, 3, 100, 0, 0, NULL },
        { 0xabce, 3, 100, 0, -1, "not this detector's state" },
        { 0xabcd, 4, 100, 0, -1, "unsupported state version" },
        { 0xabcd, 3, 3, 0, -1, "state larger than the configured tables allow" },
        { 0xabcd, 3, 100, 2, -1, "truncated state" },
        { 0xabcd, 3, 100, 16 + sizeof(payload) - 4, -1, "truncated header" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fp = fmemopen(mem, size - cases[i].cut, "rb");
        cr_assert_not_null(fp);
        why = NULL;
        cr_expect_eq(fs_dtab_blob_read(fp, cases[i].magic, cases[i].version, cases[i].max, &data,
                                       &len, &why),
                     cases[i].rc, "case %zu", i);
        if (cases[i].rc == 0) {
            cr_expect_eq(len, sizeof(payload));
            cr_expect_eq(memcmp(data, payload, len), 0);
        } else {
            cr_expect_str_eq(why, cases[i].why, "case %zu", i);
            cr_expect_null(data);
        }
        free(data);
        fclose(fp);
    }
    free(mem);
}
