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

void store_pairs_default_passwd(const struct site *site, buf *out)
{
    for (size_t i = 0; i < site->n_hosts; i++)
        if (store_pair_first_host(site, i))
            buf_printf(out, "%s:::::::host=%s nopassword\n", site->hosts[i].store_pair, site->hosts[i].address);
}
