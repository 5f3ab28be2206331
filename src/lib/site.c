/* site: load and validate the declarative site file; see site.h.
 * libyaml builds the document tree (with line/column marks); this file only
 * walks it against the schema below and converts values. */
#include "site.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "address.h"
#include "netaddr.h"
#include "site_cert_source.h"
#include "site_dmarc.h"
#include "site_quota_warning.h"
#include "site_storage.h"
#include "site_metrics.h"
#include "site_backup.h"
#include "site_search.h"
#include "site_webmail.h"
#include "yaml_config.h"

#define SITE_FILE_MAX (1024 * 1024)     /* a site file is small; refuse huge input */

static const struct site_ports default_ports = {
    .smtp = 25, .submission = 587, .submissions = 465,
    .imap = 143, .imaps = 993, .pop3 = 110, .pop3s = 995, .managesieve = 4190,
    .lmtp = 24, .quota_status = 12340,
};

static char **strv_one(const char *s)
{
    char **v = xcalloc(1, sizeof *v);
    v[0] = xstrdup(s);
    return v;
}

void site_default(struct site *site)
{
    memset(site, 0, sizeof *site);
    site->source = xstrdup("(built-in small site)");
    site->name = xstrdup("small-site");
    site->domains = strv_one("example.test");
    site->n_domains = 1;
    site->ldap_base = xstrdup("dc=example,dc=test");
    site->hosts = xcalloc(1, sizeof *site->hosts);
    site->hosts[0].name = xstrdup("mail");
    site->hosts[0].address = xstrdup("127.0.0.1");
    site->hosts[0].roles = ROLE_ALL;
    site->hosts[0].store_pair = xstrdup("pair1");
    site->n_hosts = 1;
    site->tls_names = xcalloc(3, sizeof *site->tls_names);
    site->tls_names[0] = xstrdup("mail.example.test");
    site->tls_names[1] = xstrdup("localhost");
    site->tls_names[2] = xstrdup("127.0.0.1");
    site->n_tls_names = 3;
    site->quota_default = 1024ULL * 1024 * 1024;
    site->quota_grace_percent = 10;
    site->message_size = 25ULL * 1024 * 1024;
    site->line_length = 2048;
    site->demo_users = 1;
    site->admin_address = xstrdup("alice@example.test");
    site->storage.alt_after_days = SITE_ALT_AFTER_DAYS_DEFAULT;
    site->quota_warnings[0] = 95;
    site->quota_warnings[1] = 80;
    site->n_quota_warnings = 2;
    site->ports = default_ports;
    site->policy.user = (struct site_send_limits){100, 100, 1000};
    site->policy.client = (struct site_send_limits){1000, 100, 10000};
    site->policy.spf_enabled = 1;
    site->policy.spf_reject_fail = 0;
    site->policy.greylist_enabled = 0;
    site->policy.greylist_delay = 300;
    site->filter.enabled = 1;
    site->filter.before_queue = 1;
    site->filter.virus_action = VIRUS_QUARANTINE;
    site->filter.spam_junk_tenths = 50;
    site->filter.spam_quarantine_tenths = 0;
    site->filter.quarantine_size = 200ULL * 1024 * 1024;
    site->filter.signatures = xstrdup("/var/lib/clamav");
    site->filter.processes = 3;   /* bench/filter: +18% over 2 on 2 cores; 4 adds 5% */
    site->filter.network_tests = 0;
    site->dkim.enabled = 1;
    site->dkim.retire_days = 7;      /* longer than a week-long queue retry elsewhere */
    /* fail2ban's own default of 5 would ban a user who mistypes a changed
     * password in a phone and a laptop; 10 in 10 minutes is still far from
     * what a guesser needs. */
    site->bruteforce = (struct site_bruteforce){.maxretry = 10, .findtime = 600, .bantime = 3600};
    site_metrics_default(&site->metrics);
    site_backup_default(&site->backup);
    site->search.fts = 0;     /* opt-in: see site_search.h */
    site->outbound = (struct site_outbound){.srs_enabled = 1, .tls = OUTBOUND_TLS_DEFAULT, .mta_sts = 1};
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void policy_free(struct site_policy *p)
{
    for (size_t i = 0; i < p->n_overrides; i++)
        free(p->overrides[i].address);
    free(p->overrides);
    strv_free(p->spf_trusted_forwarders, p->n_spf_trusted_forwarders);
    free(p->spf_resolv_conf);
    strv_free(p->greylist_domains, p->n_greylist_domains);
    strv_free(p->xclient_hosts, p->n_xclient_hosts);
    memset(p, 0, sizeof *p);
}

void site_free(struct site *site)
{
    free(site->source);
    free(site->name);
    strv_free(site->domains, site->n_domains);
    free(site->ldap_base);
    free(site->admin_address);
    free(site->storage.alt_path);
    free(site->quota_warning_message);
    for (size_t i = 0; i < site->n_hosts; i++) {
        free(site->hosts[i].name);
        free(site->hosts[i].address);
        free(site->hosts[i].store_pair);
    }
    free(site->hosts);
    strv_free(site->tls_names, site->n_tls_names);
    site_cert_source_free(site);
    policy_free(&site->policy);
    free(site->filter.signatures);
    free(site->fabric.dns);
    free(site->fabric.client);
    strv_free(site->network.admin_hosts, site->network.n_admin_hosts);
    strv_free(site->network.resolver_forward, site->network.n_resolver_forward);
    strv_free(site->bruteforce.ignore, site->bruteforce.n_ignore);
    site_backup_free(&site->backup);
    memset(site, 0, sizeof *site);
}

const struct site_host *site_host_with_role(const struct site *site, unsigned role)
{
    for (size_t i = 0; i < site->n_hosts; i++)
        if (site->hosts[i].roles & role)
            return &site->hosts[i];
    return NULL;
}

size_t site_count_role(const struct site *site, unsigned role)
{
    size_t n = 0;
    for (size_t i = 0; i < site->n_hosts; i++)
        n += (site->hosts[i].roles & role) != 0;
    return n;
}

const struct site_host *site_store_partner(const struct site *site, const struct site_host *host)
{
    if (!(host->roles & ROLE_STORE) || host->store_pair == NULL)
        return NULL;
    for (size_t i = 0; i < site->n_hosts; i++) {
        const struct site_host *h = &site->hosts[i];
        if (h != host && (h->roles & ROLE_STORE) && h->store_pair && strcmp(h->store_pair, host->store_pair) == 0)
            return h;
    }
    return NULL;
}

static const struct {
    const char *name;
    unsigned bit;
} role_names[] = {
    {"relay", ROLE_RELAY},
    {"proxy", ROLE_PROXY},
    {"store", ROLE_STORE},
    {"directory", ROLE_DIRECTORY},
};

void site_roles_text(unsigned roles, buf *out)
{
    int first = 1;
    for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++) {
        if (!(roles & role_names[i].bit))
            continue;
        buf_printf(out, "%s%s", first ? "" : ", ", role_names[i].name);
        first = 0;
    }
}

/* ---- the walker ------------------------------------------------------------
 * src/lib/yaml_config.h walks the document and reports in its one form;
 * this file holds the schema, the values' rules and the rules over several
 * fields. Every problem is reported (YCFG_ERROR_LINES), sorted by line. */

