/*
 * allow.h - the exporter allowlist: which source addresses may send exports.
 *
 * A list of IPv4/IPv6 addresses and CIDR prefixes. An empty list allows
 * everyone (the default: a collector on a trusted management network). A
 * datagram from an address outside a non-empty list is dropped before the
 * decoder sees it and counted (fs_decoder_count_drop), so a spoofing or
 * misconfigured sender cannot create exporter state or templates.
 */
#ifndef FS_ALLOW_H
#define FS_ALLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "flow.h"

struct fs_allow;

/* Returns NULL when out of memory. */
struct fs_allow *fs_allow_new(void);
void fs_allow_free(struct fs_allow *a);

/* Adds "192.0.2.1", "192.0.2.0/24", "2001:db8::1" or "2001:db8::/32".
 * Host bits set under the prefix are refused ("192.0.2.1/24"): they are
 * almost always a typo for a narrower entry. Returns 0, or -1 with a reason
 * in `err`. */
int fs_allow_add(struct fs_allow *a, const char *text, char *err, size_t errlen);

/* Number of entries; 0 means everyone is allowed. */
size_t fs_allow_count(const struct fs_allow *a);

/* True when `ip` may send. IPv4 entries match only IPv4 addresses: callers
 * turn IPv4-mapped IPv6 sources back into IPv4 first (udp.c does). */
bool fs_allow_check(const struct fs_allow *a, const fs_ip *ip);

/* Writes entry `i` as text ("192.0.2.0/24"); NULL past the end. `out` must
 * hold FS_IP_STRLEN + 4 bytes. */
const char *fs_allow_entry(const struct fs_allow *a, size_t i, char *out);

#endif
