/*
 * export.c - the sensor's UDP flow export (see export.h).
 *
 * Flows wait in one queue shared by every destination; each destination
 * turns the queue into as many datagrams of its format as it takes. The
 * queue holds several datagrams' worth, so only the last datagram of a
 * round goes out part-filled. The encoders are made at the first send, when
 * the uptime zero of v5 and v9 is known.
 */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "export.h"
#include "exportenc.h"
#include "log.h"

#define QUEUE_FLOWS 256
#define MAX_DATAGRAM 65507 /* largest UDP payload over IPv4 */
#define ERROR_LOG_MS 60000 /* one line per destination per minute at most */
#define URL_MAX 300
#define V5_FULL (FS_EXPORT_V5_HEADER + FS_EXPORT_V5_MAX_FLOWS * FS_EXPORT_V5_RECORD)

struct dest {
    char url[URL_MAX];
    uint16_t version;
    int fd;
    struct fs_export *enc; /* NULL until the first send */
    struct fs_emit_stats st;
    uint64_t next_log_ms;
};

struct fs_emit {
    struct fs_emit_config cfg;
    uint64_t boot_ms;
    struct dest dests[FS_EMIT_MAX_DESTS];
    size_t ndests;
    struct fs_flow queue[QUEUE_FLOWS];
    size_t nqueue;
    struct fs_flow v4only[QUEUE_FLOWS]; /* the queue less IPv6, for v5 */
    uint8_t buf[MAX_DATAGRAM];
};

/* The fields the sensor knows, in the IPv4 data template; the IPv6 one
 * follows (export.h). Counters are 64-bit: a sensor sees elephants whole. */
