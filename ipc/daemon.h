/*
 * daemon.h - what every flowsentry process does between opening what needs
 * root (sockets on low ports, a capture device) and settling down: make the
 * directories it will write in while it still may, then give up root for
 * good.
 *
 * Nothing here prints or exits: failures return -1, with errno set or the
 * reason in the caller's `err`.
 */
#ifndef FS_DAEMON_H
#define FS_DAEMON_H

#include <pwd.h>
#include <stddef.h>

/* mkdir -p `dir`, new directories with mode 0750. The ones it creates are
 * handed to `pw`'s user and group when `pw` is not NULL, so that the process
 * can still write there once it runs as that user. Returns 0, or -1 with
 * errno set. */
int fs_daemon_mkdirs(const char *dir, const struct passwd *pw);

/* fs_daemon_mkdirs() of the directory holding `path`. */
int fs_daemon_mkparent(const char *path, const struct passwd *pw);

/* The directory of the socket file of `endpoint` when a PUB socket will bind
 * it (bus.h: "ipc://PATH" or "@ipc://PATH"), made and handed to `pw`. Other
 * endpoints have none: tcp://, a connect ('>'), an abstract socket
 * ("ipc://@name"). Returns 0, or -1 with errno set. */
int fs_daemon_prepare_endpoint(const char *endpoint, const struct passwd *pw);

/* Switches the process to `pw`'s user, group and supplementary groups (its
 * groups in the group database, so that membership in a group such as adm
 * still opens the logs it grants), with no way back to root; logs
 * "running as user NAME". A process that is not root can only "switch" to
 * the user it already is. Returns 0, or -1 with the reason in `err`. */
int fs_daemon_drop_privileges(const struct passwd *pw, char *err, size_t errlen);

#endif
