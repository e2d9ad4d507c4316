/*
 * test_e2e_collector.c - the real flowsentry-collector binary, end to end.
 *
 * Starts the process on loopback ports with an ipc:// bus in a temporary
 * directory, sends real export datagrams (NetFlow v5 over UDP on IPv4 and
 * IPv6, Cisco IPFIX over TCP) and checks that the subscriber gets exactly
 * the flows the decoder makes of the same bytes in this process. Also the
 * command-line faces: bad configuration, offline --read with --json.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus.h"
#include "decode.h"
#include "msg.h"
#include "pcapfile.h"
#include "proc.h"

#define COLLECTOR FS_BINARY_DIR "/flowsentry-collector"
#define NFV5 FS_CAPTURES "/akvorado/netflow/nfv5.pcap"
#define IPFIX FS_CAPTURES "/pmacct/100-IPFIXv10-CISCO/traffic-00.pcap"

static char dir[64];
static pid_t child = -1;
static int child_err = -1;
static struct fs_bus *sub;
static struct fs_decoder *dec;  /* the expected side */

/* Flows as JSON lines, the form both sides are compared in. */
struct lines {
    char *text;
    size_t len, cap;
    size_t n;
};

static struct lines want, got;

static void setup(void)
{
    struct fs_decoder_config dc = { 0 };

    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    dec = fs_decoder_new(&dc);
    cr_assert_not_null(dec);
}

/* Shows what the collector logged, which is what one needs when it failed. */
static void dump_child_log(void)
{
    char *log;

    if (child_err < 0)
        return;
    log = fs_proc_read_all(child_err, 500, NULL);
    if (log != NULL && log[0] != '\0')
        cr_log_info("collector log:\n%s", log);
    free(log);
    close(child_err);
    child_err = -1;
}

static void teardown(void)
{
    if (child > 0)
        fs_proc_stop(child, SIGKILL, 2000, NULL);
    child = -1;
    dump_child_log();
    fs_bus_close(sub, 0);
    sub = NULL;
    fs_decoder_free(dec);
    dec = NULL;
    free(want.text);
    free(got.text);
    memset(&want, 0, sizeof(want));
    memset(&got, 0, sizeof(got));
    fs_rmtree(dir);
}

TestSuite(e2e_collector, .init = setup, .fini = teardown, .timeout = 60);

/* Every datagram of a capture, concatenated, with their boundaries. */
struct capture {
    uint8_t data[1 << 16];
    size_t len;
    size_t off[64], size[64];
    size_t n;
};

static int keep_datagram(void *arg, const struct fs_pcap_packet *p)
{
    struct capture *c = arg;

    cr_assert_lt(c->n, 64);
    cr_assert_leq(c->len + p->len, sizeof(c->data));
    memcpy(c->data + c->len, p->payload, p->len);
    c->off[c->n] = c->len;
    c->size[c->n] = p->len;
    c->len += p->len;
    c->n++;
    return 0;
}

