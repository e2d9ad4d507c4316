/*
 * clock.h - the monotonic clock the tools time and pace themselves by.
 */
#ifndef FS_TOOLS_CLOCK_H
#define FS_TOOLS_CLOCK_H

#include <time.h>

/* Seconds on CLOCK_MONOTONIC: for differences, never for event time. */
static inline double fs_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
