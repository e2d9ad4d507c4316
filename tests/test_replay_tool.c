/*
 * test_replay_tool.c - fs-replay against the real flowsentry-collector.
 *
 * The flows of a few hours of fs-netgen's network, plus hand-made ones that
 * stress the encoding (IPv6, counters past 32 bits, millisecond times, a
 * flow older than the exporter's uptime), are written as JSON lines, sent by
 * fs-replay as v9, IPFIX and a mix of both to a collector started with
 * --json on a free loopback port, and must come out with every field as they
 * went in. A plain UDP socket in place of the collector checks the
 * datagrams themselves: size limit, templates first and again, header times
 * taken from the flows and not from the clock.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flow.h"
#include "netgen.h"
#include "proc.h"

#define COLLECTOR FS_BINARY_DIR "/flowsentry-collector"
#define REPLAY FS_BINARY_DIR "/fs-replay"
#define MAX_FLOWS 4000
#define NETGEN_FLOWS 2500

static char dir[64], input[128];
static pid_t collector = -1;
static int col_out = -1, col_err = -1;
static char **sent;      /* the input's lines, as sent */
static size_t nsent;

static void add_sent(const struct fs_flow *f, FILE *fp)
{
    char line[FS_FLOW_JSON_MAX];
    int len = fs_flow_json(f, line, sizeof(line));

    cr_assert_gt(len, 0);
    cr_assert_lt(nsent, MAX_FLOWS);
    sent[nsent++] = strdup(line);
    fprintf(fp, "%s\n", line);
}

static void ip4(fs_ip *ip, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    *ip = (fs_ip){ .af = 4, .b = { a, b, c, d } };
}

/* A flow with the fields the collector reports for a replayed one. */
static struct fs_flow base_flow(void)
{
    static const enum fs_flow_field carried[] = {
        FS_F_SRC_ADDR, FS_F_DST_ADDR, FS_F_SRC_PORT, FS_F_DST_PORT, FS_F_PROTO,
        FS_F_TOS, FS_F_TCP_FLAGS, FS_F_PACKETS, FS_F_BYTES, FS_F_IN_IF, FS_F_OUT_IF,
        FS_F_START, FS_F_END, FS_F_NEXT_HOP, FS_F_SRC_AS, FS_F_DST_AS, FS_F_SRC_MASK,
        FS_F_DST_MASK, FS_F_SAMPLING,
    };
    struct fs_flow f;

    fs_flow_init(&f);
    for (size_t i = 0; i < sizeof(carried) / sizeof(carried[0]); i++)
        FS_FLOW_SET(&f, carried[i]);
    f.version = 10;
    f.domain = 1;
    ip4(&f.exporter, 192, 0, 2, 1);
    f.sampling_rate = 1;
    return f;
}

/* Hand-made flows first (the first one sets the exporters' uptime zero),
 * then the first hours of a small generated network. */
