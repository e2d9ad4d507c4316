/*
 * config.c - the collector's option table and its two front ends.
 *
 * Every option is one row of `options[]`: its name, how its value is parsed
 * and bounded, where it lands in struct fs_config and its help line. The
 * command line, the config file, the usage text and fs_config_write() all
 * walk that table, so adding an option is adding a row.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "msg.h"

#define DEFAULT_RUN_DIR   "/tmp/flowsentry"
#define DEFAULT_STATE_DIR "/var/lib/flowsentry"

enum opt_kind {
    OPT_FLAG,  /* bool; "--json" alone or "json = yes" */
    OPT_U32,   /* uint32_t within [min, max] */
    OPT_U64,   /* uint64_t within [min, max] */
    OPT_BYTES, /* uint64_t, with an optional k/M/G suffix (powers of 1024) */
    OPT_STR,   /* char *, replaced */
    OPT_CUSTOM /* set() and write() do everything */
};

struct opt {
    const char *name;
    enum opt_kind kind;
    size_t off;
    uint64_t min, max;
    /* Checks (and for OPT_CUSTOM stores) a value; NULL when the kind says all. */
    int (*set)(struct fs_config *c, const char *v, char *err, size_t errlen);
    /* Writes the option's lines for fs_config_write(); NULL: by kind. */
    void (*write)(const struct fs_config *c, const struct opt *o, FILE *fp);
    const char *arg;  /* value placeholder in usage; NULL for flags */
    const char *help;
};

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Parses a non-negative decimal number, with k/M/G when `units` is set. */
static int parse_number(const char *v, bool units, uint64_t *out, char *err, size_t errlen)
{
    unsigned long long n;
    uint64_t mult = 1;
    char *end;

    if (v[0] < '0' || v[0] > '9')
        goto nan;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno == ERANGE) {
        fail(err, errlen, "'%s' is too large", v);
        return -1;
    }
    if (units && *end != '\0' && end[1] == '\0') {
        switch (*end) {
        case 'k': case 'K': mult = UINT64_C(1) << 10; end++; break;
        case 'm': case 'M': mult = UINT64_C(1) << 20; end++; break;
        case 'g': case 'G': mult = UINT64_C(1) << 30; end++; break;
        default: break;
        }
    }
    if (*end != '\0')
        goto nan;
    if (n > UINT64_MAX / mult) {
        fail(err, errlen, "'%s' is too large", v);
        return -1;
    }
    *out = n * mult;
    return 0;
nan:
    fail(err, errlen, "'%s' is not a number", v);
    return -1;
}

static int parse_bool(const char *v, bool *out, char *err, size_t errlen)
{
    static const char *const yes[] = { "yes", "true", "on", "1" };
    static const char *const no[] = { "no", "false", "off", "0" };

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    fail(err, errlen, "'%s' is not yes or no", v);
    return -1;
}

/* Grows a pointer array by one slot. */
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
        fail(err, errlen, "'%s': unknown scheme '%.*s' (udp:// or tcp://)", text,
             (int)(sep - text), text);
        return -1;
    } else {
        fail(err, errlen, "'%s' needs a scheme: udp://ADDR:PORT or tcp://ADDR:PORT", text);
        return -1;
    }
    if (strlen(text) >= sizeof(l->text)) {
        fail(err, errlen, "'%.40s...' is too long", text);
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
            fail(err, errlen, "'%s': put IPv6 addresses in brackets, as udp://[::1]:2055", text);
            return -1;
        }
        hlen = (size_t)(colon - hostp);
    }
    if (hlen == 0 || hlen >= sizeof(host))
        goto bad;
    memcpy(host, hostp, hlen);
    host[hlen] = '\0';
    if (parse_number(colon + 1, false, &port, perr, sizeof(perr)) < 0 || port == 0 ||
        port > 65535) {
        fail(err, errlen, "'%s': port must be 1..65535", text);
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
    fail(err, errlen, "'%s': '%s' is not an IP address", text, host);
    return -1;
bad:
    fail(err, errlen, "'%s' is not udp://ADDR:PORT or tcp://ADDR:PORT", text);
    return -1;
}