static void load_capture(const char *path, struct capture *c)
{
    char err[256];

    memset(c, 0, sizeof(*c));
    cr_assert_eq(fs_pcap_read(path, keep_datagram, c, NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert_gt(c->n, 0);
}

static void lines_add(struct lines *l, const struct fs_flow *f)
{
    char buf[FS_FLOW_JSON_MAX];
    int n = fs_flow_json(f, buf, sizeof(buf));

    cr_assert_geq(n, 0);
    if (l->len + (size_t)n + 2 > l->cap) {
        l->cap = (l->cap + (size_t)n + 2) * 2;
        l->text = realloc(l->text, l->cap);
        cr_assert_not_null(l->text);
    }
    memcpy(l->text + l->len, buf, (size_t)n);
    l->len += (size_t)n;
    l->text[l->len++] = '\n';
    l->text[l->len] = '\0';
    l->n++;
}

static void expect_sink(void *arg, const struct fs_flow *flows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lines_add(arg, &flows[i]);
}

static void expect(struct fs_decoder *d, const char *exporter, const uint8_t *buf, size_t len,
                   uint64_t now_ms, struct lines *l)
{
    fs_ip ip;

    cr_assert_eq(fs_ip_parse(exporter, &ip), 0);
    cr_assert_geq(fs_decode(d, &ip, now_ms, buf, len, expect_sink, l), 0);
}

/* The collector's argv: its path, then the NULL-terminated `extra`. */
static void collector_argv(char *argv[64], char *const extra[])
{
    size_t n = 0;

    argv[n++] = COLLECTOR;
    while (*extra != NULL && n < 63)
        argv[n++] = *extra++;
    argv[n] = NULL;
}

static void start(char *const extra[])
{
    char *argv[64];

    collector_argv(argv, extra);
    child = fs_proc_spawn(argv, NULL, &child_err);
    cr_assert_gt(child, 0);
}

static void subscribe(const char *endpoint)
{
    char err[256];

    sub = fs_bus_sub(&endpoint, 1, NULL, 0, err, sizeof(err));
    cr_assert_not_null(sub, "%s", err);
}

/* Receives messages until `nflows` flows have come (and adds them to `into`)
 * or the deadline passes. A stats message, if `stats` is not NULL, is kept
 * there (the latest one). */
static void receive(struct lines *into, size_t nflows, int timeout_ms, struct fs_msg *stats)
{
    long long deadline = fs_now_ms() + timeout_ms;

    while (into->n < nflows) {
        struct fs_bus_msg bm;
        struct fs_msg m;
        char err[256];
        long long left = deadline - fs_now_ms();
        int r;

        if (left <= 0)
            break;
        r = fs_bus_recv(sub, (int)left, &bm);
        cr_assert_geq(r, 0, "%s", fs_bus_error(sub));
        if (r == 0)
            break;
        cr_assert_eq(fs_msg_decode(bm.data, bm.len, &m, err, sizeof(err)), 0, "%s", err);
        if (m.type == FS_MSG_FLOWS) {
            cr_assert_str_eq(bm.topic, "flows");
            for (size_t i = 0; i < m.nflows; i++)
                lines_add(into, &m.flows[i]);
            fs_msg_free(&m);
        } else if (stats != NULL) {
            fs_msg_free(stats);
            *stats = m;
        } else {
            fs_msg_free(&m);
        }
    }
}

/* Waits for the first stats message: once it arrives our subscription is
 * in place, so nothing sent afterwards can be missed. */
static void wait_ready(void)
{
    struct lines none = { 0 };
    struct fs_msg stats = { 0 };
    long long deadline = fs_now_ms() + 10000;

    while (stats.type != FS_MSG_STATS && fs_now_ms() < deadline)
        receive(&none, 1, 200, &stats);
    cr_assert_eq(stats.type, FS_MSG_STATS, "no stats message from the collector");
    cr_assert_eq(none.n, 0, "flows before anything was sent");
    fs_msg_free(&stats);
}

static uint64_t stat_value(const struct fs_msg *m, const char *group, const char *counter)
{
    for (size_t g = 0; g < m->ngroups; g++) {
        if (strcmp(m->groups[g].name, group) != 0)
            continue;
        for (size_t i = 0; i < m->groups[g].ncounters; i++)
            if (strcmp(m->groups[g].counters[i].name, counter) == 0)
                return m->groups[g].counters[i].value;
    }
    cr_assert_fail("stats: no %s/%s", group, counter);
    return 0;
}

/* Waits for a stats message whose total shows `flows` flows. */
static void wait_stats(uint64_t flows, struct fs_msg *out)
{
    struct lines none = { 0 };
    long long deadline = fs_now_ms() + 10000;

    memset(out, 0, sizeof(*out));
    while (fs_now_ms() < deadline) {
        receive(&none, 1, 300, out);
        if (out->type == FS_MSG_STATS && stat_value(out, "total", "flows") == flows)
            break;
    }
    cr_assert_eq(out->type, FS_MSG_STATS);
    cr_assert_eq(stat_value(out, "total", "flows"), flows);
    cr_assert_eq(none.n, 0, "unexpected extra flows");
}

static void send_udp(int family, int port, const uint8_t *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = fs_loopback_addr(family, port, &ss);
    int fd = socket(family, SOCK_DGRAM, 0);

    cr_assert_geq(fd, 0);
    cr_assert_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl), (ssize_t)len);
    close(fd);
}

/* Connects to 127.0.0.1:port and writes `buf` in uneven pieces, so that
 * messages straddle reads on the collector's side. */
static int send_tcp(int port, const uint8_t *buf, size_t len)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    size_t off = 0, piece = 7;

    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    while (off < len) {
        size_t n = len - off < piece ? len - off : piece;

        cr_assert_eq(write(fd, buf + off, n), (ssize_t)n);
        off += n;
        piece = piece * 3 % 1499 + 1;
        usleep(200);
    }
    return fd;
}

static void stop_cleanly(void)
{
    int status = 0;

    cr_assert_eq(fs_proc_stop(child, SIGTERM, 10000, &status), 0, "no exit after SIGTERM");
    child = -1;
    cr_assert(WIFEXITED(status), "collector died of signal %d", WTERMSIG(status));
    cr_assert_eq(WEXITSTATUS(status), 0);
}

