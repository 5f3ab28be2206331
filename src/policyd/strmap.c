/* strmap: see strmap.h. FNV-1a hashing, linear probing. */
#include "strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static char tombstone_key;
#define TOMBSTONE (&tombstone_key)

static unsigned hash_str(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

void strmap_init(strmap *m, void (*free_value)(void *))
{
    memset(m, 0, sizeof(*m));
    m->free_value = free_value;
}

void strmap_clear(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        strmap_entry *e = &m->slots[i];
        if (e->key && e->key != TOMBSTONE) {
            free(e->key);
            if (m->free_value)
                m->free_value(e->value);
        }
        e->key = NULL;
    }
    m->count = m->used = 0;
}

void strmap_free(strmap *m)
{
    strmap_clear(m);
    free(m->slots);
    m->slots = NULL;
    m->cap = 0;
}

static strmap_entry *find(const strmap *m, const char *key, unsigned h)
{
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        strmap_entry *e = &m->slots[i];
        if (e->key == NULL)
            return NULL;
        if (e->key != TOMBSTONE && e->hash == h && strcmp(e->key, key) == 0)
            return e;
    }
}

static void grow(strmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    if (m->count * 4 < m->cap)          /* mostly tombstones: rehash same size */
        ncap = m->cap;
    strmap_entry *old = m->slots;
    size_t ocap = m->cap;
    m->slots = xcalloc(ncap, sizeof(*m->slots));
    m->cap = ncap;
    m->used = m->count;
    for (size_t i = 0; i < ocap; i++) {
        strmap_entry *e = &old[i];
        if (e->key == NULL || e->key == TOMBSTONE)
            continue;
        size_t j = e->hash & (ncap - 1);
        while (m->slots[j].key)
            j = (j + 1) & (ncap - 1);
        m->slots[j] = *e;
    }
    free(old);
}

void *strmap_get(const strmap *m, const char *key)
{
    strmap_entry *e = find(m, key, hash_str(key));
    return e ? e->value : NULL;
}

void strmap_put(strmap *m, const char *key, void *value)
{
    unsigned h = hash_str(key);
    strmap_entry *e = find(m, key, h);
    if (e) {
        if (m->free_value && e->value != value)
            m->free_value(e->value);
        e->value = value;
        return;
    }
    if ((m->used + 1) * 4 >= m->cap * 3)
        grow(m);
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].key && m->slots[i].key != TOMBSTONE)
        i = (i + 1) & mask;
    if (m->slots[i].key == NULL)
        m->used++;
    m->slots[i].key = xstrdup(key);
    m->slots[i].value = value;
    m->slots[i].hash = h;
    m->count++;
}

int strmap_del(strmap *m, const char *key)
{
    strmap_entry *e = find(m, key, hash_str(key));
    if (!e)
        return 0;
    free(e->key);
    if (m->free_value)
        m->free_value(e->value);
    e->key = TOMBSTONE;
    e->value = NULL;
    m->count--;
    return 1;
}

int strmap_next(const strmap *m, size_t *pos, const char **key, void **value)
{
    for (; *pos < m->cap; (*pos)++) {
        strmap_entry *e = &m->slots[*pos];
        if (e->key && e->key != TOMBSTONE) {
            *key = e->key;
            *value = e->value;
            (*pos)++;
            return 1;
        }
    }
    return 0;
}
