/*
 * config.c - the collector's option table and its own value setters.
 *
 * Every option is one row of `options[]`: its name, how its value is parsed
 * and bounded, where it lands in struct fs_config and its help line. The
 * command line, the config file, the usage text and the written config are
 * opts.c walking that table, so adding an option is adding a row.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "flowout.h"
#include "log.h"
#include "msg.h"
#include "opts.h"

#define DEFAULT_RUN_DIR   "/tmp/flowsentry"
#define DEFAULT_STATE_DIR "/var/lib/flowsentry"

/* Grows an array by one slot. */
static void *grow(void *arr, size_t n, size_t size)
{
    return realloc(arr, (n + 1) * size);
}

int fs_listen_parse(const char *text, struct fs_listen *l, char *err, size_t errlen)
{
    const char *hostp, *sep, *colon;
    char host[INET6_ADDRSTRLEN];
    size_t hlen;
    uint64_t port;
    char perr[64];

    memset(l, 0, sizeof(*l));
    if (strncmp(text, "udp://", 6) == 0) {
        l->proto = FS_LISTEN_UDP;
    } else if (strncmp(text, "tcp://", 6) == 0) {
        l->proto = FS_LISTEN_TCP;
    } else if ((sep = strstr(text, "://")) != NULL) {
        fs_opts_fail(err, errlen, "'%s': unknown scheme '%.*s' (udp:// or tcp://)", text,
             (int)(sep - text), text);
        return -1;
    } else {
        fs_opts_fail(err, errlen, "'%s' needs a scheme: udp://ADDR:PORT or tcp://ADDR:PORT", text);
        return -1;
    }
    if (strlen(text) >= sizeof(l->text)) {
        fs_opts_fail(err, errlen, "'%.40s...' is too long", text);
        return -1;
    }
    hostp = text + 6;
    if (hostp[0] == '[') {
        sep = strchr(hostp, ']');
        if (sep == NULL || sep[1] != ':')
            goto bad;
        hostp++;
        hlen = (size_t)(sep - hostp);
        colon = sep + 1;
    } else {
        colon = strrchr(hostp, ':');
        if (colon == NULL)
            goto bad;
        if (memchr(hostp, ':', (size_t)(colon - hostp)) != NULL) {
            fs_opts_fail(err, errlen, "'%s': put IPv6 addresses in brackets, as udp://[::1]:2055", text);
            return -1;
        }
        hlen = (size_t)(colon - hostp);
    }
    if (hlen == 0 || hlen >= sizeof(host))
        goto bad;
    memcpy(host, hostp, hlen);
    host[hlen] = '\0';
    if (fs_opts_parse_u64(colon + 1, &port, perr, sizeof(perr)) < 0 || port == 0 ||
        port > 65535) {
        fs_opts_fail(err, errlen, "'%s': port must be 1..65535", text);
        return -1;
    }
    if (hostp[-1] == '[') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&l->addr;

        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            goto badaddr;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        l->addrlen = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&l->addr;

        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            goto badaddr;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        l->addrlen = sizeof(*s4);
    }
    strcpy(l->text, text);
    return 0;
badaddr:
    fs_opts_fail(err, errlen, "'%s': '%s' is not an IP address", text, host);
    return -1;
bad:
    fs_opts_fail(err, errlen, "'%s' is not udp://ADDR:PORT or tcp://ADDR:PORT", text);
    return -1;
}

static int set_listen(void *conf, const char *v, char *err, size_t errlen)
{
    struct fs_config *c = conf;
    struct fs_listen l, *nl;

    if (fs_listen_parse(v, &l, err, errlen) < 0)
        return -1;
    if (c->nlisten == FS_CONFIG_MAX_LISTEN) {
        fs_opts_fail(err, errlen, "more than %d listeners", FS_CONFIG_MAX_LISTEN);
        return -1;
    }
    nl = grow(c->listen, c->nlisten, sizeof(*nl));
    if (nl == NULL)
        goto oom;
    c->listen = nl;
    c->listen[c->nlisten++] = l;
    return 0;
oom:
    fs_opts_fail(err, errlen, "out of memory");
    return -1;
}

