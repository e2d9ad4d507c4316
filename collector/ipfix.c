/*
 * ipfix.c - IPFIX (RFC 7011): message header, template and options template
 * sets with withdrawals; data sets go to record.c.
 *
 * Over UDP a datagram carries one message; over TCP the reader hands in one
 * message at a time. A message length that disagrees with what was handed
 * in is damage: longer cannot be decoded, shorter decodes the message and
 * ignores the rest. The sequence number counts data records per observation
 * domain; when a set had to wait for its template, this message's records
 * cannot be counted and the tracker is told so.
 */
#include "templates.h"

#define IPFIX_HEADER 16
#define SET_OPTIONS 3
#define ENTERPRISE_BIT 0x8000u

/*
 * Reads `n` field specifiers at `*off`, keeping at most FS_TPL_MAX_FIELDS in
 * `fields`. Returns -1 when they run past `len`.
 */
static int read_fields(const uint8_t *p, size_t len, size_t *off, size_t n,
                       struct fs_tpl_field *fields)
{
    for (size_t i = 0; i < n; i++) {
        struct fs_tpl_field f;

        if (len - *off < 4)
            return -1;
        f.id = fs_get16(p + *off);
        f.len = fs_get16(p + *off + 2);
        f.pen = 0;
        *off += 4;
        if (f.id & ENTERPRISE_BIT) {
            if (len - *off < 4)
                return -1;
            f.id &= (uint16_t)~ENTERPRISE_BIT;
            f.pen = fs_get32(p + *off);
            *off += 4;
        }
        if (i < FS_TPL_MAX_FIELDS)
            fields[i] = f;
    }
    return 0;
}

/*
 * A template set (2) or an options template set (3). A record with a field
 * count of zero is a withdrawal: of one template, or, with the set id as
 * template id, of all templates of that kind in the domain.
 */
static int ipfix_templates(struct fs_decode_ctx *c, const struct fs_export_hdr *m,
                           uint16_t set_id, const uint8_t *p, size_t len, bool *learned)
{
    struct fs_tpl_field fields[FS_TPL_MAX_FIELDS];
    bool options = set_id == SET_OPTIONS;
    const char *kind = options ? "options template" : "template";
    size_t off = 0;
    int rc = 0;

    while (len - off >= 4) {
        uint16_t id = fs_get16(p + off), n = fs_get16(p + off + 2), nscope = 0;
        struct fs_tpl_def def = { .domain = m->domain, .version = 10, .id = id,
                                  .options = options, .nfields = n, .fields = fields };

        if (id == 0 && n == 0 && fs_rec_is_padding(p + off, len - off))
            break;
        off += 4;
        if (n == 0) {
            if (id == set_id || id >= 256)
                fs_tpl_forget(c, m->domain, 10, id, id == set_id, options);
            else
                rc = fs_ctx_error(c, FS_ERR_BAD_TEMPLATE,
                                  "IPFIX domain %u: withdrawal of reserved %s id %u",
                                  m->domain, kind, id);
            continue;
        }
        if (options) {
            if (len - off < 2)
                return fs_ctx_error(c, FS_ERR_BAD_TEMPLATE,
                                    "IPFIX domain %u: options template %u overruns its set",
                                    m->domain, id);
            nscope = fs_get16(p + off);
            off += 2;
        }
        if (read_fields(p, len, &off, n, fields) < 0)
            return fs_ctx_error(c, FS_ERR_BAD_TEMPLATE,
                                "IPFIX domain %u: %s %u with %u fields overruns its set",
                                m->domain, kind, id, n);
        if (id < 256 || n > FS_TPL_MAX_FIELDS || (options && (nscope == 0 || nscope > n))) {
            rc = fs_ctx_error(c, FS_ERR_BAD_TEMPLATE, "IPFIX domain %u: %s %u: %s", m->domain,
                              kind, id, id < 256 ? "reserved template id"
                              : n > FS_TPL_MAX_FIELDS ? "too many fields"
                              : "scope field count out of range");
            continue;
        }
        def.nscope = nscope;
        if (fs_tpl_learn(c, &def, learned) < 0)
            rc = -1;
    }
    if (off != len && !fs_rec_is_padding(p + off, len - off))
        rc = fs_ctx_error(c, FS_ERR_BAD_TEMPLATE,
                          "IPFIX domain %u: %zu stray bytes at the end of a %s set",
                          m->domain, len - off, kind);
    return rc;
}

int fs_ipfix_decode(struct fs_decode_ctx *c, const uint8_t *p, size_t len)
{
    struct fs_export_hdr m;
    struct fs_domain *dom;
    struct fs_rec_sets sets;
    size_t mlen;
    int rc = 0;

    if (len < IPFIX_HEADER)
        return fs_ctx_error(c, FS_ERR_SHORT_HEADER,
                            "IPFIX: %zu-byte message is shorter than the 16-byte header", len);
    mlen = fs_get16(p + 2);
    if (mlen < IPFIX_HEADER || mlen > len)
        return fs_ctx_error(c, FS_ERR_BAD_LENGTH,
                            "IPFIX: message length %zu in a %zu-byte datagram", mlen, len);
    if (mlen < len) {
        rc = fs_ctx_error(c, FS_ERR_BAD_LENGTH,
                          "IPFIX: message length %zu in a %zu-byte datagram: the rest is ignored",
                          mlen, len);
        len = mlen;
    }
    m = (struct fs_export_hdr){ .version = 10, .export_secs = fs_get32(p + 4),
                                .domain = fs_get32(p + 12), .now_ms = c->now_ms };
    if (fs_rec_decode_sets(c, &m, p, len, IPFIX_HEADER, ipfix_templates, &sets) < 0)
        rc = -1;
    /* Unlike v9, IPFIX has no padding after the last set. */
    if (!sets.damaged && sets.off != len) {
        rc = fs_ctx_error(c, FS_ERR_SET_LENGTH, "IPFIX domain %u: %zu bytes after the last set",
                          m.domain, len - sets.off);
        sets.damaged = true;
    }
    /* Looked up only now: releasing waiting sets may have touched other domains. */
    dom = fs_ctx_domain(c, m.domain, 10);
    if (dom == NULL)
        return -1;
    fs_seq_update(c, &dom->seq, fs_get32(p + 8), sets.records, !sets.waited && !sets.damaged);
    return rc;
}
