/*
 * flowsend.c - fs-flowsend: plays a synthetic exporter over UDP, at a given
 * rate or as fast as the machine allows.
 *
 *   fs-flowsend [--format v5|v9|ipfix] [--rate FLOWS/S] [--flows N | --seconds S]
 *               [--flows-per-datagram N] [--ipv6-percent P] [--sampling N]
 *               [--seed N] [--domain N] [--ring N] [--batch N] [--source ADDR]
 *               HOST:PORT
 *
 * The stream comes from tools/lib/flowgen: --ring datagrams are generated
 * up front and replayed with their sequence numbers moved on each pass, so
 * the receiver sees one loss-free stream and the sender spends its time in
 * sendmmsg(), not in making flows. The same options and seed give the same
 * bytes, which is what lets a benchmark feed several collectors the very
 * same stream. v9 and IPFIX streams carry 10% IPv6 flows unless
 * --ipv6-percent says otherwise. Rate 0 means as fast as possible; otherwise
 * batches of --batch datagrams leave on a schedule, the sender sleeping
 * whenever it is more than 0.2 ms ahead (so a paced sender leaves the CPU to
 * the receiver, and bursts stay far below any receive buffer). --flows
 * stops at the first whole datagram that reaches N.
 *
 * When done it prints one line of key=value pairs: flows, datagrams, bytes,
 * packets (the sum of the flows' packet counters, before sampling), seconds,
 * rate (flows/s reached) and send errors.
 *
 * --resume PID measures a receiver without the sender beside it: the caller
 * stops the receiver (SIGSTOP) and gives it a receive buffer big enough for
 * the whole stream; once everything is sent, fs-flowsend resumes it
 * (SIGCONT) and times how long it takes to empty its socket, watching the
 * queue in /proc/net/udp. It adds drain_seconds, drain_rate (flows/s) and
 * receiver_drops (datagrams the receiving socket dropped meanwhile: more
 * than 0 means the buffer was too small and the figure is void).
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "flowgen.h"
#include "signals.h"

#define MAX_BATCH 1024
#define MAX_FLOWS_PER_DATAGRAM 64
#define DATAGRAM_CAP 2048
#define PACING_SLACK_S 0.0002

struct options {
    uint16_t version;
    double rate;
    uint64_t flows;
    double seconds;
    unsigned flows_per_datagram;
    unsigned ipv6_percent;
    uint32_t sampling;
    uint64_t seed;
    uint32_t domain;
    size_t ring;
    size_t batch;
    int sndbuf;
    const char *source;
    const char *target;
    pid_t resume;
};

struct ring {
    uint8_t *data;        /* ring entries of DATAGRAM_CAP bytes */
    size_t *len;
    uint32_t *nflows;
    uint64_t *packets;
    size_t n;
    uint32_t seq_advance;
};

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "fs-flowsend: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(1);
}

static int ring_build(struct ring *r, const struct options *o)
{
    struct timespec wall;
    struct fs_gen_config cfg = {
        .seed = o->seed,
        .version = o->version,
        .domain = o->domain,
        .flows_per_datagram = o->flows_per_datagram,
        .ipv6_percent = o->version == 5 ? 0 : o->ipv6_percent,
        .sampling_rate = o->sampling,
    };
    struct fs_flow flows[MAX_FLOWS_PER_DATAGRAM];
    struct fs_gen *g;
    uint32_t seq0;

    /* Flows stamped around now, so that receivers with clock checks take
     * them as live traffic. Only the time base depends on it. */
    clock_gettime(CLOCK_REALTIME, &wall);
    cfg.start_ms = (uint64_t)wall.tv_sec * 1000;
    if ((g = fs_gen_new(&cfg)) == NULL)
        return -1;
    r->n = o->ring;
    r->data = malloc(r->n * DATAGRAM_CAP);
    r->len = calloc(r->n, sizeof(*r->len));
    r->nflows = calloc(r->n, sizeof(*r->nflows));
    r->packets = calloc(r->n, sizeof(*r->packets));
    if (!r->data || !r->len || !r->nflows || !r->packets) {
        fs_gen_free(g);
        return -1;
    }
    seq0 = fs_gen_next_sequence(g);
    for (size_t i = 0; i < r->n; i++) {
        size_t n;
        int len = fs_gen_next(g, r->data + i * DATAGRAM_CAP, DATAGRAM_CAP, flows,
                              MAX_FLOWS_PER_DATAGRAM, &n);

        if (len < 0) {
            fs_gen_free(g);
            return -1;
        }
        r->len[i] = (size_t)len;
        r->nflows[i] = (uint32_t)n;
        for (size_t k = 0; k < n; k++)
            r->packets[i] += flows[k].packets;
    }
    r->seq_advance = fs_gen_next_sequence(g) - seq0;
    fs_gen_free(g);
    return 0;
}

static void ring_free(struct ring *r)
{
    free(r->data);
    free(r->len);
    free(r->nflows);
    free(r->packets);
}

