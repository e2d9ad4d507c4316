/*
 * test_allow.c - the exporter allowlist: prefix boundaries, families, bad entries.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "allow.h"

static struct fs_allow *a;

static void setup(void)
{
    a = fs_allow_new();
    cr_assert_not_null(a);
}

static void teardown(void)
{
    fs_allow_free(a);
}

TestSuite(allow, .init = setup, .fini = teardown);

static void add(const char *text)
{
    char err[128] = "";

    cr_assert_eq(fs_allow_add(a, text, err, sizeof(err)), 0, "%s: %s", text, err);
}

static bool allowed(const char *addr)
{
    fs_ip ip;

    cr_assert_eq(fs_ip_parse(addr, &ip), 0, "%s", addr);
    return fs_allow_check(a, &ip);
}

Test(allow, empty_list_allows_everyone)
{
    cr_assert_eq(fs_allow_count(a), 0);
    cr_assert(allowed("192.0.2.1"));
    cr_assert(allowed("2001:db8::1"));
}

Test(allow, single_ipv4_address)
{
    add("192.0.2.10");
    cr_assert(allowed("192.0.2.10"));
    cr_assert_not(allowed("192.0.2.11"));
    cr_assert_not(allowed("192.0.2.9"));
    cr_assert_not(allowed("::ffff:192.0.2.10"), "mapped addresses are IPv6 until udp.c maps them");
}

Test(allow, ipv4_prefix_boundaries)
{
    add("198.51.100.0/23");  /* 198.51.100.0 - 198.51.101.255 */
    cr_assert(allowed("198.51.100.0"));
    cr_assert(allowed("198.51.101.255"));
    cr_assert_not(allowed("198.51.99.255"));
    cr_assert_not(allowed("198.51.102.0"));
}

Test(allow, odd_prefix_lengths)
{
    add("10.0.0.128/25");
    add("10.1.0.0/31");
    cr_assert(allowed("10.0.0.128"));
    cr_assert(allowed("10.0.0.255"));
    cr_assert_not(allowed("10.0.0.127"));
    cr_assert(allowed("10.1.0.1"));
    cr_assert_not(allowed("10.1.0.2"));
}

Test(allow, zero_prefix_matches_only_its_family)
{
    add("0.0.0.0/0");
    cr_assert(allowed("203.0.113.5"));
    cr_assert_not(allowed("2001:db8::5"));
}

Test(allow, ipv6_prefix_and_address)
{
    add("2001:db8:abcd::/48");
    add("fe80::1");
    cr_assert(allowed("2001:db8:abcd::1"));
    cr_assert(allowed("2001:db8:abcd:ffff:ffff:ffff:ffff:ffff"));
    cr_assert_not(allowed("2001:db8:abce::"));
    cr_assert(allowed("fe80::1"));
    cr_assert_not(allowed("fe80::2"));
    cr_assert_not(allowed("32.1.13.184"), "v4 with the same leading bytes as 2001:db8::");
}

Test(allow, ipv6_prefix_not_on_byte_boundary)
{
    add("2001:db8::/127");
    cr_assert(allowed("2001:db8::"));
    cr_assert(allowed("2001:db8::1"));
    cr_assert_not(allowed("2001:db8::2"));
}

Test(allow, bad_entries_refused)
{
    static const char *const bad[] = {
        "", "/24", "abc", "300.1.1.1", "192.0.2.0/33", "192.0.2.0/", "192.0.2.0/abc",
        "192.0.2.0/24x", "192.0.2.0/-1", "2001:db8::/129", "192.0.2.1/24", "2001:db8::1/64",
        "192.0.2.0/24/24",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[128] = "";

        cr_assert_eq(fs_allow_add(a, bad[i], err, sizeof(err)), -1, "'%s' accepted", bad[i]);
        cr_assert_neq(err[0], '\0', "'%s' without a reason", bad[i]);
    }
    cr_assert_eq(fs_allow_count(a), 0, "nothing half-added");
}

Test(allow, entries_format_back)
{
    char buf[FS_IP_STRLEN + 4];

    add("192.0.2.7");
    add("2001:db8::/32");
    cr_assert_str_eq(fs_allow_entry(a, 0, buf), "192.0.2.7/32");
    cr_assert_str_eq(fs_allow_entry(a, 1, buf), "2001:db8::/32");
    cr_assert_null(fs_allow_entry(a, 2, buf));
}
