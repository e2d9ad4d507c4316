/*
 * capture.c - libpcap packet source for the sensor (see capture.h).
 *
 * libpcap reads the device or the file (pcap, pcapng, either byte order,
 * micro- or nanosecond timestamps); frame.c parses each packet's headers
 * before the callback sees it, so that every consumer of packets meters
 * the same fields.
 */
#include <net/if.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "dlt.h"
#include "log.h"

#define SLL2_IFINDEX_OFF 4
#define SLL2_HEADER 20

struct fs_capture {
    pcap_t *p;
    bool live;
    enum fs_frame_link link;
    int dlt;
    uint32_t in_if;
    char name[256];

    struct fs_capture_stats st;
    struct pcap_stat last;   /* pcap_stats' 32-bit counters at the last read */

    /* The callback of the dispatch in progress, and the batch for it. */
    fs_capture_fn fn;
    void *arg;
    struct fs_ft_pkt batch[FS_CAPTURE_BATCH];
    size_t nbatch;
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

static void deliver(struct fs_capture *c)
{
    if (c->nbatch > 0)
        c->fn(c->arg, c->batch, c->nbatch);
    c->nbatch = 0;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct fs_capture *c = (struct fs_capture *)user;
    struct fs_ft_pkt *p = &c->batch[c->nbatch];

    p->wire_len = h->len;
    p->ts_ms = (uint64_t)h->ts.tv_sec * 1000u + (uint64_t)h->ts.tv_usec / 1000u;
    p->in_if = c->in_if;
    if (c->link == FS_FRAME_LINK_SLL2 && h->caplen >= SLL2_HEADER) {
        const uint8_t *b = bytes + SLL2_IFINDEX_OFF;

        p->in_if = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    }
    p->result = fs_frame_parse(bytes, h->caplen, c->link, &p->frame);
    c->st.packets++;
    c->st.bytes += h->len;
    if (++c->nbatch == FS_CAPTURE_BATCH)
        deliver(c);
}

/* Checks the link type and installs the filter: the part of opening that
 * live and offline captures share. */
static int setup(struct fs_capture *c, const struct fs_capture_config *cfg, char *err,
                 size_t errlen)
{
    struct bpf_program prog;
    int link;

    c->dlt = pcap_datalink(c->p);
    if ((link = fs_dlt_frame_link(c->dlt)) < 0) {
        fail(err, errlen, "%s: link type %s (%d) is not supported", c->name,
             fs_dlt_name(c->dlt), c->dlt);
        return -1;
    }
    c->link = (enum fs_frame_link)link;
    if (cfg->filter == NULL || cfg->filter[0] == '\0')
        return 0;
    if (pcap_compile(c->p, &prog, cfg->filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        fail(err, errlen, "filter '%s': %s", cfg->filter, pcap_geterr(c->p));
        return -1;
    }
    if (pcap_setfilter(c->p, &prog) < 0) {
        fail(err, errlen, "filter '%s': %s", cfg->filter, pcap_geterr(c->p));
        pcap_freecode(&prog);
        return -1;
    }
    pcap_freecode(&prog);
    return 0;
}

static struct fs_capture *capture_new(const char *name, const struct fs_capture_config *cfg)
{
    struct fs_capture *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->in_if = cfg->in_if;
    return c;
}

struct fs_capture *fs_capture_open_live(const char *device, const struct fs_capture_config *cfg,
                                        char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    struct fs_capture *c = capture_new(device, cfg);
    int rc;

    if (c == NULL) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    c->live = true;
    if (c->in_if == 0)
        c->in_if = if_nametoindex(device); /* 0 for "any" */
    if ((c->p = pcap_create(device, ebuf)) == NULL) {
        fail(err, errlen, "%s: %s", device, ebuf);
        goto fail;
    }
    pcap_set_snaplen(c->p, cfg->snaplen > 0 ? cfg->snaplen : FS_CAPTURE_DEFAULT_SNAPLEN);
    pcap_set_promisc(c->p, cfg->promisc);
    pcap_set_timeout(c->p, cfg->timeout_ms > 0 ? cfg->timeout_ms : FS_CAPTURE_DEFAULT_TIMEOUT_MS);
    pcap_set_immediate_mode(c->p, cfg->immediate);
    if (cfg->buffer_size > 0)
        pcap_set_buffer_size(c->p, cfg->buffer_size);
    rc = pcap_activate(c->p);
    if (rc < 0) {
        /* PCAP_ERROR carries its own text; the others (no such device, no
         * permission, ...) a status and maybe a detail. */
        const char *detail = pcap_geterr(c->p);

        if (rc == PCAP_ERROR)
            fail(err, errlen, "%s: %s", device, detail);
        else
            fail(err, errlen, "%s: %s%s%s%s", device, pcap_statustostr(rc),
                 detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
        goto fail;
    }
    if (rc > 0)
        fs_log(FS_LOG_WARNING, "%s: %s (%s)", device, pcap_statustostr(rc), pcap_geterr(c->p));
    if (setup(c, cfg, err, errlen) < 0)
        goto fail;
    if (pcap_setnonblock(c->p, 1, ebuf) < 0) {
        fail(err, errlen, "%s: %s", device, ebuf);
        goto fail;
    }
    return c;
fail:
    fs_capture_close(c);
    return NULL;
}

struct fs_capture *fs_capture_open_file(const char *path, const struct fs_capture_config *cfg,
                                        char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    struct fs_capture *c = capture_new(path, cfg);

    if (c == NULL) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    if ((c->p = pcap_open_offline(path, ebuf)) == NULL) {
        fail(err, errlen, "%s", ebuf);
        goto fail;
    }
    if (setup(c, cfg, err, errlen) < 0)
        goto fail;
    return c;
fail:
    fs_capture_close(c);
    return NULL;
}

void fs_capture_close(struct fs_capture *c)
{
    if (c == NULL)
        return;
    if (c->p)
        pcap_close(c->p);
    free(c);
}

const char *fs_capture_name(const struct fs_capture *c)
{
    return c->name;
}

const char *fs_capture_link_name(const struct fs_capture *c)
{
    return fs_dlt_name(c->dlt);
}

int fs_capture_fd(const struct fs_capture *c)
{
    return c->live ? pcap_get_selectable_fd(c->p) : -1;
}

int fs_capture_dispatch(struct fs_capture *c, int max, fs_capture_fn fn, void *arg,
                        char *err, size_t errlen)
{
    int n;

    c->fn = fn;
    c->arg = arg;
    n = pcap_dispatch(c->p, max > 0 ? max : -1, on_packet, (u_char *)c);
    deliver(c);
    if (n == PCAP_ERROR) {
        fail(err, errlen, "%s: %s", c->name, pcap_geterr(c->p));
        return -1;
    }
    if (n == PCAP_ERROR_BREAK)
        return 0;
    if (n == 0 && !c->live)
        return -2;
    return n;
}

void fs_capture_break(struct fs_capture *c)
{
    pcap_breakloop(c->p);
}

void fs_capture_stats(struct fs_capture *c, struct fs_capture_stats *out)
{
    struct pcap_stat now;

    if (c->live && pcap_stats(c->p, &now) == 0) {
        /* Differences of 32-bit counters are right across one wrap. */
        c->st.received += (uint32_t)(now.ps_recv - c->last.ps_recv);
        c->st.dropped += (uint32_t)(now.ps_drop - c->last.ps_drop);
        c->st.ifdropped += (uint32_t)(now.ps_ifdrop - c->last.ps_ifdrop);
        c->last = now;
        c->st.kernel = true;
    }
    *out = c->st;
}