static void write_input(void)
{
    const uint64_t t0 = FS_NETGEN_DEFAULT_START_MS + 123;
    struct fs_netgen_config cfg = { .seed = 7, .days = 4, .learn_days = 1, .hosts = 60,
                                    .flows_per_hour = 200 };
    struct fs_netgen *g;
    const struct fs_flow *flows;
    struct fs_flow f;
    FILE *fp;
    long n;

    snprintf(input, sizeof(input), "%s/flows.json", dir);
    cr_assert_not_null(fp = fopen(input, "w"));

    f = base_flow();
    ip4(&f.src_addr, 10, 1, 2, 3);
    ip4(&f.dst_addr, 198, 51, 100, 7);
    ip4(&f.next_hop, 10, 1, 2, 254);
    f.src_port = 51234;
    f.dst_port = 443;
    f.proto = 6;
    f.tos = 0xb8;
    f.tcp_flags = 0x1b;
    f.packets = UINT64_C(5000000000);        /* past 32 bits */
    f.bytes = UINT64_C(7000000000000);
    f.in_if = 70000;
    f.out_if = 3;
    f.start_ms = t0;
    f.end_ms = t0 + 59876;                   /* milliseconds matter */
    f.src_as = 4200000000u;                  /* a 4-byte AS */
    f.dst_as = 64500;
    f.src_mask = 24;
    f.dst_mask = 20;
    add_sent(&f, fp);

    f.start_ms = t0 - 3 * 3600 * 1000 + 1;   /* began before the exporter "booted" */
    f.end_ms = t0 + 999;
    f.proto = 17;
    f.src_port = 53;
    f.dst_port = 0;
    f.tcp_flags = 0;
    f.packets = 1;
    f.bytes = 64;
    add_sent(&f, fp);

    f = base_flow();
    f.src_addr = (fs_ip){ .af = 6, .b = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x11 } };
    f.dst_addr = (fs_ip){ .af = 6, .b = { 0x20, 0x01, 0x0d, 0xb8, 0xff, [14] = 0xab, 0xcd } };
    f.next_hop = (fs_ip){ .af = 6, .b = { 0xfe, 0x80, [15] = 1 } };
    f.src_port = 40000;
    f.dst_port = 22;
    f.proto = 6;
    f.tcp_flags = 0x02;
    f.packets = 3;
    f.bytes = 180;
    f.in_if = 2;
    f.out_if = 9;
    f.start_ms = t0 + 5001;
    f.end_ms = t0 + 5002;
    f.src_mask = 64;
    f.dst_mask = 48;
    add_sent(&f, fp);

    cr_assert_not_null(g = fs_netgen_new(&cfg));
    while (nsent < NETGEN_FLOWS && (n = fs_netgen_next(g, &flows)) > 0)
        for (long i = 0; i < n && nsent < NETGEN_FLOWS; i++)
            add_sent(&flows[i], fp);
    fs_netgen_free(g);
    cr_assert_eq(nsent, NETGEN_FLOWS, "the generator gave only %zu flows", nsent);
    cr_assert_eq(fclose(fp), 0);
}

static void setup(void)
{
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    cr_assert_not_null(sent = calloc(MAX_FLOWS, sizeof(*sent)));
    nsent = 0;
    write_input();
}

static void teardown(void)
{
    if (collector > 0)
        fs_proc_stop(collector, SIGKILL, 2000, NULL);
    collector = -1;
    if (col_err >= 0) {
        char *log = fs_proc_read_all(col_err, 200, NULL);

        if (log != NULL && log[0] != '\0')
            cr_log_info("collector log:\n%s", log);
        free(log);
        close(col_err);
    }
    if (col_out >= 0)
        close(col_out);
    col_out = col_err = -1;
    for (size_t i = 0; i < nsent; i++)
        free(sent[i]);
    free(sent);
    sent = NULL;
    fs_rmtree(dir);
}

TestSuite(replay_tool, .init = setup, .fini = teardown, .timeout = 60);

/* Reads `fd` into `*buf` until it holds `want_lines` newlines, or `needle`
 * when not NULL, or `timeout_ms` passed. Returns the newlines read. */
static size_t read_until(int fd, char **buf, size_t *len, size_t want_lines, const char *needle,
                         int timeout_ms)
{
    long long deadline = fs_now_ms() + timeout_ms;
    size_t cap = *len + 65536, lines = 0;

    *buf = realloc(*buf, cap);
    cr_assert_not_null(*buf);
    (*buf)[*len] = '\0';
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        long long left = deadline - fs_now_ms();
        ssize_t got;

        lines = 0;
        for (const char *s = *buf; (s = strchr(s, '\n')) != NULL; s++)
            lines++;
        if (needle ? strstr(*buf, needle) != NULL : lines >= want_lines)
            return lines;
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return lines;
        if (cap - *len < 8192) {
            cap *= 2;
            cr_assert_not_null(*buf = realloc(*buf, cap));
        }
        got = read(fd, *buf + *len, cap - *len - 1);
        if (got <= 0)
            return lines;
        *len += (size_t)got;
        (*buf)[*len] = '\0';
    }
}

