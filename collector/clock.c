/*
 * clock.c - exporter time to epoch milliseconds, and a guard against exporter
 * clocks that are far off (a router that lost NTP, an uptime reset).
 */
#include "exporter.h"

/* Longest duration kept when a flow is moved to the receive time: longer
 * than any active timeout, so anything beyond it is garbage. */
#define MAX_SANE_DURATION_MS (24 * 3600 * 1000ull)

/*
 * The distance between the header's uptime and the flow's is taken as a
 * signed 32-bit value, so a flow stamped before the uptime wrapped (49.7 days)
 * is still in the past, and one stamped just after the header is in the near
 * future rather than 49 days back.
 */
uint64_t fs_uptime_to_ms(uint64_t export_ms, uint32_t sys_uptime, uint32_t t)
{
    uint32_t d = sys_uptime - t;
    int64_t ago = d <= INT32_MAX ? (int64_t)d : (int64_t)d - (INT64_C(1) << 32);

    if (ago > 0 && (uint64_t)ago > export_ms)
        return 0;
    return (uint64_t)((int64_t)export_ms - ago);
}

/* The end time decides (the start when there is no end): a long flow may
 * legitimately start well before the clamp. */
void fs_flow_check_clock(struct fs_decode_ctx *c, struct fs_flow *f)
{
    uint64_t clamp = fs_decoder_config(c->d)->clock_clamp_ms;
    bool has_start = FS_FLOW_HAS(f, FS_F_START), has_end = FS_FLOW_HAS(f, FS_F_END);
    uint64_t t, off, now = c->now_ms;

    if (!clamp || (!has_start && !has_end))
        return;
    t = has_end ? f->end_ms : f->start_ms;
    off = t > now ? t - now : now - t;
    if (off <= clamp)
        return;
    if (has_start && has_end) {
        uint64_t dur = f->end_ms - f->start_ms;

        if (f->end_ms < f->start_ms || dur > MAX_SANE_DURATION_MS || dur > now)
            dur = 0;
        f->start_ms = now - dur;
        f->end_ms = now;
    } else if (has_end) {
        f->end_ms = now;
    } else {
        f->start_ms = now;
    }
    f->flags |= FS_FLOW_TIME_CLAMPED;
    FS_COUNT(c, time_clamped, 1);
}
