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

#define SITE_FILE_MAX (1024 * 1024)     /* a site file is small; refuse huge input */

static const struct site_ports default_ports = {
    .smtp = 25, .submission = 587, .submissions = 465,
    .imap = 143, .imaps = 993, .pop3 = 110, .pop3s = 995, .managesieve = 4190,
    .lmtp = 24, .quota_status = 12340, .policyd = 10040,
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
    /* fail2ban's own default of 5 would ban a user who mistypes a changed
     * password in a phone and a laptop; 10 in 10 minutes is still far from
     * what a guesser needs. */
    site->bruteforce = (struct site_bruteforce){.maxretry = 10, .findtime = 600, .bantime = 3600};
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
    for (size_t i = 0; i < site->n_hosts; i++) {
        free(site->hosts[i].name);
        free(site->hosts[i].address);
        free(site->hosts[i].store_pair);
    }
    free(site->hosts);
    strv_free(site->tls_names, site->n_tls_names);
    policy_free(&site->policy);
    free(site->filter.signatures);
    free(site->fabric.dns);
    free(site->fabric.client);
    strv_free(site->network.admin_hosts, site->network.n_admin_hosts);
    strv_free(site->network.resolver_forward, site->network.n_resolver_forward);
    strv_free(site->bruteforce.ignore, site->bruteforce.n_ignore);
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

/* ---- the walker ---------------------------------------------------------- */

struct loader {
    const char *name;
    yaml_document_t *doc;
    buf *errors;
    int failed;
};

__attribute__((format(printf, 4, 5)))
static void report_at(struct loader *l, size_t line, size_t column, const char *fmt, ...)
{
    va_list ap;
    buf_printf(l->errors, "%s:%zu:%zu: ", l->name, line ? line : 1, column ? column : 1);
    va_start(ap, fmt);
    buf_vprintf(l->errors, fmt, ap);
    va_end(ap);
    buf_append_char(l->errors, '\n');
    l->failed = 1;
}

__attribute__((format(printf, 3, 4)))
static void report(struct loader *l, const yaml_node_t *node, const char *fmt, ...)
{
    va_list ap;
    buf_printf(l->errors, "%s:%zu:%zu: ", l->name,
               node ? node->start_mark.line + 1 : 1,
               node ? node->start_mark.column + 1 : 1);
    va_start(ap, fmt);
    buf_vprintf(l->errors, fmt, ap);
    va_end(ap);
    buf_append_char(l->errors, '\n');
    l->failed = 1;
}

static const char *node_kind(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SCALAR_NODE: return "a single value";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping of keys";
    default: return "nothing";
    }
}

/* The scalar text of a node, or NULL (with an error) if it is not a scalar. */
static const char *scalar(struct loader *l, const yaml_node_t *node, const char *field)
{
    if (node->type != YAML_SCALAR_NODE) {
        report(l, node, "%s: expected a single value, found %s", field, node_kind(node));
        return NULL;
    }
    const char *s = (const char *)node->data.scalar.value;
    if (strlen(s) != node->data.scalar.length) {
        report(l, node, "%s: the value contains a NUL byte", field);
        return NULL;
    }
    return s;
}

static int is_mapping(struct loader *l, const yaml_node_t *node, const char *field)
{
    if (node->type == YAML_MAPPING_NODE)
        return 1;
    report(l, node, "%s: expected a mapping of keys, found %s", field, node_kind(node));
    return 0;
}

static int is_sequence(struct loader *l, const yaml_node_t *node, const char *field)
{
    if (node->type == YAML_SEQUENCE_NODE)
        return 1;
    report(l, node, "%s: expected a list, found %s", field, node_kind(node));
    return 0;
}

/* Looks a key up among the allowed ones; reports unknown keys. Returns the
 * index in `allowed` or -1. */
static int key_index(struct loader *l, const yaml_node_t *key, const char *section,
                     const char *const *allowed)
{
    const char *k = scalar(l, key, section);
    if (k == NULL)
        return -1;
    for (int i = 0; allowed[i]; i++)
        if (strcmp(k, allowed[i]) == 0)
            return i;
    buf expected = BUF_INIT;
    for (int i = 0; allowed[i]; i++)
        buf_printf(&expected, "%s%s", i ? ", " : "", allowed[i]);
    report(l, key, "%s: unknown key \"%s\"; expected one of: %s", section, k, buf_cstr(&expected));
    buf_free(&expected);
    return -1;
}

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

static char *take_string(struct loader *l, const yaml_node_t *node, const char *field)
{
    const char *s = scalar(l, node, field);
    if (s == NULL)
        return NULL;
    if (*s == '\0') {
        report(l, node, "%s: must not be empty", field);
        return NULL;
    }
    for (const char *p = s; *p; p++)
        if (iscntrl((unsigned char)*p)) {
            report(l, node, "%s: control characters are not allowed", field);
            return NULL;
        }
    return xstrdup(s);
}

