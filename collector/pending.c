/*
 * pending.c - data sets held until their template arrives: a FIFO of copies
 * per exporter, bounded in bytes (pending_max_bytes) and in time
 * (pending_timeout_ms). Each copy keeps the header context of its datagram
 * (struct fs_export_hdr) so that it decodes later exactly as it would have then.
 */
#include <stdlib.h>
#include <string.h>

#include "pending.h"
#include "templates.h"

#define DEFAULT_MAX_BYTES (256u * 1024u)
#define DEFAULT_TIMEOUT_MS 60000u

/* A held set costs its bytes plus the set header it came with. */
#define SET_HEADER 4u

struct pend_set {
    struct pend_set *next;
    struct fs_export_hdr m;
    uint16_t tpl_id;
    size_t len;
    uint8_t data[];
};

struct fs_pending {
    struct pend_set *head, **tail;
    size_t bytes;
};

/* pending_sets is the number waiting now, so it also goes down: the counters
 * are unsigned and wrap, so adding -n takes n away. */
static void count_waiting(struct fs_decode_ctx *c, uint64_t add, uint64_t remove)
{
    if (add != remove)
        FS_COUNT(c, pending_sets, add - remove);
}

static void unlink_set(struct fs_pending *p, struct pend_set **link)
{
    struct pend_set *s = *link;

    *link = s->next;
    if (p->tail == &s->next)
        p->tail = link;
    p->bytes -= s->len + SET_HEADER;
}

void fs_pending_free(struct fs_pending *p)
{
    if (p == NULL)
        return;
    while (p->head) {
        struct pend_set *s = p->head;
        p->head = s->next;
        free(s);
    }
    free(p);
}

uint64_t fs_pending_expire(struct fs_pending *p, uint64_t now_ms, uint32_t timeout_ms)
{
    uint64_t n = 0;

    if (p == NULL)
        return 0;
    if (timeout_ms == 0)
        timeout_ms = DEFAULT_TIMEOUT_MS;
    for (struct pend_set **l = &p->head; *l;) {
        struct pend_set *s = *l;
        if (now_ms > s->m.now_ms && now_ms - s->m.now_ms > timeout_ms) {
            unlink_set(p, l);
            free(s);
            n++;
        } else {
            l = &s->next;
        }
    }
    return n;
}

int fs_pending_hold(struct fs_decode_ctx *c, const struct fs_export_hdr *m, uint16_t tpl_id,
                    const uint8_t *p, size_t len)
{
    const struct fs_decoder_config *cfg = fs_decoder_config(c->d);
    size_t max = cfg->pending_max_bytes ? cfg->pending_max_bytes : DEFAULT_MAX_BYTES;
    struct fs_pending *q = c->exp->pending;
    struct pend_set *s;
    uint64_t expired;

    if (q == NULL) {
        q = c->exp->pending = calloc(1, sizeof(*q));
        if (q == NULL)
            return -1;
        q->tail = &q->head;
    }
    expired = fs_pending_expire(q, m->now_ms, cfg->pending_timeout_ms);
    if (expired) {
        FS_COUNT(c, pending_expired, expired);
        count_waiting(c, 0, expired);
    }
    if (q->bytes + len + SET_HEADER > max)
        return fs_ctx_error(c, FS_ERR_PENDING_DROPPED,
                            "v%u domain %u: no room to hold a %zu-byte set for template %u "
                            "(%zu bytes already wait)", m->version, m->domain, len + SET_HEADER,
                            tpl_id, q->bytes);
    s = malloc(sizeof(*s) + len);
    if (s == NULL)
        return -1;
    s->next = NULL;
    s->m = *m;
    s->tpl_id = tpl_id;
    s->len = len;
    memcpy(s->data, p, len);
    *q->tail = s;
    q->tail = &s->next;
    q->bytes += len + SET_HEADER;
    count_waiting(c, 1, 0);
    return 0;
}

/* Decodes the waiting sets of one kind whose template is known, in order. */
static int release_kind(struct fs_decode_ctx *c, struct fs_pending *q, bool options)
{
    int rc = 0;

    for (struct pend_set **l = &q->head; *l;) {
        struct pend_set *s = *l;
        const struct fs_tpl *t = fs_tpl_find(c->exp->templates, s->m.domain, s->m.version,
                                             s->tpl_id);
        int n;

        if (t == NULL || t->def.options != options) {
            l = &s->next;
            continue;
        }
        unlink_set(q, l);
        count_waiting(c, 0, 1);
        /* Flows are checked against the time the set was received. */
        c->now_ms = s->m.now_ms;
        n = fs_rec_decode_set(c, &s->m, t, s->data, s->len);
        if (n < 0)
            rc = -1;
        else
            FS_COUNT(c, pending_decoded, (uint64_t)n);
        free(s);
    }
    return rc;
}

static int release(struct fs_decode_ctx *c, bool options_only)
{
    struct fs_pending *q = c->exp->pending;
    uint64_t now_ms = c->now_ms;
    int rc;

    if (q == NULL || q->head == NULL)
        return 0;
    /* Options first: sampling rates and systemInitTime apply to the flows. */
    rc = release_kind(c, q, true);
    if (!options_only && release_kind(c, q, false) < 0)
        rc = -1;
    c->now_ms = now_ms;
    return rc;
}

int fs_pending_release_options(struct fs_decode_ctx *c)
{
    return release(c, true);
}

int fs_pending_release(struct fs_decode_ctx *c)
{
    return release(c, false);
}
