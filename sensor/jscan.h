/*
 * jscan.h - a pull cursor over one JSON text: the Zeek and Suricata readers
 * walk a log line with it, keep the members they know and skip the rest.
 *
 * Nothing is allocated and nothing is copied: values point into the line.
 * Every token is checked against RFC 8259's grammar as it is read, so a
 * line cut short or damaged is told apart from a well-formed one, and the
 * nesting depth is bounded (FS_JS_MAX_DEPTH) so that no input can exhaust
 * the stack.
 *
 *   struct fs_js j;
 *   struct fs_js_val key, v;
 *   fs_js_init(&j, line, len);
 *   if (fs_js_object(&j) != 1) fail;
 *   while (fs_js_member(&j, &key) == 1) {
 *       if (fs_js_eq(&key, "flow")) ... fs_js_value(&j, &v) ... nested members
 *       else fs_js_skip(&j);
 *   }
 *   if (j.err || !fs_js_end(&j)) fail with j.err;
 */
#ifndef FS_JSCAN_H
#define FS_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FS_JS_MAX_DEPTH 32

enum fs_js_type {
    FS_JS_NONE = 0, /* error: see fs_js.err */
    FS_JS_STRING,
    FS_JS_NUMBER,
    FS_JS_TRUE,
    FS_JS_FALSE,
    FS_JS_NULL,
    FS_JS_OBJECT, /* opened: walk it with fs_js_member() or fs_js_close() it */
    FS_JS_ARRAY   /* opened: walk it with fs_js_element() or fs_js_close() it */
};

/* A value or key. For a string, `s`/`n` are the raw bytes between the
 * quotes (escapes still in) and `escaped` says whether there are any; for a
 * number, its text. */
struct fs_js_val {
    enum fs_js_type type;
    const char *s;
    size_t n;
    bool escaped;
};

struct fs_js {
    const char *start, *p, *end;
    const char *err;    /* first error (static text), NULL while all is well */
    unsigned depth;     /* containers open */
    bool first;         /* no member or element read yet in the innermost one */
    uint32_t arrays;    /* bit d set: the container at depth d+1 is an array */
};

void fs_js_init(struct fs_js *j, const char *text, size_t len);

/* Opens the top-level object. Returns 1, or -1 (j->err set). */
int fs_js_object(struct fs_js *j);

/* Next member of the innermost open object: 1 with its key (the ':' is
 * consumed, the value comes next), 0 at the closing brace (consumed), -1 on
 * error. */
int fs_js_member(struct fs_js *j, struct fs_js_val *key);

/* Next element of the innermost open array: 1 when one follows (read it
 * next), 0 at the closing bracket (consumed), -1 on error. */
int fs_js_element(struct fs_js *j);

/* Reads the next value. Scalars are consumed whole; an object or array is
 * only opened. Returns its type, FS_JS_NONE on error. */
enum fs_js_type fs_js_value(struct fs_js *j, struct fs_js_val *v);

/* Skips the next value, containers included. Returns 0, or -1 on error. */
int fs_js_skip(struct fs_js *j);

/* Skips what is left of the innermost open container, closing it.
 * Returns 0, or -1 on error. */
int fs_js_close(struct fs_js *j);

/* True when nothing but white space follows and no error occurred. */
bool fs_js_end(struct fs_js *j);

/* Byte offset of the cursor, for messages. */
size_t fs_js_offset(const struct fs_js *j);

/* A string value or key equals `lit` (escapes decoded); the second form
 * takes lit's length, for tables that know it. */
bool fs_js_eq(const struct fs_js_val *v, const char *lit);
bool fs_js_eqn(const struct fs_js_val *v, const char *lit, size_t n);

/* Copies a string value, escapes decoded (\uXXXX as UTF-8), NUL-terminated.
 * Returns its length, or -1 when it does not fit in `cap` bytes, holds a
 * NUL or a lone surrogate, or `v` is no string. */
int fs_js_str(const struct fs_js_val *v, char *out, size_t cap);

/* A number value that is a non-negative integer no larger than `max`, with
 * no fraction or exponent. Returns 0, or -1. */
int fs_js_uint(const struct fs_js_val *v, uint64_t max, uint64_t *out);

#endif