Test(e2e_collector, udp_v4_v6_and_tcp_flows_reach_the_bus)
{
    static struct capture v5, ipfix;
    struct fs_decoder *d = dec;
    struct fs_msg stats;
    char endpoint[128], l4[64], l6[64], lt[64], tplfile[128];
    size_t v5_flows;
    int p4 = fs_free_port(AF_INET, SOCK_DGRAM), p6 = fs_free_port(AF_INET6, SOCK_DGRAM);
    int pt = fs_free_port(AF_INET, SOCK_STREAM), tcpfd;
    struct stat sb;

    cr_assert(p4 > 0 && p6 > 0 && pt > 0);
    load_capture(NFV5, &v5);
    load_capture(IPFIX, &ipfix);
    snprintf(endpoint, sizeof(endpoint), "ipc://%s/run/flows", dir);
    snprintf(l4, sizeof(l4), "udp://127.0.0.1:%d", p4);
    snprintf(l6, sizeof(l6), "udp://[::1]:%d", p6);
    snprintf(lt, sizeof(lt), "tcp://127.0.0.1:%d", pt);
    snprintf(tplfile, sizeof(tplfile), "%s/state/templates", dir);
    start((char *[]){ "--listen", l4, "--listen", l6, "--listen", lt, "--publish", endpoint,
                      "--template-file", tplfile, "--stats-interval", "1", "--sender", "e2e",
                      "--batch-size", "10", NULL });
    subscribe(endpoint);
    wait_ready();

    /* v5 over IPv4, then the same bytes over IPv6: a second exporter. */
    expect(d, "127.0.0.1", v5.data, v5.len, 0, &want);
    v5_flows = want.n;
    send_udp(AF_INET, p4, v5.data, v5.len);
    receive(&got, want.n, 10000, NULL);
    cr_assert_eq(got.n, want.n, "v5 over IPv4: %zu of %zu flows", got.n, want.n);
    expect(d, "::1", v5.data, v5.len, 0, &want);
    send_udp(AF_INET6, p6, v5.data, v5.len);
    receive(&got, want.n, 10000, NULL);
    cr_assert_eq(got.n, want.n, "v5 over IPv6: %zu of %zu flows", got.n, want.n);

    /* IPFIX over TCP: templates and data, one stream. */
    for (size_t i = 0; i < ipfix.n; i++)
        expect(d, "127.0.0.1", ipfix.data + ipfix.off[i], ipfix.size[i], 0, &want);
    cr_assert_gt(want.n, 2 * 29, "the IPFIX capture gives flows");
    tcpfd = send_tcp(pt, ipfix.data, ipfix.len);
    receive(&got, want.n, 10000, NULL);
    cr_assert_eq(got.n, want.n, "IPFIX over TCP: %zu of %zu flows", got.n, want.n);
    cr_assert_str_eq(got.text, want.text);

    wait_stats(want.n, &stats);
    cr_assert_eq(stat_value(&stats, "total", "datagrams"), 2 + ipfix.n);
    cr_assert_eq(stat_value(&stats, "::1", "flows"), v5_flows);
    cr_assert_eq(stat_value(&stats, "::1", "datagrams"), 1);
    cr_assert_eq(stat_value(&stats, "127.0.0.1", "datagrams"), 1 + ipfix.n);
    cr_assert_eq(stat_value(&stats, "127.0.0.1", "short_header"), 0);
    cr_assert_eq(stat_value(&stats, lt, "messages"), ipfix.n);
    cr_assert_eq(stat_value(&stats, lt, "errors"), 0);
    cr_assert_eq(stat_value(&stats, l6, "datagrams"), 1);
    cr_assert_eq(stat_value(&stats, l6, "reads"), 1);
    fs_msg_free(&stats);
    close(tcpfd);

    stop_cleanly();
    cr_assert_eq(stat(tplfile, &sb), 0, "templates saved at exit");
    cr_assert_gt(sb.st_size, 0);
}

