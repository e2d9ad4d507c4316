/*
 * templates.c - the template cache of one exporter: a hash table keyed by
 * (domain, version, template id), bounded by max_templates with the least
 * recently used template evicted, and a one-entry cache of the last lookup.
 */
#include <stdlib.h>
#include <string.h>

#include "templates.h"

#define DEFAULT_MAX_TEMPLATES 1024

struct fs_tpl_table {
    size_t max, count;
    size_t mask;                /* buckets - 1, a power of two minus one */
    uint64_t tick;
    struct fs_tpl *last;
    struct fs_tpl **buckets;
};

struct fs_tpl_table *fs_tpl_table_new(size_t max_templates)
{
    struct fs_tpl_table *t = calloc(1, sizeof(*t));
    size_t n = 16;

    if (t == NULL)
        return NULL;
    t->max = max_templates ? max_templates : DEFAULT_MAX_TEMPLATES;
    while (n < t->max && n < 65536)
        n <<= 1;
    t->buckets = calloc(n, sizeof(*t->buckets));
    if (t->buckets == NULL) {
        free(t);
        return NULL;
    }
    t->mask = n - 1;
    return t;
}

static void tpl_free(struct fs_tpl *x)
{
    free(x->prog);
    free(x);
}

void fs_tpl_table_free(struct fs_tpl_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i <= t->mask; i++) {
        struct fs_tpl *x = t->buckets[i], *next;
        for (; x; x = next) {
            next = x->next;
            tpl_free(x);
        }
    }
    free(t->buckets);
    free(t);
}

static size_t bucket_of(const struct fs_tpl_table *t, uint32_t domain, uint16_t version,
                        uint16_t id)
{
    uint32_t h = (uint32_t)id * 0x9e3779b1u ^ domain * 0x85ebca6bu ^ version;
    return (h ^ h >> 15) & t->mask;
}

static bool same_key(const struct fs_tpl *x, uint32_t domain, uint16_t version, uint16_t id)
{
    return x->def.id == id && x->def.domain == domain && x->def.version == version;
}

const struct fs_tpl *fs_tpl_find(struct fs_tpl_table *t, uint32_t domain, uint16_t version,
                                 uint16_t id)
{
    struct fs_tpl *x;

    if (t == NULL)
        return NULL;
    x = t->last;
    if (x == NULL || !same_key(x, domain, version, id)) {
        for (x = t->buckets[bucket_of(t, domain, version, id)]; x; x = x->next)
            if (same_key(x, domain, version, id))
                break;
        if (x == NULL)
            return NULL;
        t->last = x;
    }
    x->used = ++t->tick;
    return x;
}

static bool same_def(const struct fs_tpl_def *a, const struct fs_tpl_def *b)
{
    if (a->options != b->options || a->nscope != b->nscope || a->nfields != b->nfields)
        return false;
    for (size_t i = 0; i < a->nfields; i++)
        if (a->fields[i].id != b->fields[i].id || a->fields[i].len != b->fields[i].len ||
            a->fields[i].pen != b->fields[i].pen)
            return false;
    return true;
}

/* Unlinks the template at `*link` and frees it. */
static void unlink_free(struct fs_tpl_table *t, struct fs_tpl **link)
{
    struct fs_tpl *x = *link;

    *link = x->next;
    if (t->last == x)
        t->last = NULL;
    t->count--;
    tpl_free(x);
}

static void evict_oldest(struct fs_tpl_table *t)
{
    struct fs_tpl **oldest = NULL;

    for (size_t i = 0; i <= t->mask; i++)
        for (struct fs_tpl **l = &t->buckets[i]; *l; l = &(*l)->next)
            if (oldest == NULL || (*l)->used < (*oldest)->used)
                oldest = l;
    if (oldest)
        unlink_free(t, oldest);
}