/* Where the fields that rules over several fields are about stand in the
 * file, so those reports point at them (NULL: not in the file). */
struct host_nodes {
    const yaml_node_t *item, *name, *address, *roles, *store_pair;
};

struct loader {
    ycfg y;
    struct host_nodes *host_nodes;          /* beside site->hosts */
    const yaml_node_t *hosts_key, *admin_hosts_key, *resolver_key;
    const yaml_node_t *fabric_dns, *fabric_client;
    const yaml_node_t *spam_quarantine_level;
    const yaml_node_t *admin_address, *demo_users;     /* values, when given */
    const yaml_node_t *metrics;             /* read after the rest (its ports vs ports:) */
    const yaml_node_t **greylist_domain_nodes;  /* beside policy.greylist_domains */
    const yaml_node_t **override_key_nodes;     /* beside policy.overrides */
    const yaml_node_t *tls;                     /* the tls mapping, when given */
    struct cert_source_nodes cert_source;       /* its source, files, acme */
};

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return 0;
    return 1;
}

static int valid_ip(const char *s)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

/* A mail domain: the address module's rules, and at least two labels. */
static int valid_domain(const char *s)
{
    buf out = BUF_INIT, err = BUF_INIT;
    int ok = domain_normalize(s, &out, &err) == 0 && strchr(s, '.') != NULL;
    buf_free(&out);
    buf_free(&err);
    return ok;
}

/* A copy of a single value that is not empty and has no control characters. */
static char *take_string(ycfg *y, const yaml_node_t *node, const char *field)
{
    const char *s = ycfg_text(y, node, field);
    if (s == NULL)
        return NULL;
    if (*s == '\0') {
        ycfg_report(y, node, "%s: must not be empty", field);
        return NULL;
    }
    for (const char *p = s; *p; p++)
        if (iscntrl((unsigned char)*p)) {
            ycfg_report(y, node, "%s: control characters are not allowed", field);
            return NULL;
        }
    return xstrdup(s);
}

static void take_domains(ycfg *y, const yaml_node_t *node, struct site *site)
{
    ycfg_seq items;
    if (ycfg_seq_begin(y, node, "domains", &items))
        return;
    if (items.n == 0) {
        ycfg_report(y, node, "domains: the list is empty; expected at least one mail domain");
        return;
    }
    strv_free(site->domains, site->n_domains);
    site->n_domains = 0;
    site->domains = xcalloc(items.n, sizeof *site->domains);
    for (const yaml_node_t *item; (item = ycfg_seq_next(&items)) != NULL;) {
        const char *s = ycfg_text(y, item, "domains");
        if (s == NULL)
            continue;
        if (!valid_domain(s)) {
            ycfg_report(y, item, "domains: \"%s\" is not a domain name; expected e.g. example.org", s);
            continue;
        }
        for (size_t i = 0; i < site->n_domains; i++)
            if (strcasecmp(site->domains[i], s) == 0)
                ycfg_report(y, item, "domains: \"%s\" is listed twice", s);
        buf lower = BUF_INIT;
        for (const char *p = s; *p; p++)
            buf_append_char(&lower, (char)tolower((unsigned char)*p));
        site->domains[site->n_domains++] = buf_steal(&lower);
    }
}

static void take_names(ycfg *y, const yaml_node_t *node, struct site *site)
{
    ycfg_seq items;
    if (ycfg_seq_begin(y, node, "tls.names", &items))
        return;
    if (items.n == 0) {
        ycfg_report(y, node, "tls.names: the list is empty; expected the public host name first");
        return;
    }
    strv_free(site->tls_names, site->n_tls_names);
    site->n_tls_names = 0;
    site->tls_names = xcalloc(items.n, sizeof *site->tls_names);
    for (const yaml_node_t *item; (item = ycfg_seq_next(&items)) != NULL;) {
        const char *s = ycfg_text(y, item, "tls.names");
        if (s == NULL)
            continue;
        if (!valid_domain(s) && !valid_ip(s) && strcmp(s, "localhost") != 0) {
            ycfg_report(y, item, "tls.names: \"%s\" is not a host name or IP address", s);
            continue;
        }
        if (site->n_tls_names == 0 && valid_ip(s)) {
            ycfg_report(y, item, "tls.names: the first name is the public host name and must be a DNS name, not \"%s\"", s);
            continue;
        }
        site->tls_names[site->n_tls_names++] = xstrdup(s);
    }
}

static unsigned take_roles(ycfg *y, const yaml_node_t *node)
{
    ycfg_seq items;
    if (ycfg_seq_begin(y, node, "hosts.roles", &items))
        return 0;
    unsigned roles = 0;
    for (const yaml_node_t *item; (item = ycfg_seq_next(&items)) != NULL;) {
        const char *s = ycfg_text(y, item, "hosts.roles");
        if (s == NULL)
            continue;
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++)
            if (strcmp(s, role_names[i].name) == 0)
                bit = role_names[i].bit;
        if (bit == 0)
            ycfg_report(y, item, "hosts.roles: unknown role \"%s\"; expected relay, proxy, store or directory", s);
        else if (roles & bit)
            ycfg_report(y, item, "hosts.roles: role \"%s\" is listed twice", s);
        roles |= bit;
    }
    if (roles == 0 && !y->failed)
        ycfg_report(y, node, "hosts.roles: no role given; expected one or more of relay, proxy, store, directory");
    return roles;
}

static void free_hosts(struct site *site)
{
    for (size_t i = 0; i < site->n_hosts; i++) {
        free(site->hosts[i].name);
        free(site->hosts[i].address);
        free(site->hosts[i].store_pair);
    }
    free(site->hosts);
    site->hosts = NULL;
    site->n_hosts = 0;
}

/* One host of hosts: {name, address, roles, store_pair}. */
static void take_host(struct loader *l, const yaml_node_t *item, struct site *site)
{
    static const char *const keys[] = {"name", "address", "roles", "store_pair", NULL};
    ycfg *y = &l->y;
    ycfg_map m;
    if (ycfg_map_begin(y, item, "hosts", keys, &m) != 0) {
        ycfg_map_end(&m);
        return;
    }
    struct site_host *h = &site->hosts[site->n_hosts];
    struct host_nodes *at = &l->host_nodes[site->n_hosts];
    site->n_hosts++;
    h->line = item->start_mark.line + 1;
    h->column = item->start_mark.column + 1;
    at->item = item;
    while (ycfg_map_next_all(&m)) {
        switch (m.index) {
        case 0:
            free(h->name);
            at->name = m.value;
            h->name = take_string(y, m.value, m.path);
            if (h->name && !valid_name(h->name)) {
                ycfg_report(y, m.value, "hosts.name: \"%s\" is not a host name; expected lower-case letters, digits and '-', at most 63", h->name);
            } else if (h->name) {
                for (struct site_host *o = site->hosts; o < h; o++)
                    if (o->name && strcmp(o->name, h->name) == 0)
                        ycfg_report(y, m.value, "hosts.name: host \"%s\" is defined twice", h->name);
            }
            break;
        case 1:
            free(h->address);
            at->address = m.value;
            h->address = take_string(y, m.value, m.path);
            if (h->address && !valid_ip(h->address))
                ycfg_report(y, m.value, "hosts.address: \"%s\" is not an IP address; expected e.g. 127.0.0.1 or 2001:db8::25", h->address);
            break;
        case 2:
            at->roles = m.value;
            h->roles = take_roles(y, m.value);
            break;
        case 3:
            free(h->store_pair);
            at->store_pair = m.value;
            h->store_pair = take_string(y, m.value, m.path);
            if (h->store_pair && !valid_name(h->store_pair))
                ycfg_report(y, m.value, "hosts.store_pair: \"%s\" is not a name; expected lower-case letters, digits and '-'", h->store_pair);
            break;
        default:
            break;
        }
    }
    ycfg_map_end(&m);
    /* A missing key has no node of its own: the host's. */
    if (at->name == NULL)
        ycfg_report(y, item, "hosts: this host has no \"name\"");
    if (at->address == NULL)
        ycfg_report(y, item, "hosts: this host has no \"address\"");
    if (at->roles == NULL)
        ycfg_report(y, item, "hosts: this host has no \"roles\"");
    if (h->store_pair && !(h->roles & ROLE_STORE))
        ycfg_report(y, at->store_pair, "hosts.store_pair: only a host with the store role has a store pair");
    /* A store without store_pair: pair1 on a one-host site, an error
     * on a site of several hosts (check_topology). */
}