static const struct fs_export_field v9_fields[] = {
    {8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {5, 1}, {6, 1}, {10, 4}, {58, 2},
    {60, 1}, {32, 2}, {2, 8}, {1, 8}, {22, 4}, {21, 4},
};
static const struct fs_export_field ipfix_fields[] = {
    {8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {5, 1}, {6, 2}, {10, 4}, {58, 2},
    {60, 1}, {32, 2}, {2, 8}, {1, 8}, {152, 8}, {153, 8},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static struct fs_export_config encoder_config(const struct fs_emit *x, uint16_t version)
{
    struct fs_export_config c = {
        .version = version,
        .domain = x->cfg.domain,
        .fields = version == 10 ? ipfix_fields : v9_fields,
        .nfields = version == 10 ? NELEM(ipfix_fields) : NELEM(v9_fields),
        .template_interval = x->cfg.template_interval,
        .template_timeout_ms = x->cfg.template_timeout_ms,
        .boot_ms = x->boot_ms,
    };

    if (version == 5)
        c.domain &= 0xffff; /* engine type and id */
    return c;
}

struct fs_emit *fs_emit_new(const struct fs_emit_config *cfg)
{
    struct fs_emit *x = calloc(1, sizeof(*x));
    static const uint16_t versions[] = {9, 10};

    if (x == NULL)
        return NULL;
    x->cfg = *cfg;
    if (!x->cfg.datagram_size)
        x->cfg.datagram_size = FS_EMIT_DEFAULT_DATAGRAM;
    if (!x->cfg.template_timeout_ms)
        x->cfg.template_timeout_ms = FS_EMIT_DEFAULT_TEMPLATE_TIMEOUT_MS;
    if (x->cfg.datagram_size > MAX_DATAGRAM)
        goto fail;
    /* The templates and one record of either family must fit in a datagram. */
    for (size_t i = 0; i < NELEM(versions); i++) {
        struct fs_export_config c = encoder_config(x, versions[i]);
        struct fs_export *e = fs_export_new(&c);
        size_t need;

        if (e == NULL)
            goto fail;
        need = fs_export_header_size(e) + fs_export_templates_size(e) + 4 +
               fs_export_record_size(e, 6) + 3;
        fs_export_free(e);
        if (x->cfg.datagram_size < need)
            goto fail;
    }
    return x;
fail:
    free(x);
    return NULL;
}

void fs_emit_free(struct fs_emit *x)
{
    if (x == NULL)
        return;
    for (size_t i = 0; i < x->ndests; i++) {
        close(x->dests[i].fd);
        fs_export_free(x->dests[i].enc);
    }
    free(x);
}

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Splits "HOST:PORT", "[V6]:PORT", "HOST" into `host` and `port`. */
static int split_hostport(const char *s, char *host, size_t hostcap, char *port,
                          size_t portcap, const char *defport)
{
    const char *colon;
    size_t hlen;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL || (close[1] != '\0' && close[1] != ':'))
            return -1;
        hlen = (size_t)(close - s - 1);
        s++;
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = strchr(s, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL)
            return -1; /* a bare IPv6 address: needs brackets */
        hlen = colon ? (size_t)(colon - s) : strlen(s);
    }
    if (hlen == 0 || hlen >= hostcap)
        return -1;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (snprintf(port, portcap, "%s", colon ? colon + 1 : defport) >= (int)portcap ||
        port[0] == '\0')
        return -1;
    for (const char *p = port; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    return atoi(port) > 0 && atoi(port) <= 65535 ? 0 : -1;
}

int fs_emit_add(struct fs_emit *x, const char *url, char *err, size_t errlen)
{
    static const struct {
        const char *scheme;
        uint16_t version;
        const char *port;
    } schemes[] = {{"ipfix://", 10, "4739"}, {"v9://", 9, "2055"}, {"v5://", 5, "2055"}};
    struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res = NULL;
    char host[256], port[8];
    struct dest *d;
    size_t i;
    int rc, fd;

    if (x->ndests == FS_EMIT_MAX_DESTS) {
        fail(err, errlen, "%s: at most %d export destinations", url, FS_EMIT_MAX_DESTS);
        return -1;
    }
    if (strlen(url) >= URL_MAX) {
        fail(err, errlen, "'%.40s...': too long", url);
        return -1;
    }
    for (i = 0; i < NELEM(schemes); i++)
        if (strncmp(url, schemes[i].scheme, strlen(schemes[i].scheme)) == 0)
            break;
    if (i == NELEM(schemes)) {
        fail(err, errlen, "'%s': export URLs are ipfix://, v9:// or v5://HOST[:PORT]", url);
        return -1;
    }
    if (split_hostport(url + strlen(schemes[i].scheme), host, sizeof(host), port,
                       sizeof(port), schemes[i].port) < 0) {
        fail(err, errlen, "'%s': expected %sHOST[:PORT] (IPv6 in brackets)", url,
             schemes[i].scheme);
        return -1;
    }
    if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
        fail(err, errlen, "'%s': %s", url, gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
        fail(err, errlen, "'%s': %s", url, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    d = &x->dests[x->ndests++];
    memset(d, 0, sizeof(*d));
    snprintf(d->url, sizeof(d->url), "%s", url);
    d->version = schemes[i].version;
    d->fd = fd;
    return 0;
}

void fs_emit_set_boot(struct fs_emit *x, uint64_t boot_ms)
{
    x->boot_ms = boot_ms;
}

static void send_error(struct dest *d, size_t flows, uint64_t now_ms, int err)
{
    d->st.send_errors++;
    d->st.lost_flows += flows;
    if (now_ms >= d->next_log_ms) {
        fs_log(FS_LOG_WARNING, "export to %s: %s (%llu datagrams lost so far)", d->url,
               strerror(err), (unsigned long long)d->st.send_errors);
        d->next_log_ms = now_ms + ERROR_LOG_MS;
    }
}

/* Sends `n` flows to one destination, in as many datagrams as they take. */
static void send_flows(struct fs_emit *x, struct dest *d, const struct fs_flow *flows,
                       size_t n, uint64_t now_ms)
{
    size_t off = 0, cap = x->cfg.datagram_size;

    if (d->enc == NULL) {
        struct fs_export_config c;

        if (x->boot_ms == 0)
            x->boot_ms = now_ms;
        c = encoder_config(x, d->version);
        if ((d->enc = fs_export_new(&c)) == NULL) {
            send_error(d, n, now_ms, errno);
            return;
        }
    }
    /* v5 datagrams are always let hold their 30 records (1464 bytes), as
     * every v5 exporter sends them. */
    if (d->version == 5 && cap < V5_FULL)
        cap = V5_FULL;
    while (off < n) {
        size_t used;
        int len = fs_export_encode(d->enc, flows + off, n - off, now_ms, x->buf, cap, &used);

        /* Checked in fs_emit_new (sizes) and by the caller (no IPv6 for v5). */
        if (len < 0 || used == 0) {
            send_error(d, n - off, now_ms, len < 0 ? errno : ENOSPC);
            return;
        }
        if (send(d->fd, x->buf, (size_t)len, MSG_DONTWAIT) == len) {
            d->st.datagrams++;
            d->st.flows += used;
            d->st.bytes += (uint64_t)len;
        } else {
            send_error(d, used, now_ms, errno);
        }
        off += used;
    }
}

void fs_emit_flush(struct fs_emit *x, uint64_t now_ms)
{
    size_t n4 = 0;
    bool have_v4only = false;

    if (x->nqueue == 0)
        return;
    for (size_t i = 0; i < x->ndests; i++) {
        struct dest *d = &x->dests[i];

        if (d->version != 5) {
            send_flows(x, d, x->queue, x->nqueue, now_ms);
            continue;
        }
        if (!have_v4only) {
            for (size_t k = 0; k < x->nqueue; k++)
                if (x->queue[k].src_addr.af != 6 && x->queue[k].dst_addr.af != 6)
                    x->v4only[n4++] = x->queue[k];
            have_v4only = true;
        }
        d->st.skipped_ipv6 += x->nqueue - n4;
        send_flows(x, d, x->v4only, n4, now_ms);
    }
    x->nqueue = 0;
}

void fs_emit_flow(struct fs_emit *x, const struct fs_flow *f, uint64_t now_ms)
{
    if (x->ndests == 0)
        return;
    x->queue[x->nqueue++] = *f;
    if (x->nqueue == QUEUE_FLOWS)
        fs_emit_flush(x, now_ms);
}

size_t fs_emit_count(const struct fs_emit *x)
{
    return x->ndests;
}

const char *fs_emit_name(const struct fs_emit *x, size_t i)
{
    return i < x->ndests ? x->dests[i].url : NULL;
}

const struct fs_emit_stats *fs_emit_stats(const struct fs_emit *x, size_t i)
{
    return i < x->ndests ? &x->dests[i].st : NULL;
}
