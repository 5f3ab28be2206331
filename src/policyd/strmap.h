/* strmap: an open-addressing hash map from NUL-terminated strings to
 * pointers. Keys are copied; values are owned by the caller unless a
 * free function is given. Used for the table, the quota cache and the
 * SPF helper's pending checks. */
#ifndef POLICYD_STRMAP_H
#define POLICYD_STRMAP_H

#include <stddef.h>

typedef struct strmap_entry {
    char *key;          /* NULL = empty slot, TOMBSTONE = deleted */
    void *value;
    unsigned hash;
} strmap_entry;

typedef struct strmap {
    strmap_entry *slots;
    size_t cap;         /* power of two, 0 before first insert */
    size_t count;       /* live entries */
    size_t used;        /* live + tombstones */
    void (*free_value)(void *);
} strmap;

void strmap_init(strmap *m, void (*free_value)(void *));
void strmap_free(strmap *m);
void strmap_clear(strmap *m);
void *strmap_get(const strmap *m, const char *key);
/* Sets key to value; an old value is freed with free_value. */
void strmap_put(strmap *m, const char *key, void *value);
/* Removes key (its value freed with free_value); 1 if it was there. */
int strmap_del(strmap *m, const char *key);
/* Iteration: for (size_t i = 0; strmap_next(m, &i, &k, &v); ) ... */
int strmap_next(const strmap *m, size_t *pos, const char **key, void **value);

#endif
