/* backup_generations: the generations in a backup folder (M6) and which of
 * them retention removes. A generation is a folder named by the UTC time
 * its run started, YYYYMMDDTHHMMSSZ, with "-N" (N >= 2) when two runs
 * start in the same second; a run builds NAME.partial and renames it when
 * it is complete, so only complete generations carry a plain name. A run
 * for every user is "full"; a run for one user (`backup --user`) is not,
 * and does not count toward `keep`. */
#ifndef EMAILNG_BACKUP_GENERATIONS_H
#define EMAILNG_BACKUP_GENERATIONS_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

/* 1 if name is a complete generation's name, else 0. */
int backup_generation_name_valid(const char *name);

/* "YYYYMMDDTHHMMSSZ" of t (UTC), appended to out. */
void backup_generation_stamp(time_t t, buf *out);

/* The name of a new generation started at stamp, given the existing ones:
 * the stamp itself, or "stamp-N" past the highest N of that second. A name
 * freed by retention is never taken again: a later run must sort after
 * every earlier one. Appended to out. */
void backup_generation_new_name(const char *stamp, char *const *existing, size_t n, buf *out);

/* Oldest first: by time, then by the -N suffix as a number. */
int backup_generation_compare(const char *a, const char *b);

/* The complete generations in dir, oldest first (caller frees each and the
 * array). A missing dir is no generation. 0, or -1 with err. */
int backup_generations_list(const char *dir, char ***names, size_t *n, buf *err);
void backup_generations_free(char **names, size_t n);

/* Retention: names oldest first, full[i] 1 for a full generation. When
 * there are more than keep full generations, every generation older than
 * the keep-th newest full one goes: remove[i] is set to 1 for those (0 for
 * the others). Returns how many are removed. A one-user generation is
 * therefore kept as long as a full generation older than it is. */
size_t backup_generations_retain(char *const *names, const int *full, size_t n, int keep, int *remove);

#endif
