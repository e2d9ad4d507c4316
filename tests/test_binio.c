/*
 * test_binio.c - ipc/binio.h: integers put and got at every width in both
 * byte orders, a writer's bytes read back exactly (the layout is pinned,
 * since state files depend on it), every truncation refused with a reason
 * and zeros after it, the first failure kept, text and count bounds.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "binio.h"

Test(binio, integers_at_every_width_in_both_orders)
{
    const uint64_t v = UINT64_C(0x0123456789abcdef);
    uint8_t b[8];

    for (int n = 1; n <= 8; n++) {
        uint64_t mask = n == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * n)) - 1;

        memset(b, 0xee, sizeof(b));
        fs_put_le(b, v, n);
        cr_expect_eq(b[0], 0xef, "width %d", n);
        cr_expect_eq(b[n - 1], (uint8_t)(v >> (8 * (n - 1))), "width %d", n);
        if (n < 8)
            cr_expect_eq(b[n], 0xee, "width %d wrote past its bytes", n);
        cr_expect_eq(fs_get_le(b, n), v & mask, "width %d", n);

        memset(b, 0xee, sizeof(b));
        fs_put_be(b, v, n);
        cr_expect_eq(b[n - 1], 0xef, "width %d", n);
        cr_expect_eq(b[0], (uint8_t)(v >> (8 * (n - 1))), "width %d", n);
        if (n < 8)
            cr_expect_eq(b[n], 0xee, "width %d wrote past its bytes", n);
        cr_expect_eq(fs_get_be(b, n), v & mask, "width %d", n);
    }
}

/* One of everything the writer does, for the round trip and the bytes. */
static void write_sample(struct fs_wbuf *w, const fs_ip *ip)
{
    fs_wbuf_bytes(w, "MAGC", 4);
    fs_wbuf_uint(w, 0xab, 1);
    fs_wbuf_uint(w, 0x1234, 2);
    fs_wbuf_uint(w, 0xdeadbeef, 4);
    fs_wbuf_uint(w, UINT64_MAX - 1, 8);
    fs_wbuf_f64(w, -2.5);
    fs_wbuf_ip(w, ip);
    fs_wbuf_blob(w, "hello", 5, 8);
    fs_wbuf_blob(w, "", 0, 4);
    fs_wbuf_uint(w, 3, 4); /* a count of three 2-byte entries */
    for (int i = 0; i < 3; i++)
        fs_wbuf_uint(w, (uint64_t)i, 2);
}

#define SAMPLE_LEN (4 + 1 + 2 + 4 + 8 + 8 + 17 + 8 + 5 + 4 + 4 + 6)

static fs_ip sample_ip(void)
{
    fs_ip ip;

    memset(&ip, 0, sizeof(ip));
    ip.af = 6;
    for (int i = 0; i < 16; i++)
        ip.b[i] = (uint8_t)(0xf0 + i);
    return ip;
}

Test(binio, writer_layout_is_fixed)
{
    fs_ip ip = sample_ip();
    struct fs_wbuf w = { 0 };
    static const uint8_t head[] = { 'M', 'A', 'G', 'C', 0xab, 0x34, 0x12, 0xef, 0xbe, 0xad, 0xde,
                                    0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    /* -2.5: 0xc004000000000000 */
                                    0, 0, 0, 0, 0, 0, 0x04, 0xc0, 6, 0xf0 };

    write_sample(&w, &ip);
    cr_assert(!w.oom);
    cr_assert_eq(w.len, SAMPLE_LEN);
    cr_expect_eq(memcmp(w.p, head, sizeof(head)), 0);
    /* Text: its length in 8 bytes, then the bytes, no terminator. */
    cr_expect_eq(memcmp(w.p + 44, "\5\0\0\0\0\0\0\0hello", 13), 0);
    fs_wbuf_free(&w);
    cr_expect_null(w.p);
    cr_expect_eq(w.len, 0);
}

Test(binio, writer_grows_past_its_first_allocation)
{
    struct fs_wbuf w = { 0 };

    for (uint32_t i = 0; i < 100000; i++)
        fs_wbuf_uint(&w, i, 4);
    cr_assert(!w.oom);
    cr_assert_eq(w.len, 400000);
    cr_expect_eq(fs_get_le(w.p + 4 * 77777, 4), 77777);
    cr_expect_eq(fs_get_le(w.p + 4 * 99999, 4), 99999);
    fs_wbuf_free(&w);
}

