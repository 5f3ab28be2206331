/* secret_users: who holds a pushed secret; see secret_users.h. */
#include "secret_users.h"

#include <string.h>

static const struct {
    const char *secret;     /* STATE/secrets/NAME */
    const char *service;    /* services.c's name */
    unsigned roles;         /* on hosts with any of these roles */
    enum secret_take take;
} holders[] = {
    /* The doveadm server's password: Dovecot's config parser reads
     * "doveadm_password = <FILE" again on SIGHUP, and every new doveadm
     * connection (the partner's dsync, the proxies' checks) gets it. */
    {"doveadm-password", "dovecot", ROLE_STORE, SECRET_RELOAD},
    {"doveadm-password", "syncwatch", ROLE_STORE, SECRET_RESTART},
    {"doveadm-password", "metricsd", ROLE_STORE, SECRET_RESTART},
    /* The proxies' catch-up check (healthd.yaml catchup_secret_file). */
    {"doveadm-password", "healthd", ROLE_PROXY, SECRET_RESTART},
};

/* 1 if name is one of the comma-separated names of list. */
static int listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

enum secret_take secret_take(const char *changed, const struct service *svc, const struct site_host *host)
{
    enum secret_take take = SECRET_NOT_HELD;
    for (size_t i = 0; i < sizeof holders / sizeof holders[0]; i++) {
        if (strcmp(holders[i].service, svc->name) != 0 || !(host->roles & holders[i].roles)
            || !listed(changed, holders[i].secret))
            continue;
        /* A restart for one secret covers a reload for another. */
        if (holders[i].take == SECRET_RESTART || (holders[i].take == SECRET_RELOAD && svc->reload == NULL))
            take = SECRET_RESTART;
        else if (take == SECRET_NOT_HELD)
            take = SECRET_RELOAD;
    }
    return take;
}
