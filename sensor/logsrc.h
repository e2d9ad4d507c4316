/*
 * logsrc.h - what the Zeek and Suricata log readers (zeek.h, eve.h) share:
 * their configuration and counters, and parsers for the text forms both
 * tools write (times, protocol names, numbers). Addresses and MAC addresses
 * go through flow.h's fs_ip_parse_len() and fs_mac_parse_len().
 *
 * All parsers take a length (log fields are not NUL-terminated in place),
 * accept exactly the documented form and nothing around it, and return 0,
 * or -1 leaving the output untouched.
 */
#ifndef FS_LOGSRC_H
#define FS_LOGSRC_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* Interface name -> ifIndex; 0 when unknown. */
typedef uint32_t (*fs_ls_ifindex_fn)(void *arg, const char *name);

struct fs_ls_config {
    fs_ip exporter;  /* exporter of the flows made: the sensor's own address */
    uint32_t domain; /* their observation domain */
    /* Resolves Suricata's in_iface into in_if; NULL leaves in_if unset.
     * fs_ls_ifindex_os() asks the kernel (for logs written on this host). */
    fs_ls_ifindex_fn ifindex;
    void *ifindex_arg;
};

/* Per reader. Only ever increase. */
struct fs_ls_counters {
    uint64_t lines;     /* lines handed in */
    uint64_t flows;     /* flow records made */
    uint64_t malformed; /* lines refused, each with a message */
    uint64_t skipped;   /* lines that carry no flow: blank lines, Zeek header
                         * and footer lines, other EVE event types */
};

/* Starts a flow from this source: exporter and domain from `cfg`, version 0
 * (sensor), unsampled (sampling_rate 1: these tools see every packet). */
void fs_ls_flow_init(const struct fs_ls_config *cfg, struct fs_flow *f);

/* Sets an optional field of flow `f` and its presence bit when `cond`. */
#define FS_LS_OPT(f, cond, field, value, bit) \
    do {                                      \
        if (cond) {                           \
            (f)->field = (value);             \
            FS_FLOW_SET((f), (bit));          \
        }                                     \
    } while (0)

/* ICMP type and code, and the ports the packet meter gives ICMP flows
 * (source 0, destination type << 8 | code, as NetFlow v5 carries them), so
 * that flows from logs and from packets look alike. */
void fs_ls_set_icmp(struct fs_flow *f, uint8_t type, uint8_t code);

/* Decimal digits only, at most `max`. */
int fs_ls_uint(const char *s, size_t n, uint64_t max, uint64_t *v);

/* A non-negative decimal number of seconds ("1515585900.123456", "0.5",
 * "2e-06", as Zeek writes times and intervals) in microseconds, truncated. */
int fs_ls_seconds_us(const char *s, size_t n, uint64_t *us);

/* An ISO 8601 / RFC 3339 date and time with a zone, in microseconds since
 * the epoch: "2024-01-01T10:00:00.123456+0000" (Suricata),
 * "2024-01-01T10:00:00.123456Z" (Zeek), "+01:00" and "+01" zones too.
 * A time without a zone is refused: its meaning depends on the writer's
 * clock settings. */
int fs_ls_iso8601_us(const char *s, size_t n, uint64_t *us);

/* A protocol name or number as Zeek ("tcp") or Suricata ("TCP", "IPv6-ICMP",
 * "254") write it: IANA keywords, any case. */
int fs_ls_proto(const char *s, size_t n, uint8_t *proto);

/* One or two hex digits ("1b"): Suricata's TCP flags. */
int fs_ls_hex8(const char *s, size_t n, uint8_t *v);

/* The value of a hex digit, or -1. */
int fs_ls_hexdigit(char c);

/* fs_ls_ifindex_fn asking the kernel (if_nametoindex). `arg` is unused. */
uint32_t fs_ls_ifindex_os(void *arg, const char *name);

/* Writes a message into `err` (when not NULL) and returns -1. */
int fs_ls_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies at most 40 bytes of `s` into `out` (FS_LS_QUOTE_MAX bytes) for a
 * message, non-printable bytes as '?', "..." when cut. Returns `out`. */
#define FS_LS_QUOTE_MAX 48
const char *fs_ls_quote(const char *s, size_t n, char *out);

#endif
