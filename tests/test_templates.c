/*
 * test_templates.c - template lifecycle (define, refresh, replace, withdraw,
 * withdraw all, eviction), data sets waiting for their template (same and
 * later datagram, expiry, overflow) and template persistence across a new
 * decoder, including damaged files.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tplwire.h"

#define NOW_MS UINT64_C(1700000000000)
#define SECS 1700000000u

static struct fs_decoder *new_decoder(size_t max_templates, size_t pending_bytes,
                                      uint32_t timeout_ms)
{
    struct fs_decoder_config cfg = { .max_templates = max_templates,
                                     .pending_max_bytes = pending_bytes,
                                     .pending_timeout_ms = timeout_ms };
    struct fs_decoder *d = fs_decoder_new(&cfg);

    cr_assert(d);
    return d;
}

TW_SUITE(templates);

static int decode_at(uint64_t now_ms)
{
    sink->n = 0;
    return tw_decode(dec, w, now_ms, sink);
}

static int decode(void)
{
    return decode_at(NOW_MS);
}

/* IPFIX template `id`: source address then packets (4 bytes each) or, when
 * `swapped`, the other way round. */
static void ipfix_template(uint16_t id, bool swapped)
{
    tw_set(w, 2);
    TW_TPL(w, id, { swapped ? 2 : 8, 4 }, { swapped ? 8 : 2, 4 });
}

/* One record whose bytes read 10.0.0.1 / 7 packets with the plain layout. */
static void ipfix_data(uint16_t id)
{
    tw_set(w, id);
    tw_ip(w, "10.0.0.1");
    tw_u32(w, 7);
}

static struct fs_counters counters(void)
{
    return tw_counters(dec);
}

/* A message of `domain` with nothing but template 256, to be decoded. */
static void template_message(uint32_t domain)
{
    tw_ipfix(w, SECS, 0, domain);
    ipfix_template(256, false);
    tw_end(w);
}

/* Domain 1 learns data templates 256 and 257 and, with `options`, options
 * template 300 (sampling interval per domain). */
static void learn_two(bool options)
{
    tw_ipfix(w, SECS, 0, 1);
    ipfix_template(256, false);
    ipfix_template(257, false);
    if (options) {
        tw_set(w, 3);
        TW_OPTIONS(w, 300, 1, { 149, 4 }, { 34, 4 });
    }
    tw_end(w);
    decode();
}

Test(templates, define_refresh_replace)
{
    char a[FS_IP_STRLEN];

    tw_ipfix(w, SECS, 0, 1);
    ipfix_template(256, false);
    ipfix_data(256);
    tw_end(w);
    cr_assert_eq(decode(), 1);
    cr_expect_str_eq(fs_ip_format(&sink->flows[0].src_addr, a), "10.0.0.1");
    cr_expect_eq(sink->flows[0].packets, 7);

    /* Refresh: the same definition again. */
    tw_ipfix(w, SECS, 1, 1);
    ipfix_template(256, false);
    ipfix_data(256);
    tw_end(w);
    cr_assert_eq(decode(), 1);
    cr_expect_eq(sink->flows[0].packets, 7);
    cr_expect_eq(counters().templates, 2);

    /* Replacement: same id, fields swapped; the same bytes now read
     * packets = 0x0a000001 and source 0.0.0.7. */
    tw_ipfix(w, SECS, 2, 1);
    ipfix_template(256, true);
    ipfix_data(256);
    tw_end(w);
    cr_assert_eq(decode(), 1);
    cr_expect_eq(sink->flows[0].packets, 0x0a000001);
    cr_expect_str_eq(fs_ip_format(&sink->flows[0].src_addr, a), "0.0.0.7");
    struct fs_counters c = counters();
    cr_expect_eq(c.templates, 3);
    cr_expect_eq(c.templates_withdrawn, 0);
    cr_expect_eq(fs_counters_errors(&c), 0);
}

/* Templates of different domains and of v9 and IPFIX never mix. */
Test(templates, keyed_by_domain_and_version)
{
    template_message(1);
    decode();
    tw_ipfix(w, SECS, 0, 2);
    ipfix_data(256);
    tw_end(w);
    cr_expect_eq(decode(), 0);
    tw_v9(w, 1, 1000, SECS, 0, 1);
    tw_set(w, 256);
    tw_ip(w, "10.0.0.1");
    tw_u32(w, 7);
    tw_end(w);
    cr_expect_eq(decode(), 0);
    cr_expect_eq(counters().pending_sets, 2);
}

