/* dedup: duplicate copies across a store pair; see dedup.h. */
#include "dedup.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { FETCH_COLUMNS = 6 };

/* The other users' and the public folders a user sees (their namespaces'
 * prefixes, templates/dovecot-store/shared-folders.conf): not the user's
 * own mail, and their owner's own check handles them. */
static const char *const foreign_prefixes[] = {"Shared/", "Public/"};

static int foreign(const char *mailbox)
{
    for (size_t i = 0; i < sizeof foreign_prefixes / sizeof foreign_prefixes[0]; i++)
        if (strncmp(mailbox, foreign_prefixes[i], strlen(foreign_prefixes[i])) == 0)
            return 1;
    return 0;
}

void dedup_list_free(struct dedup_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct dedup_copy *c = &l->copies[i];
        free(c->mailbox_guid);
        free(c->mailbox);
        free(c->uid);
        free(c->guid);
        free(c->msgid);
    }
    free(l->copies);
    memset(l, 0, sizeof *l);
}

/* A header value may be folded or padded: "  <id@x>\r\n". */
static char *trimmed(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    return xstrndup(s, n);
}

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

int dedup_parse(char *const *fields, size_t n_fields, int store, struct dedup_list *l, buf *err)
{
    if (n_fields % FETCH_COLUMNS != 0) {
        buf_printf(err, "the fetch reply has %zu values, not %d per message", n_fields, FETCH_COLUMNS);
        return -1;
    }
    for (size_t i = 0; i < n_fields; i += FETCH_COLUMNS) {
        char *const *f = fields + i;
        errno = 0;
        char *end = NULL;
        long long saved = strtoll(f[4], &end, 10);
        if (f[0][0] == '\0' || !all_digits(f[2]) || f[3][0] == '\0' || !all_digits(f[4]) || errno != 0
            || *end != '\0') {
            buf_printf(err, "message %zu of the fetch reply is malformed (mailbox-guid \"%s\", uid \"%s\", "
                       "guid \"%s\", saved \"%s\")", i / FETCH_COLUMNS + 1, f[0], f[2], f[3], f[4]);
            return -1;
        }
        l->copies = xrealloc(l->copies, (l->n + 1) * sizeof *l->copies);
        struct dedup_copy *c = &l->copies[l->n++];
        c->mailbox_guid = xstrdup(f[0]);
        c->mailbox = xstrdup(f[1]);
        c->uid = xstrdup(f[2]);
        c->guid = xstrdup(f[3]);
        c->saved = saved;
        c->msgid = trimmed(f[5]);
        c->store = store;
        c->remove = 0;
    }
    return 0;
}

/* Groups (mailbox, Message-ID) together, the kept GUID first in each. */
static int by_group_then_guid(const void *a, const void *b)
{
    const struct dedup_copy *x = a, *y = b;
    int c = strcmp(x->mailbox_guid, y->mailbox_guid);
    if (c == 0)
        c = strcmp(x->msgid, y->msgid);
    if (c == 0)
        c = strcmp(x->guid, y->guid);
    if (c == 0)
        c = x->store - y->store;
    if (c == 0)
        c = strcmp(x->uid, y->uid);
    return c;
}

static int same_group(const struct dedup_copy *x, const struct dedup_copy *y)
{
    return strcmp(x->mailbox_guid, y->mailbox_guid) == 0 && strcmp(x->msgid, y->msgid) == 0;
}

size_t dedup_plan(struct dedup_list *l, long long window_start, long long period)
{
    if (l->n == 0)
        return 0;
    qsort(l->copies, l->n, sizeof *l->copies, by_group_then_guid);
    size_t removed = 0;
    for (size_t start = 0, end; start < l->n; start = end) {
        end = start + 1;
        while (end < l->n && same_group(&l->copies[start], &l->copies[end]))
            end++;
        const struct dedup_copy *kept = &l->copies[start];
        /* No Message-ID: never a duplicate; another user's folder: theirs. */
        if (kept->msgid[0] == '\0' || foreign(kept->mailbox))
            continue;
        long long first = kept->saved, last = kept->saved;
        int other_guid = 0;
        for (size_t i = start; i < end; i++) {
            const struct dedup_copy *c = &l->copies[i];
            first = c->saved < first ? c->saved : first;
            last = c->saved > last ? c->saved : last;
            other_guid |= strcmp(c->guid, kept->guid) != 0;
        }
        /* One message only (one GUID: on both stores, or COPYs), copies
         * more than a period apart (the Sieve rule would have delivered
         * both), or none saved since the store stopped serving: not a
         * failover's second delivery. */
        if (!other_guid || last - first > period || last < window_start)
            continue;
        for (size_t i = start; i < end; i++) {
            struct dedup_copy *c = &l->copies[i];
            if (strcmp(c->guid, kept->guid) != 0) {
                c->remove = 1;
                removed++;
            }
        }
    }
    return removed;
}
