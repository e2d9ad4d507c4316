/*
 * signals.h - the signal flags every flowsentry program checks.
 *
 * SIGINT and SIGTERM ask the program to stop, SIGUSR1 to log its counters,
 * SIGUSR2 (analyzer, reporter) to write a report. The handlers only set a
 * flag; the main loop looks at the flags between waits. Handlers are
 * installed without SA_RESTART, so a signal cuts a wait (poll, sleep) short
 * and the loop sees it at once instead of after its timeout.
 *
 * Programs that must not miss a signal between checking the flags and going
 * to sleep keep the signals blocked with fs_sig_block() and let them in only
 * inside ppoll(), with the mask fs_sig_block() saved.
 */
#ifndef FS_SIGNALS_H
#define FS_SIGNALS_H

#include <signal.h>
#include <stdbool.h>

/* What fs_sig_install() takes over; a signal left out keeps its default. */
#define FS_SIG_STOP 0x1u   /* SIGINT, SIGTERM */
#define FS_SIG_USR1 0x2u
#define FS_SIG_USR2 0x4u
#define FS_SIG_NOPIPE 0x8u /* SIGPIPE ignored: write errors are handled where they happen */

/* Installs the handlers for `which` (FS_SIG_* or'ed). Returns 0, or -1 with
 * errno set. */
int fs_sig_install(unsigned which);

/* Whether a stop was asked for. Once set it stays set. */
bool fs_sig_stopped(void);

/* Asks for a stop from the program itself, as a signal would (a fatal error
 * deep in a callback that the loops must see). */
void fs_sig_stop(void);

/* Whether SIGUSR1 (SIGUSR2) came since the last call; clears it. */
bool fs_sig_take_usr1(void);
bool fs_sig_take_usr2(void);

/* Blocks the signals fs_sig_install() caught (not SIGPIPE) and stores the
 * mask before in *orig, for ppoll() and for restoring with sigprocmask(). */
void fs_sig_block(sigset_t *orig);

#endif