/* RFC 7011 section 8.1: a template record with no fields withdraws it. */
Test(templates, withdraw_one)
{
    learn_two(false);
    tw_ipfix(w, SECS, 0, 1);
    tw_set(w, 2);
    tw_template(w, 256, 0, NULL);
    ipfix_data(256);
    ipfix_data(257);
    tw_end(w);
    cr_expect_eq(decode(), 1);
    struct fs_counters c = counters();
    cr_expect_eq(c.templates_withdrawn, 1);
    cr_expect_eq(c.pending_sets, 1);
}

/* Template id 2 in set 2 withdraws every data template of the domain; id 3
 * in set 3 every options template. */
Test(templates, withdraw_all)
{
    learn_two(true);
    template_message(2); /* another domain keeps its template */
    decode();

    tw_ipfix(w, SECS, 0, 1);
    tw_set(w, 2);
    tw_template(w, 2, 0, NULL);
    ipfix_data(256);
    ipfix_data(257);
    tw_set(w, 300);
    tw_u32(w, 1); tw_u32(w, 100); /* options template still there */
    tw_end(w);
    cr_expect_eq(decode(), 0);
    struct fs_counters c = counters();
    cr_expect_eq(c.templates_withdrawn, 2);
    cr_expect_eq(c.pending_sets, 2);
    cr_expect_eq(c.options_records, 1);

    tw_ipfix(w, SECS, 0, 1);
    tw_set(w, 3);
    tw_template(w, 3, 0, NULL);
    tw_set(w, 300);
    tw_u32(w, 1); tw_u32(w, 100);
    tw_end(w);
    decode();
    c = counters();
    cr_expect_eq(c.templates_withdrawn, 3);
    cr_expect_eq(c.options_records, 1);

    tw_ipfix(w, SECS, 0, 2);
    ipfix_data(256);
    tw_end(w);
    cr_expect_eq(decode(), 1);
}

Test(templates, bounded_with_least_recently_used_evicted)
{
    fs_decoder_free(dec);
    dec = new_decoder(2, 0, 0);
    learn_two(false);
    tw_ipfix(w, SECS, 0, 1);
    ipfix_data(256);       /* 256 used: 257 is now the oldest */
    ipfix_template(258, false);
    tw_end(w);
    cr_expect_eq(decode(), 1);
    cr_expect_eq(counters().templates_evicted, 1);
    tw_ipfix(w, SECS, 0, 1);
    ipfix_data(256);
    ipfix_data(257);
    ipfix_data(258);
    tw_end(w);
    cr_expect_eq(decode(), 2);
    cr_expect_eq(counters().pending_sets, 1);
}

Test(templates, data_before_template_in_the_same_datagram)
{
    tw_ipfix(w, SECS, 0, 1);
    ipfix_data(256);
    ipfix_data(256);
    ipfix_template(256, false);
    tw_end(w);
    cr_expect_eq(decode(), 2);
    struct fs_counters c = counters();
    cr_expect_eq(c.pending_sets, 0);
    cr_expect_eq(c.pending_decoded, 2);
    cr_expect_eq(c.flows, 2);

    tw_v9(w, 2, 5000, SECS, 0, 0);
    tw_set(w, 256);
    tw_ip(w, "10.0.0.1");
    tw_u32(w, 9);
    tw_set(w, 0);
    TW_TPL(w, 256, { 8, 4 }, { 2, 4 });
    tw_end(w);
    cr_expect_eq(decode(), 1);
    cr_expect_eq(sink->flows[0].packets, 9);
    cr_expect_eq(sink->flows[0].version, 9);
}

/* Held sets decode, in arrival order and with their own header context,
 * in the call that brings the template. */
