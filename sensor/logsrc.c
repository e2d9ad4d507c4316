/*
 * logsrc.c - parsers and helpers shared by the Zeek and Suricata readers.
 *
 * Times are parsed with integer arithmetic straight to microseconds: going
 * through a double would turn 1515585900.123456 into ...123455 now and then,
 * and the readers must give the same milliseconds as the tool logged.
 */
#include <ctype.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "logsrc.h"

void fs_ls_flow_init(const struct fs_ls_config *cfg, struct fs_flow *f)
{
    fs_flow_init(f);
    f->exporter = cfg->exporter;
    f->domain = cfg->domain;
    f->version = 0;
    f->sampling_rate = 1;
    FS_FLOW_SET(f, FS_F_SAMPLING);
}

void fs_ls_set_icmp(struct fs_flow *f, uint8_t type, uint8_t code)
{
    f->icmp_type = type;
    f->icmp_code = code;
    f->src_port = 0;
    f->dst_port = (uint16_t)(type << 8 | code);
    FS_FLOW_SET(f, FS_F_ICMP);
    FS_FLOW_SET(f, FS_F_SRC_PORT);
    FS_FLOW_SET(f, FS_F_DST_PORT);
}

int fs_ls_uint(const char *s, size_t n, uint64_t max, uint64_t *v)
{
    uint64_t x = 0;

    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9 || d > max || x > (max - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

/*
 * The number is read as its significant digits D and a decimal exponent:
 * value = D * 10^(exp - nfrac), so microseconds = D * 10^(exp - nfrac + 6).
 * When that power is negative, the last digits of D are dropped
 * (truncation) instead of dividing, so no digit is ever lost to rounding.
 */
int fs_ls_seconds_us(const char *s, size_t n, uint64_t *us)
{
    const char *p = s, *end = s + n, *digits_end;
    size_t nint = 0, nfrac = 0;
    long exp = 0;

    while (p < end && *p >= '0' && *p <= '9')
        p++, nint++;
    if (p < end && *p == '.') {
        p++;
        while (p < end && *p >= '0' && *p <= '9')
            p++, nfrac++;
        if (nfrac == 0)
            return -1;
    }
    if (nint == 0)
        return -1;
    digits_end = p;
    if (p < end && (*p == 'e' || *p == 'E')) {
        bool neg = false;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            neg = *p++ == '-';
        if (p == end)
            return -1;
        while (p < end && *p >= '0' && *p <= '9') {
            if (exp > 1000)
                return -1;
            exp = exp * 10 + (*p++ - '0');
        }
        if (neg)
            exp = -exp;
    }
    if (p != end)
        return -1;

    /* Keep the first nint + nfrac + shift digits of D (all, then zeros, when
     * shift is positive). */
    long shift = exp - (long)nfrac + 6;
    long keep = (long)(nint + nfrac) + (shift < 0 ? shift : 0);
    uint64_t x = 0;
    long taken = 0;
    for (const char *q = s; q < digits_end && taken < keep; q++) {
        if (*q == '.')
            continue;
        unsigned d = (unsigned)(*q - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
        taken++;
    }
    for (long i = 0; i < shift; i++) {
        if (x > UINT64_MAX / 10)
            return -1;
        x *= 10;
    }
    *us = x;
    return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar,
 * counting in 400-year eras from March 1st so that leap days fall last. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* `n` digits at `p` as a number; -1 when any is not a digit. */
static long fixed_digits(const char *p, size_t n)
{
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

int fs_ls_iso8601_us(const char *s, size_t n, uint64_t *us)
{
    static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p, *end = s + n;
    long y, mo, d, h, mi, sec, zh = 0, zm = 0;
    uint64_t frac_us = 0;
    int sign = 0;

    /* YYYY-MM-DDTHH:MM:SS is 19 bytes. */
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':')
        return -1;
    y = fixed_digits(s, 4);
    mo = fixed_digits(s + 5, 2);
    d = fixed_digits(s + 8, 2);
    h = fixed_digits(s + 11, 2);
    mi = fixed_digits(s + 14, 2);
    sec = fixed_digits(s + 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60 || h < 0 ||
        mi < 0 || sec < 0)
        return -1;
    if ((unsigned)d > mdays[mo - 1] + (mo == 2 && leap((unsigned)y)))
        return -1;

    p = s + 19;
    if (p < end && *p == '.') {
        unsigned nd = 0;
        p++;
        while (p < end && *p >= '0' && *p <= '9') {
            if (nd++ < 6)
                frac_us = frac_us * 10 + (uint64_t)(*p - '0');
            p++;
        }
        if (nd == 0)
            return -1;
        for (; nd < 6; nd++)
            frac_us *= 10;
    }
    if (p < end && (*p == 'Z' || *p == 'z')) {
        p++;
    } else if (p < end && (*p == '+' || *p == '-')) {
        sign = *p++ == '-' ? -1 : 1;
        if (end - p < 2 || (zh = fixed_digits(p, 2)) < 0)
            return -1;
        p += 2;
        if (p < end) {
            if (*p == ':')
                p++;
            if (end - p < 2 || (zm = fixed_digits(p, 2)) < 0)
                return -1;
            p += 2;
        }
        if (zh > 23 || zm > 59)
            return -1;
    } else {
        return -1;
    }
    if (p != end)
        return -1;

    int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
                sec - sign * (zh * 3600 + zm * 60);
    if (t < 0)
        return -1;
    *us = (uint64_t)t * 1000000u + frac_us;
    return 0;
}

/* IANA protocol numbers by keyword, as /etc/protocols spells them, plus the
 * names Zeek and Suricata use that differ ("icmpv6"). */
static const struct {
    const char *name;
    uint8_t number;
} protos[] = {
    {"tcp", 6}, {"udp", 17}, {"icmp", 1}, {"ipv6-icmp", 58}, {"icmpv6", 58},
    {"sctp", 132}, {"gre", 47}, {"esp", 50}, {"ah", 51}, {"igmp", 2},
    {"hopopt", 0}, {"ipv4", 4}, {"ipencap", 4}, {"ipip", 94}, {"egp", 8},
    {"igp", 9}, {"ipv6", 41}, {"ipv6-route", 43}, {"ipv6-frag", 44},
    {"ipv6-nonxt", 59}, {"ipv6-opts", 60}, {"rsvp", 46}, {"dccp", 33},
    {"eigrp", 88}, {"ospf", 89}, {"ospfigp", 89}, {"etherip", 97}, {"pim", 103},
    {"ipcomp", 108}, {"vrrp", 112}, {"l2tp", 115}, {"isis", 124},
    {"udplite", 136}, {"mpls-in-ip", 137}, {"hip", 139}, {"shim6", 140},
    {"ethernet", 143},
};

int fs_ls_proto(const char *s, size_t n, uint8_t *proto)
{
    uint64_t v;

    if (fs_ls_uint(s, n, UINT8_MAX, &v) == 0) {
        *proto = (uint8_t)v;
        return 0;
    }
    for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
        if (strlen(protos[i].name) == n && strncasecmp(protos[i].name, s, n) == 0) {
            *proto = protos[i].number;
            return 0;
        }
    }
    return -1;
}

int fs_ls_hexdigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int fs_ls_hex8(const char *s, size_t n, uint8_t *v)
{
    int x = 0;

    if (n < 1 || n > 2)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int d = fs_ls_hexdigit(s[i]);
        if (d < 0)
            return -1;
        x = x << 4 | d;
    }
    *v = (uint8_t)x;
    return 0;
}

uint32_t fs_ls_ifindex_os(void *arg, const char *name)
{
    (void)arg;
    return if_nametoindex(name);
}

int fs_ls_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *fs_ls_quote(const char *s, size_t n, char *out)
{
    size_t k = n > 40 ? 40 : n, o = 0;

    for (size_t i = 0; i < k; i++)
        out[o++] = isprint((unsigned char)s[i]) ? s[i] : '?';
    if (k < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}