static void take_hosts(struct loader *l, const yaml_node_t *node, struct site *site)
{
    ycfg *y = &l->y;
    ycfg_seq items;
    if (ycfg_seq_begin(y, node, "hosts", &items))
        return;
    if (items.n == 0) {
        ycfg_report(y, node, "hosts: the list is empty; expected at least one host");
        return;
    }
    free_hosts(site);
    free(l->host_nodes);
    site->hosts = xcalloc(items.n, sizeof *site->hosts);
    l->host_nodes = xcalloc(items.n, sizeof *l->host_nodes);
    for (const yaml_node_t *item; (item = ycfg_seq_next(&items)) != NULL;)
        take_host(l, item, site);
}

/* fabric: {dns: ADDR, client: ADDR} (struct site_fabric). */
static void take_fabric(struct loader *l, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"dns", "client", NULL};
    ycfg *y = &l->y;
    ycfg_map m;
    if (ycfg_map_begin(y, node, "fabric", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            char *addr = take_string(y, m.value, m.path);
            if (addr && !valid_ip(addr)) {
                ycfg_report(y, m.value, "%s: \"%s\" is not an IP address; expected e.g. 198.18.0.53", m.path, addr);
                free(addr);
                addr = NULL;
            }
            if (addr) {
                char **slot = m.index == 0 ? &site->fabric.dns : &site->fabric.client;
                free(*slot);
                *slot = addr;
                *(m.index == 0 ? &l->fabric_dns : &l->fabric_client) = m.value;
            }
        }
    ycfg_map_end(&m);
}

/* The node of host i's field, or the host's own node when the field is
 * not in the file (NULL for the built-in host: 1:1). */
#define HOST_AT(l, i, field) ((l)->host_nodes == NULL ? NULL \
                              : (l)->host_nodes[i].field ? (l)->host_nodes[i].field : (l)->host_nodes[i].item)

/* Rules over all hosts (docs/architecture.md, "The site model"):
 * unique addresses; a relay never holds the directory (X1); one host with
 * every role (the small site), or every host with exactly one role (the
 * full topology) with at least two relays, two proxies, and stores in pairs
 * of exactly two, and one directory host. */
static void check_topology(struct loader *l, struct site *site)
{
    ycfg *y = &l->y;
    for (size_t i = 0; i < site->n_hosts; i++) {
        struct site_host *h = &site->hosts[i];
        for (size_t j = 0; j < i; j++)
            if (h->address && site->hosts[j].address && strcmp(h->address, site->hosts[j].address) == 0)
                ycfg_report(y, HOST_AT(l, i, address), "hosts.address: %s is the address of host \"%s\" too; "
                            "every host needs its own address", h->address, site->hosts[j].name);
        if ((h->roles & ROLE_RELAY) && (h->roles & ROLE_DIRECTORY) && site->n_hosts > 1)
            ycfg_report(y, HOST_AT(l, i, roles), "hosts: host \"%s\" has the roles relay and directory; a relay "
                        "stands in the DMZ and must not hold (or reach) the directory (X1)", h->name);
    }
    if (site->n_hosts == 1) {
        struct site_host *h = &site->hosts[0];
        if ((h->roles & ROLE_STORE) && h->store_pair == NULL)
            h->store_pair = xstrdup("pair1");
        return;
    }
    for (size_t i = 0; i < site->n_hosts; i++) {
        struct site_host *h = &site->hosts[i];
        if (h->roles == 0 || (h->roles & (h->roles - 1)) == 0)
            continue;
        if ((h->roles & ROLE_RELAY) && (h->roles & ROLE_DIRECTORY))
            continue;   /* reported above */
        buf roles = BUF_INIT;
        site_roles_text(h->roles, &roles);
        ycfg_report(y, HOST_AT(l, i, roles), "hosts: host \"%s\" has the roles %s; in a site of several hosts "
                    "each host has exactly one role (only the one-host small site combines them)",
                    h->name, buf_cstr(&roles));
        buf_free(&roles);
    }
    if (y->failed)
        return;
    static const struct {
        unsigned role;
        size_t min, max;
        const char *why;
    } counts[] = {
        {ROLE_RELAY, 2, 0, "two relays, so that the MX survives the loss of one (A2, A3)"},
        {ROLE_PROXY, 2, 0, "two proxies, so that users get in when one is lost (A2, A3)"},
        {ROLE_STORE, 2, 0, "two stores, a replicated pair (A2, M3)"},
        {ROLE_DIRECTORY, 1, 1, "exactly one directory host in this version"},
    };
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        size_t n = site_count_role(site, counts[c].role);
        if (n < counts[c].min || (counts[c].max && n > counts[c].max)) {
            buf roles = BUF_INIT;
            site_roles_text(counts[c].role, &roles);
            ycfg_report(y, l->hosts_key, "hosts: %zu host(s) with the role %s; "
                        "a site of several hosts needs %s", n, buf_cstr(&roles), counts[c].why);
            buf_free(&roles);
        }
    }
    for (size_t i = 0; i < site->n_hosts; i++) {
        struct site_host *h = &site->hosts[i];
        if (!(h->roles & ROLE_STORE))
            continue;
        if (h->store_pair == NULL) {
            ycfg_report(y, HOST_AT(l, i, item), "hosts: store \"%s\" has no store_pair; in a site of several "
                        "hosts every store names its pair (two stores replicating each other)", h->name);
            continue;
        }
        size_t n = 0, first = i;
        for (size_t j = 0; j < site->n_hosts; j++)
            if ((site->hosts[j].roles & ROLE_STORE) && site->hosts[j].store_pair
                && strcmp(site->hosts[j].store_pair, h->store_pair) == 0) {
                if (n == 0)
                    first = j;
                n++;
            }
        if (n != 2 && first == i)
            ycfg_report(y, HOST_AT(l, i, store_pair), "hosts.store_pair: the pair \"%s\" has %zu store(s); a pair is "
                        "exactly two stores, each replicating the other (M3)", h->store_pair, n);
    }
    const char *const extra[] = {site->fabric.dns, site->fabric.client};
    const yaml_node_t *const extra_at[] = {l->fabric_dns, l->fabric_client};
    for (size_t e = 0; e < 2; e++)
        for (size_t i = 0; extra[e] && i < site->n_hosts; i++)
            if (site->hosts[i].address && strcmp(extra[e], site->hosts[i].address) == 0)
                ycfg_report(y, extra_at[e], "fabric.%s: %s is the address of host \"%s\"; the fabric's %s needs "
                            "its own", e ? "client" : "dns", extra[e], site->hosts[i].name,
                            e ? "client" : "DNS server");
    if (site->fabric.dns && site->fabric.client && strcmp(site->fabric.dns, site->fabric.client) == 0)
        ycfg_report(y, l->fabric_client, "fabric: dns and client have the same address %s", site->fabric.dns);
}

