/*
 * atomicfile.h - replacing a file whole, so that a reader, or what is left
 * after a crash or a power cut, is the old file or the new one and never
 * part of one.
 *
 * The bytes go to a temporary file in the same directory (".NAME.XXXXXX",
 * hidden from anyone listing the directory for real files), which is given
 * `mode` exactly (not through the umask), synced, renamed over the target;
 * then the directory is synced so that the rename itself is durable. On any
 * failure the temporary file is removed, errno says why and `err` holds one
 * line, "PATH: STEP: REASON" (e.g. "/x/y.json: rename: Not a directory"),
 * for the caller to prefix with what the file is (`err` may be NULL when
 * `errlen` is 0).
 *
 *   if (fs_atomic_write(path, buf, len, 0644, err, sizeof(err)) != 0) ...
 *
 * Large outputs stream through a FILE instead (seeking back is allowed):
 *
 *   struct fs_atomic *a = fs_atomic_open(path, 0640, err, sizeof(err));
 *   fwrite(..., fs_atomic_fp(a));
 *   if (fs_atomic_commit(a, err, sizeof(err)) != 0) ...   (or fs_atomic_abort(a))
 */
#ifndef FS_ATOMICFILE_H
#define FS_ATOMICFILE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Returns 0, or -1 with errno and `err`. */
int fs_atomic_write(const char *path, const void *buf, size_t len, mode_t mode, char *err,
                    size_t errlen);

struct fs_atomic;

/* The temporary file, open for writing. NULL with errno and `err`. */
struct fs_atomic *fs_atomic_open(const char *path, mode_t mode, char *err, size_t errlen);
FILE *fs_atomic_fp(struct fs_atomic *a);
/* Flushes, syncs and renames the file into place (a write error met on the
 * way counts). Frees `a` in any case. Returns 0, or -1 with errno and `err`. */
int fs_atomic_commit(struct fs_atomic *a, char *err, size_t errlen);
/* Drops the temporary file; the target stays as it was. Frees `a`. */
void fs_atomic_abort(struct fs_atomic *a);

#endif
