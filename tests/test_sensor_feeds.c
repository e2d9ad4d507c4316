/*
 * test_sensor_feeds.c - flowsentry-sensor with Zeek and Suricata logs as
 * flow sources, end to end: the real binary follows a Zeek conn.log (TSV)
 * and a Suricata EVE file that the test writes as the tools would (files
 * that appear after the start, a rotation by rename with the old file still
 * written to, a line written in two halves, damaged lines), and the flows
 * must come out on the flows bus with the tools' identifiers (Zeek uid,
 * Suricata flow_id) and the log sources' own observation domains; the
 * counters must come in the stats message and in the log at exit. Offline
 * (--read), the logs are read once, whole, next to the metered packets.
 *
 * Expected records are written out by hand from the log lines, with the
 * mapping of docs/sensor.md (times truncated to ms, end = ts + duration,
 * TCP flags from Zeek's history or conn_state, ICMP as type << 8 | code).
 */
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus.h"
#include "msg.h"
#include "pktbuild.h"
#include "proc.h"

#define SENSOR FS_BINARY_DIR "/flowsentry-sensor"
#define MAXFLOWS 16

static char dir[128];

static void setup(void)
{
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
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

static void write_file(const char *path, const char *mode, const char *text)
{
    FILE *fp = fopen(path, mode);

    cr_assert_not_null(fp, "%s", path);
    cr_assert_eq(fputs(text, fp) >= 0, true);
    cr_assert_eq(fclose(fp), 0);
}

/*
 * The logs. Zeek's ASCII writer header (TSV), then connections; EVE lines
 * as Suricata 7 writes them.
 */

#define ZEEK_HEADER                                                                        \
    "#separator \\x09\n"                                                                   \
    "#set_separator\t,\n"                                                                  \
    "#empty_field\t(empty)\n"                                                              \
    "#unset_field\t-\n"                                                                    \
    "#path\tconn\n"                                                                        \
    "#open\t2024-01-01-10-00-00\n"                                                         \
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\t"       \
    "duration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\t" \
    "history\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n"        \
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\t" \
    "string\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n"

/* TCP, handshake and FIN both ways: history ShADadFf gives SYN, ACK, FIN
 * each way. */
#define ZEEK_TCP                                                                           \
    "1704103200.123456\tCa1zeekTcp\t192.168.1.10\t51000\t93.184.216.34\t443\ttcp\tssl\t" \
    "1.500000\t517\t4321\tSF\tT\tF\t0\tShADadFf\t12\t1141\t10\t4853\t(empty)\n"
#define ZEEK_TCP_FLOW                                                                      \
    "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":1,\"src_addr\":\"192.168.1.10\"," \
    "\"dst_addr\":\"93.184.216.34\",\"src_port\":51000,\"dst_port\":443,\"proto\":6,"       \
    "\"tcp_flags\":19,\"packets\":12,\"bytes\":1141,\"start_ms\":1704103200123,"            \
    "\"end_ms\":1704103201623,\"sampling_rate\":1,\"ip_version\":4,\"rev_packets\":10,"     \
    "\"rev_bytes\":4853,\"rev_tcp_flags\":19,\"uid\":\"Ca1zeekTcp\"}"

/* UDP: 1704103201.000001 + 0.000999 = 1704103201.001000. */
#define ZEEK_UDP                                                                           \
    "1704103201.000001\tCb2zeekUdp\t192.168.1.10\t53000\t192.168.1.1\t53\tudp\tdns\t"     \
    "0.000999\t40\t120\tSF\tT\tT\t0\tDd\t1\t68\t1\t148\t(empty)\n"
#define ZEEK_UDP_FLOW                                                                      \
    "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":1,\"src_addr\":\"192.168.1.10\"," \
    "\"dst_addr\":\"192.168.1.1\",\"src_port\":53000,\"dst_port\":53,\"proto\":17,"         \
    "\"packets\":1,\"bytes\":68,\"start_ms\":1704103201000,\"end_ms\":1704103201001,"       \
    "\"sampling_rate\":1,\"ip_version\":4,\"rev_packets\":1,\"rev_bytes\":148,"             \
    "\"uid\":\"Cb2zeekUdp\"}"

/* A port that is not one: refused, counted, logged. */
#define ZEEK_BAD                                                                           \
    "1704103201.5\tCbad\t192.168.1.10\t70000\t192.168.1.1\t53\tudp\tdns\t"                 \
    "0.1\t40\t120\tSF\tT\tT\t0\tDd\t1\t68\t1\t148\t(empty)\n"

/* ICMP echo, appended to the old file after its rename: id.resp_p is the
 * counterpart type (0), so the code is 0; port 8 << 8 | 0. */
#define ZEEK_ICMP                                                                          \
    "1704103202.500000\tCc3zeekIcmp\t10.0.0.1\t8\t10.0.0.2\t0\ticmp\t-\t0.999000\t56\t56\t" \
    "OTH\tT\tT\t0\t-\t1\t84\t1\t84\t(empty)\n"
#define ZEEK_ICMP_FLOW                                                                     \
    "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":1,\"src_addr\":\"10.0.0.1\","    \
    "\"dst_addr\":\"10.0.0.2\",\"src_port\":0,\"dst_port\":2048,\"proto\":1,\"packets\":1," \
    "\"bytes\":84,\"start_ms\":1704103202500,\"end_ms\":1704103203499,\"sampling_rate\":1," \
    "\"icmp_type\":8,\"icmp_code\":0,\"ip_version\":4,\"rev_packets\":1,\"rev_bytes\":84,"  \
    "\"uid\":\"Cc3zeekIcmp\"}"

/* IPv6, rejected, no history: flags from conn_state REJ (SYN; RST+ACK). */
#define ZEEK_V6                                                                            \
    "1704103205.250000\tCd4zeekV6\t2001:db8::1\t40000\t2001:db8::2\t22\ttcp\t-\t0.001000\t" \
    "0\t0\tREJ\tT\tT\t0\t-\t1\t80\t1\t60\t(empty)\n"
#define ZEEK_V6_FLOW                                                                       \
    "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":1,\"src_addr\":\"2001:db8::1\"," \
    "\"dst_addr\":\"2001:db8::2\",\"src_port\":40000,\"dst_port\":22,\"proto\":6,"          \
    "\"tcp_flags\":2,\"packets\":1,\"bytes\":80,\"start_ms\":1704103205250,"                \
    "\"end_ms\":1704103205251,\"sampling_rate\":1,\"ip_version\":6,\"rev_packets\":1,"      \
    "\"rev_bytes\":60,\"rev_tcp_flags\":20,\"uid\":\"Cd4zeekV6\"}"

/* A TCP biflow: flags per direction in hex. */
#define EVE_FLOW                                                                           \
    "{\"timestamp\":\"2024-01-01T10:00:05.000000+0000\",\"flow_id\":1234567890123456,"     \
    "\"event_type\":\"flow\",\"src_ip\":\"192.168.1.10\",\"src_port\":51000,"              \
    "\"dest_ip\":\"93.184.216.34\",\"dest_port\":443,\"proto\":\"TCP\",\"app_proto\":\"tls\"," \
    "\"flow\":{\"pkts_toserver\":12,\"pkts_toclient\":10,\"bytes_toserver\":1141,"         \
    "\"bytes_toclient\":4853,\"start\":\"2024-01-01T10:00:00.123456+0000\","               \
    "\"end\":\"2024-01-01T10:00:01.623456+0000\",\"age\":1,\"state\":\"closed\","          \
    "\"reason\":\"timeout\",\"alerted\":false},\"tcp\":{\"tcp_flags\":\"1b\","              \
    "\"tcp_flags_ts\":\"1b\",\"tcp_flags_tc\":\"13\",\"state\":\"closed\"}}\n"
#define EVE_FLOW_FLOW                                                                      \
    "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":2,\"src_addr\":\"192.168.1.10\"," \
    "\"dst_addr\":\"93.184.216.34\",\"src_port\":51000,\"dst_port\":443,\"proto\":6,"       \
    "\"tcp_flags\":27,\"packets\":12,\"bytes\":1141,\"start_ms\":1704103200123,"            \
    "\"end_ms\":1704103201623,\"sampling_rate\":1,\"ip_version\":4,\"rev_packets\":10,"     \
    "\"rev_bytes\":4853,\"rev_tcp_flags\":19,\"flow_id\":1234567890123456}"

/* Not a flow: skipped. */
#define EVE_ALERT                                                                          \
    "{\"timestamp\":\"2024-01-01T10:00:00.000000+0000\",\"flow_id\":42,"                   \
    "\"event_type\":\"alert\",\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.2\","           \
    "\"proto\":\"TCP\",\"alert\":{\"signature_id\":2100498,\"signature\":\"GPL ATTACK\"}}\n"

/* A port above 65535: refused with its reason. */
#define EVE_BAD                                                                            \
    "{\"timestamp\":\"2024-01-01T10:00:05.000000+0000\",\"flow_id\":5,"                    \
    "\"event_type\":\"flow\",\"src_ip\":\"10.0.0.1\",\"src_port\":70000,"                  \
    "\"dest_ip\":\"10.0.0.2\",\"dest_port\":80,\"proto\":\"TCP\",\"flow\":{"               \
    "\"pkts_toserver\":1,\"bytes_toserver\":60,\"start\":\"2024-01-01T10:00:00.000000+0000\"}}\n"

/* One direction of a flow, written in two halves to the new file. */
#define EVE_NETFLOW_1                                                                      \
    "{\"timestamp\":\"2024-01-01T10:00:02.000000+0000\",\"flow_id\":42,"                   \
    "\"event_type\":\"netflow\",\"src_ip\":\"10.0.0.1\",\"src_port\":40000,"
#define EVE_NETFLOW_2                                                                      \
    "\"dest_ip\":\"10.0.0.2\",\"dest_port\":80,\"proto\":\"TCP\",\"app_proto\":\"http\","  \
    "\"netflow\":{\"pkts\":5,\"bytes\":500,\"start\":\"2024-01-01T10:00:00.000000+0000\"," \
    "\"end\":\"2024-01-01T10:00:01.000000+0000\",\"age\":1,\"min_ttl\":64,\"max_ttl\":64}," \
    "\"tcp\":{\"tcp_flags\":\"1b\",\"syn\":true,\"fin\":true,\"psh\":true,\"ack\":true}}\n"
#define EVE_NETFLOW_FLOW                                                                   \
    "{\"exporter\":\"192.0.2.10\",\"version\":0,\"domain\":2,\"src_addr\":\"10.0.0.1\","    \
    "\"dst_addr\":\"10.0.0.2\",\"src_port\":40000,\"dst_port\":80,\"proto\":6,"             \
    "\"tcp_flags\":27,\"packets\":5,\"bytes\":500,\"start_ms\":1704103200000,"              \
    "\"end_ms\":1704103201000,\"sampling_rate\":1,\"ip_version\":4,\"flow_id\":42}"

/*
 * The bus side.
 */

struct seen {
    char flows[MAXFLOWS][FS_FLOW_JSON_MAX];
    size_t n;
    bool stats;                /* a stats message came */
    uint64_t zeek[3], eve[3];  /* flows, malformed, rotations of the last stats */
};

static uint64_t counter(const struct fs_stats_group *g, const char *name)
{
    for (size_t k = 0; k < g->ncounters; k++)
        if (strcmp(g->counters[k].name, name) == 0)
            return g->counters[k].value;
    cr_assert_fail("group %s has no counter %s", g->name, name);
    return 0;
}

/* Receives for up to `ms`, until `want` flows came (and a stats message
 * after them when `want_stats`). */
static void receive(struct fs_bus *sub, struct seen *s, size_t want, bool want_stats, int ms)
{
    char zeek_group[300], eve_group[300], err[256];
    long long deadline = fs_now_ms() + ms;

    snprintf(zeek_group, sizeof(zeek_group), "zeek:%s", path_of("conn.log"));
    snprintf(eve_group, sizeof(eve_group), "eve:%s", path_of("eve.json"));
    s->stats = false;
    while (fs_now_ms() < deadline && (s->n < want || (want_stats && !s->stats))) {
        struct fs_bus_msg m;
        struct fs_msg msg;

        if (fs_bus_recv(sub, 100, &m) != 1)
            continue;
        cr_assert_eq(fs_msg_decode(m.data, m.len, &msg, err, sizeof(err)), 0, "%s", err);
        for (size_t i = 0; i < msg.nflows; i++) {
            cr_assert_lt(s->n, MAXFLOWS, "too many flows");
            cr_assert_gt(fs_flow_json(&msg.flows[i], s->flows[s->n], FS_FLOW_JSON_MAX), 0);
            s->n++;
        }
        for (size_t g = 0; g < msg.ngroups; g++) {
            uint64_t *c = strcmp(msg.groups[g].name, zeek_group) == 0  ? s->zeek
                          : strcmp(msg.groups[g].name, eve_group) == 0 ? s->eve
                                                                       : NULL;

            if (c == NULL)
                continue;
            c[0] = counter(&msg.groups[g], "flows");
            c[1] = counter(&msg.groups[g], "malformed");
            c[2] = counter(&msg.groups[g], "rotations");
        }
        s->stats |= msg.type == FS_MSG_STATS && s->n >= want;
        fs_msg_free(&msg);
    }
}

/* Each of `want` came exactly once, and nothing else. */
static void expect_flows(const struct seen *s, const char *const *want, size_t n)
{
    bool used[MAXFLOWS] = {false};

    for (size_t w = 0; w < n; w++) {
        size_t i;

        for (i = 0; i < s->n && (used[i] || strcmp(s->flows[i], want[w]) != 0); i++)
            ;
        if (i == s->n) {
            for (size_t k = 0; k < s->n; k++)
                fprintf(stderr, "got: %s\n", s->flows[k]);
            cr_assert_fail("missing: %s", want[w]);
        }
        used[i] = true;
    }
    cr_assert_eq(s->n, n, "%zu flows, %zu expected", s->n, n);
}

TestSuite(sensor_feeds, .init = setup, .fini = teardown, .timeout = 60);

Test(sensor_feeds, follows_zeek_and_eve_through_rotation_onto_the_bus)
{
    const char *conn = path_of("conn.log"), *eve = path_of("eve.json");
    char endpoint[256], err[256], rotated[300];
    const char *ep = endpoint;
    static struct seen s;
    struct fs_bus *sub;
    int status, errfd;
    size_t loglen;
    char *log;
    pid_t pid;

    snprintf(endpoint, sizeof(endpoint), "ipc://%s/bus", dir);
    sub = fs_bus_sub(&ep, 1, NULL, 0, err, sizeof(err));
    cr_assert_not_null(sub, "%s", err);
    /* Neither file exists yet: both are waited for. */
    pid = fs_proc_spawn((char *[]){SENSOR, "--zeek-conn", (char *)conn, "--eve", (char *)eve,
                                   "--publish", endpoint, "--exporter", "192.0.2.10",
                                   "--stats-interval", "1", NULL},
                        NULL, &errfd);
    cr_assert_gt(pid, 0);

    /* The first stats message says the subscription is through. */
    receive(sub, &s, 0, true, 10000);
    cr_assert(s.stats, "no stats message from the sensor");

    write_file(conn, "w", ZEEK_HEADER ZEEK_TCP ZEEK_BAD ZEEK_UDP);
    write_file(eve, "w", EVE_FLOW EVE_ALERT EVE_BAD);
    receive(sub, &s, 3, false, 10000);
    expect_flows(&s, (const char *[]){ZEEK_TCP_FLOW, ZEEK_UDP_FLOW, EVE_FLOW_FLOW}, 3);

    /* Rotation by rename: the writer still appends to the old file a
     * moment before it opens a new one under the name. */
    snprintf(rotated, sizeof(rotated), "%s.1", conn);
    cr_assert_eq(rename(conn, rotated), 0);
    write_file(rotated, "a", ZEEK_ICMP);
    usleep(400000);
    write_file(conn, "w", ZEEK_HEADER ZEEK_V6);
    snprintf(rotated, sizeof(rotated), "%s.1", eve);
    cr_assert_eq(rename(eve, rotated), 0);
    /* The new file's first line comes in two writes. */
    write_file(eve, "w", EVE_NETFLOW_1);
    usleep(600000);
    write_file(eve, "a", EVE_NETFLOW_2);

    receive(sub, &s, 6, true, 10000);
    expect_flows(&s, (const char *[]){ZEEK_TCP_FLOW, ZEEK_UDP_FLOW, EVE_FLOW_FLOW,
                                      ZEEK_ICMP_FLOW, ZEEK_V6_FLOW, EVE_NETFLOW_FLOW}, 6);
    cr_assert(s.stats, "no stats message after the flows");
    cr_assert_eq(s.zeek[0], 4, "zeek flows %llu", (unsigned long long)s.zeek[0]);
    cr_assert_eq(s.zeek[1], 1, "zeek malformed %llu", (unsigned long long)s.zeek[1]);
    cr_assert_eq(s.zeek[2], 1, "zeek rotations %llu", (unsigned long long)s.zeek[2]);
    cr_assert_eq(s.eve[0], 2, "eve flows %llu", (unsigned long long)s.eve[0]);
    cr_assert_eq(s.eve[1], 1, "eve malformed %llu", (unsigned long long)s.eve[1]);
    cr_assert_eq(s.eve[2], 1, "eve rotations %llu", (unsigned long long)s.eve[2]);

    cr_assert_eq(fs_proc_stop(pid, SIGTERM, 5000, &status), 0);
    log = fs_proc_read_all(errfd, 2000, &loglen);
    close(errfd);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", log);
    /* The damaged lines, each with its reason; the counters at exit. */
    cr_assert(strstr(log, "bad src_port 70000") != NULL, "%s", log);
    cr_assert(strstr(log, "bad id.orig_p \"70000\"") != NULL, "%s", log);
    cr_assert(strstr(log, " flows=4 malformed=1 ") != NULL, "zeek counters: %s", log);
    cr_assert(strstr(log, " flows=2 malformed=1 skipped=1 ") != NULL, "eve counters: %s", log);
    free(log);
    fs_bus_close(sub, 0);
}

/* Reads `fd` until `text` shows up: returns what was read (valid until the
 * next call), or NULL after `ms`. */
static const char *wait_for(int fd, const char *text, int ms)
{
    static char buf[1 << 16];
    size_t n = 0;
    long long deadline = fs_now_ms() + ms;

    buf[0] = '\0';
    while (fs_now_ms() < deadline && n < sizeof(buf) - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t r;

        if (poll(&p, 1, 100) != 1)
            continue;
        if ((r = read(fd, buf + n, sizeof(buf) - 1 - n)) <= 0)
            return NULL;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, text) != NULL)
            return buf;
    }
    return NULL;
}