Test(templates, data_before_template_in_a_later_datagram)
{
    tw_v9(w, 1, 10000, SECS - 60, 0, 4);
    tw_set(w, 256);
    tw_u32(w, 1);
    tw_u32(w, 9000); /* first switched: 1 s before that export */
    tw_end(w);
    cr_expect_eq(decode_at(NOW_MS - 60000), 0);
    tw_v9(w, 1, 20000, SECS - 30, 1, 4);
    tw_set(w, 256);
    tw_u32(w, 2);
    tw_u32(w, 19000);
    tw_end(w);
    cr_expect_eq(decode_at(NOW_MS - 30000), 0);
    cr_expect_eq(counters().pending_sets, 2);

    tw_v9(w, 1, 50000, SECS, 2, 4);
    tw_set(w, 0);
    TW_TPL(w, 256, { 2, 4 }, { 22, 4 });
    tw_end(w);
    cr_assert_eq(decode(), 2);
    cr_expect_eq(sink->flows[0].packets, 1);
    cr_expect_eq(sink->flows[0].start_ms, NOW_MS - 61000);
    cr_expect_eq(sink->flows[1].packets, 2);
    cr_expect_eq(sink->flows[1].start_ms, NOW_MS - 31000);
    struct fs_counters c = counters();
    cr_expect_eq(c.pending_sets, 0);
    cr_expect_eq(c.pending_decoded, 2);
}

/* Options data waiting with flows is applied before them. */
Test(templates, waiting_options_apply_to_waiting_flows)
{
    tw_ipfix(w, SECS, 0, 1);
    ipfix_data(256);
    tw_set(w, 300);
    tw_u32(w, 1); tw_u32(w, 50);
    tw_end(w);
    cr_expect_eq(decode(), 0);
    tw_ipfix(w, SECS, 0, 1);
    ipfix_template(256, false);
    tw_set(w, 3);
    TW_OPTIONS(w, 300, 1, { 149, 4 }, { 34, 4 });
    tw_end(w);
    cr_assert_eq(decode(), 1);
    cr_expect_eq(sink->flows[0].sampling_rate, 50);
    cr_expect_eq(sink->flows[0].packets, 350);
}

/* Waiting options apply as soon as their template set is read, so that
 * data sets later in the same datagram are scaled. */
Test(templates, waiting_options_apply_to_data_in_the_same_datagram)
{
    tw_ipfix(w, SECS, 0, 1);
    tw_set(w, 300);
    tw_u32(w, 1); tw_u32(w, 30);
    tw_end(w);
    cr_expect_eq(decode(), 0);
    tw_ipfix(w, SECS, 0, 1);
    tw_set(w, 3);
    TW_OPTIONS(w, 300, 1, { 149, 4 }, { 34, 4 });
    ipfix_template(256, false);
    ipfix_data(256);
    tw_end(w);
    cr_assert_eq(decode(), 1);
    cr_expect_eq(sink->flows[0].sampling_rate, 30);
    cr_expect_eq(sink->flows[0].packets, 210);
}

/* Waiting sets come out in arrival order, after the sets of the datagram
 * that brought their template. */
static void data_packets(uint32_t packets)
{
    tw_set(w, 256);
    tw_ip(w, "10.0.0.1");
    tw_u32(w, packets);
}

Test(templates, waiting_sets_in_arrival_order)
{
    tw_ipfix(w, SECS, 0, 1);
    data_packets(1);
    tw_end(w);
    decode();
    tw_ipfix(w, SECS, 1, 1);
    data_packets(2);
    tw_end(w);
    decode();
    tw_ipfix(w, SECS, 2, 1);
    ipfix_template(256, false);
    data_packets(3);
    tw_end(w);
    cr_assert_eq(decode(), 3);
    cr_expect_eq(sink->flows[0].packets, 3);
    cr_expect_eq(sink->flows[1].packets, 1);
    cr_expect_eq(sink->flows[2].packets, 2);
    struct fs_counters c = counters();
    cr_expect_eq(c.pending_sets, 0);
    cr_expect_eq(c.pending_decoded, 2);
    cr_expect_eq(c.flows, 3);
}

/* A refreshed template releases sets that wait for it (here: held while the
 * template had been withdrawn). */
Test(templates, refresh_releases_waiting_sets)
{
    template_message(1);
    decode();
    tw_ipfix(w, SECS, 0, 1);
    tw_set(w, 2);
    tw_template(w, 256, 0, NULL);
    data_packets(4);
    tw_end(w);
    cr_expect_eq(decode(), 0);
    template_message(1);
    cr_assert_eq(decode(), 1);
    cr_expect_eq(sink->flows[0].packets, 4);
}

