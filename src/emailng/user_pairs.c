/* user_pairs: see user_pairs.h. */
#include "user_pairs.h"

#include <stdlib.h>
#include <string.h>

#include "store_pairs.h"

void user_pairs_names(const struct site *site, buf *out)
{
    const char **names;
    size_t n = store_pairs_list(site, &names);
    for (size_t i = 0; i < n; i++)
        buf_printf(out, "%s%s", i ? ", " : "", names[i]);
    free(names);
}

int user_pair_for_new_user(const struct site *site, struct directory *d, const char *requested, char **pair,
                           buf *err)
{
    *pair = NULL;
    if (requested) {
        if (!store_pairs_has(site, requested)) {
            buf_printf(err, "\"%s\" is not a store pair of this site (", requested);
            user_pairs_names(site, err);
            buf_append_str(err, ")");
            return -1;
        }
        *pair = xstrdup(requested);
        return 0;
    }
    const char **names;
    size_t n = store_pairs_list(site, &names);
    if (n == 0) {       /* cannot happen for a loaded site: every store has a pair */
        free(names);
        buf_append_str(err, "the site has no store pair");
        return -1;
    }
    if (n == 1) {       /* nothing to choose: no need to count */
        *pair = xstrdup(names[0]);
        free(names);
        return 0;
    }
    struct directory_user *users = NULL;
    size_t n_users = 0;
    if (directory_user_list(d, &users, &n_users, err) < 0) {
        free(names);
        return -1;
    }
    size_t *counts = xcalloc(n, sizeof *counts);
    /* Users of no pair (the proxies' probe account) or of a pair no
     * longer in the site file count nowhere. */
    for (size_t u = 0; u < n_users; u++)
        for (size_t i = 0; i < n; i++)
            if (strcmp(users[u].mail_host, names[i]) == 0)
                counts[i]++;
    *pair = xstrdup(names[store_pairs_fewest(counts, n)]);
    directory_user_list_free(users, n_users);
    free(counts);
    free(names);
    return 0;
}
