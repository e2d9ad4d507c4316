/*
 * pending.h - data sets that arrived before their template.
 *
 * UDP exporters send templates every so often, so the first data after a
 * collector (or exporter) restart usually precedes its template. Instead of
 * dropping those sets we keep a copy with the header context they need, in
 * arrival order, bounded in bytes per exporter and in time, and decode them
 * when the template shows up.
 */
#ifndef FS_PENDING_H
#define FS_PENDING_H

#include "record.h"

/* Holds a copy of one data set (body without set header) for template
 * `tpl_id`. Drops sets that waited too long first (counted). Returns 0, or
 * -1 after counting FS_ERR_PENDING_DROPPED when it does not fit. */
int fs_pending_hold(struct fs_decode_ctx *c, const struct fs_msg *m, uint16_t tpl_id,
                    const uint8_t *p, size_t len);

/* Decodes, in arrival order, every waiting set whose template is now known,
 * and delivers their flows through the context. Returns -1 if any of them
 * was damaged (counted), else 0. */
int fs_pending_release(struct fs_decode_ctx *c);

#endif
