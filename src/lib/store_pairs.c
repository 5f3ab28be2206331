/* store_pairs: see store_pairs.h. */
#include "store_pairs.h"

#include <string.h>

static int is_store_of_a_pair(const struct site_host *h)
{
    return (h->roles & ROLE_STORE) && h->store_pair != NULL;
}

int store_pair_first_host(const struct site *site, size_t i)
{
    const struct site_host *h = &site->hosts[i];
    if (!is_store_of_a_pair(h))
        return 0;
    for (size_t j = 0; j < i; j++)
        if (is_store_of_a_pair(&site->hosts[j]) && strcmp(site->hosts[j].store_pair, h->store_pair) == 0)
            return 0;
    return 1;
}

size_t store_pairs_list(const struct site *site, const char ***names)
{
    size_t n = 0;
    *names = xcalloc(site->n_hosts + 1, sizeof **names);
    for (size_t i = 0; i < site->n_hosts; i++)
        if (store_pair_first_host(site, i))
            (*names)[n++] = site->hosts[i].store_pair;
    return n;
}

int store_pairs_has(const struct site *site, const char *pair)
{
    return store_pairs_first_store(site, pair) != NULL;
}

const struct site_host *store_pairs_first_store(const struct site *site, const char *pair)
{
    for (size_t i = 0; pair && i < site->n_hosts; i++)
        if (is_store_of_a_pair(&site->hosts[i]) && strcmp(site->hosts[i].store_pair, pair) == 0)
            return &site->hosts[i];
    return NULL;
}

size_t store_pairs_fewest(const size_t *users, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (users[i] < users[best])
            best = i;
    return best;
}

void store_pairs_default_passwd(const struct site *site, buf *out)
{
    for (size_t i = 0; i < site->n_hosts; i++)
        if (store_pair_first_host(site, i))
            buf_printf(out, "%s:::::::host=%s nopassword\n", site->hosts[i].store_pair, site->hosts[i].address);
}
