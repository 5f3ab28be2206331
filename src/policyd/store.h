/* store: the daemon's persistent state in LMDB (rate-limit counters,
 * greylisting triplets and known-good clients), so that it survives a
 * restart. One environment in state_dir, one database; every record
 * starts with its expiry time and store_expire() sweeps old ones.
 *
 * Writes use MDB_NOSYNC and store_sync() is called once a second by the
 * daemon: a crash of the daemon loses nothing (the pages are in the
 * kernel), a crash of the machine loses at most the last second. */
#ifndef POLICYD_STORE_H
#define POLICYD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct store store;

int store_open(store **out, const char *dir, size_t map_mb, buf *err);
void store_close(store *s);
void store_sync(store *s);

/* A fixed-window counter: the window opens at the first event and lasts
 * `window` seconds. get returns the count and the window's start (both 0
 * when none is open). */
int store_counter_get(store *s, const char *key, int64_t now, int64_t window,
                      uint64_t *count, int64_t *start);
int store_counter_add(store *s, const char *key, int64_t now, int64_t window, uint64_t n);

/* Raw records: value of len bytes, kept until `expires`. get returns 1
 * when found and not expired, 0 when absent, -1 on error. */
int store_get(store *s, const char *key, int64_t now, void *value, size_t len);
int store_put(store *s, const char *key, int64_t expires, const void *value, size_t len);
int store_del(store *s, const char *key);

/* Deletes up to `max` expired records; returns how many. */
long store_expire(store *s, int64_t now, long max);

const char *store_error(store *s);

#endif
