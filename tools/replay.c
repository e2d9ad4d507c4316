/*
 * replay.c - fs-replay: sends recorded flows to a collector as NetFlow v9
 * and IPFIX export datagrams over UDP, as routers would have exported them,
 * but at a chosen pace: a week of history goes through in seconds.
 *
 *   fs-replay --to HOST:PORT [--read FILE...] [--format v9|ipfix|mixed]
 *             [--exporters N] [--rate FLOWS/S] [--hold SECONDS]
 *             [--template-interval N] [--datagram-size BYTES]
 *
 * The flows are read by the analyzer's reader (analyzer/input.h): the JSON
 * lines of fs-netgen and `flowsentry-collector --json`, nfdump CSV, or
 * captures; "-" or no --read is standard input. They are spread over
 * --exporters fake exporters by their pair of addresses, so both directions
 * of a conversation leave through the same one. With --format mixed every
 * second exporter speaks v9, the others IPFIX. Exporter k (from 0) has
 * observation domain / source id k+1 and, when the collector is on an IPv4
 * loopback address, its own source address 127.0.0.(k+1), so a collector
 * sees that many exporters.
 *
 * Time is event time, never the wall clock. An exporter sends a datagram
 * when it is full, or when the input's event time has moved --hold past the
 * oldest flow it holds (as a router's export timer would, but in event
 * time, so sparse night hours still fill datagrams). The datagram is
 * stamped with the end of its latest flow rounded up to the second (the
 * resolution of the v9 and IPFIX headers), so the collector rebuilds every
 * start and end to the millisecond; v9 times are uptime-relative, from an
 * uptime zero an hour before the first flow. Flows reach the collector in
 * the input's order give or take --hold, well within the analyzer's
 * lateness. Each exporter sends its templates first and again every
 * --template-interval datagrams. The counters sent are the flows' own,
 * already scaled, so every exporter announces itself as unsampled (1 in 1).
 *
 * Only the fields fs-netgen and routers' common templates carry are sent:
 * addresses, ports, protocol, ToS, TCP flags, packets, bytes, interfaces,
 * start and end, next hop, AS numbers and masks (64-bit counters); fields a
 * flow lacks go out as 0.
 *
 * --rate paces the flows (0: as fast as the socket goes): the sender sleeps
 * whenever it is ahead of the schedule. When done it prints one line of
 * key=value pairs: flows, datagrams, bytes, exporters, seconds, rate
 * (flows/s reached), errors (datagrams not sent) and malformed (input
 * records refused). Exit status 1 when an input could not be read, a
 * datagram could not be sent, or a signal stopped it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "exportenc.h"
#include "input.h"
#include "log.h"
#include "opts.h"
#include "signals.h"

#define MAX_EXPORTERS 64
#define MAX_DATAGRAM 65000
#define MAX_FIT 1024             /* flows in a datagram at most */
#define UPTIME_LEAD_MS 3600000   /* exporters booted an hour before the first flow */
#define PACING_SLACK_S 0.0002

struct conf {
    struct fs_strv read;
    char *to;
    char *format;
    uint32_t exporters;
    double rate;
    uint32_t template_interval;
    uint32_t datagram_size;
    uint32_t hold;
};

struct exporter {
    struct fs_export *enc;
    int fd;
    uint16_t version;
    struct fs_flow *pending;     /* `fit` flows: one datagram's worth */
    size_t npending, fit;
    uint64_t oldest_ms;          /* event time of the oldest pending flow */
    uint64_t export_ms;          /* last export time: never goes back */
};

struct replay {
    const struct conf *conf;
    struct exporter *ex;
    size_t nex;
    uint64_t boot_ms;            /* 0 until the first flow */
    uint64_t hold_ms;
    uint64_t flows, datagrams, bytes, errors;
    double t0;
    uint8_t buf[MAX_DATAGRAM];
};

/* Both templates: v9 as Cisco routers send it (uptime times), IPFIX with
 * absolute milliseconds. */
