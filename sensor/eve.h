/*
 * eve.h - Suricata EVE JSON lines in, flow records out.
 *
 * Two event types carry flows:
 *  - "flow": one biflow (RFC 5103) per flow Suricata tracked: src_ip is the
 *    client, flow.*_toserver the forward direction and flow.*_toclient the
 *    reverse one;
 *  - "netflow": one record per direction (Suricata writes both, the second
 *    with the addresses swapped), netflow.pkts/bytes one way only.
 * Every other event type (alert, dns, http, stats, ...) is skipped and
 * counted. Suricata's flow_id is kept (FS_F_FLOW_ID) so that the flow can be
 * joined back to the alerts and protocol events of the same flow.
 *
 * docs/sensor.md ("Zeek and Suricata") has the whole mapping. No I/O: the
 * caller reads the lines.
 */
#ifndef FS_EVE_H
#define FS_EVE_H

#include <stddef.h>

#include "flow.h"
#include "logsrc.h"

struct fs_eve;

/* Returns NULL when out of memory. `cfg` is copied. */
struct fs_eve *fs_eve_new(const struct fs_ls_config *cfg);
void fs_eve_free(struct fs_eve *e);

/*
 * Feeds one line, without its line feed. Returns 1 with a flow in *out;
 * 0 when the line carries none (another event type, a blank line); -1 when
 * it is malformed, with a one-line reason in `err`. Every line is counted.
 * A line is read only as far as its event_type when that says it is no
 * flow, so damage after it in such a line is not noticed.
 */
int fs_eve_line(struct fs_eve *e, const char *line, size_t len, struct fs_flow *out,
                char *err, size_t errlen);

const struct fs_ls_counters *fs_eve_counters(const struct fs_eve *e);

#endif
