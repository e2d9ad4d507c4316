/*
 * nfcsv_write.h - flows written as Debian's nfdump 1.7 prints them with
 * `nfdump -o csv`: the same header, the same 48 columns, the same number and
 * time formats and the closing summary, so that anything that reads real
 * nfdump exports reads these too.
 *
 * Layout learnt from nfdump 1.7.1 itself (nfcapd fed IPFIX, then
 * `nfdump -r FILE -o csv`; tests/test_netgen.c repeats the comparison):
 *
 *   ts,te     first/last seen, "YYYY-MM-DD HH:MM:SS", milliseconds dropped.
 *             nfdump prints local time; these are UTC, as nfdump prints
 *             them with TZ=UTC.
 *   td        duration in seconds with three decimals (milliseconds kept)
 *   sp,dp     for ICMP and ICMPv6 sp is 0 and dp is type << 8 | code, taken
 *             from the byte-swapped source port when that is not 0
 *   pr        nfdump's protocol names ("TCP", "ICMP6", "0", "138  ", ...)
 *   flg       "CEUAPRSF", a '.' for each flag not set
 *   fwd,dtos,opkt,obyt,odmc,osmc  0: nfdump 1.7 fills them from elements
 *             a flowsentry flow record does not carry (or, for fwd, never)
 *   nhb       for an IPv6 BGP next hop, nfdump prints the IPv6 next hop
 *             ("::" when there is none) instead
 *   mpls1..10 "label-exp-bos" of each label stack entry
 *   cl,sl,al  latencies, "%9.3f": always 0 here
 *   ra,eng,exid  exporter address, v5 engine type/id ("0/0" otherwise),
 *             nfdump's exporter id
 *   tr        time received, with milliseconds
 *
 * then the lines "Summary", "flows,bytes,packets,avg_bps,avg_pps,avg_bpp"
 * and the totals, rates over the span from the first start to the last end.
 */
#ifndef FS_NFCSV_WRITE_H
#define FS_NFCSV_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* The header line, without its newline. */
extern const char fs_nfcsv_write_header[];

/* Enough room for any row. */
#define FS_NFCSV_WRITE_ROW_MAX 1024

/* One flow as a row, without its newline. `exporter_id` goes in the exid
 * column, `received_ms` in tr. Returns the length, or -1 if `cap` is too
 * small. */
int fs_nfcsv_write_row(const struct fs_flow *f, uint32_t exporter_id, uint64_t received_ms,
                  char *out, size_t cap);

/* Totals for the closing summary. Start zeroed. */
struct fs_nfcsv_write_totals {
    uint64_t flows, bytes, packets;
    uint64_t first_ms, last_ms; /* earliest start, latest end */
};

void fs_nfcsv_write_count(struct fs_nfcsv_write_totals *s, const struct fs_flow *f);

/* The three summary lines, each with its newline. Returns the length, or -1
 * if `cap` is too small. */
#define FS_NFCSV_WRITE_SUMMARY_MAX 160
int fs_nfcsv_write_summary(const struct fs_nfcsv_write_totals *s, char *out, size_t cap);

#endif