static int set_read(void *conf, const char *v, char *err, size_t errlen)
{
    struct fs_config *c = conf;
    char **nr = grow(c->read, c->nread, sizeof(*nr));

    if (nr == NULL || (nr[c->nread] = strdup(v)) == NULL) {
        if (nr != NULL)
            c->read = nr;
        fs_opts_fail(err, errlen, "out of memory");
        return -1;
    }
    c->read = nr;
    c->nread++;
    return 0;
}

static int set_allow(void *conf, const char *v, char *err, size_t errlen)
{
    struct fs_config *c = conf;
    return fs_allow_add(c->allow, v, err, errlen);
}

/* EXPORTER=RATE or EXPORTER=RATE!; IPv6 exporters may be in brackets. */
static int set_sampling(void *conf, const char *v, char *err, size_t errlen)
{
    struct fs_config *c = conf;
    const char *eq = strrchr(v, '=');
    struct fs_sampling_rule r, *nr;
    char addr[FS_IP_STRLEN], rate[24];
    const char *a = v;
    size_t alen, rlen;
    uint64_t n;

    if (eq == NULL)
        goto bad;
    alen = (size_t)(eq - v);
    if (alen >= 2 && a[0] == '[' && a[alen - 1] == ']') {
        a++;
        alen -= 2;
    }
    rlen = strlen(eq + 1);
    if (alen == 0 || alen >= sizeof(addr) || rlen == 0 || rlen >= sizeof(rate))
        goto bad;
    memcpy(addr, a, alen);
    addr[alen] = '\0';
    memcpy(rate, eq + 1, rlen + 1);
    r.override = rate[rlen - 1] == '!';
    if (r.override)
        rate[rlen - 1] = '\0';
    if (fs_ip_parse(addr, &r.exporter) != 0) {
        fs_opts_fail(err, errlen, "'%s': '%s' is not an IP address", v, addr);
        return -1;
    }
    if (fs_opts_parse_u64(rate, &n, err, errlen) < 0)
        return -1;
    if (n == 0 || n > UINT32_MAX) {
        fs_opts_fail(err, errlen, "'%s': rate must be 1..%u", v, UINT32_MAX);
        return -1;
    }
    r.rate = (uint32_t)n;
    nr = grow(c->sampling, c->nsampling, sizeof(*nr));
    if (nr == NULL) {
        fs_opts_fail(err, errlen, "out of memory");
        return -1;
    }
    c->sampling = nr;
    c->sampling[c->nsampling++] = r;
    return 0;
bad:
    fs_opts_fail(err, errlen, "'%s' is not EXPORTER=RATE or EXPORTER=RATE!", v);
    return -1;
}

static void write_listen(const void *conf, const struct fs_opt *o, FILE *fp)
{
    const struct fs_config *c = conf;

    for (size_t i = 0; i < c->nlisten; i++)
        fprintf(fp, "%s = %s\n", o->name, c->listen[i].text);
}

static void write_read(const void *conf, const struct fs_opt *o, FILE *fp)
{
    const struct fs_config *c = conf;

    for (size_t i = 0; i < c->nread; i++)
        fprintf(fp, "%s = %s\n", o->name, c->read[i]);
}

static void write_allow(const void *conf, const struct fs_opt *o, FILE *fp)
{
    const struct fs_config *c = conf;
    char buf[FS_IP_STRLEN + 4];

    for (size_t i = 0; fs_allow_entry(c->allow, i, buf) != NULL; i++)
        fprintf(fp, "%s = %s\n", o->name, buf);
}

static void write_sampling(const void *conf, const struct fs_opt *o, FILE *fp)
{
    const struct fs_config *c = conf;
    char buf[FS_IP_STRLEN];

    for (size_t i = 0; i < c->nsampling; i++)
        fprintf(fp, "%s = %s=%u%s\n", o->name, fs_ip_format(&c->sampling[i].exporter, buf),
                c->sampling[i].rate, c->sampling[i].override ? "!" : "");
}

#define OFF(field) offsetof(struct fs_config, field)
#define DAY 86400u

