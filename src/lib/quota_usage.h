/* quota_usage: users' quota usage as the stores report it (`doveadm -f tab
 * quota get -A`), for `emailng user list --quota` (U2): read, sorted
 * fullest first, filtered by a percentage. */
#ifndef EMAILNG_QUOTA_USAGE_H
#define EMAILNG_QUOTA_USAGE_H

#include <stddef.h>

#include "buf.h"

struct quota_usage {
    char *user;
    char *pair;                  /* the store pair that answered */
    unsigned long long used_bytes;
    unsigned long long limit_bytes;   /* 0: no limit */
    double percent;              /* used/limit*100; 0 without a limit */
};

struct quota_usage_list {
    struct quota_usage *items;
    size_t n;
};

/* Appends the STORAGE rows of doveadm's tab output (a header line, then
 * "USER\tQUOTA NAME\tSTORAGE\tKIB\tLIMIT-KIB or -\tPERCENT") to list; a
 * line that is not such a row is an error naming its number. */
int quota_usage_parse(const char *tab_output, const char *pair, struct quota_usage_list *list, buf *err);

/* Fullest first (percent, then bytes used, then the address). */
void quota_usage_sort(struct quota_usage_list *list);

/* Keeps only users with a limit and at least min_percent of it used. */
void quota_usage_keep_over(struct quota_usage_list *list, double min_percent);

void quota_usage_list_free(struct quota_usage_list *list);

#endif
