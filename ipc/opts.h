/*
 * opts.h - table-driven options for every flowsentry program.
 *
 * A program describes its settings as one table of struct fs_opt rows (name,
 * kind, offset of the field in the program's own config struct, bounds, help)
 * and gets from it, all consistent with each other:
 *
 *   - the command line:  --key value, --key=value, --flag, -c FILE, -h, --version;
 *   - config files:      `key = value` lines, '#' comments, line-numbered errors;
 *   - fs_opts_write():   the settings as a config file that loads back the same;
 *   - fs_opts_usage():   the help text.
 *
 * The file given with -c is read first, then the rest of the command line:
 * single-valued options on the command line replace the file's, repeatable
 * ones add to it. A repeatable option takes every following argument up to the
 * next one starting with "--" (`--read a.csv b.csv`).
 *
 *   struct conf { bool json; uint32_t window; char *alerts; struct fs_strv read; };
 *   static const struct fs_opt rows[] = {
 *       { "json", FS_OPT_FLAG, offsetof(struct conf, json), .help = "..." },
 *       { "window", FS_OPT_SECONDS, offsetof(struct conf, window), 60, 86400,
 *         .arg = "SECONDS", .help = "window length (s, m, h, d, w suffixes)" },
 *       { "read", FS_OPT_STRV, offsetof(struct conf, read), .repeat = true,
 *         .arg = "FILE", .help = "..." },
 *   };
 *   static const struct fs_opts table = { rows, 3, "Finds anomalies in flows." };
 *
 * Nothing here prints (but fs_opts_usage / fs_opts_write to the FILE given,
 * and fs_opts_main for main) or exits: errors come back as one line in `err`,
 * e.g. "config line 12: window: 'abc' is not a number", for main to show.
 */
#ifndef FS_OPTS_H
#define FS_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

enum fs_opt_kind {
    FS_OPT_FLAG,    /* bool: "--json" alone, "--json=no", "json = yes" */
    FS_OPT_U32,     /* uint32_t within [min, max] */
    FS_OPT_U64,     /* uint64_t within [min, max] */
    FS_OPT_BYTES,   /* uint64_t, optional k/M/G/T suffix (powers of 1024) */
    FS_OPT_SECONDS, /* uint32_t seconds, optional s/m/h/d/w suffix */
    FS_OPT_DOUBLE,  /* double within [dmin, dmax] */
    FS_OPT_STR,     /* char *, replaced; freed by fs_opts_free() */
    FS_OPT_STRV,    /* struct fs_strv, each value appended; freed by fs_opts_free() */
    FS_OPT_UTC_OFFSET, /* int32_t seconds east of UTC, at most 14 hours either way,
                        * with the SECONDS suffixes and a sign: "1h", "-5h", "+330m" */
    FS_OPT_LOG_FLAG,/* int log level as a flag (--quiet, --verbose): yes sets it to
                     * `min`; no puts FS_LOG_INFO back only when it is `min`, so
                     * --quiet=no after --verbose stays verbose */
    FS_OPT_CUSTOM   /* set() stores, write() writes */
};

/* A growing list of strings (FS_OPT_STRV fields). */
struct fs_strv {
    char **v;
    size_t n;
};

/* Appends a copy of `s`. Returns 0, or -1 when out of memory. */
int fs_strv_add(struct fs_strv *sv, const char *s);
void fs_strv_free(struct fs_strv *sv);

struct fs_opt {
    const char *name;          /* "rcvbuf": --rcvbuf on the command line */
    enum fs_opt_kind kind;
    size_t off;                /* offsetof() the field in the caller's struct */
    uint64_t min, max;         /* bounds of U32, U64, BYTES, SECONDS (both inclusive;
                                * U32 and SECONDS never above UINT32_MAX);
                                * LOG_FLAG: min is the level "yes" sets */
    /* FS_OPT_CUSTOM: parses and stores `value`. Other kinds: when not NULL,
     * checks the value first (a validator). `conf` is the caller's struct.
     * Returns 0, or -1 with the reason in `err` (without the option name). */
    int (*set)(void *conf, const char *value, char *err, size_t errlen);
    /* Writes the option's `name = value` lines; NULL: by kind (CUSTOM: none). */
    void (*write)(const void *conf, const struct fs_opt *o, FILE *fp);
    const char *arg;           /* value placeholder in usage; NULL: a flag */
    const char *help;
    bool repeat;               /* may be given several times, each adds */
    double dmin, dmax;         /* bounds of DOUBLE, inclusive: set both */
};

/* The --quiet and --verbose rows of every program, over its int log level
 * at offset `off`. */
