/*
 * config.h - flowsentry-reporter settings: the command line, a config file
 * (-c FILE, `key = value` lines) and the output specs.
 *
 * An output is one string: a destination URL and then settings separated by
 * blanks (docs/reporter.md has the whole syntax):
 *
 *   tls://siem.example.net:6514 body=cef ca=/etc/ssl/siem-ca.pem
 *   udp://[2001:db8::5]:514 header=rfc3164 facility=local3
 *   unix:///dev/log
 *   file:///var/log/flowsentry/alerts.json
 *
 * The option table fs_rp_config_opts drives the command line, the file, the
 * usage text and the written config through ipc/opts.h; fs_rp_config_check()
 * parses the outputs and checks the options against each other, so every
 * mistake is reported as one line ("output 2: unknown transport 'tpc' ...")
 * before anything is opened.
 *
 * Nothing here prints or exits.
 */
#ifndef FS_RP_CONFIG_H
#define FS_RP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "opts.h"
#include "output.h"

/* Spool bounds per output. */
#define FS_RP_SPOOL_MIN (64u << 10)
#define FS_RP_SPOOL_DEFAULT (64u << 20)

/* One parsed --output. The strings in `out` point to the spec's own copies. */
struct fs_rp_output_spec {
    char *text;                 /* the spec as given, for log lines */
    struct fs_rp_out_opts out;  /* transport, address, TLS files */
    enum fs_rp_header header;
    enum fs_rp_body body;
    int facility;
    char *app;                  /* NULL: "flowsentry" */
    uint64_t spool_bytes;
    char spool[128];            /* spool directory name under the state dir, from the
                                   destination: "spool-tcp-127.0.0.1-6514" */
    char *mem[8];               /* owns the strings above */
};

struct fs_rp_config {
    /* Intake. */
    struct fs_strv subscribe;     /* events-bus endpoints */
    char *replay;                 /* the analyzer's replay endpoint (NULL: none) */
    char *state_dir;              /* state file and spools */

    /* Outputs. */
    struct fs_strv output;        /* specs as given; parsed into `outputs` by the check */
    uint32_t confirm;             /* seconds a TCP/TLS connection must stay up after a
                                     send before the record counts as delivered */
    uint32_t backoff_max;         /* seconds: ceiling of the reconnect backoff */
    uint32_t send_timeout;        /* seconds: connect, handshake and each send */
    char *hostname;               /* syslog HOSTNAME (NULL: gethostname) */
    char *sender;                 /* NULL: reporter@<hostname> */

    /* Storms. */
    uint32_t fold_window;         /* seconds, 0: no folding */
    uint32_t fold_max;            /* open fold windows at most */
    uint32_t rate_limit;          /* alerts per minute of event time, 0: none */

    /* Reports. */
    char *report_dir;             /* NULL: no reports */
    bool hourly, daily;
    uint32_t keep_hourly;         /* seconds, 0: keep all */
    uint32_t keep_daily;
    int32_t utc_offset;           /* seconds east of UTC where days begin */
    uint32_t report_anomalies;    /* listed per report at most */
    bool report_now;              /* write an on-demand report from the state file, exit */

    uint32_t stats_interval;      /* seconds between counter lines, 0: never */
    int log_level;                /* enum fs_log_level */

    /* Filled by fs_rp_config_check(). */
    struct fs_rp_output_spec *outputs;
    size_t noutputs;
};

/* Sets every default. */
void fs_rp_config_init(struct fs_rp_config *c);
void fs_rp_config_free(struct fs_rp_config *c);

/* The option table: fs_opts_usage() and fs_opts_write() take it. */
extern const struct fs_opts fs_rp_config_opts;

/* Reads -c FILE and the command line, then fs_rp_config_check(). */
enum fs_opts_result fs_rp_config_parse_args(struct fs_rp_config *c, int argc, char *const argv[],
                                            char *err, size_t errlen);

/* Sets one option by name, as a file line would ("output", "udp://127.0.0.1:514"). */
int fs_rp_config_set(struct fs_rp_config *c, const char *key, const char *value, char *err,
                     size_t errlen);

/* Parses the outputs and checks the options against each other. Programs
 * that fill the struct with fs_rp_config_set() (tests) call it themselves. */
int fs_rp_config_check(struct fs_rp_config *c, char *err, size_t errlen);

/* Parses one output spec; `index` (from 1) only names it in errors:
 * "output 2: header: 'x' is not rfc5424, rfc3164 or none". On failure
 * nothing needs freeing. */
int fs_rp_output_parse(const char *text, unsigned index, struct fs_rp_output_spec *o,
                       char *err, size_t errlen);
void fs_rp_output_free(struct fs_rp_output_spec *o);

#endif
