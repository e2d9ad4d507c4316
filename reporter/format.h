/*
 * format.h - alerts as bytes for a SIEM: RFC 5424 and RFC 3164 syslog, CEF,
 * and one JSON object in the style of Suricata's EVE.
 *
 * A message is a syslog header (or none) followed by a body:
 *
 *   header  RFC5424  "<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] "
 *           RFC3164  "<PRI>Mmm dd hh:mm:ss HOST APP[PROCID]: "
 *           NONE     nothing (files, JSON-over-TCP pipelines)
 *   body    TEXT     a readable line; with RFC5424 the anomaly also goes in
 *                    the structured data element "flowsentry@32473"
 *                    (32473 is the documentation enterprise number of
 *                    RFC 5612, a placeholder: docs/alert-formats.md)
 *           CEF      "CEF:0|flowsentry|flowsentry|VERSION|CLASS|NAME|SEV|ext"
 *           EVE      {"timestamp":..., "event_type":"anomaly", ...}
 *
 * Every value from an anomaly is escaped for where it lands, so that no
 * content can end the message, start another, forge a header field, add an
 * SD element or CEF extension key, or break the JSON: SD-PARAM values escape
 * '"', '\' and ']'; CEF header fields '|' and '\', extension values '=' and
 * '\' and line breaks; JSON strings per RFC 8259 with invalid UTF-8 replaced
 * by U+FFFD; control characters never reach the output raw. Configured names
 * (host name, app name) are reduced to what their header field allows.
 *
 * No framing here: octet counting (RFC 6587) and datagram boundaries are the
 * transport's (output.h). Pure functions, no I/O.
 */
#ifndef FS_RP_FORMAT_H
#define FS_RP_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"

enum fs_rp_header { FS_RP_H_RFC5424 = 0, FS_RP_H_RFC3164, FS_RP_H_NONE };
enum fs_rp_body { FS_RP_B_TEXT = 0, FS_RP_B_CEF, FS_RP_B_EVE };

struct fs_rp_fmt {
    enum fs_rp_header header;
    enum fs_rp_body body;
    int facility;             /* 0..23 (syslog facility code; 16 = local0) */
    const char *hostname;     /* HOSTNAME field; NULL: gethostname() by the caller */
    const char *app_name;     /* APP-NAME / TAG; "flowsentry" by default */
    unsigned procid;          /* PROCID (the reporter's pid) */
};

/* Parsers for configuration values; each returns 0, or -1 for an unknown name.
 * header: "rfc5424", "rfc3164", "none"; body: "text", "cef", "eve" (also "json");
 * facility: "kern".."local7" or a number 0..23. */
int fs_rp_header_parse(const char *s, enum fs_rp_header *h);
int fs_rp_body_parse(const char *s, enum fs_rp_body *b);
int fs_rp_facility_parse(const char *s, int *facility);

/* Syslog severity for an anomaly severity: low 5 (notice), medium 4
 * (warning), high 3 (err), critical 2 (crit). */
int fs_rp_syslog_severity(enum fs_severity s);

/* Largest message fs_rp_format() writes. */
#define FS_RP_MSG_MAX 8192

/* Writes the message for `al` into `out` (no trailing newline, not NUL
 * terminated). `now_ms` is the TIMESTAMP of the syslog header (the time of
 * sending; the anomaly's own times are in the body). Returns the length, or
 * -1 if `cap` is too small. */
int fs_rp_format(const struct fs_rp_fmt *f, const struct fs_rp_alert *al, uint64_t now_ms,
                 char *out, size_t cap);

#endif