Test(sensor_feeds, from_end_skips_what_the_logs_held)
{
    const char *eve = path_of("eve.json");
    const char *out;
    int status, outfd, errfd;
    size_t rest = 0;
    char *more;
    pid_t pid;

    write_file(eve, "w", EVE_FLOW);
    pid = fs_proc_spawn((char *[]){SENSOR, "--eve", (char *)eve, "--logs-from-end", "--json",
                                   "--no-publish", "--exporter", "192.0.2.10", NULL},
                        &outfd, &errfd);
    cr_assert_gt(pid, 0);
    /* The first look at the file finds it, and its end. */
    cr_assert_not_null(wait_for(errfd, "eve.json: opened", 10000), "the file was never opened");
    write_file(eve, "a", EVE_NETFLOW_1 EVE_NETFLOW_2);
    out = wait_for(outfd, "\n", 10000);
    cr_assert_not_null(out, "no flow from the line written after the start");
    cr_assert_str_eq(out, EVE_NETFLOW_FLOW "\n");
    cr_assert_eq(fs_proc_stop(pid, SIGTERM, 5000, &status), 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    more = fs_proc_read_all(outfd, 2000, &rest);
    close(outfd);
    close(errfd);
    cr_assert_eq(rest, 0, "more flows: %s", more);
    free(more);
}

Test(sensor_feeds, offline_reads_the_logs_once_next_to_the_packets)
{
    const char *pcap = path_of("p.pcap"), *conn = path_of("conn.log"), *eve = path_of("eve.json");
    struct pkt p = {.dlt = DLT_EN10MB, .src = "192.0.2.1", .dst = "198.51.100.53",
                    .proto = 17, .sport = 5000, .dport = 53, .payload = 40};
    struct pcapw *w = pcapw_open(pcap, DLT_EN10MB);
    struct fs_proc_output o;
    char line[1024];

    pcapw_pkt(w, 1700000000000000ull, &p);
    pcapw_close(w);
    write_file(conn, "w", ZEEK_HEADER ZEEK_TCP);
    /* A complete file may end without a line feed. */
    write_file(eve, "w", EVE_NETFLOW_1 "\"dest_ip\":\"10.0.0.2\",\"dest_port\":80,"
               "\"proto\":\"TCP\",\"netflow\":{\"pkts\":5,\"bytes\":500,"
               "\"start\":\"2024-01-01T10:00:00.000000+0000\"}}");
    cr_assert_eq(fs_proc_run((char *[]){SENSOR, "--read", (char *)pcap, "--zeek-conn",
                                        (char *)conn, "--eve", (char *)eve, "--json",
                                        "--zeek-domain", "7", "--eve-domain", "8", NULL},
                             30000, &o), 0);
    cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "%s", o.err);
    cr_assert(strstr(o.out, "\"domain\":0,\"src_addr\":\"192.0.2.1\",\"dst_addr\":"
                            "\"198.51.100.53\",\"src_port\":5000,\"dst_port\":53,\"proto\":17,"
                            "\"tos\":0,\"packets\":1,\"bytes\":68,") != NULL, "%s", o.out);
    cr_assert(strstr(o.out, "\"domain\":7,\"src_addr\":\"192.168.1.10\"") != NULL, "%s", o.out);
    cr_assert(strstr(o.out, "\"uid\":\"Ca1zeekTcp\"}\n") != NULL, "%s", o.out);
    cr_assert(strstr(o.out, "\"domain\":8,\"src_addr\":\"10.0.0.1\",\"dst_addr\":\"10.0.0.2\","
                            "\"src_port\":40000,\"dst_port\":80,\"proto\":6,\"packets\":5,"
                            "\"bytes\":500,\"start_ms\":1704103200000,\"end_ms\":1704103200000,"
                            "\"sampling_rate\":1,\"ip_version\":4,\"flow_id\":42}\n") != NULL,
              "%s", o.out);
    /* The summary (on stderr with --json) has a line per log. */
    cr_assert(strstr(o.err, "packets 1, bytes") != NULL, "%s", o.err);
    snprintf(line, sizeof(line), "eve:%s: lines 1, flows 1,", eve);
    cr_assert(strstr(o.err, line) != NULL, "%s", o.err);
    snprintf(line, sizeof(line), "zeek:%s: lines 9, flows 1, skipped 8,", conn);
    cr_assert(strstr(o.err, line) != NULL, "%s", o.err);
    fs_proc_output_free(&o);

    /* A log that is not there is an error, as a capture file would be. */
    cr_assert_eq(fs_proc_run((char *[]){SENSOR, "--read", (char *)pcap, "--eve",
                                        (char *)path_of("missing.json"), NULL},
                             30000, &o), 0);
    cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 1, "%s", o.err);
    cr_assert(strstr(o.err, "missing.json: never opened") != NULL, "%s", o.err);
    fs_proc_output_free(&o);
}

Test(sensor_feeds, bad_combinations_are_refused)
{
    static const char *const bad[][8] = {
        /* the meter's domain */
        {"--read", "x.pcap", "--zeek-conn", "c.log", "--zeek-domain", "0", NULL},
        {"--interface", "lo", "--eve", "e.json", "--domain", "2", NULL},
        /* logs are read whole offline */
        {"--read", "x.pcap", "--eve", "e.json", "--logs-from-end", NULL},
        /* log flows are not exported */
        {"--eve", "e.json", "--export", "ipfix://127.0.0.1", NULL},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *argv[10] = {SENSOR};
        struct fs_proc_output o;
        size_t n = 1;

        for (size_t k = 0; bad[i][k] != NULL; k++)
            argv[n++] = (char *)bad[i][k];
        argv[n] = NULL;
        cr_assert_eq(fs_proc_run(argv, 10000, &o), 0);
        cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 2, "case %zu: %s", i, o.err);
        fs_proc_output_free(&o);
    }
}