static void take_quota(ycfg *y, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"default", "grace", "warnings", "warning_message", NULL};
    ycfg_map m;
    if (ycfg_map_begin(y, node, "quota", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            if (m.index == 2) {
                site_quota_warnings_take(y, m.value, site);
            } else if (m.index == 3) {
                site_quota_warning_message_take(y, m.value, site);
            } else if (m.index == 0) {
                if (ycfg_size(y, m.value, m.path, &site->quota_default) != 0)
                    continue;
                buf err = BUF_INIT;   /* 0 stays allowed here: no quota at all */
                if (site->quota_default != 0 && quota_size_check(site->quota_default, &err) != 0)
                    ycfg_report(y, m.value, "quota.default: %s", buf_cstr(&err));
                buf_free(&err);
            } else {
                const char *s = ycfg_text(y, m.value, m.path);
                if (s == NULL)
                    continue;
                char *end = NULL;
                errno = 0;
                long pct = strtol(s, &end, 10);
                if (errno || end == s || strcmp(end, "%") != 0 || pct < 0 || pct > 100)
                    ycfg_report(y, m.value, "quota.grace: \"%s\" is not a percentage; expected e.g. 10%%", s);
                else
                    site->quota_grace_percent = (unsigned)pct;
            }
        }
    ycfg_map_end(&m);
}

static void take_limits(ycfg *y, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"message_size", "line_length", NULL};
    ycfg_map m;
    long line_length;
    if (ycfg_map_begin(y, node, "limits", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            if (m.index == 0) {
                if (ycfg_size(y, m.value, m.path, &site->message_size) == 0 && site->message_size < 64 * 1024)
                    ycfg_report(y, m.value, "limits.message_size: at least 64K is needed for ordinary mail");
            } else if (ycfg_long(y, m.value, m.path, 998, 1 << 20, &line_length) == 0) {
                site->line_length = (unsigned long long)line_length;
            }
        }
    ycfg_map_end(&m);
}

static void take_ports(ycfg *y, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"smtp", "submission", "submissions", "imap", "imaps",
                                       "pop3", "pop3s", "managesieve", "lmtp", "quota_status", NULL};
    enum { N_PORTS = sizeof keys / sizeof keys[0] - 1 };
    int *slots[N_PORTS] = {&site->ports.smtp, &site->ports.submission, &site->ports.submissions,
                           &site->ports.imap, &site->ports.imaps, &site->ports.pop3, &site->ports.pop3s,
                           &site->ports.managesieve, &site->ports.lmtp, &site->ports.quota_status};
    const yaml_node_t *given[N_PORTS] = {0};    /* the value node of a port in the file */
    int invalid[N_PORTS] = {0};
    ycfg_map m;
    if (ycfg_map_begin(y, node, "ports", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            given[m.index] = m.value;
            invalid[m.index] = ycfg_port(y, m.value, m.path, slots[m.index]) != 0;
        }
    ycfg_map_end(&m);
    /* Two services on one port: reported at the one given later in the file. */
    for (size_t i = 0; i < N_PORTS; i++)
        for (size_t j = i + 1; j < N_PORTS; j++) {
            if (invalid[i] || invalid[j] || *slots[i] != *slots[j])
                continue;
            const yaml_node_t *at = given[i];
            if (at == NULL || (given[j] && (given[j]->start_mark.line > at->start_mark.line
                                            || (given[j]->start_mark.line == at->start_mark.line
                                                && given[j]->start_mark.column > at->start_mark.column))))
                at = given[j];
            ycfg_report(y, at ? at : node, "ports: %s and %s both use port %d", keys[i], keys[j], *slots[i]);
        }
}

/* A SpamAssassin score with at most one decimal, from min to max tenths. */
static void take_score(ycfg *y, const yaml_node_t *node, const char *field, int min_tenths, int max_tenths,
                       int *out)
{
    const char *s = ycfg_text(y, node, field);
    if (s == NULL)
        return;
    int tenths = 0, digits = 0;
    const char *p = s;
    while (isdigit((unsigned char)*p) && digits < 4) {
        tenths = tenths * 10 + (*p++ - '0');
        digits++;
    }
    tenths *= 10;
    if (digits > 0 && *p == '.' && isdigit((unsigned char)p[1])) {
        tenths += p[1] - '0';
        p += 2;
    }
    if (digits == 0 || *p != '\0' || tenths < min_tenths || tenths > max_tenths) {
        ycfg_report(y, node, "%s: \"%s\" is not a score from %d.%d to %d.%d with at most one decimal; "
                    "expected e.g. 5.0", field, s, min_tenths / 10, min_tenths % 10,
                    max_tenths / 10, max_tenths % 10);
        return;
    }
    *out = tenths;
}