static void take_domains(struct loader *l, const yaml_node_t *node, struct site *site)
{
    if (!is_sequence(l, node, "domains"))
        return;
    yaml_node_item_t *it = node->data.sequence.items.start;
    yaml_node_item_t *end = node->data.sequence.items.top;
    if (it == end) {
        report(l, node, "domains: the list is empty; expected at least one mail domain");
        return;
    }
    strv_free(site->domains, site->n_domains);
    site->n_domains = 0;
    site->domains = xcalloc((size_t)(end - it), sizeof *site->domains);
    for (; it < end; it++) {
        yaml_node_t *item = yaml_document_get_node(l->doc, *it);
        const char *s = scalar(l, item, "domains");
        if (s == NULL)
            continue;
        if (!valid_domain(s)) {
            report(l, item, "domains: \"%s\" is not a domain name; expected e.g. example.org", s);
            continue;
        }
        for (size_t i = 0; i < site->n_domains; i++)
            if (strcasecmp(site->domains[i], s) == 0)
                report(l, item, "domains: \"%s\" is listed twice", s);
        buf lower = BUF_INIT;
        for (const char *p = s; *p; p++)
            buf_append_char(&lower, (char)tolower((unsigned char)*p));
        site->domains[site->n_domains++] = buf_steal(&lower);
    }
}

static void take_names(struct loader *l, const yaml_node_t *node, struct site *site)
{
    if (!is_sequence(l, node, "tls.names"))
        return;
    yaml_node_item_t *it = node->data.sequence.items.start;
    yaml_node_item_t *end = node->data.sequence.items.top;
    if (it == end) {
        report(l, node, "tls.names: the list is empty; expected the public host name first");
        return;
    }
    strv_free(site->tls_names, site->n_tls_names);
    site->n_tls_names = 0;
    site->tls_names = xcalloc((size_t)(end - it), sizeof *site->tls_names);
    for (; it < end; it++) {
        yaml_node_t *item = yaml_document_get_node(l->doc, *it);
        const char *s = scalar(l, item, "tls.names");
        if (s == NULL)
            continue;
        if (!valid_domain(s) && !valid_ip(s) && strcmp(s, "localhost") != 0) {
            report(l, item, "tls.names: \"%s\" is not a host name or IP address", s);
            continue;
        }
        if (site->n_tls_names == 0 && valid_ip(s)) {
            report(l, item, "tls.names: the first name is the public host name and must be a DNS name, not \"%s\"", s);
            continue;
        }
        site->tls_names[site->n_tls_names++] = xstrdup(s);
    }
}

static unsigned take_roles(struct loader *l, const yaml_node_t *node)
{
    if (!is_sequence(l, node, "hosts.roles"))
        return 0;
    unsigned roles = 0;
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(l->doc, *it);
        const char *s = scalar(l, item, "hosts.roles");
        if (s == NULL)
            continue;
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++)
            if (strcmp(s, role_names[i].name) == 0)
                bit = role_names[i].bit;
        if (bit == 0)
            report(l, item, "hosts.roles: unknown role \"%s\"; expected relay, proxy, store or directory", s);
        else if (roles & bit)
            report(l, item, "hosts.roles: role \"%s\" is listed twice", s);
        roles |= bit;
    }
    if (roles == 0 && !l->failed)
        report(l, node, "hosts.roles: no role given; expected one or more of relay, proxy, store, directory");
    return roles;
}

static void take_hosts(struct loader *l, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"name", "address", "roles", "store_pair", NULL};
    if (!is_sequence(l, node, "hosts"))
        return;
    yaml_node_item_t *it = node->data.sequence.items.start;
    yaml_node_item_t *end = node->data.sequence.items.top;
    if (it == end) {
        report(l, node, "hosts: the list is empty; expected at least one host");
        return;
    }
    for (size_t i = 0; i < site->n_hosts; i++) {
        free(site->hosts[i].name);
        free(site->hosts[i].address);
        free(site->hosts[i].store_pair);
    }
    free(site->hosts);
    site->n_hosts = 0;
    site->hosts = xcalloc((size_t)(end - it), sizeof *site->hosts);
    for (; it < end; it++) {
        yaml_node_t *item = yaml_document_get_node(l->doc, *it);
        if (!is_mapping(l, item, "hosts"))
            continue;
        struct site_host *h = &site->hosts[site->n_hosts++];
        h->line = item->start_mark.line + 1;
        h->column = item->start_mark.column + 1;
        yaml_node_t *roles_node = NULL;
        for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
            yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
            switch (key_index(l, k, "hosts", keys)) {
            case 0:
                free(h->name);
                h->name = take_string(l, v, "hosts.name");
                if (h->name && !valid_name(h->name)) {
                    report(l, v, "hosts.name: \"%s\" is not a host name; expected lower-case letters, digits and '-', at most 63", h->name);
                } else if (h->name) {
                    for (struct site_host *o = site->hosts; o < h; o++)
                        if (o->name && strcmp(o->name, h->name) == 0)
                            report(l, v, "hosts.name: host \"%s\" is defined twice", h->name);
                }
                break;
            case 1:
                free(h->address);
                h->address = take_string(l, v, "hosts.address");
                if (h->address && !valid_ip(h->address))
                    report(l, v, "hosts.address: \"%s\" is not an IP address; expected e.g. 127.0.0.1 or 2001:db8::25", h->address);
                break;
            case 2:
                roles_node = v;
                h->roles = take_roles(l, v);
                break;
            case 3:
                free(h->store_pair);
                h->store_pair = take_string(l, v, "hosts.store_pair");
                if (h->store_pair && !valid_name(h->store_pair))
                    report(l, v, "hosts.store_pair: \"%s\" is not a name; expected lower-case letters, digits and '-'", h->store_pair);
                break;
            default:
                break;
            }
        }
        if (h->name == NULL)
            report(l, item, "hosts: this host has no \"name\"");
        if (h->address == NULL)
            report(l, item, "hosts: this host has no \"address\"");
        if (roles_node == NULL)
            report(l, item, "hosts: this host has no \"roles\"");
        if (h->store_pair && !(h->roles & ROLE_STORE))
            report(l, item, "hosts.store_pair: only a host with the store role has a store pair");
        /* A store without store_pair: pair1 on a one-host site, an error
         * on a site of several hosts (check_topology). */
    }
}

