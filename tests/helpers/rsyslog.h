/*
 * rsyslog.h - a real rsyslogd for tests: started on loopback with UDP, TCP
 * (octet counting) and TLS (RFC 5425, certificates generated for the test)
 * inputs, writing every message it receives as one JSON object per line with
 * the fields it parsed, and stopped by its pid.
 */
#ifndef FS_TEST_RSYSLOG_H
#define FS_TEST_RSYSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum { RSYSLOG_UDP = 1, RSYSLOG_TCP = 2, RSYSLOG_TLS = 4 };

struct rsyslog {
    pid_t pid;                 /* 0 when stopped */
    unsigned inputs;           /* RSYSLOG_* bits */
    int udp_port, tcp_port, tls_port;
    char dir[256];             /* its work directory (config, spool, pid, output) */
    char out[320];             /* the file it writes: one JSON object per message */
    char ca[320];              /* PEM of the CA that signed its certificate (TLS) */
    char server_name[64];      /* the name in its certificate ("localhost", also IP 127.0.0.1) */
};

/* Starts rsyslogd with the given inputs on free loopback ports (kept by a
 * later restart), in a fresh directory under /tmp. Waits until every input
 * accepts. Returns 0, or -1 with the reason printed to stderr. */
int rsyslog_start(struct rsyslog *r, unsigned inputs);

/* Makes a second CA, unrelated to the one that signed rsyslogd's
 * certificate, in its directory; its PEM path goes to `path`. For tests
 * that must see verification fail. Returns 0 or -1. */
int rsyslog_other_ca(struct rsyslog *r, char *path, size_t len);

/* SIGTERM by pid and wait for it to exit (it writes out what it received). */
int rsyslog_stop(struct rsyslog *r);

/* Starts it again with the same ports and output file (appended to). */
int rsyslog_restart(struct rsyslog *r);

/* Starts it again with the configuration file `conf` instead of its own:
 * for tests of a documented configuration, which must open r's inputs
 * (waited for as by rsyslog_start) and may use the certificates in r->dir
 * (ca.pem, server.pem, server.key). */
int rsyslog_restart_with(struct rsyslog *r, const char *conf);

/* Stops it if running and removes its directory. */
void rsyslog_cleanup(struct rsyslog *r);

/* The output file's lines, parsed with jansson (json_t *, to json_decref
 * each); waits up to `timeout_ms` for at least `want` lines. Returns the
 * number of lines (possibly fewer than `want`), the array in *lines (free it
 * with rsyslog_lines_free). Fields of each object: "pri", "facility",
 * "severity", "timestamp", "hostname", "app", "procid", "msgid",
 * "sd" (structured data as rsyslog parsed it), "msg", "raw" (the whole
 * message as received), "input" ("udp", "tcp" or "tls"). */
size_t rsyslog_lines(struct rsyslog *r, size_t want, int timeout_ms, void ***lines);
void rsyslog_lines_free(void **lines, size_t n);

#endif
