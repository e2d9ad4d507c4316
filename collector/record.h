/*
 * record.h - compiled templates and data records (NetFlow v9 and IPFIX).
 *
 * A template is compiled once, when it arrives, into a short list of ops:
 * one per field that flowsentry maps, with the fields it does not map merged
 * into skips. Decoding a data record is then a loop over the ops with a
 * switch, writing straight into struct fs_flow. Values that need the whole
 * record before they mean anything (times in their many forms, sampling
 * parameters, systemInitTimeMilliseconds) are collected on the way and
 * resolved after the loop.
 *
 * Which of several fields that say the same thing wins (octetDeltaCount over
 * postOctetDeltaCount over octetTotalCount, flowStartMilliseconds over
 * flowStartSysUpTime, ...) is decided at compile time, so the per-record loop
 * never tests for it.
 */
#ifndef FS_RECORD_H
#define FS_RECORD_H

#include "exporter.h"

/* Private Enterprise Number of RFC 5103 reverse Information Elements. */
#define FS_PEN_REVERSE 29305u

/* IPFIX: a field length that announces a variable-length field. */
#define FS_VARLEN 65535u

/* Templates with more fields than this are refused as absurd: no exporter
 * sends anything close, and it bounds the memory one template can take. */
#define FS_TPL_MAX_FIELDS 1024

/* One field of a template, as announced on the wire. */
struct fs_tpl_field {
    uint16_t id;  /* IE id (enterprise bit cleared) or v9 field type */
    uint16_t len; /* FS_VARLEN (IPFIX only) for variable length */
    uint32_t pen; /* enterprise number, 0 for IANA */
};

/* A template definition: everything needed to compile it, compare it with a
 * refresh, and save it. */
struct fs_tpl_def {
    uint32_t domain;
    uint16_t version;   /* 9 or 10 */
    uint16_t id;
    bool options;       /* options template: its records configure, not count */
    uint16_t nscope;    /* leading scope fields (options templates) */
    uint16_t nfields;   /* scope fields included */
    const struct fs_tpl_field *fields;
};

/* A compiled template (opaque; one allocation, released with free()). */
struct fs_rec_prog;
struct fs_tpl;

/* Compiles a definition. Returns NULL with a reason in `*why` when the
 * template cannot describe a decodable record (no fields, total length over
 * 65535, zero-length records), or with `*why` NULL when out of memory. */
struct fs_rec_prog *fs_rec_compile(const struct fs_tpl_def *def, const char **why);

/* The header context a data set is decoded in. Kept with sets that wait for
 * their template, so that they decode later exactly as they would have. */
struct fs_export_hdr {
    uint16_t version;
    uint32_t domain;
    uint32_t export_secs;
    uint32_t sys_uptime; /* v9 only */
    uint64_t now_ms;     /* receive time */
};

/* True when the `n` bytes at `p` are all zero: set padding. */
bool fs_rec_is_padding(const uint8_t *p, size_t n);

/* Learns the templates of one template or options template set (body
 * without the 4-byte set header), setting `*learned` when one is new or
 * changed. Returns 0, or -1 after counting the damage. */
typedef int (*fs_rec_tpl_fn)(struct fs_decode_ctx *c, const struct fs_export_hdr *m,
                             uint16_t set_id, const uint8_t *p, size_t len, bool *learned);

/* What the sets of one message came to. */
struct fs_rec_sets {
    size_t off;       /* where the walk stopped: fewer than 4 bytes left, or damage */
    uint32_t records; /* data records decoded */
    bool waited;      /* a data set was held for its template */
    bool damaged;     /* a set, or a record of a data set, could not be decoded */
};

/* Decodes the sets of message `p[0..len)` from offset `off` (past the
 * header): template sets (v9 0 and 1, IPFIX 2 and 3) through `templates`,
 * data sets with their template or held until it comes; then releases what
 * the new templates can decode. Returns 0, or -1 when anything was counted
 * as an error. */
int fs_rec_decode_sets(struct fs_decode_ctx *c, const struct fs_export_hdr *m,
                       const uint8_t *p, size_t len, size_t off, fs_rec_tpl_fn templates,
                       struct fs_rec_sets *out);

/* Decodes the records of one set whose template is known. Returns the
 * number of records decoded, or -1 after counting the damage. */
int fs_rec_decode_set(struct fs_decode_ctx *c, const struct fs_export_hdr *m,
                      const struct fs_tpl *t, const uint8_t *p, size_t len);

#endif
