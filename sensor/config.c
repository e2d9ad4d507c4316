/*
 * config.c - the sensor's option table (see config.h). Adding an option is
 * adding a row: the command line, the config file, the usage text and the
 * written config all come from the table.
 */
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "config.h"
#include "export.h"
#include "flowout.h"
#include "flowtable.h"
#include "log.h"
#include "msg.h"

#define DEFAULT_RUN_DIR "/tmp/flowsentry"
/* Log sources' domains: apart from the meter's default 0, and from each
 * other, so that one connection seen by several of them is told apart. */
#define FS_SENSOR_DEFAULT_ZEEK_DOMAIN 1
#define FS_SENSOR_DEFAULT_EVE_DOMAIN 2
#define DAY 86400u

static int check_exporter(void *conf, const char *v, char *err, size_t errlen)
{
    struct fs_sensor_config *c = conf;

    if (fs_ip_parse(v, &c->exporter_ip) < 0) {
        fs_opts_fail(err, errlen, "'%s' is not an IPv4 or IPv6 address", v);
        return -1;
    }
    return 0;
}

static int check_export(void *conf, const char *v, char *err, size_t errlen)
{
    static const char *const schemes[] = { "ipfix://", "v9://", "v5://" };

    (void)conf;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (strncmp(v, schemes[i], strlen(schemes[i])) == 0 && v[strlen(schemes[i])] != '\0')
            return 0;
    fs_opts_fail(err, errlen, "'%s' is not ipfix://, v9:// or v5://HOST[:PORT]", v);
    return -1;
}

#define OFF(f) offsetof(struct fs_sensor_config, f)