static int start_collector(void)
{
    static char listen[64];
    int port = fs_free_port(AF_INET, SOCK_DGRAM);
    char *argv[] = { COLLECTOR, "--listen", listen, "--json", "--no-publish",
                     "--template-file", "none", "--stats-interval", "0", NULL };
    char *log = NULL;
    size_t len = 0;

    cr_assert_gt(port, 0);
    snprintf(listen, sizeof(listen), "udp://127.0.0.1:%d", port);
    collector = fs_proc_spawn(argv, &col_out, &col_err);
    cr_assert_gt(collector, 0);
    read_until(col_err, &log, &len, 0, "listening on", 10000);
    cr_assert_not_null(strstr(log, "listening on"), "collector did not start:\n%s", log);
    free(log);
    return port;
}

/* Runs fs-replay with `extra` options to 127.0.0.1:port; returns its final
 * key=value line (caller frees) after checking it exited with `want_status`. */
static char *run_replay(int port, const char *const *extra, int want_status)
{
    char to[32], *argv[32];
    struct fs_proc_output o;
    size_t n = 0;
    char *line;

    snprintf(to, sizeof(to), "127.0.0.1:%d", port);
    argv[n++] = REPLAY;
    argv[n++] = "--to";
    argv[n++] = to;
    argv[n++] = "--read";
    argv[n++] = input;
    for (; *extra; extra++)
        argv[n++] = (char *)*extra;
    argv[n] = NULL;
    cr_assert_eq(fs_proc_run(argv, 30000, &o), 0);
    cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == want_status,
              "fs-replay status %d, stderr:\n%s", o.status, o.err);
    line = strdup(o.out);
    fs_proc_output_free(&o);
    return line;
}

