/*
 * test_reporter_config.c - flowsentry-reporter options: defaults, the output
 * spec syntax, the config file, and one message for each kind of mistake,
 * down to what the real program prints and its exit status.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../reporter/config.h" /* not the collector's config.h */
#include "proc.h"

static struct fs_rp_config cfg;
static char err[1024];
static char dir[64];

static void setup(void)
{
    fs_rp_config_init(&cfg);
    err[0] = '\0';
    dir[0] = '\0';
}

static void teardown(void)
{
    fs_rp_config_free(&cfg);
    if (dir[0] != '\0')
        fs_rmtree(dir);
}

TestSuite(reporter_config, .init = setup, .fini = teardown);

/* Settings start again from the defaults. */
static void fresh(void)
{
    fs_rp_config_free(&cfg);
    fs_rp_config_init(&cfg);
    err[0] = '\0';
}

#define ARGS(...) ((char *const[]){ "flowsentry-reporter", __VA_ARGS__, NULL })
#define NARGS(...) ((int)(sizeof((char *[]){ "", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(...) \
    fs_rp_config_parse_args(&cfg, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), err, sizeof(err))
/* What every run needs besides the outputs. */
#define BASE "--state-dir", "/var/lib/flowsentry/reporter", "--subscribe", "tcp://127.0.0.1:5601"

