/*
 * linerun.c - line-by-line feeding of log sources for the tests (see
 * linerun.h).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "linerun.h"

void lr_feed(struct linerun *r, lr_line_fn fn, void *src, const char *text)
{
    const char *p = text;

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char err[200] = "";
        struct fs_flow f;
        int rc = fn(src, p, len, &f, err, sizeof(err));

        if (rc == 1) {
            cr_assert_lt(r->n, LR_MAX);
            r->flows[r->n++] = f;
        } else if (rc == 0) {
            r->skipped++;
        } else {
            cr_assert_eq(rc, -1);
            cr_assert_neq(err[0], '\0', "malformed line without a message");
            cr_assert_lt(r->malformed, LR_MAX);
            strcpy(r->err[r->malformed++], err);
        }
        p = nl ? nl + 1 : p + len;
    }
}

void lr_expect_json(const struct fs_flow *f, const char *want)
{
    char got[FS_FLOW_JSON_MAX];

    cr_assert_gt(fs_flow_json(f, got, sizeof(got)), 0);
    cr_expect_str_eq(got, want);
}
