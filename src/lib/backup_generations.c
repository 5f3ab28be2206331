/* backup_generations: see backup_generations.h. */
#include "backup_generations.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Length of the time part "YYYYMMDDTHHMMSSZ". */
#define STAMP_LEN 16

int backup_generation_name_valid(const char *name)
{
    for (size_t i = 0; i < STAMP_LEN; i++) {
        char c = name[i];
        int ok = i == 8 ? c == 'T' : i == STAMP_LEN - 1 ? c == 'Z' : isdigit((unsigned char)c) != 0;
        if (!ok)
            return 0;
    }
    const char *rest = name + STAMP_LEN;
    if (*rest == '\0')
        return 1;
    /* "-N": N from 2, no leading zero, at most 6 digits. */
    size_t digits = strlen(rest + 1);
    if (rest[0] != '-' || digits == 0 || digits > 6 || strspn(rest + 1, "0123456789") != digits
        || rest[1] == '0')
        return 0;
    return strtol(rest + 1, NULL, 10) >= 2;
}

void backup_generation_stamp(time_t t, buf *out)
{
    struct tm tm;
    char stamp[STAMP_LEN + 1];
    if (gmtime_r(&t, &tm) == NULL || strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm) != STAMP_LEN)
        memcpy(stamp, "19700101T000000Z", STAMP_LEN + 1);
    buf_append_str(out, stamp);
}

static long suffix_number(const char *name)
{
    return name[STAMP_LEN] == '-' ? strtol(name + STAMP_LEN + 1, NULL, 10) : 1;
}

void backup_generation_new_name(const char *stamp, char *const *existing, size_t n, buf *out)
{
    long highest = 0;        /* 0: no generation of this second */
    for (size_t i = 0; i < n; i++)
        if (strncmp(existing[i], stamp, STAMP_LEN) == 0 && suffix_number(existing[i]) > highest)
            highest = suffix_number(existing[i]);
    buf_append_str(out, stamp);
    if (highest > 0)
        buf_printf(out, "-%ld", highest + 1);
}

int backup_generation_compare(const char *a, const char *b)
{
    int c = strncmp(a, b, STAMP_LEN);
    if (c != 0)
        return c;
    long na = suffix_number(a), nb = suffix_number(b);
    return na < nb ? -1 : na > nb;
}

static int compare_names(const void *a, const void *b)
{
    return backup_generation_compare(*(char *const *)a, *(char *const *)b);
}

int backup_generations_list(const char *dir, char ***names, size_t *n, buf *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return 0;
        buf_printf(err, "cannot read %s: %s", dir, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!backup_generation_name_valid(e->d_name))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            *names = xrealloc(*names, cap * sizeof **names);
        }
        (*names)[(*n)++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (*n > 1)
        qsort(*names, *n, sizeof **names, compare_names);
    return 0;
}

void backup_generations_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

size_t backup_generations_retain(char *const *names, const int *full, size_t n, int keep, int *remove)
{
    (void)names;
    size_t n_full = 0, removed = 0;
    for (size_t i = 0; i < n; i++) {
        remove[i] = 0;
        n_full += full[i] != 0;
    }
    if (keep < 1 || n_full <= (size_t)keep)
        return 0;
    /* The index of the keep-th newest full generation: the oldest kept. */
    size_t skip = n_full - (size_t)keep, cut = 0;
    for (size_t i = 0; i < n; i++)
        if (full[i] && skip-- == 0) {
            cut = i;
            break;
        }
    for (size_t i = 0; i < cut; i++) {
        remove[i] = 1;
        removed++;
    }
    return removed;
}
