/*
 * opts.c - the command line, config file, usage and writer behind opts.h.
 *
 * Everything walks the caller's table; values land at `off` in the caller's
 * struct, so a program adds an option by adding a row.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "msg.h"
#include "opts.h"
#include "version.h"

void fs_opts_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int fs_strv_add(struct fs_strv *sv, const char *s)
{
    char **nv = realloc(sv->v, (sv->n + 1) * sizeof(*nv));

    if (nv == NULL)
        return -1;
    sv->v = nv;
    if ((nv[sv->n] = strdup(s)) == NULL)
        return -1;
    sv->n++;
    return 0;
}

void fs_strv_free(struct fs_strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

struct unit {
    char c;
    uint64_t mult;
};

static const struct unit byte_units[] = {
    { 'k', UINT64_C(1) << 10 }, { 'm', UINT64_C(1) << 20 },
    { 'g', UINT64_C(1) << 30 }, { 't', UINT64_C(1) << 40 }, { 0, 0 }
};

static const struct unit time_units[] = {
    { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 }, { 0, 0 }
};

/* A non-negative decimal number, optionally followed by one unit letter
 * (case-insensitive) of `units`. */
static int parse_scaled(const char *v, const struct unit *units, uint64_t *out, char *err,
                        size_t errlen)
{
    unsigned long long n;
    uint64_t mult = 1;
    char *end;

    if (v[0] < '0' || v[0] > '9')
        goto nan;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno == ERANGE)
        goto large;
    if (units != NULL && *end != '\0' && end[1] == '\0') {
        for (const struct unit *u = units; u->c != 0; u++) {
            if ((*end | 0x20) == u->c) {
                mult = u->mult;
                end++;
                break;
            }
        }
    }
    if (*end != '\0')
        goto nan;
    if (n > UINT64_MAX / mult)
        goto large;
    *out = n * mult;
    return 0;
nan:
    fs_opts_fail(err, errlen, "'%s' is not a number", v);
    return -1;
large:
    fs_opts_fail(err, errlen, "'%s' is too large", v);
    return -1;
}

int fs_opts_parse_u64(const char *v, uint64_t *out, char *err, size_t errlen)
{
    return parse_scaled(v, NULL, out, err, errlen);
}

int fs_opts_parse_bytes(const char *v, uint64_t *out, char *err, size_t errlen)
{
    return parse_scaled(v, byte_units, out, err, errlen);
}

int fs_opts_parse_seconds(const char *v, uint64_t *out, char *err, size_t errlen)
{
    return parse_scaled(v, time_units, out, err, errlen);
}

int fs_opts_parse_double(const char *v, double *out, char *err, size_t errlen)
{
    const char *p = v[0] == '-' || v[0] == '+' ? v + 1 : v;
    char *end;
    double d;

    /* strtod would also take "nan", "inf", hex and leading blanks. */
    if (!((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9')) ||
        strpbrk(p, "xX") != NULL)
        goto nan;
    errno = 0;
    d = strtod(v, &end);
    if (*end != '\0')
        goto nan;
    if (errno == ERANGE && fabs(d) > 1.0) {
        fs_opts_fail(err, errlen, "'%s' is too large", v);
        return -1;
    }
    *out = d;
    return 0;
nan:
    fs_opts_fail(err, errlen, "'%s' is not a number", v);
    return -1;
}

int fs_opts_parse_bool(const char *v, bool *out, char *err, size_t errlen)
{
    static const char *const yes[] = { "yes", "true", "on", "1" };
    static const char *const no[] = { "no", "false", "off", "0" };

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    fs_opts_fail(err, errlen, "'%s' is not yes or no", v);
    return -1;
}

const struct fs_opt *fs_opts_find(const struct fs_opts *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->opts[i].name, name) == 0)
            return &t->opts[i];
    return NULL;
}

static bool is_flag(const struct fs_opt *o)
{
    return o->arg == NULL;
}

