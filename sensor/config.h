/*
 * config.h - flowsentry-sensor settings: the command line and a config file
 * (-c FILE, `key = value` lines), through the option table of config.c and
 * ipc/opts.h, which also give the usage text and the written config.
 *
 * Nothing here prints or exits; errors come back as one line in `err`.
 */
#ifndef FS_SENSOR_CONFIG_H
#define FS_SENSOR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "opts.h"

struct fs_sensor_config {
    /* Packets. */
    char *interface;            /* live capture device */
    struct fs_strv read;        /* capture files: offline mode when any */
    char *filter;               /* BPF expression */
    uint32_t snaplen;
    bool promisc;
    uint64_t buffer_size;       /* kernel capture buffer, bytes */
    bool immediate;
    uint32_t capture_timeout;   /* ms */
    uint32_t in_if;             /* input interface of the flows (0: the device's) */

    /* Flow metering. */
    uint32_t inactive_timeout;  /* seconds */
    uint32_t active_timeout;    /* seconds */
    uint32_t tcp_end_timeout;   /* seconds after FIN/RST; 0: at once */
    uint64_t max_flows;
    uint64_t max_fragments;
    uint32_t fragment_timeout;  /* seconds */
    char *exporter;             /* address the flows are attributed to */
    fs_ip exporter_ip;          /* ... parsed (af 0: the default) */
    uint32_t domain;            /* observation domain */

    /* Flows other tools log (followed like tail -F, or read once offline). */
    struct fs_strv zeek_conn;   /* Zeek conn.log files */
    struct fs_strv eve;         /* Suricata eve.json files */
    uint32_t zeek_domain;       /* observation domain of their flows */
    uint32_t eve_domain;
    bool logs_from_end;         /* skip what the logs hold at start */

    /* Outputs. */
    bool json;                  /* flows as JSON lines on stdout */
    char *publish;              /* flows bus endpoint; NULL: the default */
    bool no_publish;
    char *sender;               /* NULL: sensor@<hostname> */
    uint32_t batch_size;        /* flows per bus message */
    struct fs_strv export;      /* ipfix:// v9:// v5:// destinations */
    uint32_t export_size;       /* bytes per export datagram */
    uint32_t template_timeout;  /* seconds between template refreshes */
    uint32_t stats_interval;    /* seconds; 0: never */

    /* Process. */
    char *user;
    char *run_dir;
    int log_level;              /* enum fs_log_level */
    const char *config_file;    /* the -c argument (points into argv) */
};

/* Sets every default. Returns 0, or -1 when out of memory. */
int fs_sensor_config_init(struct fs_sensor_config *c);
void fs_sensor_config_free(struct fs_sensor_config *c);

/* The option table: fs_opts_usage() and fs_opts_write() take it. */
extern const struct fs_opts fs_sensor_config_opts;

/* Reads -c FILE (wherever it appears), then every other argument, then
 * fs_sensor_config_finish(). */
enum fs_opts_result fs_sensor_config_parse_args(struct fs_sensor_config *c, int argc,
                                                char *const argv[], char *err, size_t errlen);

/* Sets one option by name, as a file line or --key=value would. */
int fs_sensor_config_set(struct fs_sensor_config *c, const char *key, const char *value,
                         char *err, size_t errlen);

/* Checks the options against each other (at most one packet source, at
 * least one source of flows, the log sources' domains apart from the
 * meter's, ...). fs_sensor_config_parse_args() calls it. */
int fs_sensor_config_finish(struct fs_sensor_config *c, char *err, size_t errlen);

/* Log files followed at most (fs_sensor_config_finish() checks). */
#define FS_SENSOR_MAX_LOGS 16

/* True when capture files are read instead of an interface: the log files
 * are then read once to their end rather than followed. */
static inline bool fs_sensor_config_offline(const struct fs_sensor_config *c)
{
    return c->read.n > 0;
}

/* True when packets are metered (an interface or capture files), false when
 * the sensor only reads logs. */
static inline bool fs_sensor_config_packets(const struct fs_sensor_config *c)
{
    return c->interface != NULL || c->read.n > 0;
}

/* The flows bus endpoint in effect: the given one, or ipc://<run-dir>/sensor
 * when live; NULL when not publishing (offline without --publish). */
const char *fs_sensor_config_publish(const struct fs_sensor_config *c, char *buf, size_t len);

/* Name of option `i` of the table; NULL past the end (docs test). */
const char *fs_sensor_config_option_name(size_t i);

#endif
