/*
 * config.h - flowsentry-collector settings, from the command line and a file.
 *
 * One option table drives both sources: `--rcvbuf 8M`, `--rcvbuf=8M` and a
 * line `rcvbuf = 8M` in the file given with -c go through the same parser,
 * so the two can never disagree, and the usage text and the written config
 * come from the same table, fs_config_opts. The file is read first, then the command line:
 * single-valued options on the command line replace the file's, repeatable
 * ones (listen, read, allow, sampling) add to them.
 *
 * Nothing here prints or exits: errors come back as one line in `err`
 * ("config line 12: rcvbuf: 'abc' is not a number") for main to show.
 */
#ifndef FS_CONFIG_H
#define FS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "allow.h"
#include "flow.h"
#include "opts.h"

enum fs_listen_proto { FS_LISTEN_UDP, FS_LISTEN_TCP };

/* One `listen` entry: a parsed address and the text it came from. */
struct fs_listen {
    enum fs_listen_proto proto;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char text[80];     /* "udp://[::]:2055" */
};

/* One `sampling` entry: EXPORTER=RATE, or EXPORTER=RATE! to override. */
struct fs_sampling_rule {
    fs_ip exporter;
    uint32_t rate;
    bool override;
};

#define FS_CONFIG_MAX_LISTEN 32

struct fs_config {
    struct fs_listen *listen;
    size_t nlisten;
    char **read;                /* capture files: offline mode when any */
    size_t nread;
    bool json;                  /* flows as JSON lines on stdout */
    char *publish;              /* flows bus endpoint; NULL: the default */
    bool no_publish;
    char *sender;               /* NULL: fs_msg_default_sender("collector") */
    struct fs_allow *allow;
    uint64_t rcvbuf;            /* bytes asked of the kernel per UDP socket */
    char *template_file;        /* NULL: <state-dir>/templates */
    uint32_t template_interval; /* seconds between saves when changed */
    uint32_t stats_interval;    /* seconds; 0: no periodic stats */
    uint32_t sampling_default;  /* 0: unknown */
    struct fs_sampling_rule *sampling;
    size_t nsampling;
    uint64_t max_exporters;
    uint64_t max_templates;
    uint64_t pending_bytes;
    uint32_t pending_timeout;   /* seconds */
    uint32_t clock_clamp;       /* seconds; 0: off */
    uint32_t batch_size;        /* flows per bus message */
    uint32_t tcp_max_conns;
    uint32_t tcp_idle_timeout;  /* seconds; 0: never */
    char *user;                 /* drop privileges to this user */
    char *run_dir;
    char *state_dir;
    int log_level;              /* enum fs_log_level */
    char *config_file;          /* the -c file, if any */
};

/* Sets every default. Returns 0, or -1 when out of memory. */
int fs_config_init(struct fs_config *c);
void fs_config_free(struct fs_config *c);

/* The option table: fs_opts_usage() and fs_opts_write() take it. */
extern const struct fs_opts fs_config_opts;

/* Reads -c FILE (wherever it appears), then every other argument, then
 * fs_config_finish(). */
enum fs_opts_result fs_config_parse_args(struct fs_config *c, int argc, char *const argv[],
                                         char *err, size_t errlen);

/* Reads `key = value` lines; '#' starts a comment. */
int fs_config_load_file(struct fs_config *c, const char *path, char *err, size_t errlen);

/* Sets one option by name, exactly as a file line or --key=value would. */
int fs_config_set(struct fs_config *c, const char *key, const char *value,
                  char *err, size_t errlen);

/* Checks options against each other and fills what depends on others
 * (default listeners when not reading files). fs_config_parse_args() calls
 * it. */
int fs_config_finish(struct fs_config *c, char *err, size_t errlen);

/* True when capture files are read instead of listening. */
static inline bool fs_config_offline(const struct fs_config *c) { return c->nread > 0; }

/* The flows bus endpoint in effect (default under run-dir); NULL when
 * not publishing. In offline mode only an explicit `publish` publishes. */
const char *fs_config_publish(const struct fs_config *c, char *buf, size_t len);

/* The template file in effect; NULL when templates are not kept (offline
 * mode without an explicit `template-file`, or `template-file = none`). */
const char *fs_config_template_file(const struct fs_config *c, char *buf, size_t len);

/* Name of option `i` of the table; NULL past the end (docs test). */
const char *fs_config_option_name(size_t i);

/* Parses "udp://192.0.2.1:2055", "tcp://[::1]:4739". Returns 0, or -1 with
 * a reason in `err`. */
int fs_listen_parse(const char *text, struct fs_listen *l, char *err, size_t errlen);

#endif
