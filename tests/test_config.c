/*
 * test_config.c - collector options: command line, config file, errors.
 *
 * The central property: every option means the same on the command line
 * and in a file. It is checked for every row of the option table, so a new
 * option without a sample value below fails here until it gets one.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "proc.h"

static struct fs_config cfg;
static char err[512];
static char dir[64];

static void setup(void)
{
    cr_assert_eq(fs_config_init(&cfg), 0);
    err[0] = '\0';
    dir[0] = '\0';
}

static void teardown(void)
{
    fs_config_free(&cfg);
    if (dir[0] != '\0')
        fs_rmtree(dir);
}

TestSuite(config, .init = setup, .fini = teardown);

/* Writes `text` to a file in a fresh directory; returns its path. */
static const char *write_file(const char *text)
{
    static char path[128];
    FILE *fp;

    if (dir[0] == '\0')
        cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    snprintf(path, sizeof(path), "%s/collector.conf", dir);
    fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

#define ARGS(...) ((char *const[]){ "flowsentry-collector", __VA_ARGS__, NULL })
#define NARGS(...) ((int)(sizeof((char *[]){ "", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(...) fs_config_parse_args(&cfg, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), err, sizeof(err))

static char *written(const struct fs_config *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    cr_assert_not_null(fp);
    fs_opts_write(&fs_config_opts, c, fp);
    fclose(fp);
    return buf;
}

Test(config, defaults)
{
    char buf[256];
    const struct sockaddr_in6 *s6;

    cr_assert_eq(PARSE("--json"), FS_OPTS_OK, "%s", err);
    cr_assert_eq(cfg.nlisten, 2);
    cr_assert_str_eq(cfg.listen[0].text, "udp://[::]:2055");
    cr_assert_str_eq(cfg.listen[1].text, "udp://[::]:4739");
    s6 = (const struct sockaddr_in6 *)&cfg.listen[1].addr;
    cr_assert_eq(s6->sin6_family, AF_INET6);
    cr_assert_eq(ntohs(s6->sin6_port), 4739);
    cr_assert(IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr));
    cr_assert_str_eq(fs_config_publish(&cfg, buf, sizeof(buf)), "ipc:///tmp/flowsentry/flows");
    cr_assert_str_eq(fs_config_template_file(&cfg, buf, sizeof(buf)),
                     "/var/lib/flowsentry/templates");
    cr_assert(cfg.json);
    cr_assert_eq(cfg.allow != NULL && fs_allow_count(cfg.allow) == 0, 1);
    cr_assert_eq(cfg.log_level, FS_LOG_INFO);
}

Test(config, offline_mode_publishes_and_keeps_templates_only_when_asked)
{
    char buf[256];

    cr_assert_eq(PARSE("--read", "a.pcap", "--read=b.pcap", "--run-dir", "/run/fs"),
                 FS_OPTS_OK, "%s", err);
    cr_assert(fs_config_offline(&cfg));
    cr_assert_eq(cfg.nlisten, 0, "no default listeners when reading files");
    cr_assert_eq(cfg.nread, 2);
    cr_assert_str_eq(cfg.read[1], "b.pcap");
    cr_assert_null(fs_config_publish(&cfg, buf, sizeof(buf)));
    cr_assert_null(fs_config_template_file(&cfg, buf, sizeof(buf)));

    cr_assert_eq(PARSE("--publish", "tcp://127.0.0.1:5555", "--template-file", "/x/t"),
                 FS_OPTS_OK, "%s", err);
    cr_assert_str_eq(fs_config_publish(&cfg, buf, sizeof(buf)), "tcp://127.0.0.1:5555");
    cr_assert_str_eq(fs_config_template_file(&cfg, buf, sizeof(buf)), "/x/t");
}

Test(config, run_and_state_dirs_move_the_defaults)
{
    char buf[256];

    cr_assert_eq(PARSE("--run-dir=/run/fs", "--state-dir", "/srv/fs"), FS_OPTS_OK, "%s", err);
    cr_assert_str_eq(fs_config_publish(&cfg, buf, sizeof(buf)), "ipc:///run/fs/flows");
    cr_assert_str_eq(fs_config_template_file(&cfg, buf, sizeof(buf)), "/srv/fs/templates");
    cr_assert_eq(PARSE("--no-publish", "--template-file", "none"), FS_OPTS_OK);
    cr_assert_null(fs_config_publish(&cfg, buf, sizeof(buf)));
    cr_assert_null(fs_config_template_file(&cfg, buf, sizeof(buf)));
}