static const struct fs_opt options[] = {
    { "interface", FS_OPT_STR, OFF(interface), .arg = "IF",
      .help = "capture live from this interface ('any': all of them)" },
    { "read", FS_OPT_STRV, OFF(read), .arg = "FILE", .repeat = true,
      .help = "meter pcap/pcapng files instead, one after the other, at full speed "
      "(offline mode); repeatable" },
    { "filter", FS_OPT_STR, OFF(filter), .arg = "BPF",
      .help = "capture only packets matching this BPF expression (pcap-filter(7))" },
    { "snaplen", FS_OPT_U32, OFF(snaplen), 64, 262144, .arg = "BYTES",
      .help = "bytes captured per packet, enough for the headers; default 256" },
    { "promisc", FS_OPT_FLAG, OFF(promisc),
      .help = "put the interface in promiscuous mode" },
    { "buffer-size", FS_OPT_BYTES, OFF(buffer_size), 65536, 1u << 30, .arg = "BYTES",
      .help = "kernel capture buffer (k, M, G suffixes); default 16M" },
    { "immediate", FS_OPT_FLAG, OFF(immediate),
      .help = "hand packets over as they come rather than in blocks" },
    { "capture-timeout", FS_OPT_U32, OFF(capture_timeout), 1, 60000, .arg = "MS",
      .help = "longest wait (ms) before the kernel hands a block of packets over; default 250" },
    { "in-if", FS_OPT_U32, OFF(in_if), 0, UINT32_MAX, .arg = "INDEX",
      .help = "input interface of the flows (SLL2 captures carry their own); "
      "default: the capture interface's index, 0 offline" },
    { "inactive-timeout", FS_OPT_SECONDS, OFF(inactive_timeout), 1, DAY, .arg = "SECONDS",
      .help = "end a flow after this long without a packet; default 15s" },
    { "active-timeout", FS_OPT_SECONDS, OFF(active_timeout), 1, 7 * DAY, .arg = "SECONDS",
      .help = "end (and report) a flow that has lasted this long; default 30m" },
    { "tcp-end-timeout", FS_OPT_SECONDS, OFF(tcp_end_timeout), 0, DAY, .arg = "SECONDS",
      .help = "end a TCP flow this long after its FIN or RST, 0 with that packet; default 0" },
    { "max-flows", FS_OPT_U64, OFF(max_flows), 16, FS_FT_MAX_ENTRIES, .arg = "N",
      .help = "flows in the table at once; when full the least recently seen end early; "
      "default 262144" },
    { "max-fragments", FS_OPT_U64, OFF(max_fragments), 16, FS_FT_MAX_ENTRIES, .arg = "N",
      .help = "fragmented datagrams tracked at once; default 16384" },
    { "fragment-timeout", FS_OPT_SECONDS, OFF(fragment_timeout), 1, 3600, .arg = "SECONDS",
      .help = "how long the fragments of a datagram are tracked; default 30s" },
    { "zeek-conn", FS_OPT_STRV, OFF(zeek_conn), .arg = "FILE", .repeat = true,
      .help = "also publish the connections of this Zeek conn.log (TSV or JSON), followed "
      "as it grows and rotates (read once with --read); repeatable" },
    { "eve", FS_OPT_STRV, OFF(eve), .arg = "FILE", .repeat = true,
      .help = "also publish the flow and netflow events of this Suricata EVE JSON file, "
      "followed as it grows and rotates (read once with --read); repeatable" },
    { "zeek-domain", FS_OPT_U32, OFF(zeek_domain), 0, UINT32_MAX, .arg = "ID",
      .help = "observation domain of the flows from Zeek logs; default 1" },
    { "eve-domain", FS_OPT_U32, OFF(eve_domain), 0, UINT32_MAX, .arg = "ID",
      .help = "observation domain of the flows from Suricata logs; default 2" },
    { "logs-from-end", FS_OPT_FLAG, OFF(logs_from_end),
      .help = "skip what the Zeek JSON and EVE logs already hold when the sensor starts "
      "(not Zeek TSV logs, whose header is at their start)" },
    { "exporter", FS_OPT_STR, OFF(exporter), .set = check_exporter, .arg = "ADDR",
      .help = "address the flows are attributed to (their exporter); "
      "default 0.0.0.0" },
    { "domain", FS_OPT_U32, OFF(domain), 0, UINT32_MAX, .arg = "ID",
      .help = "observation domain of the flows and exports (v5: engine type<<8|id); default 0" },
    { "json", FS_OPT_FLAG, OFF(json),
      .help = "write flows as JSON lines on stdout" },
    { "publish", FS_OPT_STR, OFF(publish), .set = fs_opts_check_endpoint, .arg = "ENDPOINT",
      .help = "ZeroMQ endpoint of the flows bus; default ipc://<run-dir>/sensor "
      "(offline mode: only when given)" },
    { "no-publish", FS_OPT_FLAG, OFF(no_publish),
      .help = "do not publish flows on the bus" },
    { "sender", FS_OPT_STR, OFF(sender), .set = fs_opts_check_sender, .arg = "ID",
      .help = "sender id in bus messages; default sensor@<hostname>" },
    { "batch-size", FS_OPT_U32, OFF(batch_size), 1, FS_BATCH_MAX_FLOWS, .arg = "N",
      .help = "flows per bus message at most; default 8192" },
    { "export", FS_OPT_STRV, OFF(export), .set = check_export, .arg = "URL", .repeat = true,
      .help = "also export the flows over UDP to ipfix://HOST[:PORT] (default port 4739), "
      "v9://HOST[:PORT] or v5://HOST[:PORT] (2055); repeatable" },
    { "export-size", FS_OPT_U32, OFF(export_size), 512, 65507, .arg = "BYTES",
      .help = "largest export datagram; default 1400" },
    { "template-timeout", FS_OPT_SECONDS, OFF(template_timeout), 1, DAY, .arg = "SECONDS",
      .help = "resend v9/IPFIX templates at least this often (and every 20 datagrams); "
      "default 60s" },
    { "stats-interval", FS_OPT_SECONDS, OFF(stats_interval), 0, DAY, .arg = "SECONDS",
      .help = "publish and log counters this often when live, 0 never; default 60s" },
    { "user", FS_OPT_STR, OFF(user), .arg = "USER",
      .help = "drop privileges to this user once the capture is open" },
    { "run-dir", FS_OPT_STR, OFF(run_dir), .arg = "DIR",
      .help = "directory of the default bus endpoint; default " DEFAULT_RUN_DIR },
    FS_OPTS_LOG_ROWS(OFF(log_level)),
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

const struct fs_opts fs_sensor_config_opts = {
    options, NOPTIONS,
    "Meters flows from packets (an interface or pcap files), publishes them on the flows\n"
    "bus and exports them as IPFIX, NetFlow v9 or v5; also publishes the flows Zeek and\n"
    "Suricata log.\n"
};

const char *fs_sensor_config_option_name(size_t i)
{
    return i < NOPTIONS ? options[i].name : NULL;
}

int fs_sensor_config_init(struct fs_sensor_config *c)
{
    memset(c, 0, sizeof(*c));
    if ((c->run_dir = strdup(DEFAULT_RUN_DIR)) == NULL)
        return -1;
    c->snaplen = FS_CAPTURE_DEFAULT_SNAPLEN;
    c->buffer_size = 16u << 20;
    c->capture_timeout = FS_CAPTURE_DEFAULT_TIMEOUT_MS;
    c->inactive_timeout = FS_FT_DEFAULT_INACTIVE_MS / 1000;
    c->active_timeout = FS_FT_DEFAULT_ACTIVE_MS / 1000;
    c->max_flows = FS_FT_DEFAULT_MAX_FLOWS;
    c->max_fragments = FS_FT_DEFAULT_MAX_FRAGS;
    c->fragment_timeout = FS_FT_DEFAULT_FRAG_TIMEOUT_MS / 1000;
    c->zeek_domain = FS_SENSOR_DEFAULT_ZEEK_DOMAIN;
    c->eve_domain = FS_SENSOR_DEFAULT_EVE_DOMAIN;
    c->batch_size = FS_FLOWOUT_BATCH;
    c->export_size = FS_EMIT_DEFAULT_DATAGRAM;
    c->template_timeout = FS_EMIT_DEFAULT_TEMPLATE_TIMEOUT_MS / 1000;
    c->stats_interval = 60;
    c->log_level = FS_LOG_INFO;
    return 0;
}

void fs_sensor_config_free(struct fs_sensor_config *c)
{
    fs_opts_free(&fs_sensor_config_opts, c);
    memset(c, 0, sizeof(*c));
}

int fs_sensor_config_set(struct fs_sensor_config *c, const char *key, const char *value,
                         char *err, size_t errlen)
{
    return fs_opts_set(&fs_sensor_config_opts, c, key, value, err, errlen);
}

enum fs_opts_result fs_sensor_config_parse_args(struct fs_sensor_config *c, int argc,
                                                char *const argv[], char *err, size_t errlen)
{
    enum fs_opts_result r = fs_opts_parse_args(&fs_sensor_config_opts, c, argc, argv,
                                               &c->config_file, err, errlen);

    return r == FS_OPTS_OK && fs_sensor_config_finish(c, err, errlen) != 0 ? FS_OPTS_ERROR : r;
}

/* A log source's domain must not be the meter's: the same connection
 * metered and logged would look like one flow counted twice. */
static int check_domain(const struct fs_sensor_config *c, const struct fs_strv *files,
                        uint32_t domain, const char *name, char *err, size_t errlen)
{
    if (files->n == 0 || !fs_sensor_config_packets(c) || domain != c->domain)
        return 0;
    fs_opts_fail(err, errlen, "%s %u is the domain of the metered flows: give the log "
                 "flows their own", name, domain);
    return -1;
}

int fs_sensor_config_finish(struct fs_sensor_config *c, char *err, size_t errlen)
{
    if (c->interface != NULL && c->read.n > 0) {
        fs_opts_fail(err, errlen, "interface and read cannot be used together");
        return -1;
    }
    if (!fs_sensor_config_packets(c) && c->zeek_conn.n == 0 && c->eve.n == 0) {
        fs_opts_fail(err, errlen, "nothing to do: give --interface IF or --read FILE, "
                     "and/or --zeek-conn FILE or --eve FILE");
        return -1;
    }
    if (c->zeek_conn.n + c->eve.n > FS_SENSOR_MAX_LOGS) {
        fs_opts_fail(err, errlen, "%zu log files: at most %d", c->zeek_conn.n + c->eve.n,
                     FS_SENSOR_MAX_LOGS);
        return -1;
    }
    if (c->export.n > 0 && !fs_sensor_config_packets(c)) {
        fs_opts_fail(err, errlen, "export sends metered flows only, and nothing is metered: "
                     "give --interface IF or --read FILE");
        return -1;
    }
    if (c->logs_from_end && fs_sensor_config_offline(c)) {
        fs_opts_fail(err, errlen, "logs-from-end cannot be used with read: the logs are read "
                     "once, whole");
        return -1;
    }
    if (check_domain(c, &c->zeek_conn, c->zeek_domain, "zeek-domain", err, errlen) < 0 ||
        check_domain(c, &c->eve, c->eve_domain, "eve-domain", err, errlen) < 0)
        return -1;
    if (c->exporter == NULL)
        fs_ip_parse("0.0.0.0", &c->exporter_ip);
    return 0;
}

const char *fs_sensor_config_publish(const struct fs_sensor_config *c, char *buf, size_t len)
{
    if (c->no_publish || (fs_sensor_config_offline(c) && c->publish == NULL))
        return NULL;
    if (c->publish != NULL)
        return c->publish;
    snprintf(buf, len, "ipc://%s/sensor", c->run_dir);
    return buf;
}