static const struct fs_export_field v9_fields[] = {
    {8, 4}, {12, 4}, {15, 4}, {7, 2}, {11, 2}, {4, 1}, {5, 1}, {6, 1}, {10, 4}, {14, 4},
    {2, 8}, {1, 8}, {22, 4}, {21, 4}, {16, 4}, {17, 4}, {9, 1}, {13, 1},
};
static const struct fs_export_field ipfix_fields[] = {
    {8, 4}, {12, 4}, {15, 4}, {7, 2}, {11, 2}, {4, 1}, {5, 1}, {6, 2}, {10, 4}, {14, 4},
    {2, 8}, {1, 8}, {152, 8}, {153, 8}, {16, 4}, {17, 4}, {9, 1}, {13, 1},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int check_format(void *conf, const char *v, char *err, size_t errlen)
{
    (void)conf;
    if (strcmp(v, "v9") && strcmp(v, "ipfix") && strcmp(v, "mixed")) {
        fs_opts_fail(err, errlen, "'%s' is not v9, ipfix or mixed", v);
        return -1;
    }
    return 0;
}

#define OFF(field) offsetof(struct conf, field)

static const struct fs_opt options[] = {
    { "to", FS_OPT_STR, OFF(to), .arg = "HOST:PORT",
      .help = "the collector's UDP address (required)" },
    { "read", FS_OPT_STRV, OFF(read), .repeat = true, .arg = "FILE",
      .help = "flows to send: JSON lines, nfdump CSV or a capture; '-' standard input "
      "(the default)" },
    { "format", FS_OPT_STR, OFF(format), .set = check_format, .arg = "v9|ipfix|mixed",
      .help = "export protocol; mixed: every second exporter v9, the others IPFIX; "
      "default ipfix" },
    { "exporters", FS_OPT_U32, OFF(exporters), 1, MAX_EXPORTERS, .arg = "N",
      .help = "fake exporters the flows are spread over; default 1, 4 with mixed" },
    { "rate", FS_OPT_DOUBLE, OFF(rate), .dmin = 0, .dmax = 1e9, .arg = "FLOWS/S",
      .help = "flows per second, 0 as fast as possible; default 200000" },
    { "template-interval", FS_OPT_U32, OFF(template_interval), 1, 1000000, .arg = "N",
      .help = "templates again every N datagrams of an exporter; default 100" },
    { "hold", FS_OPT_SECONDS, OFF(hold), 0, 3600, .arg = "SECONDS",
      .help = "event time an exporter keeps a flow before sending it, at most; default 10" },
    { "datagram-size", FS_OPT_U32, OFF(datagram_size), 512, MAX_DATAGRAM, .arg = "BYTES",
      .help = "largest datagram; default 1400" },
};

static const struct fs_opts table = {
    options, NELEM(options),
    "Sends recorded flows to a collector as NetFlow v9 / IPFIX over UDP, paced.\n"
};

/* "HOST:PORT" or "[V6]:PORT" to an address. */
static int resolve(const char *target, struct addrinfo **ai, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(target, ':');
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM};
    size_t n;
    int rc;

    if (colon == NULL || colon == target || colon[1] == '\0' ||
        (n = (size_t)(colon - target)) >= sizeof(host)) {
        fs_opts_fail(err, errlen, "--to '%s' is not HOST:PORT", target);
        return -1;
    }
    memcpy(host, target, n);
    host[n] = '\0';
    if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    if ((rc = getaddrinfo(host, colon + 1, &hints, ai)) != 0) {
        fs_opts_fail(err, errlen, "--to '%s': %s", target, gai_strerror(rc));
        return -1;
    }
    return 0;
}

/* A socket connected to the collector, from 127.0.0.(k+1) when the collector
 * is on IPv4 loopback: each exporter its own address, as real ones have. */
