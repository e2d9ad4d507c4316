/*
 * allow.c - exporter allowlist: an ipc/cidr.h prefix list where empty means
 * everyone.
 *
 * Checked once per datagram, before the decoder.
 */
#include <stdlib.h>

#include "allow.h"
#include "cidr.h"

struct fs_allow {
    struct fs_cidrs list;
};

struct fs_allow *fs_allow_new(void)
{
    return calloc(1, sizeof(struct fs_allow));
}

void fs_allow_free(struct fs_allow *a)
{
    if (a == NULL)
        return;
    fs_cidrs_free(&a->list);
    free(a);
}

size_t fs_allow_count(const struct fs_allow *a)
{
    return a->list.n;
}

int fs_allow_add(struct fs_allow *a, const char *text, char *err, size_t errlen)
{
    return fs_cidrs_add(&a->list, text, err, errlen);
}

bool fs_allow_check(const struct fs_allow *a, const fs_ip *ip)
{
    return a->list.n == 0 || fs_cidrs_match(&a->list, ip);
}

const char *fs_allow_entry(const struct fs_allow *a, size_t i, char *out)
{
    if (i >= a->list.n)
        return NULL;
    return fs_cidr_format(&a->list.v[i], out);
}