static char *write_file(const char *name, const char *text)
{
    static char path[128];
    FILE *fp;

    if (dir[0] == '\0')
        cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

Test(reporter_config, defaults)
{
    cr_assert_eq(PARSE(BASE, "--output", "tcp://127.0.0.1:10514"), FS_OPTS_OK, "%s", err);
    cr_expect_eq(cfg.confirm, 2);
    cr_expect_eq(cfg.backoff_max, 30);
    cr_expect_eq(cfg.send_timeout, 5);
    cr_expect_eq(cfg.fold_window, 600);
    cr_expect_eq(cfg.fold_max, 4096);
    cr_expect_eq(cfg.rate_limit, 0);
    cr_expect(cfg.hourly && cfg.daily);
    cr_expect_eq(cfg.keep_hourly, 7 * 86400);
    cr_expect_eq(cfg.keep_daily, 90 * 86400);
    cr_expect_eq(cfg.utc_offset, 0);
    cr_expect_eq(cfg.stats_interval, 300);
    cr_expect_null(cfg.report_dir);
    cr_expect_null(cfg.replay);
    cr_assert_eq(cfg.noutputs, 1);

    const struct fs_rp_output_spec *o = &cfg.outputs[0];
    cr_expect_eq(o->out.transport, FS_RP_T_TCP);
    cr_expect_str_eq(o->out.host, "127.0.0.1");
    cr_expect_str_eq(o->out.port, "10514");
    cr_expect_eq(o->header, FS_RP_H_RFC5424);
    cr_expect_eq(o->body, FS_RP_B_TEXT);
    cr_expect_eq(o->facility, 16);
    cr_expect_null(o->app);
    cr_expect_eq(o->spool_bytes, FS_RP_SPOOL_DEFAULT);
    cr_expect_not(o->out.insecure);
    cr_expect_null(o->out.ca_file);
    cr_expect_str_eq(o->spool, "spool-tcp-127.0.0.1-10514");
    cr_expect_str_eq(o->text, "tcp://127.0.0.1:10514");
}

Test(reporter_config, defaults_by_transport)
{
    cr_assert_eq(PARSE(BASE, "--output", "udp://siem.example.net", "tls://siem.example.net",
                       "unix://", "unix:///run/systemd/journal/syslog",
                       "file:///var/log/flowsentry/alerts.json"),
                 FS_OPTS_OK, "%s", err);
    cr_assert_eq(cfg.noutputs, 5);
    cr_expect_str_eq(cfg.outputs[0].out.port, "514");
    cr_expect_eq(cfg.outputs[0].header, FS_RP_H_RFC5424);
    cr_expect_str_eq(cfg.outputs[1].out.port, "6514");
    cr_expect_eq(cfg.outputs[1].out.transport, FS_RP_T_TLS);
    /* Local daemons parse the BSD format syslog(3) writes. */
    cr_expect_str_eq(cfg.outputs[2].out.path, "/dev/log");
    cr_expect_eq(cfg.outputs[2].header, FS_RP_H_RFC3164);
    cr_expect_eq(cfg.outputs[2].body, FS_RP_B_TEXT);
    cr_expect_str_eq(cfg.outputs[3].out.path, "/run/systemd/journal/syslog");
    cr_expect_str_eq(cfg.outputs[3].spool, "spool-unix-run_systemd_journal_syslog");
    /* Files are for JSON pipelines. */
    cr_expect_eq(cfg.outputs[4].header, FS_RP_H_NONE);
    cr_expect_eq(cfg.outputs[4].body, FS_RP_B_EVE);
    cr_expect_str_eq(cfg.outputs[4].out.path, "/var/log/flowsentry/alerts.json");
}

Test(reporter_config, every_setting)
{
    cr_assert_eq(PARSE(BASE, "--output",
                       "tls://[2001:db8::5]:7514 header=rfc3164 body=cef facility=local3 "
                       "app=ids-east ca=/etc/ssl/siem-ca.pem cert=/etc/ssl/me.pem "
                       "key=/etc/ssl/me.key name=siem.example.net insecure=yes spool=1M"),
                 FS_OPTS_OK, "%s", err);
    const struct fs_rp_output_spec *o = &cfg.outputs[0];
    cr_expect_str_eq(o->out.host, "2001:db8::5");
    cr_expect_str_eq(o->out.port, "7514");
    cr_expect_eq(o->header, FS_RP_H_RFC3164);
    cr_expect_eq(o->body, FS_RP_B_CEF);
    cr_expect_eq(o->facility, 19);
    cr_expect_str_eq(o->app, "ids-east");
    cr_expect_str_eq(o->out.ca_file, "/etc/ssl/siem-ca.pem");
    cr_expect_str_eq(o->out.cert_file, "/etc/ssl/me.pem");
    cr_expect_str_eq(o->out.key_file, "/etc/ssl/me.key");
    cr_expect_str_eq(o->out.server_name, "siem.example.net");
    cr_expect(o->out.insecure);
    cr_expect_eq(o->spool_bytes, 1 << 20);
    cr_expect_str_eq(o->spool, "spool-tls-2001_db8__5-7514");
}

Test(reporter_config, settings_may_be_separate_arguments)
{
    /* Unquoted on a shell command line, each setting is its own argument. */
    cr_assert_eq(PARSE(BASE, "--output", "tcp://127.0.0.1:601", "body=eve", "facility=4",
                       "udp://127.0.0.1:514", "--hourly", "no"),
                 FS_OPTS_OK, "%s", err);
    cr_assert_eq(cfg.noutputs, 2);
    cr_expect_eq(cfg.outputs[0].body, FS_RP_B_EVE);
    cr_expect_eq(cfg.outputs[0].facility, 4);
    cr_expect_str_eq(cfg.outputs[0].text, "tcp://127.0.0.1:601 body=eve facility=4");
    cr_expect_eq(cfg.outputs[1].body, FS_RP_B_TEXT);
    cr_expect_not(cfg.hourly);
}

Test(reporter_config, config_file_and_command_line)
{
    char *path = write_file("reporter.conf",
                                  "# the reporter of the lab\n"
                                  "state-dir = /var/lib/fs\n"
                                  "subscribe = ipc:///run/flowsentry/events.sock\n"
                                  "replay = ipc:///run/flowsentry/replay.sock\n"
                                  "output = tls://siem:6514 body=cef ca=/etc/ca.pem\n"
                                  "output = unix:///dev/log\n"
                                  "report-dir = /var/lib/fs/reports\n"
                                  "daily = no\n"
                                  "keep-hourly = 2d\n"
                                  "utc-offset = -5h\n"
                                  "fold-window = 0\n"
                                  "rate-limit = 30\n"
                                  "confirm = 5s\n"
                                  "hostname = sensor-7\n");
    cr_assert_eq(PARSE("-c", path, "--output", "udp://127.0.0.1:514", "--rate-limit", "60"),
                 FS_OPTS_OK, "%s", err);
    cr_expect_str_eq(cfg.state_dir, "/var/lib/fs");
    cr_expect_str_eq(cfg.replay, "ipc:///run/flowsentry/replay.sock");
    cr_assert_eq(cfg.noutputs, 3, "the command line adds outputs to the file's");
    cr_expect_eq(cfg.outputs[0].out.transport, FS_RP_T_TLS);
    cr_expect_eq(cfg.outputs[2].out.transport, FS_RP_T_UDP);
    cr_expect_str_eq(cfg.report_dir, "/var/lib/fs/reports");
    cr_expect_not(cfg.daily);
    cr_expect_eq(cfg.keep_hourly, 2 * 86400);
    cr_expect_eq(cfg.utc_offset, -5 * 3600);
    cr_expect_eq(cfg.fold_window, 0);
    cr_expect_eq(cfg.rate_limit, 60, "the command line wins for single values");
    cr_expect_eq(cfg.confirm, 5);
    cr_expect_str_eq(cfg.hostname, "sensor-7");
}

Test(reporter_config, written_settings_load_back_the_same)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp;
    struct fs_rp_config again;

    cr_assert_eq(PARSE(BASE, "--output", "tcp://127.0.0.1:601 body=eve", "file:///tmp/a.json",
                       "--utc-offset", "90m", "--report-dir", "/tmp/r", "--daily", "no"),
                 FS_OPTS_OK, "%s", err);
    fp = open_memstream(&text, &len);
    fs_opts_write(&fs_rp_config_opts, &cfg, fp);
    fclose(fp);
    fs_rp_config_init(&again);
    char *path = write_file("written.conf", text);
    char *const argv[] = { "flowsentry-reporter", "-c", path, NULL };
    cr_assert_eq(fs_rp_config_parse_args(&again, 3, argv, err, sizeof(err)), FS_OPTS_OK,
                 "%s\n%s", err, text);
    cr_expect_eq(again.noutputs, 2);
    cr_expect_str_eq(again.outputs[0].text, "tcp://127.0.0.1:601 body=eve");
    cr_expect_eq(again.outputs[0].body, FS_RP_B_EVE);
    cr_expect_eq(again.utc_offset, 5400);
    cr_expect_not(again.daily);
    cr_expect_str_eq(again.report_dir, "/tmp/r");
    cr_expect_eq(again.confirm, cfg.confirm);
    fs_rp_config_free(&again);
    free(text);
}

