/*
 * test_sensor_interop.c - flowsentry-sensor's exports as other tools read
 * them, and its flows next to another meter's.
 *
 *  - Interoperability: the sensor meters a capture the test writes and
 *    exports the flows as IPFIX, then as NetFlow v9, to Debian's nfdump
 *    `nfcapd` on loopback; `nfdump -o json` must show the very flows the
 *    sensor printed with --json (addresses, ports or ICMP type and code,
 *    protocol, ToS, TCP flags, VLAN, input interface, packets, bytes, and
 *    times within a second).
 *  - Agreement: Debian's softflowd meters the same capture into nfcapd too.
 *    With timeouts that cannot fire (as softflowd's -r mode never expires
 *    a flow by time) the two agree exactly once the documented differences
 *    are normalised away (docs/sensor.md, "Agreement with softflowd"): the
 *    sensor's ToS and VLAN split flows that softflowd merges, softflowd
 *    stamps both directions of a connection with the connection's times,
 *    and it counts a datagram's later fragments in a flow of their own
 *    without ports.
 *
 * Both are skipped when nfcapd is not installed (tools/deps.sh installs
 * nfdump and softflowd), the second also without softflowd.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pktbuild.h"
#include "proc.h"

#define SENSOR FS_BINARY_DIR "/flowsentry-sensor"
#define T0 1700000000000000ull /* µs: 2023-11-14T22:13:20Z */
#define SEC 1000000ull
#define MSEC 1000ull
#define MAXRECS 64

static char dir[128];

static void setup(void)
{
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    /* nfdump prints local time. */
    setenv("TZ", "UTC", 1);
    tzset();
}

static void teardown(void)
{
    fs_rmtree(dir);
}

static const char *path_of(const char *name)
{
    static char p[8][256];
    static int k;

    k = (k + 1) % 8;
    snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
    return p[k];
}

/* `name` found in $PATH (and the sbin directories Debian puts daemons in)
 * into `out`; false when it is not installed. */
static bool find_program(const char *name, char *out, size_t len)
{
    char path[4096];
    const char *env = getenv("PATH");

    snprintf(path, sizeof(path), "%s:/usr/sbin:/sbin", env ? env : "/usr/bin:/bin");
    for (char *save = NULL, *d = strtok_r(path, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, len, "%s/%s", d, name);
        if (access(out, X_OK) == 0)
            return true;
    }
    return false;
}

/*
 * The capture: TCP connections (one closed with FINs and a last ACK, one
 * reset), UDP on two VLANs with ToS changing midway, UDP with a 20 s gap,
 * ICMP echo, reply and port unreachable, IPv6 UDP and ICMPv6 echo, GRE, a
 * UDP datagram in two fragments, and a flow of 31 minutes, one packet
 * every 10 s. Written in time order.
 */

struct stamped {
    uint64_t ts;
    size_t seq; /* packets of the same instant keep their order */
    struct pkt p;
};

static struct stamped pkts[512];
static size_t npkts;

static void add(uint64_t ts, const struct pkt *p)
{
    cr_assert_lt(npkts, sizeof(pkts) / sizeof(pkts[0]));
    pkts[npkts] = (struct stamped){ts, npkts, *p};
    npkts++;
}

static int by_time(const void *a, const void *b)
{
    const struct stamped *x = a, *y = b;

    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : 1;
}

static void tcp_conn(uint64_t t, const char *c, const char *s, uint16_t cp, uint16_t sp,
                     bool rst)
{
    struct pkt a = {.dlt = DLT_EN10MB, .src = c, .dst = s, .proto = 6, .sport = cp, .dport = sp};
    struct pkt b = {.dlt = DLT_EN10MB, .src = s, .dst = c, .proto = 6, .sport = sp, .dport = cp};

    a.tcp_flags = 0x02;
    add(t, &a);
    b.tcp_flags = 0x12;
    add(t + 20 * MSEC, &b);
    a.tcp_flags = 0x10;
    add(t + 40 * MSEC, &a);
    a.tcp_flags = 0x18;
    a.payload = 200;
    add(t + 60 * MSEC, &a);
    b.tcp_flags = 0x18;
    b.payload = 1400;
    for (uint64_t i = 0; i < 3; i++)
        add(t + (300 + 100 * i) * MSEC, &b);
    a.payload = 0;
    b.payload = 0;
    if (rst) {
        a.tcp_flags = 0x14;
        add(t + 700 * MSEC, &a);
        return;
    }
    a.tcp_flags = 0x11;
    add(t + 1500 * MSEC, &a);
    b.tcp_flags = 0x11;
    add(t + 1520 * MSEC, &b);
    a.tcp_flags = 0x10;
    add(t + 1540 * MSEC, &a);
}

