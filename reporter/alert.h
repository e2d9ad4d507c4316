/*
 * alert.h - what the reporter delivers: one anomaly, or several of the same
 * host and class folded into one (fold.h), with the id a receiver uses to
 * recognise a duplicate.
 */
#ifndef FS_RP_ALERT_H
#define FS_RP_ALERT_H

#include <stdint.h>

#include "anomaly.h"

enum fs_rp_alert_kind {
    FS_RP_SINGLE = 0,  /* one anomaly, as the analyzer found it */
    FS_RP_FOLDED,      /* more of the same (host, class) inside the fold window */
    FS_RP_STORM        /* the global rate limit held back `count` alerts */
};

struct fs_rp_alert {
    enum fs_rp_alert_kind kind;
    uint64_t id;            /* stable: the same alert always gets the same id, on any
                               replay; SINGLE: the anomaly's id */
    struct fs_anomaly a;    /* SINGLE, FOLDED: the anomaly (FOLDED: the most severe one
                               folded); STORM: only ts_ms/end_ms are meaningful */
    uint32_t count;         /* anomalies this alert stands for (SINGLE: 1) */
    uint64_t first_ms;      /* earliest and latest ts_ms among them */
    uint64_t last_ms;
};

/* "anomaly", "folded", "storm": the kind as formats write it. */
const char *fs_rp_alert_kind_name(enum fs_rp_alert_kind k);

#endif