static int set_listen(struct fs_config *c, const char *v, char *err, size_t errlen)
{
    struct fs_listen l, *nl;

    if (fs_listen_parse(v, &l, err, errlen) < 0)
        return -1;
    if (c->nlisten == FS_CONFIG_MAX_LISTEN) {
        fail(err, errlen, "more than %d listeners", FS_CONFIG_MAX_LISTEN);
        return -1;
    }
    nl = grow(c->listen, c->nlisten, sizeof(*nl));
    if (nl == NULL)
        goto oom;
    c->listen = nl;
    c->listen[c->nlisten++] = l;
    return 0;
oom:
    fail(err, errlen, "out of memory");
    return -1;
}

static int set_read(struct fs_config *c, const char *v, char *err, size_t errlen)
{
    char **nr = grow(c->read, c->nread, sizeof(*nr));

    if (nr == NULL || (nr[c->nread] = strdup(v)) == NULL) {
        if (nr != NULL)
            c->read = nr;
        fail(err, errlen, "out of memory");
        return -1;
    }
    c->read = nr;
    c->nread++;
    return 0;
}

static int set_allow(struct fs_config *c, const char *v, char *err, size_t errlen)
{
    return fs_allow_add(c->allow, v, err, errlen);
}

/* EXPORTER=RATE or EXPORTER=RATE!; IPv6 exporters may be in brackets. */
static int set_sampling(struct fs_config *c, const char *v, char *err, size_t errlen)
{
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
        fail(err, errlen, "'%s': '%s' is not an IP address", v, addr);
        return -1;
    }
    if (parse_number(rate, false, &n, err, errlen) < 0)
        return -1;
    if (n == 0 || n > UINT32_MAX) {
        fail(err, errlen, "'%s': rate must be 1..%u", v, UINT32_MAX);
        return -1;
    }
    r.rate = (uint32_t)n;
    nr = grow(c->sampling, c->nsampling, sizeof(*nr));
    if (nr == NULL) {
        fail(err, errlen, "out of memory");
        return -1;
    }
    c->sampling = nr;
    c->sampling[c->nsampling++] = r;
    return 0;
bad:
    fail(err, errlen, "'%s' is not EXPORTER=RATE or EXPORTER=RATE!", v);
    return -1;
}

static int check_publish(struct fs_config *c, const char *v, char *err, size_t errlen)
{
    static const char *const schemes[] = { "ipc://", "tcp://", "inproc://" };
    const char *e = v[0] == '@' || v[0] == '>' ? v + 1 : v;

    (void)c;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i]);

        if (strncmp(e, schemes[i], n) == 0 && e[n] != '\0')
            return 0;
    }
    fail(err, errlen, "'%s' is not a ZeroMQ endpoint (ipc://PATH, tcp://HOST:PORT)", v);
    return -1;
}

static int check_sender(struct fs_config *c, const char *v, char *err, size_t errlen)
{
    (void)c;
    if (strlen(v) >= FS_MSG_SENDER_MAX) {
        fail(err, errlen, "'%s' is longer than %d characters", v, FS_MSG_SENDER_MAX - 1);
        return -1;
    }
    for (const char *p = v; *p; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            fail(err, errlen, "'%s' has spaces or control characters", v);
            return -1;
        }
    }
    return 0;
}

static int set_quiet(struct fs_config *c, const char *v, char *err, size_t errlen)
{
    bool b;

    if (parse_bool(v, &b, err, errlen) < 0)
        return -1;
    if (b)
        c->log_level = FS_LOG_WARNING;
    else if (c->log_level == FS_LOG_WARNING)
        c->log_level = FS_LOG_INFO;
    return 0;
}

