/*
 * alert.c - the names of alert kinds (alert.h), as every format writes them.
 */
#include "alert.h"

const char *fs_rp_alert_kind_name(enum fs_rp_alert_kind k)
{
    static const char *const names[] = { "anomaly", "folded", "storm" };

    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
}
