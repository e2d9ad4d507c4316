/*
 * benchdecode.c - fs-benchdecode: how fast one core turns export datagrams
 * into flows, and flows into bus messages.
 *
 * For each format it generates a ring of realistic datagrams in memory
 * (tools/lib/flowgen), then feeds them to fs_decode() again and again for a
 * fixed time, shifting sequence numbers each pass so the decoder sees one
 * long, loss-free stream (templates resent every 20 datagrams, as routers
 * do). No I/O inside the timed loops. Then it times the msgpack side: flow
 * batches built with fs_batch_add() and read back with fs_msg_decode().
 *
 *   fs-benchdecode [--seconds S] [--repeat N] [--format v5|v9|ipfix|all]
 *                  [--ipv6-percent P] [--flows-per-datagram N]
 *                  [--batch-flows N] [--cpu N]
 *
 * Each figure is the best of --repeat runs (other load only ever slows a
 * run down). Exit status 0, or 1 when a decoder reports errors or loses
 * flows: a fast wrong decoder is no result.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "flowgen.h"
#include "msg.h"

#define RING_DATAGRAMS 4096
#define MAX_FLOWS_PER_DATAGRAM 64
#define MSGPACK_FLOWS 65536

struct options {
    double seconds;
    int repeat;
    const char *format;
    unsigned ipv6_percent;
    unsigned flows_per_datagram;
    size_t batch_flows;
    int cpu;
};

/* A stream of datagrams kept in memory. */
struct ring {
    uint8_t *data;
    size_t *off, *len;
    size_t n;
    uint64_t flows;      /* flows in one pass */
    uint32_t seq_advance; /* how far one pass moves the sequence numbers */
};

struct counter {
    uint64_t flows;
    uint64_t packets;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void count_sink(void *arg, const struct fs_flow *flows, size_t n)
{
    struct counter *c = arg;

    c->flows += n;
    for (size_t i = 0; i < n; i++)
        c->packets += flows[i].packets;
}

static int ring_build(struct ring *r, uint16_t version, const struct options *o,
                      struct fs_flow *keep, size_t keep_max, size_t *nkeep)
{
    struct fs_gen_config cfg = {
        .seed = 42,
        .version = version,
        .domain = version == 5 ? 0 : 1,
        .ipv6_percent = version == 5 ? 0 : o->ipv6_percent,
        .flows_per_datagram = o->flows_per_datagram,
    };
    struct fs_flow flows[MAX_FLOWS_PER_DATAGRAM];
    struct fs_gen *g = fs_gen_new(&cfg);
    size_t cap = 2048, used = 0;
    uint32_t seq0;