/* fabric: {dns: ADDR, client: ADDR} (struct site_fabric). */
static void take_fabric(struct loader *l, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"dns", "client", NULL};
    if (!is_mapping(l, node, "fabric"))
        return;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        int i = key_index(l, k, "fabric", keys);
        if (i < 0)
            continue;
        char *field = xasprintf("fabric.%s", keys[i]);
        char *addr = take_string(l, v, field);
        if (addr && !valid_ip(addr)) {
            report(l, v, "%s: \"%s\" is not an IP address; expected e.g. 198.18.0.53", field, addr);
            free(addr);
            addr = NULL;
        }
        if (addr) {
            char **slot = i == 0 ? &site->fabric.dns : &site->fabric.client;
            free(*slot);
            *slot = addr;
        }
        free(field);
    }
}

/* Rules over all hosts (docs/architecture.md, "The site model"):
 * unique addresses; a relay never holds the directory (X1); one host with
 * every role (the small site), or every host with exactly one role (the
 * full topology) with at least two relays, two proxies, and stores in pairs
 * of exactly two, and one directory host. */
static void check_topology(struct loader *l, struct site *site)
{
    for (size_t i = 0; i < site->n_hosts; i++) {
        struct site_host *h = &site->hosts[i];
        for (size_t j = 0; j < i; j++)
            if (h->address && site->hosts[j].address && strcmp(h->address, site->hosts[j].address) == 0)
                report_at(l, h->line, h->column, "hosts.address: %s is the address of host \"%s\" too; "
                          "every host needs its own address", h->address, site->hosts[j].name);
        if ((h->roles & ROLE_RELAY) && (h->roles & ROLE_DIRECTORY) && site->n_hosts > 1)
            report_at(l, h->line, h->column, "hosts: host \"%s\" has the roles relay and directory; a relay "
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
        report_at(l, h->line, h->column, "hosts: host \"%s\" has the roles %s; in a site of several hosts "
                  "each host has exactly one role (only the one-host small site combines them)",
                  h->name, buf_cstr(&roles));
        buf_free(&roles);
    }
    if (l->failed)
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
            report_at(l, site->hosts[0].line, site->hosts[0].column, "hosts: %zu host(s) with the role %s; "
                      "a site of several hosts needs %s", n, buf_cstr(&roles), counts[c].why);
            buf_free(&roles);
        }
    }
    for (size_t i = 0; i < site->n_hosts; i++) {
        struct site_host *h = &site->hosts[i];
        if (!(h->roles & ROLE_STORE))
            continue;
        if (h->store_pair == NULL) {
            report_at(l, h->line, h->column, "hosts: store \"%s\" has no store_pair; in a site of several "
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
            report_at(l, h->line, h->column, "hosts.store_pair: the pair \"%s\" has %zu store(s); a pair is "
                      "exactly two stores, each replicating the other (M3)", h->store_pair, n);
    }
    if (site->fabric.dns || site->fabric.client) {
        const char *const extra[] = {site->fabric.dns, site->fabric.client};
        for (size_t e = 0; e < 2; e++)
            for (size_t i = 0; extra[e] && i < site->n_hosts; i++)
                if (site->hosts[i].address && strcmp(extra[e], site->hosts[i].address) == 0)
                    report_at(l, site->hosts[i].line, site->hosts[i].column, "fabric.%s: %s is the address of "
                              "host \"%s\"; the fabric's %s needs its own", e ? "client" : "dns", extra[e],
                              site->hosts[i].name, e ? "client" : "DNS server");
        if (site->fabric.dns && site->fabric.client && strcmp(site->fabric.dns, site->fabric.client) == 0)
            report_at(l, 1, 1, "fabric: dns and client have the same address %s", site->fabric.dns);
    }
}

static unsigned long long take_size(struct loader *l, const yaml_node_t *node, const char *field,
                                    unsigned long long fallback)
{
    const char *s = scalar(l, node, field);
    if (s == NULL)
        return fallback;
    unsigned long long bytes = 0;
    buf err = BUF_INIT;
    if (size_parse(s, &bytes, &err) != 0) {
        report(l, node, "%s: %s", field, buf_cstr(&err));
        bytes = fallback;
    }
    buf_free(&err);
    return bytes;
}

static long take_integer(struct loader *l, const yaml_node_t *node, const char *field, long min, long max)
{
    const char *s = scalar(l, node, field);
    if (s == NULL)
        return min;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max) {
        report(l, node, "%s: \"%s\" is not a whole number from %ld to %ld", field, s, min, max);
        return min;
    }
    return v;
}