Test(templates, waiting_sets_expire)
{
    fs_decoder_free(dec);
    dec = new_decoder(0, 0, 5000);
    tw_ipfix(w, SECS, 0, 1);
    ipfix_data(256);
    tw_end(w);
    decode();
    fs_decoder_expire(dec, NOW_MS + 4000);
    cr_expect_eq(counters().pending_sets, 1);
    fs_decoder_expire(dec, NOW_MS + 5001);
    struct fs_counters c = counters();
    cr_expect_eq(c.pending_sets, 0);
    cr_expect_eq(c.pending_expired, 1);
    cr_expect_eq(fs_decoder_totals(dec)->pending_expired, 1);

    /* Expired sets are also dropped when the next set has to wait. */
    tw_ipfix(w, SECS, 0, 1);
    ipfix_data(256);
    tw_end(w);
    decode_at(NOW_MS + 10000);
    tw_ipfix(w, SECS, 0, 1);
    ipfix_data(257);
    tw_end(w);
    decode_at(NOW_MS + 20000);
    c = counters();
    cr_expect_eq(c.pending_expired, 2);
    cr_expect_eq(c.pending_sets, 1);
    template_message(1);
    cr_expect_eq(decode_at(NOW_MS + 20001), 0);
}

Test(templates, waiting_bytes_are_bounded)
{
    fs_decoder_free(dec);
    dec = new_decoder(0, 30, 0); /* room for two 12-byte sets (8 + set header) */
    for (int i = 0; i < 3; i++) {
        tw_ipfix(w, SECS, 0, 1);
        ipfix_data(256);
        tw_end(w);
        decode();
    }
    struct fs_counters c = counters();
    cr_expect_eq(c.pending_sets, 2);
    cr_expect_eq(c.errors[FS_ERR_PENDING_DROPPED], 1);
    template_message(1);
    cr_expect_eq(decode(), 2);
}

/* ---- persistence ---- */

static char path[256];

static void save_setup(void)
{
    setup();
    snprintf(path, sizeof(path), "%s/tplstore-%d.bin", FS_BINARY_DIR, (int)getpid());
}

static void save_teardown(void)
{
    unlink(path);
    teardown();
}

TestSuite(tplstore, .init = save_setup, .fini = save_teardown);

/* An IPFIX exporter with a data template, an options template announcing
 * sampling, and a v9 template from the same address. */
static void teach(void)
{
    tw_ipfix(w, SECS, 0, 1);
    ipfix_template(256, false);
    tw_set(w, 3);
    TW_OPTIONS(w, 300, 1, { 302, 4 }, { 34, 4 });
    tw_set(w, 300);
    tw_u32(w, 9); tw_u32(w, 64);
    tw_set(w, 2);
    TW_TPL(w, 257, { 8, 4 }, { 302, 4 }, { 82, 65535 });
    tw_end(w);
    decode();
    tw_v9(w, 1, 1000, SECS, 0, 7);
    tw_set(w, 0);
    TW_TPL(w, 400, { 12, 4 });
    tw_end(w);
    decode();
}

static void data_for_taught(void)
{
    tw_ipfix(w, SECS, 1, 1);
    ipfix_data(256);
    tw_set(w, 257);
    tw_ip(w, "10.0.0.2"); tw_u32(w, 9); tw_u8(w, 1); tw_u8(w, 'x');
    tw_end(w);
}

static void load_into_new_decoder(int expect)
{
    fs_decoder_free(dec);
    dec = new_decoder(0, 0, 0);
    errno = 0;
    cr_assert_eq(fs_decoder_load_templates(dec, path), expect);
}