static int set_verbose(struct fs_config *c, const char *v, char *err, size_t errlen)
{
    bool b;

    if (parse_bool(v, &b, err, errlen) < 0)
        return -1;
    if (b)
        c->log_level = FS_LOG_DEBUG;
    else if (c->log_level == FS_LOG_DEBUG)
        c->log_level = FS_LOG_INFO;
    return 0;
}

static void write_listen(const struct fs_config *c, const struct opt *o, FILE *fp)
{
    for (size_t i = 0; i < c->nlisten; i++)
        fprintf(fp, "%s = %s\n", o->name, c->listen[i].text);
}

static void write_read(const struct fs_config *c, const struct opt *o, FILE *fp)
{
    for (size_t i = 0; i < c->nread; i++)
        fprintf(fp, "%s = %s\n", o->name, c->read[i]);
}

static void write_allow(const struct fs_config *c, const struct opt *o, FILE *fp)
{
    char buf[FS_IP_STRLEN + 4];

    for (size_t i = 0; fs_allow_entry(c->allow, i, buf) != NULL; i++)
        fprintf(fp, "%s = %s\n", o->name, buf);
}

static void write_sampling(const struct fs_config *c, const struct opt *o, FILE *fp)
{
    char buf[FS_IP_STRLEN];

    for (size_t i = 0; i < c->nsampling; i++)
        fprintf(fp, "%s = %s=%u%s\n", o->name, fs_ip_format(&c->sampling[i].exporter, buf),
                c->sampling[i].rate, c->sampling[i].override ? "!" : "");
}

static void write_quiet(const struct fs_config *c, const struct opt *o, FILE *fp)
{
    fprintf(fp, "%s = %s\n", o->name, c->log_level == FS_LOG_WARNING ? "yes" : "no");
}

static void write_verbose(const struct fs_config *c, const struct opt *o, FILE *fp)
{
    fprintf(fp, "%s = %s\n", o->name, c->log_level == FS_LOG_DEBUG ? "yes" : "no");
}

#define OFF(field) offsetof(struct fs_config, field)
#define DAY 86400u