static void write_capture(const char *path)
{
    struct pcapw *w = pcapw_open(path, DLT_EN10MB);
    struct pkt p;

    npkts = 0;
    tcp_conn(T0, "192.0.2.1", "198.51.100.2", 40000, 80, false);
    tcp_conn(T0 + 2 * SEC, "192.0.2.1", "198.51.100.2", 40001, 443, true);
    p = (struct pkt){.dlt = DLT_EN10MB, .nvlan = 1, .vlan = {100}, .src = "192.0.2.3",
                     .dst = "198.51.100.53", .proto = 17, .sport = 5353, .dport = 53,
                     .payload = 40};
    for (uint64_t i = 0; i < 10; i++) {
        p.tos = i < 4 ? 0 : i < 7 ? 0x10 : 0x08;
        add(T0 + 3 * SEC + i * 100 * MSEC, &p);
    }
    p.vlan[0] = 200;
    p.tos = 0;
    add(T0 + 3 * SEC + 50 * MSEC, &p);
    p = (struct pkt){.dlt = DLT_EN10MB, .src = "192.0.2.4", .dst = "198.51.100.4",
                     .proto = 17, .sport = 7000, .dport = 7001, .payload = 100};
    add(T0 + 4 * SEC, &p);
    add(T0 + 5 * SEC, &p);
    add(T0 + 25 * SEC, &p);
    p = (struct pkt){.dlt = DLT_EN10MB, .src = "192.0.2.5", .dst = "198.51.100.5",
                     .proto = 1, .icmp_type = 8, .payload = 56};
    add(T0 + 6 * SEC, &p);
    p.src = "198.51.100.5";
    p.dst = "192.0.2.5";
    p.icmp_type = 0;
    add(T0 + 6 * SEC + 10 * MSEC, &p);
    p = (struct pkt){.dlt = DLT_EN10MB, .src = "198.51.100.5", .dst = "192.0.2.5",
                     .proto = 1, .icmp_type = 3, .icmp_code = 3, .payload = 28};
    add(T0 + 7 * SEC, &p);
    p = (struct pkt){.dlt = DLT_EN10MB, .src = "2001:db8::1", .dst = "2001:db8::2",
                     .proto = 17, .sport = 6000, .dport = 6001, .payload = 100};
    for (uint64_t i = 0; i < 4; i++)
        add(T0 + 8 * SEC + i * 250 * MSEC, &p);
    p = (struct pkt){.dlt = DLT_EN10MB, .src = "2001:db8::1", .dst = "2001:db8::2",
                     .proto = 58, .icmp_type = 128, .payload = 56};
    add(T0 + 9 * SEC, &p);
    p = (struct pkt){.dlt = DLT_EN10MB, .src = "192.0.2.6", .dst = "198.51.100.6",
                     .proto = 47, .payload = 60};
    add(T0 + 9 * SEC, &p);
    add(T0 + 9 * SEC + 500 * MSEC, &p);
    p = (struct pkt){.dlt = DLT_EN10MB, .src = "192.0.2.7", .dst = "198.51.100.7",
                     .proto = 17, .sport = 8000, .dport = 8001, .payload = 1480 - 8,
                     .frag = true, .frag_id = 77, .more_frags = true};
    add(T0 + 10 * SEC, &p);
    p.frag_offset = 1480 / 8;
    p.more_frags = false;
    p.payload = 500;
    add(T0 + 10 * SEC + 1 * MSEC, &p);
    p = (struct pkt){.dlt = DLT_EN10MB, .src = "192.0.2.8", .dst = "198.51.100.8",
                     .proto = 17, .sport = 9000, .dport = 9001, .payload = 20};
    for (uint64_t i = 0; i <= 186; i++)
        add(T0 + 11 * SEC + i * 10 * SEC, &p);
    qsort(pkts, npkts, sizeof(pkts[0]), by_time);
    for (size_t i = 0; i < npkts; i++)
        pcapw_pkt(w, pkts[i].ts, &pkts[i].p);
    pcapw_close(w);
}