static void take_filter(struct loader *l, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"enabled", "before_queue", "virus_action", "spam_junk_level",
                                       "spam_quarantine_level", "quarantine", "signatures",
                                       "processes", "network_tests", NULL};
    static const char *const quarantine_keys[] = {"size", NULL};
    ycfg *y = &l->y;
    struct site_filter *f = &site->filter;
    ycfg_map m, q;
    if (ycfg_map_begin(y, node, "filter", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            const yaml_node_t *v = m.value;
            switch (m.index) {
            case 0: ycfg_bool(y, v, m.path, &f->enabled); break;
            case 1: ycfg_bool(y, v, m.path, &f->before_queue); break;
            case 2: {
                const char *s = ycfg_text(y, v, m.path);
                if (s && strcmp(s, "quarantine") == 0)
                    f->virus_action = VIRUS_QUARANTINE;
                else if (s && strcmp(s, "discard") == 0)
                    f->virus_action = VIRUS_DISCARD;
                else if (s)
                    ycfg_report(y, v, "filter.virus_action: \"%s\" is not an action; expected quarantine or discard", s);
                break;
            }
            case 3: take_score(y, v, m.path, 5, 100, &f->spam_junk_tenths); break;
            case 4:
                l->spam_quarantine_level = v;
                /* off (or any false word): never quarantine spam. */
                if (v->type == YAML_SCALAR_NODE && ycfg_bool_word((const char *)v->data.scalar.value) == 0)
                    f->spam_quarantine_tenths = 0;
                else
                    take_score(y, v, m.path, 10, 1000, &f->spam_quarantine_tenths);
                break;
            case 5:
                if (ycfg_map_begin(y, v, m.path, quarantine_keys, &q) == 0)
                    while (ycfg_map_next_all(&q))
                        if (ycfg_size(y, q.value, q.path, &f->quarantine_size) == 0
                            && f->quarantine_size < 1024 * 1024)
                            ycfg_report(y, q.value, "filter.quarantine.size: at least 1M is needed (a few infected messages)");
                ycfg_map_end(&q);
                break;
            case 6: {
                char *path = take_string(y, v, m.path);
                if (path && path[0] != '/') {
                    ycfg_report(y, v, "filter.signatures: \"%s\" is not an absolute path; expected e.g. /var/lib/clamav", path);
                    free(path);
                } else if (path && strpbrk(path, " \t'\"\\") != NULL) {
                    ycfg_report(y, v, "filter.signatures: \"%s\": spaces, quotes and backslashes are not allowed", path);
                    free(path);
                } else if (path) {
                    free(f->signatures);
                    f->signatures = path;
                }
                break;
            }
            case 7: ycfg_int(y, v, m.path, 1, 32, &f->processes); break;
            case 8: ycfg_bool(y, v, m.path, &f->network_tests); break;
            default: break;
            }
        }
    ycfg_map_end(&m);
    if (f->spam_quarantine_tenths && f->spam_quarantine_tenths <= f->spam_junk_tenths)
        ycfg_report(y, l->spam_quarantine_level ? l->spam_quarantine_level : node,
                    "filter.spam_quarantine_level: must be above spam_junk_level (%d.%d), or off",
                    f->spam_junk_tenths / 10, f->spam_junk_tenths % 10);
}

/* ---- dkim: (OpenDKIM on the relays) --------------------------------------- */

static void take_dkim(ycfg *y, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"enabled", "retire_after_days", NULL};
    ycfg_map m;
    if (ycfg_map_begin(y, node, "dkim", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            switch (m.index) {
            case 0: ycfg_bool(y, m.value, m.path, &site->dkim.enabled); break;
            case 1: ycfg_int(y, m.value, m.path, 0, 365, &site->dkim.retire_days); break;
            default: break;
            }
        }
    ycfg_map_end(&m);
}

/* ---- policy: (emailng-policyd) ------------------------------------------- */

/* An IPv4/IPv6 address, or a network ADDRESS/PREFIX (netaddr.h's rules). */
static int valid_network(const char *s)
{
    struct netaddr_net net;
    return netaddr_parse_net(s, &net) == 0;
}


/* A list of networks (addresses or ADDRESS/PREFIX); replaces *v. */
static void take_networks(ycfg *y, const yaml_node_t *node, const char *field, char ***v, size_t *n)
{
    ycfg_seq items;
    if (ycfg_seq_begin(y, node, field, &items))
        return;
    strv_free(*v, *n);
    *n = 0;
    *v = xcalloc(items.n + 1, sizeof **v);
    for (const yaml_node_t *item; (item = ycfg_seq_next(&items)) != NULL;) {
        const char *s = ycfg_text(y, item, field);
        if (s == NULL)
            continue;
        if (!valid_network(s)) {
            ycfg_report(y, item, "%s: \"%s\" is not an IP address or network; expected e.g. 192.0.2.25 or 198.51.100.0/24",
                        field, s);
            continue;
        }
        (*v)[(*n)++] = xstrdup(s);
    }
}

/* msgs_per_hour, rcpts_per_msg, rcpts_per_day (0 = no limit); keys not given keep *out. */
static void take_send_limits(ycfg *y, const yaml_node_t *node, const char *field, struct site_send_limits *out)
{
    static const char *const keys[] = {"msgs_per_hour", "rcpts_per_msg", "rcpts_per_day", NULL};
    long *slots[] = {&out->msgs_per_hour, &out->rcpts_per_msg, &out->rcpts_per_day};
    ycfg_map m;
    if (ycfg_map_begin(y, node, field, keys, &m) == 0)
        while (ycfg_map_next_all(&m))
            ycfg_long(y, m.value, m.path, 0, 1000000000L, slots[m.index]);
    ycfg_map_end(&m);
}

/* policy.limits.overrides: {ADDRESS: limits}, the addresses chosen by the user. */
static void take_overrides(struct loader *l, const yaml_node_t *node, struct site_policy *pol)
{
    ycfg *y = &l->y;
    ycfg_map m;
    if (ycfg_map_begin(y, node, "policy.limits.overrides", NULL, &m) != 0) {
        ycfg_map_end(&m);
        return;
    }
    for (size_t i = 0; i < pol->n_overrides; i++)
        free(pol->overrides[i].address);
    free(pol->overrides);
    free(l->override_key_nodes);
    pol->n_overrides = 0;
    pol->overrides = xcalloc(m.n + 1, sizeof *pol->overrides);
    l->override_key_nodes = xcalloc(m.n + 1, sizeof *l->override_key_nodes);
    while (ycfg_map_next_all(&m)) {
        buf address = BUF_INIT, why = BUF_INIT;
        if (strchr(m.key, '@') == NULL) {
            ycfg_report(y, m.key_node, "policy.limits.overrides: \"%s\" is not a full address; expected e.g. alice@example.org", m.key);
        } else if (address_normalize(m.key, NULL, &address, &why) != 0) {
            ycfg_report(y, m.key_node, "policy.limits.overrides: %s", buf_cstr(&why));
        } else {
            int dup = 0;
            for (size_t i = 0; i < pol->n_overrides; i++)
                dup |= strcmp(pol->overrides[i].address, buf_cstr(&address)) == 0;
            if (dup) {
                ycfg_report(y, m.key_node, "policy.limits.overrides: %s is listed twice", buf_cstr(&address));
            } else {
                l->override_key_nodes[pol->n_overrides] = m.key_node;
                struct site_limit_override *o = &pol->overrides[pol->n_overrides++];
                o->address = buf_steal(&address);
                o->limits = (struct site_send_limits){-1, -1, -1};
                char *field = xasprintf("policy.limits.overrides.%s", o->address);
                take_send_limits(y, m.value, field, &o->limits);
                free(field);
            }
        }
        buf_free(&address);
        buf_free(&why);
    }
    ycfg_map_end(&m);
}