Test(reporter_config, help_and_version)
{
    cr_expect_eq(PARSE("--output", "tpc://x", "--help"), FS_OPTS_HELP);
    cr_expect_eq(PARSE("--version"), FS_OPTS_VERSION);

    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    fs_opts_usage(&fs_rp_config_opts, fp, "flowsentry-reporter");
    fclose(fp);
    cr_expect_not_null(strstr(text, "--output SPEC..."));
    cr_expect_not_null(strstr(text, "--state-dir DIR"));
    free(text);
}

/* One mistake of each kind and the exact message it gets. */
struct mistake {
    const char *args[8];
    const char *message;
};

static const struct mistake mistakes[] = {
    { { "--output", "udp://127.0.0.1:514", "tpc://127.0.0.1:514" },
      "output 2: unknown transport 'tpc' (udp, tcp, tls, unix or file)" },
    { { "--output", "localhost:514" },
      "output 1: 'localhost:514' is not TRANSPORT://ADDRESS (udp, tcp, tls, unix or file)" },
    { { "--output", "body=cef" },
      "output 1: 'body=cef' is not TRANSPORT://ADDRESS (udp, tcp, tls, unix or file)" },
    { { "--output", "tcp://127.0.0.1:514 header=x" },
      "output 1: header: 'x' is not rfc5424, rfc3164 or none" },
    { { "--output", "tcp://127.0.0.1:514 body=xml" },
      "output 1: body: 'xml' is not text, cef or eve" },
    { { "--output", "tcp://127.0.0.1:514 facility=local9" },
      "output 1: facility: 'local9' is not a facility name (kern .. local7) or a number from "
      "0 to 23" },
    { { "--output", "tcp://127.0.0.1:514 app=" }, "output 1: app: missing value" },
    { { "--output", "tcp://127.0.0.1:514 app=0123456789012345678901234567890123456789012345678" },
      "output 1: app: '0123456789012345678901234567890123456789012345678' is not 1 to 48 "
      "printable characters without blanks" },
    { { "--output", "tcp://127.0.0.1:99999" },
      "output 1: port '99999' is not a number from 1 to 65535" },
    { { "--output", "tcp://127.0.0.1:" }, "output 1: port '' is not a number from 1 to 65535" },
    { { "--output", "tcp://:514" }, "output 1: missing host in ':514'" },
    { { "--output", "tcp://2001:db8::1:514" },
      "output 1: IPv6 address in '2001:db8::1:514' must be in brackets: [ADDRESS]:PORT" },
    { { "--output", "tcp://[2001:db8::1:514" },
      "output 1: unterminated '[' in '[2001:db8::1:514'" },
    { { "--output", "tcp://[2001:db8::1]514" },
      "output 1: expected ':PORT' after ']' in '[2001:db8::1]514'" },
    { { "--output", "tcp://host/path:514" }, "output 1: 'host/path:514' is not HOST:PORT" },
    { { "--output", "unix://dev/log" },
      "output 1: unix:// needs an absolute path (unix:///path), not 'dev/log'" },
    { { "--output", "file://alerts.json" },
      "output 1: file:// needs an absolute path (file:///path), not 'alerts.json'" },
    { { "--output", "tcp://127.0.0.1:514 cef" }, "output 1: 'cef' is not KEY=VALUE" },
    { { "--output", "tcp://127.0.0.1:514 color=red" },
      "output 1: unknown setting 'color' (header, body, facility, app, ca, cert, key, name, "
      "insecure, spool)" },
    { { "--output", "tcp://127.0.0.1:514 body=cef body=eve" },
      "output 1: 'body' given twice" },
    { { "--output", "tcp://127.0.0.1:514 ca=/etc/ca.pem" },
      "output 1: 'ca' applies to tls:// only" },
    { { "--output", "udp://127.0.0.1:514 insecure=yes" },
      "output 1: 'insecure' applies to tls:// only" },
    { { "--output", "tls://127.0.0.1 insecure=maybe" },
      "output 1: insecure: 'maybe' is not yes or no" },
    { { "--output", "tls://127.0.0.1 cert=/etc/me.pem" },
      "output 1: cert= and key= go together (a client certificate and its key)" },
    { { "--output", "tcp://127.0.0.1 spool=lots" }, "output 1: spool: 'lots' is not a number" },
    { { "--output", "tcp://127.0.0.1 spool=1k" },
      "output 1: spool: '1k' is too small (at least 64k)" },
    { { "--output", "tcp://127.0.0.1:514", "tcp://127.0.0.1:514 body=cef" },
      "output 2: same destination as output 1" },
    { { "--output", "tcp://127.0.0.1", "--fold-window", "2d" },
      "option --fold-window: '2d' is too large (at most 86400)" },
    { { "--output", "tcp://127.0.0.1", "--utc-offset", "15h" },
      "option --utc-offset: '15h' is more than 14 hours from UTC" },
    { { "--output", "tcp://127.0.0.1", "--hostname", "two words" },
      "option --hostname: 'two words' is not 1 to 255 printable characters without blanks" },
    { { "--output", "tcp://127.0.0.1", "--hourly", "maybe" },
      "option --hourly: 'maybe' is not yes or no" },
    { { "--output", "tcp://127.0.0.1", "--replay", "http://analyzer" }, NULL },
    { { "--output", "tcp://127.0.0.1", "--colour" }, "unknown option '--colour'" },
};

