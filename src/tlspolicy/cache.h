/* cache: the answers given lately, by key, each for a few seconds (ttl),
 * at most max_entries of them: when full, the oldest entry goes. Not
 * thread-safe: the event loop alone uses it (server.c). Memory is bounded
 * by max_entries times the longest key and answer (netstring bounds). */
#ifndef TLSPOLICY_CACHE_H
#define TLSPOLICY_CACHE_H

#include <stddef.h>
#include <time.h>

typedef struct cache cache;

cache *cache_new(size_t max_entries, time_t ttl);
void cache_free(cache *c);
/* The answer for key if it is younger than ttl at now, else NULL (valid
 * until the next cache_put). */
const char *cache_get(cache *c, const char *key, time_t now, int *kind);
/* Keeps answer (and the caller's kind, for the log) for key from now on. */
void cache_put(cache *c, const char *key, const char *answer, int kind, time_t now);
size_t cache_size(const cache *c);

#endif