/*
 * Flow records, from the sensor's JSON and from nfdump's.
 */

struct rec {
    char src[48], dst[48];
    long sport, dport; /* -1 for ICMP: nfdump shows the type and code instead */
    long proto, tos, flags, vlan, in_if, icmp_type, icmp_code;
    uint64_t packets, bytes, start_ms, end_ms;
};

struct recs {
    struct rec r[MAXRECS];
    size_t n;
};

static long get_long(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    return json_is_integer(v) ? (long)json_integer_value(v) : 0;
}

static const char *get_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : "";
}

static void no_ports_for_icmp(struct rec *r)
{
    if (r->proto == 1 || r->proto == 58)
        r->sport = r->dport = -1;
    else
        r->icmp_type = r->icmp_code = -1;
}

static void parse_sensor(const char *out, struct recs *rs)
{
    char *copy = strdup(out), *save = NULL;

    rs->n = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        struct rec *r = &rs->r[rs->n];

        cr_assert_not_null(o, "not JSON: %s", line);
        cr_assert_lt(rs->n, MAXRECS);
        snprintf(r->src, sizeof(r->src), "%s", get_str(o, "src_addr"));
        snprintf(r->dst, sizeof(r->dst), "%s", get_str(o, "dst_addr"));
        r->sport = get_long(o, "src_port");
        r->dport = get_long(o, "dst_port");
        r->proto = get_long(o, "proto");
        r->tos = get_long(o, "tos");
        r->flags = get_long(o, "tcp_flags");
        r->vlan = get_long(o, "src_vlan");
        r->in_if = get_long(o, "in_if");
        r->icmp_type = get_long(o, "icmp_type");
        r->icmp_code = get_long(o, "icmp_code");
        r->packets = (uint64_t)get_long(o, "packets");
        r->bytes = (uint64_t)get_long(o, "bytes");
        r->start_ms = (uint64_t)get_long(o, "start_ms");
        r->end_ms = (uint64_t)get_long(o, "end_ms");
        no_ports_for_icmp(r);
        rs->n++;
        json_decref(o);
    }
    free(copy);
}