static void take_policy_limits(struct loader *l, const yaml_node_t *node, struct site_policy *pol)
{
    static const char *const keys[] = {"user", "client", "overrides", NULL};
    ycfg *y = &l->y;
    ycfg_map m;
    if (ycfg_map_begin(y, node, "policy.limits", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            switch (m.index) {
            case 0: take_send_limits(y, m.value, m.path, &pol->user); break;
            case 1: take_send_limits(y, m.value, m.path, &pol->client); break;
            case 2: take_overrides(l, m.value, pol); break;
            default: break;
            }
        }
    ycfg_map_end(&m);
}

static void take_policy_spf(ycfg *y, const yaml_node_t *node, struct site_policy *pol)
{
    static const char *const keys[] = {"enabled", "reject_fail", "trusted_forwarders", "resolv_conf", NULL};
    ycfg_map m;
    if (ycfg_map_begin(y, node, "policy.spf", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            switch (m.index) {
            case 0: ycfg_bool(y, m.value, m.path, &pol->spf_enabled); break;
            case 1: ycfg_bool(y, m.value, m.path, &pol->spf_reject_fail); break;
            case 2:
                take_networks(y, m.value, m.path, &pol->spf_trusted_forwarders, &pol->n_spf_trusted_forwarders);
                break;
            case 3: {
                char *path = take_string(y, m.value, m.path);
                if (path && (path[0] != '/' || strpbrk(path, " \t'\"\\#:") != NULL)) {
                    ycfg_report(y, m.value, "policy.spf.resolv_conf: \"%s\" is not an absolute path without spaces, "
                                "quotes, '#' or ':'; expected e.g. /etc/emailng/resolv.conf", path);
                    free(path);
                } else if (path) {
                    free(pol->spf_resolv_conf);
                    pol->spf_resolv_conf = path;
                }
                break;
            }
            default: break;
            }
        }
    ycfg_map_end(&m);
}

static void take_greylist_domains(struct loader *l, const yaml_node_t *node, const char *field,
                                  struct site_policy *pol)
{
    ycfg *y = &l->y;
    ycfg_seq items;
    if (ycfg_seq_begin(y, node, field, &items))
        return;
    strv_free(pol->greylist_domains, pol->n_greylist_domains);
    free(l->greylist_domain_nodes);
    pol->n_greylist_domains = 0;
    pol->greylist_domains = xcalloc(items.n + 1, sizeof *pol->greylist_domains);
    l->greylist_domain_nodes = xcalloc(items.n + 1, sizeof *l->greylist_domain_nodes);
    for (const yaml_node_t *item; (item = ycfg_seq_next(&items)) != NULL;) {
        const char *s = ycfg_text(y, item, field);
        buf d = BUF_INIT, why = BUF_INIT;
        if (s && (!valid_domain(s) || domain_normalize(s, &d, &why) != 0)) {
            ycfg_report(y, item, "policy.greylist.domains: \"%s\" is not a domain name; expected e.g. example.org", s);
        } else if (s) {
            l->greylist_domain_nodes[pol->n_greylist_domains] = item;
            pol->greylist_domains[pol->n_greylist_domains++] = buf_steal(&d);
        }
        buf_free(&d);
        buf_free(&why);
    }
}

static void take_policy_greylist(struct loader *l, const yaml_node_t *node, struct site_policy *pol)
{
    static const char *const keys[] = {"enabled", "domains", "delay", NULL};
    ycfg *y = &l->y;
    ycfg_map m;
    if (ycfg_map_begin(y, node, "policy.greylist", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            switch (m.index) {
            case 0: ycfg_bool(y, m.value, m.path, &pol->greylist_enabled); break;
            case 1: take_greylist_domains(l, m.value, m.path, pol); break;
            case 2: ycfg_long(y, m.value, m.path, 1, 86400, &pol->greylist_delay); break;
            default: break;
            }
        }
    ycfg_map_end(&m);
}

static void take_policy(struct loader *l, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"limits", "spf", "greylist", "xclient_hosts", NULL};
    struct site_policy *pol = &site->policy;
    ycfg *y = &l->y;
    ycfg_map m;
    if (ycfg_map_begin(y, node, "policy", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            switch (m.index) {
            case 0: take_policy_limits(l, m.value, pol); break;
            case 1: take_policy_spf(y, m.value, pol); break;
            case 2: take_policy_greylist(l, m.value, pol); break;
            case 3: take_networks(y, m.value, m.path, &pol->xclient_hosts, &pol->n_xclient_hosts); break;
            default: break;
            }
        }
    ycfg_map_end(&m);
}

static void take_site_section(ycfg *y, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"name", NULL};
    ycfg_map m;
    if (ycfg_map_begin(y, node, "site", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            char *name = take_string(y, m.value, m.path);
            if (name && !valid_name(name))
                ycfg_report(y, m.value, "site.name: \"%s\" is not a name; expected lower-case letters, digits and '-'", name);
            if (name) {
                free(site->name);
                site->name = name;
            }
        }
    ycfg_map_end(&m);
}

static void take_directory(ycfg *y, const yaml_node_t *node, struct site *site, int *base_given)
{
    static const char *const keys[] = {"base", NULL};
    ycfg_map m;
    if (ycfg_map_begin(y, node, "directory", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            char *base = take_string(y, m.value, m.path);
            if (base == NULL)
                continue;
            /* Only dc= components: the base is written into several configs. */
            int ok = strncmp(base, "dc=", 3) == 0;
            for (char *c = base; ok && *c; c++)
                if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '=' || *c == ','))
                    ok = 0;
            if (!ok) {
                ycfg_report(y, m.value, "directory.base: \"%s\" is not a base DN of dc= parts; expected e.g. dc=example,dc=org", base);
                free(base);
                continue;
            }
            free(site->ldap_base);
            site->ldap_base = base;
            *base_given = 1;
        }
    ycfg_map_end(&m);
}

static void take_tls(struct loader *l, const yaml_node_t *node, struct site *site, int *names_given)
{
    static const char *const keys[] = {"names", "source", "files", "acme", NULL};
    ycfg *y = &l->y;
    ycfg_map m;
    l->tls = node;
    if (ycfg_map_begin(y, node, "tls", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            if (site_cert_source_take(y, m.key, m.value, site, &l->cert_source))
                continue;
            take_names(y, m.value, site);
            *names_given = 1;
        }
    ycfg_map_end(&m);
}

/* ---- admin_hosts, resolver: (the firewall and the relays' resolvers) ------ */

/* A network ADDR/PREFIX (or one address) with no bits set past the prefix:
 * the firewall would silently widen 192.0.2.5/24 to 192.0.2.0/24. */
static int network_host_bits_clear(const char *s)
{
    struct netaddr_net net;
    return netaddr_parse_net(s, &net) == 0 && netaddr_net_is_canonical(&net);
}


static void take_admin_hosts(ycfg *y, const yaml_node_t *node, struct site *site)
{
    struct site_network *net = &site->network;
    ycfg_seq items;
    if (ycfg_seq_begin(y, node, "admin_hosts", &items))
        return;
    strv_free(net->admin_hosts, net->n_admin_hosts);
    net->n_admin_hosts = 0;
    net->admin_hosts = xcalloc(items.n + 1, sizeof *net->admin_hosts);
    for (const yaml_node_t *item; (item = ycfg_seq_next(&items)) != NULL;) {
        const char *s = ycfg_text(y, item, "admin_hosts");
        if (s == NULL)
            continue;
        if (!valid_network(s))
            ycfg_report(y, item, "admin_hosts: \"%s\" is not an IP address or network; expected e.g. 192.0.2.25 "
                        "or 198.51.100.0/24", s);
        else if (!network_host_bits_clear(s))
            ycfg_report(y, item, "admin_hosts: \"%s\" has address bits set past its prefix length; "
                        "write the network's first address, e.g. 192.0.2.0/24", s);
        else
            net->admin_hosts[net->n_admin_hosts++] = xstrdup(s);
    }
}

/* resolver: {forward: [ADDR, ...]} */
static void take_resolver(ycfg *y, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"forward", NULL};
    struct site_network *net = &site->network;
    ycfg_map m;
    ycfg_seq items;
    if (ycfg_map_begin(y, node, "resolver", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            if (ycfg_seq_begin(y, m.value, m.path, &items))
                continue;
            strv_free(net->resolver_forward, net->n_resolver_forward);
            net->n_resolver_forward = 0;
            net->resolver_forward = xcalloc(items.n + 1, sizeof *net->resolver_forward);
            for (const yaml_node_t *item; (item = ycfg_seq_next(&items)) != NULL;) {
                const char *s = ycfg_text(y, item, m.path);
                if (s == NULL)
                    continue;
                if (!valid_ip(s)) {
                    ycfg_report(y, item, "resolver.forward: \"%s\" is not an IP address; expected e.g. 192.0.2.53", s);
                    continue;
                }
                net->resolver_forward[net->n_resolver_forward++] = xstrdup(s);
            }
        }
    ycfg_map_end(&m);
}

/* bruteforce: {maxretry: N, findtime: SECONDS, bantime: SECONDS, ignore: [NET, ...]} */
static void take_bruteforce(ycfg *y, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"maxretry", "findtime", "bantime", "ignore", NULL};
    static const long max[] = {1000, 7 * 86400, 365 * 86400L};
    struct site_bruteforce *bf = &site->bruteforce;
    long *slots[] = {&bf->maxretry, &bf->findtime, &bf->bantime};
    ycfg_map m;
    ycfg_seq items;
    if (ycfg_map_begin(y, node, "bruteforce", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            if (m.index < 3) {
                (void)ycfg_long(y, m.value, m.path, 1, max[m.index], slots[m.index]);
                continue;
            }
            if (ycfg_seq_begin(y, m.value, m.path, &items))
                continue;
            strv_free(bf->ignore, bf->n_ignore);
            bf->n_ignore = 0;
            bf->ignore = xcalloc(items.n + 1, sizeof *bf->ignore);
            for (const yaml_node_t *item; (item = ycfg_seq_next(&items)) != NULL;) {
                const char *s = ycfg_text(y, item, m.path);
                if (s == NULL)
                    continue;
                if (!valid_network(s))
                    ycfg_report(y, item, "bruteforce.ignore: \"%s\" is not an IP address or network; expected "
                                "e.g. 192.0.2.25 or 198.51.100.0/24", s);
                else if (!network_host_bits_clear(s))
                    ycfg_report(y, item, "bruteforce.ignore: \"%s\" has address bits set past its prefix length; "
                                "write the network's first address, e.g. 192.0.2.0/24", s);
                else
                    bf->ignore[bf->n_ignore++] = xstrdup(s);
            }
        }
    ycfg_map_end(&m);
}

/* srs: {enabled: BOOL} */
static void take_srs(ycfg *y, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"enabled", NULL};
    ycfg_map m;
    if (ycfg_map_begin(y, node, "srs", keys, &m) == 0)
        while (ycfg_map_next_all(&m))
            (void)ycfg_bool(y, m.value, m.path, &site->outbound.srs_enabled);
    ycfg_map_end(&m);
}

/* outbound: {tls: may|dane, mta_sts: BOOL} */
static void take_outbound(ycfg *y, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"tls", "mta_sts", NULL};
    static const struct { const char *word; enum site_outbound_tls level; } levels[] = {
        {"may", OUTBOUND_TLS_MAY},
        {"dane", OUTBOUND_TLS_DANE},
    };
    ycfg_map m;
    if (ycfg_map_begin(y, node, "outbound", keys, &m) == 0)
        while (ycfg_map_next_all(&m)) {
            if (m.index == 1) {
                (void)ycfg_bool(y, m.value, m.path, &site->outbound.mta_sts);
                continue;
            }
            const char *s = ycfg_text(y, m.value, m.path);
            if (s == NULL)
                continue;
            size_t i = 0;
            while (i < sizeof levels / sizeof levels[0] && strcmp(levels[i].word, s) != 0)
                i++;
            if (i < sizeof levels / sizeof levels[0])
                site->outbound.tls = levels[i].level;
            else
                ycfg_report(y, m.value, "outbound.tls: \"%s\" is not a TLS policy; expected may or dane", s);
        }
    ycfg_map_end(&m);
}

static void base_from_domain(const char *domain, buf *out)
{
    buf_reset(out);
    const char *p = domain;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        buf_printf(out, "%sdc=%.*s", out->len ? "," : "", (int)len, p);
        if (!dot)
            break;
        p = dot + 1;
    }
}