static const struct opt options[] = {
    { "listen", OPT_CUSTOM, 0, 0, 0, set_listen, write_listen, "URL",
      "receive exports at udp://ADDR:PORT or tcp://ADDR:PORT (IPFIX over TCP); "
      "repeatable; default udp://[::]:2055 and udp://[::]:4739" },
    { "read", OPT_CUSTOM, 0, 0, 0, set_read, write_read, "FILE",
      "decode a pcap/pcapng capture instead of listening (offline mode); repeatable" },
    { "json", OPT_FLAG, OFF(json), 0, 0, NULL, NULL, NULL,
      "write flows as JSON lines on stdout" },
    { "publish", OPT_STR, OFF(publish), 0, 0, check_publish, NULL, "ENDPOINT",
      "ZeroMQ endpoint of the flows bus; default ipc://<run-dir>/flows "
      "(offline mode: only when given)" },
    { "no-publish", OPT_FLAG, OFF(no_publish), 0, 0, NULL, NULL, NULL,
      "do not publish flows on the bus" },
    { "sender", OPT_STR, OFF(sender), 0, 0, check_sender, NULL, "ID",
      "sender id in bus messages; default collector@<hostname>" },
    { "allow", OPT_CUSTOM, 0, 0, 0, set_allow, write_allow, "ADDR[/LEN]",
      "accept exports only from this address or prefix; repeatable; default: all" },
    { "rcvbuf", OPT_BYTES, OFF(rcvbuf), 1024, INT_MAX / 2, NULL, NULL, "BYTES",
      "UDP socket receive buffer (k, M, G suffixes); default 4M" },
    { "template-file", OPT_STR, OFF(template_file), 0, 0, NULL, NULL, "PATH",
      "where templates are kept across restarts, or 'none'; "
      "default <state-dir>/templates (offline mode: only when given)" },
    { "template-interval", OPT_U32, OFF(template_interval), 1, DAY, NULL, NULL, "SECONDS",
      "save templates this often when they changed; default 60" },
    { "stats-interval", OPT_U32, OFF(stats_interval), 0, DAY, NULL, NULL, "SECONDS",
      "publish and log counters this often, 0 never; default 60" },
    { "sampling-default", OPT_U32, OFF(sampling_default), 1, UINT32_MAX, NULL, NULL, "RATE",
      "sampling rate of exporters that announce none; default: unknown (flows marked)" },
    { "sampling", OPT_CUSTOM, 0, 0, 0, set_sampling, write_sampling, "EXPORTER=RATE[!]",
      "sampling rate of one exporter, used when it announces none, or always with '!'; "
      "repeatable" },
    { "max-exporters", OPT_U64, OFF(max_exporters), 1, 1000000, NULL, NULL, "N",
      "exporters tracked at once; default 4096" },
    { "max-templates", OPT_U64, OFF(max_templates), 1, 65536, NULL, NULL, "N",
      "templates per exporter; default 1024" },
    { "pending-bytes", OPT_BYTES, OFF(pending_bytes), 1, UINT64_C(1) << 30, NULL, NULL, "BYTES",
      "data sets held per exporter while waiting for their template; default 256k" },
    { "pending-timeout", OPT_U32, OFF(pending_timeout), 1, 3600, NULL, NULL, "SECONDS",
      "how long a data set waits for its template; default 60" },
    { "clock-clamp", OPT_U32, OFF(clock_clamp), 0, 10 * 365 * DAY, NULL, NULL, "SECONDS",
      "clamp flow times further than this from the receive time, 0 off; default 0" },
    { "batch-size", OPT_U32, OFF(batch_size), 1, 65536, NULL, NULL, "N",
      "flows per bus message at most; default 1024" },
    { "tcp-max-connections", OPT_U32, OFF(tcp_max_conns), 1, 4096, NULL, NULL, "N",
      "IPFIX/TCP exporters connected at once per listener; default 64" },
    { "tcp-idle-timeout", OPT_U32, OFF(tcp_idle_timeout), 0, 7 * DAY, NULL, NULL, "SECONDS",
      "close IPFIX/TCP connections silent this long, 0 never; default 900" },
    { "user", OPT_STR, OFF(user), 0, 0, NULL, NULL, "USER",
      "drop privileges to this user once the sockets are open" },
    { "run-dir", OPT_STR, OFF(run_dir), 0, 0, NULL, NULL, "DIR",
      "directory of the default bus endpoints; default " DEFAULT_RUN_DIR },
    { "state-dir", OPT_STR, OFF(state_dir), 0, 0, NULL, NULL, "DIR",
      "directory of the default template file; default " DEFAULT_STATE_DIR },
    { "quiet", OPT_CUSTOM, 0, 0, 0, set_quiet, write_quiet, NULL,
      "log warnings and errors only" },
    { "verbose", OPT_CUSTOM, 0, 0, 0, set_verbose, write_verbose, NULL,
      "log debugging detail too" },
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static const struct opt *find_opt(const char *name)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (strcmp(options[i].name, name) == 0)
            return &options[i];
    return NULL;
}

const char *fs_config_option_name(size_t i)
{
    return i < NOPTIONS ? options[i].name : NULL;
}

static bool is_flag(const struct opt *o)
{
    return o->arg == NULL;
}

/* Parses and stores one value; the reason for a failure goes in `err`
 * without the option's name (callers add it). */
