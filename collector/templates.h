/*
 * templates.h - the template cache of one exporter.
 *
 * Templates and options templates are keyed by (domain, version, template
 * id): v9 source ids and IPFIX observation domains each have their own id
 * space, and the two protocols never share templates. The table is bounded
 * (max_templates): past it the least recently used template is evicted.
 * Lookups remember the last template found, since consecutive data sets
 * nearly always use the same one.
 */
#ifndef FS_TEMPLATES_H
#define FS_TEMPLATES_H

#include "record.h"

struct fs_tpl {
    struct fs_tpl_def def;      /* def.fields points into this allocation */
    struct fs_rec_prog *prog;
    uint64_t used;              /* recency tick, for eviction */
    struct fs_tpl *next;        /* hash chain */
};

enum fs_tpl_put_result {
    FS_TPL_NEW,
    FS_TPL_REFRESHED,           /* same definition again: kept as is */
    FS_TPL_REPLACED             /* same key, new definition */
};

struct fs_tpl_table *fs_tpl_table_new(size_t max_templates);

/* NULL when unknown (or `t` NULL). */
const struct fs_tpl *fs_tpl_find(struct fs_tpl_table *t, uint32_t domain,
                                 uint16_t version, uint16_t id);

/* Adds or refreshes a template. Returns an fs_tpl_put_result, or -1 when the
 * definition does not compile (`*why` says why) or out of memory (`*why`
 * NULL). `*evicted` is set when another template had to go. */
int fs_tpl_put(struct fs_tpl_table *t, const struct fs_tpl_def *def,
               const char **why, bool *evicted);

/* Removes one template; returns 1 if it existed, else 0. */
size_t fs_tpl_withdraw(struct fs_tpl_table *t, uint32_t domain, uint16_t version,
                       uint16_t id);
/* Removes every template (options ones if `options`, else data ones) of a
 * domain; returns how many. */
size_t fs_tpl_withdraw_all(struct fs_tpl_table *t, uint32_t domain, uint16_t version,
                           bool options);

/* Calls `fn` for every template. */
void fs_tpl_each(const struct fs_tpl_table *t,
                 void (*fn)(void *arg, const struct fs_tpl *tpl), void *arg);

/* Learns a template from the wire for the context's exporter: creates the
 * table, counts it (templates, templates_evicted) and counts a definition that
 * does not compile as FS_ERR_BAD_TEMPLATE. Sets `*learned` when the
 * template is taken (new, changed or refreshed: sets waiting for it can be
 * decoded now). Returns 0 or -1. */
int fs_tpl_learn(struct fs_decode_ctx *c, const struct fs_tpl_def *def, bool *learned);

/* Withdraws one template (id) or all of a kind (all); counted. */
void fs_tpl_forget(struct fs_decode_ctx *c, uint32_t domain, uint16_t version,
                   uint16_t id, bool all, bool options);

#endif
