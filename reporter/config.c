/*
 * config.c - the reporter's option table (ipc/opts.h) and the parser of its
 * output specs: "TRANSPORT://ADDRESS key=value ...".
 *
 * Outputs are kept as the strings given until fs_rp_config_check(), which
 * parses them all with their number in every message, so that a mistake in
 * the third of three outputs says "output 3: ..." wherever it was written.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

#define DAY (86400u)

/* ------------------------------------------------------------------ */
/* Output specs. */

enum { MEM_TEXT, MEM_HOST, MEM_PORT, MEM_PATH, MEM_CA, MEM_CERT, MEM_KEY, MEM_NAME };

/* Keeps a copy of `s` (length `n`) in slot `slot`; NULL when out of memory. */
static char *own(struct fs_rp_output_spec *o, int slot, const char *s, size_t n)
{
    free(o->mem[slot]);
    o->mem[slot] = strndup(s, n);
    return o->mem[slot];
}

void fs_rp_output_free(struct fs_rp_output_spec *o)
{
    for (size_t i = 0; i < sizeof(o->mem) / sizeof(o->mem[0]); i++)
        free(o->mem[i]);
    free(o->app);
    memset(o, 0, sizeof(*o));
}

static const char *transport_name(enum fs_rp_transport t)
{
    static const char *const names[] = { "udp", "tcp", "tls", "unix", "file" };
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

/* "spool-tcp-127.0.0.1-6514": the destination, with what a file name should
 * not hold made '_'. Long paths keep their end, where file names differ. */
static void spool_name(struct fs_rp_output_spec *o)
{
    char dest[512];
    size_t len, skip, n;

    if (o->out.transport == FS_RP_T_UNIX || o->out.transport == FS_RP_T_FILE)
        snprintf(dest, sizeof(dest), "%s", o->out.path + 1);
    else
        snprintf(dest, sizeof(dest), "%s-%s", o->out.host, o->out.port);
    len = strlen(dest);
    n = (size_t)snprintf(o->spool, sizeof(o->spool), "spool-%s-",
                         transport_name(o->out.transport));
    skip = len + n >= sizeof(o->spool) ? len + n + 1 - sizeof(o->spool) : 0;
    for (size_t i = skip; i < len; i++) {
        char c = dest[i];
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '-';
        o->spool[n++] = keep ? c : '_';
    }
    o->spool[n] = '\0';
}

/* HOST:PORT, [V6]:PORT, HOST or [V6] (the transport's default port). */
static int parse_hostport(struct fs_rp_output_spec *o, const char *addr, const char *dflt,
                          const char *pfx, char *err, size_t errlen)
{
    const char *host = addr, *port = NULL, *end;
    size_t hlen;

    if (addr[0] == '[') {
        end = strchr(addr, ']');
        if (end == NULL) {
            fs_opts_fail(err, errlen, "%sunterminated '[' in '%s'", pfx, addr);
            return -1;
        }
        host = addr + 1;
        hlen = (size_t)(end - host);
        if (end[1] == ':')
            port = end + 2;
        else if (end[1] != '\0') {
            fs_opts_fail(err, errlen, "%sexpected ':PORT' after ']' in '%s'", pfx, addr);
            return -1;
        }
    } else {
        const char *colon = strchr(addr, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL) {
            fs_opts_fail(err, errlen, "%sIPv6 address in '%s' must be in brackets: "
                         "[ADDRESS]:PORT", pfx, addr);
            return -1;
        }
        hlen = colon != NULL ? (size_t)(colon - addr) : strlen(addr);
        if (colon != NULL)
            port = colon + 1;
    }
    if (hlen == 0) {
        fs_opts_fail(err, errlen, "%smissing host in '%s'", pfx, addr);
        return -1;
    }
    if (memchr(host, '/', hlen) != NULL) {
        fs_opts_fail(err, errlen, "%s'%s' is not HOST:PORT", pfx, addr);
        return -1;
    }
    if (port != NULL) {
        uint64_t n;
        char why[128];
        if (fs_opts_parse_u64(port, &n, why, sizeof(why)) != 0 || n < 1 || n > 65535) {
            fs_opts_fail(err, errlen, "%sport '%s' is not a number from 1 to 65535", pfx, port);
            return -1;
        }
    } else {
        port = dflt;
    }
    o->out.host = own(o, MEM_HOST, host, hlen);
    o->out.port = own(o, MEM_PORT, port, strlen(port));
    if (o->out.host == NULL || o->out.port == NULL) {
        fs_opts_fail(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* The destination part of a spec: TRANSPORT://ADDRESS. */
static int parse_url(struct fs_rp_output_spec *o, const char *url, const char *pfx, char *err,
                     size_t errlen)
{
    const char *sep = strstr(url, "://");
    char scheme[16];
    const char *rest;

    if (sep == NULL || sep == url) {
        fs_opts_fail(err, errlen, "%s'%s' is not TRANSPORT://ADDRESS (udp, tcp, tls, unix or "
                     "file)", pfx, url);
        return -1;
    }
    snprintf(scheme, sizeof(scheme), "%.*s", (int)(sep - url), url);
    if ((size_t)(sep - url) >= sizeof(scheme) ||
        fs_rp_transport_parse(scheme, &o->out.transport) != 0) {
        fs_opts_fail(err, errlen, "%sunknown transport '%.*s' (udp, tcp, tls, unix or file)",
                     pfx, (int)(sep - url), url);
        return -1;
    }
    rest = sep + 3;
    switch (o->out.transport) {
    case FS_RP_T_UDP:
    case FS_RP_T_TCP:
        return parse_hostport(o, rest, "514", pfx, err, errlen);
    case FS_RP_T_TLS:
        return parse_hostport(o, rest, "6514", pfx, err, errlen);
    case FS_RP_T_UNIX:
        if (*rest == '\0')
            rest = "/dev/log";
        /* fall through */
    case FS_RP_T_FILE:
        if (rest[0] != '/') {
            fs_opts_fail(err, errlen, "%s%s:// needs an absolute path (%s:///path), not '%s'",
                         pfx, scheme, scheme, rest);
            return -1;
        }
        if ((o->out.path = own(o, MEM_PATH, rest, strlen(rest))) == NULL) {
            fs_opts_fail(err, errlen, "out of memory");
            return -1;
        }
        return 0;
    }
    return -1;
}

/* The settings after the URL, in the order of this list. */
enum { K_HEADER, K_BODY, K_FACILITY, K_APP, K_CA, K_CERT, K_KEY, K_NAME, K_INSECURE, K_SPOOL,
       K_COUNT };
static const char *const setting_names[K_COUNT] = {
    "header", "body", "facility", "app", "ca", "cert", "key", "name", "insecure", "spool"
};

static bool is_tls_setting(int k)
{
    return k == K_CA || k == K_CERT || k == K_KEY || k == K_NAME || k == K_INSECURE;
}

/* An APP-NAME of RFC 5424: 1 to 48 printable US-ASCII characters. */
static bool valid_app(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 48)
        return false;
    for (const char *p = v; *p; p++)
        if (*p < 33 || *p > 126)
            return false;
    return true;
}

static int apply_setting(struct fs_rp_output_spec *o, int k, const char *v, const char *pfx,
                         char *err, size_t errlen)
{
    static const int slot[K_COUNT] = { [K_CA] = MEM_CA, [K_CERT] = MEM_CERT, [K_KEY] = MEM_KEY,
                                       [K_NAME] = MEM_NAME };
    char why[256];

    switch (k) {
    case K_HEADER:
        if (fs_rp_header_parse(v, &o->header) == 0)
            return 0;
        fs_opts_fail(err, errlen, "%sheader: '%s' is not rfc5424, rfc3164 or none", pfx, v);
        return -1;
    case K_BODY:
        if (fs_rp_body_parse(v, &o->body) == 0)
            return 0;
        fs_opts_fail(err, errlen, "%sbody: '%s' is not text, cef or eve", pfx, v);
        return -1;
    case K_FACILITY:
        if (fs_rp_facility_parse(v, &o->facility) == 0)
            return 0;
        fs_opts_fail(err, errlen, "%sfacility: '%s' is not a facility name (kern .. local7) "
                     "or a number from 0 to 23", pfx, v);
        return -1;
    case K_APP:
        if (!valid_app(v)) {
            fs_opts_fail(err, errlen, "%sapp: '%s' is not 1 to 48 printable characters "
                         "without blanks", pfx, v);
            return -1;
        }
        free(o->app);
        if ((o->app = strdup(v)) == NULL)
            break;
        return 0;
    case K_INSECURE:
        if (fs_opts_parse_bool(v, &o->out.insecure, why, sizeof(why)) == 0)
            return 0;
        fs_opts_fail(err, errlen, "%sinsecure: %s", pfx, why);
        return -1;
    case K_SPOOL:
        if (fs_opts_parse_bytes(v, &o->spool_bytes, why, sizeof(why)) != 0) {
            fs_opts_fail(err, errlen, "%sspool: %s", pfx, why);
            return -1;
        }
        if (o->spool_bytes < FS_RP_SPOOL_MIN) {
            fs_opts_fail(err, errlen, "%sspool: '%s' is too small (at least %uk)", pfx, v,
                         FS_RP_SPOOL_MIN >> 10);
            return -1;
        }
        return 0;
    default: {
        char *copy = own(o, slot[k], v, strlen(v));
        if (copy == NULL)
            break;
        if (k == K_CA)
            o->out.ca_file = copy;
        else if (k == K_CERT)
            o->out.cert_file = copy;
        else if (k == K_KEY)
            o->out.key_file = copy;
        else
            o->out.server_name = copy;
        return 0;
    }
    }
    fs_opts_fail(err, errlen, "out of memory");
    return -1;
}

int fs_rp_output_parse(const char *text, unsigned index, struct fs_rp_output_spec *o,
                       char *err, size_t errlen)
{
    static const char blanks[] = " \t";
    char pfx[32], *copy = NULL, *tok, *save = NULL;
    bool given[K_COUNT] = { false };

    memset(o, 0, sizeof(*o));
    snprintf(pfx, sizeof(pfx), "output %u: ", index);
    o->facility = 16; /* local0 */
    o->spool_bytes = FS_RP_SPOOL_DEFAULT;
    if ((o->text = own(o, MEM_TEXT, text, strlen(text))) == NULL ||
        (copy = strdup(text)) == NULL) {
        fs_opts_fail(err, errlen, "out of memory");
        goto fail;
    }
    tok = strtok_r(copy, blanks, &save);
    if (tok == NULL) {
        fs_opts_fail(err, errlen, "%sempty", pfx);
        goto fail;
    }
    if (parse_url(o, tok, pfx, err, errlen) != 0)
        goto fail;
    while ((tok = strtok_r(NULL, blanks, &save)) != NULL) {
        char *eq = strchr(tok, '=');
        int k;

        if (eq == NULL || eq == tok) {
            fs_opts_fail(err, errlen, "%s'%s' is not KEY=VALUE", pfx, tok);
            goto fail;
        }
        *eq = '\0';
        for (k = 0; k < K_COUNT && strcmp(tok, setting_names[k]) != 0; k++)
            ;
        if (k == K_COUNT) {
            fs_opts_fail(err, errlen, "%sunknown setting '%s' (header, body, facility, app, "
                         "ca, cert, key, name, insecure, spool)", pfx, tok);
            goto fail;
        }
        if (given[k]) {
            fs_opts_fail(err, errlen, "%s'%s' given twice", pfx, tok);
            goto fail;
        }
        given[k] = true;
        if (is_tls_setting(k) && o->out.transport != FS_RP_T_TLS) {
            fs_opts_fail(err, errlen, "%s'%s' applies to tls:// only", pfx, tok);
            goto fail;
        }
        if (eq[1] == '\0') {
            fs_opts_fail(err, errlen, "%s%s: missing value", pfx, tok);
            goto fail;
        }
        if (apply_setting(o, k, eq + 1, pfx, err, errlen) != 0)
            goto fail;
    }
    if (given[K_CERT] != given[K_KEY]) {
        fs_opts_fail(err, errlen, "%scert= and key= go together (a client certificate and "
                     "its key)", pfx);
        goto fail;
    }
    /* Files feed JSON pipelines; local syslog daemons parse the BSD format of
     * syslog(3) on /dev/log; network receivers get RFC 5424. */
    if (!given[K_HEADER])
        o->header = o->out.transport == FS_RP_T_FILE   ? FS_RP_H_NONE
                    : o->out.transport == FS_RP_T_UNIX ? FS_RP_H_RFC3164
                                                       : FS_RP_H_RFC5424;
    if (!given[K_BODY])
        o->body = o->out.transport == FS_RP_T_FILE ? FS_RP_B_EVE : FS_RP_B_TEXT;
    spool_name(o);
    free(copy);
    return 0;
fail:
    free(copy);
    fs_rp_output_free(o);
    return -1;
}

/* ------------------------------------------------------------------ */
/* Custom option kinds. */

/* A syslog HOSTNAME: 1 to 255 printable characters without blanks. */
static int check_hostname(void *conf, const char *v, char *err, size_t errlen)
{
    size_t n = strlen(v);

    (void)conf;
    for (const char *p = v; *p; p++)
        if (*p < 33 || *p > 126)
            n = 0;
    if (n == 0 || n > 255) {
        fs_opts_fail(err, errlen, "'%s' is not 1 to 255 printable characters without blanks",
                     v);
        return -1;
    }
    return 0;
}

#define OFF(f) offsetof(struct fs_rp_config, f)

static const struct fs_opt rows[] = {
    { "subscribe", FS_OPT_STRV, OFF(subscribe), 0, 0, fs_opts_check_endpoint, NULL,
      "ENDPOINT", "the analyzer's events bus (its --publish); repeatable", true, 0, 0 },
    { "replay", FS_OPT_STR, OFF(replay), 0, 0, fs_opts_check_endpoint, NULL, "ENDPOINT",
      "the analyzer's replay endpoint (its --replay): events missed are fetched from its "
      "journal", false, 0, 0 },
    { "state-dir", FS_OPT_STR, OFF(state_dir), 0, 0, NULL, NULL, "DIR",
      "where the reporter keeps its place in the journal, its fold and report state and "
      "one spool per output (required)", false, 0, 0 },
    { "output", FS_OPT_STRV, OFF(output), 0, 0, NULL, NULL, "SPEC",
      "where alerts go: 'udp|tcp|tls://HOST:PORT', 'unix:///dev/log' or "
      "'file:///PATH', then settings header=, body=, facility=, app=, ca=, cert=, key=, "
      "name=, insecure=, spool= (docs/reporter.md); repeatable", true, 0, 0 },
    { "confirm", FS_OPT_SECONDS, OFF(confirm), 0, 3600, NULL, NULL, "SECONDS",
      "a TCP or TLS send counts as delivered once the connection stayed up this long "
      "after it; default 2s", false, 0, 0 },
    { "backoff-max", FS_OPT_SECONDS, OFF(backoff_max), 1, 3600, NULL, NULL, "SECONDS",
      "longest wait between reconnection attempts; default 30s", false, 0, 0 },
    { "send-timeout", FS_OPT_SECONDS, OFF(send_timeout), 1, 600, NULL, NULL, "SECONDS",
      "bound on a connect, TLS handshake or send; default 5s", false, 0, 0 },
    { "hostname", FS_OPT_STR, OFF(hostname), 0, 0, check_hostname, NULL, "NAME",
      "HOSTNAME of the syslog header; default this machine's name", false, 0, 0 },
    { "sender", FS_OPT_STR, OFF(sender), 0, 0, fs_opts_check_sender, NULL, "ID",
      "this reporter's id in replay requests and reports; default reporter@<hostname>",
      false, 0, 0 },
    { "fold-window", FS_OPT_SECONDS, OFF(fold_window), 0, DAY, NULL, NULL, "SECONDS",
      "anomalies of one host and class within this event time become one alert with a "
      "count, 0 off; default 10m", false, 0, 0 },
    { "fold-max", FS_OPT_U32, OFF(fold_max), 1, 10000000, NULL, NULL, "N",
      "open fold windows at most (the one ending first is closed early); default 4096",
      false, 0, 0 },
    { "rate-limit", FS_OPT_U32, OFF(rate_limit), 0, 10000000, NULL, NULL, "N",
      "alerts per minute of event time at most, the rest counted in one storm alert, "
      "0 no limit; default 0", false, 0, 0 },
    { "report-dir", FS_OPT_STR, OFF(report_dir), 0, 0, NULL, NULL, "DIR",
      "write JSON reports here; default: no reports", false, 0, 0 },
    { "hourly", FS_OPT_FLAG, OFF(hourly), 0, 0, NULL, NULL, "yes|no",
      "a report per analyzer summary period; default yes", false, 0, 0 },
    { "daily", FS_OPT_FLAG, OFF(daily), 0, 0, NULL, NULL, "yes|no",
      "a report per day; default yes", false, 0, 0 },
    { "keep-hourly", FS_OPT_SECONDS, OFF(keep_hourly), 0, 3650 * DAY, NULL, NULL, "SECONDS",
      "remove period reports older than this (event time), 0 keep all; default 7d",
      false, 0, 0 },
    { "keep-daily", FS_OPT_SECONDS, OFF(keep_daily), 0, 3650 * DAY, NULL, NULL, "SECONDS",
      "remove daily reports older than this, 0 keep all; default 90d", false, 0, 0 },
    { "utc-offset", FS_OPT_UTC_OFFSET, OFF(utc_offset), 0, 0, NULL, NULL, "SECONDS",
      "where report days begin, east of UTC (e.g. 1h, -5h); default 0", false, 0, 0 },
    { "report-anomalies", FS_OPT_U32, OFF(report_anomalies), 1, 10000000, NULL, NULL, "N",
      "anomalies listed per report at most (the rest counted); default 10000", false, 0, 0 },
    { "report-now", FS_OPT_FLAG, OFF(report_now), 0, 0, NULL, NULL, NULL,
      "write an on-demand report of the day so far from the state file and exit (a running "
      "reporter does it on SIGUSR2, with what it holds in memory)", false, 0, 0 },
    { "stats-interval", FS_OPT_SECONDS, OFF(stats_interval), 0, DAY, NULL, NULL, "SECONDS",
      "log counters this often, 0 never (SIGUSR1 logs them at once); default 5m",
      false, 0, 0 },
    FS_OPTS_LOG_ROWS(OFF(log_level)),
};

const struct fs_opts fs_rp_config_opts = {
    rows, sizeof(rows) / sizeof(rows[0]),
    "Turns the analyzer's anomalies into syslog/SIEM alerts (delivered at least once,\n"
    "spooled on disk while a receiver is away) and its summaries into JSON reports.\n"
    "docs/reporter.md describes every option.\n"
};

void fs_rp_config_init(struct fs_rp_config *c)
{
    memset(c, 0, sizeof(*c));
    c->confirm = 2;
    c->backoff_max = 30;
    c->send_timeout = 5;
    c->fold_window = 600;
    c->fold_max = 4096;
    c->hourly = true;
    c->daily = true;
    c->keep_hourly = 7 * DAY;
    c->keep_daily = 90 * DAY;
    c->report_anomalies = 10000;
    c->stats_interval = 300;
    c->log_level = FS_LOG_INFO;
}

static void free_outputs(struct fs_rp_config *c)
{
    for (size_t i = 0; i < c->noutputs; i++)
        fs_rp_output_free(&c->outputs[i]);
    free(c->outputs);
    c->outputs = NULL;
    c->noutputs = 0;
}

void fs_rp_config_free(struct fs_rp_config *c)
{
    fs_opts_free(&fs_rp_config_opts, c);
    free_outputs(c);
    memset(c, 0, sizeof(*c));
}

int fs_rp_config_set(struct fs_rp_config *c, const char *key, const char *value, char *err,
                     size_t errlen)
{
    return fs_opts_set(&fs_rp_config_opts, c, key, value, err, errlen);
}

/* A value that continues the spec before it: settings given as separate
 * arguments (--output tcp://h:514 body=cef). */
static bool is_continuation(const char *v)
{
    const char *eq = strchr(v, '=');
    return strstr(v, "://") == NULL && eq != NULL && eq != v;
}

static int parse_outputs(struct fs_rp_config *c, char *err, size_t errlen)
{
    free_outputs(c);
    if (c->output.n > 0 && is_continuation(c->output.v[0])) {
        fs_opts_fail(err, errlen, "output 1: '%s' is not TRANSPORT://ADDRESS (udp, tcp, tls, "
                     "unix or file)", c->output.v[0]);
        return -1;
    }
    c->outputs = calloc(c->output.n ? c->output.n : 1, sizeof(*c->outputs));
    if (c->outputs == NULL) {
        fs_opts_fail(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < c->output.n;) {
        size_t j = i + 1, len = strlen(c->output.v[i]) + 1;
        char *text;
        int rc;

        while (j < c->output.n && is_continuation(c->output.v[j]))
            len += strlen(c->output.v[j++]) + 1;
        if ((text = malloc(len)) == NULL) {
            fs_opts_fail(err, errlen, "out of memory");
            return -1;
        }
        strcpy(text, c->output.v[i]);
        for (size_t k = i + 1; k < j; k++)
            strcat(strcat(text, " "), c->output.v[k]);
        rc = fs_rp_output_parse(text, (unsigned)c->noutputs + 1, &c->outputs[c->noutputs],
                                err, errlen);
        free(text);
        if (rc != 0)
            return -1;
        for (size_t k = 0; k < c->noutputs; k++) {
            if (strcmp(c->outputs[k].spool, c->outputs[c->noutputs].spool) == 0) {
                fs_opts_fail(err, errlen, "output %zu: same destination as output %zu",
                             c->noutputs + 1, k + 1);
                fs_rp_output_free(&c->outputs[c->noutputs]);
                return -1;
            }
        }
        c->noutputs++;
        i = j;
    }
    return 0;
}

int fs_rp_config_check(struct fs_rp_config *c, char *err, size_t errlen)
{
    if (parse_outputs(c, err, errlen) != 0)
        return -1;
    if (c->state_dir == NULL) {
        fs_opts_fail(err, errlen, "state-dir: required (where the reporter keeps its place "
                     "and its spools)");
        return -1;
    }
    if (c->report_now) {
        if (c->report_dir == NULL) {
            fs_opts_fail(err, errlen, "report-now: needs report-dir");
            return -1;
        }
        return 0;
    }
    if (c->subscribe.n == 0 && c->replay == NULL) {
        fs_opts_fail(err, errlen, "nothing to read: give subscribe (the analyzer's events "
                     "bus) and/or replay");
        return -1;
    }
    if (c->noutputs == 0 && c->report_dir == NULL) {
        fs_opts_fail(err, errlen, "nothing to do: give output and/or report-dir");
        return -1;
    }
    if (c->report_dir != NULL && !c->hourly && !c->daily) {
        fs_opts_fail(err, errlen, "report-dir: hourly and daily are both off");
        return -1;
    }
    return 0;
}

enum fs_opts_result fs_rp_config_parse_args(struct fs_rp_config *c, int argc, char *const argv[],
                                            char *err, size_t errlen)
{
    enum fs_opts_result r = fs_opts_parse_args(&fs_rp_config_opts, c, argc, argv, NULL, err,
                                               errlen);

    return r == FS_OPTS_OK && fs_rp_config_check(c, err, errlen) != 0 ? FS_OPTS_ERROR : r;
}