Test(reporter_config, every_mistake_has_its_message)
{
    for (size_t i = 0; i < sizeof(mistakes) / sizeof(mistakes[0]); i++) {
        const struct mistake *m = &mistakes[i];
        char *argv[16] = { "flowsentry-reporter", "--state-dir", "/tmp/x", "--subscribe",
                           "tcp://127.0.0.1:5601" };
        int argc = 5;

        for (int k = 0; k < 8 && m->args[k] != NULL; k++)
            argv[argc++] = (char *)m->args[k];
        fresh();
        cr_expect_eq(fs_rp_config_parse_args(&cfg, argc, argv, err, sizeof(err)),
                     FS_OPTS_ERROR, "mistake %zu (%s) accepted", i, m->args[1]);
        if (m->message != NULL)
            cr_expect_str_eq(err, m->message, "mistake %zu", i);
        else
            cr_expect_neq(err[0], '\0', "mistake %zu has no message", i);
    }
}

Test(reporter_config, what_is_missing_is_named)
{
    cr_expect_eq(PARSE("--subscribe", "tcp://127.0.0.1:5601", "--output", "udp://127.0.0.1"),
                 FS_OPTS_ERROR);
    cr_expect_str_eq(err, "state-dir: required (where the reporter keeps its place and its "
                          "spools)");
    fresh();
    cr_expect_eq(PARSE("--state-dir", "/tmp/x", "--output", "udp://127.0.0.1"),
                 FS_OPTS_ERROR);
    cr_expect_str_eq(err, "nothing to read: give subscribe (the analyzer's events bus) and/or "
                          "replay");
    fresh();
    cr_expect_eq(PARSE(BASE), FS_OPTS_ERROR);
    cr_expect_str_eq(err, "nothing to do: give output and/or report-dir");
    fresh();
    cr_expect_eq(PARSE(BASE, "--report-dir", "/tmp/r", "--hourly", "no", "--daily", "no"),
                 FS_OPTS_ERROR);
    cr_expect_str_eq(err, "report-dir: hourly and daily are both off");
    /* Replay alone is enough to read from. */
    fresh();
    cr_expect_eq(PARSE("--state-dir", "/tmp/x", "--replay", "tcp://127.0.0.1:5602",
                       "--report-dir", "/tmp/r"),
                 FS_OPTS_OK, "%s", err);
}

