/*
 * cidr.h - IPv4/IPv6 address prefixes ("192.0.2.0/24", "2001:db8::/32") and
 * short lists of them: the collector's exporter allowlist, the analyzer's
 * home networks and allowlists.
 *
 * Lists are short (a handful of routers or subnets), so matching is a linear
 * scan over masked prefixes, cheaper than any tree at these sizes.
 */
#ifndef FS_CIDR_H
#define FS_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* Room fs_cidr_format() needs: an address, '/', up to 3 digits, NUL. */
#define FS_CIDR_STRLEN (FS_IP_STRLEN + 4)

struct fs_cidr {
    fs_ip net;      /* host bits cleared */
    uint8_t bits;   /* prefix length */
};

struct fs_cidrs {
    struct fs_cidr *v;
    size_t n;
};

/* Parses "192.0.2.0/24" or "2001:db8::/32"; an address alone is a host.
 * Host bits set under the prefix are refused ("192.0.2.1/24"): they are
 * almost always a typo for a narrower entry. Returns 0, or -1 with a reason
 * in `err`. */
int fs_cidr_parse(const char *text, struct fs_cidr *out, char *err, size_t errlen);

/* True when `ip` is inside `c`. IPv4 prefixes match only IPv4 addresses. */
bool fs_cidr_match(const struct fs_cidr *c, const fs_ip *ip);

/* Writes "192.0.2.0/24" into `out` (FS_CIDR_STRLEN bytes). */
const char *fs_cidr_format(const struct fs_cidr *c, char *out);

/* Parses `text` (as fs_cidr_parse) and appends it; on error the list is
 * unchanged. Returns 0 or -1 with `err`. */
int fs_cidrs_add(struct fs_cidrs *l, const char *text, char *err, size_t errlen);

/* True when any entry matches; false for an empty list. */
bool fs_cidrs_match(const struct fs_cidrs *l, const fs_ip *ip);

/* Frees the entries and leaves an empty list. */
void fs_cidrs_free(struct fs_cidrs *l);

#endif
