/*
 * allow.c - exporter allowlist (addresses and CIDR prefixes, IPv4 and IPv6).
 *
 * Checked once per datagram, before the decoder. Lists are short (a handful
 * of routers or management subnets), so a linear scan over masked prefixes
 * stays cheaper than any tree would be at these sizes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allow.h"

struct allow_entry {
    fs_ip net;      /* host bits cleared */
    uint8_t bits;   /* prefix length */
};

struct fs_allow {
    struct allow_entry *e;
    size_t n, cap;
};

struct fs_allow *fs_allow_new(void)
{
    return calloc(1, sizeof(struct fs_allow));
}

void fs_allow_free(struct fs_allow *a)
{
    if (a == NULL)
        return;
    free(a->e);
    free(a);
}

size_t fs_allow_count(const struct fs_allow *a)
{
    return a->n;
}

/* True when the first `bits` bits of x and y agree. */
static bool prefix_eq(const uint8_t *x, const uint8_t *y, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;

    if (memcmp(x, y, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((x[whole] ^ y[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool host_bits_clear(const fs_ip *ip, unsigned bits)
{
    unsigned len = ip->af == 4 ? 4 : 16;

    for (unsigned i = bits / 8; i < len; i++) {
        unsigned keep = i == bits / 8 ? bits % 8 : 0;

        if ((ip->b[i] & (uint8_t)(0xff >> keep)) != 0)
            return false;
    }
    return true;
}

int fs_allow_add(struct fs_allow *a, const char *text, char *err, size_t errlen)
{
    char addr[FS_IP_STRLEN];
    const char *slash = strchr(text, '/');
    size_t alen = slash != NULL ? (size_t)(slash - text) : strlen(text);
    struct allow_entry ent;
    unsigned long bits;
    unsigned maxbits;

    if (alen == 0 || alen >= sizeof(addr))
        goto bad;
    memcpy(addr, text, alen);
    addr[alen] = '\0';
    if (fs_ip_parse(addr, &ent.net) != 0)
        goto bad;
    maxbits = ent.net.af == 4 ? 32 : 128;
    bits = maxbits;
    if (slash != NULL) {
        char *end;

        if (slash[1] < '0' || slash[1] > '9')
            goto bad;
        bits = strtoul(slash + 1, &end, 10);
        if (*end != '\0' || bits > maxbits) {
            snprintf(err, errlen, "'%s': prefix length must be 0..%u", text, maxbits);
            return -1;
        }
    }
    ent.bits = (uint8_t)bits;
    if (!host_bits_clear(&ent.net, ent.bits)) {
        snprintf(err, errlen, "'%s' has bits set past the /%lu prefix", text, bits);
        return -1;
    }
    if (a->n == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 8;
        struct allow_entry *ne = realloc(a->e, ncap * sizeof(*ne));

        if (ne == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        a->e = ne;
        a->cap = ncap;
    }
    a->e[a->n++] = ent;
    return 0;
bad:
    snprintf(err, errlen, "'%s' is not an address or prefix", text);
    return -1;
}

bool fs_allow_check(const struct fs_allow *a, const fs_ip *ip)
{
    if (a->n == 0)
        return true;
    for (size_t i = 0; i < a->n; i++)
        if (a->e[i].net.af == ip->af && prefix_eq(a->e[i].net.b, ip->b, a->e[i].bits))
            return true;
    return false;
}

const char *fs_allow_entry(const struct fs_allow *a, size_t i, char *out)
{
    char addr[FS_IP_STRLEN];

    if (i >= a->n)
        return NULL;
    snprintf(out, FS_IP_STRLEN + 4, "%s/%u", fs_ip_format(&a->e[i].net, addr), a->e[i].bits);
    return out;
}
