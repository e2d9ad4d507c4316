/*
 * proc.h - test helpers for tests that start real flowsentry processes.
 *
 * Start a binary, stop it by pid with a deadline, run one to completion and
 * collect what it printed, find a free port, make and remove a temporary
 * directory. Nothing here kills by name: every process is addressed by the
 * pid this helper got from fork().
 */
#ifndef FS_TEST_PROC_H
#define FS_TEST_PROC_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Output of a finished process, NUL-terminated; free with fs_proc_output_free. */
struct fs_proc_output {
    int status;    /* as from waitpid(): use WIFEXITED/WEXITSTATUS */
    char *out;     /* everything written to stdout */
    size_t outlen;
    char *err;     /* everything written to stderr */
    size_t errlen;
};

/* Starts argv[0] (a path) with argv. When `stdout_fd`/`stderr_fd` are not
 * NULL they receive the read end of a pipe connected to the child's
 * stdout/stderr; otherwise that stream goes to /dev/null. Returns the pid,
 * or -1. */
pid_t fs_proc_spawn(char *const argv[], int *stdout_fd, int *stderr_fd);

/* Waits up to `timeout_ms` for `pid` to exit. Returns 0 with `*status` set,
 * or -1 when it is still running at the deadline. */
int fs_proc_wait(pid_t pid, int timeout_ms, int *status);

/* Sends `sig` to `pid` and waits up to `timeout_ms` for it to exit. When it
 * does not, kills it with SIGKILL, reaps it and returns -1; else returns 0
 * with `*status` set. */
int fs_proc_stop(pid_t pid, int sig, int timeout_ms, int *status);

/* Runs argv to completion (SIGKILL after `timeout_ms`) and collects its
 * output. Returns 0, or -1 when it could not start or timed out. */
int fs_proc_run(char *const argv[], int timeout_ms, struct fs_proc_output *o);
void fs_proc_output_free(struct fs_proc_output *o);

/* Reads everything from `fd` until EOF or `timeout_ms`, appending to a
 * growing NUL-terminated buffer. Returns the buffer (caller frees) or NULL. */
char *fs_proc_read_all(int fd, int timeout_ms, size_t *len);

/* The loopback address of `family` (AF_INET, AF_INET6) with `port`, in `ss`.
 * Returns its length. */
socklen_t fs_loopback_addr(int family, int port, struct sockaddr_storage *ss);

/* A port on the loopback address of `family` (AF_INET, AF_INET6) that was
 * free for `type` (SOCK_DGRAM, SOCK_STREAM) a moment ago. Returns 0 on
 * failure. */
int fs_free_port(int family, int type);

/* Creates a fresh directory under /tmp into `buf` (at least 64 bytes).
 * Returns buf, or NULL. */
char *fs_tmpdir(char *buf, size_t len);

/* Removes a directory made by fs_tmpdir() and everything in it. */
void fs_rmtree(const char *dir);

/* Milliseconds on the monotonic clock. */
long long fs_now_ms(void);

#endif
