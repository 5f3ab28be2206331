/* cache: see cache.h. A hash table of chains, and a ring of the entries
 * in the order they were put, for evicting the oldest. */
#include "cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

struct entry {
    char *key;
    char *answer;
    int kind;
    time_t at;
    struct entry *next;         /* hash chain */
    struct entry *older, *newer;/* age list */
};

struct cache {
    struct entry **buckets;
    size_t nbuckets, n, max;
    time_t ttl;
    struct entry *oldest, *newest;
};

static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;       /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

cache *cache_new(size_t max_entries, time_t ttl)
{
    cache *c = xcalloc(1, sizeof(*c));
    c->max = max_entries ? max_entries : 1;
    c->ttl = ttl;
    c->nbuckets = 64;
    while (c->nbuckets < c->max)
        c->nbuckets *= 2;
    c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
    return c;
}

static void entry_free(struct entry *e)
{
    free(e->key);
    free(e->answer);
    free(e);
}

void cache_free(cache *c)
{
    if (c == NULL)
        return;
    for (struct entry *e = c->oldest, *n; e; e = n) {
        n = e->newer;
        entry_free(e);
    }
    free(c->buckets);
    free(c);
}

static struct entry **find(cache *c, const char *key)
{
    struct entry **p = &c->buckets[hash(key) & (c->nbuckets - 1)];
    while (*p && strcmp((*p)->key, key) != 0)
        p = &(*p)->next;
    return p;
}

static void unlink_entry(cache *c, struct entry **slot)
{
    struct entry *e = *slot;
    *slot = e->next;
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    c->n--;
    entry_free(e);
}

const char *cache_get(cache *c, const char *key, time_t now, int *kind)
{
    struct entry **slot = find(c, key);
    if (*slot == NULL)
        return NULL;
    if (now - (*slot)->at >= c->ttl || now < (*slot)->at) {
        unlink_entry(c, slot);
        return NULL;
    }
    *kind = (*slot)->kind;
    return (*slot)->answer;
}

void cache_put(cache *c, const char *key, const char *answer, int kind, time_t now)
{
    struct entry **slot = find(c, key);
    if (*slot)
        unlink_entry(c, slot);
    while (c->n >= c->max)
        unlink_entry(c, find(c, c->oldest->key));
    struct entry *e = xcalloc(1, sizeof(*e));
    e->key = xstrdup(key);
    e->answer = xstrdup(answer);
    e->kind = kind;
    e->at = now;
    slot = find(c, key);
    *slot = e;
    e->older = c->newest;
    if (c->newest)
        c->newest->newer = e;
    else
        c->oldest = e;
    c->newest = e;
    c->n++;
}

size_t cache_size(const cache *c)
{
    return c->n;
}