static const struct fs_opt options[] = {
    { "listen", FS_OPT_CUSTOM, .set = set_listen, .write = write_listen, .arg = "URL",
      .help = "receive exports at udp://ADDR:PORT or tcp://ADDR:PORT (IPFIX over TCP); "
      "repeatable; default udp://[::]:2055 and udp://[::]:4739",
      .repeat = true },
    { "read", FS_OPT_CUSTOM, .set = set_read, .write = write_read, .arg = "FILE",
      .help = "decode a pcap/pcapng capture instead of listening (offline mode); repeatable",
      .repeat = true },
    { "json", FS_OPT_FLAG, OFF(json),
      .help = "write flows as JSON lines on stdout" },
    { "publish", FS_OPT_STR, OFF(publish), .set = fs_opts_check_endpoint, .arg = "ENDPOINT",
      .help = "ZeroMQ endpoint of the flows bus; default ipc://<run-dir>/flows "
      "(offline mode: only when given)" },
    { "no-publish", FS_OPT_FLAG, OFF(no_publish),
      .help = "do not publish flows on the bus" },
    { "sender", FS_OPT_STR, OFF(sender), .set = fs_opts_check_sender, .arg = "ID",
      .help = "sender id in bus messages; default collector@<hostname>" },
    { "allow", FS_OPT_CUSTOM, .set = set_allow, .write = write_allow, .arg = "ADDR[/LEN]",
      .help = "accept exports only from this address or prefix; repeatable; default: all",
      .repeat = true },
    { "rcvbuf", FS_OPT_BYTES, OFF(rcvbuf), 1024, INT_MAX / 2, .arg = "BYTES",
      .help = "UDP socket receive buffer (k, M, G suffixes); default 32M" },
    { "template-file", FS_OPT_STR, OFF(template_file), .arg = "PATH",
      .help = "where templates are kept across restarts, or 'none'; "
      "default <state-dir>/templates (offline mode: only when given)" },
    { "template-interval", FS_OPT_U32, OFF(template_interval), 1, DAY, .arg = "SECONDS",
      .help = "save templates this often when they changed; default 60" },
    { "stats-interval", FS_OPT_U32, OFF(stats_interval), 0, DAY, .arg = "SECONDS",
      .help = "publish and log counters this often, 0 never; default 60" },
    { "sampling-default", FS_OPT_U32, OFF(sampling_default), 1, UINT32_MAX, .arg = "RATE",
      .help = "sampling rate of exporters that announce none; default: unknown (flows marked)" },
    { "sampling", FS_OPT_CUSTOM, .set = set_sampling, .write = write_sampling,
      .arg = "EXPORTER=RATE[!]",
      .help = "sampling rate of one exporter, used when it announces none, or always with '!'; "
      "repeatable", .repeat = true },
    { "max-exporters", FS_OPT_U64, OFF(max_exporters), 1, 1000000, .arg = "N",
      .help = "exporters tracked at once; default 4096" },
    { "max-templates", FS_OPT_U64, OFF(max_templates), 1, 65536, .arg = "N",
      .help = "templates per exporter; default 1024" },
    { "pending-bytes", FS_OPT_BYTES, OFF(pending_bytes), 1, UINT64_C(1) << 30, .arg = "BYTES",
      .help = "data sets held per exporter while waiting for their template; default 256k" },
    { "pending-timeout", FS_OPT_U32, OFF(pending_timeout), 1, 3600, .arg = "SECONDS",
      .help = "how long a data set waits for its template; default 60" },
    { "clock-clamp", FS_OPT_U32, OFF(clock_clamp), 0, 10 * 365 * DAY, .arg = "SECONDS",
      .help = "clamp flow times further than this from the receive time, 0 off; default 0" },
    { "batch-size", FS_OPT_U32, OFF(batch_size), 1, FS_BATCH_MAX_FLOWS, .arg = "N",
      .help = "flows per bus message at most; default 8192" },
    { "tcp-max-connections", FS_OPT_U32, OFF(tcp_max_conns), 1, 4096, .arg = "N",
      .help = "IPFIX/TCP exporters connected at once per listener; default 64" },
    { "tcp-idle-timeout", FS_OPT_U32, OFF(tcp_idle_timeout), 0, 7 * DAY, .arg = "SECONDS",
      .help = "close IPFIX/TCP connections silent this long, 0 never; default 900" },
    { "user", FS_OPT_STR, OFF(user), .arg = "USER",
      .help = "drop privileges to this user once the sockets are open" },
    { "run-dir", FS_OPT_STR, OFF(run_dir), .arg = "DIR",
      .help = "directory of the default bus endpoints; default " DEFAULT_RUN_DIR },
    { "state-dir", FS_OPT_STR, OFF(state_dir), .arg = "DIR",
      .help = "directory of the default template file; default " DEFAULT_STATE_DIR },
    FS_OPTS_LOG_ROWS(OFF(log_level)),
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

const struct fs_opts fs_config_opts = {
    options, NOPTIONS,
    "Receives NetFlow v5/v9 and IPFIX exports, decodes them and publishes flows.\n"
};

const char *fs_config_option_name(size_t i)
{
    return i < NOPTIONS ? options[i].name : NULL;
}

int fs_config_set(struct fs_config *c, const char *key, const char *value, char *err,
                  size_t errlen)
{
    return fs_opts_set(&fs_config_opts, c, key, value, err, errlen);
}

int fs_config_init(struct fs_config *c)
{
    memset(c, 0, sizeof(*c));
    c->allow = fs_allow_new();
    c->run_dir = strdup(DEFAULT_RUN_DIR);
    c->state_dir = strdup(DEFAULT_STATE_DIR);
    if (c->allow == NULL || c->run_dir == NULL || c->state_dir == NULL) {
        fs_config_free(c);
        return -1;
    }
    c->rcvbuf = 32u << 20; /* absorbs scheduling hiccups at millions of flows/s */
    c->template_interval = 60;
    c->stats_interval = 60;
    c->max_exporters = 4096;
    c->max_templates = 1024;
    c->pending_bytes = 256u << 10;
    c->pending_timeout = 60;
    c->batch_size = FS_FLOWOUT_BATCH;
    c->tcp_max_conns = 64;
    c->tcp_idle_timeout = 900;
    c->log_level = FS_LOG_INFO;
    return 0;
}

void fs_config_free(struct fs_config *c)
{
    for (size_t i = 0; i < c->nread; i++)
        free(c->read[i]);
    free(c->read);
    free(c->listen);
    free(c->sampling);
    fs_allow_free(c->allow);
    fs_opts_free(&fs_config_opts, c);
    free(c->config_file);
    memset(c, 0, sizeof(*c));
}

int fs_config_load_file(struct fs_config *c, const char *path, char *err, size_t errlen)
{
    return fs_opts_load_file(&fs_config_opts, c, path, err, errlen);
}

enum fs_opts_result fs_config_parse_args(struct fs_config *c, int argc, char *const argv[],
                                         char *err, size_t errlen)
{
    const char *file;
    enum fs_opts_result r = fs_opts_parse_args(&fs_config_opts, c, argc, argv, &file, err,
                                               errlen);

    if (r != FS_OPTS_OK)
        return r;
    if (file != NULL && (c->config_file = strdup(file)) == NULL) {
        fs_opts_fail(err, errlen, "out of memory");
        return FS_OPTS_ERROR;
    }
    return fs_config_finish(c, err, errlen) == 0 ? FS_OPTS_OK : FS_OPTS_ERROR;
}

int fs_config_finish(struct fs_config *c, char *err, size_t errlen)
{
    static const char *const defaults[] = { "udp://[::]:2055", "udp://[::]:4739" };

    if (c->nread > 0 && c->nlisten > 0) {
        fs_opts_fail(err, errlen, "listen and read cannot be used together");
        return -1;
    }
    if (c->nread == 0 && c->nlisten == 0) {
        for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
            if (set_listen(c, defaults[i], err, errlen) < 0)
                return -1;
    }
    return 0;
}

const char *fs_config_publish(const struct fs_config *c, char *buf, size_t len)
{
    if (c->no_publish || (fs_config_offline(c) && c->publish == NULL))
        return NULL;
    if (c->publish != NULL)
        return c->publish;
    snprintf(buf, len, "ipc://%s/flows", c->run_dir);
    return buf;
}

const char *fs_config_template_file(const struct fs_config *c, char *buf, size_t len)
{
    if (c->template_file != NULL)
        return strcmp(c->template_file, "none") == 0 ? NULL : c->template_file;
    if (fs_config_offline(c))
        return NULL;
    snprintf(buf, len, "%s/templates", c->state_dir);
    return buf;
}
