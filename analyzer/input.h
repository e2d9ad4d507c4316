/*
 * input.h - every way flows reach the analyzer, behind one reader.
 *
 * History files (nfdump CSV, flowsentry JSON lines, pcap/pcapng export
 * captures) and the live flows bus all end in the same sink, in batches of
 * struct fs_flow, so `--read FILES` and a live run go through the very same
 * analysis code:
 *
 *   struct fs_in *in = fs_in_new(&opts, sink, arg);
 *   for each file: fs_in_read_file(in, path, FS_IN_AUTO, &st, err, sizeof(err));
 *   or live:       fs_in_bus_open(in, endpoints, n, err, sizeof(err));
 *                  while (running) fs_in_bus_poll(in, 1000, &st);
 *   fs_in_free(in);
 *
 * Bad input never stops a file: each malformed line is counted and named
 * (file and line number) in a log line, the first few per file, then one
 * summary at the end of the file. A file that ends in the middle of a record
 * delivers every complete record before the damage and reports it.
 * One reader keeps one decoder, so a capture split over several files finds
 * in file 2 the templates that file 1 brought.
 */
#ifndef FS_INPUT_H
#define FS_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "flow.h"
#include "msg.h"

enum fs_in_format {
    FS_IN_AUTO = 0, /* by content: pcap magic, '{' (JSON), "ts," or a date (CSV) */
    FS_IN_JSON,     /* one fs_flow_json() object per line */
    FS_IN_NFCSV,    /* `nfdump -o csv` (nfdump 1.7), with or without header (-q) */
    FS_IN_PCAP      /* pcap/pcapng capture of NetFlow/IPFIX export datagrams */
};

/* "auto", "json", "nfcsv", "pcap"; fs_in_format_parse() also takes "csv".
 * Returns 0, or -1 for an unknown name. */
const char *fs_in_format_name(enum fs_in_format f);
int fs_in_format_parse(const char *name, enum fs_in_format *f);

/* Counters of one input; fs_in_read_file() and fs_in_bus_poll() add to them,
 * so one struct may count one file or a whole set. */
struct fs_in_stats {
    uint64_t files;         /* files opened */
    uint64_t bytes;         /* bytes read from files */
    uint64_t lines;         /* text lines read (CSV, JSON), blank ones included */
    uint64_t records;       /* CSV rows and JSON objects tried, capture datagrams,
                             * bus messages */
    uint64_t flows;         /* flows handed to the sink */
    uint64_t skipped;       /* blank lines, CSV headers, nfdump summary lines */
    uint64_t malformed;     /* records refused (lines, datagrams, bus messages) */
    uint64_t too_long;      /* lines longer than max_line (also in malformed) */
    uint64_t truncated;     /* files that end in the middle of a record */
    uint64_t failed;        /* files that could not be read at all */
    /* Live bus (sums over senders; per sender: fs_in_senders()). */
    uint64_t lost;          /* messages missing from sequence numbers */
    uint64_t reordered;
    uint64_t duplicates;
    uint64_t restarts;      /* senders that started again from 0 */
};

struct fs_in_opts {
    const char *csv_tz;     /* zone of nfdump CSV times: NULL or "local" (the
                             * TZ nfdump itself used, when run on this host),
                             * "UTC", or a fixed offset "+02:00" / "-0530" */
    size_t batch;           /* flows per sink call (0: 1024) */
    size_t max_line;        /* longest line accepted, in bytes (0: 64 KiB) */
    unsigned log_burst;     /* malformed lines named per file before only
                             * counting (0: 10) */
    fs_log_fn log;          /* message lines; NULL: fs_log_line (warning) */
    void *log_arg;
    struct fs_decoder_config decoder; /* captures; its log defaults to `log` */
    size_t max_senders;     /* bus senders tracked one by one (0: 256) */
};

struct fs_in;

/* `o` may be NULL (all defaults); it is copied. NULL when out of memory or
 * when csv_tz is not understood. */
struct fs_in *fs_in_new(const struct fs_in_opts *o, fs_flow_sink sink, void *arg);
void fs_in_free(struct fs_in *in);

/*
 * Reads a whole file ("-": standard input, text formats only), delivering
 * every flow to the sink. Counters go to `st` (may be NULL) and the reader's
 * totals. Returns 0 when the file was read to its end (malformed records are
 * counted and logged, not fatal), or -1 with the reason in `err`: cannot
 * open or read, unknown format, not a capture, or truncated (every complete
 * record before the damage was delivered).
 */
int fs_in_read_file(struct fs_in *in, const char *path, enum fs_in_format fmt,
                    struct fs_in_stats *st, char *err, size_t errlen);

/* Reads `len` bytes of text (JSON or CSV; AUTO detects), as a file named
 * `name` in messages: the same code path as fs_in_read_file(). */
int fs_in_read_buffer(struct fs_in *in, const char *name, const void *buf, size_t len,
                      enum fs_in_format fmt, struct fs_in_stats *st, char *err,
                      size_t errlen);

/* What a file holds, judged from its first bytes (at least 4, as many as
 * available up to the first line end). FS_IN_AUTO when none fits. */
enum fs_in_format fs_in_detect(const void *head, size_t len);

/*
 * Live input: subscribes to "flows" messages on every endpoint (same
 * '@'/'>' rules as fs_bus_sub). Returns 0, or -1 with the reason in `err`.
 */
int fs_in_bus_open(struct fs_in *in, const char *const *endpoints, size_t n,
                   char *err, size_t errlen);

/* Waits up to `timeout_ms` (-1: forever) for one bus message, decodes it,
 * checks its sequence number and delivers its flows. Returns 1 when a
 * message was handled (malformed ones are counted and logged), 0 on timeout,
 * -1 on a bus error or signal (errno EINTR). */
int fs_in_bus_poll(struct fs_in *in, int timeout_ms, struct fs_in_stats *st);

/* Per-sender counters of the live input. Senders past max_senders are
 * counted in the totals only. */
struct fs_in_sender {
    char name[FS_MSG_SENDER_MAX];
    uint64_t messages, flows;
    uint64_t lost, reordered, duplicates, restarts;
};
size_t fs_in_senders(const struct fs_in *in, const struct fs_in_sender **out);

/* Everything counted since fs_in_new(). */
const struct fs_in_stats *fs_in_totals(const struct fs_in *in);

/* The capture decoder (counters per exporter); NULL before the first capture. */
const struct fs_decoder *fs_in_decoder(const struct fs_in *in);

/*
 * nfdump CSV rows (nfcsv.c), for input.c and tests. Columns are found by the
 * header's names, so order changes and unknown columns are fine; without a
 * header nfdump 1.7's column order is assumed.
 */
struct fs_nfcsv;

/* NULL when out of memory or `tz` is not understood (see csv_tz). */
struct fs_nfcsv *fs_nfcsv_new(const char *tz);
void fs_nfcsv_free(struct fs_nfcsv *c);

/* Starts a new file: the next line may be a header again. */
void fs_nfcsv_reset(struct fs_nfcsv *c);

/* One line without its newline. Returns 1 with a flow in `f`, 0 for a line
 * that holds none (header, summary, "No matching flows", blank), or -1 with
 * the reason in `err`. */
int fs_nfcsv_line(struct fs_nfcsv *c, const char *line, size_t len, struct fs_flow *f,
                  char *err, size_t errlen);

#endif