Test(config, listen_addresses)
{
    const struct sockaddr_in *s4;
    const struct sockaddr_in6 *s6;
    struct in6_addr want6;

    cr_assert_eq(PARSE("--listen", "udp://192.0.2.1:9995", "--listen=tcp://[2001:db8::7]:4739"),
                 FS_OPTS_OK, "%s", err);
    cr_assert_eq(cfg.nlisten, 2, "explicit listeners replace the defaults");
    cr_assert_eq(cfg.listen[0].proto, FS_LISTEN_UDP);
    s4 = (const struct sockaddr_in *)&cfg.listen[0].addr;
    cr_assert_eq(s4->sin_family, AF_INET);
    cr_assert_eq(ntohs(s4->sin_port), 9995);
    cr_assert_eq(ntohl(s4->sin_addr.s_addr), 0xc0000201u);
    cr_assert_eq(cfg.listen[0].addrlen, sizeof(struct sockaddr_in));
    cr_assert_eq(cfg.listen[1].proto, FS_LISTEN_TCP);
    s6 = (const struct sockaddr_in6 *)&cfg.listen[1].addr;
    inet_pton(AF_INET6, "2001:db8::7", &want6);
    cr_assert_eq(s6->sin6_family, AF_INET6);
    cr_assert_arr_eq(&s6->sin6_addr, &want6, 16);
    cr_assert_eq(ntohs(s6->sin6_port), 4739);
}

Test(config, numbers_with_units_and_bounds)
{
    cr_assert_eq(PARSE("--rcvbuf", "8M", "--pending-bytes=64k", "--batch-size", "1",
                       "--stats-interval", "0", "--clock-clamp", "300"), FS_OPTS_OK, "%s", err);
    cr_assert_eq(cfg.rcvbuf, 8u << 20);
    cr_assert_eq(cfg.pending_bytes, 64u << 10);
    cr_assert_eq(cfg.batch_size, 1);
    cr_assert_eq(cfg.stats_interval, 0, "0 turns periodic stats off");
    cr_assert_eq(cfg.clock_clamp, 300);
}

Test(config, sampling_rules)
{
    fs_ip want;

    cr_assert_eq(PARSE("--sampling", "192.0.2.1=100", "--sampling", "[2001:db8::1]=64!",
                       "--sampling=2001:db8::2=10", "--sampling-default", "1000"),
                 FS_OPTS_OK, "%s", err);
    cr_assert_eq(cfg.nsampling, 3);
    fs_ip_parse("192.0.2.1", &want);
    cr_assert_eq(cfg.sampling[0].exporter.af, 4);
    cr_assert_arr_eq(cfg.sampling[0].exporter.b, want.b, 4);
    cr_assert_eq(cfg.sampling[0].rate, 100);
    cr_assert_not(cfg.sampling[0].override);
    fs_ip_parse("2001:db8::1", &want);
    cr_assert_arr_eq(cfg.sampling[1].exporter.b, want.b, 16);
    cr_assert_eq(cfg.sampling[1].rate, 64);
    cr_assert(cfg.sampling[1].override);
    cr_assert_eq(cfg.sampling[2].rate, 10);
    cr_assert_eq(cfg.sampling_default, 1000);
}

Test(config, flags_and_log_levels)
{
    cr_assert_eq(PARSE("--quiet"), FS_OPTS_OK);
    cr_assert_eq(cfg.log_level, FS_LOG_WARNING);
    cr_assert_eq(PARSE("--verbose"), FS_OPTS_OK);
    cr_assert_eq(cfg.log_level, FS_LOG_DEBUG);
    cr_assert_eq(PARSE("--verbose=no", "--json=off"), FS_OPTS_OK);
    cr_assert_eq(cfg.log_level, FS_LOG_INFO);
    cr_assert_not(cfg.json);
    cr_assert_eq(PARSE("--json", "--no-publish"), FS_OPTS_OK);
    cr_assert(cfg.json);
    cr_assert(cfg.no_publish);
}

Test(config, help_and_version)
{
    cr_assert_eq(PARSE("--rcvbuf", "abc", "-h"), FS_OPTS_HELP, "help wins over errors");
    cr_assert_eq(PARSE("--version"), FS_OPTS_VERSION);
}

