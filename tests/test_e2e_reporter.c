/*
 * test_e2e_reporter.c - the reporter end to end with real processes: the
 * test publishes flows on a flows bus; flowsentry-analyzer (with its journal
 * and replay endpoint) finds port scans in them and writes them to its
 * --alerts file, its journal and its events bus; flowsentry-reporter turns
 * them into syslog messages for a real rsyslogd (tests/helpers/rsyslog.h)
 * over UDP, TCP and TLS, and the summaries into report files.
 *
 * What must hold (issue 4):
 *   - every anomaly the analyzer wrote appears in rsyslog's output, on each
 *     input, with the fields it had (id, class, host, severity, score), in
 *     the structured data of RFC 5424 and in EVE JSON;
 *   - period reports appear in the report directory;
 *   - the fault test: while the anomalies stream, the reporter is killed
 *     (SIGKILL) and started again, rsyslog is stopped and started again, and
 *     the analyzer is restarted; afterwards no anomaly is missing, and a
 *     duplicate line is the same alert (same id, same content but for the
 *     time it was sent).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "msg.h"
#include "proc.h"
#include "rsyslog.h"

#define T0 1709510400000ull /* 2024-03-04 00:00 UTC, a Monday */
#define WINDOW_MS 60000ull
#define SCANNERS 2          /* port scans per window */
#define PROBES 25
#define DELIVERY_WAIT_MS 25000

static char dir[128];
static struct rsyslog rs;
static pid_t analyzer, reporter;
static int flows_port, events_port, replay_port;
static struct fs_bus *pub;
static struct fs_batch *batch;

static void setup(void)
{
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    memset(&rs, 0, sizeof(rs));
    analyzer = reporter = 0;
    pub = NULL;
    batch = NULL;
}

static void show_log(const char *name)
{
    char path[256], line[4096];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((fp = fopen(path, "r")) == NULL)
        return;
    fprintf(stderr, "---- %s\n", name);
    while (fgets(line, sizeof(line), fp))
        fputs(line, stderr);
    fclose(fp);
}

static void teardown(void)
{
    int st;

    if (reporter > 0)
        fs_proc_stop(reporter, SIGTERM, 10000, &st);
    if (analyzer > 0)
        fs_proc_stop(analyzer, SIGTERM, 10000, &st);
    fs_bus_close(pub, 0);
    fs_batch_free(batch);
    if (rs.dir[0] != '\0')
        rsyslog_cleanup(&rs);
    fs_rmtree(dir);
}

TestSuite(e2e_reporter, .init = setup, .fini = teardown, .timeout = 120);

static char *path(const char *name)
{
    static char buf[8][256];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
    return p;
}

static char *endpoint(int port)
{
    static char buf[4][64];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof(buf[0]), "tcp://127.0.0.1:%d", port);
    return p;
}