static uint64_t kv(const char *line, const char *key)
{
    char k[40];
    const char *p;

    snprintf(k, sizeof(k), "%s=", key);
    p = strstr(line, k);
    cr_assert_not_null(p, "no %s in '%s'", key, line);
    return strtoull(p + strlen(k), NULL, 10);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines without the exporter's identity, sorted: the exporters of the
 * input are made up, the collector names the replaying ones. */
static char **normalised(char **lines, size_t n)
{
    char **out = calloc(n, sizeof(*out));

    cr_assert_not_null(out);
    for (size_t i = 0; i < n; i++) {
        struct fs_flow f;
        char err[200], buf[FS_FLOW_JSON_MAX];

        cr_assert_eq(fs_flow_parse_json(lines[i], strlen(lines[i]), &f, err, sizeof(err)), 0,
                     "%s: %s", err, lines[i]);
        fs_ip_parse("192.0.2.1", &f.exporter);
        f.version = 10;
        f.domain = 1;
        cr_assert_gt(fs_flow_json(&f, buf, sizeof(buf)), 0);
        out[i] = strdup(buf);
    }
    qsort(out, n, sizeof(*out), cmp_str);
    return out;
}

/* What the collector printed, one flow per line, split in place. */
struct received {
    char *text;
    char **line;
    size_t n;
};

static void receive_all(struct received *r)
{
    size_t len = 0;

    memset(r, 0, sizeof(*r));
    read_until(col_out, &r->text, &len, nsent, NULL, 20000);
    cr_assert_not_null(r->line = calloc(MAX_FLOWS + 1, sizeof(*r->line)));
    for (char *s = r->text, *nl; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
        *nl = '\0';
        cr_assert_lt(r->n, MAX_FLOWS + 1);
        r->line[r->n++] = s;
    }
    cr_assert_eq(r->n, nsent, "the collector printed %zu flows of %zu", r->n, nsent);
}

static void received_free(struct received *r)
{
    free(r->text);
    free(r->line);
}

/* Every flow arrived with all its fields; returns how many came from each
 * (version, domain) pair through `per`, indexed [version == 10][domain]. */
static void check_identical(struct received *r, size_t per[2][8])
{
    char **want = normalised(sent, nsent), **got = normalised(r->line, r->n);

    for (size_t i = 0; i < nsent; i++) {
        cr_assert_str_eq(got[i], want[i], "flow %zu of the sorted lists differs", i);
        free(want[i]);
        free(got[i]);
    }
    free(want);
    free(got);
    memset(per, 0, sizeof(size_t) * 16);
    for (size_t i = 0; i < r->n; i++) {
        struct fs_flow f;
        char err[200], want_exp[16], buf[FS_IP_STRLEN];

        cr_assert_eq(fs_flow_parse_json(r->line[i], strlen(r->line[i]), &f, err, sizeof(err)),
                     0);
        cr_assert(f.version == 9 || f.version == 10, "version %u", f.version);
        cr_assert(f.domain >= 1 && f.domain < 8, "domain %u", f.domain);
        /* exporter k: domain k+1, from 127.0.0.(k+1) */
        snprintf(want_exp, sizeof(want_exp), "127.0.0.%u", f.domain);
        cr_assert_str_eq(fs_ip_format(&f.exporter, buf), want_exp);
        per[f.version == 10][f.domain]++;
    }
}

static void replay_one_format(const char *format, unsigned version)
{
    const char *extra[] = { "--format", format, NULL };
    struct received r;
    size_t per[2][8];
    int port = start_collector();
    char *line = run_replay(port, extra, 0);

    cr_assert_eq(kv(line, "flows"), nsent, "%s", line);
    cr_assert_eq(kv(line, "exporters"), 1);
    cr_assert_eq(kv(line, "errors"), 0);
    cr_assert_eq(kv(line, "malformed"), 0);
    cr_assert_gt(kv(line, "datagrams"), 10);
    free(line);
    receive_all(&r);
    check_identical(&r, per);
    cr_assert_eq(per[version == 10][1], nsent, "all from one %s exporter", format);
    received_free(&r);
}

Test(replay_tool, v9_flows_arrive_identical)
{
    replay_one_format("v9", 9);
}

Test(replay_tool, ipfix_flows_arrive_identical)
{
    replay_one_format("ipfix", 10);
}

Test(replay_tool, mixed_exporters_split_conversations_and_formats)
{
    const char *extra[] = { "--format", "mixed", "--exporters", "4", NULL };
    struct received r;
    size_t per[2][8];
    int port = start_collector();
    char *line = run_replay(port, extra, 0);

    cr_assert_eq(kv(line, "flows"), nsent);
    cr_assert_eq(kv(line, "exporters"), 4);
    free(line);
    receive_all(&r);
    check_identical(&r, per);
    /* exporters 0 and 2 (domains 1, 3) speak v9, 1 and 3 IPFIX; each got a share */
    for (unsigned d = 1; d <= 4; d++) {
        cr_assert_gt(per[d % 2 == 0][d], nsent / 20, "domain %u got %zu", d, per[d % 2 == 0][d]);
        cr_assert_eq(per[d % 2 != 0][d], 0);
    }
    /* both directions of a conversation leave through the same exporter */
    for (size_t i = 0; i < r.n; i++) {
        struct fs_flow a, b;
        char err[200];

        fs_flow_parse_json(r.line[i], strlen(r.line[i]), &a, err, sizeof(err));
        for (size_t j = i + 1; j < r.n && j < i + 50; j++) {
            fs_flow_parse_json(r.line[j], strlen(r.line[j]), &b, err, sizeof(err));
            if (memcmp(&a.src_addr, &b.dst_addr, sizeof(fs_ip)) == 0 &&
                memcmp(&a.dst_addr, &b.src_addr, sizeof(fs_ip)) == 0)
                cr_assert_eq(a.domain, b.domain);
        }
    }
    received_free(&r);
}

/* --rate holds the sender back: 2500 flows at 5000/s take half a second. */
Test(replay_tool, rate_paces_the_flows)
{
    const char *extra[] = { "--rate", "5000", NULL };
    int port = start_collector();
    long long t0 = fs_now_ms();
    char *line = run_replay(port, extra, 0);
    long long ms = fs_now_ms() - t0;
    struct received r;

    cr_assert_geq(ms, 450, "took %lld ms", ms);
    cr_assert_eq(kv(line, "flows"), nsent);
    cr_assert_leq(kv(line, "rate"), 5500, "%s", line);
    free(line);
    receive_all(&r);
    received_free(&r);
}

/* Datagrams caught by a plain socket: none over --datagram-size, each
 * exporter's first starts with its templates and every third carries them
 * again, and header times come from the flows (2024), not from the clock. */
Test(replay_tool, datagrams_keep_size_templates_and_event_time)
{
    const char *extra[] = { "--format", "mixed", "--exporters", "2", "--datagram-size", "512",
                            "--template-interval", "3", NULL };
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t slen = sizeof(sa);
    uint8_t buf[2048];
    size_t count[2] = { 0, 0 }, total = 0;
    int fd = socket(AF_INET, SOCK_DGRAM, 0), rcv = 8 << 20;
    char *line;

    cr_assert_geq(fd, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &slen), 0);
    line = run_replay(ntohs(sa.sin_port), extra, 0);

    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        ssize_t n;
        unsigned version, k, set_id;
        uint32_t secs;

        if (poll(&p, 1, 500) <= 0)
            break;
        n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
        cr_assert_gt(n, 20);
        cr_assert_leq(n, 512);
        total++;
        version = (unsigned)(buf[0] << 8 | buf[1]);
        k = (ntohl(from.sin_addr.s_addr) & 0xff) - 1;
        cr_assert_lt(k, 2);
        cr_assert_eq(version, k == 0 ? 9u : 10u);
        secs = (uint32_t)buf[version == 9 ? 8 : 4] << 24 | (uint32_t)buf[version == 9 ? 9 : 5] << 16 |
               (uint32_t)buf[version == 9 ? 10 : 6] << 8 | buf[version == 9 ? 11 : 7];
        cr_assert(secs >= FS_NETGEN_DEFAULT_START_MS / 1000 - 3 * 3600 &&
                  secs < FS_NETGEN_DEFAULT_START_MS / 1000 + 4 * 86400,
                  "header time %u is not the flows' time", secs);
        set_id = (unsigned)(buf[version == 9 ? 20 : 16] << 8 | buf[version == 9 ? 21 : 17]);
        if (count[k] % 3 == 0)
            cr_assert_eq(set_id, version == 9 ? 0u : 2u, "datagram %zu of exporter %u", count[k], k);
        else
            cr_assert_geq(set_id, 256u);
        count[k]++;
    }
    close(fd);
    cr_assert_eq(total, kv(line, "datagrams"), "%s", line);
    cr_assert_gt(count[0], 3);
    cr_assert_gt(count[1], 3);
    free(line);
}