static int open_socket(const struct options *o)
{
    char host[256];
    const char *colon = strrchr(o->target, ':');
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai;
    int fd, rc;

    if (!colon || colon == o->target || (size_t)(colon - o->target) >= sizeof(host))
        die("target '%s' is not HOST:PORT", o->target);
    memcpy(host, o->target, (size_t)(colon - o->target));
    host[colon - o->target] = '\0';
    /* [::1]:2055 */
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    if ((rc = getaddrinfo(host, colon + 1, &hints, &ai)) != 0)
        die("%s", gai_strerror(rc));
    fd = socket(ai->ai_family, SOCK_DGRAM, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    if (o->sndbuf && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o->sndbuf, sizeof(o->sndbuf)) < 0)
        die("SO_SNDBUF: %s", strerror(errno));
    if (o->source) {
        struct addrinfo *src;

        hints.ai_family = ai->ai_family;
        if ((rc = getaddrinfo(o->source, NULL, &hints, &src)) != 0)
            die("source: %s", gai_strerror(rc));
        if (bind(fd, src->ai_addr, src->ai_addrlen) < 0)
            die("bind: %s", strerror(errno));
        freeaddrinfo(src);
    }
    /* Connected: the kernel looks the route up once, not per datagram. */
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        die("connect: %s", strerror(errno));
    freeaddrinfo(ai);
    return fd;
}

static void sleep_until(double t)
{
    struct timespec ts;

    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
           !fs_sig_stopped())
        ;
}

/* The bytes queued at, and the datagrams dropped by, the UDP sockets bound
 * to `port` (several with SO_REUSEPORT), from /proc/net/udp and udp6.
 * Returns how many sockets were found. */
static int udp_queue(unsigned port, unsigned long *queued, unsigned long *drops)
{
    static const char *const tables[] = {"/proc/net/udp", "/proc/net/udp6"};
    int found = 0;

    *queued = *drops = 0;
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        FILE *fp = fopen(tables[t], "r");
        char line[512];

        if (fp == NULL)
            continue;
        while (fgets(line, sizeof(line), fp)) {
            unsigned lport;
            unsigned long rxq, d;

            /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops */
            if (sscanf(line, " %*u: %*[0-9A-Fa-f]:%x %*s %*x %*x:%lx %*s %*s %*s %*s %*s %*s %*s %lu",
                       &lport, &rxq, &d) == 3 && lport == port) {
                *queued += rxq;
                *drops += d;
                found++;
            }
        }
        fclose(fp);
    }
    return found;
}

static unsigned peer_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
        die("getpeername: %s", strerror(errno));
    return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* --resume: the receiver was stopped (SIGSTOP) while the stream queued up
 * in its socket. Lets it go on and returns the seconds until its socket is
 * empty: the receiver's own rate, the sender out of the way. */
static double drain(pid_t pid, unsigned port)
{
    struct timespec tick = {0, 100000};
    unsigned long queued, drops;
    double t0;

    nanosleep(&(struct timespec){0, 50000000}, NULL); /* the last datagrams reach the queue */
    t0 = fs_now_s();
    if (kill(pid, SIGCONT) < 0)
        die("resume: %s", strerror(errno));
    while (udp_queue(port, &queued, &drops) > 0 && queued > 0 && fs_now_s() - t0 < 60)
        nanosleep(&tick, NULL);
    return fs_now_s() - t0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: fs-flowsend [--format v5|v9|ipfix] [--rate FLOWS/S] [--flows N | --seconds S]\n"
            "                   [--flows-per-datagram N] [--ipv6-percent P] [--sampling N]\n"
            "                   [--seed N] [--domain N] [--ring N] [--batch N] [--sndbuf BYTES]\n"
            "                   [--source ADDR] [--resume PID] HOST:PORT\n");
    exit(2);
}

static void parse(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"rate", required_argument, NULL, 'r'},
        {"flows", required_argument, NULL, 'n'},
        {"seconds", required_argument, NULL, 's'},
        {"flows-per-datagram", required_argument, NULL, 'p'},
        {"ipv6-percent", required_argument, NULL, '6'},
        {"sampling", required_argument, NULL, 'S'},
        {"seed", required_argument, NULL, 'x'},
        {"domain", required_argument, NULL, 'd'},
        {"ring", required_argument, NULL, 'R'},
        {"batch", required_argument, NULL, 'b'},
        {"sndbuf", required_argument, NULL, 'B'},
        {"source", required_argument, NULL, 'a'},
        {"resume", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    while ((ch = getopt_long(argc, argv, "f:r:n:s:p:6:S:x:d:R:b:B:a:P:h", longopts, NULL)) != -1) {
        char *end = NULL;

        errno = 0;
        switch (ch) {
        case 'f':
            end = optarg + strlen(optarg);
            if (strcmp(optarg, "v5") == 0)
                o->version = 5;
            else if (strcmp(optarg, "v9") == 0)
                o->version = 9;
            else if (strcmp(optarg, "ipfix") == 0)
                o->version = 10;
            else
                usage();
            break;
        case 'r': o->rate = strtod(optarg, &end); break;
        case 'n': o->flows = strtoull(optarg, &end, 10); break;
        case 's': o->seconds = strtod(optarg, &end); break;
        case 'p': o->flows_per_datagram = (unsigned)strtoul(optarg, &end, 10); break;
        case '6': o->ipv6_percent = (unsigned)strtoul(optarg, &end, 10); break;
        case 'S': o->sampling = (uint32_t)strtoul(optarg, &end, 10); break;
        case 'x': o->seed = strtoull(optarg, &end, 10); break;
        case 'd': o->domain = (uint32_t)strtoul(optarg, &end, 10); break;
        case 'R': o->ring = strtoul(optarg, &end, 10); break;
        case 'b': o->batch = strtoul(optarg, &end, 10); break;
        case 'B': o->sndbuf = (int)strtol(optarg, &end, 10); break;
        case 'a': o->source = optarg; end = optarg + strlen(optarg); break;
        case 'P': o->resume = (pid_t)strtol(optarg, &end, 10); break;
        default: usage();
        }
        if (errno || !end || *end)
            usage();
    }
    if (optind + 1 != argc || o->rate < 0 || o->seconds < 0 || o->ring < 1 || o->resume < 0 ||
        o->batch < 1 || o->batch > MAX_BATCH || o->flows_per_datagram > MAX_FLOWS_PER_DATAGRAM)
        usage();
    if (o->flows == 0 && o->seconds == 0)
        o->seconds = 1;
    o->target = argv[optind];
}

