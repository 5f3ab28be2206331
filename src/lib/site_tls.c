/* site_tls: CA, per-host server and client certificates; see site_tls.h. */
#include "site_tls.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client_config.h"
#include "fsutil.h"
#include "site_webmail.h"
#include "tls.h"

/* names[from...] = the clients' names (client_config_names) of the copy
 * in text: the site CA vouches for autoconfig.DOMAIN & co. where nginx
 * serves them. Returns the new count; text keeps the strings. */
static size_t add_client_names(const struct site *site, buf *text, const char **names, size_t from)
{
    client_config_names(site, text);
    size_t n = from;
    if (text->len == 0)
        return n;
    for (char *save = NULL, *name = strtok_r(text->data, "\n", &save); name; name = strtok_r(NULL, "\n", &save))
        names[n++] = name;
    return n;
}

/* How many names client_config_names gives. */
static size_t n_client_names(const struct site *site)
{
    buf text = BUF_INIT;
    client_config_names(site, &text);
    size_t n = 0;
    for (size_t i = 0; i < text.len; i++)
        n += text.data[i] == '\n';
    buf_free(&text);
    return n;
}

static int host_certs(const struct site *site, const char *tls_dir, const struct site_host *h, int *changed,
                      buf *err)
{
    char *dir = xasprintf("%s/%s", tls_dir, h->name);
    int rc = fs_ensure_dir(dir, NULL, NULL, 0755, err);
    /* Server: HOST.<primary domain> first (Postfix myhostname of a relay,
     * what peers check), then the site's public names, then the address. */
    const char **names = xcalloc(site->n_tls_names + 2 + n_client_names(site), sizeof *names);
    size_t n = 0;
    char *fqdn = xasprintf("%s.%s", h->name, site->domains[0]);
    names[n++] = fqdn;
    for (size_t i = 0; i < site->n_tls_names; i++)
        if (strcmp(site->tls_names[i], h->address) != 0)
            names[n++] = site->tls_names[i];
    names[n++] = h->address;
    buf client_names = BUF_INIT;
    if (h->roles & ROLE_PROXY)    /* where nginx runs */
        n = add_client_names(site, &client_names, names, n);
    char *crt = xasprintf("%s/server.crt", dir), *key = xasprintf("%s/server.key", dir);
    /* slapd reads its key after dropping to openldap. */
    if (rc == 0)
        rc = tls_ensure_issued(tls_dir, crt, key, names, n, NULL,
                               (h->roles & ROLE_DIRECTORY) ? "openldap" : NULL, changed, err);
    free(crt);
    free(key);
    /* passwd: emailng-passwd of a proxy's webmail (only where it runs; the
     * directory lets it write userPassword). Its key is root's. */
    static const struct {
        const char *daemon;
        unsigned roles;
        int (*wanted)(const struct site *site);      /* NULL: always */
        const char *key_group;
    } clients[] = {
        {"dovecot", ROLE_PROXY | ROLE_STORE, NULL, "dovecot"},
        {"postfix", ROLE_STORE, NULL, "postfix"},
        {"passwd", ROLE_PROXY, site_webmail_enabled, NULL},
        /* tables: a relay's emailng-tablesync at the proxies' nginx (the
         * relays' tables); slapd maps no identity for it. Root's key. */
        {"tables", ROLE_RELAY, NULL, NULL},
    };
    for (size_t i = 0; rc == 0 && i < sizeof clients / sizeof clients[0]; i++) {
        if (!(h->roles & clients[i].roles) || (clients[i].wanted && !clients[i].wanted(site)))
            continue;
        crt = xasprintf("%s/client-%s.crt", dir, clients[i].daemon);
        key = xasprintf("%s/client-%s.key", dir, clients[i].daemon);
        const char *cn[] = {clients[i].daemon};
        rc = tls_ensure_issued(tls_dir, crt, key, cn, 1, h->name, clients[i].key_group, changed, err);
        free(crt);
        free(key);
    }
    free(fqdn);
    free(names);
    buf_free(&client_names);
    free(dir);
    return rc;
}

/* name equals domain or is below it (what a DNS name constraint admits). */
static int within(const char *name, const char *domain)
{
    size_t n = strlen(name), d = strlen(domain);
    return strcasecmp(name, domain) == 0
        || (n > d + 1 && name[n - d - 1] == '.' && strcasecmp(name + n - d, domain) == 0);
}

static void add_permitted(const char **list, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (within(name, list[i]))
            return;
    list[(*n)++] = name;
}

size_t site_tls_permitted(const struct site *site, const char **out)
{
    size_t n = 0;
    for (size_t i = 0; i < site->n_domains; i++)
        add_permitted(out, &n, site->domains[i]);
    for (size_t i = 0; i < site->n_tls_names; i++)
        add_permitted(out, &n, site->tls_names[i]);
    for (size_t i = 0; i < site->n_hosts; i++)
        add_permitted(out, &n, site->hosts[i].address);
    return n;
}

int site_tls_ensure(const struct site *site, const char *state_dir, const struct site_host *host, int *changed,
                    buf *err)
{
    char *tls_dir = xasprintf("%s/tls", state_dir);
    const char **permitted = xcalloc(site->n_domains + site->n_tls_names + site->n_hosts + 1, sizeof *permitted);
    size_t n_permitted = site_tls_permitted(site, permitted);
    /* The one-host site's certificate: tls.names, then the clients' names. */
    const char **names = xcalloc(site->n_tls_names + n_client_names(site) + 1, sizeof *names);
    for (size_t i = 0; i < site->n_tls_names; i++)
        names[i] = site->tls_names[i];
    buf client_names = BUF_INIT;
    size_t n_names = add_client_names(site, &client_names, names, site->n_tls_names);
    /* A deployed host of a site of several hosts (`emailng deploy`) has the
     * CA certificate but not its key, which stays on the control host: it
     * gets no site-wide certificate (only the one-host site uses it) and
     * its own are checked, not issued (tls_ensure_issued). */
    char *ca_crt = xasprintf("%s/ca.crt", tls_dir), *ca_key = xasprintf("%s/ca.key", tls_dir);
    int deployed = site->n_hosts > 1 && fs_exists(ca_crt) && !fs_exists(ca_key);
    free(ca_crt);
    free(ca_key);
    int rc = deployed ? 0 : tls_ensure(tls_dir, names, n_names, permitted, n_permitted, changed, err);
    free(names);
    buf_free(&client_names);
    for (size_t i = 0; rc == 0 && site->n_hosts > 1 && i < site->n_hosts; i++)
        if (host == NULL || host == &site->hosts[i])
            rc = host_certs(site, tls_dir, &site->hosts[i], changed, err);
    free(permitted);
    free(tls_dir);
    return rc;
}