Test(e2e_collector, allowlist_drops_strangers)
{
    static struct capture v5;
    struct fs_msg stats;
    char endpoint[128], l4[64];
    int p4 = fs_free_port(AF_INET, SOCK_DGRAM);

    load_capture(NFV5, &v5);
    snprintf(endpoint, sizeof(endpoint), "ipc://%s/flows", dir);
    snprintf(l4, sizeof(l4), "udp://127.0.0.1:%d", p4);
    start((char *[]){ "--listen", l4, "--publish", endpoint, "--template-file", "none",
                      "--stats-interval", "1", "--allow", "192.0.2.0/24", "--allow", "::1",
                      NULL });
    subscribe(endpoint);
    wait_ready();
    send_udp(AF_INET, p4, v5.data, v5.len);
    send_udp(AF_INET, p4, v5.data, v5.len);
    /* Stats until the drops show; no flow may come meanwhile. */
    {
        long long deadline = fs_now_ms() + 10000;
        struct lines none = { 0 };

        memset(&stats, 0, sizeof(stats));
        while (fs_now_ms() < deadline) {
            receive(&none, 1, 300, &stats);
            if (stats.type == FS_MSG_STATS && stat_value(&stats, "total", "allowlist_drops") == 2)
                break;
        }
        cr_assert_eq(none.n, 0, "flows from an exporter not allowed");
    }
    cr_assert_eq(stat_value(&stats, "total", "allowlist_drops"), 2);
    cr_assert_eq(stat_value(&stats, "total", "flows"), 0);
    cr_assert_eq(stat_value(&stats, "total", "datagrams"), 0, "never reached the decoder");
    fs_msg_free(&stats);
    stop_cleanly();
}

static void run(char *const extra[], struct fs_proc_output *o)
{
    char *argv[64];

    collector_argv(argv, extra);
    cr_assert_eq(fs_proc_run(argv, 30000, o), 0, "did not finish");
}

static void assert_exit(const struct fs_proc_output *o, int code)
{
    cr_assert(WIFEXITED(o->status), "died of signal %d; stderr: %s", WTERMSIG(o->status),
              o->err);
    cr_assert_eq(WEXITSTATUS(o->status), code, "stderr: %s", o->err);
}

Test(e2e_collector, bad_configuration_exits_with_a_message)
{
    struct fs_proc_output o;
    char conf[128];
    FILE *fp;

    run((char *[]){ "--rcvbuf", "abc", NULL }, &o);
    assert_exit(&o, 2);
    cr_assert_str_eq(o.err, "flowsentry-collector: option --rcvbuf: 'abc' is not a number\n");
    cr_assert_eq(o.outlen, 0);
    fs_proc_output_free(&o);

    snprintf(conf, sizeof(conf), "%s/bad.conf", dir);
    fp = fopen(conf, "w");
    cr_assert_not_null(fp);
    fputs("# lab\njson = yes\nlisten = udp://[::1]:99999\n", fp);
    fclose(fp);
    run((char *[]){ "-c", conf, NULL }, &o);
    assert_exit(&o, 2);
    cr_assert_str_eq(o.err, "flowsentry-collector: config line 3: listen: 'udp://[::1]:99999': "
                            "port must be 1..65535\n");
    fs_proc_output_free(&o);

    run((char *[]){ "--user", "no-such-user-here", "--no-publish", NULL }, &o);
    assert_exit(&o, 2);
    cr_assert_not_null(strstr(o.err, "no-such-user-here"), "%s", o.err);
    fs_proc_output_free(&o);

    run((char *[]){ "--help", NULL }, &o);
    assert_exit(&o, 0);
    cr_assert_not_null(strstr(o.out, "--listen URL"));
    fs_proc_output_free(&o);
}

Test(e2e_collector, read_prints_one_json_line_per_flow)
{
    static struct capture v5;
    struct fs_proc_output o;

    load_capture(NFV5, &v5);
    /* The capture's source address is the exporter. */
    expect(dec, "10.19.144.41", v5.data, v5.len, 0, &want);
    cr_assert_gt(want.n, 0);
    run((char *[]){ "--read", NFV5, "--json", NULL }, &o);
    assert_exit(&o, 0);
    cr_assert_str_eq(o.out, want.text);
    /* With flows on stdout, the summary goes to stderr. */
    cr_assert_not_null(strstr(o.err, "10.19.144.41"), "%s", o.err);
    cr_assert_not_null(strstr(o.err, "total"), "%s", o.err);
    fs_proc_output_free(&o);

    /* Without --json the summary is the output. */
    run((char *[]){ "--read", NFV5, NULL }, &o);
    assert_exit(&o, 0);
    cr_assert_not_null(strstr(o.out, "10.19.144.41"), "%s", o.out);
    fs_proc_output_free(&o);
}

Test(e2e_collector, unreadable_capture_fails)
{
    struct fs_proc_output o;
    char missing[128];

    snprintf(missing, sizeof(missing), "%s/missing.pcap", dir);
    run((char *[]){ "--read", NFV5, "--read", missing, NULL }, &o);
    assert_exit(&o, 1);
    cr_assert_not_null(strstr(o.err, missing), "%s", o.err);
    cr_assert_not_null(strstr(o.out, "10.19.144.41"), "the readable file was still decoded");
    fs_proc_output_free(&o);
}
