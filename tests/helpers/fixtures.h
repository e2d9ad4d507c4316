/*
 * fixtures.h - test helper: the export datagrams of the shared fixture
 * captures, grouped and ordered as tests/fixtures/expected/groups.json says
 * (the manifest tools/tshark-expected writes next to the expected flows).
 *
 * A group is what one decoder is fed: its captures file after file
 * ("sequential") or all their packets merged by capture time in ms, ties
 * broken by file then frame order ("time", as pmacct's replay tool sends
 * several captures at once). tools/tshark-expected orders them the same way.
 */
#ifndef FS_TEST_FIXTURES_H
#define FS_TEST_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* One datagram: the UDP payload of one captured frame (heap copy of exactly
 * `len` bytes, so that a read past it trips AddressSanitizer). */
struct fx_dgram {
    fs_ip src;        /* IP source: the exporter */
    uint64_t ts_ms;   /* capture time */
    uint8_t *data;
    size_t len;
    unsigned file;    /* index of the capture in the group */
    unsigned frame;   /* index of the datagram in its capture */
};

#define FX_MAX_CAPTURES 8

struct fx_group {
    char name[64];
    size_t ncaptures;
    char captures[FX_MAX_CAPTURES][256]; /* relative to FS_CAPTURES */
    struct fx_dgram *d;
    size_t n;
};

/* Directory of the expected files and the manifest. */
#define FX_EXPECTED_DIR FS_SOURCE_DIR "/tests/fixtures/expected"

/* Names of every group in the manifest, in its order. Returns how many and
 * sets `*names` (free with fx_names_free), or aborts the test. */
size_t fx_group_names(char ***names);
void fx_names_free(char **names, size_t n);

/* Loads one group's datagrams in feed order; aborts the test when the group
 * or a capture is missing. Free with fx_group_free. */
struct fx_group *fx_group_load(const char *name);
void fx_group_free(struct fx_group *g);

#endif