static int check_bounds(const struct fs_opt *o, const char *v, uint64_t n, char *err,
                        size_t errlen)
{
    uint64_t max = o->max;

    if ((o->kind == FS_OPT_U32 || o->kind == FS_OPT_SECONDS) && max > UINT32_MAX)
        max = UINT32_MAX;
    if (n < o->min) {
        fs_opts_fail(err, errlen, "'%s' is too small (at least %llu)", v,
                     (unsigned long long)o->min);
        return -1;
    }
    if (n > max) {
        fs_opts_fail(err, errlen, "'%s' is too large (at most %llu)", v,
                     (unsigned long long)max);
        return -1;
    }
    return 0;
}

/* Parses and stores one value; the reason for a failure goes in `err`
 * without the option's name (callers add it). */
static int apply(const struct fs_opt *o, void *conf, const char *v, char *err, size_t errlen)
{
    char *field = (char *)conf + o->off;
    uint64_t n;
    double d;

    if (v[0] == '\0') {
        fs_opts_fail(err, errlen, "missing value");
        return -1;
    }
    if (o->kind == FS_OPT_CUSTOM)
        return o->set(conf, v, err, errlen);
    if (o->set != NULL && o->set(conf, v, err, errlen) < 0)
        return -1;
    switch (o->kind) {
    case FS_OPT_FLAG:
        return fs_opts_parse_bool(v, (bool *)field, err, errlen);
    case FS_OPT_LOG_FLAG: {
        bool b;

        if (fs_opts_parse_bool(v, &b, err, errlen) < 0)
            return -1;
        if (b)
            *(int *)field = (int)o->min;
        else if (*(int *)field == (int)o->min)
            *(int *)field = FS_LOG_INFO;
        return 0;
    }
    case FS_OPT_U32:
    case FS_OPT_U64:
    case FS_OPT_BYTES:
    case FS_OPT_SECONDS:
        if ((o->kind == FS_OPT_BYTES ? fs_opts_parse_bytes(v, &n, err, errlen)
             : o->kind == FS_OPT_SECONDS ? fs_opts_parse_seconds(v, &n, err, errlen)
             : fs_opts_parse_u64(v, &n, err, errlen)) < 0)
            return -1;
        if (check_bounds(o, v, n, err, errlen) < 0)
            return -1;
        if (o->kind == FS_OPT_U32 || o->kind == FS_OPT_SECONDS)
            *(uint32_t *)field = (uint32_t)n;
        else
            *(uint64_t *)field = n;
        return 0;
    case FS_OPT_UTC_OFFSET:
        if (fs_opts_parse_seconds(v + (v[0] == '-' || v[0] == '+'), &n, err, errlen) < 0)
            return -1;
        if (n > 14 * 3600) {
            fs_opts_fail(err, errlen, "'%s' is more than 14 hours from UTC", v);
            return -1;
        }
        *(int32_t *)field = v[0] == '-' ? -(int32_t)n : (int32_t)n;
        return 0;
    case FS_OPT_DOUBLE:
        if (fs_opts_parse_double(v, &d, err, errlen) < 0)
            return -1;
        if (d < o->dmin) {
            fs_opts_fail(err, errlen, "'%s' is too small (at least %g)", v, o->dmin);
            return -1;
        }
        if (d > o->dmax) {
            fs_opts_fail(err, errlen, "'%s' is too large (at most %g)", v, o->dmax);
            return -1;
        }
        *(double *)field = d;
        return 0;
    case FS_OPT_STR: {
        char *dup = strdup(v);

        if (dup == NULL)
            break;
        free(*(char **)field);
        *(char **)field = dup;
        return 0;
    }
    case FS_OPT_STRV:
        if (fs_strv_add((struct fs_strv *)field, v) < 0)
            break;
        return 0;
    case FS_OPT_CUSTOM:
        break;
    }
    fs_opts_fail(err, errlen, "out of memory");
    return -1;
}