Test(config, file_then_command_line)
{
    char *path = (char *)write_file(
        "# collector settings\n"
        "\n"
        "listen = udp://127.0.0.1:2055   # the lab router\n"
        "  rcvbuf=1M\n"
        "allow = 192.0.2.0/24\n"
        "sender = lab-collector\n"
        "template-file = /tmp/with#hash/templates\n"
        "json = yes\n");

    cr_assert_eq(PARSE("-c", path, "--rcvbuf", "2M", "--allow", "2001:db8::/32",
                       "--listen", "tcp://127.0.0.1:4739"), FS_OPTS_OK, "%s", err);
    cr_assert_str_eq(cfg.config_file, path);
    cr_assert_eq(cfg.rcvbuf, 2u << 20, "command line wins for single values");
    cr_assert_eq(fs_allow_count(cfg.allow), 2, "and adds to repeatable ones");
    cr_assert_eq(cfg.nlisten, 2);
    cr_assert_str_eq(cfg.listen[0].text, "udp://127.0.0.1:2055");
    cr_assert_str_eq(cfg.sender, "lab-collector");
    cr_assert_str_eq(cfg.template_file, "/tmp/with#hash/templates", "'#' inside a value stays");
    cr_assert(cfg.json);
}

/* One valid value per option (not the default), for the equivalence test. */
static const struct {
    const char *name, *value;
} samples[] = {
    { "listen", "udp://192.0.2.1:9995" },
    { "read", "/tmp/x.pcap" },
    { "json", "yes" },
    { "publish", "tcp://127.0.0.1:5555" },
    { "no-publish", "yes" },
    { "sender", "probe-7" },
    { "allow", "198.51.100.0/24" },
    { "rcvbuf", "16M" },
    { "template-file", "/tmp/fs-templates" },
    { "template-interval", "30" },
    { "stats-interval", "10" },
    { "sampling-default", "512" },
    { "sampling", "[2001:db8::9]=100!" },
    { "max-exporters", "100" },
    { "max-templates", "77" },
    { "pending-bytes", "1M" },
    { "pending-timeout", "5" },
    { "clock-clamp", "3600" },
    { "batch-size", "200" },
    { "tcp-max-connections", "8" },
    { "tcp-idle-timeout", "0" },
    { "user", "nobody" },
    { "run-dir", "/run/fs" },
    { "state-dir", "/var/lib/fs" },
    { "quiet", "yes" },
    { "verbose", "no" },
};

static const char *sample_for(const char *name)
{
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
        if (strcmp(samples[i].name, name) == 0)
            return samples[i].value;
    return NULL;
}

Test(config, every_option_same_in_file_and_on_command_line)
{
    struct fs_config fromfile;
    char *text = NULL, *a, *b;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    const char *name;
    size_t i;

    cr_assert_not_null(fp);
    for (i = 0; (name = fs_config_option_name(i)) != NULL; i++) {
        const char *v = sample_for(name);
        char arg[256];
        char *const argv[] = { "flowsentry-collector", arg, NULL };

        cr_assert_not_null(v, "option '%s' has no sample value in this test", name);
        fprintf(fp, "%s = %s\n", name, v);
        snprintf(arg, sizeof(arg), "--%s=%s", name, v);
        /* The table alone: listen and read together fail fs_config_finish(). */
        cr_assert_eq(fs_opts_parse_args(&fs_config_opts, &cfg, 2, argv, NULL, err, sizeof(err)),
                     FS_OPTS_OK, "%s: %s", arg, err);
    }
    cr_assert_eq(i, sizeof(samples) / sizeof(samples[0]), "a sample for a removed option");
    fclose(fp);

    cr_assert_eq(fs_config_init(&fromfile), 0);
    cr_assert_eq(fs_config_load_file(&fromfile, write_file(text), err, sizeof(err)), 0, "%s",
                 err);
    a = written(&cfg);
    b = written(&fromfile);
    cr_assert_str_eq(a, b);
    /* The samples differ from the defaults, so each must have changed something. */
    {
        struct fs_config def;
        char *d;

        cr_assert_eq(fs_config_init(&def), 0);
        d = written(&def);
        for (i = 0; (name = fs_config_option_name(i)) != NULL; i++) {
            char needle[300];

            if (strcmp(name, "quiet") == 0 || strcmp(name, "verbose") == 0)
                continue; /* one setting (the log level) shared by two options */
            snprintf(needle, sizeof(needle), "%s = ", name);
            cr_assert_not_null(strstr(a, needle), "%s missing from the written config", name);
        }
        cr_assert_str_neq(a, d);
        free(d);
        fs_config_free(&def);
    }
    free(a);
    free(b);
    free(text);
    fs_config_free(&fromfile);
}

