/* host_kind: the kinds of host and what each renders; see host_kind.h. */
#include "host_kind.h"

#include <stddef.h>
#include <string.h>

#include "site.h"

/* Order within a kind is the order they are rendered and listed in. The
 * one-host site shares one daemon per role and uses templates/COMPONENT;
 * a host of several has its own variant of the shared daemons, a
 * firewall (X1) and, as a relay, its caching resolver (S8). */
static const struct host_kind kinds[] = {
    {"one-host site", ROLE_RELAY | ROLE_PROXY | ROLE_STORE | ROLE_DIRECTORY,
     {"slapd", "dovecot", "postfix", "amavis", "clamav", "policyd", "opendkim", "opendmarc", "mta-sts", "fail2ban",
      "logrotate", "nftables", "nginx", "roundcube", NULL},
     {"slapd", "dovecot", "postfix", "amavis", "clamav", "policyd", "opendkim", "opendmarc", "mta-sts", "fail2ban",
      "logrotate", "nftables-local", "nginx", "roundcube", NULL}},
    {"directory", ROLE_DIRECTORY,
     {"slapd", "nftables", "logrotate", NULL},
     {"slapd-directory", "nftables-directory", "logrotate", NULL}},
    {"store", ROLE_STORE,
     {"dovecot", "postfix", "nftables", "logrotate", NULL},
     {"dovecot-store", "postfix-store", "nftables-store", "logrotate", NULL}},
    {"proxy", ROLE_PROXY,
     {"dovecot", "nftables", "healthd", "fail2ban", "logrotate", "nginx", "roundcube", NULL},
     {"dovecot-proxy", "nftables-proxy", "healthd", "fail2ban", "logrotate", "nginx", "roundcube", NULL}},
    /* Dovecot on a relay is its auth service only (SASL for submission,
     * checked at the proxies). */
    {"relay", ROLE_RELAY,
     {"dovecot", "postfix", "amavis", "clamav", "policyd", "opendkim", "opendmarc", "mta-sts", "unbound", "nftables",
      "fail2ban", "logrotate", NULL},
     {"dovecot-relay", "postfix-relay", "amavis", "clamav", "policyd", "opendkim", "opendmarc", "mta-sts", "unbound",
      "nftables-relay", "fail2ban", "logrotate", NULL}},
};

const struct host_kind *host_kind_of(unsigned roles)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].roles == roles)
            return &kinds[i];
    return NULL;
}

int host_kind_has(const struct host_kind *kind, const char *component)
{
    for (size_t i = 0; kind != NULL && kind->components[i]; i++)
        if (strcmp(kind->components[i], component) == 0)
            return 1;
    return 0;
}
