/*
 * flowfix.h - hand-built flow records shared by the ipc tests.
 */
#ifndef FS_TEST_FLOWFIX_H
#define FS_TEST_FLOWFIX_H

#include "flow.h"

/* Parses an address that the test knows is valid (aborts the test if not). */
fs_ip flowfix_ip(const char *text);

/* Every field set, each to a value that is not its default; IPv4 exporter,
 * a mix of IPv4 and IPv6 addresses, both flags. */
void flowfix_full(struct fs_flow *f);

/* flowfix_full at its longest as text: IPv6 addresses of full width,
 * integers at their maximum, every MPLS label, a uid of control bytes that
 * all need \u00XX in JSON. */
void flowfix_widest(struct fs_flow *f);

/* Only what is always set: exporter 192.0.2.1, version 5, domain 258. */
void flowfix_minimal(struct fs_flow *f);

#endif