Test(binio, round_trip)
{
    fs_ip ip = sample_ip(), got;
    struct fs_wbuf w = { 0 };
    struct fs_rbuf r;
    char magic[4], *text, *empty;

    write_sample(&w, &ip);
    fs_rbuf_init(&r, w.p, w.len);
    fs_rbuf_bytes(&r, magic, 4);
    cr_expect_eq(memcmp(magic, "MAGC", 4), 0);
    cr_expect_eq(fs_rbuf_uint(&r, 1), 0xab);
    cr_expect_eq(fs_rbuf_uint(&r, 2), 0x1234);
    cr_expect_eq(fs_rbuf_uint(&r, 4), 0xdeadbeef);
    cr_expect_eq(fs_rbuf_uint(&r, 8), UINT64_MAX - 1);
    cr_expect_eq(fs_rbuf_f64(&r), -2.5);
    fs_rbuf_ip(&r, &got);
    cr_expect_eq(memcmp(&got, &ip, sizeof(ip)), 0);
    text = fs_rbuf_text(&r, 8);
    cr_assert_not_null(text);
    cr_expect_str_eq(text, "hello");
    empty = fs_rbuf_text(&r, 4);
    cr_assert_not_null(empty);
    cr_expect_str_eq(empty, "");
    size_t n = fs_rbuf_count(&r, 4, 2, 3, "too many");
    cr_expect_eq(n, 3);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(fs_rbuf_uint(&r, 2), i);
    cr_expect(!r.failed, "%s", r.why);
    cr_expect_null(r.why);
    cr_expect_eq(fs_rbuf_left(&r), 0);
    free(text);
    free(empty);
    fs_wbuf_free(&w);
}

Test(binio, doubles_keep_their_bits)
{
    const double v[] = { 0.0, -0.0, 1e308, 5e-324, INFINITY, -INFINITY, NAN };
    struct fs_wbuf w = { 0 };
    struct fs_rbuf r;

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        fs_wbuf_f64(&w, v[i]);
    fs_rbuf_init(&r, w.p, w.len);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        double d = fs_rbuf_f64(&r);
        cr_expect_eq(memcmp(&d, &v[i], sizeof(d)), 0, "value %zu", i);
    }
    fs_wbuf_free(&w);
}

/* Reads the sample as round_trip does; returns whether it failed. */
static bool read_sample(const uint8_t *p, size_t len, const char **why)
{
    struct fs_rbuf r;
    uint8_t magic[4];
    fs_ip ip;

    fs_rbuf_init(&r, p, len);
    fs_rbuf_bytes(&r, magic, 4);
    fs_rbuf_uint(&r, 1);
    fs_rbuf_uint(&r, 2);
    fs_rbuf_uint(&r, 4);
    fs_rbuf_uint(&r, 8);
    fs_rbuf_f64(&r);
    fs_rbuf_ip(&r, &ip);
    free(fs_rbuf_text(&r, 8));
    free(fs_rbuf_text(&r, 4));
    size_t n = fs_rbuf_count(&r, 4, 2, 3, "too many");
    for (size_t i = 0; i < n; i++)
        fs_rbuf_uint(&r, 2);
    *why = r.why;
    cr_expect_eq(r.failed, r.why != NULL);
    return r.failed || fs_rbuf_left(&r) != 0;
}

Test(binio, every_truncation_is_refused_with_a_reason)
{
    fs_ip ip = sample_ip();
    struct fs_wbuf w = { 0 };
    const char *why;

    write_sample(&w, &ip);
    cr_assert(!read_sample(w.p, w.len, &why), "%s", why);
    for (size_t cut = 0; cut < w.len; cut++) {
        /* A copy of exactly `cut` bytes, so that ASan sees any overread. */
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, w.p, cut);
        cr_expect(read_sample(p, cut, &why), "cut at %zu read whole", cut);
        cr_expect_not_null(why, "cut at %zu: no reason", cut);
        free(p);
    }
    fs_wbuf_free(&w);
}