/* "2023-11-14T22:13:20.123" in UTC (TZ is set) to ms since the epoch. */
static uint64_t nf_time(const char *s)
{
    struct tm tm = {0};
    int ms;

    cr_assert_eq(sscanf(s, "%d-%d-%dT%d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                        &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms), 7, "nfdump time '%s'", s);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (uint64_t)timegm(&tm) * 1000u + (uint64_t)ms;
}

/* nfdump's "...AP.SF": C E U A P R S F, one letter per bit, '.' when clear. */
static long nf_flags(const char *s)
{
    long f = 0;

    for (int i = 0; i < 8 && s[i]; i++)
        if (s[i] != '.')
            f |= 0x80 >> i;
    return f;
}

static void parse_nfdump(const char *out, struct recs *rs)
{
    json_error_t je;
    json_t *a = json_loads(out, 0, &je), *o;
    size_t i;

    cr_assert(json_is_array(a), "nfdump -o json: %s: %.200s", je.text, out);
    rs->n = 0;
    json_array_foreach(a, i, o) {
        struct rec *r = &rs->r[rs->n];
        bool v6 = json_object_get(o, "src6_addr") != NULL;

        cr_assert_lt(rs->n, MAXRECS);
        snprintf(r->src, sizeof(r->src), "%s", get_str(o, v6 ? "src6_addr" : "src4_addr"));
        snprintf(r->dst, sizeof(r->dst), "%s", get_str(o, v6 ? "dst6_addr" : "dst4_addr"));
        r->sport = get_long(o, "src_port");
        r->dport = get_long(o, "dst_port");
        r->proto = get_long(o, "proto");
        r->tos = get_long(o, "src_tos");
        r->flags = nf_flags(get_str(o, "tcp_flags"));
        r->vlan = get_long(o, "src_vlan");
        r->in_if = get_long(o, "input_snmp");
        r->icmp_type = get_long(o, "icmp_type");
        r->icmp_code = get_long(o, "icmp_code");
        r->packets = (uint64_t)get_long(o, "in_packets");
        r->bytes = (uint64_t)get_long(o, "in_bytes");
        r->start_ms = nf_time(get_str(o, "first"));
        r->end_ms = nf_time(get_str(o, "last"));
        no_ports_for_icmp(r);
        rs->n++;
    }
    json_decref(a);
}

static bool same_key(const struct rec *a, const struct rec *b)
{
    return strcmp(a->src, b->src) == 0 && strcmp(a->dst, b->dst) == 0 &&
           a->sport == b->sport && a->dport == b->dport && a->proto == b->proto &&
           a->tos == b->tos && a->vlan == b->vlan && a->icmp_type == b->icmp_type &&
           a->icmp_code == b->icmp_code;
}

static uint64_t diff(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

static void print_recs(const char *what, const struct recs *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        const struct rec *r = &rs->r[i];

        fprintf(stderr, "%s: %s %s %ld %ld proto %ld tos %ld flags %ld vlan %ld if %ld "
                "icmp %ld/%ld packets %llu bytes %llu %llu-%llu\n", what, r->src, r->dst,
                r->sport, r->dport, r->proto, r->tos, r->flags, r->vlan, r->in_if,
                r->icmp_type, r->icmp_code, (unsigned long long)r->packets,
                (unsigned long long)r->bytes, (unsigned long long)r->start_ms,
                (unsigned long long)r->end_ms);
    }
}

/* Every record of `want` has one in `got` with the same key and counters,
 * flags and interface, and times within `slack_ms` (the nearest start is
 * taken when several flows share a key); nothing is left over. */
static void expect_same(const struct recs *want, const struct recs *got, uint64_t slack_ms,
                        const char *what)
{
    bool used[MAXRECS] = {false};

    for (size_t i = 0; i < want->n; i++) {
        const struct rec *w = &want->r[i];
        size_t best = got->n;

        for (size_t k = 0; k < got->n; k++)
            if (!used[k] && same_key(w, &got->r[k]) &&
                (best == got->n ||
                 diff(got->r[k].start_ms, w->start_ms) < diff(got->r[best].start_ms, w->start_ms)))
                best = k;
        if (best == got->n || diff(got->r[best].start_ms, w->start_ms) > slack_ms ||
            diff(got->r[best].end_ms, w->end_ms) > slack_ms ||
            got->r[best].packets != w->packets || got->r[best].bytes != w->bytes ||
            got->r[best].flags != w->flags || got->r[best].in_if != w->in_if) {
            print_recs("want", want);
            print_recs(what, got);
            cr_assert_fail("%s: no match for the flow %s -> %s proto %ld starting %llu", what,
                           w->src, w->dst, w->proto, (unsigned long long)w->start_ms);
        }
        used[best] = true;
    }
    cr_assert_eq(got->n, want->n, "%s has %zu flows, %zu expected", what, got->n, want->n);
}

/*
 * nfcapd.
 */

/* True once something is bound to 127.0.0.1:port (UDP). */
static bool port_taken(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    bool taken;

    cr_assert_geq(fd, 0);
    taken = bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno == EADDRINUSE;
    close(fd);
    return taken;
}

struct nfcapd {
    char bin[256], nfdump[256];
    char dir[256];
    int port;
    pid_t pid;
};

/* Starts nfcapd writing into a new directory `name`; skips the test when
 * nfdump is not installed. */
static void nfcapd_start(struct nfcapd *n, const char *name)
{
    char port[16];
    long long deadline;

    if (!find_program("nfcapd", n->bin, sizeof(n->bin)) ||
        !find_program("nfdump", n->nfdump, sizeof(n->nfdump)))
        cr_skip_test("nfdump's nfcapd is not installed (tools/deps.sh installs it)");
    snprintf(n->dir, sizeof(n->dir), "%s", path_of(name));
    cr_assert_eq(mkdir(n->dir, 0755), 0);
    n->port = fs_free_port(AF_INET, SOCK_DGRAM);
    cr_assert_gt(n->port, 0);
    snprintf(port, sizeof(port), "%d", n->port);
    /* One file for the run: rotation every hour, written at exit. */
    n->pid = fs_proc_spawn((char *[]){n->bin, "-b", "127.0.0.1", "-p", port, "-w", n->dir,
                                      "-t", "3600", NULL},
                           NULL, NULL);
    cr_assert_gt(n->pid, 0);
    deadline = fs_now_ms() + 10000;
    while (!port_taken(n->port)) {
        cr_assert_lt(fs_now_ms(), deadline, "nfcapd did not bind port %d", n->port);
        usleep(20000);
    }
}

/* Stops nfcapd (it writes its file then) and reads what it stored. */
static void nfcapd_read(struct nfcapd *n, struct recs *rs)
{
    struct fs_proc_output o;
    int status;

    /* The last datagrams, sent a moment ago, are read before the signal. */
    usleep(300000);
    cr_assert_eq(fs_proc_stop(n->pid, SIGTERM, 10000, &status), 0, "nfcapd did not stop");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nfcapd exit %d", status);
    cr_assert_eq(fs_proc_run((char *[]){n->nfdump, "-R", n->dir, "-o", "json", NULL}, 30000, &o),
                 0);
    cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "nfdump: %s", o.err);
    parse_nfdump(o.out, rs);
    fs_proc_output_free(&o);
}

/* Runs the sensor on `pcap` with --json and `extra` arguments, and parses
 * its flows. */
static void run_sensor(const char *pcap, const char *const *extra, struct recs *rs)
{
    char *argv[32] = {SENSOR, "--read", (char *)pcap, "--json"};
    struct fs_proc_output o;
    size_t n = 4;

    for (; *extra; extra++)
        argv[n++] = (char *)*extra;
    argv[n] = NULL;
    cr_assert_eq(fs_proc_run(argv, 30000, &o), 0);
    cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "sensor: %s", o.err);
    parse_sensor(o.out, rs);
    fs_proc_output_free(&o);
}

