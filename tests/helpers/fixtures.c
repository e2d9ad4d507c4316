/*
 * fixtures.c - test helper: loads the shared fixture captures as groups of
 * export datagrams, in the order a group is fed to one decoder.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "pcapfile.h"

static json_t *manifest(void)
{
    json_error_t err;
    json_t *m = json_load_file(FX_EXPECTED_DIR "/groups.json", 0, &err);

    cr_assert_not_null(m, "groups.json: %s (line %d); run tools/tshark-expected", err.text,
                       err.line);
    cr_assert(json_is_array(json_object_get(m, "groups")), "groups.json: no \"groups\" array");
    return m;
}

size_t fx_group_names(char ***names)
{
    json_t *m = manifest(), *groups = json_object_get(m, "groups"), *g;
    size_t i, n = json_array_size(groups);

    *names = calloc(n ? n : 1, sizeof(char *));
    cr_assert_not_null(*names);
    json_array_foreach(groups, i, g) {
        const char *name = json_string_value(json_object_get(g, "name"));

        cr_assert_not_null(name, "groups.json: group %zu has no name", i);
        (*names)[i] = strdup(name);
    }
    json_decref(m);
    return n;
}

void fx_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

struct reader {
    struct fx_group *g;
    unsigned file, frame;
    size_t cap;
};

static int keep(void *arg, const struct fs_pcap_packet *pkt)
{
    struct reader *r = arg;
    struct fx_group *g = r->g;
    struct fx_dgram *d;

    if (g->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        g->d = realloc(g->d, r->cap * sizeof(*g->d));
        cr_assert_not_null(g->d);
    }
    d = &g->d[g->n++];
    d->src = pkt->src;
    d->ts_ms = pkt->ts_ms;
    d->len = pkt->len;
    d->data = malloc(pkt->len ? pkt->len : 1);
    cr_assert_not_null(d->data);
    memcpy(d->data, pkt->payload, pkt->len);
    d->file = r->file;
    d->frame = r->frame++;
    return 0;
}

static int by_time(const void *a, const void *b)
{
    const struct fx_dgram *x = a, *y = b;

    if (x->ts_ms != y->ts_ms)
        return x->ts_ms < y->ts_ms ? -1 : 1;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return x->frame < y->frame ? -1 : x->frame > y->frame;
}

struct fx_group *fx_group_load(const char *name)
{
    json_t *m = manifest(), *groups = json_object_get(m, "groups"), *g, *desc = NULL;
    struct fx_group *out = calloc(1, sizeof(*out));
    struct reader r = { .g = out };
    const char *order;
    size_t i;

    cr_assert_not_null(out);
    json_array_foreach(groups, i, g) {
        if (strcmp(json_string_value(json_object_get(g, "name")), name) == 0)
            desc = g;
    }
    cr_assert_not_null(desc, "group %s is not in groups.json", name);
    snprintf(out->name, sizeof(out->name), "%s", name);
    order = json_string_value(json_object_get(desc, "order"));
    cr_assert(order && (!strcmp(order, "sequential") || !strcmp(order, "time")),
              "group %s: order must be \"sequential\" or \"time\"", name);
    json_array_foreach(json_object_get(desc, "captures"), i, g) {
        char path[512], err[256];

        cr_assert_lt(i, FX_MAX_CAPTURES, "group %s: too many captures", name);
        snprintf(out->captures[i], sizeof(out->captures[i]), "%s", json_string_value(g));
        out->ncaptures = i + 1;
        snprintf(path, sizeof(path), "%s/%s", FS_CAPTURES, out->captures[i]);
        r.file = (unsigned)i;
        r.frame = 0;
        cr_assert_eq(fs_pcap_read(path, keep, &r, NULL, err, sizeof(err)), 0, "%s: %s", path,
                     err);
    }
    cr_assert_gt(out->n, 0, "group %s has no datagrams", name);
    if (!strcmp(order, "time"))
        qsort(out->d, out->n, sizeof(*out->d), by_time);
    json_decref(m);
    return out;
}

void fx_group_free(struct fx_group *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n; i++)
        free(g->d[i].data);
    free(g->d);
    free(g);
}
