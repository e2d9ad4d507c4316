/*
 * test_benchtools.c - the benchmark's measuring instruments: fs-flowsend
 * feeding a real flowsentry-collector, and fs-flowsub counting its flows on
 * the bus, once decoding every flow and once with --count-only.
 *
 * tools/bench.sh calls a run lossless when fs-flowsub counts as many flows
 * as fs-flowsend says it sent, so both counts must be right: here every
 * flow sent at a gentle rate must arrive, the two subscriber modes must
 * agree, and the packet total that fs-flowsend computes from the generated
 * flows (before sampling) times the announced sampling rate must be what
 * the full decode of the bus finds.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

#define COLLECTOR FS_BINARY_DIR "/flowsentry-collector"
#define FLOWSEND FS_BINARY_DIR "/fs-flowsend"
#define FLOWSUB FS_BINARY_DIR "/fs-flowsub"
#define SAMPLING 4

/* The value of `key=` in a line of key=value pairs; -1 when missing. */
static long long kv(const char *line, const char *key)
{
    size_t n = strlen(key);

    for (const char *p = line; (p = strstr(p, key)) != NULL; p += n) {
        if ((p == line || p[-1] == ' ') && p[n] == '=')
            return strtoll(p + n + 1, NULL, 10);
    }
    return -1;
}

/* Sends `flows` flows of one format and returns fs-flowsend's summary line
 * (static buffer). */
static const char *send_stream(const char *format, int port, const char *flows)
{
    static char line[512];
    char target[64];
    struct fs_proc_output out;

    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    char *argv[] = {FLOWSEND, "--format", (char *)format, "--flows", (char *)flows,
                    "--rate", "200000", "--sampling", "4", "--seed", "9", target, NULL};
    cr_assert_eq(fs_proc_run(argv, 30000, &out), 0);
    cr_assert(WIFEXITED(out.status) && WEXITSTATUS(out.status) == 0, "%s", out.err);
    snprintf(line, sizeof(line), "%s", out.out);
    fs_proc_output_free(&out);
    cr_assert_gt(kv(line, "flows"), 0, "%s", line);
    cr_assert_eq(kv(line, "errors"), 0, "%s", line);
    return line;
}