TestSuite(sensor_interop, .init = setup, .fini = teardown, .timeout = 120);

static void interop(const char *scheme)
{
    const char *pcap = path_of("scenario.pcap");
    static struct recs sensor, nf;
    struct nfcapd n;
    char url[64];
    uint64_t packets = 0;

    write_capture(pcap);
    nfcapd_start(&n, scheme);
    snprintf(url, sizeof(url), "%s://127.0.0.1:%d", scheme, n.port);
    run_sensor(pcap, (const char *[]){"--export", url, "--in-if", "3", NULL}, &sensor);
    nfcapd_read(&n, &nf);

    /* What the capture makes (docs/sensor.md): 20 flows of 231 packets. */
    cr_assert_eq(sensor.n, 20, "the sensor made %zu flows", sensor.n);
    for (size_t i = 0; i < sensor.n; i++)
        packets += sensor.r[i].packets;
    cr_assert_eq(packets, 231);
    expect_same(&sensor, &nf, 1000, scheme);
}

Test(sensor_interop, nfdump_reads_the_ipfix_export)
{
    interop("ipfix");
}

Test(sensor_interop, nfdump_reads_the_v9_export)
{
    interop("v9");
}

/*
 * Agreement with softflowd.
 */

/* Adds `b` into `a`: counters, flags, the time span. `a` keeps its ToS,
 * which is the first packet's when `a` started first. */
static void merge(struct rec *a, const struct rec *b)
{
    a->packets += b->packets;
    a->bytes += b->bytes;
    a->flags |= b->flags;
    if (b->start_ms < a->start_ms) {
        a->start_ms = b->start_ms;
        a->tos = b->tos;
    }
    if (b->end_ms > a->end_ms)
        a->end_ms = b->end_ms;
}

static bool same_five_tuple(const struct rec *a, const struct rec *b)
{
    return strcmp(a->src, b->src) == 0 && strcmp(a->dst, b->dst) == 0 &&
           a->sport == b->sport && a->dport == b->dport && a->proto == b->proto &&
           a->icmp_type == b->icmp_type && a->icmp_code == b->icmp_code;
}

static void drop(struct recs *rs, size_t i)
{
    rs->r[i] = rs->r[--rs->n];
}

/* softflowd keys flows on addresses, ports and protocol only (track level
 * "full"), exports no VLAN and the ToS of the first packet: the sensor's
 * flows of one 5-tuple become one. */
static void merge_five_tuples(struct recs *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        rs->r[i].vlan = 0;
        for (size_t k = i + 1; k < rs->n;)
            if (same_five_tuple(&rs->r[i], &rs->r[k])) {
                merge(&rs->r[i], &rs->r[k]);
                drop(rs, k);
            } else {
                k++;
            }
    }
}

