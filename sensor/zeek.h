/*
 * zeek.h - Zeek conn.log lines in, flow records out.
 *
 * Both of Zeek's log formats, line by line, even mixed in one stream:
 *  - TSV (the ASCII writer's default): the "#separator", "#unset_field",
 *    "#empty_field", "#path" and "#fields" header lines describe the data
 *    lines that follow; columns are found by their #fields name, so extra or
 *    reordered columns are fine. "#close" ends a file; a new header starts
 *    the next (a rotated or truncated file is read on without a reset).
 *  - JSON (LogAscii::use_json): one object per line, times as epoch seconds,
 *    epoch milliseconds or ISO 8601 (JSON::TS_EPOCH, TS_MILLIS, TS_ISO8601).
 *
 * One conn.log entry is one biflow (RFC 5103): the originator is the source,
 * orig_* counters are the forward direction and resp_* the reverse one.
 * docs/sensor.md ("Zeek and Suricata") has the whole mapping, including how
 * TCP flags are rebuilt from history and conn_state.
 *
 * No I/O: the caller reads the lines (fs_follow, or a whole file), so a
 * followed file and a file read once go through the same code.
 */
#ifndef FS_ZEEK_H
#define FS_ZEEK_H

#include <stddef.h>

#include "flow.h"
#include "logsrc.h"

struct fs_zeek;

/* Returns NULL when out of memory. `cfg` is copied. */
struct fs_zeek *fs_zeek_new(const struct fs_ls_config *cfg);
void fs_zeek_free(struct fs_zeek *z);

/*
 * Feeds one line, without its line feed. Returns 1 with a flow in *out;
 * 0 when the line carries none (header, footer, blank); -1 when it is
 * malformed, with a one-line reason in `err` (which names the field). Every
 * line is counted.
 */
int fs_zeek_line(struct fs_zeek *z, const char *line, size_t len, struct fs_flow *out,
                 char *err, size_t errlen);

const struct fs_ls_counters *fs_zeek_counters(const struct fs_zeek *z);

#endif
