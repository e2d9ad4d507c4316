/*
 * signals.c - the signal flags every flowsentry program checks (signals.h).
 */
#include "signals.h"

#include <string.h>

static volatile sig_atomic_t got_stop, got_usr1, got_usr2;
static sigset_t caught; /* what fs_sig_block() blocks */

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        got_usr1 = 1;
    else if (sig == SIGUSR2)
        got_usr2 = 1;
    else
        got_stop = 1;
}

static int catch(int sig, void (*handler)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0)
        return -1;
    if (handler == on_signal)
        sigaddset(&caught, sig);
    return 0;
}

int fs_sig_install(unsigned which)
{
    int rc = 0;

    sigemptyset(&caught);
    if (which & FS_SIG_STOP)
        rc |= catch(SIGINT, on_signal) | catch(SIGTERM, on_signal);
    if (which & FS_SIG_USR1)
        rc |= catch(SIGUSR1, on_signal);
    if (which & FS_SIG_USR2)
        rc |= catch(SIGUSR2, on_signal);
    if (which & FS_SIG_NOPIPE)
        rc |= catch(SIGPIPE, SIG_IGN);
    return rc;
}

bool fs_sig_stopped(void)
{
    return got_stop != 0;
}

void fs_sig_stop(void)
{
    got_stop = 1;
}

bool fs_sig_take_usr1(void)
{
    if (!got_usr1)
        return false;
    got_usr1 = 0;
    return true;
}

bool fs_sig_take_usr2(void)
{
    if (!got_usr2)
        return false;
    got_usr2 = 0;
    return true;
}

void fs_sig_block(sigset_t *orig)
{
    sigprocmask(SIG_BLOCK, &caught, orig);
}