static int apply(struct fs_config *c, const struct opt *o, const char *v, char *err,
                 size_t errlen)
{
    char *base = (char *)c;
    uint64_t n;

    if (v[0] == '\0') {
        fail(err, errlen, "missing value");
        return -1;
    }
    switch (o->kind) {
    case OPT_FLAG:
        return parse_bool(v, (bool *)(base + o->off), err, errlen);
    case OPT_U32:
    case OPT_U64:
    case OPT_BYTES:
        if (parse_number(v, o->kind == OPT_BYTES, &n, err, errlen) < 0)
            return -1;
        if (n < o->min) {
            fail(err, errlen, "'%s' is too small (at least %llu)", v, (unsigned long long)o->min);
            return -1;
        }
        if (n > o->max) {
            fail(err, errlen, "'%s' is too large (at most %llu)", v, (unsigned long long)o->max);
            return -1;
        }
        if (o->kind == OPT_U32)
            *(uint32_t *)(base + o->off) = (uint32_t)n;
        else
            *(uint64_t *)(base + o->off) = n;
        return 0;
    case OPT_STR: {
        char **dst = (char **)(base + o->off), *dup;

        if (o->set != NULL && o->set(c, v, err, errlen) < 0)
            return -1;
        if ((dup = strdup(v)) == NULL) {
            fail(err, errlen, "out of memory");
            return -1;
        }
        free(*dst);
        *dst = dup;
        return 0;
    }
    case OPT_CUSTOM:
        return o->set(c, v, err, errlen);
    }
    return -1;
}

int fs_config_set(struct fs_config *c, const char *key, const char *value, char *err,
                  size_t errlen)
{
    const struct opt *o = find_opt(key);
    char why[256];

    if (o == NULL) {
        fail(err, errlen, "unknown option '%s'", key);
        return -1;
    }
    if (apply(c, o, value, why, sizeof(why)) < 0) {
        fail(err, errlen, "%s: %s", key, why);
        return -1;
    }
    return 0;
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
    c->rcvbuf = 4u << 20;
    c->template_interval = 60;
    c->stats_interval = 60;
    c->max_exporters = 4096;
    c->max_templates = 1024;
    c->pending_bytes = 256u << 10;
    c->pending_timeout = 60;
    c->batch_size = 1024;
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
    for (size_t i = 0; i < NOPTIONS; i++)
        if (options[i].kind == OPT_STR)
            free(*(char **)((char *)c + options[i].off));
    free(c->config_file);
    memset(c, 0, sizeof(*c));
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

int fs_config_load_file(struct fs_config *c, const char *path, char *err, size_t errlen)
{
    char *line = NULL, why[256];
    size_t cap = 0;
    unsigned lineno = 0;
    int ret = 0;
    FILE *fp = fopen(path, "r");

    if (fp == NULL) {
        fail(err, errlen, "config file %s: %s", path, strerror(errno));
        return -1;
    }
    while (getline(&line, &cap, fp) != -1) {
        char *key, *value, *eq;

        lineno++;
        cut_comment(line);
        key = trim(line);
        if (*key == '\0')
            continue;
        eq = strchr(key, '=');
        if (eq == NULL) {
            fail(err, errlen, "config line %u: expected 'key = value', got '%s'", lineno, key);
            ret = -1;
            break;
        }
        *eq = '\0';
        value = trim(eq + 1);
        key = trim(key);
        if (fs_config_set(c, key, value, why, sizeof(why)) < 0) {
            fail(err, errlen, "config line %u: %s", lineno, why);
            ret = -1;
            break;
        }
    }
    if (ret == 0 && ferror(fp)) {
        fail(err, errlen, "config file %s: line %u: %s", path, lineno + 1, strerror(errno));
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

enum fs_config_result fs_config_parse_args(struct fs_config *c, int argc, char *const argv[],
                                           char *err, size_t errlen)
{
    const char *file = NULL;
    int i;

    /* First pass: help, version and the config file, which the rest of the
     * command line overrides. */
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            return FS_CONFIG_HELP;
        if (strcmp(a, "--version") == 0)
            return FS_CONFIG_VERSION;
        if (is_config_arg(a) || strncmp(a, "--config=", 9) == 0) {
            if (file != NULL) {
                fail(err, errlen, "option %s: only one config file", a);
                return FS_CONFIG_ERROR;
            }
            if (a[1] == '-' && a[8] == '=') {
                file = a + 9;
            } else if (i + 1 < argc) {
                file = argv[++i];
            } else {
                fail(err, errlen, "option %s needs a file name", a);
                return FS_CONFIG_ERROR;
            }
        }
    }
    if (file != NULL) {
        if ((c->config_file = strdup(file)) == NULL) {
            fail(err, errlen, "out of memory");
            return FS_CONFIG_ERROR;
        }
        if (fs_config_load_file(c, file, err, errlen) < 0)
            return FS_CONFIG_ERROR;
    }

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *value, *eq;
        const struct opt *o;
        char name[64], why[256];
        size_t nlen;

        if (is_config_arg(a)) {
            i++;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0)
            continue;
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            fail(err, errlen, "unexpected argument '%s' (options are --key value)", a);
            return FS_CONFIG_ERROR;
        }
        eq = strchr(a, '=');
        nlen = eq != NULL ? (size_t)(eq - a - 2) : strlen(a + 2);
        o = NULL;
        if (nlen < sizeof(name)) {
            memcpy(name, a + 2, nlen);
            name[nlen] = '\0';
            o = find_opt(name);
        }
        if (o == NULL) {
            fail(err, errlen, "unknown option '%.*s'", (int)(nlen + 2), a);
            return FS_CONFIG_ERROR;
        }
        if (eq != NULL) {
            value = eq + 1;
        } else if (is_flag(o)) {
            value = "yes";
        } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
            value = argv[++i];
        } else {
            fail(err, errlen, "option --%s needs a value (%s)", o->name, o->arg);
            return FS_CONFIG_ERROR;
        }
        if (apply(c, o, value, why, sizeof(why)) < 0) {
            fail(err, errlen, "option --%s: %s", o->name, why);
            return FS_CONFIG_ERROR;
        }
    }
    return FS_CONFIG_OK;
}