int main(int argc, char **argv)
{
    struct options o = {.version = 5, .ipv6_percent = 10, .seed = 1, .ring = 8192, .batch = 32};
    static struct mmsghdr msgs[MAX_BATCH];
    static struct iovec iov[MAX_BATCH];
    struct ring r = {0};
    uint64_t flows = 0, datagrams = 0, bytes = 0, packets = 0, errors = 0;
    size_t pos = 0;
    double t0, deadline, el;
    unsigned long queued0, drops0 = 0;
    unsigned port;
    int fd;

    parse(argc, argv, &o);
    if (ring_build(&r, &o) < 0)
        die("%s", "cannot generate the stream (check format, sampling and flows per datagram)");
    fd = open_socket(&o);
    port = peer_port(fd);
    if (o.resume && udp_queue(port, &queued0, &drops0) == 0)
        die("--resume: no UDP socket is bound to port %s", strrchr(o.target, ':') + 1);
    fs_sig_install(FS_SIG_STOP);

    t0 = fs_now_s();
    deadline = o.seconds > 0 ? t0 + o.seconds : 0;
    while (!fs_sig_stopped()) {
        size_t n = 0;
        uint64_t batch_flows = 0;
        int sent;

        if (o.flows && flows >= o.flows)
            break;
        if (deadline && fs_now_s() >= deadline)
            break;
        /* Whole datagrams, up to the flow budget. */
        while (n < o.batch && pos + n < r.n &&
               (!o.flows || flows + batch_flows < o.flows)) {
            iov[n].iov_base = r.data + (pos + n) * DATAGRAM_CAP;
            iov[n].iov_len = r.len[pos + n];
            msgs[n].msg_hdr = (struct msghdr){.msg_iov = &iov[n], .msg_iovlen = 1};
            batch_flows += r.nflows[pos + n];
            n++;
        }
        /* Ahead of schedule by more than a moment: wait. Shorter waits are
         * not worth a wake-up; the receive buffer takes the small burst. */
        if (o.rate > 0) {
            double due = t0 + (double)flows / o.rate;

            if (due > fs_now_s() + PACING_SLACK_S)
                sleep_until(due);
        }
        sent = sendmmsg(fd, msgs, (unsigned)n, 0);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            /* ECONNREFUSED (nobody listening yet), ENOBUFS: count, go on */
            errors++;
            sent = (int)n;
        } else {
            for (int i = 0; i < sent; i++) {
                bytes += r.len[pos + (size_t)i];
                flows += r.nflows[pos + (size_t)i];
                packets += r.packets[pos + (size_t)i];
            }
            datagrams += (uint64_t)sent;
        }
        pos += (size_t)sent;
        if (pos == r.n) {
            for (size_t i = 0; i < r.n; i++)
                fs_gen_shift_sequence(r.data + i * DATAGRAM_CAP, r.len[i], r.seq_advance);
            pos = 0;
        }
    }
    el = fs_now_s() - t0;
    printf("flows=%llu datagrams=%llu bytes=%llu packets=%llu seconds=%.3f rate=%.0f errors=%llu",
           (unsigned long long)flows, (unsigned long long)datagrams, (unsigned long long)bytes,
           (unsigned long long)packets, el, el > 0 ? (double)flows / el : 0.0,
           (unsigned long long)errors);
    if (o.resume) {
        unsigned long queued, drops;
        double d = drain(o.resume, port);

        udp_queue(port, &queued, &drops);
        printf(" drain_seconds=%.4f drain_rate=%.0f receiver_drops=%lu", d,
               d > 0 ? (double)flows / d : 0.0, drops - drops0);
    }
    printf("\n");
    close(fd);
    ring_free(&r);
    return 0;
}