Test(benchtools, every_flow_sent_is_counted_on_the_bus, .timeout = 60)
{
    char dir[128], listen[64], publish[192], *err_text;
    int port = fs_free_port(AF_INET, SOCK_DGRAM), cfd, full_fd, count_fd, status;
    long long flows = 0, packets = 0;
    pid_t collector, full, counter;

    cr_assert_gt(port, 0);
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    snprintf(listen, sizeof(listen), "udp://127.0.0.1:%d", port);
    snprintf(publish, sizeof(publish), "ipc://%s/flows", dir);

    char *cargv[] = {COLLECTOR, "--listen", listen, "--publish", publish, "--template-file",
                     "none", "--stats-interval", "0", "--run-dir", dir, "--state-dir", dir,
                     NULL};
    collector = fs_proc_spawn(cargv, NULL, &cfd);
    cr_assert_gt(collector, 0);
    char *fargv[] = {FLOWSUB, "--idle", "1", "--timeout", "30", publish, NULL};
    char *qargv[] = {FLOWSUB, "--count-only", "--idle", "1", "--timeout", "30", publish, NULL};
    full = fs_proc_spawn(fargv, &full_fd, NULL);
    counter = fs_proc_spawn(qargv, &count_fd, NULL);
    cr_assert(full > 0 && counter > 0);
    usleep(700 * 1000); /* both subscriptions in place before the first batch */

    /* One exporter, three formats; odd counts so that batches end part-full. */
    static const char *const formats[] = {"v5", "v9", "ipfix"};
    static const char *const counts[] = {"3001", "2999", "4001"};
    for (int i = 0; i < 3; i++) {
        const char *line = send_stream(formats[i], port, counts[i]);

        flows += kv(line, "flows");
        packets += kv(line, "packets");
    }

    char *got_full = fs_proc_read_all(full_fd, 30000, NULL);
    char *got_count = fs_proc_read_all(count_fd, 30000, NULL);
    cr_assert_eq(fs_proc_wait(full, 30000, &status), 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(fs_proc_wait(counter, 30000, &status), 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(fs_proc_stop(collector, SIGTERM, 10000, &status), 0);
    err_text = fs_proc_read_all(cfd, 5000, NULL);
    fs_rmtree(dir);
    cr_assert_not_null(got_full);
    cr_assert_not_null(got_count);

    cr_assert_eq(kv(got_full, "flows"), flows, "sent %lld: %s\ncollector: %s", flows,
                 got_full, err_text);
    cr_assert_eq(kv(got_count, "flows"), flows, "sent %lld: %s", flows, got_count);
    cr_assert_eq(kv(got_full, "messages"), kv(got_count, "messages"));
    cr_assert_eq(kv(got_full, "lost"), 0);
    cr_assert_eq(kv(got_count, "lost"), 0);
    cr_assert_eq(kv(got_full, "bad"), 0);
    cr_assert_eq(kv(got_count, "bad"), 0);
    cr_assert_eq(kv(got_full, "packets"), packets * SAMPLING, "%s", got_full);
    cr_assert_eq(kv(got_count, "packets"), 0, "--count-only reads no flow");
    free(got_full);
    free(got_count);
    free(err_text);
}

/* --resume: the benchmark's "receiver alone" figure. A stopped collector
 * must get every flow once resumed, the drain must be timed, and a socket
 * that had room for everything must show no drops. */
Test(benchtools, a_stopped_receiver_is_resumed_and_timed, .timeout = 60)
{
    char dir[128], listen[64], publish[192], target[64], pidbuf[16], *err_text;
    int port = fs_free_port(AF_INET, SOCK_DGRAM), cfd, count_fd, status;
    struct fs_proc_output out;
    pid_t collector, counter;

    cr_assert_gt(port, 0);
    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    snprintf(listen, sizeof(listen), "udp://127.0.0.1:%d", port);
    snprintf(publish, sizeof(publish), "ipc://%s/flows", dir);
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);

    char *cargv[] = {COLLECTOR, "--listen", listen, "--publish", publish, "--template-file",
                     "none", "--stats-interval", "0", "--run-dir", dir, "--state-dir", dir,
                     "--rcvbuf", "4194304", NULL};
    collector = fs_proc_spawn(cargv, NULL, &cfd);
    cr_assert_gt(collector, 0);
    char *qargv[] = {FLOWSUB, "--count-only", "--idle", "1", "--timeout", "30", publish, NULL};
    counter = fs_proc_spawn(qargv, &count_fd, NULL);
    cr_assert_gt(counter, 0);
    usleep(700 * 1000);
    cr_assert_eq(kill(collector, SIGSTOP), 0);
    snprintf(pidbuf, sizeof(pidbuf), "%d", (int)collector);
    char *sargv[] = {FLOWSEND, "--format", "v9", "--flows", "3000", "--resume", pidbuf, target,
                     NULL};
    cr_assert_eq(fs_proc_run(sargv, 30000, &out), 0);
    cr_assert(WIFEXITED(out.status) && WEXITSTATUS(out.status) == 0, "%s", out.err);

    char *got = fs_proc_read_all(count_fd, 30000, NULL);
    cr_assert_eq(fs_proc_wait(counter, 30000, &status), 0);
    cr_assert_eq(fs_proc_stop(collector, SIGTERM, 10000, &status), 0);
    err_text = fs_proc_read_all(cfd, 5000, NULL);
    fs_rmtree(dir);
    cr_assert_not_null(got);
    cr_assert_geq(kv(out.out, "flows"), 3000, "%s", out.out);
    cr_assert_eq(kv(got, "flows"), kv(out.out, "flows"), "%s\n%s\n%s", out.out, got, err_text);
    cr_assert_eq(kv(out.out, "receiver_drops"), 0, "%s", out.out);
    cr_assert(strstr(out.out, "drain_seconds=") != NULL, "%s", out.out);
    cr_assert_gt(kv(out.out, "drain_rate"), 0, "%s", out.out);
    fs_proc_output_free(&out);
    free(got);
    free(err_text);
}

Test(benchtools, resume_without_a_receiver_is_refused)
{
    struct fs_proc_output out;
    char target[64];
    int port = fs_free_port(AF_INET, SOCK_DGRAM);

    cr_assert_gt(port, 0);
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    char *argv[] = {FLOWSEND, "--flows", "30", "--resume", "1", target, NULL};
    cr_assert_eq(fs_proc_run(argv, 30000, &out), 0);
    cr_assert(WIFEXITED(out.status) && WEXITSTATUS(out.status) == 1);
    cr_assert(strstr(out.err, "no UDP socket is bound to port") != NULL, "%s", out.err);
    fs_proc_output_free(&out);
}
