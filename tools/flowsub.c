/*
 * flowsub.c - fs-flowsub: listens on the flows bus and counts what arrives.
 *
 *   fs-flowsub [--expect N] [--idle S] [--timeout S] [--hwm N] [--count-only]
 *              [--quiet] ENDPOINT...
 *
 * By default every message is decoded in full (fs_msg_decode), so a count
 * means the flows were really there and readable. That costs about as much
 * CPU per flow as the collector spends making them, which on a small box
 * makes the counter the bottleneck of a throughput test; --count-only reads
 * just the envelope (type, v, sender, seq) and the length of the flows
 * array, and falls back to the full decoder for any message not laid out as
 * the batch writer lays it out (flows last). Sequence gaps are tracked per
 * sender either way (fs_gap).
 *
 * It stops on SIGINT/SIGTERM, once --expect flows have arrived, after --idle
 * seconds without a message (once one has come), or after --timeout seconds
 * in all, and prints one line of key=value pairs: flows, messages, lost
 * (messages missing by sequence number), reordered, restarts, bad
 * (undecodable messages), malformed (bad frame layout), packets and bytes
 * (sums of the flows' counters; 0 with --count-only), seconds (first to last
 * message) and rate (flows/s). Exit status 0, or 1 when --expect was given
 * and not met.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "clock.h"
#include "msg.h"
#include "signals.h"

struct options {
    uint64_t expect;
    double idle;
    double timeout;
    int hwm;
    bool count_only;
    bool quiet;
};

struct totals {
    uint64_t flows, messages, bad, packets, bytes;
    double first, last;
};

static void usage(void)
{
    fprintf(stderr, "usage: fs-flowsub [--expect N] [--idle S] [--timeout S] [--hwm N]\n"
                    "                  [--count-only] [--quiet] ENDPOINT...\n");
    exit(2);
}

static void parse(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"expect", required_argument, NULL, 'e'},
        {"idle", required_argument, NULL, 'i'},
        {"timeout", required_argument, NULL, 't'},
        {"hwm", required_argument, NULL, 'w'},
        {"count-only", no_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    while ((ch = getopt_long(argc, argv, "e:i:t:w:cqh", longopts, NULL)) != -1) {
        char *end = NULL;

        errno = 0;
        switch (ch) {
        case 'e': o->expect = strtoull(optarg, &end, 10); break;
        case 'i': o->idle = strtod(optarg, &end); break;
        case 't': o->timeout = strtod(optarg, &end); break;
        case 'w': o->hwm = (int)strtol(optarg, &end, 10); break;
        case 'c': o->count_only = true; end = ""; break;
        case 'q': o->quiet = true; end = ""; break;
        default: usage();
        }
        if (errno || !end || *end)
            usage();
    }
    if (optind == argc || o->idle < 0 || o->timeout < 0 || o->hwm < 0)
        usage();
}

/*
 * Envelope reader for --count-only: msgpack positive integers, strings and
 * the array header of "flows", bounds-checked. Returns false for anything
 * else, and the caller decodes the message in full instead.
 */
struct peek {
    const uint8_t *p, *end;
};

static bool peek_be(struct peek *r, size_t n, uint64_t *v)
{
    if ((size_t)(r->end - r->p) < n)
        return false;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v = *v << 8 | *r->p++;
    return true;
}

/* A header with its length in the marker (fix*) or in 1, 2 or 4 bytes after. */
static bool peek_header(struct peek *r, uint8_t fix, uint8_t fixmask, uint8_t m8,
                        uint8_t m16, uint8_t m32, uint64_t *n)
{
    uint8_t c;

    if (r->p >= r->end)
        return false;
    c = *r->p++;
    if ((c & ~fixmask) == fix) {
        *n = c & fixmask;
        return true;
    }
    if (m8 && c == m8)
        return peek_be(r, 1, n);
    if (c == m16)
        return peek_be(r, 2, n);
    if (c == m32)
        return peek_be(r, 4, n);
    return false;
}

static bool peek_str(struct peek *r, const uint8_t **s, uint64_t *n)
{
    if (!peek_header(r, 0xa0, 0x1f, 0xd9, 0xda, 0xdb, n) || (uint64_t)(r->end - r->p) < *n)
        return false;
    *s = r->p;
    r->p += *n;
    return true;
}

static bool peek_uint(struct peek *r, uint64_t *v)
{
    uint8_t c;

    if (r->p >= r->end)
        return false;
    c = *r->p;
    if (c < 0x80) {
        *v = c;
        r->p++;
        return true;
    }
    if (c < 0xcc || c > 0xcf)
        return false;
    r->p++;
    return peek_be(r, (size_t)1 << (c - 0xcc), v);
}

static bool is_key(const uint8_t *k, uint64_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(k, lit, n) == 0;
}

/* Reads sender, seq and the number of flows of a "flows" message whose
 * flows array comes last. */
