/*
 * rsyslog.c - a real rsyslogd on loopback for the reporter's tests.
 *
 * Everything lives in one fresh directory: a CA and a server certificate
 * made with certtool (SAN DNS:localhost and IP:127.0.0.1), the
 * configuration, rsyslog's work directory and pid file, its stderr, and the
 * output file. The configuration loads no imuxsock or imklog, so the
 * system's /dev/log and kernel log are never touched, and it binds the
 * inputs to a ruleset of their own: rsyslogd's internal messages land in
 * rsyslogd.log, never in the output the tests parse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "rsyslog.h"

#define RSYSLOGD "/usr/sbin/rsyslogd"
#define CERTTOOL "/usr/bin/certtool"
#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 10000

/* Each output line: the RFC 5424 fields rsyslog parsed, named as in
 * rsyslog.h. Control characters are kept as received (the default would
 * turn LF into "#012"), so a test sees exactly what the sender framed. */
static const char CONF[] =
    "global(workDirectory=\"%1$s\" maxMessageSize=\"64k\"\n"
    "       parser.escapeControlCharactersOnReceive=\"off\"\n"
    "       defaultNetstreamDriverCAFile=\"%1$s/ca.pem\"\n"
    "       defaultNetstreamDriverCertFile=\"%1$s/server.pem\"\n"
    "       defaultNetstreamDriverKeyFile=\"%1$s/server.key\")\n"
    "module(load=\"imudp\")\n"
    "module(load=\"imtcp\")\n"
    "template(name=\"fsjson\" type=\"list\" option.jsonf=\"on\") {\n"
    "  property(outname=\"pri\" name=\"pri\" format=\"jsonf\" datatype=\"number\")\n"
    "  property(outname=\"facility\" name=\"syslogfacility\" format=\"jsonf\" datatype=\"number\")\n"
    "  property(outname=\"severity\" name=\"syslogseverity\" format=\"jsonf\" datatype=\"number\")\n"
    "  property(outname=\"timestamp\" name=\"timereported\" dateFormat=\"rfc3339\" format=\"jsonf\")\n"
    "  property(outname=\"hostname\" name=\"hostname\" format=\"jsonf\")\n"
    "  property(outname=\"app\" name=\"app-name\" format=\"jsonf\")\n"
    "  property(outname=\"procid\" name=\"procid\" format=\"jsonf\")\n"
    "  property(outname=\"msgid\" name=\"msgid\" format=\"jsonf\")\n"
    "  property(outname=\"sd\" name=\"structured-data\" format=\"jsonf\")\n"
    "  property(outname=\"msg\" name=\"msg\" format=\"jsonf\")\n"
    "  property(outname=\"raw\" name=\"rawmsg\" format=\"jsonf\")\n"
    "  property(outname=\"input\" name=\"inputname\" format=\"jsonf\")\n"
    "}\n"
    "ruleset(name=\"fsin\") {\n"
    "  action(type=\"omfile\" file=\"%2$s\" template=\"fsjson\")\n"
    "}\n"
    "*.* action(type=\"omfile\" file=\"%1$s/rsyslogd.log\")\n";

static const char CA_TMPL[] =
    "cn = \"%s\"\nca\ncert_signing_key\nexpiration_days = 2\n";
static const char SERVER_TMPL[] =
    "cn = \"localhost\"\ndns_name = \"localhost\"\nip_address = \"127.0.0.1\"\n"
    "tls_www_server\nsigning_key\nencryption_key\nexpiration_days = 2\n";

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    int r;

    if (f == NULL) {
        fprintf(stderr, "rsyslog: %s: %s\n", path, strerror(errno));
        return -1;
    }
    r = fputs(text, f) < 0 ? -1 : 0;
    if (fclose(f) != 0)
        r = -1;
    return r;
}

/* Runs certtool with argv; its chatter goes to stderr only on failure. */
static int certtool(char *const argv[])
{
    struct fs_proc_output o;
    int r = fs_proc_run(argv, 10000, &o);

    if (r < 0 || !WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0) {
        fprintf(stderr, "rsyslog: certtool %s failed:\n%s\n", argv[1], o.err ? o.err : "");
        r = -1;
    }
    fs_proc_output_free(&o);
    return r;
}

static int make_key(const char *key)
{
    char *argv[] = { CERTTOOL, "--generate-privkey", "--key-type=ecdsa", "--outfile",
                     (char *)key, NULL };

    return certtool(argv);
}

