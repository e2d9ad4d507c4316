/*
 * test_flowout.c - the shared flow output of the collector and the sensor:
 * bus batches go out when full or once FS_FLOWOUT_DELAY_MS old, and a
 * subscriber receives every flow, in order, with the counters agreeing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "flowout.h"
#include "msg.h"
#include "proc.h"

static struct fs_flow flow(uint16_t port)
{
    struct fs_flow f;

    memset(&f, 0, sizeof(f));
    fs_ip_parse("10.0.0.1", &f.src_addr);
    fs_ip_parse("10.0.0.2", &f.dst_addr);
    f.src_port = port;
    f.dst_port = 443;
    f.proto = 6;
    f.packets = 1;
    f.bytes = 100;
    FS_FLOW_SET(&f, FS_F_SRC_ADDR);
    FS_FLOW_SET(&f, FS_F_DST_ADDR);
    FS_FLOW_SET(&f, FS_F_SRC_PORT);
    FS_FLOW_SET(&f, FS_F_DST_PORT);
    FS_FLOW_SET(&f, FS_F_PROTO);
    FS_FLOW_SET(&f, FS_F_PACKETS);
    FS_FLOW_SET(&f, FS_F_BYTES);
    return f;
}

/* Receives one flows message within `ms`; returns its flow count (-1: none). */
static long recv_batch(struct fs_bus *sub, int ms, uint16_t *first_port)
{
    struct fs_bus_msg m;
    struct fs_msg msg;
    char err[256];
    long n;

    if (fs_bus_recv(sub, ms, &m) != 1)
        return -1;
    cr_assert_eq(fs_msg_decode(m.data, m.len, &msg, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(msg.type, FS_MSG_FLOWS);
    n = (long)msg.nflows;
    if (n > 0)
        *first_port = msg.flows[0].src_port;
    fs_msg_free(&msg);
    return n;
}

Test(flowout, full_batches_at_once_partial_ones_after_the_delay)
{
    char dir[128], ep[256], err[256];
    const char *eps[1] = { ep };
    uint16_t port = 0;

    cr_assert_not_null(fs_tmpdir(dir, sizeof(dir)));
    snprintf(ep, sizeof(ep), "ipc://%s/flows.sock", dir);
    struct fs_flowout_opts o = { "test", "flowout@test", ep, 0, 2, false };
    struct fs_flowout *out = fs_flowout_new(&o, err, sizeof(err));
    cr_assert_not_null(out, "%s", err);
    cr_expect_str_eq(fs_flowout_sender(out), "flowout@test");
    cr_expect(fs_flowout_publishing(out));
    struct fs_bus *sub = fs_bus_sub(eps, 1, "flows", 0, err, sizeof(err));
    cr_assert_not_null(sub, "%s", err);
    usleep(200 * 1000); /* the subscription reaches the publisher */

    struct fs_flow f[3] = { flow(1), flow(2), flow(3) };
    fs_flowout_flows(out, f, 3);
    /* The first two filled a batch and left at once. */
    cr_assert_eq(recv_batch(sub, 1000, &port), 2);
    cr_expect_eq(port, 1);
    /* The third waits for more, at most the delay. */
    long wait = fs_flowout_flush(out, false);
    cr_expect(wait >= 0 && wait <= FS_FLOWOUT_DELAY_MS, "wait %ld", wait);
    cr_expect_eq(recv_batch(sub, 0, &port), -1);
    usleep((FS_FLOWOUT_DELAY_MS + 2) * 1000);
    cr_expect_eq(fs_flowout_flush(out, false), -1);
    cr_assert_eq(recv_batch(sub, 1000, &port), 1);
    cr_expect_eq(port, 3);

    const struct fs_flowout_counters *n = fs_flowout_counters(out);
    cr_expect_eq(n->messages, 2);
    cr_expect_eq(n->flows, 3);
    cr_expect_eq(n->dropped_flows, 0);

    /* A stats message goes out on the same bus (not seen by a "flows" subscriber). */
    struct fs_stats *st = fs_flowout_stats(out, 1234);
    cr_assert_not_null(st);
    fs_stats_group(st, "total");
    fs_stats_add(st, "flows", 3);
    fs_flowout_send_stats(out);
    fs_flowout_free(out);
    fs_bus_close(sub, 0);
    fs_rmtree(dir);
}

Test(flowout, without_a_bus_nothing_is_published)
{
    char err[256];
    struct fs_flowout_opts o = { "test", NULL, NULL, 0, 16, false };
    struct fs_flowout *out = fs_flowout_new(&o, err, sizeof(err));
    struct fs_flow f = flow(9);

    cr_assert_not_null(out, "%s", err);
    cr_expect_not(fs_flowout_publishing(out));
    cr_expect_null(fs_flowout_stats(out, 1));
    fs_flowout_flows(out, &f, 1);
    cr_expect_eq(fs_flowout_flush(out, false), -1);
    cr_expect_eq(fs_flowout_counters(out)->flows, 0);
    cr_expect(strchr(fs_flowout_sender(out), '@') != NULL, "default sender test@host");
    fs_flowout_free(out);
}

Test(flowout, a_bad_endpoint_is_refused_with_the_reason)
{
    char err[256] = "";
    struct fs_flowout_opts o = { "test", NULL, "tcp://256.1.1.1:99999", 0, 16, false };

    cr_expect_null(fs_flowout_new(&o, err, sizeof(err)));
    cr_expect(strstr(err, "publish tcp://256.1.1.1:99999") != NULL, "%s", err);
}