    if (!g)
        return -1;
    memset(r, 0, sizeof(*r));
    r->data = malloc(RING_DATAGRAMS * cap);
    r->off = calloc(RING_DATAGRAMS, sizeof(*r->off));
    r->len = calloc(RING_DATAGRAMS, sizeof(*r->len));
    if (!r->data || !r->off || !r->len) {
        fs_gen_free(g);
        return -1;
    }
    seq0 = fs_gen_next_sequence(g);
    for (r->n = 0; r->n < RING_DATAGRAMS; r->n++) {
        size_t nflows;
        int len = fs_gen_next(g, r->data + used, cap, flows, MAX_FLOWS_PER_DATAGRAM, &nflows);

        if (len < 0) {
            fs_gen_free(g);
            return -1;
        }
        r->off[r->n] = used;
        r->len[r->n] = (size_t)len;
        used += (size_t)len;
        r->flows += nflows;
        for (size_t i = 0; keep && i < nflows && *nkeep < keep_max; i++)
            keep[(*nkeep)++] = flows[i];
    }
    r->seq_advance = fs_gen_next_sequence(g) - seq0;
    fs_gen_free(g);
    return 0;
}

static void ring_free(struct ring *r)
{
    free(r->data);
    free(r->off);
    free(r->len);
}

/* Moves every datagram's sequence number on by one pass. */
static void ring_next_pass(struct ring *r)
{
    for (size_t i = 0; i < r->n; i++)
        fs_gen_shift_sequence(r->data + r->off[i], r->len[i], r->seq_advance);
}

static int bench_decode(const char *name, uint16_t version, const struct options *o)
{
    struct ring r;
    struct counter c = {0};
    fs_ip exporter = {.af = 4, .b = {192, 0, 2, 1}};
    double best = 0;
    uint64_t passes = 0, bytes = 0;
    const struct fs_counters *t;
    struct fs_decoder *d;
    int status = 0;

    if (ring_build(&r, version, o, NULL, 0, NULL) < 0) {
        fprintf(stderr, "fs-benchdecode: cannot build the %s stream\n", name);
        return -1;
    }
    for (size_t i = 0; i < r.n; i++)
        bytes += r.len[i];
    d = fs_decoder_new(NULL);
    if (!d) {
        ring_free(&r);
        return -1;
    }
    /* One untimed pass: templates learned, exporter created, caches warm. */
    for (size_t i = 0; i < r.n; i++)
        fs_decode(d, &exporter, 0, r.data + r.off[i], r.len[i], count_sink, &c);
    ring_next_pass(&r);
    passes++;

    for (int rep = 0; rep < o->repeat; rep++) {
        uint64_t start_flows = c.flows, n = 0;
        double t0 = now_s(), el;

        do {
            for (size_t i = 0; i < r.n; i++)
                fs_decode(d, &exporter, 0, r.data + r.off[i], r.len[i], count_sink, &c);
            ring_next_pass(&r);
            passes++;
            n++;
            el = now_s() - t0;
        } while (el < o->seconds);
        double rate = (double)(c.flows - start_flows) / el;
        if (rate > best)
            best = rate;
    }

    t = fs_decoder_totals(d);
    if (fs_counters_errors(t) || t->seq_lost || t->seq_resets || c.flows != passes * r.flows) {
        fprintf(stderr, "fs-benchdecode: %s: %llu errors, %llu lost, %llu resets, "
                        "%llu of %llu flows\n", name,
                (unsigned long long)fs_counters_errors(t), (unsigned long long)t->seq_lost,
                (unsigned long long)t->seq_resets, (unsigned long long)c.flows,
                (unsigned long long)(passes * r.flows));
        status = -1;
    }
    printf("decode %-6s %5.1f flows/datagram %8.2f Mflows/s %7.1f ns/flow %7.3f Mdatagrams/s "
           "%6.0f MB/s\n",
           name, (double)r.flows / (double)r.n, best / 1e6, 1e9 / best,
           best / ((double)r.flows / (double)r.n) / 1e6,
           best * ((double)bytes / (double)r.flows) / 1e6);
    fflush(stdout);
    fs_decoder_free(d);
    ring_free(&r);
    return status;
}

/* Times fs_batch_add/finish over realistic flows (as the v9 decoder gives
 * them), then fs_msg_decode over the messages that made. */
static int bench_msgpack(const struct options *o)
{
    struct ring r;
    struct fs_flow *flows = calloc(MSGPACK_FLOWS, sizeof(*flows));
    size_t nflows = 0, nmsg = MSGPACK_FLOWS / o->batch_flows, msg_bytes = 0;
    struct fs_batch *b = fs_batch_new("fs-benchdecode@bench");
    uint8_t **msgs = calloc(nmsg, sizeof(*msgs));
    size_t *lens = calloc(nmsg, sizeof(*lens));
    double best_enc = 0, best_dec = 0;
    int status = 0;

    if (!flows || !b || !msgs || !lens || nmsg == 0 ||
        ring_build(&r, 9, o, flows, MSGPACK_FLOWS, &nflows) < 0) {
        fprintf(stderr, "fs-benchdecode: msgpack: out of memory\n");
        status = -1;
        goto out;
    }
    ring_free(&r);
    /* The generator gives what the exporter sent; add what a decoder adds. */
    for (size_t i = 0; i < nflows; i++) {
        flows[i].exporter.af = 4;
        memcpy(flows[i].exporter.b, "\xc0\x00\x02\x01", 4);
        flows[i].sampling_rate = 1;
        FS_FLOW_SET(&flows[i], FS_F_SAMPLING);
    }
    nmsg = nflows / o->batch_flows;

    for (int rep = 0; rep < o->repeat; rep++) {
        uint64_t done = 0;
        double t0 = now_s(), el;

        do {
            for (size_t m = 0; m < nmsg; m++) {
                const void *buf;
                size_t len;

                fs_batch_reset(b);
                for (size_t i = 0; i < o->batch_flows; i++)
                    fs_batch_add(b, &flows[m * o->batch_flows + i]);
                fs_batch_finish(b, &buf, &len);
                if (!msgs[m]) {
                    msgs[m] = malloc(len);
                    if (!msgs[m]) {
                        status = -1;
                        goto out;
                    }
                    memcpy(msgs[m], buf, len);
                    lens[m] = len;
                    msg_bytes += len;
                }
            }
            done += nmsg * o->batch_flows;
            el = now_s() - t0;
        } while (el < o->seconds);
        if ((double)done / el > best_enc)
            best_enc = (double)done / el;
    }

    for (int rep = 0; rep < o->repeat; rep++) {
        uint64_t done = 0;
        double t0 = now_s(), el;

        do {
            for (size_t m = 0; m < nmsg; m++) {
                struct fs_msg msg;
                char err[128];

                if (fs_msg_decode(msgs[m], lens[m], &msg, err, sizeof(err)) < 0) {
                    fprintf(stderr, "fs-benchdecode: msgpack: %s\n", err);
                    status = -1;
                    goto out;
                }
                done += msg.nflows;
                fs_msg_free(&msg);
            }
            el = now_s() - t0;
        } while (el < o->seconds);
        if ((double)done / el > best_dec)
            best_dec = (double)done / el;
    }
    printf("msgpack encode %4zu flows/batch %8.2f Mflows/s %7.1f ns/flow %6.1f bytes/flow\n",
           o->batch_flows, best_enc / 1e6, 1e9 / best_enc,
           (double)msg_bytes / (double)(nmsg * o->batch_flows));
    printf("msgpack decode %4zu flows/batch %8.2f Mflows/s %7.1f ns/flow\n",
           o->batch_flows, best_dec / 1e6, 1e9 / best_dec);
out:
    for (size_t m = 0; msgs && m < nmsg; m++)
        free(msgs[m]);
    free(msgs);
    free(lens);
    free(flows);
    fs_batch_free(b);
    return status;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: fs-benchdecode [--seconds S] [--repeat N] [--format v5|v9|ipfix|msgpack|all]\n"
            "                      [--ipv6-percent P] [--flows-per-datagram N]\n"
            "                      [--batch-flows N] [--cpu N]\n");
    exit(2);
}