Test(reporter_config, a_mistake_in_the_file_names_its_line)
{
    char *path = write_file("bad.conf", "state-dir = /tmp/x\n"
                                              "subscribe = tcp://127.0.0.1:5601\n"
                                              "confirm = soon\n");
    cr_expect_eq(PARSE("-c", path), FS_OPTS_ERROR);
    cr_expect_str_eq(err, "config line 3: confirm: 'soon' is not a number");
}

/* The program itself: the message on stderr and exit status 2, for a
 * mistake in the spec and for one only opening the output can find. */
static void expect_refused(char *const argv[], const char *message)
{
    struct fs_proc_output o;

    cr_assert_eq(fs_proc_run(argv, 10000, &o), 0);
    cr_expect(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 2, "status %d, stderr: %s",
              o.status, o.err);
    cr_expect_not_null(strstr(o.err, message), "stderr: %s", o.err);
    fs_proc_output_free(&o);
}

Test(reporter_config, the_program_refuses_with_status_2)
{
    char bin[256], state[128];

    snprintf(bin, sizeof(bin), "%s/flowsentry-reporter", FS_BINARY_DIR);
    if (dir[0] == '\0')
        cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    snprintf(state, sizeof(state), "%s/state", dir);
    char *const typo[] = { bin, "--state-dir", state, "--subscribe", "tcp://127.0.0.1:5601",
                           "--output", "tpc://127.0.0.1:514", NULL };
    expect_refused(typo, "flowsentry-reporter: output 1: unknown transport 'tpc'");
    char *const no_ca[] = { bin, "--state-dir", state, "--subscribe", "tcp://127.0.0.1:5601",
                            "--output", "tls://127.0.0.1:6514 ca=/nonexistent/ca.pem", NULL };
    expect_refused(no_ca, "output 1: ");
    expect_refused(no_ca, "/nonexistent/ca.pem");
}