Test(tplstore, saved_templates_decode_at_once_after_restart)
{
    char a[FS_IP_STRLEN];

    teach();
    cr_assert_eq(fs_decoder_save_templates(dec, path), 0);
    load_into_new_decoder(0);
    data_for_taught();
    cr_assert_eq(decode(), 2);
    cr_expect_eq(sink->flows[0].packets, 7);
    cr_expect_str_eq(fs_ip_format(&sink->flows[1].src_addr, a), "10.0.0.2");
    cr_expect_eq(sink->flows[1].sampler_id, 9);
    cr_expect_eq(sink->flows[1].sampling_rate, 64); /* the options came along */
    tw_v9(w, 1, 1000, SECS, 1, 7);
    tw_set(w, 400);
    tw_ip(w, "10.0.0.3");
    tw_end(w);
    cr_assert_eq(decode(), 1);
    cr_expect_str_eq(fs_ip_format(&sink->flows[0].dst_addr, a), "10.0.0.3");
    cr_expect_eq(counters().pending_sets, 0);
}

/* Files next to the saved one whose name starts with its name and a dot:
 * temporary files left behind. */
static int leftovers(void)
{
    const char *base = strrchr(path, '/') + 1;
    size_t n = strlen(base);
    DIR *dir = opendir(FS_BINARY_DIR);
    struct dirent *e;
    int found = 0;

    cr_assert(dir);
    while ((e = readdir(dir)) != NULL)
        if (strncmp(e->d_name, base, n) == 0 && e->d_name[n] == '.')
            found++;
    closedir(dir);
    return found;
}

Test(tplstore, save_replaces_the_file_atomically)
{
    teach();
    cr_assert_eq(fs_decoder_save_templates(dec, path), 0);
    cr_assert_eq(fs_decoder_save_templates(dec, path), 0);
    cr_expect_eq(leftovers(), 0);
    load_into_new_decoder(0);
}

static uint8_t *read_whole(size_t *n)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = malloc(1 << 20);

    cr_assert(f && buf);
    *n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void write_whole(const uint8_t *buf, size_t n)
{
    FILE *f = fopen(path, "wb");

    cr_assert(f);
    cr_assert_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
}

/* Saves the decoder's templates and reads the file back. */
static uint8_t *save_and_read(size_t *n)
{
    cr_assert_eq(fs_decoder_save_templates(dec, path), 0);
    return read_whole(n);
}

/* Saves, flips the byte at `at` (from the end when negative), and loads the
 * file into a new decoder, which refuses it. */
static void reload_damaged(long at)
{
    size_t n;
    uint8_t *buf = save_and_read(&n);

    buf[at < 0 ? n - (size_t)-at : (size_t)at] ^= 0xff;
    write_whole(buf, n);
    free(buf);
    load_into_new_decoder(-1);
}

Test(tplstore, truncated_file_is_refused_without_crashing)
{
    size_t n;
    uint8_t *orig;

    teach();
    orig = save_and_read(&n);
    for (size_t cut = 0; cut < n; cut++) {
        write_whole(orig, cut);
        load_into_new_decoder(-1);
        cr_expect_eq(errno, EINVAL);
    }
    free(orig);
}

Test(tplstore, corrupted_byte_is_refused_without_crashing)
{
    size_t n;
    uint8_t *orig;

    teach();
    orig = save_and_read(&n);
    for (size_t i = 0; i < n; i++) {
        orig[i] ^= 0x5a;
        write_whole(orig, n);
        orig[i] ^= 0x5a;
        load_into_new_decoder(-1);
    }
    free(orig);
}

/* Damage in the end record: everything before it is loaded; damage in the
 * first record: nothing is. */
Test(tplstore, nothing_past_the_damage_loads)
{
    teach();
    reload_damaged(-12); /* the end record's length */
    data_for_taught();
    cr_expect_eq(decode(), 2); /* every record before the end record loaded */

    reload_damaged(8 + 5); /* the first record's first byte of body */
    data_for_taught();
    cr_expect_eq(decode(), 0);
    cr_expect_eq(counters().pending_sets, 2);
}

Test(tplstore, missing_or_foreign_file)
{
    cr_expect_eq(fs_decoder_load_templates(dec, "/nonexistent/dir/templates"), -1);
    cr_expect_eq(errno, ENOENT);
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    fputs("not a template file at all\n", f);
    fclose(f);
    cr_expect_eq(fs_decoder_load_templates(dec, path), -1);
    cr_expect_eq(errno, EINVAL);
    cr_expect_eq(fs_decoder_save_templates(dec, "/nonexistent/dir/templates"), -1);
    cr_expect_eq(errno, ENOENT);
}