int fs_config_finish(struct fs_config *c, char *err, size_t errlen)
{
    static const char *const defaults[] = { "udp://[::]:2055", "udp://[::]:4739" };

    if (c->nread > 0 && c->nlisten > 0) {
        fail(err, errlen, "listen and read cannot be used together");
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

void fs_config_write(const struct fs_config *c, FILE *fp)
{
    const char *base = (const char *)c;

    for (size_t i = 0; i < NOPTIONS; i++) {
        const struct opt *o = &options[i];

        if (o->write != NULL) {
            o->write(c, o, fp);
            continue;
        }
        switch (o->kind) {
        case OPT_FLAG:
            fprintf(fp, "%s = %s\n", o->name, *(const bool *)(base + o->off) ? "yes" : "no");
            break;
        case OPT_U32:
            /* A zero outside the bounds means "not set" (sampling-default). */
            if (*(const uint32_t *)(base + o->off) >= o->min)
                fprintf(fp, "%s = %u\n", o->name, *(const uint32_t *)(base + o->off));
            break;
        case OPT_U64:
        case OPT_BYTES:
            fprintf(fp, "%s = %llu\n", o->name,
                    (unsigned long long)*(const uint64_t *)(base + o->off));
            break;
        case OPT_STR:
            if (*(char *const *)(base + o->off) != NULL)
                fprintf(fp, "%s = %s\n", o->name, *(char *const *)(base + o->off));
            break;
        case OPT_CUSTOM:
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

void fs_config_usage(FILE *fp, const char *program)
{
    fprintf(fp,
            "usage: %s [-c FILE] [--key value | --key=value ...]\n"
            "Receives NetFlow v5/v9 and IPFIX exports, decodes them and publishes flows.\n"
            "Every option can also be a line 'key = value' in the -c FILE; the command\n"
            "line wins over the file for single values and adds to repeatable ones.\n\n",
            program);
    for (size_t i = 0; i < NOPTIONS; i++) {
        const struct opt *o = &options[i];
        char left[64];

        snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
        fprintf(fp, "  %-30s", left);
        print_wrapped(fp, o->help);
    }
    fprintf(fp, "  %-30s %s\n  %-30s %s\n  %-30s %s\n", "-c, --config FILE",
            "read options from FILE first", "-h, --help", "show this text", "--version",
            "show the version");
}
