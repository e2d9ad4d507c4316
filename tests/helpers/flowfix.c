/*
 * flowfix.c - hand-built flow records shared by the ipc tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowfix.h"

fs_ip flowfix_ip(const char *text)
{
    fs_ip a;
    if (fs_ip_parse(text, &a) != 0) {
        fprintf(stderr, "flowfix: bad address %s\n", text);
        abort();
    }
    return a;
}

void flowfix_minimal(struct fs_flow *f)
{
    fs_flow_init(f);
    f->exporter = flowfix_ip("192.0.2.1");
    f->version = 5;
    f->domain = 0x0102;
}

void flowfix_full(struct fs_flow *f)
{
    fs_flow_init(f);
    f->present = (UINT64_C(1) << FS_F_COUNT) - 1;
    f->flags = FS_FLOW_SAMPLING_UNKNOWN | FS_FLOW_TIME_CLAMPED;
    f->version = 10;
    f->domain = 4000000000u;
    f->exporter = flowfix_ip("192.0.2.1");
    f->src_addr = flowfix_ip("198.51.100.7");
    f->dst_addr = flowfix_ip("2001:db8::25");
    f->next_hop = flowfix_ip("203.0.113.254");
    f->bgp_next_hop = flowfix_ip("2001:db8:ffff::1");
    f->post_src_addr = flowfix_ip("100.64.0.9");
    f->post_dst_addr = flowfix_ip("203.0.113.80");
    f->src_port = 51234;
    f->dst_port = 443;
    f->post_src_port = 40000;
    f->post_dst_port = 8443;
    f->proto = 6;
    f->tos = 0xb8;
    f->tcp_flags = 0x1b;
    f->ip_version = 4;
    f->src_mask = 24;
    f->dst_mask = 64;
    f->direction = 1;
    f->fwd_status = 64;
    f->icmp_type = 3;
    f->icmp_code = 13;
    f->src_vlan = 100;
    f->dst_vlan = 4094;
    memcpy(f->src_mac, "\xaa\xbb\xcc\x0d\x0e\x0f", 6);
    memcpy(f->dst_mac, "\x00\x1b\x21\xff\x00\x01", 6);
    f->mpls_count = 3;
    f->mpls[0] = 16000u << 4;           /* label 16000, exp 0, not bottom */
    f->mpls[1] = 24001u << 4 | 5u << 1; /* label 24001, exp 5 */
    f->mpls[2] = 3u << 4 | 1u;          /* label 3, bottom of stack */
    f->packets = 5000000000ull;
    f->bytes = 9007199254740993ull; /* 2^53+1: not exact as a double */
    f->start_ms = 1700000000250ull;
    f->end_ms = 1700000009999ull;
    f->in_if = 7;
    f->out_if = 4294967295u;
    f->src_as = 64500;
    f->dst_as = 4200000000u;
    f->sampling_rate = 1000;
    f->sampler_id = 2;
    f->rev_packets = 12;
    f->rev_bytes = 3400;
    f->rev_tos = 0x20;
    f->rev_tcp_flags = 0x12;
    f->flow_id = 1234567890123456ull;
    strcpy(f->uid, "CHhAvVGS1DHFjwGM9");
}

void flowfix_widest(struct fs_flow *f)
{
    fs_ip *addrs[] = { &f->exporter, &f->src_addr, &f->dst_addr, &f->next_hop,
                       &f->bgp_next_hop, &f->post_src_addr, &f->post_dst_addr };

    flowfix_full(f);
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
        *addrs[i] = flowfix_ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
    f->version = f->src_port = f->dst_port = 65535;
    f->domain = f->in_if = f->out_if = f->src_as = f->dst_as = 4294967295u;
    f->sampling_rate = f->sampler_id = 4294967295u;
    f->packets = f->bytes = f->start_ms = f->end_ms = f->rev_packets = f->rev_bytes = UINT64_MAX;
    f->flow_id = UINT64_MAX;
    f->mpls_count = FS_FLOW_MPLS_MAX;
    for (int i = 0; i < FS_FLOW_MPLS_MAX; i++)
        f->mpls[i] = 0xffffff;
    memset(f->uid, 0x01, FS_FLOW_UID_MAX - 1);
    f->uid[FS_FLOW_UID_MAX - 1] = '\0';
}
