/*
 * linerun.h - feeds text line by line to a sensor log source (Zeek
 * conn.log, Suricata EVE JSON) and keeps what each line gave: a flow, a
 * skip, or a malformed line with its message.
 */
#ifndef FS_TEST_LINERUN_H
#define FS_TEST_LINERUN_H

#include <stddef.h>

#include "flow.h"

#define LR_MAX 32

struct linerun {
    struct fs_flow flows[LR_MAX];
    size_t n, skipped, malformed;
    char err[LR_MAX][200]; /* message of each malformed line, in order */
};

/* One line to a flow: 1 a flow in *f, 0 skipped, -1 malformed (message in
 * `err`), as fs_zeek_line() and fs_eve_line() do. */
typedef int (*lr_line_fn)(void *src, const char *line, size_t len, struct fs_flow *f,
                          char *err, size_t errlen);

/* Feeds `text` line by line (a last line without a line feed too); fails
 * the test on a malformed line without a message or past LR_MAX. */
void lr_feed(struct linerun *r, lr_line_fn fn, void *src, const char *text);

/* Expects fs_flow_json() of `f` to be `want`. */
void lr_expect_json(const struct fs_flow *f, const char *want);

#endif
