/*
 * cidr.c - address prefixes and prefix lists (see cidr.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "opts.h"

/* True when the first `bits` bits of x and y agree. */
static bool prefix_eq(const uint8_t *x, const uint8_t *y, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;

    if (memcmp(x, y, whole) != 0)
        return false;
    return rest == 0 || ((x[whole] ^ y[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
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

int fs_cidr_parse(const char *text, struct fs_cidr *out, char *err, size_t errlen)
{
    char addr[FS_IP_STRLEN];
    const char *slash = strchr(text, '/');
    size_t alen = slash != NULL ? (size_t)(slash - text) : strlen(text);
    unsigned long bits;
    unsigned maxbits;

    if (alen == 0 || alen >= sizeof(addr))
        goto bad;
    memcpy(addr, text, alen);
    addr[alen] = '\0';
    if (fs_ip_parse(addr, &out->net) != 0)
        goto bad;
    maxbits = out->net.af == 4 ? 32 : 128;
    bits = maxbits;
    if (slash != NULL) {
        char *end;

        if (slash[1] < '0' || slash[1] > '9')
            goto bad;
        bits = strtoul(slash + 1, &end, 10);
        if (*end != '\0' || bits > maxbits) {
            fs_opts_fail(err, errlen, "'%s': prefix length must be 0..%u", text, maxbits);
            return -1;
        }
    }
    out->bits = (uint8_t)bits;
    if (!host_bits_clear(&out->net, out->bits)) {
        fs_opts_fail(err, errlen, "'%s' has bits set past the /%lu prefix", text, bits);
        return -1;
    }
    return 0;
bad:
    fs_opts_fail(err, errlen, "'%s' is not an address or prefix", text);
    return -1;
}

bool fs_cidr_match(const struct fs_cidr *c, const fs_ip *ip)
{
    return c->net.af == ip->af && prefix_eq(c->net.b, ip->b, c->bits);
}

const char *fs_cidr_format(const struct fs_cidr *c, char *out)
{
    char addr[FS_IP_STRLEN];

    snprintf(out, FS_CIDR_STRLEN, "%s/%u", fs_ip_format(&c->net, addr), c->bits);
    return out;
}

int fs_cidrs_add(struct fs_cidrs *l, const char *text, char *err, size_t errlen)
{
    struct fs_cidr c, *nv;

    if (fs_cidr_parse(text, &c, err, errlen) != 0)
        return -1;
    nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (nv == NULL) {
        fs_opts_fail(err, errlen, "out of memory");
        return -1;
    }
    l->v = nv;
    l->v[l->n++] = c;
    return 0;
}

bool fs_cidrs_match(const struct fs_cidrs *l, const fs_ip *ip)
{
    for (size_t i = 0; i < l->n; i++)
        if (fs_cidr_match(&l->v[i], ip))
            return true;
    return false;
}

void fs_cidrs_free(struct fs_cidrs *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}
