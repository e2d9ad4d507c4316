/*
 * v9.c - NetFlow v9 (RFC 3954): header, template and options template
 * flowsets; data flowsets go to record.c.
 *
 * The header's count (records in the packet) is not checked: vendors
 * disagree on whether it counts templates, options or only flows, and some
 * fill it wrongly, so it is no evidence of damage. Likewise, fewer than four
 * bytes after the last flowset are taken as padding. The sequence number
 * counts export packets per source id.
 */
#include "templates.h"

#define V9_HEADER 20

/* v9 fields are (type, length) pairs; there are no enterprise numbers. */
static void read_fields(const uint8_t *p, size_t n, struct fs_tpl_field *fields)
{
    for (size_t i = 0; i < n; i++, p += 4)
        fields[i] = (struct fs_tpl_field){ .id = fs_get16(p), .len = fs_get16(p + 2) };
}

/* Learns one template whose `def->nfields` fields are at `p`, unless its id
 * is reserved or it has too many fields. */
static int v9_learn(struct fs_decode_ctx *c, struct fs_tpl_def *def, const char *kind,
                    const uint8_t *p, struct fs_tpl_field *fields, bool *learned)
{
    if (def->id < 256 || def->nfields > FS_TPL_MAX_FIELDS)
        return fs_ctx_error(c, FS_ERR_BAD_TEMPLATE, "v9 source id %u: %s %u: %s", def->domain,
                            kind, def->id,
                            def->id < 256 ? "reserved template id" : "too many fields");
    read_fields(p, def->nfields, fields);
    def->fields = fields;
    return fs_tpl_learn(c, def, learned);
}

/* Template flowset (id 0): records of template id, field count, fields. */
static int v9_templates(struct fs_decode_ctx *c, const struct fs_export_hdr *m,
                        const uint8_t *p, size_t len, bool *learned)
{
    struct fs_tpl_field fields[FS_TPL_MAX_FIELDS];
    size_t off = 0;
    int rc = 0;

    while (len - off >= 4) {
        uint16_t id = fs_get16(p + off), n = fs_get16(p + off + 2);
        struct fs_tpl_def def = { .domain = m->domain, .version = 9, .id = id, .nfields = n };

        if (id == 0 && n == 0 && fs_rec_is_padding(p + off, len - off))
            break;
        off += 4;
        if ((size_t)n * 4 > len - off)
            return fs_ctx_error(c, FS_ERR_BAD_TEMPLATE,
                                "v9 source id %u: template %u with %u fields overruns its "
                                "flowset", m->domain, id, n);
        if (v9_learn(c, &def, "template", p + off, fields, learned) < 0)
            rc = -1;
        off += (size_t)n * 4;
    }
    return rc;
}

/* Options template flowset (id 1): template id, scope length and options
 * length in bytes, then the scope fields and the option fields. */
static int v9_options(struct fs_decode_ctx *c, const struct fs_export_hdr *m,
                      const uint8_t *p, size_t len, bool *learned)
{
    struct fs_tpl_field fields[FS_TPL_MAX_FIELDS];
    size_t off = 0;
    int rc = 0;

    while (len - off >= 6) {
        uint16_t id = fs_get16(p + off), slen = fs_get16(p + off + 2), olen = fs_get16(p + off + 4);
        size_t n = ((size_t)slen + olen) / 4;
        struct fs_tpl_def def = { .domain = m->domain, .version = 9, .id = id, .options = true,
                                  .nscope = (uint16_t)(slen / 4), .nfields = (uint16_t)n };

        if (id == 0 && fs_rec_is_padding(p + off, len - off))
            break;
        off += 6;
        if (slen % 4 || olen % 4)
            return fs_ctx_error(c, FS_ERR_BAD_TEMPLATE,
                                "v9 source id %u: options template %u: scope length %u and "
                                "option length %u must be multiples of 4", m->domain, id,
                                slen, olen);
        if ((size_t)slen + olen > len - off)
            return fs_ctx_error(c, FS_ERR_BAD_TEMPLATE,
                                "v9 source id %u: options template %u overruns its flowset",
                                m->domain, id);
        if (v9_learn(c, &def, "options template", p + off, fields, learned) < 0)
            rc = -1;
        off += n * 4;
    }
    return rc;
}

static int v9_template_set(struct fs_decode_ctx *c, const struct fs_export_hdr *m,
                           uint16_t set_id, const uint8_t *p, size_t len, bool *learned)
{
    if (set_id == 0)
        return v9_templates(c, m, p, len, learned);
    return v9_options(c, m, p, len, learned);
}

int fs_v9_decode(struct fs_decode_ctx *c, const uint8_t *p, size_t len)
{
    struct fs_export_hdr m;
    struct fs_domain *dom;
    struct fs_rec_sets sets;

    if (len < V9_HEADER)
        return fs_ctx_error(c, FS_ERR_SHORT_HEADER,
                            "v9: %zu-byte datagram is shorter than the 20-byte header", len);
    m = (struct fs_export_hdr){ .version = 9, .sys_uptime = fs_get32(p + 4),
                                .export_secs = fs_get32(p + 8), .domain = fs_get32(p + 16),
                                .now_ms = c->now_ms };
    dom = fs_ctx_domain(c, m.domain, 9);
    if (dom == NULL)
        return -1;
    fs_seq_update(c, &dom->seq, fs_get32(p + 12), 1, true);
    return fs_rec_decode_sets(c, &m, p, len, V9_HEADER, v9_template_set, &sets);
}