static bool tcp_accepts(int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Starts `argv` with its stderr appended to dir/<log> (the pid stays the
 * program's own: the shell execs it). */
static pid_t spawn_logged(const char *log, char *const argv[])
{
    char *full[64] = { "/bin/sh", "-c", "log=$1; shift; exec \"$@\" 2>>\"$log\"", "sh",
                       path(log) };
    int n = 5;

    for (int i = 0; argv[i] != NULL && n < 63; i++)
        full[n++] = argv[i];
    full[n] = NULL;
    pid_t pid = fs_proc_spawn(full, NULL, NULL);
    cr_assert_gt(pid, 0, "cannot start %s", argv[0]);
    return pid;
}

/* ------------------------------------------------------------------ */
/* The analyzer and its input. */

/* Starts the analyzer on the chosen ports (again, after a restart: same
 * journal, same alerts file, appended to). */
static void spawn_analyzer(void)
{
    char bin[256];
    long long deadline = fs_now_ms() + 10000;

    snprintf(bin, sizeof(bin), "%s/flowsentry-analyzer", FS_BINARY_DIR);
    char *argv[] = { bin, "--subscribe", endpoint(flows_port), "--publish",
                     endpoint(events_port), "--journal", path("journal"), "--replay",
                     endpoint(replay_port), "--alerts", path("alerts.jsonl"), "--home-net",
                     "10.0.0.0/8", "--warmup", "0", "--window", "60", "--lateness", "0",
                     "--summary-interval", "600", "--suppress", "0", "--rate-limit", "0",
                     "--flush-interval", "1", "--stats-interval", "0", NULL };
    analyzer = spawn_logged("analyzer.log", argv);
    /* The replay endpoint is bound just before the flows bus is opened. */
    while (!tcp_accepts(replay_port)) {
        if (fs_now_ms() > deadline || fs_proc_wait(analyzer, 0, NULL) == 0) {
            show_log("analyzer.log");
            cr_assert_fail("the analyzer did not come up");
        }
        sleep_ms(20);
    }
    sleep_ms(500); /* its subscription reaches our publisher */
}

static void start_analyzer(void)
{
    flows_port = fs_free_port(AF_INET, SOCK_STREAM);
    events_port = fs_free_port(AF_INET, SOCK_STREAM);
    do
        replay_port = fs_free_port(AF_INET, SOCK_STREAM);
    while (replay_port == events_port || replay_port == flows_port);
    cr_assert(flows_port > 0 && events_port > 0 && replay_port > 0);

    char err[256];
    pub = fs_bus_pub(endpoint(flows_port), 100000, err, sizeof(err));
    cr_assert_not_null(pub, "%s", err);
    batch = fs_batch_new("test@e2e");
    spawn_analyzer();
}

static void restart_analyzer(void)
{
    int st;

    cr_assert_eq(fs_proc_stop(analyzer, SIGTERM, 10000, &st), 0);
    spawn_analyzer();
}

static void flow(const char *src, uint16_t sport, const char *dst, uint16_t dport,
                 uint64_t t, uint64_t bytes, uint8_t flags)
{
    struct fs_flow f;

    fs_flow_init(&f);
    f.version = 10;
    fs_ip_parse("192.0.2.1", &f.exporter);
    fs_ip_parse(src, &f.src_addr);
    fs_ip_parse(dst, &f.dst_addr);
    f.src_port = sport;
    f.dst_port = dport;
    f.proto = 6;
    f.start_ms = f.end_ms = t;
    f.packets = 1;
    f.bytes = bytes;
    f.tcp_flags = flags;
    FS_FLOW_SET(&f, FS_F_SRC_ADDR);
    FS_FLOW_SET(&f, FS_F_DST_ADDR);
    FS_FLOW_SET(&f, FS_F_SRC_PORT);
    FS_FLOW_SET(&f, FS_F_DST_PORT);
    FS_FLOW_SET(&f, FS_F_PROTO);
    FS_FLOW_SET(&f, FS_F_START);
    FS_FLOW_SET(&f, FS_F_END);
    FS_FLOW_SET(&f, FS_F_PACKETS);
    FS_FLOW_SET(&f, FS_F_BYTES);
    FS_FLOW_SET(&f, FS_F_TCP_FLAGS);
    cr_assert_eq(fs_batch_add(batch, &f), 0);
}

static void publish(void)
{
    const void *buf;
    size_t len;

    cr_assert_eq(fs_batch_finish(batch, &buf, &len), 0);
    cr_assert_eq(fs_bus_send(pub, "flows", buf, len), 0);
    fs_batch_reset(batch);
}

/* Window `w`: SCANNERS hosts each probe 25 closed ports of one server
 * (refused: SYN out, RST back). Its flows close window w - 1, whose scans
 * the analyzer then reports. */
static void send_window(unsigned w)
{
    char target[] = "10.0.200.1", scanner[32];

    for (unsigned s = 0; s < SCANNERS; s++) {
        snprintf(scanner, sizeof(scanner), "10.1.%u.%u", w % 250, s + 1);
        for (unsigned i = 0; i < PROBES; i++) {
            uint64_t t = T0 + w * WINDOW_MS + s * 1000 + i * 2000;
            flow(scanner, 45000, target, (uint16_t)(1 + i), t, 60, 0x02);
            flow(target, (uint16_t)(1 + i), scanner, 45000, t, 40, 0x14);
        }
    }
    publish();
}

/* One quiet flow far enough ahead to close every window before it. */
static void send_end(unsigned windows)
{
    flow("10.0.0.9", 50000, "10.0.0.53", 53, T0 + (windows + 2) * WINDOW_MS, 100, 0x18);
    publish();
}

/* ------------------------------------------------------------------ */
/* The reporter. */

static char *reporter_argv[32];
static char reporter_bin[256];

static void start_reporter(const char *const *outputs)
{
    int n = 0;
    long long deadline = fs_now_ms() + 5000;

    snprintf(reporter_bin, sizeof(reporter_bin), "%s/flowsentry-reporter", FS_BINARY_DIR);
    reporter_argv[n++] = reporter_bin;
    reporter_argv[n++] = "--subscribe";
    reporter_argv[n++] = strdup(endpoint(events_port));
    reporter_argv[n++] = "--replay";
    reporter_argv[n++] = strdup(endpoint(replay_port));
    reporter_argv[n++] = "--state-dir";
    reporter_argv[n++] = strdup(path("state"));
    reporter_argv[n++] = "--report-dir";
    reporter_argv[n++] = strdup(path("reports"));
    reporter_argv[n++] = "--hostname";
    reporter_argv[n++] = "e2e-sensor";
    reporter_argv[n++] = "--confirm";
    reporter_argv[n++] = "1";
    reporter_argv[n++] = "--backoff-max";
    reporter_argv[n++] = "1";
    reporter_argv[n++] = "--stats-interval";
    reporter_argv[n++] = "5";
    reporter_argv[n++] = "--output";
    for (int i = 0; outputs[i] != NULL; i++)
        reporter_argv[n++] = strdup(outputs[i]);
    reporter_argv[n] = NULL;
    reporter = spawn_logged("reporter.log", reporter_argv);
    /* Up once its state directory is made (or it failed). */
    while (access(path("state"), F_OK) != 0 && fs_now_ms() < deadline)
        sleep_ms(20);
    sleep_ms(200);
    if (fs_proc_wait(reporter, 0, NULL) == 0) {
        show_log("reporter.log");
        cr_assert_fail("the reporter exited at once");
    }
}

static void restart_reporter(void)
{
    reporter = spawn_logged("reporter.log", reporter_argv);
}

static void kill_reporter(void)
{
    int st;
    cr_assert_eq(kill(reporter, SIGKILL), 0);
    cr_assert_eq(fs_proc_wait(reporter, 5000, &st), 0);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    reporter = 0;
}

static bool log_has(const char *name, const char *text);

static void stop_reporter(void)
{
    int st;
    cr_assert_eq(fs_proc_stop(reporter, SIGTERM, 10000, &st), 0, "the reporter did not stop");
    reporter = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        show_log("reporter.log");
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reporter status %d", st);
    cr_expect(!log_has("reporter.log", "Sanitizer"), "the sanitizers found something");
}

/* ------------------------------------------------------------------ */
/* What the analyzer found, and what rsyslog got. */

struct found {
    char id[17];
    char cls[24], sev[12], host[48];
    double score;
};

static size_t load_found(struct found **out)
{
    FILE *fp = fopen(path("alerts.jsonl"), "r");
    char *line = NULL;
    size_t cap = 0, n = 0;

    *out = NULL;
    cr_assert_not_null(fp, "the analyzer wrote no alerts file");
    while (getline(&line, &cap, fp) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        cr_assert_not_null(o, "alerts: %s", line);
        *out = realloc(*out, (n + 1) * sizeof(**out));
        struct found *f = &(*out)[n++];
        snprintf(f->id, sizeof(f->id), "%s", json_string_value(json_object_get(o, "id")));
        snprintf(f->cls, sizeof(f->cls), "%s", json_string_value(json_object_get(o, "class")));
        snprintf(f->sev, sizeof(f->sev), "%s",
                 json_string_value(json_object_get(o, "severity")));
        snprintf(f->host, sizeof(f->host), "%s", json_string_value(json_object_get(o, "host")));
        f->score = json_number_value(json_object_get(o, "score"));
        json_decref(o);
    }
    free(line);
    fclose(fp);
    return n;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* The alert id in a line rsyslog wrote: in the structured data (RFC 5424
 * text body) or in the EVE JSON of the message. "" when none. */
static void line_id(json_t *line, char id[17])
{
    const char *sd = jstr(line, "sd"), *p;

    id[0] = '\0';
    if ((p = strstr(sd, "[flowsentry@32473 id=\"")) != NULL) {
        snprintf(id, 17, "%s", p + 22);
        return;
    }
    json_t *eve = json_loads(jstr(line, "msg"), 0, NULL);
    if (eve == NULL) {
        const char *m = jstr(line, "msg");
        /* rsyslog may keep the blank after the header in the message. */
        eve = json_loads(m + strspn(m, " "), 0, NULL);
    }
    if (eve != NULL) {
        snprintf(id, 17, "%s", jstr(eve, "alert_id"));
        json_decref(eve);
    }
}

/* How many lines of `input` carry each found id; true when none is missing. */
static bool count_ids(void **lines, size_t nl, const char *input, const struct found *f,
                      size_t nf, unsigned *count)
{
    bool all = true;

    memset(count, 0, nf * sizeof(*count));
    for (size_t k = 0; k < nl; k++) {
        char id[17];
        if (strcmp(jstr(lines[k], "input"), input) != 0)
            continue;
        line_id(lines[k], id);
        for (size_t i = 0; i < nf; i++)
            if (strcmp(f[i].id, id) == 0)
                count[i]++;
    }
    for (size_t i = 0; i < nf; i++)
        all = all && count[i] > 0;
    return all;
}

/* Waits until every found id reached every input in `inputs`. */
static size_t wait_delivered(const char *const *inputs, const struct found *f, size_t nf,
                             void ***lines)
{
    long long deadline = fs_now_ms() + DELIVERY_WAIT_MS;
    unsigned *count = calloc(nf, sizeof(*count));
    size_t nl;

    for (;;) {
        bool all = true;
        nl = rsyslog_lines(&rs, 0, 0, lines);
        for (int i = 0; inputs[i] != NULL; i++)
            all = all && count_ids(*lines, nl, inputs[i], f, nf, count);
        if (all || fs_now_ms() > deadline)
            break;
        rsyslog_lines_free(*lines, nl);
        sleep_ms(200);
    }
    free(count);
    return nl;
}

static int syslog_severity(const char *sev)
{
    return strcmp(sev, "critical") == 0 ? 2
           : strcmp(sev, "high") == 0   ? 3
           : strcmp(sev, "medium") == 0 ? 4
                                        : 5;
}

static const struct found *find(const struct found *f, size_t nf, const char *id)
{
    for (size_t i = 0; i < nf; i++)
        if (strcmp(f[i].id, id) == 0)
            return &f[i];
    return NULL;
}

static bool sd_has(const char *sd, const char *key, const char *value)
{
    char want[128];
    snprintf(want, sizeof(want), " %s=\"%s\"", key, value);
    return strstr(sd, want) != NULL;
}

/* Every field of a line against the anomaly it carries. */
static void check_fields(json_t *line, const struct found *a)
{
    const char *input = jstr(line, "input"), *sd = jstr(line, "sd");
    json_t *fac = json_object_get(line, "facility"), *sev = json_object_get(line, "severity");

    cr_expect_eq(json_integer_value(fac), 16, "local0: %s", jstr(line, "raw"));
    cr_expect_eq(json_integer_value(sev), syslog_severity(a->sev), "severity of %s: %s",
                 a->sev, jstr(line, "raw"));
    cr_expect_str_eq(jstr(line, "hostname"), "e2e-sensor");
    cr_expect_str_eq(jstr(line, "app"), "flowsentry");
    cr_expect_str_eq(jstr(line, "msgid"), a->cls);
    if (strcmp(input, "tls") == 0) {
        /* EVE JSON in the message. */
        const char *m = jstr(line, "msg");
        json_t *eve = json_loads(m + strspn(m, " "), 0, NULL);
        cr_assert_not_null(eve, "not EVE JSON: %s", m);
        cr_expect_str_eq(jstr(eve, "event_type"), "anomaly");
        cr_expect_str_eq(jstr(eve, "src_ip"), a->host);
        json_t *an = json_object_get(eve, "anomaly");
        cr_expect_str_eq(jstr(an, "class"), a->cls);
        cr_expect_str_eq(jstr(an, "severity"), a->sev);
        cr_expect_str_eq(jstr(an, "kind"), "anomaly");
        cr_expect(fabs(json_number_value(json_object_get(an, "score")) - a->score) < 1e-6);
        json_decref(eve);
        return;
    }
    cr_expect(sd_has(sd, "class", a->cls), "sd: %s", sd);
    cr_expect(sd_has(sd, "severity", a->sev), "sd: %s", sd);
    cr_expect(sd_has(sd, "host", a->host), "sd: %s", sd);
    cr_expect(sd_has(sd, "kind", "anomaly"), "sd: %s", sd);
    char num[FS_JSON_NUM_MAX];
    cr_expect(sd_has(sd, "score", fs_json_num(a->score, num)), "score %s, sd: %s", num, sd);
    char start[96];
    snprintf(start, sizeof(start), "%s: %s", a->cls, a->host);
    cr_expect_not_null(strstr(jstr(line, "msg"), start), "msg: %s", jstr(line, "msg"));
}

/* A duplicate is the same alert: everything but the time it was sent and
 * the pid of the reporter that sent it is the same. */
static void check_duplicates(void **lines, size_t nl, const char *input, size_t *dups)
{
    static const char *const same[] = { "pri", "hostname", "app", "msgid", "sd", "msg" };

    *dups = 0;
    for (size_t k = 0; k < nl; k++) {
        char id[17], id2[17];
        if (strcmp(jstr(lines[k], "input"), input) != 0)
            continue;
        line_id(lines[k], id);
        for (size_t j = k + 1; j < nl; j++) {
            if (strcmp(jstr(lines[j], "input"), input) != 0)
                continue;
            line_id(lines[j], id2);
            if (strcmp(id, id2) != 0)
                continue;
            (*dups)++;
            for (size_t s = 0; s < sizeof(same) / sizeof(same[0]); s++) {
                char *a = json_dumps(json_object_get(lines[k], same[s]), JSON_ENCODE_ANY);
                char *b = json_dumps(json_object_get(lines[j], same[s]), JSON_ENCODE_ANY);
                cr_expect_str_eq(a, b, "duplicate of %s differs in %s", id, same[s]);
                free(a);
                free(b);
            }
            break;
        }
    }
}

static bool log_has(const char *name, const char *text)
{
    char line[8192];
    bool found = false;
    FILE *fp = fopen(path(name), "r");

    if (fp == NULL)
        return false;
    while (!found && fgets(line, sizeof(line), fp))
        found = strstr(line, text) != NULL;
    fclose(fp);
    return found;
}

static size_t count_reports(const char *prefix)
{
    DIR *d = opendir(path("reports"));
    struct dirent *e;
    size_t n = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", path("reports"), e->d_name);
        json_t *o = json_load_file(p, 0, NULL);
        cr_expect(json_is_object(o), "report %s is no JSON object", e->d_name);
        json_decref(o);
        n++;
    }
    closedir(d);
    return n;
}

static void outputs_for(char specs[3][512])
{
    snprintf(specs[0], 512, "udp://127.0.0.1:%d", rs.udp_port);
    snprintf(specs[1], 512, "tcp://127.0.0.1:%d", rs.tcp_port);
    snprintf(specs[2], 512, "tls://127.0.0.1:%d body=eve ca=%s name=%s", rs.tls_port, rs.ca,
             rs.server_name);
}

/* ------------------------------------------------------------------ */

Test(e2e_reporter, every_anomaly_reaches_rsyslog_over_udp_tcp_and_tls)
{
    const unsigned windows = 24;
    char specs[3][512];
    struct found *f;
    void **lines;

    cr_assert_eq(rsyslog_start(&rs, RSYSLOG_UDP | RSYSLOG_TCP | RSYSLOG_TLS), 0);
    start_analyzer();
    /* The reporter starts late: the first anomalies come from the journal. */
    for (unsigned w = 0; w < 8; w++)
        send_window(w);
    sleep_ms(1500);
    outputs_for(specs);
    start_reporter((const char *const[]){ specs[0], specs[1], specs[2], NULL });
    for (unsigned w = 8; w < windows; w++) {
        send_window(w);
        sleep_ms(50);
    }
    send_end(windows);
    sleep_ms(1500); /* the analyzer flushes its alerts file every second */

    size_t nf = load_found(&f);
    cr_assert_geq(nf, (windows - 4) * SCANNERS, "the analyzer found only %zu scans", nf);
    size_t nl = wait_delivered((const char *const[]){ "udp", "tcp", "tls", NULL }, f, nf,
                               &lines);
    unsigned *count = calloc(nf, sizeof(*count));
    size_t wrong = 0;
    for (const char *const *in = (const char *const[]){ "udp", "tcp", "tls", NULL }; *in; in++) {
        count_ids(lines, nl, *in, f, nf, count);
        for (size_t i = 0; i < nf; i++) {
            cr_expect_eq(count[i], 1, "%s: anomaly %s (%s) arrived %u times", *in, f[i].id,
                         f[i].host, count[i]);
            wrong += count[i] != 1;
        }
    }
    free(count);
    for (size_t k = 0; k < nl; k++) {
        char id[17];
        line_id(lines[k], id);
        const struct found *a = find(f, nf, id);
        cr_expect_not_null(a, "a line with no anomaly of the analyzer: %s",
                           jstr(lines[k], "raw"));
        if (a != NULL)
            check_fields(lines[k], a);
    }
    fprintf(stderr, "udp, tcp, tls: %zu anomalies, %zu lines\n", nf, nl);
    rsyslog_lines_free(lines, nl);

    /* Summaries every ten windows: period reports; and reports on demand,
     * by signal and by command. */
    cr_expect_geq(count_reports("hourly-"), 2);
    cr_assert_eq(kill(reporter, SIGUSR2), 0);
    cr_assert_eq(kill(reporter, SIGUSR1), 0);
    long long deadline = fs_now_ms() + 5000;
    while (count_reports("ondemand-") == 0 && fs_now_ms() < deadline)
        sleep_ms(50);
    cr_expect_eq(count_reports("ondemand-"), 1, "SIGUSR2 wrote no report");
    stop_reporter();
    cr_expect(log_has("reporter.log", "output 3 (tls://"), "SIGUSR1 logged no counters");
    cr_expect(log_has("reporter.log", "pending=0 inflight=0 dropped=0 errors=0"));

    char *const now[] = { reporter_bin, "--report-now", "--state-dir", path("state"),
                          "--report-dir", path("reports"), NULL };
    struct fs_proc_output o;
    cr_assert_eq(fs_proc_run(now, 10000, &o), 0);
    cr_expect(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "--report-now: %s", o.err);
    o.out[strcspn(o.out, "\n")] = '\0';
    json_t *rep = json_load_file(o.out, 0, NULL);
    cr_expect(json_is_object(rep), "--report-now wrote no report at '%s': %s", o.out, o.err);
    cr_expect_not_null(strstr(o.out, "/ondemand-"), "%s", o.out);
    json_decref(rep);
    fs_proc_output_free(&o);
    if (wrong > 0)
        show_log("reporter.log");
    free(f);
}

Test(e2e_reporter, nothing_is_lost_when_the_reporter_is_killed_and_rsyslog_restarts,
     .timeout = 180)
{
    const unsigned windows = 60;
    char specs[3][512];
    struct found *f;
    void **lines;
    size_t dups_tcp, dups_tls;

    cr_assert_eq(rsyslog_start(&rs, RSYSLOG_TCP | RSYSLOG_TLS), 0);
    start_analyzer();
    outputs_for(specs);
    start_reporter((const char *const[]){ specs[1], specs[2], NULL });

    for (unsigned w = 0; w < windows; w++) {
        if (w == 10)
            kill_reporter();
        if (w == 16)
            restart_reporter();
        if (w == 26)
            cr_assert_eq(rsyslog_stop(&rs), 0);
        if (w == 36)
            cr_assert_eq(rsyslog_restart(&rs), 0);
        if (w == 44)
            kill_reporter(); /* while it still drains what rsyslog missed */
        if (w == 45)
            restart_reporter();
        if (w == 52)
            restart_analyzer(); /* its journal goes on: the reporter catches up */
        send_window(w);
        sleep_ms(100);
    }
    send_end(windows);
    sleep_ms(1500);

    size_t nf = load_found(&f);
    cr_assert_geq(nf, (windows - 4) * SCANNERS, "the analyzer found only %zu scans", nf);
    size_t nl = wait_delivered((const char *const[]){ "tcp", "tls", NULL }, f, nf, &lines);
    unsigned *count = calloc(nf, sizeof(*count));
    size_t missing = 0;
    for (const char *const *in = (const char *const[]){ "tcp", "tls", NULL }; *in; in++) {
        count_ids(lines, nl, *in, f, nf, count);
        for (size_t i = 0; i < nf; i++) {
            cr_expect_geq(count[i], 1, "%s: anomaly %s (%s) is missing", *in, f[i].id,
                          f[i].host);
            missing += count[i] == 0;
        }
    }
    free(count);
    for (size_t k = 0; k < nl; k++) {
        char id[17];
        line_id(lines[k], id);
        const struct found *a = find(f, nf, id);
        cr_expect_not_null(a, "a line with no anomaly of the analyzer: %s",
                           jstr(lines[k], "raw"));
        if (a != NULL)
            check_fields(lines[k], a);
    }
    check_duplicates(lines, nl, "tcp", &dups_tcp);
    check_duplicates(lines, nl, "tls", &dups_tls);
    fprintf(stderr, "fault test: %zu anomalies, %zu lines, duplicates tcp %zu tls %zu\n", nf,
            nl, dups_tcp, dups_tls);
    rsyslog_lines_free(lines, nl);
    stop_reporter();
    if (missing > 0) {
        show_log("reporter.log");
        show_log("analyzer.log");
    }
    free(f);
}