Test(binio, reads_after_a_failure_give_zeros_and_the_first_reason_stays)
{
    const uint8_t b[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    struct fs_rbuf r;
    uint8_t dst[4] = { 0xee, 0xee, 0xee, 0xee };
    fs_ip ip;

    fs_rbuf_init(&r, b, sizeof(b));
    cr_expect_eq(fs_rbuf_uint(&r, 8), UINT64_C(0x0807060504030201));
    cr_expect_eq(fs_rbuf_uint(&r, 4), 0); /* two bytes left */
    cr_assert(r.failed);
    cr_expect_str_eq(r.why, "cut short");
    fs_rbuf_fail(&r, "something later");
    cr_expect_str_eq(r.why, "cut short");
    /* The two bytes still there are not handed out any more. */
    cr_expect_eq(fs_rbuf_uint(&r, 1), 0);
    cr_expect_eq(fs_rbuf_left(&r), 0);
    fs_rbuf_bytes(&r, dst, sizeof(dst));
    cr_expect_eq(dst[0], 0);
    cr_expect_eq(dst[3], 0);
    memset(&ip, 0xee, sizeof(ip));
    fs_rbuf_ip(&r, &ip);
    cr_expect_eq(ip.af, 0);
    cr_expect_eq(ip.b[15], 0);
    cr_expect_eq(fs_rbuf_f64(&r), 0.0);
    cr_expect_null(fs_rbuf_take(&r, 0));
    cr_expect_null(fs_rbuf_text(&r, 1));
    cr_expect_eq(fs_rbuf_count(&r, 1, 0, 10, "x"), 0);
    cr_expect_str_eq(r.why, "cut short");
}

Test(binio, a_reason_given_by_the_caller_sticks)
{
    const uint8_t b[] = { 7, 0, 0, 0 };
    struct fs_rbuf r;

    fs_rbuf_init(&r, b, sizeof(b));
    cr_expect_eq(fs_rbuf_uint(&r, 1), 7);
    cr_expect(!fs_rbuf_fail(&r, "family 7 unknown"));
    cr_expect_eq(fs_rbuf_uint(&r, 1), 0);
    cr_expect_str_eq(r.why, "family 7 unknown");
}

Test(binio, text_longer_than_the_bytes_left_or_with_a_nul_is_refused)
{
    const uint8_t longer[] = { 6, 'a', 'b', 'c', 'd', 'e' };
    const uint8_t nul[] = { 3, 'a', 0, 'c', 9 };
    const uint8_t ok[] = { 3, 'a', 'b', 'c', 9 };
    struct fs_rbuf r;
    size_t n = 99;
    char *s;

    fs_rbuf_init(&r, longer, sizeof(longer));
    cr_expect_null(fs_rbuf_text(&r, 1));
    cr_expect_str_eq(r.why, "longer than the bytes left");

    fs_rbuf_init(&r, nul, sizeof(nul));
    cr_expect_null(fs_rbuf_text(&r, 1));
    cr_expect_str_eq(r.why, "text holds a NUL byte");

    /* As a blob the same bytes are fine, and are where they lie. */
    fs_rbuf_init(&r, nul, sizeof(nul));
    cr_expect_eq(fs_rbuf_blob(&r, 1, &n), nul + 1);
    cr_expect_eq(n, 3);
    cr_expect_eq(fs_rbuf_uint(&r, 1), 9);
    cr_expect(!r.failed);

    fs_rbuf_init(&r, longer, sizeof(longer));
    cr_expect_null(fs_rbuf_blob(&r, 1, &n));
    cr_expect_eq(n, 0);

    fs_rbuf_init(&r, ok, sizeof(ok));
    s = fs_rbuf_text(&r, 1);
    cr_assert_not_null(s);
    cr_expect_str_eq(s, "abc");
    cr_expect_eq(fs_rbuf_left(&r), 1);
    free(s);
}

Test(binio, counts_are_bounded_by_max_and_by_the_bytes_left)
{
    uint8_t b[4 + 40];
    struct fs_rbuf r;

    memset(b, 0, sizeof(b));
    fs_put_le(b, 10, 4);
    /* Ten entries of at least 4 bytes fit in 40. */
    fs_rbuf_init(&r, b, sizeof(b));
    cr_expect_eq(fs_rbuf_count(&r, 4, 4, 10, "too many"), 10);
    cr_expect(!r.failed);
    /* ...but not above max. */
    fs_rbuf_init(&r, b, sizeof(b));
    cr_expect_eq(fs_rbuf_count(&r, 4, 4, 9, "too many"), 0);
    cr_expect_str_eq(r.why, "too many");
    /* ...nor of at least 5 bytes each (50 > 40). */
    fs_rbuf_init(&r, b, sizeof(b));
    cr_expect_eq(fs_rbuf_count(&r, 4, 5, 100, "more than the bytes left"), 0);
    cr_expect_str_eq(r.why, "more than the bytes left");
    /* The largest count a 4-byte field holds, against a real limit. */
    fs_put_le(b, UINT32_MAX, 4);
    fs_rbuf_init(&r, b, sizeof(b));
    cr_expect_eq(fs_rbuf_count(&r, 4, 317, UINT32_MAX, "huge"), 0);
    cr_expect_str_eq(r.why, "huge");
    /* A count field cut short says so. */
    fs_rbuf_init(&r, b, 3);
    cr_expect_eq(fs_rbuf_count(&r, 4, 1, 10, "too many"), 0);
    cr_expect_str_eq(r.why, "cut short");
}

/* Text goes in without its NUL, short or longer than the stack buffer. */
Test(binio, printf_appends_formatted_text)
{
    struct fs_wbuf w = { 0 };
    char longer[600];

    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    fs_wbuf_printf(&w, "%s=%d", "n", 42);
    fs_wbuf_printf(&w, "[%s]", longer);
    cr_assert_not(w.oom);
    cr_assert_eq(w.len, 4 + 2 + strlen(longer));
    cr_expect_eq(memcmp(w.p, "n=42[", 5), 0);
    cr_expect_eq(w.p[w.len - 1], ']');
    cr_expect_eq(w.p[w.len - 2], 'x');
    fs_wbuf_free(&w);
}