static void take_quota(struct loader *l, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"default", "grace", NULL};
    if (!is_mapping(l, node, "quota"))
        return;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        switch (key_index(l, k, "quota", keys)) {
        case 0: {
            site->quota_default = take_size(l, v, "quota.default", site->quota_default);
            buf err = BUF_INIT;   /* 0 stays allowed here: no quota at all */
            if (site->quota_default != 0 && quota_size_check(site->quota_default, &err) != 0)
                report(l, v, "quota.default: %s", buf_cstr(&err));
            buf_free(&err);
            break;
        }
        case 1: {
            const char *s = scalar(l, v, "quota.grace");
            if (s == NULL)
                break;
            char *end = NULL;
            errno = 0;
            long pct = strtol(s, &end, 10);
            if (errno || end == s || strcmp(end, "%") != 0 || pct < 0 || pct > 100)
                report(l, v, "quota.grace: \"%s\" is not a percentage; expected e.g. 10%%", s);
            else
                site->quota_grace_percent = (unsigned)pct;
            break;
        }
        default:
            break;
        }
    }
}

static void take_limits(struct loader *l, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"message_size", "line_length", NULL};
    if (!is_mapping(l, node, "limits"))
        return;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        switch (key_index(l, k, "limits", keys)) {
        case 0:
            site->message_size = take_size(l, v, "limits.message_size", site->message_size);
            if (site->message_size < 64 * 1024)
                report(l, v, "limits.message_size: at least 64K is needed for ordinary mail");
            break;
        case 1:
            site->line_length = (unsigned long long)take_integer(l, v, "limits.line_length", 998, 1 << 20);
            break;
        default:
            break;
        }
    }
}

static void take_ports(struct loader *l, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"smtp", "submission", "submissions", "imap", "imaps",
                                       "pop3", "pop3s", "managesieve", "lmtp", "quota_status", "policyd",
                                       NULL};
    int *slots[] = {&site->ports.smtp, &site->ports.submission, &site->ports.submissions,
                    &site->ports.imap, &site->ports.imaps, &site->ports.pop3, &site->ports.pop3s,
                    &site->ports.managesieve, &site->ports.lmtp, &site->ports.quota_status,
                    &site->ports.policyd};
    if (!is_mapping(l, node, "ports"))
        return;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        int i = key_index(l, k, "ports", keys);
        if (i < 0)
            continue;
        buf field = BUF_INIT;
        buf_printf(&field, "ports.%s", keys[i]);
        *slots[i] = (int)take_integer(l, v, buf_cstr(&field), 1, 65535);
        buf_free(&field);
    }
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
        for (size_t j = i + 1; j < sizeof slots / sizeof slots[0]; j++)
            if (*slots[i] == *slots[j])
                report(l, node, "ports: %s and %s both use port %d", keys[i], keys[j], *slots[i]);
}

/* true/yes or false/no; -1 (reported) otherwise. */
static int take_bool(struct loader *l, const yaml_node_t *node, const char *field)
{
    const char *s = scalar(l, node, field);
    if (s == NULL)
        return -1;
    if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)
        return 1;
    if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0)
        return 0;
    report(l, node, "%s: \"%s\" is not true or false", field, s);
    return -1;
}

/* A SpamAssassin score with at most one decimal, from min to max tenths. */
static int take_score(struct loader *l, const yaml_node_t *node, const char *field,
                      int min_tenths, int max_tenths, int fallback)
{
    const char *s = scalar(l, node, field);
    if (s == NULL)
        return fallback;
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
        report(l, node, "%s: \"%s\" is not a score from %d.%d to %d.%d with at most one decimal; "
               "expected e.g. 5.0", field, s, min_tenths / 10, min_tenths % 10,
               max_tenths / 10, max_tenths % 10);
        return fallback;
    }
    return tenths;
}

