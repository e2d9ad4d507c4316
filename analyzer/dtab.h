/*
 * dtab.h - the bounded key/value table behind the behaviour detectors.
 *
 * Detectors keep state per host, per (host, peer) or per (host, peer, port);
 * on a real network the number of such keys has no natural bound, so every
 * table has a maximum set from configuration. Past it the least recently
 * used entry is evicted, counted, and handed to an optional callback first
 * (a detector that keeps derived counts, such as hosts per peer, fixes them
 * up there). Keys and values are fixed-size byte blobs; keys are compared
 * bytewise, so callers zero them before filling them in.
 *
 * Memory grows by doubling as entries arrive, up to the maximum. Value
 * pointers stay valid until the next fs_dtab_put or fs_dtab_del.
 *
 * The blob helpers frame one detector's snapshot inside the analyzer's file:
 * a magic, a version and a length, so a loader can refuse another detector's
 * or an older format's data without parsing it.
 */
#ifndef FS_DTAB_H
#define FS_DTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct fs_dtab;

typedef void (*fs_dtab_evict_fn)(void *arg, const void *key, void *val);

/* NULL on out-of-memory or when a size is 0. */
struct fs_dtab *fs_dtab_new(size_t key_len, size_t val_len, uint32_t max_entries);
void fs_dtab_free(struct fs_dtab *t);
void fs_dtab_on_evict(struct fs_dtab *t, fs_dtab_evict_fn fn, void *arg);

/* The value of `key`, or NULL. Does not change the eviction order. */
void *fs_dtab_get(struct fs_dtab *t, const void *key);
/* The value of `key`, created zero-filled when missing (evicting the least
 * recently used entry when full); marks it most recently used. `created`
 * (may be NULL) says whether it is new. NULL only on out-of-memory. */
void *fs_dtab_put(struct fs_dtab *t, const void *key, bool *created);
/* Removes `key` if present (not counted as an eviction). */
void fs_dtab_del(struct fs_dtab *t, const void *key);
/* Removes every entry (no callback, not counted); keeps the memory. */
void fs_dtab_clear(struct fs_dtab *t);

/* Walks every entry: start with *iter = 0; returns the next value and sets
 * *key, or NULL at the end. The current entry may be deleted during the walk. */
void *fs_dtab_next(struct fs_dtab *t, size_t *iter, const void **key);

uint32_t fs_dtab_count(const struct fs_dtab *t);
uint32_t fs_dtab_max(const struct fs_dtab *t);
uint64_t fs_dtab_evictions(const struct fs_dtab *t);
size_t fs_dtab_bytes(const struct fs_dtab *t);

/*
 * Keys touched per open window. Closing a window should cost what the window
 * held, not what the tables hold: a detector notes a key the first time its
 * entry changes in a window and, at the window's close, visits only those.
 * Two windows are open at once (the current one and the late one); a note
 * for a third window takes over the older list.
 */
struct fs_dtouch;

struct fs_dtouch *fs_dtouch_new(size_t key_len);
void fs_dtouch_free(struct fs_dtouch *t);
/* Notes `key` for window `win_ms`. Returns 0, or -1 when the window is
 * older than both lists held or memory ran out (the key is then not noted). */
int fs_dtouch_add(struct fs_dtouch *t, uint64_t win_ms, const void *key);
/* Calls fn for every key noted for `win_ms`, in the order noted, then
 * forgets them. fn may note keys for the two open windows, not a third. */
void fs_dtouch_take(struct fs_dtouch *t, uint64_t win_ms,
                    void (*fn)(void *arg, const void *key), void *arg);
size_t fs_dtouch_bytes(const struct fs_dtouch *t);

/* Writes magic, version, length and the `len` bytes of `data`. Returns 0 or -1. */
int fs_dtab_blob_write(FILE *fp, uint32_t magic, uint32_t version, const void *data, size_t len);
/* Reads what fs_dtab_blob_write wrote: checks magic, version and that the
 * length is at most `max_len`, then returns a malloc'd copy in *data (the
 * caller frees it) and its length. Returns 0 or -1 with a reason in *why. */
int fs_dtab_blob_read(FILE *fp, uint32_t magic, uint32_t version, size_t max_len, uint8_t **data,
                      size_t *len, const char **why);

#endif
