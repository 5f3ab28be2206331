/* quota_usage: doveadm's quota rows, sorted and filtered; see quota_usage.h. */
#include "quota_usage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS 6

static int number(const char *s, unsigned long long *out)
{
    char *end = NULL;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v > (1ULL << 53) / 1024)
        return -1;
    *out = v;
    return 0;
}

/* One row: its fields split at tabs (in place). */
static int parse_row(char *line, size_t line_no, const char *pair, struct quota_usage_list *list, buf *err)
{
    char *field[FIELDS];
    size_t n = 1;
    for (const char *p = line; (p = strchr(p, '\t')) != NULL; p++)
        n++;
    if (n != FIELDS) {
        buf_printf(err, "doveadm quota output, line %zu: %zu fields, expected %d", line_no, n, FIELDS);
        return -1;
    }
    char *p = line;
    for (size_t i = 0; i < FIELDS; i++) {
        field[i] = p;
        char *tab = strchr(p, '\t');
        if (tab) {
            *tab = '\0';
            p = tab + 1;
        }
    }
    if (strcmp(field[2], "STORAGE") != 0)
        return 0;               /* MESSAGE rows: counts, not sizes */
    unsigned long long used_kib, limit_kib = 0;
    int unlimited = strcmp(field[4], "-") == 0;
    if (field[0][0] == '\0' || number(field[3], &used_kib) != 0 || (!unlimited && number(field[4], &limit_kib) != 0)) {
        buf_printf(err, "doveadm quota output, line %zu: expected USER, a size in KiB and a limit in KiB or -",
                   line_no);
        return -1;
    }
    list->items = xrealloc(list->items, (list->n + 1) * sizeof *list->items);
    struct quota_usage *u = &list->items[list->n++];
    u->user = xstrdup(field[0]);
    u->pair = xstrdup(pair);
    u->used_bytes = used_kib * 1024;
    u->limit_bytes = limit_kib * 1024;
    u->percent = limit_kib ? (double)used_kib * 100.0 / (double)limit_kib : 0.0;
    return 0;
}

int quota_usage_parse(const char *tab_output, const char *pair, struct quota_usage_list *list, buf *err)
{
    char *text = xstrdup(tab_output);
    size_t line_no = 0;
    int rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[len - 1] = '\0';
        if (line_no == 1 && strncmp(line, "Username\t", 9) == 0)
            continue;           /* the header */
        rc = parse_row(line, line_no, pair, list, err);
    }
    free(text);
    return rc;
}

static int fuller_first(const void *a, const void *b)
{
    const struct quota_usage *x = a, *y = b;
    if (x->percent != y->percent)
        return x->percent < y->percent ? 1 : -1;
    if (x->used_bytes != y->used_bytes)
        return x->used_bytes < y->used_bytes ? 1 : -1;
    return strcmp(x->user, y->user);
}

void quota_usage_sort(struct quota_usage_list *list)
{
    if (list->n > 1)
        qsort(list->items, list->n, sizeof *list->items, fuller_first);
}

void quota_usage_keep_over(struct quota_usage_list *list, double min_percent)
{
    size_t kept = 0;
    for (size_t i = 0; i < list->n; i++) {
        struct quota_usage *u = &list->items[i];
        if (u->limit_bytes && u->percent >= min_percent) {
            list->items[kept++] = *u;
        } else {
            free(u->user);
            free(u->pair);
        }
    }
    list->n = kept;
}

void quota_usage_list_free(struct quota_usage_list *list)
{
    for (size_t i = 0; i < list->n; i++) {
        free(list->items[i].user);
        free(list->items[i].pair);
    }
    free(list->items);
    list->items = NULL;
    list->n = 0;
}