Test(config, written_config_loads_back_the_same)
{
    struct fs_config again;
    char *first, *second;

    cr_assert_eq(PARSE("--listen", "udp://[::1]:2055", "--allow", "10.0.0.0/8", "--sampling",
                       "192.0.2.1=10!", "--rcvbuf", "1k", "--verbose"), FS_OPTS_OK, "%s", err);
    first = written(&cfg);
    cr_assert_eq(fs_config_init(&again), 0);
    cr_assert_eq(fs_config_load_file(&again, write_file(first), err, sizeof(err)), 0, "%s", err);
    second = written(&again);
    cr_assert_str_eq(first, second);
    cr_assert_not_null(strstr(first, "rcvbuf = 1024\n"));
    cr_assert_not_null(strstr(first, "sampling = 192.0.2.1=10!\n"));
    free(first);
    free(second);
    fs_config_free(&again);
}

/* Command-line errors: the exact message main prints after "flowsentry-collector: ". */
static void cli_error(int argc, char *const argv[], const char *want)
{
    struct fs_config c;

    cr_assert_eq(fs_config_init(&c), 0);
    cr_assert_eq(fs_config_parse_args(&c, argc, argv, err, sizeof(err)), FS_OPTS_ERROR,
                 "accepted: %s", argv[1]);
    cr_assert_str_eq(err, want);
    fs_config_free(&c);
}

#define CLI_ERROR(want, ...) cli_error(NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), want)

Test(config, command_line_errors)
{
    CLI_ERROR("option --rcvbuf: 'abc' is not a number", "--rcvbuf", "abc");
    CLI_ERROR("option --rcvbuf: '-5' is not a number", "--rcvbuf=-5");
    CLI_ERROR("option --rcvbuf: '12q' is not a number", "--rcvbuf=12q");
    CLI_ERROR("option --batch-size: '0' is too small (at least 1)", "--batch-size", "0");
    CLI_ERROR("option --max-templates: '65537' is too large (at most 65536)",
              "--max-templates=65537");
    CLI_ERROR("option --max-exporters: '99999999999999999999999' is too large",
              "--max-exporters=99999999999999999999999");
    CLI_ERROR("unknown option '--rcvbuff'", "--rcvbuff", "1");
    CLI_ERROR("option --rcvbuf needs a value (BYTES)", "--rcvbuf");
    CLI_ERROR("option --publish needs a value (ENDPOINT)", "--publish", "--json");
    CLI_ERROR("option --sender: missing value", "--sender=");
    CLI_ERROR("unexpected argument 'capture.pcap' (options are --key value)", "capture.pcap");
    CLI_ERROR("unexpected argument 'yes' (options are --key value)", "--json", "yes");
    CLI_ERROR("option --json: 'maybe' is not yes or no", "--json=maybe");
    CLI_ERROR("option -c needs a file name", "-c");
    CLI_ERROR("option -c: only one config file", "-c", "/a", "-c", "/b");
}

Test(config, address_and_scheme_errors)
{
    CLI_ERROR("option --listen: 'http://1.2.3.4:80': unknown scheme 'http' (udp:// or tcp://)",
              "--listen", "http://1.2.3.4:80");
    CLI_ERROR("option --listen: '0.0.0.0:2055' needs a scheme: udp://ADDR:PORT or "
              "tcp://ADDR:PORT", "--listen", "0.0.0.0:2055");
    CLI_ERROR("option --listen: 'udp://1.2.3:2055': '1.2.3' is not an IP address",
              "--listen", "udp://1.2.3:2055");
    CLI_ERROR("option --listen: 'udp://::1:2055': put IPv6 addresses in brackets, as "
              "udp://[::1]:2055", "--listen", "udp://::1:2055");
    CLI_ERROR("option --listen: 'udp://[::1]:0': port must be 1..65535", "--listen",
              "udp://[::1]:0");
    CLI_ERROR("option --listen: 'udp://[::1]:65536': port must be 1..65535", "--listen",
              "udp://[::1]:65536");
    CLI_ERROR("option --listen: 'udp://[::1]' is not udp://ADDR:PORT or tcp://ADDR:PORT",
              "--listen", "udp://[::1]");
    CLI_ERROR("option --listen: 'tcp://[192.0.2.1]:4739': '192.0.2.1' is not an IP address",
              "--listen", "tcp://[192.0.2.1]:4739");
    CLI_ERROR("option --allow: '300.1.1.1' is not an address or prefix", "--allow",
              "300.1.1.1");
    CLI_ERROR("option --allow: '192.0.2.0/33': prefix length must be 0..32", "--allow",
              "192.0.2.0/33");
    CLI_ERROR("option --publish: 'http://x' is not a ZeroMQ endpoint (ipc://PATH, "
              "tcp://HOST:PORT)", "--publish", "http://x");
    CLI_ERROR("option --sampling: '192.0.2.1' is not EXPORTER=RATE or EXPORTER=RATE!",
              "--sampling", "192.0.2.1");
    CLI_ERROR("option --sampling: 'router=10': 'router' is not an IP address", "--sampling",
              "router=10");
    CLI_ERROR("option --sampling: '192.0.2.1=0': rate must be 1..4294967295", "--sampling",
              "192.0.2.1=0");
    CLI_ERROR("option --sampling: 'x' is not a number", "--sampling", "192.0.2.1=x");
    CLI_ERROR("option --sender: 'a b' has spaces or control characters", "--sender", "a b");
    CLI_ERROR("option --sender: "
              "'0123456789012345678901234567890123456789012345678901234567890123' is longer "
              "than 63 characters",
              "--sender", "0123456789012345678901234567890123456789012345678901234567890123");
}