int fs_opts_set(const struct fs_opts *t, void *conf, const char *key, const char *value,
                char *err, size_t errlen)
{
    const struct fs_opt *o = fs_opts_find(t, key);
    char why[256];

    if (o == NULL) {
        fs_opts_fail(err, errlen, "unknown option '%s'", key);
        return -1;
    }
    if (apply(o, conf, value, why, sizeof(why)) < 0) {
        fs_opts_fail(err, errlen, "%s: %s", key, why);
        return -1;
    }
    return 0;
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* Cuts a comment: '#' at the start or after blank space (paths may hold '#'). */
static void cut_comment(char *s)
{
    for (char *p = s; *p; p++) {
        if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            return;
        }
    }
}

int fs_opts_load_file(const struct fs_opts *t, void *conf, const char *path, char *err,
                      size_t errlen)
{
    char *line = NULL, why[320];
    size_t cap = 0;
    unsigned lineno = 0;
    ssize_t len;
    int ret = 0;
    FILE *fp = fopen(path, "r");

    if (fp == NULL) {
        fs_opts_fail(err, errlen, "config file %s: %s", path, strerror(errno));
        return -1;
    }
    while ((len = getline(&line, &cap, fp)) != -1) {
        char *key, *value, *eq;

        lineno++;
        if (memchr(line, '\0', (size_t)len) != NULL) {
            fs_opts_fail(err, errlen, "config line %u: a NUL byte (not a text file?)", lineno);
            ret = -1;
            break;
        }
        cut_comment(line);
        key = trim(line);
        if (*key == '\0')
            continue;
        eq = strchr(key, '=');
        if (eq == NULL) {
            fs_opts_fail(err, errlen, "config line %u: expected 'key = value', got '%.200s'",
                         lineno, key);
            ret = -1;
            break;
        }
        *eq = '\0';
        value = trim(eq + 1);
        key = trim(key);
        if (fs_opts_set(t, conf, key, value, why, sizeof(why)) < 0) {
            fs_opts_fail(err, errlen, "config line %u: %s", lineno, why);
            ret = -1;
            break;
        }
    }
    if (ret == 0 && ferror(fp)) {
        fs_opts_fail(err, errlen, "config file %s: line %u: %s", path, lineno + 1,
                     strerror(errno));
        ret = -1;
    }
    free(line);
    fclose(fp);
    return ret;
}

static bool is_config_arg(const char *a)
{
    return strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0;
}

/* True for an argument that is an option name rather than a value. */
static bool is_option(const char *a)
{
    return strncmp(a, "--", 2) == 0 || is_config_arg(a) || strcmp(a, "-h") == 0;
}

/* First pass: help, version and the config file. */
static enum fs_opts_result find_config(int argc, char *const argv[], const char **file,
                                       char *err, size_t errlen)
{
    *file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            return FS_OPTS_HELP;
        if (strcmp(a, "--version") == 0)
            return FS_OPTS_VERSION;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!is_config_arg(a) && strncmp(a, "--config=", 9) != 0)
            continue;
        if (*file != NULL) {
            fs_opts_fail(err, errlen, "option %s: only one config file", a);
            return FS_OPTS_ERROR;
        }
        if (a[1] == '-' && a[8] == '=') {
            *file = a + 9;
        } else if (i + 1 < argc) {
            *file = argv[++i];
        } else {
            fs_opts_fail(err, errlen, "option %s needs a file name", a);
            return FS_OPTS_ERROR;
        }
        if (**file == '\0') {
            fs_opts_fail(err, errlen, "option %s needs a file name", a);
            return FS_OPTS_ERROR;
        }
    }
    return FS_OPTS_OK;
}