static void take_filter(struct loader *l, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"enabled", "before_queue", "virus_action", "spam_junk_level",
                                       "spam_quarantine_level", "quarantine", "signatures",
                                       "processes", "network_tests", NULL};
    struct site_filter *f = &site->filter;
    if (!is_mapping(l, node, "filter"))
        return;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        int b;
        switch (key_index(l, k, "filter", keys)) {
        case 0:
            if ((b = take_bool(l, v, "filter.enabled")) >= 0)
                f->enabled = b;
            break;
        case 1:
            if ((b = take_bool(l, v, "filter.before_queue")) >= 0)
                f->before_queue = b;
            break;
        case 2: {
            const char *s = scalar(l, v, "filter.virus_action");
            if (s && strcmp(s, "quarantine") == 0)
                f->virus_action = VIRUS_QUARANTINE;
            else if (s && strcmp(s, "discard") == 0)
                f->virus_action = VIRUS_DISCARD;
            else if (s)
                report(l, v, "filter.virus_action: \"%s\" is not an action; expected quarantine or discard", s);
            break;
        }
        case 3:
            f->spam_junk_tenths = take_score(l, v, "filter.spam_junk_level", 5, 100, f->spam_junk_tenths);
            break;
        case 4: {
            const char *s = v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
            if (s && (strcmp(s, "off") == 0 || strcmp(s, "false") == 0 || strcmp(s, "no") == 0))
                f->spam_quarantine_tenths = 0;
            else
                f->spam_quarantine_tenths = take_score(l, v, "filter.spam_quarantine_level", 10, 1000,
                                                       f->spam_quarantine_tenths);
            break;
        }
        case 5: {
            static const char *const qkeys[] = {"size", NULL};
            if (!is_mapping(l, v, "filter.quarantine"))
                break;
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                yaml_node_t *qv = yaml_document_get_node(l->doc, q->value);
                if (key_index(l, yaml_document_get_node(l->doc, q->key), "filter.quarantine", qkeys) != 0)
                    continue;
                f->quarantine_size = take_size(l, qv, "filter.quarantine.size", f->quarantine_size);
                if (f->quarantine_size < 1024 * 1024)
                    report(l, qv, "filter.quarantine.size: at least 1M is needed (a few infected messages)");
            }
            break;
        }
        case 6: {
            char *path = take_string(l, v, "filter.signatures");
            if (path && path[0] != '/') {
                report(l, v, "filter.signatures: \"%s\" is not an absolute path; expected e.g. /var/lib/clamav", path);
                free(path);
            } else if (path && strpbrk(path, " \t'\"\\") != NULL) {
                report(l, v, "filter.signatures: \"%s\": spaces, quotes and backslashes are not allowed", path);
                free(path);
            } else if (path) {
                free(f->signatures);
                f->signatures = path;
            }
            break;
        }
        case 7:
            f->processes = (int)take_integer(l, v, "filter.processes", 1, 32);
            break;
        case 8:
            if ((b = take_bool(l, v, "filter.network_tests")) >= 0)
                f->network_tests = b;
            break;
        default:
            break;
        }
    }
    if (f->spam_quarantine_tenths && f->spam_quarantine_tenths <= f->spam_junk_tenths)
        report(l, node, "filter.spam_quarantine_level: must be above spam_junk_level (%d.%d), or off",
               f->spam_junk_tenths / 10, f->spam_junk_tenths % 10);
}

/* ---- policy: (emailng-policyd) ------------------------------------------- */

/* An IPv4/IPv6 address, or a network ADDRESS/PREFIX. */
static int valid_network(const char *s)
{
    const char *slash = strchr(s, '/');
    if (slash == NULL)
        return valid_ip(s);
    size_t n = (size_t)(slash - s);
    if (n == 0 || n >= 64)
        return 0;
    char addr[64];
    memcpy(addr, s, n);
    addr[n] = '\0';
    unsigned char bin[16];
    int max = inet_pton(AF_INET, addr, bin) == 1 ? 32 : inet_pton(AF_INET6, addr, bin) == 1 ? 128 : -1;
    char *end = NULL;
    errno = 0;
    long bits = strtol(slash + 1, &end, 10);
    return max > 0 && slash[1] && *end == '\0' && errno == 0 && bits >= 0 && bits <= max
        && isdigit((unsigned char)slash[1]);
}

/* A list of networks (addresses or ADDRESS/PREFIX); replaces *v. */
static void take_networks(struct loader *l, const yaml_node_t *node, const char *field,
                          char ***v, size_t *n)
{
    if (!is_sequence(l, node, field))
        return;
    strv_free(*v, *n);
    *n = 0;
    *v = xcalloc((size_t)(node->data.sequence.items.top - node->data.sequence.items.start) + 1, sizeof **v);
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(l->doc, *it);
        const char *s = scalar(l, item, field);
        if (s == NULL)
            continue;
        if (!valid_network(s)) {
            report(l, item, "%s: \"%s\" is not an IP address or network; expected e.g. 192.0.2.25 or 198.51.100.0/24",
                   field, s);
            continue;
        }
        (*v)[(*n)++] = xstrdup(s);
    }
}

/* msgs_per_hour, rcpts_per_msg, rcpts_per_day (0 = no limit); keys not given keep *out. */
static void take_send_limits(struct loader *l, const yaml_node_t *node, const char *field,
                             struct site_send_limits *out)
{
    static const char *const keys[] = {"msgs_per_hour", "rcpts_per_msg", "rcpts_per_day", NULL};
    long *slots[] = {&out->msgs_per_hour, &out->rcpts_per_msg, &out->rcpts_per_day};
    if (!is_mapping(l, node, field))
        return;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        int i = key_index(l, k, field, keys);
        if (i < 0)
            continue;
        buf name = BUF_INIT;
        buf_printf(&name, "%s.%s", field, keys[i]);
        *slots[i] = take_integer(l, v, buf_cstr(&name), 0, 1000000000L);
        buf_free(&name);
    }
}

