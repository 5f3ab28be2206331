/* alias_rules: members exist, no loops; see alias_rules.h. */
#include "alias_rules.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int alias_rules_domain_served(const char *address, const char *const *domains, size_t n_domains)
{
    const char *at = strrchr(address, '@');
    if (at == NULL)
        return 0;
    for (size_t i = 0; i < n_domains; i++)
        if (strcasecmp(at + 1, domains[i]) == 0)
            return 1;
    return 0;
}

static const struct directory_alias *find_alias(const struct directory_snapshot *s, const char *address)
{
    for (size_t i = 0; i < s->n_aliases; i++)
        if (strcasecmp(s->aliases[i].mail, address) == 0)
            return &s->aliases[i];
    return NULL;
}

static int is_user_address(const struct directory_snapshot *s, const char *address)
{
    for (size_t i = 0; i < s->n_users; i++) {
        const struct directory_user *u = &s->users[i];
        if (strcasecmp(u->mail, address) == 0)
            return 1;
        for (size_t j = 0; j < u->n_alternate_addresses; j++)
            if (strcasecmp(u->alternate_addresses[j], address) == 0)
                return 1;
    }
    return 0;
}

/* Depth-first walk from `from` through the aliases' members: 1 if it
 * reaches target (the alias being changed), with the way there appended to
 * path. visited (one flag per snapshot alias) keeps the walk finite even
 * if the directory already had a loop. */
static int reaches(const struct directory_snapshot *s, char *visited, const char *from, const char *target, buf *path)
{
    if (strcasecmp(from, target) == 0) {
        buf_printf(path, " -> %s", from);
        return 1;
    }
    const struct directory_alias *a = find_alias(s, from);
    if (a == NULL)
        return 0;                   /* a user or an outside address: the end of a path */
    size_t index = (size_t)(a - s->aliases);
    if (visited[index])
        return 0;
    visited[index] = 1;
    size_t mark = path->len;
    buf_printf(path, " -> %s", from);
    for (size_t i = 0; i < a->n_destinations; i++)
        if (reaches(s, visited, a->destinations[i], target, path))
            return 1;
    path->len = mark;
    path->data[mark] = '\0';
    return 0;
}

int alias_rules_check(const struct directory_snapshot *snapshot, const char *const *domains, size_t n_domains,
                      const char *alias, const char *const *members, size_t n_members, buf *err)
{
    for (size_t i = 0; i < n_members; i++) {
        if (!alias_rules_domain_served(members[i], domains, n_domains))
            continue;
        if (strcasecmp(members[i], alias) == 0) {
            buf_reset(err);
            buf_printf(err, "alias %s cannot forward to itself", alias);
            return -1;
        }
        if (find_alias(snapshot, members[i]) == NULL && !is_user_address(snapshot, members[i])) {
            buf_reset(err);
            buf_printf(err, "%s is not a user, user address or alias of this site (mail to it would bounce); "
                            "add the user first",
                       members[i]);
            return -1;
        }
    }
    /* A loop must pass through alias and one of its new members: walk
     * from each new member back to alias. */
    buf path = BUF_INIT;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n_members; i++) {
        char *visited = xcalloc(snapshot->n_aliases + 1, 1);
        buf_reset(&path);
        buf_printf(&path, "%s", alias);
        if (reaches(snapshot, visited, members[i], alias, &path)) {
            buf_reset(err);
            buf_printf(err, "adding %s to %s would make a loop: %s", members[i], alias, buf_cstr(&path));
            rc = -1;
        }
        free(visited);
    }
    buf_free(&path);
    return rc;
}
