/*
 * state.h - the reporter's state file: where it is in the analyzer's journal
 * (journal id, last sequence processed) and the fold and report state that
 * processing up to there left, saved together so that they always agree.
 *
 * Written after each batch of processed events, atomically (temporary file,
 * fsync, rename, fsync of the directory): a reporter killed at any moment
 * finds the state of the last whole batch and processes at most that one
 * batch again. The file carries a checksum; a damaged one is refused, never
 * half-used.
 *
 * Layout (integers little-endian): "FSRPSTAT", u32 version (1), u64 journal
 * id, u64 last sequence, u32 length + fold state, u32 length + report state,
 * u64 FNV-1a 64 of everything before it.
 *
 * Nothing here prints or exits.
 */
#ifndef FS_RP_STATE_H
#define FS_RP_STATE_H

#include <stddef.h>
#include <stdint.h>

struct fs_rp_state {
    uint64_t journal_id;    /* 0: no journal seen yet */
    uint64_t jseq;          /* last journal sequence processed */
    void *fold;             /* fs_rp_fold_save() bytes (NULL, 0: none) */
    size_t fold_len;
    void *reports;          /* fs_rp_reports_save() bytes (NULL, 0: none) */
    size_t reports_len;
};

/* Largest state file read back (the blobs are bounded by configuration). */
#define FS_RP_STATE_MAX (256u << 20)

/* Reads `path`. Returns 1 with `st` filled (free with fs_rp_state_free),
 * 0 when there is no file (`st` zeroed), -1 with `err` when it cannot be
 * read or is damaged ("state file X: checksum mismatch", ...). */
int fs_rp_state_load(const char *path, struct fs_rp_state *st, char *err, size_t errlen);

/* Writes `st` to `path` atomically. Returns 0, or -1 with `err` (the old
 * file is then untouched). */
int fs_rp_state_save(const char *path, const struct fs_rp_state *st, char *err, size_t errlen);

/* Frees the blobs and zeroes `st`. */
void fs_rp_state_free(struct fs_rp_state *st);

#endif