static void parse(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"seconds", required_argument, NULL, 's'},
        {"repeat", required_argument, NULL, 'r'},
        {"format", required_argument, NULL, 'f'},
        {"ipv6-percent", required_argument, NULL, '6'},
        {"flows-per-datagram", required_argument, NULL, 'n'},
        {"batch-flows", required_argument, NULL, 'b'},
        {"cpu", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    while ((ch = getopt_long(argc, argv, "s:r:f:6:n:b:c:h", longopts, NULL)) != -1) {
        char *end = NULL;

        errno = 0;
        switch (ch) {
        case 's': o->seconds = strtod(optarg, &end); break;
        case 'r': o->repeat = (int)strtol(optarg, &end, 10); break;
        case 'f': o->format = optarg; end = optarg + strlen(optarg); break;
        case '6': o->ipv6_percent = (unsigned)strtoul(optarg, &end, 10); break;
        case 'n': o->flows_per_datagram = (unsigned)strtoul(optarg, &end, 10); break;
        case 'b': o->batch_flows = strtoul(optarg, &end, 10); break;
        case 'c': o->cpu = (int)strtol(optarg, &end, 10); break;
        default: usage();
        }
        if (errno || !end || *end)
            usage();
    }
    if (optind != argc || o->seconds <= 0 || o->repeat < 1 || o->ipv6_percent > 100 ||
        o->flows_per_datagram > MAX_FLOWS_PER_DATAGRAM || o->batch_flows < 1 ||
        o->batch_flows > MSGPACK_FLOWS)
        usage();
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        uint16_t version;
    } formats[] = {{"v5", 5}, {"v9", 9}, {"ipfix", 10}};
    struct options o = {
        .seconds = 1.0, .repeat = 3, .format = "all", .ipv6_percent = 10,
        .batch_flows = 256, .cpu = -1,
    };
    bool all, any = false;
    int status = 0;

    parse(argc, argv, &o);
    all = strcmp(o.format, "all") == 0;
    if (o.cpu >= 0) {
        cpu_set_t set;

        CPU_ZERO(&set);
        CPU_SET(o.cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) < 0) {
            fprintf(stderr, "fs-benchdecode: cpu %d: %s\n", o.cpu, strerror(errno));
            return 1;
        }
    }
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (!all && strcmp(o.format, formats[i].name) != 0)
            continue;
        any = true;
        if (bench_decode(formats[i].name, formats[i].version, &o) < 0)
            status = 1;
    }
    if (all || strcmp(o.format, "msgpack") == 0) {
        any = true;
        if (bench_msgpack(&o) < 0)
            status = 1;
    }
    if (!any)
        usage();
    return status;
}
