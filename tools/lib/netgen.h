/*
 * netgen.h - a labelled traffic generator: the flows of a whole office
 * network over days, with injected attacks and benign look-alikes, and the
 * labels that say where each one is.
 *
 * It exists to measure the analyzer: a clean learning period (by default the
 * first week) teaches the baselines, then every behaviour the detectors look
 * for is injected on its own host and time, next to benign traffic that
 * resembles it (nightly backups, an authorised scanner, a weekly all-hands
 * stream, periodic software). The labels list both, so a scorer can count
 * what was found, what was missed and what was raised for nothing.
 *
 * The network (docs/detection.md has the whole picture): servers in
 * 10.10.0.0/24, workstations from 10.10.1.0/24 on, 100 per /24, and a few
 * hundred external services; one IPFIX exporter (the core router,
 * 10.10.255.1) sees every flow, each direction of a conversation as its own
 * record, long ones cut by a 60 s active timeout. Time is UTC; office hours,
 * lunch, quiet nights and weekends follow the clock. Flow times are whole
 * seconds, so that the nfdump CSV form (second resolution) carries exactly
 * the same instants as the JSON form.
 *
 * Deterministic: the same configuration gives the same flows and labels.
 * Each hour and each scenario draws from its own random stream, so changing
 * one scenario leaves the others' traffic as it was.
 *
 *   g = fs_netgen_new(&cfg);
 *   fs_netgen_labels(g, &labels);         (known up front)
 *   while ((n = fs_netgen_next(g, &flows)) > 0) ...;
 *   fs_netgen_free(g);
 */
#ifndef FS_NETGEN_H
#define FS_NETGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anomaly.h"
#include "flow.h"

#define FS_NETGEN_HOME_NET "10.10.0.0/16"
/* 2024-03-04 00:00 UTC, a Monday. */
#define FS_NETGEN_DEFAULT_START_MS 1709510400000ull
#define FS_NETGEN_MIN_HOSTS 60
#define FS_NETGEN_MAX_HOSTS 20000

struct fs_netgen_config {
    uint64_t seed;
    unsigned days;            /* at least learn_days + 3 (0: 10) */
    unsigned learn_days;      /* clean learning period (0: 7) */
    unsigned hosts;           /* internal hosts, servers included (0: 300) */
    double flows_per_hour;    /* flows of a workstation in a busy hour (0: 40) */
    double scale;             /* multiplies all background traffic (0: 1) */
    uint64_t start_ms;        /* midnight UTC of a Monday (0: the default above) */
    bool clean;               /* no attacks: benign traffic and traps only */
};

enum fs_netgen_kind { FS_NETGEN_ATTACK = 0, FS_NETGEN_BENIGN };

/*
 * One label: a span of time in which traffic of class `cls` involves `host`
 * (one address, or every address of a prefix when host_bits < 32) and,
 * when peer.af is not 0, `peer`.
 *
 * Attacks: `host` is the internal machine that acts (beacon, scanner,
 * sweeper, uploader, brute forcer) or, when the actor is outside, the
 * internal target; `peer` is the other end when there is a single one.
 * Optional attack labels mark side effects that a detector may rightly
 * report but need not: the resolver that relays a DNS tunnel, the internal
 * target of an internal attack seen from its side. Benign labels mark
 * traffic that must not be reported as `cls`.
 */
struct fs_netgen_label {
    char name[32];            /* scenario: "beacon-slow", "backup", ... */
    enum fs_anomaly_class cls;
    enum fs_netgen_kind kind;
    bool optional;
    fs_ip host;
    uint8_t host_bits;
    fs_ip peer;
    uint64_t start_ms, end_ms;
};

/* Addresses a test or an analyzer configuration needs to know. */
struct fs_netgen_net {
    fs_ip exporter;
    fs_ip resolvers[2];       /* internal DNS resolvers (approved) */
    fs_ip upstream_dns[2];    /* where they forward (approved) */
    fs_ip dc, file, web, app[2], db, bastion, mail, backup, scanner, monitor;
    unsigned workstations;
};

struct fs_netgen;

/* Returns NULL when the configuration is out of range (too few or too many
 * hosts, too few days after learning, a start that is not a Monday
 * midnight) or out of memory. */
struct fs_netgen *fs_netgen_new(const struct fs_netgen_config *cfg);
void fs_netgen_free(struct fs_netgen *g);

/*
 * The next batch of flows, in end-time order across batches: every flow
 * that ends before the next hour boundary. `*flows` stays valid until the
 * next call. Returns the number of flows, 0 at the end, -1 when out of
 * memory.
 */
long fs_netgen_next(struct fs_netgen *g, const struct fs_flow **flows);

/* Every label, sorted by start time; valid until fs_netgen_free(). */
size_t fs_netgen_labels(const struct fs_netgen *g, const struct fs_netgen_label **labels);

const struct fs_netgen_net *fs_netgen_net(const struct fs_netgen *g);

/* The configuration with defaults filled in. */
const struct fs_netgen_config *fs_netgen_config(const struct fs_netgen *g);

/* One label as a single-line JSON object (no newline): class, host ("a.b.c.d"
 * or "a.b.c.d/n"), peer (when set), start_ms, end_ms, kind, name, and
 * optional (only when true). Returns the length, or -1 if `cap` is too small. */
#define FS_NETGEN_LABEL_JSON_MAX 320
int fs_netgen_label_json(const struct fs_netgen_label *l, char *out, size_t cap);

/* Does `ip` fall in the label's host (address or prefix)? */
bool fs_netgen_label_host_match(const struct fs_netgen_label *l, const fs_ip *ip);

#endif