enum fs_opts_result fs_opts_parse_args(const struct fs_opts *t, void *conf, int argc,
                                       char *const argv[], const char **config_file,
                                       char *err, size_t errlen)
{
    enum fs_opts_result r;
    const char *file;

    if (config_file != NULL)
        *config_file = NULL;
    if ((r = find_config(argc, argv, &file, err, errlen)) != FS_OPTS_OK)
        return r;
    if (file != NULL) {
        if (config_file != NULL)
            *config_file = file;
        if (fs_opts_load_file(t, conf, file, err, errlen) < 0)
            return FS_OPTS_ERROR;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq;
        const struct fs_opt *o = NULL;
        char name[64], why[320];
        size_t nlen;
        int nvalues = 0;

        if (is_config_arg(a)) {
            i++;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0)
            continue;
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            fs_opts_fail(err, errlen, "unexpected argument '%s' (options are --key value)", a);
            return FS_OPTS_ERROR;
        }
        eq = strchr(a, '=');
        nlen = eq != NULL ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nlen < sizeof(name)) {
            memcpy(name, a + 2, nlen);
            name[nlen] = '\0';
            o = fs_opts_find(t, name);
        }
        if (o == NULL) {
            fs_opts_fail(err, errlen, "unknown option '%.*s'", (int)(nlen > 64 ? 66 : nlen + 2),
                         a);
            return FS_OPTS_ERROR;
        }
        if (eq != NULL) {
            if (apply(o, conf, eq + 1, why, sizeof(why)) < 0)
                goto bad;
            continue;
        }
        if (is_flag(o)) {
            if (apply(o, conf, "yes", why, sizeof(why)) < 0)
                goto bad;
            continue;
        }
        /* --key value, or --key v1 v2 ... for a repeatable option. */
        while (i + 1 < argc && !is_option(argv[i + 1]) && (nvalues == 0 || o->repeat)) {
            if (apply(o, conf, argv[++i], why, sizeof(why)) < 0)
                goto bad;
            nvalues++;
        }
        if (nvalues == 0) {
            fs_opts_fail(err, errlen, "option --%s needs a value (%s)", o->name, o->arg);
            return FS_OPTS_ERROR;
        }
        continue;
bad:
        fs_opts_fail(err, errlen, "option --%s: %s", o->name, why);
        return FS_OPTS_ERROR;
    }
    return FS_OPTS_OK;
}

void fs_opts_write(const struct fs_opts *t, const void *conf, FILE *fp)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct fs_opt *o = &t->opts[i];
        const char *field = (const char *)conf + o->off;

        if (o->write != NULL) {
            o->write(conf, o, fp);
            continue;
        }
        switch (o->kind) {
        case FS_OPT_FLAG:
            fprintf(fp, "%s = %s\n", o->name, *(const bool *)field ? "yes" : "no");
            break;
        case FS_OPT_LOG_FLAG:
            fprintf(fp, "%s = %s\n", o->name, *(const int *)field == (int)o->min ? "yes" : "no");
            break;
        case FS_OPT_U32:
        case FS_OPT_SECONDS:
            /* A zero outside the bounds means "not set". */
            if (*(const uint32_t *)field >= o->min)
                fprintf(fp, "%s = %u\n", o->name, *(const uint32_t *)field);
            break;
        case FS_OPT_U64:
        case FS_OPT_BYTES:
            fprintf(fp, "%s = %llu\n", o->name, (unsigned long long)*(const uint64_t *)field);
            break;
        case FS_OPT_UTC_OFFSET:
            fprintf(fp, "%s = %d\n", o->name, (int)*(const int32_t *)field);
            break;
        case FS_OPT_DOUBLE:
            fprintf(fp, "%s = %.17g\n", o->name, *(const double *)field);
            break;
        case FS_OPT_STR:
            if (*(char *const *)field != NULL)
                fprintf(fp, "%s = %s\n", o->name, *(char *const *)field);
            break;
        case FS_OPT_STRV: {
            const struct fs_strv *sv = (const struct fs_strv *)field;

            for (size_t j = 0; j < sv->n; j++)
                fprintf(fp, "%s = %s\n", o->name, sv->v[j]);
            break;
        }
        case FS_OPT_CUSTOM:
            break;
        }
    }
}

