/* site_tls: CA, per-host server and client certificates; see site_tls.h. */
#include "site_tls.h"

#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "tls.h"

static int host_certs(const struct site *site, const char *tls_dir, const struct site_host *h, buf *err)
{
    char *dir = xasprintf("%s/%s", tls_dir, h->name);
    int rc = fs_ensure_dir(dir, NULL, NULL, 0755, err);
    /* Server: HOST.<primary domain> first (Postfix myhostname of a relay,
     * what peers check), then the site's public names, then the address. */
    const char **names = xcalloc(site->n_tls_names + 2, sizeof *names);
    size_t n = 0;
    char *fqdn = xasprintf("%s.%s", h->name, site->domains[0]);
    names[n++] = fqdn;
    for (size_t i = 0; i < site->n_tls_names; i++)
        if (strcmp(site->tls_names[i], h->address) != 0)
            names[n++] = site->tls_names[i];
    names[n++] = h->address;
    char *crt = xasprintf("%s/server.crt", dir), *key = xasprintf("%s/server.key", dir);
    /* slapd reads its key after dropping to openldap. */
    if (rc == 0)
        rc = tls_ensure_issued(tls_dir, crt, key, names, n, NULL,
                               (h->roles & ROLE_DIRECTORY) ? "openldap" : NULL, err);
    free(crt);
    free(key);
    static const struct {
        const char *daemon;
        unsigned roles;
    } clients[] = {
        {"dovecot", ROLE_PROXY | ROLE_STORE},
        {"postfix", ROLE_STORE},
    };
    for (size_t i = 0; rc == 0 && i < sizeof clients / sizeof clients[0]; i++) {
        if (!(h->roles & clients[i].roles))
            continue;
        crt = xasprintf("%s/client-%s.crt", dir, clients[i].daemon);
        key = xasprintf("%s/client-%s.key", dir, clients[i].daemon);
        const char *cn[] = {clients[i].daemon};
        rc = tls_ensure_issued(tls_dir, crt, key, cn, 1, h->name, clients[i].daemon, err);
        free(crt);
        free(key);
    }
    free(fqdn);
    free(names);
    free(dir);
    return rc;
}

int site_tls_ensure(const struct site *site, const char *state_dir, const struct site_host *host, buf *err)
{
    char *tls_dir = xasprintf("%s/tls", state_dir);
    int rc = tls_ensure(tls_dir, (const char *const *)site->tls_names, site->n_tls_names, err);
    for (size_t i = 0; rc == 0 && site->n_hosts > 1 && i < site->n_hosts; i++)
        if (host == NULL || host == &site->hosts[i])
            rc = host_certs(site, tls_dir, &site->hosts[i], err);
    free(tls_dir);
    return rc;
}