static void file_error(const char *text, const char *want)
{
    struct fs_config c;

    cr_assert_eq(fs_config_init(&c), 0);
    cr_assert_eq(fs_config_load_file(&c, write_file(text), err, sizeof(err)), -1,
                 "accepted: %s", text);
    cr_assert_str_eq(err, want);
    fs_config_free(&c);
}

Test(config, file_errors_carry_line_numbers)
{
    file_error("# tuning\n\nlisten = udp://127.0.0.1:2055\nrcvbuf = abc\n",
               "config line 4: rcvbuf: 'abc' is not a number");
    file_error("rcvbuf =\n", "config line 1: rcvbuf: missing value");
    file_error("json = yes\nrcvbuff = 1M\n", "config line 2: unknown option 'rcvbuff'");
    file_error("listen udp://[::]:2055\n",
               "config line 1: expected 'key = value', got 'listen udp://[::]:2055'");
    file_error("\n\n\nbatch-size = 0\n",
               "config line 4: batch-size: '0' is too small (at least 1)");
    file_error("listen = sctp://[::]:2055\n",
               "config line 1: listen: 'sctp://[::]:2055': unknown scheme 'sctp' "
               "(udp:// or tcp://)");
    file_error("allow = 192.0.2.1/24\n",
               "config line 1: allow: '192.0.2.1/24' has bits set past the /24 prefix");
}

Test(config, unreadable_file)
{
    char *const argv[] = { "flowsentry-collector", "-c", "/nonexistent/collector.conf", NULL };

    cr_assert_eq(fs_config_parse_args(&cfg, 3, argv, err, sizeof(err)), FS_OPTS_ERROR);
    cr_assert_str_eq(err, "config file /nonexistent/collector.conf: No such file or directory");
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    cr_assert_eq(fs_config_load_file(&cfg, dir, err, sizeof(err)), -1, "a directory");
    cr_assert_not_null(strstr(err, dir), "%s", err);
}

Test(config, conflicting_modes)
{
    cr_assert_eq(PARSE("--listen", "udp://[::]:2055", "--read", "x.pcap"), FS_OPTS_ERROR);
    cr_assert_str_eq(err, "listen and read cannot be used together");
}

Test(config, usage_and_docs_list_every_option)
{
    char *usage = NULL, *docs = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&usage, &len);
    const char *name;

    fs_opts_usage(&fs_config_opts, fp, "flowsentry-collector");
    fclose(fp);
    fp = fopen(FS_SOURCE_DIR "/docs/configuration.md", "r");
    cr_assert_not_null(fp, "docs/configuration.md is missing");
    cr_assert_eq(getdelim(&docs, &len, '\0', fp) > 0, 1);
    fclose(fp);
    for (size_t i = 0; (name = fs_config_option_name(i)) != NULL; i++) {
        char needle[80];

        snprintf(needle, sizeof(needle), "--%s", name);
        cr_assert_not_null(strstr(usage, needle), "usage lacks %s", needle);
        snprintf(needle, sizeof(needle), "`%s`", name);
        cr_assert_not_null(strstr(docs, needle), "docs/configuration.md lacks %s", needle);
    }
    free(usage);
    free(docs);
}