/* Writes help text after the option column, folded at word boundaries. */
static void print_wrapped(FILE *fp, const char *text)
{
    const int indent = 33, width = 79;
    int col = indent - 1;

    while (*text != '\0') {
        int len = (int)strcspn(text, " ");

        if (col + 1 + len > width && col > indent - 1) {
            fprintf(fp, "\n%*s", indent - 1, "");
            col = indent - 1;
        }
        fprintf(fp, " %.*s", len, text);
        col += 1 + len;
        text += len;
        while (*text == ' ')
            text++;
    }
    fputc('\n', fp);
}

void fs_opts_usage(const struct fs_opts *t, FILE *fp, const char *program)
{
    fprintf(fp, "usage: %s [-c FILE] [--key value | --key=value ...]\n", program);
    if (t->about != NULL)
        fprintf(fp, "%s", t->about);
    fprintf(fp, "Every option can also be a line 'key = value' in the -c FILE; the command\n"
                "line wins over the file for single values and adds to repeatable ones.\n\n");
    for (size_t i = 0; i < t->n; i++) {
        const struct fs_opt *o = &t->opts[i];
        char left[64];

        snprintf(left, sizeof(left), "--%s%s%s%s", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "", o->arg && o->repeat ? "..." : "");
        fprintf(fp, "  %-30s", left);
        print_wrapped(fp, o->help != NULL ? o->help : "");
    }
    fprintf(fp, "  %-30s %s\n  %-30s %s\n  %-30s %s\n", "-c, --config FILE",
            "read options from FILE first", "-h, --help", "show this text", "--version",
            "show the version");
}

int fs_opts_main(enum fs_opts_result r, const struct fs_opts *t, const char *program,
                 const char *err, bool see_help)
{
    switch (r) {
    case FS_OPTS_OK:
        return -1;
    case FS_OPTS_HELP:
        fs_opts_usage(t, stdout, program);
        return 0;
    case FS_OPTS_VERSION:
        printf("%s %s\n", program, FS_VERSION);
        return 0;
    case FS_OPTS_ERROR:
        break;
    }
    fprintf(stderr, "%s: %s%s\n", program, err, see_help ? " (see --help)" : "");
    return FS_OPTS_EXIT_CONFIG;
}

void fs_opts_free(const struct fs_opts *t, void *conf)
{
    for (size_t i = 0; i < t->n; i++) {
        char *field = (char *)conf + t->opts[i].off;

        if (t->opts[i].kind == FS_OPT_STR) {
            free(*(char **)field);
            *(char **)field = NULL;
        } else if (t->opts[i].kind == FS_OPT_STRV) {
            fs_strv_free((struct fs_strv *)field);
        }
    }
}

int fs_opts_check_sender(void *conf, const char *v, char *err, size_t errlen)
{
    (void)conf;
    if (strlen(v) >= FS_MSG_SENDER_MAX) {
        fs_opts_fail(err, errlen, "'%s' is longer than %d characters", v, FS_MSG_SENDER_MAX - 1);
        return -1;
    }
    for (const char *p = v; *p; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            fs_opts_fail(err, errlen, "'%s' has spaces or control characters", v);
            return -1;
        }
    }
    return 0;
}

int fs_opts_check_endpoint(void *conf, const char *v, char *err, size_t errlen)
{
    static const char *const schemes[] = { "ipc://", "tcp://", "inproc://" };
    const char *e = v[0] == '@' || v[0] == '>' ? v + 1 : v;

    (void)conf;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i]);

        if (strncmp(e, schemes[i], n) == 0 && e[n] != '\0')
            return 0;
    }
    fs_opts_fail(err, errlen, "'%s' is not a ZeroMQ endpoint (ipc://PATH, tcp://HOST:PORT)", v);
    return -1;
}