/* A self-signed CA named `cn`: dir/<stem>.pem and dir/<stem>.key. */
static int make_ca(const char *dir, const char *stem, const char *cn)
{
    char key[320], pem[320], tmpl[320], text[128];
    char *argv[] = { CERTTOOL, "--generate-self-signed", "--load-privkey", key, "--template",
                     tmpl, "--outfile", pem, NULL };

    snprintf(key, sizeof(key), "%s/%s.key", dir, stem);
    snprintf(pem, sizeof(pem), "%s/%s.pem", dir, stem);
    snprintf(tmpl, sizeof(tmpl), "%s/%s.tmpl", dir, stem);
    snprintf(text, sizeof(text), CA_TMPL, cn);
    if (write_text(tmpl, text) < 0 || make_key(key) < 0)
        return -1;
    return certtool(argv);
}

static int make_certs(struct rsyslog *r)
{
    char key[320], pem[320], tmpl[320], cakey[320];
    char *argv[] = { CERTTOOL, "--generate-certificate", "--load-privkey", key,
                     "--load-ca-certificate", r->ca, "--load-ca-privkey", cakey,
                     "--template", tmpl, "--outfile", pem, NULL };

    snprintf(key, sizeof(key), "%s/server.key", r->dir);
    snprintf(pem, sizeof(pem), "%s/server.pem", r->dir);
    snprintf(tmpl, sizeof(tmpl), "%s/server.tmpl", r->dir);
    snprintf(cakey, sizeof(cakey), "%s/ca.key", r->dir);
    snprintf(r->ca, sizeof(r->ca), "%s/ca.pem", r->dir);
    if (make_ca(r->dir, "ca", "flowsentry test CA") < 0 || write_text(tmpl, SERVER_TMPL) < 0 ||
        make_key(key) < 0)
        return -1;
    return certtool(argv);
}

int rsyslog_other_ca(struct rsyslog *r, char *path, size_t len)
{
    if (make_ca(r->dir, "other-ca", "not the flowsentry test CA") < 0)
        return -1;
    snprintf(path, len, "%s/other-ca.pem", r->dir);
    return 0;
}

static int write_conf(const struct rsyslog *r, const char *path)
{
    size_t cap = sizeof(CONF) + 4096;
    char *text = malloc(cap);
    size_t n;
    int ret;

    if (text == NULL)
        return -1;
    n = (size_t)snprintf(text, cap, CONF, r->dir, r->out);
    if (r->inputs & RSYSLOG_UDP)
        n += (size_t)snprintf(text + n, cap - n,
                              "input(type=\"imudp\" address=\"127.0.0.1\" port=\"%d\" "
                              "name=\"udp\" ruleset=\"fsin\")\n", r->udp_port);
    if (r->inputs & RSYSLOG_TCP)
        n += (size_t)snprintf(text + n, cap - n,
                              "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"%d\" "
                              "name=\"tcp\" ruleset=\"fsin\")\n", r->tcp_port);
    /* Mode 1 is TLS; "anon": the server asks no client certificate. */
    if (r->inputs & RSYSLOG_TLS)
        snprintf(text + n, cap - n,
                 "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"%d\" name=\"tls\" "
                 "ruleset=\"fsin\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\" "
                 "streamDriver.authMode=\"anon\")\n", r->tls_port);
    ret = write_text(path, text);
    free(text);
    return ret;
}

static void loopback(struct sockaddr_in *sa, int port)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa->sin_port = htons((uint16_t)port);
}

static bool tcp_accepts(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok;

    loopback(&sa, port);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* imudp holds the port once binding it fails for anyone else. */
static bool udp_bound(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bool taken;

    loopback(&sa, port);
    taken = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == EADDRINUSE;
    if (fd >= 0)
        close(fd);
    return taken;
}

static bool all_ready(const struct rsyslog *r)
{
    return (!(r->inputs & RSYSLOG_UDP) || udp_bound(r->udp_port)) &&
           (!(r->inputs & RSYSLOG_TCP) || tcp_accepts(r->tcp_port)) &&
           (!(r->inputs & RSYSLOG_TLS) || tcp_accepts(r->tls_port));
}

static void show_file(const char *dir, const char *name)
{
    char path[320], buf[4096];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((f = fopen(path, "r")) == NULL)
        return;
    fprintf(stderr, "rsyslog: %s:\n", path);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, stderr);
    fclose(f);
}

/* Starts rsyslogd with `conf_path`, or with a configuration written from
 * CONF when it is NULL, and waits for r's inputs. */