Test(replay_tool, bad_input_is_counted_and_bad_options_refused)
{
    const char *extra[] = { NULL };
    char to[32];
    char *argv[] = { REPLAY, "--read", input, NULL };
    char *bad_format[] = { REPLAY, "--to", to, "--format", "v5", NULL };
    struct fs_proc_output o;
    struct received r;
    FILE *fp;
    int port;
    char *line;

    /* one damaged line among good ones: counted, the rest still sent */
    cr_assert_not_null(fp = fopen(input, "a"));
    fprintf(fp, "{\"src_addr\":\"10.0.0.1\",\"src_port\":70000}\n");
    cr_assert_eq(fclose(fp), 0);
    port = start_collector();
    line = run_replay(port, extra, 0);
    cr_assert_eq(kv(line, "malformed"), 1, "%s", line);
    cr_assert_eq(kv(line, "flows"), nsent);
    free(line);
    receive_all(&r);
    received_free(&r);

    cr_assert_eq(fs_proc_run(argv, 10000, &o), 0);
    cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 2);
    cr_assert_not_null(strstr(o.err, "--to HOST:PORT is required"), "%s", o.err);
    fs_proc_output_free(&o);

    snprintf(to, sizeof(to), "127.0.0.1:%d", port);
    cr_assert_eq(fs_proc_run(bad_format, 10000, &o), 0);
    cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 2);
    cr_assert_not_null(strstr(o.err, "'v5' is not v9, ipfix or mixed"), "%s", o.err);
    fs_proc_output_free(&o);
}