static int open_socket(const struct addrinfo *ai, const char *target, size_t k, char *err,
                       size_t errlen)
{
    const struct sockaddr_in *dst = (const struct sockaddr_in *)ai->ai_addr;
    int fd = socket(ai->ai_family, SOCK_DGRAM, 0);

    if (fd < 0) {
        fs_opts_fail(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (ai->ai_family == AF_INET && (ntohl(dst->sin_addr.s_addr) >> 24) == 127) {
        struct sockaddr_in src = {.sin_family = AF_INET};

        src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)(k + 1));
        if (bind(fd, (const struct sockaddr *)&src, sizeof(src)) < 0) {
            fs_opts_fail(err, errlen, "bind 127.0.0.%zu: %s", k + 1, strerror(errno));
            close(fd);
            return -1;
        }
    }
    /* Connected: the route is looked up once, not per datagram. */
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        fs_opts_fail(err, errlen, "connect %s: %s", target, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int replay_open(struct replay *r, const struct conf *c, char *err, size_t errlen)
{
    struct addrinfo *ai;
    bool mixed = strcmp(c->format, "mixed") == 0;

    if (resolve(c->to, &ai, err, errlen) < 0)
        return -1;
    r->conf = c;
    r->hold_ms = (uint64_t)c->hold * 1000;
    r->nex = c->exporters ? c->exporters : mixed ? 4 : 1;
    if ((r->ex = calloc(r->nex, sizeof(*r->ex))) == NULL) {
        fs_opts_fail(err, errlen, "out of memory");
        r->nex = 0;
        freeaddrinfo(ai);
        return -1;
    }
    for (size_t k = 0; k < r->nex; k++)
        r->ex[k].fd = -1;
    for (size_t k = 0; k < r->nex; k++) {
        struct exporter *x = &r->ex[k];

        x->version = strcmp(c->format, "v9") == 0 || (mixed && k % 2 == 0) ? 9 : 10;
        if ((x->fd = open_socket(ai, c->to, k, err, errlen)) < 0) {
            freeaddrinfo(ai);
            return -1;
        }
    }
    freeaddrinfo(ai);
    return 0;
}

/* The encoders wait for the first flow: v9 uptimes count from a boot time
 * taken from the data, not from the clock of this machine. */
static int replay_start(struct replay *r, const struct fs_flow *f)
{
    uint64_t t = FS_FLOW_HAS(f, FS_F_START) ? f->start_ms : f->end_ms;

    r->boot_ms = t > UPTIME_LEAD_MS ? t - UPTIME_LEAD_MS : 1;
    for (size_t k = 0; k < r->nex; k++) {
        struct exporter *x = &r->ex[k];
        struct fs_export_config ec = {
            .version = x->version,
            .domain = (uint32_t)k + 1,
            .fields = x->version == 9 ? v9_fields : ipfix_fields,
            .nfields = x->version == 9 ? NELEM(v9_fields) : NELEM(ipfix_fields),
            .template_interval = r->conf->template_interval,
            .sampling_rate = 1,
            .boot_ms = r->boot_ms,
        };
        size_t room, rec;

        if ((x->enc = fs_export_new(&ec)) == NULL)
            return -1;
        /* A full datagram without templates: one set per family at worst,
         * each with its header and padding. */
        room = r->conf->datagram_size - fs_export_header_size(x->enc) - 2 * (4 + 3);
        rec = fs_export_record_size(x->enc, 6);
        x->fit = room / rec < MAX_FIT ? room / rec : MAX_FIT;
        if ((x->pending = calloc(x->fit, sizeof(*x->pending))) == NULL)
            return -1;
    }
    return 0;
}

static void replay_close(struct replay *r)
{
    for (size_t k = 0; k < r->nex; k++) {
        fs_export_free(r->ex[k].enc);
        free(r->ex[k].pending);
        if (r->ex[k].fd >= 0)
            close(r->ex[k].fd);
    }
    free(r->ex);
}

static uint64_t flow_time(const struct fs_flow *f)
{
    return FS_FLOW_HAS(f, FS_F_END) ? f->end_ms : FS_FLOW_HAS(f, FS_F_START) ? f->start_ms : 0;
}

static void pace(struct replay *r)
{
    double due, now;
    struct timespec ts;

    if (r->conf->rate <= 0)
        return;
    due = r->t0 + (double)r->flows / r->conf->rate;
    now = fs_now_s();
    if (due - now <= PACING_SLACK_S)
        return;
    ts.tv_sec = (time_t)due;
    ts.tv_nsec = (long)((due - (double)ts.tv_sec) * 1e9);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
           !fs_sig_stopped())
        ;
}

/* Sends one datagram of the exporter's oldest pending flows. */
static void send_one(struct replay *r, struct exporter *x)
{
    uint64_t last = x->export_ms;
    size_t used;
    int len;

    for (size_t i = 0; i < x->npending; i++)
        if (flow_time(&x->pending[i]) > last)
            last = flow_time(&x->pending[i]);
    x->export_ms = (last + 999) / 1000 * 1000;
    len = fs_export_encode(x->enc, x->pending, x->npending, x->export_ms, r->buf,
                           r->conf->datagram_size, &used);
    if (len < 0 || used == 0) {
        /* datagram-size is at least 512 bytes: room for the templates and
         * a record, so this cannot happen; dropping keeps the loop finite */
        fs_log(FS_LOG_ERROR, "cannot encode a datagram: %s", strerror(errno));
        r->errors++;
        used = x->npending;
    } else if (send(x->fd, r->buf, (size_t)len, 0) != len) {
        if (r->errors++ == 0)
            fs_log(FS_LOG_ERROR, "send: %s (counted from now on)", strerror(errno));
    } else {
        r->datagrams++;
        r->bytes += (uint64_t)len;
        r->flows += used;
    }
    x->npending -= used;
    memmove(x->pending, x->pending + used, x->npending * sizeof(x->pending[0]));
    x->oldest_ms = x->npending ? flow_time(&x->pending[0]) : 0;
    pace(r);
}

static void flush(struct replay *r, struct exporter *x)
{
    while (x->npending)
        send_one(r, x);
}

/* Both directions of a conversation hash alike. */
static size_t pick(const struct replay *r, const struct fs_flow *f)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < sizeof(f->src_addr.b); i++) {
        h ^= (uint8_t)(f->src_addr.b[i] ^ f->dst_addr.b[i]);
        h *= 1099511628211ull;
    }
    return (size_t)(h % r->nex);
}

