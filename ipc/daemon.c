/*
 * daemon.c - directories and the privilege drop of flowsentry processes
 * (see daemon.h).
 */
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

int fs_daemon_mkdirs(const char *dir, const struct passwd *pw)
{
    char path[4096];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(path)) {
        errno = len == 0 ? EINVAL : ENAMETOOLONG;
        return -1;
    }
    memcpy(path, dir, len + 1);
    for (char *p = path + 1;; p++) {
        char saved = *p;

        if (saved != '/' && saved != '\0')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) == 0) {
            if (pw != NULL && chown(path, pw->pw_uid, pw->pw_gid) < 0)
                return -1;
        } else if (errno != EEXIST) {
            return -1;
        }
        if (saved == '\0')
            return 0;
        *p = saved;
    }
}

int fs_daemon_mkparent(const char *path, const struct passwd *pw)
{
    char copy[4096];

    if ((size_t)snprintf(copy, sizeof(copy), "%s", path) >= sizeof(copy)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return fs_daemon_mkdirs(dirname(copy), pw);
}

int fs_daemon_prepare_endpoint(const char *endpoint, const struct passwd *pw)
{
    const char *e = endpoint[0] == '@' ? endpoint + 1 : endpoint;

    if (strncmp(e, "ipc://", 6) != 0 || e[6] == '@' || e[6] == '\0')
        return 0;
    return fs_daemon_mkparent(e + 6, pw);
}

int fs_daemon_drop_privileges(const struct passwd *pw, char *err, size_t errlen)
{
    bool root = getuid() == 0 || geteuid() == 0;

    if (!root && pw->pw_uid != geteuid()) {
        snprintf(err, errlen, "user %s: only root can switch users", pw->pw_name);
        return -1;
    }
    if (root) {
        if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
            setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
            setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
            snprintf(err, errlen, "user %s: %s", pw->pw_name, strerror(errno));
            return -1;
        }
        /* Never go on with a way back to root. */
        if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
            snprintf(err, errlen, "user %s: could regain root after dropping it", pw->pw_name);
            return -1;
        }
    }
    fs_log(FS_LOG_INFO, "running as user %s", pw->pw_name);
    return 0;
}