int fs_tpl_put(struct fs_tpl_table *t, const struct fs_tpl_def *def, const char **why,
               bool *evicted)
{
    struct fs_tpl **link = &t->buckets[bucket_of(t, def->domain, def->version, def->id)];
    struct fs_tpl *old, *x;
    struct fs_rec_prog *prog;

    *evicted = false;
    *why = NULL;
    for (; (old = *link) != NULL; link = &old->next)
        if (same_key(old, def->domain, def->version, def->id))
            break;
    if (old && same_def(&old->def, def)) {
        old->used = ++t->tick;
        return FS_TPL_REFRESHED;
    }
    prog = fs_rec_compile(def, why);
    if (prog == NULL)
        return -1;
    x = malloc(sizeof(*x) + (size_t)def->nfields * sizeof(struct fs_tpl_field));
    if (x == NULL) {
        free(prog);
        return -1;
    }
    x->def = *def;
    x->def.fields = memcpy(x + 1, def->fields, (size_t)def->nfields * sizeof(struct fs_tpl_field));
    x->prog = prog;
    x->used = ++t->tick;
    if (old) {
        /* Same place in the chain: the link stays valid. */
        x->next = old->next;
        *link = x;
        if (t->last == old)
            t->last = NULL;
        tpl_free(old);
        return FS_TPL_REPLACED;
    }
    if (t->count >= t->max) {
        evict_oldest(t);
        *evicted = true;
    }
    link = &t->buckets[bucket_of(t, def->domain, def->version, def->id)];
    x->next = *link;
    *link = x;
    t->count++;
    return FS_TPL_NEW;
}

size_t fs_tpl_withdraw(struct fs_tpl_table *t, uint32_t domain, uint16_t version, uint16_t id)
{
    if (t == NULL)
        return 0;
    for (struct fs_tpl **l = &t->buckets[bucket_of(t, domain, version, id)]; *l; l = &(*l)->next)
        if (same_key(*l, domain, version, id)) {
            unlink_free(t, l);
            return 1;
        }
    return 0;
}

size_t fs_tpl_withdraw_all(struct fs_tpl_table *t, uint32_t domain, uint16_t version,
                           bool options)
{
    size_t n = 0;

    if (t == NULL)
        return 0;
    for (size_t i = 0; i <= t->mask; i++) {
        struct fs_tpl **l = &t->buckets[i];
        while (*l) {
            const struct fs_tpl_def *d = &(*l)->def;
            if (d->domain == domain && d->version == version && d->options == options) {
                unlink_free(t, l);
                n++;
            } else {
                l = &(*l)->next;
            }
        }
    }
    return n;
}

void fs_tpl_each(const struct fs_tpl_table *t,
                 void (*fn)(void *arg, const struct fs_tpl *tpl), void *arg)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i <= t->mask; i++)
        for (const struct fs_tpl *x = t->buckets[i]; x; x = x->next)
            fn(arg, x);
}

int fs_tpl_learn(struct fs_decode_ctx *c, const struct fs_tpl_def *def, bool *learned)
{
    struct fs_exporter *e = c->exp;
    const char *why;
    bool evicted;
    int r;

    if (e->templates == NULL) {
        e->templates = fs_tpl_table_new(fs_decoder_config(c->d)->max_templates);
        if (e->templates == NULL)
            return -1;
    }
    r = fs_tpl_put(e->templates, def, &why, &evicted);
    if (r < 0) {
        if (why == NULL)
            return -1;
        return fs_ctx_error(c, FS_ERR_BAD_TEMPLATE, "v%u domain %u template %u: %s",
                            def->version, def->domain, def->id, why);
    }
    FS_COUNT(c, templates, 1);
    if (evicted)
        FS_COUNT(c, templates_evicted, 1);
    *learned = true;
    return 0;
}

void fs_tpl_forget(struct fs_decode_ctx *c, uint32_t domain, uint16_t version, uint16_t id,
                   bool all, bool options)
{
    struct fs_tpl_table *t = c->exp->templates;
    size_t n = all ? fs_tpl_withdraw_all(t, domain, version, options)
                   : fs_tpl_withdraw(t, domain, version, id);

    if (n)
        FS_COUNT(c, templates_withdrawn, n);
}
