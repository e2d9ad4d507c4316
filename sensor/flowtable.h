/*
 * flowtable.h - the sensor's flow meter: parsed packets in, NetFlow-style
 * flow records out.
 *
 * A flow is the packets that share source and destination address, ports
 * (ICMP: type << 8 | code in the destination port, as NetFlow v5 carries
 * them), protocol, ToS, VLAN tags and input interface. A flow ends when
 *
 *   - no packet came for `inactive_ms` (inactive timeout),
 *   - it has lasted `active_ms` (active timeout: long flows are reported
 *     in pieces),
 *   - a TCP packet with FIN or RST came, and `tcp_end_ms` passed since,
 *   - the table is full and a new flow needs the room: the flow seen least
 *     recently goes first, and such early ends are counted,
 *   - or the caller flushes the table (end of the capture, shutdown).
 *
 * The only clock is the one the caller passes in, packet timestamps: a
 * capture file read at full speed gives the same flows as the same traffic
 * seen live. A timeout is reached when `now - last >= timeout`.
 *
 * IP fragments: the first fragment carries the ports, later ones do not.
 * Fragments are tracked by (source, destination, protocol, IP id) for
 * `frag_timeout_ms`: a later fragment whose first one was seen is counted in
 * that flow; one that comes before its first fragment is held, and added to
 * the flow when the first fragment comes; what is still held when the
 * tracking ends is counted as unmatched and in no flow.
 *
 * Memory is allocated once, in fs_ft_new(); nothing is allocated per packet.
 */
#ifndef FS_FLOWTABLE_H
#define FS_FLOWTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "frame.h"

#define FS_FT_DEFAULT_INACTIVE_MS 15000u
#define FS_FT_DEFAULT_ACTIVE_MS 1800000u
#define FS_FT_DEFAULT_MAX_FLOWS 262144u
#define FS_FT_DEFAULT_MAX_FRAGS 16384u
#define FS_FT_DEFAULT_FRAG_TIMEOUT_MS 30000u
#define FS_FT_MAX_ENTRIES (UINT32_C(1) << 28) /* indices must fit in 32 bits */

struct fs_ft_config {
    uint32_t inactive_ms;     /* 0: the default */
    uint32_t active_ms;       /* 0: the default */
    uint32_t tcp_end_ms;      /* after FIN or RST; 0: the flow ends with that packet */
    size_t max_flows;         /* 0: the default; at most FS_FT_MAX_ENTRIES */
    size_t max_frags;         /* fragmented datagrams tracked; 0: the default */
    uint32_t frag_timeout_ms; /* 0: the default */

    /* Copied into every flow record. */
    fs_ip exporter;
    uint32_t domain;
};

/* Why a flow ended. */
enum fs_ft_reason {
    FS_FT_INACTIVE = 0,
    FS_FT_ACTIVE,
    FS_FT_TCP_END,
    FS_FT_TABLE_FULL,
    FS_FT_FLUSH,
    FS_FT_REASONS
};

/* "inactive", "active", "tcp_end", "table_full", "flush". */
const char *fs_ft_reason_name(enum fs_ft_reason r);

struct fs_ft_stats {
    uint64_t packets;          /* handed to fs_ft_packet() */
    uint64_t bytes;            /* IP bytes of the packets counted in flows */
    uint64_t metered;          /* packets counted in a flow (held fragments once added) */
    uint64_t not_ip;           /* no IP header inside */
    uint64_t truncated;        /* cut before the ports, ICMP type or TCP flags */
    uint64_t malformed;        /* headers that contradict themselves */
    uint64_t flows;            /* flows created */
    uint64_t expired[FS_FT_REASONS]; /* flows ended, by reason */
    uint64_t active_flows;     /* in the table now */
    uint64_t fragments;        /* IP fragments seen (first ones included) */
    uint64_t frags_held;       /* later fragments that came before their first one */
    uint64_t frags_unmatched;  /* fragments counted in no flow: their first never came */
    uint64_t frags_unmatched_bytes;
    uint64_t frags_evicted;    /* datagrams forgotten early to stay within max_frags */
    uint64_t late;             /* packets older than the table's clock (ordering) */
};

/* Receives each flow as it ends; the record is only valid during the call. */
typedef void (*fs_ft_sink)(void *arg, const struct fs_flow *f, enum fs_ft_reason why);

struct fs_ft;

/* Returns NULL when out of memory or a limit is out of range. */
struct fs_ft *fs_ft_new(const struct fs_ft_config *cfg, fs_ft_sink sink, void *arg);
void fs_ft_free(struct fs_ft *t);

/* A packet to meter: its headers parsed by fs_frame_parse() into `frame`
 * with result `result`; `wire_len`, its length on the wire from the link
 * header on (the IP length is used when it is consistent with it); `in_if`,
 * the input interface (0: unknown); `ts_ms`, its timestamp. */
struct fs_ft_pkt {
    struct fs_frame frame;
    int result;
    uint32_t wire_len;
    uint32_t in_if;
    uint64_t ts_ms;
};

/* Meters `n` packets in order. Flows whose time is up by a packet's
 * timestamp end before it is counted. Packets that cannot be metered are
 * counted (not_ip, truncated, malformed). Batches are faster than single
 * packets: the table is looked up a few packets ahead. */
void fs_ft_packets(struct fs_ft *t, const struct fs_ft_pkt *pkts, size_t n);

/* One packet, as above. Returns 0 when it counted (or is held, as a
 * fragment), -1 when it was dropped (and counted). */
int fs_ft_packet(struct fs_ft *t, const struct fs_frame *fr, int result, uint32_t wire_len,
                 uint32_t in_if, uint64_t ts_ms);

/* Ends the flows (and fragment tracking) whose time is up at `now_ms`, for
 * when no packet comes to move the clock. A time behind the table's clock
 * changes nothing. */
void fs_ft_expire(struct fs_ft *t, uint64_t now_ms);

/* Ends every flow (FS_FT_FLUSH) and forgets every fragment (held ones count
 * as unmatched). The table stays usable. */
void fs_ft_flush(struct fs_ft *t);

/* The latest timestamp seen: the table's clock. 0 before any packet. */
uint64_t fs_ft_now(const struct fs_ft *t);

const struct fs_ft_stats *fs_ft_stats(const struct fs_ft *t);

#endif
