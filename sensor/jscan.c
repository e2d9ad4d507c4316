/*
 * jscan.c - pull cursor over one JSON text (see jscan.h).
 *
 * Log lines are parsed at the rate the tools write them, often tens of
 * thousands a second, so the cursor never builds a tree: the reader asks for
 * the next member, keeps the few it knows and skips the rest in place.
 * Skipping is iterative (an explicit stack of container kinds, one bit per
 * level), so the depth bound is the only limit and recursion is none.
 */
#include <string.h>

#include "jscan.h"

_Static_assert(FS_JS_MAX_DEPTH <= 32, "container kinds are kept in a uint32_t");

void fs_js_init(struct fs_js *j, const char *text, size_t len)
{
    j->start = j->p = text;
    j->end = text + len;
    j->err = NULL;
    j->depth = 0;
    j->first = false;
    j->arrays = 0;
}

static int fail(struct fs_js *j, const char *why)
{
    if (!j->err)
        j->err = j->p < j->end ? why : "line ends inside the JSON text";
    return -1;
}

static void ws(struct fs_js *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
        j->p++;
}

/* Consumes `c` after white space, or fails with `why`. */
static int expect(struct fs_js *j, char c, const char *why)
{
    ws(j);
    if (j->p >= j->end || *j->p != c)
        return fail(j, why);
    j->p++;
    return 0;
}

static int push(struct fs_js *j, bool array)
{
    if (j->depth >= FS_JS_MAX_DEPTH)
        return fail(j, "JSON nested too deep");
    if (array)
        j->arrays |= UINT32_C(1) << j->depth;
    else
        j->arrays &= ~(UINT32_C(1) << j->depth);
    j->depth++;
    j->first = true;
    return 0;
}

static void pop(struct fs_js *j)
{
    j->depth--;
    j->first = false; /* the parent has just had a value */
}

static bool in_array(const struct fs_js *j)
{
    return j->depth && ((j->arrays >> (j->depth - 1)) & 1);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A string, the cursor on its opening quote. */
static int scan_string(struct fs_js *j, struct fs_js_val *v)
{
    const char *p = ++j->p;

    v->type = FS_JS_STRING;
    v->escaped = false;
    while (p < j->end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            v->s = j->p;
            v->n = (size_t)(p - j->p);
            j->p = p + 1;
            return 0;
        }
        if (c < 0x20) {
            j->p = p;
            return fail(j, "control character inside a JSON string");
        }
        if (c == '\\') {
            v->escaped = true;
            if (++p >= j->end)
                break;
            if (*p == 'u') {
                if (j->end - p < 5 || hexval(p[1]) < 0 || hexval(p[2]) < 0 ||
                    hexval(p[3]) < 0 || hexval(p[4]) < 0) {
                    j->p = p;
                    return fail(j, "bad \\u escape in a JSON string");
                }
                p += 4;
            } else if (!strchr("\"\\/bfnrt", *p) || !*p) {
                j->p = p;
                return fail(j, "bad escape in a JSON string");
            }
        }
        p++;
    }
    j->p = j->end;
    return fail(j, "");
}

static const char *digits(const char *p, const char *end)
{
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p;
}