/* softflowd counts a datagram's later fragments in a flow without ports:
 * added to the flow of the same addresses and protocol that has ports. */
static void merge_fragments(struct recs *rs)
{
    for (size_t i = 0; i < rs->n;) {
        struct rec *f = &rs->r[i];
        size_t k;

        if ((f->proto != 6 && f->proto != 17) || f->sport != 0 || f->dport != 0) {
            i++;
            continue;
        }
        for (k = 0; k < rs->n; k++)
            if (k != i && strcmp(rs->r[k].src, f->src) == 0 &&
                strcmp(rs->r[k].dst, f->dst) == 0 && rs->r[k].proto == f->proto &&
                (rs->r[k].sport != 0 || rs->r[k].dport != 0))
                break;
        cr_assert_lt(k, rs->n, "a portless flow %s -> %s with no flow to add it to", f->src,
                     f->dst);
        merge(&rs->r[k], f);
        drop(rs, i);
    }
}

/* softflowd keeps one entry per connection and stamps both directions'
 * records with its first and last packet: each record gets the time span
 * of itself and its reverse. */
static void connection_times(struct recs *rs)
{
    static struct rec orig[MAXRECS];

    memcpy(orig, rs->r, rs->n * sizeof(orig[0]));
    for (size_t i = 0; i < rs->n; i++)
        for (size_t k = 0; k < rs->n; k++) {
            const struct rec *a = &orig[i], *b = &orig[k];

            if (strcmp(a->src, b->dst) != 0 || strcmp(a->dst, b->src) != 0 ||
                a->sport != b->dport || a->dport != b->sport || a->proto != b->proto ||
                a->proto == 1 || a->proto == 58)
                continue;
            if (b->start_ms < rs->r[i].start_ms)
                rs->r[i].start_ms = b->start_ms;
            if (b->end_ms > rs->r[i].end_ms)
                rs->r[i].end_ms = b->end_ms;
        }
}

Test(sensor_interop, softflowd_agrees_after_normalisation)
{
    const char *pcap = path_of("scenario.pcap");
    static struct recs json, ours, theirs;
    struct nfcapd a, b;
    char softflowd[256], url[64], dest[64];
    struct fs_proc_output o;

    if (!find_program("softflowd", softflowd, sizeof(softflowd)))
        cr_skip_test("softflowd is not installed (tools/deps.sh installs it)");
    write_capture(pcap);

    /* Timeouts that never fire: softflowd -r ends flows only at the end. */
    nfcapd_start(&a, "ours");
    snprintf(url, sizeof(url), "ipfix://127.0.0.1:%d", a.port);
    run_sensor(pcap, (const char *[]){"--export", url, "--inactive-timeout", "1d",
                                      "--active-timeout", "7d", "--tcp-end-timeout", "1d",
                                      NULL},
               &json);
    nfcapd_read(&a, &ours);

    /* IPFIX with millisecond times (-A milli: v9 needs -a to take its clock
     * from the capture); -c none: no control socket, which softflowd 1.1.0
     * would otherwise wait on before every read of the capture. */
    nfcapd_start(&b, "softflowd");
    snprintf(dest, sizeof(dest), "127.0.0.1:%d", b.port);
    cr_assert_eq(fs_proc_run((char *[]){softflowd, "-r", (char *)pcap, "-n", dest, "-v", "10",
                                        "-A", "milli", "-c", "none", "-p",
                                        (char *)path_of("softflowd.pid"), NULL},
                             30000, &o),
                 0);
    cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "softflowd: %s", o.err);
    cr_assert(strstr(o.err, "Packets processed: 231") != NULL ||
              strstr(o.out, "Packets processed: 231") != NULL, "%s%s", o.out, o.err);
    fs_proc_output_free(&o);
    nfcapd_read(&b, &theirs);

    /* Before: the sensor splits what softflowd merges, and the reverse for
     * the fragments. */
    cr_assert_eq(ours.n, 17, "sensor flows: %zu", ours.n);
    cr_assert_eq(theirs.n, 15, "softflowd flows: %zu", theirs.n);
    merge_five_tuples(&ours);
    merge_fragments(&theirs);
    connection_times(&ours);
    connection_times(&theirs);
    expect_same(&ours, &theirs, 0, "softflowd");
}
