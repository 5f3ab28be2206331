/* store_mailbox: see store_mailbox.h. */
#include "store_mailbox.h"

#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

int store_mailbox_holds_pair(const struct site *site, const struct site_host *h, const char *pair)
{
    if (!(h->roles & ROLE_STORE))
        return 0;
    if (h->store_pair == NULL || pair == NULL || pair[0] == '\0')
        return 1;
    for (size_t i = 0; i < site->n_hosts; i++)
        if ((site->hosts[i].roles & ROLE_STORE) && site->hosts[i].store_pair
            && strcmp(site->hosts[i].store_pair, pair) == 0)
            return strcmp(h->store_pair, pair) == 0;
    return 1;   /* a pair no store holds (not expected): look everywhere */
}

int store_mailbox_data_here(const char *state_dir, const struct site_host *h)
{
    char *data = xasprintf("%s/data/%s", state_dir, h->name);
    int here = fs_exists(data);
    free(data);
    return here;
}

int store_mailbox_any_remote(const struct site *site, const char *state_dir, const char *pair)
{
    for (size_t i = 0; i < site->n_hosts; i++)
        if (store_mailbox_holds_pair(site, &site->hosts[i], pair)
            && !store_mailbox_data_here(state_dir, &site->hosts[i]))
            return 1;
    return 0;
}

char *store_mailbox_path(const char *state_dir, const struct site_host *h, const char *address)
{
    const char *at = strchr(address, '@');
    return xasprintf("%s/data/%s/mail/%s/%.*s", state_dir, h->name, at + 1, (int)(at - address), address);
}

char *store_mailbox_archive_leaf(const char *address, time_t when, int n)
{
    const char *at = strchr(address, '@');
    char stamp[32];
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime_r(&when, &tm));
    if (n >= 2)
        return xasprintf("%.*s.%s-%d", (int)(at - address), address, stamp, n);
    return xasprintf("%.*s.%s", (int)(at - address), address, stamp);
}

enum store_mailbox_presence store_mailbox_presence(const struct doveadm_reply *r)
{
    if (r->ok)
        return STORE_MAILBOX_PRESENT;
    if (r->code && strcmp(r->code, "NOTFOUND") == 0)
        return STORE_MAILBOX_ABSENT;
    return STORE_MAILBOX_UNKNOWN;
}