static void take_overrides(struct loader *l, const yaml_node_t *node, struct site_policy *pol)
{
    if (!is_mapping(l, node, "policy.limits.overrides"))
        return;
    for (size_t i = 0; i < pol->n_overrides; i++)
        free(pol->overrides[i].address);
    free(pol->overrides);
    pol->n_overrides = 0;
    pol->overrides = xcalloc((size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start) + 1,
                             sizeof *pol->overrides);
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char *s = scalar(l, k, "policy.limits.overrides");
        if (s == NULL)
            continue;
        buf address = BUF_INIT, why = BUF_INIT;
        if (strchr(s, '@') == NULL) {
            report(l, k, "policy.limits.overrides: \"%s\" is not a full address; expected e.g. alice@example.org", s);
        } else if (address_normalize(s, NULL, &address, &why) != 0) {
            report(l, k, "policy.limits.overrides: %s", buf_cstr(&why));
        } else {
            int dup = 0;
            for (size_t i = 0; i < pol->n_overrides; i++)
                dup |= strcmp(pol->overrides[i].address, buf_cstr(&address)) == 0;
            if (dup) {
                report(l, k, "policy.limits.overrides: %s is listed twice", buf_cstr(&address));
            } else {
                struct site_limit_override *o = &pol->overrides[pol->n_overrides++];
                o->address = buf_steal(&address);
                o->limits = (struct site_send_limits){-1, -1, -1};
                char *field = xasprintf("policy.limits.overrides.%s", o->address);
                take_send_limits(l, v, field, &o->limits);
                free(field);
            }
        }
        buf_free(&address);
        buf_free(&why);
    }
}

static void take_policy(struct loader *l, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"limits", "spf", "greylist", "xclient_hosts", NULL};
    static const char *const limit_keys[] = {"user", "client", "overrides", NULL};
    static const char *const spf_keys[] = {"enabled", "reject_fail", "trusted_forwarders", "resolv_conf", NULL};
    static const char *const grey_keys[] = {"enabled", "domains", "delay", NULL};
    struct site_policy *pol = &site->policy;
    if (!is_mapping(l, node, "policy"))
        return;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        int section = key_index(l, k, "policy", keys);
        if (section == 3) {
            take_networks(l, v, "policy.xclient_hosts", &pol->xclient_hosts, &pol->n_xclient_hosts);
            continue;
        }
        if (section < 0)
            continue;
        const char *name = keys[section];
        buf field = BUF_INIT;
        buf_printf(&field, "policy.%s", name);
        if (!is_mapping(l, v, buf_cstr(&field))) {
            buf_free(&field);
            continue;
        }
        for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
            yaml_node_t *qk = yaml_document_get_node(l->doc, q->key);
            yaml_node_t *qv = yaml_document_get_node(l->doc, q->value);
            int b;
            if (section == 0) {
                switch (key_index(l, qk, buf_cstr(&field), limit_keys)) {
                case 0: take_send_limits(l, qv, "policy.limits.user", &pol->user); break;
                case 1: take_send_limits(l, qv, "policy.limits.client", &pol->client); break;
                case 2: take_overrides(l, qv, pol); break;
                default: break;
                }
            } else if (section == 1) {
                switch (key_index(l, qk, buf_cstr(&field), spf_keys)) {
                case 0:
                    if ((b = take_bool(l, qv, "policy.spf.enabled")) >= 0)
                        pol->spf_enabled = b;
                    break;
                case 1:
                    if ((b = take_bool(l, qv, "policy.spf.reject_fail")) >= 0)
                        pol->spf_reject_fail = b;
                    break;
                case 2:
                    take_networks(l, qv, "policy.spf.trusted_forwarders", &pol->spf_trusted_forwarders,
                                  &pol->n_spf_trusted_forwarders);
                    break;
                case 3: {
                    char *path = take_string(l, qv, "policy.spf.resolv_conf");
                    if (path && (path[0] != '/' || strpbrk(path, " \t'\"\\#:") != NULL)) {
                        report(l, qv, "policy.spf.resolv_conf: \"%s\" is not an absolute path without spaces, "
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
            } else {
                switch (key_index(l, qk, buf_cstr(&field), grey_keys)) {
                case 0:
                    if ((b = take_bool(l, qv, "policy.greylist.enabled")) >= 0)
                        pol->greylist_enabled = b;
                    break;
                case 1:
                    if (!is_sequence(l, qv, "policy.greylist.domains"))
                        break;
                    strv_free(pol->greylist_domains, pol->n_greylist_domains);
                    pol->n_greylist_domains = 0;
                    pol->greylist_domains = xcalloc((size_t)(qv->data.sequence.items.top
                                                             - qv->data.sequence.items.start) + 1,
                                                    sizeof *pol->greylist_domains);
                    for (yaml_node_item_t *it = qv->data.sequence.items.start; it < qv->data.sequence.items.top; it++) {
                        yaml_node_t *item = yaml_document_get_node(l->doc, *it);
                        const char *s = scalar(l, item, "policy.greylist.domains");
                        buf d = BUF_INIT, why = BUF_INIT;
                        if (s && (!valid_domain(s) || domain_normalize(s, &d, &why) != 0))
                            report(l, item, "policy.greylist.domains: \"%s\" is not a domain name; expected e.g. example.org", s);
                        else if (s)
                            pol->greylist_domains[pol->n_greylist_domains++] = buf_steal(&d);
                        buf_free(&d);
                        buf_free(&why);
                    }
                    break;
                case 2:
                    pol->greylist_delay = take_integer(l, qv, "policy.greylist.delay", 1, 86400);
                    break;
                default: break;
                }
            }
        }
        buf_free(&field);
    }
}

static void take_site_section(struct loader *l, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"name", NULL};
    if (!is_mapping(l, node, "site"))
        return;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        if (key_index(l, k, "site", keys) == 0) {
            char *name = take_string(l, v, "site.name");
            if (name && !valid_name(name)) {
                report(l, v, "site.name: \"%s\" is not a name; expected lower-case letters, digits and '-'", name);
            }
            if (name) {
                free(site->name);
                site->name = name;
            }
        }
    }
}