static int launch(struct rsyslog *r, const char *conf_path)
{
    char conf[320], pidfile[320], errfile[320];
    /* exec keeps the pid, so the pid we stop is rsyslogd's own; the shell is
     * only there to send rsyslogd's stderr to a file. */
    char *argv[] = { "/bin/sh", "-c", "exec " RSYSLOGD " -n -f \"$0\" -i \"$1\" 2>\"$2\"",
                     conf, pidfile, errfile, NULL };
    long long deadline = fs_now_ms() + START_TIMEOUT_MS;

    snprintf(conf, sizeof(conf), "%s/rsyslog.conf", r->dir);
    snprintf(pidfile, sizeof(pidfile), "%s/rsyslogd.pid", r->dir);
    snprintf(errfile, sizeof(errfile), "%s/rsyslogd.stderr", r->dir);
    if (conf_path != NULL)
        snprintf(conf, sizeof(conf), "%s", conf_path);
    else if (write_conf(r, conf) < 0)
        return -1;
    r->pid = fs_proc_spawn(argv, NULL, NULL);
    if (r->pid < 0) {
        r->pid = 0;
        fprintf(stderr, "rsyslog: cannot start %s\n", RSYSLOGD);
        return -1;
    }
    while (!all_ready(r)) {
        if (fs_now_ms() >= deadline || fs_proc_wait(r->pid, 0, NULL) == 0) {
            fprintf(stderr, "rsyslog: rsyslogd (pid %d) did not open its inputs\n",
                    (int)r->pid);
            show_file(r->dir, "rsyslogd.stderr");
            show_file(r->dir, "rsyslogd.log");
            rsyslog_stop(r);
            return -1;
        }
        sleep_ms(20);
    }
    return 0;
}

int rsyslog_start(struct rsyslog *r, unsigned inputs)
{
    memset(r, 0, sizeof(*r));
    r->inputs = inputs;
    if (fs_tmpdir(r->dir, sizeof(r->dir)) == NULL) {
        fprintf(stderr, "rsyslog: no temporary directory: %s\n", strerror(errno));
        return -1;
    }
    snprintf(r->out, sizeof(r->out), "%s/out.json", r->dir);
    snprintf(r->server_name, sizeof(r->server_name), "localhost");
    r->udp_port = fs_free_port(AF_INET, SOCK_DGRAM);
    r->tcp_port = fs_free_port(AF_INET, SOCK_STREAM);
    do
        r->tls_port = fs_free_port(AF_INET, SOCK_STREAM);
    while (r->tls_port == r->tcp_port && r->tls_port != 0);
    if (r->udp_port == 0 || r->tcp_port == 0 || r->tls_port == 0) {
        fprintf(stderr, "rsyslog: no free loopback port\n");
        return -1;
    }
    if (make_certs(r) < 0) /* the configuration names them whatever the inputs */
        return -1;
    return launch(r, NULL);
}

int rsyslog_stop(struct rsyslog *r)
{
    int st, ret;

    if (r->pid <= 0)
        return 0;
    ret = fs_proc_stop(r->pid, SIGTERM, STOP_TIMEOUT_MS, &st);
    r->pid = 0;
    return ret;
}

int rsyslog_restart(struct rsyslog *r)
{
    if (rsyslog_stop(r) < 0)
        return -1;
    return launch(r, NULL);
}

int rsyslog_restart_with(struct rsyslog *r, const char *conf)
{
    if (rsyslog_stop(r) < 0)
        return -1;
    return launch(r, conf);
}

void rsyslog_cleanup(struct rsyslog *r)
{
    rsyslog_stop(r);
    fs_rmtree(r->dir);
    r->dir[0] = '\0';
}

void rsyslog_lines_free(void **lines, size_t n)
{
    for (size_t i = 0; lines != NULL && i < n; i++)
        json_decref(lines[i]);
    free(lines);
}

/* Parses the complete lines of the output file. A line that is not JSON
 * becomes a JSON string holding it, so a test sees it instead of a gap. */
static size_t read_lines(const char *path, void ***lines)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, n = 0, alloc = 0;
    ssize_t len;

    *lines = NULL;
    if (f == NULL)
        return 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        json_t *j;

        if (line[len - 1] != '\n')
            break; /* rsyslog is still writing it */
        line[len - 1] = '\0';
        j = json_loads(line, 0, NULL);
        if (j == NULL)
            j = json_string(line);
        if (n == alloc) {
            size_t na = alloc ? alloc * 2 : 16;
            void **nl = realloc(*lines, na * sizeof(*nl));

            if (nl == NULL) {
                json_decref(j);
                break;
            }
            *lines = nl;
            alloc = na;
        }
        (*lines)[n++] = j;
    }
    free(line);
    fclose(f);
    return n;
}

size_t rsyslog_lines(struct rsyslog *r, size_t want, int timeout_ms, void ***lines)
{
    long long deadline = fs_now_ms() + timeout_ms;

    for (;;) {
        size_t n = read_lines(r->out, lines);

        if (n >= want || fs_now_ms() >= deadline)
            return n;
        rsyslog_lines_free(*lines, n);
        sleep_ms(20);
    }
}
