/*
 * proc.c - start, stop and watch child processes for end-to-end tests.
 *
 * Deadlines everywhere: a test that waits on a stuck child must fail, not
 * hang the suite. Output is drained from both pipes at once with poll() so a
 * chatty child can never block on a full pipe while we wait for the other.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

long long fs_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

pid_t fs_proc_spawn(char *const argv[], int *stdout_fd, int *stderr_fd)
{
    int out[2] = { -1, -1 }, err[2] = { -1, -1 };
    pid_t pid;

    if ((stdout_fd != NULL && pipe2(out, O_CLOEXEC) < 0) ||
        (stderr_fd != NULL && pipe2(err, O_CLOEXEC) < 0))
        goto fail;
    pid = fork();
    if (pid < 0)
        goto fail;
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);

        dup2(devnull, STDIN_FILENO);
        dup2(stdout_fd != NULL ? out[1] : devnull, STDOUT_FILENO);
        dup2(stderr_fd != NULL ? err[1] : devnull, STDERR_FILENO);
        execv(argv[0], argv);
        dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (stdout_fd != NULL) {
        close(out[1]);
        *stdout_fd = out[0];
    }
    if (stderr_fd != NULL) {
        close(err[1]);
        *stderr_fd = err[0];
    }
    return pid;
fail:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (err[i] >= 0)
            close(err[i]);
    }
    return -1;
}

int fs_proc_wait(pid_t pid, int timeout_ms, int *status)
{
    long long deadline = fs_now_ms() + timeout_ms;
    int st;

    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);

        if (r == pid) {
            if (status != NULL)
                *status = st;
            return 0;
        }
        if (r < 0 && errno != EINTR)
            return -1;
        if (fs_now_ms() >= deadline)
            return -1;
        sleep_ms(10);
    }
}

int fs_proc_stop(pid_t pid, int sig, int timeout_ms, int *status)
{
    if (kill(pid, sig) < 0 && errno != ESRCH)
        return -1;
    if (fs_proc_wait(pid, timeout_ms, status) == 0)
        return 0;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* Appends what is readable on `fd` to the buffer; returns 0 at EOF. */
static int drain(int fd, char **buf, size_t *len, size_t *cap)
{
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof(tmp));

    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : 0;
    if (n == 0)
        return 0;
    if (*len + (size_t)n + 1 > *cap) {
        size_t ncap = (*cap ? *cap * 2 : 8192) + (size_t)n;
        char *nb = realloc(*buf, ncap);

        if (nb == NULL)
            return 0;
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, tmp, (size_t)n);
    *len += (size_t)n;
    (*buf)[*len] = '\0';
    return 1;
}

/* Drains both pipes until both hit EOF or the deadline passes. */
static void drain_both(int fds[2], char *bufs[2], size_t lens[2], long long deadline)
{
    size_t caps[2] = { 0, 0 };

    for (int i = 0; i < 2; i++) {
        bufs[i] = calloc(1, 1);
        lens[i] = 0;
        caps[i] = 1;
    }
    while (fds[0] >= 0 || fds[1] >= 0) {
        struct pollfd pfd[2];
        long long left = deadline - fs_now_ms();

        if (left <= 0)
            break;
        for (int i = 0; i < 2; i++) {
            pfd[i].fd = fds[i];
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
        }
        if (poll(pfd, 2, (int)left) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i] >= 0 && pfd[i].revents != 0 &&
                !drain(fds[i], &bufs[i], &lens[i], &caps[i])) {
                close(fds[i]);
                fds[i] = -1;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

char *fs_proc_read_all(int fd, int timeout_ms, size_t *len)
{
    int fds[2] = { fd, -1 };
    char *bufs[2];
    size_t lens[2];

    drain_both(fds, bufs, lens, fs_now_ms() + timeout_ms);
    free(bufs[1]);
    if (len != NULL)
        *len = lens[0];
    return bufs[0];
}

int fs_proc_run(char *const argv[], int timeout_ms, struct fs_proc_output *o)
{
    long long deadline = fs_now_ms() + timeout_ms;
    int fds[2];
    char *bufs[2];
    size_t lens[2];
    pid_t pid;
    long long left;

    memset(o, 0, sizeof(*o));
    pid = fs_proc_spawn(argv, &fds[0], &fds[1]);
    if (pid < 0)
        return -1;
    drain_both(fds, bufs, lens, deadline);
    o->out = bufs[0];
    o->outlen = lens[0];
    o->err = bufs[1];
    o->errlen = lens[1];
    left = deadline - fs_now_ms();
    if (fs_proc_wait(pid, left > 0 ? (int)left : 0, &o->status) == 0)
        return 0;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

void fs_proc_output_free(struct fs_proc_output *o)
{
    free(o->out);
    free(o->err);
    o->out = o->err = NULL;
}

socklen_t fs_loopback_addr(int family, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        s6->sin6_port = htons((uint16_t)port);
        return sizeof(*s6);
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

    s4->sin_family = AF_INET;
    s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s4->sin_port = htons((uint16_t)port);
    return sizeof(*s4);
}

int fs_free_port(int family, int type)
{
    struct sockaddr_storage ss;
    socklen_t sl = fs_loopback_addr(family, 0, &ss);
    int fd, port = 0;

    fd = socket(family, type, 0);
    if (fd < 0)
        return 0;
    if (bind(fd, (struct sockaddr *)&ss, sl) == 0 &&
        getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                        : ((struct sockaddr_in *)&ss)->sin_port);
    close(fd);
    return port;
}

char *fs_tmpdir(char *buf, size_t len)
{
    if (snprintf(buf, len, "/tmp/fstest.XXXXXX") >= (int)len)
        return NULL;
    return mkdtemp(buf);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void fs_rmtree(const char *dir)
{
    if (dir != NULL && dir[0] != '\0')
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