static int is_site_domain(const struct site *site, const char *domain)
{
    for (size_t j = 0; j < site->n_domains; j++)
        if (strcmp(domain, site->domains[j]) == 0)
            return 1;
    return 0;
}

/* Rules over several sections, once every key is read; each report points
 * at the field it is about. */
static void check_site(struct loader *l, struct site *site)
{
    ycfg *y = &l->y;
    unsigned covered = 0;
    for (size_t i = 0; i < site->n_hosts; i++)
        covered |= site->hosts[i].roles;
    if (!y->failed && covered != ROLE_ALL) {
        buf missing = BUF_INIT;
        site_roles_text(ROLE_ALL & ~covered, &missing);
        ycfg_report(y, l->hosts_key, "hosts: no host has the role(s) %s; every role needs a host", buf_cstr(&missing));
        buf_free(&missing);
    }
    if (site->n_hosts > 0)
        check_topology(l, site);
    /* The one-host site has neither our firewall nor the relays'
     * resolver: the host's own are the administrator's. */
    if (site->n_hosts == 1 && site->network.n_admin_hosts)
        ycfg_report(y, l->admin_hosts_key, "admin_hosts: only a site of several hosts gets a firewall from EmailNG; "
                    "on the one-host site the host's own firewall decides who reaches ssh");
    if (site->n_hosts == 1 && site->network.n_resolver_forward)
        ycfg_report(y, l->resolver_key, "resolver: only the relays of a site of several hosts run EmailNG's caching "
                    "resolver; the one-host site uses the host's own resolver");
    const struct site_policy *pol = &site->policy;
    for (size_t i = 0; i < pol->n_greylist_domains; i++)
        if (!is_site_domain(site, pol->greylist_domains[i]))
            ycfg_report(y, l->greylist_domain_nodes[i], "policy.greylist.domains: \"%s\" is not one of the site's "
                        "domains; greylisting applies to mail for our own domains", pol->greylist_domains[i]);
    /* Users exist only in the site's domains: a limit for another never applies. */
    for (size_t i = 0; i < pol->n_overrides; i++) {
        const char *at = strrchr(pol->overrides[i].address, '@');
        if (at && !is_site_domain(site, at + 1))
            ycfg_report(y, l->override_key_nodes[i], "policy.limits.overrides: %s is not in one of the site's "
                        "domains; limits apply to the site's own users", pol->overrides[i].address);
    }
}