static bool peek_flows(const void *buf, size_t len, char *sender, uint64_t *seq,
                       uint64_t *nflows)
{
    struct peek r = {buf, (const uint8_t *)buf + len};
    uint64_t nkeys, n, v;
    bool typed = false, versioned = false, has_seq = false;
    const uint8_t *k, *s;

    *sender = '\0';
    if (!peek_header(&r, 0x80, 0x0f, 0, 0xde, 0xdf, &nkeys))
        return false;
    for (uint64_t i = 0; i < nkeys; i++) {
        if (!peek_str(&r, &k, &n))
            return false;
        if (is_key(k, n, "flows"))
            return i + 1 == nkeys && typed && versioned && has_seq && *sender &&
                   peek_header(&r, 0x90, 0x0f, 0, 0xdc, 0xdd, nflows);
        if (is_key(k, n, "type")) {
            if (!peek_str(&r, &s, &v) || !is_key(s, v, "flows"))
                return false;
            typed = true;
        } else if (is_key(k, n, "sender")) {
            if (!peek_str(&r, &s, &v) || v == 0 || v >= FS_MSG_SENDER_MAX)
                return false;
            memcpy(sender, s, v);
            sender[v] = '\0';
        } else if (is_key(k, n, "v")) {
            if (!peek_uint(&r, &v) || v != FS_MSG_VERSION)
                return false;
            versioned = true;
        } else if (is_key(k, n, "seq")) {
            if (!peek_uint(&r, seq))
                return false;
            has_seq = true;
        } else {
            return false;
        }
    }
    return false;
}

/* Decodes one message (or just its envelope) and adds it up. */
static void account(struct totals *t, struct fs_gap *gap, const struct fs_bus_msg *m,
                    const struct options *o)
{
    struct fs_msg msg;
    char err[160], sender[FS_MSG_SENDER_MAX];
    uint64_t seq, n;

    if (o->count_only && peek_flows(m->data, m->len, sender, &seq, &n)) {
        t->messages++;
        t->flows += n;
        fs_gap_check(gap, sender, FS_MSG_FLOWS, seq, NULL);
        return;
    }
    if (fs_msg_decode(m->data, m->len, &msg, err, sizeof(err)) < 0) {
        t->bad++;
        if (!o->quiet)
            fprintf(stderr, "fs-flowsub: bad message: %s\n", err);
        return;
    }
    if (msg.type == FS_MSG_FLOWS) {
        t->messages++;
        t->flows += msg.nflows;
        for (size_t i = 0; i < msg.nflows; i++) {
            t->packets += msg.flows[i].packets;
            t->bytes += msg.flows[i].bytes;
        }
        fs_gap_check(gap, msg.sender, msg.type, msg.seq, NULL);
    }
    fs_msg_free(&msg);
}

int main(int argc, char **argv)
{
    struct options o = {.idle = 2.0, .hwm = 100000};
    struct totals t = {0};
    struct fs_gap *gap = fs_gap_new(0);
    const struct fs_gap_counters *gc;
    struct fs_bus *bus;
    char err[256];
    double start;

    parse(argc, argv, &o);
    /* ZeroMQ's I/O thread allocates every large message as it arrives and
     * this thread frees it once counted; glibc would hand the memory back
     * to the kernel after nearly every message and fault it in again, page
     * by page, for the next one. Kept, it is reused. */
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    if (!gap) {
        fprintf(stderr, "fs-flowsub: out of memory\n");
        return 1;
    }
    bus = fs_bus_sub((const char *const *)argv + optind, (size_t)(argc - optind), "flows",
                     o.hwm, err, sizeof(err));
    if (!bus) {
        fprintf(stderr, "fs-flowsub: %s\n", err);
        return 1;
    }
    fs_sig_install(FS_SIG_STOP);

    start = fs_now_s();
    while (!fs_sig_stopped() && !(o.expect && t.flows >= o.expect)) {
        struct fs_bus_msg m;
        double now = fs_now_s();
        int rc;

        if (o.timeout && now - start >= o.timeout)
            break;
        if (o.idle && t.messages && now - t.last >= o.idle)
            break;
        rc = fs_bus_recv(bus, 100, &m);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "fs-flowsub: %s\n", fs_bus_error(bus));
            break;
        }
        if (rc == 0)
            continue;
        account(&t, gap, &m, &o);
        t.last = fs_now_s();
        if (t.messages == 1)
            t.first = t.last;
    }

    gc = fs_gap_totals(gap);
    double secs = t.last - t.first;
    printf("flows=%llu messages=%llu lost=%llu reordered=%llu restarts=%llu bad=%llu "
           "malformed=%llu packets=%llu bytes=%llu seconds=%.3f rate=%.0f\n",
           (unsigned long long)t.flows, (unsigned long long)t.messages,
           (unsigned long long)gc->lost, (unsigned long long)gc->reordered,
           (unsigned long long)gc->restarts, (unsigned long long)t.bad,
           (unsigned long long)fs_bus_malformed(bus), (unsigned long long)t.packets,
           (unsigned long long)t.bytes, secs, secs > 0 ? (double)t.flows / secs : 0.0);
    fflush(stdout);
    fs_bus_close(bus, 0);
    fs_gap_free(gap);
    return o.expect && t.flows < o.expect ? 1 : 0;
}
