/* public_names: the public names of each host; see public_names.h. */
#include "public_names.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

int public_names_is_address(const char *s)
{
    unsigned char a[16];
    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static void add_lower(buf *out, const char *name)
{
    for (const char *p = name; *p; p++)
        buf_append_char(out, (char)tolower((unsigned char)*p));
    buf_append_char(out, '\n');
}

/* The DNS names of tls.names: what an ACME CA can vouch for. */
static void tls_dns_names(const struct site *site, buf *out)
{
    for (size_t i = 0; i < site->n_tls_names; i++)
        if (strcmp(site->tls_names[i], "localhost") != 0 && !public_names_is_address(site->tls_names[i]))
            add_lower(out, site->tls_names[i]);
}

/* A relay's public name on a site of several hosts (dns_records.c and
 * render.c's host_fqdn say the same: HOST.PRIMARY-DOMAIN). */
void public_names_relay(const struct site *site, const struct site_host *host, buf *out)
{
    buf name = BUF_INIT;
    buf_printf(&name, "%s.%s", host->name, site->domains[0]);
    add_lower(out, buf_cstr(&name));
    buf_free(&name);
}

void public_names_of_host(const struct site *site, const struct site_host *host, buf *out)
{
    if (site->n_hosts == 1 || (host->roles & ROLE_PROXY))
        tls_dns_names(site, out);
    else if (host->roles & ROLE_RELAY)
        public_names_relay(site, host, out);
}

void public_names_all(const struct site *site, buf *out)
{
    add_lower(out, site->tls_names[0]);
    for (size_t i = 0; site->n_hosts > 1 && i < site->n_hosts; i++)
        if (site->hosts[i].roles & ROLE_RELAY)
            public_names_relay(site, &site->hosts[i], out);
}

const struct site_host *public_names_orderer(const struct site *site, const struct site_host *host)
{
    if (site->n_hosts == 1 || (host->roles & ROLE_RELAY))
        return host;
    if (host->roles & ROLE_PROXY)
        return site_host_with_role(site, ROLE_PROXY);
    return NULL;
}

char *public_names_dir(const struct site *site, const struct site_host *host, const char *state_dir)
{
    if (site->cert_source != CERT_SOURCE_ACME || site->n_hosts == 1)
        return xasprintf("%s/tls/public", state_dir);
    buf names = BUF_INIT;
    public_names_of_host(site, host, &names);
    const char *text = buf_cstr(&names);
    char *dir = xasprintf("%s/tls/public/%.*s", state_dir, (int)strcspn(text, "\n"), text);
    buf_free(&names);
    return dir;
}