static void sink(void *arg, const struct fs_flow *flows, size_t n)
{
    struct replay *r = arg;

    for (size_t i = 0; i < n && !fs_sig_stopped(); i++) {
        const struct fs_flow *f = &flows[i];
        uint64_t t = flow_time(f);
        struct exporter *x;

        if (r->boot_ms == 0 && replay_start(r, f) < 0) {
            fs_log(FS_LOG_ERROR, "out of memory");
            fs_sig_stop();
            return;
        }
        /* An exporter sends what it holds once event time moves --hold on. */
        for (size_t k = 0; k < r->nex; k++) {
            x = &r->ex[k];
            if (x->npending && t > x->oldest_ms + r->hold_ms)
                flush(r, x);
        }
        x = &r->ex[pick(r, f)];
        if (x->npending == 0)
            x->oldest_ms = t;
        x->pending[x->npending++] = *f;
        if (x->npending == x->fit)
            send_one(r, x);
    }
}

static void usage(FILE *fp)
{
    fs_opts_usage(&table, fp, "fs-replay");
}

/* Fills `c` from the command line. Returns -1 to go on, or the exit status. */
static int configure(struct conf *c, int argc, char **argv)
{
    char err[512];

    switch (fs_opts_parse_args(&table, c, argc, argv, NULL, err, sizeof(err))) {
    case FS_OPTS_HELP:
        usage(stdout);
        return 0;
    case FS_OPTS_VERSION:
        printf("fs-replay\n");
        return 0;
    case FS_OPTS_ERROR:
        fprintf(stderr, "fs-replay: %s\n", err);
        usage(stderr);
        return 2;
    case FS_OPTS_OK:
        break;
    }
    if (c->to == NULL) {
        fprintf(stderr, "fs-replay: --to HOST:PORT is required\n");
        usage(stderr);
        return 2;
    }
    if ((c->format == NULL && (c->format = strdup("ipfix")) == NULL) ||
        (c->read.n == 0 && fs_strv_add(&c->read, "-") < 0)) {
        fprintf(stderr, "fs-replay: out of memory\n");
        return 1;
    }
    return -1;
}

static int run(const struct conf *c)
{
    static struct replay r;
    struct fs_in_stats st = {0};
    struct fs_in *in;
    char err[512];
    int status = 0;
    double el;

    if (replay_open(&r, c, err, sizeof(err)) < 0 ||
        ((in = fs_in_new(NULL, sink, &r)) == NULL && snprintf(err, sizeof(err), "out of memory"))) {
        fprintf(stderr, "fs-replay: %s\n", err);
        replay_close(&r);
        return 1;
    }
    fs_sig_install(FS_SIG_STOP);

    r.t0 = fs_now_s();
    for (size_t i = 0; i < c->read.n && !fs_sig_stopped(); i++) {
        if (fs_in_read_file(in, c->read.v[i], FS_IN_AUTO, &st, err, sizeof(err)) < 0) {
            fs_log(FS_LOG_ERROR, "%s", err);
            status = 1;
        }
    }
    for (size_t k = 0; k < r.nex && !fs_sig_stopped(); k++)
        flush(&r, &r.ex[k]);
    el = fs_now_s() - r.t0;
    if (r.errors || fs_sig_stopped())
        status = 1;
    printf("flows=%llu datagrams=%llu bytes=%llu exporters=%zu seconds=%.3f rate=%.0f "
           "errors=%llu malformed=%llu\n",
           (unsigned long long)r.flows, (unsigned long long)r.datagrams,
           (unsigned long long)r.bytes, r.nex, el, el > 0 ? (double)r.flows / el : 0.0,
           (unsigned long long)r.errors, (unsigned long long)st.malformed);
    fs_in_free(in);
    replay_close(&r);
    return status;
}

int main(int argc, char **argv)
{
    struct conf c = {.rate = 200000, .template_interval = 100, .datagram_size = 1400,
                     .hold = 10};
    int status;

    fs_log_set_program("fs-replay");
    if ((status = configure(&c, argc, argv)) < 0)
        status = run(&c);
    fs_opts_free(&table, &c);
    return status;
}
