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
int fs_pending_hold(struct fs_decode_ctx *c, const struct fs_export_hdr *m, uint16_t tpl_id,
                    const uint8_t *p, size_t len);

/*
 * Decodes what waited and whose template is now known, in arrival order,
 * options before flows, delivering the flows through the context. The
 * decoders call fs_pending_release_options() after each template set, so
 * that sampling announced in waiting options records applies to the data
 * sets that follow in the same datagram, and fs_pending_release() at the end
 * of a datagram that carried templates: held flows come out after the flows
 * of the datagram that brought their template. Both return -1 if a released
 * set was damaged (counted), else 0.
 */
int fs_pending_release_options(struct fs_decode_ctx *c);
int fs_pending_release(struct fs_decode_ctx *c);

#endif