/* A number per RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(struct fs_js *j, struct fs_js_val *v)
{
    const char *p = j->p, *end = j->end, *q;

    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if ((q = digits(p, end)) > p)
        p = q;
    else
        goto bad;
    if (p < end && *p == '.') {
        if ((q = digits(p + 1, end)) == p + 1)
            goto bad;
        p = q;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if ((q = digits(p, end)) == p)
            goto bad;
        p = q;
    }
    v->type = FS_JS_NUMBER;
    v->s = j->p;
    v->n = (size_t)(p - j->p);
    v->escaped = false;
    j->p = p;
    return 0;
bad:
    j->p = p;
    return fail(j, "bad JSON number");
}

static int scan_literal(struct fs_js *j, const char *lit, enum fs_js_type type,
                        struct fs_js_val *v)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return fail(j, "unexpected character in JSON");
    v->type = type;
    v->s = j->p;
    v->n = n;
    v->escaped = false;
    j->p += n;
    return 0;
}

int fs_js_object(struct fs_js *j)
{
    if (expect(j, '{', "not a JSON object") != 0)
        return -1;
    return push(j, false) == 0 ? 1 : -1;
}

int fs_js_member(struct fs_js *j, struct fs_js_val *key)
{
    if (j->err)
        return -1;
    ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        pop(j);
        return 0;
    }
    if (!j->first && expect(j, ',', "expected ',' or '}' in a JSON object") != 0)
        return -1;
    ws(j);
    if (j->p >= j->end || *j->p != '"')
        return fail(j, "expected a member name in a JSON object");
    if (scan_string(j, key) != 0 || expect(j, ':', "expected ':' after a JSON member name") != 0)
        return -1;
    j->first = false;
    return 1;
}

int fs_js_element(struct fs_js *j)
{
    if (j->err)
        return -1;
    ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        pop(j);
        return 0;
    }
    if (!j->first && expect(j, ',', "expected ',' or ']' in a JSON array") != 0)
        return -1;
    j->first = false;
    return 1;
}

enum fs_js_type fs_js_value(struct fs_js *j, struct fs_js_val *v)
{
    int rc;

    v->type = FS_JS_NONE;
    if (j->err)
        return FS_JS_NONE;
    ws(j);
    if (j->p >= j->end) {
        fail(j, "");
        return FS_JS_NONE;
    }
    switch (*j->p) {
    case '"': rc = scan_string(j, v); break;
    case 't': rc = scan_literal(j, "true", FS_JS_TRUE, v); break;
    case 'f': rc = scan_literal(j, "false", FS_JS_FALSE, v); break;
    case 'n': rc = scan_literal(j, "null", FS_JS_NULL, v); break;
    case '{':
    case '[':
        v->type = *j->p == '{' ? FS_JS_OBJECT : FS_JS_ARRAY;
        v->s = j->p++;
        v->n = 1;
        v->escaped = false;
        rc = push(j, v->type == FS_JS_ARRAY);
        break;
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
            rc = scan_number(j, v);
        else
            rc = fail(j, "unexpected character in JSON");
    }
    if (rc != 0)
        v->type = FS_JS_NONE;
    return v->type;
}

int fs_js_close(struct fs_js *j)
{
    unsigned target;

    if (j->err || j->depth == 0)
        return fail(j, "no JSON container to close");
    target = j->depth - 1;
    while (j->depth > target) {
        struct fs_js_val v;
        int rc = in_array(j) ? fs_js_element(j) : fs_js_member(j, &v);
        if (rc < 0)
            return -1;
        if (rc > 0 && fs_js_value(j, &v) == FS_JS_NONE)
            return -1;
    }
    return 0;
}

int fs_js_skip(struct fs_js *j)
{
    struct fs_js_val v;

    switch (fs_js_value(j, &v)) {
    case FS_JS_NONE:
        return -1;
    case FS_JS_OBJECT:
    case FS_JS_ARRAY:
        return fs_js_close(j);
    default:
        return 0;
    }
}

bool fs_js_end(struct fs_js *j)
{
    if (j->err)
        return false;
    ws(j);
    if (j->p != j->end) {
        fail(j, "text after the end of the JSON object");
        return false;
    }
    return true;
}

size_t fs_js_offset(const struct fs_js *j)
{
    return (size_t)(j->p - j->start);
}

static unsigned hex4(const char *p)
{
    return (unsigned)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

int fs_js_str(const struct fs_js_val *v, char *out, size_t cap)
{
    const char *p, *end;
    size_t o = 0;

    if (v->type != FS_JS_STRING || cap == 0)
        return -1;
    p = v->s;
    end = v->s + v->n;
    if (!v->escaped) {
        if (v->n >= cap || memchr(p, 0, v->n))
            return -1;
        memcpy(out, p, v->n);
        out[v->n] = '\0';
        return (int)v->n;
    }
    /* The scan already checked every escape's shape. */
    while (p < end) {
        char enc[4];
        size_t k = 0;
        if (*p != '\\') {
            enc[k++] = *p++;
        } else if (p[1] != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            enc[k++] = to[strchr(from, p[1]) - from];
            p += 2;
        } else {
            unsigned cp = hex4(p + 2);
            p += 6;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return -1;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                unsigned lo;
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
                    return -1;
                lo = hex4(p + 2);
                if (lo < 0xdc00 || lo > 0xdfff)
                    return -1;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
            if (cp == 0)
                return -1;
            if (cp < 0x80) {
                enc[k++] = (char)cp;
            } else if (cp < 0x800) {
                enc[k++] = (char)(0xc0 | cp >> 6);
                enc[k++] = (char)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                enc[k++] = (char)(0xe0 | cp >> 12);
                enc[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                enc[k++] = (char)(0x80 | (cp & 0x3f));
            } else {
                enc[k++] = (char)(0xf0 | cp >> 18);
                enc[k++] = (char)(0x80 | ((cp >> 12) & 0x3f));
                enc[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                enc[k++] = (char)(0x80 | (cp & 0x3f));
            }
        }
        if (o + k >= cap || (k == 1 && enc[0] == '\0'))
            return -1;
        memcpy(out + o, enc, k);
        o += k;
    }
    out[o] = '\0';
    return (int)o;
}

bool fs_js_eqn(const struct fs_js_val *v, const char *lit, size_t n)
{
    char buf[64];

    if (v->type != FS_JS_STRING)
        return false;
    if (!v->escaped)
        return v->n == n && memcmp(v->s, lit, n) == 0;
    return fs_js_str(v, buf, sizeof(buf)) == (int)n && memcmp(buf, lit, n) == 0;
}

bool fs_js_eq(const struct fs_js_val *v, const char *lit)
{
    return fs_js_eqn(v, lit, strlen(lit));
}

int fs_js_uint(const struct fs_js_val *v, uint64_t max, uint64_t *out)
{
    uint64_t x = 0;

    if (v->type != FS_JS_NUMBER || v->n == 0)
        return -1;
    for (size_t i = 0; i < v->n; i++) {
        unsigned d = (unsigned)(v->s[i] - '0');
        if (d > 9 || d > max || x > (max - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}