/* admin_address: ADDRESS (postmaster@ and abuse@ of every domain go there). */
static void take_admin_address(ycfg *y, const yaml_node_t *node, struct site *site)
{
    const char *s = ycfg_text(y, node, "admin_address");
    if (s == NULL)
        return;
    buf out = BUF_INIT, why = BUF_INIT;
    if (strchr(s, '@') == NULL)
        ycfg_report(y, node, "admin_address: \"%s\" is not an address; expected e.g. "
                    "hostmaster@example.org (postmaster@ and abuse@ of every domain go there)", s);
    else if (address_normalize(s, NULL, &out, &why) != 0)
        ycfg_report(y, node, "admin_address: %s; expected e.g. hostmaster@example.org", buf_cstr(&why));
    else {
        free(site->admin_address);
        site->admin_address = buf_steal(&out);
    }
    buf_free(&out);
    buf_free(&why);
}

/* Without the key: alice@ the primary domain, only when the site has demo
 * users (a real site names its administrator). Never one of the aliases it
 * is the target of: mail to postmaster@ would go round in a loop. */
static void check_admin_address(struct loader *l, struct site *site)
{
    if (l->admin_address == NULL) {
        free(site->admin_address);
        site->admin_address = NULL;
        if (site->demo_users && site->n_domains > 0)
            site->admin_address = xasprintf("alice@%s", site->domains[0]);
        else if (!site->demo_users)
            ycfg_report(&l->y, l->demo_users, "admin_address: required when demo_users is false; "
                        "expected the address that receives the mail of postmaster@ and abuse@ "
                        "of every domain, e.g. admin_address: hostmaster@%s",
                        site->n_domains > 0 ? site->domains[0] : "example.org");
        return;
    }
    const char *a = site->admin_address, *at = a ? strrchr(a, '@') : NULL;
    if (at == NULL)
        return;     /* reported by take_admin_address */
    size_t local = (size_t)(at - a);
    int role = (local == 10 && strncmp(a, "postmaster", 10) == 0) || (local == 5 && strncmp(a, "abuse", 5) == 0);
    if (role && is_site_domain(site, at + 1))
        ycfg_report(&l->y, l->admin_address, "admin_address: %s is one of the aliases that point to it "
                    "(a loop); expected a user's address or one outside the site's domains", a);
}

/* The defaults that follow from other keys: TLS names and the LDAP base. */
static void derive_defaults(struct site *site, int names_given, int base_given)
{
    if (!names_given && site->n_domains > 0 && site->n_hosts > 0) {
        /* mail.<primary domain>, localhost, and each host's address. */
        strv_free(site->tls_names, site->n_tls_names);
        site->tls_names = xcalloc(site->n_hosts + 2, sizeof *site->tls_names);
        site->n_tls_names = 0;
        site->tls_names[site->n_tls_names++] = xasprintf("mail.%s", site->domains[0]);
        site->tls_names[site->n_tls_names++] = xstrdup("localhost");
        for (size_t i = 0; i < site->n_hosts; i++)
            if (site->hosts[i].address)
                site->tls_names[site->n_tls_names++] = xstrdup(site->hosts[i].address);
    }
    if (!base_given && site->n_domains > 0) {
        buf base = BUF_INIT;
        base_from_domain(site->domains[0], &base);
        free(site->ldap_base);
        site->ldap_base = buf_steal(&base);
    }
}

int site_parse(const char *text, size_t len, const char *name, struct site *site, buf *errors)
{
    static const char *const keys[] = {"site", "domains", "directory", "hosts", "tls", "quota",
                                       "limits", "ports", "demo_users", "filter", "policy", "fabric",
                                       "admin_hosts", "resolver", "bruteforce", "admin_address", "dmarc", "dkim", "metrics",
                                       "srs", "outbound", "storage", "backup", "search", "webmail", NULL};
    struct loader l;
    memset(&l, 0, sizeof l);
    ycfg *y = &l.y;

    site_default(site);
    free(site->source);
    site->source = xstrdup(name);

    /* A key given twice is reported by ycfg_parse; the document is still
     * walked, so that every other problem is reported too. */
    if (ycfg_parse(y, text, len, name, YCFG_ERROR_LINES, errors) != 0 && !y->loaded) {
        ycfg_free(y);
        return -1;
    }
    y->top = "site file";
    int base_given = 0, names_given = 0;
    ycfg_map m;
    if (y->root == NULL) {
        ycfg_report(y, NULL, "the site file is empty; expected a mapping with domains and hosts");
    } else if (ycfg_map_begin(y, y->root, "", keys, &m) == 0) {
        while (ycfg_map_next_all(&m)) {
            const yaml_node_t *v = m.value;
            switch (m.index) {
            case 0: take_site_section(y, v, site); break;
            case 1: take_domains(y, v, site); break;
            case 2: take_directory(y, v, site, &base_given); break;
            case 3: l.hosts_key = m.key_node; take_hosts(&l, v, site); break;
            case 4: take_tls(&l, v, site, &names_given); break;
            case 5: take_quota(y, v, site); break;
            case 6: take_limits(y, v, site); break;
            case 7: take_ports(y, v, site); break;
            case 8: l.demo_users = v; ycfg_bool(y, v, m.path, &site->demo_users); break;
            case 9: take_filter(&l, v, site); break;
            case 10: take_policy(&l, v, site); break;
            case 11: take_fabric(&l, v, site); break;
            case 12: l.admin_hosts_key = m.key_node; take_admin_hosts(y, v, site); break;
            case 13: l.resolver_key = m.key_node; take_resolver(y, v, site); break;
            case 14: take_bruteforce(y, v, site); break;
            case 15: l.admin_address = v; take_admin_address(y, v, site); break;
            case 16: site_dmarc_take(y, v, &site->dmarc); break;
            case 17: take_dkim(y, v, site); break;
            case 18: l.metrics = v; break;
            case 19: take_srs(y, v, site); break;
            case 20: take_outbound(y, v, site); break;
            case 21: site_storage_take(y, v, &site->storage); break;
            case 22: site_backup_take(y, v, &site->backup); break;
            case 23: site_search_take(y, v, &site->search); break;
            case 24: site_webmail_take(y, v, &site->webmail); break;
            default: break;
            }
        }
        ycfg_map_end(&m);
        if (l.metrics)
            site_metrics_take(y, l.metrics, site);
        check_site(&l, site);
        derive_defaults(site, names_given, base_given);
        check_admin_address(&l, site);
        site_cert_source_check(y, l.tls ? l.tls : y->root, &l.cert_source, site);
    } else {
        ycfg_map_end(&m);
    }
    int failed = y->failed;
    ycfg_free(y);       /* appends the reports to errors, sorted by line */
    free(l.host_nodes);
    free(l.greylist_domain_nodes);
    free(l.override_key_nodes);
    return failed ? -1 : 0;
}

int site_load(const char *path, struct site *site, buf *errors)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        buf_printf(errors, "%s:1:1: cannot open the site file: %s\n", path, strerror(errno));
        site_default(site);
        return -1;
    }
    buf text = BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        buf_append(&text, chunk, n);
        if (text.len > SITE_FILE_MAX)
            break;
    }
    int read_error = ferror(f);
    fclose(f);
    if (read_error || text.len > SITE_FILE_MAX) {
        buf_printf(errors, "%s:1:1: %s\n", path,
                   read_error ? "cannot read the site file" : "the site file is larger than 1 MiB");
        buf_free(&text);
        site_default(site);
        return -1;
    }
    int rc = site_parse(buf_cstr(&text), text.len, path, site, errors);
    buf_free(&text);
    return rc;
}