static void take_directory(struct loader *l, const yaml_node_t *node, struct site *site, int *base_given)
{
    static const char *const keys[] = {"base", NULL};
    if (!is_mapping(l, node, "directory"))
        return;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        if (key_index(l, k, "directory", keys) != 0)
            continue;
        char *base = take_string(l, v, "directory.base");
        if (base == NULL)
            continue;
        /* Only dc= components: the base is written into several configs. */
        int ok = strncmp(base, "dc=", 3) == 0;
        for (char *c = base; ok && *c; c++)
            if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '=' || *c == ','))
                ok = 0;
        if (!ok) {
            report(l, v, "directory.base: \"%s\" is not a base DN of dc= parts; expected e.g. dc=example,dc=org", base);
            free(base);
            continue;
        }
        free(site->ldap_base);
        site->ldap_base = base;
        *base_given = 1;
    }
}

/* ---- admin_hosts, resolver: (the firewall and the relays' resolvers) ------ */

/* A network ADDR/PREFIX (or one address) with no bits set past the prefix:
 * the firewall would silently widen 192.0.2.5/24 to 192.0.2.0/24. */
static int network_host_bits_clear(const char *s)
{
    const char *slash = strchr(s, '/');
    if (slash == NULL)
        return 1;
    char addr[64];
    size_t n = (size_t)(slash - s);
    memcpy(addr, s, n);             /* valid_network checked n < 64 */
    addr[n] = '\0';
    unsigned char bin[16];
    size_t len = inet_pton(AF_INET, addr, bin) == 1 ? 4 : 16;
    if (len == 16 && inet_pton(AF_INET6, addr, bin) != 1)
        return 0;
    long bits = strtol(slash + 1, NULL, 10);
    for (size_t i = 0; i < len; i++) {
        long first = (long)i * 8;
        unsigned char mask = bits >= first + 8 ? 0xff : bits <= first ? 0 : (unsigned char)(0xff << (8 - (bits - first)));
        if (bin[i] & (unsigned char)~mask)
            return 0;
    }
    return 1;
}

static void take_admin_hosts(struct loader *l, const yaml_node_t *node, struct site *site)
{
    struct site_network *net = &site->network;
    if (!is_sequence(l, node, "admin_hosts"))
        return;
    strv_free(net->admin_hosts, net->n_admin_hosts);
    net->n_admin_hosts = 0;
    net->admin_hosts = xcalloc((size_t)(node->data.sequence.items.top - node->data.sequence.items.start) + 1,
                               sizeof *net->admin_hosts);
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(l->doc, *it);
        const char *s = scalar(l, item, "admin_hosts");
        if (s == NULL)
            continue;
        if (!valid_network(s))
            report(l, item, "admin_hosts: \"%s\" is not an IP address or network; expected e.g. 192.0.2.25 "
                   "or 198.51.100.0/24", s);
        else if (!network_host_bits_clear(s))
            report(l, item, "admin_hosts: \"%s\" has address bits set past its prefix length; "
                   "write the network's first address, e.g. 192.0.2.0/24", s);
        else
            net->admin_hosts[net->n_admin_hosts++] = xstrdup(s);
    }
}

/* resolver: {forward: [ADDR, ...]} */
static void take_resolver(struct loader *l, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"forward", NULL};
    struct site_network *net = &site->network;
    if (!is_mapping(l, node, "resolver"))
        return;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        if (key_index(l, k, "resolver", keys) != 0 || !is_sequence(l, v, "resolver.forward"))
            continue;
        strv_free(net->resolver_forward, net->n_resolver_forward);
        net->n_resolver_forward = 0;
        net->resolver_forward = xcalloc((size_t)(v->data.sequence.items.top - v->data.sequence.items.start) + 1,
                                        sizeof *net->resolver_forward);
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
            yaml_node_t *item = yaml_document_get_node(l->doc, *it);
            const char *s = scalar(l, item, "resolver.forward");
            if (s == NULL)
                continue;
            if (!valid_ip(s)) {
                report(l, item, "resolver.forward: \"%s\" is not an IP address; expected e.g. 192.0.2.53", s);
                continue;
            }
            net->resolver_forward[net->n_resolver_forward++] = xstrdup(s);
        }
    }
}

/* bruteforce: {maxretry: N, findtime: SECONDS, bantime: SECONDS, ignore: [NET, ...]} */
static void take_bruteforce(struct loader *l, const yaml_node_t *node, struct site *site)
{
    static const char *const keys[] = {"maxretry", "findtime", "bantime", "ignore", NULL};
    struct site_bruteforce *bf = &site->bruteforce;
    if (!is_mapping(l, node, "bruteforce"))
        return;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        switch (key_index(l, k, "bruteforce", keys)) {
        case 0: bf->maxretry = take_integer(l, v, "bruteforce.maxretry", 1, 1000); break;
        case 1: bf->findtime = take_integer(l, v, "bruteforce.findtime", 1, 7 * 86400); break;
        case 2: bf->bantime = take_integer(l, v, "bruteforce.bantime", 1, 365 * 86400L); break;
        case 3:
            if (!is_sequence(l, v, "bruteforce.ignore"))
                break;
            strv_free(bf->ignore, bf->n_ignore);
            bf->n_ignore = 0;
            bf->ignore = xcalloc((size_t)(v->data.sequence.items.top - v->data.sequence.items.start) + 1,
                                 sizeof *bf->ignore);
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                yaml_node_t *item = yaml_document_get_node(l->doc, *it);
                const char *s = scalar(l, item, "bruteforce.ignore");
                if (s == NULL)
                    continue;
                if (!valid_network(s))
                    report(l, item, "bruteforce.ignore: \"%s\" is not an IP address or network; expected e.g. "
                           "192.0.2.25 or 198.51.100.0/24", s);
                else if (!network_host_bits_clear(s))
                    report(l, item, "bruteforce.ignore: \"%s\" has address bits set past its prefix length; "
                           "write the network's first address, e.g. 192.0.2.0/24", s);
                else
                    bf->ignore[bf->n_ignore++] = xstrdup(s);
            }
            break;
        default: break;
        }
    }
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

