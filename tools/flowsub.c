/*
 * flowsub.c - fs-flowsub: listens on the flows bus and counts what arrives.
 *
 *   fs-flowsub [--expect N] [--idle S] [--timeout S] [--hwm N] [--quiet]
 *              ENDPOINT...
 *
 * Every message is decoded in full (fs_msg_decode), so a count here means
 * the flows were really there and readable, and sequence gaps are tracked
 * per sender (fs_gap). It stops on SIGINT/SIGTERM, once --expect flows have
 * arrived, after --idle seconds without a message (once one has come), or
 * after --timeout seconds in all, and prints one line of key=value pairs:
 * flows, messages, lost (messages missing by sequence number), reordered,
 * restarts, bad (undecodable messages), packets and bytes (sums of the
 * flows' counters), seconds (first to last message) and rate (flows/s).
 * Exit status 0, or 1 when --expect was given and not met.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus.h"
#include "msg.h"

struct options {
    uint64_t expect;
    double idle;
    double timeout;
    int hwm;
    bool quiet;
};

struct totals {
    uint64_t flows, messages, bad, packets, bytes;
    double first, last;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
    fprintf(stderr, "usage: fs-flowsub [--expect N] [--idle S] [--timeout S] [--hwm N] [--quiet]\n"
                    "                  ENDPOINT...\n");
    exit(2);
}

static void parse(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"expect", required_argument, NULL, 'e'},
        {"idle", required_argument, NULL, 'i'},
        {"timeout", required_argument, NULL, 't'},
        {"hwm", required_argument, NULL, 'w'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    while ((ch = getopt_long(argc, argv, "e:i:t:w:qh", longopts, NULL)) != -1) {
        char *end = NULL;

        errno = 0;
        switch (ch) {
        case 'e': o->expect = strtoull(optarg, &end, 10); break;
        case 'i': o->idle = strtod(optarg, &end); break;
        case 't': o->timeout = strtod(optarg, &end); break;
        case 'w': o->hwm = (int)strtol(optarg, &end, 10); break;
        case 'q': o->quiet = true; end = ""; break;
        default: usage();
        }
        if (errno || !end || *end)
            usage();
    }
    if (optind == argc || o->idle < 0 || o->timeout < 0 || o->hwm < 0)
        usage();
}

/* Decodes one message and adds it up. */
static void account(struct totals *t, struct fs_gap *gap, const struct fs_bus_msg *m,
                    bool quiet)
{
    struct fs_msg msg;
    char err[160];

    if (fs_msg_decode(m->data, m->len, &msg, err, sizeof(err)) < 0) {
        t->bad++;
        if (!quiet)
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
    struct sigaction sa = {.sa_handler = on_signal};
    const struct fs_gap_counters *gc;
    struct fs_bus *bus;
    char err[256];
    double start;

    parse(argc, argv, &o);
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
    /* No SA_RESTART: the signal must interrupt the wait. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    start = now_s();
    while (!stop && !(o.expect && t.flows >= o.expect)) {
        struct fs_bus_msg m;
        double now = now_s();
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
        account(&t, gap, &m, o.quiet);
        t.last = now_s();
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