#define FS_OPTS_LOG_ROWS(off)                                                          \
    { "quiet", FS_OPT_LOG_FLAG, (off), FS_LOG_WARNING,                                 \
      .help = "log warnings and errors only" },                                        \
    { "verbose", FS_OPT_LOG_FLAG, (off), FS_LOG_DEBUG, .help = "log debugging detail too" }

/* A program's option table. */
struct fs_opts {
    const struct fs_opt *opts;
    size_t n;
    const char *about;         /* usage lines after the "usage:" line */
};

enum fs_opts_result {
    FS_OPTS_ERROR = -1,
    FS_OPTS_OK = 0,
    FS_OPTS_HELP,              /* -h / --help: print usage, exit 0 */
    FS_OPTS_VERSION            /* --version */
};

/* The exit status of a program whose options are wrong. */
#define FS_OPTS_EXIT_CONFIG 2

/* The row named `name`; NULL when there is none. */
const struct fs_opt *fs_opts_find(const struct fs_opts *t, const char *name);

/* Sets one option exactly as a file line or --key=value would. Errors:
 * "unknown option 'x'", "key: 'v' is not a number", "key: missing value". */
int fs_opts_set(const struct fs_opts *t, void *conf, const char *key, const char *value,
                char *err, size_t errlen);

/* Reads `key = value` lines; '#' at a line start or after blank space starts
 * a comment (so paths may hold '#'). Stops at the first bad line:
 * "config line 4: rcvbuf: 'abc' is not a number". */
int fs_opts_load_file(const struct fs_opts *t, void *conf, const char *path,
                      char *err, size_t errlen);

/* Reads the -c/--config FILE (wherever it is) and then every other argument.
 * -h/--help and --version win over any error. `config_file`, when not NULL,
 * receives the -c argument (pointing into argv) or NULL. */
enum fs_opts_result fs_opts_parse_args(const struct fs_opts *t, void *conf, int argc,
                                       char *const argv[], const char **config_file,
                                       char *err, size_t errlen);

/* Writes every option as config file lines that load back the same. A U32 or
 * SECONDS value below its `min` (0 as "not set") is left out. */
void fs_opts_write(const struct fs_opts *t, const void *conf, FILE *fp);

/* "usage: PROGRAM [-c FILE] ...", `about`, then one folded line per option. */
void fs_opts_usage(const struct fs_opts *t, FILE *fp, const char *program);

/*
 * The start of every program's main(), given what its parse function
 * returned: FS_OPTS_HELP prints the usage of `t`, FS_OPTS_VERSION
 * "PROGRAM FS_VERSION", both on stdout; FS_OPTS_ERROR prints "PROGRAM: ERR" on
 * stderr, with " (see --help)" after it when `see_help` (the collector and
 * sensor go without: scripts match their messages as they are). Returns -1 on
 * FS_OPTS_OK (go on), else the status main() returns: 0 after help or
 * version, FS_OPTS_EXIT_CONFIG after an error.
 */
int fs_opts_main(enum fs_opts_result r, const struct fs_opts *t, const char *program,
                 const char *err, bool see_help);

/* Frees the STR and STRV fields of `conf` (CUSTOM ones are the caller's). */
void fs_opts_free(const struct fs_opts *t, void *conf);

/*
 * Value parsers for custom setters: the same rules and messages as the
 * kinds above. Each returns 0, or -1 with the reason in `err`
 * ("'x' is not a number", "'x' is too large", "'x' is not yes or no").
 */
int fs_opts_parse_u64(const char *v, uint64_t *out, char *err, size_t errlen);
int fs_opts_parse_bytes(const char *v, uint64_t *out, char *err, size_t errlen);
int fs_opts_parse_seconds(const char *v, uint64_t *out, char *err, size_t errlen);
int fs_opts_parse_double(const char *v, double *out, char *err, size_t errlen);
int fs_opts_parse_bool(const char *v, bool *out, char *err, size_t errlen);

/* A validator (the `set` of a STR or STRV row) the programs share: a ZeroMQ
 * endpoint (ipc://, tcp://, inproc://), optionally after '@' (bind) or '>'
 * (connect). */
int fs_opts_check_endpoint(void *conf, const char *v, char *err, size_t errlen);

/* Another shared validator: a sender id for bus envelopes (printable, no
 * spaces, shorter than FS_MSG_SENDER_MAX). */
int fs_opts_check_sender(void *conf, const char *v, char *err, size_t errlen);

/* snprintf into `err`: the one way setters report why a value is refused. */
void fs_opts_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
