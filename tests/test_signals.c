/*
 * test_signals.c - the shared signal flags (ipc/signals.h): each signal
 * raised in-process sets its flag, stop stays set, taking clears, a wait is
 * cut short, and the block/ppoll pair lets signals in only while waiting.
 * Criterion runs every test in a process of its own, so flags start clear.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "signals.h"

#define ALL (FS_SIG_STOP | FS_SIG_USR1 | FS_SIG_USR2 | FS_SIG_NOPIPE)

Test(signals, term_and_int_stop_and_stay_stopped)
{
    cr_assert_eq(fs_sig_install(ALL), 0);
    cr_assert(!fs_sig_stopped());
    cr_assert_eq(raise(SIGTERM), 0);
    cr_assert(fs_sig_stopped());
    cr_assert(fs_sig_stopped(), "asking again must not clear the stop");
    cr_assert(!fs_sig_take_usr1());
    cr_assert(!fs_sig_take_usr2());
    cr_assert_eq(raise(SIGINT), 0);
    cr_assert(fs_sig_stopped());
}

Test(signals, int_alone_stops)
{
    cr_assert_eq(fs_sig_install(FS_SIG_STOP), 0);
    cr_assert_eq(raise(SIGINT), 0);
    cr_assert(fs_sig_stopped());
}

Test(signals, usr1_is_taken_once)
{
    cr_assert_eq(fs_sig_install(ALL), 0);
    cr_assert(!fs_sig_take_usr1());
    cr_assert_eq(raise(SIGUSR1), 0);
    cr_assert(!fs_sig_take_usr2(), "SIGUSR1 must not set the SIGUSR2 flag");
    cr_assert(fs_sig_take_usr1());
    cr_assert(!fs_sig_take_usr1(), "taking clears the flag");
    cr_assert(!fs_sig_stopped());
}

Test(signals, usr2_is_taken_once)
{
    cr_assert_eq(fs_sig_install(ALL), 0);
    cr_assert_eq(raise(SIGUSR2), 0);
    cr_assert(!fs_sig_take_usr1(), "SIGUSR2 must not set the SIGUSR1 flag");
    cr_assert(fs_sig_take_usr2());
    cr_assert(!fs_sig_take_usr2());
    cr_assert(!fs_sig_stopped());
}

Test(signals, stop_from_the_program)
{
    cr_assert(!fs_sig_stopped());
    fs_sig_stop();
    cr_assert(fs_sig_stopped());
}

Test(signals, sigpipe_ignored_write_says_epipe)
{
    int p[2];
    char c = 'x';

    cr_assert_eq(fs_sig_install(ALL), 0);
    cr_assert_eq(pipe(p), 0);
    close(p[0]);
    cr_assert_eq(write(p[1], &c, 1), -1);
    cr_assert_eq(errno, EPIPE);
    close(p[1]);
    cr_assert(!fs_sig_stopped());
}

/* A signal left out of fs_sig_install() keeps its default action. */
Test(signals, usr2_left_out_keeps_its_default, .signal = SIGUSR2)
{
    cr_assert_eq(fs_sig_install(FS_SIG_STOP | FS_SIG_USR1), 0);
    raise(SIGUSR2);
    cr_assert_fail("SIGUSR2 should have ended the process");
}

/* No SA_RESTART: a blocking read is cut short, as the loops' waits must be. */
Test(signals, a_signal_interrupts_a_blocking_read, .timeout = 10)
{
    int p[2];
    char c;
    pid_t child;

    cr_assert_eq(fs_sig_install(ALL), 0);
    cr_assert_eq(pipe(p), 0);
    child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        struct timespec ts = { 0, 100 * 1000000L };

        nanosleep(&ts, NULL);
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    cr_assert_eq(read(p[0], &c, 1), -1, "the read must not be restarted");
    cr_assert_eq(errno, EINTR);
    cr_assert(fs_sig_take_usr1());
    waitpid(child, NULL, 0);
    close(p[0]);
    close(p[1]);
}

/* What the collector and the sensor do: the caught signals stay pending
 * while blocked and come in during ppoll() with the saved mask. */
Test(signals, blocked_until_ppoll, .timeout = 10)
{
    sigset_t orig, now;
    struct timespec ts = { 5, 0 };

    cr_assert_eq(fs_sig_install(FS_SIG_STOP | FS_SIG_USR1 | FS_SIG_NOPIPE), 0);
    fs_sig_block(&orig);
    cr_assert_eq(sigprocmask(SIG_BLOCK, NULL, &now), 0);
    cr_assert(sigismember(&now, SIGINT));
    cr_assert(sigismember(&now, SIGTERM));
    cr_assert(sigismember(&now, SIGUSR1));
    cr_assert(!sigismember(&now, SIGUSR2), "not caught, so not blocked");
    cr_assert(!sigismember(&now, SIGPIPE), "ignored, not blocked");
    cr_assert(!sigismember(&orig, SIGUSR1), "orig is the mask from before");

    cr_assert_eq(raise(SIGUSR1), 0);
    cr_assert_eq(raise(SIGTERM), 0);
    cr_assert(!fs_sig_take_usr1(), "blocked: still pending");
    cr_assert(!fs_sig_stopped());
    cr_assert_eq(ppoll(NULL, 0, &ts, &orig), -1);
    cr_assert_eq(errno, EINTR);
    cr_assert(fs_sig_take_usr1());
    cr_assert(fs_sig_stopped());
    cr_assert_eq(sigprocmask(SIG_SETMASK, &orig, NULL), 0);
}