int site_parse(const char *text, size_t len, const char *name, struct site *site, buf *errors)
{
    static const char *const keys[] = {"site", "domains", "directory", "hosts", "tls", "quota",
                                       "limits", "ports", "demo_users", "filter", "policy", "fabric",
                                       "admin_hosts", "resolver", "bruteforce", NULL};
    struct loader l = {.name = name, .errors = errors};
    yaml_parser_t parser;
    yaml_document_t doc;

    site_default(site);
    free(site->source);
    site->source = xstrdup(name);

    if (!yaml_parser_initialize(&parser)) {
        buf_printf(errors, "%s:1:1: cannot initialise the YAML parser\n", name);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        buf_printf(errors, "%s:%zu:%zu: not valid YAML: %s%s%s\n", name,
                   parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                   parser.problem ? parser.problem : "syntax error",
                   parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return -1;
    }
    l.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int base_given = 0, names_given = 0;
    if (root == NULL) {
        report(&l, NULL, "the site file is empty; expected a mapping with domains and hosts");
    } else if (is_mapping(&l, root, "site file")) {
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(&doc, p->key);
            yaml_node_t *v = yaml_document_get_node(&doc, p->value);
            switch (key_index(&l, k, "site file", keys)) {
            case 0: take_site_section(&l, v, site); break;
            case 1: take_domains(&l, v, site); break;
            case 2: take_directory(&l, v, site, &base_given); break;
            case 3: take_hosts(&l, v, site); break;
            case 4: {
                static const char *const tls_keys[] = {"names", NULL};
                if (!is_mapping(&l, v, "tls"))
                    break;
                for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++)
                    if (key_index(&l, yaml_document_get_node(&doc, q->key), "tls", tls_keys) == 0) {
                        take_names(&l, yaml_document_get_node(&doc, q->value), site);
                        names_given = 1;
                    }
                break;
            }
            case 5: take_quota(&l, v, site); break;
            case 6: take_limits(&l, v, site); break;
            case 7: take_ports(&l, v, site); break;
            case 8: {
                const char *s = scalar(&l, v, "demo_users");
                if (s && (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0))
                    site->demo_users = 1;
                else if (s && (strcmp(s, "false") == 0 || strcmp(s, "no") == 0))
                    site->demo_users = 0;
                else if (s)
                    report(&l, v, "demo_users: \"%s\" is not true or false", s);
                break;
            }
            case 9: take_filter(&l, v, site); break;
            case 10: take_policy(&l, v, site); break;
            case 11: take_fabric(&l, v, site); break;
            case 12: take_admin_hosts(&l, v, site); break;
            case 13: take_resolver(&l, v, site); break;
            case 14: take_bruteforce(&l, v, site); break;
            default: break;
            }
        }
        /* Whole-site rules. */
        unsigned covered = 0;
        for (size_t i = 0; i < site->n_hosts; i++)
            covered |= site->hosts[i].roles;
        if (!l.failed && covered != ROLE_ALL) {
            buf missing = BUF_INIT;
            site_roles_text(ROLE_ALL & ~covered, &missing);
            report(&l, root, "hosts: no host has the role(s) %s; every role needs a host", buf_cstr(&missing));
            buf_free(&missing);
        }
        if (site->n_hosts > 0)
            check_topology(&l, site);
        /* The one-host site has neither our firewall nor the relays'
         * resolver: the host's own are the administrator's. */
        if (site->n_hosts == 1 && site->network.n_admin_hosts)
            report(&l, root, "admin_hosts: only a site of several hosts gets a firewall from EmailNG; "
                   "on the one-host site the host's own firewall decides who reaches ssh");
        if (site->n_hosts == 1 && site->network.n_resolver_forward)
            report(&l, root, "resolver: only the relays of a site of several hosts run EmailNG's caching "
                   "resolver; the one-host site uses the host's own resolver");
        for (size_t i = 0; i < site->policy.n_greylist_domains; i++) {
            int ours = 0;
            for (size_t j = 0; j < site->n_domains; j++)
                ours |= strcmp(site->policy.greylist_domains[i], site->domains[j]) == 0;
            if (!ours)
                report(&l, root, "policy.greylist.domains: \"%s\" is not one of the site's domains; "
                       "greylisting applies to mail for our own domains", site->policy.greylist_domains[i]);
        }
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
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return l.failed ? -1 : 0;
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
