/*
 * detectors.c - the list of behaviour detectors the analyzer runs, in the
 * order their hooks are called. A detector is its own det_*.c file defining
 * one `const struct fs_detector`; adding one is adding its line here.
 */
#include <stddef.h>

#include "detector.h"

extern const struct fs_detector fs_det_volume;
extern const struct fs_detector fs_det_beacon;
extern const struct fs_detector fs_det_exfil;
extern const struct fs_detector fs_det_dns;
extern const struct fs_detector fs_det_brute;
extern const struct fs_detector fs_det_port_scan;
extern const struct fs_detector fs_det_host_sweep;
extern const struct fs_detector fs_det_lateral;
extern const struct fs_detector fs_det_newport;
extern const struct fs_detector fs_det_ddos;
extern const struct fs_detector fs_det_proto;

const struct fs_detector *const fs_detectors[] = {
    &fs_det_volume,
    &fs_det_beacon,
    &fs_det_exfil,
    &fs_det_dns,
    &fs_det_brute,
    &fs_det_port_scan,
    &fs_det_host_sweep,
    &fs_det_lateral,
    &fs_det_newport,
    &fs_det_ddos,
    &fs_det_proto,
    NULL,
};
